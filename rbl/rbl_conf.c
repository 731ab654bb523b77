/*
 * rbl_conf.c: the configuration syntax of the DNS policy, next to its
 * user; conf/ calls these while it loads a file, so a bad line is still
 * reported as file:line at load.
 *
 * A list line is "zone hit-weight miss-weight [=filter]", the filter
 * postscreen's "=127.0.0.[2..11]" (each octet "*", "N" or "[N;N..M;...]").
 * A weight line is "name hit miss" or "name off", name one of the
 * heuristics of policyd-weight (rbl_heuristic_names).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "rbl.h"

const char *const rbl_heuristic_names[CONF_H_COUNT] = {
	"helo_numeric", "helo_no_resolve", "client_ip_ne_helo",
	"client_no_rdns", "client_seems_dialup", "bogus_mx", "random_sender"
};

/* policyd-weight's defaults: weight when the check hits, when it does not */
static const double rbl_heuristic_default[CONF_H_COUNT][2] = {
	{ 2.5, 0 }, { 1.5, -2 }, { 1.5, -1.25 }, { 2.0, 0 }, { 3.75, 0 },
	{ 2.1, 0 }, { 0.25, 0 }
};

static void
rbl_bit(unsigned char *bits, int from, int to)
{
	for (int i = from; i <= to; i++)
		bits[i / 8] |= (unsigned char)(1 << (i % 8));
}

/* One octet of a filter: "*", "N", "[N;N..M;...]"; returns the end. */
static const char *
rbl_octet(const char *p, unsigned char *bits)
{
	char	*end;
	long	 a, b;

	if (*p == '*') {
		rbl_bit(bits, 0, 255);
		return p + 1;
	}
	if (*p != '[') {
		a = strtol(p, &end, 10);
		if (end == p || a < 0 || a > 255)
			return NULL;
		rbl_bit(bits, (int)a, (int)a);
		return end;
	}
	for (p++;; p++) {
		a = strtol(p, &end, 10);
		if (end == p || a < 0 || a > 255)
			return NULL;
		b = a;
		if (end[0] == '.' && end[1] == '.') {
			p = end + 2;
			b = strtol(p, &end, 10);
			if (end == p || b < a || b > 255)
				return NULL;
		}
		rbl_bit(bits, (int)a, (int)b);
		p = end;
		if (*p == ']')
			return p + 1;
		if (*p != ';')
			return NULL;
	}
}

/* postscreen-style "=127.0.0.[2..11]" (after the '=') */
static int
rbl_filter(const char *p, struct conf_zone *z)
{
	memset(z->filter, 0, sizeof(z->filter));
	for (int i = 0; i < 4; i++) {
		if ((p = rbl_octet(p, z->filter[i])) == NULL)
			return -1;
		if (i < 3 && *p++ != '.')
			return -1;
	}
	z->has_filter = 1;
	return *p == '\0' ? 0 : -1;
}

/* rbl_filter_match - does the IPv4 answer a (4 bytes) pass z's filter? */
int
rbl_filter_match(const struct conf_zone *z, const unsigned char *a)
{
	if (!z->has_filter)
		return 1;
	for (int i = 0; i < 4; i++)
		if (!(z->filter[i][a[i] / 8] & (1 << (a[i] % 8))))
			return 0;
	return 1;
}

/* rbl_zone_parse - one list line of key into z; 0, or -1 with why */
int
rbl_zone_parse(const char *key, const char *v, struct conf_zone *z,
    char *why, size_t wlen)
{
	char	 buf[sizeof(z->line)], *f[5], *save = NULL;
	int	 n = 0;

	memset(z, 0, sizeof(*z));
	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf)) {
		snprintf(why, wlen, "%s: too long, or more than %d lines", key,
		    CONF_ZONES_MAX);
		return -1;
	}
	for (char *t = strtok_r(buf, " \t", &save); t != NULL && n < 5;
	    t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	/* the name leaves room for the reversed address before it */
	if (n < 3 || n > 4 || strlen(f[0]) >= sizeof(z->zone) - 80 ||
	    conf_float(f[1], &z->hit) == -1 || conf_float(f[2], &z->miss) == -1 ||
	    (n == 4 && (f[3][0] != '=' || rbl_filter(f[3] + 1, z) == -1))) {
		snprintf(why, wlen, "%s: expected 'zone hit-weight miss-weight "
		    "[=filter]', got '%s'", key, v);
		return -1;
	}
	for (char *p = f[0]; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	strlcpy(z->zone, f[0], sizeof(z->zone));
	strlcpy(z->line, v, sizeof(z->line));
	return 0;
}

/* rbl_weight_defaults - policyd-weight's weights into w */
void
rbl_weight_defaults(struct conf_weight *w)
{
	for (int i = 0; i < CONF_H_COUNT; i++) {
		w[i].hit = rbl_heuristic_default[i][0];
		w[i].miss = rbl_heuristic_default[i][1];
	}
}

/* rbl_weight_parse - one weight line into its row of w; 0, or -1 */
int
rbl_weight_parse(const char *v, struct conf_weight *w, char *why,
    size_t wlen)
{
	char	 name[64] = "", a[64], b[64];
	int	 n = sscanf(v, "%63s %63s %63s", name, a, b), i;

	for (i = 0; n >= 1 && i < CONF_H_COUNT; i++)
		if (strcmp(rbl_heuristic_names[i], name) == 0)
			break;
	if (n < 1) {
		snprintf(why, wlen, "weight: missing check name");
		return -1;
	}
	if (i == CONF_H_COUNT) {
		snprintf(why, wlen, "weight: unknown check '%s'", name);
		return -1;
	}
	w += i;
	if (n == 2 && strcmp(a, "off") == 0) {
		w->off = 1;
	} else if (n != 3 || conf_float(a, &w->hit) == -1 ||
	    conf_float(b, &w->miss) == -1) {
		snprintf(why, wlen, "weight: expected '%s hit miss' or '%s off'",
		    name, name);
		return -1;
	} else
		w->off = 0;
	w->set = 1;
	return 0;
}

const char *const rbl_spf_result_names[CONF_SPF_COUNT] = {
	"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"
};

/* the built-in weights of spf_weights, on policyd-weight's scale (a clean
 * client's checks sum to about -3, reject_score is 1): a pass helps a
 * little, a fail alone does not reject a client in good standing */
static const double rbl_spf_default[CONF_SPF_COUNT] = {
	-0.5, 3.5, 1.5, 0, 0, 0, 0.5
};

/*
 * rbl_spf_weights_parse - "result=weight ..." into w (CONF_SPF_COUNT
 * rows); a result not named gets its built-in weight.  0, or -1 with why.
 */
int
rbl_spf_weights_parse(const char *v, double *w, char *why, size_t wlen)
{
	char	 item[128], *eq;
	int	 i, n;

	memcpy(w, rbl_spf_default, sizeof(rbl_spf_default));
	while (sscanf(v, " %127s%n", item, &n) == 1) {
		v += n;
		if ((eq = strchr(item, '=')) != NULL)
			*eq++ = '\0';
		for (i = 0; i < CONF_SPF_COUNT; i++)
			if (strcmp(item, rbl_spf_result_names[i]) == 0)
				break;
		if (eq == NULL || i == CONF_SPF_COUNT ||
		    conf_float(eq, &w[i]) == -1) {
			snprintf(why, wlen, "expected result=weight "
			    "(results: pass fail softfail neutral none temperror "
			    "permerror), got '%s%s%s'", item, eq ? "=" : "",
			    eq ? eq : "");
			return -1;
		}
	}
	return 0;
}
