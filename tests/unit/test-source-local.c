/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * source-spec.c, source-local.c (with source-status.c) and fsid.c against real things: SPECs,
 * local trees in git sandboxes made through libgit2 (test-source.h), and the filesystem
 * identity of real files. Every path lives under one mkdtemp() directory.
 */
#include <sys/sysmacros.h>

#include "test-source.h"
#include "test-skip.h"

#include "fsid.h"
#include "macro.h"
#include "hash.h"
#include "source.h"
#include "source-internal.h" /* source_gitcli_status(): whether the git program answered */
#include "interrupt.h"

static int g_counter_objects;

static struct kts_source *open_local_ok(const char *dir)
{
	struct kts_source_spec spec = {};
	struct kts_source *s = NULL;
	char *why = NULL;
	int r;

	assert_int_equal(source_spec_local(dir, &spec), 0);
	r = source_open(&spec, NULL, &s, &why);
	if (r < 0)
		fail_msg("source_open(%s): %s: %s", dir, strerror(-r), why ? why : "");
	source_spec_done(&spec);
	return s;
}

static int open_local_err(const char *dir, char **ret_why)
{
	struct kts_source_spec spec = {};
	struct kts_source *s = NULL;
	int r;

	assert_int_equal(source_spec_local(dir, &spec), 0);
	r = source_open(&spec, NULL, &s, ret_why);
	source_spec_done(&spec);
	assert_null(s);
	return r;
}

/* ------------------------------------------------------------------- specs */

static void test_spec_parse_kinds(void **state)
{
	struct kts_source_spec s = {};

	assert_int_equal(source_spec_parse("6.12.3", &s), 0);
	assert_int_equal(s.kind, KTS_SOURCE_RELEASE);
	assert_string_equal(s.version, "6.12.3");
	source_spec_done(&s);

	static const char *const releases[] = { "6.12", "stable", "mainline", "6.13-rc2", "7.0" };
	for (size_t i = 0; i < ELEMENTSOF(releases); i++) {
		assert_int_equal(source_spec_parse(releases[i], &s), 0);
		assert_int_equal(s.kind, KTS_SOURCE_RELEASE);
		source_spec_done(&s);
	}

	/* Not versions: a path (a bare major, leading zeros, 4 segments, rc0, a word). */
	static const char *const paths[] = { "6",      "06.12",  "6.12.3.4",       "6.13-rc0",
					     "latest", "./6.12", "/usr/src/linux", "linux" };
	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		assert_int_equal(source_spec_parse(paths[i], &s), 0);
		assert_int_equal(s.kind, KTS_SOURCE_LOCAL);
		assert_string_equal(s.path, paths[i]);
		source_spec_done(&s);
	}
}

static void test_spec_parse_git(void **state)
{
	struct kts_source_spec s = {};

	assert_int_equal(source_spec_parse("git+https://git.kernel.org/x/linux.git#for-next", &s),
			 0);
	assert_int_equal(s.kind, KTS_SOURCE_GIT);
	assert_string_equal(s.url, "https://git.kernel.org/x/linux.git");
	assert_string_equal(s.ref, "for-next");
	source_spec_done(&s);

	/* The last '#' splits, so a URL fragment survives. */
	assert_int_equal(source_spec_parse("git+https://x/y#frag#v6.12", &s), 0);
	assert_string_equal(s.url, "https://x/y#frag");
	assert_string_equal(s.ref, "v6.12");
	source_spec_done(&s);

	assert_int_equal(source_spec_parse("git+https://x/y#", &s), -EINVAL);
	assert_int_equal(source_spec_parse("git+#main", &s), -EINVAL);
	assert_int_equal(source_spec_parse("git+https://x/y", &s), -EINVAL);
	assert_int_equal(source_spec_parse("", &s), -EINVAL);
	assert_int_equal(source_spec_git("u", "", &s), -EINVAL);

	assert_int_equal(source_spec_tarball("/usr/src/linux-source-6.12.tar.xz", &s), 0);
	assert_int_equal(s.kind, KTS_SOURCE_TARBALL);
	source_spec_done(&s);
	assert_string_equal(source_kind_to_string(KTS_SOURCE_TARBALL), "tarball");
	assert_string_equal(source_kind_to_string(KTS_SOURCE_LOCAL), "local");
}

/* ------------------------------------------------------------- local trees */

static void test_local_clean_key(void **state)
{
	struct sandbox *sb = *state;
	_cleanup_source_ struct kts_source *s = NULL;
	char head[41], label[64], identity[64];

	head_hex(sb->repo, head);
	s = open_local_ok(sb->dir);
	(void) snprintf(label, sizeof(label), "local-%.12s", head);
	(void) snprintf(identity, sizeof(identity), "local %s", head);
	assert_string_equal(s->label, label);
	assert_string_equal(s->identity, identity);
	assert_string_equal(s->commit, head);
	assert_false(s->dirty);
	assert_string_equal(s->state_sha256, "");
	assert_true(s->cacheable);
	assert_null(s->why);
	assert_false(s->is_temp);
	assert_int_equal(s->kind, KTS_SOURCE_LOCAL);
	/* Canonical path: the sandbox path has no symlinks, so it is itself. */
	assert_string_equal(s->dir, sb->dir);
	assert_string_equal(s->path, sb->dir);
}

static void test_local_canonical_path(void **state)
{
	struct sandbox *sb = *state;
	_cleanup_source_ struct kts_source *s = NULL;
	char link[400], via[450];

	(void) snprintf(link, sizeof(link), "%s-link", sb->dir);
	assert_int_equal(symlink(sb->dir, link), 0);
	(void) snprintf(via, sizeof(via), "%s/./init/..", link);
	s = open_local_ok(via);
	assert_string_equal(s->path, sb->dir);
	assert_int_equal(unlink(link), 0);
}

static void test_local_untracked_file_is_dirty(void **state)
{
	struct sandbox *sb = *state;
	_cleanup_source_ struct kts_source *clean = NULL, *d1 = NULL, *d2 = NULL;
	char prefix[64];

	clean = open_local_ok(sb->dir);
	write_file(sb->dir, "kernel/sched/new.c", "/* new */\n");
	d1 = open_local_ok(sb->dir);
	assert_true(d1->dirty);
	assert_true(d1->cacheable); /* dirty trees are cached under their state */
	assert_int_equal(strlen(d1->state_sha256), 64);
	(void) snprintf(prefix, sizeof(prefix), "local-%.12s-dirty-%.12s", clean->commit,
			d1->state_sha256);
	assert_string_equal(d1->label, prefix);
	assert_string_not_equal(d1->identity, clean->identity);

	/* Same path, other content → other state. */
	write_file(sb->dir, "kernel/sched/new.c", "/* new, edited */\n");
	d2 = open_local_ok(sb->dir);
	assert_true(d2->dirty);
	assert_string_not_equal(d2->state_sha256, d1->state_sha256);
	assert_string_not_equal(d2->label, d1->label);
}

static void test_local_ignored_files_stay_clean(void **state)
{
	struct sandbox *sb = *state;
	_cleanup_source_ struct kts_source *before = NULL, *after = NULL;

	before = open_local_ok(sb->dir);
	/* What a kernel build leaves behind, all matched by .gitignore. */
	write_file(sb->dir, ".config", "CONFIG_SCHED_CLASS_EXT=y\n");
	write_file(sb->dir, "init/main.o",
		   "\x7f"
		   "ELF");
	write_file(sb->dir, "build/arch/x86/boot/bzImage", "image");
	after = open_local_ok(sb->dir);
	assert_false(after->dirty);
	assert_string_equal(after->label, before->label);
	assert_string_equal(after->identity, before->identity);
}

static void test_local_tracked_edit_changes_state(void **state)
{
	struct sandbox *sb = *state;
	_cleanup_source_ struct kts_source *clean = NULL, *e1 = NULL, *e2 = NULL, *back = NULL;
	_cleanup_source_ struct kts_source *x = NULL, *del = NULL;
	char p[400];

	clean = open_local_ok(sb->dir);
	write_file(sb->dir, "kernel/sched/ext.c", "/* sched_ext v2 */\n");
	e1 = open_local_ok(sb->dir);
	write_file(sb->dir, "kernel/sched/ext.c", "/* sched_ext v3 */\n");
	e2 = open_local_ok(sb->dir);
	assert_true(e1->dirty && e2->dirty);
	assert_string_not_equal(e1->state_sha256, e2->state_sha256);

	/* Deterministic: the same content gives the same state again. */
	write_file(sb->dir, "kernel/sched/ext.c", "/* sched_ext v2 */\n");
	_cleanup_source_ struct kts_source *again = open_local_ok(sb->dir);
	assert_string_equal(again->state_sha256, e1->state_sha256);

	/* The executable bit is part of the state. */
	(void) snprintf(p, sizeof(p), "%s/kernel/sched/ext.c", sb->dir);
	assert_int_equal(chmod(p, 0755), 0);
	x = open_local_ok(sb->dir);
	assert_string_not_equal(x->state_sha256, e1->state_sha256);
	assert_int_equal(chmod(p, 0644), 0);

	/* Deleting a tracked file is dirty too, with its own state. */
	assert_int_equal(unlink(p), 0);
	del = open_local_ok(sb->dir);
	assert_true(del->dirty);
	assert_string_not_equal(del->state_sha256, e1->state_sha256);
	assert_string_not_equal(del->state_sha256, e2->state_sha256);

	/* Restoring the committed content makes it clean again. */
	write_file(sb->dir, "kernel/sched/ext.c", "/* sched_ext */\n");
	back = open_local_ok(sb->dir);
	assert_false(back->dirty);
	assert_string_equal(back->label, clean->label);
}

static void test_local_staged_change_is_dirty(void **state)
{
	struct sandbox *sb = *state;
	_cleanup_source_ struct kts_source *s = NULL;
	git_index *index;

	write_file(sb->dir, "staged.c", "int x;\n");
	assert_int_equal(git_repository_index(&index, sb->repo), 0);
	assert_int_equal(git_index_add_bypath(index, "staged.c"), 0);
	assert_int_equal(git_index_write(index), 0);
	git_index_free(index);
	s = open_local_ok(sb->dir);
	assert_true(s->dirty);
}

static void test_local_recheck(void **state)
{
	struct sandbox *sb = *state;
	_cleanup_source_ struct kts_source *s = NULL;
	_cleanup_free_ char *reason = NULL;
	bool changed = true;
	git_oid oid;

	write_file(sb->dir, "wip.c", "/* work in progress */\n");
	s = open_local_ok(sb->dir);
	assert_true(s->dirty);

	/* A build writes ignored files only: nothing changed. */
	write_file(sb->dir, "wip.o", "obj");
	assert_int_equal(source_recheck(s, &changed, &reason), 0);
	assert_false(changed);
	assert_null(reason);

	/* An edit during the build: changed, with a reason. */
	write_file(sb->dir, "wip.c", "/* edited during the build */\n");
	assert_int_equal(source_recheck(s, &changed, &reason), 0);
	assert_true(changed);
	assert_non_null(reason);
	assert_non_null(strstr(reason, "changed during the build"));
	free(reason);
	reason = NULL;

	/* A commit during the build moves HEAD. */
	commit_all(sb->repo, "wip", &oid);
	assert_int_equal(source_recheck(s, &changed, &reason), 0);
	assert_true(changed);
	assert_non_null(strstr(reason, "HEAD moved"));
}

static void test_local_state_api(void **state)
{
	struct sandbox *sb = *state;
	struct kts_local_state st = {};
	char head[41];

	head_hex(sb->repo, head);
	write_file(sb->dir, "a.c", "a\n");
	write_file(sb->dir, "sub/dir/b.c", "b\n");
	assert_int_equal(source_local_state(sb->dir, &st, NULL), 0);
	assert_true(st.git);
	assert_true(st.dirty);
	assert_true(st.cacheable);
	assert_int_equal(st.n_dirty, 2); /* untracked directories are walked file by file */
	assert_string_equal(st.commit, head);
	assert_string_equal(st.repo_root, sb->dir);
	assert_null(st.subdir);
	source_local_state_done(&st);
}

static int count_objects(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	(void) path;
	if (type == FTW_F)
		g_counter_objects++;
	return 0;
}

/* The number of files under the repository's object store. */
static int objects_in(const char *dir)
{
	char p[1100];

	(void) snprintf(p, sizeof(p), "%s/.git/objects", dir);
	g_counter_objects = 0;
	assert_int_equal(nftw(p, count_objects, 32, FTW_PHYS), 0);
	return g_counter_objects;
}

/* The state with THREADS status threads; the state hash is returned in OUT. */
static unsigned state_with_threads(const char *dir, unsigned threads, char out[65])
{
	struct kts_local_state st = {};
	char *why = NULL;
	unsigned n;
	int r;

	source_set_status_threads(threads);
	r = source_local_state(dir, &st, &why);
	source_set_status_threads(0);
	if (r < 0)
		fail_msg("source_local_state(%s) with %u thread(s): %s", dir, threads,
			 why ? why : "");
	assert_true(st.git);
	memcpy(out, st.state, 65);
	n = st.n_dirty;
	source_local_state_done(&st);
	return n;
}

/*
 * The work tree is walked in shares by top-level entry, one thread each: every kind of
 * change must land in exactly one share, whatever the number of threads, so the state is
 * the one of a single walk. Also: computing the index's tree for the HEAD comparison writes
 * nothing into the repository.
 */
static void test_local_threads_agree(void **state)
{
	struct sandbox *sb = *state;
	char one[65], many[65], p[1100];
	unsigned n1;
	git_index *index;
	int before;

	/* Top-level entries to spread: files and directories, tracked and not. */
	write_file(sb->dir, "drivers/base/core.c", "core\n");
	write_file(sb->dir, "fs/open.c", "open\n");
	write_file(sb->dir, "README", "readme\n");
	write_file(sb->dir, "COPYING", "gpl\n");
	{
		git_oid oid;

		commit_all(sb->repo, "more", &oid);
	}
	n1 = state_with_threads(sb->dir, 1, one);
	assert_int_equal(n1, 0);

	write_file(sb->dir, "drivers/base/core.c", "core v2\n");  /* tracked edit */
	write_file(sb->dir, "Makefile2", "a prefix of no one\n"); /* untracked, name-prefix */
	write_file(sb->dir, "a*b", "glob characters\n");          /* untracked, literal */
	write_file(sb->dir, "newdir/sub/f.c", "f\n");             /* untracked directory */
	write_file(sb->dir, "fs/new.o", "ignored\n");             /* ignored */
	(void) snprintf(p, sizeof(p), "%s/COPYING", sb->dir);
	assert_int_equal(unlink(p), 0); /* deleted, still indexed */
	/* README renamed in the index: README is then in HEAD only, README.new in the index. */
	(void) snprintf(p, sizeof(p), "%s/README", sb->dir);
	{
		char q[1100];

		(void) snprintf(q, sizeof(q), "%s/README.new", sb->dir);
		assert_int_equal(rename(p, q), 0);
	}
	assert_int_equal(git_repository_index(&index, sb->repo), 0);
	assert_int_equal(git_index_remove_bypath(index, "README"), 0);
	assert_int_equal(git_index_add_bypath(index, "README.new"), 0);
	assert_int_equal(git_index_write(index), 0);
	git_index_free(index);

	before = objects_in(sb->dir);
	n1 = state_with_threads(sb->dir, 1, one);
	/* core.c, Makefile2, a*b, newdir/sub/f.c, COPYING, README, README.new */
	assert_int_equal(n1, 7);
	for (unsigned t = 2; t <= 4; t++) {
		assert_int_equal(state_with_threads(sb->dir, t, many), n1);
		assert_string_equal(many, one);
	}
	assert_int_equal(state_with_threads(sb->dir, 0, many), n1);
	assert_string_equal(many, one);
	/* The staged rename made an index tree that is not in .git: it was not written. */
	assert_int_equal(objects_in(sb->dir), before);
}

static void test_local_nested_in_other_repo(void **state)
{
	struct sandbox *sb = *state;
	_cleanup_source_ struct kts_source *inner = NULL, *untracked = NULL;
	char dir[400];
	git_oid oid;

	/* A kernel tree committed as a subdirectory of a larger repository. */
	(void) snprintf(dir, sizeof(dir), "%s/vendor/linux", sb->dir);
	make_fake_tree(dir, "vendored");
	commit_all(sb->repo, "vendor", &oid);
	inner = open_local_ok(dir);
	assert_true(inner->cacheable);
	assert_false(inner->dirty);
	assert_non_null(strstr(inner->identity, "subdir vendor/linux"));
	/* Dirt outside the subtree does not count. */
	write_file(sb->dir, "outside.c", "x\n");
	_cleanup_source_ struct kts_source *still = open_local_ok(dir);
	assert_false(still->dirty);

	/* A tree the enclosing repository does not track at all is not in git. */
	(void) snprintf(dir, sizeof(dir), "%s/scratch/linux", sb->dir);
	make_fake_tree(dir, "scratch");
	untracked = open_local_ok(dir);
	assert_false(untracked->cacheable);
	assert_string_equal(untracked->label, "local-nogit");
	assert_non_null(strstr(untracked->why, "tracked"));
}

static void test_local_nogit_not_cacheable(void **state)
{
	_cleanup_source_ struct kts_source *s = NULL;
	char dir[300];

	new_dir("nogit", dir, sizeof(dir));
	make_fake_tree(dir, "nogit");
	s = open_local_ok(dir);
	assert_string_equal(s->label, "local-nogit");
	assert_false(s->cacheable);
	assert_null(s->identity);
	assert_non_null(s->why);
	assert_non_null(strstr(s->why, "not in a git repository"));
	assert_string_equal(s->commit, "");
	rm_rf(dir);
}

static void test_local_refuses_non_kernel_dirs(void **state)
{
	_cleanup_free_ char *why = NULL;
	char dir[300], file[400];

	new_dir("notkernel", dir, sizeof(dir));
	write_file(dir, "Makefile", "all:\n");
	assert_int_equal(open_local_err(dir, &why), -ENOEXEC);
	assert_non_null(why);
	assert_non_null(strstr(why, "Kconfig"));
	free(why);
	why = NULL;

	assert_int_equal(unlink(strcat(strcpy(file, dir), "/Makefile")), 0);
	write_file(dir, "Kconfig", "\n");
	assert_int_equal(open_local_err(dir, &why), -ENOEXEC);
	assert_non_null(strstr(why, "Makefile"));
	free(why);
	why = NULL;

	(void) snprintf(file, sizeof(file), "%s/Kconfig", dir);
	assert_int_equal(open_local_err(file, &why), -ENOTDIR);
	free(why);
	why = NULL;
	(void) snprintf(file, sizeof(file), "%s/missing", dir);
	assert_int_equal(open_local_err(file, &why), -ENOENT);
	assert_non_null(strstr(why, "missing"));
	rm_rf(dir);
}

/* ------------------------------------------ the git program and libgit2 agree */

/* The state of dir through the default path (the git program, where it answers) or through
 * libgit2 alone (KTSCOPE_GIT=libgit2). */
static void state_via(const char *dir, bool libgit2, struct kts_local_state *st)
{
	char *why = NULL;
	int r;

	if (libgit2)
		assert_int_equal(setenv("KTSCOPE_GIT", "libgit2", 1), 0);
	r = source_local_state(dir, st, &why);
	assert_int_equal(unsetenv("KTSCOPE_GIT"), 0);
	if (r < 0)
		fail_msg("source_local_state(%s)%s: %s: %s", dir, libgit2 ? " with libgit2" : "",
			 strerror(-r), why ? why : "");
}

/* Whether the git program answers for dir itself (1) or leaves it to libgit2 (0). */
static bool git_answers(const char *dir)
{
	struct source_gitcli g = {};
	char canon[PATH_MAX];
	int r;

	assert_non_null(realpath(dir, canon));
	r = source_gitcli_status(canon, &g);
	assert_true(r == 0 || r == 1);
	source_gitcli_done(&g);
	return r == 0;
}

static void assert_str_same(const char *what, const char *field, const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a && !streq(a, b)))
		fail_msg("%s: %s: git '%s', libgit2 '%s'", what, field, a ? a : "(null)",
			 b ? b : "(null)");
}

/*
 * Both paths give dir the same kts_local_state, the git program answered itself when want_git
 * (else it left dir to libgit2), and n_dirty is want_dirty.
 */
static void assert_agree(const char *dir, const char *what, bool want_git, unsigned want_dirty)
{
	struct kts_local_state a = {}, b = {};

	state_via(dir, false, &a);
	state_via(dir, true, &b);
	if (git_answers(dir) != want_git)
		fail_msg("%s: the git program %s", what, want_git ? "did not answer" : "answered");
	assert_str_same(what, "commit", a.commit, b.commit);
	assert_str_same(what, "state", a.state, b.state);
	assert_str_same(what, "why", a.why, b.why);
	assert_str_same(what, "repo_root", a.repo_root, b.repo_root);
	assert_str_same(what, "subdir", a.subdir, b.subdir);
	if (a.git != b.git || a.dirty != b.dirty || a.cacheable != b.cacheable ||
	    a.n_dirty != b.n_dirty)
		fail_msg("%s: git: git %d dirty %d cacheable %d n_dirty %u; libgit2: %d %d %d %u",
			 what, a.git, a.dirty, a.cacheable, a.n_dirty, b.git, b.dirty, b.cacheable,
			 b.n_dirty);
	if (a.n_dirty != want_dirty)
		fail_msg("%s: %u dirty paths, expected %u", what, a.n_dirty, want_dirty);
	source_local_state_done(&a);
	source_local_state_done(&b);
}

/* Back to HEAD: no change, nothing untracked (ignored files too), the filemode default. */
static void reset_tree(const char *dir)
{
	GIT(dir, "reset", "-q", "--hard");
	GIT(dir, "clean", "-qffdx");
	(void) run("git", "-C", dir, "config", "--unset", "core.filemode", NULL);
}

static void symlink_at(const char *target, const char *dir, const char *rel)
{
	char p[1100];

	(void) snprintf(p, sizeof(p), "%s/%s", dir, rel);
	(void) unlink(p);
	assert_int_equal(symlink(target, p), 0);
}

static void unlink_at(const char *dir, const char *rel)
{
	char p[1100];

	(void) snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_int_equal(unlink(p), 0);
}

/* Changes to tracked files, one at a time. */
static void test_gitcli_agree_tracked(void **state)
{
	struct sandbox *sb = *state;
	const char *d = sb->dir;

	test_need(run("git", "--version", NULL) == 0, "git");
	symlink_at("Makefile", d, "mk-link");
	write_file(d, "with space.c", "s\n");
	GIT(d, "add", "-A");
	GIT(d, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "links");
	assert_agree(d, "clean", true, 0);

	write_file(d, "kernel/sched/ext.c", "/* edited */\n");
	assert_agree(d, "modified", true, 1);
	reset_tree(d);
	unlink_at(d, "init/main.c");
	assert_agree(d, "deleted", true, 1);
	reset_tree(d);
	write_file(d, "kernel/sched/ext.c", "/* staged */\n");
	GIT(d, "add", "kernel/sched/ext.c");
	write_file(d, "kernel/sched/ext.c", "/* sched_ext */\n");
	assert_agree(d, "staged then reverted", true, 1);
	reset_tree(d);
	GIT(d, "rm", "-q", "--cached", "Kconfig");
	assert_agree(d, "removed from the index, still there", true, 1);
	reset_tree(d);
	GIT(d, "mv", "kernel/sched/ext.c", "kernel/sched/ext2.c");
	assert_agree(d, "staged rename", true, 2);
	reset_tree(d);
	write_file(d, "with space.c", "s2\n");
	assert_agree(d, "a name with a space", true, 1);
	reset_tree(d);

	symlink_at("Kconfig", d, "mk-link");
	assert_agree(d, "symlink retargeted", true, 1);
	reset_tree(d);
	unlink_at(d, "mk-link");
	write_file(d, "mk-link", "now a file\n");
	assert_agree(d, "symlink to file", true, 1);
	reset_tree(d);
	symlink_at("Makefile", d, "kernel/sched/ext.c");
	assert_agree(d, "file to symlink", true, 1);
	reset_tree(d);
	unlink_at(d, "init/main.c");
	write_file(d, "init/main.c/inner.c", "dir now\n");
	assert_agree(d, "file to directory", true, 2);
	reset_tree(d);

	chmod_at(d, "kernel/sched/ext.c", 0755);
	assert_agree(d, "exec bit, core.filemode true", true, 1);
	GIT(d, "config", "core.filemode", "false");
	assert_agree(d, "exec bit, core.filemode false", true, 0);
	reset_tree(d);
	chmod_at(d, "kernel/sched/ext.c", 0644);

	/* core.autocrlf: CRLF in the work tree of a file committed with LF. */
	write_file(d, "crlf.c", "a\nb\n");
	GIT(d, "add", "crlf.c");
	GIT(d, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "crlf");
	GIT(d, "config", "core.autocrlf", "true");
	write_file(d, "crlf.c", "a\r\nb\r\n");
	assert_agree(d, "CRLF, core.autocrlf true", true, 1);
	GIT(d, "config", "--unset", "core.autocrlf");
	assert_agree(d, "CRLF, core.autocrlf unset", true, 1);
}

/* New files, ignored files, the index's flags, racy timestamps. */
static void test_gitcli_agree_untracked(void **state)
{
	struct sandbox *sb = *state;
	const char *d = sb->dir;
	char p[1100];

	test_need(run("git", "--version", NULL) == 0, "git");
	write_file(d, "staged.c", "int x;\n");
	GIT(d, "add", "staged.c");
	assert_agree(d, "staged add", true, 1);
	reset_tree(d);
	write_file(d, "ita.c", "int y;\n");
	GIT(d, "add", "-N", "ita.c");
	assert_agree(d, "intent to add", true, 1);
	GIT(d, "rm", "-q", "--cached", "ita.c");
	reset_tree(d);
	write_file(d, "new.c", "n\n");
	assert_agree(d, "untracked file", true, 1);
	write_file(d, "newdir/sub/deeper/f.c", "f\n");
	(void) snprintf(p, sizeof(p), "%s/emptydir", d);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_agree(d, "untracked file in untracked directories, an empty directory", true, 2);
	reset_tree(d);
	write_file(d, "init/main.o", "obj");
	write_file(d, "build/x/y", "ignored dir");
	write_file(d, ".config", "CONFIG_X=y\n");
	assert_agree(d, "ignored", true, 0);
	write_file(d, "HEAD", "a file named like the revision\n");
	write_file(d, "-n", "a file named like an option\n");
	write_file(d, "line\nbreak.c", "nl\n");
	write_file(d, "tab\tand \"quote\".c", "q\n");
	write_file(d, "latin1-\xe9\xff.c", "not UTF-8\n");
	symlink_at("kernel", d, "dir-link");
	symlink_at("nowhere", d, "dangling");
	assert_agree(d, "odd names, symlinks to a directory and to nothing", true, 7);
	reset_tree(d);

	GIT(d, "update-index", "--skip-worktree", "init/main.c");
	write_file(d, "init/main.c", "/* hidden by skip-worktree */\n");
	assert_agree(d, "skip-worktree", true, 0);
	GIT(d, "update-index", "--no-skip-worktree", "init/main.c");
	reset_tree(d);
	GIT(d, "update-index", "--assume-unchanged", "init/main.c");
	write_file(d, "init/main.c", "/* hidden by assume-unchanged */\n");
	assert_agree(d, "assume-unchanged", true, 0);
	GIT(d, "update-index", "--no-assume-unchanged", "init/main.c");
	reset_tree(d);

	/* Racy: the file changes (same size) in the second its index entry was written, so
	 * only its content tells; a commit in between leaves the index and HEAD alike. */
	write_file(d, "racy.c", "aaaa\n");
	GIT(d, "add", "racy.c");
	GIT(d, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "racy");
	assert_agree(d, "racily clean", true, 0);
	write_file(d, "racy.c", "bbbb\n");
	assert_agree(d, "racily dirty", true, 1);
	reset_tree(d);
}

/* Repositories inside the tree, and a subtree of a repository. */
static void test_gitcli_agree_nested(void **state)
{
	struct sandbox *sb = *state;
	const char *d = sb->dir;
	char sub[450], src[400];

	test_need(run("git", "--version", NULL) == 0, "git");
	(void) snprintf(sub, sizeof(sub), "%s/nested", d);
	GIT(d, "init", "-q", sub);
	assert_agree(d, "empty nested repository", false, 0);
	write_file(sub, "f.c", "inner\n");
	assert_agree(d, "nested repository", false, 1);
	reset_tree(d);
	rm_rf(sub);

	/* A subtree: changes inside count, outside not; an untracked subtree is libgit2's. */
	write_file(d, "kernel/sched/core.c", "new\n");
	write_file(d, "outside.c", "x\n");
	(void) snprintf(sub, sizeof(sub), "%s/kernel", d);
	assert_agree(sub, "subtree", true, 1);
	write_file(d, "scratch/a.c", "x\n");
	(void) snprintf(sub, sizeof(sub), "%s/scratch", d);
	assert_agree(sub, "untracked subtree", false, 0);
	reset_tree(d);

	/* A linked work tree (.git is a file naming the main repository's worktrees/ entry). */
	new_dir("linked", src, sizeof(src));
	(void) snprintf(sub, sizeof(sub), "%s/wt", src);
	GIT(d, "worktree", "add", "-q", "--detach", sub);
	write_file(sub, "kernel/sched/ext.c", "/* edited in the linked tree */\n");
	assert_agree(sub, "linked work tree", true, 1);
	GIT(d, "worktree", "remove", "--force", sub);

	/* A submodule: clean, then with a change of its own, then at another commit. */
	new_dir("subsrc", src, sizeof(src));
	GIT(src, "init", "-q");
	write_file(src, "s.c", "s\n");
	GIT(src, "add", "s.c");
	GIT(src, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "s");
	GIT(d, "-c", "protocol.file.allow=always", "submodule", "-q", "add", src, "sm");
	GIT(d, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "sm");
	(void) snprintf(sub, sizeof(sub), "%s/sm", d);
	assert_agree(d, "submodule, clean", true, 0);
	write_file(d, "new.c", "n\n");
	assert_agree(d, "submodule clean, a change elsewhere", false, 1);
	unlink_at(d, "new.c");
	write_file(sub, "s.c", "s2\n");
	assert_agree(d, "submodule, dirty", false, 1);
	GIT(sub, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qam", "s2");
	assert_agree(d, "submodule, moved", false, 1);
}

/* With no git in PATH, a git that prints nonsense, or KTSCOPE_GIT=libgit2: libgit2 answers. */
static void test_gitcli_fallback(void **state)
{
	struct sandbox *sb = *state;
	_cleanup_free_ char *path = NULL;
	struct kts_local_state a = {}, b = {};
	char bin[400];

	test_need(run("git", "--version", NULL) == 0, "git");
	path = strdup(getenv("PATH"));
	assert_non_null(path);
	write_file(sb->dir, "kernel/sched/ext.c", "/* edited */\n");
	write_file(sb->dir, "new dir/f.c", "new\n");
	state_via(sb->dir, false, &a);
	assert_int_equal(a.n_dirty, 2);
	assert_true(git_answers(sb->dir));

	assert_int_equal(setenv("KTSCOPE_GIT", "libgit2", 1), 0);
	assert_false(source_gitcli_wanted());
	assert_int_equal(setenv("KTSCOPE_GIT", "git", 1), 0);
	assert_true(source_gitcli_wanted());
	assert_int_equal(unsetenv("KTSCOPE_GIT"), 0);

	new_dir("nogit-bin", bin, sizeof(bin));
	assert_int_equal(setenv("PATH", bin, 1), 0);
	assert_false(git_answers(sb->dir));
	state_via(sb->dir, false, &b);
	assert_str_same("no git", "state", a.state, b.state);
	assert_int_equal(a.n_dirty, b.n_dirty);
	source_local_state_done(&b);

	write_file(bin, "git", "#!/bin/sh\necho nonsense\n");
	chmod_at(bin, "git", 0755);
	assert_false(git_answers(sb->dir));
	state_via(sb->dir, false, &b);
	assert_str_same("nonsense", "state", a.state, b.state);
	source_local_state_done(&b);
	write_file(bin, "git", "#!/bin/sh\n[ \"$7\" = status ] && printf '1 .M N... bad' || "
			       "exec /usr/bin/git \"$@\"\n");
	assert_false(git_answers(sb->dir));
	{
		/* A stop request that git died of ends it: no libgit2 walk after it. SIGINT is
		 * made default first: interrupt_catch() leaves an ignored signal ignored, as it is
		 * in a test run started in the background by a shell without job control. */
		struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
		struct kts_interrupt_saved saved;
		struct kts_local_state c = {};
		struct source_gitcli g = {};

		write_file(bin, "git", "#!/bin/sh\nkill -INT $$\n");
		sigemptyset(&dfl.sa_mask);
		assert_int_equal(sigaction(SIGINT, &dfl, &old), 0);
		interrupt_catch(&saved);
		assert_int_equal(raise(SIGINT), 0);
		assert_int_equal(source_gitcli_status(sb->dir, &g), -EINTR);
		source_gitcli_done(&g);
		assert_int_equal(source_local_state(sb->dir, &c, NULL), -EINTR);
		interrupt_restore(&saved);
		assert_int_equal(sigaction(SIGINT, &old, NULL), 0);
	}
	assert_int_equal(setenv("PATH", path, 1), 0);
	source_local_state_done(&a);

	/* Unborn HEAD and no repository at all: libgit2's words. */
	_cleanup_source_ struct kts_source *s = NULL;
	char dir[300];

	new_dir("unborn", dir, sizeof(dir));
	make_fake_tree(dir, "unborn");
	GIT(dir, "init", "-q");
	assert_false(git_answers(dir));
	s = open_local_ok(dir);
	assert_non_null(strstr(s->why, "has no commit yet"));
}

/* ------------------------------------------------------------------- fsid */

static void test_fsid_mountinfo_parse(void **state)
{
	static const char text[] =
		"21 26 0:20 / /proc rw,relatime - proc proc rw\n"
		"garbage line\n"
		"26 1 254:0 / / rw,relatime shared:1 master:2 - ext4 /dev/vda rw,discard\n"
		"40 30 0:37 / /mnt/with\\040space rw - fuse.sshfs host:/x\\040y rw\n";
	struct kts_fsid f;
	FILE *m;

	m = fmemopen((void *) text, sizeof(text) - 1, "r");
	assert_non_null(m);
	assert_int_equal(fsid_from_mountinfo(m, makedev(254, 0), &f), 0);
	assert_string_equal(f.type, "ext4");
	assert_string_equal(f.source, "/dev/vda");
	assert_string_equal(f.uuid, "");
	rewind(m);
	assert_int_equal(fsid_from_mountinfo(m, makedev(0, 37), &f), 0);
	assert_string_equal(f.type, "fuse.sshfs");
	assert_string_equal(f.source, "host:/x y");
	rewind(m);
	assert_int_equal(fsid_from_mountinfo(m, makedev(9, 9), &f), -ENOENT);
	(void) fclose(m);
}

static void test_fsid_probe_image(void **state)
{
	static const char uuid[] = "6f1c2a3e-0b4d-4e5f-8a9b-0c1d2e3f4a5b";
	char img[400];
	struct kts_fsid f;

	(void) snprintf(img, sizeof(img), "%s/fs.img", g_root);
	test_need(run("mkfs.ext4", "-q", "-F", "-U", uuid, img, "1M", NULL) == 0,
		  "mkfs.ext4 (e2fsprogs)");
	assert_int_equal(fsid_probe(img, &f), 0);
	assert_string_equal(f.uuid, uuid);
	assert_string_equal(f.type, "ext4");
	assert_string_equal(f.source, img);

	/* Not a filesystem, and not there. */
	write_file(g_root, "zero.img", "not a filesystem at all");
	(void) snprintf(img, sizeof(img), "%s/zero.img", g_root);
	assert_int_equal(fsid_probe(img, &f), -ENODATA);
	(void) snprintf(img, sizeof(img), "%s/absent.img", g_root);
	assert_true(fsid_probe(img, &f) < 0);
}

static void test_fsid_get_never_fails(void **state)
{
	struct kts_fsid f;

	/* proc has no device: type from mountinfo, no UUID. */
	assert_int_equal(fsid_get("/proc/self", &f), 0);
	assert_string_equal(f.type, "proc");
	assert_string_equal(f.uuid, "");

	/* A missing path is not an error either: all unknown. */
	assert_int_equal(fsid_get("/nonexistent/ktscope/path", &f), 0);
	assert_string_equal(f.type, "");
	assert_string_equal(f.uuid, "");

	/* Our own directory: the type mountinfo gives for its device. */
	assert_true(fsid_get(g_root, &f) >= 0);
	assert_true(f.type[0] != '\0');
}

/* ------------------------------------------------------------------- main */

static int group_setup(void **state)
{
	return test_root_setup("source-local");
}

static int group_teardown(void **state)
{
	test_root_teardown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_parse_kinds),
		cmocka_unit_test(test_spec_parse_git),
		cmocka_unit_test_setup_teardown(test_local_clean_key, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_canonical_path, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_untracked_file_is_dirty, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_ignored_files_stay_clean, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_tracked_edit_changes_state,
						sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_staged_change_is_dirty, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_recheck, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_state_api, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_threads_agree, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_nested_in_other_repo, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_gitcli_agree_tracked, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_gitcli_agree_untracked, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_gitcli_agree_nested, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_gitcli_fallback, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test(test_local_nogit_not_cacheable),
		cmocka_unit_test(test_local_refuses_non_kernel_dirs),
		cmocka_unit_test(test_fsid_mountinfo_parse),
		cmocka_unit_test(test_fsid_probe_image),
		cmocka_unit_test(test_fsid_get_never_fails),
	};

	return cmocka_run_group_tests_name("source-local", tests, group_setup, group_teardown);
}
