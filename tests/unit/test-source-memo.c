/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The tarball identity memo (source-memo.c) on real files in a temporary directory: a
 * memoized answer is trusted without reading the file (a planted line proves it), and each
 * way a file can change under the same name makes it read again: content rewritten with the
 * mtime restored (ctime differs), a change in the memo's own clock tick (racy), a file
 * replaced by another (new inode). Malformed and foreign lines are ignored, the memo stays
 * bounded, a file changed in the last 2 s is never memoized.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hash.h"
#include "macro.h"
#include "source-memo.h"
#include "util.h"

#define FAKE "00000000000000000000000000000000000000000000000000000000deadbeef"

struct fixture {
	char dir[64];
	char file[PATH_MAX];
	char memo[PATH_MAX];
	struct timespec later; /* a clock 10 s ahead: the file is old enough to memoize */
};

/* Past the filesystem's timestamp tick, so what is written next is strictly newer. */
static void next_tick(void)
{
	(void) nanosleep(&(struct timespec){ .tv_nsec = 30 * 1000 * 1000 }, NULL);
}

static void write_text(const char *path, const char *text)
{
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/kts-memo.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->file, sizeof(f->file), "%s/linux 6.12.tar.xz", f->dir);
	snprintf(f->memo, sizeof(f->memo), "%s/.tarballs", f->dir);
	write_text(f->file, "first tarball content\n");
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &f->later), 0);
	f->later.tv_sec += 10;
	next_tick();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rm_rf(f->dir), 0);
	free(f);
	return 0;
}

/* source_memo_sha256() of path; its fstat in *st when st is not NULL. */
static int memo_hash(const struct fixture *f, const char *path, const struct timespec *now,
		     char sha[65], struct stat *st)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	return source_memo_sha256(f->memo, fd, path, now, sha, st);
}

static void real_sha(const char *path, char sha[65])
{
	assert_int_equal(hash_sha256_file(path, sha), 0);
}

/* Writes a memo holding one line for path's current identity with the sha given. */
static void plant(const struct fixture *f, const char *path, const char *sha)
{
	_cleanup_free_ char *line = NULL;
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_true(asprintf(&line, "%s %llu %llu %lld %lld %lld\t%s\n", path,
			     (unsigned long long) st.st_dev, (unsigned long long) st.st_ino,
			     (long long) st.st_size,
			     (long long) st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
			     (long long) st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec,
			     sha) > 0);
	write_text(f->memo, line);
}

/* Moves the memo's mtime to t (the racy rule compares against it). */
static void memo_mtime(const struct fixture *f, const struct timespec *t)
{
	const struct timespec ts[2] = { *t, *t };

	assert_int_equal(utimensat(AT_FDCWD, f->memo, ts, 0), 0);
}

/* With the memo's mtime 5 s in the future (so the racy rule cannot decide), a lookup gives
 * the file's real SHA-256: the identity check alone made it read the file again. */
static void assert_rehashed_with_newer_memo(const struct fixture *f)
{
	char want[65], got[65];
	struct timespec later;

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &later), 0);
	later.tv_sec += 5;
	memo_mtime(f, &later);
	real_sha(f->file, want);
	assert_int_equal(memo_hash(f, f->file, &f->later, got, NULL), 0);
	assert_string_equal(got, want);
}

static size_t memo_lines(const struct fixture *f)
{
	_cleanup_free_ char *text = NULL;
	size_t n = 0;

	if (read_full_file(f->memo, 0, &text, NULL) < 0)
		return 0;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

static void test_miss_memoizes_then_hits(void **state)
{
	struct fixture *f = *state;
	char want[65], got[65];
	struct stat st, now;

	real_sha(f->file, want);
	assert_int_equal(memo_hash(f, f->file, &f->later, got, &st), 0);
	assert_string_equal(got, want);
	assert_int_equal(stat(f->file, &now), 0);
	assert_int_equal(st.st_ino, now.st_ino);
	assert_int_equal(st.st_ctim.tv_nsec, now.st_ctim.tv_nsec);
	assert_int_equal(memo_lines(f), 1);
	memset(got, 0, sizeof(got));
	assert_int_equal(memo_hash(f, f->file, &f->later, got, NULL), 0);
	assert_string_equal(got, want);
}

/* The memo's answer is used as it is: the file is not read (a planted hash comes back). */
static void test_hit_does_not_read(void **state)
{
	struct fixture *f = *state;
	char got[65];

	plant(f, f->file, FAKE);
	assert_int_equal(memo_hash(f, f->file, &f->later, got, NULL), 0);
	assert_string_equal(got, FAKE);
}

/* Same size, mtime put back (touch -r, cp -p): only ctime tells, and it does. */
static void test_restored_mtime_rehashes(void **state)
{
	struct fixture *f = *state;
	_cleanup_close_ int fd = -EBADF;
	struct stat before;
	char got[65];

	/* Memoized by a first lookup. */
	assert_int_equal(memo_hash(f, f->file, &f->later, got, NULL), 0);
	assert_int_equal(memo_lines(f), 1);
	assert_int_equal(stat(f->file, &before), 0);
	next_tick();
	fd = open(f->file, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "FIRST", 5, 0), 5);
	assert_int_equal(futimens(fd, (const struct timespec[2]){ before.st_atim, before.st_mtim }),
			 0);
	/* The memo looks newer than the change, so the racy rule does not decide here. */
	assert_rehashed_with_newer_memo(f);
}

/* A file whose mtime or ctime is not older than the memo may have changed in its tick. */
static void test_same_tick_is_racy(void **state)
{
	struct fixture *f = *state;
	char want[65], got[65];
	struct stat st;

	plant(f, f->file, FAKE);
	assert_int_equal(stat(f->file, &st), 0);
	memo_mtime(f, &st.st_ctim);
	real_sha(f->file, want);
	assert_int_equal(memo_hash(f, f->file, &f->later, got, NULL), 0);
	assert_string_equal(got, want);
	/* One nanosecond later the same line is good (the miss above rewrote the memo). */
	plant(f, f->file, FAKE);
	st.st_ctim.tv_nsec += 1;
	memo_mtime(f, &st.st_ctim);
	assert_int_equal(memo_hash(f, f->file, &f->later, got, NULL), 0);
	assert_string_equal(got, FAKE);
}

/* Just written: hashed, never memoized (its next change may keep every field). */
static void test_recent_file_not_memoized(void **state)
{
	struct fixture *f = *state;
	struct timespec now;
	char want[65], got[65];

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &now), 0);
	real_sha(f->file, want);
	assert_int_equal(memo_hash(f, f->file, &now, got, NULL), 0);
	assert_string_equal(got, want);
	assert_int_equal(access(f->memo, F_OK), -1);
	/* Without a memo file name nothing is kept either. */
	{
		_cleanup_close_ int fd = open(f->file, O_RDONLY | O_CLOEXEC);

		assert_int_equal(source_memo_sha256(NULL, fd, f->file, &f->later, got, NULL), 0);
		assert_string_equal(got, want);
		assert_int_equal(access(f->memo, F_OK), -1);
	}
}

/* Another file renamed over the name, same size and mtime: a new inode, read again. */
static void test_replaced_file_rehashes(void **state)
{
	struct fixture *f = *state;
	char other[PATH_MAX + 8];
	struct stat before;

	plant(f, f->file, FAKE);
	assert_int_equal(stat(f->file, &before), 0);
	snprintf(other, sizeof(other), "%s.new", f->file);
	write_text(other, "FIRST tarball content\n");
	assert_int_equal(utimensat(AT_FDCWD, other,
				   (const struct timespec[2]){ before.st_atim, before.st_mtim }, 0),
			 0);
	assert_int_equal(rename(other, f->file), 0);
	assert_rehashed_with_newer_memo(f);
}

/* Garbage and foreign lines are ignored; a rewrite keeps only well-formed lines. */
static void test_malformed_lines_ignored(void **state)
{
	static const char *const bad[] = {
		"",
		"\t" FAKE,
		"/x 1 2 3 4\t" FAKE,                 /* four numbers */
		"/x 1 2 3 4 5 6\t" FAKE "0",         /* sha too long */
		"/x 1 2 3 4 5\t" FAKE "\t",          /* trailing tab */
		"/x 1 2 3 4 5\tDEADBEEF" FAKE,       /* not the hash's size, upper case */
		"/x 1 -2 3 4 5\t" FAKE,              /* a negative inode */
		"/x\t1 2 3 4 5 6\t" FAKE,            /* tab in the path */
		"1 2 3 4 5\t" FAKE,                  /* no path */
	};
	struct fixture *f = *state;
	_cleanup_free_ char *text = NULL, *after = NULL, *key = NULL;
	char want[65], got[65];
	struct stat st;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	assert_non_null(m);
	assert_int_equal(stat(f->file, &st), 0);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		fprintf(m, "%s\n", bad[i]);
	/* Our own key with a hash that is not 64 hex digits, and with NUL bytes in it. */
	assert_true(asprintf(&key, "%s %llu %llu %lld %lld %lld", f->file,
			     (unsigned long long) st.st_dev, (unsigned long long) st.st_ino,
			     (long long) st.st_size,
			     (long long) st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
			     (long long) st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec) > 0);
	fprintf(m, "%s\t%.63s\n", key, FAKE);
	fprintf(m, "%s\t%.63sg\n", key, FAKE);
	fwrite(key, 1, strlen(key), m);
	fwrite("\t\0" FAKE "\n", 1, 2 + 64 + 1, m);
	fprintf(m, "/foreign/linux.tar 1 2 3 -4 -5\t%s\n", FAKE);
	fputs("/no/newline 1 2 3 4 5\t" FAKE, m);
	assert_int_equal(fclose(m), 0);
	assert_int_equal(write_file_atomic(f->memo, text, len, 0644), 0);
	assert_int_equal(source_memo_find(text, len, f->file, &st, &f->later,
					  got),
			 -ENOENT);

	real_sha(f->file, want);
	assert_int_equal(memo_hash(f, f->file, &f->later, got, NULL),
			 0);
	assert_string_equal(got, want);
	/* Rewritten: our line first, then the two well-formed foreign lines (bad ones gone). */
	assert_int_equal(read_full_file(f->memo, 0, &after, NULL), 0);
	assert_int_equal(memo_lines(f), 3);
	assert_true(strncmp(after, key, strlen(key)) == 0);
	assert_non_null(strstr(after, "\n/foreign/linux.tar 1 2 3 -4 -5\t" FAKE "\n"));
	assert_non_null(strstr(after, "\n/no/newline 1 2 3 4 5\t" FAKE "\n"));
}

/* At most SOURCE_MEMO_MAX_LINES lines, the newest first; one line per path. */
static void test_memo_is_bounded(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 16], got[65];
	_cleanup_free_ char *text = NULL;

	for (int i = 0; i < SOURCE_MEMO_MAX_LINES + 6; i++) {
		snprintf(path, sizeof(path), "%s/t%d.tar", f->dir, i);
		write_text(path, path);
	}
	next_tick();
	for (int i = 0; i < SOURCE_MEMO_MAX_LINES + 6; i++) {
		snprintf(path, sizeof(path), "%s/t%d.tar", f->dir, i);
		assert_int_equal(memo_hash(f, path, &f->later, got, NULL), 0);
	}
	assert_int_equal(memo_lines(f), SOURCE_MEMO_MAX_LINES);
	/* Hashing one again replaces its line instead of adding one. */
	assert_int_equal(memo_hash(f, path, &f->later, got, NULL), 0);
	assert_int_equal(memo_lines(f), SOURCE_MEMO_MAX_LINES);
	assert_int_equal(read_full_file(f->memo, 0, &text, NULL), 0);
	snprintf(path, sizeof(path), "%s/t%d.tar ", f->dir, SOURCE_MEMO_MAX_LINES + 5);
	assert_true(strncmp(text, path, strlen(path)) == 0);
	snprintf(path, sizeof(path), "%s/t5.tar ", f->dir);
	assert_null(strstr(text, path));
	snprintf(path, sizeof(path), "%s/t6.tar ", f->dir);
	assert_non_null(strstr(text, path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_miss_memoizes_then_hits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hit_does_not_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restored_mtime_rehashes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_tick_is_racy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_file_not_memoized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_file_rehashes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_lines_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memo_is_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
