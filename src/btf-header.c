/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmlinux.h writer (btf-header.h): libbpf parses the BTF and its btf_dump API prints every
 * type as C, in id order, into a temporary file beside the output, which is renamed over
 * it once complete and synced. Owns, besides that, the one place libbpf's own messages
 * are routed to (btf_header_libbpf_log(): log_debug), for caps.c too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf-dl.h"
#include "btf-header.h"
#include "log.h"
#include "macro.h"

/* bpftool btf dump ... format c (bpftool 7.1, libbpf 1.1) wraps the types in these. */
static const char header_head[] =
	"#ifndef __VMLINUX_H__\n"
	"#define __VMLINUX_H__\n"
	"\n"
	"#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
	"#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n"
	"#endif\n"
	"\n";
static const char header_tail[] =
	"#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
	"#pragma clang attribute pop\n"
	"#endif\n"
	"\n"
	"#endif /* __VMLINUX_H__ */\n";

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* libbpf's warnings ("libbpf: failed to find '.BTF' ELF section") are details of an error
 * the caller reports in one line: debug level, one line each. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	_cleanup_free_ char *s = NULL;
	size_t n;

	if (vasprintf(&s, fmt, ap) < 0)
		return 0;
	n = strlen(s);
	while (n > 0 && s[n - 1] == '\n')
		s[--n] = '\0';
	log_debug("libbpf: %s", s);
	return 0;
}

/* btf_dump's output goes to a stdio stream; the first write error is kept (errno). */
struct dump_ctx {
	FILE *f;
	int error;
};

static void dump_printf(void *userdata, const char *fmt, va_list ap)
{
	struct dump_ctx *ctx = userdata;

	if (ctx->error == 0 && vfprintf(ctx->f, fmt, ap) < 0)
		ctx->error = negative_errno();
}
#pragma GCC diagnostic pop

static pthread_once_t libbpf_log_once = PTHREAD_ONCE_INIT;

static void libbpf_log_init(void)
{
	(void) libbpf_set_print(libbpf_print);
}

void btf_header_libbpf_log(void)
{
	(void) pthread_once(&libbpf_log_once, libbpf_log_init);
}

int btf_header_open(const char *in, struct btf **ret, char **ret_why)
{
	struct btf *btf;
	int r;

	r = bpf_dl_load(ret_why);
	if (r < 0)
		return r;
	btf_header_libbpf_log();
	/* libbpf says ENOENT both for a missing file and for an ELF without .BTF. */
	if (access(in, R_OK) < 0) {
		r = negative_errno();
		return why_set(ret_why, r, "cannot read '%s': %s", in, strerror(-r));
	}
	btf = btf__parse(in, NULL);
	if (!btf) {
		r = negative_errno();
		if (r == -ENOENT)
			return why_set(ret_why, -ENODATA,
				       "'%s' has no .BTF section: the kernel was built without "
				       "CONFIG_DEBUG_INFO_BTF", in);
		if (r == -ENOMEM)
			return r;
		return why_set(ret_why, -EBADMSG,
			       "'%s' is neither raw BTF nor an ELF file whose .BTF parses", in);
	}
	*ret = btf;
	return 0;
}

/* The whole header into f: 0, the write's -errno, or -EBADMSG for a type libbpf refuses. */
static int dump_all(const struct btf *btf, FILE *f, const char *in, char **ret_why)
{
	struct dump_ctx ctx = { .f = f };
	struct btf_dump *d;
	__u32 n = btf__type_cnt(btf);
	int r = 0;

	d = btf_dump__new(btf, dump_printf, &ctx, NULL);
	if (!d)
		return negative_errno();
	if (fputs(header_head, f) < 0)
		ctx.error = negative_errno();
	for (__u32 id = 1; id < n && ctx.error == 0 && r == 0; id++) {
		r = btf_dump__dump_type(d, id);
		if (r < 0 && ctx.error == 0)
			r = why_set(ret_why, r == -ENOMEM ? -ENOMEM : -EBADMSG,
				    "'%s': BTF type %u cannot be written as C", in, id);
	}
	btf_dump__free(d);
	if (ctx.error == 0 && r == 0 && fputs(header_tail, f) < 0)
		ctx.error = negative_errno();
	return ctx.error < 0 ? ctx.error : r;
}

/* Flushes, syncs and closes the temporary file: the first error (ENOSPC shows up here too). */
static int finish_file(FILE *f)
{
	int r = 0;

	if (fflush(f) != 0 || ferror(f))
		r = negative_errno();
	if (r == 0 && fsync(fileno(f)) < 0)
		r = negative_errno();
	if (fclose(f) != 0 && r == 0)
		r = negative_errno();
	return r;
}

/* A hidden, O_CLOEXEC temporary file beside out, mode 0644: its stream and its name. */
static int open_temp(const char *out, FILE **ret_f, char **ret_tmp)
{
	_cleanup_free_ char *tmp = NULL;
	const char *slash = strrchr(out, '/');
	const char *base = slash ? slash + 1 : out;
	int fd, r;
	FILE *f;

	if (!*base)
		return -EINVAL;
	if (asprintf(&tmp, "%.*s.%s.XXXXXX", slash ? (int) (base - out) : 0, out, base) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		r = negative_errno();
		(void) close(fd);
		(void) unlink(tmp);
		return r;
	}
	*ret_f = f;
	*ret_tmp = TAKE_PTR(tmp);
	return 0;
}

int btf_header_write(const char *in, const char *out, char **ret_why)
{
	_cleanup_free_ char *tmp = NULL;
	struct btf *btf = NULL;
	FILE *f = NULL;
	int r;

	if (!in || !out)
		return -EINVAL;
	r = btf_header_open(in, &btf, ret_why);
	if (r < 0)
		return r;
	r = open_temp(out, &f, &tmp);
	if (r < 0) {
		btf__free(btf);
		return why_set(ret_why, r, "cannot create a file beside '%s': %s", out,
			       strerror(-r));
	}
	r = dump_all(btf, f, in, ret_why);
	btf__free(btf);
	if (r < 0) {
		(void) fclose(f);
		(void) unlink(tmp);
		if (r == -EBADMSG)
			return r;
		return why_set(ret_why, r, "cannot write '%s': %s", out, strerror(-r));
	}
	r = finish_file(f);
	if (r == 0 && rename(tmp, out) < 0)
		r = negative_errno();
	if (r < 0) {
		(void) unlink(tmp);
		return why_set(ret_why, r, "cannot write '%s': %s", out, strerror(-r));
	}
	log_debug("wrote '%s' from the BTF of '%s'", out, in);
	return 0;
}
