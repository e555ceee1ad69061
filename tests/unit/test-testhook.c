/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The test hooks (testhook.h): the KTSCOPE_TEST_HOOK parser, the environment check, and
 * the fail and pause actions, run in forked children so the environment stays ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "interrupt.h"
#include "macro.h"
#include "testhook.h"
#include "util.h"

static enum kts_testhook_action action_for(const char *spec, const char *step)
{
	enum kts_testhook_action a = (enum kts_testhook_action) 99;
	_cleanup_free_ char *why = NULL;

	assert_int_equal(testhook_parse(spec, step, &a, &why), 0);
	assert_null(why);
	return a;
}

static void test_parse_valid(void **state)
{
	(void) state;
	assert_int_equal(action_for(NULL, "make"), KTS_TESTHOOK_NONE);
	assert_int_equal(action_for("", "make"), KTS_TESTHOOK_NONE);
	assert_int_equal(action_for("make:fail", "make"), KTS_TESTHOOK_FAIL);
	assert_int_equal(action_for("make:fail", "strip"), KTS_TESTHOOK_NONE);
	assert_int_equal(action_for("make:fail", NULL), KTS_TESTHOOK_NONE);
	const char *all = "reserve:pause,fetch:fail,configure:pause,make:fail,strip:pause,"
			  "vmlinux-h:fail,capabilities:pause,"
			  "store-before-rename:fail,store-after-rename:pause,unlock:fail";
	assert_int_equal(action_for(all, "reserve"), KTS_TESTHOOK_PAUSE);
	assert_int_equal(action_for(all, "fetch"), KTS_TESTHOOK_FAIL);
	assert_int_equal(action_for(all, "store-before-rename"), KTS_TESTHOOK_FAIL);
	assert_int_equal(action_for(all, "vmlinux-h"), KTS_TESTHOOK_FAIL);
	assert_int_equal(action_for(all, "capabilities"), KTS_TESTHOOK_PAUSE);
	assert_int_equal(action_for(all, "store-after-rename"), KTS_TESTHOOK_PAUSE);
	assert_int_equal(action_for(all, "unlock"), KTS_TESTHOOK_FAIL);
	/* a prefix of a step is not that step */
	assert_int_equal(action_for("store-before-rename:fail", "store"), KTS_TESTHOOK_NONE);
}

/* spec is refused with a reason containing each of the NULL-terminated words. */
static void assert_refused(const char *spec, ...)
{
	enum kts_testhook_action a = KTS_TESTHOOK_PAUSE;
	_cleanup_free_ char *why = NULL;
	const char *w;
	va_list ap;

	assert_int_equal(testhook_parse(spec, "make", &a, &why), -EINVAL);
	assert_int_equal(a, KTS_TESTHOOK_PAUSE); /* untouched */
	assert_non_null(why);
	assert_null(strchr(why, '\n'));
	va_start(ap, spec);
	while ((w = va_arg(ap, const char *)))
		if (!strstr(why, w))
			fail_msg("reason for '%s' is '%s', without '%s'", spec, why, w);
	va_end(ap);
}

static void test_parse_refuses(void **state)
{
	(void) state;
	assert_refused("make", "'make'", "STEP:ACTION", NULL);
	assert_refused("bogus:fail", "unknown step 'bogus'", "store-after-rename", NULL);
	assert_refused("make:explode", "unknown action 'explode'", "'make'", NULL);
	assert_refused("make:", "unknown action ''", NULL);
	assert_refused(":fail", "unknown step ''", NULL);
	assert_refused("make:fail,", "empty item", NULL);
	assert_refused(",make:fail", "'' is not STEP:ACTION", NULL);
	assert_refused("make:fail,,strip:fail", "'' is not STEP:ACTION", NULL);
	assert_refused("make:fail,make:pause", "'make' is named twice", NULL);
	assert_refused("Make:fail", "unknown step 'Make'", NULL);
	assert_refused("make:fail ", "unknown action 'fail '", NULL);
	/* a bad item after the one asked for still refuses the whole spec */
	assert_refused("make:fail,strip:nope", "unknown action 'nope'", NULL);
}

/* Runs testhook_check_env() in a child with the given environment; returns its reason. */
static char *check_env_in_child(const char *spec, const char *dir)
{
	int p[2], status;
	char buf[512] = "";
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		_cleanup_free_ char *why = NULL;
		int r;

		(void) setenv("KTSCOPE_TEST_HOOK", spec, 1);
		if (dir)
			(void) setenv("KTSCOPE_TEST_HOOK_DIR", dir, 1);
		else
			(void) unsetenv("KTSCOPE_TEST_HOOK_DIR");
		r = testhook_check_env(&why);
		if (r < 0 && why)
			(void) write_all(p[1], why, strlen(why));
		_exit(r < 0 ? 1 : 0);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status) != 0, n > 0);
	return n > 0 ? strndup(buf, (size_t) n) : NULL;
}

static void test_check_env(void **state)
{
	_cleanup_free_ char *bad = NULL, *nodir = NULL, *ok = NULL, *okdir = NULL;

	(void) state;
	bad = check_env_in_child("make:boom", "/tmp");
	nodir = check_env_in_child("make:pause", NULL);
	ok = check_env_in_child("make:fail", NULL);
	okdir = check_env_in_child("make:pause", "/tmp");
	assert_null(ok);
	assert_null(okdir);
	if (!TESTHOOK_COMPILED) {
		/* not compiled in: the variable is never read */
		assert_null(bad);
		assert_null(nodir);
		return;
	}
	assert_non_null(bad);
	assert_non_null(strstr(bad, "KTSCOPE_TEST_HOOK='make:boom'"));
	assert_non_null(strstr(bad, "unknown action 'boom'"));
	assert_non_null(nodir);
	assert_non_null(strstr(nodir, "KTSCOPE_TEST_HOOK_DIR is not set"));
}

static void test_run_fail_and_none(void **state)
{
	(void) state;
	assert_int_equal(setenv("KTSCOPE_TEST_HOOK", "strip:fail", 1), 0);
	assert_int_equal(testhook_run("strip"), -EIO);
	assert_int_equal(testhook_run("make"), 0);
	assert_int_equal(unsetenv("KTSCOPE_TEST_HOOK"), 0);
	assert_int_equal(testhook_run("strip"), 0);
	/* the call sites' inline: a no-op unless compiled in */
	assert_int_equal(setenv("KTSCOPE_TEST_HOOK", "strip:fail", 1), 0);
	assert_int_equal(testhook("strip"), TESTHOOK_COMPILED ? -EIO : 0);
	assert_int_equal(unsetenv("KTSCOPE_TEST_HOOK"), 0);
}

/* A child paused at make: status 10 + testhook_run()'s -result; the .paused path in path. */
static pid_t start_paused(const char *dir, char *path, size_t size)
{
	pid_t pid;

	snprintf(path, size, "%s/make.paused", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct kts_interrupt_saved saved;

		interrupt_catch(&saved);
		(void) setenv("KTSCOPE_TEST_HOOK", "make:pause", 1);
		(void) setenv("KTSCOPE_TEST_HOOK_DIR", dir, 1);
		_exit(10 - testhook_run("make"));
	}
	for (int i = 0; i < 500 && access(path, F_OK) < 0; i++)
		usleep(10 * 1000);
	return pid;
}

static void test_run_pause(void **state)
{
	char dir[] = "/tmp/kts-testhook-XXXXXX", path[256], want[32];
	_cleanup_free_ char *got = NULL;
	int status;
	pid_t pid;

	(void) state;
	assert_non_null(mkdtemp(dir));
	pid = start_paused(dir, path, sizeof(path));
	assert_int_equal(read_full_file(path, 64, &got, NULL), 0);
	snprintf(want, sizeof(want), "%d\n", (int) pid);
	assert_string_equal(got, want);
	/* still paused while the file is there */
	usleep(100 * 1000);
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 10);

	/* a stop request (interrupt.h) ends the pause with -EINTR */
	pid = start_paused(dir, path, sizeof(path));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 10 + EINTR);
	assert_int_equal(rm_rf(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_check_env),
		cmocka_unit_test(test_run_fail_and_none),
		cmocka_unit_test(test_run_pause),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
