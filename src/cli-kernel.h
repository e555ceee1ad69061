/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the two halves of `ktscope kernel` share: cli-kernel.c (the local cache: list, show,
 * path, clean) and cli-kernel-remote.c (the cache on an OCI registry: push, pull,
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

/* Whether argv (a kernel subcommand's) asks for the registry: "--remote" or "--remote=R"
 * before any "--". */
bool cli_kernel_wants_remote(int argc, char **argv);

/* cli-kernel-remote.c: argv[0] is the subcommand's name. */
int cli_kernel_push(const struct kts_opts *o, int argc, char **argv);
int cli_kernel_pull(const struct kts_opts *o, int argc, char **argv);
int cli_kernel_list_remote(const struct kts_opts *o, int argc, char **argv);
int cli_kernel_show_remote(const struct kts_opts *o, int argc, char **argv);
