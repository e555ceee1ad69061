/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-oci-tags: the other answers of a registry, the same bytes through each parser: a tags
 * list page (registry_tags_parse(): every tag accepted is a valid tag, so a cache key), a
 * Link header (registry_link_next(): a next page is only ever a path of the registry's own
 * /v2/ API, printable, no spaces, so credentials never go elsewhere) and an error body
 * (registry_error_parse(): one printable line for a message).
 */
#include <errno.h>

#include "fuzz.h"
#include "macro.h"
#include "registry-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size), *why = NULL, *next = NULL,
			    *line = NULL;
	char **tags = NULL;
	size_t n = 0;
	int r;

	r = registry_tags_parse((const char *) data, size, &tags, &n, &why);
	FUZZ_ASSERT(r == 0 || (r == -EBADMSG && fuzz_printable(why)));
	for (size_t i = 0; r == 0 && i < n; i++)
		FUZZ_ASSERT(registry_tag_valid(tags[i], strlen(tags[i])));
	FUZZ_ASSERT(r == 0 || !tags);
	strv_free(tags, n);

	r = registry_link_next(text, &next);
	FUZZ_ASSERT(r == 0 || r == 1 || r == -EBADMSG);
	if (r == 1) {
		FUZZ_ASSERT(startswith(next, "/v2/"));
		FUZZ_ASSERT(fuzz_printable(next) && !strchr(next, ' '));
	}

	r = registry_error_parse((const char *) data, size, &line);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	FUZZ_ASSERT(r < 0 || fuzz_printable(line));
	return 0;
}
