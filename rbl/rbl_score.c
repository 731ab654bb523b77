/*
 * rbl_score.c: the policy: each DNS list and heuristic read from the
 * session's answers (rbl_dns.c), weighted, summed, and the verdict.  It
 * decides; it does not word the reply (smtp/ does, from the verdict).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "log.h"
#include "rbl.h"

/* A check's outcome for the score. */
enum rbl_outcome { V_SKIP, V_HIT, V_MISS };

static const char *const rbl_result_names[] = {
	[RBL_ACCEPT] = "accept", [RBL_REJECT] = "reject",
	[RBL_TEMPFAIL] = "tempfail", [RBL_DEFER] = "defer"
};

/* rbl_add - one check and its weight, on the score line */
static void
rbl_add(struct rbl_verdict *v, const char *what, double w)
{
	size_t n = strlen(v->checks);

	snprintf(v->checks + n, sizeof(v->checks) - n, "%s%s=%.2f",
	    n ? " " : "", what, w);
	v->score += w;
}

/* rbl_append - item to a ", " separated list */
static void
rbl_append(char *buf, size_t size, const char *item)
{
	if (buf[0] != '\0')
		strlcat(buf, ", ", size);
	strlcat(buf, item, size);
}

/* rbl_score_lists - each zone of a list: listed, not listed, not asked or
 * a DNS error (never a listing) */
static void
rbl_score_lists(struct rbl_session *rs, struct rbl_verdict *v,
    enum rbl_kind kind, const struct conf_zones *zs, const char *label)
{
	char what[400];

	for (int i = 0; i < zs->n; i++) {
		const struct conf_zone	*z = &zs->z[i];
		struct rbl_query	*q = rbl_find(rs, kind, i);

		if (q == NULL) {
			snprintf(what, sizeof(what), "NOTASKED(%s)", z->zone);
			rbl_add(v, what, 0);
			v->unasked++;
		} else if (q->state == RBL_ERROR || q->state == RBL_PENDING) {
			snprintf(what, sizeof(what), "DNSERR(%s)", z->zone);
			rbl_add(v, what, 0);
			v->errors++;
		} else if (q->hit) {
			snprintf(what, sizeof(what), "IN_%s(%s)", label, z->zone);
			rbl_add(v, what, z->hit);
			if (kind != RBL_Q_DNSWL) {
				v->hits++;
				rbl_append(v->lists, sizeof(v->lists), z->zone);
				if (v->txt[0] == '\0')
					strlcpy(v->txt, q->txt, sizeof(v->txt));
			} else
				v->wl_hits++;
		} else {
			snprintf(what, sizeof(what), "NOT_IN_%s(%s)", label,
			    z->zone);
			rbl_add(v, what, z->miss);
		}
	}
}

/* rbl_v_helo - the HELO name: numeric, resolving, naming the client */
static enum rbl_outcome
rbl_v_helo(struct rbl_session *rs, enum conf_heuristic h)
{
	struct rbl_query	*a = rbl_find(rs, RBL_Q_HELO_A, 0);
	struct rbl_query	*aaaa = rbl_find(rs, RBL_Q_HELO_AAAA, 0);
	int			 n = rbl_naddr(a) + rbl_naddr(aaaa);
	const char		*helo = rs->helo;

	if (helo[0] == '\0')
		return V_SKIP;
	if (h == CONF_H_HELO_NUMERIC)
		return rbl_helo_numeric(helo) ? V_HIT : V_MISS;
	if (rbl_helo_numeric(helo)) {
		char lit[256];

		if (h != CONF_H_CLIENT_IP_NE_HELO)
			return V_SKIP;
		snprintf(lit, sizeof(lit), "%s", helo + (helo[0] == '['));
		lit[strcspn(lit, "]")] = '\0';
		return strcasecmp(lit + (strncasecmp(lit, "IPv6:", 5) ? 0 : 5),
		    rs->client) == 0 ? V_MISS : V_HIT;
	}
	if (a == NULL || aaaa == NULL)
		return V_SKIP;		/* not asked: c-ares failed */
	if (h == CONF_H_HELO_NO_RESOLVE)
		return n > 0 ? V_MISS : (rbl_is(a, RBL_ERROR) ||
		    rbl_is(aaaa, RBL_ERROR) ? V_SKIP : V_HIT);
	if (n == 0)
		return V_SKIP;
	return rbl_has_client(rs, a) || rbl_has_client(rs, aaaa) ? V_MISS :
	    V_HIT;
}

/* rbl_v_rdns - the client's name: there, forward-confirmed, dynamic */
static enum rbl_outcome
rbl_v_rdns(struct rbl_session *rs, enum conf_heuristic h)
{
	struct rbl_query *ptr = rbl_find(rs, RBL_Q_PTR, 0);
	struct rbl_query *fc = rbl_find(rs, RBL_Q_FCRDNS, 0);

	if (ptr == NULL || ptr->state == RBL_ERROR || ptr->state == RBL_PENDING)
		return V_SKIP;
	if (h == CONF_H_CLIENT_SEEMS_DIALUP)
		return ptr->state != RBL_FOUND ? V_SKIP :
		    rbl_looks_dialup(ptr->name, rs->client) ? V_HIT : V_MISS;
	if (ptr->state == RBL_NONE)
		return V_HIT;
	if (fc == NULL || fc->state == RBL_ERROR || fc->state == RBL_PENDING)
		return V_SKIP;
	return rbl_has_client(rs, fc) ? V_MISS : V_HIT;
}

/* rbl_v_sender - the sender: a random local part, a domain without mail */
static enum rbl_outcome
rbl_v_sender(struct rbl_session *rs, enum conf_heuristic h)
{
	struct rbl_query *mx = rbl_find(rs, RBL_Q_SENDER_MX, 0);
	struct rbl_query *a = rbl_find(rs, RBL_Q_SENDER_A, 0);

	if (!rs->started[RBL_B_SENDER] || rs->null_sender)
		return V_SKIP;
	if (h == CONF_H_RANDOM_SENDER)
		return rs->local[0] == '\0' ? V_SKIP :
		    rbl_looks_random(rs->local) ? V_HIT : V_MISS;
	if (mx == NULL || a == NULL)
		return V_SKIP;
	if (rbl_is(mx, RBL_FOUND) || rbl_naddr(a) > 0)
		return V_MISS;
	return rbl_is(mx, RBL_NONE) && rbl_is(a, RBL_NONE) ? V_HIT : V_SKIP;
}

/* rbl_outcome - one heuristic's outcome */
static enum rbl_outcome
rbl_outcome(struct rbl_session *rs, enum conf_heuristic h)
{
	switch (h) {
	case CONF_H_HELO_NUMERIC:
	case CONF_H_HELO_NO_RESOLVE:
	case CONF_H_CLIENT_IP_NE_HELO:
		return rbl_v_helo(rs, h);
	case CONF_H_CLIENT_NO_RDNS:
	case CONF_H_CLIENT_SEEMS_DIALUP:
		return rbl_v_rdns(rs, h);
	default:
		return rbl_v_sender(rs, h);
	}
}

/* rbl_score_heuristics - each heuristic not off and not skipped */
static void
rbl_score_heuristics(struct rbl_session *rs, struct rbl_verdict *v)
{
	char what[64];

	for (int h = 0; h < CONF_H_COUNT; h++) {
		const struct conf_weight	*w = &rs->conf->weight[h];
		enum rbl_outcome		 o;
		int				 i;

		if (w->off || (o = rbl_outcome(rs, h)) == V_SKIP)
			continue;
		snprintf(what, sizeof(what), "%s%s", o == V_HIT ? "" : "NOT_",
		    rbl_heuristic_names[h]);
		for (i = 0; what[i] != '\0'; i++)
			what[i] = (char)toupper((unsigned char)what[i]);
		rbl_add(v, what, o == V_HIT ? w->hit : w->miss);
		if (o == V_HIT)
			rbl_append(v->names, sizeof(v->names),
			    rbl_heuristic_names[h]);
	}
}

/* rbl_score_spf - the SPF result's weight: SPF_FAIL=3.5 */
static void
rbl_score_spf(struct rbl_session *rs, struct rbl_verdict *v)
{
	char what[32];

	if (!rs->spf.done)
		return;
	snprintf(what, sizeof(what), "SPF_%s",
	    rbl_spf_result_names[rs->spf.result]);
	for (int i = 0; what[i] != '\0'; i++)
		what[i] = (char)toupper((unsigned char)what[i]);
	rbl_add(v, what, rs->conf->spf_weight[rs->spf.result]);
}

/* rbl_result - the verdict for a score: too many listings, the reject
 * score, a DNS failure (dns_error_action), the defer score, or accept */
static void
rbl_result(const struct conf *c, struct rbl_verdict *v)
{
	v->result = RBL_ACCEPT;
	if (v->hits > c->max_dnsbl_hits) {
		v->result = RBL_REJECT;
		v->too_many_lists = 1;
	} else if (v->score >= c->reject_score)
		v->result = RBL_REJECT;
	else if (v->unasked > 0 || (v->errors > 0 &&
	    c->dns_error_action == CONF_DNSERR_DEFER))
		v->result = RBL_TEMPFAIL;
	else if (v->score >= c->defer_score)
		v->result = RBL_DEFER;
}

/* rbl_score - score the transaction once, log it, keep its header */
static void
rbl_score(struct rbl_session *rs)
{
	const struct conf	*c = rs->conf;
	struct rbl_verdict	*v = &rs->verdict;

	memset(v, 0, sizeof(*v));
	rbl_spf_settle(rs);	/* its waits let the lists' answers in too */
	rbl_dns_settle(rs);
	rbl_score_lists(rs, v, RBL_Q_DNSBL, &c->dnsbl, "DNSBL");
	rbl_score_lists(rs, v, RBL_Q_DNSWL, &c->dnswl, "DNSWL");
	if (rs->started[RBL_B_SENDER] && rs->sender_lookups)
		rbl_score_lists(rs, v, RBL_Q_RHSBL, &c->rhsbl, "RHSBL");
	if (c->dnsbl.n + c->dnswl.n + c->rhsbl.n > 0 || c->weights_given)
		rbl_score_heuristics(rs, v);	/* not for spf alone */
	rbl_score_spf(rs, v);
	for (int b = RBL_B_CLIENT; b < RBL_B_CHECK; b++)
		v->unasked += rs->started[b] ? rs->unasked[b] : 0;
	if (rs->style_score != 0)
		rbl_add(v, "HELO_STYLE", rs->style_score);
	rbl_result(c, v);
	log_info("event=score client=%s score=%.2f result=%s checks=\"%s\"",
	    rs->client, v->score, rbl_result_names[v->result], v->checks);
	snprintf(rs->hdr, sizeof(rs->hdr), "X-Smtpproxy-Score: %.2f (%s)",
	    v->score, v->checks);
	snprintf(rs->last, sizeof(rs->last), "%.2f", v->score);
	rs->decided = 1;
}

/* rbl_decide - this transaction's verdict, scored at its first RCPT */
const struct rbl_verdict *
rbl_decide(struct rbl_session *rs)
{
	if (rs->conf == NULL || !conf_dns_policy(rs->conf))
		return &rs->verdict;	/* never scored: RBL_ACCEPT */
	if (!rs->decided)
		rbl_score(rs);
	return &rs->verdict;
}

/* rbl_add_style_score - the X HELO style flag: a fixed amount more on
 * this session's score */
void
rbl_add_style_score(struct rbl_session *rs, double score)
{
	rs->style_score = score;
}

/* rbl_score_text - the last score, "-" before any */
const char *
rbl_score_text(const struct rbl_session *rs)
{
	return rs->last;
}

/* rbl_header - the X-Smtpproxy-Score line of the last decision, or NULL */
const char *
rbl_header(const struct rbl_session *rs)
{
	return rs->decided && rs->conf->add_score_header ? rs->hdr : NULL;
}
