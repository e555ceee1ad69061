/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-capabilities: capabilities.json of a cache entry (a pulled entry's file is anyone's)
 * through caps_parse(). A refusal is -EBADMSG with a printable reason; an accepted manifest
 * writes back with caps_to_string(), that text reads back to the same text, and the two
 * manifests have no difference for caps_diff().
 */
#include <errno.h>

#include "caps.h"
#include "fuzz.h"
#include "macro.h"

static void no_difference(enum kts_caps_diff_kind kind, const char *name, const char *in_a,
			  const char *in_b, void *userdata)
{
	(void) kind;
	(void) name;
	(void) in_a;
	(void) in_b;
	(void) userdata;
	FUZZ_ASSERT(!"a manifest differs from its own copy");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *why = NULL, *text = NULL, *text2 = NULL;
	struct kts_caps c = { 0 }, again = { 0 };
	int r;

	r = caps_parse((const char *) data, size, "fuzz", &c, &why);
	FUZZ_ASSERT(r == 0 || (r == -EBADMSG && fuzz_printable(why)));
	if (r < 0)
		return 0;
	FUZZ_ASSERT(!memchr(data, '\0', size));
	FUZZ_ASSERT(c.sched_ext || c.n_ops == 0);

	FUZZ_ASSERT(caps_to_string(&c, &text) == 0);
	FUZZ_ASSERT(caps_parse(text, strlen(text), "again", &again, NULL) == 0);
	FUZZ_ASSERT(caps_to_string(&again, &text2) == 0);
	FUZZ_ASSERT(strcmp(text, text2) == 0);
	FUZZ_ASSERT(caps_diff(&c, &again, no_difference, NULL) == 0);
	caps_done(&c);
	caps_done(&again);
	return 0;
}
