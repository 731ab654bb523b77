/*
 * conf: smtpproxy.conf, a typed table of keys with defaults and bounds.
 *
 * conf_init(c) fills every key with its default.
 * conf_load(c, path, err) reads "key value" lines; conf_set(c, key, value,
 * where, err) sets one key (used for -o key=value).  Both return 0, or -1
 * after calling err() once per problem with "file:line: reason".
 * Repeatable keys append in a file; the first -o of such a key replaces
 * what the file said.
 * conf_check(c, err) validates the keys that depend on each other.
 * conf_dump(c, out) prints every key with its value (for -n -d).
 * conf_free(c) releases what conf_init and the setters allocated.
 * conf_split(line, &key, &value) splits a "key value" line in place (also
 * mkcdb's source lines); 0 for a blank line or a comment.
 * The syntax of list and weight lines is rbl/'s (rbl_zone_parse, ...).
 * conf_float(v, out) reads a finite number that is all of v (0 or -1),
 * for the syntaxes other modules parse at load (rbl_conf.c).
 * conf_dns_policy(c) says whether the DNS policy runs:
 * when any dnsbl, dnswl, rhsbl or weight line is configured, or spf yes.
 * conf_policy_test(c, family) says whether a policy family's refusals are
 * only logged (test mode, 1) or sent (enforce, 0): the family's own key
 * when it is not "inherit", else policy_mode.
 * conf_greylist_min(c, &min) says whether greylist_min_score is set
 * (1, the number in min) or not (0).
 * The strings a struct conf holds live as long as the process.
 */
#ifndef SMTPPROXY_CONF_H
#define SMTPPROXY_CONF_H

#include <stdio.h>

#define CONF_LIST_MAX	64

enum conf_proto { CONF_PROTO_SMTP, CONF_PROTO_LMTP };
enum conf_xclient { CONF_XCLIENT_AUTO, CONF_XCLIENT_YES, CONF_XCLIENT_NO };
enum conf_bare { CONF_BARE_REJECT, CONF_BARE_NORMALIZE };
enum conf_betls { CONF_BETLS_NO, CONF_BETLS_MAY, CONF_BETLS_ENCRYPT };
enum conf_dns_error { CONF_DNSERR_ACCEPT, CONF_DNSERR_DEFER };
enum conf_tls_min { CONF_TLS_V12, CONF_TLS_V13 };	/* tls_protocols */
enum conf_login_match { CONF_LOGIN_STRICT, CONF_LOGIN_AUTHENTICATED };
enum conf_helo_syntax { CONF_HELO_LOOSE, CONF_HELO_STRICT };
/* proxy_protocol; each value is also the mask of versions it accepts
 * (proxy/proxy.h: PROXY_V1 1, PROXY_V2 2) */
enum conf_proxy { CONF_PROXY_NO = 0, CONF_PROXY_V1 = 1, CONF_PROXY_V2 = 2,
	CONF_PROXY_ANY = 3 };
enum conf_policy_mode { CONF_MODE_ENFORCE, CONF_MODE_TEST };
/* a family's key: its own mode, or policy_mode's */
enum conf_family_mode { CONF_FAMILY_INHERIT, CONF_FAMILY_ENFORCE,
	CONF_FAMILY_TEST };
/* the policies whose refusals test mode may turn into log lines */
enum conf_policy_family { CONF_POLICY_DNS, CONF_POLICY_HELO, CONF_POLICY_SPF,
	CONF_POLICY_GREYLIST };
/* SPF results (RFC 7208 2.6), the rows of spf_weights */
enum conf_spf_result { CONF_SPF_PASS, CONF_SPF_FAIL, CONF_SPF_SOFTFAIL,
	CONF_SPF_NEUTRAL, CONF_SPF_NONE, CONF_SPF_TEMPERROR, CONF_SPF_PERMERROR,
	CONF_SPF_COUNT };
enum conf_spf_reject { CONF_SPF_REJECT_NO, CONF_SPF_REJECT_FAIL };

/* backend_extensions bits */
#define CONF_EXT_DSN		0x01
#define CONF_EXT_SMTPUTF8	0x02
#define CONF_EXT_AUTO		0x04	/* learnt from the backend's EHLO */

enum conf_addr_kind { CONF_ADDR_INET, CONF_ADDR_UNIX };

/* backend, parsed: host and port for INET, path for UNIX */
struct conf_addr {
	enum conf_addr_kind	 kind;
	char			 host[256];
	char			 port[8];
	char			 path[108];
};

#define CONF_ZONES_MAX	32

/* A DNS list: "zone hit miss [=filter]"; filter bits per answer octet. */
struct conf_zone {
	char		 zone[256];
	double		 hit, miss;
	int		 has_filter;
	unsigned char	 filter[4][32];
	char		 line[400];	/* as written, for conf_dump */
};

/* Grown as lines come (most configurations have none): a plain session
 * should not fault in pages for 32 empty zones. */
struct conf_zones {
	struct conf_zone	*z;
	int			 n;
	int			 overridden;
};

/* The heuristics of the DNS policy, with policyd-weight's weights. */
enum conf_heuristic {
	CONF_H_HELO_NUMERIC, CONF_H_HELO_NO_RESOLVE, CONF_H_CLIENT_IP_NE_HELO,
	CONF_H_CLIENT_NO_RDNS, CONF_H_CLIENT_SEEMS_DIALUP, CONF_H_BOGUS_MX,
	CONF_H_RANDOM_SENDER, CONF_H_COUNT
};

struct conf_weight {
	double	 hit, miss;
	int	 off;
	int	 set;		/* given by a "weight" line */
};

#define CONF_STYLES_MAX	128
#define CONF_STYLE_FLAGS "ftveRSTANX"	/* ZMailer's, then ours */

/* A HELO style: "pattern [maxload] flags" or "pattern [maxload] !text". */
struct conf_style {
	char	 pattern[256];
	double	 maxload;	/* 0: none */
	char	 flags[16];
	char	 text[256];	/* refusal text; "" when flags apply */
	int	 refuse;
};

struct conf_styles {
	struct conf_style	*s;
	int			 n;
	int			 overridden;
};

struct conf_list {
	char	*v[CONF_LIST_MAX];
	int	 n;
	int	 overridden;
};

struct conf {
	char		*hostname;
	char		*user;
	char		*group;
	char		*backend;
	struct conf_addr backend_addr;
	enum conf_proto	 backend_protocol;
	enum conf_xclient backend_xclient;
	enum conf_betls	 backend_tls;
	int		 backend_extensions;
	char		*backend_ehlo_cache;
	char		*greeting;
	struct conf_list help;
	int		 vrfy;
	int		 expn;
	long long	 max_message_size;
	int		 max_recipients;
	int		 max_error_recipients;
	int		 max_unknown_commands;
	int		 max_errors;
	int		 max_junk_commands;
	int		 max_sessions;
	int		 max_use;
	int		 max_idle;
	int		 client_connection_count_limit;
	int		 client_connection_rate_limit;
	int		 client_prefix_v6;
	enum conf_proxy	 proxy_protocol;
	char		*proxy_clients;
	int		 timeout_proxy;
	int		 max_line_length;
	int		 timeout_command;
	int		 timeout_tls;
	int		 timeout_data;
	int		 timeout_backend;
	int		 timeout_session;
	enum conf_bare	 bare_newline;
	char		*local_domains;
	char		*relay_clients;
	char		*pop_before_smtp;
	int		 pop_window;
	char		*dns_servers;
	int		 timeout_dns;
	struct conf_zones dnsbl;
	struct conf_zones dnswl;
	struct conf_zones rhsbl;
	double		 reject_score;
	double		 defer_score;
	int		 max_dnsbl_hits;
	enum conf_dns_error dns_error_action;
	int		 add_score_header;
	struct conf_weight weight[CONF_H_COUNT];
	int		 weights_given;
	char		*tls_cert_file;
	char		*tls_key_file;
	char		*tls_ticket_key_file;
	char		*tls_eccert_file;
	char		*tls_eckey_file;
	char		*tls_ciphers;
	enum conf_tls_min tls_protocols;
	int		 tls_required;
	int		 tls_wrapper;
	int		 tls_received_header;
	char		*sasl_mechanisms;
	char		*sasl_config_path;
	int		 auth_requires_tls;
	int		 max_auth_failures;
	int		 msa;
	char		*sender_logins;
	enum conf_login_match sender_login_match;
	char		*restricted_recipients;
	char		*recipient_delimiter;
	struct conf_styles helo;
	char		*helo_styles;
	char		*helo_default;
	int		 delay_reject;
	double		 max_load;
	char		*tarpit;
	int		 tarpit_initial, tarpit_exponent, tarpit_top;
	int		 helo_required;
	enum conf_helo_syntax helo_syntax;
	int		 greet_pause;
	double		 helo_style_score;
	enum conf_policy_mode policy_mode;
	enum conf_family_mode dns_policy_mode;
	enum conf_family_mode helo_policy_mode;
	/* SPF (rbl/rbl_spf.c) */
	int		 spf;
	char		*spf_weights;
	double		 spf_weight[CONF_SPF_COUNT];
	enum conf_spf_reject spf_reject;
	enum conf_family_mode spf_mode;
	char		*log_file;
	/* greylisting (greylist/): one block */
	int		 greylist;
	int		 greylist_delay;
	int		 greylist_retry_window;
	int		 greylist_expire;
	int		 greylist_auto_whitelist;
	char		*greylist_min_score;	/* "" unset, else a number */
	double		 greylist_min;		/* greylist_min_score, parsed */
	char		*greylist_exempt;
	char		*greylist_db;
	enum conf_family_mode greylist_mode;
	/* redis: the shared store (redis/) */
	char		*redis_server;
	struct conf_addr redis_addr;
	char		*redis_password_file;
	char		*redis_prefix;
	int		 timeout_redis;		/* milliseconds */
	int		 client_auth_failure_limit;
	int		 client_auth_failure_window;
};


int	conf_dns_policy(const struct conf *);
int	conf_policy_test(const struct conf *c, enum conf_policy_family family);
int	conf_greylist_min(const struct conf *c, double *min);
int	conf_float(const char *v, double *out);
int	conf_style_parse(const char *line, struct conf_style *st, char *why,
	    size_t wlen);

typedef void (*conf_err_fn)(const char *);

void	conf_init(struct conf *);
int	conf_load(struct conf *c, const char *path, conf_err_fn err);
int	conf_set(struct conf *c, const char *key, const char *value,
	    const char *where, conf_err_fn err);
int	conf_check(const struct conf *c, conf_err_fn err);
void	conf_dump(const struct conf *c, FILE *out);
void	conf_free(struct conf *c);
int	conf_split(char *line, char **key, char **value);

#endif
