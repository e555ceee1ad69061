/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The tarball identity memo (source-memo.h): looks a tarball's SHA-256 up by the file's
 * identity in "{cache}/.tarballs", else hashes the opened file and keeps the answer there,
 * rewritten atomically (write_file_atomic) like the toolchain memo ({cache}/.toolchain,
 * pipeline-toolchain.c). Concurrent writers: the last rename wins; a lost line costs one read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "hash.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "source-memo.h"
#include "util.h"

#define SHA_HEX 64
/* A line: a path, five numbers, a tab, the hash; anything longer is not ours. */
#define MEMO_LINE_MAX (PATH_MAX + 5 * 21 + 1 + SHA_HEX + 1)
#define MEMO_MAX_BYTES ((size_t) SOURCE_MEMO_MAX_LINES * MEMO_LINE_MAX)

static long long ns_of(const struct timespec *t)
{
	return (long long) t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* "{canon} {dev} {ino} {size} {mtime_ns} {ctime_ns}": the key of a line. */
static char *memo_key(const char *canon, const struct stat *st)
{
	char *k;

	if (asprintf(&k, "%s %llu %llu %lld %lld %lld", canon, (unsigned long long) st->st_dev,
		     (unsigned long long) st->st_ino, (long long) st->st_size, ns_of(&st->st_mtim),
		     ns_of(&st->st_ctim)) < 0)
		return NULL;
	return k;
}

static bool same_identity(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       ns_of(&a->st_mtim) == ns_of(&b->st_mtim) && ns_of(&a->st_ctim) == ns_of(&b->st_ctim);
}

static bool is_sha_hex(const char *s)
{
	for (size_t i = 0; i < SHA_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * The length of a well-formed line's path (line[0..len) without its '\n'), or -1: a path
 * without a NUL, tab or newline, five space-separated decimal numbers (the times may be
 * negative), a tab and 64 lowercase hex digits.
 */
static ssize_t line_path_len(const char *line, size_t len)
{
	size_t i;

	if (len < 1 + 5 * 2 + 1 + SHA_HEX || len > MEMO_LINE_MAX || memchr(line, 0, len))
		return -1;
	if (line[len - SHA_HEX - 1] != '\t' || !is_sha_hex(line + len - SHA_HEX))
		return -1;
	i = len - SHA_HEX - 1;
	for (int field = 0; field < 5; field++) {
		size_t end = i;

		while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
			i--;
		if (i > 0 && field < 2 && line[i - 1] == '-')
			i--;
		if (i == end || i < 2 || line[i - 1] != ' ')
			return -1;
		i--;
	}
	if (memchr(line, '\t', i))
		return -1;
	return (ssize_t) i;
}

/* True when st's mtime and ctime are both strictly older than t. */
static bool older_than(const struct stat *st, const struct timespec *t)
{
	return ns_of(&st->st_mtim) < ns_of(t) && ns_of(&st->st_ctim) < ns_of(t);
}

int source_memo_find(const char *text, size_t len, const char *canon, const struct stat *st,
		     const struct timespec *memo_mtime, char ret_sha[65])
{
	_cleanup_free_ char *key = NULL;
	size_t kl;

	if (!text || !canon || !st || !memo_mtime || !ret_sha)
		return -EINVAL;
	/* Racy: a change in the tick the memo was written in may have kept every field. */
	if (!older_than(st, memo_mtime))
		return -ENOENT;
	key = memo_key(canon, st);
	if (!key)
		return -ENOMEM;
	kl = strlen(key);
	for (size_t off = 0; off < len;) {
		const char *line = text + off, *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t) (nl - line) : len - off;

		off += ll + 1;
		if (ll == kl + 1 + SHA_HEX && memcmp(line, key, kl) == 0 &&
		    line_path_len(line, ll) == (ssize_t) strlen(canon)) {
			memcpy(ret_sha, line + kl + 1, SHA_HEX);
			ret_sha[SHA_HEX] = '\0';
			return 0;
		}
	}
	return -ENOENT;
}

/* A network filesystem's attribute cache can hide a change: no memo there. */
static bool fd_is_remote(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) < 0 || lock_remote_fs_name((uint64_t) sfs.f_type);
}

static bool path_is_remote(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) < 0 || lock_remote_fs_name((uint64_t) sfs.f_type);
}

/* The memo's bytes and mtime; an empty text when there is none (or it is unusable). */
static int memo_read(const char *memo, char **ret_text, size_t *ret_len,
		     struct timespec *ret_mtime, bool *ret_remote)
{
	_cleanup_close_ int fd = open_read_at(AT_FDCWD, memo, READ_FULL_REGULAR);
	struct stat st;
	int r;

	*ret_text = NULL;
	*ret_len = 0;
	*ret_mtime = (struct timespec){ 0 };
	*ret_remote = false;
	if (fd < 0) {
		/* None yet: where it would go decides whether it may be written. */
		_cleanup_free_ char *dir = strdup(memo);
		char *slash = dir ? strrchr(dir, '/') : NULL;

		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		*ret_remote = path_is_remote(slash ? dir : ".");
		return 0;
	}
	if (fstat(fd, &st) < 0 || fd_is_remote(fd)) {
		*ret_remote = true;
		return 0;
	}
	r = read_full_fd(fd, MEMO_MAX_BYTES, ret_text, ret_len);
	if (r < 0) {
		log_debug("ignoring the tarball memo '%s': %s", memo, strerror(-r));
		return 0;
	}
	*ret_mtime = st.st_mtim;
	return 0;
}

/* The new line first, then the other well-formed lines of other paths, up to the limit. */
static void memo_write(const char *memo, const char *text, size_t len, const char *canon,
		       const struct stat *st, const char *sha)
{
	_cleanup_free_ char *key = memo_key(canon, st), *out = NULL;
	size_t out_len = 0, cl = strlen(canon);
	unsigned n = 1;
	FILE *f;

	if (!key || !(f = open_memstream(&out, &out_len)))
		return;
	fprintf(f, "%s\t%s\n", key, sha);
	for (size_t off = 0; text && off < len && n < SOURCE_MEMO_MAX_LINES;) {
		const char *line = text + off, *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t) (nl - line) : len - off;
		ssize_t pl = line_path_len(line, ll);

		off += ll + 1;
		if (pl < 0 || ((size_t) pl == cl && memcmp(line, canon, cl) == 0))
			continue;
		fwrite(line, 1, ll, f);
		fputc('\n', f);
		n++;
	}
	if (fclose(f) != 0 || write_file_atomic(memo, out, out_len, 0644) < 0)
		log_debug("cannot keep the tarball's hash in '%s'", memo);
}

static int hash_and_check(int fd, const struct stat *before, char sha[65], bool *ret_stable)
{
	struct stat after;
	int r;

	r = hash_sha256_fd(fd, sha);
	if (r < 0)
		return r;
	*ret_stable = fstat(fd, &after) == 0 && same_identity(before, &after);
	return 0;
}

int source_memo_sha256(const char *memo, int fd, const char *canon, const struct timespec *now,
		       char ret_sha[65], struct stat *ret_st)
{
	_cleanup_free_ char *text = NULL;
	struct timespec memo_mtime, recent;
	bool remote = true, stable;
	char sha[65];
	struct stat st;
	size_t len = 0;
	int r;

	if (fd < 0 || !canon || !now || !ret_sha)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	/* A path with a newline or tab cannot be a line's key: read it every time. */
	if (memo && !strpbrk(canon, "\n\t") && !fd_is_remote(fd)) {
		r = memo_read(memo, &text, &len, &memo_mtime, &remote);
		if (r < 0)
			return r;
		if (!remote && text &&
		    source_memo_find(text, len, canon, &st, &memo_mtime, ret_sha) == 0) {
			log_debug("tarball '%s': SHA-256 from the memo '%s'", canon, memo);
			if (ret_st)
				*ret_st = st;
			return 0;
		}
	}
	r = hash_and_check(fd, &st, sha, &stable);
	if (r < 0)
		return r;
	recent = (struct timespec){ .tv_sec = now->tv_sec - SOURCE_MEMO_RACY_SEC,
				    .tv_nsec = now->tv_nsec };
	if (memo && !remote && stable && older_than(&st, &recent))
		memo_write(memo, text, len, canon, &st, sha);
	memcpy(ret_sha, sha, sizeof(sha));
	if (ret_st)
		*ret_st = st;
	return 0;
}
