/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the source-*.c files that use libgit2 share (source-local.c, source-status.c,
 * source-git.c): cleanup helpers for its objects, its errors as negative errno, and the
 * threaded status walk. The only header that includes git2.h (STYLE.md, "Boundaries").
 */

#include <git2.h>

#include "source-internal.h"

/* Converts a libgit2 failure r into a negative errno, with "what: libgit2's message" in why. */
int source_git_fail(char **why, int r, const char *what);

#define DEFINE_GIT_FREEP(type)                    \
	static inline void type##_freep(type **p) \
	{                                         \
		if (*p)                           \
			type##_free(*p);          \
	}
DEFINE_GIT_FREEP(git_repository)
DEFINE_GIT_FREEP(git_status_list)
DEFINE_GIT_FREEP(git_index)
DEFINE_GIT_FREEP(git_remote)
DEFINE_GIT_FREEP(git_object)
DEFINE_GIT_FREEP(git_submodule)
DEFINE_GIT_FREEP(git_odb)
DEFINE_GIT_FREEP(git_commit)
DEFINE_GIT_FREEP(git_tree)

/* ---- source-status.c: the threaded status walk ------------------------------------------ */

/*
 * A git status walk of a whole repository's work tree, split by top-level entry among
 * threads (source_set_status_threads()). _new() starts the threads, which open their own
 * repository from open_path and read its index while the caller reads its own; _run() walks
 * with the caller's repo/index (HEAD = head, work tree = root) and OPTS (show and flags) and
 * leaves one status list per share, in an order that, concatenated, is deterministic per
 * share but not across shares: callers sort what they collect. -EIO with libgit2's message
 * in why. _free() accepts NULL and ends threads that are still waiting.
 */
struct source_status_walk;
int source_status_walk_new(const char *open_path, struct source_status_walk **ret);
int source_status_walk_run(struct source_status_walk *w, git_repository *repo, git_index *index,
			   const git_oid *head, const char *root, const git_status_options *opts,
			   char **why);
size_t source_status_walk_n_lists(const struct source_status_walk *w);
git_status_list *source_status_walk_list(const struct source_status_walk *w, size_t i);
void source_status_walk_free(struct source_status_walk *w);
static inline void source_status_walk_freep(struct source_status_walk **w)
{
	source_status_walk_free(*w);
	*w = NULL;
}
