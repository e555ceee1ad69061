// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Text (util.h): UTF-8 sequence validation (kconfig.c's text check), the repair of
 * arbitrary bytes into valid UTF-8 (progress.c's NDJSON: JSON is UTF-8, paths are bytes),
 * and foreign text made safe for a one-line message (lock.c's command lines, the values a
 * corrupt metadata.json or job file is refused for).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "util.h"

/* Length of the UTF-8 sequence at s (1..4), or 0 when it is malformed or overlong. */
size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f; /* > U+10FFFF */
	} else
		return 0;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

char *utf8_sanitize(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t n, len = 0;
	char *out;

	if (!s)
		return NULL;
	n = strlen(s);
	/* Worst case: every byte becomes the 3-byte U+FFFD. */
	out = malloc(3 * n + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq_len(p + i, n - i);

		if (k == 0) {
			memcpy(out + len, "\xef\xbf\xbd", 3);
			len += 3;
			i++;
			continue;
		}
		memcpy(out + len, p + i, k);
		len += k;
		i += k;
	}
	out[len] = '\0';
	return out;
}

/* C0 controls, DEL and the C1 controls (U+0080..U+009F, "\xc2\x80".."\xc2\x9f"). */
static bool is_control(const unsigned char *p, size_t k)
{
	return (k == 1 && (p[0] < 0x20 || p[0] == 0x7f)) || (k == 2 && p[0] == 0xc2 && p[1] < 0xa0);
}

char *utf8_printable(const char *s, size_t n, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t len = 0, chars = 0, i = 0;
	char *out;

	if (!s)
		return NULL;
	/* Worst case: every byte becomes the 3-byte U+FFFD, then "…". */
	out = malloc(3 * MIN(n, 4 * max_chars) + sizeof("…"));
	if (!out)
		return NULL;
	for (; i < n && chars < max_chars; chars++) {
		size_t k = utf8_seq_len(p + i, n - i);

		if (k == 0) {
			memcpy(out + len, "\xef\xbf\xbd", 3);
			len += 3;
			i++;
		} else if (is_control(p + i, k)) {
			out[len++] = '?';
			i += k;
		} else {
			memcpy(out + len, p + i, k);
			len += k;
			i += k;
		}
	}
	if (i < n) {
		memcpy(out + len, "…", sizeof("…"));
		return out;
	}
	out[len] = '\0';
	return out;
}
