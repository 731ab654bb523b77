/*
 * forkcost.c: what a fork costs as the server-mode parent grows (bench/srvcost).
 * Built there: cc -O2 forkcost.c -ldl (no libssl at link time: the process
 * starts small, as smtpproxy does, which dlopen()s libssl).
 *
 *   forkcost [-n N] [-a KB] CERT KEY
 *
 * Three stages of one process, each timed N times (default 2000) with
 *   fork      fork(), the child _exit(0)s at once, waitpid(): what the
 *             parent pays for one child that does nothing
 *   vfork     the same with vfork() (no copy of the page tables)
 *   spawn     posix_spawn() of /bin/true and waitpid(): exec included
 * The stages:
 *   small     as started: libc and the loader only
 *   ssl       after dlopen("libssl.so.3"), OPENSSL_init_ssl() without
 *             openssl.cnf, an SSL_CTX with CERT and KEY: what smtpproxy's
 *             parent holds with STARTTLS configured
 *   ssl+anon  and KB more of private memory written (-a, default 0: the
 *             stage is skipped), to match a parent's RssAnon
 * One line per stage and kind: "stage S kind K rss KB anon KB maps N
 * median_us U p90_us U child_cpu_us C child_minflt F", child_* from
 * getrusage(RUSAGE_CHILDREN) per child.  Exit 0, or 1 on a failure.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long nrounds = 2000;

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "VmRSS RssAnon" (KB) and the number of mappings of this process */
static void
self_size(long *rss, long *anon, long *maps)
{
	char line[512];
	FILE *f;

	*rss = *anon = *maps = 0;
	if ((f = fopen("/proc/self/status", "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL) {
			sscanf(line, "VmRSS: %ld", rss);
			sscanf(line, "RssAnon: %ld", anon);
		}
		fclose(f);
	}
	if ((f = fopen("/proc/self/maps", "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL)
			if (strchr(line, '\n') != NULL)
				(*maps)++;
		fclose(f);
	}
}

/* one child of the given kind, waited for; -1 on a failure */
static int
one(char kind)
{
	char *argv[] = { "true", NULL };
	pid_t pid;
	int st;

	if (kind == 's') {
		if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0)
			return -1;
	} else {
		pid = kind == 'v' ? vfork() : fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0)
			return -1;
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

static int
stage(const char *name)
{
	static const struct { char kind; const char *name; } kinds[] = {
		{ 'f', "fork" }, { 'v', "vfork" }, { 's', "spawn" },
	};
	double *t = calloc((size_t)nrounds, sizeof *t);
	long rss, anon, maps;

	if (t == NULL)
		return -1;
	self_size(&rss, &anon, &maps);
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		struct rusage r0, r1;
		double cpu;

		getrusage(RUSAGE_CHILDREN, &r0);
		for (long i = 0; i < nrounds; i++) {
			double t0 = now_us();

			if (one(kinds[k].kind) < 0) {
				fprintf(stderr, "forkcost: %s failed\n", kinds[k].name);
				free(t);
				return -1;
			}
			t[i] = now_us() - t0;
		}
		getrusage(RUSAGE_CHILDREN, &r1);
		cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec +
		    r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 +
		    (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
		    r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
		qsort(t, (size_t)nrounds, sizeof *t, cmpd);
		printf("stage %s kind %s rss %ld anon %ld maps %ld median_us %.1f "
		    "p90_us %.1f child_cpu_us %.1f child_minflt %.1f\n", name,
		    kinds[k].name, rss, anon, maps, t[(nrounds - 1) / 2],
		    t[(long)(nrounds * 0.9)], cpu / nrounds,
		    (double)(r1.ru_minflt - r0.ru_minflt) / nrounds);
		fflush(stdout);
	}
	free(t);
	return 0;
}

/* libssl as smtpproxy's parent loads it: no openssl.cnf, one SSL_CTX */
static int
load_ssl(const char *cert, const char *key)
{
	void *h = dlopen("libssl.so.3", RTLD_NOW | RTLD_GLOBAL);
	int (*init)(unsigned long long, const void *);
	void *(*method)(void), *(*ctxnew)(void *), *ctx;
	int (*usecert)(void *, const char *), (*usekey)(void *, const char *, int);

	if (h == NULL) {
		fprintf(stderr, "forkcost: %s\n", dlerror());
		return -1;
	}
	*(void **)&init = dlsym(h, "OPENSSL_init_ssl");
	*(void **)&method = dlsym(h, "TLS_server_method");
	*(void **)&ctxnew = dlsym(h, "SSL_CTX_new");
	*(void **)&usecert = dlsym(h, "SSL_CTX_use_certificate_chain_file");
	*(void **)&usekey = dlsym(h, "SSL_CTX_use_PrivateKey_file");
	if (init == NULL || method == NULL || ctxnew == NULL || usecert == NULL ||
	    usekey == NULL)
		return -1;
	/* OPENSSL_INIT_NO_LOAD_CONFIG is 0x80 in OpenSSL 3 */
	if (!init(0x80ULL, NULL) || (ctx = ctxnew(method())) == NULL ||
	    usecert(ctx, cert) != 1 || usekey(ctx, key, 1) != 1) {
		fprintf(stderr, "forkcost: the SSL_CTX could not be built\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	long anonkb = 0;
	int o;

	while ((o = getopt(argc, argv, "n:a:")) != -1) {
		switch (o) {
		case 'n':
			nrounds = atol(optarg);
			break;
		case 'a':
			anonkb = atol(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || nrounds < 10 || anonkb < 0) {
usage:
		fprintf(stderr, "usage: forkcost [-n rounds] [-a KB] cert key\n");
		return 2;
	}
	if (stage("small") < 0 || load_ssl(argv[optind], argv[optind + 1]) < 0 ||
	    stage("ssl") < 0)
		return 1;
	if (anonkb > 0) {
		volatile char *p = malloc((size_t)anonkb * 1024);

		if (p == NULL)
			return 1;
		for (long i = 0; i < anonkb * 1024; i += 4096)
			p[i] = 1;
		if (stage("ssl+anon") < 0)
			return 1;
	}
	return 0;
}
