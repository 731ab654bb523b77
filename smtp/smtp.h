/*
 * smtp: the client side of a session.
 *
 * smtp_session(conf, client, rfd, wfd) runs one whole SMTP session on the
 * given descriptors and returns 0 when it ended cleanly (QUIT, or the
 * client left between commands), 1 when it did not (a timeout, an I/O
 * error, a limit: server mode's reusable child then leaves), 111 for a
 * system failure such as out of memory.
 *
 * The parsers below are pure functions, exported for the unit tests:
 * smtp_parse_path() reads "<path>" (or "<>" when allow_null) at s and
 * returns 0 with *rest after the closing bracket, or -1 with *why set to a
 * static reason.  smtp_parse_params() checks the ESMTP parameters that
 * follow; it returns 0, or an SMTP reply code with *why set.
 * smtp_glob(pattern, s) is a case-insensitive shell glob (ZMailer quotes
 * brackets with a backslash: \[*\] matches an address literal);
 * smtp_style_find() is the first HELO style whose pattern matches;
 * smtp_helo_valid() says whether a HELO argument is a domain or a literal.
 * smtp_data_*() is the DATA scanner: it finds the one true end of data
 * (CRLF.CRLF after a CRLF-terminated line) and copies the message to a
 * sink, either refusing or normalizing bare CR / LF so the backend can
 * never see an end of data the client did not send.
 */
#ifndef SMTPPROXY_SMTP_H
#define SMTPPROXY_SMTP_H

#include <stddef.h>

#include "conf/conf.h"

#define SMTP_ADDR_MAX	512	/* local@domain, no brackets */
#define SMTP_PARAM_MAX	1024
#define SMTP_EXT_AUTH	0x100	/* with the CONF_EXT_* bits: AUTH offered */

struct smtp_client {
	char	 addr[64];	/* printable address, no brackets */
	int	 family;	/* AF_INET or AF_INET6 */
	char	 port[8];	/* "" when unknown */
	int	 test_mode;	/* -T: dialogue on stdin/stdout */
	char	 key[64];	/* per-client limits: server_limit_key() */
};

struct smtp_path {
	int	 null;			/* <> */
	char	 addr[SMTP_ADDR_MAX];	/* source route stripped */
	char	 domain[256];		/* after the last '@', "" if none */
	int	 utf8;			/* holds non-ASCII bytes */
};

/* What MAIL and RCPT parameters said, for the limits and the backend. */
struct smtp_params {
	long long	 size;		/* -1 when absent */
	int		 smtputf8;
	int		 dsn;		/* RET, ENVID, NOTIFY or ORCPT used */
	int		 body_8bit;
};

int	smtp_session(const struct conf *c, const struct smtp_client *client,
	    int rfd, int wfd);

int	smtp_parse_path(const char *s, int is_mail, struct smtp_path *out,
	    const char **rest, const char **why);
/* lax: without ZMailer's R flag a path may lack its domain; with S, the
 * brackets may be missing and spaces may stray inside them */
#define SMTP_LAX_NODOMAIN	0x01
#define SMTP_LAX_SLOPPY		0x02
int	smtp_parse_path_lax(const char *s, int is_mail, int lax,
	    struct smtp_path *out, const char **rest, const char **why);
int	smtp_parse_params(const char *s, int is_mail, int ext,
	    struct smtp_params *out, const char **why);
int	smtp_glob(const char *pattern, const char *s);
const struct conf_style *smtp_style_find(const struct conf *c,
	    const char *helo);
int	smtp_helo_valid(const char *helo);

enum smtp_data_status {
	SMTP_DATA_MORE,		/* need more input */
	SMTP_DATA_END		/* end of data seen; rest is the next command */
};

/* Why a message must be refused, if it must. */
#define SMTP_DATA_BARE		0x01	/* bare CR or LF (reject mode) */
#define SMTP_DATA_NUL		0x02	/* NUL byte */
#define SMTP_DATA_TOOBIG	0x04	/* over the size limit */

typedef int (*smtp_data_sink)(void *, const char *, size_t);

struct smtp_data {
	int		 state;
	int		 prev_bare;	/* last line ended in a bare CR or LF */
	int		 normalize;
	int		 flags;		/* SMTP_DATA_BARE | SMTP_DATA_NUL */
	long long	 in;		/* input bytes seen */
	long long	 bytes;		/* of which message (not end of data) */
	long long	 max;		/* size limit, 0 = none */
	long long	 lines;		/* line ends seen */
	smtp_data_sink	 sink;
	void		*arg;
	int		 sink_failed;
	size_t		 olen;
	char		 out[8192];
};

void	smtp_data_init(struct smtp_data *d, int normalize, long long max,
	    smtp_data_sink sink, void *arg);
enum smtp_data_status smtp_data_feed(struct smtp_data *, const char *,
	    size_t, size_t *);
void	smtp_data_flush(struct smtp_data *);

#endif
