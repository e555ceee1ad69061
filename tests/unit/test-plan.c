/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Planner tests: focused cases on topologies built in memory, and every sysfs
 * snapshot under tests/data/sysfs/ against its hand-derived expected-plans.
 *
 * expected-plans format (one case per line; '#' starts a comment line):
 *
 *   MODE ARG [hold=LLC:KIND[,LLC:KIND...]] => RESULT
 *
 *   MODE    shared | exclusive
 *   ARG     shared:    N (a budget of N CPUs) | default (the 30% default budget)
 *           exclusive: k=K (K whole LLCs) | cpus=N (enough whole LLCs for N CPUs)
 *                      | default (one LLC)
 *   hold    current lock holders by LLC index: s = one shared holder (repeat for
 *           more: 0:s,0:s is two), x = one exclusive holder
 *   RESULT  cpus=LIST llcs=LIST mems=LIST   (kernel cpu-list syntax; llcs are the
 *                                            LLC indices locked, mems the nodes)
 *           error=ERANGE | error=EBUSY | error=EINVAL
 *
 * Every snapshot directory with an expected-topology file must have an
 * expected-plans file; only "malformed" may (and must) fail to load, and needs none.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpuset.h"
#include "macro.h"
#include "plan.h"
#include "sysroot.h"
#include "topology.h"

#ifndef KTS_TEST_DATADIR
#error "KTS_TEST_DATADIR must name tests/data"
#endif

/* ---- topologies built in memory ---- */

struct fake_llc {
	const char *cpus;
	unsigned node;
};

/*
 * Fills t: LLC i = llcs[i] (index = position, id = i), nodes 0..n_nodes-1 with
 * the CPUs of their LLCs, distance = dist (n_nodes²) or NULL for 10/20,
 * allowed = the list or every online CPU when NULL. Release with fake_done().
 */
static void fake_topo(struct kts_topology *t, const struct fake_llc *llcs, size_t n_llcs,
		      size_t n_nodes, const unsigned *dist, const char *allowed)
{
	*t = (struct kts_topology){ .host = false };
	t->llcs = calloc(n_llcs, sizeof(*t->llcs));
	t->nodes = calloc(n_nodes, sizeof(*t->nodes));
	t->distance = calloc(n_nodes * n_nodes, sizeof(*t->distance));
	assert_non_null(t->llcs);
	assert_non_null(t->nodes);
	assert_non_null(t->distance);
	t->n_llcs = n_llcs;
	t->n_nodes = n_nodes;

	for (size_t k = 0; k < n_nodes; k++)
		t->nodes[k].id = (unsigned) k;
	for (size_t i = 0; i < n_llcs; i++) {
		t->llcs[i].index = (unsigned) i;
		t->llcs[i].id = (unsigned) i;
		t->llcs[i].node = llcs[i].node;
		assert_int_equal(cpuset_parse(llcs[i].cpus, &t->llcs[i].cpus), 0);
		assert_true(llcs[i].node < n_nodes);
		assert_int_equal(cpuset_or(&t->online, &t->online, &t->llcs[i].cpus), 0);
		assert_int_equal(cpuset_or(&t->nodes[llcs[i].node].cpus,
					   &t->nodes[llcs[i].node].cpus, &t->llcs[i].cpus), 0);
	}
	for (size_t a = 0; a < n_nodes; a++)
		for (size_t b = 0; b < n_nodes; b++)
			t->distance[a * n_nodes + b] = dist ? dist[a * n_nodes + b]
						       : a == b ? 10 : 20;
	if (allowed)
		assert_int_equal(cpuset_parse(allowed, &t->allowed), 0);
	else
		assert_int_equal(cpuset_copy(&t->allowed, &t->online), 0);
}

static void fake_done(struct kts_topology *t)
{
	for (size_t i = 0; i < t->n_llcs; i++)
		cpuset_done(&t->llcs[i].cpus);
	for (size_t k = 0; k < t->n_nodes; k++)
		cpuset_done(&t->nodes[k].cpus);
	free(t->llcs);
	free(t->nodes);
	free(t->distance);
	cpuset_done(&t->online);
	cpuset_done(&t->allowed);
	*t = (struct kts_topology){ 0 };
}

/* 16 CPUs, 4 LLCs of 4, 2 nodes (LLCs 0-1 on node 0, 2-3 on node 1). */
static const struct fake_llc two_nodes[] = {
	{ "0-3", 0 }, { "4-7", 0 }, { "8-11", 1 }, { "12-15", 1 },
};

/* ---- the case language shared by the unit tests and expected-plans ---- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int parse_uint(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*ret = (unsigned) v;
	return 0;
}

/*
 * Parses the left side of a case ("shared 6 hold=0:s,2:x") into req and load
 * (n_llcs entries, zeroed first). -EINVAL on anything malformed, including an
 * LLC index out of range.
 */
static int parse_request(const char *text, size_t n_llcs, struct kts_plan_req *req,
			 struct kts_llc_load *load)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL, *mode, *arg, *hold, *extra;

	assert_non_null(copy);
	memset(load, 0, n_llcs * sizeof(*load));
	*req = (struct kts_plan_req){ 0 };

	mode = strtok_r(copy, " \t", &save);
	arg = strtok_r(NULL, " \t", &save);
	hold = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (!mode || !arg || extra)
		return -EINVAL;

	if (streq(mode, "shared")) {
		req->mode = KTS_PLAN_SHARED;
		if (!streq(arg, "default") && parse_uint(arg, &req->cpus) < 0)
			return -EINVAL;
	} else if (streq(mode, "exclusive")) {
		req->mode = KTS_PLAN_EXCLUSIVE;
		if (startswith(arg, "k=")) {
			if (parse_uint(arg + 2, &req->excl_llcs) < 0)
				return -EINVAL;
		} else if (startswith(arg, "cpus=")) {
			if (parse_uint(arg + 5, &req->cpus) < 0)
				return -EINVAL;
		} else if (!streq(arg, "default"))
			return -EINVAL;
	} else
		return -EINVAL;

	if (!hold)
		return 0;
	if (!startswith(hold, "hold="))
		return -EINVAL;
	for (char *s2 = NULL, *item = strtok_r(hold + 5, ",", &s2); item;
	     item = strtok_r(NULL, ",", &s2)) {
		char *colon = strchr(item, ':');
		unsigned idx;

		if (!colon)
			return -EINVAL;
		*colon = '\0';
		if (parse_uint(item, &idx) < 0 || idx >= n_llcs)
			return -EINVAL;
		if (streq(colon + 1, "s"))
			load[idx].shared++;
		else if (streq(colon + 1, "x"))
			load[idx].exclusive++;
		else
			return -EINVAL;
	}
	return 0;
}

/* "cpus=0-5 llcs=0-1 mems=0", or "error=EBUSY" for r < 0. Caller frees. */
static char *format_result(int r, const struct kts_plan *p)
{
	_cleanup_free_ char *cpus = NULL, *llcs = NULL, *mems = NULL;
	_cleanup_cpuset_ struct kts_cpuset ls = KTS_CPUSET_INIT;
	char *s = NULL;

	if (r < 0) {
		const char *name = r == -ERANGE ? "ERANGE" :
				   r == -EBUSY	? "EBUSY" :
				   r == -EINVAL ? "EINVAL" : NULL;

		if (name)
			assert_true(asprintf(&s, "error=%s", name) > 0);
		else
			assert_true(asprintf(&s, "error=%d", r) > 0);
		return s;
	}
	for (size_t j = 0; j < p->n_llcs; j++)
		assert_int_equal(cpuset_add(&ls, p->llcs[j]), 0);
	assert_int_equal(cpuset_format(&p->cpus, &cpus), 0);
	assert_int_equal(cpuset_format(&ls, &llcs), 0);
	assert_int_equal(cpuset_format(&p->mems, &mems), 0);
	assert_true(asprintf(&s, "cpus=%s llcs=%s mems=%s", cpus, llcs, mems) > 0);
	return s;
}

/*
 * Properties every successful plan has, whatever the machine: the CPUs are
 * allowed and inside the locked LLCs, every locked LLC gives at least one CPU,
 * LLCs ascend, make -j matches, mems are exactly the nodes of the CPUs.
 */
static void check_invariants(const struct kts_topology *t, const struct kts_plan_req *req,
			     const struct kts_plan *p)
{
	_cleanup_cpuset_ struct kts_cpuset in_llcs = KTS_CPUSET_INIT;
	unsigned n = cpuset_count(&p->cpus), missing;

	assert_int_equal(p->mode, req->mode);
	assert_true(n >= 1);
	assert_int_equal(p->make_jobs, n);
	assert_true(cpuset_is_subset(&p->cpus, &t->allowed));
	assert_true(p->n_llcs >= 1);
	for (size_t j = 0; j < p->n_llcs; j++) {
		const struct kts_llc *l = &t->llcs[p->llcs[j]];

		assert_true(p->llcs[j] < t->n_llcs);
		if (j > 0)
			assert_true(p->llcs[j - 1] < p->llcs[j]);
		assert_true(cpuset_count_and(&l->cpus, &p->cpus) >= 1);
		assert_int_equal(cpuset_or(&in_llcs, &in_llcs, &l->cpus), 0);
		if (req->mode == KTS_PLAN_EXCLUSIVE)
			/* Whole LLCs: every allowed CPU of a locked LLC is in the plan. */
			assert_int_equal(cpuset_count_and(&l->cpus, &p->cpus),
					 cpuset_count_and(&l->cpus, &t->allowed));
	}
	assert_true(cpuset_is_subset(&p->cpus, &in_llcs));
	/* Shared: exactly the budget; exclusive: what the whole LLCs hold. */
	assert_int_equal(n, p->target_cpus);
	assert_int_equal(p->cross_node, cpuset_count(&p->mems) > 1);
	missing = 0;
	for (size_t k = 0; k < t->n_nodes; k++) {
		assert_int_equal(cpuset_has(&p->mems, t->nodes[k].id),
				 cpuset_count_and(&t->nodes[k].cpus, &p->cpus) > 0);
		missing += !cpuset_has(&p->mems, t->nodes[k].id);
	}
	/* mems_all: no node of the machine is left out (a memory policy would bind nothing). */
	assert_int_equal(p->mems_all, missing == 0);
}

/*
 * Runs one case ("shared 6 hold=2:s") on t and returns the formatted result;
 * also checks the invariants and that a second run gives the same plan. When
 * ret_why is not NULL it gets the failure reason.
 */
static char *run_case(const struct kts_topology *t, const char *request, char **ret_why)
{
	_cleanup_free_ struct kts_llc_load *load = calloc(t->n_llcs ?: 1, sizeof(*load));
	_cleanup_free_ char *why = NULL, *why2 = NULL, *again = NULL;
	struct kts_plan p = { 0 }, p2 = { 0 };
	struct kts_plan_req req;
	char *res;
	int r, r2;

	assert_non_null(load);
	if (parse_request(request, t->n_llcs, &req, load) < 0)
		fail_msg("malformed case '%s'", request);

	r = plan_compute(t, load, &req, &p, &why);
	if (r >= 0)
		check_invariants(t, &req, &p);
	else
		/* Every failure explains itself. */
		assert_non_null(why);
	res = format_result(r, &p);

	/* Deterministic: the same input gives the same plan and the same reason. */
	r2 = plan_compute(t, load, &req, &p2, &why2);
	again = format_result(r2, &p2);
	assert_string_equal(res, again);
	assert_int_equal(p.target_cpus, p2.target_cpus);
	if (r < 0)
		assert_string_equal(why, why2);

	plan_done(&p);
	plan_done(&p2);
	if (ret_why)
		*ret_why = TAKE_PTR(why);
	return res;
}

static void expect_case(const struct kts_topology *t, const char *request, const char *expected)
{
	_cleanup_free_ char *got = run_case(t, request, NULL);

	if (!streq(got, expected))
		fail_msg("'%s': expected '%s', got '%s'", request, expected, got);
}

/* ---- focused tests ---- */

static void test_default_budget_is_30_percent_rounded_up(void **state)
{
	static const unsigned table[][2] = {
		{ 0, 1 },   { 1, 1 },	{ 2, 1 },    { 3, 1 },	  { 4, 2 },   { 10, 3 },
		{ 16, 5 },  { 64, 20 }, { 128, 39 }, { 1024, 308 }, { 100, 30 }, { 101, 31 },
	};

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		assert_int_equal(plan_default_budget(table[i][0]), table[i][1]);
	/* No overflow on absurd counts. */
	assert_int_equal(plan_default_budget(UINT32_MAX), 1288490189U);
}

static void test_shared_default_budget_used_when_cpus_zero(void **state)
{
	struct kts_topology t;

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	/* 16 allowed → 5 CPUs: LLC 0 whole, one CPU of LLC 1. */
	expect_case(&t, "shared default", "cpus=0-4 llcs=0-1 mems=0");
	fake_done(&t);
}

static void test_shared_partial_last_llc_is_locked_whole(void **state)
{
	struct kts_topology t;
	struct kts_plan p = { 0 };
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED, .cpus = 6 };

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	assert_int_equal(plan_compute(&t, NULL, &req, &p, NULL), 0);
	/* Exactly the budget, although two whole LLCs (8 CPUs) are locked. */
	assert_int_equal(cpuset_count(&p.cpus), 6);
	assert_int_equal(p.target_cpus, 6);
	assert_int_equal(p.make_jobs, 6);
	assert_int_equal(p.n_llcs, 2);
	assert_int_equal(p.llcs[0], 0);
	assert_int_equal(p.llcs[1], 1);
	assert_false(p.cross_node);
	assert_false(p.mems_all); /* node 1 is left out: the policy binds to node 0 */
	assert_int_equal(p.mode, KTS_PLAN_SHARED);
	plan_done(&p);

	expect_case(&t, "shared 4", "cpus=0-3 llcs=0 mems=0");
	expect_case(&t, "shared 1", "cpus=0 llcs=0 mems=0");
	expect_case(&t, "shared 16", "cpus=0-15 llcs=0-3 mems=0-1");
	fake_done(&t);
}

static void test_shared_spills_to_the_next_node(void **state)
{
	struct kts_topology t;
	struct kts_plan p = { 0 };
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED, .cpus = 10 };

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	assert_int_equal(plan_compute(&t, NULL, &req, &p, NULL), 0);
	assert_true(p.cross_node);
	assert_true(p.mems_all); /* both nodes: nothing to bind */
	plan_done(&p);
	expect_case(&t, "shared 10", "cpus=0-9 llcs=0-2 mems=0-1");
	fake_done(&t);
}

static void test_shared_consolidates_onto_shared_holders(void **state)
{
	struct kts_topology t;

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	/* A build on LLC 2 pulls the seed to node 1: LLC 2, then LLC 3 of the same node. */
	expect_case(&t, "shared 6 hold=2:s", "cpus=8-13 llcs=2-3 mems=1");
	/* Most holders first: LLC 3 (2 holders) beats LLC 1 (1 holder). */
	expect_case(&t, "shared 4 hold=1:s,3:s,3:s", "cpus=12-15 llcs=3 mems=1");
	/* Ties between equally loaded LLCs go to the lower index. */
	expect_case(&t, "shared 4 hold=1:s,3:s", "cpus=4-7 llcs=1 mems=0");
	/* Shared holders do not shrink what is available. */
	expect_case(&t, "shared 16 hold=0:s,1:s,2:s,3:s", "cpus=0-15 llcs=0-3 mems=0-1");
	fake_done(&t);
}

static void test_shared_routes_around_exclusive_holder(void **state)
{
	struct kts_topology t;

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	expect_case(&t, "shared 4 hold=0:x", "cpus=4-7 llcs=1 mems=0");
	/* LLC 1 is node 0's only free LLC, so 6 CPUs spill to node 1. */
	expect_case(&t, "shared 6 hold=0:x", "cpus=4-9 llcs=1-2 mems=0-1");
	/* An exclusive holder outweighs shared ones on the same LLC. */
	expect_case(&t, "shared 4 hold=2:s,2:s,2:x", "cpus=0-3 llcs=0 mems=0");
	fake_done(&t);
}

static void test_shared_ebusy_names_exclusively_held_llcs(void **state)
{
	struct kts_topology t;
	_cleanup_free_ char *why = NULL;
	struct kts_plan p = { 0 };
	struct kts_llc_load load[4] = { [0] = { .exclusive = 1 }, [2] = { .exclusive = 1 } };
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED, .cpus = 10 };

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	p.make_jobs = 42;
	assert_int_equal(plan_compute(&t, load, &req, &p, &why), -EBUSY);
	/* ret is untouched on failure. */
	assert_int_equal(p.make_jobs, 42);
	assert_null(p.llcs);
	assert_non_null(why);
	assert_non_null(strstr(why, "10 CPUs"));
	assert_non_null(strstr(why, "only 8"));
	assert_non_null(strstr(why, "LLC 0"));
	assert_non_null(strstr(why, "LLC 2"));
	assert_null(strstr(why, "LLC 1"));
	assert_null(strstr(why, "LLC 3"));

	/* 8 CPUs still fit exactly in the two free LLCs, across both nodes. */
	expect_case(&t, "shared 8 hold=0:x,2:x", "cpus=4-7,12-15 llcs=1,3 mems=0-1");
	/* A NULL ret_why is fine. */
	assert_int_equal(plan_compute(&t, load, &req, &p, NULL), -EBUSY);
	fake_done(&t);
}

static void test_shared_erange_names_budget_and_allowed(void **state)
{
	struct kts_topology t;
	_cleanup_free_ char *why = NULL;
	struct kts_plan p = { 0 };
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED, .cpus = 17 };

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	assert_int_equal(plan_compute(&t, NULL, &req, &p, &why), -ERANGE);
	assert_non_null(why);
	assert_non_null(strstr(why, "17"));
	assert_non_null(strstr(why, "16"));
	/* -ERANGE wins over -EBUSY: it can never fit, holders or not. */
	expect_case(&t, "shared 17 hold=0:x", "error=ERANGE");
	fake_done(&t);
}

static void test_exclusive_takes_whole_free_llcs(void **state)
{
	struct kts_topology t;
	struct kts_plan p = { 0 };
	struct kts_plan_req req = { .mode = KTS_PLAN_EXCLUSIVE, .excl_llcs = 2 };
	struct kts_llc_load load[4] = { [0] = { .shared = 1 } };

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	assert_int_equal(plan_compute(&t, load, &req, &p, NULL), 0);
	/* LLC 0 has a shared holder; LLC 1 is node 0's free one, LLC 2 the spill. */
	assert_int_equal(p.n_llcs, 2);
	assert_int_equal(p.llcs[0], 1);
	assert_int_equal(p.llcs[1], 2);
	assert_int_equal(p.target_cpus, 8);
	assert_int_equal(p.make_jobs, 8);
	assert_int_equal(p.mode, KTS_PLAN_EXCLUSIVE);
	assert_true(p.cross_node);
	plan_done(&p);

	expect_case(&t, "exclusive default", "cpus=0-3 llcs=0 mems=0");
	expect_case(&t, "exclusive k=1 hold=0:s,1:s", "cpus=8-11 llcs=2 mems=1");
	/* 6 CPUs need two whole LLCs; all 8 of their CPUs are the plan. */
	expect_case(&t, "exclusive cpus=6", "cpus=0-7 llcs=0-1 mems=0");
	expect_case(&t, "exclusive cpus=4", "cpus=0-3 llcs=0 mems=0");
	expect_case(&t, "exclusive k=4", "cpus=0-15 llcs=0-3 mems=0-1");
	fake_done(&t);
}

static void test_exclusive_errors(void **state)
{
	struct kts_topology t;
	_cleanup_free_ char *why = NULL, *why2 = NULL, *res = NULL, *res2 = NULL;

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	free(run_case(&t, "exclusive k=5", &why));
	assert_non_null(strstr(why, "5"));
	assert_non_null(strstr(why, "4"));
	expect_case(&t, "exclusive k=5", "error=ERANGE");
	expect_case(&t, "exclusive cpus=17", "error=ERANGE");

	res = run_case(&t, "exclusive k=4 hold=1:s,3:x", &why2);
	assert_string_equal(res, "error=EBUSY");
	/* The reason names each held LLC and how it is held. */
	assert_non_null(strstr(why2, "LLC 1 (1 shared)"));
	assert_non_null(strstr(why2, "LLC 3 (exclusive)"));
	assert_null(strstr(why2, "LLC 0"));

	res2 = run_case(&t, "exclusive cpus=13 hold=0:s", NULL);
	assert_string_equal(res2, "error=EBUSY");
	expect_case(&t, "exclusive cpus=12 hold=0:s", "cpus=4-15 llcs=1-3 mems=0-1");
	fake_done(&t);
}

static void test_invalid_requests(void **state)
{
	struct kts_topology t;
	struct kts_plan p = { 0 };
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED, .cpus = 2, .excl_llcs = 1 };
	_cleanup_free_ char *why = NULL;

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	assert_int_equal(plan_compute(&t, NULL, &req, &p, &why), -EINVAL);
	assert_non_null(why);
	req = (struct kts_plan_req){ .mode = (enum kts_plan_mode) 7, .cpus = 1 };
	assert_int_equal(plan_compute(&t, NULL, &req, &p, NULL), -EINVAL);
	assert_int_equal(plan_compute(NULL, NULL, &req, &p, NULL), -EINVAL);
	assert_null(p.llcs);
	fake_done(&t);
}

static void test_restricted_affinity_plans_allowed_cpus_only(void **state)
{
	static const struct fake_llc llcs[] = { { "0-3", 0 }, { "4-7", 0 } };
	struct kts_topology t;

	fake_topo(&t, llcs, ELEMENTSOF(llcs), 1, NULL, "2-5");
	/* 4 allowed → default 2: CPUs 2-3, LLC 0 only. */
	expect_case(&t, "shared default", "cpus=2-3 llcs=0 mems=0");
	expect_case(&t, "shared 3", "cpus=2-4 llcs=0-1 mems=0");
	expect_case(&t, "shared 5", "error=ERANGE");
	/* Exclusive: the whole LLC, but only its allowed CPUs. */
	expect_case(&t, "exclusive default", "cpus=2-3 llcs=0 mems=0");
	expect_case(&t, "exclusive k=2", "cpus=2-5 llcs=0-1 mems=0");
	expect_case(&t, "exclusive k=3", "error=ERANGE");
	fake_done(&t);
}

static void test_llc_without_allowed_cpus_is_never_locked(void **state)
{
	static const struct fake_llc llcs[] = { { "0-3", 0 }, { "4-7", 0 }, { "8-11", 0 } };
	struct kts_topology t;

	fake_topo(&t, llcs, ELEMENTSOF(llcs), 1, NULL, "0-3,8-11");
	expect_case(&t, "shared 6", "cpus=0-3,8-9 llcs=0,2 mems=0");
	/* Even when it is the most shared: it has nothing to give. */
	expect_case(&t, "shared 2 hold=1:s,1:s", "cpus=0-1 llcs=0 mems=0");
	expect_case(&t, "exclusive k=2", "cpus=0-3,8-11 llcs=0,2 mems=0");
	expect_case(&t, "exclusive k=3", "error=ERANGE");
	fake_done(&t);
}

static void test_picked_llc_that_gives_no_cpu_is_dropped(void **state)
{
	struct kts_topology t;

	/*
	 * LLC 3 has a shared holder and 2 allowed CPUs, so it seeds on node 1 and is
	 * picked first; node 1 has nothing more, LLC 0 on node 0 completes the pick.
	 * Taking CPUs ascending, LLC 0 alone gives the 4: LLC 3 is not locked.
	 */
	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, "0-3,14-15");
	expect_case(&t, "shared 4 hold=3:s", "cpus=0-3 llcs=0 mems=0");
	expect_case(&t, "shared 5 hold=3:s", "cpus=0-3,14 llcs=0,3 mems=0-1");
	fake_done(&t);
}

static void test_spill_follows_distance_then_node_id(void **state)
{
	static const struct fake_llc llcs[] = {
		{ "0-1", 0 }, { "2-3", 1 }, { "4-5", 2 }, { "6-7", 3 },
	};
	/* Asymmetric: from node 0, node 2 (15) is nearer than node 1 (30) and node 3 (30). */
	static const unsigned dist[] = {
		10, 30, 15, 30,
		30, 10, 30, 15,
		15, 30, 10, 30,
		30, 15, 30, 10,
	};
	struct kts_topology t;

	fake_topo(&t, llcs, ELEMENTSOF(llcs), 4, dist, NULL);
	expect_case(&t, "shared 3", "cpus=0-1,4 llcs=0,2 mems=0,2");
	/* Nodes 1 and 3 tie at 30 from node 0: node 1 first. */
	expect_case(&t, "shared 5", "cpus=0-4 llcs=0-2 mems=0-2");
	/* Seeded on node 3 by its holder: node 1 (15) before node 0 and 2 (30). */
	expect_case(&t, "shared 3 hold=3:s", "cpus=2-3,6 llcs=1,3 mems=1,3");
	expect_case(&t, "exclusive k=2 hold=0:x", "cpus=2-3,6-7 llcs=1,3 mems=1,3");
	fake_done(&t);
}

static void test_mems_follow_each_cpus_own_node(void **state)
{
	static const struct fake_llc llcs[] = { { "0-7", 0 }, { "8-15", 1 } };
	struct kts_topology t;

	/* Sub-NUMA clustering: LLC 0 spans nodes 0 (0-3) and 1 (4-7); node 1 also has 8-15. */
	fake_topo(&t, llcs, ELEMENTSOF(llcs), 2, NULL, NULL);
	cpuset_done(&t.nodes[0].cpus);
	cpuset_done(&t.nodes[1].cpus);
	assert_int_equal(cpuset_parse("0-3", &t.nodes[0].cpus), 0);
	assert_int_equal(cpuset_parse("4-15", &t.nodes[1].cpus), 0);
	expect_case(&t, "shared 4", "cpus=0-3 llcs=0 mems=0");
	expect_case(&t, "shared 5", "cpus=0-4 llcs=0 mems=0-1");
	fake_done(&t);
}

static void test_mems_without_node_information(void **state)
{
	struct kts_topology t = { 0 };
	struct kts_plan p = { 0 };
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED, .cpus = 2 };
	struct kts_llc llc = { .index = 0, .id = 0, .node = 0 };

	/* No nodes[] at all (a topology loader that found none): the LLC's node counts. */
	assert_int_equal(cpuset_parse("0-3", &llc.cpus), 0);
	assert_int_equal(cpuset_parse("0-3", &t.allowed), 0);
	t.llcs = &llc;
	t.n_llcs = 1;
	assert_int_equal(plan_compute(&t, NULL, &req, &p, NULL), 0);
	assert_int_equal(cpuset_count(&p.cpus), 2);
	assert_true(cpuset_has(&p.mems, 0));
	assert_int_equal(cpuset_count(&p.mems), 1);
	assert_true(p.mems_all); /* no node information: nothing to bind against */
	plan_done(&p);
	cpuset_done(&llc.cpus);
	cpuset_done(&t.allowed);
}

static void test_deterministic_across_many_requests(void **state)
{
	struct kts_topology t;

	fake_topo(&t, two_nodes, ELEMENTSOF(two_nodes), 2, NULL, NULL);
	/* run_case computes every plan twice and compares; sweep budgets and holders. */
	for (unsigned n = 1; n <= 16; n++) {
		char req[64];
		_cleanup_free_ char *a = NULL, *b = NULL;

		(void) snprintf(req, sizeof(req), "shared %u hold=1:s,2:s,2:s", n);
		a = run_case(&t, req, NULL);
		b = run_case(&t, req, NULL);
		assert_string_equal(a, b);
		assert_null(strstr(a, "error"));
	}
	fake_done(&t);
}

static void test_plan_done_and_mode_names(void **state)
{
	struct kts_plan p = { 0 };

	plan_done(&p);
	plan_done(&p);
	plan_done(NULL);
	assert_string_equal(plan_mode_to_string(KTS_PLAN_SHARED), "shared");
	assert_string_equal(plan_mode_to_string(KTS_PLAN_EXCLUSIVE), "exclusive");
}

static void test_case_parser_rejects_malformed_lines(void **state)
{
	struct kts_plan_req req;
	struct kts_llc_load load[2];

	assert_int_equal(parse_request("shared 4 hold=0:s,1:x", 2, &req, load), 0);
	assert_int_equal(load[0].shared, 1);
	assert_int_equal(load[1].exclusive, 1);
	assert_int_equal(parse_request("shared 4 hold=2:s", 2, &req, load), -EINVAL);
	assert_int_equal(parse_request("shared 4 hold=0:q", 2, &req, load), -EINVAL);
	assert_int_equal(parse_request("shared -1", 2, &req, load), -EINVAL);
	assert_int_equal(parse_request("exclusive 3", 2, &req, load), -EINVAL);
	assert_int_equal(parse_request("both 3", 2, &req, load), -EINVAL);
	assert_int_equal(parse_request("shared 4 hold=0:s junk", 2, &req, load), -EINVAL);
}

/* ---- sysfs snapshots ---- */

static char *snapshot_path(const char *machine, const char *file)
{
	char *s = NULL;

	assert_true(asprintf(&s, "%s/sysfs/%s%s%s", KTS_TEST_DATADIR, machine, file ? "/" : "",
			     file ? file : "") > 0);
	return s;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Every case of tests/data/sysfs/<machine>/expected-plans against the loaded snapshot. */
static void test_snapshot(void **state)
{
	const char *machine = *state;
	_cleanup_free_ char *root_path = snapshot_path(machine, NULL);
	_cleanup_free_ char *plans_path = snapshot_path(machine, "expected-plans");
	_cleanup_free_ char *errpath = NULL, *line = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	struct kts_sysroot root = KTS_SYSROOT_INIT;
	struct kts_topology t = { 0 };
	size_t cap = 0, lineno = 0, n_cases = 0;
	int r;

	r = sysroot_open(root_path, &root);
	if (r < 0)
		fail_msg("%s: cannot open: %s", root_path, strerror(-r));
	r = topo_load(&root, &t, &errpath);
	if (streq(machine, "malformed")) {
		/*
		 * Malformed on purpose: the planner must never see it, so the one thing
		 * to check here is that loading refuses it (what exactly is topology's test).
		 */
		sysroot_close(&root);
		if (r >= 0)
			topo_done(&t);
		assert_true(r < 0);
		return;
	}
	if (r < 0)
		fail_msg("%s: topo_load failed: %s (%s)", machine, strerror(-r), strempty(errpath));

	f = fopen(plans_path, "re");
	if (!f)
		fail_msg("%s: has expected-topology but no readable expected-plans", machine);

	while (getline(&line, &cap, f) >= 0) {
		_cleanup_free_ char *got = NULL;
		char *s = trim(line), *arrow;

		lineno++;
		if (!*s || *s == '#')
			continue;
		arrow = strstr(s, "=>");
		if (!arrow)
			fail_msg("%s:%zu: no '=>'", plans_path, lineno);
		*arrow = '\0';
		got = run_case(&t, trim(s), NULL);
		if (!streq(got, trim(arrow + 2)))
			fail_msg("%s:%zu: '%s': expected '%s', got '%s'", machine, lineno, trim(s),
				 trim(arrow + 2), got);
		n_cases++;
	}
	/* An empty file would pass silently. */
	if (n_cases == 0)
		fail_msg("%s: expected-plans has no cases", machine);

	topo_done(&t);
	sysroot_close(&root);
}

/* Snapshot directory names with an expected-topology file, sorted. */
static size_t list_snapshots(char ***ret)
{
	_cleanup_free_ char *dir = NULL;
	struct dirent **ents = NULL;
	char **names;
	size_t n = 0;
	int m;

	assert_true(asprintf(&dir, "%s/sysfs", KTS_TEST_DATADIR) > 0);
	m = scandir(dir, &ents, NULL, alphasort);
	if (m < 0) {
		*ret = NULL;
		return 0;
	}
	names = calloc((size_t) m + 1, sizeof(*names));
	assert_non_null(names);
	for (int i = 0; i < m; i++) {
		_cleanup_free_ char *marker = NULL;

		if (ents[i]->d_name[0] != '.') {
			marker = snapshot_path(ents[i]->d_name, "expected-topology");
			if (file_exists(marker))
				names[n++] = strdup(ents[i]->d_name);
		}
		free(ents[i]);
	}
	free(ents);
	*ret = names;
	return n;
}

static void test_snapshots_exist(void **state)
{
	/* The snapshot tests are generated from the directory: zero would pass silently. */
	assert_true(*(size_t *) *state >= 1);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_default_budget_is_30_percent_rounded_up),
		cmocka_unit_test(test_shared_default_budget_used_when_cpus_zero),
		cmocka_unit_test(test_shared_partial_last_llc_is_locked_whole),
		cmocka_unit_test(test_shared_spills_to_the_next_node),
		cmocka_unit_test(test_shared_consolidates_onto_shared_holders),
		cmocka_unit_test(test_shared_routes_around_exclusive_holder),
		cmocka_unit_test(test_shared_ebusy_names_exclusively_held_llcs),
		cmocka_unit_test(test_shared_erange_names_budget_and_allowed),
		cmocka_unit_test(test_exclusive_takes_whole_free_llcs),
		cmocka_unit_test(test_exclusive_errors),
		cmocka_unit_test(test_invalid_requests),
		cmocka_unit_test(test_restricted_affinity_plans_allowed_cpus_only),
		cmocka_unit_test(test_llc_without_allowed_cpus_is_never_locked),
		cmocka_unit_test(test_picked_llc_that_gives_no_cpu_is_dropped),
		cmocka_unit_test(test_spill_follows_distance_then_node_id),
		cmocka_unit_test(test_mems_follow_each_cpus_own_node),
		cmocka_unit_test(test_mems_without_node_information),
		cmocka_unit_test(test_deterministic_across_many_requests),
		cmocka_unit_test(test_plan_done_and_mode_names),
		cmocka_unit_test(test_case_parser_rejects_malformed_lines),
	};
	char **machines = NULL;
	size_t n_machines = list_snapshots(&machines), n = 0;
	struct CMUnitTest *tests;
	char **names;
	int r;

	tests = calloc(ELEMENTSOF(fixed) + 1 + n_machines, sizeof(*tests));
	names = calloc(n_machines + 1, sizeof(*names));
	if (!tests || !names)
		return 1;
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		tests[n++] = fixed[i];
	tests[n++] = (struct CMUnitTest){
		.name = "test_snapshots_exist",
		.test_func = test_snapshots_exist,
		.initial_state = &n_machines,
	};
	for (size_t i = 0; i < n_machines; i++) {
		if (asprintf(&names[i], "test_snapshot_%s", machines[i]) < 0)
			return 1;
		tests[n++] = (struct CMUnitTest){
			.name = names[i],
			.test_func = test_snapshot,
			.initial_state = machines[i],
		};
	}

	r = _cmocka_run_group_tests("plan", tests, n, NULL, NULL);

	for (size_t i = 0; i < n_machines; i++) {
		free(names[i]);
		free(machines[i]);
	}
	free(names);
	free(machines);
	free(tests);
	return r;
}
