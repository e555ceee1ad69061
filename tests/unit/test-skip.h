/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A unit test's missing prerequisite (a tool, a kernel feature, the fake mirror), one
 * rule for every test program: test_need(COND, WHY) goes on when COND holds; otherwise
 * it prints "# missing prerequisite: WHY" and skips the test, except under CI=true,
 * where the machine is provisioned for every test and the test fails instead, so that
 * a CI run cannot pass by skipping. Include after <cmocka.h>.
 */
#include <stdlib.h>
#include <string.h>

static inline int test_ci(void)
{
	const char *ci = getenv("CI");

	return ci && strcmp(ci, "true") == 0;
}

#define test_need(cond, why)                                                              \
	do {                                                                              \
		if (!(cond)) {                                                            \
			print_message("# missing prerequisite: %s\n", (why));             \
			if (test_ci())                                                    \
				fail_msg("CI=true but cannot run: %s", (why));            \
			skip();                                                           \
		}                                                                         \
	} while (0)
