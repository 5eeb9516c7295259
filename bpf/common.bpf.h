/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by every program: the record header filled from a task,
 * the in-kernel filter, per-CPU counters and the ring-buffer submit policy.
 *
 * Reads through BPF_CORE_READ zero their destination when the kernel
 * pointer is not readable, and so do direct loads through a BTF-typed
 * pointer (VG_READ), so a header field that cannot be read is 0; the
 * explicit bpf_probe_read_* calls check their return.
 */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

static __always_inline void stat__add(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	/*
	 * per-CPU slot, but the cgroup hooks run preemptible (migration off
	 * only): two tasks may interleave on one CPU, so the add is atomic
	 */
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline __u32 event__type_idx(__u16 type)
{
	return type < VG_EV__MAX ? type : 0;
}

/*
 * The filter, applied before anything is reserved: never the agent itself
 * nor a child it forks (the capability probe after attach), and host
 * processes (host mount and pid namespaces, in a cgroup that is not a
 * container's: see ctr_cgroups) only when asked.
 * True when the record must be dropped.
 */
static __always_inline bool filter__match(const struct vg_hdr *h)
{
	if (vg_filter.agent_tgid &&
	    (h->tgid == vg_filter.agent_tgid || h->ptgid == vg_filter.agent_tgid))
		return true;
	if (vg_filter.emit_host || h->mntns != vg_filter.host_mntns ||
	    h->pidns != vg_filter.host_pidns)
		return false;
	return !bpf_map_lookup_elem(&ctr_cgroups, &h->cgroup_id);
}

/*
 * A syscall's return at its exit that is the kernel's own, not the
 * caller's: -ERESTARTSYS .. -ERESTART_RESTARTBLOCK (512-516), a signal
 * came.  The call is made again or returns EINTR, which the exit does not
 * know yet: the outcome is unknown here.
 */
static __always_inline bool ret__restart(long ret)
{
	return ret <= -512 && ret >= -516;
}

static __always_inline bool filter__drop(const struct vg_hdr *h)
{
	if (!filter__match(h))
		return false;
	stat__add(VG_STAT_FILTERED + event__type_idx(h->type));
	return true;
}

/*
 * Two access modes, one source.  A task pointer from bpf_get_current_task()
 * or a raw tracepoint is a plain number to the verifier: its fields are
 * read with bpf_probe_read_kernel, one helper call each (BPF_CORE_READ).
 * A BTF-typed pointer (tp_btf and LSM arguments, bpf_get_current_task_btf())
 * is loaded from directly: the verifier turns each CO-RE relocated load into
 * a fault-handled load (PROBE_MEM) with no call, and a NULL or unreadable
 * pointer along the chain reads as 0, as BPF_CORE_READ does.  `btf` is a
 * constant at every call site, so only one mode is compiled into a program.
 */
#define VG_READ(btf, src, a, ...)                                                                  \
	((btf) ? (src)->___arrow(a, ##__VA_ARGS__) : BPF_CORE_READ(src, a, ##__VA_ARGS__))

/*
 * One pid->numbers[] entry: the number and its namespace's inode.  Only
 * scalars leave here: a namespace pointer kept past these branches (a
 * loaded pointer on two of them, a probe-read number on the third) would
 * keep the verifier from merging them, and it would walk everything after
 * once per branch, paying on every pointer load from a trusted task a
 * search of the kernel's BTF (on 6.18, 29% of the time exec, fork and exit
 * took to load).
 */
struct vg_upid {
	__u32 nr;
	__u32 inum;
};

/*
 * pid->numbers[level]: a direct load needs a constant offset, so the levels
 * met in practice (the host, one nested namespace) are loaded directly and
 * deeper ones probe-read (and so is their namespace: a probe-read pointer
 * cannot be loaded from).
 */
static __always_inline int upid__read(struct vg_upid *u, struct pid *pid, unsigned int level,
				      bool btf)
{
	struct pid_namespace *ns;
	struct upid up = {};

	if (btf && level == 0) {
		u->nr = pid->numbers[0].nr;
		ns = pid->numbers[0].ns;
	} else if (btf && level == 1 && bpf_core_field_size(pid->numbers) == 0) {
		/* only where numbers[] is a flexible array (6.5+): before, it
		 * was numbers[1], and the verifier refuses a load past it (the
		 * size is a constant at load time: the other side is dead) */
		u->nr = pid->numbers[1].nr;
		ns = pid->numbers[1].ns;
	} else {
		if (bpf_core_read(&up, sizeof(up), &pid->numbers[level]))
			return -1;
		u->nr = up.nr;
		ns = up.ns;
		/*
		 * keeps clang from merging these stack loads with the direct
		 * loads above into one instruction the verifier would see
		 * reading two kinds of pointer
		 */
		barrier_var(u->nr);
		barrier_var(ns);
		u->inum = ns ? BPF_CORE_READ(ns, ns.inum) : 0;
		return 0;
	}
	u->inum = ns ? ns->ns.inum : 0;
	return 0;
}

/* tgid of a task as seen in its own pid namespace, that namespace's inode,
 * and the pid's depth */
static __always_inline void pid__own_level(struct task_struct *task, __u32 *nr, __u32 *ns_inum,
					   unsigned int *level, bool btf)
{
	struct pid *pid = VG_READ(btf, task, group_leader, thread_pid);
	struct vg_upid u = {};

	*level = pid ? VG_READ(btf, pid, level) : 0;
	/* numbers[] has level + 1 entries; level is the pid's own depth */
	if (pid && upid__read(&u, pid, *level, btf) == 0) {
		*nr = u.nr;
		*ns_inum = u.inum;
	}
}

/*
 * The parent's tgid at the child's level, when the parent's pid has an
 * entry in that same namespace, ns_inum (a parent outside the child's pid
 * namespace, like runc for a container's init, is 0).  Both namespaces are
 * alive here, so equal inodes are the same namespace.
 */
static __always_inline __u32 pid__parent_nr(struct task_struct *task, __u32 ns_inum,
					    unsigned int level, bool btf)
{
	struct pid *ppid = VG_READ(btf, task, real_parent, group_leader, thread_pid);
	struct vg_upid u = {};

	if (!ppid || !ns_inum || VG_READ(btf, ppid, level) < level)
		return 0;
	if (upid__read(&u, ppid, level, btf))
		return 0;
	return u.inum == ns_inum ? u.nr : 0;
}

/*
 * Fill h from task.  filter: the fields the filter reads (tgid, ptgid, the
 * namespaces, the cgroup) come first; when it drops the record, the count
 * is taken and the rest is not read: returns true, h incomplete.
 * Otherwise (and always without filter) returns false with h complete.
 */
static __always_inline bool hdr__fill_mode(struct vg_hdr *h, struct task_struct *task, __u16 type,
					   __u16 size, bool btf, bool filter)
{
	unsigned int level = 0;
	struct css_set *cgroups;
	int memcg;

	h->type = type;
	h->size = size;
	h->flags = 0;
	h->tgid = VG_READ(btf, task, tgid);
	h->tid = VG_READ(btf, task, pid);
	h->ptgid = VG_READ(btf, task, real_parent, tgid);
	h->ns_pid = 0;
	h->pidns = 0;
	pid__own_level(task, &h->ns_pid, &h->pidns, &level, btf);
	h->mntns = VG_READ(btf, task, nsproxy, mnt_ns, ns.inum);
	cgroups = VG_READ(btf, task, cgroups);
	h->cgroup_id = kernfs__id(cgroups ? VG_READ(btf, cgroups, dfl_cgrp, kn) : NULL, btf);
	if (filter && filter__drop(h))
		return true;
	/*
	 * After the filter: the first clock read of a program run is its
	 * dearest step (~140 ns here: it waits for the loads before it).  A
	 * new process's start_time is that same CLOCK_MONOTONIC, read by
	 * copy_process() just before the fork tracepoint, and costs a load.
	 */
	h->ts_ns = type == VG_EV_FORK ? VG_READ(btf, task, start_time) : bpf_ktime_get_ns();
	h->ns_ppid = pid__parent_nr(task, h->pidns, level, btf);
	/* effective ids: what the kernel checks permissions against */
	h->uid = VG_READ(btf, task, cred, euid.val);
	h->gid = VG_READ(btf, task, cred, egid.val);
	h->pad = 0;

	h->cgroup_v1_id = 0;
	memcg = cgroup__memory_subsys_id();
	/* memcg indexes subsys[CGROUP_SUBSYS_COUNT]; the enum value is in range */
	if (memcg >= 0 && cgroups)
		h->cgroup_v1_id = kernfs__id(VG_READ(btf, cgroups, subsys[memcg], cgroup, kn), btf);

	if (VG_READ(btf, task, signal, tty))
		h->flags |= VG_HF_TTY;
	if (btf) {
		/* comm is NUL padded (set_task_comm); the last byte is forced */
		__builtin_memcpy(h->comm, task->comm, sizeof(h->comm));
		h->comm[sizeof(h->comm) - 1] = '\0';
	} else if (bpf_probe_read_kernel_str(h->comm, sizeof(h->comm), &task->comm) < 0) {
		h->comm[0] = '\0';
	}
	return false;
}

/* The header of a record about task, read through probe reads: any task pointer. */
static __always_inline void hdr__fill(struct vg_hdr *h, struct task_struct *task, __u16 type,
				      __u16 size)
{
	hdr__fill_mode(h, task, type, size, false, false);
}

/*
 * The same header from a BTF-typed task (tp_btf/LSM arguments,
 * bpf_get_current_task_btf()), by direct loads: the cheaper one (on 6.18,
 * about 200 ns against 1000 for hdr__fill in a cgroup connect hook).
 * bpf_get_current_task_btf() is a tracing helper since 5.11 but joined the
 * helpers of other program types (cgroup hooks) later than
 * bpf_get_current_task(): such a program that uses it needs a fallback.
 */
static __always_inline void hdr__fill_btf(struct vg_hdr *h, struct task_struct *task, __u16 type,
					  __u16 size)
{
	hdr__fill_mode(h, task, type, size, true, false);
}

/*
 * The header and the filter in one: true when the record is dropped
 * (counted as filtered; the header is then incomplete, and the fields the
 * filter does not need were never read).  btf as in VG_READ.
 */
static __always_inline bool hdr__fill_drop(struct vg_hdr *h, struct task_struct *task, __u16 type,
					   __u16 size, bool btf)
{
	return hdr__fill_mode(h, task, type, size, btf, true);
}

/*
 * ---- untrusted task pointers: direct loads at a fraction of the verifier's time ----
 *
 * A BTF-typed task pointer from a tp_btf argument or
 * bpf_get_current_task_btf() is trusted.  For every load of a pointer field
 * through a trusted (or RCU) pointer the verifier looks the field up in its
 * __safe_trusted / __safe_rcu allow lists, each one a search of vmlinux BTF
 * by name: about 2 ms per such load on 6.18, so a header read that way costs
 * 50-90 ms of verification per program, most of vigil's start-up.  Through
 * an untrusted pointer (PTR_UNTRUSTED) the same loads compile to the same
 * fault-handled PROBE_MEM loads, and none of that runs.  bpf_rdonly_cast()
 * makes one from any pointer or number, and the verifier rewrites the call
 * into a register move.  It is a kfunc (6.2): declared weak, so the object
 * loads where it is missing, and only the *_ut programs use it; the loader
 * picks those where the kernel has it.  The price is at run time: through a
 * trusted pointer the first loads are plain ones, through an untrusted one
 * every load is fault-handled, ~0.5 us more per fork+exec+exit.  So exec,
 * fork and exit keep trusted pointers; the connect hooks (which would
 * otherwise probe-read), the capability hook (which saves a helper call
 * with it) and the OOM hook (rare) are the *_ut ones.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#define VG_UNTRUSTED(type, p) ((type *)bpf_rdonly_cast((p), bpf_core_type_id_kernel(type)))

/*
 * Submit policy: no wakeup per record (a wakeup costs the traced task about
 * a microsecond and a half); the agent drains on a short timer, and a
 * wakeup is forced only once the buffer holds more than wakeup_bytes.
 *
 * The fill level is asked for on one record in 16 per CPU:
 * the query reads the consumer position, a cache line the agent writes
 * from another CPU, ~100 ns per record here.  Between two queries a CPU
 * adds at most 16 records, 40 KiB at the largest, far
 * below the headroom past wakeup_bytes of a ring buffer of 1 MiB or more.
 * The per-CPU counters are plain words in .bss, one cache line each, bumped
 * without atomics: a lost increment (two preemptible cgroup hooks on one
 * CPU, CPUs past VG_RB_CPUS sharing a slot) only moves the next query by one
 * record.
 */
#define VG_RB_CPUS 256
#define VG_RB_SLOT_WORDS 16 /* one 64-byte cache line per CPU */

__u32 vg_rb_slots[VG_RB_CPUS * VG_RB_SLOT_WORDS];

/* 16 - 1, set by the loader: 0 (every record) for a ring
 * buffer too small for the headroom above */
const volatile __u32 vg_rb_query_mask = 0;

/* this CPU's slot: [0] records since the last fill query, [1] the park
 * generation this CPU last woke the agent for (see below) */
static __always_inline __u32 *rb__slot(void)
{
	__u32 cpu = bpf_get_smp_processor_id() & (VG_RB_CPUS - 1);

	return &vg_rb_slots[cpu * VG_RB_SLOT_WORDS];
}

static __always_inline __u64 rb__flags(__u32 *slot)
{
	__u64 avail;

	if (++slot[0] & vg_rb_query_mask)
		return BPF_RB_NO_WAKEUP;
	avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	return avail > vg_filter.wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/*
 * The agent's idle sleep.  With nothing left to drain, the agent sets
 * vg_agent_parked to a new generation (never 0), checks that the ring
 * buffer is still empty and sleeps with no drain timer (loader.c,
 * vg_loader_park); the first record submitted on each CPU while it is set
 * forces the wakeup, and the agent sets it back to 0 once awake.  So a
 * quiet host costs the agent no timer wakeups, and the first record after
 * a quiet spell is handed over at once.  One forced wakeup per CPU and
 * generation: each one that finds the previous already delivered queues
 * an interrupt of its own, a few microseconds on a VM, and the records of
 * a burst keep coming until the agent is up to clear the flag.  A program
 * that read the flag clear but finds it set once its record is committed
 * may have been missed by the agent's check (it looked before the commit):
 * it forces the wakeup with an empty record, reserved and discarded.  The
 * commit is a full barrier (xchg), which orders that second read after it,
 * and the agent fences between its store and its look.  Only the agent
 * writes the flag, on a cache line of its own; the per-CPU generation
 * words are plain (two preemptible hooks on one CPU: one extra wakeup, at
 * worst).
 */
__u32 vg_agent_parked __attribute__((aligned(64)));

/* the park generation to wake the agent for from this CPU, or 0 */
static __always_inline __u32 rb__park_due(__u32 *slot)
{
	__u32 gen = *(volatile __u32 *)&vg_agent_parked;

	return gen != slot[1] ? gen : 0;
}

static __always_inline void rb__wake(void)
{
	void *p = bpf_ringbuf_reserve(&events, 8, 0);

	if (p)
		bpf_ringbuf_discard(p, BPF_RB_FORCE_WAKEUP);
}

/*
 * Copy a built record (stack or map value) into the ring buffer.  Records
 * are built first and copied once, rather than built in a reservation:
 * the filter needs the header before anything is reserved, and a record
 * that fails its reserve is counted as dropped here, in one place.
 */
static __always_inline void rb__output(void *rec, __u32 size, __u16 type)
{
	__u32 *slot = rb__slot();
	__u32 gen = rb__park_due(slot);

	if (bpf_ringbuf_output(&events, rec, size, gen ? BPF_RB_FORCE_WAKEUP : rb__flags(slot))) {
		stat__add(VG_STAT_DROPPED + event__type_idx(type));
		return;
	}
	stat__add(VG_STAT_EMITTED + event__type_idx(type));
	if (!gen) {
		gen = rb__park_due(slot);
		if (gen)
			rb__wake();
	}
	if (gen)
		slot[1] = gen;
}

static __always_inline union vg_scratch *scratch__get(__u32 slot)
{
	return bpf_map_lookup_elem(&scratch, &slot);
}

#endif
