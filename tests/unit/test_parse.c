/* test_parse: RFC 5321 paths and ESMTP parameters, table-driven. */
#include "conf/conf.h"
#include "smtp/smtp.h"
#include "unit.h"

struct path_case {
	const char	*in;
	int		 is_mail;
	int		 ok;
	const char	*addr;		/* expected when ok */
	const char	*domain;
	const char	*rest;
};

static const struct path_case paths[] = {
	{ "<user@example.org>", 1, 1, "user@example.org", "example.org", "" },
	{ "<>", 1, 1, "", "", "" },
	{ "<>", 0, 0, NULL, NULL, NULL },
	{ "<user@example.org> SIZE=10", 1, 1, "user@example.org",
	    "example.org", " SIZE=10" },
	{ "<first.last+tag@sub.example.org>", 0, 1,
	    "first.last+tag@sub.example.org", "sub.example.org", "" },
	{ "<\"john doe\"@example.org>", 0, 1, "\"john doe\"@example.org",
	    "example.org", "" },
	{ "<\"a\\\"b\"@example.org>", 0, 1, "\"a\\\"b\"@example.org",
	    "example.org", "" },
	{ "<@relay.example,@b.example:user@example.org>", 0, 1,
	    "user@example.org", "example.org", "" },
	{ "<user@[192.0.2.1]>", 0, 1, "user@[192.0.2.1]", "[192.0.2.1]", "" },
	{ "<user@[IPv6:2001:db8::1]>", 0, 1, "user@[IPv6:2001:db8::1]",
	    "[IPv6:2001:db8::1]", "" },
	{ "<Postmaster>", 0, 1, "Postmaster", "", "" },
	{ "<postmaster>", 1, 0, NULL, NULL, NULL },
	{ "user@example.org", 1, 0, NULL, NULL, NULL },
	{ "<user@example.org", 1, 0, NULL, NULL, NULL },
	{ "<broken", 1, 0, NULL, NULL, NULL },	/* read past the end once */
	{ "<", 0, 0, NULL, NULL, NULL },
	{ "<\"", 0, 0, NULL, NULL, NULL },
	{ "<@", 0, 0, NULL, NULL, NULL },
	{ "<a@[", 0, 0, NULL, NULL, NULL },
	{ "<user>", 0, 0, NULL, NULL, NULL },
	{ "<user@example.org.>", 0, 0, NULL, NULL, NULL },
	{ "<user@-example.org>", 0, 0, NULL, NULL, NULL },
	{ "<user@example..org>", 0, 0, NULL, NULL, NULL },
	{ "<.user@example.org>", 0, 0, NULL, NULL, NULL },
	{ "<us..er@example.org>", 0, 0, NULL, NULL, NULL },
	{ "<user.@example.org>", 0, 0, NULL, NULL, NULL },
	{ "<user@other.example@local.example>", 0, 0, NULL, NULL, NULL },
	{ "<user name@example.org>", 0, 0, NULL, NULL, NULL },
	{ "<user@example.org >", 0, 0, NULL, NULL, NULL },
	{ "<\"unterminated@example.org>", 0, 0, NULL, NULL, NULL },
	{ "<user@[192.0.2.1>", 0, 0, NULL, NULL, NULL },
	{ "<user@[192.0.2.300]>", 0, 0, NULL, NULL, NULL },
	{ "<user@[1.2.3]>", 0, 0, NULL, NULL, NULL },
	{ "<user@[IPv6:zz]>", 0, 0, NULL, NULL, NULL },
	{ "<user@[x-tag:some.text]>", 0, 1, "user@[x-tag:some.text]",
	    "[x-tag:some.text]", "" },
	{ "<@relay.example:>", 0, 0, NULL, NULL, NULL },
	{ "<user%other.example@local.example>", 0, 1,
	    "user%other.example@local.example", "local.example", "" },
	{ "<a@b\x01.example>", 0, 0, NULL, NULL, NULL },
	{ "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@example.org>", 0, 0, NULL, NULL, NULL },	/* 65-byte local */
};

static void
test_paths(void)
{
	char name[256];

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const struct path_case	*c = &paths[i];
		struct smtp_path	 p;
		const char		*rest = NULL, *why = NULL;
		int			 rc;

		rc = smtp_parse_path(c->in, c->is_mail, &p, &rest, &why);
		snprintf(name, sizeof(name), "path %s %s", c->in,
		    c->ok ? "parses" : "is refused");
		unit_ok((rc == 0) == c->ok, name);
		if (rc != 0 || !c->ok) {
			unit_ok(rc != 0 || why == NULL || *why != '\0',
			    "refusal has a reason");
			continue;
		}
		unit_str(p.addr, c->addr, "address");
		unit_str(p.domain, c->domain, "domain");
		unit_str(rest, c->rest, "rest");
		unit_ok(p.null == (c->addr[0] == '\0'), "null flag");
	}
}

struct param_case {
	const char	*in;
	int		 is_mail;
	int		 ext;
	int		 code;
	long long	 size;
};

static const struct param_case params[] = {
	{ "", 1, 0, 0, -1 },
	{ "SIZE=1000", 1, 0, 0, 1000 },
	{ "size=1000 BODY=8BITMIME", 1, 0, 0, 1000 },
	{ "BODY=7BIT", 1, 0, 0, -1 },
	{ "BODY=BINARYMIME", 1, 0, 501, -1 },
	{ "SIZE=", 1, 0, 501, -1 },
	{ "SIZE=12a", 1, 0, 501, -1 },
	{ "SIZE=1 SIZE=2", 1, 0, 501, -1 },
	{ "SIZE=10", 0, 0, 555, -1 },
	{ "FOO=bar", 1, 0, 555, -1 },
	{ "SMTPUTF8", 1, 0, 555, -1 },
	{ "SMTPUTF8", 1, CONF_EXT_SMTPUTF8, 0, -1 },
	{ "RET=FULL ENVID=abc+2Bdef", 1, CONF_EXT_DSN, 0, -1 },
	{ "RET=FULL", 1, 0, 555, -1 },
	{ "RET=SOME", 1, CONF_EXT_DSN, 501, -1 },
	{ "ENVID=a+zz", 1, CONF_EXT_DSN, 501, -1 },
	{ "ENVID=a+", 1, CONF_EXT_DSN, 501, -1 },
	{ "NOTIFY=SUCCESS,FAILURE", 0, CONF_EXT_DSN, 0, -1 },
	{ "NOTIFY=NEVER", 0, CONF_EXT_DSN, 0, -1 },
	{ "NOTIFY=NEVER,DELAY", 0, CONF_EXT_DSN, 501, -1 },
	{ "NOTIFY=SOMETIMES", 0, CONF_EXT_DSN, 501, -1 },
	{ "ORCPT=rfc822;user+40example.org", 0, CONF_EXT_DSN, 0, -1 },
	{ "ORCPT=user", 0, CONF_EXT_DSN, 501, -1 },
	{ "A_B=1", 1, 0, 501, -1 },
};

static void
test_params(void)
{
	char name[256];

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		const struct param_case	*c = &params[i];
		struct smtp_params	 p;
		const char		*why = NULL;
		int			 code;

		code = smtp_parse_params(c->in, c->is_mail, c->ext, &p, &why);
		snprintf(name, sizeof(name), "%s params '%s' -> %d",
		    c->is_mail ? "MAIL" : "RCPT", c->in, c->code);
		unit_ok(code == c->code, name);
		if (code == 0)
			unit_ok(p.size == c->size, "size");
	}
}

int
main(void)
{
	test_paths();
	test_params();
	return unit_done();
}
