/*
 * test_data: the DATA scanner.  Every case is fed whole and byte by byte;
 * both must give the same output, flags and end position.
 */
#include <stdlib.h>

#include "smtp/smtp.h"
#include "unit.h"

struct sink {
	char	 buf[4096];
	size_t	 len;
	int	 fail;
};

static int
sink_write(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;

	if (s->fail)
		return -1;
	if (s->len + n > sizeof(s->buf))
		abort();
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

struct data_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;		/* 0: strlen(in) */
	int		 normalize;
	long long	 max;
	int		 ended;		/* end of data found */
	size_t		 used;		/* bytes consumed up to the end */
	const char	*out;		/* what the backend gets */
	int		 flags;
};

#define SMUGGLE "MAIL FROM:<e@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nevil\r\n"

static const struct data_case cases[] = {
	{ "plain message", "a\r\nb\r\n.\r\nQUIT\r\n", 0, 0, 0, 1, 9,
	    "a\r\nb\r\n", 0 },
	{ "empty message", ".\r\n", 0, 0, 0, 1, 3, "", 0 },
	{ "dot-stuffed lines pass as they are", "..a\r\n..\r\n.\r\n", 0, 0,
	    0, 1, 12, "..a\r\n..\r\n", 0 },
	{ "no end yet", "a\r\nb", 0, 0, 0, 0, 4, "a\r\nb", 0 },
	{ "dot inside a line", "a.\r\n.b\r\n.\r\n", 0, 0, 0, 1, 11,
	    "a.\r\n.b\r\n", 0 },
	{ "reject: bare LF", "a\nb\r\n.\r\nQUIT", 0, 0, 0, 1, 8, "",
	    SMTP_DATA_BARE },
	{ "reject: bare CR", "a\rb\r\n.\r\nQUIT", 0, 0, 0, 1, 8, "",
	    SMTP_DATA_BARE },
	{ "NUL refused in both modes", "a\r\n\0.\r\n.\r\n", 10, 1, 0, 1, 10,
	    "", SMTP_DATA_NUL },
	{ "exactly at the size limit", "abcd\r\n.\r\n", 0, 0, 6, 1, 9,
	    "abcd\r\n", 0 },
	{ "too big", "abcdef\r\n.\r\n", 0, 0, 4, 1, 11, "", SMTP_DATA_TOOBIG },
	/* the nine smuggling variants: never an end, never a "." line */
	{ "\\n.\\n", "x\n.\n" SMUGGLE "\r\n.\r\n", 0, 1, 0, 1, 0,
	    "x\r\n..\r\n" SMUGGLE "\r\n", 0 },
	{ "\\r.\\r", "x\r.\r" SMUGGLE "\r\n.\r\n", 0, 1, 0, 1, 0,
	    "x\r\n..\r\n" SMUGGLE "\r\n", 0 },
	{ "\\r.\\n", "x\r.\n" SMUGGLE "\r\n.\r\n", 0, 1, 0, 1, 0,
	    "x\r\n..\r\n" SMUGGLE "\r\n", 0 },
	{ "\\r\\n.\\n", "x\r\n.\n" SMUGGLE "\r\n.\r\n", 0, 1, 0, 1, 0,
	    "x\r\n..\r\n" SMUGGLE "\r\n", 0 },
	{ "\\n.\\r\\n", "x\n.\r\n" SMUGGLE "\r\n.\r\n", 0, 1, 0, 1, 0,
	    "x\r\n..\r\n" SMUGGLE "\r\n", 0 },
	{ "\\r.\\r\\n", "x\r.\r\n" SMUGGLE "\r\n.\r\n", 0, 1, 0, 1, 0,
	    "x\r\n..\r\n" SMUGGLE "\r\n", 0 },
	{ "\\r\\n.\\r", "x\r\n.\r" SMUGGLE "\r\n.\r\n", 0, 1, 0, 1, 0,
	    "x\r\n..\r\n" SMUGGLE "\r\n", 0 },
	{ "\\n.\\r", "x\n.\r" SMUGGLE "\r\n.\r\n", 0, 1, 0, 1, 0,
	    "x\r\n..\r\n" SMUGGLE "\r\n", 0 },
	/* the same nine in reject mode: refused, and the fake end is no end */
	{ "reject \\n.\\n", "x\n.\n" SMUGGLE "\r\n.\r\n", 0, 0, 0, 1, 0, "",
	    SMTP_DATA_BARE },
	{ "reject \\r.\\r", "x\r.\r" SMUGGLE "\r\n.\r\n", 0, 0, 0, 1, 0, "",
	    SMTP_DATA_BARE },
	{ "reject \\r.\\n", "x\r.\n" SMUGGLE "\r\n.\r\n", 0, 0, 0, 1, 0, "",
	    SMTP_DATA_BARE },
	{ "reject \\r\\n.\\n", "x\r\n.\n" SMUGGLE "\r\n.\r\n", 0, 0, 0, 1, 0,
	    "", SMTP_DATA_BARE },
	{ "reject \\n.\\r\\n", "x\n.\r\n" SMUGGLE "\r\n.\r\n", 0, 0, 0, 1, 0,
	    "", SMTP_DATA_BARE },
	{ "reject \\r.\\r\\n", "x\r.\r\n" SMUGGLE "\r\n.\r\n", 0, 0, 0, 1, 0,
	    "", SMTP_DATA_BARE },
	{ "reject \\r\\n.\\r", "x\r\n.\r" SMUGGLE "\r\n.\r\n", 0, 0, 0, 1, 0,
	    "", SMTP_DATA_BARE },
	{ "reject \\r\\n\\0.\\r\\n", "x\r\n\0.\r\n" SMUGGLE "\r\n.\r\n",
	    sizeof("x\r\n\0.\r\n" SMUGGLE "\r\n.\r\n") - 1, 0, 0, 1, 0, "",
	    SMTP_DATA_NUL },
	{ "reject \\n.\\r", "x\n.\r" SMUGGLE "\r\n.\r\n", 0, 0, 0, 1, 0, "",
	    SMTP_DATA_BARE },
	{ "normalize: stuffed after bare LF", "a\n.b\r\n.\r\n", 0, 1, 0, 1, 0,
	    "a\r\n..b\r\n", 0 },
	{ "normalize: CR CR LF", "a\r\r\n.\r\n", 0, 1, 0, 1, 0,
	    "a\r\n\r\n", 0 },
	{ "reject: \\n.\\n is no end", "x\n.\nrest\r\n.\r\n", 0, 0, 0, 1, 0,
	    "", SMTP_DATA_BARE },
	{ "reject: \\r\\n.\\n is no end", "x\r\n.\nrest\r\n.\r\n", 0, 0, 0, 1,
	    0, "", SMTP_DATA_BARE },
};

static void
run(const struct data_case *c, size_t step, const char *how)
{
	struct smtp_data	 d;
	struct sink		 s = { .len = 0 };
	size_t			 len = c->inlen ? c->inlen : strlen(c->in);
	size_t			 off = 0, used;
	int			 ended = 0;
	char			 name[256];

	smtp_data_init(&d, c->normalize, c->max, sink_write, &s);
	while (off < len && !ended) {
		size_t n = step == 0 || step > len - off ? len - off : step;

		ended = smtp_data_feed(&d, c->in + off, n, &used) ==
		    SMTP_DATA_END;
		off += used;
	}
	smtp_data_flush(&d);
	snprintf(name, sizeof(name), "%s (%s): end", c->name, how);
	unit_ok(ended == c->ended, name);
	if (c->used != 0) {
		snprintf(name, sizeof(name), "%s (%s): consumed", c->name, how);
		unit_ok(off == c->used, name);
	} else {
		snprintf(name, sizeof(name), "%s (%s): consumed all", c->name,
		    how);
		unit_ok(off == len, name);
	}
	snprintf(name, sizeof(name), "%s (%s): flags", c->name, how);
	unit_ok(d.flags == c->flags, name);
	snprintf(name, sizeof(name), "%s (%s): output", c->name, how);
	unit_ok(s.len == strlen(c->out) && memcmp(s.buf, c->out, s.len) == 0,
	    name);
	if (s.len != strlen(c->out) || memcmp(s.buf, c->out, s.len) != 0)
		printf("#   got %zu bytes: '%.*s'\n", s.len, (int)s.len, s.buf);
}

static void
test_sink_failure(void)
{
	struct smtp_data	 d;
	struct sink		 s = { .fail = 1 };
	size_t			 used;

	smtp_data_init(&d, 0, 0, sink_write, &s);
	unit_ok(smtp_data_feed(&d, "a\r\n.\r\n", 6, &used) == SMTP_DATA_END,
	    "sink failure: end still found");
	unit_ok(d.sink_failed == 1, "sink failure is reported");
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run(&cases[i], 0, "whole");
		run(&cases[i], 1, "byte by byte");
		run(&cases[i], 3, "3-byte pieces");
	}
	test_sink_failure();
	return unit_done();
}
