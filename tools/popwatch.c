/*
 * popwatch: follow the mail log and feed POP3/IMAP logins to the pop table.
 *
 *   popwatch [-f logfile] [-w seconds] [-p patterns] table.cdb
 *   popwatch [-f logfile] [-p patterns] -r smtpproxy.conf [table.cdb]
 *   popwatch -r smtpproxy.conf -a address        record one login, exit
 *   popwatch -n [-f logfile] [-p patterns]       check: list the logins
 *
 * A foreground daemon (systemd, daemontools or runit keep it running).
 * It follows the log like "tail -F": it starts at the end of the file, so
 * old logins do not count; when the path names a new file (rotation) it
 * reads what is left of the old one, then the new one from its start; when
 * the file shrinks below the read offset, or the bytes just before the
 * offset are no longer those it read (truncation, then new lines), it
 * starts again at 0.  It acts only on complete lines: the bytes after the last newline wait
 * for the rest, and a line longer than LINE_MAX_LEN is dropped whole.  Each
 * line goes to popwatch_match() (tools/popwatch_match.c); each login calls
 * cdbt_pop_update(), the code mkcdb -t pop -a uses, which writes the table
 * only when the set changed.  Once a minute it drops logins older than the
 * window the same way.  It polls every POLL_MS milliseconds.
 * With -r, redis_server, redis_password_file, redis_prefix and pop_window
 * come from that smtpproxy configuration (conf/ reads it), and each login
 * is also, or only, the Redis key <prefix>pop:<address>, its value the
 * login time, its TTL pop_window (redis_set_ex); a failed write is logged
 * and the next login connects again.
 *
 * Logs to stderr, one line per login and per error.  Exit codes: 0 on
 * SIGTERM or SIGINT (and after -n, and after -a wrote its login), 100
 * usage, a bad patterns file or configuration, 111 system error (the
 * table cannot be updated at start, -a could not write to Redis).
 */
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "cdb/cdb.h"
#include "conf/conf.h"
#include "redis/redis.h"
#include "tools/popwatch.h"

#define LINE_MAX_LEN	8192
#define TAIL_LEN	64
#define PATTERNS_MAX	128
#define POLL_MS		200
#define EXPIRE_EVERY	60
#define DEFAULT_LOG	"/var/log/mail.log"
#define DEFAULT_WINDOW	1800
#define WINDOW_MAX	86400L		/* as pop_window */

struct watch {
	struct popwatch_pattern	 pats[PATTERNS_MAX];
	size_t			 npats;
	const char		*table;		/* NULL with -n, or -r only */
	int			 redis;		/* -r: logins to Redis too */
	long			 window;
	unsigned long		 lineno;	/* -n: lines of the file */
};

struct follow {
	const char	*path;
	int		 fd;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 off;		/* next byte to read */
	char		 tail[TAIL_LEN];	/* the bytes before off */
	size_t		 taillen;
	int		 at_end;	/* next open starts at the end */
	int		 skip;		/* drop bytes up to the next newline */
	int		 err;		/* last open errno, logged once */
	size_t		 len;		/* bytes of an unfinished line */
	char		 buf[LINE_MAX_LEN];
};

static volatile sig_atomic_t stop;

static void pw_log(const char *, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr in one write: systemd puts it in the journal. */
static void
pw_log(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "popwatch: %s\n", buf);
}

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: popwatch [-f logfile] [-w seconds] [-p patterns] "
	    "table.cdb\n"
	    "       popwatch [-f logfile] [-p patterns] -r smtpproxy.conf "
	    "[table.cdb]\n"
	    "       popwatch -r smtpproxy.conf -a address\n"
	    "       popwatch -n [-f logfile] [-p patterns]\n");
	exit(100);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
pw_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake the nap */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ------------------------------------------------------------ patterns */

static int
add_pattern(struct watch *w, const char *line, const char *src, int lineno)
{
	const char	*why;
	int		 rc;

	if (w->npats == PATTERNS_MAX) {
		fprintf(stderr, "%s:%d: more than %d patterns\n", src, lineno,
		    PATTERNS_MAX);
		return -1;
	}
	if ((rc = popwatch_parse(line, &w->pats[w->npats], &why)) == -1) {
		fprintf(stderr, "%s:%d: %s\n", src, lineno, why);
		return -1;
	}
	w->npats += (size_t)rc;
	return 0;
}

/* The built-in patterns, then those of the -p file; exits on a bad one. */
static void
load_patterns(struct watch *w, const char *path)
{
	char	 buf[1024];
	int	 lineno = 0, bad = 0;
	FILE	*fp;

	for (int i = 0; popwatch_builtin[i] != NULL; i++)
		if (add_pattern(w, popwatch_builtin[i], "built-in", i + 1))
			exit(111);
	if (path == NULL)
		return;
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "popwatch: %s: %s\n", path, strerror(errno));
		exit(111);
	}
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		lineno++;
		if (strchr(buf, '\n') == NULL && !feof(fp)) {
			fprintf(stderr, "%s:%d: line too long\n", path, lineno);
			exit(100);
		}
		buf[strcspn(buf, "\r\n")] = '\0';
		bad |= add_pattern(w, buf, path, lineno) == -1;
	}
	fclose(fp);
	if (bad)
		exit(100);
}

/* --------------------------------------------------------------- lines */

/* record_redis - SET <prefix>pop:<ip> <now> EX window; 0 or -1 (logged).
 * The connection is kept between logins; one that Redis (its timeout),
 * a firewall or a restart closed while idle fails the SET, which is then
 * tried once more on a new connection. */
static int
record_redis(const struct watch *w, const char *ip, const char *tag)
{
	char	 key[128], now[24];

	snprintf(key, sizeof(key), "pop:%s", ip);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	for (int try = 0; try < 2; try++) {
		if (redis_set_ex(key, now, w->window) == REDIS_FOUND) {
			pw_log("login ip=%s daemon=%s redis=ok ttl=%ld", ip,
			    tag, w->window);
			return 0;
		}
		redis_session_end();	/* the next try connects again */
	}
	pw_log("error: login ip=%s daemon=%s not recorded in Redis: %s", ip,
	    tag, redis_last_error());
	return -1;
}

static void
record(const struct watch *w, const struct popwatch_login *login)
{
	char	 err[512];
	int	 rc;

	if (w->redis)
		(void)record_redis(w, login->ip, login->tag);
	if (w->table == NULL)
		return;
	rc = cdbt_pop_update(w->table, login->ip, time(NULL), w->window, err,
	    sizeof(err));
	if (rc == -1)
		pw_log("error: login ip=%s daemon=%s not recorded: %s",
		    login->ip, login->tag, err);
	else
		pw_log("login ip=%s daemon=%s table=%s%s", login->ip,
		    login->tag, w->table, rc == 1 ? "" : " unchanged");
}

/* One complete line, without its newline. */
static void
on_line(struct watch *w, const struct follow *f, char *line, size_t len)
{
	struct popwatch_login	 login;
	int			 rc;

	w->lineno++;
	if (memchr(line, '\0', len) != NULL)
		return;
	if (len > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0';
	rc = popwatch_match(w->pats, w->npats, line, &login);
	if (rc == POPWATCH_NONE)
		return;
	if (w->table != NULL || w->redis) {
		if (rc == POPWATCH_LOGIN)
			record(w, &login);
		return;
	}
	if (rc == POPWATCH_LOGIN)
		printf("%s:%lu: login ip=%s daemon=%s pattern=%d\n", f->path,
		    w->lineno, login.ip, login.tag, login.pattern + 1);
	else
		printf("%s:%lu: ignored daemon=%s pattern=%d\n", f->path,
		    w->lineno, login.tag, login.pattern + 1);
}

/* Hand over the complete lines of buf; keep the unfinished rest. */
static void
split_lines(struct watch *w, struct follow *f, size_t n)
{
	char	*p = f->buf, *end = f->buf + f->len + n, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		*nl = '\0';
		if (f->skip)
			f->skip = 0;
		else
			on_line(w, f, p, (size_t)(nl - p));
		p = nl + 1;
	}
	f->len = (size_t)(end - p);
	memmove(f->buf, p, f->len);
	if (f->len == sizeof(f->buf) - 1) {
		if (!f->skip)
			pw_log("%s: line longer than %d bytes dropped", f->path,
			    LINE_MAX_LEN - 1);
		f->len = 0;
		f->skip = 1;
	}
}

/* ------------------------------------------------------------ the file */

/* Open the path; at the end (skipping a line being written) or at 0. */
static int
follow_open(struct follow *f)
{
	struct stat	 st;
	ssize_t		 n;

	if ((f->fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1 ||
	    fstat(f->fd, &st) == -1) {
		int e = errno;

		if (f->err != e)
			pw_log("error: %s: %s", f->path, strerror(e));
		f->err = e;
		if (e == ENOENT)
			f->at_end = 0;	/* it will be a new file */
		if (f->fd != -1)
			close(f->fd);
		f->fd = -1;
		return -1;
	}
	if (f->err != 0)
		pw_log("%s: open again", f->path);
	f->err = 0;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->off = f->at_end ? st.st_size : 0;
	f->taillen = (size_t)(f->off < TAIL_LEN ? f->off : TAIL_LEN);
	n = pread(f->fd, f->tail, f->taillen, f->off - (off_t)f->taillen);
	if (n != (ssize_t)f->taillen)
		f->taillen = 0;
	f->skip = f->off > 0 && (f->taillen == 0 ||
	    f->tail[f->taillen - 1] != '\n');
	f->len = 0;
	f->at_end = 0;
	return 0;
}

/* Remember the last TAIL_LEN bytes read, to notice a rewritten file. */
static void
keep_tail(struct follow *f, const char *data, size_t n)
{
	size_t keep;

	if (n >= TAIL_LEN) {
		memcpy(f->tail, data + n - TAIL_LEN, TAIL_LEN);
		f->taillen = TAIL_LEN;
		return;
	}
	keep = f->taillen < TAIL_LEN - n ? f->taillen : TAIL_LEN - n;
	memmove(f->tail, f->tail + f->taillen - keep, keep);
	memcpy(f->tail + keep, data, n);
	f->taillen = keep + n;
}

/* Read what is there, up to the end of the file. */
static void
follow_read(struct watch *w, struct follow *f)
{
	ssize_t n;

	while (!stop) {
		n = pread(f->fd, f->buf + f->len, sizeof(f->buf) - 1 - f->len,
		    f->off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			pw_log("error: %s: read: %s", f->path, strerror(errno));
		if (n <= 0)
			return;
		f->off += n;
		keep_tail(f, f->buf + f->len, (size_t)n);
		split_lines(w, f, (size_t)n);
	}
}

/* Shorter than what was read, or other bytes where the last ones were. */
static int
follow_truncated(const struct follow *f)
{
	struct stat	 st;
	char		 now[TAIL_LEN];
	off_t		 at = f->off - (off_t)f->taillen;

	if (fstat(f->fd, &st) == -1)
		return 0;
	if (st.st_size < f->off)
		return 1;
	return f->taillen > 0 && (pread(f->fd, now, f->taillen, at) !=
	    (ssize_t)f->taillen || memcmp(now, f->tail, f->taillen) != 0);
}

/* Truncated: read again from 0.  Rotated: finish the old file, then open
 * the new one at its start. */
static void
follow_check(struct watch *w, struct follow *f)
{
	struct stat st;

	if (follow_truncated(f)) {
		pw_log("%s: truncated, reading from the start", f->path);
		f->off = 0;
		f->taillen = 0;
		f->len = 0;
		f->skip = 0;
	}
	if (stat(f->path, &st) == -1 ||
	    (st.st_dev == f->dev && st.st_ino == f->ino))
		return;		/* gone for now, or still the same file */
	follow_read(w, f);
	close(f->fd);
	f->fd = -1;
	f->at_end = 0;
	pw_log("%s: rotated, reading the new file from the start", f->path);
	follow_open(f);
}

/* ---------------------------------------------------------------- main */

static int
expire(const struct watch *w)
{
	char err[512];

	if (w->table == NULL)
		return 0;	/* Redis forgets them by itself (TTL) */
	if (cdbt_pop_update(w->table, NULL, time(NULL), w->window, err,
	    sizeof(err)) == -1) {
		pw_log("error: expire: %s", err);
		return -1;
	}
	return 0;
}

static void
nap(void)
{
	struct timespec ts = { 0, POLL_MS * 1000000L };

	nanosleep(&ts, NULL);	/* a signal cuts it short */
}

static int
run(struct watch *w, struct follow *f)
{
	time_t last = time(NULL), now;

	if (expire(w) == -1)
		return 111;
	f->at_end = 1;
	follow_open(f);
	pw_log("following %s table=%s redis=%s window=%ld patterns=%zu",
	    f->path, w->table ? w->table : "-", w->redis ? "yes" : "no",
	    w->window, w->npats);
	while (!stop) {
		if (f->fd == -1)
			follow_open(f);
		if (f->fd != -1) {
			follow_read(w, f);
			follow_check(w, f);
		}
		if ((now = time(NULL)) - last >= EXPIRE_EVERY || now < last) {
			expire(w);
			last = now;
		}
		if (!stop)
			nap();
	}
	pw_log("stopped");
	return 0;
}

/* -n: every login in the whole file, without touching a table. */
static int
check(struct watch *w, struct follow *f)
{
	f->at_end = 0;
	if (follow_open(f) == -1)
		return 111;
	follow_read(w, f);
	close(f->fd);
	return 0;
}

/* 1..WINDOW_MAX seconds, or usage(). */
static long
window_arg(const char *arg)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || v <= 0 ||
	    v > WINDOW_MAX)
		usage();
	return v;
}

static void
conf_error(const char *msg)
{
	fprintf(stderr, "popwatch: %s\n", msg);
}

/* -r: the Redis store and pop_window of an smtpproxy configuration. */
static void
load_conf(struct watch *w, const char *path)
{
	static struct conf	 c;	/* redis/ keeps a pointer into it */

	conf_init(&c);
	if (conf_load(&c, path, conf_error) == -1 ||
	    conf_check(&c, conf_error) == -1)
		exit(100);
	if (c.redis_server[0] == '\0') {
		fprintf(stderr, "popwatch: %s: no redis_server\n", path);
		exit(100);
	}
	redis_init(&c);
	w->redis = 1;
	w->window = c.pop_window;
}

/* -a: one login now (Dovecot's post-login script); 0, 100 or 111 */
static int
record_one(const struct watch *w, const char *addr)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	char		 ip[INET6_ADDRSTRLEN];

	/* canonical, as popwatch_match makes a log line's address */
	if (inet_pton(AF_INET, addr, &a4) == 1)
		inet_ntop(AF_INET, &a4, ip, sizeof(ip));
	else if (inet_pton(AF_INET6, addr, &a6) == 1 &&
	    !IN6_IS_ADDR_V4MAPPED(&a6))
		inet_ntop(AF_INET6, &a6, ip, sizeof(ip));
	else if (inet_pton(AF_INET6, addr, &a6) == 1)
		inet_ntop(AF_INET, &a6.s6_addr[12], ip, sizeof(ip));
	else {
		fprintf(stderr, "popwatch: -a %s: not an IPv4 or IPv6 "
		    "address\n", addr);
		return 100;
	}
	if (strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0) {
		fprintf(stderr, "popwatch: -a %s: loopback, not recorded\n",
		    addr);
		return 0;
	}
	return record_redis(w, ip, "-a") == 0 ? 0 : 111;
}

int
main(int argc, char *argv[])
{
	static struct watch	 watch = { .window = DEFAULT_WINDOW };
	static struct follow	 follow = { .path = DEFAULT_LOG, .fd = -1 };
	const char		*patterns = NULL, *conf = NULL, *one = NULL;
	long			 window = 0;
	int			 ch, checkonly = 0;

	while ((ch = getopt(argc, argv, "a:f:np:r:w:")) != -1) {
		switch (ch) {
		case 'a':
			one = optarg;
			break;
		case 'r':
			conf = optarg;
			break;
		case 'f':
			follow.path = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'p':
			patterns = optarg;
			break;
		case 'w':
			window = watch.window = window_arg(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (one != NULL && (conf == NULL || argc != 0))
		usage();	/* -a writes to Redis only */
	if (checkonly ? conf != NULL || argc != 0 :
	    argc > 1 || (argc == 0 && conf == NULL))
		usage();
	if (conf != NULL)
		load_conf(&watch, conf);
	if (window != 0)
		watch.window = window;	/* -w wins over pop_window */
	load_patterns(&watch, patterns);
	pw_signals();	/* SIGPIPE too: Redis may close on us */
	if (one != NULL)
		return record_one(&watch, one);
	if (checkonly)
		return check(&watch, &follow);
	watch.table = argc == 1 ? argv[0] : NULL;
	return run(&watch, &follow);
}
