/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the source-*.c files that use libgit2 share (source-local.c, source-status.c,
 * source-git.c): cleanup helpers for its objects, its errors as negative errno, and the
 * threaded status walk. The only header that includes git2.h (STYLE.md, "Boundaries").
 *
 * libgit2 (and the ~17 libraries it pulls in) is not linked but loaded with dlopen() by the
 * first command that reads a git tree (source-libgit2.c, dlopen-util.h): below, each function
 * used is a sym_ pointer its own name maps onto. Every entry point that reaches libgit2 calls
 * source_libgit2_load() first and touches none of its names when that fails; source_git_ref()
 * (_cleanup_git_) is safe without it.
 */

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

#include "dlopen-util.h"
#include "source-internal.h"

DLSYM_PROTOTYPE(git_checkout_options_init);
DLSYM_PROTOTYPE(git_checkout_tree);
DLSYM_PROTOTYPE(git_commit_free);
DLSYM_PROTOTYPE(git_commit_lookup);
DLSYM_PROTOTYPE(git_commit_time);
DLSYM_PROTOTYPE(git_commit_tree);
DLSYM_PROTOTYPE(git_commit_tree_id);
DLSYM_PROTOTYPE(git_error_last);
DLSYM_PROTOTYPE(git_fetch_options_init);
DLSYM_PROTOTYPE(git_index_entrycount);
DLSYM_PROTOTYPE(git_index_find_prefix);
DLSYM_PROTOTYPE(git_index_free);
DLSYM_PROTOTYPE(git_index_get_byindex);
DLSYM_PROTOTYPE(git_index_write_tree);
DLSYM_PROTOTYPE(git_libgit2_init);
DLSYM_PROTOTYPE(git_libgit2_shutdown);
DLSYM_PROTOTYPE(git_mempack_new);
DLSYM_PROTOTYPE(git_object_free);
DLSYM_PROTOTYPE(git_object_id);
DLSYM_PROTOTYPE(git_object_peel);
DLSYM_PROTOTYPE(git_odb_add_backend);
DLSYM_PROTOTYPE(git_odb_free);
DLSYM_PROTOTYPE(git_oid_cpy);
DLSYM_PROTOTYPE(git_oid_equal);
DLSYM_PROTOTYPE(git_oid_fromstr);
DLSYM_PROTOTYPE(git_oid_tostr);
DLSYM_PROTOTYPE(git_reference_name_to_id);
DLSYM_PROTOTYPE(git_remote_connect);
DLSYM_PROTOTYPE(git_remote_create_anonymous);
DLSYM_PROTOTYPE(git_remote_create_detached);
DLSYM_PROTOTYPE(git_remote_disconnect);
DLSYM_PROTOTYPE(git_remote_fetch);
DLSYM_PROTOTYPE(git_remote_free);
DLSYM_PROTOTYPE(git_remote_init_callbacks);
DLSYM_PROTOTYPE(git_remote_ls);
DLSYM_PROTOTYPE(git_repository_free);
DLSYM_PROTOTYPE(git_repository_head_unborn);
DLSYM_PROTOTYPE(git_repository_index);
DLSYM_PROTOTYPE(git_repository_init);
DLSYM_PROTOTYPE(git_repository_odb);
DLSYM_PROTOTYPE(git_repository_open_ext);
DLSYM_PROTOTYPE(git_repository_set_head_detached);
DLSYM_PROTOTYPE(git_repository_workdir);
DLSYM_PROTOTYPE(git_revparse_single);
DLSYM_PROTOTYPE(git_status_byindex);
DLSYM_PROTOTYPE(git_status_list_entrycount);
DLSYM_PROTOTYPE(git_status_list_free);
DLSYM_PROTOTYPE(git_status_list_new);
DLSYM_PROTOTYPE(git_status_options_init);
DLSYM_PROTOTYPE(git_submodule_free);
DLSYM_PROTOTYPE(git_submodule_lookup);
DLSYM_PROTOTYPE(git_submodule_status);
DLSYM_PROTOTYPE(git_submodule_wd_id);
DLSYM_PROTOTYPE(git_tree_entry_byindex);
DLSYM_PROTOTYPE(git_tree_entry_name);
DLSYM_PROTOTYPE(git_tree_entrycount);
DLSYM_PROTOTYPE(git_tree_free);

#ifndef SOURCE_LIBGIT2_NO_SHIM
#define git_checkout_options_init sym_git_checkout_options_init
#define git_checkout_tree sym_git_checkout_tree
#define git_commit_free sym_git_commit_free
#define git_commit_lookup sym_git_commit_lookup
#define git_commit_time sym_git_commit_time
#define git_commit_tree sym_git_commit_tree
#define git_commit_tree_id sym_git_commit_tree_id
#define git_error_last sym_git_error_last
#define git_fetch_options_init sym_git_fetch_options_init
#define git_index_entrycount sym_git_index_entrycount
#define git_index_find_prefix sym_git_index_find_prefix
#define git_index_free sym_git_index_free
#define git_index_get_byindex sym_git_index_get_byindex
#define git_index_write_tree sym_git_index_write_tree
#define git_libgit2_init sym_git_libgit2_init
#define git_libgit2_shutdown sym_git_libgit2_shutdown
#define git_mempack_new sym_git_mempack_new
#define git_object_free sym_git_object_free
#define git_object_id sym_git_object_id
#define git_object_peel sym_git_object_peel
#define git_odb_add_backend sym_git_odb_add_backend
#define git_odb_free sym_git_odb_free
#define git_oid_cpy sym_git_oid_cpy
#define git_oid_equal sym_git_oid_equal
#define git_oid_fromstr sym_git_oid_fromstr
#define git_oid_tostr sym_git_oid_tostr
#define git_reference_name_to_id sym_git_reference_name_to_id
#define git_remote_connect sym_git_remote_connect
#define git_remote_create_anonymous sym_git_remote_create_anonymous
#define git_remote_create_detached sym_git_remote_create_detached
#define git_remote_disconnect sym_git_remote_disconnect
#define git_remote_fetch sym_git_remote_fetch
#define git_remote_free sym_git_remote_free
#define git_remote_init_callbacks sym_git_remote_init_callbacks
#define git_remote_ls sym_git_remote_ls
#define git_repository_free sym_git_repository_free
#define git_repository_head_unborn sym_git_repository_head_unborn
#define git_repository_index sym_git_repository_index
#define git_repository_init sym_git_repository_init
#define git_repository_odb sym_git_repository_odb
#define git_repository_open_ext sym_git_repository_open_ext
#define git_repository_set_head_detached sym_git_repository_set_head_detached
#define git_repository_workdir sym_git_repository_workdir
#define git_revparse_single sym_git_revparse_single
#define git_status_byindex sym_git_status_byindex
#define git_status_list_entrycount sym_git_status_list_entrycount
#define git_status_list_free sym_git_status_list_free
#define git_status_list_new sym_git_status_list_new
#define git_status_options_init sym_git_status_options_init
#define git_submodule_free sym_git_submodule_free
#define git_submodule_lookup sym_git_submodule_lookup
#define git_submodule_status sym_git_submodule_status
#define git_submodule_wd_id sym_git_submodule_wd_id
#define git_tree_entry_byindex sym_git_tree_entry_byindex
#define git_tree_entry_name sym_git_tree_entry_name
#define git_tree_entrycount sym_git_tree_entrycount
#define git_tree_free sym_git_tree_free
#endif

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
