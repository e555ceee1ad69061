/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lock.c against the real kernel: flock(2) locks held by forked children in a
 * mkdtemp() lock directory, holders read back from the host's /proc/locks, and
 * reservations planned on tiny sysroot topologies written into the same
 * directory. The parsers, the paths and the remote filesystem names are pinned in
 * test-lock-parse.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lock.h"
#include "macro.h"
#include "plan.h"
#include "reserve.h"
#include "sysroot.h"
#include "topology.h"

#define MAX_CHILDREN 8
#define CPU_DIR "sys/devices/system/cpu"

struct child {
	pid_t pid;
	int ctl; /* write end: closing it tells the child to exit */
};

struct fixture {
	char dir[200];      /* mkdtemp: lock files live here */
	char sysroot1[256]; /* 1 LLC: CPUs 0-1 */
	char sysroot2[256]; /* 2 LLCs: CPUs 0-1 and 2-3, one node */
	struct child kids[MAX_CHILDREN];
	size_t n_kids;
};

/* ------------------------------------------------------------------ helpers */

static void write_file(const char *root, const char *rel, const char *content)
{
	char path[512];
	char *slash;
	FILE *f;

	(void) snprintf(path, sizeof(path), "%s/%s", root, rel);
	/* mkdir -p of the parent */
	for (slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(path, 0755) < 0)
			assert_int_equal(errno, EEXIST);
		*slash = '/';
	}
	f = fopen(path, "we");
	assert_non_null(f);
	assert_true(fputs(content, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* A sysroot with n_llcs LLCs of two CPUs each, all on node 0, all CPUs allowed. */
static void make_sysroot(const char *root, unsigned n_llcs)
{
	char rel[256], buf[64];
	unsigned n_cpus = 2 * n_llcs;

	(void) snprintf(buf, sizeof(buf), "0-%u\n", n_cpus - 1);
	write_file(root, CPU_DIR "/online", buf);
	for (unsigned c = 0; c < n_cpus; c++) {
		(void) snprintf(rel, sizeof(rel), CPU_DIR "/cpu%u/cache/index3/level", c);
		write_file(root, rel, "3\n");
		(void) snprintf(rel, sizeof(rel), CPU_DIR "/cpu%u/cache/index3/id", c);
		(void) snprintf(buf, sizeof(buf), "%u\n", c / 2);
		write_file(root, rel, buf);
		(void) snprintf(rel, sizeof(rel), CPU_DIR "/cpu%u/cache/index3/shared_cpu_list", c);
		(void) snprintf(buf, sizeof(buf), "%u-%u\n", c / 2 * 2, c / 2 * 2 + 1);
		write_file(root, rel, buf);
		(void) snprintf(rel, sizeof(rel), CPU_DIR "/cpu%u/node0", c);
		write_file(root, rel, "");
	}
	write_file(root, "sys/devices/system/node/node0/distance", "10\n");
	(void) snprintf(buf, sizeof(buf), "Name:\ttest\nCpus_allowed_list:\t0-%u\n", n_cpus - 1);
	write_file(root, "proc/self/status", buf);
}

static void load_topology(const char *root, struct kts_topology *t)
{
	struct kts_sysroot sr = KTS_SYSROOT_INIT;
	char *errpath = NULL;
	int r;

	assert_int_equal(sysroot_open(root, &sr), 0);
	r = topo_load(&sr, t, &errpath);
	if (r < 0)
		fprintf(stderr, "# topo_load(%s): %s at %s\n", root, strerror(-r),
			strempty(errpath));
	free(errpath);
	sysroot_close(&sr);
	assert_int_equal(r, 0);
}

static void llc_path(const struct fixture *f, unsigned i, char *buf, size_t size)
{
	(void) snprintf(buf, size, "%s/ktstr-llc-%u.lock", f->dir, i);
}

/*
 * Forks a child that takes a real flock on path (creating the file), reports
 * readiness through a pipe and then holds the lock until told to go (the
 * control pipe closes) or, when hold_ms > 0, until that much time has passed.
 * Returns its pid once the lock is held.
 */
static pid_t spawn_holder(struct fixture *f, const char *path, enum kts_lock_mode mode,
			  int hold_ms)
{
	int ready[2], ctl[2];
	char c = 0;
	pid_t pid;

	assert_true(f->n_kids < MAX_CHILDREN);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ctl, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pollfd p = { .fd = ctl[0], .events = POLLIN };
		int fd;

		(void) close(ready[0]);
		(void) close(ctl[1]);
		fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
		if (fd < 0 || flock(fd, mode == KTS_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH) < 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		/* Hold until the parent closes ctl (or dies), or hold_ms passes. */
		while (poll(&p, 1, hold_ms > 0 ? hold_ms : -1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	(void) close(ready[1]);
	(void) close(ctl[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'r');
	(void) close(ready[0]);
	f->kids[f->n_kids++] = (struct child){ .pid = pid, .ctl = ctl[1] };
	return pid;
}

/* Ends a child started by spawn_holder (by its pid) and reaps it. */
static void stop_child(struct child *k)
{
	if (k->pid <= 0)
		return;
	(void) close(k->ctl);
	(void) kill(k->pid, SIGKILL);
	while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
		;
	k->pid = 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv_nonempty("TMPDIR");

	assert_non_null(f);
	if (!tmp || strlen(tmp) > 100)
		tmp = "/tmp";
	(void) snprintf(f->dir, sizeof(f->dir), "%s/test-lock-XXXXXX", tmp);
	assert_non_null(mkdtemp(f->dir));
	/* Sysroots sit next to the lock files; only ktstr-llc-*.lock names are lock files. */
	(void) snprintf(f->sysroot1, sizeof(f->sysroot1), "%s/sysroot1", f->dir);
	(void) snprintf(f->sysroot2, sizeof(f->sysroot2), "%s/sysroot2", f->dir);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_rf(const char *path)
{
	/* Depth-first, never following symlinks (the tests plant some). */
	(void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < f->n_kids; i++)
		stop_child(&f->kids[i]);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* --------------------------------------------------------- flock semantics */

static void test_shared_coexists_with_shared(void **state)
{
	struct fixture *f = *state;
	char path[512];
	int fd;

	llc_path(f, 0, path, sizeof(path));
	(void) spawn_holder(f, path, KTS_LOCK_SHARED, 0);
	fd = lock_open(path, NULL);
	assert_true(fd >= 0);
	assert_int_equal(lock_try(fd, KTS_LOCK_SHARED), 0);
	(void) close(fd);
}

static void test_exclusive_blocks_shared(void **state)
{
	struct fixture *f = *state;
	char path[512];
	int fd;

	llc_path(f, 0, path, sizeof(path));
	(void) spawn_holder(f, path, KTS_LOCK_EXCLUSIVE, 0);
	fd = lock_open(path, NULL);
	assert_true(fd >= 0);
	assert_int_equal(lock_try(fd, KTS_LOCK_SHARED), -EWOULDBLOCK);
	assert_int_equal(lock_try(fd, KTS_LOCK_EXCLUSIVE), -EWOULDBLOCK);
	/* Once the holder is gone the same fd gets the lock. */
	stop_child(&f->kids[0]);
	assert_int_equal(lock_try(fd, KTS_LOCK_SHARED), 0);
	(void) close(fd);
}

static void test_shared_blocks_exclusive(void **state)
{
	struct fixture *f = *state;
	char path[512];
	int fd;

	llc_path(f, 0, path, sizeof(path));
	(void) spawn_holder(f, path, KTS_LOCK_SHARED, 0);
	fd = lock_open(path, NULL);
	assert_true(fd >= 0);
	assert_int_equal(lock_try(fd, KTS_LOCK_EXCLUSIVE), -EWOULDBLOCK);
	(void) close(fd);
}

static void test_lock_fd_is_cloexec(void **state)
{
	struct fixture *f = *state;
	char path[512];
	int fd;

	llc_path(f, 0, path, sizeof(path));
	fd = lock_open(path, NULL);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	(void) close(fd);
}

/* ------------------------------------------------------------------ holders */

static void test_holders_report_pid_mode_and_cmdline(void **state)
{
	struct fixture *f = *state;
	struct kts_holder *h = NULL;
	char path[512], *self_cmd = NULL, buf[4096];
	size_t n = 0, len = 0;
	ssize_t k;
	pid_t pid;
	int fd;

	llc_path(f, 0, path, sizeof(path));
	pid = spawn_holder(f, path, KTS_LOCK_EXCLUSIVE, 0);

	assert_int_equal(lock_holders(path, &h, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].pid, pid);
	assert_int_equal(h[0].mode, KTS_LOCK_EXCLUSIVE);
	/* The forked child runs this very program, so its cmdline is ours. */
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	while ((k = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t) k;
	(void) close(fd);
	assert_int_equal(lock_cmdline_from_bytes(buf, len, &self_cmd), 0);
	assert_string_equal(h[0].cmdline, self_cmd);
	assert_string_not_equal(h[0].cmdline, "<unavailable>");
	free(self_cmd);
	lock_holders_free(h, n);
}

static void test_holders_two_shared_and_none_after_exit(void **state)
{
	struct fixture *f = *state;
	struct kts_holder *h = NULL;
	char path[512];
	size_t n = 0;
	pid_t a, b;

	llc_path(f, 1, path, sizeof(path));
	a = spawn_holder(f, path, KTS_LOCK_SHARED, 0);
	b = spawn_holder(f, path, KTS_LOCK_SHARED, 0);

	assert_int_equal(lock_holders(path, &h, &n), 0);
	assert_int_equal(n, 2);
	assert_true((h[0].pid == a && h[1].pid == b) || (h[0].pid == b && h[1].pid == a));
	assert_int_equal(h[0].mode, KTS_LOCK_SHARED);
	assert_int_equal(h[1].mode, KTS_LOCK_SHARED);
	lock_holders_free(h, n);

	stop_child(&f->kids[0]);
	stop_child(&f->kids[1]);
	h = NULL;
	assert_int_equal(lock_holders(path, &h, &n), 0);
	assert_int_equal(n, 0);
	lock_holders_free(h, n);
}

static void test_holders_of_missing_file_is_enoent(void **state)
{
	struct fixture *f = *state;
	struct kts_holder *h = NULL;
	char path[512];
	size_t n = 0;

	llc_path(f, 7, path, sizeof(path));
	assert_int_equal(lock_holders(path, &h, &n), -ENOENT);
}

static void test_llc_load_counts_and_creates_nothing(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_llc_load *load = NULL;
	char path0[512], path1[512];

	make_sysroot(f->sysroot2, 2);
	load_topology(f->sysroot2, &t);
	assert_int_equal(t.n_llcs, 2);

	/* Nothing held, no files: all zero, and looking creates no file. */
	llc_path(f, 0, path0, sizeof(path0));
	llc_path(f, 1, path1, sizeof(path1));
	assert_int_equal(lock_llc_load(f->dir, &t, &load), 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(load[i].shared + load[i].exclusive, 0);
	free(load);
	assert_int_equal(access(path0, F_OK), -1);
	assert_int_equal(access(path1, F_OK), -1);

	(void) spawn_holder(f, path0, KTS_LOCK_SHARED, 0);
	(void) spawn_holder(f, path0, KTS_LOCK_SHARED, 0);
	(void) spawn_holder(f, path1, KTS_LOCK_EXCLUSIVE, 0);
	load = NULL;
	assert_int_equal(lock_llc_load(f->dir, &t, &load), 0);
	assert_int_equal(load[0].shared, 2);
	assert_int_equal(load[0].exclusive, 0);
	assert_int_equal(load[1].shared, 0);
	assert_int_equal(load[1].exclusive, 1);
	free(load);
	topo_done(&t);
}

/*
 * When flock(2) says no LLC file is held, the counts are 0 without /proc/locks (a path
 * that does not exist stands in for it and is never read); once one is held, the
 * counts come from there, and then from the real one.
 */
static void test_llc_load_free_files_skip_proc_locks(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_llc_load *load = NULL;
	char path0[512], path1[512], nowhere[600];
	int fd;

	make_sysroot(f->sysroot2, 2);
	load_topology(f->sysroot2, &t);
	llc_path(f, 0, path0, sizeof(path0));
	llc_path(f, 1, path1, sizeof(path1));
	(void) snprintf(nowhere, sizeof(nowhere), "%s/no-proc-locks", f->dir);
	write_file(f->dir, "ktstr-llc-0.lock", "");
	write_file(f->dir, "ktstr-llc-1.lock", "");

	assert_int_equal(lock_llc_load_with(f->dir, &t, nowhere, &load), 0);
	assert_int_equal(load[0].shared + load[0].exclusive + load[1].shared + load[1].exclusive, 0);
	free(load);
	load = NULL;
	/* The probe left no lock behind: an exclusive flock by someone else succeeds. */
	fd = open(path0, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	(void) close(fd);

	(void) spawn_holder(f, path1, KTS_LOCK_SHARED, 0);
	assert_int_equal(lock_llc_load_with(f->dir, &t, nowhere, &load), -ENOENT);
	assert_int_equal(lock_llc_load(f->dir, &t, &load), 0);
	assert_int_equal(load[0].shared + load[0].exclusive, 0);
	assert_int_equal(load[1].shared, 1);
	free(load);
	load = NULL;

	/* Its holder gone, the file is free again. */
	stop_child(&f->kids[f->n_kids - 1]);
	assert_int_equal(lock_llc_load_with(f->dir, &t, nowhere, &load), 0);
	assert_int_equal(load[1].shared + load[1].exclusive, 0);
	free(load);
	topo_done(&t);
}

/* ---------------------------------------------------------------- lock_open */

static void test_open_refuses_symlink(void **state)
{
	struct fixture *f = *state;
	char path[512], target[512];
	const char *fsname = NULL;

	llc_path(f, 0, path, sizeof(path));
	(void) snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
	write_file(f->dir, "elsewhere", "");
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(lock_open(path, &fsname), -ELOOP);

	/* A dangling symlink must not make lock_open create its target either. */
	assert_int_equal(unlink(target), 0);
	assert_int_equal(lock_open(path, &fsname), -ELOOP);
	assert_int_equal(access(target, F_OK), -1);
}

static void test_open_refuses_fifo_without_hanging(void **state)
{
	struct fixture *f = *state;
	char path[512];

	llc_path(f, 0, path, sizeof(path));
	assert_int_equal(mkfifo(path, 0666), 0);
	/* Nothing writes to this FIFO: a blocking open would hang here forever. */
	(void) alarm(10);
	assert_int_equal(lock_open(path, NULL), -EINVAL);
	(void) alarm(0);
}

static void test_open_refuses_directory(void **state)
{
	struct fixture *f = *state;
	char path[512];

	llc_path(f, 0, path, sizeof(path));
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(lock_open(path, NULL), -EINVAL);
}

static void test_new_file_is_0666_despite_umask(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char path[512];
	mode_t old;
	int fd;

	llc_path(f, 3, path, sizeof(path));
	old = umask(077);
	fd = lock_open(path, NULL);
	(void) umask(old);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0666);
	(void) close(fd);
}

static void test_existing_file_is_opened_not_recreated(void **state)
{
	struct fixture *f = *state;
	struct stat before, after;
	char path[512];
	int fd;

	llc_path(f, 0, path, sizeof(path));
	write_file(f->dir, "ktstr-llc-0.lock", "");
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(stat(path, &before), 0);
	fd = lock_open(path, NULL);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	/* Someone else's file: its mode is theirs, not ours to change. */
	assert_int_equal(after.st_mode & 07777, 0644);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	(void) close(fd);
}

static void test_check_fs_accepts_local_dir(void **state)
{
	struct fixture *f = *state;
	const char *fsname = NULL;

	assert_int_equal(lock_check_fs(f->dir, &fsname), 0);
	assert_null(fsname);
}

/* -------------------------------------------------------------- reserve_acquire (reserve.c) */

struct wait_log {
	unsigned waits, ticks;
	char *text;
	struct child *release; /* a holder told to exit once the wait is reported, or NULL */
};

static void on_wait(const char *holders, void *userdata)
{
	struct wait_log *w = userdata;

	w->waits++;
	free(w->text);
	w->text = strdup(holders);
	if (w->release) {
		(void) close(w->release->ctl);
		w->release->ctl = -1;
		w->release = NULL;
	}
}

static void on_tick(double elapsed, void *userdata)
{
	struct wait_log *w = userdata;

	assert_true(elapsed >= 0);
	w->ticks++;
}

static struct kts_reserve_opts shared_opts(const struct fixture *f, unsigned cpus,
					   struct wait_log *w)
{
	return (struct kts_reserve_opts){
		.lockdir = f->dir,
		.req = { .mode = KTS_PLAN_SHARED, .cpus = cpus },
		.on_wait = on_wait,
		.on_tick = on_tick,
		.userdata = w,
	};
}

/* True when LLC i's lock file can be taken exclusively right now (then released). */
static bool llc_free(const struct fixture *f, unsigned i)
{
	char path[512];
	int fd, r;

	llc_path(f, i, path, sizeof(path));
	fd = lock_open(path, NULL);
	assert_true(fd >= 0);
	r = lock_try(fd, KTS_LOCK_EXCLUSIVE);
	(void) close(fd);
	assert_true(r == 0 || r == -EWOULDBLOCK);
	return r == 0;
}

static void test_reserve_takes_and_releases(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_reservation res = { 0 };
	struct wait_log w = { 0 };
	struct kts_reserve_opts o = shared_opts(f, 1, &w);
	char *why = NULL, *cpus = NULL;

	make_sysroot(f->sysroot1, 1);
	load_topology(f->sysroot1, &t);
	o.no_wait = true;
	assert_int_equal(reserve_acquire(&t, &o, &res, &why), 0);
	assert_null(why);
	assert_int_equal(res.mode, KTS_LOCK_SHARED);
	assert_int_equal(res.n_fds, 1);
	assert_int_equal(res.plan.n_llcs, 1);
	assert_int_equal(res.plan.llcs[0], 0);
	assert_int_equal(cpuset_format(&res.plan.cpus, &cpus), 0);
	assert_string_equal(cpus, "0");
	free(cpus);
	assert_true(fcntl(res.fds[0], F_GETFD) & FD_CLOEXEC);
	/* The shared lock is really held: an exclusive taker is refused until release. */
	assert_false(llc_free(f, 0));
	reserve_release(&res);
	assert_true(llc_free(f, 0));
	assert_int_equal(res.n_fds, 0);
	reserve_release(&res); /* idempotent on the zeroed struct */
	assert_int_equal(w.waits, 0);
	topo_done(&t);
}

static void test_reserve_no_wait_busy_names_holder(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_reservation res = { 0 };
	struct wait_log w = { 0 };
	struct kts_reserve_opts o = shared_opts(f, 1, &w);
	char path[512], *why = NULL, needle[64];
	pid_t pid;

	make_sysroot(f->sysroot1, 1);
	load_topology(f->sysroot1, &t);
	llc_path(f, 0, path, sizeof(path));
	pid = spawn_holder(f, path, KTS_LOCK_EXCLUSIVE, 0);

	o.no_wait = true;
	assert_int_equal(reserve_acquire(&t, &o, &res, &why), -EBUSY);
	assert_non_null(why);
	(void) snprintf(needle, sizeof(needle), "LLC 0: pid %d (exclusive) cmd: ", (int) pid);
	assert_non_null(strstr(why, needle));
	assert_int_equal(res.n_fds, 0); /* untouched on failure */
	assert_int_equal(w.waits, 0);   /* no_wait never waits */
	free(why);
	topo_done(&t);
}

static void test_reserve_exclusive_blocked_by_shared(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_reservation res = { 0 };
	struct kts_reserve_opts o = {
		.lockdir = f->dir,
		.req = { .mode = KTS_PLAN_EXCLUSIVE, .excl_llcs = 1 },
		.no_wait = true,
	};
	char path[512], *why = NULL, needle[64];
	pid_t pid;

	make_sysroot(f->sysroot1, 1);
	load_topology(f->sysroot1, &t);
	llc_path(f, 0, path, sizeof(path));
	pid = spawn_holder(f, path, KTS_LOCK_SHARED, 0);

	assert_int_equal(reserve_acquire(&t, &o, &res, &why), -EBUSY);
	(void) snprintf(needle, sizeof(needle), "LLC 0: pid %d (shared)", (int) pid);
	assert_non_null(why);
	assert_non_null(strstr(why, needle));
	free(why);
	topo_done(&t);
}

static void test_reserve_routes_around_exclusive_holder(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_reservation res = { 0 };
	struct wait_log w = { 0 };
	struct kts_reserve_opts o = shared_opts(f, 2, &w);
	char path[512], *why = NULL, *cpus = NULL;

	make_sysroot(f->sysroot2, 2);
	load_topology(f->sysroot2, &t);
	llc_path(f, 0, path, sizeof(path));
	(void) spawn_holder(f, path, KTS_LOCK_EXCLUSIVE, 0);

	o.no_wait = true;
	assert_int_equal(reserve_acquire(&t, &o, &res, &why), 0);
	assert_int_equal(res.plan.n_llcs, 1);
	assert_int_equal(res.plan.llcs[0], 1);
	assert_int_equal(cpuset_format(&res.plan.cpus, &cpus), 0);
	assert_string_equal(cpus, "2-3");
	free(cpus);
	assert_false(llc_free(f, 1));
	reserve_release(&res);
	assert_true(llc_free(f, 1));
	topo_done(&t);
}

static void test_reserve_exclusive_takes_free_llc(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_reservation res = { 0 };
	struct kts_reserve_opts o = {
		.lockdir = f->dir,
		.req = { .mode = KTS_PLAN_EXCLUSIVE, .excl_llcs = 1 },
		.no_wait = true,
	};
	char path[512], *why = NULL;
	int fd;

	make_sysroot(f->sysroot2, 2);
	load_topology(f->sysroot2, &t);
	/* A shared build on LLC 0 keeps the benchmark off it. */
	llc_path(f, 0, path, sizeof(path));
	(void) spawn_holder(f, path, KTS_LOCK_SHARED, 0);

	assert_int_equal(reserve_acquire(&t, &o, &res, &why), 0);
	assert_int_equal(res.mode, KTS_LOCK_EXCLUSIVE);
	assert_int_equal(res.plan.n_llcs, 1);
	assert_int_equal(res.plan.llcs[0], 1);
	/* Exclusive really: even a shared taker is refused. */
	llc_path(f, 1, path, sizeof(path));
	fd = lock_open(path, NULL);
	assert_true(fd >= 0);
	assert_int_equal(lock_try(fd, KTS_LOCK_SHARED), -EWOULDBLOCK);
	(void) close(fd);
	reserve_release(&res);
	topo_done(&t);
}

static void test_reserve_waits_until_holder_exits(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_reservation res = { 0 };
	struct wait_log w = { 0 };
	struct kts_reserve_opts o = shared_opts(f, 1, &w);
	char path[512], *why = NULL, needle[64];
	pid_t pid;

	make_sysroot(f->sysroot1, 1);
	load_topology(f->sysroot1, &t);
	llc_path(f, 0, path, sizeof(path));
	/* The holder leaves when told, and it is told from the wait callback: the reservation
	 * must have found the LLC held and said so first, however slow the machine. */
	pid = spawn_holder(f, path, KTS_LOCK_EXCLUSIVE, 0);
	w.release = &f->kids[f->n_kids - 1];

	/* A generous bound only so a regression fails instead of hanging. */
	o.timeout_ms = 20000;
	assert_int_equal(reserve_acquire(&t, &o, &res, &why), 0);
	assert_null(why);
	assert_int_equal(w.waits, 1);
	(void) snprintf(needle, sizeof(needle), "pid %d (exclusive)", (int) pid);
	assert_non_null(w.text);
	assert_non_null(strstr(w.text, needle));
	assert_int_equal(res.plan.llcs[0], 0);
	reserve_release(&res);
	free(w.text);
	topo_done(&t);
}

static void test_reserve_times_out(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_reservation res = { 0 };
	struct wait_log w = { 0 };
	struct kts_reserve_opts o = shared_opts(f, 1, &w);
	char path[512], *why = NULL, needle[64];
	pid_t pid;

	make_sysroot(f->sysroot1, 1);
	load_topology(f->sysroot1, &t);
	llc_path(f, 0, path, sizeof(path));
	pid = spawn_holder(f, path, KTS_LOCK_EXCLUSIVE, 0);

	o.timeout_ms = 600;
	assert_int_equal(reserve_acquire(&t, &o, &res, &why), -ETIME);
	assert_int_equal(w.waits, 1);
	assert_true(w.ticks >= 1);
	(void) snprintf(needle, sizeof(needle), "LLC 0: pid %d (exclusive)", (int) pid);
	assert_non_null(why);
	assert_non_null(strstr(why, needle));
	assert_int_equal(res.n_fds, 0);
	free(why);
	free(w.text);
	topo_done(&t);
}

static void test_reserve_impossible_budget_is_erange(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_reservation res = { 0 };
	struct wait_log w = { 0 };
	struct kts_reserve_opts o = shared_opts(f, 5, &w);
	char *why = NULL, path[512];

	make_sysroot(f->sysroot1, 1);
	load_topology(f->sysroot1, &t);
	/* Never fits (2 CPUs): fails at once even though waiting is allowed. */
	assert_int_equal(reserve_acquire(&t, &o, &res, &why), -ERANGE);
	assert_non_null(why);
	assert_int_equal(w.waits, 0);
	free(why);
	/* And no lock file was made for a plan that never existed. */
	llc_path(f, 0, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	topo_done(&t);
}

static void test_reserve_refuses_symlinked_lock_file(void **state)
{
	struct fixture *f = *state;
	struct kts_topology t = { 0 };
	struct kts_reservation res = { 0 };
	struct wait_log w = { 0 };
	struct kts_reserve_opts o = shared_opts(f, 1, &w);
	char *why = NULL, path[512];
	int r;

	make_sysroot(f->sysroot1, 1);
	load_topology(f->sysroot1, &t);
	llc_path(f, 0, path, sizeof(path));
	assert_int_equal(symlink("/nonexistent-ktscope-target", path), 0);
	o.no_wait = true;
	r = reserve_acquire(&t, &o, &res, &why);
	assert_int_equal(r, -ELOOP);
	assert_non_null(why);
	assert_non_null(strstr(why, path));
	free(why);
	topo_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_shared_coexists_with_shared),
		T(test_exclusive_blocks_shared),
		T(test_shared_blocks_exclusive),
		T(test_lock_fd_is_cloexec),
		T(test_holders_report_pid_mode_and_cmdline),
		T(test_holders_two_shared_and_none_after_exit),
		T(test_holders_of_missing_file_is_enoent),
		T(test_llc_load_counts_and_creates_nothing),
		T(test_llc_load_free_files_skip_proc_locks),
		T(test_open_refuses_symlink),
		T(test_open_refuses_fifo_without_hanging),
		T(test_open_refuses_directory),
		T(test_new_file_is_0666_despite_umask),
		T(test_existing_file_is_opened_not_recreated),
		T(test_check_fs_accepts_local_dir),
		T(test_reserve_takes_and_releases),
		T(test_reserve_no_wait_busy_names_holder),
		T(test_reserve_exclusive_blocked_by_shared),
		T(test_reserve_routes_around_exclusive_holder),
		T(test_reserve_exclusive_takes_free_llc),
		T(test_reserve_waits_until_holder_exits),
		T(test_reserve_times_out),
		T(test_reserve_impossible_budget_is_erange),
		T(test_reserve_refuses_symlinked_lock_file),
#undef T
	};

	return cmocka_run_group_tests_name("lock", tests, NULL, NULL);
}
