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

/* Shell glob, case-insensitive: * ? [a-z] [!x], backslash quotes. */
int
smtp_glob(const char *pat, const char *s)
{
	const char	*end;
	int		 r;

	for (; *pat != '\0'; pat++, s++) {
		switch (*pat) {
		case '*':
			while (pat[1] == '*')
				pat++;
			if (pat[1] == '\0')
				return 1;
			for (; *s != '\0'; s++)
				if (smtp_glob(pat + 1, s))
					return 1;
			return smtp_glob(pat + 1, s);
		case '?':
			if (*s == '\0')
				return 0;
			break;
		case '[':
			if (*s == '\0')
				return 0;
			r = smtp_glob_set(pat + 1, tolower((unsigned char)*s), &end);
			if (r == 0)
				return 0;
			if (r == 1) {
				pat = end - 1;
				break;
			}
			if (*s != '[')	/* a lone '[' matches itself */
				return 0;
			break;
		case '\\':
			if (pat[1] != '\0')
				pat++;
			/* FALLTHROUGH */
		default:
			if (tolower((unsigned char)*pat) != tolower((unsigned char)*s))
				return 0;
		}
	}
	return *s == '\0';
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
