/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What came out of a build's configuration: the survived/dropped report
 * (kconfig-report.json) and the validation of the critical symbols, with the
 * likely cause of a missing one. Parsing and merging are kconfig.c's.
 * See kconfig.h for the contracts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "kconfig.h"
#include "log.h"
#include "macro.h"
#include "util.h"

/* --- report --- */

static void outcome_free(struct kts_kconfig_outcome *o)
{
	free(o->symbol);
	free(o->requested);
	free(o->final);
	free(o->source);
}

void kconfig_report_done(struct kts_kconfig_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		outcome_free(&r->lines[i]);
	free(r->lines);
	*r = KTS_KCONFIG_REPORT_INIT;
}

int kconfig_report_build(const struct kts_kconfig *want, const struct kts_kconfig *final,
			 struct kts_kconfig_report *ret)
{
	_cleanup_kconfig_report_ struct kts_kconfig_report rep = KTS_KCONFIG_REPORT_INIT;

	if (want->n > 0) {
		rep.lines = calloc(want->n, sizeof(*rep.lines));
		if (!rep.lines)
			return -ENOMEM;
	}
	for (size_t i = 0; i < want->n; i++) {
		const struct kts_kconfig_line *w = &want->lines[i];
		const struct kts_kconfig_line *f = kconfig_get(final, w->symbol);
		struct kts_kconfig_outcome *o = &rep.lines[rep.n++];

		o->symbol = strdup(w->symbol);
		o->requested = strdup(kconfig_line_value(w));
		o->final = f ? strdup(kconfig_line_value(f)) : NULL;
		o->source = strdup(w->source);
		o->lineno = w->lineno;
		o->survived = kconfig_line_holds(w, final);
		if (!o->symbol || !o->requested || (f && !o->final) || !o->source)
			return -ENOMEM;
		if (!o->survived) {
			rep.n_dropped++;
			log_debug("%s:%u %s %s did not survive (final: %s)", o->source, o->lineno,
				  o->symbol, o->requested, o->final ?: "absent");
		}
	}
	*ret = rep;
	rep = KTS_KCONFIG_REPORT_INIT;
	return 0;
}

/* json_object_object_add() that fails cleanly when the value could not be allocated. */
static int json_add(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val || json_object_object_add(obj, key, val) < 0) {
		json_object_putp(&val);
		return -ENOMEM;
	}
	return 0;
}

/*
 * A JSON string of s, which may hold any bytes: kconfig copies string values verbatim and
 * paths are bytes, but JSON is UTF-8 (bytes that are not become U+FFFD).
 */
static int json_add_text(struct json_object *obj, const char *key, const char *s)
{
	_cleanup_free_ char *text = utf8_sanitize(s);

	return json_add(obj, key, text ? json_object_new_string(text) : NULL);
}

int kconfig_report_to_json(const struct kts_kconfig_report *r, char **ret)
{
	_cleanup_json_ struct json_object *doc = json_object_new_object();
	struct json_object *lines;
	const char *s;
	char *dup;

	if (!doc || json_add(doc, "schema", json_object_new_int(1)) < 0 ||
	    json_add(doc, "fragment_sha256", json_object_new_string(kconfig_fragment_sha256())) <
		    0)
		return -ENOMEM;
	/* Owned by doc once added; json_add() releases it if adding fails. */
	lines = json_object_new_array();
	if (json_add(doc, "lines", lines) < 0)
		return -ENOMEM;

	for (size_t i = 0; i < r->n; i++) {
		const struct kts_kconfig_outcome *o = &r->lines[i];
		struct json_object *l = json_object_new_object();

		if (!l || json_object_array_add(lines, l) < 0) {
			json_object_putp(&l);
			return -ENOMEM;
		}
		if (json_add(l, "symbol", json_object_new_string(o->symbol)) < 0 ||
		    json_add_text(l, "requested", o->requested) < 0 ||
		    (o->final ? json_add_text(l, "final", o->final)
			      : json_object_object_add(l, "final", NULL)) < 0 ||
		    json_add_text(l, "source", o->source) < 0 ||
		    json_add(l, "survived", json_object_new_boolean(o->survived)) < 0)
			return -ENOMEM;
	}

	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							JSON_C_TO_STRING_SPACED |
							JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	if (asprintf(&dup, "%s\n", s) < 0)
		return -ENOMEM;
	*ret = dup;
	return 0;
}

int kconfig_report_write(const struct kts_kconfig_report *r, const char *dir)
{
	_cleanup_free_ char *text = NULL, *path = NULL;
	int k;

	k = kconfig_report_to_json(r, &text);
	if (k < 0)
		return k;
	if (asprintf(&path, "%s/%s", dir, KCONFIG_REPORT_FILE) < 0)
		return -ENOMEM;
	return write_file_atomic(path, text, strlen(text), 0644);
}

/* --- validation --- */

/*
 * Why each critical symbol goes missing, and which user-settable symbols can
 * take it out (kconfig dependencies in Linux 6.12: kernel/Kconfig.preempt,
 * lib/Kconfig.debug, kernel/trace/Kconfig, arch/Kconfig). A user line setting
 * one of these is the likely culprit. Indexed like kconfig_critical_symbols[].
 */
static const struct {
	const char *cause; /* NULL: built at run time (BTF, needs the pahole version) */
	const char *deps[10];
} critical_info[KCONFIG_N_CRITICAL] = {
	{ /* CONFIG_SCHED_CLASS_EXT */ "depends on BPF_SYSCALL, BPF_JIT and DEBUG_INFO_BTF",
	  { "CONFIG_BPF_SYSCALL", "CONFIG_BPF_JIT", "CONFIG_DEBUG_INFO_BTF", "CONFIG_DEBUG_INFO",
	    "CONFIG_DEBUG_KERNEL", "CONFIG_DEBUG_INFO_NONE", "CONFIG_DEBUG_INFO_REDUCED",
	    "CONFIG_DEBUG_INFO_SPLIT", "CONFIG_64BIT" } },
	{ /* CONFIG_BPF_SYSCALL */
	  "the bpf() system call has no dependency to miss: the base config or a fragment "
	  "turned it off",
	  { "CONFIG_BPF" } },
	{ /* CONFIG_DEBUG_INFO_BTF */ NULL,
	  { "CONFIG_DEBUG_INFO", "CONFIG_DEBUG_KERNEL", "CONFIG_DEBUG_INFO_NONE",
	    "CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT", "CONFIG_DEBUG_INFO_DWARF4",
	    "CONFIG_DEBUG_INFO_DWARF5", "CONFIG_DEBUG_INFO_REDUCED", "CONFIG_DEBUG_INFO_SPLIT",
	    "CONFIG_BPF_SYSCALL" } },
	{ /* CONFIG_FTRACE */
	  "depends on TRACING_SUPPORT; some base configs (arm64 defconfig) turn it off, and "
	  "KPROBE_EVENTS and BPF_EVENTS go with it",
	  { 0 } },
	{ /* CONFIG_KPROBE_EVENTS */ "depends on FTRACE and KPROBES",
	  { "CONFIG_FTRACE", "CONFIG_KPROBES" } },
	{ /* CONFIG_BPF_EVENTS */ "depends on BPF_SYSCALL, KPROBE_EVENTS and PERF_EVENTS",
	  { "CONFIG_BPF_SYSCALL", "CONFIG_KPROBE_EVENTS", "CONFIG_FTRACE", "CONFIG_KPROBES",
	    "CONFIG_PERF_EVENTS" } },
};

/* "v1.24" or "1.24" -> 124 (the kernel's PAHOLE_VERSION encoding); -1 if unparsable. */
static int pahole_number(const char *s)
{
	unsigned long major, minor;
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == 'v')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	major = strtoul(s, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -1;
	minor = strtoul(end + 1, &end, 10);
	if (major > 1000 || minor > 99)
		return -1;
	return (int) (major * 100 + minor);
}

static int btf_cause(const char *pahole_version, const struct kts_kconfig *final, char **ret)
{
	const struct kts_kconfig_line *pv = kconfig_get(final, "CONFIG_PAHOLE_VERSION");
	int v = pahole_version ? pahole_number(pahole_version) : -1;
	int seen = -1, k;

	/* kconfig records the pahole it found while configuring (scripts/pahole-version.sh). */
	if (pv && pv->value && pv->value[0] &&
	    strspn(pv->value, "0123456789") == strlen(pv->value))
		seen = atoi(pv->value);
	if (seen >= 0 && seen < 116) {
		_cleanup_free_ char *saw = NULL;

		if (seen == 0)
			saw = strdup("no pahole (PAHOLE_VERSION=0)");
		else if (asprintf(&saw, "pahole %d.%02d", seen / 100, seen % 100) < 0)
			saw = NULL;
		if (!saw)
			return -ENOMEM;
		if (pahole_version)
			k = asprintf(ret, "needs pahole >= 1.16 (dwarves package) while configuring; "
					  "kconfig saw %s, pahole on PATH now is %s",
				     saw, pahole_version);
		else
			k = asprintf(ret, "needs pahole >= 1.16 (dwarves package) while configuring; "
					  "kconfig saw %s, and none is on PATH",
				     saw);
	} else if (!pahole_version)
		k = asprintf(ret, "needs pahole >= 1.16 (dwarves package) while configuring, and "
				  "no pahole was found");
	else if (v < 0)
		k = asprintf(ret, "needs pahole >= 1.16 (dwarves package); pahole reports version "
				  "'%s', which could not be read", pahole_version);
	else if (v < 116)
		k = asprintf(ret, "needs pahole >= 1.16 (dwarves package), found pahole %s",
			     pahole_version);
	else if (v < 121)
		k = asprintf(ret, "needs pahole >= 1.21 with DWARF 5 debug info (found pahole %s), "
				  "or DEBUG_INFO_DWARF4",
			     pahole_version);
	else
		k = asprintf(ret, "needs DEBUG_INFO without DEBUG_INFO_REDUCED or DEBUG_INFO_SPLIT, "
				  "and pahole >= 1.16 (found pahole %s)",
			     pahole_version);
	return k < 0 ? -ENOMEM : 0;
}

/* The first extra-fragment line in merged that sets sym or one of its dependencies. */
static const struct kts_kconfig_line *find_culprit(const struct kts_kconfig_merge *merged,
						   size_t idx)
{
	if (!merged)
		return NULL;
	for (size_t i = 0; i < merged->lines.n; i++) {
		const struct kts_kconfig_line *l = &merged->lines.lines[i];

		if (streq(l->source, KCONFIG_SOURCE_BUILTIN))
			continue;
		if (streq(l->symbol, kconfig_critical_symbols[idx]))
			return l;
		for (size_t d = 0; d < ELEMENTSOF(critical_info[idx].deps) &&
				   critical_info[idx].deps[d];
		     d++)
			if (streq(l->symbol, critical_info[idx].deps[d]))
				return l;
	}
	return NULL;
}

/*
 * A value in the one-line reason: the final .config may hold any bytes in a string (its
 * base can be any file), so it is made printable and cut (found by fuzz/fuzz-kconfig).
 */
static int fprint_value(FILE *f, const char *before, const char *value, const char *after)
{
	_cleanup_free_ char *shown = utf8_printable(value, strlen(value), 80);

	if (!shown)
		return -ENOMEM;
	fprintf(f, "%s%s%s", before, shown, after);
	return 0;
}

int kconfig_validate(const struct kts_kconfig *final, const struct kts_kconfig_merge *merged,
		     const char *pahole_version, char **ret_why)
{
	_cleanup_free_ char *msg = NULL;
	size_t msglen = 0;
	bool unexplained = false;
	unsigned missing = 0;
	_cleanup_(fclosep) FILE *f = open_memstream(&msg, &msglen);

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < KCONFIG_N_CRITICAL; i++) {
		const char *sym = kconfig_critical_symbols[i];
		const struct kts_kconfig_line *l = kconfig_get(final, sym);
		const struct kts_kconfig_line *culprit;
		_cleanup_free_ char *cause = NULL;

		if (l && l->value && streq(l->value, "y"))
			continue;
		if (!critical_info[i].cause) {
			if (btf_cause(pahole_version, final, &cause) < 0)
				return -ENOMEM;
		}
		fprintf(f, "%s%s ", missing++ ? "; " : "", sym);
		if (!l)
			fputs("is absent", f);
		else if (kconfig_line_is_off(l))
			fputs(KCONFIG_OFF_TEXT, f);
		else if (fprint_value(f, "is ", l->value, "") < 0)
			return -ENOMEM;
		fprintf(f, ": %s", cause ?: critical_info[i].cause);
		culprit = find_culprit(merged, i);
		if (culprit && culprit->value) {
			fprintf(f, " (likely culprit: line %u of '%s': %s=", culprit->lineno,
				culprit->source, culprit->symbol);
			if (fprint_value(f, "", culprit->value, ")") < 0)
				return -ENOMEM;
		}
		else if (culprit)
			fprintf(f, " (likely culprit: line %u of '%s': # %s " KCONFIG_OFF_TEXT ")",
				culprit->lineno, culprit->source, culprit->symbol);
		else
			unexplained = true;
	}
	if (missing == 0)
		return 0;

	if (unexplained && merged && merged->n_extras > 0) {
		fputs("; likely culprit: --extra-kconfig", f);
		for (size_t i = 0; i < merged->n_extras; i++)
			fprintf(f, "%s'%s'", i ? ", " : " ", merged->extras[i].path);
	}
	if (fflush(f) != 0 || ferror(f))
		return -ENOMEM;
	(void) fclose(f);
	f = NULL;
	log_debug("kernel config lacks %u critical symbol(s): %s", missing, msg);
	if (ret_why)
		*ret_why = TAKE_PTR(msg);
	return -ENOTSUP;
}
