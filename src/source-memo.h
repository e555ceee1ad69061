/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

/*
 * The tarball identity memo (source-memo.c): "{cache}/.tarballs" keeps the SHA-256 of local
 * tarballs keyed by the file's identity, so a cache hit need not read 150 MB again (DESIGN
 * §6). One line per file, newest first, at most SOURCE_MEMO_MAX_LINES:
 *
 *   "{realpath} {dev} {ino} {size} {mtime_ns} {ctime_ns}\t{sha256}\n"
 *
 * A line is used only when all six fields match the opened file and the file's mtime and
 * ctime are both older than the memo file's own mtime (racy git's rule: a change in the same
 * clock tick as the memo's write could leave every field equal). ctime cannot be set by
 * users, so `touch -r`, `cp -p` or `tar -p` restoring an mtime, and a new file on a reused
 * inode, still miss. Anything else, a malformed or foreign line included, means the file is
 * read. The memo is not used on network filesystems (their attribute caches can hide a
 * change), neither for the tarball nor for the memo. Whoever can write the memo can write
 * cache entries already: it adds no trust.
 */

#define SOURCE_MEMO_MAX_LINES 64
/* A file changed this recently (mtime or ctime, seconds) is hashed but never memoized. */
#define SOURCE_MEMO_RACY_SEC 2

/*
 * The SHA-256 (lowercase hex) of the regular file open at fd (at offset 0), canon being its
 * canonical path, through the memo file memo (NULL: no memo, the file is always read). now is
 * the wall clock (tests pass another). *ret_st (may be NULL) is the fstat of fd taken before
 * any read: the identity the hash belongs to. A file read and memoized only when fstat after
 * the read equals the one before. Failing to write the memo is not an error (debug log).
 * Errors of fstat and read as negative errno; outputs written only on success.
 */
int source_memo_sha256(const char *memo, int fd, const char *canon, const struct timespec *now,
		       char ret_sha[65], struct stat *ret_st);

/*
 * The SHA-256 the memo text (len bytes, any content) records for this identity, written to
 * ret_sha, or -ENOENT. memo_mtime is the memo file's mtime (the racy rule above).
 * Exposed for the fuzzer and the tests.
 */
int source_memo_find(const char *text, size_t len, const char *canon, const struct stat *st,
		     const struct timespec *memo_mtime, char ret_sha[65]);
