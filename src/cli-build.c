/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope build`: argv and the environment → a struct kts_build_request → build_run()
 * (build.c, the steps) → what the user sees: the image path on stdout, the outcome on
 * stderr, NDJSON result events. The in-scope half of a build is build-inner.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "cli.h"
#include "compile.h"
#include "engine.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "pipeline.h"
#include "progress.h"
#include "registry.h"
#include "scope.h"
#include "source.h"
#include "stamps.h"

static const char build_help[] =
	"Usage: ktscope [--user|--system] build [SPEC] [OPTIONS] [-- NAME=VALUE...]\n"
	"\n"
	"Build a sched_ext-capable kernel on a CPU reservation, inside a systemd\n"
	"transient scope, and store it in the kernel cache. A build whose inputs are\n"
	"already cached runs no make and prints the cached entry.\n"
	"\n"
	"SPEC: a release (6.12.3, 6.12 = newest 6.12.y, stable, mainline), a kernel\n"
	"tree directory, or git+URL#REF. Without SPEC or a source option: the current\n"
	"directory when it is a kernel tree, else stable.\n"
	"\n"
	"Source options:\n"
	"  --source DIR           a local kernel tree (git trees are cached, dirty ones\n"
	"                         under a key naming their changes; non-git trees are\n"
	"                         built but not cached)\n"
	"  --tarball FILE|URL     a kernel tarball, e.g. /usr/src/linux-source-6.12.tar.xz\n"
	"  --git URL --ref REF    a git repository and a branch, tag or commit\n"
	"\n"
	"Configuration:\n"
	"  --base BASE            defconfig (default), tinyconfig, kvm_guest, or a\n"
	"                         config file; ktscope's fragment goes on top\n"
	"  --extra-kconfig FILE   more kconfig lines on top (repeatable; later wins)\n"
	"  --build-dir DIR        build out of tree (make O=DIR)\n"
	"  --clean                make mrproper first (local trees only)\n"
	"\n"
	"Reservation and scope:\n"
	"  --cpu-cap N            build on exactly N CPUs, make -jN (env KTSCOPE_CPU_CAP;\n"
	"                         default: 30% of the allowed CPUs)\n"
	"  --enforce MODE         auto (default), cgroup (fail with exit 4 unless the\n"
	"                         scope's cgroup enforces the CPUs), or affinity\n"
	"  --no-wait              fail (exit 3) instead of waiting for CPUs held by others\n"
	"\n"
	"Make variables (last, after --; part of the cache key):\n"
	"  -- NAME=VALUE...       for every make run, e.g. -- LLVM=1, -- CC=clang-16,\n"
	"                         -- KCFLAGS=-Og; CC, LD and LLVM choose the compiler\n"
	"                         and linker the key fingerprints. Not allowed: O (use\n"
	"                         --build-dir), ARCH, SRCARCH, CROSS_COMPILE,\n"
	"                         KCONFIG_CONFIG\n"
	"\n"
	"Reproducible builds (stamps are not part of the cache key):\n"
	"  --no-reproducible      let Kbuild stamp its own date, user and host; by\n"
	"                         default KBUILD_BUILD_TIMESTAMP is SOURCE_DATE_EPOCH,\n"
	"                         else the commit date (git), else the tarball's date,\n"
	"                         else one derived from the source; USER and HOST are\n"
	"                         ktscope, VERSION 1; a -- KBUILD_BUILD_*=VALUE wins\n"
	"\n"
	"Cache:\n"
	"  --force                rebuild even when the inputs are cached\n"
	"  --no-cache             build without storing the result\n"
	"  --headers              also make headers_install into the entry (headers/;\n"
	"                         not part of the key: a cached entry without them is\n"
	"                         rebuilt; kept local, never pushed; needs rsync)\n"
	"\n"
	"Compiles (none of these changes the cache key):\n"
	"  --ccache[=DIR]         compile through ccache (>= 4.7.3); its cache is DIR, else\n"
	"                         the one CCACHE_DIR or ccache.conf names, else\n"
	"                         $KTSCOPE_CACHE_DIR/ccache (env KTSCOPE_CCACHE=1|DIR)\n"
	"  --ccache-remote URL    ccache's remote storage too (implies --ccache):\n"
	"                         redis://[[USER:]PASSWORD@]HOST[:PORT], http://HOST/PATH,\n"
	"                         file:DIR; credentials are never shown or stored\n"
	"\n"
	"Distributed compiles (the local part stays on the reserved CPUs):\n"
	"  --distcc[=HOSTS]       compile on distcc hosts (distcc(1) host syntax, e.g.\n"
	"                         'build1/8 build2:3632/4,lzo'; without HOSTS:\n"
	"                         $DISTCC_HOSTS). The remote hosts must have the same\n"
	"                         compiler (version and target) as this machine. Hosts\n"
	"                         that do not answer are left out; when none answers,\n"
	"                         the build is local (one warning)\n"
	"  --icecc                compile on the icecream cluster: the scheduler as iceccd\n"
	"                         finds it (ICECC_SCHEDULER=HOST[:PORT], else\n"
	"                         ICECC_SCHEDULER_HOST in /etc/icecc/icecc.conf, else a\n"
	"                         broadcast), this machine's iceccd running; the compiler\n"
	"                         is packed once (icecc-create-env, kept in the cache)\n"
	"                         and shipped, so remote compilers are this one; no\n"
	"                         scheduler or daemon: the build is local (one warning)\n"
	"  --remote-jobs N        make -j adds N (1-1024) instead of the hosts' slots\n"
	"                         (distcc) or the slots the scheduler reports (icecc)\n"
	"\n"
	"Registry (an OCI registry as the team's kernel cache; none of these changes\n"
	"the key):\n"
	"  --remote oci://HOST[:PORT]/REPOSITORY\n"
	"                         on a local miss, pull the entry from the registry\n"
	"                         instead of building it (env KTSCOPE_REMOTE); a\n"
	"                         registry that fails is one warning and a local build\n"
	"  --push                 push the entry once stored (or found cached); a failed\n"
	"                         push keeps the entry, prints its image and exits 1\n"
	"  --push-dirty           push an entry of a dirty tree too (implies --push;\n"
	"                         without it such entries stay local)\n"
	"  --insecure             plain http to a registry other than localhost\n"
	"  --ca-cert FILE         trust the CAs of this PEM file (env KTSCOPE_CA_CERT)\n"
	"\n"
	"Output:\n"
	"  --json-events          NDJSON events on stdout (phases, progress, cache hit or\n"
	"                         miss, reservation, result)\n"
	"  -h, --help             show this help\n"
	"\n"
	"The image path is printed on stdout; progress and messages go to stderr.\n"
	"Environment: KTSCOPE_CACHE_DIR, KTSCOPE_CPU_CAP, KTSCOPE_CCACHE, KTSCOPE_LOCK_DIR,\n"
	"KTSCOPE_KERNEL_MIRROR, KTSCOPE_BYPASS_LOCKS, KTSCOPE_SCOPE=none, DISTCC_HOSTS,\n"
	"ICECC_SCHEDULER, SOURCE_DATE_EPOCH, KTSCOPE_REMOTE, KTSCOPE_CA_CERT,\n"
	"KTSCOPE_GIT.\n"
	"\n"
	"Exit status: 0 built, cached or pulled, 1 build, store or --push failed, 2 bad\n"
	"option, value, tree, fragment, host list or remote, 3 CPUs not available\n"
	"(--no-wait), 4 environment (no systemd manager, no toolchain, unusable cache\n"
	"directory, no distcc or icecc, no rsync for --headers, an unreadable registry\n"
	"credentials file).\n";

/* ---------------------------------------------------------------- build */

/* What argv (and the environment) asked for, before any work. */
struct build_args {
	const char *source_dir, *tarball, *git_url, *git_ref, *positional, *cpu_cap;
	bool ccache_flag;     /* --ccache[=DIR] or --ccache-remote: KTSCOPE_CCACHE is not read */
	const char *ccache_dir; /* --ccache=DIR as given */
	char *ccache_dir_abs;
	const char *remote_jobs; /* --remote-jobs N as given */
	const char **extra;
	char **make_vars;
	size_t n_make_vars;
	struct kts_build_request req;
};

static void build_args_done(struct build_args *a)
{
	free(a->extra);
	free(a->ccache_dir_abs);
	strv_free(a->make_vars, a->n_make_vars);
	source_spec_done(&a->req.spec);
}

/* Make variables come last, after "--": options end there. Returns the new argc or <0. */
static int parse_make_vars(int argc, char **argv, struct build_args *a)
{
	_cleanup_free_ char *why = NULL;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!streq(argv[i], "--"))
			continue;
		r = pipeline_make_vars(argv + i + 1, (size_t) (argc - i - 1), &a->make_vars,
				       &a->n_make_vars, &why);
		if (r == -ENOMEM)
			return log_error("out of memory"), -KTS_EXIT_FAILURE;
		if (r < 0)
			return log_error("%s", strempty(why)), -KTS_EXIT_USAGE;
		return i;
	}
	return argc;
}

/* --distcc and --icecc: one distributed engine at most. */
static int set_engine(struct kts_build_request *q, enum kts_compile_engine e)
{
	if (q->compile.engine != KTS_ENGINE_NONE && q->compile.engine != e) {
		log_error("--distcc and --icecc are exclusive: give one distributed engine");
		return -KTS_EXIT_USAGE;
	}
	q->compile.engine = e;
	return 0;
}

/* build's long options (getopt_long()). */
static const struct option build_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "user", no_argument, NULL, 'U' },
	{ "system", no_argument, NULL, 'S' },
	{ "source", required_argument, NULL, 's' },
	{ "tarball", required_argument, NULL, 't' },
	{ "git", required_argument, NULL, 'g' },
	{ "ref", required_argument, NULL, 'r' },
	{ "base", required_argument, NULL, 'b' },
	{ "extra-kconfig", required_argument, NULL, 'x' },
	{ "build-dir", required_argument, NULL, 'O' },
	{ "cpu-cap", required_argument, NULL, 'c' },
	{ "enforce", required_argument, NULL, 'e' },
	{ "clean", no_argument, NULL, 'C' },
	{ "force", no_argument, NULL, 'f' },
	{ "headers", no_argument, NULL, 'H' },
	{ "no-cache", no_argument, NULL, 'N' },
	{ "no-wait", no_argument, NULL, 'n' },
	{ "json-events", no_argument, NULL, 'j' },
	{ "ccache", optional_argument, NULL, 'K' },
	{ "ccache-remote", required_argument, NULL, 'R' },
	{ "distcc", optional_argument, NULL, 'D' },
	{ "icecc", no_argument, NULL, 'I' },
	{ "remote-jobs", required_argument, NULL, 'J' },
	{ "no-reproducible", no_argument, NULL, 'P' },
	{ "remote", required_argument, NULL, 'M' },
	{ "push", no_argument, NULL, 'p' },
	{ "push-dirty", no_argument, NULL, 'y' },
	{ "insecure", no_argument, NULL, 'k' },
	{ "ca-cert", required_argument, NULL, 'A' },
	{}
};

/* --remote, --push, --push-dirty, --insecure, --ca-cert: true when c is one of them. */
static bool registry_option(int c, struct kts_build_request *q)
{
	switch (c) {
	case 'M':
		q->registry.remote = optarg;
		return true;
	case 'y':
		q->push_dirty = q->push = true;
		return true;
	case 'p':
		q->push = true;
		return true;
	case 'k':
		q->registry.insecure = true;
		return true;
	case 'A':
		q->registry.ca_file = optarg;
		return true;
	default:
		return false;
	}
}

/* --clean, --force, --headers, --no-cache, --no-wait, --no-reproducible: true when c is one. */
static bool flag_option(int c, struct kts_build_request *q)
{
	bool *flag;

	switch (c) {
	case 'C':
		flag = &q->clean;
		break;
	case 'f':
		flag = &q->force;
		break;
	case 'H':
		flag = &q->headers;
		break;
	case 'N':
		flag = &q->no_cache;
		break;
	case 'n':
		flag = &q->no_wait;
		break;
	case 'P':
		flag = &q->no_reproducible;
		break;
	default:
		return false;
	}
	*flag = true;
	return true;
}

/* The options; 1 = --help was printed, 0 = parsed, <0 = -exit code (logged). */
static int parse_options(int argc, char **argv, struct build_args *a)
{
	struct kts_build_request *q = &a->req;
	int c;

	while ((c = getopt_long(argc, argv, ":h", build_options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(build_help, stdout);
			return 1;
		case 'U':
			q->manager = KTS_MANAGER_USER;
			break;
		case 'S':
			q->manager = KTS_MANAGER_SYSTEM;
			break;
		case 's':
			a->source_dir = optarg;
			break;
		case 't':
			a->tarball = optarg;
			break;
		case 'g':
			a->git_url = optarg;
			break;
		case 'r':
			a->git_ref = optarg;
			break;
		case 'b':
			q->base = optarg;
			break;
		case 'x':
			a->extra[q->n_extra++] = optarg;
			break;
		case 'O':
			q->build_dir = optarg;
			break;
		case 'c':
			a->cpu_cap = optarg;
			break;
		case 'e':
			if (enforcement_from_string(optarg, &q->enforce) < 0) {
				log_error("invalid --enforce '%s': expected auto, cgroup or affinity", optarg);
				return -KTS_EXIT_USAGE;
			}
			break;
		case 'j':
			progress_set_events(true);
			break;
		case 'K':
			a->ccache_flag = q->compile.ccache = true;
			a->ccache_dir = optarg;
			break;
		case 'R':
			a->ccache_flag = q->compile.ccache = true;
			q->compile.ccache_remote = optarg;
			break;
		case 'I':
			if (set_engine(q, KTS_ENGINE_ICECC) < 0)
				return -KTS_EXIT_USAGE;
			break;
		case 'D':
			if (set_engine(q, KTS_ENGINE_DISTCC) < 0)
				return -KTS_EXIT_USAGE;
			q->compile.distcc_hosts = optarg;
			break;
		case 'J':
			a->remote_jobs = optarg;
			break;
		default:
			if (flag_option(c, q) || registry_option(c, q))
				break;
			return -cli_option_error(c, argv, "build");
		}
	}
	if (optind < argc)
		a->positional = argv[optind++];
	if (optind < argc) {
		log_error("unexpected argument '%s' (one SPEC at most; see 'ktscope build --help')",
			  argv[optind]);
		return -KTS_EXIT_USAGE;
	}
	return 0;
}

/* SOURCE_DATE_EPOCH, which the stamps use (stamps.h): a bad value is refused before any work. */
static int check_source_date_epoch(struct build_args *a)
{
	const char *sde = getenv_nonempty("SOURCE_DATE_EPOCH");
	int64_t t;

	if (!sde || a->req.no_reproducible)
		return 0;
	if (stamps_parse_epoch(sde, &t) < 0) {
		log_error("invalid SOURCE_DATE_EPOCH '%s': expected seconds since 1970 (0-%lld)",
			  sde, (long long) STAMPS_EPOCH_MAX);
		return -KTS_EXIT_USAGE;
	}
	a->req.source_date_epoch = sde;
	return 0;
}

/* The environment a build refuses, and the variables it reads. */
static int check_env(struct build_args *a)
{
	const char *scope_env = getenv_nonempty("KTSCOPE_SCOPE");

	if (getenv_nonempty("KTSCOPE_SYSROOT")) {
		log_error("KTSCOPE_SYSROOT is set: 'build' works on this host only; unset it");
		return -KTS_EXIT_USAGE;
	}
	if (scope_env && !streq(scope_env, "none")) {
		log_error("invalid KTSCOPE_SCOPE '%s': the only value is 'none'", scope_env);
		return -KTS_EXIT_USAGE;
	}
	if (scope_env && a->req.enforce == KTS_ENFORCE_CGROUP) {
		log_error("--enforce cgroup needs a systemd scope, but KTSCOPE_SCOPE=none");
		return -KTS_EXIT_USAGE;
	}
	if (cli_resolve_cpu_cap(a->cpu_cap, &a->req.cpus) != KTS_EXIT_OK)
		return -KTS_EXIT_USAGE;
	return check_source_date_epoch(a);
}

/* --ccache[=DIR], else KTSCOPE_CCACHE; a --ccache-remote URL without its credentials. */
static int resolve_ccache(struct build_args *a)
{
	struct kts_compile_request *c = &a->req.compile;
	const char *env = getenv("KTSCOPE_CCACHE");
	_cleanup_free_ char *shown = NULL, *cwd = NULL;
	int r;

	if (!a->ccache_flag && compile_ccache_env(env, &c->ccache, &c->ccache_dir) < 0) {
		log_error("invalid KTSCOPE_CCACHE '%s': expected 0, no, 1, yes or an absolute "
			  "directory", env);
		return -KTS_EXIT_USAGE;
	}
	if (a->ccache_dir && !*a->ccache_dir) {
		log_error("invalid --ccache '': give a directory (--ccache=DIR) or none (--ccache)");
		return -KTS_EXIT_USAGE;
	}
	if (a->ccache_dir && a->ccache_dir[0] != '/') {
		cwd = getcwd(NULL, 0);
		if (!cwd || asprintf(&a->ccache_dir_abs, "%s/%s", cwd, a->ccache_dir) < 0)
			return log_error("cannot resolve --ccache '%s': %m", a->ccache_dir),
			       -KTS_EXIT_FAILURE;
	}
	if (a->ccache_dir)
		c->ccache_dir = a->ccache_dir_abs ? a->ccache_dir_abs : a->ccache_dir;
	if (!c->ccache_remote)
		return 0;
	r = compile_remote_check(c->ccache_remote, &shown);
	if (r == -ENOMEM)
		return log_error("out of memory"), -KTS_EXIT_FAILURE;
	if (r < 0) {
		log_error("invalid --ccache-remote '%s': expected one ccache remote storage URL "
			  "(redis://HOST[:PORT], redis+unix:SOCKET, http://HOST[/PATH], file:DIR)",
			  strempty(shown));
		return -KTS_EXIT_USAGE;
	}
	return 0;
}

/* --distcc's host list (checked now: a bad one is exit 2 before any work), --remote-jobs. */
static int resolve_engine(struct build_args *a)
{
	struct kts_compile_request *c = &a->req.compile;
	struct engine_hosts h _cleanup_(engine_hosts_done) = { 0 };
	_cleanup_free_ char *why = NULL;
	char *end = NULL;
	unsigned long n;

	if (a->remote_jobs) {
		errno = 0;
		n = strtoul(a->remote_jobs, &end, 10);
		if (a->remote_jobs[0] < '0' || a->remote_jobs[0] > '9' || *end || errno ||
		    n < 1 || n > ENGINE_HOST_MAX_SLOTS) {
			log_error("invalid --remote-jobs '%s': expected a number 1-%d", a->remote_jobs,
				  ENGINE_HOST_MAX_SLOTS);
			return -KTS_EXIT_USAGE;
		}
		if (c->engine == KTS_ENGINE_NONE) {
			log_error("--remote-jobs needs a distributed engine (--distcc or --icecc)");
			return -KTS_EXIT_USAGE;
		}
		c->remote_jobs = (unsigned) n;
	}
	if (c->engine != KTS_ENGINE_DISTCC)
		return 0;
	if (!c->distcc_hosts && a->positional && !startswith(a->positional, "git+") &&
	    strpbrk(a->positional, "/:@,") && access(a->positional, F_OK) < 0 &&
	    engine_distcc_hosts_parse(a->positional, &h, NULL) == 0) {
		log_error("--distcc takes its hosts after '=': --distcc='%s'", a->positional);
		return -KTS_EXIT_USAGE;
	}
	if (!c->distcc_hosts)
		c->distcc_hosts = getenv_nonempty("DISTCC_HOSTS");
	if (!c->distcc_hosts) {
		log_error("--distcc needs a host list: --distcc=HOSTS, or DISTCC_HOSTS set");
		return -KTS_EXIT_USAGE;
	}
	if (engine_distcc_hosts_parse(c->distcc_hosts, &h, &why) < 0) {
		log_error("%s", why ? why : "out of memory");
		return why ? -KTS_EXIT_USAGE : -KTS_EXIT_FAILURE;
	}
	return 0;
}

/*
 * --remote, else KTSCOPE_REMOTE, checked before any work (registry_open() sends nothing): a
 * bad value is exit 2, a credentials file that is not JSON exit 4. --push needs a remote and
 * a stored entry.
 */
static int resolve_remote(struct build_args *a)
{
	struct kts_registry_opts *ro = &a->req.registry;
	_cleanup_registry_ struct kts_registry *reg = NULL;
	_cleanup_free_ char *why = NULL;
	int r;

	if (!ro->remote)
		ro->remote = getenv_nonempty("KTSCOPE_REMOTE");
	if (a->req.push && !ro->remote) {
		log_error("--push needs a remote: --remote oci://HOST[:PORT]/REPOSITORY, or "
			  "KTSCOPE_REMOTE set");
		return -KTS_EXIT_USAGE;
	}
	if (a->req.push && a->req.no_cache) {
		log_error("--push pushes the stored entry, and --no-cache stores none");
		return -KTS_EXIT_USAGE;
	}
	if (!ro->remote)
		return 0;
	if (ro->ca_file && access(ro->ca_file, R_OK) < 0) {
		log_error("cannot read --ca-cert '%s': %m", ro->ca_file);
		return -KTS_EXIT_USAGE;
	}
	ro->progress = a->req.verbosity >= 0 && !progress_events_enabled();
	r = registry_open(ro, &reg, &why);
	if (r == -ENOMEM)
		return log_error("out of memory"), -KTS_EXIT_FAILURE;
	if (r < 0 && !why)
		log_error("invalid remote '%s': expected oci://HOST[:PORT]/REPOSITORY", ro->remote);
	else if (r < 0)
		log_error("%s", why);
	if (r < 0)
		return r == -EINVAL ? -KTS_EXIT_USAGE : -KTS_EXIT_ENV;
	return 0;
}

/* Which source: SPEC, a flag, the current directory when it is a kernel tree, or stable. */
static int resolve_source(struct build_args *a)
{
	int r;

	if (!!a->positional + !!a->source_dir + !!a->tarball + !!a->git_url > 1) {
		log_error("give one source: SPEC, --source, --tarball or --git");
		return -KTS_EXIT_USAGE;
	}
	if (!!a->git_url != !!a->git_ref) {
		log_error("--git and --ref go together (e.g. --git URL --ref v6.12)");
		return -KTS_EXIT_USAGE;
	}
	a->req.spec_is_local_dir = a->positional || a->source_dir;
	if (a->positional)
		r = source_spec_parse(a->positional, &a->req.spec);
	else if (a->source_dir)
		r = source_spec_local(a->source_dir, &a->req.spec);
	else if (a->tarball)
		r = source_spec_tarball(a->tarball, &a->req.spec);
	else if (a->git_url)
		r = source_spec_git(a->git_url, a->git_ref, &a->req.spec);
	else
		r = source_spec_default(&a->req.spec);
	if (r < 0) {
		log_error("invalid source '%s'", a->positional ? a->positional : strempty(a->git_url));
		return -KTS_EXIT_USAGE;
	}
	return 0;
}

/*
 * "; ccache 812/840 hits (97%), 3 remote" for a build that used ccache, then
 * "; distcc HOSTS (+4 jobs)" or "; built locally: distcc: ..." when an engine was asked
 * for (engine_summary()); else "".
 */
static void ccache_summary(const struct kts_compile_stats *s, const char *distributed,
			   char *buf, size_t n)
{
	char stats[96] = "";

	if (s->present)
		compile_stats_format(s, stats, sizeof(stats));
	(void) snprintf(buf, n, "%s%s%s%s", s->present ? "; ccache " : "", stats,
			distributed ? "; " : "", strempty(distributed));
}

/* The result event's "ccache" member: ",\"ccache\":{...}" or "". */
static void ccache_event(const struct kts_compile_stats *s, char *buf, size_t n)
{
	buf[0] = 0;
	if (!s->present)
		return;
	(void) snprintf(buf, n, ",\"ccache\":{\"hits\":%" PRIu64 ",\"misses\":%" PRIu64
			",\"direct_hits\":%" PRIu64 ",\"preprocessed_hits\":%" PRIu64
			",\"uncacheable\":%" PRIu64 ",\"remote_hits\":%" PRIu64
			",\"errors\":%" PRIu64 "}", compile_stats_hits(s), s->misses, s->direct_hits,
			s->preprocessed_hits, s->uncacheable, s->remote_hits, s->errors);
}

/* What --push did: one line on stderr; a "push" event when it was not pushed (registry.c
 * writes the one of a push, and one per blob). */
static void report_push(const struct kts_build_result *res)
{
	if (res->not_pushed) {
		log_notice("'%s' is not pushed: %s", res->key, res->not_pushed);
		progress_event("push", "\"registry\":%s,\"key\":%s,\"result\":\"kept_local\","
			       "\"reason\":%s", progress_json_str(res->remote),
			       progress_json_str(res->key), progress_json_str(res->not_pushed));
	} else if (res->pushed)
		cli_log_pushed(res->key, res->remote, &res->push);
	else if (res->push_error)
		progress_event("push", "\"registry\":%s,\"key\":%s,\"result\":\"failed\","
			       "\"error\":%s", progress_json_str(res->remote),
			       progress_json_str(res->key), progress_json_str(res->push_error));
}

/*
 * A build that ran make: where its time and memory went, a "telemetry" event with every
 * number, its source and the phases (before the result event, which stays the last), and
 * one line on stderr ("telemetry: user 1,512 s, sys 190 s, peak 1.9 GiB, CPU pressure 12%")
 * after the build's own.
 */
static bool ran_make(const struct kts_build_result *res)
{
	return res->outcome == KTS_BUILD_STORED || res->outcome == KTS_BUILD_UNCACHED;
}

static void report_telemetry_event(const struct kts_build_result *res)
{
	struct json_object *ev = NULL;

	if (ran_make(res) && progress_events_enabled() &&
	    telemetry_event_json(&res->telemetry, &res->phases, &ev) >= 0)
		progress_emit("telemetry", ev);
}

static void report_telemetry_line(const struct kts_build_result *res)
{
	_cleanup_free_ char *line = NULL;

	if (ran_make(res) && telemetry_summary(&res->telemetry, &line) >= 0 && line)
		log_notice("telemetry: %s", line);
}

/* The outcome: stderr for people, stdout for the image path (or NDJSON). */
static void report(const struct kts_build_result *res)
{
	char when[METADATA_TIME_MAX], cc[512], ev[512];

	ccache_summary(&res->ccache, res->distributed, cc, sizeof(cc));
	ccache_event(&res->ccache, ev, sizeof(ev));
	report_telemetry_event(res);
	switch (res->outcome) {
	case KTS_BUILD_CACHED:
		metadata_format_time(res->built_at, when);
		log_notice("cached: %s (built %s); use --force to rebuild", res->key, when);
		progress_event("result", "\"status\":\"cached\",\"key\":%s,\"image\":%s",
			       progress_json_str(res->key), progress_json_str(res->image_path));
		break;
	case KTS_BUILD_STORED:
		log_notice("built and cached %s in %.0f s (make -j%u, enforcement %s)%s", res->key,
			   res->seconds, res->make_jobs, enforcement_to_string(res->enforcement), cc);
		progress_event("result", "\"status\":\"built\",\"cached\":true,\"key\":%s,\"image\":%s%s",
			       progress_json_str(res->key), progress_json_str(res->image_path), ev);
		break;
	case KTS_BUILD_UNCACHED:
		log_notice("built in %.0f s (not cached)%s", res->seconds, cc);
		progress_event("result", "\"status\":\"built\",\"cached\":false,\"image\":%s%s",
			       progress_json_str(res->image_path), ev);
		break;
	case KTS_BUILD_PULLED:
		cli_log_pulled(res->key, res->remote, &res->pull);
		cli_registry_stats_json(&res->pull, ev, sizeof(ev));
		progress_event("result", "\"status\":\"pulled\",\"key\":%s,\"image\":%s,"
			       "\"registry\":%s,%s", progress_json_str(res->key),
			       progress_json_str(res->image_path), progress_json_str(res->remote), ev);
		break;
	}
	report_telemetry_line(res);
	report_push(res);
	if (!progress_events_enabled())
		printf("%s\n", res->image_path);
}

static void report_failure(int r, const char *why, const struct kts_build_result *res)
{
	if (r == -EINTR && res->outcome == KTS_BUILD_STORED)
		log_notice("the build was interrupted (signal %d) after '%s' was stored",
			   res->signal, strempty(res->key));
	else if (r == -EINTR)
		log_notice("the build was interrupted (signal %d); nothing was stored", res->signal);
	else if (why)
		log_error("%s", why);
	else if (res->failed_log)
		log_error("the build of '%s' failed; full log: '%s'", strempty(res->label),
			  res->failed_log);
}

int cli_build(const struct kts_opts *o, int argc, char **argv)
{
	struct build_args a _cleanup_(build_args_done) = {
		.extra = calloc((size_t) argc + 1, sizeof(char *)),
		.req = { .base = "defconfig", .manager = o->manager, .verbosity = o->verbosity,
			 .enforce = KTS_ENFORCE_AUTO },
	};
	struct kts_build_result res _cleanup_(build_result_done) = { 0 };
	_cleanup_free_ char *why = NULL;
	int r;

	if (!a.extra)
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	r = parse_make_vars(argc, argv, &a);
	if (r < 0)
		return -r;
	argc = r;
	r = parse_options(argc, argv, &a);
	if (r != 0)
		return r > 0 ? KTS_EXIT_OK : -r;
	progress_set_tty(o->verbosity >= 0 && !progress_events_enabled());
	r = check_env(&a);
	if (r < 0)
		return -r;
	r = resolve_ccache(&a);
	if (r < 0)
		return -r;
	r = resolve_engine(&a); /* first: "--distcc HOSTS" would be a second source */
	if (r < 0)
		return -r;
	r = resolve_source(&a);
	if (r < 0)
		return -r;
	r = resolve_remote(&a);
	if (r < 0)
		return -r;
	a.req.extra = a.extra;
	a.req.make_vars = a.make_vars;
	a.req.n_make_vars = a.n_make_vars;

	r = build_run(&a.req, &res, &why);
	if (r < 0) {
		report_failure(r, why, &res);
		/* build_run()'s errors (build.h); a signal as the shell would say it */
		return r == -EINTR ? 128 + res.signal : cli_exit_code(r);
	}
	report(&res);
	/* The entry is stored and its image printed; the push is what failed. */
	if (res.push_error) {
		log_error("%s", res.push_error);
		return KTS_EXIT_FAILURE;
	}
	return KTS_EXIT_OK;
}
