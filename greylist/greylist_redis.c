/*
 * greylist_redis.c: the shared greylisting store (greylist_db redis:),
 * on redis/'s connection: every host of a fleet sees a triplet's first
 * try, so a client that retries through another front end passes.
 *
 * Keys: <redis_prefix>grey:<key>, where key is greylist.c's ("t net from
 * rcpt" for a triplet, "c net" for a client network); values are the
 * record as text ("1 first last passed count"), the same as LMDB's.  Each
 * write gives the key the lifetime greylist_ttl() says, so Redis drops
 * stale records itself: nothing prunes, nothing is left behind.
 *
 * update() is an optimistic read-modify-write: GET, then the caller's
 * step, then one EVAL that stores the new record only if the key still
 * holds what was read (a compare-and-set in a Lua script, atomic in
 * Redis); when another session wrote between, it starts again, at most
 * GREYLIST_REDIS_TRIES times (each try is two round trips; with N
 * sessions on one key at once, each round lets one through, so the
 * bound is above any burst one client network makes: 30 sessions in
 * lockstep lost no count in redis_store.bats, 5 tries lost four).  No
 * session holds a lock, so a session that dies leaves nothing stuck.
 *
 * redis/ bounds every command by timeout_redis and, after a failure,
 * fails the session's later commands at once: an error here is logged
 * (event=greylist-error store=redis) and greylisting fails open.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "greylist.h"
#include "log.h"
#include "redis/redis.h"

#define GREYLIST_REDIS_TRIES	32

/* KEYS[1] the record, ARGV[1] what was read ("" for none), ARGV[2] the
 * new record, ARGV[3] its lifetime: 1 stored, 0 changed meanwhile */
static const char greylist_redis_cas[] =
	"if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end "
	"redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1";

struct greylist_redis {
	struct greylist_params	 p;
};

static void
redis_grey_error(const char *op, const char *key)
{
	log_warnx("event=greylist-error store=redis op=%s reason=\"%s\" "
	    "key=\"%.200s\"", op, redis_last_error(), key);
}

static void *
redis_grey_open(const char *spec, const struct greylist_params *p,
    char *why, size_t wlen)
{
	static struct greylist_redis g;

	(void)spec;
	if (!redis_enabled()) {
		snprintf(why, wlen, "greylist_db redis: needs redis_server");
		return NULL;
	}
	g.p = *p;
	return &g;
}

/* The record's raw value in raw (raw[0] = '\0': none) and parsed in r:
 * 1 found, 0 not found (or unreadable: it will be written anew), -1
 * error. */
static int
redis_grey_read(const char *key, char *raw, size_t size,
    struct greylist_rec *r)
{
	char	 name[REDIS_KEY_MAX];
	int	 rc;

	raw[0] = '\0';
	snprintf(name, sizeof(name), "grey:%s", key);
	if ((rc = redis_get(name, raw, size)) == REDIS_FAIL) {
		redis_grey_error("get", key);
		return -1;
	}
	if (rc == REDIS_NOTFOUND)
		return 0;
	if (greylist_rec_parse(raw, strlen(raw), r) == -1) {
		log_warnx("event=greylist-error store=redis op=get "
		    "reason=\"bad record, written anew\" key=\"%.200s\"", key);
		return 0;
	}
	return 1;
}

static int
redis_grey_get(void *h, const char *key, struct greylist_rec *r)
{
	char raw[GREYLIST_REC_MAX];

	(void)h;
	return redis_grey_read(key, raw, sizeof(raw), r);
}

/* Store val under key if it still holds old: 1 stored, 0 changed, -1
 * error */
static int
redis_grey_cas(const char *key, const char *old, const char *val, long ttl)
{
	char		 grey[REDIS_KEY_MAX], name[REDIS_KEY_MAX], sttl[24];
	long long	 stored = 0;
	const char	*argv[] = { "EVAL", greylist_redis_cas, "1", name, old,
			    val, sttl };

	snprintf(grey, sizeof(grey), "grey:%s", key);
	if (redis_key(grey, name, sizeof(name)) == -1)
		return -1;
	snprintf(sttl, sizeof(sttl), "%ld", ttl);
	if (redis_command(7, argv, NULL, 0, &stored) != REDIS_FOUND)
		return -1;
	return stored == 1;
}

static int
redis_grey_update(void *h, const char *key, greylist_update_fn fn, void *arg)
{
	struct greylist_redis	*g = h;
	struct greylist_rec	 r;
	char			 old[GREYLIST_REC_MAX], val[GREYLIST_REC_MAX];
	int			 found, rc;

	for (int i = 0; i < GREYLIST_REDIS_TRIES; i++) {
		memset(&r, 0, sizeof(r));
		if ((found = redis_grey_read(key, old, sizeof(old), &r)) == -1)
			return -1;
		if (fn(&r, found, arg) != 1)
			return 0;
		if (greylist_rec_format(&r, val, sizeof(val)) == -1)
			return -1;
		rc = redis_grey_cas(key, old, val,
		    greylist_ttl(key, &r, (long long)time(NULL), &g->p));
		if (rc == -1) {
			redis_grey_error("update", key);
			return -1;
		}
		if (rc == 1)
			return 0;
		log_debug("greylist: %s changed meanwhile, again", key);
	}
	log_warnx("event=greylist-error store=redis op=update "
	    "reason=\"changed by others %d times\" key=\"%.200s\"",
	    GREYLIST_REDIS_TRIES, key);
	return -1;
}

static void
redis_grey_close(void *h)
{
	(void)h;	/* the connection is redis/'s, closed per session */
}

/* -n: the store answers a PING */
static int
redis_grey_report(const char *spec, uid_t uid, gid_t gid, FILE *out)
{
	const char	*argv[] = { "PING" };
	char		 pong[16], keys[REDIS_KEY_MAX];

	(void)uid;
	(void)gid;
	if (!redis_enabled()) {
		fprintf(out, "greylist_db: %s needs redis_server\n", spec);
		return -1;
	}
	if (redis_command(1, argv, pong, sizeof(pong), NULL) != REDIS_FOUND) {
		fprintf(out, "greylist_db: %s %s (greylisting fails open)\n",
		    spec, redis_last_error());
		return -1;
	}
	(void)redis_key("grey:*", keys, sizeof(keys));
	fprintf(out, "greylist_db: %s ok (Redis, keys %s)\n", spec, keys);
	return 0;
}

const struct greylist_store_ops greylist_redis = {
	.name = "redis",
	.open = redis_grey_open,
	.get = redis_grey_get,
	.update = redis_grey_update,
	.close = redis_grey_close,
	.report = redis_grey_report
};
