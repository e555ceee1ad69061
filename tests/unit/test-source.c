/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * source.c and fsid.c against real things: git sandboxes made through libgit2 in setup and
 * removed in teardown, real tarballs made with tar(1), and a fake kernel.org mirror
 * (tests/integration/mirror.py, python3 http.server on 127.0.0.1) serving a directory the test
 * builds. Every path lives under one mkdtemp() directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <git2.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsid.h"
#include "macro.h"
#include "sha256.h"
#include "source.h"

#define MIRROR_SCRIPT KTS_TEST_DATADIR "/../integration/mirror.py"

/* ------------------------------------------------------------------ helpers */

static char g_root[256];     /* mkdtemp: everything below */
static char g_mirror[300];   /* the directory the fake mirror serves */
static char g_url[128];      /* http://127.0.0.1:PORT */
static pid_t g_mirror_pid;
static int g_counter;
static int g_counter_objects;

static void write_file(const char *root, const char *rel, const char *content)
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
static void new_dir(const char *tag, char *out, size_t size)
{
	(void) snprintf(out, size, "%s/%s-%d", g_root, tag, ++g_counter);
	assert_int_equal(mkdir(out, 0755), 0);
}

/* Runs argv to completion; returns its exit status. stdout/stderr are discarded. */
static int run(const char *arg0, ...)
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
static void sha256sum(const char *path, char out[65])
{
	char cmd[1200];
	FILE *p;

	(void) snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	p = popen(cmd, "re");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%64s", out), 1);
	assert_int_equal(pclose(p), 0);
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void) chmod(p, 0755);
	return remove(p) < 0 ? -1 : 0;
}

static void rm_rf(const char *path)
{
	(void) nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static bool exists(const char *dir, const char *rel)
{
	char p[1024];

	(void) snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return access(p, F_OK) == 0;
}

/* A minimal kernel-shaped tree: what check_kernel_tree() and tar need. */
static void make_fake_tree(const char *dir, const char *version)
{
	char mk[200];

	(void) snprintf(mk, sizeof(mk), "# fake kernel %s\nall:\n\t@echo fake\n", version);
	write_file(dir, "Makefile", mk);
	write_file(dir, "Kconfig", "mainmenu \"Fake Linux\"\n");
	write_file(dir, "init/main.c", "int main(void) { return 0; }\n");
}

/* ------------------------------------------------------------ git sandboxes */

struct sandbox {
	char dir[300];
	git_repository *repo;
};

static void commit_all(git_repository *repo, const char *msg, git_oid *ret)
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
static int sandbox_setup(void **state)
{
	struct sandbox *sb = calloc(1, sizeof(*sb));
	git_repository_init_options o = {};
	git_oid oid;

	assert_non_null(sb);
	new_dir("tree", sb->dir, sizeof(sb->dir));
	make_fake_tree(sb->dir, "sandbox");
	write_file(sb->dir, ".gitignore", "*.o\n.config\n/build/\n");
	write_file(sb->dir, "kernel/sched/ext.c", "/* sched_ext */\n");
	assert_int_equal(git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION), 0);
	o.flags = GIT_REPOSITORY_INIT_MKPATH;
	o.initial_head = "main";
	assert_int_equal(git_repository_init_ext(&sb->repo, sb->dir, &o), 0);
	commit_all(sb->repo, "initial", &oid);
	*state = sb;
	return 0;
}

static int sandbox_teardown(void **state)
{
	struct sandbox *sb = *state;

	git_repository_free(sb->repo);
	rm_rf(sb->dir);
	free(sb);
	return 0;
}

static void head_hex(git_repository *repo, char out[41])
{
	git_oid oid;

	assert_int_equal(git_reference_name_to_id(&oid, repo, "HEAD"), 0);
	(void) git_oid_tostr(out, 41, &oid);
}

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
	static const char *const paths[] = { "6", "06.12", "6.12.3.4", "6.13-rc0", "latest",
					     "./6.12", "/usr/src/linux", "linux" };
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

	assert_int_equal(source_spec_parse("git+https://git.kernel.org/x/linux.git#for-next", &s), 0);
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
	/* The filesystem is always named, even where no UUID can be read. */
	assert_true(s->fs.type[0] != '\0');
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
	write_file(sb->dir, "init/main.o", "\x7f" "ELF");
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
		fail_msg("source_local_state(%s) with %u thread(s): %s", dir, threads, why ? why : "");
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

	write_file(sb->dir, "drivers/base/core.c", "core v2\n");     /* tracked edit */
	write_file(sb->dir, "Makefile2", "a prefix of no one\n");   /* untracked, name-prefix */
	write_file(sb->dir, "a*b", "glob characters\n");            /* untracked, literal */
	write_file(sb->dir, "newdir/sub/f.c", "f\n");               /* untracked directory */
	write_file(sb->dir, "fs/new.o", "ignored\n");               /* ignored */
	(void) snprintf(p, sizeof(p), "%s/COPYING", sb->dir);
	assert_int_equal(unlink(p), 0);                              /* deleted, still indexed */
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

/* ------------------------------------------------------------ git remotes */

struct remote {
	struct sandbox sb;
	char bare[300];
	char main_hex[41], feature_hex[41], tagged_hex[41];
};

/* A bare repository with main, feature (one extra commit and file), an annotated tag v1.0 on
 * the first commit and a lightweight tag on feature. */
static int remote_setup(void **state)
{
	struct remote *rm = calloc(1, sizeof(*rm));
	git_repository *bare;
	git_clone_options co = {};
	git_reference *ref;
	git_object *target;
	git_signature *sig;
	git_oid oid, first, feature;
	void *sb;

	assert_non_null(rm);
	assert_int_equal(sandbox_setup(&sb), 0);
	rm->sb = *(struct sandbox *) sb;
	free(sb);

	head_hex(rm->sb.repo, rm->tagged_hex);
	assert_int_equal(git_reference_name_to_id(&first, rm->sb.repo, "HEAD"), 0);
	assert_int_equal(git_object_lookup(&target, rm->sb.repo, &first, GIT_OBJECT_COMMIT), 0);
	assert_int_equal(git_signature_new(&sig, "Test", "test@example.org", 1700000000, 0), 0);
	assert_int_equal(git_tag_create(&oid, rm->sb.repo, "v1.0", target, sig, "release", 0), 0);
	git_signature_free(sig);

	/* feature: branch off, add a file, come back to main. */
	assert_int_equal(git_branch_create(&ref, rm->sb.repo, "feature",
					   (git_commit *) target, 0), 0);
	git_reference_free(ref);
	git_object_free(target);
	assert_int_equal(git_repository_set_head(rm->sb.repo, "refs/heads/feature"), 0);
	write_file(rm->sb.dir, "feature.c", "/* feature */\n");
	commit_all(rm->sb.repo, "feature", &feature);
	(void) git_oid_tostr(rm->feature_hex, sizeof(rm->feature_hex), &feature);
	assert_int_equal(git_object_lookup(&target, rm->sb.repo, &feature, GIT_OBJECT_COMMIT), 0);
	assert_int_equal(git_tag_create_lightweight(&oid, rm->sb.repo, "light", target, 0), 0);
	git_object_free(target);
	assert_int_equal(git_repository_set_head(rm->sb.repo, "refs/heads/main"), 0);

	/* main moves on too, so main, feature and the tag are three different commits. */
	assert_int_equal(unlink(strcat(strcpy(rm->bare, rm->sb.dir), "/feature.c")), 0);
	write_file(rm->sb.dir, "main-only.c", "/* main */\n");
	commit_all(rm->sb.repo, "main", &oid);
	(void) git_oid_tostr(rm->main_hex, sizeof(rm->main_hex), &oid);

	new_dir("bare", rm->bare, sizeof(rm->bare));
	assert_int_equal(rmdir(rm->bare), 0);
	assert_int_equal(git_clone_options_init(&co, GIT_CLONE_OPTIONS_VERSION), 0);
	co.bare = 1;
	assert_int_equal(git_clone(&bare, rm->sb.dir, rm->bare, &co), 0);
	/* clone fetches branches as remote-tracking refs; a served repo needs real heads. */
	assert_int_equal(git_reference_create(&ref, bare, "refs/heads/feature", &feature, 1, NULL), 0);
	git_reference_free(ref);
	git_repository_free(bare);
	*state = rm;
	return 0;
}

static int remote_teardown(void **state)
{
	struct remote *rm = *state;
	void *sb = malloc(sizeof(struct sandbox));

	assert_non_null(sb);
	*(struct sandbox *) sb = rm->sb;
	(void) sandbox_teardown(&sb);
	rm_rf(rm->bare);
	free(rm);
	return 0;
}

/* open + fetch of url#ref into a fresh work dir; returns the source, fills workdir. */
static struct kts_source *git_fetch_ok(const char *url, const char *ref, char *workdir, size_t size)
{
	struct kts_source_spec spec = {};
	struct kts_source *s = NULL;
	char *why = NULL;
	int r;

	if (!*workdir)
		new_dir("gitwork", workdir, size);
	assert_int_equal(source_spec_git(url, ref, &spec), 0);
	r = source_open(&spec, NULL, &s, &why);
	if (r < 0)
		fail_msg("source_open(git %s): %s: %s", ref, strerror(-r), why ? why : "");
	source_spec_done(&spec);
	r = source_fetch(s, workdir, NULL, &why);
	if (r < 0)
		fail_msg("source_fetch(git %s): %s: %s", ref, strerror(-r), why ? why : "");
	return s;
}

static void assert_git_source(const struct kts_source *s, const char *hex, const char *workdir)
{
	char label[64], identity[64], dir[400];

	(void) snprintf(label, sizeof(label), "git-%.12s", hex);
	(void) snprintf(identity, sizeof(identity), "git %s", hex);
	(void) snprintf(dir, sizeof(dir), "%s/linux", workdir);
	assert_string_equal(s->commit, hex);
	assert_string_equal(s->label, label);
	assert_string_equal(s->identity, identity);
	assert_string_equal(s->dir, dir);
	assert_true(s->cacheable);
	assert_true(s->is_temp);
	assert_true(exists(s->dir, "Makefile"));
	assert_true(exists(s->dir, "Kconfig"));
}

static void test_git_clone_branch(void **state)
{
	struct remote *rm = *state;
	char work[300] = "";
	_cleanup_source_ struct kts_source *m = git_fetch_ok(rm->bare, "main", work, sizeof(work));

	assert_git_source(m, rm->main_hex, work);
	assert_true(exists(m->dir, "main-only.c"));
	assert_false(exists(m->dir, "feature.c"));

	/* The same work dir fetched again at another branch: the checkout follows. */
	_cleanup_source_ struct kts_source *f = git_fetch_ok(rm->bare, "feature", work, sizeof(work));
	assert_git_source(f, rm->feature_hex, work);
	assert_true(exists(f->dir, "feature.c"));
	assert_false(exists(f->dir, "main-only.c"));
	rm_rf(work);
}

static void test_git_clone_tag(void **state)
{
	struct remote *rm = *state;
	char work[300] = "", work2[300] = "";
	_cleanup_source_ struct kts_source *t = git_fetch_ok(rm->bare, "v1.0", work, sizeof(work));

	/* An annotated tag names its commit, not the tag object. */
	assert_git_source(t, rm->tagged_hex, work);
	assert_false(exists(t->dir, "main-only.c"));
	_cleanup_source_ struct kts_source *l = git_fetch_ok(rm->bare, "refs/tags/light", work2,
							     sizeof(work2));
	assert_git_source(l, rm->feature_hex, work2);
	rm_rf(work);
	rm_rf(work2);
}

static void test_git_clone_commit(void **state)
{
	struct remote *rm = *state;
	char work[300] = "", work2[300] = "", abbrev[11];
	struct kts_source_spec spec = {};
	struct kts_source *s = NULL;

	/* A full id is its own identity before anything is fetched. */
	assert_int_equal(source_spec_git(rm->bare, rm->tagged_hex, &spec), 0);
	assert_int_equal(source_open(&spec, NULL, &s, NULL), 0);
	assert_string_equal(s->commit, rm->tagged_hex);
	assert_non_null(s->identity);
	source_free(s);
	source_spec_done(&spec);

	_cleanup_source_ struct kts_source *c = git_fetch_ok(rm->bare, rm->tagged_hex, work,
							     sizeof(work));
	assert_git_source(c, rm->tagged_hex, work);

	/* An abbreviated id is known only after the fetch. */
	(void) snprintf(abbrev, sizeof(abbrev), "%.10s", rm->feature_hex);
	assert_int_equal(source_spec_git(rm->bare, abbrev, &spec), 0);
	assert_int_equal(source_open(&spec, NULL, &s, NULL), 0);
	assert_null(s->identity);
	source_free(s);
	source_spec_done(&spec);
	_cleanup_source_ struct kts_source *a = git_fetch_ok(rm->bare, abbrev, work2, sizeof(work2));
	assert_git_source(a, rm->feature_hex, work2);
	rm_rf(work);
	rm_rf(work2);
}

static void test_git_unknown_ref(void **state)
{
	struct remote *rm = *state;
	struct kts_source_spec spec = {};
	struct kts_source *s = NULL;
	_cleanup_free_ char *why = NULL;
	char work[300];

	assert_int_equal(source_spec_git(rm->bare, "no-such-branch", &spec), 0);
	assert_int_equal(source_open(&spec, NULL, &s, &why), -ENOENT);
	assert_non_null(strstr(why, "no-such-branch"));
	source_spec_done(&spec);
	free(why);
	why = NULL;

	/* Hex-shaped but no such commit: found out at fetch time. */
	assert_int_equal(source_spec_git(rm->bare, "deadbeefdead", &spec), 0);
	assert_int_equal(source_open(&spec, NULL, &s, NULL), 0);
	new_dir("gitwork", work, sizeof(work));
	assert_int_equal(source_fetch(s, work, NULL, &why), -ENOENT);
	assert_non_null(strstr(why, "deadbeefdead"));
	source_free(s);
	source_spec_done(&spec);
	rm_rf(work);
}

/* ---------------------------------------------------------------- tarballs */

/* Makes dir/name from a fake tree; top = the archive's top directory ("" = loose files). */
static void make_tarball(const char *dir, const char *name, const char *top, const char *flag)
{
	char stage[400], tree[500], out[500];

	(void) snprintf(stage, sizeof(stage), "%s/stage-%d", g_root, ++g_counter);
	(void) snprintf(tree, sizeof(tree), "%s/%s", stage, *top ? top : ".");
	make_fake_tree(tree, name);
	(void) snprintf(out, sizeof(out), "%s/%s", dir, name);
	assert_int_equal(run("tar", flag, out, "-C", stage, *top ? top : ".", NULL), 0);
	rm_rf(stage);
}

static struct kts_source *tarball_open(const char *file, char **ret_why, int *ret_r)
{
	struct kts_source_spec spec = {};
	struct kts_source *s = NULL;

	assert_int_equal(source_spec_tarball(file, &spec), 0);
	*ret_r = source_open(&spec, NULL, &s, ret_why);
	source_spec_done(&spec);
	return s;
}

static void test_tarball_identity_and_extract(void **state)
{
	char dir[300], work[300], file[400], sha[65], label[64], identity[80], tree[400];
	_cleanup_free_ char *why = NULL;
	int r;

	new_dir("tarballs", dir, sizeof(dir));
	make_tarball(dir, "linux-source-6.12.tar.xz", "linux-source-6.12", "-cJf");
	(void) snprintf(file, sizeof(file), "%s/linux-source-6.12.tar.xz", dir);
	sha256sum(file, sha);

	_cleanup_source_ struct kts_source *s = tarball_open(file, &why, &r);
	assert_int_equal(r, 0);
	(void) snprintf(label, sizeof(label), "tar-6.12-%.8s", sha);
	(void) snprintf(identity, sizeof(identity), "tarball %s", sha);
	assert_string_equal(s->tarball_sha256, sha);
	assert_string_equal(s->identity, identity);
	assert_string_equal(s->label, label);
	assert_string_equal(s->version, "6.12");
	assert_string_equal(s->path, file);
	assert_true(s->cacheable);
	assert_true(s->is_temp);
	assert_null(s->dir);

	new_dir("work", work, sizeof(work));
	assert_int_equal(source_fetch(s, work, NULL, &why), 0);
	(void) snprintf(tree, sizeof(tree), "%s/linux", work);
	assert_string_equal(s->dir, tree);
	assert_true(exists(tree, "Makefile"));
	assert_true(exists(tree, "Kconfig"));
	assert_true(exists(tree, "init/main.c"));
	/* The tarball itself is left alone. */
	assert_int_equal(access(file, F_OK), 0);

	/* A second extraction into the same work dir is refused, not merged. */
	assert_int_equal(source_fetch(s, work, NULL, &why), -EEXIST);
	rm_rf(work);
	rm_rf(dir);
}

static void test_tarball_variants(void **state)
{
	char dir[300], work[300], file[400], sha[65], label[64];
	_cleanup_free_ char *why = NULL;
	int r;

	new_dir("tarballs", dir, sizeof(dir));

	/* No version in the name, gzip, loose files at the top: "tar-{sha12}", tree = linux/. */
	make_tarball(dir, "snapshot.tgz", "", "-czf");
	(void) snprintf(file, sizeof(file), "%s/snapshot.tgz", dir);
	sha256sum(file, sha);
	_cleanup_source_ struct kts_source *s = tarball_open(file, &why, &r);
	assert_int_equal(r, 0);
	(void) snprintf(label, sizeof(label), "tar-%.12s", sha);
	assert_string_equal(s->label, label);
	assert_null(s->version);
	new_dir("work", work, sizeof(work));
	assert_int_equal(source_fetch(s, work, NULL, &why), 0);
	assert_true(exists(s->dir, "Makefile"));
	rm_rf(work);

	/* Not an archive: tar's complaint reaches the caller. */
	write_file(dir, "garbage.tar.xz", "this is not an archive\n");
	(void) snprintf(file, sizeof(file), "%s/garbage.tar.xz", dir);
	_cleanup_source_ struct kts_source *g = tarball_open(file, &why, &r);
	assert_int_equal(r, 0);
	new_dir("work", work, sizeof(work));
	assert_int_equal(source_fetch(g, work, NULL, &why), -EIO);
	assert_non_null(why);
	assert_non_null(strstr(why, "tar"));
	free(why);
	why = NULL;
	rm_rf(work);

	/* An archive without a kernel tree in it. */
	write_file(dir, "stage/notes/README", "hello\n");
	(void) snprintf(file, sizeof(file), "%s/notes.tar.gz", dir);
	{
		char stage[400];

		(void) snprintf(stage, sizeof(stage), "%s/stage", dir);
		assert_int_equal(run("tar", "-czf", file, "-C", stage, "notes", NULL), 0);
	}
	_cleanup_source_ struct kts_source *n = tarball_open(file, &why, &r);
	assert_int_equal(r, 0);
	new_dir("work", work, sizeof(work));
	assert_int_equal(source_fetch(n, work, NULL, &why), -ENOEXEC);
	assert_non_null(strstr(why, "not a kernel source tree"));
	free(why);
	why = NULL;
	rm_rf(work);

	/* Missing file, and a directory passed as a tarball. */
	(void) snprintf(file, sizeof(file), "%s/absent.tar.xz", dir);
	assert_null(tarball_open(file, &why, &r));
	assert_int_equal(r, -ENOENT);
	free(why);
	why = NULL;
	assert_null(tarball_open(dir, &why, &r));
	assert_int_equal(r, -EISDIR);
	rm_rf(dir);
}

/* ---------------------------------------------------------- fake mirror */

static char g_sha_6_12_3[65];

/*
 * The mirror's content:
 *   releases.json          mainline 6.14-rc2, stable 6.13.2, longterm 6.12.3 and 6.1.120,
 *                          linux-next; latest_stable 6.13.2
 *   v6.x/linux-6.12.3.tar.xz  a real tarball of a fake tree, correct checksum
 *   v6.x/linux-6.13.2.tar.xz  the same bytes (stable downloads work too)
 *   v6.x/linux-6.12.2.tar.xz  real, but listed with a wrong checksum
 *   v6.x/linux-6.12.4.tar.xz  listed, absent (404)
 *   v6.x/linux-6.12.5.tar.xz  an HTML error page, listed with its own checksum
 *   v6.x/sha256sums.asc    PGP-armoured list, also naming EOL 6.6.9 and 6.6.10
 *   portal/releases.json   an HTML page (a mirror URL pointing at a web page)
 */
static void build_mirror(void)
{
	char dir[400], file[500], sha_html[65], sums[2048];
	const char *html = "<!DOCTYPE html>\n<html><body><h1>Mirror maintenance</h1></body></html>\n";

	(void) snprintf(g_mirror, sizeof(g_mirror), "%s/mirror", g_root);
	(void) snprintf(dir, sizeof(dir), "%s/v6.x", g_mirror);
	write_file(g_mirror, "releases.json",
		   "{\n"
		   "  \"latest_stable\": {\"version\": \"6.13.2\"},\n"
		   "  \"releases\": [\n"
		   "    {\"moniker\": \"mainline\", \"version\": \"6.14-rc2\", \"iseol\": false},\n"
		   "    {\"moniker\": \"stable\", \"version\": \"6.13.2\", \"iseol\": false},\n"
		   "    {\"moniker\": \"longterm\", \"version\": \"6.1.120\", \"iseol\": false},\n"
		   "    {\"moniker\": \"longterm\", \"version\": \"6.12.3\", \"iseol\": false},\n"
		   "    {\"moniker\": \"longterm\", \"version\": 612},\n"
		   "    {\"moniker\": \"linux-next\", \"version\": \"next-20250101\"}\n"
		   "  ]\n"
		   "}\n");
	write_file(g_mirror, "portal/releases.json", html);
	write_file(dir, "linux-6.12.5.tar.xz", html);

	make_tarball(dir, "linux-6.12.3.tar.xz", "linux-6.12.3", "-cJf");
	(void) snprintf(file, sizeof(file), "%s/linux-6.12.3.tar.xz", dir);
	sha256sum(file, g_sha_6_12_3);
	make_tarball(dir, "linux-6.12.2.tar.xz", "linux-6.12.2", "-cJf");
	make_tarball(dir, "linux-6.13.2.tar.xz", "linux-6.13.2", "-cJf");
	{
		char sha_6_13_2[65];

		(void) snprintf(file, sizeof(file), "%s/linux-6.13.2.tar.xz", dir);
		sha256sum(file, sha_6_13_2);
		(void) snprintf(file, sizeof(file), "%s/linux-6.12.5.tar.xz", dir);
		sha256sum(file, sha_html);
		(void) snprintf(sums, sizeof(sums),
				"-----BEGIN PGP SIGNED MESSAGE-----\n"
				"Hash: SHA256\n\n"
				"%s  linux-6.12.3.tar.xz\n"
				"%s  linux-6.13.2.tar.xz\n"
				"0000000000000000000000000000000000000000000000000000000000000000  "
				"linux-6.12.2.tar.xz\n"
				"1111111111111111111111111111111111111111111111111111111111111111  "
				"linux-6.12.4.tar.xz\n"
				"%s  linux-6.12.5.tar.xz\n"
				"2222222222222222222222222222222222222222222222222222222222222222  "
				"linux-6.6.9.tar.xz\n"
				"3333333333333333333333333333333333333333333333333333333333333333  "
				"linux-6.6.10.tar.xz\n"
				"4444444444444444444444444444444444444444444444444444444444444444  "
				"linux-6.6.10.tar.sign\n"
				"-----BEGIN PGP SIGNATURE-----\n\n"
				"iQIzBAEBCAAdFiEEZH8oZUiU471FcZm+ONu9yGCSaT4FAmdummy=\n"
				"-----END PGP SIGNATURE-----\n",
				g_sha_6_12_3, sha_6_13_2, sha_html);
	}
	write_file(dir, "sha256sums.asc", sums);
}

static int start_mirror(void)
{
	int fds[2];
	char line[32] = "";
	ssize_t n = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		(void) dup2(fds[1], 1);
		execlp("python3", "python3", MIRROR_SCRIPT, g_mirror, (char *) NULL);
		_exit(127);
	}
	(void) close(fds[1]);
	/* Up to the newline, so the script has finished writing before the pipe closes. */
	for (size_t got = 0; got < sizeof(line) - 1 && !strchr(line, '\n'); got += (size_t) n) {
		n = read(fds[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
	}
	(void) close(fds[0]);
	if (n <= 0 || atoi(line) <= 0) {
		(void) kill(pid, SIGTERM);
		(void) waitpid(pid, NULL, 0);
		return -ECHILD;
	}
	g_mirror_pid = pid;
	(void) snprintf(g_url, sizeof(g_url), "http://127.0.0.1:%d", atoi(line));
	return 0;
}

static void need_mirror(void)
{
	if (g_mirror_pid <= 0)
		skip(); /* python3 absent: said once in group_setup */
}

static int release_err(const char *spec, const char *mirror, char **why)
{
	struct kts_fetch_opts o = { .mirror = mirror };
	char *v = NULL;
	int r = source_release_resolve(spec, &o, &v, why);

	assert_null(v);
	return r;
}

static void assert_resolves(const char *spec, const char *want)
{
	struct kts_fetch_opts o = { .mirror = g_url };
	_cleanup_free_ char *v = NULL, *why = NULL;
	int r = source_release_resolve(spec, &o, &v, &why);

	if (r < 0)
		fail_msg("resolve %s: %s: %s", spec, strerror(-r), why ? why : "");
	assert_string_equal(v, want);
}

static void test_release_resolve(void **state)
{
	need_mirror();
	assert_resolves("6.12", "6.12.3");   /* not 6.1.120: series match is per segment */
	assert_resolves("6.1", "6.1.120");   /* not 6.12.3 */
	assert_resolves("stable", "6.13.2"); /* latest_stable */
	assert_resolves("mainline", "6.14-rc2");
	assert_resolves("6.12.7", "6.12.7"); /* full versions are taken as given */
	assert_resolves("6.15-rc1", "6.15-rc1");
	/* An EOL series gone from releases.json: newest in the checksum list (10 > 9). */
	assert_resolves("6.6", "6.6.10");

	_cleanup_free_ char *why = NULL;
	assert_int_equal(release_err("6.7", g_url, &why), -ENOENT);
	assert_non_null(strstr(why, "6.7"));
	free(why);
	why = NULL;
	assert_int_equal(release_err("not-a-version", g_url, &why), -EINVAL);
}

static void test_release_mirror_from_env(void **state)
{
	_cleanup_free_ char *v = NULL, *url = NULL;
	char want[200];

	need_mirror();
	assert_int_equal(setenv("KTSCOPE_KERNEL_MIRROR", g_url, 1), 0);
	assert_int_equal(source_release_resolve("stable", NULL, &v, NULL), 0);
	assert_string_equal(v, "6.13.2");
	assert_int_equal(source_release_url("6.13.2", NULL, &url), 0);
	(void) snprintf(want, sizeof(want), "%s/v6.x/linux-6.13.2.tar.xz", g_url);
	assert_string_equal(url, want);
	assert_int_equal(unsetenv("KTSCOPE_KERNEL_MIRROR"), 0);

	/* An empty variable is unset: the CDN. */
	free(url);
	assert_int_equal(setenv("KTSCOPE_KERNEL_MIRROR", "", 1), 0);
	assert_int_equal(source_release_url("6.12.3", NULL, &url), 0);
	assert_string_equal(url, SOURCE_DEFAULT_MIRROR "/v6.x/linux-6.12.3.tar.xz");
	assert_int_equal(unsetenv("KTSCOPE_KERNEL_MIRROR"), 0);
}

struct progress_seen {
	unsigned calls;
	uint64_t last_done, last_total;
	bool monotonic;
};

static void on_progress(uint64_t done, uint64_t total, void *userdata)
{
	struct progress_seen *p = userdata;

	if (done < p->last_done)
		p->monotonic = false;
	p->calls++;
	p->last_done = done;
	p->last_total = total;
}

/* Opens a release spec against the mirror (must succeed); fetch result returned. */
static int release_fetch(const char *spec, struct kts_fetch_opts *o, char *work, size_t size,
			 struct kts_source **ret, char **why)
{
	struct kts_source_spec sp = {};
	int r;

	assert_int_equal(source_spec_parse(spec, &sp), 0);
	assert_int_equal(sp.kind, KTS_SOURCE_RELEASE);
	r = source_open(&sp, o, ret, why);
	source_spec_done(&sp);
	if (r < 0)
		fail_msg("open %s: %s: %s", spec, strerror(-r), why && *why ? *why : "");
	new_dir("dl", work, size);
	return source_fetch(*ret, work, o, why);
}

static void test_release_download_verified(void **state)
{
	struct progress_seen seen = { .monotonic = true };
	struct kts_fetch_opts o = { .mirror = g_url, .progress = on_progress, .userdata = &seen };
	_cleanup_source_ struct kts_source *s = NULL;
	_cleanup_free_ char *why = NULL;
	char work[300], identity[100], url[200], file[400];
	struct stat st;
	int r;

	need_mirror();
	r = release_fetch("6.12", &o, work, sizeof(work), &s, &why);
	if (r < 0)
		fail_msg("fetch: %s: %s", strerror(-r), why ? why : "");
	assert_string_equal(s->label, "6.12.3");
	assert_string_equal(s->version, "6.12.3");
	assert_string_equal(s->tarball_sha256, g_sha_6_12_3);
	(void) snprintf(identity, sizeof(identity), "release 6.12.3 %s", g_sha_6_12_3);
	assert_string_equal(s->identity, identity);
	(void) snprintf(url, sizeof(url), "%s/v6.x/linux-6.12.3.tar.xz", g_url);
	assert_string_equal(s->url, url);
	assert_true(s->cacheable && s->is_temp);
	assert_true(exists(s->dir, "Makefile"));
	assert_true(exists(s->dir, "init/main.c"));

	/* Progress ended at the full size of the file. */
	(void) snprintf(file, sizeof(file), "%s/v6.x/linux-6.12.3.tar.xz", g_mirror);
	assert_int_equal(stat(file, &st), 0);
	assert_true(seen.calls > 0);
	assert_true(seen.monotonic);
	assert_int_equal(seen.last_done, (uint64_t) st.st_size);
	assert_int_equal(seen.last_total, (uint64_t) st.st_size);
	rm_rf(work);
}

static void test_release_identity_before_download(void **state)
{
	struct kts_fetch_opts o = { .mirror = g_url };
	struct kts_source_spec sp = {};
	_cleanup_source_ struct kts_source *s = NULL;

	need_mirror();
	assert_int_equal(source_spec_parse("6.12.3", &sp), 0);
	assert_int_equal(source_open(&sp, &o, &s, NULL), 0);
	source_spec_done(&sp);
	/* Known from the checksum list alone, so the cache can be asked first. */
	assert_non_null(s->identity);
	assert_string_equal(s->tarball_sha256, g_sha_6_12_3);
	assert_null(s->dir);
}

static void test_release_wrong_checksum(void **state)
{
	struct kts_fetch_opts o = { .mirror = g_url };
	_cleanup_source_ struct kts_source *s = NULL;
	_cleanup_free_ char *why = NULL;
	char work[300], real[65], file[400];

	need_mirror();
	assert_int_equal(release_fetch("6.12.2", &o, work, sizeof(work), &s, &why), -EBADMSG);
	(void) snprintf(file, sizeof(file), "%s/v6.x/linux-6.12.2.tar.xz", g_mirror);
	sha256sum(file, real);
	/* Both hashes named; nothing left behind. */
	assert_non_null(why);
	assert_non_null(strstr(why, "0000000000000000000000000000000000000000000000000000000000000000"));
	assert_non_null(strstr(why, real));
	assert_false(exists(work, "linux-6.12.2.tar.xz"));
	assert_false(exists(work, "linux"));
	rm_rf(work);
}

static void test_release_404(void **state)
{
	struct kts_fetch_opts o = { .mirror = g_url };
	_cleanup_source_ struct kts_source *s = NULL;
	_cleanup_free_ char *why = NULL;
	struct kts_source_spec sp = {};
	char work[300], url[200];

	need_mirror();
	/* Listed in the checksums, missing on the server. */
	assert_int_equal(release_fetch("6.12.4", &o, work, sizeof(work), &s, &why), -ENOENT);
	(void) snprintf(url, sizeof(url), "%s/v6.x/linux-6.12.4.tar.xz", g_url);
	assert_non_null(strstr(why, "not found"));
	assert_non_null(strstr(why, url));
	assert_false(exists(work, "linux-6.12.4.tar.xz"));
	rm_rf(work);
	free(why);
	why = NULL;

	/* Not even listed: found out before any download. */
	assert_int_equal(source_spec_parse("6.12.99", &sp), 0);
	assert_int_equal(source_open(&sp, &o, &s, &why), 0 - ENOENT);
	assert_non_null(strstr(why, "6.12.99 not found"));
	source_spec_done(&sp);
	free(why);
	why = NULL;

	/* A major with no directory on the mirror. */
	assert_int_equal(source_spec_parse("7.0.1", &sp), 0);
	assert_int_equal(source_open(&sp, &o, &s, &why), -ENOENT);
	assert_non_null(strstr(why, "/v7.x/sha256sums.asc"));
	source_spec_done(&sp);
}

static void test_release_html_instead_of_data(void **state)
{
	struct kts_fetch_opts o = { .mirror = g_url };
	_cleanup_source_ struct kts_source *s = NULL;
	_cleanup_free_ char *why = NULL;
	char work[300], portal[200];

	need_mirror();
	/* A tarball URL answering with a web page. */
	assert_int_equal(release_fetch("6.12.5", &o, work, sizeof(work), &s, &why), -EMEDIUMTYPE);
	assert_non_null(strstr(why, "HTML"));
	assert_false(exists(work, "linux-6.12.5.tar.xz"));
	rm_rf(work);
	free(why);
	why = NULL;

	/* releases.json answering with a web page. */
	(void) snprintf(portal, sizeof(portal), "%s/portal", g_url);
	assert_int_equal(release_err("stable", portal, &why), -EMEDIUMTYPE);
	assert_non_null(strstr(why, "releases.json"));
}

static void test_release_connection_refused(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	_cleanup_free_ char *why = NULL;
	char mirror[100];
	int fd;

	/* A port that was free a moment ago and has no listener. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
	(void) close(fd);
	(void) snprintf(mirror, sizeof(mirror), "http://127.0.0.1:%u/pub", ntohs(a.sin_port));

	assert_int_equal(release_err("stable", mirror, &why), -ECONNREFUSED);
	assert_non_null(strstr(why, mirror));
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
	if (run("mkfs.ext4", "-q", "-F", "-U", uuid, img, "1M", NULL) != 0)
		skip(); /* e2fsprogs absent */
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

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void) snprintf(g_root, sizeof(g_root), "%s/ktscope-test-source.XXXXXX",
			tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(g_root))
		return -1;
	assert_int_equal(git_libgit2_init() > 0, 1);
	build_mirror();
	if (start_mirror() < 0) {
		(void) fprintf(stderr, "# python3 not available: release tests will be skipped\n");
		g_mirror_pid = 0;
	}
	return 0;
}

static int group_teardown(void **state)
{
	if (g_mirror_pid > 0) {
		(void) kill(g_mirror_pid, SIGTERM);
		(void) waitpid(g_mirror_pid, NULL, 0);
	}
	(void) git_libgit2_shutdown();
	rm_rf(g_root);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_parse_kinds),
		cmocka_unit_test(test_spec_parse_git),
		cmocka_unit_test_setup_teardown(test_local_clean_key, sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_canonical_path, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_untracked_file_is_dirty, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_ignored_files_stay_clean, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_tracked_edit_changes_state, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_staged_change_is_dirty, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_recheck, sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_state_api, sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_threads_agree, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_local_nested_in_other_repo, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test(test_local_nogit_not_cacheable),
		cmocka_unit_test(test_local_refuses_non_kernel_dirs),
		cmocka_unit_test_setup_teardown(test_git_clone_branch, remote_setup, remote_teardown),
		cmocka_unit_test_setup_teardown(test_git_clone_tag, remote_setup, remote_teardown),
		cmocka_unit_test_setup_teardown(test_git_clone_commit, remote_setup, remote_teardown),
		cmocka_unit_test_setup_teardown(test_git_unknown_ref, remote_setup, remote_teardown),
		cmocka_unit_test(test_tarball_identity_and_extract),
		cmocka_unit_test(test_tarball_variants),
		cmocka_unit_test(test_release_resolve),
		cmocka_unit_test(test_release_mirror_from_env),
		cmocka_unit_test(test_release_download_verified),
		cmocka_unit_test(test_release_identity_before_download),
		cmocka_unit_test(test_release_wrong_checksum),
		cmocka_unit_test(test_release_404),
		cmocka_unit_test(test_release_html_instead_of_data),
		cmocka_unit_test(test_release_connection_refused),
		cmocka_unit_test(test_fsid_mountinfo_parse),
		cmocka_unit_test(test_fsid_probe_image),
		cmocka_unit_test(test_fsid_get_never_fails),
	};

	return cmocka_run_group_tests_name("source", tests, group_setup, group_teardown);
}
