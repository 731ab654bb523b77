/*
 * fuzz_popwatch: popwatch's log line matcher (tools/popwatch_match.c).
 *
 * README.  The input is a piece of mail log.  A line that starts with
 * "#P " is instead a line of a -p patterns file (popwatch_parse(); up to
 * eight of them, tried after the built-in patterns, as popwatch does);
 * every other line goes to popwatch_match() the way popwatch's on_line()
 * hands it over (a line with a NUL is dropped, a final CR removed), once
 * with the built-in patterns alone and once with the extra ones.  Checked:
 * the parser's answer and its fields (bounded, tag and before not empty,
 * at most one star in before); the matcher's answer is one of the three,
 * a LOGIN names a pattern that exists and carries a canonical, non-loopback
 * address (inet_pton and inet_ntop give it back unchanged, no v4-mapped
 * form), an IGNORED carries none; extra patterns after the built-in ones
 * never change what a built-in pattern found.
 *
 *   make fuzz FUZZ_TARGETS=popwatch
 *   build/fuzz/fuzz_popwatch -dict=tests/fuzz/popwatch.dict corpus-dir
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/popwatch.h"

#define EXTRA	8

static struct popwatch_pattern	 pats[64 + EXTRA];
static size_t			 nbuiltin;

static void
check_ip(const char *ip)
{
	unsigned char	 a[16];
	char		 back[INET6_ADDRSTRLEN];
	int		 af = strchr(ip, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(af, ip, a) != 1 || inet_ntop(af, a, back,
	    sizeof(back)) == NULL || strcmp(back, ip) != 0)
		abort();	/* not canonical */
	if (af == AF_INET && (a[0] == 127 || a[0] == 0))
		abort();	/* loopback or 0/8 recorded */
	if (af == AF_INET6) {
		struct in6_addr a6;

		memcpy(&a6, a, sizeof(a6));
		if (IN6_IS_ADDR_LOOPBACK(&a6) || IN6_IS_ADDR_UNSPECIFIED(&a6) ||
		    IN6_IS_ADDR_V4MAPPED(&a6))
			abort();
	}
}

static int
match(size_t n, const char *line, struct popwatch_login *l)
{
	int rc = popwatch_match(pats, n, line, l);

	switch (rc) {
	case POPWATCH_NONE:
		break;
	case POPWATCH_LOGIN:
		if (l->pattern < 0 || (size_t)l->pattern >= n ||
		    strnlen(l->ip, sizeof(l->ip)) == sizeof(l->ip) ||
		    strnlen(l->tag, sizeof(l->tag)) == sizeof(l->tag) ||
		    l->tag[0] == '\0')
			abort();
		check_ip(l->ip);
		break;
	case POPWATCH_IGNORED:
		if (l->pattern < 0 || (size_t)l->pattern >= n ||
		    l->ip[0] != '\0')
			abort();
		break;
	default:
		abort();
	}
	return rc;
}

static void
pattern_line(const char *line, size_t *n)
{
	struct popwatch_pattern	 p;
	const char		*why = NULL;
	int			 rc = popwatch_parse(line, &p, &why);

	if (rc == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (rc == 0)
		return;
	if (rc != 1)
		abort();
	const char *f[4] = { p.tag, p.start, p.before, p.after };
	for (int i = 0; i < 4; i++)
		if (strnlen(f[i], POPWATCH_FIELD_MAX) == POPWATCH_FIELD_MAX)
			abort();
	const char *star = strchr(p.before, '*');
	if (p.tag[0] == '\0' || p.before[0] == '\0' || (star != NULL &&
	    (star == p.before || star[1] == '\0' || strchr(star + 1, '*'))))
		abort();
	if (*n < nbuiltin + EXTRA)
		pats[(*n)++] = p;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*copy, *line, *next;
	size_t	 n;

	if (nbuiltin == 0) {
		const char *why;

		for (int i = 0; popwatch_builtin[i] != NULL; i++)
			if (popwatch_parse(popwatch_builtin[i], &pats[nbuiltin++],
			    &why) != 1)
				abort();	/* a built-in pattern is broken */
	}
	n = nbuiltin;
	/* the patterns first, wherever they stand */
	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (line = copy; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strncmp(line, "#P ", 3) == 0 && strlen(line) < 1024)
			pattern_line(line + 3, &n);
	}
	free(copy);

	/* then the log lines, each in a buffer of its own size */
	for (size_t i = 0; i < size;) {
		const uint8_t	*nl = memchr(data + i, '\n', size - i);
		size_t		 len = nl ? (size_t)(nl - data) - i : size - i;
		struct popwatch_login a, b;

		if (memchr(data + i, '\0', len) == NULL &&
		    !(len >= 3 && memcmp(data + i, "#P ", 3) == 0)) {
			line = malloc(len + 1);
			if (line == NULL)
				abort();
			memcpy(line, data + i, len);
			line[len] = '\0';
			if (len > 0 && line[len - 1] == '\r')
				line[len - 1] = '\0';
			int ra = match(nbuiltin, line, &a);
			int rb = match(n, line, &b);
			/* the built-in patterns come first: extra ones
			 * only add answers where they found none */
			if (ra != POPWATCH_NONE && (ra != rb ||
			    a.pattern != b.pattern || strcmp(a.ip, b.ip) != 0 ||
			    strcmp(a.tag, b.tag) != 0))
				abort();
			if (rb != POPWATCH_NONE && ra == POPWATCH_NONE &&
			    (size_t)b.pattern < nbuiltin)
				abort();
			free(line);
		}
		i += len + 1;
	}
	return 0;
}
