/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the source-*.c files share and nothing else includes (the public contract is
 * source.h). One file per concern:
 *   source.c          the entry points: source_open()/source_fetch() dispatch by kind,
 *                     source_free(), the why helpers below
 *   source-spec.c     SPEC and version parsing; the label and identity strings of each kind
 *   source-local.c    a local tree's state through libgit2: HEAD, dirty paths, state hash
 *   source-status.c   the threaded status walk of a whole work tree that source-local.c uses
 *   source-gitcli.c   source-local.c's fast path: the same state through the git program
 *   source-tarball.c  tarball identify (hash) and extract (tar)
 *   source-release.c  releases.json and sha256sums.asc; release download and verification
 *   source-git.c      git ls-remote, fetch and checkout through libgit2
 * Downloads go through http.c, the one HTTP client. What source-local.c, source-status.c and
 * source-git.c share about libgit2 is in source-libgit2.h; no other file includes git2.h.
 *
 * The "why" convention: internal functions take `char **why`, record the first (innermost)
 * explanation of a failure there with source_why_first(), and return negative errno; public
 * entry points hand it out with source_why_finish().
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "source.h"

/* Records the first explanation of a failure (a later one does not replace it, unlike
 * why_set()); returns r, so "return source_why_first(why, -ENOENT, ...)" works. A failed
 * allocation just leaves *why NULL. why may be NULL. */
int source_why_first(char **why, int r, const char *fmt, ...) _printf_(3, 4);
/* Public entry points hand the explanation out only on failure; frees *why. Returns r. */
int source_why_finish(int r, char **why, char **ret_why);

/* Replaces *dst with a copy of s. -ENOMEM leaves *dst as it was. */
int source_strdup_to(char **dst, const char *s);
/* "a/b", malloc'd; NULL on allocation failure. */
char *source_path_join(const char *a, const char *b);

/* -ENOEXEC (why: "not a kernel source tree") unless dir has a Makefile and a Kconfig. */
int source_check_kernel_tree(const char *dir, char **why);

/* ---- source-spec.c: versions, labels and identities ------------------------------------- */

/* MAJOR.MINOR[.PATCH][-rcN], no leading zeros; the numbers in v (patch = 0 when absent), rc in
 * *ret_rc (0 when absent), the count of dotted numbers in *ret_segments. Outputs may be NULL. */
bool source_version_parse(const char *s, unsigned long v[3], unsigned long *ret_rc,
			  unsigned *ret_segments);
/* "linux-6.12.3.tar.xz" → "6.12.3"; "linux-source-6.12.tar.xz" → "6.12"; else NULL. */
char *source_tarball_version(const char *name);

/* Each sets s->label and s->identity (replacing what was there) as source.h describes for
 * its kind; -ENOMEM leaves them as they were. */
int source_name_local(struct kts_source *s, const struct kts_local_state *st);
/* Also sets s->tarball_sha256 and, when the file name carries one, s->version. */
int source_name_tarball(struct kts_source *s, const char *file_name, const char *sha);
/* The label is the version; the identity needs the tarball's SHA-256 (sha may be NULL: the
 * label only). */
int source_name_release(struct kts_source *s, const char *version, const char *sha);
int source_name_git(struct kts_source *s, const char *commit_hex);

/* ---- the kinds' two phases (source.h: source_open(), source_fetch()) -------------------- */

int source_local_open(const char *path, struct kts_source *s, char **why);
int source_tarball_open(const char *file_or_url, const struct kts_fetch_opts *opts,
			struct kts_source *s, char **why);
int source_tarball_fetch(struct kts_source *s, const char *workdir,
			 const struct kts_fetch_opts *opts, char **why);
/* Downloads url into path through http.c (the file is removed on failure); *ret_sha = its
 * SHA-256. site: the mirror named when it cannot be reached; progress from opts. */
int source_download(const char *url, const char *site, const char *path,
		    const struct kts_fetch_opts *opts, char ret_sha[65], char **why);
/* Extracts file into "{workdir}/linux" (*ret_dir, malloc'd); see source-tarball.c. */
int source_tarball_extract(const char *file, const char *workdir, char **ret_dir, char **why);
/*
 * The parsers behind a release (source-release.c), over bodies already downloaded, so that
 * tests and fuzz/ reach them without a mirror. sums_lookup: finds "linux-{version}.tar.xz"
 * in a sha256sums.asc body ("<64 hex>  <name>" lines; the PGP armour around them is
 * ignored) and writes its lowercase hash; with series set instead (version NULL), the
 * newest version of that series listed (*ret_version, malloc'd; for EOL series that
 * releases.json no longer carries). -ENOENT when nothing matches. resolve_json: spec
 * ("stable", "mainline", "6.12") resolved through a releases.json body fetched from url (for
 * messages): -EPROTO (malformed), -ENOENT (nothing matches), *ret malloc'd on success.
 */
int source_release_sums_lookup(const char *body, const char *version, const char *series,
			       char ret_sha[65], char **ret_version);
int source_release_resolve_json(const char *body, const char *url, const char *spec, char **ret,
				char **why);
int source_release_open(const char *spec, const struct kts_fetch_opts *opts, struct kts_source *s,
			char **why);
int source_release_fetch(struct kts_source *s, const char *workdir,
			 const struct kts_fetch_opts *opts, char **why);
int source_git_open(const char *url, const char *ref, struct kts_source *s, char **why);
int source_git_fetch(struct kts_source *s, const char *workdir, char **why);

/* ---- source-gitcli.c: a local tree's changed paths through the git program -------------- */

/* What git says of a tree: the repository's top level and HEAD, and the changed paths. */
struct source_gitcli {
	char root[PATH_MAX]; /* the work tree's top level, canonical */
	char commit[41];     /* HEAD */
	char *subdir;        /* the tree below root (NULL: the tree is root) */
	char **paths;        /* the changed paths under the tree, relative to root (into out) */
	size_t n_paths;
	char *out; /* git status's output */
};
void source_gitcli_done(struct source_gitcli *g);
/* false when $KTSCOPE_GIT is "libgit2": the state is then libgit2's alone. */
bool source_gitcli_wanted(void);
/*
 * The state of canon (a canonical directory) as git sees it, where that is libgit2's view
 * (source-gitcli.c says where it is not). Returns 0 with g filled; 1 when git cannot answer
 * here (why at debug level: libgit2 must, and words any error); -ENOMEM; -EINTR when git
 * failed with a stop requested (interrupt_pending()). Paths in g->paths
 * may hold any byte but NUL; untracked directories git did not descend into (nested
 * repositories) end in '/', as libgit2's do.
 */
int source_gitcli_status(const char *canon, struct source_gitcli *g);
/*
 * The committer date of commit (40 hex digits) in the repository holding dir, as
 * `git log -1 --format=%ct` prints it. 0 with *ret; 1 when git cannot answer (libgit2
 * must: why at debug level); -ENOMEM.
 */
int source_gitcli_commit_time(const char *dir, const char *commit, int64_t *ret);

/* libgit2 is reference counted: every public entry point that may use it holds one
 * reference for its duration (source-git.c); the library is loaded and initialised only
 * when one of them first needs it (source_libgit2_load(), which calls source_git_use()). */
int source_git_ref(void);
void source_git_use(void);
void source_git_unrefp(int *ref);
#define _cleanup_git_ _cleanup_(source_git_unrefp) _unused_ int _git_ref_ = source_git_ref()
