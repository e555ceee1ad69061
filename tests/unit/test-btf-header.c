/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * btf-header.c: the vmlinux.h of a small BTF built in the test has bpftool's guard and
 * pragma lines and the struct; an ELF without .BTF is -ENODATA naming the file; failures
 * (a directory in the way, a write that fails half-way) leave nothing at or beside the
 * output; and a BPF program including the header compiles with clang -target bpf.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "btf-header.h"
#include "macro.h"
#include "test-btf.h"
#include "test-skip.h"
#include "test-tmpdir.h"
#include "util.h"

struct fixture {
	char dir[TMPDIR_SIZE]; /* mkdtemp; first, for test-tmpdir.h */
	char btf[TMPDIR_SIZE + 32];
	char out[TMPDIR_SIZE + 32];
};
TMPDIR_FIXTURE_CHECK(struct fixture, dir);

static int setup(void **state)
{
	struct fixture *fx = tmpdir_fixture_new(sizeof(struct fixture));
	struct test_btf ids;

	if (!fx)
		return -1;
	(void) snprintf(fx->btf, sizeof(fx->btf), "%s/tiny.btf", fx->dir);
	(void) snprintf(fx->out, sizeof(fx->out), "%s/vmlinux.h", fx->dir);
	test_btf_write_raw(test_btf_new(true, true, &ids), fx->btf);
	*state = fx;
	return 0;
}

/* Entries of dir other than . and .., those named in keep excepted. */
static unsigned others_in(const char *dir, const char *const *keep)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		bool kept = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;

		for (size_t i = 0; keep[i] && !kept; i++)
			kept = strcmp(de->d_name, keep[i]) == 0;
		if (!kept) {
			print_message("# unexpected: %s\n", de->d_name);
			n++;
		}
	}
	return n;
}

static const char *const keep_both[] = { "tiny.btf", "vmlinux.h", NULL };

static const char head[] =
	"#ifndef __VMLINUX_H__\n"
	"#define __VMLINUX_H__\n"
	"\n"
	"#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
	"#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n"
	"#endif\n"
	"\n";
static const char tail[] =
	"#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
	"#pragma clang attribute pop\n"
	"#endif\n"
	"\n"
	"#endif /* __VMLINUX_H__ */\n";

static void test_header_guard_pragma_and_struct(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *text = NULL, *why = NULL;
	size_t len;

	assert_int_equal(btf_header_write(fx->btf, fx->out, &why), 0);
	assert_null(why);
	assert_int_equal(read_full_file(fx->out, 0, &text, &len), 0);
	assert_true(len > sizeof(head) + sizeof(tail));
	assert_memory_equal(text, head, strlen(head));
	assert_string_equal(text + len - strlen(tail), tail);
	assert_non_null(strstr(text, "typedef long long unsigned int u64;\n"));
	assert_non_null(strstr(text, "struct task_struct;\n"));
	assert_non_null(strstr(text, "struct sched_ext_ops {\n"
				     "\ts32 (*select_cpu)(struct task_struct *p, u64 f);\n"));
	assert_non_null(strstr(text, "\tu64 flags;\n};\n"));
	/* the file is readable by others, like every file of an entry */
	struct stat st;
	assert_int_equal(stat(fx->out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(others_in(fx->dir, keep_both), 0);
}

static void test_replaces_existing_file(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *text = NULL;

	tmpdir_write_file(fx->out, "old contents\n");
	assert_int_equal(btf_header_write(fx->btf, fx->out, NULL), 0);
	assert_int_equal(read_full_file(fx->out, 0, &text, NULL), 0);
	assert_memory_equal(text, head, strlen(head));
}

static void test_elf_without_btf_is_enodata(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *why = NULL, *obj = NULL, *out = NULL;

	test_btf_elf(fx->dir, "nobtf", NULL, NULL, NULL);
	assert_true(asprintf(&obj, "%s/nobtf.o", fx->dir) > 0);
	assert_true(asprintf(&out, "%s/none.h", fx->dir) > 0);
	assert_int_equal(btf_header_write(obj, out, &why), -ENODATA);
	assert_non_null(why);
	assert_non_null(strstr(why, obj));
	assert_non_null(strstr(why, "CONFIG_DEBUG_INFO_BTF"));
	assert_int_equal(access(out, F_OK), -1);
}

static void test_missing_and_garbage_input(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *why = NULL, *why2 = NULL, *junk = NULL, *out = NULL;

	assert_true(asprintf(&junk, "%s/junk", fx->dir) > 0);
	assert_true(asprintf(&out, "%s/junk.h", fx->dir) > 0);
	assert_int_equal(btf_header_write("/nonexistent/vmlinux", out, &why), -ENOENT);
	assert_non_null(strstr(why, "'/nonexistent/vmlinux'"));
	tmpdir_write_file(junk, "this is neither BTF nor ELF, but long enough to be read\n");
	assert_int_equal(btf_header_write(junk, out, &why2), -EBADMSG);
	assert_non_null(strstr(why2, junk));
	assert_int_equal(access(out, F_OK), -1);
}

/* rename() over a non-empty directory fails after the whole header was written. */
static void test_failure_at_rename_leaves_nothing(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *why = NULL, *in_dir = NULL;

	assert_int_equal(mkdir(fx->out, 0755), 0);
	assert_true(asprintf(&in_dir, "%s/keep", fx->out) > 0);
	tmpdir_write_file(in_dir, "x");
	assert_true(btf_header_write(fx->btf, fx->out, &why) < 0);
	assert_non_null(why);
	assert_non_null(strstr(why, fx->out));
	assert_int_equal(others_in(fx->dir, keep_both), 0);
}

/* A write that fails half-way (the file size limit: the way ENOSPC fails a write) returns
 * the write's error and leaves nothing. In a child, for the limit. */
static void test_write_error_returned_nothing_left(void **state)
{
	struct fixture *fx = *state;
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { .rlim_cur = 200, .rlim_max = 200 };
		_cleanup_free_ char *why = NULL;
		int r;

		(void) signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(10);
		r = btf_header_write(fx->btf, fx->out, &why);
		_exit(r == -EFBIG && why && strstr(why, "cannot write") ? 0 : 11);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(others_in(fx->dir, (const char *const[]) { "tiny.btf", NULL }), 0);
}

static const char bpf_program[] =
	"#include \"vmlinux.h\"\n"
	"#define SEC(name) __attribute__((section(name), used))\n"
	"SEC(\"tp/test\") int kts_probe(struct sched_ext_ops *ops)\n"
	"{\n"
	"\treturn ops->flags ? 1 : 0;\n"
	"}\n"
	"char LICENSE[] SEC(\"license\") = \"GPL\";\n";

static void test_bpf_program_compiles_against_it(void **state)
{
	struct fixture *fx = *state;
	_cleanup_free_ char *clang = find_program("clang"), *src = NULL;

	test_need(clang, "clang (Debian package clang) to compile a BPF program");
	assert_int_equal(btf_header_write(fx->btf, fx->out, NULL), 0);
	assert_true(asprintf(&src, "%s/prog.bpf.c", fx->dir) > 0);
	tmpdir_write_file(src, bpf_program);
	assert_int_equal(test_btf_run(fx->dir, "clang -target bpf -O2 -g -c prog.bpf.c"), 0);
	/* a BPF object with the program's section */
	assert_int_equal(test_btf_run(fx->dir, "readelf -hS prog.bpf.o | grep -q 'Linux BPF' && "
					       "readelf -S prog.bpf.o | grep -q 'tp/test'"),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_header_guard_pragma_and_struct, setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_replaces_existing_file, setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_elf_without_btf_is_enodata, setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_garbage_input, setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_failure_at_rename_leaves_nothing, setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_write_error_returned_nothing_left, setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_bpf_program_compiles_against_it, setup,
						tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
