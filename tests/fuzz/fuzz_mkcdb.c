/*
 * fuzz_mkcdb: mkcdb's source lines and the lookup walks (cdb/cdb_write.c,
 * cdb/cdb_read.c, and conf_split() of conf/conf.c, which mkcdb uses).
 *
 * README.  The input is a mkcdb source file.  Each line is cut as mkcdb's
 * build_line() cuts it (conf_split()) and checked with cdbt_normalize()
 * for each of the five table types.  The whole line (as it is, possibly
 * empty) is also checked as the address of "mkcdb -t pop -a ADDRESS",
 * which hands it to cdbt_normalize(CDBT_POP) unchanged, as
 * cdbt_pop_update() does for popwatch.  What a type accepts must be
 * canonical (normalizing it again changes nothing) and
 * findable: the walk that smtpproxy's lookups use (cdbt_keys() with the
 * type's kind) must list the stored key for a query the key stands for
 * (the key itself; "x.example.org" for ".example.org"; "x@example.org"
 * for "@example.org"; "u@x.example" for "u@"; an address inside a CIDR
 * network or an a.b.c. prefix).  Besides, each key goes through cdbt_keys()
 * of every kind, with room for a number of keys taken from the line's
 * length, in a buffer of exactly that size, so a walk that writes one key
 * too many is an ASan report.
 * Found: tests/fuzz/crashes/mkcdb/networks-prefix-leading-zero: a networks
 * line "192.168.01." is accepted and stored as written, but the walk of
 * 192.168.1.x asks for "192.168.1.", so the entry can never match.
 * tests/fuzz/crashes/mkcdb/pop-empty-address: "mkcdb -t pop -a ''" reads
 * the byte before its key buffer (kout[strlen(kout) - 1], cdb_write.c).
 *
 *   make fuzz FUZZ_TARGETS=mkcdb
 *   build/fuzz/fuzz_mkcdb tests/fuzz/crashes/mkcdb/FILE    (replay)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdb/cdb.h"
#include "conf/conf.h"

#define LINE_MAX_LEN	4096	/* tools/mkcdb.c */
#define WALK	140	/* CDBT_WALK_MAX in cdb/cdb_read.c */

static char	 walk[WALK][CDBT_KEY_MAX];

static int
listed(const char *query, enum cdbt_kind kind, const char *key)
{
	int n;

	if (strlen(query) >= CDBT_KEY_MAX)
		return 1;	/* too long to be looked up at all */
	n = cdbt_keys(kind, query, walk, WALK);
	for (int i = 0; i < n; i++)
		if (strcmp(walk[i], key) == 0)
			return 1;
	return 0;
}

/* An address in the network "k" (CIDR or a.b.c. prefix), or NULL. */
static const char *
inside(const char *k, char *buf, size_t size)
{
	const char *slash = strchr(k, '/');

	if (slash != NULL) {
		snprintf(buf, size, "%.*s", (int)(slash - k), k);
		return buf;
	}
	if (k[0] != '\0' && k[strlen(k) - 1] == '.') {
		int dots = 0;

		for (const char *p = k; *p; p++)
			dots += *p == '.';
		snprintf(buf, size, "%s%s", k, dots == 1 ? "0.0.0" :
		    dots == 2 ? "0.0" : "0");
		return buf;
	}
	return k;
}

static void
findable(enum cdbt_type type, const char *k)
{
	char		 q[CDBT_KEY_MAX + 32];
	const char	*at;

	switch (type) {
	case CDBT_DOMAINS:
		if (k[0] == '.')
			snprintf(q, sizeof(q), "x%s", k);
		else
			snprintf(q, sizeof(q), "%s", k);
		if (!listed(q, CDBT_DOMAIN, k))
			abort();
		break;
	case CDBT_NETWORKS:
		if (!listed(inside(k, q, sizeof(q)), CDBT_NETWORK, k))
			abort();
		break;
	case CDBT_SENDERS:
	case CDBT_RECIPIENTS:
		at = strrchr(k, '@');
		if (at == k)
			snprintf(q, sizeof(q), "x%s", k);
		else if (at != NULL && at[1] == '\0')
			snprintf(q, sizeof(q), "%sx.example", k);
		else
			snprintf(q, sizeof(q), "%s", k);
		if (!listed(q, CDBT_ADDRESS, k))
			abort();
		break;
	case CDBT_POP:
		if (!listed(k, CDBT_EXACT, k))
			abort();
		break;
	default:
		break;
	}
}

/* Every kind's walk, in a buffer of exactly max keys. */
static void
walks(const char *key, int max)
{
	char (*keys)[CDBT_KEY_MAX] = malloc((size_t)max * CDBT_KEY_MAX);

	if (keys == NULL)
		abort();
	for (int kind = CDBT_EXACT; kind <= CDBT_NETWORK; kind++) {
		int n = cdbt_keys((enum cdbt_kind)kind, key, keys, max);

		if (n < 0 || n > max)
			abort();
		for (int i = 0; i < n; i++)
			if (strnlen(keys[i], CDBT_KEY_MAX) == CDBT_KEY_MAX)
				abort();
	}
	free(keys);
}

static void
check_line(char *buf)
{
	char		*key, *value, k[CDBT_KEY_MAX], v[CDBT_VALUE_MAX];
	char		 k2[CDBT_KEY_MAX], v2[CDBT_VALUE_MAX];
	const char	*why;
	size_t		 len = strlen(buf);

	/* as mkcdb's pop(): the -a argument, whatever it is */
	why = NULL;
	if (cdbt_normalize(CDBT_POP, buf, "0", k, sizeof(k), v, sizeof(v),
	    &why) == -1 && why == NULL)
		abort();
	/* as build_line(): conf_split() also cuts the line at a CR */
	if (!conf_split(buf, &key, &value))
		return;
	for (int t = 0; t < CDBT_NTYPES; t++) {
		why = NULL;
		if (cdbt_normalize((enum cdbt_type)t, key, value, k, sizeof(k),
		    v, sizeof(v), &why) == -1) {
			if (why == NULL)
				abort();
			continue;
		}
		if (strlen(k) >= sizeof(k) || strlen(v) >= sizeof(v))
			abort();
		if (cdbt_normalize((enum cdbt_type)t, k, v, k2, sizeof(k2), v2,
		    sizeof(v2), &why) == -1 || strcmp(k, k2) != 0 ||
		    strcmp(v, v2) != 0)
			abort();	/* the stored form is not canonical */
		findable((enum cdbt_type)t, k);
	}
	walks(key, (int)(len % (WALK + 2)) + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);

	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *line = copy, *next; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		/* mkcdb reads lines of up to LINE_MAX_LEN - 1 bytes */
		if (strlen(line) < LINE_MAX_LEN - 1)
			check_line(line);
	}
	free(copy);
	return 0;
}
