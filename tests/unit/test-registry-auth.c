/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry-auth.c: the credentials files (their search order under a temporary HOME,
 * XDG_RUNTIME_DIR and REGISTRY_AUTH_FILE, key normalisation, malformed files, the base64 of
 * "user:password"), WWW-Authenticate challenges, token answers, and the bearer-token flow
 * against tests/integration/mirror.py's /_token endpoint (test-server.h), which checks the
 * Authorization header and the query it gets; and a registry's requests on one kept-alive
 * connection, its credentials to its own origin only (mirror.py's /_echo numbers connections).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hash.h"
#include "http.h"
#include "log.h"
#include "macro.h"
#include "registry-internal.h"
#include "test-server.h"
#include "test-skip.h"
#include "test-tmpdir.h"

#define HOST "reg.example:5000"
#define AUTH_USER_PASS "dXNlcjpwYXNz" /* user:pass */
#define AUTH_ALICE "YWxpY2U6czNjcmV0"  /* alice:s3cret */
#define AUTH_BOB "Ym9iOmh1bnRlcjI="    /* bob:hunter2 */

static char g_root[256];
static char g_http[64];
static pid_t g_http_pid;

/* {"auths": {key: {"auth": auth}}} */
static void write_auths(const char *path, const char *key, const char *auth)
{
	char text[512];

	(void) snprintf(text, sizeof(text), "{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}\n", key,
			auth);
	tmpdir_write_file(path, text);
}

/* registry_creds_parse() on text for HOST: its result, *ret_basic freed or compared. */
static int parse(const char *text, const char *want_basic)
{
	_cleanup_free_ char *basic = NULL, *why = NULL;
	int r = registry_creds_parse(text, strlen(text), HOST, &basic, &why);

	if (r > 0 && want_basic)
		assert_string_equal(basic, want_basic);
	if (r > 0)
		assert_non_null(basic);
	if (r < 0) {
		assert_non_null(why);
		/* A malformed value is never quoted back. */
		assert_null(strstr(why, "c2VjcmV0"));
	}
	return r;
}

/* ------------------------------------------------------------------ credentials files */

struct paths {
	char home[300], run[300], env[300], xdg[400], docker[400];
};

static void make_paths(struct paths *p)
{
	char dir[400];

	(void) snprintf(p->home, sizeof(p->home), "%s/home", g_root);
	(void) snprintf(p->run, sizeof(p->run), "%s/run", g_root);
	(void) snprintf(p->env, sizeof(p->env), "%s/auth.json", g_root);
	(void) snprintf(p->xdg, sizeof(p->xdg), "%s/containers/auth.json", p->run);
	(void) snprintf(p->docker, sizeof(p->docker), "%s/.docker/config.json", p->home);
	(void) mkdir(p->home, 0755);
	(void) mkdir(p->run, 0755);
	(void) snprintf(dir, sizeof(dir), "%s/containers", p->run);
	(void) mkdir(dir, 0755);
	(void) snprintf(dir, sizeof(dir), "%s/.docker", p->home);
	(void) mkdir(dir, 0755);
	assert_int_equal(setenv("HOME", p->home, 1), 0);
	assert_int_equal(setenv("XDG_RUNTIME_DIR", p->run, 1), 0);
	assert_int_equal(setenv("REGISTRY_AUTH_FILE", p->env, 1), 0);
}

static void remove_paths(const struct paths *p)
{
	(void) unlink(p->env);
	(void) unlink(p->xdg);
	(void) unlink(p->docker);
}

/* registry_creds_find(HOST): the result; the basic and source (or NULL) compared. */
static int find(const char *want_basic, const char *want_source, char **ret_looked)
{
	struct kts_registry_creds c = { .basic = (char *) "garbage" };
	_cleanup_free_ char *why = NULL;
	int r = registry_creds_find(HOST, &c, ret_looked, &why);

	if (r < 0) {
		assert_non_null(why);
		return r;
	}
	if (want_basic) {
		assert_int_equal(r, 1);
		assert_string_equal(c.basic, want_basic);
		assert_string_equal(c.source, want_source);
	} else {
		assert_int_equal(r, 0);
		assert_null(c.basic);
		assert_null(c.source);
	}
	registry_creds_done(&c);
	return r;
}

static void test_creds_search_order(void **state)
{
	_cleanup_free_ char *looked = NULL, *want = NULL;
	struct paths p;

	make_paths(&p);
	write_auths(p.env, HOST, AUTH_USER_PASS);
	write_auths(p.xdg, HOST, AUTH_ALICE);
	write_auths(p.docker, HOST, AUTH_BOB);
	assert_int_equal(find(AUTH_USER_PASS, p.env, NULL), 1);

	/* REGISTRY_AUTH_FILE unset, or naming a missing file: podman's file next. */
	assert_int_equal(unsetenv("REGISTRY_AUTH_FILE"), 0);
	assert_int_equal(find(AUTH_ALICE, p.xdg, NULL), 1);
	assert_int_equal(setenv("REGISTRY_AUTH_FILE", p.env, 1), 0);
	(void) unlink(p.env);
	assert_int_equal(find(AUTH_ALICE, p.xdg, NULL), 1);

	/* A file without an entry for the host is skipped. */
	write_auths(p.xdg, "other.example", AUTH_ALICE);
	assert_int_equal(find(AUTH_BOB, p.docker, NULL), 1);
	assert_int_equal(unsetenv("XDG_RUNTIME_DIR"), 0);
	assert_int_equal(find(AUTH_BOB, p.docker, NULL), 1);
	assert_int_equal(setenv("XDG_RUNTIME_DIR", p.run, 1), 0);

	/* None: 0, and the files looked at, in order. */
	(void) unlink(p.docker);
	assert_int_equal(find(NULL, NULL, &looked), 0);
	assert_int_equal(asprintf(&want, "%s, %s, %s", p.env, p.xdg, p.docker) > 0, 1);
	assert_string_equal(looked, want);
	remove_paths(&p);
}

static void test_creds_malformed_file_is_named(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{\"auths\": []}",
		"{\"auths\": {\"" HOST "\": \"x\"}}",
		"{\"auths\": {\"" HOST "\": {\"auth\": 7}}}",
		"{\"auths\": {}} trailing",
		"{\"auths\": {\"" HOST "\": {\"auth\": \"c2VjcmV0\"}}}", /* "secret": no colon */
	};
	struct paths p;

	make_paths(&p);
	write_auths(p.docker, HOST, AUTH_BOB);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct kts_registry_creds c = {};
		_cleanup_free_ char *why = NULL;

		tmpdir_write_file(p.xdg, bad[i]);
		/* A broken file stops the search: its fix is the user's, not a fallback's. */
		assert_int_equal(registry_creds_find(HOST, &c, NULL, &why), -EBADMSG);
		assert_non_null(why);
		if (!strstr(why, p.xdg))
			fail_msg("'%s': %s", bad[i], why);
		assert_null(strstr(why, "c2VjcmV0"));
		assert_null(c.basic);
	}
	remove_paths(&p);
}

static void test_creds_key_normalisation(void **state)
{
	static const char *const match[] = {
		HOST, "https://" HOST, "https://" HOST "/v2/", "http://" HOST "/v1/",
		HOST "/some/repository", "HTTPS://REG.Example:5000/",
	};
	static const char *const nomatch[] = {
		"reg.example", "reg.example:5001", "https://other:5000/", "https:/" HOST,
		"", "/" HOST, "xreg.example:5000",
	};
	char text[512];

	for (size_t i = 0; i < ELEMENTSOF(match); i++) {
		(void) snprintf(text, sizeof(text), "{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}",
				match[i], AUTH_ALICE);
		if (parse(text, AUTH_ALICE) != 1)
			fail_msg("'%s' should match %s", match[i], HOST);
	}
	for (size_t i = 0; i < ELEMENTSOF(nomatch); i++) {
		(void) snprintf(text, sizeof(text), "{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}",
				nomatch[i], AUTH_ALICE);
		if (parse(text, NULL) != 0)
			fail_msg("'%s' should not match %s", nomatch[i], HOST);
	}
	/* The exact key wins over one that only normalises to the host. */
	assert_int_equal(parse("{\"auths\":{\"https://" HOST "/v1/\":{\"auth\":\"" AUTH_BOB "\"},"
			       "\"" HOST "\":{\"auth\":\"" AUTH_ALICE "\"}}}",
			       AUTH_ALICE),
			 1);
}

static void test_creds_base64_validation(void **state)
{
	static const struct {
		const char *auth;
		int want;
	} cases[] = {
		{ AUTH_USER_PASS, 1 },
		{ AUTH_BOB, 1 },           /* padded once */
		{ "dTpw", 1 },             /* u:p */
		{ "dXNlcjo=", 1 },         /* "user:", an empty password */
		{ "dTo6Og==", 1 },         /* "u:::", colons in the password */
		{ "", 0 },                 /* podman's entry of a helper: no credentials */
		{ "c2VjcmV0", -EBADMSG },  /* "secret": no colon */
		{ "OnBhc3M=", -EBADMSG },  /* ":pass": no user */
		{ "Og==", -EBADMSG },      /* ":" */
		{ "dXNlcjpwYXM", -EBADMSG }, /* unpadded */
		{ "dXNlcjpwYXM==", -EBADMSG },
		{ "dTpx=", -EBADMSG },
		{ "dTpx====", -EBADMSG },
		{ "dQA6cA==", -EBADMSG },  /* "u\0:p" */
		{ "dTpx!A==", -EBADMSG },
		{ "dTp=cA==", -EBADMSG },  /* padding inside */
		{ "dTpxcB==", -EBADMSG },  /* non-zero bits under the padding */
		{ "dXNl cjpwYXNz", -EBADMSG },
		{ "dXNlcjpwYXNz\\n", -EBADMSG },
	};
	char text[256];

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		int r;

		(void) snprintf(text, sizeof(text), "{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}", HOST,
				cases[i].auth);
		r = parse(text, cases[i].want > 0 ? cases[i].auth : NULL);
		if (r != cases[i].want)
			fail_msg("auth '%s': %d, expected %d", cases[i].auth, r, cases[i].want);
	}
}

static void test_creds_helpers_are_skipped(void **state)
{
	struct paths p;

	/* A helper for the host and no auth: this file has nothing; the next one is read. */
	make_paths(&p);
	tmpdir_write_file(p.env, "{\"credHelpers\": {\"" HOST "\": \"secretservice\"}}");
	tmpdir_write_file(p.xdg, "{\"auths\": {\"" HOST "\": {}}, \"credsStore\": \"desktop\"}");
	write_auths(p.docker, HOST, AUTH_BOB);
	assert_int_equal(find(AUTH_BOB, p.docker, NULL), 1);
	/* Other members are ignored; an "auths" entry wins over a helper. */
	tmpdir_write_file(p.env, "{\"credHelpers\": {\"" HOST "\": \"x\"}, \"HttpHeaders\": {},"
			  "\"auths\": {\"" HOST "\": {\"auth\": \"" AUTH_ALICE "\", \"email\": \"\"}}}");
	assert_int_equal(find(AUTH_ALICE, p.env, NULL), 1);
	remove_paths(&p);
}

static void test_creds_parse_raw_bytes(void **state)
{
	/* NUL bytes inside the text or its strings: never a match, never a crash. */
	static const char text[] = "{\"auths\":{\"" HOST "\":{\"auth\":\"dTpw\0\"}}}";
	_cleanup_free_ char *basic = NULL;

	assert_true(registry_creds_parse(text, sizeof(text) - 1, HOST, &basic, NULL) < 0);
	assert_null(basic);
}

/* ------------------------------------------------------------------ challenges */

static void test_challenge_shapes(void **state)
{
	static const struct {
		const char *value;
		enum kts_auth_scheme scheme;
		const char *realm, *service, *scope, *error;
	} good[] = {
		{ .value = "Basic realm=\"Registry Realm\"", .scheme = KTS_AUTH_BASIC,
		  .realm = "Registry Realm" },
		{ .value = "basic realm=x", .scheme = KTS_AUTH_BASIC, .realm = "x" },
		{ .value = "BASIC", .scheme = KTS_AUTH_BASIC },
		{ .value = "Basic dXNlcjpwYXNz==", .scheme = KTS_AUTH_BASIC }, /* token68 */
		{ .value = "Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
			   "scope=\"repository:a/b:pull,push\"",
		  .scheme = KTS_AUTH_BEARER,
		  .realm = "https://auth.example/token",
		  .service = "registry.example",
		  .scope = "repository:a/b:pull,push" },
		{ .value = "bEaReR  REALM = \"http://127.0.0.1:1/t\" , Service=s,,scope=\"a b\"",
		  .scheme = KTS_AUTH_BEARER,
		  .realm = "http://127.0.0.1:1/t",
		  .service = "s",
		  .scope = "a b" },
		{ .value = "Bearer realm=\"https://a/t\",error=\"insufficient_scope\",scope=\"x\"",
		  .scheme = KTS_AUTH_BEARER,
		  .realm = "https://a/t",
		  .scope = "x",
		  .error = "insufficient_scope" },
		{ .value = "Bearer realm=\"https://a/t?x=\\\"q\\\\\",service=\"s\\,t\"",
		  .scheme = KTS_AUTH_BEARER,
		  .realm = "https://a/t?x=\"q\\",
		  .service = "s,t" },
		{ .value = "Bearer realm=\"https://a/t\", other=\"ignored\", more=token",
		  .scheme = KTS_AUTH_BEARER,
		  .realm = "https://a/t" },
		/* Several challenges: the first of a scheme we know. */
		{ .value = "Negotiate, Basic realm=\"r\", Bearer realm=\"https://a/t\"",
		  .scheme = KTS_AUTH_BASIC,
		  .realm = "r" },
		{ .value = "Newauth realm=\"apps\", type=1, title=\"Login\", Bearer realm=\"https://a/t\"",
		  .scheme = KTS_AUTH_BEARER,
		  .realm = "https://a/t" },
		{ .value = "Negotiate abc==, Bearer realm=\"https://a/t\"",
		  .scheme = KTS_AUTH_BEARER,
		  .realm = "https://a/t" },
		{ .value = "  Bearer realm=\"https://a/t\"  ",
		  .scheme = KTS_AUTH_BEARER,
		  .realm = "https://a/t" },
	};
	static const char *const bad[] = {
		"",
		"   ",
		"Negotiate",
		"Digest realm=\"x\"",
		"Bearer",                        /* no realm */
		"Bearer service=\"s\"",          /* no realm */
		"Bearer realm=\"\"",             /* empty realm */
		"Bearer realm=\"ftp://a/t\"",    /* not http(s) */
		"Bearer realm=https://a/t",      /* ':' and '/' need quotes */
		"Bearer realm=\"https://a/t",    /* unterminated */
		"Bearer realm=\"https://a/t\\",  /* escape at the end */
		"Bearer realm=\"https://a/\x01t\"",
		"Bearer realm=\"https://a/t\" service=\"s\"", /* no comma */
		"Bearer realm=\"https://a/t\",realm=\"https://b/t\"",
		"Bearer realm=\"https://a/t\"x",
		"Bearer=realm",
		"Bearer realm=",
		"Bearer realm=\"https://a/t\",service=",
		"Bearer realm=\"https://a/t\",=x",
		"Basic realm=\"r\"\"",
		"(Basic)",
		"Basic\trealm=x",
	};

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		struct kts_auth_challenge c = {};
		int r = registry_challenge_parse(good[i].value, &c);

		if (r < 0)
			fail_msg("'%s': %d", good[i].value, r);
		assert_int_equal(c.scheme, good[i].scheme);
#define FIELD(f)                                                                              \
	do {                                                                                  \
		if (good[i].f)                                                                \
			assert_string_equal(c.f, good[i].f);                                  \
		else if (c.f)                                                                 \
			fail_msg("'%s': " #f " '%s', expected none", good[i].value, c.f);     \
	} while (0)
		FIELD(realm);
		FIELD(service);
		FIELD(scope);
		FIELD(error);
#undef FIELD
		registry_challenge_done(&c);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct kts_auth_challenge c = {};
		int r = registry_challenge_parse(bad[i], &c);

		if (r != -EINVAL)
			fail_msg("'%s': %d, expected -EINVAL", bad[i], r);
		assert_null(c.realm);
	}
}

/* ------------------------------------------------------------------ token answers */

static void test_token_answers(void **state)
{
	static const struct {
		const char *json;
		const char *want; /* NULL: -EBADMSG */
	} cases[] = {
		{ "{\"token\": \"abc.def-ghi_jkl\"}", "abc.def-ghi_jkl" },
		{ "{\"access_token\": \"a1\", \"expires_in\": 300}", "a1" },
		{ "{\"token\": \"t1\", \"access_token\": \"a1\"}", "t1" },
		{ "{\"token\": \"\", \"access_token\": \"a1\"}", "a1" },
		{ " {\"token\":\"x\"} \n", "x" },
		{ "{\"token\": \"has space\"}", NULL },
		{ "{\"token\": \"new\\nline\"}", NULL },
		{ "{\"token\": \"caf\\u00e9\"}", NULL },
		{ "{\"token\": 17}", NULL },
		{ "{\"token\": \"\"}", NULL },
		{ "{\"access_token\": null}", NULL },
		{ "{}", NULL },
		{ "[\"token\"]", NULL },
		{ "\"token\"", NULL },
		{ "{\"token\": \"x\"} {}", NULL },
		{ "{\"token\": \"x\"", NULL },
		{ "", NULL },
		{ "<html>401</html>", NULL },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *t = NULL;
		int r = registry_token_parse(cases[i].json, strlen(cases[i].json), &t);

		if (cases[i].want) {
			if (r < 0)
				fail_msg("'%s': %d", cases[i].json, r);
			assert_string_equal(t, cases[i].want);
		} else {
			if (r != -EBADMSG)
				fail_msg("'%s': %d, expected -EBADMSG", cases[i].json, r);
			assert_null(t);
		}
	}
	{
		static const char nul[] = "{\"token\": \"ab\0cd\"}";
		_cleanup_free_ char *t = NULL;

		assert_int_equal(registry_token_parse(nul, sizeof(nul) - 1, &t), -EBADMSG);
	}
}

/* ------------------------------------------------------------------ the token endpoint */

static void need_http(void)
{
	test_need(g_http_pid > 0, "the http server (python3 tests/integration/mirror.py) did not start");
}

/* registry_token_fetch() for a challenge whose realm is /_token?{query}, the endpoint
 * wanting the basic credentials want_basic (as their SHA-256: no secret in a URL). */
static int fetch(const char *want_basic, const char *query, const char *service,
		 const char *scope, const char *scope_default, const char *basic, char **ret_token,
		 char **ret_why)
{
	char realm[1024], sha[65] = "";
	struct kts_registry_creds creds = { .basic = (char *) basic, .source = g_root };
	struct kts_auth_challenge c = {
		.scheme = KTS_AUTH_BEARER,
		.realm = realm,
		.service = (char *) service,
		.scope = (char *) scope,
	};
	const struct http_request tls = {};

	if (want_basic)
		assert_int_equal(hash_sha256_hex(want_basic, strlen(want_basic), sha), 0);
	(void) snprintf(realm, sizeof(realm), "%s/_token?%s%s%s", g_http, query,
			want_basic ? "&want_basic_sha256=" : "", sha);
	return registry_token_fetch(&c, scope_default, basic ? &creds : NULL, &tls, ret_token,
				    ret_why);
}

static void test_token_fetch(void **state)
{
	_cleanup_free_ char *token = NULL, *why = NULL;

	need_http();
	/* Anonymous: no Authorization header; service and scope as query parameters. */
	assert_int_equal(fetch(NULL, "want_service=reg&want_scope=repository:a/b:pull", "reg",
			       "repository:a/b:pull", NULL, NULL, &token, &why),
			 0);
	assert_string_equal(token, "good-token");
	free(token);
	token = NULL;

	/* With credentials: Basic; the scope is the default when the challenge has none, and
	 * characters that mean something in a query arrive intact. */
	assert_int_equal(fetch(AUTH_ALICE, "want_service=a%26b%3Dc%20d%2B&"
			       "want_scope=repository:x/y:pull,push",
			       "a&b=c d+", NULL, "repository:x/y:pull,push", AUTH_ALICE, &token,
			       &why),
			 0);
	assert_string_equal(token, "good-token");
	free(token);
	token = NULL;

	/* access_token instead of token. */
	assert_int_equal(fetch(NULL, "kind=access&want_service=s&want_scope=p", "s", "p", NULL, NULL,
			       &token, &why),
			 0);
	assert_string_equal(token, "good-token");
}

static void test_token_fetch_failures(void **state)
{
	_cleanup_free_ char *token = NULL, *why = NULL;

	need_http();
	/* The wrong password: 401 → -EACCES naming the endpoint and the file, not the secret. */
	assert_int_equal(fetch(AUTH_ALICE, "want_service=s&want_scope=p", "s", "p",
			       NULL, AUTH_BOB, &token, &why),
			 -EACCES);
	assert_non_null(strstr(why, "/_token"));
	assert_non_null(strstr(why, g_root));
	assert_null(strstr(why, AUTH_BOB));
	assert_null(token);
	free(why);
	why = NULL;

	/* Credentials the endpoint wanted but did not get: -EACCES too. */
	assert_int_equal(fetch(AUTH_ALICE, "want_service=s&want_scope=p", "s", "p",
			       NULL, NULL, &token, &why),
			 -EACCES);
	assert_non_null(strstr(why, "anonymous"));
	free(why);
	why = NULL;

	/* 403 and 500 */
	assert_int_equal(fetch(NULL, "status=403&want_service=s&want_scope=p", "s", "p", NULL, NULL,
			       &token, &why),
			 -EACCES);
	free(why);
	why = NULL;
	assert_int_equal(fetch(NULL, "status=500&want_service=s&want_scope=p", "s", "p", NULL, NULL,
			       &token, &why),
			 -EIO);
	assert_non_null(strstr(why, "500"));
	free(why);
	why = NULL;
	/* A 400 (the wrong service) is no token either. */
	assert_int_equal(fetch(NULL, "want_service=s&want_scope=p", "other", "p", NULL, NULL, &token,
			       &why),
			 -EIO);
	free(why);
	why = NULL;

	/* An answer without a token. */
	assert_int_equal(fetch(NULL, "kind=raw&raw=%7B%22token%22%3A%22a%20b%22%7D&want_service=s&"
			       "want_scope=p",
			       "s", "p", NULL, NULL, &token, &why),
			 -EBADMSG);
	assert_non_null(strstr(why, "token"));
	assert_null(token);
	free(why);
	why = NULL;

	/* Credentials never go to a plain-http endpoint that is not loopback. */
	{
		struct kts_registry_creds creds = { .basic = (char *) AUTH_ALICE };
		struct kts_auth_challenge c = { .scheme = KTS_AUTH_BEARER,
						.realm = (char *) "http://127.0.0.2:1/token" };

		assert_int_equal(registry_token_fetch(&c, "p", &creds, NULL, &token, &why), -EPERM);
		assert_null(strstr(why, AUTH_ALICE));
	}
}

/* Credentials and tokens never reach the log, even at debug level. */
static void test_secrets_never_logged(void **state)
{
	static const char *const secrets[] = { AUTH_ALICE, AUTH_BOB, "alice", "s3cret",
					       "hunter2", "good-token" };
	_cleanup_free_ char *token = NULL, *why = NULL;
	struct kts_registry_creds c = {};
	char log[400], buf[16384] = "";
	int saved, fd, level = log_get_max_level();
	struct paths p;
	ssize_t n;

	need_http();
	make_paths(&p);
	write_auths(p.env, HOST, AUTH_ALICE);
	tmpdir_write_file(p.xdg, "{\"auths\": {\"" HOST "\": {\"auth\": \"" AUTH_BOB "x\"}}}");
	(void) snprintf(log, sizeof(log), "%s/debug.log", g_root);
	fd = open(log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	log_set_max_level(LOG_DEBUG);

	assert_int_equal(registry_creds_find(HOST, &c, NULL, &why), 1);
	assert_int_equal(unsetenv("REGISTRY_AUTH_FILE"), 0);
	assert_int_equal(registry_creds_find(HOST, &c, NULL, &why), -EBADMSG);
	assert_non_null(strstr(why, p.xdg));
	free(why);
	why = NULL;
	assert_int_equal(fetch(AUTH_ALICE, "want_service=s&want_scope=p", "s", "p",
			       NULL, AUTH_ALICE, &token, &why),
			 0);
	assert_int_equal(fetch(AUTH_ALICE, "want_service=s&want_scope=p", "s", "p",
			       NULL, AUTH_BOB, &token, &why),
			 -EACCES);

	log_set_max_level(level);
	assert_int_equal(dup2(saved, 2), 2);
	(void) close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	(void) close(fd);
	assert_true(n > 0); /* the debug lines are there ... */
	assert_non_null(strstr(buf, p.env));
	for (size_t i = 0; i < ELEMENTSOF(secrets); i++) /* ... the secrets are not */
		if (strstr(buf, secrets[i]) || strstr(why, secrets[i]))
			fail_msg("'%s' was logged", secrets[i]);
	registry_creds_done(&c);
	remove_paths(&p);
}

/* ------------------------------------------------------------------ one connection */

/* registry_call() of url on r (mirror.py's /_echo): the connection number the request came
 * on, and its Authorization header ("" when it had none). */
static int call_echo(struct kts_registry *r, const char *url, char auth[128])
{
	_cleanup_(registry_call_done) struct registry_call c = { .url = url, .what = "the echo",
								 .max = 1 << 16 };
	_cleanup_free_ char *why = NULL;
	const char *conn, *a;
	int k = registry_call(r, &c, &why);

	if (k < 0)
		fail_msg("%s: %s", url, why ? why : strerror(-k));
	assert_int_equal(c.status, 200);
	assert_non_null(c.body_mem);
	conn = strstr(c.body_mem, "\"connection\": ");
	a = strstr(c.body_mem, "\"authorization\": ");
	assert_non_null(conn);
	assert_non_null(a);
	a += strlen("\"authorization\": ");
	auth[0] = '\0';
	if (*a == '"')
		(void) sscanf(a + 1, "%127[^\"]", auth);
	return atoi(conn + strlen("\"connection\": "));
}

/* A registry's requests share one kept-alive connection (its http_session), and its
 * credentials still go to its own origin only. */
static void test_registry_requests_share_a_connection(void **state)
{
	_cleanup_registry_ struct kts_registry *r = NULL;
	_cleanup_(registry_call_done) struct registry_call c = { 0 };
	_cleanup_free_ char *why = NULL;
	char remote[128], host[64], token_url[160], other[128], auth[128], sha[65];
	struct paths p;
	int conn;

	need_http();
	make_paths(&p);
	(void) snprintf(host, sizeof(host), "%s", g_http + strlen("http://"));
	write_auths(p.env, host, AUTH_ALICE);
	(void) snprintf(remote, sizeof(remote), "oci://%s/a/b", host);
	assert_int_equal(registry_open(&(struct kts_registry_opts) { .remote = remote }, &r, &why),
			 0);

	/* A 401 with a Basic challenge: the request once more, with the credentials. */
	assert_int_equal(hash_sha256_hex(AUTH_ALICE, strlen(AUTH_ALICE), sha), 0);
	(void) snprintf(token_url, sizeof(token_url), "/_token?want_basic_sha256=%s", sha);
	c = (struct registry_call) { .url = token_url, .what = "the token", .max = 1 << 16 };
	assert_int_equal(registry_call(r, &c, &why), 0);
	assert_int_equal(c.status, 200);

	conn = call_echo(r, "/_echo", auth);
	assert_string_equal(auth, "Basic " AUTH_ALICE);
	assert_int_equal(call_echo(r, "/_echo?again", auth), conn);
	assert_string_equal(auth, "Basic " AUTH_ALICE);

	/* Another origin (the same server by another name) gets no Authorization, on a
	 * connection of its own; the registry's own connection is still there after it. */
	(void) snprintf(other, sizeof(other), "http://localhost:%s/_echo", strchr(host, ':') + 1);
	assert_int_not_equal(call_echo(r, other, auth), conn);
	assert_string_equal(auth, "");
	assert_int_equal(call_echo(r, "/_echo", auth), conn);
	assert_string_equal(auth, "Basic " AUTH_ALICE);
	remove_paths(&p);
}

/* ------------------------------------------------------------------ setup */

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char www[300];

	(void) snprintf(g_root, sizeof(g_root), "%s/ktscope-test-registry-auth.XXXXXX",
			tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(g_root))
		return -1;
	(void) snprintf(www, sizeof(www), "%s/www", g_root);
	if (mkdir(www, 0755) < 0)
		return -1;
	(void) unsetenv("KTSCOPE_CA_CERT");
	if (test_server_start(www, NULL, NULL, &g_http_pid, g_http, sizeof(g_http)) < 0)
		(void) fprintf(stderr, "# python3 not available: the token tests will be skipped\n");
	return 0;
}

static int group_teardown(void **state)
{
	test_server_stop(&g_http_pid);
	(void) nftw(g_root, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_creds_search_order),
		cmocka_unit_test(test_creds_malformed_file_is_named),
		cmocka_unit_test(test_creds_key_normalisation),
		cmocka_unit_test(test_creds_base64_validation),
		cmocka_unit_test(test_creds_helpers_are_skipped),
		cmocka_unit_test(test_creds_parse_raw_bytes),
		cmocka_unit_test(test_challenge_shapes),
		cmocka_unit_test(test_token_answers),
		cmocka_unit_test(test_token_fetch),
		cmocka_unit_test(test_token_fetch_failures),
		cmocka_unit_test(test_secrets_never_logged),
		cmocka_unit_test(test_registry_requests_share_a_connection),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
