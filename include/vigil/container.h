/*
 * container: what vigil knows about one container.  The cgroup path gives
 * runtime and id at once; the runtime's own state (Docker Engine API or its
 * state files, containerd/CRI, CRI-O, Podman) fills the rest later, off the
 * event path.  Strings are always NUL terminated, bounded by the array
 * sizes below, and may hold anything the runtime stored: encoders escape.
 *
 * Environment variables are kept by NAME only.  Their values never enter
 * this struct, so no output can leak them.
 */
#ifndef VIGIL_CONTAINER_H
#define VIGIL_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/cgroup.h"

enum vg_enrich {
	VG_ENRICH_PENDING = 0, /* runtime state not read yet */
	VG_ENRICH_DONE = 1,
	VG_ENRICH_FAILED = 2,
};

#define VG_CTR_NAME_MAX 256 /* a Kubernetes pod name: up to 253 */
#define VG_CTR_IMAGE_MAX 256
#define VG_CTR_LABELS_MAX 32
#define VG_CTR_LABEL_KEY_MAX 128
#define VG_CTR_LABEL_VAL_MAX 256
#define VG_CTR_PORTS_MAX 16
#define VG_CTR_CAPS_MAX 16
#define VG_CTR_MOUNTS_MAX 16
#define VG_CTR_ENV_MAX 32
#define VG_CTR_CMD_MAX 256

struct vg_label {
	char key[VG_CTR_LABEL_KEY_MAX];
	char value[VG_CTR_LABEL_VAL_MAX];
};

struct vg_port_binding {
	uint16_t container_port;
	uint16_t host_port;
	char proto[8];	  /* "tcp", "udp", "sctp" */
	char host_ip[48]; /* "" or "0.0.0.0" or "::" means all addresses */
};

struct vg_mount_spec {
	char source[256]; /* host path (bind) or volume name */
	char destination[256];
	char type[16]; /* "bind", "volume", "tmpfs", ... */
	bool rw;
};

struct vg_container {
	/*
	 * The state of everything below, stamped by the container table each
	 * time it fills or changes the entry, and unique in the process: two
	 * entries with one version hold the same fields.  0: not the
	 * table's (a copy being filled, a test's), so never taken as one.
	 */
	uint64_t version;

	/* from the cgroup path */
	struct vg_cgroup_info cg; /* runtime, id, pod uid, qos */

	/* from the runtime's state */
	enum vg_enrich enrich;
	char name[VG_CTR_NAME_MAX];   /* without Docker's leading '/' */
	char image[VG_CTR_IMAGE_MAX]; /* image name as the user gave it */
	char image_id[80];	      /* "sha256:..." */
	char cmd[VG_CTR_CMD_MAX];     /* main process: path + args, spaces */
	int64_t started_ns;	      /* wall clock, 0 if unknown */
	struct vg_label labels[VG_CTR_LABELS_MAX];
	unsigned nlabels;
	bool labels_truncated;

	/* Kubernetes (from io.kubernetes.* labels / CRI state) */
	char pod_name[VG_CTR_NAME_MAX];
	char pod_namespace[VG_CTR_NAME_MAX];
	char pod_uid[40];

	/* configuration, for identity and posture */
	bool privileged;
	bool readonly_rootfs;
	bool no_new_privileges;
	bool userns_remap;     /* user namespace remapping in force */
	char user[64];	       /* Config.User, "" = root */
	char network_mode[64]; /* "bridge", "host", "none", ... */
	char pid_mode[64];     /* "" or "host" */
	char ipc_mode[64];     /* "private", "shareable", "host" */
	int64_t memory_limit;  /* bytes, 0 = none */
	int64_t nano_cpus;     /* 0 = none */
	int64_t cpu_quota;     /* us per cpu_period, 0 = none */
	int64_t cpu_period;
	int64_t pids_limit; /* 0 or -1 = none */
	/* the pids.max of the Kubernetes pod's cgroup, where kubelet puts
	 * podPidsLimit (no CRI spec carries one), read from cgroupfs for a
	 * container in a pod without a limit of its own: 0 not read, -1 none */
	int64_t pod_pids_limit;
	char userns_mode[32]; /* "" or "host" (Docker UsernsMode) */
	/* capability names upper case without "CAP_" ("NET_ADMIN", "ALL") */
	char cap_add[VG_CTR_CAPS_MAX][32];
	unsigned ncap_add;
	char cap_drop[VG_CTR_CAPS_MAX][32];
	unsigned ncap_drop;
	bool caps_from_spec; /* cap_add/cap_drop from an OCI spec's bounding set
				(containerd, CRI-O), not from a runtime's defaults */
	struct vg_port_binding ports[VG_CTR_PORTS_MAX];
	unsigned nports;
	/* the image's EXPOSEd ports (container_port, proto), and -P: every one
	 * of them published on all addresses */
	struct vg_port_binding exposed[VG_CTR_PORTS_MAX];
	unsigned nexposed;
	bool publish_all;
	struct vg_mount_spec mounts[VG_CTR_MOUNTS_MAX];
	unsigned nmounts;
	char env_names[VG_CTR_ENV_MAX][64]; /* names only, never values */
	unsigned nenv;
	unsigned parse_errors; /* malformed fields met while reading */

	/* runtime view, filled with the rest */
	bool running;
	bool tty;	 /* main process has a terminal */
	int32_t pid;	 /* host pid of the main process, 0 unknown */
	char source[16]; /* where it came from: "docker-api",
			    "docker-state", "oci", "cri-o", ... */
};

/* Label value for key, or NULL. */
const char *vg_container_label(const struct vg_container *c, const char *key);

/* The runtime places c in a Kubernetes pod: a pod UID from the CRI's
 * annotations, or the io.kubernetes.pod.uid label (cri-dockerd's). */
bool vg_container_in_pod(const struct vg_container *c);

/*
 * A pod's container that kubelet made through Docker (cri-dockerd): the
 * pod's name, namespace and uid as its io.kubernetes.pod.* labels say,
 * when c has none yet and its cgroup (kubelet's path, .../pod<uid>) names
 * the same pod uid.  A label alone names no pod: an image's LABEL and any
 * `docker run --label` set them too.
 */
void vg_container_pod_from_labels(struct vg_container *c);

/*
 * Helpers shared by the runtime parsers (docker, cri): copy JSON values of
 * a parsed state document into c.  A missing (i < 0) or null value leaves
 * the field as it is; a value of the wrong type counts in c->parse_errors.
 */
struct vg_jdoc;
void vg_container_jstr(struct vg_container *c, const struct vg_jdoc *d, int i, char *dst,
		       size_t dstsz);
void vg_container_jbool(struct vg_container *c, const struct vg_jdoc *d, int i, bool *dst);
void vg_container_ji64(struct vg_container *c, const struct vg_jdoc *d, int i, int64_t *dst);
/* object of strings -> labels (appended; labels_truncated when full) */
void vg_container_jlabels(struct vg_container *c, const struct vg_jdoc *d, int obj);
/* array of "NAME=value" -> env_names (replaced); values are never copied */
void vg_container_jenv(struct vg_container *c, const struct vg_jdoc *d, int arr);
/* array of capability names -> caps (replaced), "CAP_" prefix removed */
void vg_container_jcaps(struct vg_container *c, const struct vg_jdoc *d, int arr, char (*caps)[32],
			unsigned *n);
/* append the strings of arr (or the single string i) to c->cmd, space separated */
void vg_container_jcmd(struct vg_container *c, const struct vg_jdoc *d, int i);
/* copy src into dst (size dstsz > 0), cut and NUL terminated */
void vg_container_scopy(char *dst, size_t dstsz, const char *src);
/* append one label (key and value copied, bounded) */
void vg_container_add_label(struct vg_container *c, const char *key, const char *value);

#endif
