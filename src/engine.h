/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile.h"

/*
 * The distributed compile engines (DESIGN §10, issue 12): distcc here, icecream in
 * engine-icecc.c. The parent plans (engine_plan(): is the engine there, do its hosts
 * answer, how many remote slots does make -j get), the plan travels in the job file
 * (struct kts_compile_plan, compile.h) and the in-scope half hands it to make through
 * compile_setup() (compile.c): the CC wrapper runs plan->engine_bin, and
 * engine_make_env() names the engine's environment (DISTCC_HOSTS=plan->hosts).
 *
 * An engine that is asked for but cannot serve (no host answers, the binary does not
 * run) is not an error: the plan falls back to a local build (engine NONE, fallback =
 * the reason) and engine_plan() says so in one warning line. Only a bad request is an
 * error (a host list distcc would refuse: -EINVAL, exit 2; distcc not installed: -ENXIO,
 * exit 4), before any reservation is taken.
 */

/* ---------------------------------------------------------------- distcc host lists */

/* Bounds of what the parser accepts (distcc itself has none; these are generous). */
#define ENGINE_HOSTS_MAX_LEN 8192  /* bytes of a host list */
#define ENGINE_HOSTS_MAX 256       /* entries */
#define ENGINE_HOST_MAX_SLOTS 1024 /* /LIMIT */

/* distcc(1) "HOST SPECIFICATIONS" */
enum engine_host_kind {
	ENGINE_HOST_LOCAL,    /* localhost[/LIMIT]: compiles on this machine (in the scope) */
	ENGINE_HOST_TCP,      /* HOST[:PORT][/LIMIT][,OPTIONS] or [IPv6]... */
	ENGINE_HOST_SSH,      /* [USER]@HOST[/LIMIT][:COMMAND][,OPTIONS] */
	ENGINE_HOST_ZEROCONF, /* +zeroconf: avahi finds the hosts at compile time */
};

struct engine_host {
	enum engine_host_kind kind;
	char *spec;     /* the entry as written: what distcc is given */
	char *name;     /* TCP/SSH: the host name or address (no brackets); else NULL */
	uint16_t port;  /* TCP: PORT, or distcc's default 3632 */
	unsigned slots; /* LIMIT, or distcc 3.4's default: 4 (localhost: 2; hosts.c) */
	bool down;      /* ",down": distcc skips it */
};

struct engine_hosts {
	struct engine_host *v;
	size_t n;
	bool randomize;                     /* --randomize */
	unsigned localslots, localslots_cpp; /* --localslots=N, --localslots_cpp=N; 0: absent */
};
void engine_hosts_done(struct engine_hosts *h);

/*
 * Parses a distcc host list (whitespace-separated entries, '#' comments to the end of
 * the line) as distcc 3.4 does (src/hosts.c), but strictly: every entry must be one
 * distcc accepts, names and numbers are checked and bounded (LIMIT 1..1024, PORT 1..65535,
 * host names of letters, digits, '.', '-', '_'), options are lzo, cpp (which needs lzo),
 * down, auth and auth=NAME. An empty list (no entries) is an error, as for distcc.
 * Returns 0 and *ret, -EINVAL with *ret_why = "invalid distcc host 'ENTRY': why", or
 * -ENOMEM. *ret is written on success only.
 */
int engine_distcc_hosts_parse(const char *text, struct engine_hosts *ret, char **ret_why);

/* The remote slots a parsed list states: the LIMITs of its TCP and SSH hosts, not down. */
unsigned engine_hosts_remote_slots(const struct engine_hosts *h);

/* ---------------------------------------------------------------- probing */

/*
 * Probes the TCP hosts of h that are not down: a TCP connect to each (all at once),
 * waiting at most timeout_ms in all. answers[i] is set for every entry (SSH, localhost
 * and zeroconf entries are not probed: answers[i] = true) and, for a TCP host that does
 * not answer, why[i] = "127.0.0.1:3632: connection refused" (caller frees; NULL
 * otherwise). Both arrays hold h->n elements. 0, or -ENOMEM.
 */
int engine_hosts_probe(const struct engine_hosts *h, unsigned timeout_ms, bool *answers,
		       char **why);

/* ---------------------------------------------------------------- the plan */

/* Per-host probe timeout of engine_plan(). */
#define ENGINE_PROBE_TIMEOUT_MS 1000

/*
 * The engine part of a compile plan, in the parent, before the reservation: fills
 * plan->engine, engine_bin, hosts, remote_jobs and fallback from req (engine,
 * distcc_hosts, remote_jobs); ccache's fields are not touched. With req->engine NONE it
 * does nothing. When the engine cannot serve, plan->engine = NONE, plan->fallback = the
 * reason, one warning line is logged and 0 returned: the build goes on locally.
 * Errors, with *ret_why: -EINVAL the host list is bad (exit 2); -ENXIO the engine's
 * binary is not installed (exit 4); -ENOMEM.
 */
int engine_plan(const struct kts_compile_request *req, struct kts_compile_plan *plan,
		char **ret_why);

/* make -j: the planned local CPUs plus the engine's remote slots, at most 65536 (job.h). */
unsigned engine_make_jobs(unsigned local, unsigned remote_jobs);

/*
 * The engine's environment for make, in the in-scope half: NAME=VALUE strings appended
 * to *env (a NULL-terminated strv of *n entries, grown with realloc), e.g.
 * DISTCC_HOSTS=plan->hosts. Nothing for engine NONE. 0 or -ENOMEM.
 */
int engine_make_env(const struct kts_compile_plan *plan, char ***env, size_t *n);
/* engine_make_env()'s variables set in this process, which make inherits. 0 or -errno. */
int engine_setup_env(const struct kts_compile_plan *plan);

/* The engine's daemon when it refuses -fplugin (GCC plugins): "distccd"; else NULL. */
const char *engine_plugins_refused_by(const struct kts_compile_plan *plan);

/* One line for the result and `kernel show`: "distcc 127.0.0.1/4 (+4 jobs)"; NULL: none. */
char *engine_describe(enum kts_compile_engine engine, const char *hosts, unsigned jobs);
/*
 * What the result line says of the plan's engine: engine_describe(), or "built locally:
 * REASON" after a fallback; *ret NULL when no engine was asked for. 0 or -ENOMEM.
 */
int engine_summary(const struct kts_compile_plan *plan, char **ret);
