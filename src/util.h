/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The shared utility layer (DESIGN §2): the helpers every module needs and none owns.
 *
 *   util-file.c        whole-file reads, write_all(), mkdir -p, rm -rf without forking
 *   util-spawn.c       running a program without a shell: posix_spawnp(), captured or streamed
 *   util-mountinfo.c   one parser for proc_pid_mountinfo(5)
 *   util-utf8.c        UTF-8 validation and repair
 *
 * Conventions (STYLE.md): 0 or positive on success, negative errno on failure; ret_*
 * parameters last and never written on failure; every fd this layer opens is O_CLOEXEC;
 * EINTR is retried. Nothing here logs above debug level.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---------------------------------------------------------------- files (util-file.c) */

/*
 * One byte to the FIFO at path, for a reader waiting on it: never blocks, and a reader
 * gone between the open and the write is -EPIPE here, not a SIGPIPE. 0, or -errno
 * (-ENXIO: nobody has it open for reading).
 */
int fifo_poke(const char *path);

/* The limit a whole-file read uses when the caller passes max = 0. */
#define READ_FULL_DEFAULT_MAX ((size_t) 64 << 20)

enum {
	/* Refuse anything but a regular file: -EISDIR for a directory, -EINVAL for a FIFO,
	 * socket or device (opened O_NONBLOCK, so a FIFO cannot hang the open). */
	READ_FULL_REGULAR = 1 << 0,
};

/*
 * Reads until n bytes or EOF, across short reads and EINTR: the count read (less than n only
 * at EOF), or negative errno.
 */
ssize_t loop_read(int fd, void *buf, size_t n);

/*
 * Reads all of fd (from its current offset) into a NUL-terminated buffer; *ret_len (may be
 * NULL) excludes the NUL. Works for size-0 /proc and sysfs files. -EFBIG when the data
 * exceeds max bytes (0: READ_FULL_DEFAULT_MAX). The buffer may hold NUL bytes.
 */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len);
/*
 * Opens path for reading (relative to dirfd, O_CLOEXEC | O_NOCTTY) and returns the fd:
 * -EISDIR for a directory, and with READ_FULL_REGULAR -EINVAL for anything not regular.
 */
int open_read_at(int dirfd, const char *path, unsigned flags);
/* read_full_fd() of path; openat()-style relative to dirfd (AT_FDCWD for plain paths). */
int read_full_file_at(int dirfd, const char *path, unsigned flags, size_t max, char **ret,
		      size_t *ret_len);
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* Writes all len bytes, across partial writes and EINTR. -errno (-ENOSPC, -EPIPE, ...). */
int write_all(int fd, const void *buf, size_t len);

/*
 * Replaces path atomically with len bytes of data and mode: a hidden temporary file beside
 * it, fsync, rename, fsync of the directory. Readers see the old file, or the whole new one.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Copies the regular file from to to (created or truncated, mode 0644), fsync'd; -errno. */
int copy_file(const char *from, const char *to);

/*
 * Where path's filesystem is mounted (the topmost ancestor of path on the same device,
 * found by walking up; caller frees) and the bytes still free there for us (f_bavail,
 * or f_bfree as root, which may use the reserved blocks). path must exist. Either ret
 * may be NULL. -errno of realpath/stat/statvfs.
 */
int disk_space(const char *path, char **ret_mount, uint64_t *ret_free);

/*
 * mkdir -p: creates path and its missing parents with mode. An existing directory (or a
 * symlink to one) is success; a non-directory in the way is -ENOTDIR.
 */
int mkdir_p(const char *path, mode_t mode);

/*
 * rm -rf of name relative to dirfd, without forking. Never follows a symlink (a symlink is
 * removed itself, its target stays) and does not descend into another mount (-EXDEV for
 * such a directory, after removing everything else). A missing name is success. Returns the
 * first error met; keeps removing what it can after one.
 */
int rm_rf_at(int dirfd, const char *name);
int rm_rf(const char *path);

/* ---------------------------------------------------------------- processes (util-spawn.c) */

/* Where a child's stdin, stdout or stderr goes. The zero value is /dev/null. */
enum spawn_stdio {
	SPAWN_NULL = 0, /* /dev/null */
	SPAWN_INHERIT,	/* our own fd 0, 1 or 2 */
	SPAWN_PIPE,	/* out/err only: spawn_capture() returns the bytes, spawn_start() a fd */
	SPAWN_FD,	/* the fd in in_fd, out_fd or err_fd (dup2()ed; ours stays open) */
	SPAWN_STDOUT,	/* err only: wherever stdout goes (2>&1) */
};

struct spawn_opts {
	enum spawn_stdio in, out, err;
	int in_fd, out_fd, err_fd; /* with SPAWN_FD */
	/* spawn_capture(): bytes kept per stream (0: 1 MiB); the rest is read and dropped. */
	size_t max;
	/* spawn_capture(): keep the last max bytes instead of the first (an error's tail). */
	bool keep_tail;
	/* Environment variable names removed from the child's environment (NULL-terminated). */
	const char *const *unset_env;
	const char *cwd; /* NULL: ours */
};

/*
 * Starts argv[0] (looked up in PATH when it has no '/'), without a shell: each argv[i]
 * reaches the program as it is. The child gets an empty signal mask and default SIGPIPE.
 * Returns 0 and the pid, or negative errno when the program could not be started (-ENOENT
 * when not found, -EACCES when not executable). *ret_out_fd / *ret_err_fd (may be NULL when
 * that stream is not SPAWN_PIPE) receive the O_CLOEXEC read ends of SPAWN_PIPE streams,
 * -EBADF otherwise. Reap the child with spawn_wait().
 */
int spawn_start(char *const argv[], const struct spawn_opts *o, pid_t *ret_pid, int *ret_out_fd,
		int *ret_err_fd);

/* waitpid() across EINTR; the raw wait status in *ret_status (may be NULL). */
/*
 * The program name runs as: a NAME with a '/' if executable, else the first regular
 * executable NAME in $PATH; canonical (realpath), malloc'ed; NULL when none.
 */
char *find_program(const char *name);
int spawn_wait(pid_t pid, int *ret_status);

/*
 * spawn_start() + read every SPAWN_PIPE stream to EOF + spawn_wait(). Returns 0 when the
 * program ran (whatever its exit status: see *ret_status, a waitpid() status), or negative
 * errno when it could not be started. *ret_out / *ret_err (NUL-terminated; may be NULL to
 * not receive them) are set for SPAWN_PIPE streams, NULL otherwise. o may be NULL (all
 * streams /dev/null).
 */
int spawn_capture(char *const argv[], const struct spawn_opts *o, int *ret_status, char **ret_out,
		  char **ret_err);

/* ---------------------------------------------------------------- mounts (util-mountinfo.c) */

/* One proc_pid_mountinfo(5) line; strings are \NNN-unescaped and valid during the callback. */
struct mountinfo_entry {
	int mount_id, parent_id;
	unsigned major, minor;
	const char *root;	   /* the mount's root within its filesystem */
	const char *mount_point;
	const char *mount_options; /* per-mount: "rw,nosuid,relatime" */
	const char *optional;	   /* the optional tagged fields, space-separated ("shared:1"), or "" */
	const char *fstype;
	const char *source;	   /* "/dev/nvme0n1p2", "tmpfs", "none" */
	const char *super_options; /* per-superblock: "rw,errors=remount-ro" */
};

/*
 * Calls cb for each well-formed line of mountinfo text, in order; malformed lines are
 * skipped. A negative return from cb stops the walk and is returned; a positive one stops
 * it and is returned too (found); 0 continues. Returns 0 after the last line.
 */
typedef int (*mountinfo_cb)(const struct mountinfo_entry *e, void *userdata);
int mountinfo_foreach(const char *text, mountinfo_cb cb, void *userdata);
/* The same over a stream, read line by line. */
int mountinfo_foreach_file(FILE *f, mountinfo_cb cb, void *userdata);

/* Decodes the kernel's \NNN octal escapes (space, tab, newline, backslash) in place. */
void mountinfo_unescape(char *s);

/* ---------------------------------------------------------------- text (util-utf8.c) */

/* Length of the UTF-8 sequence at s[0..n) (1..4), or 0 when it is malformed or overlong. */
size_t utf8_seq_len(const unsigned char *s, size_t n);
/*
 * A copy of s with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD,
 * so JSON (which is UTF-8) can carry any path. NULL on ENOMEM (or for NULL).
 */
char *utf8_sanitize(const char *s);
/*
 * s[0..n) made safe to print in a one-line message or on a terminal: control characters
 * (C0, DEL, C1; NUL included) become '?', bytes that are not UTF-8 become U+FFFD, and after
 * max_chars characters the rest is cut and "…" appended. NULL on ENOMEM (or for NULL).
 */
char *utf8_printable(const char *s, size_t n, size_t max_chars);
