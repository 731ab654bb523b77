/* test_rbl: query names, the name guesses, zone lines and their filters,
 * and a session's state without the DNS policy. */
#include <sys/socket.h>

#include "conf/conf.h"
#include "rbl/rbl.h"
#include "unit.h"

static void
test_reverse(void)
{
	char buf[256];

	unit_ok(rbl_reverse("192.0.2.1", "dnsbl.test", buf, sizeof(buf)) == 0,
	    "IPv4 name built");
	unit_str(buf, "1.2.0.192.dnsbl.test", "IPv4 octets reversed");
	unit_ok(rbl_reverse("2001:db8::1", "zone.test", buf, sizeof(buf)) == 0,
	    "IPv6 name built");
	unit_str(buf, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0."
	    "1.0.0.2.zone.test", "IPv6: 32 nibbles reversed");
	unit_ok(rbl_reverse("127.0.0.2", "in-addr.arpa", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "2.0.0.127.in-addr.arpa") == 0, "PTR name");
	unit_ok(rbl_reverse("not-an-ip", "z", buf, sizeof(buf)) == -1,
	    "bad address refused");
	unit_ok(rbl_reverse("2001:db8::1", "z", buf, 20) == -1,
	    "short buffer refused");
}

static void
test_guesses(void)
{
	static const struct { const char *s; int random; } locals[] = {
		{ "john.smith", 0 }, { "info", 0 }, { "postmaster", 0 },
		{ "xkqzrtpw", 1 }, { "a8f3k2j9", 1 }, { "newsletter2024", 0 },
		{ "bcdfghjk.lm", 1 }, { "marketing-team", 0 },
	};
	static const struct { const char *name, *ip; int dyn; } hosts[] = {
		{ "mail.example.org", "192.0.2.25", 0 },
		{ "dyn-127-0-0-6.pool.test", "127.0.0.6", 1 },
		{ "host-2-25.isp.example", "192.0.2.25", 1 },
		{ "25.2.0.192.broadband.example", "192.0.2.25", 1 },
		{ "adsl.example.net", "198.51.100.7", 1 },
		{ "smtp.dynamo-corp.example", "198.51.100.7", 0 },
		{ "mx1.example.com", "198.51.100.7", 0 },
	};
	char name[128];

	for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++) {
		snprintf(name, sizeof(name), "'%s' %s random", locals[i].s,
		    locals[i].random ? "looks" : "does not look");
		unit_ok(rbl_looks_random(locals[i].s) == locals[i].random, name);
	}
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		snprintf(name, sizeof(name), "'%s' %s dynamic", hosts[i].name,
		    hosts[i].dyn ? "looks" : "does not look");
		unit_ok(rbl_looks_dialup(hosts[i].name, hosts[i].ip) ==
		    hosts[i].dyn, name);
	}
}

static void
errf(const char *msg)
{
	printf("# %s\n", msg);
}

static void
test_zones(void)
{
	struct conf	 c;
	unsigned char	 a2[4] = { 127, 0, 0, 2 }, a4[4] = { 127, 0, 0, 4 };
	unsigned char	 a12[4] = { 127, 0, 0, 12 }, a1_2[4] = { 127, 0, 1, 2 };

	conf_init(&c);
	unit_ok(!conf_dns_policy(&c), "no list, no weight: no DNS policy");
	unit_ok(conf_set(&c, "dnsbl", "Zen.Example 4.35 -1.5", "-o", errf) == 0,
	    "zone line without filter");
	unit_ok(conf_dns_policy(&c), "a list turns the policy on");
	unit_str(c.dnsbl.z[0].zone, "zen.example", "zone in lower case");
	unit_ok(c.dnsbl.z[0].hit == 4.35 && c.dnsbl.z[0].miss == -1.5,
	    "weights");
	unit_ok(rbl_filter_match(&c.dnsbl.z[0], a12), "no filter: any answer");
	unit_ok(conf_set(&c, "dnsbl", "f.example 1 0 =127.0.0.[2..3;10..11]",
	    "-o", errf) == 0, "filter with ranges");
	unit_ok(rbl_filter_match(&c.dnsbl.z[1], a2) &&
	    !rbl_filter_match(&c.dnsbl.z[1], a4) &&
	    !rbl_filter_match(&c.dnsbl.z[1], a12), "range filter matches");
	unit_ok(conf_set(&c, "dnsbl", "g.example 1 0 =127.0.*.2", "-o",
	    errf) == 0 && rbl_filter_match(&c.dnsbl.z[2], a1_2) &&
	    !rbl_filter_match(&c.dnsbl.z[2], a4), "wildcard octet");
	unit_ok(conf_set(&c, "dnsbl", "h.example 1 0 =127.0.0.4", "-o",
	    errf) == 0 && rbl_filter_match(&c.dnsbl.z[3], a4) &&
	    !rbl_filter_match(&c.dnsbl.z[3], a2), "single address");
	unit_ok(conf_set(&c, "dnsbl", "bad.example 1", "-o", errf) == -1,
	    "missing weight refused");
	unit_ok(conf_set(&c, "dnsbl", "bad.example 1 x", "-o", errf) == -1,
	    "bad weight refused");
	unit_ok(conf_set(&c, "dnsbl", "bad.example 1 0 =127.0.0.[3..2]", "-o",
	    errf) == -1, "backward range refused");
	unit_ok(conf_set(&c, "dnsbl", "bad.example 1 0 =127.0.0", "-o",
	    errf) == -1, "short filter refused");
	unit_ok(conf_set(&c, "dnsbl", "bad.example 1 0 127.0.0.2", "-o",
	    errf) == -1, "filter without '=' refused");
	unit_ok(conf_set(&c, "weight", "bogus_mx 3 -1", "-o", errf) == 0 &&
	    c.weight[CONF_H_BOGUS_MX].hit == 3, "weight override");
	unit_ok(conf_set(&c, "weight", "random_sender off", "-o", errf) == 0 &&
	    c.weight[CONF_H_RANDOM_SENDER].off, "weight off");
	unit_ok(conf_set(&c, "weight", "nosuch 1 1", "-o", errf) == -1,
	    "unknown check refused");
	unit_ok(c.weight[CONF_H_HELO_NUMERIC].hit == 2.5 &&
	    c.weight[CONF_H_CLIENT_IP_NE_HELO].miss == -1.25,
	    "policyd-weight defaults");
	unit_ok(conf_set(&c, "defer_score", "3", "-o", errf) == 0 &&
	    conf_check(&c, errf) == -1, "defer_score above reject_score refused");
	conf_free(&c);
}

/* spf_weights: defaults, overrides, what is refused; spf turns the
 * policy on */
static void
test_spf_weights(void)
{
	static const struct {
		const char	*line;
		int		 ok;
		double		 fail, pass, softfail;
	} t[] = {
		{ "pass=-0.5 fail=3.5 softfail=1.5", 1, 3.5, -0.5, 1.5 },
		{ "fail=5", 1, 5, -0.5, 1.5 },	/* the others: defaults */
		{ "", 1, 3.5, -0.5, 1.5 },
		{ "  softfail=-1   pass=0 ", 1, 3.5, 0, -1 },
		{ "fail", 0, 0, 0, 0 },
		{ "fail=", 0, 0, 0, 0 },
		{ "fail=x", 0, 0, 0, 0 },
		{ "hardfail=1", 0, 0, 0, 0 },
		{ "fail=1e999", 0, 0, 0, 0 },
	};
	double	 w[CONF_SPF_COUNT];
	char	 why[256], name[300];
	struct conf c;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = rbl_spf_weights_parse(t[i].line, w, why, sizeof(why));

		snprintf(name, sizeof(name), "spf_weights '%s' %s", t[i].line,
		    t[i].ok ? "read" : "refused");
		unit_ok(t[i].ok ? rc == 0 && w[CONF_SPF_FAIL] == t[i].fail &&
		    w[CONF_SPF_PASS] == t[i].pass &&
		    w[CONF_SPF_SOFTFAIL] == t[i].softfail &&
		    w[CONF_SPF_PERMERROR] == 0.5 : rc == -1, name);
	}
	conf_init(&c);
	unit_ok(!c.spf && c.spf_weight[CONF_SPF_FAIL] == 3.5 &&
	    c.spf_reject == CONF_SPF_REJECT_NO &&
	    c.spf_mode == CONF_FAMILY_INHERIT, "spf defaults");
	unit_ok(conf_set(&c, "spf", "yes", "-o", errf) == 0 &&
	    conf_dns_policy(&c), "spf alone turns the DNS policy on");
	unit_ok(conf_set(&c, "spf_mode", "test", "-o", errf) == 0 &&
	    conf_policy_test(&c, CONF_POLICY_SPF) &&
	    !conf_policy_test(&c, CONF_POLICY_DNS), "spf_mode test is SPF's own");
	conf_free(&c);
}

static void
test_numeric(void)
{
	unit_ok(rbl_helo_numeric("[192.0.2.1]"), "address literal is numeric");
	unit_ok(rbl_helo_numeric("192.0.2.1"), "dotted digits are numeric");
	unit_ok(rbl_helo_numeric(""), "empty HELO counts as numeric");
	unit_ok(!rbl_helo_numeric("mail.example.org"), "a name is not numeric");
	unit_ok(!rbl_helo_numeric("192.0.2.1a"), "a letter makes a name");
}

/* Without lists or weights: nothing asked, nothing scored, accept. */
static void
test_session_off(void)
{
	struct conf			 c;
	struct rbl_session		*rs;
	const struct rbl_verdict	*v;

	conf_init(&c);
	rbl_init(&c);
	unit_ok((rs = rbl_session_new(&c)) != NULL, "session state made");
	if (rs == NULL)
		return;
	unit_str(rbl_score_text(rs), "-", "no score before a decision");
	rbl_start_client(rs, "192.0.2.1", AF_INET);
	rbl_start_helo(rs, "mail.example.org");
	rbl_start_sender(rs, "someone", "example.org");
	v = rbl_decide(rs);
	unit_ok(v->result == RBL_ACCEPT && v->score == 0 && v->hits == 0,
	    "policy off: accept");
	unit_ok(rbl_header(rs) == NULL, "policy off: no score header");
	unit_ok(rbl_client_name(rs) == NULL, "policy off: no client name");
	unit_ok(rbl_domain_exists(rs, "[192.0.2.1]") == 1,
	    "an address literal exists without DNS");
	rbl_session_free(rs);
	conf_free(&c);
}

int
main(void)
{
	test_reverse();
	test_guesses();
	test_zones();
	test_numeric();
	test_spf_weights();
	test_session_off();
	return unit_done();
}
