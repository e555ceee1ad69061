/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Local kernel trees (source.h, "local"): opening one as a source, and its state — HEAD, the
 * dirty paths (HEAD↔index, index↔work tree, untracked files that are not ignored) and the
 * state hash over them. The paths come from the git program where it can answer with
 * libgit2's view (source-gitcli.c: `git status`, the fast path), else from libgit2 in named
 * steps: open the repository, read HEAD, walk the status (source-status.c splits a whole work
 * tree among threads), collect the dirty paths. Either way the records and the hash are this
 * file's (dirty_record(), local_hash()). Also the after-build re-check (source_recheck()).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "hash.h"
#include "source-libgit2.h"

void source_local_state_done(struct kts_local_state *s)
{
	if (!s)
		return;
	free(s->why);
	free(s->repo_root);
	free(s->subdir);
	*s = (struct kts_local_state){};
}

/*
 * Whether the index records exactly HEAD's tree: then HEAD-to-index has nothing to report
 * and the status walk can be index-to-workdir only, which is what makes a cache hit on a
 * kernel tree cost about what `git status` costs (the full HEAD-to-index comparison reads
 * ~5,000 tree objects; git itself skips it the same way, through the index's cache-tree).
 *
 * The index's tree comes from git_index_write_tree(), which returns the cache-tree's id
 * when the index has a valid one and otherwise hashes the missing trees. It writes those
 * to the repository's object database, so an in-memory backend is put in front of it
 * first: nothing reaches the user's .git. Any failure (a conflict in the index, an odd
 * object store) answers false, and the caller does the full walk.
 */
static bool index_matches_head(git_repository *repo, git_index *index, const git_oid *head)
{
	_cleanup_(git_odb_freep) git_odb *odb = NULL;
	_cleanup_(git_commit_freep) git_commit *commit = NULL;
	git_odb_backend *mem = NULL;
	git_oid tree;

	if (git_repository_odb(&odb, repo) < 0 || git_mempack_new(&mem) < 0)
		return false;
	/* The highest priority: writes go to the first backend that can write. */
	if (git_odb_add_backend(odb, mem, 1000) < 0) {
		mem->free(mem);
		return false;
	}
	if (git_index_write_tree(&tree, index) < 0)
		return false;
	if (git_commit_lookup(&commit, repo, head) < 0)
		return false;
	return git_oid_equal(&tree, git_commit_tree_id(commit));
}

/* ---- dirty paths ------------------------------------------------------------------------- */

struct dirty_entry {
	char *path;
	char rec[80]; /* kind letter + ':' + digest or marker */
};

static int dirty_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dirty_entry *) a)->path,
		      ((const struct dirty_entry *) b)->path);
}

/*
 * The record of one dirty path: what is in the worktree now. Regular files hash their bytes
 * ('f', or 'x' when executable), symlinks their target ('l'), missing paths are 'd'.
 */
static int dirty_record(const char *root, const char *path, struct dirty_entry *e, char **why)
{
	_cleanup_free_ char *full = source_path_join(root, path);
	char hex[65], target[PATH_MAX];
	struct stat st;
	ssize_t n;
	int r;

	if (!full)
		return -ENOMEM;
	if (lstat(full, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			(void) snprintf(e->rec, sizeof(e->rec), "d:deleted");
			return 0;
		}
		return source_why_first(why, negative_errno(), "cannot stat '%s': %m", full);
	}
	if (S_ISLNK(st.st_mode)) {
		n = readlink(full, target, sizeof(target));
		if (n < 0)
			return source_why_first(why, negative_errno(), "cannot read link '%s': %m",
						full);
		r = hash_sha256_hex(target, (size_t) n, hex);
		if (r < 0)
			return r;
		(void) snprintf(e->rec, sizeof(e->rec), "l:%s", hex);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		r = hash_sha256_file(full, hex);
		if (r < 0)
			return source_why_first(why, r, "cannot read '%s': %s", full, strerror(-r));
		(void) snprintf(e->rec, sizeof(e->rec), "%c:%s", (st.st_mode & 0111) ? 'x' : 'f',
				hex);
		return 0;
	}
	(void) snprintf(e->rec, sizeof(e->rec), "o:%o", (unsigned) (st.st_mode & S_IFMT));
	return 0;
}

/* A submodule counts by its checked-out commit; own changes inside it are not hashed, so they
 * make the tree uncacheable. Returns 1 when path is a submodule (e->rec filled). */
static int dirty_submodule(git_repository *repo, const char *path, struct dirty_entry *e,
			   struct kts_local_state *s)
{
	_cleanup_(git_submodule_freep) git_submodule *sm = NULL;
	const git_oid *wd;
	unsigned flags = 0;
	char hex[GIT_OID_HEXSZ + 1];
	size_t n = strlen(path);
	_cleanup_free_ char *p = strndup(path, n && path[n - 1] == '/' ? n - 1 : n);

	if (!p)
		return -ENOMEM;
	if (git_submodule_lookup(&sm, repo, p) < 0)
		return 0;
	wd = git_submodule_wd_id(sm);
	(void) snprintf(e->rec, sizeof(e->rec), "s:%s",
			wd ? git_oid_tostr(hex, sizeof(hex), wd) : "-");
	if (git_submodule_status(&flags, repo, p, GIT_SUBMODULE_IGNORE_NONE) == 0 &&
	    (flags & (GIT_SUBMODULE_STATUS_WD_INDEX_MODIFIED | GIT_SUBMODULE_STATUS_WD_WD_MODIFIED |
		      GIT_SUBMODULE_STATUS_WD_UNTRACKED))) {
		s->cacheable = false;
		if (!s->why &&
		    asprintf(&s->why,
			     "submodule '%s' has uncommitted changes of its own, which the state "
			     "hash does not cover",
			     p) < 0)
			s->why = NULL;
	}
	return 1;
}

/* ---- one computation of the state, step by step ------------------------------------------ */

/* What local_state()'s steps share. */
struct local_ctx {
	char canon[PATH_MAX]; /* the tree, canonical */
	char root[PATH_MAX];  /* the repository's work tree, canonical */
	git_repository *repo;
	git_index *index;
	git_oid head;
	size_t prefix_len;               /* strlen(subdir) for a subtree */
	git_status_list *list;           /* a subtree: its one status list */
	struct source_status_walk *walk; /* a whole repository: one list per share */
	struct dirty_entry *ents;
	size_t n_ents;
};

static void local_ctx_done(struct local_ctx *c)
{
	for (size_t i = 0; i < c->n_ents; i++)
		free(c->ents[i].path);
	free(c->ents);
	source_status_walk_free(c->walk);
	if (c->list)
		git_status_list_free(c->list);
	if (c->index)
		git_index_free(c->index);
	if (c->repo)
		git_repository_free(c->repo);
}

/* Marks the tree as not in git (not cacheable, why set). Returns 1: the state is complete. */
static int local_not_git(struct kts_local_state *s, const char *fmt, ...) _printf_(2, 3);
static int local_not_git(struct kts_local_state *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	s->git = false;
	s->cacheable = false;
	s->commit[0] = '\0';
	free(s->why);
	va_start(ap, fmt);
	r = vasprintf(&s->why, fmt, ap);
	va_end(ap);
	if (r < 0) {
		s->why = NULL;
		return -ENOMEM;
	}
	return 1;
}

/* The tree, canonical, in c->canon; it must be a directory. */
static int local_resolve(struct local_ctx *c, const char *dir, char **why)
{
	struct stat st;

	if (!realpath(dir, c->canon))
		return source_why_first(why, negative_errno(), "cannot resolve '%s': %m", dir);
	if (stat(c->canon, &st) < 0)
		return source_why_first(why, negative_errno(), "cannot stat '%s': %m", c->canon);
	if (!S_ISDIR(st.st_mode))
		return source_why_first(why, -ENOTDIR, "'%s' is not a directory", c->canon);
	return 0;
}

/* Step 1: the repository holding the tree; s->repo_root and s->subdir. Returns 1 when that
 * already decides the state (not in git). */
static int local_open(struct local_ctx *c, struct kts_local_state *s, char **why)
{
	const char *wd;
	int r;

	r = git_repository_open_ext(&c->repo, c->canon, 0, NULL);
	if (r == GIT_ENOTFOUND)
		return local_not_git(s,
				     "'%s' is not in a git repository, so its content cannot "
				     "be identified",
				     c->canon);
	if (r < 0)
		return source_git_fail(why, r, "cannot open the git repository");
	wd = git_repository_workdir(c->repo);
	if (!wd)
		return local_not_git(s, "'%s' belongs to a bare git repository", c->canon);
	if (!realpath(wd, c->root))
		return source_why_first(why, negative_errno(), "cannot resolve '%s': %m", wd);
	s->repo_root = strdup(c->root);
	if (!s->repo_root)
		return -ENOMEM;
	if (!streq(c->root, c->canon)) {
		size_t l = strlen(c->root);

		/* The tree is a subdirectory of the repository: judge that subtree only. */
		if (strncmp(c->canon, c->root, l) != 0 || c->canon[l] != '/')
			return source_why_first(why, -EIO, "'%s' is not inside its repository '%s'",
						c->canon, c->root);
		s->subdir = strdup(c->canon + l + 1);
		if (!s->subdir)
			return -ENOMEM;
		c->prefix_len = strlen(s->subdir);
	}
	return 0;
}

/* Step 2: HEAD (s->commit); a subtree none of whose files are tracked is not in git (1). */
static int local_head(struct local_ctx *c, struct kts_local_state *s, char **why)
{
	_cleanup_free_ char *prefix = NULL;
	int r;

	if (git_repository_head_unborn(c->repo) == 1)
		return local_not_git(s, "the git repository of '%s' has no commit yet", c->canon);
	r = git_reference_name_to_id(&c->head, c->repo, "HEAD");
	if (r < 0)
		return source_git_fail(why, r, "cannot read HEAD");
	(void) git_oid_tostr(s->commit, sizeof(s->commit), &c->head);
	if (!s->subdir)
		return 0;

	r = git_repository_index(&c->index, c->repo);
	if (r < 0)
		return source_git_fail(why, r, "cannot read the git index");
	if (asprintf(&prefix, "%s/", s->subdir) < 0)
		return -ENOMEM;
	if (git_index_find_prefix(NULL, c->index, prefix) == GIT_ENOTFOUND)
		return local_not_git(s,
				     "none of the files in '%s' are tracked by its enclosing "
				     "git repository",
				     c->canon);
	return 0;
}

/* Step 3: the status walk: a subtree in one walk limited to it, a whole repository split
 * among threads (source-status.c). */
static int local_status(struct local_ctx *c, const struct kts_local_state *s, char **why)
{
	git_status_options opts = {};
	char *pathspec[1];
	int r;

	if (!s->subdir) {
		/* The threads read their own index while this one reads its own, below. */
		r = source_status_walk_new(c->canon, &c->walk);
		if (r < 0)
			return r;
	}
	if (!c->index) {
		r = git_repository_index(&c->index, c->repo);
		if (r < 0)
			return source_git_fail(why, r, "cannot read the git index");
	}
	(void) git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
	opts.show = index_matches_head(c->repo, c->index, &c->head)
			    ? GIT_STATUS_SHOW_WORKDIR_ONLY
			    : GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	log_debug("git status of '%s': %s", c->canon,
		  opts.show == GIT_STATUS_SHOW_WORKDIR_ONLY
			  ? "the index is HEAD's tree, index to work tree only"
			  : "HEAD, index and work tree");
	opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
		     GIT_STATUS_OPT_SORT_CASE_SENSITIVELY;
	if (c->walk)
		return source_status_walk_run(c->walk, c->repo, c->index, &c->head, c->root, &opts,
					      why);
	pathspec[0] = s->subdir;
	opts.pathspec.strings = pathspec;
	opts.pathspec.count = 1;
	r = git_status_list_new(&c->list, c->repo, &opts);
	if (r < 0)
		return source_git_fail(why, r, "cannot compute the git status");
	return 0;
}

/* The path a status entry names, when it is a change under the tree; else NULL. */
static const char *status_entry_path(const git_status_entry *e, const struct kts_local_state *s,
				     size_t prefix_len)
{
	const git_diff_delta *d;
	const char *path;

	if (!e || e->status == GIT_STATUS_CURRENT || (e->status & GIT_STATUS_IGNORED))
		return NULL;
	d = e->index_to_workdir ? e->index_to_workdir : e->head_to_index;
	if (!d)
		return NULL;
	path = d->new_file.path ? d->new_file.path : d->old_file.path;
	if (!path)
		return NULL;
	/* The pathspec is a glob; keep only what really lies under the subtree. */
	if (s->subdir && (strncmp(path, s->subdir, prefix_len) != 0 || path[prefix_len] != '/'))
		return NULL;
	return path;
}

/* Adds one dirty path and its record to c->ents (room for it is there). */
static int dirty_add(struct local_ctx *c, const char *path, struct kts_local_state *s, char **why)
{
	struct dirty_entry *e = &c->ents[c->n_ents];
	int r;

	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	c->n_ents++;
	/* (the git program's answer holds no submodule: source-gitcli.c leaves those here) */
	r = c->repo ? dirty_submodule(c->repo, path, e, s) : 0;
	if (r != 0)
		return r < 0 ? r : 0;
	if (path[strlen(path) - 1] == '/') {
		/* An untracked directory libgit2 did not descend into: a nested repository. */
		s->cacheable = false;
		if (!s->why && asprintf(&s->why,
					"'%s' holds a nested git repository '%s' that is "
					"not a submodule",
					c->canon, path) < 0)
			s->why = NULL;
		(void) snprintf(e->rec, sizeof(e->rec), "n:nested");
		return 0;
	}
	return dirty_record(c->root, path, e, why);
}

/* Step 4: every dirty path under the tree, with its record, from the status lists. */
static int local_collect(struct local_ctx *c, struct kts_local_state *s, char **why)
{
	size_t n_lists = c->walk ? source_status_walk_n_lists(c->walk) : 1, count = 0;
	int r;

	for (size_t j = 0; j < n_lists; j++)
		count += git_status_list_entrycount(c->walk ? source_status_walk_list(c->walk, j)
							    : c->list);
	c->ents = calloc(MAX(count, (size_t) 1), sizeof(*c->ents));
	if (!c->ents)
		return -ENOMEM;
	for (size_t j = 0; j < n_lists; j++) {
		git_status_list *list = c->walk ? source_status_walk_list(c->walk, j) : c->list;

		for (size_t i = 0; i < git_status_list_entrycount(list); i++) {
			const char *path =
				status_entry_path(git_status_byindex(list, i), s, c->prefix_len);

			if (!path)
				continue;
			r = dirty_add(c, path, s, why);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/*
 * Step 5: the state hash over the dirty paths in byte order (s->state, s->dirty). Returns 0 or
 * -ENOMEM (libcrypto could not allocate its context).
 */
static int local_hash(struct local_ctx *c, struct kts_local_state *s)
{
	_cleanup_(hash_sha256_done) struct hash_sha256 h = {};
	uint8_t digest[HASH_SHA256_SIZE];
	int r;

	if (c->n_ents == 0)
		return 0;
	qsort(c->ents, c->n_ents, sizeof(*c->ents), dirty_entry_cmp);
	(void) hash_sha256_init(&h); /* errors are sticky: final reports them */
	for (size_t i = 0; i < c->n_ents; i++) {
		/* Paths are NUL-free, so "path\0record\n" is an unambiguous encoding. */
		(void) hash_sha256_update(&h, c->ents[i].path, strlen(c->ents[i].path) + 1);
		(void) hash_sha256_update(&h, c->ents[i].rec, strlen(c->ents[i].rec));
		(void) hash_sha256_update(&h, "\n", 1);
	}
	r = hash_sha256_final(&h, digest);
	if (r < 0)
		return r;
	hash_digest_to_hex(digest, sizeof(digest), s->state);
	s->dirty = true;
	s->n_dirty = (unsigned) c->n_ents;
	return 0;
}

/* Steps 1-4 through libgit2. Returns 1 when the tree is not in git (the state is complete). */
static int local_libgit2(struct local_ctx *c, struct kts_local_state *s, char **why)
{
	int r;

	r = source_libgit2_load(why);
	if (r == 0)
		r = local_open(c, s, why);
	if (r == 0)
		r = local_head(c, s, why);
	if (r == 0) {
		s->git = true;
		r = local_status(c, s, why);
	}
	if (r == 0)
		r = local_collect(c, s, why);
	return r;
}

/*
 * Steps 1-4 through the git program (source-gitcli.c). Returns 0, or 2 when git did not answer
 * (c and s are then untouched: libgit2 must), or negative errno.
 */
static int local_gitcli(struct local_ctx *c, struct kts_local_state *s, char **why)
{
	_cleanup_(source_gitcli_done) struct source_gitcli g = {};
	int r;

	if (!source_gitcli_wanted())
		return 2;
	r = source_gitcli_status(c->canon, &g);
	if (r != 0)
		return r < 0 ? r : 2;
	memcpy(c->root, g.root, sizeof(c->root));
	s->repo_root = strdup(g.root);
	if (!s->repo_root)
		return -ENOMEM;
	s->subdir = TAKE_PTR(g.subdir);
	c->prefix_len = s->subdir ? strlen(s->subdir) : 0;
	memcpy(s->commit, g.commit, sizeof(s->commit));
	s->git = true;
	c->ents = calloc(MAX(g.n_paths, (size_t) 1), sizeof(*c->ents));
	if (!c->ents)
		return -ENOMEM;
	for (size_t i = 0; i < g.n_paths; i++) {
		r = dirty_add(c, g.paths[i], s, why);
		if (r < 0)
			return r;
	}
	return 0;
}

static int local_state(const char *dir, struct kts_local_state *ret, char **why)
{
	_cleanup_(local_ctx_done) struct local_ctx c = {};
	_cleanup_(source_local_state_done) struct kts_local_state s = { .cacheable = true };
	int r;

	r = local_resolve(&c, dir, why);
	if (r == 0)
		r = local_gitcli(&c, &s, why);
	if (r == 2)
		r = local_libgit2(&c, &s, why);
	if (r == 0)
		r = local_hash(&c, &s);
	if (r < 0)
		return r;
	*ret = s;
	s = (struct kts_local_state){};
	return 0;
}

int source_local_state(const char *dir, struct kts_local_state *ret, char **ret_why)
{
	_cleanup_git_;
	char *why = NULL;

	if (!dir || !ret)
		return -EINVAL;
	return source_why_finish(local_state(dir, ret, &why), &why, ret_why);
}

/* ---- the local source -------------------------------------------------------------------- */

int source_local_open(const char *path, struct kts_source *s, char **why)
{
	_cleanup_(source_local_state_done) struct kts_local_state st = {};
	char canon[PATH_MAX];
	struct stat sb;
	int r;

	if (stat(path, &sb) < 0)
		return source_why_first(why, negative_errno(), "cannot access '%s': %m", path);
	if (!S_ISDIR(sb.st_mode))
		return source_why_first(why, -ENOTDIR, "'%s' is not a directory", path);
	if (!realpath(path, canon))
		return source_why_first(why, negative_errno(), "cannot resolve '%s': %m", path);
	r = source_check_kernel_tree(canon, why);
	if (r < 0)
		return r;
	r = local_state(canon, &st, why);
	if (r < 0)
		return r;

	s->is_temp = false;
	if (source_strdup_to(&s->dir, canon) < 0 || source_strdup_to(&s->path, canon) < 0)
		return -ENOMEM;
	s->cacheable = st.cacheable;
	s->dirty = st.dirty;
	memcpy(s->commit, st.commit, sizeof(s->commit));
	memcpy(s->state_sha256, st.state, sizeof(s->state_sha256));
	if (st.why)
		s->why = TAKE_PTR(st.why);
	return source_name_local(s, &st);
}

int source_recheck(const struct kts_source *s, bool *ret_changed, char **ret_reason)
{
	_cleanup_git_;
	_cleanup_(source_local_state_done) struct kts_local_state now = {};
	char *why = NULL, *reason = NULL;
	int r;

	if (!s || !ret_changed || !ret_reason)
		return -EINVAL;
	if (s->kind != KTS_SOURCE_LOCAL) {
		*ret_changed = false;
		*ret_reason = NULL;
		return 0;
	}
	r = local_state(s->path, &now, &why);
	free(why);
	if (r < 0)
		return r;

	if (!streq(now.commit, s->commit))
		r = asprintf(&reason,
			     "the tree changed during the build: HEAD moved from %.12s to %.12s",
			     s->commit[0] ? s->commit : "(none)",
			     now.commit[0] ? now.commit : "(none)");
	else if (now.dirty != s->dirty || !streq(now.state, s->state_sha256))
		r = asprintf(&reason,
			     "the tree changed during the build: its uncommitted state is "
			     "now %s (was %s)",
			     now.dirty ? now.state : "clean", s->dirty ? s->state_sha256 : "clean");
	else if (now.cacheable != s->cacheable)
		r = asprintf(&reason, "the tree changed during the build: %s",
			     now.why ? now.why : "it became cacheable");
	if (r < 0)
		return -ENOMEM;
	*ret_changed = reason != NULL;
	*ret_reason = reason;
	return 0;
}
