/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-oci-manifest: an OCI manifest as a registry serves it (anyone who can push to the
 * repository writes one) through registry_manifest_parse(). An accepted manifest has only
 * titles that are entry file names (each names a file written into the store's temporary
 * directory: never a path), none twice, metadata.json among them, valid sha256 digests, and
 * it builds back into a manifest that parses to the same layers; a refusal says why.
 */
#include <errno.h>

#include "fuzz.h"
#include "macro.h"
#include "registry-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(registry_manifest_done) struct kts_oci_manifest m = { 0 }, again = { 0 };
	_cleanup_free_ char *why = NULL, *json = NULL;
	bool metadata = false;
	int r;

	r = registry_manifest_parse((const char *) data, size, &m, &why);
	FUZZ_ASSERT(r == 0 || (r == -EBADMSG && fuzz_printable(why)));
	if (r < 0)
		return 0;

	FUZZ_ASSERT(m.n_layers >= 1 && m.n_layers <= 16);
	for (size_t i = 0; i < m.n_layers; i++) {
		const struct kts_oci_layer *l = &m.layers[i];

		FUZZ_ASSERT(registry_media_type(l->title));
		FUZZ_ASSERT(!strchr(l->title, '/') && !streq(l->title, "..") && l->title[0] != '.');
		FUZZ_ASSERT(streq(l->media_type, registry_media_type(l->title)));
		FUZZ_ASSERT(registry_digest_valid(l->digest));
		for (size_t j = 0; j < i; j++)
			FUZZ_ASSERT(!streq(l->title, m.layers[j].title));
		metadata = metadata || streq(l->title, "metadata.json");
	}
	FUZZ_ASSERT(metadata);

	FUZZ_ASSERT(registry_manifest_build(&m, &json) == 0);
	FUZZ_ASSERT(registry_manifest_parse(json, strlen(json), &again, NULL) == 0);
	FUZZ_ASSERT(again.n_layers == m.n_layers);
	for (size_t i = 0; i < m.n_layers; i++) {
		FUZZ_ASSERT(streq(again.layers[i].title, m.layers[i].title));
		FUZZ_ASSERT(streq(again.layers[i].digest, m.layers[i].digest));
		FUZZ_ASSERT(again.layers[i].size == m.layers[i].size);
	}
	return 0;
}
