/*
 * popwatch.h: the log line matcher of popwatch (tools/popwatch_match.c),
 * kept apart from the log follower so that the unit tests can drive it.
 *
 * A pattern is four fields, written on one line of a patterns file:
 *
 *   tag  start  before  after
 *
 * tag     fnmatch(3) glob on the program name of the syslog line (the tag
 *         between the host name and the colon, without "[pid]")
 * start   text the message must begin with (after "tag[pid]: ")
 * before  text that comes right before the address; its LAST occurrence
 *         in the message counts, so a user name earlier in the line cannot
 *         supply the address.  "A*B": the last A, then the first B after it
 * after   text that must follow the address at once; a final "$" means the
 *         line ends there ("$" alone: the address ends the line)
 *
 * Fields are separated by blanks; a field with blanks, or an empty one, is
 * written in double quotes ("" is empty; there are no escapes).  The
 * address runs from the end of before to the first character that cannot
 * be part of an IPv4 or IPv6 address.
 *
 * popwatch_parse(line, p, &why) reads one patterns-file line: 1 and *p
 * filled, 0 for a blank or comment line, -1 with why set for a bad line.
 * popwatch_builtin[] holds the built-in patterns as such lines, NULL last.
 * popwatch_match(pats, n, line, &login) tries the patterns in order on one
 * complete log line (no newline) and answers POPWATCH_LOGIN (login->ip holds
 * the canonical address, login->tag the program, login->pattern the index),
 * POPWATCH_IGNORED (a login, but from loopback, or an address that does not
 * parse) or POPWATCH_NONE.  Pure: no I/O, no state.
 */
#ifndef SMTPPROXY_POPWATCH_H
#define SMTPPROXY_POPWATCH_H

#include <stddef.h>

#define POPWATCH_FIELD_MAX	128
#define POPWATCH_TAG_MAX	64
#define POPWATCH_IP_MAX		64	/* >= INET6_ADDRSTRLEN */

enum popwatch_result {
	POPWATCH_NONE = 0, POPWATCH_LOGIN = 1, POPWATCH_IGNORED = 2
};

struct popwatch_pattern {
	char	 tag[POPWATCH_FIELD_MAX];
	char	 start[POPWATCH_FIELD_MAX];
	char	 before[POPWATCH_FIELD_MAX];
	char	 after[POPWATCH_FIELD_MAX];
};

struct popwatch_login {
	char	 ip[POPWATCH_IP_MAX];
	char	 tag[POPWATCH_TAG_MAX];
	int	 pattern;
};

extern const char *const popwatch_builtin[];

int	popwatch_parse(const char *, struct popwatch_pattern *, const char **);
int	popwatch_match(const struct popwatch_pattern *, size_t, const char *,
	    struct popwatch_login *);

#endif
