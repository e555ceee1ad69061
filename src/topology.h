/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

#include "cpuset.h"
#include "sysroot.h"

/* One last-level cache group. index = position in ascending-id order (DESIGN §3). */
struct kts_llc {
	unsigned index;
	unsigned id;            /* cache "id", else lowest CPU of shared_cpu_list */
	struct kts_cpuset cpus; /* online CPUs sharing this LLC */
	unsigned node;          /* NUMA node of the LLC's first CPU */
};

struct kts_node {
	unsigned id;
	struct kts_cpuset cpus;  /* online CPUs on this node (may be empty: memory-only) */
};

struct kts_topology {
	char *sysroot;            /* "/" or the snapshot's path */
	bool host;
	struct kts_cpuset online;
	struct kts_cpuset allowed; /* sched_getaffinity, or the snapshot's Cpus_allowed_list */
	struct kts_llc *llcs;      /* ascending index */
	size_t n_llcs;
	struct kts_node *nodes;    /* ascending id */
	size_t n_nodes;
	/* distance[i * n_nodes + j] between nodes[i] and nodes[j]; fallback 10/20 */
	unsigned *distance;
	bool distance_fallback;   /* true when a nodeN/distance file was missing or malformed */

	/*
	 * Private O(1) lookups for topo_cpu_node()/topo_cpu_llc()/topo_distance()
	 * (the planner calls them in its inner loops). Indexed by CPU number
	 * (< n_cpu_map) and node id (< n_node_map); -1 marks "not online"/"no such
	 * node". Use the functions below rather than these arrays.
	 */
	int *cpu_node;
	int *cpu_llc;
	size_t n_cpu_map;
	int *node_index;          /* node id -> position in nodes[] */
	size_t n_node_map;
};

/*
 * Reads the topology under root. On failure returns negative errno (-ENOENT,
 * -EACCES, -EBADMSG for malformed content, ...) and, when ret_errpath is not
 * NULL, sets *ret_errpath to the absolute path of the offending file (caller
 * frees; NULL when no file is to blame, e.g. -ENOMEM). *ret is written only on
 * success; *ret_errpath only on failure.
 *
 * Rules beyond DESIGN §3: a CPU with no cache information while others have
 * some is an LLC of its own, keyed by its CPU number; no cache information on
 * any CPU gives one LLC (id 0) with every online CPU. An online CPU without a
 * nodeK entry is on node 0. Missing or malformed distance rows are not an
 * error: the matrix becomes 10/20 and distance_fallback is set. For a non-host
 * root without proc/self/status, allowed = online.
 */
int topo_load(const struct kts_sysroot *root, struct kts_topology *ret, char **ret_errpath);
void topo_done(struct kts_topology *t);
static inline void topo_donep(struct kts_topology *t)
{
	topo_done(t);
}

/* Distance between two node ids; 255 when either is unknown. */
unsigned topo_distance(const struct kts_topology *t, unsigned node_a, unsigned node_b);
/*
 * NUMA node of cpu (from its own cpuN/nodeK entry, which can differ from its
 * LLC's node on sub-NUMA-clustered parts), or -1 when the CPU is not online.
 */
int topo_cpu_node(const struct kts_topology *t, unsigned cpu);
/* LLC index of cpu, or -1. */
int topo_cpu_llc(const struct kts_topology *t, unsigned cpu);
