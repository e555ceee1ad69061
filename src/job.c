/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Job and result files of a build (job.h): the only way the parent and the in-scope half
 * of `ktscope build` talk. Owns their JSON shape, their strict reading (a fuzzer feeds
 * job_parse() and job_result_parse() buffers) and their atomic writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compile-json.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "pipeline.h"
#include "util.h"

#define JOB_FILE_MAX ((size_t) 1 << 20)

/* ---------------------------------------------------------------- reading */

/* One document being read: where it came from and how many of its keys were taken. */
struct reader {
	struct json_object *o;
	const char *what; /* "job file" | "result file" */
	const char *name;
	const char *taken[32]; /* the keys read so far */
	size_t n_taken;
	char **why;
};

static int bad(struct reader *rd, const char *key, const char *expected)
{
	return why_set(rd->why, -EBADMSG, "%s '%s': field '%s': %s", rd->what, rd->name, key,
		       expected);
}

static void take(struct reader *rd, const char *key)
{
	if (rd->n_taken < ELEMENTSOF(rd->taken))
		rd->taken[rd->n_taken++] = key;
}

/* The member key of type t; NULL when it is null and nullable. */
static int member(struct reader *rd, const char *key, enum json_type t, bool nullable,
		  const char *expected, struct json_object **ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(rd->o, key, &v))
		return bad(rd, key, "missing");
	take(rd, key);
	if (!v && nullable) {
		*ret = NULL;
		return 0;
	}
	if (!v || json_object_get_type(v) != t)
		return bad(rd, key, expected);
	*ret = v;
	return 0;
}

/* A string without NUL bytes; absolute when path; non-empty always. */
static int get_str(struct reader *rd, const char *key, bool nullable, bool path, char **ret)
{
	struct json_object *v;
	const char *s;
	int r;

	r = member(rd, key, json_type_string, nullable,
		   path ? "expected an absolute path" : "expected a string", &v);
	if (r < 0)
		return r;
	if (!v) {
		*ret = NULL;
		return 0;
	}
	s = json_object_get_string(v);
	if ((size_t) json_object_get_string_len(v) != strlen(s) || !*s || (path && s[0] != '/'))
		return bad(rd, key, path ? "expected an absolute path" : "expected a non-empty "
			   "string without NUL");
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int get_bool(struct reader *rd, const char *key, bool *ret)
{
	struct json_object *v;
	int r = member(rd, key, json_type_boolean, false, "expected true or false", &v);

	if (r < 0)
		return r;
	*ret = json_object_get_boolean(v);
	return 0;
}

static int get_u64(struct reader *rd, const char *key, uint64_t max, uint64_t *ret)
{
	struct json_object *v;
	int64_t x;
	int r = member(rd, key, json_type_int, false, "expected a non-negative integer", &v);

	if (r < 0)
		return r;
	errno = 0;
	x = json_object_get_int64(v);
	if (errno || x < 0 || (uint64_t) x > max)
		return bad(rd, key, "integer out of range");
	*ret = (uint64_t) x;
	return 0;
}

static int get_unsigned(struct reader *rd, const char *key, unsigned min, unsigned max,
			unsigned *ret)
{
	uint64_t v;
	int r = get_u64(rd, key, max, &v);

	if (r < 0)
		return r;
	if (v < min)
		return bad(rd, key, "integer out of range");
	*ret = (unsigned) v;
	return 0;
}

static int get_seconds(struct reader *rd, const char *key, double *ret)
{
	struct json_object *v;
	double d;
	int r;

	if (!json_object_object_get_ex(rd->o, key, &v))
		return bad(rd, key, "missing");
	if (v && json_object_get_type(v) == json_type_int) {
		take(rd, key);
		d = (double) json_object_get_int64(v);
	} else {
		r = member(rd, key, json_type_double, false, "expected seconds", &v);
		if (r < 0)
			return r;
		d = json_object_get_double(v);
	}
	if (!isfinite(d) || d < 0)
		return bad(rd, key, "expected seconds (>= 0)");
	*ret = d;
	return 0;
}

/* As get_seconds(), 0 when absent (a field later than the file format). */
static int get_seconds_opt(struct reader *rd, const char *key, double *ret)
{
	if (!json_object_object_get_ex(rd->o, key, NULL)) {
		*ret = 0;
		return 0;
	}
	return get_seconds(rd, key, ret);
}

/* An array of strings (paths when path); *ret NULL-terminated. */
static int get_strv(struct reader *rd, const char *key, bool path, char ***ret, size_t *ret_n)
{
	struct json_object *v;
	size_t n;
	char **a;
	int r;

	r = member(rd, key, json_type_array, false, "expected an array", &v);
	if (r < 0)
		return r;
	n = json_object_array_length(v);
	a = calloc(n + 1, sizeof(char *));
	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		const char *s = e && json_object_get_type(e) == json_type_string
					? json_object_get_string(e) : NULL;

		if (!s || (size_t) json_object_get_string_len(e) != strlen(s) || !*s ||
		    (path && s[0] != '/')) {
			strv_free(a, i);
			return bad(rd, key, path ? "expected absolute paths" : "expected non-empty "
				   "strings without NUL");
		}
		a[i] = strdup(s);
		if (!a[i]) {
			strv_free(a, i);
			return -ENOMEM;
		}
	}
	*ret = a;
	*ret_n = n;
	return 0;
}

/* No key besides those taken. */
static int check_rest(struct reader *rd)
{
	json_object_object_foreach(rd->o, k, v) {
		bool known = false;

		(void) v;
		for (size_t i = 0; i < rd->n_taken && !known; i++)
			known = streq(rd->taken[i], k);
		if (!known) {
			_cleanup_free_ char *key = utf8_printable(k, strlen(k), 64);

			return why_set(rd->why, -EBADMSG, "%s '%s': unknown field '%s'", rd->what,
				       rd->name, strempty(key));
		}
	}
	return 0;
}

static int check_schema(struct reader *rd)
{
	unsigned schema;
	int r = get_unsigned(rd, "schema", 0, UINT_MAX, &schema);

	if (r < 0)
		return r;
	if (schema != JOB_SCHEMA)
		return bad(rd, "schema", "unsupported version (expected 1)");
	return 0;
}

/* The JSON object in text[0..len), nothing after it. */
static int parse_document(const char *text, size_t len, struct reader *rd,
			  struct json_object **ret)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error jerr;

	if (len > JOB_FILE_MAX || len > INT_MAX)
		return why_set(rd->why, -EBADMSG, "%s '%s': too large", rd->what, rd->name);
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, text, (int) len);
	jerr = json_tokener_get_error(tok);
	if (o && jerr == json_tokener_success) {
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (!text[i] || !strchr(" \t\r\n", text[i])) /* strchr() finds the NUL too */
				jerr = json_tokener_error_parse_unexpected;
	}
	json_tokener_free(tok);
	if (!o || jerr != json_tokener_success) {
		if (o)
			json_object_put(o);
		return why_set(rd->why, -EBADMSG, "%s '%s': malformed JSON", rd->what, rd->name);
	}
	if (json_object_get_type(o) != json_type_object) {
		json_object_put(o);
		return why_set(rd->why, -EBADMSG, "%s '%s': not a JSON object", rd->what, rd->name);
	}
	*ret = o;
	return 0;
}

static int read_doc(const char *path, char **ret, size_t *ret_len, const char *what,
		    char **ret_why)
{
	int r = read_full_file(path, JOB_FILE_MAX, ret, ret_len);

	if (r < 0)
		return why_set(ret_why, r, "cannot read %s '%s': %s", what, path, strerror(-r));
	return 0;
}

/*
 * Parses text as one JSON object and reads its fields into out with fields(); on failure
 * done(out) frees what fields() had set. The one path both documents are read by.
 */
static int parse_with(const char *text, size_t len, struct reader *rd,
		      int (*fields)(struct reader *rd, void *out), void (*done)(void *out),
		      void *out)
{
	_cleanup_json_ struct json_object *o = NULL;
	int r = parse_document(text, len, rd, &o);

	if (r < 0)
		return r;
	rd->o = o;
	r = fields(rd, out);
	if (r < 0)
		done(out);
	return r;
}

/* ---------------------------------------------------------------- job */

void job_done(struct kts_build_job *j)
{
	free(j->src_dir);
	free(j->build_dir);
	free(j->stage_dir);
	free(j->result_file);
	free(j->base);
	strv_free(j->extra, j->n_extra);
	strv_free(j->extra_names, j->n_extra);
	free(j->arch);
	free(j->pahole_version);
	free(j->count_file);
	free(j->made_fifo);
	strv_free(j->make_vars, j->n_make_vars);
	compile_plan_done(&j->compile);
	free(j->compile_dir);
	free(j->wrapper_dir);
	if (j->stamps)
		stamps_done(j->stamps);
	free(j->stamps);
	*j = (struct kts_build_job){ 0 };
}

static void job_done_v(void *j)
{
	job_done(j);
}

/* "compile": the plan or null; with a plan, the two directories it writes into. */
static int get_compile(struct reader *rd, struct kts_build_job *j)
{
	_cleanup_free_ char *why = NULL;
	struct json_object *v;
	int r;

	if ((r = member(rd, "compile", json_type_object, true, "expected an object or null",
			&v)) < 0 ||
	    (r = get_str(rd, "compile_dir", true, true, &j->compile_dir)) < 0 ||
	    (r = get_str(rd, "wrapper_dir", true, true, &j->wrapper_dir)) < 0)
		return r;
	if (v) {
		r = compile_plan_from_json(v, "compile", &j->compile, &why);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return why_set(rd->why, r, "%s '%s': %s", rd->what, rd->name, strempty(why));
	}
	if (compile_plan_active(&j->compile) && (!j->compile_dir || !j->wrapper_dir))
		return bad(rd, j->compile_dir ? "wrapper_dir" : "compile_dir", "required with a plan");
	return 0;
}

/* A string of the stamps object: present, a string without NUL; empty is allowed (an
 * empty make variable means Kbuild's own value). */
static int get_stamp_str(struct reader *rd, const char *key, char **ret)
{
	struct json_object *v;
	const char *s;
	int r = member(rd, key, json_type_string, false, "expected a string", &v);

	if (r < 0)
		return r;
	s = json_object_get_string(v);
	if ((size_t) json_object_get_string_len(v) != strlen(s) || strchr(s, '\n'))
		return bad(rd, key, "expected a line without NUL");
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

/* "stamps": null (off) or {timestamp, epoch, user, host, version, from}. */
static int parse_stamps(struct reader *rd, struct kts_stamps **ret)
{
	struct json_object *o, *e;
	struct reader sub = { .what = rd->what, .name = rd->name, .why = rd->why };
	int r;

	r = member(rd, "stamps", json_type_object, true, "expected an object or null", &o);
	if (r < 0 || !o)
		return r;
	*ret = calloc(1, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	(*ret)->epoch = -1;
	sub.o = o;
	if ((r = get_stamp_str(&sub, "timestamp", &(*ret)->timestamp)) < 0 ||
	    (r = member(&sub, "epoch", json_type_int, true, "expected an integer or null", &e)) < 0 ||
	    (r = get_stamp_str(&sub, "user", &(*ret)->user)) < 0 ||
	    (r = get_stamp_str(&sub, "host", &(*ret)->host)) < 0 ||
	    (r = get_stamp_str(&sub, "version", &(*ret)->version)) < 0 ||
	    (r = get_stamp_str(&sub, "from", &(*ret)->from)) < 0 ||
	    (r = get_bool(&sub, "map_tree", &(*ret)->map_tree)) < 0)
		return r;
	if (e && ((*ret)->epoch = json_object_get_int64(e)) < 0)
		return bad(&sub, "epoch", "expected seconds (0-253402300799) or null");
	if ((*ret)->epoch > STAMPS_EPOCH_MAX)
		return bad(&sub, "epoch", "expected seconds (0-253402300799) or null");
	if (!stamps_from_is_valid((*ret)->from))
		return bad(&sub, "from", "expected make-variable, SOURCE_DATE_EPOCH, git-commit, "
			   "tarball or source-identity");
	return check_rest(&sub);
}

static int parse_job_fields(struct reader *rd, void *out)
{
	struct kts_build_job *j = out;
	size_t n_names = 0;
	int r;

	if ((r = check_schema(rd)) < 0 || (r = get_str(rd, "src_dir", false, true, &j->src_dir)) < 0 ||
	    (r = get_str(rd, "build_dir", true, true, &j->build_dir)) < 0 ||
	    (r = get_str(rd, "stage_dir", false, true, &j->stage_dir)) < 0 ||
	    (r = get_str(rd, "result_file", false, true, &j->result_file)) < 0 ||
	    (r = get_str(rd, "base", false, false, &j->base)) < 0 ||
	    (r = get_strv(rd, "extra", true, &j->extra, &j->n_extra)) < 0 ||
	    (r = get_strv(rd, "extra_names", false, &j->extra_names, &n_names)) < 0)
		return r;
	/* At once: job_done() frees extra_names as n_extra strings. */
	if (n_names != j->n_extra) {
		strv_free(j->extra_names, n_names);
		j->extra_names = NULL;
		return bad(rd, "extra_names", "expected one name per extra fragment");
	}
	if ((r = get_str(rd, "arch", false, false, &j->arch)) < 0 ||
	    (r = get_unsigned(rd, "jobs", 1, JOB_MAX_JOBS, &j->jobs)) < 0 ||
	    (r = get_bool(rd, "clean", &j->clean)) < 0 ||
	    (r = get_bool(rd, "compile_commands", &j->compile_commands)) < 0 ||
	    (r = get_bool(rd, "json_events", &j->json_events)) < 0 ||
	    (r = get_bool(rd, "progress", &j->progress)) < 0 ||
	    (r = get_str(rd, "pahole_version", true, false, &j->pahole_version)) < 0 ||
	    (r = get_str(rd, "count_file", true, true, &j->count_file)) < 0 ||
	    (r = get_str(rd, "made_fifo", true, true, &j->made_fifo)) < 0 ||
	    (r = get_strv(rd, "make_vars", false, &j->make_vars, &j->n_make_vars)) < 0 ||
	    (r = get_compile(rd, j)) < 0 ||
	    (r = parse_stamps(rd, &j->stamps)) < 0 ||
	    (r = get_bool(rd, "headers", &j->headers)) < 0)
		return r;
	if (!pipeline_base_is_target(j->base) && j->base[0] != '/')
		return bad(rd, "base", "expected defconfig, tinyconfig, kvm_guest or an absolute path");
	if (!pipeline_image_name(j->arch))
		return bad(rd, "arch", "expected x86_64 or aarch64");
	for (size_t i = 0; i < j->n_make_vars; i++)
		if (!strchr(j->make_vars[i], '=') || strchr(j->make_vars[i], '\n'))
			return bad(rd, "make_vars", "expected NAME=VALUE strings");
	return check_rest(rd);
}

int job_parse(const char *text, size_t len, const char *name, struct kts_build_job *ret,
	      char **ret_why)
{
	struct kts_build_job j = { 0 };
	struct reader rd = { .what = "job file", .name = name, .why = ret_why };
	int r = parse_with(text, len, &rd, parse_job_fields, job_done_v, &j);

	if (r >= 0)
		*ret = j;
	return r;
}

int job_read(const char *path, struct kts_build_job *ret, char **ret_why)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_doc(path, &text, &len, "job file", ret_why);

	return r < 0 ? r : job_parse(text, len, path, ret, ret_why);
}

/* ---------------------------------------------------------------- writing */

static struct json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static struct json_object *strv_json(char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* Writes o, pretty and newline-terminated, to path atomically (util's write_file_atomic). */
static int write_json(struct json_object *o, const char *path)
{
	_cleanup_free_ char *text = NULL;
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s || asprintf(&text, "%s\n", s) < 0)
		return -ENOMEM;
	return write_file_atomic(path, text, strlen(text), 0644);
}

static struct json_object *stamps_json(const struct kts_stamps *s)
{
	struct json_object *o;

	if (!s || !(o = json_object_new_object()))
		return NULL;
	json_object_object_add(o, "timestamp", str_or_null(s->timestamp));
	json_object_object_add(o, "epoch", s->epoch >= 0 ? json_object_new_int64(s->epoch) : NULL);
	json_object_object_add(o, "user", str_or_null(s->user));
	json_object_object_add(o, "host", str_or_null(s->host));
	json_object_object_add(o, "version", str_or_null(s->version));
	json_object_object_add(o, "from", str_or_null(s->from));
	json_object_object_add(o, "map_tree", json_object_new_boolean(s->map_tree));
	return o;
}

int job_write(const struct kts_build_job *j, const char *path)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "schema", json_object_new_int(JOB_SCHEMA));
	json_object_object_add(o, "src_dir", str_or_null(j->src_dir));
	json_object_object_add(o, "build_dir", str_or_null(j->build_dir));
	json_object_object_add(o, "stage_dir", str_or_null(j->stage_dir));
	json_object_object_add(o, "result_file", str_or_null(j->result_file));
	json_object_object_add(o, "base", str_or_null(j->base));
	json_object_object_add(o, "extra", strv_json(j->extra, j->n_extra));
	json_object_object_add(o, "extra_names", strv_json(j->extra_names, j->n_extra));
	json_object_object_add(o, "arch", str_or_null(j->arch));
	json_object_object_add(o, "jobs", json_object_new_int64(j->jobs));
	json_object_object_add(o, "clean", json_object_new_boolean(j->clean));
	json_object_object_add(o, "compile_commands", json_object_new_boolean(j->compile_commands));
	json_object_object_add(o, "json_events", json_object_new_boolean(j->json_events));
	json_object_object_add(o, "progress", json_object_new_boolean(j->progress));
	json_object_object_add(o, "pahole_version", str_or_null(j->pahole_version));
	json_object_object_add(o, "count_file", str_or_null(j->count_file));
	json_object_object_add(o, "made_fifo", str_or_null(j->made_fifo));
	json_object_object_add(o, "make_vars", strv_json(j->make_vars, j->n_make_vars));
	json_object_object_add(o, "compile", compile_plan_active(&j->compile) ?
				compile_plan_to_json(&j->compile) : NULL);
	json_object_object_add(o, "compile_dir", str_or_null(j->compile_dir));
	json_object_object_add(o, "wrapper_dir", str_or_null(j->wrapper_dir));
	json_object_object_add(o, "stamps", stamps_json(j->stamps));
	json_object_object_add(o, "headers", json_object_new_boolean(j->headers));
	return write_json(o, path);
}

/* ---------------------------------------------------------------- result */

void job_result_done(struct kts_build_job_result *r)
{
	free(r->reason);
	free(r->image);
	*r = (struct kts_build_job_result){ 0 };
}

static bool is_sha256_hex(const char *s)
{
	if (strlen(s) != HASH_SHA256_HEX_SIZE - 1)
		return false;
	return strspn(s, "0123456789abcdef") == HASH_SHA256_HEX_SIZE - 1;
}

static void job_result_done_v(void *res)
{
	job_result_done(res);
}

static int get_compile_stats(struct reader *rd, struct kts_compile_stats *ret)
{
	_cleanup_free_ char *why = NULL;
	struct json_object *v;
	int r = member(rd, "compile_stats", json_type_object, true, "expected an object or null", &v);

	if (r < 0)
		return r;
	r = compile_stats_from_json(v, "compile_stats", ret, &why);
	if (r < 0 && r != -ENOMEM)
		return why_set(rd->why, r, "%s '%s': %s", rd->what, rd->name, strempty(why));
	return r;
}

/* "telemetry": optional (a result without it has every value absent), strict when there. */
static int get_telemetry(struct reader *rd, struct kts_telemetry *ret)
{
	_cleanup_free_ char *why = NULL;
	struct json_object *v;
	int r;

	telemetry_init(ret);
	if (!json_object_object_get_ex(rd->o, "telemetry", NULL))
		return 0;
	r = member(rd, "telemetry", json_type_object, false, "expected an object", &v);
	if (r < 0)
		return r;
	r = telemetry_from_json(v, "telemetry", ret, &why);
	if (r < 0)
		return why_set(rd->why, r, "%s '%s': %s", rd->what, rd->name, strempty(why));
	return 0;
}

static int parse_result_fields(struct reader *rd, void *out)
{
	struct kts_build_job_result *res = out;
	_cleanup_free_ char *sha = NULL;
	unsigned error;
	int r;

	if ((r = check_schema(rd)) < 0 || (r = get_bool(rd, "ok", &res->ok)) < 0 ||
	    (r = get_unsigned(rd, "error", 0, 4095, &error)) < 0 ||
	    (r = get_str(rd, "reason", true, false, &res->reason)) < 0 ||
	    (r = get_str(rd, "image", true, true, &res->image)) < 0 ||
	    (r = get_u64(rd, "image_size", UINT64_MAX >> 1, &res->image_size)) < 0 ||
	    (r = get_u64(rd, "vmlinux_size", UINT64_MAX >> 1, &res->vmlinux_size)) < 0 ||
	    (r = get_u64(rd, "vmlinux_unstripped", UINT64_MAX >> 1, &res->vmlinux_unstripped)) < 0 ||
	    (r = get_str(rd, "config_sha256", true, false, &sha)) < 0 ||
	    (r = get_bool(rd, "configured", &res->configured)) < 0 ||
	    (r = get_bool(rd, "validated", &res->validated)) < 0 ||
	    (r = get_unsigned(rd, "objects", 0, UINT_MAX, &res->objects)) < 0 ||
	    (r = get_unsigned(rd, "dropped_lines", 0, UINT_MAX, &res->n_dropped)) < 0 ||
	    (r = get_seconds(rd, "configure_seconds", &res->configure_seconds)) < 0 ||
	    (r = get_seconds(rd, "make_seconds", &res->make_seconds)) < 0 ||
	    (r = get_seconds(rd, "strip_seconds", &res->strip_seconds)) < 0 ||
	    (r = get_seconds(rd, "seconds", &res->seconds)) < 0 ||
	    (r = get_seconds(rd, "vmlinux_h_seconds", &res->vmlinux_h_seconds)) < 0 ||
	    (r = get_seconds(rd, "capabilities_seconds", &res->capabilities_seconds)) < 0 ||
	    (r = get_seconds(rd, "headers_seconds", &res->headers_seconds)) < 0 ||
	    (r = get_seconds_opt(rd, "compile_commands_seconds",
				 &res->compile_commands_seconds)) < 0 ||
	    (r = get_compile_stats(rd, &res->compile_stats)) < 0 ||
	    (r = get_telemetry(rd, &res->telemetry)) < 0)
		return r;
	res->error = (int) error;
	if (res->ok != (error == 0))
		return bad(rd, "error", "expected 0 exactly when ok");
	if (res->ok && (!res->image || !sha))
		return bad(rd, res->image ? "config_sha256" : "image", "required when ok");
	if (sha && !is_sha256_hex(sha))
		return bad(rd, "config_sha256", "expected 64 lowercase hex digits");
	if (sha)
		memcpy(res->config_sha256, sha, HASH_SHA256_HEX_SIZE);
	return check_rest(rd);
}

int job_result_parse(const char *text, size_t len, const char *name,
		     struct kts_build_job_result *ret, char **ret_why)
{
	struct kts_build_job_result res = { 0 };
	struct reader rd = { .what = "result file", .name = name, .why = ret_why };
	int r = parse_with(text, len, &rd, parse_result_fields, job_result_done_v, &res);

	if (r >= 0)
		*ret = res;
	return r;
}

int job_result_read(const char *path, struct kts_build_job_result *ret, char **ret_why)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_doc(path, &text, &len, "result file", ret_why);

	return r < 0 ? r : job_result_parse(text, len, path, ret, ret_why);
}

int job_result_write(const struct kts_build_job_result *res, const char *path)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *tele = NULL;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "schema", json_object_new_int(JOB_SCHEMA));
	json_object_object_add(o, "ok", json_object_new_boolean(res->ok));
	json_object_object_add(o, "error", json_object_new_int(res->ok ? 0 : res->error));
	json_object_object_add(o, "reason", str_or_null(res->reason));
	json_object_object_add(o, "image", str_or_null(res->image));
	json_object_object_add(o, "image_size", json_object_new_int64((int64_t) res->image_size));
	json_object_object_add(o, "vmlinux_size", json_object_new_int64((int64_t) res->vmlinux_size));
	json_object_object_add(o, "vmlinux_unstripped",
			       json_object_new_int64((int64_t) res->vmlinux_unstripped));
	json_object_object_add(o, "config_sha256",
			       str_or_null(res->config_sha256[0] ? res->config_sha256 : NULL));
	json_object_object_add(o, "configured", json_object_new_boolean(res->configured));
	json_object_object_add(o, "validated", json_object_new_boolean(res->validated));
	json_object_object_add(o, "objects", json_object_new_int64(res->objects));
	json_object_object_add(o, "dropped_lines", json_object_new_int64(res->n_dropped));
	json_object_object_add(o, "configure_seconds", json_object_new_double(res->configure_seconds));
	json_object_object_add(o, "make_seconds", json_object_new_double(res->make_seconds));
	json_object_object_add(o, "strip_seconds", json_object_new_double(res->strip_seconds));
	json_object_object_add(o, "seconds", json_object_new_double(res->seconds));
	json_object_object_add(o, "vmlinux_h_seconds", json_object_new_double(res->vmlinux_h_seconds));
	json_object_object_add(o, "capabilities_seconds",
			       json_object_new_double(res->capabilities_seconds));
	json_object_object_add(o, "headers_seconds", json_object_new_double(res->headers_seconds));
	json_object_object_add(o, "compile_commands_seconds",
			       json_object_new_double(res->compile_commands_seconds));
	json_object_object_add(o, "compile_stats", compile_stats_to_json(&res->compile_stats));
	if (telemetry_to_json(&res->telemetry, &tele) < 0)
		return -ENOMEM;
	json_object_object_add(o, "telemetry", tele);
	return write_json(o, path);
}
