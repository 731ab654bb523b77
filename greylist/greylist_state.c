/*
 * greylist_state.c: the pure parts of greylisting (no I/O, no clock):
 * the triplet and its key, the record as text, and the state machine.
 * Their contracts are in greylist.h; the unit tests are
 * tests/unit/test_greylist.c.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "greylist.h"

void
greylist_params(const struct conf *c, struct greylist_params *p)
{
	p->delay = c->greylist_delay;
	p->window = c->greylist_retry_window;
	p->expire = c->greylist_expire;
	p->auto_whitelist = c->greylist_auto_whitelist;
}

/* The client's network: IPv4 /24, IPv6 /64 (one site, Postgrey's
 * --lookup-by-subnet: a pool of outgoing servers retries from another
 * address of the same network). */
int
greylist_network(const char *addr, char *out, size_t size)
{
	unsigned char	 a[16];
	char		 ip[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, addr, a) == 1) {
		a[3] = 0;
		inet_ntop(AF_INET, a, ip, sizeof(ip));
		return (size_t)snprintf(out, size, "%s/24", ip) < size ? 0 : -1;
	}
	if (inet_pton(AF_INET6, addr, a) == 1) {
		memset(a + 8, 0, 8);
		inet_ntop(AF_INET6, a, ip, sizeof(ip));
		return (size_t)snprintf(out, size, "%s/64", ip) < size ? 0 : -1;
	}
	return -1;
}

/* An envelope address as the triplet holds it.  A BATV tag (RFC draft
 * "prvs=tag=user@domain") changes from one try to the next: dropped. */
void
greylist_address(const char *addr, char *out, size_t size)
{
	const char *at = strrchr(addr, '@'), *eq;

	if (addr[0] == '\0') {
		strlcpy(out, "<>", size);
		return;
	}
	if (strncasecmp(addr, "prvs=", 5) == 0 && at != NULL &&
	    (eq = memchr(addr + 5, '=', (size_t)(at - addr - 5))) != NULL &&
	    eq + 1 < at)
		addr = eq + 1;
	size_t n = 0;
	for (; addr[n] != '\0' && n + 1 < size; n++)
		out[n] = (char)tolower((unsigned char)addr[n]);
	if (size > 0)
		out[n] = '\0';
}

/* FNV-1a, 64 bits: a triplet too long for a store key is known by two
 * hashes of it (a collision lets one triplet pass for another: harmless) */
static uint64_t
greylist_fnv(const char *s, uint64_t h)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* "t NET FROM RCPT", or "t NET #hash" when that does not fit; 0 or -1 */
int
greylist_key(const char *net, const char *from, const char *rcpt,
    char *out, size_t size)
{
	size_t		 need;
	uint64_t	 h1, h2;

	need = (size_t)snprintf(out, size, "t %s %s %s", net, from, rcpt);
	if (need < size && need <= GREYLIST_KEY_MAX)
		return 0;
	h1 = greylist_fnv(rcpt, greylist_fnv(from, 0xcbf29ce484222325ULL));
	h2 = greylist_fnv(from, greylist_fnv(rcpt, 0x84222325cbf29ce4ULL));
	need = (size_t)snprintf(out, size, "t %s #%016" PRIx64 "%016" PRIx64,
	    net, h1, h2);
	return need < size ? 0 : -1;
}

int
greylist_rec_format(const struct greylist_rec *r, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "1 %lld %lld %lld %lld",
	    r->first, r->last, r->passed, r->count);

	return n < size ? (int)n : -1;
}

/* "1 first last passed count", all of s[0..len) */
int
greylist_rec_parse(const char *s, size_t len, struct greylist_rec *r)
{
	char	 buf[GREYLIST_REC_MAX];
	int	 used = -1;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, "1 %lld %lld %lld %lld%n", &r->first, &r->last,
	    &r->passed, &r->count, &used) != 4 || (size_t)used != len ||
	    r->first < 0 || r->last < 0 || r->passed < 0 || r->count < 0)
		return -1;
	return 0;
}

/*
 * greylist_step - the triplet's next state.  The retry window counts from
 * the first try (Postgrey's retry-window): a retry between delay and
 * window after it passes; a passed triplet stays passed while it keeps
 * coming within greylist_expire.  The clock going back counts as no time.
 */
enum greylist_state
greylist_step(struct greylist_rec *r, int found, long long now,
    const struct greylist_params *p, long *wait)
{
	enum greylist_state	 next = GREYLIST_NEW;
	long long		 age;

	*wait = 0;
	if (found && r->passed != 0) {
		if (now - r->last <= p->expire) {
			if (now - r->last >= GREYLIST_REFRESH)
				r->last = now;
			return GREYLIST_PASSED;
		}
		next = GREYLIST_RENEWED;
	} else if (found) {
		age = now > r->first ? now - r->first : 0;
		if (age < p->delay) {
			*wait = (long)(p->delay - age);
			return GREYLIST_WAITING;
		}
		if (age <= p->window) {
			r->passed = r->last = now;
			return GREYLIST_PASSING;
		}
		next = GREYLIST_RENEWED;
	}
	memset(r, 0, sizeof(*r));
	r->first = r->last = now;
	*wait = p->delay;
	return next;
}

/*
 * greylist_client_step - the client network's record: passed counts one
 * more triplet that just passed.  1 when the client is whitelisted (it
 * passed auto_whitelist triplets, the last one within expire).
 */
int
greylist_client_step(struct greylist_rec *r, int found, long long now,
    const struct greylist_params *p, int passed)
{
	int white;

	if (!found || now - r->last > p->expire) {
		memset(r, 0, sizeof(*r));
		r->first = r->last = now;
	}
	if (passed) {
		r->count++;
		r->last = now;
	}
	white = p->auto_whitelist > 0 && r->count >= p->auto_whitelist;
	if (white && now - r->last >= GREYLIST_REFRESH)
		r->last = now;
	return white;
}

/* A record nothing will pass with again: a round whose window closed, a
 * triplet or a client not seen for expire. */
int
greylist_stale(const char *key, const struct greylist_rec *r, long long now,
    const struct greylist_params *p)
{
	if (key[0] == 't' && r->passed == 0)
		return now - r->first > p->window;
	return now - r->last > p->expire;
}

/* greylist_ttl - how long a store that expires keys (Redis) keeps the
 * record: until greylist_stale would say so; at least 1 s. */
long
greylist_ttl(const char *key, const struct greylist_rec *r, long long now,
    const struct greylist_params *p)
{
	long long until = key[0] == 't' && r->passed == 0 ?
	    r->first + p->window : r->last + p->expire;

	return until - now >= 1 ? (long)(until - now + 1) : 1;
}
