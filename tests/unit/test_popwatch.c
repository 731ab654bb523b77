/*
 * test_popwatch: popwatch's line matcher with the built-in patterns: real
 * login lines of Dovecot, UW ipop3d/imapd and vm-pop3d; forged lines whose
 * user name carries an address; failed logins; loopback; IPv6; lines that
 * are not syslog lines at all.  Then the patterns-file parser.
 */
#include <stdlib.h>

#include "tools/popwatch.h"
#include "unit.h"

#define NPATS	64

static struct popwatch_pattern	pats[NPATS];
static size_t			npats;

struct match_case {
	const char	*line;
	int		 want;		/* POPWATCH_* */
	const char	*ip;		/* with POPWATCH_LOGIN */
	const char	*name;
};

#define H	"Jan  7 10:00:00 mx "	/* syslog time stamp and host */

static const struct match_case cases[] = {
	/* Dovecot 2.x */
	{ H "dovecot: pop3-login: Login: user=<alice>, method=PLAIN, "
	    "rip=192.0.2.7, lip=192.0.2.1, mpid=4242, TLS, session=<abc>",
	    POPWATCH_LOGIN, "192.0.2.7", "dovecot pop3 login" },
	{ H "dovecot[812]: imap-login: Login: user=<bob@example.org>, "
	    "method=PLAIN, rip=198.51.100.20, lip=192.0.2.1, mpid=7, TLS",
	    POPWATCH_LOGIN, "198.51.100.20", "dovecot imap login, tag with pid" },
	{ "2024-01-07T10:00:00.123456+01:00 mx dovecot: imap-login: Login: "
	    "user=<c>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, mpid=1",
	    POPWATCH_LOGIN, "203.0.113.5", "RFC 3339 time stamp" },
	{ H "dovecot: imap-login: Login: user=<v6>, method=PLAIN, "
	    "rip=2001:DB8::7, lip=2001:db8::1, mpid=9, TLS",
	    POPWATCH_LOGIN, "2001:db8::7", "dovecot IPv6, canonical" },
	/* Dovecot 1.x: v4-mapped addresses */
	{ H "dovecot: pop3-login: Login: user=<old>, method=PLAIN, "
	    "rip=::ffff:192.0.2.8, lip=::ffff:192.0.2.1, TLS",
	    POPWATCH_LOGIN, "192.0.2.8", "dovecot 1.x v4-mapped" },
	{ H "pop3-login: Login: user=<old>, method=PLAIN, rip=192.0.2.9, "
	    "lip=192.0.2.1", POPWATCH_LOGIN, "192.0.2.9",
	    "login process as the tag" },
	{ H "imap-login: Login: old [192.0.2.10]", POPWATCH_LOGIN,
	    "192.0.2.10", "dovecot 0.99" },
	/* UW */
	{ H "ipop3d[2001]: Login user=carol host=client.example.net "
	    "[192.0.2.11] nmsgs=3/3", POPWATCH_LOGIN, "192.0.2.11",
	    "ipop3d Login" },
	{ H "ipop3d[2001]: Auth user=carol host=[192.0.2.12] nmsgs=0/0",
	    POPWATCH_LOGIN, "192.0.2.12", "ipop3d Auth, no host name" },
	{ H "ipop3d[2001]: APOP user=carol host=c.example.net [192.0.2.13] "
	    "no mailbox", POPWATCH_LOGIN, "192.0.2.13", "ipop3d APOP" },
	{ H "imapd[3003]: Login user=dave host=d.example.net [192.0.2.14]",
	    POPWATCH_LOGIN, "192.0.2.14", "imapd Login" },
	{ H "imapd[3003]: Authenticated user=dave host=d.example.net "
	    "[192.0.2.15]", POPWATCH_LOGIN, "192.0.2.15", "imapd Authenticated" },
	{ H "imapd[3003]: [ID 748625 mail.info] Login user=dave "
	    "host=d.example.net [192.0.2.16]", POPWATCH_LOGIN, "192.0.2.16",
	    "Solaris message id" },
	/* vm-pop3d */
	{ H "vm-pop3d[77]: User 'erin' of 'example.org' logged in from "
	    "192.0.2.17", POPWATCH_LOGIN, "192.0.2.17", "vm-pop3d" },
	/* forged: the address is in the user name */
	{ H "dovecot: imap-login: Login: user=<x, rip=6.6.6.6, lip=1.1.1.1>, "
	    "method=PLAIN, rip=192.0.2.20, lip=192.0.2.1, mpid=1",
	    POPWATCH_LOGIN, "192.0.2.20", "dovecot: rip= in the user name" },
	{ H "dovecot: imap-login: Login: user=<x rip=6.6.6.6>, method=PLAIN, "
	    "rip=127.0.0.1, lip=127.0.0.1, mpid=1, secured",
	    POPWATCH_IGNORED, NULL, "dovecot: forged rip=, real loopback" },
	{ H "imapd[1]: Login user=evil [6.6.6.6] host=UNKNOWN",
	    POPWATCH_NONE, NULL, "UW: [addr] in the user, host unknown" },
	{ H "imapd[1]: Login user=evil host=x [6.6.6.6] host=UNKNOWN",
	    POPWATCH_NONE, NULL, "UW: host= in the user, host unknown" },
	{ H "ipop3d[1]: Auth user=x [6.6.6.6] nmsgs=1/1 host=UNKNOWN "
	    "nmsgs=1/1", POPWATCH_NONE, NULL, "UW: nmsgs in the user" },
	{ H "imapd[1]: Login user=evil [6.6.6.6] host=h.example [192.0.2.21]",
	    POPWATCH_LOGIN, "192.0.2.21", "UW: the real host field wins" },
	{ H "vm-pop3d[1]: User 'x logged in from 6.6.6.6' of 'd' logged in "
	    "from 192.0.2.22", POPWATCH_LOGIN, "192.0.2.22",
	    "vm-pop3d: the last from wins" },
	{ H "vm-pop3d[1]: User 'x logged in from 6.6.6.6' failed",
	    POPWATCH_NONE, NULL, "vm-pop3d: not at the end of the line" },
	/* forged: the program name is not the syslog tag */
	{ H "postfix/smtpd[5]: warning: dovecot: imap-login: Login: "
	    "user=<x>, method=PLAIN, rip=6.6.6.6, lip=1.1.1.1",
	    POPWATCH_NONE, NULL, "dovecot in the message of another tag" },
	{ H "sshd[9]: Invalid user ipop3d[1]: Login user=x host=[6.6.6.6]",
	    POPWATCH_NONE, NULL, "ipop3d in the message of sshd" },
	{ H "logger: dovecot: imap-login: Login: user=<x>, rip=6.6.6.6, lip=1",
	    POPWATCH_NONE, NULL, "logger tag" },
	/* not a successful login */
	{ H "dovecot: pop3-login: Aborted login (auth failed, 1 attempts): "
	    "user=<x>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
	    POPWATCH_NONE, NULL, "dovecot aborted login" },
	{ H "dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 "
	    "secs): user=<x>, method=PLAIN, rip=6.6.6.6, lip=192.0.2.1",
	    POPWATCH_NONE, NULL, "dovecot auth failed" },
	{ H "imapd[1]: Login failure user=x host=h [6.6.6.6]", POPWATCH_NONE,
	    NULL, "UW login failure" },
	{ H "ipop3d[1]: AUTHENTICATE PLAIN failure host=h [6.6.6.6]",
	    POPWATCH_NONE, NULL, "UW authenticate failure" },
	{ H "imapd[1]: IMAP login to host=x user=y host=h [6.6.6.6]",
	    POPWATCH_NONE, NULL, "UW proxy login" },
	/* loopback and bad addresses */
	{ H "dovecot: imap-login: Login: user=<webmail>, method=PLAIN, "
	    "rip=127.0.0.1, lip=127.0.0.1, mpid=3, secured",
	    POPWATCH_IGNORED, NULL, "loopback IPv4" },
	{ H "dovecot: imap-login: Login: user=<webmail>, method=PLAIN, "
	    "rip=::1, lip=::1, mpid=3, secured", POPWATCH_IGNORED, NULL,
	    "loopback IPv6" },
	{ H "dovecot: imap-login: Login: user=<w>, method=PLAIN, "
	    "rip=::ffff:127.0.0.2, lip=::1, mpid=3", POPWATCH_IGNORED, NULL,
	    "v4-mapped loopback" },
	{ H "imapd[1]: Login user=x host=localhost [127.0.0.1]",
	    POPWATCH_IGNORED, NULL, "UW loopback" },
	{ H "dovecot: imap-login: Login: user=<x>, method=PLAIN, "
	    "rip=999.1.1.1, lip=1", POPWATCH_IGNORED, NULL, "bad IPv4" },
	{ H "dovecot: imap-login: Login: user=<x>, method=PLAIN, "
	    "rip=192.0.2.7x, lip=1", POPWATCH_NONE, NULL,
	    "address followed by junk" },
	{ H "dovecot: imap-login: Login: user=<x>, method=PLAIN, rip=, lip=1",
	    POPWATCH_IGNORED, NULL, "empty address" },
	{ H "dovecot: imap-login: Login: user=<x>, method=PLAIN, "
	    "rip=0.0.0.0, lip=1", POPWATCH_IGNORED, NULL, "unspecified" },
	/* partial lines and garbage */
	{ H "dovecot: imap-login: Login: user=<x>, method=PLAIN, rip=192.0.2",
	    POPWATCH_NONE, NULL, "cut before the end of the address" },
	{ H "dovecot: imap-login: Login: user=<x>, method=PLAIN, rip=192.0.2.7",
	    POPWATCH_NONE, NULL, "cut right after the address" },
	{ H "dovecot", POPWATCH_NONE, NULL, "cut in the tag" },
	{ "Jan  7 10:00:00", POPWATCH_NONE, NULL, "time stamp only" },
	{ "", POPWATCH_NONE, NULL, "empty line" },
	{ "Login: user=<x>, method=PLAIN, rip=192.0.2.7, lip=1", POPWATCH_NONE,
	    NULL, "no syslog header" },
	{ H ": imap-login: Login: user=<x>, rip=192.0.2.7, lip=1",
	    POPWATCH_NONE, NULL, "empty tag" },
	{ H "dovecot[12: imap-login: Login: user=<x>, rip=192.0.2.7, lip=1",
	    POPWATCH_NONE, NULL, "unclosed pid" },
	{ H "\x01\xff\xfe garbage [[[ ]]] rip=,,,", POPWATCH_NONE, NULL,
	    "binary garbage" },
};

static void
load(void)
{
	const char *why;

	for (int i = 0; popwatch_builtin[i] != NULL; i++) {
		int rc = popwatch_parse(popwatch_builtin[i], &pats[npats], &why);

		unit_ok(rc == 1, popwatch_builtin[i]);
		if (rc == 1)
			npats++;
	}
}

static void
test_lines(void)
{
	struct popwatch_login login;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct match_case *c = &cases[i];
		int rc = popwatch_match(pats, npats, c->line, &login);

		unit_ok(rc == c->want, c->name);
		if (rc != c->want)
			printf("#   got %d, want %d: %s\n", rc, c->want, c->line);
		if (c->want == POPWATCH_LOGIN && rc == POPWATCH_LOGIN)
			unit_str(login.ip, c->ip, "  address");
	}
	popwatch_match(pats, npats, H "ipop3d[2]: Login user=a host=[192.0.2.1]",
	    &login);
	unit_str(login.tag, "ipop3d", "tag without the pid");
}

static void
test_parse(void)
{
	struct popwatch_pattern	 p;
	const char		*why;

	unit_ok(popwatch_parse("", &p, &why) == 0, "blank line");
	unit_ok(popwatch_parse("  # comment", &p, &why) == 0, "comment");
	unit_ok(popwatch_parse("imapd* \"LOGIN, user=\" \", ip=[\" ]", &p,
	    &why) == 1, "quoted fields");
	unit_str(p.start, "LOGIN, user=", "  start with blanks");
	unit_str(p.before, ", ip=[", "  before");
	unit_str(p.after, "]", "  after");
	unit_ok(popwatch_parse("t \"\" from \"\"", &p, &why) == 1 &&
	    p.start[0] == '\0' && p.after[0] == '\0', "empty quoted fields");
	unit_ok(popwatch_parse("t s b", &p, &why) == -1, "3 fields refused");
	unit_ok(popwatch_parse("t s b a x", &p, &why) == -1,
	    "5 fields refused");
	unit_ok(popwatch_parse("t \"s b a", &p, &why) == -1,
	    "unterminated quote");
	unit_ok(popwatch_parse("t \"s\"x b a", &p, &why) == -1,
	    "text after a quote");
	unit_ok(popwatch_parse("t s \"\" a", &p, &why) == -1,
	    "empty before refused");
	unit_ok(popwatch_parse("t s *[ a", &p, &why) == -1 &&
	    popwatch_parse("t s a** a", &p, &why) == -1 &&
	    popwatch_parse("t s a*b*c a", &p, &why) == -1, "bad stars refused");
	unit_ok(why != NULL && *why != '\0', "with a reason");
}

/* A pattern from a file: Courier, as man/popwatch.8 shows it. */
static void
test_added(void)
{
	struct popwatch_pattern	 p[NPATS];
	struct popwatch_login	 login;
	const char		*why;
	const char		*line = H "imapd-ssl: LOGIN, user=u@example.org, "
	    "ip=[::ffff:192.0.2.30], port=[40000], protocol=IMAP";

	memcpy(p, pats, sizeof(p));
	unit_ok(popwatch_match(p, npats, line, &login) == POPWATCH_NONE,
	    "courier: not built in");
	unit_ok(popwatch_parse("imapd*  \"LOGIN, user=\"  \", ip=[\"  ]",
	    &p[npats], &why) == 1, "courier pattern");
	unit_ok(popwatch_match(p, npats + 1, line, &login) == POPWATCH_LOGIN,
	    "courier: added");
	unit_str(login.ip, "192.0.2.30", "  address");
	unit_ok(login.pattern == (int)npats, "  pattern index");
}

int
main(void)
{
	load();
	test_lines();
	test_parse();
	test_added();
	return unit_done();
}
