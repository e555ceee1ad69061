/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sources that are fetched, against real things: git remotes (bare repositories made
 * from libgit2 sandboxes, test-source.h), real tarballs made with tar(1), and a fake
 * kernel.org mirror (tests/integration/mirror.py on 127.0.0.1, test-server.h) serving a
 * directory the test builds: source-git.c, source-tarball.c, source-release.c and, through
 * them, http.c. Every path lives under one mkdtemp() directory.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include "test-source.h"
#include "test-skip.h"
#include "test-server.h"

#include "macro.h"
#include "hash.h"
#include "source.h"
#include "source-internal.h"

static char g_mirror[300]; /* the directory the fake mirror serves */
static char g_url[128];    /* http://127.0.0.1:PORT */
static pid_t g_mirror_pid;

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
	assert_int_equal(git_branch_create(&ref, rm->sb.repo, "feature", (git_commit *) target, 0),
			 0);
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
	assert_int_equal(git_reference_create(&ref, bare, "refs/heads/feature", &feature, 1, NULL),
			 0);
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
	_cleanup_source_ struct kts_source *f =
		git_fetch_ok(rm->bare, "feature", work, sizeof(work));
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
	_cleanup_source_ struct kts_source *l =
		git_fetch_ok(rm->bare, "refs/tags/light", work2, sizeof(work2));
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

	_cleanup_source_ struct kts_source *c =
		git_fetch_ok(rm->bare, rm->tagged_hex, work, sizeof(work));
	assert_git_source(c, rm->tagged_hex, work);

	/* An abbreviated id is known only after the fetch. */
	(void) snprintf(abbrev, sizeof(abbrev), "%.10s", rm->feature_hex);
	assert_int_equal(source_spec_git(rm->bare, abbrev, &spec), 0);
	assert_int_equal(source_open(&spec, NULL, &s, NULL), 0);
	assert_null(s->identity);
	source_free(s);
	source_spec_done(&spec);
	_cleanup_source_ struct kts_source *a =
		git_fetch_ok(rm->bare, abbrev, work2, sizeof(work2));
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

/* make_tarball(), opened as a source, which must succeed; its path into file, sha256 into sha. */
static struct kts_source *tarball_made(const char *dir, const char *name, const char *top,
				       const char *flag, char file[static 400], char sha[static 65])
{
	_cleanup_free_ char *why = NULL;
	struct kts_source *s;
	int r;

	make_tarball(dir, name, top, flag);
	(void) snprintf(file, 400, "%s/%s", dir, name);
	sha256sum(file, sha);
	s = tarball_open(file, &why, &r);
	if (r != 0)
		fail_msg("opening '%s': %d %s", file, r, strempty(why));
	return s;
}

static void test_tarball_identity_and_extract(void **state)
{
	char dir[300], work[300], file[400], sha[65], label[64], identity[80], tree[400];
	_cleanup_free_ char *why = NULL;

	new_dir("tarballs", dir, sizeof(dir));
	_cleanup_source_ struct kts_source *s = tarball_made(dir, "linux-source-6.12.tar.xz",
							     "linux-source-6.12", "-cJf", file, sha);
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
	_cleanup_source_ struct kts_source *s = tarball_made(dir, "snapshot.tgz", "", "-czf",
							     file, sha);
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
	const char *html =
		"<!DOCTYPE html>\n<html><body><h1>Mirror maintenance</h1></body></html>\n";

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

static void need_mirror(void)
{
	test_need(g_mirror_pid > 0, "the fake mirror (python3 tests/integration/mirror.py) did not start");
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
	assert_non_null(
		strstr(why, "0000000000000000000000000000000000000000000000000000000000000000"));
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

/*
 * The mirror's text in a reason is shown printable and on one line: a "version" with a
 * newline and a terminal escape (found by fuzz/fuzz-release). No mirror needed.
 */
static void test_release_json_malformed_version_printable(void **state)
{
	static const char body[] = "{\"latest_stable\": {\"version\": \"6.1\\n\\u001b[2J\"}}";
	_cleanup_free_ char *ver = NULL, *why = NULL;

	(void) state;
	assert_int_equal(source_release_resolve_json(body, "M/releases.json", "stable", &ver, &why),
			 -EPROTO);
	assert_null(ver);
	assert_string_equal(why, "M/releases.json names a malformed version '6.1??[2J'");
}

/*
 * A checksum line is one line: a hash alone on a line is not paired with the name on the
 * next one (sscanf() read past the line end), and hash and name are separated by blanks.
 */
static void test_release_sums_one_line_each(void **state)
{
	static const char body[] =
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
		"linux-6.1.1.tar.xz\n"
		"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB  linux-6.1.2.tar.xz\r\n"
		"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccclinux-6.1.3.tar.xz\n"
		"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd  linux-6.1.4.tar.xz x\n";
	_cleanup_free_ char *ver = NULL;
	char sha[65];

	(void) state;
	assert_int_equal(source_release_sums_lookup(body, "6.1.1", NULL, sha, NULL), -ENOENT);
	assert_int_equal(source_release_sums_lookup(body, "6.1.3", NULL, sha, NULL), -ENOENT);
	assert_int_equal(source_release_sums_lookup(body, "6.1.4", NULL, sha, NULL), -ENOENT);
	assert_int_equal(source_release_sums_lookup(body, "6.1.2", NULL, sha, NULL), 0);
	assert_string_equal(sha, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_int_equal(source_release_sums_lookup(body, NULL, "6.1", sha, &ver), 0);
	assert_string_equal(ver, "6.1.2");
}

/* ------------------------------------------------------------------- main */

static int group_setup(void **state)
{
	if (test_root_setup("source-fetch") < 0)
		return -1;
	build_mirror();
	if (test_server_start(g_mirror, NULL, NULL, &g_mirror_pid, g_url, sizeof(g_url)) < 0)
		(void) fprintf(stderr, "# python3 not available: release tests will be skipped\n");
	return 0;
}

static int group_teardown(void **state)
{
	test_server_stop(&g_mirror_pid);
	test_root_teardown();
	return 0;
}

/*
 * The commit date of the stamps (source_commit_time()): the git program's answer is
 * libgit2's, for a commit whose committer date and author date differ; without git, or
 * with a git that prints nonsense, libgit2 answers; a commit that is not there is -EIO.
 */
static void test_commit_time_agrees(void **state)
{
	struct sandbox *sb = *state;
	_cleanup_free_ char *path = NULL;
	struct kts_source s = { .kind = KTS_SOURCE_LOCAL, .dir = sb->dir };
	git_oid oid;
	int64_t t = 0;
	char bin[400];

	test_need(run("git", "--version", NULL) == 0, "git");
	path = strdup(getenv("PATH"));
	assert_non_null(path);
	assert_int_equal(setenv("GIT_AUTHOR_DATE", "@1111111111 +0000", 1), 0);
	assert_int_equal(setenv("GIT_COMMITTER_DATE", "@1234567890 +0200", 1), 0);
	GIT(sb->dir, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q", "--allow-empty",
	    "-m", "dated");
	assert_int_equal(unsetenv("GIT_AUTHOR_DATE"), 0);
	assert_int_equal(unsetenv("GIT_COMMITTER_DATE"), 0);
	assert_int_equal(git_reference_name_to_id(&oid, sb->repo, "HEAD"), 0);
	(void) git_oid_tostr(s.commit, sizeof(s.commit), &oid);

	assert_int_equal(source_gitcli_commit_time(sb->dir, s.commit, &t), 0);
	assert_int_equal(t, 1234567890);
	t = 0;
	assert_int_equal(source_commit_time(&s, &t), 0);
	assert_int_equal(t, 1234567890);
	assert_int_equal(setenv("KTSCOPE_GIT", "libgit2", 1), 0);
	t = 0;
	assert_int_equal(source_commit_time(&s, &t), 0);
	assert_int_equal(t, 1234567890);
	assert_int_equal(unsetenv("KTSCOPE_GIT"), 0);

	new_dir("datebin", bin, sizeof(bin));
	write_file(bin, "git", "#!/bin/sh\necho 12x\n");
	chmod_at(bin, "git", 0755);
	assert_int_equal(setenv("PATH", bin, 1), 0);
	assert_int_equal(source_gitcli_commit_time(sb->dir, s.commit, &t), 1);
	t = 0;
	assert_int_equal(source_commit_time(&s, &t), 0);
	assert_int_equal(t, 1234567890);
	assert_int_equal(setenv("PATH", path, 1), 0);

	memcpy(s.commit, "0123456789012345678901234567890123456789", 41);
	assert_int_equal(source_gitcli_commit_time(sb->dir, s.commit, &t), 1);
	assert_int_equal(source_commit_time(&s, &t), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_git_clone_branch, remote_setup,
						remote_teardown),
		cmocka_unit_test_setup_teardown(test_git_clone_tag, remote_setup, remote_teardown),
		cmocka_unit_test_setup_teardown(test_git_clone_commit, remote_setup,
						remote_teardown),
		cmocka_unit_test_setup_teardown(test_git_unknown_ref, remote_setup,
						remote_teardown),
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
		cmocka_unit_test(test_release_json_malformed_version_printable),
		cmocka_unit_test(test_release_sums_one_line_each),
		cmocka_unit_test_setup_teardown(test_commit_time_agrees, sandbox_setup,
						sandbox_teardown),
	};

	return cmocka_run_group_tests_name("source-fetch", tests, group_setup, group_teardown);
}
