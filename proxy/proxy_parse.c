/*
 * proxy_parse.c: the PROXY protocol header, v1 and v2, as a pure function
 * of the bytes seen so far (contract in proxy.h).  Every check of
 * doc/proxy-protocol.txt that a receiver must make is made here; the
 * reason of a refusal is a static string for the log.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "proxy.h"

static const unsigned char proxy_v2sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

#define PP2_TYPE_CRC32C		0x03
#define PP2_FAM_UNSPEC		0x00
#define PP2_FAM_TCP4		0x11
#define PP2_FAM_TCP6		0x21

/* proxy_bad - the verdict PROXY_BAD, with its reason */
static enum proxy_status
proxy_bad(struct proxy_header *h, const char *why)
{
	h->why = why;
	return PROXY_BAD;
}

/* proxy_crc32c - CRC32c (Castagnoli, reflected), bit by bit: 536 bytes at most */
uint32_t
proxy_crc32c(const unsigned char *buf, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++) {
		crc ^= buf[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & -(crc & 1u));
	}
	return ~crc;
}

/* proxy_prefix - do the len bytes seen agree with the start of word? */
static int
proxy_prefix(const unsigned char *b, size_t len, const char *word)
{
	size_t wl = strlen(word);

	return memcmp(b, word, len < wl ? len : wl) == 0;
}

/* proxy_v1_number - decimal, no leading zero, at most max; -1 if not */
static long
proxy_v1_number(const char *s, size_t n, long max)
{
	long v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* proxy_v1_ipv4 - exactly four canonical decimal octets */
static int
proxy_v1_ipv4(const char *s, size_t n, struct in_addr *a)
{
	unsigned char	 o[4];
	size_t		 start = 0;
	int		 k = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		long v = proxy_v1_number(s + start, i - start, 255);
		if (v < 0 || k == 4 || (i - start) > 3)
			return -1;
		o[k++] = (unsigned char)v;
		start = i + 1;
	}
	if (k != 4)
		return -1;
	memcpy(a, o, 4);
	return 0;
}

/* proxy_v1_ipv6 - hex groups and colons only (no dotted tail), 128 bits */
static int
proxy_v1_ipv6(const char *s, size_t n, struct in6_addr *a)
{
	char buf[40];

	if (n == 0 || n > 39 || strspn(s, "0123456789abcdefABCDEF:") < n)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, a) == 1 ? 0 : -1;
}

/* proxy_v1_addr - one address of the line's family into ss */
static int
proxy_v1_addr(int family, const char *s, size_t n, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET)
		return proxy_v1_ipv4(s, n,
		    &((struct sockaddr_in *)(void *)ss)->sin_addr);
	return proxy_v1_ipv6(s, n,
	    &((struct sockaddr_in6 *)(void *)ss)->sin6_addr);
}

/* proxy_set_port - the port of ss (network order in, host order given) */
static void
proxy_set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons(port);
}

/* proxy_v1_fields - "src dst sport dport" (s[0..n), the CRLF excluded),
 * each separated by exactly one space */
static enum proxy_status
proxy_v1_fields(const char *s, size_t n, struct proxy_header *h)
{
	const char	*f[4];
	size_t		 fl[4], start = 0;
	int		 k = 0;
	long		 sport, dport;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (i == start || k == 4)
			return proxy_bad(h, "v1: bad field separation");
		f[k] = s + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	if (k != 4)
		return proxy_bad(h, "v1: not four fields");
	if (proxy_v1_addr(h->family, f[0], fl[0], &h->src) == -1 ||
	    proxy_v1_addr(h->family, f[1], fl[1], &h->dst) == -1)
		return proxy_bad(h, "v1: bad address");
	if ((sport = proxy_v1_number(f[2], fl[2], 65535)) < 0 ||
	    (dport = proxy_v1_number(f[3], fl[3], 65535)) < 0)
		return proxy_bad(h, "v1: bad port");
	proxy_set_port(&h->src, (unsigned)sport);
	proxy_set_port(&h->dst, (unsigned)dport);
	return PROXY_DONE;
}

/* proxy_v1_end - the length of the line with its CRLF, 0 when not seen
 * yet, -1 for a bare CR or LF or no CRLF within PROXY_V1_MAX bytes */
static long
proxy_v1_end(const unsigned char *b, size_t len, struct proxy_header *h)
{
	for (size_t i = 0; i < len && i < PROXY_V1_MAX; i++) {
		if (b[i] == '\n') {
			if (i == 0 || b[i - 1] != '\r') {
				h->why = "v1: bare LF";
				return -1;
			}
			return (long)i + 1;
		}
		if (b[i] == '\r' && i + 1 < len && b[i + 1] != '\n') {
			h->why = "v1: bare CR";
			return -1;
		}
	}
	if (len >= PROXY_V1_MAX) {
		h->why = "v1: no CRLF within 107 bytes";
		return -1;
	}
	return 0;
}

/* proxy_v1 - "PROXY " and what follows, up to its CRLF */
static enum proxy_status
proxy_v1(const unsigned char *b, size_t len, struct proxy_header *h)
{
	const char	*line = (const char *)b + 6;
	long		 end;
	size_t		 n, seen;

	h->version = 1;
	if (!proxy_prefix(b, len, "PROXY "))
		return proxy_bad(h, "not a PROXY header");
	if ((end = proxy_v1_end(b, len, h)) == -1)
		return PROXY_BAD;
	seen = len > 6 ? len - 6 : 0;
	if (seen > 0 && !proxy_prefix(b + 6, seen, "TCP4 ") &&
	    !proxy_prefix(b + 6, seen, "TCP6 ") &&
	    !proxy_prefix(b + 6, seen, "UNKNOWN\r\n") &&
	    !proxy_prefix(b + 6, seen, "UNKNOWN "))
		return proxy_bad(h, "v1: unknown protocol");
	if (end == 0)
		return PROXY_MORE;
	h->len = (size_t)end;
	n = h->len - 8;		/* "PROXY " and CRLF */
	if (n >= 7 && memcmp(line, "UNKNOWN", 7) == 0 &&
	    (n == 7 || line[7] == ' ')) {
		h->family = AF_UNSPEC;	/* the rest is ignored, as it must be */
		return PROXY_DONE;
	}
	if (n < 5 || memcmp(line, "TCP", 3) != 0 || line[4] != ' ' ||
	    (line[3] != '4' && line[3] != '6'))
		return proxy_bad(h, "v1: unknown protocol");
	h->family = line[3] == '4' ? AF_INET : AF_INET6;
	return proxy_v1_fields(line + 5, n - 5, h);
}

/* proxy_v2_tlvs - the TLVs in b[off..hlen) tile it exactly; a CRC32C
 * TLV, once at most, matches the header's checksum */
static enum proxy_status
proxy_v2_tlvs(const unsigned char *b, size_t off, size_t hlen,
    struct proxy_header *h)
{
	unsigned char	 copy[PROXY_HEADER_MAX];
	size_t		 crc_at = 0;

	while (off < hlen) {
		if (hlen - off < 3)
			return proxy_bad(h, "v2: truncated TLV");
		size_t tl = (size_t)b[off + 1] << 8 | b[off + 2];
		if (hlen - off - 3 < tl)
			return proxy_bad(h, "v2: TLV longer than the header");
		if (b[off] == PP2_TYPE_CRC32C) {
			if (tl != 4)
				return proxy_bad(h, "v2: CRC32C TLV not 4 bytes");
			if (crc_at != 0)
				return proxy_bad(h, "v2: two CRC32C TLVs");
			crc_at = off + 3;
		}
		off += 3 + tl;
	}
	if (crc_at == 0)
		return PROXY_DONE;
	uint32_t want = (uint32_t)b[crc_at] << 24 | (uint32_t)b[crc_at + 1] << 16 |
	    (uint32_t)b[crc_at + 2] << 8 | b[crc_at + 3];
	memcpy(copy, b, hlen);
	memset(copy + crc_at, 0, 4);
	if (proxy_crc32c(copy, hlen) != want)
		return proxy_bad(h, "v2: CRC32C mismatch");
	h->crc = 1;
	return PROXY_DONE;
}

/* proxy_v2_inet - the address block of TCP over IPv4 or IPv6 */
static enum proxy_status
proxy_v2_inet(const unsigned char *b, size_t hlen, struct proxy_header *h)
{
	size_t	 alen = h->family == AF_INET ? 4 : 16;
	size_t	 ports = PROXY_V2_FIXED + 2 * alen;

	if (hlen < ports + 4)
		return proxy_bad(h, "v2: address block longer than the header");
	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	h->src.ss_family = h->dst.ss_family = (sa_family_t)h->family;
	if (h->family == AF_INET) {
		memcpy(&((struct sockaddr_in *)(void *)&h->src)->sin_addr,
		    b + PROXY_V2_FIXED, 4);
		memcpy(&((struct sockaddr_in *)(void *)&h->dst)->sin_addr,
		    b + PROXY_V2_FIXED + 4, 4);
	} else {
		memcpy(&((struct sockaddr_in6 *)(void *)&h->src)->sin6_addr,
		    b + PROXY_V2_FIXED, 16);
		memcpy(&((struct sockaddr_in6 *)(void *)&h->dst)->sin6_addr,
		    b + PROXY_V2_FIXED + 16, 16);
	}
	proxy_set_port(&h->src, (unsigned)b[ports] << 8 | b[ports + 1]);
	proxy_set_port(&h->dst, (unsigned)b[ports + 2] << 8 | b[ports + 3]);
	return proxy_v2_tlvs(b, ports + 4, hlen, h);
}

/* proxy_v2_head - signature, version, command, family: the verdict that
 * the first bytes allow (PROXY_MORE when they are all good so far) */
static enum proxy_status
proxy_v2_head(const unsigned char *b, size_t len, struct proxy_header *h)
{
	h->version = 2;
	if (memcmp(b, proxy_v2sig, len < 12 ? len : 12) != 0)
		return proxy_bad(h, "v2: wrong signature");
	if (len > 12 && (b[12] >> 4) != 2)
		return proxy_bad(h, "v2: version not 2");
	if (len > 12 && (b[12] & 0x0F) > 1)
		return proxy_bad(h, "v2: unknown command");
	if (len > 13 && (b[12] & 0x0F) == 1 && b[13] != PP2_FAM_TCP4 &&
	    b[13] != PP2_FAM_TCP6 && b[13] != PP2_FAM_UNSPEC)
		return proxy_bad(h, "v2: family or protocol not TCP over IPv4 "
		    "or IPv6");
	if (len > 15 && PROXY_V2_FIXED + ((size_t)b[14] << 8 | b[15]) >
	    PROXY_HEADER_MAX)
		return proxy_bad(h, "v2: header longer than 536 bytes");
	return PROXY_MORE;
}

/* proxy_v2 - the binary header */
static enum proxy_status
proxy_v2(const unsigned char *b, size_t len, struct proxy_header *h)
{
	size_t hlen;

	if (proxy_v2_head(b, len, h) == PROXY_BAD)
		return PROXY_BAD;
	if (len < PROXY_V2_FIXED)
		return PROXY_MORE;
	hlen = PROXY_V2_FIXED + ((size_t)b[14] << 8 | b[15]);
	if (len < hlen)
		return PROXY_MORE;
	h->len = hlen;
	h->command = (b[12] & 0x0F) == 0 ? PROXY_CMD_LOCAL : PROXY_CMD_PROXY;
	/* LOCAL: the real endpoints, the family and payload ignored;
	 * UNSPEC: the same, as the spec allows */
	if (h->command == PROXY_CMD_LOCAL || b[13] == PP2_FAM_UNSPEC) {
		h->family = AF_UNSPEC;
		return PROXY_DONE;
	}
	h->family = b[13] == PP2_FAM_TCP4 ? AF_INET : AF_INET6;
	return proxy_v2_inet(b, hlen, h);
}

/* proxy_parse - the verdict on the first len bytes of a connection */
enum proxy_status
proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *h)
{
	memset(h, 0, sizeof(*h));
	h->command = PROXY_CMD_PROXY;
	h->family = AF_UNSPEC;
	if (len == 0)
		return PROXY_MORE;
	if (buf[0] == 'P')
		return proxy_v1(buf, len, h);
	if (buf[0] == proxy_v2sig[0])
		return proxy_v2(buf, len, h);
	return proxy_bad(h, "not a PROXY header");
}
