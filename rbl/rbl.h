/*
 * rbl: the DNS policy: DNS lists and heuristics, weighted, decided at RCPT
 * (policyd-weight's job, with postscreen's parallel lookups).
 *
 * rbl_init(conf) notes the configuration; nothing else happens unless the
 * policy is configured (conf_dns_policy()), and c-ares is initialised only
 * then, at the first rbl_start_*.
 * rbl_report(out) checks dns_servers for -n (0, or -1 when unusable).
 * rbl_start_client(addr, family) starts, at connect, every dnsbl/dnswl
 * query and the PTR lookup (then its forward confirmation);
 * rbl_start_helo(helo) the HELO checks; rbl_start_sender(local, domain)
 * the sender checks of a new transaction (NULL domain for MAIL FROM:<>).
 * Each batch may take timeout_dns seconds from its start.
 * rbl_poll() handles whatever answers have arrived, without waiting.
 * rbl_decide(reply, size) waits for the outstanding answers (bounded by
 * the batches' deadlines), scores once per transaction and answers 0
 * (accept) or -1 with reply holding a whole reply line (550 5.7.1, 450
 * 4.7.1, 451 4.4.3).  It logs one event=score line per transaction.
 * rbl_domain_exists(domain) asks for MX and A now and waits (bounded by
 * timeout_dns): 1 exists, 0 does not, -1 DNS error; it works whether or
 * not the DNS policy is configured.  rbl_add_style_score() adds the X
 * HELO style's amount to the score.
 * rbl_client_name() is the client's forward-confirmed PTR name, else NULL;
 * it waits for the lookups made at connect, no longer than timeout_dns
 * from the connect, and asks nothing when the DNS policy is off.
 * rbl_header() is the X-Smtpproxy-Score line of the last decision (with
 * add_score_header yes), or NULL.
 *
 * The configuration syntax (rbl_conf.c), called by conf/ at load:
 * rbl_zone_parse(key, line, z, why, wlen) reads a dnsbl/dnswl/rhsbl line
 * "zone hit miss [=filter]" into z (0, or -1 with why); rbl_filter_match(z,
 * a) says whether the IPv4 answer a (4 bytes) passes z's filter;
 * rbl_weight_defaults(w) fills the CONF_H_COUNT rows of w with
 * policyd-weight's weights; rbl_weight_parse(line, w, why, wlen) reads a
 * "name hit miss" or "name off" line into its row of w.
 * rbl_heuristic_names[] are those rows' names.
 *
 * Pure helpers, exported for the unit tests: rbl_reverse(addr, zone, out)
 * builds "4.3.2.1.zone" or the 32 IPv6 nibbles; rbl_looks_random(local);
 * rbl_looks_dialup(name, addr).
 */
#ifndef SMTPPROXY_RBL_H
#define SMTPPROXY_RBL_H

#include <stddef.h>
#include <stdio.h>

#include "conf/conf.h"

void		 rbl_init(const struct conf *);
int		 rbl_report(FILE *);
void		 rbl_start_client(const char *, int);
void		 rbl_start_helo(const char *);
void		 rbl_start_sender(const char *, const char *);
void		 rbl_poll(void);
int		 rbl_decide(char *, size_t);
const char	*rbl_header(void);
const char	*rbl_score_text(void);
const char	*rbl_client_name(void);
int		 rbl_domain_exists(const char *);
void		 rbl_add_style_score(double);

extern const char *const rbl_heuristic_names[CONF_H_COUNT];
int		 rbl_zone_parse(const char *, const char *, struct conf_zone *,
		    char *, size_t);
int		 rbl_filter_match(const struct conf_zone *,
		    const unsigned char *);
void		 rbl_weight_defaults(struct conf_weight *);
int		 rbl_weight_parse(const char *, struct conf_weight *, char *,
		    size_t);

int		 rbl_reverse(const char *, const char *, char *, size_t);
int		 rbl_looks_random(const char *);
int		 rbl_looks_dialup(const char *, const char *);

#endif
