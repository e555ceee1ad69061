/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry-manifest.c: the OCI manifest of a cache entry built and parsed back, and every
 * way a pulled manifest is refused (a title that is not an entry file above all: it names a
 * file written into the store's temporary directory); tags list pages, Link headers and
 * error bodies of the distribution API.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "macro.h"
#include "registry-internal.h"

/* a string literal and its length */
#define S(lit) lit, (sizeof(lit) - 1)

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static char *valid_manifest(void)
{
	struct kts_oci_layer layers[] = {
		{ .title = (char *) "bzImage", .digest = D1, .size = 1234 },
		{ .title = (char *) "metadata.json", .digest = D2, .size = 0 },
		{ .title = (char *) "build.log", .digest = D3, .size = UINT64_C(1) << 40 },
	};
	struct kts_oci_manifest m = {
		.layers = layers,
		.n_layers = ELEMENTSOF(layers),
		.created = (char *) "2026-12-05T18:00:00Z",
		.key = (char *) "6.12.3-x86_64-0123456789ab",
	};
	char *json = NULL;

	assert_int_equal(registry_manifest_build(&m, &json), 0);
	return json;
}

static void test_media_types(void **state)
{
	(void) state;
	assert_string_equal(registry_media_type("bzImage"), "application/vnd.ktscope.kernel.image.v1");
	assert_string_equal(registry_media_type("Image"), "application/vnd.ktscope.kernel.image.v1");
	assert_string_equal(registry_media_type("metadata.json"),
			    "application/vnd.ktscope.kernel.metadata.v1+json");
	assert_non_null(registry_media_type("vmlinux"));
	assert_non_null(registry_media_type("config"));
	assert_non_null(registry_media_type("kconfig-report.json"));
	assert_non_null(registry_media_type("build.log"));
	assert_string_equal(registry_media_type("vmlinux.h"),
			    "application/vnd.ktscope.kernel.vmlinux-h.v1+text");
	assert_string_equal(registry_media_type("capabilities.json"),
			    "application/vnd.ktscope.kernel.capabilities.v1+json");
	/* headers/ (build --headers) is a local directory tree, never a layer */
	assert_null(registry_media_type("headers"));
	assert_null(registry_media_type("headers/include/linux/fake.h"));
	assert_null(registry_media_type(NULL));
	assert_null(registry_media_type(""));
	assert_null(registry_media_type("../bzImage"));
	assert_null(registry_media_type("kernels/bzImage"));
	assert_null(registry_media_type("job.json"));
	assert_true(registry_file_order("bzImage") < registry_file_order("metadata.json"));
	assert_int_equal(registry_file_order("x"), -1);
}

/* An entry with the scheduler kit's files: every file a layer, each with its media type. */
static void test_kit_files(void **state)
{
	static const char *const titles[] = { "bzImage", "vmlinux", "config", "metadata.json",
					      "kconfig-report.json", "build.log", "vmlinux.h",
					      "capabilities.json" };
	struct kts_oci_layer layers[ELEMENTSOF(titles)];
	_cleanup_(registry_manifest_done) struct kts_oci_manifest back = { 0 };
	struct kts_oci_manifest m = { .layers = layers, .n_layers = ELEMENTSOF(layers) };
	_cleanup_free_ char *json = NULL, *why = NULL;

	(void) state;
	for (size_t i = 0; i < ELEMENTSOF(titles); i++) {
		layers[i] = (struct kts_oci_layer){ .title = (char *) titles[i], .size = i };
		memcpy(layers[i].digest, D1, sizeof(D1));
	}
	assert_int_equal(registry_manifest_build(&m, &json), 0);
	assert_non_null(strstr(json, "\"application/vnd.ktscope.kernel.vmlinux-h.v1+text\""));
	assert_non_null(strstr(json, "\"application/vnd.ktscope.kernel.capabilities.v1+json\""));
	assert_int_equal(registry_manifest_parse(json, strlen(json), &back, &why), 0);
	assert_int_equal(back.n_layers, ELEMENTSOF(titles));
	for (size_t i = 0; i < ELEMENTSOF(titles); i++) {
		assert_string_equal(back.layers[i].title, titles[i]);
		assert_string_equal(back.layers[i].media_type, registry_media_type(titles[i]));
	}
	/* pushes before these files existed still come in whole: they are optional */
	assert_true(registry_file_order("build.log") < registry_file_order("vmlinux.h"));
	assert_true(registry_file_order("vmlinux.h") < registry_file_order("capabilities.json"));
}

static void test_round_trip(void **state)
{
	_cleanup_free_ char *json = valid_manifest(), *why = NULL, *again = NULL;
	_cleanup_(registry_manifest_done) struct kts_oci_manifest m = { 0 };

	(void) state;
	/* the layout other tools read: OCI 1.1 with artifactType and the empty config */
	assert_non_null(strstr(json, "\"schemaVersion\":2"));
	assert_non_null(strstr(json, "\"artifactType\":\"application/vnd.ktscope.kernel.v1\""));
	assert_non_null(strstr(json, "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
				     "\"digest\":\"" KTS_OCI_EMPTY_DIGEST "\",\"size\":2}"));
	assert_non_null(strstr(json, "{\"org.opencontainers.image.title\":\"bzImage\"}"));

	assert_int_equal(registry_manifest_parse(json, strlen(json), &m, &why), 0);
	assert_null(why);
	assert_int_equal(m.n_layers, 3);
	assert_string_equal(m.layers[0].title, "bzImage");
	assert_string_equal(m.layers[0].media_type, registry_media_type("bzImage"));
	assert_string_equal(m.layers[0].digest, D1);
	assert_int_equal(m.layers[0].size, 1234);
	assert_int_equal(m.layers[1].size, 0);
	assert_true(m.layers[2].size == UINT64_C(1) << 40);
	assert_string_equal(m.created, "2026-12-05T18:00:00Z");
	assert_string_equal(m.key, "6.12.3-x86_64-0123456789ab");

	/* canonical: the parsed manifest builds the same bytes (the digest pushed is stable) */
	assert_int_equal(registry_manifest_build(&m, &again), 0);
	assert_string_equal(again, json);
}

static void test_build_refuses(void **state)
{
	struct kts_oci_layer bad_title = { .title = (char *) "../x", .digest = D1, .size = 1 };
	struct kts_oci_layer bad_digest = { .title = (char *) "bzImage", .digest = "sha256:abc" };
	struct kts_oci_manifest m = { .layers = &bad_title, .n_layers = 1 };
	char *json = NULL;

	(void) state;
	assert_int_equal(registry_manifest_build(&m, &json), -EINVAL);
	m.layers = &bad_digest;
	assert_int_equal(registry_manifest_build(&m, &json), -EINVAL);
	m.n_layers = 0;
	assert_int_equal(registry_manifest_build(&m, &json), -EINVAL);
	assert_null(json);
}

/* The valid manifest, changed by edit (a JSON path and a new value, or NULL to delete). */
struct mutation {
	const char *path; /* "layers.0.annotations.org.opencontainers.image.title" style: see below */
	const char *value; /* JSON text, NULL: remove the member */
	const char *why;   /* what the reason must contain */
};

static struct json_object *walk(struct json_object *o, const char *const *steps, size_t n)
{
	for (size_t i = 0; i < n && o; i++) {
		struct json_object *next = NULL;

		if (json_object_is_type(o, json_type_array))
			next = json_object_array_get_idx(o, (size_t) atoi(steps[i]));
		else
			(void) json_object_object_get_ex(o, steps[i], &next);
		o = next;
	}
	return o;
}

static void expect_refused(const char *json, size_t len, const char *why_part)
{
	_cleanup_(registry_manifest_done) struct kts_oci_manifest m = { 0 };
	_cleanup_free_ char *why = NULL;

	assert_int_equal(registry_manifest_parse(json, len, &m, &why), -EBADMSG);
	assert_non_null(why);
	if (!strstr(why, why_part))
		fail_msg("reason '%s' does not say '%s'", why, why_part);
	assert_int_equal(m.n_layers, 0);
	assert_null(m.layers);
}

/* Applies member = value at steps (split on '|'), then expects a refusal. */
static void mutate_refused(const char *path, const char *value, const char *why_part)
{
	_cleanup_free_ char *json = valid_manifest(), *p = strdup(path);
	_cleanup_json_ struct json_object *o = json_tokener_parse(json);
	const char *steps[8];
	struct json_object *parent;
	size_t n = 0;
	const char *s;

	assert_non_null(o);
	for (char *t = strtok(p, "|"); t && n < ELEMENTSOF(steps); t = strtok(NULL, "|"))
		steps[n++] = t;
	parent = walk(o, steps, n - 1);
	assert_non_null(parent);
	if (json_object_is_type(parent, json_type_array)) {
		assert_non_null(value);
		assert_int_equal(json_object_array_put_idx(parent, (size_t) atoi(steps[n - 1]),
							   json_tokener_parse(value)), 0);
	} else if (value) {
		assert_int_equal(json_object_object_add(parent, steps[n - 1],
							json_tokener_parse(value)), 0);
	} else {
		json_object_object_del(parent, steps[n - 1]);
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	expect_refused(s, strlen(s), why_part);
}

/* A layer's JSON: title and the media type's suffix after "application/vnd.ktscope.kernel." */
#define LAYER(title, type)                                                                 \
	"{\"mediaType\":\"application/vnd.ktscope.kernel." type "\",\"digest\":\"" D1 "\","      \
	"\"size\":1,\"annotations\":{\"org.opencontainers.image.title\":\"" title "\"}}"

static void test_refuses_titles(void **state)
{
	(void) state;
	/* what would write outside the temporary directory, or a file ktscope does not know */
	mutate_refused("layers|0|annotations|org.opencontainers.image.title", "\"../bzImage\"",
		       "title '../bzImage' is not a file of an entry");
	mutate_refused("layers|0|annotations|org.opencontainers.image.title", "\"/etc/passwd\"",
		       "is not a file of an entry");
	mutate_refused("layers|0|annotations|org.opencontainers.image.title", "\"..\"",
		       "is not a file of an entry");
	mutate_refused("layers|0|annotations|org.opencontainers.image.title", "\"kernels/bzImage\"",
		       "is not a file of an entry");
	mutate_refused("layers|0|annotations|org.opencontainers.image.title", "\"job.json\"",
		       "is not a file of an entry");
	mutate_refused("layers|0|annotations|org.opencontainers.image.title", "\"\"",
		       "is not a file of an entry");
	mutate_refused("layers|0|annotations|org.opencontainers.image.title", "\"bzImage\\u0000x\"",
		       "is not a string");
	mutate_refused("layers|0|annotations|org.opencontainers.image.title", "7", "is not a string");
	mutate_refused("layers|0|annotations|org.opencontainers.image.title", NULL, "no 'org.");
	mutate_refused("layers|0|annotations", NULL, "missing field 'layers[0].annotations'");
	mutate_refused("layers|0|annotations", "[]", "expected an object");
	/* the same file twice: the second would overwrite the first */
	mutate_refused("layers|2", LAYER("bzImage", "image.v1"), "title 'bzImage' twice");
	mutate_refused("layers|1", LAYER("vmlinux", "vmlinux.v1"), "no metadata.json");
}

static void test_refuses_layers(void **state)
{
	(void) state;
	mutate_refused("layers|0|mediaType", "\"application/octet-stream\"",
		       "layers[0] (bzImage): unknown media type 'application/octet-stream'");
	/* a known type on another file is still wrong */
	mutate_refused("layers|0|mediaType", "\"application/vnd.ktscope.kernel.metadata.v1+json\"",
		       "unknown media type");
	mutate_refused("layers|0|mediaType", NULL, "mediaType missing");
	mutate_refused("layers|0|digest", "\"sha256:ABC\"", "digest missing or not sha256");
	mutate_refused("layers|0|digest",
		       "\"sha256:111111111111111111111111111111111111111111111111111111111111111A\"",
		       "digest missing or not sha256");
	mutate_refused("layers|0|digest", "\"sha512:" "11111111111111111111111111111111"
		       "11111111111111111111111111111111\"", "not sha256");
	mutate_refused("layers|0|digest", NULL, "digest missing");
	mutate_refused("layers|0|size", "-1", "layers[0].size': invalid size");
	mutate_refused("layers|0|size", "\"12\"", "expected an integer");
	mutate_refused("layers|0|size", "1.5", "expected an integer");
	mutate_refused("layers|0|size", "99999999999999999999", "invalid size");
	mutate_refused("layers|0|size", NULL, "missing field 'layers[0].size'");
	mutate_refused("layers|0", "\"bzImage\"", "field 'layers[0]': expected an object");
	mutate_refused("layers", "[]", "0 layers (1..16 expected)");
	mutate_refused("layers", "{}", "field 'layers': expected an array");
	mutate_refused("layers", NULL, "missing field 'layers'");
}

static void test_refuses_header(void **state)
{
	(void) state;
	mutate_refused("schemaVersion", "1", "schemaVersion': not 2");
	mutate_refused("schemaVersion", "\"2\"", "schemaVersion': not 2");
	mutate_refused("schemaVersion", NULL, "missing field 'schemaVersion'");
	mutate_refused("mediaType", "\"application/vnd.docker.distribution.manifest.v2+json\"",
		       "is not an OCI image manifest");
	mutate_refused("mediaType", NULL, "missing field 'mediaType'");
	mutate_refused("artifactType", "\"application/vnd.oci.image.config.v1+json\"",
		       "is not application/vnd.ktscope.kernel.v1");
	mutate_refused("artifactType", NULL, "not a ktscope entry");
	mutate_refused("config|digest", "\"" "sha256:" "2222222222222222222222222222222222222222"
		       "222222222222222222222222\"", "not the empty descriptor");
	mutate_refused("config|size", "3", "not the empty descriptor");
	mutate_refused("config|mediaType", "\"application/vnd.oci.image.config.v1+json\"",
		       "not the empty descriptor");
	mutate_refused("config", NULL, "missing field 'config'");
	mutate_refused("annotations|org.opencontainers.image.created", "5",
		       "annotation 'org.opencontainers.image.created': expected a string");
	mutate_refused("annotations", "\"x\"", "field 'annotations': expected an object");
}

static void test_refuses_text(void **state)
{
	_cleanup_free_ char *json = valid_manifest(), *trailing = NULL, *nul = NULL;
	size_t len = strlen(json);

	(void) state;
	expect_refused("", 0, "truncated JSON");
	expect_refused(json, len - 1, "truncated JSON");
	expect_refused("[1]", 3, "not a JSON object");
	expect_refused("{x", 2, "malformed JSON");
	assert_true(asprintf(&trailing, "%s {}", json) > 0);
	expect_refused(trailing, strlen(trailing), "trailing data after JSON");
	nul = malloc(len + 2);
	memcpy(nul, json, len);
	nul[len] = '\0';
	nul[len + 1] = '{';
	expect_refused(nul, len + 2, "trailing data after JSON");
}

static void test_tolerates_unknown(void **state)
{
	_cleanup_free_ char *json = valid_manifest();
	_cleanup_json_ struct json_object *o = json_tokener_parse(json);
	_cleanup_(registry_manifest_done) struct kts_oci_manifest m = { 0 };
	struct json_object *l;
	const char *s;

	(void) state;
	/* what other tools may add (a subject, more annotations) does not make it another entry */
	assert_int_equal(json_object_object_add(o, "subject", json_object_new_object()), 0);
	l = json_object_array_get_idx(json_object_object_get(o, "layers"), 0);
	assert_int_equal(json_object_object_add(json_object_object_get(l, "annotations"), "x.y",
						json_object_new_string("z")), 0);
	json_object_object_del(o, "annotations");
	s = json_object_to_json_string(o);
	assert_int_equal(registry_manifest_parse(s, strlen(s), &m, NULL), 0);
	assert_null(m.created);
	assert_null(m.key);
	assert_int_equal(m.n_layers, 3);
}

static void test_tags(void **state)
{
	static const char page[] = "{\"name\":\"k\",\"tags\":[\"6.12.3-x86_64-0123456789ab\",\"a_b\"]}";
	char **tags = NULL;
	size_t n = 9;

	(void) state;
	assert_int_equal(registry_tags_parse(page, strlen(page), &tags, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(tags[0], "6.12.3-x86_64-0123456789ab");
	assert_string_equal(tags[1], "a_b");
	strv_free(tags, n);

	assert_int_equal(registry_tags_parse(S("{\"name\":\"k\",\"tags\":null}"), &tags, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_null(tags);
	assert_int_equal(registry_tags_parse(S("{\"tags\":[\"../x\"]}"), &tags, &n, NULL), -EBADMSG);
	assert_int_equal(registry_tags_parse(S("{\"tags\":[\".x\"]}"), &tags, &n, NULL), -EBADMSG);
	assert_int_equal(registry_tags_parse(S("{\"tags\":[1]}"), &tags, &n, NULL), -EBADMSG);
	assert_int_equal(registry_tags_parse(S("{\"tags\":{}}"), &tags, &n, NULL), -EBADMSG);
	assert_int_equal(registry_tags_parse(S("[]"), &tags, &n, NULL), -EBADMSG);

	assert_true(registry_tag_valid("_x.y-z", 6));
	assert_false(registry_tag_valid("-x", 2));
	assert_false(registry_tag_valid("x/y", 3));
	assert_false(registry_tag_valid("", 0));
	assert_false(registry_tag_valid("x\0y", 3));
}

static void test_link(void **state)
{
	char *url = NULL;

	(void) state;
	assert_int_equal(registry_link_next("</v2/k/tags/list?last=b&n=2>; rel=\"next\"", &url), 1);
	assert_string_equal(url, "/v2/k/tags/list?last=b&n=2");
	free(url);
	assert_int_equal(registry_link_next("</x>; rel=\"prev\" , </v2/a?n=1> ;type=x; rel=next ",
					    &url), 1);
	assert_string_equal(url, "/v2/a?n=1");
	free(url);
	assert_int_equal(registry_link_next("</v2/a>; rel=\"prev\"", &url), 0);
	assert_int_equal(registry_link_next("", &url), 0);
	/* elsewhere than the registry's own API: never followed (credentials go along) */
	assert_int_equal(registry_link_next("<https://evil/v2/x>; rel=\"next\"", &url), -EBADMSG);
	assert_int_equal(registry_link_next("</v2/a b>; rel=\"next\"", &url), -EBADMSG);
	assert_int_equal(registry_link_next("/v2/a; rel=\"next\"", &url), -EBADMSG);
	assert_int_equal(registry_link_next("</v2/a; rel=\"next\"", &url), -EBADMSG);
	assert_int_equal(registry_link_next("</v2/a> rel=\"next\"", &url), -EBADMSG);
}

static void test_error_body(void **state)
{
	static const char body[] = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":"
				   "\"manifest unknown\",\"detail\":{}},{\"code\":\"X\"}]}";
	char *s = NULL;

	(void) state;
	assert_int_equal(registry_error_parse(body, strlen(body), &s), 0);
	assert_string_equal(s, "MANIFEST_UNKNOWN: manifest unknown");
	free(s);
	assert_int_equal(registry_error_parse(S("{\"errors\":[{\"code\":\"A\\nB\"}]}"), &s), 0);
	assert_string_equal(s, "A?B");
	free(s);
	assert_int_equal(registry_error_parse(S("<html>"), &s), -EBADMSG);
	assert_int_equal(registry_error_parse(S("{\"errors\":[]}"), &s), -EBADMSG);
	assert_int_equal(registry_error_parse(S(""), &s), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_media_types),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_kit_files),
		cmocka_unit_test(test_build_refuses),
		cmocka_unit_test(test_refuses_titles),
		cmocka_unit_test(test_refuses_layers),
		cmocka_unit_test(test_refuses_header),
		cmocka_unit_test(test_refuses_text),
		cmocka_unit_test(test_tolerates_unknown),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_error_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
