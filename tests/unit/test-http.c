/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * http.c against real servers: tests/integration/mirror.py (test-server.h: python3 on
 * 127.0.0.1, each in its own process group, killed at the end) serving one directory twice,
 * over http and over https with a self-signed certificate made by openssl(1) in setup. The
 * private CA reaches libcurl through KTSCOPE_CA_CERT or http_request.ca_file. http_send()'s
 * methods and bodies go to mirror.py's /_echo, which describes the request it received.
 * Everything lives under one mkdtemp() directory.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <inttypes.h>
#include <json-c/json.h>

#include "http.h"
#include "log.h"
#include "macro.h"
#include "hash.h"
#include "test-server.h"
#include "test-skip.h"
#include "test-tmpdir.h"

#define BODY "not a kernel, but bytes all the same\n"

static char g_root[256]; /* mkdtemp: everything below */
static char g_dir[300];  /* what both servers serve */
static char g_cert[300]; /* the self-signed certificate, its own CA */
static char g_http[64];  /* http://127.0.0.1:PORT */
static char g_https[64]; /* https://127.0.0.1:PORT */
static pid_t g_http_pid, g_https_pid;
static bool g_have_tls;

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

/* ------------------------------------------------------------------ http_send() */

/* What /_echo saw of the request (mirror.py), and what came back. */
struct echo {
	long status;
	char *answer;      /* the response body */
	size_t answer_len;
	int header_calls;
	char location[256];
	char www_auth[256];
	char digest[128];
	char content_length[32];
	uint64_t progress_done, progress_total;
	int progress_calls;
};

static void echo_done(struct echo *e)
{
	free(e->answer);
}

static int echo_write(const void *data, size_t n, void *userdata)
{
	struct echo *e = userdata;
	char *b = realloc(e->answer, e->answer_len + n + 1);

	assert_non_null(b);
	memcpy(b + e->answer_len, data, n);
	e->answer = b;
	e->answer_len += n;
	e->answer[e->answer_len] = '\0';
	return 0;
}

static int echo_header(const char *name, const char *value, void *userdata)
{
	struct echo *e = userdata;

	e->header_calls++;
	if (strcasecmp(name, "Location") == 0)
		(void) snprintf(e->location, sizeof(e->location), "%s", value);
	else if (strcasecmp(name, "WWW-Authenticate") == 0)
		(void) snprintf(e->www_auth, sizeof(e->www_auth), "%s", value);
	else if (strcasecmp(name, "Docker-Content-Digest") == 0)
		(void) snprintf(e->digest, sizeof(e->digest), "%s", value);
	else if (strcasecmp(name, "Content-Length") == 0)
		(void) snprintf(e->content_length, sizeof(e->content_length), "%s", value);
	return 0;
}

static void echo_progress(uint64_t done, uint64_t total, void *userdata)
{
	struct echo *e = userdata;

	e->progress_done = done;
	e->progress_total = total;
	e->progress_calls++;
}

/* The string field of the echo's JSON answer, or NULL when it is null or absent. */
static const char *echo_field(struct json_object *j, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(j, key, &v) || !v || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *echo_json(const struct echo *e)
{
	struct json_object *j;

	assert_non_null(e->answer);
	j = json_tokener_parse(e->answer);
	if (!j)
		fail_msg("not JSON: %s", e->answer);
	return j;
}

/* Sends req (its url, method, body...) with the echo sink and the header callback. */
static int send_echo(struct http_request *req, struct echo *e, char **why)
{
	req->header = echo_header;
	req->progress = echo_progress;
	req->userdata = e;
	return http_send(req, echo_write, e, &e->status, why);
}

/* The request as /_echo saw it: its method, Content-Length and the body's SHA-256. */
static void assert_echo(const struct echo *e, const char *method, uint64_t len,
			const void *body)
{
	_cleanup_json_ struct json_object *j = echo_json(e);
	char want_len[32], want_sha[65];

	(void) snprintf(want_len, sizeof(want_len), "%" PRIu64, len);
	assert_int_equal(hash_sha256_hex(body, (size_t) len, want_sha), 0);
	assert_string_equal(echo_field(j, "method"), method);
	assert_non_null(echo_field(j, "content_length"));
	assert_string_equal(echo_field(j, "content_length"), want_len);
	assert_null(echo_field(j, "transfer_encoding"));
	assert_null(echo_field(j, "expect"));
	assert_string_equal(echo_field(j, "body_sha256"), want_sha);
}

static void test_http_send_put_memory_body(void **state)
{
	static const char body[] = "blob\0with a NUL and \xff bytes\n";
	_cleanup_(echo_done) struct echo e = {};
	_cleanup_free_ char *why = NULL;
	char url[200];
	struct http_request req = { .url = url, .method = "PUT", .body = body,
				    .body_len = sizeof(body) - 1 };

	need_http();
	(void) snprintf(url, sizeof(url), "%s/_echo?status=201&header=Docker-Content-Digest:"
		 "sha256:abc", g_http);
	assert_int_equal(send_echo(&req, &e, &why), 0);
	assert_int_equal(e.status, 201);
	assert_echo(&e, "PUT", sizeof(body) - 1, body);
	assert_string_equal(e.digest, "sha256:abc");
	assert_int_equal(e.progress_done, sizeof(body) - 1);
	assert_int_equal(e.progress_total, sizeof(body) - 1);
}

static void test_http_send_put_file_body(void **state)
{
	_cleanup_(echo_done) struct echo e = {};
	_cleanup_free_ char *why = NULL, *data = NULL;
	char url[200], file[400];
	const size_t size = 3 * 1024 * 1024 + 7; /* more than one read, above curl's Expect size */
	struct http_request req = { .url = url, .method = "PUT", .body_file = file };
	FILE *f;

	need_http();
	data = malloc(size);
	assert_non_null(data);
	for (size_t i = 0; i < size; i++)
		data[i] = (char) ((i * 2654435761u) >> 13);
	(void) snprintf(file, sizeof(file), "%s/upload.bin", g_root);
	f = fopen(file, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	(void) snprintf(url, sizeof(url), "%s/_echo", g_http);
	assert_int_equal(send_echo(&req, &e, &why), 0);
	assert_int_equal(e.status, 200);
	assert_echo(&e, "PUT", size, data);
	assert_int_equal(e.progress_done, size);
	assert_int_equal(e.progress_total, size);
	assert_true(e.progress_calls > 0);

	/* PATCH and POST send a file the same way. */
	free(e.answer);
	e = (struct echo) {};
	req.method = "PATCH";
	assert_int_equal(send_echo(&req, &e, &why), 0);
	assert_echo(&e, "PATCH", size, data);
	(void) unlink(file);
}

/* The file shrinks while it is sent (truncated from the progress callback): the promised
 * Content-Length cannot be kept, the request fails naming the file. */
struct shrink {
	const char *path;
	bool done;
};

static void shrink_progress(uint64_t done, uint64_t total, void *userdata)
{
	struct shrink *s = userdata;

	if (!s->done && done > 0)
		assert_int_equal(truncate(s->path, 1000), 0);
	s->done = true;
}

static void test_http_send_file_that_shrinks(void **state)
{
	_cleanup_free_ char *why = NULL;
	char url[200], file[400];
	struct shrink s = { .path = file };
	const struct http_request req = { .url = url,
					  .method = "PUT",
					  .body_file = file,
					  .progress = shrink_progress,
					  .userdata = &s };
	long status = 0;
	int fd;

	need_http();
	(void) snprintf(file, sizeof(file), "%s/shrinking.bin", g_root);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64 << 20), 0); /* more than the sockets' buffers */
	(void) close(fd);
	(void) snprintf(url, sizeof(url), "%s/_echo", g_http);
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), -EIO);
	assert_true(s.done);
	assert_non_null(strstr(why, file));
	assert_non_null(strstr(why, "shrank"));
	(void) unlink(file);
}

/* The defect this guards: an empty POST (a registry's "start an upload") without a
 * Content-Length is refused by servers with 411. */
static void test_http_send_empty_bodies_say_zero(void **state)
{
	static const char *const methods[] = { "POST", "PUT", "PATCH" };
	_cleanup_free_ char *why = NULL;
	char url[200];

	need_http();
	(void) snprintf(url, sizeof(url), "%s/_echo?status=202&header=Location:/v2/r/blobs/"
		 "uploads/1", g_http);
	for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
		_cleanup_(echo_done) struct echo e = {};
		struct http_request req = { .url = url, .method = methods[i] };

		assert_int_equal(send_echo(&req, &e, &why), 0);
		assert_int_equal(e.status, 202);
		assert_echo(&e, methods[i], 0, "");
		assert_string_equal(e.location, "/v2/r/blobs/uploads/1");
	}
}

static void test_http_send_head_and_delete(void **state)
{
	_cleanup_(echo_done) struct echo e = {};
	_cleanup_free_ char *why = NULL;
	char url[200], want[32];
	struct http_request req = { .url = url, .method = "HEAD", .header = echo_header,
				    .userdata = &e };
	_cleanup_json_ struct json_object *j = NULL;

	need_http();
	(void) snprintf(url, sizeof(url), "%s/file.bin", g_http);
	/* No sink: HEAD has no body. */
	assert_int_equal(http_send(&req, NULL, NULL, &e.status, &why), 0);
	assert_int_equal(e.status, 200);
	(void) snprintf(want, sizeof(want), "%zu", strlen(BODY));
	assert_string_equal(e.content_length, want);
	/* With a sink: nothing reaches it. */
	assert_int_equal(http_send(&req, echo_write, &e, &e.status, &why), 0);
	assert_null(e.answer);

	(void) snprintf(url, sizeof(url), "%s/_echo?status=202", g_http);
	req.method = "DELETE";
	assert_int_equal(http_send(&req, echo_write, &e, &e.status, &why), 0);
	assert_int_equal(e.status, 202);
	j = echo_json(&e);
	assert_string_equal(echo_field(j, "method"), "DELETE");
}

static void test_http_send_any_status_headers(void **state)
{
	_cleanup_(echo_done) struct echo e = {};
	_cleanup_free_ char *why = NULL;
	char url[300];
	struct http_request req = { .url = url, .any_status = true };

	need_http();
	(void) snprintf(url, sizeof(url),
			"%s/_echo?status=401&header=WWW-Authenticate:Bearer%%20realm=%%22http://a/"
			"t%%22,service=%%22s%%22",
			g_http);
	assert_int_equal(send_echo(&req, &e, &why), 0);
	assert_int_equal(e.status, 401);
	assert_string_equal(e.www_auth, "Bearer realm=\"http://a/t\",service=\"s\"");
	/* The error body reaches the sink too. */
	assert_non_null(e.answer);
	assert_non_null(strstr(e.answer, "\"method\""));

	/* Without any_status, a 401 is an error and its headers are not delivered. */
	free(e.answer);
	e = (struct echo) {};
	req.any_status = false;
	assert_int_equal(send_echo(&req, &e, &why), -EIO);
	assert_non_null(strstr(why, "401"));
	assert_int_equal(e.header_calls, 0);
}

static void test_http_send_no_redirect(void **state)
{
	_cleanup_(echo_done) struct echo e = {};
	_cleanup_free_ char *why = NULL;
	char target[200], url[400];
	struct http_request req = { .url = url, .no_redirect = true };

	need_http();
	(void) snprintf(target, sizeof(target), "%s/file.bin", g_http);
	redirect_url(url, sizeof(url), g_http, target);
	assert_int_equal(send_echo(&req, &e, &why), 0);
	assert_int_equal(e.status, 302);
	assert_string_equal(e.location, target);

	/* The same request without no_redirect follows it. */
	free(e.answer);
	e = (struct echo) {};
	req.no_redirect = false;
	assert_int_equal(send_echo(&req, &e, &why), 0);
	assert_int_equal(e.status, 200);
	assert_string_equal(e.answer, BODY);
}

/* The port of url ("http://127.0.0.1:PORT"). */
static const char *port_of(const char *url)
{
	return strrchr(url, ':') + 1;
}

static void test_http_send_plain_http_only_to_loopback(void **state)
{
	static const char body[] = "x";
	_cleanup_free_ char *why = NULL;
	char url[300];
	struct http_request req = { .url = url, .method = "PUT", .body = body, .body_len = 1 };
	long status = 0;

	need_http();
	/* 127.0.0.2 is loopback too (nothing leaves the machine) but not a name the rule
	 * allows; the server listens on 127.0.0.1 only. */
	(void) snprintf(url, sizeof(url), "http://127.0.0.2:%s/_echo", port_of(g_http));
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), -EPERM);
	assert_non_null(strstr(why, "127.0.0.2"));
	free(why);
	why = NULL;
	(void) snprintf(url, sizeof(url), "http://localhost@127.0.0.2:%s/_echo", port_of(g_http));
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), -EPERM);
	free(why);
	why = NULL;

	/* insecure: allowed (it reaches the connect). */
	req.insecure = true;
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), -ECONNREFUSED);
	free(why);
	why = NULL;

	/* GET: allowed without insecure (kernel mirrors). */
	req = (struct http_request) { .url = url };
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), -ECONNREFUSED);
	free(why);
	why = NULL;

	/* GET with credentials: refused like any other method (http_get() too). */
	{
		static const char *const auth[] = { "Authorization: Bearer t0ken", NULL };

		req = (struct http_request) { .url = url, .headers = auth };
		assert_int_equal(http_send(&req, NULL, NULL, &status, &why), -EPERM);
		assert_non_null(strstr(why, "with credentials"));
		assert_null(strstr(why, "t0ken"));
		assert_int_equal(http_get(&req, echo_write, NULL, NULL, NULL), -EPERM);
		req.insecure = true;
		assert_int_equal(http_send(&req, NULL, NULL, &status, NULL), -ECONNREFUSED);
	}
	free(why);
	why = NULL;

	/* The loopback names. */
	req = (struct http_request) { .url = url, .method = "PUT", .body = body, .body_len = 1 };
	(void) snprintf(url, sizeof(url), "http://localhost:%s/_echo", port_of(g_http));
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), 0);
	assert_int_equal(status, 200);
	(void) snprintf(url, sizeof(url), "%s/_echo", g_http);
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), 0);

	/* file:// is for reading only. */
	(void) snprintf(url, sizeof(url), "file://%s/www/file.bin", g_root);
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), -EINVAL);
}

static void test_http_send_bad_requests(void **state)
{
	_cleanup_free_ char *why = NULL;
	char url[200], file[400];
	struct http_request req = { .url = url, .method = "PUT", .body_file = file };
	long status = 0;

	need_http();
	(void) snprintf(url, sizeof(url), "%s/_echo", g_http);
	(void) snprintf(file, sizeof(file), "%s/no-such-blob", g_root);
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), -ENOENT);
	assert_non_null(why);
	assert_non_null(strstr(why, file));
	free(why);
	why = NULL;
	(void) snprintf(file, sizeof(file), "%s", g_root);
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), -EINVAL);
	assert_non_null(strstr(why, "not a regular file"));

	/* A body where the method has none, two bodies, an unknown method. */
	req = (struct http_request) { .url = url, .method = "HEAD", .body = "x", .body_len = 1 };
	assert_int_equal(http_send(&req, NULL, NULL, &status, NULL), -EINVAL);
	req = (struct http_request) { .url = url, .body = "x", .body_len = 1 };
	assert_int_equal(http_send(&req, NULL, NULL, &status, NULL), -EINVAL);
	req = (struct http_request) { .url = url, .method = "PUT", .body = "x", .body_len = 1,
				      .body_file = file };
	assert_int_equal(http_send(&req, NULL, NULL, &status, NULL), -EINVAL);
	req = (struct http_request) { .url = url, .method = "TRACE" };
	assert_int_equal(http_send(&req, NULL, NULL, &status, NULL), -EINVAL);

	/* http_get() refuses what only http_send() does. */
	req = (struct http_request) { .url = url, .method = "PUT" };
	assert_int_equal(http_get(&req, echo_write, NULL, NULL, NULL), -EINVAL);
	req = (struct http_request) { .url = url, .no_redirect = true };
	assert_int_equal(http_get(&req, echo_write, NULL, NULL, NULL), -EINVAL);
}

/* Request headers carry credentials: even at debug level none reaches the log. */
static void test_http_send_never_logs_request_headers(void **state)
{
	static const char *const headers[] = { "Authorization: Basic c2VjcmV0LXBhc3N3b3Jk", NULL };
	_cleanup_free_ char *why = NULL;
	char url[200], log[400], buf[8192] = "";
	struct http_request req = { .url = url, .method = "POST", .headers = headers };
	int saved, fd, level = log_get_max_level();
	ssize_t n;
	long status = 0;

	need_http();
	(void) snprintf(url, sizeof(url), "%s/_echo?status=500", g_http);
	(void) snprintf(log, sizeof(log), "%s/debug.log", g_root);
	fd = open(log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	log_set_max_level(LOG_DEBUG);
	assert_int_equal(http_send(&req, NULL, NULL, &status, &why), -EIO);
	log_set_max_level(level);
	assert_int_equal(dup2(saved, 2), 2);
	(void) close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	(void) close(fd);
	assert_true(n > 0); /* the debug line is there ... */
	assert_non_null(strstr(buf, "POST"));
	assert_null(strstr(buf, "c2VjcmV0LXBhc3N3b3Jk")); /* ... the credentials are not */
	assert_null(strstr(why, "c2VjcmV0LXBhc3N3b3Jk"));
}

/* ------------------------------------------------------------------ sessions */

/* {base}/_echo through session s (NULL: none): method (a PUT sends "put body"), headers and
 * ca_file as given. The answer's JSON (mirror.py numbers its connections: "connection"). */
static struct json_object *echo_via(struct http_session *s, const char *base, const char *method,
				    const char *const *headers, const char *ca_file)
{
	_cleanup_(echo_done) struct echo e = {};
	_cleanup_free_ char *why = NULL;
	bool put = method && streq(method, "PUT");
	char url[200];
	struct http_request req = { .url = url, .session = s, .method = method, .headers = headers,
				    .ca_file = ca_file, .body = put ? "put body" : NULL,
				    .body_len = put ? 8 : 0 };
	int r;

	(void) snprintf(url, sizeof(url), "%s/_echo", base);
	r = send_echo(&req, &e, &why);
	if (r < 0)
		fail_msg("%s %s: %s", method ? method : "GET", url, why ? why : strerror(-r));
	assert_int_equal(e.status, 200);
	return echo_json(&e);
}

static int echo_connection(struct json_object *j)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(j, "connection", &v));
	assert_true(json_object_get_int(v) > 0);
	return json_object_get_int(v);
}

/* The process's TCP sockets (the session's kept-alive connections): how many, and whether each
 * is close-on-exec. */
static int tcp_sockets(bool *all_cloexec)
{
	int n = 0;

	*all_cloexec = true;
	for (int fd = 3; fd < 1024; fd++) {
		struct stat st;
		int domain = 0, flags;
		socklen_t len = sizeof(domain);

		if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
		    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
		    (domain != AF_INET && domain != AF_INET6))
			continue;
		n++;
		flags = fcntl(fd, F_GETFD);
		if (flags < 0 || !(flags & FD_CLOEXEC))
			*all_cloexec = false;
	}
	return n;
}

/* A sink that fails: the transfer is cut mid-answer. */
static int failing_write(const void *data, size_t n, void *userdata)
{
	return -EIO;
}

static void test_http_session_keeps_one_connection(void **state)
{
	static const char *const methods[] = { NULL, "PUT", "DELETE", "GET" };
	struct http_session *s = NULL;
	int first = 0;

	need_http();
	assert_int_equal(http_session_new(&s), 0);
	for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
		_cleanup_json_ struct json_object *j = echo_via(s, g_http, methods[i], NULL, NULL);

		if (i == 0)
			first = echo_connection(j);
		else
			assert_int_equal(echo_connection(j), first);
	}
	/* The connection stays open between requests: never inherited by a child. */
	{
		bool cloexec;

		assert_true(tcp_sockets(&cloexec) >= 1);
		assert_true(cloexec);
	}
	http_session_free(s);
	http_session_free(NULL);

	/* Without a session, each request has a connection of its own. */
	{
		_cleanup_json_ struct json_object *a = echo_via(NULL, g_http, NULL, NULL, NULL);
		_cleanup_json_ struct json_object *b = echo_via(NULL, g_http, NULL, NULL, NULL);

		assert_int_not_equal(echo_connection(a), first);
		assert_int_not_equal(echo_connection(a), echo_connection(b));
	}
}

/* Nothing of one request reaches the next on the same connection: not its Authorization
 * header, method, body or CA file; and a failed request leaves the session usable. */
static void test_http_session_nothing_carries_over(void **state)
{
	static const char *const auth[] = { "Authorization: Bearer session-secret", NULL };
	_cleanup_json_ struct json_object *j1 = NULL, *j2 = NULL, *j3 = NULL, *j4 = NULL;
	_cleanup_free_ char *body = NULL, *why = NULL;
	struct http_session *s = NULL;
	char url[200];
	struct http_request req = { .url = url };

	need_http();
	assert_int_equal(http_session_new(&s), 0);
	j1 = echo_via(s, g_http, NULL, auth, NULL);
	assert_string_equal(echo_field(j1, "authorization"), "Bearer session-secret");
	j2 = echo_via(s, g_http, NULL, NULL, NULL);
	assert_int_equal(echo_connection(j2), echo_connection(j1)); /* the same connection ... */
	assert_null(echo_field(j2, "authorization"));               /* ... without the header */

	json_object_put(j1);
	j1 = echo_via(s, g_http, "PUT", auth, NULL);
	assert_string_equal(echo_field(j1, "method"), "PUT");
	assert_string_equal(echo_field(j1, "content_length"), "8");
	json_object_put(j2);
	j2 = echo_via(s, g_http, NULL, NULL, NULL);
	assert_string_equal(echo_field(j2, "method"), "GET");
	assert_null(echo_field(j2, "content_length"));
	assert_null(echo_field(j2, "authorization"));

	/* A HEAD, then a GET of the same file: the GET has its body. */
	req.session = s;
	req.method = "HEAD";
	(void) snprintf(url, sizeof(url), "%s/file.bin", g_http);
	assert_int_equal(http_send(&req, NULL, NULL, NULL, &why), 0);
	req.method = NULL;
	assert_int_equal(http_get_memory(&req, 1 << 20, &body, NULL, NULL, &why), 0);
	assert_string_equal(body, BODY);

	/* A transfer its sink cut, then the session goes on. */
	assert_int_equal(http_get(&req, failing_write, NULL, NULL, NULL), -EIO);
	j3 = echo_via(s, g_http, NULL, NULL, NULL);
	assert_null(echo_field(j3, "authorization"));

	if (g_have_tls) {
		/* Another origin in the same session, without the header: none reaches it. */
		j4 = echo_via(s, g_https, NULL, NULL, g_cert);
		assert_null(echo_field(j4, "authorization"));
		/* The private CA was that request's only: without it, https is not trusted. */
		req.method = NULL;
		(void) snprintf(url, sizeof(url), "%s/file.bin", g_https);
		free(why);
		why = NULL;
		assert_int_equal(http_send(&req, NULL, NULL, NULL, &why), -EIO);
		assert_non_null(strstr(why, url));
	}
	http_session_free(s);
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
	tmpdir_write_file(path, BODY);
	(void) snprintf(path, sizeof(path), "%s/page.html", g_dir);
	tmpdir_write_file(path, "<!DOCTYPE html><html><body>captive portal</body></html>\n");
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
	(void) nftw(g_root, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
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
		cmocka_unit_test(test_http_send_put_memory_body),
		cmocka_unit_test(test_http_send_put_file_body),
		cmocka_unit_test(test_http_send_file_that_shrinks),
		cmocka_unit_test(test_http_send_empty_bodies_say_zero),
		cmocka_unit_test(test_http_send_head_and_delete),
		cmocka_unit_test(test_http_send_any_status_headers),
		cmocka_unit_test(test_http_send_no_redirect),
		cmocka_unit_test(test_http_send_plain_http_only_to_loopback),
		cmocka_unit_test(test_http_send_bad_requests),
		cmocka_unit_test(test_http_send_never_logs_request_headers),
		cmocka_unit_test(test_http_session_keeps_one_connection),
		cmocka_unit_test(test_http_session_nothing_carries_over),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
