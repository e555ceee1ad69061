/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kernel.org releases (source.h, "release"): resolving "6.12", "stable" or "mainline" to a
 * version through releases.json (or, for an end-of-life series, the mirror's sha256sums.asc),
 * the tarball's checksum from sha256sums.asc before any download, and the download verified
 * against it. The mirror is kts_fetch_opts.mirror, else $KTSCOPE_KERNEL_MIRROR, else
 * cdn.kernel.org. Downloads go through http.c.
 */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "source-internal.h"
#include "util.h"

/* Body sizes we are willing to hold in memory (releases.json is ~10 KiB, sums ~100 KiB). */
#define SMALL_BODY_MAX (8u << 20)

/* ---- the mirror's URLs ------------------------------------------------------------------- */

static bool mirror_configured(const struct kts_fetch_opts *o)
{
	return (o && o->mirror && *o->mirror) || getenv_nonempty("KTSCOPE_KERNEL_MIRROR");
}

static const char *fetch_mirror(const struct kts_fetch_opts *o)
{
	const char *m = o && o->mirror && *o->mirror ? o->mirror
						     : getenv_nonempty("KTSCOPE_KERNEL_MIRROR");

	return m ? m : SOURCE_DEFAULT_MIRROR;
}

/* The mirror without trailing slashes. Caller frees. */
static char *mirror_base(const struct kts_fetch_opts *o)
{
	char *m = strdup(fetch_mirror(o));
	size_t n;

	if (!m)
		return NULL;
	for (n = strlen(m); n > 0 && m[n - 1] == '/'; n--)
		m[n - 1] = '\0';
	return m;
}

static char *releases_url(const struct kts_fetch_opts *o)
{
	_cleanup_free_ char *m = NULL;
	char *u = NULL;

	if (o && o->releases_url && *o->releases_url)
		return strdup(o->releases_url);
	/* A configured mirror serves its own releases.json; kernel.org's CDN does not. */
	if (!mirror_configured(o))
		return strdup(SOURCE_DEFAULT_RELEASES_URL);
	m = mirror_base(o);
	if (!m || asprintf(&u, "%s/releases.json", m) < 0)
		return NULL;
	return u;
}

static int version_major(const char *version, unsigned long *ret)
{
	unsigned long v[3];

	if (!source_version_parse(version, v, NULL, NULL))
		return -EINVAL;
	*ret = v[0];
	return 0;
}

int source_release_url(const char *version, const struct kts_fetch_opts *opts, char **ret)
{
	_cleanup_free_ char *m = NULL;
	unsigned long major;
	char *u;

	if (!version || !ret || version_major(version, &major) < 0)
		return -EINVAL;
	m = mirror_base(opts);
	if (!m || asprintf(&u, "%s/v%lu.x/linux-%s.tar.xz", m, major, version) < 0)
		return -ENOMEM;
	*ret = u;
	return 0;
}

static char *sums_url(const char *version, const struct kts_fetch_opts *opts)
{
	_cleanup_free_ char *m = mirror_base(opts);
	unsigned long major;
	char *u;

	if (!m || version_major(version, &major) < 0 ||
	    asprintf(&u, "%s/v%lu.x/sha256sums.asc", m, major) < 0)
		return NULL;
	return u;
}

/* GETs a small document (releases.json, a checksum list) into memory. */
static int get_small(const char *url, const char *what, const char *site, char **ret_body,
		     char **why)
{
	const struct http_request req = {
		.url = url, .what = what, .site_role = "mirror", .site = site
	};
	_cleanup_free_ char *err = NULL;
	int r;

	r = http_get_memory(&req, SMALL_BODY_MAX, ret_body, NULL, NULL, &err);
	if (r < 0)
		return source_why_first(why, r, "%s", err ? err : strerror(-r));
	return 0;
}

/* ---- versions in releases.json and sha256sums.asc ---------------------------------------- */

/* Is a newer than b? (3-tuples; rc versions are never compared here.) */
static bool version_newer(const unsigned long a[3], const unsigned long b[3])
{
	for (int i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return false;
}

/* "6.12" matches "6.12" and "6.12.N"; never rc versions. */
static bool version_in_series(const char *version, const char *prefix, unsigned long ret[3])
{
	unsigned long rc;
	size_t n = strlen(prefix);

	if (strncmp(version, prefix, n) != 0 || (version[n] != '\0' && version[n] != '.'))
		return false;
	return source_version_parse(version, ret, &rc, NULL) && rc == 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * One "<64 hex>  linux-{version}.tar.xz" line (line[0..len), the next lines follow it): the
 * version (malloc'd) and the lowercase hash, or 0 when the line is something else.
 */
static int sums_line(const char *line, size_t len, char **ret_version, char hash[65])
{
	const char *name, *end = line + len;
	size_t n;

	while (end > line && (is_blank(end[-1]) || end[-1] == '\r'))
		end--;
	if (end - line < 64 + 1 + 14)
		return 0;
	for (size_t i = 0; i < 64; i++)
		if (!isxdigit((unsigned char) line[i]))
			return 0;
	if (!is_blank(line[64]))
		return 0;
	for (name = line + 64; is_blank(*name); name++)
		;
	n = (size_t) (end - name);
	if (n <= 13 || memchr(name, ' ', n) || memchr(name, '\t', n) ||
	    strncmp(name, "linux-", 6) != 0 || strncmp(end - 7, ".tar.xz", 7) != 0)
		return 0;
	*ret_version = strndup(name + 6, n - 13);
	if (!*ret_version)
		return -ENOMEM;
	for (size_t i = 0; i < 64; i++)
		hash[i] = (char) tolower((unsigned char) line[i]);
	hash[64] = '\0';
	return 1;
}

/* sha256sums.asc: see source-internal.h. */
int source_release_sums_lookup(const char *body, const char *version, const char *series,
			       char ret_sha[65], char **ret_version)
{
	unsigned long best[3] = {}, v[3];
	_cleanup_free_ char *best_name = NULL;
	char best_sha[65] = "";

	for (const char *line = body, *eol; line && *line; line = eol ? eol + 1 : NULL) {
		_cleanup_free_ char *ver = NULL;
		char hash[65];
		int r;

		eol = strchr(line, '\n');
		r = sums_line(line, eol ? (size_t) (eol - line) : strlen(line), &ver, hash);
		if (r <= 0) {
			if (r < 0)
				return r;
			continue;
		}
		if (version && streq(ver, version)) {
			memcpy(ret_sha, hash, 65);
			return 0;
		}
		if (series && version_in_series(ver, series, v) &&
		    (!best_name || version_newer(v, best))) {
			memcpy(best, v, sizeof(best));
			memcpy(best_sha, hash, 65);
			free(best_name);
			best_name = TAKE_PTR(ver);
		}
	}
	if (series && best_name) {
		memcpy(ret_sha, best_sha, 65);
		*ret_version = TAKE_PTR(best_name);
		return 0;
	}
	return -ENOENT;
}

static const char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* "mainline": the entry with that moniker; "6.12": the newest 6.12.y. linux-next never. */
static const char *releases_pick(struct json_object *rels, const char *spec)
{
	unsigned long best[3] = {}, v[3];
	const char *found = NULL;

	for (size_t i = 0; i < json_object_array_length(rels); i++) {
		struct json_object *e = json_object_array_get_idx(rels, i);
		const char *moniker = json_str(e, "moniker"), *ver = json_str(e, "version");

		if (!moniker || !ver || streq(moniker, "linux-next"))
			continue;
		if (streq(spec, "mainline")) {
			if (streq(moniker, "mainline"))
				return ver;
		} else if (version_in_series(ver, spec, v) && (!found || version_newer(v, best))) {
			memcpy(best, v, sizeof(best));
			found = ver;
		}
	}
	return found;
}

/* releases.json: see source-internal.h. */
int source_release_resolve_json(const char *body, const char *url, const char *spec, char **ret,
				char **why)
{
	_cleanup_(json_object_putp) struct json_object *root = NULL;
	struct json_object *rels = NULL, *latest = NULL;
	enum json_tokener_error jerr = json_tokener_success;
	const char *found = NULL;
	char *s;

	root = json_tokener_parse_verbose(body, &jerr);
	if (!root || !json_object_is_type(root, json_type_object))
		return source_why_first(why, -EPROTO, "%s is not valid JSON: %s", url,
					root ? "not an object" : json_tokener_error_desc(jerr));

	if (streq(spec, "stable")) {
		(void) json_object_object_get_ex(root, "latest_stable", &latest);
		found = json_str(latest, "version");
		if (!found)
			return source_why_first(why, -EPROTO, "%s has no latest_stable.version",
						url);
	} else {
		if (!json_object_object_get_ex(root, "releases", &rels) ||
		    !json_object_is_type(rels, json_type_array))
			return source_why_first(why, -EPROTO, "%s has no releases array", url);
		found = releases_pick(rels, spec);
		if (!found && streq(spec, "mainline"))
			return source_why_first(why, -ENOENT, "%s lists no mainline release", url);
		if (!found)
			return source_why_first(why, -ENOENT, "%s lists no %s.y release", url,
						spec);
	}
	if (!source_version_parse(found, NULL, NULL, NULL)) {
		/* The mirror's text: printable and cut, so the message stays one line. */
		_cleanup_free_ char *shown = utf8_printable(found, strlen(found), 64);

		return source_why_first(why, -EPROTO, "%s names a malformed version '%s'", url,
					strempty(shown));
	}
	s = strdup(found);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* An end-of-life series is gone from releases.json, but its tarballs are still listed in
 * the mirror's checksum file: the newest one there. */
static int resolve_from_sums(const char *spec, const char *json_url,
			     const struct kts_fetch_opts *opts, char **ret, char **why)
{
	_cleanup_free_ char *sums = sums_url(spec, opts), *body = NULL;
	char sha[65];

	if (!sums)
		return -ENOMEM;
	if (get_small(sums, "checksum list", fetch_mirror(opts), &body, NULL) < 0 ||
	    source_release_sums_lookup(body, NULL, spec, sha, ret) < 0)
		return source_why_first(why, -ENOENT, "release %s.y not found: not in %s nor in %s",
					spec, json_url, sums);
	return 0;
}

static int release_resolve(const char *spec, const struct kts_fetch_opts *opts, char **ret,
			   char **why)
{
	_cleanup_free_ char *url = NULL, *body = NULL, *json_why = NULL;
	unsigned long v[3], rc;
	unsigned segs;
	int r;

	if (!source_is_release_spec(spec))
		return source_why_first(why, -EINVAL,
					"'%s' is not a kernel release (6.12.3, 6.12, "
					"stable, mainline)",
					spec);
	if (source_version_parse(spec, v, &rc, &segs) && (segs == 3 || rc > 0)) {
		*ret = strdup(spec);
		return *ret ? 0 : -ENOMEM;
	}

	url = releases_url(opts);
	if (!url)
		return -ENOMEM;
	/* Connection errors name the setting to fix: the mirror when one is configured. */
	r = get_small(url, "releases.json",
		      mirror_configured(opts) && !(opts && opts->releases_url) ? fetch_mirror(opts)
									       : url,
		      &body, why);
	if (r < 0)
		return r;
	r = source_release_resolve_json(body, url, spec, ret, &json_why);
	if (r >= 0)
		return 0;
	if (r != -ENOENT || !source_version_parse(spec, NULL, NULL, NULL))
		return source_why_first(why, r, "%s",
					json_why ? json_why : "cannot resolve the release");
	return resolve_from_sums(spec, url, opts, ret, why);
}

int source_release_resolve(const char *spec, const struct kts_fetch_opts *opts, char **ret_version,
			   char **ret_why)
{
	char *why = NULL;

	if (!spec || !ret_version)
		return -EINVAL;
	return source_why_finish(release_resolve(spec, opts, ret_version, &why), &why, ret_why);
}

/* ---- the release source ------------------------------------------------------------------ */

static bool version_is_rc(const char *v)
{
	return strstr(v, "-rc") != NULL;
}

int source_release_open(const char *spec, const struct kts_fetch_opts *opts, struct kts_source *s,
			char **why)
{
	_cleanup_free_ char *ver = NULL, *sums = NULL, *body = NULL;
	int r;

	r = release_resolve(spec, opts, &ver, why);
	if (r < 0)
		return r;
	s->is_temp = true;
	s->cacheable = true;
	r = source_name_release(s, ver, NULL);
	if (r < 0)
		return r;

	if (version_is_rc(ver)) {
		/* Release candidates are not on the CDN nor in its checksum list; kernel.org
		 * serves them as git snapshots. Identity comes from the downloaded bytes. */
		if (asprintf(&s->url, "https://git.kernel.org/torvalds/t/linux-%s.tar.gz", ver) <
		    0) {
			s->url = NULL;
			return -ENOMEM;
		}
		s->version = TAKE_PTR(ver);
		return 0;
	}

	r = source_release_url(ver, opts, &s->url);
	if (r < 0)
		return r;
	sums = sums_url(ver, opts);
	if (!sums)
		return -ENOMEM;
	r = get_small(sums, "checksum list", fetch_mirror(opts), &body, why);
	if (r == -ENOENT)
		return source_why_first(why, r, "version %s not found: no checksum list at %s", ver,
					sums);
	if (r < 0)
		return r;
	if (source_release_sums_lookup(body, ver, NULL, s->tarball_sha256, NULL) < 0)
		return source_why_first(why, -ENOENT,
					"version %s not found: linux-%s.tar.xz is not "
					"listed in %s",
					ver, ver, sums);
	r = source_name_release(s, ver, s->tarball_sha256);
	if (r < 0)
		return r;
	s->version = TAKE_PTR(ver);
	return 0;
}

int source_release_fetch(struct kts_source *s, const char *workdir,
			 const struct kts_fetch_opts *opts, char **why)
{
	_cleanup_free_ char *file = NULL;
	const char *base = strrchr(s->url, '/');
	char sha[65];
	int r;

	file = source_path_join(workdir, base ? base + 1 : "linux.tar");
	if (!file)
		return -ENOMEM;
	r = source_download(s->url, fetch_mirror(opts), file, opts, sha, why);
	if (r == -ENOENT)
		return source_why_first(why, r, "version %s not found: %s answered 404", s->version,
					s->url);
	if (r < 0)
		return r;

	if (!s->tarball_sha256[0]) {
		/* A release candidate: named by what was downloaded. */
		memcpy(s->tarball_sha256, sha, sizeof(sha));
		r = source_name_release(s, s->version, sha);
		if (r < 0)
			return r;
	} else if (!streq(sha, s->tarball_sha256)) {
		(void) unlink(file);
		return source_why_first(why, -EBADMSG,
					"checksum mismatch for %s: the mirror lists "
					"%s, the download has %s; the file was removed",
					s->url, s->tarball_sha256, sha);
	}
	r = source_tarball_extract(file, workdir, &s->dir, why);
	(void) unlink(file); /* the tree is what we keep; the caller removes workdir anyway */
	return r;
}
