/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "macro.h"

#define WORD_BITS 64U

void cpuset_done(struct kts_cpuset *s)
{
	if (!s)
		return;
	free(s->words);
	s->words = NULL;
	s->nwords = 0;
}

static int grow(struct kts_cpuset *s, size_t nwords)
{
	uint64_t *w;

	if (nwords <= s->nwords)
		return 0;
	w = realloc(s->words, nwords * sizeof(*w));
	if (!w)
		return -ENOMEM;
	memset(w + s->nwords, 0, (nwords - s->nwords) * sizeof(*w));
	s->words = w;
	s->nwords = nwords;
	return 0;
}

int cpuset_add(struct kts_cpuset *s, unsigned cpu)
{
	int r;

	if (cpu >= KTS_CPU_MAX)
		return -ERANGE;
	r = grow(s, cpu / WORD_BITS + 1);
	if (r < 0)
		return r;
	s->words[cpu / WORD_BITS] |= UINT64_C(1) << (cpu % WORD_BITS);
	return 0;
}

int cpuset_add_range(struct kts_cpuset *s, unsigned first, unsigned last)
{
	int r;

	if (first > last)
		return -EINVAL;
	if (last >= KTS_CPU_MAX)
		return -ERANGE;
	r = grow(s, last / WORD_BITS + 1);
	if (r < 0)
		return r;
	for (unsigned c = first; c <= last; c++)
		s->words[c / WORD_BITS] |= UINT64_C(1) << (c % WORD_BITS);
	return 0;
}

void cpuset_del(struct kts_cpuset *s, unsigned cpu)
{
	if (cpu / WORD_BITS < s->nwords)
		s->words[cpu / WORD_BITS] &= ~(UINT64_C(1) << (cpu % WORD_BITS));
}

void cpuset_clear(struct kts_cpuset *s)
{
	if (s->nwords)
		memset(s->words, 0, s->nwords * sizeof(*s->words));
}

bool cpuset_has(const struct kts_cpuset *s, unsigned cpu)
{
	if (cpu / WORD_BITS >= s->nwords)
		return false;
	return s->words[cpu / WORD_BITS] & (UINT64_C(1) << (cpu % WORD_BITS));
}

unsigned cpuset_count(const struct kts_cpuset *s)
{
	unsigned n = 0;

	for (size_t i = 0; i < s->nwords; i++)
		n += (unsigned) __builtin_popcountll(s->words[i]);
	return n;
}

unsigned cpuset_count_and(const struct kts_cpuset *a, const struct kts_cpuset *b)
{
	unsigned n = 0;

	for (size_t i = 0; i < MIN(a->nwords, b->nwords); i++)
		n += (unsigned) __builtin_popcountll(a->words[i] & b->words[i]);
	return n;
}

bool cpuset_empty(const struct kts_cpuset *s)
{
	for (size_t i = 0; i < s->nwords; i++)
		if (s->words[i])
			return false;
	return true;
}

int cpuset_next(const struct kts_cpuset *s, int after)
{
	unsigned start = (unsigned) (after + 1);
	size_t i = start / WORD_BITS;
	uint64_t w;

	if (after < -1 || i >= s->nwords)
		return -1;
	w = s->words[i] & (~UINT64_C(0) << (start % WORD_BITS));
	for (;;) {
		if (w)
			return (int) (i * WORD_BITS + (unsigned) __builtin_ctzll(w));
		if (++i >= s->nwords)
			return -1;
		w = s->words[i];
	}
}

int cpuset_last(const struct kts_cpuset *s)
{
	for (size_t i = s->nwords; i > 0; i--)
		if (s->words[i - 1])
			return (int) ((i - 1) * WORD_BITS + 63U - (unsigned) __builtin_clzll(s->words[i - 1]));
	return -1;
}

int cpuset_copy(struct kts_cpuset *dst, const struct kts_cpuset *src)
{
	int r;

	if (dst == src)
		return 0;
	r = grow(dst, src->nwords);
	if (r < 0)
		return r;
	cpuset_clear(dst);
	if (src->nwords)
		memcpy(dst->words, src->words, src->nwords * sizeof(*src->words));
	return 0;
}

enum op { OP_AND, OP_OR, OP_SUB };

static int combine(struct kts_cpuset *dst, const struct kts_cpuset *a, const struct kts_cpuset *b,
		   enum op op)
{
	size_t n = MAX(a->nwords, b->nwords);
	int r;

	/* Growing dst may move a or b when they alias it; remember which. */
	bool da = dst == a, db = dst == b;
	r = grow(dst, n);
	if (r < 0)
		return r;
	if (da)
		a = dst;
	if (db)
		b = dst;
	for (size_t i = 0; i < dst->nwords; i++) {
		uint64_t x = i < a->nwords ? a->words[i] : 0;
		uint64_t y = i < b->nwords ? b->words[i] : 0;

		switch (op) {
		case OP_AND:
			dst->words[i] = x & y;
			break;
		case OP_OR:
			dst->words[i] = x | y;
			break;
		case OP_SUB:
			dst->words[i] = x & ~y;
			break;
		}
	}
	return 0;
}

int cpuset_and(struct kts_cpuset *dst, const struct kts_cpuset *a, const struct kts_cpuset *b)
{
	return combine(dst, a, b, OP_AND);
}

int cpuset_or(struct kts_cpuset *dst, const struct kts_cpuset *a, const struct kts_cpuset *b)
{
	return combine(dst, a, b, OP_OR);
}

int cpuset_sub(struct kts_cpuset *dst, const struct kts_cpuset *a, const struct kts_cpuset *b)
{
	return combine(dst, a, b, OP_SUB);
}

bool cpuset_equal(const struct kts_cpuset *a, const struct kts_cpuset *b)
{
	size_t n = MAX(a->nwords, b->nwords);

	for (size_t i = 0; i < n; i++) {
		uint64_t x = i < a->nwords ? a->words[i] : 0;
		uint64_t y = i < b->nwords ? b->words[i] : 0;
		if (x != y)
			return false;
	}
	return true;
}

bool cpuset_is_subset(const struct kts_cpuset *sub, const struct kts_cpuset *super)
{
	for (size_t i = 0; i < sub->nwords; i++) {
		uint64_t y = i < super->nwords ? super->words[i] : 0;
		if (sub->words[i] & ~y)
			return false;
	}
	return true;
}

/* Parses one decimal number at *p, advancing it; digits only, < KTS_CPU_MAX. */
static int parse_num(const char **p, unsigned *ret)
{
	unsigned long v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char) *s))
		return -EINVAL;
	while (isdigit((unsigned char) *s)) {
		v = v * 10 + (unsigned long) (*s - '0');
		if (v >= KTS_CPU_MAX) {
			/* Consume the rest of the digits so the error is about range. */
			return -ERANGE;
		}
		s++;
	}
	*p = s;
	*ret = (unsigned) v;
	return 0;
}

int cpuset_parse(const char *str, struct kts_cpuset *ret)
{
	struct kts_cpuset s = KTS_CPUSET_INIT;
	const char *p = str;
	size_t len;
	int r;

	if (!str)
		return -EINVAL;
	len = strlen(str);
	if (len > 0 && str[len - 1] == '\n')
		len--;
	if (len == 0) {
		cpuset_done(ret);
		*ret = s;
		return 0;
	}

	for (;;) {
		unsigned a, b;

		r = parse_num(&p, &a);
		if (r < 0)
			goto fail;
		b = a;
		if (*p == '-') {
			p++;
			r = parse_num(&p, &b);
			if (r < 0)
				goto fail;
			if (b < a) {
				r = -EINVAL;
				goto fail;
			}
		}
		r = cpuset_add_range(&s, a, b);
		if (r < 0)
			goto fail;
		if ((size_t) (p - str) == len)
			break;
		if (*p != ',') {
			r = -EINVAL;
			goto fail;
		}
		p++;
	}

	cpuset_done(ret);
	*ret = s;
	return 0;
fail:
	cpuset_done(&s);
	return r;
}

int cpuset_format(const struct kts_cpuset *s, char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	bool first = true;

	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	for (int c = cpuset_next(s, -1); c >= 0;) {
		int end = c;

		while (cpuset_has(s, (unsigned) end + 1))
			end++;
		fprintf(f, first ? "%d" : ",%d", c);
		if (end > c)
			fprintf(f, "-%d", end);
		first = false;
		c = cpuset_next(s, end);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

char *cpuset_display(const struct kts_cpuset *s)
{
	char *str = NULL;

	if (cpuset_format(s, &str) < 0 || !str)
		return strdup("?");
	if (!*str) {
		free(str);
		return strdup("-");
	}
	return str;
}

int cpuset_to_bitmask(const struct kts_cpuset *s, uint8_t **ret, size_t *ret_len)
{
	int last = cpuset_last(s);
	size_t len = last < 0 ? 0 : (size_t) last / 8 + 1;
	uint8_t *buf;

	buf = calloc(len ? len : 1, 1);
	if (!buf)
		return -ENOMEM;
	CPUSET_FOREACH(c, s)
		buf[c / 8] |= (uint8_t) (1U << (c % 8));
	*ret = buf;
	*ret_len = len;
	return 0;
}

int cpuset_from_bitmask(const uint8_t *buf, size_t len, struct kts_cpuset *ret)
{
	struct kts_cpuset s = KTS_CPUSET_INIT;
	int r;

	for (size_t i = 0; i < len; i++)
		for (unsigned j = 0; j < 8; j++)
			if (buf[i] & (1U << j)) {
				r = cpuset_add(&s, (unsigned) (i * 8 + j));
				if (r < 0) {
					cpuset_done(&s);
					return r;
				}
			}
	cpuset_done(ret);
	*ret = s;
	return 0;
}
