/*
 * tlsfork.c: what a TLS handshake costs in a fresh child of a parent that
 * holds an SSL_CTX (server mode, max_use 1), and whether a handshake the
 * parent makes first would spare its children work (bench/srvcost).
 * Built there: cc -O2 tlsfork.c -lssl -lcrypto.
 *
 *   tlsfork [-n N] CERT KEY
 *
 * A server and a client SSL_CTX (no ticket, no cache: full handshakes), a
 * handshake is the two ends over a BIO pair in one process.  Timed, N
 * times each (default 300), as CPU time (getrusage) per unit:
 *   inproc   one handshake in this process, after a first one: the
 *            steady-state cost, both ends
 *   fork     a child that _exit()s at once: the process alone
 *   cold     a child that makes one handshake, then _exit()s, forked by a
 *            parent that never made one (as smtpproxy's parent today)
 *   warm     the same, forked after the parent made one handshake
 * One line per kind: "kind K cpu_ms C minflt F".  Exit 0, or 1 on a failure.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_CTX *sctx, *cctx;

/* one full handshake, both ends in this process; 0 or -1 */
static int
handshake(void)
{
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	BIO *bs, *bc;
	int ok = -1, sd = 0, cd = 0;

	if (s == NULL || c == NULL || !BIO_new_bio_pair(&bs, 0, &bc, 0))
		goto out;
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	for (int i = 0; i < 100 && !(sd && cd); i++) {
		if (!cd && SSL_do_handshake(c) == 1)
			cd = 1;
		if (!sd && SSL_do_handshake(s) == 1)
			sd = 1;
	}
	ok = sd && cd ? 0 : -1;
out:
	SSL_free(s);
	SSL_free(c);
	return ok;
}

static double
cpu_ms(const struct rusage *a, const struct rusage *b)
{
	return (b->ru_utime.tv_sec - a->ru_utime.tv_sec +
	    b->ru_stime.tv_sec - a->ru_stime.tv_sec) * 1e3 +
	    (b->ru_utime.tv_usec - a->ru_utime.tv_usec +
	    b->ru_stime.tv_usec - a->ru_stime.tv_usec) / 1e3;
}

/* N children, each making a handshake or not; their CPU per child */
static int
children(const char *kind, long n, int hs)
{
	struct rusage a, b;
	int st;

	getrusage(RUSAGE_CHILDREN, &a);
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(hs && handshake() < 0 ? 1 : 0);
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			fprintf(stderr, "tlsfork: %s: a child failed\n", kind);
			return -1;
		}
	}
	getrusage(RUSAGE_CHILDREN, &b);
	printf("kind %s cpu_ms %.3f minflt %.1f\n", kind, cpu_ms(&a, &b) / n,
	    (double)(b.ru_minflt - a.ru_minflt) / n);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	struct rusage a, b;
	long n = 300;
	int o;

	while ((o = getopt(argc, argv, "n:")) != -1) {
		if (o != 'n')
			goto usage;
		n = atol(optarg);
	}
	if (argc - optind != 2 || n < 10) {
usage:
		fprintf(stderr, "usage: tlsfork [-n count] cert key\n");
		return 2;
	}
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	sctx = SSL_CTX_new(TLS_server_method());
	cctx = SSL_CTX_new(TLS_client_method());
	if (sctx == NULL || cctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(sctx, argv[optind]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, argv[optind + 1], SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "tlsfork: the contexts could not be built\n");
		return 1;
	}
	SSL_CTX_set_options(sctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_options(cctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(sctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	if (children("fork", n, 0) < 0 || children("cold", n, 1) < 0)
		return 1;
	/* the parent's own first handshake: what the children inherit now */
	if (handshake() < 0)
		return 1;
	if (children("warm", n, 1) < 0)
		return 1;
	getrusage(RUSAGE_SELF, &a);
	for (long i = 0; i < n; i++)
		if (handshake() < 0)
			return 1;
	getrusage(RUSAGE_SELF, &b);
	printf("kind inproc cpu_ms %.3f minflt %.1f\n", cpu_ms(&a, &b) / n,
	    (double)(b.ru_minflt - a.ru_minflt) / n);
	return 0;
}
