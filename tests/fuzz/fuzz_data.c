/*
 * fuzz_data: the DATA end-of-message scanner (smtp/smtp_data.c).
 *
 * README.  The input is a header of five bytes and then the bytes a client
 * sends after "DATA\r\n".  Byte 0 chooses the size limit (top bit clear:
 * none; else (b & 0x7f) * 16 + 1 bytes); bytes 1-4 give, in turn, the sizes
 * of the pieces the message is fed in (below 0xf0: 1 to 64 bytes; above:
 * thousands, to cross the scanner's 8 KiB output buffer).  Each message is
 * scanned in reject and in normalize mode, three times each: in one call,
 * in those pieces, and in one call with a sink that fails; the runs must
 * agree on whether and where the end of data is, on the flags, the byte
 * count and (when the message is not refused) on the output.  The output
 * is what the backend would get, so it must never hold an end of data of
 * its own: with "\r\n" in front, no "\r\n.\r\n", no bare CR or LF, no NUL,
 * and once a flag is up nothing more reaches the sink.  In reject mode a
 * message that passes is the client's bytes unchanged up to the end, and
 * normalize mode gives the same bytes when there was nothing to normalize.
 * A broken invariant is an abort(), which libFuzzer reports as a crash.
 *
 *   make fuzz FUZZ_TARGETS=data FUZZ_TIME=300
 *   build/fuzz/fuzz_data FILE      (replay one saved input)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp.h"

#define HDR	5

struct out {
	char		*buf;
	size_t		 len, cap;
	int		 fail;		/* answer -1 */
	int		 frozen;	/* a flag was up after a feed */
	const struct smtp_data *d;
};

static int
sink(void *arg, const char *p, size_t n)
{
	struct out *o = arg;

	if (o->frozen || o->d->flags != 0)
		abort();	/* the scanner emitted after a refusal */
	if (n == 0)
		abort();	/* the scanner flushes only what it holds */
	if (o->fail)
		return -1;
	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2;
		char *b = realloc(o->buf, cap);

		if (b == NULL)
			abort();
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

struct result {
	int		 ended;
	size_t		 used;		/* bytes of the message up to the end */
	int		 flags;
	long long	 in, bytes;
	int		 sink_failed;
	struct out	 out;
};

static size_t
piece(const uint8_t *sizes, size_t i)
{
	uint8_t b = sizes[i % 4];

	return b < 0xf0 ? (size_t)(b % 64) + 1 : (size_t)(b - 0xef) * 1500;
}

/* Feed msg in pieces (sizes NULL: in one call). */
static void
scan(const char *msg, size_t len, int normalize, long long max,
    const uint8_t *sizes, int fail, struct result *r)
{
	struct smtp_data	 d;
	size_t			 off = 0, used, k = 0;

	memset(r, 0, sizeof(*r));
	r->out.fail = fail;
	r->out.d = &d;
	smtp_data_init(&d, normalize, max, sink, &r->out);
	while (off < len) {
		size_t n = sizes == NULL ? len - off : piece(sizes, k++);

		if (n > len - off)
			n = len - off;
		used = (size_t)-1;
		enum smtp_data_status st = smtp_data_feed(&d, msg + off, n,
		    &used);
		if (used > n)
			abort();
		if (d.flags != 0)
			r->out.frozen = 1;
		off += used;
		if (st == SMTP_DATA_END) {
			r->ended = 1;
			break;
		}
		if (st != SMTP_DATA_MORE || used != n)
			abort();	/* MORE takes the whole piece */
	}
	if (!r->ended)
		smtp_data_flush(&d);
	if (d.flags != 0 && !r->out.frozen)
		abort();
	r->used = off;
	r->flags = d.flags;
	r->in = d.in;
	r->bytes = d.bytes;
	r->sink_failed = d.sink_failed;
	r->out.d = NULL;
}

/*
 * What reached the sink could never end the DATA of the backend early.
 * A refused message may stop between the CR and the LF of a line end (the
 * CR went out with a full buffer, the LF was held when the flag came up):
 * harmless, as the backend connection is then closed without a ".".
 */
static void
check_output(const struct out *o, int refused)
{
	const char *b = o->buf;

	for (size_t i = 0; i < o->len; i++) {
		if (b[i] == '\0')
			abort();
		if (b[i] == '\r' && (i + 1 < o->len ? b[i + 1] != '\n' :
		    !refused))
			abort();	/* bare CR (or a CR left hanging) */
		if (b[i] == '\n' && (i == 0 || b[i - 1] != '\r'))
			abort();	/* bare LF */
		/* a "." line: at the start, or after a CRLF */
		if (b[i] == '.' && (i == 0 || b[i - 1] == '\n') &&
		    i + 1 < o->len && b[i + 1] == '\r')
			abort();
	}
}

static int
same_out(const struct out *a, const struct out *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->buf, b->buf, a->len) == 0);
}

static void
check_mode(const char *msg, size_t len, int normalize, long long max,
    const uint8_t *sizes, struct result *whole)
{
	struct result pieces, failing;

	scan(msg, len, normalize, max, NULL, 0, whole);
	scan(msg, len, normalize, max, sizes, 0, &pieces);
	scan(msg, len, normalize, max, sizes, 1, &failing);

	check_output(&whole->out, whole->flags != 0);
	check_output(&pieces.out, pieces.flags != 0);
	if (whole->ended != pieces.ended || whole->used != pieces.used ||
	    whole->flags != pieces.flags || whole->in != pieces.in ||
	    whole->bytes != pieces.bytes)
		abort();	/* the end moved with the piece sizes */
	if (whole->flags == 0 && !same_out(&whole->out, &pieces.out))
		abort();
	if (failing.ended != whole->ended || failing.used != whole->used ||
	    failing.flags != whole->flags || failing.out.len != 0)
		abort();	/* a dead backend changes where the end is */
	if (whole->sink_failed || pieces.sink_failed)
		abort();
	if (whole->ended) {
		/* the terminator is the last three bytes used */
		if (whole->used < 3 || memcmp(msg + whole->used - 3, ".\r\n",
		    3) != 0)
			abort();
		if (whole->used != 3 && (whole->used < 5 ||
		    memcmp(msg + whole->used - 5, "\r\n", 2) != 0))
			abort();	/* the line before was not CRLF-ended */
		if (whole->bytes != (long long)whole->used - 3 ||
		    whole->in != (long long)whole->used)
			abort();
		if (whole->flags == 0 && whole->out.len > 0 &&
		    (whole->out.len < 2 || memcmp(whole->out.buf +
		    whole->out.len - 2, "\r\n", 2) != 0))
			abort();	/* the backend's "." would not start a line */
		if (whole->flags == 0 && !normalize &&
		    (whole->out.len != whole->used - 3 ||
		    (whole->out.len > 0 && memcmp(whole->out.buf, msg,
		    whole->out.len) != 0)))
			abort();	/* reject mode passes the bytes unchanged */
	} else if (whole->used != len || whole->in != (long long)len)
		abort();
	if (whole->bytes > whole->in || whole->bytes < whole->in - 3)
		abort();
	if (max > 0 &&
	    (whole->bytes > max) != ((whole->flags & SMTP_DATA_TOOBIG) != 0))
		abort();
	free(pieces.out.buf);
	free(failing.out.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result	 rej, norm;
	long long	 max;
	const char	*msg;
	size_t		 len;

	if (size < HDR)
		return 0;
	max = data[0] & 0x80 ? (long long)(data[0] & 0x7f) * 16 + 1 : 0;
	msg = (const char *)data + HDR;
	len = size - HDR;

	check_mode(msg, len, 0, max, data + 1, &rej);
	check_mode(msg, len, 1, max, data + 1, &norm);
	/* both modes find the same end: the end does not depend on the mode */
	if (rej.ended != norm.ended || rej.used != norm.used ||
	    rej.bytes != norm.bytes)
		abort();
	if ((rej.flags & SMTP_DATA_NUL) != (norm.flags & SMTP_DATA_NUL) ||
	    (norm.flags & SMTP_DATA_BARE))
		abort();
	/* nothing to normalize: the two modes send the same bytes */
	if (rej.flags == 0 && norm.flags == 0 && !same_out(&rej.out, &norm.out))
		abort();
	free(rej.out.buf);
	free(norm.out.buf);
	return 0;
}
