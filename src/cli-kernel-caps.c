/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope kernel path|env|diff` and the sched_ext part of `kernel show`: what a scheduler
 * developer takes from a cache entry (DESIGN §5 "Scheduler kit", §7). The entry's files for a
 * build against that kernel (image, vmlinux, vmlinux.h, config, headers/include) as one path
 * or as shell exports; its capability manifest (capabilities.json, caps.h) summarised by
 * `show`, embedded in `show --json` and compared between two entries by `diff`. The rest of
 * `kernel` is cli-kernel.c's (the listing, show's metadata, clean) and cli-kernel-remote.c's.
 *
 * Every command here reads an entry under its shared lock (cache.h), taken once KEY|SPEC is
 * resolved, with the entry looked up again under it: `kernel clean`, which needs the lock
 * exclusively and never waits for it, leaves the entry alone meanwhile, and a store that
 * replaces it waits. Where no lock can be had because nothing can remove an entry either (a
 * read-only cache) or flock is unreliable (a network file system), the entry is read
 * unlocked, as before these locks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cache.h"
#include "caps.h"
#include "cli.h"
#include "cli-kernel.h"
#include "interrupt.h"
#include "kconfig.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "telemetry.h"

/* make headers_install INSTALL_HDR_PATH=headers: what a loader's -I takes */
#define ENTRY_HEADERS CACHE_DIR_HEADERS "/include"

/* What an entry of an older ktscope lacks; the same words wherever it is said. */
#define OLDER_ENTRY "built by an older ktscope; rebuild with --force"

/* ---------------------------------------------------------------- entries, locked */

int cli_kernel_lock_entry(const char *root, struct kts_cache_entry **e, int *ret_fd)
{
	_cleanup_cache_entry_ struct kts_cache_entry *again = NULL;
	_cleanup_free_ char *why = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	r = cache_lock_entry(root, (*e)->key, /* exclusive= */ false, /* wait= */ true, &fd);
	if (r == -EROFS || r == -EACCES || r == -EPERM || r == -EREMOTE) {
		log_debug_errno(r, "reading '%s' without its lock: %m", (*e)->key);
		*ret_fd = -EBADF;
		return KTS_EXIT_OK;
	}
	if (r < 0) {
		/* A stop while waiting (push catches them) is said by the caller. */
		if (!interrupt_pending())
			log_error_errno(r, "cannot lock '%s' in '%s': %m", (*e)->key, root);
		return cli_exit_code(r);
	}
	/* It may have been rebuilt, or removed, between the lookup and the lock. */
	r = cache_lookup(root, (*e)->key, kconfig_fragment_sha256(), &again, &why);
	if (r != 1) {
		log_error("'%s' is no longer a valid entry of '%s'%s%s", (*e)->key, root,
			  why ? ": " : "", strempty(why));
		return KTS_EXIT_FAILURE;
	}
	cache_entry_free(*e);
	*e = TAKE_PTR(again);
	*ret_fd = TAKE_FD(fd);
	return KTS_EXIT_OK;
}

/* The entry KEY|SPEC names, as cli_kernel_resolve() finds it, under its shared lock. */
static int open_entry(const char *root, const char *spec, struct kts_cache_entry **ret,
		      int *ret_fd)
{
	_cleanup_cache_entry_ struct kts_cache_entry *e = NULL;
	int r;

	r = cli_kernel_resolve(root, spec, &e);
	if (r != KTS_EXIT_OK)
		return r;
	r = cli_kernel_lock_entry(root, &e, ret_fd);
	if (r != KTS_EXIT_OK)
		return r;
	*ret = TAKE_PTR(e);
	return KTS_EXIT_OK;
}

/* "{dir}/{name}" when it exists (a directory when dir_wanted, else a regular file), else
 * NULL; *ret_oom on allocation failure. */
static char *entry_file(const char *dir, const char *name, bool dir_wanted, bool *ret_oom)
{
	_cleanup_free_ char *p = NULL;
	struct stat st;

	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		*ret_oom = true;
		return NULL;
	}
	if (stat(p, &st) < 0 || (dir_wanted ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
		return NULL;
	return TAKE_PTR(p);
}

/* The entry's capabilities.json: 0, or -ENOENT (none: an older ktscope's entry), or another
 * error with *ret_why naming the file (caller frees). */
static int read_caps(const char *dir, struct kts_caps *ret, char **ret_why)
{
	_cleanup_free_ char *p = NULL;

	if (asprintf(&p, "%s/" CACHE_FILE_CAPABILITIES, dir) < 0)
		return -ENOMEM;
	return caps_read(p, ret, ret_why);
}

/* ---------------------------------------------------------------- show */

/* The options of the summary line, in this order: what decides whether and how a BPF
 * scheduler runs. The manifest has more (caps_option_names()); `--json` shows them all. */
static const char *const key_options[] = {
	"CONFIG_SCHED_CLASS_EXT", "CONFIG_EXT_GROUP_SCHED", "CONFIG_BPF_JIT", "CONFIG_DEBUG_INFO_BTF",
	"CONFIG_HZ", "CONFIG_NR_CPUS", "CONFIG_PREEMPT", "CONFIG_NO_HZ_FULL",
};

static const struct kts_caps_option *find_option(const struct kts_caps *c, const char *name)
{
	for (size_t i = 0; i < c->n_options; i++)
		if (streq(c->options[i].name, name))
			return &c->options[i];
	return NULL;
}

/* "SCHED_CLASS_EXT=y HZ=1000 ... (EXT_GROUP_SCHED, NO_HZ_FULL not set)"; an option the
 * manifest does not record is left out. */
static void print_key_options(const struct kts_caps *c)
{
	const char *sep = "";
	size_t n_unset = 0;

	fputs("options:      ", stdout);
	for (size_t i = 0; i < ELEMENTSOF(key_options); i++) {
		const struct kts_caps_option *o = find_option(c, key_options[i]);

		if (!o)
			continue;
		if (!o->value) {
			n_unset++;
			continue;
		}
		printf("%s%s=%s", sep, o->name + strlen("CONFIG_"), o->value);
		sep = " ";
	}
	if (n_unset > 0) {
		printf("%s(", sep);
		sep = "";
		for (size_t i = 0; i < ELEMENTSOF(key_options); i++) {
			const struct kts_caps_option *o = find_option(c, key_options[i]);

			if (o && !o->value) {
				printf("%s%s", sep, o->name + strlen("CONFIG_"));
				sep = ", ";
			}
		}
		fputs(" not set)", stdout);
	}
	putchar('\n');
}

static void print_caps(const struct kts_caps *c)
{
	printf("release:      %s\n", c->release ? c->release : "unknown (no linux_banner found)");
	if (c->sched_ext)
		printf("sched_ext:    %zu callbacks, %zu scx kfuncs (from %s)\n", c->n_ops, c->n_kfuncs,
		       caps_kfuncs_from_name(c->kfuncs_from));
	else
		printf("sched_ext:    no (struct sched_ext_ops is not in the BTF), %zu scx kfuncs\n",
		       c->n_kfuncs);
	print_key_options(c);
}

/* "telemetry: user 1,512 s, ..." and "phases: source 0.4 s, ..." of the build, when its
 * metadata has them (entries of an older ktscope do not). */
static void print_telemetry(const struct kts_metadata *m)
{
	_cleanup_free_ char *line = NULL;
	const char *sep = "";

	if (m->has_telemetry && telemetry_summary(&m->telemetry, &line) >= 0 && line)
		printf("telemetry:    %s\n", line);
	if (!m->has_phases || phases_empty(&m->phases))
		return;
	fputs("phases:      ", stdout);
	for (enum kts_phase p = 0; p < _KTS_PHASE_MAX; p++)
		if (m->phases.s[p] >= 0) {
			printf("%s %s %.1f s", sep, phase_name(p), m->phases.s[p]);
			sep = ",";
		}
	putchar('\n');
}

/* The sched_ext summary and files of the local entry at dir. */
static void print_kit(const char *dir)
{
	_cleanup_free_ char *why = NULL, *vmlinux_h = NULL, *headers = NULL;
	struct kts_caps c = { 0 };
	bool oom = false;
	int r;

	r = read_caps(dir, &c, &why);
	if (r == -ENOENT)
		printf("sched_ext:    not recorded (" OLDER_ENTRY ")\n");
	else if (r < 0)
		printf("sched_ext:    unreadable: %s\n", why ? why : strerror(-r));
	else {
		print_caps(&c);
		caps_done(&c);
	}
	vmlinux_h = entry_file(dir, CACHE_FILE_VMLINUX_H, false, &oom);
	headers = entry_file(dir, ENTRY_HEADERS, true, &oom);
	if (vmlinux_h)
		printf("vmlinux.h:    %s\n", vmlinux_h);
	if (headers)
		printf("headers:      %s\n", headers);
}

void cli_kernel_show_kit(const struct kts_metadata *m, const char *dir)
{
	if (dir)
		print_kit(dir);
	print_telemetry(m);
}

int cli_kernel_show_caps_json(struct json_object *j, const char *dir)
{
	_cleanup_free_ char *why = NULL, *vmlinux_h = NULL, *headers = NULL;
	struct json_object *o = NULL;
	struct kts_caps c = { 0 };
	bool oom = false;
	int r;

	r = read_caps(dir, &c, &why);
	if (r == -ENOMEM)
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	if (r >= 0) {
		r = caps_to_json(&c, &o);
		caps_done(&c);
		if (r < 0)
			return log_error_errno(r, "%m"), KTS_EXIT_FAILURE;
	} else if (r != -ENOENT)
		log_warning("%s; \"capabilities\" is null", why ? why : strerror(-r));
	json_object_object_add(j, "capabilities", o);
	vmlinux_h = entry_file(dir, CACHE_FILE_VMLINUX_H, false, &oom);
	headers = entry_file(dir, ENTRY_HEADERS, true, &oom);
	if (oom)
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	json_object_object_add(j, "vmlinux_h_path",
			       vmlinux_h ? json_object_new_string(vmlinux_h) : NULL);
	json_object_object_add(j, "headers_path", headers ? json_object_new_string(headers) : NULL);
	return KTS_EXIT_OK;
}

/* ---------------------------------------------------------------- path */

/* The files `kernel path` prints, by option; the image without one. */
enum entry_file_kind {
	FILE_IMAGE,
	FILE_VMLINUX,
	FILE_VMLINUX_H,
	FILE_CONFIG,
	FILE_HEADERS,
};

static const struct {
	const char *option, *name; /* name NULL: the image, whatever its name */
	bool dir;
} entry_files[] = {
	[FILE_IMAGE] = { "--image", NULL, false },
	[FILE_VMLINUX] = { "--vmlinux", CACHE_FILE_VMLINUX, false },
	[FILE_VMLINUX_H] = { "--vmlinux-h", CACHE_FILE_VMLINUX_H, false },
	[FILE_CONFIG] = { "--config", CACHE_FILE_CONFIG, false },
	[FILE_HEADERS] = { "--headers", ENTRY_HEADERS, true },
};

/* Why an entry has no such file, for the one-line error. */
static const char *missing_because(enum entry_file_kind k)
{
	switch (k) {
	case FILE_VMLINUX_H:
		return OLDER_ENTRY;
	case FILE_HEADERS:
		return "built without --headers; rebuild with --headers --force";
	default:
		return "the entry is incomplete";
	}
}

int cli_kernel_path(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "image", no_argument, NULL, FILE_IMAGE },
		{ "vmlinux", no_argument, NULL, FILE_VMLINUX },
		{ "vmlinux-h", no_argument, NULL, FILE_VMLINUX_H },
		{ "config", no_argument, NULL, FILE_CONFIG },
		{ "headers", no_argument, NULL, FILE_HEADERS },
		{}
	};
	_cleanup_cache_entry_ struct kts_cache_entry *e = NULL;
	_cleanup_free_ char *root = NULL, *path = NULL;
	_cleanup_close_ int lock_fd = -EBADF;
	int c, r, which = -1;
	bool oom = false;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (c == 'h')
			return fputs(cli_kernel_help, stdout), KTS_EXIT_OK;
		if (c < FILE_IMAGE || c > FILE_HEADERS)
			return cli_option_error(c, argv, "kernel path");
		if (which >= 0 && which != c) {
			log_error("'kernel path' prints one file: %s and %s given",
				  entry_files[which].option, entry_files[c].option);
			return KTS_EXIT_USAGE;
		}
		which = c;
	}
	if (optind != argc - 1) {
		log_error("'kernel path' takes one KEY or SPEC");
		return KTS_EXIT_USAGE;
	}
	r = cli_kernel_open_root(&root);
	if (r != KTS_EXIT_OK)
		return r;
	r = open_entry(root, argv[optind], &e, &lock_fd);
	if (r != KTS_EXIT_OK)
		return r;
	if (which <= FILE_IMAGE) {
		puts(e->image_path);
		return KTS_EXIT_OK;
	}
	path = entry_file(e->path, entry_files[which].name, entry_files[which].dir, &oom);
	if (oom)
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	if (!path) {
		log_error("'%s' has no %s (%s)", e->key, entry_files[which].name,
			  missing_because(which));
		return KTS_EXIT_FAILURE;
	}
	puts(path);
	return KTS_EXIT_OK;
}

/* ---------------------------------------------------------------- env */

/* "export NAME='VALUE'\n", VALUE in single quotes whatever it holds ('\'' for a quote). */
static void print_export(const char *name, const char *value)
{
	printf("export %s='", name);
	for (const char *p = value; *p; p++)
		if (*p == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*p);
	fputs("'\n", stdout);
}

/* One file's export; a file the entry lacks is left out with a note on stderr. */
static bool export_file(const struct kts_cache_entry *e, const char *var, enum entry_file_kind k)
{
	_cleanup_free_ char *path = NULL;
	bool oom = false;

	path = entry_file(e->path, entry_files[k].name, entry_files[k].dir, &oom);
	if (oom)
		return false;
	if (path)
		print_export(var, path);
	else if (k != FILE_HEADERS) /* only kept on request: no note */
		log_notice("'%s' has no %s (%s): %s left out", e->key, entry_files[k].name,
			   missing_because(k), var);
	return true;
}

int cli_kernel_env(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_cache_entry_ struct kts_cache_entry *e = NULL;
	_cleanup_free_ char *root = NULL, *why = NULL;
	_cleanup_close_ int lock_fd = -EBADF;
	struct kts_caps caps = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (c == 'h')
			return fputs(cli_kernel_help, stdout), KTS_EXIT_OK;
		return cli_option_error(c, argv, "kernel env");
	}
	if (optind != argc - 1) {
		log_error("'kernel env' takes one KEY or SPEC");
		return KTS_EXIT_USAGE;
	}
	r = cli_kernel_open_root(&root);
	if (r != KTS_EXIT_OK)
		return r;
	r = open_entry(root, argv[optind], &e, &lock_fd);
	if (r != KTS_EXIT_OK)
		return r;

	print_export("KTSCOPE_KERNEL_KEY", e->key);
	r = read_caps(e->path, &caps, &why);
	if (r >= 0 && caps.release)
		print_export("KTSCOPE_KERNEL_RELEASE", caps.release);
	else if (r < 0 && r != -ENOENT)
		log_warning("%s: KTSCOPE_KERNEL_RELEASE left out", why ? why : strerror(-r));
	caps_done(&caps);
	print_export("KTSCOPE_KERNEL_IMAGE", e->image_path);
	if (!export_file(e, "KTSCOPE_KERNEL_VMLINUX", FILE_VMLINUX) ||
	    !export_file(e, "KTSCOPE_KERNEL_VMLINUX_H", FILE_VMLINUX_H) ||
	    !export_file(e, "KTSCOPE_KERNEL_CONFIG", FILE_CONFIG) ||
	    !export_file(e, "KTSCOPE_KERNEL_HEADERS", FILE_HEADERS))
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	return KTS_EXIT_OK;
}

/* ---------------------------------------------------------------- diff */

/* Exit codes of `kernel diff`, as diff(1)'s: same, differ, trouble (any error but a missing
 * cache directory, which stays KTS_EXIT_ENV). */
enum {
	DIFF_SAME = 0,
	DIFF_DIFFER = 1,
	DIFF_TROUBLE = 2,
};

struct diff_out {
	const char *key_a, *key_b;
	struct json_object *j; /* --json: the object being filled; NULL: text */
};

/* The JSON list of a diff's KIND side ("ops"/"kfuncs" → "only_a"/"only_b"). */
static struct json_object *json_side(struct json_object *j, const char *kind, bool in_a)
{
	struct json_object *o = json_object_object_get(j, kind);

	return json_object_object_get(o, in_a ? "only_a" : "only_b");
}

static void json_pair(struct json_object *to, const char *name, const char *a, const char *b)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "a", a ? json_object_new_string(a) : NULL);
	json_object_object_add(p, "b", b ? json_object_new_string(b) : NULL);
	json_object_object_add(to, name, p);
}

static void diff_one(enum kts_caps_diff_kind kind, const char *name, const char *in_a,
		     const char *in_b, void *userdata)
{
	struct diff_out *d = userdata;
	const char *what = kind == KTS_CAPS_DIFF_OP ? "op" : "kfunc";

	if (d->j) {
		if (kind == KTS_CAPS_DIFF_RELEASE)
			json_pair(d->j, "release", in_a, in_b);
		else if (kind == KTS_CAPS_DIFF_OPTION)
			json_pair(json_object_object_get(d->j, "options"), name, in_a, in_b);
		else
			json_object_array_add(json_side(d->j, kind == KTS_CAPS_DIFF_OP ? "ops" : "kfuncs",
							in_a != NULL),
					      json_object_new_string(name));
		return;
	}
	if (kind == KTS_CAPS_DIFF_RELEASE)
		printf("~ release %s → %s\n", in_a ? in_a : "unknown", in_b ? in_b : "unknown");
	else if (kind == KTS_CAPS_DIFF_OPTION)
		printf("~ %s %s → %s\n", name, in_a ? in_a : "not set", in_b ? in_b : "not set");
	else if (in_a)
		printf("- %s %s (only in %s)\n", what, name, d->key_a);
	else
		printf("+ %s %s (only in %s)\n", what, name, d->key_b);
}

/* {"a": K1, "b": K2, "same": B, "release": null | {"a", "b"}, "ops": {"only_a": [],
 * "only_b": []}, "kfuncs": {...}, "options": {"CONFIG_X": {"a", "b"}}}; "same" is set once
 * the differences are known. */
static struct json_object *diff_json_new(const char *key_a, const char *key_b)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "a", json_object_new_string(key_a));
	json_object_object_add(j, "b", json_object_new_string(key_b));
	json_object_object_add(j, "same", json_object_new_boolean(true));
	json_object_object_add(j, "release", NULL);
	for (size_t i = 0; i < 2; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "only_a", json_object_new_array());
		json_object_object_add(o, "only_b", json_object_new_array());
		json_object_object_add(j, i == 0 ? "ops" : "kfuncs", o);
	}
	json_object_object_add(j, "options", json_object_new_object());
	return j;
}

/* One side of the diff: its entry's manifest, or DIFF_TROUBLE naming what is wrong. */
static int diff_side(const char *root, const char *spec, struct kts_cache_entry **ret_e,
		     int *ret_fd, struct kts_caps *ret)
{
	_cleanup_free_ char *why = NULL;
	int r;

	r = open_entry(root, spec, ret_e, ret_fd);
	if (r != KTS_EXIT_OK)
		return r == KTS_EXIT_FAILURE ? DIFF_TROUBLE : r;
	r = read_caps((*ret_e)->path, ret, &why);
	if (r == -ENOENT) {
		log_error("'%s' has no " CACHE_FILE_CAPABILITIES " (" OLDER_ENTRY ")", (*ret_e)->key);
		return DIFF_TROUBLE;
	}
	if (r < 0) {
		log_error("cannot read the manifest of '%s': %s", (*ret_e)->key,
			  why ? why : strerror(-r));
		return DIFF_TROUBLE;
	}
	return DIFF_SAME;
}

int cli_kernel_diff(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	_cleanup_cache_entry_ struct kts_cache_entry *a = NULL, *b = NULL;
	_cleanup_close_ int lock_a = -EBADF, lock_b = -EBADF;
	_cleanup_free_ char *root = NULL;
	struct kts_caps ca = { 0 }, cb = { 0 };
	struct diff_out d = { 0 };
	bool json = false;
	size_t n;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (c == 'h')
			return fputs(cli_kernel_help, stdout), KTS_EXIT_OK;
		if (c == 'j')
			json = true;
		else
			return cli_option_error(c, argv, "kernel diff");
	}
	if (optind != argc - 2) {
		log_error("'kernel diff' takes two KEYs or SPECs");
		return DIFF_TROUBLE;
	}
	r = cli_kernel_open_root(&root);
	if (r != KTS_EXIT_OK)
		return r;
	r = diff_side(root, argv[optind], &a, &lock_a, &ca);
	if (r == DIFF_SAME)
		r = diff_side(root, argv[optind + 1], &b, &lock_b, &cb);
	if (r == DIFF_SAME) {
		d = (struct diff_out) { .key_a = a->key, .key_b = b->key,
					.j = json ? diff_json_new(a->key, b->key) : NULL };
		n = caps_diff(&ca, &cb, diff_one, &d);
		r = n > 0 ? DIFF_DIFFER : DIFF_SAME;
		if (d.j) {
			json_object_object_add(d.j, "same", json_object_new_boolean(n == 0));
			puts(json_object_to_json_string_ext(d.j, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(d.j);
		}
	}
	caps_done(&ca);
	caps_done(&cb);
	return r;
}
