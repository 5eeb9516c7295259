/*
 * proctab: the process table.  Seeded from /proc at start so processes older
 * than the sensor have names and parents, then kept current by fork, exec
 * and exit records.  Bounded: when full, the least recently touched exited
 * or oldest entry is evicted.  Not thread safe: owned by the reader thread.
 */
#ifndef VIGIL_PROCTAB_H
#define VIGIL_PROCTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/event.h"

#define VG_PROC_EXE_MAX 256
#define VG_PROC_ARGS_MAX 256 /* command line kept per process (space joined) */

struct vg_proc {
	uint32_t tgid;
	uint32_t ptgid;
	uint32_t ns_pid;
	uint32_t ns_ppid;
	uint32_t uid;
	uint32_t pidns;
	uint32_t mntns;
	uint32_t flags;          /* VG_HF_* of the latest record (tty) */
	uint64_t cgroup_id;      /* key into the container table (see ctrtab) */
	uint64_t start_ns;       /* monotonic, 0 if seeded from /proc */
	uint64_t exec_ns;        /* last exec, 0 if none seen */
	bool exited;
	char comm[VG_COMM_LEN];
	char exe[VG_PROC_EXE_MAX];   /* executable path, "" if unknown */
	char args[VG_PROC_ARGS_MAX]; /* command line, args joined by ' ' */
};

struct vg_proctab;

/* capacity: maximum number of entries (> 0). */
int vg_proctab_new(size_t capacity, struct vg_proctab **out);
void vg_proctab_free(struct vg_proctab **pt);

/* Seed from a procfs mounted at root ("/proc"); returns entries added or -errno. */
int vg_proctab_seed(struct vg_proctab *pt, const char *proc_root);

/* Apply a fork/exec/exit record; other types only refresh the entry. */
void vg_proctab_apply(struct vg_proctab *pt, const struct vg_hdr *hdr,
		      const char *exe, const char *args, size_t args_len);

/* Entry for tgid or NULL.  Valid until the next apply/seed call. */
const struct vg_proc *vg_proctab_get(const struct vg_proctab *pt, uint32_t tgid);

/* Drop entries of exited processes older than now_ns - keep_ns. */
void vg_proctab_reap(struct vg_proctab *pt, uint64_t now_ns, uint64_t keep_ns);

size_t vg_proctab_count(const struct vg_proctab *pt);
uint64_t vg_proctab_evictions(const struct vg_proctab *pt);

#endif
