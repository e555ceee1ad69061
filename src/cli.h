/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* Documented exit codes (DESIGN §1). */
enum {
	KTS_EXIT_OK = 0,
	KTS_EXIT_FAILURE = 1,
	KTS_EXIT_USAGE = 2,
	KTS_EXIT_BUSY = 3,
	KTS_EXIT_ENV = 4,
};

/* Global options, parsed before the command name. */
struct kts_opts {
	enum kts_manager manager;
	int verbosity; /* -1 quiet, 0 normal, 1+ verbose */
};

/* Entry point from main(); returns the process exit code. */
int cli_main(int argc, char **argv);

/*
 * A negative errno, already logged, as the documented exit code (DESIGN §1), for the
 * classes the modules below return (session.h, reserve.h, build.h):
 *   -EINVAL                       2 usage: a request that can never be satisfied
 *   -EBUSY, -ETIME                3 reservation not available (now / in time)
 *   -EHOSTDOWN, -EACCES, -EPERM,  4 environment: no manager, refused, the cgroup does
 *   -EMEDIUMTYPE, -EREMOTE, -ENOLCK  not enforce what was asked, unusable lock directory,
 *   -ENXIO, -ELIBACC, -ELIBBAD      a build's missing toolchain, cache dir or topology,
 *                                   an optional library that cannot be loaded
 *   anything else                 1 failure
 * r >= 0 → 0. A module whose errno could fall into the wrong class returns its
 * class's value instead (session_run()'s -EIO) after logging the real one.
 */
int cli_exit_code(int r);

/*
 * The helpers every command file may call (cli-common.c); no command file calls
 * another's functions. Those below return an exit code (KTS_EXIT_*) and log their
 * own error.
 */
/* Parses a CPU count for --cpu-cap (or KTSCOPE_CPU_CAP when from_env). */
int cli_parse_cpu_cap(const char *value, bool from_env, unsigned *ret);

struct kts_topology;
struct kts_plan_req;

/*
 * Loads the topology of the host, or of sysroot when not NULL/"/"
 * (KTSCOPE_SYSROOT is consulted by the caller). Logs its own error naming the
 * offending file. Returns KTS_EXIT_OK or KTS_EXIT_ENV.
 */
int cli_load_topology(const char *sysroot, struct kts_topology *ret);

/*
 * Budget from --cpu-cap (value, may be NULL) or KTSCOPE_CPU_CAP; *ret = 0 when
 * neither is set (default budget). Logs a one-line error naming the value.
 * Returns KTS_EXIT_OK or KTS_EXIT_USAGE.
 */
int cli_resolve_cpu_cap(const char *flag_value, unsigned *ret);

/*
 * Reports a getopt_long failure (c is '?' or ':'; optstring must start with
 * ':' and opterr be 0) as one line naming the option. Returns KTS_EXIT_USAGE.
 */
int cli_option_error(int c, char **argv, const char *cmd);

/* Strict decimal: digits only, no sign, no spaces; -EINVAL or -ERANGE otherwise. */
int cli_parse_unsigned(const char *s, unsigned *ret);

/* The JSON and text forms shared by `topology` and `locks` (cli-common.c). */
struct json_object;
struct kts_cpuset;
struct kts_holder;
struct json_object *cli_json_cpuset(const struct kts_cpuset *s);
/* [{pid, mode, cmdline}] */
struct json_object *cli_json_holders(const struct kts_holder *h, size_t n);
/* Pretty, on stdout. */
void cli_print_json(struct json_object *j);
/* "PID MODE (CMDLINE); ..." or "(none)". Caller frees. */
char *cli_fmt_holders(const struct kts_holder *h, size_t n);

/* The registry's results (cli-common.c), for `kernel push|pull` and `build --remote|--push`. */
struct kts_registry_stats;
/* "512 B", "12.3 MiB": bytes in binary units, one decimal from KiB on. */
void cli_format_bytes(uint64_t b, char *buf, size_t n);
/* The result line of a push: "pushed KEY to REMOTE: 2 of 6 blobs uploaded (4 already there),
 * 12.3 MiB in 1.2 s" (", N mounted" in the parentheses when blobs were mounted). */
void cli_log_pushed(const char *key, const char *remote, const struct kts_registry_stats *st);
/* The result line of a pull: "pulled: KEY from REMOTE (6 blobs, 12.3 MiB, 0.8 s)". */
void cli_log_pulled(const char *key, const char *remote, const struct kts_registry_stats *st);
/* The members of a push's or pull's NDJSON event (no braces, no leading comma):
 * "manifest", "blobs", "blobs_sent", "blobs_present", "blobs_mounted", "bytes",
 * "bytes_sent", "seconds" (registry.h, struct kts_registry_stats). */
void cli_registry_stats_json(const struct kts_registry_stats *st, char *buf, size_t n);

/* `ktscope topology` and `ktscope locks` (cli-topology.c, cli-locks.c); argv[0] is the name. */
int cli_topology(int argc, char **argv);
int cli_locks(int argc, char **argv);

/* `ktscope doctor`, implemented in cli-doctor.c; argv[0] is "doctor". */
int cli_doctor(const struct kts_opts *o, int argc, char **argv);

/* `ktscope build`, implemented in cli-build.c (its in-scope half: build-inner.h). */
int cli_build(const struct kts_opts *o, int argc, char **argv);

/* `ktscope kernel ...` and `ktscope kconfig`, implemented in cli-kernel.c. */
int cli_kernel(const struct kts_opts *o, int argc, char **argv);
int cli_kconfig(const struct kts_opts *o, int argc, char **argv);

/* `ktscope run`, implemented in cli-run.c; argv[0] is "run". */
int cli_run(const struct kts_opts *o, int argc, char **argv);
