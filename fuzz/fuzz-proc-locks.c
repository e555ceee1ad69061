/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-proc-locks: the kernel's /proc/locks text through lock_parse_proc_locks(), and
 * /proc/PID/cmdline bytes through lock_cmdline_from_bytes(). Input: the first line holds
 * up to four blank-separated dev:inode needles ("08:01:1234"), the rest is /proc/locks;
 * the whole input is also a cmdline. Every holder found is a distinct positive pid.
 */
#include <errno.h>
#include <limits.h>

#include "fuzz.h"
#include "lock.h"
#include "macro.h"

static void check_locks(char *text)
{
	const char *needles[4] = {};
	size_t n_needles = 0, n = 0;
	struct kts_holder *h = NULL;
	char *body = strchr(text, '\n'), *save = NULL;
	int r;

	if (!body)
		return;
	*body++ = '\0';
	for (char *t = strtok_r(text, " \t", &save); t && n_needles < ELEMENTSOF(needles);
	     t = strtok_r(NULL, " \t", &save))
		needles[n_needles++] = t;

	r = lock_parse_proc_locks(body, needles, n_needles, &h, &n);
	FUZZ_ASSERT(r == 0);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(h[i].pid >= 0 && h[i].cmdline == NULL);
		FUZZ_ASSERT(h[i].mode == KTS_LOCK_SHARED || h[i].mode == KTS_LOCK_EXCLUSIVE);
		for (size_t j = 0; j < i; j++)
			FUZZ_ASSERT(h[i].pid != h[j].pid);
	}
	FUZZ_ASSERT(n == 0 || n_needles > 0);
	lock_holders_free(h, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size), *cmdline = NULL;

	FUZZ_ASSERT(lock_cmdline_from_bytes((const char *) data, size, &cmdline) == 0);
	FUZZ_ASSERT(strlen(cmdline) <= 100 * 4 + strlen("…"));
	check_locks(text);
	return 0;
}
