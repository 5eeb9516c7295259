/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by every program: the record header filled from a task,
 * the in-kernel filter, per-CPU counters and the ring-buffer submit policy.
 *
 * Reads through BPF_CORE_READ zero their destination when the kernel
 * pointer is not readable, so a header field that cannot be read is 0; the
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

/* tgid of a task as seen in its own pid namespace, and that namespace */
static __always_inline void pid__own_level(struct task_struct *task, __u32 *nr, __u32 *ns_inum,
					   struct pid_namespace **ns, unsigned int *level)
{
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	struct upid up = {};

	*level = BPF_CORE_READ(pid, level);
	/* numbers[] has level + 1 entries; level is the pid's own depth */
	if (pid && bpf_core_read(&up, sizeof(up), &pid->numbers[*level]) == 0) {
		*nr = up.nr;
		*ns = up.ns;
		*ns_inum = BPF_CORE_READ(up.ns, ns.inum);
	}
}

/*
 * The parent's tgid at the child's level, when the parent's pid has an
 * entry in that same namespace (a parent outside the child's pid namespace,
 * like runc for a container's init, is 0).
 */
static __always_inline __u32 pid__parent_nr(struct task_struct *task, struct pid_namespace *ns,
					    unsigned int level)
{
	struct pid *ppid = BPF_CORE_READ(task, real_parent, group_leader, thread_pid);
	struct upid up = {};

	if (!ppid || !ns || BPF_CORE_READ(ppid, level) < level)
		return 0;
	if (bpf_core_read(&up, sizeof(up), &ppid->numbers[level]))
		return 0;
	return up.ns == ns ? (__u32)up.nr : 0;
}

static __always_inline void hdr__fill(struct vg_hdr *h, struct task_struct *task, __u16 type,
				      __u16 size)
{
	struct pid_namespace *ns = NULL;
	unsigned int level = 0;
	struct css_set *cgroups;
	int memcg;

	h->type = type;
	h->size = size;
	h->flags = 0;
	h->ts_ns = bpf_ktime_get_ns();
	h->tgid = BPF_CORE_READ(task, tgid);
	h->tid = BPF_CORE_READ(task, pid);
	h->ptgid = BPF_CORE_READ(task, real_parent, tgid);
	h->ns_pid = 0;
	h->pidns = 0;
	pid__own_level(task, &h->ns_pid, &h->pidns, &ns, &level);
	h->ns_ppid = pid__parent_nr(task, ns, level);
	/* effective ids: what the kernel checks permissions against */
	h->uid = BPF_CORE_READ(task, cred, euid.val);
	h->gid = BPF_CORE_READ(task, cred, egid.val);
	h->mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	h->pad = 0;

	cgroups = BPF_CORE_READ(task, cgroups);
	h->cgroup_id = kernfs__id(BPF_CORE_READ(cgroups, dfl_cgrp, kn));
	h->cgroup_v1_id = 0;
	memcg = cgroup__memory_subsys_id();
	/* memcg indexes subsys[CGROUP_SUBSYS_COUNT]; the enum value is in range */
	if (memcg >= 0)
		h->cgroup_v1_id = kernfs__id(BPF_CORE_READ(cgroups, subsys[memcg], cgroup, kn));

	if (BPF_CORE_READ(task, signal, tty))
		h->flags |= VG_HF_TTY;
	if (bpf_probe_read_kernel_str(h->comm, sizeof(h->comm), &task->comm) < 0)
		h->comm[0] = '\0';
}

/*
 * The filter, applied before anything is reserved: never the agent itself
 * nor a child it forks (the capability probe after attach), and host
 * processes (host mount and pid namespaces) only when asked.
 * Counts the record as filtered and returns true when it must be dropped.
 */
static __always_inline bool filter__match(const struct vg_hdr *h)
{
	if (vg_filter.agent_tgid &&
	    (h->tgid == vg_filter.agent_tgid || h->ptgid == vg_filter.agent_tgid))
		return true;
	return !vg_filter.emit_host && h->mntns == vg_filter.host_mntns &&
	       h->pidns == vg_filter.host_pidns;
}

static __always_inline bool filter__drop(const struct vg_hdr *h)
{
	if (!filter__match(h))
		return false;
	stat__add(VG_STAT_FILTERED + event__type_idx(h->type));
	return true;
}

/*
 * Submit policy: no wakeup per record (a wakeup costs the traced task about
 * a microsecond and a half); the agent drains on a short timer, and a
 * wakeup is forced only once the buffer holds more than wakeup_bytes.
 */
static __always_inline __u64 rb__flags(void)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	return avail > vg_filter.wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/*
 * Copy a built record (stack or map value) into the ring buffer.  Records
 * are built first and copied once, rather than built in a reservation:
 * the filter needs the header before anything is reserved, and a record
 * that fails its reserve is counted as dropped here, in one place.
 */
static __always_inline void rb__output(void *rec, __u32 size, __u16 type)
{
	if (bpf_ringbuf_output(&events, rec, size, rb__flags()))
		stat__add(VG_STAT_DROPPED + event__type_idx(type));
	else
		stat__add(VG_STAT_EMITTED + event__type_idx(type));
}

static __always_inline union vg_scratch *scratch__get(__u32 slot)
{
	return bpf_map_lookup_elem(&scratch, &slot);
}

#endif
