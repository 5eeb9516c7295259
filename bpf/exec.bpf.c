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
 * The executable's path as the process sees it (d_path() to its root):
 * what the exec resolved to, whatever was asked for.  bprm->filename is
 * the string passed to execve, unresolved: "./x" run in /tmp, "//tmp/x",
 * "/dev/fd/3/x" (execveat), a symlink to /tmp/x, and a script (whose
 * process runs its interpreter) all name something else.  Tetragon and
 * Falco report the resolved path for the same reason.
 *
 * From the file's dentry up: one name per step, a step without a name
 * where a mount's root leads to where it is mounted; done at the task's
 * root or the root of its mount namespace.  A dentry that is its own
 * parent elsewhere (a memfd, an internal mount), a path deeper than
 * VG_EXE_STEPS steps or longer than VG_PATH_MAX is unknown (0).  Built
 * right to left in scratch, one probe read per name, then copied to out.
 *
 * Through untrusted pointers (bpf_rdonly_cast): struct mount is reached
 * from the vfsmount inside it by subtraction, which only a cast allows,
 * and no load pays the verifier's trusted-field lookup.  So only the
 * vg_exec_ut program has this; the others send no path.
 */
#define VG_EXE_STEPS 24 /* names plus mount crossings: /usr/local/bin/x is 4 */

static __always_inline __u64 exe__path(struct file *exe_file, struct task_struct *task,
				       struct vg_exec_scratch *x, char *out)
{
	struct file *f = VG_UNTRUSTED(struct file, exe_file);
	struct task_struct *t = VG_UNTRUSTED(struct task_struct, task);
	unsigned long vfs = (unsigned long)f->f_path.mnt;
	struct mount *m = VG_UNTRUSTED(struct mount,
				       (void *)(vfs - bpf_core_field_offset(struct mount, mnt)));
	struct dentry *d = f->f_path.dentry, *root_d = t->fs->root.dentry;
	unsigned long root_vfs = (unsigned long)t->fs->root.mnt;
	/* 64-bit: a 32-bit one is checked in a zero-extended copy, and the
	 * verifier does not carry the bound back to the register used */
	__u64 pos, len;
	char *tmp = x->path;

	/*
	 * pos lives in scratch between steps: reloaded, it has the same bounds
	 * after any number of names, and the verifier prunes the paths that
	 * meet at the next step (a name kept, a mount crossed) instead of
	 * following each to the end: a fraction of the verification time.
	 */
	tmp[VG_PATH_MAX - 1] = '\0';
	*(volatile __u64 *)&x->pos = VG_PATH_MAX - 1;
	for (int i = 0; i < VG_EXE_STEPS; i++) {
		struct dentry *up;
		struct mount *p;

		if (!d || !m)
			return 0;
		if (d == root_d && vfs == root_vfs)
			goto done;
		if (d == m->mnt.mnt_root) {
			p = m->mnt_parent;
			if (!p || p == m)
				goto ns_root;
			d = m->mnt_mountpoint;
			m = p;
			vfs = (unsigned long)&p->mnt;
			continue;
		}
		up = d->d_parent;
		if (!up || up == d)
			return 0; /* not below any root: no path */
		len = d->d_name.len;
		pos = *(volatile __u64 *)&x->pos;
		/* the name and its '/' go before pos, which stays above 0;
		 * the bounds are restated for the verifier */
		if (len > VG_PATH_MAX - 2 || pos >= VG_PATH_MAX || len + 1 >= pos)
			return 0;
		pos -= len + 1;
		if (pos >= VG_PATH_MAX)
			return 0;
		if (bpf_probe_read_kernel(tmp + pos + 1, len, d->d_name.name))
			return 0;
		tmp[pos] = '/';
		*(volatile __u64 *)&x->pos = pos;
		d = up;
	}
	return 0;
ns_root:
	pos = *(volatile __u64 *)&x->pos;
	/*
	 * The namespace's root, not passed through the task's: the path seen
	 * from the namespace (a chroot's file), but nothing at all for the
	 * root of a detached mount (a file bind-mounted on its own, as runc
	 * does with its binary), which would read as "/".
	 */
	if (pos == VG_PATH_MAX - 1)
		return 0;
done:
	pos = *(volatile __u64 *)&x->pos;
	if (pos >= VG_PATH_MAX)
		return 0;
	if (pos == VG_PATH_MAX - 1) {
		/* the root itself */
		out[0] = '/';
		out[1] = '\0';
		return 2;
	}
	len = VG_PATH_MAX - pos;
	/* clang knows len < VG_PATH_MAX from pos; the verifier must see it */
	barrier_var(len);
	if (len > VG_PATH_MAX - 1 || bpf_probe_read_kernel(out, len, tmp + pos))
		return 0;
	return len;
}

/*
 * fname: kernel string with the path the exec was asked for; argc from the
 * bprm (tp_btf) or 0 when the hook does not know it (classic tracepoint: the
 * agent counts the arguments kept).  btf: task is BTF-typed (see VG_READ).
 */
static __always_inline int exec__emit(struct task_struct *task, const char *fname, __u32 argc,
				      bool btf, bool path)
{
	union vg_scratch *s = scratch__get(VG_SCRATCH_EXEC);
	unsigned long arg_start, arg_end, alen;
	struct mm_struct *mm;
	struct file *exe;
	struct vg_exec *e;
	__u64 elen = 0, aoff;
	__u32 size;
	long flen;
	char last;

	if (!s)
		return 0;
	e = &s->ex.exec;
	if (hdr__fill_drop(&e->hdr, task, VG_EV_EXEC, 0, btf))
		return 0;
	e->argc = argc;
	e->eflags = 0;
	e->exe_len = 0;
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
	exe = path && mm ? mm->exe_file : NULL;
	if (exe)
		elen = exe__path(exe, task, &s->ex, e->data + flen);
	/* exe__path returns less than VG_PATH_MAX: this only informs the verifier */
	barrier_var(elen);
	if (elen > VG_PATH_MAX)
		elen = 0;
	e->exe_len = elen;
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
	aoff = flen + elen;
	if (alen && bpf_probe_read_user(e->data + aoff, alen, (void *)arg_start)) {
		alen = 0;
		e->eflags |= VG_EXEC_ARGS_TRUNC;
	}
	/* a cut last argument still ends in NUL, as the ABI promises */
	if (alen && (e->eflags & VG_EXEC_ARGS_TRUNC)) {
		__u32 at = aoff + alen - 1;

		if (at < sizeof(e->data))
			e->data[at] = '\0';
	}
	e->args_len = alen;

	size = offsetof(struct vg_exec, data) + aoff + alen;
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
	return exec__emit(task, bprm->filename, bprm->argc, true, false);
}

/* the same with the executable's resolved path, where bpf_rdonly_cast() is */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(vg_exec_ut, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return exec__emit(task, bprm->filename, bprm->argc, true, true);
}

SEC("tracepoint/sched/sched_process_exec")
int vg_exec_tp(struct trace_event_raw_sched_process_exec *ctx)
{
	/* __data_loc: low 16 bits are the offset from the record's start */
	__u32 off = ctx->__data_loc_filename & 0xFFFF;

	return exec__emit((void *)bpf_get_current_task(), (const char *)ctx + off, 0, false, false);
}
