/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strip.c's refusals and file handling on the probe files of strip-probe.c: bad, truncated
 * or symbol-less inputs fail with the documented errno and leave nothing behind; outputs
 * are replaced whole, in place too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gelf.h>
#include <libelf.h>
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

#include "macro.h"
#include "strip.h"
#include "strip-probe.h"

/* The probe program's bytes, size in *ret_size: a valid ELF file for a test to damage. */
static char *prog_bytes(const struct fixture *fx, size_t *ret_size)
{
	char *bytes = read_all(fx->prog, ret_size);

	assert_non_null(bytes);
	return bytes;
}

/* Stripping in to out fails with err, gives a reason (naming what, unless NULL), writes nothing. */
static void assert_refused(const char *in, const char *out, int err, const char *what)
{
	_cleanup_free_ char *why = NULL;

	assert_int_equal(strip_vmlinux_full(in, out, NULL, NULL, &why), err);
	assert_non_null(why);
	if (what && !strstr(why, what))
		fail_msg("reason '%s' does not name '%s'", why, what);
	assert_false(exists(out));
}

static void test_not_elf_is_enoexec_and_leaves_nothing(void **state)
{
	const struct fixture *fx = *state;
	char in[256], out[256];
	char *why = NULL;
	uint64_t before = 7, after = 7;

	path_in(fx, "not-elf.txt", in, sizeof(in));
	path_in(fx, "out-notelf", out, sizeof(out));
	write_bytes(in, "this is not an ELF file\n", 24);
	assert_int_equal(strip_vmlinux_full(in, out, &before, &after, &why), -ENOEXEC);
	assert_non_null(why);
	assert_false(exists(out));
	assert_int_equal(hidden_entries(fx->dir), 0);
	/* Outputs are untouched on failure. */
	assert_int_equal(before, 7);
	assert_int_equal(after, 7);
	free(why);

	/* Empty file: also not an ELF file. */
	write_bytes(in, "", 0);
	assert_refused(in, out, -ENOEXEC, NULL);
}

static void test_missing_input_is_enoent(void **state)
{
	const struct fixture *fx = *state;
	char in[256], out[256];

	path_in(fx, "does-not-exist", in, sizeof(in));
	path_in(fx, "out-missing", out, sizeof(out));
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), -ENOENT);
	assert_false(exists(out));
	assert_int_equal(hidden_entries(fx->dir), 0);
}

static void test_truncated_elf_is_enoexec(void **state)
{
	const struct fixture *fx = *state;
	_cleanup_free_ char *bytes = NULL;
	char in[256], out[256];
	size_t size = 0;

	bytes = prog_bytes(fx, &size);
	path_in(fx, "truncated", in, sizeof(in));
	path_in(fx, "out-truncated", out, sizeof(out));

	/* Cut inside the section contents (the header tables are at the end: also gone). */
	write_bytes(in, bytes, size / 2);
	assert_refused(in, out, -ENOEXEC, NULL);

	/* Cut inside the ELF header. */
	write_bytes(in, bytes, 20);
	assert_refused(in, out, -ENOEXEC, NULL);

	/* Everything but the last byte: the section header table no longer fits. */
	write_bytes(in, bytes, size - 1);
	assert_refused(in, out, -ENOEXEC, NULL);
	assert_int_equal(hidden_entries(fx->dir), 0);
}

static void test_section_past_end_is_enoexec(void **state)
{
	const struct fixture *fx = *state;
	_cleanup_free_ char *bytes = NULL;
	char in[256], out[256];
	size_t size = 0;

	/* Headers intact, but .symtab claims bytes beyond the end of the file. */
	bytes = prog_bytes(fx, &size);
	raw_shdr(fx, bytes, ".symtab")->sh_size = (Elf64_Xword) size * 2;
	path_in(fx, "oversized", in, sizeof(in));
	path_in(fx, "out-oversized", out, sizeof(out));
	write_bytes(in, bytes, size);
	assert_refused(in, out, -ENOEXEC, ".symtab");
}

static void test_alignment_zero_is_accepted(void **state)
{
	const struct fixture *fx = *state;
	_cleanup_free_ char *bytes = NULL;
	char in[256], out[256];
	size_t size = 0;
	struct elf_file ef;

	/* sh_addralign 0 means "no constraint", like 1: legal on kept and dropped sections. */
	bytes = prog_bytes(fx, &size);
	raw_shdr(fx, bytes, ".strtab")->sh_addralign = 0;
	raw_shdr(fx, bytes, ".comment")->sh_addralign = 0;
	raw_shdr(fx, bytes, ".text")->sh_addralign = 0;
	path_in(fx, "align0", in, sizeof(in));
	path_in(fx, "out-align0", out, sizeof(out));
	write_bytes(in, bytes, size);
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), 0);
	elf_file_open(&ef, out);
	assert_int_equal(shdr_of(&ef, ".strtab").sh_type, SHT_STRTAB);
	assert_int_equal(shdr_of(&ef, ".text").sh_type, SHT_NOBITS);
	elf_file_close(&ef);
	assert_readelf_clean(fx, "-a -W", out);
}

static void test_fifo_input_does_not_hang(void **state)
{
	const struct fixture *fx = *state;
	char in[256], out[256];

	path_in(fx, "fifo", in, sizeof(in));
	path_in(fx, "out-fifo", out, sizeof(out));
	assert_int_equal(mkfifo(in, 0600), 0);
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), -ENOEXEC);
	assert_false(exists(out));
	(void) unlink(in);
}

static void test_no_symtab_is_enodata(void **state)
{
	const struct fixture *fx = *state;
	char in[256], out[256];

	path_in(fx, "stripped-all", in, sizeof(in));
	path_in(fx, "out-nosymtab", out, sizeof(out));
	assert_int_equal(run("objcopy --strip-all '%s' '%s' 2>/dev/null", fx->prog, in), 0);
	assert_refused(in, out, -ENODATA, NULL);
	assert_int_equal(hidden_entries(fx->dir), 0);
}

static void test_failure_keeps_existing_output(void **state)
{
	const struct fixture *fx = *state;
	char in[256], out[256];
	_cleanup_free_ char *text = NULL;

	path_in(fx, "junk-input", in, sizeof(in));
	path_in(fx, "out-existing", out, sizeof(out));
	write_bytes(in, "\177ELF but then nothing", 21);
	write_bytes(out, "previous entry", 14);
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), -ENOEXEC);
	text = read_all(out, NULL);
	assert_non_null(text);
	assert_string_equal(text, "previous entry");
}

static void test_replaces_output_and_strips_in_place(void **state)
{
	const struct fixture *fx = *state;
	char out[256], copy[256];
	uint64_t before = 0, after = 0, again = 0;
	struct elf_file ef;
	struct stat st;

	/* An existing output is replaced whole. */
	path_in(fx, "out-replace", out, sizeof(out));
	write_bytes(out, "stale", 5);
	assert_int_equal(strip_vmlinux(fx->prog, out, NULL, &after), 0);
	assert_int_equal(file_size(out), after);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* in == out works, and stripping a stripped file changes nothing more. */
	path_in(fx, "in-place", copy, sizeof(copy));
	assert_int_equal(run("cp '%s' '%s'", fx->prog, copy), 0);
	assert_int_equal(strip_vmlinux(copy, copy, &before, &after), 0);
	assert_int_equal(before, file_size(fx->prog));
	assert_int_equal(after, file_size(copy));
	assert_int_equal(strip_vmlinux(copy, copy, NULL, &again), 0);
	assert_int_equal(again, after);
	elf_file_open(&ef, copy);
	assert_int_equal(shdr_of(&ef, ".text").sh_type, SHT_NOBITS);
	elf_file_close(&ef);
	assert_readelf_clean(fx, "-a -W", copy);
	assert_int_equal(hidden_entries(fx->dir), 0);
}

static void test_bad_paths(void **state)
{
	const struct fixture *fx = *state;
	char out[256];

	/* Output directory missing: the temporary file cannot be made there. */
	(void) snprintf(out, sizeof(out), "%s/no-such-dir/vmlinux", fx->dir);
	assert_int_equal(strip_vmlinux(fx->prog, out, NULL, NULL), -ENOENT);
	/* Input is a directory. */
	path_in(fx, "out-dir", out, sizeof(out));
	assert_int_equal(strip_vmlinux(fx->dir, out, NULL, NULL), -EISDIR);
	assert_false(exists(out));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_elf_is_enoexec_and_leaves_nothing),
		cmocka_unit_test(test_missing_input_is_enoent),
		cmocka_unit_test(test_truncated_elf_is_enoexec),
		cmocka_unit_test(test_section_past_end_is_enoexec),
		cmocka_unit_test(test_alignment_zero_is_accepted),
		cmocka_unit_test(test_fifo_input_does_not_hang),
		cmocka_unit_test(test_no_symtab_is_enodata),
		cmocka_unit_test(test_failure_keeps_existing_output),
		cmocka_unit_test(test_replaces_output_and_strips_in_place),
		cmocka_unit_test(test_bad_paths),
	};

	return cmocka_run_group_tests_name("strip-errors", tests, strip_probe_setup,
					   strip_probe_teardown);
}
