/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The reservation planner (DESIGN §3): a pure function of the topology, the
 * current holders of the LLC lock files and the request. It makes no system
 * call and does no I/O (only malloc), so it can be tested on sysfs snapshots of
 * machines we do not have and re-run every 250 ms by a waiting caller.
 *
 * Everything is derived from t->llcs[] (each LLC carries its node), t->nodes[]
 * and t->distance; nothing here calls into topology.c.
 *
 * Shared mode, step by step:
 *   contrib(i) = |LLC_i ∩ allowed|; eligible = contrib > 0 and no exclusive
 *   holder (ktstr would still prefer such an LLC and then fail; we skip it).
 *   Rank eligible LLCs: shared holders first, most holders first, so builds
 *   consolidate and fresh LLCs stay free for benchmarks; then free ones; ties
 *   by index. Seed node = node of ranked[0]; nodes are visited seed first, then
 *   by distance from the seed (ties: node id); each node's LLCs are picked in
 *   rank order until the picked contribution reaches the budget. CPUs are then
 *   taken ascending through the picked LLCs in ascending index until exactly the
 *   budget; an LLC that ends up contributing nothing is not locked, the last
 *   one may be partial and is locked whole.
 *
 * Exclusive mode: only LLCs with no holder at all, whole LLCs, same seeding and
 * spill order; K LLCs, or enough LLCs for req.cpus, or one.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "log.h"
#include "plan.h"

/* Distance reported for a node the table does not know: sorts after every real one. */
#define DISTANCE_UNKNOWN 255U

unsigned plan_default_budget(unsigned allowed)
{
	/* ceil(30%) in 64 bits so a huge count cannot overflow the product. */
	uint64_t b = DIV_ROUND_UP((uint64_t) allowed * 30U, 100U);

	return b < 1 ? 1 : (unsigned) b;
}

const char *plan_mode_to_string(enum kts_plan_mode m)
{
	switch (m) {
	case KTS_PLAN_SHARED:
		return "shared";
	case KTS_PLAN_EXCLUSIVE:
		return "exclusive";
	}
	return "unknown";
}

void plan_done(struct kts_plan *p)
{
	if (!p)
		return;
	cpuset_done(&p->cpus);
	cpuset_done(&p->mems);
	free(p->llcs);
	*p = (struct kts_plan){ 0 };
}

static void plan_donep(struct kts_plan *p)
{
	plan_done(p);
}

/* Appends printf output to a malloc'ed string (NULL = empty). -ENOMEM leaves *s as it was. */
_printf_(2, 3) static int appendf(char **s, const char *fmt, ...)
{
	size_t old = *s ? strlen(*s) : 0;
	va_list ap;
	char *n;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -EINVAL;

	n = realloc(*s, old + (size_t) len + 1);
	if (!n)
		return -ENOMEM;
	va_start(ap, fmt);
	(void) vsnprintf(n + old, (size_t) len + 1, fmt, ap);
	va_end(ap);
	*s = n;
	return 0;
}
/* Distance between node ids a and b from the topology's table, like topo_distance(). */
static unsigned node_distance(const struct kts_topology *t, unsigned a, unsigned b)
{
	size_t ia = SIZE_MAX, ib = SIZE_MAX;

	for (size_t i = 0; i < t->n_nodes; i++) {
		if (t->nodes[i].id == a)
			ia = i;
		if (t->nodes[i].id == b)
			ib = i;
	}
	if (ia == SIZE_MAX || ib == SIZE_MAX) {
		/* A topology without node information: one implicit node 0. */
		if (t->n_nodes == 0 && a == b)
			return 10;
		return DISTANCE_UNKNOWN;
	}
	if (!t->distance)
		return a == b ? 10 : 20;
	return t->distance[ia * t->n_nodes + ib];
}

struct ranked_llc {
	unsigned index;
	unsigned holders; /* shared holders; 0 for free LLCs and in exclusive mode */
};

static int ranked_cmp(const void *x, const void *y)
{
	const struct ranked_llc *a = x, *b = y;

	if (a->holders != b->holders)
		return a->holders > b->holders ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

struct node_rank {
	unsigned node;
	unsigned key; /* 0 for the seed, else 1 + distance from the seed */
};

static int node_rank_cmp(const void *x, const void *y)
{
	const struct node_rank *a = x, *b = y;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

/*
 * Picks eligible LLCs (ranked[], best first, n_ranked > 0) node by node: the seed
 * node first, then the others by distance from it. With by_llcs, stops after
 * `need` LLCs; otherwise once the picked LLCs hold at least `need` allowed CPUs.
 * Sets picked[i] for every pick and returns the amount reached (LLCs or CPUs).
 */
static int pick_llcs(const struct kts_topology *t, const struct ranked_llc *ranked,
		     size_t n_ranked, const unsigned *contrib, unsigned need, bool by_llcs,
		     bool *picked, unsigned *ret_reached)
{
	_cleanup_free_ struct node_rank *order = NULL;
	unsigned seed = t->llcs[ranked[0].index].node;
	size_t n_order = 0;
	unsigned acc = 0;

	order = calloc(n_ranked, sizeof(*order));
	if (!order)
		return -ENOMEM;

	/* Only nodes that own an eligible LLC matter; a memory-only node never does. */
	for (size_t r = 0; r < n_ranked; r++) {
		unsigned node = t->llcs[ranked[r].index].node;
		bool seen = false;

		for (size_t k = 0; k < n_order && !seen; k++)
			seen = order[k].node == node;
		if (seen)
			continue;
		order[n_order++] = (struct node_rank){
			.node = node,
			.key = node == seed ? 0 : 1 + node_distance(t, seed, node),
		};
	}
	qsort(order, n_order, sizeof(*order), node_rank_cmp);

	for (size_t k = 0; k < n_order && acc < need; k++)
		for (size_t r = 0; r < n_ranked && acc < need; r++) {
			unsigned i = ranked[r].index;

			if (t->llcs[i].node != order[k].node)
				continue;
			picked[i] = true;
			acc += by_llcs ? 1 : contrib[i];
		}

	*ret_reached = acc;
	return 0;
}

/* "LLC 0 (exclusive), LLC 3 (2 shared)" for the LLCs whose holders keep them from this plan. */
static int describe_holders(const struct kts_topology *t, const struct kts_llc_load *load,
			    const unsigned *contrib, bool exclusive_only, char **ret)
{
	_cleanup_free_ char *s = NULL;
	int r;

	for (size_t i = 0; load && i < t->n_llcs; i++) {
		const struct kts_llc_load *l = &load[i];

		if (contrib[i] == 0 || (l->exclusive == 0 && (exclusive_only || l->shared == 0)))
			continue;
		if (exclusive_only)
			r = appendf(&s, "%sLLC %zu", s ? ", " : "", i);
		else if (l->exclusive > 0)
			r = appendf(&s, "%sLLC %zu (exclusive)", s ? ", " : "", i);
		else
			r = appendf(&s, "%sLLC %zu (%u shared)", s ? ", " : "", i, l->shared);
		if (r < 0)
			return r;
	}
	if (!s && appendf(&s, "none") < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(s);
	return 0;
}

/* Adds the first n members of src to dst. */
static int add_first(struct kts_cpuset *dst, const struct kts_cpuset *src, unsigned n)
{
	int r;

	for (int c = cpuset_next(src, -1); c >= 0 && n > 0; c = cpuset_next(src, c), n--) {
		r = cpuset_add(dst, (unsigned) c);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * mems = the nodes of the taken CPUs, from the nodes' CPU sets (word operations,
 * no per-CPU search). A taken CPU that no node claims (a topology without node
 * information) counts for its LLC's node.
 */
static int compute_mems(const struct kts_topology *t, const struct kts_plan *p,
			struct kts_cpuset *mems)
{
	unsigned covered = 0, total = cpuset_count(&p->cpus);
	int r;

	for (size_t k = 0; k < t->n_nodes; k++) {
		unsigned n = cpuset_count_and(&t->nodes[k].cpus, &p->cpus);

		if (n == 0)
			continue;
		r = cpuset_add(mems, t->nodes[k].id);
		if (r < 0)
			return r;
		covered += n;
	}
	if (covered >= total)
		return 0;

	for (size_t j = 0; j < p->n_llcs; j++) {
		const struct kts_llc *l = &t->llcs[p->llcs[j]];
		bool claimed = true;

		CPUSET_FOREACH(cpu, &l->cpus) {
			if (!cpuset_has(&p->cpus, (unsigned) cpu))
				continue;
			claimed = false;
			for (size_t k = 0; k < t->n_nodes && !claimed; k++)
				claimed = cpuset_has(&t->nodes[k].cpus, (unsigned) cpu);
			if (!claimed)
				break;
		}
		if (!claimed) {
			r = cpuset_add(mems, l->node);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/*
 * contrib[i] = the allowed CPUs of LLC i; ranked = the LLCs a plan of this mode may use,
 * best first. *ret_allowed and *ret_avail count allowed CPUs and LLCs that have any.
 * "Allowed" is counted through the LLCs, i.e. allowed ∩ online: an allowed but offline CPU
 * (possible in a snapshot's Cpus_allowed_list) is no CPU to plan on.
 */
static void rank_llcs(const struct kts_topology *t, const struct kts_llc_load *load, bool excl,
		      unsigned *contrib, struct ranked_llc *ranked, size_t *ret_n_ranked,
		      unsigned *ret_allowed, unsigned *ret_avail)
{
	unsigned allowed = 0, n_avail = 0;
	size_t n_ranked = 0;

	for (size_t i = 0; i < t->n_llcs; i++) {
		const struct kts_llc_load *l = load ? &load[i] : &(struct kts_llc_load){ 0 };

		contrib[i] = cpuset_count_and(&t->llcs[i].cpus, &t->allowed);
		allowed += contrib[i];
		if (contrib[i] == 0)
			continue;
		n_avail++;
		if (l->exclusive > 0 || (excl && l->shared > 0))
			continue;
		ranked[n_ranked++] = (struct ranked_llc){
			.index = (unsigned) i,
			.holders = excl ? 0 : l->shared,
		};
	}
	qsort(ranked, n_ranked, sizeof(*ranked), ranked_cmp);
	*ret_n_ranked = n_ranked;
	*ret_allowed = allowed;
	*ret_avail = n_avail;
}

/* What the request needs (CPUs, or LLCs), and whether this machine could ever give it. */
static int plan_need(const struct kts_plan_req *req, bool excl, unsigned allowed,
		     unsigned n_avail, unsigned *ret_need, char **ret_why)
{
	unsigned need;

	if (excl && req->excl_llcs > 0) {
		need = req->excl_llcs;
		if (need > n_avail)
			return why_set(ret_why, -ERANGE,
				    "%u exclusive LLCs requested, but only %u LLCs have CPUs this "
				    "process may use", need, n_avail);
	} else if (excl && req->cpus == 0) {
		need = 1;
		if (n_avail == 0)
			return why_set(ret_why, -ERANGE, "no LLC has a CPU this process may use");
	} else {
		need = req->cpus > 0 ? req->cpus : plan_default_budget(allowed);
		if (need > allowed)
			return why_set(ret_why, -ERANGE,
				    "a budget of %u CPUs exceeds the %u CPUs this process may use",
				    need, allowed);
	}
	*ret_need = need;
	return 0;
}

/* -EBUSY with a reason naming the holders when the free LLCs reach only reached of need. */
static int plan_busy(const struct kts_topology *t, const struct kts_llc_load *load,
		     const unsigned *contrib, bool excl, bool by_llcs, unsigned need,
		     unsigned reached, char **ret_why)
{
	_cleanup_free_ char *held = NULL;
	int r;

	r = describe_holders(t, load, contrib, !excl, &held);
	if (r < 0)
		return r;
	if (!excl)
		return why_set(ret_why, -EBUSY,
			    "%u CPUs needed, but only %u are in LLCs without an exclusive "
			    "holder; held exclusively: %s", need, reached, held);
	if (by_llcs)
		return why_set(ret_why, -EBUSY,
			    "%u free LLCs needed, but only %u have no holder; held: %s",
			    need, reached, held);
	return why_set(ret_why, -EBUSY,
		    "%u CPUs in whole free LLCs needed, but the LLCs with no holder have "
		    "only %u; held: %s", need, reached, held);
}

/* Takes CPUs ascending through the picked LLCs (ascending index) into p. */
static int take_cpus(const struct kts_topology *t, const unsigned *contrib, const bool *picked,
		     bool excl, unsigned need, struct kts_plan *p)
{
	_cleanup_cpuset_ struct kts_cpuset part = KTS_CPUSET_INIT;
	unsigned remaining = excl ? UINT_MAX : need;
	int r;

	p->llcs = calloc(t->n_llcs, sizeof(*p->llcs));
	if (!p->llcs)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_llcs && remaining > 0; i++) {
		unsigned take;

		if (!picked[i])
			continue;
		take = MIN(contrib[i], remaining);
		r = cpuset_and(&part, &t->llcs[i].cpus, &t->allowed);
		if (r < 0)
			return r;
		/* Whole LLCs with set operations; only the last, partial one CPU by CPU. */
		r = take == contrib[i] ? cpuset_or(&p->cpus, &p->cpus, &part)
				       : add_first(&p->cpus, &part, take);
		if (r < 0)
			return r;
		if (!excl)
			remaining -= take;
		p->llcs[p->n_llcs++] = (unsigned) i;
	}
	return 0;
}

int plan_compute(const struct kts_topology *t, const struct kts_llc_load *load,
		 const struct kts_plan_req *req, struct kts_plan *ret, char **ret_why)
{
	_cleanup_(plan_donep) struct kts_plan p = { 0 };
	_cleanup_free_ unsigned *contrib = NULL;
	_cleanup_free_ struct ranked_llc *ranked = NULL;
	_cleanup_free_ bool *picked = NULL;
	unsigned allowed, n_avail, need = 0, reached = 0;
	size_t n_ranked;
	bool excl, by_llcs;
	int r;

	if (!t || !req || !ret)
		return -EINVAL;
	if (req->mode != KTS_PLAN_SHARED && req->mode != KTS_PLAN_EXCLUSIVE)
		return why_set(ret_why, -EINVAL, "unknown reservation mode %d", (int) req->mode);
	excl = req->mode == KTS_PLAN_EXCLUSIVE;
	if (!excl && req->excl_llcs > 0)
		return why_set(ret_why, -EINVAL,
			    "a number of exclusive LLCs was given for a shared plan");

	contrib = calloc(t->n_llcs ?: 1, sizeof(*contrib));
	ranked = calloc(t->n_llcs ?: 1, sizeof(*ranked));
	picked = calloc(t->n_llcs ?: 1, sizeof(*picked));
	if (!contrib || !ranked || !picked)
		return -ENOMEM;

	rank_llcs(t, load, excl, contrib, ranked, &n_ranked, &allowed, &n_avail);
	r = plan_need(req, excl, allowed, n_avail, &need, ret_why);
	if (r < 0)
		return r;
	by_llcs = excl && (req->excl_llcs > 0 || req->cpus == 0);
	if (n_ranked > 0) {
		r = pick_llcs(t, ranked, n_ranked, contrib, need, by_llcs, picked, &reached);
		if (r < 0)
			return r;
	}
	if (reached < need)
		return plan_busy(t, load, contrib, excl, by_llcs, need, reached, ret_why);

	r = take_cpus(t, contrib, picked, excl, need, &p);
	if (r < 0)
		return r;
	r = compute_mems(t, &p, &p.mems);
	if (r < 0)
		return r;

	p.mode = req->mode;
	p.target_cpus = excl ? cpuset_count(&p.cpus) : need;
	p.cross_node = cpuset_count(&p.mems) > 1;
	p.mems_all = true;
	for (size_t k = 0; k < t->n_nodes; k++)
		p.mems_all = p.mems_all && cpuset_has(&p.mems, t->nodes[k].id);
	p.make_jobs = cpuset_count(&p.cpus);

	*ret = p;
	p = (struct kts_plan){ 0 };
	return 0;
}
