/*
 * sampler: reads one container's resource usage from cgroupfs: CPU time and
 * quota, memory in use and its limit, pids and their limit.  Works on pure
 * cgroup v2, on hybrid hosts (v1 controllers + v2 at <root>/unified) and on
 * pure v1; each value is read from where its controller is mounted.  A few
 * small file reads per container, no allocation: call it once per container
 * per interval.  The root is a parameter, so tests run on a fake tree.
 */
#ifndef VIGIL_SAMPLER_H
#define VIGIL_SAMPLER_H

#include <stdint.h>

enum vg_cg_layout {
	VG_CG_V1 = 1,	  /* controllers at <root>/<ctrl> only */
	VG_CG_HYBRID = 2, /* v1 controllers, v2 at <root>/unified */
	VG_CG_V2 = 3,	  /* unified hierarchy at <root> */
};

/* vg_cg_sample.have: which values were read */
enum vg_sample_have {
	VG_SMP_CPU = 1u << 0,	/* cpu_usage_ns */
	VG_SMP_QUOTA = 1u << 1, /* cpu_quota_us / cpu_period_us (quota may be -1) */
	VG_SMP_MEM = 1u << 2,	/* mem_current, mem_working */
	VG_SMP_MEMMAX = 1u << 3,
	VG_SMP_PIDS = 1u << 4,
	VG_SMP_PIDSMAX = 1u << 5,
};

struct vg_cg_sample {
	unsigned have;	       /* enum vg_sample_have */
	uint64_t cpu_usage_ns; /* cumulative CPU time of the cgroup */
	int64_t cpu_quota_us;  /* -1: no quota */
	uint64_t cpu_period_us;
	uint64_t mem_current; /* bytes charged, page cache included */
	uint64_t mem_working; /* mem_current minus inactive file cache */
	int64_t mem_max;      /* bytes, -1: no limit */
	uint64_t pids_current;
	int64_t pids_max; /* -1: no limit */
};

struct vg_sampler;

/* root is the cgroupfs mount point ("/sys/fs/cgroup"); the layout is found
 * once here.  Returns 0 or -ENOENT when no cgroup filesystem is there. */
int vg_sampler_new(const char *root, struct vg_sampler **out);
void vg_sampler_free(struct vg_sampler **s);

enum vg_cg_layout vg_sampler_layout(const struct vg_sampler *s);

/*
 * Read the cgroup at path (as in /proc/PID/cgroup: "/docker/<id>",
 * "/kubepods/.../<id>", relative to each hierarchy's root).  Returns 0 when
 * at least one value was read (see out->have), -ENOENT when the cgroup is
 * gone, -EINVAL for a path with "..".
 */
int vg_sampler_read(struct vg_sampler *s, const char *path, struct vg_cg_sample *out);

/*
 * The cgroup of container ctr_id (its full id), found by a bounded walk of
 * the hierarchy (depth 8) for a directory whose name holds the id:
 * /docker/<id>, /system.slice/docker-<id>.scope, /kubepods/.../<id>,
 * ...-cri-containerd-<id>.scope.  Writes the path relative to the
 * hierarchy root.  0, -ENOENT, -EINVAL (id shorter than 12 characters).
 */
int vg_sampler_locate(struct vg_sampler *s, const char *ctr_id, char *path, size_t n);

/*
 * The pids limit of the Kubernetes pod that container ctr_id runs in: the
 * pids.max of the pod's own cgroup, where kubelet puts podPidsLimit (a
 * container's CRI spec has no pids limit).  The container's cgroup is
 * found by a walk, as vg_sampler_locate; nothing is kept, so any thread
 * may call it.  0 with *out the limit, or -1 for "max"; -ENOENT when the
 * container's cgroup is not found, is in no pod, or the pod's cgroup has
 * no pids.max; -EINVAL for a garbled file (counted in the errors).
 */
int vg_sampler_pod_pids_max(struct vg_sampler *s, const char *ctr_id, int64_t *out);

/* vg_sampler_read for a container id: the path is located once and kept
 * (a cache of 8192 containers, twice as many as the container table
 * holds; one that does not fit is located at each read); a cgroup that
 * is gone is forgotten. */
int vg_sampler_read_id(struct vg_sampler *s, const char *ctr_id, struct vg_cg_sample *out);

/* Walks of the hierarchy made to locate a container, since the start. */
uint64_t vg_sampler_walks(const struct vg_sampler *s);

/* Files that existed but could not be read or parsed, since the start. */
uint64_t vg_sampler_errors(const struct vg_sampler *s);

#endif
