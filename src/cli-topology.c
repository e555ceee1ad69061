/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope topology`: argv → the planning request → the machine, the LLC locks'
 * holders and the plan a build or run would get now, as text or one JSON document.
 * Nothing is locked.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "cpuset.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "topology.h"

/* --exclusive[=K]: K ≥ 1 LLCs. */
static int parse_exclusive(const char *value, unsigned *ret)
{
	unsigned v;

	if (!value) {
		*ret = 0;
		return KTS_EXIT_OK;
	}
	if (cli_parse_unsigned(value, &v) < 0 || v == 0 || v >= KTS_CPU_MAX) {
		log_error("invalid --exclusive '%s': expected a number of LLCs, at least 1", value);
		return KTS_EXIT_USAGE;
	}
	*ret = v;
	return KTS_EXIT_OK;
}

static const char topology_help[] =
	"Usage: ktscope topology [--sysroot DIR] [--cpu-cap N | --exclusive[=K]] [--json]\n"
	"\n"
	"Print the machine's CPUs, NUMA nodes and last-level caches (LLCs), who holds\n"
	"each LLC lock, and the reservation a build or run would get right now.\n"
	"No lock is kept.\n"
	"\n"
	"Options:\n"
	"  --sysroot DIR      read sysfs and /proc from DIR instead of / (a snapshot\n"
	"                     of another machine; env KTSCOPE_SYSROOT). Lock holders\n"
	"                     are still the real ones in the lock directory.\n"
	"  --cpu-cap N        plan a shared reservation of exactly N CPUs\n"
	"                     (env KTSCOPE_CPU_CAP; default: 30% of the allowed CPUs)\n"
	"  --exclusive[=K]    plan an exclusive reservation of K whole free LLCs\n"
	"                     (default 1; with --cpu-cap N: enough LLCs for N CPUs)\n"
	"  --json             print one JSON document\n"
	"  -h, --help         show this help\n"
	"\n"
	"Exit status: 0 plan possible, 2 bad option or value, 3 no plan possible now\n"
	"(LLCs held), 4 topology unreadable.\n";

struct plan_args {
	const char *cpu_cap;
	bool exclusive;
	const char *exclusive_k;
};

/* Turns --cpu-cap/--exclusive into a request; returns an exit code. */
static int plan_args_to_req(const struct plan_args *a, struct kts_plan_req *req)
{
	int r;

	*req = (struct kts_plan_req){ .mode = a->exclusive ? KTS_PLAN_EXCLUSIVE : KTS_PLAN_SHARED };
	if (a->exclusive && a->exclusive_k && a->cpu_cap) {
		log_error("--exclusive=%s and --cpu-cap %s conflict: give a number of LLCs or of CPUs, "
			  "not both", a->exclusive_k, a->cpu_cap);
		return KTS_EXIT_USAGE;
	}
	r = parse_exclusive(a->exclusive_k, &req->excl_llcs);
	if (r != KTS_EXIT_OK)
		return r;
	if (a->exclusive && !a->cpu_cap)
		return KTS_EXIT_OK; /* KTSCOPE_CPU_CAP is a shared-mode budget */
	return cli_resolve_cpu_cap(a->cpu_cap, &req->cpus);
}

/* The request: what the options say. */
struct topology_args {
	struct plan_args pa;
	const char *sysroot;
	bool json;
};

/* What both outputs show. */
struct topology_view {
	const char *lockdir;
	struct kts_topology t;
	struct kts_plan plan;
	int plan_r;                    /* 0, or -EBUSY: no plan possible now */
	char *why;                     /* why not, from the planner */
	struct kts_llc_holders *holders; /* per LLC, t.n_llcs entries */
};

static void topology_view_done(struct topology_view *v)
{
	for (size_t i = 0; v->holders && i < v->t.n_llcs; i++)
		lock_holders_free(v->holders[i].h, v->holders[i].n);
	free(v->holders);
	free(v->why);
	plan_done(&v->plan);
	topo_done(&v->t);
}

/* Returns -1 to go on, else the exit code (--help, a bad option). */
static int topology_parse(int argc, char **argv, struct topology_args *ret)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "sysroot", required_argument, NULL, 's' },
		{ "cpu-cap", required_argument, NULL, 'c' },
		{ "exclusive", optional_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	int c;

	*ret = (struct topology_args){ .sysroot = getenv_nonempty("KTSCOPE_SYSROOT") };
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(topology_help, stdout);
			return KTS_EXIT_OK;
		case 's':
			ret->sysroot = optarg;
			break;
		case 'c':
			ret->pa.cpu_cap = optarg;
			break;
		case 'x':
			ret->pa.exclusive = true;
			ret->pa.exclusive_k = optarg;
			break;
		case 'j':
			ret->json = true;
			break;
		default:
			return cli_option_error(c, argv, "topology");
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see 'ktscope topology --help')", argv[optind]);
		return KTS_EXIT_USAGE;
	}
	return -1;
}

/* Holders per LLC, best effort: a lock file that is not there has none. */
static int collect_holders(struct topology_view *v)
{
	v->holders = calloc(v->t.n_llcs ? v->t.n_llcs : 1, sizeof(*v->holders));
	if (!v->holders)
		return log_error_errno(-ENOMEM, "%m"), KTS_EXIT_FAILURE;
	for (size_t i = 0; i < v->t.n_llcs; i++) {
		_cleanup_free_ char *path = NULL;

		if (lock_llc_path(v->lockdir, v->t.llcs[i].index, &path) < 0)
			continue;
		if (access(path, F_OK) == 0)
			(void) lock_holders(path, &v->holders[i].h, &v->holders[i].n);
	}
	return KTS_EXIT_OK;
}

/* Topology, the plan against the current holders, and the holders; an exit code. */
static int topology_collect(const struct topology_args *a, struct topology_view *v)
{
	_cleanup_free_ struct kts_llc_load *load = NULL;
	struct kts_plan_req req;
	int r;

	r = plan_args_to_req(&a->pa, &req);
	if (r != KTS_EXIT_OK)
		return r;
	r = cli_load_topology(a->sysroot, &v->t);
	if (r != KTS_EXIT_OK)
		return r;
	if (req.cpus > cpuset_count(&v->t.allowed)) {
		log_error("--cpu-cap %u exceeds the %u CPUs this process may use", req.cpus,
			  cpuset_count(&v->t.allowed));
		return KTS_EXIT_USAGE;
	}
	r = lock_llc_load(v->lockdir, &v->t, &load);
	if (r < 0)
		return log_error_errno(r, "cannot read the lock holders in '%s': %m", v->lockdir),
		       KTS_EXIT_ENV;
	v->plan_r = plan_compute(&v->t, load, &req, &v->plan, &v->why);
	if (v->plan_r < 0 && v->plan_r != -EBUSY) {
		log_error("impossible reservation: %s", v->why ? v->why : strerror(-v->plan_r));
		return KTS_EXIT_USAGE;
	}
	return collect_holders(v);
}

/* ---------------------------------------------------------------- --json */

static struct json_object *json_nodes(const struct kts_topology *t)
{
	struct json_object *nodes = json_object_new_array();

	for (size_t i = 0; i < t->n_nodes; i++) {
		struct json_object *n = json_object_new_object(), *d = json_object_new_array();

		json_object_object_add(n, "node", json_object_new_int((int) t->nodes[i].id));
		json_object_object_add(n, "cpus", cli_json_cpuset(&t->nodes[i].cpus));
		for (size_t k = 0; k < t->n_nodes; k++)
			json_object_array_add(d, json_object_new_int((int) topo_distance(
							    t, t->nodes[i].id, t->nodes[k].id)));
		json_object_object_add(n, "distances", d);
		json_object_array_add(nodes, n);
	}
	return nodes;
}

static struct json_object *json_llcs(const struct topology_view *v)
{
	struct json_object *llcs = json_object_new_array();

	for (size_t i = 0; i < v->t.n_llcs; i++) {
		const struct kts_llc *llc = &v->t.llcs[i];
		struct json_object *l = json_object_new_object();
		_cleanup_free_ char *path = NULL;

		(void) lock_llc_path(v->lockdir, llc->index, &path);
		json_object_object_add(l, "index", json_object_new_int((int) llc->index));
		json_object_object_add(l, "id", json_object_new_int((int) llc->id));
		json_object_object_add(l, "cpus", cli_json_cpuset(&llc->cpus));
		json_object_object_add(l, "node", json_object_new_int((int) llc->node));
		json_object_object_add(l, "lockfile", json_object_new_string(strempty(path)));
		json_object_object_add(l, "holders",
				       cli_json_holders(v->holders[i].h, v->holders[i].n));
		json_object_array_add(llcs, l);
	}
	return llcs;
}

static struct json_object *json_plan(const struct kts_plan *plan)
{
	struct json_object *p = json_object_new_object(), *pl = json_object_new_array();

	json_object_object_add(p, "mode", json_object_new_string(plan_mode_to_string(plan->mode)));
	json_object_object_add(p, "target_cpus", json_object_new_int((int) plan->target_cpus));
	for (size_t i = 0; i < plan->n_llcs; i++)
		json_object_array_add(pl, json_object_new_int((int) plan->llcs[i]));
	json_object_object_add(p, "llcs", pl);
	json_object_object_add(p, "cpus", cli_json_cpuset(&plan->cpus));
	json_object_object_add(p, "mems", cli_json_cpuset(&plan->mems));
	json_object_object_add(p, "make_jobs", json_object_new_int((int) plan->make_jobs));
	json_object_object_add(p, "cross_node", json_object_new_boolean(plan->cross_node));
	return p;
}

static void print_topology_json(const struct topology_view *v)
{
	_cleanup_json_ struct json_object *j = json_object_new_object();

	json_object_object_add(j, "sysroot", json_object_new_string(v->t.sysroot));
	json_object_object_add(j, "online_cpus", cli_json_cpuset(&v->t.online));
	json_object_object_add(j, "allowed_cpus", cli_json_cpuset(&v->t.allowed));
	json_object_object_add(j, "nodes", json_nodes(&v->t));
	json_object_object_add(j, "llcs", json_llcs(v));
	if (v->plan_r == 0) {
		json_object_object_add(j, "plan", json_plan(&v->plan));
		json_object_object_add(j, "plan_error", NULL);
	} else {
		json_object_object_add(j, "plan", NULL);
		json_object_object_add(j, "plan_error",
				       json_object_new_string(v->why ? v->why : "LLCs are held"));
	}
	cli_print_json(j);
}

/* ---------------------------------------------------------------- text */

static void print_machine(const struct kts_topology *t)
{
	_cleanup_free_ char *online = cpuset_display(&t->online), *allowed = cpuset_display(&t->allowed);

	printf("Machine (sysroot %s): %u CPUs online (%s), %u allowed (%s), %zu LLC%s, "
	       "%zu NUMA node%s\n",
	       t->sysroot, cpuset_count(&t->online), online, cpuset_count(&t->allowed), allowed,
	       t->n_llcs, t->n_llcs == 1 ? "" : "s", t->n_nodes, t->n_nodes == 1 ? "" : "s");
	if (t->distance_fallback)
		printf("(NUMA distances unavailable; assuming 10 local, 20 remote)\n");

	printf("\n%-6s %-20s %s\n", "NODE", "CPUS", "DISTANCES");
	for (size_t i = 0; i < t->n_nodes; i++) {
		_cleanup_free_ char *cpus = cpuset_display(&t->nodes[i].cpus);

		printf("%-6u %-20s", t->nodes[i].id, cpus);
		for (size_t k = 0; k < t->n_nodes; k++)
			printf(" %3u", topo_distance(t, t->nodes[i].id, t->nodes[k].id));
		putchar('\n');
	}
}

static void print_llcs(const struct topology_view *v)
{
	printf("\n%-5s %-6s %-5s %-20s %-28s %s\n", "LLC", "ID", "NODE", "CPUS", "LOCKFILE",
	       "HOLDERS");
	for (size_t i = 0; i < v->t.n_llcs; i++) {
		const struct kts_llc *llc = &v->t.llcs[i];
		_cleanup_free_ char *cpus = cpuset_display(&llc->cpus), *path = NULL,
				    *holders = cli_fmt_holders(v->holders[i].h, v->holders[i].n);

		(void) lock_llc_path(v->lockdir, llc->index, &path);
		printf("%-5u %-6u %-5u %-20s %-28s %s\n", llc->index, llc->id, llc->node, cpus,
		       strempty(path), strempty(holders));
	}
}

static void print_plan(const struct topology_view *v)
{
	const struct kts_plan *plan = &v->plan;

	putchar('\n');
	if (v->plan_r == 0) {
		_cleanup_free_ char *cpus = cpuset_display(&plan->cpus), *mems = cpuset_display(&plan->mems);

		printf("Plan (%s, %u CPU%s): cpus %s, LLCs", plan_mode_to_string(plan->mode),
		       cpuset_count(&plan->cpus), cpuset_count(&plan->cpus) == 1 ? "" : "s", cpus);
		for (size_t i = 0; i < plan->n_llcs; i++)
			printf("%s%u", i ? "," : " ", plan->llcs[i]);
		printf(", nodes %s, make -j%u%s\n", mems, plan->make_jobs,
		       plan->cross_node ? " (spans NUMA nodes)" : "");
	} else
		printf("No plan possible now: %s\n", v->why ? v->why : "LLCs are held");
}

int cli_topology(int argc, char **argv)
{
	struct topology_view v _cleanup_(topology_view_done) = { .lockdir = lock_dir_default() };
	struct topology_args a;
	int r;

	r = topology_parse(argc, argv, &a);
	if (r >= 0)
		return r;
	r = topology_collect(&a, &v);
	if (r != KTS_EXIT_OK)
		return r;
	if (a.json)
		print_topology_json(&v);
	else {
		print_machine(&v.t);
		print_llcs(&v);
		print_plan(&v);
	}
	return v.plan_r == 0 ? KTS_EXIT_OK : KTS_EXIT_BUSY;
}
