/*
 * cdb_write.c: the write side, shared by mkcdb and popwatch.
 * Source keys are checked per table type and stored in one canonical form
 * (lower case, canonical addresses), so the read side's walks find them.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cdb.h>
#include <bsd/string.h>

#include "cdb.h"

static int
cdbt_is_domain(const char *d)
{
	const char *label = d;

	if (*d == '[')
		return d[strlen(d) - 1] == ']' && strlen(d) > 2 &&
		    strpbrk(d + 1, "[] ") == d + strlen(d) - 1;
	for (const char *p = d;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || *label == '-' ||
			    p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = p + 1;
		} else if (!isalnum((unsigned char)*p) && *p != '-' &&
		    *p != '_')
			return 0;
	}
}

/* "user@domain", "@domain" (with_at_domain) or "user@" are all fine. */
static int
cdbt_is_address(const char *a, int partial)
{
	const char *at = strrchr(a, '@');

	if (at == NULL || strpbrk(a, " \t<>") != NULL)
		return 0;
	if (at == a)
		return partial && cdbt_is_domain(at + 1);
	if (at[1] == '\0')
		return partial;
	return cdbt_is_domain(at + 1);
}

/* Is the local part of address a as lookups will ask for it?  A key
 * lookups can never reach ("x"@dom, a..b@dom) is refused, not stored. */
static int
cdbt_key_canonical(const char *a)
{
	char		 canon[CDBT_KEY_MAX];
	size_t		 len = (size_t)(strrchr(a, '@') - a);

	if (len == 0)
		return 0;	/* @domain */
	cdbt_local_canon(a, len, canon, sizeof(canon));
	return strlen(canon) == len && strncmp(canon, a, len) == 0 ? 0 : -1;
}

/* Canonical IP, "a.b.c." prefix, or CIDR with no host bits set. */
static int
cdbt_norm_network(const char *k, char *out, size_t size, const char **why)
{
	unsigned char	 addr[16];
	char		 ip[INET6_ADDRSTRLEN + 8];
	const char	*slash = strchr(k, '/');
	int		 af = strchr(k, ':') ? AF_INET6 : AF_INET, bits = -1;
	int		 max = af == AF_INET ? 32 : 128;

	if (k[0] == '\0')
		goto bad;
	if (af == AF_INET && k[strlen(k) - 1] == '.') {
		int	 dots = 0, ok = 1;
		char	*end;

		for (const char *p = k; *p && ok; p = end + 1, dots++) {
			long v = strtol(p, &end, 10);

			/* "01" would never match: lookups write "1" */
			ok = end != p && *end == '.' && v >= 0 && v <= 255 &&
			    isdigit((unsigned char)*p) && (*p != '0' || end == p + 1);
		}
		if (!ok || dots > 3) {
			*why = "bad address prefix";
			return -1;
		}
		strlcpy(out, k, size);
		return 0;
	}
	if (strlcpy(ip, k, sizeof(ip)) >= sizeof(ip))
		goto bad;
	if (slash != NULL) {
		char *end;

		ip[slash - k] = '\0';
		bits = (int)strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0' || bits < 0 || bits > max)
			goto bad;
	}
	if (inet_pton(af, ip, addr) != 1)
		goto bad;
	if (bits >= 0 && bits < max) {
		for (int i = 0; i < max / 8; i++) {
			int keep = bits - i * 8;
			unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 :
			    (unsigned char)(0xff << (8 - keep));

			if (addr[i] & ~mask) {
				*why = "host bits set in the network";
				return -1;
			}
		}
	}
	inet_ntop(af, addr, ip, sizeof(ip));
	if (bits >= 0 && bits < max)
		snprintf(out, size, "%s/%d", ip, bits);
	else
		strlcpy(out, ip, size);
	return 0;
bad:
	*why = "not an address, CIDR network or a.b.c. prefix";
	return -1;
}

static int
cdbt_norm_networks_value(const char *v, char *out, size_t size,
    const char **why)
{
	if (*v == '\0' || strcasecmp(v, "OK") == 0) {
		strlcpy(out, "OK", size);
		return 0;
	}
	if (strncasecmp(v, "REJECT", 6) == 0 && (v[6] == '\0' || v[6] == ' ')) {
		snprintf(out, size, "REJECT%s", v + 6);
		return 0;
	}
	*why = "value must be OK or REJECT text";
	return -1;
}

/* "a, b,c" -> "a,b,c"; logins are single words. */
static int
cdbt_norm_logins(const char *v, char *out, size_t size, const char **why)
{
	size_t n = 0;

	for (const char *p = v; *p != '\0';) {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == 0)
			break;
		if (n + (n > 0) + len + 1 > size) {	/* comma, NUL */
			*why = "value too long";
			return -1;
		}
		if (n > 0)
			out[n++] = ',';
		memcpy(out + n, p, len);
		n += len;
		p += len;
	}
	out[n] = '\0';
	if (n == 0) {
		*why = "missing logins";
		return -1;
	}
	return 0;
}

/* greylist_exempt: a network, "@domain", "@.domain", "<>" or an address */
static int
cdbt_norm_greylist(char *k, size_t ksize, const char *v, char *vout,
    size_t vsize, const char **why)
{
	if (*v != '\0' && strcasecmp(v, "OK") != 0) {
		*why = "value must be OK";
		return -1;
	}
	strlcpy(vout, "OK", vsize);
	if (strcmp(k, "<>") == 0)
		return 0;
	if (strchr(k, '@') == NULL) {
		if (cdbt_norm_network(k, k, ksize, why) == 0)
			return 0;
	} else if (k[0] == '@' ? cdbt_is_domain(k + (k[1] == '.' ? 2 : 1)) :
	    cdbt_is_address(k, 0) && cdbt_key_canonical(k) == 0)
		return 0;
	*why = "not a network, @domain, @.domain, <> or user@domain";
	return -1;
}

int
cdbt_normalize(enum cdbt_type type, const char *key, const char *value,
    char *kout, size_t ksize, char *vout, size_t vsize, const char **why)
{
	char *end;

	if (strlen(key) >= ksize || strlen(value) >= vsize) {
		*why = "key or value too long";
		return -1;
	}
	if (key[0] == '\0') {
		*why = "empty key";
		return -1;
	}
	cdbt_lower(kout, key, ksize);
	switch (type) {
	case CDBT_DOMAINS:
		if (!cdbt_is_domain(kout[0] == '.' ? kout + 1 : kout)) {
			*why = "not a domain or .domain";
			return -1;
		}
		strlcpy(vout, *value ? value : "OK", vsize);
		return 0;
	case CDBT_NETWORKS:
		if (cdbt_norm_network(kout, kout, ksize, why) == -1)
			return -1;
		return cdbt_norm_networks_value(value, vout, vsize, why);
	case CDBT_SENDERS:
	case CDBT_RECIPIENTS:
		if (!cdbt_is_address(kout, type == CDBT_SENDERS)) {
			*why = type == CDBT_SENDERS ?
			    "not an address or @domain" : "not an address";
			return -1;
		}
		if (cdbt_key_canonical(kout) == -1) {
			*why = "local part not in the form mail is delivered "
			    "to (unquoted dot-string)";
			return -1;
		}
		if (type == CDBT_RECIPIENTS &&
		    strcasecmp(value, "authenticated") == 0) {
			strlcpy(vout, "authenticated", vsize);
			return 0;
		}
		return cdbt_norm_logins(value, vout, vsize, why);
	case CDBT_POP:
		if (strchr(kout, '/') != NULL || kout[strlen(kout) - 1] == '.' ||
		    cdbt_norm_network(kout, kout, ksize, why) == -1) {
			*why = "not an IP address";
			return -1;
		}
		if (!isdigit((unsigned char)*value) ||
		    strtoll(value, &end, 10) < 0 || *end != '\0') {
			*why = "value must be a unix time";
			return -1;
		}
		strlcpy(vout, value, vsize);
		return 0;
	case CDBT_GREYLIST:
		return cdbt_norm_greylist(kout, ksize, value, vout, vsize, why);
	default:
		*why = "unknown table type";
		return -1;
	}
}

/* The record of the prefix lengths the keys have (see cdb.h). */
static int
cdbt_add_lengths(struct cdb_make *mk, const struct cdbt_entry *e, size_t n)
{
	char lengths[CDBT_SLOTS];

	memset(lengths, '0', sizeof(lengths));
	for (size_t i = 0; i < n; i++) {
		int slot = cdbt_length_slot(e[i].key);

		if (slot >= 0)
			lengths[slot] = '1';
	}
	return cdb_make_add(mk, CDBT_LENGTHS_KEY, CDBT_LENGTHS_KEYLEN, lengths,
	    sizeof(lengths));
}

/* Replace path atomically with a table of these entries. */
int
cdbt_write(const char *path, enum cdbt_type type,
    const struct cdbt_entry *e, size_t n, char *err, size_t esize)
{
	struct cdb_make	 mk;
	char		 tmp[4096], dir[4096];
	const char	*tname = cdbt_type_name(type);
	int		 fd, dfd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    sizeof(tmp) || (fd = mkstemp(tmp)) == -1) {
		snprintf(err, esize, "%s: cannot create a temp file: %s", path,
		    strerror(errno));
		return -1;
	}
	fchmod(fd, 0644);
	cdb_make_start(&mk, fd);
	int rc = cdb_make_add(&mk, CDBT_TYPE_KEY, CDBT_TYPE_KEYLEN, tname,
	    (unsigned)strlen(tname));
	if (rc == 0 && (type == CDBT_NETWORKS || type == CDBT_POP))
		rc = cdbt_add_lengths(&mk, e, n);
	err[0] = '\0';
	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned klen = (unsigned)strlen(e[i].key);

		if (cdb_make_exists(&mk, e[i].key, klen) > 0) {
			snprintf(err, esize, "%d: duplicate key '%s'",
			    e[i].line, e[i].key);
			rc = -1;
		} else
			rc = cdb_make_add(&mk, e[i].key, klen, e[i].value,
			    (unsigned)strlen(e[i].value));
	}
	if (rc != 0 && err[0] == '\0')
		snprintf(err, esize, "%s: %s", tmp, strerror(errno));
	if (rc != 0)
		(void)cdb_make_finish(&mk);	/* frees what adds allocated */
	else
		rc = cdb_make_finish(&mk);
	if (rc != 0 || fsync(fd) != 0) {
		if (err[0] == '\0')
			snprintf(err, esize, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) != 0) {
		snprintf(err, esize, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		snprintf(err, esize, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	strlcpy(dir, path, sizeof(dir));
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int
cdbt_load_add(struct cdbt_entry **e, size_t *n, size_t *cap,
    const char *k, unsigned klen, const char *v, unsigned vlen)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct cdbt_entry *ne = reallocarray(*e, ncap, sizeof(**e));

		if (ne == NULL)
			return -1;
		*e = ne;
		*cap = ncap;
	}
	(*e)[*n].key = strndup(k, klen);
	(*e)[*n].value = strndup(v, vlen);
	(*e)[*n].line = 0;
	if ((*e)[*n].key == NULL || (*e)[*n].value == NULL) {
		free((*e)[*n].key);
		free((*e)[*n].value);
		return -1;
	}
	(*n)++;
	return 0;
}

/* Read every entry of a table back (a missing table is empty). */
int
cdbt_load(const char *path, enum cdbt_type type, struct cdbt_entry **e,
    size_t *n, char *err, size_t esize)
{
	struct cdbt	*t;
	struct cdb	 db;
	unsigned	 pos;
	size_t		 cap = 0;
	int		 fd, rc = 0;

	*e = NULL;
	*n = 0;
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	t = cdbt_open(path, type);
	if (t == NULL || cdbt_error(t) != NULL) {
		snprintf(err, esize, "%s: %s", path, t ? cdbt_error(t) :
		    "out of memory");
		cdbt_close(t);
		return -1;
	}
	cdbt_close(t);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    cdb_init(&db, fd) != 0) {
		snprintf(err, esize, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	cdb_seqinit(&pos, &db);
	/* cdb_seqnext: 1 a record, 0 the end, -1 a record past the end of
	 * the file (corrupt): an error, never a shorter table */
	for (int more; rc == 0 && (more = cdb_seqnext(&pos, &db)) != 0;) {
		const char *k = cdb_getkey(&db), *v = cdb_getdata(&db);

		if (more < 0 || k == NULL || v == NULL)
			rc = -1;
		else if (cdb_keylen(&db) == 0 || k[0] != '\0')
			/* a "\0..." key is a record of mkcdb's own */
			rc = cdbt_load_add(e, n, &cap, k, cdb_keylen(&db), v,
			    cdb_datalen(&db));
	}
	cdb_free(&db);
	close(fd);
	if (rc != 0) {
		snprintf(err, esize, "%s: cannot read the table", path);
		cdbt_free_entries(*e, *n);
		*e = NULL;
		*n = 0;
	}
	return rc;
}

void
cdbt_free_entries(struct cdbt_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].value);
	}
	free(e);
}

/* Writers of one table take turns on "table.lock"; returns the lock fd. */
int
cdbt_lock(const char *path, char *err, size_t esize)
{
	char	 lock[4096];
	int	 fd;

	snprintf(lock, sizeof(lock), "%s.lock", path);
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1 ||
	    flock(fd, LOCK_EX) == -1) {
		snprintf(err, esize, "%s: %s", lock, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

void
cdbt_unlock(int fd)
{
	if (fd != -1)
		close(fd);
}

/* Set ip's login time to now (ip may be NULL) and drop logins older than
 * window seconds (window 0: keep all); write only when something changed. */
int
cdbt_pop_update(const char *path, const char *ip, time_t now, long window,
    char *err, size_t esize)
{
	struct cdbt_entry	*e;
	size_t			 n, i, kept = 0;
	char			 key[CDBT_KEY_MAX], val[32], stamp[32];
	const char		*why;
	int			 lock, changed = 0, rc = -1, found = 0;

	snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	if (ip != NULL && cdbt_normalize(CDBT_POP, ip, stamp, key,
	    sizeof(key), val, sizeof(val), &why) == -1) {
		snprintf(err, esize, "%s: %s", ip, why);
		return -1;
	}
	if ((lock = cdbt_lock(path, err, esize)) == -1)
		return -1;
	if (cdbt_load(path, CDBT_POP, &e, &n, err, esize) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		long long t = strtoll(e[i].value, NULL, 10);

		if (ip != NULL && strcmp(e[i].key, key) == 0) {
			found = 1;
			changed |= strcmp(e[i].value, val) != 0;
			free(e[i].value);
			e[i].value = strdup(val);
		} else if (window > 0 && t < (long long)now - window) {
			changed = 1;
			free(e[i].key);
			free(e[i].value);
			continue;
		}
		e[kept++] = e[i];
	}
	n = kept;
	if (ip != NULL && !found) {
		struct cdbt_entry *ne = reallocarray(e, n + 1, sizeof(*e));

		if (ne == NULL) {
			snprintf(err, esize, "out of memory");
			cdbt_free_entries(e, n);
			goto out;
		}
		e = ne;
		e[n].key = strdup(key);
		e[n].value = strdup(val);
		e[n].line = 0;
		n++;
		changed = 1;
	}
	for (i = 0; i < n; i++)
		if (e[i].key == NULL || e[i].value == NULL) {
			snprintf(err, esize, "out of memory");
			changed = -1;
		}
	if (changed == 1)
		rc = cdbt_write(path, CDBT_POP, e, n, err, esize) == 0 ? 1 : -1;
	else
		rc = changed;
	cdbt_free_entries(e, n);
out:
	cdbt_unlock(lock);
	return rc;
}
