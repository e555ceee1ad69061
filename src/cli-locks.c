/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope locks`: every ktscope/ktstr lock file (the LLC locks in the lock
 * directory, the source-tree and cache-entry locks in the cache's .locks/) and who
 * holds it, as text or one JSON document.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cache.h"
#include "cli.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "sysroot.h"
#include "topology.h"

static const char locks_help[] =
	"Usage: ktscope locks [--json]\n"
	"\n"
	"List every ktscope/ktstr lock file and who holds it: the LLC locks in the\n"
	"lock directory (KTSCOPE_LOCK_DIR, default /tmp) and the source-tree and\n"
	"cache-entry locks in the cache's .locks/ directory.\n"
	"\n"
	"Options:\n"
	"  --json       print one JSON document\n"
	"  -h, --help   show this help\n"
	"\n"
	"Exit status: 0 ok, 2 bad option, 4 lock directory unreadable.\n";

static int llc_index_from_path(const char *path, unsigned *ret)
{
	const char *base = strrchr(path, '/');
	_cleanup_free_ char *num = NULL;
	size_t len;

	base = base ? base + 1 : path;
	if (!startswith(base, "ktstr-llc-"))
		return -EINVAL;
	base += strlen("ktstr-llc-");
	len = strlen(base);
	if (len <= 5 || !streq(base + len - 5, ".lock"))
		return -EINVAL;
	num = strndup(base, len - 5);
	if (!num)
		return -ENOMEM;
	return cli_parse_unsigned(num, ret);
}

/* What both outputs list. */
struct locks_view {
	const char *lockdir;
	struct kts_topology t;
	bool have_topo; /* the node column is best effort */
	char *cache;    /* NULL: no cache directory */
	glob_t llc;         /* {lockdir}/ktstr-llc-N.lock */
	glob_t cache_locks; /* {cache}/.locks/NAME.lock */
};

static void locks_view_done(struct locks_view *v)
{
	topo_done(&v->t);
	free(v->cache);
	globfree(&v->llc);
	globfree(&v->cache_locks);
}

/* Returns -1 to go on, else the exit code (--help, a bad option). */
static int locks_parse(int argc, char **argv, bool *ret_json)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	int c;

	*ret_json = false;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(locks_help, stdout);
			return KTS_EXIT_OK;
		case 'j':
			*ret_json = true;
			break;
		default:
			return cli_option_error(c, argv, "locks");
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see 'ktscope locks --help')", argv[optind]);
		return KTS_EXIT_USAGE;
	}
	return -1;
}

/* The lock files and the topology for their nodes; an exit code. */
static int locks_collect(struct locks_view *v)
{
	_cleanup_free_ char *pattern = NULL, *cache_pattern = NULL;
	struct kts_sysroot root = KTS_SYSROOT_INIT;
	int r;

	if (access(v->lockdir, R_OK | X_OK) < 0) {
		log_error_errno(negative_errno(), "cannot read lock directory '%s': %m", v->lockdir);
		return KTS_EXIT_ENV;
	}
	/* The node column is best effort: an unreadable sysfs only loses it. */
	v->have_topo = sysroot_open(NULL, &root) >= 0 && topo_load(&root, &v->t, NULL) >= 0;
	sysroot_close(&root);

	if (asprintf(&pattern, "%s/ktstr-llc-*.lock", v->lockdir) < 0)
		return KTS_EXIT_FAILURE;
	r = glob(pattern, 0, NULL, &v->llc);
	if (r != 0 && r != GLOB_NOMATCH) {
		log_error("cannot list '%s'", pattern);
		return KTS_EXIT_ENV;
	}
	if (cache_root(&v->cache, NULL) >= 0 &&
	    asprintf(&cache_pattern, "%s/.locks/*.lock", v->cache) >= 0)
		(void) glob(cache_pattern, 0, NULL, &v->cache_locks);
	return KTS_EXIT_OK;
}

/* One LLC lock file of the listing, read for both outputs. */
struct llc_lock {
	const char *path;
	unsigned index;
	int node;               /* -1 when unknown */
	struct kts_llc_holders holders;
};

/* LLC lock file i: its index (from its name), node and holders; -EINVAL when the name is
 * not an LLC lock's. Free with lock_holders_free(ret->holders.h, ret->holders.n). */
static int llc_lock_read(const struct locks_view *v, size_t i, struct llc_lock *ret)
{
	struct llc_lock l = { .path = v->llc.gl_pathv[i], .node = -1 };

	if (llc_index_from_path(l.path, &l.index) < 0)
		return -EINVAL;
	if (v->have_topo && l.index < v->t.n_llcs)
		l.node = (int) v->t.llcs[l.index].node;
	(void) lock_holders(l.path, &l.holders.h, &l.holders.n);
	*ret = l;
	return 0;
}

static void print_locks_json(const struct locks_view *v)
{
	_cleanup_json_ struct json_object *j = json_object_new_object();
	struct json_object *jl = json_object_new_array(), *jc = json_object_new_array();

	for (size_t i = 0; i < v->llc.gl_pathc; i++) {
		struct json_object *o;
		struct llc_lock l;

		if (llc_lock_read(v, i, &l) < 0)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "llc", json_object_new_int((int) l.index));
		json_object_object_add(o, "node", l.node >= 0 ? json_object_new_int(l.node) : NULL);
		json_object_object_add(o, "lockfile", json_object_new_string(l.path));
		json_object_object_add(o, "holders", cli_json_holders(l.holders.h, l.holders.n));
		json_object_array_add(jl, o);
		lock_holders_free(l.holders.h, l.holders.n);
	}
	for (size_t i = 0; i < v->cache_locks.gl_pathc; i++) {
		struct kts_llc_holders h = { 0 };
		struct json_object *o = json_object_new_object();

		(void) lock_holders(v->cache_locks.gl_pathv[i], &h.h, &h.n);
		json_object_object_add(o, "lockfile",
				       json_object_new_string(v->cache_locks.gl_pathv[i]));
		json_object_object_add(o, "holders", cli_json_holders(h.h, h.n));
		json_object_array_add(jc, o);
		lock_holders_free(h.h, h.n);
	}
	json_object_object_add(j, "lockdir", json_object_new_string(v->lockdir));
	json_object_object_add(j, "cache", v->cache ? json_object_new_string(v->cache) : NULL);
	json_object_object_add(j, "llcs", jl);
	json_object_object_add(j, "cache_locks", jc);
	cli_print_json(j);
}

static void print_llc_locks_text(const struct locks_view *v)
{
	printf("LLC locks (%s):\n", v->lockdir);
	if (v->llc.gl_pathc == 0)
		printf("  (none)\n");
	else
		printf("  %-5s %-5s %-32s %s\n", "LLC", "NODE", "LOCKFILE", "HOLDERS");
	for (size_t i = 0; i < v->llc.gl_pathc; i++) {
		_cleanup_free_ char *hs = NULL;
		struct llc_lock l;
		char nodebuf[16];

		if (llc_lock_read(v, i, &l) < 0)
			continue;
		hs = cli_fmt_holders(l.holders.h, l.holders.n);
		lock_holders_free(l.holders.h, l.holders.n);
		if (l.node >= 0)
			snprintf(nodebuf, sizeof(nodebuf), "%d", l.node);
		else
			strcpy(nodebuf, "?");
		printf("  %-5u %-5s %-32s %s\n", l.index, nodebuf, l.path, strempty(hs));
	}
}

static void print_cache_locks_text(const struct locks_view *v)
{
	printf("\nCache locks (%s/.locks):\n", v->cache ? v->cache : "(no cache directory)");
	if (v->cache_locks.gl_pathc == 0)
		printf("  (none)\n");
	else
		printf("  %-40s %s\n", "LOCKFILE", "HOLDERS");
	for (size_t i = 0; i < v->cache_locks.gl_pathc; i++) {
		struct kts_llc_holders h = { 0 };
		_cleanup_free_ char *hs = NULL;

		(void) lock_holders(v->cache_locks.gl_pathv[i], &h.h, &h.n);
		hs = cli_fmt_holders(h.h, h.n);
		lock_holders_free(h.h, h.n);
		printf("  %-40s %s\n", v->cache_locks.gl_pathv[i], strempty(hs));
	}
}

int cli_locks(int argc, char **argv)
{
	struct locks_view v _cleanup_(locks_view_done) = { .lockdir = lock_dir_default() };
	bool json;
	int r;

	r = locks_parse(argc, argv, &json);
	if (r >= 0)
		return r;
	r = locks_collect(&v);
	if (r != KTS_EXIT_OK)
		return r;
	if (json)
		print_locks_json(&v);
	else {
		print_llc_locks_text(&v);
		print_cache_locks_text(&v);
	}
	return KTS_EXIT_OK;
}
