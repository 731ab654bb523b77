/*
 * proxy: the receiving end of the PROXY protocol (HAProxy's
 * doc/proxy-protocol.txt, versions 1 and 2), for smtpproxy behind a load
 * balancer.
 *
 * proxy_parse(buf, len, h) is pure: it looks at the first len bytes of a
 * connection and answers PROXY_MORE (no verdict yet: every byte seen
 * belongs to the header, more are needed), PROXY_DONE (h->len is the
 * header's length, which may be less than len: what follows is the
 * protected protocol, untouched) or PROXY_BAD (h->why, a static reason).
 * h->version is set (1 or 2) as soon as the first byte tells, even with
 * PROXY_MORE, so that a caller can refuse a version early.  With
 * PROXY_DONE, h->family is AF_INET or AF_INET6 with h->src and h->dst
 * (address and port) filled, or AF_UNSPEC: v1 "UNKNOWN", v2 LOCAL, or v2
 * PROXY over AF_UNSPEC; the connection's real endpoints then stand.
 * Version 1: "PROXY TCP4|TCP6 src dst sport dport\r\n" with canonical
 * numbers (no leading zeros, IPv4 dotted quads, IPv6 hex groups and
 * colons only), or "PROXY UNKNOWN" then anything up to CRLF; at most 107
 * bytes with the CRLF; a bare CR or LF is invalid.  Version 2: the
 * 12-byte signature, version 2, command LOCAL (its payload skipped, not
 * interpreted) or PROXY; for PROXY, family/protocol 0x11 (TCP over IPv4),
 * 0x21 (TCP over IPv6) or 0x00 (UNSPEC: addresses ignored); the others,
 * UDP and UNIX included, are refused (the spec lets a receiver reject
 * them).  The address block must fit its length; the TLVs after it must
 * tile the rest exactly; a PP2_TYPE_CRC32C TLV must be 4 bytes, present
 * once, and match the CRC32c of the whole header with its value zeroed.
 * The whole header is at most PROXY_HEADER_MAX (536) bytes.
 * proxy_crc32c(buf, len) is that checksum (RFC 4960, Appendix B).
 *
 * The session side.  proxy_init(conf) opens the proxy_clients table (a
 * networks table of mkcdb, as relay_clients) once per process, before
 * privileges are dropped; proxy_changed() says whether its file was
 * replaced since; proxy_report(out) prints its state for -n (-1: unusable).
 * proxy_listed(addr, &why) says whether the peer at addr is a balancer
 * that must send a header: 1 yes, 0 no (no table, not listed, or a REJECT
 * entry), -1 table error (why: the table's problem).  proxy_read(fd, versions, timeout, h) reads
 * exactly one header from fd, never a byte after it (MSG_PEEK, then only
 * the bytes known to be the header's; byte by byte on a descriptor that
 * is not a socket), within timeout seconds for the whole header; versions
 * is a mask of PROXY_V1 and PROXY_V2 (enum conf_proxy's values are such
 * masks).  0 with h filled, or -1 with h->why set (timeout, EOF, read
 * error, invalid header, version not allowed).  Nothing is ever written.
 */
#ifndef SMTPPROXY_PROXY_H
#define SMTPPROXY_PROXY_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/conf.h"

#define PROXY_V1		0x01	/* version masks for proxy_read */
#define PROXY_V2		0x02
#define PROXY_V1_MAX		107	/* a v1 line with its CRLF */
#define PROXY_V2_FIXED		16	/* signature, ver_cmd, fam, len */
#define PROXY_HEADER_MAX	536	/* 576 - 40: one minimal TCP segment */

enum proxy_status { PROXY_MORE, PROXY_DONE, PROXY_BAD };
enum proxy_command { PROXY_CMD_LOCAL, PROXY_CMD_PROXY };

struct proxy_header {
	int			 version;	/* 1, 2; 0 not known yet */
	enum proxy_command	 command;	/* LOCAL: v2 only */
	int			 family;	/* AF_INET, AF_INET6, AF_UNSPEC */
	struct sockaddr_storage	 src, dst;
	size_t			 len;		/* header bytes, with PROXY_DONE */
	int			 crc;		/* a CRC32C TLV was checked */
	const char		*why;		/* with PROXY_BAD or -1 */
};

enum proxy_status proxy_parse(const unsigned char *buf, size_t len,
		    struct proxy_header *h);
uint32_t	 proxy_crc32c(const unsigned char *buf, size_t len);

int		 proxy_init(const struct conf *c);
int		 proxy_changed(void);
int		 proxy_report(FILE *out);
int		 proxy_listed(const char *addr, const char **why);
int		 proxy_read(int fd, int versions, int timeout,
		    struct proxy_header *h);

#endif
