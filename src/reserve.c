/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reserve: the plan/wait/re-plan loop of DESIGN §3 "Acquire". It owns the order of
 * one attempt (fresh holder counts → plan → flocks in ascending LLC index), the
 * single immediate re-plan after a lost race, the wait (re-plan every 250 ms, the
 * holders named once, a quiet elapsed counter) and the release. lock.c owns the lock
 * files, flock and the /proc/locks holder lookup; plan.c the pure planner.
 *
 * The lock directory and its lock files must stay the ones the wait started with. A
 * holder keeps its flock on the file it opened; when the directory or a lock file is
 * deleted (or deleted and made again) while we wait, the files we would create are new
 * inodes its locks do not cover, and "acquiring" them would run beside the holders. So
 * the wait checks their identities before every re-plan and gives up (-ESTALE, naming
 * the directory or file) when one changed: failing is the only safe answer, since the
 * holders of the removed files can no longer be seen or waited for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpuset.h"
#include "interrupt.h"
#include "log.h"
#include "macro.h"
#include "progress.h"
#include "reserve.h"

/* Re-plan interval while waiting (DESIGN §3 "Acquire"). */
#define RESERVE_WAIT_STEP_MS 250U

/*
 * The holders standing in the way of a request, one line each:
 * "LLC 2: pid 1234 (exclusive) cmd: sleep 100". In shared mode only exclusive
 * holders block; in exclusive mode every holder does. reason (the planner's
 * line, may be NULL) goes first.
 */
static int describe_blockers(const char *dir, const struct kts_topology *t,
			     enum kts_lock_mode mode, const char *reason, char **ret)
{
	struct kts_llc_holders *v = NULL;
	char *text = NULL;
	size_t size = 0;
	bool any;
	FILE *f;
	int r;

	r = lock_llc_holders(dir, t, &v);
	if (r < 0)
		return r;
	f = open_memstream(&text, &size);
	if (!f) {
		lock_llc_holders_free(v, t->n_llcs);
		return -ENOMEM;
	}
	any = reason && *reason;
	if (any)
		fprintf(f, "%s\n", reason);
	for (size_t i = 0; i < t->n_llcs; i++)
		for (size_t k = 0; k < v[i].n; k++) {
			if (mode == KTS_LOCK_SHARED && v[i].h[k].mode != KTS_LOCK_EXCLUSIVE)
				continue;
			fprintf(f, "LLC %u: pid %d (%s) cmd: %s\n", t->llcs[i].index,
				(int) v[i].h[k].pid, lock_mode_to_string(v[i].h[k].mode),
				v[i].h[k].cmdline);
			any = true;
		}
	lock_llc_holders_free(v, t->n_llcs);
	/* Holders can leave between the conflict and this look; say so rather than nothing. */
	if (!any)
		fputs("LLC locks busy (the holders left before they could be named)\n", f);
	if (fclose(f) != 0 || !text) {
		free(text);
		return -ENOMEM;
	}
	text[strlen(text) - 1] = '\0'; /* no trailing newline */
	*ret = text;
	return 0;
}

/* Result of one plan-and-lock attempt that did not fail hard. */
enum attempt_result {
	ATTEMPT_OK,
	ATTEMPT_BUSY, /* a holder is in the way */
};

/*
 * Opens and flocks the planned LLCs in ascending index order (everyone locks in
 * this order, so two reservers retrying cannot hold each other off forever).
 * Fills fds[0..n_llcs) on ATTEMPT_OK; on ATTEMPT_BUSY or an error every lock
 * taken so far is dropped again, and *ret_why names the path for errors.
 */
static int acquire_plan(const char *dir, const struct kts_plan *plan, enum kts_lock_mode mode,
			int *fds, char **ret_why)
{
	for (size_t i = 0; i < plan->n_llcs; i++) {
		_cleanup_free_ char *path = NULL;
		_cleanup_close_ int fd = -EBADF;
		const char *fsname = NULL;
		int r;

		r = lock_llc_path(dir, plan->llcs[i], &path);
		if (r >= 0) {
			fd = lock_open(path, &fsname);
			r = fd < 0 ? fd : lock_try(fd, mode);
		}
		if (r == 0) {
			fds[i] = TAKE_FD(fd);
			continue;
		}

		lock_close_fds(fds, i);
		/*
		 * A FIFO or directory at a lock path is the environment's fault, not
		 * a bad request: keep -EINVAL for the planner's meaning.
		 */
		if (fd < 0 && r == -EINVAL)
			r = -EBADF;
		if (r == -EWOULDBLOCK) {
			log_debug("LLC %u lock '%s' is busy", plan->llcs[i], path);
			return ATTEMPT_BUSY;
		}
		if (!path)
			return r;
		if (r == -EREMOTE)
			(void) asprintf(ret_why, "lock file '%s' is on %s, where flock(2) does not "
					"coordinate processes", path, fsname);
		else if (fd < 0)
			(void) asprintf(ret_why, "cannot use lock file '%s': %s", path,
					r == -ELOOP   ? "it is a symbolic link" :
					r == -EBADF ? "it is not a regular file" :
						      strerror(-r));
		else
			(void) asprintf(ret_why, "flock on '%s' failed: %s", path, strerror(-r));
		return r;
	}
	return ATTEMPT_OK;
}

/*
 * One pass: fresh holder counts, a plan, the flocks. Returns ATTEMPT_OK with
 * ret filled, ATTEMPT_BUSY (*ret_why = the planner's reason, if it gave one),
 * or a negative errno with *ret_why set when a reason is known.
 */
static int reserve_attempt(const struct kts_topology *t, const struct kts_reserve_opts *o,
			   const char *dir, enum kts_lock_mode mode, struct kts_reservation *ret,
			   char **ret_why)
{
	_cleanup_free_ struct kts_llc_load *load = NULL;
	_cleanup_free_ int *fds = NULL;
	struct kts_plan plan = { 0 };
	int r;

	r = lock_llc_load(dir, t, &load);
	if (r < 0) {
		(void) asprintf(ret_why, "cannot read the lock holders from /proc/locks: %s",
				strerror(-r));
		return r;
	}
	r = plan_compute(t, load, &o->req, &plan, ret_why);
	if (r == -EBUSY)
		return ATTEMPT_BUSY;
	if (r < 0)
		return r;

	fds = malloc(MAX(plan.n_llcs, (size_t) 1) * sizeof(*fds));
	if (!fds) {
		plan_done(&plan);
		return -ENOMEM;
	}
	r = acquire_plan(dir, &plan, mode, fds, ret_why);
	if (r != ATTEMPT_OK) {
		plan_done(&plan);
		return r;
	}
	*ret = (struct kts_reservation){
		.plan = plan,
		.fds = TAKE_PTR(fds),
		.n_fds = plan.n_llcs,
		.mode = mode,
	};
	return ATTEMPT_OK;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000U, .tv_nsec = (long) (ms % 1000U) * 1000000L };

	/* A caught signal cuts the sleep short; the caller re-checks and sleeps again. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * What the wait started with (see the top of this file): the lock directory, and each
 * LLC's lock file as it was when the wait began (ino 0: none yet; one that appears later
 * was made by another reserver, which is fine).
 */
struct wait_ids {
	struct stat dir;
	struct file_id {
		dev_t dev;
		ino_t ino;
	} *files; /* per LLC of the topology, NULL until the wait begins */
};

static int wait_ids_files(const char *dir, const struct kts_topology *t, struct wait_ids *ids)
{
	ids->files = calloc(MAX(t->n_llcs, (size_t) 1), sizeof(*ids->files));
	if (!ids->files)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_llcs; i++) {
		_cleanup_free_ char *path = NULL;
		struct stat st;

		if (lock_llc_path(dir, t->llcs[i].index, &path) < 0)
			return -ENOMEM;
		if (stat(path, &st) == 0)
			ids->files[i] = (struct file_id){ .dev = st.st_dev, .ino = st.st_ino };
	}
	return 0;
}

/* -ESTALE with *why naming what: path is gone or another file than first. */
static int check_same(const char *what, const char *path, dev_t dev, ino_t ino, char **why)
{
	struct stat st;

	if (stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
		return 0;
	(void) asprintf(why, "%s '%s' was %s while waiting for the reservation; its holders keep "
			"their locks on what was removed, so they cannot be waited for any more; "
			"retry once they are done", what, path,
			access(path, F_OK) == 0 ? "replaced" : "removed");
	return -ESTALE;
}

/* 0 while the directory and the lock files the wait started with are still in place. */
static int wait_ids_check(const char *dir, const struct kts_topology *t,
			  const struct wait_ids *ids, char **why)
{
	int r;

	r = check_same("lock directory", dir, ids->dir.st_dev, ids->dir.st_ino, why);
	for (size_t i = 0; r == 0 && ids->files && i < t->n_llcs; i++) {
		_cleanup_free_ char *path = NULL;

		if (ids->files[i].ino == 0)
			continue;
		if (lock_llc_path(dir, t->llcs[i].index, &path) < 0)
			return -ENOMEM;
		r = check_same("lock file", path, ids->files[i].dev, ids->files[i].ino, why);
	}
	return r;
}

/*
 * reserve_acquire() without the ret_why plumbing: *why (owned by the caller) is
 * set on failure when a reason is known.
 */
static int reserve_loop(const struct kts_topology *t, const struct kts_reserve_opts *o,
			const char *dir, struct kts_reservation *ret, char **why)
{
	enum kts_lock_mode mode =
		o->req.mode == KTS_PLAN_EXCLUSIVE ? KTS_LOCK_EXCLUSIVE : KTS_LOCK_SHARED;
	uint64_t wait_start = 0;
	bool waiting = false;
	struct wait_ids ids = { 0 };
	_cleanup_free_ struct file_id *files = NULL;
	int r;

	if (stat(dir, &ids.dir) < 0) {
		r = negative_errno();
		(void) asprintf(why, "cannot use lock directory '%s': %s", dir, strerror(-r));
		return r;
	}
	for (unsigned attempt = 0;; attempt++) {
		_cleanup_free_ char *reason = NULL;
		uint64_t elapsed;

		r = wait_ids_check(dir, t, &ids, why);
		if (r < 0)
			return r;
		r = reserve_attempt(t, o, dir, mode, ret, &reason);
		if (r == ATTEMPT_OK)
			return 0;
		if (r < 0) {
			*why = TAKE_PTR(reason);
			return r;
		}
		/* Someone took a lock between our look and our flock: re-plan once, at once. */
		if (attempt == 0)
			continue;

		if (o->no_wait) {
			r = describe_blockers(dir, t, mode, reason, why);
			return r < 0 ? r : -EBUSY;
		}
		if (!waiting) {
			_cleanup_free_ char *text = NULL;

			r = describe_blockers(dir, t, mode, reason, &text);
			if (r >= 0)
				r = wait_ids_files(dir, t, &ids);
			files = ids.files;
			if (r < 0)
				return r;
			waiting = true;
			wait_start = now_ms();
			if (o->on_wait)
				o->on_wait(text, o->userdata);
		}
		elapsed = now_ms() - wait_start;
		if (interrupt_pending())
			return -EINTR;
		if (o->timeout_ms && elapsed >= o->timeout_ms) {
			r = describe_blockers(dir, t, mode, reason, why);
			return r < 0 ? r : -ETIME;
		}
		sleep_ms(o->timeout_ms ? (unsigned) MIN((uint64_t) RESERVE_WAIT_STEP_MS,
							 o->timeout_ms - elapsed)
				       : RESERVE_WAIT_STEP_MS);
		if (o->on_tick)
			o->on_tick((double) (now_ms() - wait_start) / 1000.0, o->userdata);
	}
}

int reserve_acquire(const struct kts_topology *t, const struct kts_reserve_opts *o,
		    struct kts_reservation *ret, char **ret_why)
{
	const char *dir = o->lockdir ? o->lockdir : lock_dir_default();
	_cleanup_free_ char *why = NULL;
	const char *fsname = NULL;
	int r;

	/* A network lock dir would "work" while coordinating nothing: refuse up front. */
	r = lock_check_fs(dir, &fsname);
	if (r == -EREMOTE)
		(void) asprintf(&why, "'%s' is on %s, where flock(2) does not coordinate "
				"processes; point KTSCOPE_LOCK_DIR at a local filesystem",
				dir, fsname);
	else if (r < 0)
		(void) asprintf(&why, "cannot use lock directory '%s': %s", dir, strerror(-r));
	else
		r = reserve_loop(t, o, dir, ret, &why);
	if (r < 0 && ret_why)
		*ret_why = TAKE_PTR(why);
	return r;
}

void reserve_release(struct kts_reservation *r)
{
	if (!r)
		return;
	if (r->fds)
		lock_close_fds(r->fds, r->n_fds);
	free(r->fds);
	plan_done(&r->plan);
	*r = (struct kts_reservation){ 0 };
}

/* ---------------------------------------------------------------- for the commands */

static void on_wait(const char *holders, void *userdata)
{
	log_notice("waiting for the reservation; held by:\n%s", holders);
	progress_event("reservation", "\"state\":\"waiting\",\"holders\":%s",
		       progress_json_str(holders));
}

static void on_tick(double elapsed, void *userdata)
{
	static int last = -1;
	int now = (int) elapsed;

	/* A quiet counter: one line every 10 s, and only on a terminal. */
	if (now / 10 != last / 10 && now >= 10 && isatty(STDERR_FILENO))
		log_notice("still waiting for the reservation (%d s)", now);
	last = now;
}

static void warn_cross_node(const struct kts_plan *p)
{
	_cleanup_free_ char *mems = NULL;

	if (!p->cross_node)
		return;
	(void) cpuset_format(&p->mems, &mems);
	log_warning("the reservation spans NUMA nodes %s (no single node has enough free CPUs); "
		    "memory access may be slower", strempty(mems));
}

/* KTSCOPE_BYPASS_LOCKS: a plan against no holders, and no lock taken. */
static int take_bypassed(const struct kts_topology *t, const struct kts_plan_req *req,
			 struct kts_reservation *ret)
{
	_cleanup_free_ char *why = NULL;
	int r;

	if (req->cpus > 0) {
		log_error("KTSCOPE_BYPASS_LOCKS conflicts with a CPU budget (--cpu-cap or "
			  "KTSCOPE_CPU_CAP): a budget is a reservation; unset one of them");
		return -EINVAL;
	}
	r = plan_compute(t, NULL, req, &ret->plan, &why);
	if (r < 0) {
		log_error("no plan: %s", why ? why : strerror(-r));
		return r == -EBUSY ? -EBUSY : -EINVAL;
	}
	ret->fds = NULL;
	ret->n_fds = 0;
	log_warning("KTSCOPE_BYPASS_LOCKS is set: running without LLC locks");
	return 0;
}

/* reserve_acquire()'s failure, logged; the class reserve_take() returns. */
static int take_failed(int r, const char *lockdir, const char *why)
{
	switch (r) {
	case -EINTR: /* a stop was requested (interrupt.h): the caller says so */
		return -EINTR;
	case -EBUSY:
		log_error("reservation not available: %s", why ? why : "LLCs are held");
		return -EBUSY;
	case -ETIME:
		log_error("timed out waiting for the reservation: %s", why ? why : "LLCs are held");
		return -ETIME;
	case -ERANGE:
	case -EINVAL:
		log_error("impossible reservation: %s", why ? why : strerror(-r));
		return -EINVAL;
	case -EREMOTE:
		log_error("lock directory '%s' is unusable: %s", lockdir,
			  why ? why : "network filesystem");
		return -EREMOTE;
	case -ESTALE:
		log_error("%s", why ? why : "the lock directory changed while waiting");
		return -ENOLCK;
	default:
		if (why)
			log_error("cannot take the LLC locks in '%s': %s", lockdir, why);
		else
			log_error_errno(r, "cannot take the LLC locks in '%s': %m", lockdir);
		return -ENOLCK;
	}
}

int reserve_take(const struct kts_topology *t, const struct kts_plan_req *req, bool no_wait,
		 struct kts_reservation *ret)
{
	struct kts_reserve_opts o = {
		.lockdir = lock_dir_default(),
		.req = *req,
		.no_wait = no_wait,
		.on_wait = on_wait,
		.on_tick = on_tick,
	};
	_cleanup_free_ char *why = NULL;
	int r;

	if (getenv_nonempty("KTSCOPE_BYPASS_LOCKS"))
		r = take_bypassed(t, req, ret);
	else {
		r = reserve_acquire(t, &o, ret, &why);
		if (r < 0)
			return take_failed(r, o.lockdir, why);
	}
	if (r == 0)
		warn_cross_node(&ret->plan);
	return r;
}
