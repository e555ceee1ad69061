/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * caps.c, caps-btf.c, caps-json.c: the manifest of a small BTF built in the test (test-btf.h)
 * from each kfunc source — bpf_kfunc decl tags before the .BTF_ids sets of an ELF object
 * made with cc + objcopy, those before FUNC names, and the fall-backs when the sets are
 * missing, run past their section or name no FUNC — the release from linux_banner, the
 * config options, capabilities.json written and read back, every class of bad file
 * refused with its field named, and caps_diff() of two manifests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "caps.h"
#include "macro.h"
#include "test-btf.h"
#include "test-tmpdir.h"
#include "util.h"

#define BANNER "Linux version 6.99.1-kts (kts@test) (gcc) #1 SMP PREEMPT_DYNAMIC\\n"

struct fixture {
	char dir[TMPDIR_SIZE]; /* mkdtemp; first, for test-tmpdir.h */
	struct test_btf ids;
	char path[512];
};
TMPDIR_FIXTURE_CHECK(struct fixture, dir);

static int setup(void **state)
{
	*state = tmpdir_fixture_new(sizeof(struct fixture));
	return *state ? 0 : -1;
}

/* fx->dir/name, in fx->path (the last one asked for). */
static const char *in_dir(struct fixture *fx, const char *name)
{
	(void) snprintf(fx->path, sizeof(fx->path), "%s/%s", fx->dir, name);
	return fx->path;
}

static char *path_dup(struct fixture *fx, const char *name)
{
	char *p = strdup(in_dir(fx, name));

	assert_non_null(p);
	return p;
}

/* A raw BTF file named name; its FUNC ids in fx->ids. */
static char *raw_btf(struct fixture *fx, const char *name, bool ops, bool tags)
{
	test_btf_write_raw(test_btf_new(ops, tags, &fx->ids), in_dir(fx, name));
	return path_dup(fx, name);
}

static void assert_strv(char *const *v, size_t n, const char *const *want)
{
	size_t i = 0;

	for (; want[i]; i++) {
		assert_true(i < n);
		assert_string_equal(v[i], want[i]);
	}
	assert_int_equal(n, i);
}

static const char *option(const struct kts_caps *c, const char *name)
{
	for (size_t i = 0; i < c->n_options; i++)
		if (strcmp(c->options[i].name, name) == 0)
			return c->options[i].value;
	fail_msg("no option %s", name);
	return NULL;
}

/* ------------------------------------------------------------------ from BTF */

static void test_raw_btf_func_names(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *btf = raw_btf(fx, "plain.btf", true, false), *why = NULL;
	const char *const *names = caps_option_names();
	struct kts_caps c;

	assert_int_equal(caps_from_vmlinux(btf, NULL, NULL, &c, &why), 0);
	assert_null(c.release); /* raw BTF has no linux_banner */
	assert_true(c.sched_ext);
	assert_strv(c.ops, c.n_ops,
		    (const char *const[]) { "select_cpu", "enqueue", "dispatch", "flags", NULL });
	assert_int_equal(c.kfuncs_from, KTS_CAPS_KFUNCS_FUNC_NAME);
	assert_strv(c.kfuncs, c.n_kfuncs,
		    (const char *const[]) { "scx_bpf_consume", "scx_bpf_dsq_insert",
					    "scx_bpf_kick_cpu", NULL });
	/* every option, in caps_option_names() order, unset without a config */
	for (size_t i = 0; i < c.n_options; i++) {
		assert_non_null(names[i]);
		assert_string_equal(c.options[i].name, names[i]);
		assert_null(c.options[i].value);
	}
	assert_null(names[c.n_options]);
	assert_int_equal(c.n_options, 26);
	caps_done(&c);
}

static void test_decl_tags_come_first(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *btf = raw_btf(fx, "tagged.btf", true, true);
	struct kts_caps c;

	/* tagged: only the tagged scx FUNC, not the untagged ones nor the non-scx kfunc */
	assert_int_equal(caps_from_vmlinux(btf, NULL, NULL, &c, NULL), 0);
	assert_int_equal(c.kfuncs_from, KTS_CAPS_KFUNCS_DECL_TAG);
	assert_strv(c.kfuncs, c.n_kfuncs, (const char *const[]) { "scx_bpf_dsq_insert", NULL });
	assert_string_equal(caps_kfuncs_from_name(c.kfuncs_from), "decl_tag");
	caps_done(&c);
}

static void test_no_sched_ext_ops(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *btf = raw_btf(fx, "noscx.btf", false, false);
	struct kts_caps c;

	assert_int_equal(caps_from_vmlinux(btf, NULL, NULL, &c, NULL), 0);
	assert_false(c.sched_ext);
	assert_int_equal(c.n_ops, 0);
	caps_done(&c);
}

static void test_no_btf_is_enodata(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *why = NULL, *obj = NULL;
	struct kts_caps c = { .n_ops = 77 };

	test_btf_elf(fx->dir, "nobtf", BANNER, NULL, NULL);
	obj = path_dup(fx, "nobtf.o");
	assert_int_equal(caps_from_vmlinux(obj, NULL, NULL, &c, &why), -ENODATA);
	assert_non_null(strstr(why, obj));
	assert_int_equal(c.n_ops, 77); /* untouched on failure */
}

/* ------------------------------------------------------------------ from an ELF file */

/* The C text of a kfunc set (flags 1) and of a set without the kfunc flag. */
static char *sets_source(const struct test_btf *ids, unsigned cnt, int bad_id)
{
	char *s = NULL;

	assert_true(asprintf(&s,
			     "__attribute__((section(\".BTF_ids\"), used)) static unsigned int "
			     "__BTF_ID__set8__kts_kfunc_ids[] = { %u, 1, %d, 0, %d, 0, %d, 0 };\n"
			     "__attribute__((section(\".BTF_ids\"), used)) static unsigned int "
			     "__BTF_ID__set8__kts_other_ids[] = { 1, 0, %d, 0 };\n",
			     cnt, bad_id ? bad_id : ids->dsq_insert, ids->rcu_read_lock,
			     ids->consume, ids->kick_cpu) > 0);
	return s;
}

/* name.o with .BTF (untagged unless tags), linux_banner and the given sets source. */
static char *elf_with(struct fixture *fx, const char *name, bool tags, const char *sets)
{
	_cleanup_free_ char *obj = NULL;

	test_btf_write_raw(test_btf_new(true, tags, &fx->ids), in_dir(fx, "elf.btf"));
	test_btf_elf(fx->dir, name, BANNER, sets, "elf.btf");
	assert_true(asprintf(&obj, "%s/%s.o", fx->dir, name) > 0);
	return TAKE_PTR(obj);
}

static void test_btf_ids_sets_and_release(void **state)
{
	struct fixture *fx = *state;
	struct test_btf ids;
	_cleanup_free_ char *sets = NULL, *obj = NULL, *why = NULL;
	struct kts_caps c;

	/* the ids are the same for every BTF test_btf_new() makes with ops */
	btf__free(test_btf_new(true, false, &ids));
	sets = sets_source(&ids, 3, 0);
	obj = elf_with(fx, "ids", false, sets);
	assert_int_equal(caps_from_vmlinux(obj, obj, NULL, &c, &why), 0);
	assert_string_equal(c.release, "6.99.1-kts");
	assert_int_equal(c.kfuncs_from, KTS_CAPS_KFUNCS_BTF_IDS);
	/* the kfunc set's scx names; not kick_cpu, which is in a set without the flag */
	assert_strv(c.kfuncs, c.n_kfuncs,
		    (const char *const[]) { "scx_bpf_consume", "scx_bpf_dsq_insert", NULL });
	caps_done(&c);
	/* without ids_path: the names */
	assert_int_equal(caps_from_vmlinux(obj, NULL, NULL, &c, NULL), 0);
	assert_int_equal(c.kfuncs_from, KTS_CAPS_KFUNCS_FUNC_NAME);
	assert_int_equal(c.n_kfuncs, 3);
	caps_done(&c);
}

static void test_decl_tags_before_btf_ids(void **state)
{
	struct fixture *fx = *state;
	struct test_btf ids;
	_cleanup_free_ char *sets = NULL, *obj = NULL;
	struct kts_caps c;

	btf__free(test_btf_new(true, true, &ids));
	sets = sets_source(&ids, 3, 0);
	obj = elf_with(fx, "tagged", true, sets);
	assert_int_equal(caps_from_vmlinux(obj, obj, NULL, &c, NULL), 0);
	assert_int_equal(c.kfuncs_from, KTS_CAPS_KFUNCS_DECL_TAG);
	assert_strv(c.kfuncs, c.n_kfuncs, (const char *const[]) { "scx_bpf_dsq_insert", NULL });
	caps_done(&c);
}

/* Sets that cannot be used fall back to the names: none, past the section, foreign IDs. */
static void test_btf_ids_fallbacks(void **state)
{
	struct fixture *fx = *state;
	struct test_btf ids;
	const char *cases[3];
	_cleanup_free_ char *past = NULL, *foreign = NULL, *why = NULL;
	struct kts_caps c;

	btf__free(test_btf_new(true, false, &ids));
	past = sets_source(&ids, 1000, 0);
	foreign = sets_source(&ids, 3, 9999);
	cases[0] = NULL;
	cases[1] = past;
	cases[2] = foreign;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char name[16];
		_cleanup_free_ char *obj = NULL;

		(void) snprintf(name, sizeof(name), "fb%zu", i);
		obj = elf_with(fx, name, false, cases[i]);
		assert_int_equal(caps_from_vmlinux(obj, obj, NULL, &c, NULL), 0);
		assert_int_equal(c.kfuncs_from, KTS_CAPS_KFUNCS_FUNC_NAME);
		assert_int_equal(c.n_kfuncs, 3);
		caps_done(&c);
	}
	/* an ids_path that is not there is an error naming it */
	_cleanup_free_ char *obj = elf_with(fx, "fb", false, NULL);
	assert_int_equal(caps_from_vmlinux(obj, "/nonexistent/vmlinux", NULL, &c, &why), -ENOENT);
	assert_non_null(strstr(why, "'/nonexistent/vmlinux'"));
}

static void test_banner_without_version_is_no_release(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *obj = NULL;
	struct kts_caps c;

	test_btf_write_raw(test_btf_new(true, false, &fx->ids), in_dir(fx, "b.btf"));
	test_btf_elf(fx->dir, "banner", "Linux kernel, no version here", NULL, "b.btf");
	obj = path_dup(fx, "banner.o");
	assert_int_equal(caps_from_vmlinux(obj, NULL, NULL, &c, NULL), 0);
	assert_null(c.release);
	caps_done(&c);
}

/* ------------------------------------------------------------------ config */

static void test_config_options(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *btf = raw_btf(fx, "cfg.btf", true, false), *cfg = NULL, *why = NULL;
	struct kts_caps c;

	cfg = path_dup(fx, "config");
	tmpdir_write_file(cfg, "#\n# Automatically generated file; DO NOT EDIT.\n#\n"
			       "CONFIG_SCHED_CLASS_EXT=y\n"
			       "# CONFIG_EXT_GROUP_SCHED is not set\n"
			       "CONFIG_HZ=100\n"
			       "CONFIG_HZ=250\n" /* the last one wins */
			       "CONFIG_PREEMPT_NONE=y\n"
			       "# CONFIG_PREEMPT is not set\n"
			       "CONFIG_PAHOLE_VERSION=124\n"
			       "CONFIG_NR_CPUS=\"quoted\"\n"
			       "CONFIG_BPF_JIT=y\n"
			       "# CONFIG_BPF_JIT is not set\n"
			       "CONFIG_UNRELATED=y");
	assert_int_equal(caps_from_vmlinux(btf, NULL, cfg, &c, &why), 0);
	assert_string_equal(option(&c, "CONFIG_SCHED_CLASS_EXT"), "y");
	assert_null(option(&c, "CONFIG_EXT_GROUP_SCHED"));
	assert_string_equal(option(&c, "CONFIG_HZ"), "250");
	assert_string_equal(option(&c, "CONFIG_PREEMPT_NONE"), "y");
	assert_null(option(&c, "CONFIG_PREEMPT"));
	assert_string_equal(option(&c, "CONFIG_PAHOLE_VERSION"), "124");
	assert_string_equal(option(&c, "CONFIG_NR_CPUS"), "\"quoted\"");
	assert_null(option(&c, "CONFIG_BPF_JIT"));
	assert_null(option(&c, "CONFIG_NUMA"));
	assert_int_equal(c.n_options, 26);
	caps_done(&c);

	assert_int_equal(caps_from_vmlinux(btf, NULL, "/nonexistent/.config", &c, &why), -ENOENT);
	assert_non_null(strstr(why, "'/nonexistent/.config'"));
}

/* ------------------------------------------------------------------ JSON */

static struct kts_caps sample(const char *release, const char *const *ops,
			      const char *const *kfuncs, const char *const *options)
{
	struct kts_caps c = { .sched_ext = ops[0] != NULL, .kfuncs_from = KTS_CAPS_KFUNCS_BTF_IDS };

	c.release = release ? strdup(release) : NULL;
	for (; ops[c.n_ops]; c.n_ops++)
		;
	c.ops = calloc(c.n_ops + 1, sizeof(char *));
	for (size_t i = 0; i < c.n_ops; i++)
		c.ops[i] = strdup(ops[i]);
	for (; kfuncs[c.n_kfuncs]; c.n_kfuncs++)
		;
	c.kfuncs = calloc(c.n_kfuncs + 1, sizeof(char *));
	for (size_t i = 0; i < c.n_kfuncs; i++)
		c.kfuncs[i] = strdup(kfuncs[i]);
	for (; options[2 * c.n_options]; c.n_options++)
		;
	c.options = calloc(c.n_options + 1, sizeof(*c.options));
	for (size_t i = 0; i < c.n_options; i++) {
		c.options[i].name = strdup(options[2 * i]);
		c.options[i].value = options[2 * i + 1] ? strdup(options[2 * i + 1]) : NULL;
	}
	return c;
}

static void assert_same_caps(const struct kts_caps *a, const struct kts_caps *b)
{
	if (a->release || b->release)
		assert_string_equal(a->release, b->release);
	assert_int_equal(a->sched_ext, b->sched_ext);
	assert_int_equal(a->kfuncs_from, b->kfuncs_from);
	assert_int_equal(a->n_ops, b->n_ops);
	for (size_t i = 0; i < a->n_ops; i++)
		assert_string_equal(a->ops[i], b->ops[i]);
	assert_int_equal(a->n_kfuncs, b->n_kfuncs);
	for (size_t i = 0; i < a->n_kfuncs; i++)
		assert_string_equal(a->kfuncs[i], b->kfuncs[i]);
	assert_int_equal(a->n_options, b->n_options);
	for (size_t i = 0; i < a->n_options; i++) {
		assert_string_equal(a->options[i].name, b->options[i].name);
		if (a->options[i].value || b->options[i].value)
			assert_string_equal(a->options[i].value, b->options[i].value);
	}
}

static void test_json_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct kts_caps a = sample("6.12.118", (const char *const[]) { "select_cpu", "exit", NULL },
				   (const char *const[]) { "scx_bpf_consume", NULL },
				   (const char *const[]) { "CONFIG_HZ", "1000", "CONFIG_NUMA", NULL,
							   "CONFIG_X", "\"a \\\" b\"", NULL });
	struct kts_caps b, c, d = { 0 };
	_cleanup_free_ char *text = NULL, *path = path_dup(fx, CAPS_FILENAME), *file = NULL;
	_cleanup_free_ char *why = NULL;

	assert_int_equal(caps_to_string(&a, &text), 0);
	assert_true(text[strlen(text) - 1] == '\n');
	assert_non_null(strstr(text, "\"kfuncs_from\": \"btf_ids\""));
	assert_non_null(strstr(text, "\"CONFIG_NUMA\": null"));
	assert_int_equal(caps_parse(text, strlen(text), "mem", &b, &why), 0);
	assert_same_caps(&a, &b);

	assert_int_equal(caps_write(&a, path), 0);
	assert_int_equal(read_full_file(path, 0, &file, NULL), 0);
	assert_string_equal(file, text);
	assert_int_equal(caps_read(path, &c, NULL), 0);
	assert_same_caps(&a, &c);

	/* no release, no sched_ext, nothing at all */
	_cleanup_free_ char *t2 = NULL;
	struct kts_caps e;
	assert_int_equal(caps_to_string(&d, &t2), 0);
	assert_non_null(strstr(t2, "\"release\": null"));
	assert_int_equal(caps_parse(t2, strlen(t2), "mem", &e, NULL), 0);
	assert_same_caps(&d, &e);
	caps_done(&a);
	caps_done(&b);
	caps_done(&c);
	caps_done(&e);
	caps_done(NULL);
}

static void test_read_missing(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *why = NULL, *path = path_dup(fx, "none.json");
	struct kts_caps c;

	assert_int_equal(caps_read(path, &c, &why), -ENOENT);
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, "missing"));
}

#define GOOD_REST                                                                          \
	"\"sched_ext\": true, \"ops\": [\"select_cpu\"], \"kfuncs\": [\"scx_bpf_kick_cpu\"], " \
	"\"kfuncs_from\": \"decl_tag\", \"options\": {\"CONFIG_HZ\": \"250\"}"
/* A document with release null and the other fields given (JSON text). */
#define DOC(sched_ext, ops, kfuncs, from, options)                                         \
	"{\"schema\": 1, \"release\": null, \"sched_ext\": " sched_ext ", \"ops\": " ops       \
	", \"kfuncs\": " kfuncs ", \"kfuncs_from\": " from ", \"options\": " options "}"
#define TAG "\"decl_tag\""

static void test_parser_rejects(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		/* malformed or trailing data */
		{ "{\"schema\": 1,", "truncated JSON" },
		{ "{\"schema\": 1, \"release\": null, " GOOD_REST "} x", "trailing data" },
		{ "[]", "expected an object" },
		/* missing keys */
		{ "{\"release\": null, " GOOD_REST "}", "field 'schema': missing" },
		{ "{\"schema\": 1, " GOOD_REST "}", "field 'release': missing" },
		{ "{\"schema\": 1, \"release\": null, \"sched_ext\": true, \"ops\": [], "
		  "\"kfuncs\": [], \"kfuncs_from\": \"decl_tag\"}",
		  "field 'options': missing" },
		/* wrong types */
		{ "{\"schema\": \"1\", \"release\": null, " GOOD_REST "}",
		  "field 'schema': expected" },
		{ "{\"schema\": 1.0, \"release\": null, " GOOD_REST "}",
		  "field 'schema': expected" },
		{ "{\"schema\": 2, \"release\": null, " GOOD_REST "}", "unsupported schema 2" },
		{ "{\"schema\": 1, \"release\": 6, " GOOD_REST "}", "field 'release'" },
		{ DOC("1", "[]", "[]", TAG, "{}"), "field 'sched_ext'" },
		{ DOC("true", "\"x\"", "[]", TAG, "{}"),
		  "field 'ops': expected an array of strings" },
		{ DOC("true", "[1]", "[]", TAG, "{}"),
		  "field 'ops': expected an array of strings" },
		{ DOC("true", "[]", "{}", TAG, "{}"), "field 'kfuncs': expected an array" },
		{ DOC("true", "[]", "[]", "\"guess\"", "{}"), "field 'kfuncs_from'" },
		{ DOC("true", "[]", "[]", "null", "{}"), "field 'kfuncs_from'" },
		{ DOC("true", "[]", "[]", TAG, "[]"), "field 'options': expected an object" },
		{ DOC("true", "[]", "[]", TAG, "{\"CONFIG_A\": 1}"),
		  "CONFIG_A: expected a string or null" },
		/* bad names and values */
		{ "{\"schema\": 1, \"release\": \"6.1 2\", " GOOD_REST "}", "field 'release'" },
		{ DOC("true", "[\"a-b\"]", "[]", TAG, "{}"), "'a-b' is not a C name" },
		{ DOC("true", "[\"\"]", "[]", TAG, "{}"), "field 'ops'" },
		{ DOC("true", "[]", "[\"bpf_rcu_read_lock\"]", TAG, "{}"),
		  "is not a scx_bpf_ name" },
		{ DOC("true", "[]", "[]", TAG, "{\"HZ\": \"1\"}"), "'HZ' is not a CONFIG_ name" },
		{ DOC("true", "[]", "[]", TAG, "{\"CONFIG_A\": \"\\u001b[2J\"}"), "not printable" },
		{ DOC("false", "[\"init\"]", "[]", TAG, "{}"), "'sched_ext' is false" },
		/* duplicates */
		{ DOC("true", "[\"init\", \"exit\", \"init\"]", "[]", TAG, "{}"),
		  "field 'ops': 'init' is listed twice" },
		{ DOC("true", "[]", "[\"scx_bpf_a\", \"scx_bpf_a\"]", TAG, "{}"),
		  "field 'kfuncs': 'scx_bpf_a' is listed twice" },
	};
	static const char good[] =
		"{\"schema\": 1, \"release\": \"6.12.0-rc1+\", \"later\": [1], " GOOD_REST "}";
	struct kts_caps c = { .n_ops = 5 };

	(void) state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *why = NULL;

		print_message("# %s\n", bad[i].text);
		assert_int_equal(caps_parse(bad[i].text, strlen(bad[i].text), "/x/caps.json", &c,
					    &why),
				 -EBADMSG);
		assert_non_null(why);
		print_message("#  -> %s\n", why);
		assert_non_null(strstr(why, "capabilities.json '/x/caps.json'"));
		assert_non_null(strstr(why, bad[i].why));
		assert_int_equal(c.n_ops, 5); /* not written */
	}
	/* the same with nothing wrong is accepted, unknown keys and all */
	assert_int_equal(caps_parse(good, strlen(good), "good", &c, NULL), 0);
	assert_string_equal(c.release, "6.12.0-rc1+");
	assert_string_equal(option(&c, "CONFIG_HZ"), "250");
	caps_done(&c);
	/* a NUL byte is trailing data */
	assert_int_equal(caps_parse(good, sizeof(good), "nul", &c, NULL), -EBADMSG);
}

/* ------------------------------------------------------------------ diff */

struct diff_log {
	char text[2048];
};

static void record(enum kts_caps_diff_kind kind, const char *name, const char *in_a,
		   const char *in_b, void *userdata)
{
	static const char *const kinds[] = { "release", "op", "kfunc", "option" };
	struct diff_log *log = userdata;
	size_t n = strlen(log->text);

	(void) snprintf(log->text + n, sizeof(log->text) - n, "%s %s: %s -> %s\n", kinds[kind],
			name, in_a ? in_a : "-", in_b ? in_b : "-");
}

static void test_diff(void **state)
{
	struct kts_caps a = sample("6.12.118",
				   (const char *const[]) { "select_cpu", "enqueue", "dump", NULL },
				   (const char *const[]) { "scx_bpf_consume", "scx_bpf_dispatch",
							   "scx_bpf_kick_cpu", NULL },
				   (const char *const[]) { "CONFIG_HZ", "250", "CONFIG_NUMA", NULL,
							   "CONFIG_SCHED_CORE", "y", "CONFIG_BPF",
							   "y", NULL });
	struct kts_caps b = sample("6.13.2",
				   (const char *const[]) { "enqueue", "select_cpu", "cgroup_init",
							   NULL },
				   (const char *const[]) { "scx_bpf_dsq_insert", "scx_bpf_kick_cpu",
							   NULL },
				   (const char *const[]) { "CONFIG_NUMA", "y", "CONFIG_HZ", "1000",
							   "CONFIG_BPF", "y", "CONFIG_NEW", NULL,
							   NULL });
	struct diff_log log = { "" };

	(void) state;
	assert_int_equal(caps_diff(&a, &b, record, &log), 9);
	assert_string_equal(log.text, "release release: 6.12.118 -> 6.13.2\n"
				      "op cgroup_init: - -> yes\n"
				      "op dump: yes -> -\n"
				      "kfunc scx_bpf_consume: yes -> -\n"
				      "kfunc scx_bpf_dispatch: yes -> -\n"
				      "kfunc scx_bpf_dsq_insert: - -> yes\n"
				      "option CONFIG_HZ: 250 -> 1000\n"
				      "option CONFIG_NUMA: - -> y\n"
				      "option CONFIG_SCHED_CORE: y -> -\n");
	log.text[0] = '\0';
	assert_int_equal(caps_diff(&a, &a, record, &log), 0);
	assert_string_equal(log.text, "");
	caps_done(&a);
	caps_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_raw_btf_func_names, setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_decl_tags_come_first, setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_no_sched_ext_ops, setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_no_btf_is_enodata, setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_btf_ids_sets_and_release, setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_decl_tags_before_btf_ids, setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_btf_ids_fallbacks, setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_banner_without_version_is_no_release, setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_config_options, setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_json_round_trip, setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_read_missing, setup, tmpdir_teardown),
		cmocka_unit_test(test_parser_rejects),
		cmocka_unit_test(test_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
