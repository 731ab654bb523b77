/*
 * proxy_read.c: who must send a PROXY header (proxy_clients), and reading
 * exactly that header off the client's descriptor (contracts in proxy.h).
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdb/cdb.h"
#include "proxy.h"

/* Configuration-derived, opened once per process. */
static struct cdbt	*proxy_clients;

/* proxy_init - open proxy_clients while still privileged; never fails */
int
proxy_init(const struct conf *c)
{
	cdbt_close(proxy_clients);	/* an earlier configuration's (SIGHUP) */
	proxy_clients = c->proxy_protocol == CONF_PROXY_NO ? NULL :
	    cdbt_open_conf(c->proxy_clients, CDBT_NETWORKS);
	return 0;
}

/* proxy_changed - was proxy_clients replaced since proxy_init? */
int
proxy_changed(void)
{
	return proxy_clients != NULL && cdbt_changed(proxy_clients);
}

/* proxy_report - the table's state for -n */
int
proxy_report(FILE *out)
{
	if (proxy_clients == NULL)
		return 0;
	if (cdbt_error(proxy_clients) != NULL) {
		fprintf(out, "proxy_clients: %s: %s\n", cdbt_name(proxy_clients),
		    cdbt_error(proxy_clients));
		return -1;
	}
	fprintf(out, "proxy_clients: %s: ok\n", cdbt_name(proxy_clients));
	return 0;
}

/* proxy_listed - a balancer: listed, most specific entry not REJECT */
int
proxy_listed(const char *addr, const char **why)
{
	struct cdbt_match	 m;
	int			 rc;

	if (proxy_clients == NULL)
		return 0;
	if ((rc = cdbt_find(proxy_clients, CDBT_NETWORK, addr, &m)) ==
	    CDBT_ERROR) {
		*why = cdbt_error(proxy_clients);
		return -1;
	}
	return rc == CDBT_FOUND && strncmp(m.value, "REJECT", 6) != 0;
}

/* proxy_ms_left - milliseconds to the deadline, 0 when past it */
static int
proxy_ms_left(const struct timespec *deadline)
{
	struct timespec	 now;
	long long	 ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000LL +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (int)ms : 0;
}

/* proxy_wait - fd readable before the deadline: 1, 0 time out, -1 error */
static int
proxy_wait(int fd, const struct timespec *deadline)
{
	struct pollfd	 p = { .fd = fd, .events = POLLIN };
	int		 ms, rc;

	for (;;) {
		if ((ms = proxy_ms_left(deadline)) == 0)
			return 0;
		rc = poll(&p, 1, ms);
		if (rc == -1 && errno == EINTR)
			continue;
		return rc;
	}
}

/* proxy_consume - read and drop n bytes already seen with MSG_PEEK */
static int
proxy_consume(int fd, size_t n)
{
	unsigned char	 sink[PROXY_HEADER_MAX];
	ssize_t		 r;

	while (n > 0) {
		r = read(fd, sink, n);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;	/* peeked: the bytes are there */
		if (r <= 0)
			return -1;
		n -= (size_t)r;
	}
	return 0;
}

/* proxy_fill - more bytes after buf[have]: peeked (all that fit) or, on
 * a descriptor that is not a socket, read one; the count, 0 at EOF, -1 */
static ssize_t
proxy_fill(int fd, int *peek, unsigned char *buf, size_t have)
{
	ssize_t n;

	for (;;) {
		if (*peek)
			n = recv(fd, buf + have, PROXY_HEADER_MAX - have,
			    MSG_PEEK);
		else
			n = read(fd, buf + have, 1);
		if (n == -1 && *peek && errno == ENOTSOCK) {
			*peek = 0;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		return n;
	}
}

/* proxy_read - one header off fd, not a byte more, within timeout s */
int
proxy_read(int fd, int versions, int timeout, struct proxy_header *h)
{
	unsigned char		 buf[PROXY_HEADER_MAX];
	struct timespec		 deadline;
	enum proxy_status	 st;
	size_t			 have = 0;
	ssize_t			 n;
	int			 peek = 1, w;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout;
	for (;;) {
		if ((w = proxy_wait(fd, &deadline)) <= 0) {
			h->why = w == 0 ? "no complete header in timeout_proxy" :
			    "poll error";
			return -1;
		}
		if ((n = proxy_fill(fd, &peek, buf, have)) <= 0) {
			if (n == -1 && errno == EAGAIN)
				continue;
			h->why = n == 0 ? "closed before a complete header" :
			    "read error";
			return -1;
		}
		st = proxy_parse(buf, have + (size_t)n, h);
		if (st == PROXY_BAD)
			return -1;
		if (h->version != 0 && !(versions & (1 << (h->version - 1)))) {
			h->why = h->version == 1 ? "v1 header, proxy_protocol v2" :
			    "v2 header, proxy_protocol v1";
			return -1;
		}
		if (st == PROXY_DONE)
			break;
		/* more needed: every byte seen is the header's */
		if (peek && proxy_consume(fd, (size_t)n) == -1) {
			h->why = "read error";
			return -1;
		}
		have += (size_t)n;
	}
	if (peek && proxy_consume(fd, h->len - have) == -1) {
		h->why = "read error";
		return -1;
	}
	return 0;
}
