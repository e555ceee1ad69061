/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The build steps that run inside the scope (DESIGN §5), one function per step in the
 * seed's order: step_clean → step_configure (with the provenance report and a first
 * validation) → step_make → step_compile_commands → step_validate → step_image →
 * step_strip, then the scheduler kit (DESIGN §5 "Scheduler kit"): step_vmlinux_h (the
 * stripped vmlinux's BTF as vmlinux.h) → step_capabilities (capabilities.json, with the
 * kfunc ID sets of the unstripped vmlinux, which only the build tree has) → step_headers
 * (--headers: make headers_install into the stage); pipeline_run() calls them in turn.
 * make runs without a shell, its output streamed into {stage}/build.log (a failed write
 * fails the build) while the progress line counts kbuild's object lines. The toolchain
 * fingerprint and the make variables are pipeline-toolchain.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "btf-header.h"
#include "cache.h"
#include "caps.h"
#include "hash.h"
#include "kconfig.h"
#include "log.h"
#include "macro.h"
#include "pipeline.h"
#include "progress.h"
#include "strip.h"
#include "testhook.h"
#include "util.h"

/* ---------------------------------------------------------------- files */

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t) st.st_size : 0;
}

int pipeline_log_tail(const char *path, unsigned n, char **ret)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	char **ring = NULL, *out = NULL;
	size_t cap = 0, count = 0, len = 0;
	int r = 0;

	if (n == 0)
		return -EINVAL;
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	ring = calloc(n, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	/* A ring of the last n lines: the log of a kernel build is too long to keep whole. */
	while (r == 0 && getline(&line, &cap, f) > 0) {
		free(ring[count % n]);
		ring[count % n] = strdup(line);
		if (!ring[count % n])
			r = -ENOMEM;
		count++;
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	for (size_t i = count > n ? count - n : 0; r == 0 && i < count; i++)
		len += strlen(ring[i % n]);
	if (r == 0 && !(out = malloc(len + 1)))
		r = -ENOMEM;
	if (r == 0) {
		len = 0;
		for (size_t i = count > n ? count - n : 0; i < count; i++) {
			size_t l = strlen(ring[i % n]);

			memcpy(out + len, ring[i % n], l);
			len += l;
		}
		out[len] = 0;
		*ret = out;
	}
	strv_free(ring, n);
	return r;
}

void pipeline_print_tail(const char *path, unsigned n)
{
	_cleanup_free_ char *tail = NULL;

	if (pipeline_log_tail(path, n, &tail) == 0)
		fputs(tail, stderr);
}

/* The object count of the previous build of this tree; 0 when unknown. */
static unsigned read_count(const char *path)
{
	_cleanup_free_ char *text = NULL;
	unsigned v = 0;

	if (!path || read_full_file(path, 64, &text, NULL) < 0 || sscanf(text, "%u", &v) != 1)
		return 0;
	return v;
}

/* Keeps v as the tree's object count for the next build's %; best effort. */
static void write_count(const char *path, unsigned v)
{
	char text[16];
	int n;

	if (!path || v == 0)
		return;
	n = snprintf(text, sizeof(text), "%u\n", v);
	if (write_file_atomic(path, text, (size_t) n, 0644) < 0)
		log_debug("cannot keep the object count in '%s'", path);
}

/* ---------------------------------------------------------------- the build's state */

/* What the steps share: the inputs, the paths, the open build log and the make counters. */
struct pipeline_ctx {
	const struct kts_pipeline_opts *o;
	struct kts_kconfig_merge merged; /* the embedded fragment and the extras */
	struct kts_kconfig final;        /* the .config as make left it */
	const char *image_name;          /* bzImage | Image */
	char *log_path;                  /* {stage}/build.log */
	char *config;                    /* {objdir}/.config */
	char *image_src, *image_dst;
	char *vmlinux_src, *vmlinux_dst;
	char *config_dst;
	char *vmlinux_h_dst, *caps_dst, *headers_dst; /* the kit's, in the stage */
	int log_fd;
	int log_error; /* the first failed write to build.log, or 0 */
	struct timespec start;
	unsigned objects;  /* kbuild lines of the current make run */
	unsigned expected; /* previous build's count, 0 = unknown */
	double last_event; /* elapsed time of the last progress event */
	pid_t gencc_pid;   /* the compile_commands.json generator while it runs, else 0 */
	struct timespec gencc_start;
	struct kts_pipeline_result res;
};

static void pipeline_ctx_done(struct pipeline_ctx *c)
{
	kconfig_merge_done(&c->merged);
	kconfig_done(&c->final);
	free(c->log_path);
	free(c->config);
	free(c->image_src);
	free(c->image_dst);
	free(c->vmlinux_src);
	free(c->vmlinux_dst);
	free(c->config_dst);
	free(c->vmlinux_h_dst);
	free(c->caps_dst);
	free(c->headers_dst);
	/* Waited for, not killed: a compile_commands.json cut short would look whole. */
	if (c->gencc_pid > 0)
		(void) spawn_wait(c->gencc_pid, NULL);
	c->log_fd = safe_close(c->log_fd);
}

static double elapsed_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double) (now.tv_sec - t->tv_sec) + (double) (now.tv_nsec - t->tv_nsec) / 1e9;
}

/* A "phase" event: {"phase":…,"state":…} and, when objects ≥ 0, "objects". */
static void phase_event(const char *phase, const char *state, long objects)
{
	struct json_object *f;

	if (!progress_events_enabled())
		return;
	f = json_object_new_object();
	if (!f)
		return;
	(void) json_object_object_add(f, "phase", progress_json_string(phase));
	(void) json_object_object_add(f, "state", json_object_new_string(state));
	if (objects >= 0)
		(void) json_object_object_add(f, "objects", json_object_new_int64(objects));
	progress_emit("phase", f);
}

/*
 * Appends to build.log. A log cut short would show the user a build that seems to stop
 * mid-way, so a failed write (a full disk) fails the build, naming the log.
 */
static int log_append(struct pipeline_ctx *c, const void *buf, size_t n, char **ret_why)
{
	int r = write_all(c->log_fd, buf, n);

	if (r < 0 && c->log_error == 0)
		c->log_error = r;
	if (r == -ENOSPC) {
		_cleanup_free_ char *mnt = NULL;
		uint64_t avail = 0;

		if (disk_space(c->log_path, &mnt, &avail) == 0)
			return why_set(ret_why, r, "cannot write the build log '%s': %s (the "
				       "filesystem mounted at '%s' has %.1f MiB free)", c->log_path,
				       strerror(-r), mnt, (double) avail / 1048576.0);
	}
	if (r < 0)
		return why_set(ret_why, r, "cannot write the build log '%s': %s", c->log_path,
			       strerror(-r));
	return 0;
}

/* ---------------------------------------------------------------- make */

/* "  CC      kernel/fork.o", "  LD [M]  ...": kbuild's quiet command lines. */
static bool is_object_line(const char *l)
{
	if (l[0] != ' ' || l[1] != ' ' || l[2] < 'A' || l[2] > 'Z')
		return false;
	for (l += 2; *l >= 'A' && *l <= 'Z'; l++)
		;
	return *l == ' ' || *l == '\t';
}

/* make's argv: -C src [O=dir] -jN, the user's variables, the targets. */
struct make_cmd {
	char **argv;
	char *jobs, *objdir;
};

static void make_cmd_done(struct make_cmd *m)
{
	free(m->argv);
	free(m->jobs);
	free(m->objdir);
}

/* Whether one of vars sets the variable that v (NAME=VALUE) sets. */
static bool replaced(const char *v, char *const *vars, size_t n)
{
	size_t len = strcspn(v, "=");

	for (size_t i = 0; i < n; i++)
		if (strncmp(vars[i], v, len) == 0 && vars[i][len] == '=')
			return true;
	return false;
}

static int make_cmd_build(const struct kts_pipeline_opts *o, const char *const *targets,
			  struct make_cmd *ret)
{
	size_t n_targets = 0, argc = 0;

	while (targets[n_targets])
		n_targets++;
	ret->argv = calloc(o->n_make_vars + o->n_compile_vars + n_targets + 6, sizeof(char *));
	if (!ret->argv || asprintf(&ret->jobs, "-j%u", o->jobs) < 0)
		return -ENOMEM;
	if (o->build_dir && asprintf(&ret->objdir, "O=%s", o->build_dir) < 0)
		return -ENOMEM;
	ret->argv[argc++] = (char *) "make";
	ret->argv[argc++] = (char *) "-C";
	ret->argv[argc++] = (char *) o->src_dir;
	if (ret->objdir)
		ret->argv[argc++] = ret->objdir;
	ret->argv[argc++] = ret->jobs;
	for (size_t i = 0; i < o->n_make_vars; i++)
		if (!replaced(o->make_vars[i], o->compile_vars, o->n_compile_vars))
			ret->argv[argc++] = o->make_vars[i];
	for (size_t i = 0; i < o->n_compile_vars; i++)
		ret->argv[argc++] = o->compile_vars[i];
	for (size_t i = 0; i < n_targets; i++)
		ret->argv[argc++] = (char *) targets[i];
	ret->argv[argc] = NULL;
	return 0;
}

/* The command line, as the log's section header: "### ktscope: make -C ...". */
static int make_log_header(struct pipeline_ctx *c, char *const *argv, char **ret_why)
{
	_cleanup_free_ char *header = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&header, &len);

	if (!f)
		return -ENOMEM;
	fputs("### ktscope:", f);
	for (size_t i = 0; argv[i]; i++)
		fprintf(f, " %s", argv[i]);
	fputc('\n', f);
	if (fclose(f) != 0)
		return -ENOMEM;
	return log_append(c, header, len, ret_why);
}

/*
 * A ktscope run from a make recipe must not hand that make's command-line variables,
 * flags and jobserver to the kernel build: what builds the kernel is what the cache key
 * covers (-jN and the variables after "--").
 */
static const char *const make_unset_env[] = { "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL",
					       NULL };

/* Starts make with stdout and stderr into one pipe; *ret_fd is the pipe's read end. */
static int make_spawn(char *const *argv, pid_t *ret_pid, int *ret_fd)
{
	const struct spawn_opts so = {
		.in = SPAWN_NULL,
		.out = SPAWN_PIPE,
		.err = SPAWN_STDOUT,
		.unset_env = make_unset_env,
	};

	return spawn_start(argv, &so, ret_pid, ret_fd, NULL);
}

/* A "progress" event: {"phase":…,"elapsed":12.3,"objects":N,"percent":P (-1: unknown)}. */
static void progress_tick_event(const char *phase, double elapsed, unsigned objects, int percent)
{
	struct json_object *f;
	char secs[32];

	if (!progress_events_enabled())
		return;
	f = json_object_new_object();
	if (!f)
		return;
	(void) snprintf(secs, sizeof(secs), "%.1f", elapsed);
	(void) json_object_object_add(f, "phase", progress_json_string(phase));
	(void) json_object_object_add(f, "elapsed", json_object_new_double_s(elapsed, secs));
	(void) json_object_object_add(f, "objects", json_object_new_int64(objects));
	(void) json_object_object_add(f, "percent", json_object_new_int(percent));
	progress_emit("progress", f);
}

/* One progress line per output chunk (the line rate-limits itself); an event every 2 s. */
static void make_progress(struct pipeline_ctx *c, const char *phase)
{
	double el = elapsed_since(&c->start);
	int pct = c->expected ? (int) MIN(99ULL, 100ULL * c->objects / c->expected) : -1;

	progress_line(phase, el, c->objects, pct);
	if (el - c->last_event >= 2.0) {
		c->last_event = el;
		progress_tick_event(phase, el, c->objects, pct);
	}
}

/*
 * Copies make's output to build.log as it comes (read(2), not stdio: the log and the
 * progress line follow make as it prints), counting kbuild's object lines. When the log
 * cannot be written, make is stopped (SIGTERM: make stops its jobs) and the output
 * drained, and the write's error is returned.
 */
static int make_stream(struct pipeline_ctx *c, const char *phase, pid_t pid, int fd,
		       char **ret_why)
{
	char buf[8192], line[4096];
	size_t linelen = 0;
	int r = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (r < 0)
			continue;
		r = log_append(c, buf, (size_t) n, ret_why);
		if (r < 0) {
			(void) kill(pid, SIGTERM);
			continue;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (linelen < sizeof(line) - 1)
					line[linelen++] = buf[i];
				continue;
			}
			line[linelen] = 0;
			linelen = 0;
			if (is_object_line(line))
				c->objects++;
		}
		make_progress(c, phase);
	}
	return r;
}

/* make's exit status as 0 or -EPROTO with the target and the status in *ret_why. */
static int make_status(struct pipeline_ctx *c, const char *phase, const char *target, int status,
		       char **ret_why)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		phase_event(phase, "end", c->objects);
		return 0;
	}
	phase_event(phase, "failed", -1);
	/* The caller shows the log's tail (pipeline_print_tail()); the log stays in the stage. */
	if (WIFSIGNALED(status))
		return why_set(ret_why, -EPROTO, "make %s was killed by signal %d", target,
			       WTERMSIG(status));
	return why_set(ret_why, -EPROTO, "make %s failed with exit status %d", target,
		       WEXITSTATUS(status));
}

/*
 * Runs make with targets, output appended to build.log; counts objects into c->objects
 * and draws the progress line. 0; -EPROTO with *ret_why when make fails; the log's
 * write error with *ret_why naming it.
 */
static int run_make(struct pipeline_ctx *c, const char *phase, const char *const *targets,
		    char **ret_why)
{
	_cleanup_(make_cmd_done) struct make_cmd cmd = { 0 };
	_cleanup_close_ int fd = -EBADF;
	pid_t pid;
	int r, k, status;

	r = make_cmd_build(c->o, targets, &cmd);
	if (r < 0)
		return r;
	r = make_log_header(c, cmd.argv, ret_why);
	if (r < 0)
		return r;
	phase_event(phase, "start", -1);
	log_debug("running make %s in '%s'", targets[0], c->o->src_dir);
	r = make_spawn(cmd.argv, &pid, &fd);
	if (r < 0)
		return why_set(ret_why, r, "cannot run 'make': %s", strerror(-r));
	r = make_stream(c, phase, pid, fd, ret_why);
	fd = safe_close(fd);
	progress_line_end();
	k = spawn_wait(pid, &status);
	if (r == 0)
		r = k;
	if (r < 0) {
		phase_event(phase, "failed", -1);
		return r;
	}
	return make_status(c, phase, targets[0], status, ret_why);
}

/* ---------------------------------------------------------------- steps */

static int path_in(const char *dir, const char *name, char **ret)
{
	return asprintf(ret, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

/* Appends text to path (the merged fragment onto .config). */
static int append_text(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	int r;

	if (fd < 0)
		return negative_errno();
	r = write_all(fd, "\n", 1);
	if (r < 0)
		return r;
	return write_all(fd, text, strlen(text));
}

/* The merged fragments, the paths every step uses, build.log opened, the build dir made. */
static int pipeline_prepare(struct pipeline_ctx *c, char **ret_why)
{
	const struct kts_pipeline_opts *o = c->o;
	const char *objdir = o->build_dir ? o->build_dir : o->src_dir;
	const char *image_rel = pipeline_image_relpath(o->arch);
	int r;

	c->image_name = pipeline_image_name(o->arch);
	if (!c->image_name)
		return why_set(ret_why, -EOPNOTSUPP,
			       "architecture '%s' is not supported (x86_64, aarch64)", o->arch);
	r = kconfig_merge_as(o->extra, o->extra_names ? o->extra_names : o->extra, o->n_extra,
			     &c->merged, ret_why);
	if (r < 0)
		return r;
	if (path_in(o->stage_dir, "build.log", &c->log_path) < 0 ||
	    path_in(objdir, ".config", &c->config) < 0 ||
	    path_in(objdir, image_rel, &c->image_src) < 0 ||
	    path_in(o->stage_dir, c->image_name, &c->image_dst) < 0 ||
	    path_in(objdir, "vmlinux", &c->vmlinux_src) < 0 ||
	    path_in(o->stage_dir, "vmlinux", &c->vmlinux_dst) < 0 ||
	    path_in(o->stage_dir, "config", &c->config_dst) < 0 ||
	    path_in(o->stage_dir, CACHE_FILE_VMLINUX_H, &c->vmlinux_h_dst) < 0 ||
	    path_in(o->stage_dir, CACHE_FILE_CAPABILITIES, &c->caps_dst) < 0 ||
	    path_in(o->stage_dir, CACHE_DIR_HEADERS, &c->headers_dst) < 0)
		return -ENOMEM;
	c->log_fd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (c->log_fd < 0) {
		r = negative_errno();
		return why_set(ret_why, r, "cannot create '%s': %s", c->log_path, strerror(-r));
	}
	if (o->build_dir) {
		r = mkdir_p(o->build_dir, 0755);
		if (r < 0)
			return why_set(ret_why, r, "cannot create build directory '%s': %s",
				       o->build_dir, strerror(-r));
	}
	c->expected = read_count(o->count_file);
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	return 0;
}

/* clean: make mrproper, when asked (local trees). */
static int step_clean(struct pipeline_ctx *c, char **ret_why)
{
	const char *const t[] = { "mrproper", NULL };

	if (!c->o->clean)
		return 0;
	return run_make(c, "clean", t, ret_why);
}

/* The base configuration: a make target (defconfig, tinyconfig, kvm_guest), or a file. */
static int configure_base(struct pipeline_ctx *c, char **ret_why)
{
	const struct kts_pipeline_opts *o = c->o;
	const char *const def[] = { "defconfig", NULL };
	const char *const kvm[] = { "defconfig", "kvm_guest.config", NULL };
	const char *const tiny[] = { "tinyconfig", NULL };
	int r;

	if (pipeline_base_is_target(o->base))
		return run_make(c, "configure",
				streq(o->base, "kvm_guest") ? kvm : streq(o->base, "tinyconfig") ? tiny : def,
				ret_why);
	r = copy_file(o->base, c->config);
	if (r < 0)
		return why_set(ret_why, r, "cannot copy base config '%s' to '%s': %s", o->base,
			       c->config, strerror(-r));
	return 0;
}

/*
 * configure: skipped when .config already has every merged line; else the base, the
 * embedded fragment and the extras (later lines winning), then olddefconfig.
 */
static int configure(struct pipeline_ctx *c, char **ret_why)
{
	const char *const old[] = { "olddefconfig", NULL };
	_cleanup_free_ char *text = NULL;
	int r;

	r = kconfig_config_satisfies(c->config, &c->merged.lines, ret_why);
	if (r < 0)
		return r;
	if (r > 0) {
		log_notice("configure: '%s' already has every requested line; not reconfiguring",
			   c->config);
		c->res.configured = false;
		return 0;
	}
	r = configure_base(c, ret_why);
	if (r < 0)
		return r;
	r = kconfig_format(&c->merged.lines, &text);
	if (r < 0)
		return r;
	r = append_text(c->config, text);
	if (r < 0)
		return why_set(ret_why, r, "cannot append to '%s': %s", c->config, strerror(-r));
	r = run_make(c, "configure", old, ret_why);
	if (r < 0)
		return r;
	c->res.configured = true;
	return 0;
}

/* Warns per override and per dropped line; writes kconfig-report.json into the stage. */
static int report_config(struct pipeline_ctx *c)
{
	_cleanup_(kconfig_report_donep) struct kts_kconfig_report rep = KTS_KCONFIG_REPORT_INIT;
	int r;

	for (size_t i = 0; i < c->merged.n_overrides; i++) {
		const struct kts_kconfig_override *ov = &c->merged.overrides[i];

		log_warning("'%s':%u overrides ktscope's %s=%s with %s", ov->source, ov->lineno,
			    ov->symbol, ov->old_value, ov->new_value);
	}
	r = kconfig_report_build(&c->merged.lines, &c->final, &rep);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rep.n; i++) {
		const struct kts_kconfig_outcome *l = &rep.lines[i];

		if (l->survived)
			continue;
		log_warning("%s=%s (from %s) did not survive olddefconfig: it is %s", l->symbol,
			    l->requested, l->source, l->final ? l->final : "absent");
	}
	c->res.n_dropped = (unsigned) rep.n_dropped;
	return kconfig_report_write(&rep, c->o->stage_dir);
}

/* (Re)reads .config into c->final and checks the symbols a ktscope kernel needs. */
static int validate_config(struct pipeline_ctx *c, char **ret_why)
{
	int r;

	kconfig_done(&c->final);
	r = kconfig_load(c->config, &c->final, ret_why);
	if (r < 0)
		return r;
	return kconfig_validate(&c->final, &c->merged, c->o->pahole_version, ret_why);
}

/*
 * configure, then the provenance report, then a first validation: a configuration that
 * lacks sched_ext fails in seconds, not after the whole make.
 */
static int step_configure(struct pipeline_ctx *c, char **ret_why)
{
	int r;

	r = testhook("configure");
	if (r < 0)
		return why_set(ret_why, r, "configure failed: %s", strerror(-r));
	r = configure(c, ret_why);
	if (r < 0)
		return r;
	r = kconfig_load(c->config, &c->final, ret_why);
	if (r < 0)
		return r;
	r = report_config(c);
	if (r < 0)
		return r;
	phase_event("validate", "start", -1);
	return kconfig_validate(&c->final, &c->merged, c->o->pahole_version, ret_why);
}

/* distccd refuses -fplugin: with GCC plugins on, those compiles come back to the scope. */
static void warn_gcc_plugins(const struct pipeline_ctx *c)
{
	const struct kts_kconfig_line *l = kconfig_get(&c->final, "CONFIG_GCC_PLUGINS");

	if (c->o->plugins_refused_by && l && streq(strempty(kconfig_line_value(l)), "y"))
		log_warning("CONFIG_GCC_PLUGINS=y: %s refuses -fplugin, so the compiles that load "
			    "a GCC plugin run locally, in the scope", c->o->plugins_refused_by);
}

/* make: make -jN {image} vmlinux; the object count is kept for the next build's %. */
static int step_make(struct pipeline_ctx *c, char **ret_why)
{
	const char *const t[] = { c->image_name, "vmlinux", NULL };
	int r;

	warn_gcc_plugins(c);
	r = testhook("make");
	if (r < 0)
		return why_set(ret_why, r, "make failed: %s", strerror(-r));
	c->objects = 0;
	r = run_make(c, "make", t, ret_why);
	if (r < 0)
		return r;
	c->res.objects = c->objects;
	/* A no-op rebuild counts nothing; keep the last real count for the %. */
	if (c->objects > 0)
		write_count(c->o->count_file, c->objects);
	/* Make is done: the parent's re-check may start (build-recheck.c). Without a reader
	 * nothing is lost: the parent re-checks after the scope then. */
	if (c->o->made_fifo && (r = fifo_poke(c->o->made_fifo)) < 0)
		log_debug_errno(r, "cannot tell '%s' that make is done: %m", c->o->made_fifo);
	return 0;
}

/* Runs one step and keeps its wall time in *ret_seconds (a phase time of the result). */
static int step_timed(struct pipeline_ctx *c, int (*step)(struct pipeline_ctx *, char **),
		      double *ret_seconds, char **ret_why)
{
	struct timespec start;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	r = step(c, ret_why);
	if (r >= 0)
		*ret_seconds = elapsed_since(&start);
	return r;
}

/* make compile_commands.json, where only make does what it does; a failure only warns. */
static int compile_commands_make(struct pipeline_ctx *c, char **ret_why)
{
	const char *const t[] = { "compile_commands.json", NULL };
	_cleanup_free_ char *why = NULL;
	int r;

	r = run_make(c, "compile_commands", t, &why);
	if (r < 0 && c->log_error < 0) {
		/* Not a make failure: the build log is cut short, and the build fails. */
		if (ret_why)
			*ret_why = TAKE_PTR(why);
		return r;
	}
	if (r < 0)
		log_warning("compile_commands.json was not written: %s (see '%s')",
			    why ? why : strerror(-r), c->log_path);
	return 0;
}

/* Starts the kernel's generator; its output (it has none unless it fails) into build.log. */
static int gencc_start(struct pipeline_ctx *c, char *const *argv, char **ret_why)
{
	int r;

	r = make_log_header(c, argv, ret_why);
	if (r < 0)
		return r;
	phase_event("compile_commands", "start", -1);
	clock_gettime(CLOCK_MONOTONIC, &c->gencc_start);
	r = pipeline_gencc_start(c->o, argv, c->log_fd, &c->gencc_pid);
	if (r < 0) {
		phase_event("compile_commands", "failed", -1);
		log_warning("compile_commands.json was not written: cannot run '%s': %s", argv[0],
			    strerror(-r));
	}
	return 0;
}

/* Reaps the generator (waiting when block): its time to when it was seen to end. */
static void gencc_reap(struct pipeline_ctx *c, bool block)
{
	_cleanup_free_ char *why = NULL;
	int r;

	if (c->gencc_pid <= 0)
		return;
	r = pipeline_gencc_wait(&c->gencc_pid, block, &why);
	if (r == 0)
		return;
	c->res.compile_commands_seconds = elapsed_since(&c->gencc_start);
	phase_event("compile_commands", r < 0 ? "failed" : "end", -1);
	if (r < 0)
		log_warning("compile_commands.json was not written: %s (see '%s')",
			    why ? why : strerror(-r), c->log_path);
}

/*
 * compile_commands (local trees): the kernel's own generator, started here and joined
 * after the kit (it reads only what make left: archives and .cmd files), instead of a
 * second make over the whole tree; make compile_commands.json in turn where only make does
 * the same (pipeline_gencc_argv()). A failure only warns.
 */
static int step_compile_commands(struct pipeline_ctx *c, char **ret_why)
{
	char **argv = NULL;
	size_t n = 0;
	int r;

	if (!c->o->compile_commands)
		return 0;
	r = pipeline_gencc_argv(c->o, &argv, &n);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return step_timed(c, compile_commands_make, &c->res.compile_commands_seconds,
				  ret_why);
	r = gencc_start(c, argv, ret_why);
	strv_free(argv, n);
	return r;
}

/* validate: make's syncconfig may have changed .config (another compiler, pahole). */
static int step_validate(struct pipeline_ctx *c, char **ret_why)
{
	return validate_config(c, ret_why);
}

/*
 * The stage's filesystem (the cache's) cannot take what, of need bytes ("up to" when
 * need is a bound; 0: not known in advance, left out): -ENOSPC with one line naming the
 * filesystem's mount point, the space needed and the space free. partial (may be NULL),
 * a file cut short, goes first, so the rest of the build (its result file) still has room
 * and no half file is left.
 */
static int no_space(const struct pipeline_ctx *c, const char *partial, const char *what,
		    bool bound, uint64_t need, char **ret_why)
{
	_cleanup_free_ char *mnt = NULL;
	uint64_t avail = 0;

	if (partial)
		(void) unlink(partial);
	if (need == 0 && disk_space(c->o->stage_dir, &mnt, &avail) < 0)
		return why_set(ret_why, -ENOSPC, "not enough space for the cache entry in '%s' "
			       "(%s)", c->o->stage_dir, what);
	if (need == 0)
		return why_set(ret_why, -ENOSPC, "not enough space for the cache entry on the "
			       "filesystem mounted at '%s' (%s): %.1f MiB free", mnt, what,
			       (double) avail / 1048576.0);
	if (disk_space(c->o->stage_dir, &mnt, &avail) < 0)
		return why_set(ret_why, -ENOSPC, "not enough space for the cache entry in '%s' "
			       "(%s): %s%.1f MiB needed", c->o->stage_dir, what,
			       bound ? "up to " : "", (double) need / 1048576.0);
	return why_set(ret_why, -ENOSPC, "not enough space for the cache entry on the filesystem "
		       "mounted at '%s' (%s): %s%.1f MiB needed, %.1f MiB free", mnt, what,
		       bound ? "up to " : "", (double) need / 1048576.0,
		       (double) avail / 1048576.0);
}

/*
 * image: the image and the final config copied into the stage, the config hashed. When
 * they do not fit in the space left, nothing is written: the message says what is needed.
 */
static int step_image(struct pipeline_ctx *c, char **ret_why)
{
	uint64_t need, avail;
	int r;

	phase_event("store", "start", -1);
	if (access(c->image_src, F_OK) < 0)
		return why_set(ret_why, -ENOENT, "make did not produce '%s'", c->image_src);
	need = file_size(c->image_src) + file_size(c->config);
	if (disk_space(c->o->stage_dir, NULL, &avail) == 0 && avail < need)
		return no_space(c, NULL, "the image and its config", false, need, ret_why);
	r = copy_file(c->image_src, c->image_dst);
	if (r == -ENOSPC)
		return no_space(c, c->image_dst, "the image", false, file_size(c->image_src),
				ret_why);
	if (r < 0)
		return why_set(ret_why, r, "cannot copy '%s' to '%s': %s", c->image_src, c->image_dst,
			       strerror(-r));
	c->res.image_size = file_size(c->image_dst);
	r = copy_file(c->config, c->config_dst);
	if (r == -ENOSPC)
		return no_space(c, c->config_dst, "the config", false, file_size(c->config),
				ret_why);
	if (r < 0)
		return why_set(ret_why, r, "cannot copy '%s': %s", c->config, strerror(-r));
	return hash_sha256_file(c->config_dst, c->res.config_sha256);
}

/* strip: vmlinux into the stage without code, data and debug info (strip.h). */
static int step_strip(struct pipeline_ctx *c, char **ret_why)
{
	_cleanup_free_ char *why = NULL;
	int r;

	r = testhook("strip");
	if (r < 0)
		return why_set(ret_why, r, "cannot strip '%s': %s", c->vmlinux_src, strerror(-r));
	r = strip_vmlinux_full(c->vmlinux_src, c->vmlinux_dst, &c->res.vmlinux_unstripped,
			       &c->res.vmlinux_size, &why);
	/* The stripped size is not known before it is written: the unstripped one bounds it. */
	if (r == -ENOSPC)
		return no_space(c, c->vmlinux_dst, "the stripped vmlinux", true,
				file_size(c->vmlinux_src), ret_why);
	if (r < 0)
		return why_set(ret_why, r, "cannot strip '%s': %s", c->vmlinux_src,
			       why ? why : strerror(-r));
	log_notice("vmlinux stripped for the cache: %.1f MiB → %.1f MiB",
		   (double) c->res.vmlinux_unstripped / 1048576.0,
		   (double) c->res.vmlinux_size / 1048576.0);
	return 0;
}

/* vmlinux_h: the header a BPF scheduler compiles against, from the stage vmlinux's .BTF. */
static int step_vmlinux_h(struct pipeline_ctx *c, char **ret_why)
{
	_cleanup_free_ char *why = NULL;
	int r;

	phase_event("vmlinux_h", "start", -1);
	r = testhook("vmlinux-h");
	if (r >= 0)
		r = btf_header_write(c->vmlinux_dst, c->vmlinux_h_dst, &why);
	phase_event("vmlinux_h", r < 0 ? "failed" : "end", -1);
	if (r == -ENOSPC)
		return no_space(c, NULL, CACHE_FILE_VMLINUX_H, false, 0, ret_why);
	/* The strip keeps .BTF: a stage vmlinux without one comes from a tree without one. */
	if (r == -ENODATA)
		return why_set(ret_why, r, "'%s' has no .BTF section, which a ktscope kernel needs "
			       "(CONFIG_DEBUG_INFO_BTF, from pahole): cannot write vmlinux.h",
			       c->vmlinux_src);
	if (r < 0)
		return why_set(ret_why, r, "cannot write vmlinux.h: %s", why ? why : strerror(-r));
	return 0;
}

/*
 * capabilities: the sched_ext manifest (caps.h) from the stage vmlinux's BTF, the kfunc ID
 * sets of the build tree's unstripped vmlinux (the strip drops .BTF_ids) and the config.
 */
static int step_capabilities(struct pipeline_ctx *c, char **ret_why)
{
	_cleanup_(caps_done) struct kts_caps caps = { 0 };
	_cleanup_free_ char *why = NULL;
	int r;

	phase_event("capabilities", "start", -1);
	r = testhook("capabilities");
	if (r >= 0)
		r = caps_from_vmlinux(c->vmlinux_dst, c->vmlinux_src, c->config_dst, &caps, &why);
	if (r < 0) {
		phase_event("capabilities", "failed", -1);
		return why_set(ret_why, r, "cannot write capabilities.json: %s",
			       why ? why : strerror(-r));
	}
	r = caps_write(&caps, c->caps_dst);
	phase_event("capabilities", r < 0 ? "failed" : "end", -1);
	if (r == -ENOSPC)
		return no_space(c, NULL, CACHE_FILE_CAPABILITIES, false, 0, ret_why);
	if (r < 0)
		return why_set(ret_why, r, "cannot write '%s': %s", c->caps_dst, strerror(-r));
	log_notice("capabilities: %s, %zu sched_ext_ops members, %zu scx_bpf_* kfuncs (from %s)",
		   caps.release ? caps.release : "release unknown", caps.n_ops, caps.n_kfuncs,
		   caps_kfuncs_from_name(caps.kfuncs_from));
	return 0;
}

/* headers: make headers_install into {stage}/headers (--headers), logged like every make. */
static int step_headers(struct pipeline_ctx *c, char **ret_why)
{
	_cleanup_free_ char *var = NULL;

	if (asprintf(&var, "INSTALL_HDR_PATH=%s", c->headers_dst) < 0)
		return -ENOMEM;
	/* After the user's variables on make's command line: this one wins. */
	const char *const t[] = { "headers_install", var, NULL };

	return run_make(c, "headers", t, ret_why);
}

int pipeline_run(const struct kts_pipeline_opts *o, struct kts_pipeline_result *ret, char **ret_why)
{
	_cleanup_(pipeline_ctx_done) struct pipeline_ctx c = {
		.o = o,
		.merged = KTS_KCONFIG_MERGE_INIT,
		.final = KTS_KCONFIG_INIT,
		.log_fd = -EBADF,
	};
	int r;

	r = pipeline_prepare(&c, ret_why);
	if (r < 0)
		return r;
	/* The in-scope steps, in the seed's order (DESIGN §5). */
	r = step_clean(&c, ret_why);
	if (r < 0)
		return r;
	r = step_timed(&c, step_configure, &c.res.configure_seconds, ret_why);
	if (r < 0)
		return r;
	r = step_timed(&c, step_make, &c.res.make_seconds, ret_why);
	if (r < 0)
		return r;
	r = step_compile_commands(&c, ret_why);
	if (r < 0)
		return r;
	r = step_validate(&c, ret_why);
	if (r < 0)
		return r;
	r = step_image(&c, ret_why);
	if (r < 0)
		return r;
	r = step_timed(&c, step_strip, &c.res.strip_seconds, ret_why);
	if (r < 0)
		return r;
	gencc_reap(&c, false);
	/* The scheduler kit: vmlinux.h, capabilities.json, [headers/]. */
	r = step_timed(&c, step_vmlinux_h, &c.res.vmlinux_h_seconds, ret_why);
	if (r < 0)
		return r;
	gencc_reap(&c, false);
	r = step_timed(&c, step_capabilities, &c.res.capabilities_seconds, ret_why);
	if (r < 0)
		return r;
	/* compile_commands.json is whole before the result (and make headers_install). */
	gencc_reap(&c, true);
	if (o->headers) {
		r = step_timed(&c, step_headers, &c.res.headers_seconds, ret_why);
		if (r < 0)
			return r;
	}
	*ret = c.res;
	return 0;
}
