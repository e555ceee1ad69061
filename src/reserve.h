/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lock.h"
#include "plan.h"
#include "topology.h"

/*
 * The reservation (DESIGN §3 "Acquire"): plan against the current holders, take the
 * LLC locks, and on a conflict re-plan once, then fail (--no-wait) or wait, re-planning
 * every 250 ms, naming the holders once. lock.c below owns the files, flock and
 * /proc/locks; plan.c the pure plan.
 */

/* A held reservation: the plan and the fds that keep it. */
struct kts_reservation {
	struct kts_plan plan;
	int *fds;
	size_t n_fds;
	enum kts_lock_mode mode;
};

struct kts_reserve_opts {
	const char *lockdir;
	struct kts_plan_req req;
	bool no_wait;
	/* Called once when the first wait starts, with a multi-line holder description. */
	void (*on_wait)(const char *holders, void *userdata);
	/* Called every ~250 ms while waiting, with seconds waited. */
	void (*on_tick)(double elapsed, void *userdata);
	void *userdata;
	/* 0 = wait forever; otherwise give up with -ETIME after this many ms. */
	unsigned timeout_ms;
};

/*
 * Plans and acquires: non-blocking flock in ascending index order; on a
 * conflict drops everything and re-plans once; then either fails (-EBUSY,
 * with no_wait) or waits, re-planning every 250 ms. On -EBUSY/-ETIME/-ERANGE,
 * *ret_why describes the holders or the reason (caller frees). ret_why may be
 * NULL; on any failure *ret_why is written (NULL when there is nothing to add
 * to the errno, e.g. -ENOMEM), so the caller can free it unconditionally.
 * Other failures: -EREMOTE (lock dir on a network filesystem; why names it),
 * -EINVAL (malformed request; why from the planner); a lock file that is a
 * symlink (-ELOOP), not a regular file (-EBADF, so -EINVAL keeps meaning "bad
 * request") or unopenable (-EACCES, ...): why names the path; -ESTALE when the
 * lock directory or a lock file was removed or replaced during the wait (reserve.c
 * says why that cannot be waited out): why names it. -EINTR when a stop was
 * requested while waiting (interrupt.h).
 * Library-like: logs at debug level only.
 */
int reserve_acquire(const struct kts_topology *t, const struct kts_reserve_opts *o,
		    struct kts_reservation *ret, char **ret_why);

/* Releases every lock (closes the fds) and frees the plan; a zeroed struct is fine. */
void reserve_release(struct kts_reservation *r);

/*
 * What `run` and `build` call: reserve_acquire() in KTSCOPE_LOCK_DIR (or /tmp),
 * printing the holders once while waiting (and a NDJSON "reservation" event), unless
 * no_wait; under KTSCOPE_BYPASS_LOCKS a plan without locks. Warns when the plan spans
 * NUMA nodes. Logs every failure once. Returns 0 or (for cli_exit_code()):
 *   -EBUSY    held and no_wait, or no plan now under KTSCOPE_BYPASS_LOCKS (exit 3)
 *   -ETIME    the wait timed out                                          (exit 3)
 *   -EINVAL   the request can never fit, or a budget under KTSCOPE_BYPASS_LOCKS (exit 2)
 *   -EREMOTE  the lock directory is on a network filesystem               (exit 4)
 *   -ENOLCK   the lock directory or a lock file is unusable (the log names the
 *             real errno)                                                 (exit 4)
 *   -EINTR    a stop was requested while waiting (interrupt.h); not logged
 */
int reserve_take(const struct kts_topology *t, const struct kts_plan_req *req, bool no_wait,
		 struct kts_reservation *ret);
