/*
 * greylist.c: greylisting at RCPT, the session's side.
 *
 * Order for one recipient: the session's exemptions (authenticated,
 * relay and POP-before-SMTP clients, DNSWL hits: the caller names them),
 * greylist_exempt (client network, sender domain or <>, recipient),
 * greylist_min_score; then the client network's record (auto-whitelist);
 * then the triplet's.  A read transaction decides what needs no change
 * (waiting, passed); the changes (a new triplet, a pass) are made in one
 * write step of the store, which decides again on what it holds then, so
 * two sessions racing on one triplet agree.  Store and table errors fail
 * open, logged as event=greylist-error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "cdb/cdb.h"
#include "greylist.h"
#include "log.h"

#define GREYLIST_ADDR_MAX	520
#define GREYLIST_WHY_MAX	600

static struct cdbt	*greylist_exempt;	/* greylist_exempt, or NULL */
/* The store, opened by the first session of this process that needs it and
 * kept for the next sessions of the process (a reusable server-mode
 * child): what a session costs is then only its reads.  Only processes
 * that run sessions open it, and they never fork. */
static const struct greylist_store_ops	*greylist_ops;
static void				*greylist_handle;

/* greylist_db's store: "redis:" the shared one, else an LMDB file */
static const struct greylist_store_ops *
greylist_store_of(const struct conf *c)
{
	return strcmp(c->greylist_db, "redis:") == 0 ? &greylist_redis :
	    &greylist_lmdb;
}

static const char *const greylist_names[] = {
	[GREYLIST_NONE] = "-",
	[GREYLIST_NEW] = "new",
	[GREYLIST_RENEWED] = "new-after-window",
	[GREYLIST_WAITING] = "waiting",
	[GREYLIST_PASSING] = "passed-now",
	[GREYLIST_PASSED] = "passed",
	[GREYLIST_WHITELISTED] = "whitelisted-client",
	[GREYLIST_EXEMPT] = "exempt",
	[GREYLIST_ERROR] = "error"
};

const char *
greylist_state_name(enum greylist_state st)
{
	return greylist_names[st];
}

int
greylist_init(const struct conf *c)
{
	cdbt_close(greylist_exempt);	/* an earlier configuration's */
	greylist_exempt = c->greylist ?
	    cdbt_open_conf(c->greylist_exempt, CDBT_GREYLIST) : NULL;
	return 0;
}

int
greylist_changed(void)
{
	return greylist_exempt != NULL && cdbt_changed(greylist_exempt);
}

int
greylist_report(const struct conf *c, uid_t uid, gid_t gid, FILE *out)
{
	int rc = 0;

	if (!c->greylist)
		return 0;
	if (greylist_exempt != NULL) {
		if (cdbt_error(greylist_exempt) != NULL) {
			fprintf(out, "greylist_exempt: %s: %s (exemptions fail "
			    "open)\n", cdbt_name(greylist_exempt),
			    cdbt_error(greylist_exempt));
			rc = -1;
		} else
			fprintf(out, "greylist_exempt: %s: ok\n",
			    cdbt_name(greylist_exempt));
	}
	if (greylist_store_of(c)->report(c->greylist_db, uid, gid, out) == -1)
		rc = -1;
	return rc;
}

/* One exact key of greylist_exempt: 1 found (why filled), 0, -1 error */
static int
greylist_exempt_key(enum cdbt_kind kind, const char *key, const char *what,
    char *why, size_t wlen)
{
	struct cdbt_match	 m;
	int			 rc = cdbt_find(greylist_exempt, kind, key, &m);

	if (rc == CDBT_ERROR) {
		log_warnx("event=greylist-error table=%s reason=\"%s\"",
		    cdbt_name(greylist_exempt), cdbt_error(greylist_exempt));
		return -1;
	}
	if (rc == CDBT_FOUND)
		snprintf(why, wlen, "greylist_exempt %s %.300s", what, m.key);
	return rc == CDBT_FOUND;
}

/* The sender's domain ("@d"), then its parents ("@.d" covers every
 * subdomain of d), or "<>" */
static int
greylist_exempt_sender(const char *from, char *why, size_t wlen)
{
	char		 key[GREYLIST_ADDR_MAX + 2];
	const char	*d = strrchr(from, '@');
	int		 rc;

	if (strcmp(from, "<>") == 0)
		return greylist_exempt_key(CDBT_EXACT, "<>", "sender", why, wlen);
	if (d == NULL || d[1] == '\0')
		return 0;
	snprintf(key, sizeof(key), "@%s", d + 1);
	if ((rc = greylist_exempt_key(CDBT_EXACT, key, "sender", why, wlen)))
		return rc;
	for (d = d + 1; (d = strchr(d, '.')) != NULL; d++) {
		snprintf(key, sizeof(key), "@%s", d);
		if ((rc = greylist_exempt_key(CDBT_EXACT, key, "sender", why,
		    wlen)))
			return rc;
	}
	return 0;
}

/* greylist_exempt: 1 exempt (why says by what), 0 not, -1 table error */
static int
greylist_exempted(const struct greylist_query *q, const char *from,
    const char *rcpt, char *why, size_t wlen)
{
	int rc;

	if (greylist_exempt == NULL)
		return 0;
	if ((rc = greylist_exempt_key(CDBT_NETWORK, q->client, "client", why,
	    wlen)) != 0 || (rc = greylist_exempt_sender(from, why, wlen)) != 0)
		return rc;
	return greylist_exempt_key(CDBT_EXACT, rcpt, "recipient", why, wlen);
}

/* Why this recipient is not greylisted: 1 (why filled), 0, -1 error */
static int
greylist_skip(const struct greylist_query *q, const char *from,
    const char *rcpt, char *why, size_t wlen)
{
	double	 min;
	int	 rc;

	if (q->exempt != NULL) {
		strlcpy(why, q->exempt, wlen);
		return 1;
	}
	if ((rc = greylist_exempted(q, from, rcpt, why, wlen)) != 0)
		return rc;
	if (conf_greylist_min(q->conf, &min) && q->score < min) {
		snprintf(why, wlen, "score %.2f below greylist_min_score %g",
		    q->score, min);
		return 1;
	}
	return 0;
}

/* The store for this session, opened at its first use in the process;
 * NULL on error (tried once per session). */
static void *
greylist_store(struct greylist_session *gs, const struct conf *c)
{
	struct greylist_params	 p;
	char			 why[1200];

	if (gs->store != NULL || gs->failed)
		return gs->store;
	gs->ops = greylist_store_of(c);
	if (greylist_handle != NULL && greylist_ops != gs->ops) {
		greylist_ops->close(greylist_handle);	/* greylist_db changed */
		greylist_handle = NULL;
	}
	if (greylist_handle == NULL) {
		greylist_params(c, &p);
		greylist_ops = gs->ops;
		greylist_handle = gs->ops->open(c->greylist_db, &p, why,
		    sizeof(why));
	}
	if ((gs->store = greylist_handle) == NULL) {
		gs->failed = 1;
		log_warnx("event=greylist-error store=%s op=open reason=\"%s\"",
		    gs->ops->name, why);
	}
	return gs->store;
}

/* One write step's arguments and results (greylist_update_fn's arg). */
struct greylist_txn {
	long long			 now;
	const struct greylist_params	*p;
	enum greylist_state		 state;
	long				 wait;
	int				 passed;	/* client: count one */
	int				 white;
};

static int
greylist_triplet_fn(struct greylist_rec *r, int found, void *arg)
{
	struct greylist_txn	*t = arg;
	struct greylist_rec	 before = *r;

	t->state = greylist_step(r, found, t->now, t->p, &t->wait);
	return !found || memcmp(&before, r, sizeof(before)) != 0;
}

static int
greylist_client_fn(struct greylist_rec *r, int found, void *arg)
{
	struct greylist_txn	*t = arg;
	struct greylist_rec	 before = *r;

	t->white = greylist_client_step(r, found, t->now, t->p, t->passed);
	return t->passed || (found && t->white &&
	    memcmp(&before, r, sizeof(before)) != 0);
}

/* The client network's record: 1 whitelisted, 0 not, -1 error.  A
 * whitelisted client's time is renewed (at most once per
 * GREYLIST_REFRESH). */
static int
greylist_client(struct greylist_session *gs, const struct greylist_query *q,
    const char *ckey, struct greylist_txn *t)
{
	struct greylist_rec	 r = { 0 }, before;
	int			 found;

	if ((found = gs->ops->get(gs->store, ckey, &r)) == -1)
		return -1;
	before = r;
	t->passed = 0;
	t->white = greylist_client_step(&r, found, t->now, t->p, 0);
	if (t->white && memcmp(&before, &r, sizeof(r)) != 0 && !q->read_only &&
	    gs->ops->update(gs->store, ckey, greylist_client_fn, t) == -1)
		return -1;
	log_debug("greylist: client %s: %lld triplets passed, %s", ckey + 2,
	    found ? r.count : 0, t->white ? "whitelisted" :
	    "not whitelisted");
	return t->white;
}

/* The triplet: its state in t; 0, or -1 on a store error */
static int
greylist_triplet(struct greylist_session *gs, const struct greylist_query *q,
    const char *key, struct greylist_txn *t)
{
	struct greylist_rec	 r = { 0 };
	int			 found;

	if ((found = gs->ops->get(gs->store, key, &r)) == -1)
		return -1;
	if (greylist_triplet_fn(&r, found, t) == 0 || q->read_only)
		return 0;
	return gs->ops->update(gs->store, key, greylist_triplet_fn, t);
}

/* A triplet that passed now counts for its client (auto-whitelist). */
static void
greylist_count(struct greylist_session *gs, const char *ckey,
    struct greylist_txn *t)
{
	t->passed = 1;
	if (gs->ops->update(gs->store, ckey, greylist_client_fn, t) == -1)
		log_warnx("event=greylist-error op=count client=\"%s\"",
		    ckey + 2);
}

/* Ask the store; the state of the triplet (GREYLIST_ERROR: fail open) */
static enum greylist_state
greylist_lookup(struct greylist_session *gs, const struct greylist_query *q,
    const char *net, const char *key, long *wait)
{
	struct greylist_params	 p;
	struct greylist_txn	 t = { .now = (long long)time(NULL), .p = &p };
	char			 ckey[GREYLIST_KEY_MAX + 1];
	int			 rc;

	greylist_params(q->conf, &p);
	*wait = 0;
	if (greylist_store(gs, q->conf) == NULL)
		return GREYLIST_ERROR;
	snprintf(ckey, sizeof(ckey), "c %s", net);
	if ((rc = greylist_client(gs, q, ckey, &t)) != 0)
		return rc == 1 ? GREYLIST_WHITELISTED : GREYLIST_ERROR;
	if (greylist_triplet(gs, q, key, &t) == -1)
		return GREYLIST_ERROR;
	if (t.state == GREYLIST_PASSING && !q->read_only)
		greylist_count(gs, ckey, &t);
	*wait = t.wait;
	return t.state;
}

static enum greylist_verdict
greylist_decided(struct greylist_session *gs, const struct greylist_query *q,
    const char *triplet, enum greylist_state st, long wait, char *reply,
    size_t size)
{
	char w[32] = "";

	gs->last = st;
	if (wait > 0)
		snprintf(w, sizeof(w), " wait=%ld", wait);
	log_info("event=greylist client=%s triplet=\"%s\" state=%s%s",
	    q->client, triplet, greylist_names[st], w);
	if (st != GREYLIST_NEW && st != GREYLIST_RENEWED &&
	    st != GREYLIST_WAITING)
		return GREYLIST_PASS;
	snprintf(reply, size, "451 4.7.1 Greylisted, please try again in %ld "
	    "seconds", wait);
	log_debug("greylist: %s: %s", triplet, st == GREYLIST_WAITING ?
	    "seen before, too early" : q->read_only ?
	    "first try (not recorded: -T)" : "first try: recorded");
	return GREYLIST_DEFER;
}

enum greylist_verdict
greylist_rcpt(struct greylist_session *gs, const struct greylist_query *q,
    char *reply, size_t size)
{
	char	 net[64], from[GREYLIST_ADDR_MAX], rcpt[GREYLIST_ADDR_MAX];
	char	 triplet[GREYLIST_KEY_MAX + 1], why[GREYLIST_WHY_MAX];
	long	 wait = 0;
	int	 rc;
	enum greylist_state st;

	greylist_address(q->from, from, sizeof(from));
	greylist_address(q->rcpt, rcpt, sizeof(rcpt));
	if (greylist_network(q->client, net, sizeof(net)) == -1 ||
	    greylist_key(net, from, rcpt, triplet, sizeof(triplet)) == -1) {
		log_warnx("event=greylist-error client=%s reason=\"no triplet\"",
		    q->client);
		return greylist_decided(gs, q, "-", GREYLIST_ERROR, 0, reply,
		    size);
	}
	if ((rc = greylist_skip(q, from, rcpt, why, sizeof(why))) == 1) {
		log_debug("greylist: %s: exempt: %s", triplet + 2, why);
		gs->last = GREYLIST_EXEMPT;
		log_info("event=greylist client=%s triplet=\"%s\" state=exempt "
		    "reason=\"%s\"", q->client, triplet + 2, why);
		return GREYLIST_PASS;
	}
	if (q->read_only)
		log_debug("greylist: -T: the store is read, not changed");
	st = rc == -1 ? GREYLIST_ERROR :
	    greylist_lookup(gs, q, net, triplet, &wait);
	return greylist_decided(gs, q, triplet + 2, st, wait, reply, size);
}

/* The session lets go of the store; the process keeps it open. */
void
greylist_end(struct greylist_session *gs)
{
	gs->store = NULL;
}

const char *
greylist_summary(const struct greylist_session *gs)
{
	return greylist_names[gs->last];
}
