/*
 * rbl_names.c: pure helpers of the DNS policy: query names and the two
 * guesses about names (random-looking sender, dynamic-looking host), and
 * whether a HELO name is numeric.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "rbl.h"

/* "1.2.3.4" -> "4.3.2.1.zone"; IPv6 -> 32 reversed nibbles; -1 if bad. */
int
rbl_reverse(const char *addr, const char *zone, char *out, size_t size)
{
	unsigned char	 a[16];
	size_t		 n = 0;
	int		 w;

	if (inet_pton(AF_INET, addr, a) == 1) {
		w = snprintf(out, size, "%u.%u.%u.%u.%s", a[3], a[2], a[1],
		    a[0], zone);
		return w < 0 || (size_t)w >= size ? -1 : 0;
	}
	if (inet_pton(AF_INET6, addr, a) != 1)
		return -1;
	for (int i = 15; i >= 0; i--) {
		if (n + 4 >= size)
			return -1;
		n += (size_t)snprintf(out + n, size - n, "%x.%x.", a[i] & 0xf,
		    a[i] >> 4);
	}
	w = snprintf(out + n, size - n, "%s", zone);
	return w < 0 || (size_t)w >= size - n ? -1 : 0;
}

static int
rbl_is_vowel(int c)
{
	return strchr("aeiouy", c) != NULL;
}

/*
 * A local part that looks machine-made: long, and with a run of five
 * consonants, or letters and digits mixed with many switches between them.
 */
int
rbl_looks_random(const char *local)
{
	size_t	 len = strlen(local);
	int	 run = 0, maxrun = 0, switches = 0, digits = 0, prev = -1;

	if (len < 8)
		return 0;
	for (const char *p = local; *p != '\0'; p++) {
		int c = tolower((unsigned char)*p), kind;

		if (isdigit(c)) {
			kind = 1;
			digits++;
		} else if (isalpha(c))
			kind = 0;
		else {
			run = 0;
			prev = -1;
			continue;
		}
		run = kind == 0 && !rbl_is_vowel(c) ? run + 1 : 0;
		if (run > maxrun)
			maxrun = run;
		if (prev != -1 && kind != prev)
			switches++;
		prev = kind;
	}
	return maxrun >= 5 || (digits > 0 && switches >= 4);
}

static const char *const rbl_dyn_words[] = {
	"dyn", "dynamic", "dial", "dialup", "dsl", "adsl", "vdsl", "xdsl",
	"pool", "ppp", "pppoe", "dhcp", "cable", "cpe",
	"broadband", "modem", "customer", "dip", "pub-ip", "catv", NULL
};

/* pat in s, not part of a longer number on either side */
static int
rbl_has_number(const char *s, const char *pat)
{
	size_t len = strlen(pat);

	for (const char *p = s; (p = strstr(p, pat)) != NULL; p++)
		if ((p == s || !isdigit((unsigned char)p[-1])) &&
		    !isdigit((unsigned char)p[len]))
			return 1;
	return 0;
}

/* A PTR name made for a dynamic address: it names the address's octets,
 * or a word such as "dsl" or "pool" stands between its dots or dashes. */
int
rbl_looks_dialup(const char *name, const char *addr)
{
	unsigned char	 a[4];
	char		 lower[256], pat[32];
	const char	*p;

	snprintf(lower, sizeof(lower), "%s", name);
	for (char *q = lower; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (inet_pton(AF_INET, addr, a) == 1) {
		static const char seps[] = "-.";

		for (int s = 0; s < 2; s++) {
			snprintf(pat, sizeof(pat), "%u%c%u", a[2], seps[s], a[3]);
			if (rbl_has_number(lower, pat))
				return 1;
			snprintf(pat, sizeof(pat), "%u%c%u", a[3], seps[s], a[2]);
			if (rbl_has_number(lower, pat))
				return 1;
		}
	}
	for (int i = 0; rbl_dyn_words[i] != NULL; i++) {
		size_t len = strlen(rbl_dyn_words[i]);

		for (p = lower; (p = strstr(p, rbl_dyn_words[i])) != NULL; p++)
			if ((p == lower || !isalpha((unsigned char)p[-1])) &&
			    !isalpha((unsigned char)p[len]))
				return 1;
	}
	return 0;
}

/* rbl_helo_numeric - an address literal or a name made of digits and
 * dots: nothing to look up */
int
rbl_helo_numeric(const char *helo)
{
	return helo[0] == '[' || strspn(helo, "0123456789.") == strlen(helo);
}
