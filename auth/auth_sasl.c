/*
 * auth_sasl.c: AUTH with Cyrus libsasl2, application name "smtpproxy".
 * libsasl2 is initialised at the first AUTH command of a session, never
 * before; it reads its own smtpproxy.conf (sasldb, saslauthd, auxprop) from
 * sasl_config_path.  Unknown user and wrong password both come back as
 * AUTH_FAIL; libsasl2's own messages go to the log, never a payload.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>
#include <bsd/string.h>

#include "auth.h"
#include "log.h"

static const struct conf	*sasl_conf;
static int			 sasl_ready;	/* sasl_server_init done */
static sasl_conn_t		*sasl_conn;
static char			 sasl_user[256];

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
sasl_open(void)
{
	sasl_security_properties_t	 sp = { 0 };
	sasl_ssf_t			 ssf = (sasl_ssf_t)auth_tls_ssf();
	int				 rc;

	if (!sasl_ready) {
		if (sasl_conf->sasl_config_path[0] == '\0')
			sasl_cbs[1].id = SASL_CB_LIST_END;
		if ((rc = sasl_server_init(sasl_cbs, "smtpproxy")) != SASL_OK) {
			log_warnx("event=sasl-error reason=\"init: %s\"",
			    sasl_errstring(rc, NULL, NULL));
			return -1;
		}
		sasl_ready = 1;
		log_debug("sasl: initialised");
	}
	if (sasl_conn != NULL)
		return 0;
	if ((rc = sasl_server_new("smtp", sasl_conf->hostname, NULL, NULL,
	    NULL, NULL, 0, &sasl_conn)) != SASL_OK) {
		log_warnx("event=sasl-error reason=\"new: %s\"",
		    sasl_errstring(rc, NULL, NULL));
		return -1;
	}
	sp.max_ssf = 0;		/* no SASL security layer over SMTP */
	sp.security_flags = SASL_SEC_NOANONYMOUS;
	if (ssf == 0 && sasl_conf->auth_requires_tls)
		sp.security_flags |= SASL_SEC_NOPLAINTEXT;
	sasl_setprop(sasl_conn, SASL_SEC_PROPS, &sp);
	sasl_setprop(sasl_conn, SASL_SSF_EXTERNAL, &ssf);
	return 0;
}

/* PLAIN and LOGIN send the password itself. */
int
auth_mech_plaintext(const char *mech)
{
	return strcasecmp(mech, "PLAIN") == 0 || strcasecmp(mech, "LOGIN") == 0;
}

static int
sasl_result(int rc, const char **out, unsigned *outlen)
{
	const void *user;

	switch (rc) {
	case SASL_OK:
		if (sasl_getprop(sasl_conn, SASL_USERNAME, &user) != SASL_OK ||
		    user == NULL)
			return AUTH_TEMP;
		strlcpy(sasl_user, user, sizeof(sasl_user));
		return AUTH_DONE;
	case SASL_CONTINUE:
		if (*out == NULL)
			*outlen = 0;
		return AUTH_MORE;
	case SASL_NOMECH:
	case SASL_TOOWEAK:
	case SASL_ENCRYPT:
		return AUTH_NOMECH;
	case SASL_TRYAGAIN:
	case SASL_UNAVAIL:
	case SASL_NOMEM:
		log_warnx("event=sasl-error reason=\"%s\"",
		    sasl_errstring(rc, NULL, NULL));
		return AUTH_TEMP;
	default:
		return AUTH_FAIL;
	}
}

int
auth_sasl_start(const char *mech, const char *in, size_t inlen,
    const char **out, unsigned *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (sasl_open() == -1)
		return AUTH_TEMP;
	return sasl_result(sasl_server_start(sasl_conn, mech, in,
	    (unsigned)inlen, out, outlen), out, outlen);
}

int
auth_sasl_step(const char *in, size_t inlen, const char **out,
    unsigned *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (sasl_conn == NULL)
		return AUTH_TEMP;
	return sasl_result(sasl_server_step(sasl_conn, in, (unsigned)inlen,
	    out, outlen), out, outlen);
}

/* A fresh exchange next time (after a failure, a cancel or STARTTLS). */
void
auth_sasl_abort(void)
{
	if (sasl_conn != NULL)
		sasl_dispose(&sasl_conn);
	sasl_conn = NULL;
}

const char *
auth_login(void)
{
	return sasl_user;
}

int
auth_b64_decode(const char *in, char *out, size_t size, size_t *len)
{
	unsigned n = 0;

	if (sasl_decode64(in, (unsigned)strlen(in), out, (unsigned)size,
	    &n) != SASL_OK)
		return -1;
	*len = n;
	return 0;
}

int
auth_b64_encode(const char *in, size_t len, char *out, size_t size)
{
	unsigned n = 0;

	return sasl_encode64(in, (unsigned)len, out, (unsigned)size, &n) ==
	    SASL_OK && n < size ? 0 : -1;
}
