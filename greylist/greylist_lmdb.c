/*
 * greylist_lmdb.c: the local greylisting store, one LMDB file
 * (greylist_db, MDB_NOSUBDIR: the data file and "PATH-lock" beside it).
 *
 * Why LMDB: many processes of one host (one per connection under xinetd,
 * or server mode's children) read and write it at once with no daemon;
 * readers never block, writers are serialised by a robust mutex in the
 * lock file (a writer that dies is recovered), and a crash never leaves a
 * half-written tree (copy-on-write pages, two meta pages).  Postfix keeps
 * its own caches in it (lmdb_table(5)).  Debian: liblmdb0.
 *
 * LMDB's rules, kept here: one MDB_env per process and never across
 * fork (greylist.c opens it in the process that runs the session, at its
 * first need, and keeps it for the process's next sessions); MDB_NOTLS,
 * so a read transaction's reader slot is the transaction's and is freed
 * with it; a bounded map (GREYLIST_MAP_SIZE):
 * a full map is an error like any other, and greylisting fails open;
 * mdb_reader_check before each write, so the reader slots of crashed
 * processes do not pin old pages forever.
 * The environment is opened read-only (MDB_RDONLY: no write descriptor,
 * no write buffers: what most sessions need, a known triplet or client,
 * costs a dozen system calls) and opened again read-write, after the
 * read-only one is closed, at the first write.  A missing file is
 * created read-write at once.
 *
 * Each write also prunes: it looks at GREYLIST_PRUNE_SCAN records from
 * where the last write stopped (the key "~prune" keeps the place) and
 * deletes the stale ones, so the file stays the size of the live records
 * with bounded work per write.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <bsd/string.h>

#include "greylist.h"
#include "log.h"

#define GREYLIST_MAP_SIZE	(256UL * 1024 * 1024)	/* ~1.5 M triplets */
#define GREYLIST_READERS	1024	/* concurrent read transactions */
#define GREYLIST_PRUNE_SCAN	64
#define GREYLIST_PRUNE_KEY	"~prune"

struct greylist_lmdb {
	MDB_env			*env;
	int			 rw;		/* opened read-write */
	struct greylist_params	 p;
	char			 path[1024];
};

static void
lmdb_error(const char *what, int rc)
{
	log_warnx("event=greylist-error store=lmdb op=%s reason=\"%s\"", what,
	    mdb_strerror(rc));
}

static MDB_env *
lmdb_env(const char *path, unsigned flags, char *why, size_t wlen)
{
	MDB_env	*env;
	int	 rc;

	if ((rc = mdb_env_create(&env)) != 0) {
		snprintf(why, wlen, "%s", mdb_strerror(rc));
		return NULL;
	}
	if ((rc = mdb_env_set_mapsize(env, GREYLIST_MAP_SIZE)) != 0 ||
	    (rc = mdb_env_set_maxreaders(env, GREYLIST_READERS)) != 0 ||
	    (rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS | flags,
	    0600)) != 0) {
		snprintf(why, wlen, "%s: %s", path, mdb_strerror(rc));
		mdb_env_close(env);
		return NULL;
	}
	return env;
}

static void *
lmdb_open(const char *path, const struct greylist_params *p, char *why,
    size_t wlen)
{
	struct greylist_lmdb	*g;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(why, wlen, "out of memory");
		return NULL;
	}
	g->p = *p;
	strlcpy(g->path, path, sizeof(g->path));
	if (access(path, F_OK) == 0)
		g->env = lmdb_env(path, MDB_RDONLY, why, wlen);
	else if ((g->env = lmdb_env(path, 0, why, wlen)) != NULL)
		g->rw = 1;
	if (g->env == NULL) {
		free(g);
		return NULL;
	}
	return g;
}

/* The read-only environment replaced by a read-write one; 0 or -1 */
static int
lmdb_writable(struct greylist_lmdb *g)
{
	char why[1200];

	if (g->rw)
		return 0;
	if (g->env == NULL)
		return -1;
	mdb_env_close(g->env);
	if ((g->env = lmdb_env(g->path, 0, why, sizeof(why))) == NULL) {
		log_warnx("event=greylist-error store=lmdb op=open reason=\"%s\"",
		    why);
		g->env = lmdb_env(g->path, MDB_RDONLY, why, sizeof(why));
		return -1;	/* reads go on read-only; NULL: all fail */
	}
	g->rw = 1;
	return 0;
}

/* A transaction and the main database's handle; 0 or an LMDB error */
static int
lmdb_begin(struct greylist_lmdb *g, unsigned flags, MDB_txn **txn,
    MDB_dbi *dbi)
{
	int rc;

	if (g->env == NULL)
		return EINVAL;
	if ((rc = mdb_txn_begin(g->env, NULL, flags, txn)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(*txn, NULL, 0, dbi)) != 0)
		mdb_txn_abort(*txn);
	return rc;
}

static void
lmdb_close(void *h)
{
	struct greylist_lmdb *g = h;

	if (g == NULL)
		return;
	if (g->env != NULL)
		mdb_env_close(g->env);
	free(g);
}

/* A record in txn: 1 found, 0 not found (or unreadable: it will be
 * written anew), -1 error. */
static int
lmdb_read(MDB_txn *txn, MDB_dbi dbi, const char *key, struct greylist_rec *r)
{
	MDB_val	 k = { strlen(key), (void *)key }, v;
	int	 rc = mdb_get(txn, dbi, &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		lmdb_error("get", rc);
		return -1;
	}
	if (greylist_rec_parse(v.mv_data, v.mv_size, r) == -1) {
		log_warnx("event=greylist-error store=lmdb op=get "
		    "reason=\"bad record, written anew\" key=\"%.200s\"", key);
		return 0;
	}
	return 1;
}

static int
lmdb_get(void *h, const char *key, struct greylist_rec *r)
{
	struct greylist_lmdb	*g = h;
	MDB_txn			*txn;
	MDB_dbi			 dbi;
	int			 rc;

	if ((rc = lmdb_begin(g, MDB_RDONLY, &txn, &dbi)) != 0) {
		lmdb_error("begin", rc);
		return -1;
	}
	rc = lmdb_read(txn, dbi, key, r);
	mdb_txn_abort(txn);
	return rc;
}

static int
lmdb_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const char *val,
    size_t vlen)
{
	MDB_val	 k = { strlen(key), (void *)key }, v = { vlen, (void *)val };
	int	 rc = mdb_put(txn, dbi, &k, &v, 0);

	if (rc != 0)
		lmdb_error("put", rc);
	return rc == 0 ? 0 : -1;
}

/* Where the last prune stopped: MDB_SET_RANGE there, else the first. */
static int
lmdb_prune_start(MDB_txn *txn, MDB_dbi dbi, MDB_cursor *c, MDB_val *k,
    MDB_val *v)
{
	char	 at[GREYLIST_KEY_MAX + 1];
	MDB_val	 pk = { sizeof(GREYLIST_PRUNE_KEY) - 1, GREYLIST_PRUNE_KEY };

	if (mdb_get(txn, dbi, &pk, v) == 0 && v->mv_size > 0 &&
	    v->mv_size < sizeof(at)) {
		memcpy(at, v->mv_data, v->mv_size);
		k->mv_size = v->mv_size;
		k->mv_data = at;
		return mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	}
	return mdb_cursor_get(c, k, v, MDB_FIRST);
}

/* Look at GREYLIST_PRUNE_SCAN records, delete the stale ones, remember
 * where to go on; 0 or -1. */
static int
lmdb_prune(struct greylist_lmdb *g, MDB_txn *txn, MDB_dbi dbi, long long now)
{
	MDB_cursor		*c;
	MDB_val			 k, v;
	struct greylist_rec	 r;
	char			 key[GREYLIST_KEY_MAX + 1], next[GREYLIST_KEY_MAX + 1];
	int			 rc, n = 0, pruned = 0;

	if (mdb_cursor_open(txn, dbi, &c) != 0)
		return -1;
	next[0] = '\0';
	for (rc = lmdb_prune_start(txn, dbi, c, &k, &v); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size >= sizeof(key))
			continue;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (n++ == GREYLIST_PRUNE_SCAN) {
			strlcpy(next, key, sizeof(next));
			break;
		}
		if (strcmp(key, GREYLIST_PRUNE_KEY) == 0 ||
		    (greylist_rec_parse(v.mv_data, v.mv_size, &r) == 0 &&
		    !greylist_stale(key, &r, now, &g->p)))
			continue;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		pruned++;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		lmdb_error("prune", rc);
		return -1;
	}
	if (pruned > 0)
		log_debug("greylist: pruned %d stale records", pruned);
	return lmdb_put(txn, dbi, GREYLIST_PRUNE_KEY, next, strlen(next));
}

static int
lmdb_update(void *h, const char *key, greylist_update_fn fn, void *arg)
{
	struct greylist_lmdb	*g = h;
	struct greylist_rec	 r = { 0 };
	MDB_txn			*txn;
	MDB_dbi			 dbi;
	char			 val[GREYLIST_REC_MAX];
	int			 rc, found, dead, len;

	if (lmdb_writable(g) == -1)
		return -1;
	(void)mdb_reader_check(g->env, &dead);
	if ((rc = lmdb_begin(g, 0, &txn, &dbi)) != 0) {
		lmdb_error("begin", rc);
		return -1;
	}
	if ((found = lmdb_read(txn, dbi, key, &r)) == -1)
		goto fail;
	if (fn(&r, found, arg) == 1) {
		if ((len = greylist_rec_format(&r, val, sizeof(val))) == -1 ||
		    lmdb_put(txn, dbi, key, val, (size_t)len) == -1 ||
		    lmdb_prune(g, txn, dbi, r.last) == -1)
			goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		lmdb_error("commit", rc);
		return -1;
	}
	return 0;
fail:
	mdb_txn_abort(txn);
	return -1;
}

/* chown path to uid:gid when asked and needed; 0 or -1 */
static int
lmdb_own(const char *path, uid_t uid, gid_t gid, FILE *out)
{
	struct stat st;

	if (uid == (uid_t)-1 || stat(path, &st) == -1 ||
	    (st.st_uid == uid && st.st_gid == gid))
		return 0;
	if (chown(path, uid, gid) == -1) {
		fprintf(out, "greylist_db: %s: chown: %s\n", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* -n: the store opens (it is created when missing), its owner is the
 * sessions' account; print the number of records. */
static int
lmdb_report(const char *path, uid_t uid, gid_t gid, FILE *out)
{
	MDB_env		*env;
	MDB_stat	 st;
	char		 why[1200], lock[1100];
	int		 rc;

	if ((env = lmdb_env(path, 0, why, sizeof(why))) == NULL) {
		fprintf(out, "greylist_db: %s (greylisting fails open)\n", why);
		return -1;
	}
	rc = mdb_env_stat(env, &st);
	mdb_env_close(env);
	if (rc != 0) {
		fprintf(out, "greylist_db: %s: %s\n", path, mdb_strerror(rc));
		return -1;
	}
	snprintf(lock, sizeof(lock), "%s-lock", path);
	if (lmdb_own(path, uid, gid, out) == -1 ||
	    lmdb_own(lock, uid, gid, out) == -1)
		return -1;
	fprintf(out, "greylist_db: %s: ok (LMDB, %zu records, map %lu MiB)\n",
	    path, st.ms_entries, GREYLIST_MAP_SIZE >> 20);
	return 0;
}

const struct greylist_store_ops greylist_lmdb = {
	.name = "lmdb",
	.open = lmdb_open,
	.get = lmdb_get,
	.update = lmdb_update,
	.close = lmdb_close,
	.report = lmdb_report
};
