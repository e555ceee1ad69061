// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Files (util.h): whole-file reads, write_all(), mkdir -p and rm -rf without forking. The one
 * copy of each; modules call these instead of looping over read(2)/write(2) themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "macro.h"
#include "util.h"

ssize_t loop_read(int fd, void *buf, size_t n)
{
	size_t done = 0;

	if (fd < 0 || (!buf && n > 0))
		return -EINVAL;
	while (done < n) {
		ssize_t k = read(fd, (char *) buf + done, n - done);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			break;
		done += (size_t) k;
	}
	return (ssize_t) done;
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0, len = 0;
	struct stat st;

	if (fd < 0 || !ret)
		return -EINVAL;
	if (max == 0)
		max = READ_FULL_DEFAULT_MAX;
	/* A regular file's size is a good first guess; /proc and sysfs say 0. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((uint64_t) st.st_size > max)
			return -EFBIG;
		size = (size_t) st.st_size + 1;
		buf = malloc(size);
		if (!buf)
			return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		/* Always room for one byte past the data: tells EOF from a full buffer. */
		if (size - len < 2) {
			size_t nsize = size ? size * 2 : 4096;
			char *nbuf;

			if (len > max)
				return -EFBIG;
			nsize = MIN(nsize, max + 2);
			nbuf = realloc(buf, nsize);
			if (!nbuf)
				return -ENOMEM;
			buf = nbuf;
			size = nsize;
		}
		n = loop_read(fd, buf + len, size - len - 1);
		if (n < 0)
			return (int) n;
		len += (size_t) n;
		if (len + 1 < size)
			break; /* short: EOF */
	}
	if (len > max)
		return -EFBIG;
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return -ENOMEM;
	}
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

int open_read_at(int dirfd, const char *path, unsigned flags)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	if (!path)
		return -EINVAL;
	/* O_NONBLOCK: opening a FIFO must not hang before it can be refused. */
	fd = openat(dirfd, path,
		    O_RDONLY | O_CLOEXEC | O_NOCTTY | (flags & READ_FULL_REGULAR ? O_NONBLOCK : 0));
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (flags & READ_FULL_REGULAR) {
		if (!S_ISREG(st.st_mode))
			return -EINVAL;
		/* Back to blocking reads (a regular file never blocks, but be plain about it). */
		if (fcntl(fd, F_SETFL, 0) < 0)
			return negative_errno();
	}
	return TAKE_FD(fd);
}

int read_full_file_at(int dirfd, const char *path, unsigned flags, size_t max, char **ret,
		      size_t *ret_len)
{
	_cleanup_close_ int fd = -EBADF;

	if (!ret)
		return -EINVAL;
	fd = open_read_at(dirfd, path, flags);
	if (fd < 0)
		return fd;
	return read_full_fd(fd, max, ret, ret_len);
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	return read_full_file_at(AT_FDCWD, path, 0, max, ret, ret_len);
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	if (fd < 0 || (!buf && len > 0))
		return -EINVAL;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			return -EIO; /* never for a sane fd; do not spin */
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL, *dir = NULL;
	_cleanup_close_ int fd = -EBADF, dfd = -EBADF;
	const char *slash, *base;
	int r;

	if (!path || (!data && len > 0))
		return -EINVAL;
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	if (!*base)
		return -EINVAL;
	dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
	/* A dot name in the same directory: same filesystem for rename(), hidden from globs. */
	if (!dir || asprintf(&tmp, "%s/.%s.XXXXXX", dir, base) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	r = write_all(fd, data, len);
	if (r >= 0 && fchmod(fd, mode) < 0)
		r = negative_errno();
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r >= 0 && close(TAKE_FD(fd)) < 0)
		r = negative_errno();
	if (r >= 0 && rename(tmp, path) < 0)
		r = negative_errno();
	if (r < 0) {
		(void) unlink(tmp);
		return r;
	}
	/* The rename is durable only once the directory is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return negative_errno();
	return 0;
}

/* mkdir, with an existing directory (or a symlink to one) as success. */
static int mkdir_one(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return negative_errno();
	if (stat(path, &st) < 0)
		return negative_errno();
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = NULL;
	int r;

	if (!path || !*path)
		return -EINVAL;
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	/* Each parent in turn; "a//b" and a trailing slash make empty components: skip them. */
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		if (s[-1] == '/')
			continue;
		*s = '\0';
		r = mkdir_one(p, mode);
		*s = '/';
		if (r < 0)
			return r;
	}
	return mkdir_one(p, mode);
}

/* Removes the entries of the open directory fd (which it consumes); first error wins. */
static int rm_rf_children(int fd, dev_t dev)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = 0;

	d = fdopendir(fd);
	if (!d) {
		r = negative_errno();
		(void) safe_close(fd);
		return r;
	}
	for (;;) {
		struct stat st;
		int k = 0, sub;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0 && r == 0)
				r = negative_errno();
			break;
		}
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && r == 0)
				r = negative_errno();
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
				k = negative_errno();
		} else if (st.st_dev != dev) {
			k = -EXDEV; /* another mount: leave it (and the directory holding it) */
		} else {
			sub = openat(dirfd(d), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
			if (sub < 0)
				k = errno == ENOENT ? 0 : negative_errno();
			else
				k = rm_rf_children(sub, dev);
			if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT &&
			    k == 0)
				k = negative_errno();
		}
		if (k < 0 && r == 0)
			r = k;
	}
	return r;
}

int rm_rf_at(int dirfd, const char *name)
{
	struct stat st;
	int fd, r;

	if (!name || !*name)
		return -EINVAL;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return negative_errno();
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	r = rm_rf_children(fd, st.st_dev);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = negative_errno();
	return r;
}

int rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path);
}

int copy_file(const char *from, const char *to)
{
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	struct stat st;
	off_t left;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return negative_errno();
	if (fstat(in, &st) < 0)
		return negative_errno();
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return negative_errno();
	for (left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t) MIN(left, (off_t) 1 << 30), 0);

		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP)) {
			char buf[65536];
			int r;

			n = read(in, buf, sizeof(buf));
			if (n > 0 && (r = write_all(out, buf, (size_t) n)) < 0)
				return r;
		}
		if (n < 0)
			return negative_errno();
		if (n == 0)
			break;
		left -= n;
	}
	if (fsync(out) < 0)
		return negative_errno();
	return 0;
}

int disk_space(const char *path, char **ret_mount, uint64_t *ret_free)
{
	_cleanup_free_ char *mnt = realpath(path, NULL);
	struct statvfs sv;
	struct stat st, up;

	if (!mnt || stat(mnt, &st) < 0 || statvfs(mnt, &sv) < 0)
		return negative_errno();
	/* Up while the parent is on the same device; "/" is its own parent. */
	while (strcmp(mnt, "/") != 0) {
		char *slash = strrchr(mnt, '/');
		char keep = slash[1];

		slash[slash == mnt ? 1 : 0] = '\0';
		if (stat(mnt, &up) < 0)
			return negative_errno();
		if (up.st_dev != st.st_dev) {
			/* mnt was the mount point: undo the cut. */
			if (slash == mnt)
				slash[1] = keep;
			else
				*slash = '/';
			break;
		}
	}
	if (ret_free)
		*ret_free = (uint64_t) (geteuid() == 0 ? sv.f_bfree : sv.f_bavail) * sv.f_frsize;
	if (ret_mount)
		*ret_mount = TAKE_PTR(mnt);
	return 0;
}

int fifo_poke(const char *path)
{
	static const struct timespec now = { 0 };
	_cleanup_close_ int fd = -EBADF;
	sigset_t pipe_sig, old;
	ssize_t n;
	int err;

	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	(void) sigemptyset(&pipe_sig);
	(void) sigaddset(&pipe_sig, SIGPIPE);
	(void) sigprocmask(SIG_BLOCK, &pipe_sig, &old);
	n = write(fd, "m", 1);
	err = n < 0 ? errno : 0;
	if (err == EPIPE) /* the pending SIGPIPE is ours to take */
		(void) sigtimedwait(&pipe_sig, NULL, &now);
	(void) sigprocmask(SIG_SETMASK, &old, NULL);
	if (n == 1)
		return 0;
	return n < 0 ? -err : -EIO;
}
