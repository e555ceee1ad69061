/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "plan.h"
#include "topology.h"

/*
 * Lock files compatible with ktstr: {lockdir}/ktstr-llc-{index}.lock, flock(2)
 * LOCK_SH for builds and shared runs, LOCK_EX for exclusive runs. Holders are
 * always read from the real host's /proc/locks + mountinfo, even when the
 * topology comes from a --sysroot snapshot.
 */

enum kts_lock_mode {
	KTS_LOCK_SHARED,
	KTS_LOCK_EXCLUSIVE,
};

struct kts_holder {
	pid_t pid;
	enum kts_lock_mode mode;
	char *cmdline; /* NUL→space, trimmed, ≤ 100 chars + "…"; "<unavailable>" if unreadable */
};

/* KTSCOPE_LOCK_DIR (non-empty) or "/tmp". Returned string is static or from environ. */
const char *lock_dir_default(void);
/* "{dir}/ktstr-llc-{index}.lock". Caller frees. */
int lock_llc_path(const char *dir, unsigned index, char **ret);

/*
 * Opens a lock file safely: an existing one O_RDONLY|O_NOFOLLOW|O_CLOEXEC
 * (no O_CREAT: fs.protected_regular), a missing one O_CREAT|O_EXCL mode 0666
 * regardless of umask (a lost race falls back to the plain open). Refuses
 * non-regular files (-EINVAL for FIFOs/devices, -ELOOP for symlinks) and
 * network filesystems (-EREMOTE; *ret_fsname then names it, e.g. "NFS").
 * ret_fsname may be NULL. Returns the fd.
 */
int lock_open(const char *path, const char **ret_fsname);
/* Checks the filesystem holding dir; -EREMOTE + name for NFS/CIFS/SMB/Ceph/AFS/FUSE. */
int lock_check_fs(const char *dir, const char **ret_fsname);

/* Non-blocking flock. 0 on success, -EWOULDBLOCK when held, other negative errno. */
int lock_try(int fd, enum kts_lock_mode mode);

/*
 * Blocking flock: waits until the lock is ours. EINTR is retried, unless a stop was
 * requested (interrupt.h): then -EINTR.
 */
int lock_wait(int fd, enum kts_lock_mode mode);

/* Holders of the lock file at path (distinct pids, first-seen order). */
int lock_holders(const char *path, struct kts_holder **ret, size_t *ret_n);
void lock_holders_free(struct kts_holder *h, size_t n);
const char *lock_mode_to_string(enum kts_lock_mode m);

/*
 * Per-LLC holder counts for the planner; *ret has t->n_llcs entries. When flock(2)
 * says no LLC lock file is held (each probed with LOCK_EX|LOCK_NB, dropped at once),
 * every count is 0 without reading /proc/locks (lock.c says why); otherwise the counts
 * come from /proc/locks. lock_llc_load_with() reads proc_locks instead (for tests).
 */
int lock_llc_load(const char *dir, const struct kts_topology *t, struct kts_llc_load **ret);
int lock_llc_load_with(const char *dir, const struct kts_topology *t, const char *proc_locks,
		       struct kts_llc_load **ret);

/* The holders of one LLC's lock file. */
struct kts_llc_holders {
	struct kts_holder *h;
	size_t n;
};

/*
 * Holders of every LLC's lock file in dir (t->n_llcs entries, in t's order), read
 * from one snapshot of /proc/locks, command lines filled in. A missing or
 * non-regular lock file has no holders (nothing is created). Free with
 * lock_llc_holders_free(v, t->n_llcs).
 */
int lock_llc_holders(const char *dir, const struct kts_topology *t, struct kts_llc_holders **ret);
void lock_llc_holders_free(struct kts_llc_holders *v, size_t n);

/* Closes fds[0..n) and sets each to -EBADF. */
void lock_close_fds(int *fds, size_t n);

/*
 * For tests: the parsers behind lock_holders(), over literal file contents, so
 * they can be pinned without touching the host's /proc.
 */

/*
 * Finds the mount covering path (canonical, absolute) in /proc/self/mountinfo
 * text: the longest mount point that is a path-component prefix of path ("/tmp"
 * covers "/tmp/a" but not "/tmpx"); among equal mount points the last line wins
 * (it is mounted on top). Mount points are \NNN-unescaped first. Writes the
 * decimal major:minor of field 3. -ENOENT when no line covers path.
 */
int lock_parse_mountinfo(const char *mountinfo, const char *path, unsigned *ret_major,
			 unsigned *ret_minor);

/*
 * Parses /proc/locks text: FLOCK lines only (POSIX, OFDLCK, LEASE and "->"
 * waiter lines are skipped) whose dev:inode field equals one of needles
 * ("08:01:1234", as the kernel prints it). READ = shared, WRITE = exclusive;
 * distinct pids in first-seen order (a pid seen with WRITE anywhere counts as
 * exclusive). The returned holders have cmdline == NULL; free with
 * lock_holders_free().
 */
int lock_parse_proc_locks(const char *proc_locks, const char *const *needles, size_t n_needles,
			  struct kts_holder **ret, size_t *ret_n);

/*
 * /proc/PID/cmdline bytes → display string: NUL → space, other control characters
 * → '?', bytes that are not UTF-8 → U+FFFD, trailing whitespace trimmed, more than
 * 100 characters → the first 100 + "…" (utf8_printable()); empty → "<unavailable>".
 * Caller frees.
 */
int lock_cmdline_from_bytes(const char *buf, size_t len, char **ret);

/* Display name of a network filesystem's statfs f_type ("NFS", "CIFS/SMB", ...), or NULL. */
const char *lock_remote_fs_name(uint64_t f_type);
