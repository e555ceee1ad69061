/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "scope.h"
#include "supervise.h"

/*
 * A scoped run (DESIGN §4 steps 1-6), for `run`, `build` and `doctor`: fork the
 * supervisor → StartTransientUnit → classify what the cgroup enforces → release and
 * wait → StopUnit → wait until the unit is gone. The reservation stays the caller's:
 * it is released by the caller after session_run() returns, when the unit is gone.
 */

struct kts_reservation;

/* Which manager a command talks to (--user/--system). */
enum kts_manager {
	KTS_MANAGER_DEFAULT, /* --user unless uid 0 */
	KTS_MANAGER_USER,
	KTS_MANAGER_SYSTEM,
};
enum kts_bus_kind session_bus_kind(enum kts_manager m);

struct kts_session_spec {
	enum kts_manager manager;
	const char *what;            /* "run" | "build": the unit name's and description's word */
	char *const *argv;
	struct kts_reservation *res; /* its plan is the scope's; its fds are closed in the child */
	enum kts_enforcement want;   /* auto, cgroup or affinity */
	const char *unit;            /* NULL: ktscope-{what}-PID-RANDOM.scope */
	const char *slice;           /* NULL: ktscope.slice */
	unsigned cpu_weight;         /* 0: not set */
	uint64_t memory_high;        /* 0: not set */
	bool accounting;             /* the unit's CPU/memory/IO accounting, read back into the
				      * result's acct (a build's telemetry); run does without */
	const struct kts_child_watch *side; /* NULL, or news from argv acted on while it
					     * runs (a build's "make is done"); its fd is
					     * not the supervisor's */
};

struct kts_session_result {
	int status;                      /* argv's exit code; 128+N on signal N (also when a
					  * signal came before argv started); 126/127 not
					  * executable/not found; 1 setup failure in the child */
	enum kts_enforcement enforcement; /* what applied: cgroup, affinity or narrowed */
	/* The unit's accounting (scope_read_accounting()), read after argv ended and before
	 * the unit is stopped when the spec asked for it; all TELEMETRY_ABSENT otherwise, or
	 * without a scope or an answer. */
	struct kts_scope_accounting acct;
};

/*
 * Runs s->argv in a transient scope on s->res's plan (under KTSCOPE_SCOPE=none: no
 * scope, affinity only). Logs every failure once, at error level. Returns 0 when argv
 * ran (or was stopped by a signal before it started) and writes *ret; otherwise:
 *   -EHOSTDOWN    no systemd manager reachable or answering       (exit 4)
 *   -EACCES/-EPERM the manager refuses to start the unit          (exit 4)
 *   -EMEDIUMTYPE  want == cgroup and the cgroup does not enforce the plan (exit 4)
 *   -EEXIST       a unit of that name exists                      (exit 1)
 *   -EIO          fork, start, read-back or wait failed (the log names the real
 *                 errno; a single value here keeps a manager's errno, say -ETIME for
 *                 a start job that timed out, from reading as another class) (exit 1)
 * (cli_exit_code() maps them.) Every path tears down in one order: argv's processes,
 * then the unit (StopUnit, wait until gone), then the bus.
 */
int session_run(const struct kts_session_spec *s, struct kts_session_result *ret);

/*
 * Fails early (-EHOSTDOWN, logged as session_run() would) when manager m cannot be
 * reached, so a build does not unpack a tree or wait for CPUs first; 0, also under
 * KTSCOPE_SCOPE=none.
 */
int session_check_manager(enum kts_manager m);

/*
 * The steps of session_run(), for callers that report instead of logging (doctor's
 * probe). Library-like: debug logging only; *ret_why (caller frees) says what the
 * manager said where that helps.
 */
struct kts_session {
	struct kts_child child;
	enum kts_bus_kind kind;
	struct sd_bus *bus;
	struct kts_bus_watch *watch; /* the manager's departure, begun with the connection */
	char *unit;
	bool unit_started;
	unsigned manager_version; /* the manager's Version number once started; 0: unknown */
	/* While argv ran: -EHOSTDOWN the manager left, -ECONNRESET the connection ended. */
	int lost;
};
#define KTS_SESSION_INIT ((struct kts_session){ .child = KTS_CHILD_INIT })

/* Connects to the manager of kind (bus_open()); *ret_tried as bus_open() says. */
int session_connect(struct kts_session *x, enum kts_bus_kind kind, char **ret_tried);
/* Forks the supervisor of argv, blocked until released (supervise_fork()). */
int session_fork(struct kts_session *x, char *const *argv, const int *close_fds, size_t n_fds,
		 const struct kts_cpuset *cpus, const struct kts_cpuset *mems);
/*
 * Starts the scope (scope_start()) for the forked supervisor; p's name, pid and pidfd
 * are filled in here (name: x->unit when set, else generated from what).
 */
int session_start(struct kts_session *x, const char *what, struct kts_scope_params *p,
		  char **ret_why);
/*
 * Tears down in the order that keeps the CPUs held until nothing runs on them: the
 * supervisor's process group (killed unless reaped), the unit (stopped, waited for;
 * a unit still there is logged as a warning), the bus. Safe on KTS_SESSION_INIT.
 */
void session_done(struct kts_session *x);

/* What starting a throwaway scope on one manager showed (doctor's probe). */
struct kts_session_probe {
	enum kts_bus_kind kind;
	int open_r;       /* bus_open() */
	char *tried;      /* what bus_open() tried, on failure */
	char *bus_desc;   /* the bus it connected to */
	int start_r;      /* scope_start(); meaningful when open_r == 0 */
	unsigned manager_version; /* the manager's Version number; 0 when unknown or not asked */
	char *why;        /* the manager's words when start failed */
	int verify_r;     /* scope_verify(); meaningful when start_r == 0 */
	enum kts_enforcement enforcement;
	char *effective;  /* EffectiveCPUs, formatted */
	char *plan;       /* the probe's AllowedCPUs, formatted */
};

/*
 * Starts a scope as session_run() does, for a supervisor that is never released (it
 * runs nothing), reads back what its cgroup enforces for cpus/mems, and removes both
 * again. Everything it found is in *ret (always written; free with session_probe_done());
 * the only log line is session_done()'s warning when the probe unit is not confirmed gone.
 */
void session_probe(enum kts_bus_kind kind, const struct kts_cpuset *cpus,
		   const struct kts_cpuset *mems, struct kts_session_probe *ret);
void session_probe_done(struct kts_session_probe *p);
