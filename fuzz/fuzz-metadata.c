/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-metadata: metadata.json of a cache entry (anyone can edit or corrupt one) through
 * metadata_parse(). A document it accepts must write back with metadata_to_string(), and
 * that text must read back to the same text; a refusal must say why, and the accepted
 * bytes hold no NUL (a C string ends there, so the reader would see another document).
 */
#include <errno.h>

#include "fuzz.h"
#include "macro.h"
#include "metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_metadata_ struct kts_metadata *m = NULL, *again = NULL;
	_cleanup_free_ char *why = NULL, *text = NULL, *text2 = NULL;
	int r;

	r = metadata_parse((const char *) data, size, &m, &why);
	FUZZ_ASSERT(r == 0 || (r == -EBADMSG && fuzz_printable(why)));
	if (r < 0)
		return 0;
	FUZZ_ASSERT(!memchr(data, '\0', size));

	FUZZ_ASSERT(metadata_validate(m, NULL) == 0);
	FUZZ_ASSERT(metadata_to_string(m, &text) == 0);
	r = metadata_parse(text, strlen(text), &again, NULL);
	FUZZ_ASSERT(r == 0);
	FUZZ_ASSERT(metadata_to_string(again, &text2) == 0);
	FUZZ_ASSERT(streq(text, text2));
	return 0;
}
