/*
 * cdb_read.c: open tables, walk keys, look up.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cdb.h>
#include <bsd/string.h>

#include "cdb.h"
#include "log.h"

#define CDBT_WALK_MAX	140	/* IPv6: address + 128 prefixes */

struct cdbt {
	char		 name[1024];
	enum cdbt_type	 type;
	int		 fd;
	int		 ok;
	struct cdb	 db;
	char		 err[256];
	char		 lengths[CDBT_SLOTS];	/* '1': keys of that length */
	int		 has_lengths;
	struct stat	 st;		/* of the file opened, for cdbt_changed */
};

static const char *const cdbt_types[CDBT_NTYPES] = {
	"domains", "networks", "senders", "recipients", "pop", "greylist"
};

const char *
cdbt_type_name(enum cdbt_type t)
{
	return cdbt_types[t];
}

int
cdbt_type_parse(const char *s)
{
	for (int i = 0; i < CDBT_NTYPES; i++)
		if (strcmp(cdbt_types[i], s) == 0)
			return i;
	return -1;
}

enum cdbt_kind
cdbt_kind_of(enum cdbt_type t, const char *key)
{
	if (t == CDBT_GREYLIST)		/* as greylist/ asks */
		return strchr(key, '@') != NULL || strcmp(key, "<>") == 0 ?
		    CDBT_EXACT : CDBT_NETWORK;
	switch (t) {
	case CDBT_DOMAINS:
		return CDBT_DOMAIN;
	case CDBT_NETWORKS:
		return CDBT_NETWORK;
	case CDBT_SENDERS:
	case CDBT_RECIPIENTS:
		return CDBT_ADDRESS;
	default:
		return CDBT_EXACT;
	}
}

/* Check the type record mkcdb writes into every table. */
static int
cdbt_check_type(struct cdbt *t)
{
	char	 value[32];
	int	 rc = cdb_find(&t->db, CDBT_TYPE_KEY, CDBT_TYPE_KEYLEN);
	unsigned len;

	if (rc < 0) {
		snprintf(t->err, sizeof(t->err), "corrupt table");
		return -1;
	}
	if (rc == 0 || (len = cdb_datalen(&t->db)) >= sizeof(value) ||
	    cdb_read(&t->db, value, len, cdb_datapos(&t->db)) != 0) {
		snprintf(t->err, sizeof(t->err), "not a table made by mkcdb");
		return -1;
	}
	value[len] = '\0';
	if (strcmp(value, cdbt_types[t->type]) != 0) {
		snprintf(t->err, sizeof(t->err), "a %s table, not %s", value,
		    cdbt_types[t->type]);
		return -1;
	}
	return 0;
}

/*
 * The slot of a network key (a canonical address, CIDR block or qpsmtpd
 * prefix, as mkcdb stores them and cdbt_keys() walks them), or -1.
 */
int
cdbt_length_slot(const char *key)
{
	size_t		 len = strlen(key);
	const char	*slash = strchr(key, '/');
	char		*end;
	int		 v6 = strchr(key, ':') != NULL, dots = 0;
	long		 bits = v6 ? 128 : 32;

	if (len > 0 && key[len - 1] == '.' && !v6) {
		for (const char *p = key; *p; p++)
			dots += *p == '.';
		return dots <= 3 ? CDBT_SLOT_DOTS + dots - 1 : -1;
	}
	if (slash != NULL) {
		bits = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0' || bits < 0 ||
		    bits > (v6 ? 128 : 32))
			return -1;
	}
	return (int)bits + (v6 ? CDBT_SLOT_V6 : 0);
}

/* The lengths record of a networks or pop table: 0, or -1 if corrupt. */
static int
cdbt_read_lengths(struct cdbt *t)
{
	int rc = cdb_find(&t->db, CDBT_LENGTHS_KEY, CDBT_LENGTHS_KEYLEN);

	if (rc == 0)
		return 0;		/* an older mkcdb: walk every key */
	if (rc < 0 || cdb_datalen(&t->db) != CDBT_SLOTS ||
	    cdb_read(&t->db, t->lengths, CDBT_SLOTS,
	    cdb_datapos(&t->db)) != 0) {
		snprintf(t->err, sizeof(t->err), "corrupt table");
		return -1;
	}
	t->has_lengths = 1;
	return 0;
}

struct cdbt *
cdbt_open(const char *spec, enum cdbt_type type)
{
	struct cdbt	*t;
	const char	*path = spec;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->type = type;
	t->fd = -1;
	strlcpy(t->name, spec, sizeof(t->name));
	if (strncmp(path, "cdb:", 4) == 0)
		path += 4;
	if ((t->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(t->err, sizeof(t->err), "%s", strerror(errno));
		return t;
	}
	(void)fstat(t->fd, &t->st);
	if (cdb_init(&t->db, t->fd) != 0) {
		snprintf(t->err, sizeof(t->err), "corrupt table");
		close(t->fd);
		t->fd = -1;
		return t;
	}
	if (cdbt_check_type(t) == 0 && ((type != CDBT_NETWORKS &&
	    type != CDBT_POP) || cdbt_read_lengths(t) == 0))
		t->ok = 1;
	return t;
}

/* cdbt_changed - has the file been replaced (or made) since t was opened?
 * mkcdb and popwatch rename a new file into place: a new inode. */
int
cdbt_changed(const struct cdbt *t)
{
	struct stat	 st;
	const char	*path = t->name;

	if (strncmp(path, "cdb:", 4) == 0)
		path += 4;
	if (stat(path, &st) == -1)
		return t->fd != -1;
	return t->fd == -1 || st.st_ino != t->st.st_ino ||
	    st.st_dev != t->st.st_dev || st.st_mtime != t->st.st_mtime;
}

/* A table named in the configuration: NULL for "", problems logged. */
struct cdbt *
cdbt_open_conf(const char *spec, enum cdbt_type type)
{
	struct cdbt *t;

	if (spec[0] == '\0')
		return NULL;
	if ((t = cdbt_open(spec, type)) == NULL)
		fatalx("event=fatal reason=\"out of memory\"");
	if (cdbt_error(t) != NULL)
		log_warnx("event=table-error table=%s reason=\"%s\"", spec,
		    cdbt_error(t));
	return t;
}

void
cdbt_close(struct cdbt *t)
{
	if (t == NULL)
		return;
	if (t->fd != -1) {
		cdb_free(&t->db);
		close(t->fd);
	}
	free(t);
}

const char *
cdbt_name(const struct cdbt *t)
{
	return t->name;
}

const char *
cdbt_error(const struct cdbt *t)
{
	return t->ok ? NULL : t->err;
}

void
cdbt_lower(char *dst, const char *src, size_t size)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < size; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

static int
cdbt_domain_keys(const char *in, char (*keys)[CDBT_KEY_MAX], int max)
{
	char		 d[CDBT_KEY_MAX];
	const char	*p;
	int		 n = 0;

	cdbt_lower(d, in, sizeof(d));
	strlcpy(keys[n++], d, CDBT_KEY_MAX);
	if (d[0] == '[')
		return n;	/* an address literal has no parents */
	for (p = strchr(d, '.'); p != NULL && n < max; p = strchr(p + 1, '.'))
		strlcpy(keys[n++], p, CDBT_KEY_MAX);
	return n;
}

/* Characters that start an address extension (recipient_delimiter). */
static char cdbt_delims[17] = "+";

void
cdbt_set_delimiters(const char *delims)
{
	strlcpy(cdbt_delims, delims, sizeof(cdbt_delims));
}

static int
cdbt_atext(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c)) ||
	    c >= 0x80;
}

/*
 * The local part as the MTA delivers to it: a quoted one unquoted and its
 * backslash escapes removed.  What is not then a dot-string is folded to
 * one (other characters dropped, dots collapsed), so "st aff" is looked
 * up as the staff it could alias.  Lower case.
 */
void
cdbt_local_canon(const char *in, size_t len, char *out, size_t size)
{
	char	 raw[CDBT_KEY_MAX];
	size_t	 n = 0, o = 0;

	if (len >= 2 && in[0] == '"' && in[len - 1] == '"') {
		for (size_t i = 1; i + 1 < len && n + 1 < sizeof(raw); i++) {
			if (in[i] == '\\' && i + 2 < len)
				i++;
			raw[n++] = in[i];
		}
	} else {
		n = len < sizeof(raw) ? len : sizeof(raw) - 1;
		memcpy(raw, in, n);
	}
	raw[n] = '\0';
	for (size_t i = 0; i < n && o + 1 < size; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (cdbt_atext(c))
			out[o++] = (char)tolower(c);
		else if (c == '.' && o > 0 && out[o - 1] != '.')
			out[o++] = '.';
	}
	if (o > 0 && out[o - 1] == '.')
		o--;
	out[o] = '\0';
}

/* Length of local without its extension; len when it has none.  As
 * Postfix: never at the start, and not in owner-x or x-request with '-'. */
static size_t
cdbt_unextended(const char *local)
{
	size_t	 len = strlen(local), i = strcspn(local, cdbt_delims);

	if (i == 0 || i == len)
		return len;
	if (local[i] == '-' && (strncmp(local, "owner-", 6) == 0 ||
	    (len >= 8 && strcmp(local + len - 8, "-request") == 0)))
		return len;
	return i;
}

/* key = the first llen bytes of local, then "@" and dom when at is set */
static void
cdbt_join(char *key, const char *local, size_t llen, int at, const char *dom)
{
	if (llen >= CDBT_KEY_MAX)
		llen = CDBT_KEY_MAX - 1;
	memcpy(key, local, llen);
	key[llen] = '\0';
	if (at)
		strlcat(key, "@", CDBT_KEY_MAX);
	strlcat(key, dom, CDBT_KEY_MAX);
}

/* Postfix access(5) order: user+ext@dom, user@dom, @dom, user+ext@, user@ */
static int
cdbt_address_keys(const char *in, char (*keys)[CDBT_KEY_MAX], int max)
{
	char		 local[CDBT_KEY_MAX], dom[CDBT_KEY_MAX];
	const char	*at = strrchr(in, '@');
	size_t		 len, ul;
	int		 n = 0, ext;

	cdbt_local_canon(in, at ? (size_t)(at - in) : strlen(in), local,
	    sizeof(local));
	len = strlen(local);
	ul = cdbt_unextended(local);
	ext = ul < len;
	cdbt_lower(dom, at ? at + 1 : "", sizeof(dom));
	if (max < 5)
		return 0;
	cdbt_join(keys[n++], local, len, at != NULL, dom);
	if (ext)
		cdbt_join(keys[n++], local, ul, at != NULL, dom);
	if (at == NULL)		/* <postmaster>, or a name the backend qualifies */
		return n;
	if (dom[0] != '\0')
		cdbt_join(keys[n++], "", 0, 1, dom);
	if (len > 0)
		cdbt_join(keys[n++], local, len, 1, "");
	if (ext)
		cdbt_join(keys[n++], local, ul, 1, "");
	return n;
}

/* Keep the first bits of an address, zero the rest. */
static void
cdbt_mask(unsigned char *a, int len, int bits)
{
	for (int i = 0; i < len; i++) {
		int keep = bits - i * 8;

		if (keep >= 8)
			continue;
		a[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
}

static int
cdbt_network_keys(const char *in, char (*keys)[CDBT_KEY_MAX], int max)
{
	unsigned char	 addr[16], m[16];
	char		 buf[INET6_ADDRSTRLEN], canon[INET6_ADDRSTRLEN];
	int		 af = strchr(in, ':') ? AF_INET6 : AF_INET;
	int		 len = af == AF_INET ? 4 : 16, n = 0;

	if (inet_pton(af, in, addr) != 1)
		return 0;
	inet_ntop(af, addr, canon, sizeof(canon));
	strlcpy(keys[n++], canon, CDBT_KEY_MAX);
	for (int bits = len * 8 - 1; bits >= 0 && n < max; bits--) {
		memcpy(m, addr, sizeof(m));
		cdbt_mask(m, len, bits);
		inet_ntop(af, m, buf, sizeof(buf));
		snprintf(keys[n++], CDBT_KEY_MAX, "%s/%d", buf, bits);
		if (af == AF_INET && bits % 8 == 0 && bits > 0 && n < max) {
			/* qpsmtpd's "192.168." after the CIDR of its length */
			const char *p = canon;

			for (int dots = bits / 8; dots > 0; dots--)
				p = strchr(p, '.') + 1;
			snprintf(keys[n++], CDBT_KEY_MAX, "%.*s",
			    (int)(p - canon), canon);
		}
	}
	return n;
}

int
cdbt_keys(enum cdbt_kind kind, const char *in, char (*keys)[CDBT_KEY_MAX],
    int max)
{
	if (max < 1 || strlen(in) >= CDBT_KEY_MAX)
		return 0;
	switch (kind) {
	case CDBT_DOMAIN:
		return cdbt_domain_keys(in, keys, max);
	case CDBT_ADDRESS:
		return cdbt_address_keys(in, keys, max);
	case CDBT_NETWORK:
		return cdbt_network_keys(in, keys, max);
	case CDBT_EXACT:
		cdbt_lower(keys[0], in, CDBT_KEY_MAX);
		return 1;
	}
	return 0;
}

/* One exact key; -1 for a read error (corrupt or truncated table). */
static int
cdbt_get(struct cdbt *t, const char *key, struct cdbt_match *m)
{
	unsigned	 len;
	int		 rc = cdb_find(&t->db, key, (unsigned)strlen(key));

	if (rc <= 0)
		return rc < 0 ? -1 : 0;
	len = cdb_datalen(&t->db);
	if (len >= sizeof(m->value) ||
	    cdb_read(&t->db, m->value, len, cdb_datapos(&t->db)) != 0)
		return -1;
	m->value[len] = '\0';
	strlcpy(m->key, key, sizeof(m->key));
	return 1;
}

int
cdbt_find(struct cdbt *t, enum cdbt_kind kind, const char *in,
    struct cdbt_match *m)
{
	static char	 keys[CDBT_WALK_MAX][CDBT_KEY_MAX];
	int		 n, rc;

	if (t == NULL || !t->ok)
		return CDBT_ERROR;
	n = cdbt_keys(kind, in, keys, CDBT_WALK_MAX);
	for (int i = 0; i < n; i++) {
		int slot;

		if (kind == CDBT_NETWORK && t->has_lengths &&
		    (slot = cdbt_length_slot(keys[i])) >= 0 &&
		    t->lengths[slot] != '1')
			continue;	/* no key of that length */
		if ((rc = cdbt_get(t, keys[i], m)) == -1) {
			snprintf(t->err, sizeof(t->err), "read error");
			t->ok = 0;
			return CDBT_ERROR;
		}
		if (rc == 1)
			return CDBT_FOUND;
	}
	return CDBT_NOTFOUND;
}
