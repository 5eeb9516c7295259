/*
 * cri: container identity for containerd (incl. Kubernetes CRI), CRI-O and
 * Podman, read from the OCI runtime spec each runtime writes for its
 * container (config.json), plus containers/storage's containers.json for
 * Podman's names.
 *
 * Why the spec and not containerd's metadata database: the spec is plain
 * JSON on tmpfs, written before the container starts, and containerd's CRI
 * plugin puts the pod identity in it as annotations
 * (io.kubernetes.cri.sandbox-name / -namespace / -uid, container-name,
 * image-name); CRI-O does the same with io.kubernetes.pod.* and its own
 * io.kubernetes.cri-o.* keys (Labels holds the container's labels as a JSON
 * string).  The bolt database would need a new dependency and a lock.
 *
 * The standard CRI labels (io.kubernetes.pod.name, .pod.namespace,
 * .pod.uid, .container.name) are always present in c->labels when the
 * pod identity is known, whichever runtime gave it.
 *
 * Files are read with vg_jsonp_read_file(): no symlinks, size capped.
 */
#ifndef VIGIL_CRI_H
#define VIGIL_CRI_H

#include <stddef.h>

#include "vigil/container.h"

#define VG_CONTAINERD_ROOT "/run/containerd"
#define VG_STORAGE_ROOT "/var/lib/containers/storage"
#define VG_STORAGE_RUNROOT "/run/containers/storage"

/* OCI runtime spec (config.json) with runtime annotations into c: identity
 * from annotations, configuration (user, args, env names, capabilities,
 * mounts, namespaces, resource limits) from the spec itself. */
int vg_cri_parse_spec(const char *json, size_t len, struct vg_container *c);

/* containers/storage containers.json: fill name and image of id. -ENOENT
 * when id is not listed. */
int vg_cri_parse_storage_list(const char *json, size_t len, const char *id, struct vg_container *c);

/* containerd: <root>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json
 * (then the v1 linux runtime folder) in any namespace, "k8s.io" first. */
int vg_cri_read_containerd(const char *root, const char *id, struct vg_container *c);

/* CRI-O and Podman: <root>/overlay-containers/<id>/userdata/config.json
 * (root, then runroot), names from <root>/overlay-containers/containers.json
 * when the spec does not carry them.  rt says which runtime to name in
 * c->source. */
int vg_cri_read_storage(const char *root, const char *runroot, const char *id, enum vg_runtime rt,
			struct vg_container *c);

#endif
