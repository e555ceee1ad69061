/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stop requests (interrupt.h): a caught SIGINT/SIGTERM/SIGHUP is recorded, not fatal; an
 * ignored one stays ignored; a blocking lock wait ends with -EINTR when one arrives.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "interrupt.h"
#include "lock.h"
#include "macro.h"

static void test_caught_and_restored(void **state)
{
	struct kts_interrupt_saved saved;
	struct sigaction now;

	(void) state;
	assert_int_equal(interrupt_pending(), 0);
	interrupt_catch(&saved);
	assert_int_equal(raise(SIGTERM), 0);
	assert_int_equal(interrupt_pending(), SIGTERM);
	/* the first one is kept */
	assert_int_equal(raise(SIGINT), 0);
	assert_int_equal(interrupt_pending(), SIGTERM);
	interrupt_restore(&saved);
	assert_int_equal(interrupt_pending(), 0);
	assert_int_equal(sigaction(SIGTERM, NULL, &now), 0);
	assert_ptr_equal(now.sa_handler, SIG_DFL);
}

static void test_ignored_stays_ignored(void **state)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old, now;
	struct kts_interrupt_saved saved;

	(void) state;
	assert_int_equal(sigaction(SIGHUP, &ign, &old), 0);
	interrupt_catch(&saved);
	assert_int_equal(sigaction(SIGHUP, NULL, &now), 0);
	assert_ptr_equal(now.sa_handler, SIG_IGN);
	assert_int_equal(raise(SIGHUP), 0);
	assert_int_equal(interrupt_pending(), 0);
	interrupt_restore(&saved);
	assert_int_equal(sigaction(SIGHUP, &old, NULL), 0);
}

/* A lock held by a child; we wait for it and get SIGTERM meanwhile (from another child). */
static void test_lock_wait_interrupted(void **state)
{
	char path[] = "/tmp/kts-interrupt-XXXXXX";
	struct kts_interrupt_saved saved;
	int fd, held[2], status;
	pid_t holder, killer;
	char c;

	(void) state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(pipe(held), 0);
	holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		int hfd = open(path, O_RDONLY | O_CLOEXEC);

		if (hfd < 0 || flock(hfd, LOCK_EX) < 0)
			_exit(1);
		(void) !write(held[1], "x", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(held[0], &c, 1), 1);
	interrupt_catch(&saved);
	killer = fork();
	assert_true(killer >= 0);
	if (killer == 0) {
		/* again and again: one that comes before flock() blocks is not seen by it */
		for (int i = 0; i < 100; i++) {
			usleep(100 * 1000);
			(void) kill(getppid(), SIGTERM);
		}
		_exit(0);
	}
	assert_int_equal(lock_wait(fd, KTS_LOCK_EXCLUSIVE), -EINTR);
	assert_int_equal(interrupt_pending(), SIGTERM);
	assert_int_equal(kill(killer, SIGKILL), 0);
	assert_int_equal(waitpid(killer, &status, 0), killer);
	interrupt_restore(&saved);
	assert_int_equal(kill(holder, SIGKILL), 0);
	assert_int_equal(waitpid(holder, &status, 0), holder);
	/* the lock is free now: the wait takes it */
	assert_int_equal(lock_wait(fd, KTS_LOCK_EXCLUSIVE), 0);
	close(fd);
	close(held[0]);
	close(held[1]);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caught_and_restored),
		cmocka_unit_test(test_ignored_stays_ignored),
		cmocka_unit_test(test_lock_wait_interrupted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
