/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fake kernel's BTF (tests/data/fake-kernel/fake*.btf), built with libbpf's btf__add_*
 * (mkbtf.c): the generator of the checked-in blobs, which test-mkbtf regenerates and compares
 * byte for byte, and writes anew with `test-mkbtf --write DIR`.
 */
#pragma once

#include <stddef.h>

/*
 * The variants, each a small sched_ext kernel:
 *   "fake"       struct sched_ext_ops { select_cpu, enqueue, dispatch, init, exit, name },
 *                FUNCs scx_bpf_dispatch, scx_bpf_consume and fake_counter_read (not scx);
 *   "fake-next"  ops gain dequeue; the kfuncs are scx_bpf_dsq_insert and
 *                scx_bpf_dsq_move_to_local (as after 6.13's rename); fake_counter_read.
 * The file of variant V is V.btf.
 */
extern const char *const mkbtf_variants[];

/*
 * The type ids of the three FUNCs, the same in every variant (two kfuncs, then
 * fake_counter_read): the fake vmlinux's .BTF_ids kfunc set names them (fake.c).
 */
#define MKBTF_FUNC_ID_FIRST 27
#define MKBTF_N_FUNCS 3

/* The raw BTF of variant name in *ret (malloc'ed, *ret_size bytes). -EINVAL: no such variant. */
int mkbtf_build(const char *name, void **ret, size_t *ret_size);
