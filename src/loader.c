// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loader: the BPF skeleton's lifecycle.
 *
 * open -> choose variants -> size the ring buffer -> load -> attach.
 *
 * Variants: exec, fork, exit and oom each have a tp_btf program and a
 * fallback (classic tracepoint; raw tracepoint for fork).  Each tp_btf hook
 * is probed with a two-instruction program loaded and attached against the
 * same tracepoint; the loser's autoload is turned off.  If the real load
 * still fails with tp_btf chosen, the whole object is reopened once with
 * every fallback.
 *
 * Syscall tracepoints: any enabled one flags every task for the slow
 * syscall path, a tax on every syscall of the host.  By default none is
 * attached: connect comes from the cgroup hooks alone (no result) and the
 * mount family from the capability:cap_capable tracepoint (tp_btf, or the
 * classic one), where each of its syscalls checks CAP_SYS_ADMIN.  With
 * syscall_results the tracepoints of connect and of the mount family are
 * attached too (results, seccomp-refused attempts), and the capability
 * hook keeps only the 32-bit calls that syscall tracepoints miss.  Where
 * the capability hook is not available (kernels before 6.14, or neither
 * variant loads) the default mode falls back to the mount tracepoints and
 * says so in the description: mount is never silently unwatched.  BPF LSM
 * programs would see mounts too, but they need BPF trampolines, which this
 * kind of host (like fentry) refuses.  Syscall tracepoints need tracefs: it
 * is mounted when missing,
 * and those programs are left out (with a note in the description) when it
 * cannot be.  The connect hooks attach to the cgroup v2 root as links, like
 * everything else: nothing is pinned.
 *
 * RLIMIT_MEMLOCK is left alone: libbpf 1.x raises it only on kernels that
 * still charge BPF memory to it (before 5.11); newer ones use memcg.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "vigil/event.h" /* before the skeleton: it embeds struct vg_filter */
#include "vigil/loader.h"
#include "vigil.skel.h"

#define VG_TRACEFS "/sys/kernel/tracing"
#define VG_DEBUGFS_TRACING "/sys/kernel/debug/tracing"
#define VG_BTF_VMLINUX "/sys/kernel/btf/vmlinux"
#define VG_MAX_LINKS 64

#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

struct vg_loader {
	struct vigil_bpf *skel;
	struct bpf_link *links[VG_MAX_LINKS];
	unsigned nlinks;
	struct ring_buffer *rb;
	ring_buffer_sample_fn fn; /* the current vg_loader_poll caller's */
	void *fn_ctx;
	unsigned max;	/* its bound on records (0: none) */
	uint64_t taken; /* and the records it took so far */
	int cgroup_fd;
	int cgroup_attach_err; /* -errno when a connect hook did not attach */
	bool mounted_tracefs;
	bool cap_attach_failed; /* a capability program loaded but did not attach */
	bool ut;		/* load the *_ut programs (untrusted task loads) */
	/* the ring buffer's consumer and producer pages, read-only, for
	 * vg_loader_park (NULL: no parking) */
	const char *rb_pos;
	size_t page;
	__u32 park_gen; /* the last value given to vg_agent_parked */
	struct vg_loader_info info;
	char desc[384];
};

/* The reason for the last failure of vg_loader_open, for vg_loader_strerror. */
static char last_err[256];

static bool verbose_log;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!verbose_log)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void set_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
}

/* ---- host facts ---- */

int vg_loader_cap_eff(uint64_t *caps)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "CapEff:", 7) == 0) {
			*caps = strtoull(line + 7, NULL, 16);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static bool has_cap(uint64_t caps, int cap)
{
	return caps & (1ULL << cap);
}

/* CAP_BPF 39, CAP_PERFMON 38, CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21 */
bool vg_loader_caps_enough(uint64_t c)
{
	if (has_cap(c, 21))
		return true;
	return has_cap(c, 39) && has_cap(c, 38);
}

/* The connect hooks are networking programs: CAP_NET_ADMIN or CAP_SYS_ADMIN */
static bool net_capable(void)
{
	uint64_t c = 0;

	if (vg_loader_cap_eff(&c))
		return true;
	return has_cap(c, 12) || has_cap(c, 21);
}

static bool caps_enough(void)
{
	uint64_t c = 0;

	if (vg_loader_cap_eff(&c))
		return true; /* cannot tell: let the kernel decide */
	return vg_loader_caps_enough(c);
}

/* "none [integrity] confidentiality" -> the bracketed word, or NULL */
const char *vg_loader_lockdown(char *buf, size_t n)
{
	FILE *f = fopen("/sys/kernel/security/lockdown", "re");
	char line[128], *a, *b;

	if (!f)
		return NULL;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	a = strchr(line, '[');
	b = a ? strchr(a, ']') : NULL;
	if (!a || !b)
		return NULL;
	*b = '\0';
	snprintf(buf, n, "%s", a + 1);
	return buf;
}

const char *vg_loader_mode_word(const struct vg_loader_info *i)
{
	if (i->syscall_results)
		return "syscall-results";
	switch (i->mount_hook) {
	case VG_MOUNT_HOOK_CAP:
		return "cap";
	case VG_MOUNT_HOOK_TRACEPOINT:
		return "tp-fallback";
	case VG_MOUNT_HOOK_NONE:
		break;
	}
	return "no-mount";
}

static bool is_tracefs(const char *dir)
{
	char p[128];
	struct statfs sf;

	snprintf(p, sizeof(p), "%s/events", dir);
	return access(p, F_OK) == 0 && statfs(dir, &sf) == 0;
}

const char *vg_loader_tracefs(bool do_mount, bool *mounted)
{
	if (mounted)
		*mounted = false;
	/* libbpf prefers the debugfs path when it exists, so check it first */
	if (access(VG_DEBUGFS_TRACING, F_OK) == 0 && is_tracefs(VG_DEBUGFS_TRACING))
		return VG_DEBUGFS_TRACING;
	if (is_tracefs(VG_TRACEFS))
		return VG_TRACEFS;
	if (!do_mount)
		return NULL;
	if (mount("tracefs", VG_TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return NULL;
	if (mounted)
		*mounted = true;
	return is_tracefs(VG_TRACEFS) ? VG_TRACEFS : NULL;
}

/*
 * mountinfo: "id parent maj:min root mountpoint opts [optional...] - fstype
 * source superopts".  A cgroup2 mount whose root is "/" is the hierarchy's
 * root (inside a cgroup namespace the root shown is the namespace's).
 */
const char *vg_loader_cgroup2_root(char *buf, size_t n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024], root[512], mnt[512];
	bool found = false;

	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - ");

		if (!dash || strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2)
			continue;
		snprintf(buf, n, "%s", mnt);
		found = strcmp(root, "/") == 0;
	}
	fclose(f);
	return buf[0] ? buf : NULL;
}

/* ---- probes ---- */

/*
 * vmlinux BTF for the probes' type lookups, parsed once (5-12 ms a parse
 * here, and one start probes half a dozen hooks) and dropped when
 * vg_loader_open is done with it.
 */
static struct btf *probe_btf;

static struct btf *vmlinux_btf(void)
{
	if (!probe_btf)
		probe_btf = btf__load_vmlinux_btf();
	return probe_btf;
}

static void vmlinux_btf_drop(void)
{
	btf__free(probe_btf);
	probe_btf = NULL;
}

static int load_tiny(enum bpf_prog_type type, enum bpf_attach_type eat, __u32 btf_id, int ret)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret},
		{.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = eat, .attach_btf_id = btf_id);
	int fd = bpf_prog_load(type, "vg_probe", "GPL", insns, 2, &o);

	return fd < 0 ? -errno : fd;
}

/* Attach prog fd (closed here) to raw tracepoint tp (NULL: its BTF target). */
static int attach_raw_and_close(const char *tp, int fd)
{
	int lfd = bpf_raw_tracepoint_open(tp, fd);

	lfd = lfd < 0 ? -errno : lfd;
	close(fd);
	if (lfd < 0)
		return lfd;
	close(lfd);
	return 0;
}

/* tp_btf on one tracepoint: load against btf_trace_<tp> and attach. */
static int probe_tp_btf(const char *tp)
{
	char name[128];
	struct btf *btf;
	int id, fd;

	btf = vmlinux_btf();
	if (!btf)
		return -errno ? -errno : -ENOENT;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return -ENOENT;
	fd = load_tiny(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, id, 0);
	if (fd < 0)
		return fd;
	return attach_raw_and_close(NULL, fd);
}

/*
 * Is the tracepoint's first argument a struct task_struct pointer?  Its
 * btf_trace_<tp> typedef points to the prototype (void *ctx, args...).
 * oom:mark_victim passed an int pid on older kernels (now the task): a
 * tp_btf program written for the task would load there through an
 * untrusted cast and read a pid as a pointer.
 */
static bool tp_first_arg_task(const char *tp)
{
	struct btf *btf = vmlinux_btf();
	const struct btf_type *t;
	char name[128];
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf ? btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) : -ENOENT;
	if (id < 0)
		return false;
	t = btf__type_by_id(btf, btf__resolve_type(btf, (__u32)id));
	if (!t || !btf_is_ptr(t))
		return false;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 2)
		return false;
	t = btf__type_by_id(btf, btf__resolve_type(btf, btf_params(t)[1].type));
	if (!t || !btf_is_ptr(t))
		return false;
	t = btf__type_by_id(btf, btf__resolve_type(btf, t->type));
	return t && btf_is_struct(t) &&
	       !strcmp(btf__name_by_offset(btf, t->name_off), "task_struct");
}

static int probe_raw_tp(const char *tp)
{
	int fd = load_tiny(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0, 0);

	if (fd < 0)
		return fd;
	return attach_raw_and_close(tp, fd);
}

static int tracepoint_id(const char *tracefs, const char *cat, const char *name)
{
	char p[256], v[32];
	int fd, n;

	snprintf(p, sizeof(p), "%s/events/%s/%s/id", tracefs, cat, name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, v, sizeof(v) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	v[n] = '\0';
	return atoi(v);
}

/*
 * The kfunc bpf_rdonly_cast() (the *_ut programs, see bpf/common.bpf.h):
 * a cgroup connect4 program, the type of the connect hooks, casting NULL to
 * an untrusted task_struct.  Kernels without it (before 6.2), or that
 * refuse kfunc calls in these programs, fail the load.
 */
static int probe_untrusted(void)
{
	struct btf *btf = vmlinux_btf();
	int kf = btf ? btf__find_by_name_kind(btf, "bpf_rdonly_cast", BTF_KIND_FUNC) : -ENOENT;
	int task = btf ? btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT) : -ENOENT;
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 0},
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = task},
		{.code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_KFUNC_CALL, .imm = kf},
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
		{.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_CGROUP_INET4_CONNECT);
	int fd;

	if (kf < 0 || task < 0)
		return -ENOENT;
	fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "vg_probe", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), &o);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int probe_tracepoint(void)
{
	struct perf_event_attr a = {.type = PERF_TYPE_TRACEPOINT, .size = sizeof(a)};
	const char *tfs = vg_loader_tracefs(false, NULL);
	int id, fd, pfd, err = 0;

	if (!tfs)
		return -ENOENT;
	id = tracepoint_id(tfs, "sched", "sched_process_exec");
	if (id < 0)
		return id;
	fd = load_tiny(BPF_PROG_TYPE_TRACEPOINT, 0, 0, 0);
	if (fd < 0)
		return fd;
	a.config = id;
	a.sample_period = 1;
	a.wakeup_events = 1;
	pfd = syscall(SYS_perf_event_open, &a, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0) {
		err = -errno;
	} else {
		if (ioctl(pfd, PERF_EVENT_IOC_SET_BPF, fd))
			err = -errno;
		close(pfd);
	}
	close(fd);
	return err;
}

int vg_loader_probe(enum vg_probe what)
{
	int fd;

	switch (what) {
	case VG_PROBE_TP_BTF:
		return probe_tp_btf("sched_process_exec");
	case VG_PROBE_RAW_TP:
		return probe_raw_tp("sched_process_exec");
	case VG_PROBE_TRACEPOINT:
		return probe_tracepoint();
	case VG_PROBE_UNTRUSTED:
		return probe_untrusted();
	case VG_PROBE_CGROUP_SOCK:
		fd = load_tiny(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, 0, 1);
		if (fd < 0)
			return fd;
		close(fd);
		return 0;
	case VG_PROBE_RINGBUF:
		fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "vg_probe", 0, 0, 1 << 16, NULL);
		if (fd < 0)
			return -errno;
		close(fd);
		return 0;
	case VG_PROBE_CAPABILITY: {
#if defined(__x86_64__)
		const char *tfs = vg_loader_tracefs(false, NULL);

		if (probe_tp_btf("cap_capable") == 0)
			return 0;
		return tfs && tracepoint_id(tfs, "capability", "cap_capable") >= 0 ? 0 : -ENOENT;
#else
		return -EOPNOTSUPP;
#endif
	}
	}
	return -EINVAL;
}

/* ---- variants ---- */

struct vg_hook_pair {
	const char *tp; /* tracepoint name for the tp_btf probe */
	struct bpf_program *btf, *alt;
	/* the tp_btf programs take the task as first argument: only where the
	 * tracepoint passes it (tp_first_arg_task) */
	bool task_arg;
	bool alt_needs_tracefs;
	/*
	 * The tp_btf variant with untrusted task loads, or NULL.  Only where it
	 * pays at run time too: loads through a trusted pointer are plain loads,
	 * through an untrusted one fault-handled (PROBE_MEM), and under the exec
	 * storm exec, fork and exit cost ~0.5 us more per op that way (bpf_stats,
	 * alternating runs), for ~0.2 s less verification at start.  The rare
	 * OOM hook takes the quick verification.
	 */
	struct bpf_program *ut;
};

struct vg_sys_prog {
	struct bpf_program *prog;
	const char *event; /* under events/syscalls/ */
};

static unsigned hook_pairs(struct vigil_bpf *s, struct vg_hook_pair *p)
{
	p[0] = (struct vg_hook_pair){.tp = "sched_process_exec",
				     .btf = s->progs.vg_exec_btf,
				     .alt = s->progs.vg_exec_tp,
				     .alt_needs_tracefs = true,
				     .ut = s->progs.vg_exec_ut};
	p[1] = (struct vg_hook_pair){.tp = "sched_process_fork",
				     .btf = s->progs.vg_fork_btf,
				     .alt = s->progs.vg_fork_raw};
	p[2] = (struct vg_hook_pair){.tp = "sched_process_exit",
				     .btf = s->progs.vg_exit_btf,
				     .alt = s->progs.vg_exit_tp,
				     .alt_needs_tracefs = true};
	p[3] = (struct vg_hook_pair){.tp = "mark_victim",
				     .btf = s->progs.vg_oom_btf,
				     .alt = s->progs.vg_oom_tp,
				     .task_arg = true,
				     .alt_needs_tracefs = true,
				     .ut = s->progs.vg_oom_ut};
	return 4;
}

static unsigned sys_progs(struct vigil_bpf *s, struct vg_sys_prog *p)
{
	unsigned n = 0;

#define VG_SYS(prog, ev) p[n++] = (struct vg_sys_prog){s->progs.prog, ev}
	VG_SYS(vg_conn_enter, "sys_enter_connect");
	VG_SYS(vg_conn_exit, "sys_exit_connect");
	VG_SYS(vg_mount_in, "sys_enter_mount");
	VG_SYS(vg_mount_out, "sys_exit_mount");
	VG_SYS(vg_umount_in, "sys_enter_umount");
	VG_SYS(vg_umount_out, "sys_exit_umount");
	VG_SYS(vg_fsopen_in, "sys_enter_fsopen");
	VG_SYS(vg_fsopen_out, "sys_exit_fsopen");
	VG_SYS(vg_fsmount_in, "sys_enter_fsmount");
	VG_SYS(vg_fsmount_out, "sys_exit_fsmount");
	VG_SYS(vg_mvmount_in, "sys_enter_move_mount");
	VG_SYS(vg_mvmount_out, "sys_exit_move_mount");
	VG_SYS(vg_otree_in, "sys_enter_open_tree");
	VG_SYS(vg_otree_out, "sys_exit_open_tree");
	VG_SYS(vg_fspick_in, "sys_enter_fspick");
	VG_SYS(vg_fspick_out, "sys_exit_fspick");
	VG_SYS(vg_msetattr_in, "sys_enter_mount_setattr");
	VG_SYS(vg_msetattr_out, "sys_exit_mount_setattr");
	VG_SYS(vg_otattr_in, "sys_enter_open_tree_attr");
	VG_SYS(vg_otattr_out, "sys_exit_open_tree_attr");
#undef VG_SYS
	return n;
}

static size_t ringbuf_size(size_t want)
{
	size_t sz = VG_LOADER_RINGBUF_MIN, page = sysconf(_SC_PAGESIZE);

	if (!want)
		want = VG_LOADER_RINGBUF_DEFAULT;
	if (sz < page)
		sz = page;
	/* a power of two, at most 1 GiB */
	while (sz < want && sz < VG_LOADER_RINGBUF_MAX)
		sz <<= 1;
	return sz;
}

static uint32_t ns_inode(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint32_t)st.st_ino : 0;
}

/* Open the skeleton and pick variants; classic forces every fallback. */
/*
 * The capability hook's variant (tp_btf or classic), or none; only where
 * the hook can read the syscall from the user registers (x86).
 */
static bool setup_cap(struct vg_loader *l, bool classic, const char *tracefs, bool want)
{
	struct vigil_bpf *s = l->skel;
	bool btf = false, tp = false;

#if defined(__x86_64__)
	btf = want && !classic && probe_tp_btf("cap_capable") == 0;
	tp = want && !btf && tracefs && tracepoint_id(tracefs, "capability", "cap_capable") >= 0;
#endif
	bpf_program__set_autoload(s->progs.vg_cap_btf, btf && !l->ut);
	bpf_program__set_autoload(s->progs.vg_cap_ut, btf && l->ut);
	bpf_program__set_autoload(s->progs.vg_cap_tp, tp);
	return btf || tp;
}

static int setup(struct vg_loader *l, const struct vg_loader_opts *o, bool classic,
		 const char *tracefs, bool cgroup_ok, bool cap)
{
	struct vg_hook_pair hp[8];
	struct vg_sys_prog sp[32];
	unsigned i, n;
	size_t rbsz = ringbuf_size(o->ringbuf_bytes);
	long page = sysconf(_SC_PAGESIZE);
	const char *env;
	int pend_max, err;

	l->skel = vigil_bpf__open();
	if (!l->skel) {
		err = -errno;
		set_err("cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	err = bpf_map__set_max_entries(l->skel->maps.events, rbsz);
	if (err) {
		set_err("cannot size the ring buffer to %zu bytes: %s", rbsz, strerror(-err));
		return err;
	}
	l->info.ringbuf_bytes = rbsz;
	/* VIGIL_CONN_PEND_MAX=N: room for N connects in flight (tests) */
	env = getenv("VIGIL_CONN_PEND_MAX");
	pend_max = env ? atoi(env) : 0;
	if (pend_max > 0 &&
	    (err = bpf_map__set_max_entries(l->skel->maps.conn_pend, (__u32)pend_max))) {
		set_err("cannot size conn_pend to %d entries: %s", pend_max, strerror(-err));
		return err;
	}
	l->skel->rodata->vg_page_kb = page > 1024 ? page / 1024 : 4;
	/* the fill level is checked every 16 records per CPU where the ring
	 * has room for that between checks (common.bpf.h, rb__flags) */
	l->skel->rodata->vg_rb_query_mask = rbsz >= (1u << 20) ? 15 : 0;

	l->info.btf_hooks = l->info.fallback_hooks = 0;
	n = hook_pairs(l->skel, hp);
	for (i = 0; i < n; i++) {
		bool btf = !classic && probe_tp_btf(hp[i].tp) == 0 &&
			   (!hp[i].task_arg || tp_first_arg_task(hp[i].tp));
		bool alt = !btf && (!hp[i].alt_needs_tracefs || tracefs);
		bool ut = btf && l->ut && hp[i].ut;

		bpf_program__set_autoload(hp[i].btf, btf && !ut);
		bpf_program__set_autoload(hp[i].alt, alt);
		if (hp[i].ut)
			bpf_program__set_autoload(hp[i].ut, ut);
		if (btf)
			l->info.btf_hooks++;
		else if (alt)
			l->info.fallback_hooks++;
		else if (i == 0) {
			set_err("no exec hook: tp_btf does not load and tracefs is not available");
			return -EOPNOTSUPP;
		}
	}

	/* the mount tracepoints replace the capability hook for native calls */
	cap = setup_cap(l, classic, tracefs, cap);
	if (!cap && !o->syscall_results && !l->info.cap_note)
		l->info.cap_note = "the capability:cap_capable tracepoint is not available";
	l->info.syscall_results = o->syscall_results;
	l->info.connect_results = false;
	l->info.compat_mounts = cap;
	l->info.mount_hook = cap && !o->syscall_results ? VG_MOUNT_HOOK_CAP : VG_MOUNT_HOOK_NONE;
	n = sys_progs(l->skel, sp);
	for (i = 0; i < n; i++) {
		/* the first two bracket connect: useless without the cgroup hooks */
		bool want = i < 2 ? o->syscall_results && cgroup_ok
				  : l->info.mount_hook != VG_MOUNT_HOOK_CAP;
		bool on = want && tracefs && tracepoint_id(tracefs, "syscalls", sp[i].event) >= 0;

		bpf_program__set_autoload(sp[i].prog, on);
		if (on && i < 2)
			l->info.connect_results = true;
		else if (on)
			l->info.mount_hook = VG_MOUNT_HOOK_TRACEPOINT;
	}
	l->skel->rodata->vg_conn_results = l->info.connect_results;
	/* the capability hook leaves native calls to the mount tracepoints
	 * only where they are attached: asked for but not there (no tracefs,
	 * no syscall events), native mounts stay the hook's */
	if (cap && l->info.mount_hook == VG_MOUNT_HOOK_NONE)
		l->info.mount_hook = VG_MOUNT_HOOK_CAP;
	l->skel->rodata->vg_mnt_cap_compat_only = l->info.mount_hook == VG_MOUNT_HOOK_TRACEPOINT;
	l->info.tracefs = tracefs != NULL;
	/* each connect hook: probe reads, or direct loads where untrusted task
	 * loads are known */
	struct bpf_program *conn[][2] = {
		{l->skel->progs.vg_connect4, l->skel->progs.vg_connect4_ut},
		{l->skel->progs.vg_connect6, l->skel->progs.vg_connect6_ut},
		{l->skel->progs.vg_sendmsg4, l->skel->progs.vg_sendmsg4_ut},
		{l->skel->progs.vg_sendmsg6, l->skel->progs.vg_sendmsg6_ut},
	};
	for (i = 0; i < sizeof(conn) / sizeof(conn[0]); i++) {
		bpf_program__set_autoload(conn[i][0], cgroup_ok && !l->ut);
		bpf_program__set_autoload(conn[i][1], cgroup_ok && l->ut);
	}
	l->info.cgroup_hooks = cgroup_ok;
	return 0;
}

static int load_error(int err)
{
	if (err == -EPERM || err == -EACCES) {
		char lk[32];
		const char *state = vg_loader_lockdown(lk, sizeof(lk));

		if (!caps_enough())
			set_err("needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run as root or "
				"add "
				"the capabilities");
		else if (state && strcmp(state, "confidentiality") == 0)
			set_err("kernel lockdown (confidentiality) forbids BPF tracing: boot with "
				"lockdown=integrity or none");
		else
			set_err("the kernel refused to load the BPF programs (%s); run with "
				"--verbose "
				"for the verifier's log",
				strerror(-err));
	} else {
		set_err("cannot load the BPF programs: %s; run with --verbose for details",
			strerror(-err));
	}
	return err;
}

/* a syscall-entry tracepoint program: attached after every other one */
static bool sys_enter_prog(const struct bpf_program *p)
{
	return !strncmp(bpf_program__section_name(p), "tracepoint/syscalls/sys_enter_", 30);
}

/* Attach one program; a cgroup hook that cannot attach turns connect
 * events off (said in the description) and is not an error. */
static int attach_one(struct vg_loader *l, struct bpf_program *p)
{
	enum bpf_prog_type t = bpf_program__type(p);
	struct bpf_link *link;
	int err;

	if (l->nlinks >= VG_MAX_LINKS) {
		set_err("too many programs");
		return -E2BIG;
	}
	if (t == BPF_PROG_TYPE_CGROUP_SOCK_ADDR) {
		link = bpf_program__attach_cgroup(p, l->cgroup_fd);
		if (!link) {
			l->cgroup_attach_err = -errno;
			l->info.cgroup_hooks = false;
			return 0;
		}
	} else {
		link = bpf_program__attach(p);
	}
	if (!link && (p == l->skel->progs.vg_cap_btf || p == l->skel->progs.vg_cap_ut ||
		      p == l->skel->progs.vg_cap_tp))
		l->cap_attach_failed = true;
	if (!link) {
		err = -errno;
		set_err("cannot attach %s: %s", bpf_program__name(p), strerror(-err));
		return err;
	}
	l->links[l->nlinks++] = link;
	if (t == BPF_PROG_TYPE_TRACEPOINT &&
	    !strncmp(bpf_program__section_name(p), "tracepoint/syscalls/", 20))
		l->info.syscall_tps++;
	return 0;
}

/*
 * Attach every program to load, in two passes: the sys_enter programs of
 * connect and the mount family last.  A call that sys_enter marks (in
 * conn_pend, mnt_pend) then always meets its cgroup hook and its sys_exit;
 * marked while its sys_exit was not attached yet, its entry would stay
 * until that thread's next call.  The order programs come in is libbpf's
 * (the object's here; releases that sort them by section name put every
 * sys_enter before its sys_exit), so it is not relied on.
 */
static int attach_all(struct vg_loader *l)
{
	struct bpf_program *p;
	int err;

	for (int pass = 0; pass < 2; pass++) {
		bpf_object__for_each_program(p, l->skel->obj)
		{
			if (!bpf_program__autoload(p) || sys_enter_prog(p) != (pass == 1))
				continue;
			if ((err = attach_one(l, p)))
				return err;
		}
	}
	l->info.attached = l->nlinks;
	return 0;
}

static void describe(struct vg_loader *l)
{
	const struct vg_loader_info *i = &l->info;
	const char *mode = !i->fallback_hooks ? "tp_btf" : !i->btf_hooks ? "classic" : "mixed";
	size_t mib = i->ringbuf_bytes >> 20;
	int n;

	if (mib)
		n = snprintf(l->desc, sizeof(l->desc),
			     "%u programs attached (%s), ring buffer %zu MiB", i->attached, mode,
			     mib);
	else
		n = snprintf(l->desc, sizeof(l->desc),
			     "%u programs attached (%s), ring buffer %zu KiB", i->attached, mode,
			     i->ringbuf_bytes >> 10);
	if (n > 0 && (size_t)n < sizeof(l->desc)) {
		if (i->syscall_results)
			n += snprintf(l->desc + n, sizeof(l->desc) - n,
				      "; syscall results: %u syscall tracepoints (every syscall "
				      "on the host pays for them)",
				      i->syscall_tps);
		else if (i->mount_hook == VG_MOUNT_HOOK_CAP)
			n += snprintf(l->desc + n, sizeof(l->desc) - n,
				      "; mount at the capability check, no syscall tracepoint");
		else
			n += snprintf(l->desc + n, sizeof(l->desc) - n,
				      "; mount on %u syscall tracepoints (every syscall on the "
				      "host pays for them): %s",
				      i->syscall_tps,
				      i->cap_note ? i->cap_note : "no capability hook");
		/* syscall tracepoints never fire for compat syscalls: only the
		 * capability hook sees a mount through int $0x80, in either mode */
		if (!i->compat_mounts && (size_t)n < sizeof(l->desc))
			n += snprintf(l->desc + n, sizeof(l->desc) - n, "; 32-bit mounts unseen");
	}
	if (!i->tracefs && i->mount_hook != VG_MOUNT_HOOK_CAP && n > 0 &&
	    (size_t)n < sizeof(l->desc))
		n += snprintf(l->desc + n, sizeof(l->desc) - n,
			      "; no tracefs: mount events and connect results off");
	else if (!i->tracefs && i->syscall_results && n > 0 && (size_t)n < sizeof(l->desc))
		n += snprintf(l->desc + n, sizeof(l->desc) - n,
			      "; no tracefs: connect results off");
	if (!i->cgroup_hooks && n > 0 && (size_t)n < sizeof(l->desc))
		snprintf(l->desc + n, sizeof(l->desc) - n, "; %s: connect events off",
			 l->cgroup_fd < 0	? "no cgroup v2 root"
			 : l->cgroup_attach_err ? "connect hooks do not attach"
			 : net_capable()	? "connect hooks do not load"
						: "no CAP_NET_ADMIN");
}

/* A fresh skeleton set up for one step, then loaded; *setup_err when the
 * set-up itself failed (not a step to fall back from). */
static int load_step(struct vg_loader *l, const struct vg_loader_opts *o, bool classic,
		     const char *tracefs, bool cgroup_ok, bool cap, bool *setup_err)
{
	int err;

	vigil_bpf__destroy(l->skel);
	l->skel = NULL;
	err = setup(l, o, classic, tracefs, cgroup_ok, cap);
	*setup_err = err != 0;
	return err ? err : vigil_bpf__load(l->skel);
}

/*
 * Load, stepping down on failure: the probed variants; every fallback
 * (classic tracepoints); then both again without the connect hooks (older
 * kernels refuse task helpers in cgroup sock_addr programs).  Within a
 * step, a failure is retried without the untrusted-load programs, then
 * without the capability hook, for good.  The first error is the one
 * reported: later ones come from a reduced program set.
 */
static int load_ladder(struct vg_loader *l, const struct vg_loader_opts *o, bool classic,
		       const char *tracefs, bool cgroup_ok, bool *cap)
{
	static const struct {
		bool classic, cgroup;
	} steps[] = {{false, true}, {true, true}, {false, false}, {true, false}};
	bool tried[2][2] = {}, bad;
	int first = 0, err = -EINVAL;
	unsigned i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		bool c = classic || steps[i].classic, g = cgroup_ok && steps[i].cgroup;

		if (tried[c][g])
			continue;
		tried[c][g] = true;
		err = load_step(l, o, c, tracefs, g, *cap, &bad);
		if (bad || !err)
			return err;
		if (l->ut) {
			/* the same step with trusted-pointer or probe-read programs */
			l->ut = false;
			err = load_step(l, o, c, tracefs, g, *cap, &bad);
			if (bad || !err)
				return err;
		}
		if (*cap) {
			/* the same step without the capability hook, and none after */
			*cap = false;
			l->info.cap_note = "the capability hook does not load";
			err = load_step(l, o, c, tracefs, g, false, &bad);
			if (bad || !err)
				return err;
		}
		if (!first)
			first = err < 0 ? err : -EINVAL;
	}
	return load_error(first ? first : err);
}

/* the ring buffer's position pages (see vg_loader_open), if mapped */
static void rb_pos_unmap(struct vg_loader *l)
{
	if (l->rb_pos)
		munmap((void *)l->rb_pos, 2 * l->page);
	l->rb_pos = NULL;
}

int vg_loader_open(const struct vg_loader_opts *opts, struct vg_loader **out)
{
	struct vg_loader_opts o = opts ? *opts : (struct vg_loader_opts){0};
	const char *env = getenv("VIGIL_FORCE_CLASSIC");
	bool classic = o.force_classic || (env && strcmp(env, "1") == 0);
	struct vg_loader *l;
	const char *tracefs;
	char cg[512] = "";
	struct vg_filter f = {};
	bool cgroup_ok, cap;
	int err;

	last_err[0] = '\0';
	*out = NULL;
	verbose_log = o.verbose;
	libbpf_set_print(libbpf_log);

	if (access(VG_BTF_VMLINUX, R_OK)) {
		err = errno == EACCES ? -EACCES : -ENOENT;
		if (err == -ENOENT)
			set_err("no BTF at %s: kernel built without CONFIG_DEBUG_INFO_BTF",
				VG_BTF_VMLINUX);
		else
			set_err("cannot read %s: run as root", VG_BTF_VMLINUX);
		return err;
	}
	if (!caps_enough()) {
		load_error(-EPERM);
		return -EPERM;
	}

	l = calloc(1, sizeof(*l));
	if (!l) {
		set_err("out of memory");
		return -ENOMEM;
	}
	l->cgroup_fd = -1;

	tracefs = vg_loader_tracefs(true, &l->mounted_tracefs);
	if (vg_loader_cgroup2_root(cg, sizeof(cg)))
		l->cgroup_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	cgroup_ok = l->cgroup_fd >= 0 && net_capable();
	/* VIGIL_NO_CAP_HOOK=1: the fallback without the capability hook (tests) */
	env = getenv("VIGIL_NO_CAP_HOOK");
	cap = !(env && strcmp(env, "1") == 0);
	if (!cap)
		l->info.cap_note = "capability hook turned off (VIGIL_NO_CAP_HOOK=1)";
	/* VIGIL_NO_UNTRUSTED=1: the programs for kernels without the kfunc (tests) */
	env = getenv("VIGIL_NO_UNTRUSTED");
	l->ut = !classic && !(env && strcmp(env, "1") == 0) && probe_untrusted() == 0;
retry:
	err = load_ladder(l, &o, classic, tracefs, cgroup_ok, &cap);
	if (err)
		goto fail;

	f.agent_tgid = o.agent_tgid ? o.agent_tgid : (uint32_t)getpid();
	f.emit_host = o.emit_host;
	/* kthreadd (PID 2) lives in the initial namespaces whatever PID 1 is
	 * (a sandbox's init may refuse even CAP_SYS_PTRACE); then PID 1 */
	f.host_mntns = ns_inode("/proc/2/ns/mnt");
	f.host_pidns = ns_inode("/proc/2/ns/pid");
	if (!f.host_mntns)
		f.host_mntns = ns_inode("/proc/1/ns/mnt");
	if (!f.host_pidns)
		f.host_pidns = ns_inode("/proc/1/ns/pid");
	if (!f.host_mntns)
		f.host_mntns = ns_inode("/proc/self/ns/mnt");
	if (!f.host_pidns)
		f.host_pidns = ns_inode("/proc/self/ns/pid");
	f.wakeup_bytes = o.wakeup_bytes ? o.wakeup_bytes : l->info.ringbuf_bytes / 4;
	vg_loader_set_filter(l, &f);

	l->page = (size_t)sysconf(_SC_PAGESIZE);
	l->rb_pos = mmap(NULL, 2 * l->page, PROT_READ, MAP_SHARED, vg_loader_ringbuf_fd(l), 0);
	if (l->rb_pos == MAP_FAILED)
		l->rb_pos = NULL;

	err = attach_all(l);
	if (err && l->cap_attach_failed && cap) {
		/* loaded but refused at attach: reload with the mount tracepoints */
		while (l->nlinks)
			bpf_link__destroy(l->links[--l->nlinks]);
		l->info.syscall_tps = 0;
		l->cap_attach_failed = false;
		cap = false;
		l->info.cap_note = "the capability hook does not attach";
		/* the mapping would keep the first object's ring buffer alive */
		rb_pos_unmap(l);
		goto retry;
	}
	if (err)
		goto fail;
	describe(l);
	/* leave the host as found now, while the capability to is held: the
	 * attached tracepoints need tracefs no more */
	if (l->mounted_tracefs && umount2(VG_TRACEFS, MNT_DETACH) == 0)
		l->mounted_tracefs = false;
	vmlinux_btf_drop();
	*out = l;
	return 0;
fail:
	vmlinux_btf_drop();
	vg_loader_free(&l);
	return err;
}

void vg_loader_free(struct vg_loader **lp)
{
	struct vg_loader *l = lp ? *lp : NULL;
	unsigned i;

	if (!l)
		return;
	ring_buffer__free(l->rb);
	rb_pos_unmap(l);
	for (i = 0; i < l->nlinks; i++)
		bpf_link__destroy(l->links[i]);
	vigil_bpf__destroy(l->skel);
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	/* leave the host as found: our perf events are gone, so it is unused */
	if (l->mounted_tracefs)
		umount2(VG_TRACEFS, MNT_DETACH);
	free(l);
	*lp = NULL;
}

const char *vg_loader_strerror(int err, char *buf, size_t n)
{
	if (last_err[0])
		snprintf(buf, n, "%s", last_err);
	else
		snprintf(buf, n, "BPF loader: %s", strerror(err < 0 ? -err : err));
	return buf;
}

int vg_loader_ringbuf_fd(const struct vg_loader *l)
{
	return bpf_map__fd(l->skel->maps.events);
}

/* What rb_trampoline returns once a drain took its max: libbpf has then
 * committed that record and stops (libbpf 1.1 has no ring_buffer__consume_n) */
#define RB_CUT (-ECANCELED)

static int rb_trampoline(void *ctx, void *data, size_t size)
{
	struct vg_loader *l = ctx;
	int rc = l->fn ? l->fn(l->fn_ctx, data, size) : 0;

	if (rc < 0)
		return rc;
	return ++l->taken == l->max ? RB_CUT : rc; /* max 0: never equal */
}

int vg_loader_poll(struct vg_loader *l, int timeout_ms, unsigned max, ring_buffer_sample_fn fn,
		   void *ctx)
{
	int n;

	if (!l->rb) {
		l->rb = ring_buffer__new(vg_loader_ringbuf_fd(l), rb_trampoline, l, NULL);
		if (!l->rb)
			return -errno;
	}
	l->fn = fn;
	l->fn_ctx = ctx;
	l->max = max;
	l->taken = 0;
	n = timeout_ms > 0 ? ring_buffer__poll(l->rb, timeout_ms) : ring_buffer__consume(l->rb);
	/* a wakeup may have been skipped: drain what is there after a poll */
	if (n >= 0 && timeout_ms > 0)
		n = ring_buffer__consume(l->rb);
	/* the count is the trampoline's: libbpf's is lost on a cut */
	if (n >= 0 || (n == RB_CUT && max && l->taken == max))
		n = l->taken > INT32_MAX ? INT32_MAX : (int)l->taken;
	return n;
}

/*
 * Parking (see vg_agent_parked in bpf/common.bpf.h): the flag is set first,
 * then, after a full fence, the ring buffer is looked at; a record whose
 * program read the flag clear is either seen here (its reservation moved
 * the producer position before its own second read) or wakes the agent.
 */
bool vg_loader_park(struct vg_loader *l)
{
	__u32 *flag = &l->skel->bss->vg_agent_parked;
	unsigned long cons, prod;

	if (!l->rb_pos)
		return false;
	if (++l->park_gen == 0)
		l->park_gen = 1; /* 0 means awake */
	__atomic_store_n(flag, l->park_gen, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	cons = __atomic_load_n((const unsigned long *)(const void *)l->rb_pos, __ATOMIC_ACQUIRE);
	prod = __atomic_load_n((const unsigned long *)(const void *)(l->rb_pos + l->page),
			       __ATOMIC_ACQUIRE);
	if (prod == cons)
		return true;
	__atomic_store_n(flag, 0, __ATOMIC_RELAXED);
	return false;
}

void vg_loader_unpark(struct vg_loader *l)
{
	if (l->rb_pos)
		__atomic_store_n(&l->skel->bss->vg_agent_parked, 0, __ATOMIC_RELAXED);
}

int vg_loader_stats(const struct vg_loader *l, uint64_t out[VG_STAT__MAX])
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(l->skel->maps.stats);
	__u32 k, keys[VG_STAT__MAX], next, count = VG_STAT__MAX;
	uint64_t *v;
	int c, err;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu * VG_STAT__MAX, sizeof(*v));
	if (!v)
		return -ENOMEM;
	/* every counter in one call (array batches: 5.6); the whole array
	 * read ends the batch with ENOENT */
	err = bpf_map_lookup_batch(fd, NULL, &next, keys, v, &count, NULL);
	if ((err == 0 || err == -ENOENT) && count == VG_STAT__MAX) {
		memset(out, 0, VG_STAT__MAX * sizeof(*out));
		for (k = 0; k < VG_STAT__MAX; k++)
			for (c = 0; c < ncpu && keys[k] < VG_STAT__MAX; c++)
				out[keys[k]] += v[(size_t)k * ncpu + c];
		free(v);
		return 0;
	}
	for (k = 0; k < VG_STAT__MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += v[c];
	}
	free(v);
	return 0;
}

const char *vg_loader_describe(const struct vg_loader *l)
{
	return l->desc;
}

void vg_loader_get_filter(const struct vg_loader *l, struct vg_filter *f)
{
	*f = l->skel->bss->vg_filter;
}

void vg_loader_set_filter(struct vg_loader *l, const struct vg_filter *f)
{
	/* .bss is mmap'ed: this is the live value the programs read */
	l->skel->bss->vg_filter = *f;
}

int vg_loader_watch_addr(struct vg_loader *l, int family, const uint8_t addr[16])
{
	struct {
		__u32 family;
		__u8 addr[16];
	} k = {.family = (__u32)family};
	__u8 one = 1;

	if (family == 2)
		memcpy(k.addr, addr, 4);
	else if (family == 10)
		memcpy(k.addr, addr, 16);
	else
		return -EAFNOSUPPORT;
	if (bpf_map__update_elem(l->skel->maps.watch_addrs, &k, sizeof(k), &one, sizeof(one),
				 BPF_ANY))
		return -errno;
	return 0;
}

int vg_loader_watch_prune(struct vg_loader *l,
			  bool (*keep)(void *ctx, int family, const uint8_t addr[16]), void *ctx)
{
	struct {
		__u32 family;
		__u8 addr[16];
	} k, prev;
	const struct bpf_map *m = l->skel->maps.watch_addrs;
	bool first = true;

	/* a deleted key cannot lead on to the next: start over after one
	 * (at most 64 keys) */
	while (!bpf_map__get_next_key(m, first ? NULL : &prev, &k, sizeof(k))) {
		if (keep(ctx, (int)k.family, k.addr)) {
			prev = k;
			first = false;
			continue;
		}
		if (bpf_map__delete_elem(m, &k, sizeof(k), 0))
			return -errno;
		first = true;
	}
	return errno == ENOENT ? 0 : -errno;
}

int vg_loader_container_cgroup(struct vg_loader *l, uint64_t id, bool on)
{
	__u64 k = id;
	__u8 one = 1;
	int err;

	if (on)
		err = bpf_map__update_elem(l->skel->maps.ctr_cgroups, &k, sizeof(k), &one,
					   sizeof(one), BPF_ANY);
	else
		err = bpf_map__delete_elem(l->skel->maps.ctr_cgroups, &k, sizeof(k), 0);
	return err && !(err == -ENOENT && !on) ? err : 0;
}

void vg_loader_info(const struct vg_loader *l, struct vg_loader_info *info)
{
	*info = l->info;
}
