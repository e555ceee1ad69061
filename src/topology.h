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
};

/*
 * Reads the topology under root. On failure returns negative errno (-ENOENT,
 * -EACCES, -EBADMSG for malformed content, ...) and, when ret_errpath is not
 * NULL, sets *ret_errpath to the absolute path of the offending file (caller
 * frees). *ret is written only on success.
 */
int topo_load(const struct kts_sysroot *root, struct kts_topology *ret, char **ret_errpath);
void topo_done(struct kts_topology *t);

/* Distance between two node ids; 255 when either is unknown. */
unsigned topo_distance(const struct kts_topology *t, unsigned node_a, unsigned node_b);
/* NUMA node of cpu, or -1 when the CPU is not online. */
int topo_cpu_node(const struct kts_topology *t, unsigned cpu);
/* LLC index of cpu, or -1. */
int topo_cpu_llc(const struct kts_topology *t, unsigned cpu);
