/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Reproducible build stamps (DESIGN §10, issue 12), stamps.c. Kbuild writes the build's date,
 * user and host into the kernel (init/version.c's UTS_VERSION and LINUX_COMPILE_BY/HOST via
 * scripts/mkcompile_h; the initramfs's mtimes via usr/gen_initramfs.sh -d; kheaders' tar
 * --mtime) and counts builds of an in-place tree in "#N" (scripts/build-version). Unless
 * KBUILD_BUILD_TIMESTAMP, _USER, _HOST and _VERSION are set, two builds of the same inputs
 * differ and ccache misses on init/version.o. Every make run of a ktscope build gets them
 * (and SOURCE_DATE_EPOCH, for code that uses __DATE__), unless --no-reproducible.
 *
 * The timestamp, in this order (the first that applies; `from` names it):
 *   make-variable      `ktscope build -- KBUILD_BUILD_TIMESTAMP=...`: make's command line
 *                      beats the environment, so that value applies and is recorded
 *   SOURCE_DATE_EPOCH  set and not empty in ktscope's environment (reproducible-builds.org);
 *                      a value that is not a whole number of seconds 0..253402300799 is a
 *                      usage error (cli-build.c checks it before any work)
 *   git-commit         a local git tree (clean or dirty) or a git source: the committer
 *                      date of the commit built (HEAD)
 *   tarball            a tarball or release: the mtime tar restored on the tree's top-level
 *                      Makefile, read from the archive, so it depends only on its bytes
 *                      (kernel.org tarballs come from git archive: the release commit's date)
 *   source-identity    anything else (a tree outside git): a date in 1970-1999 (obviously
 *                      not a real one) derived from a SHA-256: of the source identity when
 *                      there is one, else of the tree's top-level Makefile (which names the
 *                      kernel version; unlike its mtime it survives a copy of the tree)
 * formatted as `LC_ALL=C TZ=UTC date` prints it ("Thu Jan  1 00:00:00 UTC 1970"), the form
 * Kbuild's default has and that it passes to `date -d`. User and host are "ktscope", the
 * same on every machine (a team's shared ccache hits; no personal name in the image); the
 * version is "1". A make variable of any of them wins and is recorded. Values of these
 * variables in ktscope's own environment are replaced; with --no-reproducible they are
 * removed, so Kbuild uses its own (date, whoami, uname -n, the build counter).
 * The stamps are not part of the cache key: they follow from the inputs.
 */

#define STAMPS_USER "ktscope"
#define STAMPS_HOST "ktscope"
#define STAMPS_VERSION "1"
/* "Thu Jan  1 00:00:00 UTC 1970" (28 bytes and the NUL; years up to 9999), with room. */
#define STAMPS_DATE_MAX 40
/* The last second of year 9999. */
#define STAMPS_EPOCH_MAX INT64_C(253402300799)

/* The stamps of one build; every string is malloc'ed and owned (stamps_done()). */
struct kts_stamps {
	char *timestamp; /* KBUILD_BUILD_TIMESTAMP: a date string `date -d` reads */
	int64_t epoch;   /* its seconds since the epoch; -1: unknown (a make variable's value
			    that `date -d` does not read) */
	char *user, *host, *version;
	char *from;      /* "make-variable" | "SOURCE_DATE_EPOCH" | "git-commit" | "tarball" |
			    "source-identity": where the timestamp came from */
	/* A fetched tree (tarball, release, git), unpacked at a new path each build: its path
	 * is mapped to "." in the debug info (stamps_apply_env()), so the build-id and the
	 * image's notes do not depend on it. Local trees keep their paths (debuggers find the
	 * sources). In the job file only, not in metadata. */
	bool map_tree;
};
void stamps_done(struct kts_stamps *s);
/* A deep copy; -ENOMEM. */
int stamps_copy(const struct kts_stamps *s, struct kts_stamps *ret);
/* True for the five `from` words above. */
bool stamps_from_is_valid(const char *from);

/* t (0..STAMPS_EPOCH_MAX) as `LC_ALL=C TZ=UTC date` prints it; -ERANGE otherwise. */
int stamps_format_date(int64_t t, char buf[static STAMPS_DATE_MAX]);

/*
 * A SOURCE_DATE_EPOCH value: decimal digits only (no sign, space or fraction), at most
 * STAMPS_EPOCH_MAX. -EINVAL otherwise.
 */
int stamps_parse_epoch(const char *s, int64_t *ret);

/* The date a SHA-256 (64 hex digits) stands for: its first 32 bits modulo 30 years from
 * 1970, so in 1970-1999. -EINVAL for anything but 64 hex digits. */
int stamps_epoch_from_sha256(const char *hex, int64_t *ret);

/* What the timestamp is derived from; the first field set wins, in the order above. */
struct kts_stamps_input {
	char *const *make_vars;          /* canonical NAME=VALUE (pipeline_make_vars()) */
	size_t n_make_vars;
	const char *source_date_epoch;   /* the variable's value, or NULL (unset or empty) */
	bool have_commit_time;
	int64_t commit_time;             /* the committer date of the commit built */
	bool have_tree_time;
	int64_t tree_time;               /* the tarball's top-level Makefile's mtime */
	const char *identity_sha256;     /* 64 hex: SHA-256 of the source identity or Makefile */
};

/*
 * The stamps for in (pure: no I/O). A make variable's timestamp gets epoch -1 here;
 * stamps_date_epoch() asks `date -d`. -EINVAL (a bad SOURCE_DATE_EPOCH, a commit or tree
 * time out of range with nothing to fall back to; *ret_why says which), -ENOMEM.
 */
int stamps_compute(const struct kts_stamps_input *in, struct kts_stamps *ret, char **ret_why);

/* `date -d VALUE +%s`, as Kbuild's scripts read KBUILD_BUILD_TIMESTAMP: 0 and the seconds,
 * -EINVAL when date refuses it, or negative errno when date cannot run. */
int stamps_date_epoch(const char *value, int64_t *ret);

/*
 * The stamps of a build of src (its tree fetched: src->dir set), as stamps_compute() with the
 * input gathered: the commit date (source_commit_time()), the tree's Makefile mtime (tarball
 * and release sources), the SHA-256 of src->identity or of the Makefile; a make variable's
 * timestamp gets its epoch from stamps_date_epoch() (-1 and a warning when `date -d` refuses
 * it). sde: SOURCE_DATE_EPOCH's value or NULL. Errors as stamps_compute().
 */
struct kts_source;
int stamps_for_source(const struct kts_source *src, char *const *make_vars, size_t n_make_vars,
		      const char *sde, struct kts_stamps *ret, char **ret_why);

/*
 * The in-scope half (build-inner.c): puts s into this process's environment, which every
 * make run inherits; s NULL (--no-reproducible) removes the four KBUILD_BUILD_* variables.
 * With s->map_tree, KCFLAGS and KAFLAGS (the environment's, which Kbuild reads; a make
 * variable of that name replaces them) start with -fdebug-prefix-map=TREE=. (tree: the
 * tree make builds; a path with blanks or quotes is left as it is).
 */
int stamps_apply_env(const struct kts_stamps *s, const char *tree);

/* ---------------------------------------------------------------- the reproducer */

/* s quoted for a POSIX shell: as is when it needs no quoting, else in single quotes. */
char *stamps_shell_quote(const char *s);

struct kts_metadata;
/*
 * The `ktscope build` command line that rebuilds the entry m describes (with --force, so it
 * rebuilds in the same cache too), every word quoted for the shell; environment variables
 * it needs (SOURCE_DATE_EPOCH, a non-default KTSCOPE_KERNEL_MIRROR) go first. *ret_note:
 * what the command cannot carry (a local tree's commit and dirty state), or NULL.
 * -EINVAL when m lacks what a command needs (no source path, URL or version), -ENOMEM.
 */
int stamps_reproducer(const struct kts_metadata *m, char **ret_cmd, char **ret_note);
