/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-registry-auth: what a registry and the user's files say about authentication,
 * through registry-auth.c's three parsers. The first byte picks one ('c' % 3 == 0, 'a' % 3
 * == 1, 't' % 3 == 2 in the seeds), the rest is its input:
 *   0: a WWW-Authenticate value (registry_challenge_parse),
 *   1: a credentials file (registry_creds_parse, for two hosts),
 *   2: a token endpoint's answer (registry_token_parse).
 * What they accept must be safe to use: an http(s) realm for a bearer challenge, no control
 * characters but tab in any parameter, base64 for basic credentials, a token that fits an
 * Authorization header; what they refuse, refused with the documented error.
 */
#include <errno.h>
#include <strings.h>

#include "fuzz.h"
#include "macro.h"
#include "registry-internal.h"

static void assert_no_controls(const char *s)
{
	for (const unsigned char *p = (const unsigned char *) s; p && *p; p++)
		FUZZ_ASSERT(*p >= 0x20 || *p == '\t');
	FUZZ_ASSERT(!s || !strchr(s, 0x7f));
}

static void check_challenge(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = fuzz_strndup(data, size);
	struct kts_auth_challenge c = {}, again = {};
	int r = registry_challenge_parse(s, &c);

	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r < 0) {
		FUZZ_ASSERT(!c.realm && !c.service && !c.scope && !c.error);
		return;
	}
	FUZZ_ASSERT(c.scheme == KTS_AUTH_BASIC || c.scheme == KTS_AUTH_BEARER);
	if (c.scheme == KTS_AUTH_BEARER)
		FUZZ_ASSERT(c.realm && ((strncasecmp(c.realm, "https://", 8) == 0 && c.realm[8]) ||
					(strncasecmp(c.realm, "http://", 7) == 0 && c.realm[7])));
	assert_no_controls(c.realm);
	assert_no_controls(c.service);
	assert_no_controls(c.scope);
	assert_no_controls(c.error);
	/* The same value, the same challenge. */
	FUZZ_ASSERT(registry_challenge_parse(s, &again) == 0 && again.scheme == c.scheme);
	FUZZ_ASSERT(!c.realm == !again.realm && (!c.realm || streq(c.realm, again.realm)));
	registry_challenge_done(&again);
	registry_challenge_done(&c);
}

static void check_creds(const uint8_t *data, size_t size, const char *host)
{
	_cleanup_free_ char *basic = NULL, *why = NULL;
	int r = registry_creds_parse((const char *) data, size, host, &basic, &why);
	size_t n;

	FUZZ_ASSERT(r == 0 || r == 1 || (r == -EBADMSG && fuzz_printable(why)));
	FUZZ_ASSERT((r == 1) == !!basic);
	if (r != 1)
		return;
	/* Canonical base64, safe to put into a header. */
	n = strlen(basic);
	FUZZ_ASSERT(n > 0 && n % 4 == 0);
	FUZZ_ASSERT(strspn(basic,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
		    n);
}

static void check_token(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *token = NULL;
	int r = registry_token_parse((const char *) data, size, &token);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	FUZZ_ASSERT((r == 0) == !!token);
	if (r < 0)
		return;
	FUZZ_ASSERT(*token);
	for (const char *p = token; *p; p++)
		FUZZ_ASSERT(*p > ' ' && *p <= '~');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		check_challenge(data + 1, size - 1);
		break;
	case 1:
		check_creds(data + 1, size - 1, "reg.example:5000");
		check_creds(data + 1, size - 1, "localhost");
		break;
	default:
		check_token(data + 1, size - 1);
		break;
	}
	return 0;
}
