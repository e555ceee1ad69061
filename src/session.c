/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * session: one scoped run, the part of `run`, `build` and `doctor` between the
 * reservation and the release of its locks (DESIGN §4). It owns the supervisor,
 * the bus connection and the unit, and their teardown order: the processes, then
 * the unit, then the bus; the locks are the caller's and outlive all three.
 * session_run() is the CLI-facing sequence and logs each failure once; the
 * session_* steps below it are library-like, for doctor's probe.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "reserve.h"
#include "session.h"

enum kts_bus_kind session_bus_kind(enum kts_manager m)
{
	return m == KTS_MANAGER_USER ? KTS_BUS_USER
	       : m == KTS_MANAGER_SYSTEM ? KTS_BUS_SYSTEM
					 : bus_kind_default();
}

/* ---------------------------------------------------------------- steps */

int session_connect(struct kts_session *x, enum kts_bus_kind kind, char **ret_tried)
{
	x->kind = kind;
	return bus_open(kind, &x->bus, ret_tried);
}

int session_fork(struct kts_session *x, char *const *argv, const int *close_fds, size_t n_fds,
		 const struct kts_cpuset *cpus, const struct kts_cpuset *mems)
{
	return supervise_fork(argv, close_fds, n_fds, cpus, mems, &x->child);
}

int session_start(struct kts_session *x, const char *what, struct kts_scope_params *p,
		  char **ret_why)
{
	int r;

	if (!x->unit) {
		r = scope_name_generate(what, &x->unit);
		if (r < 0)
			return r;
	}
	p->name = x->unit;
	p->pid = x->child.pid;
	p->pidfd = x->child.pidfd;
	r = scope_start(x->bus, p, &x->manager_version, ret_why);
	if (r < 0)
		return r;
	x->unit_started = true;
	return 0;
}

/*
 * The unit of a session whose manager went away while argv ran (its process group is
 * killed by now). A manager that left cannot be asked; over a lost connection, the
 * manager may still be there: ask it once more over a fresh one (the private socket
 * when the bus daemon died), so the unit does not outlive us.
 */
static void forget_lost_unit(struct kts_session *x)
{
	if (x->lost == -EHOSTDOWN) {
		x->unit_started = false;
		return;
	}
	bus_close(x->bus);
	x->bus = NULL;
	if (session_connect(x, x->kind, NULL) < 0) {
		log_debug("unit '%s': no manager to stop it", x->unit);
		x->unit_started = false;
	}
}

void session_done(struct kts_session *x)
{
	int r;

	/* 1. argv: never released or still running → killed and reaped. */
	if (x->child.pid > 0)
		supervise_done(&x->child);
	if (x->unit_started && x->lost)
		forget_lost_unit(x);
	/* 2. The unit (its leftovers get SIGTERM, then SIGKILL), or without one, the group. */
	if (x->unit_started) {
		r = scope_stop(x->bus, x->unit, 0);
		if (r == -ETIME)
			log_warning("unit '%s' is still there after %" PRIu64 " s; releasing the "
				    "CPUs anyway", x->unit, SCOPE_STOP_TIMEOUT_USEC / 1000000);
		else if (r < 0)
			log_warning_errno(r, "cannot confirm that unit '%s' is gone: %m", x->unit);
		x->unit_started = false;
	} else
		(void) supervise_kill_group(&x->child, SIGKILL);
	supervise_done(&x->child);
	/* The connection first: its end takes the watch's match along, unasked. */
	bus_close(x->bus);
	x->bus = NULL;
	bus_watch_free(x->watch);
	x->watch = NULL;
	free(x->unit);
	x->unit = NULL;
}

/* ---------------------------------------------------------------- messages */

static int manager_unreachable(enum kts_bus_kind kind, int r, const char *why)
{
	log_error_errno(r, "cannot reach the systemd %s manager (tried %s): %m; %s",
			bus_kind_to_string(kind), strempty(why), bus_fix_hint(kind));
	return -EHOSTDOWN;
}

/* Where the scope's start went wrong, logged; the errno session_run() returns. */
static int start_failed(const struct kts_session *x, int r, const char *why)
{
	_cleanup_free_ char *desc = NULL;

	switch (r) {
	case -EHOSTDOWN:
		(void) bus_describe(x->bus, &desc);
		log_error("no systemd %s manager answers on %s: %s; %s", bus_kind_to_string(x->kind),
			  strempty(desc), strempty(why), bus_fix_hint(x->kind));
		return r;
	case -EEXIST:
		log_error("unit '%s' already exists; pick another --unit name", x->unit);
		return r;
	case -EACCES:
	case -EPERM:
		log_error("the %s manager does not let us start '%s': %s",
			  bus_kind_to_string(x->kind), x->unit, strempty(why));
		return r;
	default:
		if (why)
			log_error("cannot start unit '%s': %s", x->unit, why);
		else
			log_error_errno(r, "cannot start unit '%s': %m", x->unit);
		return -EIO;
	}
}

static char *fmt_llcs(const struct kts_plan *p)
{
	struct kts_cpuset s = KTS_CPUSET_INIT;
	char *str;

	for (size_t i = 0; i < p->n_llcs; i++)
		(void) cpuset_add(&s, p->llcs[i]);
	str = cpuset_display(&s);
	cpuset_done(&s);
	return str;
}

/* The one line that says where argv runs. */
static void print_placement(const struct kts_session *x, const struct kts_plan *plan,
			    const struct kts_cpuset *cpus, const struct kts_cpuset *mems,
			    enum kts_enforcement e)
{
	_cleanup_free_ char *cs = cpuset_display(cpus), *ms = cpuset_display(mems), *ls = fmt_llcs(plan);

	log_notice("unit %s cpus %s llcs %s nodes %s enforcement %s", x->unit ? x->unit : "none",
		   strempty(cs), strempty(ls), strempty(ms), enforcement_to_string(e));
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

/* ---------------------------------------------------------------- session_run's steps */

/* Connects and starts the unit for the forked supervisor; logs failures. */
static int start_scope(struct kts_session *x, const struct kts_session_spec *s)
{
	_cleanup_free_ char *why = NULL, *description = NULL;
	const struct kts_plan *plan = &s->res->plan;
	struct kts_scope_params sp = {
		.cpus = &plan->cpus,
		.mems = &plan->mems,
		.slice = s->slice,
		.cpu_weight = s->cpu_weight,
		.memory_high = s->memory_high,
		.accounting = s->accounting,
	};
	int r;

	if (s->unit) {
		x->unit = strdup(s->unit);
		if (!x->unit)
			return log_error_errno(-ENOMEM, "%m"), -EIO;
	}
	description = make_description(s->what, s->argv);
	sp.description = description;
	r = session_start(x, s->what, &sp, &why);
	if (r < 0 && !x->unit)
		return log_error_errno(r, "cannot name the unit: %m"), -EIO;
	if (r < 0)
		return start_failed(x, r, why);
	return 0;
}

/*
 * Reads back what the unit's cgroup enforces and applies the caller's wish (DESIGN §4
 * step 4): *ret_got and *state (effective sets) on 0; -EMEDIUMTYPE when want is cgroup
 * and the cgroup does not enforce the plan.
 */
static int classify_enforcement(struct kts_session *x, const struct kts_session_spec *s,
				struct kts_scope_state *state, enum kts_enforcement *ret_got)
{
	const struct kts_plan *plan = &s->res->plan;
	const char *kind = bus_kind_to_string(x->kind);
	enum kts_enforcement got;
	int r;

	if (s->want == KTS_ENFORCE_AFFINITY) {
		*ret_got = KTS_ENFORCE_AFFINITY;
		return 0;
	}
	r = scope_verify(x->bus, x->unit, &plan->cpus, &plan->mems, state, &got);
	if (r < 0) {
		log_error_errno(r, "cannot read back unit '%s': %m", x->unit);
		return -EIO;
	}
	log_debug("unit %s: cgroup %s", x->unit, state->control_group);
	if (got == KTS_ENFORCE_AFFINITY && s->want == KTS_ENFORCE_CGROUP) {
		log_error("the %s manager does not enforce AllowedCPUs= on '%s' (no cpuset "
			  "controller for its cgroups) and --enforce cgroup was given; see "
			  "'ktscope doctor'", kind, x->unit);
		return -EMEDIUMTYPE;
	}
	if (got == KTS_ENFORCE_NARROWED) {
		_cleanup_free_ char *ec = cpuset_display(&state->effective_cpus),
				    *em = cpuset_display(&state->effective_mems);

		if (s->want == KTS_ENFORCE_CGROUP) {
			log_error("a parent slice narrowed '%s' to CPUs %s, nodes %s, and "
				  "--enforce cgroup was given", x->unit, ec, em);
			return -EMEDIUMTYPE;
		}
		log_warning("a parent slice narrowed '%s' to CPUs %s, nodes %s; running there",
			    x->unit, ec, em);
	}
	if (got == KTS_ENFORCE_AFFINITY && s->want == KTS_ENFORCE_AUTO)
		log_notice("the %s manager does not enforce AllowedCPUs= (no cpuset controller "
			   "for its cgroups); binding COMMAND with CPU affinity%s instead; see "
			   "'ktscope doctor'", kind, plan->mems_all ? "" : " and MPOL_BIND");
	*ret_got = got;
	return 0;
}

/* The scope (or, under KTSCOPE_SCOPE=none, none) and what enforces the plan. */
static int place(struct kts_session *x, const struct kts_session_spec *s,
		 struct kts_scope_state *state, enum kts_enforcement *ret_got)
{
	int r;

	/* open_manager() connected unless KTSCOPE_SCOPE is set. */
	if (!x->bus) {
		log_notice("KTSCOPE_SCOPE=none: no systemd scope; the CPUs are kept by the locks and "
			   "CPU affinity only");
		*ret_got = KTS_ENFORCE_AFFINITY;
		return 0;
	}
	r = start_scope(x, s);
	if (r < 0)
		return r;
	return classify_enforcement(x, s, state, ret_got);
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

static int check_manager(void *userdata)
{
	return bus_watch_check(userdata);
}

/* The manager (or the connection to it) went away while argv ran: said once, here. */
static int manager_lost(struct kts_session *x, const struct kts_session_spec *s, int r)
{
	_cleanup_free_ char *desc = NULL;

	x->lost = r;
	(void) bus_describe(x->bus, &desc);
	if (r == -EHOSTDOWN)
		log_error("the systemd %s manager went away during the %s (unit '%s'); its "
			  "processes were killed", bus_kind_to_string(x->kind), s->what, x->unit);
	else
		log_error("the connection to the systemd %s manager on %s was lost during the %s "
			  "(unit '%s'); its processes were killed",
			  bus_kind_to_string(x->kind), strempty(desc), s->what, x->unit);
	return -EHOSTDOWN;
}

/*
 * Lets argv start on got's terms and waits for it, watching the manager: one that goes
 * away leaves nobody to stop the unit's processes, so we stop them (-EHOSTDOWN).
 * *ret_status is argv's exit code.
 */
static int release_and_wait(struct kts_session *x, const struct kts_session_spec *s,
			    enum kts_enforcement got, int *ret_status)
{
	struct kts_bus_watch *w = x->watch;
	struct kts_child_watch cw[2];
	struct kts_child_report rep;
	size_t n = 0;
	int r;

	if (w) {
		r = bus_watch_ready(w);
		if (r < 0)
			return manager_lost(x, s, r == -EHOSTDOWN ? r : -ECONNRESET);
		cw[n++] = (struct kts_child_watch){ .fd = bus_watch_fd(w), .check = check_manager,
						    .userdata = w };
	}
	if (s->side)
		cw[n++] = *s->side;
	r = supervise_release(&x->child, got == KTS_ENFORCE_AFFINITY);
	if (r < 0)
		return log_error_errno(r, "cannot start '%s': %m", s->argv[0]), -EIO;
	r = supervise_wait_watch(&x->child, cw, n, &rep);
	if (r == -EHOSTDOWN || r == -ECONNRESET)
		return manager_lost(x, s, r);
	if (r < 0)
		return log_error_errno(r, "lost track of '%s': %m", s->argv[0]), -EIO;
	*ret_status = report_child(&rep, s->argv[0]);
	return 0;
}

/*
 * The connection, and the watch on the manager's departure, before the fork: the bus
 * daemon answers the authentication and the watch's calls while we fork, instead of
 * after. Nothing under KTSCOPE_SCOPE=none.
 */
static int open_manager(struct kts_session *x, const struct kts_session_spec *s)
{
	_cleanup_free_ char *why = NULL;
	int r;

	if (getenv_nonempty("KTSCOPE_SCOPE"))
		return 0;
	r = session_connect(x, session_bus_kind(s->manager), &why);
	if (r < 0)
		return manager_unreachable(x->kind, r, why);
	r = bus_watch_begin(x->bus, &x->watch);
	if (r < 0)
		return log_error_errno(r, "cannot watch the systemd %s manager: %m",
				       bus_kind_to_string(x->kind)), -EHOSTDOWN;
	return 0;
}

static const struct kts_cpuset no_nodes = { 0 };

/* The supervisor, which keeps neither the locks nor the connection: both are ours. */
static int fork_supervisor(struct kts_session *x, const struct kts_session_spec *s)
{
	const struct kts_plan *plan = &s->res->plan;
	_cleanup_free_ int *fds = NULL;
	size_t n = s->res->n_fds;

	fds = malloc((n + 2) * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	if (n)
		memcpy(fds, s->res->fds, n * sizeof(*fds));
	if (x->watch)
		fds[n++] = bus_watch_fd(x->watch);
	if (s->side)
		fds[n++] = s->side->fd;
	/* A policy that binds to every node binds nothing, yet slows page allocation. */
	return session_fork(x, s->argv, fds, n, &plan->cpus, plan->mems_all ? &no_nodes : &plan->mems);
}

static const struct kts_scope_accounting no_accounting = {
	TELEMETRY_ABSENT, TELEMETRY_ABSENT, TELEMETRY_ABSENT, TELEMETRY_ABSENT
};

int session_run(const struct kts_session_spec *s, struct kts_session_result *ret)
{
	struct kts_session x _cleanup_(session_done) = KTS_SESSION_INIT;
	struct kts_scope_state state _cleanup_(scope_state_done) = { 0 };
	const struct kts_plan *plan = &s->res->plan;
	enum kts_enforcement got;
	int r, sig, status = 0;

	r = open_manager(&x, s);
	if (r < 0)
		return r;
	r = fork_supervisor(&x, s);
	if (r < 0)
		return log_error_errno(r, "cannot fork: %m"), -EIO;
	r = place(&x, s, &state, &got);
	if (r < 0)
		return r;

	/* A Ctrl-C while the scope was being set up: argv never starts. */
	sig = supervise_pending_signal(&x.child);
	if (sig > 0) {
		log_notice("interrupted by signal %d before '%s' started", sig, s->argv[0]);
		*ret = (struct kts_session_result){ .status = 128 + sig, .enforcement = got,
						    .acct = no_accounting };
		return 0;
	}
	if (got == KTS_ENFORCE_NARROWED)
		print_placement(&x, plan, &state.effective_cpus, &state.effective_mems, got);
	else
		print_placement(&x, plan, &plan->cpus, &plan->mems, got);

	r = release_and_wait(&x, s, got, &status);
	if (r < 0)
		return r;
	*ret = (struct kts_session_result){ .status = status, .enforcement = got,
					    .acct = no_accounting };
	/* Now: the unit is still loaded (our AddRef; session_done() stops and unrefs it). */
	if (x.unit_started && s->accounting)
		(void) scope_read_accounting(x.bus, x.unit, &ret->acct);
	return 0;
}

int session_check_manager(enum kts_manager m)
{
	_cleanup_free_ char *why = NULL;
	struct sd_bus *bus = NULL;
	int r;

	if (getenv_nonempty("KTSCOPE_SCOPE"))
		return 0;
	r = bus_open(session_bus_kind(m), &bus, &why);
	if (r < 0)
		return manager_unreachable(session_bus_kind(m), r, why);
	bus_close(bus);
	return 0;
}

/* ---------------------------------------------------------------- doctor's probe */

void session_probe_done(struct kts_session_probe *p)
{
	free(p->tried);
	free(p->bus_desc);
	free(p->why);
	free(p->effective);
	free(p->plan);
	*p = (struct kts_session_probe){ 0 };
}

void session_probe(enum kts_bus_kind kind, const struct kts_cpuset *cpus,
		   const struct kts_cpuset *mems, struct kts_session_probe *p)
{
	static char *const child_argv[] = { (char *) "true", NULL };
	struct kts_session x _cleanup_(session_done) = KTS_SESSION_INIT;
	struct kts_scope_state state = { 0 };
	struct kts_scope_params sp = {
		.cpus = cpus,
		.mems = mems,
		.description = "ktscope doctor: AllowedCPUs= probe",
	};
	int r;

	*p = (struct kts_session_probe){ .kind = kind, .start_r = -EHOSTDOWN, .verify_r = -ENODATA };
	p->open_r = session_connect(&x, kind, &p->tried);
	if (p->open_r < 0)
		return;
	(void) bus_describe(x.bus, &p->bus_desc);
	(void) cpuset_format(cpus, &p->plan);

	r = session_fork(&x, child_argv, NULL, 0, cpus, mems);
	if (r < 0) {
		p->start_r = r;
		if (asprintf(&p->why, "cannot fork a probe process: %s", strerror(-r)) < 0)
			p->why = NULL;
		return;
	}
	p->start_r = session_start(&x, "doctor", &sp, &p->why);
	p->manager_version = x.manager_version;
	if (p->start_r < 0)
		return;
	p->verify_r = scope_verify(x.bus, x.unit, cpus, mems, &state, &p->enforcement);
	if (p->verify_r == 0) {
		(void) cpuset_format(&state.effective_cpus, &p->effective);
		scope_state_done(&state);
	}
	/* session_done(): the process first, then the unit, as a run does. */
}
