/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope doctor`: checks what builds and runs need from this machine and says
 * how to fix what is missing. Each check ends as ok, warn (works, but worse than
 * it could) or fail (builds or runs will not work: exit 4). Results go to
 * stdout, one line per check and the fix below it, or as one JSON document.
 *
 * The checks use the same modules the commands use (session_probe() for the manager,
 * lock, cache, fsid), so what doctor reports is what a build gets. Reads of /sys and
 * /proc go through sysroot.c on the host root; the toolchain's versions and gzip for
 * /proc/config.gz are read through util's spawn_capture().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bus.h"
#include "cache.h"
#include "cli.h"
#include "cli-doctor.h"
#include "cpuset.h"
#include "fsid.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "scope.h"
#include "session.h"
#include "sysroot.h"
#include "topology.h"
#include "util.h"

/* The build passes -DKTS_DOCDIR='"$(docdir)"'; the drop-in example lives below it. */
#ifndef KTS_DOCDIR
#define KTS_DOCDIR "/usr/share/doc/ktscope"
#endif
#define DROPIN_EXAMPLE KTS_DOCDIR "/examples/ktscope-cpuset.conf"
#define DROPIN_TARGET "/etc/systemd/system/user@.service.d/ktscope-cpuset.conf"

/* Below this, a build with debug info (needed for BTF) may run out of room. */
#define CACHE_LOW_SPACE ((uint64_t) 10 << 30)

extern char **environ;

static const char doctor_help[] =
	"Usage: ktscope [--user|--system] doctor [--json]\n"
	"\n"
	"Check this machine for what ktscope builds and runs need, and print how to\n"
	"fix what is missing: the systemd managers (user and system), the cgroup\n"
	"hierarchy, whether the manager enforces AllowedCPUs= (a throwaway scope is\n"
	"started to find out), the lock and cache directories, the kernel build\n"
	"toolchain, the compile engines (ccache, the distcc hosts of DISTCC_HOSTS),\n"
	"and sched_ext in the running kernel.\n"
	"\n"
	"Each check prints one line, marked \u2713 (ok), ! (works, with a caveat) or\n"
	"\u2717 (fails), and for anything not ok the fix on the lines below it.\n"
	"\n"
	"Options:\n"
	"  --json             print {\"checks\": [{\"name\", \"status\", \"detail\", \"fix\"}]}\n"
	"                     with status ok, warn or fail and fix null when none\n"
	"  --user, --system   the manager builds and runs will use (default: user\n"
	"                     unless root); only its failure fails the doctor\n"
	"  -h, --help         show this help\n"
	"\n"
	"Environment: KTSCOPE_LOCK_DIR, KTSCOPE_CACHE_DIR, DISTCC_HOSTS, NO_COLOR.\n"
	"\n"
	"Exit status: 0 builds will work (warnings allowed), 2 bad option, 4 a check\n"
	"failed (manager unreachable, lock or cache directory unusable, toolchain missing).\n";

static const char *status_to_string(enum check_status s)
{
	return s == CHECK_OK ? "ok" : s == CHECK_WARN ? "warn" : "fail";
}

static void doctor_done(struct doctor *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->checks[i].detail);
		free(d->checks[i].fix);
	}
	d->n = 0;
}
char *doctor_strf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

void doctor_add(struct doctor *d, const char *name, enum check_status status, char *detail,
		char *fix)
{
	if (d->n >= CHECKS_MAX) {
		free(detail);
		free(fix);
		return;
	}
	d->checks[d->n++] = (struct check){ name, status, detail, fix };
}

/* ---------------------------------------------------------------- helpers */

static void format_bytes(uint64_t b, char *buf, size_t size)
{
	if (b >= (uint64_t) 1 << 30)
		(void) snprintf(buf, size, "%.1f GiB", (double) b / (double) (1ULL << 30));
	else
		(void) snprintf(buf, size, "%.0f MiB", (double) b / (double) (1ULL << 20));
}

/*
 * Can we create files in dir? Tried for real (access(2) says yes to root on a
 * read-only mount): a temporary directory is made and removed again.
 */
static int dir_writable(const char *dir)
{
	_cleanup_free_ char *tmpl = doctor_strf("%s/.ktscope-doctor-XXXXXX", dir);

	if (!tmpl)
		return -ENOMEM;
	if (!mkdtemp(tmpl))
		return negative_errno();
	(void) rmdir(tmpl);
	return 0;
}

/* The deepest existing ancestor of path (path itself when it exists). Caller frees. */
static int existing_ancestor(const char *path, char **ret)
{
	_cleanup_free_ char *p = strdup(path);
	struct stat st;

	if (!p)
		return -ENOMEM;
	for (;;) {
		char *slash;

		if (stat(p, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				return -ENOTDIR;
			*ret = TAKE_PTR(p);
			return 0;
		}
		if (errno != ENOENT)
			return negative_errno();
		slash = strrchr(p, '/');
		if (!slash)
			return -ENOENT;
		if (slash == p) {
			p[1] = '\0';
			continue;
		}
		*slash = '\0';
	}
}

/* ------------------------------------------------------------- topology */

static void check_topology(struct doctor *d, const struct kts_sysroot *root,
			   struct kts_topology *t, bool *ret_ok)
{
	_cleanup_free_ char *errpath = NULL;
	int r;

	r = topo_load(root, t, &errpath);
	*ret_ok = r >= 0;
	if (r < 0) {
		doctor_add(d, "topology", CHECK_FAIL,
		    doctor_strf("cannot read the CPU topology: '%s': %s", errpath ? errpath : "?",
			 r == -EBADMSG ? "malformed" : strerror(-r)),
		    doctor_strf("make sure /sys is mounted and readable (in a container: mount sysfs)"));
		return;
	}
	doctor_add(d, "topology", CHECK_OK,
	    doctor_strf("%u CPUs online, %u allowed, %zu LLC%s, %zu NUMA node%s", cpuset_count(&t->online),
		 cpuset_count(&t->allowed), t->n_llcs, t->n_llcs == 1 ? "" : "s", t->n_nodes,
		 t->n_nodes == 1 ? "" : "s"),
	    NULL);
}

/* ----------------------------------------------------- managers and scopes */

static void check_manager(struct doctor *d, const struct kts_session_probe *p, bool selected)
{
	const char *name = p->kind == KTS_BUS_USER ? "user-manager" : "system-manager";
	const char *kind = bus_kind_to_string(p->kind);
	enum check_status bad = selected ? CHECK_FAIL : CHECK_WARN;
	const char *role = selected ? "" : " (not the one ktscope uses here)";
	char version[32] = "";

	if (p->open_r < 0) {
		doctor_add(d, name, bad,
		    doctor_strf("no %s manager reachable%s: tried %s: %s", kind, role, strempty(p->tried),
			 strerror(-p->open_r)),
		    doctor_strf("%s", bus_fix_hint(p->kind)));
		return;
	}
	switch (p->start_r) {
	case 0:
		if (p->manager_version > 0)
			(void) snprintf(version, sizeof(version), " (systemd %u)", p->manager_version);
		doctor_add(d, name, CHECK_OK,
		    doctor_strf("the %s manager%s on %s starts scopes%s", kind, version,
			 strempty(p->bus_desc), selected ? "" : " (not the one ktscope uses here)"),
		    NULL);
		return;
	case -EHOSTDOWN:
		doctor_add(d, name, bad,
		    doctor_strf("connected to %s, but no systemd %s manager answers there%s",
			 strempty(p->bus_desc), kind, role),
		    doctor_strf("%s", bus_fix_hint(p->kind)));
		return;
	case -EACCES:
	case -EPERM:
		doctor_add(d, name, bad,
		    doctor_strf("the %s manager on %s answers but refuses to start scopes for us%s: %s",
			 kind, strempty(p->bus_desc), role, strempty(p->why)),
		    p->kind == KTS_BUS_SYSTEM
			    ? doctor_strf("scopes in the system manager need root: use --user as a "
				   "normal user, or run ktscope as root")
			    : doctor_strf("%s", bus_fix_hint(p->kind)));
		return;
	default:
		doctor_add(d, name, bad,
		    doctor_strf("the %s manager on %s did not start a probe scope%s: %s", kind,
			 strempty(p->bus_desc), role, p->why ? p->why : strerror(-p->start_r)),
		    doctor_strf("see the manager's log ('journalctl%s -e')",
			 p->kind == KTS_BUS_USER ? " --user" : ""));
		return;
	}
}

/* Where cgroup v2 is mounted, and whether cpuset is among its controllers. */
struct cgroup_info {
	const char *layout;  /* "unified", "hybrid", "legacy", or "unknown" */
	const char *v2_path; /* "/sys/fs/cgroup" or "/sys/fs/cgroup/unified"; NULL without v2 */
	char *controllers;   /* cgroup.controllers of the v2 root; NULL when unreadable */
	bool has_cpuset;
};

static void cgroup_info_done(struct cgroup_info *c)
{
	free(c->controllers);
}

static bool is_cgroup2(const struct kts_sysroot *root, const char *rel)
{
	_cleanup_close_ int fd = sysroot_open_dir(root, rel);
	struct statfs sfs;

	return fd >= 0 && fstatfs(fd, &sfs) == 0 && (uint64_t) sfs.f_type == CGROUP2_SUPER_MAGIC;
}

static void cgroup_probe(const struct kts_sysroot *root, struct cgroup_info *ret)
{
	_cleanup_close_ int fd = sysroot_open_dir(root, "sys/fs/cgroup");
	const char *rel = NULL;
	struct statfs sfs;

	*ret = (struct cgroup_info){ .layout = "unknown" };
	if (fd < 0 || fstatfs(fd, &sfs) < 0)
		return;
	if ((uint64_t) sfs.f_type == CGROUP2_SUPER_MAGIC) {
		ret->layout = "unified";
		ret->v2_path = "/sys/fs/cgroup";
		rel = "sys/fs/cgroup/cgroup.controllers";
	} else if (is_cgroup2(root, "sys/fs/cgroup/unified")) {
		ret->layout = "hybrid";
		ret->v2_path = "/sys/fs/cgroup/unified";
		rel = "sys/fs/cgroup/unified/cgroup.controllers";
	} else {
		ret->layout = (uint64_t) sfs.f_type == TMPFS_MAGIC ? "legacy" : "unknown";
		return;
	}
	if (sysroot_read_line(root, rel, &ret->controllers) < 0)
		return;
	for (const char *p = ret->controllers; *p;) {
		size_t n = strcspn(p, " ");

		if (n == strlen("cpuset") && strncmp(p, "cpuset", n) == 0)
			ret->has_cpuset = true;
		p += n;
		p += strspn(p, " ");
	}
}

static const char *controllers_or(const struct cgroup_info *c)
{
	return c->controllers ? (*c->controllers ? c->controllers : "none") : "unreadable";
}

static void check_cgroup(struct doctor *d, const struct cgroup_info *c)
{
	if (streq(c->layout, "unified")) {
		if (c->has_cpuset)
			doctor_add(d, "cgroup-hierarchy", CHECK_OK,
			    doctor_strf("unified (cgroup v2 at %s), controllers: %s", c->v2_path,
				 strempty(c->controllers)),
			    NULL);
		else
			doctor_add(d, "cgroup-hierarchy", CHECK_WARN,
			    doctor_strf("unified (cgroup v2 at %s), but without the cpuset controller "
				 "(controllers: %s)", c->v2_path, controllers_or(c)),
			    doctor_strf("a kernel with CONFIG_CPUSETS=y is needed for AllowedCPUs= to be "
				 "enforced by the cgroup; until then CPU affinity is used"));
		return;
	}
	if (streq(c->layout, "hybrid")) {
		doctor_add(d, "cgroup-hierarchy", CHECK_WARN,
		    doctor_strf("hybrid: cgroup v2 at %s (controllers: %s), the cpuset controller on "
			 "cgroup v1, where systemd does not apply AllowedCPUs=", c->v2_path,
			 controllers_or(c)),
		    doctor_strf("boot with 'systemd.unified_cgroup_hierarchy=1' on the kernel command "
			 "line (pure cgroup v2); until then CPU affinity is used"));
		return;
	}
	doctor_add(d, "cgroup-hierarchy", CHECK_WARN,
	    doctor_strf("no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified (%s)",
		 c->layout),
	    doctor_strf("boot with 'systemd.unified_cgroup_hierarchy=1' on the kernel command line; "
		 "until then CPU affinity is used"));
}

/* The commands that activate the drop-in, for a user manager that lacks cpuset. */
static char *dropin_fix(const struct cgroup_info *c)
{
	_cleanup_free_ char *install = NULL;
	const char *pre = "";

	if (access(DROPIN_EXAMPLE, R_OK) == 0)
		install = doctor_strf("sudo install -Dm644 %s %s", DROPIN_EXAMPLE, DROPIN_TARGET);
	else
		install = doctor_strf("printf '[Service]\\nDelegate=pids memory cpu cpuset\\n' | "
			       "sudo install -Dm644 /dev/stdin %s   (the example %s is not "
			       "installed)", DROPIN_TARGET, DROPIN_EXAMPLE);
	if (!c->has_cpuset)
		pre = "first make cpuset available on cgroup v2 (see cgroup-hierarchy); then ";
	return doctor_strf("%sdelegate cpuset to user managers with the drop-in %s:\n"
		    "%s\n"
		    "sudo systemctl daemon-reload && sudo systemctl restart user@%u.service   "
		    "(or log out and in again)",
		    pre, DROPIN_EXAMPLE, strempty(install), (unsigned) getuid());
}

static void check_enforcement(struct doctor *d, const struct kts_session_probe *p,
			      const struct cgroup_info *c)
{
	const char *kind = bus_kind_to_string(p->kind);

	if (p->open_r < 0 || p->start_r < 0) {
		doctor_add(d, "cpu-enforcement", CHECK_WARN,
		    doctor_strf("not checked: no probe scope could be started on the %s manager", kind),
		    NULL);
		return;
	}
	if (p->verify_r < 0) {
		doctor_add(d, "cpu-enforcement", CHECK_WARN,
		    doctor_strf("cannot read back the probe scope from the %s manager: %s", kind,
			 strerror(-p->verify_r)),
		    NULL);
		return;
	}
	switch (p->enforcement) {
	case KTS_ENFORCE_CGROUP:
		doctor_add(d, "cpu-enforcement", CHECK_OK,
		    doctor_strf("cgroup: the %s manager enforces AllowedCPUs= (probe scope: allowed %s, "
			 "effective %s)", kind, strempty(p->plan), strempty(p->effective)),
		    NULL);
		return;
	case KTS_ENFORCE_NARROWED:
		doctor_add(d, "cpu-enforcement", CHECK_WARN,
		    doctor_strf("narrowed: a parent slice of the %s manager limits the probe scope to "
			 "CPUs %s (allowed %s)", kind, strempty(p->effective), strempty(p->plan)),
		    doctor_strf("check AllowedCPUs= of the slices above ktscope.slice ('systemctl%s "
			 "show -p AllowedCPUs ktscope.slice')",
			 p->kind == KTS_BUS_USER ? " --user" : ""));
		return;
	default:
		doctor_add(d, "cpu-enforcement", CHECK_WARN,
		    doctor_strf("affinity: the %s manager accepts AllowedCPUs= but its cgroups have no "
			 "cpuset controller (probe scope: allowed %s, effective %s); builds and "
			 "runs are bound with CPU affinity instead (and MPOL_BIND where a reservation "
			 "leaves out a NUMA node)", kind,
			 strempty(p->plan), p->effective && *p->effective ? p->effective : "none"),
		    p->kind == KTS_BUS_USER
			    ? dropin_fix(c)
			    : doctor_strf("PID 1 gets cpuset only on the unified hierarchy: boot with "
				   "'systemd.unified_cgroup_hierarchy=1'"));
		return;
	}
}

/* ---------------------------------------------------------- directories */

static void check_lock_dir(struct doctor *d)
{
	const char *dir = lock_dir_default(), *fsname = NULL;
	struct stat st;
	int r;

	r = stat(dir, &st) < 0 ? negative_errno() : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (r < 0) {
		doctor_add(d, "lock-dir", CHECK_FAIL, doctor_strf("lock directory '%s': %s", dir, strerror(-r)),
		    doctor_strf("create it, or point KTSCOPE_LOCK_DIR at a directory on a local "
			 "filesystem (ktstr uses /tmp: keep the default to coordinate with it)"));
		return;
	}
	r = lock_check_fs(dir, &fsname);
	if (r == -EREMOTE) {
		doctor_add(d, "lock-dir", CHECK_FAIL,
		    doctor_strf("lock directory '%s' is on %s, where flock(2) does not coordinate "
			 "processes", dir, strempty(fsname)),
		    doctor_strf("point KTSCOPE_LOCK_DIR at a directory on a local filesystem"));
		return;
	}
	r = dir_writable(dir);
	if (r < 0) {
		doctor_add(d, "lock-dir", CHECK_FAIL,
		    doctor_strf("cannot create lock files in '%s': %s", dir, strerror(-r)),
		    doctor_strf("make '%s' writable (mode 1777 for a shared directory), or point "
			 "KTSCOPE_LOCK_DIR elsewhere", dir));
		return;
	}
	doctor_add(d, "lock-dir", CHECK_OK,
	    doctor_strf("'%s': local filesystem, lock files can be created", dir), NULL);
}

static void check_cache_dir(struct doctor *d)
{
	_cleanup_free_ char *root = NULL, *base = NULL;
	const char *var = NULL, *fsname = NULL;
	char free_s[32], where[96] = "";
	struct kts_fsid id = { 0 };
	struct statvfs sv;
	uint64_t avail = 0;
	bool exists;
	int r;

	r = cache_root(&root, &var);
	if (r < 0) {
		doctor_add(d, "cache-dir", CHECK_FAIL,
		    doctor_strf("no cache directory: %s is %s", strempty(var),
			 r == -ENOENT ? "unset or empty" : "not an absolute path (or is '/')"),
		    doctor_strf("set KTSCOPE_CACHE_DIR (or XDG_CACHE_HOME, or HOME) to an absolute path"));
		return;
	}
	r = existing_ancestor(root, &base);
	if (r < 0) {
		doctor_add(d, "cache-dir", CHECK_FAIL,
		    doctor_strf("cache directory '%s' cannot be created: %s", root, strerror(-r)),
		    doctor_strf("point KTSCOPE_CACHE_DIR at a writable directory"));
		return;
	}
	exists = streq(base, root);
	r = dir_writable(base);
	if (r < 0) {
		doctor_add(d, "cache-dir", CHECK_FAIL,
		    exists ? doctor_strf("cache directory '%s' is not writable: %s", root, strerror(-r))
			   : doctor_strf("cache directory '%s' cannot be created: '%s' is not "
				  "writable: %s", root, base, strerror(-r)),
		    doctor_strf("make '%s' writable for this user, or point KTSCOPE_CACHE_DIR at a "
			 "writable directory", base));
		return;
	}
	if (lock_check_fs(base, &fsname) == -EREMOTE) {
		doctor_add(d, "cache-dir", CHECK_FAIL,
		    doctor_strf("cache directory '%s' is on %s, where its entry locks do not work", root,
			 strempty(fsname)),
		    doctor_strf("point KTSCOPE_CACHE_DIR at a directory on a local filesystem"));
		return;
	}
	(void) fsid_get(base, &id);
	if (statvfs(base, &sv) == 0)
		avail = (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize;
	format_bytes(avail, free_s, sizeof(free_s));
	if (!exists)
		(void) snprintf(where, sizeof(where), " (not created yet; '%.60s' is writable)",
				base);
	doctor_add(d, "cache-dir", avail < CACHE_LOW_SPACE ? CHECK_WARN : CHECK_OK,
	    doctor_strf("'%s'%s: %s%s%s, %s free", root, where, *id.type ? id.type : "unknown filesystem",
		 *id.uuid ? " UUID " : "", id.uuid, free_s),
	    avail < CACHE_LOW_SPACE
		    ? doctor_strf("a kernel build with debug info needs several GiB: free space, or point "
			   "KTSCOPE_CACHE_DIR at a bigger filesystem")
		    : NULL);
}

/* ------------------------------------------------------------ sched_ext */

/* 1 when config text (a stream) has CONFIG_SCHED_CLASS_EXT=y, 0 when not; -errno. */
static int config_has_scx(FILE *f)
{
	char line[256];

	while (fgets(line, sizeof(line), f))
		if (startswith(line, "CONFIG_SCHED_CLASS_EXT="))
			return line[strlen("CONFIG_SCHED_CLASS_EXT=")] == 'y';
	return ferror(f) ? -EIO : 0;
}

/* The same for /proc/config.gz, decompressed by gzip reading it on stdin. */
static int config_gz_has_scx(const struct kts_sysroot *root)
{
	_cleanup_fclose_ FILE *gz = sysroot_fopen(root, "proc/config.gz"), *mem = NULL;
	_cleanup_free_ char *text = NULL;
	int r;

	if (!gz)
		return negative_errno();
	r = doctor_run_tool("gzip", "-dc", fileno(gz), 4 << 20, &text);
	if (r < 0)
		return r;
	mem = fmemopen(text, strlen(text), "r");
	if (!mem)
		return negative_errno();
	return config_has_scx(mem);
}

static void check_sched_ext(struct doctor *d, const struct kts_sysroot *root)
{
	_cleanup_free_ char *state = NULL, *boot = NULL;
	const char *source = NULL;
	struct utsname u;
	int r;

	(void) uname(&u);
	if (sysroot_exists(root, "sys/kernel/sched_ext") > 0) {
		(void) sysroot_read_line(root, "sys/kernel/sched_ext/state", &state);
		doctor_add(d, "sched-ext", CHECK_OK,
		    doctor_strf("the running kernel %s has sched_ext (/sys/kernel/sched_ext%s%s)",
			 u.release, state ? ", state " : "", strempty(state)),
		    NULL);
		return;
	}
	r = config_gz_has_scx(root);
	if (r >= 0)
		source = "/proc/config.gz";
	else {
		_cleanup_fclose_ FILE *f = NULL;

		boot = doctor_strf("/boot/config-%s", u.release);
		f = boot ? sysroot_fopen(root, boot + 1) : NULL;
		r = f ? config_has_scx(f) : -ENOENT;
		if (r >= 0)
			source = boot;
	}
	if (r > 0)
		doctor_add(d, "sched-ext", CHECK_OK,
		    doctor_strf("the running kernel %s has CONFIG_SCHED_CLASS_EXT=y (%s)", u.release,
			 source),
		    NULL);
	else
		doctor_add(d, "sched-ext", CHECK_WARN,
		    r == 0 ? doctor_strf("the running kernel %s has no sched_ext "
				  "(CONFIG_SCHED_CLASS_EXT is not set in %s)", u.release, source)
			   : doctor_strf("cannot tell whether the running kernel %s has sched_ext: no "
				  "/sys/kernel/sched_ext, no readable /proc/config.gz or "
				  "/boot/config-%s", u.release, u.release),
		    doctor_strf("builds are not affected; to load a sched_ext scheduler, boot a kernel "
			 "with CONFIG_SCHED_CLASS_EXT=y, e.g. one built here, in a VM "
			 "('ktscope kernel path KEY')"));
}

/* ----------------------------------------------------------------- output */

static void print_human(const struct doctor *d)
{
	const char *no_color = getenv("NO_COLOR");
	bool color = isatty(STDOUT_FILENO) && !(no_color && *no_color);
	unsigned n_fail = 0, n_warn = 0;

	for (size_t i = 0; i < d->n; i++) {
		const struct check *c = &d->checks[i];
		static const char *const mark[] = { "\u2713", "!", "\u2717" };
		static const char *const colour[] = { "\033[32m", "\033[33m", "\033[31m" };
		char title[64];

		(void) snprintf(title, sizeof(title), "%s", c->name);
		for (char *p = title; *p; p++)
			if (*p == '-')
				*p = ' ';
		printf("%s%s%s %s: %s\n", color ? colour[c->status] : "", mark[c->status],
		       color ? "\033[0m" : "", title, c->detail ? c->detail : "?");
		if (c->status != CHECK_OK && c->fix)
			for (const char *p = c->fix; *p;) {
				size_t n = strcspn(p, "\n");

				printf("    %s%.*s\n", p == c->fix ? "fix: " : "     ", (int) n, p);
				p += n;
				p += strspn(p, "\n");
			}
		n_fail += c->status == CHECK_FAIL;
		n_warn += c->status == CHECK_WARN;
	}
	if (n_fail)
		printf("\n%u check%s failed: builds and runs will not work until fixed.\n", n_fail,
		       n_fail == 1 ? "" : "s");
	else
		printf("\nBuilds and runs will work%s.\n",
		       n_warn ? " (see the warnings above)" : "");
}

static int print_json(const struct doctor *d)
{
	struct json_object *j = json_object_new_object(), *a = json_object_new_array();

	if (!j || !a) {
		json_object_put(j);
		json_object_put(a);
		return -ENOMEM;
	}
	json_object_object_add(j, "checks", a);
	for (size_t i = 0; i < d->n; i++) {
		const struct check *c = &d->checks[i];
		struct json_object *o = json_object_new_object();

		if (!o)
			break;
		json_object_object_add(o, "name", json_object_new_string(c->name));
		json_object_object_add(o, "status",
				       json_object_new_string(status_to_string(c->status)));
		json_object_object_add(o, "detail",
				       json_object_new_string(c->detail ? c->detail : "?"));
		json_object_object_add(o, "fix", c->fix ? json_object_new_string(c->fix) : NULL);
		json_object_array_add(a, o);
	}
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return 0;
}

/* ------------------------------------------------------------------ main */

static void sysroot_closep(struct kts_sysroot *r)
{
	sysroot_close(r);
}

/* The probe's plan: the lowest CPU this process may run on, and its node. */
static int probe_plan(const struct kts_topology *t, bool have_topo, struct kts_cpuset *cpus,
		      struct kts_cpuset *mems)
{
	int cpu = -1, node = 0, r;

	if (have_topo) {
		cpu = cpuset_next(&t->allowed, -1);
		if (cpu >= 0 && topo_cpu_node(t, (unsigned) cpu) >= 0)
			node = topo_cpu_node(t, (unsigned) cpu);
	} else {
		cpu_set_t set;

		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			for (int i = 0; i < CPU_SETSIZE && cpu < 0; i++)
				if (CPU_ISSET(i, &set))
					cpu = i;
	}
	if (cpu < 0)
		cpu = 0;
	r = cpuset_add(cpus, (unsigned) cpu);
	if (r >= 0)
		r = cpuset_add(mems, (unsigned) node);
	return r;
}

int cli_doctor(const struct kts_opts *o, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "user", no_argument, NULL, 'U' },
		{ "system", no_argument, NULL, 'S' },
		{}
	};
	struct doctor d __attribute__((cleanup(doctor_done))) = { .n = 0 };
	struct kts_topology t _cleanup_(topo_donep) = { 0 };
	struct kts_sysroot root _cleanup_(sysroot_closep) = KTS_SYSROOT_INIT;
	struct cgroup_info cg __attribute__((cleanup(cgroup_info_done))) = { 0 };
	struct kts_cpuset cpus _cleanup_cpuset_ = KTS_CPUSET_INIT;
	struct kts_cpuset mems _cleanup_cpuset_ = KTS_CPUSET_INIT;
	enum kts_manager manager = o->manager;
	struct kts_session_probe probes[2];
	enum kts_bus_kind selected;
	bool json = false, have_topo = false;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(doctor_help, stdout);
			return KTS_EXIT_OK;
		case 'j':
			json = true;
			break;
		case 'U':
			manager = KTS_MANAGER_USER;
			break;
		case 'S':
			manager = KTS_MANAGER_SYSTEM;
			break;
		default:
			return cli_option_error(c, argv, "doctor");
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see 'ktscope doctor --help')", argv[optind]);
		return KTS_EXIT_USAGE;
	}
	selected = manager == KTS_MANAGER_USER	   ? KTS_BUS_USER
		   : manager == KTS_MANAGER_SYSTEM ? KTS_BUS_SYSTEM
						   : bus_kind_default();

	/* Doctor inspects the host it runs on, never a snapshot. */
	r = sysroot_open("/", &root);
	if (r < 0)
		return log_error_errno(r, "cannot open '/': %m"), KTS_EXIT_ENV;

	check_topology(&d, &root, &t, &have_topo);
	if (probe_plan(&t, have_topo, &cpus, &mems) < 0)
		return log_error("out of memory"), KTS_EXIT_FAILURE;
	session_probe(KTS_BUS_USER, &cpus, &mems, &probes[0]);
	session_probe(KTS_BUS_SYSTEM, &cpus, &mems, &probes[1]);
	check_manager(&d, &probes[0], selected == KTS_BUS_USER);
	check_manager(&d, &probes[1], selected == KTS_BUS_SYSTEM);
	cgroup_probe(&root, &cg);
	check_cgroup(&d, &cg);
	check_enforcement(&d, &probes[selected == KTS_BUS_USER ? 0 : 1], &cg);
	session_probe_done(&probes[0]);
	session_probe_done(&probes[1]);

	check_lock_dir(&d);
	check_cache_dir(&d);

	doctor_check_toolchain(&d);
	doctor_check_libraries(&d);
	doctor_check_compile_engines(&d);
	check_sched_ext(&d, &root);

	if (json) {
		if (print_json(&d) < 0)
			return log_error("out of memory"), KTS_EXIT_FAILURE;
	} else
		print_human(&d);

	for (size_t i = 0; i < d.n; i++)
		if (d.checks[i].status == CHECK_FAIL)
			return KTS_EXIT_ENV;
	return KTS_EXIT_OK;
}
