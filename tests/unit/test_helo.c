/* test_helo: the glob of HELO styles, style lines, HELO syntax. */
#include "conf/conf.h"
#include "smtp/smtp.h"
#include "unit.h"

struct glob_case {
	const char	*pat, *s;
	int		 match;
};

static const struct glob_case globs[] = {
	{ "*", "anything.example", 1 },
	{ "*", "", 1 },
	{ "localhost", "LOCALHOST", 1 },
	{ "*.example.org", "mx.example.org", 1 },
	{ "*.example.org", "example.org", 0 },
	{ "mx?.example", "mx1.example", 1 },
	{ "mx?.example", "mx12.example", 0 },
	{ "\\[*\\]", "[192.0.2.1]", 1 },
	{ "\\[*\\]", "192.0.2.1", 0 },
	{ "[0-9]*", "1host", 1 },
	{ "[0-9]*", "host1", 0 },
	{ "[!0-9]*", "host1", 1 },
	{ "[a-c]x", "Bx", 1 },
	{ "a\\*b", "a*b", 1 },
	{ "a\\*b", "axb", 0 },
	{ "*[", "x[", 1 },
	{ "*dsl*", "host.adsl.isp.example", 1 },
	{ "**.test", "a.b.test", 1 },
};

static void
test_glob(void)
{
	char name[128];

	for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++) {
		snprintf(name, sizeof(name), "'%s' %s '%s'", globs[i].pat,
		    globs[i].match ? "matches" : "does not match", globs[i].s);
		unit_ok(smtp_glob(globs[i].pat, globs[i].s) == globs[i].match,
		    name);
	}
}

static void
errf(const char *msg)
{
	printf("# %s\n", msg);
}

static void
test_styles(void)
{
	struct conf		 c;
	struct conf_style	 st;
	char			 why[256];
	const struct conf_style	*m;

	unit_ok(conf_style_parse("localhost 999 ftveR", &st, why,
	    sizeof(why)) == 0 && st.maxload == 999 &&
	    strcmp(st.flags, "ftveR") == 0, "pattern maxload flags");
	unit_ok(conf_style_parse("*.bad 999 !NO EMAIL ACCEPTED", &st, why,
	    sizeof(why)) == 0 && st.refuse &&
	    strcmp(st.text, "NO EMAIL ACCEPTED") == 0, "refusal with text");
	unit_ok(conf_style_parse("\\[*\\] ve", &st, why, sizeof(why)) == 0 &&
	    st.maxload == 0 && strcmp(st.pattern, "\\[*\\]") == 0,
	    "no maxload, quoted brackets");
	unit_ok(conf_style_parse("* 1.5 veR", &st, why, sizeof(why)) == 0 &&
	    st.maxload == 1.5, "fractional maxload");
	unit_ok(conf_style_parse("x vq", &st, why, sizeof(why)) == -1,
	    "unknown flag refused");
	unit_ok(conf_style_parse("x", &st, why, sizeof(why)) == -1,
	    "missing flags refused");
	unit_ok(conf_style_parse("x\\ ve", &st, why, sizeof(why)) == -1,
	    "dangling backslash refused");
	conf_init(&c);
	unit_ok(conf_set(&c, "helo", "\\[*\\] ve", "-o", errf) == 0 &&
	    conf_set(&c, "helo", "*.example 999 fR", "-o", errf) == 0 &&
	    conf_set(&c, "helo", "* !go away", "-o", errf) == 0, "three lines");
	m = smtp_style_find(&c, "[192.0.2.1]");
	unit_ok(m != NULL && strcmp(m->flags, "ve") == 0, "literal: first line");
	m = smtp_style_find(&c, "mx.example");
	unit_ok(m != NULL && strcmp(m->flags, "fR") == 0, "second line");
	m = smtp_style_find(&c, "other.test");
	unit_ok(m != NULL && m->refuse, "last line refuses");
	unit_str(c.helo_default, "veR", "ZMailer's default flags");
	unit_ok(conf_set(&c, "tarpit", "20 2 300", "-o", errf) == 0 &&
	    c.tarpit_initial == 20 && c.tarpit_exponent == 2 &&
	    c.tarpit_top == 300, "tarpit parsed");
	unit_ok(conf_set(&c, "tarpit", "20 2", "-o", errf) == -1,
	    "short tarpit refused");
	conf_free(&c);
}

static void
test_helo_syntax(void)
{
	unit_ok(smtp_helo_valid("mx.example.org"), "domain");
	unit_ok(smtp_helo_valid("[192.0.2.1]"), "address literal");
	unit_ok(smtp_helo_valid("[IPv6:2001:db8::1]"), "IPv6 literal");
	unit_ok(!smtp_helo_valid("192.0.2.1"), "address without brackets refused");
	unit_ok(!smtp_helo_valid("bad_host!"), "junk refused");
	unit_ok(!smtp_helo_valid("-lead.example"), "leading hyphen refused");
	unit_ok(!smtp_helo_valid(""), "empty refused");
}

int
main(void)
{
	test_glob();
	test_styles();
	test_helo_syntax();
	return unit_done();
}
