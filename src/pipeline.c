/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kconfig.h"
#include "log.h"
#include "macro.h"
#include "pipeline.h"
#include "progress.h"
#include "sha256.h"
#include "strip.h"

/* ---------------------------------------------------------------- toolchain */

/* First line of `tool --version` (stderr ignored), or NULL. */
static char *first_line_of(const char *tool)
{
	_cleanup_free_ char *line = NULL, *cmd = NULL;
	size_t n = 0;
	ssize_t len;
	FILE *f;

	/* A command with words (CC="ccache gcc") is the user's own, for the shell to split. */
	if (asprintf(&cmd, strpbrk(tool, " \t") ? "%s --version 2>/dev/null" :
		     "'%s' --version 2>/dev/null", tool) < 0)
		return NULL;
	f = popen(cmd, "re");
	if (!f)
		return NULL;
	len = getline(&line, &n, f);
	/* Read to the end, so the tool does not die of SIGPIPE and fail pclose(). */
	{
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	if (pclose(f) != 0 || len <= 0)
		return NULL;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
		line[--len] = 0;
	return len > 0 ? TAKE_PTR(line) : NULL;
}

/* The executable name resolves to through PATH, canonical; NULL when not found. */
static char *which(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;

	if (!path || !*path)
		return NULL;
	copy = strdup(path);
	if (!copy)
		return NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s/%s", *dir ? dir : ".", name) < 0)
			return NULL;
		if (access(p, X_OK) == 0)
			return realpath(p, NULL);
	}
	return NULL;
}

/*
 * "{path} {dev} {ino} {size} {mtime_ns}": what a version string is cached under.
 * A tool replaced or upgraded changes it. NULL when the tool is not there.
 */
static char *tool_stamp(const char *command)
{
	_cleanup_free_ char *first = strndup(command, strcspn(command, " \t"));
	_cleanup_free_ char *p = NULL;
	struct stat st;
	char *stamp;

	if (!first)
		return NULL;
	/* A path is taken as it is; a bare name is looked up in PATH, as make's shell does. */
	p = strchr(first, '/') ? realpath(first, NULL) : which(first);
	if (!p || access(p, X_OK) < 0 || stat(p, &st) < 0)
		return NULL;
	/* The whole command is part of the stamp: "ccache gcc" is not "ccache clang". */
	if (asprintf(&stamp, "%s%s%s %llu %llu %lld %lld", p, streq(first, command) ? "" : "|",
		     streq(first, command) ? "" : command, (unsigned long long) st.st_dev,
		     (unsigned long long) st.st_ino, (long long) st.st_size,
		     (long long) st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec) < 0)
		return NULL;
	return stamp;
}

/* Looks stamp up in the cache file's "stamp\tversion" lines. */
static char *cached_version(const char *cache_file, const char *stamp)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t n = 0, sl = strlen(stamp);
	ssize_t len;

	if (!cache_file || !(f = fopen(cache_file, "re")))
		return NULL;
	while ((len = getline(&line, &n, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if ((size_t) len > sl + 1 && strncmp(line, stamp, sl) == 0 && line[sl] == '\t')
			return strdup(line + sl + 1);
	}
	return NULL;
}

int pipeline_toolchain(const char *cache_file, const char *cc, const char *ld,
		       struct kts_toolchain *ret)
{
	const char *const names[] = { cc ? cc : "cc", ld ? ld : "ld", "pahole", "make" };
	char *versions[ELEMENTSOF(names)] = { 0 };
	char *stamps[ELEMENTSOF(names)] = { 0 };
	bool dirty = false;

	/*
	 * Running four `--version`s costs more than the rest of a cache hit; the
	 * answers are kept next to the cache, keyed by each binary's identity.
	 */
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		stamps[i] = tool_stamp(names[i]);
		if (!stamps[i])
			continue;
		versions[i] = cached_version(cache_file, stamps[i]);
		if (!versions[i]) {
			versions[i] = first_line_of(names[i]);
			dirty = dirty || versions[i];
		}
	}
	if (dirty && cache_file) {
		_cleanup_free_ char *tmp = NULL;
		FILE *f;

		if (asprintf(&tmp, "%s.%d", cache_file, (int) getpid()) >= 0 && (f = fopen(tmp, "we"))) {
			for (size_t i = 0; i < ELEMENTSOF(names); i++)
				if (stamps[i] && versions[i])
					fprintf(f, "%s\t%s\n", stamps[i], versions[i]);
			if (fclose(f) == 0)
				(void) rename(tmp, cache_file);
			else
				(void) unlink(tmp);
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		free(stamps[i]);
	*ret = (struct kts_toolchain){
		.cc = versions[0],
		.ld = versions[1],
		.pahole = versions[2],
		.make = versions[3],
	};
	return 0;
}

static bool make_name_valid(const char *s, size_t n)
{
	if (n == 0 || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static int make_var_cmp(const void *a, const void *b)
{
	const char *x = *(char *const *) a, *y = *(char *const *) b;
	size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
	int c = strncmp(x, y, MIN(nx, ny));

	return c ? c : (nx > ny) - (nx < ny);
}

int pipeline_make_vars(char *const *args, size_t n, char ***ret, size_t *ret_n, char **ret_why)
{
	static const struct {
		const char *name, *why;
	} refused[] = {
		{ "O", "ktscope passes O= itself: use --build-dir" },
		{ "ARCH", "ktscope builds for this machine only" },
		{ "SRCARCH", "ktscope builds for this machine only" },
		{ "CROSS_COMPILE", "ktscope builds for this machine only" },
		{ "KCONFIG_CONFIG", "ktscope writes and validates the tree's .config itself" },
	};
	char **v = calloc(n + 1, sizeof(char *));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *a = args[i], *eq = strchr(a, '=');
		size_t len = eq ? (size_t) (eq - a) : 0;
		int r = 0;

		if (!eq || !make_name_valid(a, len)) {
			if (asprintf(ret_why, "invalid make variable '%s': expected NAME=VALUE after "
				     "'--' (e.g. LLVM=1)", a) < 0)
				*ret_why = NULL;
			r = -EINVAL;
		} else if (strchr(eq, '\n')) {
			if (asprintf(ret_why, "invalid make variable '%.*s': its value has a newline",
				     (int) len, a) < 0)
				*ret_why = NULL;
			r = -EINVAL;
		}
		for (size_t j = 0; r == 0 && j < ELEMENTSOF(refused); j++)
			if (strlen(refused[j].name) == len && strncmp(a, refused[j].name, len) == 0) {
				if (asprintf(ret_why, "make variable '%s' is not allowed: %s", a,
					     refused[j].why) < 0)
					*ret_why = NULL;
				r = -EPERM;
			}
		if (r < 0) {
			strv_free(v, k);
			return r;
		}
		/* The same NAME again replaces the earlier value, as make would. */
		for (size_t j = 0; j < k; j++)
			if (make_var_cmp(&v[j], &a) == 0) {
				free(v[j]);
				memmove(&v[j], &v[j + 1], (k - j - 1) * sizeof(char *));
				k--;
				break;
			}
		v[k] = strdup(a);
		if (!v[k]) {
			strv_free(v, k);
			return -ENOMEM;
		}
		k++;
	}
	qsort(v, k, sizeof(char *), make_var_cmp);
	v[k] = NULL;
	*ret = v;
	*ret_n = k;
	return 0;
}

const char *pipeline_make_var(char *const *vars, size_t n, const char *name)
{
	size_t l = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (strncmp(vars[i], name, l) == 0 && vars[i][l] == '=')
			return vars[i] + l + 1;
	return NULL;
}

/* LLVM=1 → tool; LLVM=-15 → tool-15; LLVM=/opt/llvm/bin/ → /opt/llvm/bin/tool. */
static int llvm_tool(const char *llvm, const char *tool, char **ret)
{
	size_t l = strlen(llvm);

	if (l > 0 && llvm[l - 1] == '/')
		return asprintf(ret, "%s%s", llvm, tool) < 0 ? -ENOMEM : 0;
	if (llvm[0] == '-')
		return asprintf(ret, "%s%s", tool, llvm) < 0 ? -ENOMEM : 0;
	*ret = strdup(tool);
	return *ret ? 0 : -ENOMEM;
}

/* The tool a variable names (CC=, LD=), else LLVM's, else the plain one. */
static int pick_tool(const char *given, const char *llvm, const char *llvm_name,
		     const char *plain, char **ret)
{
	if (given && *given)
		*ret = strdup(given);
	else if (llvm)
		return llvm_tool(llvm, llvm_name, ret);
	else
		*ret = strdup(plain);
	return *ret ? 0 : -ENOMEM;
}

int pipeline_make_tools(char *const *vars, size_t n, char **ret_cc, char **ret_ld,
			const char **ret_cc_from, const char **ret_ld_from)
{
	const char *cc = pipeline_make_var(vars, n, "CC"), *ld = pipeline_make_var(vars, n, "LD");
	const char *llvm = pipeline_make_var(vars, n, "LLVM");
	_cleanup_free_ char *c = NULL, *l = NULL;

	/* The kernel's Makefile takes LLVM=0 as LLVM=1 too: any value but empty. */
	if (llvm && !*llvm)
		llvm = NULL;
	if (pick_tool(cc, llvm, "clang", "cc", &c) < 0 || pick_tool(ld, llvm, "ld.lld", "ld", &l) < 0)
		return -ENOMEM;
	*ret_cc = TAKE_PTR(c);
	*ret_ld = TAKE_PTR(l);
	*ret_cc_from = cc && *cc ? "CC" : llvm ? "LLVM" : NULL;
	*ret_ld_from = ld && *ld ? "LD" : llvm ? "LLVM" : NULL;
	return 0;
}

void pipeline_toolchain_done(struct kts_toolchain *t)
{
	free(t->cc);
	free(t->ld);
	free(t->pahole);
	free(t->make);
	*t = (struct kts_toolchain){ 0 };
}

const char *pipeline_host_arch(void)
{
	static struct utsname u;

	if (!u.machine[0] && uname(&u) < 0)
		return "unknown";
	return u.machine;
}

const char *pipeline_image_name(const char *arch)
{
	if (streq(arch, "x86_64"))
		return "bzImage";
	if (streq(arch, "aarch64"))
		return "Image";
	return NULL;
}

const char *pipeline_image_relpath(const char *arch)
{
	if (streq(arch, "x86_64"))
		return "arch/x86/boot/bzImage";
	if (streq(arch, "aarch64"))
		return "arch/arm64/boot/Image";
	return NULL;
}

bool pipeline_base_is_target(const char *base)
{
	return streq(base, "defconfig") || streq(base, "tinyconfig") || streq(base, "kvm_guest");
}

/* ---------------------------------------------------------------- files */

int pipeline_copy_file(const char *from, const char *to)
{
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	struct stat st;
	off_t left;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return negative_errno();
	if (fstat(in, &st) < 0)
		return negative_errno();
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return negative_errno();
	for (left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t) MIN(left, (off_t) 1 << 30), 0);

		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP)) {
			char buf[65536];

			n = read(in, buf, sizeof(buf));
			if (n > 0 && write(out, buf, (size_t) n) != n)
				return negative_errno();
		}
		if (n < 0)
			return negative_errno();
		if (n == 0)
			break;
		left -= n;
	}
	if (fsync(out) < 0)
		return negative_errno();
	return 0;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t) st.st_size : 0;
}

void pipeline_print_tail(const char *path, unsigned n)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char **ring;
	char *line = NULL;
	size_t cap = 0, count = 0;

	if (!f)
		return;
	ring = calloc(n, sizeof(*ring));
	if (!ring)
		return;
	while (getline(&line, &cap, f) > 0) {
		free(ring[count % n]);
		ring[count % n] = strdup(line);
		count++;
	}
	free(line);
	for (size_t i = count > n ? count - n : 0; i < count; i++)
		fputs(ring[i % n] ? ring[i % n] : "", stderr);
	for (size_t i = 0; i < n; i++)
		free(ring[i]);
	free(ring);
}

static unsigned read_count(const char *path)
{
	_cleanup_fclose_ FILE *f = NULL;
	unsigned v = 0;

	if (!path)
		return 0;
	f = fopen(path, "re");
	if (!f || fscanf(f, "%u", &v) != 1)
		return 0;
	return v;
}

static void write_count(const char *path, unsigned v)
{
	_cleanup_free_ char *tmp = NULL;
	FILE *f;

	if (!path || v == 0 || asprintf(&tmp, "%s.%d", path, (int) getpid()) < 0)
		return;
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%u\n", v);
	if (fclose(f) == 0)
		(void) rename(tmp, path);
	else
		(void) unlink(tmp);
}

/* ---------------------------------------------------------------- make */

struct make_ctx {
	const struct kts_pipeline_opts *o;
	int log_fd;
	const char *log_path;
	struct timespec start;
	unsigned objects;
	unsigned expected; /* previous build's count, 0 = unknown */
	double last_event; /* elapsed time of the last progress event */
};

static double elapsed_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double) (now.tv_sec - t->tv_sec) + (double) (now.tv_nsec - t->tv_nsec) / 1e9;
}

/* "  CC      kernel/fork.o", "  LD [M]  ...": kbuild's quiet command lines. */
static bool is_object_line(const char *l)
{
	if (l[0] != ' ' || l[1] != ' ' || l[2] < 'A' || l[2] > 'Z')
		return false;
	for (l += 2; *l >= 'A' && *l <= 'Z'; l++)
		;
	return *l == ' ' || *l == '\t';
}

/*
 * Runs make with targets, output appended to the log; counts objects and
 * draws the progress line. Returns 0, or -EPROTO with *ret_why on a failed make.
 */
static int run_make(struct make_ctx *m, const char *phase, const char *const *targets,
		    char **ret_why)
{
	const struct kts_pipeline_opts *o = m->o;
	_cleanup_free_ char **argv = calloc(o->n_make_vars + 16, sizeof(char *));
	_cleanup_free_ char *jobs = NULL, *objdir = NULL;
	size_t argc = 0;
	int pipefd[2], status;
	char buf[8192], line[4096];
	size_t linelen = 0;
	pid_t pid;

	if (!argv || asprintf(&jobs, "-j%u", o->jobs) < 0)
		return -ENOMEM;
	argv[argc++] = (char *) "make";
	argv[argc++] = (char *) "-C";
	argv[argc++] = (char *) o->src_dir;
	if (o->build_dir) {
		if (asprintf(&objdir, "O=%s", o->build_dir) < 0)
			return -ENOMEM;
		argv[argc++] = objdir;
	}
	argv[argc++] = jobs;
	for (size_t i = 0; i < o->n_make_vars; i++)
		argv[argc++] = o->make_vars[i];
	for (size_t i = 0; targets[i]; i++)
		argv[argc++] = (char *) targets[i];
	argv[argc] = NULL;

	{
		/* The command line, as the log's section header. */
		_cleanup_free_ char *header = NULL;
		size_t hlen = 0;
		FILE *f = open_memstream(&header, &hlen);

		if (f) {
			fputs("### ktscope:", f);
			for (size_t i = 0; argv[i]; i++)
				fprintf(f, " %s", argv[i]);
			fputc('\n', f);
			if (fclose(f) == 0)
				(void) !write(m->log_fd, header, hlen);
		}
	}
	progress_event("phase", "\"phase\":%s,\"state\":\"start\"", progress_json_str(phase));
	log_debug("running make %s in '%s'", targets[0], o->src_dir);

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return negative_errno();
	pid = fork();
	if (pid < 0) {
		safe_close(pipefd[0]);
		safe_close(pipefd[1]);
		return negative_errno();
	}
	if (pid == 0) {
		(void) dup2(pipefd[1], STDOUT_FILENO);
		(void) dup2(pipefd[1], STDERR_FILENO);
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull >= 0)
			(void) dup2(devnull, STDIN_FILENO);
		/*
		 * A ktscope run from a make recipe must not hand that make's command-line
		 * variables, flags and jobserver to the kernel build: what builds the kernel
		 * is what the cache key covers (-jN and the variables after "--").
		 */
		(void) unsetenv("MAKEFLAGS");
		(void) unsetenv("MFLAGS");
		(void) unsetenv("MAKEOVERRIDES");
		(void) unsetenv("MAKELEVEL");
		execvp(argv[0], argv);
		fprintf(stderr, "ktscope: cannot execute make: %s\n", strerror(errno));
		_exit(127);
	}
	safe_close(pipefd[1]);
	/* read(2), not stdio: the log and the progress line follow make as it prints. */
	for (;;) {
		ssize_t n = read(pipefd[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		(void) !write(m->log_fd, buf, (size_t) n);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (linelen < sizeof(line) - 1)
					line[linelen++] = buf[i];
				continue;
			}
			line[linelen] = 0;
			linelen = 0;
			if (is_object_line(line))
				m->objects++;
		}
		{
			double el = elapsed_since(&m->start);
			int pct = m->expected ? (int) MIN(99ULL, 100ULL * m->objects / m->expected) : -1;

			progress_line(phase, el, m->objects, pct);
			/* An NDJSON progress event at most every 2 s. */
			if (el - m->last_event >= 2.0) {
				m->last_event = el;
				progress_event("progress", "\"phase\":%s,\"elapsed\":%.1f,\"objects\":%u,"
					       "\"percent\":%d", progress_json_str(phase), el, m->objects, pct);
			}
		}
	}
	safe_close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	progress_line_end();
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		progress_event("phase", "\"phase\":%s,\"state\":\"end\",\"objects\":%u",
			       progress_json_str(phase), m->objects);
		return 0;
	}
	if (ret_why) {
		if (WIFSIGNALED(status))
			(void) asprintf(ret_why, "make %s was killed by signal %d", targets[0],
					WTERMSIG(status));
		else
			(void) asprintf(ret_why, "make %s failed with exit status %d", targets[0],
					WEXITSTATUS(status));
	}
	progress_event("phase", "\"phase\":%s,\"state\":\"failed\"", progress_json_str(phase));
	return -EPROTO;
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
	size_t len = strlen(text);

	if (fd < 0)
		return negative_errno();
	if (write(fd, "\n", 1) != 1 || write(fd, text, len) != (ssize_t) len)
		return negative_errno();
	return 0;
}

static int configure(struct make_ctx *m, const struct kts_kconfig_merge *merged,
		     const char *config, bool *ret_configured, char **ret_why)
{
	const struct kts_pipeline_opts *o = m->o;
	_cleanup_free_ char *text = NULL;
	int r;

	r = kconfig_config_satisfies(config, &merged->lines, ret_why);
	if (r < 0)
		return r;
	if (r > 0) {
		log_notice("configure: '%s' already has every requested line; not reconfiguring", config);
		*ret_configured = false;
		return 0;
	}

	/* Base configuration. */
	if (pipeline_base_is_target(o->base)) {
		const char *const def[] = { "defconfig", NULL };
		const char *const kvm[] = { "defconfig", "kvm_guest.config", NULL };
		const char *const tiny[] = { "tinyconfig", NULL };

		r = run_make(m, "configure",
			     streq(o->base, "kvm_guest") ? kvm : streq(o->base, "tinyconfig") ? tiny : def,
			     ret_why);
		if (r < 0)
			return r;
	} else {
		r = pipeline_copy_file(o->base, config);
		if (r < 0) {
			if (ret_why)
				(void) asprintf(ret_why, "cannot copy base config '%s' to '%s': %s",
						o->base, config, strerror(-r));
			return r;
		}
	}

	/* The embedded fragment and the extras, later lines winning, then olddefconfig. */
	r = kconfig_format(&merged->lines, &text);
	if (r < 0)
		return r;
	r = append_text(config, text);
	if (r < 0) {
		if (ret_why)
			(void) asprintf(ret_why, "cannot append to '%s': %s", config, strerror(-r));
		return r;
	}
	{
		const char *const old[] = { "olddefconfig", NULL };

		r = run_make(m, "configure", old, ret_why);
		if (r < 0)
			return r;
	}
	*ret_configured = true;
	return 0;
}

/* Warns per override and per dropped line; writes kconfig-report.json into the stage. */
static int report_config(const struct kts_pipeline_opts *o, const struct kts_kconfig_merge *merged,
			 const struct kts_kconfig *final, unsigned *ret_dropped)
{
	_cleanup_(kconfig_report_donep) struct kts_kconfig_report rep = KTS_KCONFIG_REPORT_INIT;
	int r;

	for (size_t i = 0; i < merged->n_overrides; i++) {
		const struct kts_kconfig_override *ov = &merged->overrides[i];

		log_warning("'%s':%u overrides ktscope's %s=%s with %s", ov->source, ov->lineno,
			    ov->symbol, ov->old_value, ov->new_value);
	}
	r = kconfig_report_build(&merged->lines, final, &rep);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rep.n; i++) {
		const struct kts_kconfig_outcome *l = &rep.lines[i];

		if (l->survived)
			continue;
		log_warning("%s=%s (from %s) did not survive olddefconfig: it is %s", l->symbol,
			    l->requested, l->source, l->final ? l->final : "absent");
	}
	*ret_dropped = (unsigned) rep.n_dropped;
	return kconfig_report_write(&rep, o->stage_dir);
}

int pipeline_run(const struct kts_pipeline_opts *o, struct kts_pipeline_result *ret, char **ret_why)
{
	_cleanup_(kconfig_merge_donep) struct kts_kconfig_merge merged = KTS_KCONFIG_MERGE_INIT;
	_cleanup_kconfig_ struct kts_kconfig final = KTS_KCONFIG_INIT;
	_cleanup_free_ char *log_path = NULL, *config = NULL, *image_src = NULL, *image_dst = NULL,
			    *vmlinux_src = NULL, *vmlinux_dst = NULL, *config_dst = NULL;
	_cleanup_close_ int log_fd = -EBADF;
	const char *objdir = o->build_dir ? o->build_dir : o->src_dir;
	const char *image_name = pipeline_image_name(o->arch), *image_rel = pipeline_image_relpath(o->arch);
	struct kts_pipeline_result res = { 0 };
	struct make_ctx m = { .o = o };
	int r;

	if (!image_name) {
		if (ret_why)
			(void) asprintf(ret_why, "architecture '%s' is not supported (x86_64, aarch64)",
					o->arch);
		return -EOPNOTSUPP;
	}
	r = kconfig_merge(o->extra, o->n_extra, &merged, ret_why);
	if (r < 0)
		return r;

	if (path_in(o->stage_dir, "build.log", &log_path) < 0 || path_in(objdir, ".config", &config) < 0 ||
	    path_in(objdir, image_rel, &image_src) < 0 || path_in(o->stage_dir, image_name, &image_dst) < 0 ||
	    path_in(objdir, "vmlinux", &vmlinux_src) < 0 ||
	    path_in(o->stage_dir, "vmlinux", &vmlinux_dst) < 0 ||
	    path_in(o->stage_dir, "config", &config_dst) < 0)
		return -ENOMEM;
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		r = negative_errno();
		if (ret_why)
			(void) asprintf(ret_why, "cannot create '%s': %s", log_path, strerror(-r));
		return r;
	}
	if (o->build_dir && mkdir(o->build_dir, 0755) < 0 && errno != EEXIST) {
		r = negative_errno();
		if (ret_why)
			(void) asprintf(ret_why, "cannot create build directory '%s': %s", o->build_dir,
					strerror(-r));
		return r;
	}
	m.log_fd = log_fd;
	m.log_path = log_path;
	m.expected = read_count(o->count_file);
	clock_gettime(CLOCK_MONOTONIC, &m.start);

	if (o->clean) {
		const char *const t[] = { "mrproper", NULL };

		r = run_make(&m, "clean", t, ret_why);
		if (r < 0)
			goto make_failed;
	}

	r = configure(&m, &merged, config, &res.configured, ret_why);
	if (r == -EPROTO)
		goto make_failed;
	if (r < 0)
		return r;
	r = kconfig_load(config, &final, ret_why);
	if (r < 0)
		return r;
	r = report_config(o, &merged, &final, &res.n_dropped);
	if (r < 0)
		return r;
	progress_event("phase", "\"phase\":\"validate\",\"state\":\"start\"");
	r = kconfig_validate(&final, &merged, o->pahole_version, ret_why);
	if (r < 0)
		return r;

	{
		const char *const t[] = { image_name, "vmlinux", NULL };

		m.objects = 0;
		r = run_make(&m, "make", t, ret_why);
		if (r < 0)
			goto make_failed;
		res.objects = m.objects;
		/* make's syncconfig may have changed .config (another compiler, pahole): check again. */
		kconfig_done(&final);
		r = kconfig_load(config, &final, ret_why);
		if (r < 0)
			return r;
		r = kconfig_validate(&final, &merged, o->pahole_version, ret_why);
		if (r < 0)
			return r;
		/* A no-op rebuild counts nothing; keep the last real count for the %. */
		if (m.objects > 0)
			write_count(o->count_file, m.objects);
	}

	if (o->compile_commands) {
		const char *const t[] = { "compile_commands.json", NULL };
		_cleanup_free_ char *why = NULL;

		if (run_make(&m, "compile_commands", t, &why) < 0)
			log_warning("compile_commands.json was not written: %s (see '%s')", strempty(why),
				    log_path);
	}

	progress_event("phase", "\"phase\":\"store\",\"state\":\"start\"");
	if (access(image_src, F_OK) < 0) {
		if (ret_why)
			(void) asprintf(ret_why, "make did not produce '%s'", image_src);
		return -ENOENT;
	}
	r = pipeline_copy_file(image_src, image_dst);
	if (r < 0) {
		if (ret_why)
			(void) asprintf(ret_why, "cannot copy '%s' to '%s': %s", image_src, image_dst,
					strerror(-r));
		return r;
	}
	res.image_size = file_size(image_dst);
	r = pipeline_copy_file(config, config_dst);
	if (r < 0) {
		if (ret_why)
			(void) asprintf(ret_why, "cannot copy '%s': %s", config, strerror(-r));
		return r;
	}
	r = sha256_file(config_dst, res.config_sha256);
	if (r < 0)
		return r;

	{
		_cleanup_free_ char *why = NULL;

		r = strip_vmlinux_full(vmlinux_src, vmlinux_dst, &res.vmlinux_unstripped,
				       &res.vmlinux_size, &why);
		if (r < 0) {
			if (ret_why)
				(void) asprintf(ret_why, "cannot strip '%s': %s", vmlinux_src,
						why ? why : strerror(-r));
			return r;
		}
		log_notice("vmlinux stripped for the cache: %.1f MiB → %.1f MiB",
			   (double) res.vmlinux_unstripped / 1048576.0,
			   (double) res.vmlinux_size / 1048576.0);
	}

	*ret = res;
	return 0;

make_failed:
	/* The caller shows the log's tail; the log stays in the stage directory. */
	progress_line_end();
	return r;
}
