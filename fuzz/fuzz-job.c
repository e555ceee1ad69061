/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-job: the build job and result files, which cross from the parent to the in-scope
 * child and back through the work directory (a user, or a half-written file, can put
 * anything there), through job_parse() and job_result_parse(). Both read every input;
 * accepted documents must keep the promised bounds, refusals must say why.
 */
#include <errno.h>
#include <float.h>

#include "compile.h"
#include "fuzz.h"
#include "job.h"
#include "macro.h"

static void check_job(const uint8_t *data, size_t size)
{
	struct kts_build_job j = {};
	_cleanup_free_ char *why = NULL;
	int r = job_parse((const char *) data, size, "job.json", &j, &why);

	FUZZ_ASSERT(r == 0 || (r == -EBADMSG && fuzz_printable(why)));
	if (r < 0)
		return;
	FUZZ_ASSERT(!memchr(data, '\0', size));
	FUZZ_ASSERT(j.jobs >= 1 && j.jobs <= JOB_MAX_JOBS);
	FUZZ_ASSERT(j.src_dir && j.src_dir[0] == '/' && j.stage_dir && j.result_file);
	FUZZ_ASSERT(j.base && j.arch);
	FUZZ_ASSERT(j.n_extra == 0 || (j.extra && j.extra_names));
	for (size_t i = 0; i < j.n_extra; i++)
		FUZZ_ASSERT(j.extra[i] && j.extra_names[i]);
	for (size_t i = 0; i < j.n_make_vars; i++)
		FUZZ_ASSERT(j.make_vars[i] && strchr(j.make_vars[i], '='));
	FUZZ_ASSERT(!compile_plan_active(&j.compile) || (j.compile_dir && j.wrapper_dir));
	FUZZ_ASSERT(!j.compile.ccache == !j.compile.ccache_version);
	if (j.compile.ccache_remote_shown) {
		_cleanup_free_ char *shown = NULL;

		/* Stored without credentials: showing it again changes nothing. */
		FUZZ_ASSERT(compile_remote_check(j.compile.ccache_remote_shown, &shown) == 0);
		FUZZ_ASSERT(streq(shown, j.compile.ccache_remote_shown));
	}
	job_done(&j);
}

static void check_result(const uint8_t *data, size_t size)
{
	struct kts_build_job_result res = {};
	_cleanup_free_ char *why = NULL;
	int r = job_result_parse((const char *) data, size, "result.json", &res, &why);

	FUZZ_ASSERT(r == 0 || (r == -EBADMSG && fuzz_printable(why)));
	if (r < 0)
		return;
	FUZZ_ASSERT(!memchr(data, '\0', size));
	FUZZ_ASSERT(res.ok || res.error > 0);
	FUZZ_ASSERT(!res.ok || res.image);
	FUZZ_ASSERT(res.seconds >= 0 && res.make_seconds >= 0);
	FUZZ_ASSERT(res.compile_stats.direct_hits <= (uint64_t) INT64_MAX);
	/* telemetry: each value known with its source, or absent; a finite wall time */
	FUZZ_ASSERT(res.telemetry.wall_seconds >= 0 && res.telemetry.wall_seconds <= DBL_MAX);
	FUZZ_ASSERT((res.telemetry.cpu_usec.from == KTS_TELE_NONE) ==
		    (res.telemetry.cpu_usec.v == TELEMETRY_ABSENT));
	job_result_done(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_job(data, size);
	check_result(data, size);
	return 0;
}
