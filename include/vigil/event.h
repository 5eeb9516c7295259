/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The wire format between vigil's BPF programs and its agent.
 *
 * Every record that leaves the kernel through the ring buffer starts with
 * struct vg_hdr, followed by the payload of its type.  Rules for this file:
 *   - fixed-width types only, explicit pad fields, no implicit holes and no
 *     `packed` (the layout is locked by _Static_asserts in tests/unit);
 *   - enum values are numbered explicitly, 0 is reserved as invalid and a
 *     value is never reused;
 *   - variable strings (exec filename and argv) follow the fixed part, with
 *     their lengths in the fixed part; hdr.size is the number of bytes that
 *     were submitted, so the agent can check every length against it.
 * Kernel-internal state (pointers kept between sys_enter and sys_exit) lives
 * in BPF maps and never appears here.
 */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#ifdef __VIGIL_BPF__
/* vmlinux.h provides __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define VG_COMM_LEN 16
#define VG_PATH_MAX 256 /* exec filename, mount source/target */
#define VG_FSTYPE_MAX 32
#define VG_EXEC_ARGS_MAX 2048 /* bytes of argv (NUL separated) kept */
#define VG_EXEC_ARGC_MAX 64   /* arguments the agent decodes at most */

enum vg_event_type {
	VG_EV_INVALID = 0,
	VG_EV_EXEC = 1,
	VG_EV_FORK = 2,
	VG_EV_EXIT = 3,
	VG_EV_CONNECT = 4,
	VG_EV_MOUNT = 5,
	VG_EV_OOM = 6,
	VG_EV__MAX = 7, /* one past the last value; grows, never renumbers */
};

/* vg_hdr.flags */
enum vg_hdr_flags {
	VG_HF_TTY = 1u << 0,	 /* the task has a controlling terminal */
	VG_HF_NO_TASK = 1u << 1, /* header fields other than tgid/comm are unknown
				  * (classic oom tracepoint fallback) */
};

struct vg_hdr {
	__u16 type;	    /* enum vg_event_type */
	__u16 size;	    /* bytes in this record, header included */
	__u32 flags;	    /* enum vg_hdr_flags */
	__u64 ts_ns;	    /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 cgroup_id;    /* cgroup v2 id (kernfs id of the unified cgroup) */
	__u64 cgroup_v1_id; /* id of the task's memory-controller cgroup; on
			     * hybrid hosts the v1 hierarchy, 0 if unknown */
	__u32 tgid;
	__u32 tid;
	__u32 ptgid;   /* real parent's tgid */
	__u32 ns_pid;  /* tgid as seen inside the task's own pid namespace */
	__u32 ns_ppid; /* parent's tgid in the task's pid namespace; 0 when the
			* parent lives outside it (e.g. docker exec via runc) */
	__u32 uid;
	__u32 gid;
	__u32 mntns; /* mount namespace inode */
	__u32 pidns; /* pid namespace inode */
	__u32 pad;
	char comm[VG_COMM_LEN];
};

/* vg_exec.eflags */
enum vg_exec_flags {
	VG_EXEC_ARGS_TRUNC = 1u << 0,	  /* argv longer than VG_EXEC_ARGS_MAX */
	VG_EXEC_FILENAME_TRUNC = 1u << 1, /* filename longer than VG_PATH_MAX */
	VG_EXEC_EXE_DELETED = 1u << 2,	  /* executable has no links left */
	VG_EXEC_EXE_MEMFD = 1u << 3,	  /* executable is a memfd */
};

/*
 * data[] holds filename_len bytes of filename (NUL included), then args_len
 * bytes of argv, each argument NUL terminated.  Only hdr.size bytes are
 * submitted.
 */
struct vg_exec {
	struct vg_hdr hdr;
	__u32 argc;	    /* the kernel's argc (may exceed what was kept) */
	__u32 eflags;	    /* enum vg_exec_flags */
	__u16 filename_len; /* includes the terminating NUL */
	__u16 args_len;
	__u16 exe_len; /* the executable's resolved path, with its NUL; 0: unknown */
	__u16 pad;
	/* filename, exe path, then argv */
	char data[VG_PATH_MAX + VG_PATH_MAX + VG_EXEC_ARGS_MAX];
};

/* The header describes the new process (child): tgid, ptgid = parent. */
struct vg_fork {
	struct vg_hdr hdr;
};

struct vg_exit {
	struct vg_hdr hdr;
	__s32 exit_code; /* as wait(2) encodes it: status << 8 | signal */
	__u32 pad;
};

enum vg_conn_source {
	VG_CONN_SRC_INVALID = 0,
	VG_CONN_SRC_SYSCALL = 1, /* cgroup hook + native connect(2): result known */
	VG_CONN_SRC_CGROUP = 2,	 /* cgroup hook only (ia32, io_uring, ...):
				  * result unknown */
	VG_CONN_SRC_SENDMSG = 3, /* unconnected UDP sendmsg to a watched address */
};

/* vg_connect.cflags */
enum vg_conn_flags {
	VG_CONN_RESULT_KNOWN = 1u << 0,
};

struct vg_connect {
	struct vg_hdr hdr;
	__u16 family; /* AF_INET (2) or AF_INET6 (10), as the caller passed it */
	__u16 port;   /* destination port, host byte order */
	__u8 proto;   /* IPPROTO_TCP (6) / IPPROTO_UDP (17), 0 if unknown */
	__u8 source;  /* enum vg_conn_source */
	__u16 pad;
	__u32 cflags;  /* enum vg_conn_flags */
	__s32 result;  /* 0 or -errno when VG_CONN_RESULT_KNOWN */
	__u8 addr[16]; /* IPv4: first 4 bytes; IPv6 (also v4-mapped): all 16 */
};

enum vg_mount_op {
	VG_MNT_INVALID = 0,
	VG_MNT_MOUNT = 1,	   /* mount(2) */
	VG_MNT_UMOUNT = 2,	   /* umount2(2) */
	VG_MNT_FSOPEN = 3,	   /* fsopen(2): fstype */
	VG_MNT_FSMOUNT = 4,	   /* fsmount(2): flags */
	VG_MNT_MOVE_MOUNT = 5,	   /* move_mount(2): source = from path, target */
	VG_MNT_OPEN_TREE = 6,	   /* open_tree(2): source, flags */
	VG_MNT_FSPICK = 7,	   /* fspick(2): source */
	VG_MNT_SETATTR = 8,	   /* mount_setattr(2): target */
	VG_MNT_OPEN_TREE_ATTR = 9, /* open_tree_attr(2): source, flags */
};

/* vg_mount.mflags */
enum vg_mount_flags {
	VG_MNT_NO_RESULT = 1u << 0,  /* seen by an LSM hook before the operation
				      * ran: result is 0 and means nothing */
	VG_MNT_STR_UNREAD = 1u << 1, /* a path or fstype argument could not be
				      * read (a page not yet faulted in): its
				      * field is "", which means unknown */
	VG_MNT_STR_CUT = 1u << 2,    /* a path or fstype filled its field: it
				      * may have been longer */
};

struct vg_mount {
	struct vg_hdr hdr;
	__u16 op;     /* enum vg_mount_op */
	__u16 mflags; /* enum vg_mount_flags (0 in records before it existed) */
	__s32 result; /* syscall return value: 0/fd or -errno */
	__u64 flags;  /* mount flags / op-specific flags */
	char source[VG_PATH_MAX];
	char target[VG_PATH_MAX];
	char fstype[VG_FSTYPE_MAX];
};

/*
 * The header describes the OOM victim (its tgid, comm and cgroups), never
 * the task that ran the allocation that triggered the kill.
 */
struct vg_oom {
	struct vg_hdr hdr;
	__u32 trigger_tgid; /* task in whose context the kill was decided */
	__u32 pad;
	__u64 total_vm_kb;
	__u64 rss_kb; /* anon + file + shmem resident pages */
	char trigger_comm[VG_COMM_LEN];
};

/* Index of counters in the per-CPU stats array map. */
enum vg_stat {
	VG_STAT_EMITTED = 0,		   /* + type: records submitted */
	VG_STAT_DROPPED = VG_EV__MAX,	   /* + type: ring-buffer reserve failures */
	VG_STAT_FILTERED = 2 * VG_EV__MAX, /* + type: dropped by in-kernel filters */
	VG_STAT__MAX = 3 * VG_EV__MAX,
};

/*
 * Runtime filter settings, kept in the BPF program's .bss and changeable by
 * the agent at any time.
 */
struct vg_filter {
	__u32 agent_tgid;   /* never trace the agent itself */
	__u32 emit_host;    /* 1: also emit host (non-container) processes */
	__u32 host_mntns;   /* the host's mount namespace inode */
	__u32 host_pidns;   /* the host's pid namespace inode */
	__u64 wakeup_bytes; /* force a consumer wakeup past this fill level */
};

#endif /* VIGIL_EVENT_H */
