/*
 * backend: the MTA behind the proxy.
 *
 * backend_open(conf, client, reply) connects (tcp, [ipv6], unix:), reads
 * the greeting, says EHLO (LHLO for lmtp), passes the real client with
 * XCLIENT (then EHLO again) or XFORWARD as backend_xclient says, and
 * returns the connection; on failure it returns NULL and fills reply with
 * what the client should hear (a 4xx) and logs why.
 * backend_xforward(b, client) sends XFORWARD before a transaction when the
 * backend uses it (XFORWARD attributes end with each transaction).
 * backend_command(b, reply, fmt, ...) sends one command line and reads the
 * reply; it returns 0 when a reply was read (whatever its code) and -1 when
 * the connection failed (reply then holds a 4xx for the client).
 * backend_data_write() streams message bytes; backend_data_end(b, n, reply)
 * sends the final "." and reads the reply (LMTP: n replies, folded into
 * one: all 2xx -> the first, else the worst, so nothing is lost).
 * backend_close(b, quit) says QUIT when quit is set, then frees b; a
 * connection closed without QUIT in the middle of DATA discards the
 * message at the backend.
 * backend_probe(conf, out) is -n: connect, print greeting and EHLO reply.
 */
#ifndef SMTPPROXY_BACKEND_H
#define SMTPPROXY_BACKEND_H

#include <stdio.h>

#include "conf/conf.h"

#define BACKEND_REPLY_MAX	4096

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

struct backend	*backend_open(const struct conf *,
		    const struct backend_client *, struct backend_reply *);
int		 backend_xforward(struct backend *,
		    const struct backend_client *, struct backend_reply *);
int		 backend_command(struct backend *, struct backend_reply *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
int		 backend_data_write(void *, const char *, size_t);
int		 backend_data_end(struct backend *, int,
		    struct backend_reply *);
int		 backend_has(const struct backend *, const char *);
void		 backend_close(struct backend *, int);
int		 backend_probe(const struct conf *, FILE *);

#endif
