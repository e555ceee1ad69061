/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Transient scopes (DESIGN §4). The protocol follows systemd-run --scope
 * (src/run/run.c) and its job waiter (src/shared/bus-wait-for-jobs.c): match
 * JobRemoved and Subscribe before StartTransientUnit, so the job's completion
 * cannot slip by between the reply and the match. Calls that do not depend on each
 * other's answers go out together and are waited for together (struct pending): the
 * match, Subscribe and the manager's Version; the three verify reads; the stop's match,
 * StopUnit and UnrefUnit. Their order on the wire is the order they are sent in.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "log.h"
#include "macro.h"
#include "scope.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT_PATH_PREFIX "/org/freedesktop/systemd1/unit"

static void bus_message_unrefp(sd_bus_message **m)
{
	(void) sd_bus_message_unref(*m);
}
#define _cleanup_bus_message_ _cleanup_(bus_message_unrefp)

static void bus_slot_unrefp(sd_bus_slot **s)
{
	(void) sd_bus_slot_unref(*s);
}
#define _cleanup_bus_slot_ _cleanup_(bus_slot_unrefp)

#define _cleanup_bus_error_ _cleanup_(sd_bus_error_free)

static uint64_t now_usec(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

const char *enforcement_to_string(enum kts_enforcement e)
{
	switch (e) {
	case KTS_ENFORCE_AUTO:
		return "auto";
	case KTS_ENFORCE_CGROUP:
		return "cgroup";
	case KTS_ENFORCE_AFFINITY:
		return "affinity";
	case KTS_ENFORCE_NARROWED:
		return "cgroup (narrowed)";
	}
	return "?";
}

int enforcement_from_string(const char *s, enum kts_enforcement *ret)
{
	if (streq(s, "auto"))
		*ret = KTS_ENFORCE_AUTO;
	else if (streq(s, "cgroup"))
		*ret = KTS_ENFORCE_CGROUP;
	else if (streq(s, "affinity"))
		*ret = KTS_ENFORCE_AFFINITY;
	else
		return -EINVAL;
	return 0;
}

int scope_job_result_to_errno(const char *result)
{
	static const struct {
		const char *result;
		int error;
	} map[] = {
		{ "done", 0 },
		{ "failed", -EIO },
		{ "timeout", -ETIMEDOUT },
		{ "canceled", -ECANCELED },
		{ "dependency", -ENOLINK },
		{ "skipped", -ENOEXEC },
		{ "invalid", -EINVAL },
		{ "unsupported", -EOPNOTSUPP },
		{ "collected", -ECANCELED },
		{ "once", -ESTALE },
	};

	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (result && streq(result, map[i].result))
			return map[i].error;
	return -EIO;
}

/* ---------------------------------------------------------------- names */

static bool unit_char_valid(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '-' || c == '_' || c == '.' || c == '\\';
}

int scope_name_valid(const char *name)
{
	static const char suffix[] = ".scope";
	size_t len, plen;
	const char *at;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	/* systemd's UNIT_NAME_MAX is 256 including the NUL. */
	if (len <= strlen(suffix) || len > 255 || !streq(name + len - strlen(suffix), suffix))
		return -EINVAL;
	plen = len - strlen(suffix);
	at = memchr(name, '@', plen);
	for (size_t i = 0; i < plen; i++) {
		if (name + i == at)
			continue;
		if (!unit_char_valid(name[i]))
			return -EINVAL;
	}
	/* "foo@bar.scope": both halves non-empty, one '@' only. */
	if (at && (at == name || at == name + plen - 1 || memchr(at + 1, '@', plen - (at - name) - 1)))
		return -EINVAL;
	return 0;
}

int scope_name_generate(const char *what, char **ret)
{
	uint32_t rnd = 0;
	int fd;
	char *s;

	/* Random, not secret: only needs to differ between runs of one pid. */
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		if (read(fd, &rnd, sizeof(rnd)) != (ssize_t) sizeof(rnd))
			rnd = 0;
		(void) close(fd);
	}
	if (rnd == 0)
		rnd = (uint32_t) now_usec() ^ ((uint32_t) getpid() << 16);
	if (asprintf(&s, "ktscope-%s-%d-%08" PRIx32 ".scope", what, (int) getpid(), rnd) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static char *why_from_error(const char *what, const sd_bus_error *e, int r)
{
	char *s = NULL;

	if (e && sd_bus_error_is_set(e)) {
		if (asprintf(&s, "%s: %s (%s)", what, e->message ? e->message : "?", e->name) < 0)
			s = NULL;
	} else if (asprintf(&s, "%s: %s", what, strerror(r < 0 ? -r : r)) < 0)
		s = NULL;
	return s;
}

/* Hands why (may be NULL) to the caller's *ret_why, replacing an earlier one. */
static void set_why(char **ret_why, char *why)
{
	if (ret_why) {
		free(*ret_why);
		*ret_why = why;
	} else
		free(why);
}

static int unit_path(const char *name, char **ret)
{
	return sd_bus_path_encode(SD_UNIT_PATH_PREFIX, name, ret);
}

/* ("Name", ay bitmask) as one a(sv) element, in systemd's AllowedCPUs= layout. */
static int append_bitmask(sd_bus_message *m, const char *prop, const struct kts_cpuset *set)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = cpuset_to_bitmask(set, &buf, &len);
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(m, 'r', "sv");
	if (r < 0)
		return r;
	r = sd_bus_message_append(m, "s", prop);
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(m, 'v', "ay");
	if (r < 0)
		return r;
	r = sd_bus_message_append_array(m, 'y', buf, len);
	if (r < 0)
		return r;
	r = sd_bus_message_close_container(m);
	if (r < 0)
		return r;
	return sd_bus_message_close_container(m);
}

static int build_start_message(sd_bus *bus, const struct kts_scope_params *p, bool use_pidfd,
			       bool accounting, sd_bus_message **ret)
{
	_cleanup_bus_message_ sd_bus_message *m = NULL;
	int r;

	r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER,
					   "StartTransientUnit");
	if (r < 0)
		return r;
	r = sd_bus_message_append(m, "ss", p->name, "fail");
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(m, 'a', "(sv)");
	if (r < 0)
		return r;
	/* The process first: with PIDFDs the manager cannot be fooled by pid reuse. */
	if (use_pidfd)
		r = sd_bus_message_append(m, "(sv)", "PIDFDs", "ah", 1, p->pidfd);
	else
		r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t) p->pid);
	if (r < 0)
		return r;
	r = append_bitmask(m, "AllowedCPUs", p->cpus);
	if (r < 0)
		return r;
	r = append_bitmask(m, "AllowedMemoryNodes", p->mems);
	if (r < 0)
		return r;
	if (p->description) {
		r = sd_bus_message_append(m, "(sv)", "Description", "s", p->description);
		if (r < 0)
			return r;
	}
	r = sd_bus_message_append(m, "(sv)(sv)", "Slice", "s",
				  p->slice ? p->slice : SCOPE_DEFAULT_SLICE,
				  "CollectMode", "s", "inactive-or-failed");
	if (r < 0)
		return r;
	/*
	 * AddRef ties the unit to our unique bus name, which a direct connection
	 * does not have: the manager answers InvalidArgs (systemd-run asks for a
	 * real bus whenever it wants AddRef, for the same reason).
	 */
	if (sd_bus_is_bus_client(bus) > 0) {
		r = sd_bus_message_append(m, "(sv)", "AddRef", "b", 1);
		if (r < 0)
			return r;
	}
	if (p->cpu_weight > 0) {
		r = sd_bus_message_append(m, "(sv)", "CPUWeight", "t", p->cpu_weight);
		if (r < 0)
			return r;
	}
	if (p->memory_high > 0) {
		r = sd_bus_message_append(m, "(sv)", "MemoryHigh", "t", p->memory_high);
		if (r < 0)
			return r;
	}
	/* For the build's telemetry (scope_read_accounting()); on cgroup v2 the same
	 * enables the controllers that give the scope cpu.stat's split, memory.peak, io.stat. */
	if (accounting) {
		r = sd_bus_message_append(m, "(sv)(sv)(sv)", "CPUAccounting", "b", 1,
					  "MemoryAccounting", "b", 1, "IOAccounting", "b", 1);
		if (r < 0)
			return r;
	}
	r = sd_bus_message_close_container(m);
	if (r < 0)
		return r;
	/* No auxiliary units. */
	r = sd_bus_message_append(m, "a(sa(sv))", 0);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

/*
 * A manager without PIDFDs (systemd < 253) answers "Cannot set property PIDFDs,
 * or unknown property." as PropertyReadOnly (252 here); newer code paths use
 * UnknownProperty; be lenient with InvalidArgs that names the property.
 */
static bool pidfds_rejected(const sd_bus_error *e)
{
	if (sd_bus_error_has_name(e, SD_BUS_ERROR_PROPERTY_READ_ONLY) ||
	    sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_PROPERTY))
		return true;
	return sd_bus_error_has_name(e, SD_BUS_ERROR_INVALID_ARGS) && e->message &&
	       strstr(e->message, "PIDFDs");
}

/*
 * The accounting properties are as old as transient units; a manager that refuses one
 * anyway (a stripped-down or foreign implementation of the interface) still gets a scope,
 * without them: telemetry is never worth a failed build.
 */
static bool accounting_rejected(const sd_bus_error *e)
{
	if (!sd_bus_error_has_name(e, SD_BUS_ERROR_PROPERTY_READ_ONLY) &&
	    !sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_PROPERTY) &&
	    !sd_bus_error_has_name(e, SD_BUS_ERROR_INVALID_ARGS))
		return false;
	return e->message && strstr(e->message, "Accounting");
}

/* ---------------------------------------------------------------- pipelined calls */

/*
 * A call sent with sd_bus_call_method_async() (or an AddMatch's install), so that
 * several go out before we wait: its answer once it came. The bus daemon and the
 * manager answer each connection's calls in order, so waiting for all of a batch costs
 * one round trip.
 */
struct pending {
	sd_bus_slot *slot;
	bool done;
	int r;                 /* 0, or the reply's error as negative errno */
	sd_bus_error error;    /* the error reply's name and message, when r < 0 */
	sd_bus_message *reply; /* the method return, when r == 0 */
};
#define PENDING_INIT ((struct pending){ .error = SD_BUS_ERROR_NULL })

static void pending_done(struct pending *p)
{
	p->slot = sd_bus_slot_unref(p->slot);
	sd_bus_error_free(&p->error);
	p->reply = sd_bus_message_unref(p->reply);
}

static void pending_record(struct pending *p, sd_bus_message *m)
{
	const sd_bus_error *e = sd_bus_message_get_error(m);

	p->done = true;
	if (e) {
		/* The errno sd_bus_call() would have returned for it. */
		p->r = -sd_bus_message_get_errno(m);
		if (p->r == 0)
			p->r = -EIO;
		(void) sd_bus_error_copy(&p->error, e);
	} else
		p->reply = sd_bus_message_ref(m);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	pending_record(userdata, m);
	return 0;
}

/*
 * An AddMatch's install answer; userdata is the match's own, which starts with its
 * struct pending. Returning 0 keeps sd-bus from closing the connection on a refused match.
 */
static int on_match_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	pending_record(userdata, m);
	return 0;
}

/* Sends a call to the manager object path; its answer goes into *p. */
#define call_async(bus, p, path, iface, member, types, ...)                                  \
	sd_bus_call_method_async(bus, &(p)->slot, SD_DEST, path, iface, member, on_reply, p,    \
				 types, ##__VA_ARGS__)

/* Sends Properties.Get(iface, prop) to path; the answer goes into *p. */
static int get_async(sd_bus *bus, struct pending *p, const char *path, const char *iface,
		     const char *prop)
{
	return call_async(bus, p, path, "org.freedesktop.DBus.Properties", "Get", "ss", iface,
			  prop);
}

/* Runs the bus until cond(userdata) holds or deadline (CLOCK_MONOTONIC µs) passes. */
static int bus_run_until(sd_bus *bus, bool (*cond)(void *), void *userdata, uint64_t deadline)
{
	int r;

	for (;;) {
		uint64_t n;

		if (cond(userdata))
			return 0;
		r = sd_bus_process(bus, NULL);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		n = now_usec();
		if (n >= deadline)
			return -ETIME;
		r = sd_bus_wait(bus, deadline - n);
		if (r < 0 && r != -EINTR)
			return r;
	}
}

struct pending_batch {
	struct pending *const *p;
	size_t n;
};

static bool batch_done(void *userdata)
{
	const struct pending_batch *b = userdata;

	for (size_t i = 0; i < b->n; i++)
		if (!b->p[i]->done)
			return false;
	return true;
}

/*
 * Until every call of ps[] has its answer. sd-bus answers a call that times out (its
 * 25 s default) or whose connection ends with an error of its own, so the bound here is
 * only a backstop. Negative errno when the bus fails first.
 */
static int pending_wait(sd_bus *bus, struct pending *const *ps, size_t n)
{
	struct pending_batch b = { ps, n };

	return bus_run_until(bus, batch_done, &b, now_usec() + SCOPE_JOB_TIMEOUT_USEC);
}

/* ---------------------------------------------------------------- start */

struct job_wait {
	struct pending install; /* first: the AddMatch's answer (on_match_installed) */
	const char *job;        /* the path we wait for; NULL until StartTransientUnit answered */
	char *result;           /* its result, once seen */
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct job_wait *w = userdata;
	const char *path, *unit, *result;
	uint32_t id;

	if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
		return 0;
	if (w->job && streq(path, w->job) && !w->result) {
		w->result = strdup(result);
		if (!w->result)
			return -ENOMEM;
	}
	return 0;
}

static bool job_seen(void *userdata)
{
	return ((struct job_wait *) userdata)->result != NULL;
}

static const char *manager_sender(sd_bus *bus)
{
	/* A direct connection to the private socket has no sender names. */
	return sd_bus_is_bus_client(bus) > 0 ? SD_DEST : NULL;
}

unsigned scope_version_parse(const char *s)
{
	unsigned long v;
	char *end;

	if (!s)
		return 0;
	if (*s == 'v')
		s++;
	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || v > 100000)
		return 0;
	return (unsigned) v;
}

/* The Version property's number from a Get reply; 0 for anything else. */
static unsigned version_from(const struct pending *p)
{
	const char *s = NULL;

	if (p->r < 0 || !p->reply)
		return 0;
	if (sd_bus_message_enter_container(p->reply, 'v', "s") <= 0 ||
	    sd_bus_message_read(p->reply, "s", &s) < 0)
		return 0;
	return scope_version_parse(s);
}

/*
 * Before the start call (DESIGN §4 step 2): the JobRemoved match and Subscribe, so the
 * job's end cannot slip by between the reply and the match, and the manager's Version,
 * which says whether to try PIDFDs. Sent at once; *ret_version is 0 when unknown.
 */
static int start_prelude(sd_bus *bus, struct job_wait *w, sd_bus_slot **ret_match,
			 unsigned *ret_version, char **ret_why)
{
	struct pending subscribe = PENDING_INIT, version = PENDING_INIT;
	struct pending *const batch[] = { &w->install, &subscribe, &version };
	int r;

	/* A direct connection sends no AddMatch: nothing to wait for. */
	w->install.done = sd_bus_is_bus_client(bus) <= 0;
	r = sd_bus_match_signal_async(bus, ret_match, manager_sender(bus), SD_PATH, SD_MANAGER,
				      "JobRemoved", on_job_removed, on_match_installed, w);
	if (r < 0) {
		set_why(ret_why, why_from_error("cannot watch the manager's jobs", NULL, r));
		return r;
	}
	r = call_async(bus, &subscribe, SD_PATH, SD_MANAGER, "Subscribe", "");
	if (r >= 0)
		r = get_async(bus, &version, SD_PATH, SD_MANAGER, "Version");
	if (r >= 0)
		r = pending_wait(bus, batch, ELEMENTSOF(batch));
	if (r >= 0 && w->install.r < 0) {
		r = w->install.r;
		set_why(ret_why, why_from_error("cannot watch the manager's jobs", &w->install.error, r));
	} else if (r < 0 || subscribe.r < 0) {
		if (r >= 0)
			r = subscribe.r;
		set_why(ret_why, why_from_error("no systemd manager answered", &subscribe.error, r));
		log_debug_errno(r, "Subscribe: %m");
		r = -EHOSTDOWN;
	} else {
		*ret_version = version_from(&version);
		if (version.r < 0)
			log_debug("the manager has no Version: %s", strempty(version.error.message));
	}
	pending_done(&subscribe);
	pending_done(&version);
	return r;
}

/*
 * PIDFDs only where the manager takes them: systemd 253 added the property. A manager
 * of unknown version (no Version, or not a number) is tried with PIDFDs; its refusal
 * is retried with PIDs (pidfds_rejected()).
 */
static bool want_pidfd(const struct kts_scope_params *p, unsigned version)
{
	return p->pidfd >= 0 && (version == 0 || version >= 253);
}

int scope_start(struct sd_bus *bus, const struct kts_scope_params *p, unsigned *ret_version,
		char **ret_why)
{
	_cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_bus_message_ sd_bus_message *reply = NULL;
	_cleanup_bus_slot_ sd_bus_slot *slot = NULL;
	struct job_wait w = { .install = PENDING_INIT };
	_cleanup_free_ char *result = NULL;
	const char *job;
	unsigned version = 0;
	bool use_pidfd, accounting = p->accounting;
	uint64_t timeout = p->job_timeout_usec ? p->job_timeout_usec : SCOPE_JOB_TIMEOUT_USEC;
	int r;

	r = start_prelude(bus, &w, &slot, &version, ret_why);
	pending_done(&w.install);
	if (r < 0)
		return r;
	if (ret_version)
		*ret_version = version;
	use_pidfd = want_pidfd(p, version);
	log_debug("manager version %u: the process goes in as %s", version,
		  use_pidfd ? "PIDFDs" : "PIDs");

	for (;;) {
		_cleanup_bus_message_ sd_bus_message *m = NULL;

		r = build_start_message(bus, p, use_pidfd, accounting, &m);
		if (r < 0) {
			set_why(ret_why, why_from_error("cannot build the request", NULL, r));
			return r;
		}
		sd_bus_error_free(&error);
		r = sd_bus_call(bus, m, 0, &error, &reply);
		if (r >= 0)
			break;
		if (use_pidfd && pidfds_rejected(&error)) {
			log_debug("manager does not take PIDFDs (%s), retrying with PIDs",
				  error.message ? error.message : error.name);
			use_pidfd = false;
			continue;
		}
		if (accounting && accounting_rejected(&error)) {
			log_debug("manager refuses the accounting properties (%s), retrying without",
				  error.message);
			accounting = false;
			continue;
		}
		if (sd_bus_error_has_name(&error, "org.freedesktop.systemd1.UnitExists")) {
			set_why(ret_why, why_from_error("the unit name is taken", &error, r));
			return -EEXIST;
		}
		set_why(ret_why, why_from_error("the manager refused the scope", &error, r));
		return r;
	}
	r = sd_bus_message_read(reply, "o", &job);
	if (r < 0) {
		set_why(ret_why, why_from_error("malformed StartTransientUnit reply", NULL, r));
		goto fail;
	}
	w.job = job;
	log_debug("scope %s: job %s queued (%s)", p->name, job, use_pidfd ? "PIDFDs" : "PIDs");

	r = bus_run_until(bus, job_seen, &w, now_usec() + timeout);
	result = TAKE_PTR(w.result);
	if (r < 0) {
		char *why = NULL;

		if (r == -ETIME)
			r = asprintf(&why, "the start job of %s did not finish within %" PRIu64 " s",
				     p->name, timeout / 1000000) < 0 ? -ENOMEM : -ETIME;
		else
			why = why_from_error("lost the manager while waiting for the job", NULL, r);
		set_why(ret_why, why);
		goto fail;
	}
	r = scope_job_result_to_errno(result);
	if (r < 0) {
		char *why = NULL;

		if (asprintf(&why, "the start job of %s finished with result '%s'", p->name,
			     result) < 0)
			why = NULL;
		set_why(ret_why, why);
		goto fail;
	}
	return 0;

fail:
	/* The unit exists (and is referenced by us): do not leave it behind. */
	(void) scope_stop(bus, p->name, 0);
	return r;
}

/* ---------------------------------------------------------------- verify */

void scope_state_done(struct kts_scope_state *s)
{
	free(s->control_group);
	s->control_group = NULL;
	cpuset_done(&s->effective_cpus);
	cpuset_done(&s->effective_mems);
}

enum kts_enforcement scope_classify(const struct kts_cpuset *plan_cpus,
				    const struct kts_cpuset *plan_mems,
				    const struct kts_scope_state *s)
{
	const struct kts_cpuset *eff[2] = { &s->effective_cpus, &s->effective_mems };
	const struct kts_cpuset *plan[2] = { plan_cpus, plan_mems };
	bool narrowed = false;

	for (size_t i = 0; i < 2; i++) {
		if (cpuset_equal(eff[i], plan[i]))
			continue;
		/* Empty: no cpuset controller; escaping the plan: the cgroup does not apply it. */
		if (cpuset_empty(eff[i]) || !cpuset_is_subset(eff[i], plan[i]))
			return KTS_ENFORCE_AFFINITY;
		narrowed = true;
	}
	return narrowed ? KTS_ENFORCE_NARROWED : KTS_ENFORCE_CGROUP;
}

/*
 * A debug line for a failed call: what was done, then the manager's message, or the
 * errno's text when its error reply has none (a reply may carry only a name). "%m" is
 * only expanded in the format string, never as an argument. Returns r.
 */
#define log_debug_bus_error(r, error, fmt, ...)                                             \
	((error)->message ? log_debug_errno(r, fmt ": %s", __VA_ARGS__, (error)->message)     \
			  : log_debug_errno(r, fmt ": %m", __VA_ARGS__))

/* A Get reply's "v" of type "s" → *ret (caller frees). */
static int read_string_variant(sd_bus_message *reply, char **ret)
{
	const char *v;
	int r;

	r = sd_bus_message_enter_container(reply, 'v', "s");
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "s", &v);
	if (r < 0)
		return r;
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

/* A Get reply's "v" of type "ay" (systemd's CPU/node bitmask) → *ret. */
static int read_bitmask_variant(sd_bus_message *reply, struct kts_cpuset *ret)
{
	const void *buf = NULL;
	size_t len = 0;
	int r;

	r = sd_bus_message_enter_container(reply, 'v', "ay");
	if (r < 0)
		return r;
	r = sd_bus_message_read_array(reply, 'y', &buf, &len);
	if (r < 0)
		return r;
	return cpuset_from_bitmask(buf, len, ret);
}

/* The three reads of scope_verify(), answered; the first failure in their order. */
static int verify_collect(struct pending g[3], const char *name, const char *path,
			  struct kts_scope_state *s)
{
	int r;

	if (g[0].r < 0)
		return log_debug_bus_error(g[0].r, &g[0].error, "reading ControlGroup of %s", name);
	r = read_string_variant(g[0].reply, &s->control_group);
	if (r < 0)
		return r;
	if (g[1].r < 0)
		return log_debug_bus_error(g[1].r, &g[1].error, "reading %s of %s", "EffectiveCPUs",
					   path);
	r = read_bitmask_variant(g[1].reply, &s->effective_cpus);
	if (r < 0)
		return r;
	if (g[2].r < 0)
		return log_debug_bus_error(g[2].r, &g[2].error, "reading %s of %s",
					   "EffectiveMemoryNodes", path);
	return read_bitmask_variant(g[2].reply, &s->effective_mems);
}

int scope_verify(struct sd_bus *bus, const char *name, const struct kts_cpuset *plan_cpus,
		 const struct kts_cpuset *plan_mems, struct kts_scope_state *ret_state,
		 enum kts_enforcement *ret_enforcement)
{
	static const char *const props[] = { "ControlGroup", "EffectiveCPUs",
					     "EffectiveMemoryNodes" };
	struct pending g[3] = { PENDING_INIT, PENDING_INIT, PENDING_INIT };
	struct pending *const batch[] = { &g[0], &g[1], &g[2] };
	struct kts_scope_state s = { 0 };
	_cleanup_free_ char *path = NULL;
	int r;

	r = unit_path(name, &path);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(props) && r >= 0; i++)
		r = get_async(bus, &g[i], path, "org.freedesktop.systemd1.Scope", props[i]);
	if (r >= 0)
		r = pending_wait(bus, batch, ELEMENTSOF(batch));
	if (r < 0)
		log_debug_errno(r, "reading the cgroup of %s: %m", name);
	else
		r = verify_collect(g, name, path, &s);
	for (size_t i = 0; i < ELEMENTSOF(g); i++)
		pending_done(&g[i]);
	if (r < 0) {
		scope_state_done(&s);
		return r;
	}
	*ret_enforcement = scope_classify(plan_cpus, plan_mems, &s);
	*ret_state = s;
	return 0;
}

/* ---------------------------------------------------------------- accounting */

/* A "t" property read with get_async(); TELEMETRY_ABSENT when the unit has none. */
static uint64_t u64_from(const struct pending *p, const char *prop, const char *path)
{
	uint64_t v = TELEMETRY_ABSENT;

	if (p->r < 0) {
		/* MemoryPeak: systemd >= 255 (UnknownProperty before) */
		(void) log_debug_bus_error(p->r, &p->error, "reading %s of %s", prop, path);
		return TELEMETRY_ABSENT;
	}
	if (sd_bus_message_enter_container(p->reply, 'v', "t") <= 0 ||
	    sd_bus_message_read(p->reply, "t", &v) < 0)
		return TELEMETRY_ABSENT;
	/* UINT64_MAX is the manager's own "[not set]": no controller, no accounting. */
	return v;
}

int scope_read_accounting(struct sd_bus *bus, const char *unit, struct kts_scope_accounting *ret)
{
	static const char *const props[] = { "CPUUsageNSec", "MemoryPeak", "IOReadBytes",
					     "IOWriteBytes" };
	_cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_bus_message_ sd_bus_message *reply = NULL;
	struct pending g[4] = { PENDING_INIT, PENDING_INIT, PENDING_INIT, PENDING_INIT };
	struct pending *const batch[] = { &g[0], &g[1], &g[2], &g[3] };
	const char *path;
	int r;

	/* GetUnit, not the encoded path: that would load a "not-found" unit of the name. */
	r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &error, &reply, "s",
			       unit);
	if (r < 0)
		return log_debug_bus_error(r, &error, "GetUnit %s for its accounting", unit);
	r = sd_bus_message_read(reply, "o", &path);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(props) && r >= 0; i++)
		r = get_async(bus, &g[i], path, "org.freedesktop.systemd1.Scope", props[i]);
	if (r >= 0)
		r = pending_wait(bus, batch, ELEMENTSOF(batch));
	if (r >= 0)
		*ret = (struct kts_scope_accounting){
			.cpu_usage_nsec = u64_from(&g[0], props[0], path),
			.memory_peak = u64_from(&g[1], props[1], path),
			.io_read_bytes = u64_from(&g[2], props[2], path),
			.io_write_bytes = u64_from(&g[3], props[3], path),
		};
	else
		log_debug_errno(r, "reading the accounting of %s: %m", unit);
	for (size_t i = 0; i < ELEMENTSOF(g); i++)
		pending_done(&g[i]);
	return r < 0 ? r : 0;
}

/* ---------------------------------------------------------------- stop */

struct removal_wait {
	struct pending install; /* first: the AddMatch's answer (on_match_installed) */
	const char *name;
	bool removed;
};

static int on_unit_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct removal_wait *w = userdata;
	const char *id, *path;

	if (sd_bus_message_read(m, "so", &id, &path) >= 0 && streq(id, w->name))
		w->removed = true;
	return 0;
}

static bool unit_removed(void *userdata)
{
	return ((struct removal_wait *) userdata)->removed;
}

/* 1 when the manager still knows the unit, 0 when not, negative on bus failure. */
static int unit_loaded(sd_bus *bus, const char *name)
{
	_cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &error, NULL, "s",
			       name);
	if (r >= 0)
		return 1;
	if (sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit"))
		return 0;
	return r;
}

/*
 * The UnitRemoved match, StopUnit and (on a message bus) UnrefUnit, sent at once and
 * answered: 0 when the unit is already gone (NoSuchUnit), 1 when there is a removal to
 * wait for, negative errno when the match could not be added.
 */
static int stop_send(sd_bus *bus, struct removal_wait *w, sd_bus_slot **ret_match)
{
	struct pending stop = PENDING_INIT, unref = PENDING_INIT;
	struct pending *const batch[] = { &w->install, &stop, &unref };
	const char *name = w->name;
	int r;

	/* Match first, so a removal between our calls and the wait is not missed. */
	w->install.done = sd_bus_is_bus_client(bus) <= 0;
	r = sd_bus_match_signal_async(bus, ret_match, manager_sender(bus), SD_PATH, SD_MANAGER,
				      "UnitRemoved", on_unit_removed, on_match_installed, w);
	if (r < 0)
		return r;
	r = call_async(bus, &stop, SD_PATH, SD_MANAGER, "StopUnit", "ss", name, "fail");
	/* Our AddRef keeps an inactive unit loaded; let CollectMode= collect it. */
	if (sd_bus_is_bus_client(bus) > 0 && r >= 0)
		r = call_async(bus, &unref, SD_PATH, SD_MANAGER, "UnrefUnit", "s", name);
	else
		unref.done = true;
	if (r >= 0)
		r = pending_wait(bus, batch, ELEMENTSOF(batch));
	if (r >= 0 && w->install.r < 0)
		r = w->install.r;
	if (r >= 0) {
		if (sd_bus_error_has_name(&stop.error, "org.freedesktop.systemd1.NoSuchUnit"))
			r = 0;
		else {
			if (stop.r < 0)
				log_debug("StopUnit %s: %s", name,
					  stop.error.message ? stop.error.message : strerror(-stop.r));
			if (unref.r < 0)
				log_debug("UnrefUnit %s: %s", name,
					  unref.error.message ? unref.error.message : strerror(-unref.r));
			r = 1;
		}
	}
	pending_done(&stop);
	pending_done(&unref);
	pending_done(&w->install);
	return r;
}

int scope_stop(struct sd_bus *bus, const char *name, uint64_t timeout_usec)
{
	_cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_bus_slot_ sd_bus_slot *slot = NULL;
	struct removal_wait w = { .install = PENDING_INIT, .name = name };
	uint64_t start = now_usec(), timeout = timeout_usec ? timeout_usec : SCOPE_STOP_TIMEOUT_USEC;
	bool killed = false;
	int r;

	r = stop_send(bus, &w, &slot);
	if (r <= 0)
		return r;
	for (;;) {
		uint64_t n = now_usec(), slice_end;

		/* Wake on UnitRemoved; ask now and then in case the signal is not ours to see. */
		slice_end = MIN(n + 100000ULL, start + timeout);
		r = bus_run_until(bus, unit_removed, &w, slice_end);
		if (w.removed)
			return 0;
		if (r < 0 && r != -ETIME)
			return r;
		r = unit_loaded(bus, name);
		if (r <= 0)
			return r;
		n = now_usec();
		if (n - start >= timeout)
			return -ETIME;
		/* Something ignores SIGTERM for longer than we can wait: end it. */
		if (!killed && n - start >= timeout / 2) {
			sd_bus_error_free(&error);
			r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "KillUnit", &error,
					       NULL, "ssi", name, "all", (int32_t) SIGKILL);
			log_debug("KillUnit %s SIGKILL: %s", name,
				  r < 0 ? strempty(error.message) : "sent");
			killed = true;
		}
	}
}
