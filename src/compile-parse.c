/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The text ccache and the user hand to the compile module (compile.h), read strictly and
 * without I/O: KTSCOPE_CCACHE's value, a --ccache-remote URL (and the same URL without
 * its credentials, the only form ktscope ever shows or stores), `ccache --version`,
 * `ccache --show-config`, and a build's CCACHE_STATSLOG. A fuzzer (fuzz/fuzz-ccache-stats.c)
 * feeds the parsers of ccache's output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "macro.h"

/* ---------------------------------------------------------------- the request */

int compile_ccache_env(const char *value, bool *ret_on, const char **ret_dir)
{
	if (!value || !*value || streq(value, "0") || streq(value, "no")) {
		*ret_on = false;
		*ret_dir = NULL;
		return 0;
	}
	if (streq(value, "1") || streq(value, "yes")) {
		*ret_on = true;
		*ret_dir = NULL;
		return 0;
	}
	if (value[0] != '/')
		return -EINVAL;
	*ret_on = true;
	*ret_dir = value;
	return 0;
}

int compile_remote_scheme(const char *url, char ret[static 16])
{
	size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyz+");

	if (n == 0 || n >= 16 || url[n] != ':')
		return -EINVAL;
	memcpy(ret, url, n);
	ret[n] = 0;
	return 0;
}

/* The URL with "user:password@" cut out of the authority (after "//", before / ? # |). */
static char *url_shown(const char *url)
{
	const char *auth = strstr(url, "://"), *end, *at;
	char *out;

	if (!auth)
		return strdup(url);
	auth += 3;
	end = auth + strcspn(auth, "/?#|");
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return strdup(url);
	out = malloc(strlen(url) + 1);
	if (!out)
		return NULL;
	memcpy(out, url, (size_t) (auth - url));
	strcpy(out + (auth - url), at + 1);
	return out;
}

int compile_remote_check(const char *url, char **ret_shown)
{
	static const char *const schemes[] = { "file", "http", "https", "redis", "redis+unix" };
	char scheme[16];
	bool known = false;

	if (ret_shown) {
		*ret_shown = url_shown(url);
		if (!*ret_shown)
			return -ENOMEM;
	}
	if (compile_remote_scheme(url, scheme) < 0)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
		known = known || streq(scheme, schemes[i]);
	if (!known || !url[strlen(scheme) + 1])
		return -EINVAL;
	/* One URL: ccache would take a space as the start of a second one. */
	for (const unsigned char *p = (const unsigned char *) url; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return -EINVAL;
	return 0;
}

/* ---------------------------------------------------------------- ccache's output */

/* The line of text[0..len) starting at *pos (without its '\n'); false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **ret, size_t *ret_n)
{
	const char *nl;

	if (*pos >= len)
		return false;
	*ret = text + *pos;
	nl = memchr(*ret, '\n', len - *pos);
	*ret_n = nl ? (size_t) (nl - *ret) : len - *pos;
	*pos += *ret_n + 1;
	return true;
}

static bool is_version(const char *s, size_t n)
{
	bool digit = false;

	for (size_t i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digit = true;
		else if (s[i] != '.' || !digit)
			return false;
		else
			digit = false;
	}
	return digit;
}

int compile_version_parse(const char *text, size_t len, char **ret_version, char **ret_features)
{
	static const char prefix[] = "ccache version ";
	const size_t plen = sizeof(prefix) - 1;
	const char *l;
	size_t n, pos = 0;
	_cleanup_free_ char *v = NULL, *f = NULL;

	if (memchr(text, 0, len) || !next_line(text, len, &pos, &l, &n) || n < plen ||
	    memcmp(l, prefix, plen) != 0 || n - plen > 32 || !is_version(l + plen, n - plen))
		return -EBADMSG;
	v = strndup(l + plen, n - plen);
	if (!v)
		return -ENOMEM;
	while (!f && next_line(text, len, &pos, &l, &n)) {
		size_t skip = 9;

		if (n < 9 || memcmp(l, "Features:", 9) != 0)
			continue;
		while (skip < n && l[skip] == ' ')
			skip++;
		f = strndup(l + skip, n - skip);
		if (!f)
			return -ENOMEM;
	}
	if (!f && !(f = strdup("")))
		return -ENOMEM;
	*ret_version = TAKE_PTR(v);
	*ret_features = TAKE_PTR(f);
	return 0;
}

int compile_version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		unsigned long x = strtoul(a, (char **) &a, 10), y = strtoul(b, (char **) &b, 10);

		if (x != y)
			return x < y ? -1 : 1;
		a += *a == '.';
		b += *b == '.';
	}
	return 0;
}

#define CONFIG_TEXT_MAX ((size_t) 64 << 10)

int compile_config_parse(const char *text, size_t len, const char *key, char **ret_value,
			 bool *ret_default)
{
	size_t klen = strlen(key), pos = 0, n;
	const char *l;

	if (len > CONFIG_TEXT_MAX || memchr(text, 0, len))
		return -EBADMSG;
	while (next_line(text, len, &pos, &l, &n)) {
		const char *close, *rest;
		size_t left;

		if (n == 0)
			continue;
		/* "(ORIGIN) key = VALUE"; ORIGIN may be a path with spaces, not a ')'. */
		close = l[0] == '(' ? memchr(l, ')', n) : NULL;
		if (!close || (size_t) (close - l) + 2 > n || close[1] != ' ')
			return -EBADMSG;
		rest = close + 2;
		left = n - (size_t) (rest - l);
		if (left < klen + 3 || memcmp(rest, key, klen) != 0 ||
		    memcmp(rest + klen, " = ", 3) != 0)
			continue;
		*ret_value = strndup(rest + klen + 3, left - klen - 3);
		if (!*ret_value)
			return -ENOMEM;
		*ret_default = close - l == 8 && memcmp(l, "(default", 8) == 0;
		return 0;
	}
	return -ENOENT;
}

/* ccache 4.7's counters (src/core/Statistics.cpp) that mean "not cacheable" or "error". */
static const char *const uncacheable_counters[] = {
	"autoconf_test", "bad_compiler_arguments", "called_for_link", "called_for_preprocessing",
	"compile_failed", "compiler_produced_empty_output", "compiler_produced_no_output",
	"compiler_produced_stdout", "could_not_use_modules", "could_not_use_precompiled_header",
	"multiple_source_files", "no_input_file", "output_to_stdout", "preprocessor_error",
	"recache", "unsupported_code_directive", "unsupported_compiler_option",
	"unsupported_environment_variable", "unsupported_source_language",
};
static const char *const error_counters[] = {
	"bad_output_file", "compiler_check_failed", "could_not_find_compiler",
	"error_hashing_extra_file", "internal_error", "missing_cache_file",
	"remote_storage_error", "remote_storage_timeout",
};

static bool in_list(const char *const *list, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
			return true;
	return false;
}

static bool counter_is(const char *s, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(s, name, n) == 0;
}

/* Counts one counter line into s. */
static void count(struct kts_compile_stats *s, const char *l, size_t n)
{
	if (counter_is(l, n, "direct_cache_hit"))
		s->direct_hits++;
	else if (counter_is(l, n, "preprocessed_cache_hit"))
		s->preprocessed_hits++;
	else if (counter_is(l, n, "cache_miss"))
		s->misses++;
	else if (counter_is(l, n, "remote_storage_hit"))
		s->remote_hits++;
	else if (in_list(uncacheable_counters, ELEMENTSOF(uncacheable_counters), l, n))
		s->uncacheable++;
	else if (in_list(error_counters, ELEMENTSOF(error_counters), l, n))
		s->errors++;
}

int compile_stats_parse(const char *text, size_t len, struct kts_compile_stats *ret)
{
	struct kts_compile_stats s = { .present = true };
	size_t pos = 0, n;
	const char *l;

	if (len > COMPILE_STATS_MAX || memchr(text, 0, len))
		return -EBADMSG;
	while (next_line(text, len, &pos, &l, &n)) {
		if (n > 0 && l[0] == '#')
			continue;
		if (n == 0 || n > 64)
			return -EBADMSG;
		for (size_t i = 0; i < n; i++)
			if (!((l[i] >= 'a' && l[i] <= 'z') || (l[i] >= '0' && l[i] <= '9') ||
			      l[i] == '_'))
				return -EBADMSG;
		count(&s, l, n);
	}
	*ret = s;
	return 0;
}
