/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The scratch-directory fixture the filesystem tests share (test-cache, test-cache-clean,
 * test-cache-tmp, test-metadata): a calloc()ed fixture whose first member is
 * `char dir[TMPDIR_SIZE]`, filled by mkdtemp() as /tmp/<program>.XXXXXX, and a cmocka
 * teardown that removes the whole tree (links not followed) and frees the fixture. Also
 * dead_pid(), for the tests of the sweep of dead builds' leftovers.
 */
#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define TMPDIR_SIZE 128

/* A fixture of size bytes whose first TMPDIR_SIZE bytes name a fresh directory; NULL on failure. */
static inline void *tmpdir_fixture_new(size_t size)
{
	char *dir;

	if (size < TMPDIR_SIZE)
		return NULL;
	dir = calloc(1, size);
	if (!dir)
		return NULL;
	snprintf(dir, TMPDIR_SIZE, "/tmp/%s.XXXXXX", program_invocation_short_name);
	if (!mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

static inline int tmpdir_rm_one(const char *path, const struct stat *st, int type,
				struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Writes content to a new or truncated file at path, or fails the test. */
static inline void tmpdir_write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* cmocka teardown for a tmpdir_fixture_new() fixture: rm -r of its directory, then free. */
static inline int tmpdir_teardown(void **state)
{
	char *dir = *state;
	int r = nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);

	free(dir);
	return r;
}

/* Fails the build unless member, the first of type, is the char[TMPDIR_SIZE] this header fills. */
#define TMPDIR_FIXTURE_CHECK(type, member)                                                  \
	static_assert(offsetof(type, member) == 0 &&                                        \
			      sizeof(((type *) 0)->member) == TMPDIR_SIZE,                  \
		      #type " must begin with char " #member "[TMPDIR_SIZE]")

/* The pid of a child already reaped: a pid number that is dead here. */
static inline pid_t dead_pid(void)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* What the sweep relies on: this pid number is dead here. */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	return pid;
}
