// SPDX-License-Identifier: GPL-2.0
/*
 * mount: mount(2), umount2(2) and the new mount API (fsopen, fsmount,
 * move_mount, open_tree, fspick, mount_setattr, open_tree_attr).  By
 * default they are seen at the capability check each of them makes (the
 * second half of this file); with syscall results on, through their
 * classic syscall tracepoints: sys_enter copies the user strings into a
 * per-tid record in mnt_pend, sys_exit adds the result and emits it.
 *
 * A syscall refused by seccomp (Docker's default profile refuses mount to a
 * container without CAP_SYS_ADMIN) never reaches sys_enter, but its
 * sys_exit still fires: with no record pending, sys_exit reads the
 * arguments from the task's saved user registers instead, so a refused
 * mount attempt is still reported.
 *
 * The tracepoints are attached only with syscall results on, or when the
 * capability hook is not available: any enabled syscall tracepoint slows
 * every syscall on the host.  Syscall tracepoints do not fire for 32-bit
 * (ia32) syscalls on x86-64: with them, the capability hook stays attached
 * for ia32 calls alone (vg_mnt_cap_compat_only), so those are still seen.
 */

struct {
	/* LRU: a record whose sys_exit never came cannot fill the map */
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct vg_mount);
} mnt_pend SEC(".maps");

/*
 * A user string into dst (zeroed before: see mnt__same); "" when the
 * pointer is NULL or unreadable.  Returns the VG_MNT_STR_* flags: a page
 * that was never touched cannot be faulted in here, and the kernel may not
 * have copied the string yet (several operations check the capability
 * first), so unreadable is said, not taken for empty.
 */
static __always_inline __u16 mnt__str(char *dst, __u32 n, unsigned long uptr)
{
	long r;

	if (!uptr)
		return 0;
	r = bpf_probe_read_user_str(dst, n, (const void *)uptr);
	if (r < 0) {
		dst[0] = '\0';
		return VG_MNT_STR_UNREAD;
	}
	return r == n ? VG_MNT_STR_CUT : 0;
}

/* Syscall arguments -> record fields, per operation. */
static __always_inline void mnt__collect(struct vg_mount *m, __u32 op, const unsigned long *a)
{
	__u16 f = 0;

	m->op = op;
	m->result = 0;
	m->flags = 0;
	/* whole fields: the bytes past a string's NUL take part in mnt__same */
	__builtin_memset(m->source, 0, sizeof(m->source));
	__builtin_memset(m->target, 0, sizeof(m->target));
	__builtin_memset(m->fstype, 0, sizeof(m->fstype));

	switch (op) {
	case VG_MNT_MOUNT: /* dev_name, dir_name, type, flags, data */
		f |= mnt__str(m->source, sizeof(m->source), a[0]);
		f |= mnt__str(m->target, sizeof(m->target), a[1]);
		f |= mnt__str(m->fstype, sizeof(m->fstype), a[2]);
		m->flags = a[3];
		break;
	case VG_MNT_UMOUNT: /* name, flags */
		f |= mnt__str(m->target, sizeof(m->target), a[0]);
		m->flags = a[1];
		break;
	case VG_MNT_FSOPEN: /* fs_name, flags */
		f |= mnt__str(m->fstype, sizeof(m->fstype), a[0]);
		m->flags = a[1];
		break;
	case VG_MNT_FSMOUNT: /* fs_fd, flags, attr_flags: flags | attr << 32 */
		m->flags = (a[1] & 0xffffffffULL) | (a[2] << 32);
		break;
	case VG_MNT_MOVE_MOUNT: /* from_dfd, from_path, to_dfd, to_path, flags */
		f |= mnt__str(m->source, sizeof(m->source), a[1]);
		f |= mnt__str(m->target, sizeof(m->target), a[3]);
		m->flags = a[4];
		break;
	case VG_MNT_OPEN_TREE:	    /* dfd, filename, flags */
	case VG_MNT_OPEN_TREE_ATTR: /* dfd, filename, flags, uattr, usize */
	case VG_MNT_FSPICK:	    /* dfd, path, flags */
		f |= mnt__str(m->source, sizeof(m->source), a[1]);
		m->flags = a[2];
		break;
	case VG_MNT_SETATTR: /* dfd, path, flags, uattr, usize */
		f |= mnt__str(m->target, sizeof(m->target), a[1]);
		m->flags = a[2];
		break;
	}
	m->mflags = f;
}

/*
 * The scratch record with current's header, complete (NULL only without
 * scratch).  ut: the header by direct loads through an untrusted task
 * pointer (VG_UNTRUSTED), not by probe reads: on 6.18 that takes a quarter
 * off the capability hook's run for a mount.
 */
static __always_inline struct vg_mount *mnt__hdr(bool ut)
{
	union vg_scratch *s = scratch__get(VG_SCRATCH_MOUNT);
	void *task = (void *)bpf_get_current_task();
	struct vg_mount *m;

	if (!s)
		return NULL;
	m = &s->mount;
	if (ut)
		hdr__fill_mode(&m->hdr, VG_UNTRUSTED(struct task_struct, task), VG_EV_MOUNT,
			       sizeof(*m), true, false);
	else
		hdr__fill(&m->hdr, task, VG_EV_MOUNT, sizeof(*m));
	return m;
}

/*
 * The same, NULL when filtered out (and counted as filtered when count:
 * sys_exit does not count what its sys_enter already did).
 */
static __always_inline struct vg_mount *mnt__start(bool count)
{
	struct vg_mount *m = mnt__hdr(false);

	if (!m || (count ? filter__drop(&m->hdr) : filter__match(&m->hdr)))
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

/*
 * The six syscall arguments from the user registers saved at syscall entry,
 * in the 64-bit or the 32-bit (ia32: ebx, ecx, edx, esi, edi, ebp) order.
 * 0, or -1 where they cannot be read (other architectures: not
 * reconstructed).  regs is BTF-typed (bpf_task_pt_regs() or cap__regs):
 * direct loads, no helper call each, and pt_regs holds no pointer field
 * whose loads would cost the verifier a lookup.
 */
static __always_inline int mnt__regs_args(struct pt_regs *regs, bool compat, unsigned long *a)
{
#if defined(__TARGET_ARCH_x86)
	if (compat) {
		a[0] = (__u32)VG_READ(true, regs, bx);
		a[1] = (__u32)VG_READ(true, regs, cx);
		a[2] = (__u32)VG_READ(true, regs, dx);
		a[3] = (__u32)VG_READ(true, regs, si);
		a[4] = (__u32)VG_READ(true, regs, di);
		a[5] = (__u32)VG_READ(true, regs, bp);
		return 0;
	}
	a[0] = VG_READ(true, regs, di);
	a[1] = VG_READ(true, regs, si);
	a[2] = VG_READ(true, regs, dx);
	a[3] = VG_READ(true, regs, r10);
	a[4] = VG_READ(true, regs, r8);
	a[5] = VG_READ(true, regs, r9);
	return 0;
#else
	return -1;
#endif
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
	return mnt__regs_args(regs, false, a);
}

static __always_inline int mnt__exit(struct syscall_trace_exit *ctx, __u32 op)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vg_mount *m = bpf_map_lookup_elem(&mnt_pend, &tid);
	unsigned long a[6];

	/* another call's (its sys_exit missed): not this one's record */
	if (m && m->op != op) {
		bpf_map_delete_elem(&mnt_pend, &tid);
		m = NULL;
	}
	if (m) {
		if (ret__restart(ctx->ret))
			m->mflags |= VG_MNT_NO_RESULT;
		else
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
	if (ret__restart(ctx->ret))
		m->mflags |= VG_MNT_NO_RESULT;
	else
		m->result = ctx->ret;
	rb__output(m, sizeof(*m), VG_EV_MOUNT);
	return 0;
}

/* the loader attaches every sys_enter program last (attach_all), so no
 * call is marked by an attached sys_enter while its sys_exit is not
 * attached yet */
#define VG_MNT_HOOKS(sys, enter_name, exit_name, op)                                               \
	SEC("tracepoint/syscalls/sys_exit_" #sys)                                                  \
	int exit_name(struct syscall_trace_exit *ctx)                                              \
	{                                                                                          \
		return mnt__exit(ctx, op);                                                         \
	}                                                                                          \
	SEC("tracepoint/syscalls/sys_enter_" #sys)                                                 \
	int enter_name(struct syscall_trace_enter *ctx)                                            \
	{                                                                                          \
		return mnt__enter(ctx, op);                                                        \
	}

VG_MNT_HOOKS(mount, vg_mount_in, vg_mount_out, VG_MNT_MOUNT)
VG_MNT_HOOKS(umount, vg_umount_in, vg_umount_out, VG_MNT_UMOUNT)
VG_MNT_HOOKS(fsopen, vg_fsopen_in, vg_fsopen_out, VG_MNT_FSOPEN)
VG_MNT_HOOKS(fsmount, vg_fsmount_in, vg_fsmount_out, VG_MNT_FSMOUNT)
VG_MNT_HOOKS(move_mount, vg_mvmount_in, vg_mvmount_out, VG_MNT_MOVE_MOUNT)
VG_MNT_HOOKS(open_tree, vg_otree_in, vg_otree_out, VG_MNT_OPEN_TREE)
VG_MNT_HOOKS(fspick, vg_fspick_in, vg_fspick_out, VG_MNT_FSPICK)
VG_MNT_HOOKS(mount_setattr, vg_msetattr_in, vg_msetattr_out, VG_MNT_SETATTR)
VG_MNT_HOOKS(open_tree_attr, vg_otattr_in, vg_otattr_out, VG_MNT_OPEN_TREE_ATTR)

/*
 * ---- the default hook: the capability check, no syscall tracepoint ----
 *
 * An enabled syscall tracepoint puts every task of the host on the slow
 * syscall path, so by default the mount family is seen where each of its
 * syscalls checks CAP_SYS_ADMIN (may_mount() or its equivalent, before
 * anything is done): the capability:cap_capable tracepoint, which fires on
 * capability checks only.  The syscall and its arguments come from the
 * task's saved user registers, for 64-bit and 32-bit (ia32) calls alike, so
 * the record is the one sys_enter would have built.  The operation has not
 * run yet: the record carries VG_MNT_NO_RESULT, unless the check itself
 * failed (then the syscall fails with EPERM, and says so).  Attempts that
 * never reach the check (refused by seccomp) are not seen here.
 *
 * One syscall may check the capability more than once (mount: may_mount(),
 * then the filesystem's mount_capable()): a check repeating the previous
 * one of the same thread (same syscall, same first four argument registers,
 * same strings read from them) within VG_MNT_DUP_NS is taken as the same
 * call and skipped; the cost is that identical calls repeated that fast by
 * one thread are reported once.
 */
#define VG_CAP_SYS_ADMIN 21
#define VG_TS_COMPAT 0x0002 /* thread_info.status: an ia32 syscall is running */
#define VG_MNT_DUP_NS (50ull * 1000 * 1000)
#define VG_X32_BIT 0x40000000ul

/* set by the loader when the syscall tracepoints see native calls */
const volatile __u32 vg_mnt_cap_compat_only = 0;

struct vg_mnt_last {
	__u64 ts;
	__u64 nr;
	__u64 a[4];
	__u64 sum; /* mnt__sum of the strings read */
};

/*
 * The strings' fingerprint (FNV-1a over the zero-padded fields, a word at
 * a time): the second check of one call reads what the first did, while a
 * new call that reuses the same buffers, rewritten, reads something else
 * and is not taken for the first (its pointers alone are the same).  Four
 * lanes of every fourth word, folded at the end: one chain of 68
 * multiplications waits ~3 cycles on each, four chains overlap.
 */
#define VG_MNT_SUM_WORDS ((2 * VG_PATH_MAX + VG_FSTYPE_MAX) / 8)
#define VG_FNV_PRIME 0x100000001b3ULL

static __always_inline __u64 mnt__sum(const struct vg_mount *m)
{
	const __u64 *w = (const __u64 *)m->source;
	__u64 h0 = 0xcbf29ce484222325ULL, h1 = h0, h2 = h0, h3 = h0;

	_Static_assert(VG_MNT_SUM_WORDS % 4 == 0, "the lanes take four words a step");
	for (int i = 0; i < VG_MNT_SUM_WORDS; i += 4) {
		h0 = (h0 ^ w[i]) * VG_FNV_PRIME;
		h1 = (h1 ^ w[i + 1]) * VG_FNV_PRIME;
		h2 = (h2 ^ w[i + 2]) * VG_FNV_PRIME;
		h3 = (h3 ^ w[i + 3]) * VG_FNV_PRIME;
	}
	return (((h0 * VG_FNV_PRIME) ^ h1) * VG_FNV_PRIME ^ h2) * VG_FNV_PRIME ^ h3;
}

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct vg_mnt_last);
} mnt_last SEC(".maps");

/* syscall number -> operation; numbers from the 428 block are the same for
 * both ABIs */
static __always_inline __u32 mnt__op_of(unsigned long nr, bool compat)
{
	switch (nr) {
	case 428:
		return VG_MNT_OPEN_TREE;
	case 429:
		return VG_MNT_MOVE_MOUNT;
	case 430:
		return VG_MNT_FSOPEN;
	case 432:
		return VG_MNT_FSMOUNT;
	case 433:
		return VG_MNT_FSPICK;
	case 442:
		return VG_MNT_SETATTR;
	case 467: /* 6.15 */
		return VG_MNT_OPEN_TREE_ATTR;
	}
	if (compat) {
		if (nr == 21)
			return VG_MNT_MOUNT;
		if (nr == 22 || nr == 52) /* umount(name), umount2(name, flags) */
			return VG_MNT_UMOUNT;
		return 0;
	}
	if (nr == 165)
		return VG_MNT_MOUNT;
	if (nr == 166)
		return VG_MNT_UMOUNT;
	return 0;
}

/*
 * The task's saved user registers.  bpf_task_pt_regs() is a helper call,
 * ~25 ns here, on every CAP_SYS_ADMIN check.  With ut, the same address is
 * computed from the stack page (task_pt_regs(): the top of the THREAD_SIZE
 * stack less TOP_OF_KERNEL_STACK_PADDING, 16 KiB and 0 on x86-64 without
 * KASAN or FRED) and loaded from through an untrusted pointer, no call.
 * The guess is checked against the helper once; a kernel where it is wrong
 * keeps the helper (vg_regs_guess: 0 unchecked, 1 right, 2 wrong).
 */
#define VG_THREAD_SIZE (16ul << 10)

__u32 vg_regs_guess;

static __always_inline struct pt_regs *cap__regs(struct task_struct *task, bool ut)
{
	unsigned long guess;
	struct pt_regs *regs;

	if (!ut || vg_regs_guess == 2)
		return (struct pt_regs *)bpf_task_pt_regs(task);
	guess = (unsigned long)task->stack + VG_THREAD_SIZE - bpf_core_type_size(struct pt_regs);
	if (vg_regs_guess == 1)
		return VG_UNTRUSTED(struct pt_regs, (void *)guess);
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	vg_regs_guess = (unsigned long)regs == guess ? 1 : 2;
	return regs;
}

static __always_inline int mnt__cap(int cap, int ret, bool ut)
{
	struct task_struct *task;
	struct pt_regs *regs;
	struct vg_mnt_last *last, now = {};
	bool same;
	unsigned long a[6], nr;
	struct vg_mount *m;
	__u32 tid, op;
	bool compat;

	if (cap != VG_CAP_SYS_ADMIN)
		return 0;
#if defined(__TARGET_ARCH_x86)
	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs))
		return 0;
	/*
	 * This runs on every CAP_SYS_ADMIN check (about 11 per fork+exec+exit,
	 * mostly memory accounting), so the common case leaves after the
	 * fewest loads (direct BTF loads, VG_READ): the saved syscall number,
	 * matched against the numbers of both ABIs, before anything else.  A
	 * kernel thread's pt_regs area is there too, just not a syscall's.
	 */
	task = bpf_get_current_task_btf();
	regs = cap__regs(task, ut);
	if (!regs)
		return 0;
	nr = VG_READ(true, regs, orig_ax) & ~VG_X32_BIT;
	if (!mnt__op_of(nr, false) && !mnt__op_of(nr, true))
		return 0;
	if (VG_READ(true, task, flags) & 0x00200000 /* PF_KTHREAD: no user regs */)
		return 0;
	compat = VG_READ(true, task, thread_info.status) & VG_TS_COMPAT;
	if (vg_mnt_cap_compat_only && !compat)
		return 0;
	op = mnt__op_of(nr, compat);
	if (!op)
		return 0;
	if (mnt__regs_args(regs, compat, a))
		return 0;
	if (compat && nr == 22)
		a[1] = 0; /* the old umount has no flags */

	/* the header's clock read is the check's time: one read, not two */
	m = mnt__hdr(ut);
	if (!m)
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	now.ts = m->hdr.ts_ns;
	now.nr = nr;
	__builtin_memcpy(now.a, a, sizeof(now.a));
	last = bpf_map_lookup_elem(&mnt_last, &tid);
	same = last && last->nr == nr && last->a[0] == a[0] && last->a[1] == a[1] &&
	       last->a[2] == a[2] && last->a[3] == a[3] && now.ts - last->ts < VG_MNT_DUP_NS;

	if (filter__match(&m->hdr)) {
		/* filtered (the host): counted once per call, content unread */
		if (!same)
			stat__add(VG_STAT_FILTERED + VG_EV_MOUNT);
		bpf_map_update_elem(&mnt_last, &tid, &now, BPF_ANY);
		return 0;
	}
	mnt__collect(m, op, a);
	now.sum = mnt__sum(m);
	if (same && last->sum == now.sum)
		return 0;
	bpf_map_update_elem(&mnt_last, &tid, &now, BPF_ANY);
	m->mflags |= ret ? 0 : VG_MNT_NO_RESULT;
	m->result = ret < 0 ? ret : ret ? -1 /* EPERM */ : 0;
	rb__output(m, sizeof(*m), VG_EV_MOUNT);
#endif
	return 0;
}

SEC("tp_btf/cap_capable")
int BPF_PROG(vg_cap_btf, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	return mnt__cap(cap, ret, false);
}

/* the same, the registers found without a helper call (cap__regs) */
SEC("tp_btf/cap_capable")
int BPF_PROG(vg_cap_ut, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	return mnt__cap(cap, ret, true);
}

SEC("tracepoint/capability/cap_capable")
int vg_cap_tp(struct trace_event_raw_cap_capable *ctx)
{
	return mnt__cap(ctx->cap, ctx->ret, false);
}
