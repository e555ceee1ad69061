/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-icecc-listcs: an icecream scheduler's text interface answer (greeting, the listcs
 * server and job lines, "200 done") through engine_icecc_listcs_parse(), with and without
 * a node name of this machine taken from the input's first line; the input is also a
 * daemon configuration file (engine_icecc_conf_scheduler()) and a HOST[:PORT]
 * (engine_icecc_parse_scheduler()) and a scheduler's answer to the discovery broadcast
 * (engine_icecc_announce_parse()). Checked: the counts agree (remote servers are servers,
 * slots bounded by servers x the per-server cap and by make's limit), leaving out this
 * machine's node never adds slots, and what is accepted as a scheduler is a valid host.
 */
#include <ctype.h>
#include <errno.h>

#include "engine-icecc.h"
#include "fuzz.h"
#include "job.h"
#include "macro.h"

static void check_listcs(const char *data, size_t size)
{
	struct engine_icecc_servers all, mine;
	const char *nl = memchr(data, '\n', size);
	char self[64] = "";
	int r;

	r = engine_icecc_listcs_parse(data, size, NULL, &all);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -EFBIG);
	if (r < 0)
		return;
	FUZZ_ASSERT(all.remote <= all.servers);
	FUZZ_ASSERT(all.remote_slots <= JOB_MAX_JOBS);
	FUZZ_ASSERT((unsigned long long) all.remote_slots <=
		    (unsigned long long) all.remote * ENGINE_ICECC_SERVER_MAX_SLOTS);
	/* a node name from the first server line's position: any word of the input */
	if (nl && (size_t) (nl - data) + 2 < size) {
		const char *w = nl + 2;
		size_t l = 0;

		while (w + l < data + size && l < sizeof(self) - 1 && w[l] > ' ')
			l++;
		memcpy(self, w, l);
		self[l] = '\0';
	}
	FUZZ_ASSERT(engine_icecc_listcs_parse(data, size, self, &mine) == 0);
	FUZZ_ASSERT(mine.servers == all.servers);
	FUZZ_ASSERT(mine.remote <= all.remote && mine.remote_slots <= all.remote_slots);
}

static void check_scheduler(const char *text)
{
	char *val = NULL, *host = NULL;
	uint16_t port = 0;

	FUZZ_ASSERT(engine_icecc_conf_scheduler(text, &val) == 0);
	FUZZ_ASSERT(!val || *val);
	free(val);
	if (engine_icecc_parse_scheduler(text, &host, &port) == 0) {
		FUZZ_ASSERT(port > 0 && *host && strlen(host) <= 253);
		for (const char *p = host; *p; p++)
			FUZZ_ASSERT(isalnum((unsigned char) *p) || strchr(".-_", *p));
		free(host);
	}
}

/* The input as a scheduler's answer to the discovery broadcast. */
static void check_announce(const uint8_t *data, size_t size)
{
	struct engine_icecc_announce a;

	if (engine_icecc_announce_parse(data, size, &a) < 0)
		return;
	FUZZ_ASSERT(a.version >= 1 && a.version <= 127);
	FUZZ_ASSERT(strlen(a.netname) < sizeof(a.netname) && fuzz_printable(a.netname));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size);

	check_announce(data, size);
	check_listcs((const char *) data, size);
	check_scheduler(text);
	return 0;
}
