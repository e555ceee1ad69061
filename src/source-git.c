/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * git sources (source.h, "git"): which commit URL#REF names, asked of the remote like
 * `git ls-remote`; fetching just that ref (or every branch and tag, for a commit id) into a
 * work repository with libgit2, checking the commit out and naming the source by it. Also
 * what the other files share of libgit2: its reference count and its errors as negative
 * errno (source_git_fail()).
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "source-libgit2.h"

/*
 * libgit2 is initialised on first use inside a reference (source_libgit2_load() calls
 * source_git_use()), not by the reference itself: a tree the git program answers for never
 * maps libgit2. The last reference to go shuts it down again. Threads of the status walk
 * use libgit2 inside their caller's reference.
 */
static pthread_mutex_t git_refs_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned git_refs;
static bool git_inited;

int source_git_ref(void)
{
	(void) pthread_mutex_lock(&git_refs_lock);
	git_refs++;
	(void) pthread_mutex_unlock(&git_refs_lock);
	return 1;
}

void source_git_use(void)
{
	(void) pthread_mutex_lock(&git_refs_lock);
	if (git_refs > 0 && !git_inited)
		git_inited = git_libgit2_init() >= 0;
	(void) pthread_mutex_unlock(&git_refs_lock);
}

void source_git_unrefp(int *ref)
{
	if (*ref <= 0)
		return;
	(void) pthread_mutex_lock(&git_refs_lock);
	if (--git_refs == 0 && git_inited) {
		(void) git_libgit2_shutdown();
		git_inited = false;
	}
	(void) pthread_mutex_unlock(&git_refs_lock);
}

int source_git_fail(char **why, int r, const char *what)
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
	return source_why_first(why, err, "%s: %s", what,
				e && e->message ? e->message : "libgit2 error");
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

static void free_want(char *(*v)[3])
{
	for (size_t i = 0; i < ELEMENTSOF(*v); i++)
		free((*v)[i]);
}

/* The first of want[] the remote's refs name: its commit (a tag peeled) and its name. */
static int ls_match(const git_remote_head **heads, size_t n, char *want[3], git_oid *ret_oid,
		    char **ret_name)
{
	for (size_t w = 0; w < 3; w++) {
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
		return 0;
	}
	return -ENOENT;
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
		return source_git_fail(why, r, "invalid git URL");
	r = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL);
	if (r < 0)
		return source_git_fail(why, r, "cannot reach the git remote");
	r = git_remote_ls(&heads, &n, remote);
	if (r < 0)
		return source_git_fail(why, r, "cannot list the git remote's refs");

	if (startswith(ref, "refs/") || streq(ref, "HEAD"))
		want[0] = strdup(ref);
	else if (asprintf(&want[1], "refs/heads/%s", ref) < 0 ||
		 asprintf(&want[2], "refs/tags/%s", ref) < 0)
		return -ENOMEM;
	r = ls_match(heads, n, want, ret_oid, ret_name);
	git_remote_disconnect(remote);
	return r;
}

int source_git_open(const char *url, const char *ref, struct kts_source *s, char **why)
{
	_cleanup_free_ char *name = NULL;
	git_oid oid;
	int r;

	s->is_temp = true;
	s->cacheable = true;
	if (source_strdup_to(&s->url, url) < 0 || source_strdup_to(&s->ref, ref) < 0)
		return -ENOMEM;
	r = source_libgit2_load(why);
	if (r < 0)
		return r;

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
		return source_why_first(why, r,
					"'%s' is neither a branch, a tag nor a commit id "
					"of %s",
					ref, url);
	else if (r < 0)
		return r;
	else
		(void) git_oid_tostr(s->commit, sizeof(s->commit), &oid);

	return s->commit[0] ? source_name_git(s, s->commit) : 0;
}

int source_commit_time(const struct kts_source *s, int64_t *ret)
{
	_cleanup_git_;
	_cleanup_(git_repository_freep) git_repository *repo = NULL;
	_cleanup_(git_commit_freep) git_commit *c = NULL;
	_cleanup_free_ char *why = NULL;
	git_oid oid;
	int r;

	if (!s->commit[0] || !s->dir)
		return -ENOENT;
	/* The git program, where it answers, spares loading libgit2 for one date. */
	if (source_gitcli_wanted()) {
		r = source_gitcli_commit_time(s->dir, s->commit, ret);
		if (r <= 0)
			return r;
	}
	/* A tree the git program identified may reach here without libgit2: say what is lost. */
	r = source_libgit2_load(&why);
	if (r < 0)
		return log_warning_errno(r, "%s; the build's timestamps are not the commit's",
					 why ? why : "cannot load libgit2");
	if (git_oid_fromstr(&oid, s->commit) < 0 ||
	    git_repository_open_ext(&repo, s->dir, 0, NULL) < 0 ||
	    git_commit_lookup(&c, repo, &oid) < 0)
		return -EIO;
	*ret = (int64_t) git_commit_time(c);
	return 0;
}

/* ---- fetch ------------------------------------------------------------------------------- */

static int git_open_or_init(const char *dir, git_repository **ret, char **why)
{
	int r;

	r = git_repository_open_ext(ret, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (r == 0)
		return 0;
	if (r != GIT_ENOTFOUND)
		return source_git_fail(why, r, "cannot open the work repository");
	r = git_repository_init(ret, dir, /* is_bare= */ 0);
	if (r < 0)
		return source_git_fail(why, r, "cannot create the work repository");
	return 0;
}

/* What to fetch for s->ref: a named ref just itself (into refs/ktscope/want, shallow where
 * libgit2 can); a commit id every branch and tag. */
struct fetch_plan {
	char *specs[2];
	git_strarray refspecs;
	char *want; /* "+NAME:refs/ktscope/want" for a named ref */
	bool by_commit_id;
};

static void fetch_plan_done(struct fetch_plan *p)
{
	free(p->want);
}

static int fetch_plan_make(struct kts_source *s, struct fetch_plan *p, git_fetch_options *fo,
			   char **why)
{
	_cleanup_free_ char *name = NULL;
	git_oid oid;
	int r;

	p->refspecs.strings = p->specs;
	r = git_ls_ref(s->url, s->ref, &oid, &name, why);
	if (r >= 0) {
		if (asprintf(&p->want, "+%s:refs/ktscope/want", name) < 0) {
			p->want = NULL;
			return -ENOMEM;
		}
		p->specs[0] = p->want;
		p->refspecs.count = 1;
#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 7)
		fo->depth = 1;
#endif
		return 0;
	}
	if (r == -ENOENT && is_hex(s->ref, 4, GIT_OID_HEXSZ)) {
		p->specs[0] = (char *) "+refs/heads/*:refs/ktscope/heads/*";
		p->specs[1] = (char *) "+refs/tags/*:refs/ktscope/tags/*";
		p->refspecs.count = 2;
		p->by_commit_id = true;
		return 0;
	}
	if (r == -ENOENT)
		return source_why_first(why, r,
					"'%s' is neither a branch, a tag nor a commit id "
					"of %s",
					s->ref, s->url);
	return r;
}

/* The commit the fetch brought (*ret), as hex in hex. */
static int fetched_commit(git_repository *repo, const struct kts_source *s,
			  const struct fetch_plan *p, git_object **ret, char hex[GIT_OID_HEXSZ + 1],
			  char **why)
{
	_cleanup_(git_object_freep) git_object *obj = NULL, *commit = NULL;
	int r;

	r = git_revparse_single(&obj, repo, p->by_commit_id ? s->ref : "refs/ktscope/want");
	if (r == GIT_ENOTFOUND || r == GIT_EAMBIGUOUS)
		return source_why_first(why, -ENOENT,
					"commit '%s' is not on any branch or tag of %s", s->ref,
					s->url);
	if (r < 0)
		return source_git_fail(why, r, "cannot resolve the fetched ref");
	r = git_object_peel(&commit, obj, GIT_OBJECT_COMMIT);
	if (r < 0)
		return source_git_fail(why, r, "the ref does not name a commit");
	(void) git_oid_tostr(hex, GIT_OID_HEXSZ + 1, git_object_id(commit));
	/* revparse also accepts "describe" output and the like; only a commit whose id starts
	 * with REF is what the user asked for. */
	if (p->by_commit_id && strncasecmp(hex, s->ref, strlen(s->ref)) != 0)
		return source_why_first(why, -ENOENT,
					"'%s' resolves to %s, not to a commit with "
					"that id",
					s->ref, hex);
	*ret = TAKE_PTR(commit);
	return 0;
}

/* Fetches what the plan says from s->url into repo. */
static int git_fetch(git_repository *repo, const struct kts_source *s, struct fetch_plan *p,
		     git_fetch_options *fo, char **why)
{
	_cleanup_(git_remote_freep) git_remote *remote = NULL;
	int r;

	fo->download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	r = git_remote_create_anonymous(&remote, repo, s->url);
	if (r < 0)
		return source_git_fail(why, r, "invalid git URL");
	r = git_remote_fetch(remote, &p->refspecs, fo, NULL);
	if (r < 0)
		return source_git_fail(why, r, "git fetch failed");
	return 0;
}

/* Checks commit out into repo's work tree, forcibly, and detaches HEAD there. */
static int git_checkout(git_repository *repo, git_object *commit, char **why)
{
	git_checkout_options co = {};
	int r;

	(void) git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
	r = git_checkout_tree(repo, commit, &co);
	if (r < 0)
		return source_git_fail(why, r, "git checkout failed");
	r = git_repository_set_head_detached(repo, git_object_id(commit));
	if (r < 0)
		return source_git_fail(why, r, "cannot set HEAD");
	return 0;
}

int source_git_fetch(struct kts_source *s, const char *workdir, char **why)
{
	_cleanup_(git_repository_freep) git_repository *repo = NULL;
	_cleanup_(git_object_freep) git_object *commit = NULL;
	_cleanup_(fetch_plan_done) struct fetch_plan plan = {};
	_cleanup_free_ char *dir = source_path_join(workdir, "linux");
	git_fetch_options fo = {};
	char hex[GIT_OID_HEXSZ + 1];
	int r;

	if (!dir)
		return -ENOMEM;
	r = source_libgit2_load(why);
	if (r < 0)
		return r;
	(void) git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return source_why_first(why, negative_errno(), "cannot create '%s': %m", dir);
	r = git_open_or_init(dir, &repo, why);
	if (r >= 0)
		r = fetch_plan_make(s, &plan, &fo, why);
	if (r >= 0)
		r = git_fetch(repo, s, &plan, &fo, why);
	if (r >= 0)
		r = fetched_commit(repo, s, &plan, &commit, hex, why);
	if (r >= 0)
		r = git_checkout(repo, commit, why);
	if (r >= 0)
		r = source_check_kernel_tree(dir, why);
	if (r < 0)
		return r;

	if (s->commit[0] && !streq(s->commit, hex))
		/* The branch moved between ls-remote and fetch: the fetched commit is what we
		 * build, so it is what we name. */
		log_debug("source: %s moved from %s to %s while fetching", s->ref, s->commit, hex);
	memcpy(s->commit, hex, sizeof(hex));
	r = source_name_git(s, hex);
	if (r < 0)
		return r;
	free(s->dir);
	s->dir = TAKE_PTR(dir);
	return 0;
}
