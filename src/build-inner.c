/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The in-scope half of a build, run by build.c as `/proc/self/exe __build-inner JOBFILE`
 * inside the transient scope: reads the job file the parent wrote (job.h), runs
 * pipeline_run() on the staged inputs, says a failure once on the build's own stderr,
 * and writes the result file the parent turns into metadata. It owns the exit status
 * of that child process (build-inner.h); every input was checked by the parent, so any
 * failure here is the build's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build-inner.h"
#include "cli.h"
#include "compile.h"
#include "engine.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "pipeline.h"
#include "progress.h"
#include "stamps.h"
#include "telemetry.h"

/* The pipeline's failure, said once (it runs in the scope, on the build's own stderr). */
static void inner_report(int r, const char *why, const char *stage_dir)
{
	_cleanup_free_ char *log_path = NULL;

	if (r == -EPROTO) {
		log_error("%s; last 40 lines of the log:", strempty(why));
		if (asprintf(&log_path, "%s/build.log", stage_dir) >= 0)
			pipeline_print_tail(log_path, 40);
	} else if (r == -ENOTSUP)
		log_error("the configuration lacks what ktscope kernels need: %s", strempty(why));
	else if (why)
		log_error("%s", why);
	else
		log_error_errno(r, "build failed: %m");
}

/* The job's inputs as pipeline_run()'s options (pointing into job). */
static struct kts_pipeline_opts inner_opts(const struct kts_build_job *job)
{
	return (struct kts_pipeline_opts){
		.src_dir = job->src_dir, .build_dir = job->build_dir, .base = job->base,
		.extra = (const char *const *) job->extra,
		.extra_names = (const char *const *) job->extra_names, .n_extra = job->n_extra,
		.arch = job->arch, .jobs = job->jobs, .stage_dir = job->stage_dir,
		.clean = job->clean, .compile_commands = job->compile_commands,
		.pahole_version = job->pahole_version, .count_file = job->count_file,
		.made_fifo = job->made_fifo,
		.make_vars = job->make_vars, .n_make_vars = job->n_make_vars,
		.plugins_refused_by = engine_plugins_refused_by(&job->compile),
		.headers = job->headers,
	};
}

static double seconds_between(const struct timespec *t0, const struct timespec *t1)
{
	return (double) (t1->tv_sec - t0->tv_sec) + (double) (t1->tv_nsec - t0->tv_nsec) / 1e9;
}

/* pipeline_run()'s outcome r and res as the result file's content; takes *why. */
static struct kts_build_job_result inner_result(int r, const struct kts_pipeline_result *res,
						char **why, double seconds)
{
	return (struct kts_build_job_result){
		.ok = r >= 0, .error = r < 0 ? -r : 0, .reason = TAKE_PTR(*why),
		.image_size = res->image_size, .vmlinux_size = res->vmlinux_size,
		.vmlinux_unstripped = res->vmlinux_unstripped, .configured = res->configured,
		.validated = r >= 0, .objects = res->objects, .n_dropped = res->n_dropped,
		.configure_seconds = res->configure_seconds, .make_seconds = res->make_seconds,
		.strip_seconds = res->strip_seconds, .seconds = seconds,
		.vmlinux_h_seconds = res->vmlinux_h_seconds,
		.capabilities_seconds = res->capabilities_seconds,
		.headers_seconds = res->headers_seconds,
		.compile_commands_seconds = res->compile_commands_seconds,
	};
}

/*
 * The compile plan applied (compile_setup()): the make variables that replace the user's,
 * in *po. Nothing when the job has no plan.
 */
static int inner_compile_setup(const struct kts_build_job *job, struct kts_pipeline_opts *po,
			       char ***ret_vars, size_t *ret_n)
{
	_cleanup_free_ char *why = NULL;
	int r;

	if (!compile_plan_active(&job->compile))
		return 0;
	r = compile_setup(&job->compile, job->compile_dir, job->wrapper_dir, job->src_dir,
			  job->build_dir ? job->build_dir : job->src_dir, job->make_vars,
			  job->n_make_vars, ret_vars, ret_n, &why);
	if (r < 0)
		return log_error("%s", why ? why : strerror(-r)), r;
	po->compile_vars = *ret_vars;
	po->n_compile_vars = *ret_n;
	return 0;
}

/* This build's ccache statistics, after make (whatever its outcome); a bad log warns. */
static void inner_compile_stats(const struct kts_build_job *job, struct kts_compile_stats *ret)
{
	int r;

	if (!job->compile.ccache)
		return;
	r = compile_stats_read(job->compile_dir, ret);
	if (r < 0)
		log_warning_errno(r, "cannot read ccache's statistics log in '%s': %m",
				  job->compile_dir);
}

/*
 * The build's numbers (telemetry.h), after its last step: the scope's cgroup, which is this
 * build's alone, unless KTSCOPE_SCOPE=none ran us in whatever cgroup we were started in
 * (the parent's environment is ours); getrusage() either way. The wall time since we
 * started is the pressure's denominator: the scope is as old as we are, give or take the
 * exec.
 */
static void inner_telemetry(const struct timespec *t_start, struct kts_telemetry *ret)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	telemetry_read_self(!getenv_nonempty("KTSCOPE_SCOPE"), seconds_between(t_start, &now), ret);
}

int build_inner_main(int argc, char **argv)
{
	struct kts_build_job job _cleanup_(job_done) = { 0 };
	struct kts_build_job_result out _cleanup_(job_result_done) = { 0 };
	struct kts_pipeline_result res = { 0 };
	struct kts_compile_stats stats = { 0 };
	_cleanup_free_ char *why = NULL;
	char **compile_vars = NULL;
	size_t n_compile_vars = 0;
	struct timespec t_start, t0, t1;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t_start);
	if (argc != 2) {
		log_error("__build-inner is internal to 'ktscope build'");
		return KTS_EXIT_USAGE;
	}
	r = job_read(argv[1], &job, &why);
	if (r < 0)
		return log_error("%s", strempty(why)), KTS_EXIT_USAGE;
	progress_set_events(job.json_events);
	progress_set_tty(job.progress);
	/* Every make run inherits them (make's own command line still beats them). */
	r = stamps_apply_env(job.stamps, job.src_dir);
	if (r < 0)
		return log_error_errno(r, "cannot set the build stamps: %m"), KTS_EXIT_FAILURE;
	struct kts_pipeline_opts po = inner_opts(&job);
	r = inner_compile_setup(&job, &po, &compile_vars, &n_compile_vars);
	if (r < 0)
		return KTS_EXIT_FAILURE;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = pipeline_run(&po, &res, &why);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	strv_free(compile_vars, n_compile_vars);
	inner_compile_stats(&job, &stats);
	out = inner_result(r, &res, &why, seconds_between(&t0, &t1));
	out.compile_stats = stats;
	inner_telemetry(&t_start, &out.telemetry);
	if (r >= 0) {
		memcpy(out.config_sha256, res.config_sha256, sizeof(out.config_sha256));
		if (asprintf(&out.image, "%s/%s", job.stage_dir, pipeline_image_name(job.arch)) < 0)
			return log_error("out of memory"), KTS_EXIT_FAILURE;
	} else
		inner_report(r, out.reason, job.stage_dir);
	if (r >= 0 && res.n_dropped)
		log_notice("%u requested kconfig line(s) did not survive; see kconfig-report.json",
			   res.n_dropped);
	r = job_result_write(&out, job.result_file);
	/*
	 * The parent reads the result file of a successful build only; after a failure (said
	 * above) a write that fails too (the same full disk) would only repeat it.
	 */
	if (r < 0 && !out.ok)
		log_debug_errno(r, "cannot write the result file '%s': %m", job.result_file);
	else if (r < 0)
		return log_error_errno(r, "cannot write the result file '%s': %m", job.result_file),
		       KTS_EXIT_FAILURE;
	return out.ok ? KTS_EXIT_OK : KTS_EXIT_FAILURE;
}
