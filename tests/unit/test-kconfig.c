/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ftw.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "kconfig.h"
#include "macro.h"
#include "hash.h"

#define DATA KTS_TEST_DATADIR "/kconfig"
/* The real .config of Debian's linux-source-6.12 after tinyconfig + fragment + olddefconfig. */
#define TINY_FINAL DATA "/tinyconfig-6.12-final.config"
/* The same, configured without pahole: BTF and everything needing it dropped. */
#define TINY_NOPAHOLE DATA "/tinyconfig-6.12-nopahole.config"

/* --- fixture: a private temporary directory per test --- */

struct tmp {
	char dir[64];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/test-kconfig.XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	int r = 0;

	/* Only our own mkdtemp() directory; symlinks are removed, never followed. */
	if (t && startswith(t->dir, "/tmp/test-kconfig."))
		r = nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return r;
}

/* Writes len bytes (strlen(data) when len is SIZE_MAX) to dir/name; returns the path. */
static char *put_file(const struct tmp *t, const char *name, const char *data, size_t len)
{
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", t->dir, name) >= 0);
	f = fopen(path, "we");
	assert_non_null(f);
	if (len == SIZE_MAX)
		len = strlen(data);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static char *slurp(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t size = 0;

	assert_non_null(f);
	assert_true(getdelim(&buf, &size, '\0', f) >= 0);
	return buf;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!haystack || !strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", strempty(haystack), needle);
}

static void assert_not_contains(const char *haystack, const char *needle)
{
	if (haystack && strstr(haystack, needle))
		fail_msg("'%s' unexpectedly contains '%s'", haystack, needle);
}

static void assert_line(const struct kts_kconfig *c, const char *sym, const char *value)
{
	const struct kts_kconfig_line *l = kconfig_get(c, sym);

	if (!l)
		fail_msg("%s missing", sym);
	if (!value ? l->value != NULL : !l->value || !streq(l->value, value))
		fail_msg("%s: want %s, have %s", sym, value ?: "is not set",
			 kconfig_line_value(l));
}

/* --- parsing --- */

static void test_parse_accepts_kconfig_lines(void **state)
{
	static const char text[] =
		"#\n"
		"# Automatically generated file; DO NOT EDIT.\n"
		"CONFIG_A=y\n"
		"CONFIG_B=m\r\n"
		"CONFIG_C=n\n"
		"\n"
		"CONFIG_STR=\"a \\\"quoted\\\" \\\\ string # not a comment\"\n"
		"CONFIG_EMPTY=\"\"\n"
		"CONFIG_INT=123\n"
		"CONFIG_NEG=-5\n"
		"CONFIG_HEX=0x1f00\n"
		"CONFIG_BAREHEX=34c\n"
		"# CONFIG_OFF is not set\n"
		"  \t CONFIG_INDENTED=y  \t\n"
		"#CONFIG_NOSPACE is not set\n"
		"# CONFIG_COMMENT_ONLY is something else\n"
		"# just a remark, CONFIG_NOT=y\n"
		"CONFIG_A=m\n" /* later wins, in the first position */
		"CONFIG_LAST=y"; /* no final newline */
	_cleanup_kconfig_ struct kts_kconfig c = KTS_KCONFIG_INIT;
	_cleanup_free_ char *why = NULL;
	static const char *const order[] = {
		"CONFIG_A",   "CONFIG_B",   "CONFIG_C",	  "CONFIG_STR",	     "CONFIG_EMPTY",
		"CONFIG_INT", "CONFIG_NEG", "CONFIG_HEX", "CONFIG_BAREHEX",  "CONFIG_OFF",
		"CONFIG_INDENTED",
		"CONFIG_NOSPACE", "CONFIG_LAST",
	};

	assert_int_equal(kconfig_parse(text, strlen(text), "t.config", &c, &why), 0);
	assert_null(why);
	assert_int_equal(c.n, ELEMENTSOF(order));
	for (size_t i = 0; i < ELEMENTSOF(order); i++)
		assert_string_equal(c.lines[i].symbol, order[i]);

	assert_line(&c, "CONFIG_A", "m");
	assert_int_equal(kconfig_get(&c, "CONFIG_A")->lineno, 18);
	assert_line(&c, "CONFIG_B", "m");
	assert_line(&c, "CONFIG_C", "n");
	assert_true(kconfig_line_is_off(kconfig_get(&c, "CONFIG_C")));
	assert_line(&c, "CONFIG_STR", "\"a \\\"quoted\\\" \\\\ string # not a comment\"");
	assert_line(&c, "CONFIG_EMPTY", "\"\"");
	assert_line(&c, "CONFIG_INT", "123");
	assert_line(&c, "CONFIG_NEG", "-5");
	assert_line(&c, "CONFIG_HEX", "0x1f00");
	assert_line(&c, "CONFIG_BAREHEX", "34c");
	assert_line(&c, "CONFIG_OFF", NULL);
	assert_true(kconfig_line_is_off(kconfig_get(&c, "CONFIG_OFF")));
	assert_string_equal(kconfig_line_value(kconfig_get(&c, "CONFIG_OFF")), "is not set");
	assert_line(&c, "CONFIG_INDENTED", "y");
	assert_line(&c, "CONFIG_LAST", "y");
	assert_null(kconfig_get(&c, "CONFIG_COMMENT_ONLY"));
	assert_null(kconfig_get(&c, "CONFIG_NOT"));
	assert_string_equal(kconfig_get(&c, "CONFIG_INT")->source, "t.config");
	assert_int_equal(kconfig_get(&c, "CONFIG_INT")->lineno, 9);
}

static void test_parse_duplicates_last_wins_first_position(void **state)
{
	static const char text[] = "CONFIG_A=y\nCONFIG_B=y\nCONFIG_A=m\nCONFIG_C=y\n"
				   "# CONFIG_A is not set\nCONFIG_B=m\nCONFIG_D=1\nCONFIG_B=\"s\"\n";
	_cleanup_kconfig_ struct kts_kconfig c = KTS_KCONFIG_INIT;

	assert_int_equal(kconfig_parse(text, strlen(text), "dup", &c, NULL), 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.lines[0].symbol, "CONFIG_A");
	assert_null(c.lines[0].value);
	assert_int_equal(c.lines[0].lineno, 5);
	assert_string_equal(c.lines[1].symbol, "CONFIG_B");
	assert_string_equal(c.lines[1].value, "\"s\"");
	assert_int_equal(c.lines[1].lineno, 8);
	assert_string_equal(c.lines[2].symbol, "CONFIG_C");
	assert_string_equal(c.lines[3].symbol, "CONFIG_D");
}

static void test_parse_rejects_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"CONFIG_X",		/* no value */
		"CONFIG_X=",		/* empty value */
		"CONFIG_X = y",		/* blanks around '=' */
		"CONFIG_X=yes",		/* not y/m/n */
		"CONFIG_X=y # trailing",
		"CONFIG_X=\"open",	/* unterminated string */
		"CONFIG_X=\"a\"b",	/* junk after the string */
		"CONFIG_X=\"ends in escape\\\"",
		"CONFIG_X=0x",
		"CONFIG_X=0xg1",
		"CONFIG_X=-",
		"CONFIG_=y",		/* no name */
		"CONFIG_X-Y=y",
		"X=y",			/* no CONFIG_ prefix */
		"config X",
		"hello",
		"; CONFIG_X=y",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *text = NULL, *why = NULL;
		struct kts_kconfig c = { .n = 42 };

		/* One good line first, so the bad one is line 2. */
		assert_true(asprintf(&text, "CONFIG_GOOD=y\n%s\nCONFIG_MORE=y\n", bad[i]) >= 0);
		if (kconfig_parse(text, strlen(text), "frag.config", &c, &why) != -EBADMSG)
			fail_msg("'%s' was not rejected", bad[i]);
		assert_int_equal(c.n, 42); /* ret untouched */
		assert_contains(why, "frag.config:2:");
	}
}

/*
 * The text is len bytes, not a C string: "CONFIG_X=" as its last bytes is refused without
 * looking past them (found by fuzz/fuzz-kconfig: value_valid() read v[0] of an empty value,
 * one byte past the buffer; an ASan build of this test fails without the fix).
 */
static void test_parse_empty_value_at_end_of_buffer(void **state)
{
	static const char line[] = "CONFIG_GOOD=y\nCONFIG_X=";
	_cleanup_free_ char *text = malloc(sizeof(line) - 1), *why = NULL;
	struct kts_kconfig c = KTS_KCONFIG_INIT;

	(void) state;
	assert_non_null(text);
	memcpy(text, line, sizeof(line) - 1); /* no NUL after it */
	assert_int_equal(kconfig_parse(text, sizeof(line) - 1, "end", &c, &why), -EBADMSG);
	assert_contains(why, "end:2: not a kconfig assignment or comment: 'CONFIG_X='");
	assert_null(c.lines);
}

/* A .config line is foreign text: the reason shows it printable, on one line. */
static void test_parse_error_shows_line_printable(void **state)
{
	static const char text[] = "CONFIG_A=y\n\033[2Jhello\rworld\xff\n";
	_cleanup_free_ char *why = NULL;
	struct kts_kconfig c = KTS_KCONFIG_INIT;

	(void) state;
	assert_int_equal(kconfig_parse(text, sizeof(text) - 1, "cfg", &c, &why), -EBADMSG);
	assert_contains(why, "cfg:2: not a kconfig assignment or comment: "
			     "'?[2Jhello?world\xef\xbf\xbd'");
}

static void test_parse_rejects_nul_byte(void **state)
{
	static const char text[] = "CONFIG_A=y\nCONFIG_B=\0y\n";
	_cleanup_free_ char *why = NULL;
	struct kts_kconfig c = KTS_KCONFIG_INIT;

	assert_int_equal(kconfig_parse(text, sizeof(text) - 1, "nul", &c, &why), -EBADMSG);
	assert_contains(why, "nul:2");
	assert_null(c.lines);
}

/* --- the embedded fragment --- */

static void test_fragment_has_critical_symbols_and_debug_off(void **state)
{
	_cleanup_kconfig_ struct kts_kconfig c = KTS_KCONFIG_INIT;
	static const char *const must_be_off[] = {
		"CONFIG_LOCKDEP", "CONFIG_PROVE_LOCKING", "CONFIG_PSI",
	};
	static const char *const design[] = {
		"CONFIG_SCHED_CLASS_EXT", "CONFIG_BPF_SYSCALL", "CONFIG_DEBUG_INFO_BTF",
		"CONFIG_FTRACE", "CONFIG_KPROBE_EVENTS", "CONFIG_BPF_EVENTS",
	};
	size_t len;
	const char *text = kconfig_fragment_text(&len);

	assert_int_equal(strlen(text), len);
	assert_int_equal(kconfig_parse(text, len, KCONFIG_SOURCE_BUILTIN, &c, NULL), 0);
	/* The critical list is DESIGN §5's, and the fragment asks for each of them. */
	for (size_t i = 0; i < KCONFIG_N_CRITICAL; i++) {
		assert_string_equal(kconfig_critical_symbols[i], design[i]);
		assert_line(&c, kconfig_critical_symbols[i], "y");
	}
	for (size_t i = 0; i < ELEMENTSOF(must_be_off); i++)
		assert_line(&c, must_be_off[i], NULL);
	/* The list, spot-checked. */
	assert_line(&c, "CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT", "y");
	assert_line(&c, "CONFIG_SERIAL_8250_CONSOLE", "y");
	assert_line(&c, "CONFIG_VIRTIO_CONSOLE", "y");
	assert_line(&c, "CONFIG_BLK_DEV_INITRD", "y");
	assert_line(&c, "CONFIG_DEVTMPFS_MOUNT", "y");
	assert_line(&c, "CONFIG_NUMA", "y");
	assert_line(&c, "CONFIG_CPUSETS", "y");
	assert_line(&c, "CONFIG_KVM_GUEST", "y");
	assert_line(&c, "CONFIG_IKCONFIG_PROC", "y");
	for (size_t i = 0; i < c.n; i++)
		assert_string_equal(c.lines[i].source, "ktscope");
}

static void test_fragment_is_source_file_verbatim(void **state)
{
	_cleanup_free_ char *file = slurp(KTS_TEST_DATADIR "/../../src/ktscope.kconfig");
	char hex[HASH_SHA256_HEX_SIZE];

	assert_string_equal(kconfig_fragment_text(NULL), file);
	assert_int_equal(hash_sha256_file(KTS_TEST_DATADIR "/../../src/ktscope.kconfig", hex), 0);
	assert_string_equal(kconfig_fragment_sha256(), hex);
	assert_int_equal(strlen(kconfig_fragment_sha256()), 64);
}

/* --- extra fragment files --- */

static void test_extra_file_errors_are_distinct(void **state)
{
	struct tmp *t = *state;
	static const struct {
		const char *name, *data;
		size_t len;
		int err;
		const char *says;
	} cases[] = {
		{ "empty.config", "", 0, -ENODATA, "is empty" },
		{ "blank.config", " \n\t\r\n\n", SIZE_MAX, -ENODATA, "is empty" },
		{ "nul.config", "CONFIG_A=y\n\0\0\0", 14, -EILSEQ, "NUL byte on line 2" },
		{ "ctrl.config", "CONFIG_A=y\n\x01\x02", SIZE_MAX, -EILSEQ, "control character" },
		{ "latin1.config", "# caf\xe9\nCONFIG_A=y\n", SIZE_MAX, -EILSEQ, "not UTF-8" },
		{ "elf.config", "\x7f" "ELF\x02\x01\x01", SIZE_MAX, -EILSEQ, "binary" },
		{ "bad.config", "CONFIG_A=y\nCONFIG_B=maybe\n", SIZE_MAX, -EBADMSG, "bad.config:2:" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *path = put_file(t, cases[i].name, cases[i].data, cases[i].len);
		_cleanup_free_ char *why = NULL;
		struct kts_kconfig c = { .n = 7 };
		char sha[HASH_SHA256_HEX_SIZE] = "untouched";

		if (kconfig_read_extra(path, &c, sha, &why) != cases[i].err)
			fail_msg("%s: wrong error (%s)", cases[i].name, strempty(why));
		assert_contains(why, cases[i].name); /* names the file */
		assert_contains(why, cases[i].says);
		assert_int_equal(c.n, 7);
		assert_string_equal(sha, "untouched");
	}
}

static void test_extra_file_missing_and_directory(void **state)
{
	struct tmp *t = *state;
	_cleanup_free_ char *missing = NULL, *why = NULL, *why2 = NULL, *link = NULL;
	_cleanup_free_ char *why3 = NULL;
	struct kts_kconfig c = KTS_KCONFIG_INIT;

	assert_true(asprintf(&missing, "%s/no-such.config", t->dir) >= 0);
	assert_int_equal(kconfig_read_extra(missing, &c, NULL, &why), -ENOENT);
	assert_contains(why, "no-such.config");
	assert_contains(why, "does not exist");

	assert_int_equal(kconfig_read_extra(t->dir, &c, NULL, &why2), -EISDIR);
	assert_contains(why2, t->dir);

	/* A dangling symlink is a missing file too. */
	assert_true(asprintf(&link, "%s/dangling.config", t->dir) >= 0);
	assert_int_equal(symlink(missing, link), 0);
	assert_int_equal(kconfig_read_extra(link, &c, NULL, &why3), -ENOENT);
	assert_contains(why3, "dangling.config");
	assert_null(c.lines);
}

static void test_extra_file_utf8_comment_and_hash(void **state)
{
	struct tmp *t = *state;
	static const char data[] = "# Zürich build, «sched» tweaks ✓\nCONFIG_HZ_1000=y\n";
	_cleanup_free_ char *path = put_file(t, "utf8.config", data, SIZE_MAX);
	_cleanup_kconfig_ struct kts_kconfig c = KTS_KCONFIG_INIT;
	char sha[HASH_SHA256_HEX_SIZE], want[HASH_SHA256_HEX_SIZE];

	assert_int_equal(kconfig_read_extra(path, &c, sha, NULL), 0);
	assert_int_equal(c.n, 1);
	assert_line(&c, "CONFIG_HZ_1000", "y");
	assert_string_equal(c.lines[0].source, path);
	assert_int_equal(c.lines[0].lineno, 2);
	assert_int_equal(hash_sha256_hex(data, strlen(data), want), 0);
	assert_string_equal(sha, want);
}

/* --- merge --- */

static void test_merge_without_extras_is_the_fragment(void **state)
{
	_cleanup_kconfig_merge_ struct kts_kconfig_merge m = KTS_KCONFIG_MERGE_INIT;
	_cleanup_kconfig_ struct kts_kconfig frag = KTS_KCONFIG_INIT;
	size_t len;
	const char *text = kconfig_fragment_text(&len);

	assert_int_equal(kconfig_parse(text, len, "ktscope", &frag, NULL), 0);
	assert_int_equal(kconfig_merge(NULL, 0, &m, NULL), 0);
	assert_int_equal(m.lines.n, frag.n);
	assert_int_equal(m.n_overrides, 0);
	assert_int_equal(m.n_extras, 0);
	assert_true(kconfig_satisfied(&frag, &m.lines, NULL));
	assert_true(kconfig_satisfied(&m.lines, &frag, NULL));
}

static void test_merge_order_provenance_and_overrides(void **state)
{
	struct tmp *t = *state;
	_cleanup_free_ char *a = put_file(t, "a.config",
					  "# first user fragment\n"
					  "CONFIG_PSI=y\n"		/* overrides "is not set" */
					  "CONFIG_HZ_250=y\n"		/* new symbol */
					  "CONFIG_FTRACE=y\n"		/* same value: no warning */
					  "CONFIG_LOCKDEP=n\n"	/* =n is "not set": no warning */
					  "# CONFIG_KPROBES is not set\n", /* overrides =y */
					  SIZE_MAX);
	_cleanup_free_ char *b = put_file(t, "b.config",
					  "CONFIG_HZ_250=m\n"		/* extra over extra: no warning */
					  "CONFIG_PSI=y\n"
					  "CONFIG_NR_CPUS=64\n",
					  SIZE_MAX);
	const char *paths[] = { a, b };
	_cleanup_kconfig_merge_ struct kts_kconfig_merge m = KTS_KCONFIG_MERGE_INIT;
	const struct kts_kconfig_line *l;
	char sha[HASH_SHA256_HEX_SIZE];

	assert_int_equal(kconfig_merge(paths, 2, &m, NULL), 0);

	/* Later wins; provenance follows the winner. */
	l = kconfig_get(&m.lines, "CONFIG_HZ_250");
	assert_string_equal(l->value, "m");
	assert_string_equal(l->source, b);
	assert_int_equal(l->lineno, 1);
	l = kconfig_get(&m.lines, "CONFIG_PSI");
	assert_string_equal(l->value, "y");
	assert_string_equal(l->source, b);
	assert_int_equal(l->lineno, 2);
	l = kconfig_get(&m.lines, "CONFIG_KPROBES");
	assert_null(l->value);
	assert_string_equal(l->source, a);
	assert_int_equal(l->lineno, 6);
	l = kconfig_get(&m.lines, "CONFIG_FTRACE");
	assert_string_equal(l->source, a); /* set again by the user, even to the same value */
	l = kconfig_get(&m.lines, "CONFIG_SCHED_CLASS_EXT");
	assert_string_equal(l->source, "ktscope");
	assert_string_equal(kconfig_get(&m.lines, "CONFIG_NR_CPUS")->value, "64");

	/* Warnings: each user line that changes a baked-in value, in order, once per line. */
	assert_int_equal(m.n_overrides, 3);
	assert_string_equal(m.overrides[0].symbol, "CONFIG_PSI");
	assert_string_equal(m.overrides[0].old_value, "is not set");
	assert_string_equal(m.overrides[0].new_value, "y");
	assert_string_equal(m.overrides[0].source, a);
	assert_int_equal(m.overrides[0].lineno, 2);
	assert_string_equal(m.overrides[1].symbol, "CONFIG_KPROBES");
	assert_string_equal(m.overrides[1].old_value, "y");
	assert_string_equal(m.overrides[1].new_value, "is not set");
	assert_string_equal(m.overrides[1].source, a);
	assert_string_equal(m.overrides[2].symbol, "CONFIG_PSI");
	assert_string_equal(m.overrides[2].source, b);
	assert_int_equal(m.overrides[2].lineno, 2);

	/* Each extra's bytes are hashed as merged. */
	assert_int_equal(m.n_extras, 2);
	assert_string_equal(m.extras[0].path, a);
	assert_int_equal(hash_sha256_file(a, sha), 0);
	assert_string_equal(m.extras[0].sha256, sha);
	assert_string_equal(m.extras[1].path, b);
	assert_int_equal(hash_sha256_file(b, sha), 0);
	assert_string_equal(m.extras[1].sha256, sha);
}

static void test_merge_fails_on_bad_extra_naming_it(void **state)
{
	struct tmp *t = *state;
	_cleanup_free_ char *good = put_file(t, "good.config", "CONFIG_HZ_250=y\n", SIZE_MAX);
	_cleanup_free_ char *empty = put_file(t, "second-empty.config", "", 0);
	_cleanup_free_ char *why = NULL;
	const char *paths[] = { good, empty };
	struct kts_kconfig_merge m = { .n_extras = 99 };

	assert_int_equal(kconfig_merge(paths, 2, &m, &why), -ENODATA);
	assert_contains(why, "second-empty.config");
	assert_int_equal(m.n_extras, 99); /* untouched */
}

/* --- skip check --- */

static void parse_str(const char *text, struct kts_kconfig *ret)
{
	assert_int_equal(kconfig_parse(text, strlen(text), "test", ret, NULL), 0);
}

static void test_not_set_is_satisfied_by_absent_off_or_n(void **state)
{
	_cleanup_kconfig_ struct kts_kconfig want = KTS_KCONFIG_INIT;
	static const char *const haves[] = {
		"CONFIG_A=y\n",				/* absent */
		"CONFIG_A=y\n# CONFIG_OFF is not set\n",
		"CONFIG_A=y\nCONFIG_OFF=n\n",
	};

	parse_str("CONFIG_A=y\n# CONFIG_OFF is not set\n", &want);
	for (size_t i = 0; i < ELEMENTSOF(haves); i++) {
		_cleanup_kconfig_ struct kts_kconfig have = KTS_KCONFIG_INIT;
		const struct kts_kconfig_line *unmet = (void *) 1;

		parse_str(haves[i], &have);
		assert_true(kconfig_satisfied(&want, &have, &unmet));
		assert_null(unmet);
	}
}

static void test_satisfied_detects_each_unmet_line(void **state)
{
	_cleanup_kconfig_ struct kts_kconfig want = KTS_KCONFIG_INIT;
	static const struct {
		const char *have, *unmet;
	} cases[] = {
		{ "CONFIG_OFF=y\nCONFIG_A=y\nCONFIG_S=\"x\"\n", "CONFIG_OFF" },
		{ "CONFIG_A=m\nCONFIG_S=\"x\"\n", "CONFIG_A" },
		{ "CONFIG_S=\"x\"\n", "CONFIG_A" }, /* a value line needs the symbol */
		{ "CONFIG_A=y\nCONFIG_S=\"y\"\n", "CONFIG_S" },
		{ "CONFIG_A=y\nCONFIG_S=\"x\"\nCONFIG_N=0x10\n", "CONFIG_N" },
	};

	parse_str("# CONFIG_OFF is not set\nCONFIG_A=y\nCONFIG_S=\"x\"\nCONFIG_N=16\n", &want);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_kconfig_ struct kts_kconfig have = KTS_KCONFIG_INIT;
		const struct kts_kconfig_line *unmet = NULL;

		parse_str(cases[i].have, &have);
		assert_false(kconfig_satisfied(&want, &have, &unmet));
		assert_non_null(unmet);
		assert_string_equal(unmet->symbol, cases[i].unmet);
	}
}

static void test_config_file_skip_logic(void **state)
{
	struct tmp *t = *state;
	_cleanup_kconfig_merge_ struct kts_kconfig_merge m = KTS_KCONFIG_MERGE_INIT;
	_cleanup_free_ char *missing = NULL, *rendered = NULL, *cfg = NULL, *edited = NULL;
	_cleanup_free_ char *junk = NULL;

	assert_int_equal(kconfig_merge(NULL, 0, &m, NULL), 0);

	/* No .config yet: configure. */
	assert_true(asprintf(&missing, "%s/.config", t->dir) >= 0);
	assert_int_equal(kconfig_config_satisfies(missing, &m.lines, NULL), 0);

	/* The real result of tinyconfig + fragment + olddefconfig: skip. */
	assert_int_equal(kconfig_config_satisfies(TINY_FINAL, &m.lines, NULL), 1);
	/* Configured without pahole, BTF is gone: configure again. */
	assert_int_equal(kconfig_config_satisfies(TINY_NOPAHOLE, &m.lines, NULL), 0);

	/* A .config holding exactly the merged lines satisfies them... */
	assert_int_equal(kconfig_format(&m.lines, &rendered), 0);
	cfg = put_file(t, "exact.config", rendered, SIZE_MAX);
	assert_int_equal(kconfig_config_satisfies(cfg, &m.lines, NULL), 1);
	/* ...until one value changes (appended: kconfig's last one wins). */
	assert_true(asprintf(&edited, "%sCONFIG_PSI=y\n", rendered) >= 0);
	free(cfg);
	cfg = put_file(t, "edited.config", edited, SIZE_MAX);
	assert_int_equal(kconfig_config_satisfies(cfg, &m.lines, NULL), 0);

	/* Something kconfig did not write means configure, not an error. */
	assert_true(asprintf(&junk, "%sthis is not kconfig\n", rendered) >= 0);
	free(cfg);
	cfg = put_file(t, "junk.config", junk, SIZE_MAX);
	assert_int_equal(kconfig_config_satisfies(cfg, &m.lines, NULL), 0);
	free(cfg);
	cfg = put_file(t, "bin.config", "CONFIG_A=y\n\0\0", 13);
	assert_int_equal(kconfig_config_satisfies(cfg, &m.lines, NULL), 0);
}

static void test_load_accepts_any_string_bytes(void **state)
{
	struct tmp *t = *state;
	/* kconfig copies string values verbatim: Latin-1 in LOCALVERSION is a valid .config. */
	_cleanup_free_ char *cfg = put_file(t, ".config",
					    "CONFIG_LOCALVERSION=\"-caf\xe9\"\nCONFIG_A=y\n", SIZE_MAX);
	_cleanup_kconfig_ struct kts_kconfig c = KTS_KCONFIG_INIT;

	assert_int_equal(kconfig_load(cfg, &c, NULL), 0);
	assert_line(&c, "CONFIG_LOCALVERSION", "\"-caf\xe9\"");
	assert_line(&c, "CONFIG_A", "y");
}

/* --- the merged fragment file --- */

static void test_write_merged_fragment_round_trips(void **state)
{
	struct tmp *t = *state;
	_cleanup_free_ char *extra = put_file(t, "x.config",
					      "CONFIG_PSI=y\nCONFIG_CMDLINE=\"console=ttyS0 quiet\"\n"
					      "# CONFIG_KPROBES is not set\n",
					      SIZE_MAX);
	const char *paths[] = { extra };
	_cleanup_kconfig_merge_ struct kts_kconfig_merge m = KTS_KCONFIG_MERGE_INIT;
	_cleanup_kconfig_ struct kts_kconfig back = KTS_KCONFIG_INIT;
	_cleanup_free_ char *out = NULL, *text = NULL;
	struct stat st;

	assert_int_equal(kconfig_merge(paths, 1, &m, NULL), 0);
	assert_true(asprintf(&out, "%s/merged.config", t->dir) >= 0);
	assert_int_equal(kconfig_write(&m.lines, out), 0);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	text = slurp(out);
	assert_contains(text, "# CONFIG_KPROBES is not set\n");
	assert_contains(text, "CONFIG_CMDLINE=\"console=ttyS0 quiet\"\n");
	assert_contains(text, "CONFIG_PSI=y\n");
	assert_not_contains(text, "# CONFIG_PSI is not set");
	assert_int_equal(text[strlen(text) - 1], '\n');

	assert_int_equal(kconfig_load(out, &back, NULL), 0);
	assert_int_equal(back.n, m.lines.n);
	for (size_t i = 0; i < back.n; i++) {
		assert_string_equal(back.lines[i].symbol, m.lines.lines[i].symbol);
		assert_string_equal(kconfig_line_value(&back.lines[i]),
				    kconfig_line_value(&m.lines.lines[i]));
	}
	/* No temporary file left beside it. */
	_cleanup_free_ char *cmd = NULL;
	assert_true(asprintf(&cmd, "test $(ls -A '%s' | wc -l) -eq 2", t->dir) >= 0);
	assert_int_equal(system(cmd), 0);
}

/* --- report after olddefconfig --- */

static const struct kts_kconfig_outcome *outcome(const struct kts_kconfig_report *r,
						 const char *sym)
{
	for (size_t i = 0; i < r->n; i++)
		if (streq(r->lines[i].symbol, sym))
			return &r->lines[i];
	fail_msg("%s not in report", sym);
	return NULL;
}

static void test_report_finds_dropped_lines(void **state)
{
	_cleanup_kconfig_merge_ struct kts_kconfig_merge m = KTS_KCONFIG_MERGE_INIT;
	_cleanup_kconfig_ struct kts_kconfig good = KTS_KCONFIG_INIT, nopahole = KTS_KCONFIG_INIT;
	_cleanup_kconfig_report_ struct kts_kconfig_report ok = KTS_KCONFIG_REPORT_INIT;
	_cleanup_kconfig_report_ struct kts_kconfig_report bad = KTS_KCONFIG_REPORT_INIT;
	const struct kts_kconfig_outcome *o;
	size_t dropped = 0;

	assert_int_equal(kconfig_merge(NULL, 0, &m, NULL), 0);
	assert_int_equal(kconfig_load(TINY_FINAL, &good, NULL), 0);
	assert_int_equal(kconfig_load(TINY_NOPAHOLE, &nopahole, NULL), 0);

	/* Every fragment line survived the real tinyconfig olddefconfig. */
	assert_int_equal(kconfig_report_build(&m.lines, &good, &ok), 0);
	assert_int_equal(ok.n, m.lines.n);
	assert_int_equal(ok.n_dropped, 0);
	/* LOCKDEP is not in that .config at all: "is not set" survived as absent. */
	o = outcome(&ok, "CONFIG_LOCKDEP");
	assert_true(o->survived);
	assert_string_equal(o->requested, "is not set");
	assert_null(o->final);
	o = outcome(&ok, "CONFIG_PSI");
	assert_true(o->survived);
	assert_string_equal(o->final, "is not set");

	/* Without pahole exactly BTF and what depends on it went away. */
	assert_int_equal(kconfig_report_build(&m.lines, &nopahole, &bad), 0);
	assert_int_equal(bad.n_dropped, 3);
	for (size_t i = 0; i < bad.n; i++)
		if (!bad.lines[i].survived) {
			const char *s = bad.lines[i].symbol;

			assert_true(streq(s, "CONFIG_SCHED_CLASS_EXT") ||
				    streq(s, "CONFIG_DEBUG_INFO_BTF") ||
				    streq(s, "CONFIG_EXT_GROUP_SCHED"));
			assert_string_equal(bad.lines[i].requested, "y");
			assert_null(bad.lines[i].final);
			assert_string_equal(bad.lines[i].source, "ktscope");
			dropped++;
		}
	assert_int_equal(dropped, 3);
	assert_true(outcome(&bad, "CONFIG_BPF_SYSCALL")->survived);
}

static void test_report_rewritten_value_is_dropped(void **state)
{
	_cleanup_kconfig_ struct kts_kconfig want = KTS_KCONFIG_INIT, final = KTS_KCONFIG_INIT;
	_cleanup_kconfig_report_ struct kts_kconfig_report r = KTS_KCONFIG_REPORT_INIT;
	const struct kts_kconfig_outcome *o;

	parse_str("CONFIG_NR_CPUS=4096\nCONFIG_M=m\n# CONFIG_X is not set\n", &want);
	parse_str("CONFIG_NR_CPUS=512\nCONFIG_M=y\nCONFIG_X=y\n", &final);
	assert_int_equal(kconfig_report_build(&want, &final, &r), 0);
	assert_int_equal(r.n_dropped, 3);
	o = outcome(&r, "CONFIG_NR_CPUS");
	assert_false(o->survived);
	assert_string_equal(o->requested, "4096");
	assert_string_equal(o->final, "512");
	o = outcome(&r, "CONFIG_X");
	assert_string_equal(o->requested, "is not set");
	assert_string_equal(o->final, "y");
}

static void test_report_json_content(void **state)
{
	struct tmp *t = *state;
	_cleanup_free_ char *extra = put_file(t, "x.config", "CONFIG_PSI=y\n", SIZE_MAX);
	const char *paths[] = { extra };
	_cleanup_kconfig_merge_ struct kts_kconfig_merge m = KTS_KCONFIG_MERGE_INIT;
	_cleanup_kconfig_ struct kts_kconfig final = KTS_KCONFIG_INIT;
	_cleanup_kconfig_report_ struct kts_kconfig_report r = KTS_KCONFIG_REPORT_INIT;
	_cleanup_free_ char *path = NULL;
	struct json_object *doc, *lines, *v;
	bool seen_btf = false, seen_psi = false;

	assert_int_equal(kconfig_merge(paths, 1, &m, NULL), 0);
	assert_int_equal(kconfig_load(TINY_NOPAHOLE, &final, NULL), 0);
	assert_int_equal(kconfig_report_build(&m.lines, &final, &r), 0);
	assert_int_equal(kconfig_report_write(&r, t->dir), 0);

	assert_true(asprintf(&path, "%s/kconfig-report.json", t->dir) >= 0);
	doc = json_object_from_file(path);
	assert_non_null(doc);
	assert_true(json_object_object_get_ex(doc, "schema", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(doc, "fragment_sha256", &v));
	assert_string_equal(json_object_get_string(v), kconfig_fragment_sha256());
	assert_true(json_object_object_get_ex(doc, "lines", &lines));
	assert_int_equal(json_object_array_length(lines), m.lines.n);

	for (size_t i = 0; i < json_object_array_length(lines); i++) {
		struct json_object *l = json_object_array_get_idx(lines, i), *sym, *req, *fin, *src,
				   *surv;

		assert_true(json_object_object_get_ex(l, "symbol", &sym));
		assert_true(json_object_object_get_ex(l, "requested", &req));
		assert_true(json_object_object_get_ex(l, "final", &fin)); /* present, maybe null */
		assert_true(json_object_object_get_ex(l, "source", &src));
		assert_true(json_object_object_get_ex(l, "survived", &surv));
		assert_string_equal(json_object_get_string(sym), m.lines.lines[i].symbol);
		if (streq(json_object_get_string(sym), "CONFIG_DEBUG_INFO_BTF")) {
			seen_btf = true;
			assert_string_equal(json_object_get_string(req), "y");
			assert_null(fin);
			assert_string_equal(json_object_get_string(src), "ktscope");
			assert_false(json_object_get_boolean(surv));
		}
		if (streq(json_object_get_string(sym), "CONFIG_PSI")) {
			seen_psi = true;
			assert_string_equal(json_object_get_string(req), "y");
			assert_string_equal(json_object_get_string(fin), "is not set");
			assert_string_equal(json_object_get_string(src), extra);
			assert_false(json_object_get_boolean(surv));
		}
	}
	assert_true(seen_btf && seen_psi);
	(void) json_object_put(doc);
}

/*
 * kconfig copies string values verbatim, so a final .config may hold any bytes; the report
 * is JSON, which is UTF-8: such bytes become U+FFFD instead of making the whole document
 * unreadable (found by fuzz/fuzz-kconfig).
 */
static void test_report_json_is_utf8(void **state)
{
	_cleanup_kconfig_ struct kts_kconfig want = KTS_KCONFIG_INIT, final = KTS_KCONFIG_INIT;
	_cleanup_kconfig_report_ struct kts_kconfig_report r = KTS_KCONFIG_REPORT_INIT;
	_cleanup_free_ char *json = NULL;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *doc, *lines, *fin;

	(void) state;
	parse_str("CONFIG_LOCALVERSION=\"-kts\"\n", &want);
	parse_str("CONFIG_LOCALVERSION=\"caf\xe9\"\n", &final);
	assert_int_equal(kconfig_report_build(&want, &final, &r), 0);
	assert_int_equal(kconfig_report_to_json(&r, &json), 0);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	doc = json_tokener_parse_ex(tok, json, (int) strlen(json));
	assert_non_null(doc);
	assert_true(json_object_object_get_ex(doc, "lines", &lines));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(lines, 0), "final", &fin));
	assert_string_equal(json_object_get_string(fin), "\"caf\xef\xbf\xbd\"");
	json_object_put(doc);
	json_tokener_free(tok);
}

/* --- validation --- */

static void test_validate_passes_real_config(void **state)
{
	_cleanup_kconfig_ struct kts_kconfig final = KTS_KCONFIG_INIT;
	char *why = NULL;

	assert_int_equal(kconfig_load(TINY_FINAL, &final, NULL), 0);
	assert_int_equal(kconfig_validate(&final, NULL, "v1.24", &why), 0);
	assert_null(why);
}

/*
 * The final .config's value in the reason is printable and cut: its base may be any file
 * (found by fuzz/fuzz-kconfig: a string of DEL and non-UTF-8 bytes reached the message).
 */
static void test_validate_shows_value_printable(void **state)
{
	_cleanup_kconfig_ struct kts_kconfig final = KTS_KCONFIG_INIT;
	_cleanup_free_ char *why = NULL;

	(void) state;
	parse_str("CONFIG_SCHED_CLASS_EXT=\"\033[2J\x7f\x94\"\n", &final);
	assert_int_equal(kconfig_validate(&final, NULL, "v1.24", &why), -ENOTSUP);
	assert_contains(why, "CONFIG_SCHED_CLASS_EXT is \"?[2J?\xef\xbf\xbd\": ");
}

static void test_validate_btf_names_pahole(void **state)
{
	_cleanup_kconfig_ struct kts_kconfig final = KTS_KCONFIG_INIT;
	_cleanup_kconfig_ struct kts_kconfig no_pv = KTS_KCONFIG_INIT, old_pv = KTS_KCONFIG_INIT;
	_cleanup_free_ char *none = NULL, *later = NULL, *old = NULL, *odd = NULL, *saw = NULL;

	/* The real .config of a tree configured without pahole records PAHOLE_VERSION=0. */
	assert_int_equal(kconfig_load(TINY_NOPAHOLE, &final, NULL), 0);
	assert_line(&final, "CONFIG_PAHOLE_VERSION", "0");

	assert_int_equal(kconfig_validate(&final, NULL, NULL, &none), -ENOTSUP);
	assert_contains(none, "CONFIG_DEBUG_INFO_BTF is absent: needs pahole >= 1.16");
	assert_contains(none, "no pahole (PAHOLE_VERSION=0)");
	assert_contains(none, "none is on PATH");
	assert_contains(none, "CONFIG_SCHED_CLASS_EXT is absent: depends on BPF_SYSCALL, BPF_JIT "
			      "and DEBUG_INFO_BTF");
	/* What is there is not reported, and no extras means no culprit. */
	assert_not_contains(none, "CONFIG_FTRACE");
	assert_not_contains(none, "CONFIG_BPF_EVENTS");
	assert_not_contains(none, "culprit");

	/* dwarves installed after configuring: say both. */
	assert_int_equal(kconfig_validate(&final, NULL, "v1.24", &later), -ENOTSUP);
	assert_contains(later, "PAHOLE_VERSION=0");
	assert_contains(later, "pahole on PATH now is v1.24");

	/* Without kconfig's record, the version ktscope found decides the words. */
	parse_str("CONFIG_SCHED_CLASS_EXT=y\nCONFIG_BPF_SYSCALL=y\nCONFIG_FTRACE=y\n"
		  "CONFIG_KPROBE_EVENTS=y\nCONFIG_BPF_EVENTS=y\n",
		  &no_pv);
	assert_int_equal(kconfig_validate(&no_pv, NULL, "v1.15", &old), -ENOTSUP);
	assert_contains(old, "needs pahole >= 1.16 (dwarves package), found pahole v1.15");
	assert_int_equal(kconfig_validate(&no_pv, NULL, "garbage", &odd), -ENOTSUP);
	assert_contains(odd, "pahole");
	assert_contains(odd, "'garbage'");

	parse_str("CONFIG_PAHOLE_VERSION=115\n", &old_pv);
	assert_int_equal(kconfig_validate(&old_pv, NULL, "v1.15", &saw), -ENOTSUP);
	assert_contains(saw, "kconfig saw pahole 1.15");
}

static void test_validate_names_extra_fragment(void **state)
{
	struct tmp *t = *state;
	_cleanup_free_ char *unrelated = put_file(t, "hz.config", "CONFIG_HZ_250=y\n", SIZE_MAX);
	_cleanup_free_ char *kp = put_file(t, "no-kprobes.config",
					   "# tracing without probes\n# CONFIG_KPROBES is not set\n",
					   SIZE_MAX);
	_cleanup_free_ char *why = NULL, *why2 = NULL, *why3 = NULL;
	_cleanup_kconfig_ struct kts_kconfig final = KTS_KCONFIG_INIT;

	/* What olddefconfig leaves when KPROBES is off: no kprobe or BPF events. */
	parse_str("CONFIG_SCHED_CLASS_EXT=y\nCONFIG_BPF_SYSCALL=y\nCONFIG_DEBUG_INFO_BTF=y\n"
		  "CONFIG_FTRACE=y\n# CONFIG_KPROBES is not set\n",
		  &final);

	{
		const char *paths[] = { unrelated, kp };
		_cleanup_kconfig_merge_ struct kts_kconfig_merge m = KTS_KCONFIG_MERGE_INIT;

		assert_int_equal(kconfig_merge(paths, 2, &m, NULL), 0);
		assert_int_equal(kconfig_validate(&final, &m, "v1.24", &why), -ENOTSUP);
		/* The line that did it, by file and line, for both casualties. */
		assert_contains(why, "CONFIG_KPROBE_EVENTS is absent: depends on FTRACE and KPROBES "
				     "(likely culprit: line 2 of '");
		assert_contains(why, "no-kprobes.config': # CONFIG_KPROBES is not set)");
		assert_contains(why, "CONFIG_BPF_EVENTS is absent");
		assert_not_contains(why, "hz.config");
		assert_not_contains(why, "DEBUG_INFO_BTF");
	}
	{
		/* No line touches the dependencies: every extra file is named. */
		const char *paths[] = { unrelated };
		_cleanup_kconfig_merge_ struct kts_kconfig_merge m = KTS_KCONFIG_MERGE_INIT;

		assert_int_equal(kconfig_merge(paths, 1, &m, NULL), 0);
		assert_int_equal(kconfig_validate(&final, &m, "v1.24", &why2), -ENOTSUP);
		assert_contains(why2, "likely culprit: --extra-kconfig '");
		assert_contains(why2, "hz.config'");
	}
	{
		/* "=m" is not "=y". */
		_cleanup_kconfig_ struct kts_kconfig modular = KTS_KCONFIG_INIT;

		parse_str("CONFIG_SCHED_CLASS_EXT=y\nCONFIG_BPF_SYSCALL=y\n"
			  "CONFIG_DEBUG_INFO_BTF=y\nCONFIG_FTRACE=y\nCONFIG_KPROBE_EVENTS=y\n"
			  "CONFIG_BPF_EVENTS=m\n",
			  &modular);
		assert_int_equal(kconfig_validate(&modular, NULL, "v1.24", &why3), -ENOTSUP);
		assert_contains(why3, "CONFIG_BPF_EVENTS is m");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_kconfig_lines),
		cmocka_unit_test(test_parse_duplicates_last_wins_first_position),
		cmocka_unit_test(test_parse_rejects_malformed_lines),
		cmocka_unit_test(test_parse_rejects_nul_byte),
		cmocka_unit_test(test_parse_error_shows_line_printable),
		cmocka_unit_test(test_parse_empty_value_at_end_of_buffer),
		cmocka_unit_test(test_report_json_is_utf8),
		cmocka_unit_test(test_fragment_has_critical_symbols_and_debug_off),
		cmocka_unit_test(test_fragment_is_source_file_verbatim),
		cmocka_unit_test_setup_teardown(test_extra_file_errors_are_distinct, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_extra_file_missing_and_directory, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_extra_file_utf8_comment_and_hash, tmp_setup,
						tmp_teardown),
		cmocka_unit_test(test_merge_without_extras_is_the_fragment),
		cmocka_unit_test_setup_teardown(test_merge_order_provenance_and_overrides, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_merge_fails_on_bad_extra_naming_it, tmp_setup,
						tmp_teardown),
		cmocka_unit_test(test_not_set_is_satisfied_by_absent_off_or_n),
		cmocka_unit_test(test_satisfied_detects_each_unmet_line),
		cmocka_unit_test_setup_teardown(test_config_file_skip_logic, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_accepts_any_string_bytes, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_write_merged_fragment_round_trips, tmp_setup,
						tmp_teardown),
		cmocka_unit_test(test_report_finds_dropped_lines),
		cmocka_unit_test(test_report_rewritten_value_is_dropped),
		cmocka_unit_test_setup_teardown(test_report_json_content, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_validate_passes_real_config),
		cmocka_unit_test(test_validate_shows_value_printable),
		cmocka_unit_test(test_validate_btf_names_pahole),
		cmocka_unit_test_setup_teardown(test_validate_names_extra_fragment, tmp_setup,
						tmp_teardown),
	};

	return cmocka_run_group_tests_name("kconfig", tests, NULL, NULL);
}
