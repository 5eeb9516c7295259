// SPDX-License-Identifier: GPL-2.0
/*
 * fork and exit, for the agent's process table.
 *
 * fork: only new processes (a new thread is not a process); the header
 * describes the child, so ptgid is the parent.  The fallback is a raw
 * tracepoint rather than the classic one: the classic sched_process_fork
 * carries only pids, not the child task, so it can neither tell a thread
 * from a process nor fill the child's header.
 *
 * exit: once per process, when its last thread leaves.  Keying on the
 * group leader instead would report a process whose main thread called
 * pthread_exit() as gone while its other threads still run.  Where the
 * tracepoint passes group_dead (the thread whose decrement of signal->live
 * reached zero) that says it exactly.  Before, signal->live is read at the
 * tracepoint, after every thread's decrement: two threads leaving together
 * may both read zero and the process is reported twice.
 */

/* btf: child is BTF-typed (see VG_READ) */
static __always_inline int fork__emit(struct task_struct *child, bool btf)
{
	struct vg_fork f = {};

	/* a thread shares its parent's tgid: not a new process */
	if (VG_READ(btf, child, pid) != VG_READ(btf, child, tgid))
		return 0;
	if (hdr__fill_drop(&f.hdr, child, VG_EV_FORK, sizeof(f), btf))
		return 0;
	rb__output(&f, sizeof(f), VG_EV_FORK);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vg_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return fork__emit(child, true);
}

SEC("raw_tp/sched_process_fork")
int vg_fork_raw(struct bpf_raw_tracepoint_args *ctx)
{
	/* TP_PROTO(struct task_struct *parent, struct task_struct *child) */
	return fork__emit((struct task_struct *)ctx->args[1], false);
}

/*
 * Whether sched_process_exit passes group_dead: its event record and its
 * prototype gained the field together, and the record's type is in BTF.
 */
#define exit__has_group_dead()                                                                     \
	bpf_core_field_exists(struct trace_event_raw_sched_process_exit, group_dead)

/* group_dead: 1 or 0 as the tracepoint passed it, -1 when it does not */
static __always_inline int exit__emit(struct task_struct *task, bool btf, int group_dead)
{
	struct vg_exit x = {};

	if (group_dead < 0 ? VG_READ(btf, task, signal, live.counter) != 0 : !group_dead)
		return 0;
	if (hdr__fill_drop(&x.hdr, task, VG_EV_EXIT, sizeof(x), btf))
		return 0;
	x.exit_code = VG_READ(btf, task, exit_code);
	rb__output(&x, sizeof(x), VG_EV_EXIT);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(vg_exit_btf, struct task_struct *task)
{
	/* a constant after relocation: ctx[1] is not looked at where the
	 * prototype has a single argument */
	return exit__emit(task, true, exit__has_group_dead() ? (int)(__u8)ctx[1] : -1);
}

SEC("tracepoint/sched/sched_process_exit")
int vg_exit_tp(struct trace_event_raw_sched_process_exit *ctx)
{
	/* the exiting task is current */
	return exit__emit((void *)bpf_get_current_task(), false,
			  exit__has_group_dead() ? (int)ctx->group_dead : -1);
}
