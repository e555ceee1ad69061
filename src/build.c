/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The parent's half of a build (DESIGN §5–7): one function per step of the seed, in its
 * order, called by build_run() (the store's step is build-store.c's, the registry's pull and
 * push build-remote.c's). A step returns 0 (or 1: "done, stop here"), or negative
 * errno with a one-line reason. Everything a step acquires lives in struct build_ctx
 * and is released by build_ctx_done(), in the one order that is safe: the scope is gone
 * when it runs, then the LLC locks, the store, the key and source-tree locks, the work
 * directory.
 *
 * The work directory {cache}/.tmp/build.{pid} holds what the in-scope half reads: the
 * staged base config and extra fragments (copied BEFORE they are hashed into the key, so
 * the key names the bytes that are built) and a fetched tree under src/. Leftovers of
 * a killed build are swept like any .tmp/{name}.{pid}; a live one holds its lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "build-internal.h"
#include "cache.h"
#include "compile.h"
#include "cpuset.h"
#include "engine.h"
#include "kconfig.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "pipeline.h"
#include "plan.h"
#include "progress.h"
#include "registry.h"
#include "reserve.h"
#include "session.h"
#include "stamps.h"
#include "sysroot.h"
#include "testhook.h"
#include "hash.h"
#include "interrupt.h"
#include "job.h"
#include "topology.h"
#include "util.h"


static void build_ctx_done(struct build_ctx *b)
{
	/* LLC locks first (the scope is already gone), then the store, then the tree locks. */
	if (b->have_resv)
		reserve_release(&b->resv);
	cache_store_free(b->store);
	registry_free(b->registry);
	if (b->uncached_stage)
		(void) rm_rf(b->uncached_stage);
	free(b->uncached_stage);
	safe_close(b->uncached_lock_fd);
	safe_close(b->key_lock_fd);
	safe_close(b->source_lock_fd);
	if (b->work)
		(void) rm_rf(b->work);
	free(b->work);
	safe_close(b->work_lock_fd);
	source_free(b->src);
	pipeline_toolchain_done(&b->tc);
	kconfig_merge_done(&b->merged);
	strv_free(b->extra, b->n_extra);
	free(b->base);
	free(b->base_shown);
	free(b->base_key);
	free(b->build_dir);
	free(b->key);
	free(b->count_file);
	job_result_done(&b->out);
	compile_plan_done(&b->compile);
	free(b->compile_dir);
	free(b->wrapper_dir);
	stamps_done(&b->stamps);
	build_recheck_done(b);
	free(b->root);
}

void build_result_done(struct kts_build_result *r)
{
	free(r->key);
	free(r->label);
	free(r->image_path);
	free(r->entry_path);
	free(r->not_cached);
	free(r->failed_log);
	free(r->distributed);
	free(r->remote);
	free(r->not_pushed);
	free(r->push_error);
	*r = (struct kts_build_result){ 0 };
}

/* ---------------------------------------------------------------- 1. identify */

/* The cache root and our work directory in it; leftovers of dead builds go first. */
static int build_open_cache(struct build_ctx *b, char **ret_why)
{
	const char *var = NULL;
	int r;

	r = cache_root(&b->root, &var);
	if (r < 0)
		return why_set(ret_why, -ENXIO, "no usable cache directory: %s is %s; set "
			       "KTSCOPE_CACHE_DIR to an absolute path", strempty(var),
			       r == -ENOENT ? "unset" : "not an absolute path");
	r = mkdir_p(b->root, 0755);
	if (r < 0)
		return why_set(ret_why, -ENXIO, "cannot create the cache directory '%s': %s (set "
			       "KTSCOPE_CACHE_DIR to a writable place)", b->root, strerror(-r));
	r = cache_sweep_tmp(b->root);
	if (r > 0)
		log_debug("removed %d leftover temporary director%s of dead builds", r,
			  r == 1 ? "y" : "ies");
	/* Empty (an earlier build of a recycled pid is gone) and locked until removed. */
	r = cache_tmp_create(b->root, "build", 0700, &b->work, &b->work_lock_fd);
	if (r < 0)
		return why_set(ret_why, -ENXIO, "cannot write to the cache '%s': %s", b->root,
			       strerror(-r));
	return 0;
}

/* The base config: a target as is, a file copied into the work dir and hashed there. */
static int build_stage_base(struct build_ctx *b, char **ret_why)
{
	const char *base = b->req->base;
	_cleanup_free_ char *abs = NULL;
	char sha[HASH_SHA256_HEX_SIZE];
	int r;

	if (pipeline_base_is_target(base)) {
		b->base = strdup(base);
		b->base_shown = strdup(base);
		b->base_key = strdup(base);
		return b->base && b->base_shown && b->base_key ? 0 : -ENOMEM;
	}
	abs = realpath(base, NULL);
	if (!abs || access(abs, R_OK) < 0)
		return why_set(ret_why, -EINVAL, "invalid --base '%s': expected defconfig, "
			       "tinyconfig, kvm_guest or a readable config file", base);
	if (asprintf(&b->base, "%s/base.config", b->work) < 0)
		return -ENOMEM;
	r = copy_file(abs, b->base);
	if (r >= 0)
		r = hash_sha256_file(b->base, sha);
	if (r < 0)
		return why_set(ret_why, -EINVAL, "cannot read --base '%s': %s", abs, strerror(-r));
	if (asprintf(&b->base_key, "file:%s", sha) < 0)
		return -ENOMEM;
	b->base_shown = TAKE_PTR(abs);
	return 0;
}

/* Each extra fragment copied into the work dir, then merged (and hashed) from the copy. */
static int build_stage_fragments(struct build_ctx *b, char **ret_why)
{
	const struct kts_build_request *q = b->req;
	int r;

	b->extra = calloc(q->n_extra + 1, sizeof(char *));
	if (!b->extra)
		return -ENOMEM;
	for (size_t i = 0; i < q->n_extra; i++) {
		if (asprintf(&b->extra[i], "%s/extra-%zu.config", b->work, i + 1) < 0)
			return -ENOMEM;
		b->n_extra++;
		r = copy_file(q->extra[i], b->extra[i]);
		if (r < 0)
			return why_set(ret_why, -EINVAL, "cannot read extra kconfig fragment '%s': %s",
				       q->extra[i], strerror(-r));
	}
	r = kconfig_merge_as((const char *const *) b->extra, q->extra, q->n_extra, &b->merged,
			     ret_why);
	if (r < 0) {
		if (ret_why && !*ret_why)
			(void) why_set(ret_why, r, "cannot read the kconfig fragments: %s",
				       strerror(-r));
		return -EINVAL;
	}
	return 0;
}

static int build_make_build_dir(struct build_ctx *b, char **ret_why)
{
	const char *d = b->req->build_dir;

	if (!d)
		return 0;
	if (mkdir(d, 0755) < 0 && errno != EEXIST)
		return why_set(ret_why, -EINVAL, "cannot create --build-dir '%s': %s", d,
			       strerror(errno));
	b->build_dir = realpath(d, NULL);
	if (!b->build_dir)
		return why_set(ret_why, -EINVAL, "invalid --build-dir '%s'", d);
	return 0;
}

/* A local tarball must be the file that was hashed when it is extracted. */
static int tarball_stat(const struct kts_source *s, struct stat *ret)
{
	if (s->kind != KTS_SOURCE_TARBALL || !s->path)
		return 0;
	return stat(s->path, ret) < 0 ? negative_errno() : 1;
}

/* The identity the tarball memo keys on (source-memo.h): ctime too, which users cannot set. */
static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int build_tarball_unchanged(const struct build_ctx *b, char **ret_why)
{
	struct stat now;
	int r = tarball_stat(b->src, &now);

	if (r == 0)
		return 0;
	if (r < 0 || !same_file(&b->tarball, &now))
		return why_set(ret_why, -EIO, "tarball '%s' changed since it was hashed; run the "
			       "build again", b->src->path);
	return 0;
}

/*
 * A source that cannot be opened or fetched fails the build (exit 1): its errors must read
 * neither as the request's (-EINVAL, -EBUSY, -ENXIO) nor as the manager's (build.h):
 * -EACCES is a git remote's authentication, -EPERM a refused https-to-http redirect,
 * -EMEDIUMTYPE an HTML page where a tarball or releases.json was expected.
 */
static int source_error(int r)
{
	switch (r) {
	case -EINVAL:
	case -EBUSY:
	case -ENXIO:
	case -EHOSTDOWN:
	case -EACCES:
	case -EPERM:
	case -EMEDIUMTYPE:
		return -EIO;
	default:
		return r;
	}
}

static int build_fetch(struct build_ctx *b, char **ret_why)
{
	_cleanup_free_ char *dir = NULL;
	int r;

	if (asprintf(&dir, "%s/src", b->work) < 0)
		return -ENOMEM;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return why_set(ret_why, -ENXIO, "cannot create '%s': %s", dir, strerror(-r));
	progress_event("phase", "\"phase\":\"fetch\",\"state\":\"start\"");
	r = source_fetch(b->src, dir, NULL, ret_why);
	if (r < 0) {
		if (ret_why && !*ret_why)
			(void) why_set(ret_why, r, "%s", strerror(-r));
		return source_error(r);
	}
	r = testhook("fetch");
	if (r < 0)
		return why_set(ret_why, -EIO, "cannot fetch the source: %s", strerror(-r));
	return build_tarball_unchanged(b, ret_why);
}

static int build_open_source(struct build_ctx *b, char **ret_why)
{
	const struct kts_build_request *q = b->req;
	_cleanup_free_ char *memo = NULL;
	int r;

	if (asprintf(&memo, "%s/.tarballs", b->root) < 0)
		return -ENOMEM;
	r = source_open(&q->spec, &(const struct kts_fetch_opts){ .tarball_memo = memo }, &b->src,
			ret_why);
	if (r < 0) {
		if (r == -ENOEXEC || r == -ENOTDIR || (r == -ENOENT && q->spec_is_local_dir)) {
			if (ret_why && !*ret_why)
				(void) why_set(ret_why, r, "not a kernel tree");
			return -EINVAL;
		}
		if (ret_why && !*ret_why)
			(void) why_set(ret_why, r, "cannot open the kernel source: %s", strerror(-r));
		return source_error(r);
	}
	/* The file as it was hashed: extraction re-checks against it. */
	b->tarball = b->src->tarball_st;
	return 0;
}

/* Step 1: the cache, the inputs (staged), the build dir and the source's identity. */
static int build_identify_source(struct build_ctx *b, char **ret_why)
{
	int r;

	r = build_open_cache(b, ret_why);
	if (r < 0)
		return r;
	r = build_stage_base(b, ret_why);
	if (r < 0)
		return r;
	r = build_stage_fragments(b, ret_why);
	if (r < 0)
		return r;
	r = build_make_build_dir(b, ret_why);
	if (r < 0)
		return r;
	r = build_open_source(b, ret_why);
	if (r < 0)
		return r;
	b->cacheable = b->src->cacheable && !b->req->no_cache;
	if (!b->src->cacheable)
		log_notice("this build will not be cached: %s", strempty(b->src->why));
	b->clean = b->req->clean;
	if (b->clean && b->src->kind != KTS_SOURCE_LOCAL) {
		log_notice("--clean applies to local trees only; a fresh %s tree is clean already",
			   source_kind_to_string(b->src->kind));
		b->clean = false;
	}
	/* Sources known only after download (URLs, abbreviated commits) are fetched first. */
	if (!b->src->identity && b->src->kind != KTS_SOURCE_LOCAL) {
		r = build_fetch(b, ret_why);
		if (r < 0)
			return r;
	}
	b->res->label = strdup(b->src->label);
	return b->res->label ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- 2. toolchain */

/* Step 2: the versions the key fingerprints; a missing compiler or make is fatal. */
static int build_toolchain(struct build_ctx *b, char **ret_why)
{
	const struct kts_build_request *q = b->req;
	_cleanup_free_ char *tc_cache = NULL, *cc = NULL, *ld = NULL;
	const char *cc_from = NULL, *ld_from = NULL;

	if (asprintf(&tc_cache, "%s/.toolchain", b->root) < 0)
		return -ENOMEM;
	if (pipeline_make_tools(q->make_vars, q->n_make_vars, &cc, &ld, &cc_from, &ld_from) < 0)
		return -ENOMEM;
	(void) pipeline_toolchain(tc_cache, cc, ld, &b->tc);
	if ((cc_from && !b->tc.cc) || (ld_from && !b->tc.ld)) {
		/* The user picked the tool: name the one missing and where it came from. */
		bool cc_missing = cc_from && !b->tc.cc;
		const char *from = cc_missing ? cc_from : ld_from;

		return why_set(ret_why, -ENXIO, "no %s '%s' found (from %s=%s): install it or "
			       "change the make variable", cc_missing ? "compiler" : "linker",
			       cc_missing ? cc : ld, from,
			       strempty(pipeline_make_var(q->make_vars, q->n_make_vars, from)));
	}
	if (!b->tc.make || !b->tc.cc)
		return why_set(ret_why, -ENXIO, "no %s found: install the kernel build toolchain "
			       "(Debian: build-essential flex bison bc libelf-dev libssl-dev "
			       "dwarves)", !b->tc.make ? "make" : "C compiler");
	return 0;
}

/* ---------------------------------------------------------------- 3. key */

/* Step 3: the cache key over the source identity and the staged inputs' bytes. */
static int build_key(struct build_ctx *b, char **ret_why)
{
	_cleanup_free_ const char **extra_sha = calloc(b->merged.n_extras + 1, sizeof(char *));
	_cleanup_free_ char *inputs = NULL;
	struct kts_cache_inputs in = {
		.source_identity = b->src->identity,
		.base = b->base_key,
		.fragment_sha256 = kconfig_fragment_sha256(),
		.extra_sha256 = extra_sha,
		.n_extra = b->merged.n_extras,
		.arch = b->arch,
		.make_vars = (const char *const *) b->req->make_vars,
		.n_make_vars = b->req->n_make_vars,
		.cc = b->tc.cc,
		.ld = b->tc.ld,
		.pahole = b->tc.pahole,
	};

	if (!extra_sha)
		return -ENOMEM;
	for (size_t i = 0; i < b->merged.n_extras; i++)
		extra_sha[i] = b->merged.extras[i].sha256;
	if (cache_inputs_hash(&in, &inputs) < 0 ||
	    cache_key(b->src->label, b->arch, inputs, &b->key) < 0)
		return why_set(ret_why, -EIO, "cannot compose the cache key for '%s'",
			       b->src->label);
	log_debug("cache key %s", b->key);
	b->res->key = strdup(b->key);
	return b->res->key ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- 4. cache check */

/*
 * --headers and an entry without headers/ (built without --headers, or pulled: they are
 * never pushed): rebuilt as --force would, said once. An entry with them serves any build.
 */
static bool lacks_headers(struct build_ctx *b, const struct kts_cache_entry *e)
{
	_cleanup_free_ char *dir = NULL;
	struct stat st;

	if (!b->req->headers)
		return false;
	if (asprintf(&dir, "%s/" CACHE_DIR_HEADERS, e->path) < 0)
		return true;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return false;
	if (!b->said_headers)
		log_notice("'%s' is cached without headers/; rebuilding it for --headers", b->key);
	b->said_headers = true;
	return true;
}

/* Step 4: 1 = a hit (the result says which entry), 0 = build it (never a failure). */
static int build_check_cache(struct build_ctx *b, char **ret_why)
{
	_cleanup_cache_entry_ struct kts_cache_entry *e = NULL;
	_cleanup_free_ char *why = NULL;
	int r;

	if (!b->cacheable || b->req->force)
		return 0;
	r = cache_lookup(b->root, b->key, kconfig_fragment_sha256(), &e, &why);
	if (r == 1 && lacks_headers(b, e))
		r = 0;
	if (r == 1) {
		progress_event("cache", "\"hit\":true,\"key\":%s,\"image\":%s",
			       progress_json_str(e->key), progress_json_str(e->image_path));
		b->res->outcome = KTS_BUILD_CACHED;
		b->res->built_at = e->meta->built_at;
		b->res->entry_path = TAKE_PTR(e->path);
		b->res->image_path = TAKE_PTR(e->image_path);
		return 1;
	}
	if (r == -EBADMSG)
		log_warning("cache entry '%s' is corrupt (%s); rebuilding it", b->key,
			    strempty(why));
	else if (r < 0)
		log_warning_errno(r, "cannot look up '%s' in the cache: %m", b->key);
	progress_event("cache", "\"hit\":false,\"key\":%s", progress_json_str(b->key));
	return 0;
}

/* ---------------------------------------------------------------- 5. source lock */

/* The lock at path, waiting and saying for whom (cache_lock_wait()); 1 = it waited. */
static int wait_exclusive(const struct build_ctx *b, const char *path, const char *what,
			  int *ret_fd, char **ret_why)
{
	int r = cache_lock_wait(b->root, path, what, false, true, ret_fd);

	if (r < 0)
		return why_set(ret_why, -ENXIO, "cannot lock %s: %s", what, strerror(-r));
	return r;
}

/*
 * Step 5: one build per tree and one per cache key at a time; whoever waited looks the
 * cache up again, since the one it waited for may have stored the result. 1 = a hit.
 * Nothing here is worth doing without a manager to build in, so that is checked first.
 */
static int build_lock_source(struct build_ctx *b, char **ret_why)
{
	_cleanup_free_ char *path = NULL, *what = NULL;
	int r;

	r = session_check_manager(b->req->manager);
	if (r < 0)
		return r; /* logged */
	if (getenv_nonempty("KTSCOPE_BYPASS_LOCKS"))
		return 0;
	if (b->src->kind == KTS_SOURCE_LOCAL) {
		r = cache_source_lock_path(b->root, b->src->dir, &path);
		if (r < 0 || asprintf(&what, "source tree '%s'", b->src->dir) < 0)
			return -ENOMEM;
		r = wait_exclusive(b, path, what, &b->source_lock_fd, ret_why);
		if (r < 0)
			return r;
		if (build_check_cache(b, NULL) > 0)
			return 1;
	}
	/* Every source: one build per cache key; the others wait and share its result. */
	if (!b->cacheable)
		return 0;
	free(path);
	free(what);
	path = what = NULL;
	r = cache_build_lock_path(b->root, b->key, &path);
	if (r < 0 || asprintf(&what, "'%s'", b->key) < 0)
		return r == -EINVAL ? -EIO : -ENOMEM;
	r = wait_exclusive(b, path, what, &b->key_lock_fd, ret_why);
	if (r <= 0)
		return r;
	return build_check_cache(b, NULL) > 0 ? 1 : 0;
}

/* ---------------------------------------------------------------- 5a'. --headers */

/*
 * Step 5a': --headers runs make headers_install, which runs rsync (the kernel's Makefile
 * since 5.3): without it the build would fail at its very end, after the whole make, so
 * it is refused now, before the CPUs are reserved (exit 4). A cache hit needs nothing.
 */
static int build_check_headers(struct build_ctx *b, char **ret_why)
{
	_cleanup_free_ char *rsync = NULL;

	if (!b->req->headers)
		return 0;
	/* Kbuild passes INSTALL_HDR_PATH to the shell unquoted: a space or quote breaks it. */
	if (b->root[strcspn(b->root, " \t\n'\"\\$`")])
		return why_set(ret_why, -EINVAL, "--headers: the cache directory '%s' has a space "
			       "or a shell quote, which the kernel's make headers_install cannot "
			       "take; set KTSCOPE_CACHE_DIR to a path without one", b->root);
	rsync = find_program("rsync");
	if (!rsync)
		return why_set(ret_why, -ENXIO, "--headers: no 'rsync' in PATH, which the kernel's "
			       "make headers_install runs; install rsync");
	return 0;
}

/* ---------------------------------------------------------------- 5b. compile plan */

/* Step 5b: ccache (compile.c) and the distributed engines; no effect on the key. */
static int build_compile(struct build_ctx *b, char **ret_why)
{
	_cleanup_free_ char *cc = NULL, *hostcc = NULL;
	int r;

	r = compile_real_cc(b->req->make_vars, b->req->n_make_vars, &cc, &hostcc);
	if (r >= 0)
		r = compile_plan(&b->req->compile, b->root, cc, &b->compile, ret_why);
	if (r >= 0)
		r = engine_summary(&b->compile, &b->res->distributed);
	if (r < 0 || !compile_plan_active(&b->compile))
		return r;
	if (asprintf(&b->compile_dir, "%s/compile", b->work) < 0 ||
	    asprintf(&b->wrapper_dir, "%s/wrappers", b->root) < 0)
		return -ENOMEM;
	if (mkdir(b->compile_dir, 0700) < 0)
		return why_set(ret_why, -ENXIO, "cannot create '%s': %s", b->compile_dir,
			       strerror(errno));
	return 0;
}

/* ---------------------------------------------------------------- 6. reserve */

/* The host's CPU topology; a file it cannot read is named. */
static int build_load_topology(struct kts_topology *ret, char **ret_why)
{
	struct kts_sysroot root = KTS_SYSROOT_INIT;
	_cleanup_free_ char *errpath = NULL;
	int r;

	r = sysroot_open(NULL, &root);
	if (r < 0)
		return why_set(ret_why, -ENXIO, "cannot open sysroot '/': %s", strerror(-r));
	r = topo_load(&root, ret, &errpath);
	sysroot_close(&root);
	if (r == -EBADMSG)
		return why_set(ret_why, -ENXIO, "cannot read the CPU topology: malformed '%s'",
			       errpath ? errpath : "?");
	if (r < 0)
		return why_set(ret_why, -ENXIO, "cannot read the CPU topology: '%s': %s",
			       errpath ? errpath : "?", strerror(-r));
	return 0;
}

/* Step 6: the CPUs (LLC locks), waiting for them unless --no-wait. */
static int build_reserve(struct build_ctx *b, char **ret_why)
{
	struct kts_topology t _cleanup_(topo_done) = { 0 };
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED, .cpus = b->req->cpus };
	_cleanup_free_ char *cpus = NULL;
	int r, rc;

	r = build_load_topology(&t, ret_why);
	if (r < 0)
		return r;
	if (req.cpus > cpuset_count(&t.allowed))
		return why_set(ret_why, -EINVAL, "--cpu-cap %u exceeds the %u CPUs this process "
			       "may use", req.cpus, cpuset_count(&t.allowed));
	progress_event("reservation", "\"state\":\"planning\"");
	rc = reserve_take(&t, &req, b->req->no_wait, &b->resv);
	if (rc == -EINTR)
		return rc;
	if (rc < 0) /* logged */
		return rc == -EBUSY || rc == -ETIME ? -EBUSY : rc == -EINVAL ? -EINVAL : -ENXIO;
	b->have_resv = true;
	r = testhook("reserve");
	if (r < 0)
		return why_set(ret_why, -ENXIO, "cannot reserve CPUs: %s", strerror(-r));
	/* make -j: the reserved CPUs + the engine's remote slots (the reservation stays local) */
	b->res->make_jobs = engine_make_jobs(b->resv.plan.make_jobs, b->compile.remote_jobs);
	(void) cpuset_format(&b->resv.plan.cpus, &cpus);
	progress_event("reservation", "\"state\":\"acquired\",\"cpus\":%s,\"make_jobs\":%u",
		       progress_json_str(cpus), b->resv.plan.make_jobs);
	return 0;
}

/* ---------------------------------------------------------------- 7. fetch, stage */

/* Step 7: the tree (fetched unless local), the artifacts' stage, the object count file. */
static int build_fetch_stage(struct build_ctx *b, char **ret_why)
{
	_cleanup_free_ char *pdir = NULL;
	const char *tree;
	char hex[HASH_SHA256_HEX_SIZE];
	int r;

	if (b->src->kind != KTS_SOURCE_LOCAL && !b->src->dir) {
		log_notice("unpacking the %s source into '%s/src'",
			   source_kind_to_string(b->src->kind), b->work);
		r = build_fetch(b, ret_why);
		if (r < 0)
			return r;
	}
	if (b->cacheable) {
		r = cache_store_begin(b->root, b->key, &b->store);
		if (r < 0)
			return why_set(ret_why, -ENXIO, "cannot write to the cache '%s': %s", b->root,
				       strerror(-r));
		b->stage = b->store->dir;
	} else {
		r = cache_tmp_create(b->root, "nocache", 0755, &b->uncached_stage,
				     &b->uncached_lock_fd);
		if (r < 0)
			return why_set(ret_why, -ENXIO, "cannot write to the cache '%s': %s", b->root,
				       strerror(-r));
		b->stage = b->uncached_stage;
	}
	/* The previous build of this tree's object count, for the progress %; optional. */
	tree = b->src->kind == KTS_SOURCE_LOCAL ? b->src->dir : b->src->label;
	if (hash_sha256_hex(tree, strlen(tree), hex) < 0)
		return -ENOMEM;
	if (asprintf(&pdir, "%s/.progress", b->root) >= 0 &&
	    (mkdir(pdir, 0755) == 0 || errno == EEXIST) &&
	    asprintf(&b->count_file, "%s/%.16s", pdir, hex) < 0)
		b->count_file = NULL;
	return 0;
}

/* ---------------------------------------------------------------- 7b. stamps */

/* Step 7b: the reproducible KBUILD_BUILD_* stamps (stamps.h), from the tree just staged. */
static int build_stamps(struct build_ctx *b, char **ret_why)
{
	const struct kts_build_request *q = b->req;
	int r;

	if (q->no_reproducible)
		return 0;
	r = stamps_for_source(b->src, q->make_vars, q->n_make_vars, q->source_date_epoch,
			      &b->stamps, ret_why);
	if (r < 0)
		return r;
	b->have_stamps = true;
	log_debug("KBUILD_BUILD_TIMESTAMP '%s' (%s)", b->stamps.timestamp, b->stamps.from);
	return 0;
}

/* ---------------------------------------------------------------- 8. run in scope */

/* "v1.24" from "v1.24" or "pahole v1.24"; NULL passes through. */
static const char *pahole_version(const char *line)
{
	const char *v;

	if (!line)
		return NULL;
	v = strrchr(line, ' ');
	return v ? v + 1 : line;
}

/* The job file (job.h) in the work dir: everything the in-scope half needs. */
static int build_write_job(const struct build_ctx *b, const char *path, const char *result)
{
	const struct kts_build_request *q = b->req;
	const struct kts_build_job j = {
		.src_dir = b->src->dir,
		.build_dir = b->build_dir,
		.stage_dir = (char *) b->stage,
		.result_file = (char *) result,
		.base = b->base,
		.extra = b->extra,
		.extra_names = (char **) q->extra,
		.n_extra = b->n_extra,
		.arch = (char *) b->arch,
		.jobs = b->res->make_jobs,
		.clean = b->clean,
		.compile_commands = b->src->kind == KTS_SOURCE_LOCAL,
		.json_events = progress_events_enabled(),
		.progress = progress_tty_enabled(),
		.pahole_version = (char *) pahole_version(b->tc.pahole),
		.count_file = b->count_file,
		.made_fifo = b->recheck.fifo,
		.make_vars = (char **) q->make_vars,
		.n_make_vars = q->n_make_vars,
		.compile = b->compile,
		.compile_dir = b->compile_dir,
		.wrapper_dir = b->wrapper_dir,
		.stamps = b->have_stamps ? (struct kts_stamps *) &b->stamps : NULL,
		.headers = q->headers,
	};

	return job_write(&j, path);
}

/*
 * A failed build's log outlives its stage directory: {root}/logs/{key}.log (the newest
 * failure of that key). Returns 0 and the path, or negative errno.
 */
static int keep_failed_log(const struct build_ctx *b, char **ret)
{
	_cleanup_free_ char *dir = NULL, *from = NULL, *to = NULL;
	int r;

	if (asprintf(&dir, "%s/logs", b->root) < 0 || asprintf(&from, "%s/build.log", b->stage) < 0 ||
	    asprintf(&to, "%s/%s.log", dir, b->key) < 0)
		return -ENOMEM;
	if (access(from, F_OK) < 0)
		return -ENOENT;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	if (rename(from, to) < 0)
		return negative_errno();
	*ret = TAKE_PTR(to);
	return 0;
}

/*
 * The in-scope half's numbers with the manager's merged in (telemetry.h: cgroup, then
 * manager, then rusage), and its steps' wall times among the phases. The kit's steps report
 * 0 when they did not run (headers without --headers); a step that ran took longer.
 */
static void build_take_telemetry(struct build_ctx *b, const struct kts_scope_accounting *acct)
{
	const struct kts_build_job_result *o = &b->out;
	double *s = b->res->phases.s;

	b->res->telemetry = o->telemetry;
	telemetry_merge_manager(&b->res->telemetry, acct);
	s[KTS_PHASE_CONFIGURE] = o->configure_seconds;
	s[KTS_PHASE_MAKE] = o->make_seconds;
	s[KTS_PHASE_STRIP] = o->strip_seconds;
	s[KTS_PHASE_VMLINUX_H] = o->vmlinux_h_seconds > 0 ? o->vmlinux_h_seconds : -1;
	s[KTS_PHASE_CAPABILITIES] = o->capabilities_seconds > 0 ? o->capabilities_seconds : -1;
	s[KTS_PHASE_HEADERS] = o->headers_seconds > 0 ? o->headers_seconds : -1;
	s[KTS_PHASE_COMPILE_COMMANDS] =
		o->compile_commands_seconds > 0 ? o->compile_commands_seconds : -1;
}

/* What the in-scope half said: a failure (already reported by it), or the result file. */
static int build_read_result(struct build_ctx *b, const struct kts_session_result *sr,
			     const char *result, char **ret_why)
{
	int r;

	if (sr->status != 0) {
		progress_event("result", "\"status\":\"failed\",\"exit\":%d", sr->status);
		if (sr->status > 128) {
			b->res->signal = sr->status - 128;
			return -EINTR;
		}
		(void) keep_failed_log(b, &b->res->failed_log);
		return -EPROTO;
	}
	r = job_result_read(result, &b->out, ret_why);
	if (r < 0)
		return r == -EINVAL || r == -EBUSY || r == -ENXIO ? -EIO : r;
	if (!b->out.ok)
		return why_set(ret_why, -EPROTO, "the build reported a failure: %s",
			       strempty(b->out.reason));
	b->res->image_size = b->out.image_size;
	b->res->vmlinux_size = b->out.vmlinux_size;
	b->res->vmlinux_unstripped = b->out.vmlinux_unstripped;
	b->res->ccache = b->out.compile_stats;
	build_take_telemetry(b, &sr->acct);
	return 0;
}

/* Step 8: the in-scope half, in a transient scope on the reserved CPUs. */
static int build_run_in_scope(struct build_ctx *b, char **ret_why)
{
	_cleanup_free_ char *job = NULL, *result = NULL;
	struct kts_session_result sr = { 0 };
	struct kts_child_watch made;
	struct timespec t0, t1;
	int r, early;

	if (asprintf(&job, "%s/job.json", b->work) < 0 ||
	    asprintf(&result, "%s/result.json", b->work) < 0)
		return -ENOMEM;
	early = build_recheck_open(b, &made); /* the re-check, as soon as make is done */
	if (early < 0)
		return early;
	r = build_write_job(b, job, result);
	if (r < 0)
		return why_set(ret_why, -EIO, "cannot write the job file '%s': %s", job,
			       strerror(-r));
	/* Exec'd as /proc/self/exe: works when the binary was replaced or deleted meanwhile. */
	char *av[5] = { (char *) "/proc/self/exe" };
	size_t n = 1;

	if (b->req->verbosity != 0)
		av[n++] = (char *) (b->req->verbosity < 0 ? "-q" : "-v");
	av[n++] = (char *) "__build-inner";
	av[n++] = job;
	av[n] = NULL;
	struct kts_session_spec ss = {
		.manager = b->req->manager,
		.what = "build",
		.argv = av,
		.res = &b->resv,
		.want = b->req->enforce,
		.accounting = true, /* the entry's telemetry (build_take_telemetry()) */
		.side = early ? &made : NULL,
	};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = session_run(&ss, &sr);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	build_recheck_close(b);
	b->res->seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (r < 0) /* logged */
		return r == -EINVAL || r == -EBUSY || r == -ENXIO ? -EIO : r;
	b->res->enforcement = sr.enforcement;
	return build_read_result(b, &sr, result, ret_why);
}

/* ---------------------------------------------------------------- the build */

/*
 * The parent's own phases (telemetry.h): identifying and fetching the source; waiting for
 * the source, key and LLC locks (and the reservation's planning, which is quick); the
 * store. The store's time is known only after metadata.json went into the entry with
 * it, so it reaches the summary and the events, not the entry.
 */
static void add_phase(struct build_ctx *b, int (*step)(struct build_ctx *, char **),
		      const struct timespec *t0)
{
	static const struct {
		int (*step)(struct build_ctx *, char **);
		enum kts_phase phase;
	} map[] = {
		{ build_identify_source, KTS_PHASE_SOURCE }, { build_fetch_stage, KTS_PHASE_SOURCE },
		{ build_lock_source, KTS_PHASE_LOCK_WAIT }, { build_reserve, KTS_PHASE_LOCK_WAIT },
		{ build_store, KTS_PHASE_STORE },
	};
	struct timespec t1;
	double *s;

	for (size_t i = 0; i < ELEMENTSOF(map); i++) {
		if (map[i].step != step)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = &b->res->phases.s[map[i].phase];
		*s = MAX(*s, 0.0) + (double) (t1.tv_sec - t0->tv_sec) +
		     (double) (t1.tv_nsec - t0->tv_nsec) / 1e9;
	}
}

/*
 * The steps in the seed's order; what they acquire stays in b for build_ctx_done(). A
 * step returns 1 for "done, stop here". SIGINT/SIGTERM/SIGHUP outside the scope stop the
 * build before the next step (interrupt.h): -EINTR, with the signal in res.
 */
static int build_steps(struct build_ctx *b, char **ret_why)
{
	static int (*const steps[])(struct build_ctx *, char **) = {
		build_identify_source, build_toolchain, build_key, build_check_cache,
		build_lock_source, build_pull, build_check_headers, build_compile, build_reserve,
		build_fetch_stage, build_stamps, build_run_in_scope,
		build_recheck_dirty, build_store, build_push,
	};

	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		struct timespec t0;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = steps[i](b, ret_why);
		add_phase(b, steps[i], &t0);

		/* --push: an entry found in the local cache is pushed as a stored one is. */
		if (r > 0 && b->res->outcome == KTS_BUILD_CACHED) {
			int p = build_push(b, ret_why);

			if (p < 0)
				r = p;
		}
		if (interrupt_pending()) {
			b->res->signal = interrupt_pending();
			return -EINTR;
		}
		if (r != 0)
			return r < 0 ? r : 0;
	}
	return 0;
}

/* The LLC locks go once the scope is gone (every path); the rest in build_ctx_done(). */
static int build_unlock(struct build_ctx *b)
{
	int r;

	if (!b->have_resv)
		return 0;
	r = testhook("unlock");
	reserve_release(&b->resv);
	b->have_resv = false;
	return r;
}

/* The build, then the locks, then what build_ctx_done() releases. */
static int build_with_ctx(const struct kts_build_request *req, struct kts_build_result *res,
			  char **ret_why)
{
	struct build_ctx b _cleanup_(build_ctx_done) = {
		.req = req, .res = res, .arch = pipeline_host_arch(),
		.source_lock_fd = -EBADF, .key_lock_fd = -EBADF,
		.work_lock_fd = -EBADF, .uncached_lock_fd = -EBADF, .stamps = { .epoch = -1 },
		.recheck = { .fifo_fd = -EBADF },
	};
	int r, u;

	r = build_steps(&b, ret_why);
	u = build_unlock(&b);
	if (u < 0 && r >= 0 && !interrupt_pending())
		return why_set(ret_why, -EIO, "cannot release the CPU locks: %s", strerror(-u));
	return r;
}

int build_run(const struct kts_build_request *req, struct kts_build_result *res,
	      char **ret_why)
{
	struct kts_interrupt_saved saved;
	int r;

	*res = (struct kts_build_result){ .enforcement = KTS_ENFORCE_AFFINITY };
	telemetry_init(&res->telemetry);
	phases_init(&res->phases);
	interrupt_catch(&saved);
	r = build_with_ctx(req, res, ret_why);
	/* A stop requested at any point, the cleanup included, is reported as such. */
	if (interrupt_pending() && !res->signal) {
		res->signal = interrupt_pending();
		r = -EINTR;
	}
	interrupt_restore(&saved);
	return r;
}
