/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope run`: reserve, run COMMAND in a transient scope, and keep the locks
 * until the scope is gone (DESIGN §4). The order of teardown is the point of the
 * command: COMMAND's processes, then the unit, then the locks; run_ctx_done()
 * owns it for every path, successful or not.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "cli.h"
#include "cpuset.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "scope.h"
#include "supervise.h"
#include "topology.h"

static const char run_help[] =
	"Usage: ktscope [--user|--system] run [OPTIONS] -- COMMAND [ARG...]\n"
	"\n"
	"Reserve CPUs on as few last-level caches (LLCs) and NUMA nodes as possible, lock\n"
	"them (ktstr-compatible lock files), and run COMMAND in a transient systemd scope\n"
	"limited to them (AllowedCPUs=, AllowedMemoryNodes=). Where the manager does not\n"
	"enforce that (no cpuset controller), COMMAND is bound with CPU affinity and an\n"
	"MPOL_BIND memory policy instead. The locks are held until the scope is gone.\n"
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

/* Everything run acquires, torn down in one place and one order. */
struct run_ctx {
	struct kts_reservation res;
	bool have_res;
	struct kts_child child;
	struct sd_bus *bus;
	char *unit;
	bool unit_started;
};

static void run_ctx_done(struct run_ctx *c)
{
	int r;

	/* 1. COMMAND: never released or still running → killed and reaped. */
	if (c->child.pid > 0)
		supervise_done(&c->child);
	/* 2. The unit (its leftovers get SIGTERM, then SIGKILL), or without one, the group. */
	if (c->unit_started) {
		r = scope_stop(c->bus, c->unit, 0);
		if (r == -ETIME)
			log_warning("unit '%s' is still there after %" PRIu64 " s; releasing the "
				    "CPUs anyway", c->unit, SCOPE_STOP_TIMEOUT_USEC / 1000000);
		else if (r < 0)
			log_warning_errno(r, "cannot confirm that unit '%s' is gone: %m", c->unit);
	} else
		(void) supervise_kill_group(&c->child, SIGKILL);
	supervise_done(&c->child);
	bus_close(c->bus);
	c->bus = NULL;
	free(c->unit);
	c->unit = NULL;
	/* 3. Only now may others have the CPUs. */
	if (c->have_res)
		lock_release(&c->res);
	c->have_res = false;
}

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

/* "ktscope run: COMMAND ARG..." cut at a readable length. */
static char *make_description(const char *what, char *const *argv)
{
	char buf[256];
	size_t len;

	len = (size_t) snprintf(buf, sizeof(buf), "ktscope %s:", what);
	for (size_t i = 0; argv[i] && len < sizeof(buf) - 1; i++)
		len += (size_t) snprintf(buf + len, sizeof(buf) - len, " %s", argv[i]);
	return strdup(buf);
}

static char *fmt_set(const struct kts_cpuset *s)
{
	char *str = NULL;

	if (cpuset_format(s, &str) < 0)
		return strdup("?");
	if (!*str) {
		free(str);
		return strdup("-");
	}
	return str;
}

static char *fmt_llcs(const struct kts_plan *p)
{
	struct kts_cpuset s = KTS_CPUSET_INIT;
	char *str;

	for (size_t i = 0; i < p->n_llcs; i++)
		(void) cpuset_add(&s, p->llcs[i]);
	str = fmt_set(&s);
	cpuset_done(&s);
	return str;
}

/* The one line that says where COMMAND runs. */
static void print_placement(const struct run_ctx *c, const struct kts_cpuset *cpus,
			    const struct kts_cpuset *mems, enum kts_enforcement e)
{
	_cleanup_free_ char *cs = fmt_set(cpus), *ms = fmt_set(mems), *ls = fmt_llcs(&c->res.plan);

	log_notice("unit %s cpus %s llcs %s nodes %s enforcement %s", c->unit ? c->unit : "none",
		   strempty(cs), strempty(ls), strempty(ms), enforcement_to_string(e));
}

/* Where the scope's start went wrong, as an exit code. */
static int scope_start_failed(const struct run_ctx *c, enum kts_bus_kind kind, int r,
			      const char *why)
{
	_cleanup_free_ char *desc = NULL;

	switch (r) {
	case -EHOSTDOWN:
		(void) bus_describe(c->bus, &desc);
		log_error("no systemd %s manager answers on %s: %s; %s", bus_kind_to_string(kind),
			  strempty(desc), strempty(why), bus_fix_hint(kind));
		return KTS_EXIT_ENV;
	case -EEXIST:
		log_error("unit '%s' already exists; pick another --unit name", c->unit);
		return KTS_EXIT_FAILURE;
	case -EACCES:
	case -EPERM:
		log_error("the %s manager does not let us start '%s': %s", bus_kind_to_string(kind),
			  c->unit, strempty(why));
		return KTS_EXIT_ENV;
	default:
		if (why)
			log_error("cannot start unit '%s': %s", c->unit, why);
		else
			log_error_errno(r, "cannot start unit '%s': %m", c->unit);
		return KTS_EXIT_FAILURE;
	}
}

static int report_child(const struct kts_child_report *rep, const char *command)
{
	switch (rep->outcome) {
	case KTS_CHILD_EXEC_FAILED:
		if (rep->error == ENOENT)
			log_error("'%s': command not found", command);
		else
			log_error_errno(rep->error, "cannot execute '%s': %m", command);
		break;
	case KTS_CHILD_SETUP_FAILED:
		log_error_errno(rep->error, "cannot start '%s': %s: %m", command,
				supervise_step_to_string(rep->step));
		break;
	case KTS_CHILD_LOST:
		log_warning("the supervisor of '%s' ended without a report", command);
		break;
	case KTS_CHILD_RAN:
		break;
	}
	return supervise_exit_code(rep);
}


static enum kts_bus_kind manager_bus_kind(enum kts_manager m)
{
	return m == KTS_MANAGER_USER ? KTS_BUS_USER
	       : m == KTS_MANAGER_SYSTEM ? KTS_BUS_SYSTEM
					 : bus_kind_default();
}

static int manager_unreachable(enum kts_bus_kind kind, int r, const char *why)
{
	log_error_errno(r, "cannot reach the systemd %s manager (tried %s): %m; %s",
			bus_kind_to_string(kind), strempty(why), bus_fix_hint(kind));
	return KTS_EXIT_ENV;
}

int cli_check_manager(enum kts_manager m)
{
	_cleanup_free_ char *why = NULL;
	struct sd_bus *bus = NULL;
	int r;

	if (getenv_nonempty("KTSCOPE_SCOPE"))
		return KTS_EXIT_OK;
	r = bus_open(manager_bus_kind(m), &bus, &why);
	if (r < 0)
		return manager_unreachable(manager_bus_kind(m), r, why);
	bus_close(bus);
	return KTS_EXIT_OK;
}

/*
 * The scope part of `run`, shared with `build` (see cli.h). ctx here owns the
 * child, the bus and the unit, never the reservation: torn down on return,
 * before the caller releases the locks.
 */
int cli_run_scoped(const struct cli_scoped_spec *s, int *ret_enforcement)
{
	struct run_ctx ctx _cleanup_(run_ctx_done) = { .child = KTS_CHILD_INIT };
	_cleanup_free_ char *why = NULL, *description = NULL;
	enum kts_enforcement want = (enum kts_enforcement) s->want, got;
	struct kts_scope_state state = { 0 };
	struct kts_child_report rep;
	bool no_scope = getenv_nonempty("KTSCOPE_SCOPE") != NULL;
	int r, sig;

	/* print_placement() reads the LLCs from here; release stays with the caller. */
	ctx.res = *s->res;
	ctx.have_res = false;

	r = supervise_fork(s->argv, s->res->fds, s->res->n_fds, &s->res->plan.cpus,
			   &s->res->plan.mems, &ctx.child);
	if (r < 0)
		return log_error_errno(r, "cannot fork: %m"), KTS_EXIT_FAILURE;

	if (no_scope) {
		log_notice("KTSCOPE_SCOPE=none: no systemd scope; the CPUs are kept by the locks and "
			   "CPU affinity only");
		got = KTS_ENFORCE_AFFINITY;
	} else {
		enum kts_bus_kind kind = manager_bus_kind(s->manager);
		struct kts_scope_params sp = {
			.pid = ctx.child.pid,
			.pidfd = ctx.child.pidfd,
			.cpus = &s->res->plan.cpus,
			.mems = &s->res->plan.mems,
			.slice = s->slice,
			.cpu_weight = s->cpu_weight,
			.memory_high = s->memory_high,
		};

		r = bus_open(kind, &ctx.bus, &why);
		if (r < 0)
			return manager_unreachable(kind, r, why);
		ctx.unit = s->unit ? strdup(s->unit) : NULL;
		if (!s->unit && scope_name_generate(s->what, &ctx.unit) < 0)
			return log_error("out of memory"), KTS_EXIT_FAILURE;
		description = make_description(s->what, s->argv);
		sp.name = ctx.unit;
		sp.description = description;
		r = scope_start(ctx.bus, &sp, &why);
		if (r < 0)
			return scope_start_failed(&ctx, kind, r, why);
		ctx.unit_started = true;

		if (want == KTS_ENFORCE_AFFINITY)
			got = KTS_ENFORCE_AFFINITY;
		else {
			r = scope_verify(ctx.bus, ctx.unit, &s->res->plan.cpus, &s->res->plan.mems,
					 &state, &got);
			if (r < 0)
				return log_error_errno(r, "cannot read back unit '%s': %m", ctx.unit),
				       KTS_EXIT_FAILURE;
			log_debug("unit %s: cgroup %s", ctx.unit, state.control_group);
		}
		if (got == KTS_ENFORCE_AFFINITY && want == KTS_ENFORCE_CGROUP) {
			scope_state_done(&state);
			log_error("the %s manager does not enforce AllowedCPUs= on '%s' (no cpuset "
				  "controller for its cgroups) and --enforce cgroup was given; see "
				  "'ktscope doctor'", bus_kind_to_string(kind), ctx.unit);
			return KTS_EXIT_ENV;
		}
		if (got == KTS_ENFORCE_NARROWED) {
			_cleanup_free_ char *ec = fmt_set(&state.effective_cpus),
					    *em = fmt_set(&state.effective_mems);

			if (want == KTS_ENFORCE_CGROUP) {
				log_error("a parent slice narrowed '%s' to CPUs %s, nodes %s, and "
					  "--enforce cgroup was given", ctx.unit, ec, em);
				scope_state_done(&state);
				return KTS_EXIT_ENV;
			}
			log_warning("a parent slice narrowed '%s' to CPUs %s, nodes %s; running there",
				    ctx.unit, ec, em);
		}
		if (got == KTS_ENFORCE_AFFINITY && want == KTS_ENFORCE_AUTO)
			log_notice("the %s manager does not enforce AllowedCPUs= (no cpuset controller "
				   "for its cgroups); binding COMMAND with CPU affinity and MPOL_BIND "
				   "instead; see 'ktscope doctor'", bus_kind_to_string(kind));
	}

	/* A Ctrl-C while the scope was being set up: COMMAND never starts. */
	sig = supervise_pending_signal(&ctx.child);
	if (sig > 0) {
		scope_state_done(&state);
		log_notice("interrupted by signal %d before '%s' started", sig, s->argv[0]);
		return 128 + sig;
	}

	if (got == KTS_ENFORCE_NARROWED)
		print_placement(&ctx, &state.effective_cpus, &state.effective_mems, got);
	else
		print_placement(&ctx, &s->res->plan.cpus, &s->res->plan.mems, got);
	scope_state_done(&state);

	r = supervise_release(&ctx.child, got == KTS_ENFORCE_AFFINITY);
	if (r < 0)
		return log_error_errno(r, "cannot start '%s': %m", s->argv[0]), KTS_EXIT_FAILURE;
	r = supervise_wait(&ctx.child, &rep);
	if (r < 0)
		return log_error_errno(r, "lost track of '%s': %m", s->argv[0]), KTS_EXIT_FAILURE;
	*ret_enforcement = got;
	return report_child(&rep, s->argv[0]);
}

int cli_run(const struct kts_opts *o, int argc, char **argv)
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
	struct run_ctx ctx _cleanup_(run_ctx_done) = { .child = KTS_CHILD_INIT };
	struct kts_topology t _cleanup_(topo_donep) = { 0 };
	const char *cpu_cap = NULL, *excl_k = NULL, *unit = NULL, *slice = NULL, *scope_env;
	enum kts_enforcement want = KTS_ENFORCE_AUTO;
	enum kts_manager manager = o->manager;
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED };
	unsigned cpu_weight = 0;
	uint64_t memory_high = 0;
	bool exclusive = false, no_wait = false, no_scope;
	char **command;
	int c, r;

	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(run_help, stdout);
			return KTS_EXIT_OK;
		case 'U':
			manager = KTS_MANAGER_USER;
			break;
		case 'S':
			manager = KTS_MANAGER_SYSTEM;
			break;
		case 'c':
			cpu_cap = optarg;
			break;
		case 'x':
			exclusive = true;
			excl_k = optarg;
			break;
		case 'e':
			if (enforcement_from_string(optarg, &want) < 0) {
				log_error("invalid --enforce '%s': expected auto, cgroup or affinity",
					  optarg);
				return KTS_EXIT_USAGE;
			}
			break;
		case 'n':
			no_wait = true;
			break;
		case 'u':
			if (scope_name_valid(optarg) < 0) {
				log_error("invalid --unit '%s': expected a unit name ending in '.scope', "
					  "of letters, digits and ':_.-\\'", optarg);
				return KTS_EXIT_USAGE;
			}
			unit = optarg;
			break;
		case 's':
			if (!slice_name_valid(optarg)) {
				log_error("invalid --slice '%s': expected a unit name ending in '.slice', "
					  "of letters, digits and ':_.-\\'", optarg);
				return KTS_EXIT_USAGE;
			}
			slice = optarg;
			break;
		case 'w':
			if (parse_positive(optarg, 10000, &cpu_weight) < 0) {
				log_error("invalid --cpu-weight '%s': expected a whole number from 1 to "
					  "10000", optarg);
				return KTS_EXIT_USAGE;
			}
			break;
		case 'm':
			if (parse_size(optarg, &memory_high) < 0 || memory_high == 0 ||
			    memory_high == UINT64_MAX) {
				log_error("invalid --memory-high '%s': expected a number of bytes above 0, "
					  "optionally with K, M, G or T", optarg);
				return KTS_EXIT_USAGE;
			}
			break;
		default:
			return cli_option_error(c, argv, "run");
		}
	}
	if (optind >= argc) {
		log_error("no COMMAND given (see 'ktscope run --help')");
		return KTS_EXIT_USAGE;
	}
	command = argv + optind;

	/* The reservation request, as `topology` reads it. */
	if (exclusive) {
		req.mode = KTS_PLAN_EXCLUSIVE;
		if (excl_k && parse_positive(excl_k, KTS_CPU_MAX - 1, &req.excl_llcs) < 0) {
			log_error("invalid --exclusive '%s': expected a number of LLCs, at least 1",
				  excl_k);
			return KTS_EXIT_USAGE;
		}
		if (excl_k && cpu_cap) {
			log_error("--exclusive=%s and --cpu-cap %s conflict: give a number of LLCs or "
				  "of CPUs, not both", excl_k, cpu_cap);
			return KTS_EXIT_USAGE;
		}
	}
	/* KTSCOPE_CPU_CAP is a shared-mode budget; --exclusive alone takes whole LLCs. */
	if (!exclusive || cpu_cap) {
		r = cli_resolve_cpu_cap(cpu_cap, &req.cpus);
		if (r != KTS_EXIT_OK)
			return r;
	}

	scope_env = getenv_nonempty("KTSCOPE_SCOPE");
	if (scope_env && !streq(scope_env, "none")) {
		log_error("invalid KTSCOPE_SCOPE '%s': the only value is 'none'", scope_env);
		return KTS_EXIT_USAGE;
	}
	no_scope = scope_env != NULL;
	if (no_scope && want == KTS_ENFORCE_CGROUP) {
		log_error("--enforce cgroup needs a systemd scope, but KTSCOPE_SCOPE=none");
		return KTS_EXIT_USAGE;
	}
	if (getenv_nonempty("KTSCOPE_SYSROOT")) {
		log_error("KTSCOPE_SYSROOT is set: 'run' works on this host only; unset it");
		return KTS_EXIT_USAGE;
	}

	r = cli_load_topology(NULL, &t);
	if (r != KTS_EXIT_OK)
		return r;
	if (req.cpus > cpuset_count(&t.allowed)) {
		log_error("CPU budget %u exceeds the %u CPUs this process may use", req.cpus,
			  cpuset_count(&t.allowed));
		return KTS_EXIT_USAGE;
	}
	r = cli_reserve(&t, &req, no_wait, &ctx.res);
	if (r != KTS_EXIT_OK)
		return r;
	ctx.have_res = true;

	{
		struct cli_scoped_spec ss = {
			.manager = manager,
			.what = "run",
			.argv = command,
			.res = &ctx.res,
			.want = want,
			.unit = unit,
			.slice = slice,
			.cpu_weight = cpu_weight,
			.memory_high = memory_high,
		};
		int enforcement;

		/* The locks are released by run_ctx_done(), after the unit is gone. */
		return cli_run_scoped(&ss, &enforcement);
	}
}
