/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * engine.c / engine-hosts.c: the distcc host list parser against distcc(1)'s HOST
 * SPECIFICATIONS and distcc 3.4's defaults (src/hosts.c), the make -j sum, and the plan
 * against real sockets on 127.0.0.1 (a listening one answers, a closed port refuses).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-skip.h"

#include "engine.h"
#include "log.h"
#include "macro.h"

/* ---------------------------------------------------------------- parsing */

struct good {
	const char *text;
	size_t n;            /* entries */
	size_t i;            /* the entry checked */
	enum engine_host_kind kind;
	const char *name;
	unsigned port, slots;
	bool down;
	unsigned remote;     /* engine_hosts_remote_slots() */
};

static const struct good goods[] = {
	{ "127.0.0.1", 1, 0, ENGINE_HOST_TCP, "127.0.0.1", 3632, 4, false, 4 },
	{ "host1:4000/8", 1, 0, ENGINE_HOST_TCP, "host1", 4000, 8, false, 8 },
	{ "host1/8:4000", 1, 0, ENGINE_HOST_TCP, "host1", 4000, 8, false, 8 },
	{ "host1/3,lzo", 1, 0, ENGINE_HOST_TCP, "host1", 3632, 3, false, 3 },
	{ "host1/3,lzo,cpp", 1, 0, ENGINE_HOST_TCP, "host1", 3632, 3, false, 3 },
	{ "host1,down a-b.c_d", 2, 0, ENGINE_HOST_TCP, "host1", 3632, 4, true, 4 },
	{ "[::1]:3633/2", 1, 0, ENGINE_HOST_TCP, "::1", 3633, 2, false, 2 },
	{ "localhost", 1, 0, ENGINE_HOST_LOCAL, NULL, 0, 2, false, 0 },
	{ "localhost/6 10.0.0.1/4", 2, 0, ENGINE_HOST_LOCAL, NULL, 0, 6, false, 4 },
	{ "localhost:3632", 1, 0, ENGINE_HOST_TCP, "localhost", 3632, 4, false, 4 },
	{ "me@build1/10:/usr/bin/distccd,lzo", 1, 0, ENGINE_HOST_SSH, "build1", 0, 10, false, 10 },
	{ "@build1", 1, 0, ENGINE_HOST_SSH, "build1", 0, 4, false, 4 },
	{ "+zeroconf", 1, 0, ENGINE_HOST_ZEROCONF, NULL, 0, 4, false, 0 },
	{ "--randomize --localslots=3 --localslots_cpp/5\n a b", 2, 1, ENGINE_HOST_TCP, "b",
	  3632, 4, false, 8 },
	{ "# team\na/2 # two\n\tb/3\r\n", 2, 1, ENGINE_HOST_TCP, "b", 3632, 3, false, 5 },
	{ "a,auth,auth=svc", 1, 0, ENGINE_HOST_TCP, "a", 3632, 4, false, 4 },
	{ "a/1024:65535", 1, 0, ENGINE_HOST_TCP, "a", 65535, 1024, false, 1024 },
};

static void test_parse_good(void **state)
{
	(void) state;
	for (size_t k = 0; k < ELEMENTSOF(goods); k++) {
		const struct good *g = &goods[k];
		struct engine_hosts h _cleanup_(engine_hosts_done) = { 0 };
		_cleanup_free_ char *why = NULL;
		const struct engine_host *e;

		if (engine_distcc_hosts_parse(g->text, &h, &why) != 0)
			fail_msg("'%s' refused: %s", g->text, strempty(why));
		assert_int_equal(h.n, g->n);
		e = &h.v[g->i];
		assert_int_equal(e->kind, g->kind);
		if (g->name)
			assert_string_equal(e->name, g->name);
		if (g->kind == ENGINE_HOST_TCP)
			assert_int_equal(e->port, g->port);
		assert_int_equal(e->slots, g->slots);
		assert_int_equal(e->down, g->down);
		assert_int_equal(engine_hosts_remote_slots(&h), g->remote);
	}
}

static void test_parse_globals_and_spec(void **state)
{
	struct engine_hosts h _cleanup_(engine_hosts_done) = { 0 };

	(void) state;
	assert_int_equal(engine_distcc_hosts_parse(
		"--randomize --localslots=3 --localslots_cpp=5 a/2,lzo", &h, NULL), 0);
	assert_true(h.randomize);
	assert_int_equal(h.localslots, 3);
	assert_int_equal(h.localslots_cpp, 5);
	assert_string_equal(h.v[0].spec, "a/2,lzo");
}

struct bad_case {
	const char *text;
	const char *why; /* a part of the message */
};

static const struct bad_case bads[] = {
	{ "", "names no host" },
	{ "  # only a comment\n", "names no host" },
	{ "--randomize", "names no host" },
	{ "a/0", "'a/0': expected a limit 1-1024" },
	{ "a/1025", "limit 1-1024" },
	{ "a/", "limit 1-1024" },
	{ "a:0", "port 1-65535" },
	{ "a:65536", "port 1-65535" },
	{ "a:", "port 1-65535" },
	{ "a:+5", "port 1-65535" },
	{ "a/2/3", "unexpected characters" },
	{ "a/2:5/3", "unexpected characters" },
	{ "a,lzofoo", "unknown option" },
	{ "a,", "unknown option" },
	{ "a,cpp", "needs lzo" },
	{ "a,auth=", "auth=NAME" },
	{ "a,authx", "auth=NAME" },
	{ "a=4", "host name" },
	{ ":3632", "host name" },
	{ "/4", "host name" },
	{ "[::1", "IPv6" },
	{ "[]:1", "IPv6" },
	{ "[zz]", "IPv6" },
	{ "h$st", "host name" },
	{ "localhost/", "localhost/LIMIT" },
	{ "localhost/2x", "localhost/LIMIT" },
	{ "me@", "host name after '@'" },
	{ "m&e@h", "user name" },
	{ "m;e@h", "user name" },
	{ "me@h:", "distccd command" },
	{ "--localslots=0 a", "--localslots" },
	{ "--localslots a", "--localslots" },
	{ "--random a", "--randomize" },
	{ "a\x01", "unprintable" },
	{ "caf\xc3\xa9", "non-ASCII" },
	{ "+zeroconf2", "host name" },
};

static void test_parse_bad(void **state)
{
	(void) state;
	for (size_t k = 0; k < ELEMENTSOF(bads); k++) {
		struct engine_hosts h = { 0 };
		_cleanup_free_ char *why = NULL;
		int r = engine_distcc_hosts_parse(bads[k].text, &h, &why);

		if (r != -EINVAL)
			fail_msg("'%s' accepted (r=%d)", bads[k].text, r);
		assert_non_null(why);
		if (!strstr(why, bads[k].why))
			fail_msg("'%s': message '%s' lacks '%s'", bads[k].text, why, bads[k].why);
		assert_null(h.v); /* not written on failure */
	}
}

/* The message names the entry, one line, unprintable bytes masked, long ones cut. */
static void test_parse_bad_message(void **state)
{
	_cleanup_free_ char *why = NULL, *why2 = NULL, *long_list = NULL;
	struct engine_hosts h = { 0 };

	(void) state;
	assert_int_equal(engine_distcc_hosts_parse("good/2 bad/0 x", &h, &why), -EINVAL);
	assert_string_equal(why, "invalid distcc host 'bad/0': expected a limit 1-1024 after '/'");
	long_list = malloc(ENGINE_HOSTS_MAX_LEN + 2);
	assert_non_null(long_list);
	memset(long_list, 'a', ENGINE_HOSTS_MAX_LEN + 1);
	long_list[ENGINE_HOSTS_MAX_LEN + 1] = 0;
	assert_int_equal(engine_distcc_hosts_parse(long_list, &h, &why2), -EINVAL);
	assert_non_null(strstr(why2, "longer than 8192 bytes"));
}

static void test_parse_too_many(void **state)
{
	_cleanup_free_ char *text = calloc(ENGINE_HOSTS_MAX + 1, 3);
	_cleanup_free_ char *why = NULL;
	struct engine_hosts h = { 0 };

	(void) state;
	assert_non_null(text);
	for (size_t i = 0; i <= ENGINE_HOSTS_MAX; i++)
		strcat(text, "a ");
	assert_int_equal(engine_distcc_hosts_parse(text, &h, &why), -EINVAL);
	assert_non_null(strstr(why, "more than 256 hosts"));
	text[strlen(text) - 2] = 0; /* exactly 256 */
	assert_int_equal(engine_distcc_hosts_parse(text, &h, NULL), 0);
	assert_int_equal(h.n, ENGINE_HOSTS_MAX);
	assert_int_equal(engine_hosts_remote_slots(&h), 4 * ENGINE_HOSTS_MAX);
	engine_hosts_done(&h);
}

/* ---------------------------------------------------------------- -j */

static void test_make_jobs(void **state)
{
	(void) state;
	assert_int_equal(engine_make_jobs(2, 0), 2);
	assert_int_equal(engine_make_jobs(2, 4), 6);
	assert_int_equal(engine_make_jobs(1, 1024), 1025);
	assert_int_equal(engine_make_jobs(65000, 1024), 65536); /* job.h's bound */
	assert_int_equal(engine_make_jobs(4000000000u, 4000000000u), 65536);
}

/* ---------------------------------------------------------------- probing and the plan */

/* A listening socket on 127.0.0.1 (its port in *port), or a closed port (fd -1). */
static int loopback(bool listening, unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
	*port = ntohs(a.sin_port);
	if (listening) {
		assert_int_equal(listen(fd, 8), 0);
		return fd;
	}
	close(fd); /* nobody listens there now */
	return -1;
}

static void test_probe(void **state)
{
	struct engine_hosts h _cleanup_(engine_hosts_done) = { 0 };
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int lfd = -1;
	unsigned up, closed;
	bool answers[4];
	char *why[4];

	(void) state;
	lfd = loopback(true, &up);
	loopback(false, &closed);
	assert_true(asprintf(&text, "127.0.0.1:%u/3 127.0.0.1:%u/5 localhost @ssh1", up,
			     closed) > 0);
	assert_int_equal(engine_distcc_hosts_parse(text, &h, NULL), 0);
	assert_int_equal(engine_hosts_probe(&h, 1000, answers, why), 0);
	assert_true(answers[0]);
	assert_null(why[0]);
	assert_false(answers[1]);
	assert_non_null(why[1]);
	assert_non_null(strstr(why[1], "connection refused"));
	assert_true(answers[2] && answers[3]); /* not probed */
	for (size_t i = 0; i < 4; i++)
		free(why[i]);
}

static bool have_distcc(void)
{
	return system("command -v distcc >/dev/null 2>&1") == 0;
}

static void test_plan_answering(void **state)
{
	struct kts_compile_plan p = { 0 };
	_cleanup_free_ char *text = NULL, *want = NULL, *why = NULL, *desc = NULL, *sum = NULL;
	_cleanup_close_ int lfd = -1;
	unsigned up, closed;
	char **env = NULL;
	size_t n = 0;

	(void) state;
	test_need(have_distcc(), "distcc is not installed");
	lfd = loopback(true, &up);
	loopback(false, &closed);
	assert_true(asprintf(&text, "--randomize 127.0.0.1:%u/3 127.0.0.1:%u/5 localhost/2", up,
			     closed) > 0);
	struct kts_compile_request q = { .engine = KTS_ENGINE_DISTCC, .distcc_hosts = text };
	assert_int_equal(engine_plan(&q, &p, &why), 0);
	assert_int_equal(p.engine, KTS_ENGINE_DISTCC);
	assert_null(p.fallback);
	assert_non_null(p.engine_bin);
	assert_int_equal(p.remote_jobs, 3); /* the answering host's; localhost is local */
	assert_true(asprintf(&want, "--randomize 127.0.0.1:%u/3 localhost/2", up) > 0);
	assert_string_equal(p.hosts, want);
	assert_int_equal(engine_make_env(&p, &env, &n), 0);
	assert_int_equal(n, 1);
	assert_true(startswith(env[0], "DISTCC_HOSTS=--randomize 127.0.0.1:"));
	assert_null(env[1]);
	desc = engine_describe(p.engine, "127.0.0.1/4", 4);
	assert_string_equal(desc, "distcc 127.0.0.1/4 (+4 jobs)");
	strv_free(env, n);
	unsetenv("DISTCC_HOSTS");
	assert_int_equal(engine_setup_env(&p), 0);
	assert_string_equal(getenv("DISTCC_HOSTS"), want);
	unsetenv("DISTCC_HOSTS");
	assert_int_equal(engine_summary(&p, &sum), 0);
	assert_non_null(strstr(sum, "(+3 jobs)"));

	/* --remote-jobs overrides what the hosts state */
	free(p.engine_bin), free(p.hosts), p = (struct kts_compile_plan){ 0 };
	q.remote_jobs = 17;
	assert_int_equal(engine_plan(&q, &p, &why), 0);
	assert_int_equal(p.remote_jobs, 17);
	free(p.engine_bin), free(p.hosts);
}

static void test_plan_fallback(void **state)
{
	struct kts_compile_plan p = { 0 };
	_cleanup_free_ char *text = NULL, *want = NULL, *why = NULL, *sum = NULL;
	unsigned closed;

	(void) state;
	test_need(have_distcc(), "distcc is not installed");
	loopback(false, &closed);
	assert_true(asprintf(&text, "127.0.0.1:%u/4", closed) > 0);
	struct kts_compile_request q = { .engine = KTS_ENGINE_DISTCC, .distcc_hosts = text };
	assert_int_equal(engine_plan(&q, &p, &why), 0);
	assert_int_equal(p.engine, KTS_ENGINE_NONE);
	assert_int_equal(p.remote_jobs, 0);
	assert_null(p.hosts);
	assert_null(p.engine_bin);
	assert_true(asprintf(&want, "distcc: no host answers (127.0.0.1:%u: connection refused)",
			     closed) > 0);
	assert_string_equal(p.fallback, want);
	assert_int_equal(engine_summary(&p, &sum), 0);
	assert_true(startswith(sum, "built locally: distcc: no host answers (127.0.0.1:"));
	free(p.fallback);

	/* only localhost: nothing remote to reach */
	p = (struct kts_compile_plan){ 0 };
	q.distcc_hosts = "localhost/4";
	assert_int_equal(engine_plan(&q, &p, &why), 0);
	assert_int_equal(p.engine, KTS_ENGINE_NONE);
	assert_string_equal(p.fallback, "distcc: the host list names no remote host");
	free(p.fallback);
}

static void test_plan_errors(void **state)
{
	struct kts_compile_plan p = { 0 };
	_cleanup_free_ char *why = NULL, *why2 = NULL, *path = NULL;
	struct kts_compile_request q = { .engine = KTS_ENGINE_DISTCC, .distcc_hosts = "a/0" };

	(void) state;
	assert_int_equal(engine_plan(&q, &p, &why), -EINVAL);
	assert_non_null(strstr(why, "'a/0'"));
	/* distcc not in PATH: exit 4's error, naming the package */
	path = strdup(getenv("PATH") ? getenv("PATH") : "");
	setenv("PATH", "/nonexistent", 1);
	q.distcc_hosts = "127.0.0.1";
	assert_int_equal(engine_plan(&q, &p, &why2), -ENXIO);
	setenv("PATH", path, 1);
	assert_non_null(strstr(why2, "apt install distcc"));
	assert_int_equal(p.engine, KTS_ENGINE_NONE);
	/* no engine asked for: nothing planned */
	q.engine = KTS_ENGINE_NONE;
	assert_int_equal(engine_plan(&q, &p, NULL), 0);
	assert_int_equal(p.engine, KTS_ENGINE_NONE);
	assert_null(p.hosts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_globals_and_spec),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_bad_message),
		cmocka_unit_test(test_parse_too_many),
		cmocka_unit_test(test_make_jobs),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_plan_answering),
		cmocka_unit_test(test_plan_fallback),
		cmocka_unit_test(test_plan_errors),
	};

	log_set_max_level(LOG_ERR); /* the fallback's warning line is the CLI's to show */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
