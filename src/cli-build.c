/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope build` (DESIGN §5–7): source → identity → cache check → source-tree
 * lock → LLC reservation → [scope: configure, make, validate, strip] → dirty
 * re-check → atomic store. The in-scope steps run in a re-executed ktscope
 * ("__build-inner"), so the scope machinery of `run` is reused unchanged and
 * every compiler make starts is inside the scope; the parent keeps the locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cli.h"
#include "cpuset.h"
#include "kconfig.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "pipeline.h"
#include "plan.h"
#include "progress.h"
#include "scope.h"
#include "sha256.h"
#include "source.h"
#include "topology.h"

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
	"Cache:\n"
	"  --force                rebuild even when the inputs are cached\n"
	"  --no-cache             build without storing the result\n"
	"\n"
	"Output:\n"
	"  --json-events          NDJSON events on stdout (phases, progress, cache hit or\n"
	"                         miss, reservation, result)\n"
	"  -h, --help             show this help\n"
	"\n"
	"The image path is printed on stdout; progress and messages go to stderr.\n"
	"Environment: KTSCOPE_CACHE_DIR, KTSCOPE_CPU_CAP, KTSCOPE_LOCK_DIR,\n"
	"KTSCOPE_KERNEL_MIRROR, KTSCOPE_BYPASS_LOCKS, KTSCOPE_SCOPE=none.\n"
	"\n"
	"Exit status: 0 built or cached, 1 build or store failed, 2 bad option, value,\n"
	"tree or fragment, 3 CPUs not available (--no-wait), 4 environment (no systemd\n"
	"manager, no toolchain, unusable cache directory).\n";

/* ---------------------------------------------------------------- inner */

/*
 * `ktscope __build-inner`: the part of a build that runs in the scope. Not a
 * user command; its options are whatever cli_build() passes. Exit status: 0,
 * 1 (build failed, messages printed), 2 (bad fragment or base file).
 */
int cli_build_inner(int argc, char **argv)
{
	static const struct option options[] = {
		{ "src", required_argument, NULL, 's' },
		{ "build-dir", required_argument, NULL, 'O' },
		{ "stage", required_argument, NULL, 't' },
		{ "base", required_argument, NULL, 'b' },
		{ "arch", required_argument, NULL, 'a' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "extra", required_argument, NULL, 'x' },
		{ "clean", no_argument, NULL, 'c' },
		{ "compile-commands", no_argument, NULL, 'C' },
		{ "pahole", required_argument, NULL, 'p' },
		{ "count-file", required_argument, NULL, 'n' },
		{ "json-events", no_argument, NULL, 'e' },
		{ "progress", no_argument, NULL, 'P' },
		{ "make-var", required_argument, NULL, 'm' },
		{}
	};
	struct kts_pipeline_opts po = { 0 };
	_cleanup_free_ char **make_vars = calloc((size_t) argc + 1, sizeof(char *));
	struct kts_pipeline_result res;
	_cleanup_free_ const char **extra = calloc((size_t) argc + 1, sizeof(char *));
	_cleanup_free_ char *why = NULL, *log_path = NULL;
	int c, r;

	if (!extra || !make_vars)
		return KTS_EXIT_FAILURE;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) >= 0) {
		switch (c) {
		case 'm':
			make_vars[po.n_make_vars++] = optarg;
			break;
		case 's':
			po.src_dir = optarg;
			break;
		case 'O':
			po.build_dir = optarg;
			break;
		case 't':
			po.stage_dir = optarg;
			break;
		case 'b':
			po.base = optarg;
			break;
		case 'a':
			po.arch = optarg;
			break;
		case 'j':
			po.jobs = (unsigned) strtoul(optarg, NULL, 10);
			break;
		case 'x':
			extra[po.n_extra++] = optarg;
			break;
		case 'c':
			po.clean = true;
			break;
		case 'C':
			po.compile_commands = true;
			break;
		case 'p':
			po.pahole_version = optarg;
			break;
		case 'n':
			po.count_file = optarg;
			break;
		case 'e':
			progress_set_events(true);
			break;
		case 'P':
			progress_set_tty(true);
			break;
		default:
			return cli_option_error(c, argv, "__build-inner");
		}
	}
	if (!po.src_dir || !po.stage_dir || !po.base || !po.arch || po.jobs == 0) {
		log_error("__build-inner is internal to 'ktscope build'");
		return KTS_EXIT_USAGE;
	}
	po.extra = extra;
	po.make_vars = make_vars;

	r = pipeline_run(&po, &res, &why);
	if (r == -EPROTO) {
		if (asprintf(&log_path, "%s/build.log", po.stage_dir) >= 0) {
			log_error("%s; last 40 lines of the log:", strempty(why));
			pipeline_print_tail(log_path, 40);
		}
		return KTS_EXIT_FAILURE;
	}
	if (r == -ENOTSUP) {
		log_error("the configuration lacks what ktscope kernels need: %s", strempty(why));
		return KTS_EXIT_FAILURE;
	}
	if (r < 0) {
		if (why)
			log_error("%s", why);
		else
			log_error_errno(r, "build failed: %m");
		return r == -ENOENT || r == -EILSEQ || r == -ENODATA || r == -EBADMSG || r == -EISDIR ||
				       r == -EFBIG
			       ? KTS_EXIT_USAGE
			       : KTS_EXIT_FAILURE;
	}
	if (res.n_dropped)
		log_notice("%u requested kconfig line(s) did not survive; see kconfig-report.json",
			   res.n_dropped);
	return KTS_EXIT_OK;
}

/* ---------------------------------------------------------------- helpers */

static char *self_exe(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

static bool is_kernel_tree(const char *dir)
{
	_cleanup_free_ char *mk = NULL, *kc = NULL;

	if (asprintf(&mk, "%s/Makefile", dir) < 0 || asprintf(&kc, "%s/Kconfig", dir) < 0)
		return false;
	return access(mk, F_OK) == 0 && access(kc, F_OK) == 0;
}

/* mkdir -p for our own work directories (mode 0755). */
static int mkdir_p_work(const char *path)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return negative_errno();
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

/* Removes a directory tree (our own work/stage dirs); best effort. */
static void rm_rf(const char *path)
{
	pid_t pid;

	if (!path)
		return;
	pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--one-file-system", "--", path, (char *) NULL);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

static void toolchain_donep(struct kts_toolchain *t)
{
	pipeline_toolchain_done(t);
}

/* "v1.24" from "v1.24" or "pahole v1.24"; NULL passes through. */
static const char *pahole_version(const char *line)
{
	const char *v;

	if (!line)
		return NULL;
	v = strrchr(line, ' ');
	return v ? v + 1 : line;
}

/* An extra fragment or base file error: exit 2 with the module's words. */
static int fragment_error(int r, const char *why)
{
	if (why)
		log_error("%s", why);
	else
		log_error_errno(r, "cannot read the kconfig fragments: %m");
	return KTS_EXIT_USAGE;
}

struct build_ctx {
	char *root;
	struct kts_source *src;
	struct kts_cache_store *store;
	char *workdir;       /* fetched/extracted sources; removed at the end */
	char *uncached_stage; /* stage of a build that will not be stored */
	int source_lock_fd;
	struct kts_reservation res;
	bool have_res;
};

static void build_ctx_done(struct build_ctx *b)
{
	/* LLC locks first (the scope is already gone), then the store, then the tree lock. */
	if (b->have_res)
		lock_release(&b->res);
	cache_store_free(b->store);
	if (b->uncached_stage)
		rm_rf(b->uncached_stage);
	free(b->uncached_stage);
	if (b->workdir)
		rm_rf(b->workdir);
	free(b->workdir);
	safe_close(b->source_lock_fd);
	source_free(b->src);
	free(b->root);
}

/* Prints a cache hit: the entry on stderr, the image path on stdout. */
static int report_hit(const struct kts_cache_entry *e)
{
	char when[METADATA_TIME_MAX];

	metadata_format_time(e->meta->built_at, when);
	log_notice("cached: %s (built %s); use --force to rebuild", e->key, when);
	progress_event("cache", "\"hit\":true,\"key\":%s,\"image\":%s", progress_json_str(e->key),
		       progress_json_str(e->image_path));
	progress_event("result", "\"status\":\"cached\",\"key\":%s,\"image\":%s",
		       progress_json_str(e->key), progress_json_str(e->image_path));
	if (!progress_events_enabled())
		printf("%s\n", e->image_path);
	return KTS_EXIT_OK;
}

/* 1 = hit (reported), 0 = miss, <0 error logged (exit code negated). */
static int check_cache(const char *root, const char *key)
{
	_cleanup_cache_entry_ struct kts_cache_entry *e = NULL;
	_cleanup_free_ char *why = NULL;
	int r;

	r = cache_lookup(root, key, kconfig_fragment_sha256(), &e, &why);
	if (r == 1) {
		report_hit(e);
		return 1;
	}
	if (r == -EBADMSG)
		log_warning("cache entry '%s' is corrupt (%s); rebuilding it", key, strempty(why));
	else if (r < 0)
		log_warning_errno(r, "cannot look up '%s' in the cache: %m", key);
	progress_event("cache", "\"hit\":false,\"key\":%s", progress_json_str(key));
	return 0;
}

/* The exclusive source-tree lock (DESIGN §3): wait for a concurrent build of the same tree. */
static int take_source_lock(struct build_ctx *b, const char *tree)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	const char *fsname = NULL;
	int fd, r;

	r = cache_source_lock_path(b->root, tree, &path);
	if (r < 0)
		return r;
	if (asprintf(&dir, "%s/.locks", b->root) < 0)
		return -ENOMEM;
	r = mkdir_p_work(dir);
	if (r < 0)
		return r;
	fd = lock_open(path, &fsname);
	if (fd < 0)
		return fd;
	r = lock_try(fd, KTS_LOCK_EXCLUSIVE);
	if (r == -EWOULDBLOCK) {
		struct kts_holder *h = NULL;
		size_t n = 0;

		(void) lock_holders(path, &h, &n);
		if (n > 0)
			log_notice("source tree '%s' is being built by pid %d (%s); waiting for it",
				   tree, (int) h[0].pid, strempty(h[0].cmdline));
		else
			log_notice("source tree '%s' is locked by another build (%s); waiting for it",
				   tree, path);
		lock_holders_free(h, n);
		progress_event("source_lock", "\"state\":\"waiting\",\"path\":%s", progress_json_str(path));
		r = lock_wait(fd, KTS_LOCK_EXCLUSIVE);
	}
	if (r < 0) {
		safe_close(fd);
		return r;
	}
	b->source_lock_fd = fd;
	return 1;
}

/*
 * A failed build's log outlives its stage directory: {root}/logs/{key}.log
 * (the newest failure of that key). Returns 0 and the path, or negative errno.
 */
static int keep_failed_log(const char *root, const char *key, const char *stage, char **ret)
{
	_cleanup_free_ char *dir = NULL, *from = NULL, *to = NULL;
	int r;

	if (asprintf(&dir, "%s/logs", root) < 0 || asprintf(&from, "%s/build.log", stage) < 0 ||
	    asprintf(&to, "%s/%s.log", dir, key) < 0)
		return -ENOMEM;
	if (access(from, F_OK) < 0)
		return -ENOENT;
	r = mkdir_p_work(dir);
	if (r < 0)
		return r;
	if (rename(from, to) < 0)
		return negative_errno();
	*ret = TAKE_PTR(to);
	return 0;
}

/* The canonical make variables of a build (pipeline_make_vars()). */
struct make_vars {
	char **v;
	size_t n;
};

static void make_vars_freep(struct make_vars *m)
{
	strv_free(m->v, m->n);
}

/* metadata.json for the stage directory. */
static int write_metadata(const struct build_ctx *b, const char *key, const char *stage,
			  const char *base, const struct make_vars *mv,
			  const struct kts_kconfig_merge *merged,
			  const struct kts_toolchain *tc, double seconds, const char *enforcement,
			  uint64_t unstripped)
{
	_cleanup_free_ char *cpus = NULL, *mems = NULL, *llcs = NULL, *mpath = NULL, *img = NULL,
			    *vml = NULL, *cfg = NULL;
	_cleanup_free_ struct kts_metadata_extra *extras = NULL;
	char cfg_sha[SHA256_HEX_SIZE] = "";
	const struct kts_source *s = b->src;
	struct kts_cpuset l = KTS_CPUSET_INIT;
	struct stat st;
	const char *arch = pipeline_host_arch();
	struct kts_metadata m = {
		.schema = 1,
		.key = (char *) key,
		.label = s->label,
		.source = {
			.kind = (char *) source_kind_to_string(s->kind),
			.version = s->version,
			.url = s->url,
			.path = s->path,
			.commit = s->commit[0] ? (char *) s->commit : NULL,
			.dirty = s->dirty,
			.state_sha256 = s->state_sha256[0] ? (char *) s->state_sha256 : NULL,
			.fs_uuid = s->fs.uuid[0] ? (char *) s->fs.uuid : NULL,
			.fs_type = s->fs.type[0] ? (char *) s->fs.type : NULL,
			.tarball_sha256 = s->tarball_sha256[0] ? (char *) s->tarball_sha256 : NULL,
		},
		.arch = (char *) arch,
		.image = (char *) pipeline_image_name(arch),
		.base = (char *) base,
		.fragment_sha256 = (char *) kconfig_fragment_sha256(),
		.toolchain = { .cc = tc->cc, .ld = tc->ld, .pahole = tc->pahole },
		.make_vars = mv->v,
		.n_make_vars = mv->n,
		.built_at = (int64_t) time(NULL),
		.build_seconds = seconds,
		.make_jobs = b->have_res ? b->res.plan.make_jobs : 1,
		.ktscope_version = (char *) PACKAGE_VERSION,
	};
	int r;

	if (merged->n_extras) {
		extras = calloc(merged->n_extras, sizeof(*extras));
		if (!extras)
			return -ENOMEM;
		for (size_t i = 0; i < merged->n_extras; i++)
			extras[i] = (struct kts_metadata_extra){ .path = merged->extras[i].path,
								 .sha256 = (char *) merged->extras[i].sha256 };
		m.extra_kconfig = extras;
		m.n_extra_kconfig = merged->n_extras;
	}
	if (b->have_res) {
		for (size_t i = 0; i < b->res.plan.n_llcs; i++)
			(void) cpuset_add(&l, b->res.plan.llcs[i]);
		if (cpuset_format(&b->res.plan.cpus, &cpus) < 0 || cpuset_format(&b->res.plan.mems, &mems) < 0 ||
		    cpuset_format(&l, &llcs) < 0) {
			cpuset_done(&l);
			return -ENOMEM;
		}
		m.plan = (struct kts_metadata_plan){
			.present = true, .cpus = cpus, .mems = mems, .llcs = llcs,
			.enforcement = (char *) enforcement,
		};
	}
	cpuset_done(&l);

	if (asprintf(&img, "%s/%s", stage, m.image) < 0 || asprintf(&vml, "%s/vmlinux", stage) < 0 ||
	    asprintf(&cfg, "%s/config", stage) < 0 || asprintf(&mpath, "%s/metadata.json", stage) < 0)
		return -ENOMEM;
	if (stat(img, &st) == 0)
		m.sizes.image = (uint64_t) st.st_size;
	if (stat(vml, &st) == 0)
		m.sizes.vmlinux = (uint64_t) st.st_size;
	m.sizes.vmlinux_unstripped = unstripped;
	if (sha256_file(cfg, cfg_sha) == 0)
		m.config_sha256 = cfg_sha;

	r = metadata_write(&m, mpath);
	return r;
}

/* ---------------------------------------------------------------- build */

int cli_build(const struct kts_opts *o, int argc, char **argv)
{
	static const struct option options[] = {
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
		{ "no-cache", no_argument, NULL, 'N' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "json-events", no_argument, NULL, 'j' },
		{}
	};
	struct build_ctx b _cleanup_(build_ctx_done) = { .source_lock_fd = -EBADF };
	struct kts_topology t _cleanup_(topo_donep) = { 0 };
	struct kts_toolchain tc _cleanup_(toolchain_donep) = { 0 };
	_cleanup_(kconfig_merge_donep) struct kts_kconfig_merge merged = KTS_KCONFIG_MERGE_INIT;
	struct kts_source_spec spec = { 0 };
	_cleanup_free_ const char **extra = calloc((size_t) argc + 1, sizeof(char *));
	_cleanup_free_ const char **av = NULL;
	_cleanup_(make_vars_freep) struct make_vars mv = {};
	_cleanup_free_ char *tool_cc = NULL, *tool_ld = NULL;
	const char *cc_from = NULL, *ld_from = NULL;
	_cleanup_free_ char *why = NULL, *key = NULL, *inputs = NULL, *base_abs = NULL, *exe = NULL,
			    *build_dir_abs = NULL, *count_file = NULL, *entry_path = NULL, *base_key = NULL,
			    *jobs = NULL, *cwd = NULL;
	const char *source_dir = NULL, *tarball = NULL, *git_url = NULL, *git_ref = NULL,
		   *positional = NULL, *base = "defconfig", *build_dir = NULL, *cpu_cap = NULL,
		   *root_var = NULL;
	const char *arch = pipeline_host_arch();
	enum kts_enforcement want = KTS_ENFORCE_AUTO;
	int got = KTS_ENFORCE_AFFINITY;
	enum kts_manager manager = o->manager;
	struct kts_plan_req req = { .mode = KTS_PLAN_SHARED };
	bool clean = false, force = false, no_cache = false, no_wait = false, cacheable;
	size_t n_extra = 0, n_sources;
	struct timespec t0, t1;
	int c, r, rc;

	if (!extra)
		return KTS_EXIT_FAILURE;
	/* Make variables come last, after "--": options end there. */
	for (int i = 1; i < argc; i++)
		if (streq(argv[i], "--")) {
			r = pipeline_make_vars(argv + i + 1, (size_t) (argc - i - 1), &mv.v, &mv.n,
					       &why);
			if (r == -ENOMEM)
				return log_error("out of memory"), KTS_EXIT_FAILURE;
			if (r < 0)
				return log_error("%s", strempty(why)), KTS_EXIT_USAGE;
			argc = i;
			break;
		}
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(build_help, stdout);
			return KTS_EXIT_OK;
		case 'U':
			manager = KTS_MANAGER_USER;
			break;
		case 'S':
			manager = KTS_MANAGER_SYSTEM;
			break;
		case 's':
			source_dir = optarg;
			break;
		case 't':
			tarball = optarg;
			break;
		case 'g':
			git_url = optarg;
			break;
		case 'r':
			git_ref = optarg;
			break;
		case 'b':
			base = optarg;
			break;
		case 'x':
			extra[n_extra++] = optarg;
			break;
		case 'O':
			build_dir = optarg;
			break;
		case 'c':
			cpu_cap = optarg;
			break;
		case 'e':
			if (enforcement_from_string(optarg, &want) < 0) {
				log_error("invalid --enforce '%s': expected auto, cgroup or affinity", optarg);
				return KTS_EXIT_USAGE;
			}
			break;
		case 'C':
			clean = true;
			break;
		case 'f':
			force = true;
			break;
		case 'N':
			no_cache = true;
			break;
		case 'n':
			no_wait = true;
			break;
		case 'j':
			progress_set_events(true);
			break;
		default:
			return cli_option_error(c, argv, "build");
		}
	}
	if (optind < argc)
		positional = argv[optind++];
	if (optind < argc) {
		log_error("unexpected argument '%s' (one SPEC at most; see 'ktscope build --help')",
			  argv[optind]);
		return KTS_EXIT_USAGE;
	}
	progress_set_tty(o->verbosity >= 0 && !progress_events_enabled());
	if (getenv_nonempty("KTSCOPE_SYSROOT")) {
		log_error("KTSCOPE_SYSROOT is set: 'build' works on this host only; unset it");
		return KTS_EXIT_USAGE;
	}
	{
		const char *scope_env = getenv_nonempty("KTSCOPE_SCOPE");

		if (scope_env && !streq(scope_env, "none")) {
			log_error("invalid KTSCOPE_SCOPE '%s': the only value is 'none'", scope_env);
			return KTS_EXIT_USAGE;
		}
		if (scope_env && want == KTS_ENFORCE_CGROUP) {
			log_error("--enforce cgroup needs a systemd scope, but KTSCOPE_SCOPE=none");
			return KTS_EXIT_USAGE;
		}
	}

	/* Which source. */
	n_sources = !!positional + !!source_dir + !!tarball + !!git_url;
	if (n_sources > 1) {
		log_error("give one source: SPEC, --source, --tarball or --git");
		return KTS_EXIT_USAGE;
	}
	if (!!git_url != !!git_ref) {
		log_error("--git and --ref go together (e.g. --git URL --ref v6.12)");
		return KTS_EXIT_USAGE;
	}
	if (positional)
		r = source_spec_parse(positional, &spec);
	else if (source_dir)
		r = source_spec_local(source_dir, &spec);
	else if (tarball)
		r = source_spec_tarball(tarball, &spec);
	else if (git_url)
		r = source_spec_git(git_url, git_ref, &spec);
	else {
		cwd = getcwd(NULL, 0);
		if (cwd && is_kernel_tree(cwd))
			r = source_spec_local(cwd, &spec);
		else
			r = source_spec_parse("stable", &spec);
	}
	if (r < 0) {
		log_error("invalid source '%s'", positional ? positional : strempty(git_url));
		return KTS_EXIT_USAGE;
	}

	/* Base and fragments: every bad file is a usage error, found before any work. */
	if (!pipeline_base_is_target(base)) {
		char sha[SHA256_HEX_SIZE];

		base_abs = realpath(base, NULL);
		if (!base_abs || access(base_abs, R_OK) < 0) {
			log_error("invalid --base '%s': expected defconfig, tinyconfig, kvm_guest or a "
				  "readable config file", base);
			source_spec_done(&spec);
			return KTS_EXIT_USAGE;
		}
		base = base_abs;
		if (sha256_file(base_abs, sha) < 0 || asprintf(&base_key, "file:%s", sha) < 0) {
			source_spec_done(&spec);
			return log_error("cannot read --base '%s'", base_abs), KTS_EXIT_USAGE;
		}
	}
	r = kconfig_merge(extra, n_extra, &merged, &why);
	if (r < 0) {
		source_spec_done(&spec);
		return fragment_error(r, why);
	}
	if (build_dir) {
		if (mkdir(build_dir, 0755) < 0 && errno != EEXIST) {
			log_error_errno(negative_errno(), "cannot create --build-dir '%s': %m", build_dir);
			source_spec_done(&spec);
			return KTS_EXIT_USAGE;
		}
		build_dir_abs = realpath(build_dir, NULL);
		if (!build_dir_abs) {
			source_spec_done(&spec);
			return log_error("invalid --build-dir '%s'", build_dir), KTS_EXIT_USAGE;
		}
	}
	if (cli_resolve_cpu_cap(cpu_cap, &req.cpus) != KTS_EXIT_OK) {
		source_spec_done(&spec);
		return KTS_EXIT_USAGE;
	}

	/* Environment: cache root and toolchain. */
	r = cache_root(&b.root, &root_var);
	if (r < 0) {
		source_spec_done(&spec);
		log_error("no usable cache directory: %s is %s; set KTSCOPE_CACHE_DIR to an absolute "
			  "path", strempty(root_var), r == -ENOENT ? "unset" : "not an absolute path");
		return KTS_EXIT_ENV;
	}
	r = mkdir_p_work(b.root);
	if (r < 0) {
		source_spec_done(&spec);
		log_error_errno(r, "cannot create the cache directory '%s': %m (set KTSCOPE_CACHE_DIR "
				"to a writable place)", b.root);
		return KTS_EXIT_ENV;
	}
	/* Leftovers of builds that died (kill -9, power loss) go first. */
	r = cache_sweep_tmp(b.root);
	if (r > 0)
		log_debug("removed %d leftover temporary director%s of dead builds", r, r == 1 ? "y" : "ies");
	{
		_cleanup_free_ char *tc_cache = NULL;

		if (asprintf(&tc_cache, "%s/.toolchain", b.root) < 0)
			return KTS_EXIT_FAILURE;
		if (pipeline_make_tools(mv.v, mv.n, &tool_cc, &tool_ld, &cc_from, &ld_from) < 0) {
			source_spec_done(&spec);
			return log_error("out of memory"), KTS_EXIT_FAILURE;
		}
		(void) pipeline_toolchain(tc_cache, tool_cc, tool_ld, &tc);
	}
	if ((cc_from && !tc.cc) || (ld_from && !tc.ld)) {
		/* The user picked the tool: name the one missing and where it came from. */
		bool cc_missing = cc_from && !tc.cc;
		const char *from = cc_missing ? cc_from : ld_from;

		source_spec_done(&spec);
		log_error("no %s '%s' found (from %s=%s): install it or change the make variable",
			  cc_missing ? "compiler" : "linker", cc_missing ? tool_cc : tool_ld, from,
			  strempty(pipeline_make_var(mv.v, mv.n, from)));
		return KTS_EXIT_ENV;
	}
	if (!tc.make || !tc.cc) {
		source_spec_done(&spec);
		log_error("no %s found: install the kernel build toolchain (Debian: build-essential "
			  "flex bison bc libelf-dev libssl-dev dwarves)", !tc.make ? "make" : "C compiler");
		return KTS_EXIT_ENV;
	}

	/* Identity. */
	r = source_open(&spec, NULL, &b.src, &why);
	source_spec_done(&spec);
	if (r < 0) {
		if (r == -ENOEXEC || r == -ENOTDIR || (r == -ENOENT && (positional || source_dir))) {
			log_error("%s", why ? why : "not a kernel tree");
			return KTS_EXIT_USAGE;
		}
		if (why)
			log_error("%s", why);
		else
			log_error_errno(r, "cannot open the kernel source: %m");
		return KTS_EXIT_FAILURE;
	}
	cacheable = b.src->cacheable && !no_cache;
	if (!b.src->cacheable)
		log_notice("this build will not be cached: %s", strempty(b.src->why));
	if (clean && b.src->kind != KTS_SOURCE_LOCAL) {
		log_notice("--clean applies to local trees only; a fresh %s tree is clean already",
			   source_kind_to_string(b.src->kind));
		clean = false;
	}

	/* Sources known only after download (URLs, abbreviated commits) are fetched first. */
	if (b.src->kind != KTS_SOURCE_LOCAL &&
	    asprintf(&b.workdir, "%s/.tmp/src.%d", b.root, (int) getpid()) < 0)
		return KTS_EXIT_FAILURE;
	if (!b.src->identity && b.src->kind != KTS_SOURCE_LOCAL) {
		r = mkdir_p_work(b.workdir);
		if (r < 0)
			return log_error_errno(r, "cannot create '%s': %m", b.workdir), KTS_EXIT_ENV;
		progress_event("phase", "\"phase\":\"fetch\",\"state\":\"start\"");
		r = source_fetch(b.src, b.workdir, NULL, &why);
		if (r < 0)
			return log_error("%s", why ? why : strerror(-r)), KTS_EXIT_FAILURE;
	}

	/* The key. */
	{
		const char **extra_sha = calloc(merged.n_extras + 1, sizeof(char *));
		struct kts_cache_inputs in = {
			.source_identity = b.src->identity,
			.base = base_key ? base_key : base,
			.fragment_sha256 = kconfig_fragment_sha256(),
			.extra_sha256 = extra_sha,
			.n_extra = merged.n_extras,
			.arch = arch,
			.make_vars = (const char *const *) mv.v,
			.n_make_vars = mv.n,
			.cc = tc.cc,
			.ld = tc.ld,
			.pahole = tc.pahole,
		};

		if (!extra_sha)
			return KTS_EXIT_FAILURE;
		for (size_t i = 0; i < merged.n_extras; i++)
			extra_sha[i] = merged.extras[i].sha256;
		r = cache_inputs_hash(&in, &inputs);
		free(extra_sha);
		if (r < 0 || cache_key(b.src->label, arch, inputs, &key) < 0)
			return log_error("cannot compose the cache key for '%s'", b.src->label),
			       KTS_EXIT_FAILURE;
	}
	log_debug("cache key %s", key);

	if (cacheable && !force && check_cache(b.root, key) > 0)
		return KTS_EXIT_OK;

	/* Not cached: nothing below is worth doing without a manager to build in. */
	r = session_check_manager(manager);
	if (r < 0)
		return cli_exit_code(r);

	/* One build per tree at a time; the one that waited may find the result cached. */
	if (b.src->kind == KTS_SOURCE_LOCAL && !getenv_nonempty("KTSCOPE_BYPASS_LOCKS")) {
		r = take_source_lock(&b, b.src->dir);
		if (r < 0)
			return log_error_errno(r, "cannot lock source tree '%s': %m", b.src->dir),
			       KTS_EXIT_ENV;
		if (cacheable && !force && check_cache(b.root, key) > 0)
			return KTS_EXIT_OK;
	}

	/* CPUs. */
	rc = cli_load_topology(NULL, &t);
	if (rc != KTS_EXIT_OK)
		return rc;
	if (req.cpus > cpuset_count(&t.allowed)) {
		log_error("--cpu-cap %u exceeds the %u CPUs this process may use", req.cpus,
			  cpuset_count(&t.allowed));
		return KTS_EXIT_USAGE;
	}
	progress_event("reservation", "\"state\":\"planning\"");
	rc = cli_reserve(&t, &req, no_wait, &b.res);
	if (rc != KTS_EXIT_OK)
		return rc;
	b.have_res = true;
	{
		_cleanup_free_ char *cpus = NULL;

		(void) cpuset_format(&b.res.plan.cpus, &cpus);
		progress_event("reservation", "\"state\":\"acquired\",\"cpus\":%s,\"make_jobs\":%u",
			       progress_json_str(cpus), b.res.plan.make_jobs);
	}

	/* The tree: local as is; the others fetched into the work dir. */
	if (b.src->kind != KTS_SOURCE_LOCAL && !b.src->dir) {
		r = mkdir_p_work(b.workdir);
		if (r < 0)
			return log_error_errno(r, "cannot create '%s': %m", b.workdir), KTS_EXIT_ENV;
		progress_event("phase", "\"phase\":\"fetch\",\"state\":\"start\"");
		log_notice("unpacking the %s source into '%s'", source_kind_to_string(b.src->kind),
			   b.workdir);
		r = source_fetch(b.src, b.workdir, NULL, &why);
		if (r < 0)
			return log_error("%s", why ? why : strerror(-r)), KTS_EXIT_FAILURE;
	}

	/* Where the artifacts go. */
	const char *stage;
	if (cacheable) {
		r = cache_store_begin(b.root, key, &b.store);
		if (r < 0)
			return log_error_errno(r, "cannot write to the cache '%s': %m", b.root),
			       KTS_EXIT_ENV;
		stage = b.store->dir;
	} else {
		if (asprintf(&b.uncached_stage, "%s/.tmp/nocache.%d", b.root, (int) getpid()) < 0)
			return KTS_EXIT_FAILURE;
		r = mkdir_p_work(b.uncached_stage);
		if (r < 0)
			return log_error_errno(r, "cannot write to the cache '%s': %m", b.root),
			       KTS_EXIT_ENV;
		stage = b.uncached_stage;
	}
	{
		char hex[SHA256_HEX_SIZE];
		_cleanup_free_ char *pdir = NULL;

		sha256_hex(b.src->kind == KTS_SOURCE_LOCAL ? b.src->dir : b.src->label,
			   strlen(b.src->kind == KTS_SOURCE_LOCAL ? b.src->dir : b.src->label), hex);
		if (asprintf(&pdir, "%s/.progress", b.root) >= 0 && (mkdir(pdir, 0755) == 0 || errno == EEXIST))
			(void) asprintf(&count_file, "%s/%.16s", pdir, hex);
	}

	/* The in-scope part. */
	exe = self_exe();
	if (!exe || asprintf(&jobs, "%u", b.res.plan.make_jobs) < 0)
		return log_error("cannot find ktscope's own executable"), KTS_EXIT_FAILURE;
	av = calloc(32 + 2 * (n_extra + mv.n), sizeof(char *));
	if (!av)
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	{
		size_t n = 0;

		av[n++] = exe;
		if (o->verbosity < 0)
			av[n++] = "-q";
		else if (o->verbosity > 0)
			av[n++] = "-v";
		av[n++] = "__build-inner";
		av[n++] = "--src";
		av[n++] = b.src->dir;
		av[n++] = "--stage";
		av[n++] = stage;
		av[n++] = "--base";
		av[n++] = base;
		av[n++] = "--arch";
		av[n++] = arch;
		av[n++] = "--jobs";
		av[n++] = jobs;
		if (build_dir_abs) {
			av[n++] = "--build-dir";
			av[n++] = build_dir_abs;
		}
		if (clean)
			av[n++] = "--clean";
		if (b.src->kind == KTS_SOURCE_LOCAL)
			av[n++] = "--compile-commands";
		if (tc.pahole) {
			av[n++] = "--pahole";
			av[n++] = pahole_version(tc.pahole);
		}
		if (count_file) {
			av[n++] = "--count-file";
			av[n++] = count_file;
		}
		if (progress_events_enabled())
			av[n++] = "--json-events";
		if (progress_tty_enabled())
			av[n++] = "--progress";
		for (size_t i = 0; i < n_extra; i++) {
			av[n++] = "--extra";
			av[n++] = extra[i];
		}
		for (size_t i = 0; i < mv.n; i++) {
			av[n++] = "--make-var";
			av[n++] = mv.v[i];
		}
		av[n] = NULL;

		struct kts_session_spec ss = {
			.manager = manager,
			.what = "build",
			.argv = (char *const *) av,
			.res = &b.res,
			.want = want,
		};
		struct kts_session_result sr;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = session_run(&ss, &sr);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		rc = r < 0 ? cli_exit_code(r) : sr.status;
		if (r >= 0)
			got = sr.enforcement;
	}
	if (rc != KTS_EXIT_OK) {
		_cleanup_free_ char *kept = NULL;

		progress_event("result", "\"status\":\"failed\",\"exit\":%d", rc);
		if (rc > 128)
			log_notice("the build was interrupted (signal %d); nothing was stored", rc - 128);
		else if (keep_failed_log(b.root, key, stage, &kept) == 0)
			log_error("the build of '%s' failed; full log: '%s'", b.src->label, kept);
		/* The in-scope half exits 1 or 2; the scope part 1, 3 or 4; a signal 128+N. */
		return (rc >= KTS_EXIT_FAILURE && rc <= KTS_EXIT_ENV) || rc > 128 ? rc : KTS_EXIT_FAILURE;
	}

	/* Did the tree change while it was built? */
	if (cacheable) {
		bool changed = false;
		_cleanup_free_ char *reason = NULL;

		r = source_recheck(b.src, &changed, &reason);
		if (r < 0 || changed) {
			log_warning("not cached: %s", reason ? reason : "the tree could not be re-checked");
			cacheable = false;
		}
	}

	{
		_cleanup_free_ char *objdir_vmlinux = NULL;
		struct stat st;
		uint64_t unstripped = 0;
		double secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;

		if (asprintf(&objdir_vmlinux, "%s/vmlinux", build_dir_abs ? build_dir_abs : b.src->dir) >= 0 &&
		    stat(objdir_vmlinux, &st) == 0)
			unstripped = (uint64_t) st.st_size;

		if (!cacheable) {
			_cleanup_free_ char *img = NULL;

			if (asprintf(&img, "%s/%s", build_dir_abs ? build_dir_abs : b.src->dir,
				     pipeline_image_relpath(arch)) < 0)
				return KTS_EXIT_FAILURE;
			if (b.src->kind != KTS_SOURCE_LOCAL) {
				/* The tree goes away: keep the stage instead. */
				_cleanup_free_ char *keep = NULL;

				if (asprintf(&keep, "%s/uncached", b.root) < 0)
					return KTS_EXIT_FAILURE;
				(void) mkdir(keep, 0755);
				free(keep);
				if (asprintf(&keep, "%s/uncached/%s-%lld", b.root, b.src->label,
					     (long long) time(NULL)) < 0 ||
				    rename(b.uncached_stage, keep) < 0)
					return log_error_errno(negative_errno(), "cannot keep the build: %m"),
					       KTS_EXIT_FAILURE;
				free(img);
				img = NULL;
				if (asprintf(&img, "%s/%s", keep, pipeline_image_name(arch)) < 0)
					return KTS_EXIT_FAILURE;
			}
			log_notice("built in %.0f s (not cached)", secs);
			progress_event("result", "\"status\":\"built\",\"cached\":false,\"image\":%s",
				       progress_json_str(img));
			if (!progress_events_enabled())
				printf("%s\n", img);
			return KTS_EXIT_OK;
		}

		r = write_metadata(&b, key, stage, base, &mv, &merged, &tc, secs, enforcement_to_string(got),
				   unstripped);
		if (r < 0)
			return log_error_errno(r, "cannot write metadata.json: %m"), KTS_EXIT_FAILURE;
		r = cache_store_commit(b.store, &entry_path, &why);
		if (r < 0) {
			if (why)
				log_error("cannot store '%s': %s", key, why);
			else
				log_error_errno(r, "cannot store '%s' in '%s': %m", key, b.root);
			return KTS_EXIT_FAILURE;
		}
		{
			_cleanup_free_ char *img = NULL;

			if (asprintf(&img, "%s/%s", entry_path, pipeline_image_name(arch)) < 0)
				return KTS_EXIT_FAILURE;
			log_notice("built and cached %s in %.0f s (make -j%u, enforcement %s)", key, secs,
				   b.res.plan.make_jobs, enforcement_to_string(got));
			progress_event("result", "\"status\":\"built\",\"cached\":true,\"key\":%s,\"image\":%s",
				       progress_json_str(key), progress_json_str(img));
			if (!progress_events_enabled())
				printf("%s\n", img);
		}
	}
	return KTS_EXIT_OK;
}
