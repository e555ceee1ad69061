/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * supervise.c with real processes: the supervisor is forked, released and waited
 * for as `run` does (no scope), and what it reports is COMMAND's real fate. The
 * failure path of supervise_fork() is provoked for real, by running out of fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpuset.h"
#include "macro.h"
#include "supervise.h"

/* Forks argv, releases it without affinity, waits: the report. */
static struct kts_child_report run(char *const *argv)
{
	struct kts_child c = KTS_CHILD_INIT;
	struct kts_child_report rep = { 0 };

	assert_int_equal(supervise_fork(argv, NULL, 0, NULL, NULL, &c), 0);
	assert_true(c.pid > 0);
	assert_int_equal(c.pgid, c.pid);
	assert_int_equal(supervise_release(&c, false), 0);
	assert_int_equal(supervise_wait(&c, &rep), 0);
	supervise_done(&c);
	return rep;
}

static void test_exit_status_is_reported(void **state)
{
	static char *const argv[] = { (char *) "sh", (char *) "-c", (char *) "exit 3", NULL };
	struct kts_child_report rep = run(argv);

	assert_int_equal(rep.outcome, KTS_CHILD_RAN);
	assert_true(WIFEXITED(rep.wait_status));
	assert_int_equal(WEXITSTATUS(rep.wait_status), 3);
	assert_int_equal(supervise_exit_code(&rep), 3);
}

static void test_death_by_signal_is_128_plus_n(void **state)
{
	static char *const argv[] = { (char *) "sh", (char *) "-c", (char *) "kill -TERM $$",
				      NULL };
	struct kts_child_report rep = run(argv);

	assert_int_equal(rep.outcome, KTS_CHILD_RAN);
	assert_true(WIFSIGNALED(rep.wait_status));
	assert_int_equal(WTERMSIG(rep.wait_status), SIGTERM);
	assert_int_equal(supervise_exit_code(&rep), 128 + SIGTERM);
}

static void test_missing_program_is_enoent_through_the_pipe(void **state)
{
	static char *const argv[] = { (char *) "/nonexistent/ktscope-test-no-such-program", NULL };
	struct kts_child_report rep = run(argv);

	assert_int_equal(rep.outcome, KTS_CHILD_EXEC_FAILED);
	assert_int_equal(rep.error, ENOENT);
	assert_int_equal(supervise_exit_code(&rep), 127);
}

static void test_not_executable_is_126(void **state)
{
	char path[] = "/tmp/ktscope-test-supervise-XXXXXX";
	char *const argv[] = { path, NULL };
	struct kts_child_report rep;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd); /* mode 0600: not executable */
	rep = run(argv);
	unlink(path);
	assert_int_equal(rep.outcome, KTS_CHILD_EXEC_FAILED);
	assert_int_equal(rep.error, EACCES);
	assert_int_equal(supervise_exit_code(&rep), 126);
}

/* A never-released child is killed and reaped by supervise_done(); the mask comes back. */
static void test_done_without_release_restores_mask(void **state)
{
	static char *const argv[] = { (char *) "true", NULL };
	struct kts_child c = KTS_CHILD_INIT;
	sigset_t before, during, after;
	pid_t pid;

	assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &before), 0);
	assert_int_equal(supervise_fork(argv, NULL, 0, NULL, NULL, &c), 0);
	pid = c.pid;
	assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &during), 0);
	assert_true(sigismember(&during, SIGCHLD));
	assert_true(sigismember(&during, SIGINT));
	supervise_done(&c);
	assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &after), 0);
	assert_false(sigismember(&after, SIGCHLD));
	assert_false(sigismember(&after, SIGINT));
	/* Reaped: no such child any more. */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/*
 * supervise_fork() failing after it blocked the signals (signalfd out of fds) gives
 * the caller its mask back, and writes nothing into *ret.
 */
static void test_failure_restores_the_signal_mask(void **state)
{
	static char *const argv[] = { (char *) "true", NULL };
	struct kts_child c = KTS_CHILD_INIT;
	struct rlimit old, lim;
	sigset_t mine, before, after;
	int fds[64], n = 0, r;

	/* A mask of our own, to see it restored exactly (not just emptied). */
	sigemptyset(&mine);
	sigaddset(&mine, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &mine, &before), 0);
	assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &before), 0);

	/* Leave exactly four fds: both pipes open, the signalfd fails with EMFILE. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			break;
		assert_true(n < (int) ELEMENTSOF(fds));
		fds[n++] = fd;
	}
	assert_int_equal(errno, EMFILE);
	assert_true(n >= 4);
	for (int i = 0; i < 4; i++)
		close(fds[--n]);

	r = supervise_fork(argv, NULL, 0, NULL, NULL, &c);

	for (int i = 0; i < n; i++)
		close(fds[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(r, -EMFILE);
	assert_int_equal(c.pid, 0);
	assert_int_equal(c.signal_fd, -EBADF);
	assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &after), 0);
	for (int sig = 1; sig < NSIG; sig++)
		assert_int_equal(sigismember(&after, sig), sigismember(&before, sig));
	assert_int_equal(sigprocmask(SIG_UNBLOCK, &mine, NULL), 0);
}

static void test_no_argv_is_einval(void **state)
{
	static char *const empty[] = { NULL };
	struct kts_child c = KTS_CHILD_INIT;

	assert_int_equal(supervise_fork(empty, NULL, 0, NULL, NULL, &c), -EINVAL);
	assert_int_equal(supervise_fork(NULL, NULL, 0, NULL, NULL, &c), -EINVAL);
	assert_int_equal(c.pid, 0);
}

/*
 * An affinity release binds COMMAND to cpus and, when mems is not empty, to an
 * MPOL_BIND policy on mems: both read back from /proc/self by COMMAND itself.
 * Returns what COMMAND wrote (Cpus_allowed_list line, first numa_maps line).
 */
static char *run_bound(const struct kts_cpuset *cpus, const struct kts_cpuset *mems)
{
	char path[] = "/tmp/ktscope-test-supervise-XXXXXX", cmd[256];
	char *const argv[] = { (char *) "sh", (char *) "-c", cmd, NULL };
	struct kts_child c = KTS_CHILD_INIT;
	struct kts_child_report rep = { 0 };
	char *text = calloc(1, 4096);
	int fd = mkstemp(path);

	assert_non_null(text);
	assert_true(fd >= 0);
	snprintf(cmd, sizeof(cmd), "grep ^Cpus_allowed_list: /proc/self/status >%s; "
		 "head -n 1 /proc/self/numa_maps >>%s", path, path);
	assert_int_equal(supervise_fork(argv, NULL, 0, cpus, mems, &c), 0);
	assert_int_equal(supervise_release(&c, true), 0);
	assert_int_equal(supervise_wait(&c, &rep), 0);
	supervise_done(&c);
	assert_int_equal(supervise_exit_code(&rep), 0);
	assert_true(read(fd, text, 4095) > 0);
	close(fd);
	unlink(path);
	return text;
}

static void test_affinity_binds_cpus_and_memory(void **state)
{
	_cleanup_cpuset_ struct kts_cpuset cpus = KTS_CPUSET_INIT, mems = KTS_CPUSET_INIT,
					   none = KTS_CPUSET_INIT;
	_cleanup_free_ char *bound = NULL, *unbound = NULL;
	char want[64];
	cpu_set_t mine;
	int cpu = -1;

	if (access("/sys/devices/system/node/node0", F_OK) < 0)
		skip(); /* a kernel without NUMA: no memory policy to read back */
	assert_int_equal(sched_getaffinity(0, sizeof(mine), &mine), 0);
	for (int i = 0; i < CPU_SETSIZE && cpu < 0; i++)
		if (CPU_ISSET(i, &mine))
			cpu = i;
	assert_true(cpu >= 0);
	assert_int_equal(cpuset_add(&cpus, (unsigned) cpu), 0);
	assert_int_equal(cpuset_add(&mems, 0), 0);

	bound = run_bound(&cpus, &mems);
	assert_non_null(strstr(bound, " bind:0 "));
	unbound = run_bound(&cpus, &none);
	assert_non_null(strstr(unbound, " default "));
	/* Both are on the one CPU: the affinity does not depend on the memory policy. */
	snprintf(want, sizeof(want), "Cpus_allowed_list:\t%d\n", cpu);
	assert_non_null(strstr(bound, want));
	assert_non_null(strstr(unbound, want));
}

/*
 * A side watch (a build's "make is done"): COMMAND writes a byte to a FIFO and then waits
 * for a file that only the watch's input() makes, so the wait ends only if input() ran
 * while COMMAND was still running; a watch that returns 1 is not called again.
 */
struct side {
	int fd, calls;
	char flag[64];
	int ret; /* what input() returns after making the flag */
};

static int side_input(void *userdata)
{
	struct side *s = userdata;
	char byte;
	int fd;

	s->calls++;
	if (read(s->fd, &byte, 1) != 1 || byte != 'm')
		return -EBADMSG;
	fd = open(s->flag, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	(void) close(fd);
	return s->ret;
}

static int side_wait(struct side *s, struct kts_child_report *rep)
{
	char dir[] = "/tmp/test-supervise.XXXXXX", fifo[64];
	char *argv[] = { (char *) "sh", (char *) "-c",
			 (char *) "printf m >\"$1\"; while [ ! -e \"$2\" ]; do sleep 0.01; done; "
				  "sleep 0.2",
			 (char *) "sh", fifo, s->flag, NULL };
	struct kts_child c = KTS_CHILD_INIT;
	int r;

	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/made", dir);
	snprintf(s->flag, sizeof(s->flag), "%s/flag", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	s->fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(s->fd >= 0);
	struct kts_child_watch w = { .fd = s->fd, .input = side_input, .userdata = s };

	assert_int_equal(supervise_fork(argv, &s->fd, 1, NULL, NULL, &c), 0);
	assert_int_equal(supervise_release(&c, false), 0);
	r = supervise_wait_watch(&c, &w, 1, rep);
	supervise_done(&c);
	(void) close(s->fd);
	(void) unlink(s->flag);
	(void) unlink(fifo);
	(void) rmdir(dir);
	return r;
}

static void test_side_watch_runs_while_command_runs(void **state)
{
	struct side s = { .ret = 1 };
	struct kts_child_report rep = { 0 };

	(void) state;
	/* After the flag COMMAND lives on, and the FIFO stays readable (its writer came and
	 * went: end of file), yet input() is not called again. */
	assert_int_equal(side_wait(&s, &rep), 0);
	assert_int_equal(rep.outcome, KTS_CHILD_RAN);
	assert_int_equal(supervise_exit_code(&rep), 0);
	assert_int_equal(s.calls, 1);
}

static void test_side_watch_error_ends_the_wait(void **state)
{
	struct side s = { .ret = -ECANCELED };
	struct kts_child_report rep = { 0 };

	(void) state;
	assert_int_equal(side_wait(&s, &rep), -ECANCELED);
	assert_int_equal(s.calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status_is_reported),
		cmocka_unit_test(test_death_by_signal_is_128_plus_n),
		cmocka_unit_test(test_missing_program_is_enoent_through_the_pipe),
		cmocka_unit_test(test_not_executable_is_126),
		cmocka_unit_test(test_done_without_release_restores_mask),
		cmocka_unit_test(test_failure_restores_the_signal_mask),
		cmocka_unit_test(test_no_argv_is_einval),
		cmocka_unit_test(test_affinity_binds_cpus_and_memory),
		cmocka_unit_test(test_side_watch_runs_while_command_runs),
		cmocka_unit_test(test_side_watch_error_ends_the_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
