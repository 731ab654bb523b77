/*
 * backend: the MTA behind the proxy.
 *
 * backend_open(conf, client, reply) connects (tcp, [ipv6], unix:), reads
 * the greeting, says EHLO (LHLO for lmtp), passes the real client with
 * XCLIENT (then EHLO again) or XFORWARD as backend_xclient says, and
 * returns the connection; on failure it returns NULL and fills reply with
 * what the client should hear (a 4xx) and logs why.
 * backend_update(b, client, reply) runs before each transaction on a
 * connection that stays open for the session: it sends XCLIENT again (then
 * the client's EHLO or HELO) when the client's HELO or login changed since
 * the backend was told, and XFORWARD when the backend uses it (its
 * attributes end with each transaction); 0, or -1 with a 4xx in reply
 * (the caller then closes b and may open a new connection).
 * backend_command(b, reply, fmt, ...) sends one command line and reads the
 * reply; it returns 0 when a reply was read (whatever its code) and -1 when
 * the connection failed (reply then holds a 4xx for the client).
 * backend_data_write() streams message bytes; backend_data_end(b, n, reply)
 * sends the final "." and reads the reply (LMTP: n replies, folded into
 * one: all 2xx -> the first, else the worst, so nothing is lost).
 * backend_close(b, quit) says QUIT when quit is set, then frees b; a
 * connection closed without QUIT in the middle of DATA discards the
 * message at the backend.
 * backend_params(b, in, out, size) copies the MAIL or RCPT parameters
 * in that the backend advertised (SIZE, BODY= with 8BITMIME, SMTPUTF8, DSN's
 * RET ENVID NOTIFY ORCPT) to out, which is at least as large as in's
 * buffer; the others are dropped (AUTH= always).
 * backend_extensions(conf, b) is what the client may be offered of DSN
 * and SMTPUTF8 (CONF_EXT_* bits): the configured list, or with auto the
 * backend's own (b's first EHLO reply, else the backend_ehlo_cache file);
 * -1 when auto and nothing is known yet: backend_ask_extensions(conf,
 * deadline) then asks the backend on a connection of its own (greeting,
 * EHLO, QUIT, nothing of the client) and keeps the answer; bits or -1.
 * backend_ehlo_has(ehlo, kw) looks for a keyword in "\nKW params" lines;
 * backend_ext_bits(ehlo) gives their CONF_EXT_* bits; backend_ext_cached(
 * path) those of the cache file (-1: none); backend_ext_save(path, ehlo,
 * force) keeps ehlo there when missing, different or older than 300 s
 * (1 written, 0 unchanged, -1 error; backend_ext.c).
 * backend_probe(conf, out) is -n: connect, print greeting and EHLO reply.
 */
#ifndef SMTPPROXY_BACKEND_H
#define SMTPPROXY_BACKEND_H

#include <stdio.h>

#include "conf/conf.h"

#define BACKEND_REPLY_MAX	4096
#define BACKEND_EHLO_MAX	2048	/* the EHLO lines kept */

struct backend;

struct backend_client {
	const char	*addr;		/* printable IP */
	int		 family;
	const char	*port;		/* "" if unknown */
	const char	*helo;		/* "" before HELO */
	int		 esmtp;
	const char	*login;		/* "" if none */
	const char	*name;		/* verified host name, NULL if unknown */
	double		 deadline;	/* session limit (iobuf_now() time) */
};

/* A whole reply, every line "ddd-text" or "ddd text" joined by CRLF. */
struct backend_reply {
	int	 code;			/* 0 when none could be read */
	char	 text[BACKEND_REPLY_MAX];
};

struct backend	*backend_open(const struct conf *c,
		    const struct backend_client *cl, struct backend_reply *r);
int		 backend_update(struct backend *b,
		    const struct backend_client *cl, struct backend_reply *r);
int		 backend_command(struct backend *b, struct backend_reply *r,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int		 backend_data_write(void *b, const char *p, size_t n);
int		 backend_data_end(struct backend *b, int nreplies,
		    struct backend_reply *r);
int		 backend_extensions(const struct conf *c,
		    const struct backend *b);
int		 backend_ask_extensions(const struct conf *c,
		    double deadline);
int		 backend_ehlo_has(const char *ehlo, const char *keyword);
int		 backend_ext_bits(const char *ehlo);
int		 backend_ext_cached(const char *path);
int		 backend_ext_save(const char *path, const char *ehlo,
		    int force);
void		 backend_params(const struct backend *b, const char *in,
		    char *out, size_t size);
void		 backend_close(struct backend *b, int quit);
int		 backend_probe(const struct conf *c, FILE *out);

#endif
