/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Planner throughput on the 1024-CPU snapshot (DESIGN §9): a waiting `ktscope
 * run` re-plans every 250 ms and `ktscope locks`/`topology` plan on demand, so a
 * plan must cost microseconds even on the largest machines; the contract is at
 * least 10,000 plans/s. Runs plan_compute() for about 2 s over a fixed mix of
 * requests and holders and prints the rate and the median time of one plan.
 * Exit status: 0, or 1 when the snapshot cannot be loaded or a plan fails.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "plan.h"
#include "sysroot.h"
#include "topology.h"

#ifndef KTS_TEST_DATADIR
#error "KTS_TEST_DATADIR must name tests/data"
#endif

#define RUN_NSEC (2ULL * 1000000000ULL)
#define MAX_SAMPLES (16U * 1024U * 1024U)

struct bench_case {
	struct kts_plan_req req;
	unsigned hold_every;  /* every n-th LLC has one shared holder; 0 = none */
	unsigned excl_every;  /* every n-th LLC (offset 1) is held exclusively; 0 = none */
};

/* Budgets from one CPU to the whole machine, default included, with and without holders. */
static const struct bench_case cases[] = {
	{ { KTS_PLAN_SHARED, 1, 0 }, 0, 0 },
	{ { KTS_PLAN_SHARED, 0, 0 }, 0, 0 },          /* default budget: 308 */
	{ { KTS_PLAN_SHARED, 16, 0 }, 5, 0 },
	{ { KTS_PLAN_SHARED, 100, 0 }, 3, 7 },
	{ { KTS_PLAN_SHARED, 500, 0 }, 2, 9 },
	{ { KTS_PLAN_SHARED, 900, 0 }, 4, 0 },
	{ { KTS_PLAN_SHARED, 1024, 0 }, 0, 0 },
	{ { KTS_PLAN_EXCLUSIVE, 0, 0 }, 0, 0 },
	{ { KTS_PLAN_EXCLUSIVE, 0, 8 }, 3, 0 },
	{ { KTS_PLAN_EXCLUSIVE, 200, 0 }, 5, 11 },
};

static uint64_t now_nsec(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	struct kts_llc_load *loads[ELEMENTSOF(cases)] = { 0 };
	struct kts_sysroot root = KTS_SYSROOT_INIT;
	struct kts_topology t = { 0 };
	_cleanup_free_ char *errpath = NULL;
	_cleanup_free_ uint64_t *samples = NULL;
	const char *path = KTS_TEST_DATADIR "/sysfs/1024cpu";
	uint64_t start, end;
	double rate;
	size_t n = 0;
	int r, ret = 1;

	r = sysroot_open(path, &root);
	if (r < 0) {
		fprintf(stderr, "plan-bench: cannot open '%s': %s\n", path, strerror(-r));
		return 1;
	}
	r = topo_load(&root, &t, &errpath);
	if (r < 0) {
		fprintf(stderr, "plan-bench: cannot load '%s': %s (%s)\n", path, strerror(-r),
			strempty(errpath));
		sysroot_close(&root);
		return 1;
	}

	samples = malloc(MAX_SAMPLES * sizeof(*samples));
	if (!samples)
		goto out;
	for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
		loads[c] = calloc(t.n_llcs, sizeof(*loads[c]));
		if (!loads[c])
			goto out;
		for (size_t i = 0; i < t.n_llcs; i++) {
			if (cases[c].hold_every && i % cases[c].hold_every == 0)
				loads[c][i].shared = 1 + (unsigned) (i % 3);
			if (cases[c].excl_every && i % cases[c].excl_every == 1)
				loads[c][i].exclusive = 1;
		}
	}

	start = now_nsec();
	end = start;
	while (end - start < RUN_NSEC && n < MAX_SAMPLES) {
		size_t c = n % ELEMENTSOF(cases);
		struct kts_plan p = { 0 };
		_cleanup_free_ char *why = NULL;
		uint64_t t0 = end;

		r = plan_compute(&t, loads[c], &cases[c].req, &p, &why);
		end = now_nsec();
		if (r < 0) {
			fprintf(stderr, "plan-bench: case %zu failed: %s (%s)\n", c, strerror(-r),
				strempty(why));
			goto out;
		}
		plan_done(&p);
		samples[n++] = end - t0;
	}

	qsort(samples, n, sizeof(*samples), cmp_u64);
	printf("topology: %s (%u CPUs, %zu LLCs, %zu nodes)\n", path, cpuset_count(&t.online),
	       t.n_llcs, t.n_nodes);
	printf("plans: %zu in %.2f s\n", n, (double) (end - start) / 1e9);
	rate = (double) n * 1e9 / (double) (end - start);
	printf("plans/s: %.0f (target >= 10000) %s\n", rate, rate >= 10000.0 ? "PASS" : "MISS");
	printf("median: %.2f us/plan (p99 %.2f us)\n", (double) samples[n / 2] / 1e3,
	       (double) samples[n * 99 / 100] / 1e3);
	ret = 0;
out:
	for (size_t c = 0; c < ELEMENTSOF(cases); c++)
		free(loads[c]);
	topo_done(&t);
	sysroot_close(&root);
	return ret;
}
