/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope kernel push|pull` and `kernel list|show --remote`: the kernel cache on an OCI
 * registry (registry.h, DESIGN §10). argv and the environment → the remote (--remote, else
 * KTSCOPE_REMOTE) → the cache's locks → one registry call → what the user sees: one result
 * line on stderr, the image path (pull) or the listing on stdout, or one NDJSON result event
 * with --json-events. The local cache commands, and `show`'s printing, are cli-kernel.c's.
 *
 * SIGINT, SIGTERM and SIGHUP stop a push or pull cleanly (interrupt.h): exit 128+N, and a
 * pull leaves no temporary directory.
 *
 * Locks, as a build takes them (cache.h): a push holds the entry's shared lock, so clean
 * cannot remove the entry while its files are read; a pull holds the key's build lock, so
 * neither a build nor another pull of the key runs meanwhile, and the store takes the
 * entry lock itself.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cache.h"
#include "cli.h"
#include "cli-kernel.h"
#include "interrupt.h"
#include "kconfig.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "progress.h"
#include "registry.h"
#include "util.h"

/* metadata.json is small; anything this large is not one. */
#define REMOTE_METADATA_MAX (1024 * 1024)

/* What argv asked for. */
struct remote_args {
	const char *remote;  /* --remote R, or R after --remote (list, show) */
	const char *ca_file; /* --ca-cert FILE */
	bool remote_flag;    /* --remote was given */
	bool insecure, json, force, push_dirty;
	const char *arg;     /* KEY|SPEC (push), KEY (pull, show) */
};

#define REMOTE_COMMON_OPTIONS                                    \
	{ "help", no_argument, NULL, 'h' },                      \
	{ "insecure", no_argument, NULL, 'k' },                  \
	{ "ca-cert", required_argument, NULL, 'C' }

static const struct option push_options[] = {
	REMOTE_COMMON_OPTIONS,
	{ "remote", required_argument, NULL, 'r' },
	{ "push-dirty", no_argument, NULL, 'd' },
	{ "json-events", no_argument, NULL, 'e' },
	{}
};

static const struct option pull_options[] = {
	REMOTE_COMMON_OPTIONS,
	{ "remote", required_argument, NULL, 'r' },
	{ "force", no_argument, NULL, 'f' },
	{ "json-events", no_argument, NULL, 'e' },
	{}
};

/* list and show: "--remote" alone reads KTSCOPE_REMOTE, or takes R as an argument. */
static const struct option listing_options[] = {
	REMOTE_COMMON_OPTIONS,
	{ "remote", optional_argument, NULL, 'r' },
	{ "json", no_argument, NULL, 'j' },
	{}
};

bool cli_kernel_wants_remote(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--"))
			return false;
		if (streq(argv[i], "--remote") || startswith(argv[i], "--remote="))
			return true;
	}
	return false;
}

/* Whether argv[i] is "--remote R"'s R: pass 0 takes a URL ("://"), pass 1 any '/' (a cache
 * key never has one, a remote always does); for list, the one argument. */
static bool is_remote_arg(const char *s, int pass, bool only_list_arg)
{
	return strstr(s, "://") || (pass > 0 && (strchr(s, '/') || only_list_arg));
}

/* "--remote R" of list and show, where R is an argument of its own (is_remote_arg()). */
static void take_remote_arg(int argc, char **argv, bool is_list, struct remote_args *a)
{
	for (int pass = 0; pass < 2; pass++)
		for (int i = optind; i < argc; i++) {
			if (!is_remote_arg(argv[i], pass, is_list && argc - optind == 1))
				continue;
			a->remote = argv[i];
			for (int j = i; j > optind; j--)
				argv[j] = argv[j - 1];
			optind++;
			return;
		}
}

/* The options and the one argument (none for list). 1 = --help, 0 = parsed, <0 = -exit. */
static int parse_args(int argc, char **argv, const struct option *options, struct remote_args *a)
{
	const char *cmd = argv[0];
	bool is_list = streq(cmd, "list"), listing = is_list || streq(cmd, "show");
	char what[32];
	int c;

	(void) snprintf(what, sizeof(what), "kernel %s", cmd);
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(cli_kernel_help, stdout);
			return 1;
		case 'r':
			a->remote_flag = true;
			a->remote = optarg;
			break;
		case 'k':
			a->insecure = true;
			break;
		case 'C':
			a->ca_file = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'e':
			progress_set_events(true);
			break;
		case 'f':
			a->force = true;
			break;
		case 'd':
			a->push_dirty = true;
			break;
		default:
			return -cli_option_error(c, argv, what);
		}
	}
	if (listing && a->remote_flag && !a->remote)
		take_remote_arg(argc, argv, is_list, a);
	if (!is_list && optind < argc)
		a->arg = argv[optind++];
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return -KTS_EXIT_USAGE;
	}
	if (!is_list && !a->arg) {
		log_error("'kernel %s' takes one %s (see 'ktscope kernel --help')", cmd,
			  streq(cmd, "push") ? "KEY or SPEC" : "KEY");
		return -KTS_EXIT_USAGE;
	}
	return 0;
}

/* The exit code of a registry failure (registry.h), after its one line. */
static int remote_failed(int r, const char *why, const char *what)
{
	int code = r == -EINVAL ? KTS_EXIT_USAGE
		 : r == -EACCES || r == -ELIBACC || r == -ELIBBAD ? KTS_EXIT_ENV
								    : KTS_EXIT_FAILURE;

	if (interrupt_pending())
		return code; /* interrupted() says so */
	if (why)
		log_error("%s", why);
	else
		log_error("%s: %s", what, strerror(-r));
	progress_event("result", "\"status\":\"failed\",\"exit\":%d", code);
	return code;
}

/*
 * The end of a push or pull run between interrupt_catch() and here: SIGINT, SIGTERM or SIGHUP
 * end the transfer (http.c looks between chunks) and the lock waits, and the pull's
 * temporary directory goes with it, instead of being left for a later sweep. Exit 128+N
 * after signal N, as the shell would say; else r.
 */
static int interrupted(const struct kts_interrupt_saved *saved, int r, const char *what)
{
	int sig = interrupt_pending();

	interrupt_restore(saved);
	if (!sig || r == KTS_EXIT_OK) /* done, and said so, before the signal counted */
		return r;
	log_notice("interrupted (signal %d); %s", sig, what);
	progress_event("result", "\"status\":\"failed\",\"exit\":%d", 128 + sig);
	return 128 + sig;
}

/* The registry of a->remote, else KTSCOPE_REMOTE; no traffic yet. */
static int open_registry(const struct kts_opts *o, const struct remote_args *a,
			 struct kts_registry **ret)
{
	struct kts_registry_opts ro = {
		.remote = a->remote ? a->remote : getenv_nonempty("KTSCOPE_REMOTE"),
		.ca_file = a->ca_file,
		.insecure = a->insecure,
		.progress = o->verbosity >= 0 && !progress_events_enabled(),
	};
	_cleanup_free_ char *why = NULL;
	int r;

	/* The transfer's progress line (registry.c), on a terminal only, not with -q. */
	progress_set_tty(ro.progress);
	if (!ro.remote) {
		log_error("no remote: give --remote oci://HOST[:PORT]/REPOSITORY or set "
			  "KTSCOPE_REMOTE");
		return KTS_EXIT_USAGE;
	}
	if (a->ca_file && access(a->ca_file, R_OK) < 0) {
		log_error("cannot read --ca-cert '%s': %m", a->ca_file);
		return KTS_EXIT_USAGE;
	}
	r = registry_open(&ro, ret, &why);
	if (r == -EINVAL && !why) {
		log_error("invalid remote '%s': expected oci://HOST[:PORT]/REPOSITORY", ro.remote);
		return KTS_EXIT_USAGE;
	}
	/* -EBADMSG here is a credentials file that is not JSON: the environment's (exit 4). */
	if (r < 0)
		return remote_failed(r == -EBADMSG ? -EACCES : r, why, "cannot use the remote");
	return KTS_EXIT_OK;
}

/* The same for a command whose argument must be a cache key (pull, show --remote). */
static int open_registry_for_key(const struct kts_opts *o, const struct remote_args *a,
				 struct kts_registry **ret)
{
	if (cache_key_validate(a->arg) < 0) {
		log_error("invalid cache key '%s' (see 'ktscope kernel list --remote')", a->arg);
		return KTS_EXIT_USAGE;
	}
	return open_registry(o, a, ret);
}

/* ---------------------------------------------------------------- push */

/* Pushes the entry under its shared lock (cli_kernel_lock_entry(): looked up again under it). */
static int push_locked(struct kts_registry *reg, const char *root, struct kts_cache_entry **e)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct kts_registry_stats st = { 0 };
	const char *key;
	char stats[512];
	int r;

	r = cli_kernel_lock_entry(root, e, &fd);
	if (r != KTS_EXIT_OK)
		return r;
	key = (*e)->key;
	r = registry_push(reg, (*e)->path, key, &st, &why);
	if (r < 0)
		return remote_failed(r, why, "cannot push");
	cli_log_pushed(key, registry_name(reg), &st);
	cli_registry_stats_json(&st, stats, sizeof(stats));
	progress_event("result", "\"status\":\"pushed\",\"key\":%s,\"registry\":%s,%s",
		       progress_json_str(key), progress_json_str(registry_name(reg)), stats);
	return KTS_EXIT_OK;
}

int cli_kernel_push(const struct kts_opts *o, int argc, char **argv)
{
	_cleanup_registry_ struct kts_registry *reg = NULL;
	_cleanup_cache_entry_ struct kts_cache_entry *e = NULL;
	_cleanup_free_ char *root = NULL;
	struct kts_interrupt_saved saved;
	struct remote_args a = { 0 };
	int r;

	r = parse_args(argc, argv, push_options, &a);
	if (r != 0)
		return r > 0 ? KTS_EXIT_OK : -r;
	r = open_registry(o, &a, &reg);
	if (r != KTS_EXIT_OK)
		return r;
	r = cli_kernel_open_root(&root);
	if (r != KTS_EXIT_OK)
		return r;
	r = cli_kernel_resolve(root, a.arg, &e);
	if (r != KTS_EXIT_OK)
		return r;
	if (e->dirty && !a.push_dirty) {
		log_error("'%s' was built from a tree with uncommitted changes: it stays local "
			  "unless pushed with --push-dirty", e->key);
		return KTS_EXIT_USAGE;
	}
	interrupt_catch(&saved);
	r = push_locked(reg, root, &e);
	return interrupted(&saved, r, "the push did not finish");
}

/* ---------------------------------------------------------------- pull */

/* The key's build lock (cache.h), as a build takes it: waits, saying for whom. */
static int lock_key(const char *root, const char *key, int *ret_fd)
{
	_cleanup_free_ char *path = NULL, *what = NULL;
	int r;

	if (cache_build_lock_path(root, key, &path) < 0 || asprintf(&what, "'%s'", key) < 0)
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	r = cache_lock_wait(root, path, what, true, false, ret_fd);
	if (r >= 0)
		return KTS_EXIT_OK;
	if (r == -EINTR || interrupt_pending())
		return cli_exit_code(r);
	log_error_errno(r, "cannot lock '%s' (%s): %m (set KTSCOPE_CACHE_DIR to a writable place)",
			key, path);
	return KTS_EXIT_ENV;
}

/* The pulled (st) or already cached entry's image path: stdout, or the result event. */
static int pulled(const char *root, const char *key, const char *remote,
		  const struct kts_registry_stats *st)
{
	_cleanup_cache_entry_ struct kts_cache_entry *e = NULL;
	_cleanup_free_ char *why = NULL;
	char stats[512];

	if (cache_lookup(root, key, kconfig_fragment_sha256(), &e, &why) != 1) {
		log_error("'%s' was stored but cannot be read back: %s", key,
			  why ? why : "no such entry");
		return KTS_EXIT_FAILURE;
	}
	if (st) {
		cli_registry_stats_json(st, stats, sizeof(stats));
		progress_event("result", "\"status\":\"pulled\",\"key\":%s,\"image\":%s,"
			       "\"registry\":%s,%s", progress_json_str(key),
			       progress_json_str(e->image_path), progress_json_str(remote), stats);
	} else
		progress_event("result", "\"status\":\"cached\",\"key\":%s,\"image\":%s",
			       progress_json_str(key), progress_json_str(e->image_path));
	if (!progress_events_enabled())
		puts(e->image_path);
	return KTS_EXIT_OK;
}

/* The pull under the key's build lock, unless the entry is cached (and not force). */
static int pull_locked(struct kts_registry *reg, const char *root, const char *key, bool force)
{
	_cleanup_cache_entry_ struct kts_cache_entry *e = NULL;
	_cleanup_free_ char *why = NULL;
	_cleanup_close_ int lock_fd = -EBADF;
	struct kts_registry_stats st = { 0 };
	int r;

	r = lock_key(root, key, &lock_fd);
	if (r != KTS_EXIT_OK)
		return r;
	if (!force && cache_lookup(root, key, kconfig_fragment_sha256(), &e, NULL) == 1) {
		log_notice("'%s' is cached already (%s); left alone (--force pulls it again)", key,
			   e->path);
		return pulled(root, key, NULL, NULL);
	}
	r = registry_pull(reg, root, key, &st, NULL, &why);
	if (r == 0) {
		log_error("no entry '%s' in %s (see 'ktscope kernel list --remote')", key,
			  registry_name(reg));
		progress_event("result", "\"status\":\"failed\",\"exit\":%d", KTS_EXIT_FAILURE);
		return KTS_EXIT_FAILURE;
	}
	if (r < 0)
		return remote_failed(r, why, "cannot pull");
	cli_log_pulled(key, registry_name(reg), &st);
	return pulled(root, key, registry_name(reg), &st);
}

int cli_kernel_pull(const struct kts_opts *o, int argc, char **argv)
{
	_cleanup_registry_ struct kts_registry *reg = NULL;
	_cleanup_free_ char *root = NULL;
	struct kts_interrupt_saved saved;
	struct remote_args a = { 0 };
	int r;

	r = parse_args(argc, argv, pull_options, &a);
	if (r != 0)
		return r > 0 ? KTS_EXIT_OK : -r;
	r = open_registry_for_key(o, &a, &reg);
	if (r != KTS_EXIT_OK)
		return r;
	r = cli_kernel_open_root(&root);
	if (r != KTS_EXIT_OK)
		return r;
	interrupt_catch(&saved);
	r = pull_locked(reg, root, a.arg, a.force);
	return interrupted(&saved, r, "nothing was stored");
}

/* ---------------------------------------------------------------- list, show */

int cli_kernel_list_remote(const struct kts_opts *o, int argc, char **argv)
{
	_cleanup_registry_ struct kts_registry *reg = NULL;
	_cleanup_free_ char *why = NULL;
	struct remote_args a = { 0 };
	char **tags = NULL;
	size_t n = 0;
	int r;

	r = parse_args(argc, argv, listing_options, &a);
	if (r != 0)
		return r > 0 ? KTS_EXIT_OK : -r;
	r = open_registry(o, &a, &reg);
	if (r != KTS_EXIT_OK)
		return r;
	r = registry_tags(reg, &tags, &n, &why);
	if (r < 0)
		return remote_failed(r, why, "cannot list the remote");
	if (a.json) {
		_cleanup_json_ struct json_object *j = json_object_new_object();
		struct json_object *t = json_object_new_array();

		json_object_object_add(j, "remote", json_object_new_string(registry_name(reg)));
		for (size_t i = 0; i < n; i++)
			json_object_array_add(t, progress_json_string(tags[i]));
		json_object_object_add(j, "tags", t);
		cli_print_json(j);
	} else {
		printf("Remote: %s\n", registry_name(reg));
		if (n == 0)
			printf("  (none)\n");
		for (size_t i = 0; i < n; i++)
			printf("  %s\n", tags[i]);
	}
	strv_free(tags, n);
	return KTS_EXIT_OK;
}

int cli_kernel_show_remote(const struct kts_opts *o, int argc, char **argv)
{
	_cleanup_registry_ struct kts_registry *reg = NULL;
	_cleanup_metadata_ struct kts_metadata *m = NULL;
	_cleanup_free_ char *why = NULL, *text = NULL, *ref = NULL;
	struct remote_args a = { 0 };
	size_t len = 0;
	int r;

	r = parse_args(argc, argv, listing_options, &a);
	if (r != 0)
		return r > 0 ? KTS_EXIT_OK : -r;
	r = open_registry_for_key(o, &a, &reg);
	if (r != KTS_EXIT_OK)
		return r;
	if (asprintf(&ref, "%s:%s", registry_name(reg), a.arg) < 0)
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	r = registry_get_file(reg, a.arg, METADATA_FILENAME, REMOTE_METADATA_MAX, &text, &len, &why);
	if (r == 0 || r == -ENOENT) {
		if (r == 0)
			log_error("no entry '%s' in %s (see 'ktscope kernel list --remote')", a.arg,
				  registry_name(reg));
		else
			log_error("the entry %s has no metadata.json", ref);
		return KTS_EXIT_FAILURE;
	}
	if (r < 0)
		return remote_failed(r, why, "cannot read the remote entry");
	r = metadata_parse(text, len, &m, &why);
	if (r == -ENOMEM)
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	if (r < 0 || !streq(m->key, a.arg)) {
		log_error("the metadata.json of %s is not this entry's: %s", ref,
			  r < 0 ? strempty(why) : "another key");
		return KTS_EXIT_FAILURE;
	}
	return cli_kernel_show_metadata(m, NULL, NULL, ref, a.json);
}
