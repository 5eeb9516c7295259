/*
 * cgroup: parses a cgroup path into the container runtime and container id
 * it belongs to.  Pure string code, no I/O.
 */
#ifndef VIGIL_CGROUP_H
#define VIGIL_CGROUP_H

#include <stddef.h>

enum vg_runtime {
	VG_RT_HOST = 0, /* not a container */
	VG_RT_DOCKER = 1,
	VG_RT_CONTAINERD = 2, /* containerd, incl. CRI (Kubernetes) */
	VG_RT_CRIO = 3,
	VG_RT_PODMAN = 4,
	VG_RT_UNKNOWN = 5, /* looks like a container, runtime not known */
};

enum vg_k8s_qos {
	VG_QOS_NONE = 0,
	VG_QOS_GUARANTEED = 1,
	VG_QOS_BURSTABLE = 2,
	VG_QOS_BESTEFFORT = 3,
};

#define VG_CTR_ID_LEN 64
#define VG_POD_UID_LEN 36

struct vg_cgroup_info {
	enum vg_runtime runtime;
	enum vg_k8s_qos qos;
	char id[VG_CTR_ID_LEN + 1];	  /* container id, "" for host;
					     the innermost when nested */
	char outer_id[VG_CTR_ID_LEN + 1]; /* outermost container id when
					     nested (docker-in-docker), else "" */
	char pod_uid[VG_POD_UID_LEN + 1]; /* kubepods only, dashes restored */
	char unit[128];			  /* systemd unit/slice of a host
					     process ("" if none) */
};

/*
 * Parse path (as in /proc/PID/cgroup, starting with '/'; a trailing
 * " (deleted)" is ignored).  Always fills out; runtime is VG_RT_HOST when
 * no container was recognised (unit then names the innermost systemd unit
 * or slice, e.g. "ssh.service").  Container ids are exactly 64 lower-case
 * hex digits.  Runtime monitors (crio-conmon-*, libpod-conmon-*) are host.
 * Returns 0, or -EINVAL for a NULL or non-absolute path.  The supported
 * path shapes are listed at the top of cgroup.c.
 */
int vg_cgroup_parse(const char *path, struct vg_cgroup_info *out);

/* "docker", "containerd", "cri-o", "podman", "unknown", "host" */
const char *vg_runtime_name(enum vg_runtime rt);

/* "guaranteed", "burstable", "besteffort" or NULL */
const char *vg_qos_name(enum vg_k8s_qos qos);

#endif
