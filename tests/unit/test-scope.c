/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * scope.c against an in-process fake systemd manager: a server-mode sd_bus on
 * one end of a socketpair, run by a thread, that records every call it gets and
 * answers like systemd 252 does (PropertyReadOnly for PIDFDs, UnitExists,
 * JobRemoved after the reply, Version). This pins the wire format of
 * StartTransientUnit, the Version rule for PIDFDs, the PIDFDs → PIDs fallback, what
 * goes out before the start and the job-result mapping; the real manager is
 * exercised by tests/integration/run.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>

#include "cpuset.h"
#include "log.h"
#include "macro.h"
#include "scope.h"
#include "test-skip.h"

#define MAX_PROPS 16
#define MAX_CALLS 64
#define UNIT "ktscope-run-1-abc.scope"

struct prop {
	char name[32];
	char sig[8];
	uint8_t bytes[16]; /* ay */
	size_t n_bytes;
	uint64_t num;      /* u, t, b; for h: the pid the pidfd refers to */
	char str[64];      /* s */
	size_t n_elems;    /* elements of au/ah */
};

struct start_call {
	char name[64];
	char mode[16];
	struct prop props[MAX_PROPS];
	size_t n_props;
	size_t n_aux;
};

/* How the fake behaves and what it saw. Guarded by lock. */
struct fake {
	pthread_mutex_t lock;
	/* behaviour */
	bool bus_client;        /* answer Hello, as a bus daemon would */
	bool reject_pidfds;     /* systemd < 253 */
	bool reject_accounting; /* a manager that refuses CPUAccounting= and the others */
	bool unit_exists;       /* StartTransientUnit → UnitExists */
	bool no_manager;        /* Subscribe → ServiceUnknown */
	bool no_job_removed;    /* never finish the job */
	bool silent_removal;    /* StopUnit unloads the unit without a UnitRemoved signal */
	const char *job_result; /* JobRemoved result; NULL = "done" */
	const char *bare_error_on; /* a Get of this property: AccessDenied, without a message */
	const char *version;    /* Manager's Version property; NULL: it has none (UnknownProperty) */
	uint8_t eff_cpus[4], eff_mems[4];
	size_t n_eff_cpus, n_eff_mems;
	/* record */
	char calls[MAX_CALLS][32];
	size_t n_calls;
	struct start_call starts[4];
	size_t n_starts;
	bool unit_loaded;
	char kill_whom[16];
	int kill_signal;
	/* plumbing */
	sd_bus *server;
	sd_bus *client;
	pthread_t thread;
	bool running;
	atomic_bool stop;
};

/* ------------------------------------------------------------------ fake manager */

static void record_call(struct fake *f, const char *member)
{
	if (f->n_calls < MAX_CALLS)
		snprintf(f->calls[f->n_calls++], sizeof(f->calls[0]), "%s", member);
}

/* The pid a pidfd refers to, from /proc/self/fdinfo ("Pid:\tN"). */
static long pidfd_pid(int fd)
{
	char path[64], line[128];
	long pid = -1;
	FILE *fi;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	fi = fopen(path, "re");
	if (!fi)
		return -1;
	while (fgets(line, sizeof(line), fi))
		if (sscanf(line, "Pid:\t%ld", &pid) == 1)
			break;
	fclose(fi);
	return pid;
}

static int read_prop(sd_bus_message *m, struct prop *p)
{
	const char *name, *contents;
	char type;
	int r;

	r = sd_bus_message_enter_container(m, 'r', "sv");
	if (r <= 0)
		return r;
	r = sd_bus_message_read(m, "s", &name);
	if (r < 0)
		return r;
	snprintf(p->name, sizeof(p->name), "%s", name);
	r = sd_bus_message_peek_type(m, &type, &contents);
	if (r < 0)
		return r;
	snprintf(p->sig, sizeof(p->sig), "%s", contents);
	r = sd_bus_message_enter_container(m, 'v', contents);
	if (r < 0)
		return r;
	if (streq(contents, "ay")) {
		const void *buf;

		r = sd_bus_message_read_array(m, 'y', &buf, &p->n_bytes);
		if (r < 0 || p->n_bytes > sizeof(p->bytes))
			return -EBADMSG;
		memcpy(p->bytes, buf, p->n_bytes);
	} else if (streq(contents, "au") || streq(contents, "ah")) {
		r = sd_bus_message_enter_container(m, 'a', contents + 1);
		if (r < 0)
			return r;
		for (;;) {
			if (contents[1] == 'u') {
				uint32_t u;

				r = sd_bus_message_read(m, "u", &u);
				if (r > 0)
					p->num = u;
			} else {
				int fd;

				r = sd_bus_message_read(m, "h", &fd);
				if (r > 0)
					p->num = (uint64_t) pidfd_pid(fd);
			}
			if (r < 0)
				return r;
			if (r == 0)
				break;
			p->n_elems++;
		}
		r = sd_bus_message_exit_container(m);
	} else if (streq(contents, "s")) {
		const char *s;

		r = sd_bus_message_read(m, "s", &s);
		if (r >= 0)
			snprintf(p->str, sizeof(p->str), "%s", s);
	} else if (streq(contents, "b")) {
		int b;

		r = sd_bus_message_read(m, "b", &b);
		p->num = (uint64_t) b;
	} else if (streq(contents, "t")) {
		r = sd_bus_message_read(m, "t", &p->num);
	} else
		r = sd_bus_message_skip(m, contents);
	if (r < 0)
		return r;
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	r = sd_bus_message_exit_container(m);
	return r < 0 ? r : 1;
}

static int handle_start(struct fake *f, sd_bus_message *m)
{
	struct start_call *c = &f->starts[f->n_starts < 4 ? f->n_starts : 3];
	const char *name, *mode;
	bool has_pidfds = false, has_accounting = false;
	int r;

	memset(c, 0, sizeof(*c));
	if (f->n_starts < 4)
		f->n_starts++;
	r = sd_bus_message_read(m, "ss", &name, &mode);
	if (r < 0)
		return r;
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->mode, sizeof(c->mode), "%s", mode);
	r = sd_bus_message_enter_container(m, 'a', "(sv)");
	if (r < 0)
		return r;
	while (c->n_props < MAX_PROPS && (r = read_prop(m, &c->props[c->n_props])) > 0) {
		if (streq(c->props[c->n_props].name, "PIDFDs"))
			has_pidfds = true;
		if (strstr(c->props[c->n_props].name, "Accounting"))
			has_accounting = true;
		c->n_props++;
	}
	if (r < 0)
		return r;
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(m, 'a', "(sa(sv))");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_skip(m, "(sa(sv))")) > 0)
		c->n_aux++;
	(void) sd_bus_message_exit_container(m);

	if (f->reject_pidfds && has_pidfds)
		return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_PROPERTY_READ_ONLY,
						  "Cannot set property PIDFDs, or unknown property.");
	if (f->reject_accounting && has_accounting)
		return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_PROPERTY_READ_ONLY,
						  "Cannot set property CPUAccounting, or unknown "
						  "property.");
	if (f->unit_exists)
		return sd_bus_reply_method_errorf(m, "org.freedesktop.systemd1.UnitExists",
						  "Unit %s already exists.", name);
	f->unit_loaded = true;
	r = sd_bus_reply_method_return(m, "o", "/org/freedesktop/systemd1/job/7");
	if (r < 0 || f->no_job_removed)
		return r;
	/* Someone else's job first: the waiter must match on its own job path. */
	(void) sd_bus_emit_signal(f->server, "/org/freedesktop/systemd1",
				  "org.freedesktop.systemd1.Manager", "JobRemoved", "uoss", 6,
				  "/org/freedesktop/systemd1/job/6", "other.service", "failed");
	return sd_bus_emit_signal(f->server, "/org/freedesktop/systemd1",
				  "org.freedesktop.systemd1.Manager", "JobRemoved", "uoss", 7,
				  "/org/freedesktop/systemd1/job/7", name,
				  f->job_result ? f->job_result : "done");
}

static int reply_property(struct fake *f, sd_bus_message *m)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const char *iface, *prop;
	int r;

	r = sd_bus_message_read(m, "ss", &iface, &prop);
	if (r < 0)
		return r;
	/* "Get:Prop" in the call record, for the order of what was asked. */
	if (f->n_calls > 0 && streq(f->calls[f->n_calls - 1], "Get"))
		snprintf(f->calls[f->n_calls - 1], sizeof(f->calls[0]), "Get:%s", prop);
	if (streq(iface, "org.freedesktop.systemd1.Manager")) {
		if (streq(prop, "Version") && f->version)
			return sd_bus_reply_method_return(m, "v", "s", f->version);
		return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_PROPERTY, "no %s", prop);
	}
	if (!streq(iface, "org.freedesktop.systemd1.Scope"))
		return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_INTERFACE, "no %s", iface);
	/* An error reply is a name and an optional message: here, the name alone. */
	if (f->bare_error_on && streq(prop, f->bare_error_on))
		return sd_bus_reply_method_error(
			m, &SD_BUS_ERROR_MAKE_CONST(SD_BUS_ERROR_ACCESS_DENIED, NULL));
	if (streq(prop, "ControlGroup"))
		return sd_bus_reply_method_return(m, "v", "s", "/ktscope.slice/" UNIT);
	/* Accounting as 252 answers it: a value, "[not set]" (UINT64_MAX), no MemoryPeak. */
	if (streq(prop, "CPUUsageNSec"))
		return sd_bus_reply_method_return(m, "v", "t", (uint64_t) 2500000000);
	if (streq(prop, "IOReadBytes"))
		return sd_bus_reply_method_return(m, "v", "t", UINT64_MAX);
	if (streq(prop, "IOWriteBytes"))
		return sd_bus_reply_method_return(m, "v", "t", (uint64_t) 4096);
	if (!streq(prop, "EffectiveCPUs") && !streq(prop, "EffectiveMemoryNodes"))
		return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_PROPERTY, "no %s", prop);
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'v', "ay");
	if (r >= 0)
		r = streq(prop, "EffectiveCPUs")
			    ? sd_bus_message_append_array(reply, 'y', f->eff_cpus, f->n_eff_cpus)
			    : sd_bus_message_append_array(reply, 'y', f->eff_mems, f->n_eff_mems);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct fake *f = userdata;
	const char *member = sd_bus_message_get_member(m);
	const char *iface = sd_bus_message_get_interface(m);
	const char *name;
	int r = 0;

	if (!sd_bus_message_is_method_call(m, NULL, NULL) || !member)
		return 0;
	pthread_mutex_lock(&f->lock);
	record_call(f, member);
	if (iface && streq(iface, "org.freedesktop.DBus")) {
		r = streq(member, "Hello") ? sd_bus_reply_method_return(m, "s", ":1.42")
					   : sd_bus_reply_method_return(m, NULL);
	} else if (iface && streq(iface, "org.freedesktop.DBus.Properties") &&
		   streq(member, "Get")) {
		r = reply_property(f, m);
	} else if (streq(member, "Subscribe")) {
		r = f->no_manager ? sd_bus_reply_method_errorf(m, SD_BUS_ERROR_SERVICE_UNKNOWN,
							       "The name org.freedesktop.systemd1 "
							       "was not provided by any .service files")
				  : sd_bus_reply_method_return(m, NULL);
	} else if (streq(member, "StartTransientUnit")) {
		r = handle_start(f, m);
	} else if (streq(member, "StopUnit") || streq(member, "GetUnit") ||
		   streq(member, "UnrefUnit") || streq(member, "KillUnit")) {
		r = sd_bus_message_read(m, "s", &name);
		if (r < 0) {
		} else if (!f->unit_loaded) {
			r = sd_bus_reply_method_errorf(m, "org.freedesktop.systemd1.NoSuchUnit",
						       "Unit %s not loaded.", name);
		} else if (streq(member, "StopUnit")) {
			/* An empty scope stops at once and is collected. */
			f->unit_loaded = false;
			r = sd_bus_reply_method_return(m, "o", "/org/freedesktop/systemd1/job/8");
			if (r >= 0 && !f->silent_removal)
				r = sd_bus_emit_signal(f->server, "/org/freedesktop/systemd1",
						       "org.freedesktop.systemd1.Manager",
						       "UnitRemoved", "so", name,
						       "/org/freedesktop/systemd1/unit/x");
		} else if (streq(member, "KillUnit")) {
			const char *whom;
			int32_t sig;

			r = sd_bus_message_read(m, "si", &whom, &sig);
			if (r >= 0) {
				snprintf(f->kill_whom, sizeof(f->kill_whom), "%s", whom);
				f->kill_signal = sig;
				r = sd_bus_reply_method_return(m, NULL);
			}
		} else if (streq(member, "GetUnit")) {
			r = sd_bus_reply_method_return(m, "o", "/org/freedesktop/systemd1/unit/x");
		} else
			r = sd_bus_reply_method_return(m, NULL);
	} else
		r = sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_METHOD, "no %s", member);
	pthread_mutex_unlock(&f->lock);
	return r < 0 ? r : 1;
}

static void *server_main(void *userdata)
{
	struct fake *f = userdata;

	while (!atomic_load(&f->stop)) {
		int r = sd_bus_process(f->server, NULL);

		if (r < 0)
			break; /* the client hung up */
		if (r == 0)
			(void) sd_bus_wait(f->server, 20000);
	}
	return NULL;
}

static void fake_start(struct fake *f)
{
	sd_id128_t id;
	int fds[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
	assert_int_equal(sd_id128_randomize(&id), 0);

	assert_int_equal(sd_bus_new(&f->server), 0);
	assert_int_equal(sd_bus_set_fd(f->server, fds[0], fds[0]), 0);
	assert_int_equal(sd_bus_set_server(f->server, 1, id), 0);
	assert_true(sd_bus_add_filter(f->server, NULL, on_message, f) >= 0);
	/* Through a bus daemon, the manager's messages carry its unique name. */
	if (f->bus_client)
		assert_true(sd_bus_set_sender(f->server, ":1.7") >= 0);
	assert_int_equal(sd_bus_start(f->server), 0);

	assert_int_equal(sd_bus_new(&f->client), 0);
	assert_int_equal(sd_bus_set_fd(f->client, fds[1], fds[1]), 0);
	if (f->bus_client)
		assert_int_equal(sd_bus_set_bus_client(f->client, 1), 0);

	atomic_store(&f->stop, false);
	assert_int_equal(pthread_create(&f->thread, NULL, server_main, f), 0);
	f->running = true;
	assert_true(sd_bus_start(f->client) >= 0);
}

static void fake_stop(struct fake *f)
{
	/* The client first, while the server still reads what it flushes (RemoveMatch). */
	if (f->running)
		sd_bus_flush_close_unref(f->client);
	else
		sd_bus_close_unref(f->client);
	f->client = NULL;
	if (f->running) {
		atomic_store(&f->stop, true);
		(void) pthread_join(f->thread, NULL);
	}
	sd_bus_close_unref(f->server);
	f->server = NULL;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	pthread_mutex_init(&f->lock, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	if (f->server)
		fake_stop(f);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

static bool called(struct fake *f, const char *member)
{
	bool seen = false;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n_calls; i++)
		seen = seen || streq(f->calls[i], member);
	pthread_mutex_unlock(&f->lock);
	return seen;
}

/* The first call of member at or after index from; -1 when none. */
static ssize_t call_index_from(struct fake *f, const char *member, ssize_t from)
{
	ssize_t idx = -1;

	pthread_mutex_lock(&f->lock);
	for (size_t i = (size_t) MAX(from, 0); i < f->n_calls && idx < 0; i++)
		if (streq(f->calls[i], member))
			idx = (ssize_t) i;
	pthread_mutex_unlock(&f->lock);
	return idx;
}

static ssize_t call_index(struct fake *f, const char *member)
{
	return call_index_from(f, member, 0);
}

static const struct prop *find_prop(const struct start_call *c, const char *name, size_t *ret_idx)
{
	for (size_t i = 0; i < c->n_props; i++)
		if (streq(c->props[i].name, name)) {
			if (ret_idx)
				*ret_idx = i;
			return &c->props[i];
		}
	return NULL;
}

/* Plan cpus {0-3, 9} (bytes 0f 02), nodes {1} (byte 02). */
struct plan_sets {
	struct kts_cpuset cpus, mems;
};

static void plan_sets_init(struct plan_sets *p)
{
	*p = (struct plan_sets){ 0 };
	assert_int_equal(cpuset_parse("0-3,9", &p->cpus), 0);
	assert_int_equal(cpuset_parse("1", &p->mems), 0);
}

static void plan_sets_done(struct plan_sets *p)
{
	cpuset_done(&p->cpus);
	cpuset_done(&p->mems);
}

static int pidfd_self(void)
{
	return (int) syscall(SYS_pidfd_open, getpid(), 0);
}

/* ------------------------------------------------------------------ tests */

static void test_start_sends_exact_properties_direct(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;
	const struct start_call *c;
	const struct prop *p;
	size_t idx;
	int pidfd = pidfd_self();

	test_need(pidfd >= 0, "pidfd_open(2) (Linux 5.3)");
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = getpid(), .pidfd = pidfd, .cpus = &ps.cpus, .mems = &ps.mems,
		.description = "ktscope run: make",
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, &why), 0);
	assert_null(why);

	/* Subscribe strictly before the start, one start call; the Version was asked with it. */
	assert_true(call_index(f, "Subscribe") >= 0);
	assert_true(call_index(f, "Subscribe") < call_index(f, "StartTransientUnit"));
	assert_true(call_index(f, "Get:Version") >= 0);
	assert_true(call_index(f, "Get:Version") < call_index(f, "StartTransientUnit"));
	assert_int_equal(f->n_starts, 1);
	c = &f->starts[0];
	assert_string_equal(c->name, UNIT);
	assert_string_equal(c->mode, "fail");
	assert_int_equal(c->n_aux, 0);

	/* The process first, as PIDFDs (ah) naming us. */
	assert_string_equal(c->props[0].name, "PIDFDs");
	assert_string_equal(c->props[0].sig, "ah");
	assert_int_equal(c->props[0].n_elems, 1);
	assert_int_equal(c->props[0].num, (uint64_t) getpid());
	assert_null(find_prop(c, "PIDs", NULL));

	p = find_prop(c, "AllowedCPUs", NULL);
	assert_non_null(p);
	assert_string_equal(p->sig, "ay");
	assert_int_equal(p->n_bytes, 2);
	assert_int_equal(p->bytes[0], 0x0f);
	assert_int_equal(p->bytes[1], 0x02);
	p = find_prop(c, "AllowedMemoryNodes", NULL);
	assert_non_null(p);
	assert_string_equal(p->sig, "ay");
	assert_int_equal(p->n_bytes, 1);
	assert_int_equal(p->bytes[0], 0x02);
	p = find_prop(c, "Description", NULL);
	assert_non_null(p);
	assert_string_equal(p->sig, "s");
	assert_string_equal(p->str, "ktscope run: make");
	p = find_prop(c, "Slice", NULL);
	assert_non_null(p);
	assert_string_equal(p->str, "ktscope.slice");
	p = find_prop(c, "CollectMode", &idx);
	assert_non_null(p);
	assert_string_equal(p->sig, "s");
	assert_string_equal(p->str, "inactive-or-failed");
	/* Not asked for: not sent. A direct connection has no name to AddRef. */
	assert_null(find_prop(c, "CPUWeight", NULL));
	assert_null(find_prop(c, "MemoryHigh", NULL));
	assert_null(find_prop(c, "AddRef", NULL));
	/* Accounting is a build's (telemetry): not asked for here, not sent. */
	assert_null(find_prop(c, "CPUAccounting", NULL));
	assert_null(find_prop(c, "MemoryAccounting", NULL));
	assert_null(find_prop(c, "IOAccounting", NULL));
	assert_int_equal(c->n_props, 6);

	close(pidfd);
	plan_sets_done(&ps);
}

static void test_start_on_bus_adds_ref_and_limits(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;
	const struct start_call *c;
	const struct prop *p;

	f->bus_client = true;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = 4242, .pidfd = -EBADF, .cpus = &ps.cpus, .mems = &ps.mems,
		.slice = "bench.slice", .cpu_weight = 200, .memory_high = 1ULL << 30,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, &why), 0);
	assert_true(called(f, "Hello"));
	/* On the wire, in DESIGN §4's order: the match, Subscribe, then the start. */
	assert_true(call_index(f, "AddMatch") >= 0);
	assert_true(call_index(f, "AddMatch") < call_index(f, "Subscribe"));
	assert_true(call_index(f, "Subscribe") < call_index(f, "StartTransientUnit"));
	c = &f->starts[0];
	/* No pidfd: PIDs (au) with the pid, still first. */
	assert_string_equal(c->props[0].name, "PIDs");
	assert_string_equal(c->props[0].sig, "au");
	assert_int_equal(c->props[0].n_elems, 1);
	assert_int_equal(c->props[0].num, 4242);
	p = find_prop(c, "Slice", NULL);
	assert_string_equal(p->str, "bench.slice");
	p = find_prop(c, "AddRef", NULL);
	assert_non_null(p);
	assert_string_equal(p->sig, "b");
	assert_int_equal(p->num, 1);
	p = find_prop(c, "CPUWeight", NULL);
	assert_non_null(p);
	assert_string_equal(p->sig, "t");
	assert_int_equal(p->num, 200);
	p = find_prop(c, "MemoryHigh", NULL);
	assert_non_null(p);
	assert_string_equal(p->sig, "t");
	assert_int_equal(p->num, 1ULL << 30);
	assert_null(find_prop(c, "Description", NULL));

	/* Stopping drops the reference too, then sees the unit gone. */
	ssize_t before_stop = (ssize_t) f->n_calls, match;

	assert_int_equal(scope_stop(f->client, UNIT, 0), 0);
	/* The UnitRemoved match before the stop; the stop and the unref sent together. */
	match = call_index_from(f, "AddMatch", before_stop);
	assert_true(match >= 0);
	assert_true(match < call_index(f, "StopUnit"));
	assert_true(call_index(f, "StopUnit") < call_index(f, "UnrefUnit"));
	/* UnitRemoved came: no GetUnit asked (it used to be asked before every wait). */
	assert_false(called(f, "GetUnit"));
	plan_sets_done(&ps);
}

static void test_pidfds_rejected_falls_back_to_pids(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;
	int pidfd = pidfd_self();

	test_need(pidfd >= 0, "pidfd_open(2) (Linux 5.3)");
	f->reject_pidfds = true;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = getpid(), .pidfd = pidfd, .cpus = &ps.cpus, .mems = &ps.mems,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, &why), 0);
	/* No Version (a foreign manager): PIDFDs tried first. */
	assert_true(called(f, "Get:Version"));
	assert_int_equal(f->n_starts, 2);
	assert_string_equal(f->starts[0].props[0].name, "PIDFDs");
	assert_string_equal(f->starts[1].props[0].name, "PIDs");
	assert_string_equal(f->starts[1].props[0].sig, "au");
	assert_int_equal(f->starts[1].props[0].num, (uint64_t) getpid());
	assert_null(find_prop(&f->starts[1], "PIDFDs", NULL));
	/* Everything else is sent again. */
	assert_non_null(find_prop(&f->starts[1], "AllowedCPUs", NULL));
	assert_non_null(find_prop(&f->starts[1], "AllowedMemoryNodes", NULL));
	close(pidfd);
	plan_sets_done(&ps);
}

/* A manager that will not take the accounting properties still starts the scope. */
static void test_accounting_rejected_falls_back(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;
	int pidfd = pidfd_self();

	test_need(pidfd >= 0, "pidfd_open(2) (Linux 5.3)");
	f->reject_pidfds = true;
	f->reject_accounting = true;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = getpid(), .pidfd = pidfd, .cpus = &ps.cpus, .mems = &ps.mems,
		.accounting = true,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, &why), 0);
	assert_null(why);
	/* PIDFDs refused first, then the accounting: the third start has neither. */
	assert_int_equal(f->n_starts, 3);
	assert_string_equal(f->starts[2].props[0].name, "PIDs");
	assert_null(find_prop(&f->starts[2], "CPUAccounting", NULL));
	assert_null(find_prop(&f->starts[2], "IOAccounting", NULL));
	assert_non_null(find_prop(&f->starts[2], "AllowedCPUs", NULL));
	close(pidfd);
	plan_sets_done(&ps);
}

/* An error that names neither is the manager's answer, not a cue to drop the accounting. */
static void test_accounting_kept_for_other_errors(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;

	f->unit_exists = true;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = 4242, .pidfd = -EBADF, .cpus = &ps.cpus, .mems = &ps.mems,
		.accounting = true,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, &why), -EEXIST);
	assert_int_equal(f->n_starts, 1);
	assert_non_null(find_prop(&f->starts[0], "CPUAccounting", NULL));
	plan_sets_done(&ps);
}

static void test_read_accounting(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	struct kts_scope_accounting a = { 1, 2, 3, 4 };

	plan_sets_init(&ps);
	fake_start(f);
	/* Not loaded: an error, nothing written. */
	assert_true(scope_read_accounting(f->client, UNIT, &a) < 0);
	assert_true(a.cpu_usage_nsec == 1 && a.io_write_bytes == 4);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = 4242, .pidfd = -EBADF, .cpus = &ps.cpus, .mems = &ps.mems,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, NULL), 0);
	assert_int_equal(scope_read_accounting(f->client, UNIT, &a), 0);
	assert_true(called(f, "GetUnit"));
	assert_true(a.cpu_usage_nsec == 2500000000);
	assert_true(a.memory_peak == TELEMETRY_ABSENT);   /* UnknownProperty (systemd < 255) */
	assert_true(a.io_read_bytes == TELEMETRY_ABSENT); /* "[not set]" */
	assert_true(a.io_write_bytes == 4096);
	plan_sets_done(&ps);
}

/* The manager said 252 (Debian 12's format): PIDs at once, no refused PIDFDs attempt. */
static void test_version_below_253_sends_pids_only(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;
	unsigned version = 1;
	int pidfd = pidfd_self();

	test_need(pidfd >= 0, "pidfd_open(2) (Linux 5.3)");
	f->version = "252.39-1~deb12u2";
	f->reject_pidfds = true;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = getpid(), .pidfd = pidfd, .cpus = &ps.cpus, .mems = &ps.mems,
	};
	assert_int_equal(scope_start(f->client, &sp, &version, &why), 0);
	assert_int_equal(version, 252);
	assert_int_equal(f->n_starts, 1);
	assert_string_equal(f->starts[0].props[0].name, "PIDs");
	assert_int_equal(f->starts[0].props[0].num, (uint64_t) getpid());
	assert_null(find_prop(&f->starts[0], "PIDFDs", NULL));
	close(pidfd);
	plan_sets_done(&ps);
}

static void expect_pidfds_first(struct fake *f, const char *version, unsigned expected_version,
				size_t expected_starts)
{
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;
	unsigned got = 1;
	int pidfd = pidfd_self();

	test_need(pidfd >= 0, "pidfd_open(2) (Linux 5.3)");
	f->version = version;
	f->n_starts = f->n_calls = 0;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = getpid(), .pidfd = pidfd, .cpus = &ps.cpus, .mems = &ps.mems,
	};
	assert_int_equal(scope_start(f->client, &sp, &got, &why), 0);
	assert_int_equal(got, expected_version);
	assert_int_equal(f->n_starts, expected_starts);
	assert_string_equal(f->starts[0].props[0].name, "PIDFDs");
	assert_int_equal(f->starts[0].props[0].num, (uint64_t) getpid());
	fake_stop(f);
	close(pidfd);
	plan_sets_done(&ps);
}

/* 253 and later take PIDFDs: one start, with them. */
static void test_version_253_up_sends_pidfds(void **state)
{
	expect_pidfds_first(*state, "v255", 255, 1);
	expect_pidfds_first(*state, "257.3-1-arch", 257, 1);
}

/* A Version that is not a number: PIDFDs tried, their refusal still falls back to PIDs. */
static void test_version_garbage_tries_pidfds(void **state)
{
	struct fake *f = *state;

	f->reject_pidfds = true;
	expect_pidfds_first(f, "garbage", 0, 2);
	assert_string_equal(f->starts[1].props[0].name, "PIDs");
}

static void test_version_parse(void **state)
{
	assert_int_equal(scope_version_parse("252"), 252);
	assert_int_equal(scope_version_parse("252.39-1~deb12u2"), 252);
	assert_int_equal(scope_version_parse("255.18-1.fc40"), 255);
	assert_int_equal(scope_version_parse("v255"), 255);
	assert_int_equal(scope_version_parse("257.3-1-arch"), 257);
	assert_int_equal(scope_version_parse("garbage"), 0);
	assert_int_equal(scope_version_parse(""), 0);
	assert_int_equal(scope_version_parse("v"), 0);
	assert_int_equal(scope_version_parse("-252"), 0);
	assert_int_equal(scope_version_parse("99999999999999999999"), 0);
	assert_int_equal(scope_version_parse(NULL), 0);
}

/* Asked for (a build): the three accounting properties, true. */
static void test_accounting_sent_when_asked(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	const char *names[] = { "CPUAccounting", "MemoryAccounting", "IOAccounting" };

	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = 4242, .pidfd = -EBADF, .cpus = &ps.cpus, .mems = &ps.mems,
		.accounting = true,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, NULL), 0);
	assert_int_equal(f->n_starts, 1);
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		const struct prop *p = find_prop(&f->starts[0], names[i], NULL);

		assert_non_null(p);
		assert_string_equal(p->sig, "b");
		assert_int_equal(p->num, 1);
	}
	assert_int_equal(f->starts[0].n_props, 8);
	plan_sets_done(&ps);
}

/* A connection that never sees UnitRemoved still finds the unit gone, through GetUnit. */
static void test_stop_without_signal_asks_getunit(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;

	f->silent_removal = true;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = 4242, .pidfd = -EBADF, .cpus = &ps.cpus, .mems = &ps.mems,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, NULL), 0);
	assert_int_equal(scope_stop(f->client, UNIT, 0), 0);
	assert_true(called(f, "GetUnit"));
	assert_false(f->unit_loaded);
	assert_false(called(f, "KillUnit"));
	plan_sets_done(&ps);
}

static void expect_job_error(struct fake *f, const char *result, int error)
{
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;
	char needle[64];

	f->job_result = result;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = 4242, .pidfd = -EBADF, .cpus = &ps.cpus, .mems = &ps.mems,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, &why), error);
	assert_non_null(why);
	snprintf(needle, sizeof(needle), "'%s'", result);
	assert_non_null(strstr(why, needle));
	/* The failed unit was ours: stopped again, not left behind. */
	assert_true(called(f, "StopUnit"));
	assert_false(f->unit_loaded);
	plan_sets_done(&ps);
}

static void test_job_failed_is_error_naming_result(void **state)
{
	expect_job_error(*state, "failed", -EIO);
}

static void test_job_timeout_is_error_naming_result(void **state)
{
	expect_job_error(*state, "timeout", -ETIMEDOUT);
}

static void test_job_never_removed_is_bounded(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;

	f->no_job_removed = true;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = 4242, .pidfd = -EBADF, .cpus = &ps.cpus, .mems = &ps.mems,
		.job_timeout_usec = 200000,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, &why), -ETIME);
	assert_non_null(why);
	assert_non_null(strstr(why, UNIT));
	assert_true(called(f, "StopUnit"));
	plan_sets_done(&ps);
}

static void test_existing_unit_is_eexist_and_left_alone(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;

	f->unit_exists = true;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = 4242, .pidfd = -EBADF, .cpus = &ps.cpus, .mems = &ps.mems,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, &why), -EEXIST);
	assert_non_null(strstr(why, "already exists"));
	/* Someone else's unit: never stopped by us. */
	assert_false(called(f, "StopUnit"));
	assert_false(called(f, "KillUnit"));
	plan_sets_done(&ps);
}

static void test_no_manager_is_ehostdown(void **state)
{
	struct fake *f = *state;
	struct plan_sets ps;
	_cleanup_free_ char *why = NULL;

	f->no_manager = true;
	plan_sets_init(&ps);
	fake_start(f);
	struct kts_scope_params sp = {
		.name = UNIT, .pid = 4242, .pidfd = -EBADF, .cpus = &ps.cpus, .mems = &ps.mems,
	};
	assert_int_equal(scope_start(f->client, &sp, NULL, &why), -EHOSTDOWN);
	assert_non_null(strstr(why, "ServiceUnknown"));
	assert_false(called(f, "StartTransientUnit"));
	plan_sets_done(&ps);
}

static void verify_with(struct fake *f, const uint8_t *cpus, size_t nc, const uint8_t *mems,
			size_t nm, enum kts_enforcement expected)
{
	struct kts_scope_state st = { 0 };
	enum kts_enforcement e = KTS_ENFORCE_AUTO;
	struct plan_sets ps;

	plan_sets_init(&ps);
	pthread_mutex_lock(&f->lock);
	if (nc > 0)
		memcpy(f->eff_cpus, cpus, nc);
	f->n_eff_cpus = nc;
	if (nm > 0)
		memcpy(f->eff_mems, mems, nm);
	f->n_eff_mems = nm;
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(scope_verify(f->client, UNIT, &ps.cpus, &ps.mems, &st, &e), 0);
	assert_int_equal(e, expected);
	assert_string_equal(st.control_group, "/ktscope.slice/" UNIT);
	scope_state_done(&st);
	plan_sets_done(&ps);
}

static void test_verify_reads_effective_sets(void **state)
{
	struct fake *f = *state;
	static const uint8_t plan_c[] = { 0x0f, 0x02 }, plan_m[] = { 0x02 };
	static const uint8_t sub_c[] = { 0x03 }, other_m[] = { 0x01 };

	fake_start(f);
	/* What the stock user manager answers: empty effective sets. */
	verify_with(f, NULL, 0, NULL, 0, KTS_ENFORCE_AFFINITY);
	verify_with(f, plan_c, 2, plan_m, 1, KTS_ENFORCE_CGROUP);
	verify_with(f, sub_c, 1, plan_m, 1, KTS_ENFORCE_NARROWED);
	/* A node outside the plan: the cgroup does not apply it. */
	verify_with(f, plan_c, 2, other_m, 1, KTS_ENFORCE_AFFINITY);
}

/*
 * scope_verify() when the manager refuses property prop with an error that has no
 * message: the debug line names the errno, never a literal "%m" (which it printed
 * when "%m" was passed as a %s argument, for lack of the manager's words).
 */
static void verify_bare_error(struct fake *f, const char *prop)
{
	struct kts_scope_state st = { 0 };
	enum kts_enforcement e = KTS_ENFORCE_AUTO;
	char buf[4096], expect[256];
	struct plan_sets ps;
	int saved, r;
	FILE *tmp;
	size_t n;

	f->bare_error_on = prop;
	fake_start(f);
	plan_sets_init(&ps);
	tmp = tmpfile();
	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	log_set_max_level(LOG_DEBUG);
	log_set_color(false);

	r = scope_verify(f->client, UNIT, &ps.cpus, &ps.mems, &st, &e);

	fflush(stderr);
	log_set_max_level(LOG_NOTICE);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);

	assert_int_equal(r, -EACCES);
	assert_null(strstr(buf, "%m"));
	snprintf(expect, sizeof(expect), "reading %s of ", prop);
	assert_non_null(strstr(buf, expect));
	assert_non_null(strstr(buf, strerror(-r)));
	plan_sets_done(&ps);
	fake_stop(f);
	f->bare_error_on = NULL;
}

static void test_verify_failure_names_errno(void **state)
{
	verify_bare_error(*state, "ControlGroup");
	verify_bare_error(*state, "EffectiveCPUs");
}

static void test_classify(void **state)
{
	struct kts_scope_state st = { 0 };
	struct plan_sets ps;

	plan_sets_init(&ps);
	assert_int_equal(scope_classify(&ps.cpus, &ps.mems, &st), KTS_ENFORCE_AFFINITY);
	assert_int_equal(cpuset_parse("0-3,9", &st.effective_cpus), 0);
	assert_int_equal(cpuset_parse("1", &st.effective_mems), 0);
	assert_int_equal(scope_classify(&ps.cpus, &ps.mems, &st), KTS_ENFORCE_CGROUP);
	cpuset_done(&st.effective_cpus);
	assert_int_equal(cpuset_parse("2-3", &st.effective_cpus), 0);
	assert_int_equal(scope_classify(&ps.cpus, &ps.mems, &st), KTS_ENFORCE_NARROWED);
	cpuset_done(&st.effective_cpus);
	/* A superset: the plan is not what the cgroup enforces. */
	assert_int_equal(cpuset_parse("0-15", &st.effective_cpus), 0);
	assert_int_equal(scope_classify(&ps.cpus, &ps.mems, &st), KTS_ENFORCE_AFFINITY);
	/* CPUs right, memory not enforced. */
	cpuset_done(&st.effective_cpus);
	cpuset_done(&st.effective_mems);
	assert_int_equal(cpuset_parse("0-3,9", &st.effective_cpus), 0);
	assert_int_equal(scope_classify(&ps.cpus, &ps.mems, &st), KTS_ENFORCE_AFFINITY);
	scope_state_done(&st);
	plan_sets_done(&ps);
}

static void test_stop_gone_unit_is_success(void **state)
{
	struct fake *f = *state;

	fake_start(f);
	/* Never started: NoSuchUnit on StopUnit means there is nothing to wait for. */
	assert_int_equal(scope_stop(f->client, UNIT, 0), 0);
	assert_true(called(f, "StopUnit"));
	assert_false(called(f, "KillUnit"));
}

static void test_job_result_mapping(void **state)
{
	assert_int_equal(scope_job_result_to_errno("done"), 0);
	assert_int_equal(scope_job_result_to_errno("failed"), -EIO);
	assert_int_equal(scope_job_result_to_errno("timeout"), -ETIMEDOUT);
	assert_int_equal(scope_job_result_to_errno("canceled"), -ECANCELED);
	assert_int_equal(scope_job_result_to_errno("dependency"), -ENOLINK);
	assert_int_equal(scope_job_result_to_errno("something-new"), -EIO);
	assert_int_equal(scope_job_result_to_errno(NULL), -EIO);
}

static void test_unit_names(void **state)
{
	_cleanup_free_ char *a = NULL, *b = NULL;
	char prefix[64];

	assert_int_equal(scope_name_valid("ktscope-run-1-ab.scope"), 0);
	assert_int_equal(scope_name_valid("a:b_c.d\\x2d.scope"), 0);
	assert_int_equal(scope_name_valid("inst@ance.scope"), 0);
	assert_int_equal(scope_name_valid("foo"), -EINVAL);
	assert_int_equal(scope_name_valid("foo.service"), -EINVAL);
	assert_int_equal(scope_name_valid(".scope"), -EINVAL);
	assert_int_equal(scope_name_valid("bad name.scope"), -EINVAL);
	assert_int_equal(scope_name_valid("bad/name.scope"), -EINVAL);
	assert_int_equal(scope_name_valid("@x.scope"), -EINVAL);
	assert_int_equal(scope_name_valid("x@.scope"), -EINVAL);
	assert_int_equal(scope_name_valid("a@b@c.scope"), -EINVAL);

	assert_int_equal(scope_name_generate("run", &a), 0);
	assert_int_equal(scope_name_generate("run", &b), 0);
	snprintf(prefix, sizeof(prefix), "ktscope-run-%d-", (int) getpid());
	assert_true(startswith(a, prefix));
	assert_int_equal(strlen(a), strlen(prefix) + 8 + strlen(".scope"));
	assert_int_equal(scope_name_valid(a), 0);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_sends_exact_properties_direct, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_start_on_bus_adds_ref_and_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pidfds_rejected_falls_back_to_pids, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_accounting_rejected_falls_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_accounting_kept_for_other_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_accounting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_below_253_sends_pids_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_version_253_up_sends_pidfds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_garbage_tries_pidfds, setup, teardown),
		cmocka_unit_test(test_version_parse),
		cmocka_unit_test_setup_teardown(test_accounting_sent_when_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_without_signal_asks_getunit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_job_failed_is_error_naming_result, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_job_timeout_is_error_naming_result, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_job_never_removed_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_unit_is_eexist_and_left_alone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_manager_is_ehostdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_reads_effective_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_failure_names_errno, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_gone_unit_is_success, setup, teardown),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_job_result_mapping),
		cmocka_unit_test(test_unit_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
