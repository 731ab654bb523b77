/*
 * redis.c: the connection and the commands, over hiredis's synchronous
 * API.  hiredis's results become ours here: FOUND, NOTFOUND, FAIL.
 *
 * State: the configuration and the password are the process's (read once,
 * before privileges drop); the connection and "down" are the session's and
 * end with redis_session_end().
 */
#include <sys/time.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "redis.h"

#define REDIS_PASS_MAX	512

static const struct conf	*redis_conf;
static char			 redis_user[REDIS_PASS_MAX];
static char			 redis_pass[REDIS_PASS_MAX];
static char			 redis_pass_error[300];
static redisContext		*redis_ctx;	/* the session's connection */
static int			 redis_down;	/* failed in this session */
static char			 redis_error[300];

/* redis_read_password - first line of the file: "password" or, Redis 6
 * ACL, "user password"; kept for AUTH */
static void
redis_read_password(const char *path)
{
	char	 line[REDIS_PASS_MAX * 2 + 2], *sp;
	FILE	*fp;

	redis_user[0] = redis_pass[0] = redis_pass_error[0] = '\0';
	if (*path == '\0')
		return;
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(redis_pass_error, sizeof(redis_pass_error),
		    "redis_password_file %s: %s", path, strerror(errno));
		return;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	line[strcspn(line, "\r\n")] = '\0';
	if ((sp = strchr(line, ' ')) != NULL) {
		*sp++ = '\0';
		strlcpy(redis_user, line, sizeof(redis_user));
		strlcpy(redis_pass, sp, sizeof(redis_pass));
	} else
		strlcpy(redis_pass, line, sizeof(redis_pass));
	explicit_bzero(line, sizeof(line));
	if (redis_pass[0] == '\0')
		snprintf(redis_pass_error, sizeof(redis_pass_error),
		    "redis_password_file %s: no password on its first line",
		    path);
}

/* redis_init - take the configuration; the password is read now */
void
redis_init(const struct conf *c)
{
	redis_session_end();
	redis_conf = c;
	redis_read_password(c->redis_password_file);
}

/* redis_enabled - is redis_server set? */
int
redis_enabled(void)
{
	return redis_conf != NULL && redis_conf->redis_server[0] != '\0';
}

/* redis_last_error - what the last failure was, for popwatch and -n */
const char *
redis_last_error(void)
{
	return redis_error;
}

/* redis_fail - the first failure of a session: logged, Redis down */
static int __attribute__((format(printf, 2, 3)))
redis_fail(const char *what, const char *fmt, ...)
{
	char	 why[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(redis_error, sizeof(redis_error), "%s: %s", what, why);
	log_warnx("event=redis-error server=%s what=%s reason=\"%s\"",
	    redis_conf->redis_server, what, why);
	redis_down = 1;
	if (redis_ctx != NULL)
		redisFree(redis_ctx);
	redis_ctx = NULL;
	return REDIS_FAIL;
}

/* redis_session_end - close the session's connection, forget "down" */
void
redis_session_end(void)
{
	if (redis_ctx != NULL)
		redisFree(redis_ctx);
	redis_ctx = NULL;
	redis_down = 0;
}

/* redis_timeout - timeout_redis as hiredis wants it */
static struct timeval
redis_timeout(void)
{
	struct timeval tv;

	tv.tv_sec = redis_conf->timeout_redis / 1000;
	tv.tv_usec = (redis_conf->timeout_redis % 1000) * 1000L;
	return tv;
}

/* The context's error: a time-out says so (hiredis says "Resource
 * temporarily unavailable"). */
static const char *
redis_ctx_error(const redisContext *ctx)
{
	if (ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK
	    || errno == ETIMEDOUT || errno == EINPROGRESS))
		return "timed out";
	return ctx->errstr[0] != '\0' ? ctx->errstr : "unknown error";
}

/* AUTH with the password of redis_password_file, when there is one. */
static int
redis_auth(void)
{
	redisReply	*r;
	int		 ok;

	if (redis_pass_error[0] != '\0')
		return redis_fail("auth", "%s", redis_pass_error);
	if (redis_pass[0] == '\0')
		return 0;
	if (redis_user[0] != '\0')
		r = redisCommand(redis_ctx, "AUTH %s %s", redis_user, redis_pass);
	else
		r = redisCommand(redis_ctx, "AUTH %s", redis_pass);
	if (r == NULL)
		return redis_fail("auth", "%s", redis_ctx_error(redis_ctx));
	ok = r->type == REDIS_REPLY_STATUS;
	if (!ok)
		snprintf(redis_error, sizeof(redis_error), "%.200s",
		    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
	freeReplyObject(r);
	return ok ? 0 : redis_fail("auth", "%s", redis_error);
}

/* redis_connect - the session's connection, made at its first command */
static int
redis_connect(void)
{
	const struct conf_addr	*a = &redis_conf->redis_addr;
	struct timeval		 tv = redis_timeout();

	if (redis_ctx != NULL)
		return 0;
	if (redis_down)
		return REDIS_FAIL;
	if (a->kind == CONF_ADDR_UNIX)
		redis_ctx = redisConnectUnixWithTimeout(a->path, tv);
	else
		redis_ctx = redisConnectWithTimeout(a->host, atoi(a->port), tv);
	if (redis_ctx == NULL)
		return redis_fail("connect", "out of memory");
	if (redis_ctx->err != 0)
		return redis_fail("connect", "%s", redis_ctx_error(redis_ctx));
	if (redisSetTimeout(redis_ctx, tv) != REDIS_OK)
		return redis_fail("connect", "cannot set the time-out");
	log_debug("redis: connected to %s", redis_conf->redis_server);
	return redis_auth() == 0 ? 0 : REDIS_FAIL;
}

/* redis_answer - one answer in our terms: FOUND, NOTFOUND, FAIL */
static int
redis_answer(const redisReply *r, char *out, size_t size, long long *num)
{
	switch (r->type) {
	case REDIS_REPLY_NIL:
		return REDIS_NOTFOUND;
	case REDIS_REPLY_INTEGER:
		if (num != NULL)
			*num = r->integer;
		if (out != NULL)
			snprintf(out, size, "%lld", r->integer);
		return REDIS_FOUND;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		if (out != NULL && strlcpy(out, r->str, size) >= size)
			return redis_fail("command", "answer longer than %zu "
			    "bytes", size);
		return REDIS_FOUND;
	case REDIS_REPLY_ERROR:
		return redis_fail("command", "%.200s", r->str);
	default:
		return redis_fail("command", "unexpected answer of type %d",
		    r->type);
	}
}

/* redis_command - one command, its answer in our terms */
int
redis_command(int argc, const char *const *argv, char *out, size_t size,
    long long *num)
{
	redisReply	*r;
	int		 rc;

	if (!redis_enabled() || argc < 1 || argc > REDIS_ARGS_MAX)
		return REDIS_FAIL;
	if (redis_down) {
		log_debug("redis: %s skipped: down in this session", argv[0]);
		return REDIS_FAIL;
	}
	if (redis_connect() != 0)
		return REDIS_FAIL;
	r = redisCommandArgv(redis_ctx, argc, (const char **)argv, NULL);
	if (r == NULL)
		return redis_fail(argv[0], "%s", redis_ctx_error(redis_ctx));
	rc = redis_answer(r, out, size, num);
	freeReplyObject(r);
	if (log_trace_on())
		log_debug("redis: %s %s -> %s", argv[0], argc > 1 ? argv[1] : "",
		    rc == REDIS_FOUND ? "found" : rc == REDIS_NOTFOUND ?
		    "not found" : "error");
	return rc;
}

/* redis_key - <prefix>name; -1 when it does not fit */
int
redis_key(const char *name, char *out, size_t size)
{
	if (redis_conf == NULL || (size_t)snprintf(out, size, "%s%s",
	    redis_conf->redis_prefix, name) >= size)
		return -1;
	return 0;
}

/* redis_get - GET <prefix>key */
int
redis_get(const char *key, char *out, size_t size)
{
	char		 k[REDIS_KEY_MAX];
	const char	*argv[] = { "GET", k };

	if (redis_key(key, k, sizeof(k)) == -1)
		return REDIS_FAIL;
	return redis_command(2, argv, out, size, NULL);
}

/* redis_set_ex - SET <prefix>key value EX seconds */
int
redis_set_ex(const char *key, const char *value, long seconds)
{
	char		 k[REDIS_KEY_MAX], ttl[24];
	const char	*argv[] = { "SET", k, value, "EX", ttl };

	if (redis_key(key, k, sizeof(k)) == -1)
		return REDIS_FAIL;
	snprintf(ttl, sizeof(ttl), "%ld", seconds);
	return redis_command(5, argv, NULL, 0, NULL);
}

/* KEYS[1] the counter, ARGV[1] its window: the count after this one.  A
 * key without a lifetime (new, or left so by anything) gets the window in
 * the same step, so no count can outlive it. */
static const char redis_incr_lua[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "if redis.call('TTL', KEYS[1]) < 0 then "
    "redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "return n";

/* redis_incr_expire - INCR <prefix>key; a new key gets the TTL */
int
redis_incr_expire(const char *key, long seconds, long long *n)
{
	char		 k[REDIS_KEY_MAX], ttl[24];
	const char	*argv[] = { "EVAL", redis_incr_lua, "1", k, ttl };
	int		 rc;

	if (redis_key(key, k, sizeof(k)) == -1)
		return REDIS_FAIL;
	snprintf(ttl, sizeof(ttl), "%ld", seconds);
	rc = redis_command(5, argv, NULL, 0, n);
	return rc == REDIS_FOUND ? REDIS_FOUND : REDIS_FAIL;
}

/* redis_report - -n: connect, AUTH, PING; the session's state is left as
 * it was found (nothing open) */
int
redis_report(FILE *out)
{
	const char	*ping[] = { "PING" };
	char		 pong[16];
	int		 rc;

	if (!redis_enabled()) {
		if (redis_conf != NULL &&
		    redis_conf->client_auth_failure_limit > 0)
			fprintf(out, "client_auth_failure_limit: warning: "
			    "ignored without redis_server\n");
		return 0;
	}
	rc = redis_command(1, ping, pong, sizeof(pong), NULL);
	if (rc == REDIS_FOUND)
		fprintf(out, "redis_server: %s: ok (%s)\n",
		    redis_conf->redis_server, pong);
	else
		fprintf(out, "redis_server: %s: %s\n", redis_conf->redis_server,
		    redis_error);
	redis_session_end();
	return rc == REDIS_FOUND ? 0 : -1;
}

/* redis_explain - -d: what a session asks Redis, before it does */
void
redis_explain(void)
{
	const struct conf *c = redis_conf;

	if (!redis_enabled()) {
		log_debug("redis: no redis_server: limits are counted by the "
		    "server mode's parent, pop_before_smtp in its table");
		return;
	}
	log_debug("redis: server %s, prefix %s, timeout %d ms; a failure "
	    "(event=redis-error) stops Redis for the rest of the session",
	    c->redis_server, c->redis_prefix, c->timeout_redis);
	if (c->client_connection_count_limit > 0 ||
	    c->client_connection_rate_limit > 0)
		log_debug("redis: at connect: EVAL on %sconn:<client> and "
		    "%srate:<client>:<minute> (count limit %d, rate limit %d "
		    "per minute; fails open)", c->redis_prefix, c->redis_prefix,
		    c->client_connection_count_limit,
		    c->client_connection_rate_limit);
	if (strcmp(c->pop_before_smtp, "redis:") == 0)
		log_debug("redis: at the first RCPT: GET %spop:<client> "
		    "(found: relay; error: 451 4.3.0)", c->redis_prefix);
	if (c->client_auth_failure_limit > 0)
		log_debug("redis: at AUTH: GET %sauthfail:<client> (limit %d "
		    "in %d s); a failed AUTH: INCR", c->redis_prefix,
		    c->client_auth_failure_limit, c->client_auth_failure_window);
	if (c->greylist && strcmp(c->greylist_db, "redis:") == 0)
		log_debug("redis: at RCPT (greylisting): GET %sgrey:c <network> "
		    "and %sgrey:t <network> <from> <rcpt>; a change: EVAL "
		    "(compare-and-set, EX the record's lifetime; error: fails "
		    "open)", c->redis_prefix, c->redis_prefix);
}

/*
 * --- the fleet-wide limits ---
 * Connections at once: the sorted set <prefix>conn:<key>, one member per
 * session (its id), scored with the time it stops counting (its start
 * plus timeout_session): members of crashed sessions are pruned by time,
 * and the set itself expires.  Connections per minute: <prefix>rate:<key>:
 * <minute>, INCR'd by every attempt (as server mode's parent counts), with
 * a TTL of two minutes.  Both in one EVAL, so that two hosts admitting the
 * same client at once cannot both take the last place.
 * Failed AUTHs: <prefix>authfail:<key>, INCR'd, expiring after
 * client_auth_failure_window from the first failure.
 * Every Redis failure here lets the client in (fail open); redis_fail()
 * has logged it.
 */
#define REDIS_RATE_WINDOW	60

/* KEYS: conn set, rate key; ARGV: now, member's expiry, member, the set's
 * TTL, count limit, rate limit.  0 admitted, 1 over the count, 2 over the
 * rate. */
static const char redis_admit_lua[] =
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) "
    "local r = redis.call('INCR', KEYS[2]) "
    "if r == 1 then redis.call('EXPIRE', KEYS[2], 120) end "
    "local n = redis.call('ZCARD', KEYS[1]) "
    "local cl, rl = tonumber(ARGV[5]), tonumber(ARGV[6]) "
    "if cl > 0 and n >= cl then return 1 end "
    "if rl > 0 and r > rl then return 2 end "
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[4]) "
    "return 0";

/* the configuration when Redis is in use, else NULL */
static const struct conf *
redis_limit_conf(void)
{
	return redis_enabled() ? redis_conf : NULL;
}

/* redis_limit_keys - the names of client key's set and rate key */
static int
redis_limit_keys(const char *key, time_t now, char *conn, char *rate,
    size_t size)
{
	char name[REDIS_KEY_MAX];

	snprintf(name, sizeof(name), "conn:%s", key);
	if (redis_key(name, conn, size) == -1)
		return -1;
	snprintf(name, sizeof(name), "rate:%s:%lld", key,
	    (long long)(now / REDIS_RATE_WINDOW));
	return redis_key(name, rate, size);
}

/* redis_limit_admit - count a session of key, or say which limit it
 * is over; NULL also when Redis failed (open) */
const char *
redis_limit_admit(const char *key, const char *member, time_t now)
{
	const struct conf	*c = redis_limit_conf();
	char			 conn[REDIS_KEY_MAX], rate[REDIS_KEY_MAX];
	char			 nows[24], until[24], ttl[24], cl[16], rl[16];
	const char		*argv[] = { "EVAL", redis_admit_lua, "2", conn,
	    rate, nows, until, member, ttl, cl, rl };
	long long		 verdict = 0;

	if (c == NULL || (c->client_connection_count_limit == 0 &&
	    c->client_connection_rate_limit == 0))
		return NULL;
	if (redis_limit_keys(key, now, conn, rate, sizeof(conn)) == -1)
		return NULL;
	snprintf(nows, sizeof(nows), "%lld", (long long)now);
	snprintf(until, sizeof(until), "%lld",
	    (long long)now + c->timeout_session);
	snprintf(ttl, sizeof(ttl), "%d", c->timeout_session + 60);
	snprintf(cl, sizeof(cl), "%d", c->client_connection_count_limit);
	snprintf(rl, sizeof(rl), "%d", c->client_connection_rate_limit);
	if (redis_command(11, argv, NULL, 0, &verdict) != REDIS_FOUND) {
		log_info("event=limit-skipped client=%s reason=\"Redis failed: "
		    "not counted\"", key);
		return NULL;
	}
	log_debug("redis: client %s: %s", key, verdict == 0 ? "counted" :
	    "over a limit");
	return verdict == 1 ? "client_connection_count_limit" :
	    verdict == 2 ? "client_connection_rate_limit" : NULL;
}

/* redis_limit_release - the session ended: its place is free.  A
 * session that found Redis down after it was counted tries once more,
 * on a new connection (bounded as any command): a place left taken would
 * count against the client until timeout_session. */
void
redis_limit_release(const char *key, const char *member)
{
	char		 name[REDIS_KEY_MAX], conn[REDIS_KEY_MAX];
	const char	*argv[] = { "ZREM", conn, member };

	snprintf(name, sizeof(name), "conn:%s", key);
	if (redis_key(name, conn, sizeof(conn)) == -1)
		return;
	if (redis_down)
		redis_session_end();
	(void)redis_command(3, argv, NULL, 0, NULL);
}

/* redis_auth_blocked - 1 when key's failed AUTHs reached the limit */
int
redis_auth_blocked(const char *key)
{
	const struct conf	*c = redis_limit_conf();
	char			 name[REDIS_KEY_MAX], v[24];

	if (c == NULL || c->client_auth_failure_limit == 0)
		return 0;
	snprintf(name, sizeof(name), "authfail:%s", key);
	if (redis_get(name, v, sizeof(v)) != REDIS_FOUND)
		return 0;	/* none yet, or an error: fail open */
	return atoll(v) >= c->client_auth_failure_limit;
}

/* redis_auth_failed - one more failed AUTH of key */
void
redis_auth_failed(const char *key)
{
	const struct conf	*c = redis_limit_conf();
	char			 name[REDIS_KEY_MAX];
	long long		 n;

	if (c == NULL || c->client_auth_failure_limit == 0)
		return;
	snprintf(name, sizeof(name), "authfail:%s", key);
	if (redis_incr_expire(name, c->client_auth_failure_window, &n) ==
	    REDIS_FOUND)
		log_debug("redis: client %s: %lld failed AUTH in the window",
		    key, n);
}

