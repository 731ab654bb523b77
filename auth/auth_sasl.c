/*
 * auth_sasl.c: AUTH with Cyrus libsasl2, application name "smtpproxy".
 * libsasl2 is initialised at the first AUTH command of a session, never
 * before; it reads its own smtpproxy.conf (sasldb, saslauthd, auxprop) from
 * sasl_config_path.  Unknown user and wrong password both come back as
 * AUTH_FAIL; libsasl2's own messages go to the log, never a payload.
 * The library itself is loaded then too (dl_load()): linked, it would be
 * mapped and relocated by every session, AUTH or not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <bsd/string.h>

#include "auth.h"
#include "dl.h"
#include "log.h"
#include "tls/tls.h"

#define SASL_LIB	"libsasl2.so.2"

#define SASL_FNS(X) \
	X(sasl_server_init) \
	X(sasl_server_new) \
	X(sasl_server_start) \
	X(sasl_server_step) \
	X(sasl_setprop) \
	X(sasl_getprop) \
	X(sasl_dispose) \
	X(sasl_errstring) \

struct sasl_fns {
	SASL_FNS(DL_FN_PTR)
};

#define SASL_SYM(f)	DL_SYM(sasl_fns, f)
static const struct dl_sym sasl_syms[] = { SASL_FNS(SASL_SYM) };

static struct sasl_fns		 lib;
static void			*sasl_lib;
static const struct conf	*sasl_conf;
static int			 sasl_ready;	/* sasl_server_init done */

/* One session's exchange: what the session owns (auth_sasl_new). */
struct auth_sasl {
	sasl_conn_t	*conn;
	char		 user[256];
};

void
auth_sasl_conf(const struct conf *c)
{
	sasl_conf = c;
}

static int
sasl_cb_path(void *ctx, char **path)
{
	(void)ctx;
	*path = sasl_conf->sasl_config_path;
	return SASL_OK;
}

/* libsasl2's messages: warnings and worse, never the exchange itself. */
static int
sasl_cb_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= SASL_LOG_WARN)
		log_warnx("event=sasl-log reason=\"%s\"", msg);
	else if (level < SASL_LOG_PASS)	/* PASS: plugins log secrets */
		log_debug("sasl: %s", msg);
	return SASL_OK;
}

static sasl_callback_t sasl_cbs[] = {
	/* libsasl2 takes every callback as int (*)(void) */
	{ SASL_CB_LOG, (int (*)(void))(void (*)(void))sasl_cb_log, NULL },
	{ SASL_CB_GETCONFPATH, (int (*)(void))(void (*)(void))sasl_cb_path,
	    NULL },
	{ SASL_CB_LIST_END, NULL, NULL }
};

static int
sasl_open(struct auth_sasl *a, const struct iobuf *io)
{
	sasl_security_properties_t	 sp = { 0 };
	sasl_ssf_t			 ssf = (sasl_ssf_t)tls_ssf(io);
	int				 rc;

	if (sasl_lib == NULL && (sasl_lib = dl_load("sasl", SASL_LIB,
	    sasl_syms, sizeof(sasl_syms) / sizeof(sasl_syms[0]), &lib)) == NULL)
		return -1;
	if (!sasl_ready) {
		if (sasl_conf->sasl_config_path[0] == '\0')
			sasl_cbs[1].id = SASL_CB_LIST_END;
		rc = lib.sasl_server_init(sasl_cbs, "smtpproxy");
		if (rc != SASL_OK) {
			log_warnx("event=sasl-error reason=\"init: %s\"",
			    lib.sasl_errstring(rc, NULL, NULL));
			return -1;
		}
		sasl_ready = 1;
		log_debug("sasl: initialised");
	}
	if (a->conn != NULL)
		return 0;
	if ((rc = lib.sasl_server_new("smtp", sasl_conf->hostname, NULL, NULL,
	    NULL, NULL, 0, &a->conn)) != SASL_OK) {
		log_warnx("event=sasl-error reason=\"new: %s\"",
		    lib.sasl_errstring(rc, NULL, NULL));
		return -1;
	}
	sp.max_ssf = 0;		/* no SASL security layer over SMTP */
	sp.security_flags = SASL_SEC_NOANONYMOUS;
	if (ssf == 0 && sasl_conf->auth_requires_tls)
		sp.security_flags |= SASL_SEC_NOPLAINTEXT;
	lib.sasl_setprop(a->conn, SASL_SEC_PROPS, &sp);
	lib.sasl_setprop(a->conn, SASL_SSF_EXTERNAL, &ssf);
	return 0;
}

/* PLAIN and LOGIN send the password itself. */
int
auth_mech_plaintext(const char *mech)
{
	return strcasecmp(mech, "PLAIN") == 0 || strcasecmp(mech, "LOGIN") == 0;
}

static int
sasl_result(struct auth_sasl *a, int rc, const char **out, unsigned *outlen)
{
	const void *user;

	switch (rc) {
	case SASL_OK:
		if (lib.sasl_getprop(a->conn, SASL_USERNAME, &user) !=
		    SASL_OK || user == NULL)
			return AUTH_TEMP;
		strlcpy(a->user, user, sizeof(a->user));
		return AUTH_DONE;
	case SASL_CONTINUE:
		if (*out == NULL)
			*outlen = 0;
		return AUTH_MORE;
	case SASL_NOMECH:
	case SASL_TOOWEAK:
	case SASL_ENCRYPT:
		return AUTH_NOMECH;
	case SASL_FAIL:		/* e.g. saslauthd unreachable: not the user's */
	case SASL_TRYAGAIN:
	case SASL_UNAVAIL:
	case SASL_NOMEM:
		log_warnx("event=sasl-error reason=\"%s\"",
		    lib.sasl_errstring(rc, NULL, NULL));
		return AUTH_TEMP;
	default:
		return AUTH_FAIL;
	}
}

/* auth_sasl_new - a session's exchange state; NULL when out of memory */
struct auth_sasl *
auth_sasl_new(void)
{
	return calloc(1, sizeof(struct auth_sasl));
}

/* auth_sasl_free - the end of a session: its exchange and login gone */
void
auth_sasl_free(struct auth_sasl *a)
{
	if (a == NULL)
		return;
	auth_sasl_abort(a);
	free(a);
}

int
auth_sasl_start(struct auth_sasl *a, const struct iobuf *io,
    const char *mech, const char *in, size_t inlen, const char **out,
    unsigned *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (sasl_open(a, io) == -1)
		return AUTH_TEMP;
	return sasl_result(a, lib.sasl_server_start(a->conn, mech, in,
	    (unsigned)inlen, out, outlen), out, outlen);
}

int
auth_sasl_step(struct auth_sasl *a, const char *in, size_t inlen,
    const char **out, unsigned *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (a->conn == NULL)
		return AUTH_TEMP;
	return sasl_result(a, lib.sasl_server_step(a->conn, in,
	    (unsigned)inlen, out, outlen), out, outlen);
}

/* A fresh exchange next time (after a failure, a cancel or STARTTLS). */
void
auth_sasl_abort(struct auth_sasl *a)
{
	if (a->conn != NULL)
		lib.sasl_dispose(&a->conn);
	a->conn = NULL;
	a->user[0] = '\0';
}

const char *
auth_login(const struct auth_sasl *a)
{
	return a->user;
}
