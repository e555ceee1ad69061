/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Source specs and names: parsing a SPEC or a source flag into a struct kts_source_spec (no
 * I/O), kernel version strings (MAJOR.MINOR[.PATCH][-rcN]), and the label and identity strings
 * of every kind (source.h describes both), written here so that the cache key's naming lives
 * in one place.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source-internal.h"

static const char *const kind_names[_KTS_SOURCE_KIND_MAX] = {
	[KTS_SOURCE_LOCAL] = "local",
	[KTS_SOURCE_TARBALL] = "tarball",
	[KTS_SOURCE_RELEASE] = "release",
	[KTS_SOURCE_GIT] = "git",
};

const char *source_kind_to_string(enum kts_source_kind k)
{
	return k >= 0 && k < _KTS_SOURCE_KIND_MAX ? kind_names[k] : NULL;
}

/* ---- versions ---------------------------------------------------------------------------- */

/* Parses "N" (no leading zeros except "0"), advancing *p. */
static bool parse_num(const char **p, unsigned long *ret)
{
	const char *s = *p;
	unsigned long v = 0;

	if (!isdigit((unsigned char) *s))
		return false;
	if (s[0] == '0' && isdigit((unsigned char) s[1]))
		return false;
	for (; isdigit((unsigned char) *s); s++) {
		if (v > 100000000ul)
			return false;
		v = v * 10 + (unsigned long) (*s - '0');
	}
	*p = s;
	*ret = v;
	return true;
}

bool source_version_parse(const char *s, unsigned long v[3], unsigned long *ret_rc,
			  unsigned *ret_segments)
{
	unsigned long t[3] = {}, rc = 0;
	unsigned n = 0;

	for (;;) {
		if (n == 3 || !parse_num(&s, &t[n]))
			return false;
		n++;
		if (*s != '.')
			break;
		s++;
	}
	if (n < 2)
		return false;
	if (startswith(s, "-rc")) {
		s += 3;
		if (!parse_num(&s, &rc) || rc == 0)
			return false;
	}
	if (*s)
		return false;
	if (v)
		memcpy(v, t, sizeof(t));
	if (ret_rc)
		*ret_rc = rc;
	if (ret_segments)
		*ret_segments = n;
	return true;
}

bool source_is_release_spec(const char *s)
{
	return s && (streq(s, "stable") || streq(s, "mainline") ||
		     source_version_parse(s, NULL, NULL, NULL));
}

char *source_tarball_version(const char *name)
{
	static const char *const exts[] = { ".tar.xz", ".tar.gz", ".tar.zst", ".tar.bz2",
					    ".tgz",    ".txz",    ".tar" };
	static const char *const prefixes[] = { "linux-source-", "linux-" };
	const char *base = strrchr(name, '/');
	size_t n;

	base = base ? base + 1 : name;
	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
		_cleanup_free_ char *v = NULL;

		if (!startswith(base, prefixes[i]))
			continue;
		v = strdup(base + strlen(prefixes[i]));
		if (!v)
			return NULL;
		n = strlen(v);
		for (size_t j = 0; j < ELEMENTSOF(exts); j++) {
			size_t l = strlen(exts[j]);

			if (n > l && streq(v + n - l, exts[j])) {
				v[n - l] = '\0';
				break;
			}
		}
		if (source_version_parse(v, NULL, NULL, NULL))
			return TAKE_PTR(v);
	}
	return NULL;
}

/* ---- specs ------------------------------------------------------------------------------- */

void source_spec_done(struct kts_source_spec *s)
{
	if (!s)
		return;
	free(s->path);
	free(s->version);
	free(s->url);
	free(s->ref);
	*s = (struct kts_source_spec){};
}

int source_spec_local(const char *dir, struct kts_source_spec *ret)
{
	struct kts_source_spec s = { .kind = KTS_SOURCE_LOCAL };

	if (!dir || !*dir || !ret)
		return -EINVAL;
	s.path = strdup(dir);
	if (!s.path)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int source_spec_tarball(const char *file_or_url, struct kts_source_spec *ret)
{
	int r = source_spec_local(file_or_url, ret);

	if (r >= 0)
		ret->kind = KTS_SOURCE_TARBALL;
	return r;
}

int source_spec_git(const char *url, const char *ref, struct kts_source_spec *ret)
{
	struct kts_source_spec s = { .kind = KTS_SOURCE_GIT };

	if (!url || !*url || !ref || !*ref || !ret)
		return -EINVAL;
	s.url = strdup(url);
	s.ref = strdup(ref);
	if (!s.url || !s.ref) {
		source_spec_done(&s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

int source_spec_parse(const char *s, struct kts_source_spec *ret)
{
	struct kts_source_spec spec = {};

	if (!s || !*s || !ret)
		return -EINVAL;

	if (startswith(s, "git+")) {
		_cleanup_free_ char *url = strdup(s + 4);
		char *hash;

		if (!url)
			return -ENOMEM;
		/* The last '#' separates the ref, so URL fragments survive. */
		hash = strrchr(url, '#');
		if (!hash || hash == url || !hash[1])
			return -EINVAL;
		*hash = '\0';
		return source_spec_git(url, hash + 1, ret);
	}

	if (source_is_release_spec(s)) {
		spec.kind = KTS_SOURCE_RELEASE;
		spec.version = strdup(s);
		if (!spec.version)
			return -ENOMEM;
		*ret = spec;
		return 0;
	}

	return source_spec_local(s, ret);
}

static bool is_kernel_tree(const char *dir)
{
	_cleanup_free_ char *mk = NULL, *kc = NULL;

	if (asprintf(&mk, "%s/Makefile", dir) < 0 || asprintf(&kc, "%s/Kconfig", dir) < 0)
		return false;
	return access(mk, F_OK) == 0 && access(kc, F_OK) == 0;
}

int source_spec_default(struct kts_source_spec *ret)
{
	_cleanup_free_ char *cwd = getcwd(NULL, 0);

	if (cwd && is_kernel_tree(cwd))
		return source_spec_local(cwd, ret);
	return source_spec_parse("stable", ret);
}

/* ---- labels and identities --------------------------------------------------------------- */

/* Replaces s->label and s->identity, taking ownership of both (identity may be NULL). */
static void set_names(struct kts_source *s, char *label, char *identity)
{
	free(s->label);
	free(s->identity);
	s->label = label;
	s->identity = identity;
}

int source_name_local(struct kts_source *s, const struct kts_local_state *st)
{
	_cleanup_free_ char *label = NULL, *identity = NULL;
	int r;

	if (!st->git)
		r = asprintf(&label, "local-nogit");
	else if (st->dirty)
		r = asprintf(&label, "local-%.12s-dirty-%.12s", st->commit, st->state);
	else
		r = asprintf(&label, "local-%.12s", st->commit);
	/* Content, not place: the same commit and changes elsewhere are the same input. A tree
	 * inside a larger repository is also named by its subdirectory. */
	if (r >= 0 && st->git)
		r = asprintf(&identity, "local %s%s%s%s%s", st->commit, st->dirty ? " dirty " : "",
			     st->dirty ? st->state : "", st->subdir ? " subdir " : "",
			     strempty(st->subdir));
	if (r < 0)
		return -ENOMEM;
	set_names(s, TAKE_PTR(label), TAKE_PTR(identity));
	return 0;
}

int source_name_tarball(struct kts_source *s, const char *file_name, const char *sha)
{
	_cleanup_free_ char *ver = source_tarball_version(file_name);
	_cleanup_free_ char *label = NULL, *identity = NULL;

	if (asprintf(&identity, "tarball %s", sha) < 0 ||
	    (ver ? asprintf(&label, "tar-%s-%.8s", ver, sha) : asprintf(&label, "tar-%.12s", sha)) <
		    0)
		return -ENOMEM;
	memcpy(s->tarball_sha256, sha, sizeof(s->tarball_sha256));
	if (ver) {
		free(s->version);
		s->version = TAKE_PTR(ver);
	}
	set_names(s, TAKE_PTR(label), TAKE_PTR(identity));
	return 0;
}

int source_name_release(struct kts_source *s, const char *version, const char *sha)
{
	_cleanup_free_ char *label = strdup(version), *identity = NULL;

	if (!label || (sha && asprintf(&identity, "release %s %s", version, sha) < 0))
		return -ENOMEM;
	set_names(s, TAKE_PTR(label), TAKE_PTR(identity));
	return 0;
}

int source_name_git(struct kts_source *s, const char *commit_hex)
{
	_cleanup_free_ char *label = NULL, *identity = NULL;

	if (asprintf(&label, "git-%.12s", commit_hex) < 0 ||
	    asprintf(&identity, "git %s", commit_hex) < 0)
		return -ENOMEM;
	set_names(s, TAKE_PTR(label), TAKE_PTR(identity));
	return 0;
}
