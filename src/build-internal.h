/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the parent's build steps (build.c) share with the steps that live in their own
 * files (build-store.c, build-remote.c): the one context a build's steps fill and build_ctx_done()
 * releases. Internal to `ktscope build`; nothing outside build*.c includes it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "build.h"
#include "compile.h"
#include "job.h"
#include "kconfig.h"
#include "pipeline.h"
#include "reserve.h"
#include "source.h"
#include "stamps.h"

struct kts_cache_store;
struct kts_child_watch;
struct kts_registry;

/* The dirty re-check (build-recheck.c): its outcome, once it ran, and the FIFO it waits on. */
struct build_recheck {
	bool done;
	int r;          /* source_recheck()'s */
	bool changed;
	char *reason;
	double seconds;
	char *fifo;     /* {work}/made while the scope runs, or NULL */
	int fifo_fd;    /* its read end, or -EBADF */
};

struct build_ctx {
	const struct kts_build_request *req;
	struct kts_build_result *res;
	const char *arch;
	char *root;
	char *work;        /* {root}/.tmp/build.{pid}: staged inputs, fetched tree */
	int work_lock_fd;  /* holds work against sweeps (cache-tmp.h) */
	char *base;        /* what the child configures from: a target or the staged copy */
	char *base_shown;  /* the target or the canonical path of the user's file */
	char *base_key;    /* the target or "file:{sha256}" */
	char **extra;      /* staged copies of the extra fragments */
	size_t n_extra;
	char *build_dir;   /* canonical --build-dir, or NULL */
	struct kts_kconfig_merge merged;
	struct kts_toolchain tc;
	struct kts_source *src;
	bool cacheable, clean;
	struct stat tarball; /* a local tarball's identity when it was hashed */
	char *key;
	int source_lock_fd, key_lock_fd;
	struct kts_reservation resv;
	bool have_resv;
	struct kts_cache_store *store;
	char *uncached_stage;
	int uncached_lock_fd;
	const char *stage; /* where the artifacts go: the store's or the uncached dir */
	char *count_file;
	struct kts_build_job_result out; /* what the in-scope half reported */
	struct kts_compile_plan compile; /* ccache and the engines (compile.h) */
	char *compile_dir; /* {work}/compile: the ccache stats log */
	char *wrapper_dir; /* {root}/wrappers: the CC wrappers, kept across builds */
	struct kts_stamps stamps;  /* the KBUILD_BUILD_* stamps ... */
	bool have_stamps;          /* ... unless --no-reproducible */
	struct kts_registry *registry; /* --remote, once a step needed it (build-remote.c) */
	bool said_headers; /* --headers: the entry's lack of headers/ was said (build.c) */
	struct build_recheck recheck;
};

/*
 * Step 9 (build-recheck.c). build_recheck_open(), before the scope: the FIFO the in-scope
 * half tells "make is done" through, and *ret the watch that re-checks on it (1); 0 where
 * the re-check waits for step 9 (not a cacheable local tree, --headers, no FIFO).
 * build_recheck_close() after the scope; build_recheck_done() with the context.
 */
int build_recheck_open(struct build_ctx *b, struct kts_child_watch *ret);
void build_recheck_close(struct build_ctx *b);
void build_recheck_done(struct build_ctx *b);
int build_recheck_dirty(struct build_ctx *b, char **ret_why);

/* Step 10 (build-store.c): metadata and the atomic store, or the uncached result. */
int build_store(struct build_ctx *b, char **ret_why);

/* Step 5a (build-remote.c): a local miss pulled from --remote instead of built. 1 = pulled
 * (the result says so); 0 = build it: the registry has no such key, or failed (one warning). */
int build_pull(struct build_ctx *b, char **ret_why);
/* Step 11 (build-remote.c): --push: the stored or cached entry pushed to --remote. Never fails
 * the build: the result says what happened (pushed, not_pushed, push_error). */
int build_push(struct build_ctx *b, char **ret_why);
