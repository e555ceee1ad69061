/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry-client: the OCI client of registry.h as a tiny command for
 * tests/integration/registry-client.sh, which drives it against a real registry:
 *
 *   registry-client [--insecure] [--ca FILE] [--page N] REMOTE push ENTRY_DIR KEY
 *   registry-client ... REMOTE pull CACHE_ROOT KEY
 *   registry-client ... REMOTE has KEY
 *   registry-client ... REMOTE tags
 *   registry-client ... REMOTE get KEY TITLE        (the file's bytes on stdout)
 *
 * --page N asks for the tags list N tags at a time (its pagination through Link headers).
 * KTS_EVENTS=1 turns the NDJSON events on (stdout). Prints "result=R" and the stats as
 * key=value lines on stdout; a failure prints "error=ERRNONAME" and "why=..." and exits 1
 * (2 for a usage error).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "progress.h"
#include "registry-internal.h"

static void print_stats(const struct kts_registry_stats *st)
{
	printf("blobs=%u\nblobs_sent=%u\nblobs_present=%u\nblobs_mounted=%u\n", st->blobs,
	       st->blobs_sent, st->blobs_present, st->blobs_mounted);
	printf("bytes=%" PRIu64 "\nbytes_sent=%" PRIu64 "\nmanifest=%s\n", st->bytes,
	       st->bytes_sent, st->manifest_digest);
}

static int run(struct kts_registry *r, int argc, char **argv, char **why)
{
	struct kts_registry_stats st = { 0 };
	_cleanup_free_ char *path = NULL, *data = NULL;
	const char *cmd = argv[0];
	char **tags = NULL;
	size_t n = 0, len = 0;
	int k;

	if (streq(cmd, "push") && argc == 3) {
		k = registry_push(r, argv[1], argv[2], &st, why);
		if (k >= 0)
			print_stats(&st);
	} else if (streq(cmd, "pull") && argc == 3) {
		k = registry_pull(r, argv[1], argv[2], &st, &path, why);
		if (k > 0) {
			print_stats(&st);
			printf("path=%s\n", path);
		}
	} else if (streq(cmd, "has") && argc == 2) {
		k = registry_has(r, argv[1], why);
	} else if (streq(cmd, "tags") && argc == 1) {
		k = registry_tags(r, &tags, &n, why);
		for (size_t i = 0; k >= 0 && i < n; i++)
			printf("tag=%s\n", tags[i]);
		strv_free(tags, n);
	} else if (streq(cmd, "get") && argc == 3) {
		k = registry_get_file(r, argv[1], argv[2], 1 << 20, &data, &len, why);
		if (k > 0)
			(void) fwrite(data, 1, len, stdout);
		return k;
	} else {
		return -E2BIG;
	}
	return k;
}

int main(int argc, char **argv)
{
	struct kts_registry_opts o = { 0 };
	_cleanup_registry_ struct kts_registry *r = NULL;
	_cleanup_free_ char *why = NULL;
	unsigned page = 0;
	int i = 1, k;

	if (getenv("KTS_EVENTS"))
		progress_set_events(true);
	if (getenv("KTS_DEBUG"))
		log_set_max_level(LOG_DEBUG);
	for (; i < argc && startswith(argv[i], "--"); i++) {
		if (streq(argv[i], "--insecure"))
			o.insecure = true;
		else if (streq(argv[i], "--ca") && i + 1 < argc)
			o.ca_file = argv[++i];
		else if (streq(argv[i], "--page") && i + 1 < argc)
			page = (unsigned) atoi(argv[++i]);
		else
			break;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: registry-client [--insecure] [--ca FILE] REMOTE CMD ARGS\n");
		return 2;
	}
	o.remote = argv[i];
	k = registry_open(&o, &r, &why);
	if (k >= 0)
		r->tags_page = page;
	if (k >= 0)
		k = run(r, argc - i - 1, argv + i + 1, &why);
	if (k == -E2BIG) {
		fprintf(stderr, "registry-client: unknown command or arguments\n");
		return 2;
	}
	if (k < 0) {
		printf("error=%s\nwhy=%s\n", strerrorname_np(-k), strempty(why));
		return 1;
	}
	printf("result=%d\n", k);
	return 0;
}
