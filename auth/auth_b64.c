/*
 * auth_b64.c: base64 (RFC 4648, section 4) for the AUTH dialogue.
 * Strict on input: the standard alphabet only, whole groups of four, and
 * "=" padding only at the end, as RFC 4954 asks of a client.
 */
#include <string.h>

#include "auth.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of one base64 digit, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* One group of four digits into up to three bytes; how many, or -1. */
static int
b64_group(const char *g, int last, unsigned char out[3])
{
	int	 v[4], pad = 0;

	for (int i = 0; i < 4; i++) {
		if (g[i] == '=' && last && i >= 2 && (i == 3 || g[3] == '=')) {
			v[i] = 0;
			pad++;
		} else if ((v[i] = b64_value((unsigned char)g[i])) == -1)
			return -1;
	}
	out[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	out[1] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
	out[2] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	return 3 - pad;
}

/* in (a C string) into out, at most size bytes; -1 on bad base64 or no room. */
int
auth_b64_decode(const char *in, char *out, size_t size, size_t *len)
{
	size_t		 inlen = strlen(in), n = 0;
	unsigned char	 b[3];
	int		 k;

	if (inlen % 4 != 0)
		return -1;
	for (size_t i = 0; i < inlen; i += 4) {
		if ((k = b64_group(in + i, i + 4 == inlen, b)) == -1 ||
		    (size_t)k > size - n)
			return -1;
		memcpy(out + n, b, (size_t)k);
		n += (size_t)k;
	}
	*len = n;
	return 0;
}

/* len bytes of in as base64 into out, NUL-terminated; -1 if no room. */
int
auth_b64_encode(const char *in, size_t len, char *out, size_t size)
{
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 n = 0;

	if (size == 0 || (len + 2) / 3 > (size - 1) / 4)
		return -1;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[n++] = b64_alphabet[v >> 18 & 0x3f];
		out[n++] = b64_alphabet[v >> 12 & 0x3f];
		out[n++] = i + 1 < len ? b64_alphabet[v >> 6 & 0x3f] : '=';
		out[n++] = i + 2 < len ? b64_alphabet[v & 0x3f] : '=';
	}
	out[n] = '\0';
	return 0;
}
