/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry.c without a network: the remote "oci://HOST[:PORT]/REPOSITORY" parsed strictly
 * (DNS names, IPv4, bracketed IPv6, ports 1..65535, the distribution spec's repository
 * grammar), plain http only for loopback hosts or with insecure, and every refusal a
 * one-line reason naming the value, never a password given in it. The client itself runs
 * against a real registry in tests/integration/registry-client.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "registry-internal.h"

static void expect_remote(const char *spec, bool insecure, const char *host, const char *repo,
			  const char *base)
{
	_cleanup_(registry_remote_done) struct kts_registry_remote r = { 0 };
	_cleanup_free_ char *why = NULL;

	if (registry_remote_parse(spec, insecure, false, &r, &why) != 0)
		fail_msg("'%s' refused: %s", spec, strempty(why));
	assert_string_equal(r.host, host);
	assert_string_equal(r.repository, repo);
	assert_string_equal(r.base, base);
}

static void test_valid(void **state)
{
	(void) state;
	expect_remote("oci://localhost:5000/kernels", false, "localhost:5000", "kernels",
		      "http://localhost:5000");
	expect_remote("oci://LocalHost/k", false, "LocalHost", "k", "http://LocalHost");
	expect_remote("oci://127.0.0.1/a/b", false, "127.0.0.1", "a/b", "http://127.0.0.1");
	expect_remote("oci://[::1]:5000/x", false, "[::1]:5000", "x", "http://[::1]:5000");
	expect_remote("oci://ghcr.io/org/ktscope-kernels", false, "ghcr.io", "org/ktscope-kernels",
		      "https://ghcr.io");
	expect_remote("oci://registry.example.com:443/a__b/c--d/e.f_g", false,
		      "registry.example.com:443", "a__b/c--d/e.f_g", "https://registry.example.com:443");
	expect_remote("oci://10.1.2.3:65535/k", false, "10.1.2.3:65535", "k", "https://10.1.2.3:65535");
	expect_remote("oci://[2001:db8::1]/k", false, "[2001:db8::1]", "k", "https://[2001:db8::1]");
	expect_remote("oci://x1/k", false, "x1", "k", "https://x1");
}

static void test_http_only_loopback(void **state)
{
	_cleanup_(registry_remote_done) struct kts_registry_remote r = { 0 };

	(void) state;
	/* another host is https unless insecure says otherwise */
	expect_remote("oci://10.0.0.1:5000/k", false, "10.0.0.1:5000", "k", "https://10.0.0.1:5000");
	expect_remote("oci://10.0.0.1:5000/k", true, "10.0.0.1:5000", "k", "http://10.0.0.1:5000");
	expect_remote("oci://ghcr.io/k", true, "ghcr.io", "k", "http://ghcr.io");
	/* names that only look like loopback are not */
	expect_remote("oci://localhost.example.com/k", false, "localhost.example.com", "k",
		      "https://localhost.example.com");
	expect_remote("oci://127.0.0.2/k", false, "127.0.0.2", "k", "https://127.0.0.2");
	/* a private CA given: loopback is spoken to over https too */
	assert_int_equal(registry_remote_parse("oci://127.0.0.1:5000/k", false, true, &r, NULL), 0);
	assert_string_equal(r.base, "https://127.0.0.1:5000");
}

static void expect_refused(const char *spec, const char *why_part)
{
	struct kts_registry_remote r = { 0 };
	_cleanup_free_ char *why = NULL;

	if (registry_remote_parse(spec, false, false, &r, &why) != -EINVAL)
		fail_msg("'%s' accepted", spec);
	assert_non_null(why);
	assert_null(r.host);
	if (!strstr(why, why_part))
		fail_msg("reason for '%s' is '%s', without '%s'", spec, why, why_part);
	assert_null(strchr(why, '\n'));
}

static void test_invalid(void **state)
{
	char long_repo[300] = "oci://h/";

	(void) state;
	expect_refused("", "empty remote");
	expect_refused("ghcr.io/x", "remote 'ghcr.io/x': not an oci:// URL");
	expect_refused("https://ghcr.io/x", "not an oci:// URL");
	expect_refused("oci://ghcr.io", "no repository");
	expect_refused("oci://ghcr.io/", "no repository");
	expect_refused("oci:///x", "no host");
	expect_refused("oci://ghcr.io/X", "remote 'oci://ghcr.io/X': the repository");
	expect_refused("oci://ghcr.io/a//b", "the repository");
	expect_refused("oci://ghcr.io/a/", "the repository");
	expect_refused("oci://ghcr.io/-a", "the repository");
	expect_refused("oci://ghcr.io/a-", "the repository");
	expect_refused("oci://ghcr.io/a___b", "the repository");
	expect_refused("oci://ghcr.io/a..b", "the repository");
	expect_refused("oci://ghcr.io/x?tag=1", "the repository");
	expect_refused("oci://ghcr.io/x#f", "the repository");
	expect_refused("oci://ghcr.io/x y", "the repository");
	expect_refused("oci://ghcr.io:0/x", "the port is not a number in 1..65535");
	expect_refused("oci://ghcr.io:65536/x", "the port");
	expect_refused("oci://ghcr.io:080/x", "the port");
	expect_refused("oci://ghcr.io:/x", "the port");
	expect_refused("oci://ghcr.io:1:2/x", "the port");
	expect_refused("oci://ghcr.io:+5/x", "the port");
	expect_refused("oci://gh_cr.io/x", "the host is not a DNS name or an IPv4 address");
	expect_refused("oci://-gh.io/x", "the host");
	expect_refused("oci://gh-.io/x", "the host");
	expect_refused("oci://a..b/x", "the host");
	expect_refused("oci://a./x", "the host");
	expect_refused("oci://999.1.1.1/x", "the host");
	expect_refused("oci://1.2.3/x", "the host");
	expect_refused("oci://[::1/x", "without ']'");
	expect_refused("oci://[zz]/x", "not an IPv6 address");
	expect_refused("oci://[::1]x/k", "after the IPv6 address");
	expect_refused("oci://::1/k", "the host");
	memset(long_repo + 8, 'a', 256);
	expect_refused(long_repo, "the repository");
	/* control characters are not echoed as they are */
	expect_refused("oci://gh\ncr.io/x", "remote 'oci://gh?cr.io/x'");
}

static void test_credentials_never_echoed(void **state)
{
	_cleanup_free_ char *why = NULL;
	struct kts_registry_remote r = { 0 };

	(void) state;
	assert_int_equal(registry_remote_parse("oci://me:s3cr3t@ghcr.io/k", false, false, &r, &why),
			 -EINVAL);
	assert_non_null(strstr(why, "remote 'oci://***@ghcr.io/k': credentials in the remote"));
	assert_null(strstr(why, "s3cr3t"));
	assert_null(strstr(why, "me:"));
	free(why);
	why = NULL;
	assert_int_equal(registry_remote_parse("oci://s3cr3t@ghcr.io", false, false, &r, &why),
			 -EINVAL);
	assert_null(strstr(why, "s3cr3t"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_http_only_loopback),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_credentials_never_echoed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
