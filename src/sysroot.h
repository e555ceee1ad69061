/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdio.h>

/*
 * Every sysfs and /proc read goes through one directory fd: "/" on the host,
 * or a snapshot directory given by --sysroot / KTSCOPE_SYSROOT (util-linux
 * style). Paths passed below are relative ("sys/devices/system/cpu/online").
 */
struct kts_sysroot {
	int fd;
	char *path;  /* canonical, "/" for the host */
	bool host;   /* true when path is "/" */
};

#define KTS_SYSROOT_INIT ((struct kts_sysroot){ .fd = -1 })

/* path NULL or "/" → host. -ENOENT/-ENOTDIR/-EACCES from open. */
int sysroot_open(const char *path, struct kts_sysroot *ret);
void sysroot_close(struct kts_sysroot *root);

/* Absolute path of rel under the root, for error messages. Caller frees. */
char *sysroot_abspath(const struct kts_sysroot *root, const char *rel);

/*
 * Reads a whole small file under the root, strips trailing whitespace.
 * -ENOENT when missing, other negative errno on failure. Caller frees *ret.
 */
int sysroot_read_line(const struct kts_sysroot *root, const char *rel, char **ret);
/* fopen()-alike under the root; NULL with errno set on failure. */
FILE *sysroot_fopen(const struct kts_sysroot *root, const char *rel);
/* opendir-like: returns an fd for fdopendir(), or negative errno. */
int sysroot_open_dir(const struct kts_sysroot *root, const char *rel);
/* 1 if rel exists under the root, 0 if not, negative errno on other errors. */
int sysroot_exists(const struct kts_sysroot *root, const char *rel);
