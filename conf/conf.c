/*
 * conf.c: the key table and the "key value" parser.
 * Each key has a type, a default, bounds or choices, and one line of help;
 * the parser is generic, the table is the only place a key is declared.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "conf.h"

#define CONF_LINE_MAX	4096

enum conf_type {
	CT_STR,		/* free text */
	CT_INT,		/* integer within bounds */
	CT_SIZE,	/* long long within bounds */
	CT_TIME,	/* seconds, optional s/m/h/d suffix */
	CT_BOOL,	/* yes | no */
	CT_ENUM,	/* one of choices, stored as its index */
	CT_SET,		/* "none" or a list of choices, stored as bits */
	CT_LIST,	/* repeatable free text */
	CT_FLOAT,	/* a number with a fraction, within bounds */
	CT_ZONE,	/* repeatable "zone hit miss [=filter]" */
	CT_WEIGHT,	/* repeatable "name hit miss" or "name off" */
	CT_STYLE	/* repeatable HELO style line */
};

typedef int (*conf_check_fn)(struct conf *, const char *, char *, size_t);

struct conf_key {
	const char		*name;
	enum conf_type		 type;
	size_t			 off;
	const char		*def;
	long long		 min, max;
	const char *const	*choices;
	conf_check_fn		 check;
	const char		*help;
};

static const char *const conf_yesno[] = { "no", "yes", NULL };
static const char *const conf_protos[] = { "smtp", "lmtp", NULL };
static const char *const conf_xclients[] = { "auto", "yes", "no", NULL };
static const char *const conf_bares[] = { "reject", "normalize", NULL };
static const char *const conf_exts[] = { "dsn", "smtputf8", "auto", NULL };
static const char *const conf_dnserrs[] = { "accept", "defer", NULL };
static const char *const conf_tlsprotos[] = { "TLSv1.2", "TLSv1.3", NULL };
static const char *const conf_betls[] = { "no", "may", "encrypt", NULL };
static const char *const conf_loginmatch[] = { "strict", "authenticated",
	NULL };

const char *const conf_heuristic_names[CONF_H_COUNT] = {
	"helo_numeric", "helo_no_resolve", "client_ip_ne_helo",
	"client_no_rdns", "client_seems_dialup", "bogus_mx", "random_sender"
};

/* policyd-weight's defaults: weight when the check hits, when it does not */
static const double conf_heuristic_default[CONF_H_COUNT][2] = {
	{ 2.5, 0 }, { 1.5, -2 }, { 1.5, -1.25 }, { 2.0, 0 }, { 3.75, 0 },
	{ 2.1, 0 }, { 0.25, 0 }
};

static int conf_check_backend(struct conf *, const char *, char *, size_t);
static int conf_check_greeting(struct conf *, const char *, char *, size_t);
static int conf_check_exts(struct conf *, const char *, char *, size_t);
static int conf_check_delimiter(struct conf *, const char *, char *, size_t);
static int conf_check_table(struct conf *, const char *, char *, size_t);
static int conf_check_flags(struct conf *, const char *, char *, size_t);
static int conf_check_tarpit(struct conf *, const char *, char *, size_t);
static int conf_load_styles(struct conf *, const char *, char *, size_t);
static const char *const conf_syntaxes[] = { "loose", "strict", NULL };

#define O(f)	offsetof(struct conf, f)
#define DAY	86400

static const struct conf_key conf_keys[] = {
	{ "hostname", CT_STR, O(hostname), "", 0, 255, NULL, NULL,
	    "name in the greeting and EHLO reply (default: the system's)" },
	{ "user", CT_STR, O(user), "nobody", 1, 64, NULL, NULL,
	    "account a session runs as when started as root" },
	{ "group", CT_STR, O(group), "nogroup", 1, 64, NULL, NULL,
	    "group a session runs as when started as root" },
	{ "backend", CT_STR, O(backend), "127.0.0.1:10025", 1, 255, NULL,
	    conf_check_backend, "the MTA: host:port, [ipv6]:port or unix:/path" },
	{ "backend_protocol", CT_ENUM, O(backend_protocol), "smtp", 0, 0,
	    conf_protos, NULL, "smtp or lmtp" },
	{ "backend_xclient", CT_ENUM, O(backend_xclient), "auto", 0, 0,
	    conf_xclients, NULL, "pass the client with XCLIENT/XFORWARD" },
	{ "backend_tls", CT_ENUM, O(backend_tls), "no", 0, 0, conf_betls, NULL,
	    "STARTTLS to the backend: no, may (if offered), encrypt" },
	{ "backend_extensions", CT_SET, O(backend_extensions), "auto", 0, 0,
	    conf_exts, conf_check_exts,
	    "auto (learnt), none, or the list: dsn, smtputf8" },
	{ "backend_ehlo_cache", CT_STR, O(backend_ehlo_cache),
	    "/var/lib/smtpproxy/backend-ehlo", 0, 1024, NULL, NULL,
	    "file where sessions keep the backend's EHLO reply (auto)" },
	{ "greeting", CT_STR, O(greeting), "%H ESMTP", 0, 400, NULL,
	    conf_check_greeting, "220 text; %H host, %V version, %T date" },
	{ "help", CT_LIST, O(help), NULL, 0, 400, NULL, NULL,
	    "one line of the HELP reply (repeatable)" },
	{ "vrfy", CT_BOOL, O(vrfy), "no", 0, 0, conf_yesno, NULL,
	    "allow VRFY (to the backend with the v style flag)" },
	{ "expn", CT_BOOL, O(expn), "no", 0, 0, conf_yesno, NULL,
	    "allow EXPN (to the backend with the e style flag)" },
	{ "max_message_size", CT_SIZE, O(max_message_size), "10240000", 0,
	    LLONG_MAX / 2, NULL, NULL, "bytes; 0 = no limit" },
	{ "max_recipients", CT_INT, O(max_recipients), "1000", 1, 100000,
	    NULL, NULL, "recipients per message" },
	{ "max_error_recipients", CT_INT, O(max_error_recipients), "3", 1,
	    100000, NULL, NULL, "recipients of a message from <>" },
	{ "max_unknown_commands", CT_INT, O(max_unknown_commands), "10", 0,
	    10000, NULL, NULL, "unknown commands before disconnecting" },
	{ "max_junk_commands", CT_INT, O(max_junk_commands), "100", 0,
	    100000, NULL, NULL,
	    "NOOP, RSET, VRFY, EXPN, HELP, HELO, EHLO; 0 = no limit" },
	{ "max_sessions", CT_INT, O(max_sessions), "100", 1, 4096, NULL,
	    NULL, "server mode: sessions at once" },
	{ "max_use", CT_INT, O(max_use), "1", 1, 100000, NULL, NULL,
	    "server mode: connections a child serves one after another" },
	{ "max_idle", CT_TIME, O(max_idle), "100", 1, DAY, NULL, NULL,
	    "server mode: seconds a reusable child waits for a connection" },
	{ "client_connection_count_limit", CT_INT,
	    O(client_connection_count_limit), "10", 0, 4096, NULL, NULL,
	    "server mode: sessions at once per client; 0 = no limit" },
	{ "client_connection_rate_limit", CT_INT,
	    O(client_connection_rate_limit), "300", 0, 1000000, NULL, NULL,
	    "server mode: connections per minute per client; 0 = no limit" },
	{ "client_prefix_v6", CT_INT, O(client_prefix_v6), "64", 1, 128,
	    NULL, NULL, "server mode: IPv6 clients counted per this prefix" },
	{ "max_errors", CT_INT, O(max_errors), "20", 1, 10000, NULL, NULL,
	    "protocol errors before disconnecting" },
	{ "max_line_length", CT_INT, O(max_line_length), "2048", 512, 10000,
	    NULL, NULL, "longest command line in bytes" },
	{ "timeout_command", CT_TIME, O(timeout_command), "300", 1, DAY,
	    NULL, NULL, "wait for a client command" },
	{ "timeout_tls", CT_TIME, O(timeout_tls), "60", 1, DAY, NULL, NULL,
	    "whole TLS handshake with the client" },
	{ "timeout_data", CT_TIME, O(timeout_data), "300", 1, DAY, NULL, NULL,
	    "wait for each piece of the message" },
	{ "timeout_backend", CT_TIME, O(timeout_backend), "300", 1, DAY, NULL,
	    NULL, "wait for the backend (connect and each reply)" },
	{ "timeout_session", CT_TIME, O(timeout_session), "3600", 1, 7 * DAY,
	    NULL, NULL, "whole session" },
	{ "bare_newline", CT_ENUM, O(bare_newline), "reject", 0, 0, conf_bares,
	    NULL, "bare CR or LF in DATA: reject or normalize" },
	{ "local_domains", CT_STR, O(local_domains), "", 0, 1024, NULL,
	    conf_check_table, "table of domains we receive mail for" },
	{ "relay_clients", CT_STR, O(relay_clients), "", 0, 1024, NULL,
	    conf_check_table, "table of networks that may relay" },
	{ "pop_before_smtp", CT_STR, O(pop_before_smtp), "", 0, 1024, NULL,
	    conf_check_table, "table of POP/IMAP logins: address -> time" },
	{ "pop_window", CT_TIME, O(pop_window), "1800", 1, DAY, NULL, NULL,
	    "seconds a POP/IMAP login lets its address relay" },
	{ "dns_servers", CT_STR, O(dns_servers), "", 0, 1024, NULL, NULL,
	    "resolvers: ip[:port],... (default: resolv.conf)" },
	{ "timeout_dns", CT_TIME, O(timeout_dns), "5", 1, 60, NULL, NULL,
	    "wait at RCPT for all DNS answers together" },
	{ "dnsbl", CT_ZONE, O(dnsbl), NULL, 0, 0, NULL, NULL,
	    "client address list: zone hit miss [=filter] (repeatable)" },
	{ "dnswl", CT_ZONE, O(dnswl), NULL, 0, 0, NULL, NULL,
	    "client address allow list, negative weights (repeatable)" },
	{ "rhsbl", CT_ZONE, O(rhsbl), NULL, 0, 0, NULL, NULL,
	    "sender domain list: zone hit miss [=filter] (repeatable)" },
	{ "reject_score", CT_FLOAT, O(reject_score), "1", -1000, 1000, NULL,
	    NULL, "score from which RCPT is refused with 550" },
	{ "defer_score", CT_FLOAT, O(defer_score), "1", -1000, 1000, NULL, NULL,
	    "score from which RCPT is deferred with 450" },
	{ "max_dnsbl_hits", CT_INT, O(max_dnsbl_hits), "2", 0, 1000, NULL, NULL,
	    "more lists than this refuse whatever the score" },
	{ "dns_error_action", CT_ENUM, O(dns_error_action), "accept", 0, 0,
	    conf_dnserrs, NULL, "a list lookup failed: accept or defer (451)" },
	{ "add_score_header", CT_BOOL, O(add_score_header), "no", 0, 0,
	    conf_yesno, NULL, "prepend X-Smtpproxy-Score to scored mail" },
	{ "weight", CT_WEIGHT, O(weight), NULL, 0, 0, NULL, NULL,
	    "heuristic weights: name hit miss, or name off (repeatable)" },
	{ "tls_cert_file", CT_STR, O(tls_cert_file), "", 0, 1024, NULL, NULL,
	    "PEM certificate (and chain) for STARTTLS" },
	{ "tls_key_file", CT_STR, O(tls_key_file), "", 0, 1024, NULL, NULL,
	    "PEM private key for STARTTLS" },
	{ "tls_ciphers", CT_STR, O(tls_ciphers), "HIGH:!aNULL:!MD5:!RC4", 1,
	    1024, NULL, NULL, "OpenSSL cipher list for TLS 1.2" },
	{ "tls_protocols", CT_ENUM, O(tls_protocols), "TLSv1.2", 0, 0,
	    conf_tlsprotos, NULL, "lowest TLS version accepted" },
	{ "tls_required", CT_BOOL, O(tls_required), "no", 0, 0, conf_yesno,
	    NULL, "refuse MAIL before STARTTLS" },
	{ "tls_wrapper", CT_BOOL, O(tls_wrapper), "no", 0, 0, conf_yesno, NULL,
	    "implicit TLS from the first byte (port 465)" },
	{ "tls_received_header", CT_BOOL, O(tls_received_header), "yes", 0,
	    0, conf_yesno, NULL, "prepend a Received line naming the cipher" },
	{ "sasl_mechanisms", CT_STR, O(sasl_mechanisms), "PLAIN LOGIN", 0, 400,
	    NULL, NULL, "AUTH mechanisms offered (empty: no AUTH)" },
	{ "sasl_config_path", CT_STR, O(sasl_config_path), "", 0, 1024, NULL,
	    NULL, "folder of libsasl2's smtpproxy.conf" },
	{ "auth_requires_tls", CT_BOOL, O(auth_requires_tls), "yes", 0, 0,
	    conf_yesno, NULL, "plaintext mechanisms only after STARTTLS" },
	{ "max_auth_failures", CT_INT, O(max_auth_failures), "3", 1, 100, NULL,
	    NULL, "failed AUTH commands before disconnecting" },
	{ "msa", CT_BOOL, O(msa), "no", 0, 0, conf_yesno, NULL,
	    "clients outside relay_clients must AUTH before MAIL" },
	{ "sender_logins", CT_STR, O(sender_logins), "", 0, 1024, NULL,
	    conf_check_table, "table: sender address or @domain -> logins" },
	{ "sender_login_match", CT_ENUM, O(sender_login_match), "strict", 0,
	    0, conf_loginmatch, NULL,
	    "strict: also refuse owned senders to strangers" },
	{ "restricted_recipients", CT_STR, O(restricted_recipients), "", 0,
	    1024, NULL, conf_check_table,
	    "table: address -> authenticated or logins" },
	{ "recipient_delimiter", CT_STR, O(recipient_delimiter), "+", 0, 16,
	    NULL, conf_check_delimiter,
	    "characters that start an address extension (user+ext)" },
	{ "helo", CT_STYLE, O(helo), NULL, 0, 0, NULL, NULL,
	    "HELO style: pattern [maxload] flags|!text (repeatable)" },
	{ "helo_styles", CT_STR, O(helo_styles), "", 0, 1024, NULL,
	    conf_load_styles, "file of more helo lines, read here" },
	{ "helo_default", CT_STR, O(helo_default), "veR", 0, 15, NULL,
	    conf_check_flags, "flags when no helo pattern matches" },
	{ "delay_reject", CT_BOOL, O(delay_reject), "no", 0, 0, conf_yesno,
	    NULL, "refuse a !text HELO at the first RCPT instead" },
	{ "max_load", CT_FLOAT, O(max_load), "0", 0, 1000, NULL, NULL,
	    "load average above which sessions get 421 (0: off)" },
	{ "tarpit", CT_STR, O(tarpit), "0 0 0", 1, 64, NULL, conf_check_tarpit,
	    "delay before 4xx/5xx: initial exponent toplimit" },
	{ "helo_required", CT_BOOL, O(helo_required), "yes", 0, 0, conf_yesno,
	    NULL, "MAIL needs HELO or EHLO first" },
	{ "helo_syntax", CT_ENUM, O(helo_syntax), "loose", 0, 0, conf_syntaxes,
	    NULL, "strict: HELO must be a domain or address literal" },
	{ "greet_pause", CT_INT, O(greet_pause), "0", 0, 60000, NULL, NULL,
	    "milliseconds of silence required before the greeting" },
	{ "helo_style_score", CT_FLOAT, O(helo_style_score), "2", -1000, 1000,
	    NULL, NULL, "added to the DNS score by the X style flag" },
	{ "log_file", CT_STR, O(log_file), "", 0, 1024, NULL, NULL,
	    "append log lines here instead of syslog" },
};

#define CONF_NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

static const struct conf_key *
conf_find(const char *name)
{
	for (size_t i = 0; i < CONF_NKEYS; i++)
		if (strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

static int
conf_choice(const char *const *choices, const char *v, size_t len)
{
	for (int i = 0; choices[i] != NULL; i++)
		if (strlen(choices[i]) == len && strncmp(choices[i], v, len) == 0)
			return i;
	return -1;
}

static int
conf_number(const struct conf_key *k, const char *v, long long *out,
    char *why, size_t wlen)
{
	char		*end;
	long long	 n, mult = 1;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || errno != 0 || n < 0) {
		snprintf(why, wlen, "%s: not a number: '%s'", k->name, v);
		return -1;
	}
	if (k->type == CT_TIME && *end != '\0' && end[1] == '\0') {
		const char *u = strchr("smhd", *end);
		static const long long units[] = { 1, 60, 3600, 86400 };

		if (u != NULL) {
			mult = units[u - "smhd"];
			end++;
		}
	}
	if (*end != '\0') {
		snprintf(why, wlen, "%s: not a number: '%s'", k->name, v);
		return -1;
	}
	if (n > k->max / mult || n * mult < k->min) {
		snprintf(why, wlen, "%s: %s is out of range %lld..%lld",
		    k->name, v, k->min, k->max);
		return -1;
	}
	*out = n * mult;
	return 0;
}

static int
conf_set_bits(const struct conf_key *k, const char *v, int *bits,
    char *why, size_t wlen)
{
	size_t	 len;
	int	 i;

	*bits = 0;
	if (strcmp(v, "none") == 0)
		return 0;
	while (*v != '\0') {
		len = strcspn(v, ", \t");
		if (len > 0) {
			if ((i = conf_choice(k->choices, v, len)) == -1) {
				snprintf(why, wlen, "%s: unknown value '%.*s'",
				    k->name, (int)len, v);
				return -1;
			}
			*bits |= 1 << i;
		}
		v += len;
		v += strspn(v, ", \t");
	}
	return 0;
}

static int
conf_set_string(char **slot, const char *v)
{
	char *copy = strdup(v);

	if (copy == NULL)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

static int
conf_append(const struct conf_key *k, struct conf_list *l, const char *v,
    int override, char *why, size_t wlen)
{
	if (override && !l->overridden) {
		for (int i = 0; i < l->n; i++)
			free(l->v[i]);
		l->n = 0;
		l->overridden = 1;
	}
	if (l->n == CONF_LIST_MAX) {
		snprintf(why, wlen, "%s: more than %d lines", k->name,
		    CONF_LIST_MAX);
		return -1;
	}
	if ((l->v[l->n] = strdup(v)) == NULL) {
		snprintf(why, wlen, "out of memory");
		return -1;
	}
	l->n++;
	return 0;
}

static int
conf_float(const char *v, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(v, &end);
	return end == v || *end != '\0' || errno != 0 || !isfinite(*out) ?
	    -1 : 0;
}

static void
conf_bit(unsigned char *bits, int from, int to)
{
	for (int i = from; i <= to; i++)
		bits[i / 8] |= (unsigned char)(1 << (i % 8));
}

/* One octet of a filter: "*", "N", "[N;N..M;...]"; returns the end. */
static const char *
conf_octet(const char *p, unsigned char *bits)
{
	char	*end;
	long	 a, b;

	if (*p == '*') {
		conf_bit(bits, 0, 255);
		return p + 1;
	}
	if (*p != '[') {
		a = strtol(p, &end, 10);
		if (end == p || a < 0 || a > 255)
			return NULL;
		conf_bit(bits, (int)a, (int)a);
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
		conf_bit(bits, (int)a, (int)b);
		p = end;
		if (*p == ']')
			return p + 1;
		if (*p != ';')
			return NULL;
	}
}

/* postscreen-style "=127.0.0.[2..11]" */
static int
conf_filter(const char *p, struct conf_zone *z)
{
	memset(z->filter, 0, sizeof(z->filter));
	for (int i = 0; i < 4; i++) {
		if ((p = conf_octet(p, z->filter[i])) == NULL)
			return -1;
		if (i < 3 && *p++ != '.')
			return -1;
	}
	z->has_filter = 1;
	return *p == '\0' ? 0 : -1;
}

int
conf_filter_match(const struct conf_zone *z, const unsigned char *a)
{
	if (!z->has_filter)
		return 1;
	for (int i = 0; i < 4; i++)
		if (!(z->filter[i][a[i] / 8] & (1 << (a[i] % 8))))
			return 0;
	return 1;
}

static int
conf_zone(const struct conf_key *k, struct conf_zones *zs, const char *v,
    int override, char *why, size_t wlen)
{
	char			 buf[400], *f[5], *save = NULL;
	struct conf_zone	*z;
	int			 n = 0;

	if (override && !zs->overridden) {
		zs->n = 0;
		zs->overridden = 1;
	}
	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf) || zs->n == CONF_ZONES_MAX) {
		snprintf(why, wlen, "%s: too long, or more than %d lines", k->name,
		    CONF_ZONES_MAX);
		return -1;
	}
	for (char *t = strtok_r(buf, " \t", &save); t != NULL && n < 5;
	    t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	if ((z = reallocarray(zs->z, (size_t)zs->n + 1, sizeof(*z))) == NULL) {
		snprintf(why, wlen, "out of memory");
		return -1;
	}
	zs->z = z;
	z = &zs->z[zs->n];
	memset(z, 0, sizeof(*z));
	if (n < 3 || n > 4 || strlen(f[0]) >= sizeof(z->zone) - 80 ||
	    conf_float(f[1], &z->hit) == -1 || conf_float(f[2], &z->miss) == -1 ||
	    (n == 4 && (f[3][0] != '=' || conf_filter(f[3] + 1, z) == -1))) {
		snprintf(why, wlen, "%s: expected 'zone hit-weight miss-weight "
		    "[=filter]', got '%s'", k->name, v);
		return -1;
	}
	for (char *p = f[0]; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	strlcpy(z->zone, f[0], sizeof(z->zone));
	strlcpy(z->line, v, sizeof(z->line));
	zs->n++;
	return 0;
}

static int
conf_weight_line(struct conf *c, const char *v, char *why, size_t wlen)
{
	char	 name[64] = "", a[64], b[64];
	int	 n = sscanf(v, "%63s %63s %63s", name, a, b), i;

	for (i = 0; n >= 1 && i < CONF_H_COUNT; i++)
		if (strcmp(conf_heuristic_names[i], name) == 0)
			break;
	if (n < 1) {
		snprintf(why, wlen, "weight: missing check name");
		return -1;
	}
	if (i == CONF_H_COUNT) {
		snprintf(why, wlen, "weight: unknown check '%s'", name);
		return -1;
	}
	struct conf_weight *w = &c->weight[i];
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
	c->weights_given = 1;
	return 0;
}

static int
conf_flags_ok(const char *f, char *why, size_t wlen)
{
	size_t bad = strspn(f, CONF_STYLE_FLAGS);

	if (f[bad] == '\0' && strlen(f) < 16)
		return 0;
	snprintf(why, wlen, "unknown style flag '%c' (flags: %s)", f[bad],
	    CONF_STYLE_FLAGS);
	return -1;
}

static int
conf_check_flags(struct conf *c, const char *v, char *why, size_t wlen)
{
	(void)c;
	return conf_flags_ok(v, why, wlen);
}

/* "pattern [maxload] flags" or "pattern [maxload] !text" */
int
conf_style_parse(const char *v, struct conf_style *st, char *why,
    size_t wlen)
{
	const char	*p = v, *end;
	char		*num;
	size_t		 len;

	memset(st, 0, sizeof(*st));
	len = strcspn(p, " \t");
	if (len == 0 || len >= sizeof(st->pattern) ||
	    (p[len - 1] == '\\' && (len < 2 || p[len - 2] != '\\'))) {
		snprintf(why, wlen, "bad pattern in '%s'", v);
		return -1;
	}
	memcpy(st->pattern, p, len);
	p += len;
	p += strspn(p, " \t");
	st->maxload = strtod(p, &num);
	if (num != p && (*num == ' ' || *num == '\t')) {
		p = num + strspn(num, " \t");
	} else
		st->maxload = 0;
	if (*p == '!') {
		st->refuse = 1;
		end = p + strlen(p);
		snprintf(st->text, sizeof(st->text), "%.*s",
		    (int)(end - p - 1), p + 1);
		if (st->text[0] == '\0')
			strlcpy(st->text, "Access denied", sizeof(st->text));
		return 0;
	}
	len = strcspn(p, " \t");
	if (len == 0 || len >= sizeof(st->flags) || p[len + strspn(p + len,
	    " \t")] != '\0') {
		snprintf(why, wlen, "expected flags or !text in '%s'", v);
		return -1;
	}
	memcpy(st->flags, p, len);
	return conf_flags_ok(st->flags, why, wlen);
}

static int
conf_style_add(struct conf *c, const char *v, int override, char *why,
    size_t wlen)
{
	struct conf_styles *ss = &c->helo;

	if (override && !ss->overridden) {
		ss->n = 0;
		ss->overridden = 1;
	}
	if (ss->n == CONF_STYLES_MAX) {
		snprintf(why, wlen, "helo: more than %d lines", CONF_STYLES_MAX);
		return -1;
	}
	struct conf_style *ns = reallocarray(ss->s, (size_t)ss->n + 1,
	    sizeof(*ns));

	if (ns == NULL) {
		snprintf(why, wlen, "out of memory");
		return -1;
	}
	ss->s = ns;
	if (conf_style_parse(v, &ss->s[ss->n], why, wlen) == -1)
		return -1;
	ss->n++;
	return 0;
}

/* ZMailer's smtpserver.conf style lines from a file of their own. */
static int
conf_load_styles(struct conf *c, const char *path, char *why, size_t wlen)
{
	FILE	*fp;
	char	 buf[CONF_LINE_MAX], err[300];
	int	 lineno = 0, rc = 0;

	if (*path == '\0')
		return 0;
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(why, wlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(buf, sizeof(buf), fp) != NULL) {
		lineno++;
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0] == '#' || buf[0] == ' ' || buf[0] == '\t' ||
		    buf[0] == '\0')
			continue;	/* ZMailer: comments and indented lines */
		if (conf_style_add(c, buf, 0, err, sizeof(err)) == -1) {
			snprintf(why, wlen, "%s:%d: %s", path, lineno, err);
			rc = -1;
		}
	}
	fclose(fp);
	return rc;
}

static int
conf_check_tarpit(struct conf *c, const char *v, char *why, size_t wlen)
{
	int a, b, t, n = -1;

	if (sscanf(v, "%d %d %d%n", &a, &b, &t, &n) != 3 || v[n] != '\0' ||
	    a < 0 || b < 0 || t < 0 || a > 3600 || b > 100 || t > 3600) {
		snprintf(why, wlen, "expected 'initial exponent toplimit' "
		    "(seconds), got '%s'", v);
		return -1;
	}
	c->tarpit_initial = a;
	c->tarpit_exponent = b;
	c->tarpit_top = t;
	return 0;
}

/* Store one value in its slot; the checks of the key's type come first. */
static int
conf_store(struct conf *c, const struct conf_key *k, const char *v,
    int override, char *why, size_t wlen)
{
	char		*base = (char *)c + k->off, detail[400];
	long long	 n;
	int		 i;

	if ((k->type == CT_STR || k->type == CT_LIST) &&
	    (long long)strlen(v) > k->max) {
		snprintf(why, wlen, "%s: longer than %lld bytes", k->name, k->max);
		return -1;
	}
	if (k->type == CT_STR && (long long)strlen(v) < k->min) {
		snprintf(why, wlen, "%s: must not be empty", k->name);
		return -1;
	}
	if (*v == '\0' && k->type != CT_STR && k->type != CT_LIST) {
		snprintf(why, wlen, "%s: missing value", k->name);
		return -1;
	}
	if (k->check != NULL && k->check(c, v, detail, sizeof(detail)) == -1) {
		snprintf(why, wlen, "%s: %s", k->name, detail);
		return -1;
	}
	switch (k->type) {
	case CT_STR:
		if (conf_set_string((char **)base, v) == -1) {
			snprintf(why, wlen, "out of memory");
			return -1;
		}
		return 0;
	case CT_LIST:
		return conf_append(k, (struct conf_list *)base, v, override,
		    why, wlen);
	case CT_INT:
	case CT_TIME:
	case CT_SIZE:
		if (conf_number(k, v, &n, why, wlen) == -1)
			return -1;
		if (k->type == CT_SIZE)
			*(long long *)base = n;
		else
			*(int *)base = (int)n;
		return 0;
	case CT_BOOL:
	case CT_ENUM:
		if ((i = conf_choice(k->choices, v, strlen(v))) == -1) {
			snprintf(why, wlen, "%s: '%s' is not one of the choices",
			    k->name, v);
			return -1;
		}
		*(int *)base = i;
		return 0;
	case CT_SET:
		return conf_set_bits(k, v, (int *)base, why, wlen);
	case CT_FLOAT: {
		double d;

		if (conf_float(v, &d) == -1 || d < (double)k->min ||
		    d > (double)k->max) {
			snprintf(why, wlen, "%s: '%s' is not a number in %lld..%lld",
			    k->name, v, k->min, k->max);
			return -1;
		}
		*(double *)base = d;
		return 0;
	}
	case CT_ZONE:
		return conf_zone(k, (struct conf_zones *)base, v, override, why,
		    wlen);
	case CT_WEIGHT:
		return conf_weight_line(c, v, why, wlen);
	case CT_STYLE:
		return conf_style_add(c, v, override, why, wlen);
	}
	return -1;
}

void
conf_init(struct conf *c)
{
	char why[256], host[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < CONF_NKEYS; i++)
		if (conf_keys[i].def != NULL &&
		    conf_store(c, &conf_keys[i], conf_keys[i].def, 0, why,
		    sizeof(why)) == -1)
			abort();	/* a default that fails its own check */
	for (int i = 0; i < CONF_H_COUNT; i++) {
		c->weight[i].hit = conf_heuristic_default[i][0];
		c->weight[i].miss = conf_heuristic_default[i][1];
	}
	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if (conf_set_string(&c->hostname, host) == -1)
		abort();
}

static void
conf_report(conf_err_fn err, const char *file, int line, const char *why)
{
	char msg[CONF_LINE_MAX + 128];

	if (line > 0)
		snprintf(msg, sizeof(msg), "%s:%d: %s", file, line, why);
	else
		snprintf(msg, sizeof(msg), "%s: %s", file, why);
	err(msg);
}

int
conf_set(struct conf *c, const char *key, const char *value,
    const char *where, conf_err_fn err)
{
	const struct conf_key	*k;
	char			 why[512];

	if ((k = conf_find(key)) == NULL) {
		snprintf(why, sizeof(why), "unknown key '%s'", key);
		conf_report(err, where, 0, why);
		return -1;
	}
	if (conf_store(c, k, value, 1, why, sizeof(why)) == -1) {
		conf_report(err, where, 0, why);
		return -1;
	}
	return 0;
}

/* Split "key value" in place; returns 0 for a blank or comment line. */
int
conf_split(char *line, char **key, char **value)
{
	char	*p = line + strspn(line, " \t"), *end;

	line[strcspn(line, "\r\n")] = '\0';	/* the line's own end */
	if (*p == '\0' || *p == '#')
		return 0;
	*key = p;
	p += strcspn(p, " \t");
	if (*p != '\0')
		*p++ = '\0';
	p += strspn(p, " \t");
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	*value = p;
	return 1;
}

static int
conf_line(struct conf *c, char *buf, const char *path, int lineno,
    conf_err_fn err)
{
	const struct conf_key	*k;
	char			*key, *value, why[512];

	if (!conf_split(buf, &key, &value))
		return 0;
	if ((k = conf_find(key)) == NULL) {
		snprintf(why, sizeof(why), "unknown key '%s'", key);
		conf_report(err, path, lineno, why);
		return -1;
	}
	if (conf_store(c, k, value, 0, why, sizeof(why)) == -1) {
		conf_report(err, path, lineno, why);
		return -1;
	}
	return 0;
}

int
conf_load(struct conf *c, const char *path, conf_err_fn err)
{
	FILE	*fp;
	char	 buf[CONF_LINE_MAX];
	int	 lineno = 0, rc = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		conf_report(err, path, 0, strerror(errno));
		return -1;
	}
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		lineno++;
		if (strchr(buf, '\n') == NULL && !feof(fp)) {
			conf_report(err, path, lineno, "line too long");
			rc = -1;
			int ch;
			while ((ch = fgetc(fp)) != EOF && ch != '\n')
				;
			continue;
		}
		if (conf_line(c, buf, path, lineno, err) == -1)
			rc = -1;
	}
	if (ferror(fp)) {
		conf_report(err, path, lineno, strerror(errno));
		rc = -1;
	}
	fclose(fp);
	return rc;
}

static int
conf_check_backend(struct conf *c, const char *v, char *why, size_t wlen)
{
	struct conf_addr	 a = { 0 };
	const char		*colon;

	if (strncmp(v, "unix:", 5) == 0) {
		a.kind = CONF_ADDR_UNIX;
		if (v[5] != '/' || strlcpy(a.path, v + 5, sizeof(a.path)) >=
		    sizeof(a.path)) {
			snprintf(why, wlen, "bad socket path '%s'", v);
			return -1;
		}
		c->backend_addr = a;
		return 0;
	}
	a.kind = CONF_ADDR_INET;
	if (*v == '[') {
		const char *rb = strchr(v, ']');

		if (rb == NULL || rb[1] != ':' || rb == v + 1 ||
		    (size_t)(rb - v - 1) >= sizeof(a.host))
			goto bad;
		memcpy(a.host, v + 1, (size_t)(rb - v - 1));
		colon = rb + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL || colon == v ||
		    (size_t)(colon - v) >= sizeof(a.host) ||
		    memchr(v, ':', (size_t)(colon - v)) != NULL)
			goto bad;
		memcpy(a.host, v, (size_t)(colon - v));
	}
	long long port;
	char *end;
	port = strtoll(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
		goto bad;
	snprintf(a.port, sizeof(a.port), "%lld", port);
	c->backend_addr = a;
	return 0;
bad:
	snprintf(why, wlen,
	    "'%s' is not host:port, [ipv6]:port or unix:/path", v);
	return -1;
}

/* Tables are "cdb:/absolute/path"; empty means no table. */
static int
conf_check_table(struct conf *c, const char *v, char *why, size_t wlen)
{
	(void)c;
	if (*v == '\0' || strncmp(v, "cdb:/", 5) == 0)
		return 0;
	snprintf(why, wlen, "'%s' is not cdb:/path/file.cdb", v);
	return -1;
}

/* "auto" learns the extensions: listing others beside it means nothing. */
static int
conf_check_exts(struct conf *c, const char *v, char *why, size_t wlen)
{
	(void)c;
	if (strstr(v, "auto") != NULL && strcmp(v, "auto") != 0) {
		snprintf(why, wlen, "auto stands alone");
		return -1;
	}
	return 0;
}

/* Delimiters are punctuation an address may hold: not '@', '"', '\\'. */
static int
conf_check_delimiter(struct conf *c, const char *v, char *why, size_t wlen)
{
	(void)c;
	for (const char *p = v; *p != '\0'; p++)
		if (!ispunct((unsigned char)*p) || strchr("@\"\\.", *p)) {
			snprintf(why, wlen, "'%c' cannot be a delimiter", *p);
			return -1;
		}
	return 0;
}

/* ZMailer hdr220 metatags: %H host, %V version, %T time, %% percent. */
static int
conf_check_greeting(struct conf *c, const char *v, char *why, size_t wlen)
{
	(void)c;
	for (const char *p = v; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(why, wlen, "control character");
			return -1;
		}
		if (*p != '%')
			continue;
		if (p[1] == '\0' || strchr("HVT%", p[1]) == NULL) {
			snprintf(why, wlen,
			    "unknown metatag '%%%c' (use %%H %%V %%T %%%%)",
			    p[1] ? p[1] : ' ');
			return -1;
		}
		p++;
	}
	return 0;
}

int
conf_dns_policy(const struct conf *c)
{
	return c->dnsbl.n + c->dnswl.n + c->rhsbl.n > 0 || c->weights_given;
}

int
conf_check(const struct conf *c, conf_err_fn err)
{
	if (c->hostname[0] == '\0') {
		err("hostname: must not be empty");
		return -1;
	}
	if (c->defer_score > c->reject_score) {
		err("defer_score: must not be above reject_score");
		return -1;
	}
	return 0;
}

void
conf_free(struct conf *c)
{
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		char *base = (char *)c + conf_keys[i].off;

		if (conf_keys[i].type == CT_STR) {
			free(*(char **)base);
			*(char **)base = NULL;
		} else if (conf_keys[i].type == CT_ZONE) {
			struct conf_zones *zs = (struct conf_zones *)base;

			free(zs->z);
			zs->z = NULL;
			zs->n = 0;
		} else if (conf_keys[i].type == CT_STYLE) {
			free(c->helo.s);
			c->helo.s = NULL;
			c->helo.n = 0;
		} else if (conf_keys[i].type == CT_LIST) {
			struct conf_list *l = (struct conf_list *)base;

			for (int j = 0; j < l->n; j++)
				free(l->v[j]);
			l->n = 0;
		}
	}
}

static void
conf_dump_key(const struct conf *c, const struct conf_key *k, FILE *out)
{
	const char	*base = (const char *)c + k->off;
	int		 bits;

	switch (k->type) {
	case CT_STR:
		fprintf(out, "%s %s\n", k->name, *(char *const *)base);
		break;
	case CT_LIST:
		for (int i = 0; i < ((const struct conf_list *)base)->n; i++)
			fprintf(out, "%s %s\n", k->name,
			    ((const struct conf_list *)base)->v[i]);
		break;
	case CT_INT:
	case CT_TIME:
		fprintf(out, "%s %d\n", k->name, *(const int *)base);
		break;
	case CT_SIZE:
		fprintf(out, "%s %lld\n", k->name, *(const long long *)base);
		break;
	case CT_BOOL:
	case CT_ENUM:
		fprintf(out, "%s %s\n", k->name, k->choices[*(const int *)base]);
		break;
	case CT_FLOAT:
		fprintf(out, "%s %g\n", k->name, *(const double *)base);
		break;
	case CT_ZONE:
		for (int i = 0; i < ((const struct conf_zones *)base)->n; i++)
			fprintf(out, "%s %s\n", k->name,
			    ((const struct conf_zones *)base)->z[i].line);
		break;
	case CT_STYLE:
		for (int i = 0; i < c->helo.n; i++) {
			const struct conf_style *st = &c->helo.s[i];

			fprintf(out, "helo %s", st->pattern);
			if (st->maxload > 0)
				fprintf(out, " %g", st->maxload);
			fprintf(out, " %s%s\n", st->refuse ? "!" : "",
			    st->refuse ? st->text : st->flags);
		}
		break;
	case CT_WEIGHT:
		for (int i = 0; i < CONF_H_COUNT; i++) {
			const struct conf_weight *w = &c->weight[i];

			if (!w->set)
				continue;	/* a weight line turns the policy on */
			if (w->off)
				fprintf(out, "weight %s off\n",
				    conf_heuristic_names[i]);
			else
				fprintf(out, "weight %s %g %g\n",
				    conf_heuristic_names[i], w->hit, w->miss);
		}
		break;
	case CT_SET:
		bits = *(const int *)base;
		fprintf(out, "%s", k->name);
		for (int i = 0; k->choices[i] != NULL; i++)
			if (bits & (1 << i))
				fprintf(out, " %s", k->choices[i]);
		fprintf(out, "%s\n", bits ? "" : " none");
		break;
	}
}

void
conf_dump(const struct conf *c, FILE *out)
{
	for (size_t i = 0; i < CONF_NKEYS; i++)
		conf_dump_key(c, &conf_keys[i], out);
}
