/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "hash.h"
#include "stamps.h"
#include "telemetry.h"

/*
 * The parent ↔ child boundary of a build (DESIGN §5): build.c writes a job file (every
 * input the in-scope half needs) into its work directory, `ktscope __build-inner JOBFILE`
 * reads it, runs the pipeline and writes the result file the job names; the parent makes
 * the metadata from that result instead of looking at the tree again. Both are JSON
 * documents with "schema": 1, written and read with json-c. Reading is strict: every
 * field present with its type, no other field, paths absolute, no NUL in a string; a
 * failure says which file and which field.
 */

#define JOB_SCHEMA 1

struct kts_build_job {
	char *src_dir;        /* the kernel tree */
	char *build_dir;      /* O=, or NULL */
	char *stage_dir;      /* where the artifacts go */
	char *result_file;    /* where the child writes its result */
	char *base;           /* defconfig | tinyconfig | kvm_guest | a staged config file */
	char **extra;         /* staged copies of the extra fragments */
	char **extra_names;   /* the files the user named, for messages */
	size_t n_extra;
	char *arch;
	unsigned jobs;        /* make -jN, 1..JOB_MAX_JOBS */
	bool clean, compile_commands, json_events, progress;
	char *pahole_version; /* or NULL */
	char *count_file;     /* or NULL */
	char *made_fifo;      /* a FIFO to write one byte to when make is done, or NULL */
	char **make_vars;     /* canonical NAME=VALUE */
	size_t n_make_vars;
	/* "compile": the compile plan (compile.h; null: all zero, make compiles as is) */
	struct kts_compile_plan compile;
	char *compile_dir;    /* with a plan: the work dir's, for the ccache stats log */
	char *wrapper_dir;    /* with a plan: where the CC wrappers go (kept across builds) */
	struct kts_stamps *stamps; /* the KBUILD_BUILD_* stamps (stamps.h), or NULL: off */
	bool headers;         /* --headers: make headers_install into {stage}/headers */
};
#define JOB_MAX_JOBS 65536

void job_done(struct kts_build_job *j);

/*
 * Parses a job document of len bytes (not NUL-terminated); name is the file it came from,
 * for *ret_why ("job file 'F': field 'jobs': expected an integer 1-65536"). -EBADMSG on
 * any deviation, -ENOMEM. *ret written on success only.
 */
int job_parse(const char *text, size_t len, const char *name, struct kts_build_job *ret,
	      char **ret_why);
int job_read(const char *path, struct kts_build_job *ret, char **ret_why);
/* Writes the job (fsync'd, then renamed into place). */
int job_write(const struct kts_build_job *j, const char *path);

/* The in-scope half's answer. */
struct kts_build_job_result {
	bool ok;
	int error;           /* !ok: the positive errno of the failure */
	char *reason;        /* !ok: one line, or NULL */
	char *image;         /* ok: the image in the stage dir */
	uint64_t image_size, vmlinux_size, vmlinux_unstripped;
	char config_sha256[HASH_SHA256_HEX_SIZE]; /* ok: the final .config's */
	bool configured;     /* false: .config already satisfied every line */
	bool validated;      /* the critical symbols were checked and present */
	unsigned objects, n_dropped;
	double configure_seconds, make_seconds, strip_seconds, seconds;
	double vmlinux_h_seconds, capabilities_seconds, headers_seconds; /* the kit's steps */
	/* "compile_commands_seconds": 0 when it did not run; optional in the file (0) */
	double compile_commands_seconds;
	struct kts_compile_stats compile_stats; /* "compile_stats", null when not present */
	/* "telemetry" (telemetry.h), read in the scope after the last step; optional in
	 * the file (every value absent without it), strict when there */
	struct kts_telemetry telemetry;
};

void job_result_done(struct kts_build_job_result *r);
int job_result_parse(const char *text, size_t len, const char *name,
		     struct kts_build_job_result *ret, char **ret_why);
int job_result_read(const char *path, struct kts_build_job_result *ret, char **ret_why);
int job_result_write(const struct kts_build_job_result *r, const char *path);
