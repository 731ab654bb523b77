/*
 * relay: may this client send to this recipient?
 *
 * relay_init(conf) opens local_domains, relay_clients and pop_before_smtp
 * once, before privileges are dropped; a table that cannot be used is not
 * fatal here: every decision that needs it becomes a 4xx.
 * relay_report(out) prints each table's state for -n and returns -1 when
 * one of them is unusable.
 * relay_check_rcpt(client, rcpt, authenticated, reply, size) decides one
 * recipient: 0 = go on (local recipient or the client may relay); -1 =
 * refused, reply holds the whole reply line ("554 5.7.1 ...", or
 * "451 4.3.0 ..." when a table failed).  The client's standing (relay
 * networks, POP-before-SMTP, RELAYCLIENT) is looked up once per session.
 * relay_client_trusted(client) says whether the client itself may relay
 * (relay_clients, RELAYCLIENT, a fresh POP login): such clients skip the
 * DNS score.
 * relay_local_part_routes(local) says whether a local part carries a
 * route (%, !, @) that could send the mail elsewhere.
 */
#ifndef SMTPPROXY_RELAY_H
#define SMTPPROXY_RELAY_H

#include <stddef.h>
#include <stdio.h>

#include "conf/conf.h"

int	relay_init(const struct conf *);
int	relay_report(FILE *);
int	relay_check_rcpt(const char *, const char *, int, char *, size_t);
int	relay_local_part_routes(const char *);
int	relay_client_trusted(const char *);
int	relay_local_domain(const char *);

#endif
