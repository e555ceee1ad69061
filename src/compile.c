/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ccache for `ktscope build --ccache` (compile.h, DESIGN §5, issue 12): the parent's plan
 * (which ccache, which cache directory, the remote storage reaching the build through the
 * environment), the in-scope setup (a one-word CC wrapper, the environment ccache reads,
 * the debug prefix maps that let trees at different paths share objects correctly) and
 * the build's own statistics read back from its stats log. The distributed engines
 * (engine.c) fill the engine fields of the same plan; the wrapper here calls them.
 *
 * Sharing across trees: a tree built at /a/linux and the same bytes at /b/linux compile
 * to the same objects except for the paths in their debug info. -fdebug-prefix-map=OBJ=.
 * makes the compiler write "." for the tree, and ccache maps the working directory it
 * hashes (hash_dir, on) through the same maps: the two builds get one hash and byte-
 * identical objects, whose debug info names paths relative to the tree (gdb finds the
 * sources from the vmlinux's directory). hash_dir=false would share objects whose debug
 * info names another tree: never set. Out-of-tree builds pass absolute source paths:
 * CCACHE_BASEDIR (their common parent) makes ccache hash and compile them as relative
 * paths, so only builds with the same layout share.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compile.h"
#include "engine.h"
#include "hash.h"
#include "log.h"
#include "macro.h"
#include "pipeline.h"
#include "util.h"

#define CCACHE_MIN_KERNEL "4.7.3"
#define STATS_LOG "ccache-stats.log"

void compile_plan_done(struct kts_compile_plan *p)
{
	free(p->ccache);
	free(p->ccache_version);
	free(p->ccache_dir);
	free(p->ccache_dir_used);
	free(p->ccache_remote_shown);
	free(p->engine_bin);
	free(p->hosts);
	free(p->icecc_env);
	free(p->fallback);
	*p = (struct kts_compile_plan){ 0 };
}

const char *compile_engine_to_string(enum kts_compile_engine e)
{
	switch (e) {
	case KTS_ENGINE_DISTCC:
		return "distcc";
	case KTS_ENGINE_ICECC:
		return "icecc";
	default:
		return "none";
	}
}

/* Kbuild's rule for LLVM=: clang, clang-N (LLVM=-N), DIR/clang (LLVM=DIR/). */
static int llvm_clang(const char *llvm, char **ret)
{
	size_t l = strlen(llvm);

	if (l > 0 && llvm[l - 1] == '/')
		return asprintf(ret, "%sclang", llvm) < 0 ? -ENOMEM : 0;
	if (llvm[0] == '-')
		return asprintf(ret, "clang%s", llvm) < 0 ? -ENOMEM : 0;
	*ret = strdup("clang");
	return *ret ? 0 : -ENOMEM;
}

static int pick_cc(const char *given, const char *llvm, char **ret)
{
	if (given && *given) {
		*ret = strdup(given);
		return *ret ? 0 : -ENOMEM;
	}
	if (llvm && *llvm)
		return llvm_clang(llvm, ret);
	*ret = strdup("gcc");
	return *ret ? 0 : -ENOMEM;
}

int compile_real_cc(char *const *vars, size_t n, char **ret_cc, char **ret_hostcc)
{
	const char *llvm = pipeline_make_var(vars, n, "LLVM");
	_cleanup_free_ char *cc = NULL, *host = NULL;

	if (pick_cc(pipeline_make_var(vars, n, "CC"), llvm, &cc) < 0 ||
	    pick_cc(pipeline_make_var(vars, n, "HOSTCC"), llvm, &host) < 0)
		return -ENOMEM;
	*ret_cc = TAKE_PTR(cc);
	*ret_hostcc = TAKE_PTR(host);
	return 0;
}

void compile_stats_format(const struct kts_compile_stats *s, char *buf, size_t n)
{
	uint64_t hits = compile_stats_hits(s), total = hits + s->misses;
	unsigned pct = total ? (unsigned) ((200 * hits + total) / (2 * total)) : 0;
	int k;

	if (pct == 100 && hits < total)
		pct = 99;
	k = snprintf(buf, n, "%" PRIu64 "/%" PRIu64 " hits", hits, total);
	if (k > 0 && (size_t) k < n && total)
		k += snprintf(buf + k, n - (size_t) k, " (%u%%)", pct);
	if (k > 0 && (size_t) k < n && s->remote_hits)
		k += snprintf(buf + k, n - (size_t) k, ", %" PRIu64 " remote", s->remote_hits);
	if (k > 0 && (size_t) k < n && s->errors)
		(void) snprintf(buf + k, n - (size_t) k, ", %" PRIu64 " ccache errors", s->errors);
}

/* ---------------------------------------------------------------- the plan */

/* Whether the space-separated words hold word. */
static bool has_word(const char *words, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = words; *p; p += strcspn(p, " "), p += strspn(p, " "))
		if (strncmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == 0))
			return true;
	return false;
}

/* Runs `ccache ARG` and returns its stdout; -errno, or -EPROTO when it failed. */
static int ccache_ask(const char *ccache, const char *arg, char **ret)
{
	char *argv[] = { (char *) ccache, (char *) arg, NULL };
	const struct spawn_opts so = { .in = SPAWN_NULL, .out = SPAWN_PIPE, .err = SPAWN_NULL };
	_cleanup_free_ char *out = NULL;
	int status, r;

	r = spawn_capture(argv, &so, &status, &out, NULL);
	if (r < 0)
		return r;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EPROTO;
	*ret = TAKE_PTR(out);
	return 0;
}

/* The binary, its version (a warning below 4.7.3) and its storage features. */
static int plan_ccache(struct kts_compile_plan *p, char **ret_features, char **ret_why)
{
	_cleanup_free_ char *out = NULL;
	int r;

	p->ccache = find_program("ccache");
	if (!p->ccache)
		return why_set(ret_why, -ENXIO, "--ccache: no 'ccache' in PATH; install it "
			       "(Debian, "
			       "Ubuntu: apt install ccache; Fedora: dnf install ccache)");
	r = ccache_ask(p->ccache, "--version", &out);
	if (r >= 0)
		r = compile_version_parse(out, strlen(out), &p->ccache_version, ret_features);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return why_set(ret_why, -ENXIO, "--ccache: '%s --version' did not say its version",
			       p->ccache);
	if (compile_version_cmp(p->ccache_version, CCACHE_MIN_KERNEL) < 0)
		log_warning("ccache %s does not cache kernel objects (they need ccache >= %s); "
			    "the build goes through it uncached", p->ccache_version,
			    CCACHE_MIN_KERNEL);
	return 0;
}

/* --ccache=DIR, else the user's own setting (ccache applies it), else {root}/ccache. */
static int plan_dir(struct kts_compile_plan *p, const char *want, const char *cache_root,
		    char **ret_why)
{
	_cleanup_free_ char *out = NULL, *value = NULL;
	bool dflt = true;
	int r;

	if (!want) {
		r = ccache_ask(p->ccache, "--show-config", &out);
		if (r >= 0)
			r = compile_config_parse(out, strlen(out), "cache_dir", &value, &dflt);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			log_debug("'%s --show-config' did not name cache_dir; using ktscope's",
				  p->ccache);
		if (r >= 0 && !dflt) {
			p->ccache_dir_used = TAKE_PTR(value);
			return 0;
		}
	}
	if (want)
		p->ccache_dir = strdup(want);
	else if (asprintf(&p->ccache_dir, "%s/ccache", cache_root) < 0)
		p->ccache_dir = NULL;
	if (!p->ccache_dir || !(p->ccache_dir_used = strdup(p->ccache_dir)))
		return -ENOMEM;
	r = mkdir_p(p->ccache_dir, 0755);
	if (r < 0)
		return why_set(ret_why, -ENXIO, "cannot create the ccache directory '%s': %s",
			       p->ccache_dir, strerror(-r));
	return 0;
}

/* The remote storage: checked against what this ccache can use, then in the environment. */
static int plan_remote(struct kts_compile_plan *p, const char *url, const char *features,
		       char **ret_why)
{
	char scheme[16], feature[32];
	int r;

	r = compile_remote_check(url, &p->ccache_remote_shown);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || compile_remote_scheme(url, scheme) < 0)
		return why_set(ret_why, -EINVAL, "invalid --ccache-remote '%s'",
			       strempty(p->ccache_remote_shown));
	(void) snprintf(feature, sizeof(feature), "%s-storage", scheme);
	if (!has_word(features, feature))
		return why_set(ret_why, -EINVAL, "invalid --ccache-remote '%s': ccache %s has no "
			       "%s storage (it has: %s)", p->ccache_remote_shown, p->ccache_version,
			       scheme, *features ? features : "none");
	if (setenv("CCACHE_REMOTE_STORAGE", url, 1) < 0)
		return -ENOMEM;
	return 0;
}

int compile_plan(const struct kts_compile_request *q, const char *cache_root, const char *cc,
		 struct kts_compile_plan *ret, char **ret_why)
{
	_cleanup_(compile_plan_done) struct kts_compile_plan p = { 0 };
	_cleanup_free_ char *features = NULL;
	struct kts_compile_request eq = *q; /* the engines get the build's compiler */
	int r;

	if (q->ccache || q->ccache_remote) {
		r = plan_ccache(&p, &features, ret_why);
		if (r < 0)
			return r;
		r = plan_dir(&p, q->ccache_dir, cache_root, ret_why);
		if (r < 0)
			return r;
		r = q->ccache_remote ? plan_remote(&p, q->ccache_remote, features, ret_why) : 0;
		if (r < 0)
			return r;
	}
	/* The distributed engines (engine.c) fill the plan's engine fields here. */
	eq.cc = eq.cc ? eq.cc : cc;
	r = engine_plan(&eq, &p, ret_why);
	if (r < 0)
		return r;
	*ret = p;
	p = (struct kts_compile_plan){ 0 };
	return 0;
}

/* ---------------------------------------------------------------- in the scope */

/* s single-quoted for sh(1). */
static int sh_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	fputc('\'', f);
	return 0;
}

/*
 * Writes the wrapper that runs "[prefix] runner compiler ARGS..." at
 * {dir}/{sha256 of its text, 16 digits}-{name}, once: the same plan names the same file.
 */
static int write_wrapper(const char *dir, const char *name, const char *prefix,
			 const char *runner, const char *compiler, char **ret)
{
	_cleanup_free_ char *text = NULL, *path = NULL;
	size_t len = 0;
	char hex[HASH_SHA256_HEX_SIZE];
	FILE *f = open_memstream(&text, &len);
	int r;

	if (!f)
		return -ENOMEM;
	fputs("#!/bin/sh\n# ktscope build: make's one-word CC (compile.h)\n", f);
	if (prefix) {
		fputs("CCACHE_PREFIX=", f);
		sh_quote(f, prefix);
		fputs("\nexport CCACHE_PREFIX\n", f);
	}
	fputs("exec ", f);
	sh_quote(f, runner);
	fputc(' ', f);
	sh_quote(f, compiler);
	fputs(" \"$@\"\n", f);
	if (fclose(f) != 0)
		return -ENOMEM;
	r = hash_sha256_hex(text, len, hex);
	if (r < 0)
		return r;
	if (asprintf(&path, "%s/%.16s-%s", dir, hex, name) < 0)
		return -ENOMEM;
	if (access(path, X_OK) != 0) {
		r = write_file_atomic(path, text, len, 0755);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(path);
	return 0;
}

/* A path make and the compiler take as one word in KCFLAGS. */
static bool plain_path(const char *p)
{
	return p && !p[strcspn(p, " \t\n\\$'\"#%=:;")];
}

/* "KCFLAGS=-fdebug-prefix-map=... [the user's KCFLAGS]"; the OBJ map last, so it wins. */
static int kcflags(const char *src, const char *obj, const char *user, char **ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return -ENOMEM;
	fputs("KCFLAGS=", f);
	if (src && plain_path(src))
		fprintf(f, "-fdebug-prefix-map=%s=source ", src);
	if (plain_path(obj))
		fprintf(f, "-fdebug-prefix-map=%s=. ", obj);
	else
		log_warning("ccache: the build directory '%s' has characters KCFLAGS cannot carry; "
			    "its objects are cached for this path only", obj);
	if (user)
		fputs(user, f);
	if (fclose(f) != 0)
		return -ENOMEM;
	if (len > 0 && text[len - 1] == ' ')
		text[len - 1] = 0;
	*ret = TAKE_PTR(text);
	return 0;
}

/* The longest common parent directory of two absolute paths, or NULL when only "/". */
static char *common_parent(const char *a, const char *b)
{
	size_t i = 0, end = 0;

	for (; a[i] && a[i] == b[i]; i++)
		if (a[i] == '/')
			end = i;
	/* One is the other's parent (or they are the same). */
	if ((!a[i] && (!b[i] || b[i] == '/')) || (!b[i] && a[i] == '/'))
		end = i;
	return end > 0 ? strndup(a, end) : NULL;
}

/* ccache's environment for make and everything it runs. */
static int setup_env(const struct kts_compile_plan *p, const char *work_dir, const char *src,
		     const char *obj)
{
	_cleanup_free_ char *log = NULL, *base = NULL;

	if (asprintf(&log, "%s/" STATS_LOG, work_dir) < 0)
		return -ENOMEM;
	if ((p->ccache_dir && setenv("CCACHE_DIR", p->ccache_dir, 1) < 0) ||
	    setenv("CCACHE_STATSLOG", log, 1) < 0)
		return negative_errno();
	/*
	 * Out of tree, Kbuild names the sources by absolute paths: ccache hashes (and passes
	 * on) the ones under base_dir relative to the working directory. In the tree, Kbuild
	 * passes relative paths already; the tree as base_dir covers Makefiles that do not.
	 */
	base = src ? common_parent(src, obj) : strdup(obj);
	if (base && setenv("CCACHE_BASEDIR", base, 1) < 0)
		return negative_errno();
	return 0;
}

struct setup_vars {
	char *cc, *hostcc, *real_cc, *real_hostcc, *src, *obj;
	char **v;
	size_t n;
};

static void setup_vars_done(struct setup_vars *s)
{
	free(s->cc);
	free(s->hostcc);
	free(s->real_cc);
	free(s->real_hostcc);
	free(s->src);
	free(s->obj);
	strv_free(s->v, s->n);
}

static int push(struct setup_vars *s, char *v)
{
	if (!v)
		return -ENOMEM;
	s->v[s->n++] = v;
	return 0;
}

static char *var(const char *name, const char *value)
{
	char *s;

	return asprintf(&s, "%s=%s", name, value) < 0 ? NULL : s;
}

int compile_setup(const struct kts_compile_plan *p, const char *work_dir, const char *wrapper_dir,
		  const char *src_dir, const char *obj_dir, char *const *vars, size_t n,
		  char ***ret, size_t *ret_n, char **ret_why)
{
	_cleanup_(setup_vars_done) struct setup_vars s = { 0 };
	const char *runner = p->ccache ? p->ccache : p->engine_bin;
	const char *prefix = p->ccache ? p->engine_bin : NULL;
	char *kc = NULL;
	int r;

	if (!runner)
		return why_set(ret_why, -EINVAL, "the compile plan names no ccache and no engine");
	s.v = calloc(4, sizeof(char *));
	s.src = realpath(src_dir, NULL);
	s.obj = realpath(obj_dir, NULL);
	if (!s.v || !s.src || !s.obj)
		return why_set(ret_why, -ENOENT, "cannot resolve the tree '%s' or '%s'", src_dir,
			       obj_dir);
	if (streq(s.src, s.obj)) {
		free(s.src);
		s.src = NULL;
	}
	r = mkdir_p(wrapper_dir, 0755);
	if (r >= 0)
		r = compile_real_cc(vars, n, &s.real_cc, &s.real_hostcc);
	if (r >= 0)
		r = write_wrapper(wrapper_dir, "cc", prefix, runner, s.real_cc, &s.cc);
	if (r >= 0 && p->ccache)
		r = write_wrapper(wrapper_dir, "hostcc", NULL, p->ccache, s.real_hostcc, &s.hostcc);
	if (r < 0)
		return why_set(ret_why, r, "cannot write the compiler wrapper in '%s': %s",
			       wrapper_dir, strerror(-r));
	if (push(&s, var("CC", s.cc)) < 0 || (s.hostcc && push(&s, var("HOSTCC", s.hostcc)) < 0))
		return -ENOMEM;
	if (p->ccache) {
		r = kcflags(s.src, s.obj, pipeline_make_var(vars, n, "KCFLAGS"), &kc);
		if (r < 0 || push(&s, kc) < 0)
			return -ENOMEM;
		r = setup_env(p, work_dir, s.src, s.obj);
		if (r < 0)
			return why_set(ret_why, r, "cannot set ccache's environment: %s",
				       strerror(-r));
	}
	r = engine_setup_env(p); /* DISTCC_HOSTS, ICECC_VERSION: make inherits them */
	if (r < 0)
		return why_set(ret_why, r, "cannot set the compile engine's environment: %s",
			       strerror(-r));
	*ret = TAKE_PTR(s.v);
	*ret_n = s.n;
	s.n = 0;
	return 0;
}

int compile_stats_read(const char *work_dir, struct kts_compile_stats *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	size_t len;
	int r;

	*ret = (struct kts_compile_stats){ 0 };
	if (asprintf(&path, "%s/" STATS_LOG, work_dir) < 0)
		return -ENOMEM;
	r = read_full_file(path, COMPILE_STATS_MAX, &text, &len);
	if (r == -ENOENT) {
		ret->present = true;
		return 0;
	}
	if (r < 0)
		return r;
	return compile_stats_parse(text, len, ret);
}
