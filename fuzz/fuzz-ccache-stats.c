/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-ccache-stats: what ccache writes and says, read by compile-parse.c: a build's
 * CCACHE_STATSLOG (written by every compiler process of the build, so by anything the
 * build runs), `ccache --show-config` and `ccache --version`; and a --ccache-remote URL,
 * whose shown form must never keep a user:password@. Accepted inputs keep the promised
 * bounds; refusals leave the outputs untouched.
 */
#include <errno.h>

#include "compile.h"
#include "fuzz.h"
#include "macro.h"

static void check_stats(const uint8_t *data, size_t size)
{
	struct kts_compile_stats s = { .misses = 7 };
	int r = compile_stats_parse((const char *) data, size, &s);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	if (r < 0) {
		FUZZ_ASSERT(!s.present && s.misses == 7);
		return;
	}
	FUZZ_ASSERT(s.present && !memchr(data, 0, size));
	/* Each counter is one line of at least two bytes ("x\n"), the last maybe without '\n'. */
	FUZZ_ASSERT(s.direct_hits + s.preprocessed_hits + s.misses + s.uncacheable +
			    s.remote_hits + s.errors <= size / 2 + 1);
}

static void check_config(const uint8_t *data, size_t size)
{
	char *value = NULL;
	bool dflt = false;
	int r = compile_config_parse((const char *) data, size, "cache_dir", &value, &dflt);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOENT);
	FUZZ_ASSERT((r == 0) == !!value);
	if (value)
		FUZZ_ASSERT(!strchr(value, '\n') && strlen(value) < size);
	free(value);
}

static void check_version(const uint8_t *data, size_t size)
{
	char *v = NULL, *f = NULL;
	int r = compile_version_parse((const char *) data, size, &v, &f);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	FUZZ_ASSERT((r == 0) == (v && f));
	if (v) {
		FUZZ_ASSERT(*v && strspn(v, "0123456789.") == strlen(v) && strlen(v) <= 32);
		FUZZ_ASSERT(compile_version_cmp(v, v) == 0);
		FUZZ_ASSERT(!strchr(f, '\n'));
	}
	free(v);
	free(f);
}

static void check_url(const uint8_t *data, size_t size)
{
	char *url = fuzz_strndup(data, size), *shown = NULL, *again = NULL;
	int r = compile_remote_check(url, &shown);

	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	FUZZ_ASSERT(shown && strlen(shown) <= strlen(url));
	/* Shown once, nothing more to cut: no credentials left. */
	(void) compile_remote_check(shown, &again);
	FUZZ_ASSERT(streq(again, shown));
	free(again);
	free(shown);
	free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_stats(data, size);
	check_config(data, size);
	check_version(data, size);
	check_url(data, size);
	return 0;
}
