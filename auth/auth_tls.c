/*
 * auth_tls.c: STARTTLS with OpenSSL 3, behind iobuf's transport hooks.
 * The certificate and key are read as bytes before privileges drop; the
 * context is made from them at the first handshake, so a plain session
 * never initialises OpenSSL.  OpenSSL's error queue is drained into the
 * log at each failure.
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

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "auth.h"
#include "log.h"

#define AUTH_PEM_MAX	(256 * 1024)

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

struct tls_fns {
	TLS_FNS(AUTH_FN_PTR)
};

#define TLS_SYM(f)	AUTH_SYM(tls_fns, f)
static const struct auth_sym tls_syms[] = { TLS_FNS(TLS_SYM) };

static struct tls_fns		 ssl;
static void			*tls_lib;

static const struct conf	*tls_conf;
static char			*tls_cert, *tls_key;	/* PEM bytes */
static size_t			 tls_cert_len, tls_key_len;
static SSL_CTX			*tls_ctx;
static SSL			*tls_ssl;
static char			 tls_summary[128];
static int			 tls_loaded;	/* cert and key read */

/* A whole small file into memory; NULL (logged) on failure. */
static char *
tls_slurp(const char *path, size_t *len)
{
	struct stat	 st;
	char		*buf = NULL;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    st.st_size > AUTH_PEM_MAX ||
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

int
auth_tls_load(const struct conf *c)
{
	tls_conf = c;
	if (c->tls_cert_file[0] == '\0' || c->tls_key_file[0] == '\0')
		return 0;
	tls_cert = tls_slurp(c->tls_cert_file, &tls_cert_len);
	tls_key = tls_slurp(c->tls_key_file, &tls_key_len);
	tls_loaded = tls_cert != NULL && tls_key != NULL;
	return tls_loaded ? 0 : -1;
}

int
auth_tls_offered(void)
{
	return tls_loaded && tls_ssl == NULL;
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

/* Certificate chain and key from the PEM bytes. */
static int
tls_ctx_keys(SSL_CTX *ctx)
{
	BIO		*bio = ssl.BIO_new_mem_buf(tls_cert, (int)tls_cert_len);
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
		if (ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_EXTRA_CHAIN_CERT, 0, x) != 1) {
			ssl.X509_free(x);
			ssl.BIO_free(bio);
			return -1;
		}
	ssl.ERR_clear_error();	/* the end of the chain is "no start line" */
	ssl.BIO_free(bio);
	bio = ssl.BIO_new_mem_buf(tls_key, (int)tls_key_len);
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
	if (tls_lib == NULL)
		tls_lib = auth_dl("tls", TLS_LIBSSL, tls_syms,
		    sizeof(tls_syms) / sizeof(tls_syms[0]), &ssl);
	return tls_lib != NULL ? 0 : -1;
}

static int tls_ctx_make(void);

/* STARTTLS: can the handshake start?  The context, built now if need be,
 * so that a missing libssl or a bad key is a 454 reply, not a dead
 * session after "220 Ready". */
int
auth_tls_ready(void)
{
	return auth_tls_offered() && tls_ctx_make() == 0;
}

/* -n: build the context now, so a bad key or cipher list shows here. */
int
auth_tls_check(FILE *out)
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
	    tls_ctx_keys(tls_ctx) == -1) {
		tls_log_errors("context");
		ssl.SSL_CTX_free(tls_ctx);
		tls_ctx = NULL;
		return -1;
	}
	/* the key lives in the context now: wipe its PEM copy */
	explicit_bzero(tls_key, tls_key_len);
	free(tls_key);
	tls_key = NULL;
	ssl.SSL_CTX_set_options(tls_ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	ssl.SSL_CTX_ctrl(tls_ctx, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF,
	    NULL);
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
	return tls_result(ctx, ssl.SSL_read(ctx, buf, (int)len), "read");
}

static ssize_t
tls_write(void *ctx, const void *buf, size_t len)
{
	return tls_result(ctx, ssl.SSL_write(ctx, buf, (int)len), "write");
}

static size_t
tls_pending(void *ctx)
{
	return (size_t)ssl.SSL_pending(ctx);
}

static const struct iobuf_ops tls_ops = { tls_read, tls_write, tls_pending };

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

int
auth_tls_start(struct iobuf *io)
{
	if (!auth_tls_offered() || tls_ctx_make() == -1 ||
	    (tls_ssl = ssl.SSL_new(tls_ctx)) == NULL) {
		tls_log_errors("start");
		return -1;
	}
	fcntl(io->rfd, F_SETFL, fcntl(io->rfd, F_GETFL) | O_NONBLOCK);
	fcntl(io->wfd, F_SETFL, fcntl(io->wfd, F_GETFL) | O_NONBLOCK);
	if (ssl.SSL_set_rfd(tls_ssl, io->rfd) != 1 ||
	    ssl.SSL_set_wfd(tls_ssl, io->wfd) != 1 ||
	    tls_handshake(io, tls_ssl, 1) == -1) {
		log_warnx("event=tls-error step=handshake reason=\"%s\"",
		    io->err != IOBUF_OK ? iobuf_strerror(io) : "failed");
		return -1;
	}
	snprintf(tls_summary, sizeof(tls_summary), "%s:%s",
	    ssl.SSL_get_version(tls_ssl), ssl.SSL_CIPHER_get_name(ssl.SSL_get_current_cipher(tls_ssl)));
	io->ops = &tls_ops;
	io->ctx = tls_ssl;
	log_info("event=tls protocol=%s cipher=%s", ssl.SSL_get_version(tls_ssl),
	    ssl.SSL_CIPHER_get_name(ssl.SSL_get_current_cipher(tls_ssl)));
	return 0;
}

void
auth_tls_close(void)
{
	if (tls_ssl == NULL)
		return;
	(void)ssl.SSL_shutdown(tls_ssl);
	ssl.ERR_clear_error();
}

/* The client side, towards the backend: encryption without verification
 * (Postfix's "may" and "encrypt" levels). */
int
auth_tls_client(struct iobuf *io, char *summary, size_t size)
{
	static SSL_CTX	*cctx;
	SSL		*con = NULL;

	if (tls_dl() == -1)
		return -1;
	if (cctx == NULL && ((cctx = ssl.SSL_CTX_new(ssl.TLS_client_method())) ==
	    NULL || ssl.SSL_CTX_ctrl(cctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
	    TLS1_2_VERSION, NULL) != 1)) {
		tls_log_errors("backend context");
		return -1;
	}
	if ((con = ssl.SSL_new(cctx)) == NULL ||
	    ssl.SSL_set_rfd(con, io->rfd) != 1 ||
	    ssl.SSL_set_wfd(con, io->wfd) != 1 ||
	    tls_handshake(io, con, 0) == -1) {
		tls_log_errors("backend handshake");
		if (con != NULL)
			ssl.SSL_free(con);
		return -1;
	}
	snprintf(summary, size, "%s:%s", ssl.SSL_get_version(con),
	    ssl.SSL_CIPHER_get_name(ssl.SSL_get_current_cipher(con)));
	io->ops = &tls_ops;
	io->ctx = con;
	return 0;
}

/* The end of a backend TLS connection: close_notify, then free it. */
void
auth_tls_client_close(struct iobuf *io)
{
	if (io->ops != &tls_ops || io->ctx == NULL)
		return;
	(void)ssl.SSL_shutdown(io->ctx);
	ssl.SSL_free(io->ctx);
	ssl.ERR_clear_error();
	io->ops = NULL;
	io->ctx = NULL;
}

const char *
auth_tls_summary(void)
{
	return tls_ssl != NULL && tls_summary[0] ? tls_summary : NULL;
}

int
auth_tls_ssf(void)
{
	return tls_ssl != NULL ? ssl.SSL_CIPHER_get_bits(ssl.SSL_get_current_cipher(tls_ssl), NULL) : 0;
}
