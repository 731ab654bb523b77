/*
 * dl: a shared library loaded at first use, with dlopen(3).  libssl
 * (STARTTLS, tls/) and libsasl2 (AUTH, auth/) are never linked: a plain
 * session, a fresh exec each time, would map and relocate them for nothing.
 *
 * A user lists the functions it needs once, in a table of function
 * pointers (DL_FN_PTR(f) declares the member for f) and in an array of
 * struct dl_sym (DL_SYM(table, f) names f and its offset in the table).
 */
#ifndef SMTPPROXY_DL_H
#define SMTPPROXY_DL_H

#include <stddef.h>

/* One function of a library: its name, and where its address goes in the
 * table of function pointers. */
struct dl_sym {
	const char	*name;
	size_t		 off;
};
#define DL_SYM(type, f)		{ #f, offsetof(struct type, f) },
#define DL_FN_PTR(f)		__typeof__(f) *f;

/* dl_load - dlopen() lib and store the address of each of the n symbols of
 * syms at its offset in table; the handle, or NULL (logged as
 * event=what-error) when the library or a symbol is missing. */
void	*dl_load(const char *what, const char *lib, const struct dl_sym *syms,
	    size_t n, void *table);

#endif
