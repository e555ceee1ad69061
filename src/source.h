/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "macro.h"

/*
 * Kernel sources and their identity (DESIGN §6). Four kinds:
 *
 *   local    a kernel tree on disk, built in place. libgit2 gives HEAD and the dirty state
 *            (tracked changes + untracked files that are not ignored). Label "local-{commit12}"
 *            or "local-{commit12}-dirty-{state12}". Dirty trees ARE cacheable: the state hash
 *            covers every dirty path and its content. Not in git → label "local-nogit", never
 *            cached, with the reason in `why`.
 *   tarball  a local .tar.{xz,gz,zst,bz2} (Debian's linux-source-6.12.tar.xz) or an http(s) URL
 *            of one. Identity = SHA-256 of the file. Label "tar-{sha12}", or, when the file name
 *            carries a version ("linux-6.12.3.tar.xz", "linux-source-6.12.tar.xz"),
 *            "tar-{version}-{sha8}".
 *   release  kernel.org (or KTSCOPE_KERNEL_MIRROR): "6.12.3", "6.12" (newest 6.12.y), "stable",
 *            "mainline". Label = the resolved version ("6.12.3"); identity = the version and the
 *            tarball's SHA-256 from the mirror's sha256sums.asc, which is known before the
 *            download, so the cache can be consulted without downloading.
 *   git      a clone/fetch of URL at REF (branch, tag or commit) with libgit2. Label
 *            "git-{commit12}"; identity = the commit.
 *
 * Two phases, so the caller can look the cache up between them:
 *   source_open()   identify (local: git status; tarball: hash the file; release: resolve the
 *                   version and read its checksum; git: ls-remote). No bulk download.
 *   source_fetch()  materialise the tree under a caller-owned work dir (download + verify +
 *                   extract, or clone/fetch + checkout). No-op for local trees. The caller
 *                   removes the work dir afterwards.
 * `identity` may still be NULL after source_open() when it cannot be known without the bulk
 * data (a tarball URL, a git commit given as an abbreviated id, a release candidate);
 * source_fetch() then sets it. It stays NULL for a local tree that is not in git (never cached).
 *
 * Errors are negative errno. Where a user needs details (which URL, which two hashes, which
 * file is missing), the functions also return a one-line explanation in *ret_why (malloc'd,
 * caller frees; ret_why may be NULL). *ret_why is written only on failure; it is not written
 * when the explanation could not be allocated. Library code logs at debug level only.
 */

enum kts_source_kind {
	KTS_SOURCE_LOCAL,
	KTS_SOURCE_TARBALL,
	KTS_SOURCE_RELEASE,
	KTS_SOURCE_GIT,
	_KTS_SOURCE_KIND_MAX,
};

/* "local", "tarball", "release", "git" (the metadata.json source.kind values). */
const char *source_kind_to_string(enum kts_source_kind k);

/* A parsed SPEC or source flag; no I/O was done to produce it. */
struct kts_source_spec {
	enum kts_source_kind kind;
	char *path;    /* local: the directory as given; tarball: file path or URL */
	char *version; /* release: "6.12.3", "6.12", "6.13-rc2", "stable", "mainline" */
	char *url;     /* git */
	char *ref;     /* git: branch, tag, full ref name or (abbreviated) commit id */
};

/*
 * Parses a positional SPEC (DESIGN §1):
 *   "git+URL#REF"   → git (split at the LAST '#'; URL and REF non-empty, else -EINVAL)
 *   "stable", "mainline", or version-shaped MAJOR.MINOR[.PATCH][-rcN] → release
 *   anything else   → local directory (use "./6.12" for a directory named like a version)
 * -EINVAL for an empty string or a malformed git spec. *ret filled on success only.
 */
int source_spec_parse(const char *s, struct kts_source_spec *ret);
/* Builders for the flags (--source DIR, --tarball FILE|URL, --git URL --ref REF). */
int source_spec_local(const char *dir, struct kts_source_spec *ret);
int source_spec_tarball(const char *file_or_url, struct kts_source_spec *ret);
int source_spec_git(const char *url, const char *ref, struct kts_source_spec *ret);
/*
 * The source without SPEC or a source flag (DESIGN §1): the current directory when it
 * holds a Makefile and a Kconfig, else "stable".
 */
int source_spec_default(struct kts_source_spec *ret);
void source_spec_done(struct kts_source_spec *s);
/* True for "stable", "mainline" and MAJOR.MINOR[.PATCH][-rcN]. */
bool source_is_release_spec(const char *s);

struct kts_fetch_opts {
	/* NULL: KTSCOPE_KERNEL_MIRROR, else https://cdn.kernel.org/pub/linux/kernel */
	const char *mirror;
	/* NULL: {mirror}/releases.json when a mirror is set, else kernel.org's releases.json */
	const char *releases_url;
	/* Download progress: total = 0 when the server did not say. Called often; keep it cheap. */
	void (*progress)(uint64_t done, uint64_t total, void *userdata);
	void *userdata;
	/* source_open() of a local tarball: its identity memo ("{cache}/.tarballs",
	 * source-memo.h); NULL: hash the file every time. */
	const char *tarball_memo;
};

#define SOURCE_DEFAULT_MIRROR "https://cdn.kernel.org/pub/linux/kernel"
#define SOURCE_DEFAULT_RELEASES_URL "https://www.kernel.org/releases.json"

/* The state of a local tree, as source_local_state() computes it. */
struct kts_local_state {
	bool git;           /* inside a git work tree whose HEAD has a commit */
	bool dirty;
	bool cacheable;     /* false: not git, no commit, or a submodule with its own changes */
	char commit[41];    /* HEAD, hex; "" when !git */
	char state[65];     /* SHA-256 hex over dirty paths and contents; "" when clean */
	unsigned n_dirty;   /* number of dirty paths */
	char *why;          /* why not cacheable, else NULL */
	char *repo_root;    /* work dir of the repository (may be an ancestor of the tree) */
	char *subdir;       /* the tree's path inside repo_root; NULL when it is the root */
};
void source_local_state_done(struct kts_local_state *s);

struct kts_source {
	enum kts_source_kind kind;
	/* The tree to configure and build: the canonical path for local trees; for the others
	 * "{workdir}/linux" once source_fetch() succeeded, NULL before. */
	char *dir;
	char *label;     /* human part of the cache key, safe as a key component */
	/* What the cache-input hash covers: "local {commit} [dirty {state}]", "tarball {sha256}",
	 * "release {version} {sha256}", "git {commit}". NULL until known (see above). */
	char *identity;
	bool cacheable;
	char *why;       /* why the build will not be cached, else NULL */
	bool is_temp;    /* the tree lives in a work dir (no compile_commands.json, no mrproper) */

	/* metadata.json "source" fields; unset ones are NULL/""/false. */
	char *version;   /* release: resolved version; tarball: version from the name, if any */
	char *url;       /* release: tarball URL; git: repository URL; tarball: the URL if one */
	char *ref;       /* git: REF as given */
	char *path;      /* local: canonical path; tarball: canonical file path (not for URLs) */
	char commit[41]; /* local/git */
	bool dirty;      /* local */
	char state_sha256[65];   /* local, dirty */
	char tarball_sha256[65]; /* tarball/release */
	struct stat tarball_st;  /* local tarball: fstat of the file hashed, before reading it */
};
void source_free(struct kts_source *s);
static inline void source_freep(struct kts_source **s)
{
	source_free(*s);
	*s = NULL;
}
#define _cleanup_source_ _cleanup_(source_freep)

/*
 * Identifies the source a spec names (see the top of this file).
 * Local: -ENOENT (missing), -ENOTDIR (not a directory), -ENOEXEC (a directory that is not a
 * kernel tree: no Makefile or no Kconfig; the CLI maps this to exit 2); a non-git tree is NOT
 * an error (cacheable = false, why set).
 * Tarball: -ENOENT, -EISDIR, errors reading it. Release: see source_release_resolve().
 * Git: -ENOENT when REF is not on the remote, -ECONNREFUSED/-EHOSTUNREACH/-EIO from libgit2.
 */
int source_open(const struct kts_source_spec *spec, const struct kts_fetch_opts *opts,
		struct kts_source **ret, char **ret_why);

/*
 * Materialises a non-local source under workdir (an existing directory the caller owns and
 * later removes): downloads go to workdir, the tree to "{workdir}/linux" (s->dir). For git, an
 * existing "{workdir}/linux" repository is fetched into and checked out again.
 * Release errors: -ENOENT (HTTP 404: "version not found", naming the URL), -EMEDIUMTYPE (an
 * HTML page where a tarball/JSON was expected), -EBADMSG (checksum mismatch, naming both
 * hashes; the file is removed), -ECONNREFUSED / -EHOSTUNREACH / -ETIMEDOUT (naming the
 * mirror), -EIO (other HTTP status). Extraction: -ENOEXEC when the archive holds no kernel
 * tree, -EIO when tar fails (its last message in why).
 * Local sources: returns 0 and does nothing.
 */
int source_fetch(struct kts_source *s, const char *workdir, const struct kts_fetch_opts *opts,
		 char **ret_why);

/*
 * Resolves a release spec to a concrete version: "6.12.3" and "6.13-rc2" as given; "6.12" →
 * newest 6.12.y in releases.json (moniker linux-next excluded), else the newest
 * linux-6.12.y.tar.xz listed in {mirror}/v6.x/sha256sums.asc (EOL series);
 * "stable" → latest_stable.version; "mainline" → the entry with moniker "mainline".
 * -EINVAL (not a release spec), -ENOENT (nothing matches), -EPROTO (malformed releases.json),
 * -EMEDIUMTYPE (HTML instead of JSON), transport errors as for source_fetch().
 */
int source_release_resolve(const char *spec, const struct kts_fetch_opts *opts, char **ret_version,
			   char **ret_why);

/* "{mirror}/v{major}.x/linux-{version}.tar.xz" (mirror as in kts_fetch_opts). Caller frees. */
int source_release_url(const char *version, const struct kts_fetch_opts *opts, char **ret);

/*
 * Computes the git state of a local tree (dir need not be canonical). Repository discovery walks
 * up like git does; a tree inside a larger repository is judged by its own subtree only, and a
 * tree none of whose files that repository tracks counts as not in git.
 * Dirty paths: HEAD↔index and index↔worktree differences plus untracked files that are not
 * ignored (recursively). state = SHA-256 over, for each dirty path in byte order, the path and
 * its worktree content (deleted: the path and a marker; symlink: its target; executable bit
 * included). A submodule counts by its checked-out commit; one with changes of its own makes
 * the tree not cacheable. Deterministic: two calls on an unchanged tree give the same state.
 * -ENOENT/-ENOTDIR for a bad dir, -EIO for libgit2 failures. Not-in-git is success (git=false).
 */
int source_local_state(const char *dir, struct kts_local_state *ret, char **ret_why);

/*
 * How many threads source_local_state() walks a whole repository's work tree with: 0 (the
 * default) = one per CPU this process may run on, at most 4; 1 = one walk in the calling
 * thread. The result never depends on it (tests and bench/ compare the two).
 */
void source_set_status_threads(unsigned n);

/*
 * The committer date (seconds since 1970) of the commit a local git tree or a fetched git
 * source is at (s->commit), from the repository holding s->dir: the build's reproducible
 * timestamp (stamps.h). -ENOENT when the source has no commit (tarballs, releases, trees
 * outside git), -EIO when libgit2 cannot read it, -ELIBACC/-ELIBBAD (and a warning) when
 * libgit2 cannot be loaded.
 */
int source_commit_time(const struct kts_source *s, int64_t *ret);

/*
 * Loads libgit2 (source-libgit2.c, dlopen-util.h), as every function above that reads a git
 * tree does first: 0, or -ELIBACC/-ELIBBAD with the reason, naming the package, in *why.
 */
int source_libgit2_load(char **why);

/*
 * After a build: recomputes the state of a local source and compares it with the one
 * source_open() saw. *ret_changed = true and *ret_reason set (malloc'd) when the commit, the
 * dirty state or cacheability changed ("the tree changed during the build: ..."). Non-local
 * sources never change (false, NULL). Errors as source_local_state().
 */
int source_recheck(const struct kts_source *s, bool *ret_changed, char **ret_reason);
