/*
 * smtp_parse.c: RFC 5321 paths and the ESMTP parameters of MAIL and RCPT.
 * Strict: "<local@domain>", dot-string or quoted local part, domain names
 * or address literals, no trailing dot; source routes are accepted and
 * dropped (RFC 5321 4.1.1.3), so only the final address decides.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "conf/conf.h"
#include "smtp.h"

#define LOCAL_MAX	64
#define DOMAIN_MAX	255
#define PATH_MAX_LEN	256

static int
smtp_atext(unsigned char c)
{
	/* c != 0: strchr() would find the string's own terminator */
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c)) ||
	    c >= 0x80;
}

/* One label of a domain: letters, digits, inner hyphens (or UTF-8). */
static const char *
smtp_label(const char *p)
{
	const char *start = p;

	while (isalnum((unsigned char)*p) || *p == '-' ||
	    (unsigned char)*p >= 0x80)
		p++;
	if (p == start || p - start > 63 || *start == '-' || p[-1] == '-')
		return NULL;
	return p;
}

static const char *
smtp_domain(const char *p)
{
	for (;;) {
		if ((p = smtp_label(p)) == NULL)
			return NULL;
		if (*p != '.')
			return p;
		p++;
	}
}

/* The inside of an address literal: an IPv4 address, "IPv6:" and an
 * IPv6 address, or "tag:text" with tag a letter-digit-hyphen word. */
static int
smtp_literal_ok(const char *s, size_t len)
{
	char		 buf[128];
	unsigned char	 a[16];
	const char	*colon;

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if ((colon = strchr(buf, ':')) == NULL)
		return inet_pton(AF_INET, buf, a) == 1;
	if (colon - buf == 4 && strncasecmp(buf, "IPv6", 4) == 0)
		return inet_pton(AF_INET6, colon + 1, a) == 1;
	for (const char *t = buf; t < colon; t++)
		if (!isalnum((unsigned char)*t) && *t != '-')
			return 0;
	return colon > buf && colon[1] != '\0';
}

/* "[1.2.3.4]", "[IPv6:...]" or "[tag:text]" (RFC 5321 4.1.3). */
static const char *
smtp_literal(const char *p)
{
	const char *q = p + 1;

	while (*q != ']' && *q != '\0' && *q != '[' && *q != '\\' &&
	    (unsigned char)*q > 32 && (unsigned char)*q < 127)
		q++;
	if (*q != ']' || !smtp_literal_ok(p + 1, (size_t)(q - p - 1)))
		return NULL;
	return q + 1;
}

static const char *
smtp_quoted(const char *p)
{
	for (p++; *p != '"'; p++) {
		if (*p == '\\') {
			p++;
			if ((unsigned char)*p < 32 || (unsigned char)*p > 126)
				return NULL;
		} else if ((unsigned char)*p < 32 || *p == 127)
			return NULL;
	}
	return p + 1;
}

static const char *
smtp_dotstring(const char *p)
{
	for (;;) {
		const char *start = p;

		while (smtp_atext((unsigned char)*p))
			p++;
		if (p == start)
			return NULL;
		if (*p != '.')
			return p;
		p++;
	}
}

/* "@a.example,@b.example:" before the mailbox: checked, then ignored. */
static const char *
smtp_route(const char *p)
{
	while (*p == '@') {
		if ((p = smtp_domain(p + 1)) == NULL)
			return NULL;
		if (*p == ':')
			return p + 1;
		if (*p != ',')
			return NULL;
		p++;
	}
	return NULL;
}

static int
smtp_has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

static int
smtp_mailbox(const char *p, int allow_bare, int nodomain,
    struct smtp_path *out, const char **endp, const char **why)
{
	const char *lend, *dstart, *dend;

	lend = *p == '"' ? smtp_quoted(p) : smtp_dotstring(p);
	if (lend == NULL || lend - p > LOCAL_MAX) {
		*why = "bad local part";
		return -1;
	}
	if (*lend == ':') {	/* "x:a@b": a route that is not "@dom:" */
		*why = "bad source route";
		return -1;
	}
	if (*lend != '@') {
		/* RFC 5321 4.5.1: <Postmaster> needs no domain */
		if (!nodomain && (!allow_bare || lend - p != 10 ||
		    strncasecmp(p, "postmaster", 10) != 0)) {
			*why = "address needs a domain";
			return -1;
		}
		dstart = dend = lend;
	} else {
		dstart = lend + 1;
		dend = *dstart == '[' ? smtp_literal(dstart) :
		    smtp_domain(dstart);
		if (dend == NULL || dend - dstart > DOMAIN_MAX) {
			*why = "bad domain";
			return -1;
		}
	}
	if (dend - p > PATH_MAX_LEN) {
		*why = "address too long";
		return -1;
	}
	memcpy(out->addr, p, (size_t)(dend - p));
	out->addr[dend - p] = '\0';
	memcpy(out->domain, dstart, (size_t)(dend - dstart));
	out->domain[dend - dstart] = '\0';
	out->utf8 = smtp_has_8bit(p, (size_t)(dend - p));
	*endp = dend;
	return 0;
}

int
smtp_parse_path(const char *s, int is_mail, struct smtp_path *out,
    const char **rest, const char **why)
{
	return smtp_parse_path_lax(s, is_mail, 0, out, rest, why);
}

int
smtp_parse_path_lax(const char *s, int is_mail, int lax,
    struct smtp_path *out, const char **rest, const char **why)
{
	const char	*p = s, *end;
	int		 bare = 0;

	memset(out, 0, sizeof(*out));
	if (*p != '<' && !(lax & SMTP_LAX_SLOPPY)) {
		*why = "address must be in angle brackets";
		return -1;
	}
	if (*p == '<')
		p++;
	else
		bare = 1;	/* S: MAIL FROM:user@domain */
	if (lax & SMTP_LAX_SLOPPY)
		p += strspn(p, " ");
	if (*p == '>' && is_mail) {
		out->null = 1;
		*rest = p + 1;
		return 0;
	}
	if (*p == '@' && (p = smtp_route(p)) == NULL) {
		*why = "bad source route";
		return -1;
	}
	if (smtp_mailbox(p, !is_mail, lax & SMTP_LAX_NODOMAIN, out, &end,
	    why) == -1)
		return -1;
	if (bare) {
		*rest = end;
		return 0;
	}
	if (lax & SMTP_LAX_SLOPPY)
		end += strspn(end, " ");
	if (*end != '>') {
		*why = "address must end with '>'";
		return -1;
	}
	*rest = end + 1;
	return 0;
}

/* xtext (RFC 3461 4): printable ASCII but '=' and '+', or "+HH". */
static int
smtp_xtext(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '+') {
			if (i + 2 >= len)
				return -1;
			if (!isxdigit((unsigned char)v[i + 1]) ||
			    !isxdigit((unsigned char)v[i + 2]))
				return -1;
			i += 2;
		} else if (v[i] < 33 || v[i] > 126 || v[i] == '=')
			return -1;
	}
	return 0;
}

static int
smtp_notify(const char *v)
{
	char	 buf[64];
	char	*tok, *save = NULL;
	int	 never = 0, n = 0;

	if (strlen(v) >= sizeof(buf))
		return -1;
	memcpy(buf, v, strlen(v) + 1);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save), n++) {
		if (strcasecmp(tok, "NEVER") == 0)
			never = 1;
		else if (strcasecmp(tok, "SUCCESS") != 0 &&
		    strcasecmp(tok, "FAILURE") != 0 &&
		    strcasecmp(tok, "DELAY") != 0)
			return -1;
	}
	return n == 0 || (never && n > 1) ? -1 : 0;
}

/* One "KEY[=VALUE]"; returns 0 or a reply code with *why. */
static int
smtp_param(const char *key, const char *val, int is_mail, int ext,
    struct smtp_params *out, const char **why)
{
	int dsn = ext & CONF_EXT_DSN;

	*why = "bad parameter value";
	if (is_mail && strcasecmp(key, "SIZE") == 0) {
		char *end;

		if (val == NULL || !isdigit((unsigned char)*val) ||
		    strlen(val) > 18)
			return 501;
		out->size = strtoll(val, &end, 10);
		return *end == '\0' ? 0 : 501;
	}
	if (is_mail && strcasecmp(key, "BODY") == 0) {
		if (val == NULL)
			return 501;
		if (strcasecmp(val, "8BITMIME") == 0)
			out->body_8bit = 1;
		else if (strcasecmp(val, "7BIT") != 0)
			return 501;
		return 0;
	}
	if (is_mail && strcasecmp(key, "SMTPUTF8") == 0 &&
	    (ext & CONF_EXT_SMTPUTF8)) {
		out->smtputf8 = 1;
		return val == NULL ? 0 : 501;
	}
	if (is_mail && (ext & SMTP_EXT_AUTH) && strcasecmp(key, "AUTH") == 0)
		return val != NULL && (strcmp(val, "<>") == 0 ||
		    smtp_xtext(val, strlen(val)) == 0) ? 0 : 501;
	if (dsn && is_mail && strcasecmp(key, "RET") == 0) {
		out->dsn = 1;
		return val != NULL && (strcasecmp(val, "FULL") == 0 ||
		    strcasecmp(val, "HDRS") == 0) ? 0 : 501;
	}
	if (dsn && is_mail && strcasecmp(key, "ENVID") == 0) {
		out->dsn = 1;
		return val != NULL && strlen(val) <= 100 &&
		    smtp_xtext(val, strlen(val)) == 0 ? 0 : 501;
	}
	if (dsn && !is_mail && strcasecmp(key, "NOTIFY") == 0) {
		out->dsn = 1;
		return val != NULL && smtp_notify(val) == 0 ? 0 : 501;
	}
	if (dsn && !is_mail && strcasecmp(key, "ORCPT") == 0) {
		const char *semi = val ? strchr(val, ';') : NULL;

		out->dsn = 1;
		return semi != NULL && semi != val && strlen(val) <= 500 &&
		    smtp_xtext(semi + 1, strlen(semi + 1)) == 0 ? 0 : 501;
	}
	*why = "unsupported parameter";
	return 555;
}

int
smtp_parse_params(const char *s, int is_mail, int ext,
    struct smtp_params *out, const char **why)
{
	char	 buf[SMTP_PARAM_MAX], seen[SMTP_PARAM_MAX] = " ";
	char	*tok, *save = NULL, *val;
	int	 code;

	memset(out, 0, sizeof(*out));
	out->size = -1;
	if (strlen(s) >= sizeof(buf)) {
		*why = "parameters too long";
		return 501;
	}
	memcpy(buf, s, strlen(s) + 1);
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		if ((val = strchr(tok, '=')) != NULL)
			*val++ = '\0';
		if (*tok == '\0' || strlen(tok) > 20) {
			*why = "bad parameter";
			return 501;
		}
		for (char *k = tok; *k; k++) {
			if (!isalnum((unsigned char)*k) && *k != '-') {
				*why = "bad parameter";
				return 501;
			}
			*k = (char)toupper((unsigned char)*k);
		}
		char key[32];
		snprintf(key, sizeof(key), " %s ", tok);
		if (strstr(seen, key) != NULL) {
			*why = "duplicate parameter";
			return 501;
		}
		strlcat(seen, key + 1, sizeof(seen));
		if ((code = smtp_param(tok, val, is_mail, ext, out, why)) != 0)
			return code;
	}
	return 0;
}
