/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The utility layer (util.h) on a real filesystem and real processes: every test that
 * touches files gets a mkdtemp() directory; spawn tests run /bin/sh and printf.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "util.h"

struct fixture {
	char dir[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/kts-util-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
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

static char *path_in(const struct fixture *f, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
	return p;
}

static void write_file(const char *path, const char *data, size_t len)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, data, len), 0);
}

static void test_read_write_round_trip(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = path_in(f, "data"), *buf = NULL, *big = malloc(300000);
	size_t len = 0;

	assert_non_null(big);
	for (size_t i = 0; i < 300000; i++)
		big[i] = (char) (i * 7 + 1); /* includes NUL bytes */
	write_file(p, big, 300000);
	assert_int_equal(read_full_file(p, 0, &buf, &len), 0);
	assert_int_equal(len, 300000);
	assert_memory_equal(buf, big, 300000);
	assert_int_equal(buf[len], '\0');
	free(buf);
	buf = NULL;

	/* An empty file: an empty string, not NULL. */
	write_file(p, "", 0);
	assert_int_equal(read_full_file(p, 0, &buf, &len), 0);
	assert_non_null(buf);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
}

static void test_read_proc_file_of_size_zero(void **state)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	(void) state;
	assert_int_equal(read_full_file("/proc/self/mountinfo", 0, &buf, &len), 0);
	assert_true(len > 0);
	assert_int_equal(strlen(buf), len);
}

static void test_read_limits_and_errors(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = path_in(f, "ten"), *fifo = path_in(f, "fifo"), *buf = NULL;
	size_t len = 0;

	write_file(p, "0123456789", 10);
	assert_int_equal(read_full_file(p, 9, &buf, &len), -EFBIG);
	assert_null(buf); /* never written on failure */
	assert_int_equal(read_full_file(p, 10, &buf, &len), 0);
	assert_string_equal(buf, "0123456789");
	free(buf);
	buf = NULL;

	/* -EFBIG on a size-0 file too (a pipe has no size to check up front). */
	{
		int pfd[2];

		assert_int_equal(pipe(pfd), 0);
		assert_int_equal(write_all(pfd[1], "0123456789", 10), 0);
		close(pfd[1]);
		assert_int_equal(read_full_fd(pfd[0], 5, &buf, &len), -EFBIG);
		assert_null(buf);
		close(pfd[0]);
	}

	assert_int_equal(read_full_file(f->dir, 0, &buf, NULL), -EISDIR);
	assert_int_equal(read_full_file_at(AT_FDCWD, f->dir, READ_FULL_REGULAR, 0, &buf, NULL),
			 -EISDIR);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(read_full_file_at(AT_FDCWD, fifo, READ_FULL_REGULAR, 0, &buf, NULL),
			 -EINVAL);
	assert_int_equal(read_full_file("/nonexistent/x", 0, &buf, NULL), -ENOENT);
	assert_null(buf);

	/* Relative to a directory fd. */
	{
		_cleanup_close_ int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(dfd >= 0);
		assert_int_equal(read_full_file_at(dfd, "ten", READ_FULL_REGULAR, 0, &buf, &len),
				 0);
		assert_int_equal(len, 10);
	}
}

static void test_write_file_atomic(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = path_in(f, "atomic"), *buf = NULL, *dirslash = path_in(f, "");
	struct stat st;
	size_t len;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	assert_int_equal(write_file_atomic(p, "first", 5, 0600), 0);
	assert_int_equal(write_file_atomic(p, "second", 6, 0644), 0);
	assert_int_equal(read_full_file(p, 0, &buf, &len), 0);
	assert_string_equal(buf, "second");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* No temporary file left behind. */
	d = opendir(f->dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		assert_true(de->d_name[0] != '.' || streq(de->d_name, ".") ||
			    streq(de->d_name, ".."));
	assert_int_equal(write_file_atomic(dirslash, "x", 1, 0644), -EINVAL);
	assert_int_equal(write_file_atomic("/nonexistent/dir/file", "x", 1, 0644), -ENOENT);
}

/* copy_file(): every byte of a file larger than one read, over an existing longer file. */
static void test_copy_file(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *from = path_in(f, "from"), *to = path_in(f, "to"), *big = NULL,
			    *buf = NULL;
	const size_t n = 200000;
	size_t len;

	big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char) ('a' + i % 23);
	assert_int_equal(write_file_atomic(from, big, n, 0600), 0);
	assert_int_equal(write_file_atomic(to, big, n, 0644), 0);
	assert_int_equal(write_file_atomic(from, big, n - 7, 0600), 0);
	assert_int_equal(copy_file(from, to), 0);
	assert_int_equal(read_full_file(to, 0, &buf, &len), 0);
	assert_int_equal(len, n - 7);
	assert_memory_equal(buf, big, n - 7);
	assert_int_equal(copy_file("/nonexistent/file", to), -ENOENT);
}

static void test_open_read_at(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = path_in(f, "file"), *fifo = path_in(f, "fifo");
	int fd;

	write_file(p, "x", 1);
	fd = open_read_at(AT_FDCWD, p, READ_FULL_REGULAR);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	assert_int_equal(open_read_at(AT_FDCWD, f->dir, 0), -EISDIR);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(open_read_at(AT_FDCWD, fifo, READ_FULL_REGULAR), -EINVAL);
	assert_int_equal(open_read_at(AT_FDCWD, "/nonexistent", 0), -ENOENT);
}

static void test_write_all_to_pipe(void **state)
{
	_cleanup_free_ char *out = NULL, *data = malloc(1 << 20);
	int pfd[2], status;
	size_t len = 0;
	pid_t pid;

	(void) state;
	assert_non_null(data);
	for (size_t i = 0; i < (1 << 20); i++)
		data[i] = (char) ('a' + i % 26);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	/* 1 MiB through a 64 KiB pipe: only a loop over partial writes gets it all across. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		_exit(write_all(pfd[1], data, 1 << 20) == 0 ? 0 : 1);
	}
	close(pfd[1]);
	assert_int_equal(read_full_fd(pfd[0], 2 << 20, &out, &len), 0);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(len, 1 << 20);
	assert_memory_equal(out, data, 1 << 20);

	/* A reader gone: -EPIPE, not a signal (the test ignores SIGPIPE, as ktscope's callers
	 * do where it matters). */
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	close(pfd[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write_all(pfd[1], "x", 1), -EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(pfd[1]);

	/* A full disk: /dev/full. */
	{
		_cleanup_close_ int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

		if (fd >= 0)
			assert_int_equal(write_all(fd, "x", 1), -ENOSPC);
	}
}

static void test_mkdir_p(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *deep = path_in(f, "a/b//c/d/"), *file = path_in(f, "file"),
			    *under = path_in(f, "file/x/y");
	struct stat st;

	assert_int_equal(mkdir_p(deep, 0755), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(mkdir_p(deep, 0755), 0); /* EEXIST of a directory is fine */
	write_file(file, "x", 1);
	assert_int_equal(mkdir_p(file, 0755), -ENOTDIR);
	assert_int_equal(mkdir_p(under, 0755), -ENOTDIR);
	assert_int_equal(mkdir_p("", 0755), -EINVAL);
}

static void test_rm_rf_keeps_symlink_targets(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *outside = path_in(f, "outside"), *keep = path_in(f, "outside/keep"),
			    *tree = path_in(f, "tree"), *deep = path_in(f, "tree/a/b/c"),
			    *file = path_in(f, "tree/a/b/c/file"), *link = path_in(f, "tree/a/link"),
			    *flink = path_in(f, "tree/flink");
	struct stat st;

	assert_int_equal(mkdir_p(outside, 0755), 0);
	write_file(keep, "keep", 4);
	assert_int_equal(mkdir_p(deep, 0755), 0);
	write_file(file, "x", 1);
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(symlink(keep, flink), 0);
	/* An unreadable directory inside: removable by its owner all the same (root or not). */
	assert_int_equal(chmod(deep, 0700), 0);

	assert_int_equal(rm_rf(tree), 0);
	assert_int_equal(lstat(tree, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat(keep, &st), 0); /* the outside survives */
	assert_int_equal(rm_rf(tree), 0);	      /* missing is success */

	/* A symlink given as the name itself is unlinked, its target kept. */
	assert_int_equal(symlink(outside, tree), 0);
	assert_int_equal(rm_rf(tree), 0);
	assert_int_equal(stat(keep, &st), 0);

	/* A plain file. */
	{
		_cleanup_close_ int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_int_equal(rm_rf_at(dfd, "outside/keep"), 0);
		assert_int_equal(stat(keep, &st), -1);
	}
}

static void test_spawn_capture_status_and_streams(void **state)
{
	char *const argv[] = { (char *) "/bin/sh", (char *) "-c",
			       (char *) "echo out; echo err >&2; exit 3", NULL };
	struct spawn_opts o = { .out = SPAWN_PIPE, .err = SPAWN_PIPE };
	_cleanup_free_ char *out = NULL, *err = NULL;
	int status = -1;

	(void) state;
	assert_int_equal(spawn_capture(argv, &o, &status, &out, &err), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_string_equal(out, "out\n");
	assert_string_equal(err, "err\n");
	free(out);
	free(err);
	out = err = NULL;

	/* 2>&1 */
	o.err = SPAWN_STDOUT;
	assert_int_equal(spawn_capture(argv, &o, &status, &out, &err), 0);
	assert_string_equal(out, "out\nerr\n");
	assert_null(err);
}

static void test_spawn_missing_program(void **state)
{
	char *const argv[] = { (char *) "kts-no-such-program-here", NULL };
	char *const abs[] = { (char *) "/nonexistent/prog", NULL };
	struct spawn_opts o = { .out = SPAWN_PIPE };
	char *out = NULL;
	int status = -1;

	(void) state;
	assert_int_equal(spawn_capture(argv, &o, &status, &out, NULL), -ENOENT);
	assert_null(out);
	assert_int_equal(status, -1);
	assert_int_equal(spawn_capture(abs, &o, &status, &out, NULL), -ENOENT);
}

static void test_spawn_arguments_pass_unquoted(void **state)
{
	char *const argv[] = { (char *) "printf", (char *) "[%s][%s]",
			       (char *) "/tmp/it's a 'path'", (char *) "$HOME;`x`", NULL };
	struct spawn_opts o = { .out = SPAWN_PIPE };
	_cleanup_free_ char *out = NULL;
	int status;

	(void) state;
	assert_int_equal(spawn_capture(argv, &o, &status, &out, NULL), 0);
	assert_int_equal(status, 0);
	assert_string_equal(out, "[/tmp/it's a 'path'][$HOME;`x`]");
}

static void test_spawn_limits_env_cwd_stdin(void **state)
{
	struct fixture *f = *state;
	char *const many[] = { (char *) "/bin/sh", (char *) "-c",
			       (char *) "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done",
			       NULL };
	char *const env[] = { (char *) "/bin/sh", (char *) "-c",
			      (char *) "echo \"${KTS_A-unset} ${KTS_B-unset}\"; pwd", NULL };
	char *const cat[] = { (char *) "cat", NULL };
	const char *const unset[] = { "KTS_A", NULL };
	struct spawn_opts o = { .out = SPAWN_PIPE, .max = 10 };
	_cleanup_free_ char *out = NULL, *want = NULL, *in = path_in(f, "in");
	int status;

	/* The first max bytes, the rest drained (the child is not blocked by a full pipe). */
	assert_int_equal(spawn_capture(many, &o, &status, &out, NULL), 0);
	assert_int_equal(status, 0);
	assert_string_equal(out, "line0\nline");
	free(out);
	o.keep_tail = true;
	assert_int_equal(spawn_capture(many, &o, &status, &out, NULL), 0);
	assert_string_equal(out, "\nline1999\n");
	free(out);
	out = NULL;

	setenv("KTS_A", "a", 1);
	setenv("KTS_B", "b", 1);
	o = (struct spawn_opts){ .out = SPAWN_PIPE, .unset_env = unset, .cwd = f->dir };
	assert_int_equal(spawn_capture(env, &o, &status, &out, NULL), 0);
	assert_true(asprintf(&want, "unset b\n%s\n", f->dir) > 0);
	assert_string_equal(out, want);
	free(out);
	out = NULL;

	write_file(in, "from stdin", 10);
	{
		_cleanup_close_ int fd = open(in, O_RDONLY | O_CLOEXEC);

		o = (struct spawn_opts){ .in = SPAWN_FD, .in_fd = fd, .out = SPAWN_PIPE };
		assert_int_equal(spawn_capture(cat, &o, &status, &out, NULL), 0);
		assert_string_equal(out, "from stdin");
		free(out);
		out = NULL;
	}
	/* Default stdin is /dev/null: cat ends at once. */
	o = (struct spawn_opts){ .out = SPAWN_PIPE };
	assert_int_equal(spawn_capture(cat, &o, &status, &out, NULL), 0);
	assert_string_equal(out, "");
}

static void test_spawn_start_streams(void **state)
{
	char *const argv[] = { (char *) "/bin/sh", (char *) "-c",
			       (char *) "echo one; echo two >&2; exit 7", NULL };
	struct spawn_opts o = { .out = SPAWN_PIPE, .err = SPAWN_STDOUT };
	_cleanup_free_ char *text = NULL;
	int fd = -EBADF, status;
	pid_t pid;

	(void) state;
	assert_int_equal(spawn_start(argv, &o, &pid, &fd, NULL), 0);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(read_full_fd(fd, 0, &text, NULL), 0);
	close(fd);
	assert_int_equal(spawn_wait(pid, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 7);
	assert_string_equal(text, "one\ntwo\n");
}

struct seen {
	int n;
	struct mountinfo_entry e[4];
	char mp[4][64], opt[4][64], src[4][64], root[4][64];
};

static int collect(const struct mountinfo_entry *e, void *userdata)
{
	struct seen *s = userdata;

	if (s->n == 4)
		return -E2BIG;
	s->e[s->n] = *e;
	snprintf(s->mp[s->n], 64, "%s", e->mount_point);
	snprintf(s->opt[s->n], 64, "%s", e->optional);
	snprintf(s->src[s->n], 64, "%s", e->source);
	snprintf(s->root[s->n], 64, "%s", e->root);
	s->n++;
	return 0;
}

static int find_tmp(const struct mountinfo_entry *e, void *userdata)
{
	(void) userdata;
	return streq(e->mount_point, "/tmp") ? 42 : 0;
}

static const char mountinfo_text[] =
	"22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw,errors=remount-ro\n"
	"garbage line\n"
	"40 22 0:40 / /tmp rw - tmpfs tmpfs rw\n"
	"41 22 0:41 /sub\\040dir /mnt/my\\040disk\\011x rw,nosuid shared:7 master:3 - fuse.x "
	"a\\134b rw\n"
	"42 22 0:42 / /short rw shared:1\n";

static void test_mountinfo_fields_and_escapes(void **state)
{
	struct seen s = {};

	(void) state;
	assert_int_equal(mountinfo_foreach(mountinfo_text, collect, &s), 0);
	assert_int_equal(s.n, 3); /* the garbage and the line without "-" are skipped */
	assert_int_equal(s.e[0].mount_id, 22);
	assert_int_equal(s.e[0].parent_id, 1);
	assert_int_equal(s.e[0].major, 254);
	assert_int_equal(s.e[0].minor, 0);
	assert_string_equal(s.mp[0], "/");
	assert_string_equal(s.opt[0], "shared:1");
	assert_string_equal(s.src[0], "/dev/mapper/root");
	assert_string_equal(s.opt[1], "");
	assert_string_equal(s.mp[1], "/tmp");
	assert_string_equal(s.mp[2], "/mnt/my disk\tx");
	assert_string_equal(s.root[2], "/sub dir");
	assert_string_equal(s.opt[2], "shared:7 master:3");
	assert_string_equal(s.src[2], "a\\b");
	assert_int_equal(s.e[2].minor, 41);

	/* A positive return stops the walk and is returned. */
	assert_int_equal(mountinfo_foreach(mountinfo_text, find_tmp, NULL), 42);

	/* The same over a stream; and the real one parses. */
	{
		_cleanup_fclose_ FILE *f = fmemopen((void *) mountinfo_text, strlen(mountinfo_text),
						    "r");
		struct seen s2 = {};

		assert_non_null(f);
		assert_int_equal(mountinfo_foreach_file(f, collect, &s2), 0);
		assert_int_equal(s2.n, 3);
		assert_string_equal(s2.mp[2], "/mnt/my disk\tx");
	}
	{
		_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
		struct seen s3 = {};

		assert_non_null(f);
		/* More than four entries: the callback's error comes back. */
		int r = mountinfo_foreach_file(f, collect, &s3);
		assert_true(r == 0 || r == -E2BIG);
		assert_true(s3.n >= 1);
	}
}

static void test_mountinfo_unescape(void **state)
{
	char a[] = "a\\040b\\134\\011c", b[] = "\\400\\09x\\", c[] = "";

	(void) state;
	mountinfo_unescape(a);
	assert_string_equal(a, "a b\\\tc");
	mountinfo_unescape(b); /* out of range or non-octal: kept */
	assert_string_equal(b, "\\400\\09x\\");
	mountinfo_unescape(c);
	assert_string_equal(c, "");
}

/* disk_space(): the mount point found by walking up, from a path and from the mount itself. */
static void test_disk_space(void **state)
{
	_cleanup_free_ char *root = NULL, *proc = NULL, *self = NULL;
	uint64_t avail = UINT64_MAX;

	(void) state;
	assert_int_equal(disk_space("/", &root, &avail), 0);
	assert_string_equal(root, "/");
	assert_true(avail != UINT64_MAX);
	/* /proc is its own mount on every Linux this runs on; both reach its mount point. */
	assert_int_equal(disk_space("/proc/self/fd", &proc, NULL), 0);
	assert_string_equal(proc, "/proc");
	assert_int_equal(disk_space("/proc", &self, NULL), 0);
	assert_string_equal(self, "/proc");
	assert_int_equal(disk_space("/nonexistent/ktscope", NULL, NULL), -ENOENT);
}

/* Foreign text in a one-line message: controls, bad bytes and length are all contained. */
static void test_utf8_printable(void **state)
{
	char cont[300];
	char *s;

	(void) state;
	s = utf8_printable("a\033[2Jb\nc\xc2\x9b\x7f", 11, 64);
	assert_string_equal(s, "a?[2Jb?c??");
	free(s);
	s = utf8_printable("caf\xe9 \xc3\xa9\0x", 9, 64);
	assert_string_equal(s, "caf\xef\xbf\xbd \xc3\xa9?x");
	free(s);
	s = utf8_printable("abcdef", 6, 3);
	assert_string_equal(s, "abc…");
	free(s);
	s = utf8_printable("abc", 3, 3);
	assert_string_equal(s, "abc");
	free(s);
	/* Lone continuation bytes are characters too (found by fuzz/fuzz-proc-locks). */
	memset(cont, 0xb8, sizeof(cont));
	s = utf8_printable(cont, sizeof(cont), 10);
	assert_int_equal(strlen(s), 10 * 3 + strlen("…"));
	free(s);
}

/* fifo_poke(): one byte to a waiting reader; none: -ENXIO, never a block or a SIGPIPE. */
static void test_fifo_poke(void **state)
{
	char dir[] = "/tmp/test-util-fifo.XXXXXX", path[64], byte = 0;
	int fd;

	(void) state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/made", dir);
	assert_int_equal(fifo_poke(path), -ENOENT);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(fifo_poke(path), -ENXIO); /* nobody reads it: no block */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fifo_poke(path), 0);
	assert_int_equal(read(fd, &byte, 1), 1);
	assert_int_equal(byte, 'm');
	assert_int_equal(read(fd, &byte, 1), 0); /* the writer is gone: end of file */
	(void) close(fd);
	(void) unlink(path);
	(void) rmdir(dir);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_read_write_round_trip),
		cmocka_unit_test(test_read_proc_file_of_size_zero),
		T(test_read_limits_and_errors),
		cmocka_unit_test(test_write_all_to_pipe),
		T(test_write_file_atomic),
		T(test_copy_file),
		T(test_open_read_at),
		T(test_mkdir_p),
		T(test_rm_rf_keeps_symlink_targets),
		cmocka_unit_test(test_spawn_capture_status_and_streams),
		cmocka_unit_test(test_spawn_missing_program),
		cmocka_unit_test(test_spawn_arguments_pass_unquoted),
		T(test_spawn_limits_env_cwd_stdin),
		cmocka_unit_test(test_spawn_start_streams),
		cmocka_unit_test(test_mountinfo_fields_and_escapes),
		cmocka_unit_test(test_mountinfo_unescape),
		cmocka_unit_test(test_disk_space),
		cmocka_unit_test(test_utf8_printable),
		cmocka_unit_test(test_fifo_poke),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
