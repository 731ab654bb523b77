/*
 * tls.c: TLS with OpenSSL 3 on an iobuf, behind its transport hooks
 * (tls.h).  The certificate and key are read as bytes before privileges
 * drop; the server context is made from them at the first handshake, so a
 * plain session never initialises OpenSSL.  OpenSSL's error queue is
 * drained into the log at each failure.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "dl.h"
#include "log.h"
#include "tls/tls.h"

#define TLS_PEM_MAX	(256 * 1024)
#define TLS_TICKET_LEN	80	/* nginx's key: name 16, HMAC 32, AES 32 */
#define TLS_TICKETS_MAX	16	/* keys in tls_ticket_key_file */

/* OpenSSL is loaded with dlopen(3) at the first handshake: linked, its
 * 5 MB would be mapped and relocated by every plain session too. */
#define TLS_LIBSSL	"libssl.so.3"

#define TLS_FNS(X) \
	X(SSL_CTX_new) \
	X(TLS_server_method) \
	X(TLS_client_method) \
	X(SSL_connect) \
	X(SSL_CTX_ctrl) \
	X(SSL_CTX_set_cipher_list) \
	X(SSL_CTX_use_certificate) \
	X(SSL_CTX_use_PrivateKey) \
	X(SSL_CTX_check_private_key) \
	X(SSL_CTX_set_options) \
	X(SSL_CTX_free) \
	X(SSL_new) \
	X(SSL_free) \
	X(SSL_set_rfd) \
	X(SSL_set_wfd) \
	X(SSL_accept) \
	X(SSL_read) \
	X(SSL_write) \
	X(SSL_pending) \
	X(SSL_get_error) \
	X(SSL_get_version) \
	X(SSL_get_current_cipher) \
	X(SSL_CIPHER_get_name) \
	X(SSL_CIPHER_get_bits) \
	X(SSL_shutdown) \
	X(BIO_new_mem_buf) \
	X(BIO_free) \
	X(PEM_read_bio_X509) \
	X(PEM_read_bio_PrivateKey) \
	X(X509_free) \
	X(EVP_PKEY_free) \
	X(ERR_get_error) \
	X(ERR_error_string_n) \
	X(ERR_clear_error) \
	X(OPENSSL_init_ssl) \
	X(SSL_CTX_set_num_tickets) \
	X(SSL_CTX_set_tlsext_ticket_key_evp_cb) \
	X(SSL_session_reused) \
	X(EVP_aes_256_cbc) \
	X(EVP_CIPHER_get_iv_length) \
	X(EVP_EncryptInit_ex) \
	X(EVP_DecryptInit_ex) \
	X(EVP_MAC_CTX_set_params) \
	X(OSSL_PARAM_construct_octet_string) \
	X(OSSL_PARAM_construct_utf8_string) \
	X(OSSL_PARAM_construct_end) \
	X(RAND_bytes) \

struct tls_fns {
	TLS_FNS(DL_FN_PTR)
};

#define TLS_SYM(f)	DL_SYM(tls_fns, f)
static const struct dl_sym tls_syms[] = { TLS_FNS(TLS_SYM) };

/* Process-wide, from the configuration: built once, shared by every
 * connection of the process. */
static struct tls_fns		 ssl;
static void			*tls_lib;

static const struct conf	*tls_conf;
/* A certificate chain and its key as PEM bytes: tls_cert_file and
 * tls_key_file, then the optional ECDSA pair (both served; the client's
 * signature algorithms pick). */
struct tls_pem {
	char	*cert, *key;
	size_t	 cert_len, key_len;
};
static struct tls_pem		 tls_pems[2];
static SSL_CTX			*tls_ctx;	/* server side */
static SSL_CTX			*tls_cctx;	/* client side (backend) */
static int			 tls_loaded;	/* cert and key read */
static int			 tls_shared;	/* server mode: the parent's
						   context serves every child */

/* Session ticket keys (tls_ticket_key_file): the first encrypts, every
 * one decrypts, so a new key can be put first and the old ones kept. */
struct tls_ticket {
	unsigned char	 name[16];
	unsigned char	 hmac[32];
	unsigned char	 aes[32];
};
static struct tls_ticket	 tls_tickets[TLS_TICKETS_MAX];
static int			 tls_ntickets;

/* One connection in TLS: what its iobuf's ctx points to. */
struct tls_conn {
	SSL	*con;
	int	 notified;	/* close_notify sent */
	char	 summary[128];	/* "TLSv1.3:CIPHER" */
};

static const struct iobuf_ops tls_ops;

/* tls_conn_of - io's TLS state, or NULL when io is plain. */
static struct tls_conn *
tls_conn_of(const struct iobuf *io)
{
	return io->ops == &tls_ops ? io->ctx : NULL;
}

/* A whole small file into memory; NULL (logged) on failure. */
static char *
tls_slurp(const char *path, size_t *len)
{
	struct stat	 st;
	char		*buf = NULL;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    st.st_size > TLS_PEM_MAX ||
	    (buf = malloc((size_t)st.st_size)) == NULL ||
	    read(fd, buf, (size_t)st.st_size) != st.st_size) {
		log_warn("event=tls-error file=%s reason=\"cannot read\"", path);
		free(buf);
		buf = NULL;
	} else
		*len = (size_t)st.st_size;
	if (fd != -1)
		close(fd);
	return buf;
}

/* The ticket keys of path: a whole number of 80-byte keys, at most
 * TLS_TICKETS_MAX; the count, or -1 with why. */
static int
tls_read_tickets(const char *path, const char **why)
{
	size_t	 len = 0;
	char	*buf = tls_slurp(path, &len);
	int	 n;

	*why = "cannot be read";
	if (buf == NULL)
		return -1;
	*why = "not a whole number of 80-byte keys (at most 16)";
	n = (int)(len / TLS_TICKET_LEN);
	if (len % TLS_TICKET_LEN != 0 || n > TLS_TICKETS_MAX)
		n = -1;
	for (int i = 0; i < n; i++)
		memcpy(&tls_tickets[i], buf + i * TLS_TICKET_LEN,
		    TLS_TICKET_LEN);
	explicit_bzero(buf, len);
	free(buf);
	return n;
}

/* tls_ticket_check - -n and start: the ticket key file, if any, usable? */
int
tls_ticket_check(const struct conf *c, FILE *out)
{
	const char	*why;
	int		 n;

	if (c->tls_ticket_key_file[0] == '\0')
		return 0;
	if ((n = tls_read_tickets(c->tls_ticket_key_file, &why)) <= 0) {
		if (out != NULL)
			fprintf(out, "tls_ticket_key_file: %s: %s\n",
			    c->tls_ticket_key_file, n == 0 ? "empty" : why);
		return -1;
	}
	if (out != NULL)
		fprintf(out, "tls_ticket_key_file: %s: %d key%s\n",
		    c->tls_ticket_key_file, n, n == 1 ? "" : "s");
	return 0;
}

/* tls_set_shared - server mode: one context, built in the parent, serves
 * every child, and so does OpenSSL's own ticket key. */
void
tls_set_shared(int shared)
{
	tls_shared = shared;
}

static void
tls_pem_free(struct tls_pem *p)
{
	if (p->key != NULL)
		explicit_bzero(p->key, p->key_len);
	free(p->key);
	free(p->cert);
	memset(p, 0, sizeof(*p));
}

/* A pair's files into memory; 0, or -1 (logged). */
static int
tls_pem_read(struct tls_pem *p, const char *cert, const char *key)
{
	p->cert = tls_slurp(cert, &p->cert_len);
	p->key = tls_slurp(key, &p->key_len);
	return p->cert != NULL && p->key != NULL ? 0 : -1;
}

/* What an earlier configuration left (SIGHUP in server mode): the
 * context is made again from the new files at its first use. */
static void
tls_forget(void)
{
	for (size_t i = 0; i < sizeof(tls_pems) / sizeof(tls_pems[0]); i++)
		tls_pem_free(&tls_pems[i]);
	if (tls_ctx != NULL)
		ssl.SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
	tls_loaded = 0;
}

/* tls_init - the certificate and key as bytes, before privileges drop. */
int
tls_init(const struct conf *c)
{
	const char *why;

	tls_conf = c;
	tls_ntickets = 0;
	if (c->tls_ticket_key_file[0] != '\0' &&
	    (tls_ntickets = tls_read_tickets(c->tls_ticket_key_file, &why)) <=
	    0) {
		/* -n and server mode refuse it (tls_ticket_check); a
		 * session goes on without tickets */
		log_warnx("event=tls-error file=%s reason=\"%s\"",
		    c->tls_ticket_key_file, tls_ntickets == 0 ? "empty" : why);
		tls_ntickets = 0;
	}
	tls_forget();
	if (c->tls_cert_file[0] == '\0' || c->tls_key_file[0] == '\0')
		return 0;
	tls_loaded = tls_pem_read(&tls_pems[0], c->tls_cert_file,
	    c->tls_key_file) == 0 && (c->tls_eccert_file[0] == '\0' ||
	    tls_pem_read(&tls_pems[1], c->tls_eccert_file,
	    c->tls_eckey_file) == 0);
	return tls_loaded ? 0 : -1;
}

static int tls_ctx_make(void);

/* tls_preload - server mode's parent: the context built before any child
 * is made, when TLS is configured; 0, or -1 (logged). */
int
tls_preload(void)
{
	return tls_loaded ? tls_ctx_make() : 0;
}

/* tls_offered - STARTTLS can be offered: keys read, io still plain. */
int
tls_offered(const struct iobuf *io)
{
	return tls_loaded && tls_conn_of(io) == NULL;
}

static void
tls_log_errors(const char *what)
{
	unsigned long	 e;
	char		 buf[256];
	int		 n = 0;

	if (tls_lib == NULL)
		return;
	while ((e = ssl.ERR_get_error()) != 0 && n++ < 8) {
		ssl.ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("event=tls-error step=%s reason=\"%s\"", what, buf);
	}
	ssl.ERR_clear_error();
}

/* A certificate chain and its key from the PEM bytes of p; the chain
 * belongs to that certificate, so an RSA and an ECDSA one each have
 * theirs. */
static int
tls_ctx_keys(SSL_CTX *ctx, const struct tls_pem *p)
{
	BIO		*bio = ssl.BIO_new_mem_buf(p->cert, (int)p->cert_len);
	X509		*x;
	EVP_PKEY	*key;
	int		 ok;

	if (bio == NULL || (x = ssl.PEM_read_bio_X509(bio, NULL, NULL, NULL)) ==
	    NULL || ssl.SSL_CTX_use_certificate(ctx, x) != 1) {
		ssl.BIO_free(bio);
		return -1;
	}
	ssl.X509_free(x);
	while ((x = ssl.PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_CHAIN_CERT, 0, x) != 1) {
			ssl.X509_free(x);
			ssl.BIO_free(bio);
			return -1;
		}
	ssl.ERR_clear_error();	/* the end of the chain is "no start line" */
	ssl.BIO_free(bio);
	bio = ssl.BIO_new_mem_buf(p->key, (int)p->key_len);
	key = bio ? ssl.PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	ok = key != NULL && ssl.SSL_CTX_use_PrivateKey(ctx, key) == 1 &&
	    ssl.SSL_CTX_check_private_key(ctx) == 1;
	ssl.EVP_PKEY_free(key);
	ssl.BIO_free(bio);
	return ok ? 0 : -1;
}

/* Find every function we use; -1 (logged) if the library is not there. */
static int
tls_dl(void)
{
	if (tls_lib != NULL)
		return 0;
	if ((tls_lib = dl_load("tls", TLS_LIBSSL, tls_syms,
	    sizeof(tls_syms) / sizeof(tls_syms[0]), &ssl)) == NULL)
		return -1;
	/* first, so that no later call reads openssl.cnf (as Postfix's
	 * tls_config_file = none): nothing set up a session does not need */
	(void)ssl.OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	return 0;
}

/* The HMAC of a ticket: SHA-256 keyed with k's HMAC secret. */
static int
tls_ticket_mac(EVP_MAC_CTX *hctx, struct tls_ticket *k)
{
	OSSL_PARAM p[3];

	p[0] = ssl.OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    k->hmac, sizeof(k->hmac));
	p[1] = ssl.OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[2] = ssl.OSSL_PARAM_construct_end();
	return ssl.EVP_MAC_CTX_set_params(hctx, p) == 1 ? 0 : -1;
}

/* OpenSSL's ticket callback: encrypt with the first key; decrypt with the
 * key the ticket names (1), asking for a new ticket when that key is not
 * the first (2); an unknown name is a full handshake (0). */
static int
tls_ticket_cb(SSL *con, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
	const EVP_CIPHER	*aes = ssl.EVP_aes_256_cbc();
	int			 i = 0;

	(void)con;
	if (enc) {
		if (ssl.RAND_bytes(iv, ssl.EVP_CIPHER_get_iv_length(aes)) != 1 ||
		    ssl.EVP_EncryptInit_ex(ectx, aes, NULL, tls_tickets[0].aes,
		    iv) != 1 || tls_ticket_mac(hctx, &tls_tickets[0]) == -1)
			return -1;
		memcpy(name, tls_tickets[0].name, 16);
		return 1;
	}
	while (i < tls_ntickets && memcmp(name, tls_tickets[i].name, 16) != 0)
		i++;
	if (i == tls_ntickets)
		return 0;
	if (tls_ticket_mac(hctx, &tls_tickets[i]) == -1 ||
	    ssl.EVP_DecryptInit_ex(ectx, aes, NULL, tls_tickets[i].aes, iv) != 1)
		return -1;
	return i == 0 ? 1 : 2;
}

/* Tickets: with a key file, made and read with its keys in every mode;
 * without one, only in server mode (OpenSSL's own key, made in the parent,
 * is every child's); else none (no other process could read them). */
static void
tls_ctx_tickets(SSL_CTX *ctx)
{
	if (tls_ntickets > 0)
		(void)ssl.SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
	else if (!tls_shared) {
		ssl.SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		(void)ssl.SSL_CTX_set_num_tickets(ctx, 0);
	}
}

/* tls_ready - STARTTLS: can the handshake start?  The context, built now
 * if need be, so that a missing libssl or a bad key is a 454 reply, not a
 * dead session after "220 Ready". */
int
tls_ready(const struct iobuf *io)
{
	return tls_offered(io) && tls_ctx_make() == 0;
}

/* tls_check - -n: build the context now, so a bad key or cipher list
 * shows here. */
int
tls_check(FILE *out)
{
	if (!tls_loaded)
		return tls_conf->tls_cert_file[0] || tls_conf->tls_key_file[0] ?
		    -1 : 0;
	if (tls_ctx_make() == -1) {
		fprintf(out, "tls: %s / %s: not usable (see the log)\n",
		    tls_conf->tls_cert_file, tls_conf->tls_key_file);
		return -1;
	}
	fprintf(out, "tls: %s: ok\n", tls_conf->tls_cert_file);
	return 0;
}

/* The server context, built once from the configuration and the PEM
 * bytes (the key's copy is wiped then); -1 (logged). */
static int
tls_ctx_make(void)
{
	int min = tls_conf->tls_protocols == CONF_TLS_V13 ? TLS1_3_VERSION : TLS1_2_VERSION;

	if (tls_ctx != NULL)
		return 0;
	if (tls_dl() == -1)
		return -1;
	log_debug("tls: initialised");
	if ((tls_ctx = ssl.SSL_CTX_new(ssl.TLS_server_method())) == NULL ||
	    ssl.SSL_CTX_ctrl(tls_ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, min, NULL) != 1 ||
	    ssl.SSL_CTX_set_cipher_list(tls_ctx, tls_conf->tls_ciphers) != 1 ||
	    tls_ctx_keys(tls_ctx, &tls_pems[0]) == -1 ||
	    (tls_pems[1].cert != NULL &&
	    tls_ctx_keys(tls_ctx, &tls_pems[1]) == -1)) {
		tls_log_errors("context");
		ssl.SSL_CTX_free(tls_ctx);
		tls_ctx = NULL;
		return -1;
	}
	/* the keys live in the context now: wipe their PEM copies */
	for (size_t i = 0; i < sizeof(tls_pems) / sizeof(tls_pems[0]); i++)
		tls_pem_free(&tls_pems[i]);
	ssl.SSL_CTX_set_options(tls_ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	ssl.SSL_CTX_ctrl(tls_ctx, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF,
	    NULL);
	tls_ctx_tickets(tls_ctx);
	return 0;
}

/* SSL_read/SSL_write results in iobuf's terms. */
static ssize_t
tls_result(SSL *con, int n, const char *what)
{
	int e;

	if (n > 0)
		return n;
	switch ((e = ssl.SSL_get_error(con, n))) {
	case SSL_ERROR_WANT_READ:
		return IOBUF_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return IOBUF_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == EAGAIN || errno == EINTR)
			return IOBUF_WANT_READ;
		ssl.ERR_clear_error();
		return n == 0 && strcmp(what, "read") == 0 ? 0 : -1;
	default:
		tls_log_errors(what);
		return -1;
	}
}

static ssize_t
tls_read(void *ctx, void *buf, size_t len)
{
	SSL *con = ((struct tls_conn *)ctx)->con;

	return tls_result(con, ssl.SSL_read(con, buf, (int)len), "read");
}

static ssize_t
tls_write(void *ctx, const void *buf, size_t len)
{
	SSL *con = ((struct tls_conn *)ctx)->con;

	return tls_result(con, ssl.SSL_write(con, buf, (int)len), "write");
}

static size_t
tls_pending(void *ctx)
{
	return (size_t)ssl.SSL_pending(((struct tls_conn *)ctx)->con);
}

static const struct iobuf_ops tls_ops = { tls_read, tls_write, tls_pending };

/* tls_conn_new - a connection of ctx, not yet on any descriptor; NULL
 * when out of memory (logged) or when SSL_new fails (the error queue
 * is the caller's to log). */
static struct tls_conn *
tls_conn_new(SSL_CTX *ctx)
{
	struct tls_conn *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warn("event=tls-error step=memory");
		return NULL;
	}
	if ((t->con = ssl.SSL_new(ctx)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

/* tls_conn_free - the SSL object and its connection, no word to the peer. */
static void
tls_conn_free(struct tls_conn *t)
{
	ssl.SSL_free(t->con);
	free(t);
}

/* tls_switch - io speaks TLS through t from now on; t->summary is set. */
static void
tls_switch(struct iobuf *io, struct tls_conn *t)
{
	snprintf(t->summary, sizeof(t->summary), "%s:%s",
	    ssl.SSL_get_version(t->con),
	    ssl.SSL_CIPHER_get_name(ssl.SSL_get_current_cipher(t->con)));
	io->ops = &tls_ops;
	io->ctx = t;
}

static int
tls_handshake(struct iobuf *io, SSL *con, int server)
{
	ssize_t r;

	for (;;) {
		r = tls_result(con, server ? ssl.SSL_accept(con) :
		    ssl.SSL_connect(con), "handshake");
		if (r > 0)
			return 0;
		if (r != IOBUF_WANT_READ && r != IOBUF_WANT_WRITE)
			return -1;
		if (iobuf_wait_fd(io, r == IOBUF_WANT_READ ? io->rfd : io->wfd,
		    r == IOBUF_WANT_READ ? POLLIN : POLLOUT) == -1)
			return -1;
	}
}

/* tls_accept - the server side, for STARTTLS and implicit TLS. */
int
tls_accept(struct iobuf *io)
{
	struct tls_conn *t = NULL;

	if (!tls_offered(io) || tls_ctx_make() == -1 ||
	    (t = tls_conn_new(tls_ctx)) == NULL) {
		tls_log_errors("start");
		return -1;
	}
	fcntl(io->rfd, F_SETFL, fcntl(io->rfd, F_GETFL) | O_NONBLOCK);
	fcntl(io->wfd, F_SETFL, fcntl(io->wfd, F_GETFL) | O_NONBLOCK);
	if (ssl.SSL_set_rfd(t->con, io->rfd) != 1 ||
	    ssl.SSL_set_wfd(t->con, io->wfd) != 1 ||
	    tls_handshake(io, t->con, 1) == -1) {
		log_warnx("event=tls-error step=handshake reason=\"%s\"",
		    io->err != IOBUF_OK ? iobuf_strerror(io) : "failed");
		tls_conn_free(t);
		return -1;
	}
	tls_switch(io, t);
	log_info("event=tls protocol=%s cipher=%s%s", ssl.SSL_get_version(t->con),
	    ssl.SSL_CIPHER_get_name(ssl.SSL_get_current_cipher(t->con)),
	    ssl.SSL_session_reused(t->con) ? " resumed=yes" : "");
	return 0;
}

/* tls_shutdown - close_notify, once, without waiting for the peer's. */
void
tls_shutdown(struct iobuf *io)
{
	struct tls_conn *t = tls_conn_of(io);

	if (t == NULL || t->notified)
		return;
	(void)ssl.SSL_shutdown(t->con);
	ssl.ERR_clear_error();
	t->notified = 1;
}

/* The client side, towards the backend: encryption without verification
 * (Postfix's "may" and "encrypt" levels); the context is built once. */
static int
tls_client_ctx(void)
{
	if (tls_dl() == -1)
		return -1;
	if (tls_cctx == NULL && ((tls_cctx = ssl.SSL_CTX_new(
	    ssl.TLS_client_method())) == NULL ||
	    ssl.SSL_CTX_ctrl(tls_cctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
	    TLS1_2_VERSION, NULL) != 1)) {
		tls_log_errors("backend context");
		return -1;
	}
	return 0;
}

/* tls_connect - the client side, towards the backend. */
int
tls_connect(struct iobuf *io, char *summary, size_t size)
{
	struct tls_conn *t = NULL;

	if (tls_client_ctx() == -1)
		return -1;
	if ((t = tls_conn_new(tls_cctx)) == NULL ||
	    ssl.SSL_set_rfd(t->con, io->rfd) != 1 ||
	    ssl.SSL_set_wfd(t->con, io->wfd) != 1 ||
	    tls_handshake(io, t->con, 0) == -1) {
		tls_log_errors("backend handshake");
		if (t != NULL)
			tls_conn_free(t);
		return -1;
	}
	tls_switch(io, t);
	snprintf(summary, size, "%s", t->summary);
	return 0;
}

/* tls_close - the end of io's TLS: close_notify if not sent, then free. */
void
tls_close(struct iobuf *io)
{
	struct tls_conn *t = tls_conn_of(io);

	if (t == NULL)
		return;
	tls_shutdown(io);
	tls_conn_free(t);
	ssl.ERR_clear_error();
	io->ops = NULL;
	io->ctx = NULL;
}

/* tls_summary - "TLSv1.3:CIPHER", or NULL in plain text. */
const char *
tls_summary(const struct iobuf *io)
{
	const struct tls_conn *t = tls_conn_of(io);

	return t != NULL && t->summary[0] ? t->summary : NULL;
}

/* tls_ssf - the cipher's bits, 0 in plain text. */
int
tls_ssf(const struct iobuf *io)
{
	const struct tls_conn *t = tls_conn_of(io);

	return t != NULL ? ssl.SSL_CIPHER_get_bits(
	    ssl.SSL_get_current_cipher(t->con), NULL) : 0;
}
