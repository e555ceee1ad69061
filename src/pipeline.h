/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hash.h"

/*
 * The build steps that run inside the transient scope (DESIGN §5), pipeline.c:
 * [mrproper] → configure (base, embedded fragment, extras, olddefconfig; skipped
 * when .config already satisfies every merged line; then the provenance report and
 * a first validation) → make -jN image vmlinux → compile_commands.json (the kernel's
 * generator started directly, joined after capabilities.json; else make, in turn) →
 * validate (the .config make left) → image → strip vmlinux → vmlinux.h (btf-header.h) →
 * capabilities.json (caps.h) → [make headers_install into {stage}/headers].
 * Artifacts land in a stage directory the caller owns (the cache's temporary
 * entry): the image, vmlinux (stripped), config, kconfig-report.json, build.log,
 * vmlinux.h, capabilities.json and, with headers, headers/include/.
 *
 * Also the toolchain fingerprint the cache key covers, which the parent reads
 * before deciding whether to build at all.
 */

/*
 * First line of `CC --version`, `LD --version`, `pahole --version`, `make --version`
 * (CC and LD as pipeline_make_tools() names them; NULL: cc, ld); NULL when missing. With cache_file (may be NULL), the answers are kept there,
 * keyed by each binary's path, inode, size and mtime, so a cache hit runs none.
 */
struct kts_toolchain {
	char *cc;
	char *ld;
	char *pahole;
	char *make;
};
int pipeline_toolchain(const char *cache_file, const char *cc, const char *ld,
		       struct kts_toolchain *ret);
void pipeline_toolchain_done(struct kts_toolchain *t);

/*
 * The make variables of `ktscope build ... -- NAME=VALUE...`, made canonical: every
 * argument NAME=VALUE with NAME a make identifier, one per NAME (the last one wins, as on
 * make's command line), sorted by NAME, so one build's variables give one cache key
 * whatever their order. Refused, with *ret_why naming the argument: not NAME=VALUE
 * (-EINVAL), a newline in VALUE (-EINVAL), and the variables ktscope sets or that would
 * build for another machine or into another .config: O (--build-dir), ARCH, SRCARCH,
 * CROSS_COMPILE, KCONFIG_CONFIG (-EPERM). *ret: a NULL-terminated strv, *ret_n its length.
 */
int pipeline_make_vars(char *const *args, size_t n, char ***ret, size_t *ret_n, char **ret_why);

/*
 * The compiler and linker the variables make the kernel build use, as the kernel's
 * Makefile picks them: CC= and LD= as given; else LLVM=1 → clang and ld.lld, LLVM=-N →
 * clang-N and ld.lld-N, LLVM=DIR/ → DIR/clang and DIR/ld.lld; else cc and ld.
 * *ret_cc_from, *ret_ld_from: the variable that chose each ("CC"/"LD", "LLVM") or NULL.
 */
int pipeline_make_tools(char *const *vars, size_t n, char **ret_cc, char **ret_ld,
			const char **ret_cc_from, const char **ret_ld_from);

/* The value of NAME among canonical make variables, or NULL. */
const char *pipeline_make_var(char *const *vars, size_t n, const char *name);

/* "x86_64" / "aarch64" → "bzImage" / "Image" and its path under arch/; NULL if unsupported. */
const char *pipeline_image_name(const char *arch);
const char *pipeline_image_relpath(const char *arch);
/* The running machine's arch as uname(2) says it. */
const char *pipeline_host_arch(void);
/* True for defconfig, tinyconfig, kvm_guest. */
bool pipeline_base_is_target(const char *base);

struct kts_pipeline_opts {
	const char *src_dir;   /* the kernel tree */
	const char *build_dir; /* O=, or NULL to build in the tree */
	const char *base;      /* defconfig | tinyconfig | kvm_guest | a config file */
	const char *const *extra; /* --extra-kconfig files (staged copies), in order */
	const char *const *extra_names; /* the files the user named, for messages; NULL: extra */
	size_t n_extra;
	const char *arch;
	unsigned jobs;         /* make -jN, ≥ 1 */
	const char *stage_dir; /* where the artifacts go */
	bool clean;            /* make mrproper first */
	bool compile_commands; /* write compile_commands.json (local trees) */
	const char *pahole_version; /* for the BTF cause in validation messages */
	/* Object count of the previous build of this tree: read for the %, rewritten after. */
	const char *count_file;
	/* A FIFO that gets one byte when make is done (the caller's news), or NULL. */
	const char *made_fifo;
	/* NAME=VALUE for every make run (pipeline_make_vars()), after ktscope's own. */
	char *const *make_vars;
	size_t n_make_vars;
	/* The compile engine's daemon that refuses -fplugin ("distccd", engine.h), or NULL:
	 * with CONFIG_GCC_PLUGINS=y, make is preceded by one warning line naming it. */
	const char *plugins_refused_by;
	/*
	 * NAME=VALUE that replace the make variable of the same name on make's command line
	 * only (compile_setup(): CC, HOSTCC, KCFLAGS), not in the cache key or the metadata.
	 */
	char *const *compile_vars;
	size_t n_compile_vars;
	bool headers;          /* make headers_install INSTALL_HDR_PATH={stage}/headers */
};

struct kts_pipeline_result {
	bool configured;   /* false: .config already satisfied the merged lines */
	unsigned objects;  /* objects built (lines like "  CC      kernel/fork.o") */
	uint64_t image_size;
	uint64_t vmlinux_size;
	uint64_t vmlinux_unstripped;
	char config_sha256[HASH_SHA256_HEX_SIZE];
	unsigned n_dropped; /* requested kconfig lines that did not survive */
	double configure_seconds, make_seconds, strip_seconds; /* wall time of those steps */
	double vmlinux_h_seconds, capabilities_seconds, headers_seconds; /* 0: not run */
	/* From its start until it was seen to end (it overlaps strip and the kit): 0 not run */
	double compile_commands_seconds;
};

/*
 * Runs every step. Messages for the user (skipped configure, overrides,
 * dropped lines, strip sizes) are logged at notice/warning level: this runs in
 * the build's own process, which reports for itself. Errors:
 *   -EPROTO   a make step failed: *ret_why names the target and its status;
 *             {stage_dir}/build.log has the output (pipeline_print_tail())
 *   -ENOSPC/-EIO/...  build.log could not be written: *ret_why names it
 *   -ENOTSUP  validation failed: *ret_why lists each missing symbol and cause
 *   -ENOENT   the image or vmlinux was not produced
 *   -ENODATA  vmlinux has no .BTF (the fragment's CONFIG_DEBUG_INFO_BTF): *ret_why names it
 *   -ENOSPC   an artifact does not fit in the stage's filesystem: *ret_why says which
 *   -EINVAL/-EILSEQ/-ENODATA/... from the extra fragments or base file
 *   other     I/O errors; *ret_why names the file where one is at fault.
 */
int pipeline_run(const struct kts_pipeline_opts *o, struct kts_pipeline_result *ret, char **ret_why);

/*
 * The command line of the kernel's own compile_commands.json generator, as its Makefile
 * runs it for `make compile_commands.json`, to be run in the object directory
 * (pipeline-gencc.c): *ret a NULL-terminated strv of *ret_n words. -ENOENT or -EOPNOTSUPP
 * when only make can do it the same way (no generator, CONFIG_MODULES=y, an older tree).
 */
int pipeline_gencc_argv(const struct kts_pipeline_opts *o, char ***ret, size_t *ret_n);
/* Starts it there, stdout and stderr into out_fd; reap it with pipeline_gencc_wait(). */
int pipeline_gencc_start(const struct kts_pipeline_opts *o, char *const *argv, int out_fd,
			 pid_t *ret_pid);
/*
 * 1 when *pid ended well, 0 while it runs (!block), else -EPROTO with *ret_why ("...
 * failed with exit status 1"); *pid is 0 once reaped.
 */
int pipeline_gencc_wait(pid_t *pid, bool block, char **ret_why);

/* Prints the last n lines of path to stderr (the build log on failure). */
void pipeline_print_tail(const char *path, unsigned n);
/* The last n (≥ 1) lines of path, as one string; "" for an empty file. */
int pipeline_log_tail(const char *path, unsigned n, char **ret);

