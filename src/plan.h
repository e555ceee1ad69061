/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cpuset.h"
#include "topology.h"

/*
 * The pure planner of DESIGN §3: topology + current lock holders + budget →
 * plan. No I/O, no system calls; deterministic.
 */

enum kts_plan_mode {
	KTS_PLAN_SHARED,    /* builds, run --cpu-cap: LOCK_SH */
	KTS_PLAN_EXCLUSIVE, /* run --exclusive: LOCK_EX, whole free LLCs */
};

/* Per-LLC holder counts (distinct pids) from the lock files, indexed by LLC index. */
struct kts_llc_load {
	unsigned shared;
	unsigned exclusive;
};

struct kts_plan_req {
	enum kts_plan_mode mode;
	unsigned cpus;        /* budget in CPUs; 0 = not given */
	unsigned excl_llcs;   /* --exclusive=K; 0 = not given */
};

struct kts_plan {
	enum kts_plan_mode mode;
	unsigned target_cpus;     /* CPUs asked for (shared) or taken (exclusive) */
	struct kts_cpuset cpus;   /* exactly the CPUs the work may use */
	unsigned *llcs;           /* LLC indices to lock, ascending */
	size_t n_llcs;
	struct kts_cpuset mems;   /* NUMA nodes of the taken CPUs */
	bool cross_node;          /* mems has more than one node */
	bool mems_all;            /* mems holds every node of the machine: MPOL_BIND binds nothing */
	unsigned make_jobs;       /* = number of planned CPUs, ≥ 1 */
};

/* max(1, ceil(30% of allowed)). */
unsigned plan_default_budget(unsigned allowed);

/*
 * Computes a plan. load may be NULL (no holders), else it has t->n_llcs entries.
 * "Allowed CPUs" are the allowed CPUs that belong to an LLC (allowed ∩ online);
 * req.cpus == 0 in shared mode means plan_default_budget() of their count. In
 * exclusive mode excl_llcs, when given, wins over cpus; neither → one LLC.
 * Returns 0 on success; -EBUSY when holders leave too few eligible CPUs/LLCs
 * (the caller may wait); -ERANGE when the request can never fit this machine
 * (budget > allowed CPUs, K > LLCs with allowed CPUs); -EINVAL on a malformed
 * request (excl_llcs in shared mode, unknown mode); -ENOMEM. On -EBUSY, -ERANGE
 * and -EINVAL, *ret_why (if not NULL) gets a one-line human reason naming the
 * numbers and the held LLCs (caller frees; NULL if it could not be allocated);
 * it is left alone on success. *ret is written only on success; release it
 * with plan_done().
 */
int plan_compute(const struct kts_topology *t, const struct kts_llc_load *load,
		 const struct kts_plan_req *req, struct kts_plan *ret, char **ret_why);
/* Frees a plan and zeroes it; a zeroed plan or NULL is fine. */
void plan_done(struct kts_plan *p);

const char *plan_mode_to_string(enum kts_plan_mode m);
