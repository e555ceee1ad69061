/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * http.c against real servers: tests/integration/mirror.py (test-server.h: python3 on
 * 127.0.0.1, each in its own process group, killed at the end) serving one directory twice,
 * over http and over https with a self-signed certificate made by openssl(1) in setup. The
 * private CA reaches libcurl through KTSCOPE_CA_CERT or http_request.ca_file. Everything
 * lives under one mkdtemp() directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"
#include "macro.h"
#include "hash.h"
#include "test-server.h"
#include "test-skip.h"

#define BODY "not a kernel, but bytes all the same\n"

static char g_root[256]; /* mkdtemp: everything below */
static char g_dir[300];  /* what both servers serve */
static char g_cert[300]; /* the self-signed certificate, its own CA */
static char g_http[64];  /* http://127.0.0.1:PORT */
static char g_https[64]; /* https://127.0.0.1:PORT */
static pid_t g_http_pid, g_https_pid;
static bool g_have_tls;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Runs argv with stdout and stderr on /dev/null; its exit status, or -1. */
static int run_quiet(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		(void) dup2(fd, 1);
		(void) dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* A self-signed certificate for 127.0.0.1 (it is its own CA) and its key. */
static int make_cert(char *key, size_t size)
{
	char days[] = "2", subj[] = "/CN=127.0.0.1", san[] = "subjectAltName=IP:127.0.0.1";
	char *argv[] = { (char *) "openssl",
			 (char *) "req",
			 (char *) "-x509",
			 (char *) "-newkey",
			 (char *) "rsa:2048",
			 (char *) "-nodes",
			 (char *) "-subj",
			 subj,
			 (char *) "-addext",
			 san,
			 (char *) "-days",
			 days,
			 (char *) "-keyout",
			 key,
			 (char *) "-out",
			 g_cert,
			 NULL };

	(void) snprintf(g_cert, sizeof(g_cert), "%s/cert.pem", g_root);
	(void) snprintf(key, size, "%s/key.pem", g_root);
	return run_quiet(argv) == 0 ? 0 : -ENOENT;
}

static void need_http(void)
{
	test_need(g_http_pid > 0, "the http server (python3 tests/integration/mirror.py) did not start");
}

static void need_https(void)
{
	need_http();
	test_need(g_have_tls, "the https server did not start (openssl, python3 ssl)");
}

/* "{base}/_redirect?to={to}", the target percent-encoded where it matters. */
static void redirect_url(char *out, size_t size, const char *base, const char *to)
{
	size_t n = (size_t) snprintf(out, size, "%s/_redirect?to=", base);

	for (const char *p = to; *p && n + 4 < size; p++) {
		if (*p == '?' || *p == '&' || *p == '%' || *p == '#')
			n += (size_t) snprintf(out + n, size - n, "%%%02X", (unsigned char) *p);
		else
			out[n++] = *p;
	}
	out[n] = '\0';
}

/* GETs url into memory; the body (or NULL), *ret_why and the result. */
static int get(const char *url, const char *ca_file, char **ret_body, char **ret_why)
{
	const struct http_request req = { .url = url, .what = "test file", .ca_file = ca_file };

	*ret_body = NULL;
	return http_get_memory(&req, 1 << 20, ret_body, NULL, NULL, ret_why);
}

/* ------------------------------------------------------------------ tests */

static void test_http_plain_get(void **state)
{
	_cleanup_free_ char *body = NULL, *why = NULL;
	char url[200];
	long status = 0;
	size_t len = 0;
	const struct http_request req = { .url = url };

	need_http();
	(void) snprintf(url, sizeof(url), "%s/file.bin", g_http);
	assert_int_equal(http_get_memory(&req, 1 << 20, &body, &len, &status, &why), 0);
	assert_string_equal(body, BODY);
	assert_int_equal(len, strlen(BODY));
	assert_int_equal(status, 200);
}

static void test_http_https_with_private_ca(void **state)
{
	_cleanup_free_ char *body = NULL, *why = NULL;
	char url[200];
	int r;

	need_https();
	(void) snprintf(url, sizeof(url), "%s/file.bin", g_https);
	/* The CA from the environment ... */
	assert_int_equal(setenv("KTSCOPE_CA_CERT", g_cert, 1), 0);
	r = get(url, NULL, &body, &why);
	assert_int_equal(unsetenv("KTSCOPE_CA_CERT"), 0);
	if (r < 0)
		fail_msg("GET %s: %s", url, why ? why : strerror(-r));
	assert_string_equal(body, BODY);
	free(body);

	/* ... or from the request. */
	assert_int_equal(get(url, g_cert, &body, &why), 0);
	assert_string_equal(body, BODY);
}

static void test_http_https_untrusted_without_ca(void **state)
{
	_cleanup_free_ char *body = NULL, *why = NULL;
	char url[200];

	need_https();
	(void) snprintf(url, sizeof(url), "%s/file.bin", g_https);
	assert_int_equal(get(url, NULL, &body, &why), -EIO);
	assert_null(body);
	assert_non_null(why);
	assert_non_null(strstr(why, url));
}

static void test_http_missing_ca_file_is_named(void **state)
{
	_cleanup_free_ char *body = NULL, *why = NULL;
	char url[200], ca[300];

	need_http();
	(void) snprintf(url, sizeof(url), "%s/file.bin", g_http);
	(void) snprintf(ca, sizeof(ca), "%s/no-such-ca.pem", g_root);
	assert_int_equal(setenv("KTSCOPE_CA_CERT", ca, 1), 0);
	assert_int_equal(get(url, NULL, &body, &why), -ENOENT);
	assert_int_equal(unsetenv("KTSCOPE_CA_CERT"), 0);
	assert_non_null(strstr(why, ca));
	assert_non_null(strstr(why, "KTSCOPE_CA_CERT"));
}

/* The defect: an https download followed a redirect to plain http. */
static void test_http_https_to_http_redirect_refused(void **state)
{
	_cleanup_free_ char *body = NULL, *why = NULL;
	char target[200], url[400], file[400];

	need_https();
	(void) snprintf(target, sizeof(target), "%s/file.bin", g_http);
	redirect_url(url, sizeof(url), g_https, target);
	assert_int_equal(get(url, g_cert, &body, &why), -EPERM);
	assert_null(body);
	assert_non_null(why);
	assert_non_null(strstr(why, "refused"));
	assert_non_null(strstr(why, url));
	assert_non_null(strstr(why, target));

	/* Into a file: nothing is left behind. */
	free(why);
	why = NULL;
	(void) snprintf(file, sizeof(file), "%s/refused.bin", g_root);
	{
		const struct http_request req = { .url = url, .ca_file = g_cert };

		assert_int_equal(http_get_file(&req, file, NULL, &why), -EPERM);
	}
	assert_int_equal(access(file, F_OK), -1);
}

static void test_http_https_to_https_redirect_followed(void **state)
{
	_cleanup_free_ char *body = NULL, *why = NULL;
	char target[200], url[400];
	int r;

	need_https();
	(void) snprintf(target, sizeof(target), "%s/file.bin", g_https);
	redirect_url(url, sizeof(url), g_https, target);
	r = get(url, g_cert, &body, &why);
	if (r < 0)
		fail_msg("GET %s: %s", url, why ? why : strerror(-r));
	assert_string_equal(body, BODY);
}

static void test_http_http_redirects_to_http_and_https(void **state)
{
	_cleanup_free_ char *body = NULL, *why = NULL;
	char target[200], url[400];

	need_https();
	(void) snprintf(target, sizeof(target), "%s/file.bin", g_http);
	redirect_url(url, sizeof(url), g_http, target);
	assert_int_equal(get(url, g_cert, &body, &why), 0);
	assert_string_equal(body, BODY);
	free(body);

	(void) snprintf(target, sizeof(target), "%s/file.bin", g_https);
	redirect_url(url, sizeof(url), g_http, target);
	assert_int_equal(get(url, g_cert, &body, &why), 0);
	assert_string_equal(body, BODY);
}

static void test_http_errors(void **state)
{
	_cleanup_free_ char *body = NULL, *why = NULL;
	char url[200];
	long status = 0;
	const struct http_request any = { .url = url, .any_status = true };

	need_http();
	(void) snprintf(url, sizeof(url), "%s/no-such-file", g_http);
	assert_int_equal(get(url, NULL, &body, &why), -ENOENT);
	assert_non_null(strstr(why, "not found"));
	assert_non_null(strstr(why, url));
	free(why);
	why = NULL;

	/* any_status: the 404 is the caller's to judge. */
	assert_int_equal(http_get_memory(&any, 1 << 20, &body, NULL, &status, &why), 0);
	assert_int_equal(status, 404);
	free(body);
	body = NULL;

	(void) snprintf(url, sizeof(url), "%s/page.html", g_http);
	assert_int_equal(get(url, NULL, &body, &why), -EMEDIUMTYPE);
	assert_non_null(strstr(why, "HTML"));
	free(why);
	why = NULL;

	(void) snprintf(url, sizeof(url), "%s/file.bin", g_http);
	{
		const struct http_request req = { .url = url };

		assert_int_equal(http_get_memory(&req, 4, &body, NULL, NULL, &why), -EFBIG);
	}
	assert_null(body);
}

struct seen_headers {
	char content_length[32];
	char echo[64];
};

static int on_header(const char *name, const char *value, void *userdata)
{
	struct seen_headers *h = userdata;

	if (strcasecmp(name, "Content-Length") == 0)
		(void) snprintf(h->content_length, sizeof(h->content_length), "%s", value);
	else if (strcasecmp(name, "X-Echo") == 0)
		(void) snprintf(h->echo, sizeof(h->echo), "%s", value);
	return 0;
}

static void test_http_headers_both_ways(void **state)
{
	static const char *const headers[] = { "X-Echo: ktscope test", NULL };
	struct seen_headers seen = {};
	_cleanup_free_ char *body = NULL, *why = NULL;
	char target[200], url[400], want[32];
	const struct http_request req = {
		.url = url,
		.headers = headers,
		.header = on_header,
		.userdata = &seen,
	};

	need_http();
	/* Through a redirect: the final response's headers are the ones reported. */
	(void) snprintf(target, sizeof(target), "%s/file.bin", g_http);
	redirect_url(url, sizeof(url), g_http, target);
	assert_int_equal(http_get_memory(&req, 1 << 20, &body, NULL, NULL, &why), 0);
	(void) snprintf(want, sizeof(want), "%zu", strlen(BODY));
	assert_string_equal(seen.content_length, want);
	assert_string_equal(seen.echo, "ktscope test");
}

static void test_http_file_sink_hashes(void **state)
{
	_cleanup_free_ char *why = NULL;
	char url[200], file[400], sha[65], want[65], buf[128] = "";
	const struct http_request req = { .url = url };
	int fd;

	need_http();
	(void) snprintf(url, sizeof(url), "%s/file.bin", g_http);
	(void) snprintf(file, sizeof(file), "%s/got.bin", g_root);
	assert_int_equal(http_get_file(&req, file, sha, &why), 0);
	assert_int_equal(hash_sha256_hex(BODY, strlen(BODY), want), 0);
	assert_string_equal(sha, want);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), (ssize_t) strlen(BODY));
	(void) close(fd);
	assert_string_equal(buf, BODY);
}

/* ------------------------------------------------------------------ setup */

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char key[300], path[400];

	(void) snprintf(g_root, sizeof(g_root), "%s/ktscope-test-http.XXXXXX",
			tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(g_root))
		return -1;
	(void) snprintf(g_dir, sizeof(g_dir), "%s/www", g_root);
	if (mkdir(g_dir, 0755) < 0)
		return -1;
	(void) snprintf(path, sizeof(path), "%s/file.bin", g_dir);
	write_file(path, BODY);
	(void) snprintf(path, sizeof(path), "%s/page.html", g_dir);
	write_file(path, "<!DOCTYPE html><html><body>captive portal</body></html>\n");
	(void) unsetenv("KTSCOPE_CA_CERT");

	if (test_server_start(g_dir, NULL, NULL, &g_http_pid, g_http, sizeof(g_http)) < 0) {
		(void) fprintf(stderr, "# python3 not available: the HTTP tests will be skipped\n");
		return 0;
	}
	if (make_cert(key, sizeof(key)) < 0) {
		(void) fprintf(stderr,
			       "# openssl not available: the https tests will be skipped\n");
		return 0;
	}
	g_have_tls =
		test_server_start(g_dir, g_cert, key, &g_https_pid, g_https, sizeof(g_https)) == 0;
	if (!g_have_tls)
		(void) fprintf(stderr,
			       "# python3 cannot serve TLS: the https tests will be skipped\n");
	return 0;
}

static int group_teardown(void **state)
{
	test_server_stop(&g_http_pid);
	test_server_stop(&g_https_pid);
	(void) nftw(g_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_plain_get),
		cmocka_unit_test(test_http_https_with_private_ca),
		cmocka_unit_test(test_http_https_untrusted_without_ca),
		cmocka_unit_test(test_http_missing_ca_file_is_named),
		cmocka_unit_test(test_http_https_to_http_redirect_refused),
		cmocka_unit_test(test_http_https_to_https_redirect_followed),
		cmocka_unit_test(test_http_http_redirects_to_http_and_https),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_http_headers_both_ways),
		cmocka_unit_test(test_http_file_sink_hashes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
