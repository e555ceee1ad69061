/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-cpuset: cpuset_parse() over any bytes (sysfs cpu lists, AllowedCPUs= values, the
 * user's --cpus). What it accepts must format back to a list that parses to the same
 * set, and survive the D-Bus bitmask encoding both ways.
 */
#include <errno.h>

#include "cpuset.h"
#include "fuzz.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size), *formatted = NULL;
	_cleanup_free_ uint8_t *mask = NULL;
	_cleanup_cpuset_ struct kts_cpuset s = KTS_CPUSET_INIT, again = KTS_CPUSET_INIT,
					    back = KTS_CPUSET_INIT;
	size_t mask_len;
	int r;

	r = cpuset_parse(text, &s);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r < 0)
		return 0;
	FUZZ_ASSERT(cpuset_last(&s) < (int) KTS_CPU_MAX);

	FUZZ_ASSERT(cpuset_format(&s, &formatted) == 0);
	FUZZ_ASSERT(cpuset_parse(formatted, &again) == 0);
	FUZZ_ASSERT(cpuset_equal(&s, &again));

	FUZZ_ASSERT(cpuset_to_bitmask(&s, &mask, &mask_len) == 0);
	FUZZ_ASSERT(cpuset_from_bitmask(mask, mask_len, &back) == 0);
	FUZZ_ASSERT(cpuset_equal(&s, &back));
	FUZZ_ASSERT(cpuset_count(&s) == cpuset_count_and(&s, &back));
	return 0;
}
