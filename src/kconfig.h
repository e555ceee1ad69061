/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Kernel configuration lines (DESIGN §5 "Configure" and "Validate"): the
 * embedded fragment src/ktscope.kconfig, the merge with --extra-kconfig files
 * (later wins, with per-symbol provenance and override warnings), the "already
 * satisfied, skip configure" check, the survived/dropped report after
 * `make olddefconfig`, kconfig-report.json, and validation of the six symbols
 * ktscope's users cannot work without.
 *
 * This module runs no make and reads no kernel tree by itself: the pipeline
 * gives it paths. It logs at debug level only; failures come back as negative
 * errno plus, where a user needs details, a one-line *ret_why (caller frees;
 * written on failure only, and only when ret_why is not NULL).
 */

#include <stdbool.h>
#include <stddef.h>

#include "hash.h"

/* How kconfig spells an off line: "# CONFIG_FOO is not set". */
#define KCONFIG_OFF_TEXT "is not set"

/* Provenance of the embedded fragment's lines; an extra file's is its path. */
#define KCONFIG_SOURCE_BUILTIN "ktscope"
/* File written by kconfig_report_write() into the cache entry. */
#define KCONFIG_REPORT_FILE "kconfig-report.json"
/* Extra fragments and .config files larger than this are refused (-EFBIG). */
#define KCONFIG_MAX_FILE_SIZE (16U * 1024U * 1024U)

/*
 * One assignment. value is the text after '=' exactly as written ("y", "m",
 * "n", "\"a string\"", "123", "0x1000"), or NULL for "# CONFIG_X is not set".
 * "=n" and "is not set" both mean "off" and are treated alike when comparing.
 */
struct kts_kconfig_line {
	char *symbol; /* "CONFIG_X" */
	char *value;
	char *source; /* KCONFIG_SOURCE_BUILTIN or a file path (provenance) */
	unsigned lineno; /* 1-based line in source */
};

/*
 * Ordered assignments with unique symbols: a later line for a symbol already
 * present replaces it in place (kconfig reads .config with "last one wins").
 * Zero-initialise (KTS_KCONFIG_INIT); release with kconfig_done().
 */
struct kts_kconfig {
	struct kts_kconfig_line *lines;
	size_t n;
	size_t allocated;
};
#define KTS_KCONFIG_INIT ((struct kts_kconfig){ 0 })

void kconfig_done(struct kts_kconfig *c);
static inline void kconfig_donep(struct kts_kconfig *c)
{
	kconfig_done(c);
}
#define _cleanup_kconfig_ __attribute__((cleanup(kconfig_donep)))

/* The line for symbol ("CONFIG_X"), or NULL when c does not mention it. */
const struct kts_kconfig_line *kconfig_get(const struct kts_kconfig *c, const char *symbol);
/* True for "# CONFIG_X is not set" and "CONFIG_X=n". */
bool kconfig_line_is_off(const struct kts_kconfig_line *l);
/* For messages and the report: the value text, or "is not set" for that form. */
const char *kconfig_line_value(const struct kts_kconfig_line *l);

/*
 * Parses kconfig text: "CONFIG_X=y|m|n|\"str\"|123|-5|0x1f" and
 * "# CONFIG_X is not set"; other '#' comments and blank lines are ignored,
 * surrounding blanks and a CR before the newline are tolerated. Any other
 * line, a value of another shape, an unterminated string or a NUL byte is
 * -EBADMSG with *ret_why naming "source:line". source is recorded as each
 * line's provenance. *ret is written only on success.
 */
int kconfig_parse(const char *text, size_t len, const char *source, struct kts_kconfig *ret,
		  char **ret_why);

/*
 * Reads and parses a .config (or any config file) at path. An empty file is an
 * empty set; string values may hold any bytes but NUL (kconfig copies them
 * verbatim). -ENOENT, -EACCES, -EISDIR, -EINVAL (not a regular file), -EFBIG,
 * -EBADMSG (malformed line or NUL byte); *ret_why names the file.
 */
int kconfig_load(const char *path, struct kts_kconfig *ret, char **ret_why);

/*
 * Reads and checks one --extra-kconfig file; each failure is distinct and
 * *ret_why names the file (the CLI maps all of them to exit 2):
 *   -ENOENT   no such file (also a dangling symlink)
 *   -EISDIR   a directory, -EINVAL another non-regular file
 *   -EACCES   not readable
 *   -ENODATA  empty (nothing but whitespace)
 *   -EILSEQ   binary: a NUL byte, a control character or invalid UTF-8
 *   -EFBIG    larger than KCONFIG_MAX_FILE_SIZE
 *   -EBADMSG  a line that is neither a comment nor an assignment ("path:line")
 * On success *ret holds the parsed lines and ret_sha256 (if not NULL) the
 * SHA-256 of exactly the bytes parsed (for the cache key and metadata).
 */
int kconfig_read_extra(const char *path, struct kts_kconfig *ret,
		       char ret_sha256[HASH_SHA256_HEX_SIZE], char **ret_why);

/* The embedded fragment (src/ktscope.kconfig) verbatim; NUL-terminated. ret_len may be NULL. */
const char *kconfig_fragment_text(size_t *ret_len);
/* SHA-256 (64 lowercase hex digits) of kconfig_fragment_text()'s bytes. Static storage. */
const char *kconfig_fragment_sha256(void);

/* A user line that changes a value the embedded fragment sets. */
struct kts_kconfig_override {
	char *symbol;
	char *old_value; /* the embedded fragment's, as kconfig_line_value() renders it */
	char *new_value;
	char *source; /* the extra fragment's path */
	unsigned lineno;
};

struct kts_kconfig_extra {
	char *path;
	char sha256[HASH_SHA256_HEX_SIZE]; /* of the bytes that were merged */
};

/*
 * The requested configuration: the embedded fragment, then each extra file in
 * order; a later line for a symbol wins and its provenance becomes that file.
 * overrides lists, in order, every extra line whose symbol the embedded
 * fragment sets to a different value ("=n" and "is not set" are the same
 * value); extra-over-extra changes are not listed. Release with
 * kconfig_merge_done().
 */
struct kts_kconfig_merge {
	struct kts_kconfig lines;
	struct kts_kconfig_override *overrides;
	size_t n_overrides;
	struct kts_kconfig_extra *extras;
	size_t n_extras;
};
#define KTS_KCONFIG_MERGE_INIT ((struct kts_kconfig_merge){ 0 })

void kconfig_merge_done(struct kts_kconfig_merge *m);
static inline void kconfig_merge_donep(struct kts_kconfig_merge *m)
{
	kconfig_merge_done(m);
}
#define _cleanup_kconfig_merge_ __attribute__((cleanup(kconfig_merge_donep)))

/*
 * Embedded fragment + extra_paths[0..n_extra) (may be NULL when n_extra is 0).
 * Errors are kconfig_read_extra()'s for the first bad file (its *ret_why names
 * it), or -ENOMEM. *ret is written only on success.
 */
int kconfig_merge(const char *const *extra_paths, size_t n_extra, struct kts_kconfig_merge *ret,
		  char **ret_why);
/*
 * The same, reading extra_paths[i] (a staged copy) but naming names[i] (the file the
 * user gave) in messages, provenance and extras[i].path.
 */
int kconfig_merge_as(const char *const *extra_paths, const char *const *names, size_t n_extra,
		     struct kts_kconfig_merge *ret, char **ret_why);

/*
 * True when every line of want holds in have: a value line needs the same value
 * text; an off line ("is not set" or "=n") holds when have lacks the symbol,
 * says it is not set, or has "=n". *ret_unmet (if not NULL) gets the first line
 * of want that does not hold, or NULL.
 */
bool kconfig_satisfied(const struct kts_kconfig *want, const struct kts_kconfig *have,
		       const struct kts_kconfig_line **ret_unmet);

/* Does one requested line hold in have? (the rule of kconfig_satisfied(), per line) */
bool kconfig_line_holds(const struct kts_kconfig_line *want, const struct kts_kconfig *have);

/*
 * The skip-configure check on a file: 1 when the .config at config_path
 * satisfies want, 0 when it does not, is missing, or is not something kconfig
 * wrote (malformed, NUL bytes: olddefconfig will rewrite it), negative errno on
 * other errors (-EACCES, ...; *ret_why names the file).
 */
int kconfig_config_satisfies(const char *config_path, const struct kts_kconfig *want,
			     char **ret_why);

/*
 * Renders c as config lines ("CONFIG_X=v" or "# CONFIG_X is not set"), one per
 * requested symbol, in order, each ending in '\n'. Caller frees *ret.
 */
int kconfig_format(const struct kts_kconfig *c, char **ret);
/*
 * Writes kconfig_format(c) to path, the file the pipeline appends to .config
 * before olddefconfig. Written to a temporary name in the same directory and
 * renamed, so path is either absent, the old file, or complete. Mode 0644.
 */
int kconfig_write(const struct kts_kconfig *c, const char *path);

/* Per requested line after olddefconfig. */
struct kts_kconfig_outcome {
	char *symbol;
	char *requested; /* kconfig_line_value() of the requested line */
	char *final; /* kconfig_line_value() in the final .config; NULL when absent */
	char *source; /* provenance of the requested line */
	unsigned lineno;
	bool survived; /* the requested line holds in the final .config */
};

struct kts_kconfig_report {
	struct kts_kconfig_outcome *lines;
	size_t n;
	size_t n_dropped; /* lines with survived == false */
};
#define KTS_KCONFIG_REPORT_INIT ((struct kts_kconfig_report){ 0 })

void kconfig_report_done(struct kts_kconfig_report *r);
static inline void kconfig_report_donep(struct kts_kconfig_report *r)
{
	kconfig_report_done(r);
}
#define _cleanup_kconfig_report_ __attribute__((cleanup(kconfig_report_donep)))

/* Requested (the merged lines) vs final (the parsed .config after olddefconfig). */
int kconfig_report_build(const struct kts_kconfig *want, const struct kts_kconfig *final,
			 struct kts_kconfig_report *ret);
/*
 * The report as a JSON document:
 * {"schema":1,"fragment_sha256":"...","lines":[{"symbol","requested","final",
 *  "source","survived"}]} with "final": null when the symbol is absent.
 * Caller frees *ret.
 */
int kconfig_report_to_json(const struct kts_kconfig_report *r, char **ret);
/* Writes that document to dir/KCONFIG_REPORT_FILE (temporary name, fsync, rename). */
int kconfig_report_write(const struct kts_kconfig_report *r, const char *dir);

/* The symbols a ktscope kernel must have "=y" (DESIGN §5 "Validate"), in check order. */
#define KCONFIG_N_CRITICAL 6
extern const char *const kconfig_critical_symbols[KCONFIG_N_CRITICAL];

/*
 * Checks the final .config for the critical symbols. 0 when all are "=y".
 * Otherwise -ENOTSUP and *ret_why lists each missing symbol with its final
 * state and cause: DEBUG_INFO_BTF names pahole >= 1.16 and pahole_version (as
 * `pahole --version` prints it, e.g. "v1.24"; NULL = pahole not found); the
 * others name their kconfig dependencies. When merged (may be NULL) carries
 * extra fragments, the message names as likely culprit the extra line that
 * sets the symbol or one of its dependencies, else every extra file.
 */
int kconfig_validate(const struct kts_kconfig *final, const struct kts_kconfig_merge *merged,
		     const char *pahole_version, char **ret_why);
