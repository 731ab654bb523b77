/*
 * fuzz_rbl: the DNS policy's pure helpers (rbl/rbl_names.c) and the DNS
 * list lines of the configuration (conf_set(c, "dnsbl", ...), conf/conf.c).
 *
 * README.  The input is lines of the form "address zone" (or anything).
 * For each line: rbl_reverse(first word, rest) into heap buffers of
 * several sizes, each followed by guard bytes (a name that fits is
 * NUL-terminated inside the buffer and ends with the zone, an IPv4 name has
 * four octets before it and an IPv6 one 32 nibbles; a name that does not
 * fit is refused, never cut); rbl_looks_random() on the line and the first
 * word; rbl_looks_dialup() on the rest with the first word as the client
 * address, and on the whole line with a fixed address; rbl_helo_numeric()
 * on the first word; then the line as a dnsbl, dnswl and rhsbl value with
 * conf_set, the way -o dnsbl=... would give it: an accepted line is
 * stored as written, its zone in lower case; rbl_filter_match() is asked
 * about four answer bytes taken from the line (a zone without a filter,
 * or with "=*.*.*.*", must take any answer).  The struct conf lives across
 * the lines of an input (never more than 32 zones per list) and is freed
 * at its end.
 *
 *   make fuzz FUZZ_TARGETS=rbl
 *   build/fuzz/fuzz_rbl corpus-dir
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "rbl/rbl.h"

#define GUARD	16

static int	 errors;

static void
err(const char *msg)
{
	(void)msg;
	errors++;
}

static void
check_reverse(const char *addr, const char *zone)
{
	static const size_t sizes[] = { 1, 8, 16, 40, 72, 73, 100, 256, 1100 };
	size_t zl = strlen(zone);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t	 size = sizes[i];
		char	*out = malloc(size + GUARD);

		if (out == NULL)
			abort();
		memset(out, 0x5a, size);
		memset(out + size, 0xa5, GUARD);
		int rc = rbl_reverse(addr, zone, out, size);
		for (size_t g = 0; g < GUARD; g++)
			if ((unsigned char)out[size + g] != 0xa5)
				abort();	/* written past size */
		if (rc == 0) {
			size_t ol = strnlen(out, size);
			int dots = 0;

			if (ol == size || ol < zl ||
			    strcmp(out + ol - zl, zone) != 0)
				abort();
			for (size_t k = 0; k < ol - zl; k++)
				dots += out[k] == '.';
			if (dots != 4 && dots != 32)
				abort();	/* not 4 octets or 32 nibbles */
		} else if (rc != -1)
			abort();
		free(out);
	}
}

static void
check_zone(struct conf *c, const char *key, const char *line)
{
	struct conf_zones	*zs = strcmp(key, "dnsbl") == 0 ? &c->dnsbl :
	    strcmp(key, "dnswl") == 0 ? &c->dnswl : &c->rhsbl;
	int			 before = zs->n;
	unsigned char		 a[4] = { 127, 0, 0, 2 };

	errors = 0;
	int rc = conf_set(c, key, line, "-o", err);
	if ((rc == 0) != (errors == 0))
		abort();
	if (rc == -1) {
		if (zs->n != before && !(before > 0 && zs->n == 0))
			abort();
		return;
	}
	if (zs->n < 1 || zs->n > CONF_ZONES_MAX)
		abort();
	const struct conf_zone *z = &zs->z[zs->n - 1];
	if (strncmp(z->line, line, sizeof(z->line) - 1) != 0)
		abort();
	for (const char *p = z->zone; *p; p++)
		if (isupper((unsigned char)*p))
			abort();
	for (size_t i = 0; i < 4 && line[i]; i++)
		a[i] = (unsigned char)line[i];
	int m = rbl_filter_match(z, a);
	if (m != 0 && m != 1)
		abort();
	if (!z->has_filter && m != 1)
		abort();
	if (z->has_filter && strstr(line, " =*.*.*.*") != NULL &&
	    line[strlen(line) - 1] == '*' && m != 1)
		abort();	/* "=*.*.*.*" refused an answer */
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf	 c;
	char			*copy, *line, *next;

	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	conf_init(&c);
	for (line = copy; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		size_t w = strcspn(line, " \t");
		char *word = malloc(w + 1);
		if (word == NULL)
			abort();
		memcpy(word, line, w);
		word[w] = '\0';
		const char *rest = line + w + strspn(line + w, " \t");

		check_reverse(word, rest);
		(void)rbl_looks_random(line);
		(void)rbl_looks_random(word);
		(void)rbl_looks_dialup(rest, word);
		(void)rbl_looks_dialup(line, "192.0.2.25");
		(void)rbl_helo_numeric(word);
		check_zone(&c, "dnsbl", line);
		check_zone(&c, "dnswl", line);
		check_zone(&c, "rhsbl", line);
		free(word);
	}
	conf_free(&c);
	free(copy);
	return 0;
}
