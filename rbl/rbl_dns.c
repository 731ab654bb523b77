/*
 * rbl_dns.c: the DNS machinery of the policy: the c-ares channel (one per
 * process, made at the first query), each session's query table, batches
 * and their deadlines, and what the answers say.
 *
 * Every query lives in its session's fixed table; its callback only
 * records what the answer says (hit, miss, error, addresses, a name, a
 * text).  rbl_score.c reads that table at RCPT.  Answers are classified
 * as postscreen does: NXDOMAIN/NODATA = not listed; 127.0.0.0/8 (but
 * 127.255.255.0/24) passing the zone's filter = listed; 127.255.255.x,
 * any other address, a timeout or a server failure = an error, which is
 * never a listing.  A query's callback argument names its session, slot
 * and generation (struct rbl_ask), so a late answer for a reused slot, or
 * for a session that ended, is dropped.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <bsd/string.h>

#include "iobuf.h"
#include "log.h"
#include "rbl.h"

/* Per process: from the configuration. */
static const struct conf	*rbl_conf;
static ares_channel		 rbl_channel;
static int			 rbl_ready;	/* channel made */
static int			 rbl_failed;	/* could not make it */

/* One query under way: what its callback needs to find its slot. */
struct rbl_ask {
	struct rbl_session	*rs;
	int			 slot;
	unsigned		 gen;
};

static void rbl_query(struct rbl_session *, enum rbl_kind, enum rbl_batch,
    int, int, const char *);
static int rbl_query_family(const struct rbl_session *,
    const struct rbl_query *);

/* rbl_init - note the configuration, for the channel */
void
rbl_init(const struct conf *c)
{
	rbl_conf = c;
}

/* rbl_channel_ready - make the c-ares channel once; 0 when it cannot be */
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

/* rbl_report - say for -n whether dns_servers is usable */
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
	if (rbl_conf->spf)
		fprintf(out, "spf: on (libspf2 over c-ares, bounded by timeout_dns "
		    "%ds); weights %s; spf_reject %s%s\n", rbl_conf->timeout_dns,
		    rbl_conf->spf_weights, rbl_conf->spf_reject ==
		    CONF_SPF_REJECT_FAIL ? "fail" : "no",
		    conf_policy_test(rbl_conf, CONF_POLICY_SPF) ?
		    " (spf_mode test: only logged)" : "");
	return 0;
}

/* rbl_session_new - a session's state, empty; NULL when out of memory */
struct rbl_session *
rbl_session_new(const struct conf *c)
{
	struct rbl_session *rs;

	if ((rs = malloc(sizeof(*rs))) == NULL)
		return NULL;
	memset(rs, 0, offsetof(struct rbl_session, q));
	rs->conf = c;
	strlcpy(rs->last, "-", sizeof(rs->last));
	return rs;
}

/* rbl_session_free - end a session's state; its queries' answers are
 * dropped (their callbacks run now, with ARES_ECANCELLED) */
void
rbl_session_free(struct rbl_session *rs)
{
	if (rs == NULL)
		return;
	if (rbl_ready)
		ares_cancel(rbl_channel);
	rbl_spf_free(rs);
	free(rs);
}

/* rbl_parse_addrs - keep the A or AAAA answers of a reply */
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

/* rbl_list_answer - listed, not listed, or an error (never a listing) */
static void
rbl_list_answer(struct rbl_session *rs, struct rbl_query *q)
{
	const struct conf *c = rs->conf;
	const struct conf_zones *zs = q->kind == RBL_Q_DNSBL ? &c->dnsbl :
	    q->kind == RBL_Q_DNSWL ? &c->dnswl : &c->rhsbl;

	for (int i = 0; i < q->naddr; i++) {
		const unsigned char *a = q->addr[i];

		if (a[0] != 127 || (a[1] == 255 && a[2] == 255)) {
			q->state = RBL_ERROR;
			q->hit = 0;
			log_debug("dns: %s: answer %u.%u.%u.%u is an error, not a "
			    "listing", q->name, a[0], a[1], a[2], a[3]);
			return;
		}
		if (rbl_filter_match(&zs->z[q->zone], a))
			q->hit = 1;
	}
	if (q->hit && q->kind != RBL_Q_DNSWL)
		rbl_query(rs, RBL_Q_TXT, q->batch, q->zone, (int)(q - rs->q),
		    q->name);
}

/* rbl_txt_answer - a listing's reason, sanitised and clamped */
static void
rbl_txt_answer(struct rbl_session *rs, struct rbl_query *q,
    const unsigned char *abuf, int alen)
{
	struct ares_txt_reply	*txt = NULL;
	size_t			 n = 0;
	struct rbl_query	*of = &rs->q[q->of];

	/* the list query's slot may have been reused meanwhile */
	if (strcmp(of->name, q->name) != 0 || of->kind == RBL_Q_TXT ||
	    ares_parse_txt_reply(abuf, alen, &txt) != ARES_SUCCESS)
		return;
	/* printable ASCII only, clamped: it ends up in bounces */
	for (const unsigned char *p = txt->txt; n < txt->length &&
	    n < RBL_TXT_MAX; n++, p++)
		of->txt[n] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
	of->txt[n] = '\0';
	ares_free_data(txt);
}

/* rbl_ptr_answer - the client's name, then ask for its addresses */
static void
rbl_ptr_answer(struct rbl_session *rs, struct rbl_query *q,
    const unsigned char *abuf, int alen)
{
	struct hostent	*he = NULL;
	unsigned char	 a[16];
	int		 len = rs->family == AF_INET ? 4 : 16;

	inet_pton(rs->family, rs->client, a);
	if (ares_parse_ptr_reply(abuf, alen, a, len, rs->family, &he) !=
	    ARES_SUCCESS) {
		q->state = RBL_NONE;
		return;
	}
	strlcpy(q->name, he->h_name, sizeof(q->name));
	ares_free_hostent(he);
	rbl_query(rs, RBL_Q_FCRDNS, RBL_B_CLIENT, 0, 0, q->name);
}

/* rbl_mx_answer - RFC 7505: a single MX "." says the domain takes no
 * mail at all */
static void
rbl_mx_answer(struct rbl_query *q, const unsigned char *abuf, int alen)
{
	struct ares_mx_reply *mx = NULL;

	if (ares_parse_mx_reply(abuf, alen, &mx) != ARES_SUCCESS)
		return;
	if (mx != NULL && mx->next == NULL && (mx->host[0] == '\0' ||
	    strcmp(mx->host, ".") == 0)) {
		q->state = RBL_NONE;
		log_debug("dns: %s: null MX", q->name);
	}
	ares_free_data(mx);
}

/* rbl_answer - read a positive answer as its kind says */
static void
rbl_answer(struct rbl_session *rs, struct rbl_query *q,
    const unsigned char *abuf, int alen)
{
	switch (q->kind) {
	case RBL_Q_DNSBL:
	case RBL_Q_DNSWL:
	case RBL_Q_RHSBL:
		if (rbl_parse_addrs(q, abuf, alen, AF_INET) != ARES_SUCCESS)
			q->state = RBL_ERROR;
		else
			rbl_list_answer(rs, q);
		break;
	case RBL_Q_TXT:
		rbl_txt_answer(rs, q, abuf, alen);
		break;
	case RBL_Q_PTR:
		rbl_ptr_answer(rs, q, abuf, alen);
		break;
	case RBL_Q_FCRDNS:
		rbl_parse_addrs(q, abuf, alen, rs->family);
		break;
	case RBL_Q_HELO_A:
	case RBL_Q_SENDER_A:
	case RBL_Q_CHECK_A:
		rbl_parse_addrs(q, abuf, alen, AF_INET);
		break;
	case RBL_Q_HELO_AAAA:
	case RBL_Q_CHECK_AAAA:
		rbl_parse_addrs(q, abuf, alen, AF_INET6);
		break;
	case RBL_Q_CHECK_MX:
	case RBL_Q_SENDER_MX:
		rbl_mx_answer(q, abuf, alen);
		break;
	}
}

/* rbl_answer_text - " 127.0.0.2 127.0.0.4", a PTR name or a TXT reason,
 * for the trace */
static const char *
rbl_answer_text(const struct rbl_session *rs, const struct rbl_query *q)
{
	static char	 buf[512];
	char		 a[INET6_ADDRSTRLEN];
	size_t		 n = 0;

	buf[0] = '\0';
	for (int i = 0; i < q->naddr && n < sizeof(buf) - 50; i++) {
		inet_ntop(rbl_query_family(rs, q), q->addr[i], a, sizeof(a));
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s", a);
	}
	if (q->kind == RBL_Q_PTR && q->state == RBL_FOUND)
		snprintf(buf, sizeof(buf), " %s", q->name);
	if (q->kind == RBL_Q_TXT && q->of >= 0 && rs->q[q->of].txt[0])
		snprintf(buf, sizeof(buf), " \"%s\"", rs->q[q->of].txt);
	return buf;
}

/* rbl_callback - c-ares' answer to one query: record it in its slot */
static void
rbl_callback(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct rbl_ask		 ask = *(struct rbl_ask *)arg;
	struct rbl_query	*q = &ask.rs->q[ask.slot];

	(void)timeouts;
	free(arg);
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED ||
	    q->gen != ask.gen || q->state != RBL_PENDING || q->stale)
		return;		/* the slot serves a newer query now */
	if (status == ARES_SUCCESS) {
		q->state = RBL_FOUND;
		rbl_answer(ask.rs, q, abuf, alen);
	} else if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		q->state = RBL_NONE;
	else
		q->state = RBL_ERROR;
	log_debug("dns: %s: %s%s%s", q->name, q->state == RBL_FOUND ?
	    "answer" : q->state == RBL_NONE ? "no such name or data" :
	    ares_strerror(status), rbl_answer_text(ask.rs, q),
	    q->hit ? " (listed)" : "");
}

/* rbl_slot - a free slot: a stale one whose answer is in, else a stale one
 * still waiting (its late answer is then ignored), else a new one; -1:
 * none */
static int
rbl_slot(const struct rbl_session *rs)
{
	int pending = -1;

	for (int i = 0; i < rs->nq; i++) {
		if (!rs->q[i].stale)
			continue;
		if (rs->q[i].state != RBL_PENDING)
			return i;
		if (pending == -1)
			pending = i;
	}
	if (pending != -1)
		return pending;
	return rs->nq < RBL_QMAX ? rs->nq : -1;
}

/* rbl_query_type - the record type a kind of query asks for */
static int
rbl_query_type(const struct rbl_session *rs, enum rbl_kind kind)
{
	static const int types[] = {
		[RBL_Q_DNSBL] = ns_t_a, [RBL_Q_DNSWL] = ns_t_a,
		[RBL_Q_RHSBL] = ns_t_a, [RBL_Q_TXT] = ns_t_txt,
		[RBL_Q_PTR] = ns_t_ptr, [RBL_Q_FCRDNS] = ns_t_a,
		[RBL_Q_HELO_A] = ns_t_a, [RBL_Q_HELO_AAAA] = ns_t_aaaa,
		[RBL_Q_SENDER_MX] = ns_t_mx, [RBL_Q_SENDER_A] = ns_t_a,
		[RBL_Q_CHECK_MX] = ns_t_mx, [RBL_Q_CHECK_A] = ns_t_a,
		[RBL_Q_CHECK_AAAA] = ns_t_aaaa
	};

	if (kind == RBL_Q_FCRDNS && rs->family == AF_INET6)
		return ns_t_aaaa;
	return types[kind];
}

/* rbl_dns_type_name - a record type's name, for the trace */
const char *
rbl_dns_type_name(int type)
{
	return type == ns_t_a ? "A" : type == ns_t_aaaa ? "AAAA" :
	    type == ns_t_txt ? "TXT" : type == ns_t_ptr ? "PTR" : "MX";
}

/* rbl_query - send one query of a batch; one that cannot be sent is
 * counted, and never counts as passed: the decision defers */
static void
rbl_query(struct rbl_session *rs, enum rbl_kind kind, enum rbl_batch batch,
    int zone, int of, const char *name)
{
	struct rbl_query	*q;
	struct rbl_ask		*ask = NULL;
	int			 type = rbl_query_type(rs, kind);
	int			 slot = rbl_slot(rs);

	if (slot == -1 || !rbl_channel_ready() ||
	    (ask = malloc(sizeof(*ask))) == NULL) {
		rs->unasked[batch]++;
		log_warnx("event=dns-error query=%s reason=\"%s\"", name,
		    slot == -1 ? "no free query slot" : rbl_ready ?
		    "out of memory" : "no resolver");
		return;
	}
	q = &rs->q[slot];
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->batch = batch;
	q->zone = zone;
	q->of = of;
	q->gen = ++rs->gen;
	strlcpy(q->name, name, sizeof(q->name));
	log_debug("dns: query %s %s", name, rbl_dns_type_name(type));
	if (slot == rs->nq)
		rs->nq++;
	*ask = (struct rbl_ask){ .rs = rs, .slot = slot, .gen = q->gen };
	ares_query(rbl_channel, name, ns_c_in, type, rbl_callback, ask);
}

/* rbl_batch_start - a batch's queries may take timeout_dns from now */
static void
rbl_batch_start(struct rbl_session *rs, enum rbl_batch b)
{
	rs->started[b] = 1;
	rs->unasked[b] = 0;
	rs->deadline[b] = iobuf_now() + rs->conf->timeout_dns;
}

/* rbl_forget - a new HELO or MAIL: the earlier answers of that batch no
 * longer count */
static void
rbl_forget(struct rbl_session *rs, enum rbl_batch b)
{
	for (int i = 0; i < rs->nq; i++)
		if (rs->q[i].batch == b)
			rs->q[i].stale = 1;
	if (b != RBL_B_CHECK)
		rs->decided = 0;
}

/* rbl_lists - ask every zone of a list about key */
static void
rbl_lists(struct rbl_session *rs, const struct conf_zones *zs,
    enum rbl_kind kind, enum rbl_batch b, const char *key)
{
	char name[512];

	for (int i = 0; i < zs->n; i++) {
		if (kind == RBL_Q_RHSBL)
			snprintf(name, sizeof(name), "%s.%s", key, zs->z[i].zone);
		else if (rbl_reverse(key, zs->z[i].zone, name, sizeof(name)) == -1)
			continue;
		rbl_query(rs, kind, b, i, 0, name);
	}
}

/* rbl_start_client - at connect: the client's lists and its name */
void
rbl_start_client(struct rbl_session *rs, const char *addr, int family)
{
	const struct conf	*c = rs->conf;
	char			 name[128];

	strlcpy(rs->client, addr, sizeof(rs->client));
	rs->family = family;
	if (c == NULL || !conf_dns_policy(c))
		return;
	rbl_batch_start(rs, RBL_B_CLIENT);
	rbl_lists(rs, &c->dnsbl, RBL_Q_DNSBL, RBL_B_CLIENT, addr);
	rbl_lists(rs, &c->dnswl, RBL_Q_DNSWL, RBL_B_CLIENT, addr);
	if (rbl_reverse(addr, family == AF_INET ? "in-addr.arpa" : "ip6.arpa",
	    name, sizeof(name)) == 0)
		rbl_query(rs, RBL_Q_PTR, RBL_B_CLIENT, 0, 0, name);
}

/* rbl_start_helo - a new HELO name's addresses */
void
rbl_start_helo(struct rbl_session *rs, const char *helo)
{
	if (rs->conf == NULL || !conf_dns_policy(rs->conf))
		return;
	rbl_forget(rs, RBL_B_HELO);
	strlcpy(rs->helo, helo, sizeof(rs->helo));
	rbl_batch_start(rs, RBL_B_HELO);
	if (helo[0] == '\0' || rbl_helo_numeric(helo))
		return;		/* "": forget the HELO (after STARTTLS) */
	rbl_query(rs, RBL_Q_HELO_A, RBL_B_HELO, 0, 0, helo);
	rbl_query(rs, RBL_Q_HELO_AAAA, RBL_B_HELO, 0, 0, helo);
}

/* rbl_start_sender - a new transaction's sender domain */
void
rbl_start_sender(struct rbl_session *rs, const char *local,
    const char *domain)
{
	if (rs->conf == NULL || !conf_dns_policy(rs->conf))
		return;
	rbl_forget(rs, RBL_B_SENDER);
	rs->null_sender = domain == NULL;
	strlcpy(rs->local, local ? local : "", sizeof(rs->local));
	rbl_batch_start(rs, RBL_B_SENDER);
	rs->sender_lookups = !(domain == NULL || domain[0] == '\0' ||
	    domain[0] == '[');
	if (rs->sender_lookups) {
		rbl_lists(rs, &rs->conf->rhsbl, RBL_Q_RHSBL, RBL_B_SENDER,
		    domain);
		rbl_query(rs, RBL_Q_SENDER_MX, RBL_B_SENDER, 0, 0, domain);
		rbl_query(rs, RBL_Q_SENDER_A, RBL_B_SENDER, 0, 0, domain);
	}
	rbl_spf_start(rs, local, domain);	/* after the lists: RCPT waits
						   for both at once */
}

/* rbl_process - let c-ares read and retry for at most ms milliseconds */
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

/* rbl_dns_send - one query on the channel for rbl_spf.c; -1 when there
 * is no channel (cb is then not called) */
int
rbl_dns_send(const char *name, int type, void (*cb)(void *, int, int,
    unsigned char *, int), void *arg)
{
	if (!rbl_channel_ready())
		return -1;
	ares_query(rbl_channel, name, ns_c_in, type, cb, arg);
	return 0;
}

/* rbl_dns_step - let the channel's answers in (every session query's
 * callback runs), waiting no later than deadline */
void
rbl_dns_step(double deadline)
{
	double left = deadline - iobuf_now();

	if (rbl_ready && left > 0)
		rbl_process((int)(left * 1000) + 1);
}

/* rbl_poll - handle the answers in, without waiting */
void
rbl_poll(void)
{
	if (rbl_ready)
		rbl_process(0);
}

#define RBL_ANY_KIND	0u
#define RBL_KIND(k)	(1u << (k))

/* rbl_pending_deadline - the latest deadline of the pending queries of
 * the kinds asked for (a mask of RBL_KIND bits, or RBL_ANY_KIND); 0 when
 * none is pending */
static double
rbl_pending_deadline(const struct rbl_session *rs, unsigned kinds)
{
	double d = 0;

	for (int i = 0; i < rs->nq; i++) {
		const struct rbl_query *q = &rs->q[i];

		if (!q->stale && q->state == RBL_PENDING &&
		    (kinds == RBL_ANY_KIND || (kinds & RBL_KIND(q->kind))) &&
		    rs->deadline[q->batch] > d)
			d = rs->deadline[q->batch];
	}
	return d;
}

/* rbl_wait - wait for the answers to the queries of the kinds asked for,
 * each no longer than its batch's deadline: the one wait of this module */
static void
rbl_wait(const struct rbl_session *rs, unsigned kinds)
{
	double d, now;

	while (rbl_ready && (d = rbl_pending_deadline(rs, kinds)) >
	    (now = iobuf_now()))
		rbl_process((int)((d - now) * 1000) + 1);
}

/* rbl_dns_settle - wait for every answer, each batch no longer than
 * timeout_dns; what is still missing then is an error */
void
rbl_dns_settle(struct rbl_session *rs)
{
	rbl_wait(rs, RBL_ANY_KIND);
	for (int i = 0; i < rs->nq; i++)
		if (rs->q[i].state == RBL_PENDING && !rs->q[i].stale) {
			rs->q[i].state = RBL_ERROR;
			log_debug("dns: %s: no answer within timeout_dns",
			    rs->q[i].name);
		}
}

/* rbl_find - the current query of a kind (and list zone), or NULL */
struct rbl_query *
rbl_find(struct rbl_session *rs, enum rbl_kind kind, int zone)
{
	for (int i = rs->nq - 1; i >= 0; i--)
		if (rs->q[i].kind == kind && rs->q[i].zone == zone &&
		    !rs->q[i].stale)
			return &rs->q[i];
	return NULL;
}

/* rbl_query_family - the address family of a query's answers */
static int
rbl_query_family(const struct rbl_session *rs, const struct rbl_query *q)
{
	return q->kind == RBL_Q_HELO_AAAA || (q->kind == RBL_Q_FCRDNS &&
	    rs->family == AF_INET6) ? AF_INET6 : AF_INET;
}

/* rbl_has_client - does one of the query's addresses equal the client's? */
int
rbl_has_client(const struct rbl_session *rs, const struct rbl_query *q)
{
	unsigned char a[16];

	if (q == NULL || rbl_query_family(rs, q) != rs->family ||
	    inet_pton(rs->family, rs->client, a) != 1)
		return 0;
	for (int i = 0; i < q->naddr; i++)
		if (memcmp(q->addr[i], a, rs->family == AF_INET ? 4 : 16) == 0)
			return 1;
	return 0;
}

/* rbl_naddr - how many addresses a query found */
int
rbl_naddr(const struct rbl_query *q)
{
	return q != NULL && q->state == RBL_FOUND ? q->naddr : 0;
}

/* rbl_is - is the query there, and in that state? */
int
rbl_is(const struct rbl_query *q, enum rbl_state st)
{
	return q != NULL && q->state == st;
}

/* rbl_state_of - the state of the current query of a kind; not asked is
 * an error */
static enum rbl_state
rbl_state_of(struct rbl_session *rs, enum rbl_kind kind)
{
	const struct rbl_query *q = rbl_find(rs, kind, 0);

	return q != NULL ? q->state : RBL_ERROR;
}

/*
 * rbl_domain_exists - does domain have an MX or an A record?  1 yes, 0 no,
 * -1 DNS error.  Synchronous, bounded by timeout_dns; for the f and t HELO
 * style flags.
 */
int
rbl_domain_exists(struct rbl_session *rs, const char *domain)
{
	int mx, a;

	if (domain[0] == '[')
		return 1;	/* an address literal needs no DNS */
	rbl_forget(rs, RBL_B_CHECK);
	rbl_batch_start(rs, RBL_B_CHECK);
	rbl_query(rs, RBL_Q_CHECK_MX, RBL_B_CHECK, 0, 0, domain);
	rbl_query(rs, RBL_Q_CHECK_A, RBL_B_CHECK, 0, 0, domain);
	rbl_query(rs, RBL_Q_CHECK_AAAA, RBL_B_CHECK, 0, 0, domain);
	rbl_wait(rs, RBL_KIND(RBL_Q_CHECK_MX) | RBL_KIND(RBL_Q_CHECK_A) |
	    RBL_KIND(RBL_Q_CHECK_AAAA));
	mx = rbl_state_of(rs, RBL_Q_CHECK_MX);
	a = rbl_state_of(rs, RBL_Q_CHECK_A);
	if (a != RBL_FOUND && rbl_state_of(rs, RBL_Q_CHECK_AAAA) == RBL_FOUND)
		a = RBL_FOUND;	/* an IPv6-only domain exists too */
	log_debug("dns: %s: MX %s, A %s", domain, mx == RBL_FOUND ? "yes" :
	    mx == RBL_NONE ? "no" : "error", a == RBL_FOUND ? "yes" :
	    a == RBL_NONE ? "no" : "error");
	if (mx == RBL_FOUND || a == RBL_FOUND)
		return 1;
	return mx == RBL_NONE && a == RBL_NONE ? 0 : -1;
}

/*
 * rbl_client_name - the client's forward-confirmed name, for XCLIENT
 * NAME=: the PTR answer whose A or AAAA lookup gave the client's address
 * back; NULL when the lookups are not done (or were never made: no DNS
 * policy).  Started at connect, they are usually in; else wait, no longer
 * than their batch.
 */
const char *
rbl_client_name(struct rbl_session *rs)
{
	struct rbl_query *ptr, *fc;

	rbl_wait(rs, RBL_KIND(RBL_Q_PTR) | RBL_KIND(RBL_Q_FCRDNS));
	ptr = rbl_find(rs, RBL_Q_PTR, 0);
	fc = rbl_find(rs, RBL_Q_FCRDNS, 0);
	if (ptr == NULL || ptr->state != RBL_FOUND || !rbl_has_client(rs, fc))
		return NULL;
	return ptr->name;
}
