/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The compile engines a build reaches past its reservation with (DESIGN §5, issue 12):
 * ccache (local and remote storage) in compile.c, and the distributed engines distcc and
 * icecream in engine.c. Neither changes the cache key: the same compiler makes the same
 * objects, wherever it runs and whether or not they came from a cache.
 *
 * The parent decides (compile_plan(): which ccache, which cache directory, which engine,
 * how many remote slots, or why it fell back to a local build), the decision travels to
 * the in-scope half in the job file (job.h, object "compile"), and the in-scope half
 * applies it to make (compile_setup(): a one-word CC wrapper and the environment) and
 * reads this build's ccache statistics back (compile_stats_read()). Credentials never
 * enter the job file, metadata or a message: the remote storage URL reaches ccache
 * through the environment the build inherits.
 */

enum kts_compile_engine {
	KTS_ENGINE_NONE = 0,
	KTS_ENGINE_DISTCC,
	KTS_ENGINE_ICECC,
};

/* What `ktscope build` was asked for (cli-build.c fills it; no I/O done). */
struct kts_compile_request {
	bool ccache;               /* --ccache[=DIR] / KTSCOPE_CCACHE */
	const char *ccache_dir;    /* DIR of --ccache=DIR / KTSCOPE_CCACHE=DIR, or NULL */
	const char *ccache_remote; /* --ccache-remote URL, as given: may hold credentials */
	enum kts_compile_engine engine; /* --distcc / --icecc */
	const char *distcc_hosts;  /* --distcc=HOSTS, else $DISTCC_HOSTS; NULL otherwise */
	unsigned remote_jobs;      /* --remote-jobs N; 0: what the hosts state / the engine reports */
	const char *cc;            /* the build's compiler (pipeline_make_tools(): "cc", "clang"
				    * with LLVM=1, or CC=): icecream packs it; NULL: "cc" */
};

/* What the parent decided; job.json's "compile" and metadata.json's "compile" hold it. */
struct kts_compile_plan {
	char *ccache;              /* the ccache binary, or NULL: no ccache */
	char *ccache_version;      /* "4.7.5" */
	char *ccache_dir;          /* CCACHE_DIR for the build, or NULL: the user's own setting */
	char *ccache_dir_used;     /* the directory ccache uses (ccache_dir or the user's) */
	char *ccache_remote_shown; /* the remote storage URL without credentials, or NULL */
	enum kts_compile_engine engine; /* NONE when none was asked for or it fell back */
	char *engine_bin;          /* the distcc or icecc binary */
	char *hosts;               /* distcc: the host list used; icecc: the scheduler */
	char *icecc_env;           /* icecc: the toolchain tarball (ICECC_VERSION) */
	unsigned remote_jobs;      /* slots added to the planned local CPUs for make -j */
	char *fallback;            /* why the requested engine is not used, or NULL */
};
void compile_plan_done(struct kts_compile_plan *p);
const char *compile_engine_to_string(enum kts_compile_engine e);

/* This build's ccache statistics, from its own stats log (not the global counters). */
struct kts_compile_stats {
	bool present;              /* ccache ran and its stats log was read */
	uint64_t direct_hits, preprocessed_hits, misses, uncacheable, remote_hits, errors;
};

/* ---------------------------------------------------------------- the request (compile-parse.c) */

/*
 * KTSCOPE_CCACHE's value: NULL, "", "0", "no": off; "1", "yes": on with the default
 * directory; an absolute path: on with that directory (*ret_dir points into value).
 * Anything else: -EINVAL. Outputs written on success only.
 */
int compile_ccache_env(const char *value, bool *ret_on, const char **ret_dir);

/*
 * A --ccache-remote URL: one ccache remote_storage URL (ccache(1) "Remote storage
 * backends"), optionally followed by |attributes. The scheme must be one ccache 4.7
 * knows: file, http, https (refused by compile_plan() unless the ccache found has the
 * feature), redis, redis+unix. *ret_shown (may be NULL): the URL without the
 * user:password@ of its authority, set on -EINVAL too, so a refusal can name the value.
 * 0, -EINVAL (bad scheme, empty, a control character or a space), -ENOMEM.
 */
int compile_remote_check(const char *url, char **ret_shown);
/* The URL's scheme, "redis" of "redis://h", in ret (size ≥ 16); -EINVAL when none. */
int compile_remote_scheme(const char *url, char ret[static 16]);

/* ------------------------------------------------ ccache's answers (compile-parse.c) */

/*
 * `ccache --version`'s output: *ret_version "4.7.5" (the first line's last word),
 * *ret_features its "Features:" line's words, space-separated ("" when it has none).
 * -EBADMSG when the first line is not "ccache version N.N[.N...]".
 */
int compile_version_parse(const char *text, size_t len, char **ret_version, char **ret_features);
/* a < b: < 0, equal: 0, a > b: > 0, comparing dot-separated numbers ("4.7.3"). */
int compile_version_cmp(const char *a, const char *b);

/*
 * `ccache --show-config`'s line for key: "(ORIGIN) key = VALUE". *ret_value VALUE (may
 * be ""), *ret_default whether ORIGIN is "default". -ENOENT when no line names key,
 * -EBADMSG on a malformed line or more than 64 KiB of lines.
 */
int compile_config_parse(const char *text, size_t len, const char *key, char **ret_value,
			 bool *ret_default);

/*
 * A CCACHE_STATSLOG file (ccache ≥ 4.5): per compile "# INPUT" then one counter name
 * per line (src/core/Statistic.hpp). Counted into *ret (present set): direct_cache_hit
 * and preprocessed_cache_hit as hits, cache_miss as a miss, remote_storage_hit as a
 * remote hit (also a hit), ccache's uncacheable counters (called_for_link, no_input_file,
 * unsupported_compiler_option, ...) as uncacheable, its error counters and
 * remote_storage_error/timeout as errors; other names count nowhere. -EBADMSG when a
 * line is neither "# ..." nor a counter name ([a-z0-9_], 1-64), holds a NUL, or the log
 * exceeds COMPILE_STATS_MAX bytes; *ret untouched then.
 */
#define COMPILE_STATS_MAX ((size_t) 64 << 20)
int compile_stats_parse(const char *text, size_t len, struct kts_compile_stats *ret);
static inline uint64_t compile_stats_hits(const struct kts_compile_stats *s)
{
	return s->direct_hits + s->preprocessed_hits;
}

/* ---------------------------------------------------------------- plan and setup (compile.c) */

/*
 * "812/840 hits (97%), 3 remote" into buf: hits = direct + preprocessed, the rate
 * hits / (hits + misses) rounded but never 100% with a miss; ", N remote" and
 * ", N ccache errors" when some (a remote storage that refused ccache counts there).
 */
void compile_stats_format(const struct kts_compile_stats *s, char *buf, size_t n);


/*
 * The compilers make uses with the canonical make variables: CC= as given, else clang
 * (LLVM=1), clang-N (LLVM=-N), DIR/clang (LLVM=DIR/), else gcc (Kbuild's default, not
 * the fingerprint's "cc"); HOSTCC= as given, else the same rule. 0 or -ENOMEM.
 */
int compile_real_cc(char *const *vars, size_t n, char **ret_cc, char **ret_hostcc);

/*
 * The parent's decision (build.c's build_compile step): the ccache binary and version,
 * the cache directory (--ccache=DIR > $CCACHE_DIR or ccache.conf's cache_dir, which
 * ccache applies itself: plan->ccache_dir NULL > {cache_root}/ccache, created), and the
 * remote storage: CCACHE_REMOTE_STORAGE is set in this process so the build inherits
 * it; the plan keeps the URL without credentials. cc: the compiler make uses
 * (compile_real_cc()), for the distributed engines. Nothing asked: 0, empty plan.
 * Errors, *ret_why one line: -ENXIO no ccache in PATH or the cache directory cannot be
 * made; -EINVAL the ccache found cannot use the remote URL's scheme; -ENOMEM.
 */
int compile_plan(const struct kts_compile_request *q, const char *cache_root, const char *cc,
		 struct kts_compile_plan *ret, char **ret_why);
/* True when the plan changes how make compiles (ccache or an engine). */
static inline bool compile_plan_active(const struct kts_compile_plan *p)
{
	return p->ccache || p->engine_bin;
}

/*
 * The in-scope half (build-inner.c): writes the one-word CC and HOSTCC wrappers into
 * wrapper_dir (named by their content, so a tree built again sees the same CC and Kbuild
 * does not rebuild it for a changed command line), sets this process's environment for
 * ccache (CCACHE_DIR when planned, CCACHE_STATSLOG={work_dir}/ccache-stats.log,
 * CCACHE_BASEDIR for out-of-tree builds, CCACHE_PREFIX for an engine behind ccache) and
 * returns the make variables that replace the user's of the same name on make's command
 * line: CC, HOSTCC, and KCFLAGS with the debug prefix maps first (obj_dir → ".", for O=
 * builds src_dir → "source"). *ret: NULL-terminated strv of *ret_n. -errno with *ret_why.
 */
int compile_setup(const struct kts_compile_plan *p, const char *work_dir, const char *wrapper_dir,
		  const char *src_dir, const char *obj_dir, char *const *vars, size_t n,
		  char ***ret, size_t *ret_n, char **ret_why);

/*
 * This build's statistics from {work_dir}/ccache-stats.log: 0 with ret->present; no log
 * (nothing compiled): 0, all zero, present; -EBADMSG / -errno otherwise (ret zeroed).
 */
int compile_stats_read(const char *work_dir, struct kts_compile_stats *ret);
