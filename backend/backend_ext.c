/*
 * backend_ext.c: what the backend offers, learnt from its EHLO reply and
 * kept in a small file (backend_ehlo_cache), so that a session can answer
 * the client's EHLO with the backend's DSN and SMTPUTF8 before it has
 * talked to the backend (backend_extensions auto).
 *
 * The file holds the keyword lines of the backend's last EHLO reply, one
 * per line, upper case.  Any session that opened the backend rewrites it
 * when it is missing, differs, or is older than BACKEND_EXT_REFRESH
 * seconds; it is replaced whole (temp file, rename), so a reader never
 * sees half of it.  A session that cannot write it goes on.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "backend.h"
#include "log.h"

#define BACKEND_EXT_REFRESH	300	/* seconds */

/* backend_ehlo_has - is keyword one of the "\nKEYWORD params" lines? */
int
backend_ehlo_has(const char *ehlo, const char *keyword)
{
	size_t		 len = strlen(keyword);
	const char	*p = ehlo;

	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (strncmp(p, keyword, len) == 0 &&
		    (p[len] == '\0' || p[len] == ' ' || p[len] == '\n'))
			return 1;
	}
	return 0;
}

/* backend_ext_bits - the CONF_EXT_* bits the EHLO lines ehlo offer */
int
backend_ext_bits(const char *ehlo)
{
	return (backend_ehlo_has(ehlo, "DSN") ? CONF_EXT_DSN : 0) |
	    (backend_ehlo_has(ehlo, "SMTPUTF8") ? CONF_EXT_SMTPUTF8 : 0);
}

/* The file as "\nKEYWORD..." lines in buf; its age in *age; -1: none. */
static int
backend_ext_read(const char *path, char *buf, size_t size, time_t *age)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if (path[0] == '\0' || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	buf[0] = '\n';
	n = fstat(fd, &st) == 0 ? read(fd, buf + 1, size - 2) : -1;
	close(fd);
	if (n < 0)
		return -1;
	buf[n + 1] = '\0';
	if (n > 0 && buf[n] == '\n')
		buf[n] = '\0';	/* the same shape as a kept EHLO reply */
	if (age != NULL)
		*age = time(NULL) - st.st_mtime;
	return 0;
}

/* backend_ext_cached - the bits the cache file lists; -1 if none is kept */
int
backend_ext_cached(const char *path)
{
	char buf[BACKEND_EHLO_MAX + 2];

	if (backend_ext_read(path, buf, sizeof(buf), NULL) == -1)
		return -1;
	return backend_ext_bits(buf);
}

/* Write ehlo ("\nKW..." lines) to path whole: temp file, then rename. */
static int
backend_ext_write(const char *path, const char *ehlo)
{
	char	 tmp[1100];
	size_t	 len = strlen(ehlo + (ehlo[0] == '\n'));
	int	 fd, ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp))
		return -1;
	if ((fd = mkstemp(tmp)) == -1)
		return -1;
	ok = fchmod(fd, 0644) == 0 &&
	    write(fd, ehlo + (ehlo[0] == '\n'), len) == (ssize_t)len &&
	    write(fd, "\n", 1) == 1;
	if (close(fd) == -1 || !ok || rename(tmp, path) == -1) {
		int saved = errno;

		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

/* backend_ext_save - keep ehlo in path if it is missing, differs or is
 * old (always with force); 1 written, 0 left as it was, -1 error */
int
backend_ext_save(const char *path, const char *ehlo, int force)
{
	char	 old[BACKEND_EHLO_MAX + 2];
	time_t	 age;

	if (path[0] == '\0')
		return 0;
	if (!force && backend_ext_read(path, old, sizeof(old), &age) == 0 &&
	    strcmp(old, ehlo) == 0 && age >= 0 && age < BACKEND_EXT_REFRESH)
		return 0;
	if (backend_ext_write(path, ehlo) == -1) {
		log_debug("backend: cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	log_debug("backend: EHLO reply kept in %s", path);
	return 1;
}
