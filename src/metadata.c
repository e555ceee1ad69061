/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpuset.h"
#include "log.h"
#include "macro.h"
#include "util.h"
#include "json-util.h"
#include "metadata.h"

/* metadata.json is a few KiB; anything this large is not ours. */
#define METADATA_SIZE_MAX (1024 * 1024)
/* Year 10000 starts here: built_at must format as four digits. */
#define METADATA_TIME_END INT64_C(253402300800)

void metadata_free(struct kts_metadata *m)
{
	if (!m)
		return;
	free(m->key);
	free(m->label);
	free(m->source.kind);
	free(m->source.version);
	free(m->source.url);
	free(m->source.path);
	free(m->source.commit);
	free(m->source.state_sha256);
	free(m->source.fs_uuid);
	free(m->source.fs_type);
	free(m->source.tarball_sha256);
	free(m->arch);
	free(m->image);
	free(m->base);
	free(m->fragment_sha256);
	for (size_t i = 0; i < m->n_extra_kconfig; i++) {
		free(m->extra_kconfig[i].path);
		free(m->extra_kconfig[i].sha256);
	}
	free(m->extra_kconfig);
	free(m->config_sha256);
	free(m->toolchain.cc);
	free(m->toolchain.ld);
	free(m->toolchain.pahole);
	strv_free(m->make_vars, m->n_make_vars);
	free(m->plan.cpus);
	free(m->plan.mems);
	free(m->plan.llcs);
	free(m->plan.enforcement);
	free(m->ktscope_version);
	compile_record_done(&m->compile);
	free(m->build_dir);
	stamps_done(&m->stamps);
	free(m);
}

/* ------------------------------------------------------------------ time */

void metadata_format_time(int64_t t, char buf[static METADATA_TIME_MAX])
{
	time_t tt = (time_t) t;
	struct tm tm;

	/* Out-of-range values are refused by metadata_validate(); never print garbage. */
	if (t < 0 || t >= METADATA_TIME_END || !gmtime_r(&tt, &tm)) {
		snprintf(buf, METADATA_TIME_MAX, "1970-01-01T00:00:00Z");
		return;
	}
	(void) strftime(buf, METADATA_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int metadata_parse_time(const char *s, int64_t *ret)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm = { 0 }, back;
	time_t t;

	if (!s || strlen(s) != sizeof(shape) - 1)
		return -EINVAL;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return -EINVAL;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	back = tm;
	t = timegm(&tm);
	if (t == (time_t) -1 && !(back.tm_year == 69 && back.tm_mon == 11 && back.tm_mday == 31))
		return -EINVAL;
	/* timegm() normalises "02-30" into March: a real date survives unchanged. */
	if (tm.tm_year != back.tm_year || tm.tm_mon != back.tm_mon || tm.tm_mday != back.tm_mday ||
	    tm.tm_hour != back.tm_hour || tm.tm_min != back.tm_min || tm.tm_sec != back.tm_sec)
		return -EINVAL;
	if (t < 0)
		return -EINVAL;
	*ret = (int64_t) t;
	return 0;
}

/* ------------------------------------------------------------- validate */

bool metadata_is_sha256_hex(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* A git object id: SHA-1 (40) or SHA-256 (64) repositories. */
static bool is_commit_hex(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n != 40 && n != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static bool in_set(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (streq(s, *set))
			return true;
	return false;
}

static const char *const source_kinds[] = { "local", "tarball", "release", "git", NULL };
static const char *const arches[] = { "x86_64", "aarch64", NULL };
static const char *const images[] = { "bzImage", "Image", NULL };
static const char *const enforcements[] = { "cgroup", "affinity", "none", NULL };

/*
 * "field 'NAME': invalid WHAT \"VALUE\"HINT" on one line: the value comes from the file, so
 * it is made printable and cut short.
 */
static int why_bad_value(char **ret_why, int r, const char *name, const char *what, const char *v,
			 const char *hint)
{
	_cleanup_free_ char *p = utf8_printable(v, strlen(v), 64);

	return why_set(ret_why, r, "field '%s': invalid %s \"%s\"%s", name, what, strempty(p),
		       hint);
}

static int check_required(const char *v, const char *name, char **ret_why)
{
	if (!v)
		return why_set(ret_why, -EINVAL, "missing field '%s'", name);
	if (!*v)
		return why_set(ret_why, -EINVAL, "field '%s': invalid (empty)", name);
	return 0;
}

static int check_sha(const char *v, bool nullable, const char *name, char **ret_why)
{
	if (!v && nullable)
		return 0;
	if (!metadata_is_sha256_hex(v))
		return why_set(ret_why, -EINVAL,
			       "field '%s': invalid SHA-256 (want 64 lowercase hex digits)", name);
	return 0;
}

static int check_enum(const char *v, const char *const *set, const char *name, char **ret_why)
{
	int r = check_required(v, name, ret_why);

	if (r < 0)
		return r;
	if (!in_set(v, set))
		return why_bad_value(ret_why, -EINVAL, name, "value", v, "");
	return 0;
}

static int check_list(const char *v, const char *name, char **ret_why)
{
	_cleanup_cpuset_ struct kts_cpuset s = KTS_CPUSET_INIT;
	int r = check_required(v, name, ret_why);

	if (r < 0)
		return r;
	if (cpuset_parse(v, &s) < 0)
		return why_bad_value(ret_why, -EINVAL, name, "list", v, "");
	return 0;
}

static int check_size(uint64_t v, const char *name, char **ret_why)
{
	/* Written as a JSON integer, which json-c reads back as int64. */
	if (v > INT64_MAX)
		return why_set(ret_why, -EINVAL, "field '%s': invalid (too large)", name);
	return 0;
}

static int check_stamps(const struct kts_metadata *m, char **ret_why)
{
	const struct kts_stamps *s = &m->stamps;
	int r;

	if (m->stamps_state != KTS_METADATA_STAMPS_ON)
		return 0;
	/* Empty values are possible: `-- KBUILD_BUILD_USER=` leaves Kbuild its own. */
	if (!s->timestamp || !s->user || !s->host || !s->version)
		return why_set(ret_why, -EINVAL, "missing field 'stamps.%s'", !s->timestamp ?
			       "timestamp" : !s->user ? "user" : !s->host ? "host" : "version");
	if ((r = check_required(s->from, "stamps.from", ret_why)) < 0)
		return r;
	if (!stamps_from_is_valid(s->from))
		return why_bad_value(ret_why, -EINVAL, "stamps.from", "value", s->from, "");
	if (s->epoch < -1 || s->epoch > STAMPS_EPOCH_MAX)
		return why_set(ret_why, -EINVAL, "field 'stamps.epoch': invalid (out of range)");
	return 0;
}

int metadata_validate(const struct kts_metadata *m, char **ret_why)
{
	char name[64];
	int r;

	if (m->schema != METADATA_SCHEMA)
		return why_set(ret_why, -EINVAL, "unsupported schema %d (expected %d)", m->schema,
			       METADATA_SCHEMA);
	if ((r = check_required(m->key, "key", ret_why)) < 0 ||
	    (r = check_required(m->label, "label", ret_why)) < 0 ||
	    (r = check_enum(m->source.kind, source_kinds, "source.kind", ret_why)) < 0)
		return r;
	if (m->source.commit && !is_commit_hex(m->source.commit))
		return why_set(ret_why, -EINVAL, "field 'source.commit': invalid "
			       "(want 40 or 64 lowercase hex digits)");
	if ((r = check_sha(m->source.state_sha256, true, "source.state_sha256", ret_why)) < 0 ||
	    (r = check_sha(m->source.tarball_sha256, true, "source.tarball_sha256", ret_why)) < 0 ||
	    (r = check_enum(m->arch, arches, "arch", ret_why)) < 0 ||
	    (r = check_enum(m->image, images, "image", ret_why)) < 0 ||
	    (r = check_required(m->base, "base", ret_why)) < 0 ||
	    (r = check_sha(m->fragment_sha256, true, "fragment_sha256", ret_why)) < 0)
		return r;
	for (size_t i = 0; i < m->n_extra_kconfig; i++) {
		snprintf(name, sizeof(name), "extra_kconfig[%zu].path", i);
		if ((r = check_required(m->extra_kconfig[i].path, name, ret_why)) < 0)
			return r;
		snprintf(name, sizeof(name), "extra_kconfig[%zu].sha256", i);
		if ((r = check_sha(m->extra_kconfig[i].sha256, false, name, ret_why)) < 0)
			return r;
	}
	if ((r = check_sha(m->config_sha256, true, "config_sha256", ret_why)) < 0)
		return r;
	for (size_t i = 0; i < m->n_make_vars; i++) {
		const char *v = m->make_vars[i], *eq = v ? strchr(v, '=') : NULL;

		if (!eq || eq == v)
			return why_set(ret_why, -EINVAL,
				       "field 'make_vars[%zu]': invalid (want NAME=value)", i);
	}
	if (m->built_at < 0 || m->built_at >= METADATA_TIME_END)
		return why_set(ret_why, -EINVAL, "field 'built_at': invalid (out of range)");
	if (!isfinite(m->build_seconds) || m->build_seconds < 0)
		return why_set(ret_why, -EINVAL, "field 'build_seconds': invalid (want >= 0)");
	if (m->make_jobs < 1 || m->make_jobs > KTS_CPU_MAX)
		return why_set(ret_why, -EINVAL, "field 'make_jobs': invalid (want 1..%u)",
			       KTS_CPU_MAX);
	if (m->plan.present &&
	    ((r = check_list(m->plan.cpus, "plan.cpus", ret_why)) < 0 ||
	     (r = check_list(m->plan.mems, "plan.mems", ret_why)) < 0 ||
	     (r = check_list(m->plan.llcs, "plan.llcs", ret_why)) < 0 ||
	     (r = check_enum(m->plan.enforcement, enforcements, "plan.enforcement", ret_why)) < 0))
		return r;
	if ((r = check_size(m->sizes.image, "sizes.image", ret_why)) < 0 ||
	    (r = check_size(m->sizes.vmlinux, "sizes.vmlinux", ret_why)) < 0 ||
	    (r = check_size(m->sizes.vmlinux_unstripped, "sizes.vmlinux_unstripped",
			    ret_why)) < 0 ||
	    (r = check_required(m->ktscope_version, "ktscope_version", ret_why)) < 0)
		return r;
	if (m->build_dir && m->build_dir[0] != '/')
		return why_set(ret_why, -EINVAL, "field 'build_dir': invalid (want an absolute path)");
	return check_stamps(m, ret_why);
}

/* ---------------------------------------------------------------- write */

/* NULL → JSON null; json_object_object_add() takes a NULL value as null. */
static struct json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* The "stamps" object, or NULL (JSON null) when they were off. */
static struct json_object *stamps_json(const struct kts_metadata *m)
{
	const struct kts_stamps *s = &m->stamps;
	struct json_object *o;

	if (m->stamps_state != KTS_METADATA_STAMPS_ON || !(o = json_object_new_object()))
		return NULL;
	json_object_object_add(o, "timestamp", jstr(s->timestamp));
	json_object_object_add(o, "epoch", s->epoch >= 0 ? json_object_new_int64(s->epoch) : NULL);
	json_object_object_add(o, "user", jstr(s->user));
	json_object_object_add(o, "host", jstr(s->host));
	json_object_object_add(o, "version", jstr(s->version));
	json_object_object_add(o, "from", jstr(s->from));
	return o;
}

/*
 * json-c reports allocation failures only through NULL returns, and
 * json_object_object_add() stores a NULL value as JSON null. Rather than
 * checking each of ~40 constructors here, metadata_to_string() reads its own
 * output back, so a value lost this way can never reach the disk.
 */
/* metadata.json's "source" object. */
static struct json_object *source_json(const struct kts_metadata_source *s)
{
	struct json_object *src = json_object_new_object();

	if (!src)
		return NULL;
	json_object_object_add(src, "kind", jstr(s->kind));
	json_object_object_add(src, "version", jstr(s->version));
	json_object_object_add(src, "url", jstr(s->url));
	json_object_object_add(src, "path", jstr(s->path));
	json_object_object_add(src, "commit", jstr(s->commit));
	json_object_object_add(src, "dirty", json_object_new_boolean(s->dirty));
	json_object_object_add(src, "state_sha256", jstr(s->state_sha256));
	json_object_object_add(src, "fs_uuid", jstr(s->fs_uuid));
	json_object_object_add(src, "fs_type", jstr(s->fs_type));
	json_object_object_add(src, "tarball_sha256", jstr(s->tarball_sha256));
	return src;
}

/* The keys added after the first schema, each only where the entry has it. */
static int add_later_keys(struct json_object *o, const struct kts_metadata *m)
{
	struct json_object *t = NULL, *ph = NULL;

	json_object_object_add(o, "build_dir", jstr(m->build_dir));
	if (m->stamps_state != KTS_METADATA_STAMPS_UNRECORDED)
		json_object_object_add(o, "stamps", stamps_json(m));
	if (m->has_telemetry && (telemetry_to_json(&m->telemetry, &t) < 0 ||
				 json_object_object_add(o, "telemetry", t) < 0))
		return -ENOMEM;
	if (m->has_phases && (phases_to_json(&m->phases, &ph) < 0 ||
			      json_object_object_add(o, "phases", ph) < 0))
		return -ENOMEM;
	return 0;
}

static int build_json(const struct kts_metadata *m, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *src, *extras, *tc, *vars, *plan = NULL, *sizes;
	/* "%.3f" of any finite double: up to 309 digits, the point and 3 decimals (a corrupt
	 * entry's 1e300 was cut to its first 63 digits, another number; fuzz/fuzz-metadata). */
	char when[METADATA_TIME_MAX], secs[DBL_MAX_10_EXP + 8];

	if (!o)
		return -ENOMEM;
	metadata_format_time(m->built_at, when);
	snprintf(secs, sizeof(secs), "%.3f", m->build_seconds);

	json_object_object_add(o, "schema", json_object_new_int(METADATA_SCHEMA));
	json_object_object_add(o, "key", jstr(m->key));
	json_object_object_add(o, "label", jstr(m->label));

	src = source_json(&m->source);
	json_object_object_add(o, "source", src);
	if (!src)
		return -ENOMEM;

	json_object_object_add(o, "arch", jstr(m->arch));
	json_object_object_add(o, "image", jstr(m->image));
	json_object_object_add(o, "base", jstr(m->base));
	json_object_object_add(o, "fragment_sha256", jstr(m->fragment_sha256));

	extras = json_object_new_array();
	json_object_object_add(o, "extra_kconfig", extras);
	if (!extras)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_extra_kconfig; i++) {
		struct json_object *e = json_object_new_object();

		if (!e)
			return -ENOMEM;
		json_object_object_add(e, "path", jstr(m->extra_kconfig[i].path));
		json_object_object_add(e, "sha256", jstr(m->extra_kconfig[i].sha256));
		json_object_array_add(extras, e);
	}
	json_object_object_add(o, "config_sha256", jstr(m->config_sha256));

	tc = json_object_new_object();
	json_object_object_add(o, "toolchain", tc);
	if (!tc)
		return -ENOMEM;
	json_object_object_add(tc, "cc", jstr(m->toolchain.cc));
	json_object_object_add(tc, "ld", jstr(m->toolchain.ld));
	json_object_object_add(tc, "pahole", jstr(m->toolchain.pahole));

	vars = json_object_new_array();
	json_object_object_add(o, "make_vars", vars);
	if (!vars)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_make_vars; i++)
		json_object_array_add(vars, jstr(m->make_vars[i]));

	json_object_object_add(o, "built_at", json_object_new_string(when));
	json_object_object_add(o, "build_seconds",
			       json_object_new_double_s(m->build_seconds, secs));
	json_object_object_add(o, "make_jobs", json_object_new_int64(m->make_jobs));

	if (m->plan.present) {
		plan = json_object_new_object();
		if (!plan)
			return -ENOMEM;
		json_object_object_add(plan, "cpus", jstr(m->plan.cpus));
		json_object_object_add(plan, "mems", jstr(m->plan.mems));
		json_object_object_add(plan, "llcs", jstr(m->plan.llcs));
		json_object_object_add(plan, "enforcement", jstr(m->plan.enforcement));
	}
	json_object_object_add(o, "plan", plan);

	sizes = json_object_new_object();
	json_object_object_add(o, "sizes", sizes);
	if (!sizes)
		return -ENOMEM;
	json_object_object_add(sizes, "image", json_object_new_int64((int64_t) m->sizes.image));
	json_object_object_add(sizes, "vmlinux", json_object_new_int64((int64_t) m->sizes.vmlinux));
	json_object_object_add(sizes, "vmlinux_unstripped",
			       json_object_new_int64((int64_t) m->sizes.vmlinux_unstripped));
	json_object_object_add(o, "ktscope_version", jstr(m->ktscope_version));
	if (m->compile.present) {
		struct json_object *c = NULL;

		if (compile_record_to_json(&m->compile.plan, &m->compile.stats, &c) < 0)
			return -ENOMEM;
		json_object_object_add(o, "compile", c);
	}
	if (add_later_keys(o, m) < 0)
		return -ENOMEM;

	*ret = TAKE_PTR(o);
	return 0;
}

int metadata_to_json(const struct kts_metadata *m, struct json_object **ret)
{
	int r = metadata_validate(m, NULL);

	if (r < 0)
		return r;
	return build_json(m, ret);
}

int metadata_to_string(const struct kts_metadata *m, char **ret)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct kts_metadata *back _cleanup_(metadata_freep) = NULL;
	const char *s;
	char *out;
	int r;

	r = metadata_to_json(m, &o);
	if (r < 0)
		return r;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || asprintf(&out, "%s\n", s) < 0)
		return -ENOMEM;
	/* m validated, so a failure to read back can only be a value json-c failed to allocate. */
	r = metadata_parse(out, strlen(out), &back, NULL);
	if (r < 0) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

int metadata_write(const struct kts_metadata *m, const char *path)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = metadata_to_string(m, &text);
	if (r < 0)
		return r;
	return write_file_atomic(path, text, strlen(text), 0644);
}

/* ----------------------------------------------------------------- read */

static const char *json_type_word(enum json_type t)
{
	switch (t) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
		return "number";
	case json_type_int:
		return "integer";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "value";
}

/*
 * Fetches member name of object o (full dotted path in path, for messages).
 * The caller then checks the type; a missing key is its own class.
 */
static int member(struct json_object *o, const char *path, const char *name,
		  struct json_object **ret, char **ret_why)
{
	if (!json_object_object_get_ex(o, name, ret))
		return why_set(ret_why, -EBADMSG, "missing field '%s'", path);
	return 0;
}

static int want_type(struct json_object *v, enum json_type t, bool nullable, const char *path,
		     char **ret_why)
{
	enum json_type got = json_object_get_type(v);

	if (got == t || (nullable && got == json_type_null))
		return 0;
	/* A number with a fraction is still a number where a number is wanted. */
	if (t == json_type_double && got == json_type_int)
		return 0;
	return why_set(ret_why, -EBADMSG, "field '%s': expected %s%s, got %s", path,
		       json_type_word(t), nullable ? " or null" : "", json_type_word(got));
}

static int get_string(struct json_object *o, const char *prefix, const char *name, bool nullable,
		      char **ret, char **ret_why)
{
	struct json_object *v;
	char path[96];
	char *s;
	int r;

	snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
	if ((r = member(o, path, name, &v, ret_why)) < 0 ||
	    (r = want_type(v, json_type_string, nullable, path, ret_why)) < 0)
		return r;
	if (!v) {
		*ret = NULL;
		return 0;
	}
	/* "\u0000" would silently cut the C string short. */
	if ((size_t) json_object_get_string_len(v) != strlen(json_object_get_string(v)))
		return why_set(ret_why, -EBADMSG, "field '%s': invalid (contains NUL)", path);
	s = strdup(json_object_get_string(v));
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int get_object(struct json_object *o, const char *path, const char *name, bool nullable,
		      struct json_object **ret, char **ret_why)
{
	struct json_object *v;
	int r;

	if ((r = member(o, path, name, &v, ret_why)) < 0 ||
	    (r = want_type(v, json_type_object, nullable, path, ret_why)) < 0)
		return r;
	*ret = v;
	return 0;
}

/* A non-negative JSON integer. */
static int get_uint(struct json_object *o, const char *prefix, const char *name, uint64_t *ret,
		    char **ret_why)
{
	struct json_object *v;
	char path[96];
	int64_t n;
	int r;

	snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
	if ((r = member(o, path, name, &v, ret_why)) < 0 ||
	    (r = want_type(v, json_type_int, false, path, ret_why)) < 0)
		return r;
	n = json_object_get_int64(v);
	if (n < 0)
		return why_set(ret_why, -EBADMSG, "field '%s': invalid (negative)", path);
	if (n == INT64_MAX)
		return why_set(ret_why, -EBADMSG, "field '%s': invalid (too large)", path);
	*ret = (uint64_t) n;
	return 0;
}

/* "schema" decides how to read the rest, so it is checked first. */
static int parse_schema(struct json_object *o, struct kts_metadata *m, char **ret_why)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, "schema", &v) || json_object_get_type(v) != json_type_int) {
		/* Whatever the file has there, printable and cut short. */
		const char *text = v ? json_object_to_json_string(v) : "(absent)";
		_cleanup_free_ char *shown = utf8_printable(text, strlen(text), 64);

		return why_set(ret_why, -EBADMSG, "unsupported schema %s (expected %d)",
			       strempty(shown), METADATA_SCHEMA);
	}
	if (json_object_get_int64(v) != METADATA_SCHEMA)
		return why_set(ret_why, -EBADMSG, "unsupported schema %" PRId64 " (expected %d)",
			       (int64_t) json_object_get_int64(v), METADATA_SCHEMA);
	m->schema = METADATA_SCHEMA;
	return 0;
}

static int parse_source(struct json_object *o, struct kts_metadata *m, char **ret_why)
{
	struct json_object *v, *src;
	int r;

	if ((r = get_object(o, "source", "source", false, &src, ret_why)) < 0 ||
	    (r = get_string(src, "source", "kind", false, &m->source.kind, ret_why)) < 0 ||
	    (r = get_string(src, "source", "version", true, &m->source.version, ret_why)) < 0 ||
	    (r = get_string(src, "source", "url", true, &m->source.url, ret_why)) < 0 ||
	    (r = get_string(src, "source", "path", true, &m->source.path, ret_why)) < 0 ||
	    (r = get_string(src, "source", "commit", true, &m->source.commit, ret_why)) < 0)
		return r;
	if ((r = member(src, "source.dirty", "dirty", &v, ret_why)) < 0 ||
	    (r = want_type(v, json_type_boolean, false, "source.dirty", ret_why)) < 0)
		return r;
	m->source.dirty = json_object_get_boolean(v);
	if ((r = get_string(src, "source", "state_sha256", true, &m->source.state_sha256,
			    ret_why)) < 0 ||
	    (r = get_string(src, "source", "fs_uuid", true, &m->source.fs_uuid, ret_why)) < 0 ||
	    (r = get_string(src, "source", "fs_type", true, &m->source.fs_type, ret_why)) < 0 ||
	    (r = get_string(src, "source", "tarball_sha256", true, &m->source.tarball_sha256,
			    ret_why)) < 0)
		return r;
	return 0;
}

static int parse_extra_kconfig(struct json_object *o, struct kts_metadata *m, char **ret_why)
{
	struct json_object *v;
	size_t n;
	int r;

	if ((r = member(o, "extra_kconfig", "extra_kconfig", &v, ret_why)) < 0 ||
	    (r = want_type(v, json_type_array, false, "extra_kconfig", ret_why)) < 0)
		return r;
	n = json_object_array_length(v);
	if (n == 0)
		return 0;
	m->extra_kconfig = calloc(n, sizeof(*m->extra_kconfig));
	if (!m->extra_kconfig)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		char path[64];

		m->n_extra_kconfig = i + 1;
		snprintf(path, sizeof(path), "extra_kconfig[%zu]", i);
		if ((r = want_type(e, json_type_object, false, path, ret_why)) < 0 ||
		    (r = get_string(e, path, "path", false, &m->extra_kconfig[i].path, ret_why)) <
			    0 ||
		    (r = get_string(e, path, "sha256", false, &m->extra_kconfig[i].sha256,
				    ret_why)) < 0)
			return r;
	}
	return 0;
}

static int parse_make_vars(struct json_object *o, struct kts_metadata *m, char **ret_why)
{
	struct json_object *v;
	size_t n;
	int r;

	if ((r = member(o, "make_vars", "make_vars", &v, ret_why)) < 0 ||
	    (r = want_type(v, json_type_array, false, "make_vars", ret_why)) < 0)
		return r;
	n = json_object_array_length(v);
	if (n == 0)
		return 0;
	m->make_vars = calloc(n, sizeof(char *));
	if (!m->make_vars)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		char path[64];

		m->n_make_vars = i + 1;
		snprintf(path, sizeof(path), "make_vars[%zu]", i);
		if ((r = want_type(e, json_type_string, false, path, ret_why)) < 0)
			return r;
		m->make_vars[i] = strdup(json_object_get_string(e));
		if (!m->make_vars[i])
			return -ENOMEM;
	}
	return 0;
}

/* built_at, build_seconds, make_jobs: when and how the build ran. */
static int parse_build_run(struct json_object *o, struct kts_metadata *m, char **ret_why)
{
	_cleanup_free_ char *when = NULL;
	struct json_object *v;
	uint64_t u;
	int r;

	if ((r = get_string(o, "", "built_at", false, &when, ret_why)) < 0)
		return r;
	if (metadata_parse_time(when, &m->built_at) < 0)
		return why_bad_value(ret_why, -EBADMSG, "built_at", "date", when,
				     " (want YYYY-MM-DDTHH:MM:SSZ)");
	if ((r = member(o, "build_seconds", "build_seconds", &v, ret_why)) < 0 ||
	    (r = want_type(v, json_type_double, false, "build_seconds", ret_why)) < 0)
		return r;
	m->build_seconds = json_object_get_double(v);
	if ((r = get_uint(o, "", "make_jobs", &u, ret_why)) < 0)
		return r;
	if (u > UINT_MAX)
		return why_set(ret_why, -EBADMSG, "field 'make_jobs': invalid (too large)");
	m->make_jobs = (unsigned) u;
	return 0;
}

static int parse_plan_and_sizes(struct json_object *o, struct kts_metadata *m, char **ret_why)
{
	struct json_object *plan, *sizes;
	int r;

	if ((r = get_object(o, "plan", "plan", true, &plan, ret_why)) < 0)
		return r;
	if (plan) {
		m->plan.present = true;
		if ((r = get_string(plan, "plan", "cpus", false, &m->plan.cpus, ret_why)) < 0 ||
		    (r = get_string(plan, "plan", "mems", false, &m->plan.mems, ret_why)) < 0 ||
		    (r = get_string(plan, "plan", "llcs", false, &m->plan.llcs, ret_why)) < 0 ||
		    (r = get_string(plan, "plan", "enforcement", false, &m->plan.enforcement,
				    ret_why)) < 0)
			return r;
	}
	if ((r = get_object(o, "sizes", "sizes", false, &sizes, ret_why)) < 0 ||
	    (r = get_uint(sizes, "sizes", "image", &m->sizes.image, ret_why)) < 0 ||
	    (r = get_uint(sizes, "sizes", "vmlinux", &m->sizes.vmlinux, ret_why)) < 0 ||
	    (r = get_uint(sizes, "sizes", "vmlinux_unstripped", &m->sizes.vmlinux_unstripped,
			  ret_why)) < 0)
		return r;
	return 0;
}

/* "compile", when there (entries made before ccache support have none). */
static int parse_compile(struct json_object *o, struct kts_metadata *m, char **ret_why)
{
	struct json_object *c;

	if (!json_object_object_get_ex(o, "compile", &c))
		return 0;
	if (!c || json_object_get_type(c) != json_type_object)
		return why_set(ret_why, -EBADMSG, "field 'compile': expected an object");
	return compile_record_from_json(c, &m->compile, ret_why);
}

/* build_dir and stamps came later: an entry without them reads as NULL and unrecorded. */
static int parse_later_fields(struct json_object *o, struct kts_metadata *m, char **ret_why)
{
	struct json_object *st, *v;
	int r;

	if (json_object_object_get_ex(o, "build_dir", NULL) &&
	    (r = get_string(o, "", "build_dir", true, &m->build_dir, ret_why)) < 0)
		return r;
	if (!json_object_object_get_ex(o, "stamps", NULL))
		return 0;
	if ((r = get_object(o, "stamps", "stamps", true, &st, ret_why)) < 0)
		return r;
	m->stamps_state = st ? KTS_METADATA_STAMPS_ON : KTS_METADATA_STAMPS_OFF;
	m->stamps.epoch = -1;
	if (!st)
		return 0;
	if ((r = get_string(st, "stamps", "timestamp", false, &m->stamps.timestamp, ret_why)) < 0 ||
	    (r = member(st, "stamps.epoch", "epoch", &v, ret_why)) < 0 ||
	    (r = want_type(v, json_type_int, true, "stamps.epoch", ret_why)) < 0)
		return r;
	if (v && (m->stamps.epoch = json_object_get_int64(v)) < 0)
		return why_set(ret_why, -EBADMSG, "field 'stamps.epoch': invalid (negative)");
	if ((r = get_string(st, "stamps", "user", false, &m->stamps.user, ret_why)) < 0 ||
	    (r = get_string(st, "stamps", "host", false, &m->stamps.host, ret_why)) < 0 ||
	    (r = get_string(st, "stamps", "version", false, &m->stamps.version, ret_why)) < 0 ||
	    (r = get_string(st, "stamps", "from", false, &m->stamps.from, ret_why)) < 0)
		return r;
	return 0;
}

/* "telemetry" and "phases" came with issue 14: an entry without them has neither. */
static int parse_telemetry(struct json_object *o, struct kts_metadata *m, char **ret_why)
{
	struct json_object *v;
	int r;

	if (json_object_object_get_ex(o, "telemetry", &v)) {
		r = telemetry_from_json(v, "telemetry", &m->telemetry, ret_why);
		if (r < 0)
			return r;
		m->has_telemetry = true;
	}
	if (json_object_object_get_ex(o, "phases", &v)) {
		r = phases_from_json(v, "phases", &m->phases, ret_why);
		if (r < 0)
			return r;
		m->has_phases = true;
	}
	return 0;
}

/* Reads every field in the order the writer puts them, so the first bad one is named. */
static int parse_object(struct json_object *o, struct kts_metadata *m, char **ret_why)
{
	struct json_object *tc;
	int r;

	if ((r = parse_schema(o, m, ret_why)) < 0 ||
	    (r = get_string(o, "", "key", false, &m->key, ret_why)) < 0 ||
	    (r = get_string(o, "", "label", false, &m->label, ret_why)) < 0 ||
	    (r = parse_source(o, m, ret_why)) < 0 ||
	    (r = get_string(o, "", "arch", false, &m->arch, ret_why)) < 0 ||
	    (r = get_string(o, "", "image", false, &m->image, ret_why)) < 0 ||
	    (r = get_string(o, "", "base", false, &m->base, ret_why)) < 0 ||
	    (r = get_string(o, "", "fragment_sha256", true, &m->fragment_sha256, ret_why)) < 0 ||
	    (r = parse_extra_kconfig(o, m, ret_why)) < 0 ||
	    (r = get_string(o, "", "config_sha256", true, &m->config_sha256, ret_why)) < 0 ||
	    (r = get_object(o, "toolchain", "toolchain", false, &tc, ret_why)) < 0 ||
	    (r = get_string(tc, "toolchain", "cc", true, &m->toolchain.cc, ret_why)) < 0 ||
	    (r = get_string(tc, "toolchain", "ld", true, &m->toolchain.ld, ret_why)) < 0 ||
	    (r = get_string(tc, "toolchain", "pahole", true, &m->toolchain.pahole, ret_why)) < 0 ||
	    (r = parse_make_vars(o, m, ret_why)) < 0 || (r = parse_build_run(o, m, ret_why)) < 0 ||
	    (r = parse_plan_and_sizes(o, m, ret_why)) < 0 ||
	    (r = get_string(o, "", "ktscope_version", false, &m->ktscope_version, ret_why)) < 0 ||
	    (r = parse_compile(o, m, ret_why)) < 0 ||
	    (r = parse_later_fields(o, m, ret_why)) < 0 ||
	    (r = parse_telemetry(o, m, ret_why)) < 0)
		return r;

	/* Types are right; now the value rules shared with the writer. */
	r = metadata_validate(m, ret_why);
	return r == -EINVAL ? -EBADMSG : r;
}

int metadata_parse(const char *text, size_t len, struct kts_metadata **ret, char **ret_why)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct kts_metadata *m _cleanup_(metadata_freep) = NULL;
	int r;

	r = json_parse_whole(text, len, &o, ret_why);
	if (r < 0)
		return r;
	if (json_object_get_type(o) != json_type_object)
		return why_set(ret_why, -EBADMSG, "not a JSON object (got %s)",
			       json_type_word(json_object_get_type(o)));

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	r = parse_object(o, m, ret_why);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

int metadata_read(const char *path, struct kts_metadata **ret, char **ret_why)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL, *why = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return why_set(ret_why, -ENOENT, "metadata.json missing");
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = negative_errno();
		return why_set(ret_why, r, "metadata.json unreadable: %s", strerror(-r));
	}
	if (!S_ISREG(st.st_mode))
		return why_set(ret_why, -EBADMSG, "metadata.json unreadable: not a regular file");
	if (st.st_size > METADATA_SIZE_MAX)
		return why_set(ret_why, -EBADMSG, "metadata.json unreadable: too large (%jd bytes)",
			       (intmax_t) st.st_size);
	/* Read to EOF, not to st_size: the file may have shrunk or grown meanwhile. */
	r = read_full_fd(fd, METADATA_SIZE_MAX, &buf, &len);
	if (r == -ENOMEM)
		return r;
	if (r == -EFBIG)
		return why_set(ret_why, -EBADMSG, "metadata.json unreadable: changed while reading");
	if (r < 0)
		return why_set(ret_why, r, "metadata.json unreadable: %s", strerror(-r));

	r = metadata_parse(buf, len, ret, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return why_set(ret_why, r, "metadata.json: %s", strempty(why));
	return 0;
}
