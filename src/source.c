/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Source acquisition and identity, the entry points (source.h): source_open() and
 * source_fetch() hand each kind to its own file (source-internal.h lists them), and
 * source_free(). Also the helpers every source-*.c file uses: the "why" explanations,
 * path joining and the kernel-tree check.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "source-internal.h"

int source_why_first(char **why, int r, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!why || *why)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*why = s;
	if (s)
		log_debug("source: %s", s);
	return r;
}

int source_why_finish(int r, char **why, char **ret_why)
{
	if (r < 0 && ret_why && *why)
		*ret_why = TAKE_PTR(*why);
	free(*why);
	*why = NULL;
	return r;
}

int source_strdup_to(char **dst, const char *s)
{
	char *c = strdup(s);

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

char *source_path_join(const char *a, const char *b)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

int source_check_kernel_tree(const char *dir, char **why)
{
	static const char *const need[] = { "Makefile", "Kconfig" };

	for (size_t i = 0; i < ELEMENTSOF(need); i++) {
		_cleanup_free_ char *p = source_path_join(dir, need[i]);
		struct stat st;

		if (!p)
			return -ENOMEM;
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
			return source_why_first(why, -ENOEXEC,
						"'%s' is not a kernel source tree: it has no %s",
						dir, need[i]);
	}
	return 0;
}

void source_free(struct kts_source *s)
{
	if (!s)
		return;
	free(s->dir);
	free(s->label);
	free(s->identity);
	free(s->why);
	free(s->version);
	free(s->url);
	free(s->ref);
	free(s->path);
	free(s);
}

static int open_kind(const struct kts_source_spec *spec, const struct kts_fetch_opts *opts,
		     struct kts_source *s, char **why)
{
	switch (spec->kind) {
	case KTS_SOURCE_LOCAL:
		return spec->path ? source_local_open(spec->path, s, why) : -EINVAL;
	case KTS_SOURCE_TARBALL:
		return spec->path ? source_tarball_open(spec->path, opts, s, why) : -EINVAL;
	case KTS_SOURCE_RELEASE:
		return spec->version ? source_release_open(spec->version, opts, s, why) : -EINVAL;
	case KTS_SOURCE_GIT:
		return spec->url && spec->ref ? source_git_open(spec->url, spec->ref, s, why)
					      : -EINVAL;
	default:
		return -EINVAL;
	}
}

int source_open(const struct kts_source_spec *spec, const struct kts_fetch_opts *opts,
		struct kts_source **ret, char **ret_why)
{
	_cleanup_git_;
	_cleanup_source_ struct kts_source *s = NULL;
	char *why = NULL;
	int r;

	if (!spec || !ret)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kind = spec->kind;
	r = open_kind(spec, opts, s, &why);
	if (r < 0)
		return source_why_finish(r, &why, ret_why);
	free(why);
	*ret = TAKE_PTR(s);
	return 0;
}

int source_fetch(struct kts_source *s, const char *workdir, const struct kts_fetch_opts *opts,
		 char **ret_why)
{
	_cleanup_git_;
	char *why = NULL;
	int r;

	if (!s)
		return -EINVAL;
	if (s->kind == KTS_SOURCE_LOCAL)
		return 0;
	if (!workdir)
		return -EINVAL;

	switch (s->kind) {
	case KTS_SOURCE_TARBALL:
		r = source_tarball_fetch(s, workdir, opts, &why);
		break;
	case KTS_SOURCE_RELEASE:
		r = source_release_fetch(s, workdir, opts, &why);
		break;
	case KTS_SOURCE_GIT:
		r = source_git_fetch(s, workdir, &why);
		break;
	default:
		r = -EINVAL;
	}
	return source_why_finish(r, &why, ret_why);
}
