/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cache-tmp.h"
#include "caps.h"
#include "macro.h"
#include "metadata.h"

/*
 * The kernel cache (DESIGN §7). Layout under the root:
 *
 *   kernels/{key}/{bzImage|Image, vmlinux, config, metadata.json,
 *                  kconfig-report.json, build.log, vmlinux.h, capabilities.json,
 *                  [headers/]}
 *                         vmlinux.h and capabilities.json: entries built before them, and
 *                         pulled ones pushed without them, lack them; headers/: only with
 *                         `build --headers` (make headers_install), never pushed
 *   .locks/{key}.lock     entry lock: LOCK_EX to install or remove, LOCK_SH to use
 *   .tmp/{key}.{pid}      a store in progress by pid (also: an old entry being
 *                         deleted after an exchange, or one being cleaned), each
 *                         held by its process with a flock (cache-tmp.h)
 *
 * An entry directory only ever appears whole, by rename(2) of a complete,
 * fsync'ed temporary directory, so a crash at any point leaves the old entry
 * or the new one. Leftovers in .tmp of dead processes (dead pid, lock free) are
 * removed by cache_sweep_tmp(). .locks is never cleaned: a lock file may be held by
 * another process at any time and unlinking it would split the lock.
 *
 * Nothing here creates directories except the store functions (and the entry
 * lock, which creates .locks); resolving, looking up and listing a missing
 * cache is not an error.
 */

/*
 * Leaves room under NAME_MAX (255) for the derived names: "{key}.lock",
 * ".clean-{key}.{pid}".
 */
#define CACHE_KEY_MAX 200

/* Files of an entry besides metadata.json (METADATA_FILENAME) and the image. */
#define CACHE_FILE_VMLINUX "vmlinux"
#define CACHE_FILE_CONFIG "config"
#define CACHE_FILE_KCONFIG_REPORT "kconfig-report.json"
#define CACHE_FILE_BUILD_LOG "build.log"
#define CACHE_FILE_VMLINUX_H "vmlinux.h"                 /* btf-header.h */
#define CACHE_FILE_CAPABILITIES CAPS_FILENAME           /* caps.h: capabilities.json */
#define CACHE_DIR_HEADERS "headers" /* --headers: headers_install's include/ tree, local only */

/*
 * Cache root (DESIGN §7): KTSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/ktscope,
 * else $HOME/.cache/ktscope. Relative values of the variables are refused.
 * -ENOENT when HOME is unset or empty, -EINVAL when a variable is relative or
 * HOME is "/"; *ret_var (if not NULL) then names the variable at fault.
 * Caller frees *ret.
 */
int cache_root(char **ret, const char **ret_var);

/*
 * A key is one path component: non-empty, at most CACHE_KEY_MAX bytes, no '/',
 * no "..", no NUL (len counts the bytes the caller has, so an embedded NUL is
 * seen), not starting with '.' (reserved: dot names are never entries).
 * 0 or -EINVAL.
 */
int cache_key_validate_len(const char *key, size_t len);
static inline int cache_key_validate(const char *key)
{
	return key ? cache_key_validate_len(key, __builtin_strlen(key)) : -EINVAL;
}

/*
 * "{label}-{arch}-{first 12 hex of inputs_sha256_hex}". label and arch must be
 * non-empty and the result a valid key; inputs_sha256_hex must be 64 lowercase
 * hex digits. -EINVAL otherwise. Caller frees *ret.
 */
int cache_key(const char *label, const char *arch, const char *inputs_sha256_hex, char **ret);

/*
 * Everything that decides the bytes of a build (DESIGN §6). Each string is a
 * field of its own; NULL and "" are distinct. The caller reduces file contents
 * to their SHA-256 first (a base config file → base = "file:{sha256}", each
 * extra fragment → its sha256), so the hash names content, never paths.
 */
struct kts_cache_inputs {
	const char *source_identity;  /* "local-{commit12}[-dirty-{state12}]", "6.12.3", ... */
	/* "defconfig" | "tinyconfig" | "kvm_guest" | "file:{sha256}" */
	const char *base;
	const char *fragment_sha256;  /* SHA-256 of the embedded fragment */
	const char *const *extra_sha256; /* SHA-256 of each --extra-kconfig's bytes, in order */
	size_t n_extra;
	const char *arch;
	const char *const *make_vars; /* "NAME=value" as passed to make, in order */
	size_t n_make_vars;
	const char *cc, *ld, *pahole; /* toolchain version strings */
};

/*
 * SHA-256 over the inputs, as 64 lowercase hex digits in *ret (caller frees).
 * Every field is framed by a tag and its length (arrays by their count), so
 * no two different inputs share an encoding: ("ab","c") != ("a","bc"), and an
 * extra fragment cannot pose as a make variable. -ENOMEM only.
 *
 * Encoding (changing it re-keys every cache): "ktscope cache inputs v1\0",
 * then per string field: tag byte, 0 (NULL) or 1 (present), and when present
 * a 64-bit little-endian length and the bytes; per array: tag byte, 64-bit LE
 * count, then each element as a string field with the element tag. Tags and
 * order: source 1, base 2, fragment 3, extras 4 (element 5), arch 6,
 * make_vars 7 (element 8), cc 9, ld 10, pahole 11.
 */
int cache_inputs_hash(const struct kts_cache_inputs *in, char **ret);

/* ------------------------------------------------------------ store */

/*
 * A store in progress. The pipeline writes the entry's files into dir (the
 * image, vmlinux, config, metadata.json, ...), then commits or aborts. Freeing
 * an uncommitted store aborts it.
 */
struct kts_cache_store {
	char *root;
	char *key;
	char *dir;   /* {root}/.tmp/{key}.{pid} */
	int lock_fd; /* LOCK_EX on dir while it is in .tmp (cache-tmp.h) */
	bool done;   /* committed or aborted: nothing left to remove */
	bool installed; /* the new entry is in kernels/ (even when the commit failed after) */
};

/*
 * Validates key, creates {root}, kernels/, .locks/ and .tmp/ as needed, sweeps
 * .tmp leftovers of dead pids (best effort), and creates an empty, locked
 * .tmp/{key}.{pid} with cache_tmp_create() (replacing one left by an earlier
 * attempt of this pid); the lock is held until commit or abort. -EINVAL for a
 * bad key, -EBUSY when a live process of another PID namespace holds that
 * name, else the errno of the failed mkdir.
 */
int cache_store_begin(const char *root, const char *key, struct kts_cache_store **ret);

/*
 * Installs the temporary directory as kernels/{key}:
 *  1. checks it is a valid entry: metadata.json parses, its key is this key
 *     and its image exists (-EBADMSG with *ret_why otherwise: a store never
 *     installs what cache_lookup() would call corrupt);
 *  2. fsyncs every file in it and the directory itself;
 *  3. takes the entry lock (LOCK_EX, waiting for users to finish);
 *  4. rename()s it into place, or, when the entry exists, swaps the two with
 *     renameat2(RENAME_EXCHANGE) and removes the old one (now at the temporary
 *     path); without RENAME_EXCHANGE support (-EINVAL/-ENOSYS from the
 *     filesystem) the old entry is first renamed aside into .tmp, so the
 *     entry is briefly absent but never mixed;
 *  5. fsyncs kernels/ so the rename is durable.
 * On success *ret_path (may be NULL) gets the entry path (caller frees) and the
 * store is done; on failure the temporary directory is left for abort.
 * ret_why may be NULL; it is written only for -EBADMSG.
 */
int cache_store_commit(struct kts_cache_store *s, char **ret_path, char **ret_why);

/* Removes the temporary directory (if still there) and marks the store done. */
void cache_store_abort(struct kts_cache_store *s);

/* Aborts if not done, then frees. NULL is fine. */
void cache_store_free(struct kts_cache_store *s);
static inline void cache_store_freep(struct kts_cache_store **s)
{
	cache_store_free(*s);
	*s = NULL;
}
#define _cleanup_cache_store_ _cleanup_(cache_store_freep)


/* ------------------------------------------------------------- lookup/list */

enum kts_cache_status {
	KTS_CACHE_MATCHES,   /* built with the current embedded fragment */
	KTS_CACHE_STALE,     /* built with another fragment */
	KTS_CACHE_UNTRACKED, /* no fragment hash recorded */
	KTS_CACHE_CORRUPT,   /* unusable; see corrupt */
};

const char *cache_status_to_string(enum kts_cache_status s);

struct kts_cache_entry {
	char *key;
	char *path;       /* {root}/kernels/{key} */
	char *image_path; /* {path}/{image}; NULL when corrupt */
	enum kts_cache_status status;
	bool dirty;         /* built from a dirty tree */
	bool extra_kconfig; /* built with --extra-kconfig fragments */
	struct kts_metadata *meta; /* NULL when corrupt */
	/*
	 * Why the entry is unusable, one line, NULL when valid: "metadata.json
	 * missing", "metadata.json: malformed JSON: ...", "image file 'bzImage'
	 * missing", "metadata key 'x' does not match the directory",
	 * "not a directory", ...
	 */
	char *corrupt;
};

void cache_entry_free(struct kts_cache_entry *e);
static inline void cache_entry_freep(struct kts_cache_entry **e)
{
	cache_entry_free(*e);
	*e = NULL;
}
#define _cleanup_cache_entry_ _cleanup_(cache_entry_freep)
void cache_entries_free(struct kts_cache_entry **e, size_t n);

/*
 * Status of an entry built with fragment meta_fragment (NULL: untracked)
 * against the current fragment_sha256.
 */
enum kts_cache_status cache_status(const char *meta_fragment, const char *fragment_sha256);

/*
 * Looks up kernels/{key}. Returns 1 and a valid entry in *ret (status against
 * fragment_sha256, which may be NULL: then only "untracked" is distinguished);
 * 0 when there is no such entry (*ret untouched); -EBADMSG when the entry is
 * there but corrupt, with the reason in *ret_why (caller frees; may be NULL);
 * -EINVAL for an invalid key; other negative errno on I/O failure.
 */
int cache_lookup(const char *root, const char *key, const char *fragment_sha256,
		 struct kts_cache_entry **ret, char **ret_why);

/*
 * Every entry under kernels/ (names that are not valid keys are skipped):
 * valid ones newest first by built_at, ties by key; corrupt ones after them,
 * by key. A missing cache lists nothing. Corrupt entries never fail the list.
 * *ret is an array of *ret_n entries (free with cache_entries_free()).
 */
int cache_list(const char *root, const char *fragment_sha256, struct kts_cache_entry ***ret,
	       size_t *ret_n);

/* ------------------------------------------------------------ entry locks */

/*
 * "{root}/.locks/{key}.lock". Caller frees. -EINVAL for an invalid key.
 */
int cache_lock_path(const char *root, const char *key, char **ret);

/*
 * "{root}/.locks/{key}.build.lock": held (LOCK_EX) by the one build of key in progress,
 * from before its fetch until it stored, so a concurrent build of the same key waits and
 * then finds the entry. Not the entry lock: the store takes that one itself.
 */
int cache_build_lock_path(const char *root, const char *key, char **ret);

/*
 * Takes the exclusive lock at path (a build or source lock under "{root}/.locks", which is
 * created), waiting while another process holds it: one notice names what is waited for
 * ("{what} is being built by pid N (CMDLINE); waiting for it"; "built or pulled" with
 * pulling) and, with event, a "source_lock" waiting event goes out first (progress.h).
 * *ret_fd holds the lock. 1 = it had to wait, 0 = it did not; negative errno (the
 * mkdir's, lock_open()'s or lock_wait()'s: -EINTR on a stop) otherwise, nothing logged.
 */
int cache_lock_wait(const char *root, const char *path, const char *what, bool pulling,
		    bool event, int *ret_fd);

/*
 * The source-tree lock of DESIGN §3: "{root}/.locks/source-{first 16 hex of
 * SHA-256(canonical_path)}.lock". canonical_path must be absolute. Caller frees.
 * Take it with lock_open() + flock(LOCK_EX); cache_lock_entry() also works
 * with the key "source-{16 hex}" (the basename without ".lock").
 */
int cache_source_lock_path(const char *root, const char *canonical_path, char **ret);

/*
 * Takes the entry's lock (creating .locks and the lock file as needed) and
 * returns the fd holding it: users of an entry (a VM booting its image) hold
 * LOCK_SH (exclusive = false) so clean leaves it alone; store and clean take
 * LOCK_EX. wait = false → -EWOULDBLOCK when held. -EREMOTE when the cache is
 * on a network filesystem (flock is unreliable there). -EINTR when a stop was
 * requested while waiting (interrupt.h).
 */
int cache_lock_entry(const char *root, const char *key, bool exclusive, bool wait, int *ret_fd);

/* ------------------------------------------------------------------ clean */

struct kts_cache_clean_opts {
	/*
	 * Selection. No rule at all selects every entry. Rules narrow each
	 * other: a valid entry is selected when it is not among the keep
	 * newest valid entries AND (without older_than) or (built before
	 * now - older_than_days). corrupt_only selects corrupt entries only.
	 * Corrupt entries are selected by every rule: they cannot be used,
	 * have no date, and never count towards keep.
	 */
	bool has_keep;
	unsigned keep;
	bool has_older_than;
	unsigned older_than_days;
	bool corrupt_only;
	bool dry_run;     /* select and report, remove nothing */
	int64_t now;      /* reference time for older_than; 0 = time(NULL) */
	const char *fragment_sha256; /* for the statuses of the reported entries */
};

enum kts_cache_clean_result {
	KTS_CACHE_CLEAN_REMOVED,
	KTS_CACHE_CLEAN_WOULD_REMOVE, /* dry run */
	KTS_CACHE_CLEAN_BUSY,         /* someone holds the entry's lock: left alone */
	KTS_CACHE_CLEAN_CHANGED,      /* replaced since it was listed: left alone */
	KTS_CACHE_CLEAN_FAILED,       /* error says why */
};

const char *cache_clean_result_to_string(enum kts_cache_clean_result r);

struct kts_cache_clean_item {
	struct kts_cache_entry *entry;
	enum kts_cache_clean_result result;
	int error; /* negative errno for FAILED, else 0 */
};

/*
 * Pure selection over a cache_list() result (in its order): sets selected[i]
 * for each entry opts selects. Exposed so the CLI can show what would go.
 */
void cache_clean_select(struct kts_cache_entry *const *entries, size_t n,
			const struct kts_cache_clean_opts *o, bool *selected);

/*
 * Lists, selects, and (unless dry_run) removes each selected entry under its
 * LOCK_EX taken without waiting: a held lock means the entry is in use, it is
 * reported BUSY and skipped. Under the lock the entry is re-checked (an entry
 * re-stored since the listing is reported CHANGED and kept), renamed into
 * .tmp/{key}.{pid}, which takes it out of kernels/ atomically, and then
 * deleted. .locks and the .tmp dirs of other live pids are never touched.
 * Returns 0 with the selected entries and their results in *ret (free with
 * cache_clean_items_free()); per-entry failures do not fail the call.
 */
int cache_clean(const char *root, const struct kts_cache_clean_opts *o,
		struct kts_cache_clean_item **ret, size_t *ret_n);
void cache_clean_items_free(struct kts_cache_clean_item *items, size_t n);
