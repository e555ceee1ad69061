/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * compile.c, compile-parse.c, compile-json.c: KTSCOPE_CCACHE and --ccache-remote as the CLI
 * reads them (credentials cut from the shown URL), ccache's --version, --show-config and
 * stats log read strictly, the plan against a stand-in ccache in PATH (which directory,
 * which warning, which remote scheme), the in-scope setup (wrappers, make variables,
 * environment) and the metadata "compile" object.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-tmpdir.h"

#include "compile.h"
#include "compile-json.h"
#include "macro.h"
#include "util.h"

struct fixture {
	char dir[TMPDIR_SIZE];
};
TMPDIR_FIXTURE_CHECK(struct fixture, dir);

static int setup(void **state)
{
	*state = tmpdir_fixture_new(sizeof(struct fixture));
	return *state ? 0 : -1;
}

/* ---------------------------------------------------------------- the request */

static void env_values(void **state)
{
	const char *dir = "x";
	bool on = true;

	(void) state;
	assert_int_equal(compile_ccache_env(NULL, &on, &dir), 0);
	assert_false(on);
	assert_null(dir);
	for (const char *const *v = (const char *const[]){ "", "0", "no", NULL }; *v; v++) {
		on = true;
		assert_int_equal(compile_ccache_env(*v, &on, &dir), 0);
		assert_false(on);
	}
	assert_int_equal(compile_ccache_env("yes", &on, &dir), 0);
	assert_true(on);
	assert_null(dir);
	assert_int_equal(compile_ccache_env("1", &on, &dir), 0);
	assert_true(on);
	assert_int_equal(compile_ccache_env("/var/cache/cc", &on, &dir), 0);
	assert_string_equal(dir, "/var/cache/cc");
	for (const char *const *v = (const char *const[]){ "2", "true", "rel/dir", "YES", NULL }; *v;
	     v++)
		assert_int_equal(compile_ccache_env(*v, &on, &dir), -EINVAL);
}

static void remote_urls(void **state)
{
	static const struct {
		const char *url, *shown;
		int r;
	} cases[] = {
		{ "redis://127.0.0.1:6379", "redis://127.0.0.1:6379", 0 },
		{ "redis://:s3cret@h:1/2", "redis://h:1/2", 0 },
		{ "redis://user:pa@ss@h", "redis://h", 0 },
		{ "http://u:p@cache.example/ccache|layout=flat", "http://cache.example/ccache|layout=flat", 0 },
		{ "http://h/p@x", "http://h/p@x", 0 },
		{ "redis+unix:/run/redis.sock", "redis+unix:/run/redis.sock", 0 },
		{ "redis+unix://pw@localhost/run/r.sock?db=1", "redis+unix://localhost/run/r.sock?db=1", 0 },
		{ "file:/shared/cc", "file:/shared/cc", 0 },
		{ "https://u:p@h/", "https://h/", 0 },
		{ "ftp://u:secret@h/", "ftp://h/", -EINVAL },
		{ "gopher://h", "gopher://h", -EINVAL },
		{ "redis://h other://x", "redis://h other://x", -EINVAL },
		{ "redis:", "redis:", -EINVAL },
		{ "h:6379", "h:6379", -EINVAL },
		{ "", "", -EINVAL },
	};

	(void) state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *shown = NULL;

		assert_int_equal(compile_remote_check(cases[i].url, &shown), cases[i].r);
		assert_string_equal(shown, cases[i].shown);
	}
}

/* ---------------------------------------------------------------- ccache's output */

static void version_output(void **state)
{
	static const char out[] = "ccache version 4.7.5\nFeatures: file-storage http-storage "
				  "redis+unix-storage redis-storage\n\nCopyright (C) ...\n";
	_cleanup_free_ char *v = NULL, *f = NULL;

	(void) state;
	assert_int_equal(compile_version_parse(out, strlen(out), &v, &f), 0);
	assert_string_equal(v, "4.7.5");
	assert_string_equal(f, "file-storage http-storage redis+unix-storage redis-storage");
	free(v);
	free(f);
	assert_int_equal(compile_version_parse("ccache version 3.7\n", 19, &v, &f), 0);
	assert_string_equal(v, "3.7");
	assert_string_equal(f, "");
	free(v);
	free(f);
	v = f = NULL;
	assert_int_equal(compile_version_parse("ccache version 4..7\n", 20, &v, &f), -EBADMSG);
	assert_int_equal(compile_version_parse("sccache 0.4.0\n", 14, &v, &f), -EBADMSG);
	assert_int_equal(compile_version_parse("ccache version \n", 16, &v, &f), -EBADMSG);
	assert_true(compile_version_cmp("4.7.2", "4.7.3") < 0);
	assert_true(compile_version_cmp("4.7.3", "4.7.3") == 0);
	assert_true(compile_version_cmp("4.7", "4.7.3") < 0);
	assert_true(compile_version_cmp("4.10", "4.7.3") > 0);
	assert_true(compile_version_cmp("5", "4.7.3") > 0);
}

static void config_output(void **state)
{
	static const char out[] = "(default) base_dir = \n"
				  "(/home/u/.config/ccache/ccache.conf) cache_dir = /srv/cc dir\n"
				  "(environment) stats_log = /x\n(default) cache_dir_levels = 2\n";
	_cleanup_free_ char *v = NULL;
	bool dflt = true;

	(void) state;
	assert_int_equal(compile_config_parse(out, strlen(out), "cache_dir", &v, &dflt), 0);
	assert_string_equal(v, "/srv/cc dir");
	assert_false(dflt);
	free(v);
	assert_int_equal(compile_config_parse(out, strlen(out), "base_dir", &v, &dflt), 0);
	assert_string_equal(v, "");
	assert_true(dflt);
	free(v);
	v = NULL;
	assert_int_equal(compile_config_parse(out, strlen(out), "remote_storage", &v, &dflt), -ENOENT);
	assert_int_equal(compile_config_parse("cache_dir = /x\n", 15, "cache_dir", &v, &dflt), -EBADMSG);
	assert_int_equal(compile_config_parse("(default cache_dir = /x", 23, "cache_dir", &v, &dflt),
			 -EBADMSG);
	assert_int_equal(compile_config_parse("(a)\0 cache_dir = /x", 19, "cache_dir", &v, &dflt),
			 -EBADMSG);
	assert_null(v);
}

static void stats_log(void **state)
{
	/* What ccache 4.7.5 wrote for: a miss, a direct hit, a link, --version, a remote hit. */
	static const char log[] = "# fake.c\ncache_miss\ndirect_cache_miss\nlocal_storage_miss\n"
				  "local_storage_write\npreprocessed_cache_miss\n"
				  "# fake.c\ndirect_cache_hit\nlocal_storage_hit\nlocal_storage_read_hit\n"
				  "# fake.o\ncalled_for_link\n# \nno_input_file\n"
				  "# a.c\npreprocessed_cache_hit\nremote_storage_hit\nremote_storage_read_hit\n"
				  "# b.c\ninternal_error\n# c.c\nremote_storage_timeout\ncache_miss\n"
				  "# d.c\nsome_future_counter\nunsupported_compiler_option";
	struct kts_compile_stats s = { 0 };

	(void) state;
	assert_int_equal(compile_stats_parse(log, strlen(log), &s), 0);
	assert_true(s.present);
	assert_int_equal(s.direct_hits, 1);
	assert_int_equal(s.preprocessed_hits, 1);
	assert_int_equal(compile_stats_hits(&s), 2);
	assert_int_equal(s.misses, 2);
	assert_int_equal(s.uncacheable, 3);
	assert_int_equal(s.remote_hits, 1);
	assert_int_equal(s.errors, 2);
	assert_int_equal(compile_stats_parse("", 0, &s), 0);
	assert_int_equal(s.misses, 0);

	s = (struct kts_compile_stats){ .misses = 42 };
	assert_int_equal(compile_stats_parse("cache miss\n", 11, &s), -EBADMSG);
	assert_int_equal(compile_stats_parse("Cache_miss\n", 11, &s), -EBADMSG);
	assert_int_equal(compile_stats_parse("cache_miss\n\n", 12, &s), -EBADMSG);
	assert_int_equal(compile_stats_parse("cache_miss\0\n", 12, &s), -EBADMSG);
	assert_int_equal(compile_stats_parse("cache_miss\r\n", 12, &s), -EBADMSG);
	assert_int_equal(s.misses, 42); /* untouched */
	/* A 65-character name is not one of ccache's. */
	char big[80];
	memset(big, 'a', 65);
	assert_int_equal(compile_stats_parse(big, 65, &s), -EBADMSG);
	assert_int_equal(compile_stats_parse(big, 64, &s), 0);
}

/* ---------------------------------------------------------------- the plan */

/* A stand-in ccache in DIR/bin answering --version and --show-config; PATH is DIR/bin. */
static void fake_ccache(const char *dir, const char *version, const char *cache_dir_line)
{
	char bin[TMPDIR_SIZE + 16], path[TMPDIR_SIZE + 32];
	_cleanup_free_ char *text = NULL;
	FILE *f;

	snprintf(bin, sizeof(bin), "%s/bin", dir);
	(void) mkdir(bin, 0755);
	snprintf(path, sizeof(path), "%s/ccache", bin);
	assert_true(asprintf(&text, "#!/bin/sh\ncase $1 in\n--version) printf 'ccache version %s\\n"
			     "Features: file-storage redis-storage\\n';;\n--show-config) printf "
			     "'(default) base_dir = \\n%s\\n';;\nesac\n", version, cache_dir_line) > 0);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(setenv("PATH", bin, 1), 0);
}

static void plan_cache_dir(void **state)
{
	struct fixture *fx = *state;
	struct kts_compile_request q = { .ccache = true };
	struct kts_compile_plan p = { 0 };
	_cleanup_free_ char *old_path = strdup(getenv("PATH")), *want = NULL, *why = NULL;
	char root[TMPDIR_SIZE + 16];
	struct stat st;

	snprintf(root, sizeof(root), "%s/root", fx->dir);
	/* The default: {root}/ccache, created. */
	fake_ccache(fx->dir, "4.7.5", "(default) cache_dir = /root/.cache/ccache");
	assert_int_equal(compile_plan(&q, root, "gcc", &p, &why), 0);
	assert_true(asprintf(&want, "%s/ccache", root) > 0);
	assert_string_equal(p.ccache_dir, want);
	assert_string_equal(p.ccache_dir_used, want);
	assert_string_equal(p.ccache_version, "4.7.5");
	assert_int_equal(stat(want, &st), 0);
	assert_true(compile_plan_active(&p));
	compile_plan_done(&p);
	/* The user's own setting: ktscope sets nothing, records it. */
	fake_ccache(fx->dir, "4.7.5", "(environment) cache_dir = /srv/cc");
	assert_int_equal(compile_plan(&q, root, "gcc", &p, &why), 0);
	assert_null(p.ccache_dir);
	assert_string_equal(p.ccache_dir_used, "/srv/cc");
	compile_plan_done(&p);
	/* --ccache=DIR wins over it. */
	q.ccache_dir = want;
	assert_int_equal(compile_plan(&q, root, "gcc", &p, &why), 0);
	assert_string_equal(p.ccache_dir, want);
	compile_plan_done(&p);
	/* Nothing asked: nothing planned, ccache not even looked for. */
	assert_int_equal(setenv("PATH", "/nonexistent", 1), 0);
	assert_int_equal(compile_plan(&(struct kts_compile_request){ 0 }, root, "gcc", &p, &why), 0);
	assert_false(compile_plan_active(&p));
	/* Asked, missing: -ENXIO and an install hint. */
	assert_int_equal(compile_plan(&q, root, "gcc", &p, &why), -ENXIO);
	assert_non_null(strstr(why, "apt install ccache"));
	assert_null(strchr(why, '\n'));
	assert_int_equal(setenv("PATH", old_path, 1), 0);
}

static void plan_remote(void **state)
{
	struct fixture *fx = *state;
	struct kts_compile_request q = { .ccache = true, .ccache_remote = "redis://:pw@127.0.0.1:9" };
	struct kts_compile_plan p = { 0 };
	_cleanup_free_ char *old_path = strdup(getenv("PATH")), *why = NULL;

	fake_ccache(fx->dir, "4.7.5", "(default) cache_dir = /x");
	(void) unsetenv("CCACHE_REMOTE_STORAGE");
	assert_int_equal(compile_plan(&q, fx->dir, "gcc", &p, &why), 0);
	assert_string_equal(p.ccache_remote_shown, "redis://127.0.0.1:9");
	/* The build inherits the URL, credentials and all; nothing else holds them. */
	assert_string_equal(getenv("CCACHE_REMOTE_STORAGE"), "redis://:pw@127.0.0.1:9");
	compile_plan_done(&p);
	(void) unsetenv("CCACHE_REMOTE_STORAGE");
	/* A scheme this ccache lacks (its Features: line): -EINVAL naming it, no password. */
	q.ccache_remote = "http://u:pw@h/c";
	assert_int_equal(compile_plan(&q, fx->dir, "gcc", &p, &why), -EINVAL);
	assert_non_null(strstr(why, "'http://h/c'"));
	assert_null(strstr(why, "pw"));
	assert_null(getenv("CCACHE_REMOTE_STORAGE"));
	assert_int_equal(setenv("PATH", old_path, 1), 0);
}

/* ---------------------------------------------------------------- the setup */

static void real_cc(void **state)
{
	char *v1[] = { "LLVM=-16" }, *v2[] = { "CC=clang", "HOSTCC=cc" }, *v3[] = { "LLVM=/o/bin/" };
	_cleanup_free_ char *cc = NULL, *host = NULL;

	(void) state;
	assert_int_equal(compile_real_cc(NULL, 0, &cc, &host), 0);
	assert_string_equal(cc, "gcc");
	assert_string_equal(host, "gcc");
	free(cc);
	free(host);
	assert_int_equal(compile_real_cc(v1, 1, &cc, &host), 0);
	assert_string_equal(cc, "clang-16");
	assert_string_equal(host, "clang-16");
	free(cc);
	free(host);
	assert_int_equal(compile_real_cc(v2, 2, &cc, &host), 0);
	assert_string_equal(cc, "clang");
	assert_string_equal(host, "cc");
	free(cc);
	free(host);
	assert_int_equal(compile_real_cc(v3, 1, &cc, &host), 0);
	assert_string_equal(cc, "/o/bin/clang");
}

static const char *find_var(char **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (startswith(v[i], name) && v[i][strlen(name)] == '=')
			return v[i] + strlen(name) + 1;
	return NULL;
}

static void setup_in_tree(void **state)
{
	struct fixture *fx = *state;
	const struct kts_compile_plan p = { .ccache = "/usr/bin/ccache", .ccache_version = "4.7.5",
					    .ccache_dir = "/c/cc" };
	char *vars[] = { "CC=gcc-12", "KCFLAGS=-Og" };
	char tree[TMPDIR_SIZE + 8], wrappers[TMPDIR_SIZE + 16], **out = NULL, *ccpath;
	_cleanup_free_ char *why = NULL, *text = NULL, *want = NULL;
	size_t n = 0;

	snprintf(tree, sizeof(tree), "%s/t", fx->dir);
	snprintf(wrappers, sizeof(wrappers), "%s/wrap", fx->dir);
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(compile_setup(&p, fx->dir, wrappers, tree, tree, vars, 2, &out, &n, &why), 0);
	assert_int_equal(n, 3);
	ccpath = (char *) find_var(out, n, "CC");
	assert_non_null(ccpath);
	assert_true(startswith(ccpath, wrappers));
	assert_int_equal(access(ccpath, X_OK), 0);
	assert_int_equal(read_full_file(ccpath, 4096, &text, NULL), 0);
	assert_non_null(strstr(text, "#!/bin/sh\n"));
	assert_non_null(strstr(text, "exec '/usr/bin/ccache' 'gcc-12' \"$@\"\n"));
	assert_null(strstr(text, "CCACHE_PREFIX"));
	assert_non_null(find_var(out, n, "HOSTCC"));
	assert_true(asprintf(&want, "-fdebug-prefix-map=%s=. -Og", tree) > 0);
	assert_string_equal(find_var(out, n, "KCFLAGS"), want);
	assert_string_equal(getenv("CCACHE_DIR"), "/c/cc");
	assert_string_equal(getenv("CCACHE_BASEDIR"), tree);
	free(want);
	assert_true(asprintf(&want, "%s/ccache-stats.log", fx->dir) > 0);
	assert_string_equal(getenv("CCACHE_STATSLOG"), want);
	/* The same plan names the same wrapper: Kbuild sees the same CC next time. */
	char **again = NULL;
	size_t n2 = 0;
	assert_int_equal(compile_setup(&p, fx->dir, wrappers, tree, tree, vars, 2, &again, &n2, &why), 0);
	assert_string_equal(find_var(again, n2, "CC"), ccpath);
	strv_free(again, n2);
	strv_free(out, n);
}

static void setup_out_of_tree_engine(void **state)
{
	struct fixture *fx = *state;
	const struct kts_compile_plan both = { .ccache = "/usr/bin/ccache", .ccache_version = "4.7.5",
					       .engine = KTS_ENGINE_DISTCC,
					       .engine_bin = "/usr/bin/dist'cc" };
	const struct kts_compile_plan engine = { .engine = KTS_ENGINE_DISTCC,
						 .engine_bin = "/usr/bin/distcc" };
	char src[TMPDIR_SIZE + 8], obj[TMPDIR_SIZE + 8], wrappers[TMPDIR_SIZE + 16], **out = NULL;
	_cleanup_free_ char *why = NULL, *text = NULL, *want = NULL;
	size_t n = 0;

	snprintf(src, sizeof(src), "%s/src", fx->dir);
	snprintf(obj, sizeof(obj), "%s/obj", fx->dir);
	snprintf(wrappers, sizeof(wrappers), "%s/wrap", fx->dir);
	assert_int_equal(mkdir(src, 0755), 0);
	assert_int_equal(mkdir(obj, 0755), 0);
	(void) unsetenv("CCACHE_DIR");
	assert_int_equal(compile_setup(&both, fx->dir, wrappers, src, obj, NULL, 0, &out, &n, &why), 0);
	assert_int_equal(read_full_file(find_var(out, n, "CC"), 4096, &text, NULL), 0);
	assert_non_null(strstr(text, "CCACHE_PREFIX='/usr/bin/dist'\\''cc'\nexport CCACHE_PREFIX\n"
				     "exec '/usr/bin/ccache' 'gcc' \"$@\"\n"));
	assert_true(asprintf(&want, "-fdebug-prefix-map=%s=source -fdebug-prefix-map=%s=.", src,
			     obj) > 0);
	assert_string_equal(find_var(out, n, "KCFLAGS"), want);
	assert_string_equal(getenv("CCACHE_BASEDIR"), fx->dir);
	assert_null(getenv("CCACHE_DIR")); /* the user's own */
	strv_free(out, n);
	free(text);
	/* An engine alone: the wrapper runs it; no HOSTCC, no KCFLAGS, no ccache settings. */
	assert_int_equal(compile_setup(&engine, fx->dir, wrappers, src, obj, NULL, 0, &out, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(read_full_file(find_var(out, n, "CC"), 4096, &text, NULL), 0);
	assert_non_null(strstr(text, "exec '/usr/bin/distcc' 'gcc' \"$@\"\n"));
	strv_free(out, n);
}

/* ---------------------------------------------------------------- metadata */

static void record_json(void **state)
{
	const struct kts_compile_plan p = { .ccache_version = "4.7.5", .ccache_dir_used = "/c",
					    .ccache_remote_shown = "redis://h:1" };
	const struct kts_compile_stats s = { .present = true, .direct_hits = 800,
					     .preprocessed_hits = 12, .misses = 28, .remote_hits = 3 };
	_cleanup_json_ struct json_object *o = NULL, *bad = NULL;
	struct kts_compile_record rec = { 0 };
	_cleanup_free_ char *why = NULL;

	(void) state;
	assert_int_equal(compile_record_to_json(&p, &s, &o), 0);
	assert_int_equal(compile_record_from_json(o, &rec, &why), 0);
	assert_true(rec.present);
	assert_string_equal(rec.plan.ccache_version, "4.7.5");
	assert_string_equal(rec.plan.ccache_remote_shown, "redis://h:1");
	assert_int_equal(compile_stats_hits(&rec.stats), 812);
	assert_int_equal(rec.stats.remote_hits, 3);
	assert_int_equal(rec.plan.engine, KTS_ENGINE_NONE);
	compile_record_done(&rec);
	/* hits must be the sum; a URL with credentials is refused. */
	bad = json_tokener_parse("{\"ccache\":{\"version\":\"4.7.5\",\"dir\":null,\"remote\":null,"
				 "\"hits\":5,\"direct_hits\":1,\"preprocessed_hits\":1,\"misses\":0,"
				 "\"uncacheable\":0,\"remote_hits\":0,\"errors\":0},\"distributed\":null}");
	assert_non_null(bad);
	assert_int_equal(compile_record_from_json(bad, &rec, &why), -EBADMSG);
	assert_non_null(strstr(why, "compile.ccache.hits"));
	json_object_put(bad);
	free(why);
	why = NULL;
	bad = json_tokener_parse("{\"ccache\":null,\"distributed\":{\"engine\":\"distcc\","
				 "\"hosts\":\"h/4\",\"jobs\":4}}");
	assert_int_equal(compile_record_from_json(bad, &rec, &why), 0);
	assert_int_equal(rec.plan.engine, KTS_ENGINE_DISTCC);
	assert_int_equal(rec.plan.remote_jobs, 4);
	assert_null(rec.plan.ccache_version);
	compile_record_done(&rec);
	json_object_put(bad);
	bad = json_tokener_parse("{\"ccache\":{\"version\":\"4.7.5\",\"dir\":null,"
				 "\"remote\":\"redis://u:p@h\",\"hits\":0,\"direct_hits\":0,"
				 "\"preprocessed_hits\":0,\"misses\":0,\"uncacheable\":0,"
				 "\"remote_hits\":0,\"errors\":0},\"distributed\":null}");
	assert_int_equal(compile_record_from_json(bad, &rec, &why), -EBADMSG);
	assert_non_null(strstr(why, "compile.ccache.remote"));
	json_object_put(bad);
	free(why);
	why = NULL;
	bad = json_tokener_parse("{\"ccache\":null}");
	assert_int_equal(compile_record_from_json(bad, &rec, &why), -EBADMSG);
	assert_non_null(strstr(why, "missing field 'compile.distributed'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(env_values),
		cmocka_unit_test(remote_urls),
		cmocka_unit_test(version_output),
		cmocka_unit_test(config_output),
		cmocka_unit_test(stats_log),
		cmocka_unit_test_setup_teardown(plan_cache_dir, setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(plan_remote, setup, tmpdir_teardown),
		cmocka_unit_test(real_cc),
		cmocka_unit_test_setup_teardown(setup_in_tree, setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(setup_out_of_tree_engine, setup, tmpdir_teardown),
		cmocka_unit_test(record_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
