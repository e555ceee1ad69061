/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cache-tmp.c on a real filesystem, with real flock(2) between processes: every test gets
 * a mkdtemp() cache root. "Dead" pids are pids of children already reaped. The live build
 * of another PID namespace is a real one where the kernel allows it (unshare(CLONE_NEWPID),
 * as root, or with a user namespace otherwise), and is skipped, saying why, where not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache.h"
#include "cache-tmp.h"
#include "macro.h"
#include "test-tmpdir.h"
#include "test-skip.h"

struct fixture {
	char root[TMPDIR_SIZE]; /* mkdtemp; first, for test-tmpdir.h */
	char tmp[160];          /* {root}/.tmp */
};
TMPDIR_FIXTURE_CHECK(struct fixture, root);

static int setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "%s/.tmp", f->root);
	*state = f;
	return 0;
}

/* ------------------------------------------------------------------ helpers */

static bool exists(const char *dir, const char *name)
{
	char p[1024];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

static void make_dir(const char *dir, const char *name)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(mkdir(p, 0755), 0);
}

/* True when someone else holds LOCK_EX on the directory at path. */
static bool is_locked(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return false;
	assert_int_equal(errno, EWOULDBLOCK);
	return true;
}

/* A live process holding LOCK_EX on dir/name until *release_fd is closed; returns its pid. */
static pid_t hold_lock(const char *dir, const char *name, int *release_fd)
{
	int ready[2], release[2];
	char p[1024], c;
	pid_t pid;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(release, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0 || flock(fd, LOCK_EX) < 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		(void) close(release[1]);
		(void) read(release[0], &c, 1); /* EOF when the parent lets go */
		_exit(0);
	}
	(void) close(ready[1]);
	(void) close(release[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	(void) close(ready[0]);
	*release_fd = release[1];
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ------------------------------------------------------------------ tests */

static void test_create_holds_the_lock_and_replaces_leftovers(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *path = NULL, *again = NULL, *want = NULL;
	_cleanup_close_ int fd = -EBADF, fd2 = -EBADF;
	char junk[600];
	struct stat st;

	assert_int_equal(cache_tmp_create(f->root, "k", 0755, &path, &fd), 0);
	assert_true(asprintf(&want, "%s/k.%d", f->tmp, (int) getpid()) >= 0);
	assert_string_equal(path, want);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_true(is_locked(path));
	/* Held: the sweep of a process that thinks this pid dead would leave it, and a
	 * second create of the same name says so instead of taking it. */
	assert_int_equal(cache_tmp_create(f->root, "k", 0755, &again, &fd2), -EBUSY);
	assert_null(again);

	/* Let go without removing it, like a crashed attempt: the next create empties it. */
	snprintf(junk, sizeof(junk), "%s/junk", path);
	assert_int_equal(mkdir(junk, 0755), 0);
	fd = safe_close(fd);
	assert_false(is_locked(path));
	assert_int_equal(cache_tmp_create(f->root, "k", 0755, &again, &fd2), 0);
	assert_string_equal(again, path);
	assert_false(exists(path, "junk"));
	assert_true(is_locked(again));
}

static void test_sweep_leaves_dirs_locked_by_a_live_process(void **state)
{
	struct fixture *f = *state;
	_cleanup_close_ int release = -EBADF;
	pid_t dead = dead_pid(), holder;
	char held[64], freed[64];

	/* kill() says both pids are dead; only the lock tells a live build of another PID
	 * namespace (a container sharing the cache) from a crashed one. */
	assert_int_equal(mkdir(f->root, 0755) == 0 || errno == EEXIST, 1);
	assert_int_equal(mkdir(f->tmp, 0755), 0);
	snprintf(held, sizeof(held), "held.%d", (int) dead);
	snprintf(freed, sizeof(freed), "free.%d", (int) dead);
	make_dir(f->tmp, held);
	make_dir(f->tmp, freed);
	holder = hold_lock(f->tmp, held, &release);

	assert_int_equal(cache_sweep_tmp(f->root), 1);
	assert_true(exists(f->tmp, held));
	assert_false(exists(f->tmp, freed));

	/* Once its holder is gone, it is a leftover like any other. */
	release = safe_close(release);
	reap(holder);
	assert_int_equal(cache_sweep_tmp(f->root), 1);
	assert_false(exists(f->tmp, held));
}

static void test_store_is_locked_while_in_tmp(void **state)
{
	struct fixture *f = *state;
	struct kts_cache_store *st = NULL;
	char dir[512];

	assert_int_equal(cache_store_begin(f->root, "k-x86_64-0123456789ab", &st), 0);
	assert_true(is_locked(st->dir));
	snprintf(dir, sizeof(dir), "%s", st->dir);
	cache_store_abort(st);
	assert_int_equal(st->lock_fd, -EBADF);
	assert_false(exists(dir, ""));
	cache_store_free(st);
}

/* Enters a new PID namespace (a user namespace too when not root); false when refused. */
static bool enter_pid_namespace(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];
	int fd;

	if (unshare(CLONE_NEWPID) == 0)
		return true;
	if (unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0)
		return false;
	fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void) !write(fd, "deny", 4);
		(void) close(fd);
	}
	snprintf(map, sizeof(map), "0 %d 1", (int) uid);
	fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		return false;
	(void) close(fd);
	snprintf(map, sizeof(map), "0 %d 1", (int) gid);
	fd = open("/proc/self/gid_map", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		return false;
	(void) close(fd);
	return true;
}

/*
 * Inside the new namespace: its init makes the next pid `want` (the number of a process
 * dead outside), and that process begins a store, reports, and waits for `go`; then it
 * exits without cleaning up, like a build killed by SIGKILL. Exit codes name the step.
 */
static void _noreturn_ other_namespace_build(const char *root, pid_t want, int ready, int go)
{
	pid_t pid;
	int fd, status;
	char c, last[16];

	if (!enter_pid_namespace())
		_exit(77);
	pid = fork(); /* pid 1 of the namespace */
	if (pid < 0)
		_exit(2);
	if (pid > 0)
		_exit(waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status)
									   : 3);
	snprintf(last, sizeof(last), "%d", (int) want - 1);
	fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, last, strlen(last)) < 0)
		_exit(77);
	(void) close(fd);
	pid = fork();
	if (pid < 0)
		_exit(4);
	if (pid == 0) {
		struct kts_cache_store *st = NULL;

		if (getpid() != want)
			_exit(77);
		if (cache_store_begin(root, "k-x86_64-0123456789ab", &st) < 0)
			_exit(5);
		if (write(ready, "r", 1) != 1)
			_exit(6);
		(void) read(go, &c, 1);
		_exit(0); /* no abort: a killed build's leftover */
	}
	_exit(waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : 7);
}

static void test_sweep_spares_a_live_build_of_another_pid_namespace(void **state)
{
	struct fixture *f = *state;
	pid_t dead = dead_pid(), child;
	int ready[2], go[2], status;
	char name[64], c;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		(void) close(ready[0]);
		(void) close(go[1]);
		other_namespace_build(f->root, dead, ready[1], go[0]);
	}
	(void) close(ready[1]);
	(void) close(go[0]);
	if (read(ready[0], &c, 1) != 1) {
		(void) close(go[1]);
		assert_int_equal(waitpid(child, &status, 0), child);
		(void) close(ready[0]);
		test_need(!WIFEXITED(status) || WEXITSTATUS(status) != 77,
			  "a PID namespace with a chosen pid (root, ns_last_pid)");
		fail_msg("the build in the other namespace failed: status %d", status);
	}
	(void) close(ready[0]);

	/* Its pid number is dead here, yet its directory is in use: left alone. */
	snprintf(name, sizeof(name), "k-x86_64-0123456789ab.%d", (int) dead);
	assert_true(exists(f->tmp, name));
	assert_int_equal(kill(dead, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(cache_sweep_tmp(f->root), 0);
	assert_true(exists(f->tmp, name));

	/* It dies without cleaning up: now its directory is a leftover. */
	(void) close(go[1]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(cache_sweep_tmp(f->root), 1);
	assert_false(exists(f->tmp, name));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, tmpdir_teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_holds_the_lock_and_replaces_leftovers),
		T(test_sweep_leaves_dirs_locked_by_a_live_process),
		T(test_store_is_locked_while_in_tmp),
		T(test_sweep_spares_a_live_build_of_another_pid_namespace),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
