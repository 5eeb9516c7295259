// SPDX-License-Identifier: GPL-2.0
/*
 * oom: oom:mark_victim.  The tracepoint runs in the context of the task
 * whose allocation triggered the kill, not of the victim: the header is
 * filled from the victim (the tp_btf argument), and the triggering task
 * (current) goes into trigger_tgid/trigger_comm.
 *
 * The classic fallback only has the victim's pid (and, on newer kernels,
 * its comm and page counts): its header carries VG_HF_NO_TASK and the
 * agent resolves the victim's cgroup from its pid.
 *
 * Not filtered by host/container: OOM kills are rare and always matter.
 */

static __always_inline void oom__trigger(struct vg_oom *o)
{
	o->trigger_tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_get_current_comm(o->trigger_comm, sizeof(o->trigger_comm)))
		o->trigger_comm[0] = '\0';
}

static __always_inline void oom__emit(struct vg_oom *o)
{
	if (vg_filter.agent_tgid && o->hdr.tgid == vg_filter.agent_tgid) {
		stat__add(VG_STAT_FILTERED + VG_EV_OOM);
		return;
	}
	rb__output(o, sizeof(*o), VG_EV_OOM);
}

/* victim: a BTF pointer, trusted or untrusted (VG_UNTRUSTED) */
static __always_inline int oom__victim(struct task_struct *task)
{
	struct vg_oom o = {};
	struct mm_struct *mm;
	__s64 rss;

	hdr__fill_btf(&o.hdr, task, VG_EV_OOM, sizeof(o));
	oom__trigger(&o);
	mm = BPF_CORE_READ(task, mm);
	if (mm) {
		rss = mm__counter(mm, VG_MM_FILEPAGES) + mm__counter(mm, VG_MM_ANONPAGES) +
		      mm__counter(mm, VG_MM_SHMEMPAGES);
		o.total_vm_kb = BPF_CORE_READ(mm, total_vm) * vg_page_kb;
		o.rss_kb = rss * vg_page_kb;
	}
	oom__emit(&o);
	return 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(vg_oom_btf, struct task_struct *task)
{
	return oom__victim(task);
}

SEC("tp_btf/mark_victim")
int BPF_PROG(vg_oom_ut, struct task_struct *task)
{
	return oom__victim(VG_UNTRUSTED(struct task_struct, task));
}

SEC("tracepoint/oom/mark_victim")
int vg_oom_tp(struct trace_event_raw_mark_victim___new *ctx)
{
	struct vg_oom o = {};
	__u32 off;

	o.hdr.type = VG_EV_OOM;
	o.hdr.size = sizeof(o);
	o.hdr.flags = VG_HF_NO_TASK;
	o.hdr.ts_ns = bpf_ktime_get_ns();
	o.hdr.tgid = BPF_CORE_READ(ctx, pid);
	o.hdr.tid = o.hdr.tgid;
	if (bpf_core_field_exists(ctx->__data_loc_comm)) {
		/* __data_loc: low 16 bits are the offset from the record's start */
		off = BPF_CORE_READ(ctx, __data_loc_comm) & 0xFFFF;
		if (bpf_probe_read_kernel_str(o.hdr.comm, sizeof(o.hdr.comm), (void *)ctx + off) <
		    0)
			o.hdr.comm[0] = '\0';
	}
	/* the tracepoint converts pages to KiB itself (PG_COUNT_TO_KB) */
	if (bpf_core_field_exists(ctx->total_vm)) {
		o.total_vm_kb = BPF_CORE_READ(ctx, total_vm);
		o.rss_kb = BPF_CORE_READ(ctx, anon_rss) + BPF_CORE_READ(ctx, file_rss) +
			   BPF_CORE_READ(ctx, shmem_rss);
	}
	oom__trigger(&o);
	oom__emit(&o);
	return 0;
}
