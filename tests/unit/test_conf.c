/* test_conf: the key table, values, bounds and "file:line" errors. */
#include <stdlib.h>
#include <unistd.h>

#include "conf/conf.h"
#include "unit.h"

static char	last_err[1024];
static int	nerr;

static void
collect(const char *msg)
{
	snprintf(last_err, sizeof(last_err), "%s", msg);
	nerr++;
}

/* Load text as a file; returns conf_load's result. */
static int
load(struct conf *c, const char *text)
{
	char	 path[] = "/tmp/test_conf.XXXXXX";
	int	 fd = mkstemp(path), rc;

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	conf_init(c);
	nerr = 0;
	last_err[0] = '\0';
	rc = conf_load(c, path, collect);
	/* make the message independent of the temp name */
	if (strncmp(last_err, path, strlen(path)) == 0)
		memmove(last_err, last_err + strlen(path),
		    strlen(last_err + strlen(path)) + 1);
	unlink(path);
	return rc;
}

struct bad_case {
	const char *text;
	const char *err;
};

static const struct bad_case bad[] = {
	{ "nosuchkey 1\n", ":1: unknown key 'nosuchkey'" },
	{ "# comment\n\nmax_recipients 0\n",
	    ":3: max_recipients: 0 is out of range 1..100000" },
	{ "max_recipients ten\n", ":1: max_recipients: not a number: 'ten'" },
	{ "max_recipients\n", ":1: max_recipients: missing value" },
	{ "vrfy maybe\n", ":1: vrfy: 'maybe' is not one of the choices" },
	{ "backend localhost\n", ":1: backend: 'localhost' is not host:port, "
	    "[ipv6]:port or unix:/path" },
	{ "backend [::1:25\n", ":1: backend: '[::1:25' is not host:port, "
	    "[ipv6]:port or unix:/path" },
	{ "backend host:0\n", ":1: backend: 'host:0' is not host:port, "
	    "[ipv6]:port or unix:/path" },
	{ "backend unix:relative\n", ":1: backend: bad socket path "
	    "'unix:relative'" },
	{ "greeting %H %X\n", ":1: greeting: unknown metatag '%X' (use %H %V "
	    "%T %%)" },
	{ "backend_extensions dsn,foo\n",
	    ":1: backend_extensions: unknown value 'foo'" },
	{ "timeout_command 2w\n", ":1: timeout_command: not a number: '2w'" },
	{ "weight \v\n", ":1: weight: missing check name" },
	{ "timeout_session 8d\n",
	    ":1: timeout_session: 8d is out of range 1..604800" },
	{ "redis_server localhost\n", ":1: redis_server: 'localhost' is not "
	    "host:port, [ipv6]:port or unix:/path" },
	{ "pop_before_smtp redis\n", ":1: pop_before_smtp: 'redis' is not "
	    "cdb:/path/file.cdb or redis:" },
	{ "timeout_redis 0\n", ":1: timeout_redis: 0 is out of range 1..60000" },
};

static void
test_bad(void)
{
	struct conf c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unit_ok(load(&c, bad[i].text) == -1 && nerr == 1,
		    "bad line is refused");
		unit_str(last_err, bad[i].err, bad[i].err);
		conf_free(&c);
	}
}

static void
test_good(void)
{
	struct conf c;

	unit_ok(load(&c, "  backend [::1]:2525  \n"
	    "backend_protocol lmtp\n"
	    "timeout_command 5m\n"
	    "max_message_size 0\n"
	    "help line one\n"
	    "help line two\n"
	    "backend_extensions dsn smtputf8\n"
	    "greeting %H at %T %%\n") == 0, "good file loads");
	unit_str(c.backend_addr.host, "::1", "ipv6 backend host");
	unit_str(c.backend_addr.port, "2525", "ipv6 backend port");
	unit_ok(c.backend_protocol == CONF_PROTO_LMTP, "lmtp");
	unit_ok(c.timeout_command == 300, "5m is 300 s");
	unit_ok(c.max_message_size == 0, "size 0 = unlimited");
	unit_ok(c.help.n == 2, "help lines append");
	unit_ok(c.backend_extensions == (CONF_EXT_DSN | CONF_EXT_SMTPUTF8),
	    "extension set");
	unit_ok(conf_set(&c, "help", "override", "-o", collect) == 0 &&
	    c.help.n == 1, "-o replaces a repeatable key");
	unit_ok(conf_set(&c, "help", "second", "-o", collect) == 0 &&
	    c.help.n == 2, "a second -o appends");
	unit_ok(conf_set(&c, "backend", "unix:/run/mta.sock", "-o",
	    collect) == 0 && c.backend_addr.kind == CONF_ADDR_UNIX,
	    "unix backend");
	unit_ok(conf_set(&c, "nokey", "1", "-o", collect) == -1,
	    "-o unknown key refused");
	unit_str(last_err, "-o: unknown key 'nokey'", "-o error text");
	conf_free(&c);
}

static void
test_defaults(void)
{
	struct conf c;

	conf_init(&c);
	unit_ok(c.max_recipients == 1000, "default max_recipients");
	unit_ok(c.max_message_size == 10240000, "default max_message_size");
	unit_ok(c.timeout_session == 3600, "default timeout_session");
	unit_ok(c.bare_newline == CONF_BARE_REJECT, "default bare_newline");
	unit_str(c.backend_addr.host, "127.0.0.1", "default backend");
	unit_ok(c.hostname[0] != '\0', "hostname from the system");
	unit_ok(conf_check(&c, collect) == 0, "defaults pass the check");
	conf_free(&c);
}

/* policy_mode and a family's own key: the family's key, when not
 * inherit, wins both ways. */
static const struct mode_case {
	const char	*policy, *dns, *helo;
	int		 dns_test, helo_test;
} mode_cases[] = {
	{ "enforce", "inherit", "inherit", 0, 0 },
	{ "test", "inherit", "inherit", 1, 1 },
	{ "test", "enforce", "inherit", 0, 1 },
	{ "enforce", "inherit", "test", 0, 1 },
	{ "enforce", "test", "enforce", 1, 0 },
	{ "test", "test", "enforce", 1, 0 },
};

static void
test_policy_modes(void)
{
	struct conf	c;
	char		name[128];

	conf_init(&c);
	unit_ok(!conf_policy_test(&c, CONF_POLICY_DNS) &&
	    !conf_policy_test(&c, CONF_POLICY_HELO), "default: enforce");
	for (size_t i = 0; i < sizeof(mode_cases) / sizeof(mode_cases[0]);
	    i++) {
		const struct mode_case *m = &mode_cases[i];

		snprintf(name, sizeof(name), "policy_mode %s, dns %s, helo %s",
		    m->policy, m->dns, m->helo);
		unit_ok(conf_set(&c, "policy_mode", m->policy, "-o", collect) ==
		    0 && conf_set(&c, "dns_policy_mode", m->dns, "-o",
		    collect) == 0 && conf_set(&c, "helo_policy_mode", m->helo,
		    "-o", collect) == 0 &&
		    conf_policy_test(&c, CONF_POLICY_DNS) == m->dns_test &&
		    conf_policy_test(&c, CONF_POLICY_HELO) == m->helo_test, name);
	}
	unit_ok(conf_set(&c, "policy_mode", "inherit", "-o", collect) == -1,
	    "policy_mode has no inherit");
	conf_free(&c);
}

int
main(void)
{
	test_defaults();
	test_policy_modes();
	test_bad();
	test_good();
	return unit_done();
}
