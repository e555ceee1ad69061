/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel configuration lines: parse, merge with provenance, skip check,
 * survived/dropped report, validation. See kconfig.h for the contracts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "hash.h"
#include "kconfig.h"
#include "log.h"
#include "macro.h"
#include "util.h"

/* Generated from src/ktscope.kconfig by the Makefile: static const char kconfig_fragment[]. */
#include "ktscope-kconfig.h"

const char *const kconfig_critical_symbols[KCONFIG_N_CRITICAL] = {
	"CONFIG_SCHED_CLASS_EXT", "CONFIG_BPF_SYSCALL", "CONFIG_DEBUG_INFO_BTF",
	"CONFIG_FTRACE",	  "CONFIG_KPROBE_EVENTS", "CONFIG_BPF_EVENTS",
};

/* --- lines and sets --- */

static void line_free(struct kts_kconfig_line *l)
{
	free(l->symbol);
	free(l->value);
	free(l->source);
	*l = (struct kts_kconfig_line){ 0 };
}

void kconfig_done(struct kts_kconfig *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		line_free(&c->lines[i]);
	free(c->lines);
	*c = KTS_KCONFIG_INIT;
}

static const struct kts_kconfig_line *find_line(const struct kts_kconfig *c, const char *symbol)
{
	for (size_t i = 0; i < c->n; i++)
		if (streq(c->lines[i].symbol, symbol))
			return &c->lines[i];
	return NULL;
}

const struct kts_kconfig_line *kconfig_get(const struct kts_kconfig *c, const char *symbol)
{
	return c && symbol ? find_line(c, symbol) : NULL;
}

bool kconfig_line_is_off(const struct kts_kconfig_line *l)
{
	return !l->value || streq(l->value, "n");
}

const char *kconfig_line_value(const struct kts_kconfig_line *l)
{
	return l->value ?: KCONFIG_OFF_TEXT;
}

/* Same effective request: equal value text, or both off. */
static bool line_same_value(const struct kts_kconfig_line *a, const struct kts_kconfig_line *b)
{
	if (kconfig_line_is_off(a) || kconfig_line_is_off(b))
		return kconfig_line_is_off(a) && kconfig_line_is_off(b);
	return streq(a->value, b->value);
}

bool kconfig_line_holds(const struct kts_kconfig_line *want, const struct kts_kconfig *have)
{
	const struct kts_kconfig_line *h = find_line(have, want->symbol);

	if (kconfig_line_is_off(want))
		return !h || kconfig_line_is_off(h);
	return h && !kconfig_line_is_off(h) && streq(h->value, want->value);
}

static int grow(struct kts_kconfig *c)
{
	struct kts_kconfig_line *n;
	size_t na;

	if (c->n < c->allocated)
		return 0;
	na = c->allocated ? c->allocated * 2 : 64;
	n = reallocarray(c->lines, na, sizeof(*n));
	if (!n)
		return -ENOMEM;
	c->lines = n;
	c->allocated = na;
	return 0;
}

/*
 * Adds *l to c, or replaces the line for the same symbol in place (last one
 * wins, first position kept). Takes the strings of *l and clears it on success.
 */
static int kconfig_put(struct kts_kconfig *c, struct kts_kconfig_line *l)
{
	for (size_t i = 0; i < c->n; i++)
		if (streq(c->lines[i].symbol, l->symbol)) {
			line_free(&c->lines[i]);
			c->lines[i] = *l;
			*l = (struct kts_kconfig_line){ 0 };
			return 0;
		}
	if (grow(c) < 0)
		return -ENOMEM;
	c->lines[c->n++] = *l;
	*l = (struct kts_kconfig_line){ 0 };
	return 0;
}

static int cmp_line_index(const void *a, const void *b, void *userdata)
{
	const struct kts_kconfig_line *lines = userdata;
	size_t i = *(const size_t *) a, j = *(const size_t *) b;
	int k = strcmp(lines[i].symbol, lines[j].symbol);

	return k != 0 ? k : (i > j) - (i < j);
}

/*
 * Gives c unique symbols the way kconfig_put() would have, in O(n log n): a
 * .config can have ten thousand lines and is parsed on every build.
 */
static int dedup_last_wins(struct kts_kconfig *c)
{
	_cleanup_free_ size_t *idx = NULL;
	size_t out = 0;

	if (c->n < 2)
		return 0;
	idx = reallocarray(NULL, c->n, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++)
		idx[i] = i;
	qsort_r(idx, c->n, sizeof(*idx), cmp_line_index, c->lines);

	for (size_t s = 0, e; s < c->n; s = e) {
		for (e = s + 1; e < c->n && streq(c->lines[idx[e]].symbol, c->lines[idx[s]].symbol);
		     e++)
			;
		if (e - s == 1)
			continue;
		/* The last value wins, at the position of the first line. */
		line_free(&c->lines[idx[s]]);
		c->lines[idx[s]] = c->lines[idx[e - 1]];
		c->lines[idx[e - 1]] = (struct kts_kconfig_line){ 0 };
		for (size_t k = s + 1; k < e - 1; k++)
			line_free(&c->lines[idx[k]]);
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->lines[i].symbol)
			c->lines[out++] = c->lines[i];
	c->n = out;
	return 0;
}

/* --- parsing --- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_sym_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '_';
}

static bool is_digits(const char *s, size_t n, bool hex)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!(ch >= '0' && ch <= '9') &&
		    !(hex && ((ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))))
			return false;
	}
	return true;
}

/*
 * The value shapes kconfig writes: y/m/n, "string" with \" and \\ escapes, int,
 * and hex with or without "0x" (it keeps a hex default as the Kconfig file spells
 * it: allyesconfig has CONFIG_RADIO_GEMTEK_PORT=34c).
 */
static bool value_valid(const char *v, size_t n)
{
	/* "CONFIG_X=" ending the text: v is one past its end, not a byte to look at. */
	if (n == 0)
		return false;
	if (n == 1 && (v[0] == 'y' || v[0] == 'm' || v[0] == 'n'))
		return true;
	if (n >= 2 && v[0] == '"') {
		for (size_t i = 1; i < n; i++) {
			if (v[i] == '\\') {
				i++;
				continue;
			}
			if (v[i] == '"')
				return i == n - 1;
		}
		return false; /* unterminated */
	}
	if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		return is_digits(v + 2, n - 2, true);
	if (v[0] == '-')
		return is_digits(v + 1, n - 1, false);
	return is_digits(v, n, true);
}

/* Length of "CONFIG_[A-Za-z0-9_]+" at s (within n), or 0 when s does not start with one. */
static size_t symbol_len(const char *s, size_t n)
{
	static const char prefix[] = "CONFIG_";
	size_t i = sizeof(prefix) - 1;

	if (n <= i || memcmp(s, prefix, i) != 0)
		return 0;
	while (i < n && is_sym_char(s[i]))
		i++;
	return i > sizeof(prefix) - 1 ? i : 0;
}

/*
 * One trimmed line. 1 and *ret_symbol, *ret_value set for an assignment, 0 for
 * a comment or blank, -EBADMSG for anything else.
 */
static int parse_line(const char *s, size_t n, char **ret_symbol, char **ret_value)
{
	_cleanup_free_ char *sym = NULL, *val = NULL;
	size_t k, i;

	if (n == 0)
		return 0;
	if (s[0] == '#') {
		/* "# CONFIG_X is not set"; any other comment is ignored, as kconfig does. */
		for (i = 1; i < n && is_blank(s[i]); i++)
			;
		k = symbol_len(s + i, n - i);
		if (k == 0 || i + k >= n || !is_blank(s[i + k]))
			return 0;
		size_t j = i + k;
		while (j < n && is_blank(s[j]))
			j++;
		if (n - j != strlen(KCONFIG_OFF_TEXT) || memcmp(s + j, KCONFIG_OFF_TEXT, n - j) != 0)
			return 0;
		sym = strndup(s + i, k);
		if (!sym)
			return -ENOMEM;
		*ret_symbol = TAKE_PTR(sym);
		*ret_value = NULL;
		return 1;
	}

	k = symbol_len(s, n);
	if (k == 0 || k >= n || s[k] != '=' || !value_valid(s + k + 1, n - k - 1))
		return -EBADMSG;
	sym = strndup(s, k);
	val = strndup(s + k + 1, n - k - 1);
	if (!sym || !val)
		return -ENOMEM;
	*ret_symbol = TAKE_PTR(sym);
	*ret_value = TAKE_PTR(val);
	return 1;
}

static unsigned line_of_offset(const char *text, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

int kconfig_parse(const char *text, size_t len, const char *source, struct kts_kconfig *ret,
		  char **ret_why)
{
	_cleanup_kconfig_ struct kts_kconfig c = KTS_KCONFIG_INIT;
	const char *nul = memchr(text, '\0', len);
	unsigned lineno = 0;
	int r;

	if (nul)
		return why_set(ret_why, -EBADMSG, "%s:%u: NUL byte", source,
			       line_of_offset(text, (size_t) (nul - text)));

	for (size_t pos = 0; pos < len;) {
		const char *s = text + pos, *eol = memchr(s, '\n', len - pos);
		size_t n = eol ? (size_t) (eol - s) : len - pos;
		struct kts_kconfig_line l = { 0 };

		pos += n + (eol ? 1 : 0);
		lineno++;
		while (n > 0 && (is_blank(s[n - 1]) || s[n - 1] == '\r'))
			n--;
		while (n > 0 && is_blank(s[0]))
			s++, n--;

		r = parse_line(s, n, &l.symbol, &l.value);
		if (r == -EBADMSG) {
			/* The line is foreign text: shown printable and cut, on one line. */
			_cleanup_free_ char *shown = utf8_printable(s, n, 80);

			return why_set(ret_why, r, "%s:%u: not a kconfig assignment or comment: '%s'",
				       source, lineno, strempty(shown));
		}
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		l.lineno = lineno;
		l.source = strdup(source);
		if (!l.source) {
			line_free(&l);
			return -ENOMEM;
		}
		/* Appended as is; duplicates are resolved once at the end. */
		if (grow(&c) < 0) {
			line_free(&l);
			return -ENOMEM;
		}
		c.lines[c.n++] = l;
	}

	r = dedup_last_wins(&c);
	if (r < 0)
		return r;
	*ret = c;
	c = KTS_KCONFIG_INIT;
	return 0;
}

/* --- files --- */

/*
 * Reads a whole regular file, NUL-terminated. -EISDIR for a directory,
 * -EINVAL for other non-regular files (a FIFO cannot hang us),
 * -EFBIG past KCONFIG_MAX_FILE_SIZE.
 */
static int read_file(const char *path, char **ret, size_t *ret_len)
{
	return read_full_file_at(AT_FDCWD, path, READ_FULL_REGULAR, KCONFIG_MAX_FILE_SIZE, ret,
				 ret_len);
}

/*
 * Text means UTF-8 without NUL or control characters other than tab, LF, VT,
 * FF and CR. -EILSEQ with *ret_why naming what and where otherwise.
 */
static int check_text(const char *path, const char *buf, size_t len, char **ret_why)
{
	const unsigned char *s = (const unsigned char *) buf;

	for (size_t i = 0; i < len;) {
		size_t k;

		if (s[i] == 0)
			return why_set(ret_why, -EILSEQ, "'%s' is binary (NUL byte on line %u)", path,
				       line_of_offset(buf, i));
		if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\v' && s[i] != '\f' &&
		     s[i] != '\r') ||
		    s[i] == 0x7f)
			return why_set(ret_why, -EILSEQ,
				       "'%s' is binary (control character 0x%02x on line %u)", path,
				       s[i], line_of_offset(buf, i));
		k = utf8_seq_len(s + i, len - i);
		if (k == 0)
			return why_set(ret_why, -EILSEQ,
				       "'%s' is binary (byte 0x%02x on line %u is not UTF-8 text)", path,
				       s[i], line_of_offset(buf, i));
		i += k;
	}
	return 0;
}

static int file_error(const char *what, const char *path, int r, char **ret_why)
{
	switch (r) {
	case -ENOENT:
		return why_set(ret_why, r, "%s '%s' does not exist", what, path);
	case -EISDIR:
		return why_set(ret_why, r, "%s '%s' is a directory, not a file", what, path);
	case -EINVAL:
		return why_set(ret_why, r, "%s '%s' is not a regular file", what, path);
	case -EFBIG:
		return why_set(ret_why, r, "%s '%s' is larger than %u MiB", what, path,
			       KCONFIG_MAX_FILE_SIZE / (1024U * 1024U));
	default:
		return why_set(ret_why, r, "%s '%s': %s", what, path, strerror(-r));
	}
}

int kconfig_load(const char *path, struct kts_kconfig *ret, char **ret_why)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_file(path, &buf, &len);
	if (r < 0)
		return file_error("config", path, r, ret_why);
	/*
	 * No text check: kconfig copies string values byte for byte, so a .config
	 * may hold any encoding. A NUL byte is still refused by the parser.
	 */
	return kconfig_parse(buf, len, path, ret, ret_why);
}

/* Reads path; name (the file the user named) is what messages and provenance say. */
static int read_extra_as(const char *path, const char *name, struct kts_kconfig *ret,
			 char ret_sha256[HASH_SHA256_HEX_SIZE], char **ret_why)
{
	_cleanup_kconfig_ struct kts_kconfig c = KTS_KCONFIG_INIT;
	_cleanup_free_ char *buf = NULL;
	size_t len, i;
	int r;

	r = read_file(path, &buf, &len);
	if (r < 0)
		return file_error("extra kconfig fragment", name, r, ret_why);
	for (i = 0; i < len && (is_blank(buf[i]) || buf[i] == '\n' || buf[i] == '\r'); i++)
		;
	if (i == len)
		return why_set(ret_why, -ENODATA, "extra kconfig fragment '%s' is empty", name);
	r = check_text(name, buf, len, ret_why);
	if (r < 0)
		return r;
	r = kconfig_parse(buf, len, name, &c, ret_why);
	if (r < 0)
		return r;

	if (ret_sha256) {
		r = hash_sha256_hex(buf, len, ret_sha256);
		if (r < 0)
			return r;
	}
	*ret = c;
	c = KTS_KCONFIG_INIT;
	log_debug("extra kconfig '%s' ('%s'): %zu lines", name, path, ret->n);
	return 0;
}

int kconfig_read_extra(const char *path, struct kts_kconfig *ret,
		       char ret_sha256[HASH_SHA256_HEX_SIZE], char **ret_why)
{
	return read_extra_as(path, path, ret, ret_sha256, ret_why);
}

/* --- the embedded fragment --- */

const char *kconfig_fragment_text(size_t *ret_len)
{
	if (ret_len)
		*ret_len = sizeof(kconfig_fragment) - 1;
	return kconfig_fragment;
}

const char *kconfig_fragment_sha256(void)
{
	static char hex[HASH_SHA256_HEX_SIZE];

	/*
	 * ktscope is single-threaded; computing twice would give the same bytes anyway. The
	 * digest context is a few hundred bytes: failing to allocate it at start-up leaves
	 * nothing sensible to do, and a wrong fragment hash would misfile cache entries.
	 */
	if (!hex[0] && hash_sha256_hex(kconfig_fragment, sizeof(kconfig_fragment) - 1, hex) < 0)
		abort();
	return hex;
}

/* --- merge --- */

static void override_free(struct kts_kconfig_override *o)
{
	free(o->symbol);
	free(o->old_value);
	free(o->new_value);
	free(o->source);
}

void kconfig_merge_done(struct kts_kconfig_merge *m)
{
	if (!m)
		return;
	kconfig_done(&m->lines);
	for (size_t i = 0; i < m->n_overrides; i++)
		override_free(&m->overrides[i]);
	free(m->overrides);
	for (size_t i = 0; i < m->n_extras; i++)
		free(m->extras[i].path);
	free(m->extras);
	*m = KTS_KCONFIG_MERGE_INIT;
}

static int add_override(struct kts_kconfig_merge *m, const struct kts_kconfig_line *baked,
			const struct kts_kconfig_line *user)
{
	struct kts_kconfig_override o = {
		.symbol = strdup(user->symbol),
		.old_value = strdup(kconfig_line_value(baked)),
		.new_value = strdup(kconfig_line_value(user)),
		.source = strdup(user->source),
		.lineno = user->lineno,
	};
	struct kts_kconfig_override *n;

	n = reallocarray(m->overrides, m->n_overrides + 1, sizeof(*n));
	if (n)
		m->overrides = n;
	if (!n || !o.symbol || !o.old_value || !o.new_value || !o.source) {
		override_free(&o);
		return -ENOMEM;
	}
	m->overrides[m->n_overrides++] = o;
	log_debug("'%s':%u overrides %s (was %s, now %s)", o.source, o.lineno, o.symbol,
		  o.old_value, o.new_value);
	return 0;
}

/* Lays add over m->lines (moving its strings), recording overrides of builtin's values. */
static int merge_apply(struct kts_kconfig_merge *m, const struct kts_kconfig *builtin,
		       struct kts_kconfig *add)
{
	int r;

	for (size_t i = 0; i < add->n; i++) {
		struct kts_kconfig_line *l = &add->lines[i];
		const struct kts_kconfig_line *b = find_line(builtin, l->symbol);

		if (b && !line_same_value(b, l)) {
			r = add_override(m, b, l);
			if (r < 0)
				return r;
		}
		r = kconfig_put(&m->lines, l);
		if (r < 0)
			return r;
	}
	return 0;
}

int kconfig_merge(const char *const *extra_paths, size_t n_extra, struct kts_kconfig_merge *ret,
		  char **ret_why)
{
	return kconfig_merge_as(extra_paths, extra_paths, n_extra, ret, ret_why);
}

int kconfig_merge_as(const char *const *extra_paths, const char *const *names, size_t n_extra,
		     struct kts_kconfig_merge *ret, char **ret_why)
{
	_cleanup_kconfig_merge_ struct kts_kconfig_merge m = KTS_KCONFIG_MERGE_INIT;
	_cleanup_kconfig_ struct kts_kconfig builtin = KTS_KCONFIG_INIT;
	size_t len;
	const char *text = kconfig_fragment_text(&len);
	int r;

	r = kconfig_parse(text, len, KCONFIG_SOURCE_BUILTIN, &builtin, ret_why);
	if (r < 0)
		return r;
	r = kconfig_parse(text, len, KCONFIG_SOURCE_BUILTIN, &m.lines, ret_why);
	if (r < 0)
		return r;

	if (n_extra > 0) {
		m.extras = calloc(n_extra, sizeof(*m.extras));
		if (!m.extras)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n_extra; i++) {
		_cleanup_kconfig_ struct kts_kconfig add = KTS_KCONFIG_INIT;
		struct kts_kconfig_extra *e = &m.extras[m.n_extras];

		r = read_extra_as(extra_paths[i], names[i], &add, e->sha256, ret_why);
		if (r < 0)
			return r;
		e->path = strdup(names[i]);
		if (!e->path)
			return -ENOMEM;
		m.n_extras++;
		r = merge_apply(&m, &builtin, &add);
		if (r < 0)
			return r;
	}

	*ret = m;
	m = KTS_KCONFIG_MERGE_INIT;
	return 0;
}

/* --- skip check --- */

bool kconfig_satisfied(const struct kts_kconfig *want, const struct kts_kconfig *have,
		       const struct kts_kconfig_line **ret_unmet)
{
	for (size_t i = 0; i < want->n; i++)
		if (!kconfig_line_holds(&want->lines[i], have)) {
			if (ret_unmet)
				*ret_unmet = &want->lines[i];
			return false;
		}
	if (ret_unmet)
		*ret_unmet = NULL;
	return true;
}

int kconfig_config_satisfies(const char *config_path, const struct kts_kconfig *want,
			     char **ret_why)
{
	_cleanup_kconfig_ struct kts_kconfig have = KTS_KCONFIG_INIT;
	_cleanup_free_ char *why = NULL;
	const struct kts_kconfig_line *unmet;
	int r;

	r = kconfig_load(config_path, &have, &why);
	if (r == -ENOENT) {
		log_debug("'%s' does not exist: configure needed", config_path);
		return 0;
	}
	if (r == -EBADMSG || r == -EILSEQ) {
		log_debug("%s: configure needed", strempty(why));
		return 0;
	}
	if (r < 0) {
		if (ret_why)
			*ret_why = TAKE_PTR(why);
		return r;
	}
	if (!kconfig_satisfied(want, &have, &unmet)) {
		log_debug("'%s' does not satisfy %s:%u (%s %s): configure needed", config_path,
			  unmet->source, unmet->lineno, unmet->symbol, kconfig_line_value(unmet));
		return 0;
	}
	return 1;
}

/* --- the merged fragment file --- */

int kconfig_format(const struct kts_kconfig *c, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 1, off = 0;

	for (size_t i = 0; i < c->n; i++)
		size += strlen(c->lines[i].symbol) + strlen(kconfig_line_value(&c->lines[i])) + 4;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	buf[0] = '\0';
	for (size_t i = 0; i < c->n; i++) {
		const struct kts_kconfig_line *l = &c->lines[i];
		int n;

		if (l->value)
			n = snprintf(buf + off, size - off, "%s=%s\n", l->symbol, l->value);
		else
			n = snprintf(buf + off, size - off, "# %s " KCONFIG_OFF_TEXT "\n", l->symbol);
		if (n < 0 || (size_t) n >= size - off)
			return -EOVERFLOW; /* cannot happen: size counts every byte */
		off += (size_t) n;
	}
	*ret = TAKE_PTR(buf);
	return 0;
}

int kconfig_write(const struct kts_kconfig *c, const char *path)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = kconfig_format(c, &text);
	if (r < 0)
		return r;
	return write_file_atomic(path, text, strlen(text), 0644);
}
