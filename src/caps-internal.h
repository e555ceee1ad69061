/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the three files of the caps module share (caps.h is the interface): caps.c (the
 * manifest from a kernel, the config options, the diff), caps-btf.c (reading BTF and ELF:
 * struct sched_ext_ops, the kfunc sources, linux_banner) and caps-json.c (the file).
 */
#include <stdbool.h>
#include <stddef.h>

#include "caps.h"

struct btf;

/* The reader's limits (caps.h), which the manifest of a kernel respects too. */
#define CAPS_MAX_ITEMS 4096
#define CAPS_MAX_NAME 128
#define CAPS_MAX_VALUE 4096
#define CAPS_MAX_RELEASE 64
#define CAPS_KFUNC_PREFIX "scx_bpf_"

/* A growing list of malloc'ed strings. */
struct caps_strv {
	char **v;
	size_t n, cap;
};
int caps_strv_push(struct caps_strv *sv, const char *s);
void caps_strv_done(struct caps_strv *sv);
/* Sorts by strcmp() and drops repeats. */
void caps_strv_sort_unique(struct caps_strv *sv);

/* A C identifier of 1..CAPS_MAX_NAME bytes. */
bool caps_name_valid(const char *s);
/* A kernel release: 1..CAPS_MAX_RELEASE printable ASCII bytes, no space. */
bool caps_release_valid(const char *s);
/* A config value: at most CAPS_MAX_VALUE bytes, no control character. */
bool caps_value_valid(const char *s);

/* caps-btf.c. The members of struct sched_ext_ops in order; *ret_found false without it. */
int caps_btf_ops(const struct btf *btf, struct caps_strv *ret, bool *ret_found,
		 const char *path, char **ret_why);
/* The scx_bpf_* kfuncs from the best source (caps.h), sorted and unique. */
int caps_btf_kfuncs(const struct btf *btf, const char *ids_path, struct caps_strv *ret,
		    enum kts_caps_kfuncs_from *ret_from, char **ret_why);
/* The release from linux_banner in path's ELF; *ret NULL when path has none (or is raw BTF). */
int caps_elf_release(const char *path, char **ret, char **ret_why);
