/*
 * iobuf: bounded, buffered, deadline-aware I/O on a pair of descriptors.
 * Used for the client (fd 0/1) and for the backend connection.
 *
 * Every wait is bounded by the per-operation timeout and by an absolute
 * session deadline, whichever comes first; iobuf_getline() also bounds the
 * whole line by the timeout, so a line cannot trickle in forever.  Output is buffered; it is
 * flushed when the buffer fills, on iobuf_flush(), and before any read
 * that would block, which is exactly what SMTP PIPELINING needs: replies
 * to a pipelined group leave in one write, in order.
 *
 * iobuf_getline() returns one CRLF-terminated line without its CRLF,
 * NUL-terminated in the caller's buffer.  A line longer than the buffer is
 * consumed through its LF and reported as IOL_TOOLONG; a line ending in a
 * bare LF or holding a bare CR is consumed and reported as IOL_BARE; a line
 * holding a NUL byte as IOL_NUL.
 * iobuf_peek() shows the buffered input (reading some if there is none) for
 * DATA; 0 means EOF, -1 an error (see iobuf->err); iobuf_consume() takes
 * what the caller used.
 * iobuf_set_timeout(io, seconds) changes the bound of each wait (DATA has
 * its own); iobuf_set_line_deadline(io, when) bounds every wait until the caller
 * clears it (0) by an absolute time: a message line, a TLS handshake.
 * iobuf_input_within(io, ms) says whether input (or EOF) arrives within
 * ms milliseconds, without reading it.
 * Errors are sticky: once err is set, every call fails; the one exception
 * is iobuf_last_words(io, seconds), which after a timeout lets the caller
 * write its last reply, each wait bounded by seconds.
 */
#ifndef SMTPPROXY_IOBUF_H
#define SMTPPROXY_IOBUF_H

#include <stddef.h>
#include <sys/types.h>

#define IOBUF_SIZE	16384

enum iobuf_err {
	IOBUF_OK,
	IOBUF_EOF,
	IOBUF_TIMEOUT,		/* the per-operation timeout */
	IOBUF_DEADLINE,		/* the whole-session limit */
	IOBUF_ERROR		/* errno was logged by the caller */
};

enum iobuf_line {
	IOL_OK,
	IOL_TOOLONG,
	IOL_BARE,
	IOL_NUL,
	IOL_FAIL		/* see err */
};

/*
 * A transport other than plain read/write (TLS): read and write return
 * the count, 0 at EOF (read), -1 on error, IOBUF_WANT_READ or
 * IOBUF_WANT_WRITE when the descriptor must become ready first; pending
 * is what the transport holds already decoded.
 */
#define IOBUF_WANT_READ		(-2)
#define IOBUF_WANT_WRITE	(-3)

struct iobuf_ops {
	ssize_t	(*read)(void *, void *, size_t);
	ssize_t	(*write)(void *, const void *, size_t);
	size_t	(*pending)(void *);
};

struct iobuf {
	int		 rfd, wfd;
	int		 timeout;	/* seconds per wait */
	double		 deadline;	/* monotonic seconds, 0 = none */
	double		 line_deadline;	/* the line being read, 0 = none */
	enum iobuf_err	 err;
	int		 saved_errno;
	int		 lf_is_crlf;	/* -T: a typed LF ends a line too */
	int		 nonblock;	/* wfd is O_NONBLOCK: write, then wait */
	const struct iobuf_ops *ops;	/* NULL: plain */
	void		*ctx;
	char		 last;		/* last byte read (for lf_is_crlf) */
	size_t		 rpos, rlen, wlen;
	/* the buffers stay last: iobuf_init() zeroes what comes before */
	char		 rbuf[IOBUF_SIZE];
	char		 wbuf[IOBUF_SIZE];
};

void		 iobuf_init(struct iobuf *io, int rfd, int wfd, int timeout);
void		 iobuf_set_deadline(struct iobuf *, double);
void		 iobuf_set_line_deadline(struct iobuf *, double);
void		 iobuf_set_timeout(struct iobuf *, int);
double		 iobuf_now(void);
enum iobuf_line	 iobuf_getline(struct iobuf *io, char *buf, size_t size,
		    size_t *len);
ssize_t		 iobuf_peek(struct iobuf *, const char **);
void		 iobuf_consume(struct iobuf *, size_t);
size_t		 iobuf_buffered(const struct iobuf *);
void		 iobuf_discard(struct iobuf *);
int		 iobuf_input_within(struct iobuf *, int);
void		 iobuf_last_words(struct iobuf *, int);
int		 iobuf_write(struct iobuf *, const void *, size_t);
int		 iobuf_printf(struct iobuf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 iobuf_flush(struct iobuf *);
const char	*iobuf_strerror(const struct iobuf *);
int		 iobuf_wait_fd(struct iobuf *io, int fd, short events);

#endif
