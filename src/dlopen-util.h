/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Optional libraries loaded on first use (dlopen-util.c). ktscope links only what every
 * command needs (libsystemd, json-c, libc; not libm): each DT_NEEDED library is mapped, relocated
 * and unmapped by every exec, fork and exit, `ktscope run` included. libgit2, libblkid,
 * libelf, libbpf, libcrypto and libcurl are opened by soname when a command first calls into
 * them, through a table of function pointers named sym_<function>. One private header per
 * library declares the pointers with DLSYM_PROTOTYPE() and maps each name onto its pointer
 * (`#define git_foo sym_git_foo`), so call sites keep the library's own names; the module
 * that defines the pointers fills them with dlopen_lib_load(..., DLSYM_ARG(git_foo), ...,
 * NULL), which checks each pointer's type against the library's prototype at compile time.
 *
 * A library is opened once per process (under a lock: the status walk runs threads) and
 * never closed; a failure is remembered, so every later call returns the same result.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The pointer that stands for function `name` of a library loaded with dlopen(). */
#define DLSYM_PROTOTYPE(name) extern __typeof__(name) *sym_##name
#define DLSYM_DEFINE(name) __typeof__(name) *sym_##name

/*
 * One (symbol name, pointer) pair of dlopen_lib_load()'s list; fails to compile if sym_name's
 * type differs from &name's. Use it where `name` is not mapped onto sym_name yet (before the
 * library header's #defines, or with them turned off). DLSYM_ARG_PTR(ptr, name) fills any
 * pointer ptr the same way. DLSYM_ARG_FORCE skips the check, for a function whose prototype a
 * library version wraps in a macro.
 */
#define DLSYM_ARG(name) DLSYM_CHECKED(sym_##name, name, #name)
#define DLSYM_ARG_PTR(ptr, name) DLSYM_CHECKED(ptr, name, #name)
#define DLSYM_CHECKED(ptr, name, str)                                                            \
	({                                                                                       \
		_Static_assert(__builtin_types_compatible_p(__typeof__(ptr), __typeof__(&(name))), \
			       "the pointer for " str " does not match its prototype");          \
		str;                                                                             \
	}),                                                                                      \
		(void **) &(ptr)
#define DLSYM_ARG_FORCE(name) #name, (void **) &sym_##name

/* One optional library: what to open, and what to tell a user who lacks it. */
struct dlopen_lib {
	const char *soname;  /* "libgit2.so.1.5": from configure (KTS_SONAME_*) */
	const char *name;    /* "libgit2", in messages */
	const char *purpose; /* "to read git trees" */
	const char *install; /* "Debian libgit2-1.5, Fedora libgit2, Arch libgit2" */
	int state;           /* 0 not tried, 1 loaded, negative errno: failed (read under the lock) */
	char *why;           /* the failure's one line, kept for the life of the process */
	bool logged;         /* the failure was logged */
};

/*
 * Opens lib->soname (RTLD_NOW | RTLD_LOCAL) the first time and fills every pointer of the
 * NULL-terminated list of (const char *symbol, void **pointer) pairs (DLSYM_ARG()); later
 * calls return the first call's result. Returns 0; -ELIBACC when the library cannot be
 * opened, -ELIBBAD when it lacks one of the symbols (a library of the same soname but of
 * another build). On failure, sets *ret_why (when not NULL) to one line naming the library,
 * what it is for and the packages that provide it; with ret_why NULL the line is logged at
 * error level, once per process and library.
 */
int dlopen_lib_load(struct dlopen_lib *lib, char **ret_why, ...);

