/*
 * relay: may this client send to this recipient?
 *
 * relay_init(conf) opens local_domains, relay_clients and pop_before_smtp
 * once, before privileges are dropped; a table that cannot be used is not
 * fatal here: every decision that needs it becomes a 4xx.
 * relay_changed() says whether one of those tables was replaced since
 * relay_init() (server mode's parent then calls relay_init again).
 * relay_report(out) prints each table's state for -n and returns -1 when
 * one of them is unusable.
 * struct relay_session is what a session knows of its client's standing;
 * the session owns it, zeroed at its start (nothing looked up yet).
 * relay_check_rcpt(rs, client, rcpt, authenticated, reply, size) decides one
 * recipient: 0 = go on (local recipient or the client may relay); -1 =
 * refused, reply holds the whole reply line ("554 5.7.1 ...", or
 * "451 4.3.0 ..." when a table failed).  The client's standing (relay
 * networks, POP-before-SMTP, RELAYCLIENT) is looked up once per session.
 * relay_client_trusted(rs, client) says whether the client itself may relay
 * (relay_clients, RELAYCLIENT, a fresh POP login): 1 yes (such clients
 * skip the DNS score), 0 no, -1 unknown (a table or Redis failed).  A
 * failed POP-before-SMTP lookup leaves local recipients and authenticated
 * clients as they are; only a relay the login might have allowed gets the
 * 451.
 * relay_local_domain(rcpt) is 1 when rcpt's domain is in local_domains
 * (and its local part routes nowhere else), 0 when not, -1 on a table
 * error.
 */
#ifndef SMTPPROXY_RELAY_H
#define SMTPPROXY_RELAY_H

#include <stddef.h>
#include <stdio.h>

#include "conf/conf.h"

#define RELAY_TEXT_MAX	200	/* a REJECT text, clamped */

struct relay_session {
	int	 standing;		/* relay.c's enum relay_standing */
	char	 why[256];		/* for the trace */
	char	 text[RELAY_TEXT_MAX + 1];
};

int	relay_init(const struct conf *);
int	relay_report(FILE *);
int	relay_changed(void);
int	relay_check_rcpt(struct relay_session *rs, const char *client,
	    const char *rcpt, int authenticated, char *reply, size_t size);
int	relay_client_trusted(struct relay_session *rs, const char *client);
int	relay_local_domain(const char *);

#endif
