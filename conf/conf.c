/*
 * conf.c: the key table and the "key value" parser.
 * Each key has a type, a default, bounds or choices, and one line of help;
 * the parser is generic, the table is the only place a key is declared.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

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
#include "rbl/rbl.h"

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

static int conf_check_backend(struct conf *, const char *, char *, size_t);
static int conf_check_greeting(struct conf *, const char *, char *, size_t);
static int conf_check_exts(struct conf *, const char *, char *, size_t);
static int conf_check_delimiter(struct conf *, const char *, char *, size_t);
static int conf_check_table(struct conf *, const char *, char *, size_t);
static int conf_check_pop(struct conf *, const char *, char *, size_t);
static int conf_check_redis(struct conf *, const char *, char *, size_t);
static int conf_check_flags(struct conf *, const char *, char *, size_t);
static int conf_check_tarpit(struct conf *, const char *, char *, size_t);
static int conf_check_spf_weights(struct conf *, const char *, char *,
    size_t);
static int conf_load_styles(struct conf *, const char *, char *, size_t);
static int conf_check_grey_db(struct conf *, const char *, char *, size_t);
static int conf_check_grey_min(struct conf *, const char *, char *, size_t);
static const char *const conf_syntaxes[] = { "loose", "strict", NULL };
static const char *const conf_spf_rejects[] = { "no", "fail", NULL };
static const char *const conf_proxies[] = { "no", "v1", "v2", "any", NULL };
static const char *const conf_modes[] = { "enforce", "test", NULL };
static const char *const conf_family_modes[] = { "inherit", "enforce",
	"test", NULL };

#define O(f)	offsetof(struct conf, f)
#define DAY	86400

static const struct conf_key conf_keys[] = {
	{ .name = "hostname", .type = CT_STR, .off = O(hostname), .def = "",
	    .min = 0, .max = 255,
	    .help = "name in the greeting and EHLO reply (default: the system's)" },
	{ .name = "user", .type = CT_STR, .off = O(user), .def = "nobody",
	    .min = 1, .max = 64,
	    .help = "account a session runs as when started as root" },
	{ .name = "group", .type = CT_STR, .off = O(group), .def = "nogroup",
	    .min = 1, .max = 64,
	    .help = "group a session runs as when started as root" },
	{ .name = "backend", .type = CT_STR, .off = O(backend),
	    .def = "127.0.0.1:10025", .min = 1, .max = 255,
	    .check = conf_check_backend,
	    .help = "the MTA: host:port, [ipv6]:port or unix:/path" },
	{ .name = "backend_protocol", .type = CT_ENUM,
	    .off = O(backend_protocol), .def = "smtp",
	    .choices = conf_protos, .help = "smtp or lmtp" },
	{ .name = "backend_xclient", .type = CT_ENUM,
	    .off = O(backend_xclient), .def = "auto",
	    .choices = conf_xclients,
	    .help = "pass the client with XCLIENT/XFORWARD" },
	{ .name = "backend_tls", .type = CT_ENUM, .off = O(backend_tls),
	    .def = "no", .choices = conf_betls,
	    .help = "STARTTLS to the backend: no, may (if offered), encrypt" },
	{ .name = "backend_extensions", .type = CT_SET,
	    .off = O(backend_extensions), .def = "auto",
	    .choices = conf_exts, .check = conf_check_exts,
	    .help = "auto (learnt), none, or the list: dsn, smtputf8" },
	{ .name = "backend_ehlo_cache", .type = CT_STR,
	    .off = O(backend_ehlo_cache),
	    .def = "/var/lib/smtpproxy/backend-ehlo", .min = 0, .max = 1024,
	    .help = "file where sessions keep the backend's EHLO reply (auto)" },
	{ .name = "greeting", .type = CT_STR, .off = O(greeting),
	    .def = "%H ESMTP", .min = 0, .max = 400,
	    .check = conf_check_greeting,
	    .help = "220 text; %H host, %V version, %T date" },
	{ .name = "help", .type = CT_LIST, .off = O(help), .min = 0,
	    .max = 400, .help = "one line of the HELP reply (repeatable)" },
	{ .name = "vrfy", .type = CT_BOOL, .off = O(vrfy), .def = "no",
	    .choices = conf_yesno,
	    .help = "allow VRFY (to the backend with the v style flag)" },
	{ .name = "expn", .type = CT_BOOL, .off = O(expn), .def = "no",
	    .choices = conf_yesno,
	    .help = "allow EXPN (to the backend with the e style flag)" },
	{ .name = "max_message_size", .type = CT_SIZE,
	    .off = O(max_message_size), .def = "10240000", .min = 0,
	    .max = LLONG_MAX / 2, .help = "bytes; 0 = no limit" },
	{ .name = "max_recipients", .type = CT_INT, .off = O(max_recipients),
	    .def = "1000", .min = 1, .max = 100000,
	    .help = "recipients per message" },
	{ .name = "max_error_recipients", .type = CT_INT,
	    .off = O(max_error_recipients), .def = "3", .min = 1,
	    .max = 100000, .help = "recipients of a message from <>" },
	{ .name = "max_unknown_commands", .type = CT_INT,
	    .off = O(max_unknown_commands), .def = "10", .min = 0,
	    .max = 10000, .help = "unknown commands before disconnecting" },
	{ .name = "max_junk_commands", .type = CT_INT,
	    .off = O(max_junk_commands), .def = "100", .min = 0,
	    .max = 100000,
	    .help = "NOOP, RSET, VRFY, EXPN, HELP, HELO, EHLO; 0 = no limit" },
	{ .name = "max_sessions", .type = CT_INT, .off = O(max_sessions),
	    .def = "100", .min = 1, .max = 4096,
	    .help = "server mode: sessions at once" },
	{ .name = "max_use", .type = CT_INT, .off = O(max_use), .def = "1",
	    .min = 1, .max = 100000,
	    .help = "server mode: connections a child serves one after another" },
	{ .name = "max_idle", .type = CT_TIME, .off = O(max_idle),
	    .def = "100", .min = 1, .max = DAY,
	    .help = "server mode: seconds a reusable child waits for a connection" },
	{ .name = "client_connection_count_limit", .type = CT_INT,
	    .off = O(client_connection_count_limit), .def = "10", .min = 0,
	    .max = 4096,
	    .help = "server mode: sessions at once per client; 0 = no limit" },
	{ .name = "client_connection_rate_limit", .type = CT_INT,
	    .off = O(client_connection_rate_limit), .def = "300", .min = 0,
	    .max = 1000000,
	    .help = "server mode: connections per minute per client; 0 = no limit" },
	{ .name = "client_prefix_v6", .type = CT_INT,
	    .off = O(client_prefix_v6), .def = "64", .min = 1, .max = 128,
	    .help = "server mode: IPv6 clients counted per this prefix" },
	{ .name = "proxy_protocol", .type = CT_ENUM, .off = O(proxy_protocol),
	    .def = "no", .choices = conf_proxies,
	    .help = "PROXY header from proxy_clients: no, v1, v2 or any" },
	{ .name = "proxy_clients", .type = CT_STR, .off = O(proxy_clients),
	    .def = "", .min = 0, .max = 1024, .check = conf_check_table,
	    .help = "table of the balancers' networks that send a PROXY header" },
	{ .name = "timeout_proxy", .type = CT_TIME, .off = O(timeout_proxy),
	    .def = "5", .min = 1, .max = 300,
	    .help = "wait for the whole PROXY header" },
	{ .name = "max_errors", .type = CT_INT, .off = O(max_errors),
	    .def = "20", .min = 1, .max = 10000,
	    .help = "protocol errors before disconnecting" },
	{ .name = "max_line_length", .type = CT_INT,
	    .off = O(max_line_length), .def = "2048", .min = 512,
	    .max = 10000, .help = "longest command line in bytes" },
	{ .name = "timeout_command", .type = CT_TIME,
	    .off = O(timeout_command), .def = "300", .min = 1, .max = DAY,
	    .help = "wait for a client command" },
	{ .name = "timeout_tls", .type = CT_TIME, .off = O(timeout_tls),
	    .def = "60", .min = 1, .max = DAY,
	    .help = "whole TLS handshake with the client" },
	{ .name = "timeout_data", .type = CT_TIME, .off = O(timeout_data),
	    .def = "300", .min = 1, .max = DAY,
	    .help = "wait for each piece of the message" },
	{ .name = "timeout_backend", .type = CT_TIME,
	    .off = O(timeout_backend), .def = "300", .min = 1, .max = DAY,
	    .help = "wait for the backend (connect and each reply)" },
	{ .name = "timeout_session", .type = CT_TIME,
	    .off = O(timeout_session), .def = "3600", .min = 1,
	    .max = 7 * DAY, .help = "whole session" },
	{ .name = "bare_newline", .type = CT_ENUM, .off = O(bare_newline),
	    .def = "reject", .choices = conf_bares,
	    .help = "bare CR or LF in DATA: reject or normalize" },
	{ .name = "local_domains", .type = CT_STR, .off = O(local_domains),
	    .def = "", .min = 0, .max = 1024, .check = conf_check_table,
	    .help = "table of domains we receive mail for" },
	{ .name = "relay_clients", .type = CT_STR, .off = O(relay_clients),
	    .def = "", .min = 0, .max = 1024, .check = conf_check_table,
	    .help = "table of networks that may relay" },
	{ .name = "pop_before_smtp", .type = CT_STR,
	    .off = O(pop_before_smtp), .def = "", .min = 0, .max = 1024,
	    .check = conf_check_pop,
	    .help = "table of POP/IMAP logins (address -> time), or redis:" },
	{ .name = "pop_window", .type = CT_TIME, .off = O(pop_window),
	    .def = "1800", .min = 1, .max = DAY,
	    .help = "seconds a POP/IMAP login lets its address relay" },
	{ .name = "dns_servers", .type = CT_STR, .off = O(dns_servers),
	    .def = "", .min = 0, .max = 1024,
	    .help = "resolvers: ip[:port],... (default: resolv.conf)" },
	{ .name = "timeout_dns", .type = CT_TIME, .off = O(timeout_dns),
	    .def = "5", .min = 1, .max = 60,
	    .help = "wait at RCPT for all DNS answers together" },
	{ .name = "dnsbl", .type = CT_ZONE, .off = O(dnsbl),
	    .help = "client address list: zone hit miss [=filter] (repeatable)" },
	{ .name = "dnswl", .type = CT_ZONE, .off = O(dnswl),
	    .help = "client address allow list, negative weights (repeatable)" },
	{ .name = "rhsbl", .type = CT_ZONE, .off = O(rhsbl),
	    .help = "sender domain list: zone hit miss [=filter] (repeatable)" },
	{ .name = "reject_score", .type = CT_FLOAT, .off = O(reject_score),
	    .def = "1", .min = -1000, .max = 1000,
	    .help = "score from which RCPT is refused with 550" },
	{ .name = "defer_score", .type = CT_FLOAT, .off = O(defer_score),
	    .def = "1", .min = -1000, .max = 1000,
	    .help = "score from which RCPT is deferred with 450" },
	{ .name = "max_dnsbl_hits", .type = CT_INT, .off = O(max_dnsbl_hits),
	    .def = "2", .min = 0, .max = 1000,
	    .help = "more lists than this refuse whatever the score" },
	{ .name = "dns_error_action", .type = CT_ENUM,
	    .off = O(dns_error_action), .def = "accept",
	    .choices = conf_dnserrs,
	    .help = "a list lookup failed: accept or defer (451)" },
	{ .name = "add_score_header", .type = CT_BOOL,
	    .off = O(add_score_header), .def = "no", .choices = conf_yesno,
	    .help = "prepend X-Smtpproxy-Score to scored mail" },
	{ .name = "weight", .type = CT_WEIGHT, .off = O(weight),
	    .help = "heuristic weights: name hit miss, or name off (repeatable)" },
	{ .name = "tls_cert_file", .type = CT_STR, .off = O(tls_cert_file),
	    .def = "", .min = 0, .max = 1024,
	    .help = "PEM certificate (and chain) for STARTTLS" },
	{ .name = "tls_key_file", .type = CT_STR, .off = O(tls_key_file),
	    .def = "", .min = 0, .max = 1024,
	    .help = "PEM private key for STARTTLS" },
	{ .name = "tls_eccert_file", .type = CT_STR,
	    .off = O(tls_eccert_file), .def = "", .min = 0, .max = 1024,
	    .help = "an ECDSA certificate chain served beside tls_cert_file" },
	{ .name = "tls_eckey_file", .type = CT_STR, .off = O(tls_eckey_file),
	    .def = "", .min = 0, .max = 1024,
	    .help = "the key of tls_eccert_file" },
	{ .name = "tls_ticket_key_file", .type = CT_STR,
	    .off = O(tls_ticket_key_file), .def = "", .min = 0, .max = 1024,
	    .help = "session ticket keys, nginx's 80-byte format; first "
	    "encrypts" },
	{ .name = "tls_ciphers", .type = CT_STR, .off = O(tls_ciphers),
	    .def = "HIGH:!aNULL:!MD5:!RC4", .min = 1, .max = 1024,
	    .help = "OpenSSL cipher list for TLS 1.2" },
	{ .name = "tls_protocols", .type = CT_ENUM, .off = O(tls_protocols),
	    .def = "TLSv1.2", .choices = conf_tlsprotos,
	    .help = "lowest TLS version accepted" },
	{ .name = "tls_required", .type = CT_BOOL, .off = O(tls_required),
	    .def = "no", .choices = conf_yesno,
	    .help = "refuse MAIL before STARTTLS" },
	{ .name = "tls_wrapper", .type = CT_BOOL, .off = O(tls_wrapper),
	    .def = "no", .choices = conf_yesno,
	    .help = "implicit TLS from the first byte (port 465)" },
	{ .name = "tls_received_header", .type = CT_BOOL,
	    .off = O(tls_received_header), .def = "yes",
	    .choices = conf_yesno,
	    .help = "prepend a Received line naming the cipher" },
	{ .name = "sasl_mechanisms", .type = CT_STR,
	    .off = O(sasl_mechanisms), .def = "PLAIN LOGIN", .min = 0,
	    .max = 400, .help = "AUTH mechanisms offered (empty: no AUTH)" },
	{ .name = "sasl_config_path", .type = CT_STR,
	    .off = O(sasl_config_path), .def = "", .min = 0, .max = 1024,
	    .help = "folder of libsasl2's smtpproxy.conf" },
	{ .name = "auth_requires_tls", .type = CT_BOOL,
	    .off = O(auth_requires_tls), .def = "yes", .choices = conf_yesno,
	    .help = "plaintext mechanisms only after STARTTLS" },
	{ .name = "max_auth_failures", .type = CT_INT,
	    .off = O(max_auth_failures), .def = "3", .min = 1, .max = 100,
	    .help = "failed AUTH commands before disconnecting" },
	{ .name = "msa", .type = CT_BOOL, .off = O(msa), .def = "no",
	    .choices = conf_yesno,
	    .help = "clients outside relay_clients must AUTH before MAIL" },
	{ .name = "sender_logins", .type = CT_STR, .off = O(sender_logins),
	    .def = "", .min = 0, .max = 1024, .check = conf_check_table,
	    .help = "table: sender address or @domain -> logins" },
	{ .name = "sender_login_match", .type = CT_ENUM,
	    .off = O(sender_login_match), .def = "strict",
	    .choices = conf_loginmatch,
	    .help = "strict: also refuse owned senders to strangers" },
	{ .name = "restricted_recipients", .type = CT_STR,
	    .off = O(restricted_recipients), .def = "", .min = 0,
	    .max = 1024, .check = conf_check_table,
	    .help = "table: address -> authenticated or logins" },
	{ .name = "recipient_delimiter", .type = CT_STR,
	    .off = O(recipient_delimiter), .def = "+", .min = 0, .max = 16,
	    .check = conf_check_delimiter,
	    .help = "characters that start an address extension (user+ext)" },
	{ .name = "helo", .type = CT_STYLE, .off = O(helo),
	    .help = "HELO style: pattern [maxload] flags|!text (repeatable)" },
	{ .name = "helo_styles", .type = CT_STR, .off = O(helo_styles),
	    .def = "", .min = 0, .max = 1024, .check = conf_load_styles,
	    .help = "file of more helo lines, read here" },
	{ .name = "helo_default", .type = CT_STR, .off = O(helo_default),
	    .def = "veR", .min = 0, .max = 15, .check = conf_check_flags,
	    .help = "flags when no helo pattern matches" },
	{ .name = "delay_reject", .type = CT_BOOL, .off = O(delay_reject),
	    .def = "no", .choices = conf_yesno,
	    .help = "refuse a !text HELO at the first RCPT instead" },
	{ .name = "max_load", .type = CT_FLOAT, .off = O(max_load),
	    .def = "0", .min = 0, .max = 1000,
	    .help = "load average above which sessions get 421 (0: off)" },
	{ .name = "tarpit", .type = CT_STR, .off = O(tarpit), .def = "0 0 0",
	    .min = 1, .max = 64, .check = conf_check_tarpit,
	    .help = "delay before 4xx/5xx: initial exponent toplimit" },
	{ .name = "helo_required", .type = CT_BOOL, .off = O(helo_required),
	    .def = "yes", .choices = conf_yesno,
	    .help = "MAIL needs HELO or EHLO first" },
	{ .name = "helo_syntax", .type = CT_ENUM, .off = O(helo_syntax),
	    .def = "loose", .choices = conf_syntaxes,
	    .help = "strict: HELO must be a domain or address literal" },
	{ .name = "greet_pause", .type = CT_INT, .off = O(greet_pause),
	    .def = "0", .min = 0, .max = 60000,
	    .help = "milliseconds of silence required before the greeting" },
	{ .name = "helo_style_score", .type = CT_FLOAT,
	    .off = O(helo_style_score), .def = "2", .min = -1000,
	    .max = 1000,
	    .help = "added to the DNS score by the X style flag" },
	{ .name = "policy_mode", .type = CT_ENUM, .off = O(policy_mode),
	    .def = "enforce", .choices = conf_modes,
	    .help = "test: policy refusals are logged (would-reject), not sent" },
	{ .name = "dns_policy_mode", .type = CT_ENUM,
	    .off = O(dns_policy_mode), .def = "inherit",
	    .choices = conf_family_modes,
	    .help = "the DNS policy's verdicts: inherit (policy_mode), enforce, "
	    "test" },
	{ .name = "helo_policy_mode", .type = CT_ENUM,
	    .off = O(helo_policy_mode), .def = "inherit",
	    .choices = conf_family_modes,
	    .help = "HELO refusals, f/t domain checks, helo_syntax strict: "
	    "inherit, enforce, test" },
	/* SPF (rbl/rbl_spf.c) */
	{ .name = "spf", .type = CT_BOOL, .off = O(spf), .def = "no",
	    .choices = conf_yesno,
	    .help = "check the sender's SPF record (RFC 7208) at RCPT" },
	{ .name = "spf_weights", .type = CT_STR, .off = O(spf_weights),
	    .def = "pass=-0.5 fail=3.5 softfail=1.5 neutral=0 none=0 "
	    "temperror=0 permerror=0.5", .min = 0, .max = 1024,
	    .check = conf_check_spf_weights,
	    .help = "the DNS score added per SPF result: result=weight ..." },
	{ .name = "spf_reject", .type = CT_ENUM, .off = O(spf_reject),
	    .def = "no", .choices = conf_spf_rejects,
	    .help = "fail: refuse an SPF fail with 550 5.7.23" },
	{ .name = "spf_mode", .type = CT_ENUM, .off = O(spf_mode),
	    .def = "inherit", .choices = conf_family_modes,
	    .help = "spf_reject's refusals: inherit (policy_mode), enforce, "
	    "test" },
	{ .name = "log_file", .type = CT_STR, .off = O(log_file), .def = "",
	    .min = 0, .max = 1024,
	    .help = "append log lines here instead of syslog" },
	/* greylisting (greylist/) */
	{ .name = "greylist", .type = CT_BOOL, .off = O(greylist),
	    .def = "no", .choices = conf_yesno,
	    .help = "greylist (client network, sender, recipient) at RCPT" },
	{ .name = "greylist_delay", .type = CT_TIME, .off = O(greylist_delay),
	    .def = "300", .min = 1, .max = DAY,
	    .help = "a triplet's retry passes no sooner than this after the "
	    "first try" },
	{ .name = "greylist_retry_window", .type = CT_TIME,
	    .off = O(greylist_retry_window), .def = "4h", .min = 2,
	    .max = 30 * DAY,
	    .help = "...and no later than this after the first try" },
	{ .name = "greylist_expire", .type = CT_TIME, .off = O(greylist_expire),
	    .def = "35d", .min = 60, .max = 3650 * DAY,
	    .help = "a passed triplet or whitelisted client is kept this long "
	    "after its last mail" },
	{ .name = "greylist_auto_whitelist", .type = CT_INT,
	    .off = O(greylist_auto_whitelist), .def = "5", .min = 0,
	    .max = 1000000,
	    .help = "a client network that passed this many triplets is not "
	    "greylisted (0: never)" },
	{ .name = "greylist_min_score", .type = CT_STR,
	    .off = O(greylist_min_score), .def = "", .min = 0, .max = 32,
	    .check = conf_check_grey_min,
	    .help = "greylist only clients whose DNS score is at least this "
	    "(empty: all)" },
	{ .name = "greylist_exempt", .type = CT_STR, .off = O(greylist_exempt),
	    .def = "", .min = 0, .max = 1024, .check = conf_check_table,
	    .help = "table (type greylist): networks, @domain senders, <>, "
	    "recipients never greylisted" },
	{ .name = "greylist_db", .type = CT_STR, .off = O(greylist_db),
	    .def = "/var/lib/smtpproxy/greylist.lmdb", .min = 1, .max = 1024,
	    .check = conf_check_grey_db,
	    .help = "the greylisting store: an LMDB file, or redis:" },
	{ .name = "greylist_mode", .type = CT_ENUM, .off = O(greylist_mode),
	    .def = "inherit", .choices = conf_family_modes,
	    .help = "greylisting's 451: inherit (policy_mode), enforce, test" },
	/* Redis, the shared store (redis/) */
	{ .name = "redis_server", .type = CT_STR, .off = O(redis_server),
	    .def = "", .min = 0, .max = 255, .check = conf_check_redis,
	    .help = "shared store: ip:port, [ipv6]:port or unix:/path" },
	{ .name = "redis_password_file", .type = CT_STR,
	    .off = O(redis_password_file), .def = "", .min = 0, .max = 1024,
	    .help = "its first line: the Redis password (or: user password)" },
	{ .name = "redis_prefix", .type = CT_STR, .off = O(redis_prefix),
	    .def = "smtpproxy:", .min = 0, .max = 64,
	    .help = "prefix of every Redis key" },
	{ .name = "timeout_redis", .type = CT_INT, .off = O(timeout_redis),
	    .def = "500", .min = 1, .max = 60000,
	    .help = "milliseconds: Redis connect and each command" },
	{ .name = "client_auth_failure_limit", .type = CT_INT,
	    .off = O(client_auth_failure_limit), .def = "0", .min = 0,
	    .max = 100000,
	    .help = "with redis_server: failed AUTHs per client per window; "
	    "0 = no limit" },
	{ .name = "client_auth_failure_window", .type = CT_TIME,
	    .off = O(client_auth_failure_window), .def = "3600", .min = 1,
	    .max = 7 * DAY,
	    .help = "the window of client_auth_failure_limit" },
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

/* conf_float - a finite number and nothing after it; 0 or -1 */
int
conf_float(const char *v, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(v, &end);
	return end == v || *end != '\0' || errno != 0 || !isfinite(*out) ?
	    -1 : 0;
}

/* A dnsbl, dnswl or rhsbl line, parsed by rbl/ (its user). */
static int
conf_zone(const struct conf_key *k, struct conf_zones *zs, const char *v,
    int override, char *why, size_t wlen)
{
	struct conf_zone *z;

	if (override && !zs->overridden) {
		zs->n = 0;
		zs->overridden = 1;
	}
	if (zs->n == CONF_ZONES_MAX) {
		snprintf(why, wlen, "%s: too long, or more than %d lines", k->name,
		    CONF_ZONES_MAX);
		return -1;
	}
	if ((z = reallocarray(zs->z, (size_t)zs->n + 1, sizeof(*z))) == NULL) {
		snprintf(why, wlen, "out of memory");
		return -1;
	}
	zs->z = z;
	if (rbl_zone_parse(k->name, v, &zs->z[zs->n], why, wlen) == -1)
		return -1;
	zs->n++;
	return 0;
}

static int
conf_weight_line(struct conf *c, const char *v, char *why, size_t wlen)
{
	if (rbl_weight_parse(v, c->weight, why, wlen) == -1)
		return -1;
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

/* conf_check_spf_weights - spf_weights: result=weight pairs (rbl/) */
static int
conf_check_spf_weights(struct conf *c, const char *v, char *why, size_t wlen)
{
	return rbl_spf_weights_parse(v, c->spf_weight, why, wlen);
}

/* Store one value in its slot; the checks of the key's type come first. */
/* --- one row of operations per type: store a value, print it, free it --- */

static int
conf_store_str(struct conf *c, const struct conf_key *k, void *base,
    const char *v, int override, char *why, size_t wlen)
{
	(void)c, (void)k, (void)override;
	if (conf_set_string(base, v) == -1) {
		snprintf(why, wlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
conf_store_list(struct conf *c, const struct conf_key *k, void *base,
    const char *v, int override, char *why, size_t wlen)
{
	(void)c;
	return conf_append(k, base, v, override, why, wlen);
}

static int
conf_store_number(struct conf *c, const struct conf_key *k, void *base,
    const char *v, int override, char *why, size_t wlen)
{
	long long n;

	(void)c, (void)override;
	if (conf_number(k, v, &n, why, wlen) == -1)
		return -1;
	if (k->type == CT_SIZE)
		*(long long *)base = n;
	else
		*(int *)base = (int)n;
	return 0;
}

static int
conf_store_choice(struct conf *c, const struct conf_key *k, void *base,
    const char *v, int override, char *why, size_t wlen)
{
	int i;

	(void)c, (void)override;
	if ((i = conf_choice(k->choices, v, strlen(v))) == -1) {
		snprintf(why, wlen, "%s: '%s' is not one of the choices",
		    k->name, v);
		return -1;
	}
	*(int *)base = i;	/* enums are int-sized: see the asserts */
	return 0;
}

static int
conf_store_set(struct conf *c, const struct conf_key *k, void *base,
    const char *v, int override, char *why, size_t wlen)
{
	(void)c, (void)override;
	return conf_set_bits(k, v, base, why, wlen);
}

static int
conf_store_float(struct conf *c, const struct conf_key *k, void *base,
    const char *v, int override, char *why, size_t wlen)
{
	double d;

	(void)c, (void)override;
	if (conf_float(v, &d) == -1 || d < (double)k->min ||
	    d > (double)k->max) {
		snprintf(why, wlen, "%s: '%s' is not a number in %lld..%lld",
		    k->name, v, k->min, k->max);
		return -1;
	}
	*(double *)base = d;
	return 0;
}

static int
conf_store_zone(struct conf *c, const struct conf_key *k, void *base,
    const char *v, int override, char *why, size_t wlen)
{
	(void)c;
	return conf_zone(k, base, v, override, why, wlen);
}

static int
conf_store_weight(struct conf *c, const struct conf_key *k, void *base,
    const char *v, int override, char *why, size_t wlen)
{
	(void)k, (void)base, (void)override;
	return conf_weight_line(c, v, why, wlen);
}

static int
conf_store_style(struct conf *c, const struct conf_key *k, void *base,
    const char *v, int override, char *why, size_t wlen)
{
	(void)k, (void)base;
	return conf_style_add(c, v, override, why, wlen);
}

static void
conf_dump_str(const struct conf *c, const struct conf_key *k,
    const void *base, FILE *out)
{
	(void)c;
	fprintf(out, "%s %s\n", k->name, *(char *const *)base);
}

static void
conf_dump_list(const struct conf *c, const struct conf_key *k,
    const void *base, FILE *out)
{
	const struct conf_list *l = base;

	(void)c;
	for (int i = 0; i < l->n; i++)
		fprintf(out, "%s %s\n", k->name, l->v[i]);
}

static void
conf_dump_int(const struct conf *c, const struct conf_key *k,
    const void *base, FILE *out)
{
	(void)c;
	fprintf(out, "%s %d\n", k->name, *(const int *)base);
}

static void
conf_dump_size(const struct conf *c, const struct conf_key *k,
    const void *base, FILE *out)
{
	(void)c;
	fprintf(out, "%s %lld\n", k->name, *(const long long *)base);
}

static void
conf_dump_choice(const struct conf *c, const struct conf_key *k,
    const void *base, FILE *out)
{
	(void)c;
	fprintf(out, "%s %s\n", k->name, k->choices[*(const int *)base]);
}

static void
conf_dump_set(const struct conf *c, const struct conf_key *k,
    const void *base, FILE *out)
{
	int bits = *(const int *)base;

	(void)c;
	fprintf(out, "%s", k->name);
	for (int i = 0; k->choices[i] != NULL; i++)
		if (bits & (1 << i))
			fprintf(out, " %s", k->choices[i]);
	fprintf(out, "%s\n", bits ? "" : " none");
}

static void
conf_dump_float(const struct conf *c, const struct conf_key *k,
    const void *base, FILE *out)
{
	(void)c;
	fprintf(out, "%s %g\n", k->name, *(const double *)base);
}

static void
conf_dump_zone(const struct conf *c, const struct conf_key *k,
    const void *base, FILE *out)
{
	const struct conf_zones *zs = base;

	(void)c;
	for (int i = 0; i < zs->n; i++)
		fprintf(out, "%s %s\n", k->name, zs->z[i].line);
}

static void
conf_dump_weight(const struct conf *c, const struct conf_key *k,
    const void *base, FILE *out)
{
	(void)k, (void)base;
	for (int i = 0; i < CONF_H_COUNT; i++) {
		const struct conf_weight *w = &c->weight[i];

		if (!w->set)
			continue;	/* a weight line turns the policy on */
		if (w->off)
			fprintf(out, "weight %s off\n", rbl_heuristic_names[i]);
		else
			fprintf(out, "weight %s %g %g\n", rbl_heuristic_names[i],
			    w->hit, w->miss);
	}
}

static void
conf_dump_style(const struct conf *c, const struct conf_key *k,
    const void *base, FILE *out)
{
	(void)k, (void)base;
	for (int i = 0; i < c->helo.n; i++) {
		const struct conf_style *st = &c->helo.s[i];

		fprintf(out, "helo %s", st->pattern);
		if (st->maxload > 0)
			fprintf(out, " %g", st->maxload);
		fprintf(out, " %s%s\n", st->refuse ? "!" : "",
		    st->refuse ? st->text : st->flags);
	}
}

static void
conf_free_str(struct conf *c, void *base)
{
	(void)c;
	free(*(char **)base);
	*(char **)base = NULL;
}

static void
conf_free_list(struct conf *c, void *base)
{
	struct conf_list *l = base;

	(void)c;
	for (int j = 0; j < l->n; j++)
		free(l->v[j]);
	l->n = 0;
}

static void
conf_free_zones(struct conf *c, void *base)
{
	struct conf_zones *zs = base;

	(void)c;
	free(zs->z);
	zs->z = NULL;
	zs->n = 0;
}

static void
conf_free_styles(struct conf *c, void *base)
{
	(void)base;
	free(c->helo.s);
	c->helo.s = NULL;
	c->helo.n = 0;
}

static const struct conf_ops {
	int	(*store)(struct conf *, const struct conf_key *, void *,
		    const char *, int, char *, size_t);
	void	(*dump)(const struct conf *, const struct conf_key *,
		    const void *, FILE *);
	void	(*release)(struct conf *, void *);
} conf_ops[] = {
	[CT_STR] = { conf_store_str, conf_dump_str, conf_free_str },
	[CT_INT] = { conf_store_number, conf_dump_int, NULL },
	[CT_SIZE] = { conf_store_number, conf_dump_size, NULL },
	[CT_TIME] = { conf_store_number, conf_dump_int, NULL },
	[CT_BOOL] = { conf_store_choice, conf_dump_choice, NULL },
	[CT_ENUM] = { conf_store_choice, conf_dump_choice, NULL },
	[CT_SET] = { conf_store_set, conf_dump_set, NULL },
	[CT_LIST] = { conf_store_list, conf_dump_list, conf_free_list },
	[CT_FLOAT] = { conf_store_float, conf_dump_float, NULL },
	[CT_ZONE] = { conf_store_zone, conf_dump_zone, conf_free_zones },
	[CT_WEIGHT] = { conf_store_weight, conf_dump_weight, NULL },
	[CT_STYLE] = { conf_store_style, conf_dump_style, conf_free_styles }
};

/* CT_ENUM keys are stored through an int: each enum must be one. */
_Static_assert(sizeof(enum conf_proto) == sizeof(int) &&
    sizeof(enum conf_xclient) == sizeof(int) &&
    sizeof(enum conf_bare) == sizeof(int) &&
    sizeof(enum conf_betls) == sizeof(int) &&
    sizeof(enum conf_dns_error) == sizeof(int) &&
    sizeof(enum conf_tls_min) == sizeof(int) &&
    sizeof(enum conf_login_match) == sizeof(int) &&
    sizeof(enum conf_helo_syntax) == sizeof(int) &&
    sizeof(enum conf_policy_mode) == sizeof(int) &&
    sizeof(enum conf_family_mode) == sizeof(int) &&
    sizeof(enum conf_spf_reject) == sizeof(int) &&
    sizeof(enum conf_proxy) == sizeof(int), "enum keys are ints");

static int
conf_store(struct conf *c, const struct conf_key *k, const char *v,
    int override, char *why, size_t wlen)
{
	char	*base = (char *)c + k->off, detail[400];

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
	return conf_ops[k->type].store(c, k, base, v, override, why, wlen);
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
	rbl_weight_defaults(c->weight);
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

/* conf_addr_parse - host:port, [ipv6]:port or unix:/path into *out */
static int
conf_addr_parse(const char *v, struct conf_addr *out, char *why, size_t wlen)
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
		*out = a;
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
	*out = a;
	return 0;
bad:
	snprintf(why, wlen,
	    "'%s' is not host:port, [ipv6]:port or unix:/path", v);
	return -1;
}

static int
conf_check_backend(struct conf *c, const char *v, char *why, size_t wlen)
{
	return conf_addr_parse(v, &c->backend_addr, why, wlen);
}

/* redis_server: empty (no Redis), ip:port, [ipv6]:port or unix:/path */
static int
conf_check_redis(struct conf *c, const char *v, char *why, size_t wlen)
{
	unsigned char	 buf[sizeof(struct in6_addr)];

	if (*v == '\0') {
		memset(&c->redis_addr, 0, sizeof(c->redis_addr));
		return 0;
	}
	if (conf_addr_parse(v, &c->redis_addr, why, wlen) == -1)
		return -1;
	/* a name would cost every session a resolver lookup that
	 * timeout_redis does not bound */
	if (c->redis_addr.kind == CONF_ADDR_INET &&
	    inet_pton(AF_INET, c->redis_addr.host, buf) != 1 &&
	    inet_pton(AF_INET6, c->redis_addr.host, buf) != 1) {
		snprintf(why, wlen, "'%s': give an IP address (or unix:/path), "
		    "not a name", v);
		return -1;
	}
	return 0;
}

/* pop_before_smtp: a table, or "redis:" (the logins in redis_server) */
static int
conf_check_pop(struct conf *c, const char *v, char *why, size_t wlen)
{
	if (strcmp(v, "redis:") == 0)
		return 0;
	if (conf_check_table(c, v, why, wlen) == 0)
		return 0;
	snprintf(why, wlen, "'%s' is not cdb:/path/file.cdb or redis:", v);
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
	return c->dnsbl.n + c->dnswl.n + c->rhsbl.n > 0 || c->weights_given ||
	    c->spf;
}

/* conf_policy_test - the family's own key wins; "inherit" defers to
 * policy_mode */
int
conf_policy_test(const struct conf *c, enum conf_policy_family family)
{
	enum conf_family_mode m = family == CONF_POLICY_DNS ?
	    c->dns_policy_mode : family == CONF_POLICY_SPF ? c->spf_mode :
	    family == CONF_POLICY_GREYLIST ? c->greylist_mode :
	    c->helo_policy_mode;

	if (m == CONF_FAMILY_INHERIT)
		return c->policy_mode == CONF_MODE_TEST;
	return m == CONF_FAMILY_TEST;
}

int
conf_check(const struct conf *c, conf_err_fn err)
{
	if (c->hostname[0] == '\0') {
		err("hostname: must not be empty");
		return -1;
	}
	if ((c->tls_eccert_file[0] == '\0') != (c->tls_eckey_file[0] == '\0')) {
		err("tls_eccert_file and tls_eckey_file go together");
		return -1;
	}
	if (c->defer_score > c->reject_score) {
		err("defer_score: must not be above reject_score");
		return -1;
	}
	if (c->proxy_protocol != CONF_PROXY_NO && c->proxy_clients[0] == '\0') {
		err("proxy_protocol: needs proxy_clients, the balancers");
		return -1;
	}
	if (strcmp(c->pop_before_smtp, "redis:") == 0 &&
	    c->redis_server[0] == '\0') {
		err("pop_before_smtp: redis: needs redis_server");
		return -1;
	}
	if (strcmp(c->greylist_db, "redis:") == 0 && c->redis_server[0] == '\0') {
		err("greylist_db: redis: needs redis_server");
		return -1;
	}
	if (c->greylist_retry_window <= c->greylist_delay) {
		err("greylist_retry_window: must be longer than greylist_delay");
		return -1;
	}
	return 0;
}

/* conf_greylist_min - 1 and the number when greylist_min_score is set */
int
conf_greylist_min(const struct conf *c, double *min)
{
	*min = c->greylist_min;
	return c->greylist_min_score[0] != '\0';
}

/* greylist_db: an absolute path (LMDB), or "redis:" (the shared store) */
static int
conf_check_grey_db(struct conf *c, const char *v, char *why, size_t wlen)
{
	(void)c;
	if (strcmp(v, "redis:") != 0 && v[0] != '/') {
		snprintf(why, wlen, "'%s' is neither redis: nor an absolute path",
		    v);
		return -1;
	}
	return 0;
}

/* greylist_min_score: "" (unset) or a number */
static int
conf_check_grey_min(struct conf *c, const char *v, char *why, size_t wlen)
{
	double d = 0;

	if (*v != '\0' && (conf_float(v, &d) == -1 || d < -1000 || d > 1000)) {
		snprintf(why, wlen, "'%s' is not a number in -1000..1000", v);
		return -1;
	}
	c->greylist_min = d;
	return 0;
}

void
conf_free(struct conf *c)
{
	for (size_t i = 0; i < CONF_NKEYS; i++)
		if (conf_ops[conf_keys[i].type].release != NULL)
			conf_ops[conf_keys[i].type].release(c,
			    (char *)c + conf_keys[i].off);
}

void
conf_dump(const struct conf *c, FILE *out)
{
	for (size_t i = 0; i < CONF_NKEYS; i++)
		conf_ops[conf_keys[i].type].dump(c, &conf_keys[i],
		    (const char *)c + conf_keys[i].off, out);
}
