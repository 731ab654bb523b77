/* test_greylist: the pure parts of greylisting (greylist/greylist_state.c),
 * table by table: the client network, the addresses of the triplet, the
 * store key (and its hashed form when too long), the record text, the
 * triplet's state machine through a whole life, the client's
 * auto-whitelist, and which records are stale. */
#include <stdlib.h>

#include "greylist/greylist.h"
#include "unit.h"

static const struct greylist_params P = {
	.delay = 300, .window = 4 * 3600, .expire = 35 * 86400,
	.auto_whitelist = 2
};

static void
test_network(void)
{
	static const struct { const char *in, *want; } t[] = {
		{ "192.0.2.77", "192.0.2.0/24" },
		{ "10.1.2.3", "10.1.2.0/24" },
		{ "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
		{ "::1", "::/64" },
		{ "fe80::1", "fe80::/64" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unit_ok(greylist_network(t[i].in, out, sizeof(out)) == 0,
		    t[i].in);
		unit_str(out, t[i].want, t[i].in);
	}
	unit_ok(greylist_network("not-an-ip", out, sizeof(out)) == -1,
	    "not an address");
	unit_ok(greylist_network("192.0.2.1", out, 8) == -1, "too small");
}

static void
test_address(void)
{
	static const struct { const char *in, *want; } t[] = {
		{ "", "<>" },
		{ "User@Example.ORG", "user@example.org" },
		{ "prvs=1234abcd=bounce@example.org", "bounce@example.org" },
		{ "PRVS=0a=x@y.test", "x@y.test" },
		{ "prvs=@y.test", "prvs=@y.test" },
		{ "prvs=x@y.test", "prvs=x@y.test" },
		{ "postmaster", "postmaster" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		greylist_address(t[i].in, out, sizeof(out));
		unit_str(out, t[i].want, t[i].in[0] ? t[i].in : "null sender");
	}
	greylist_address("abcdefghij@example.org", out, 8);
	unit_str(out, "abcdefg", "clamped");
}

static void
test_key(void)
{
	char	 key[GREYLIST_KEY_MAX + 1], key2[GREYLIST_KEY_MAX + 1];
	char	 longaddr[400];

	unit_ok(greylist_key("192.0.2.0/24", "<>", "a@b.test", key,
	    sizeof(key)) == 0, "short key");
	unit_str(key, "t 192.0.2.0/24 <> a@b.test", "key text");
	memset(longaddr, 'x', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	unit_ok(greylist_key("192.0.2.0/24", longaddr, longaddr, key,
	    sizeof(key)) == 0, "long key");
	unit_ok(strncmp(key, "t 192.0.2.0/24 #", 16) == 0 &&
	    strlen(key) == 16 + 32, "long key is hashed");
	longaddr[0] = 'y';
	greylist_key("192.0.2.0/24", longaddr, longaddr + 1, key2,
	    sizeof(key2));
	unit_ok(strcmp(key, key2) != 0, "another long triplet, another hash");
}

static void
test_rec(void)
{
	struct greylist_rec	 r = { 100, 200, 150, 7 }, back;
	char			 buf[GREYLIST_REC_MAX];
	int			 n = greylist_rec_format(&r, buf, sizeof(buf));

	unit_str(buf, "1 100 200 150 7", "format");
	unit_ok(n > 0 && greylist_rec_parse(buf, (size_t)n, &back) == 0 &&
	    memcmp(&r, &back, sizeof(r)) == 0, "parse what format wrote");
	unit_ok(greylist_rec_parse("1 1 2 3", 7, &back) == -1, "short");
	unit_ok(greylist_rec_parse("2 1 2 3 4", 9, &back) == -1, "version");
	unit_ok(greylist_rec_parse("1 1 2 3 4x", 10, &back) == -1, "trailing");
	unit_ok(greylist_rec_parse("1 -1 2 3 4", 10, &back) == -1, "negative");
	unit_ok(greylist_rec_parse("1 1 2 3 4", 0, &back) == -1, "empty");
}

/* A triplet's life: new, too early, in the window, passed, expired. */
static void
test_step(void)
{
	struct greylist_rec	 r = { 0 };
	long			 wait;
	long long		 t0 = 1000000;

	unit_ok(greylist_step(&r, 0, t0, &P, &wait) == GREYLIST_NEW &&
	    wait == 300 && r.first == t0 && r.passed == 0, "first try: new");
	unit_ok(greylist_step(&r, 1, t0 + 100, &P, &wait) ==
	    GREYLIST_WAITING && wait == 200 && r.first == t0,
	    "early retry: waiting, time left");
	unit_ok(greylist_step(&r, 1, t0 - 50, &P, &wait) ==
	    GREYLIST_WAITING && wait == 300, "clock went back: no time");
	unit_ok(greylist_step(&r, 1, t0 + 300, &P, &wait) ==
	    GREYLIST_PASSING && r.passed == t0 + 300, "after the delay: passes");
	unit_ok(greylist_step(&r, 1, t0 + 400, &P, &wait) == GREYLIST_PASSED &&
	    r.last == t0 + 300, "passed, not renewed within the hour");
	unit_ok(greylist_step(&r, 1, t0 + 300 + GREYLIST_REFRESH, &P, &wait) ==
	    GREYLIST_PASSED && r.last == t0 + 300 + GREYLIST_REFRESH,
	    "passed, renewed after an hour");
	unit_ok(greylist_step(&r, 1, r.last + P.expire + 1, &P, &wait) ==
	    GREYLIST_RENEWED && r.passed == 0 && wait == 300,
	    "expired: a new first try");
	memset(&r, 0, sizeof(r));
	greylist_step(&r, 0, t0, &P, &wait);
	unit_ok(greylist_step(&r, 1, t0 + P.window, &P, &wait) ==
	    GREYLIST_PASSING, "last second of the window passes");
	memset(&r, 0, sizeof(r));
	greylist_step(&r, 0, t0, &P, &wait);
	unit_ok(greylist_step(&r, 1, t0 + P.window + 1, &P, &wait) ==
	    GREYLIST_RENEWED && r.first == t0 + P.window + 1,
	    "after the window: a new first try");
}

static void
test_client(void)
{
	struct greylist_rec	 r = { 0 };
	long long		 t0 = 1000000;

	unit_ok(greylist_client_step(&r, 0, t0, &P, 0) == 0 && r.count == 0,
	    "unknown client");
	unit_ok(greylist_client_step(&r, 1, t0, &P, 1) == 0 && r.count == 1,
	    "one pass");
	unit_ok(greylist_client_step(&r, 1, t0 + 10, &P, 1) == 1 &&
	    r.count == 2, "two passes: whitelisted");
	unit_ok(greylist_client_step(&r, 1, t0 + 20, &P, 0) == 1 &&
	    r.last == t0 + 10, "whitelisted, not renewed within the hour");
	unit_ok(greylist_client_step(&r, 1, t0 + 10 + P.expire + 1, &P, 0) ==
	    0 && r.count == 0, "expired: counts from zero");
	struct greylist_params off = P;
	off.auto_whitelist = 0;
	r.count = 100;
	r.last = t0;
	unit_ok(greylist_client_step(&r, 1, t0, &off, 0) == 0,
	    "auto_whitelist 0: never");
}

static void
test_stale(void)
{
	struct greylist_rec waiting = { 1000, 1000, 0, 0 };
	struct greylist_rec passed = { 1000, 2000, 2000, 0 };

	unit_ok(!greylist_stale("t k", &waiting, 1000 + P.window, &P),
	    "waiting in the window: kept");
	unit_ok(greylist_stale("t k", &waiting, 1001 + P.window, &P),
	    "window over: stale");
	unit_ok(!greylist_stale("t k", &passed, 2000 + P.expire, &P),
	    "passed: kept until expire");
	unit_ok(greylist_stale("t k", &passed, 2001 + P.expire, &P),
	    "passed, expired: stale");
	unit_ok(greylist_stale("c n", &passed, 2001 + P.expire, &P),
	    "client, expired: stale");
	/* a store with expiring keys drops each record just when stale */
	unit_ok(greylist_ttl("t k", &waiting, 1000, &P) == P.window + 1,
	    "ttl of a new triplet: the window");
	unit_ok(!greylist_stale("t k", &waiting, 1000 + P.window, &P) &&
	    greylist_stale("t k", &waiting, 1000 + P.window + 1, &P),
	    "ttl and stale agree");
	unit_ok(greylist_ttl("t k", &passed, 2000, &P) == P.expire + 1,
	    "ttl of a passed triplet: expire");
	unit_ok(greylist_ttl("c n", &passed, 2000 + 10 * P.expire, &P) == 1,
	    "ttl at least 1 s");
}

int
main(void)
{
	test_network();
	test_address();
	test_key();
	test_rec();
	test_step();
	test_client();
	test_stale();
	return unit_done();
}
