/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test hooks (testhook.h): the KTSCOPE_TEST_HOOK parser and the fail and pause actions.
 * It owns the list of hookable steps; the steps themselves only call testhook(STEP).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "interrupt.h"
#include "log.h"
#include "macro.h"
#include "testhook.h"
#include "util.h"

static const char *const steps[] = {
	"reserve", "fetch", "configure", "make", "strip", "vmlinux-h", "capabilities",
	"store-before-rename", "store-after-rename", "unlock",
};
#define STEPS_HELP "reserve, fetch, configure, make, strip, vmlinux-h, capabilities, " \
		   "store-before-rename, store-after-rename, unlock"

static int step_index(const char *s, size_t len)
{
	for (size_t i = 0; i < ELEMENTSOF(steps); i++)
		if (strlen(steps[i]) == len && strncmp(steps[i], s, len) == 0)
			return (int) i;
	return -1;
}

static int action_of(const char *s, size_t len, enum kts_testhook_action *ret)
{
	if (len == 4 && strncmp(s, "fail", 4) == 0)
		*ret = KTS_TESTHOOK_FAIL;
	else if (len == 5 && strncmp(s, "pause", 5) == 0)
		*ret = KTS_TESTHOOK_PAUSE;
	else
		return -EINVAL;
	return 0;
}

/* One item "STEP:ACTION" of len bytes at s: its step's index and action; *ret_why on -EINVAL. */
static int parse_item(const char *s, size_t len, int *ret_step, enum kts_testhook_action *ret_action,
		      char **ret_why)
{
	const char *colon = memchr(s, ':', len);
	int step;

	if (!colon)
		return why_set(ret_why, -EINVAL, "'%.*s' is not STEP:ACTION", (int) len, s);
	step = step_index(s, (size_t) (colon - s));
	if (step < 0)
		return why_set(ret_why, -EINVAL, "unknown step '%.*s' (steps: " STEPS_HELP ")",
			       (int) (colon - s), s);
	if (action_of(colon + 1, len - (size_t) (colon + 1 - s), ret_action) < 0)
		return why_set(ret_why, -EINVAL, "unknown action '%.*s' for '%s' (fail or pause)",
			       (int) (len - (size_t) (colon + 1 - s)), colon + 1, steps[step]);
	*ret_step = step;
	return 0;
}

int testhook_parse(const char *spec, const char *step, enum kts_testhook_action *ret_action,
		   char **ret_why)
{
	enum kts_testhook_action found = KTS_TESTHOOK_NONE;
	unsigned seen = 0;

	for (const char *p = spec; p && *p;) {
		size_t len = strcspn(p, ",");
		enum kts_testhook_action a = KTS_TESTHOOK_NONE;
		int i = -1, r;

		r = parse_item(p, len, &i, &a, ret_why);
		if (r < 0)
			return r;
		if (seen & (1u << i))
			return why_set(ret_why, -EINVAL, "step '%s' is named twice", steps[i]);
		seen |= 1u << i;
		if (step && streq(steps[i], step))
			found = a;
		p += len;
		if (*p == ',' && !*++p)
			return why_set(ret_why, -EINVAL, "an empty item after the last ','");
	}
	*ret_action = found;
	return 0;
}

/* Does the spec pause any step? (The spec is valid.) */
static bool pauses(const char *spec)
{
	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		enum kts_testhook_action a = KTS_TESTHOOK_NONE;

		if (testhook_parse(spec, steps[i], &a, NULL) == 0 && a == KTS_TESTHOOK_PAUSE)
			return true;
	}
	return false;
}

int testhook_check_env(char **ret_why)
{
	const char *spec = getenv("KTSCOPE_TEST_HOOK");
	_cleanup_free_ char *why = NULL;
	enum kts_testhook_action a;
	int r;

	if (!TESTHOOK_COMPILED || !spec || !*spec)
		return 0;
	r = testhook_parse(spec, NULL, &a, &why);
	if (r == -EINVAL)
		return why_set(ret_why, r, "invalid KTSCOPE_TEST_HOOK='%s': %s", spec, why);
	if (r < 0)
		return r;
	if (pauses(spec) && !getenv_nonempty("KTSCOPE_TEST_HOOK_DIR"))
		return why_set(ret_why, -EINVAL, "KTSCOPE_TEST_HOOK='%s' pauses a step but "
			       "KTSCOPE_TEST_HOOK_DIR is not set", spec);
	return 0;
}

/* Announces the pause in dir/step.paused and waits for that file to go. */
static int pause_at(const char *step)
{
	const char *dir = getenv_nonempty("KTSCOPE_TEST_HOOK_DIR");
	_cleanup_free_ char *path = NULL;
	char pid[32];
	int r, n;

	if (!dir)
		return -EINVAL;
	if (asprintf(&path, "%s/%s.paused", dir, step) < 0)
		return -ENOMEM;
	n = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
	r = write_file_atomic(path, pid, (size_t) n, 0644);
	if (r < 0)
		return r;
	log_notice("test hook: paused at %s until '%s' is removed", step, path);
	for (;;) {
		struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };

		if (access(path, F_OK) < 0)
			return errno == ENOENT ? 0 : negative_errno();
		if (interrupt_pending())
			return -EINTR;
		(void) nanosleep(&ts, NULL); /* cut short by a signal: look again */
	}
}

int testhook_run(const char *step)
{
	enum kts_testhook_action a = KTS_TESTHOOK_NONE;
	int r;

	r = testhook_parse(getenv("KTSCOPE_TEST_HOOK"), step, &a, NULL);
	if (r < 0)
		return r; /* checked at startup (testhook_check_env) */
	switch (a) {
	case KTS_TESTHOOK_FAIL:
		log_warning("test hook: failing %s", step);
		return -EIO;
	case KTS_TESTHOOK_PAUSE:
		r = pause_at(step);
		if (r < 0)
			log_warning_errno(r, "test hook: pause at %s ended: %m", step);
		return r;
	default:
		return 0;
	}
}
