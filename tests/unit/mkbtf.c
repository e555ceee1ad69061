/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fake kernel's BTF (mkbtf.h): the types a sched_ext scheduler's vmlinux.h needs, in
 * miniature, added one by one with libbpf's btf__add_* in a fixed order, so the raw bytes
 * are the same on every run.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "mkbtf.h"

const char *const mkbtf_variants[] = { "fake", "fake-next", NULL };

/* Type ids shared by the struct and the functions. */
struct ids {
	int err; /* the first failed btf__add_*, or 0 */
	int s32, u64, char_t, bool_t, ptask, pexit;
};

/* Keeps the first error of a btf__add_* (negative) and passes ids through. */
static int chk(struct ids *t, int id)
{
	if (id < 0 && t->err == 0)
		t->err = id;
	return id;
}

static void add_base(struct btf *b, struct ids *t)
{
	int s, u, task, ei;

	s = chk(t, btf__add_int(b, "int", 4, BTF_INT_SIGNED));
	u = chk(t, btf__add_int(b, "long long unsigned int", 8, 0));
	t->char_t = chk(t, btf__add_int(b, "char", 1, BTF_INT_SIGNED));
	t->bool_t = chk(t, btf__add_int(b, "_Bool", 1, BTF_INT_BOOL));
	t->s32 = chk(t, btf__add_typedef(b, "s32", s));
	t->u64 = chk(t, btf__add_typedef(b, "u64", u));
	task = chk(t, btf__add_fwd(b, "task_struct", BTF_FWD_STRUCT));
	t->ptask = chk(t, btf__add_ptr(b, task));
	ei = chk(t, btf__add_fwd(b, "scx_exit_info", BTF_FWD_STRUCT));
	t->pexit = chk(t, btf__add_ptr(b, ei));
}

/* A pointer to a function returning ret with the n parameters (name, type). */
static int add_proto(struct btf *b, struct ids *t, int ret, size_t n, const char *const *names,
		     const int *types)
{
	int proto = chk(t, btf__add_func_proto(b, ret));

	for (size_t i = 0; i < n; i++)
		chk(t, btf__add_func_param(b, names[i], types[i]));
	return proto;
}

/* struct sched_ext_ops: the callbacks as function pointers, then char name[128]. */
static void add_ops(struct btf *b, struct ids *t, bool next)
{
	const char *const sel_n[] = { "p", "prev_cpu", "wake_flags" };
	const int sel_t[] = { t->ptask, t->s32, t->u64 };
	const char *const enq_n[] = { "p", "enq_flags" };
	const int enq_t[] = { t->ptask, t->u64 };
	const char *const disp_n[] = { "cpu", "prev" };
	const int disp_t[] = { t->s32, t->ptask };
	const char *const exit_n[] = { "info" };
	const int exit_t[] = { t->pexit };
	int sel, enq, disp, init, ex, idx, name;
	unsigned off = 0;

	sel = chk(t, btf__add_ptr(b, add_proto(b, t, t->s32, 3, sel_n, sel_t)));
	enq = chk(t, btf__add_ptr(b, add_proto(b, t, 0, 2, enq_n, enq_t)));
	disp = chk(t, btf__add_ptr(b, add_proto(b, t, 0, 2, disp_n, disp_t)));
	init = chk(t, btf__add_ptr(b, add_proto(b, t, t->s32, 0, NULL, NULL)));
	ex = chk(t, btf__add_ptr(b, add_proto(b, t, 0, 1, exit_n, exit_t)));
	idx = chk(t, btf__add_int(b, "unsigned int", 4, 0));
	name = chk(t, btf__add_array(b, idx, t->char_t, 128));
	chk(t, btf__add_struct(b, "sched_ext_ops", (next ? 6 : 5) * 8 + 128));
	chk(t, btf__add_field(b, "select_cpu", sel, off, 0));
	chk(t, btf__add_field(b, "enqueue", enq, off += 64, 0));
	if (next)
		chk(t, btf__add_field(b, "dequeue", enq, off += 64, 0));
	chk(t, btf__add_field(b, "dispatch", disp, off += 64, 0));
	chk(t, btf__add_field(b, "init", init, off += 64, 0));
	chk(t, btf__add_field(b, "exit", ex, off += 64, 0));
	chk(t, btf__add_field(b, "name", name, off += 64, 0));
}

/* The kfuncs (global FUNCs named scx_bpf_*) and one FUNC that is not sched_ext's. */
static void add_funcs(struct btf *b, struct ids *t, bool next)
{
	const char *const ins_n[] = { "p", "dsq_id", "slice", "enq_flags" };
	const int ins_t[] = { t->ptask, t->u64, t->u64, t->u64 };
	const char *const cons_n[] = { "dsq_id" };
	const int cons_t[] = { t->u64 };
	int ins = add_proto(b, t, 0, 4, ins_n, ins_t);
	int cons = add_proto(b, t, t->bool_t, 1, cons_n, cons_t);
	int plain = add_proto(b, t, t->s32, 0, NULL, NULL);

	chk(t, btf__add_func(b, next ? "scx_bpf_dsq_insert" : "scx_bpf_dispatch",
			     BTF_FUNC_GLOBAL, ins));
	chk(t, btf__add_func(b, next ? "scx_bpf_dsq_move_to_local" : "scx_bpf_consume",
			     BTF_FUNC_GLOBAL, cons));
	chk(t, btf__add_func(b, "fake_counter_read", BTF_FUNC_GLOBAL, plain));
}

int mkbtf_build(const char *name, void **ret, size_t *ret_size)
{
	struct ids t = { 0 };
	struct btf *b;
	const void *raw;
	__u32 size = 0;
	bool next;
	void *copy;

	if (!name || (strcmp(name, "fake") != 0 && strcmp(name, "fake-next") != 0))
		return -EINVAL;
	next = strcmp(name, "fake-next") == 0;
	b = btf__new_empty();
	if (!b)
		return -errno;
	add_base(b, &t);
	add_ops(b, &t, next);
	add_funcs(b, &t, next);
	raw = t.err ? NULL : btf__raw_data(b, &size);
	copy = raw ? malloc(size) : NULL;
	if (copy)
		memcpy(copy, raw, size);
	btf__free(b);
	if (t.err)
		return t.err;
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	*ret_size = size;
	return 0;
}
