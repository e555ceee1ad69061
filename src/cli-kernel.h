/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the parts of `ktscope kernel` share: cli-kernel.c (the local cache: list, show,
 * clean), cli-kernel-caps.c (an entry's files and sched_ext manifest: path, env, diff, show's
 * summary) and cli-kernel-remote.c (the cache on an OCI registry: push, pull,
 * list --remote, show --remote). Internal to cli-kernel*.c; no other command file includes it.
 * The functions returning int return an exit code (KTS_EXIT_*) and log their own error.
 */
#include <stdbool.h>

#include "cache.h"
#include "cli.h"
#include "metadata.h"

/* `ktscope kernel --help`. */
extern const char cli_kernel_help[];

/* The cache root (cache_root()); exit 4 with a hint when there is none. */
int cli_kernel_open_root(char **ret);

/*
 * The entry KEY|SPEC names, as `kernel path` resolves it: an exact key first, then the
 * newest entry whose label, version (a prefix of dot-separated parts) or tree matches
 * SPEC, preferring entries built with the current fragment. Exit 1 naming spec when none.
 */
int cli_kernel_resolve(const char *root, const char *spec, struct kts_cache_entry **ret);

/*
 * `kernel show`'s output for an entry's metadata m: the text, or with json one JSON
 * document (the metadata with status, reproducer and reproducer_note added). Where the entry
 * is: in the local cache (dir and image_path, each printed when not NULL), or on a registry
 * (remote: "oci://HOST[:PORT]/REPOSITORY:KEY", printed when not NULL).
 */
int cli_kernel_show_metadata(const struct kts_metadata *m, const char *dir, const char *image_path,
			     const char *remote, bool json);

/*
 * cli-kernel-caps.c. Takes the shared lock of *e's entry (cache_lock_entry()) and replaces
 * *e by the entry looked up again under it; exit 1 naming it when it is gone. *ret_fd holds
 * the lock (-EBADF: none to be had on a read-only cache or a network file system, read
 * unlocked).
 */
struct json_object;
int cli_kernel_lock_entry(const char *root, struct kts_cache_entry **e, int *ret_fd);
/* `kernel show`'s lines after the metadata's: the sched_ext summary and files of the local
 * entry at dir (NULL: on a registry, none), the build's telemetry and phases from m (text);
 * or its "capabilities" (null when not recorded), "vmlinux_h_path" and "headers_path"
 * (--json; the telemetry is in the metadata's JSON). */
void cli_kernel_show_kit(const struct kts_metadata *m, const char *dir);
int cli_kernel_show_caps_json(struct json_object *j, const char *dir);
/* argv[0] is the subcommand's name. */
int cli_kernel_path(int argc, char **argv);
int cli_kernel_env(int argc, char **argv);
int cli_kernel_diff(int argc, char **argv);

/* Whether argv (a kernel subcommand's) asks for the registry: "--remote" or "--remote=R"
 * before any "--". */
bool cli_kernel_wants_remote(int argc, char **argv);

/* cli-kernel-remote.c: argv[0] is the subcommand's name. */
int cli_kernel_push(const struct kts_opts *o, int argc, char **argv);
int cli_kernel_pull(const struct kts_opts *o, int argc, char **argv);
int cli_kernel_list_remote(const struct kts_opts *o, int argc, char **argv);
int cli_kernel_show_remote(const struct kts_opts *o, int argc, char **argv);
