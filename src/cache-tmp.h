/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sys/types.h>

/*
 * The cache's work area {root}/.tmp (DESIGN §7): every directory in it is named
 * {name}.{pid} after the process that made it, and is held by that process with an
 * exclusive flock(2) on the directory itself for its whole life, from creation until it
 * is removed or renamed away (the lock follows the directory through a rename).
 *
 * The lock, not the pid, says whether a directory is in use: a cache may be shared
 * between containers with separate PID namespaces, where kill(pid, 0) answers ESRCH for a
 * live build of another namespace. cache_sweep_tmp() removes a directory only when its
 * pid is dead here and its lock can be taken; a process that dies (even by SIGKILL)
 * releases its locks, so what it left is swept by the next caller.
 */

/* "{root}/.tmp/{prefix}{name}.{pid}" with this process's pid, malloc'd. -ENOMEM. */
int cache_tmp_path(const char *root, const char *prefix, const char *name, char **ret);

/*
 * Opens the directory at path (relative to atfd; never following a symlink) and takes
 * LOCK_EX on it without waiting. On success *ret_fd is the locked O_CLOEXEC descriptor:
 * close it to unlock. -EWOULDBLOCK when another process holds it; -ENOENT, -ENOTDIR,
 * -ELOOP (a symlink) as open(2) says.
 */
int cache_tmp_lock_dir(int atfd, const char *path, int *ret_fd);

/*
 * Creates the empty directory {root}/.tmp/{name}.{pid} with mode (creating {root}/.tmp)
 * and returns its path and its lock: *ret_lock_fd holds LOCK_EX on the directory until
 * closed. Keep it open for the directory's whole life. A leftover of an earlier attempt
 * of this pid is removed first. -EBUSY when that name is held by a live process (a process
 * of another PID namespace with the same pid number, using the same name); else -errno of
 * the failed mkdir/open. Nothing is written on failure.
 */
int cache_tmp_create(const char *root, const char *name, mode_t mode, char **ret_path,
		     int *ret_lock_fd);

/*
 * Removes every .tmp/{name}.{pid} whose pid is dead in this PID namespace (kill(pid, 0)
 * fails with ESRCH) and whose directory lock can be taken (LOCK_EX|LOCK_NB): a live
 * process anywhere holds its own. Live pids, EPERM (alive, another user's), locked
 * directories and names without a pid suffix are left alone. A symlink or file with such
 * a name is removed, never followed. Returns the number removed; a missing .tmp is 0.
 */
int cache_sweep_tmp(const char *root);
