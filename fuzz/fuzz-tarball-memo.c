/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-tarball-memo: any bytes as the tarball identity memo ({cache}/.tarballs) through
 * source_memo_find(), which must answer -ENOENT or a 64-digit lowercase hex hash that the
 * text holds right after the file's key and a tab. The key is a fixed path and identity;
 * the seed corpus holds a matching line.
 */
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "source-memo.h"

#define KEY "/usr/src/linux-source-6.12.tar.xz 2049 1234 150000000 1700000000000000000 " \
	    "1700000000000000001\t"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stat st = {
		.st_dev = 2049,
		.st_ino = 1234,
		.st_size = 150000000,
		.st_mtim = { .tv_sec = 1700000000 },
		.st_ctim = { .tv_sec = 1700000000, .tv_nsec = 1 },
	};
	const struct timespec memo_mtime = { .tv_sec = 1800000000 };
	char sha[65], line[sizeof(KEY) + 64];
	const char *hit;
	int r;

	r = source_memo_find((const char *) data, size, "/usr/src/linux-source-6.12.tar.xz", &st,
			     &memo_mtime, sha);
	FUZZ_ASSERT(r == 0 || r == -ENOENT);
	if (r < 0)
		return 0;
	FUZZ_ASSERT(strlen(sha) == 64 && strspn(sha, "0123456789abcdef") == 64);
	/* The line the answer came from: the key, then that hash, at a line's start. */
	memcpy(line, KEY, strlen(KEY));
	memcpy(line + strlen(KEY), sha, 64);
	hit = memmem(data, size, line, strlen(KEY) + 64);
	FUZZ_ASSERT(hit);
	while (hit && hit != (const char *) data && hit[-1] != '\n')
		hit = memmem(hit + 1, size - (size_t) (hit + 1 - (const char *) data), line,
			     strlen(KEY) + 64);
	FUZZ_ASSERT(hit);
	return 0;
}
