/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The compile plan and statistics (compile.h) as JSON: job.json's "compile" (the whole
 * plan, for the in-scope half), result.json's "compile_stats", and metadata.json's
 * "compile" ({"ccache": {...} | null, "distributed": {...} | null}). None of them holds
 * a credential: the plan keeps the remote URL without its user:password@. Reading is
 * strict about every known key (presence, type, value); with strict, unknown keys are
 * refused too (job and result files, which the same ktscope writes and reads).
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "compile-json.h"
#include "log.h"
#include "macro.h"
#include "util.h"

/* ---------------------------------------------------------------- reading */

struct jr {
	struct json_object *o;
	const char *path; /* "compile.ccache" */
	bool strict;
	char **why;
	const char *taken[16];
	size_t n_taken;
};

static int jr_bad(struct jr *r, const char *key, const char *what)
{
	return why_set(r->why, -EBADMSG, "field '%s.%s': %s", r->path, key, what);
}

/* The member key of type t, or NULL for null when nullable. */
static int jr_member(struct jr *r, const char *key, enum json_type t, bool nullable,
		     const char *expected, struct json_object **ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->o, key, &v))
		return why_set(r->why, -EBADMSG, "missing field '%s.%s'", r->path, key);
	if (r->n_taken < ELEMENTSOF(r->taken))
		r->taken[r->n_taken++] = key;
	if (!v && nullable) {
		*ret = NULL;
		return 0;
	}
	if (!v || json_object_get_type(v) != t)
		return jr_bad(r, key, expected);
	*ret = v;
	return 0;
}

/* A non-empty string without NUL or control characters; absolute when path. */
static int jr_str(struct jr *r, const char *key, bool nullable, bool path, char **ret)
{
	struct json_object *v;
	const char *s;
	int k = jr_member(r, key, json_type_string, nullable,
			  path ? "expected an absolute path" : "expected a string", &v);

	if (k < 0)
		return k;
	*ret = NULL;
	if (!v)
		return 0;
	s = json_object_get_string(v);
	if ((size_t) json_object_get_string_len(v) != strlen(s) || !*s || (path && s[0] != '/'))
		return jr_bad(r, key, path ? "expected an absolute path" :
			      "expected a non-empty string without NUL");
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
		if (*p < ' ' || *p == 0x7f)
			return jr_bad(r, key, "invalid (control character)");
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int jr_u64(struct jr *r, const char *key, uint64_t max, uint64_t *ret)
{
	struct json_object *v;
	int64_t x;
	int k = jr_member(r, key, json_type_int, false, "expected a non-negative integer", &v);

	if (k < 0)
		return k;
	errno = 0;
	x = json_object_get_int64(v);
	if (errno || x < 0 || (uint64_t) x > max)
		return jr_bad(r, key, "integer out of range");
	*ret = (uint64_t) x;
	return 0;
}

static int jr_rest(struct jr *r)
{
	if (!r->strict)
		return 0;
	json_object_object_foreach(r->o, k, v) {
		bool known = false;

		(void) v;
		for (size_t i = 0; i < r->n_taken && !known; i++)
			known = streq(r->taken[i], k);
		if (!known) {
			_cleanup_free_ char *key = utf8_printable(k, strlen(k), 64);

			return why_set(r->why, -EBADMSG, "field '%s': unknown field '%s'", r->path,
				       strempty(key));
		}
	}
	return 0;
}

static int engine_from_string(const char *s, enum kts_compile_engine *ret)
{
	for (enum kts_compile_engine e = KTS_ENGINE_NONE; e <= KTS_ENGINE_ICECC; e++)
		if (streq(s, compile_engine_to_string(e))) {
			*ret = e;
			return 0;
		}
	return -EINVAL;
}

/* A remote URL as stored: one of ccache's schemes, no credentials. */
static int check_shown(struct jr *r, const char *key, const char *url)
{
	_cleanup_free_ char *shown = NULL;
	int k;

	if (!url)
		return 0;
	k = compile_remote_check(url, &shown);
	if (k == -ENOMEM)
		return k;
	if (k < 0 || !streq(shown, url))
		return jr_bad(r, key, "expected a remote storage URL without credentials");
	return 0;
}

int compile_plan_from_json(struct json_object *o, const char *path, struct kts_compile_plan *ret,
			   char **ret_why)
{
	_cleanup_(compile_plan_done) struct kts_compile_plan p = { 0 };
	_cleanup_free_ char *engine = NULL;
	struct jr r = { .o = o, .path = path, .strict = true, .why = ret_why };
	uint64_t jobs;
	int k;

	if ((k = jr_str(&r, "ccache", true, true, &p.ccache)) < 0 ||
	    (k = jr_str(&r, "ccache_version", true, false, &p.ccache_version)) < 0 ||
	    (k = jr_str(&r, "ccache_dir", true, true, &p.ccache_dir)) < 0 ||
	    (k = jr_str(&r, "ccache_dir_used", true, true, &p.ccache_dir_used)) < 0 ||
	    (k = jr_str(&r, "ccache_remote", true, false, &p.ccache_remote_shown)) < 0 ||
	    (k = jr_str(&r, "engine", false, false, &engine)) < 0 ||
	    (k = jr_str(&r, "engine_bin", true, true, &p.engine_bin)) < 0 ||
	    (k = jr_str(&r, "hosts", true, false, &p.hosts)) < 0 ||
	    (k = jr_str(&r, "icecc_env", true, true, &p.icecc_env)) < 0 ||
	    (k = jr_u64(&r, "remote_jobs", 65536, &jobs)) < 0 ||
	    (k = jr_str(&r, "fallback", true, false, &p.fallback)) < 0 ||
	    (k = check_shown(&r, "ccache_remote", p.ccache_remote_shown)) < 0)
		return k;
	if (engine_from_string(engine, &p.engine) < 0)
		return jr_bad(&r, "engine", "expected none, distcc or icecc");
	if (!p.ccache != !p.ccache_version)
		return jr_bad(&r, "ccache_version", "expected exactly when ccache is set");
	p.remote_jobs = (unsigned) jobs;
	k = jr_rest(&r);
	if (k < 0)
		return k;
	*ret = p;
	p = (struct kts_compile_plan){ 0 };
	return 0;
}

static int stats_fields(struct jr *r, struct kts_compile_stats *s)
{
	const uint64_t max = (uint64_t) INT64_MAX;
	int k;

	if ((k = jr_u64(r, "direct_hits", max, &s->direct_hits)) < 0 ||
	    (k = jr_u64(r, "preprocessed_hits", max, &s->preprocessed_hits)) < 0 ||
	    (k = jr_u64(r, "misses", max, &s->misses)) < 0 ||
	    (k = jr_u64(r, "uncacheable", max, &s->uncacheable)) < 0 ||
	    (k = jr_u64(r, "remote_hits", max, &s->remote_hits)) < 0 ||
	    (k = jr_u64(r, "errors", max, &s->errors)) < 0)
		return k;
	s->present = true;
	return 0;
}

int compile_stats_from_json(struct json_object *o, const char *path, struct kts_compile_stats *ret,
			    char **ret_why)
{
	struct kts_compile_stats s = { 0 };
	struct jr r = { .o = o, .path = path, .strict = true, .why = ret_why };
	int k;

	if (o && (k = stats_fields(&r, &s)) < 0)
		return k;
	if (o && (k = jr_rest(&r)) < 0)
		return k;
	*ret = s;
	return 0;
}

/* metadata "compile.ccache": {version, dir, remote, hits, direct_hits, ...}. */
static int meta_ccache(struct jr *parent, struct kts_compile_record *rec)
{
	struct json_object *v;
	struct jr r = { .path = "compile.ccache", .why = parent->why };
	uint64_t hits;
	int k = jr_member(parent, "ccache", json_type_object, true, "expected an object or null",
			  &v);

	if (k < 0 || !v)
		return k;
	r.o = v;
	if ((k = jr_str(&r, "version", false, false, &rec->plan.ccache_version)) < 0 ||
	    (k = jr_str(&r, "dir", true, true, &rec->plan.ccache_dir_used)) < 0 ||
	    (k = jr_str(&r, "remote", true, false, &rec->plan.ccache_remote_shown)) < 0 ||
	    (k = check_shown(&r, "remote", rec->plan.ccache_remote_shown)) < 0 ||
	    (k = jr_u64(&r, "hits", (uint64_t) INT64_MAX, &hits)) < 0 ||
	    (k = stats_fields(&r, &rec->stats)) < 0)
		return k;
	if (hits != compile_stats_hits(&rec->stats))
		return jr_bad(&r, "hits", "invalid (not direct_hits + preprocessed_hits)");
	return 0;
}

/* metadata "compile.distributed": {engine, hosts, jobs}. */
static int meta_distributed(struct jr *parent, struct kts_compile_record *rec)
{
	struct json_object *v;
	struct jr r = { .path = "compile.distributed", .why = parent->why };
	_cleanup_free_ char *engine = NULL;
	uint64_t jobs;
	int k = jr_member(parent, "distributed", json_type_object, true,
			  "expected an object or null", &v);

	if (k < 0 || !v)
		return k;
	r.o = v;
	if ((k = jr_str(&r, "engine", false, false, &engine)) < 0 ||
	    (k = jr_str(&r, "hosts", true, false, &rec->plan.hosts)) < 0 ||
	    (k = jr_u64(&r, "jobs", 65536, &jobs)) < 0)
		return k;
	if (engine_from_string(engine, &rec->plan.engine) < 0 ||
	    rec->plan.engine == KTS_ENGINE_NONE)
		return jr_bad(&r, "engine", "expected distcc or icecc");
	rec->plan.remote_jobs = (unsigned) jobs;
	return 0;
}

int compile_record_from_json(struct json_object *o, struct kts_compile_record *ret, char **ret_why)
{
	struct kts_compile_record rec = { .present = true };
	struct jr r = { .o = o, .path = "compile", .why = ret_why };
	int k;

	if ((k = meta_ccache(&r, &rec)) < 0 || (k = meta_distributed(&r, &rec)) < 0) {
		compile_record_done(&rec);
		return k;
	}
	*ret = rec;
	return 0;
}

void compile_record_done(struct kts_compile_record *rec)
{
	compile_plan_done(&rec->plan);
	*rec = (struct kts_compile_record){ 0 };
}

/* ---------------------------------------------------------------- writing */

static struct json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

struct json_object *compile_plan_to_json(const struct kts_compile_plan *p)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "ccache", jstr(p->ccache));
	json_object_object_add(o, "ccache_version", jstr(p->ccache_version));
	json_object_object_add(o, "ccache_dir", jstr(p->ccache_dir));
	json_object_object_add(o, "ccache_dir_used", jstr(p->ccache_dir_used));
	json_object_object_add(o, "ccache_remote", jstr(p->ccache_remote_shown));
	json_object_object_add(o, "engine",
			       json_object_new_string(compile_engine_to_string(p->engine)));
	json_object_object_add(o, "engine_bin", jstr(p->engine_bin));
	json_object_object_add(o, "hosts", jstr(p->hosts));
	json_object_object_add(o, "icecc_env", jstr(p->icecc_env));
	json_object_object_add(o, "remote_jobs", json_object_new_int64(p->remote_jobs));
	json_object_object_add(o, "fallback", jstr(p->fallback));
	return o;
}

static void stats_add(struct json_object *o, const struct kts_compile_stats *s)
{
	json_object_object_add(o, "direct_hits", json_object_new_int64((int64_t) s->direct_hits));
	json_object_object_add(o, "preprocessed_hits",
			       json_object_new_int64((int64_t) s->preprocessed_hits));
	json_object_object_add(o, "misses", json_object_new_int64((int64_t) s->misses));
	json_object_object_add(o, "uncacheable", json_object_new_int64((int64_t) s->uncacheable));
	json_object_object_add(o, "remote_hits", json_object_new_int64((int64_t) s->remote_hits));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t) s->errors));
}

struct json_object *compile_stats_to_json(const struct kts_compile_stats *s)
{
	struct json_object *o;

	if (!s->present)
		return NULL;
	o = json_object_new_object();
	if (o)
		stats_add(o, s);
	return o;
}

int compile_record_to_json(const struct kts_compile_plan *p, const struct kts_compile_stats *s,
			   struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *c = NULL, *d = NULL;

	if (!o)
		return -ENOMEM;
	if (p->ccache_version) {
		c = json_object_new_object();
		if (!c)
			return -ENOMEM;
		json_object_object_add(o, "ccache", c);
		json_object_object_add(c, "version", json_object_new_string(p->ccache_version));
		json_object_object_add(c, "dir", jstr(p->ccache_dir_used));
		json_object_object_add(c, "remote", jstr(p->ccache_remote_shown));
		json_object_object_add(c, "hits",
				       json_object_new_int64((int64_t) compile_stats_hits(s)));
		stats_add(c, s);
	} else
		json_object_object_add(o, "ccache", NULL);
	if (p->engine != KTS_ENGINE_NONE) {
		d = json_object_new_object();
		if (!d)
			return -ENOMEM;
		json_object_object_add(o, "distributed", d);
		json_object_object_add(d, "engine",
				       json_object_new_string(compile_engine_to_string(p->engine)));
		json_object_object_add(d, "hosts", jstr(p->hosts));
		json_object_object_add(d, "jobs", json_object_new_int64(p->remote_jobs));
	} else
		json_object_object_add(o, "distributed", NULL);
	*ret = TAKE_PTR(o);
	return 0;
}
