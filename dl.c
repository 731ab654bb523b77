/*
 * dl.c: a shared library loaded at first use, with dlopen(3) (dl.h).
 */
#include <dlfcn.h>
#include <string.h>

#include "dl.h"
#include "log.h"

/* dl_load - open lib, fill table from syms; the handle or NULL (logged). */
void *
dl_load(const char *what, const char *lib, const struct dl_sym *syms,
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
