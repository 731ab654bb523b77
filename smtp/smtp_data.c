/*
 * smtp_data.c: the DATA scanner.
 *
 * The message is scanned byte by byte as a sequence of lines, each ended
 * by CRLF (proper), a bare LF, or a bare CR.  The end of data is a line
 * "." ended by CRLF whose previous line also ended by CRLF (the DATA
 * command itself ends in CRLF), and nothing else.
 *
 * reject mode: the first bare CR or LF marks the message SMTP_DATA_BARE
 * and stops the copy; the scan goes on to the true end of data.
 * normalize mode: each bare CR or LF becomes CRLF, and no line that leaves
 * the scanner is ever "." alone: a line after a bare ending that starts
 * with "." is dot-stuffed once more, and a "." line with a bare ending on
 * either side goes out as "..".  A NUL byte always marks SMTP_DATA_NUL,
 * and more than max bytes SMTP_DATA_TOOBIG; a marked message is not
 * copied any further.
 * Lines the client dot-stuffed between proper CRLFs pass through as they
 * are, so the backend sees the client's bytes unchanged.
 */
#include <string.h>

#include "smtp.h"

enum {
	D_SOL,		/* start of line */
	D_DOT,		/* "." at start of line */
	D_MID,		/* inside a line */
	D_CR,		/* CR inside a line */
	D_DOTCR		/* ".\r" at start of line */
};

void
smtp_data_init(struct smtp_data *d, int normalize, long long max,
    smtp_data_sink sink, void *arg)
{
	memset(d, 0, sizeof(*d));
	d->max = max;
	d->state = D_SOL;
	d->normalize = normalize;
	d->sink = sink;
	d->arg = arg;
}

void
smtp_data_flush(struct smtp_data *d)
{
	if (d->olen > 0 && !d->sink_failed && d->flags == 0)
		if (d->sink(d->arg, d->out, d->olen) == -1)
			d->sink_failed = 1;
	d->olen = 0;
}

static void
smtp_data_emit(struct smtp_data *d, const char *p, size_t n)
{
	size_t chunk;

	if (d->flags != 0)
		return;		/* refused: copy nothing more */
	while (n > 0) {
		if (d->olen == sizeof(d->out))
			smtp_data_flush(d);
		chunk = sizeof(d->out) - d->olen;
		if (chunk > n)
			chunk = n;
		memcpy(d->out + d->olen, p, chunk);
		d->olen += chunk;
		p += chunk;
		n -= chunk;
	}
}

/* A line ended in a bare CR or LF; "dot" says it was "." alone. */
static void
smtp_data_bare(struct smtp_data *d, int dot)
{
	/* in both modes: the next line cannot be the end of data */
	d->prev_bare = 1;
	d->lines++;
	if (!d->normalize) {
		d->flags |= SMTP_DATA_BARE;
		return;
	}
	if (dot)
		smtp_data_emit(d, "..", 2);
	smtp_data_emit(d, "\r\n", 2);
}

static void
smtp_data_eol(struct smtp_data *d)
{
	d->lines++;
	smtp_data_emit(d, "\r\n", 2);
	d->prev_bare = 0;
}

/* Copy a run of ordinary bytes; returns how many it took. */
static size_t
smtp_data_run(struct smtp_data *d, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] != '\r' && p[i] != '\n' && p[i] != '\0')
		i++;
	smtp_data_emit(d, p, i);
	return i;
}

/* One byte in state D_SOL, D_DOT or D_MID; returns 1 at the end of data. */
static void
smtp_data_text(struct smtp_data *d, char c)
{
	if (d->state == D_DOT && c != '\r' && c != '\n')
		smtp_data_emit(d, "..", d->prev_bare ? 2 : 1);
	switch (c) {
	case '\r':
		d->state = d->state == D_DOT ? D_DOTCR : D_CR;
		return;
	case '\n':
		smtp_data_bare(d, d->state == D_DOT);
		d->state = D_SOL;
		return;
	case '\0':
		d->flags |= SMTP_DATA_NUL;
		break;
	case '.':
		if (d->state == D_SOL) {
			d->state = D_DOT;
			return;
		}
		break;
	}
	smtp_data_emit(d, &c, 1);
	d->state = D_MID;
}

/* One byte after a CR; returns 1 at the end of data, -1 to re-scan c. */
static int
smtp_data_after_cr(struct smtp_data *d, char c)
{
	int dot = d->state == D_DOTCR;

	if (c == '\n') {
		if (dot && !d->prev_bare)
			return 1;
		if (dot)
			smtp_data_emit(d, "..", 2);
		smtp_data_eol(d);
		d->state = D_SOL;
		return 0;
	}
	smtp_data_bare(d, dot);
	d->state = D_SOL;
	return -1;
}

/* Count input; held bytes (".", ".\r", ".\r\n") may be the end of data. */
static void
smtp_data_count(struct smtp_data *d, size_t n, int end)
{
	int held = end ? 3 : d->state == D_DOT ? 1 : d->state == D_DOTCR ? 2 : 0;

	d->in += (long long)n;
	d->bytes = d->in - held;
	if (d->max > 0 && d->bytes > d->max)
		d->flags |= SMTP_DATA_TOOBIG;
}

enum smtp_data_status
smtp_data_feed(struct smtp_data *d, const char *p, size_t n, size_t *used)
{
	size_t	 i = 0;
	int	 r;

	while (i < n) {
		if (d->state == D_MID) {
			size_t run = smtp_data_run(d, p + i, n - i);

			i += run;
			if (i == n)
				break;
		}
		if (d->state == D_CR || d->state == D_DOTCR) {
			r = smtp_data_after_cr(d, p[i]);
			if (r == 1) {
				i++;
				smtp_data_count(d, i, 1);
				*used = i;
				smtp_data_flush(d);
				return SMTP_DATA_END;
			}
			if (r == -1)
				continue;	/* c starts the next line */
			i++;
			continue;
		}
		smtp_data_text(d, p[i++]);
	}
	smtp_data_count(d, n, 0);
	*used = n;
	return SMTP_DATA_MORE;
}
