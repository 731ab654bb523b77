/*
 * auth: AUTH (Cyrus libsasl2) and the sender and recipient policy of
 * authenticated users (kolab_smtpdpolicy's job).  TLS is tls/'s.
 *
 * auth_init(conf) runs before privileges are dropped: it opens the policy
 * tables.  It does not initialise libsasl2: a plain session pays nothing.
 * auth_changed() says whether one of those tables was replaced since (server
 * mode's parent then calls auth_init again).
 * A session owns one struct auth_sasl (auth_sasl_new(), NULL when out of
 * memory; auth_sasl_free() at its end): nothing of a login outlives it.
 * auth_sasl_start(a, io, mech, in, inlen, out, outlen) and
 * auth_sasl_step(a, in, inlen, out, outlen) run one SASL exchange (libsasl2 is loaded and
 * initialised on the first call; io is the client's, whose TLS gives the
 * external security strength); they answer AUTH_DONE (auth_login(a) holds
 * the user), AUTH_MORE (out holds the next challenge), AUTH_FAIL (bad
 * credentials: unknown user and wrong password alike), AUTH_NOMECH or
 * AUTH_TEMP.  auth_sasl_abort(a) forgets an exchange and its login.
 * auth_b64_decode/encode: base64 for the AUTH dialogue; -1 on bad input.
 * auth_check_sender(login, addr, reply, size) and auth_check_recipient()
 * apply sender_logins and restricted_recipients: 0 = go on, -1 = refused
 * (reply holds the whole line: 553/550 5.7.1, or 451 4.3.0 on a table
 * error).  login is "" for an unauthenticated client.
 */
#ifndef SMTPPROXY_AUTH_H
#define SMTPPROXY_AUTH_H

#include <stddef.h>

#include "conf/conf.h"
#include "iobuf.h"

enum auth_result { AUTH_DONE, AUTH_MORE, AUTH_FAIL, AUTH_NOMECH, AUTH_TEMP };

void		 auth_init(const struct conf *);
int		 auth_changed(void);

int		 auth_mech_plaintext(const char *);
struct auth_sasl;
int		 auth_sasl_start(struct auth_sasl *a, const struct iobuf *io,
		    const char *mech, const char *in, size_t inlen,
		    const char **out, unsigned *outlen);
int		 auth_sasl_step(struct auth_sasl *a, const char *in, size_t inlen,
		    const char **out, unsigned *outlen);
void		 auth_sasl_abort(struct auth_sasl *a);
const char	*auth_login(const struct auth_sasl *a);
struct auth_sasl *auth_sasl_new(void);
void		 auth_sasl_free(struct auth_sasl *a);
int		 auth_b64_decode(const char *, char *, size_t, size_t *);
int		 auth_b64_encode(const char *, size_t, char *, size_t);

int		 auth_check_sender(const char *, const char *, char *, size_t);
void		 auth_sasl_conf(const struct conf *);	/* for auth_init */
int		 auth_check_recipient(const char *, const char *, char *, size_t);

#endif
