/*
 * cri: OCI runtime specs and containers/storage state to struct vg_container.
 *
 * The spec states capabilities as the full bounding set, where Docker's
 * configuration states differences from a default.  To give posture one
 * vocabulary, the set is compared with the default set that Docker,
 * containerd and CRI-O grant (the 14 below): extra ones become cap_add,
 * missing ones cap_drop ("ALL" when none is left).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/cri.h"
#include "vigil/jsonp.h"

/* containerd's identifiers (namespace names among them) are at most 76
 * characters; a longer directory is none of its namespaces */
#define CONTAINERD_NS_MAX 76

static const char *const default_caps[] = {
	"CHOWN",   "DAC_OVERRIDE", "FSETID",	       "FOWNER",
	"MKNOD",   "NET_RAW",	   "SETGID",	       "SETUID",
	"SETFCAP", "SETPCAP",	   "NET_BIND_SERVICE", "SYS_CHROOT",
	"KILL",	   "AUDIT_WRITE",
};
#define NDEFAULT_CAPS (sizeof(default_caps) / sizeof(default_caps[0]))
/* a bounding set this large (with SYS_ADMIN) is what --privileged gives */
#define PRIVILEGED_CAPS 38

/* annotation -> field, first match wins (containerd CRI, then CRI-O) */
struct ann_map {
	const char *key;
	size_t off;
	size_t size;
};

#define F(field) offsetof(struct vg_container, field), sizeof(((struct vg_container *)0)->field)
static const struct ann_map ann_maps[] = {
	{"io.kubernetes.cri.container-name", F(name)},
	{"io.kubernetes.container.name", F(name)},
	{"io.kubernetes.cri.image-name", F(image)},
	{"io.kubernetes.cri-o.ImageName", F(image)},
	{"io.kubernetes.cri-o.Image", F(image_id)},
	{"io.kubernetes.cri.sandbox-name", F(pod_name)},
	{"io.kubernetes.pod.name", F(pod_name)},
	{"io.kubernetes.cri.sandbox-namespace", F(pod_namespace)},
	{"io.kubernetes.pod.namespace", F(pod_namespace)},
	{"io.kubernetes.cri.sandbox-uid", F(pod_uid)},
	{"io.kubernetes.pod.uid", F(pod_uid)},
};
#undef F

/* runtime-managed files bound into every container: not the user's mounts */
static bool runtime_mount(const char *dest)
{
	static const char *const d[] = {
		"/etc/hosts", "/etc/hostname",	      "/etc/resolv.conf",
		"/dev/shm",   "/dev/termination-log", "/run/.containerenv",
	};

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (!strcmp(dest, d[i]))
			return true;
	return false;
}

static void parse_annotations(struct vg_container *c, const struct vg_jdoc *d, int obj)
{
	bool sandbox = false, crio, libpod;
	int manager, crio_type;

	if (vg_jsonp_type(d, obj) != VG_J_OBJ) {
		if (vg_jsonp_type(d, obj) != VG_J_NONE && vg_jsonp_type(d, obj) != VG_J_NULL)
			c->parse_errors++;
		return;
	}
	/*
	 * CRI-O never writes containerd's io.kubernetes.cri.* keys, but copies
	 * every annotation of the pod into its specs: in one of its specs those
	 * keys are the pod author's, who could name another namespace or pod.
	 * Its own io.kubernetes.pod.* keys are written after the pod's.
	 */
	manager = vg_jsonp_get(d, obj, "io.container.manager");
	crio_type = vg_jsonp_get(d, obj, "io.kubernetes.cri-o.ContainerType");
	crio = vg_jsonp_eq(d, manager, "cri-o") || crio_type >= 0;
	/*
	 * Podman is no Kubernetes: every annotation of its spec is whatever
	 * `podman run --annotation` said, so none of them names a pod, and
	 * the name comes from its containers.json
	 */
	libpod = vg_jsonp_eq(d, manager, "libpod");
	for (size_t m = 0; m < sizeof(ann_maps) / sizeof(ann_maps[0]); m++) {
		char *dst = (char *)c + ann_maps[m].off;
		int v;

		if (dst[0] || libpod ||
		    (crio && !strncmp(ann_maps[m].key, "io.kubernetes.cri.", 18)))
			continue;
		v = vg_jsonp_get(d, obj, ann_maps[m].key);
		if (v >= 0)
			vg_container_jstr(c, d, v, dst, ann_maps[m].size);
	}
	if (libpod)
		vg_container_scopy(c->source, sizeof(c->source), "podman");
	/* a pod's sandbox (pause) container has no container name */
	sandbox =
		!libpod &&
		((!crio && vg_jsonp_eq(d, vg_jsonp_get(d, obj, "io.kubernetes.cri.container-type"),
				       "sandbox")) ||
		 vg_jsonp_eq(d, crio_type, "sandbox"));
	if (sandbox && !c->name[0])
		vg_container_scopy(c->name, sizeof(c->name), "POD");

	/* CRI-O keeps the container's labels as one JSON string */
	int lab = vg_jsonp_get(d, obj, "io.kubernetes.cri-o.Labels");

	if (vg_jsonp_type(d, lab) == VG_J_STR) {
		char *txt = malloc(VG_JSONP_STR_MAX + 1);
		struct vg_jdoc ld;
		bool cut = false;
		int n;

		if (!txt)
			return;
		n = vg_jsonp_str(d, lab, txt, VG_JSONP_STR_MAX + 1, -1, &cut);
		if (n > 0 && !cut && !vg_jsonp_parse_alloc(&ld, txt, (size_t)n)) {
			vg_container_jlabels(c, &ld, 0);
			vg_jsonp_free(&ld);
		} else if (n > 0) {
			c->parse_errors++;
		}
		free(txt);
	}
}

/* The standard CRI labels, so consumers find the pod the same way always. */
static void add_k8s_labels(struct vg_container *c)
{
	static const struct {
		const char *key;
		size_t off;
	} l[] = {
		{"io.kubernetes.pod.name", offsetof(struct vg_container, pod_name)},
		{"io.kubernetes.pod.namespace", offsetof(struct vg_container, pod_namespace)},
		{"io.kubernetes.pod.uid", offsetof(struct vg_container, pod_uid)},
		{"io.kubernetes.container.name", offsetof(struct vg_container, name)},
	};

	if (!c->pod_name[0] && !c->pod_uid[0])
		return;
	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
		const char *v = (const char *)c + l[i].off;

		if (v[0] && !vg_container_label(c, l[i].key))
			vg_container_add_label(c, l[i].key, v);
	}
}

static bool in_list(char (*caps)[32], unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(caps[i], name))
			return true;
	return false;
}

static void parse_caps(struct vg_container *c, const struct vg_jdoc *d, int arr, int masked)
{
	char caps[64][32];
	unsigned n = 0;

	if (vg_jsonp_type(d, arr) != VG_J_ARR)
		return;
	c->caps_from_spec = true;
	/* the whole bounding set (up to 64), normalised like vg_container_jcaps */
	for (int i = vg_jsonp_first(d, arr); i >= 0 && n < 64; i = vg_jsonp_next(d, i)) {
		char tmp[40], *s = tmp;

		if (vg_jsonp_str(d, i, tmp, sizeof(tmp), -1, NULL) < 0) {
			c->parse_errors++;
			continue;
		}
		if (!strncmp(s, "CAP_", 4))
			s += 4;
		vg_container_scopy(caps[n++], 32, s);
	}
	c->ncap_add = c->ncap_drop = 0;
	if (n >= PRIVILEGED_CAPS && in_list(caps, n, "SYS_ADMIN") && vg_jsonp_count(d, masked) == 0)
		c->privileged = true;
	for (unsigned i = 0; i < n && c->ncap_add < VG_CTR_CAPS_MAX; i++) {
		bool dflt = false;

		for (size_t k = 0; k < NDEFAULT_CAPS; k++)
			dflt |= !strcmp(caps[i], default_caps[k]);
		if (!dflt)
			vg_container_scopy(c->cap_add[c->ncap_add++], 32, caps[i]);
	}
	if (n == 0) {
		vg_container_scopy(c->cap_drop[c->ncap_drop++], 32, "ALL");
		return;
	}
	for (size_t k = 0; k < NDEFAULT_CAPS && c->ncap_drop < VG_CTR_CAPS_MAX; k++)
		if (!in_list(caps, n, default_caps[k]))
			vg_container_scopy(c->cap_drop[c->ncap_drop++], 32, default_caps[k]);
}

static void parse_spec_mounts(struct vg_container *c, const struct vg_jdoc *d, int arr)
{
	if (vg_jsonp_type(d, arr) != VG_J_ARR)
		return;
	c->nmounts = 0;
	for (int i = vg_jsonp_first(d, arr); i >= 0 && c->nmounts < VG_CTR_MOUNTS_MAX;
	     i = vg_jsonp_next(d, i)) {
		struct vg_mount_spec m = {0};
		int opts = vg_jsonp_get(d, i, "options");
		bool bind = false;

		vg_container_jstr(c, d, vg_jsonp_get(d, i, "type"), m.type, sizeof(m.type));
		vg_container_jstr(c, d, vg_jsonp_get(d, i, "source"), m.source, sizeof(m.source));
		vg_container_jstr(c, d, vg_jsonp_get(d, i, "destination"), m.destination,
				  sizeof(m.destination));
		m.rw = true;
		for (int o = vg_jsonp_first(d, opts); o >= 0; o = vg_jsonp_next(d, o)) {
			if (vg_jsonp_eq(d, o, "ro"))
				m.rw = false;
			if (vg_jsonp_eq(d, o, "bind") || vg_jsonp_eq(d, o, "rbind"))
				bind = true;
		}
		/* only what the user asked for: binds and volumes, not /proc, /dev, ... */
		if (strcmp(m.type, "bind") && !(bind && m.source[0] == '/'))
			continue;
		if (runtime_mount(m.destination))
			continue;
		vg_container_scopy(m.type, sizeof(m.type), "bind");
		c->mounts[c->nmounts++] = m;
	}
}

static void parse_namespaces(struct vg_container *c, const struct vg_jdoc *d, int arr)
{
	bool pid = false, net = false, ipc = false;

	if (vg_jsonp_type(d, arr) != VG_J_ARR)
		return;
	for (int i = vg_jsonp_first(d, arr); i >= 0; i = vg_jsonp_next(d, i)) {
		int t = vg_jsonp_get(d, i, "type");
		bool joined = vg_jsonp_type(d, vg_jsonp_get(d, i, "path")) == VG_J_STR;

		if (vg_jsonp_eq(d, t, "pid"))
			pid = true;
		else if (vg_jsonp_eq(d, t, "network")) {
			net = true;
			/* joining an existing one: the pod's sandbox, or --network container: */
			if (joined)
				vg_container_scopy(c->network_mode, sizeof(c->network_mode),
						   "shared");
		} else if (vg_jsonp_eq(d, t, "ipc"))
			ipc = true;
		else if (vg_jsonp_eq(d, t, "user"))
			c->userns_remap = true;
	}
	if (!pid)
		vg_container_scopy(c->pid_mode, sizeof(c->pid_mode), "host");
	if (!net)
		vg_container_scopy(c->network_mode, sizeof(c->network_mode), "host");
	if (!ipc)
		vg_container_scopy(c->ipc_mode, sizeof(c->ipc_mode), "host");
}

int vg_cri_parse_spec(const char *json, size_t len, struct vg_container *c)
{
	struct vg_jdoc d;
	int proc, lin, res, err;
	int64_t uid = -1, gid = -1;

	if (!json || !c)
		return -EINVAL;
	err = vg_jsonp_parse_object(&d, json, len);
	if (err)
		return err;
	parse_annotations(c, &d, vg_jsonp_get(&d, 0, "annotations"));
	add_k8s_labels(c);

	proc = vg_jsonp_get(&d, 0, "process");
	if (vg_jsonp_type(&d, proc) == VG_J_OBJ) {
		vg_container_ji64(c, &d, vg_jsonp_path(&d, proc, "user.uid"), &uid);
		vg_container_ji64(c, &d, vg_jsonp_path(&d, proc, "user.gid"), &gid);
		if (uid >= 0)
			snprintf(c->user, sizeof(c->user), "%lld:%lld", (long long)uid,
				 (long long)(gid >= 0 ? gid : 0));
		vg_container_jbool(c, &d, vg_jsonp_get(&d, proc, "terminal"), &c->tty);
		vg_container_jbool(c, &d, vg_jsonp_get(&d, proc, "noNewPrivileges"),
				   &c->no_new_privileges);
		vg_container_jenv(c, &d, vg_jsonp_get(&d, proc, "env"));
		c->cmd[0] = '\0';
		vg_container_jcmd(c, &d, vg_jsonp_get(&d, proc, "args"));
	}
	vg_container_jbool(c, &d, vg_jsonp_path(&d, 0, "root.readonly"), &c->readonly_rootfs);
	parse_spec_mounts(c, &d, vg_jsonp_get(&d, 0, "mounts"));

	lin = vg_jsonp_get(&d, 0, "linux");
	if (vg_jsonp_type(&d, lin) == VG_J_OBJ) {
		parse_caps(c, &d, vg_jsonp_path(&d, proc, "capabilities.bounding"),
			   vg_jsonp_get(&d, lin, "maskedPaths"));
		parse_namespaces(c, &d, vg_jsonp_get(&d, lin, "namespaces"));
		res = vg_jsonp_get(&d, lin, "resources");
		vg_container_ji64(c, &d, vg_jsonp_path(&d, res, "memory.limit"), &c->memory_limit);
		vg_container_ji64(c, &d, vg_jsonp_path(&d, res, "cpu.quota"), &c->cpu_quota);
		vg_container_ji64(c, &d, vg_jsonp_path(&d, res, "cpu.period"), &c->cpu_period);
		vg_container_ji64(c, &d, vg_jsonp_path(&d, res, "pids.limit"), &c->pids_limit);
	}
	vg_jsonp_free(&d);
	return 0;
}

int vg_cri_parse_storage_list(const char *json, size_t len, const char *id, struct vg_container *c)
{
	struct vg_jdoc d;
	int err = -ENOENT;

	if (!json || !id || !c)
		return -EINVAL;
	if (vg_jsonp_parse_alloc(&d, json, len))
		return -EINVAL;
	for (int i = vg_jsonp_first(&d, 0); i >= 0; i = vg_jsonp_next(&d, i)) {
		int md;

		if (!vg_jsonp_eq(&d, vg_jsonp_get(&d, i, "id"), id))
			continue;
		err = 0;
		if (!c->name[0])
			vg_container_jstr(c, &d, vg_jsonp_first(&d, vg_jsonp_get(&d, i, "names")),
					  c->name, sizeof(c->name));
		if (!c->image_id[0])
			vg_container_jstr(c, &d, vg_jsonp_get(&d, i, "image"), c->image_id,
					  sizeof(c->image_id));
		/* metadata is a JSON document in a string: {"image-name": ...} */
		md = vg_jsonp_get(&d, i, "metadata");
		if (vg_jsonp_type(&d, md) == VG_J_STR && !c->image[0]) {
			char *txt = malloc(VG_JSONP_STR_MAX + 1);
			struct vg_jdoc mdoc;
			bool cut = false;
			int n;

			if (!txt)
				break;
			n = vg_jsonp_str(&d, md, txt, VG_JSONP_STR_MAX + 1, -1, &cut);
			if (n > 0 && !cut && !vg_jsonp_parse_alloc(&mdoc, txt, (size_t)n)) {
				vg_container_jstr(c, &mdoc, vg_jsonp_get(&mdoc, 0, "image-name"),
						  c->image, sizeof(c->image));
				vg_jsonp_free(&mdoc);
			} else if (n > 0) {
				c->parse_errors++;
			}
			free(txt);
		}
		break;
	}
	vg_jsonp_free(&d);
	return err;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n != VG_CTR_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

/* Read and parse root/rel as a spec; buffer wiped (it holds env values). */
static int read_spec(const char *root, const char *rel, struct vg_container *c)
{
	char *buf = NULL;
	size_t len = 0;
	int err = vg_jsonp_read_file(root, rel, VG_JSONP_FILE_MAX, &buf, &len);

	if (err)
		return err;
	err = vg_cri_parse_spec(buf, len, c);
	explicit_bzero(buf, len);
	free(buf);
	return err;
}

static int try_namespaces(const char *root, const char *sub, const char *id, struct vg_container *c)
{
	char path[512], rel[512];
	struct dirent *de;
	DIR *dir;
	int err;

	snprintf(rel, sizeof(rel), "%s/k8s.io/%s/config.json", sub, id);
	err = read_spec(root, rel, c);
	if (err != -ENOENT)
		return err;
	snprintf(path, sizeof(path), "%s/%s", root, sub);
	dir = opendir(path);
	if (!dir)
		return -ENOENT;
	err = -ENOENT;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "k8s.io") ||
		    strlen(de->d_name) > CONTAINERD_NS_MAX)
			continue;
		snprintf(rel, sizeof(rel), "%s/%s/%s/config.json", sub, de->d_name, id);
		err = read_spec(root, rel, c);
		/* an entry that is not a directory (a file, a symlink: not
		 * followed) is no namespace; the scan goes on past it */
		if (err == -ENOTDIR || err == -ELOOP)
			err = -ENOENT;
		if (err != -ENOENT)
			break;
	}
	closedir(dir);
	return err;
}

int vg_cri_read_containerd(const char *root, const char *id, struct vg_container *c)
{
	int err;

	if (!root || !id || !c || !valid_id(id))
		return -EINVAL;
	err = try_namespaces(root, "io.containerd.runtime.v2.task", id, c);
	if (err == -ENOENT)
		err = try_namespaces(root, "io.containerd.runtime.v1.linux", id, c);
	if (err)
		return err;
	vg_container_scopy(c->source, sizeof(c->source), "containerd");
	c->running = true;
	c->enrich = VG_ENRICH_DONE;
	return 0;
}

int vg_cri_read_storage(const char *root, const char *runroot, const char *id, enum vg_runtime rt,
			struct vg_container *c)
{
	char rel[160];
	char *buf = NULL;
	size_t len = 0;
	int err;

	if (!root || !id || !c || !valid_id(id))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "overlay-containers/%s/userdata/config.json", id);
	err = read_spec(root, rel, c);
	if (err == -ENOENT && runroot)
		err = read_spec(runroot, rel, c);
	if (err)
		return err;
	if (!c->name[0] || !c->image[0]) {
		if (!vg_jsonp_read_file(root, "overlay-containers/containers.json",
					4 * VG_JSONP_FILE_MAX, &buf, &len)) {
			vg_cri_parse_storage_list(buf, len, id, c);
			free(buf);
		}
	}
	if (!c->source[0])
		vg_container_scopy(c->source, sizeof(c->source),
				   rt == VG_RT_PODMAN ? "podman" : "cri-o");
	c->running = true;
	c->enrich = VG_ENRICH_DONE;
	return 0;
}
