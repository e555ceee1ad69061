/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-cgroup-stat: the cgroup v2 files telemetry.c reads from a build's scope (cpu.stat,
 * the PSI files, io.stat) through their three parsers, and the cgroup directory found from
 * /proc/self/cgroup and mountinfo text. The kernel writes those files, but a build can run
 * in a cgroup namespace or under a FUSE-mounted /sys of anyone's making: each parser either
 * refuses (-EBADMSG, outputs untouched) or returns values the input bounds.
 */
#include <errno.h>

#include "fuzz.h"
#include "macro.h"
#include "telemetry.h"

static void check_cpu_stat(const char *text, size_t size)
{
	struct kts_telemetry t;
	int r;

	telemetry_init(&t);
	r = telemetry_parse_cpu_stat(text, &t);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	if (r < 0) {
		FUZZ_ASSERT(telemetry_empty(&t));
		return;
	}
	/* three "name value\n" lines at least */
	FUZZ_ASSERT(size >= 3 * strlen("x 0\n") && text[strlen(text) - 1] == '\n');
	FUZZ_ASSERT(t.cpu_usec.from == KTS_TELE_CGROUP && t.user_usec.from == KTS_TELE_CGROUP &&
		    t.system_usec.from == KTS_TELE_CGROUP);
	FUZZ_ASSERT(t.memory_peak.from == KTS_TELE_NONE);
}

static void check_pressure(const char *text)
{
	uint64_t total = 42;
	int r = telemetry_parse_pressure(text, &total);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	if (r < 0)
		FUZZ_ASSERT(total == 42);
	else
		FUZZ_ASSERT(startswith(text, "some ") || strstr(text, "\nsome "));
}

static void check_io_stat(const char *text)
{
	uint64_t rb = 42, wb = 43;
	int r = telemetry_parse_io_stat(text, &rb, &wb);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	if (r < 0)
		FUZZ_ASSERT(rb == 42 && wb == 43);
	else if (!*text)
		FUZZ_ASSERT(rb == 0 && wb == 0);
}

/* Input: /proc/self/cgroup text, a line "--", then mountinfo text. */
static void check_cgroup_dir(char *text)
{
	char *sep = strstr(text, "\n--\n"), *dir = NULL;
	int r;

	if (!sep)
		return;
	*sep = '\0';
	r = telemetry_cgroup_dir(text, sep + 4, &dir);
	FUZZ_ASSERT(r == 0 || r == -ENOENT || r == -EBADMSG);
	FUZZ_ASSERT((r == 0) == !!dir);
	if (dir)
		FUZZ_ASSERT(!strstr(dir, "/../"));
	free(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size);

	check_cpu_stat(text, size);
	check_pressure(text);
	check_io_stat(text);
	check_cgroup_dir(text);
	return 0;
}
