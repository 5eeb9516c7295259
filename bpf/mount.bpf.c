// SPDX-License-Identifier: GPL-2.0
/*
 * mount: the classic syscall tracepoints of mount(2), umount2(2) and the
 * new mount API (fsopen, fsmount, move_mount, open_tree, fspick,
 * mount_setattr).  sys_enter copies the user strings into a per-tid record
 * in mnt_pend; sys_exit adds the result and emits it.
 *
 * A syscall refused by seccomp (Docker's default profile refuses mount to a
 * container without CAP_SYS_ADMIN) never reaches sys_enter, but its
 * sys_exit still fires: with no record pending, sys_exit reads the
 * arguments from the task's saved user registers instead, so a refused
 * mount attempt is still reported.
 *
 * Known gap: syscall tracepoints do not fire for 32-bit (ia32) syscalls on
 * x86-64, so a 32-bit program's mount calls are not seen here; unlike
 * connect, mount has no hook that sees every ABI without kprobes or LSM
 * programs.
 */

struct {
	/* LRU: a record whose sys_exit never came cannot fill the map */
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct vg_mount);
} mnt_pend SEC(".maps");

/* a user string into dst; "" when the pointer is NULL or unreadable */
static __always_inline void mnt__str(char *dst, __u32 n, unsigned long uptr)
{
	if (!uptr || bpf_probe_read_user_str(dst, n, (const void *)uptr) < 0)
		dst[0] = '\0';
}

/* Syscall arguments -> record fields, per operation. */
static __always_inline void mnt__collect(struct vg_mount *m, __u32 op, const unsigned long *a)
{
	m->op = op;
	m->result = 0;
	m->flags = 0;
	m->source[0] = '\0';
	m->target[0] = '\0';
	m->fstype[0] = '\0';

	switch (op) {
	case VG_MNT_MOUNT: /* dev_name, dir_name, type, flags, data */
		mnt__str(m->source, sizeof(m->source), a[0]);
		mnt__str(m->target, sizeof(m->target), a[1]);
		mnt__str(m->fstype, sizeof(m->fstype), a[2]);
		m->flags = a[3];
		break;
	case VG_MNT_UMOUNT: /* name, flags */
		mnt__str(m->target, sizeof(m->target), a[0]);
		m->flags = a[1];
		break;
	case VG_MNT_FSOPEN: /* fs_name, flags */
		mnt__str(m->fstype, sizeof(m->fstype), a[0]);
		m->flags = a[1];
		break;
	case VG_MNT_FSMOUNT: /* fs_fd, flags, attr_flags: flags | attr << 32 */
		m->flags = (a[1] & 0xffffffffULL) | (a[2] << 32);
		break;
	case VG_MNT_MOVE_MOUNT: /* from_dfd, from_path, to_dfd, to_path, flags */
		mnt__str(m->source, sizeof(m->source), a[1]);
		mnt__str(m->target, sizeof(m->target), a[3]);
		m->flags = a[4];
		break;
	case VG_MNT_OPEN_TREE: /* dfd, filename, flags */
	case VG_MNT_FSPICK:    /* dfd, path, flags */
		mnt__str(m->source, sizeof(m->source), a[1]);
		m->flags = a[2];
		break;
	case VG_MNT_SETATTR: /* dfd, path, flags, uattr, usize */
		mnt__str(m->target, sizeof(m->target), a[1]);
		m->flags = a[2];
		break;
	}
}

/*
 * The scratch record with current's header, NULL when filtered out (and
 * counted as filtered when count: sys_exit does not count what its
 * sys_enter already did).
 */
static __always_inline struct vg_mount *mnt__start(bool count)
{
	union vg_scratch *s = scratch__get(VG_SCRATCH_MOUNT);
	struct vg_mount *m;

	if (!s)
		return NULL;
	m = &s->mount;
	hdr__fill(&m->hdr, (void *)bpf_get_current_task(), VG_EV_MOUNT, sizeof(*m));
	if (count ? filter__drop(&m->hdr) : filter__match(&m->hdr))
		return NULL;
	return m;
}

static __always_inline int mnt__enter(struct syscall_trace_enter *ctx, __u32 op)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vg_mount *m = mnt__start(true);
	unsigned long a[6];

	if (!m)
		return 0;
	/* the tracepoint record holds the syscall's six arguments */
	if (bpf_probe_read_kernel(a, sizeof(a), ctx->args))
		return 0;
	mnt__collect(m, op, a);
	bpf_map_update_elem(&mnt_pend, &tid, m, BPF_ANY);
	return 0;
}

/* The user registers saved at syscall entry hold the arguments. */
static __always_inline int mnt__args_from_regs(unsigned long *a)
{
	struct pt_regs *regs;

	/* bpf_task_pt_regs is 5.15+: without it the branch is dead code */
	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs))
		return -1;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (!regs)
		return -1;
#if defined(__TARGET_ARCH_x86)
	a[0] = BPF_CORE_READ(regs, di);
	a[1] = BPF_CORE_READ(regs, si);
	a[2] = BPF_CORE_READ(regs, dx);
	a[3] = BPF_CORE_READ(regs, r10);
	a[4] = BPF_CORE_READ(regs, r8);
	a[5] = BPF_CORE_READ(regs, r9);
	return 0;
#else
	/* other architectures: refused attempts are not reconstructed */
	return -1;
#endif
}

static __always_inline int mnt__exit(struct syscall_trace_exit *ctx, __u32 op)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vg_mount *m = bpf_map_lookup_elem(&mnt_pend, &tid);
	unsigned long a[6];

	if (m) {
		m->result = ctx->ret;
		rb__output(m, sizeof(*m), VG_EV_MOUNT);
		bpf_map_delete_elem(&mnt_pend, &tid);
		return 0;
	}
	/* no sys_enter: refused before it (seccomp), or filtered there */
	m = mnt__start(false);
	if (!m || mnt__args_from_regs(a))
		return 0;
	mnt__collect(m, op, a);
	m->result = ctx->ret;
	rb__output(m, sizeof(*m), VG_EV_MOUNT);
	return 0;
}

#define VG_MNT_HOOKS(sys, enter_name, exit_name, op)                                               \
	SEC("tracepoint/syscalls/sys_enter_" #sys)                                                 \
	int enter_name(struct syscall_trace_enter *ctx)                                            \
	{                                                                                          \
		return mnt__enter(ctx, op);                                                        \
	}                                                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #sys)                                                  \
	int exit_name(struct syscall_trace_exit *ctx)                                              \
	{                                                                                          \
		return mnt__exit(ctx, op);                                                         \
	}

VG_MNT_HOOKS(mount, vg_mount_in, vg_mount_out, VG_MNT_MOUNT)
VG_MNT_HOOKS(umount, vg_umount_in, vg_umount_out, VG_MNT_UMOUNT)
VG_MNT_HOOKS(fsopen, vg_fsopen_in, vg_fsopen_out, VG_MNT_FSOPEN)
VG_MNT_HOOKS(fsmount, vg_fsmount_in, vg_fsmount_out, VG_MNT_FSMOUNT)
VG_MNT_HOOKS(move_mount, vg_mvmount_in, vg_mvmount_out, VG_MNT_MOVE_MOUNT)
VG_MNT_HOOKS(open_tree, vg_otree_in, vg_otree_out, VG_MNT_OPEN_TREE)
VG_MNT_HOOKS(fspick, vg_fspick_in, vg_fspick_out, VG_MNT_FSPICK)
VG_MNT_HOOKS(mount_setattr, vg_msetattr_in, vg_msetattr_out, VG_MNT_SETATTR)
