/*
 * auth: STARTTLS (OpenSSL), AUTH (Cyrus libsasl2) and the sender and
 * recipient policy of authenticated users (kolab_smtpdpolicy's job).
 *
 * auth_init(conf) runs before privileges are dropped: it reads the TLS
 * certificate and key files into memory and opens the policy tables.  It
 * initialises neither OpenSSL nor libsasl2: a plain session pays nothing.
 * auth_tls_offered() says whether STARTTLS can be offered; auth_tls_ready()
 * whether a handshake can start now (the context is built on first use:
 * 0 when libssl or the key is unusable, logged); auth_tls_check()
 * builds the context at once for -n (0, or -1 when it cannot be made).
 * auth_tls_start(io) builds the TLS context on first use, runs the server
 * handshake on io's descriptors (bounded by io's timeout) and switches io
 * to TLS; 0 or -1 (logged).  auth_tls_summary() is "TLSv1.3:CIPHER" or
 * NULL before TLS.  auth_tls_close() sends the TLS close_notify, once,
 * without waiting for the peer's.  auth_tls_client(io, summary, size)
 * runs the client handshake on io (the backend connection; the peer's
 * certificate is not verified) and writes "TLSv1.3:CIPHER" to summary.
 * auth_sasl_start(mech, in, inlen, out, outlen) and auth_sasl_step(in,
 * inlen, out, outlen) run one SASL exchange (libsasl2 is initialised on the
 * first call); they answer AUTH_DONE (auth_login() holds the user),
 * AUTH_MORE (out holds the next challenge), AUTH_FAIL (bad credentials:
 * unknown user and wrong password alike), AUTH_NOMECH or AUTH_TEMP.
 * auth_sasl_abort() forgets an exchange.
 * auth_b64_decode/encode: base64 for the AUTH dialogue; -1 on bad input.
 * auth_check_sender(login, addr, reply, size) and auth_check_recipient()
 * apply sender_logins and restricted_recipients: 0 = go on, -1 = refused
 * (reply holds the whole line: 553/550 5.7.1, or 451 4.3.0 on a table
 * error).  login is "" for an unauthenticated client.
 * auth_dl(what, lib, syms, n, table) dlopen()s lib and stores the address
 * of each of the n symbols at its offset in table: the handle, or NULL
 * (logged as event=what-error).  libssl and libsasl2 are never linked.
 */
#ifndef SMTPPROXY_AUTH_H
#define SMTPPROXY_AUTH_H

#include <stddef.h>
#include <stdio.h>

#include "conf/conf.h"
#include "iobuf.h"

enum auth_result { AUTH_DONE, AUTH_MORE, AUTH_FAIL, AUTH_NOMECH, AUTH_TEMP };

/* One function of a library loaded with auth_dl(): its name, and where its
 * address goes in the table of function pointers (AUTH_SYM(struct, f)). */
struct auth_sym {
	const char	*name;
	size_t		 off;
};
#define AUTH_SYM(type, f)	{ #f, offsetof(struct type, f) },
#define AUTH_FN_PTR(f)		__typeof__(f) *f;

int		 auth_init(const struct conf *);
int		 auth_tls_offered(void);
int		 auth_tls_ready(void);
int		 auth_tls_check(FILE *);
int		 auth_tls_start(struct iobuf *);
const char	*auth_tls_summary(void);
void		 auth_tls_close(void);
int		 auth_tls_client(struct iobuf *, char *, size_t);
void		 auth_tls_client_close(struct iobuf *);
int		 auth_tls_ssf(void);

int		 auth_mech_plaintext(const char *);
int		 auth_sasl_start(const char *, const char *, size_t,
		    const char **, unsigned *);
int		 auth_sasl_step(const char *, size_t, const char **, unsigned *);
void		 auth_sasl_abort(void);
const char	*auth_login(void);
int		 auth_b64_decode(const char *, char *, size_t, size_t *);
int		 auth_b64_encode(const char *, size_t, char *, size_t);

int		 auth_check_sender(const char *, const char *, char *, size_t);
int		 auth_tls_load(const struct conf *);	/* for auth_init */
void		 auth_sasl_conf(const struct conf *);	/* for auth_init */
int		 auth_check_recipient(const char *, const char *, char *, size_t);
void		*auth_dl(const char *, const char *, const struct auth_sym *,
		    size_t, void *);

#endif
