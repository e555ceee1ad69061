/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Source acquisition and identity: local trees (libgit2 status), tarballs (SHA-256, tar),
 * kernel.org releases (libcurl + releases.json + sha256sums.asc) and git remotes (libgit2).
 * The only module that includes git2.h and curl/curl.h (STYLE.md, "Boundaries").
 */
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "sha256.h"
#include "source.h"

extern char **environ;

/* Body sizes we are willing to hold in memory (releases.json is ~10 KiB, sums ~100 KiB). */
#define SMALL_BODY_MAX (8u << 20)

/* ---- small helpers ------------------------------------------------------------------------ */

/* Records the first (innermost) explanation of a failure (unlike why_set(), a later one
 * does not replace it); returns r so callers can
 * "return why_first(why, -ENOENT, ...)". Allocation failure just leaves *why NULL. */
static int why_first(char **why, int r, const char *fmt, ...) _printf_(3, 4);
static int why_first(char **why, int r, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!why || *why)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*why = s;
	if (s)
		log_debug("source: %s", s);
	return r;
}

/* Public entry points hand the explanation out only on failure. */
static int why_finish(int r, char **why, char **ret_why)
{
	if (r < 0 && ret_why && *why)
		*ret_why = TAKE_PTR(*why);
	free(*why);
	*why = NULL;
	return r;
}

static int strdup_to(char **dst, const char *s)
{
	char *c = strdup(s);

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

static char *path_join(const char *a, const char *b)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

static bool is_url(const char *s)
{
	return startswith(s, "http://") || startswith(s, "https://");
}

static bool is_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char) *s))
			return false;
	return true;
}

/* ---- specs -------------------------------------------------------------------------------- */

static const char *const kind_names[_KTS_SOURCE_KIND_MAX] = {
	[KTS_SOURCE_LOCAL] = "local",
	[KTS_SOURCE_TARBALL] = "tarball",
	[KTS_SOURCE_RELEASE] = "release",
	[KTS_SOURCE_GIT] = "git",
};

const char *source_kind_to_string(enum kts_source_kind k)
{
	return k >= 0 && k < _KTS_SOURCE_KIND_MAX ? kind_names[k] : NULL;
}

/* Parses "N" (no leading zeros except "0"), advancing *p. */
static bool parse_num(const char **p, unsigned long *ret)
{
	const char *s = *p;
	unsigned long v = 0;

	if (!isdigit((unsigned char) *s))
		return false;
	if (s[0] == '0' && isdigit((unsigned char) s[1]))
		return false;
	for (; isdigit((unsigned char) *s); s++) {
		if (v > 100000000ul)
			return false;
		v = v * 10 + (unsigned long) (*s - '0');
	}
	*p = s;
	*ret = v;
	return true;
}

/* MAJOR.MINOR[.PATCH][-rcN]; the numbers in ret (patch = 0 and rc = 0 when absent). */
static bool version_parse(const char *s, unsigned long v[3], unsigned long *ret_rc,
			  unsigned *ret_segments)
{
	unsigned long t[3] = {}, rc = 0;
	unsigned n = 0;

	for (;;) {
		if (n == 3 || !parse_num(&s, &t[n]))
			return false;
		n++;
		if (*s != '.')
			break;
		s++;
	}
	if (n < 2)
		return false;
	if (startswith(s, "-rc")) {
		s += 3;
		if (!parse_num(&s, &rc) || rc == 0)
			return false;
	}
	if (*s)
		return false;
	if (v)
		memcpy(v, t, sizeof(t));
	if (ret_rc)
		*ret_rc = rc;
	if (ret_segments)
		*ret_segments = n;
	return true;
}

bool source_is_release_spec(const char *s)
{
	return s && (streq(s, "stable") || streq(s, "mainline") || version_parse(s, NULL, NULL, NULL));
}

void source_spec_done(struct kts_source_spec *s)
{
	if (!s)
		return;
	free(s->path);
	free(s->version);
	free(s->url);
	free(s->ref);
	*s = (struct kts_source_spec) {};
}

int source_spec_local(const char *dir, struct kts_source_spec *ret)
{
	struct kts_source_spec s = { .kind = KTS_SOURCE_LOCAL };

	if (!dir || !*dir || !ret)
		return -EINVAL;
	s.path = strdup(dir);
	if (!s.path)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int source_spec_tarball(const char *file_or_url, struct kts_source_spec *ret)
{
	int r = source_spec_local(file_or_url, ret);

	if (r >= 0)
		ret->kind = KTS_SOURCE_TARBALL;
	return r;
}

int source_spec_git(const char *url, const char *ref, struct kts_source_spec *ret)
{
	struct kts_source_spec s = { .kind = KTS_SOURCE_GIT };

	if (!url || !*url || !ref || !*ref || !ret)
		return -EINVAL;
	s.url = strdup(url);
	s.ref = strdup(ref);
	if (!s.url || !s.ref) {
		source_spec_done(&s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

int source_spec_parse(const char *s, struct kts_source_spec *ret)
{
	struct kts_source_spec spec = {};

	if (!s || !*s || !ret)
		return -EINVAL;

	if (startswith(s, "git+")) {
		_cleanup_free_ char *url = strdup(s + 4);
		char *hash;

		if (!url)
			return -ENOMEM;
		/* The last '#' separates the ref, so URL fragments survive. */
		hash = strrchr(url, '#');
		if (!hash || hash == url || !hash[1])
			return -EINVAL;
		*hash = '\0';
		return source_spec_git(url, hash + 1, ret);
	}

	if (source_is_release_spec(s)) {
		spec.kind = KTS_SOURCE_RELEASE;
		spec.version = strdup(s);
		if (!spec.version)
			return -ENOMEM;
		*ret = spec;
		return 0;
	}

	return source_spec_local(s, ret);
}

/* ---- struct kts_source --------------------------------------------------------------------- */

void source_free(struct kts_source *s)
{
	if (!s)
		return;
	free(s->dir);
	free(s->label);
	free(s->identity);
	free(s->why);
	free(s->version);
	free(s->url);
	free(s->ref);
	free(s->path);
	free(s);
}

void source_local_state_done(struct kts_local_state *s)
{
	if (!s)
		return;
	free(s->why);
	free(s->repo_root);
	free(s->subdir);
	*s = (struct kts_local_state) {};
}

static void closedirp_(DIR **d)
{
	if (*d)
		(void) closedir(*d);
}

static void git_repository_freep(git_repository **p)
{
	if (*p)
		git_repository_free(*p);
}
static void git_status_list_freep(git_status_list **p)
{
	if (*p)
		git_status_list_free(*p);
}
static void git_index_freep(git_index **p)
{
	if (*p)
		git_index_free(*p);
}
static void git_remote_freep(git_remote **p)
{
	if (*p)
		git_remote_free(*p);
}
static void git_object_freep(git_object **p)
{
	if (*p)
		git_object_free(*p);
}
static void git_submodule_freep(git_submodule **p)
{
	if (*p)
		git_submodule_free(*p);
}

/* libgit2 is reference counted: every public entry point holds one reference. */
static void git_shutdownp(int *initialised)
{
	if (*initialised > 0)
		(void) git_libgit2_shutdown();
}
#define _cleanup_git_ _cleanup_(git_shutdownp) int _git_ref_ = git_libgit2_init()

/* Converts a libgit2 failure into a negative errno plus its message. */
static int git_fail(char **why, int r, const char *what)
{
	const git_error *e = git_error_last();
	int err;

	switch (r) {
	case GIT_ENOTFOUND:
		err = -ENOENT;
		break;
	case GIT_EEXISTS:
		err = -EEXIST;
		break;
	case GIT_ECERTIFICATE:
	case GIT_EAUTH:
		err = -EACCES;
		break;
	default:
		err = e && e->klass == GIT_ERROR_NET ? -EHOSTUNREACH : -EIO;
	}
	return why_first(why, err, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}

/* ---- local trees --------------------------------------------------------------------------- */


static void git_odb_freep(git_odb **p)
{
	if (*p)
		git_odb_free(*p);
}
static void git_commit_freep(git_commit **p)
{
	if (*p)
		git_commit_free(*p);
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

/*
 * The work-tree half of a status walk is a stat of every tracked file and a read of every
 * directory: ~86,000 and ~6,000 on a kernel tree, which git spreads over threads (its
 * preload-index) and libgit2 does not. So a walk of a whole repository is split into shares
 * by top-level entry, each walked by its own thread with its own repository object (libgit2
 * objects are not shared between threads), balanced by the number of tracked files.
 * source_status_threads(): 0 = one per allowed CPU, at most STATUS_THREADS_MAX.
 */
#define STATUS_THREADS_MAX 4
static unsigned status_threads_wanted;

void source_set_status_threads(unsigned n)
{
	status_threads_wanted = n;
}

static unsigned status_threads(void)
{
	cpu_set_t set;
	int n;

	if (status_threads_wanted > 0)
		return MIN(status_threads_wanted, (unsigned) STATUS_THREADS_MAX);
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	n = CPU_COUNT(&set);
	return (unsigned) MAX(1, MIN(n, STATUS_THREADS_MAX));
}

struct top_entry {
	char *name;
	size_t weight; /* tracked files under it (1 for an untracked entry) */
	unsigned share;
};

static int top_entry_by_name(const void *a, const void *b)
{
	return strcmp(((const struct top_entry *) a)->name, ((const struct top_entry *) b)->name);
}

static int top_entry_by_weight(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight < y->weight ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void top_entries_free(struct top_entry *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i].name);
	free(t);
}

static int top_entry_add(struct top_entry **t, size_t *n, size_t *alloc, const char *name,
			 size_t len, size_t weight)
{
	if (*n == *alloc) {
		size_t a = *alloc ? *alloc * 2 : 64;
		struct top_entry *nt = reallocarray(*t, a, sizeof(**t));

		if (!nt)
			return -ENOMEM;
		*t = nt;
		*alloc = a;
	}
	(*t)[*n] = (struct top_entry) { .name = strndup(name, len), .weight = weight };
	if (!(*t)[*n].name)
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* Adds NAME (weight 1) unless the first N_SORTED entries of T, sorted by name, have it. */
static int top_entry_add_new(struct top_entry **t, size_t *n, size_t *alloc, size_t n_sorted,
			     const char *name)
{
	struct top_entry key = { .name = (char *) name };

	if (bsearch(&key, *t, n_sorted, sizeof(**t), top_entry_by_name))
		return 0;
	for (size_t i = n_sorted; i < *n; i++)
		if (streq((*t)[i].name, name))
			return 0;
	return top_entry_add(t, n, alloc, name, strlen(name), 1);
}

/*
 * The top-level entries of the repository: the first path component of every index entry
 * (the index is sorted, so each one's entries are adjacent), then the entries of HEAD's
 * tree (a path removed from the index is still a change) and whatever else the top
 * directory holds (untracked entries); ".git" is never one.
 */
static int top_entries(git_repository *repo, git_index *index, const git_oid *head,
		       const char *root, struct top_entry **ret, size_t *ret_n)
{
	_cleanup_(closedirp_) DIR *d = NULL;
	_cleanup_(git_commit_freep) git_commit *commit = NULL;
	git_tree *tree = NULL;
	struct top_entry *t = NULL;
	size_t n = 0, alloc = 0, n_tracked, count = git_index_entrycount(index);
	struct dirent *de;
	int r = 0;

	for (size_t i = 0; i < count && r >= 0; i++) {
		const git_index_entry *e = git_index_get_byindex(index, i);
		size_t len;

		if (!e)
			continue;
		len = strcspn(e->path, "/");
		if (n > 0 && strlen(t[n - 1].name) == len && memcmp(t[n - 1].name, e->path, len) == 0)
			t[n - 1].weight++;
		else
			r = top_entry_add(&t, &n, &alloc, e->path, len, 1);
	}
	if (r < 0)
		goto fail;
	/* Conflict stages repeat a path; a name can then appear twice, which is harmless
	 * below only if merged: sort and fold. */
	qsort(t, n, sizeof(*t), top_entry_by_name);
	n_tracked = 0;
	for (size_t i = 0; i < n; i++) {
		if (n_tracked > 0 && streq(t[n_tracked - 1].name, t[i].name)) {
			t[n_tracked - 1].weight += t[i].weight;
			free(t[i].name);
			continue;
		}
		t[n_tracked++] = t[i];
	}
	n = n_tracked;

	if (git_commit_lookup(&commit, repo, head) < 0 || git_commit_tree(&tree, commit) < 0) {
		r = -EIO;
		goto fail;
	}
	for (size_t i = 0; i < git_tree_entrycount(tree) && r >= 0; i++)
		r = top_entry_add_new(&t, &n, &alloc, n_tracked,
				      git_tree_entry_name(git_tree_entry_byindex(tree, i)));
	git_tree_free(tree);
	if (r < 0)
		goto fail;

	d = opendir(root);
	if (!d) {
		r = negative_errno();
		goto fail;
	}
	while ((errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, ".git"))
			continue;
		r = top_entry_add_new(&t, &n, &alloc, n_tracked, de->d_name);
		if (r < 0)
			goto fail;
	}
	if (errno != 0) {
		r = negative_errno();
		goto fail;
	}
	*ret = t;
	*ret_n = n;
	return 0;
fail:
	top_entries_free(t, n);
	return r;
}

/*
 * One share of a status walk. Share 0 is walked by the calling thread with the caller's
 * repository; every other share has a thread of its own, started before the caller reads
 * the index, so that each thread's own index read (~170 ms on a kernel tree: libgit2
 * parses every entry) happens while the caller reads its own. The thread then waits for
 * its share (go) or for being told it is not needed (quit).
 */
struct status_walk;
struct status_share {
	struct status_walk *walk;
	git_status_options opts; /* pathspec: the share's top-level entries, literally */
	char **names;
	size_t weight;
	git_repository *repo;    /* a thread's own; NULL for share 0 */
	git_status_list *list;
	int r;
	char *msg;               /* libgit2's message when r < 0: its errors are per thread */
	pthread_t thread;
	bool started, go, quit;
};

struct status_walk {
	const char *open_path;   /* what the caller's git_repository_open_ext() was given */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool sync_ready;
	struct status_share *shares;
	size_t n_shares;
	struct top_entry *top;
	size_t n_top;
};

static void status_share_fail(struct status_share *sh)
{
	const git_error *e = git_error_last();

	free(sh->msg);
	sh->msg = strdup(e && e->message ? e->message : "libgit2 error");
}

/* Opens the share's own repository and reads its index. */
static void status_share_open(struct status_share *sh)
{
	git_index *ix = NULL;

	sh->r = git_repository_open_ext(&sh->repo, sh->walk->open_path, 0, NULL);
	if (sh->r >= 0)
		sh->r = git_repository_index(&ix, sh->repo); /* the repository keeps it loaded */
	git_index_free(ix);
	if (sh->r < 0)
		status_share_fail(sh);
}

static void status_share_walk(struct status_share *sh, git_repository *repo)
{
	sh->r = git_status_list_new(&sh->list, repo, &sh->opts);
	if (sh->r < 0)
		status_share_fail(sh);
}

static void *status_share_thread(void *userdata)
{
	struct status_share *sh = userdata;
	struct status_walk *w = sh->walk;
	bool go;

	status_share_open(sh);
	(void) pthread_mutex_lock(&w->lock);
	while (!sh->go && !sh->quit)
		(void) pthread_cond_wait(&w->cond, &w->lock);
	go = sh->go;
	(void) pthread_mutex_unlock(&w->lock);
	if (go && sh->r >= 0)
		status_share_walk(sh, sh->repo);
	return NULL;
}

/* Tells every waiting thread to walk its share (go) or to end; wakes them all. */
static void status_walk_release(struct status_walk *w, size_t n_go)
{
	if (!w->sync_ready)
		return;
	(void) pthread_mutex_lock(&w->lock);
	for (size_t j = 0; j < w->n_shares; j++) {
		if (j < n_go)
			w->shares[j].go = true;
		else
			w->shares[j].quit = true;
	}
	(void) pthread_cond_broadcast(&w->cond);
	(void) pthread_mutex_unlock(&w->lock);
}

static void status_walk_done(struct status_walk *w)
{
	status_walk_release(w, 0); /* no-op for threads that have their share already */
	for (size_t i = 0; i < w->n_shares; i++) {
		struct status_share *sh = &w->shares[i];

		if (sh->started)
			(void) pthread_join(sh->thread, NULL);
		if (sh->list)
			git_status_list_free(sh->list);
		if (sh->repo)
			git_repository_free(sh->repo);
		free(sh->names);
		free(sh->msg);
	}
	free(w->shares);
	top_entries_free(w->top, w->n_top);
	if (w->sync_ready) {
		(void) pthread_cond_destroy(&w->cond);
		(void) pthread_mutex_destroy(&w->lock);
	}
	*w = (struct status_walk) {};
}

/*
 * Starts the threads of a walk of the whole work tree of the repository opened from
 * OPEN_PATH: status_threads() shares, share 0 for the caller. Nothing is started with one
 * share. A thread that cannot start leaves its share to the caller (status_walk_run()).
 */
static int status_walk_start(struct status_walk *w, const char *open_path)
{
	size_t n = status_threads();

	w->open_path = open_path;
	w->shares = calloc(n, sizeof(*w->shares));
	if (!w->shares)
		return -ENOMEM;
	w->n_shares = n;
	for (size_t j = 0; j < n; j++)
		w->shares[j].walk = w;
	if (n < 2)
		return 0;
	if (pthread_mutex_init(&w->lock, NULL) != 0)
		return 0;
	if (pthread_cond_init(&w->cond, NULL) != 0) {
		(void) pthread_mutex_destroy(&w->lock);
		return 0;
	}
	w->sync_ready = true;
	for (size_t j = 1; j < n; j++)
		w->shares[j].started = pthread_create(&w->shares[j].thread, NULL, status_share_thread,
						      &w->shares[j]) == 0;
	return 0;
}

/*
 * Splits the work tree by top-level entry among the shares (balanced by tracked files;
 * with a single entry, one share walks everything with no pathspec) and walks them side
 * by side. OPTS: show and flags for every share. REPO/INDEX: the caller's.
 */
static int status_walk_run(struct status_walk *w, git_repository *repo, git_index *index,
			   const git_oid *head, const char *root, const git_status_options *opts,
			   char **why)
{
	size_t n = 1;
	int r;

	if (w->n_shares > 1) {
		r = top_entries(repo, index, head, root, &w->top, &w->n_top);
		if (r < 0)
			return why_first(why, r, "cannot list '%s': %m", root);
		n = MIN(w->n_shares, MAX(w->n_top, (size_t) 1));
	}
	for (size_t j = 0; j < w->n_shares; j++)
		w->shares[j].opts = *opts;
	if (n > 1) {
		/* Largest first, each to the lightest share so far. */
		qsort(w->top, w->n_top, sizeof(*w->top), top_entry_by_weight);
		for (size_t i = 0; i < w->n_top; i++) {
			size_t best = 0;

			for (size_t j = 1; j < n; j++)
				if (w->shares[j].weight < w->shares[best].weight)
					best = j;
			w->top[i].share = (unsigned) best;
			w->shares[best].weight += w->top[i].weight;
			w->shares[best].opts.pathspec.count++;
		}
		for (size_t j = 0; j < n; j++) {
			w->shares[j].names = calloc(w->shares[j].opts.pathspec.count, sizeof(char *));
			if (!w->shares[j].names)
				return -ENOMEM;
			w->shares[j].opts.pathspec.strings = w->shares[j].names;
			w->shares[j].opts.pathspec.count = 0;
			/* Literal paths: a name matches itself and what lies under it. */
			w->shares[j].opts.flags |= GIT_STATUS_OPT_DISABLE_PATHSPEC_MATCH;
		}
		for (size_t i = 0; i < w->n_top; i++) {
			struct status_share *sh = &w->shares[w->top[i].share];

			sh->names[sh->opts.pathspec.count++] = w->top[i].name;
		}
	}
	status_walk_release(w, n);
	status_share_walk(&w->shares[0], repo);
	for (size_t j = 1; j < n; j++)
		if (!w->shares[j].started) {
			status_share_open(&w->shares[j]);
			if (w->shares[j].r >= 0)
				status_share_walk(&w->shares[j], w->shares[j].repo);
		}
	for (size_t j = 1; j < w->n_shares; j++)
		if (w->shares[j].started) {
			(void) pthread_join(w->shares[j].thread, NULL);
			w->shares[j].started = false;
		}
	/* Only the shares that walked count from here on. */
	for (size_t j = n; j < w->n_shares; j++) {
		if (w->shares[j].repo)
			git_repository_free(w->shares[j].repo);
		w->shares[j].repo = NULL;
	}
	w->n_shares = n;
	for (size_t j = 0; j < n; j++)
		if (w->shares[j].r < 0)
			return why_first(why, -EIO, "cannot compute the git status: %s",
					 w->shares[j].msg ? w->shares[j].msg : "out of memory");
	log_debug("git status of '%s': %zu share(s), %zu top-level entries", root, n, w->n_top);
	return 0;
}

struct dirty_entry {
	char *path;
	char rec[80]; /* kind letter + ':' + digest or marker */
};

static int dirty_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dirty_entry *) a)->path, ((const struct dirty_entry *) b)->path);
}

/*
 * The record of one dirty path: what is in the worktree now. Regular files hash their bytes
 * ('f', or 'x' when executable), symlinks their target ('l'), missing paths are 'd'.
 */
static int dirty_record(const char *root, const char *path, struct dirty_entry *e, char **why)
{
	_cleanup_free_ char *full = path_join(root, path);
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
		return why_first(why, negative_errno(), "cannot stat '%s': %m", full);
	}
	if (S_ISLNK(st.st_mode)) {
		struct kts_sha256 c;
		uint8_t d[32];

		n = readlink(full, target, sizeof(target));
		if (n < 0)
			return why_first(why, negative_errno(), "cannot read link '%s': %m", full);
		sha256_init(&c);
		sha256_update(&c, target, (size_t) n);
		sha256_final(&c, d);
		sha256_digest_to_hex(d, hex);
		(void) snprintf(e->rec, sizeof(e->rec), "l:%s", hex);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		r = sha256_file(full, hex);
		if (r < 0)
			return why_first(why, r, "cannot read '%s': %s", full, strerror(-r));
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
			   bool *cacheable, char **not_cacheable_why)
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
	(void) snprintf(e->rec, sizeof(e->rec), "s:%s", wd ? git_oid_tostr(hex, sizeof(hex), wd) : "-");
	if (git_submodule_status(&flags, repo, p, GIT_SUBMODULE_IGNORE_NONE) == 0 &&
	    (flags & (GIT_SUBMODULE_STATUS_WD_INDEX_MODIFIED | GIT_SUBMODULE_STATUS_WD_WD_MODIFIED |
		      GIT_SUBMODULE_STATUS_WD_UNTRACKED))) {
		*cacheable = false;
		if (!*not_cacheable_why &&
		    asprintf(not_cacheable_why,
			     "submodule '%s' has uncommitted changes of its own, which the state "
			     "hash does not cover", p) < 0)
			*not_cacheable_why = NULL;
	}
	return 1;
}

static int local_not_git(struct kts_local_state *s, const char *fmt, ...) _printf_(2, 3);
static int local_not_git(struct kts_local_state *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	s->git = false;
	s->cacheable = false;
	free(s->why);
	va_start(ap, fmt);
	r = vasprintf(&s->why, fmt, ap);
	va_end(ap);
	if (r < 0) {
		s->why = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Moves a finished state out (the cleanup of *s then frees nothing). */
static int local_state_take(struct kts_local_state *s, struct kts_local_state *ret)
{
	*ret = *s;
	*s = (struct kts_local_state) {};
	return 0;
}

static int local_state(const char *dir, struct kts_local_state *ret, char **why)
{
	_cleanup_(git_repository_freep) git_repository *repo = NULL;
	_cleanup_(git_status_list_freep) git_status_list *list = NULL;
	_cleanup_(git_index_freep) git_index *index = NULL;
	_cleanup_(source_local_state_done) struct kts_local_state s = { .cacheable = true };
	_cleanup_(status_walk_done) struct status_walk walk = {};
	git_status_options opts = {};
	struct dirty_entry *ents = NULL;
	size_t n_ents = 0, count, prefix_len = 0;
	char canon[PATH_MAX], root[PATH_MAX], *pathspec[1];
	const char *wd;
	git_oid head;
	struct stat st;
	int r;

	if (!realpath(dir, canon))
		return why_first(why, negative_errno(), "cannot resolve '%s': %m", dir);
	if (stat(canon, &st) < 0)
		return why_first(why, negative_errno(), "cannot stat '%s': %m", canon);
	if (!S_ISDIR(st.st_mode))
		return why_first(why, -ENOTDIR, "'%s' is not a directory", canon);

	r = git_repository_open_ext(&repo, canon, 0, NULL);
	if (r == GIT_ENOTFOUND) {
		r = local_not_git(&s, "'%s' is not in a git repository, so its content cannot be "
				  "identified", canon);
		return r < 0 ? r : local_state_take(&s, ret);
	}
	if (r < 0)
		return git_fail(why, r, "cannot open the git repository");
	wd = git_repository_workdir(repo);
	if (!wd) {
		r = local_not_git(&s, "'%s' belongs to a bare git repository", canon);
		return r < 0 ? r : local_state_take(&s, ret);
	}
	if (!realpath(wd, root))
		return why_first(why, negative_errno(), "cannot resolve '%s': %m", wd);
	s.repo_root = strdup(root);
	if (!s.repo_root)
		return -ENOMEM;
	if (!streq(root, canon)) {
		size_t l = strlen(root);

		/* The tree is a subdirectory of the repository: judge that subtree only. */
		if (strncmp(canon, root, l) != 0 || canon[l] != '/')
			return why_first(why, -EIO, "'%s' is not inside its repository '%s'", canon,
				       root);
		s.subdir = strdup(canon + l + 1);
		if (!s.subdir)
			return -ENOMEM;
		prefix_len = strlen(s.subdir);
	}

	if (git_repository_head_unborn(repo) == 1) {
		r = local_not_git(&s, "the git repository of '%s' has no commit yet", canon);
		return r < 0 ? r : local_state_take(&s, ret);
	}
	r = git_reference_name_to_id(&head, repo, "HEAD");
	if (r < 0)
		return git_fail(why, r, "cannot read HEAD");
	(void) git_oid_tostr(s.commit, sizeof(s.commit), &head);

	if (s.subdir) {
		_cleanup_free_ char *prefix = NULL;

		r = git_repository_index(&index, repo);
		if (r < 0)
			return git_fail(why, r, "cannot read the git index");
		if (asprintf(&prefix, "%s/", s.subdir) < 0)
			return -ENOMEM;
		if (git_index_find_prefix(NULL, index, prefix) == GIT_ENOTFOUND) {
			s.commit[0] = '\0';
			r = local_not_git(&s, "none of the files in '%s' are tracked by its enclosing "
					  "git repository", canon);
			return r < 0 ? r : local_state_take(&s, ret);
		}
	}

	s.git = true;
	if (!s.subdir) {
		/* The threads read their own index while this one reads its own, below. */
		r = status_walk_start(&walk, canon);
		if (r < 0)
			return r;
	}
	if (!index) {
		r = git_repository_index(&index, repo);
		if (r < 0)
			return git_fail(why, r, "cannot read the git index");
	}
	(void) git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
	opts.show = index_matches_head(repo, index, &head) ? GIT_STATUS_SHOW_WORKDIR_ONLY
							    : GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	log_debug("git status of '%s': %s", canon, opts.show == GIT_STATUS_SHOW_WORKDIR_ONLY ?
		  "the index is HEAD's tree, index to work tree only" : "HEAD, index and work tree");
	opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
		     GIT_STATUS_OPT_SORT_CASE_SENSITIVELY;
	if (s.subdir) {
		/* A subtree: one walk, limited to it. */
		pathspec[0] = s.subdir;
		opts.pathspec.strings = pathspec;
		opts.pathspec.count = 1;
		r = git_status_list_new(&list, repo, &opts);
		if (r < 0)
			return git_fail(why, r, "cannot compute the git status");
		count = git_status_list_entrycount(list);
	} else {
		r = status_walk_run(&walk, repo, index, &head, root, &opts, why);
		if (r < 0)
			return r;
		count = 0;
		for (size_t j = 0; j < walk.n_shares; j++)
			count += git_status_list_entrycount(walk.shares[j].list);
	}

	ents = calloc(count ? count : 1, sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	r = 0;
	for (size_t k = 0, j = 0, i = 0; k < count; k++, i++) {
		git_status_list *from = list;
		const git_status_entry *e;
		const git_diff_delta *d;
		const char *path;

		if (!list) {
			/* The next entry of the shares, one after the other. */
			while (i >= git_status_list_entrycount(walk.shares[j].list)) {
				j++;
				i = 0;
			}
			from = walk.shares[j].list;
		}
		e = git_status_byindex(from, i);
		if (!e || e->status == GIT_STATUS_CURRENT || (e->status & GIT_STATUS_IGNORED))
			continue;
		d = e->index_to_workdir ? e->index_to_workdir : e->head_to_index;
		if (!d)
			continue;
		path = d->new_file.path ? d->new_file.path : d->old_file.path;
		if (!path)
			continue;
		/* The pathspec is a glob; keep only what really lies under the subtree. */
		if (s.subdir && (strncmp(path, s.subdir, prefix_len) != 0 || path[prefix_len] != '/'))
			continue;

		ents[n_ents].path = strdup(path);
		if (!ents[n_ents].path) {
			r = -ENOMEM;
			break;
		}
		r = dirty_submodule(repo, path, &ents[n_ents], &s.cacheable, &s.why);
		if (r == 0 && path[strlen(path) - 1] == '/') {
			/* An untracked directory libgit2 did not descend into: a nested repository. */
			s.cacheable = false;
			if (!s.why && asprintf(&s.why, "'%s' holds a nested git repository '%s' that "
					       "is not a submodule", canon, path) < 0)
				s.why = NULL;
			(void) snprintf(ents[n_ents].rec, sizeof(ents[n_ents].rec), "n:nested");
		} else if (r == 0)
			r = dirty_record(root, path, &ents[n_ents], why);
		n_ents++;
		if (r < 0)
			break;
	}

	if (r >= 0 && n_ents > 0) {
		struct kts_sha256 c;
		uint8_t digest[32];

		qsort(ents, n_ents, sizeof(*ents), dirty_entry_cmp);
		sha256_init(&c);
		for (size_t i = 0; i < n_ents; i++) {
			/* Paths are NUL-free, so "path\0record\n" is an unambiguous encoding. */
			sha256_update(&c, ents[i].path, strlen(ents[i].path) + 1);
			sha256_update(&c, ents[i].rec, strlen(ents[i].rec));
			sha256_update(&c, "\n", 1);
		}
		sha256_final(&c, digest);
		sha256_digest_to_hex(digest, s.state);
		s.dirty = true;
		s.n_dirty = (unsigned) n_ents;
	}
	for (size_t i = 0; i < n_ents; i++)
		free(ents[i].path);
	free(ents);
	if (r < 0)
		return r;
	return local_state_take(&s, ret);
}

int source_local_state(const char *dir, struct kts_local_state *ret, char **ret_why)
{
	_cleanup_git_;
	char *why = NULL;

	if (!dir || !ret)
		return -EINVAL;
	return why_finish(local_state(dir, ret, &why), &why, ret_why);
}

static int check_kernel_tree(const char *dir, char **why)
{
	static const char *const need[] = { "Makefile", "Kconfig" };

	for (size_t i = 0; i < ELEMENTSOF(need); i++) {
		_cleanup_free_ char *p = path_join(dir, need[i]);
		struct stat st;

		if (!p)
			return -ENOMEM;
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
			return why_first(why, -ENOEXEC, "'%s' is not a kernel source tree: it has no %s",
				       dir, need[i]);
	}
	return 0;
}

static int open_local(const char *path, struct kts_source *s, char **why)
{
	_cleanup_(source_local_state_done) struct kts_local_state st = {};
	char canon[PATH_MAX];
	struct stat sb;
	int r;

	if (stat(path, &sb) < 0)
		return why_first(why, negative_errno(), "cannot access '%s': %m", path);
	if (!S_ISDIR(sb.st_mode))
		return why_first(why, -ENOTDIR, "'%s' is not a directory", path);
	if (!realpath(path, canon))
		return why_first(why, negative_errno(), "cannot resolve '%s': %m", path);
	r = check_kernel_tree(canon, why);
	if (r < 0)
		return r;
	r = local_state(canon, &st, why);
	if (r < 0)
		return r;

	s->is_temp = false;
	if (strdup_to(&s->dir, canon) < 0 || strdup_to(&s->path, canon) < 0)
		return -ENOMEM;
	(void) fsid_get(canon, &s->fs);

	s->cacheable = st.cacheable;
	s->dirty = st.dirty;
	memcpy(s->commit, st.commit, sizeof(s->commit));
	memcpy(s->state_sha256, st.state, sizeof(s->state_sha256));
	if (st.why)
		s->why = TAKE_PTR(st.why);

	if (!st.git)
		r = asprintf(&s->label, "local-nogit");
	else if (st.dirty)
		r = asprintf(&s->label, "local-%.12s-dirty-%.12s", st.commit, st.state);
	else
		r = asprintf(&s->label, "local-%.12s", st.commit);
	if (r < 0)
		return -ENOMEM;

	if (st.git) {
		/* Content, not place: the same commit and changes elsewhere are the same input. A
		 * tree inside a larger repository is also named by its subdirectory. */
		r = asprintf(&s->identity, "local %s%s%s%s%s", st.commit, st.dirty ? " dirty " : "",
			     st.dirty ? st.state : "", st.subdir ? " subdir " : "",
			     st.subdir ? st.subdir : "");
		if (r < 0)
			return -ENOMEM;
	}
	return 0;
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
		r = asprintf(&reason, "the tree changed during the build: HEAD moved from %.12s to %.12s",
			     s->commit[0] ? s->commit : "(none)", now.commit[0] ? now.commit : "(none)");
	else if (now.dirty != s->dirty || !streq(now.state, s->state_sha256))
		r = asprintf(&reason, "the tree changed during the build: its uncommitted state is "
			     "now %s (was %s)", now.dirty ? now.state : "clean",
			     s->dirty ? s->state_sha256 : "clean");
	else if (now.cacheable != s->cacheable)
		r = asprintf(&reason, "the tree changed during the build: %s",
			     now.why ? now.why : "it became cacheable");
	if (r < 0)
		return -ENOMEM;
	*ret_changed = reason != NULL;
	*ret_reason = reason;
	return 0;
}

/* ---- tarballs ------------------------------------------------------------------------------ */

/* "linux-6.12.3.tar.xz" → "6.12.3"; "linux-source-6.12.tar.xz" → "6.12"; else NULL. */
static char *tarball_version(const char *name)
{
	static const char *const exts[] = { ".tar.xz", ".tar.gz", ".tar.zst", ".tar.bz2", ".tgz",
					    ".txz", ".tar" };
	static const char *const prefixes[] = { "linux-source-", "linux-" };
	const char *base = strrchr(name, '/');
	_cleanup_free_ char *v = NULL;
	size_t n;

	base = base ? base + 1 : name;
	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
		if (!startswith(base, prefixes[i]))
			continue;
		v = strdup(base + strlen(prefixes[i]));
		if (!v)
			return NULL;
		n = strlen(v);
		for (size_t j = 0; j < ELEMENTSOF(exts); j++) {
			size_t l = strlen(exts[j]);

			if (n > l && streq(v + n - l, exts[j])) {
				v[n - l] = '\0';
				break;
			}
		}
		if (version_parse(v, NULL, NULL, NULL))
			return TAKE_PTR(v);
		free(v);
		v = NULL;
	}
	return NULL;
}

/* Sets identity, label and version of a tarball source from its hash and name. */
static int tarball_identify(struct kts_source *s, const char *name, const char *sha)
{
	_cleanup_free_ char *ver = tarball_version(name);

	memcpy(s->tarball_sha256, sha, 65);
	free(s->identity);
	free(s->label);
	s->identity = s->label = NULL;
	if (asprintf(&s->identity, "tarball %s", sha) < 0) {
		s->identity = NULL;
		return -ENOMEM;
	}
	if (ver ? asprintf(&s->label, "tar-%s-%.8s", ver, sha) < 0
		: asprintf(&s->label, "tar-%.12s", sha) < 0) {
		s->label = NULL;
		return -ENOMEM;
	}
	if (ver) {
		free(s->version);
		s->version = TAKE_PTR(ver);
	}
	return 0;
}

static int open_tarball(const char *file, struct kts_source *s, char **why)
{
	char canon[PATH_MAX], sha[65];
	struct stat st;
	int r;

	s->is_temp = true;
	s->cacheable = true;
	if (is_url(file)) {
		/* Known only after the download (source_fetch). */
		if (strdup_to(&s->url, file) < 0)
			return -ENOMEM;
		return 0;
	}
	if (stat(file, &st) < 0)
		return why_first(why, negative_errno(), "cannot access tarball '%s': %m", file);
	if (S_ISDIR(st.st_mode))
		return why_first(why, -EISDIR, "'%s' is a directory, not a tarball (use --source)",
			       file);
	if (!realpath(file, canon))
		return why_first(why, negative_errno(), "cannot resolve '%s': %m", file);
	r = sha256_file(canon, sha);
	if (r < 0)
		return why_first(why, r, "cannot read tarball '%s': %s", canon, strerror(-r));
	if (strdup_to(&s->path, canon) < 0)
		return -ENOMEM;
	return tarball_identify(s, canon, sha);
}

/*
 * Runs argv (argv[0] looked up in PATH) with stdin/stdout on /dev/null and stderr captured;
 * the last line of stderr goes into *ret_err. Returns the exit status (0..255), or -ECHILD
 * when killed by a signal, or a spawn error.
 */
static int run_capture(char *const argv[], char **ret_err)
{
	posix_spawn_file_actions_t fa;
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	char buf[4096], tail[1024] = "";
	size_t tail_len = 0;
	int fds[2], status, r;
	pid_t pid;
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return negative_errno();
	rd = fds[0];
	wr = fds[1];

	r = posix_spawn_file_actions_init(&fa);
	if (r != 0)
		return -r;
	r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, wr, 2);
	if (r == 0)
		r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	(void) posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -r;
	wr = safe_close(wr);

	/* Keep only the tail: tar may complain about every member. */
	while ((n = read(rd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (tail_len == sizeof(tail) - 1) {
				memmove(tail, tail + sizeof(tail) / 2, sizeof(tail) / 2);
				tail_len -= sizeof(tail) / 2;
			}
			tail[tail_len++] = buf[i];
		}
	}
	tail[tail_len] = '\0';

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();

	if (ret_err) {
		char *end, *last;

		while (tail_len > 0 && (tail[tail_len - 1] == '\n' || tail[tail_len - 1] == ' '))
			tail[--tail_len] = '\0';
		end = tail + tail_len;
		last = memrchr(tail, '\n', (size_t) (end - tail));
		*ret_err = strdup(last ? last + 1 : tail);
	}
	if (WIFSIGNALED(status))
		return -ECHILD;
	return WEXITSTATUS(status);
}

/*
 * Extracts file into "{workdir}/linux". A single top-level directory (linux-6.12.3/,
 * linux-source-6.12/) becomes the tree; an archive of loose files is the tree itself.
 */
static int tarball_extract(const char *file, const char *workdir, char **ret_dir, char **why)
{
	_cleanup_free_ char *dest = path_join(workdir, "linux"), *tmp = path_join(workdir, ".extract");
	_cleanup_free_ char *err = NULL, *only = NULL, *tree = NULL;
	_cleanup_(closedirp_) DIR *d = NULL;
	struct dirent *de;
	unsigned n = 0;
	int r;

	if (!dest || !tmp)
		return -ENOMEM;
	if (access(dest, F_OK) == 0)
		return why_first(why, -EEXIST, "'%s' already exists; extract into a fresh work dir",
			       dest);
	if (mkdir(tmp, 0755) < 0)
		return why_first(why, negative_errno(), "cannot create '%s': %m", tmp);

	{
		char *argv[] = { (char *) "tar", (char *) "-x", (char *) "-f", (char *) file,
				 (char *) "-C", tmp, (char *) "--no-same-owner", NULL };

		r = run_capture(argv, &err);
	}
	if (r < 0)
		return why_first(why, r == -ECHILD ? -EIO : r, "cannot run tar: %s",
			       r == -ECHILD ? "killed by a signal" : strerror(-r));
	if (r != 0)
		return why_first(why, -EIO, "tar failed to extract '%s' (exit %d): %s", file, r,
			       err && *err ? err : "no message");

	d = opendir(tmp);
	if (!d)
		return why_first(why, negative_errno(), "cannot read '%s': %m", tmp);
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		n++;
		if (n == 1 && de->d_type == DT_DIR) {
			only = strdup(de->d_name);
			if (!only)
				return -ENOMEM;
		}
	}
	if (n == 1 && only) {
		tree = path_join(tmp, only);
		if (!tree)
			return -ENOMEM;
		if (rename(tree, dest) < 0)
			return why_first(why, negative_errno(), "cannot move '%s': %m", tree);
		(void) rmdir(tmp);
	} else if (rename(tmp, dest) < 0)
		return why_first(why, negative_errno(), "cannot move '%s': %m", tmp);

	r = check_kernel_tree(dest, why);
	if (r < 0)
		return r;
	*ret_dir = TAKE_PTR(dest);
	return 0;
}

/* ---- HTTP (libcurl) ------------------------------------------------------------------------ */

struct http_sink {
	int fd;                  /* >= 0: the body goes to this file */
	char *buf;               /* else: into memory, NUL-terminated, at most SMALL_BODY_MAX */
	size_t len, cap;
	char head[64];           /* the first bytes, for HTML sniffing */
	size_t head_len;
	struct kts_sha256 sha;   /* streaming digest of what went to fd */
	int error;               /* negative errno of a failed write */
	const struct kts_fetch_opts *opts;
};

static size_t http_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_sink *k = userdata;
	size_t n = size * nmemb, c = MIN(n, sizeof(k->head) - k->head_len);

	memcpy(k->head + k->head_len, ptr, c);
	k->head_len += c;

	if (k->fd >= 0) {
		for (size_t off = 0; off < n;) {
			ssize_t w = write(k->fd, ptr + off, n - off);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				k->error = negative_errno();
				return 0; /* makes curl fail with CURLE_WRITE_ERROR */
			}
			off += (size_t) w;
		}
		sha256_update(&k->sha, ptr, n);
		return n;
	}

	if (k->len + n + 1 > SMALL_BODY_MAX) {
		k->error = -EFBIG;
		return 0;
	}
	if (k->len + n + 1 > k->cap) {
		size_t cap = MAX(k->cap * 2, k->len + n + 1);
		char *b = realloc(k->buf, cap);

		if (!b) {
			k->error = -ENOMEM;
			return 0;
		}
		k->buf = b;
		k->cap = cap;
	}
	memcpy(k->buf + k->len, ptr, n);
	k->len += n;
	k->buf[k->len] = '\0';
	return n;
}

static int http_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			 curl_off_t ulnow)
{
	struct http_sink *k = userdata;

	if (k->opts && k->opts->progress && dlnow > 0)
		k->opts->progress((uint64_t) dlnow, dltotal > 0 ? (uint64_t) dltotal : 0,
				  k->opts->userdata);
	return 0;
}

/* An HTML page (error page, captive portal, directory index) rather than data. */
static bool looks_like_html(const char *head, size_t n)
{
	size_t i = 0;

	if (n >= 3 && (unsigned char) head[0] == 0xef && (unsigned char) head[1] == 0xbb &&
	    (unsigned char) head[2] == 0xbf)
		i = 3;
	while (i < n && isspace((unsigned char) head[i]))
		i++;
	return (n - i >= 9 && strncasecmp(head + i, "<!doctype", 9) == 0) ||
	       (n - i >= 5 && strncasecmp(head + i, "<html", 5) == 0) ||
	       (n - i >= 5 && strncasecmp(head + i, "<head", 5) == 0);
}

/*
 * libcurl is loaded when the first download needs it, not at start-up. Linked, it and the
 * ~20 libraries it pulls in (TLS, HTTP/2, LDAP, Kerberos, IDN, ...) cost every ktscope
 * command ~8 ms of dynamic loading: a third of `ktscope run`'s own start-up, and of what a
 * cache hit adds to its git status. Its soname is the same on Debian, Fedora and Arch.
 */
#define KTS_LIBCURL "libcurl.so.4"
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode code);
} curl;

static void curl_easy_cleanupp(CURL **c)
{
	if (*c)
		curl.easy_cleanup(*c);
}

static int http_init(char **why)
{
	static const struct {
		const char *name;
		size_t offset;
	} syms[] = {
		{ "curl_global_init", offsetof(__typeof__(curl), global_init) },
		{ "curl_easy_init", offsetof(__typeof__(curl), easy_init) },
		{ "curl_easy_setopt", offsetof(__typeof__(curl), easy_setopt) },
		{ "curl_easy_perform", offsetof(__typeof__(curl), easy_perform) },
		{ "curl_easy_getinfo", offsetof(__typeof__(curl), easy_getinfo) },
		{ "curl_easy_cleanup", offsetof(__typeof__(curl), easy_cleanup) },
		{ "curl_easy_strerror", offsetof(__typeof__(curl), easy_strerror) },
	};
	static bool done;
	void *dl;

	if (done)
		return 0;
	dl = dlopen(KTS_LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return why_first(why, -ELIBACC, "cannot load %s for downloads: %s (install libcurl: "
				 "Debian libcurl4, Fedora libcurl, Arch curl)", KTS_LIBCURL, dlerror());
	for (size_t i = 0; i < ELEMENTSOF(syms); i++) {
		void *f = dlsym(dl, syms[i].name);

		if (!f) {
			(void) dlclose(dl);
			return why_first(why, -ELIBBAD, "%s has no %s", KTS_LIBCURL, syms[i].name);
		}
		memcpy((char *) &curl + syms[i].offset, &f, sizeof(f));
	}
	if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		(void) dlclose(dl);
		return why_first(why, -EIO, "cannot initialise libcurl");
	}
	/* Kept loaded for the life of the process, as libcurl's global state wants. */
	done = true;
	return 0;
}

/*
 * GETs url into fd (streaming, digest in k->sha) or into memory. what names the payload for
 * messages ("tarball", "releases.json"); site names the server the user configured (the mirror)
 * so connection failures say which setting to fix.
 */
static int http_get(const char *url, const char *what, const char *site, struct http_sink *k,
		    char **why)
{
	_cleanup_(curl_easy_cleanupp) CURL *c = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	const char *ctype = NULL;
	long status = 0;
	CURLcode cc;
	int r;

	r = http_init(why);
	if (r < 0)
		return r;
	c = curl.easy_init();
	if (!c)
		return -ENOMEM;

	sha256_init(&k->sha);
	(void) curl.easy_setopt(c, CURLOPT_URL, url);
	(void) curl.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	(void) curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void) curl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	(void) curl.easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	/* Bounded connect; no total timeout (a tarball may take minutes), but a stalled
	 * transfer (under 1 KiB/s for a minute) is abandoned. */
	(void) curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	(void) curl.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	(void) curl.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	(void) curl.easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	(void) curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	(void) curl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	(void) curl.easy_setopt(c, CURLOPT_PROTOCOLS,
				(long) (CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE));
	(void) curl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	(void) curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
	(void) curl.easy_setopt(c, CURLOPT_WRITEDATA, k);
	if (k->opts && k->opts->progress) {
		(void) curl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, http_progress);
		(void) curl.easy_setopt(c, CURLOPT_XFERINFODATA, k);
		(void) curl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}

	cc = curl.easy_perform(c);
	(void) curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	(void) curl.easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	log_debug("source: GET %s → %s, HTTP %ld, %s", url, curl.easy_strerror(cc), status,
		  strempty(ctype));

	switch (cc) {
	case CURLE_OK:
		break;
	case CURLE_WRITE_ERROR:
		if (k->error == -EFBIG)
			return why_first(why, -EFBIG, "%s from %s is implausibly large", what, url);
		return why_first(why, k->error < 0 ? k->error : -EIO, "cannot store %s from %s: %s",
			       what, url, strerror(k->error < 0 ? -k->error : EIO));
	case CURLE_COULDNT_CONNECT:
		return why_first(why, -ECONNREFUSED, "cannot connect to mirror '%s': %s", site,
			       *errbuf ? errbuf : curl.easy_strerror(cc));
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return why_first(why, -EHOSTUNREACH, "cannot resolve the host of mirror '%s': %s", site,
			       *errbuf ? errbuf : curl.easy_strerror(cc));
	case CURLE_OPERATION_TIMEDOUT:
		return why_first(why, -ETIMEDOUT, "mirror '%s' timed out: %s", site,
			       *errbuf ? errbuf : curl.easy_strerror(cc));
	case CURLE_FILE_COULDNT_READ_FILE:
	case CURLE_REMOTE_FILE_NOT_FOUND:
		return why_first(why, -ENOENT, "%s not found: %s", what, url);
	default:
		return why_first(why, -EIO, "cannot download %s from %s: %s", what, url,
			       *errbuf ? errbuf : curl.easy_strerror(cc));
	}

	/* status 0: file:// has no HTTP status. */
	if (status == 404 || status == 410)
		return why_first(why, -ENOENT, "%s not found: %s answered HTTP %ld", what, url, status);
	if (status != 0 && (status < 200 || status > 299))
		return why_first(why, -EIO, "cannot download %s: %s answered HTTP %ld", what, url,
			       status);
	if ((ctype && strcasestr(ctype, "text/html")) || looks_like_html(k->head, k->head_len))
		return why_first(why, -EMEDIUMTYPE, "%s answered with an HTML page instead of the %s "
			       "(is the mirror URL right?)", url, what);
	return 0;
}

static int http_get_small(const char *url, const char *what, const char *site, char **ret_body,
			  char **why)
{
	struct http_sink k = { .fd = -EBADF };
	int r;

	r = http_get(url, what, site, &k, why);
	if (r < 0) {
		free(k.buf);
		return r;
	}
	if (!k.buf) {
		k.buf = strdup("");
		if (!k.buf)
			return -ENOMEM;
	}
	*ret_body = k.buf;
	return 0;
}

/* Downloads url into path; the file is removed on failure. *ret_sha = its SHA-256. */
static int http_get_file(const char *url, const char *what, const char *site, const char *path,
			 const struct kts_fetch_opts *opts, char ret_sha[65], char **why)
{
	struct http_sink k = { .opts = opts };
	_cleanup_close_ int fd = -EBADF;
	uint8_t d[32];
	int r;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return why_first(why, negative_errno(), "cannot create '%s': %m", path);
	k.fd = fd;
	r = http_get(url, what, site, &k, why);
	if (r >= 0 && fsync(fd) < 0)
		r = why_first(why, negative_errno(), "cannot write '%s': %m", path);
	if (r < 0) {
		(void) unlink(path);
		return r;
	}
	sha256_final(&k.sha, d);
	sha256_digest_to_hex(d, ret_sha);
	return 0;
}

/* ---- releases ------------------------------------------------------------------------------ */

static const char *fetch_mirror(const struct kts_fetch_opts *o)
{
	const char *m = o && o->mirror && *o->mirror ? o->mirror
						     : getenv_nonempty("KTSCOPE_KERNEL_MIRROR");

	return m ? m : SOURCE_DEFAULT_MIRROR;
}

/* The mirror without trailing slashes. Caller frees. */
static char *mirror_base(const struct kts_fetch_opts *o)
{
	char *m = strdup(fetch_mirror(o));
	size_t n;

	if (!m)
		return NULL;
	for (n = strlen(m); n > 0 && m[n - 1] == '/'; n--)
		m[n - 1] = '\0';
	return m;
}

static char *releases_url(const struct kts_fetch_opts *o)
{
	_cleanup_free_ char *m = NULL;
	char *u = NULL;

	if (o && o->releases_url && *o->releases_url)
		return strdup(o->releases_url);
	/* A configured mirror serves its own releases.json; kernel.org's CDN does not. */
	if (!(o && o->mirror && *o->mirror) && !getenv_nonempty("KTSCOPE_KERNEL_MIRROR"))
		return strdup(SOURCE_DEFAULT_RELEASES_URL);
	m = mirror_base(o);
	if (!m || asprintf(&u, "%s/releases.json", m) < 0)
		return NULL;
	return u;
}

static int version_major(const char *version, unsigned long *ret)
{
	unsigned long v[3];

	if (!version_parse(version, v, NULL, NULL))
		return -EINVAL;
	*ret = v[0];
	return 0;
}

int source_release_url(const char *version, const struct kts_fetch_opts *opts, char **ret)
{
	_cleanup_free_ char *m = NULL;
	unsigned long major;
	char *u;

	if (!version || !ret || version_major(version, &major) < 0)
		return -EINVAL;
	m = mirror_base(opts);
	if (!m || asprintf(&u, "%s/v%lu.x/linux-%s.tar.xz", m, major, version) < 0)
		return -ENOMEM;
	*ret = u;
	return 0;
}

static char *sums_url(const char *version, const struct kts_fetch_opts *opts)
{
	_cleanup_free_ char *m = mirror_base(opts);
	unsigned long major;
	char *u;

	if (!m || version_major(version, &major) < 0 ||
	    asprintf(&u, "%s/v%lu.x/sha256sums.asc", m, major) < 0)
		return NULL;
	return u;
}

/* Is a newer than b? (3-tuples; rc versions are never compared here.) */
static bool version_newer(const unsigned long a[3], const unsigned long b[3])
{
	for (int i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return false;
}

/* "6.12" matches "6.12" and "6.12.N"; never rc versions. */
static bool version_in_series(const char *version, const char *prefix, unsigned long ret[3])
{
	unsigned long rc;
	size_t n = strlen(prefix);

	if (strncmp(version, prefix, n) != 0 || (version[n] != '\0' && version[n] != '.'))
		return false;
	return version_parse(version, ret, &rc, NULL) && rc == 0;
}

/*
 * Finds "linux-{version}.tar.xz" in a sha256sums.asc body ("<64 hex>  <name>" lines; the PGP
 * armour around them is ignored). With series set instead, returns the newest version of that
 * series listed (for EOL series that releases.json no longer carries).
 */
static int sums_lookup(const char *body, const char *version, const char *series, char ret_sha[65],
		       char **ret_version)
{
	unsigned long best[3] = {}, v[3];
	_cleanup_free_ char *best_name = NULL;
	char best_sha[65] = "";
	const char *line = body;

	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t) (eol - line) : strlen(line);
		char hash[65], name[256];

		if (len < sizeof(name) + 66 &&
		    sscanf(line, "%64[0-9a-fA-F] %255s", hash, name) == 2 && strlen(hash) == 64 &&
		    startswith(name, "linux-") && strlen(name) > 13 &&
		    streq(name + strlen(name) - 7, ".tar.xz")) {
			_cleanup_free_ char *ver = strndup(name + 6, strlen(name) - 13);

			if (!ver)
				return -ENOMEM;
			for (char *p = hash; *p; p++)
				*p = (char) tolower((unsigned char) *p);
			if (version && streq(ver, version)) {
				memcpy(ret_sha, hash, 65);
				return 0;
			}
			if (series && version_in_series(ver, series, v) &&
			    (!best_name || version_newer(v, best))) {
				memcpy(best, v, sizeof(best));
				memcpy(best_sha, hash, 65);
				free(best_name);
				best_name = TAKE_PTR(ver);
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	if (series && best_name) {
		memcpy(ret_sha, best_sha, 65);
		*ret_version = TAKE_PTR(best_name);
		return 0;
	}
	return -ENOENT;
}

static void json_object_putp(struct json_object **j)
{
	if (*j)
		(void) json_object_put(*j);
}

static const char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int resolve_from_json(const char *body, const char *url, const char *spec, char **ret,
			     char **why)
{
	_cleanup_(json_object_putp) struct json_object *root = NULL;
	struct json_object *rels = NULL, *latest = NULL;
	enum json_tokener_error jerr = json_tokener_success;
	const char *found = NULL;
	unsigned long best[3] = {}, v[3];
	char *s;

	root = json_tokener_parse_verbose(body, &jerr);
	if (!root || !json_object_is_type(root, json_type_object))
		return why_first(why, -EPROTO, "%s is not valid JSON: %s", url,
			       root ? "not an object" : json_tokener_error_desc(jerr));

	if (streq(spec, "stable")) {
		(void) json_object_object_get_ex(root, "latest_stable", &latest);
		found = json_str(latest, "version");
		if (!found)
			return why_first(why, -EPROTO, "%s has no latest_stable.version", url);
	} else {
		if (!json_object_object_get_ex(root, "releases", &rels) ||
		    !json_object_is_type(rels, json_type_array))
			return why_first(why, -EPROTO, "%s has no releases array", url);
		for (size_t i = 0; i < json_object_array_length(rels); i++) {
			struct json_object *e = json_object_array_get_idx(rels, i);
			const char *moniker = json_str(e, "moniker"), *ver = json_str(e, "version");

			if (!moniker || !ver || streq(moniker, "linux-next"))
				continue;
			if (streq(spec, "mainline")) {
				if (streq(moniker, "mainline")) {
					found = ver;
					break;
				}
			} else if (version_in_series(ver, spec, v) && (!found || version_newer(v, best))) {
				memcpy(best, v, sizeof(best));
				found = ver;
			}
		}
		if (!found)
			return why_first(why, -ENOENT, streq(spec, "mainline")
						     ? "%s lists no mainline release%s"
						     : "%s lists no %s.y release", url,
				       streq(spec, "mainline") ? "" : spec);
	}
	if (!version_parse(found, NULL, NULL, NULL))
		return why_first(why, -EPROTO, "%s names a malformed version '%s'", url, found);
	s = strdup(found);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int release_resolve(const char *spec, const struct kts_fetch_opts *opts, char **ret,
			   char **why)
{
	_cleanup_free_ char *url = NULL, *body = NULL, *sums = NULL, *sbody = NULL, *ver = NULL;
	_cleanup_free_ char *json_why = NULL;
	unsigned long v[3], rc;
	unsigned segs;
	bool mirror_set;
	char sha[65];
	int r;

	if (!source_is_release_spec(spec))
		return why_first(why, -EINVAL, "'%s' is not a kernel release (6.12.3, 6.12, stable, "
			       "mainline)", spec);
	if (version_parse(spec, v, &rc, &segs) && (segs == 3 || rc > 0)) {
		ver = strdup(spec);
		if (!ver)
			return -ENOMEM;
		*ret = TAKE_PTR(ver);
		return 0;
	}

	url = releases_url(opts);
	if (!url)
		return -ENOMEM;
	/* Connection errors name the setting to fix: the mirror when one is configured. */
	mirror_set = (opts && opts->mirror && *opts->mirror) || getenv_nonempty("KTSCOPE_KERNEL_MIRROR");
	r = http_get_small(url, "releases.json",
			   mirror_set && !(opts && opts->releases_url) ? fetch_mirror(opts) : url,
			   &body, why);
	if (r < 0)
		return r;
	r = resolve_from_json(body, url, spec, &ver, &json_why);
	if (r >= 0) {
		*ret = TAKE_PTR(ver);
		return 0;
	}
	if (r != -ENOENT || !version_parse(spec, NULL, NULL, NULL))
		return why_first(why, r, "%s", json_why ? json_why : "cannot resolve the release");

	/* An end-of-life series is gone from releases.json, but its tarballs are still listed
	 * in the mirror's checksum file. */
	sums = sums_url(spec, opts);
	if (!sums)
		return -ENOMEM;
	if (http_get_small(sums, "checksum list", fetch_mirror(opts), &sbody, NULL) < 0 ||
	    sums_lookup(sbody, NULL, spec, sha, &ver) < 0)
		return why_first(why, -ENOENT, "release %s.y not found: not in %s nor in %s", spec,
			       url, sums);
	*ret = TAKE_PTR(ver);
	return 0;
}

int source_release_resolve(const char *spec, const struct kts_fetch_opts *opts, char **ret_version,
			   char **ret_why)
{
	char *why = NULL;

	if (!spec || !ret_version)
		return -EINVAL;
	return why_finish(release_resolve(spec, opts, ret_version, &why), &why, ret_why);
}

static bool version_is_rc(const char *v)
{
	return strstr(v, "-rc") != NULL;
}

static int open_release(const char *spec, const struct kts_fetch_opts *opts, struct kts_source *s,
			char **why)
{
	_cleanup_free_ char *ver = NULL, *sums = NULL, *body = NULL;
	int r;

	r = release_resolve(spec, opts, &ver, why);
	if (r < 0)
		return r;
	s->is_temp = true;
	s->cacheable = true;
	if (strdup_to(&s->label, ver) < 0)
		return -ENOMEM;

	if (version_is_rc(ver)) {
		/* Release candidates are not on the CDN nor in its checksum list; kernel.org
		 * serves them as git snapshots. Identity comes from the downloaded bytes. */
		if (asprintf(&s->url, "https://git.kernel.org/torvalds/t/linux-%s.tar.gz", ver) < 0) {
			s->url = NULL;
			return -ENOMEM;
		}
		s->version = TAKE_PTR(ver);
		return 0;
	}

	r = source_release_url(ver, opts, &s->url);
	if (r < 0)
		return r;
	sums = sums_url(ver, opts);
	if (!sums)
		return -ENOMEM;
	r = http_get_small(sums, "checksum list", fetch_mirror(opts), &body, why);
	if (r == -ENOENT)
		return why_first(why, r, "version %s not found: no checksum list at %s", ver, sums);
	if (r < 0)
		return r;
	if (sums_lookup(body, ver, NULL, s->tarball_sha256, NULL) < 0)
		return why_first(why, -ENOENT, "version %s not found: linux-%s.tar.xz is not listed in %s",
			       ver, ver, sums);
	if (asprintf(&s->identity, "release %s %s", ver, s->tarball_sha256) < 0) {
		s->identity = NULL;
		return -ENOMEM;
	}
	s->version = TAKE_PTR(ver);
	return 0;
}

static int fetch_release(struct kts_source *s, const char *workdir,
			 const struct kts_fetch_opts *opts, char **why)
{
	_cleanup_free_ char *file = NULL;
	const char *base = strrchr(s->url, '/');
	char sha[65];
	int r;

	file = path_join(workdir, base ? base + 1 : "linux.tar");
	if (!file)
		return -ENOMEM;
	r = http_get_file(s->url, "tarball", fetch_mirror(opts), file, opts, sha, why);
	if (r == -ENOENT)
		return why_first(why, r, "version %s not found: %s answered 404", s->version, s->url);
	if (r < 0)
		return r;

	if (s->tarball_sha256[0]) {
		if (!streq(sha, s->tarball_sha256)) {
			(void) unlink(file);
			return why_first(why, -EBADMSG, "checksum mismatch for %s: the mirror lists %s, "
				       "the download has %s; the file was removed", s->url,
				       s->tarball_sha256, sha);
		}
	} else {
		memcpy(s->tarball_sha256, sha, sizeof(sha));
		if (asprintf(&s->identity, "release %s %s", s->version, sha) < 0) {
			s->identity = NULL;
			return -ENOMEM;
		}
	}
	r = tarball_extract(file, workdir, &s->dir, why);
	(void) unlink(file); /* the tree is what we keep; the caller removes workdir anyway */
	return r;
}

static int fetch_tarball(struct kts_source *s, const char *workdir,
			 const struct kts_fetch_opts *opts, char **why)
{
	_cleanup_free_ char *file = NULL;
	const char *base;
	char sha[65];
	int r;

	if (!s->path) {
		/* A URL: download first, then it is an ordinary tarball. */
		base = strrchr(s->url, '/');
		file = path_join(workdir, base && base[1] ? base + 1 : "download.tar");
		if (!file)
			return -ENOMEM;
		r = http_get_file(s->url, "tarball", s->url, file, opts, sha, why);
		if (r < 0)
			return r;
		r = tarball_identify(s, file, sha);
		if (r < 0)
			return r;
		r = tarball_extract(file, workdir, &s->dir, why);
		(void) unlink(file);
		return r;
	}
	return tarball_extract(s->path, workdir, &s->dir, why);
}

/* ---- git remotes --------------------------------------------------------------------------- */

static void free_want(char *(*v)[3])
{
	for (size_t i = 0; i < ELEMENTSOF(*v); i++)
		free((*v)[i]);
}

/*
 * Asks the remote which commit REF names (like git ls-remote): "refs/..." as given, then
 * refs/heads/REF, then refs/tags/REF (peeled to its commit). -ENOENT when none matches, which
 * for a hex REF means "maybe a commit id": the caller then fetches everything.
 */
static int git_ls_ref(const char *url, const char *ref, git_oid *ret_oid, char **ret_name,
		      char **why)
{
	_cleanup_(git_remote_freep) git_remote *remote = NULL;
	git_remote_callbacks cb = {};
	const git_remote_head **heads;
	_cleanup_(free_want) char *want[3] = {};
	size_t n;
	int r;

	(void) git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	r = git_remote_create_detached(&remote, url);
	if (r < 0)
		return git_fail(why, r, "invalid git URL");
	r = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL);
	if (r < 0)
		return git_fail(why, r, "cannot reach the git remote");
	r = git_remote_ls(&heads, &n, remote);
	if (r < 0)
		return git_fail(why, r, "cannot list the git remote's refs");

	if (startswith(ref, "refs/") || streq(ref, "HEAD"))
		want[0] = strdup(ref);
	else if (asprintf(&want[1], "refs/heads/%s", ref) < 0 ||
		 asprintf(&want[2], "refs/tags/%s", ref) < 0)
		return -ENOMEM;

	for (size_t w = 0; w < ELEMENTSOF(want); w++) {
		const git_remote_head *hit = NULL, *peeled = NULL;
		_cleanup_free_ char *peeled_name = NULL;

		if (!want[w])
			continue;
		if (asprintf(&peeled_name, "%s^{}", want[w]) < 0)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			if (streq(heads[i]->name, want[w]))
				hit = heads[i];
			else if (streq(heads[i]->name, peeled_name))
				peeled = heads[i];
		}
		if (!hit)
			continue;
		git_oid_cpy(ret_oid, peeled ? &peeled->oid : &hit->oid);
		*ret_name = TAKE_PTR(want[w]);
		git_remote_disconnect(remote);
		return 0;
	}
	git_remote_disconnect(remote);
	return -ENOENT;
}

static int open_git(const char *url, const char *ref, struct kts_source *s, char **why)
{
	_cleanup_free_ char *name = NULL;
	git_oid oid;
	int r;

	s->is_temp = true;
	s->cacheable = true;
	if (strdup_to(&s->url, url) < 0 || strdup_to(&s->ref, ref) < 0)
		return -ENOMEM;

	r = git_ls_ref(url, ref, &oid, &name, why);
	if (r == -ENOENT && is_hex(ref, 4, GIT_OID_HEXSZ)) {
		/* A commit id: a full one is its own identity; an abbreviated one is known only
		 * after the fetch. */
		if (strlen(ref) == GIT_OID_HEXSZ) {
			for (size_t i = 0; i < GIT_OID_HEXSZ; i++)
				s->commit[i] = (char) tolower((unsigned char) ref[i]);
			s->commit[GIT_OID_HEXSZ] = '\0';
		}
	} else if (r == -ENOENT)
		return why_first(why, r, "'%s' is neither a branch, a tag nor a commit id of %s", ref,
			       url);
	else if (r < 0)
		return r;
	else
		(void) git_oid_tostr(s->commit, sizeof(s->commit), &oid);

	if (s->commit[0]) {
		if (asprintf(&s->identity, "git %s", s->commit) < 0 ||
		    asprintf(&s->label, "git-%.12s", s->commit) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int git_open_or_init(const char *dir, git_repository **ret, char **why)
{
	int r;

	r = git_repository_open_ext(ret, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (r == 0)
		return 0;
	if (r != GIT_ENOTFOUND)
		return git_fail(why, r, "cannot open the work repository");
	r = git_repository_init(ret, dir, /* is_bare= */ 0);
	if (r < 0)
		return git_fail(why, r, "cannot create the work repository");
	return 0;
}

static int fetch_git(struct kts_source *s, const char *workdir, char **why)
{
	_cleanup_(git_repository_freep) git_repository *repo = NULL;
	_cleanup_(git_remote_freep) git_remote *remote = NULL;
	_cleanup_(git_object_freep) git_object *obj = NULL, *commit = NULL;
	_cleanup_free_ char *dir = path_join(workdir, "linux"), *name = NULL, *spec1 = NULL;
	git_fetch_options fo = {};
	git_checkout_options co = {};
	char *specs[2];
	git_strarray refspecs = { .strings = specs };
	git_oid oid;
	char hex[GIT_OID_HEXSZ + 1];
	int r;

	if (!dir)
		return -ENOMEM;
	(void) git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	(void) git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return why_first(why, negative_errno(), "cannot create '%s': %m", dir);
	r = git_open_or_init(dir, &repo, why);
	if (r < 0)
		return r;

	/* A named ref: fetch just it (shallow where libgit2 can). A commit id: fetch all
	 * branches and tags, then look the commit up. */
	r = git_ls_ref(s->url, s->ref, &oid, &name, why);
	if (r >= 0) {
		if (asprintf(&spec1, "+%s:refs/ktscope/want", name) < 0)
			return -ENOMEM;
		specs[0] = spec1;
		refspecs.count = 1;
#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 7)
		fo.depth = 1;
#endif
	} else if (r == -ENOENT && is_hex(s->ref, 4, GIT_OID_HEXSZ)) {
		specs[0] = (char *) "+refs/heads/*:refs/ktscope/heads/*";
		specs[1] = (char *) "+refs/tags/*:refs/ktscope/tags/*";
		refspecs.count = 2;
	} else if (r == -ENOENT)
		return why_first(why, r, "'%s' is neither a branch, a tag nor a commit id of %s", s->ref,
			       s->url);
	else
		return r;

	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	r = git_remote_create_anonymous(&remote, repo, s->url);
	if (r < 0)
		return git_fail(why, r, "invalid git URL");
	r = git_remote_fetch(remote, &refspecs, &fo, NULL);
	if (r < 0)
		return git_fail(why, r, "git fetch failed");

	if (refspecs.count == 1)
		r = git_revparse_single(&obj, repo, "refs/ktscope/want");
	else
		r = git_revparse_single(&obj, repo, s->ref);
	if (r < 0)
		return r == GIT_ENOTFOUND || r == GIT_EAMBIGUOUS
			       ? why_first(why, -ENOENT, "commit '%s' is not on any branch or tag of %s",
					 s->ref, s->url)
			       : git_fail(why, r, "cannot resolve the fetched ref");
	r = git_object_peel(&commit, obj, GIT_OBJECT_COMMIT);
	if (r < 0)
		return git_fail(why, r, "the ref does not name a commit");
	(void) git_oid_tostr(hex, sizeof(hex), git_object_id(commit));
	if (refspecs.count == 2) {
		/* revparse also accepts "describe" output and the like; only a commit whose id
		 * starts with REF is what the user asked for. */
		size_t l = strlen(s->ref);

		if (strncasecmp(hex, s->ref, l) != 0)
			return why_first(why, -ENOENT, "'%s' resolves to %s, not to a commit with that "
				       "id", s->ref, hex);
	}

	co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
	r = git_checkout_tree(repo, commit, &co);
	if (r < 0)
		return git_fail(why, r, "git checkout failed");
	r = git_repository_set_head_detached(repo, git_object_id(commit));
	if (r < 0)
		return git_fail(why, r, "cannot set HEAD");

	r = check_kernel_tree(dir, why);
	if (r < 0)
		return r;
	if (s->commit[0] && !streq(s->commit, hex))
		/* The branch moved between ls-remote and fetch: the fetched commit is what we
		 * build, so it is what we name. */
		log_debug("source: %s moved from %s to %s while fetching", s->ref, s->commit, hex);
	memcpy(s->commit, hex, sizeof(hex));
	free(s->identity);
	free(s->label);
	s->identity = s->label = NULL;
	if (asprintf(&s->identity, "git %s", hex) < 0 || asprintf(&s->label, "git-%.12s", hex) < 0)
		return -ENOMEM;
	free(s->dir);
	s->dir = TAKE_PTR(dir);
	return 0;
}

/* ---- entry points -------------------------------------------------------------------------- */

int source_open(const struct kts_source_spec *spec, const struct kts_fetch_opts *opts,
		struct kts_source **ret, char **ret_why)
{
	_cleanup_git_;
	_cleanup_source_ struct kts_source *s = NULL;
	char *why = NULL;
	int r;

	if (!spec || !ret)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kind = spec->kind;

	switch (spec->kind) {
	case KTS_SOURCE_LOCAL:
		r = spec->path ? open_local(spec->path, s, &why) : -EINVAL;
		break;
	case KTS_SOURCE_TARBALL:
		r = spec->path ? open_tarball(spec->path, s, &why) : -EINVAL;
		break;
	case KTS_SOURCE_RELEASE:
		r = spec->version ? open_release(spec->version, opts, s, &why) : -EINVAL;
		break;
	case KTS_SOURCE_GIT:
		r = spec->url && spec->ref ? open_git(spec->url, spec->ref, s, &why) : -EINVAL;
		break;
	default:
		r = -EINVAL;
	}
	if (r < 0)
		return why_finish(r, &why, ret_why);
	free(why);
	*ret = TAKE_PTR(s);
	return 0;
}

int source_fetch(struct kts_source *s, const char *workdir, const struct kts_fetch_opts *opts,
		 char **ret_why)
{
	_cleanup_git_;
	char *why = NULL;
	int r;

	if (!s)
		return -EINVAL;
	if (s->kind == KTS_SOURCE_LOCAL)
		return 0;
	if (!workdir)
		return -EINVAL;

	switch (s->kind) {
	case KTS_SOURCE_TARBALL:
		r = fetch_tarball(s, workdir, opts, &why);
		break;
	case KTS_SOURCE_RELEASE:
		r = fetch_release(s, workdir, opts, &why);
		break;
	case KTS_SOURCE_GIT:
		r = fetch_git(s, workdir, &why);
		break;
	default:
		r = -EINVAL;
	}
	return why_finish(r, &why, ret_why);
}
