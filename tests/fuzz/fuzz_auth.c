/*
 * fuzz_auth: the AUTH dialogue's base64 step (auth/auth_b64.c) and the
 * HELO checks (smtp/smtp_helo.c, conf_style_parse() of conf/conf.c).
 *
 * README.  The input is a few client lines (CR, LF or NUL end a line; at
 * most 16 lines are used).  Each line is, in turn:
 *   - an AUTH response: auth_b64_decode() into the session's 8 KiB buffer
 *     and into buffers of exactly the decoded size and one more (each
 *     buffer is followed by guard bytes that must come back untouched,
 *     a check that holds even for uninstrumented code); what
 *     decodes must encode (auth_b64_encode(), exact-size buffer) and decode
 *     back to the same bytes; the raw line must also survive encode then
 *     decode, and encoding must refuse a buffer one byte short;
 *   - a HELO argument: smtp_helo_valid() (a valid name is at most 255
 *     bytes, without blanks or control characters);
 *   - a HELO style line: conf_style_parse(); a parsed style has a pattern
 *     and either known flags or a refusal text, and its pattern is then
 *     matched by smtp_glob() against every line of at most 255 bytes (the
 *     session refuses longer HELO names), stars and all: smtp_glob()
 *     retries only its last '*', so no pattern can make it slow
 *     (corpus/auth/timeout-glob-stars once took minutes);
 *   - a glob subject: the line with * ? [ \ quoted must match itself (and
 *     in upper case: the glob ignores case), and "*" matches anything.
 *
 *   make fuzz FUZZ_TARGETS=auth
 *   build/fuzz/fuzz_auth corpus-dir
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "conf/conf.h"
#include "smtp/smtp.h"

#define LINES		16
#define SESSION_BUF	8192	/* smtp_session.c's in[] for AUTH */

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

#define GUARD	32

/* A buffer of room bytes followed by GUARD bytes of 0xa5. */
static char *
guarded(size_t room)
{
	char *p = xmalloc(room + GUARD);

	memset(p, 0x5a, room);
	memset(p + room, 0xa5, GUARD);
	return p;
}

static void
guard_check(const char *p, size_t room)
{
	for (size_t i = 0; i < GUARD; i++)
		if ((unsigned char)p[room + i] != 0xa5)
			abort();	/* written past the size it was given */
}

static size_t
b64len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* bytes -> base64 -> bytes, with exactly the room needed. */
static void
round_trip(const char *in, size_t n)
{
	size_t	 elen = b64len(n), dlen = 0;
	char	*enc = guarded(elen + 1), *dec;

	if (elen >= SESSION_BUF)
		goto out;
	if (auth_b64_encode(in, n, enc, elen + 1) == -1)
		abort();	/* refused a buffer that fits */
	guard_check(enc, elen + 1);
	if (strlen(enc) != elen)
		abort();
	if (auth_b64_encode(in, n, enc, elen) != -1)
		abort();	/* no room for the NUL, yet accepted */
	guard_check(enc, elen + 1);
	if (auth_b64_encode(in, n, enc, elen + 1) == -1)
		abort();
	dec = guarded(SESSION_BUF);
	if (auth_b64_decode(enc, dec, SESSION_BUF, &dlen) == -1 || dlen != n ||
	    memcmp(dec, in, n) != 0)
		abort();	/* encode then decode lost the bytes */
	guard_check(dec, SESSION_BUF);
	free(dec);
out:
	free(enc);
}

static void
check_b64(const char *line)
{
	char	*big = guarded(SESSION_BUF), *exact;
	size_t	 n = 0, m;
	int	 rc = auth_b64_decode(line, big, SESSION_BUF, &n);

	guard_check(big, SESSION_BUF);
	if (rc == 0) {
		if (n > SESSION_BUF)
			abort();
		/* the same into blocks of exactly n + 1 and n bytes */
		for (size_t room = n + 1; room + 2 > n + 1 && room > 0;
		    room--) {
			exact = guarded(room);
			m = 0;
			if (auth_b64_decode(line, exact, room, &m) == 0 &&
			    (m != n || memcmp(exact, big, n) != 0))
				abort();
			guard_check(exact, room);
			free(exact);
		}
		round_trip(big, n);
	}
	free(big);
	round_trip(line, strlen(line));
}

static void
check_helo(const char *line)
{
	if (!smtp_helo_valid(line))
		return;
	if (strlen(line) > 255 || line[0] == '\0')
		abort();
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		if (*p <= ' ' || *p == 127)
			abort();
}

/* The line with the glob's special characters quoted. */
static char *
quote(const char *s, int upper)
{
	char *q = xmalloc(strlen(s) * 2 + 1), *o = q;

	for (; *s; s++) {
		if (strchr("*?[\\", *s))
			*o++ = '\\';
		*o++ = upper ? (char)toupper((unsigned char)*s) : *s;
	}
	*o = '\0';
	return q;
}

static void
check_glob(const char *line)
{
	char *q;

	q = quote(line, 0);
	if (smtp_glob(q, line) != 1)
		abort();	/* a quoted string does not match itself */
	free(q);
	q = quote(line, 1);
	if (smtp_glob(q, line) != 1)
		abort();	/* case matters after all */
	free(q);
	if (smtp_glob("*", line) != 1 || smtp_glob("**", line) != 1)
		abort();
	if (smtp_glob("", line) != (line[0] == '\0'))
		abort();
}

static void
check_style(const char *line, char **lines, int n)
{
	struct conf_style	 st;
	char			 why[512];

	why[0] = '\0';
	if (conf_style_parse(line, &st, why, sizeof(why)) == -1) {
		if (why[0] == '\0')
			abort();
		return;
	}
	if (st.pattern[0] == '\0' || strnlen(st.pattern, sizeof(st.pattern)) ==
	    sizeof(st.pattern))
		abort();
	if (st.refuse ? st.text[0] == '\0' :
	    (st.flags[0] == '\0' || st.flags[strspn(st.flags,
	    CONF_STYLE_FLAGS)] != '\0'))
		abort();
	for (int i = 0; i < n; i++) {
		if (strlen(lines[i]) > 255)
			continue;	/* smtp_check_helo() refuses it */
		int r = smtp_glob(st.pattern, lines[i]);

		if (r != 0 && r != 1)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*lines[LINES];
	int	 n = 0;

	for (size_t i = 0; i < size && n < LINES;) {
		size_t len = 0;

		while (i + len < size && data[i + len] != '\r' &&
		    data[i + len] != '\n' && data[i + len] != '\0')
			len++;
		lines[n] = xmalloc(len + 1);
		memcpy(lines[n], data + i, len);
		lines[n][len] = '\0';
		n++;
		i += len + 1;
	}
	for (int i = 0; i < n; i++) {
		check_b64(lines[i]);
		check_helo(lines[i]);
		check_glob(lines[i]);
		check_style(lines[i], lines, n);
	}
	for (int i = 0; i < n; i++)
		free(lines[i]);
	return 0;
}
