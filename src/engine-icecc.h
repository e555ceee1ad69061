/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile.h"

/*
 * icecream (icecc 1.4) as a distributed compile engine (issue 12); engine.c's
 * engine_plan() calls engine_icecc_plan() for --icecc. What ktscope asks of icecream,
 * each step from what icecream's own programs do (icecc/icecream sources, 1.4):
 *
 *   the scheduler  as iceccd finds it: ICECC_SCHEDULER=HOST[:PORT] (what iceccd, icemon
 *                  and icecc --build-native read), else ICECC_SCHEDULER_HOST of the
 *                  daemon's configuration (/etc/icecc/icecc.conf on Debian,
 *                  /etc/sysconfig/icecream on SUSE; the init scripts pass it as
 *                  iceccd -s). Port 8765 unless given. Else iceccd's discovery: a UDP
 *                  broadcast to port 8765 on every network, answered by the schedulers
 *                  (only when this machine's iceccd answers: without it --icecc cannot
 *                  work anyway, and a machine without icecream sends nothing).
 *   the daemon     the icecc client of the build talks to the local iceccd, found as the
 *                  client finds it ($ICECC_TEST_SOCKET, /var/run/icecc/iceccd.socket,
 *                  /var/run/iceccd.socket, $HOME/.iceccd.socket, 127.0.0.1:10245); it
 *                  must answer icecream's protocol handshake.
 *   the slots      the scheduler's text interface (port + 1) answers `listcs` with one
 *                  line per compile server: "NODE (IP:PORT) [PLATFORM] speed=S
 *                  jobs=RUNNING/MAX load=L". The remote slots are the MAXes of the
 *                  servers other than this machine's own node (its jobs run here, in the
 *                  scope) and other than nodes that take no remote jobs (port 0).
 *   the toolchain  icecc-create-env packs the build's compiler into a tarball that
 *                  remote daemons unpack and chroot into, so remote compilers are this
 *                  one; kept in {cache}/icecc/ under the compiler's identity (path, size,
 *                  mtime), made once, reused; the build gets ICECC_VERSION=tarball.
 *
 * Anything missing or not answering is not an error: the plan falls back to a local
 * build with the reason (engine_plan() logs one warning line).
 */

#define ENGINE_ICECC_SCHEDULER_PORT 8765 /* its text interface: port + 1 */
#define ENGINE_ICECC_DAEMON_PORT 10245
#define ENGINE_ICECC_PROTOCOL 43         /* icecream 1.4's PROTOCOL_VERSION */
#define ENGINE_ICECC_LISTCS_MAX (256u << 10) /* bytes of a listcs answer we read */
#define ENGINE_ICECC_SERVER_MAX_SLOTS 4096   /* a server's MAX we believe */
#define ENGINE_ICECC_TIMEOUT_MS 2000     /* per connection to the daemon or the scheduler */
#define ENGINE_ICECC_TMP_STALE_S 3600    /* a packing directory this old was abandoned */

/* The daemon configuration files that may name the scheduler, in the order tried. */
extern const char *const engine_icecc_conf_paths[];

/*
 * HOST[:PORT] as iceccd -s and ICECC_SCHEDULER take it (PORT 1..65535, default 8765;
 * HOST: letters, digits, '.', '-', '_', at most 253 bytes). 0, -EINVAL, -ENOMEM.
 */
int engine_icecc_parse_scheduler(const char *s, char **ret_host, uint16_t *ret_port);

/*
 * NAME's value in a shell-variable configuration file's text (NAME="value",
 * NAME='value' or NAME=value; '#' comments; the last assignment wins): 0 and *ret (NULL
 * when the variable is absent or empty), or -ENOMEM.
 */
int engine_icecc_conf_value(const char *text, const char *name, char **ret);
/* engine_icecc_conf_value() of ICECC_SCHEDULER_HOST. */
int engine_icecc_conf_scheduler(const char *text, char **ret);

/*
 * The scheduler as iceccd finds it (above): 0 with *ret_host, *ret_port and *ret_from
 * (where it was found: "ICECC_SCHEDULER", a configuration file's path, or "broadcast";
 * static). When nothing names one: with broadcast, iceccd's discovery (a UDP broadcast to
 * port 8765 on every broadcast-capable IPv4 network, of ICECC_NETNAME of the
 * configuration, default "ICECREAM"; -ENOENT with *ret_why when none answers in
 * ENGINE_ICECC_TIMEOUT_MS); without, -ENOENT. -EINVAL with *ret_why when a setting is
 * malformed. conf_paths: NULL-terminated, NULL for engine_icecc_conf_paths.
 */
int engine_icecc_find_scheduler(const char *const *conf_paths, bool broadcast, char **ret_host,
				uint16_t *ret_port, const char **ret_from, char **ret_why);

/* A scheduler's answer to the discovery broadcast. */
#define ENGINE_ICECC_ANNOUNCE_LEN 268
struct engine_icecc_announce {
	unsigned version; /* its protocol, 1..127 */
	uint64_t start;   /* when it started (seconds since the epoch; 0: unknown) */
	char netname[256];
};
/*
 * Parses an answer to our discovery byte (ENGINE_ICECC_PROTOCOL), in the three layouts
 * schedulers of protocols <= 32, 33-37 and >= 38 send: 0, or -EBADMSG.
 */
int engine_icecc_announce_parse(const uint8_t *buf, size_t len, struct engine_icecc_announce *ret);

/*
 * Is the local iceccd there: connects where the icecc client would and does icecream's
 * protocol handshake. 0 and *ret_where ("/var/run/icecc/iceccd.socket"), or negative
 * errno with *ret_why naming every place tried.
 */
int engine_icecc_daemon_check(unsigned timeout_ms, char **ret_where, char **ret_why);

/* What a listcs answer says. */
struct engine_icecc_servers {
	unsigned servers;      /* compile server lines */
	unsigned remote;       /* of those, servers counted as remote */
	unsigned remote_slots; /* the sum of their MAX jobs (at most JOB_MAX_JOBS) */
};

/*
 * Parses the scheduler's text interface from its greeting through the answer to
 * `listcs` ("200 done"), strictly: every line must be a greeting ("200-..." / "200 ..."),
 * a server line, or one of a server's job lines (indented by three spaces); at most
 * ENGINE_ICECC_LISTCS_MAX bytes. self: this machine's node name (its line is not
 * remote), or NULL. 0 and *ret, -EBADMSG (malformed or incomplete), -EFBIG.
 */
int engine_icecc_listcs_parse(const char *text, size_t len, const char *self,
			      struct engine_icecc_servers *ret);

/*
 * Asks the scheduler at host:port+1 for `listcs` and parses the answer (above). 0 and
 * *ret, or negative errno with *ret_why ("127.0.0.1:8766: connection refused").
 */
int engine_icecc_query(const char *host, uint16_t port, unsigned timeout_ms, const char *self,
		       struct engine_icecc_servers *ret, char **ret_why);

/*
 * engine-icecc-env.c: the toolchain tarball of compiler cc (a name found in PATH, or a path): under
 * {cache_root}/icecc/, named by the compiler's identity; made with icecc-create-env when
 * missing (into a temporary directory there, then renamed: concurrent builds each see a
 * whole tarball or none; temporary directories older than ENGINE_ICECC_TMP_STALE_S,
 * left by a build killed while packing, are removed). 0 and *ret_path (true *ret_made
 * when it was made now), or negative errno with *ret_why.
 */
int engine_icecc_env(const char *cache_root, const char *cc, char **ret_path, bool *ret_made,
		     char **ret_why);

/* name when it holds a '/', else its first executable match in PATH (caller frees); NULL. */
char *engine_icecc_find_program(const char *name);

/*
 * The icecream part of a compile plan (engine_plan(), for req->engine ICECC): on
 * success plan->engine = ICECC, engine_bin = icecc, hosts = "HOST:PORT" of the
 * scheduler, icecc_env = the tarball (the user's ICECC_VERSION when set: nothing is
 * packed), remote_jobs = req->remote_jobs or the slots the
 * scheduler reports. When icecream cannot serve, plan->engine = NONE and plan->fallback
 * = the reason ("icecream: ..."), 0 returned, nothing logged (the caller warns once).
 * cache_root and cc: as for engine_icecc_env(). Errors: -ENXIO icecc is not installed
 * (*ret_why), -ENOMEM.
 */
int engine_icecc_plan(const struct kts_compile_request *req, const char *cache_root, const char *cc,
		      struct kts_compile_plan *plan, char **ret_why);
