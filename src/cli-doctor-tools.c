/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ktscope doctor`'s checks of the programs a build runs (cli-doctor.h): the kernel build
 * toolchain (make, the C compiler, flex, bison, bc, pahole >= 1.16, the libelf and OpenSSL
 * headers) and the compile engines past the reservation (ccache >= 4.7.3, the distcc
 * hosts of $DISTCC_HOSTS, icecream). Versions are read from each program's --version
 * through util's spawn_capture(); distcc hosts are probed with engine.c's probe, the one
 * `build --distcc` uses. Also whether the libraries ktscope loads on demand (dlopen-util.h)
 * load: a missing or mismatched one fails only the commands that use it, so say which.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "btf-header.h"
#include "cli-doctor.h"
#include "engine-icecc.h"
#include "engine.h"
#include "fsid.h"
#include "hash.h"
#include "http.h"
#include "log.h"
#include "macro.h"
#include "source.h"
#include "strip.h"
#include "util.h"


int doctor_run_tool(const char *prog, const char *arg, int in_fd, size_t max, char **ret)
{
	char *const argv[] = { (char *) prog, (char *) arg, NULL };
	struct spawn_opts o = {
		.in = in_fd >= 0 ? SPAWN_FD : SPAWN_NULL,
		.in_fd = in_fd,
		.out = SPAWN_PIPE,
		.max = max,
	};
	_cleanup_free_ char *out = NULL;
	int status, r;

	r = spawn_capture(argv, &o, &status, &out, NULL);
	if (r < 0)
		return r;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EPROTO;
	*ret = TAKE_PTR(out);
	return 0;
}

/* The first line of "prog --version" (or "prog -V", ...), or negative errno. */
static int tool_version_line(const char *prog, const char *arg, char **ret)
{
	_cleanup_free_ char *out = NULL;
	char *nl;
	int r;

	r = doctor_run_tool(prog, arg, -EBADF, 4096, &out);
	if (r < 0)
		return r;
	nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	if (!*out)
		return -ENODATA;
	*ret = TAKE_PTR(out);
	return 0;
}

/*
 * The version number in a --version line: the first word that, after an
 * optional 'v', starts with digits and a dot ("GNU Make 4.3", "gcc (Debian
 * 12.2.0-14) 12.2.0", "v1.24"). Writes major and minor; -EINVAL when none.
 */
static int parse_version(const char *line, unsigned *ret_major, unsigned *ret_minor)
{
	for (const char *p = line; *p;) {
		unsigned major, minor;
		const char *w = p;
		int n = 0;

		if (*w == 'v')
			w++;
		if (*w >= '0' && *w <= '9' && (p == line || p[-1] == ' ' || p[-1] == '(') &&
		    sscanf(w, "%u.%u%n", &major, &minor, &n) == 2 && n > 0) {
			*ret_major = major;
			*ret_minor = minor;
			return 0;
		}
		p += strcspn(p, " (");
		p += strspn(p, " (");
	}
	return -EINVAL;
}

char *doctor_install_hint(const char *deb, const char *fedora, const char *arch)
{
	return doctor_strf("install it: apt install %s (Debian/Ubuntu), dnf install %s (Fedora), "
		    "pacman -S %s (Arch)", deb, fedora, arch);
}
/* ------------------------------------------------------------ toolchain */

struct tool {
	const char *name;       /* check name */
	const char *prog;
	const char *arg;
	const char *deb, *fedora, *arch; /* package names */
	const char *why;        /* what the kernel build uses it for */
};

static const struct tool tools[] = {
	{ "make", "make", "--version", "make", "make", "make", "drives the build" },
	{ "flex", "flex", "--version", "flex", "flex", "flex", "Kconfig's lexer" },
	{ "bison", "bison", "--version", "bison", "bison", "bison", "Kconfig's parser" },
	{ "bc", "bc", "--version", "bc", "bc", "bc", "computes kernel/time constants" },
};

static void check_tool(struct doctor *d, const struct tool *t)
{
	_cleanup_free_ char *line = NULL;
	int r = tool_version_line(t->prog, t->arg, &line);

	if (r < 0)
		doctor_add(d, t->name, CHECK_FAIL,
		    r == -ENOENT ? doctor_strf("'%s' not found in PATH (%s)", t->prog, t->why)
				 : doctor_strf("'%s %s' failed: %s", t->prog, t->arg, strerror(-r)),
		    doctor_install_hint(t->deb, t->fedora, t->arch));
	else
		doctor_add(d, t->name, CHECK_OK, TAKE_PTR(line), NULL);
}

static void check_compiler(struct doctor *d)
{
	_cleanup_free_ char *gcc = NULL, *clang = NULL;

	if (tool_version_line("gcc", "--version", &gcc) == 0) {
		doctor_add(d, "c-compiler", CHECK_OK, TAKE_PTR(gcc), NULL);
		return;
	}
	if (tool_version_line("clang", "--version", &clang) == 0) {
		doctor_add(d, "c-compiler", CHECK_WARN,
		    doctor_strf("gcc not found; %s (the kernel's default CC is gcc: clang needs LLVM=1)",
			 clang),
		    doctor_install_hint("gcc", "gcc", "gcc"));
		return;
	}
	doctor_add(d, "c-compiler", CHECK_FAIL, doctor_strf("neither gcc nor clang found in PATH"),
	    doctor_install_hint("build-essential", "gcc", "base-devel"));
}

static void check_pahole(struct doctor *d)
{
	_cleanup_free_ char *line = NULL;
	unsigned major, minor;
	int r;

	r = tool_version_line("pahole", "--version", &line);
	if (r < 0) {
		doctor_add(d, "pahole", CHECK_FAIL,
		    r == -ENOENT ? doctor_strf("'pahole' not found in PATH (CONFIG_DEBUG_INFO_BTF needs "
					"pahole >= 1.16; without BTF a sched_ext kernel fails "
					"validation)")
				 : doctor_strf("'pahole --version' failed: %s", strerror(-r)),
		    doctor_install_hint("dwarves", "dwarves", "pahole"));
		return;
	}
	if (parse_version(line, &major, &minor) < 0) {
		doctor_add(d, "pahole", CHECK_WARN, doctor_strf("pahole version '%s' not understood", line),
		    NULL);
		return;
	}
	if (major < 1 || (major == 1 && minor < 16)) {
		doctor_add(d, "pahole", CHECK_FAIL,
		    doctor_strf("pahole %u.%u is older than 1.16: the build drops CONFIG_DEBUG_INFO_BTF "
			 "and fails validation", major, minor),
		    doctor_install_hint("dwarves", "dwarves", "pahole"));
		return;
	}
	doctor_add(d, "pahole", CHECK_OK, doctor_strf("pahole %u.%u (>= 1.16, BTF works)", major, minor), NULL);
}

static void check_header(struct doctor *d, const char *name, const char *const *paths,
			 const char *what, const char *deb, const char *fedora, const char *arch)
{
	for (const char *const *p = paths; *p; p++)
		if (access(*p, R_OK) == 0) {
			doctor_add(d, name, CHECK_OK, doctor_strf("%s", *p), NULL);
			return;
		}
	doctor_add(d, name, CHECK_FAIL, doctor_strf("%s not found (%s)", paths[0], what),
	    doctor_install_hint(deb, fedora, arch));
}
void doctor_check_toolchain(struct doctor *d)
{
	check_tool(d, &tools[0]);
	check_compiler(d);
	for (size_t i = 1; i < ELEMENTSOF(tools); i++)
		check_tool(d, &tools[i]);
	check_pahole(d);
	check_header(d, "libelf", (const char *const[]){ "/usr/include/libelf.h",
							 "/usr/include/gelf.h", NULL },
		     "objtool and resolve_btfids need libelf", "libelf-dev",
		     "elfutils-libelf-devel", "libelf");
	check_header(d, "openssl", (const char *const[]){ "/usr/include/openssl/ssl.h", NULL },
		     "certificate and module-signing tools need OpenSSL", "libssl-dev",
		     "openssl-devel", "openssl");
}

/* ------------------------------------------------------------ libraries */

/* The libraries loaded with dlopen(); what each serves, as a failure names it. */
static const struct {
	const char *soname;
	int (*load)(char **ret_why);
	bool optional; /* builds go on without it */
} dlopen_libs[] = {
	{ KTS_SONAME_GIT2, source_libgit2_load, false },
	{ KTS_SONAME_CRYPTO, hash_load, false },
	{ KTS_SONAME_ELF, elf_dl_load, false },
	{ KTS_SONAME_BPF, bpf_dl_load, false },
	{ KTS_SONAME_BLKID, fsid_load, true },
	{ "libcurl.so.4", http_load, true },
};

/*
 * One line per library that does not load (FAIL when builds need it: reading a git tree,
 * hashing, stripping, reading BTF; WARN for filesystem UUIDs and downloads), else one OK
 * line naming them all. Loading them here costs doctor what a build pays anyway.
 */
void doctor_check_libraries(struct doctor *d)
{
	_cleanup_free_ char *ok = NULL;
	bool all = true;

	for (size_t i = 0; i < ELEMENTSOF(dlopen_libs); i++) {
		_cleanup_free_ char *why = NULL;
		char *t;

		if (dlopen_libs[i].load(&why) < 0) {
			all = false;
			doctor_add(d, dlopen_libs[i].soname,
			    dlopen_libs[i].optional ? CHECK_WARN : CHECK_FAIL,
			    doctor_strf("%s", why ? why : dlopen_libs[i].soname), NULL);
			continue;
		}
		t = doctor_strf("%s%s%s", strempty(ok), ok ? ", " : "", dlopen_libs[i].soname);
		free(ok);
		ok = t;
	}
	if (ok)
		doctor_add(d, "libraries", CHECK_OK,
		    doctor_strf("%s load%s", ok, all ? "" : " (the others do not, above)"), NULL);
}

/* ------------------------------------------------------------ compile engines */

/* "4.7.5" of "ccache version 4.7.5"; -EINVAL when the line is not that. */
static int ccache_version(const char *line, unsigned v[3])
{
	int n = 0;

	v[2] = 0;
	if (sscanf(line, "ccache version %u.%u%n", &v[0], &v[1], &n) != 2)
		return -EINVAL;
	if (line[n] == '.' && sscanf(line + n, ".%u", &v[2]) != 1)
		return -EINVAL;
	return 0;
}

/* ccache >= 4.7.3 caches kernel objects (issue 12); older ones or none: a warning. */
static void check_ccache(struct doctor *d)
{
	_cleanup_free_ char *line = NULL;
	unsigned v[3];
	int r = tool_version_line("ccache", "--version", &line);

	if (r == -ENOENT) {
		doctor_add(d, "ccache", CHECK_WARN,
			   doctor_strf("'ccache' not found in PATH (build --ccache needs it)"),
			   doctor_install_hint("ccache", "ccache", "ccache"));
		return;
	}
	if (r < 0 || ccache_version(line, v) < 0) {
		doctor_add(d, "ccache", CHECK_WARN,
			   r < 0 ? doctor_strf("'ccache --version' failed: %s", strerror(-r))
				 : doctor_strf("ccache version '%s' not understood", line),
			   NULL);
		return;
	}
	if (v[0] < 4 || (v[0] == 4 && (v[1] < 7 || (v[1] == 7 && v[2] < 3)))) {
		doctor_add(d, "ccache", CHECK_WARN,
			   doctor_strf("ccache %u.%u.%u is older than 4.7.3: it caches few kernel "
				       "objects", v[0], v[1], v[2]),
			   doctor_strf("install ccache 4.7.3 or newer"));
		return;
	}
	doctor_add(d, "ccache", CHECK_OK, doctor_strf("ccache %u.%u.%u (>= 4.7.3)", v[0], v[1], v[2]),
		   NULL);
}

/* Probes the TCP hosts of h; the detail of the check ("2 of 3 hosts answer ..."). */
static void check_distcc_hosts(struct doctor *d, const struct engine_hosts *h)
{
	_cleanup_free_ bool *answers = calloc(h->n, sizeof(bool));
	_cleanup_free_ char **why = calloc(h->n, sizeof(char *));
	_cleanup_free_ char *failed = NULL;
	size_t tcp = 0, up = 0;
	unsigned slots = 0;

	if (!answers || !why || engine_hosts_probe(h, ENGINE_PROBE_TIMEOUT_MS, answers, why) < 0) {
		doctor_add(d, "distcc", CHECK_WARN, doctor_strf("out of memory"), NULL);
		return;
	}
	for (size_t i = 0; i < h->n; i++) {
		const struct engine_host *e = &h->v[i];

		if (e->kind == ENGINE_HOST_TCP && !e->down) {
			tcp++;
			up += answers[i];
		}
		if (answers[i] && !e->down && (e->kind == ENGINE_HOST_TCP || e->kind == ENGINE_HOST_SSH))
			slots += e->slots;
		if (why[i]) {
			char *s = doctor_strf("%s%s%s", failed ? failed : "", failed ? "; " : "", why[i]);

			free(failed);
			failed = s;
			free(why[i]);
		}
	}
	if (failed)
		doctor_add(d, "distcc", CHECK_WARN,
			   doctor_strf("DISTCC_HOSTS: %zu of %zu TCP hosts answer (%u remote slots); "
				       "not answering: %s", up, tcp, slots, failed),
			   doctor_strf("start distccd on those hosts (e.g. distccd --daemon "
				       "--allow NET) or remove them from DISTCC_HOSTS"));
	else
		doctor_add(d, "distcc", CHECK_OK,
			   doctor_strf("DISTCC_HOSTS: %zu TCP hosts answer, %u remote slots", tcp,
				       slots),
			   NULL);
}

/* $DISTCC_HOSTS: not set is not a failure; set, its hosts should answer. */
static void check_distcc(struct doctor *d)
{
	struct engine_hosts h _cleanup_(engine_hosts_done) = { 0 };
	const char *hosts = getenv_nonempty("DISTCC_HOSTS");
	_cleanup_free_ char *line = NULL, *why = NULL;

	if (!hosts) {
		doctor_add(d, "distcc", CHECK_OK,
			   doctor_strf("not configured (DISTCC_HOSTS is not set; build --distcc=HOSTS "
				       "names hosts per build)"),
			   NULL);
		return;
	}
	if (tool_version_line("distcc", "--version", &line) < 0) {
		doctor_add(d, "distcc", CHECK_WARN,
			   doctor_strf("DISTCC_HOSTS is set but 'distcc --version' does not run"),
			   doctor_install_hint("distcc", "distcc", "distcc"));
		return;
	}
	if (engine_distcc_hosts_parse(hosts, &h, &why) < 0) {
		doctor_add(d, "distcc", CHECK_WARN, doctor_strf("DISTCC_HOSTS: %s", strempty(why)),
			   doctor_strf("see distcc(1), HOST SPECIFICATIONS"));
		return;
	}
	check_distcc_hosts(d, &h);
}

/* icecream: the scheduler found as iceccd finds it answers, and the local daemon does. */
static void check_icecc(struct doctor *d)
{
	_cleanup_free_ char *host = NULL, *why = NULL, *where = NULL;
	struct engine_icecc_servers s;
	const char *from = NULL;
	struct utsname u;
	uint16_t port;
	int r;

	r = engine_icecc_find_scheduler(NULL, false, &host, &port, &from, &why);
	/* Nothing names one: look as iceccd does, if this machine runs one (else, no icecream) */
	if (r == -ENOENT) {
		if (engine_icecc_daemon_check(ENGINE_ICECC_TIMEOUT_MS, &where, &why) < 0) {
			doctor_add(d, "icecream", CHECK_OK,
				   doctor_strf("not configured (no iceccd on this machine, no "
					       "ICECC_SCHEDULER, no ICECC_SCHEDULER_HOST in %s)",
					       engine_icecc_conf_paths[0]),
				   NULL);
			return;
		}
		free(where);
		where = NULL;
		r = engine_icecc_find_scheduler(NULL, true, &host, &port, &from, &why);
	}
	if (r < 0) {
		doctor_add(d, "icecream", CHECK_WARN, doctor_strf("%s", why ?: strerror(-r)),
			   doctor_strf("set ICECC_SCHEDULER=HOST[:PORT]"));
		return;
	}
	r = engine_icecc_query(host, port, ENGINE_ICECC_TIMEOUT_MS, uname(&u) == 0 ? u.nodename :
			       NULL, &s, &why);
	if (r < 0) {
		doctor_add(d, "icecream", CHECK_WARN,
			   doctor_strf("no icecream scheduler found: %s (from %s)", strempty(why),
				       from),
			   doctor_strf("start icecc-scheduler on %s, or name the right host in %s",
				       host, from));
		return;
	}
	free(why);
	why = NULL;
	if (engine_icecc_daemon_check(ENGINE_ICECC_TIMEOUT_MS, &where, &why) < 0) {
		doctor_add(d, "icecream", CHECK_WARN,
			   doctor_strf("icecream scheduler found at %s:%u (from %s), but %s", host,
				       port, from, strempty(why)),
			   doctor_strf("start iceccd -s %s:%u on this machine (Debian: the iceccd "
				       "service)", host, port));
		return;
	}
	doctor_add(d, "icecream", CHECK_OK,
		   doctor_strf("icecream scheduler found at %s:%u (from %s): %u compile servers, "
			       "%u remote slots; local daemon at %s", host, port, from, s.servers,
			       s.remote_slots, where),
		   NULL);
}

void doctor_check_compile_engines(struct doctor *d)
{
	check_ccache(d);
	check_distcc(d);
	check_icecc(d);
}
