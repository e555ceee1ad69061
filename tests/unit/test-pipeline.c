/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for the make variables of `ktscope build ... -- NAME=VALUE` (pipeline.c):
 * what is accepted and refused, the canonical form the cache key hashes, and which
 * compiler and linker the variables make the key fingerprint. The make runs themselves
 * are tested on the fake kernel tree in tests/integration/build.sh.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "pipeline.h"

static void strv_free_n(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Parses args; on success returns the canonical list joined by spaces. */
static char *canonical(size_t n, ...)
{
	char *args[16], **v = NULL, *why = NULL, *out = NULL;
	size_t k = 0, len = 0;
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		args[i] = va_arg(ap, char *);
	va_end(ap);
	if (pipeline_make_vars(args, n, &v, &k, &why) < 0)
		fail_msg("pipeline_make_vars: %s", why ? why : "?");
	assert_null(v[k]); /* NULL-terminated */
	for (size_t i = 0; i < k; i++)
		len += strlen(v[i]) + 1;
	out = calloc(len + 1, 1);
	assert_non_null(out);
	for (size_t i = 0; i < k; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, v[i]);
	}
	strv_free_n(v, k);
	return out;
}

static void test_canonical_form(void **state)
{
	char *s;

	(void) state;
	s = canonical(0);
	assert_string_equal(s, "");
	free(s);
	/* Sorted by name, whatever the order given. */
	s = canonical(3, "LLVM=1", "KCFLAGS=-O1", "CC=clang");
	assert_string_equal(s, "CC=clang KCFLAGS=-O1 LLVM=1");
	free(s);
	/* One value per name: the last one, as on make's command line. */
	s = canonical(4, "W=1", "KCFLAGS=-O2", "W=2", "KCFLAGS=-O1");
	assert_string_equal(s, "KCFLAGS=-O1 W=2");
	free(s);
	/* A name that is a prefix of another is another name; empty values are values. */
	s = canonical(3, "CC_X=1", "CC=", "C=2");
	assert_string_equal(s, "C=2 CC= CC_X=1");
	free(s);
	/* Values keep their spaces and '=' signs. */
	s = canonical(1, "KCFLAGS=-DA=1 -O1");
	assert_string_equal(s, "KCFLAGS=-DA=1 -O1");
	free(s);
}

static void expect_refused(const char *arg, int err, const char *in_why)
{
	char *args[1] = { (char *) arg }, **v = NULL, *why = NULL;
	size_t k = 0;

	assert_int_equal(pipeline_make_vars(args, 1, &v, &k, &why), err);
	assert_null(v);
	assert_non_null(why);
	if (!strstr(why, in_why))
		fail_msg("'%s': message '%s' lacks '%s'", arg, why, in_why);
	free(why);
}

static void test_refused(void **state)
{
	(void) state;
	expect_refused("-j4", -EINVAL, "'-j4'");
	expect_refused("vmlinux", -EINVAL, "'vmlinux'");
	expect_refused("=1", -EINVAL, "'=1'");
	expect_refused("1X=1", -EINVAL, "'1X=1'");
	expect_refused("A-B=1", -EINVAL, "'A-B=1'");
	expect_refused("KCFLAGS=a\nb", -EINVAL, "newline");
	expect_refused("O=/tmp/x", -EPERM, "--build-dir");
	expect_refused("ARCH=arm64", -EPERM, "this machine");
	expect_refused("SRCARCH=arm", -EPERM, "this machine");
	expect_refused("CROSS_COMPILE=aarch64-linux-gnu-", -EPERM, "this machine");
	expect_refused("KCONFIG_CONFIG=my.config", -EPERM, ".config");
}

/* The first bad argument fails the whole list, and nothing leaks (ASan run). */
static void test_refused_in_a_list(void **state)
{
	char *args[] = { "LLVM=1", "W=1", "O=x", "KCFLAGS=-O1" }, **v = NULL, *why = NULL;
	size_t k = 0;

	(void) state;
	assert_int_equal(pipeline_make_vars(args, 4, &v, &k, &why), -EPERM);
	assert_non_null(strstr(why, "'O=x'"));
	free(why);
}

static void expect_from(const char *got, const char *want)
{
	if (want)
		assert_string_equal(got, want);
	else
		assert_null(got);
}

static void expect_tools(size_t n, char **vars, const char *cc, const char *ld,
			 const char *cc_from, const char *ld_from)
{
	char *c = NULL, *l = NULL;
	const char *cf = "unset", *lf = "unset";

	assert_int_equal(pipeline_make_tools(vars, n, &c, &l, &cf, &lf), 0);
	assert_string_equal(c, cc);
	assert_string_equal(l, ld);
	expect_from(cf, cc_from);
	expect_from(lf, ld_from);
	free(c);
	free(l);
}

static void test_tools(void **state)
{
	char *none[] = { "KCFLAGS=-O1" };
	char *llvm[] = { "LLVM=1" };
	char *llvm_ver[] = { "LLVM=-16" };
	char *llvm_dir[] = { "LLVM=/opt/llvm/bin/" };
	char *cc_and_llvm[] = { "CC=gcc-12", "LLVM=1" };
	char *ld_only[] = { "LD=ld.gold" };
	char *empty_llvm[] = { "LLVM=" };
	char *cmd[] = { "CC=ccache gcc" };

	(void) state;
	expect_tools(0, NULL, "cc", "ld", NULL, NULL);
	expect_tools(1, none, "cc", "ld", NULL, NULL);
	expect_tools(1, llvm, "clang", "ld.lld", "LLVM", "LLVM");
	expect_tools(1, llvm_ver, "clang-16", "ld.lld-16", "LLVM", "LLVM");
	expect_tools(1, llvm_dir, "/opt/llvm/bin/clang", "/opt/llvm/bin/ld.lld", "LLVM", "LLVM");
	/* CC= beats LLVM for the compiler; the linker still follows LLVM. */
	expect_tools(2, cc_and_llvm, "gcc-12", "ld.lld", "CC", "LLVM");
	expect_tools(1, ld_only, "cc", "ld.gold", NULL, "LD");
	/* An empty LLVM= is no LLVM, as in the kernel's Makefile. */
	expect_tools(1, empty_llvm, "cc", "ld", NULL, NULL);
	expect_tools(1, cmd, "ccache gcc", "ld", "CC", NULL);
}

/* The fingerprint probes the tools named: a missing one is NULL, the others are there. */
static void test_toolchain_probes_named_tools(void **state)
{
	struct kts_toolchain tc = { 0 };

	(void) state;
	assert_int_equal(pipeline_toolchain(NULL, "no-such-compiler-kts", "ld", &tc), 0);
	assert_null(tc.cc);
	assert_non_null(tc.make);
	pipeline_toolchain_done(&tc);
	assert_int_equal(pipeline_toolchain(NULL, "sh -c 'echo fake-cc 1.0' --", "ld", &tc), 0);
	assert_non_null(tc.cc);
	assert_string_equal(tc.cc, "fake-cc 1.0");
	pipeline_toolchain_done(&tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_form),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_refused_in_a_list),
		cmocka_unit_test(test_tools),
		cmocka_unit_test(test_toolchain_probes_named_tools),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
