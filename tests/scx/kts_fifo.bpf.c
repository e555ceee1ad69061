/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kts_fifo: the guest test's sched_ext scheduler (tests/scx/run-guest), a global FIFO like
 * scx_simple's FIFO mode. A task waking up to an idle CPU goes straight to that CPU's local
 * DSQ; every other task is queued on the built-in SCX_DSQ_GLOBAL, which the core consumes
 * before it would call ops.dispatch (so none is needed). The .bss counters are read by
 * ktsload through the object's .bss map: they prove the callbacks ran.
 *
 * Compiled against the cache entry's vmlinux.h:
 *   clang -target bpf -O2 -g [-DKTS_DSQ_INSERT] -I ENTRY -c kts_fifo.bpf.c
 *
 * Written for Debian's libbpf 1.1, which is why it is not scx-source compatible:
 *   - SEC(".struct_ops"), not ".struct_ops.link": libbpf learnt the latter in 1.2. With the
 *     plain section, attaching is a map update that registers the ops (the kernel calls
 *     sched_ext's reg() without a link) and detaching is the map delete that unregisters;
 *   - no scx_bpf_create_dsq(): it is a sleepable kfunc, callable only from a sleepable
 *     ops.init ("struct_ops.s/"), which libbpf 1.1 cannot declare. The built-in global DSQ
 *     needs no creating.
 * The insert kfunc was renamed in 6.13: scx_bpf_dispatch (6.12) became scx_bpf_dsq_insert.
 * run-guest passes -DKTS_DSQ_INSERT when the entry's capabilities.json (else its vmlinux.h)
 * names scx_bpf_dsq_insert.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define KTS_OPS(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)

char _license[] SEC("license") = "GPL";

#ifdef KTS_DSQ_INSERT
void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
#define kts_insert scx_bpf_dsq_insert
#else
void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
#define kts_insert scx_bpf_dispatch
#endif
s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
			   bool *is_idle) __ksym;

/* ktsload prints every 8-byte .bss variable as "KTS counter NAME VALUE" */
u64 nr_direct;   /* woken to an idle CPU: inserted into its local DSQ in select_cpu */
u64 nr_enqueued; /* queued on the global DSQ by enqueue */
u64 nr_exit;     /* ops.exit ran (the scheduler was unregistered) */

s32 KTS_OPS(kts_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);

	if (is_idle) {
		__sync_fetch_and_add(&nr_direct, 1);
		kts_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
	}
	return cpu;
}

void KTS_OPS(kts_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&nr_enqueued, 1);
	kts_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

void KTS_OPS(kts_exit, struct scx_exit_info *ei)
{
	__sync_fetch_and_add(&nr_exit, 1);
}

SEC(".struct_ops")
struct sched_ext_ops kts_fifo = {
	.select_cpu = (void *)kts_select_cpu,
	.enqueue = (void *)kts_enqueue,
	.exit = (void *)kts_exit,
	.name = "kts_fifo",
};
