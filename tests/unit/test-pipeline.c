/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for pipeline.c: the make variables of `ktscope build ... -- NAME=VALUE`
 * (what is accepted and refused, the canonical form the cache key hashes, which compiler
 * and linker the variables make the key fingerprint), the toolchain probe, and the
 * in-scope steps run for real on a copy of the fake kernel tree (tests/data/fake-kernel):
 * artifacts, config, build.log, compile_commands.json, a failing make, a build log that
 * cannot be written. The whole command, scope and cache included, is
 * tests/integration/build.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "caps.h"
#include "macro.h"
#include "pipeline.h"
#include "progress.h"
#include "test-skip.h"
#include "util.h"

static void strv_free_n(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Parses args; on success returns the canonical list joined by spaces. */
static char *canonical(size_t n, ...)
{
	char *args[16], **v = NULL, *why = NULL, *out = NULL;
	size_t k = 0, len = 0;
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		args[i] = va_arg(ap, char *);
	va_end(ap);
	if (pipeline_make_vars(args, n, &v, &k, &why) < 0)
		fail_msg("pipeline_make_vars: %s", why ? why : "?");
	assert_null(v[k]); /* NULL-terminated */
	for (size_t i = 0; i < k; i++)
		len += strlen(v[i]) + 1;
	out = calloc(len + 1, 1);
	assert_non_null(out);
	for (size_t i = 0; i < k; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, v[i]);
	}
	strv_free_n(v, k);
	return out;
}

static void test_canonical_form(void **state)
{
	char *s;

	(void) state;
	s = canonical(0);
	assert_string_equal(s, "");
	free(s);
	/* Sorted by name, whatever the order given. */
	s = canonical(3, "LLVM=1", "KCFLAGS=-O1", "CC=clang");
	assert_string_equal(s, "CC=clang KCFLAGS=-O1 LLVM=1");
	free(s);
	/* One value per name: the last one, as on make's command line. */
	s = canonical(4, "W=1", "KCFLAGS=-O2", "W=2", "KCFLAGS=-O1");
	assert_string_equal(s, "KCFLAGS=-O1 W=2");
	free(s);
	/* A name that is a prefix of another is another name; empty values are values. */
	s = canonical(3, "CC_X=1", "CC=", "C=2");
	assert_string_equal(s, "C=2 CC= CC_X=1");
	free(s);
	/* Values keep their spaces and '=' signs. */
	s = canonical(1, "KCFLAGS=-DA=1 -O1");
	assert_string_equal(s, "KCFLAGS=-DA=1 -O1");
	free(s);
}

static void expect_refused(const char *arg, int err, const char *in_why)
{
	char *args[1] = { (char *) arg }, **v = NULL, *why = NULL;
	size_t k = 0;

	assert_int_equal(pipeline_make_vars(args, 1, &v, &k, &why), err);
	assert_null(v);
	assert_non_null(why);
	if (!strstr(why, in_why))
		fail_msg("'%s': message '%s' lacks '%s'", arg, why, in_why);
	free(why);
}

static void test_refused(void **state)
{
	(void) state;
	expect_refused("-j4", -EINVAL, "'-j4'");
	expect_refused("vmlinux", -EINVAL, "'vmlinux'");
	expect_refused("=1", -EINVAL, "'=1'");
	expect_refused("1X=1", -EINVAL, "'1X=1'");
	expect_refused("A-B=1", -EINVAL, "'A-B=1'");
	expect_refused("KCFLAGS=a\nb", -EINVAL, "newline");
	expect_refused("O=/tmp/x", -EPERM, "--build-dir");
	expect_refused("ARCH=arm64", -EPERM, "this machine");
	expect_refused("SRCARCH=arm", -EPERM, "this machine");
	expect_refused("CROSS_COMPILE=aarch64-linux-gnu-", -EPERM, "this machine");
	expect_refused("KCONFIG_CONFIG=my.config", -EPERM, ".config");
}

/* The first bad argument fails the whole list, and nothing leaks (ASan run). */
static void test_refused_in_a_list(void **state)
{
	char *args[] = { "LLVM=1", "W=1", "O=x", "KCFLAGS=-O1" }, **v = NULL, *why = NULL;
	size_t k = 0;

	(void) state;
	assert_int_equal(pipeline_make_vars(args, 4, &v, &k, &why), -EPERM);
	assert_non_null(strstr(why, "'O=x'"));
	free(why);
}

static void expect_from(const char *got, const char *want)
{
	if (want)
		assert_string_equal(got, want);
	else
		assert_null(got);
}

static void expect_tools(size_t n, char **vars, const char *cc, const char *ld,
			 const char *cc_from, const char *ld_from)
{
	char *c = NULL, *l = NULL;
	const char *cf = "unset", *lf = "unset";

	assert_int_equal(pipeline_make_tools(vars, n, &c, &l, &cf, &lf), 0);
	assert_string_equal(c, cc);
	assert_string_equal(l, ld);
	expect_from(cf, cc_from);
	expect_from(lf, ld_from);
	free(c);
	free(l);
}

static void test_tools(void **state)
{
	char *none[] = { "KCFLAGS=-O1" };
	char *llvm[] = { "LLVM=1" };
	char *llvm_ver[] = { "LLVM=-16" };
	char *llvm_dir[] = { "LLVM=/opt/llvm/bin/" };
	char *cc_and_llvm[] = { "CC=gcc-12", "LLVM=1" };
	char *ld_only[] = { "LD=ld.gold" };
	char *empty_llvm[] = { "LLVM=" };
	char *cmd[] = { "CC=ccache gcc" };

	(void) state;
	expect_tools(0, NULL, "cc", "ld", NULL, NULL);
	expect_tools(1, none, "cc", "ld", NULL, NULL);
	expect_tools(1, llvm, "clang", "ld.lld", "LLVM", "LLVM");
	expect_tools(1, llvm_ver, "clang-16", "ld.lld-16", "LLVM", "LLVM");
	expect_tools(1, llvm_dir, "/opt/llvm/bin/clang", "/opt/llvm/bin/ld.lld", "LLVM", "LLVM");
	/* CC= beats LLVM for the compiler; the linker still follows LLVM. */
	expect_tools(2, cc_and_llvm, "gcc-12", "ld.lld", "CC", "LLVM");
	expect_tools(1, ld_only, "cc", "ld.gold", NULL, "LD");
	/* An empty LLVM= is no LLVM, as in the kernel's Makefile. */
	expect_tools(1, empty_llvm, "cc", "ld", NULL, NULL);
	expect_tools(1, cmd, "ccache gcc", "ld", "CC", NULL);
}

/* The fingerprint probes the tools named: a missing one is NULL, the others are there. */
static void test_toolchain_probes_named_tools(void **state)
{
	struct kts_toolchain tc = { 0 };

	(void) state;
	assert_int_equal(pipeline_toolchain(NULL, "no-such-compiler-kts", "ld", &tc), 0);
	assert_null(tc.cc);
	assert_non_null(tc.make);
	pipeline_toolchain_done(&tc);
	assert_int_equal(pipeline_toolchain(NULL, "sh -c 'echo fake-cc 1.0' --", "ld", &tc), 0);
	assert_non_null(tc.cc);
	assert_string_equal(tc.cc, "fake-cc 1.0");
	pipeline_toolchain_done(&tc);
}

/* A tool whose path holds a single quote is probed, not handed to a shell to misparse. */
static void test_toolchain_path_with_quote(void **state)
{
	char dir[] = "/tmp/kts-it's.XXXXXX";
	_cleanup_free_ char *cc = NULL;
	struct kts_toolchain tc = { 0 };
	FILE *f;

	(void) state;
	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&cc, "%s/cc", dir) > 0);
	f = fopen(cc, "we");
	assert_non_null(f);
	fputs("#!/bin/sh\necho \"fake-cc 2.0 ($1)\"\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(cc, 0755), 0);
	assert_int_equal(pipeline_toolchain(NULL, cc, "ld", &tc), 0);
	(void) unlink(cc);
	(void) rmdir(dir);
	assert_non_null(tc.cc);
	assert_string_equal(tc.cc, "fake-cc 2.0 (--version)");
	pipeline_toolchain_done(&tc);
}

/* ---------------------------------------------------------------- the fake kernel tree */

/* A temporary directory holding src/ (a copy of the fake tree) and stage/. */
struct fake {
	char dir[64];
	char *src, *stage, *count, *log;
	struct kts_pipeline_opts o;
	const char *vars[8];
};

static int fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	_cleanup_free_ char *cmd = NULL;

	if (!f)
		return -1;
	(void) unsetenv("FAKE_KERNEL_FAIL");
	(void) unsetenv("FAKE_KERNEL_OBJECTS");
	(void) unsetenv("FAKE_KERNEL_SLEEP");
	(void) unsetenv("FAKE_KERNEL_NOISE");
	(void) unsetenv("FAKE_GEN_FAIL");
	(void) unsetenv("FAKE_GEN_SLEEP");
	(void) unsetenv("MAKEFLAGS");
	strcpy(f->dir, "/tmp/kts-pipeline.XXXXXX");
	if (!mkdtemp(f->dir) || asprintf(&f->src, "%s/src", f->dir) < 0 ||
	    asprintf(&f->stage, "%s/stage", f->dir) < 0 || asprintf(&f->count, "%s/count", f->dir) < 0 ||
	    asprintf(&f->log, "%s/build.log", f->stage) < 0 ||
	    asprintf(&cmd, "cp -r '%s/fake-kernel' '%s' && chmod -R u+w '%s'", KTS_TEST_DATADIR,
		     f->src, f->src) < 0 ||
	    system(cmd) != 0 || mkdir(f->stage, 0755) < 0)
		return -1;
	f->o = (struct kts_pipeline_opts){
		.src_dir = f->src,
		.base = "defconfig",
		.arch = pipeline_host_arch(),
		.jobs = 2,
		.stage_dir = f->stage,
		.compile_commands = true,
		.count_file = f->count,
		.make_vars = (char *const *) f->vars,
	};
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;
	_cleanup_free_ char *cmd = NULL;

	if (asprintf(&cmd, "rm -rf '%s'", f->dir) > 0)
		(void) !system(cmd);
	free(f->src);
	free(f->stage);
	free(f->count);
	free(f->log);
	free(f);
	return 0;
}

static void fake_var(struct fake *f, const char *var)
{
	f->vars[f->o.n_make_vars++] = var;
}

static char *slurp(const char *dir, const char *name)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char *buf = NULL;
	size_t n = 0;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	f = fopen(p, "re");
	if (!f)
		fail_msg("cannot open '%s': %m", p);
	assert_true(getdelim(&buf, &n, 0, f) >= 0);
	return buf;
}

static off_t size_of(const char *dir, const char *name)
{
	_cleanup_free_ char *p = NULL;
	struct stat st;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	if (stat(p, &st) < 0)
		fail_msg("'%s' is missing: %m", p);
	return st.st_size;
}

static void expect_in(const char *text, const char *what, const char *where)
{
	if (!strstr(text, what))
		fail_msg("%s lacks '%s': '%s'", where, what, text);
}

static void skip_unless_supported_arch(void)
{
	test_need(pipeline_image_name(pipeline_host_arch()), "a host architecture ktscope builds for");
}

/* The name of each string of v, joined by ' '. */
static void join(char *const *v, size_t n, char *buf, size_t size)
{
	buf[0] = 0;
	for (size_t i = 0; i < n; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? " " : "", v[i]);
}

/*
 * The scheduler kit of a fake build (fake.btf): vmlinux.h as bpftool writes it, the
 * manifest with the fake's ops, its kfuncs from the .BTF_ids set of the build tree's
 * vmlinux (the stage's is stripped of it), the release from linux_banner; no headers/.
 */
static void expect_kit(struct fake *f, const struct kts_pipeline_result *res)
{
	_cleanup_(caps_done) struct kts_caps caps = { 0 };
	_cleanup_free_ char *h = slurp(f->stage, "vmlinux.h"), *path = NULL, *why = NULL;
	char buf[256];

	assert_true(strncmp(h, "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n", 40) == 0);
	expect_in(h, "struct sched_ext_ops {\n", "vmlinux.h");
	expect_in(h, "\tvoid (*enqueue)(struct task_struct *p, u64 enq_flags);\n", "vmlinux.h");
	expect_in(h, "#endif /* __VMLINUX_H__ */\n", "vmlinux.h");
	assert_true(asprintf(&path, "%s/capabilities.json", f->stage) > 0);
	if (caps_read(path, &caps, &why) < 0)
		fail_msg("caps_read: %s", strempty(why));
	assert_string_equal(caps.release, "0.0.0-fake");
	assert_true(caps.sched_ext);
	join(caps.ops, caps.n_ops, buf, sizeof(buf));
	assert_string_equal(buf, "select_cpu enqueue dispatch init exit name");
	join(caps.kfuncs, caps.n_kfuncs, buf, sizeof(buf));
	assert_string_equal(buf, "scx_bpf_consume scx_bpf_dispatch");
	assert_int_equal(caps.kfuncs_from, KTS_CAPS_KFUNCS_BTF_IDS);
	assert_true(res->vmlinux_h_seconds > 0 && res->capabilities_seconds > 0);
	assert_true(res->headers_seconds == 0);
	free(path);
	assert_true(asprintf(&path, "%s/headers", f->stage) > 0);
	assert_int_equal(access(path, F_OK), -1);
}

/*
 * Every step on the fake tree: image and stripped vmlinux in the stage, the config with
 * the base's, the embedded fragment's and an extra fragment's lines, the kconfig report,
 * build.log with each make run's command line and output, compile_commands.json, the
 * object count kept for the next build's %.
 */
static void test_fake_tree_builds(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL, *extra = NULL, *config = NULL, *log = NULL, *count = NULL;
	const char *extras[1];
	const char *image = pipeline_image_name(pipeline_host_arch());
	FILE *x;

	skip_unless_supported_arch();
	assert_true(asprintf(&extra, "%s/extra.config", f->dir) > 0);
	x = fopen(extra, "we");
	assert_non_null(x);
	fputs("CONFIG_FAKE_EXTRA=y\nCONFIG_FAKE_UNSUPPORTED=y\n", x);
	assert_int_equal(fclose(x), 0);
	extras[0] = extra;
	f->o.extra = extras;
	f->o.n_extra = 1;
	fake_var(f, "KTS_TEST_VAR=1");

	if (pipeline_run(&f->o, &res, &why) < 0)
		fail_msg("pipeline_run: %s", strempty(why));
	assert_true(res.configured);
	/* kbuild-style lines: 8 × "CC", then "LD vmlinux" and "BUILD arch/.../bzImage". */
	assert_int_equal(res.objects, 10);
	assert_int_equal(res.n_dropped, 1); /* CONFIG_FAKE_UNSUPPORTED: olddefconfig drops it */
	assert_int_equal((off_t) res.image_size, size_of(f->stage, image));
	assert_int_equal((off_t) res.vmlinux_size, size_of(f->stage, "vmlinux"));
	assert_true(res.vmlinux_size > 0 && res.vmlinux_size <= res.vmlinux_unstripped);
	assert_int_equal(strlen(res.config_sha256), 64);
	/* Phase times: make and configure ran processes; strip took a measurable instant. */
	assert_true(res.configure_seconds > 0 && res.make_seconds > 0 && res.strip_seconds >= 0);
	assert_true(res.make_seconds < 600);

	config = slurp(f->stage, "config");
	expect_in(config, "CONFIG_FAKE_BASE=y\n", "the config (base)");
	expect_in(config, "CONFIG_SCHED_CLASS_EXT=y\n", "the config (embedded fragment)");
	expect_in(config, "CONFIG_FAKE_EXTRA=y\n", "the config (extra fragment)");
	assert_null(strstr(config, "CONFIG_FAKE_UNSUPPORTED"));
	(void) size_of(f->stage, "kconfig-report.json");
	(void) size_of(f->src, "compile_commands.json");

	log = slurp(f->stage, "build.log");
	expect_in(log, "### ktscope: make -C ", "build.log");
	expect_in(log, " KTS_TEST_VAR=1 defconfig\n", "build.log (configure's command line)");
	expect_in(log, "GEN     .config (olddefconfig)", "build.log");
	expect_in(log, "  CC      fake/obj8.o\n", "build.log");
	expect_in(log, "  LD      vmlinux\n", "build.log");
	expect_in(log, " -o compile_commands.json vmlinux.a lib/lib.a\n", "build.log");
	assert_true(res.compile_commands_seconds > 0);
	count = slurp(f->dir, "count");
	assert_string_equal(count, "10\n");
	expect_kit(f, &res);
}

/* A second run on a built tree configures nothing and compiles nothing. */
static void test_fake_tree_rebuild_is_a_noop(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL, *count = NULL;

	skip_unless_supported_arch();
	f->o.compile_commands = false;
	if (pipeline_run(&f->o, &res, &why) < 0)
		fail_msg("first pipeline_run: %s", strempty(why));
	if (pipeline_run(&f->o, &res, &why) < 0)
		fail_msg("second pipeline_run: %s", strempty(why));
	assert_false(res.configured);
	/* The fake's vmlinux and image targets are phony: linked again, nothing compiled. */
	assert_int_equal(res.objects, 2);
	count = slurp(f->dir, "count");
	assert_string_equal(count, "2\n");
}

/* --build-dir: make runs with O=, created as needed (parents too); the tree stays clean. */
static void test_fake_tree_out_of_tree(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL, *out = NULL, *config = NULL, *src_config = NULL;
	_cleanup_free_ char *log = NULL;

	skip_unless_supported_arch();
	assert_true(asprintf(&out, "%s/out/x86", f->dir) > 0);
	assert_true(asprintf(&src_config, "%s/.config", f->src) > 0);
	f->o.build_dir = out;
	if (pipeline_run(&f->o, &res, &why) < 0)
		fail_msg("pipeline_run: %s", strempty(why));
	config = slurp(out, ".config");
	expect_in(config, "CONFIG_SCHED_CLASS_EXT=y\n", "the build dir's .config");
	(void) size_of(out, "vmlinux");
	(void) size_of(f->stage, pipeline_image_name(pipeline_host_arch()));
	assert_int_equal(access(src_config, F_OK), -1);
	log = slurp(f->stage, "build.log");
	expect_in(log, " O=", "build.log (make's command line)");
}

/* headers: make headers_install into {stage}/headers, after the user's variables, logged. */
static void test_fake_tree_headers(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL, *h = NULL, *log = NULL, *dir = NULL;

	skip_unless_supported_arch();
	f->o.headers = true;
	fake_var(f, "INSTALL_HDR_PATH=/nonexistent/not-this");
	if (pipeline_run(&f->o, &res, &why) < 0)
		fail_msg("pipeline_run: %s", strempty(why));
	assert_true(asprintf(&dir, "%s/headers/include/linux", f->stage) > 0);
	h = slurp(dir, "fake.h");
	expect_in(h, "#define FAKE_KERNEL 1\n", "headers/include/linux/fake.h");
	log = slurp(f->stage, "build.log");
	expect_in(log, " headers_install INSTALL_HDR_PATH=", "build.log");
	expect_in(log, "  INSTALL ", "build.log");
	assert_true(res.headers_seconds > 0);
}

/* A vmlinux without .BTF (FAKE_BTF=none): -ENODATA naming the build tree's vmlinux. */
static void test_fake_tree_without_btf(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL, *h = NULL;

	skip_unless_supported_arch();
	fake_var(f, "FAKE_BTF=none");
	assert_int_equal(pipeline_run(&f->o, &res, &why), -ENODATA);
	assert_non_null(why);
	expect_in(why, "/vmlinux' has no .BTF section", "the reason");
	expect_in(why, "CONFIG_DEBUG_INFO_BTF", "the reason");
	assert_true(asprintf(&h, "%s/vmlinux.h", f->stage) > 0);
	assert_int_equal(access(h, F_OK), -1);
}

/* Runs the pipeline with --json-events on, stdout into a file; returns what was written. */
static char *run_with_events(struct fake *f)
{
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL;
	_cleanup_close_ int saved = -EBADF, fd = -EBADF;
	int r;

	fd = open(f->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0 && dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);
	progress_set_events(true);
	r = pipeline_run(&f->o, &res, &why);
	progress_set_events(false);
	fflush(stdout);
	assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	if (r < 0)
		fail_msg("pipeline_run: %s", strempty(why));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	{
		_cleanup_fclose_ FILE *in = fdopen(TAKE_FD(fd), "r");
		char *text = NULL;
		size_t n = 0;

		assert_non_null(in);
		assert_true(getdelim(&text, &n, 0, in) > 0);
		return text;
	}
}

/*
 * --json-events: every line one JSON object; each make phase starts and ends, make's end
 * with the object count; a build over 2 s gets a "progress" event with elapsed to 0.1 s.
 */
static void test_fake_tree_events(void **state)
{
	struct fake *f = *state;
	_cleanup_free_ char *text = NULL;
	bool configure_start = false, make_end = false, validate = false, store = false;
	bool tick = false;
	int kit_h = 0, kit_caps = 0; /* 1: started, 2: ended after that, -1: out of order */
	char *save = NULL;

	skip_unless_supported_arch();
	fake_var(f, "FAKE_KERNEL_OBJECTS=4");
	fake_var(f, "FAKE_KERNEL_SLEEP=1");
	text = run_with_events(f);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(l), *v;
		const char *ev, *phase = "", *st = "";

		if (!o)
			fail_msg("not a JSON line: '%s'", l);
		ev = json_object_get_string(json_object_object_get(o, "event"));
		if (json_object_object_get_ex(o, "phase", &v))
			phase = json_object_get_string(v);
		if (json_object_object_get_ex(o, "state", &v))
			st = json_object_get_string(v);
		configure_start |= streq(ev, "phase") && streq(phase, "configure") && streq(st, "start");
		validate |= streq(ev, "phase") && streq(phase, "validate") && streq(st, "start");
		store |= streq(ev, "phase") && streq(phase, "store") && streq(st, "start");
		/* start, then end, for each step of the kit */
		if (streq(ev, "phase") && streq(phase, "vmlinux_h"))
			kit_h = kit_h == 0 && streq(st, "start") ? 1 :
				kit_h == 1 && streq(st, "end") ? 2 : -1;
		if (streq(ev, "phase") && streq(phase, "capabilities"))
			kit_caps = kit_caps == 0 && streq(st, "start") ? 1 :
				   kit_caps == 1 && streq(st, "end") && kit_h == 2 ? 2 : -1;
		if (streq(ev, "phase") && streq(phase, "make") && streq(st, "end")) {
			assert_int_equal(json_object_get_int(json_object_object_get(o, "objects")), 6);
			make_end = true;
		}
		if (streq(ev, "progress")) {
			const char *e = strstr(l, "\"elapsed\":");

			assert_non_null(e);
			e += strlen("\"elapsed\":");
			assert_ptr_equal(strchr(e, '.') + 2, strchr(e, ','));
			assert_true(json_object_get_int(json_object_object_get(o, "percent")) == -1);
			tick = true;
		}
		json_object_put(o);
	}
	assert_true(configure_start);
	assert_true(make_end);
	assert_true(validate);
	assert_true(store);
	assert_true(tick);
	assert_int_equal(kit_h, 2);
	assert_int_equal(kit_caps, 2);
}

/* `make compile_commands.json` in dir's tree (O=objdir unless NULL); the file it writes. */
static char *make_compile_commands(const struct fake *f, const char *objdir)
{
	_cleanup_free_ char *cmd = NULL, *path = NULL;
	const char *dir = objdir ? objdir : f->src;

	assert_true(asprintf(&path, "%s/compile_commands.json", dir) > 0);
	assert_int_equal(unlink(path), 0);
	assert_true(asprintf(&cmd, "make -s -C '%s' %s%s compile_commands.json >/dev/null 2>&1",
			     f->src, objdir ? "O=" : "", objdir ? objdir : "") > 0);
	assert_int_equal(system(cmd), 0);
	return slurp(dir, "compile_commands.json");
}

/*
 * compile_commands.json from the kernel's generator run directly (no second make): the same
 * bytes as `make compile_commands.json` writes, in the tree and with O=.
 */
static void test_compile_commands_as_make_writes_it(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL, *mine = NULL, *make = NULL, *out = NULL, *log = NULL;
	_cleanup_free_ char *mine_o = NULL, *make_o = NULL;

	skip_unless_supported_arch();
	if (pipeline_run(&f->o, &res, &why) < 0)
		fail_msg("pipeline_run: %s", strempty(why));
	mine = slurp(f->src, "compile_commands.json");
	expect_in(mine, "\"command\": ", "compile_commands.json");
	make = make_compile_commands(f, NULL);
	assert_string_equal(mine, make);
	log = slurp(f->stage, "build.log");
	assert_null(strstr(log, " compile_commands.json\n"));

	assert_true(asprintf(&out, "%s/out", f->dir) > 0);
	f->o.build_dir = out;
	if (pipeline_run(&f->o, &res, &why) < 0)
		fail_msg("pipeline_run O=: %s", strempty(why));
	mine_o = slurp(out, "compile_commands.json");
	make_o = make_compile_commands(f, out);
	assert_string_equal(mine_o, make_o);
	assert_string_not_equal(mine_o, mine);
}

/* CONFIG_MODULES=y: make's goal builds the modules first, so make runs it, as before. */
static void test_compile_commands_with_modules_through_make(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL, *extra = NULL, *log = NULL;
	const char *extras[1];

	skip_unless_supported_arch();
	assert_true(asprintf(&extra, "%s/modules.config", f->dir) > 0);
	assert_int_equal(write_file_atomic(extra, "CONFIG_MODULES=y\n", 17, 0644), 0);
	extras[0] = extra;
	f->o.extra = extras;
	f->o.n_extra = 1;
	if (pipeline_run(&f->o, &res, &why) < 0)
		fail_msg("pipeline_run: %s", strempty(why));
	log = slurp(f->stage, "build.log");
	expect_in(log, " compile_commands.json\n", "build.log (make's goal)");
	assert_null(strstr(log, "gen_compile_commands.py -a"));
	(void) size_of(f->src, "compile_commands.json");
	assert_true(res.compile_commands_seconds > 0);
}

/*
 * The generator runs beside strip and the kit and is joined before the result: a slow one
 * has still written the file when pipeline_run() returns; a failing one only warns.
 */
static void test_compile_commands_joined_and_failure_warns(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL, *path = NULL;

	skip_unless_supported_arch();
	assert_true(asprintf(&path, "%s/compile_commands.json", f->src) > 0);
	assert_int_equal(setenv("FAKE_GEN_SLEEP", "1", 1), 0);
	if (pipeline_run(&f->o, &res, &why) < 0)
		fail_msg("pipeline_run: %s", strempty(why));
	(void) unsetenv("FAKE_GEN_SLEEP");
	(void) size_of(f->src, "compile_commands.json");
	assert_true(res.compile_commands_seconds >= 1);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(setenv("FAKE_GEN_FAIL", "1", 1), 0);
	if (pipeline_run(&f->o, &res, &why) < 0)
		fail_msg("pipeline_run with a failing generator: %s", strempty(why));
	(void) unsetenv("FAKE_GEN_FAIL");
	assert_int_equal(access(path, F_OK), -1);
	assert_true(res.compile_commands_seconds > 0);
}

/* A failing make: -EPROTO, the target and status named, the compiler's error in the log's tail. */
static void test_fake_tree_failing_make(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL, *tail = NULL;

	skip_unless_supported_arch();
	fake_var(f, "FAKE_KERNEL_FAIL=1");
	assert_int_equal(pipeline_run(&f->o, &res, &why), -EPROTO);
	assert_non_null(why);
	expect_in(why, "make ", "the reason");
	expect_in(why, "failed with exit status 2", "the reason");
	assert_int_equal(pipeline_log_tail(f->log, 40, &tail), 0);
	expect_in(tail, "fake.c:1:1: error: FAKE_KERNEL_FAIL is set", "the log's tail");
	/* The tail is the end of the log: one line asked, one line given, make's own. */
	free(tail);
	tail = NULL;
	assert_int_equal(pipeline_log_tail(f->log, 1, &tail), 0);
	assert_non_null(strstr(tail, "make"));
	assert_ptr_equal(strchr(tail, '\n'), tail + strlen(tail) - 1);
}

/* The build log cannot be written at all (/dev/full): the step fails, naming the log. */
static void test_build_log_unwritable(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL;
	int r;

	skip_unless_supported_arch();
	assert_int_equal(symlink("/dev/full", f->log), 0);
	r = pipeline_run(&f->o, &res, &why);
	assert_int_equal(r, -ENOSPC);
	assert_non_null(why);
	expect_in(why, f->log, "the reason");
	expect_in(why, "No space left on device", "the reason");
}

/*
 * The stage on a 64 KiB tmpfs and 256 KiB of make output: the log fills the filesystem
 * mid-build. The build fails naming the log instead of keeping a silently cut log.
 * Needs a private mount namespace (root); skipped without one.
 */
static void test_build_log_on_full_filesystem(void **state)
{
	struct fake *f = *state;
	struct kts_pipeline_result res;
	_cleanup_free_ char *why = NULL;
	int r;

	skip_unless_supported_arch();
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", f->stage, "tmpfs", 0, "size=64k") < 0)
		test_need(false, "a private mount namespace with a tmpfs (root)");
	fake_var(f, "FAKE_KERNEL_NOISE=262144");
	r = pipeline_run(&f->o, &res, &why);
	(void) umount2(f->stage, MNT_DETACH);
	assert_int_equal(r, -ENOSPC);
	assert_non_null(why);
	expect_in(why, f->log, "the reason");
	expect_in(why, "No space left on device", "the reason");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_form),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_refused_in_a_list),
		cmocka_unit_test(test_tools),
		cmocka_unit_test(test_toolchain_probes_named_tools),
		cmocka_unit_test(test_toolchain_path_with_quote),
		cmocka_unit_test_setup_teardown(test_fake_tree_builds, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fake_tree_rebuild_is_a_noop, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_fake_tree_out_of_tree, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fake_tree_events, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fake_tree_headers, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fake_tree_without_btf, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_compile_commands_as_make_writes_it, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_compile_commands_with_modules_through_make,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_compile_commands_joined_and_failure_warns,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fake_tree_failing_make, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_build_log_unwritable, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_build_log_on_full_filesystem, fake_setup,
						fake_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
