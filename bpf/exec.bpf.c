// SPDX-License-Identifier: GPL-2.0
/*
 * exec: sched_process_exec, which fires for every ABI and for execveat.
 * The record (filename + argv) is built in per-CPU scratch, then only
 * hdr.size bytes are copied out with bpf_ringbuf_output: most records are a
 * few hundred bytes, and reserving the 2.4 KiB maximum for each would fill
 * the ring buffer (and drop records) ten times sooner, for the price of one
 * extra copy of what is actually used.
 */

/*
 * The memfd_create(2) dentry name prefix "memfd:", as the low six bytes of
 * a little-endian word (BPF targets here are little-endian).
 */
#define VG_MEMFD_PREFIX_LEN 6
#define VG_MEMFD_PREFIX_MASK 0xffffffffffffULL
#define VG_MEMFD_PREFIX_WORD 0x3a64666d656dULL

static __always_inline __u32 exec__exe_flags(struct mm_struct *mm, bool btf)
{
	struct file *exe = mm ? VG_READ(btf, mm, exe_file) : NULL;
	const unsigned char *name, *in = NULL;
	struct dentry *d;
	__u32 flags = 0;
	__u64 w = 0;

	if (!exe)
		return 0;
	if (VG_READ(btf, exe, f_inode, i_nlink) == 0)
		flags |= VG_EXEC_EXE_DELETED;
	d = VG_READ(btf, exe, f_path.dentry);
	name = d ? VG_READ(btf, d, d_name.name) : NULL;
	if (!name)
		return flags;
	/* a short name is loaded from the dentry itself, a long one probe-read */
	if (btf)
		in = dentry__inline_name(d, name);
	if (in) {
		/* the inline buffer is word aligned and 40 bytes long */
		w = *(const __u64 *)in;
	} else {
		if (bpf_probe_read_kernel(&w, VG_MEMFD_PREFIX_LEN, name))
			return flags;
		/* keeps clang from merging the two loads of w into one */
		barrier_var(w);
	}
	/* the prefix has no NUL: a shorter name cannot match */
	if ((w & VG_MEMFD_PREFIX_MASK) == VG_MEMFD_PREFIX_WORD)
		flags |= VG_EXEC_EXE_MEMFD;
	return flags;
}

/*
 * fname: kernel string with the path the exec was asked for; argc from the
 * bprm (tp_btf) or 0 when the hook does not know it (classic tracepoint: the
 * agent counts the arguments kept).  btf: task is BTF-typed (see VG_READ).
 */
static __always_inline int exec__emit(struct task_struct *task, const char *fname, __u32 argc,
				      bool btf)
{
	union vg_scratch *s = scratch__get(VG_SCRATCH_EXEC);
	unsigned long arg_start, arg_end, alen;
	struct mm_struct *mm;
	struct vg_exec *e;
	__u32 size;
	long flen;
	char last;

	if (!s)
		return 0;
	e = &s->exec;
	if (hdr__fill_drop(&e->hdr, task, VG_EV_EXEC, 0, btf))
		return 0;
	e->argc = argc;
	e->eflags = 0;
	e->pad = 0;

	flen = bpf_probe_read_kernel_str(e->data, VG_PATH_MAX, fname);
	if (flen <= 0) {
		e->data[0] = '\0';
		flen = 1;
	} else if (flen == VG_PATH_MAX) {
		/* full buffer: cut unless the source's NUL sits at the last byte */
		if (bpf_probe_read_kernel(&last, 1, fname + VG_PATH_MAX - 1) || last)
			e->eflags |= VG_EXEC_FILENAME_TRUNC;
	}
	/* read_str returns at most VG_PATH_MAX: this only informs the verifier */
	if (flen > VG_PATH_MAX)
		flen = VG_PATH_MAX;
	e->filename_len = flen;

	mm = VG_READ(btf, task, mm);
	e->eflags |= exec__exe_flags(mm, btf);
	arg_start = mm ? VG_READ(btf, mm, arg_start) : 0;
	arg_end = mm ? VG_READ(btf, mm, arg_end) : 0;
	alen = arg_end > arg_start ? arg_end - arg_start : 0;
	if (alen > VG_EXEC_ARGS_MAX) {
		alen = VG_EXEC_ARGS_MAX;
		e->eflags |= VG_EXEC_ARGS_TRUNC;
	}
	/* one bounded copy of the whole NUL-separated argv block: no loop */
	barrier_var(alen);
	if (alen > VG_EXEC_ARGS_MAX)
		alen = VG_EXEC_ARGS_MAX;
	if (alen && bpf_probe_read_user(e->data + flen, alen, (void *)arg_start)) {
		alen = 0;
		e->eflags |= VG_EXEC_ARGS_TRUNC;
	}
	/* a cut last argument still ends in NUL, as the ABI promises */
	if (alen && (e->eflags & VG_EXEC_ARGS_TRUNC)) {
		__u32 at = flen + alen - 1;

		if (at < sizeof(e->data))
			e->data[at] = '\0';
	}
	e->args_len = alen;

	size = offsetof(struct vg_exec, data) + flen + alen;
	e->hdr.size = size;
	barrier_var(size);
	if (size > sizeof(*e))
		size = sizeof(*e);
	rb__output(e, size, VG_EV_EXEC);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vg_exec_btf, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return exec__emit(task, bprm->filename, bprm->argc, true);
}

SEC("tracepoint/sched/sched_process_exec")
int vg_exec_tp(struct trace_event_raw_sched_process_exec *ctx)
{
	/* __data_loc: low 16 bits are the offset from the record's start */
	__u32 off = ctx->__data_loc_filename & 0xFFFF;

	return exec__emit((void *)bpf_get_current_task(), (const char *)ctx + off, 0, false);
}
