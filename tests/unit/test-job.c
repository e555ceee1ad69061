/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * job.c: the job and result files of a build written and read back field by field, and
 * every kind of bad document refused with a reason naming the file and the field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "job.h"
#include "macro.h"

#define SHA_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char *extra[] = { "/w/extra-1.config", NULL };
static char *names[] = { "my.config", NULL };
static char *vars[] = { "LLVM=1", NULL };

static const struct kts_build_job sample = {
	.src_dir = "/src/linux", .stage_dir = "/cache/.tmp/k.1", .result_file = "/w/result.json",
	.base = "/w/base.config", .extra = extra, .extra_names = names, .n_extra = 1,
	.arch = "x86_64", .jobs = 3, .compile_commands = true, .pahole_version = "v1.24",
	.make_vars = vars, .n_make_vars = 1, .headers = true, .made_fifo = "/w/made",
};

static void job_round_trip(void **state)
{
	char dir[] = "/tmp/test-job.XXXXXX", path[64];
	struct kts_build_job j = { 0 };
	_cleanup_free_ char *why = NULL;

	(void) state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/job.json", dir);
	assert_int_equal(job_write(&sample, path), 0);
	assert_int_equal(job_read(path, &j, &why), 0);
	assert_string_equal(j.src_dir, "/src/linux");
	assert_null(j.build_dir);
	assert_string_equal(j.base, "/w/base.config");
	assert_int_equal(j.n_extra, 1);
	assert_string_equal(j.extra[0], "/w/extra-1.config");
	assert_string_equal(j.extra_names[0], "my.config");
	assert_int_equal(j.jobs, 3);
	assert_true(j.compile_commands);
	assert_false(j.clean);
	assert_string_equal(j.pahole_version, "v1.24");
	assert_null(j.count_file);
	assert_string_equal(j.made_fifo, "/w/made");
	assert_int_equal(j.n_make_vars, 1);
	assert_string_equal(j.make_vars[0], "LLVM=1");
	assert_true(j.headers);
	job_done(&j);
	(void) unlink(path);
	(void) rmdir(dir);
}

#define GOOD_JOB                                                                           \
	"\"schema\":1,\"src_dir\":\"/s\",\"build_dir\":null,\"stage_dir\":\"/t\","            \
	"\"result_file\":\"/r\",\"base\":\"defconfig\",\"extra\":[],\"extra_names\":[],"      \
	"\"arch\":\"x86_64\",\"clean\":false,\"compile_commands\":false,"                     \
	"\"json_events\":false,\"progress\":false,\"pahole_version\":null,"                   \
	"\"count_file\":null,\"made_fifo\":null,\"make_vars\":[],\"compile\":null,\"compile_dir\":null,"     \
	"\"wrapper_dir\":null,\"stamps\":null,\"headers\":false"

/* Replaces the first from in *t by to. */
static void s_replace(char **t, const char *from, const char *to)
{
	char *p = strstr(*t, from), *n = NULL;

	assert_non_null(p);
	assert_true(asprintf(&n, "%.*s%s%s", (int) (p - *t), *t, to, p + strlen(from)) > 0);
	free(*t);
	*t = n;
}

/* text must be refused with a reason containing want. */
static void refused(const char *text, size_t len, const char *want)
{
	struct kts_build_job j = { 0 };
	_cleanup_free_ char *why = NULL;

	assert_int_equal(job_parse(text, len, "J", &j, &why), -EBADMSG);
	assert_non_null(why);
	if (!strstr(why, want))
		fail_msg("'%s' does not say '%s'", why, want);
	assert_non_null(strstr(why, "'J'"));
}

static void job_strict(void **state)
{
	struct kts_build_job j = { 0 };
	const char *ok = "{" GOOD_JOB ",\"jobs\":2}";

	(void) state;
	assert_int_equal(job_parse(ok, strlen(ok), "J", &j, NULL), 0);
	job_done(&j);
	refused("{" GOOD_JOB "}", strlen("{" GOOD_JOB "}"), "field 'jobs': missing");
	refused("{" GOOD_JOB ",\"jobs\":0}", strlen("{" GOOD_JOB ",\"jobs\":0}"), "'jobs'");
	refused("{" GOOD_JOB ",\"jobs\":\"4\"}", strlen("{" GOOD_JOB ",\"jobs\":\"4\"}"), "'jobs'");
	refused("{" GOOD_JOB ",\"jobs\":99999999}", strlen("{" GOOD_JOB ",\"jobs\":99999999}"),
		"'jobs'");
	refused("{" GOOD_JOB ",\"jobs\":2,\"more\":1}", strlen("{" GOOD_JOB ",\"jobs\":2,\"more\":1}"),
		"unknown field 'more'");
	refused("{" GOOD_JOB ",\"jobs\":2} x", strlen("{" GOOD_JOB ",\"jobs\":2} x"), "malformed");
	refused("{" GOOD_JOB, strlen("{" GOOD_JOB), "malformed");
	/* NUL bytes after it are not blanks (found by fuzz/fuzz-job: strchr() finds the NUL). */
	refused("{" GOOD_JOB ",\"jobs\":2}\n\0\0", strlen("{" GOOD_JOB ",\"jobs\":2}") + 3,
		"malformed");
	refused("[1]", 3, "not a JSON object");
	{
		char *t = NULL;

		/* A relative path, an unknown base and a NUL inside a path. */
		assert_true(asprintf(&t, "{%s,\"jobs\":2}", GOOD_JOB) > 0);
		memcpy(strstr(t, "\"/s\""), "\"s/\"", 4);
		refused(t, strlen(t), "field 'src_dir'");
		free(t);
		assert_true(asprintf(&t, "{%s,\"jobs\":2}", GOOD_JOB) > 0);
		memcpy(strstr(t, "defconfig"), "defcomfig", 9);
		refused(t, strlen(t), "field 'base'");
		free(t);
		assert_true(asprintf(&t, "{%s,\"jobs\":2}", GOOD_JOB) > 0);
		s_replace(&t, "\"made_fifo\":null", "\"made_fifo\":\"made\"");
		refused(t, strlen(t), "field 'made_fifo'");
		free(t);
	}
	{
		char *t = NULL;

		/* A NUL inside a path (json-c keeps it; C strings cannot). */
		assert_true(asprintf(&t, "{%s,\"jobs\":2}", GOOD_JOB) > 0);
		s_replace(&t, "\"src_dir\":\"/s\"", "\"src_dir\":\"/s\\u0000x\"");
		refused(t, strlen(t), "field 'src_dir'");
		free(t);
	}
}

/*
 * Found by fuzz/fuzz-job: extra and extra_names of different lengths, with a later field
 * bad too, were refused for the later field, and job_done() then freed extra_names as if it
 * had n_extra strings (a leak when longer, a read and free() past the array when shorter).
 * The count is checked first now.
 */
static void job_extra_names_count(void **state)
{
	char *t = NULL;

	(void) state;
	assert_true(asprintf(&t, "{%s}", GOOD_JOB) > 0); /* and no "jobs" */
	s_replace(&t, "\"extra\":[]", "\"extra\":[\"/a\",\"/b\",\"/c\"]");
	s_replace(&t, "\"extra_names\":[]", "\"extra_names\":[\"a\"]");
	refused(t, strlen(t), "field 'extra_names': expected one name per extra fragment");
	free(t);
	assert_true(asprintf(&t, "{%s}", GOOD_JOB) > 0);
	s_replace(&t, "\"extra\":[]", "\"extra\":[\"/a\"]");
	s_replace(&t, "\"extra_names\":[]", "\"extra_names\":[\"a\",\"b\"]");
	refused(t, strlen(t), "field 'extra_names': expected one name per extra fragment");
	free(t);
}

/* An unknown key is the file's text: shown printable, on one line (found by fuzz/fuzz-job). */
static void job_unknown_key_printable(void **state)
{
	const char *t = "{" GOOD_JOB ",\"jobs\":2,\"a\\nb\\u001b[2J\":1}";

	(void) state;
	refused(t, strlen(t), "unknown field 'a?b?[2J'");
}

/* The stamps object travels whole (epoch null as -1); a bad one is refused by field. */
static void job_stamps(void **state)
{
	char dir[] = "/tmp/test-job.XXXXXX", path[64];
	struct kts_stamps st = { .timestamp = "Thu Jan  1 00:00:00 UTC 1970", .epoch = -1,
				 .user = "", .host = "h", .version = "1", .from = "make-variable" };
	struct kts_build_job in = sample, j = { 0 };
	char *t = NULL;

	(void) state;
	in.stamps = &st;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/job.json", dir);
	assert_int_equal(job_write(&in, path), 0);
	assert_int_equal(job_read(path, &j, NULL), 0);
	assert_non_null(j.stamps);
	assert_string_equal(j.stamps->timestamp, "Thu Jan  1 00:00:00 UTC 1970");
	assert_int_equal(j.stamps->epoch, -1);
	assert_string_equal(j.stamps->user, "");
	assert_string_equal(j.stamps->from, "make-variable");
	job_done(&j);
	(void) unlink(path);
	(void) rmdir(dir);

#define STAMPS_OK "{\"timestamp\":\"T\",\"epoch\":5,\"user\":\"u\",\"host\":\"h\"," \
		  "\"version\":\"1\",\"from\":\"tarball\",\"map_tree\":true}"
	assert_true(asprintf(&t, "{%s,\"jobs\":2}", GOOD_JOB) > 0);
	s_replace(&t, "\"stamps\":null", "\"stamps\":" STAMPS_OK);
	assert_int_equal(job_parse(t, strlen(t), "J", &j, NULL), 0);
	assert_int_equal(j.stamps->epoch, 5);
	assert_true(j.stamps->map_tree);
	job_done(&j);
	s_replace(&t, "\"tarball\"", "\"yesterday\"");
	refused(t, strlen(t), "field 'from'");
	s_replace(&t, "\"yesterday\"", "\"tarball\",\"extra\":1");
	refused(t, strlen(t), "unknown field 'extra'");
	s_replace(&t, ",\"extra\":1", "");
	s_replace(&t, "\"epoch\":5", "\"epoch\":-5");
	refused(t, strlen(t), "field 'epoch'");
	s_replace(&t, "\"epoch\":-5,", "");
	refused(t, strlen(t), "field 'epoch': missing");
	free(t);
	assert_true(asprintf(&t, "{%s,\"jobs\":2}", GOOD_JOB) > 0);
	s_replace(&t, "\"stamps\":null", "\"stamps\":\"on\"");
	refused(t, strlen(t), "field 'stamps'");
	s_replace(&t, ",\"stamps\":\"on\"", "");
	refused(t, strlen(t), "field 'stamps': missing");
	free(t);
}

static void result_round_trip(void **state)
{
	char dir[] = "/tmp/test-job.XXXXXX", path[64];
	struct kts_build_job_result in = {
		.ok = true, .image = "/t/bzImage", .image_size = 10, .vmlinux_size = 20,
		.vmlinux_unstripped = 30, .configured = true, .validated = true, .objects = 9,
		.make_seconds = 1.5, .seconds = 2, .vmlinux_h_seconds = 0.25,
		.capabilities_seconds = 0.5, .headers_seconds = 3, .compile_commands_seconds = 1.25,
	}, out = { 0 };
	_cleanup_free_ char *why = NULL;

	(void) state;
	memcpy(in.config_sha256, SHA_B, sizeof(SHA_B));
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/result.json", dir);
	assert_int_equal(job_result_write(&in, path), 0);
	assert_int_equal(job_result_read(path, &out, &why), 0);
	assert_true(out.ok);
	assert_string_equal(out.image, "/t/bzImage");
	assert_int_equal(out.vmlinux_unstripped, 30);
	assert_string_equal(out.config_sha256, SHA_B);
	assert_int_equal(out.objects, 9);
	assert_true(out.make_seconds > 1.4 && out.make_seconds < 1.6);
	assert_true(out.vmlinux_h_seconds > 0.24 && out.vmlinux_h_seconds < 0.26);
	assert_true(out.capabilities_seconds > 0.49 && out.capabilities_seconds < 0.51);
	assert_true(out.headers_seconds > 2.9 && out.headers_seconds < 3.1);
	assert_true(out.compile_commands_seconds > 1.24 && out.compile_commands_seconds < 1.26);
	job_result_done(&out);

	/* A failure carries its errno and reason; ok with an error is refused. */
	in = (struct kts_build_job_result){ .ok = false, .error = EPROTO, .reason = "make failed" };
	assert_int_equal(job_result_write(&in, path), 0);
	assert_int_equal(job_result_read(path, &out, NULL), 0);
	assert_false(out.ok);
	assert_int_equal(out.error, EPROTO);
	assert_string_equal(out.reason, "make failed");
	job_result_done(&out);
	{
		static const char bad[] = "{\"schema\":1,\"ok\":true,\"error\":5,\"reason\":null,"
			"\"image\":\"/i\",\"image_size\":1,\"vmlinux_size\":1,\"vmlinux_unstripped\":1,"
			"\"config_sha256\":\"" SHA_B "\",\"configured\":true,\"validated\":true,"
			"\"objects\":1,\"dropped_lines\":0,\"configure_seconds\":0,\"make_seconds\":0,"
			"\"strip_seconds\":0,\"seconds\":0,\"vmlinux_h_seconds\":0,"
			"\"capabilities_seconds\":0,\"headers_seconds\":0,\"compile_stats\":null}";

		assert_int_equal(job_result_parse(bad, sizeof(bad) - 1, "R", &out, &why), -EBADMSG);
		assert_non_null(strstr(why, "result file 'R': field 'error'"));
	}
	(void) unlink(path);
	(void) rmdir(dir);
}

#define GOOD_RESULT                                                                        \
	"\"schema\":1,\"ok\":false,\"error\":5,\"reason\":null,\"image\":null,"             \
	"\"image_size\":0,\"vmlinux_size\":0,\"vmlinux_unstripped\":0,"                       \
	"\"config_sha256\":null,\"configured\":false,\"validated\":false,\"objects\":0,"     \
	"\"dropped_lines\":0,\"configure_seconds\":0,\"make_seconds\":0,"                     \
	"\"strip_seconds\":0,\"seconds\":0,\"vmlinux_h_seconds\":0,"                          \
	"\"capabilities_seconds\":0,\"headers_seconds\":0,\"compile_stats\":null"

static void result_refused(const char *text, const char *want)
{
	struct kts_build_job_result out = { 0 };
	_cleanup_free_ char *why = NULL;

	assert_int_equal(job_result_parse(text, strlen(text), "R", &out, &why), -EBADMSG);
	if (!why || !strstr(why, want))
		fail_msg("'%s' does not say '%s'", strempty(why), want);
}

/* "telemetry" comes back with each value's source; without it, nothing is known. */
static void result_telemetry(void **state)
{
	char dir[] = "/tmp/test-job.XXXXXX", path[64];
	struct kts_build_job_result in = { .ok = false, .error = EPROTO }, out = { 0 };
	_cleanup_free_ char *t = NULL;

	(void) state;
	telemetry_init(&in.telemetry);
	in.telemetry.user_usec = (struct kts_tele_value){ 1520000, KTS_TELE_CGROUP };
	in.telemetry.memory_peak = (struct kts_tele_value){ 8 << 20, KTS_TELE_RUSAGE };
	in.telemetry.wall_seconds = 3.5;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/result.json", dir);
	assert_int_equal(job_result_write(&in, path), 0);
	assert_int_equal(job_result_read(path, &out, NULL), 0);
	assert_true(out.telemetry.user_usec.v == 1520000);
	assert_int_equal(out.telemetry.user_usec.from, KTS_TELE_CGROUP);
	assert_true(out.telemetry.memory_peak.v == 8 << 20);
	assert_int_equal(out.telemetry.memory_peak.from, KTS_TELE_RUSAGE);
	assert_int_equal(out.telemetry.cpu_usec.from, KTS_TELE_NONE);
	assert_true(out.telemetry.wall_seconds == 3.5);
	job_result_done(&out);
	(void) unlink(path);
	(void) rmdir(dir);

	/* A result file of a ktscope before telemetry: read, every value absent. */
	assert_true(asprintf(&t, "{%s}", GOOD_RESULT) > 0);
	assert_int_equal(job_result_parse(t, strlen(t), "R", &out, NULL), 0);
	assert_true(telemetry_empty(&out.telemetry));
	assert_true(out.telemetry.cpu_usec.v == TELEMETRY_ABSENT);
	job_result_done(&out);
	/* There, it is read as strictly as the rest. */
	free(t);
	assert_true(asprintf(&t, "{%s,\"telemetry\":null}", GOOD_RESULT) > 0);
	result_refused(t, "result file 'R': field 'telemetry': expected an object");
	free(t);
	assert_true(asprintf(&t, "{%s,\"telemetry\":{\"wall_seconds\":1,\"cpu_usec\":"
			     "{\"value\":1,\"source\":\"guess\"}}}", GOOD_RESULT) > 0);
	result_refused(t, "result file 'R': field 'telemetry.cpu_usec.source': expected cgroup, "
		       "manager or rusage");
}

/* The compile plan travels whole; the stats come back; no credentials, no unknown key. */
static void job_compile_plan(void **state)
{
	char dir[] = "/tmp/test-job.XXXXXX", path[64];
	struct kts_build_job in = sample, j = { 0 };
	struct kts_build_job_result res = { .ok = false, .error = EPROTO }, out = { 0 };
	_cleanup_free_ char *why = NULL, *t = NULL;

	(void) state;
	in.compile = (struct kts_compile_plan){
		.ccache = "/usr/bin/ccache", .ccache_version = "4.7.5", .ccache_dir = "/c/ccache",
		.ccache_dir_used = "/c/ccache", .ccache_remote_shown = "redis://127.0.0.1:6379",
		.engine = KTS_ENGINE_DISTCC, .engine_bin = "/usr/bin/distcc", .hosts = "h/4",
		.remote_jobs = 4,
	};
	in.compile_dir = "/w/compile";
	in.wrapper_dir = "/c/wrappers";
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/job.json", dir);
	assert_int_equal(job_write(&in, path), 0);
	assert_int_equal(job_read(path, &j, &why), 0);
	assert_string_equal(j.compile.ccache, "/usr/bin/ccache");
	assert_string_equal(j.compile.ccache_version, "4.7.5");
	assert_string_equal(j.compile.ccache_remote_shown, "redis://127.0.0.1:6379");
	assert_int_equal(j.compile.engine, KTS_ENGINE_DISTCC);
	assert_int_equal(j.compile.remote_jobs, 4);
	assert_null(j.compile.fallback);
	assert_string_equal(j.compile_dir, "/w/compile");
	assert_string_equal(j.wrapper_dir, "/c/wrappers");
	job_done(&j);

	res.compile_stats = (struct kts_compile_stats){ .present = true, .direct_hits = 7,
		.preprocessed_hits = 1, .misses = 2, .uncacheable = 3, .remote_hits = 4, .errors = 5 };
	snprintf(path, sizeof(path), "%s/result.json", dir);
	assert_int_equal(job_result_write(&res, path), 0);
	assert_int_equal(job_result_read(path, &out, NULL), 0);
	assert_true(out.compile_stats.present);
	assert_int_equal(out.compile_stats.direct_hits, 7);
	assert_int_equal(out.compile_stats.remote_hits, 4);
	assert_int_equal(out.compile_stats.errors, 5);
	job_result_done(&out);
	(void) unlink(path);
	snprintf(path, sizeof(path), "%s/job.json", dir);
	(void) unlink(path);
	(void) rmdir(dir);

#define PLAN "{\"ccache\":\"/c\",\"ccache_version\":\"4.7.5\",\"ccache_dir\":null,"           \
	"\"ccache_dir_used\":null,\"ccache_remote\":\"redis://h\",\"engine\":\"none\","         \
	"\"engine_bin\":null,\"hosts\":null,\"icecc_env\":null,\"remote_jobs\":0,"                \
	"\"fallback\":null}"
	assert_true(asprintf(&t, "{%s,\"jobs\":2}", GOOD_JOB) > 0);
	s_replace(&t, "\"compile\":null,\"compile_dir\":null,\"wrapper_dir\":null",
		  "\"compile\":" PLAN ",\"compile_dir\":\"/w\",\"wrapper_dir\":\"/x\"");
	assert_int_equal(job_parse(t, strlen(t), "J", &j, NULL), 0);
	job_done(&j);
	/* A credential in the URL: refused, whoever wrote it. */
	s_replace(&t, "redis://h", "redis://u:secret@h");
	refused(t, strlen(t), "field 'compile.ccache_remote'");
	s_replace(&t, "redis://u:secret@h", "redis://h");
	s_replace(&t, "\"fallback\":null", "\"fallback\":null,\"x\":1");
	refused(t, strlen(t), "field 'compile': unknown field 'x'");
	s_replace(&t, ",\"x\":1", "");
	s_replace(&t, "\"compile_dir\":\"/w\"", "\"compile_dir\":null");
	refused(t, strlen(t), "field 'compile_dir'");
	s_replace(&t, "\"compile_dir\":null", "\"compile_dir\":\"/w\"");
	s_replace(&t, "\"engine\":\"none\"", "\"engine\":\"sccache\"");
	refused(t, strlen(t), "field 'compile.engine'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(job_round_trip),
		cmocka_unit_test(job_strict),
		cmocka_unit_test(job_extra_names_count),
		cmocka_unit_test(job_unknown_key_printable),
		cmocka_unit_test(job_stamps),
		cmocka_unit_test(result_round_trip),
		cmocka_unit_test(result_telemetry),
		cmocka_unit_test(job_compile_plan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
