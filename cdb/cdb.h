/*
 * cdb: smtpproxy's tables, CDB files over tinycdb (libcdb).
 *
 * Read side.  cdbt_open(spec, type) opens "cdb:/path/file.cdb" once per
 * process (before privileges are dropped) and never fails: a missing,
 * unreadable, corrupt or wrong-type table gives a handle whose every lookup
 * answers CDBT_ERROR, so the caller can turn it into a 4xx at the right
 * moment; cdbt_error() says why.  Each table carries a type record written
 * by mkcdb, which is how a table of the wrong kind or a random file is
 * told apart from a good one.
 * cdbt_open_conf(spec, type) is cdbt_open for a configuration key: NULL
 * when the key is empty, a table problem logged (event=table-error).
 * cdbt_changed(t) says whether t's file was replaced (a new inode or
 * time) or appeared since t was opened: a long-lived process opens it
 * again (server mode's parent).
 * cdbt_lower(dst, src, size) copies src in lower case.
 * cdbt_set_delimiters(chars) sets recipient_delimiter for address walks
 * (default "+"; "" for none).  An address is walked in the form the MTA
 * delivers to: a quoted local part unquoted and unescaped (folded to a
 * dot-string when it is not one), then Postfix access(5)'s order
 * user+ext@dom, user@dom, @dom, user+ext@, user@.  cdbt_local_canon(in,
 * len, out, size) is that form of the local part in[0..len).
 * cdbt_find(t, kind, key, m) walks the candidate keys of kind from most to
 * least specific and answers CDBT_FOUND (m->key and m->value filled),
 * CDBT_NOTFOUND or CDBT_ERROR.  A networks or pop table also records which
 * prefix lengths its keys have (CDBT_LENGTHS_KEY: one '0' or '1' per slot
 * of cdbt_length_slot()); an address walk then skips the lengths the table
 * does not hold: two or three probes instead of 36 for IPv4.  A table
 * without the record (an older mkcdb) is walked whole.  cdbt_keys() lists
 * every candidate (all lengths), for the unit tests and for mkcdb -q.
 *
 * A greylist table (greylist_exempt) mixes key forms: networks (as a
 * networks table's), "@domain" and "@.domain" (senders), "<>" (the null
 * sender) and "user@domain" (recipients); the value is OK.  Its user looks
 * each form up exactly (CDBT_NETWORK for the client).
 * Write side (mkcdb and popwatch).  cdbt_normalize(type, key, value, ...)
 * checks one source line and gives the stored key and value.
 * cdbt_write(path, type, entries, n, err) replaces the table atomically:
 * temp file in the same folder, fsync, rename, fsync of the folder.
 * cdbt_lock(path) serialises writers with "path.lock" (flock); readers
 * never lock: they always see a whole file.
 * cdbt_load(path, type, &entries, &n, err) reads a table back (pop -a/-x).
 * cdbt_pop_update(path, ip, now, window, err) records a login of ip (or
 * none) and drops logins older than window seconds (0: none), under the
 * lock; it writes only when the set changed and returns 1 (written),
 * 0 (unchanged) or -1 (error).
 */
#ifndef SMTPPROXY_CDB_H
#define SMTPPROXY_CDB_H

#include <stddef.h>
#include <time.h>

#define CDBT_KEY_MAX	512
#define CDBT_VALUE_MAX	1024
#define CDBT_TYPE_KEY	"\0smtpproxy-table"	/* 16 bytes with the NUL */
#define CDBT_TYPE_KEYLEN 16
#define CDBT_LENGTHS_KEY "\0smtpproxy-lengths"	/* 18 bytes with the NUL */
#define CDBT_LENGTHS_KEYLEN 18
/* slots of network keys: IPv4 /0-/32, IPv6 /0-/128, qpsmtpd "a." to "a.b.c." */
#define CDBT_SLOT_V6	33
#define CDBT_SLOT_DOTS	162
#define CDBT_SLOTS	165

enum cdbt_result { CDBT_ERROR = -1, CDBT_NOTFOUND = 0, CDBT_FOUND = 1 };

enum cdbt_type {
	CDBT_DOMAINS, CDBT_NETWORKS, CDBT_SENDERS, CDBT_RECIPIENTS, CDBT_POP,
	CDBT_GREYLIST, CDBT_NTYPES
};

/* How a key is walked. */
enum cdbt_kind {
	CDBT_EXACT,	/* the key alone */
	CDBT_DOMAIN,	/* a.b.c, .b.c, .c */
	CDBT_ADDRESS,	/* user@dom, @dom, user@ */
	CDBT_NETWORK	/* ip, CIDR prefixes to /0, qpsmtpd "a.b." */
};

struct cdbt;

struct cdbt_match {
	char	 key[CDBT_KEY_MAX];
	char	 value[CDBT_VALUE_MAX];
};

struct cdbt_entry {
	char	*key;
	char	*value;
	int	 line;		/* source line, for duplicate reports */
};

struct cdbt	*cdbt_open(const char *, enum cdbt_type);
struct cdbt	*cdbt_open_conf(const char *, enum cdbt_type);
void		 cdbt_lower(char *dst, const char *src, size_t size);
void		 cdbt_close(struct cdbt *);
int		 cdbt_changed(const struct cdbt *t);
const char	*cdbt_name(const struct cdbt *);
const char	*cdbt_error(const struct cdbt *);
void		 cdbt_set_delimiters(const char *);
void		 cdbt_local_canon(const char *in, size_t len, char *out,
		    size_t size);
int		 cdbt_find(struct cdbt *t, enum cdbt_kind kind, const char *key,
		    struct cdbt_match *m);
int		 cdbt_keys(enum cdbt_kind kind, const char *in,
		    char (*keys)[CDBT_KEY_MAX], int max);
const char	*cdbt_type_name(enum cdbt_type);
int		 cdbt_type_parse(const char *);
enum cdbt_kind	 cdbt_kind_of(enum cdbt_type, const char *);
int		 cdbt_length_slot(const char *);

int		 cdbt_normalize(enum cdbt_type type, const char *key,
		    const char *value, char *kout, size_t ksize, char *vout,
		    size_t vsize, const char **why);
int		 cdbt_write(const char *path, enum cdbt_type type,
		    const struct cdbt_entry *e, size_t n, char *err,
		    size_t errlen);
int		 cdbt_load(const char *path, enum cdbt_type type,
		    struct cdbt_entry **e, size_t *n, char *err,
		    size_t errlen);
void		 cdbt_free_entries(struct cdbt_entry *e, size_t n);
int		 cdbt_lock(const char *path, char *err, size_t errlen);
void		 cdbt_unlock(int fd);
int		 cdbt_pop_update(const char *path, const char *ip, time_t now,
		    long window, char *err, size_t errlen);

#endif
