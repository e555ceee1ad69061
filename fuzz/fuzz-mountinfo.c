/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-mountinfo: /proc/self/mountinfo text through mountinfo_foreach() (from memory and
 * from a stream, which must agree line for line) and lock_parse_mountinfo(), the lookup
 * lock.c makes of the mount under a lock directory. Input: the first line is the path
 * to look up, the rest is mountinfo.
 */
#include <errno.h>

#include "fuzz.h"
#include "lock.h"
#include "macro.h"
#include "util.h"

struct walk {
	size_t n;
	size_t bytes; /* total length of every field: compares the two walks */
};

static int walk_cb(const struct mountinfo_entry *e, void *userdata)
{
	struct walk *w = userdata;

	FUZZ_ASSERT(e->root && e->mount_point && e->mount_options && e->optional);
	FUZZ_ASSERT(e->fstype && e->source && e->super_options);
	w->n++;
	w->bytes += strlen(e->root) + strlen(e->mount_point) + strlen(e->mount_options) +
		    strlen(e->optional) + strlen(e->fstype) + strlen(e->source) +
		    strlen(e->super_options);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size);
	struct walk mem = {}, file = {};
	unsigned major, minor;
	char *body;
	FILE *f;
	int r;

	body = strchr(text, '\n');
	if (!body)
		return 0;
	*body++ = '\0';

	FUZZ_ASSERT(mountinfo_foreach(body, walk_cb, &mem) == 0);
	f = fmemopen(body, strlen(body), "r");
	if (f) {
		FUZZ_ASSERT(mountinfo_foreach_file(f, walk_cb, &file) == 0);
		fclose(f);
		FUZZ_ASSERT(mem.n == file.n && mem.bytes == file.bytes);
	}

	r = lock_parse_mountinfo(body, text, &major, &minor);
	FUZZ_ASSERT(r == 0 || r == -ENOENT || r == -EINVAL);
	FUZZ_ASSERT(r != -EINVAL || text[0] != '/');
	FUZZ_ASSERT(r != 0 || mem.n > 0);
	return 0;
}
