/*
 * mkcdb: build and query smtpproxy's tables; record POP/IMAP logins.
 *
 *   mkcdb [-t type] source.txt [table.cdb]   build (default: source.cdb)
 *   mkcdb -q key table.cdb                   look up as smtpproxy does
 *   mkcdb -t pop -a address table.cdb        record a login now
 *   mkcdb -t pop -x [-w seconds] table.cdb   drop logins older than -w
 *
 * A build checks every line first; one bad line reports "file:line: why",
 * exits 100 and leaves the old table as it was.  Writers take turns on
 * table.cdb.lock; the table itself is replaced with one rename(2).
 * Exit codes: 0 done (or found), 1 not found (-q), 100 usage or bad
 * input, 111 system error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "cdb/cdb.h"
#include "conf/conf.h"

#define LINE_MAX_LEN	4096
#define DEFAULT_WINDOW	1800

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: mkcdb [-t type] source.txt [table.cdb]\n"
	    "       mkcdb -q key table.cdb\n"
	    "       mkcdb -t pop -a address table.cdb\n"
	    "       mkcdb -t pop -x [-w seconds] table.cdb\n"
	    "types: domains networks senders recipients pop greylist\n");
	exit(100);
}

static int
add_entry(struct cdbt_entry **e, size_t *n, size_t *cap, const char *k,
    const char *v, int line)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		struct cdbt_entry *ne = reallocarray(*e, ncap, sizeof(**e));

		if (ne == NULL)
			return -1;
		*e = ne;
		*cap = ncap;
	}
	(*e)[*n].key = strdup(k);
	(*e)[*n].value = strdup(v);
	(*e)[*n].line = line;
	if ((*e)[*n].key == NULL || (*e)[*n].value == NULL)
		return -1;
	(*n)++;
	return 0;
}

/* One source line; reports and returns -1 when it is bad. */
static int
build_line(const char *src, int lineno, char *buf, enum cdbt_type type,
    struct cdbt_entry **e, size_t *n, size_t *cap)
{
	char		*key, *value, k[CDBT_KEY_MAX], v[CDBT_VALUE_MAX];
	const char	*why;

	if (!conf_split(buf, &key, &value))
		return 0;
	if (cdbt_normalize(type, key, value, k, sizeof(k), v, sizeof(v),
	    &why) == -1) {
		fprintf(stderr, "%s:%d: %s: %s\n", src, lineno, key, why);
		return -1;
	}
	if (add_entry(e, n, cap, k, v, lineno) == -1) {
		fprintf(stderr, "mkcdb: out of memory\n");
		exit(111);
	}
	return 0;
}

static int
build(const char *src, const char *dst, enum cdbt_type type)
{
	struct cdbt_entry	*e = NULL;
	size_t			 n = 0, cap = 0;
	char			 buf[LINE_MAX_LEN], err[512];
	int			 lineno = 0, bad = 0, lock;
	FILE			*fp;

	if ((fp = fopen(src, "r")) == NULL) {
		fprintf(stderr, "mkcdb: %s: %s\n", src, strerror(errno));
		return 111;
	}
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		lineno++;
		if (strchr(buf, '\n') == NULL && !feof(fp)) {
			fprintf(stderr, "%s:%d: line too long\n", src, lineno);
			bad = 1;
			int ch;
			while ((ch = fgetc(fp)) != EOF && ch != '\n')
				;
			continue;
		}
		if (build_line(src, lineno, buf, type, &e, &n, &cap) == -1)
			bad = 1;
	}
	fclose(fp);
	if (bad) {
		cdbt_free_entries(e, n);
		return 100;
	}
	if ((lock = cdbt_lock(dst, err, sizeof(err))) == -1 ||
	    cdbt_write(dst, type, e, n, err, sizeof(err)) == -1) {
		/* a duplicate key comes back as "line: ..." */
		if (lock != -1 && err[0] >= '0' && err[0] <= '9')
			fprintf(stderr, "%s:%s\n", src, err);
		else
			fprintf(stderr, "mkcdb: %s\n", err);
		cdbt_unlock(lock);
		cdbt_free_entries(e, n);
		return lock != -1 && err[0] >= '0' && err[0] <= '9' ? 100 : 111;
	}
	cdbt_unlock(lock);
	cdbt_free_entries(e, n);
	return 0;
}

/* The type stored in an existing table, for -q and for rebuilding. */
static int
table_type(const char *path)
{
	for (int t = 0; t < CDBT_NTYPES; t++) {
		struct cdbt	*db = cdbt_open(path, t);
		int		 ok = db != NULL && cdbt_error(db) == NULL;

		cdbt_close(db);
		if (ok)
			return t;
	}
	return -1;
}

static int
query(const char *key, const char *path)
{
	struct cdbt_match	 m;
	struct cdbt		*db;
	int			 type = table_type(path), rc;

	if (type == -1) {
		db = cdbt_open(path, CDBT_DOMAINS);
		fprintf(stderr, "mkcdb: %s: %s\n", path,
		    db ? cdbt_error(db) : "out of memory");
		cdbt_close(db);
		return 111;
	}
	db = cdbt_open(path, type);
	rc = cdbt_find(db, cdbt_kind_of(type, key), key, &m);
	if (rc == CDBT_FOUND)
		printf("%s %s\n", m.key, m.value);
	else if (rc == CDBT_ERROR)
		fprintf(stderr, "mkcdb: %s: %s\n", path, cdbt_error(db));
	cdbt_close(db);
	return rc == CDBT_FOUND ? 0 : rc == CDBT_NOTFOUND ? 1 : 111;
}

static int
pop(const char *ip, const char *path, long window)
{
	char		 err[512], k[CDBT_KEY_MAX], v[32];
	const char	*why;

	if (ip != NULL && cdbt_normalize(CDBT_POP, ip, "0", k, sizeof(k), v,
	    sizeof(v), &why) == -1) {
		fprintf(stderr, "mkcdb: %s: %s\n", ip, why);
		return 100;
	}
	if (cdbt_pop_update(path, ip, time(NULL), window, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "mkcdb: %s\n", err);
		return 111;
	}
	return 0;
}

static char *
default_target(const char *src)
{
	static char	 dst[4096];
	const char	*dot = strrchr(src, '.'), *slash = strrchr(src, '/');
	size_t		 len = strlen(src);

	if (dot != NULL && (slash == NULL || dot > slash))
		len = (size_t)(dot - src);
	snprintf(dst, sizeof(dst), "%.*s.cdb", (int)len, src);
	return dst;
}

int
main(int argc, char *argv[])
{
	const char	*qkey = NULL, *add = NULL;
	int		 ch, type = -1, expire = 0;
	long		 window = DEFAULT_WINDOW;
	char		*end;

	while ((ch = getopt(argc, argv, "a:q:t:w:x")) != -1) {
		switch (ch) {
		case 'a':
			add = optarg;
			break;
		case 'q':
			qkey = optarg;
			break;
		case 't':
			if ((type = cdbt_type_parse(optarg)) == -1)
				usage();
			break;
		case 'w':
			window = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || window <= 0)
				usage();
			break;
		case 'x':
			expire = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (qkey != NULL)
		return argc == 1 ? query(qkey, argv[0]) : (usage(), 100);
	if (add != NULL || expire) {
		if (type != CDBT_POP || argc != 1 || (add && expire))
			usage();
		return pop(add, argv[0], add ? 0 : window);
	}
	if (argc < 1 || argc > 2)
		usage();
	const char *dst = argc == 2 ? argv[1] : default_target(argv[0]);
	if (type == -1 && (type = table_type(dst)) == -1) {
		fprintf(stderr, "mkcdb: %s: give the table type with -t\n", dst);
		return 100;
	}
	return build(argv[0], dst, type);
}
