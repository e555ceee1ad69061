/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tarball sources (source.h, "tarball"): a local .tar.* is identified by the SHA-256 of the
 * file, a URL by that of its download; extraction with tar(1) into "{workdir}/linux". Also
 * the download of a tarball through http.c, which releases share.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "sha256.h"
#include "source-internal.h"

extern char **environ;

static bool is_url(const char *s)
{
	return startswith(s, "http://") || startswith(s, "https://");
}

int source_tarball_open(const char *file_or_url, struct kts_source *s, char **why)
{
	char canon[PATH_MAX], sha[65];
	struct stat st;
	int r;

	s->is_temp = true;
	s->cacheable = true;
	if (is_url(file_or_url))
		/* Known only after the download (source_fetch). */
		return source_strdup_to(&s->url, file_or_url);
	if (stat(file_or_url, &st) < 0)
		return source_why_first(why, negative_errno(), "cannot access tarball '%s': %m",
					file_or_url);
	if (S_ISDIR(st.st_mode))
		return source_why_first(why, -EISDIR, "'%s' is a directory, not a tarball (use "
					"--source)", file_or_url);
	if (!realpath(file_or_url, canon))
		return source_why_first(why, negative_errno(), "cannot resolve '%s': %m",
					file_or_url);
	r = sha256_file(canon, sha);
	if (r < 0)
		return source_why_first(why, r, "cannot read tarball '%s': %s", canon, strerror(-r));
	if (source_strdup_to(&s->path, canon) < 0)
		return -ENOMEM;
	return source_name_tarball(s, canon, sha);
}

int source_download(const char *url, const char *site, const char *path,
		    const struct kts_fetch_opts *opts, char ret_sha[65], char **why)
{
	const struct http_request req = {
		.url = url,
		.what = "tarball",
		.site_role = "mirror",
		.site = site,
		.progress = opts ? opts->progress : NULL,
		.userdata = opts ? opts->userdata : NULL,
	};
	_cleanup_free_ char *err = NULL;
	int r;

	r = http_get_file(&req, path, ret_sha, &err);
	if (r < 0)
		return source_why_first(why, r, "%s", err ? err : strerror(-r));
	return 0;
}

int source_tarball_fetch(struct kts_source *s, const char *workdir,
			 const struct kts_fetch_opts *opts, char **why)
{
	_cleanup_free_ char *file = NULL;
	const char *base;
	char sha[65];
	int r;

	if (s->path)
		return source_tarball_extract(s->path, workdir, &s->dir, why);

	/* A URL: download first, then it is an ordinary tarball. */
	base = strrchr(s->url, '/');
	file = source_path_join(workdir, base && base[1] ? base + 1 : "download.tar");
	if (!file)
		return -ENOMEM;
	r = source_download(s->url, s->url, file, opts, sha, why);
	if (r < 0)
		return r;
	r = source_name_tarball(s, file, sha);
	if (r >= 0)
		r = source_tarball_extract(file, workdir, &s->dir, why);
	(void) unlink(file);
	return r;
}

/*
 * Runs argv (argv[0] looked up in PATH) with stdin/stdout on /dev/null and stderr captured;
 * the last line of stderr goes into *ret_err. Returns the exit status (0..255), or -ECHILD
 * when killed by a signal, or a spawn error.
 */
static int run_capture(char *const argv[], char **ret_err)
{
	posix_spawn_file_actions_t fa;
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	char buf[4096], tail[1024] = "";
	size_t tail_len = 0;
	int fds[2], status, r;
	pid_t pid;
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return negative_errno();
	rd = fds[0];
	wr = fds[1];

	r = posix_spawn_file_actions_init(&fa);
	if (r != 0)
		return -r;
	r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, wr, 2);
	if (r == 0)
		r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	(void) posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -r;
	wr = safe_close(wr);

	/* Keep only the tail: tar may complain about every member. */
	while ((n = read(rd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (tail_len == sizeof(tail) - 1) {
				memmove(tail, tail + sizeof(tail) / 2, sizeof(tail) / 2);
				tail_len -= sizeof(tail) / 2;
			}
			tail[tail_len++] = buf[i];
		}
	}
	tail[tail_len] = '\0';

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();

	if (ret_err) {
		char *end, *last;

		while (tail_len > 0 && (tail[tail_len - 1] == '\n' || tail[tail_len - 1] == ' '))
			tail[--tail_len] = '\0';
		end = tail + tail_len;
		last = memrchr(tail, '\n', (size_t) (end - tail));
		*ret_err = strdup(last ? last + 1 : tail);
	}
	if (WIFSIGNALED(status))
		return -ECHILD;
	return WEXITSTATUS(status);
}

/* Runs tar to extract file into the existing directory into. */
static int tar_extract(const char *file, const char *into, char **why)
{
	char *argv[] = { (char *) "tar", (char *) "-x", (char *) "-f", (char *) file,
			 (char *) "-C", (char *) into, (char *) "--no-same-owner", NULL };
	_cleanup_free_ char *err = NULL;
	int r;

	r = run_capture(argv, &err);
	if (r < 0)
		return source_why_first(why, r == -ECHILD ? -EIO : r, "cannot run tar: %s",
					r == -ECHILD ? "killed by a signal" : strerror(-r));
	if (r != 0)
		return source_why_first(why, -EIO, "tar failed to extract '%s' (exit %d): %s", file,
					r, err && *err ? err : "no message");
	return 0;
}

/* The only entry of dir when that is a directory (malloc'd name), else NULL in *ret. */
static int single_directory(const char *dir, char **ret, char **why)
{
	_cleanup_(source_closedirp) DIR *d = opendir(dir);
	_cleanup_free_ char *only = NULL;
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return source_why_first(why, negative_errno(), "cannot read '%s': %m", dir);
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		n++;
		if (n == 1 && de->d_type == DT_DIR) {
			only = strdup(de->d_name);
			if (!only)
				return -ENOMEM;
		}
	}
	*ret = n == 1 ? TAKE_PTR(only) : NULL;
	return 0;
}

/*
 * Extracts file into "{workdir}/linux". A single top-level directory (linux-6.12.3/,
 * linux-source-6.12/) becomes the tree; an archive of loose files is the tree itself.
 */
int source_tarball_extract(const char *file, const char *workdir, char **ret_dir, char **why)
{
	_cleanup_free_ char *dest = source_path_join(workdir, "linux");
	_cleanup_free_ char *tmp = source_path_join(workdir, ".extract");
	_cleanup_free_ char *only = NULL, *tree = NULL;
	int r;

	if (!dest || !tmp)
		return -ENOMEM;
	if (access(dest, F_OK) == 0)
		return source_why_first(why, -EEXIST, "'%s' already exists; extract into a fresh "
					"work dir", dest);
	if (mkdir(tmp, 0755) < 0)
		return source_why_first(why, negative_errno(), "cannot create '%s': %m", tmp);
	r = tar_extract(file, tmp, why);
	if (r < 0)
		return r;
	r = single_directory(tmp, &only, why);
	if (r < 0)
		return r;
	if (only) {
		tree = source_path_join(tmp, only);
		if (!tree)
			return -ENOMEM;
		if (rename(tree, dest) < 0)
			return source_why_first(why, negative_errno(), "cannot move '%s': %m", tree);
		(void) rmdir(tmp);
	} else if (rename(tmp, dest) < 0)
		return source_why_first(why, negative_errno(), "cannot move '%s': %m", tmp);

	r = source_check_kernel_tree(dest, why);
	if (r < 0)
		return r;
	*ret_dir = TAKE_PTR(dest);
	return 0;
}
