/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the source tests (test-source-local, test-source-fetch) share: one mkdtemp()
 * directory (g_root) everything lives under, file and process helpers, and git sandboxes
 * made through libgit2 in setup and removed in teardown. Each test program is one file that
 * includes this once.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <git2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char g_root[256]; /* mkdtemp: everything below */
static int g_counter;

/* Makes g_root ("$TMPDIR/ktscope-test-NAME.XXXXXX") and initialises libgit2. */
static inline int test_root_setup(const char *name)
{
	const char *tmp = getenv("TMPDIR");

	(void) snprintf(g_root, sizeof(g_root), "%s/ktscope-test-%s.XXXXXX",
			tmp && *tmp ? tmp : "/tmp", name);
	if (!mkdtemp(g_root))
		return -1;
	return git_libgit2_init() > 0 ? 0 : -1;
}

static inline void write_file(const char *root, const char *rel, const char *content)
{
	char path[1024];
	FILE *f;

	(void) snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		(void) mkdir(path, 0755);
		*s = '/';
	}
	f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A fresh directory below g_root. */
static inline void new_dir(const char *tag, char *out, size_t size)
{
	(void) snprintf(out, size, "%s/%s-%d", g_root, tag, ++g_counter);
	assert_int_equal(mkdir(out, 0755), 0);
}

/* Runs argv to completion; returns its exit status. stdout/stderr are discarded. */
static inline int run(const char *arg0, ...)
{
	const char *argv[16];
	va_list ap;
	int n = 0, status;
	pid_t pid;

	argv[n++] = arg0;
	va_start(ap, arg0);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		(void) dup2(null, 1);
		(void) dup2(null, 2);
		execvp(argv[0], (char *const *) argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* sha256sum(1) as an independent oracle for the file hashes. */
static inline void sha256sum(const char *path, char out[65])
{
	char cmd[1200];
	FILE *p;

	(void) snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	p = popen(cmd, "re");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%64s", out), 1);
	assert_int_equal(pclose(p), 0);
}

static inline int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void) chmod(p, 0755);
	return remove(p) < 0 ? -1 : 0;
}

static inline void rm_rf(const char *path)
{
	(void) nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static inline bool exists(const char *dir, const char *rel)
{
	char p[1024];

	(void) snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return access(p, F_OK) == 0;
}

/* A minimal kernel-shaped tree: what check_kernel_tree() and tar need. */
static inline void make_fake_tree(const char *dir, const char *version)
{
	char mk[200];

	(void) snprintf(mk, sizeof(mk), "# fake kernel %s\nall:\n\t@echo fake\n", version);
	write_file(dir, "Makefile", mk);
	write_file(dir, "Kconfig", "mainmenu \"Fake Linux\"\n");
	write_file(dir, "init/main.c", "int main(void) { return 0; }\n");
}

/* Removes g_root and shuts libgit2 down. */
static inline void test_root_teardown(void)
{
	(void) git_libgit2_shutdown();
	rm_rf(g_root);
}

/* git -C dir ARGS... must succeed. */
#define GIT(dir, ...) assert_int_equal(run("git", "-C", dir, __VA_ARGS__, NULL), 0)

static inline void chmod_at(const char *dir, const char *rel, mode_t mode)
{
	char p[1100];

	(void) snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_int_equal(chmod(p, mode), 0);
}

/* ------------------------------------------------------------ git sandboxes */

struct sandbox {
	char dir[300];
	git_repository *repo;
};

static inline void commit_all(git_repository *repo, const char *msg, git_oid *ret)
{
	git_index *index;
	git_oid tree_oid, parent_oid;
	git_tree *tree;
	git_signature *sig;
	git_commit *parent = NULL;
	const git_commit *parents[1];
	int n = 0;

	assert_int_equal(git_repository_index(&index, repo), 0);
	assert_int_equal(git_index_add_all(index, NULL, 0, NULL, NULL), 0);
	/* add_all skips deletions; update_all records them. */
	assert_int_equal(git_index_update_all(index, NULL, NULL, NULL), 0);
	assert_int_equal(git_index_write(index), 0);
	assert_int_equal(git_index_write_tree(&tree_oid, index), 0);
	git_index_free(index);
	assert_int_equal(git_tree_lookup(&tree, repo, &tree_oid), 0);
	assert_int_equal(git_signature_new(&sig, "Test", "test@example.org", 1700000000, 0), 0);
	if (git_reference_name_to_id(&parent_oid, repo, "HEAD") == 0) {
		assert_int_equal(git_commit_lookup(&parent, repo, &parent_oid), 0);
		parents[n++] = parent;
	}
	assert_int_equal(git_commit_create(ret, repo, "HEAD", sig, sig, NULL, msg, tree, (size_t) n,
					   parents),
			 0);
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
}

/* A kernel-shaped repository on branch "main" with a .gitignore like the kernel's. */
static inline int sandbox_setup(void **state)
{
	struct sandbox *sb = calloc(1, sizeof(*sb));
	git_repository_init_options o = {};
	git_oid oid;

	assert_non_null(sb);
	new_dir("tree", sb->dir, sizeof(sb->dir));
	make_fake_tree(sb->dir, "sandbox");
	write_file(sb->dir, ".gitignore", "*.o\n.config\n/build/\n");
	write_file(sb->dir, "kernel/sched/ext.c", "/* sched_ext */\n");
	assert_int_equal(git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION),
			 0);
	o.flags = GIT_REPOSITORY_INIT_MKPATH;
	o.initial_head = "main";
	assert_int_equal(git_repository_init_ext(&sb->repo, sb->dir, &o), 0);
	commit_all(sb->repo, "initial", &oid);
	*state = sb;
	return 0;
}

static inline int sandbox_teardown(void **state)
{
	struct sandbox *sb = *state;

	git_repository_free(sb->repo);
	rm_rf(sb->dir);
	free(sb);
	return 0;
}

static inline void head_hex(git_repository *repo, char out[41])
{
	git_oid oid;

	assert_int_equal(git_reference_name_to_id(&oid, repo, "HEAD"), 0);
	(void) git_oid_tostr(out, 41, &oid);
}

/*
 * LeakSanitizer hook (read only in --enable-sanitizers builds). Debian's libgit2 1.5 with the
 * system PCRE2 leaks the match data of a failed regex match inside git_remote_create*(): the
 * stacks end in pcre2_match_data_create_8 below libgit2, never in ktscope code.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:pcre2_match_data_create_8\n"
	       "leak:libpcre2-8.so\n";
}
