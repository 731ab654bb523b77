/*
 * floor.c: the least an exec'd proxy does, for bench/run.
 *
 *   floor PORT
 *
 * Started by xinetd once per connection, like smtpproxy, with the client's
 * socket as its standard input and output: connect to 127.0.0.1:PORT, then
 * copy bytes both ways, standard input to the backend and the backend to
 * standard output, with poll(2), until either side closes; then exit 0.
 * A reset counts as closing: smtp-source resets its connections once QUIT
 * is answered (a peer gone before it read everything shows in smtp-sink's
 * counts and in the client's errors, not here). No SMTP, no configuration,
 * no log: what it costs is the fork and exec, the dynamic linking when it
 * is built that way, and the copying, so its session rate is the most any
 * proxy that xinetd execs per connection can reach on the machine.
 *
 * Every wait is bounded (10 s: connecting, waiting for data, waiting to
 * write); when one runs out, or a call fails, it exits 1 without a word:
 * under xinetd its standard error is the client's socket, and xinetd logs
 * the exit status.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS	10000
#define BUFSIZE	65536

static int
nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	return 0;
}

/* Wait until fd is ready for events; -1 on timeout or error. */
static int
wait_fd(int fd, short events)
{
	struct pollfd	 p = { .fd = fd, .events = events };
	int		 n;

	while ((n = poll(&p, 1, WAIT_MS)) == -1 && errno == EINTR)
		;
	return n == 1 ? 0 : -1;
}

/* Connect to 127.0.0.1:port; the socket (non-blocking), or -1. */
static int
backend(int port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(int);
	int			 fd, err = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (errno != EINPROGRESS || wait_fd(fd, POLLOUT) == -1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* The peer of a failed call is gone (it closed or reset). */
static int
gone(void)
{
	return errno == ECONNRESET || errno == EPIPE;
}

/* Write all of buf to fd (non-blocking); 0 when done, 1 when the peer is
 * gone, -1 on another error or a timeout. */
static int
write_all(int fd, const char *buf, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, buf, n)) > 0) {
			buf += w;
			n -= (size_t)w;
		} else if (w == -1 && errno == EINTR)
			continue;
		else if (w == -1 && errno == EAGAIN) {
			if (wait_fd(fd, POLLOUT) == -1)
				return -1;
		} else
			return w == -1 && gone() ? 1 : -1;
	}
	return 0;
}

/* Read what there is from `from` and write it to `to`: 1 on data (or
 * none yet), 0 when either side is gone, -1 on error. */
static int
copy(int from, int to, char *buf)
{
	ssize_t n;

	while ((n = read(from, buf, BUFSIZE)) == -1 && errno == EINTR)
		;
	if (n == -1 && errno == EAGAIN)
		return 1;
	if (n == -1)
		return gone() ? 0 : -1;
	if (n == 0)
		return 0;
	switch (write_all(to, buf, (size_t)n)) {
	case 0:
		return 1;
	case 1:
		return 0;
	default:
		return -1;
	}
}

int
main(int argc, char *argv[])
{
	static char	 buf[BUFSIZE];
	struct pollfd	 p[2];
	char		*end;
	long		 port;
	int		 fd, n, i, rc;

	if (argc != 2 || (port = strtol(argv[1], &end, 10)) < 1 ||
	    port > 65535 || *end != '\0') {
		fprintf(stderr, "usage: floor port\n");
		return 2;
	}
	/* a write to a closed peer fails with EPIPE instead of killing us */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return 1;
	if (nonblock(0) == -1 || nonblock(1) == -1)
		return 1;
	if ((fd = backend((int)port)) == -1)
		return 1;
	p[0].fd = 0;
	p[0].events = POLLIN;
	p[1].fd = fd;
	p[1].events = POLLIN;
	for (;;) {
		if ((n = poll(p, 2, WAIT_MS)) == -1) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (n == 0)
			return 1;	/* both sides silent too long */
		for (i = 0; i < 2; i++) {
			if (p[i].revents == 0)
				continue;
			if (p[i].revents & POLLNVAL)
				return 1;
			/* POLLHUP and POLLERR too: read says which */
			rc = i == 0 ? copy(0, fd, buf) : copy(fd, 1, buf);
			if (rc == -1)
				return 1;
			if (rc == 0)
				return 0;	/* one side closed */
		}
	}
}
