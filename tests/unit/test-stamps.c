/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stamps.c: the KBUILD_BUILD_TIMESTAMP date format (as `LC_ALL=C TZ=UTC date` prints it),
 * SOURCE_DATE_EPOCH parsing and its bad values, the date derived from a hash, which source
 * of the timestamp wins, and the reproducer's shell quoting (checked by a real shell).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "macro.h"
#include "metadata.h"
#include "stamps.h"

static void format_date(void **state)
{
	char buf[STAMPS_DATE_MAX];

	(void) state;
	assert_int_equal(stamps_format_date(0, buf), 0);
	assert_string_equal(buf, "Thu Jan  1 00:00:00 UTC 1970");
	assert_int_equal(stamps_format_date(1733400000, buf), 0);
	assert_string_equal(buf, "Thu Dec  5 12:00:00 UTC 2024");
	/* A leap day, a two-digit day of the month, the last second. */
	assert_int_equal(stamps_format_date(951782400, buf), 0);
	assert_string_equal(buf, "Tue Feb 29 00:00:00 UTC 2000");
	assert_int_equal(stamps_format_date(1700000000, buf), 0);
	assert_string_equal(buf, "Tue Nov 14 22:13:20 UTC 2023");
	assert_int_equal(stamps_format_date(STAMPS_EPOCH_MAX, buf), 0);
	assert_string_equal(buf, "Fri Dec 31 23:59:59 UTC 9999");
	assert_int_equal(stamps_format_date(-1, buf), -ERANGE);
	assert_int_equal(stamps_format_date(STAMPS_EPOCH_MAX + 1, buf), -ERANGE);
}

/* What date(1) prints for t in the C locale and UTC: the format Kbuild's default has. */
static void format_date_is_dates(void **state)
{
	static const int64_t ts[] = { 0, 86399, 1000000000, 1234567890, 1733400000, 2147483648 };

	(void) state;
	for (size_t i = 0; i < ELEMENTSOF(ts); i++) {
		char buf[STAMPS_DATE_MAX], cmd[96], line[64] = "";
		FILE *p;

		snprintf(cmd, sizeof(cmd), "LC_ALL=C TZ=UTC date -d @%lld", (long long) ts[i]);
		p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(line, sizeof(line), p));
		assert_int_equal(pclose(p), 0);
		line[strcspn(line, "\n")] = '\0';
		assert_int_equal(stamps_format_date(ts[i], buf), 0);
		assert_string_equal(buf, line);
	}
}

static void parse_epoch(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+5", " 5", "5 ", "1.5", "0x10", "1e9", "abc", "253402300800",
		"99999999999999999999", "12345678901234567890123",
	};
	int64_t t = -7;

	(void) state;
	assert_int_equal(stamps_parse_epoch("0", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(stamps_parse_epoch("1700000000", &t), 0);
	assert_int_equal(t, 1700000000);
	assert_int_equal(stamps_parse_epoch("253402300799", &t), 0);
	assert_int_equal(t, STAMPS_EPOCH_MAX);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		t = -7;
		if (stamps_parse_epoch(bad[i], &t) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_int_equal(t, -7); /* not written on failure */
	}
	assert_int_equal(stamps_parse_epoch(NULL, &t), -EINVAL);
}

static void epoch_from_sha256(void **state)
{
	const char *zeros = "0000000000000000000000000000000000000000000000000000000000000000";
	const char *ones = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
	const char *some = "00000100ab000000000000000000000000000000000000000000000000000000";
	int64_t t;

	(void) state;
	assert_int_equal(stamps_epoch_from_sha256(zeros, &t), 0);
	assert_int_equal(t, 0);
	/* 0xffffffff mod 30 years of seconds, so a date before 2000. */
	assert_int_equal(stamps_epoch_from_sha256(ones, &t), 0);
	assert_int_equal(t, INT64_C(4294967295) % INT64_C(946684800));
	assert_true(t < 946684800);
	assert_int_equal(stamps_epoch_from_sha256(some, &t), 0);
	assert_int_equal(t, 256);
	assert_int_equal(stamps_epoch_from_sha256("abc", &t), -EINVAL);
	assert_int_equal(stamps_epoch_from_sha256(
				 "FFFFFFFFffffffffffffffffffffffffffffffffffffffffffffffffffffffff", &t),
			 -EINVAL);
}

#define SHA_X "0000ffff00000000000000000000000000000000000000000000000000000000"

/* The first source that applies wins: make variable, SOURCE_DATE_EPOCH, commit, tarball,
 * the identity; user, host and version are ktscope's unless a make variable names them. */
static void compute_order(void **state)
{
	char *vars[] = { "KBUILD_BUILD_HOST=box", "KBUILD_BUILD_TIMESTAMP=yesterday", NULL };
	struct kts_stamps_input in = {
		.source_date_epoch = "86400", .have_commit_time = true, .commit_time = 1000000000,
		.have_tree_time = true, .tree_time = 1234567890, .identity_sha256 = SHA_X,
	};
	struct kts_stamps s = { 0 };
	_cleanup_free_ char *why = NULL;

	(void) state;
	assert_int_equal(stamps_compute(&in, &s, NULL), 0);
	assert_string_equal(s.from, "SOURCE_DATE_EPOCH");
	assert_string_equal(s.timestamp, "Fri Jan  2 00:00:00 UTC 1970");
	assert_int_equal(s.epoch, 86400);
	assert_string_equal(s.user, "ktscope");
	assert_string_equal(s.host, "ktscope");
	assert_string_equal(s.version, "1");
	stamps_done(&s);

	in.source_date_epoch = NULL;
	assert_int_equal(stamps_compute(&in, &s, NULL), 0);
	assert_string_equal(s.from, "git-commit");
	assert_string_equal(s.timestamp, "Sun Sep  9 01:46:40 UTC 2001");
	stamps_done(&s);

	in.have_commit_time = false;
	assert_int_equal(stamps_compute(&in, &s, NULL), 0);
	assert_string_equal(s.from, "tarball");
	assert_int_equal(s.epoch, 1234567890);
	stamps_done(&s);

	/* A tree time that is no date falls through to the identity. */
	in.tree_time = -5;
	assert_int_equal(stamps_compute(&in, &s, NULL), 0);
	assert_string_equal(s.from, "source-identity");
	assert_int_equal(s.epoch, 0xffff);
	stamps_done(&s);

	in.make_vars = vars;
	in.n_make_vars = 2;
	assert_int_equal(stamps_compute(&in, &s, NULL), 0);
	assert_string_equal(s.from, "make-variable");
	assert_string_equal(s.timestamp, "yesterday");
	assert_int_equal(s.epoch, -1);
	assert_string_equal(s.host, "box");
	assert_string_equal(s.user, "ktscope");
	stamps_done(&s);

	in = (struct kts_stamps_input){ .source_date_epoch = "soon" };
	assert_int_equal(stamps_compute(&in, &s, &why), -EINVAL);
	assert_non_null(strstr(why, "SOURCE_DATE_EPOCH 'soon'"));
	free(why);
	why = NULL;
	in = (struct kts_stamps_input){ 0 };
	assert_int_equal(stamps_compute(&in, &s, &why), -EINVAL);
	assert_non_null(why);
}

/* `date -d`, as Kbuild's scripts read the variable. */
static void date_epoch(void **state)
{
	int64_t t = 0;

	(void) state;
	assert_int_equal(stamps_date_epoch("Thu Jan  1 00:00:10 UTC 1970", &t), 0);
	assert_int_equal(t, 10);
	assert_int_equal(stamps_date_epoch("@1700000000", &t), 0);
	assert_int_equal(t, 1700000000);
	assert_int_equal(stamps_date_epoch("not a date at all", &t), -EINVAL);
}

/* The environment every make run inherits; a fetched tree's path mapped in KCFLAGS. */
static void apply_env(void **state)
{
	struct kts_stamps s = { .timestamp = "T", .epoch = 42, .user = "u", .host = "h",
				.version = "1", .from = "tarball", .map_tree = true };

	(void) state;
	assert_int_equal(setenv("KCFLAGS", "-Og", 1), 0);
	assert_int_equal(unsetenv("KAFLAGS"), 0);
	assert_int_equal(stamps_apply_env(&s, "/c/.tmp/build.1/src/linux"), 0);
	assert_string_equal(getenv("KBUILD_BUILD_TIMESTAMP"), "T");
	assert_string_equal(getenv("KBUILD_BUILD_USER"), "u");
	assert_string_equal(getenv("KBUILD_BUILD_HOST"), "h");
	assert_string_equal(getenv("KBUILD_BUILD_VERSION"), "1");
	assert_string_equal(getenv("SOURCE_DATE_EPOCH"), "42");
	assert_string_equal(getenv("KCFLAGS"), "-fdebug-prefix-map=/c/.tmp/build.1/src/linux=. -Og");
	assert_string_equal(getenv("KAFLAGS"), "-fdebug-prefix-map=/c/.tmp/build.1/src/linux=.");
	/* A path make would split: not mapped. A local tree: not mapped. */
	assert_int_equal(unsetenv("KCFLAGS"), 0);
	assert_int_equal(unsetenv("KAFLAGS"), 0);
	assert_int_equal(stamps_apply_env(&s, "/my cache/linux"), 0);
	assert_null(getenv("KCFLAGS"));
	s.map_tree = false;
	assert_int_equal(stamps_apply_env(&s, "/src/linux"), 0);
	assert_null(getenv("KCFLAGS"));
	/* Off: the four are removed, whatever was there. */
	assert_int_equal(stamps_apply_env(NULL, "/src/linux"), 0);
	assert_null(getenv("KBUILD_BUILD_TIMESTAMP"));
	assert_null(getenv("KBUILD_BUILD_USER"));
	assert_null(getenv("KBUILD_BUILD_HOST"));
	assert_null(getenv("KBUILD_BUILD_VERSION"));
}

/* word quoted by stamps_shell_quote() must reach a real shell as word. */
static void shell_sees(const char *word)
{
	_cleanup_free_ char *q = stamps_shell_quote(word), *cmd = NULL, *sq = NULL;
	char got[256] = "";
	size_t n;
	FILE *p;

	assert_non_null(q);
	/* printf %s of the quoted word, inside sh -c '...' (itself quoted the same way) */
	assert_true(asprintf(&cmd, "printf %%s %s", q) > 0);
	sq = stamps_shell_quote(cmd);
	free(cmd);
	assert_true(asprintf(&cmd, "sh -c %s", sq) > 0);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(got, 1, sizeof(got) - 1, p);
	got[n] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_string_equal(got, word);
}

static void shell_quote(void **state)
{
	static const char *const words[] = {
		"plain", "/a/b-c_d.e", "with space", "it's", "'", "''", "$HOME", "`id`", "a\"b",
		"back\\slash", "*", "~user", "semi;colon", "KCFLAGS=-O2 -g", "new\nline", "#x",
	};
	_cleanup_free_ char *a = stamps_shell_quote("/src/linux-6.12"),
			    *b = stamps_shell_quote("my tree"), *c = stamps_shell_quote("it's"),
			    *d = stamps_shell_quote("");

	(void) state;
	assert_string_equal(a, "/src/linux-6.12");
	assert_string_equal(b, "'my tree'");
	assert_string_equal(c, "'it'\\''s'");
	assert_string_equal(d, "''");
	for (size_t i = 0; i < ELEMENTSOF(words); i++)
		shell_sees(words[i]);
}

static struct kts_metadata *meta_local(void)
{
	static struct kts_metadata_extra extras[] = {
		{ .path = "/home/u/my frag's.config", .sha256 = SHA_X },
		{ .path = "/home/u/two.config", .sha256 = SHA_X },
	};
	static char *vars[] = { "KCFLAGS=-O2 -g", "LLVM=1" };
	static struct kts_metadata m;

	m = (struct kts_metadata){
		.source = { .kind = "local", .path = "/src/my linux", .commit =
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
		.base = "tinyconfig", .extra_kconfig = extras, .n_extra_kconfig = 2,
		.make_vars = vars, .n_make_vars = 2, .build_dir = "/tmp/o dir",
		.stamps_state = KTS_METADATA_STAMPS_ON,
		.stamps = { .timestamp = "T", .epoch = 7, .user = "ktscope", .host = "ktscope",
			    .version = "1", .from = "git-commit" },
	};
	return &m;
}

static void reproducer(void **state)
{
	struct kts_metadata *m = meta_local();
	char *cmd = NULL, *note = NULL;

	(void) state;
	assert_int_equal(stamps_reproducer(m, &cmd, &note), 0);
	assert_string_equal(cmd, "ktscope build --source '/src/my linux' --base tinyconfig "
			    "--extra-kconfig '/home/u/my frag'\\''s.config' --extra-kconfig "
			    "/home/u/two.config --build-dir '/tmp/o dir' --force -- "
			    "'KCFLAGS=-O2 -g' LLVM=1");
	assert_non_null(strstr(note, "commit aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	free(cmd);
	free(note);

	/* Stamps off; SOURCE_DATE_EPOCH goes before the command; a dirty tree's state. */
	m->stamps_state = KTS_METADATA_STAMPS_OFF;
	m->source.dirty = true;
	m->source.state_sha256 = SHA_X;
	m->n_make_vars = 0;
	m->n_extra_kconfig = 0;
	m->build_dir = NULL;
	assert_int_equal(stamps_reproducer(m, &cmd, &note), 0);
	assert_string_equal(cmd, "ktscope build --source '/src/my linux' --base tinyconfig "
			    "--no-reproducible --force");
	assert_non_null(strstr(note, SHA_X));
	free(cmd);
	free(note);
	m->stamps_state = KTS_METADATA_STAMPS_ON;
	m->stamps.from = "SOURCE_DATE_EPOCH";
	assert_int_equal(stamps_reproducer(m, &cmd, &note), 0);
	assert_string_equal(cmd, "SOURCE_DATE_EPOCH=7 ktscope build --source '/src/my linux' "
			    "--base tinyconfig --force");
	free(cmd);
	free(note);
}

static void reproducer_sources(void **state)
{
	struct kts_metadata *m = meta_local();
	char *cmd = NULL, *note = NULL;

	(void) state;
	m->n_make_vars = m->n_extra_kconfig = 0;
	m->build_dir = NULL;
	m->source = (struct kts_metadata_source){ .kind = "release", .version = "6.12.3",
		.url = "https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.12.3.tar.xz" };
	assert_int_equal(stamps_reproducer(m, &cmd, &note), 0);
	assert_string_equal(cmd, "ktscope build 6.12.3 --base tinyconfig --force");
	assert_null(note);
	free(cmd);
	m->source.url = "http://127.0.0.1:8000/v6.x/linux-6.12.3.tar.xz";
	assert_int_equal(stamps_reproducer(m, &cmd, &note), 0);
	assert_string_equal(cmd, "KTSCOPE_KERNEL_MIRROR=http://127.0.0.1:8000 ktscope build "
			    "6.12.3 --base tinyconfig --force");
	free(cmd);
	m->source = (struct kts_metadata_source){ .kind = "git", .url = "https://x/linux.git",
		.commit = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" };
	assert_int_equal(stamps_reproducer(m, &cmd, &note), 0);
	assert_string_equal(cmd, "ktscope build --git https://x/linux.git --ref "
			    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb --base tinyconfig --force");
	free(cmd);
	m->source = (struct kts_metadata_source){ .kind = "tarball", .url = "https://x/l.tar.xz?a=1&b" };
	assert_int_equal(stamps_reproducer(m, &cmd, &note), 0);
	assert_string_equal(cmd, "ktscope build --tarball 'https://x/l.tar.xz?a=1&b' "
			    "--base tinyconfig --force");
	free(cmd);
	cmd = NULL;
	m->source = (struct kts_metadata_source){ .kind = "git", .url = "https://x/linux.git" };
	assert_int_equal(stamps_reproducer(m, &cmd, &note), -EINVAL);
	assert_null(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_date),
		cmocka_unit_test(format_date_is_dates),
		cmocka_unit_test(parse_epoch),
		cmocka_unit_test(epoch_from_sha256),
		cmocka_unit_test(compute_order),
		cmocka_unit_test(date_epoch),
		cmocka_unit_test(apply_env),
		cmocka_unit_test(shell_quote),
		cmocka_unit_test(reproducer),
		cmocka_unit_test(reproducer_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
