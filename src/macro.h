/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Cleanup helpers written once; everything that owns a resource uses them. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))

/* Frees the first n strings of v, then v (NULL: nothing). */
static inline void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Hand ownership on: returns the value and leaves NULL / -EBADF behind. */
#define TAKE_PTR(p)                                     \
	({                                              \
		__typeof__(p) _tp_ = (p);               \
		(p) = NULL;                             \
		_tp_;                                   \
	})
#define TAKE_FD(fd)                                     \
	({                                              \
		int _tf_ = (fd);                        \
		(fd) = -EBADF;                          \
		_tf_;                                   \
	})

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Closes fd if valid; preserves errno so it can sit on error paths. */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		(void) close(fd);
		errno = saved;
	}
	return -EBADF;
}
static inline void closep(int *fd)
{
	*fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
	if (*f)
		(void) fclose(*f);
	*f = NULL;
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d)
{
	if (*d)
		(void) closedir(*d);
	*d = NULL;
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* json-c's reference drop, declared here so that this header needs no json-c header. */
struct json_object;
int json_object_put(struct json_object *obj);
static inline void json_object_putp(struct json_object **j)
{
	if (*j)
		(void) json_object_put(*j);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Negative errno from the current errno, never 0 (for code paths that must fail). */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

static inline const char *strempty(const char *s)
{
	return s ? s : "";
}

/* An environment variable that is set but empty counts as unset (DESIGN §1). */
static inline const char *getenv_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

#define streq(a, b) (strcmp((a), (b)) == 0)
#define startswith(s, prefix) (strncmp((s), (prefix), strlen(prefix)) == 0)
