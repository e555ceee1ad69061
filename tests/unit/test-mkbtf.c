/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fake kernel's checked-in BTF blobs (the .btf files of tests/data/fake-kernel) are
 * what mkbtf.c makes: regenerated here and compared byte for byte, then read back with
 * libbpf. With `--write DIR` it writes the blobs into DIR instead (after a change to
 * mkbtf.c: `tests/unit/test-mkbtf --write ../tests/data/fake-kernel`).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <cmocka.h>

#include "macro.h"
#include "mkbtf.h"
#include "util.h"

static char *blob_path(const char *dir, const char *variant)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s.btf", dir, variant) > 0);
	return p;
}

static void test_blobs_match_generator(void **state)
{
	(void) state;
	for (size_t i = 0; mkbtf_variants[i]; i++) {
		_cleanup_free_ char *path = blob_path(KTS_TEST_DATADIR "/fake-kernel", mkbtf_variants[i]);
		_cleanup_free_ char *text = NULL;
		_cleanup_free_ void *raw = NULL;
		size_t size = 0, len = 0;

		assert_int_equal(mkbtf_build(mkbtf_variants[i], &raw, &size), 0);
		assert_int_equal(read_full_file(path, 1 << 20, &text, &len), 0);
		if (len != size || memcmp(text, raw, size) != 0)
			fail_msg("'%s' is not what mkbtf.c makes (%zu bytes, generated %zu): "
				 "regenerate it with test-mkbtf --write", path, len, size);
	}
	assert_int_equal(mkbtf_build("nope", &(void *){ NULL }, &(size_t){ 0 }), -EINVAL);
}

/* The member names of struct sched_ext_ops in b, joined by ' '. */
static void ops_members(const struct btf *b, char *buf, size_t n)
{
	int id = btf__find_by_name_kind(b, "sched_ext_ops", BTF_KIND_STRUCT);
	const struct btf_type *t;
	const struct btf_member *m;

	assert_true(id > 0);
	t = btf__type_by_id(b, (unsigned) id);
	m = btf_members(t);
	buf[0] = 0;
	for (unsigned i = 0; i < btf_vlen(t); i++)
		snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? " " : "",
			 btf__name_by_offset(b, m[i].name_off));
}

static void test_blobs_parse(void **state)
{
	const char *const want_ops[] = { "select_cpu enqueue dispatch init exit name",
					 "select_cpu enqueue dequeue dispatch init exit name" };
	const char *const want_kfunc[] = { "scx_bpf_dispatch", "scx_bpf_dsq_insert" };

	(void) state;
	for (size_t i = 0; mkbtf_variants[i]; i++) {
		_cleanup_free_ void *raw = NULL;
		struct btf *b;
		char ops[256];
		size_t size;

		assert_int_equal(mkbtf_build(mkbtf_variants[i], &raw, &size), 0);
		b = btf__new(raw, (__u32) size);
		assert_non_null(b);
		ops_members(b, ops, sizeof(ops));
		assert_string_equal(ops, want_ops[i]);
		/* the ids fake.c's .BTF_ids set names */
		assert_int_equal(btf__find_by_name_kind(b, want_kfunc[i], BTF_KIND_FUNC),
				 MKBTF_FUNC_ID_FIRST);
		assert_int_equal(btf__find_by_name_kind(b, "fake_counter_read", BTF_KIND_FUNC),
				 MKBTF_FUNC_ID_FIRST + MKBTF_N_FUNCS - 1);
		assert_int_equal(btf__type_cnt(b), MKBTF_FUNC_ID_FIRST + MKBTF_N_FUNCS);
		btf__free(b);
	}
}

/* --write DIR: the blobs written into DIR. */
static int write_blobs(const char *dir)
{
	for (size_t i = 0; mkbtf_variants[i]; i++) {
		_cleanup_free_ char *path = NULL;
		_cleanup_free_ void *raw = NULL;
		size_t size;
		int r = mkbtf_build(mkbtf_variants[i], &raw, &size);

		if (r >= 0 && asprintf(&path, "%s/%s.btf", dir, mkbtf_variants[i]) < 0)
			r = -ENOMEM;
		if (r >= 0)
			r = write_file_atomic(path, raw, size, 0644);
		if (r < 0) {
			fprintf(stderr, "test-mkbtf: cannot write '%s': %s\n",
				path ? path : mkbtf_variants[i], strerror(-r));
			return 1;
		}
		printf("%s: %zu bytes\n", path, size);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blobs_match_generator),
		cmocka_unit_test(test_blobs_parse),
	};

	if (argc == 3 && strcmp(argv[1], "--write") == 0)
		return write_blobs(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
