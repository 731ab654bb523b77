/*
 * server_limit.c: the limits xinetd applied, now in the server (Postfix's
 * anvil in small): sessions at once, and per client key the connections
 * at once and the connections per minute.
 *
 * One table of SERVER_LIMIT_SLOTS keys, a slot per client key seen lately.
 * A key whose client has no session and whose minute is over is free to
 * be reused; when none is, the idle key seen longest ago is (its rate is
 * then forgotten: under that much pressure max_sessions still holds).
 * max_sessions is at most SERVER_LIMIT_SLOTS, so a client with a session
 * always has its slot.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include "server.h"

#define SERVER_LIMIT_SLOTS	4096
#define SERVER_RATE_WINDOW	60	/* client_connection_rate_limit: a minute */

struct server_slot {
	char	 key[SERVER_KEY_MAX];
	int	 active;		/* sessions now */
	int	 count;			/* connections in this window */
	time_t	 window;		/* when the window started */
	time_t	 last;			/* last connection */
};

static struct server_slot	 server_slots[SERVER_LIMIT_SLOTS];
static int			 server_active;	/* sessions now, all keys */

/* server_limit_key - the client's key: its IPv4 address, or its IPv6
 * network of prefix_v6 bits ("2001:db8::/64"); -1 for another family */
int
server_limit_key(const struct sockaddr_storage *ss, int prefix_v6,
    char *key, size_t size)
{
	char buf[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, key, (socklen_t)size);
		return 0;
	}
	if (ss->ss_family != AF_INET6)
		return -1;
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	struct in6_addr a = sin6->sin6_addr;

	if (IN6_IS_ADDR_V4MAPPED(&a)) {
		inet_ntop(AF_INET, &a.s6_addr[12], key, (socklen_t)size);
		return 0;
	}
	for (int i = 0; i < 16; i++) {
		int keep = prefix_v6 - i * 8;

		if (keep < 8)
			a.s6_addr[i] &= keep <= 0 ? 0 :
			    (unsigned char)(0xff << (8 - keep));
	}
	inet_ntop(AF_INET6, &a, buf, sizeof(buf));
	snprintf(key, size, "%s/%d", buf, prefix_v6);
	return 0;
}

static struct server_slot *
server_slot_find(const char *key)
{
	for (int i = 0; i < SERVER_LIMIT_SLOTS; i++)
		if (server_slots[i].key[0] != '\0' &&
		    strcmp(server_slots[i].key, key) == 0)
			return &server_slots[i];
	return NULL;
}

/* A slot for a new key: an unused one, else the idle one seen longest
 * ago; NULL only when every key has a session. */
static struct server_slot *
server_slot_new(const char *key, time_t now)
{
	struct server_slot *best = NULL;

	for (int i = 0; i < SERVER_LIMIT_SLOTS; i++) {
		struct server_slot *s = &server_slots[i];

		if (s->key[0] == '\0') {
			best = s;
			break;
		}
		if (s->active == 0 && (best == NULL || s->last < best->last))
			best = s;
	}
	if (best == NULL)
		return NULL;
	memset(best, 0, sizeof(*best));
	strlcpy(best->key, key, sizeof(best->key));
	best->window = now;
	return best;
}

/* server_limit_admit - NULL: the connection is counted; else the name of
 * the limit it is over (nothing is counted) */
const char *
server_limit_admit(const struct conf *c, const char *key, time_t now)
{
	struct server_slot *s;

	if (server_active >= c->max_sessions)
		return "max_sessions";
	if ((s = server_slot_find(key)) == NULL &&
	    (s = server_slot_new(key, now)) == NULL)
		return "max_sessions";
	if (now - s->window >= SERVER_RATE_WINDOW) {
		s->window = now;
		s->count = 0;
	}
	s->last = now;
	s->count++;	/* every attempt counts, as Postfix's anvil */
	/* with redis_server the sessions count per client, fleet-wide */
	if (c->redis_server[0] == '\0' &&
	    c->client_connection_count_limit > 0 &&
	    s->active >= c->client_connection_count_limit)
		return "client_connection_count_limit";
	if (c->redis_server[0] == '\0' &&
	    c->client_connection_rate_limit > 0 &&
	    s->count > c->client_connection_rate_limit)
		return "client_connection_rate_limit";
	s->active++;
	server_active++;
	return NULL;
}

/* server_limit_release - a session of key ended */
void
server_limit_release(const char *key)
{
	struct server_slot *s = server_slot_find(key);

	if (s != NULL && s->active > 0)
		s->active--;
	if (server_active > 0)
		server_active--;
}

/* server_limit_reset - forget every key (unit tests) */
void
server_limit_reset(void)
{
	memset(server_slots, 0, sizeof(server_slots));
	server_active = 0;
}
