/*
 * loader: opens, loads and attaches vigil's BPF skeleton, and owns it until
 * vg_loader_free.  Chooses per hook between tp_btf and its classic (or raw)
 * tracepoint twin by probing, mounts tracefs when it is missing, attaches
 * the connect hooks at the cgroup v2 root, and reads the ring buffer and the
 * per-CPU counters.  Nothing is pinned: every attachment is a link owned by
 * this process and goes away with it, even on SIGKILL.
 *
 * Also the kernel feature probes that `vigil check` reports.
 */
#ifndef VIGIL_LOADER_H
#define VIGIL_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "vigil/event.h"

#define VG_LOADER_RINGBUF_DEFAULT (8u << 20)
#define VG_LOADER_RINGBUF_MIN (64u << 10) /* or the page size, if larger */
#define VG_LOADER_RINGBUF_MAX (1u << 30)

struct vg_loader_opts {
	size_t ringbuf_bytes;  /* 0: 8 MiB; rounded up to a power of two */
	uint64_t wakeup_bytes; /* 0: a quarter of the ring buffer */
	uint32_t agent_tgid;   /* 0: getpid() */
	bool emit_host;	       /* also emit host (non-container) processes */
	bool verbose;	       /* libbpf's own messages on stderr */
	bool force_classic;    /* skip tp_btf (also env VIGIL_FORCE_CLASSIC=1);
				* env VIGIL_NO_CAP_HOOK=1 leaves the capability
				* hook out (the fallback path, for tests) */
	bool syscall_results;  /* also attach the syscall tracepoints of connect
				* and the mount family (results, seccomp-refused
				* attempts); the capability hook then keeps
				* 32-bit mounts only */
};

struct vg_loader;

/*
 * Open, load and attach.  Returns 0 and *out, or -errno; then
 * vg_loader_strerror(err, ...) gives the one line to print.
 */
int vg_loader_open(const struct vg_loader_opts *opts, struct vg_loader **out);

/* Detach everything, free, set *l to NULL.  NULL-safe. */
void vg_loader_free(struct vg_loader **l);

/* One line for the user: what is missing and what to do. */
const char *vg_loader_strerror(int err, char *buf, size_t n);

/*
 * The ring buffer map fd, for an epoll loop.  Records are submitted without
 * a wakeup until the buffer holds wakeup_bytes: poll with a short timeout
 * (a few ms) or drain on a timer, do not wait for EPOLLIN alone.
 */
int vg_loader_ringbuf_fd(const struct vg_loader *l);

/*
 * Deliver pending records to fn(ctx, data, size); timeout_ms 0 drains
 * without waiting, > 0 waits up to that long for a wakeup, then drains.
 * At most max records (0: no bound): a drain that keeps finding new ones
 * (producers faster than fn) would otherwise never return to its caller's
 * timers and signals.  Returns the number of records consumed, max when
 * more may be waiting, or -errno; fn returning a negative value stops the
 * drain, and that value is returned.
 */
int vg_loader_poll(struct vg_loader *l, int timeout_ms, unsigned max, ring_buffer_sample_fn fn,
		   void *ctx);

/*
 * Before a sleep with no drain timer: true when the ring buffer is empty
 * and the next record submitted will wake the ring buffer fd (EPOLLIN);
 * false (nothing changed) when records are pending or parking is not
 * available.  vg_loader_unpark() once awake, whatever woke the caller.
 */
bool vg_loader_park(struct vg_loader *l);
void vg_loader_unpark(struct vg_loader *l);

/* Per-CPU counters summed, indexed by enum vg_stat. */
int vg_loader_stats(const struct vg_loader *l, uint64_t out[VG_STAT__MAX]);

/* e.g. "21 programs attached (tp_btf), ring buffer 8 MiB" */
const char *vg_loader_describe(const struct vg_loader *l);

/* The live in-kernel filter (host_mntns/pidns are the host's, set at open). */
void vg_loader_get_filter(const struct vg_loader *l, struct vg_filter *f);
void vg_loader_set_filter(struct vg_loader *l, const struct vg_filter *f);

/*
 * Watch an address for unconnected UDP sendmsg (family AF_INET: first 4
 * bytes of addr; AF_INET6: 16).  At most 64.  Returns 0 or -errno.
 */
int vg_loader_watch_addr(struct vg_loader *l, int family, const uint8_t addr[16]);

/* Stop watching every address for which keep() says false (a new set is
 * added first, then the old pruned: no moment watches neither).  Returns 0
 * or -errno. */
int vg_loader_watch_prune(struct vg_loader *l,
			  bool (*keep)(void *ctx, int family, const uint8_t addr[16]), void *ctx);

/*
 * Tell the in-kernel filter that cgroup v2 id is a container's (on) or no
 * longer (off): a process in the host's namespaces but in that cgroup (it
 * joined them from the container) is not filtered as a host process.
 * Returns 0 or -errno (-E2BIG: full, 8192 ids).
 */
int vg_loader_container_cgroup(struct vg_loader *l, uint64_t id, bool on);

/* Where mount, umount and move_mount are seen. */
enum vg_mount_hook {
	VG_MOUNT_HOOK_NONE = 0,
	VG_MOUNT_HOOK_CAP = 1,	      /* capability:cap_capable (CAP_SYS_ADMIN check) */
	VG_MOUNT_HOOK_TRACEPOINT = 2, /* syscalls:sys_enter/exit_* of the family */
};

/* Hooks that use the tp_btf variant / a fallback / are off, for reports. */
struct vg_loader_info {
	unsigned attached;	 /* programs attached */
	unsigned btf_hooks;	 /* exec/fork/exit/oom on tp_btf */
	unsigned fallback_hooks; /* ... on a classic or raw tracepoint */
	bool tracefs;		 /* syscall tracepoints available */
	bool cgroup_hooks;	 /* connect hooks attached at the v2 root */
	bool syscall_results;	 /* asked for (opts.syscall_results) */
	bool connect_results;	 /* sys_enter/exit_connect attached */
	enum vg_mount_hook mount_hook;
	unsigned syscall_tps; /* syscall tracepoint programs attached */
	bool compat_mounts;   /* 32-bit mounts seen (capability hook on) */
	const char *cap_note; /* why the capability hook is not used in the
			       * default mode (static text), or NULL */
	size_t ringbuf_bytes;
};
void vg_loader_info(const struct vg_loader *l, struct vg_loader_info *info);

/* ---- feature probes (vigil check) ---- */

enum vg_probe {
	VG_PROBE_TP_BTF = 1,  /* tp_btf/sched_process_exec loads and attaches */
	VG_PROBE_RAW_TP,      /* raw_tp/sched_process_exec */
	VG_PROBE_TRACEPOINT,  /* tracepoint/sched/sched_process_exec (tracefs) */
	VG_PROBE_CGROUP_SOCK, /* cgroup/connect4 program loads */
	VG_PROBE_RINGBUF,     /* a ring buffer map can be created */
	VG_PROBE_CAPABILITY,  /* capability:cap_capable, tp_btf or classic (the
			       * default mount hook; x86-64 only) */
	VG_PROBE_UNTRUSTED,   /* bpf_rdonly_cast(): untrusted task pointers */
};

/* 0 when the feature works, else -errno. */
int vg_loader_probe(enum vg_probe what);

/*
 * Where tracefs is (NULL if nowhere).  With mount, mount it at
 * /sys/kernel/tracing when missing (*mounted set true when this call did).
 */
const char *vg_loader_tracefs(bool mount, bool *mounted);

/* The cgroup v2 mount point from /proc/self/mountinfo, NULL if none. */
const char *vg_loader_cgroup2_root(char *buf, size_t n);

/* CapEff of this process (bit n = capability n); 0 or -errno. */
int vg_loader_cap_eff(uint64_t *caps);

/* Whether caps allow the tracing programs: CAP_SYS_ADMIN, or CAP_BPF +
 * CAP_PERFMON.  The connect hooks also need CAP_NET_ADMIN (or SYS_ADMIN);
 * without it they are left out and the description says so. */
bool vg_loader_caps_enough(uint64_t caps);

/* "hooks" in a word for reports: "cap", "syscall-results", "tp-fallback"
 * (default mode without the capability hook) or "no-mount". */
const char *vg_loader_mode_word(const struct vg_loader_info *info);

/* The kernel lockdown mode ("none", "integrity", "confidentiality") into
 * buf, or NULL when securityfs does not say. */
const char *vg_loader_lockdown(char *buf, size_t n);

#endif
