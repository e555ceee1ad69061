/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * compile_commands.json without a second Kbuild traversal (pipeline.h,
 * pipeline_gencc_argv()): the command line the kernel's Makefile runs for
 * `make compile_commands.json` (cmd_gen_compile_commands):
 *
 *   $(PYTHON3) $(srctree)/scripts/clang-tools/gen_compile_commands.py -a $(AR) \
 *           -o compile_commands.json vmlinux.a $(KBUILD_VMLINUX_LIBS) [$(MODORDER)]
 *
 * run in the object directory, taken from what the build just left there:
 * KBUILD_VMLINUX_LIBS from the --start-group of .vmlinux.o.cmd (scripts/Makefile.vmlinux_o,
 * Linux ≥ 5.19), AR and PYTHON3 as the Makefile picks them from make's command line. Where
 * that is not the same as the make goal, the caller runs make: a tree without the script or
 * .vmlinux.o.cmd, CONFIG_MODULES=y (the goal sets KBUILD_MODULES and so builds the modules
 * first, whose .mod files modules.order then names), a tool whose name make would split.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "pipeline.h"
#include "util.h"

#define GENCC_SCRIPT "scripts/clang-tools/gen_compile_commands.py"

/* A variable from make's command line: ktscope's compile variables win, as in make_cmd. */
static const char *cmdline_var(const struct kts_pipeline_opts *o, const char *name)
{
	const char *v = pipeline_make_var(o->compile_vars, o->n_compile_vars, name);

	return v ? v : pipeline_make_var(o->make_vars, o->n_make_vars, name);
}

/* AR as the kernel's Makefile sets it: AR=, else LLVM's llvm-ar (prefix/suffix), else ar. */
static char *kernel_ar(const struct kts_pipeline_opts *o)
{
	const char *ar = cmdline_var(o, "AR"), *llvm = cmdline_var(o, "LLVM");
	size_t l;
	char *r;

	if (ar)
		return strdup(ar);
	if (!llvm || !*llvm)
		return strdup("ar");
	l = strlen(llvm);
	if (llvm[l - 1] == '/')
		return asprintf(&r, "%sllvm-ar", llvm) < 0 ? NULL : r;
	if (llvm[0] == '-')
		return asprintf(&r, "llvm-ar%s", llvm) < 0 ? NULL : r;
	return strdup("llvm-ar");
}

/* True when .config sets CONFIG_MODULES=y. */
static int config_has_modules(const char *objdir)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	int r;

	if (asprintf(&path, "%s/.config", objdir) < 0)
		return -ENOMEM;
	r = read_full_file(path, 0, &text, NULL);
	if (r < 0)
		return r;
	return startswith(text, "CONFIG_MODULES=y\n") || strstr(text, "\nCONFIG_MODULES=y\n");
}

/*
 * The words between "--start-group" and "--end-group" of .vmlinux.o.cmd's first line,
 * appended to argv at *n (room for them reserved by the caller: at most max). -ENOENT: no
 * such file or group; -EOPNOTSUPP: an empty group or a word that is not an archive.
 */
static int vmlinux_libs(const char *objdir, char **argv, size_t *n, size_t max)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	char *save = NULL, *w;
	bool in = false, done = false;
	size_t first = *n;
	int r;

	if (asprintf(&path, "%s/.vmlinux.o.cmd", objdir) < 0)
		return -ENOMEM;
	r = read_full_file(path, 0, &text, NULL);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	for (w = strtok_r(text, " \t", &save); w && !done; w = strtok_r(NULL, " \t", &save)) {
		if (streq(w, "--start-group"))
			in = true;
		else if (streq(w, "--end-group"))
			done = in;
		else if (in) {
			size_t l = strlen(w);

			if (l < 3 || !streq(w + l - 2, ".a") || *n >= max)
				return -EOPNOTSUPP;
			argv[(*n)++] = strdup(w);
			if (!argv[*n - 1])
				return -ENOMEM;
		}
	}
	if (!done)
		return -ENOENT;
	return *n > first ? 0 : -EOPNOTSUPP;
}

int pipeline_gencc_argv(const struct kts_pipeline_opts *o, char ***ret, size_t *ret_n)
{
	const char *objdir = o->build_dir ? o->build_dir : o->src_dir;
	const char *py = cmdline_var(o, "PYTHON3");
	enum { MAX_ARGS = 64 };
	_cleanup_free_ char *script = NULL, *ar = kernel_ar(o);
	char **argv = calloc(MAX_ARGS + 1, sizeof(char *));
	size_t n = 0;
	int r;

	if (!argv || !ar || asprintf(&script, "%s/" GENCC_SCRIPT, o->src_dir) < 0) {
		free(argv);
		return -ENOMEM;
	}
	r = access(script, R_OK) < 0 ? -ENOENT : config_has_modules(objdir);
	if (r > 0)
		r = -EOPNOTSUPP;
	/* make would split a tool's name into words: let make run it. */
	if (r == 0 && (strpbrk(ar, " \t'\"$\\") || (py && strpbrk(py, " \t'\"$\\"))))
		r = -EOPNOTSUPP;
	if (r == 0) {
		argv[n++] = strdup(py ? py : "python3");
		argv[n++] = TAKE_PTR(script);
		argv[n++] = strdup("-a");
		argv[n++] = TAKE_PTR(ar);
		argv[n++] = strdup("-o");
		argv[n++] = strdup("compile_commands.json");
		argv[n++] = strdup("vmlinux.a");
		for (size_t i = 0; i < n; i++)
			if (!argv[i])
				r = -ENOMEM;
	}
	if (r == 0)
		r = vmlinux_libs(objdir, argv, &n, MAX_ARGS);
	if (r < 0) {
		log_debug("compile_commands.json through make, not the generator directly: %s",
			  strerror(-r));
		strv_free(argv, n);
		return r;
	}
	*ret = argv;
	*ret_n = n;
	return 0;
}

int pipeline_gencc_start(const struct kts_pipeline_opts *o, char *const *argv, int out_fd,
			 pid_t *ret_pid)
{
	const struct spawn_opts so = {
		.out = SPAWN_FD,
		.out_fd = out_fd,
		.err = SPAWN_STDOUT,
		.cwd = o->build_dir ? o->build_dir : o->src_dir,
	};

	log_debug("running '%s' in '%s'", argv[1], so.cwd);
	return spawn_start(argv, &so, ret_pid, NULL, NULL);
}

int pipeline_gencc_wait(pid_t *pid, bool block, char **ret_why)
{
	int status = 0;
	pid_t p;

	do
		p = waitpid(*pid, &status, block ? 0 : WNOHANG);
	while (p < 0 && errno == EINTR);
	if (p == 0)
		return 0;
	*pid = 0;
	if (p < 0)
		return why_set(ret_why, negative_errno(), "cannot wait for its generator: %m");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	if (WIFSIGNALED(status))
		return why_set(ret_why, -EPROTO, "gen_compile_commands.py was killed by signal %d",
			       WTERMSIG(status));
	return why_set(ret_why, -EPROTO, "gen_compile_commands.py failed with exit status %d",
		       WEXITSTATUS(status));
}
