/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libgit2's function pointers and their loader (source-libgit2.h): the one place that opens
 * libgit2, by the soname configure found (its soname changes with every minor release).
 */
#define SOURCE_LIBGIT2_NO_SHIM 1
#include "source-libgit2.h"

DLSYM_DEFINE(git_checkout_options_init);
DLSYM_DEFINE(git_checkout_tree);
DLSYM_DEFINE(git_commit_free);
DLSYM_DEFINE(git_commit_lookup);
DLSYM_DEFINE(git_commit_time);
DLSYM_DEFINE(git_commit_tree);
DLSYM_DEFINE(git_commit_tree_id);
DLSYM_DEFINE(git_error_last);
DLSYM_DEFINE(git_fetch_options_init);
DLSYM_DEFINE(git_index_entrycount);
DLSYM_DEFINE(git_index_find_prefix);
DLSYM_DEFINE(git_index_free);
DLSYM_DEFINE(git_index_get_byindex);
DLSYM_DEFINE(git_index_write_tree);
DLSYM_DEFINE(git_libgit2_init);
DLSYM_DEFINE(git_libgit2_shutdown);
DLSYM_DEFINE(git_mempack_new);
DLSYM_DEFINE(git_object_free);
DLSYM_DEFINE(git_object_id);
DLSYM_DEFINE(git_object_peel);
DLSYM_DEFINE(git_odb_add_backend);
DLSYM_DEFINE(git_odb_free);
DLSYM_DEFINE(git_oid_cpy);
DLSYM_DEFINE(git_oid_equal);
DLSYM_DEFINE(git_oid_fromstr);
DLSYM_DEFINE(git_oid_tostr);
DLSYM_DEFINE(git_reference_name_to_id);
DLSYM_DEFINE(git_remote_connect);
DLSYM_DEFINE(git_remote_create_anonymous);
DLSYM_DEFINE(git_remote_create_detached);
DLSYM_DEFINE(git_remote_disconnect);
DLSYM_DEFINE(git_remote_fetch);
DLSYM_DEFINE(git_remote_free);
DLSYM_DEFINE(git_remote_init_callbacks);
DLSYM_DEFINE(git_remote_ls);
DLSYM_DEFINE(git_repository_free);
DLSYM_DEFINE(git_repository_head_unborn);
DLSYM_DEFINE(git_repository_index);
DLSYM_DEFINE(git_repository_init);
DLSYM_DEFINE(git_repository_odb);
DLSYM_DEFINE(git_repository_open_ext);
DLSYM_DEFINE(git_repository_set_head_detached);
DLSYM_DEFINE(git_repository_workdir);
DLSYM_DEFINE(git_revparse_single);
DLSYM_DEFINE(git_status_byindex);
DLSYM_DEFINE(git_status_list_entrycount);
DLSYM_DEFINE(git_status_list_free);
DLSYM_DEFINE(git_status_list_new);
DLSYM_DEFINE(git_status_options_init);
DLSYM_DEFINE(git_submodule_free);
DLSYM_DEFINE(git_submodule_lookup);
DLSYM_DEFINE(git_submodule_status);
DLSYM_DEFINE(git_submodule_wd_id);
DLSYM_DEFINE(git_tree_entry_byindex);
DLSYM_DEFINE(git_tree_entry_name);
DLSYM_DEFINE(git_tree_entrycount);
DLSYM_DEFINE(git_tree_free);

static struct dlopen_lib libgit2_lib = {
	.soname = KTS_SONAME_GIT2,
	.name = "libgit2",
	.purpose = "to read git trees",
	.install = "Debian libgit2-1.5, Fedora libgit2, Arch libgit2",
};

int source_libgit2_load(char **why)
{
	int r;

	r = dlopen_lib_load(&libgit2_lib, why,
			    DLSYM_ARG(git_checkout_options_init),
			    DLSYM_ARG(git_checkout_tree),
			    DLSYM_ARG(git_commit_free),
			    DLSYM_ARG(git_commit_lookup),
			    DLSYM_ARG(git_commit_time),
			    DLSYM_ARG(git_commit_tree),
			    DLSYM_ARG(git_commit_tree_id),
			    DLSYM_ARG(git_error_last),
			    DLSYM_ARG(git_fetch_options_init),
			    DLSYM_ARG(git_index_entrycount),
			    DLSYM_ARG(git_index_find_prefix),
			    DLSYM_ARG(git_index_free),
			    DLSYM_ARG(git_index_get_byindex),
			    DLSYM_ARG(git_index_write_tree),
			    DLSYM_ARG(git_libgit2_init),
			    DLSYM_ARG(git_libgit2_shutdown),
			    DLSYM_ARG(git_mempack_new),
			    DLSYM_ARG(git_object_free),
			    DLSYM_ARG(git_object_id),
			    DLSYM_ARG(git_object_peel),
			    DLSYM_ARG(git_odb_add_backend),
			    DLSYM_ARG(git_odb_free),
			    DLSYM_ARG(git_oid_cpy),
			    DLSYM_ARG(git_oid_equal),
			    DLSYM_ARG(git_oid_fromstr),
			    DLSYM_ARG(git_oid_tostr),
			    DLSYM_ARG(git_reference_name_to_id),
			    DLSYM_ARG(git_remote_connect),
			    DLSYM_ARG(git_remote_create_anonymous),
			    DLSYM_ARG(git_remote_create_detached),
			    DLSYM_ARG(git_remote_disconnect),
			    DLSYM_ARG(git_remote_fetch),
			    DLSYM_ARG(git_remote_free),
			    DLSYM_ARG(git_remote_init_callbacks),
			    DLSYM_ARG(git_remote_ls),
			    DLSYM_ARG(git_repository_free),
			    DLSYM_ARG(git_repository_head_unborn),
			    DLSYM_ARG(git_repository_index),
			    DLSYM_ARG(git_repository_init),
			    DLSYM_ARG(git_repository_odb),
			    DLSYM_ARG(git_repository_open_ext),
			    DLSYM_ARG(git_repository_set_head_detached),
			    DLSYM_ARG(git_repository_workdir),
			    DLSYM_ARG(git_revparse_single),
			    DLSYM_ARG(git_status_byindex),
			    DLSYM_ARG(git_status_list_entrycount),
			    DLSYM_ARG(git_status_list_free),
			    DLSYM_ARG(git_status_list_new),
			    DLSYM_ARG(git_status_options_init),
			    DLSYM_ARG(git_submodule_free),
			    DLSYM_ARG(git_submodule_lookup),
			    DLSYM_ARG(git_submodule_status),
			    DLSYM_ARG(git_submodule_wd_id),
			    DLSYM_ARG(git_tree_entry_byindex),
			    DLSYM_ARG(git_tree_entry_name),
			    DLSYM_ARG(git_tree_entrycount),
			    DLSYM_ARG(git_tree_free),
			    NULL);
	if (r >= 0)
		source_git_use(); /* inside a reference: initialised until the last one goes */
	return r;
}
