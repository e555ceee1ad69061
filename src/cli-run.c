/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope run`: reserve, run COMMAND in a transient scope, and keep the locks
 * until the scope is gone (DESIGN §4). The order of teardown is the point of the
 * command: COMMAND's processes, then the unit (session_run() owns both), then
 * the locks (released by cli_run() on return, for every path).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cpuset.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "reserve.h"
#include "scope.h"
#include "session.h"
#include "topology.h"

static const char run_help[] =
	"Usage: ktscope [--user|--system] run [OPTIONS] -- COMMAND [ARG...]\n"
	"\n"
	"Reserve CPUs on as few last-level caches (LLCs) and NUMA nodes as possible, lock\n"
	"them (ktstr-compatible lock files), and run COMMAND in a transient systemd scope\n"
	"limited to them (AllowedCPUs=, AllowedMemoryNodes=). Where the manager does not\n"
	"enforce that (no cpuset controller), COMMAND is bound with CPU affinity and an\n"
	"MPOL_BIND memory policy instead (no policy where the reservation spans every\n"
	"NUMA node). The locks are held until the scope is gone.\n"
	"When stdin is the terminal, COMMAND runs in its foreground (an interactive shell\n"
	"works; Ctrl-C and Ctrl-Z act on COMMAND, and ktscope stops and continues with it).\n"
	"\n"
	"Options:\n"
	"  --cpu-cap N          reserve exactly N CPUs, shared with other builds/runs\n"
	"                       (env KTSCOPE_CPU_CAP; default: 30% of the allowed CPUs)\n"
	"  --exclusive[=K]      reserve K whole LLCs that nobody else holds (default 1;\n"
	"                       with --cpu-cap N: enough LLCs for N CPUs), for benchmarks\n"
	"  --enforce MODE       auto (default): cgroup when the manager enforces the\n"
	"                       CPU set, else affinity; cgroup: fail (exit 4) unless the\n"
	"                       cgroup enforces it; affinity: do not check the cgroup\n"
	"  --no-wait            fail (exit 3) instead of waiting when the CPUs are held\n"
	"  --unit NAME          scope unit name, ending in .scope\n"
	"                       (default ktscope-run-PID-RANDOM.scope)\n"
	"  --slice NAME         slice for the scope, ending in .slice (default ktscope.slice)\n"
	"  --cpu-weight W       CPUWeight= of the scope, 1-10000\n"
	"  --memory-high BYTES  MemoryHigh= of the scope; suffixes K, M, G, T (1024-based)\n"
	"  --user, --system     talk to the user manager (default unless root) or to PID 1\n"
	"  -h, --help           show this help\n"
	"\n"
	"Environment: KTSCOPE_CPU_CAP, KTSCOPE_LOCK_DIR (default /tmp), KTSCOPE_BYPASS_LOCKS=1\n"
	"(no LLC locks), KTSCOPE_SCOPE=none (no manager: locks and affinity only).\n"
	"\n"
	"Exit status: COMMAND's status, or 128+N when it died of signal N; 126 COMMAND not\n"
	"executable, 127 COMMAND not found; 1 the scope could not be started; 2 bad option\n"
	"or value; 3 CPUs not available (--no-wait); 4 no systemd manager reachable, or\n"
	"--enforce cgroup and the cgroup does not enforce the reservation.\n";

/* Strict decimal with an optional K/M/G/T (1024-based) suffix; no sign, no spaces. */
static int parse_size(const char *s, uint64_t *ret)
{
	static const char suffixes[] = "KMGT";
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t) (*p - '0');
	}
	if (*p) {
		const char *x = strchr(suffixes, *p);

		if (!x || p[1])
			return -EINVAL;
		for (long i = 0; i <= x - suffixes; i++)
			mult *= 1024;
	}
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*ret = v * mult;
	return 0;
}

static int parse_positive(const char *s, unsigned max, unsigned *ret)
{
	uint64_t v;

	if (!s || strpbrk(s, "KMGT") || parse_size(s, &v) < 0 || v == 0 || v > max)
		return -EINVAL;
	*ret = (unsigned) v;
	return 0;
}

static bool slice_name_valid(const char *s)
{
	static const char suffix[] = ".slice";
	size_t len = strlen(s), plen;

	if (len <= strlen(suffix) || len > 255 || !streq(s + len - strlen(suffix), suffix))
		return false;
	plen = len - strlen(suffix);
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.-\\") >=
	       plen;
}

/* --unit and --slice: true when valid, else logs the one-line error naming option and arg. */
static bool unit_name_arg_ok(const char *option, const char *arg, bool valid, const char *suffix)
{
	if (!valid)
		log_error("invalid --%s '%s': expected a unit name ending in '%s', "
			  "of letters, digits and ':_.-\\'", option, arg, suffix);
	return valid;
}

/* What the options ask for: the session (argv, manager, unit...) and the reservation. */
struct run_request {
	struct kts_session_spec spec; /* .res is filled in once reserved */
	const char *cpu_cap;
	const char *excl_k;
	bool exclusive;
	bool no_wait;
	struct kts_plan_req plan;
};

/* One option of `run`; -1 to go on, else the exit code. */
static int run_parse_option(int c, char **argv, struct run_request *q)
{
	switch (c) {
	case 'h':
		fputs(run_help, stdout);
		return KTS_EXIT_OK;
	case 'U':
		q->spec.manager = KTS_MANAGER_USER;
		return -1;
	case 'S':
		q->spec.manager = KTS_MANAGER_SYSTEM;
		return -1;
	case 'c':
		q->cpu_cap = optarg;
		return -1;
	case 'x':
		q->exclusive = true;
		q->excl_k = optarg;
		return -1;
	case 'e':
		if (enforcement_from_string(optarg, &q->spec.want) < 0) {
			log_error("invalid --enforce '%s': expected auto, cgroup or affinity", optarg);
			return KTS_EXIT_USAGE;
		}
		return -1;
	case 'n':
		q->no_wait = true;
		return -1;
	case 'u':
		if (!unit_name_arg_ok("unit", optarg, scope_name_valid(optarg) >= 0, ".scope"))
			return KTS_EXIT_USAGE;
		q->spec.unit = optarg;
		return -1;
	case 's':
		if (!unit_name_arg_ok("slice", optarg, slice_name_valid(optarg), ".slice"))
			return KTS_EXIT_USAGE;
		q->spec.slice = optarg;
		return -1;
	case 'w':
		if (parse_positive(optarg, 10000, &q->spec.cpu_weight) < 0) {
			log_error("invalid --cpu-weight '%s': expected a whole number from 1 to 10000",
				  optarg);
			return KTS_EXIT_USAGE;
		}
		return -1;
	case 'm':
		if (parse_size(optarg, &q->spec.memory_high) < 0 || q->spec.memory_high == 0 ||
		    q->spec.memory_high == UINT64_MAX) {
			log_error("invalid --memory-high '%s': expected a number of bytes above 0, "
				  "optionally with K, M, G or T", optarg);
			return KTS_EXIT_USAGE;
		}
		return -1;
	default:
		return cli_option_error(c, argv, "run");
	}
}

/* argv → *q; -1 to go on, else the exit code. */
static int run_parse(const struct kts_opts *o, int argc, char **argv, struct run_request *q)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "user", no_argument, NULL, 'U' },
		{ "system", no_argument, NULL, 'S' },
		{ "cpu-cap", required_argument, NULL, 'c' },
		{ "exclusive", optional_argument, NULL, 'x' },
		{ "enforce", required_argument, NULL, 'e' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "unit", required_argument, NULL, 'u' },
		{ "slice", required_argument, NULL, 's' },
		{ "cpu-weight", required_argument, NULL, 'w' },
		{ "memory-high", required_argument, NULL, 'm' },
		{}
	};
	int c, r;

	*q = (struct run_request){
		/* No .accounting: run reports no telemetry, so the scope asks for none. */
		.spec = { .manager = o->manager, .what = "run", .want = KTS_ENFORCE_AUTO },
		.plan = { .mode = KTS_PLAN_SHARED },
	};
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
		r = run_parse_option(c, argv, q);
		if (r >= 0)
			return r;
	}
	if (optind >= argc) {
		log_error("no COMMAND given (see 'ktscope run --help')");
		return KTS_EXIT_USAGE;
	}
	q->spec.argv = argv + optind;
	return -1;
}

/* The reservation request, as `topology` reads it; an exit code. */
static int run_plan_request(struct run_request *q)
{
	if (q->exclusive) {
		q->plan.mode = KTS_PLAN_EXCLUSIVE;
		if (q->excl_k && parse_positive(q->excl_k, KTS_CPU_MAX - 1, &q->plan.excl_llcs) < 0) {
			log_error("invalid --exclusive '%s': expected a number of LLCs, at least 1",
				  q->excl_k);
			return KTS_EXIT_USAGE;
		}
		if (q->excl_k && q->cpu_cap) {
			log_error("--exclusive=%s and --cpu-cap %s conflict: give a number of LLCs or "
				  "of CPUs, not both", q->excl_k, q->cpu_cap);
			return KTS_EXIT_USAGE;
		}
	}
	/* KTSCOPE_CPU_CAP is a shared-mode budget; --exclusive alone takes whole LLCs. */
	if (!q->exclusive || q->cpu_cap)
		return cli_resolve_cpu_cap(q->cpu_cap, &q->plan.cpus);
	return KTS_EXIT_OK;
}

/* The environment run depends on: KTSCOPE_SCOPE, KTSCOPE_SYSROOT; an exit code. */
static int run_check_env(const struct run_request *q)
{
	const char *scope_env = getenv_nonempty("KTSCOPE_SCOPE");

	if (scope_env && !streq(scope_env, "none")) {
		log_error("invalid KTSCOPE_SCOPE '%s': the only value is 'none'", scope_env);
		return KTS_EXIT_USAGE;
	}
	if (scope_env && q->spec.want == KTS_ENFORCE_CGROUP) {
		log_error("--enforce cgroup needs a systemd scope, but KTSCOPE_SCOPE=none");
		return KTS_EXIT_USAGE;
	}
	if (getenv_nonempty("KTSCOPE_SYSROOT")) {
		log_error("KTSCOPE_SYSROOT is set: 'run' works on this host only; unset it");
		return KTS_EXIT_USAGE;
	}
	return KTS_EXIT_OK;
}

/* parse → request → reserve → session; the locks go after the unit (on return). */
int cli_run(const struct kts_opts *o, int argc, char **argv)
{
	struct kts_reservation res _cleanup_(reserve_release) = { 0 };
	struct kts_topology t _cleanup_(topo_donep) = { 0 };
	struct kts_session_result result;
	struct run_request q;
	int r;

	r = run_parse(o, argc, argv, &q);
	if (r >= 0)
		return r;
	r = run_plan_request(&q);
	if (r == KTS_EXIT_OK)
		r = run_check_env(&q);
	if (r == KTS_EXIT_OK)
		r = cli_load_topology(NULL, &t);
	if (r != KTS_EXIT_OK)
		return r;
	if (q.plan.cpus > cpuset_count(&t.allowed)) {
		log_error("CPU budget %u exceeds the %u CPUs this process may use", q.plan.cpus,
			  cpuset_count(&t.allowed));
		return KTS_EXIT_USAGE;
	}
	r = reserve_take(&t, &q.plan, q.no_wait, &res);
	if (r < 0)
		return cli_exit_code(r);
	q.spec.res = &res;
	r = session_run(&q.spec, &result);
	return r < 0 ? cli_exit_code(r) : result.status;
}
