// SPDX-License-Identifier: GPL-2.0
/*
 * vigil's BPF object: maps, license and the per-domain programs, compiled as
 * one translation unit into one skeleton (vigil_bpf).
 *
 * Hook variants: tp_btf programs are preferred; each has a classic
 * tracepoint (or raw tracepoint) twin built on the same body, and the loader
 * turns autoload off for whichever variant does not load on this kernel.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "vigil/event.h"

/* GPL: the tracing helpers (probe reads, task access) require it. */
char LICENSE[] SEC("license") = "GPL";

/* One ring buffer for every record; max_entries is set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Per-CPU counters, indexed by enum vg_stat (+ event type). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VG_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Records larger than the 512-byte stack are built here, one slot per user. */
enum vg_scratch_slot {
	VG_SCRATCH_EXEC = 0,
	VG_SCRATCH_MOUNT = 1,
	VG_SCRATCH__MAX = 2,
};

/* the exec record, and room to build the executable's path right to left
 * (twice VG_PATH_MAX: an offset below VG_PATH_MAX plus a name length below
 * it stays inside, which is what the verifier checks) */
struct vg_exec_scratch {
	struct vg_exec exec;
	char path[2 * VG_PATH_MAX];
	__u64 pos;
};

union vg_scratch {
	struct vg_exec_scratch ex;
	struct vg_mount mount;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VG_SCRATCH__MAX);
	__type(key, __u32);
	__type(value, union vg_scratch);
} scratch SEC(".maps");

/*
 * Runtime filter, set by the agent through skel->bss at any time.  Zero
 * (the state before the agent writes it) means: trace everything except
 * nothing, wake up on every record past 0 bytes.
 */
struct vg_filter vg_filter;

/*
 * The cgroup v2 ids of containers (key; the value is unused), kept by the
 * agent from its container table.  A process in the host's namespaces is
 * filtered as a host process only when its cgroup is not one of these:
 * one that joined them from a container (nsenter -t 1 -m -p from a
 * privileged one) is still the container's.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u8);
} ctr_cgroups SEC(".maps");

/* Page size in KiB, for the OOM record's page counts; set by the loader. */
const volatile __u32 vg_page_kb = 4;

#include "core_fixes.bpf.h"
#include "common.bpf.h"

#include "exec.bpf.c"
#include "proc.bpf.c"
#include "connect.bpf.c"
#include "mount.bpf.c"
#include "oom.bpf.c"
