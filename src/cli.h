/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* Documented exit codes (DESIGN §1). */
enum {
	KTS_EXIT_OK = 0,
	KTS_EXIT_FAILURE = 1,
	KTS_EXIT_USAGE = 2,
	KTS_EXIT_BUSY = 3,
	KTS_EXIT_ENV = 4,
};

enum kts_manager {
	KTS_MANAGER_DEFAULT, /* --user unless uid 0 */
	KTS_MANAGER_USER,
	KTS_MANAGER_SYSTEM,
};

/* Global options, parsed before the command name. */
struct kts_opts {
	enum kts_manager manager;
	int verbosity; /* -1 quiet, 0 normal, 1+ verbose */
};

/* Entry point from main(); returns the process exit code. */
int cli_main(int argc, char **argv);

/*
 * Helpers shared by the command implementations (cli*.c).
 * Each returns an exit code (KTS_EXIT_*) and logs its own error.
 */
/* Parses a CPU count for --cpu-cap (or KTSCOPE_CPU_CAP when from_env). */
int cli_parse_cpu_cap(const char *value, bool from_env, unsigned *ret);
