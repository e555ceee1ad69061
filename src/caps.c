/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The capability manifest (caps.h): built from a kernel (its BTF, ELF and .config), freed,
 * and compared. The BTF and ELF reading is caps-btf.c, the capabilities.json file
 * caps-json.c; this file owns the list of config options recorded and their parsing, the
 * name rules the reader and the writer share, and caps_diff().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf-dl.h"
#include "btf-header.h"
#include "caps-internal.h"
#include "log.h"
#include "macro.h"
#include "util.h"

/* The sched_ext-relevant config symbols, in the order they are written. */
static const char *const option_names[] = {
	"CONFIG_SCHED_CLASS_EXT",
	"CONFIG_EXT_GROUP_SCHED",
	"CONFIG_BPF",
	"CONFIG_BPF_SYSCALL",
	"CONFIG_BPF_JIT",
	"CONFIG_BPF_JIT_ALWAYS_ON",
	"CONFIG_DEBUG_INFO_BTF",
	"CONFIG_DEBUG_INFO_BTF_MODULES",
	"CONFIG_PAHOLE_VERSION",
	"CONFIG_CGROUP_SCHED",
	"CONFIG_FAIR_GROUP_SCHED",
	"CONFIG_SCHED_CORE",
	"CONFIG_SCHED_MC",
	"CONFIG_SCHED_SMT",
	"CONFIG_NUMA",
	"CONFIG_NR_CPUS",
	"CONFIG_HZ",
	"CONFIG_PREEMPT_NONE",
	"CONFIG_PREEMPT_VOLUNTARY",
	"CONFIG_PREEMPT",
	"CONFIG_PREEMPT_DYNAMIC",
	"CONFIG_NO_HZ_FULL",
	"CONFIG_FTRACE",
	"CONFIG_FUNCTION_TRACER",
	"CONFIG_KPROBE_EVENTS",
	"CONFIG_BPF_EVENTS",
	NULL,
};

const char *const *caps_option_names(void)
{
	return option_names;
}

const char *caps_kfuncs_from_name(enum kts_caps_kfuncs_from f)
{
	switch (f) {
	case KTS_CAPS_KFUNCS_DECL_TAG:
		return "decl_tag";
	case KTS_CAPS_KFUNCS_BTF_IDS:
		return "btf_ids";
	case KTS_CAPS_KFUNCS_FUNC_NAME:
		return "func_name";
	}
	return NULL;
}

void caps_done(struct kts_caps *c)
{
	if (!c)
		return;
	free(c->release);
	strv_free(c->ops, c->n_ops);
	strv_free(c->kfuncs, c->n_kfuncs);
	for (size_t i = 0; i < c->n_options; i++) {
		free(c->options[i].name);
		free(c->options[i].value);
	}
	free(c->options);
	*c = (struct kts_caps) { 0 };
}

/* ------------------------------------------------------------------ names and lists */

bool caps_name_valid(const char *s)
{
	size_t n = 0;

	if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (; s[n]; n++)
		if (!(s[n] == '_' || (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9')) || n >= CAPS_MAX_NAME)
			return false;
	return true;
}

bool caps_release_valid(const char *s)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if ((unsigned char) s[n] <= ' ' || (unsigned char) s[n] >= 0x7f ||
		    n >= CAPS_MAX_RELEASE)
			return false;
	return n > 0;
}

bool caps_value_valid(const char *s)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if ((unsigned char) s[n] < ' ' || s[n] == 0x7f || n >= CAPS_MAX_VALUE)
			return false;
	return s != NULL;
}

int caps_strv_push(struct caps_strv *sv, const char *s)
{
	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? 2 * sv->cap : 16;
		char **v = reallocarray(sv->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		sv->v = v;
		sv->cap = cap;
	}
	sv->v[sv->n] = strdup(s);
	if (!sv->v[sv->n])
		return -ENOMEM;
	sv->n++;
	return 0;
}

void caps_strv_done(struct caps_strv *sv)
{
	strv_free(sv->v, sv->n);
	*sv = (struct caps_strv) { 0 };
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

void caps_strv_sort_unique(struct caps_strv *sv)
{
	size_t k = 0;

	if (sv->n == 0)
		return;
	qsort(sv->v, sv->n, sizeof(*sv->v), cmp_str);
	for (size_t i = 1; i < sv->n; i++) {
		if (strcmp(sv->v[i], sv->v[k]) == 0)
			free(sv->v[i]);
		else
			sv->v[++k] = sv->v[i];
	}
	sv->n = k + 1;
}

/* ------------------------------------------------------------------ config */

/* The value .config gives name in text, NULL when unset ("# CONFIG_X is not set", absent);
 * the last line for name wins, as in Kconfig. */
static const char *config_value(const char *text, const char *name, size_t *ret_len)
{
	size_t nl = strlen(name);
	const char *found = NULL;

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, name, nl) == 0 && l[nl] == '=') {
			found = l + nl + 1;
			*ret_len = strcspn(found, "\n");
		} else if (strncmp(l, "# ", 2) == 0 && strncmp(l + 2, name, nl) == 0 &&
			   strncmp(l + 2 + nl, " is not set", 11) == 0)
			found = NULL;
	}
	return found;
}

/* Every option of option_names with its value in config_path (NULL path: all unset). */
static int caps_read_options(const char *config_path, struct kts_caps *c, char **ret_why)
{
	_cleanup_free_ char *text = NULL;
	size_t n = ELEMENTSOF(option_names) - 1;
	int r;

	if (config_path) {
		r = read_full_file(config_path, 0, &text, NULL);
		if (r < 0)
			return why_set(ret_why, r, "cannot read '%s': %s", config_path,
				       strerror(-r));
	}
	c->options = calloc(n, sizeof(*c->options));
	if (!c->options)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		const char *v = text ? config_value(text, option_names[i], &len) : NULL;

		c->options[i].name = strdup(option_names[i]);
		c->n_options++;
		if (!c->options[i].name || (v && !(c->options[i].value = strndup(v, len))))
			return -ENOMEM;
		if (v && !caps_value_valid(c->options[i].value))
			return why_set(ret_why, -EBADMSG, "'%s': the value of %s is not printable",
				       config_path, option_names[i]);
	}
	return 0;
}

/* ------------------------------------------------------------------ from a kernel */

static int caps_from_btf(const struct btf *btf, const char *btf_path, const char *ids_path,
			 struct kts_caps *c, char **ret_why)
{
	struct caps_strv ops = { 0 }, kfuncs = { 0 };
	int r;

	r = caps_btf_ops(btf, &ops, &c->sched_ext, btf_path, ret_why);
	if (r >= 0)
		r = caps_btf_kfuncs(btf, ids_path, &kfuncs, &c->kfuncs_from, ret_why);
	if (r < 0) {
		caps_strv_done(&ops);
		caps_strv_done(&kfuncs);
		return r;
	}
	c->ops = ops.v;
	c->n_ops = ops.n;
	c->kfuncs = kfuncs.v;
	c->n_kfuncs = kfuncs.n;
	return 0;
}

int caps_from_vmlinux(const char *btf_path, const char *ids_path, const char *config_path,
		      struct kts_caps *ret, char **ret_why)
{
	struct kts_caps c = { 0 };
	struct btf *btf = NULL;
	int r;

	if (!btf_path || !ret)
		return -EINVAL;
	r = btf_header_open(btf_path, &btf, ret_why);
	if (r < 0)
		return r;
	r = caps_from_btf(btf, btf_path, ids_path, &c, ret_why);
	btf__free(btf);
	if (r >= 0)
		r = caps_elf_release(btf_path, &c.release, ret_why);
	if (r >= 0)
		r = caps_read_options(config_path, &c, ret_why);
	if (r < 0) {
		caps_done(&c);
		return r;
	}
	log_debug("'%s': %zu sched_ext_ops members, %zu scx kfuncs (%s), release %s", btf_path,
		  c.n_ops, c.n_kfuncs, caps_kfuncs_from_name(c.kfuncs_from),
		  c.release ? c.release : "unknown");
	*ret = c;
	return 0;
}

/* ------------------------------------------------------------------ diff */

static bool same_value(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Sorted pointers to the n strings of v (a copy of the array, not of the strings). */
static const char **sorted_copy(char *const *v, size_t n)
{
	const char **s = calloc(n ? n : 1, sizeof(*s));

	if (!s)
		return NULL;
	if (n > 0)
		memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_str);
	return s;
}

/* Names in one list only, by name: fn(kind, name, "yes" or NULL, ...). */
static size_t diff_names(enum kts_caps_diff_kind kind, char *const *a, size_t na,
			 char *const *b, size_t nb, caps_diff_fn fn, void *userdata)
{
	_cleanup_free_ const char **sa = sorted_copy(a, na), **sb = sorted_copy(b, nb);
	size_t i = 0, j = 0, count = 0;

	if (!sa || !sb)
		return 0;
	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(sa[i], sb[j]);

		if (c == 0) {
			/* repeats (a foreign file's) count once */
			for (const char *x = sa[i]; i < na && strcmp(sa[i], x) == 0;)
				i++;
			for (const char *x = sb[j]; j < nb && strcmp(sb[j], x) == 0;)
				j++;
			continue;
		}
		fn(kind, c < 0 ? sa[i] : sb[j], c < 0 ? "yes" : NULL, c < 0 ? NULL : "yes",
		   userdata);
		count++;
		if (c < 0)
			i++;
		else
			j++;
	}
	return count;
}

static int cmp_option(const void *a, const void *b)
{
	return strcmp((*(const struct kts_caps_option *const *) a)->name,
		      (*(const struct kts_caps_option *const *) b)->name);
}

static const struct kts_caps_option **sorted_options(const struct kts_caps *c)
{
	const struct kts_caps_option **s = calloc(c->n_options ? c->n_options : 1, sizeof(*s));

	if (!s)
		return NULL;
	for (size_t i = 0; i < c->n_options; i++)
		s[i] = &c->options[i];
	qsort(s, c->n_options, sizeof(*s), cmp_option);
	return s;
}

/* Options whose values differ, by name; an option one side lacks is unset there. */
static size_t diff_options(const struct kts_caps *a, const struct kts_caps *b, caps_diff_fn fn,
			  void *userdata)
{
	_cleanup_free_ const struct kts_caps_option **sa = sorted_options(a),
						    **sb = sorted_options(b);
	size_t i = 0, j = 0, na = a->n_options, nb = b->n_options, count = 0;

	if (!sa || !sb)
		return 0;
	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(sa[i]->name, sb[j]->name);
		const char *name = c <= 0 ? sa[i]->name : sb[j]->name;
		const char *va = c <= 0 ? sa[i]->value : NULL, *vb = c >= 0 ? sb[j]->value : NULL;

		if (!same_value(va, vb)) {
			fn(KTS_CAPS_DIFF_OPTION, name, va, vb, userdata);
			count++;
		}
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	return count;
}

size_t caps_diff(const struct kts_caps *a, const struct kts_caps *b, caps_diff_fn fn,
		 void *userdata)
{
	size_t count = 0;

	if (!same_value(a->release, b->release)) {
		fn(KTS_CAPS_DIFF_RELEASE, "release", a->release, b->release, userdata);
		count++;
	}
	count += diff_names(KTS_CAPS_DIFF_OP, a->ops, a->n_ops, b->ops, b->n_ops, fn, userdata);
	count += diff_names(KTS_CAPS_DIFF_KFUNC, a->kfuncs, a->n_kfuncs, b->kfuncs, b->n_kfuncs,
			    fn, userdata);
	count += diff_options(a, b, fn, userdata);
	return count;
}
