/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-kconfig: kconfig lines as a kernel tree's .config (kconfig_parse(), what
 * kconfig_load() does) and as --extra-kconfig fragments (kconfig_merge_as() over the
 * embedded fragment, reading memfds), then what the pipeline does with both: the skip
 * check, the survived/dropped report and its JSON, and validation. Input: the final
 * .config, then up to three fragments, separated by lines "--8<--".
 */
#include <errno.h>
#include <json-c/json.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "kconfig.h"
#include "macro.h"

#define SEP "\n--8<--\n"
#define MAX_EXTRA 3

/* A formatted set parses back to the same lines. */
static void check_format(const struct kts_kconfig *c)
{
	_cleanup_kconfig_ struct kts_kconfig again = KTS_KCONFIG_INIT;
	_cleanup_free_ char *text = NULL;

	FUZZ_ASSERT(kconfig_format(c, &text) == 0);
	FUZZ_ASSERT(kconfig_parse(text, strlen(text), "formatted", &again, NULL) == 0);
	FUZZ_ASSERT(again.n == c->n);
	for (size_t i = 0; i < c->n; i++) {
		FUZZ_ASSERT(streq(again.lines[i].symbol, c->lines[i].symbol));
		FUZZ_ASSERT(streq(kconfig_line_value(&again.lines[i]),
				  kconfig_line_value(&c->lines[i])));
	}
}

/* The report of want against final is a UTF-8 JSON document with one entry per line. */
static void check_report(const struct kts_kconfig *want, const struct kts_kconfig *final)
{
	_cleanup_kconfig_report_ struct kts_kconfig_report rep = KTS_KCONFIG_REPORT_INIT;
	_cleanup_free_ char *json = NULL;
	struct json_tokener *tok;
	struct json_object *doc, *lines;

	FUZZ_ASSERT(kconfig_report_build(want, final, &rep) == 0);
	FUZZ_ASSERT(rep.n == want->n && rep.n_dropped <= rep.n);
	FUZZ_ASSERT((rep.n_dropped == 0) == kconfig_satisfied(want, final, NULL));
	FUZZ_ASSERT(kconfig_report_to_json(&rep, &json) == 0);
	tok = json_tokener_new();
	FUZZ_ASSERT(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	doc = json_tokener_parse_ex(tok, json, (int) strlen(json));
	FUZZ_ASSERT(doc && json_object_object_get_ex(doc, "lines", &lines));
	FUZZ_ASSERT(json_object_array_length(lines) == rep.n);
	json_object_put(doc);
	json_tokener_free(tok);
}

/* Writes each fragment into a memfd and merges them as kconfig_merge_as() would. */
static void check_merge(char **frag, size_t n, const struct kts_kconfig *final)
{
	_cleanup_kconfig_merge_ struct kts_kconfig_merge m = KTS_KCONFIG_MERGE_INIT;
	_cleanup_free_ char *why = NULL, *vwhy = NULL;
	char paths[MAX_EXTRA][64];
	const char *p[MAX_EXTRA], *names[MAX_EXTRA] = { "extra-1", "extra-2", "extra-3" };
	int fds[MAX_EXTRA], r;

	for (size_t i = 0; i < n; i++) {
		fds[i] = memfd_create("extra", MFD_CLOEXEC);
		FUZZ_ASSERT(fds[i] >= 0);
		FUZZ_ASSERT(write(fds[i], frag[i], strlen(frag[i])) == (ssize_t) strlen(frag[i]));
		(void) snprintf(paths[i], sizeof(paths[i]), "/proc/self/fd/%d", fds[i]);
		p[i] = paths[i];
	}
	r = kconfig_merge_as(p, names, n, &m, &why);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	FUZZ_ASSERT(r == 0 || (r < 0 && r != -ENOMEM && fuzz_printable(why)));
	if (r < 0)
		return;
	FUZZ_ASSERT(m.n_extras == n);
	FUZZ_ASSERT(kconfig_satisfied(&m.lines, &m.lines, NULL));
	check_format(&m.lines);
	check_report(&m.lines, final);
	r = kconfig_validate(final, &m, NULL, &vwhy);
	FUZZ_ASSERT(r == 0 || (r == -ENOTSUP && fuzz_printable(vwhy)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_kconfig_ struct kts_kconfig final = KTS_KCONFIG_INIT;
	_cleanup_free_ char *text = fuzz_strndup(data, size), *why = NULL;
	char *part[1 + MAX_EXTRA], *p = text;
	size_t n = 0;
	int r;

	/* The raw bytes, NULs included (kconfig_parse() must refuse them with a reason). */
	r = kconfig_parse((const char *) data, size, "config", &final, &why);
	FUZZ_ASSERT(r == 0 || (r == -EBADMSG && fuzz_printable(why)));
	FUZZ_ASSERT(r < 0 || !memchr(data, '\0', size));
	kconfig_done(&final);

	for (part[n++] = p; n < ELEMENTSOF(part) && (p = strstr(p, SEP)); part[n++] = p) {
		*p = '\0';
		p += strlen(SEP);
	}
	if (kconfig_parse(part[0], strlen(part[0]), "config", &final, NULL) < 0)
		return 0;
	check_format(&final);
	check_merge(part + 1, n - 1, &final);
	return 0;
}
