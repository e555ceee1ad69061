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
