/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one loader of optional libraries (dlopen-util.h): opens a library by soname once per
 * process, fills its modules' sym_* pointers, remembers a failure and words it as one line
 * that names the package to install. Owns no library's symbols: each library's module does.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dlopen-util.h"
#include "log.h"
#include "macro.h"

/* One lock for every library: loads are rare and short, and threads may race the first. */
static pthread_mutex_t dlopen_lock = PTHREAD_MUTEX_INITIALIZER;

/* Opens lib and fills the pointers of args; returns 0 or the failure, with lib->why set. */
static int dlopen_lib_open(struct dlopen_lib *lib, va_list args)
{
	const char *name;
	void *dl;

	dl = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return why_set(&lib->why, -ELIBACC,
			       "cannot load %s %s: %s (install %s: %s)", lib->soname, lib->purpose,
			       dlerror(), lib->name, lib->install);
	while ((name = va_arg(args, const char *))) {
		void **p = va_arg(args, void **);

		*p = dlsym(dl, name);
		if (!*p)
			/* Not closed: pointers already filled may be used by nothing, but
			 * closing a library that another user opened too is never needed. */
			return why_set(&lib->why, -ELIBBAD,
				       "cannot use %s %s: it has no %s (install %s: %s)",
				       lib->soname, lib->purpose, name, lib->name, lib->install);
	}
	return 0;
}

int dlopen_lib_load(struct dlopen_lib *lib, char **ret_why, ...)
{
	va_list args;
	int r;

	/* The common case, once loaded: no lock. The release store below pairs with this. */
	if (__atomic_load_n(&lib->state, __ATOMIC_ACQUIRE) == 1)
		return 0;

	(void) pthread_mutex_lock(&dlopen_lock);
	if (lib->state == 0) {
		va_start(args, ret_why);
		r = dlopen_lib_open(lib, args);
		va_end(args);
		log_debug("%s %s", lib->soname, r < 0 ? "not loaded" : "loaded");
		__atomic_store_n(&lib->state, r < 0 ? r : 1, __ATOMIC_RELEASE);
	}
	r = lib->state == 1 ? 0 : lib->state;
	(void) pthread_mutex_unlock(&dlopen_lock);
	if (r >= 0)
		return 0;

	/* lib->why is never changed after the first attempt: safe to read unlocked. */
	if (ret_why)
		return why_set(ret_why, r, "%s", lib->why ? lib->why : lib->soname);
	if (__atomic_exchange_n(&lib->logged, true, __ATOMIC_RELAXED))
		return r;
	if (!lib->why)
		return log_error_errno(r, "cannot load %s: %m", lib->soname);
	return log_error_errno(r, "%s", lib->why);
}
