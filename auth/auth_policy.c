/*
 * auth_policy.c: who may use which sender address, and who may write to
 * restricted recipients (kolab_smtpdpolicy's rules, Postfix's
 * smtpd_sender_login_maps).  Tables are opened in auth_init, before
 * privileges drop; a table error is a 451 4.3.0, never an answer.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "auth.h"
#include "cdb/cdb.h"
#include "log.h"

static const struct conf	*policy_conf;
static struct cdbt		*policy_senders, *policy_rcpts;

void
auth_init(const struct conf *c)
{
	policy_conf = c;
	auth_sasl_conf(c);
	cdbt_close(policy_senders);	/* an earlier configuration's (SIGHUP) */
	cdbt_close(policy_rcpts);
	policy_senders = cdbt_open_conf(c->sender_logins, CDBT_SENDERS);
	policy_rcpts = cdbt_open_conf(c->restricted_recipients,
	    CDBT_RECIPIENTS);
}

/* auth_changed - was sender_logins or restricted_recipients replaced? */
int
auth_changed(void)
{
	return (policy_senders != NULL && cdbt_changed(policy_senders)) ||
	    (policy_rcpts != NULL && cdbt_changed(policy_rcpts));
}

/* Is login one of the comma-separated logins? (case matters: SASL names) */
static int
policy_listed(const char *logins, const char *login)
{
	size_t len = strlen(login);

	for (const char *p = logins; *p != '\0';) {
		size_t n = strcspn(p, ",");

		if (n == len && strncmp(p, login, len) == 0)
			return 1;
		p += n;
		p += *p == ',';
	}
	return 0;
}

static int
policy_error(const struct cdbt *t, char *reply, size_t size)
{
	log_warnx("event=table-error table=%s reason=\"%s\"", cdbt_name(t),
	    cdbt_error(t));
	snprintf(reply, size, "451 4.3.0 Temporary lookup failure");
	return -1;
}

int
auth_check_sender(const char *login, const char *addr, char *reply,
    size_t size)
{
	struct cdbt_match	 m;
	int			 rc;

	if (policy_senders == NULL || addr[0] == '\0')
		return 0;
	if ((rc = cdbt_find(policy_senders, CDBT_ADDRESS, addr, &m)) ==
	    CDBT_ERROR)
		return policy_error(policy_senders, reply, size);
	if (login[0] != '\0') {
		if (rc == CDBT_FOUND && policy_listed(m.value, login)) {
			log_debug("auth: sender %s owned by %s (%s)", addr, login,
			    m.key);
			return 0;
		}
		snprintf(reply, size, "553 5.7.1 <%s>: Sender address not owned "
		    "by user %s", addr, login);
		return -1;
	}
	if (rc == CDBT_FOUND &&
	    policy_conf->sender_login_match == CONF_LOGIN_STRICT) {
		snprintf(reply, size, "553 5.7.1 <%s>: Sender address belongs to "
		    "a user: authenticate first", addr);
		return -1;
	}
	return 0;
}

int
auth_check_recipient(const char *login, const char *addr, char *reply,
    size_t size)
{
	struct cdbt_match	 m;
	int			 rc;

	if (policy_rcpts == NULL)
		return 0;
	if ((rc = cdbt_find(policy_rcpts, CDBT_ADDRESS, addr, &m)) ==
	    CDBT_ERROR)
		return policy_error(policy_rcpts, reply, size);
	if (rc == CDBT_NOTFOUND)
		return 0;
	if (strcmp(m.value, "authenticated") == 0) {
		if (login[0] != '\0')
			return 0;
		snprintf(reply, size, "550 5.7.1 <%s>: Recipient restricted to "
		    "authenticated users", addr);
		return -1;
	}
	if (login[0] != '\0' && policy_listed(m.value, login))
		return 0;
	snprintf(reply, size, "550 5.7.1 <%s>: Recipient restricted to some "
	    "users", addr);
	return -1;
}
