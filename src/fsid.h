/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdio.h>
#include <sys/types.h>

/*
 * Filesystem identity of a path (DESIGN §6): the UUID and type of the filesystem that holds it,
 * recorded in metadata so the same path on another disk counts as another tree.
 *
 * Never a hard failure: whatever cannot be learnt stays "" (tmpfs, overlay, btrfs without a
 * readable device, a device node we may not open as non-root, ...). Strings are NUL-terminated
 * and truncated to fit; real UUIDs (36 chars) and type names are far shorter.
 */
struct kts_fsid {
	char uuid[64];   /* e.g. "0f1e...-..."; "" when unknown */
	char type[32];   /* e.g. "ext4", "btrfs", "tmpfs"; "" when unknown */
	char source[256]; /* mount source from mountinfo ("/dev/nvme0n1p2", "tmpfs"); "" when unknown */
};

/*
 * Fills *ret for the filesystem holding path: stat → st_dev → libblkid devname → superblock probe
 * (UUID, TYPE), else the libblkid cache, else the mountinfo line of that st_dev (type and source,
 * then a probe of the source when it is a /dev node); without libblkid (a warning, once) only
 * mountinfo and udev's links. Always returns 0 and writes *ret; the only
 * error is -EINVAL for NULL arguments. Returns 1 instead of 0 when a UUID was found.
 */
int fsid_get(const char *path, struct kts_fsid *ret);

/*
 * Loads libblkid (fsid_probe() and fsid_get() do); 0, or -ELIBACC/-ELIBBAD and *ret_why as
 * dlopen_lib_load()'s.
 */
int fsid_load(char **ret_why);

/*
 * Probes the filesystem superblock on devname (a block device or an image file) with libblkid.
 * 0 and *ret filled (uuid and type; source = devname) on success; -ENOENT/-EACCES/... when the
 * device cannot be opened, -ENODATA when no filesystem is recognised, -ELIBACC/-ELIBBAD when
 * libblkid cannot be loaded (logged once). *ret untouched on failure.
 */
int fsid_probe(const char *devname, struct kts_fsid *ret);

/*
 * Finds the mount whose device is dev in a mountinfo stream (proc_pid_mountinfo(5) format;
 * "\040"-style escapes decoded) and returns its type and source in *ret (uuid left "").
 * 0 on success, -ENOENT when no line matches, -EBADMSG never (malformed lines are skipped).
 */
int fsid_from_mountinfo(FILE *f, dev_t dev, struct kts_fsid *ret);
