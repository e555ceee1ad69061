/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * The sched_ext capability manifest of a cache entry, capabilities.json (DESIGN §5
 * "Scheduler kit", §7): what a scheduler developer needs to know of *this* kernel before
 * compiling against it, read from its BTF with libbpf:
 *   - release: the kernel release, from linux_banner in the vmlinux's .rodata;
 *   - ops: the members of struct sched_ext_ops, in BTF (declaration) order; none and
 *     sched_ext false when the kernel has no such struct;
 *   - kfuncs: the functions the kernel exports to BPF whose names start "scx_bpf_",
 *     sorted and unique, and kfuncs_from, where that list came from, best first:
 *       "decl_tag"   BTF FUNCs carrying a "bpf_kfunc" decl tag (pahole >= 1.26);
 *       "btf_ids"    the kfunc ID sets (struct btf_id_set8 with BTF_SET8_KFUNCS) in the
 *                    .BTF_ids section of the unstripped vmlinux (the stripped one has no
 *                    .BTF_ids: strip.h);
 *       "func_name"  every BTF FUNC named scx_bpf_* (neither of the above available);
 *   - options: the sched_ext-relevant config symbols (caps_option_names()) with their
 *     values from the entry's config, NULL value when not set.
 *
 * capabilities.json, schema 1:
 *   { "schema": 1, "release": "6.12.118" | null, "sched_ext": true,
 *     "ops": ["select_cpu", ...], "kfuncs": ["scx_bpf_consume", ...],
 *     "kfuncs_from": "decl_tag" | "btf_ids" | "func_name",
 *     "options": { "CONFIG_SCHED_CLASS_EXT": "y", "CONFIG_HZ": "1000",
 *                  "CONFIG_NO_HZ_FULL": null, ... } }
 * The reader is strict (a pulled entry's file is foreign input): every key present with
 * its type, names are C identifiers of at most 128 bytes, at most 4096 ops/kfuncs/options,
 * option names start "CONFIG_", kfuncs "scx_bpf_", no duplicates; the release is 1-64
 * printable ASCII bytes without a space; an option's value is at most 4096 bytes with no
 * control character; no ops when sched_ext is false; unknown keys are tolerated. (A key
 * repeated in "options" is not seen: json-c keeps its last value.)
 *
 * Ownership: every string of a struct kts_caps is malloc'ed and owned by it; caps_done()
 * frees them (the struct itself is the caller's).
 */

#define CAPS_SCHEMA 1
#define CAPS_FILENAME "capabilities.json"

enum kts_caps_kfuncs_from {
	KTS_CAPS_KFUNCS_FUNC_NAME = 0,
	KTS_CAPS_KFUNCS_BTF_IDS,
	KTS_CAPS_KFUNCS_DECL_TAG,
};
const char *caps_kfuncs_from_name(enum kts_caps_kfuncs_from f);

struct kts_caps_option {
	char *name;  /* "CONFIG_SCHED_CLASS_EXT" */
	char *value; /* "y", "1000", "\"quoted\"" as in .config; NULL: not set */
};

struct kts_caps {
	char *release;   /* or NULL: no linux_banner found */
	bool sched_ext;  /* struct sched_ext_ops is in the BTF */
	char **ops;
	size_t n_ops;
	char **kfuncs;
	size_t n_kfuncs;
	enum kts_caps_kfuncs_from kfuncs_from;
	struct kts_caps_option *options;
	size_t n_options;
};
void caps_done(struct kts_caps *c);

/* The config symbols recorded, NULL-terminated, in the order options are written. */
const char *const *caps_option_names(void);

/*
 * The manifest of a built kernel. btf_path: a vmlinux with .BTF (and .rodata for the
 * release: the stripped one is enough) or raw BTF; ids_path: the unstripped vmlinux
 * whose .BTF_ids holds the kfunc sets, or NULL; config_path: the kernel's .config, or
 * NULL (every option then unset). Errors name the file in *ret_why (may be NULL):
 *   -ENODATA no BTF in btf_path; -EBADMSG BTF or ELF that does not parse; -ENOENT ...
 * An ids_path without a .BTF_ids section, or whose sets do not resolve against the BTF,
 * is not an error: the next source in the order above is used (an ids_path that cannot be
 * opened is, naming it; one that is no ELF file is -EBADMSG). A set is read when its
 * symbol __BTF_ID__set8__NAME is in .BTF_ids and its flags have BTF_SET8_KFUNCS (the
 * BTF_KFUNCS_START sets, which every sched_ext kernel has); its IDs must each be 0 or a FUNC of the BTF, and the set within the section.
 */
int caps_from_vmlinux(const char *btf_path, const char *ids_path, const char *config_path,
		      struct kts_caps *ret, char **ret_why);

/* capabilities.json text (pretty-printed, trailing newline); caller frees *ret. */
int caps_to_string(const struct kts_caps *c, char **ret);
/* The same document as a json-c object (for `kernel show --json`); caller owns it. */
struct json_object;
int caps_to_json(const struct kts_caps *c, struct json_object **ret);
/* Written atomically (temporary file in the same directory, fsync, rename). */
int caps_write(const struct kts_caps *c, const char *path);

/*
 * Parses capabilities.json text (len bytes, need not be NUL-terminated); name is the file,
 * for *ret_why ("capabilities.json 'F': field 'ops': expected an array of strings").
 * -EBADMSG on any deviation, -ENOMEM. *ret written on success only.
 */
int caps_parse(const char *text, size_t len, const char *name, struct kts_caps *ret,
	       char **ret_why);
/* -ENOENT (why: "'F' missing") when the entry has none, else as caps_parse(). */
int caps_read(const char *path, struct kts_caps *ret, char **ret_why);

/*
 * The differences between two manifests, in the order release, ops, kfuncs, options,
 * each list by name: fn is called once per difference with the values in a and in b
 * (NULL: absent or unset; ops and kfuncs present are "yes"). Returns the count.
 */
enum kts_caps_diff_kind {
	KTS_CAPS_DIFF_RELEASE,
	KTS_CAPS_DIFF_OP,
	KTS_CAPS_DIFF_KFUNC,
	KTS_CAPS_DIFF_OPTION,
};
typedef void (*caps_diff_fn)(enum kts_caps_diff_kind kind, const char *name, const char *in_a,
			     const char *in_b, void *userdata);
size_t caps_diff(const struct kts_caps *a, const struct kts_caps *b, caps_diff_fn fn,
		 void *userdata);
