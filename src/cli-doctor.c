/* SPDX-License-Identifier: GPL-2.0-or-later */
/* placeholder: implementation in progress */
#include "cli.h"

int cli_doctor(const struct kts_opts *o, int argc, char **argv)
{
	return KTS_EXIT_ENV;
}
