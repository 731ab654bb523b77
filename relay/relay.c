/*
 * relay.c: the relay decision at RCPT.
 *
 * Order, per recipient: a client that relay_clients says REJECT is refused;
 * a recipient whose domain is in local_domains (and whose local part holds
 * no route) is accepted; any other recipient needs relay permission:
 * RELAYCLIENT in the environment, relay_clients OK, an authenticated
 * session, or a POP/IMAP login younger than pop_window.  A table error on
 * the way is a 451 4.3.0, never an accept and never a 5xx.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "cdb/cdb.h"
#include "log.h"
#include "redis/redis.h"
#include "relay.h"

enum relay_standing {
	RS_UNKNOWN,	/* not looked up yet: a zeroed relay_session */
	RS_NONE,	/* may not relay */
	RS_RELAY,	/* may relay */
	RS_REJECT,	/* relay_clients says REJECT */
	RS_ERROR,	/* relay_clients failed: it might have said REJECT */
	RS_POP_ERROR	/* the POP-before-SMTP lookup failed: the client's
			   own relay right is unknown, the rest stands */
};

/* Configuration-derived, opened once per process. */
static const struct conf	*relay_conf;
static struct cdbt		*relay_local, *relay_clients, *relay_pop;

int
relay_init(const struct conf *c)
{
	relay_conf = c;
	cdbt_close(relay_local);	/* an earlier configuration's (SIGHUP) */
	cdbt_close(relay_clients);
	cdbt_close(relay_pop);
	relay_local = cdbt_open_conf(c->local_domains, CDBT_DOMAINS);
	relay_clients = cdbt_open_conf(c->relay_clients, CDBT_NETWORKS);
	relay_pop = strcmp(c->pop_before_smtp, "redis:") == 0 ? NULL :
	    cdbt_open_conf(c->pop_before_smtp, CDBT_POP);
	return 0;
}

/* relay_changed - was one of the tables replaced since relay_init? */
int
relay_changed(void)
{
	const struct cdbt *t[] = { relay_local, relay_clients, relay_pop };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i] != NULL && cdbt_changed(t[i]))
			return 1;
	return 0;
}

static int
relay_report_one(FILE *out, const char *key, const struct cdbt *t)
{
	if (t == NULL)
		return 0;
	if (cdbt_error(t) != NULL) {
		fprintf(out, "%s: %s: %s\n", key, cdbt_name(t), cdbt_error(t));
		return -1;
	}
	fprintf(out, "%s: %s: ok\n", key, cdbt_name(t));
	return 0;
}

int
relay_report(FILE *out)
{
	int rc = 0;

	rc |= relay_report_one(out, "local_domains", relay_local);
	rc |= relay_report_one(out, "relay_clients", relay_clients);
	rc |= relay_report_one(out, "pop_before_smtp", relay_pop);
	return rc;
}

/* Printable ASCII only, clamped: the text ends up in other people's bounces. */
static void
relay_clean(char *dst, const char *src, size_t size)
{
	size_t n = 0;

	for (; *src != '\0' && n + 1 < size; src++)
		dst[n++] = *src >= 0x20 && *src < 0x7f ? *src : '?';
	dst[n] = '\0';
}

static enum relay_standing
relay_table_error(struct relay_session *rs, const struct cdbt *t)
{
	snprintf(rs->why, sizeof(rs->why), "table %s failed: %s",
	    cdbt_name(t), cdbt_error(t));
	log_warnx("event=table-error table=%s reason=\"%s\"", cdbt_name(t),
	    cdbt_error(t));
	return RS_ERROR;
}

/* relay_clients: OK, REJECT text, or nothing. */
static enum relay_standing
relay_by_network(struct relay_session *rs, const char *addr)
{
	struct cdbt_match	 m;
	int			 rc;

	if (relay_clients == NULL)
		return RS_NONE;
	if ((rc = cdbt_find(relay_clients, CDBT_NETWORK, addr, &m)) ==
	    CDBT_ERROR)
		return relay_table_error(rs, relay_clients);
	if (rc == CDBT_NOTFOUND)
		return RS_NONE;
	snprintf(rs->why, sizeof(rs->why), "relay_clients %.100s %.120s", m.key,
	    m.value);
	if (strncmp(m.value, "REJECT", 6) == 0) {
		const char *text = m.value + 6 + strspn(m.value + 6, " ");

		relay_clean(rs->text, *text ? text : "Access denied",
		    sizeof(rs->text));
		return RS_REJECT;
	}
	return RS_RELAY;
}

/* The age of a login at unix time text, against pop_window. */
static enum relay_standing
relay_pop_age(struct relay_session *rs, const char *text, const char *where)
{
	long long	 when, age;
	char		*end;

	when = strtoll(text, &end, 10);
	if (end == text || *end != '\0')
		return RS_ERROR;
	age = (long long)time(NULL) - when;
	snprintf(rs->why, sizeof(rs->why), "pop_before_smtp %slogin %llds "
	    "ago, window %ds", where, age, relay_conf->pop_window);
	return age <= relay_conf->pop_window ? RS_RELAY : RS_NONE;
}

/* pop_before_smtp redis: the key <prefix>pop:<address>, which popwatch
 * -r wrote with the TTL pop_window; a failure is a 451, never an accept */
static enum relay_standing
relay_by_pop_redis(struct relay_session *rs, const char *addr)
{
	enum relay_standing	 s;
	char			 key[128], when[32];
	int			 rc;

	snprintf(key, sizeof(key), "pop:%s", addr);
	if ((rc = redis_get(key, when, sizeof(when))) == REDIS_NOTFOUND)
		return RS_NONE;
	if (rc == REDIS_FOUND &&
	    (s = relay_pop_age(rs, when, "(redis) ")) != RS_ERROR)
		return s;
	if (rc == REDIS_FOUND)
		log_warnx("event=redis-error what=pop key=%s reason=\"not a "
		    "time: %.30s\"", key, when);
	snprintf(rs->why, sizeof(rs->why), "pop_before_smtp redis: %s",
	    rc == REDIS_FOUND ? "not a time" : redis_last_error());
	return RS_POP_ERROR;
}

/* POP-before-SMTP: a login of this address younger than pop_window. */
static enum relay_standing
relay_by_pop(struct relay_session *rs, const char *addr)
{
	struct cdbt_match	 m;
	int			 rc;

	if (strcmp(relay_conf->pop_before_smtp, "redis:") == 0)
		return relay_by_pop_redis(rs, addr);
	if (relay_pop == NULL)
		return RS_NONE;
	if ((rc = cdbt_find(relay_pop, CDBT_NETWORK, addr, &m)) == CDBT_ERROR) {
		(void)relay_table_error(rs, relay_pop);
		return RS_POP_ERROR;
	}
	/* only the exact address counts: logins are per host */
	if (rc == CDBT_NOTFOUND || strchr(m.key, '/') != NULL ||
	    m.key[strlen(m.key) - 1] == '.')
		return RS_NONE;
	enum relay_standing s = relay_pop_age(rs, m.value, "");

	if (s == RS_ERROR) {
		(void)relay_table_error(rs, relay_pop);
		return RS_POP_ERROR;
	}
	return s;
}

/* The client's standing, looked up once per session. */
static enum relay_standing
relay_standing_of(struct relay_session *rs, const char *addr)
{
	enum relay_standing s;

	if (rs->standing != RS_UNKNOWN)
		return rs->standing;
	s = relay_by_network(rs, addr);
	if (s == RS_NONE && getenv("RELAYCLIENT") != NULL) {
		snprintf(rs->why, sizeof(rs->why), "RELAYCLIENT is set");
		s = RS_RELAY;
	}
	if (s == RS_NONE) {
		s = relay_by_pop(rs, addr);
		if (s == RS_NONE && rs->why[0] == '\0')
			snprintf(rs->why, sizeof(rs->why),
			    "no relay permission");
	}
	log_debug("relay: client %s: %s", addr, rs->why);
	rs->standing = s;
	return s;
}

int
relay_client_trusted(struct relay_session *rs, const char *client)
{
	enum relay_standing s = relay_standing_of(rs, client);

	if (s == RS_ERROR || s == RS_POP_ERROR)
		return -1;
	return s == RS_RELAY;
}

static int
relay_local_part_routes(const char *local)
{
	return strpbrk(local, "%!@") != NULL;
}

/* 1 local, 0 not local, -1 table error. */
static int
relay_is_local(const char *rcpt)
{
	struct cdbt_match	 m;
	const char		*at = strrchr(rcpt, '@');
	char			 local[512];
	int			 rc;

	if (at == NULL)		/* <postmaster>, or a name the backend qualifies */
		return relay_local_part_routes(rcpt) ? 0 : 1;
	snprintf(local, sizeof(local), "%.*s", (int)(at - rcpt), rcpt);
	if (relay_local == NULL)
		return 0;
	if ((rc = cdbt_find(relay_local, CDBT_DOMAIN, at + 1, &m)) ==
	    CDBT_ERROR)
		return -1;
	if (rc == CDBT_FOUND && relay_local_part_routes(local)) {
		log_debug("relay: rcpt %s: local domain %s, but the local part "
		    "routes elsewhere", rcpt, m.key);
		return 0;
	}
	if (rc == CDBT_FOUND)
		log_debug("relay: rcpt %s: local_domains %s", rcpt, m.key);
	return rc == CDBT_FOUND;
}

int
relay_check_rcpt(struct relay_session *rs, const char *client,
    const char *rcpt, int authenticated, char *reply, size_t size)
{
	enum relay_standing	 s = relay_standing_of(rs, client);
	int			 local;

	if (s == RS_REJECT) {
		snprintf(reply, size, "554 5.7.1 %s", rs->text);
		return -1;
	}
	if (s == RS_ERROR) {	/* it might have said REJECT: decide nothing */
		snprintf(reply, size, "451 4.3.0 Temporary lookup failure");
		return -1;
	}
	if ((local = relay_is_local(rcpt)) == 1)
		return 0;
	if (local == -1) {
		relay_table_error(rs, relay_local);
		snprintf(reply, size, "451 4.3.0 Temporary lookup failure");
		return -1;
	}
	if (s == RS_RELAY || authenticated) {
		log_debug("relay: rcpt %s: relay allowed: %s", rcpt,
		    authenticated ? "authenticated" : rs->why);
		return 0;
	}
	if (s == RS_POP_ERROR) {	/* a login might have allowed it */
		snprintf(reply, size, "451 4.3.0 Temporary lookup failure");
		return -1;
	}
	log_debug("relay: rcpt %s: relay denied: %s", rcpt, rs->why);
	snprintf(reply, size, "554 5.7.1 <%s>: Relay access denied", rcpt);
	return -1;
}

/* 1 when rcpt is for a local domain, 0 when not, -1 on a table error. */
int
relay_local_domain(const char *rcpt)
{
	return relay_is_local(rcpt);
}
