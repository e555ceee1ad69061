/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
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
 * A negative errno, already logged, as the documented exit code: the classes the
 * modules below return (session.h) → 4 for the environment (-EHOSTDOWN no manager,
 * -EACCES/-EPERM refused, -EMEDIUMTYPE the cgroup does not enforce what was asked),
 * anything else → 1. r >= 0 → 0.
 */
int cli_exit_code(int r);

/*
 * Helpers shared by the command implementations (cli*.c).
 * Each returns an exit code (KTS_EXIT_*) and logs its own error.
 */
/* Parses a CPU count for --cpu-cap (or KTSCOPE_CPU_CAP when from_env). */
int cli_parse_cpu_cap(const char *value, bool from_env, unsigned *ret);

struct kts_topology;
struct kts_plan_req;
struct kts_reservation;

/*
 * Loads the topology of the host, or of sysroot when not NULL/"/"
 * (KTSCOPE_SYSROOT is consulted by the caller). Logs its own error naming the
 * offending file. Returns KTS_EXIT_OK or KTS_EXIT_ENV.
 */
int cli_load_topology(const char *sysroot, struct kts_topology *ret);

/*
 * Plans and takes the LLC locks in KTSCOPE_LOCK_DIR (or /tmp), printing the
 * holders once while waiting, unless no_wait. Logs its own errors. Returns
 * KTS_EXIT_OK, KTS_EXIT_BUSY (no_wait / timeout), KTS_EXIT_USAGE (request can
 * never fit), KTS_EXIT_ENV (lock dir unusable). Warns when the plan spans NUMA nodes.
 */
int cli_reserve(const struct kts_topology *t, const struct kts_plan_req *req, bool no_wait,
		struct kts_reservation *ret);

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

/* `ktscope doctor`, implemented in cli-doctor.c; argv[0] is "doctor". */
int cli_doctor(const struct kts_opts *o, int argc, char **argv);

/* `ktscope build` and its in-scope half, implemented in cli-build.c. */
int cli_build(const struct kts_opts *o, int argc, char **argv);
int cli_build_inner(int argc, char **argv);

/* `ktscope kernel ...` and `ktscope kconfig`, implemented in cli-kernel.c. */
int cli_kernel(const struct kts_opts *o, int argc, char **argv);
int cli_kconfig(const struct kts_opts *o, int argc, char **argv);

/* `ktscope run`, implemented in cli-run.c; argv[0] is "run". */
int cli_run(const struct kts_opts *o, int argc, char **argv);
