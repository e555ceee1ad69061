/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The distributed compile engines' plan (engine.h): which engine binary, which hosts
 * answer, how many remote slots make -j adds, or why the build falls back to a local one;
 * and what make gets from the plan in the in-scope half. The distcc host list parser is
 * engine-hosts.c; icecream's plan is engine-icecc.c (engine_icecc_plan()), called from
 * engine_plan() like engine_distcc_plan() is.
 *
 * Probing: a TCP connect to each host the user named (all at once, ENGINE_PROBE_TIMEOUT_MS
 * in all); an answering port is a distccd as far as ktscope can tell cheaply. SSH hosts
 * are not probed (a probe would log in) and are counted as they state.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "engine-icecc.h"
#include "engine.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "util.h"

/* ---------------------------------------------------------------- probing */

/* "127.0.0.1:3632" or "[::1]:3632". */
static char *host_port(const struct engine_host *h)
{
	char *s = NULL;

	if (asprintf(&s, strchr(h->name, ':') ? "[%s]:%u" : "%s:%u", h->name, h->port) < 0)
		return NULL;
	return s;
}

/* "HOST:PORT: connection refused" (strerror's text, first letter lowered). */
static char *probe_why(const struct engine_host *h, const char *what)
{
	_cleanup_free_ char *hp = host_port(h);
	char *s = NULL;

	if (!hp || asprintf(&s, "%s: %s", hp, what) < 0)
		return NULL;
	return s;
}

static char *probe_why_errno(const struct engine_host *h, int err)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char) (buf[0] - 'A' + 'a');
	return probe_why(h, buf);
}

/* Starts a non-blocking connect to h: the fd (connected or in progress), or -errno. */
static int probe_start(const struct engine_host *h, char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port[8];
	int fd, r;

	snprintf(port, sizeof(port), "%u", h->port);
	r = getaddrinfo(h->name, port, &hints, &ai);
	if (r != 0) {
		char what[160];

		snprintf(what, sizeof(what), "cannot resolve: %s", gai_strerror(r));
		*why = probe_why(h, what);
		return -EHOSTUNREACH;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		freeaddrinfo(ai);
		*why = probe_why_errno(h, -r);
		return r;
	}
	r = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
	freeaddrinfo(ai);
	if (r < 0 && r != -EINPROGRESS) {
		safe_close(fd);
		*why = probe_why_errno(h, -r);
		return r;
	}
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the connects in fds[] (-1: done) until the deadline; fills answers/why. */
static int probe_wait(const struct engine_host *v, int *fds, size_t n, unsigned timeout_ms,
		      bool *answers, char **why)
{
	_cleanup_free_ struct pollfd *p = calloc(n ? n : 1, sizeof(*p));
	long long deadline = now_ms() + timeout_ms;

	if (!p)
		return -ENOMEM;
	for (;;) {
		size_t k = 0;
		long long left = deadline - now_ms();
		int r;

		for (size_t i = 0; i < n; i++)
			if (fds[i] >= 0)
				p[k++] = (struct pollfd){ .fd = fds[i], .events = POLLOUT };
		if (k == 0)
			return 0;
		if (left <= 0)
			break;
		r = poll(p, k, (int) left);
		if (r < 0 && errno != EINTR)
			return -errno;
		for (size_t j = 0; r > 0 && j < k; j++) {
			int err = 0;
			socklen_t len = sizeof(err);
			size_t i;

			if (!p[j].revents)
				continue;
			for (i = 0; fds[i] != p[j].fd; i++)
				;
			if (getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			answers[i] = err == 0;
			if (err)
				why[i] = probe_why_errno(&v[i], err);
			fds[i] = safe_close(fds[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			char what[64];

			snprintf(what, sizeof(what), "no answer in %u ms", timeout_ms);
			why[i] = probe_why(&v[i], what);
			fds[i] = safe_close(fds[i]);
		}
	return 0;
}

int engine_hosts_probe(const struct engine_hosts *h, unsigned timeout_ms, bool *answers,
		       char **why)
{
	_cleanup_free_ int *fds = calloc(h->n ? h->n : 1, sizeof(int));
	int r;

	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i < h->n; i++) {
		const struct engine_host *e = &h->v[i];

		why[i] = NULL;
		fds[i] = -1;
		answers[i] = e->kind != ENGINE_HOST_TCP;
		if (e->kind != ENGINE_HOST_TCP || e->down)
			continue;
		r = probe_start(e, &why[i]);
		if (r >= 0)
			fds[i] = r;
	}
	r = probe_wait(h->v, fds, h->n, timeout_ms, answers, why);
	for (size_t i = 0; i < h->n; i++)
		safe_close(fds[i]);
	return r;
}

/* ---------------------------------------------------------------- distcc */

/* 0 when `bin --version` runs and exits 0; else a reason (caller frees) in *ret_why. */
static int check_runs(const char *bin, char **ret_why)
{
	char *argv[] = { (char *) bin, (char *) "--version", NULL };
	int status, r;

	r = spawn_capture(argv, NULL, &status, NULL, NULL);
	if (r < 0)
		return why_set(ret_why, r, "'%s' cannot be started: %s", bin, strerror(-r));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return why_set(ret_why, -EPROTO, "'%s --version' failed", bin);
	return 0;
}

/* Appends s (and a space before it unless first) to *buf. */
static int append_word(char **buf, const char *s)
{
	char *n = NULL;

	if (asprintf(&n, "%s%s%s", *buf ? *buf : "", *buf ? " " : "", s) < 0)
		return -ENOMEM;
	free(*buf);
	*buf = n;
	return 0;
}

/* The list distcc is given: the global options, then every entry but the silent TCP hosts. */
static int kept_hosts(const struct engine_hosts *h, const bool *answers, char **ret)
{
	_cleanup_free_ char *s = NULL;
	char g[48];

	if (h->randomize && append_word(&s, "--randomize") < 0)
		return -ENOMEM;
	if (h->localslots && (snprintf(g, sizeof(g), "--localslots=%u", h->localslots),
			      append_word(&s, g) < 0))
		return -ENOMEM;
	if (h->localslots_cpp && (snprintf(g, sizeof(g), "--localslots_cpp=%u", h->localslots_cpp),
				  append_word(&s, g) < 0))
		return -ENOMEM;
	for (size_t i = 0; i < h->n; i++)
		if (answers[i] && !h->v[i].down && append_word(&s, h->v[i].spec) < 0)
			return -ENOMEM;
	*ret = TAKE_PTR(s);
	return 0;
}

/* What answered: the remote slots (TCP answering + SSH), and whether any remote host is left. */
static unsigned answering_slots(const struct engine_hosts *h, const bool *answers, bool *any)
{
	unsigned sum = 0;

	*any = false;
	for (size_t i = 0; i < h->n; i++) {
		const struct engine_host *e = &h->v[i];

		if (e->down || !answers[i] || e->kind == ENGINE_HOST_LOCAL)
			continue;
		*any = true;
		if (e->kind == ENGINE_HOST_SSH)
			log_debug("distcc: ssh host '%s' is not probed (a probe would log in); "
				  "counted with its %u slots", e->name, e->slots);
		if (e->kind == ENGINE_HOST_ZEROCONF)
			log_debug("distcc: +zeroconf hosts are found at compile time; their slots "
				  "are not counted (give --remote-jobs)");
		else
			sum += e->slots;
	}
	return sum;
}

/* The probe failures joined: "a:1: connection refused; b:2: no answer in 1000 ms". */
static char *join_failures(char **why, size_t n)
{
	_cleanup_free_ char *s = NULL;

	for (size_t i = 0; i < n; i++) {
		char *t = NULL;

		if (!why[i])
			continue;
		if (asprintf(&t, "%s%s%s", s ? s : "", s ? "; " : "", why[i]) < 0)
			return NULL;
		free(s);
		s = t;
	}
	return TAKE_PTR(s);
}

static void strv_freep_n(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Probes h and fills plan (or its fallback); one warning line for what was dropped. */
static int distcc_plan_hosts(const struct engine_hosts *h, unsigned remote_jobs,
			     struct kts_compile_plan *plan)
{
	_cleanup_free_ bool *answers = calloc(h->n, sizeof(bool));
	char **why = calloc(h->n, sizeof(char *));
	_cleanup_free_ char *failed = NULL, *kept = NULL;
	unsigned slots;
	bool any;
	int r = -ENOMEM;

	if (!answers || !why)
		goto out;
	r = engine_hosts_probe(h, ENGINE_PROBE_TIMEOUT_MS, answers, why);
	if (r < 0)
		goto out;
	failed = join_failures(why, h->n);
	slots = answering_slots(h, answers, &any);
	r = -ENOMEM;
	if (!any) {
		if (asprintf(&plan->fallback, failed ? "distcc: no host answers (%s)" :
			     "distcc: the host list names no remote host", strempty(failed)) < 0)
			goto out;
		log_warning("%s; building locally", plan->fallback);
		r = 0;
		goto out;
	}
	if (failed)
		log_warning("distcc: not answering, left out: %s", failed);
	if (kept_hosts(h, answers, &kept) < 0)
		goto out;
	plan->engine = KTS_ENGINE_DISTCC;
	plan->hosts = TAKE_PTR(kept);
	plan->remote_jobs = remote_jobs ? remote_jobs : slots;
	r = 0;
out:
	strv_freep_n(why, h->n);
	return r;
}

static int engine_distcc_plan(const struct kts_compile_request *req, struct kts_compile_plan *plan,
			      char **ret_why)
{
	struct engine_hosts h _cleanup_(engine_hosts_done) = { 0 };
	_cleanup_free_ char *bin = NULL, *why = NULL;
	int r;

	if (!req->distcc_hosts)
		return why_set(ret_why, -EINVAL, "--distcc needs a host list (--distcc=HOSTS or "
			       "DISTCC_HOSTS)");
	r = engine_distcc_hosts_parse(req->distcc_hosts, &h, ret_why);
	if (r < 0)
		return r;
	bin = find_program("distcc");
	if (!bin)
		return why_set(ret_why, -ENXIO, "--distcc: 'distcc' not found in PATH; install it "
			       "(Debian: apt install distcc)");
	if (check_runs(bin, &why) < 0) {
		if (asprintf(&plan->fallback, "distcc: %s", strempty(why)) < 0)
			return -ENOMEM;
		log_warning("%s; building locally", plan->fallback);
		return 0;
	}
	r = distcc_plan_hosts(&h, req->remote_jobs, plan);
	if (r < 0)
		return r;
	if (plan->engine == KTS_ENGINE_DISTCC)
		plan->engine_bin = TAKE_PTR(bin);
	return 0;
}

/* ---------------------------------------------------------------- the plan */

/* icecream (engine-icecc.c), its toolchain tarballs in the cache; one warning on fallback. */
static int engine_icecc_plan_logged(const struct kts_compile_request *req,
				    struct kts_compile_plan *plan, char **ret_why)
{
	_cleanup_free_ char *root = NULL;
	const char *var = NULL;
	int r;

	r = cache_root(&root, &var);
	if (r < 0)
		return why_set(ret_why, r, "--icecc: no cache directory for the toolchain tarball "
			       "(%s)", var ?: "HOME");
	r = engine_icecc_plan(req, root, req->cc ?: "cc", plan, ret_why);
	if (r >= 0 && plan->fallback)
		log_warning("%s; building locally", plan->fallback);
	return r;
}

int engine_plan(const struct kts_compile_request *req, struct kts_compile_plan *plan,
		char **ret_why)
{
	plan->engine = KTS_ENGINE_NONE;
	switch (req->engine) {
	case KTS_ENGINE_NONE:
		return 0;
	case KTS_ENGINE_DISTCC:
		return engine_distcc_plan(req, plan, ret_why);
	case KTS_ENGINE_ICECC:
		return engine_icecc_plan_logged(req, plan, ret_why);
	default:
		return why_set(ret_why, -EOPNOTSUPP, "this compile engine is not supported");
	}
}

unsigned engine_make_jobs(unsigned local, unsigned remote_jobs)
{
	unsigned long long sum = (unsigned long long) local + remote_jobs;

	return sum > JOB_MAX_JOBS ? JOB_MAX_JOBS : (unsigned) sum;
}

static int strv_push(char ***env, size_t *n, char *s)
{
	char **v;

	if (!s)
		return -ENOMEM;
	v = realloc(*env, (*n + 2) * sizeof(char *));
	if (!v) {
		free(s);
		return -ENOMEM;
	}
	v[(*n)++] = s;
	v[*n] = NULL;
	*env = v;
	return 0;
}

int engine_make_env(const struct kts_compile_plan *plan, char ***env, size_t *n)
{
	char *s = NULL;

	/* icecream: the remote daemons compile in this toolchain (icecream(7)) */
	if (plan->engine == KTS_ENGINE_ICECC && plan->icecc_env)
		return asprintf(&s, "ICECC_VERSION=%s", plan->icecc_env) < 0 ? -ENOMEM :
		       strv_push(env, n, s);
	if (plan->engine != KTS_ENGINE_DISTCC || !plan->hosts)
		return 0;
	if (asprintf(&s, "DISTCC_HOSTS=%s", plan->hosts) < 0)
		return -ENOMEM;
	return strv_push(env, n, s);
}

int engine_setup_env(const struct kts_compile_plan *plan)
{
	char **env = NULL;
	size_t n = 0;
	int r;

	r = engine_make_env(plan, &env, &n);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		char *eq = strchr(env[i], '=');

		*eq = 0;
		if (setenv(env[i], eq + 1, 1) < 0)
			r = -errno;
	}
	strv_free(env, n);
	return r;
}

const char *engine_plugins_refused_by(const struct kts_compile_plan *plan)
{
	/* distcc 3.4 src/serve.c: "-fplugin= and/or -specs= passed, which are insecure" */
	return plan->engine == KTS_ENGINE_DISTCC ? "distccd" : NULL;
}

static const char *engine_name(enum kts_compile_engine e)
{
	return e == KTS_ENGINE_DISTCC ? "distcc" : e == KTS_ENGINE_ICECC ? "icecc" : "none";
}

char *engine_describe(enum kts_compile_engine engine, const char *hosts, unsigned jobs)
{
	char *s = NULL;

	if (engine == KTS_ENGINE_NONE)
		return NULL;
	if (asprintf(&s, "%s %s (+%u jobs)", engine_name(engine), strempty(hosts),
		     jobs) < 0)
		return NULL;
	return s;
}

int engine_summary(const struct kts_compile_plan *plan, char **ret)
{
	char *s = NULL;

	if (plan->engine != KTS_ENGINE_NONE)
		s = engine_describe(plan->engine, plan->hosts, plan->remote_jobs);
	else if (plan->fallback && asprintf(&s, "built locally: %s", plan->fallback) < 0)
		s = NULL;
	if (!s && (plan->engine != KTS_ENGINE_NONE || plan->fallback))
		return -ENOMEM;
	*ret = s;
	return 0;
}
