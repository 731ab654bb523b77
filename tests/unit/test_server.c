/* test_server: the pure part of server mode (server/server_limit.c): the
 * client's key, and the limits max_sessions, client_connection_count_limit
 * and client_connection_rate_limit, with the time passed in. */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>

#include "conf/conf.h"
#include "server/server.h"
#include "unit.h"

#define T0	1000000		/* a time; the window starts at the first use */

/* A sockaddr_storage for a numeric address, IPv4 or IPv6. */
static struct sockaddr_storage
sa(const char *addr)
{
	struct sockaddr_storage	 ss = { 0 };
	struct sockaddr_in	*sin = (void *)&ss;
	struct sockaddr_in6	*sin6 = (void *)&ss;

	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		abort();
	return ss;
}

static const struct {
	const char	*addr;
	int		 prefix;
	const char	*key;
	const char	*name;
} keys[] = {
	{ "192.0.2.1", 64, "192.0.2.1", "IPv4: the address, prefix unused" },
	{ "203.0.113.255", 1, "203.0.113.255", "IPv4 ignores a short prefix" },
	{ "::ffff:192.0.2.1", 64, "192.0.2.1", "v4-mapped IPv6: plain IPv4" },
	{ "::FFFF:198.51.100.7", 128, "198.51.100.7",
	    "v4-mapped, /128: still plain IPv4" },
	{ "2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64", "IPv6 /64" },
	{ "2001:db8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64",
	    "IPv6 /64: the host part is dropped" },
	{ "2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128",
	    "IPv6 /128: the whole address" },
	{ "2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48", "IPv6 /48" },
	{ "2001:db8:1:2ff::1", 56, "2001:db8:1:200::/56", "IPv6 /56" },
	{ "2001:db8:1:2ff::1", 60, "2001:db8:1:2f0::/60",
	    "IPv6 /60: a prefix inside a byte" },
	{ "2001:db8:ffff::1", 33, "2001:db8:8000::/33", "IPv6 /33" },
	{ "ffff::1", 1, "8000::/1", "IPv6 /1" },
	{ "2001:DB8::1", 64, "2001:db8::/64", "IPv6 canonical, lower case" },
	{ "::1", 64, "::/64", "IPv6 loopback /64" },
};

static void
test_keys(void)
{
	struct sockaddr_storage	 ss;
	char			 key[SERVER_KEY_MAX];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		ss = sa(keys[i].addr);
		key[0] = '\0';
		unit_ok(server_limit_key(&ss, keys[i].prefix, key,
		    sizeof(key)) == 0, keys[i].name);
		unit_str(key, keys[i].key, keys[i].name);
	}

	/* the longest IPv6 key fits SERVER_KEY_MAX */
	ss = sa("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	unit_ok(server_limit_key(&ss, 128, key, sizeof(key)) == 0,
	    "longest IPv6 key");
	unit_str(key, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
	    "longest IPv6 key whole");

	/* two clients of one /64 share a key, another /64 does not */
	char k2[SERVER_KEY_MAX];

	ss = sa("2001:db8:0:1::a");
	server_limit_key(&ss, 64, key, sizeof(key));
	ss = sa("2001:db8:0:1:ffff::b");
	server_limit_key(&ss, 64, k2, sizeof(k2));
	unit_str(k2, key, "one /64, one key");
	ss = sa("2001:db8:0:2::a");
	server_limit_key(&ss, 64, k2, sizeof(k2));
	unit_ok(strcmp(k2, key) != 0, "another /64, another key");

	/* a family without an address */
	struct sockaddr_storage	 un = { 0 };

	un.ss_family = AF_UNIX;
	unit_ok(server_limit_key(&un, 64, key, sizeof(key)) == -1,
	    "AF_UNIX: no key");
}

/* The configuration of a test: defaults, then the three limits. */
static void
limits(struct conf *c, int max_sessions, int count, int rate)
{
	c->max_sessions = max_sessions;
	c->client_connection_count_limit = count;
	c->client_connection_rate_limit = rate;
}

/* n admissions of key at now; how many were admitted. */
static int
admit_n(const struct conf *c, const char *key, int n, time_t now)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += server_limit_admit(c, key, now) == NULL;
	return ok;
}

static void
test_count(struct conf *c)
{
	const char *why;

	server_limit_reset();
	limits(c, 100, 10, 0);
	unit_ok(admit_n(c, "192.0.2.1", 10, T0) == 10,
	    "count limit 10: ten sessions admitted");
	why = server_limit_admit(c, "192.0.2.1", T0);
	unit_str(why, "client_connection_count_limit",
	    "count limit 10: the eleventh refused");
	unit_str(server_limit_admit(c, "192.0.2.1", T0 + 3600),
	    "client_connection_count_limit",
	    "count limit: time alone does not free a session");
	unit_ok(server_limit_admit(c, "192.0.2.2", T0) == NULL,
	    "count limit: another key admitted");
	server_limit_release("192.0.2.1");
	unit_ok(server_limit_admit(c, "192.0.2.1", T0) == NULL,
	    "count limit: a release lets one more in");
	unit_str(server_limit_admit(c, "192.0.2.1", T0),
	    "client_connection_count_limit", "count limit: and only one");

	/* limit 1: exact at the edge */
	server_limit_reset();
	limits(c, 100, 1, 0);
	unit_ok(server_limit_admit(c, "2001:db8::/64", T0) == NULL,
	    "count limit 1: first admitted");
	unit_str(server_limit_admit(c, "2001:db8::/64", T0),
	    "client_connection_count_limit", "count limit 1: second refused");
	server_limit_release("2001:db8::/64");
	unit_ok(server_limit_admit(c, "2001:db8::/64", T0) == NULL,
	    "count limit 1: after release admitted");

	/* a refused attempt holds no session */
	server_limit_reset();
	limits(c, 2, 1, 0);
	unit_ok(server_limit_admit(c, "a", T0) == NULL, "a admitted");
	unit_ok(server_limit_admit(c, "a", T0) != NULL, "a refused");
	unit_ok(server_limit_admit(c, "a", T0) != NULL, "a refused again");
	unit_ok(server_limit_admit(c, "b", T0) == NULL,
	    "refusals are not sessions: b fits max_sessions 2");
}

static void
test_rate(struct conf *c)
{
	server_limit_reset();
	limits(c, 100, 0, 5);
	for (int i = 0; i < 5; i++) {
		unit_ok(server_limit_admit(c, "198.51.100.1", T0 + i * 10) ==
		    NULL, "rate limit 5: admitted within the minute");
		server_limit_release("198.51.100.1");
	}
	unit_str(server_limit_admit(c, "198.51.100.1", T0 + 59),
	    "client_connection_rate_limit",
	    "rate limit 5: the sixth in the same minute refused");
	unit_ok(server_limit_admit(c, "198.51.100.2", T0 + 59) == NULL,
	    "rate limit: another key admitted");
	unit_ok(server_limit_admit(c, "198.51.100.1", T0 + 60) == NULL,
	    "rate limit: a new minute resets");
	server_limit_release("198.51.100.1");
	unit_ok(admit_n(c, "198.51.100.1", 4, T0 + 61) == 4,
	    "rate limit: the new minute holds 5");
	unit_str(server_limit_admit(c, "198.51.100.1", T0 + 119),
	    "client_connection_rate_limit",
	    "rate limit: the new minute's sixth refused");

	/* every attempt counts, as Postfix's anvil: refusals too */
	server_limit_reset();
	limits(c, 100, 1, 3);
	unit_ok(server_limit_admit(c, "x", T0) == NULL, "x: 1st admitted");
	unit_str(server_limit_admit(c, "x", T0),
	    "client_connection_count_limit", "x: 2nd over the count");
	unit_str(server_limit_admit(c, "x", T0),
	    "client_connection_count_limit", "x: 3rd over the count");
	server_limit_release("x");
	unit_str(server_limit_admit(c, "x", T0 + 1),
	    "client_connection_rate_limit",
	    "x: the 4th is over the rate, refusals counted");
	unit_ok(server_limit_admit(c, "x", T0 + 60) == NULL,
	    "x: admitted in the next minute");
}

static void
test_max_sessions(struct conf *c)
{
	char key[32];

	server_limit_reset();
	limits(c, 5, 3, 0);
	unit_ok(admit_n(c, "a", 3, T0) == 3, "max_sessions 5: a has 3");
	unit_ok(admit_n(c, "b", 2, T0) == 2, "max_sessions 5: b has 2");
	unit_str(server_limit_admit(c, "c", T0), "max_sessions",
	    "max_sessions 5: a sixth session, new key, refused");
	unit_str(server_limit_admit(c, "b", T0), "max_sessions",
	    "max_sessions 5: a sixth session, known key, refused");
	server_limit_release("a");
	unit_ok(server_limit_admit(c, "c", T0) == NULL,
	    "max_sessions: a release lets another key in");
	unit_str(server_limit_admit(c, "a", T0), "max_sessions",
	    "max_sessions: full again");

	/* the largest max_sessions, one session per key: exact */
	server_limit_reset();
	limits(c, 4096, 1, 1);
	int ok = 0;

	for (int i = 0; i < 4096; i++) {
		snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
		ok += server_limit_admit(c, key, T0) == NULL;
	}
	unit_ok(ok == 4096, "max_sessions 4096: 4096 keys admitted");
	unit_str(server_limit_admit(c, "10.99.0.1", T0), "max_sessions",
	    "max_sessions 4096: the 4097th refused");
	server_limit_release("10.0.0.0");
	unit_ok(server_limit_admit(c, "10.99.0.1", T0) == NULL,
	    "every slot busy but one released: a new key gets it");
}

static void
test_no_limit(struct conf *c)
{
	server_limit_reset();
	limits(c, 4096, 0, 0);
	unit_ok(admit_n(c, "192.0.2.9", 4000, T0) == 4000,
	    "count 0 and rate 0: 4000 sessions of one key");
	for (int i = 0; i < 4000; i++)
		server_limit_release("192.0.2.9");
	unit_ok(admit_n(c, "192.0.2.9", 1000, T0) == 1000,
	    "rate 0: 5000 in a minute");
	server_limit_release("192.0.2.10");	/* unknown: nothing breaks */
	unit_ok(1, "release of an unknown key");
}

/* With redis_server the sessions count per client: the parent keeps
 * max_sessions only. */
static void
test_redis(struct conf *c)
{
	char *was = c->redis_server;

	server_limit_reset();
	limits(c, 3, 1, 1);
	c->redis_server = "127.0.0.1:6379";
	unit_ok(admit_n(c, "192.0.2.5", 3, T0) == 3,
	    "redis_server: count and rate limits left to the sessions");
	unit_str(server_limit_admit(c, "192.0.2.6", T0), "max_sessions",
	    "redis_server: max_sessions still the parent's");
	c->redis_server = was;
}

/* More idle keys than the table holds: the active ones keep their counts. */
static void
test_pressure(struct conf *c)
{
	char	 key[32];
	int	 ok = 0;

	server_limit_reset();
	limits(c, 4096, 2, 2);
	unit_ok(admit_n(c, "192.0.2.1", 2, T0) == 2, "active key a: 2");
	unit_ok(admit_n(c, "192.0.2.2", 1, T0) == 1, "active key b: 1");
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "10.%d.%d.%d", i / 65536,
		    i / 256 % 256, i % 256);
		if (server_limit_admit(c, key, T0 + 1) == NULL) {
			ok++;
			server_limit_release(key);
		}
	}
	unit_ok(ok == 10000, "10000 distinct idle keys: all admitted");
	unit_str(server_limit_admit(c, "192.0.2.1", T0 + 2),
	    "client_connection_count_limit",
	    "active key a still has its 2 sessions");
	unit_ok(server_limit_admit(c, "192.0.2.2", T0 + 2) == NULL,
	    "active key b: its second session");
	unit_str(server_limit_admit(c, "192.0.2.2", T0 + 2),
	    "client_connection_count_limit",
	    "active key b: kept its count (1 + 1)");
	server_limit_release("192.0.2.1");
	unit_str(server_limit_admit(c, "192.0.2.1", T0 + 2),
	    "client_connection_rate_limit",
	    "active key a kept its minute's count too");
	unit_ok(server_limit_admit(c, "192.0.2.1", T0 + 60) == NULL,
	    "active key a: admitted in a new minute");

	/* max_sessions still counts every session: 4 now, under pressure */
	limits(c, 4, 2, 2);
	unit_str(server_limit_admit(c, "10.200.0.1", T0 + 60), "max_sessions",
	    "after the pressure max_sessions 4 counts 4 sessions");
	server_limit_release("192.0.2.2");
	server_limit_release("192.0.2.2");
	server_limit_release("192.0.2.1");
	server_limit_release("192.0.2.1");
	limits(c, 1, 1, 0);
	unit_ok(server_limit_admit(c, "10.200.0.1", T0 + 60) == NULL,
	    "every session released: max_sessions 1 admits one");
	unit_str(server_limit_admit(c, "10.200.0.2", T0 + 60), "max_sessions",
	    "and only one");
}

int
main(void)
{
	struct conf c;

	conf_init(&c);
	test_keys();
	test_count(&c);
	test_rate(&c);
	test_max_sessions(&c);
	test_no_limit(&c);
	test_redis(&c);
	test_pressure(&c);
	server_limit_reset();
	conf_free(&c);
	return unit_done();
}
