/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * engine-icecc-env: the toolchain tarball of --icecc (engine-icecc.h,
 * engine_icecc_env()): icecc-create-env packs the build's compiler, its tools and
 * libraries once per compiler identity into {cache}/icecc/, through a temporary directory
 * and a rename; remote iceccd unpack it and compile in it (ICECC_VERSION).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine-icecc.h"
#include "hash.h"
#include "log.h"
#include "macro.h"
#include "util.h"

/*
 * The compiler's identity: SHA-256 over its resolved path, size and mtime (a new
 * compiler package replaces the binary). ret: 16 hex digits and a NUL.
 */
static int compiler_identity(const char *real, const struct stat *st, char ret[17])
{
	_cleanup_free_ char *s = NULL;
	char hex[HASH_SHA256_HEX_SIZE];
	int r, l;

	l = asprintf(&s, "ktscope-icecc-env-1%c%s%c%lld%c%lld.%09ld", 0, real, 0,
		     (long long) st->st_size, 0, (long long) st->st_mtim.tv_sec,
		     st->st_mtim.tv_nsec);
	if (l < 0)
		return -ENOMEM;
	r = hash_sha256_hex(s, (size_t) l, hex);
	if (r < 0)
		return r;
	memcpy(ret, hex, 16);
	ret[16] = '\0';
	return 0;
}

/* The one tarball icecc-create-env left in dir (its name is an MD5 of the contents). */
static int created_tarball(const char *dir, char **ret)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	char *found = NULL;

	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d));) {
		size_t l = strlen(e->d_name);

		if (l > 7 && e->d_name[0] != '.' && strstr(e->d_name, ".tar")) {
			free(found);
			if (asprintf(&found, "%s/%s", dir, e->d_name) < 0)
				return -ENOMEM;
		}
	}
	if (!found)
		return -ENOENT;
	*ret = found;
	return 0;
}

/* Runs icecc-create-env for compiler (an absolute path) with dir as its working directory. */
static int create_env(const char *compiler, const char *dir, char **ret_tarball, char **ret_why)
{
	_cleanup_free_ char *tool = engine_icecc_find_program("icecc-create-env"), *out = NULL;
	struct spawn_opts o = { .out = SPAWN_PIPE, .err = SPAWN_STDOUT, .max = 4096,
				.keep_tail = true, .cwd = dir };
	int status = 0, r;

	if (!tool)
		tool = engine_icecc_find_program("/usr/lib/icecc/icecc-create-env");
	if (!tool)
		return why_set(ret_why, -ENOENT, "icecc-create-env not found");
	r = spawn_capture((char *[]){ tool, (char *) compiler, NULL }, &o, &status, &out, NULL);
	if (r < 0)
		return why_set(ret_why, r, "cannot run '%s': %s", tool, strerror(-r));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *nl = out ? strrchr(out, '\n') : NULL;

		/* the last line of its output says why */
		while (nl && nl > out && nl[1] == '\0') {
			*nl = '\0';
			nl = strrchr(out, '\n');
		}
		return why_set(ret_why, -EIO, "icecc-create-env '%s' failed: %s", compiler,
			       nl ? nl + 1 : strempty(out));
	}
	r = created_tarball(dir, ret_tarball);
	if (r < 0)
		return why_set(ret_why, r, "icecc-create-env '%s' left no tarball in '%s'",
			       compiler, dir);
	return 0;
}

/*
 * Removes the temporary directories of icecc-create-env runs that ended without their
 * rename (a build killed while packing): those older than ENGINE_ICECC_TMP_STALE_S, as a
 * live run takes seconds. Best effort.
 */
static void sweep_stale(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	time_t now = time(NULL);

	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		struct stat st;

		if (!startswith(e->d_name, ".tmp-") ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || now - st.st_mtime < ENGINE_ICECC_TMP_STALE_S)
			continue;
		log_debug("icecream: removing the stale '%s/%s'", dir, e->d_name);
		(void) rm_rf_at(dirfd(d), e->d_name);
	}
}

int engine_icecc_env(const char *cache_root, const char *cc, char **ret_path, bool *ret_made,
		     char **ret_why)
{
	_cleanup_free_ char *bin = engine_icecc_find_program(cc), *real = NULL, *dir = NULL, *path = NULL,
			    *tmp = NULL, *made = NULL;
	char id[17];
	struct stat st;
	int r;

	if (!bin)
		return why_set(ret_why, -ENOENT, "compiler '%s' not found in PATH", cc);
	real = realpath(bin, NULL);
	if (!real || stat(real, &st) < 0)
		return why_set(ret_why, -errno, "compiler '%s': %m", bin);
	r = compiler_identity(real, &st, id);
	if (r < 0)
		return r;
	if (asprintf(&dir, "%s/icecc", cache_root) < 0 ||
	    asprintf(&path, "%s/%s-%s.tar.gz", dir, strrchr(real, '/') + 1, id) < 0)
		return -ENOMEM;
	if (access(path, R_OK) == 0) {
		*ret_path = TAKE_PTR(path);
		*ret_made = false;
		return 0;
	}
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return why_set(ret_why, r, "cannot create '%s': %s", dir, strerror(-r));
	sweep_stale(dir);
	if (asprintf(&tmp, "%s/.tmp-XXXXXX", dir) < 0)
		return -ENOMEM;
	if (!mkdtemp(tmp))
		return why_set(ret_why, -errno, "cannot create a directory in '%s': %m", dir);
	/* some 20 s for gcc: say what the wait is for */
	log_notice("icecream: packing '%s' for the remote daemons (icecc-create-env, once per "
		   "compiler) into '%s'", real, path);
	r = create_env(real, tmp, &made, ret_why);
	if (r >= 0 && rename(made, path) < 0)
		r = why_set(ret_why, -errno, "cannot rename '%s' to '%s': %m", made, path);
	(void) rm_rf(tmp);
	if (r < 0)
		return r;
	*ret_path = TAKE_PTR(path);
	*ret_made = true;
	return 0;
}

