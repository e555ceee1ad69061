/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-distcc-hosts: engine_distcc_hosts_parse() over any bytes ($DISTCC_HOSTS and
 * --distcc=HOSTS are the user's). What it accepts is bounded (entries, LIMITs, ports) and
 * made of printable entries; the entries joined by spaces parse again to the same hosts
 * (what engine_plan() hands distcc); a refusal is one printable line naming the entry.
 */
#include <errno.h>

#include "engine.h"
#include "fuzz.h"
#include "macro.h"

static void check_entry(const struct engine_host *e)
{
	FUZZ_ASSERT(e->spec && *e->spec);
	for (const char *c = e->spec; *c; c++)
		FUZZ_ASSERT(*c > ' ' && *c < 0x7f && *c != '#');
	FUZZ_ASSERT(e->slots >= 1 && e->slots <= ENGINE_HOST_MAX_SLOTS);
	if (e->kind == ENGINE_HOST_TCP)
		FUZZ_ASSERT(e->port >= 1 && e->name && *e->name);
	if (e->kind == ENGINE_HOST_SSH)
		FUZZ_ASSERT(e->name && *e->name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size), *why = NULL, *joined = NULL;
	struct engine_hosts h _cleanup_(engine_hosts_done) = { 0 };
	struct engine_hosts again _cleanup_(engine_hosts_done) = { 0 };
	size_t len = 0;
	int r;

	r = engine_distcc_hosts_parse(text, &h, &why);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r < 0) {
		FUZZ_ASSERT(why && fuzz_printable(why) && strlen(why) < 200);
		return 0;
	}
	FUZZ_ASSERT(h.n >= 1 && h.n <= ENGINE_HOSTS_MAX);
	FUZZ_ASSERT(engine_hosts_remote_slots(&h) <= ENGINE_HOSTS_MAX * ENGINE_HOST_MAX_SLOTS);
	for (size_t i = 0; i < h.n; i++) {
		check_entry(&h.v[i]);
		len += strlen(h.v[i].spec) + 1;
	}
	joined = calloc(len + 1, 1);
	FUZZ_ASSERT(joined);
	for (size_t i = 0; i < h.n; i++) {
		strcat(joined, h.v[i].spec);
		strcat(joined, " ");
	}
	FUZZ_ASSERT(engine_distcc_hosts_parse(joined, &again, NULL) == 0);
	FUZZ_ASSERT(again.n == h.n);
	for (size_t i = 0; i < h.n; i++) {
		FUZZ_ASSERT(again.v[i].kind == h.v[i].kind && again.v[i].slots == h.v[i].slots);
		FUZZ_ASSERT(again.v[i].port == h.v[i].port && again.v[i].down == h.v[i].down);
		FUZZ_ASSERT(streq(again.v[i].spec, h.v[i].spec));
	}
	return 0;
}
