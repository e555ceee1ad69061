/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/*
 * Test hooks (configure --enable-test-hooks, which defines KTS_TEST_HOOKS): a test pauses
 * or fails a named step of a build to send it a signal there, or to see its failure path.
 *
 *   KTSCOPE_TEST_HOOK=STEP:ACTION[,STEP:ACTION...]
 *   STEP   reserve fetch configure make strip vmlinux-h capabilities store-before-rename
 *          store-after-rename unlock
 *   ACTION fail   the step fails with -EIO; logs "test hook: failing STEP"
 *          pause  writes "PID\n" to $KTSCOPE_TEST_HOOK_DIR/STEP.paused (atomically), then
 *                 polls every 20 ms until that file is removed, then the step goes on
 *
 * Call sites use testhook(STEP) where the step may fail: a static inline returning 0 when
 * hooks are not compiled in, so a release build carries no hook and reads no variable.
 * The parser and the actions below are compiled in every build (the unit test uses them);
 * only testhook() reaches them, and only when KTS_TEST_HOOKS is defined.
 */

#ifdef KTS_TEST_HOOKS
#define TESTHOOK_COMPILED true
#else
#define TESTHOOK_COMPILED false
#endif

enum kts_testhook_action {
	KTS_TESTHOOK_NONE,
	KTS_TESTHOOK_FAIL,
	KTS_TESTHOOK_PAUSE,
};

/*
 * Parses the whole spec (every item is checked, whichever step is asked) and returns the
 * action for step in *ret_action (KTS_TESTHOOK_NONE when the spec does not name it).
 * A NULL or empty spec names no step. -EINVAL for a malformed item, an unknown step or
 * action, or a step named twice, with *ret_why a malloc'd one-line reason naming the item;
 * -ENOMEM. Nothing is written on failure.
 */
int testhook_parse(const char *spec, const char *step, enum kts_testhook_action *ret_action,
		   char **ret_why);

/*
 * Checks KTSCOPE_TEST_HOOK (and that KTSCOPE_TEST_HOOK_DIR is set when a step pauses).
 * 0 when valid or unset; -EINVAL with *ret_why naming the variable and the value.
 */
int testhook_check_env(char **ret_why);

/*
 * Runs the action the environment gives step: 0 for none, and after a pause that ended
 * with the removal of the .paused file; -EIO for fail; -EINTR when a stop was requested
 * (interrupt.h) before or during the pause; -errno when the .paused file cannot be written.
 */
int testhook_run(const char *step);

static inline int testhook(const char *step)
{
#ifdef KTS_TEST_HOOKS
	return testhook_run(step);
#else
	(void) step;
	return 0;
#endif
}
