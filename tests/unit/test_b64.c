/* test_b64: base64 of the AUTH dialogue (auth/auth_b64.c), RFC 4648. */
#include "auth/auth.h"
#include "unit.h"

struct b64_case {
	const char	*plain, *b64;
};

/* RFC 4648, section 10, and an AUTH PLAIN response with its NULs */
static const struct b64_case vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static const char *const bad[] = {
	"Zg=",		/* not a whole group */
	"Zg",
	"Z===",		/* a group needs two digits */
	"Zg=a",		/* a digit after the padding */
	"Zg==Zg==",	/* padding before the end */
	"Zm9v\r\n",	/* line ends are not base64 */
	"Zm 9",
	"Zm9-",		/* base64url's alphabet */
	"Zm9_",
	"====",
};

static void
test_vectors(void)
{
	char	 out[64], name[96];
	size_t	 len, n;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		n = strlen(vectors[i].plain);
		snprintf(name, sizeof(name), "encode '%s'", vectors[i].plain);
		unit_ok(auth_b64_encode(vectors[i].plain, n, out,
		    sizeof(out)) == 0, name);
		unit_str(out, vectors[i].b64, name);
		snprintf(name, sizeof(name), "decode '%s'", vectors[i].b64);
		len = 99;
		unit_ok(auth_b64_decode(vectors[i].b64, out, sizeof(out),
		    &len) == 0 && len == n && memcmp(out, vectors[i].plain,
		    n) == 0, name);
	}
}

static void
test_binary(void)
{
	static const char plain[] = "\0user\0secret \xff\x80";
	char	 b64[64], out[64];
	size_t	 len = 0;

	unit_ok(auth_b64_encode(plain, sizeof(plain) - 1, b64,
	    sizeof(b64)) == 0, "encode bytes with NULs and the high bit");
	unit_str(b64, "AHVzZXIAc2VjcmV0IP+A", "their base64");
	unit_ok(auth_b64_decode(b64, out, sizeof(out), &len) == 0 &&
	    len == sizeof(plain) - 1 && memcmp(out, plain, len) == 0,
	    "and back");
}

static void
test_bad(void)
{
	char	 out[64], name[96];
	size_t	 len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "bad base64 %zu refused", i + 1);
		unit_ok(auth_b64_decode(bad[i], out, sizeof(out), &len) == -1,
		    name);
	}
}

static void
test_room(void)
{
	char	 out[8];
	size_t	 len;

	unit_ok(auth_b64_decode("Zm9vYmFy", out, 6, &len) == 0 && len == 6,
	    "decode into exactly the room needed");
	unit_ok(auth_b64_decode("Zm9vYmFy", out, 5, &len) == -1,
	    "decode refuses one byte less");
	unit_ok(auth_b64_encode("foobar", 6, out, 8) == -1,
	    "encode refuses a buffer without room for the NUL");
	unit_ok(auth_b64_encode("foobar", 6, out, 0) == -1,
	    "encode refuses an empty buffer");
	unit_ok(auth_b64_encode("", 0, out, 1) == 0 && out[0] == '\0',
	    "nothing encodes to the empty string");
}

int
main(void)
{
	test_vectors();
	test_binary();
	test_bad();
	test_room();
	return unit_done();
}
