/*
 * tls: TLS on an iobuf, both sides, with OpenSSL 3: the server side for
 * the client (STARTTLS, implicit TLS), the client side towards the
 * backend (backend_tls).  libssl is dlopen()ed at the first handshake
 * (dl.h), never before: a plain session pays nothing.
 *
 * Process-wide state, derived from the configuration, stays here: the
 * libssl function table, the certificate and key bytes, the server and
 * client contexts (each built once, at first use).  What belongs to one
 * connection (the SSL object, its "TLSv1.3:CIPHER" summary, whether
 * close_notify was sent) hangs off that connection's iobuf: tls_accept()
 * and tls_connect() switch the iobuf to TLS (its ops and ctx), tls_close()
 * switches it back and frees it all.
 */
#ifndef SMTPPROXY_TLS_H
#define SMTPPROXY_TLS_H

#include <stddef.h>
#include <stdio.h>

#include "conf/conf.h"
#include "iobuf.h"

/* tls_init - before privileges drop: read tls_cert_file and tls_key_file
 * and the ticket keys into memory (OpenSSL is not touched); 0, or -1
 * (logged) when the certificate or key is configured but cannot be read
 * (an unusable ticket key file is logged; sessions then go without). */
int		 tls_init(const struct conf *c);

/* tls_ticket_check - the tls_ticket_key_file, if configured: a whole
 * number of nginx's 80-byte keys (name 16, HMAC 32, AES 32; the first
 * encrypts, all decrypt)?  0, or -1 (a line on out when out is set). */
int		 tls_ticket_check(const struct conf *c, FILE *out);

/* tls_preload - server mode's parent: build the server context now (when
 * TLS is configured), so every child shares it; 0, or -1 (logged). */
int		 tls_preload(void);

/* tls_set_shared - server mode: the context built in the parent serves
 * every child, and so does OpenSSL's own ticket key. */
void		 tls_set_shared(int shared);

/* tls_check - for -n: build the server context now, so that a bad key or
 * cipher list shows; 0, or -1 (a line on out, details in the log). */
int		 tls_check(FILE *out);

/* tls_offered - can STARTTLS be offered on io: certificate and key read,
 * io not in TLS yet. */
int		 tls_offered(const struct iobuf *io);

/* tls_ready - can a handshake start on io now: tls_offered() and the server
 * context built (now, on first use); 0 when libssl or the key is unusable
 * (logged), so that STARTTLS answers 454 and the session goes on. */
int		 tls_ready(const struct iobuf *io);

/* tls_accept - the server handshake on io's descriptors, bounded by io's
 * timeout and deadlines; on success io speaks TLS (logged as event=tls).
 * 0, or -1 (logged; io stays plain). */
int		 tls_accept(struct iobuf *io);

/* tls_connect - the client handshake on io (the backend connection; the
 * peer's certificate is not verified); on success io speaks TLS and
 * summary holds "TLSv1.3:CIPHER".  0, or -1 (logged; io stays plain). */
int		 tls_connect(struct iobuf *io, char *summary, size_t size);

/* tls_summary - "TLSv1.3:CIPHER" of io, or NULL when io is not in TLS. */
const char	*tls_summary(const struct iobuf *io);

/* tls_ssf - the security strength of io (the cipher's bits), 0 in plain
 * text: SASL's external SSF. */
int		 tls_ssf(const struct iobuf *io);

/* tls_shutdown - send io's close_notify, once, without waiting for the
 * peer's; io keeps its summary until tls_close(). */
void		 tls_shutdown(struct iobuf *io);

/* tls_close - close_notify if not sent yet, then free io's TLS state: io is
 * plain again.  Nothing happens to a plain io. */
void		 tls_close(struct iobuf *io);

#endif
