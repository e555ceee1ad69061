/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile-json.h"
#include "macro.h"
#include "stamps.h"
#include "telemetry.h"

/*
 * metadata.json of a cache entry (DESIGN §7), schema 1. Every key is always
 * written; optional values are written as JSON null (the one exception: "stamps" of an
 * entry read without it stays absent when written back). The reader is strict about
 * every key it knows (presence, type, value) and tolerates unknown keys, so a
 * later ktscope may add fields without bumping the schema; anything that
 * changes the meaning of a known field bumps "schema".
 *
 * Ownership: every char * of a struct kts_metadata is malloc'ed and owned by
 * the struct; metadata_free() releases them and the struct itself.
 */

#define METADATA_SCHEMA 1
#define METADATA_FILENAME "metadata.json"

struct kts_metadata_source {
	char *kind;           /* "local" | "tarball" | "release" | "git" (required) */
	char *version;        /* release version ("6.12.3"), or NULL */
	char *url;            /* download or clone URL, or NULL */
	char *path;           /* canonical tree path (local) or tarball path, or NULL */
	char *commit;         /* 40- or 64-hex commit id (local/git), or NULL */
	bool dirty;           /* local tree had uncommitted changes */
	char *state_sha256;   /* SHA-256 of the dirty state (64 hex), or NULL */
	char *fs_uuid;        /* filesystem UUID holding the tree, or NULL */
	char *fs_type;        /* its type ("ext4"), or NULL */
	char *tarball_sha256; /* SHA-256 of the tarball (64 hex), or NULL */
};

struct kts_metadata_extra {
	char *path;   /* the --extra-kconfig file's canonical path (as given when it could not
			 be resolved; entries of older ktscope versions: as given) (required) */
	char *sha256; /* SHA-256 of its bytes, 64 hex (required) */
};

struct kts_metadata_toolchain {
	char *cc, *ld, *pahole; /* first line of "--version" output each, or NULL */
};

struct kts_metadata_plan {
	bool present;      /* false (written as null) when no reservation was made */
	char *cpus;        /* cpu list ("0-3,8") (required when present) */
	char *mems;        /* NUMA node list ("0") (required when present) */
	char *llcs;        /* LLC index list ("0,2") (required when present) */
	char *enforcement; /* "cgroup" | "affinity" | "none" (required when present) */
};

struct kts_metadata_sizes {
	uint64_t image;              /* bytes of the cached image */
	uint64_t vmlinux;            /* bytes of the cached (stripped) vmlinux; 0 = none cached */
	/* bytes of the build tree's vmlinux before stripping; 0 = none */
	uint64_t vmlinux_unstripped;
};

/* "stamps": absent in entries of a ktscope before them, null when off (--no-reproducible). */
enum kts_metadata_stamps_state {
	KTS_METADATA_STAMPS_UNRECORDED = 0, /* not written (metadata_write() omits the key) */
	KTS_METADATA_STAMPS_OFF,            /* null: Kbuild's own date, user and host */
	KTS_METADATA_STAMPS_ON,             /* {timestamp, epoch, user, host, version, from} */
};

struct kts_metadata {
	int schema; /* METADATA_SCHEMA; metadata_write() writes METADATA_SCHEMA regardless */
	char *key;   /* cache key, equals the entry directory name (required) */
	char *label; /* human label ("6.12.3", "local-ab12cd34ef56") (required) */
	struct kts_metadata_source source;
	char *arch;            /* "x86_64" | "aarch64" (required) */
	char *image;           /* image file name: "bzImage" | "Image" (required) */
	/* "defconfig" | "tinyconfig" | "kvm_guest" | a file path (required) */
	char *base;
	char *fragment_sha256; /* SHA-256 of the embedded fragment used, or NULL (untracked) */
	struct kts_metadata_extra *extra_kconfig;
	size_t n_extra_kconfig;
	char *config_sha256; /* SHA-256 of the final .config, or NULL */
	struct kts_metadata_toolchain toolchain;
	char **make_vars; /* "NAME=value" strings given to make, in order */
	size_t n_make_vars;
	int64_t built_at;     /* seconds since the epoch; written as UTC "YYYY-MM-DDTHH:MM:SSZ" */
	double build_seconds; /* wall time of the build, >= 0 */
	unsigned make_jobs;   /* N of make -jN, >= 1 */
	struct kts_metadata_plan plan;
	struct kts_metadata_sizes sizes;
	char *ktscope_version; /* PACKAGE_VERSION of the builder (required) */
	/* "compile" (compile-json.h): ccache and the distributed engines; not present in
	 * entries made before them (then neither written nor required) */
	struct kts_compile_record compile;
	/* Added later: an entry without these keys reads as NULL / unrecorded. */
	char *build_dir;       /* canonical --build-dir, or NULL (built in the tree) */
	enum kts_metadata_stamps_state stamps_state;
	struct kts_stamps stamps; /* ON: every string set; epoch -1 is written as null */
	/* "telemetry" and "phases" (telemetry.h): where the build's time and memory went;
	 * absent in older entries (has_* false: then neither written nor required) */
	bool has_telemetry;
	struct kts_telemetry telemetry;
	bool has_phases;
	struct kts_phases phases;
};

/* Frees every field and m itself; NULL is fine. */
void metadata_free(struct kts_metadata *m);
static inline void metadata_freep(struct kts_metadata **m)
{
	metadata_free(*m);
	*m = NULL;
}
#define _cleanup_metadata_ _cleanup_(metadata_freep)

/*
 * Formats t as "YYYY-MM-DDTHH:MM:SSZ" (UTC) into buf (at least 21 bytes).
 * Parsing is strict: exactly that shape, a real calendar date, UTC "Z".
 * metadata_parse_time() returns 0 or -EINVAL.
 */
#define METADATA_TIME_MAX 21
void metadata_format_time(int64_t t, char buf[static METADATA_TIME_MAX]);
int metadata_parse_time(const char *s, int64_t *ret);

/*
 * Serialises m (pretty-printed, two-space indent, fields in DESIGN §7 order,
 * trailing newline). -EINVAL when a required field is NULL or a value would
 * not read back (metadata_validate() below). Caller frees *ret.
 */
int metadata_to_string(const struct kts_metadata *m, char **ret);

/*
 * Writes m to path atomically: a unique temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. A crash leaves the old file
 * or the new one. Negative errno; -EINVAL as for metadata_to_string().
 */
int metadata_write(const struct kts_metadata *m, const char *path);

/*
 * Parses metadata.json text (len bytes, need not be NUL-terminated). Returns 0
 * and a new struct in *ret, or -EBADMSG with a one-line reason in *ret_why
 * (caller frees; ret_why may be NULL), one distinct reason per class:
 *   "malformed JSON: ..."        syntax error (with byte offset)
 *   "truncated JSON"             input ends inside a value (or is empty)
 *   "trailing data after JSON"   something follows the document
 *   "not a JSON object"          top level is an array, string, ...
 *   "unsupported schema N ..."   "schema" absent, not an integer, or != 1
 *   "missing field 'x.y'"        a known key is absent
 *   "field 'x.y': expected T"    a known key has the wrong JSON type
 *   "field 'x.y': invalid ..."   right type, wrong value (bad hex, bad date, ...)
 * -ENOMEM on allocation failure (*ret_why untouched).
 */
int metadata_parse(const char *text, size_t len, struct kts_metadata **ret, char **ret_why);

/*
 * Reads and parses path. Missing file → -ENOENT, why "metadata.json missing";
 * other read errors → that errno, why "metadata.json unreadable: <strerror>";
 * content errors → -EBADMSG as metadata_parse(). *ret_why is always written
 * on failure other than -ENOMEM (caller frees; may be NULL).
 */
int metadata_read(const char *path, struct kts_metadata **ret, char **ret_why);

/*
 * Checks the value rules the reader enforces on an in-memory struct (required
 * strings, enums, hex digests, make_jobs >= 1, ...). 0 or -EINVAL with a reason
 * as above in *ret_why (caller frees; may be NULL).
 */
int metadata_validate(const struct kts_metadata *m, char **ret_why);

/*
 * The same document as a json-c object (for embedding in `kernel list --json`
 * and `kernel show --json`). Caller owns the reference (json_object_put).
 */
struct json_object;
int metadata_to_json(const struct kts_metadata *m, struct json_object **ret);

/* 64 lowercase hex digits. */
bool metadata_is_sha256_hex(const char *s);
