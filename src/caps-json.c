/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * capabilities.json (caps.h): the writer, and the strict reader of a file that may come
 * from a pulled entry, i.e. from anyone. The reader checks every key's type, every name,
 * the limits and repeats before it returns anything; unknown keys are tolerated (a later
 * writer may add some without raising the schema).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "caps-internal.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "util.h"

/* The largest capabilities.json read: 3 × 4096 names of 128 bytes, with room. */
#define CAPS_MAX_FILE ((size_t) 4 << 20)

/* ------------------------------------------------------------------ writer */

static int add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* A JSON string, or null for NULL; NULL (ENOMEM) only when s is not NULL. */
static struct json_object *string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static int add_nullable(struct json_object *o, const char *key, const char *s)
{
	struct json_object *v = string_or_null(s);

	if (s && !v)
		return -ENOMEM;
	return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

static struct json_object *strv_to_json(char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++) {
		struct json_object *s = json_object_new_string(v[i]);

		if (!s || json_object_array_add(a, s) < 0) {
			json_object_put(s);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

static struct json_object *options_to_json(const struct kts_caps *c)
{
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; o && i < c->n_options; i++)
		if (add_nullable(o, c->options[i].name, c->options[i].value) < 0) {
			json_object_put(o);
			return NULL;
		}
	return o;
}

int caps_to_json(const struct kts_caps *c, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	int r;

	if (!o)
		return -ENOMEM;
	r = add(o, "schema", json_object_new_int(CAPS_SCHEMA));
	if (r >= 0)
		r = add_nullable(o, "release", c->release);
	if (r >= 0)
		r = add(o, "sched_ext", json_object_new_boolean(c->sched_ext));
	if (r >= 0)
		r = add(o, "ops", strv_to_json(c->ops, c->n_ops));
	if (r >= 0)
		r = add(o, "kfuncs", strv_to_json(c->kfuncs, c->n_kfuncs));
	if (r >= 0)
		r = add(o, "kfuncs_from",
			json_object_new_string(caps_kfuncs_from_name(c->kfuncs_from)));
	if (r >= 0)
		r = add(o, "options", options_to_json(c));
	if (r < 0)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
}

int caps_to_string(const struct kts_caps *c, char **ret)
{
	_cleanup_json_ struct json_object *o = NULL;
	const char *s;
	int r;

	r = caps_to_json(c, &o);
	if (r < 0)
		return r;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || asprintf(ret, "%s\n", s) < 0)
		return -ENOMEM;
	return 0;
}

int caps_write(const struct kts_caps *c, const char *path)
{
	_cleanup_free_ char *s = NULL;
	int r;

	r = caps_to_string(c, &s);
	if (r < 0)
		return r;
	return write_file_atomic(path, s, strlen(s), 0644);
}

/* ------------------------------------------------------------------ reader */

struct parse_ctx {
	const char *name; /* the file, for messages */
	char **ret_why;
};

_printf_(3, 4) static int bad(const struct parse_ctx *p, const char *field, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		return -ENOMEM;
	return why_set(p->ret_why, -EBADMSG, "capabilities.json '%s': field '%s': %s", p->name,
		       field, msg);
}

/* The member key of o, which must exist: -EBADMSG when it does not. */
static int member(const struct parse_ctx *p, struct json_object *o, const char *key,
		  struct json_object **ret)
{
	if (!json_object_object_get_ex(o, key, ret))
		return bad(p, key, "missing");
	return 0;
}

/* A printable name for a message: a foreign file's bytes must not reach a terminal raw. */
static char *shown(const char *s)
{
	return utf8_printable(s, strlen(s), 40);
}

/* An array of C identifiers (with prefix, when not NULL), no repeats: into *ret. */
static int parse_names(const struct parse_ctx *p, struct json_object *root, const char *key,
		       const char *prefix, struct caps_strv *ret)
{
	struct caps_strv sv = { 0 };
	struct json_object *a;
	size_t n;
	int r;

	r = member(p, root, key, &a);
	if (r < 0)
		return r;
	if (!json_object_is_type(a, json_type_array))
		return bad(p, key, "expected an array of strings");
	n = json_object_array_length(a);
	if (n > CAPS_MAX_ITEMS)
		return bad(p, key, "more than %d names", CAPS_MAX_ITEMS);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string))
			r = bad(p, key, "expected an array of strings");
		else if (!caps_name_valid(s) ||
			 (prefix && strncmp(s, prefix, strlen(prefix)) != 0)) {
			_cleanup_free_ char *v = shown(s);
			r = bad(p, key, "'%s' is not a %s name", strempty(v),
				prefix ? prefix : "C");
		} else
			r = caps_strv_push(&sv, s);
		if (r < 0) {
			caps_strv_done(&sv);
			return r;
		}
	}
	*ret = sv;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Fails when sv names something twice (sv itself is left in its order). */
static int check_unique(const struct parse_ctx *p, const char *key, const struct caps_strv *sv)
{
	_cleanup_free_ char **s = calloc(sv->n ? sv->n : 1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (sv->n > 0)
		memcpy(s, sv->v, sv->n * sizeof(*s));
	qsort(s, sv->n, sizeof(*s), cmp_str);
	for (size_t i = 1; i < sv->n; i++)
		if (strcmp(s[i], s[i - 1]) == 0)
			return bad(p, key, "'%s' is listed twice", s[i]);
	return 0;
}

/* "options": { "CONFIG_X": "value" | null, ... }, in the file's order. */
static int parse_options(const struct parse_ctx *p, struct json_object *root, struct kts_caps *c)
{
	struct json_object *o;
	size_t n;
	int r;

	r = member(p, root, "options", &o);
	if (r < 0)
		return r;
	if (!json_object_is_type(o, json_type_object))
		return bad(p, "options", "expected an object");
	n = (size_t) json_object_object_length(o);
	if (n > CAPS_MAX_ITEMS)
		return bad(p, "options", "more than %d options", CAPS_MAX_ITEMS);
	c->options = calloc(n ? n : 1, sizeof(*c->options));
	if (!c->options)
		return -ENOMEM;
	json_object_object_foreach(o, key, val) {
		struct kts_caps_option *opt = &c->options[c->n_options];
		const char *v = json_object_get_string(val);

		if (!caps_name_valid(key) || strncmp(key, "CONFIG_", 7) != 0) {
			_cleanup_free_ char *k = shown(key);
			return bad(p, "options", "'%s' is not a CONFIG_ name", strempty(k));
		}
		if (val && !json_object_is_type(val, json_type_string))
			return bad(p, "options", "%s: expected a string or null", key);
		if (val && !caps_value_valid(v))
			return bad(p, "options", "%s: the value is too long or not printable", key);
		opt->name = strdup(key);
		if (!opt->name || (val && !(opt->value = strdup(v))))
			return -ENOMEM;
		c->n_options++;
	}
	return 0;
}

static int parse_scalars(const struct parse_ctx *p, struct json_object *root, struct kts_caps *c)
{
	struct json_object *v;
	const char *s;
	int r;

	r = member(p, root, "schema", &v);
	if (r < 0)
		return r;
	if (!json_object_is_type(v, json_type_int))
		return bad(p, "schema", "expected an integer");
	if (json_object_get_int64(v) != CAPS_SCHEMA)
		return bad(p, "schema", "unsupported schema %" PRId64 " (this ktscope reads %d)",
			   json_object_get_int64(v), CAPS_SCHEMA);
	r = member(p, root, "release", &v);
	if (r < 0)
		return r;
	if (v && (!json_object_is_type(v, json_type_string) ||
		  !caps_release_valid(json_object_get_string(v))))
		return bad(p, "release", "expected a kernel release or null");
	if (v && !(c->release = strdup(json_object_get_string(v))))
		return -ENOMEM;
	r = member(p, root, "sched_ext", &v);
	if (r < 0)
		return r;
	if (!json_object_is_type(v, json_type_boolean))
		return bad(p, "sched_ext", "expected true or false");
	c->sched_ext = json_object_get_boolean(v);
	r = member(p, root, "kfuncs_from", &v);
	if (r < 0)
		return r;
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	for (int f = KTS_CAPS_KFUNCS_FUNC_NAME; s && f <= KTS_CAPS_KFUNCS_DECL_TAG; f++)
		if (strcmp(s, caps_kfuncs_from_name(f)) == 0) {
			c->kfuncs_from = f;
			return 0;
		}
	return bad(p, "kfuncs_from", "expected \"decl_tag\", \"btf_ids\" or \"func_name\"");
}

static int parse_lists(const struct parse_ctx *p, struct json_object *root, struct kts_caps *c)
{
	struct caps_strv ops = { 0 }, kfuncs = { 0 };
	int r;

	r = parse_names(p, root, "ops", NULL, &ops);
	if (r >= 0)
		r = check_unique(p, "ops", &ops);
	if (r >= 0 && !c->sched_ext && ops.n > 0)
		r = bad(p, "ops", "members listed although 'sched_ext' is false");
	if (r >= 0)
		r = parse_names(p, root, "kfuncs", CAPS_KFUNC_PREFIX, &kfuncs);
	if (r >= 0)
		r = check_unique(p, "kfuncs", &kfuncs);
	c->ops = ops.v;
	c->n_ops = ops.n;
	c->kfuncs = kfuncs.v;
	c->n_kfuncs = kfuncs.n;
	return r;
}

int caps_parse(const char *text, size_t len, const char *name, struct kts_caps *ret,
	       char **ret_why)
{
	_cleanup_json_ struct json_object *root = NULL;
	_cleanup_free_ char *why = NULL;
	struct parse_ctx p = { .name = name, .ret_why = ret_why };
	struct kts_caps c = { 0 };
	int r;

	r = json_parse_whole(text, len, &root, &why);
	if (r == -EBADMSG)
		return why_set(ret_why, r, "capabilities.json '%s': %s", name, strempty(why));
	if (r < 0)
		return r;
	if (!json_object_is_type(root, json_type_object))
		return why_set(ret_why, -EBADMSG, "capabilities.json '%s': expected an object",
			       name);
	r = parse_scalars(&p, root, &c);
	if (r >= 0)
		r = parse_lists(&p, root, &c);
	if (r >= 0)
		r = parse_options(&p, root, &c);
	if (r < 0) {
		caps_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

int caps_read(const char *path, struct kts_caps *ret, char **ret_why)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = read_full_file(path, CAPS_MAX_FILE, &text, &len);
	if (r == -ENOENT)
		return why_set(ret_why, r, "'%s' missing", path);
	if (r == -EFBIG)
		return why_set(ret_why, -EBADMSG, "capabilities.json '%s': larger than %zu bytes",
			       path, CAPS_MAX_FILE);
	if (r < 0)
		return why_set(ret_why, r, "cannot read '%s': %s", path, strerror(-r));
	return caps_parse(text, len, path, ret, ret_why);
}
