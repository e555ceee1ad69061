/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tarball sources (source.h, "tarball"): a local .tar.* is identified by the SHA-256 of the
 * file (through the identity memo of source-memo.c when the caller names one), a URL by that
 * of its download; extraction with tar(1) into "{workdir}/linux". Also the download of a
 * tarball through http.c, which releases share.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "source-internal.h"
#include "source-memo.h"
#include "util.h"

static bool is_url(const char *s)
{
	return startswith(s, "http://") || startswith(s, "https://");
}

int source_tarball_open(const char *file_or_url, const struct kts_fetch_opts *opts,
			struct kts_source *s, char **why)
{
	_cleanup_close_ int fd = -EBADF;
	char canon[PATH_MAX], sha[65];
	struct timespec now;
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
		return source_why_first(why, -EISDIR,
					"'%s' is a directory, not a tarball (use "
					"--source)",
					file_or_url);
	if (!realpath(file_or_url, canon))
		return source_why_first(why, negative_errno(), "cannot resolve '%s': %m",
					file_or_url);
	fd = open_read_at(AT_FDCWD, canon, 0);
	(void) clock_gettime(CLOCK_REALTIME, &now);
	r = fd < 0 ? fd
		   : source_memo_sha256(opts ? opts->tarball_memo : NULL, fd, canon, &now, sha,
					&s->tarball_st);
	if (r < 0)
		return source_why_first(why, r, "cannot read tarball '%s': %s", canon,
					strerror(-r));
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

/* The last line of a program's stderr, for a one-line reason. */
static const char *last_line(char *s)
{
	size_t n = strlen(s);
	char *nl;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	nl = strrchr(s, '\n');
	return nl ? nl + 1 : s;
}

/* Runs tar to extract file into the existing directory into. */
static int tar_extract(const char *file, const char *into, char **why)
{
	char *argv[] = { (char *) "tar",
			 (char *) "-x",
			 (char *) "-f",
			 (char *) file,
			 (char *) "-C",
			 (char *) into,
			 (char *) "--no-same-owner",
			 NULL };
	/* Keep only the tail of stderr: tar may complain about every member. */
	const struct spawn_opts o = { .err = SPAWN_PIPE, .max = 1024, .keep_tail = true };
	_cleanup_free_ char *err = NULL;
	int r, status;

	r = spawn_capture(argv, &o, &status, NULL, &err);
	if (r < 0)
		return source_why_first(why, r, "cannot run tar: %s", strerror(-r));
	if (WIFSIGNALED(status))
		return source_why_first(why, -EIO, "cannot run tar: killed by signal %d",
					WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		return source_why_first(why, -EIO, "tar failed to extract '%s' (exit %d): %s", file,
					WEXITSTATUS(status),
					err && *last_line(err) ? last_line(err) : "no message");
	return 0;
}

/* The only entry of dir when that is a directory (malloc'd name), else NULL in *ret. */
static int single_directory(const char *dir, char **ret, char **why)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
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
		return source_why_first(why, -EEXIST,
					"'%s' already exists; extract into a fresh "
					"work dir",
					dest);
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
			return source_why_first(why, negative_errno(), "cannot move '%s': %m",
						tree);
		(void) rmdir(tmp);
	} else if (rename(tmp, dest) < 0)
		return source_why_first(why, negative_errno(), "cannot move '%s': %m", tmp);

	r = source_check_kernel_tree(dest, why);
	if (r < 0)
		return r;
	*ret_dir = TAKE_PTR(dest);
	return 0;
}
