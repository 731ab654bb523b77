/*
 * auth_dl.c: a shared library loaded at first use, with dlopen(3).
 * libssl (STARTTLS) and libsasl2 (AUTH) are not linked: a plain session,
 * a fresh exec each time, would map and relocate them for nothing.
 */
#include <dlfcn.h>
#include <string.h>

#include "auth.h"
#include "log.h"

/*
 * Open lib and fill table with the address of every symbol of syms;
 * the handle, or NULL (logged as event=what-error) when the library or a
 * symbol is missing.
 */
void *
auth_dl(const char *what, const char *lib, const struct auth_sym *syms,
    size_t n, void *table)
{
	void	*h, *fn;

	if ((h = dlopen(lib, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		log_warnx("event=%s-error reason=\"%s\"", what, dlerror());
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((fn = dlsym(h, syms[i].name)) == NULL) {
			log_warnx("event=%s-error reason=\"%s: no %s\"", what,
			    lib, syms[i].name);
			dlclose(h);
			return NULL;
		}
		memcpy((char *)table + syms[i].off, &fn, sizeof(fn));
	}
	return h;
}
