/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

/* LeakSanitizer reports from an exit handler: sanitizer builds leave through exit(). */
#if defined(__SANITIZE_ADDRESS__)
#define KTS_EXIT_RUNS_HANDLERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KTS_EXIT_RUNS_HANDLERS 1
#endif
#endif

int main(int argc, char **argv)
{
	int r = cli_main(argc, argv);

#ifndef KTS_EXIT_RUNS_HANDLERS
	/* ktscope registers no exit handler and its cleanups ran on the way out of
	 * cli_main(); what exit() would add is the destructors of every mapped library
	 * (libsystemd's, libgcrypt's...), part of each `ktscope run`'s round trip. stdio is
	 * flushed here, as exit() would; like exit(), a failed flush does not change the
	 * status. */
	(void) fflush(NULL);
	_exit(r);
#endif
	return r;
}
