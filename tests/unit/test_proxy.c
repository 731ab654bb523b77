/* test_proxy: the PROXY protocol header parser (proxy/proxy_parse.c), table
 * by table: valid v1 and v2 headers, every truncation of them (need more),
 * every kind of invalid header; then proxy_read() on a socketpair and a
 * pipe: exactly the header is consumed, a partial one times out. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "proxy/proxy.h"
#include "unit.h"

static const unsigned char sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

/* A test input: bytes and their length. */
struct bytes {
	unsigned char	 b[1024];
	size_t		 n;
};

/* addr - "address port" of a parsed sockaddr, for comparisons */
static const char *
addr(const struct sockaddr_storage *ss)
{
	static char	 out[80];
	char		 a[INET6_ADDRSTRLEN] = "?";
	unsigned	 port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(out, sizeof(out), "%s %u", a, port);
	return out;
}

/* v2 - a version 2 header: ver_cmd, fam, then the payload given */
static struct bytes
v2(unsigned char ver_cmd, unsigned char fam, const unsigned char *p,
    size_t plen)
{
	struct bytes x = { .n = 16 + plen };

	memcpy(x.b, sig, 12);
	x.b[12] = ver_cmd;
	x.b[13] = fam;
	x.b[14] = (unsigned char)(plen >> 8);
	x.b[15] = (unsigned char)plen;
	if (plen > 0)
		memcpy(x.b + 16, p, plen);
	return x;
}

/* with_crc - append a CRC32C TLV (value right, or off by one) */
static struct bytes
with_crc(struct bytes x, int good)
{
	size_t	 at = x.n + 3, plen;
	uint32_t crc;

	x.b[x.n] = 0x03;
	x.b[x.n + 1] = 0;
	x.b[x.n + 2] = 4;
	memset(x.b + at, 0, 4);
	x.n += 7;
	plen = x.n - 16;
	x.b[14] = (unsigned char)(plen >> 8);
	x.b[15] = (unsigned char)plen;
	crc = proxy_crc32c(x.b, x.n) + (good ? 0 : 1);
	x.b[at] = (unsigned char)(crc >> 24);
	x.b[at + 1] = (unsigned char)(crc >> 16);
	x.b[at + 2] = (unsigned char)(crc >> 8);
	x.b[at + 3] = (unsigned char)crc;
	return x;
}

static const unsigned char tcp4[12] = { 192, 0, 2, 1, 198, 51, 100, 2,
	0xDC, 0x04, 0x00, 0x19 };	/* ports 56324 and 25 */
static const unsigned char tcp6[36] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	0x30, 0x39, 0x00, 0x19 };	/* ports 12345 and 25 */

static struct bytes
text(const char *s)
{
	struct bytes x = { .n = strlen(s) };

	memcpy(x.b, s, x.n);
	return x;
}

/* cat - x followed by the payload bytes p */
static struct bytes
cat(struct bytes x, const unsigned char *p, size_t n)
{
	memcpy(x.b + x.n, p, n);
	x.n += n;
	if (x.n >= 16 && memcmp(x.b, sig, 12) == 0) {	/* v2: its length */
		x.b[14] = (unsigned char)((x.n - 16) >> 8);
		x.b[15] = (unsigned char)(x.n - 16);
	}
	return x;
}

struct good {
	const char	*name;
	struct bytes	 in;
	int		 version, family;
	const char	*src, *dst;	/* "address port", NULL: UNSPEC */
};

static void
check_good(const struct good *g)
{
	struct proxy_header	 h;
	struct bytes		 more = g->in;
	enum proxy_status	 st;
	char			 name[200];
	int			 all_more = 1;

	st = proxy_parse(g->in.b, g->in.n, &h);
	snprintf(name, sizeof(name), "%s: complete", g->name);
	unit_ok(st == PROXY_DONE && h.len == g->in.n, name);
	if (st != PROXY_DONE)
		printf("#   why: %s\n", h.why ? h.why : "(more)");
	snprintf(name, sizeof(name), "%s: version and family", g->name);
	unit_ok(h.version == g->version && h.family == g->family, name);
	if (g->src != NULL) {
		snprintf(name, sizeof(name), "%s: source", g->name);
		unit_str(addr(&h.src), g->src, name);
		snprintf(name, sizeof(name), "%s: destination", g->name);
		unit_str(addr(&h.dst), g->dst, name);
	}
	/* the SMTP stream after it is not the header's */
	memcpy(more.b + more.n, "EHLO x\r\n", 8);	/* not the header's */
	more.n += 8;
	snprintf(name, sizeof(name), "%s: bytes after it left alone", g->name);
	unit_ok(proxy_parse(more.b, more.n, &h) == PROXY_DONE &&
	    h.len == g->in.n, name);
	for (size_t k = 0; k < g->in.n; k++)
		if (proxy_parse(g->in.b, k, &h) != PROXY_MORE)
			all_more = 0;
	snprintf(name, sizeof(name), "%s: each truncation needs more",
	    g->name);
	unit_ok(all_more, name);
}

struct bad {
	const char	*name;
	struct bytes	 in;
	const char	*why;
};

static void
check_bad(const struct bad *b)
{
	struct proxy_header	 h;
	enum proxy_status	 st;

	st = proxy_parse(b->in.b, b->in.n, &h);
	unit_ok(st == PROXY_BAD, b->name);
	if (st == PROXY_BAD)
		unit_str(h.why, b->why, b->name);
}

static void
test_good(void)
{
	static const unsigned char noop[] = { 0x04, 0x00, 0x02, 'a', 'b',
		0x01, 0x00, 0x04, 's', 'm', 't', 'p' };
	static const unsigned char junk[] = { 1, 2, 3, 4, 5 };
	struct good g[] = {
	    { "v1 TCP4", text("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n"),
		1, AF_INET, "192.0.2.1 56324", "198.51.100.2 25" },
	    { "v1 TCP4 extremes",
		text("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"),
		1, AF_INET, "0.0.0.0 0", "255.255.255.255 65535" },
	    { "v1 TCP6", text("PROXY TCP6 2001:db8::1 2001:DB8::2 1 25\r\n"),
		1, AF_INET6, "2001:db8::1 1", "2001:db8::2 25" },
	    { "v1 TCP6 longest (104 bytes)",
		text("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
		1, AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535" },
	    { "v1 UNKNOWN", text("PROXY UNKNOWN\r\n"), 1, AF_UNSPEC, NULL,
		NULL },
	    { "v1 UNKNOWN worst case (107 bytes)",
		text("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
		1, AF_UNSPEC, NULL, NULL },
	    { "v1 UNKNOWN, anything before CRLF ignored",
		text("PROXY UNKNOWN what\tever 1.2.3\r\n"), 1, AF_UNSPEC, NULL,
		NULL },
	    { "v2 PROXY TCP4", v2(0x21, 0x11, tcp4, sizeof(tcp4)), 2, AF_INET,
		"192.0.2.1 56324", "198.51.100.2 25" },
	    { "v2 PROXY TCP6", v2(0x21, 0x21, tcp6, sizeof(tcp6)), 2,
		AF_INET6, "2001:db8::1 12345", "2001:db8::2 25" },
	    { "v2 PROXY TCP4 with TLVs (NOOP, ALPN)",
		cat(v2(0x21, 0x11, tcp4, sizeof(tcp4)), noop, sizeof(noop)),
		2, AF_INET, "192.0.2.1 56324", "198.51.100.2 25" },
	    { "v2 PROXY TCP4 with a good CRC32C",
		with_crc(v2(0x21, 0x11, tcp4, sizeof(tcp4)), 1), 2, AF_INET,
		"192.0.2.1 56324", "198.51.100.2 25" },
	    { "v2 PROXY TCP6 with TLVs and a good CRC32C",
		with_crc(cat(v2(0x21, 0x21, tcp6, sizeof(tcp6)), noop,
		sizeof(noop)), 1), 2, AF_INET6, "2001:db8::1 12345",
		"2001:db8::2 25" },
	    { "v2 LOCAL", v2(0x20, 0x00, NULL, 0), 2, AF_UNSPEC, NULL, NULL },
	    { "v2 LOCAL: family and payload skipped",
		v2(0x20, 0x11, junk, sizeof(junk)), 2, AF_UNSPEC, NULL, NULL },
	    { "v2 LOCAL: unknown family ignored", v2(0x20, 0xFF, NULL, 0), 2,
		AF_UNSPEC, NULL, NULL },
	    { "v2 PROXY UNSPEC: real endpoints", v2(0x21, 0x00, junk,
		sizeof(junk)), 2, AF_UNSPEC, NULL, NULL },
	};
	struct good pad = { "v2 PROXY TCP4 padded to 536 bytes", { .n = 0 },
	    2, AF_INET, "192.0.2.1 56324", "198.51.100.2 25" };
	unsigned char big[520 - 12] = { 0x04, 0x01, 520 - 12 - 3 - 256 };

	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		check_good(&g[i]);
	pad.in = cat(v2(0x21, 0x11, tcp4, sizeof(tcp4)), big, sizeof(big));
	pad.in.b[14] = 520 >> 8;
	pad.in.b[15] = 520 & 0xFF;
	check_good(&pad);
}

static void
test_bad(void)
{
	static const unsigned char tlv_short[] = { 0x04, 0x00 };
	static const unsigned char tlv_over[] = { 0x04, 0x00, 0x09, 1, 2 };
	static const unsigned char crc3[] = { 0x03, 0x00, 0x03, 1, 2, 3 };
	struct bytes over = v2(0x21, 0x11, tcp4, sizeof(tcp4));
	struct bytes sigbad = v2(0x21, 0x11, tcp4, sizeof(tcp4));
	struct bytes twocrc = with_crc(v2(0x21, 0x11, tcp4, sizeof(tcp4)), 1);
	char	 long1[200];

	over.b[14] = 0x02;	/* 16 + 521 */
	over.b[15] = 0x09;
	sigbad.b[7] = 'q';
	twocrc = with_crc(twocrc, 1);
	memset(long1, 'x', sizeof(long1));
	memcpy(long1, "PROXY UNKNOWN ", 14);
	long1[120] = '\0';
	struct bad b[] = {
	    { "garbage", text("EHLO client\r\n"), "not a PROXY header" },
	    { "TLS hello", text("\x16\x03\x01\x02"), "not a PROXY header" },
	    { "lower case", text("proxy TCP4"), "not a PROXY header" },
	    { "v1 without its space", text("PROXYTCP4"),
		"not a PROXY header" },
	    { "v1 unknown protocol, early", text("PROXY TCP5 "),
		"v1: unknown protocol" },
	    { "v1 UNKNOWNX", text("PROXY UNKNOWNX\r\n"),
		"v1: unknown protocol" },
	    { "v1 leading zero in an octet",
		text("PROXY TCP4 192.0.2.01 198.51.100.2 1 25\r\n"),
		"v1: bad address" },
	    { "v1 octet 256", text("PROXY TCP4 192.0.2.256 1.2.3.4 1 25\r\n"),
		"v1: bad address" },
	    { "v1 three octets", text("PROXY TCP4 192.0.2 1.2.3.4 1 25\r\n"),
		"v1: bad address" },
	    { "v1 five octets", text("PROXY TCP4 1.2.3.4.5 1.2.3.4 1 25\r\n"),
		"v1: bad address" },
	    { "v1 TCP4 with IPv6", text("PROXY TCP4 ::1 ::2 1 25\r\n"),
		"v1: bad address" },
	    { "v1 TCP6 with IPv4", text("PROXY TCP6 1.2.3.4 1.2.3.5 1 25\r\n"),
		"v1: bad address" },
	    { "v1 TCP6 with a dotted tail",
		text("PROXY TCP6 ::ffff:1.2.3.4 ::1 1 25\r\n"),
		"v1: bad address" },
	    { "v1 TCP6 not 128 bits", text("PROXY TCP6 1:2:3 ::1 1 25\r\n"),
		"v1: bad address" },
	    { "v1 port 65536", text("PROXY TCP4 1.2.3.4 1.2.3.5 65536 25\r\n"),
		"v1: bad port" },
	    { "v1 port leading zero",
		text("PROXY TCP4 1.2.3.4 1.2.3.5 1 025\r\n"), "v1: bad port" },
	    { "v1 two spaces", text("PROXY TCP4 1.2.3.4  1.2.3.5 1 25\r\n"),
		"v1: bad field separation" },
	    { "v1 space before CRLF",
		text("PROXY TCP4 1.2.3.4 1.2.3.5 1 25 \r\n"),
		"v1: bad field separation" },
	    { "v1 three fields", text("PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n"),
		"v1: not four fields" },
	    { "v1 bare LF", text("PROXY UNKNOWN\n"), "v1: bare LF" },
	    { "v1 bare CR", text("PROXY UNKNOWN\rx"), "v1: bare CR" },
	    { "v1 no CRLF in 107 bytes", text(long1),
		"v1: no CRLF within 107 bytes" },
	    { "v2 wrong signature", sigbad, "v2: wrong signature" },
	    { "v2 wrong signature, early", text("\r\n\r\nX"),
		"v2: wrong signature" },
	    { "v2 version 1", v2(0x11, 0x11, tcp4, sizeof(tcp4)),
		"v2: version not 2" },
	    { "v2 version 3", v2(0x31, 0x11, tcp4, sizeof(tcp4)),
		"v2: version not 2" },
	    { "v2 command 2", v2(0x22, 0x11, tcp4, sizeof(tcp4)),
		"v2: unknown command" },
	    { "v2 UDP over IPv4", v2(0x21, 0x12, tcp4, sizeof(tcp4)),
		"v2: family or protocol not TCP over IPv4 or IPv6" },
	    { "v2 UNIX stream", v2(0x21, 0x31, NULL, 0),
		"v2: family or protocol not TCP over IPv4 or IPv6" },
	    { "v2 unknown family", v2(0x21, 0x41, tcp4, sizeof(tcp4)),
		"v2: family or protocol not TCP over IPv4 or IPv6" },
	    { "v2 UNSPEC family, STREAM", v2(0x21, 0x01, NULL, 0),
		"v2: family or protocol not TCP over IPv4 or IPv6" },
	    { "v2 TCP4 length 11", v2(0x21, 0x11, tcp4, 11),
		"v2: address block longer than the header" },
	    { "v2 TCP6 length 12", v2(0x21, 0x21, tcp4, sizeof(tcp4)),
		"v2: address block longer than the header" },
	    { "v2 longer than 536 bytes", over,
		"v2: header longer than 536 bytes" },
	    { "v2 truncated TLV", cat(v2(0x21, 0x11, tcp4, sizeof(tcp4)),
		tlv_short, sizeof(tlv_short)), "v2: truncated TLV" },
	    { "v2 TLV past the header", cat(v2(0x21, 0x11, tcp4, sizeof(tcp4)),
		tlv_over, sizeof(tlv_over)), "v2: TLV longer than the header" },
	    { "v2 bad CRC32C", with_crc(v2(0x21, 0x11, tcp4, sizeof(tcp4)), 0),
		"v2: CRC32C mismatch" },
	    { "v2 CRC32C of 3 bytes", cat(v2(0x21, 0x11, tcp4, sizeof(tcp4)),
		crc3, sizeof(crc3)), "v2: CRC32C TLV not 4 bytes" },
	    { "v2 two CRC32C TLVs", twocrc, "v2: two CRC32C TLVs" },
	};

	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		check_bad(&b[i]);
}

static void
test_crc(void)
{
	unit_ok(proxy_crc32c((const unsigned char *)"123456789", 9) ==
	    0xE3069283u, "CRC32c check value (RFC 3720 B.4)");
	unit_ok(proxy_crc32c((const unsigned char *)"", 0) == 0, "CRC32c of nothing");
}

/* test_read - exactly the header consumed, on a socket and on a pipe */
static void
test_read(void)
{
	static const char hdr[] = "PROXY TCP4 192.0.2.9 192.0.2.10 4242 25\r\n";
	struct proxy_header	 h;
	char			 rest[64] = "";
	int			 sv[2], pp[2];
	ssize_t			 n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || pipe(pp) == -1)
		abort();
	(void)!write(sv[1], hdr, sizeof(hdr) - 1);
	(void)!write(sv[1], "QUIT\r\n", 6);
	unit_ok(proxy_read(sv[0], 3, 2, &h) == 0 && h.family == AF_INET,
	    "proxy_read: a v1 header on a socket");
	n = read(sv[0], rest, sizeof(rest) - 1);
	unit_ok(n == 6 && memcmp(rest, "QUIT\r\n", 6) == 0,
	    "proxy_read: the bytes after the header are left");
	(void)!write(sv[1], hdr, sizeof(hdr) - 1);
	unit_ok(proxy_read(sv[0], PROXY_V2, 2, &h) == -1 &&
	    strcmp(h.why, "v1 header, proxy_protocol v2") == 0,
	    "proxy_read: a v1 header refused when v2 is wanted");
	(void)!read(sv[0], rest, sizeof(rest));
	(void)!write(sv[1], "PROXY TCP4 192.0.2.9", 20);
	unit_ok(proxy_read(sv[0], 3, 1, &h) == -1 &&
	    strcmp(h.why, "no complete header in timeout_proxy") == 0,
	    "proxy_read: a partial header times out");
	close(sv[1]);
	unit_ok(proxy_read(sv[0], 3, 1, &h) == -1 &&
	    strcmp(h.why, "closed before a complete header") == 0,
	    "proxy_read: EOF before the header");
	close(sv[0]);
	(void)!write(pp[1], hdr, sizeof(hdr) - 1);
	(void)!write(pp[1], "QUIT\r\n", 6);
	memset(rest, 0, sizeof(rest));
	unit_ok(proxy_read(pp[0], 1, 2, &h) == 0 && h.family == AF_INET,
	    "proxy_read: a v1 header on a pipe, byte by byte");
	n = read(pp[0], rest, sizeof(rest) - 1);
	unit_ok(n == 6 && memcmp(rest, "QUIT\r\n", 6) == 0,
	    "proxy_read: the pipe's bytes after the header are left");
	close(pp[0]);
	close(pp[1]);
}

int
main(void)
{
	test_good();
	test_bad();
	test_crc();
	test_read();
	return unit_done();
}
