/*
 * redis: the shared store of a fleet (hiredis behind one module).
 *
 * redis_init(conf) takes the configuration: it reads the first line of
 * redis_password_file now, before privileges are dropped, and connects to
 * nothing.  It may be called again (SIGHUP).  A password file that cannot
 * be read is not fatal here: every later command fails (and -n says why).
 * redis_enabled() is 1 when redis_server is set.
 *
 * The connection is made lazily, by the first command of a session, and
 * is the session's alone (server mode: made in the child, never in the
 * parent).  connect, AUTH and each command are bounded by timeout_redis
 * milliseconds.  The first failure (connect, AUTH, time-out, an error
 * reply, an answer of an unexpected type) is logged as event=redis-error
 * with what failed, and Redis is then "down" for the rest of the session:
 * later commands fail at once, without waiting again.
 * redis_session_end() closes the connection and forgets "down" (the next
 * session, or popwatch's next login, tries again).
 *
 * Every command answers REDIS_FOUND, REDIS_NOTFOUND or REDIS_FAIL:
 * redis_command(argc, argv, out, size, num) sends one command whose words
 * are argv; a string or status answer is copied to out (when out is not
 * NULL; longer than size is a failure), an integer goes to *num (when num
 * is not NULL) and both are FOUND; a nil answer is NOTFOUND.
 * redis_get(key, out, size) is GET of <prefix>key.
 * redis_set_ex(key, value, seconds) is SET <prefix>key value EX seconds.
 * redis_incr_expire(key, seconds, &n) is INCR of <prefix>key, which gets
 * the TTL seconds when it is new (n is the count after it).
 * redis_key(name, out, size) writes <prefix>name (0, or -1 when too long).
 *
 * The fleet-wide limits (the end of redis.c), each failing open (logged):
 * redis_limit_admit(key, member, now) counts a session of client key under
 * client_connection_count_limit and client_connection_rate_limit: NULL
 * admitted (or Redis failed), else the name of the limit it is over.  The
 * session is a member of the sorted set <prefix>conn:<key> scored with its
 * expiry (now + timeout_session), so a session that crashed stops counting
 * then; redis_limit_release(key, member) removes it at the session's end.
 * redis_auth_blocked(key) is 1 when client key has client_auth_failure_limit
 * failed AUTHs or more in the window, else 0 (also on an error);
 * redis_auth_failed(key) counts one (<prefix>authfail:<key>, expiring
 * after client_auth_failure_window).
 * redis_report(out) is -n's check: connect, AUTH, PING; 0 or -1.
 * redis_explain() traces (-d) what Redis lookups a session makes.
 * redis_last_error() is the text of the last failure ("" if none).
 */
#ifndef SMTPPROXY_REDIS_H
#define SMTPPROXY_REDIS_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "conf/conf.h"

#define REDIS_FOUND	1
#define REDIS_NOTFOUND	0
#define REDIS_FAIL	(-1)

#define REDIS_KEY_MAX	640	/* prefix (64) and name (greylisting:
					   "grey:" and up to 480) */
#define REDIS_ARGS_MAX	16	/* words of one command */

void		 redis_init(const struct conf *c);
int		 redis_enabled(void);
void		 redis_session_end(void);
int		 redis_command(int argc, const char *const *argv, char *out,
		    size_t size, long long *num);
int		 redis_get(const char *key, char *out, size_t size);
int		 redis_set_ex(const char *key, const char *value, long seconds);
int		 redis_incr_expire(const char *key, long seconds,
		    long long *n);
int		 redis_key(const char *name, char *out, size_t size);
const char	*redis_last_error(void);
int		 redis_report(FILE *out);
void		 redis_explain(void);

const char	*redis_limit_admit(const char *key, const char *member,
		    time_t now);
void		 redis_limit_release(const char *key, const char *member);
int		 redis_auth_blocked(const char *key);
void		 redis_auth_failed(const char *key);

#endif
