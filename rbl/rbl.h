/*
 * rbl: the DNS policy: DNS lists and heuristics, weighted, decided at RCPT
 * (policyd-weight's job, with postscreen's parallel lookups).  rbl_dns.c
 * is the mechanism (c-ares, the query table, batches and deadlines);
 * rbl_score.c the policy (lists, heuristics, weights, the verdict);
 * rbl_names.c pure helpers.  The policy decides; the session tells the
 * client (rblsmtpd's decide, then tell).
 *
 * Per process:
 * rbl_init(conf) - note the configuration; c-ares is initialised only when
 *	a query is to be sent (the policy is configured, conf_dns_policy(), or
 *	a HELO style flag asks rbl_domain_exists).
 * rbl_report(out) - check dns_servers for -n: 0, or -1 when unusable.
 * rbl_poll() - handle whatever answers have arrived, without waiting.
 *
 * Per session, all of it in one struct rbl_session the session owns:
 * rbl_session_new(conf) - a fresh session state; NULL when out of memory.
 * rbl_session_free(rs) - drop it, and every query still under way.
 * rbl_start_client(rs, addr, family) - at connect: every dnsbl/dnswl
 *	query and the PTR lookup (then its forward confirmation).
 * rbl_start_helo(rs, helo) - the HELO checks ("" forgets the HELO).
 * rbl_start_sender(rs, local, domain) - the sender checks of a new
 *	transaction (NULL domain for MAIL FROM:<>).  Each batch may take
 *	timeout_dns seconds from its start.
 * rbl_decide(rs) - wait for the outstanding answers (bounded by the
 *	batches' deadlines), score once per transaction and return the
 *	verdict (owned by rs, valid until the next rbl_start_*).  It logs one
 *	event=score line per transaction; RBL_ACCEPT without a log line when
 *	the policy is off.
 * rbl_domain_exists(rs, domain) - ask for MX, A and AAAA now and wait
 *	(bounded by timeout_dns): 1 exists, 0 does not, -1 DNS error; it
 *	works whether or not the DNS policy is configured.
 * rbl_add_style_score(rs, score) - the X HELO style's amount on the score.
 * rbl_client_name(rs) - the client's forward-confirmed PTR name, else NULL;
 *	it waits for the lookups made at connect, no longer than timeout_dns
 *	from the connect, and asks nothing when the DNS policy is off.
 * rbl_header(rs) - the X-Smtpproxy-Score line of the last decision (with
 *	add_score_header yes), or NULL.
 * rbl_score_text(rs) - the last score as text ("-" before any), for the
 *	session summary.
 * With spf yes (rbl_spf.c), the sender's SPF record is asked for at
 *	rbl_start_sender and evaluated in rbl_decide; its result's weight is
 *	on the score (SPF_FAIL=3.5).  rbl_spf_header(rs) - the Received-SPF
 *	header of that decision (folded, CRLF inside, no final CRLF), or
 *	NULL; rbl_spf_text(rs) - its result for the summary ("-": none);
 *	rbl_spf_failed(rs, why, size) - 1 when it was fail, with the
 *	explanation to quote in the 550 5.7.23.
 *
 * The configuration syntax (rbl_conf.c), called by conf/ at load:
 * rbl_zone_parse(key, line, z, why, wlen) - a dnsbl/dnswl/rhsbl line
 *	"zone hit miss [=filter]" into z: 0, or -1 with why.
 * rbl_filter_match(z, a) - does the IPv4 answer a (4 bytes) pass z's filter?
 * rbl_weight_defaults(w) - policyd-weight's weights into the CONF_H_COUNT
 *	rows of w.
 * rbl_weight_parse(line, w, why, wlen) - a "name hit miss" or "name off"
 *	line into its row of w.  rbl_heuristic_names[] are those rows' names.
 *
 * Pure helpers, exported for the unit tests:
 * rbl_reverse(addr, zone, out, size) - "4.3.2.1.zone" or the 32 IPv6
 *	nibbles; -1 when addr is bad or the name does not fit.
 * rbl_looks_random(local) - a machine-made local part.
 * rbl_looks_dialup(name, addr) - a PTR name made for a dynamic address.
 * rbl_helo_numeric(helo) - an address literal or digits and dots.
 */
#ifndef SMTPPROXY_RBL_H
#define SMTPPROXY_RBL_H

#include <stddef.h>
#include <stdio.h>

#include "conf/conf.h"

#define RBL_QMAX	160		/* queries of one session at a time */
#define RBL_ADDRS	8		/* addresses kept of one answer */
#define RBL_TXT_MAX	200		/* a listing's reason, clamped */

enum rbl_result { RBL_ACCEPT, RBL_REJECT, RBL_TEMPFAIL, RBL_DEFER };

/* What rbl_decide found; the session words the reply from it. */
struct rbl_verdict {
	enum rbl_result	 result;
	int		 too_many_lists; /* RBL_REJECT for the hits
					    (max_dnsbl_hits), not the score */
	double		 score;
	int		 hits;		/* dnsbl and rhsbl listings */
	int		 wl_hits;	/* dnswl listings (greylisting) */
	int		 errors;	/* list lookups that failed */
	int		 unasked;	/* checks that could not be sent */
	char		 lists[400];	/* zones that listed, ", " between */
	char		 names[300];	/* heuristics that hit */
	char		 txt[RBL_TXT_MAX + 1];	/* the first listing's TXT
						   reason, printable ASCII */
	char		 checks[900];	/* the score line: "IN_DNSBL(z)=4.35" */
};

/* Inside rbl/ only: the session holds a struct rbl_session * and no more. */
enum rbl_kind {
	RBL_Q_DNSBL, RBL_Q_DNSWL, RBL_Q_RHSBL,	/* lists */
	RBL_Q_TXT,				/* reason of a listing */
	RBL_Q_PTR, RBL_Q_FCRDNS,		/* client name, and back */
	RBL_Q_HELO_A, RBL_Q_HELO_AAAA,		/* HELO name */
	RBL_Q_SENDER_MX, RBL_Q_SENDER_A,	/* sender domain */
	RBL_Q_CHECK_MX, RBL_Q_CHECK_A, RBL_Q_CHECK_AAAA	/* domain_exists */
};

enum rbl_state { RBL_PENDING, RBL_FOUND, RBL_NONE, RBL_ERROR };
enum rbl_batch {
	RBL_B_CLIENT, RBL_B_HELO, RBL_B_SENDER, RBL_B_CHECK, RBL_B_COUNT
};

struct rbl_query {
	enum rbl_kind	 kind;
	enum rbl_state	 state;
	enum rbl_batch	 batch;
	int		 zone;		/* lists: index in its conf_zones */
	int		 of;		/* RBL_Q_TXT: the list query */
	int		 hit;		/* lists: listed */
	int		 stale;		/* from an earlier HELO or MAIL */
	unsigned	 gen;		/* tells a late answer from a reused
					   slot's own */
	int		 naddr;
	unsigned char	 addr[RBL_ADDRS][16];
	char		 name[256];	/* the query; PTR: the answer */
	char		 txt[RBL_TXT_MAX + 1];
};

/* SPF (rbl_spf.c): one query of libspf2's, its answer kept raw */
#define RBL_SPF_QMAX	24
struct rbl_spf_query {
	enum rbl_state	 state;
	int		 status;	/* c-ares' */
	int		 type;
	int		 stale;		/* from an earlier transaction */
	unsigned	 gen;		/* 0: never used */
	char		 name[256];
	unsigned char	*abuf;		/* malloc'd */
	int		 alen;
};

struct rbl_spf {
	int			 started;	/* this transaction */
	int			 done;		/* evaluated */
	int			 helo_identity;	/* null sender: HELO checked */
	double			 deadline;
	char			 sender[520];	/* local@domain */
	char			 domain[256];	/* "": nothing to check */
	struct rbl_spf_query	 q[RBL_SPF_QMAX];
	int			 next;
	unsigned		 gen;
	int			 voids, void_limit, timedout;
	enum conf_spf_result	 result;
	char			 record[512];	/* the first v=spf1 seen */
	char			 comment[600];
	char			 explanation[RBL_TXT_MAX + 1];
	char			 header[2048];
};

struct rbl_session {
	const struct conf	*conf;
	/* who the client is */
	char			 client[64];
	int			 family;
	char			 helo[256];
	char			 local[256];	/* sender's local part */
	int			 null_sender;
	int			 sender_lookups; /* a domain to ask about */
	/* the queries (rbl_dns.c) */
	int			 nq;
	unsigned		 gen;
	double			 deadline[RBL_B_COUNT];
	int			 started[RBL_B_COUNT];
	int			 unasked[RBL_B_COUNT];	/* could not be sent */
	/* the decision (rbl_score.c) */
	int			 decided;	/* this transaction */
	double			 style_score;
	struct rbl_verdict	 verdict;
	char			 hdr[1024];
	char			 last[32];	/* for the summary */
	struct rbl_spf		 spf;		/* rbl_spf.c */
	/* last, and never zeroed whole (96 KB; zeroing it was a quarter of
	 * a banner session's instructions): a slot is cleared when taken,
	 * and read only below nq */
	struct rbl_query	 q[RBL_QMAX];
};

void		 rbl_init(const struct conf *conf);
int		 rbl_report(FILE *out);
void		 rbl_poll(void);

struct rbl_session *rbl_session_new(const struct conf *conf);
void		 rbl_session_free(struct rbl_session *rs);
void		 rbl_start_client(struct rbl_session *rs, const char *addr,
		    int family);
void		 rbl_start_helo(struct rbl_session *rs, const char *helo);
void		 rbl_start_sender(struct rbl_session *rs, const char *local,
		    const char *domain);
const struct rbl_verdict *rbl_decide(struct rbl_session *rs);
int		 rbl_domain_exists(struct rbl_session *rs, const char *domain);
void		 rbl_add_style_score(struct rbl_session *rs, double score);
const char	*rbl_client_name(struct rbl_session *rs);
const char	*rbl_header(const struct rbl_session *rs);
const char	*rbl_score_text(const struct rbl_session *rs);

const char	*rbl_spf_header(const struct rbl_session *rs);
const char	*rbl_spf_text(const struct rbl_session *rs);
int		 rbl_spf_failed(const struct rbl_session *rs, char *why,
		    size_t size);

extern const char *const rbl_heuristic_names[CONF_H_COUNT];
extern const char *const rbl_spf_result_names[CONF_SPF_COUNT];
int		 rbl_spf_weights_parse(const char *v, double *w, char *why,
		    size_t wlen);
int		 rbl_zone_parse(const char *key, const char *line,
		    struct conf_zone *z, char *why, size_t wlen);
int		 rbl_filter_match(const struct conf_zone *z,
		    const unsigned char *a);
void		 rbl_weight_defaults(struct conf_weight *w);
int		 rbl_weight_parse(const char *line, struct conf_weight *w,
		    char *why, size_t wlen);

int		 rbl_reverse(const char *addr, const char *zone, char *out,
		    size_t size);
int		 rbl_looks_random(const char *local);
int		 rbl_looks_dialup(const char *name, const char *addr);
int		 rbl_helo_numeric(const char *helo);

/* Inside rbl/ only: rbl_dns.c's answers and waits, for rbl_score.c. */
void		 rbl_dns_settle(struct rbl_session *rs);
struct rbl_query *rbl_find(struct rbl_session *rs, enum rbl_kind kind,
		    int zone);
int		 rbl_has_client(const struct rbl_session *rs,
		    const struct rbl_query *q);
int		 rbl_naddr(const struct rbl_query *q);
int		 rbl_is(const struct rbl_query *q, enum rbl_state state);
/* rbl_dns.c's channel for rbl_spf.c: send one query (cb as c-ares'
 * ares_callback; -1: no channel, cb not called); let answers in, no
 * longer than until deadline */
int		 rbl_dns_send(const char *name, int type,
		    void (*cb)(void *arg, int status, int timeouts,
		    unsigned char *abuf, int alen), void *arg);
void		 rbl_dns_step(double deadline);
const char	*rbl_dns_type_name(int type);
/* rbl_spf.c, for rbl_dns.c and rbl_score.c */
void		 rbl_spf_start(struct rbl_session *rs, const char *local,
		    const char *domain);
void		 rbl_spf_settle(struct rbl_session *rs);
void		 rbl_spf_free(struct rbl_session *rs);

#endif
