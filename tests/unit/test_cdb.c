/* test_cdb: key walks, source normalisation, a table round trip, a
 * record the read side cannot hold, and the POP login updates. */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cdb.h>

#include <bsd/string.h>

#include "cdb/cdb.h"
#include "unit.h"

static char keys[140][CDBT_KEY_MAX];

/* The walk of in, joined by spaces. */
static const char *
walk(enum cdbt_kind kind, const char *in)
{
	static char	 out[8192];
	int		 n = cdbt_keys(kind, in, keys, 140);

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (i > 0)
			strlcat(out, " ", sizeof(out));
		strlcat(out, keys[i], sizeof(out));
	}
	return out;
}

static void
test_walks(void)
{
	unit_str(walk(CDBT_DOMAIN, "Mail.Example.ORG"),
	    "mail.example.org .example.org .org", "domain walk, lower case");
	unit_str(walk(CDBT_DOMAIN, "[192.0.2.1]"), "[192.0.2.1]",
	    "address literal has no parents");
	unit_str(walk(CDBT_ADDRESS, "User@Example.org"),
	    "user@example.org @example.org user@", "address walk");
	unit_str(walk(CDBT_ADDRESS, "postmaster"), "postmaster",
	    "address without domain");
	unit_str(walk(CDBT_ADDRESS, "Staff+X@Example.test"),
	    "staff+x@example.test staff@example.test @example.test staff+x@ "
	    "staff@", "extension: Postfix access(5) order");
	unit_str(walk(CDBT_ADDRESS, "\"staff\"@example.test"),
	    "staff@example.test @example.test staff@", "quoted dot-string");
	unit_str(walk(CDBT_ADDRESS, "\"st\\aff\"@example.test"),
	    "staff@example.test @example.test staff@", "escapes removed");
	unit_str(walk(CDBT_ADDRESS, "\"st aff.\"@example.test"),
	    "staff@example.test @example.test staff@",
	    "not a dot-string: folded to the user it could alias");
	unit_str(walk(CDBT_ADDRESS, "\"a..b+c\"@x"), "a.b+c@x a.b@x @x a.b+c@ "
	    "a.b@", "folded dots, then the extension");
	unit_str(walk(CDBT_ADDRESS, "+x@x"), "+x@x @x +x@",
	    "a delimiter first is no extension");
	cdbt_set_delimiters("-+");
	unit_str(walk(CDBT_ADDRESS, "owner-list@x"), "owner-list@x @x "
	    "owner-list@", "owner- keeps its '-' (as Postfix)");
	unit_str(walk(CDBT_ADDRESS, "a-b+c@x"), "a-b+c@x a@x @x a-b+c@ a@",
	    "first delimiter of the set");
	cdbt_set_delimiters("");
	unit_str(walk(CDBT_ADDRESS, "a+b@x"), "a+b@x @x a+b@",
	    "no delimiter: no extension");
	cdbt_set_delimiters("+");
	unit_str(walk(CDBT_EXACT, "192.0.2.1"), "192.0.2.1", "exact");
	unit_ok(cdbt_keys(CDBT_NETWORK, "192.168.1.2", keys, 140) == 36,
	    "IPv4: address, 32 prefixes, 3 dotted prefixes");
	unit_str(keys[0], "192.168.1.2", "IPv4 exact first");
	unit_str(keys[1], "192.168.1.2/31", "then /31");
	unit_str(keys[8], "192.168.1.0/24", "/24");
	unit_str(keys[9], "192.168.1.", "qpsmtpd prefix after /24");
	unit_str(keys[18], "192.168.", "qpsmtpd prefix after /16");
	unit_str(keys[35], "0.0.0.0/0", "/0 last");
	unit_ok(cdbt_keys(CDBT_NETWORK, "2001:DB8::1", keys, 140) == 129,
	    "IPv6: address and 128 prefixes");
	unit_str(keys[0], "2001:db8::1", "IPv6 canonical");
	unit_str(keys[96], "2001:db8::/32", "IPv6 /32");
	unit_str(keys[128], "::/0", "IPv6 /0");
	unit_ok(cdbt_keys(CDBT_NETWORK, "not-an-ip", keys, 140) == 0,
	    "bad address: no keys");
}

struct norm_case {
	enum cdbt_type	 type;
	const char	*key, *value;
	const char	*nkey, *nvalue;	/* NULL: refused */
};

static const struct norm_case norms[] = {
	{ CDBT_DOMAINS, "Example.ORG", "", "example.org", "OK" },
	{ CDBT_DOMAINS, ".example.org", "", ".example.org", "OK" },
	{ CDBT_DOMAINS, "example..org", "", NULL, NULL },
	{ CDBT_DOMAINS, "-bad.org", "", NULL, NULL },
	{ CDBT_NETWORKS, "192.168.", "", "192.168.", "OK" },
	{ CDBT_NETWORKS, "10.0.0.0/8", "reject spam source",
	    "10.0.0.0/8", "REJECT spam source" },
	{ CDBT_NETWORKS, "10.0.0.1/8", "", NULL, NULL },
	{ CDBT_NETWORKS, "10.1.2.3/32", "ok", "10.1.2.3", "OK" },
	{ CDBT_NETWORKS, "2001:DB8:0:0::/32", "", "2001:db8::/32", "OK" },
	{ CDBT_NETWORKS, "2001:db8::1/129", "", NULL, NULL },
	{ CDBT_NETWORKS, "300.1.", "", NULL, NULL },
	{ CDBT_NETWORKS, "192.168.01.", "REJECT x", NULL, NULL },	/* never found */
	{ CDBT_POP, "", "1700000000", NULL, NULL },	/* read before its buffer */
	{ CDBT_NETWORKS, "1.2.3.4", "MAYBE", NULL, NULL },
	{ CDBT_SENDERS, "Boss@Example.org", "boss, assistant",
	    "boss@example.org", "boss,assistant" },
	{ CDBT_SENDERS, "@example.org", "admin", "@example.org", "admin" },
	{ CDBT_SENDERS, "boss@example.org", "", NULL, NULL },
	{ CDBT_RECIPIENTS, "all@example.org", "Authenticated",
	    "all@example.org", "authenticated" },
	{ CDBT_RECIPIENTS, "@example.org", "x", NULL, NULL },
	{ CDBT_POP, "192.0.2.7", "1700000000", "192.0.2.7", "1700000000" },
	{ CDBT_POP, "192.0.2.0/24", "1700000000", NULL, NULL },
	{ CDBT_POP, "192.0.2.7", "yesterday", NULL, NULL },
};

static void
test_normalize(void)
{
	char k[CDBT_KEY_MAX], v[CDBT_VALUE_MAX], name[256];

	for (size_t i = 0; i < sizeof(norms) / sizeof(norms[0]); i++) {
		const struct norm_case	*c = &norms[i];
		const char		*why = NULL;
		int			 rc;

		rc = cdbt_normalize(c->type, c->key, c->value, k, sizeof(k), v,
		    sizeof(v), &why);
		snprintf(name, sizeof(name), "%s '%s' '%s' %s",
		    cdbt_type_name(c->type), c->key, c->value,
		    c->nkey ? "accepted" : "refused");
		unit_ok((rc == 0) == (c->nkey != NULL), name);
		if (rc == 0 && c->nkey != NULL) {
			unit_str(k, c->nkey, "stored key");
			unit_str(v, c->nvalue, "stored value");
		} else if (rc != 0)
			unit_ok(why != NULL && *why != '\0', "with a reason");
	}
}

/* A directory made from the mkdtemp(3) template dir; path gets the path of
 * the file name in it. */
static void
tmp_file(char *dir, char *path, size_t pathsz, const char *name)
{
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, pathsz, "%s/%s", dir, name);
}

static void
test_round_trip(void)
{
	char			 dir[] = "/tmp/test_cdb.XXXXXX", path[256];
	char			 err[512];
	struct cdbt_entry	 e[] = {
		{ "192.168.", "OK", 1 }, { "10.0.0.0/8", "REJECT no", 2 },
		{ "2001:db8::/32", "OK", 3 }, { "192.0.2.9", "OK", 4 },
	};
	struct cdbt_match	 m;
	struct cdbt		*t;

	tmp_file(dir, path, sizeof(path), "nets.cdb");
	unit_ok(cdbt_write(path, CDBT_NETWORKS, e, 4, err, sizeof(err)) == 0,
	    "table written");
	t = cdbt_open(path, CDBT_NETWORKS);
	unit_ok(cdbt_error(t) == NULL, "table opens");
	unit_ok(cdbt_find(t, CDBT_NETWORK, "192.168.7.7", &m) == CDBT_FOUND &&
	    strcmp(m.key, "192.168.") == 0, "prefix found");
	unit_ok(cdbt_find(t, CDBT_NETWORK, "10.9.9.9", &m) == CDBT_FOUND &&
	    strcmp(m.value, "REJECT no") == 0, "CIDR found with its value");
	unit_ok(cdbt_find(t, CDBT_NETWORK, "2001:db8:1::2", &m) == CDBT_FOUND,
	    "IPv6 CIDR found");
	unit_ok(cdbt_find(t, CDBT_NETWORK, "192.0.2.10", &m) == CDBT_NOTFOUND,
	    "neighbour not found");
	cdbt_close(t);
	t = cdbt_open(path, CDBT_DOMAINS);
	unit_str(cdbt_error(t), "a networks table, not domains",
	    "wrong type is an error");
	unit_ok(cdbt_find(t, CDBT_DOMAIN, "x.org", &m) == CDBT_ERROR,
	    "lookup in a wrong table is an error");
	cdbt_close(t);
	t = cdbt_open("/nonexistent/table.cdb", CDBT_DOMAINS);
	unit_ok(cdbt_error(t) != NULL && cdbt_find(t, CDBT_DOMAIN, "x.org",
	    &m) == CDBT_ERROR, "missing table is an error, not a miss");
	cdbt_close(t);
	e[3].key = "192.168.";
	unit_ok(cdbt_write(path, CDBT_NETWORKS, e, 4, err, sizeof(err)) == -1,
	    "duplicate refused");
	unit_str(err, "4: duplicate key '192.168.'", "duplicate names its line");
	unlink(path);
	rmdir(dir);
}

/* A table with mkcdb's type record and one value longer than any value a
 * lookup can return (tinycdb's cdb_make, as another tool would write it):
 * the lookup is an error, never a cut value, and the table is not trusted
 * again by this process. */
static void
test_read_error(void)
{
	char			 dir[] = "/tmp/test_cdb.XXXXXX", path[256];
	char			 big[2000];
	struct cdb_make		 mk;
	struct cdbt_match	 m;
	struct cdbt		*t;
	int			 fd;

	tmp_file(dir, path, sizeof(path), "big.cdb");
	memset(big, 'x', sizeof(big));
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) == -1)
		abort();
	cdb_make_start(&mk, fd);
	if (cdb_make_add(&mk, CDBT_TYPE_KEY, CDBT_TYPE_KEYLEN, "domains", 7) ||
	    cdb_make_add(&mk, "ok.test", 7, "OK", 2) ||
	    cdb_make_add(&mk, "big.test", 8, big, sizeof(big)) ||
	    cdb_make_finish(&mk) || close(fd))
		abort();
	t = cdbt_open(path, CDBT_DOMAINS);
	unit_ok(cdbt_error(t) == NULL, "table with a long value opens");
	unit_ok(cdbt_find(t, CDBT_DOMAIN, "ok.test", &m) == CDBT_FOUND &&
	    strcmp(m.value, "OK") == 0, "short value found");
	unit_ok(cdbt_find(t, CDBT_DOMAIN, "big.test", &m) == CDBT_ERROR,
	    "value over CDBT_VALUE_MAX is a lookup error");
	unit_str(cdbt_error(t), "read error", "the error says why");
	unit_ok(cdbt_find(t, CDBT_DOMAIN, "ok.test", &m) == CDBT_ERROR,
	    "after a read error every lookup is an error");
	cdbt_close(t);
	unlink(path);
	rmdir(dir);
}

/* A networks table as another tool would write it: the type record, the
 * lengths record when lengths is not NULL (len bytes), and 10.0.0.0/8 and
 * 192.0.2.9. */
static void
nets_table(const char *path, const char *lengths, unsigned len)
{
	struct cdb_make	 mk;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) == -1)
		abort();
	cdb_make_start(&mk, fd);
	if (cdb_make_add(&mk, CDBT_TYPE_KEY, CDBT_TYPE_KEYLEN, "networks", 8) ||
	    (lengths != NULL && cdb_make_add(&mk, CDBT_LENGTHS_KEY,
	    CDBT_LENGTHS_KEYLEN, lengths, len)) ||
	    cdb_make_add(&mk, "10.0.0.0/8", 10, "OK", 2) ||
	    cdb_make_add(&mk, "192.0.2.9", 9, "OK", 2) ||
	    cdb_make_finish(&mk) || close(fd))
		abort();
}

/* The prefix lengths record: written by cdbt_write, obeyed by the walk. */
static void
test_lengths(void)
{
	char			 dir[] = "/tmp/test_cdb.XXXXXX", path[256];
	char			 err[512], only32[CDBT_SLOTS], got[CDBT_SLOTS];
	struct cdbt_entry	 e[] = {
		{ "192.168.", "OK", 1 }, { "10.0.0.0/8", "OK", 2 },
		{ "2001:db8::/32", "OK", 3 }, { "192.0.2.9", "OK", 4 },
	};
	const int		 want[] = { 8, 32, CDBT_SLOT_V6 + 32,
	    CDBT_SLOT_DOTS + 1 };
	struct cdbt_match	 m;
	struct cdbt		*t;
	struct cdb		 db;
	int			 fd, ok;

	unit_ok(cdbt_length_slot("192.0.2.9") == 32, "an IPv4 address is /32");
	unit_ok(cdbt_length_slot("0.0.0.0/0") == 0, "0.0.0.0/0 is slot 0");
	unit_ok(cdbt_length_slot("2001:db8::1") == CDBT_SLOT_V6 + 128,
	    "an IPv6 address is /128");
	unit_ok(cdbt_length_slot("10.") == CDBT_SLOT_DOTS, "'10.' is one octet");
	unit_ok(cdbt_length_slot("10.1.2.") == CDBT_SLOT_DOTS + 2,
	    "'10.1.2.' is three octets");
	unit_ok(cdbt_length_slot("1.2.3.4/33") == -1 &&
	    cdbt_length_slot("::/129") == -1 &&
	    cdbt_length_slot("1.2.3.0/x") == -1, "impossible lengths: -1");

	tmp_file(dir, path, sizeof(path), "nets.cdb");
	unit_ok(cdbt_write(path, CDBT_NETWORKS, e, 4, err, sizeof(err)) == 0,
	    "networks table written");
	if ((fd = open(path, O_RDONLY)) == -1 || cdb_init(&db, fd) != 0)
		abort();
	ok = cdb_find(&db, CDBT_LENGTHS_KEY, CDBT_LENGTHS_KEYLEN) == 1 &&
	    cdb_datalen(&db) == CDBT_SLOTS &&
	    cdb_read(&db, got, CDBT_SLOTS, cdb_datapos(&db)) == 0;
	for (int i = 0, w = 0; ok && i < CDBT_SLOTS; i++) {
		int set = w < 4 && want[w] == i;

		ok = got[i] == (set ? '1' : '0');
		w += set;
	}
	unit_ok(ok, "its lengths record marks /8, /32, IPv6 /32, 'a.b.'");
	cdb_free(&db);
	close(fd);

	memset(only32, '0', sizeof(only32));
	only32[32] = '1';
	nets_table(path, only32, sizeof(only32));
	t = cdbt_open(path, CDBT_NETWORKS);
	unit_ok(cdbt_find(t, CDBT_NETWORK, "192.0.2.9", &m) == CDBT_FOUND,
	    "a length the record names is looked up");
	unit_ok(cdbt_find(t, CDBT_NETWORK, "10.1.2.3", &m) == CDBT_NOTFOUND,
	    "a length the record does not name is skipped");
	cdbt_close(t);
	nets_table(path, NULL, 0);
	t = cdbt_open(path, CDBT_NETWORKS);
	unit_ok(cdbt_find(t, CDBT_NETWORK, "10.1.2.3", &m) == CDBT_FOUND,
	    "without the record (an older mkcdb) every length is tried");
	cdbt_close(t);
	nets_table(path, only32, 10);
	t = cdbt_open(path, CDBT_NETWORKS);
	unit_str(cdbt_error(t), "corrupt table", "a short lengths record");
	cdbt_close(t);
	unlink(path);
	rmdir(dir);
}

static ino_t
inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* cdbt_pop_update: 1 written, 0 unchanged (no new file), -1 error. */
static void
test_pop_update(void)
{
	char			 dir[] = "/tmp/test_cdb.XXXXXX", path[256];
	char			 lock[300], err[512];
	struct cdbt_match	 m;
	struct cdbt		*t;
	ino_t			 ino;

	tmp_file(dir, path, sizeof(path), "pop.cdb");
	snprintf(lock, sizeof(lock), "%s.lock", path);
	unit_ok(cdbt_pop_update(path, "192.0.2.7", 1000, 0, err,
	    sizeof(err)) == 1, "first login: written");
	ino = inode_of(path);
	unit_ok(cdbt_pop_update(path, "192.0.2.7", 1000, 0, err,
	    sizeof(err)) == 0, "same login, same second: unchanged");
	unit_ok(inode_of(path) == ino, "... and the table is not rewritten");
	unit_ok(cdbt_pop_update(path, "192.0.2.7", 1500, 0, err,
	    sizeof(err)) == 1 && inode_of(path) != ino,
	    "same address later: rewritten");
	unit_ok(cdbt_pop_update(path, "2001:DB8::9", 1900, 3600, err,
	    sizeof(err)) == 1, "second address: written");
	t = cdbt_open(path, CDBT_POP);
	unit_ok(cdbt_find(t, CDBT_EXACT, "192.0.2.7", &m) == CDBT_FOUND &&
	    strcmp(m.value, "1500") == 0, "the login time was refreshed");
	unit_ok(cdbt_find(t, CDBT_EXACT, "2001:db8::9", &m) == CDBT_FOUND,
	    "IPv6 login stored canonical");
	cdbt_close(t);
	unit_ok(cdbt_pop_update(path, NULL, 2200, 600, err, sizeof(err)) == 1,
	    "expiry: the 700 s old login goes");
	t = cdbt_open(path, CDBT_POP);
	unit_ok(cdbt_find(t, CDBT_EXACT, "192.0.2.7", &m) == CDBT_NOTFOUND &&
	    cdbt_find(t, CDBT_EXACT, "2001:db8::9", &m) == CDBT_FOUND,
	    "... the 300 s old one stays");
	cdbt_close(t);
	unit_ok(cdbt_pop_update(path, NULL, 2200, 600, err, sizeof(err)) == 0,
	    "nothing to expire: unchanged");
	ino = inode_of(path);
	unit_ok(cdbt_pop_update(path, "192.0.2.0/24", 2300, 0, err,
	    sizeof(err)) == -1, "a network is not a login address");
	unit_str(err, "192.0.2.0/24: not an IP address", "... with the reason");
	unit_ok(inode_of(path) == ino, "... and nothing written");
	unlink(path);
	unlink(lock);
	rmdir(dir);
}

int
main(void)
{
	test_walks();
	test_normalize();
	test_round_trip();
	test_read_error();
	test_lengths();
	test_pop_update();
	return unit_done();
}
