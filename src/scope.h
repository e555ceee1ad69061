/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cpuset.h"
#include "telemetry.h"

/*
 * Transient scope units over sd-bus (DESIGN §4 steps 2-4 and 6): start one for a
 * process, read back what its cgroup enforces, stop it and wait until it is gone.
 * Library code: logs at debug level only; failures come back as negative errno
 * plus, where a manager's words help, a one-line *ret_why (caller frees).
 */

struct sd_bus;

#define SCOPE_DEFAULT_SLICE "ktscope.slice"
#define SCOPE_JOB_TIMEOUT_USEC ((uint64_t) 30 * 1000000)
#define SCOPE_STOP_TIMEOUT_USEC ((uint64_t) 10 * 1000000)

/* What keeps the work on its CPUs (DESIGN §4 step 4). */
enum kts_enforcement {
	KTS_ENFORCE_AUTO,     /* only as a request: cgroup when it holds, else affinity */
	KTS_ENFORCE_CGROUP,   /* the scope's effective cpuset equals the plan */
	KTS_ENFORCE_AFFINITY, /* the cgroup does not enforce it: sched_setaffinity + MPOL_BIND */
	KTS_ENFORCE_NARROWED, /* cgroup enforces a non-empty strict subset of the plan */
};
const char *enforcement_to_string(enum kts_enforcement e);
/* "auto", "cgroup", "affinity" → the request; -EINVAL otherwise. */
int enforcement_from_string(const char *s, enum kts_enforcement *ret);

struct kts_scope_params {
	const char *name;               /* full unit name, "….scope" */
	pid_t pid;                      /* the process to move in (PIDs) */
	int pidfd;                      /* its pidfd (PIDFDs, tried first), or -EBADF */
	const struct kts_cpuset *cpus;  /* AllowedCPUs */
	const struct kts_cpuset *mems;  /* AllowedMemoryNodes */
	const char *description;        /* NULL: none */
	const char *slice;              /* NULL: SCOPE_DEFAULT_SLICE */
	uint64_t cpu_weight;            /* CPUWeight; 0: not set */
	uint64_t memory_high;           /* MemoryHigh in bytes; 0: not set */
	uint64_t job_timeout_usec;      /* bound on the start job; 0: SCOPE_JOB_TIMEOUT_USEC */
	bool accounting;                /* CPU/Memory/IOAccounting (a build's telemetry) */
};

/*
 * The leading number of the manager's Version property: "252.39-1~deb12u2" → 252,
 * "v255" → 255, "257.3-1-arch" → 257; 0 when s is NULL or does not start with one.
 */
unsigned scope_version_parse(const char *s);

/*
 * Starts the scope: adds the JobRemoved match, calls Subscribe and reads the manager's
 * Version, all three sent at once and waited for together (one round trip); then
 * StartTransientUnit(name, "fail") and waits for that job's JobRemoved. The process goes
 * in as PIDFDs when there is a pidfd and the manager is systemd >= 253 or of unknown
 * version, else as PIDs; PIDFDs refused anyway (systemd < 253 answers "Cannot set
 * property PIDFDs, or unknown property") are retried with PIDs. With p->accounting the
 * scope asks for CPU, memory and IO accounting (scope_read_accounting()); a manager that
 * refuses those gets the request again without them.
 * *ret_version (NULL is fine) is the manager's version (scope_version_parse(), 0 when
 * unknown), written whenever the Version reply came, also when a later step fails.
 *
 * Returns 0 when the job's result is "done". Errors:
 *   -EHOSTDOWN  no manager answered on bus (Subscribe failed)
 *   -EEXIST     a unit of that name exists (it is not ours: left alone)
 *   -ETIME      no JobRemoved within the bound
 *   scope_job_result_to_errno(result) for any other job result
 *   other       StartTransientUnit refused (bus error mapped to errno)
 * *ret_why then says what happened, naming the manager's error or the job result.
 * On failure after the unit was created it is stopped and unreferenced again
 * (best effort), so no unit of ours is left behind.
 */
int scope_start(struct sd_bus *bus, const struct kts_scope_params *p, unsigned *ret_version,
		char **ret_why);

/* Job result string → 0 for "done", else a distinct negative errno ("failed" → -EIO,
 * "timeout" → -ETIMEDOUT, "canceled" → -ECANCELED, "dependency" → -ENOLINK,
 * "skipped" → -ENOEXEC... unknown → -EIO). */
int scope_job_result_to_errno(const char *result);

/* What the unit's cgroup enforces, as read back from the manager. */
struct kts_scope_state {
	char *control_group;              /* "" when the manager reports none */
	struct kts_cpuset effective_cpus; /* EffectiveCPUs: empty without a cpuset controller */
	struct kts_cpuset effective_mems; /* EffectiveMemoryNodes */
};
void scope_state_done(struct kts_scope_state *s);

/*
 * Pure: cgroup when both effective sets equal the plan; narrowed when either is a
 * non-empty strict subset (and neither escapes the plan); affinity otherwise
 * (empty: no cpuset controller, e.g. a stock user manager).
 */
enum kts_enforcement scope_classify(const struct kts_cpuset *plan_cpus,
				    const struct kts_cpuset *plan_mems,
				    const struct kts_scope_state *s);

/*
 * Reads ControlGroup, EffectiveCPUs and EffectiveMemoryNodes of unit name
 * (org.freedesktop.systemd1.Scope; the three Gets sent at once, one round trip) and
 * classifies them against the plan. The first of them that fails, in that order, is the
 * error.
 * *ret_state and *ret_enforcement are written only on success.
 */
int scope_verify(struct sd_bus *bus, const char *name, const struct kts_cpuset *plan_cpus,
		 const struct kts_cpuset *plan_mems, struct kts_scope_state *ret_state,
		 enum kts_enforcement *ret_enforcement);

/*
 * The unit's accounting as the manager keeps it (Scope's CPUUsageNSec, MemoryPeak,
 * IOReadBytes, IOWriteBytes), for the build's telemetry: read while the unit is still
 * loaded, after its processes ended. A property the manager lacks (MemoryPeak before
 * systemd 255) or reports as UINT64_MAX (no accounting for it) is TELEMETRY_ABSENT.
 * Negative errno when the unit is not loaded or the manager does not answer (*ret
 * untouched); a caller uses it for telemetry only, never to fail.
 */
int scope_read_accounting(struct sd_bus *bus, const char *unit, struct kts_scope_accounting *ret);

/*
 * Stops unit name if it still exists (StopUnit "fail"), drops our AddRef
 * reference (Unref; sent with the stop, one round trip), and waits until the manager no
 * longer knows it: UnitRemoved, or GetUnit's NoSuchUnit when a 100 ms slice passed
 * without the signal (a connection that did not Subscribe never gets it). Processes
 * that outlive the stop for half the bound get SIGKILL through KillUnit.
 * Returns 0 once the unit is gone, -ETIME when it is still there after
 * timeout_usec (0: SCOPE_STOP_TIMEOUT_USEC).
 */
int scope_stop(struct sd_bus *bus, const char *name, uint64_t timeout_usec);

/*
 * Unit name checks for --unit: systemd's unit-name rules (≤ 255 bytes, characters
 * [A-Za-z0-9:_.\\-], no leading '.'/'-'... at least one character before the
 * suffix) and the ".scope" suffix. Returns 0 or -EINVAL.
 */
int scope_name_valid(const char *name);
/* "ktscope-{what}-{pid}-{8 random hex}.scope". Caller frees. */
int scope_name_generate(const char *what, char **ret);
