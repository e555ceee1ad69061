/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reserve_take(), what `run` and `build` call, and the exit code each of its failures
 * becomes through cli_exit_code(): real lock files in a mkdtemp directory, a real
 * flock() holder in a forked child, the 2-node 4-LLC snapshot (2s-2llc-4cpu) as the topology.
 * (The plan/wait/re-plan loop itself, reserve_acquire(), is pinned in test-lock.c.)
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "macro.h"
#include "reserve.h"
#include "sysroot.h"
#include "topology.h"

struct fixture {
	char dir[64];
	struct kts_topology t;
	pid_t holder;
	int holder_ctl;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct kts_sysroot sr = KTS_SYSROOT_INIT;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ktscope-test-reserve-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	if (sysroot_open(KTS_TEST_DATADIR "/sysfs/2s-2llc-4cpu", &sr) < 0 ||
	    topo_load(&sr, &f->t, NULL) < 0)
		return -1;
	sysroot_close(&sr);
	f->holder_ctl = -EBADF;
	setenv("KTSCOPE_LOCK_DIR", f->dir, 1);
	unsetenv("KTSCOPE_BYPASS_LOCKS");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	if (f->holder > 0) {
		(void) close(f->holder_ctl);
		(void) kill(f->holder, SIGKILL);
		(void) waitpid(f->holder, NULL, 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/ktstr-llc-%u.lock", f->dir, i);
		(void) unlink(path);
	}
	(void) rmdir(f->dir);
	topo_done(&f->t);
	unsetenv("KTSCOPE_LOCK_DIR");
	unsetenv("KTSCOPE_BYPASS_LOCKS");
	free(f);
	return 0;
}

/* A child holding LLC index's lock exclusively until the fixture ends. */
static void hold_exclusive(struct fixture *f, unsigned index)
{
	int ready[2], ctl[2];
	char path[128], c;

	snprintf(path, sizeof(path), "%s/ktstr-llc-%u.lock", f->dir, index);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ctl, O_CLOEXEC), 0);
	f->holder = fork();
	assert_true(f->holder >= 0);
	if (f->holder == 0) {
		int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0666);

		if (fd < 0 || flock(fd, LOCK_EX) < 0 || write(ready[1], "r", 1) != 1)
			_exit(2);
		(void) read(ctl[0], &c, 1); /* until the parent closes ctl */
		_exit(0);
	}
	(void) close(ready[1]);
	(void) close(ctl[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	(void) close(ready[0]);
	f->holder_ctl = ctl[1];
}

static void test_shared_takes_and_releases(void **state)
{
	struct fixture *f = *state;
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED, .cpus = 2 };
	struct kts_reservation res = { 0 };

	assert_int_equal(reserve_take(&f->t, &req, true, &res), 0);
	assert_int_equal(cpuset_count(&res.plan.cpus), 2);
	assert_int_equal(res.n_fds, res.plan.n_llcs);
	assert_true(res.fds[0] >= 0);
	reserve_release(&res);
	assert_null(res.fds);
}

static void test_held_no_wait_is_busy_exit_3(void **state)
{
	struct fixture *f = *state;
	struct kts_plan_req req = { .mode = KTS_PLAN_EXCLUSIVE, .excl_llcs = 4 };
	struct kts_reservation res = { 0 };
	int r;

	hold_exclusive(f, 1);
	r = reserve_take(&f->t, &req, true, &res);
	assert_int_equal(r, -EBUSY);
	assert_int_equal(cli_exit_code(r), KTS_EXIT_BUSY);
}

static void test_impossible_request_is_usage_exit_2(void **state)
{
	struct fixture *f = *state;
	struct kts_plan_req req = { .mode = KTS_PLAN_EXCLUSIVE, .excl_llcs = 5 };
	struct kts_reservation res = { 0 };
	int r;

	r = reserve_take(&f->t, &req, true, &res);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(cli_exit_code(r), KTS_EXIT_USAGE);
}

static void test_missing_lock_dir_is_environment_exit_4(void **state)
{
	struct fixture *f = *state;
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED, .cpus = 1 };
	struct kts_reservation res = { 0 };
	char missing[128];
	int r;

	snprintf(missing, sizeof(missing), "%s/no-such-dir", f->dir);
	setenv("KTSCOPE_LOCK_DIR", missing, 1);
	r = reserve_take(&f->t, &req, true, &res);
	assert_int_equal(r, -ENOLCK);
	assert_int_equal(cli_exit_code(r), KTS_EXIT_ENV);
}

static void test_bypass_with_a_budget_is_usage_exit_2(void **state)
{
	struct fixture *f = *state;
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED, .cpus = 1 };
	struct kts_reservation res = { 0 };
	int r;

	setenv("KTSCOPE_BYPASS_LOCKS", "1", 1);
	r = reserve_take(&f->t, &req, true, &res);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(cli_exit_code(r), KTS_EXIT_USAGE);
}

/* Bypassed: a plan, no lock file opened, even with the LLC held by someone else. */
static void test_bypass_plans_without_locks(void **state)
{
	struct fixture *f = *state;
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED };
	struct kts_reservation res = { 0 };

	hold_exclusive(f, 0);
	setenv("KTSCOPE_BYPASS_LOCKS", "1", 1);
	assert_int_equal(reserve_take(&f->t, &req, true, &res), 0);
	assert_true(cpuset_count(&res.plan.cpus) >= 1);
	assert_null(res.fds);
	assert_int_equal(res.n_fds, 0);
	reserve_release(&res);
}

/* On the first tick of the wait, the held lock file goes (a tmpfiles cleaner, a user's rm). */
static void remove_held_file(double elapsed, void *userdata)
{
	const char *path = userdata;

	(void) elapsed;
	(void) unlink(path);
}

/*
 * A lock file removed while the reservation waits for its holder: a new file there would be
 * a new inode the holder's flock does not cover, so the wait ends with -ESTALE naming the
 * file instead of taking it (exit 4 through reserve_take()'s -ENOLCK).
 */
static void test_lock_file_removed_while_waiting_is_stale(void **state)
{
	struct fixture *f = *state;
	struct kts_reserve_opts o = {
		.lockdir = f->dir,
		.req = { .mode = KTS_PLAN_EXCLUSIVE, .excl_llcs = 4 },
		.on_tick = remove_held_file,
		.timeout_ms = 5000,
	};
	struct kts_reservation res = { 0 };
	_cleanup_free_ char *why = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/ktstr-llc-1.lock", f->dir);
	o.userdata = path;
	hold_exclusive(f, 1);
	assert_int_equal(reserve_acquire(&f->t, &o, &res, &why), -ESTALE);
	assert_non_null(why);
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, "was removed while waiting"));
	assert_null(res.fds);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_shared_takes_and_releases),
		T(test_held_no_wait_is_busy_exit_3),
		T(test_impossible_request_is_usage_exit_2),
		T(test_missing_lock_dir_is_environment_exit_4),
		T(test_bypass_with_a_budget_is_usage_exit_2),
		T(test_bypass_plans_without_locks),
		T(test_lock_file_removed_while_waiting_is_stale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
