/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The JSON documents of the OCI distribution API that ktscope reads or writes
 * (registry-internal.h): the image manifest of a cache entry (built canonically for a push,
 * parsed strictly when pulled), the media type of each entry file, and the two documents a
 * registry answers with besides blobs: a tags list page and an error body.
 *
 * Everything parsed here is outside input. A pulled manifest decides which files are written
 * into the store's temporary directory, so a layer's title must be the name of an entry
 * file (registry_media_type() knows it): no path, no "..", nothing else is ever accepted.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "cache.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "json-util.h"
#include "registry-internal.h"

#define KTS_OCI_MAX_LAYERS 16
#define KTS_OCI_MEDIA_PREFIX "application/vnd.ktscope.kernel."

/* Every file an entry may have, in the order a manifest lists them. headers/ (cache.h) is
 * not one: it is a directory tree of the build machine's, kept local. */
static const struct {
	const char *title;
	const char *media_type;
} entry_files[] = {
	{ "bzImage", KTS_OCI_MEDIA_PREFIX "image.v1" },
	{ "Image", KTS_OCI_MEDIA_PREFIX "image.v1" },
	{ CACHE_FILE_VMLINUX, KTS_OCI_MEDIA_PREFIX "vmlinux.v1" },
	{ CACHE_FILE_CONFIG, KTS_OCI_MEDIA_PREFIX "config.v1+text" },
	{ METADATA_FILENAME, KTS_OCI_MEDIA_PREFIX "metadata.v1+json" },
	{ CACHE_FILE_KCONFIG_REPORT, KTS_OCI_MEDIA_PREFIX "kconfig-report.v1+json" },
	{ CACHE_FILE_BUILD_LOG, KTS_OCI_MEDIA_PREFIX "build-log.v1+text" },
	/* Optional: entries pushed before ktscope made them have neither (cache.h). */
	{ CACHE_FILE_VMLINUX_H, KTS_OCI_MEDIA_PREFIX "vmlinux-h.v1+text" },
	{ CACHE_FILE_CAPABILITIES, KTS_OCI_MEDIA_PREFIX "capabilities.v1+json" },
};

const char *registry_media_type(const char *title)
{
	if (!title)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(entry_files); i++)
		if (streq(title, entry_files[i].title))
			return entry_files[i].media_type;
	return NULL;
}

int registry_file_order(const char *title)
{
	if (!title)
		return -1;
	for (size_t i = 0; i < ELEMENTSOF(entry_files); i++)
		if (streq(title, entry_files[i].title))
			return (int) i;
	return -1;
}

bool registry_digest_valid(const char *digest)
{
	return digest && startswith(digest, "sha256:") && metadata_is_sha256_hex(digest + 7);
}

void registry_manifest_done(struct kts_oci_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_layers; i++) {
		free(m->layers[i].title);
		free(m->layers[i].media_type);
	}
	free(m->layers);
	free(m->created);
	free(m->key);
	*m = (struct kts_oci_manifest) { 0 };
}

/* ------------------------------------------------------------------ build */

static struct json_object *descriptor_new(const char *media_type, const char *digest,
					  uint64_t size)
{
	_cleanup_json_ struct json_object *d = json_object_new_object();

	if (!d || size > INT64_MAX ||
	    json_object_object_add(d, "mediaType", json_object_new_string(media_type)) < 0 ||
	    json_object_object_add(d, "digest", json_object_new_string(digest)) < 0 ||
	    json_object_object_add(d, "size", json_object_new_int64((int64_t) size)) < 0)
		return NULL;
	return TAKE_PTR(d);
}

static struct json_object *layer_new(const struct kts_oci_layer *l)
{
	_cleanup_json_ struct json_object *d = NULL;
	struct json_object *a;

	if (!registry_media_type(l->title) || !registry_digest_valid(l->digest))
		return NULL;
	d = descriptor_new(l->media_type ? l->media_type : registry_media_type(l->title),
			   l->digest, l->size);
	a = json_object_new_object();
	if (!d || !a || json_object_object_add(d, "annotations", a) < 0) {
		json_object_put(a);
		return NULL;
	}
	if (json_object_object_add(a, KTS_OCI_TITLE, json_object_new_string(l->title)) < 0)
		return NULL;
	return TAKE_PTR(d);
}

static struct json_object *annotations_new(const struct kts_oci_manifest *m)
{
	_cleanup_json_ struct json_object *a = json_object_new_object();

	if (!a)
		return NULL;
	if (m->created &&
	    json_object_object_add(a, KTS_OCI_CREATED, json_object_new_string(m->created)) < 0)
		return NULL;
	if (m->key && json_object_object_add(a, KTS_OCI_KEY, json_object_new_string(m->key)) < 0)
		return NULL;
	return TAKE_PTR(a);
}

int registry_manifest_build(const struct kts_oci_manifest *m, char **ret_json)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *layers, *config, *ann;
	const char *s;
	char *copy;

	if (!o)
		return -ENOMEM;
	if (m->n_layers == 0 || m->n_layers > KTS_OCI_MAX_LAYERS)
		return -EINVAL;
	if (json_object_object_add(o, "schemaVersion", json_object_new_int(2)) < 0 ||
	    json_object_object_add(o, "mediaType", json_object_new_string(KTS_OCI_MANIFEST_TYPE)) < 0 ||
	    json_object_object_add(o, "artifactType",
				   json_object_new_string(KTS_OCI_ARTIFACT_TYPE)) < 0)
		return -ENOMEM;
	config = descriptor_new(KTS_OCI_EMPTY_TYPE, KTS_OCI_EMPTY_DIGEST, KTS_OCI_EMPTY_SIZE);
	if (!config || json_object_object_add(o, "config", config) < 0)
		return json_object_put(config), -ENOMEM;
	layers = json_object_new_array();
	if (!layers || json_object_object_add(o, "layers", layers) < 0)
		return json_object_put(layers), -ENOMEM;
	for (size_t i = 0; i < m->n_layers; i++) {
		struct json_object *l = layer_new(&m->layers[i]);

		if (!l)
			return -EINVAL;
		if (json_object_array_add(layers, l) < 0)
			return json_object_put(l), -ENOMEM;
	}
	ann = annotations_new(m);
	if (!ann || json_object_object_add(o, "annotations", ann) < 0)
		return json_object_put(ann), -ENOMEM;

	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	*ret_json = copy;
	return 0;
}

/* ------------------------------------------------------------------ parse */

/* The member key of o as a string: 0 and *ret, -ENOENT when absent, -EBADMSG otherwise. */
static int get_string(struct json_object *o, const char *key, const char **ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return -ENOENT;
	if (!json_object_is_type(v, json_type_string))
		return -EBADMSG;
	*ret = json_object_get_string(v);
	/* an embedded NUL would make the C string another value than the JSON one */
	if (strlen(*ret) != (size_t) json_object_get_string_len(v))
		return -EBADMSG;
	return 0;
}

static int want_string(struct json_object *o, const char *field, const char *key,
		       const char **ret, char **ret_why)
{
	int r = get_string(o, key, ret);

	if (r == -ENOENT)
		return why_set(ret_why, -EBADMSG, "missing field '%s'", field);
	if (r < 0)
		return why_set(ret_why, -EBADMSG, "field '%s': expected a string", field);
	return 0;
}

static int want_size(struct json_object *o, const char *field, uint64_t *ret, char **ret_why)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, "size", &v))
		return why_set(ret_why, -EBADMSG, "missing field '%s'", field);
	if (!json_object_is_type(v, json_type_int))
		return why_set(ret_why, -EBADMSG, "field '%s': expected an integer", field);
	errno = 0;
	n = json_object_get_int64(v);
	/* json-c clamps what does not fit to INT64_MAX and says so in errno; so do uint64s */
	if (n < 0 || errno != 0 || n == INT64_MAX)
		return why_set(ret_why, -EBADMSG, "field '%s': invalid size", field);
	*ret = (uint64_t) n;
	return 0;
}

/* A printable, bounded copy of foreign text for a message. */
static const char *shown(const char *s, char buf[static 64])
{
	size_t i = 0;

	for (; s[i] && i < 60; i++)
		buf[i] = (s[i] < 0x20 || s[i] == 0x7f || (unsigned char) s[i] >= 0x80) ? '?' : s[i];
	if (s[i])
		buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

static int parse_config(struct json_object *o, char **ret_why)
{
	struct json_object *c;
	const char *mt, *digest;
	uint64_t size;
	int r;

	if (!json_object_object_get_ex(o, "config", &c))
		return why_set(ret_why, -EBADMSG, "missing field 'config'");
	if (!json_object_is_type(c, json_type_object))
		return why_set(ret_why, -EBADMSG, "field 'config': expected an object");
	r = want_string(c, "config.mediaType", "mediaType", &mt, ret_why);
	if (r < 0)
		return r;
	r = want_string(c, "config.digest", "digest", &digest, ret_why);
	if (r < 0)
		return r;
	r = want_size(c, "config.size", &size, ret_why);
	if (r < 0)
		return r;
	if (!streq(mt, KTS_OCI_EMPTY_TYPE) || !streq(digest, KTS_OCI_EMPTY_DIGEST) ||
	    size != KTS_OCI_EMPTY_SIZE)
		return why_set(ret_why, -EBADMSG, "field 'config': not the empty descriptor");
	return 0;
}

static int parse_title(struct json_object *l, const char *field, const char **ret,
		       char **ret_why)
{
	struct json_object *a;
	char buf[64];
	int r;

	if (!json_object_object_get_ex(l, "annotations", &a))
		return why_set(ret_why, -EBADMSG, "missing field '%s.annotations'", field);
	if (!json_object_is_type(a, json_type_object))
		return why_set(ret_why, -EBADMSG, "field '%s.annotations': expected an object",
			       field);
	r = get_string(a, KTS_OCI_TITLE, ret);
	if (r == -ENOENT)
		return why_set(ret_why, -EBADMSG, "%s: no '" KTS_OCI_TITLE "' annotation", field);
	if (r < 0)
		return why_set(ret_why, -EBADMSG, "%s: '" KTS_OCI_TITLE "' is not a string", field);
	if (!registry_media_type(*ret))
		return why_set(ret_why, -EBADMSG, "%s: title '%s' is not a file of an entry",
			       field, shown(*ret, buf));
	return 0;
}

static int parse_layer(struct json_object *l, size_t i, struct kts_oci_layer *ret,
		       char **ret_why)
{
	const char *mt, *digest, *title;
	char field[32], buf[64];
	uint64_t size;
	int r;

	(void) snprintf(field, sizeof(field), "layers[%zu]", i);
	if (!json_object_is_type(l, json_type_object))
		return why_set(ret_why, -EBADMSG, "field '%s': expected an object", field);
	r = parse_title(l, field, &title, ret_why);
	if (r < 0)
		return r;
	if (get_string(l, "mediaType", &mt) < 0)
		return why_set(ret_why, -EBADMSG, "%s (%s): mediaType missing or not a string",
			       field, title);
	if (!streq(mt, registry_media_type(title)))
		return why_set(ret_why, -EBADMSG, "%s (%s): unknown media type '%s'", field, title,
			       shown(mt, buf));
	if (get_string(l, "digest", &digest) < 0 || !registry_digest_valid(digest))
		return why_set(ret_why, -EBADMSG, "%s (%s): digest missing or not sha256:{64 hex}",
			       field, title);
	(void) snprintf(field + strlen(field), sizeof(field) - strlen(field), ".size");
	r = want_size(l, field, &size, ret_why);
	if (r < 0)
		return r;

	ret->title = strdup(title);
	ret->media_type = strdup(mt);
	if (!ret->title || !ret->media_type)
		return -ENOMEM;
	memcpy(ret->digest, digest, strlen(digest) + 1);
	ret->size = size;
	return 0;
}

static int parse_layers(struct json_object *o, struct kts_oci_manifest *m, char **ret_why)
{
	struct json_object *a;
	bool have_metadata = false;
	size_t n;
	int r;

	if (!json_object_object_get_ex(o, "layers", &a))
		return why_set(ret_why, -EBADMSG, "missing field 'layers'");
	if (!json_object_is_type(a, json_type_array))
		return why_set(ret_why, -EBADMSG, "field 'layers': expected an array");
	n = json_object_array_length(a);
	if (n < 1 || n > KTS_OCI_MAX_LAYERS)
		return why_set(ret_why, -EBADMSG, "field 'layers': %zu layers (1..%d expected)", n,
			       KTS_OCI_MAX_LAYERS);
	m->layers = calloc(n, sizeof(*m->layers));
	if (!m->layers)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = parse_layer(json_object_array_get_idx(a, i), i, &m->layers[i], ret_why);
		m->n_layers = i + 1; /* so done() frees what parse_layer() allocated */
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (streq(m->layers[j].title, m->layers[i].title))
				return why_set(ret_why, -EBADMSG, "layers: title '%s' twice",
					       m->layers[i].title);
		have_metadata = have_metadata || streq(m->layers[i].title, METADATA_FILENAME);
	}
	if (!have_metadata)
		return why_set(ret_why, -EBADMSG, "layers: no " METADATA_FILENAME);
	return 0;
}

/* Manifest annotations: optional; those ktscope knows must be strings. */
static int parse_annotations(struct json_object *o, struct kts_oci_manifest *m, char **ret_why)
{
	static const char *const keys[] = { KTS_OCI_CREATED, KTS_OCI_KEY };
	char **const dest[] = { &m->created, &m->key };
	struct json_object *a;
	const char *s;
	int r;

	if (!json_object_object_get_ex(o, "annotations", &a) ||
	    json_object_is_type(a, json_type_null))
		return 0;
	if (!json_object_is_type(a, json_type_object))
		return why_set(ret_why, -EBADMSG, "field 'annotations': expected an object");
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		r = get_string(a, keys[i], &s);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return why_set(ret_why, -EBADMSG, "annotation '%s': expected a string",
				       keys[i]);
		*dest[i] = strdup(s);
		if (!*dest[i])
			return -ENOMEM;
	}
	return 0;
}

static int parse_header(struct json_object *o, char **ret_why)
{
	struct json_object *v;
	const char *s;
	char buf[64];
	int r;

	if (!json_object_object_get_ex(o, "schemaVersion", &v))
		return why_set(ret_why, -EBADMSG, "missing field 'schemaVersion'");
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 2)
		return why_set(ret_why, -EBADMSG, "field 'schemaVersion': not 2");
	r = want_string(o, "mediaType", "mediaType", &s, ret_why);
	if (r < 0)
		return r;
	if (!streq(s, KTS_OCI_MANIFEST_TYPE))
		return why_set(ret_why, -EBADMSG, "mediaType '%s' is not an OCI image manifest",
			       shown(s, buf));
	if (get_string(o, "artifactType", &s) < 0)
		return why_set(ret_why, -EBADMSG, "no artifactType string: not a ktscope entry");
	if (!streq(s, KTS_OCI_ARTIFACT_TYPE))
		return why_set(ret_why, -EBADMSG, "artifactType '%s' is not " KTS_OCI_ARTIFACT_TYPE,
			       shown(s, buf));
	return 0;
}

int registry_manifest_parse(const char *json, size_t len, struct kts_oci_manifest *ret,
			    char **ret_why)
{
	_cleanup_json_ struct json_object *o = NULL;
	_cleanup_(registry_manifest_done) struct kts_oci_manifest m = { 0 };
	int r;

	r = json_parse_whole(json, len, &o, ret_why);
	if (r < 0)
		return r;
	if (!json_object_is_type(o, json_type_object))
		return why_set(ret_why, -EBADMSG, "not a JSON object");
	r = parse_header(o, ret_why);
	if (r < 0)
		return r;
	r = parse_config(o, ret_why);
	if (r < 0)
		return r;
	r = parse_layers(o, &m, ret_why);
	if (r < 0)
		return r;
	r = parse_annotations(o, &m, ret_why);
	if (r < 0)
		return r;
	*ret = m;
	m = (struct kts_oci_manifest) { 0 };
	return 0;
}

/* ------------------------------------------------------------------ tags and errors */

/* The tag grammar of the distribution spec: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
bool registry_tag_valid(const char *tag, size_t len)
{
	if (len < 1 || len > 128)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = tag[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '_';

		if (!alnum && (i == 0 || (c != '.' && c != '-')))
			return false;
	}
	return true;
}

int registry_tags_parse(const char *json, size_t len, char ***ret, size_t *ret_n,
			char **ret_why)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct json_object *a;
	char **tags;
	size_t n;
	int r;

	r = json_parse_whole(json, len, &o, ret_why);
	if (r < 0)
		return r;
	if (!json_object_is_type(o, json_type_object))
		return why_set(ret_why, -EBADMSG, "not a JSON object");
	/* an empty repository: "tags": null (distribution) or absent */
	if (!json_object_object_get_ex(o, "tags", &a) || json_object_is_type(a, json_type_null)) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (!json_object_is_type(a, json_type_array))
		return why_set(ret_why, -EBADMSG, "field 'tags': expected an array");
	n = json_object_array_length(a);
	tags = calloc(n + 1, sizeof(*tags));
	if (!tags)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(a, i);

		if (!json_object_is_type(t, json_type_string) ||
		    !registry_tag_valid(json_object_get_string(t),
					(size_t) json_object_get_string_len(t))) {
			strv_free(tags, i);
			return why_set(ret_why, -EBADMSG, "tags[%zu]: not a valid tag", i);
		}
		tags[i] = strdup(json_object_get_string(t));
		if (!tags[i]) {
			strv_free(tags, i);
			return -ENOMEM;
		}
	}
	*ret = tags;
	*ret_n = n;
	return 0;
}

int registry_error_parse(const char *json, size_t len, char **ret)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct json_object *a, *e;
	const char *code = NULL, *message = NULL;
	char b1[64], b2[64];
	char *s;

	if (!json || len == 0 || json_parse_whole(json, len, &o, NULL) < 0)
		return -EBADMSG;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "errors", &a) ||
	    !json_object_is_type(a, json_type_array) || json_object_array_length(a) < 1)
		return -EBADMSG;
	e = json_object_array_get_idx(a, 0);
	if (!json_object_is_type(e, json_type_object))
		return -EBADMSG;
	(void) get_string(e, "code", &code);
	(void) get_string(e, "message", &message);
	if (!code && !message)
		return -EBADMSG;
	if (code && message) {
		if (asprintf(&s, "%s: %s", shown(code, b1), shown(message, b2)) < 0)
			return -ENOMEM;
	} else {
		s = strdup(shown(code ? code : message, b1));
		if (!s)
			return -ENOMEM;
	}
	*ret = s;
	return 0;
}

/* One link-value "<URL>; param; ..." starting at *p; moves *p past it and its comma. */
static int link_value(const char **p, const char **ret_url, size_t *ret_len, bool *ret_next)
{
	const char *s = *p, *end;

	s += strspn(s, " \t");
	if (*s != '<')
		return -EBADMSG;
	end = strchr(s + 1, '>');
	if (!end)
		return -EBADMSG;
	*ret_url = s + 1;
	*ret_len = (size_t) (end - s - 1);
	*ret_next = false;
	s = end + 1;
	/* the parameters, up to the next link-value's comma (no quoted commas in rel values) */
	while (*s && *s != ',') {
		size_t n, len;

		s += strspn(s, " \t");
		if (*s != ';')
			return -EBADMSG;
		s++;
		s += strspn(s, " \t");
		n = strcspn(s, ";,");
		len = n;
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if ((len == 10 && strncasecmp(s, "rel=\"next\"", 10) == 0) ||
		    (len == 8 && strncasecmp(s, "rel=next", 8) == 0))
			*ret_next = true;
		s += n;
	}
	*p = *s == ',' ? s + 1 : s;
	return 0;
}

int registry_link_next(const char *value, char **ret)
{
	const char *p = value;

	while (p && *p) {
		const char *url;
		bool next;
		size_t len;
		char *s;

		if (link_value(&p, &url, &len, &next) < 0)
			return -EBADMSG;
		if (!next)
			continue;
		if (len < 4 || strncmp(url, "/v2/", 4) != 0)
			return -EBADMSG;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char) url[i] <= ' ' || url[i] == 0x7f ||
			    (unsigned char) url[i] >= 0x80)
				return -EBADMSG;
		s = strndup(url, len);
		if (!s)
			return -ENOMEM;
		*ret = s;
		return 1;
	}
	return 0;
}
