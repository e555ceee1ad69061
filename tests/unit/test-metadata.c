/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metadata.c: metadata.json written and read back field by field, every
 * corrupt class refused with its own reason, the UTC date format pinned, and
 * the atomic write leaving nothing behind. Files live in a mkdtemp() directory.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "metadata.h"
#include "test-tmpdir.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define COMMIT "0123456789abcdef0123456789abcdef01234567"

struct fixture {
	char dir[TMPDIR_SIZE]; /* mkdtemp; first, for test-tmpdir.h */
};
TMPDIR_FIXTURE_CHECK(struct fixture, dir);

static int setup(void **state)
{
	*state = tmpdir_fixture_new(sizeof(struct fixture));
	return *state ? 0 : -1;
}

static char *xstrdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;

	if (s)
		assert_non_null(p);
	return p;
}

/* A metadata record with every field set to a distinct, non-default value. */
static struct kts_metadata *full_metadata(void)
{
	struct kts_metadata *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->schema = METADATA_SCHEMA;
	m->key = xstrdup("local-0123456789ab-x86_64-abcdef012345");
	m->label = xstrdup("local-0123456789ab");
	m->source.kind = xstrdup("local");
	m->source.version = xstrdup("6.12.3");
	m->source.url = xstrdup("https://example.org/linux.tar.xz");
	m->source.path = xstrdup("/home/dev/linux");
	m->source.commit = xstrdup(COMMIT);
	m->source.dirty = true;
	m->source.state_sha256 = xstrdup(SHA_A);
	m->source.fs_uuid = xstrdup("5f2c0c2e-8b1a-4f7e-9d6e-0a1b2c3d4e5f");
	m->source.fs_type = xstrdup("ext4");
	m->source.tarball_sha256 = xstrdup(SHA_B);
	m->arch = xstrdup("x86_64");
	m->image = xstrdup("bzImage");
	m->base = xstrdup("tinyconfig");
	m->fragment_sha256 = xstrdup(SHA_C);
	m->n_extra_kconfig = 2;
	m->extra_kconfig = calloc(2, sizeof(*m->extra_kconfig));
	assert_non_null(m->extra_kconfig);
	m->extra_kconfig[0].path = xstrdup("/home/dev/debug.config");
	m->extra_kconfig[0].sha256 = xstrdup(SHA_A);
	m->extra_kconfig[1].path = xstrdup("rel \"quoted\".config");
	m->extra_kconfig[1].sha256 = xstrdup(SHA_B);
	m->config_sha256 = xstrdup(SHA_B);
	m->toolchain.cc = xstrdup("gcc (Debian 12.2.0-14) 12.2.0");
	m->toolchain.ld = xstrdup("GNU ld (GNU Binutils for Debian) 2.40");
	m->toolchain.pahole = xstrdup("v1.24");
	m->n_make_vars = 2;
	m->make_vars = calloc(2, sizeof(char *));
	assert_non_null(m->make_vars);
	m->make_vars[0] = xstrdup("LLVM=1");
	m->make_vars[1] = xstrdup("KCFLAGS=-Wno-error -O2");
	m->built_at = 1733402096; /* 2024-12-05T12:34:56Z */
	m->build_seconds = 245.125;
	m->make_jobs = 3;
	m->plan.present = true;
	m->plan.cpus = xstrdup("0-2");
	m->plan.mems = xstrdup("0");
	m->plan.llcs = xstrdup("0");
	m->plan.enforcement = xstrdup("affinity");
	m->sizes.image = 1234567;
	m->sizes.vmlinux = 7654321;
	m->sizes.vmlinux_unstripped = UINT64_C(987654321012);
	m->ktscope_version = xstrdup("0.1.0");
	return m;
}

/* The smallest valid record: every optional value absent. */
static struct kts_metadata *minimal_metadata(void)
{
	struct kts_metadata *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->schema = METADATA_SCHEMA;
	m->key = xstrdup("6.12.3-aarch64-0123456789ab");
	m->label = xstrdup("6.12.3");
	m->source.kind = xstrdup("release");
	m->arch = xstrdup("aarch64");
	m->image = xstrdup("Image");
	m->base = xstrdup("defconfig");
	m->built_at = 0;
	m->make_jobs = 1;
	m->ktscope_version = xstrdup("0.1.0");
	return m;
}

static void assert_str_eq_or_null(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_metadata_equal(const struct kts_metadata *a, const struct kts_metadata *b)
{
	assert_int_equal(a->schema, b->schema);
	assert_string_equal(a->key, b->key);
	assert_string_equal(a->label, b->label);
	assert_string_equal(a->source.kind, b->source.kind);
	assert_str_eq_or_null(a->source.version, b->source.version);
	assert_str_eq_or_null(a->source.url, b->source.url);
	assert_str_eq_or_null(a->source.path, b->source.path);
	assert_str_eq_or_null(a->source.commit, b->source.commit);
	assert_int_equal(a->source.dirty, b->source.dirty);
	assert_str_eq_or_null(a->source.state_sha256, b->source.state_sha256);
	assert_str_eq_or_null(a->source.fs_uuid, b->source.fs_uuid);
	assert_str_eq_or_null(a->source.fs_type, b->source.fs_type);
	assert_str_eq_or_null(a->source.tarball_sha256, b->source.tarball_sha256);
	assert_string_equal(a->arch, b->arch);
	assert_string_equal(a->image, b->image);
	assert_string_equal(a->base, b->base);
	assert_str_eq_or_null(a->fragment_sha256, b->fragment_sha256);
	assert_int_equal(a->n_extra_kconfig, b->n_extra_kconfig);
	for (size_t i = 0; i < a->n_extra_kconfig; i++) {
		assert_string_equal(a->extra_kconfig[i].path, b->extra_kconfig[i].path);
		assert_string_equal(a->extra_kconfig[i].sha256, b->extra_kconfig[i].sha256);
	}
	assert_str_eq_or_null(a->config_sha256, b->config_sha256);
	assert_str_eq_or_null(a->toolchain.cc, b->toolchain.cc);
	assert_str_eq_or_null(a->toolchain.ld, b->toolchain.ld);
	assert_str_eq_or_null(a->toolchain.pahole, b->toolchain.pahole);
	assert_int_equal(a->n_make_vars, b->n_make_vars);
	for (size_t i = 0; i < a->n_make_vars; i++)
		assert_string_equal(a->make_vars[i], b->make_vars[i]);
	assert_int_equal(a->built_at, b->built_at);
	assert_true(a->build_seconds == b->build_seconds);
	assert_int_equal(a->make_jobs, b->make_jobs);
	assert_int_equal(a->plan.present, b->plan.present);
	assert_str_eq_or_null(a->plan.cpus, b->plan.cpus);
	assert_str_eq_or_null(a->plan.mems, b->plan.mems);
	assert_str_eq_or_null(a->plan.llcs, b->plan.llcs);
	assert_str_eq_or_null(a->plan.enforcement, b->plan.enforcement);
	assert_int_equal(a->sizes.image, b->sizes.image);
	assert_int_equal(a->sizes.vmlinux, b->sizes.vmlinux);
	assert_int_equal(a->sizes.vmlinux_unstripped, b->sizes.vmlinux_unstripped);
	assert_string_equal(a->ktscope_version, b->ktscope_version);
}

static size_t count_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ------------------------------------------------------------------ tests */

static void test_round_trip_every_field(void **state)
{
	struct fixture *f = *state;
	_cleanup_metadata_ struct kts_metadata *m = full_metadata(), *back = NULL;
	_cleanup_free_ char *why = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/metadata.json", f->dir);
	assert_int_equal(metadata_write(m, path), 0);
	assert_int_equal(metadata_read(path, &back, &why), 0);
	assert_null(why);
	assert_metadata_equal(m, back);
}

static void test_round_trip_nulls_and_empty_arrays(void **state)
{
	struct fixture *f = *state;
	_cleanup_metadata_ struct kts_metadata *m = minimal_metadata(), *back = NULL;
	_cleanup_free_ char *text = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/metadata.json", f->dir);
	assert_int_equal(metadata_write(m, path), 0);
	assert_int_equal(metadata_read(path, &back, NULL), 0);
	assert_metadata_equal(m, back);
	assert_false(back->plan.present);

	/* Optional values are written as explicit nulls, never omitted. */
	assert_int_equal(metadata_to_string(m, &text), 0);
	assert_non_null(strstr(text, "\"fragment_sha256\": null"));
	assert_non_null(strstr(text, "\"plan\": null"));
	assert_non_null(strstr(text, "\"commit\": null"));
	assert_non_null(strstr(text, "\"built_at\": \"1970-01-01T00:00:00Z\""));
}

static void test_document_shape(void **state)
{
	static const char *const order[] = {
		"\"schema\": 1", "\"key\"", "\"label\"", "\"source\"", "\"kind\"", "\"version\"",
		"\"url\"", "\"path\"", "\"commit\"", "\"dirty\": true", "\"state_sha256\"",
		"\"fs_uuid\"", "\"fs_type\"", "\"tarball_sha256\"", "\"arch\"", "\"image\"",
		"\"base\"", "\"fragment_sha256\"", "\"extra_kconfig\"", "\"config_sha256\"",
		"\"toolchain\"", "\"cc\"", "\"ld\"", "\"pahole\"", "\"make_vars\"",
		"\"built_at\": \"2024-12-05T12:34:56Z\"", "\"build_seconds\": 245.125",
		"\"make_jobs\": 3", "\"plan\"", "\"cpus\": \"0-2\"", "\"enforcement\"",
		"\"sizes\"", "\"vmlinux_unstripped\": 987654321012", "\"ktscope_version\"",
	};
	_cleanup_metadata_ struct kts_metadata *m = full_metadata();
	_cleanup_free_ char *text = NULL;
	const char *at;

	(void) state;
	assert_int_equal(metadata_to_string(m, &text), 0);
	/* DESIGN §7 field order, so a human reading the file finds the identity first. */
	at = text;
	for (size_t i = 0; i < ELEMENTSOF(order); i++) {
		const char *p = strstr(at, order[i]);

		if (!p)
			fail_msg("'%s' missing or out of order in:\n%s", order[i], text);
		at = p;
	}
	/* Paths stay readable: no "\/" escaping. */
	assert_non_null(strstr(text, "\"/home/dev/linux\""));
	assert_int_equal(text[strlen(text) - 1], '\n');
}

static void test_time_format_and_strict_parse(void **state)
{
	static const struct {
		const char *s;
		int64_t t; /* -1: must be refused */
	} cases[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-12-05T12:34:56Z", 1733402096 },
		{ "2024-02-29T23:59:59Z", 1709251199 },
		{ "9999-12-31T23:59:59Z", INT64_C(253402300799) },
		{ "2023-02-29T00:00:00Z", -1 }, /* not a leap year */
		{ "2024-04-31T00:00:00Z", -1 },
		{ "2024-12-05T24:00:00Z", -1 },
		{ "2024-12-05T12:60:00Z", -1 },
		{ "2024-12-05T12:34:60Z", -1 },
		{ "2024-13-05T12:34:56Z", -1 },
		{ "2024-12-05 12:34:56Z", -1 },
		{ "2024-12-05t12:34:56Z", -1 },
		{ "2024-12-05T12:34:56", -1 },
		{ "2024-12-05T12:34:56+00:00", -1 },
		{ "2024-12-05T12:34:56.5Z", -1 },
		{ "1969-12-31T23:59:59Z", -1 },
		{ "+024-12-05T12:34:56Z", -1 },
		{ "", -1 },
	};
	char buf[METADATA_TIME_MAX];

	(void) state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		int64_t t = 42;
		int r = metadata_parse_time(cases[i].s, &t);

		if (cases[i].t < 0) {
			if (r != -EINVAL)
				fail_msg("'%s' accepted", cases[i].s);
			assert_int_equal(t, 42); /* untouched on failure */
			continue;
		}
		if (r != 0)
			fail_msg("'%s' refused", cases[i].s);
		assert_int_equal(t, cases[i].t);
		metadata_format_time(t, buf);
		assert_string_equal(buf, cases[i].s);
	}
}

/* Replaces the first occurrence of from in text by to; the result must differ. */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	char *out;

	if (!p)
		fail_msg("'%s' not in document", from);
	assert_true(asprintf(&out, "%.*s%s%s", (int) (p - text), text, to, p + strlen(from)) >= 0);
	return out;
}

static void test_every_corrupt_class(void **state)
{
	static const struct {
		const char *from, *to; /* NULL from: to is the whole document */
		const char *why;       /* expected reason prefix */
	} cases[] = {
		{ NULL, "", "truncated JSON" },
		{ NULL, "{\"schema\": 1, \"key\": ", "truncated JSON" },
		{ NULL, "{\"schema\": 1,, }", "malformed JSON: " },
		{ NULL, "\x7f" "ELF\x02\x01", "malformed JSON: " },
		{ NULL, "[1, 2]\n", "not a JSON object (got array)" },
		{ NULL, "\"text\"\n", "not a JSON object (got string)" },
		{ "\n}\n", "\n} {}\n", "trailing data after JSON" },
		{ "\"schema\": 1,", "", "unsupported schema (absent)" },
		{ "\"schema\": 1,", "\"schema\": 2,", "unsupported schema 2 (expected 1)" },
		{ "\"schema\": 1,", "\"schema\": \"1\",", "unsupported schema \"1\"" },
		{ "\"label\": \"local-0123456789ab\",", "", "missing field 'label'" },
		{ "\"kind\": \"local\",", "", "missing field 'source.kind'" },
		{ "\"pahole\": \"v1.24\"", "\"pahole_x\": 1", "missing field 'toolchain.pahole'" },
		{ "\"vmlinux\": 7654321,", "", "missing field 'sizes.vmlinux'" },
		{ "\"make_jobs\": 3", "\"make_jobs\": \"3\"",
		  "field 'make_jobs': expected integer, got string" },
		{ "\"dirty\": true", "\"dirty\": 1", "field 'source.dirty': expected boolean" },
		{ "\"key\": \"local", "\"key\": null, \"x\": \"", "field 'key': expected string, got null" },
		{ "\"plan\": {", "\"plan\": [], \"y\": {", "field 'plan': expected object or null" },
		{ "\"make_vars\": [", "\"make_vars\": [ 7,", "field 'make_vars[0]': expected string" },
		{ "\"sha256\": \"" SHA_B "\"", "\"sha256\": null",
		  "field 'extra_kconfig[1].sha256': expected string" },
		{ "\"built_at\": \"2024-12-05T12:34:56Z\"", "\"built_at\": \"2024-12-05 12:34\"",
		  "field 'built_at': invalid date" },
		{ "\"fragment_sha256\": \"ccc", "\"fragment_sha256\": \"CCC",
		  "field 'fragment_sha256': invalid SHA-256" },
		{ "\"commit\": \"0123", "\"commit\": \"zz23", "field 'source.commit': invalid" },
		{ "\"arch\": \"x86_64\"", "\"arch\": \"riscv64\"", "field 'arch': invalid value" },
		{ "\"image\": \"bzImage\"", "\"image\": \"../../etc/passwd\"",
		  "field 'image': invalid value" },
		{ "\"kind\": \"local\"", "\"kind\": \"ftp\"", "field 'source.kind': invalid value" },
		{ "\"cpus\": \"0-2\"", "\"cpus\": \"2-0\"", "field 'plan.cpus': invalid list" },
		{ "\"enforcement\": \"affinity\"", "\"enforcement\": \"magic\"",
		  "field 'plan.enforcement': invalid value" },
		{ "\"image\": 1234567", "\"image\": -1", "field 'sizes.image': invalid (negative)" },
		{ "\"make_jobs\": 3", "\"make_jobs\": 0", "field 'make_jobs': invalid" },
		{ "\"build_seconds\": 245.125", "\"build_seconds\": -1.0",
		  "field 'build_seconds': invalid" },
		{ "\"LLVM=1\"", "\"LLVM\"", "field 'make_vars[0]': invalid (want NAME=value)" },
		{ "\"label\": \"local-0123456789ab\"", "\"label\": \"\"", "field 'label': invalid (empty)" },
		{ "\"label\": \"local-0123456789ab\"", "\"label\": \"a\\u0000b\"",
		  "field 'label': invalid (contains NUL)" },
		/* The file's own text in a reason: printable, one line, cut (fuzz/fuzz-metadata). */
		{ "\"built_at\": \"2024-12-05T12:34:56Z\"",
		  "\"built_at\": \"2024-12-05T12:34:56Z\\n\\u001b[2J\"",
		  "field 'built_at': invalid date \"2024-12-05T12:34:56Z??[2J\" (want" },
		{ "\"schema\": 1,", "\"schema\": \"b\\u007f\\u007fmage\",",
		  "unsupported schema \"b??mage\" (expected 1)" },
		{ "\"arch\": \"x86_64\"", "\"arch\": \"x86_64\\r\"",
		  "field 'arch': invalid value \"x86_64?\"" },
		{ "\"cpus\": \"0-2\"",
		  "\"cpus\": \"0123456789012345678901234567890123456789012345678901234567890123456789\"",
		  "field 'plan.cpus': invalid list "
		  "\"0123456789012345678901234567890123456789012345678901234567890123…\"" },
	};
	_cleanup_metadata_ struct kts_metadata *m = full_metadata();
	_cleanup_free_ char *good = NULL;

	(void) state;
	assert_int_equal(metadata_to_string(m, &good), 0);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *text = NULL, *why = NULL;
		struct kts_metadata *out = NULL;
		int r;

		text = cases[i].from ? replace(good, cases[i].from, cases[i].to) : xstrdup(cases[i].to);
		r = metadata_parse(text, strlen(text), &out, &why);
		if (r != -EBADMSG || !why || !startswith(why, cases[i].why))
			fail_msg("case %zu: r=%d why='%s', want '%s'", i, r, strempty(why),
				 cases[i].why);
		assert_null(out);
	}
}

/*
 * NUL bytes after the document are trailing data too (found by fuzz/fuzz-metadata: the
 * whitespace check used strchr(), which finds the terminator, so a zero-filled tail passed).
 */
static void test_trailing_nul_refused(void **state)
{
	_cleanup_metadata_ struct kts_metadata *m = full_metadata(), *out = NULL;
	_cleanup_free_ char *good = NULL, *text = NULL, *why = NULL;
	size_t len;

	(void) state;
	assert_int_equal(metadata_to_string(m, &good), 0);
	len = strlen(good);
	text = calloc(1, len + 3);
	assert_non_null(text);
	memcpy(text, good, len);
	assert_int_equal(metadata_parse(text, len + 2, &out, &why), -EBADMSG);
	assert_null(out);
	assert_true(startswith(why, "trailing data after JSON"));
}

/* Any finite build_seconds the reader accepts is written back whole (found by fuzz/fuzz-metadata). */
static void test_huge_build_seconds_round_trip(void **state)
{
	_cleanup_metadata_ struct kts_metadata *m = full_metadata(), *out = NULL;
	_cleanup_free_ char *text = NULL;

	(void) state;
	m->build_seconds = 1e300;
	assert_int_equal(metadata_to_string(m, &text), 0);
	assert_int_equal(metadata_parse(text, strlen(text), &out, NULL), 0);
	assert_true(out->build_seconds == 1e300);
}

static void test_unknown_keys_tolerated(void **state)
{
	_cleanup_metadata_ struct kts_metadata *m = full_metadata(), *back = NULL;
	_cleanup_free_ char *good = NULL, *text = NULL;

	(void) state;
	assert_int_equal(metadata_to_string(m, &good), 0);
	text = replace(good, "\"schema\": 1,", "\"schema\": 1, \"added_later\": {\"x\": [1]},");
	assert_int_equal(metadata_parse(text, strlen(text), &back, NULL), 0);
	assert_metadata_equal(m, back);
}

/* "compile": written and read back; absent in older entries; strict when there. */
static void test_compile_record(void **state)
{
	_cleanup_metadata_ struct kts_metadata *m = full_metadata(), *back = NULL, *old = NULL;
	_cleanup_free_ char *text = NULL, *bad = NULL, *why = NULL;

	(void) state;
	m->compile.present = true;
	m->compile.plan.ccache_version = xstrdup("4.7.5");
	m->compile.plan.ccache_dir_used = xstrdup("/c/ccache");
	m->compile.plan.ccache_remote_shown = xstrdup("redis://127.0.0.1:6379");
	m->compile.stats = (struct kts_compile_stats){ .present = true, .direct_hits = 800,
		.preprocessed_hits = 12, .misses = 28, .uncacheable = 4, .remote_hits = 3 };
	assert_int_equal(metadata_to_string(m, &text), 0);
	assert_non_null(strstr(text, "\"hits\": 812"));
	assert_int_equal(metadata_parse(text, strlen(text), &back, NULL), 0);
	assert_true(back->compile.present);
	assert_string_equal(back->compile.plan.ccache_remote_shown, "redis://127.0.0.1:6379");
	assert_int_equal(back->compile.stats.misses, 28);
	assert_null(back->compile.plan.hosts);

	/* An entry made before ccache support: no "compile", read as such, not written. */
	old = full_metadata();
	free(text);
	text = NULL;
	assert_int_equal(metadata_to_string(old, &text), 0);
	assert_null(strstr(text, "\"compile\""));
	metadata_free(back);
	back = NULL;
	assert_int_equal(metadata_parse(text, strlen(text), &back, NULL), 0);
	assert_false(back->compile.present);

	/* Present but wrong: named. */
	free(text);
	text = NULL;
	assert_int_equal(metadata_to_string(m, &text), 0);
	bad = replace(text, "\"misses\": 28", "\"misses\": -1");
	metadata_free(back);
	back = NULL;
	assert_int_equal(metadata_parse(bad, strlen(bad), &back, &why), -EBADMSG);
	assert_non_null(strstr(why, "field 'compile.ccache.misses'"));
	free(bad);
	free(why);
	why = NULL;
	bad = replace(text, "redis://127.0.0.1:6379", "redis://:pw@127.0.0.1:6379");
	assert_int_equal(metadata_parse(bad, strlen(bad), &back, &why), -EBADMSG);
	assert_non_null(strstr(why, "field 'compile.ccache.remote'"));
	free(bad);
	free(why);
	why = NULL;
	bad = replace(text, "\"distributed\": null", "\"distributed\": 4");
	assert_int_equal(metadata_parse(bad, strlen(bad), &back, &why), -EBADMSG);
	assert_non_null(strstr(why, "field 'compile.distributed'"));
}

/* Reads text, which must be refused with a reason containing want. */
static void assert_refused(const char *text, const char *want)
{
	struct kts_metadata *out = NULL;
	_cleanup_free_ char *why = NULL;

	assert_int_equal(metadata_parse(text, strlen(text), &out, &why), -EBADMSG);
	assert_null(out);
	if (!why || !strstr(why, want))
		fail_msg("'%s' does not say '%s'", strempty(why), want);
}

/* build_dir and stamps: round trip on, off (null) and unrecorded (absent, older entries). */
static void test_stamps_and_build_dir(void **state)
{
	_cleanup_metadata_ struct kts_metadata *m = full_metadata(), *back = NULL, *old = NULL;
	_cleanup_free_ char *text = NULL, *t2 = NULL, *t3 = NULL;

	(void) state;
	m->build_dir = xstrdup("/home/dev/o");
	m->stamps_state = KTS_METADATA_STAMPS_ON;
	m->stamps = (struct kts_stamps){ .timestamp = xstrdup("Thu Jan  1 00:00:00 UTC 1970"),
		.epoch = 0, .user = xstrdup("ktscope"), .host = xstrdup(""),
		.version = xstrdup("1"), .from = xstrdup("tarball") };
	assert_int_equal(metadata_to_string(m, &text), 0);
	assert_int_equal(metadata_parse(text, strlen(text), &back, NULL), 0);
	assert_metadata_equal(m, back);
	assert_string_equal(back->build_dir, "/home/dev/o");
	assert_int_equal(back->stamps_state, KTS_METADATA_STAMPS_ON);
	assert_string_equal(back->stamps.timestamp, "Thu Jan  1 00:00:00 UTC 1970");
	assert_int_equal(back->stamps.epoch, 0);
	assert_string_equal(back->stamps.host, "");
	assert_string_equal(back->stamps.from, "tarball");

	/* A value that cannot be read back is refused, naming the field. */
	t2 = replace(text, "\"from\": \"tarball\"", "\"from\": \"the moon\"");
	assert_refused(t2, "stamps.from");
	free(t2);
	t2 = replace(text, "\"epoch\": 0", "\"epoch\": -3");
	assert_refused(t2, "stamps.epoch");
	free(t2);
	t2 = replace(text, "\"epoch\": 0", "\"epoch\": \"0\"");
	assert_refused(t2, "stamps.epoch");
	free(t2);
	t2 = replace(text, "\"build_dir\": \"/home/dev/o\"", "\"build_dir\": \"o\"");
	assert_refused(t2, "build_dir");
	free(t2);
	t2 = replace(text, "\"user\": \"ktscope\",", "");
	assert_refused(t2, "stamps.user");
	free(t2);
	/* An unknown epoch is null. */
	t2 = replace(text, "\"epoch\": 0", "\"epoch\": null");
	metadata_free(back);
	back = NULL;
	assert_int_equal(metadata_parse(t2, strlen(t2), &back, NULL), 0);
	assert_int_equal(back->stamps.epoch, -1);
	free(t2);
	t2 = NULL;

	/* Off: written as null, read back as off. */
	m->stamps_state = KTS_METADATA_STAMPS_OFF;
	free(text);
	text = NULL;
	assert_int_equal(metadata_to_string(m, &text), 0);
	assert_non_null(strstr(text, "\"stamps\": null"));
	metadata_free(back);
	back = NULL;
	assert_int_equal(metadata_parse(text, strlen(text), &back, NULL), 0);
	assert_int_equal(back->stamps_state, KTS_METADATA_STAMPS_OFF);

	/* An entry of an older ktscope has neither key: it reads, as unrecorded and NULL. */
	m->stamps_state = KTS_METADATA_STAMPS_UNRECORDED;
	free(m->build_dir);
	m->build_dir = NULL;
	assert_int_equal(metadata_to_string(m, &t3), 0);
	assert_null(strstr(t3, "\"stamps\""));
	t2 = replace(t3, ",\n  \"build_dir\": null", "");
	assert_null(strstr(t2, "build_dir"));
	assert_int_equal(metadata_parse(t2, strlen(t2), &old, NULL), 0);
	assert_int_equal(old->stamps_state, KTS_METADATA_STAMPS_UNRECORDED);
	assert_null(old->build_dir);
}

/* telemetry and phases: written with their sources, read back; entries before them read. */
static void test_telemetry_and_phases(void **state)
{
	_cleanup_metadata_ struct kts_metadata *m = full_metadata(), *back = NULL, *old = NULL;
	_cleanup_free_ char *text = NULL, *t2 = NULL;

	(void) state;
	m->has_telemetry = true;
	telemetry_init(&m->telemetry);
	m->telemetry.user_usec = (struct kts_tele_value){ 1512000000, KTS_TELE_CGROUP };
	m->telemetry.memory_peak = (struct kts_tele_value){ 851443712, KTS_TELE_RUSAGE };
	m->telemetry.io_read_bytes = (struct kts_tele_value){ 4096, KTS_TELE_MANAGER };
	m->telemetry.wall_seconds = 900.5;
	m->has_phases = true;
	phases_init(&m->phases);
	m->phases.s[KTS_PHASE_MAKE] = 812.25;
	m->phases.s[KTS_PHASE_LOCK_WAIT] = 0;
	assert_int_equal(metadata_to_string(m, &text), 0);
	assert_non_null(strstr(text, "\"user_usec\": {\n      \"value\": 1512000000,\n      "
				     "\"source\": \"cgroup\"\n    }"));
	assert_non_null(strstr(text, "\"phases\": {\n    \"lock_wait\": 0.000,\n    "
				     "\"make\": 812.250\n  }\n}\n"));
	assert_int_equal(metadata_parse(text, strlen(text), &back, NULL), 0);
	assert_metadata_equal(m, back);
	assert_true(back->has_telemetry && back->has_phases);
	assert_true(back->telemetry.user_usec.v == 1512000000);
	assert_int_equal(back->telemetry.memory_peak.from, KTS_TELE_RUSAGE);
	assert_int_equal(back->telemetry.io_read_bytes.from, KTS_TELE_MANAGER);
	assert_int_equal(back->telemetry.cpu_usec.from, KTS_TELE_NONE);
	assert_true(back->telemetry.wall_seconds == 900.5);
	assert_true(back->phases.s[KTS_PHASE_MAKE] == 812.25);
	assert_true(back->phases.s[KTS_PHASE_LOCK_WAIT] == 0);
	assert_true(back->phases.s[KTS_PHASE_STORE] < 0);

	/* Known keys are strict, with the field named. */
	t2 = replace(text, "\"source\": \"cgroup\"", "\"source\": \"guess\"");
	assert_refused(t2, "field 'telemetry.user_usec.source'");
	free(t2);
	t2 = replace(text, "812.250", "-1");
	assert_refused(t2, "field 'phases.make': expected seconds");
	free(t2);
	t2 = replace(text, "\"phases\": {", "\"phases\": null, \"x\": {");
	assert_refused(t2, "field 'phases': expected an object");
	free(t2);
	t2 = NULL;

	/* An entry of an older ktscope has neither key: it reads, and writes back without. */
	m->has_telemetry = m->has_phases = false;
	free(text);
	text = NULL;
	assert_int_equal(metadata_to_string(m, &text), 0);
	assert_null(strstr(text, "telemetry"));
	assert_null(strstr(text, "phases"));
	assert_int_equal(metadata_parse(text, strlen(text), &old, NULL), 0);
	assert_false(old->has_telemetry);
	assert_false(old->has_phases);
}

static void test_read_missing_unreadable_and_prefixed(void **state)
{
	struct fixture *f = *state;
	struct kts_metadata *out = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/absent.json", f->dir);
	{
		_cleanup_free_ char *why = NULL;

		assert_int_equal(metadata_read(path, &out, &why), -ENOENT);
		assert_string_equal(why, "metadata.json missing");
	}
	snprintf(path, sizeof(path), "%s/adir", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	{
		_cleanup_free_ char *why = NULL;

		assert_int_equal(metadata_read(path, &out, &why), -EBADMSG);
		assert_string_equal(why, "metadata.json unreadable: not a regular file");
	}
	snprintf(path, sizeof(path), "%s/bad.json", f->dir);
	{
		_cleanup_free_ char *why = NULL;
		FILE *fp = fopen(path, "we");

		assert_non_null(fp);
		fputs("{\"schema\": 7}\n", fp);
		fclose(fp);
		assert_int_equal(metadata_read(path, &out, &why), -EBADMSG);
		assert_string_equal(why, "metadata.json: unsupported schema 7 (expected 1)");
	}
	assert_null(out);
}

static void test_write_refuses_invalid_and_is_atomic(void **state)
{
	struct fixture *f = *state;
	_cleanup_metadata_ struct kts_metadata *m = full_metadata(), *back = NULL;
	_cleanup_free_ char *why = NULL;
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/metadata.json", f->dir);

	/* An invalid record is refused before anything touches the disk. */
	free(m->image);
	m->image = xstrdup("vmlinuz");
	assert_int_equal(metadata_validate(m, &why), -EINVAL);
	assert_string_equal(why, "field 'image': invalid value \"vmlinuz\"");
	assert_int_equal(metadata_write(m, path), -EINVAL);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(count_dir_entries(f->dir), 0);

	/* Overwriting: the new content replaces the old, no temporary is left. */
	free(m->image);
	m->image = xstrdup("bzImage");
	assert_int_equal(metadata_write(m, path), 0);
	m->make_jobs = 17;
	assert_int_equal(metadata_write(m, path), 0);
	assert_int_equal(count_dir_entries(f->dir), 1);
	assert_int_equal(metadata_read(path, &back, NULL), 0);
	assert_int_equal(back->make_jobs, 17);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);

	/* A missing directory is an error, not a crash, and leaves nothing. */
	snprintf(path, sizeof(path), "%s/nodir/metadata.json", f->dir);
	assert_int_equal(metadata_write(m, path), -ENOENT);
}

static void test_validate_required_fields(void **state)
{
	_cleanup_metadata_ struct kts_metadata *m = minimal_metadata();
	_cleanup_free_ char *why = NULL, *why2 = NULL, *why3 = NULL;

	(void) state;
	assert_int_equal(metadata_validate(m, NULL), 0);
	free(m->ktscope_version);
	m->ktscope_version = NULL;
	assert_int_equal(metadata_validate(m, &why), -EINVAL);
	assert_string_equal(why, "missing field 'ktscope_version'");
	m->ktscope_version = xstrdup("0.1.0");

	/* A plan, once present, must be complete. */
	m->plan.present = true;
	assert_int_equal(metadata_validate(m, &why2), -EINVAL);
	assert_string_equal(why2, "missing field 'plan.cpus'");

	m->plan.present = false;
	m->schema = 2;
	assert_int_equal(metadata_validate(m, &why3), -EINVAL);
	assert_string_equal(why3, "unsupported schema 2 (expected 1)");
}

static void test_is_sha256_hex(void **state)
{
	(void) state;
	assert_true(metadata_is_sha256_hex(SHA_B));
	assert_false(metadata_is_sha256_hex(NULL));
	assert_false(metadata_is_sha256_hex(""));
	assert_false(metadata_is_sha256_hex(SHA_B "0"));
	/* Uppercase and non-hex, at the right length. */
	assert_false(metadata_is_sha256_hex("ABCDEF6789abcdef0123456789abcdef"
					    "0123456789abcdef0123456789abcdef"));
	assert_false(metadata_is_sha256_hex("g123456789abcdef0123456789abcdef"
					    "0123456789abcdef0123456789abcdef"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, tmpdir_teardown)
	const struct CMUnitTest tests[] = {
		T(test_round_trip_every_field),
		T(test_round_trip_nulls_and_empty_arrays),
		cmocka_unit_test(test_document_shape),
		cmocka_unit_test(test_time_format_and_strict_parse),
		cmocka_unit_test(test_every_corrupt_class),
		cmocka_unit_test(test_trailing_nul_refused),
		cmocka_unit_test(test_huge_build_seconds_round_trip),
		cmocka_unit_test(test_unknown_keys_tolerated),
		cmocka_unit_test(test_compile_record),
		cmocka_unit_test(test_stamps_and_build_dir),
		cmocka_unit_test(test_telemetry_and_phases),
		T(test_read_missing_unreadable_and_prefixed),
		T(test_write_refuses_invalid_and_is_atomic),
		cmocka_unit_test(test_validate_required_fields),
		cmocka_unit_test(test_is_sha256_hex),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
