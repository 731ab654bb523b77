/*
 * popwatch_match.c: is this mail log line a successful POP3/IMAP login,
 * and from which address?  See popwatch.h for the pattern language and
 * the contracts of popwatch_parse() and popwatch_match().
 *
 * Two rules keep forged lines out (smtp-after-popd 0.4 learnt them the
 * hard way).  The program name is the syslog tag of the line, found by
 * position (after the time stamp and the host), never a word anywhere in
 * the message.  The address is taken from the daemon's own field: the
 * LAST occurrence of the text before it, with the text after it checked,
 * so a user name such as "x, rip=6.6.6.6" or "evil [6.6.6.6]", which the
 * daemon logs before its own field, cannot supply the address.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <fnmatch.h>
#include <string.h>

#include <bsd/string.h>

#include "tools/popwatch.h"

#define PW_IPCHARS	"0123456789abcdefABCDEF:."

/*
 * The built-in patterns, in the patterns-file syntax (man/popwatch.8 lists
 * them with examples).  Tried before the lines of a -p file.
 */
const char *const popwatch_builtin[] = {
	/* Dovecot 1.x/2.x through syslog:
	 * "dovecot: imap-login: Login: user=<u>, method=PLAIN,
	 *  rip=192.0.2.7, lip=192.0.2.1, mpid=42, TLS, session=<...>" */
	"dovecot     \"pop3-login: Login: \"  \", rip=\"  ,",
	"dovecot     \"imap-login: Login: \"  \", rip=\"  ,",
	/* the same, logged under the login process's own tag */
	"pop3-login  \"Login: \"              \", rip=\"  ,",
	"imap-login  \"Login: \"              \", rip=\"  ,",
	/* Dovecot 0.99: "imap-login: Login: u [192.0.2.7]" */
	"pop3-login  \"Login: \"              [          ]$",
	"imap-login  \"Login: \"              [          ]$",
	/* UW ipop3d and imapd: "Login user=u host=name [192.0.2.7]",
	 * ipop3d adds " nmsgs=3/3" (or " no mailbox") */
	"ipop3*d     \"Login user=\"          \" host=*[\"  ]",
	"ipop3*d     \"Auth user=\"           \" host=*[\"  ]",
	"ipop3*d     \"APOP user=\"           \" host=*[\"  ]",
	"imap*d      \"Login user=\"          \" host=*[\"  ]",
	"imap*d      \"Authenticated user=\"  \" host=*[\"  ]",
	"imap*d      \"Auth user=\"           \" host=*[\"  ]",
	/* vm-pop3d: "User 'u' of 'example.org' logged in from 192.0.2.7" */
	"vm-pop3d    \"User '\"               \" logged in from \"  $",
	NULL
};

/* One field of a patterns line; returns the text after it or NULL. */
static const char *
pw_field(const char *p, char *out, size_t size, const char **why)
{
	const char	*src = p, *end;
	size_t		 n;

	if (*p == '"') {
		if ((end = strchr(p + 1, '"')) == NULL) {
			*why = "unterminated quote";
			return NULL;
		}
		src = p + 1;
		n = (size_t)(end - src);
		end++;
	} else {
		n = strcspn(p, " \t");
		end = p + n;
	}
	if (n >= size) {
		*why = "field too long";
		return NULL;
	}
	if (*end != '\0' && *end != ' ' && *end != '\t') {
		*why = "text right after a closing quote";
		return NULL;
	}
	memcpy(out, src, n);
	out[n] = '\0';
	return end;
}

/* "A*B" needs both A and B; at most one star. */
static int
pw_check(const struct popwatch_pattern *p, const char **why)
{
	const char *star = strchr(p->before, '*');

	if (p->tag[0] == '\0' || p->before[0] == '\0') {
		*why = "empty tag or before field";
		return -1;
	}
	if (star != NULL && (star == p->before || star[1] == '\0' ||
	    strchr(star + 1, '*') != NULL)) {
		*why = "before with a star must be A*B";
		return -1;
	}
	return 0;
}

int
popwatch_parse(const char *line, struct popwatch_pattern *p, const char **why)
{
	char		*fields[4] = { p->tag, p->start, p->before, p->after };
	const char	*s = line + strspn(line, " \t");

	if (*s == '\0' || *s == '#')
		return 0;
	for (int i = 0; i < 4; i++) {
		s += strspn(s, " \t");
		if (*s == '\0') {
			*why = "want 4 fields: tag start before after";
			return -1;
		}
		if ((s = pw_field(s, fields[i], POPWATCH_FIELD_MAX, why)) ==
		    NULL)
			return -1;
	}
	s += strspn(s, " \t");
	if (*s != '\0') {
		*why = "more than 4 fields";
		return -1;
	}
	return pw_check(p, why) == -1 ? -1 : 1;
}

/* Skip one blank-separated word and the blanks after it. */
static const char *
pw_word(const char *p)
{
	size_t n = strcspn(p, " ");

	if (n == 0 || p[n] == '\0')
		return NULL;
	p += n;
	return p + strspn(p, " ");
}

/*
 * "Jan  7 10:00:00 host tag[pid]: message" (or an RFC 3339 time stamp as
 * one word): the program name and the message, found by position.
 */
static int
pw_syslog(const char *line, char *tag, size_t tagsize, const char **msg)
{
	const char	*p = line, *q;
	int		 words = isdigit((unsigned char)*p) ? 2 : 4;
	size_t		 field, name;

	for (int i = 0; i < words && p != NULL; i++)
		p = pw_word(p);		/* time stamp and host */
	if (p == NULL)
		return 0;
	field = strcspn(p, " :");
	name = strcspn(p, "[: ");
	if (field == 0 || p[field] != ':' || name == 0 || name >= tagsize ||
	    (name < field && p[field - 1] != ']'))
		return 0;
	memcpy(tag, p, name);
	tag[name] = '\0';
	p += field + 1;
	if (*p == ' ')
		p++;
	/* Solaris message ids: "[ID 123456 mail.info] " */
	if (strncmp(p, "[ID ", 4) == 0 && (q = strchr(p, ']')) != NULL &&
	    q[1] == ' ')
		p = q + 2;
	*msg = p;
	return 1;
}

/* The last occurrence of needle in hay, or NULL. */
static const char *
pw_last(const char *hay, const char *needle)
{
	const char *found = NULL;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		found = p;
	return found;
}

/* Where the address starts: after the last "before" ("A*B": last A, then
 * the first B after it). */
static const char *
pw_before(const char *body, const char *before)
{
	char		 a[POPWATCH_FIELD_MAX];
	const char	*star = strchr(before, '*'), *p;

	if (star == NULL) {
		p = pw_last(body, before);
		return p ? p + strlen(before) : NULL;
	}
	strlcpy(a, before, sizeof(a));
	a[star - before] = '\0';
	if ((p = pw_last(body, a)) == NULL ||
	    (p = strstr(p + strlen(a), star + 1)) == NULL)
		return NULL;
	return p + strlen(star + 1);
}

/* Does s begin with after ("...$": and end there)? */
static int
pw_after(const char *s, const char *after)
{
	size_t	 len = strlen(after);
	int	 eol = len > 0 && after[len - 1] == '$';

	if (eol)
		len--;
	if (strncmp(s, after, len) != 0)
		return 0;
	return !eol || s[len] == '\0';
}

/* Canonical form of a remote address; 0 for loopback, unspecified or
 * unparsable ones.  A v4-mapped IPv6 address becomes plain IPv4. */
static int
pw_address(const char *in, char *out, size_t size)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	unsigned char	*b = (unsigned char *)&a4.s_addr;

	if (strchr(in, ':') != NULL) {
		if (inet_pton(AF_INET6, in, &a6) != 1 ||
		    IN6_IS_ADDR_LOOPBACK(&a6) || IN6_IS_ADDR_UNSPECIFIED(&a6))
			return 0;
		if (!IN6_IS_ADDR_V4MAPPED(&a6))
			return inet_ntop(AF_INET6, &a6, out, size) != NULL;
		memcpy(&a4.s_addr, &a6.s6_addr[12], 4);
	} else if (inet_pton(AF_INET, in, &a4) != 1)
		return 0;
	if (b[0] == 127 || b[0] == 0)
		return 0;
	return inet_ntop(AF_INET, &a4, out, size) != NULL;
}

/* One pattern on one message: -1 no match, else POPWATCH_LOGIN/IGNORED. */
static int
pw_try(const struct popwatch_pattern *p, const char *tag, const char *msg,
    char *ip, size_t ipsize)
{
	char		 addr[POPWATCH_IP_MAX];
	size_t		 slen = strlen(p->start), alen;
	const char	*a;

	if (fnmatch(p->tag, tag, 0) != 0 || strncmp(msg, p->start, slen) != 0 ||
	    (a = pw_before(msg + slen, p->before)) == NULL)
		return -1;
	alen = strspn(a, PW_IPCHARS);
	if (!pw_after(a + alen, p->after))
		return -1;
	if (alen == 0 || alen >= sizeof(addr))
		return POPWATCH_IGNORED;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	return pw_address(addr, ip, ipsize) ? POPWATCH_LOGIN : POPWATCH_IGNORED;
}

int
popwatch_match(const struct popwatch_pattern *pats, size_t n,
    const char *line, struct popwatch_login *login)
{
	const char	*msg;
	int		 rc;

	memset(login, 0, sizeof(*login));
	if (!pw_syslog(line, login->tag, sizeof(login->tag), &msg))
		return POPWATCH_NONE;
	for (size_t i = 0; i < n; i++) {
		rc = pw_try(&pats[i], login->tag, msg, login->ip,
		    sizeof(login->ip));
		if (rc != -1) {
			login->pattern = (int)i;
			if (rc != POPWATCH_LOGIN)
				login->ip[0] = '\0';
			return rc;
		}
	}
	return POPWATCH_NONE;
}
