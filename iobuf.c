/*
 * iobuf.c: poll(2)-bounded reads and writes with one buffer each way.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iobuf.h"

/* The buffers are left as they are: zeroing 32 KB would fault in eight
 * pages per session for nothing. */
void
iobuf_init(struct iobuf *io, int rfd, int wfd, int timeout)
{
	int fl = fcntl(wfd, F_GETFL);

	memset(io, 0, offsetof(struct iobuf, rbuf));
	io->rfd = rfd;
	io->wfd = wfd;
	io->timeout = timeout;
	io->nonblock = fl != -1 && (fl & O_NONBLOCK);
}

void
iobuf_set_deadline(struct iobuf *io, double deadline)
{
	io->deadline = deadline;
}

void
iobuf_set_timeout(struct iobuf *io, int seconds)
{
	io->timeout = seconds;
}

void
iobuf_set_line_deadline(struct iobuf *io, double when)
{
	io->line_deadline = when;
}

double
iobuf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
iobuf_fail(struct iobuf *io, enum iobuf_err err)
{
	if (io->err == IOBUF_OK) {
		io->err = err;
		io->saved_errno = errno;
	}
	return -1;
}

/* Wait for fd to be ready; the shorter of timeout and deadline wins. */
int
iobuf_wait_fd(struct iobuf *io, int fd, short events)
{
	struct pollfd	 pfd = { .fd = fd, .events = events };
	double		 limit = io->timeout, left;
	int		 n;

	for (;;) {
		enum iobuf_err why = IOBUF_TIMEOUT;

		/* a command line must be whole within the timeout, however
		 * slowly it trickles in (Postfix's smtpd_per_record_deadline) */
		if (io->line_deadline > 0) {
			left = io->line_deadline - iobuf_now();
			if (left < limit)
				limit = left > 0 ? left : 0;
		}
		if (io->deadline > 0) {
			left = io->deadline - iobuf_now();
			if (left <= limit) {
				limit = left > 0 ? left : 0;
				why = IOBUF_DEADLINE;
			}
		}
		n = poll(&pfd, 1, (int)(limit * 1000) + 1);
		if (n > 0)
			return 0;
		if (n == 0)
			return iobuf_fail(io, why);
		if (errno != EINTR)
			return iobuf_fail(io, IOBUF_ERROR);
	}
}

int
iobuf_flush(struct iobuf *io)
{
	size_t	 off = 0;
	ssize_t	 n;

	if (io->err != IOBUF_OK)
		return -1;
	while (off < io->wlen) {
		if (io->ops != NULL) {
			n = io->ops->write(io->ctx, io->wbuf + off, io->wlen - off);
			if (n == IOBUF_WANT_READ || n == IOBUF_WANT_WRITE) {
				if (iobuf_wait_fd(io, n == IOBUF_WANT_READ ?
				    io->rfd : io->wfd, n == IOBUF_WANT_READ ?
				    POLLIN : POLLOUT) == -1)
					return -1;
				continue;
			}
		} else {
			/* a blocking descriptor is polled first, so that the
			 * timeout bounds the write; a non-blocking one is
			 * written at once, and polled only when it is full */
			if (!io->nonblock &&
			    iobuf_wait_fd(io, io->wfd, POLLOUT) == -1)
				return -1;
			n = write(io->wfd, io->wbuf + off, io->wlen - off);
			if (n == -1 && errno == EAGAIN && io->nonblock) {
				if (iobuf_wait_fd(io, io->wfd, POLLOUT) == -1)
					return -1;
				continue;
			}
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
		}
		if (n <= 0)
			return iobuf_fail(io, IOBUF_ERROR);
		off += (size_t)n;
	}
	io->wlen = 0;
	return 0;
}

int
iobuf_write(struct iobuf *io, const void *data, size_t len)
{
	const char	*p = data;
	size_t		 chunk;

	while (len > 0) {
		if (io->wlen == sizeof(io->wbuf) && iobuf_flush(io) == -1)
			return -1;
		chunk = sizeof(io->wbuf) - io->wlen;
		if (chunk > len)
			chunk = len;
		memcpy(io->wbuf + io->wlen, p, chunk);
		io->wlen += chunk;
		p += chunk;
		len -= chunk;
	}
	return io->err == IOBUF_OK ? 0 : -1;
}

int
iobuf_printf(struct iobuf *io, const char *fmt, ...)
{
	char	 buf[4096];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	return iobuf_write(io, buf, (size_t)n);
}

/* Test mode: a typed LF stands for CRLF; n new bytes at rlen at most
 * double, which the caller left room for. */
static size_t
iobuf_add_cr(struct iobuf *io, size_t n)
{
	char	*p = io->rbuf + io->rlen, before = io->last;
	size_t	 lfs = 0, i, j;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] == '\n' && (i > 0 ? p[i - 1] : before) != '\r')
			lfs++;
	io->last = p[n - 1];
	for (i = n, j = n + lfs; i > 0; i--) {
		p[--j] = p[i - 1];
		if (p[i - 1] == '\n' && (i > 1 ? p[i - 2] : before) != '\r')
			p[--j] = '\r';
	}
	return n + lfs;
}

/* Read more input; pending output goes first so a peer never waits on us. */
static int
iobuf_fill(struct iobuf *io)
{
	ssize_t n;

	if (io->err != IOBUF_OK || iobuf_flush(io) == -1)
		return -1;
	if (io->rpos > 0) {
		memmove(io->rbuf, io->rbuf + io->rpos, io->rlen - io->rpos);
		io->rlen -= io->rpos;
		io->rpos = 0;
	}
	for (short ev = POLLIN;;) {
		size_t room = sizeof(io->rbuf) - io->rlen;

		if ((io->ops == NULL || io->ops->pending(io->ctx) == 0) &&
		    iobuf_wait_fd(io, ev == POLLIN ? io->rfd : io->wfd, ev) == -1)
			return -1;
		if (io->ops != NULL) {
			n = io->ops->read(io->ctx, io->rbuf + io->rlen, room);
			if (n == IOBUF_WANT_READ || n == IOBUF_WANT_WRITE) {
				ev = n == IOBUF_WANT_READ ? POLLIN : POLLOUT;
				continue;
			}
			ev = POLLIN;
		} else
			n = read(io->rfd, io->rbuf + io->rlen, io->lf_is_crlf ?
			    room / 2 : room);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0)
			return iobuf_fail(io, IOBUF_EOF);
		if (n < 0)
			return iobuf_fail(io, IOBUF_ERROR);
		if (io->lf_is_crlf && io->ops == NULL)
			n = (ssize_t)iobuf_add_cr(io, (size_t)n);
		io->rlen += (size_t)n;
		return 0;
	}
}

static enum iobuf_line
iobuf_classify(const char *line, size_t len)
{
	if (len == 0 || line[len - 1] != '\r')
		return IOL_BARE;
	if (memchr(line, '\r', len - 1) != NULL)
		return IOL_BARE;
	if (memchr(line, '\0', len - 1) != NULL)
		return IOL_NUL;
	return IOL_OK;
}

enum iobuf_line
iobuf_getline(struct iobuf *io, char *line, size_t size, size_t *lenp)
{
	int	 toolong = 0;
	char	*start, *nl;
	size_t	 len;

	io->line_deadline = iobuf_now() + io->timeout;
	for (;;) {
		start = io->rbuf + io->rpos;
		nl = memchr(start, '\n', io->rlen - io->rpos);
		if (nl != NULL)
			break;
		/* size bytes may still be a whole line (its CR included) */
		if (io->rlen - io->rpos > size ||
		    io->rlen - io->rpos >= sizeof(io->rbuf) - 1) {
			toolong = 1;	/* keep the last byte: it may be CR */
			io->rpos = io->rlen - 1;
		}
		if (iobuf_fill(io) == -1) {
			io->line_deadline = 0;
			return IOL_FAIL;
		}
	}
	io->line_deadline = 0;
	len = (size_t)(nl - start);
	io->rpos += len + 1;
	if (toolong || len > size) {
		*lenp = 0;
		line[0] = '\0';
		return IOL_TOOLONG;
	}
	enum iobuf_line kind = iobuf_classify(start, len);
	if (kind == IOL_OK)
		len--;
	memcpy(line, start, len);
	line[len < size ? len : size - 1] = '\0';
	*lenp = len;
	return kind;
}

/* Buffered input for DATA, read in if none; 0 at EOF, -1 on error. */
ssize_t
iobuf_peek(struct iobuf *io, const char **p)
{
	if (io->rpos == io->rlen && iobuf_fill(io) == -1)
		return io->err == IOBUF_EOF ? 0 : -1;
	*p = io->rbuf + io->rpos;
	return (ssize_t)(io->rlen - io->rpos);
}

void
iobuf_consume(struct iobuf *io, size_t n)
{
	io->rpos += n;
}

size_t
iobuf_buffered(const struct iobuf *io)
{
	return io->rlen - io->rpos;
}

/* iobuf_input_within - does input (or EOF) arrive within ms milliseconds?
 * 1 yes, 0 no; for postscreen's pregreet test. */
int
iobuf_input_within(struct iobuf *io, int ms)
{
	struct pollfd pfd = { .fd = io->rfd, .events = POLLIN };

	if (io->rpos < io->rlen)
		return 1;
	return poll(&pfd, 1, ms) > 0;
}

/* iobuf_last_words - after a timeout, one more bounded chance to write
 * (the 421 that says why): the sticky error is cleared, the session
 * deadline lifted, each wait bounded by seconds. */
void
iobuf_last_words(struct iobuf *io, int seconds)
{
	io->err = IOBUF_OK;
	io->deadline = 0;
	io->line_deadline = 0;
	io->timeout = seconds;
}

/* Drop buffered input (after STARTTLS, or before closing). */
void
iobuf_discard(struct iobuf *io)
{
	io->rpos = io->rlen = 0;
}

const char *
iobuf_strerror(const struct iobuf *io)
{
	switch (io->err) {
	case IOBUF_OK:
		return "ok";
	case IOBUF_EOF:
		return "eof";
	case IOBUF_TIMEOUT:
		return "timeout";
	case IOBUF_DEADLINE:
		return "session-timeout";
	case IOBUF_ERROR:
		return strerror(io->saved_errno);
	}
	return "unknown";
}
