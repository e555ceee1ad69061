/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the cache tests (test-cache, test-cache-clean) share: the fixture (a mkdtemp()
 * directory with the cache root {dir}/cache below it, not created, so the store must create
 * it), the pinned fragment hashes and clock, and helpers that write, store, damage and count
 * entries on the real filesystem. Each test program is one file that includes this once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache.h"
#include "macro.h"
#include "metadata.h"
#include "test-tmpdir.h"

#define FRAG "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define FRAG_OLD "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DAY 86400
#define NOW INT64_C(1750000000)

struct fixture {
	char dir[TMPDIR_SIZE]; /* mkdtemp; first, for test-tmpdir.h */
	char root[160];        /* {dir}/cache: not created, so the store must create it */
};
TMPDIR_FIXTURE_CHECK(struct fixture, dir);

static inline int setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/cache", f->dir);
	*state = f;
	return 0;
}

static inline char *path_join(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) >= 0);
	return p;
}

static inline void write_file(const char *dir, const char *name, const char *content)
{
	_cleanup_free_ char *path = path_join(dir, name);
	FILE *fp;

	fp = fopen(path, "we");
	assert_non_null(fp);
	assert_true(fputs(content, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static inline char *read_file(const char *dir, const char *name)
{
	_cleanup_free_ char *path = path_join(dir, name);
	char buf[256];
	size_t n;
	FILE *fp;

	fp = fopen(path, "re");
	if (!fp)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strdup(buf);
}

static inline bool exists(const char *dir, const char *name)
{
	_cleanup_free_ char *path = path_join(dir, name);
	struct stat st;

	return lstat(path, &st) == 0;
}

static inline size_t count_dir(const char *root, const char *sub)
{
	_cleanup_free_ char *path = path_join(root, sub);
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

struct spec {
	const char *key;
	int64_t built_at;
	const char *fragment; /* NULL: untracked */
	bool dirty;
	bool extra;
	const char *content; /* image bytes, to tell versions apart */
};

/* Writes a complete entry (image, vmlinux, config, build.log, metadata.json) into dir. */
static inline void write_entry(const char *dir, const struct spec *s)
{
	struct kts_metadata m = {
		.schema = METADATA_SCHEMA,
		.key = (char *) s->key,
		.label = (char *) "6.12.3",
		.source = { .kind = (char *) "release", .version = (char *) "6.12.3",
			    .dirty = s->dirty },
		.arch = (char *) "x86_64",
		.image = (char *) "bzImage",
		.base = (char *) "tinyconfig",
		.fragment_sha256 = (char *) s->fragment,
		.built_at = s->built_at,
		.build_seconds = 1.5,
		.make_jobs = 2,
		.ktscope_version = (char *) "test",
	};
	struct kts_metadata_extra x = { .path = (char *) "/x.config", .sha256 = (char *) SHA_A };
	_cleanup_free_ char *path = path_join(dir, "metadata.json");

	if (s->extra) {
		m.extra_kconfig = &x;
		m.n_extra_kconfig = 1;
	}
	write_file(dir, "bzImage", s->content);
	write_file(dir, "vmlinux", s->content);
	write_file(dir, "config", "CONFIG_SCHED_CLASS_EXT=y\n");
	write_file(dir, "build.log", "make: done\n");
	assert_int_equal(metadata_write(&m, path), 0);
}

static inline void store(const char *root, const struct spec *s)
{
	_cleanup_cache_store_ struct kts_cache_store *st = NULL;
	_cleanup_free_ char *path = NULL, *why = NULL, *want = NULL;

	assert_int_equal(cache_store_begin(root, s->key, &st), 0);
	write_entry(st->dir, s);
	if (cache_store_commit(st, &path, &why) != 0)
		fail_msg("commit of '%s' failed: %s", s->key, strempty(why));
	assert_true(asprintf(&want, "%s/kernels/%s", root, s->key) >= 0);
	assert_string_equal(path, want);
}

/* A directory under kernels/ that is not a valid entry; write_entry() then damage. */
static inline char *make_raw_entry(const char *root, const char *name)
{
	char *path;

	assert_true(asprintf(&path, "%s/kernels/%s", root, name) >= 0);
	assert_int_equal(mkdir(path, 0755), 0);
	return path;
}
