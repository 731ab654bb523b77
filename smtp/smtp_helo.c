/*
 * smtp_helo.c: ZMailer's HELO styles: a shell glob over the HELO name,
 * first match wins; and the checks of a HELO name's syntax.
 */
#include <ctype.h>
#include <string.h>

#include "smtp.h"

/* One [...] set at p (after '['); *end gets the char after ']'. */
static int
smtp_glob_set(const char *p, int c, const char **end)
{
	int neg = *p == '!' || *p == '^', hit = 0;

	p += neg;
	for (int first = 1; *p != '\0' && (*p != ']' || first); first = 0) {
		int lo = tolower((unsigned char)(*p == '\\' && p[1] ? *++p : *p));
		int hi = lo;

		p++;
		if (*p == '-' && p[1] != ']' && p[1] != '\0') {
			p++;
			hi = tolower((unsigned char)(*p == '\\' && p[1] ? *++p : *p));
			p++;
		}
		if (c >= lo && c <= hi)
			hit = 1;
	}
	if (*p != ']')
		return -1;	/* no closing bracket: not a set */
	*end = p + 1;
	return hit != neg;
}

/* One pattern element at pat against c; *next is the element after it.
 * Returns 1 match, 0 no match. */
static int
smtp_glob_one(const char *pat, int c, const char **next)
{
	const char	*end;
	int		 r;

	switch (*pat) {
	case '?':
		*next = pat + 1;
		return c != '\0';
	case '[':
		if (c != '\0' && (r = smtp_glob_set(pat + 1, c, &end)) != -1) {
			*next = end;
			return r;
		}
		*next = pat + 1;	/* a lone '[' matches itself */
		return c == '[';
	case '\\':
		if (pat[1] != '\0')
			pat++;
		/* FALLTHROUGH */
	default:
		*next = pat + 1;
		return c != '\0' && tolower((unsigned char)*pat) == c;
	}
}

/*
 * Shell glob, case-insensitive: * ? [a-z] [!x], backslash quotes.  After a
 * mismatch only the last '*' is retried, one character further: time is
 * bounded by pattern times name, whatever the client sends.
 */
int
smtp_glob(const char *pat, const char *s)
{
	const char	*star = NULL, *mark = NULL, *next;

	while (*s != '\0') {
		if (*pat == '*') {
			while (*pat == '*')
				pat++;
			if (*pat == '\0')
				return 1;
			star = pat;
			mark = s;
			continue;
		}
		if (*pat != '\0' &&
		    smtp_glob_one(pat, tolower((unsigned char)*s), &next)) {
			pat = next;
			s++;
			continue;
		}
		if (star == NULL)
			return 0;
		pat = star;	/* the last '*' takes one more character */
		s = ++mark;
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* First style whose pattern matches helo; NULL when none does. */
const struct conf_style *
smtp_style_find(const struct conf *c, const char *helo)
{
	for (int i = 0; i < c->helo.n; i++)
		if (smtp_glob(c->helo.s[i].pattern, helo))
			return &c->helo.s[i];
	return NULL;
}

/* RFC 5321 HELO argument: a domain name or an address literal. */
int
smtp_helo_valid(const char *h)
{
	struct smtp_path	 p;
	const char		*rest, *why;
	char			 buf[300];

	if (strlen(h) > 255)
		return 0;
	/* an all-digit last label: an address without its brackets */
	const char *last = strrchr(h, '.');
	last = last ? last + 1 : h;
	if (h[0] != '[' && *last != '\0' && strspn(last, "0123456789") ==
	    strlen(last))
		return 0;
	/* reuse the path parser: "<x@HELO>" is valid iff HELO is */
	snprintf(buf, sizeof(buf), "<x@%s>", h);
	return smtp_parse_path(buf, 0, &p, &rest, &why) == 0 && *rest == '\0';
}
