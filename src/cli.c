/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argv/env → options, dispatch, exit codes and everything printed on stdout.
 * Commands that grow large live in cli-<command>.c; the helpers shared by
 * them (topology loading, budget, reservation) are here.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cache.h"
#include "cli.h"
#include "cpuset.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "topology.h"

static void json_putp(struct json_object **j)
{
	if (*j)
		(void) json_object_put(*j);
}
#define _cleanup_json_ _cleanup_(json_putp)

static void plan_donep(struct kts_plan *p)
{
	plan_done(p);
}

struct holders_list {
	struct kts_holder *h;
	size_t n;
};

static void holders_list_done(struct holders_list *l)
{
	lock_holders_free(l->h, l->n);
	l->h = NULL;
	l->n = 0;
}

/* ---------------------------------------------------------------- numbers */

/* Strict decimal: digits only, no sign, no spaces, fits in unsigned. */
static int parse_unsigned(const char *s, unsigned *ret)
{
	unsigned long v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long) (*p - '0');
		if (v > UINT_MAX)
			return -ERANGE;
	}
	*ret = (unsigned) v;
	return 0;
}

int cli_parse_cpu_cap(const char *value, bool from_env, unsigned *ret)
{
	const char *what = from_env ? "KTSCOPE_CPU_CAP" : "--cpu-cap";
	unsigned v;
	int r;

	r = parse_unsigned(value, &v);
	if (r == -ERANGE || (r == 0 && v >= KTS_CPU_MAX)) {
		log_error("invalid %s '%s': too large (at most %u CPUs)", what, value, KTS_CPU_MAX - 1);
		return KTS_EXIT_USAGE;
	}
	if (r < 0) {
		log_error("invalid %s '%s': expected a whole number of CPUs, at least 1", what, value);
		return KTS_EXIT_USAGE;
	}
	if (v == 0) {
		log_error("invalid %s '%s': the budget must be at least 1 CPU", what, value);
		return KTS_EXIT_USAGE;
	}
	*ret = v;
	return KTS_EXIT_OK;
}

int cli_resolve_cpu_cap(const char *flag_value, unsigned *ret)
{
	const char *env;

	if (flag_value)
		return cli_parse_cpu_cap(flag_value, false, ret);
	env = getenv_nonempty("KTSCOPE_CPU_CAP");
	if (env)
		return cli_parse_cpu_cap(env, true, ret);
	*ret = 0;
	return KTS_EXIT_OK;
}

/* --exclusive[=K]: K ≥ 1 LLCs. */
static int parse_exclusive(const char *value, unsigned *ret)
{
	unsigned v;

	if (!value) {
		*ret = 0;
		return KTS_EXIT_OK;
	}
	if (parse_unsigned(value, &v) < 0 || v == 0 || v >= KTS_CPU_MAX) {
		log_error("invalid --exclusive '%s': expected a number of LLCs, at least 1", value);
		return KTS_EXIT_USAGE;
	}
	*ret = v;
	return KTS_EXIT_OK;
}

/* ---------------------------------------------------------------- shared helpers */

int cli_exit_code(int r)
{
	switch (r) {
	case -EINVAL:
		return KTS_EXIT_USAGE;
	case -EBUSY:
	case -ETIME:
		return KTS_EXIT_BUSY;
	case -EHOSTDOWN:
	case -EACCES:
	case -EPERM:
	case -EMEDIUMTYPE:
	case -EREMOTE:
	case -ENOLCK:
		return KTS_EXIT_ENV;
	default:
		return r >= 0 ? KTS_EXIT_OK : KTS_EXIT_FAILURE;
	}
}

int cli_option_error(int c, char **argv, const char *cmd)
{
	const char *opt = argv[optind - 1];
	char see[64];

	snprintf(see, sizeof(see), "see 'ktscope %s%s--help'", cmd, *cmd ? " " : "");

	if (c == ':')
		log_error("option '%s' needs a value (%s)", opt, see);
	else if (optopt && !startswith(opt, "--"))
		log_error("unknown option '-%c' (%s)", optopt, see);
	else
		log_error("unknown option '%s' (%s)", opt, see);
	return KTS_EXIT_USAGE;
}


int cli_load_topology(const char *sysroot, struct kts_topology *ret)
{
	struct kts_sysroot root = KTS_SYSROOT_INIT;
	_cleanup_free_ char *errpath = NULL;
	int r;

	r = sysroot_open(sysroot, &root);
	if (r < 0) {
		log_error_errno(r, "cannot open sysroot '%s': %m", sysroot ? sysroot : "/");
		return KTS_EXIT_ENV;
	}
	r = topo_load(&root, ret, &errpath);
	sysroot_close(&root);
	if (r == -EBADMSG) {
		log_error("cannot read the CPU topology: malformed '%s'", errpath ? errpath : "?");
		return KTS_EXIT_ENV;
	}
	if (r < 0) {
		log_error_errno(r, "cannot read the CPU topology: '%s': %m", errpath ? errpath : "?");
		return KTS_EXIT_ENV;
	}
	return KTS_EXIT_OK;
}

/* ---------------------------------------------------------------- JSON helpers */

static struct json_object *json_cpuset(const struct kts_cpuset *s)
{
	struct json_object *a = json_object_new_array();

	CPUSET_FOREACH(c, s)
		json_object_array_add(a, json_object_new_int(c));
	return a;
}

static struct json_object *json_holders(const struct kts_holder *h, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "pid", json_object_new_int((int) h[i].pid));
		json_object_object_add(o, "mode", json_object_new_string(lock_mode_to_string(h[i].mode)));
		json_object_object_add(o, "cmdline", json_object_new_string(strempty(h[i].cmdline)));
		json_object_array_add(a, o);
	}
	return a;
}

static void print_json(struct json_object *j)
{
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static char *fmt_cpuset(const struct kts_cpuset *s)
{
	char *str = NULL;

	if (cpuset_format(s, &str) < 0 || !str)
		return strdup("?");
	if (!*str) {
		free(str);
		return strdup("-");
	}
	return str;
}

static char *fmt_holders(const struct kts_holder *h, size_t n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (n == 0)
		return strdup("(none)");
	f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%d %s (%s)", i ? "; " : "", (int) h[i].pid, lock_mode_to_string(h[i].mode),
			strempty(h[i].cmdline));
	(void) fclose(f);
	return buf;
}

/* ---------------------------------------------------------------- topology */

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

static int cmd_topology(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "sysroot", required_argument, NULL, 's' },
		{ "cpu-cap", required_argument, NULL, 'c' },
		{ "exclusive", optional_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	struct kts_topology t _cleanup_(topo_donep) = { 0 };
	struct kts_plan plan _cleanup_(plan_donep) = { 0 };
	_cleanup_free_ struct kts_llc_load *load = NULL;
	_cleanup_free_ char *why = NULL;
	struct plan_args pa = { 0 };
	struct kts_plan_req req;
	const char *sysroot = getenv_nonempty("KTSCOPE_SYSROOT"), *lockdir = lock_dir_default();
	bool json = false;
	int c, r, plan_r;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(topology_help, stdout);
			return KTS_EXIT_OK;
		case 's':
			sysroot = optarg;
			break;
		case 'c':
			pa.cpu_cap = optarg;
			break;
		case 'x':
			pa.exclusive = true;
			pa.exclusive_k = optarg;
			break;
		case 'j':
			json = true;
			break;
		default:
			return cli_option_error(c, argv, "topology");
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see 'ktscope topology --help')", argv[optind]);
		return KTS_EXIT_USAGE;
	}
	r = plan_args_to_req(&pa, &req);
	if (r != KTS_EXIT_OK)
		return r;
	r = cli_load_topology(sysroot, &t);
	if (r != KTS_EXIT_OK)
		return r;
	if (req.cpus > cpuset_count(&t.allowed)) {
		log_error("--cpu-cap %u exceeds the %u CPUs this process may use", req.cpus,
			  cpuset_count(&t.allowed));
		return KTS_EXIT_USAGE;
	}

	r = lock_llc_load(lockdir, &t, &load);
	if (r < 0)
		return log_error_errno(r, "cannot read the lock holders in '%s': %m", lockdir),
		       KTS_EXIT_ENV;
	plan_r = plan_compute(&t, load, &req, &plan, &why);
	if (plan_r < 0 && plan_r != -EBUSY) {
		log_error("impossible reservation: %s", why ? why : strerror(-plan_r));
		return KTS_EXIT_USAGE;
	}

	/* Holders per LLC, for both outputs. */
	_cleanup_free_ struct holders_list *hl = calloc(t.n_llcs ? t.n_llcs : 1, sizeof(*hl));
	if (!hl)
		return log_error_errno(-ENOMEM, "%m"), KTS_EXIT_FAILURE;
	for (size_t i = 0; i < t.n_llcs; i++) {
		_cleanup_free_ char *path = NULL;

		if (lock_llc_path(lockdir, t.llcs[i].index, &path) < 0)
			continue;
		if (access(path, F_OK) == 0)
			(void) lock_holders(path, &hl[i].h, &hl[i].n);
	}

	if (json) {
		_cleanup_json_ struct json_object *j = json_object_new_object();
		struct json_object *nodes = json_object_new_array(), *llcs = json_object_new_array();

		json_object_object_add(j, "sysroot", json_object_new_string(t.sysroot));
		json_object_object_add(j, "online_cpus", json_cpuset(&t.online));
		json_object_object_add(j, "allowed_cpus", json_cpuset(&t.allowed));
		for (size_t i = 0; i < t.n_nodes; i++) {
			struct json_object *n = json_object_new_object(), *d = json_object_new_array();

			json_object_object_add(n, "node", json_object_new_int((int) t.nodes[i].id));
			json_object_object_add(n, "cpus", json_cpuset(&t.nodes[i].cpus));
			for (size_t k = 0; k < t.n_nodes; k++)
				json_object_array_add(d, json_object_new_int((int) topo_distance(
								    &t, t.nodes[i].id, t.nodes[k].id)));
			json_object_object_add(n, "distances", d);
			json_object_array_add(nodes, n);
		}
		json_object_object_add(j, "nodes", nodes);
		for (size_t i = 0; i < t.n_llcs; i++) {
			struct json_object *l = json_object_new_object();
			_cleanup_free_ char *path = NULL;

			(void) lock_llc_path(lockdir, t.llcs[i].index, &path);
			json_object_object_add(l, "index", json_object_new_int((int) t.llcs[i].index));
			json_object_object_add(l, "id", json_object_new_int((int) t.llcs[i].id));
			json_object_object_add(l, "cpus", json_cpuset(&t.llcs[i].cpus));
			json_object_object_add(l, "node", json_object_new_int((int) t.llcs[i].node));
			json_object_object_add(l, "lockfile", json_object_new_string(strempty(path)));
			json_object_object_add(l, "holders", json_holders(hl[i].h, hl[i].n));
			json_object_array_add(llcs, l);
		}
		json_object_object_add(j, "llcs", llcs);
		if (plan_r == 0) {
			struct json_object *p = json_object_new_object(), *pl = json_object_new_array();

			json_object_object_add(p, "mode", json_object_new_string(plan_mode_to_string(plan.mode)));
			json_object_object_add(p, "target_cpus", json_object_new_int((int) plan.target_cpus));
			for (size_t i = 0; i < plan.n_llcs; i++)
				json_object_array_add(pl, json_object_new_int((int) plan.llcs[i]));
			json_object_object_add(p, "llcs", pl);
			json_object_object_add(p, "cpus", json_cpuset(&plan.cpus));
			json_object_object_add(p, "mems", json_cpuset(&plan.mems));
			json_object_object_add(p, "make_jobs", json_object_new_int((int) plan.make_jobs));
			json_object_object_add(p, "cross_node", json_object_new_boolean(plan.cross_node));
			json_object_object_add(j, "plan", p);
			json_object_object_add(j, "plan_error", NULL);
		} else {
			json_object_object_add(j, "plan", NULL);
			json_object_object_add(j, "plan_error",
					       json_object_new_string(why ? why : "LLCs are held"));
		}
		print_json(j);
	} else {
		_cleanup_free_ char *online = fmt_cpuset(&t.online), *allowed = fmt_cpuset(&t.allowed);

		printf("Machine (sysroot %s): %u CPUs online (%s), %u allowed (%s), %zu LLC%s, "
		       "%zu NUMA node%s\n",
		       t.sysroot, cpuset_count(&t.online), online, cpuset_count(&t.allowed), allowed,
		       t.n_llcs, t.n_llcs == 1 ? "" : "s", t.n_nodes, t.n_nodes == 1 ? "" : "s");
		if (t.distance_fallback)
			printf("(NUMA distances unavailable; assuming 10 local, 20 remote)\n");

		printf("\n%-6s %-20s %s\n", "NODE", "CPUS", "DISTANCES");
		for (size_t i = 0; i < t.n_nodes; i++) {
			_cleanup_free_ char *cpus = fmt_cpuset(&t.nodes[i].cpus);

			printf("%-6u %-20s", t.nodes[i].id, cpus);
			for (size_t k = 0; k < t.n_nodes; k++)
				printf(" %3u", topo_distance(&t, t.nodes[i].id, t.nodes[k].id));
			putchar('\n');
		}

		printf("\n%-5s %-6s %-5s %-20s %-28s %s\n", "LLC", "ID", "NODE", "CPUS", "LOCKFILE",
		       "HOLDERS");
		for (size_t i = 0; i < t.n_llcs; i++) {
			_cleanup_free_ char *cpus = fmt_cpuset(&t.llcs[i].cpus), *path = NULL,
					    *holders = fmt_holders(hl[i].h, hl[i].n);

			(void) lock_llc_path(lockdir, t.llcs[i].index, &path);
			printf("%-5u %-6u %-5u %-20s %-28s %s\n", t.llcs[i].index, t.llcs[i].id,
			       t.llcs[i].node, cpus, strempty(path), strempty(holders));
		}

		putchar('\n');
		if (plan_r == 0) {
			_cleanup_free_ char *cpus = fmt_cpuset(&plan.cpus), *mems = fmt_cpuset(&plan.mems);

			printf("Plan (%s, %u CPU%s): cpus %s, LLCs", plan_mode_to_string(plan.mode),
			       cpuset_count(&plan.cpus), cpuset_count(&plan.cpus) == 1 ? "" : "s", cpus);
			for (size_t i = 0; i < plan.n_llcs; i++)
				printf("%s%u", i ? "," : " ", plan.llcs[i]);
			printf(", nodes %s, make -j%u%s\n", mems, plan.make_jobs,
			       plan.cross_node ? " (spans NUMA nodes)" : "");
		} else
			printf("No plan possible now: %s\n", why ? why : "LLCs are held");
	}
	for (size_t i = 0; i < t.n_llcs; i++)
		holders_list_done(&hl[i]);

	return plan_r == 0 ? KTS_EXIT_OK : KTS_EXIT_BUSY;
}

/* ---------------------------------------------------------------- locks */

static const char locks_help[] =
	"Usage: ktscope locks [--json]\n"
	"\n"
	"List every ktscope/ktstr lock file and who holds it: the LLC locks in the\n"
	"lock directory (KTSCOPE_LOCK_DIR, default /tmp) and the source-tree and\n"
	"cache-entry locks in the cache's .locks/ directory.\n"
	"\n"
	"Options:\n"
	"  --json       print one JSON document\n"
	"  -h, --help   show this help\n"
	"\n"
	"Exit status: 0 ok, 2 bad option, 4 lock directory unreadable.\n";

static int llc_index_from_path(const char *path, unsigned *ret)
{
	const char *base = strrchr(path, '/');
	_cleanup_free_ char *num = NULL;
	size_t len;

	base = base ? base + 1 : path;
	if (!startswith(base, "ktstr-llc-"))
		return -EINVAL;
	base += strlen("ktstr-llc-");
	len = strlen(base);
	if (len <= 5 || !streq(base + len - 5, ".lock"))
		return -EINVAL;
	num = strndup(base, len - 5);
	if (!num)
		return -ENOMEM;
	return parse_unsigned(num, ret);
}

static int cmd_locks(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	struct kts_topology t _cleanup_(topo_donep) = { 0 };
	_cleanup_free_ char *pattern = NULL, *cache = NULL, *cache_pattern = NULL;
	const char *lockdir = lock_dir_default();
	glob_t g = { 0 }, gc = { 0 };
	bool json = false, have_topo;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(locks_help, stdout);
			return KTS_EXIT_OK;
		case 'j':
			json = true;
			break;
		default:
			return cli_option_error(c, argv, "locks");
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see 'ktscope locks --help')", argv[optind]);
		return KTS_EXIT_USAGE;
	}
	if (access(lockdir, R_OK | X_OK) < 0) {
		log_error_errno(negative_errno(), "cannot read lock directory '%s': %m", lockdir);
		return KTS_EXIT_ENV;
	}

	/* The node column is best effort: an unreadable sysfs only loses it. */
	{
		struct kts_sysroot root = KTS_SYSROOT_INIT;

		have_topo = sysroot_open(NULL, &root) >= 0 && topo_load(&root, &t, NULL) >= 0;
		sysroot_close(&root);
	}

	if (asprintf(&pattern, "%s/ktstr-llc-*.lock", lockdir) < 0)
		return KTS_EXIT_FAILURE;
	r = glob(pattern, 0, NULL, &g);
	if (r != 0 && r != GLOB_NOMATCH) {
		log_error("cannot list '%s'", pattern);
		return KTS_EXIT_ENV;
	}
	if (cache_root(&cache, NULL) >= 0 && asprintf(&cache_pattern, "%s/.locks/*.lock", cache) >= 0)
		(void) glob(cache_pattern, 0, NULL, &gc);

	_cleanup_json_ struct json_object *j = json_object_new_object();
	struct json_object *jl = json_object_new_array(), *jc = json_object_new_array();

	if (!json)
		printf("LLC locks (%s):\n", lockdir);
	if (!json && g.gl_pathc == 0)
		printf("  (none)\n");
	else if (!json)
		printf("  %-5s %-5s %-32s %s\n", "LLC", "NODE", "LOCKFILE", "HOLDERS");
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct holders_list h _cleanup_(holders_list_done) = { 0 };
		unsigned idx;
		int node = -1;

		if (llc_index_from_path(g.gl_pathv[i], &idx) < 0)
			continue;
		if (have_topo && idx < t.n_llcs)
			node = (int) t.llcs[idx].node;
		(void) lock_holders(g.gl_pathv[i], &h.h, &h.n);
		if (json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "llc", json_object_new_int((int) idx));
			json_object_object_add(o, "node", node >= 0 ? json_object_new_int(node) : NULL);
			json_object_object_add(o, "lockfile", json_object_new_string(g.gl_pathv[i]));
			json_object_object_add(o, "holders", json_holders(h.h, h.n));
			json_object_array_add(jl, o);
		} else {
			_cleanup_free_ char *hs = fmt_holders(h.h, h.n);
			char nodebuf[16];

			if (node >= 0)
				snprintf(nodebuf, sizeof(nodebuf), "%d", node);
			else
				strcpy(nodebuf, "?");
			printf("  %-5u %-5s %-32s %s\n", idx, nodebuf, g.gl_pathv[i], strempty(hs));
		}
	}

	if (!json)
		printf("\nCache locks (%s/.locks):\n", cache ? cache : "(no cache directory)");
	if (!json && gc.gl_pathc == 0)
		printf("  (none)\n");
	else if (!json)
		printf("  %-40s %s\n", "LOCKFILE", "HOLDERS");
	for (size_t i = 0; i < gc.gl_pathc; i++) {
		struct holders_list h _cleanup_(holders_list_done) = { 0 };

		(void) lock_holders(gc.gl_pathv[i], &h.h, &h.n);
		if (json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "lockfile", json_object_new_string(gc.gl_pathv[i]));
			json_object_object_add(o, "holders", json_holders(h.h, h.n));
			json_object_array_add(jc, o);
		} else {
			_cleanup_free_ char *hs = fmt_holders(h.h, h.n);

			printf("  %-40s %s\n", gc.gl_pathv[i], strempty(hs));
		}
	}

	if (json) {
		json_object_object_add(j, "lockdir", json_object_new_string(lockdir));
		json_object_object_add(j, "cache", cache ? json_object_new_string(cache) : NULL);
		json_object_object_add(j, "llcs", jl);
		json_object_object_add(j, "cache_locks", jc);
		print_json(j);
	} else {
		(void) json_object_put(jl);
		(void) json_object_put(jc);
	}
	globfree(&g);
	globfree(&gc);
	return KTS_EXIT_OK;
}

/* ---------------------------------------------------------------- main */

static const char main_help[] =
	"Usage: ktscope [--user|--system] [-v|-q] COMMAND [ARGS...]\n"
	"\n"
	"Run commands and kernel builds on a reserved, NUMA- and LLC-aware slice of\n"
	"this machine's CPUs, inside a systemd transient scope.\n"
	"\n"
	"Commands:\n"
	"  build [SPEC]       build a kernel on a reservation, in a transient scope,\n"
	"                     and cache it\n"
	"  kernel list|show|path|clean\n"
	"                     the kernel cache\n"
	"  run -- COMMAND     run COMMAND on a reservation, in a transient scope\n"
	"  topology           show CPUs, LLCs, NUMA nodes and the plan you would get\n"
	"  locks              show the LLC and cache lock files and their holders\n"
	"  kconfig            print the kconfig fragment every build uses\n"
	"  doctor             check this machine and print fixes\n"
	"\n"
	"Global options:\n"
	"  --user             talk to the user's systemd manager (default unless root)\n"
	"  --system           talk to the system manager (default for root)\n"
	"  -v, --verbose      more output (debug lines)\n"
	"  -q, --quiet        errors and warnings only\n"
	"  -h, --help         show this help ('ktscope COMMAND --help' for a command)\n"
	"  --version          print the version\n"
	"\n"
	"Exit status: 0 ok, 1 failure, 2 bad usage, 3 reservation not available,\n"
	"4 environment problem (no systemd manager, unreadable sysfs, ...).\n"
	"'run' exits with the command's own status (128+N if killed by signal N).\n"
	"\n"
	"Environment: KTSCOPE_CPU_CAP, KTSCOPE_LOCK_DIR, KTSCOPE_SYSROOT, KTSCOPE_CACHE_DIR,\n"
	"KTSCOPE_BYPASS_LOCKS, KTSCOPE_SCOPE=none, KTSCOPE_LOG_LEVEL, NO_COLOR.\n";

static void setup_logging(int verbosity)
{
	const char *env = getenv_nonempty("KTSCOPE_LOG_LEVEL");
	const char *no_color = getenv("NO_COLOR");
	int level = LOG_NOTICE;

	if (env) {
		int l = log_level_from_string(env);

		if (l >= 0)
			level = l;
		else
			log_warning("ignoring KTSCOPE_LOG_LEVEL='%s': expected debug, info, notice, "
				    "warning or err", env);
	}
	/* A flag beats its variable. */
	if (verbosity > 0)
		level = LOG_DEBUG;
	else if (verbosity < 0)
		level = LOG_WARNING;
	log_set_max_level(level);
	log_set_color(isatty(STDERR_FILENO) && !(no_color && *no_color));
}

int cli_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "user", no_argument, NULL, 'u' },
		{ "system", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{}
	};
	struct kts_opts o = { .manager = KTS_MANAGER_DEFAULT };
	const char *cmd;
	int c;

	/* '+': stop at the command name; its options are its own. */
	opterr = 0; /* every option error is reported by us, as one 'ktscope:' line */
	while ((c = getopt_long(argc, argv, "+:hvq", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(main_help, stdout);
			return KTS_EXIT_OK;
		case 'V':
			printf("ktscope %s\n", PACKAGE_VERSION);
			return KTS_EXIT_OK;
		case 'u':
			o.manager = KTS_MANAGER_USER;
			break;
		case 's':
			o.manager = KTS_MANAGER_SYSTEM;
			break;
		case 'v':
			o.verbosity = o.verbosity < 0 ? 1 : o.verbosity + 1;
			break;
		case 'q':
			o.verbosity = -1;
			break;
		default:
			setup_logging(0);
			return cli_option_error(c, argv, "");
		}
	}
	setup_logging(o.verbosity);
	if (optind >= argc) {
		fputs(main_help, stderr);
		return KTS_EXIT_USAGE;
	}

	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0; /* full re-initialisation of getopt for the command's parser */

	if (streq(cmd, "topology"))
		return cmd_topology(argc, argv);
	if (streq(cmd, "locks"))
		return cmd_locks(argc, argv);
	if (streq(cmd, "run"))
		return cli_run(&o, argc, argv);
	if (streq(cmd, "build"))
		return cli_build(&o, argc, argv);
	if (streq(cmd, "__build-inner"))
		return cli_build_inner(argc, argv);
	if (streq(cmd, "kernel"))
		return cli_kernel(&o, argc, argv);
	if (streq(cmd, "kconfig"))
		return cli_kconfig(&o, argc, argv);
	if (streq(cmd, "doctor"))
		return cli_doctor(&o, argc, argv);
	if (streq(cmd, "help")) {
		fputs(main_help, stdout);
		return KTS_EXIT_OK;
	}
	log_error("unknown command '%s' (see 'ktscope --help')", cmd);
	return KTS_EXIT_USAGE;
}
