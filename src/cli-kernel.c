/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope kernel list|show|clean` and `ktscope kconfig`: the kernel cache, read and pruned
 * (DESIGN §7). `kernel path|env|diff` and show's sched_ext summary are cli-kernel-caps.c's,
 * `kernel push|pull` and `list|show --remote` cli-kernel-remote.c's (they share cli-kernel.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cache.h"
#include "cli.h"
#include "cli-kernel.h"
#include "compile.h"
#include "kconfig.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "source.h"
#include "stamps.h"

const char cli_kernel_help[] =
	"Usage: ktscope kernel COMMAND [OPTIONS]\n"
	"\n"
	"The kernel cache (KTSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/ktscope, else\n"
	"~/.cache/ktscope), and its copy on an OCI registry.\n"
	"\n"
	"Commands:\n"
	"  list [--json]           every cached kernel, newest first, with its status:\n"
	"                          matches (built with the current kconfig fragment),\n"
	"                          stale (an older fragment), untracked, or corrupt\n"
	"  show KEY [--json]       one entry's metadata, its build stamps, the\n"
	"                          ktscope build command line that rebuilds it, and its\n"
	"                          sched_ext summary (release, callbacks, kfuncs, options)\n"
	"  path KEY|SPEC [FILE]    print the image path (for qemu, virtme-ng, ktstr);\n"
	"                          SPEC: a version or label (newest match), or a tree;\n"
	"                          FILE: --image, --vmlinux, --vmlinux-h, --config or\n"
	"                          --headers (headers/include, kept by build --headers)\n"
	"  env KEY|SPEC            shell exports of the entry's files for a BPF scheduler\n"
	"                          build: eval \"$(ktscope kernel env KEY)\"\n"
	"  diff KEY1 KEY2 [--json] the sched_ext callbacks, scx kfuncs, options and\n"
	"                          release that differ; exit 0 same, 1 differ, 2 trouble\n"
	"  clean [OPTIONS]         remove entries:\n"
	"      --keep N            keep the N newest valid entries\n"
	"      --older-than DAYS   only entries built more than DAYS days ago\n"
	"      --corrupt-only      only corrupt entries\n"
	"      --dry-run           list what would be removed, remove nothing\n"
	"      --force             do not ask (required when stdin is not a terminal)\n"
	"  -h, --help              show this help\n"
	"\n"
	"On an OCI registry (one artifact per entry, tagged with its key):\n"
	"  push KEY|SPEC [--push-dirty] [--json-events]\n"
	"                          upload an entry (only the blobs the registry lacks);\n"
	"                          an entry of a dirty tree only with --push-dirty\n"
	"  pull KEY [--force] [--json-events]\n"
	"                          download an entry into the cache, every blob checked\n"
	"                          against its digest, and print its image path; an\n"
	"                          entry already cached is left alone unless --force\n"
	"  list --remote [R] [--json]        the registry's entries (its tags)\n"
	"  show KEY --remote [R] [--json]    an entry's metadata, read from the registry\n"
	"Registry options:\n"
	"  --remote oci://HOST[:PORT]/REPOSITORY\n"
	"                          the registry (env KTSCOPE_REMOTE); https, plain http\n"
	"                          only to localhost, 127.0.0.1 and [::1]\n"
	"  --insecure              plain http to any host\n"
	"  --ca-cert FILE          trust the CAs of this PEM file instead of the system's\n"
	"                          (env KTSCOPE_CA_CERT)\n"
	"Credentials: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,\n"
	"~/.docker/config.json (the first with the host), as podman and docker login write.\n"
	"\n"
	"Exit status: 0 ok, 1 not found (also a FILE of path the entry lacks),\n"
	"removal or transfer failed, a blob that does not match its digest, 2 bad usage\n"
	"(also a bad remote, a dirty entry without --push-dirty), 4 no usable cache\n"
	"directory, credentials refused by the registry, or an unreadable credentials\n"
	"file. 'kernel diff' as diff(1): 0 same, 1 different, 2 trouble (an unknown\n"
	"KEY, an entry without capabilities.json), 4 no usable cache directory.\n";

struct entries {
	struct kts_cache_entry **e;
	size_t n;
};

static void entries_done(struct entries *l)
{
	cache_entries_free(l->e, l->n);
	l->e = NULL;
	l->n = 0;
}

int cli_kernel_open_root(char **ret)
{
	const char *var = NULL;
	int r = cache_root(ret, &var);

	if (r < 0) {
		log_error("no usable cache directory: %s is %s; set KTSCOPE_CACHE_DIR to an absolute "
			  "path", strempty(var), r == -ENOENT ? "unset" : "not an absolute path");
		return KTS_EXIT_ENV;
	}
	return KTS_EXIT_OK;
}

static void print_json(struct json_object *j)
{
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static struct json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static struct json_object *entry_to_json(const struct kts_cache_entry *e)
{
	struct json_object *o = json_object_new_object(), *src, *sizes;
	char when[METADATA_TIME_MAX];

	json_object_object_add(o, "key", json_object_new_string(e->key));
	if (e->corrupt) {
		json_object_object_add(o, "path", json_object_new_string(e->path));
		json_object_object_add(o, "corrupt", json_object_new_string(e->corrupt));
		return o;
	}
	metadata_format_time(e->meta->built_at, when);
	json_object_object_add(o, "label", jstr(e->meta->label));
	json_object_object_add(o, "status", json_object_new_string(cache_status_to_string(e->status)));
	json_object_object_add(o, "dirty", json_object_new_boolean(e->dirty));
	json_object_object_add(o, "extra_kconfig", json_object_new_boolean(e->extra_kconfig));
	json_object_object_add(o, "arch", jstr(e->meta->arch));
	json_object_object_add(o, "image_path", jstr(e->image_path));
	json_object_object_add(o, "built_at", json_object_new_string(when));
	src = json_object_new_object();
	json_object_object_add(src, "kind", jstr(e->meta->source.kind));
	json_object_object_add(src, "version", jstr(e->meta->source.version));
	json_object_object_add(src, "url", jstr(e->meta->source.url));
	json_object_object_add(src, "path", jstr(e->meta->source.path));
	json_object_object_add(src, "commit", jstr(e->meta->source.commit));
	json_object_object_add(src, "dirty", json_object_new_boolean(e->meta->source.dirty));
	json_object_object_add(o, "source", src);
	sizes = json_object_new_object();
	json_object_object_add(sizes, "image", json_object_new_int64((int64_t) e->meta->sizes.image));
	json_object_object_add(sizes, "vmlinux", json_object_new_int64((int64_t) e->meta->sizes.vmlinux));
	json_object_object_add(sizes, "vmlinux_unstripped",
			       json_object_new_int64((int64_t) e->meta->sizes.vmlinux_unstripped));
	json_object_object_add(o, "sizes", sizes);
	return o;
}

static void human_size(uint64_t b, char buf[static 16])
{
	if (b >= 1024ULL * 1024 * 1024)
		snprintf(buf, 16, "%.1fG", (double) b / (1024.0 * 1024 * 1024));
	else if (b >= 1024ULL * 1024)
		snprintf(buf, 16, "%.1fM", (double) b / (1024.0 * 1024));
	else
		snprintf(buf, 16, "%.0fK", (double) b / 1024.0);
}

static int parse_count(const char *opt, const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *s == '-' || *s == '+' || *end || errno || v > 1000000) {
		log_error("invalid %s '%s': expected a whole number", opt, s);
		return KTS_EXIT_USAGE;
	}
	*ret = (unsigned) v;
	return KTS_EXIT_OK;
}

/* ---------------------------------------------------------------- list / show */

static int kernel_list(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	struct entries l _cleanup_(entries_done) = { 0 };
	_cleanup_free_ char *root = NULL;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (c == 'h')
			return fputs(cli_kernel_help, stdout), KTS_EXIT_OK;
		if (c == 'j')
			json = true;
		else
			return cli_option_error(c, argv, "kernel list");
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return KTS_EXIT_USAGE;
	}
	r = cli_kernel_open_root(&root);
	if (r != KTS_EXIT_OK)
		return r;
	r = cache_list(root, kconfig_fragment_sha256(), &l.e, &l.n);
	if (r < 0)
		return log_error_errno(r, "cannot list the cache '%s': %m", root), KTS_EXIT_FAILURE;

	if (json) {
		_cleanup_json_ struct json_object *j = json_object_new_object();
		struct json_object *a = json_object_new_array();

		json_object_object_add(j, "cache", json_object_new_string(root));
		json_object_object_add(j, "fragment_sha256",
				       json_object_new_string(kconfig_fragment_sha256()));
		for (size_t i = 0; i < l.n; i++)
			json_object_array_add(a, entry_to_json(l.e[i]));
		json_object_object_add(j, "entries", a);
		print_json(j);
		return KTS_EXIT_OK;
	}

	printf("Kernel cache: %s\n", root);
	if (l.n == 0) {
		printf("  (none)\n");
		return KTS_EXIT_OK;
	}
	printf("\n%-48s %-10s %-20s %8s  %s\n", "KEY", "STATUS", "BUILT", "IMAGE", "SOURCE");
	for (size_t i = 0; i < l.n; i++) {
		const struct kts_cache_entry *e = l.e[i];
		char when[METADATA_TIME_MAX], size[16], status[64];

		if (e->corrupt) {
			printf("%-48s %-10s %s\n", e->key, "corrupt", e->corrupt);
			continue;
		}
		metadata_format_time(e->meta->built_at, when);
		human_size(e->meta->sizes.image, size);
		snprintf(status, sizeof(status), "%s%s%s", cache_status_to_string(e->status),
			 e->extra_kconfig ? " (extra kconfig)" : "", e->dirty ? " (dirty)" : "");
		printf("%-48s %-10s %-20s %8s  %s %s\n", e->key, status, when, size,
		       strempty(e->meta->source.kind),
		       e->meta->source.path ? e->meta->source.path
					    : strempty(e->meta->source.version ? e->meta->source.version
									       : e->meta->source.url));
	}
	return KTS_EXIT_OK;
}

/* Looks a key up; logs why not. Returns an exit code. */
static int find_key(const char *root, const char *key, struct kts_cache_entry **ret)
{
	_cleanup_free_ char *why = NULL;
	int r;

	r = cache_lookup(root, key, kconfig_fragment_sha256(), ret, &why);
	if (r == 1)
		return KTS_EXIT_OK;
	if (r == 0) {
		log_error("no cached kernel '%s' in '%s' (see 'ktscope kernel list')", key, root);
		return KTS_EXIT_FAILURE;
	}
	if (r == -EINVAL) {
		log_error("invalid cache key '%s'", key);
		return KTS_EXIT_USAGE;
	}
	if (r == -EBADMSG) {
		log_error("cached kernel '%s' is corrupt: %s", key, strempty(why));
		return KTS_EXIT_FAILURE;
	}
	log_error_errno(r, "cannot read cache entry '%s': %m", key);
	return KTS_EXIT_FAILURE;
}

/* "compile:" of `kernel show`: ccache's hits and where its cache was, the engine; none
 * for entries made before ktscope knew them. */
static void print_compile(const struct kts_compile_record *c)
{
	const struct kts_compile_plan *p = &c->plan;
	char stats[96];

	if (!c->present)
		return;
	fputs("compile:      ", stdout);
	if (p->ccache_version) {
		compile_stats_format(&c->stats, stats, sizeof(stats));
		printf("ccache %s, %s", p->ccache_version, stats);
		if (c->stats.uncacheable)
			printf(", %" PRIu64 " uncacheable", c->stats.uncacheable);
		if (p->ccache_dir_used)
			printf(", dir %s", p->ccache_dir_used);
		if (p->ccache_remote_shown)
			printf(", remote %s", p->ccache_remote_shown);
	} else
		fputs("no ccache", stdout);
	if (p->engine != KTS_ENGINE_NONE)
		printf("; %s on %s, %u remote jobs", compile_engine_to_string(p->engine),
		       p->hosts ? p->hosts : "its scheduler's hosts", p->remote_jobs);
	putchar('\n');
}

/* The build dir, the KBUILD_BUILD_* stamps (stamps.h) and the reproducer of an entry. */
static void print_stamps(const struct kts_metadata *m, const char *cmd, const char *note)
{
	const struct kts_stamps *s = &m->stamps;

	if (m->build_dir)
		printf("build dir:    %s\n", m->build_dir);
	if (m->stamps_state == KTS_METADATA_STAMPS_UNRECORDED)
		printf("stamps:       not recorded (built by an older ktscope)\n");
	else if (m->stamps_state == KTS_METADATA_STAMPS_OFF)
		printf("stamps:       off (--no-reproducible: Kbuild's own date, user and host)\n");
	else
		printf("stamps:       KBUILD_BUILD_TIMESTAMP '%s' (%s), USER '%s', HOST '%s', "
		       "VERSION '%s'\n", s->timestamp, s->from, s->user, s->host, s->version);
	if (cmd)
		printf("reproducer:   %s\n", cmd);
	if (note)
		printf("              (%s)\n", note);
}

/* The text of `kernel show` (where: the entry's directory and image, or its remote). */
static void show_text(const struct kts_metadata *m, enum kts_cache_status status,
		      const char *dir, const char *image_path, const char *remote,
		      const char *cmd, const char *note)
{
	char when[METADATA_TIME_MAX], a[16], b[16], c[16];

	metadata_format_time(m->built_at, when);
	human_size(m->sizes.image, a);
	human_size(m->sizes.vmlinux, b);
	human_size(m->sizes.vmlinux_unstripped, c);
	printf("key:          %s\n", m->key);
	printf("status:       %s%s%s\n", cache_status_to_string(status),
	       m->n_extra_kconfig > 0 ? " (extra kconfig)" : "", m->source.dirty ? " (dirty)" : "");
	printf("label:        %s\n", m->label);
	printf("source:       %s %s\n", strempty(m->source.kind),
	       m->source.path ? m->source.path : strempty(m->source.version ? m->source.version : m->source.url));
	if (m->source.commit)
		printf("commit:       %s%s\n", m->source.commit, m->source.dirty ? " (dirty)" : "");
	if (m->source.fs_type || m->source.fs_uuid)
		printf("filesystem:   %s %s\n", strempty(m->source.fs_type), strempty(m->source.fs_uuid));
	printf("arch:         %s\n", m->arch);
	printf("base:         %s\n", m->base);
	for (size_t i = 0; i < m->n_extra_kconfig; i++)
		printf("extra:        %s (%.12s)\n", m->extra_kconfig[i].path, m->extra_kconfig[i].sha256);
	if (m->n_make_vars) {
		fputs("make vars:   ", stdout);
		for (size_t i = 0; i < m->n_make_vars; i++)
			printf(" %s", m->make_vars[i]);
		putchar('\n');
	}
	printf("built:        %s in %.0f s, make -j%u\n", when, m->build_seconds, m->make_jobs);
	if (m->plan.present)
		printf("reservation:  cpus %s, nodes %s, llcs %s, enforcement %s\n", m->plan.cpus,
		       m->plan.mems, m->plan.llcs, m->plan.enforcement);
	printf("toolchain:    %s; %s; %s\n", strempty(m->toolchain.cc), strempty(m->toolchain.ld),
	       m->toolchain.pahole ? m->toolchain.pahole : "no pahole");
	print_compile(&m->compile);
	printf("sizes:        image %s, vmlinux %s (unstripped %s)\n", a, b, c);
	if (image_path || dir) {
		printf("image:        %s\n", strempty(image_path));
		printf("directory:    %s\n", strempty(dir));
	}
	if (remote)
		printf("remote:       %s\n", remote);
	print_stamps(m, cmd, note);
	cli_kernel_show_kit(m, dir);
}

int cli_kernel_show_metadata(const struct kts_metadata *m, const char *dir, const char *image_path,
			     const char *remote, bool json)
{
	enum kts_cache_status status = cache_status(m->fragment_sha256, kconfig_fragment_sha256());
	_cleanup_json_ struct json_object *j = NULL;
	_cleanup_free_ char *cmd = NULL, *note = NULL;
	int r;

	r = stamps_reproducer(m, &cmd, &note);
	if (r == -ENOMEM)
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	if (!json) {
		show_text(m, status, dir, image_path, remote, cmd, note);
		return KTS_EXIT_OK;
	}
	r = metadata_to_json(m, &j);
	if (r < 0)
		return log_error_errno(r, "%m"), KTS_EXIT_FAILURE;
	if (dir || image_path) {
		json_object_object_add(j, "path", jstr(dir));
		json_object_object_add(j, "image_path", jstr(image_path));
	}
	if (dir && cli_kernel_show_caps_json(j, dir) != KTS_EXIT_OK)
		return KTS_EXIT_FAILURE;
	if (remote)
		json_object_object_add(j, "remote", jstr(remote));
	json_object_object_add(j, "status", json_object_new_string(cache_status_to_string(status)));
	json_object_object_add(j, "reproducer", jstr(cmd));
	json_object_object_add(j, "reproducer_note", jstr(note));
	print_json(j);
	return KTS_EXIT_OK;
}

static int kernel_show(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	_cleanup_cache_entry_ struct kts_cache_entry *e = NULL;
	_cleanup_free_ char *root = NULL;
	_cleanup_close_ int lock_fd = -EBADF;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (c == 'h')
			return fputs(cli_kernel_help, stdout), KTS_EXIT_OK;
		if (c == 'j')
			json = true;
		else
			return cli_option_error(c, argv, "kernel show");
	}
	if (optind != argc - 1) {
		log_error("'kernel show' takes one KEY (see 'ktscope kernel list')");
		return KTS_EXIT_USAGE;
	}
	r = cli_kernel_open_root(&root);
	if (r != KTS_EXIT_OK)
		return r;
	r = find_key(root, argv[optind], &e);
	if (r != KTS_EXIT_OK)
		return r;
	/* Its files are read under its shared lock: clean leaves it alone meanwhile. */
	r = cli_kernel_lock_entry(root, &e, &lock_fd);
	if (r != KTS_EXIT_OK)
		return r;
	return cli_kernel_show_metadata(e->meta, e->path, e->image_path, NULL, json);
}

/* ---------------------------------------------------------------- KEY|SPEC */

/* A SPEC matches a valid entry by label, version, or the canonical tree path. */
static bool spec_matches(const struct kts_cache_entry *e, const char *spec, const char *canon)
{
	const struct kts_metadata *m = e->meta;

	if (e->corrupt || !m)
		return false;
	if (canon && m->source.path && streq(m->source.path, canon))
		return true;
	if (streq(m->label, spec))
		return true;
	if (m->source.version) {
		size_t n = strlen(spec);

		if (streq(m->source.version, spec))
			return true;
		/* "6.12" matches "6.12.3" (not "6.123") */
		if (strncmp(m->source.version, spec, n) == 0 && m->source.version[n] == '.')
			return true;
	}
	return false;
}

int cli_kernel_resolve(const char *root, const char *spec, struct kts_cache_entry **ret)
{
	struct entries l _cleanup_(entries_done) = { 0 };
	_cleanup_free_ char *canon = NULL;
	int r;

	/* An exact key first. */
	if (cache_key_validate(spec) == 0 &&
	    cache_lookup(root, spec, kconfig_fragment_sha256(), ret, NULL) == 1)
		return KTS_EXIT_OK;
	/* Then the newest entry the SPEC names, preferring ones built with the current fragment. */
	canon = realpath(spec, NULL);
	r = cache_list(root, kconfig_fragment_sha256(), &l.e, &l.n);
	if (r < 0)
		return log_error_errno(r, "cannot list the cache '%s': %m", root), KTS_EXIT_FAILURE;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < l.n; i++)
			if (spec_matches(l.e[i], spec, canon) &&
			    (pass == 1 || l.e[i]->status == KTS_CACHE_MATCHES)) {
				*ret = TAKE_PTR(l.e[i]);
				return KTS_EXIT_OK;
			}
	log_error("no cached kernel matches '%s' (see 'ktscope kernel list'; build it with "
		  "'ktscope build %s')", spec, spec);
	return KTS_EXIT_FAILURE;
}

/* ---------------------------------------------------------------- clean */

/* kernel clean's options into co and *ret_force. True when the command ends here (help,
 * bad usage) with exit code *ret_exit. */
static bool clean_parse(int argc, char **argv, struct kts_cache_clean_opts *co, bool *ret_force,
			int *ret_exit)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "keep", required_argument, NULL, 'k' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "corrupt-only", no_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{}
	};
	int c;

	*ret_exit = KTS_EXIT_USAGE;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(cli_kernel_help, stdout);
			*ret_exit = KTS_EXIT_OK;
			return true;
		case 'k':
			if (parse_count("--keep", optarg, &co->keep) != KTS_EXIT_OK)
				return true;
			co->has_keep = true;
			break;
		case 'o':
			if (parse_count("--older-than", optarg, &co->older_than_days) != KTS_EXIT_OK)
				return true;
			co->has_older_than = true;
			break;
		case 'c':
			co->corrupt_only = true;
			break;
		case 'n':
			co->dry_run = true;
			break;
		case 'f':
			*ret_force = true;
			break;
		default:
			*ret_exit = cli_option_error(c, argv, "kernel clean");
			return true;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return true;
	}
	return false;
}

/* Prints what the clean would remove (a listing, nothing touched); *ret_n the count. */
static int clean_show(const char *root, const struct kts_cache_clean_opts *co, size_t *ret_n)
{
	struct entries l _cleanup_(entries_done) = { 0 };
	_cleanup_free_ bool *sel = NULL;
	size_t n_sel = 0;
	int r;

	r = cache_list(root, co->fragment_sha256, &l.e, &l.n);
	if (r < 0)
		return log_error_errno(r, "cannot list the cache '%s': %m", root), KTS_EXIT_FAILURE;
	sel = calloc(l.n ? l.n : 1, sizeof(bool));
	if (!sel)
		return KTS_EXIT_FAILURE;
	cache_clean_select(l.e, l.n, co, sel);
	for (size_t i = 0; i < l.n; i++) {
		if (!sel[i])
			continue;
		n_sel++;
		printf("%s %s%s%s%s\n", co->dry_run ? "would remove" : "remove", l.e[i]->key,
		       l.e[i]->corrupt ? " (corrupt: " : "", strempty(l.e[i]->corrupt),
		       l.e[i]->corrupt ? ")" : "");
	}
	*ret_n = n_sel;
	return KTS_EXIT_OK;
}

/* Asks on the terminal; KTS_EXIT_USAGE when there is none to ask on. *ret_yes the answer. */
static int clean_confirm(size_t n_sel, bool *ret_yes)
{
	char answer[16] = "";

	if (!isatty(STDIN_FILENO)) {
		log_error("refusing to remove %zu cached kernel(s) without --force: stdin is not "
			  "a terminal to ask on", n_sel);
		return KTS_EXIT_USAGE;
	}
	fprintf(stderr, "Remove %zu cached kernel(s)? [y/N] ", n_sel);
	fflush(stderr);
	*ret_yes = fgets(answer, sizeof(answer), stdin) && (answer[0] == 'y' || answer[0] == 'Y');
	return KTS_EXIT_OK;
}

/* One line per entry that was not removed; the exit code says whether any failed. */
static int clean_report(const struct kts_cache_clean_item *items, size_t n_items)
{
	size_t removed = 0;
	int rc = KTS_EXIT_OK;

	for (size_t i = 0; i < n_items; i++) {
		switch (items[i].result) {
		case KTS_CACHE_CLEAN_REMOVED:
			removed++;
			break;
		case KTS_CACHE_CLEAN_BUSY:
			log_warning("'%s' is in use (its lock is held); left alone", items[i].entry->key);
			break;
		case KTS_CACHE_CLEAN_CHANGED:
			log_warning("'%s' was rebuilt meanwhile; left alone", items[i].entry->key);
			break;
		case KTS_CACHE_CLEAN_FAILED:
			log_error_errno(items[i].error, "cannot remove '%s': %m", items[i].entry->key);
			rc = KTS_EXIT_FAILURE;
			break;
		case KTS_CACHE_CLEAN_WOULD_REMOVE:
			break;
		}
	}
	fprintf(stderr, "ktscope: removed %zu cached kernel(s)\n", removed);
	return rc;
}

static int kernel_clean(int argc, char **argv)
{
	struct kts_cache_clean_opts co = { .fragment_sha256 = kconfig_fragment_sha256() };
	_cleanup_free_ char *root = NULL;
	struct kts_cache_clean_item *items = NULL;
	size_t n_items = 0, n_sel = 0;
	bool force = false, yes = true;
	int r;

	if (clean_parse(argc, argv, &co, &force, &r))
		return r;
	r = cli_kernel_open_root(&root);
	if (r != KTS_EXIT_OK)
		return r;

	/* Show what goes, and ask, before touching anything. */
	r = clean_show(root, &co, &n_sel);
	if (r != KTS_EXIT_OK)
		return r;
	if (n_sel == 0) {
		fprintf(stderr, "ktscope: nothing to remove\n");
		return KTS_EXIT_OK;
	}
	if (co.dry_run)
		return KTS_EXIT_OK;
	if (!force) {
		r = clean_confirm(n_sel, &yes);
		if (r != KTS_EXIT_OK)
			return r;
	}
	if (!yes) {
		fprintf(stderr, "ktscope: nothing removed\n");
		return KTS_EXIT_OK;
	}

	r = cache_clean(root, &co, &items, &n_items);
	if (r < 0)
		return log_error_errno(r, "cannot clean the cache '%s': %m", root), KTS_EXIT_FAILURE;
	r = clean_report(items, n_items);
	cache_clean_items_free(items, n_items);
	return r;
}

int cli_kernel(const struct kts_opts *o, int argc, char **argv)
{
	const char *sub;

	if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
		fputs(cli_kernel_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? KTS_EXIT_USAGE : KTS_EXIT_OK;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	if (streq(sub, "list"))
		return cli_kernel_wants_remote(argc, argv) ? cli_kernel_list_remote(o, argc, argv)
							   : kernel_list(argc, argv);
	if (streq(sub, "show"))
		return cli_kernel_wants_remote(argc, argv) ? cli_kernel_show_remote(o, argc, argv)
							   : kernel_show(argc, argv);
	if (streq(sub, "path"))
		return cli_kernel_path(argc, argv);
	if (streq(sub, "env"))
		return cli_kernel_env(argc, argv);
	if (streq(sub, "diff"))
		return cli_kernel_diff(argc, argv);
	if (streq(sub, "clean"))
		return kernel_clean(argc, argv);
	if (streq(sub, "push"))
		return cli_kernel_push(o, argc, argv);
	if (streq(sub, "pull"))
		return cli_kernel_pull(o, argc, argv);
	log_error("unknown kernel command '%s' (list, show, path, env, diff, clean, "
		  "push, pull)", sub);
	return KTS_EXIT_USAGE;
}

/* ---------------------------------------------------------------- kconfig */

static const char kconfig_help[] =
	"Usage: ktscope kconfig [--sha256]\n"
	"\n"
	"Print the kconfig fragment ktscope puts on top of every base configuration\n"
	"(sched_ext, BPF, BTF, tracing, consoles, cgroups, NUMA, ...), or its SHA-256,\n"
	"which 'kernel list' compares to tell matching from stale entries.\n"
	"\n"
	"Options:\n"
	"  --sha256     print the fragment's SHA-256 only\n"
	"  -h, --help   show this help\n";

int cli_kconfig(const struct kts_opts *o, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "sha256", no_argument, NULL, 's' },
		{}
	};
	bool sha = false;
	int c;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (c == 'h')
			return fputs(kconfig_help, stdout), KTS_EXIT_OK;
		if (c == 's')
			sha = true;
		else
			return cli_option_error(c, argv, "kconfig");
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return KTS_EXIT_USAGE;
	}
	if (sha)
		puts(kconfig_fragment_sha256());
	else
		fputs(kconfig_fragment_text(NULL), stdout);
	return KTS_EXIT_OK;
}
