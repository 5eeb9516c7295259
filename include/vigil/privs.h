/*
 * privs: the agent's privileges.  Before loading, vg_privs_required()
 * checks that the capabilities and host views the sensor needs are there
 * and, when one is missing, names exactly that one and the flag or
 * manifest line that adds it.  After the programs are attached,
 * vg_privs_drop() shrinks the effective and permitted sets (and the
 * bounding set when CAP_SETPCAP allows) to what the running agent still
 * uses, clears the inheritable and ambient sets and sets no_new_privs.
 *
 * Capabilities belong to a thread, not a process: call vg_privs_drop()
 * before starting any other thread (it refuses with -EBUSY otherwise).
 * No libcap: capget/capset and prctl directly.
 */
#ifndef VIGIL_PRIVS_H
#define VIGIL_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VG_CAP(n) (1ULL << (n))

enum vg_cap {
	VG_CAP_DAC_READ_SEARCH = 2,
	VG_CAP_SETPCAP = 8,
	VG_CAP_NET_ADMIN = 12,
	VG_CAP_SYS_PTRACE = 19,
	VG_CAP_SYS_ADMIN = 21,
	VG_CAP_PERFMON = 38,
	VG_CAP_BPF = 39,
};

/*
 * What the agent keeps after attach: CAP_SYS_PTRACE, to read
 * /proc/<pid>/exe and the namespace links of processes that hold
 * capabilities the sensor does not, and CAP_DAC_READ_SEARCH, for
 * open_by_handle_at(2) from a new cgroup id to its folder (ctrtab.h; it
 * falls back to walks without).  vg_privs_keep_default() adds the BPF
 * capability only on kernels that still gate map operations on it.
 */
#define VG_PRIVS_KEEP (VG_CAP(VG_CAP_SYS_PTRACE) | VG_CAP(VG_CAP_DAC_READ_SEARCH))

/* What vg_privs_check() looks at; vg_privs_facts() reads it from the host. */
struct vg_privs_facts {
	uint64_t eff;	   /* CapEff */
	int last_cap;	   /* /proc/sys/kernel/cap_last_cap (CAP_BPF exists if >= 39) */
	bool host_pid;	   /* in the host PID namespace (kthreadd is PID 2) */
	bool btf;	   /* /sys/kernel/btf/vmlinux readable */
	bool btf_dir;	   /* /sys/kernel/btf exists (else sysfs is not there) */
	bool host_cgroup;  /* a cgroup hierarchy's real root is mounted */
	bool in_container; /* hints are container flags rather than "run as root" */
	bool root;	   /* effective uid 0: capabilities alone do not make a sensor */
};

/* Fill *f from this process and host; 0 or -errno. */
int vg_privs_facts(struct vg_privs_facts *f);

/* In the host's PID namespace: PID 2 under proc_root is kthreadd. */
bool vg_privs_host_pid(const char *proc_root);

/*
 * 0 when everything needed is there; else -EPERM (a capability) or -ENOENT
 * (a mount or namespace) with one line in msg naming which one and how to
 * add it.  Pure: for tests.
 */
int vg_privs_check(const struct vg_privs_facts *f, char *msg, size_t n);

/* Its second half, the host's views alone (PID namespace, BTF, cgroup
 * hierarchy): 0 or -ENOENT with msg, whatever the capabilities. */
int vg_privs_check_views(const struct vg_privs_facts *f, char *msg, size_t n);

/* vg_privs_facts + vg_privs_check.  The CLI prints msg and exits 2. */
int vg_privs_required(char *msg, size_t n);
/* vg_privs_facts + vg_privs_check_views, for vigil check's own row. */
int vg_privs_views(char *msg, size_t n);

/*
 * VG_PRIVS_KEEP, plus CAP_BPF (or CAP_SYS_ADMIN where CAP_BPF is unknown)
 * when a child without it cannot query bpf_fd (kernels before 6.5 with
 * unprivileged BPF disabled gate every bpf() command).  bpf_fd < 0: no
 * probe.
 */
uint64_t vg_privs_keep_default(int bpf_fd);

/*
 * Drop every capability not in keep_mask from all sets and set
 * no_new_privs.  desc gets one line for the start line and `vigil check`,
 * e.g. "capabilities CAP_SYS_PTRACE (dropped CAP_SYS_ADMIN), no_new_privs".
 * 0 or -errno (-EBUSY with more than one thread).
 */
int vg_privs_drop(const uint64_t keep_mask, char *desc, size_t n);

/* "CAP_SYS_PTRACE", or NULL for an unknown number. */
const char *vg_privs_cap_name(int cap);

/* "CAP_A,CAP_B" (or "none") into buf. */
const char *vg_privs_caps_str(uint64_t mask, char *buf, size_t n);

/*
 * Whether one of the cgroup mounts listed in mountinfo (a
 * /proc/self/mountinfo stream) under sysroot ("" for the real root) is the
 * real root of its hierarchy rather than a container's own subtree: a
 * cgroup2 root has no cgroup.events file, a v1 root has release_agent.
 */
bool vg_privs_host_cgroup(FILE *mountinfo, const char *sysroot);

#endif
