/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-release: what a kernel.org mirror answers (releases.json and sha256sums.asc bodies)
 * through source_release_resolve_json() and source_release_sums_lookup(). Input: the first
 * line is the spec ("stable", "mainline", "6.12", "6.12.3"), the rest the body, read as
 * both documents. Whatever resolves must be a well-formed version; a checksum found is 64
 * lowercase hex digits, of the version asked for or of the series, from the line naming it.
 */
#include <errno.h>
#include <strings.h>

#include "fuzz.h"
#include "macro.h"
#include "source-internal.h"
#include "source.h"

static void check_json(const char *body, const char *spec)
{
	_cleanup_free_ char *ver = NULL, *why = NULL;
	int r = source_release_resolve_json(body, "releases.json", spec, &ver, &why);

	FUZZ_ASSERT(r == 0 || ((r == -EPROTO || r == -ENOENT) && fuzz_printable(why)));
	if (r == 0)
		FUZZ_ASSERT(source_version_parse(ver, NULL, NULL, NULL));
}

/* Some line of body starts with sha (any case) and names linux-{version}.tar.xz. */
static int line_pairs(const char *body, const char *sha, const char *version)
{
	_cleanup_free_ char *name = NULL;

	FUZZ_ASSERT(asprintf(&name, "linux-%s.tar.xz", version) > 0);
	for (const char *p = strstr(body, name); p; p = strstr(p + 1, name)) {
		const char *bol = p;

		while (bol > body && bol[-1] != '\n')
			bol--;
		if (strncasecmp(bol, sha, 64) == 0)
			return 1;
	}
	return 0;
}

static void check_sums(const char *body, const char *spec)
{
	_cleanup_free_ char *ver = NULL;
	unsigned long v[3], rc;
	char sha[65];
	int r;

	r = source_release_sums_lookup(body, spec, NULL, sha, NULL);
	FUZZ_ASSERT(r == 0 || r == -ENOENT);
	if (r == 0) {
		FUZZ_ASSERT(strlen(sha) == 64 && strspn(sha, "0123456789abcdef") == 64);
		FUZZ_ASSERT(line_pairs(body, sha, spec));
	}

	if (!source_version_parse(spec, NULL, NULL, NULL))
		return;
	r = source_release_sums_lookup(body, NULL, spec, sha, &ver);
	FUZZ_ASSERT(r == 0 || r == -ENOENT);
	if (r < 0)
		return;
	FUZZ_ASSERT(strlen(sha) == 64 && strspn(sha, "0123456789abcdef") == 64);
	FUZZ_ASSERT(source_version_parse(ver, v, &rc, NULL) && rc == 0);
	FUZZ_ASSERT(strncmp(ver, spec, strlen(spec)) == 0);
	FUZZ_ASSERT(line_pairs(body, sha, ver));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size);
	char *body = strchr(text, '\n');

	if (!body)
		return 0;
	*body++ = '\0';
	/* ktscope resolves only what source_is_release_spec() accepted. */
	if (!source_is_release_spec(text))
		return 0;
	check_json(body, text);
	check_sums(body, text);
	return 0;
}
