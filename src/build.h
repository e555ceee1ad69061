/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "registry.h"
#include "scope.h"
#include "session.h"
#include "source.h"
#include "telemetry.h"

/*
 * The parent's half of `ktscope build` (DESIGN §5–7), one named step each, in the seed's
 * order: build_run() calls build_identify_source → build_toolchain → build_key →
 * build_check_cache → build_lock_source → build_pull → build_check_headers → build_compile →
 * build_reserve → build_fetch_stage → build_stamps → build_run_in_scope → build_recheck_dirty →
 * build_store → build_push (the registry's two steps: build-remote.c). The in-scope half
 * (configure, make, validate, strip) is pipeline_run() in a re-executed ktscope; this module
 * hands it a job and reads back its result. Messages for the user on the way (waiting for a lock,
 * not cached because ...) are logged at notice/warning level; failures are returned.
 */

/* What `ktscope build` was asked to do, with argv already parsed and checked. */
struct kts_build_request {
	struct kts_source_spec spec; /* which source (parsed, no I/O done) */
	bool spec_is_local_dir;      /* SPEC or --source named a directory: a bad one is usage */
	const char *base;            /* defconfig | tinyconfig | kvm_guest | a config file */
	const char *const *extra;    /* --extra-kconfig files, in order */
	size_t n_extra;
	const char *build_dir;       /* --build-dir as given, or NULL */
	bool clean, force, no_cache, no_wait;
	bool headers;                /* --headers: make headers_install into the entry */
	unsigned cpus;               /* --cpu-cap / KTSCOPE_CPU_CAP; 0 = default budget */
	enum kts_enforcement enforce;
	enum kts_manager manager;
	int verbosity;               /* passed on to the in-scope half */
	char *const *make_vars;      /* canonical (pipeline_make_vars()) */
	size_t n_make_vars;
	struct kts_compile_request compile; /* --ccache, --ccache-remote, ... (compile.h) */
	bool no_reproducible;        /* --no-reproducible: no KBUILD_BUILD_* stamps (stamps.h) */
	const char *source_date_epoch; /* SOURCE_DATE_EPOCH (checked by the caller), or NULL */
	/* --remote (else KTSCOPE_REMOTE; checked by the caller), --ca-cert, --insecure; remote
	 * NULL: no registry. A local miss is pulled from it when it has the key. */
	struct kts_registry_opts registry;
	bool push;       /* --push: push the entry once stored (or found in the local cache) */
	bool push_dirty; /* --push-dirty: an entry of a dirty tree too (else it stays local) */
};

enum kts_build_outcome {
	KTS_BUILD_CACHED,   /* the inputs were cached: nothing built */
	KTS_BUILD_STORED,   /* built and stored in the cache */
	KTS_BUILD_UNCACHED, /* built, not stored (not_cached says why) */
	KTS_BUILD_PULLED,   /* pulled from the registry into the cache: nothing built */
};

/* What happened; filled as far as build_run() got. Release with build_result_done(). */
struct kts_build_result {
	enum kts_build_outcome outcome;
	char *key;        /* the cache key; NULL when it could not be composed */
	char *label;      /* the source's label */
	char *image_path; /* what `build` prints on stdout */
	char *entry_path; /* the cache entry (cached, stored) */
	int64_t built_at; /* cached: when the entry was built */
	char *not_cached; /* uncached: why */
	enum kts_enforcement enforcement;
	unsigned make_jobs;
	double seconds;   /* the in-scope run */
	uint64_t image_size, vmlinux_size, vmlinux_unstripped;
	char *failed_log; /* a failed build's kept log */
	char *distributed; /* "distcc HOSTS (+N jobs)", "built locally: REASON"; NULL: not asked */
	struct kts_compile_stats ccache; /* built with ccache: this build's statistics */
	int signal;       /* -EINTR: the build died of this signal */
	char *remote;     /* the registry (registry_name()), once one was opened */
	struct kts_registry_stats pull; /* pulled: what the pull moved */
	bool pushed;      /* --push: the entry is on the registry (push says what moved) */
	struct kts_registry_stats push;
	char *not_pushed; /* --push, but not pushed: why (a dirty tree, an uncached build) */
	char *push_error; /* --push failed (the entry stays stored; `build` exits 1): why */
	/* built (stored or uncached): where the time and memory went (telemetry.h); the
	 * phases are the parent's steps' and the in-scope half's, store included */
	struct kts_telemetry telemetry;
	struct kts_phases phases;
};
void build_result_done(struct kts_build_result *r);

/*
 * Runs a build. 0 on success (res->outcome says which). Errors, with *ret_why set to a
 * one-line reason for the user, or NULL when the reason was already printed (the in-scope
 * half reports its own failures; res->failed_log then names the kept log):
 *   -EINVAL   a bad request: source, base, fragment, build dir, CPU count (exit 2)
 *   -EBUSY    the CPUs are not available (--no-wait, exit 3)
 *   -ENXIO    the environment lacks something: toolchain, cache dir, topology (exit 4)
 *   -EHOSTDOWN, -EACCES, -EPERM, -EMEDIUMTYPE  from session_run(): the manager (exit 4)
 *   -EINTR    the build was interrupted by res->signal (exit 128+N)
 *   other     the build or the store failed (exit 1)
 */
int build_run(const struct kts_build_request *req, struct kts_build_result *res,
	      char **ret_why);
