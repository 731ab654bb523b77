/*
 * loadc.c: SMTP load client for bench/run (server mode and the Postfix
 * anchor).  Built by bench/run: cc -O2 -pthread loadc.c -lssl -lcrypto.
 *
 *   loadc [-t|-r] [-w] [-p 1|2] [-n SESSIONS] [-c PARALLEL] [-s SIZE] HOST PORT
 *
 * PARALLEL threads (default 8), each one connection at a time, share
 * SESSIONS sessions (default 1000).  A session: the 220 greeting, EHLO,
 * with -t or -r STARTTLS and the TLS handshake and EHLO again, MAIL, RCPT,
 * DATA with one message of SIZE bytes (default 1024, headers included),
 * QUIT and its 221, then the client closes, as an MTA's client does.  No
 * pipelining; every reply code is checked.
 *
 *   -t  STARTTLS with a full handshake every time: no session resumption
 *       (SSL_OP_NO_TICKET, no session cache; the certificate is not checked)
 *   -r  STARTTLS, resumed: each thread (connection slot) keeps the last
 *       session ticket it got and offers it on each of its next connections
 *       (a copy each time, as Postfix's client session cache does)
 *   -w  after the 221, wait for the server to close the connection (at most
 *       2 s: a session whose server keeps the socket open longer counts as
 *       "linger")
 *   -p  first send a PROXY protocol header, v1 (text) or v2 (binary), that
 *       gives the connection's own endpoints (getsockname/getpeername), as
 *       a balancer in front of the server would, then wait for the 220
 *
 * Prints one line: "sessions N ok N failed N resumed N elapsed S rate R
 * hs_median MS hs_p95 MS proto P linger N", rate in sessions per second over the
 * wall-clock time from the first connect to the last close, hs_* the time
 * from sending STARTTLS to the end of the handshake.  The first failures
 * go to stderr.  Exit 0 when every session delivered its message with 250.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static int mode;		/* 0 plain, 't' full TLS, 'r' resumed TLS */
static int waitclose, proxyv;	/* -w; -p: 0 none, 1 or 2 */
static long nsessions = 1000, size = 1024;
static int parallel = 8;
static struct sockaddr_in addr;
static SSL_CTX *ctx;
static char *msg;		/* the message, dot-stuffed, with the final "." */
static size_t msglen;
static atomic_long next_session, nok, nfail, nresumed, nerrlines, nlinger;
static double *hs;		/* handshake times, ms, per session */
static char proto[64] = "-";
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static __thread SSL_SESSION *saved;	/* -r: this slot's last ticket */

struct conn {
	int fd;
	SSL *ssl;
	char buf[4096];
	size_t have, off;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
fail(long i, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&nerrlines, 1) >= 5)
		return;
	fprintf(stderr, "loadc: session %ld: ", i);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
cwrite(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;

		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p, n > 1 << 20 ? 1 << 20 : (int)n);

			if (r <= 0)
				return -1;
			w = r;
		} else {
			w = write(c->fd, p, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
cfill(struct conn *c)
{
	ssize_t r;

	if (c->ssl != NULL) {
		int n = SSL_read(c->ssl, c->buf, sizeof c->buf);

		r = n > 0 ? n : 0;
	} else {
		do
			r = read(c->fd, c->buf, sizeof c->buf);
		while (r < 0 && errno == EINTR);
	}
	if (r <= 0)
		return -1;
	c->have = (size_t)r;
	c->off = 0;
	return 0;
}

/* reply: read one whole reply; its code, -1 on EOF or error.  With
 * starttls set, the 220 to STARTTLS must end the buffer. */
static int
reply(struct conn *c, char *text, size_t tlen, int *starttls)
{
	char line[1024];
	size_t l = 0;
	int code = -1;

	if (text != NULL)
		text[0] = '\0';
	for (;;) {
		char ch;

		if (c->off == c->have && cfill(c) < 0)
			return -1;
		ch = c->buf[c->off++];
		if (ch != '\n') {
			if (l < sizeof line - 1)
				line[l++] = ch;
			continue;
		}
		line[l] = '\0';
		if (l < 4)
			return -1;
		if (text != NULL && strlen(text) + l + 2 < tlen) {
			strcat(text, line);
			strcat(text, "\n");
		}
		code = atoi(line);
		if (line[3] != '-')
			break;
		l = 0;
	}
	if (starttls != NULL)
		*starttls = c->off == c->have;
	return code;
}

static int
cmd(struct conn *c, const char *s, int want, long i, char *text, size_t tlen)
{
	int code;

	if (s != NULL && cwrite(c, s, strlen(s)) < 0) {
		fail(i, "write %.*s failed", (int)strcspn(s, "\r"), s);
		return -1;
	}
	code = reply(c, text, tlen, NULL);
	if (code != want) {
		fail(i, "%.*s: reply %d, not %d", s ? (int)strcspn(s, "\r") : 8,
		    s ? s : "greeting", code, want);
		return -1;
	}
	return 0;
}

static int
newsess(SSL *ssl, SSL_SESSION *s)
{
	(void)ssl;
	if (saved != NULL)
		SSL_SESSION_free(saved);
	saved = s;
	return 1;		/* we keep the reference */
}

/* -p: the PROXY header of this connection (its real endpoints) */
static int
proxyhdr(int fd)
{
	struct sockaddr_in me, peer;
	socklen_t ml = sizeof me, pl = sizeof peer;
	unsigned char h[28];
	char line[108], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	int n;

	if (getsockname(fd, (struct sockaddr *)&me, &ml) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
		return -1;
	if (proxyv == 1) {
		inet_ntop(AF_INET, &me.sin_addr, a, sizeof a);
		inet_ntop(AF_INET, &peer.sin_addr, b, sizeof b);
		n = snprintf(line, sizeof line, "PROXY TCP4 %s %s %u %u\r\n", a, b,
		    ntohs(me.sin_port), ntohs(peer.sin_port));
		return write(fd, line, (size_t)n) == n ? 0 : -1;
	}
	memcpy(h, "\r\n\r\n\0\r\nQUIT\n", 12);
	h[12] = 0x21;		/* version 2, PROXY */
	h[13] = 0x11;		/* AF_INET, STREAM */
	h[14] = 0;
	h[15] = 12;		/* addresses and ports, no TLV */
	memcpy(h + 16, &me.sin_addr, 4);
	memcpy(h + 20, &peer.sin_addr, 4);
	memcpy(h + 24, &me.sin_port, 2);
	memcpy(h + 26, &peer.sin_port, 2);
	return write(fd, h, sizeof h) == (ssize_t)sizeof h ? 0 : -1;
}

static int
session(long i)
{
	struct conn c = { .fd = -1 };
	struct timeval tv = { 10, 0 };
	char ehlo[2048];
	int one = 1, ok = -1, clean;
	double t0;

	c.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c.fd < 0) {
		fail(i, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c.fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		fail(i, "connect: %s", strerror(errno));
		goto out;
	}
	if (proxyv && proxyhdr(c.fd) < 0) {
		fail(i, "PROXY header: %s", strerror(errno));
		goto out;
	}
	if (cmd(&c, NULL, 220, i, NULL, 0) < 0 ||
	    cmd(&c, "EHLO client.bench.example\r\n", 250, i, ehlo, sizeof ehlo) < 0)
		goto out;
	if (mode) {
		if (strcasestr(ehlo, "STARTTLS") == NULL) {
			fail(i, "no STARTTLS in the EHLO reply");
			goto out;
		}
		t0 = now();
		if (cwrite(&c, "STARTTLS\r\n", 10) < 0 ||
		    reply(&c, NULL, 0, &clean) != 220 || !clean) {
			fail(i, "STARTTLS refused or data after its 220");
			goto out;
		}
		c.ssl = SSL_new(ctx);
		if (c.ssl == NULL) {
			fail(i, "SSL_new failed");
			goto out;
		}
		SSL_set_fd(c.ssl, c.fd);
		/* a copy: OpenSSL marks a TLS 1.3 session used once as not
		 * resumable, and a server that resumes need not send a new
		 * ticket; like Postfix's client session cache, the slot offers
		 * the ticket it keeps until a newer one comes */
		if (mode == 'r' && saved != NULL) {
			SSL_SESSION *dup = SSL_SESSION_dup(saved);

			if (dup != NULL) {
				SSL_set_session(c.ssl, dup);
				SSL_SESSION_free(dup);
			}
		}
		if (SSL_connect(c.ssl) != 1) {
			unsigned long e = ERR_get_error();

			fail(i, "TLS handshake: %s", e ? ERR_error_string(e, NULL) : "failed");
			goto out;
		}
		hs[i] = (now() - t0) * 1e3;
		if (SSL_session_reused(c.ssl))
			atomic_fetch_add(&nresumed, 1);
		if (i == 0) {
			pthread_mutex_lock(&lock);
			snprintf(proto, sizeof proto, "%s:%s", SSL_get_version(c.ssl),
			    SSL_get_cipher_name(c.ssl));
			pthread_mutex_unlock(&lock);
		}
		c.have = c.off = 0;
		if (cmd(&c, "EHLO client.bench.example\r\n", 250, i, NULL, 0) < 0)
			goto out;
	}
	if (cmd(&c, "MAIL FROM:<bench@bench.example>\r\n", 250, i, NULL, 0) < 0 ||
	    cmd(&c, "RCPT TO:<sink@sink.example>\r\n", 250, i, NULL, 0) < 0 ||
	    cmd(&c, "DATA\r\n", 354, i, NULL, 0) < 0)
		goto out;
	if (cwrite(&c, msg, msglen) < 0) {
		fail(i, "writing the message failed");
		goto out;
	}
	if (cmd(&c, NULL, 250, i, NULL, 0) < 0 ||
	    cmd(&c, "QUIT\r\n", 221, i, NULL, 0) < 0)
		goto out;
	ok = 0;
	if (c.ssl != NULL)
		SSL_shutdown(c.ssl);
	/* -w: the server's close ends the session, within 2 s */
	if (waitclose) {
		t0 = now();
		c.have = c.off = 0;
		while (cfill(&c) == 0 && now() - t0 < 2)
			;
		if (now() - t0 >= 2)
			atomic_fetch_add(&nlinger, 1);
	}
out:
	if (c.ssl != NULL)
		SSL_free(c.ssl);
	close(c.fd);
	return ok;
}

static void *
worker(void *arg)
{
	long i;

	(void)arg;
	while ((i = atomic_fetch_add(&next_session, 1)) < nsessions) {
		if (session(i) == 0)
			atomic_fetch_add(&nok, 1);
		else
			atomic_fetch_add(&nfail, 1);
	}
	if (saved != NULL)
		SSL_SESSION_free(saved);
	return NULL;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
makemsg(void)
{
	const char *head = "From: <bench@bench.example>\r\nTo: <sink@sink.example>\r\n"
	    "Subject: bench\r\nMessage-ID: <loadc@bench.example>\r\n\r\n";
	size_t hl = strlen(head), n;

	msg = malloc((size_t)size + hl + 200);
	if (msg == NULL) {
		perror("loadc: malloc");
		exit(2);
	}
	memcpy(msg, head, hl);
	n = hl;
	while (n < (size_t)size) {
		size_t l = (size_t)size - n;

		if (l > 78)
			l = 78;
		if (l < 3)
			l = 3;
		memset(msg + n, 'x', l - 2);
		memcpy(msg + n + l - 2, "\r\n", 2);
		n += l;
	}
	memcpy(msg + n, ".\r\n", 3);
	msglen = n + 3;
}

int
main(int argc, char **argv)
{
	pthread_t *t;
	double t0, el, hm = 0, hp = 0;
	long k, nh = 0;
	int o;

	while ((o = getopt(argc, argv, "trwp:n:c:s:")) != -1) {
		switch (o) {
		case 't':
		case 'r':
			mode = o;
			break;
		case 'w':
			waitclose = 1;
			break;
		case 'p':
			proxyv = atoi(optarg);
			if (proxyv != 1 && proxyv != 2)
				goto usage;
			break;
		case 'n':
			nsessions = atol(optarg);
			break;
		case 'c':
			parallel = atoi(optarg);
			break;
		case 's':
			size = atol(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || nsessions < 1 || parallel < 1 || size < 200) {
usage:
		fprintf(stderr, "usage: loadc [-t|-r] [-w] [-p 1|2] [-n sessions] [-c parallel] [-s size] host port\n");
		return 2;
	}
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &addr.sin_addr) != 1) {
		fprintf(stderr, "loadc: %s: not an IPv4 address\n", argv[optind]);
		return 2;
	}
	if (parallel > nsessions)
		parallel = (int)nsessions;
	makemsg();
	hs = calloc((size_t)nsessions, sizeof *hs);
	t = calloc((size_t)parallel, sizeof *t);
	if (hs == NULL || t == NULL) {
		perror("loadc: calloc");
		return 2;
	}
	if (mode) {
		OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
		ctx = SSL_CTX_new(TLS_client_method());
		if (ctx == NULL) {
			fprintf(stderr, "loadc: SSL_CTX_new failed\n");
			return 2;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		if (mode == 't') {
			SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
			SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		} else {
			SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
			    SSL_SESS_CACHE_NO_INTERNAL_STORE);
			SSL_CTX_sess_set_new_cb(ctx, newsess);
		}
	}
	t0 = now();
	for (k = 0; k < parallel; k++)
		if (pthread_create(&t[k], NULL, worker, NULL) != 0) {
			perror("loadc: pthread_create");
			return 2;
		}
	for (k = 0; k < parallel; k++)
		pthread_join(t[k], NULL);
	el = now() - t0;
	if (mode) {
		for (k = 0; k < nsessions; k++)
			if (hs[k] > 0)
				hs[nh++] = hs[k];
		if (nh > 0) {
			qsort(hs, (size_t)nh, sizeof *hs, cmpd);
			hm = hs[(nh - 1) / 2];
			hp = hs[(long)(nh * 0.95 + 0.999) - 1];
		}
	}
	printf("sessions %ld ok %ld failed %ld resumed %ld elapsed %.3f rate %.1f "
	    "hs_median %.2f hs_p95 %.2f proto %s linger %ld\n", nsessions, (long)nok,
	    (long)nfail, (long)nresumed, el, nsessions / el, hm, hp, proto, (long)nlinger);
	return nfail == 0 ? 0 : 1;
}
