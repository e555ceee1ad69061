/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpuset.h"
#include "macro.h"

/* Parses s, formats it back, and compares with want. */
static void assert_roundtrip(const char *s, const char *want)
{
	struct kts_cpuset set _cleanup_cpuset_ = KTS_CPUSET_INIT;
	_cleanup_free_ char *out = NULL;

	assert_int_equal(cpuset_parse(s, &set), 0);
	assert_int_equal(cpuset_format(&set, &out), 0);
	assert_string_equal(out, want);
}

static void test_parse_format_canonical(void **state)
{
	assert_roundtrip("0-3,8,10-11", "0-3,8,10-11");
	assert_roundtrip("0", "0");
	assert_roundtrip("0-1\n", "0-1");
	assert_roundtrip("", "");
	assert_roundtrip("\n", "");
	/* Overlapping and unordered input is merged into the kernel's canonical form. */
	assert_roundtrip("5,3,4,0-1,1-2", "0-5");
	assert_roundtrip("63-64", "63-64");
	assert_roundtrip("65535", "65535");
	assert_roundtrip("7-7", "7");
}

/* For people: the list, or "-" for nothing. */
static void test_display(void **state)
{
	struct kts_cpuset set = KTS_CPUSET_INIT;
	char *out;

	out = cpuset_display(&set);
	assert_string_equal(out, "-");
	free(out);
	assert_int_equal(cpuset_parse("0-3,8", &set), 0);
	out = cpuset_display(&set);
	assert_string_equal(out, "0-3,8");
	free(out);
	cpuset_done(&set);
}

static void test_parse_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"3-1", "1,,2", "-", ",", "1,", ",1", "1-", "-1", "1-2-3", "a", "1a", "1 ", " 1",
		"+1", "0x3", "1\n\n", "1;2", "1-\n",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct kts_cpuset set _cleanup_cpuset_ = KTS_CPUSET_INIT;

		assert_int_equal(cpuset_add(&set, 42), 0);
		if (cpuset_parse(bad[i], &set) != -EINVAL)
			fail_msg("'%s' was not rejected with -EINVAL", bad[i]);
		/* ret is untouched on failure */
		assert_true(cpuset_has(&set, 42));
		assert_int_equal(cpuset_count(&set), 1);
	}
}

static void test_parse_rejects_too_large(void **state)
{
	struct kts_cpuset set _cleanup_cpuset_ = KTS_CPUSET_INIT;

	assert_int_equal(cpuset_parse("65536", &set), -ERANGE);
	assert_int_equal(cpuset_parse("0-65536", &set), -ERANGE);
	assert_int_equal(cpuset_parse("99999999999999999999", &set), -ERANGE);
	assert_int_equal(cpuset_add(&set, KTS_CPU_MAX), -ERANGE);
	assert_true(cpuset_empty(&set));
}

static void test_set_operations(void **state)
{
	struct kts_cpuset a _cleanup_cpuset_ = KTS_CPUSET_INIT, b _cleanup_cpuset_ = KTS_CPUSET_INIT,
				       d _cleanup_cpuset_ = KTS_CPUSET_INIT;
	_cleanup_free_ char *s1 = NULL, *s2 = NULL, *s3 = NULL;

	assert_int_equal(cpuset_parse("0-7,100", &a), 0);
	assert_int_equal(cpuset_parse("4-11", &b), 0);

	assert_int_equal(cpuset_and(&d, &a, &b), 0);
	assert_int_equal(cpuset_format(&d, &s1), 0);
	assert_string_equal(s1, "4-7");
	assert_int_equal(cpuset_count_and(&a, &b), 4);

	assert_int_equal(cpuset_or(&d, &a, &b), 0);
	assert_int_equal(cpuset_format(&d, &s2), 0);
	assert_string_equal(s2, "0-11,100");

	assert_int_equal(cpuset_sub(&d, &a, &b), 0);
	assert_int_equal(cpuset_format(&d, &s3), 0);
	assert_string_equal(s3, "0-3,100");

	/* dst aliasing an operand */
	assert_int_equal(cpuset_and(&a, &a, &b), 0);
	assert_int_equal(cpuset_count(&a), 4);
	assert_true(cpuset_is_subset(&a, &b));
	assert_false(cpuset_is_subset(&b, &a));

	assert_int_equal(cpuset_next(&b, -1), 4);
	assert_int_equal(cpuset_next(&b, 4), 5);
	assert_int_equal(cpuset_next(&b, 11), -1);
	assert_int_equal(cpuset_last(&b), 11);
	cpuset_del(&b, 11);
	assert_int_equal(cpuset_last(&b), 10);
	cpuset_clear(&b);
	assert_true(cpuset_empty(&b));
	assert_int_equal(cpuset_last(&b), -1);
}

static void test_equal_ignores_capacity(void **state)
{
	struct kts_cpuset a _cleanup_cpuset_ = KTS_CPUSET_INIT, b _cleanup_cpuset_ = KTS_CPUSET_INIT;

	assert_int_equal(cpuset_add(&a, 1), 0);
	assert_int_equal(cpuset_add(&b, 1), 0);
	assert_int_equal(cpuset_add(&b, 1000), 0);
	cpuset_del(&b, 1000);
	/* b has more words allocated but the same members */
	assert_true(cpuset_equal(&a, &b));
	assert_int_equal(cpuset_copy(&a, &b), 0);
	assert_true(cpuset_equal(&a, &b));
}

static void test_foreach_visits_members_in_order(void **state)
{
	struct kts_cpuset s _cleanup_cpuset_ = KTS_CPUSET_INIT;
	int seen[8], n = 0;

	assert_int_equal(cpuset_parse("3,64,65,127,128,1023", &s), 0);
	CPUSET_FOREACH(c, &s) {
		assert_true(n < 8);
		seen[n++] = c;
	}
	assert_int_equal(n, 6);
	assert_int_equal(seen[0], 3);
	assert_int_equal(seen[1], 64);
	assert_int_equal(seen[2], 65);
	assert_int_equal(seen[3], 127);
	assert_int_equal(seen[4], 128);
	assert_int_equal(seen[5], 1023);
}

static void test_dbus_bitmask_layout(void **state)
{
	struct kts_cpuset s _cleanup_cpuset_ = KTS_CPUSET_INIT, back _cleanup_cpuset_ = KTS_CPUSET_INIT;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	/* byte i, bit j = CPU 8i+j (systemd's cpu_set_to_dbus) */
	assert_int_equal(cpuset_parse("0,2,9,17", &s), 0);
	assert_int_equal(cpuset_to_bitmask(&s, &buf, &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(buf[0], 0x05);
	assert_int_equal(buf[1], 0x02);
	assert_int_equal(buf[2], 0x02);

	assert_int_equal(cpuset_from_bitmask(buf, len, &back), 0);
	assert_true(cpuset_equal(&s, &back));
}

static void test_dbus_bitmask_empty_and_high(void **state)
{
	struct kts_cpuset s _cleanup_cpuset_ = KTS_CPUSET_INIT;
	_cleanup_free_ uint8_t *buf = NULL, *buf2 = NULL;
	size_t len;

	assert_int_equal(cpuset_to_bitmask(&s, &buf, &len), 0);
	assert_int_equal(len, 0);

	assert_int_equal(cpuset_add(&s, 1023), 0);
	assert_int_equal(cpuset_to_bitmask(&s, &buf2, &len), 0);
	assert_int_equal(len, 128);
	assert_int_equal(buf2[127], 0x80);
	for (size_t i = 0; i < 127; i++)
		assert_int_equal(buf2[i], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format_canonical),
		cmocka_unit_test(test_display),
		cmocka_unit_test(test_parse_rejects_malformed),
		cmocka_unit_test(test_parse_rejects_too_large),
		cmocka_unit_test(test_set_operations),
		cmocka_unit_test(test_equal_ignores_capacity),
		cmocka_unit_test(test_foreach_visits_members_in_order),
		cmocka_unit_test(test_dbus_bitmask_layout),
		cmocka_unit_test(test_dbus_bitmask_empty_and_high),
	};

	return cmocka_run_group_tests_name("cpuset", tests, NULL, NULL);
}
