/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The small kernel BTF of test-caps and test-btf-header, built with libbpf's btf__add_*:
 * the C types a vmlinux.h needs (int typedefs, a forward-declared task_struct), a struct
 * sched_ext_ops of four members, and four FUNCs:
 *   scx_bpf_dsq_insert   tagged bpf_kfunc (with tags)
 *   scx_bpf_kick_cpu     never tagged
 *   scx_bpf_consume      never tagged
 *   bpf_rcu_read_lock    tagged bpf_kfunc (with tags), not an scx kfunc
 * and, where asked, an ELF object (cc -c + objcopy) holding it as .BTF with linux_banner
 * in .rodata and the C text of extra given (the .BTF_ids sets).
 * Include after <cmocka.h>.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <bpf/btf.h>

struct test_btf {
	int dsq_insert, kick_cpu, consume, rcu_read_lock; /* FUNC ids */
};

/* with_ops: the struct sched_ext_ops; with_tags: the two bpf_kfunc decl tags. */
static inline struct btf *test_btf_new(bool with_ops, bool with_tags, struct test_btf *ids)
{
	struct btf *b = btf__new_empty();
	int ull, sint, u64, s32, ts, pts, proto, pproto;

	assert_non_null(b);
	ull = btf__add_int(b, "long long unsigned int", 8, 0);
	sint = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	u64 = btf__add_typedef(b, "u64", ull);
	s32 = btf__add_typedef(b, "s32", sint);
	ts = btf__add_fwd(b, "task_struct", BTF_FWD_STRUCT);
	pts = btf__add_ptr(b, ts);
	proto = btf__add_func_proto(b, s32); /* s32 (*)(struct task_struct *, u64) */
	assert_true(ull > 0 && sint > 0 && u64 > 0 && s32 > 0 && pts > 0 && proto > 0);
	assert_int_equal(btf__add_func_param(b, "p", pts), 0);
	assert_int_equal(btf__add_func_param(b, "f", u64), 0);
	pproto = btf__add_ptr(b, proto);
	if (with_ops) {
		assert_true(btf__add_struct(b, "sched_ext_ops", 32) > 0);
		assert_int_equal(btf__add_field(b, "select_cpu", pproto, 0, 0), 0);
		assert_int_equal(btf__add_field(b, "enqueue", pproto, 64, 0), 0);
		assert_int_equal(btf__add_field(b, "dispatch", pproto, 128, 0), 0);
		assert_int_equal(btf__add_field(b, "flags", u64, 192, 0), 0);
	}
	ids->dsq_insert = btf__add_func(b, "scx_bpf_dsq_insert", BTF_FUNC_GLOBAL, proto);
	ids->kick_cpu = btf__add_func(b, "scx_bpf_kick_cpu", BTF_FUNC_GLOBAL, proto);
	ids->consume = btf__add_func(b, "scx_bpf_consume", BTF_FUNC_GLOBAL, proto);
	ids->rcu_read_lock = btf__add_func(b, "bpf_rcu_read_lock", BTF_FUNC_GLOBAL, proto);
	assert_true(ids->dsq_insert > 0 && ids->kick_cpu > 0 && ids->consume > 0 &&
		    ids->rcu_read_lock > 0);
	if (with_tags) {
		assert_true(btf__add_decl_tag(b, "bpf_kfunc", ids->dsq_insert, -1) > 0);
		assert_true(btf__add_decl_tag(b, "bpf_kfunc", ids->rcu_read_lock, -1) > 0);
		/* a tag of a parameter is no kfunc tag */
		assert_true(btf__add_decl_tag(b, "bpf_kfunc", ids->kick_cpu, 0) > 0);
	}
	return b;
}

/* b as a raw BTF blob at path; b is freed. */
static inline void test_btf_write_raw(struct btf *b, const char *path)
{
	__u32 size;
	const void *raw = btf__raw_data(b, &size);
	FILE *f = fopen(path, "we");

	assert_non_null(raw);
	assert_non_null(f);
	assert_int_equal(fwrite(raw, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	btf__free(b);
}

/* Runs a shell command line in dir; its exit status, or -1. */
static inline int test_btf_run(const char *dir, const char *cmd)
{
	char *line = NULL;
	int st;

	assert_true(asprintf(&line, "cd '%s' && %s", dir, cmd) > 0);
	st = system(line);
	free(line);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * dir/NAME.o: cc -c of banner (linux_banner's text, or none when NULL) and extra (C text),
 * with btf_file (in dir; NULL: none) added as an allocated, read-only .BTF by objcopy.
 */
static inline void test_btf_elf(const char *dir, const char *name, const char *banner,
				const char *extra, const char *btf_file)
{
	char path[512], cmd[1024];
	FILE *f;

	(void) snprintf(path, sizeof(path), "%s/%s.c", dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	if (banner)
		fprintf(f, "const char linux_banner[] = \"%s\";\n", banner);
	fprintf(f, "int kts_probe_counter = 42;\n%s\n", extra ? extra : "");
	assert_int_equal(fclose(f), 0);
	if (btf_file)
		(void) snprintf(cmd, sizeof(cmd),
				"cc -c -O0 -o %s.tmp.o %s.c && objcopy --add-section .BTF=%s "
				"--set-section-flags .BTF=alloc,readonly %s.tmp.o %s.o 2>/dev/null",
				name, name, btf_file, name, name);
	else
		(void) snprintf(cmd, sizeof(cmd), "cc -c -O0 -o %s.o %s.c", name, name);
	assert_int_equal(test_btf_run(dir, cmd), 0);
}
