/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The threaded git status walk of a whole repository's work tree (source-local.c uses it).
 *
 * The work-tree half of a status walk is a stat of every tracked file and a read of every
 * directory: ~86,000 and ~6,000 on a kernel tree, which git spreads over threads (its
 * preload-index) and libgit2 does not. So a walk of a whole repository is split into shares
 * by top-level entry, each walked by its own thread with its own repository object (libgit2
 * objects are not shared between threads), balanced by the number of tracked files.
 * The result never depends on the number of threads (source_set_status_threads()).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "log.h"
#include "source-libgit2.h"

/* 0 = one per allowed CPU, at most STATUS_THREADS_MAX. */
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

/* ---- the top-level entries a walk is split by -------------------------------------------- */

struct top_entry {
	char *name;
	size_t weight; /* tracked files under it (1 for an untracked entry) */
	unsigned share;
};

struct top_entries {
	struct top_entry *t;
	size_t n, alloc;
	size_t n_sorted; /* the first n_sorted are sorted by name, with no duplicates */
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

static void top_entries_done(struct top_entries *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->t[i].name);
	free(e->t);
	*e = (struct top_entries){};
}

static int top_entry_add(struct top_entries *e, const char *name, size_t len, size_t weight)
{
	if (e->n == e->alloc) {
		size_t a = e->alloc ? e->alloc * 2 : 64;
		struct top_entry *nt = reallocarray(e->t, a, sizeof(*e->t));

		if (!nt)
			return -ENOMEM;
		e->t = nt;
		e->alloc = a;
	}
	e->t[e->n] = (struct top_entry){ .name = strndup(name, len), .weight = weight };
	if (!e->t[e->n].name)
		return -ENOMEM;
	e->n++;
	return 0;
}

/* Adds NAME (weight 1) unless it is there already. */
static int top_entry_add_new(struct top_entries *e, const char *name)
{
	struct top_entry key = { .name = (char *) name };

	if (bsearch(&key, e->t, e->n_sorted, sizeof(*e->t), top_entry_by_name))
		return 0;
	for (size_t i = e->n_sorted; i < e->n; i++)
		if (streq(e->t[i].name, name))
			return 0;
	return top_entry_add(e, name, strlen(name), 1);
}

/* The first path component of every index entry, weighted by the entries under it. */
static int top_entries_tracked(git_index *index, struct top_entries *e)
{
	size_t count = git_index_entrycount(index), n;
	int r = 0;

	/* The index is sorted, so each component's entries are adjacent. */
	for (size_t i = 0; i < count && r >= 0; i++) {
		const git_index_entry *ie = git_index_get_byindex(index, i);
		struct top_entry *last = e->n > 0 ? &e->t[e->n - 1] : NULL;
		size_t len;

		if (!ie)
			continue;
		len = strcspn(ie->path, "/");
		if (last && strlen(last->name) == len && memcmp(last->name, ie->path, len) == 0)
			last->weight++;
		else
			r = top_entry_add(e, ie->path, len, 1);
	}
	if (r < 0)
		return r;
	/* Conflict stages repeat a path, so a name can appear twice: sort and fold. */
	qsort(e->t, e->n, sizeof(*e->t), top_entry_by_name);
	n = 0;
	for (size_t i = 0; i < e->n; i++) {
		if (n > 0 && streq(e->t[n - 1].name, e->t[i].name)) {
			e->t[n - 1].weight += e->t[i].weight;
			free(e->t[i].name);
			continue;
		}
		e->t[n++] = e->t[i];
	}
	e->n = e->n_sorted = n;
	return 0;
}

/* The entries of HEAD's tree: a path removed from the index is still a change. */
static int top_entries_head(git_repository *repo, const git_oid *head, struct top_entries *e)
{
	_cleanup_(git_commit_freep) git_commit *commit = NULL;
	_cleanup_(git_tree_freep) git_tree *tree = NULL;
	int r = 0;

	if (git_commit_lookup(&commit, repo, head) < 0 || git_commit_tree(&tree, commit) < 0)
		return -EIO;
	for (size_t i = 0; i < git_tree_entrycount(tree) && r >= 0; i++)
		r = top_entry_add_new(e, git_tree_entry_name(git_tree_entry_byindex(tree, i)));
	return r;
}

/* Whatever else the top directory holds (untracked entries); ".git" is never one. */
static int top_entries_dir(const char *root, struct top_entries *e)
{
	_cleanup_closedir_ DIR *d = opendir(root);
	struct dirent *de;
	int r;

	if (!d)
		return negative_errno();
	while ((errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, ".git"))
			continue;
		r = top_entry_add_new(e, de->d_name);
		if (r < 0)
			return r;
	}
	return errno != 0 ? negative_errno() : 0;
}

/* The top-level entries of the repository whose work tree is root. */
static int top_entries(git_repository *repo, git_index *index, const git_oid *head,
		       const char *root, struct top_entries *ret)
{
	struct top_entries e = {};
	int r;

	r = top_entries_tracked(index, &e);
	if (r >= 0)
		r = top_entries_head(repo, head, &e);
	if (r >= 0)
		r = top_entries_dir(root, &e);
	if (r < 0) {
		top_entries_done(&e);
		return r;
	}
	*ret = e;
	return 0;
}

/* ---- shares and their threads ------------------------------------------------------------ */

/*
 * One share of a status walk. Share 0 is walked by the calling thread with the caller's
 * repository; every other share has a thread of its own, started before the caller reads
 * the index, so that each thread's own index read (~170 ms on a kernel tree: libgit2
 * parses every entry) happens while the caller reads its own. The thread then waits for
 * its share (go) or for being told it is not needed (quit).
 */
struct status_share {
	struct source_status_walk *walk;
	git_status_options opts; /* pathspec: the share's top-level entries, literally */
	char **names;
	size_t weight;
	git_repository *repo; /* a thread's own; NULL for share 0 */
	git_status_list *list;
	int r;
	char *msg; /* libgit2's message when r < 0: its errors are per thread */
	pthread_t thread;
	bool started, go, quit;
};

struct source_status_walk {
	char *open_path; /* what the caller's git_repository_open_ext() was given */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool sync_ready;
	struct status_share *shares;
	size_t n_shares;
	struct top_entries top;
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
	struct source_status_walk *w = sh->walk;
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
static void status_walk_release(struct source_status_walk *w, size_t n_go)
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

void source_status_walk_free(struct source_status_walk *w)
{
	if (!w)
		return;
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
	top_entries_done(&w->top);
	if (w->sync_ready) {
		(void) pthread_cond_destroy(&w->cond);
		(void) pthread_mutex_destroy(&w->lock);
	}
	free(w->open_path);
	free(w);
}

/* Starts the threads of shares 1..n-1; one that cannot start leaves its share to the caller
 * (source_status_walk_run()). */
static void status_walk_start_threads(struct source_status_walk *w)
{
	if (pthread_mutex_init(&w->lock, NULL) != 0)
		return;
	if (pthread_cond_init(&w->cond, NULL) != 0) {
		(void) pthread_mutex_destroy(&w->lock);
		return;
	}
	w->sync_ready = true;
	for (size_t j = 1; j < w->n_shares; j++)
		w->shares[j].started = pthread_create(&w->shares[j].thread, NULL,
						      status_share_thread, &w->shares[j]) == 0;
}

int source_status_walk_new(const char *open_path, struct source_status_walk **ret)
{
	struct source_status_walk *w;
	size_t n = status_threads();

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->open_path = strdup(open_path);
	w->shares = calloc(n, sizeof(*w->shares));
	if (!w->open_path || !w->shares) {
		source_status_walk_free(w);
		return -ENOMEM;
	}
	w->n_shares = n;
	for (size_t j = 0; j < n; j++)
		w->shares[j].walk = w;
	if (n > 1)
		status_walk_start_threads(w);
	*ret = w;
	return 0;
}

/*
 * Gives the top-level entries to the first n shares, largest first, each to the lightest
 * share so far; each share's pathspec then names its entries literally.
 */
static int status_walk_assign(struct source_status_walk *w, size_t n)
{
	struct top_entries *top = &w->top;

	qsort(top->t, top->n, sizeof(*top->t), top_entry_by_weight);
	for (size_t i = 0; i < top->n; i++) {
		size_t best = 0;

		for (size_t j = 1; j < n; j++)
			if (w->shares[j].weight < w->shares[best].weight)
				best = j;
		top->t[i].share = (unsigned) best;
		w->shares[best].weight += top->t[i].weight;
		w->shares[best].opts.pathspec.count++;
	}
	for (size_t j = 0; j < n; j++) {
		struct status_share *sh = &w->shares[j];

		sh->names = calloc(sh->opts.pathspec.count, sizeof(char *));
		if (!sh->names)
			return -ENOMEM;
		sh->opts.pathspec.strings = sh->names;
		sh->opts.pathspec.count = 0;
		/* Literal paths: a name matches itself and what lies under it. */
		sh->opts.flags |= GIT_STATUS_OPT_DISABLE_PATHSPEC_MATCH;
	}
	for (size_t i = 0; i < top->n; i++) {
		struct status_share *sh = &w->shares[top->t[i].share];

		sh->names[sh->opts.pathspec.count++] = top->t[i].name;
	}
	return 0;
}

/* Walks share 0 here and shares 1..n-1 in their threads (or here, when a thread did not
 * start); ends the threads of shares n.. unused. */
static void status_walk_shares(struct source_status_walk *w, git_repository *repo, size_t n)
{
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
}

int source_status_walk_run(struct source_status_walk *w, git_repository *repo, git_index *index,
			   const git_oid *head, const char *root, const git_status_options *opts,
			   char **why)
{
	size_t n = 1;
	int r;

	if (w->n_shares > 1) {
		r = top_entries(repo, index, head, root, &w->top);
		if (r < 0)
			return source_why_first(why, r, "cannot list '%s': %m", root);
		n = MIN(w->n_shares, MAX(w->top.n, (size_t) 1));
	}
	for (size_t j = 0; j < w->n_shares; j++)
		w->shares[j].opts = *opts;
	if (n > 1) {
		r = status_walk_assign(w, n);
		if (r < 0)
			return r;
	}
	status_walk_shares(w, repo, n);
	for (size_t j = 0; j < n; j++)
		if (w->shares[j].r < 0)
			return source_why_first(why, -EIO, "cannot compute the git status: %s",
						w->shares[j].msg ? w->shares[j].msg
								 : "out of memory");
	log_debug("git status of '%s': %zu share(s), %zu top-level entries", root, n, w->top.n);
	return 0;
}

size_t source_status_walk_n_lists(const struct source_status_walk *w)
{
	return w->n_shares;
}

git_status_list *source_status_walk_list(const struct source_status_walk *w, size_t i)
{
	return i < w->n_shares ? w->shares[i].list : NULL;
}
