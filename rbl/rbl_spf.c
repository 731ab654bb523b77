/*
 * rbl_spf.c: SPF (RFC 7208) as one more weighted check of the DNS policy,
 * over libspf2 with a DNS layer of our own: every query libspf2 makes goes
 * out on the policy's c-ares channel (dns_servers, not resolv.conf) and is
 * waited for with rbl_dns_step(), so the list queries progress meanwhile;
 * the whole evaluation is bounded by timeout_dns from MAIL.  libspf2's own
 * resolver (blocking libresolv) is never used.
 *
 * When: rbl_spf_start() (at MAIL, after the sender's list queries are
 * sent) asks for the domain's TXT record at once; rbl_spf_settle() (at the
 * first RCPT, from rbl_score) runs libspf2, whose first lookup is that
 * answer, usually in by then.  A record of ip4/ip6/all only thus adds no
 * round trip to RCPT; each include, a, mx, exists adds one, in series, as
 * SPF requires, each bounded by the same deadline.
 *
 * What libspf2 does not do, done here: the void lookup limit (RFC 7208
 * 4.6.4: more than 2 lookups answering NXDOMAIN or no data are a
 * permerror); and no free pass for a loopback client (libspf2's
 * SPF_request_query_mailfrom gives one; RFC 7208 has none).
 *
 * rbl_spf_start(rs, local, domain) - a new transaction's identity
 *	(domain NULL: the null sender, the HELO name is checked).
 * rbl_spf_settle(rs) - evaluate once per transaction; the result stays in
 *	rs->spf.
 * rbl_spf_free(rs) - drop the answers kept (after ares_cancel).
 * rbl_spf_header(rs), rbl_spf_text(rs), rbl_spf_failed(rs, ...) - for
 *	the session: see rbl.h.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <bsd/string.h>
#include <spf2/spf.h>

#include "iobuf.h"
#include "log.h"
#include "rbl.h"

#define RBL_SPF_VOID_MAX	2	/* RFC 7208 4.6.4 */
#define RBL_SPF_ANSWER_MAX	65535	/* a DNS message */

/* Per process: libspf2's server, with our layer as its resolver. */
static SPF_server_t	*rbl_spf_server;
static SPF_dns_server_t	 rbl_spf_layer;

/* One query under way: what its callback needs to find its slot. */
struct rbl_spf_ask {
	struct rbl_session	*rs;
	int			 slot;
	unsigned		 gen;
};

static const SPF_result_t rbl_spf_libresult[CONF_SPF_COUNT] = {
	[CONF_SPF_PASS] = SPF_RESULT_PASS, [CONF_SPF_FAIL] = SPF_RESULT_FAIL,
	[CONF_SPF_SOFTFAIL] = SPF_RESULT_SOFTFAIL,
	[CONF_SPF_NEUTRAL] = SPF_RESULT_NEUTRAL,
	[CONF_SPF_NONE] = SPF_RESULT_NONE,
	[CONF_SPF_TEMPERROR] = SPF_RESULT_TEMPERROR,
	[CONF_SPF_PERMERROR] = SPF_RESULT_PERMERROR
};

/* rbl_spf_log - libspf2's warnings and errors, into our log */
static void
rbl_spf_log(const char *file, int line, const char *msg)
{
	(void)file, (void)line;
	log_debug("spf: libspf2: %s", msg);
}

/* rbl_spf_fatal - libspf2's internal errors (a broken invariant, never the
 * data): logged, and the process ends (exit 111, the client retries) */
static _Noreturn void
rbl_spf_fatal(const char *file, int line, const char *msg)
{
	fatalx("libspf2: %s:%d: %s", file ? file : "-", line, msg);
}

/* rbl_spf_clean - printable ASCII of src in dst, clamped; the characters
 * of a dot-atom and '@' only when atom, else space too (for comments,
 * without parentheses) */
static void
rbl_spf_clean(char *dst, size_t size, const char *src, int atom)
{
	static const char special[] = "!#$%&'*+-/=?^_`{|}~.@";
	size_t n = 0;

	for (; *src != '\0' && n + 1 < size; src++, n++) {
		unsigned char ch = (unsigned char)*src;
		int ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || strchr(special, ch) != NULL ||
		    (!atom && ch >= 0x20 && ch < 0x7f && ch != '(' && ch != ')');

		dst[n] = ok ? (char)ch : '?';
	}
	dst[n] = '\0';
}

/* rbl_spf_release - forget a slot's answer */
static void
rbl_spf_release(struct rbl_spf_query *q)
{
	free(q->abuf);
	q->abuf = NULL;
	q->alen = 0;
}

/* rbl_spf_free - the answers kept; call after the channel's queries are
 * cancelled (rbl_session_free) */
void
rbl_spf_free(struct rbl_session *rs)
{
	for (int i = 0; i < RBL_SPF_QMAX; i++)
		rbl_spf_release(&rs->spf.q[i]);
}

/* rbl_spf_callback - c-ares' answer to one SPF query: keep it raw */
static void
rbl_spf_callback(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct rbl_spf_ask	 ask = *(struct rbl_spf_ask *)arg;
	struct rbl_spf_query	*q;

	(void)timeouts;
	free(arg);
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
		return;
	q = &ask.rs->spf.q[ask.slot];
	if (q->gen != ask.gen || q->state != RBL_PENDING)
		return;		/* the slot serves a newer query now */
	q->status = status;
	if (status == ARES_SUCCESS && alen > 0 && alen <= RBL_SPF_ANSWER_MAX &&
	    (q->abuf = malloc((size_t)alen)) != NULL) {
		memcpy(q->abuf, abuf, (size_t)alen);
		q->alen = alen;
		q->state = RBL_FOUND;
	} else if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		q->state = RBL_NONE;
	else
		q->state = RBL_ERROR;
}

/* rbl_spf_slot - a slot for a new query: one not waiting, round robin;
 * -1 when all wait */
static int
rbl_spf_slot(struct rbl_spf *sp)
{
	for (int k = 0; k < RBL_SPF_QMAX; k++) {
		int i = (sp->next + k) % RBL_SPF_QMAX;

		if (sp->q[i].gen == 0 || sp->q[i].state != RBL_PENDING ||
		    sp->q[i].stale) {
			sp->next = (i + 1) % RBL_SPF_QMAX;
			return i;
		}
	}
	return -1;
}

/* rbl_spf_ask - send one query; its slot, or -1 when it cannot be sent */
static int
rbl_spf_ask(struct rbl_session *rs, const char *name, int type)
{
	struct rbl_spf		*sp = &rs->spf;
	struct rbl_spf_ask	*ask;
	struct rbl_spf_query	*q;
	int			 slot = rbl_spf_slot(sp);

	if (slot == -1 || (ask = malloc(sizeof(*ask))) == NULL)
		return -1;
	q = &sp->q[slot];
	rbl_spf_release(q);
	memset(q, 0, sizeof(*q));
	q->type = type;
	q->gen = ++sp->gen;
	strlcpy(q->name, name, sizeof(q->name));
	*ask = (struct rbl_spf_ask){ .rs = rs, .slot = slot, .gen = q->gen };
	log_debug("spf: query %s %s", name, rbl_dns_type_name(type));
	if (rbl_dns_send(name, type, rbl_spf_callback, ask) == -1) {
		free(ask);
		q->state = RBL_ERROR;
	}
	return slot;
}

/* rbl_spf_find - this transaction's query of name and type, or -1 */
static int
rbl_spf_find(const struct rbl_spf *sp, const char *name, int type)
{
	for (int i = 0; i < RBL_SPF_QMAX; i++)
		if (sp->q[i].gen != 0 && !sp->q[i].stale &&
		    sp->q[i].type == type && strcasecmp(sp->q[i].name, name) == 0)
			return i;
	return -1;
}

/* rbl_spf_rr_add - one answer of len bytes into rr; -1 out of memory */
static int
rbl_spf_rr_add(SPF_dns_rr_t *rr, const void *data, size_t len)
{
	if (SPF_dns_rr_buf_realloc(rr, rr->num_rr, len + 1) != SPF_E_SUCCESS)
		return -1;
	memcpy(rr->rr[rr->num_rr], data, len);
	((char *)rr->rr[rr->num_rr])[len] = '\0';
	rr->num_rr++;
	return 0;
}

/* rbl_spf_rr_addrs - A or AAAA answers */
static int
rbl_spf_rr_addrs(SPF_dns_rr_t *rr, const struct rbl_spf_query *q)
{
	struct hostent	*he = NULL;
	int		 rc = q->type == ns_t_a ?
	    ares_parse_a_reply(q->abuf, q->alen, &he, NULL, NULL) :
	    ares_parse_aaaa_reply(q->abuf, q->alen, &he, NULL, NULL);

	if (rc != ARES_SUCCESS)
		return rc;
	for (int i = 0; he->h_addr_list[i] != NULL && i < 64; i++)
		if (rbl_spf_rr_add(rr, he->h_addr_list[i],
		    (size_t)he->h_length) == -1)
			break;
	ares_free_hostent(he);
	return ARES_SUCCESS;
}

/* rbl_spf_rr_names - MX hosts or PTR names */
static int
rbl_spf_rr_names(SPF_dns_rr_t *rr, const struct rbl_spf_query *q)
{
	struct ares_mx_reply	*mx = NULL;
	struct hostent		*he = NULL;
	unsigned char		 any[4] = { 0 };
	int			 rc;

	if (q->type == ns_t_mx) {
		if ((rc = ares_parse_mx_reply(q->abuf, q->alen, &mx)) != ARES_SUCCESS)
			return rc;
		for (struct ares_mx_reply *m = mx; m != NULL; m = m->next)
			if (rbl_spf_rr_add(rr, m->host, strlen(m->host)) == -1)
				break;
		ares_free_data(mx);
		return ARES_SUCCESS;
	}
	if ((rc = ares_parse_ptr_reply(q->abuf, q->alen, any, sizeof(any),
	    AF_INET, &he)) != ARES_SUCCESS)
		return rc;
	for (int i = 0; he->h_aliases[i] != NULL && i < 64; i++)
		if (rbl_spf_rr_add(rr, he->h_aliases[i],
		    strlen(he->h_aliases[i])) == -1)
			break;
	if (rr->num_rr == 0)
		rbl_spf_rr_add(rr, he->h_name, strlen(he->h_name));
	ares_free_hostent(he);
	return ARES_SUCCESS;
}

/*
 * rbl_spf_exp_spaces - a text that may be an explanation (RFC 7208 6.2)
 * with each space written "%_": libspf2 1.2.10 mis-reads a literal space
 * in an explanation (it becomes '%' and ends macro expansion); "%_" means
 * the same.  The new length; the text is cut where it would not fit.
 */
static size_t
rbl_spf_exp_spaces(char *rec, size_t n, size_t size)
{
	char	 out[4096] = "";
	size_t	 o = 0;

	for (size_t i = 0; i < n && o + 3 < sizeof(out); i++) {
		if (rec[i] == ' ') {
			out[o++] = '%';
			out[o++] = '_';
		} else
			out[o++] = rec[i];
	}
	if (o >= size)
		o = size - 1;
	memcpy(rec, out, o);
	rec[o] = '\0';
	return o;
}

/* rbl_spf_rr_txt - TXT records, each one string (its parts joined) */
static int
rbl_spf_rr_txt(struct rbl_session *rs, SPF_dns_rr_t *rr,
    const struct rbl_spf_query *q)
{
	struct ares_txt_ext	*txt = NULL;
	char			 rec[4096];
	size_t			 n = 0;
	int			 rc;

	if ((rc = ares_parse_txt_reply_ext(q->abuf, q->alen, &txt)) !=
	    ARES_SUCCESS)
		return rc;
	for (struct ares_txt_ext *t = txt; t != NULL; t = t->next) {
		if (t->record_start)
			n = 0;
		if (n + t->length < sizeof(rec)) {
			memcpy(rec + n, t->txt, t->length);
			n += t->length;
		}
		rec[n] = '\0';
		if (t->next != NULL && !t->next->record_start)
			continue;	/* the record goes on */
		if (strncasecmp(rec, "v=spf1", 6) == 0 &&
		    (rec[6] == '\0' || rec[6] == ' ')) {
			log_debug("spf: %s: record \"%s\"", q->name, rec);
			if (rs->spf.record[0] == '\0')
				rbl_spf_clean(rs->spf.record,
				    sizeof(rs->spf.record), rec, 0);
		} else
			n = rbl_spf_exp_spaces(rec, n, sizeof(rec));
		if (rbl_spf_rr_add(rr, rec, n) == -1)
			break;
	}
	ares_free_data(txt);
	return ARES_SUCCESS;
}

/* rbl_spf_rr - the answer in slot, as libspf2 wants it */
static SPF_dns_rr_t *
rbl_spf_rr(SPF_dns_server_t *d, struct rbl_session *rs, const char *domain,
    ns_type type, const struct rbl_spf_query *q)
{
	SPF_dns_rr_t	*rr;
	int		 rc = ARES_ENODATA;

	if ((rr = SPF_dns_rr_new_init(d, domain, type, 0, q->state ==
	    RBL_NONE && q->status == ARES_ENOTFOUND ? HOST_NOT_FOUND :
	    q->state == RBL_NONE ? NO_DATA : TRY_AGAIN)) == NULL ||
	    q->state != RBL_FOUND)
		return rr;
	if (type == ns_t_a || type == ns_t_aaaa)
		rc = rbl_spf_rr_addrs(rr, q);
	else if (type == ns_t_mx || type == ns_t_ptr)
		rc = rbl_spf_rr_names(rr, q);
	else if (type == ns_t_txt)
		rc = rbl_spf_rr_txt(rs, rr, q);
	if (rc == ARES_SUCCESS && rr->num_rr > 0)
		rr->herrno = NETDB_SUCCESS;
	else if (rc == ARES_SUCCESS || rc == ARES_ENODATA)
		rr->herrno = NO_DATA;
	else
		rr->herrno = TRY_AGAIN;		/* a reply we cannot read */
	return rr;
}

/* rbl_spf_void - count a void lookup (RFC 7208 4.6.4; the record's own
 * TXT lookup is not one) */
static void
rbl_spf_void(struct rbl_spf *sp, const SPF_dns_rr_t *rr, ns_type type)
{
	if (rr == NULL || type == ns_t_txt || (rr->herrno != HOST_NOT_FOUND &&
	    rr->herrno != NO_DATA))
		return;
	if (++sp->voids > RBL_SPF_VOID_MAX && !sp->void_limit) {
		sp->void_limit = 1;
		log_debug("spf: %s: void lookup %d: over the limit of %d",
		    rr->domain, sp->voids, RBL_SPF_VOID_MAX);
	}
}

/*
 * rbl_spf_lookup - libspf2's lookup function: the answer on our channel,
 * waited for no later than the transaction's SPF deadline (TRY_AGAIN
 * then: a temperror).  Type 99 is obsolete (RFC 7208 3.1): no data,
 * without asking.  Past the void lookup limit: NXDOMAIN, without asking.
 */
static SPF_dns_rr_t *
rbl_spf_lookup(SPF_dns_server_t *d, const char *domain, ns_type type,
    int should_cache)
{
	struct rbl_session	*rs = d->hook;
	struct rbl_spf		*sp = &rs->spf;
	SPF_dns_rr_t		*rr;
	int			 slot;

	(void)should_cache;
	if (type == ns_t_spf)
		return SPF_dns_rr_new_init(d, domain, type, 0, NO_DATA);
	if (sp->void_limit)
		return SPF_dns_rr_new_init(d, domain, type, 0, HOST_NOT_FOUND);
	if ((slot = rbl_spf_find(sp, domain, type)) == -1 &&
	    (slot = rbl_spf_ask(rs, domain, type)) == -1)
		return SPF_dns_rr_new_init(d, domain, type, 0, TRY_AGAIN);
	while (sp->q[slot].state == RBL_PENDING && iobuf_now() < sp->deadline)
		rbl_dns_step(sp->deadline);
	if (sp->q[slot].state == RBL_PENDING) {
		log_debug("spf: %s: no answer within timeout_dns", domain);
		sp->timedout = 1;
		return SPF_dns_rr_new_init(d, domain, type, 0, TRY_AGAIN);
	}
	rr = rbl_spf_rr(d, rs, domain, type, &sp->q[slot]);
	rbl_spf_void(sp, rr, type);
	return rr;
}

/* rbl_spf_server_ready - libspf2's server, once per process */
static int
rbl_spf_server_ready(const struct conf *c)
{
	SPF_response_t *resp = NULL;

	if (rbl_spf_server != NULL)
		return 0;
	SPF_error_handler = rbl_spf_fatal;
	SPF_warning_handler = rbl_spf_log;
	SPF_info_handler = rbl_spf_log;
	SPF_debug_handler = rbl_spf_log;
	rbl_spf_layer = (SPF_dns_server_t){ .destroy = NULL,
	    .lookup = rbl_spf_lookup, .name = "smtpproxy" };
	if ((rbl_spf_server = SPF_server_new_dns(&rbl_spf_layer, 0)) == NULL)
		return -1;
	SPF_server_set_rec_dom(rbl_spf_server, c->hostname);
	SPF_server_set_sanitize(rbl_spf_server, 1);
	SPF_server_set_explanation(rbl_spf_server, "%{o}%_does%_not%_designate"
	    "%_%{i}%_as%_a%_permitted%_sender", &resp);
	SPF_response_free(resp);
	return 0;
}

/* rbl_spf_start - a new transaction: its identity, and its record's TXT
 * lookup sent now (domain NULL: the null sender, the HELO name) */
void
rbl_spf_start(struct rbl_session *rs, const char *local, const char *domain)
{
	struct rbl_spf *sp = &rs->spf;

	if (!rs->conf->spf)
		return;
	for (int i = 0; i < RBL_SPF_QMAX; i++) {
		sp->q[i].stale = 1;
		rbl_spf_release(&sp->q[i]);
	}
	sp->started = 1;
	sp->done = 0;
	sp->voids = sp->void_limit = sp->timedout = 0;
	sp->record[0] = sp->explanation[0] = sp->header[0] = '\0';
	sp->helo_identity = domain == NULL;
	sp->deadline = iobuf_now() + rs->conf->timeout_dns;
	if (domain == NULL)
		domain = rs->helo;
	snprintf(sp->sender, sizeof(sp->sender), "%s%s%s",
	    sp->helo_identity || local == NULL ? "" : local,
	    sp->helo_identity ? "" : "@", sp->helo_identity ? "" : domain);
	strlcpy(sp->domain, domain[0] == '[' || rbl_helo_numeric(domain) ? "" :
	    domain, sizeof(sp->domain));
	if (sp->domain[0] != '\0')
		rbl_spf_ask(rs, sp->domain, ns_t_txt);
}

/* rbl_spf_request - the request for this transaction; NULL: no memory */
static SPF_request_t *
rbl_spf_request(const struct rbl_session *rs)
{
	const struct rbl_spf	*sp = &rs->spf;
	SPF_request_t		*req = SPF_request_new(rbl_spf_server);

	if (req == NULL)
		return NULL;
	if ((rs->family == AF_INET ? SPF_request_set_ipv4_str(req, rs->client) :
	    SPF_request_set_ipv6_str(req, rs->client)) != SPF_E_SUCCESS ||
	    (rs->helo[0] != '\0' &&
	    SPF_request_set_helo_dom(req, rs->helo) != SPF_E_SUCCESS) ||
	    SPF_request_set_env_from(req, sp->helo_identity ? "" : sp->sender) !=
	    SPF_E_SUCCESS) {
		SPF_request_free(req);
		return NULL;
	}
	/* SPF_request_query_mailfrom without its loopback free pass */
	req->use_helo = (char)sp->helo_identity;
	req->cur_dom = sp->helo_identity ? req->helo_dom : req->env_from_dp;
	return req;
}

/* rbl_spf_run - libspf2's evaluation; its result, or -1 */
static int
rbl_spf_run(struct rbl_session *rs, SPF_request_t *req, SPF_response_t **rp)
{
	SPF_record_t	*rec = NULL;
	SPF_errcode_t	 err;

	if ((*rp = SPF_response_new(req)) == NULL)
		return -1;
	rbl_spf_layer.hook = rs;
	err = SPF_server_get_record(rbl_spf_server, req, *rp, &rec);
	if (err == SPF_E_SUCCESS) {
		(*rp)->spf_record_exp = rec;
		SPF_record_interpret(rec, req, *rp, 0);
	} else
		SPF_i_done(*rp, (*rp)->result, (*rp)->reason, (*rp)->err);
	if (rec != NULL)
		SPF_record_free(rec);
	rbl_spf_layer.hook = NULL;
	return SPF_response_result(*rp);
}

/* rbl_spf_result - libspf2's result in ours, with the limits it lacks */
static enum conf_spf_result
rbl_spf_result(const struct rbl_spf *sp, int lib, SPF_response_t *resp)
{
	int r;

	if (sp->void_limit)
		return CONF_SPF_PERMERROR;
	/* a timed-out lookup behind a definite result was an exp= or a
	 * ptr name's (RFC 7208 6.2, 5.5: ignored); else it is the cause */
	if (sp->timedout && lib != SPF_RESULT_PASS && lib != SPF_RESULT_FAIL &&
	    lib != SPF_RESULT_SOFTFAIL && lib != SPF_RESULT_NEUTRAL)
		return CONF_SPF_TEMPERROR;
	for (r = 0; r < CONF_SPF_COUNT; r++)
		if ((int)rbl_spf_libresult[r] == lib)
			return r;
	/* no valid record found is "none" only when there is none */
	if (resp != NULL && SPF_response_errcode(resp) == SPF_E_DNS_ERROR)
		return CONF_SPF_TEMPERROR;
	return CONF_SPF_PERMERROR;
}

/* rbl_spf_why - the reason of a permerror or temperror, for the comment */
static const char *
rbl_spf_why(const struct rbl_spf *sp, SPF_response_t *resp)
{
	if (sp->void_limit)
		return "too many void DNS lookups";
	if (sp->timedout)
		return "DNS timeout";
	if (resp == NULL)
		return "out of memory";
	return SPF_strerror(SPF_response_errcode(resp));
}

/* rbl_spf_comment - the RFC 7208 9.1 comment of a result */
static void
rbl_spf_comment(struct rbl_spf *sp, const char *ip, const char *why)
{
	char d[300];

	rbl_spf_clean(d, sizeof(d), sp->domain, 1);
	switch (sp->result) {
	case CONF_SPF_PASS:
		snprintf(sp->comment, sizeof(sp->comment), "domain of %s "
		    "designates %s as permitted sender", d, ip);
		break;
	case CONF_SPF_FAIL:
	case CONF_SPF_SOFTFAIL:
		snprintf(sp->comment, sizeof(sp->comment), "%sdomain of %s does "
		    "not designate %s as permitted sender", sp->result ==
		    CONF_SPF_SOFTFAIL ? "transitioning " : "", d, ip);
		break;
	case CONF_SPF_NEUTRAL:
		snprintf(sp->comment, sizeof(sp->comment), "%s is neither "
		    "permitted nor denied by domain of %s", ip, d);
		break;
	case CONF_SPF_NONE:
		snprintf(sp->comment, sizeof(sp->comment), d[0] ? "domain of %s "
		    "does not provide an SPF record" : "no domain to check%s", d);
		break;
	default:
		snprintf(sp->comment, sizeof(sp->comment), "error in processing "
		    "the record of %s: %s", d, why);
		break;
	}
}

/* rbl_spf_headers - the Received-SPF header (RFC 7208 9.1), folded, every
 * value cleaned (no CR, LF or other control byte can get in) */
static void
rbl_spf_headers(struct rbl_session *rs)
{
	struct rbl_spf	*sp = &rs->spf;
	char		 from[300], helo[260], host[260], comment[400];

	rbl_spf_clean(from, sizeof(from), sp->sender, 1);
	rbl_spf_clean(helo, sizeof(helo), rs->helo, 1);
	rbl_spf_clean(host, sizeof(host), rs->conf->hostname, 1);
	rbl_spf_clean(comment, sizeof(comment), sp->comment, 0);
	snprintf(sp->header, sizeof(sp->header), "Received-SPF: %s (%s: %s)\r\n"
	    "\tclient-ip=%s;%s%s%s%s%s%s\r\n\treceiver=%s; identity=%s",
	    rbl_spf_result_names[sp->result], host, comment, rs->client,
	    from[0] ? " envelope-from=" : "", from, from[0] ? ";" : "",
	    helo[0] ? " helo=" : "", helo, helo[0] ? ";" : "", host,
	    sp->helo_identity ? "helo" : "mailfrom");
}

/* rbl_spf_settle - evaluate this transaction's SPF once (bounded by its
 * deadline); the result, its explanation and header stay in rs->spf */
void
rbl_spf_settle(struct rbl_session *rs)
{
	struct rbl_spf	*sp = &rs->spf;
	SPF_request_t	*req = NULL;
	SPF_response_t	*resp = NULL;
	int		 lib = -1;

	if (!rs->conf->spf || !sp->started || sp->done)
		return;
	sp->done = 1;
	if (sp->domain[0] == '\0')
		sp->result = CONF_SPF_NONE;
	else if (rbl_spf_server_ready(rs->conf) == -1 ||
	    (req = rbl_spf_request(rs)) == NULL)
		sp->result = CONF_SPF_TEMPERROR;
	else {
		lib = rbl_spf_run(rs, req, &resp);
		sp->result = rbl_spf_result(sp, lib, resp);
	}
	if (sp->result == CONF_SPF_FAIL && resp != NULL &&
	    SPF_response_get_explanation(resp) != NULL)
		rbl_spf_clean(sp->explanation, sizeof(sp->explanation),
		    SPF_response_get_explanation(resp), 0);
	rbl_spf_comment(sp, rs->client, rbl_spf_why(sp, resp));
	rbl_spf_headers(rs);
	log_info("event=spf client=%s identity=%s domain=%s result=%s "
	    "reason=\"%s\"", rs->client, sp->helo_identity ? "helo" : "mailfrom",
	    sp->domain[0] ? sp->domain : "-", rbl_spf_result_names[sp->result],
	    sp->comment);
	SPF_response_free(resp);
	SPF_request_free(req);
}

/* rbl_spf_header - the Received-SPF header of this transaction, or NULL */
const char *
rbl_spf_header(const struct rbl_session *rs)
{
	return rs->spf.done && rs->decided ? rs->spf.header : NULL;
}

/* rbl_spf_text - the last SPF result, "-" when none, for the summary */
const char *
rbl_spf_text(const struct rbl_session *rs)
{
	return rs->spf.done ? rbl_spf_result_names[rs->spf.result] : "-";
}

/* rbl_spf_failed - 1 when this transaction's SPF result is fail, with the
 * explanation (cleaned, clamped) in why; call after rbl_decide */
int
rbl_spf_failed(const struct rbl_session *rs, char *why, size_t size)
{
	const struct rbl_spf *sp = &rs->spf;

	if (!sp->done || sp->result != CONF_SPF_FAIL)
		return 0;
	strlcpy(why, sp->explanation[0] ? sp->explanation : sp->comment, size);
	return 1;
}
