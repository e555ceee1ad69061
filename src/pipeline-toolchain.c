/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the parent needs of the pipeline before it decides to build (pipeline.h): the
 * toolchain fingerprint the cache key covers (each tool's `--version`, run without a shell
 * and kept by the binary's identity), the canonical make variables of `ktscope build ...
 * -- NAME=VALUE` and the compiler and linker they choose, and the arch's image names.
 * The in-scope steps themselves are pipeline.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

#include "log.h"
#include "macro.h"
#include "pipeline.h"
#include "util.h"

/* ---------------------------------------------------------------- toolchain */

/*
 * First line of `tool --version` (stderr ignored), or NULL when it cannot run or fails.
 * No shell: a path or a name is one argument whatever it holds (a quote, a space after a
 * '/'); a command with words (CC="ccache gcc") is split as make's shell would split it,
 * by wordexp(3) with command substitution refused.
 */
static char *first_line_of(const char *tool)
{
	const struct spawn_opts so = { .out = SPAWN_PIPE, .max = 64 * 1024 };
	char *one[] = { (char *) tool, (char *) "--version", NULL };
	_cleanup_free_ char *out = NULL;
	bool words = strpbrk(tool, " \t");
	wordexp_t we = { 0 };
	size_t len;
	int r, status;

	if (words) {
		if (wordexp(tool, &we, WRDE_NOCMD) != 0)
			return NULL;
		if (we.we_wordc == 0 || wordexp("--version", &we, WRDE_NOCMD | WRDE_APPEND) != 0) {
			wordfree(&we);
			return NULL;
		}
	}
	r = spawn_capture(words ? we.we_wordv : one, &so, &status, &out, NULL);
	if (words)
		wordfree(&we);
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return NULL;
	len = strcspn(out, "\n");
	while (len > 0 && out[len - 1] == ' ')
		len--;
	out[len] = 0;
	return len > 0 ? TAKE_PTR(out) : NULL;
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
	p = strchr(first, '/') ? realpath(first, NULL) : find_program(first);
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

/* Rewrites the cache file's "stamp\tversion" lines; best effort (a miss probes again). */
static void save_versions(const char *cache_file, char *const *stamps, char *const *versions,
			  size_t n)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	for (size_t i = 0; i < n; i++)
		if (stamps[i] && versions[i])
			fprintf(f, "%s\t%s\n", stamps[i], versions[i]);
	if (fclose(f) != 0 || write_file_atomic(cache_file, text, len, 0644) < 0)
		log_debug("cannot keep the toolchain versions in '%s'", cache_file);
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
	if (dirty && cache_file)
		save_versions(cache_file, stamps, versions, ELEMENTSOF(names));
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
