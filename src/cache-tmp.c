/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cache's .tmp work area: per-process directories held by a flock on the directory
 * itself, and the sweep of what dead processes left. The contract is in cache-tmp.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache-tmp.h"
#include "log.h"
#include "macro.h"
#include "util.h"

#define TMP_DIR ".tmp"

/* Attempts of cache_tmp_create() that lose a race with a sweep before giving up. */
#define CREATE_ATTEMPTS 8

int cache_tmp_path(const char *root, const char *prefix, const char *name, char **ret)
{
	return asprintf(ret, "%s/" TMP_DIR "/%s%s.%d", root, prefix, name, (int) getpid()) < 0
		       ? -ENOMEM
		       : 0;
}

/* "name.PID" → PID; -EINVAL when name has no strictly decimal, positive pid suffix. */
static int tmp_pid(const char *name, pid_t *ret)
{
	const char *dot = strrchr(name, '.');
	long v = 0;

	if (!dot || !dot[1] || dot[1] == '0')
		return -EINVAL;
	for (const char *p = dot + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (*p - '0');
		if (v > INT_MAX)
			return -EINVAL;
	}
	*ret = (pid_t) v;
	return 0;
}

int cache_tmp_lock_dir(int atfd, const char *path, int *ret_fd)
{
	_cleanup_close_ int fd = openat(atfd, path,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return negative_errno();
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EWOULDBLOCK : negative_errno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* True when fd is still the directory at path: a sweep may remove (and another process
 * re-create) the name between our mkdir and our lock. */
static bool same_dir(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* Removes a leftover at path of an earlier attempt of this pid, unless someone holds it. */
static int remove_leftover(const char *path)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	r = cache_tmp_lock_dir(AT_FDCWD, path, &fd);
	if (r == -EWOULDBLOCK)
		return -EBUSY;
	if (r == -ENOENT)
		return 0;
	/* Not a directory (a file, a symlink): nobody's lock; remove it as it is. */
	return rm_rf(path);
}

int cache_tmp_create(const char *root, const char *name, mode_t mode, char **ret_path,
		     int *ret_lock_fd)
{
	_cleanup_free_ char *tmp = NULL, *path = NULL;
	int r;

	if (asprintf(&tmp, "%s/" TMP_DIR, root) < 0 || cache_tmp_path(root, "", name, &path) < 0)
		return -ENOMEM;
	r = mkdir_p(tmp, 0755);
	if (r < 0)
		return r;

	for (int i = 0; i < CREATE_ATTEMPTS; i++) {
		_cleanup_close_ int fd = -EBADF;

		r = remove_leftover(path);
		if (r < 0)
			return r;
		if (mkdir(path, mode) < 0) {
			if (errno == EEXIST)
				continue; /* re-created meanwhile: look again */
			return negative_errno();
		}
		/* Busy or gone: a sweep of another PID namespace got there first. */
		r = cache_tmp_lock_dir(AT_FDCWD, path, &fd);
		if (r == -EWOULDBLOCK || r == -ENOENT || (r == 0 && !same_dir(fd, path)))
			continue;
		if (r < 0)
			return r;
		*ret_path = TAKE_PTR(path);
		*ret_lock_fd = TAKE_FD(fd);
		return 0;
	}
	return -EBUSY;
}

/* Removes .tmp/name if its pid is dead here and nobody holds its lock. 1 removed, 0 not. */
static int sweep_one(int dfd, const char *dir, const char *name)
{
	_cleanup_close_ int lock_fd = -EBADF;
	pid_t pid;
	int r;

	if (tmp_pid(name, &pid) < 0)
		return 0;
	/* Only ESRCH proves death here; EPERM is a live process of another user. */
	if (kill(pid, 0) == 0 || errno != ESRCH)
		return 0;
	/* A live process of another PID namespace holds its directory's lock. */
	r = cache_tmp_lock_dir(dfd, name, &lock_fd);
	if (r == -EWOULDBLOCK) {
		log_debug("cache: '%s/%s' is held by a live process, left alone", dir, name);
		return 0;
	}
	if (r < 0 && r != -ENOTDIR && r != -ELOOP)
		return r == -ENOENT ? 0 : r;
	/* Removed while holding the lock, so no one re-uses it half-removed. */
	r = rm_rf_at(dfd, name);
	if (r < 0)
		return r;
	log_debug("cache: removed '%s/%s' of dead pid %d", dir, name, (int) pid);
	return 1;
}

int cache_sweep_tmp(const char *root)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r, n = 0;

	if (asprintf(&dir, "%s/" TMP_DIR, root) < 0)
		return -ENOMEM;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	while ((errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		r = sweep_one(dirfd(d), dir, de->d_name);
		if (r < 0)
			log_debug_errno(r, "cache: cannot remove '%s/%s': %m", dir, de->d_name);
		else
			n += r;
	}
	return n;
}
