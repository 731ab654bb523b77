/*
 * fuzz_conf: the configuration parser (conf/conf.c).
 *
 * README.  The input is a whole smtpproxy.conf.  It is written to
 * /tmp/fuzz_conf.<pid> (one file per process, removed at exit) and read
 * with conf_init, conf_load and conf_check; then each line of the input
 * that holds a '=' is applied as "-o key=value" with conf_set; then
 * conf_dump and conf_free.  A configuration that loads and checks is
 * dumped (as -n -d prints it), the dump is loaded again into a fresh
 * struct conf, and the second dump must equal the first: what smtpproxy
 * prints as its configuration is a configuration it reads back the same.
 * (Not when helo_styles names a file: the dump lists that file's styles
 * and the file again.)  Inputs that name /dev, /proc or /sys are skipped,
 * as helo_styles would read from a device there.  Leaks of conf_free are
 * reported by LeakSanitizer.
 * Found: tests/fuzz/crashes/conf/msan-weight-blank-value ("weight \v"):
 * sscanf() finds no word, returns EOF, and conf_weight_line() compares
 * and prints the uninitialised name[].  ASan does not see it; this file
 * built with -fsanitize=fuzzer,memory (and an instrumented strlcpy in
 * place of libbsd's) does.
 *
 *   make fuzz FUZZ_TARGETS=conf
 *   build/fuzz/fuzz_conf -dict=tests/fuzz/conf.dict corpus-dir
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"

static char	 path[64], path2[64];
static int	 errors;

static void
err(const char *msg)
{
	if (msg == NULL || *msg == '\0')
		abort();
	errors++;
}

static void
cleanup(void)
{
	unlink(path);
	unlink(path2);
}

static void
write_file(const char *p, const void *data, size_t size)
{
	FILE *fp = fopen(p, "w");

	if (fp == NULL || (size > 0 && fwrite(data, size, 1, fp) != 1) ||
	    fclose(fp) != 0)
		abort();
}

/* conf_dump into a malloc'ed string. */
static char *
dump(const struct conf *c, size_t *len)
{
	char	*buf = NULL;
	FILE	*fp = open_memstream(&buf, len);

	if (fp == NULL)
		abort();
	conf_dump(c, fp);
	if (fclose(fp) != 0)
		abort();
	return buf;
}

static int
has(const uint8_t *data, size_t size, const char *s)
{
	return memmem(data, size, s, strlen(s)) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf	 c, c2;
	char			*d1, *d2, *copy;
	size_t			 l1, l2;
	int			 ok;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/fuzz_conf.%ld",
		    (long)getpid());
		snprintf(path2, sizeof(path2), "/tmp/fuzz_conf.%ld.dump",
		    (long)getpid());
		atexit(cleanup);
	}
	if (has(data, size, "/dev") || has(data, size, "/proc") ||
	    has(data, size, "/sys"))
		return 0;
	write_file(path, data, size);

	errors = 0;
	conf_init(&c);
	ok = conf_load(&c, path, err) == 0;
	if (ok != (errors == 0))
		abort();	/* -1 exactly when a problem was reported */
	ok = ok && conf_check(&c, err) == 0;

	if (ok && c.helo_styles[0] == '\0') {
		d1 = dump(&c, &l1);
		write_file(path2, d1, l1);
		errors = 0;
		conf_init(&c2);
		if (conf_load(&c2, path2, err) != 0 || conf_check(&c2, err) != 0)
			abort();	/* the dump of a good config is refused */
		d2 = dump(&c2, &l2);
		if (l1 != l2 || memcmp(d1, d2, l1) != 0)
			abort();	/* the dump does not read back the same */
		conf_free(&c2);
		free(d1);
		free(d2);
	}

	/* "-o key=value" for each line with a '=' */
	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *line = copy, *next; line != NULL; line = next) {
		char *eq;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		errors = 0;
		if ((conf_set(&c, line, eq + 1, "-o", err) == 0) != (errors == 0))
			abort();
	}
	free(copy);
	(void)conf_check(&c, err);
	d1 = dump(&c, &l1);
	free(d1);
	conf_free(&c);
	return 0;
}
