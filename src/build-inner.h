/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * `ktscope __build-inner JOBFILE` (build-inner.c): the in-scope half of a build. Not a
 * user command. Returns the process exit code: 0 built, 1 the build failed or the
 * result file could not be written, 2 the job file is unusable (a ktscope bug).
 */
int build_inner_main(int argc, char **argv);
