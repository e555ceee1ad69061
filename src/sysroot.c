/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One directory fd for every sysfs and /proc read (util-linux's --sysroot idea):
 * callers pass paths such as "sys/devices/system/cpu/online" and they are
 * opened with openat() relative to the root, so a snapshot directory and the
 * live host go through exactly the same code.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "util.h"
#include "sysroot.h"

/* sysfs attributes are at most a page; /proc/self/status is a few KiB. */
#define SYSROOT_READ_MAX (4U * 1024U * 1024U)

/* "/sys/x" and "sys/x" name the same file; "" and "/" name the root itself. */
static const char *relpath(const char *rel)
{
	while (*rel == '/')
		rel++;
	return *rel ? rel : ".";
}

int sysroot_open(const char *path, struct kts_sysroot *ret)
{
	_cleanup_free_ char *canon = NULL;
	_cleanup_close_ int fd = -EBADF;
	bool host;

	if (!path || !*path)
		path = "/";
	canon = realpath(path, NULL);
	if (!canon)
		return negative_errno();
	fd = open(canon, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();

	/* Initialiser order is unspecified: decide host before handing canon on. */
	host = streq(canon, "/");

	*ret = (struct kts_sysroot){
		.fd = TAKE_FD(fd),
		.host = host,
		.path = TAKE_PTR(canon),
	};
	return 0;
}

void sysroot_close(struct kts_sysroot *root)
{
	if (!root)
		return;
	root->fd = safe_close(root->fd);
	free(root->path);
	root->path = NULL;
	root->host = false;
}

char *sysroot_abspath(const struct kts_sysroot *root, const char *rel)
{
	const char *base = root && root->path ? root->path : "/";
	char *s;

	while (*rel == '/')
		rel++;
	if (asprintf(&s, "%s%s%s", base, streq(base, "/") ? "" : "/", rel) < 0)
		return NULL;
	return s;
}

static int open_rel(const struct kts_sysroot *root, const char *rel, int flags)
{
	int fd = openat(root->fd, relpath(rel), flags | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? negative_errno() : fd;
}

int sysroot_read_line(const struct kts_sysroot *root, const char *rel, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	/* sysfs wants one read per open at offset 0..n; a read to EOF serves both. */
	r = read_full_file_at(root->fd, relpath(rel), 0, SYSROOT_READ_MAX, &buf, &len);
	if (r < 0)
		return r;
	/* A NUL inside would silently truncate what the parser sees. */
	if (strlen(buf) != len)
		return -EBADMSG;
	while (len > 0 && strchr(" \t\n\r\v\f", buf[len - 1]))
		buf[--len] = '\0';

	*ret = TAKE_PTR(buf);
	return 0;
}

FILE *sysroot_fopen(const struct kts_sysroot *root, const char *rel)
{
	int fd = open_rel(root, rel, O_RDONLY);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, "re");
	if (!f)
		(void) safe_close(fd);
	return f;
}

int sysroot_open_dir(const struct kts_sysroot *root, const char *rel)
{
	return open_rel(root, rel, O_RDONLY | O_DIRECTORY);
}

int sysroot_exists(const struct kts_sysroot *root, const char *rel)
{
	struct stat st;

	/*
	 * The entry itself, not its target: cpuN/nodeK is a symlink on sysfs and
	 * may dangle in a snapshot that omits the node directory.
	 */
	if (fstatat(root->fd, relpath(rel), &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return negative_errno();
}
