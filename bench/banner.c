/*
 * banner.c: time to banner, for bench/run.
 *
 *   banner HOST PORT COUNT
 *   banner HOST PORT,PORT[,...] COUNT
 *
 * COUNT times, one after the other: connect to HOST:PORT (IPv4 literal),
 * wait for the first byte of the server's greeting and print the time from
 * just before connect(2) to that byte, in milliseconds, one line each. Then
 * send QUIT and read until the server closes, so the next connection starts
 * only when the previous session is over. Every wait is bounded (10 s).
 * Exit 0 when every attempt got a greeting, 1 otherwise (failures are
 * reported on stderr and not printed as times).
 *
 * With a list of ports (at most 8), each of the COUNT rounds connects to
 * every port in turn, starting with the next port each round, so that
 * their figures share the machine's ups and downs and none always goes
 * first; each line is then "PORT MS".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Wait until fd is readable; -1 on timeout or error. */
static int
wait_read(int fd)
{
	struct pollfd	 p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, WAIT_MS) == 1 ? 0 : -1;
}

static int
one(const struct sockaddr_in *sin, double *ms)
{
	char	 buf[4096];
	double	 t0;
	ssize_t	 n;
	int	 fd, one = 1, rc = -1;

	t0 = now_ms();
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1) {
		perror("banner: connect");
		goto out;
	}
	if (wait_read(fd) == -1 || (n = read(fd, buf, sizeof(buf))) <= 0) {
		fprintf(stderr, "banner: no greeting\n");
		goto out;
	}
	*ms = now_ms() - t0;
	if (buf[0] != '2')
		fprintf(stderr, "banner: greeting %.3s\n", buf);
	else
		rc = 0;
	/* end the session politely and wait for the server to close */
	if (write(fd, "QUIT\r\n", 6) != 6)
		goto out;
	while (wait_read(fd) == 0 && read(fd, buf, sizeof(buf)) > 0)
		;
out:
	close(fd);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	double			 ms;
	long			 i, count;
	int			 bad = 0, nports = 0, p, port[8];
	char			*s = argv[2], *end;

	if (argc != 4) {
		fprintf(stderr, "usage: banner host port[,port...] count\n");
		return 2;
	}
	for (;;) {
		long v = strtol(s, &end, 10);

		if (end == s || v < 1 || v > 65535 || nports == 8 ||
		    (*end != ',' && *end != '\0')) {
			fprintf(stderr, "banner: bad port list %s\n", argv[2]);
			return 2;
		}
		port[nports++] = (int)v;
		if (*end == '\0')
			break;
		s = end + 1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "banner: bad address %s\n", argv[1]);
		return 2;
	}
	count = atol(argv[3]);
	for (i = 0; i < count; i++) {
		for (p = 0; p < nports; p++) {
			/* each round starts with the next port */
			int k = (int)((i + p) % nports);

			sin.sin_port = htons((unsigned short)port[k]);
			if (one(&sin, &ms) == -1)
				bad++;
			else if (nports == 1)
				printf("%.3f\n", ms);
			else
				printf("%d %.3f\n", port[k], ms);
		}
	}
	if (bad)
		fprintf(stderr, "banner: %d of %ld attempts failed\n", bad,
		    count * nports);
	return bad ? 1 : 0;
}
