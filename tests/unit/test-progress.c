/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * progress.c's NDJSON and tty line, as a reader sees them: events are captured from stdout
 * (fd 1 pointed at a temporary file), checked by json-c's strict UTF-8-validating parser and
 * by python3's json module; the tty line is read from the master side of a pseudo-terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "macro.h"
#include "progress.h"
#include "util.h"
#include "test-skip.h"

/* Runs fn with stdout redirected into a file; returns what it wrote. */
static char *capture_stdout(void (*fn)(void *), void *userdata)
{
	char path[] = "/tmp/kts-progress-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC), saved;
	char *text = NULL;

	assert_true(fd >= 0);
	(void) unlink(path);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	fn(userdata);
	fflush(stdout);
	assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(read_full_fd(fd, 0, &text, NULL), 0);
	close(fd);
	return text;
}

/* One line, a JSON object by json-c's strict, UTF-8-validating parser. */
static json_object *parse_line(const char *line)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;
	size_t len = strcspn(line, "\n");

	assert_non_null(tok);
	assert_int_equal(line[len], '\n'); /* a whole line */
	assert_int_equal(line[len + 1], '\0');
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, line, (int) len);
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	json_tokener_free(tok);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

/* python3's json module agrees (it decodes the bytes as UTF-8 first). */
static void python_accepts(const char *text)
{
	char path[] = "/tmp/kts-progress-py-XXXXXX";
	char *const argv[] = { (char *) "python3", (char *) "-c",
			       (char *) "import json, sys\n"
					"for l in sys.stdin.buffer: json.loads(l)\n",
			       NULL };
	_cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
	struct spawn_opts o = { .in = SPAWN_FD, .err = SPAWN_PIPE };
	_cleanup_free_ char *err = NULL;
	int status, r;

	assert_true(fd >= 0);
	(void) unlink(path);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	o.in_fd = fd;
	r = spawn_capture(argv, &o, &status, NULL, &err);
	if (r == -ENOENT)
		return; /* no python3: json-c's strict parse above stands alone */
	assert_int_equal(r, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("python3 rejects %s: %s", text, err);
}

static const char *event_path;

static void emit_cache_event(void *userdata)
{
	(void) userdata;
	progress_set_events(true);
	progress_event("cache", "\"hit\":true,\"key\":%s,\"image\":%s", progress_json_str("k1"),
		       progress_json_str(event_path));
	progress_set_events(false);
}

static void test_long_path_is_whole_valid_json(void **state)
{
	_cleanup_free_ char *path = malloc(4097), *out = NULL;
	json_object *o, *v;

	(void) state;
	assert_non_null(path);
	path[0] = '/';
	for (size_t i = 1; i < 4096; i++)
		path[i] = i % 50 == 0 ? '/' : (char) ('a' + i % 26);
	path[4095] = '"'; /* and a quote to escape at the very end */
	path[4096] = '\0';
	event_path = path;
	out = capture_stdout(emit_cache_event, NULL);
	o = parse_line(out);
	assert_true(json_object_object_get_ex(o, "event", &v));
	assert_string_equal(json_object_get_string(v), "cache");
	assert_true(json_object_object_get_ex(o, "time", &v));
	assert_true(json_object_get_int64(v) > 1700000000);
	assert_true(json_object_object_get_ex(o, "hit", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "image", &v));
	assert_string_equal(json_object_get_string(v), path); /* all 4096 bytes */
	json_object_put(o);
	/* The members in the order given, "/" not escaped: the format readers grep. */
	assert_true(strncmp(out, "{\"event\":\"cache\",\"time\":", 24) == 0);
	assert_non_null(strstr(out, ",\"hit\":true,\"key\":\"k1\",\"image\":\"/bcdefg"));
	python_accepts(out);
}

static void test_non_utf8_path_gives_valid_json(void **state)
{
	/* Latin-1 "é", a lone continuation byte, a truncated sequence, a control character. */
	static const char bad[] = "/src/caf\xe9/\x80x/\xe2\x82/tab\there/ok-\xc3\xa9";
	_cleanup_free_ char *out = NULL;
	json_object *o, *v;

	(void) state;
	event_path = bad;
	out = capture_stdout(emit_cache_event, NULL);
	o = parse_line(out);
	assert_true(json_object_object_get_ex(o, "image", &v));
	/* Invalid bytes became U+FFFD; valid UTF-8 and the tab survive. */
	assert_string_equal(json_object_get_string(v),
			    "/src/caf\xef\xbf\xbd/\xef\xbf\xbdx/\xef\xbf\xbd\xef\xbf\xbd/tab\there/"
			    "ok-\xc3\xa9");
	json_object_put(o);
	python_accepts(out);
}

static void emit_object_and_bad_fragment(void *userdata)
{
	json_object *f = json_object_new_object();

	(void) userdata;
	json_object_object_add(f, "phase", progress_json_string("make"));
	json_object_object_add(f, "elapsed", json_object_new_double(2.5));
	json_object_object_add(f, "objects", json_object_new_int(12));
	progress_set_events(true);
	progress_emit("progress", f);
	/* A fragment that is not JSON is dropped, not written half-valid. */
	progress_event("phase", "\"phase\":%s,broken", progress_json_str("x"));
	progress_event("result", NULL);
	/* Off: nothing at all. */
	progress_set_events(false);
	progress_event("result", "\"status\":\"built\"");
}

static void test_emit_object_and_rejects_bad_fragments(void **state)
{
	_cleanup_free_ char *out = NULL;
	char *nl;
	json_object *o, *v;

	(void) state;
	out = capture_stdout(emit_object_and_bad_fragment, NULL);
	nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_true(strncmp(out, "{\"event\":\"progress\",\"time\":", 27) == 0);
	assert_non_null(strstr(out, "\"phase\":\"make\",\"elapsed\":2.5,\"objects\":12}\n"));
	/* Second line: {"event":"result","time":N} and nothing after it. */
	assert_true(strncmp(nl + 1, "{\"event\":\"result\",\"time\":", 25) == 0);
	o = parse_line(nl + 1);
	assert_true(json_object_object_get_ex(o, "event", &v));
	assert_string_equal(json_object_get_string(v), "result");
	assert_int_equal(json_object_object_length(o), 2);
	json_object_put(o);
	assert_string_equal(progress_json_str(NULL), "null");
	python_accepts(out);
}

static void test_tty_line(void **state)
{
	char buf[256];
	int master, slave, saved;
	_cleanup_free_ char *seen = NULL;
	ssize_t n;

	(void) state;
	progress_format_line(buf, sizeof(buf), "make", 83.7, 1234, 45);
	assert_string_equal(buf, "make       01:23  1234 objects  (45%)");
	progress_format_line(buf, sizeof(buf), "configure", 5, 0, -1);
	assert_string_equal(buf, "configure  00:05");
	progress_format_line(buf, sizeof(buf), "make", 1, 1, 250);
	assert_string_equal(buf, "make       00:01  1 objects  (99%)"); /* never 100% early */
	progress_format_line(buf, 8, "make", 1, 1, 1);
	assert_string_equal(buf, "make   "); /* truncated, terminated */

	/* Not a terminal: the line stays off whatever was asked. */
	progress_set_tty(isatty(STDERR_FILENO) ? false : true);
	assert_false(progress_tty_enabled());

	/* On a pseudo-terminal: "\r\033[K" + the text, and the clear at the end. */
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	test_need(master >= 0, "a pseudo-terminal (posix_openpt)");
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_int_equal(dup2(slave, STDERR_FILENO), STDERR_FILENO);
	progress_set_tty(true);
	assert_true(progress_tty_enabled());
	progress_line("make", 61, 7, 3);
	progress_line_end();
	progress_set_tty(false);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(slave);
	buf[0] = '\0';
	/* The two writes may arrive in separate reads: read until the terminal is quiet. */
	for (size_t len = 0;;) {
		struct pollfd p = { .fd = master, .events = POLLIN };

		if (poll(&p, 1, 200) <= 0 || len == sizeof(buf) - 1)
			break;
		n = read(master, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t) n;
		buf[len] = '\0';
	}
	close(master);
	assert_string_equal(buf, "\r\033[Kmake       01:01  7 objects  (3%)\r\033[K");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_path_is_whole_valid_json),
		cmocka_unit_test(test_non_utf8_path_gives_valid_json),
		cmocka_unit_test(test_emit_object_and_rejects_bad_fragments),
		cmocka_unit_test(test_tty_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
