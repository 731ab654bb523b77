/*
 * rbl.c: the queries (c-ares 1.18) and the score.
 *
 * Every query lives in one fixed table; its callback only records what
 * the answer says (hit, miss, error, addresses, a name, a text).  The
 * score reads that table at RCPT.  Answers are classified as postscreen
 * does: NXDOMAIN/NODATA = not listed; 127.0.0.0/8 (but 127.255.255.0/24)
 * passing the zone's filter = listed; 127.255.255.x, any other address,
 * a timeout or a server failure = an error, which is never a listing.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <ctype.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>
#include <bsd/string.h>

#include "iobuf.h"
#include "log.h"
#include "rbl.h"

#define RBL_QMAX	160
#define RBL_ADDRS	8
#define RBL_TXT_MAX	200

enum rbl_kind {
	Q_DNSBL, Q_DNSWL, Q_RHSBL,	/* lists */
	Q_TXT,				/* reason of a listing */
	Q_PTR, Q_FCRDNS,		/* client name, and back */
	Q_HELO_A, Q_HELO_AAAA,		/* HELO name */
	Q_SENDER_MX, Q_SENDER_A,	/* sender domain */
	Q_CHECK_MX, Q_CHECK_A, Q_CHECK_AAAA	/* rbl_domain_exists() */
};

enum rbl_state { RQ_PENDING, RQ_FOUND, RQ_NONE, RQ_ERROR };
enum rbl_batch { B_CLIENT, B_HELO, B_SENDER, B_CHECK, B_COUNT };

struct rbl_query {
	enum rbl_kind	 kind;
	enum rbl_state	 state;
	enum rbl_batch	 batch;
	int		 zone;		/* lists: index in its conf_zones */
	int		 of;		/* Q_TXT: the list query it explains */
	int		 hit;		/* lists: listed */
	int		 stale;		/* from an earlier HELO or MAIL */
	unsigned	 gen;		/* tells a late answer from a reused
					   slot's own */
	int		 naddr;
	unsigned char	 addr[RBL_ADDRS][16];
	char		 name[256];	/* the query; PTR: the answer */
	char		 txt[RBL_TXT_MAX + 1];
};

/* A check's outcome for the score. */
enum rbl_verdict { V_SKIP, V_HIT, V_MISS };

static const struct conf	*rbl_conf;
static ares_channel		 rbl_channel;
static int			 rbl_ready;	/* channel made */
static int			 rbl_failed;	/* could not make it */
static struct rbl_query		 rbl_q[RBL_QMAX];
static int			 rbl_nq;
static double			 rbl_deadline[B_COUNT];
static int			 rbl_started[B_COUNT];
static int			 rbl_unasked[B_COUNT];	/* could not be sent */
static unsigned			 rbl_gen;
static char			 rbl_client[64];
static int			 rbl_family;
static char			 rbl_helo[256];
static char			 rbl_local[256];
static int			 rbl_null_sender;
static int			 rbl_decided;	/* this transaction */
static int			 rbl_result;
static char			 rbl_reply[512];
static char			 rbl_hdr[1024];
static double			 rbl_style_score;
static char			 rbl_last[32] = "-";	/* for the summary */
static int			 rbl_sender_lookups;	/* a domain to ask about */

void
rbl_init(const struct conf *c)
{
	rbl_conf = c;
}

static int
rbl_channel_ready(void)
{
	struct ares_options	 o = { 0 };
	int			 rc;

	if (rbl_ready || rbl_failed)
		return rbl_ready;
	o.timeout = rbl_conf->timeout_dns * 1000 / 2;
	o.tries = 2;
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS ||
	    (rc = ares_init_options(&rbl_channel, &o, ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES)) != ARES_SUCCESS ||
	    (rbl_conf->dns_servers[0] != '\0' &&
	    (rc = ares_set_servers_ports_csv(rbl_channel,
	    rbl_conf->dns_servers)) != ARES_SUCCESS)) {
		log_warnx("event=dns-error reason=\"c-ares: %s\"",
		    ares_strerror(rc));
		rbl_failed = 1;
		return 0;
	}
	rbl_ready = 1;
	return 1;
}

int
rbl_report(FILE *out)
{
	if (rbl_conf->dns_servers[0] == '\0' && !conf_dns_policy(rbl_conf))
		return 0;
	if (!rbl_channel_ready()) {
		fprintf(out, "dns_servers: %s: not usable\n",
		    rbl_conf->dns_servers);
		return -1;
	}
	fprintf(out, "dns: policy %s, servers %s\n",
	    conf_dns_policy(rbl_conf) ? "on" : "off",
	    rbl_conf->dns_servers[0] ? rbl_conf->dns_servers : "from resolv.conf");
	return 0;
}

/* Keep the A or AAAA answers of a reply. */
static int
rbl_parse_addrs(struct rbl_query *q, const unsigned char *abuf, int alen,
    int family)
{
	struct hostent	*he = NULL;
	int		 rc;

	rc = family == AF_INET ? ares_parse_a_reply(abuf, alen, &he, NULL, NULL) :
	    ares_parse_aaaa_reply(abuf, alen, &he, NULL, NULL);
	if (rc != ARES_SUCCESS)
		return rc;
	for (int i = 0; he->h_addr_list[i] != NULL && q->naddr < RBL_ADDRS; i++)
		memcpy(q->addr[q->naddr++], he->h_addr_list[i],
		    (size_t)he->h_length);
	ares_free_hostent(he);
	return ARES_SUCCESS;
}

static void rbl_query(enum rbl_kind, enum rbl_batch, int, int, const char *);
static int rbl_query_family(const struct rbl_query *);

/* A list answer: listed, not listed, or an error (never a listing). */
static void
rbl_list_answer(struct rbl_query *q)
{
	const struct conf_zones *zs = q->kind == Q_DNSBL ? &rbl_conf->dnsbl :
	    q->kind == Q_DNSWL ? &rbl_conf->dnswl : &rbl_conf->rhsbl;

	for (int i = 0; i < q->naddr; i++) {
		const unsigned char *a = q->addr[i];

		if (a[0] != 127 || (a[1] == 255 && a[2] == 255)) {
			q->state = RQ_ERROR;
			q->hit = 0;
			log_debug("dns: %s: answer %u.%u.%u.%u is an error, not a "
			    "listing", q->name, a[0], a[1], a[2], a[3]);
			return;
		}
		if (rbl_filter_match(&zs->z[q->zone], a))
			q->hit = 1;
	}
	if (q->hit && q->kind != Q_DNSWL)
		rbl_query(Q_TXT, q->batch, q->zone, (int)(q - rbl_q), q->name);
}

static void
rbl_txt_answer(struct rbl_query *q, const unsigned char *abuf, int alen)
{
	struct ares_txt_reply	*txt = NULL;
	size_t			 n = 0;
	struct rbl_query	*of = &rbl_q[q->of];

	/* the list query's slot may have been reused meanwhile */
	if (strcmp(of->name, q->name) != 0 || of->kind == Q_TXT ||
	    ares_parse_txt_reply(abuf, alen, &txt) != ARES_SUCCESS)
		return;
	/* printable ASCII only, clamped: it ends up in bounces */
	for (const unsigned char *p = txt->txt; n < txt->length &&
	    n < RBL_TXT_MAX; n++, p++)
		of->txt[n] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
	of->txt[n] = '\0';
	ares_free_data(txt);
}

static void
rbl_ptr_answer(struct rbl_query *q, const unsigned char *abuf, int alen)
{
	struct hostent	*he = NULL;
	unsigned char	 a[16];
	int		 len = rbl_family == AF_INET ? 4 : 16;

	inet_pton(rbl_family, rbl_client, a);
	if (ares_parse_ptr_reply(abuf, alen, a, len, rbl_family, &he) !=
	    ARES_SUCCESS) {
		q->state = RQ_NONE;
		return;
	}
	strlcpy(q->name, he->h_name, sizeof(q->name));
	ares_free_hostent(he);
	rbl_query(Q_FCRDNS, B_CLIENT, 0, 0, q->name);
}

/* RFC 7505: a single MX "." says the domain takes no mail at all. */
static void
rbl_mx_answer(struct rbl_query *q, const unsigned char *abuf, int alen)
{
	struct ares_mx_reply *mx = NULL;

	if (ares_parse_mx_reply(abuf, alen, &mx) != ARES_SUCCESS)
		return;
	if (mx != NULL && mx->next == NULL && (mx->host[0] == '\0' ||
	    strcmp(mx->host, ".") == 0)) {
		q->state = RQ_NONE;
		log_debug("dns: %s: null MX", q->name);
	}
	ares_free_data(mx);
}

static void
rbl_answer(struct rbl_query *q, const unsigned char *abuf, int alen)
{
	switch (q->kind) {
	case Q_DNSBL:
	case Q_DNSWL:
	case Q_RHSBL:
		if (rbl_parse_addrs(q, abuf, alen, AF_INET) != ARES_SUCCESS)
			q->state = RQ_ERROR;
		else
			rbl_list_answer(q);
		break;
	case Q_TXT:
		rbl_txt_answer(q, abuf, alen);
		break;
	case Q_PTR:
		rbl_ptr_answer(q, abuf, alen);
		break;
	case Q_FCRDNS:
		rbl_parse_addrs(q, abuf, alen, rbl_family);
		break;
	case Q_HELO_A:
	case Q_SENDER_A:
	case Q_CHECK_A:
		rbl_parse_addrs(q, abuf, alen, AF_INET);
		break;
	case Q_HELO_AAAA:
	case Q_CHECK_AAAA:
		rbl_parse_addrs(q, abuf, alen, AF_INET6);
		break;
	case Q_CHECK_MX:
	case Q_SENDER_MX:
		rbl_mx_answer(q, abuf, alen);
		break;
	}
}

/* " 127.0.0.2 127.0.0.4", a PTR name or a TXT reason, for the trace. */
static const char *
rbl_answer_text(const struct rbl_query *q)
{
	static char	 buf[512];
	char		 a[INET6_ADDRSTRLEN];
	size_t		 n = 0;

	buf[0] = '\0';
	for (int i = 0; i < q->naddr && n < sizeof(buf) - 50; i++) {
		inet_ntop(rbl_query_family(q), q->addr[i], a, sizeof(a));
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s", a);
	}
	if (q->kind == Q_PTR && q->state == RQ_FOUND)
		snprintf(buf, sizeof(buf), " %s", q->name);
	if (q->kind == Q_TXT && q->of >= 0 && rbl_q[q->of].txt[0])
		snprintf(buf, sizeof(buf), " \"%s\"", rbl_q[q->of].txt);
	return buf;
}

static void
rbl_callback(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	size_t			 tag = (size_t)arg;
	struct rbl_query	*q = &rbl_q[tag % RBL_QMAX];

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || q->gen != tag / RBL_QMAX ||
	    q->state != RQ_PENDING || q->stale)
		return;		/* the slot serves a newer query now */
	if (status == ARES_SUCCESS) {
		q->state = RQ_FOUND;
		rbl_answer(q, abuf, alen);
	} else if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		q->state = RQ_NONE;
	else
		q->state = RQ_ERROR;
	log_debug("dns: %s: %s%s%s", q->name, q->state == RQ_FOUND ? "answer" :
	    q->state == RQ_NONE ? "no such name or data" : ares_strerror(status),
	    rbl_answer_text(q), q->hit ? " (listed)" : "");
}

/* A free slot: a stale one whose answer is in, else a stale one still
 * waiting (its late answer is then ignored), else a new one; -1: none. */
static int
rbl_slot(void)
{
	int pending = -1;

	for (int i = 0; i < rbl_nq; i++) {
		if (!rbl_q[i].stale)
			continue;
		if (rbl_q[i].state != RQ_PENDING)
			return i;
		if (pending == -1)
			pending = i;
	}
	if (pending != -1)
		return pending;
	return rbl_nq < RBL_QMAX ? rbl_nq : -1;
}

static void
rbl_query(enum rbl_kind kind, enum rbl_batch batch, int zone, int of,
    const char *name)
{
	static const int types[] = {
		[Q_DNSBL] = ns_t_a, [Q_DNSWL] = ns_t_a, [Q_RHSBL] = ns_t_a,
		[Q_TXT] = ns_t_txt, [Q_PTR] = ns_t_ptr, [Q_FCRDNS] = ns_t_a,
		[Q_HELO_A] = ns_t_a, [Q_HELO_AAAA] = ns_t_aaaa,
		[Q_SENDER_MX] = ns_t_mx, [Q_SENDER_A] = ns_t_a,
		[Q_CHECK_MX] = ns_t_mx, [Q_CHECK_A] = ns_t_a,
		[Q_CHECK_AAAA] = ns_t_aaaa
	};
	struct rbl_query	*q;
	int			 type = types[kind], slot = rbl_slot();

	if (slot == -1 || !rbl_channel_ready()) {
		/* never counts as passed: the decision defers (rbl_decide) */
		rbl_unasked[batch]++;
		log_warnx("event=dns-error query=%s reason=\"%s\"", name,
		    slot == -1 ? "no free query slot" : "no resolver");
		return;
	}
	if (kind == Q_FCRDNS && rbl_family == AF_INET6)
		type = ns_t_aaaa;
	q = &rbl_q[slot];
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->batch = batch;
	q->zone = zone;
	q->of = of;
	q->gen = ++rbl_gen % (UINT_MAX / RBL_QMAX);
	strlcpy(q->name, name, sizeof(q->name));
	log_debug("dns: query %s %s", name, type == ns_t_a ? "A" :
	    type == ns_t_aaaa ? "AAAA" : type == ns_t_txt ? "TXT" :
	    type == ns_t_ptr ? "PTR" : "MX");
	if (slot == rbl_nq)
		rbl_nq++;
	ares_query(rbl_channel, name, ns_c_in, type, rbl_callback,
	    (void *)((size_t)q->gen * RBL_QMAX + (size_t)slot));
}

static void
rbl_batch_start(enum rbl_batch b)
{
	rbl_started[b] = 1;
	rbl_unasked[b] = 0;
	rbl_deadline[b] = iobuf_now() + rbl_conf->timeout_dns;
}

static void
rbl_lists(const struct conf_zones *zs, enum rbl_kind kind,
    enum rbl_batch b, const char *key)
{
	char name[512];

	for (int i = 0; i < zs->n; i++) {
		if (kind == Q_RHSBL)
			snprintf(name, sizeof(name), "%s.%s", key, zs->z[i].zone);
		else if (rbl_reverse(key, zs->z[i].zone, name, sizeof(name)) == -1)
			continue;
		rbl_query(kind, b, i, 0, name);
	}
}

void
rbl_start_client(const char *addr, int family)
{
	char name[128];

	strlcpy(rbl_client, addr, sizeof(rbl_client));
	rbl_family = family;
	if (rbl_conf == NULL || !conf_dns_policy(rbl_conf))
		return;
	rbl_batch_start(B_CLIENT);
	rbl_lists(&rbl_conf->dnsbl, Q_DNSBL, B_CLIENT, addr);
	rbl_lists(&rbl_conf->dnswl, Q_DNSWL, B_CLIENT, addr);
	if (rbl_reverse(addr, family == AF_INET ? "in-addr.arpa" : "ip6.arpa",
	    name, sizeof(name)) == 0)
		rbl_query(Q_PTR, B_CLIENT, 0, 0, name);
}

/* An address literal or a name made of digits and dots. */
static int
rbl_helo_numeric(const char *helo)
{
	return helo[0] == '[' || strspn(helo, "0123456789.") == strlen(helo);
}

/* A new HELO or MAIL: the earlier answers of that batch no longer count. */
static void
rbl_forget(enum rbl_batch b)
{
	for (int i = 0; i < rbl_nq; i++)
		if (rbl_q[i].batch == b)
			rbl_q[i].stale = 1;
	if (b != B_CHECK)
		rbl_decided = 0;
}

void
rbl_start_helo(const char *helo)
{
	if (rbl_conf == NULL || !conf_dns_policy(rbl_conf))
		return;
	rbl_forget(B_HELO);
	strlcpy(rbl_helo, helo, sizeof(rbl_helo));
	rbl_batch_start(B_HELO);
	if (helo[0] == '\0' || rbl_helo_numeric(helo))
		return;		/* "": forget the HELO (after STARTTLS) */
	rbl_query(Q_HELO_A, B_HELO, 0, 0, helo);
	rbl_query(Q_HELO_AAAA, B_HELO, 0, 0, helo);
}

void
rbl_start_sender(const char *local, const char *domain)
{
	if (rbl_conf == NULL || !conf_dns_policy(rbl_conf))
		return;
	rbl_forget(B_SENDER);
	rbl_null_sender = domain == NULL;
	strlcpy(rbl_local, local ? local : "", sizeof(rbl_local));
	rbl_batch_start(B_SENDER);
	rbl_sender_lookups = !(domain == NULL || domain[0] == '\0' ||
	    domain[0] == '[');
	if (!rbl_sender_lookups)
		return;
	rbl_lists(&rbl_conf->rhsbl, Q_RHSBL, B_SENDER, domain);
	rbl_query(Q_SENDER_MX, B_SENDER, 0, 0, domain);
	rbl_query(Q_SENDER_A, B_SENDER, 0, 0, domain);
}

/* Let c-ares read and retry for at most ms milliseconds. */
static void
rbl_process(int ms)
{
	ares_socket_t	 socks[ARES_GETSOCK_MAXNUM];
	struct pollfd	 pfd[ARES_GETSOCK_MAXNUM];
	unsigned	 bits;
	int		 n = 0;

	/* c-ares' own ARES_GETSOCK_* macros shift a signed 1 into bit 31 */
	bits = (unsigned)ares_getsock(rbl_channel, socks, ARES_GETSOCK_MAXNUM);
	for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		int rd = (bits & (1u << i)) != 0;
		int wr = (bits & (1u << (i + ARES_GETSOCK_MAXNUM))) != 0;

		if (!rd && !wr)
			continue;
		pfd[n].fd = socks[i];
		pfd[n].events = (short)((rd ? POLLIN : 0) | (wr ? POLLOUT : 0));
		n++;
	}
	if (n == 0) {
		/* nothing to read: let time pass for c-ares' own timers */
		(void)poll(NULL, 0, ms < 50 ? ms : 50);
		ares_process_fd(rbl_channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		return;
	}
	if (poll(pfd, (nfds_t)n, ms) <= 0) {
		ares_process_fd(rbl_channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		return;
	}
	for (int i = 0; i < n; i++)
		ares_process_fd(rbl_channel,
		    pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd :
		    ARES_SOCKET_BAD,
		    pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD);
}

void
rbl_poll(void)
{
	if (rbl_ready)
		rbl_process(0);
}

/* Pending queries whose batch still has time; 0 when none is left. */
static double
rbl_next_deadline(void)
{
	double d = 0;

	for (int i = 0; i < rbl_nq; i++) {
		const struct rbl_query *q = &rbl_q[i];

		if (!q->stale && q->state == RQ_PENDING &&
		    rbl_deadline[q->batch] > d)
			d = rbl_deadline[q->batch];
	}
	return d;
}

/* Wait for the answers, each batch no longer than timeout_dns. */
static void
rbl_wait(void)
{
	double d, now;

	while (rbl_ready && (d = rbl_next_deadline()) > (now = iobuf_now()))
		rbl_process((int)((d - now) * 1000) + 1);
	for (int i = 0; i < rbl_nq; i++)
		if (rbl_q[i].state == RQ_PENDING && !rbl_q[i].stale) {
			rbl_q[i].state = RQ_ERROR;
			log_debug("dns: %s: no answer within timeout_dns",
			    rbl_q[i].name);
		}
}

/* --- the score --- */

struct rbl_score {
	double		 total;
	int		 hits;		/* dnsbl and rhsbl listings */
	int		 errors;	/* list lookups that failed */
	int		 unasked;	/* checks that could not be sent */
	const char	*txt;		/* first listing's reason */
	char		 checks[900];	/* "IN_DNSBL(zone)=4.35 ..." */
	char		 lists[400];	/* zones that listed */
	char		 names[300];	/* heuristics that hit */
};

static void
rbl_add(struct rbl_score *s, const char *what, double w)
{
	size_t n = strlen(s->checks);

	snprintf(s->checks + n, sizeof(s->checks) - n, "%s%s=%.2f",
	    n ? " " : "", what, w);
	s->total += w;
}

static void
rbl_append(char *buf, size_t size, const char *item)
{
	if (buf[0] != '\0')
		strlcat(buf, ", ", size);
	strlcat(buf, item, size);
}

static struct rbl_query *
rbl_find(enum rbl_kind kind, int zone)
{
	for (int i = rbl_nq - 1; i >= 0; i--)
		if (rbl_q[i].kind == kind && rbl_q[i].zone == zone &&
		    !rbl_q[i].stale)
			return &rbl_q[i];
	return NULL;
}

static void
rbl_score_lists(struct rbl_score *s, enum rbl_kind kind,
    const struct conf_zones *zs, const char *label)
{
	char what[400];

	for (int i = 0; i < zs->n; i++) {
		const struct conf_zone	*z = &zs->z[i];
		struct rbl_query	*q = rbl_find(kind, i);

		if (q == NULL) {
			snprintf(what, sizeof(what), "NOTASKED(%s)", z->zone);
			rbl_add(s, what, 0);
			s->unasked++;
		} else if (q->state == RQ_ERROR || q->state == RQ_PENDING) {
			snprintf(what, sizeof(what), "DNSERR(%s)", z->zone);
			rbl_add(s, what, 0);
			s->errors++;
		} else if (q->hit) {
			snprintf(what, sizeof(what), "IN_%s(%s)", label, z->zone);
			rbl_add(s, what, z->hit);
			if (kind != Q_DNSWL) {
				s->hits++;
				rbl_append(s->lists, sizeof(s->lists), z->zone);
				if (s->txt == NULL && q->txt[0] != '\0')
					s->txt = q->txt;
			}
		} else {
			snprintf(what, sizeof(what), "NOT_IN_%s(%s)", label,
			    z->zone);
			rbl_add(s, what, z->miss);
		}
	}
}

/* The address family of a query's answers. */
static int
rbl_query_family(const struct rbl_query *q)
{
	return q->kind == Q_HELO_AAAA || (q->kind == Q_FCRDNS &&
	    rbl_family == AF_INET6) ? AF_INET6 : AF_INET;
}

/* Does one of the query's addresses equal the client's? */
static int
rbl_has_client(const struct rbl_query *q)
{
	unsigned char a[16];

	if (q == NULL || rbl_query_family(q) != rbl_family ||
	    inet_pton(rbl_family, rbl_client, a) != 1)
		return 0;
	for (int i = 0; i < q->naddr; i++)
		if (memcmp(q->addr[i], a, rbl_family == AF_INET ? 4 : 16) == 0)
			return 1;
	return 0;
}

static int
rbl_naddr(const struct rbl_query *q)
{
	return q != NULL && q->state == RQ_FOUND ? q->naddr : 0;
}

static int
rbl_is(const struct rbl_query *q, enum rbl_state st)
{
	return q != NULL && q->state == st;
}

static enum rbl_verdict
rbl_v_helo(enum conf_heuristic h)
{
	struct rbl_query	*a = rbl_find(Q_HELO_A, 0);
	struct rbl_query	*aaaa = rbl_find(Q_HELO_AAAA, 0);
	int			 n = rbl_naddr(a) + rbl_naddr(aaaa);

	if (rbl_helo[0] == '\0')
		return V_SKIP;
	if (h == CONF_H_HELO_NUMERIC)
		return rbl_helo_numeric(rbl_helo) ? V_HIT : V_MISS;
	if (rbl_helo_numeric(rbl_helo)) {
		char lit[256];

		if (h != CONF_H_CLIENT_IP_NE_HELO)
			return V_SKIP;
		snprintf(lit, sizeof(lit), "%s", rbl_helo + (rbl_helo[0] == '['));
		lit[strcspn(lit, "]")] = '\0';
		return strcasecmp(lit + (strncasecmp(lit, "IPv6:", 5) ? 0 : 5),
		    rbl_client) == 0 ? V_MISS : V_HIT;
	}
	if (a == NULL || aaaa == NULL)
		return V_SKIP;		/* not asked: c-ares failed */
	if (h == CONF_H_HELO_NO_RESOLVE)
		return n > 0 ? V_MISS : (rbl_is(a, RQ_ERROR) ||
		    rbl_is(aaaa, RQ_ERROR) ? V_SKIP : V_HIT);
	if (n == 0)
		return V_SKIP;
	return rbl_has_client(a) || rbl_has_client(aaaa) ? V_MISS : V_HIT;
}

static enum rbl_verdict
rbl_v_rdns(enum conf_heuristic h)
{
	struct rbl_query *ptr = rbl_find(Q_PTR, 0), *fc = rbl_find(Q_FCRDNS, 0);

	if (ptr == NULL || ptr->state == RQ_ERROR || ptr->state == RQ_PENDING)
		return V_SKIP;
	if (h == CONF_H_CLIENT_SEEMS_DIALUP)
		return ptr->state != RQ_FOUND ? V_SKIP :
		    rbl_looks_dialup(ptr->name, rbl_client) ? V_HIT : V_MISS;
	if (ptr->state == RQ_NONE)
		return V_HIT;
	if (fc == NULL || fc->state == RQ_ERROR || fc->state == RQ_PENDING)
		return V_SKIP;
	return rbl_has_client(fc) ? V_MISS : V_HIT;
}

static enum rbl_verdict
rbl_v_sender(enum conf_heuristic h)
{
	struct rbl_query *mx = rbl_find(Q_SENDER_MX, 0);
	struct rbl_query *a = rbl_find(Q_SENDER_A, 0);

	if (!rbl_started[B_SENDER] || rbl_null_sender)
		return V_SKIP;
	if (h == CONF_H_RANDOM_SENDER)
		return rbl_local[0] == '\0' ? V_SKIP :
		    rbl_looks_random(rbl_local) ? V_HIT : V_MISS;
	if (mx == NULL || a == NULL)
		return V_SKIP;
	if (rbl_is(mx, RQ_FOUND) || rbl_naddr(a) > 0)
		return V_MISS;
	return rbl_is(mx, RQ_NONE) && rbl_is(a, RQ_NONE) ? V_HIT : V_SKIP;
}

static enum rbl_verdict
rbl_verdict(enum conf_heuristic h)
{
	switch (h) {
	case CONF_H_HELO_NUMERIC:
	case CONF_H_HELO_NO_RESOLVE:
	case CONF_H_CLIENT_IP_NE_HELO:
		return rbl_v_helo(h);
	case CONF_H_CLIENT_NO_RDNS:
	case CONF_H_CLIENT_SEEMS_DIALUP:
		return rbl_v_rdns(h);
	default:
		return rbl_v_sender(h);
	}
}

static void
rbl_score_heuristics(struct rbl_score *s)
{
	char what[64];

	for (int h = 0; h < CONF_H_COUNT; h++) {
		const struct conf_weight	*w = &rbl_conf->weight[h];
		enum rbl_verdict		 v;
		int				 i;

		if (w->off || (v = rbl_verdict(h)) == V_SKIP)
			continue;
		snprintf(what, sizeof(what), "%s%s", v == V_HIT ? "" : "NOT_",
		    rbl_heuristic_names[h]);
		for (i = 0; what[i] != '\0'; i++)
			what[i] = (char)toupper((unsigned char)what[i]);
		rbl_add(s, what, v == V_HIT ? w->hit : w->miss);
		if (v == V_HIT)
			rbl_append(s->names, sizeof(s->names),
			    rbl_heuristic_names[h]);
	}
}

/* The reply for a score; 0 = accept. */
static int
rbl_verdict_reply(const struct rbl_score *s, const char **result)
{
	const struct conf	*c = rbl_conf;
	const char		*why = s->lists[0] ? s->lists : s->names;
	char			 detail[700];

	if (s->lists[0] != '\0')
		snprintf(detail, sizeof(detail), "listed by %.300s%s%s", s->lists,
		    s->txt ? ": " : "", s->txt ? s->txt : "");
	else
		snprintf(detail, sizeof(detail), "%s", why[0] ? why : "score");
	*result = "accept";
	if (s->hits > c->max_dnsbl_hits) {
		*result = "reject";
		snprintf(rbl_reply, sizeof(rbl_reply), "550 5.7.1 Client [%s] "
		    "refused: listed by %d DNS lists: %.300s", rbl_client, s->hits,
		    s->lists);
	} else if (s->total >= c->reject_score) {
		*result = "reject";
		snprintf(rbl_reply, sizeof(rbl_reply), "550 5.7.1 Client [%s] "
		    "refused (score %.2f): %.300s", rbl_client, s->total, detail);
	} else if (s->unasked > 0 || (s->errors > 0 &&
	    c->dns_error_action == CONF_DNSERR_DEFER)) {
		*result = "tempfail";
		snprintf(rbl_reply, sizeof(rbl_reply), "451 4.4.3 Temporary DNS "
		    "failure, try again later");
	} else if (s->total >= c->defer_score) {
		*result = "defer";
		snprintf(rbl_reply, sizeof(rbl_reply), "450 4.7.1 Client [%s] "
		    "deferred (score %.2f): %.300s", rbl_client, s->total, detail);
	} else
		return 0;
	return -1;
}

int
rbl_decide(char *reply, size_t size)
{
	struct rbl_score	 s;
	const char		*result;

	if (rbl_conf == NULL || !conf_dns_policy(rbl_conf))
		return 0;
	if (!rbl_decided) {
		memset(&s, 0, sizeof(s));
		rbl_wait();
		rbl_score_lists(&s, Q_DNSBL, &rbl_conf->dnsbl, "DNSBL");
		rbl_score_lists(&s, Q_DNSWL, &rbl_conf->dnswl, "DNSWL");
		if (rbl_started[B_SENDER] && rbl_sender_lookups)
			rbl_score_lists(&s, Q_RHSBL, &rbl_conf->rhsbl, "RHSBL");
		rbl_score_heuristics(&s);
		for (int b = B_CLIENT; b < B_CHECK; b++)
			s.unasked += rbl_started[b] ? rbl_unasked[b] : 0;
		if (rbl_style_score != 0)
			rbl_add(&s, "HELO_STYLE", rbl_style_score);
		rbl_result = rbl_verdict_reply(&s, &result);
		log_info("event=score client=%s score=%.2f result=%s "
		    "checks=\"%s\"", rbl_client, s.total, result, s.checks);
		snprintf(rbl_hdr, sizeof(rbl_hdr), "X-Smtpproxy-Score: %.2f "
		    "(%s)", s.total, s.checks);
		snprintf(rbl_last, sizeof(rbl_last), "%.2f", s.total);
		rbl_decided = 1;
	}
	if (rbl_result == -1)
		strlcpy(reply, rbl_reply, size);
	return rbl_result;
}

/*
 * Does domain have an MX or an A record?  1 yes, 0 no, -1 DNS error.
 * Synchronous, bounded by timeout_dns; for the f and t HELO style flags.
 */
static enum rbl_state
rbl_state_of(enum rbl_kind kind)
{
	const struct rbl_query *q = rbl_find(kind, 0);

	return q != NULL ? q->state : RQ_ERROR;
}

int
rbl_domain_exists(const char *domain)
{
	double	 deadline = iobuf_now() + rbl_conf->timeout_dns, now;
	int	 mx, a;

	if (domain[0] == '[')
		return 1;	/* an address literal needs no DNS */
	rbl_forget(B_CHECK);
	rbl_query(Q_CHECK_MX, B_CHECK, 0, 0, domain);
	rbl_query(Q_CHECK_A, B_CHECK, 0, 0, domain);
	rbl_query(Q_CHECK_AAAA, B_CHECK, 0, 0, domain);
	while ((rbl_state_of(Q_CHECK_MX) == RQ_PENDING ||
	    rbl_state_of(Q_CHECK_A) == RQ_PENDING ||
	    rbl_state_of(Q_CHECK_AAAA) == RQ_PENDING) &&
	    (now = iobuf_now()) < deadline)
		rbl_process((int)((deadline - now) * 1000) + 1);
	mx = rbl_state_of(Q_CHECK_MX);
	a = rbl_state_of(Q_CHECK_A);
	if (a != RQ_FOUND && rbl_state_of(Q_CHECK_AAAA) == RQ_FOUND)
		a = RQ_FOUND;	/* an IPv6-only domain exists too */
	log_debug("dns: %s: MX %s, A %s", domain, mx == RQ_FOUND ? "yes" :
	    mx == RQ_NONE ? "no" : "error", a == RQ_FOUND ? "yes" :
	    a == RQ_NONE ? "no" : "error");
	if (mx == RQ_FOUND || a == RQ_FOUND)
		return 1;
	return mx == RQ_NONE && a == RQ_NONE ? 0 : -1;
}

/* The X HELO style flag: a fixed amount more on this session's score. */
void
rbl_add_style_score(double score)
{
	rbl_style_score = score;
}

/*
 * The client's forward-confirmed name, for XCLIENT NAME=: the PTR answer
 * whose A or AAAA lookup gave the client's address back; NULL when the
 * lookups are not done (or were never made: no DNS policy).
 */
const char *
rbl_client_name(void)
{
	struct rbl_query	*ptr, *fc;
	double			 now;

	/* started at connect: usually in; else wait, no longer than its batch */
	while (rbl_ready && (rbl_state_of(Q_PTR) == RQ_PENDING ||
	    rbl_state_of(Q_FCRDNS) == RQ_PENDING) &&
	    (now = iobuf_now()) < rbl_deadline[B_CLIENT])
		rbl_process((int)((rbl_deadline[B_CLIENT] - now) * 1000) + 1);
	ptr = rbl_find(Q_PTR, 0);
	fc = rbl_find(Q_FCRDNS, 0);
	if (ptr == NULL || ptr->state != RQ_FOUND || !rbl_has_client(fc))
		return NULL;
	return ptr->name;
}

const char *
rbl_score_text(void)
{
	return rbl_last;
}

const char *
rbl_header(void)
{
	return rbl_decided && rbl_conf->add_score_header ? rbl_hdr : NULL;
}
