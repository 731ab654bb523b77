/*
 * greylist: the (client network, sender, recipient) triplet must come
 * back after greylist_delay and within greylist_retry_window before its
 * RCPT passes (Postgrey's rules; issue 16).  greylist.c is the policy and
 * the session's side, greylist_state.c the pure parts (the triplet, the
 * record format, the state machine), greylist_lmdb.c the local store,
 * greylist_redis.c the shared one (greylist_db redis:).
 *
 * Per process:
 * greylist_init(conf) - open greylist_exempt (before privileges are
 *	dropped; a table problem is logged, and its lookups fail open).
 * greylist_changed() - was greylist_exempt replaced since greylist_init?
 * greylist_report(conf, uid, gid, out) - for -n: create the store when it
 *	is missing, give it (and its lock file) to uid:gid when they are not
 *	-1, print its state; 0, or -1 when it cannot be used.
 *
 * Per session (struct greylist_session, owned and zeroed by the session):
 * greylist_rcpt(gs, q, reply, size) - decide one recipient.  Returns
 *	GREYLIST_DEFER with the whole 451 line in reply, or GREYLIST_PASS.
 *	Every decision is logged (event=greylist); a store error or a table
 *	error is logged (event=greylist-error) and passes: greylisting fails
 *	open, it never refuses for its own failure.  The store is opened at
 *	the first recipient that needs it, in the process that runs the
 *	session, and stays open for that process's next sessions (never
 *	across a fork: the processes that run sessions do not fork).
 * greylist_end(gs) - the session is over.
 * greylist_summary(gs) - the last decision's state for the summary line
 *	("-" before any).
 *
 * The store, a table of operations (struct greylist_store_ops): the LMDB
 * file is greylist_lmdb, the shared store (Redis) greylist_redis, chosen
 * by greylist_db.  Records are struct greylist_rec; keys are strings of at
 * most GREYLIST_KEY_MAX bytes.
 *
 * Pure helpers, exported for the unit tests:
 * greylist_network(addr, out, size) - "192.0.2.0/24" or "2001:db8::/64";
 *	-1 when addr is not an address.
 * greylist_address(addr, out, size) - an envelope address as the triplet
 *	holds it: lower case, a BATV "prvs=tag=" prefix dropped, "<>" for
 *	the null sender ("").
 * greylist_key(net, from, rcpt, out, size) - the store key of a triplet.
 * greylist_rec_format(r, out, size) / greylist_rec_parse(s, len, r) - a
 *	record as text ("1 first last passed count"); parse returns 0 or -1.
 * greylist_step(r, found, now, p, &wait) - the triplet's next state from
 *	its record (updated in place); *wait is the seconds left to wait.
 * greylist_client_step(r, found, now, p, passed) - the client's record:
 *	whitelisted or not, counting a triplet that just passed.
 * greylist_stale(key, r, now, p) - may the record be pruned?
 * greylist_ttl(key, r, now, p) - the seconds a store with expiring keys
 *	keeps r: one more than until greylist_stale() says yes (at least 1).
 */
#ifndef SMTPPROXY_GREYLIST_H
#define SMTPPROXY_GREYLIST_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "conf/conf.h"

#define GREYLIST_KEY_MAX	480	/* under LMDB's 511 */
#define GREYLIST_REC_MAX	96
#define GREYLIST_REFRESH	3600	/* a passed record's time is renewed
					   at most this often */

enum greylist_verdict { GREYLIST_PASS, GREYLIST_DEFER };

/* What a triplet or a client is, in the log and the trace. */
enum greylist_state {
	GREYLIST_NONE,		/* not consulted */
	GREYLIST_NEW,		/* first try: recorded, 451 */
	GREYLIST_RENEWED,	/* came back after the window: a new first
				   try, 451 */
	GREYLIST_WAITING,	/* came back too early: 451 */
	GREYLIST_PASSING,	/* came back in the window: passes now */
	GREYLIST_PASSED,	/* passed before, not expired */
	GREYLIST_WHITELISTED,	/* its client passed enough triplets */
	GREYLIST_EXEMPT,	/* never greylisted (why in the log) */
	GREYLIST_ERROR		/* store or table error: fails open */
};

struct greylist_rec {
	long long	 first;		/* first try of this round */
	long long	 last;		/* last pass (or try) */
	long long	 passed;	/* when it passed, 0 not yet */
	long long	 count;		/* client: triplets passed */
};

struct greylist_params {
	long	 delay, window, expire;
	long	 auto_whitelist;
};

/* One recipient, as the session knows it. */
struct greylist_query {
	const struct conf	*conf;
	const char		*client;	/* address */
	const char		*from;		/* "" for <> */
	const char		*rcpt;
	const char		*exempt;	/* why the session exempts the
						   client (NULL: it does not) */
	double			 score;		/* the DNS score */
	int			 read_only;	/* -T: the store is not
						   changed */
};

struct greylist_store_ops;

struct greylist_session {
	const struct greylist_store_ops	*ops;
	void				*store;		/* ops's handle */
	int				 failed;	/* it did not open */
	enum greylist_state		 last;
};

/* The store's contract (every function answers for itself):
 * open(spec, params, why, wlen) - NULL with why, or a handle for this
 *	process (kept for its next sessions; greylist.c opens one store per
 *	process).
 * get(h, key, r) - 1 found (r filled), 0 not found, -1 error.
 * update(h, key, fn, arg) - in one atomic step: read key (found or not),
 *	call fn(r, found, arg), and store r when fn returns 1 (fn's 0: leave
 *	the key alone); fn may be called again if the step is retried.  A
 *	store drops stale records (greylist_stale): LMDB prunes a bounded
 *	number in the same step; a store with expiring keys sets the key's
 *	lifetime to greylist_ttl().  0, or -1 on error (nothing changed).
 * close(h) - drop the handle.
 * report(spec, uid, gid, out) - -n's check and one line of state; 0 or
 *	-1.
 * Every error is logged by the store (event=greylist-error store=NAME). */
typedef int (*greylist_update_fn)(struct greylist_rec *, int, void *);

struct greylist_store_ops {
	const char	*name;
	void		*(*open)(const char *, const struct greylist_params *,
			    char *, size_t);
	int		 (*get)(void *, const char *, struct greylist_rec *);
	int		 (*update)(void *, const char *, greylist_update_fn,
			    void *);
	void		 (*close)(void *);
	int		 (*report)(const char *, uid_t, gid_t, FILE *);
};

extern const struct greylist_store_ops greylist_lmdb;
extern const struct greylist_store_ops greylist_redis;

int	greylist_init(const struct conf *);
int	greylist_changed(void);
int	greylist_report(const struct conf *c, uid_t uid, gid_t gid, FILE *out);

enum greylist_verdict greylist_rcpt(struct greylist_session *gs,
	    const struct greylist_query *q, char *reply, size_t size);
void	greylist_end(struct greylist_session *gs);
const char *greylist_summary(const struct greylist_session *gs);
const char *greylist_state_name(enum greylist_state);

void	greylist_params(const struct conf *c, struct greylist_params *p);
int	greylist_network(const char *addr, char *out, size_t size);
void	greylist_address(const char *addr, char *out, size_t size);
int	greylist_key(const char *net, const char *from, const char *rcpt,
	    char *out, size_t size);
int	greylist_rec_format(const struct greylist_rec *r, char *out,
	    size_t size);
int	greylist_rec_parse(const char *s, size_t len, struct greylist_rec *r);
enum greylist_state greylist_step(struct greylist_rec *r, int found,
	    long long now, const struct greylist_params *p, long *wait);
int	greylist_client_step(struct greylist_rec *r, int found, long long now,
	    const struct greylist_params *p, int passed);
int	greylist_stale(const char *key, const struct greylist_rec *r,
	    long long now, const struct greylist_params *p);
long	greylist_ttl(const char *key, const struct greylist_rec *r,
	    long long now, const struct greylist_params *p);

#endif
