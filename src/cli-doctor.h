/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the files of `ktscope doctor` share: cli-doctor.c (the command, the machine's
 * checks: topology, managers, cgroups, lock and cache directories, sched_ext, and the
 * output) and cli-doctor-tools.c (the checks of the programs builds run: make, the
 * compiler, pahole, headers, and the compile engines ccache, distcc, icecream). A check
 * is recorded with doctor_add(); nothing here prints.
 */
#include <stddef.h>

#include "macro.h"

enum check_status {
	CHECK_OK,
	CHECK_WARN,
	CHECK_FAIL,
};

struct check {
	const char *name;
	enum check_status status;
	char *detail;
	char *fix; /* NULL: nothing to do */
};

#define CHECKS_MAX 32

struct doctor {
	struct check checks[CHECKS_MAX];
	size_t n;
};

/* asprintf that returns the string, or NULL when out of memory (printed as "?"). */
char *doctor_strf(const char *fmt, ...) _printf_(1, 2);
/* Records a check; takes ownership of detail and fix. */
void doctor_add(struct doctor *d, const char *name, enum check_status status, char *detail,
		char *fix);

/*
 * Runs prog with one argument (util's spawn_capture(), no shell), stdin from in_fd (or
 * /dev/null when negative), stderr dropped; its stdout (at most max bytes) in *ret.
 * -ENOENT when prog is not in PATH; -EPROTO when it exits non-zero.
 */
int doctor_run_tool(const char *prog, const char *arg, int in_fd, size_t max, char **ret);
/* "apt install X (Debian/Ubuntu), dnf install Y (Fedora), pacman -S Z (Arch)". */
char *doctor_install_hint(const char *deb, const char *fedora, const char *arch);

/* cli-doctor-tools.c: make, the C compiler, flex, bison, bc, pahole, libelf, OpenSSL. */
void doctor_check_toolchain(struct doctor *d);
/* cli-doctor-tools.c: whether each library ktscope loads on demand loads (dlopen-util.h). */
void doctor_check_libraries(struct doctor *d);
/*
 * cli-doctor-tools.c: the compile engines: ccache (present, >= 4.7.3), distcc (the
 * hosts of $DISTCC_HOSTS answer; "not configured" when it is unset) and icecream.
 */
void doctor_check_compile_engines(struct doctor *d);
