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
	uint32_t flags;	       /* VG_HF_* of the latest record (tty) */
	uint64_t cgroup_id;    /* v2 cgroup id: key into the container table */
	uint64_t cgroup_v1_id; /* memory-controller v1 cgroup id (hybrid
				  hosts), 0 if unknown; see ctrtab */
	uint64_t start_ns;     /* monotonic, 0 if seeded from /proc */
	uint64_t exec_ns;      /* last exec; seeded: the process's start (its
				  image is no older); 0 unknown */
	uint64_t prev_ns;      /* when the image that exec replaced started
				  (its own exec, or the fork), 0 unknown */
	bool exited;
	char comm[VG_COMM_LEN];
	char exe[VG_PROC_EXE_MAX];   /* executable path, "" if unknown */
	char args[VG_PROC_ARGS_MAX]; /* command line, args joined by ' ' */
	/* the binary the image runs (a script's interpreter), base name, ""
	 * unknown; and what the last exec replaced: that binary's name (else
	 * the executable's, else comm), whether it was a script named *.sh,
	 * and prev_ns above */
	char img[32];
	char prev_name[32];
	bool prev_sh;
};

struct vg_proctab;

/* capacity: maximum number of entries (> 0). */
int vg_proctab_new(size_t capacity, struct vg_proctab **out);
void vg_proctab_free(struct vg_proctab **pt);

/*
 * Where seeding finds cgroup directories to stat() for cgroup ids: the v2
 * mount ("/sys/fs/cgroup" or, hybrid, "/sys/fs/cgroup/unified") and the v1
 * memory hierarchy ("/sys/fs/cgroup/memory"); NULL or "" skips one.  Without
 * this call seeded entries have cgroup ids 0.  vg_ctrtab_v2_root() and
 * vg_ctrtab_v1_root() give the values the container table found.
 */
void vg_proctab_set_cgroup_roots(struct vg_proctab *pt, const char *v2_root,
				 const char *v1_mem_root);

/*
 * Seed from a procfs mounted at proc_root ("/proc", or a fake tree in
 * tests): per process stat (ppid, comm parsed from the last ')', tty),
 * status (Uid, innermost NSpid), exe, cmdline, ns/mnt, ns/pid and cgroup
 * (ids by stat() of the cgroup directories, see above).  Vanished
 * processes are skipped.  Returns entries added or -errno.
 */
int vg_proctab_seed(struct vg_proctab *pt, const char *proc_root);

/* The same for one process (replacing its entry): a record that names a
 * process by pid only (the classic OOM hook's victim), when the table
 * does not know where it lives.  0, or -errno (-ENOENT: gone). */
int vg_proctab_seed_pid(struct vg_proctab *pt, const char *proc_root, uint32_t tgid);

/*
 * Apply a record (no I/O, no allocation).  fork: a new entry for the child
 * (hdr describes it) that inherits exe/args from the parent; exec: comm,
 * exe (filename) and args (NUL separated, args_len bytes) replaced; exit:
 * marked exited, kept until vg_proctab_reap so late records still name it;
 * any other type creates or refreshes the entry from the header (a
 * VG_HF_NO_TASK header only gives comm).  Evicts when full: the oldest
 * exited entry first, else the least recently touched.  Returns the entry
 * (what vg_proctab_get(hdr->tgid) would), NULL only without pt or hdr.
 */
const struct vg_proc *vg_proctab_apply(struct vg_proctab *pt, const struct vg_hdr *hdr,
				       const char *exe, const char *args, size_t args_len);
/* The same, for an exec whose executable the kernel resolved (img: the
 * binary that runs, a script's interpreter; NULL unknown). */
const struct vg_proc *vg_proctab_apply_exec(struct vg_proctab *pt, const struct vg_hdr *hdr,
					    const char *exe, const char *img, const char *args,
					    size_t args_len);

/* Entry for tgid or NULL.  Valid until the next apply/seed call. */
const struct vg_proc *vg_proctab_get(const struct vg_proctab *pt, uint32_t tgid);

/* Drop entries of processes that exited before now_ns - keep_ns (the
 * exit record's monotonic timestamp). */
void vg_proctab_reap(struct vg_proctab *pt, uint64_t now_ns, uint64_t keep_ns);

/*
 * Keep at most n exited entries (0 or >= capacity: as many as fit, the
 * default): past it the oldest goes at the next exit, before its reap.
 * Under a process storm a table-wide exited list turns every new entry
 * into a slot untouched for seconds, cache misses on every write; a short
 * one recycles the same few hundred kilobytes.
 */
void vg_proctab_set_exited_max(struct vg_proctab *pt, size_t n);

/*
 * The base name of an executable's path ("/usr/bin/bash (deleted)" ->
 * "bash (deleted)"), and in *len (when not NULL) its length without the
 * " (deleted)" readlink gives an executable removed or replaced on disk.
 */
const char *vg_exe_base(const char *path, size_t *len);

size_t vg_proctab_count(const struct vg_proctab *pt);
uint64_t vg_proctab_evictions(const struct vg_proctab *pt);

#endif
