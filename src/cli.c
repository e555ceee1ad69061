/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command table: global options, logging setup, dispatch to the cli-<command>.c
 * files, and the one errno → exit code mapping (cli_exit_code()). The helpers the
 * command files share live in cli-common.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-inner.h"
#include "cli.h"
#include "hash.h"
#include "log.h"
#include "macro.h"
#include "testhook.h"

/* ---------------------------------------------------------------- exit codes */

int cli_exit_code(int r)
{
	switch (r) {
	case -EINVAL:
		return KTS_EXIT_USAGE;
	case -EBUSY:
	case -ETIME:
		return KTS_EXIT_BUSY;
	case -EHOSTDOWN:
	case -EACCES:
	case -EPERM:
	case -EMEDIUMTYPE:
	case -EREMOTE:
	case -ENOLCK:
	case -ENXIO:
	case -ELIBACC:
	case -ELIBBAD:
		return KTS_EXIT_ENV;
	default:
		return r >= 0 ? KTS_EXIT_OK : KTS_EXIT_FAILURE;
	}
}

/* ---------------------------------------------------------------- main */

static const char main_help[] =
	"Usage: ktscope [--user|--system] [-v|-q] COMMAND [ARGS...]\n"
	"\n"
	"Run commands and kernel builds on a reserved, NUMA- and LLC-aware slice of\n"
	"this machine's CPUs, inside a systemd transient scope.\n"
	"\n"
	"Commands:\n"
	"  build [SPEC]       build a kernel on a reservation, in a transient scope,\n"
	"                     and cache it\n"
	"  kernel list|show|path|clean|push|pull\n"
	"                     the kernel cache, and its copy on an OCI registry\n"
	"  run -- COMMAND     run COMMAND on a reservation, in a transient scope\n"
	"  topology           show CPUs, LLCs, NUMA nodes and the plan you would get\n"
	"  locks              show the LLC and cache lock files and their holders\n"
	"  kconfig            print the kconfig fragment every build uses\n"
	"  doctor             check this machine and print fixes\n"
	"\n"
	"Global options:\n"
	"  --user             talk to the user's systemd manager (default unless root)\n"
	"  --system           talk to the system manager (default for root)\n"
	"  -v, --verbose      more output (debug lines)\n"
	"  -q, --quiet        errors and warnings only\n"
	"  -h, --help         show this help ('ktscope COMMAND --help' for a command)\n"
	"  --version          print the version\n"
	"\n"
	"Exit status: 0 ok, 1 failure, 2 bad usage, 3 reservation not available,\n"
	"4 environment problem (no systemd manager, unreadable sysfs, ...).\n"
	"'run' exits with the command's own status (128+N if killed by signal N).\n"
	"\n"
	"Environment: KTSCOPE_CPU_CAP, KTSCOPE_LOCK_DIR, KTSCOPE_SYSROOT, KTSCOPE_CACHE_DIR,\n"
	"KTSCOPE_BYPASS_LOCKS, KTSCOPE_SCOPE=none, KTSCOPE_LOG_LEVEL, NO_COLOR.\n";

static void setup_logging(int verbosity)
{
	const char *env = getenv_nonempty("KTSCOPE_LOG_LEVEL");
	const char *no_color = getenv("NO_COLOR");
	int level = LOG_NOTICE;

	if (env) {
		int l = log_level_from_string(env);

		if (l >= 0)
			level = l;
		else
			log_warning("ignoring KTSCOPE_LOG_LEVEL='%s': expected debug, info, notice, "
				    "warning or err", env);
	}
	/* A flag beats its variable. */
	if (verbosity > 0)
		level = LOG_DEBUG;
	else if (verbosity < 0)
		level = LOG_WARNING;
	log_set_max_level(level);
	log_set_color(isatty(STDERR_FILENO) && !(no_color && *no_color));
}

int cli_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "user", no_argument, NULL, 'u' },
		{ "system", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{}
	};
	struct kts_opts o = { .manager = KTS_MANAGER_DEFAULT };
	_cleanup_free_ char *why = NULL;
	const char *cmd;
	int c;

	/* '+': stop at the command name; its options are its own. */
	opterr = 0; /* every option error is reported by us, as one 'ktscope:' line */
	while ((c = getopt_long(argc, argv, "+:hvq", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(main_help, stdout);
			return KTS_EXIT_OK;
		case 'V':
			printf("ktscope %s\ntest-hooks: %s\n", PACKAGE_VERSION,
			       TESTHOOK_COMPILED ? "yes" : "no");
			return KTS_EXIT_OK;
		case 'u':
			o.manager = KTS_MANAGER_USER;
			break;
		case 's':
			o.manager = KTS_MANAGER_SYSTEM;
			break;
		case 'v':
			o.verbosity = o.verbosity < 0 ? 1 : o.verbosity + 1;
			break;
		case 'q':
			o.verbosity = -1;
			break;
		default:
			setup_logging(0);
			return cli_option_error(c, argv, "");
		}
	}
	setup_logging(o.verbosity);
	if (testhook_check_env(&why) < 0)
		return log_error("%s", why ? why : "out of memory"), KTS_EXIT_USAGE;
	if (optind >= argc) {
		fputs(main_help, stderr);
		return KTS_EXIT_USAGE;
	}

	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0; /* full re-initialisation of getopt for the command's parser */

	/* Cache keys and the kconfig fragment's identity are SHA-256 (hash.h), from libcrypto
	 * loaded on demand: a command that needs them fails here, with the one line naming it,
	 * rather than in the middle of its work. */
	if ((streq(cmd, "build") || streq(cmd, "__build-inner") || streq(cmd, "kernel") ||
	     streq(cmd, "kconfig")) && hash_load(NULL) < 0)
		return KTS_EXIT_ENV;

	if (streq(cmd, "topology"))
		return cli_topology(argc, argv);
	if (streq(cmd, "locks"))
		return cli_locks(argc, argv);
	if (streq(cmd, "run"))
		return cli_run(&o, argc, argv);
	if (streq(cmd, "build"))
		return cli_build(&o, argc, argv);
	if (streq(cmd, "__build-inner"))
		return build_inner_main(argc, argv);
	if (streq(cmd, "kernel"))
		return cli_kernel(&o, argc, argv);
	if (streq(cmd, "kconfig"))
		return cli_kconfig(&o, argc, argv);
	if (streq(cmd, "doctor"))
		return cli_doctor(&o, argc, argv);
	if (streq(cmd, "help")) {
		fputs(main_help, stdout);
		return KTS_EXIT_OK;
	}
	log_error("unknown command '%s' (see 'ktscope --help')", cmd);
	return KTS_EXIT_USAGE;
}
