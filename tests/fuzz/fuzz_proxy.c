/*
 * fuzz_proxy: the PROXY protocol header parser (proxy/proxy_parse.c).
 *
 * README.  The input is the first bytes of a connection.  proxy_parse()
 * must not read past them and must answer one of its three verdicts.
 * Checked: a PROXY_BAD has a reason; a PROXY_DONE has a length within the
 * input and within 536 bytes (107 for v1), a version, a family of
 * AF_INET, AF_INET6 or AF_UNSPEC whose addresses are of that family; the
 * same header alone parses to the same verdict, length and addresses;
 * every shorter prefix of it answers PROXY_MORE (the reader relies on
 * this: with "need more", every byte seen is the header's, so it may
 * consume them); a PROXY_MORE input is shorter than 536 bytes, and with
 * its version known that version is 1 or 2.  The input is parsed from a
 * heap copy of its exact size, so that ASan sees any overread.
 *
 *   make fuzz FUZZ_TARGETS=proxy
 *   build/fuzz/fuzz_proxy -dict=tests/fuzz/proxy.dict corpus-dir
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"

/* fuzz_same - two DONE headers say the same thing */
static int
fuzz_same(const struct proxy_header *a, const struct proxy_header *b)
{
	return a->len == b->len && a->version == b->version &&
	    a->family == b->family && a->command == b->command &&
	    a->crc == b->crc &&
	    memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	    memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0;
}

/* fuzz_done - the checks of a complete header */
static void
fuzz_done(const unsigned char *buf, size_t len, const struct proxy_header *h)
{
	struct proxy_header	 again;
	unsigned char		*copy;

	if (h->len == 0 || h->len > len || h->len > PROXY_HEADER_MAX ||
	    (h->version == 1 && h->len > PROXY_V1_MAX) ||
	    (h->version != 1 && h->version != 2))
		abort();
	if (h->family != AF_UNSPEC && h->family != AF_INET &&
	    h->family != AF_INET6)
		abort();
	if (h->family != AF_UNSPEC && (h->src.ss_family != h->family ||
	    h->dst.ss_family != h->family))
		abort();
	if ((copy = malloc(h->len)) == NULL)
		return;
	memcpy(copy, buf, h->len);
	if (proxy_parse(copy, h->len, &again) != PROXY_DONE ||
	    !fuzz_same(h, &again))
		abort();
	for (size_t k = 0; k < h->len; k++)
		if (proxy_parse(copy, k, &again) != PROXY_MORE)
			abort();
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header	 h;
	unsigned char		*buf;
	enum proxy_status	 st;

	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	st = proxy_parse(buf, size, &h);
	switch (st) {
	case PROXY_BAD:
		if (h.why == NULL || h.why[0] == '\0')
			abort();
		break;
	case PROXY_DONE:
		fuzz_done(buf, size, &h);
		break;
	case PROXY_MORE:
		if (size >= PROXY_HEADER_MAX || h.version > 2)
			abort();
		break;
	default:
		abort();
	}
	free(buf);
	return 0;
}
