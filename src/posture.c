/*
 * posture: configuration findings for one container.
 *
 * Every check reads only struct vg_container (what the runtime reported);
 * nothing here touches the host.  A finding has a catalogue entry (stable
 * name, default severity, one-line remedy) and, per instance, a summary
 * built from the container's own fields.  Severity is configurable per
 * finding; a few findings shift one level per instance around that base
 * (a datastore port is one above a generic port, a read-only sensitive
 * mount one below a read-write one, root under user-namespace remapping
 * one below plain root), so a configured base keeps those distinctions.
 *
 * Values of environment variables never reach this module: container.h
 * keeps names only, and so every output here is free of them by
 * construction.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/docker.h"
#include "vigil/incident.h"
#include "vigil/jsonp.h"
#include "vigil/posture.h"
#include "vigil/rules.h"
#include "vigil/sampler.h"

struct catalogue_entry {
	const char *name;
	enum vg_out_sev sev;
	const char *remedy;
};

static const struct catalogue_entry catalogue[VG_PF_COUNT] = {
	[VG_PF_PORT_ALL_ADDRS] = {"posture_port_all_addresses", VG_OUT_SEV_MEDIUM,
				  "publish on one address: ports: [\"127.0.0.1:HOST:CTR\"] / "
				  "-p 127.0.0.1:HOST:CTR"},
	[VG_PF_NO_MEMORY_LIMIT] = {"posture_no_memory_limit", VG_OUT_SEV_MEDIUM,
				   "set a memory limit: mem_limit: 512m / -m 512m"},
	[VG_PF_NO_CPU_LIMIT] = {"posture_no_cpu_limit", VG_OUT_SEV_LOW,
				"set a CPU limit: cpus: \"1.0\" / --cpus 1"},
	[VG_PF_NO_PIDS_LIMIT] = {"posture_no_pids_limit", VG_OUT_SEV_LOW,
				 "set a process limit: pids_limit: 200 / --pids-limit 200"},
	[VG_PF_ROOT_USER] = {"posture_root_user", VG_OUT_SEV_MEDIUM,
			     "run as an unprivileged user: user: \"1000:1000\" / --user 1000:1000"},
	[VG_PF_PRIVILEGED] = {"posture_privileged", VG_OUT_SEV_CRITICAL,
			      "drop privileged mode: remove privileged: true / --privileged"},
	[VG_PF_CAP_ADDED] = {"posture_cap_added", VG_OUT_SEV_HIGH,
			     "remove the capability: cap_add / --cap-add"},
	[VG_PF_DEFAULT_CAPS] = {"posture_default_caps", VG_OUT_SEV_LOW,
				"drop default capabilities: cap_drop: [ALL] / --cap-drop ALL "
				"(add back only what is needed)"},
	[VG_PF_NEW_PRIVILEGES] = {"posture_new_privileges_allowed", VG_OUT_SEV_LOW,
				  "security_opt: [\"no-new-privileges:true\"] / "
				  "--security-opt no-new-privileges"},
	[VG_PF_WRITABLE_ROOTFS] = {"posture_writable_rootfs", VG_OUT_SEV_LOW,
				   "make the root filesystem read-only: read_only: true / "
				   "--read-only (tmpfs for scratch paths)"},
	[VG_PF_DOCKER_SOCKET] = {"posture_docker_socket", VG_OUT_SEV_CRITICAL,
				 "do not mount the runtime socket: remove the volume / -v "
				 "/var/run/docker.sock"},
	[VG_PF_SENSITIVE_MOUNT] = {"posture_sensitive_mount", VG_OUT_SEV_HIGH,
				   "do not bind-mount host system paths: volumes / -v (use a "
				   "named volume, or :ro on a narrow path)"},
	[VG_PF_HOST_PID] = {"posture_host_pid", VG_OUT_SEV_HIGH,
			    "use a private PID namespace: remove pid: host / --pid host"},
	[VG_PF_HOST_NETWORK] = {"posture_host_network", VG_OUT_SEV_HIGH,
				"use a bridge network: remove network_mode: host / --network host"},
	[VG_PF_HOST_IPC] = {"posture_host_ipc", VG_OUT_SEV_MEDIUM,
			    "use a private IPC namespace: remove ipc: host / --ipc host"},
	[VG_PF_SECRET_ENV] = {"posture_secret_env", VG_OUT_SEV_MEDIUM,
			      "pass secrets as files: secrets: (compose) / a mounted file and "
			      "NAME_FILE instead of -e NAME=..."},
};

static bool sev_valid(enum vg_out_sev sev)
{
	return (unsigned)sev < VG_OUT_SEV__MAX;
}

unsigned vg_posture_ecs_severity(enum vg_out_sev sev)
{
	/* the usual ECS risk bands: low 21, medium 47, high 73, critical 99 */
	static const unsigned score[VG_OUT_SEV__MAX] = {
		[VG_OUT_SEV_INFO] = 0,	[VG_OUT_SEV_LOW] = 21,	    [VG_OUT_SEV_MEDIUM] = 47,
		[VG_OUT_SEV_HIGH] = 73, [VG_OUT_SEV_CRITICAL] = 99,
	};

	return sev_valid(sev) ? score[sev] : 0;
}

const char *vg_posture_name(enum vg_pfind id)
{
	if ((unsigned)id >= VG_PF_COUNT)
		return "posture_unknown";
	return catalogue[id].name;
}

const char *vg_posture_remedy(enum vg_pfind id)
{
	if ((unsigned)id >= VG_PF_COUNT)
		return "";
	return catalogue[id].remedy;
}

void vg_posture_cfg_default(struct vg_posture_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (unsigned i = 0; i < VG_PF_COUNT; i++) {
		cfg->enabled[i] = true;
		cfg->sev[i] = catalogue[i].sev;
	}
}

int vg_posture_find(const char *name)
{
	if (!name)
		return -EINVAL;
	for (unsigned i = 0; i < VG_PF_COUNT; i++) {
		const char *n = catalogue[i].name;

		if (!strcmp(name, n) || !strcmp(name, n + strlen("posture_")))
			return (int)i;
	}
	return -ENOENT;
}

int vg_posture_cfg_enable(struct vg_posture_cfg *cfg, const char *finding, bool on)
{
	int id;

	if (!cfg)
		return -EINVAL;
	id = vg_posture_find(finding);
	if (id < 0)
		return id;
	cfg->enabled[id] = on;
	return 0;
}

int vg_posture_cfg_severity(struct vg_posture_cfg *cfg, const char *finding, enum vg_out_sev sev)
{
	int id;

	if (!cfg || !sev_valid(sev))
		return -EINVAL;
	id = vg_posture_find(finding);
	if (id < 0)
		return id;
	cfg->sev[id] = sev;
	return 0;
}

int vg_posture_cfg_allow(struct vg_posture_cfg *cfg, const char *finding, enum vg_pmatch kind,
			 const char *pattern)
{
	struct vg_posture_allow *a;
	int id = -1;

	if (!cfg || !pattern || !*pattern || strlen(pattern) >= VG_POSTURE_PATTERN_MAX)
		return -EINVAL;
	if (kind != VG_PM_NAME && kind != VG_PM_IMAGE && kind != VG_PM_LABEL)
		return -EINVAL;
	if (finding && strcmp(finding, "*")) {
		id = vg_posture_find(finding);
		if (id < 0)
			return id;
	}
	if (cfg->nallow >= VG_POSTURE_ALLOW_MAX)
		return -ENOSPC;
	a = &cfg->allow[cfg->nallow++];
	a->finding = id;
	a->kind = kind;
	snprintf(a->pattern, sizeof(a->pattern), "%s", pattern);
	return 0;
}

int vg_posture_cfg_add_port(struct vg_posture_cfg *cfg, uint16_t port)
{
	if (!cfg || !port)
		return -EINVAL;
	if (cfg->nextra_ports >= VG_POSTURE_EXTRA_PORTS_MAX)
		return -ENOSPC;
	cfg->extra_ports[cfg->nextra_ports++] = port;
	return 0;
}

/* ---- matching helpers ---- */

static bool label_matches(const struct vg_container *c, const char *pattern)
{
	const char *eq = strchr(pattern, '=');
	char key[VG_POSTURE_PATTERN_MAX];
	const char *val;

	if (!eq)
		return vg_container_label(c, pattern) != NULL;
	snprintf(key, sizeof(key), "%.*s", (int)(eq - pattern), pattern);
	val = vg_container_label(c, key);
	return val && fnmatch(eq + 1, val, 0) == 0;
}

static bool allowed(const struct vg_posture_cfg *cfg, const struct vg_container *c,
		    enum vg_pfind id)
{
	for (unsigned i = 0; i < cfg->nallow && i < VG_POSTURE_ALLOW_MAX; i++) {
		const struct vg_posture_allow *a = &cfg->allow[i];
		bool hit = false;

		if (a->finding >= 0 && a->finding != (int)id)
			continue;
		switch (a->kind) {
		case VG_PM_NAME:
			hit = fnmatch(a->pattern, c->name, 0) == 0;
			break;
		case VG_PM_IMAGE:
			hit = fnmatch(a->pattern, c->image, 0) == 0;
			break;
		case VG_PM_LABEL:
			hit = label_matches(c, a->pattern);
			break;
		}
		if (hit)
			return true;
	}
	return false;
}

/* Capability names arrive as "NET_RAW", "CAP_NET_RAW" or "net_raw". */
static void cap_norm(char *dst, size_t dstsz, const char *cap)
{
	size_t i = 0;

	if (!strncasecmp(cap, "CAP_", 4))
		cap += 4;
	for (; cap[i] && i + 1 < dstsz; i++)
		dst[i] = (char)toupper((unsigned char)cap[i]);
	dst[i] = '\0';
}

static bool cap_listed(const char (*caps)[32], unsigned n, const char *want)
{
	char norm[32];

	for (unsigned i = 0; i < n && i < VG_CTR_CAPS_MAX; i++) {
		cap_norm(norm, sizeof(norm), caps[i]);
		if (!strcmp(norm, want) || !strcmp(norm, "ALL"))
			return true;
	}
	return false;
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* Capabilities that give a way out of, or around, the container. */
static const char *const caps_high[] = {
	"SYS_ADMIN",	"SYS_PTRACE",	   "SYS_MODULE", "SYS_RAWIO", "SYS_BOOT",
	"NET_ADMIN",	"DAC_READ_SEARCH", "BPF",	 "PERFMON",   "MAC_ADMIN",
	"MAC_OVERRIDE", "SYSLOG",	   NULL,
};

/* Docker's default set, riskiest first; the rest of the defaults (CHOWN,
 * FSETID, FOWNER, KILL, NET_BIND_SERVICE) are not reported. */
static const char *const caps_default_risky[] = {
	"NET_RAW", "MKNOD",  "DAC_OVERRIDE", "SETFCAP",	    "SETPCAP",
	"SETUID",  "SETGID", "SYS_CHROOT",   "AUDIT_WRITE", NULL,
};

/* Datastores and admin endpoints that should never face every address. */
static const uint16_t sensitive_ports[] = {
	22,   1433, 1521, 2375, 2376, 2379, 2380, 3306, 5432,  5601,  5672,  5900,  5984,  6379,
	6443, 7001, 8086, 8500, 8983, 9042, 9200, 9300, 10250, 11211, 15672, 27017, 27018,
};

static bool port_sensitive(const struct vg_posture_cfg *cfg, uint16_t port)
{
	for (size_t i = 0; i < sizeof(sensitive_ports) / sizeof(sensitive_ports[0]); i++)
		if (sensitive_ports[i] == port)
			return true;
	for (unsigned i = 0; i < cfg->nextra_ports && i < VG_POSTURE_EXTRA_PORTS_MAX; i++)
		if (cfg->extra_ports[i] == port)
			return true;
	return false;
}

static bool addr_is_any(const char *ip)
{
	return !*ip || !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::") || !strcmp(ip, "[::]");
}

/* user "" / "0" / "root", with any group ("0:0", "root:staff") */
static bool user_is_root(const char *user)
{
	size_t n = strcspn(user, ":");

	return n == 0 || (n == 1 && user[0] == '0') || (n == 4 && !strncmp(user, "root", 4));
}

/*
 * Host paths whose exposure hands over the host, matched on a bind's
 * source after a lexical clean, with /var/run read as /run (a symlink to
 * it on every current distribution; Docker resolves a source's symlinks):
 *   SP_EXACT    the path itself
 *   SP_TREE     the path and everything below it
 *   SP_TREE_RW  the path itself, and below it read-write binds only (a
 *               read-only /etc/localtime or /usr/share/zoneinfo is fine)
 * A directory above any of them counts as well: a bind of /var or of
 * /var/lib hands over /var/lib/docker as surely as a bind of it does.
 */
enum sp_kind {
	SP_EXACT,
	SP_TREE,
	SP_TREE_RW,
};

struct sensitive_path {
	const char *path;
	enum sp_kind kind;
};

static const struct sensitive_path sensitive_paths[] = {
	{"/", SP_EXACT},
	{"/etc", SP_TREE_RW},
	{"/proc", SP_TREE},
	{"/sys", SP_TREE},
	{"/dev", SP_TREE}, /* /dev/mem, the disks, ...; benign_paths aside */
	{"/boot", SP_TREE},
	{"/root", SP_TREE},
	{"/home", SP_EXACT},
	/* the host's programs and libraries: written, they run as root */
	{"/usr", SP_TREE_RW},
	{"/bin", SP_TREE_RW},
	{"/sbin", SP_TREE_RW},
	{"/lib", SP_TREE_RW},
	{"/lib32", SP_TREE_RW},
	{"/lib64", SP_TREE_RW},
	{"/lib/modules", SP_TREE},
	{"/usr/lib/modules", SP_TREE},
	/* the runtimes' state beside their sockets: other containers' root
	 * file systems, runc's state (every container's environment) */
	{"/run/containerd", SP_TREE},
	{"/run/docker", SP_TREE},
	{"/run/crio", SP_TREE},
	{"/run/podman", SP_TREE},
	{"/run/containers", SP_TREE},
	{"/run/runc", SP_TREE},
	{"/run/k3s", SP_TREE},
	/* systemd's own socket and the system bus: root on them starts host
	 * units */
	{"/run/systemd", SP_TREE},
	{"/run/dbus", SP_TREE},
	{"/var/lib/docker", SP_TREE},
	{"/var/lib/containerd", SP_TREE},
	{"/var/lib/containers", SP_TREE},
	{"/var/lib/kubelet", SP_TREE},
	{"/var/log", SP_EXACT},
};

/* Below the trees above, what a container may well be given (fnmatch
 * patterns): the harmless devices, GPUs, sound, serial adapters, USB,
 * video capture, I2C and GPIO, shared memory, the logging sockets, the
 * host's resolver files, and the runtimes' named volumes. */
static const char *const benign_paths[] = {
	"/dev/null",
	"/dev/zero",
	"/dev/full",
	"/dev/random",
	"/dev/urandom",
	"/dev/tty",
	"/dev/log",
	"/dev/fuse",
	"/dev/kvm",
	"/dev/net/tun",
	"/dev/shm",
	"/dev/shm/*",
	"/dev/dri",
	"/dev/dri/*",
	"/dev/snd",
	"/dev/snd/*",
	"/dev/nvidia*",
	"/dev/kfd",
	"/dev/ttyUSB*",
	"/dev/ttyACM*",
	"/dev/ttyS[0-9]*",
	"/dev/ttyAMA[0-9]*",
	"/dev/serial/*",
	"/dev/bus/usb",
	"/dev/bus/usb/*",
	"/dev/video[0-9]*",
	"/dev/i2c-[0-9]*",
	"/dev/gpiomem",
	"/dev/gpiochip[0-9]*",
	"/run/systemd/journal",
	"/run/systemd/journal/*",
	"/run/systemd/resolve",
	"/run/systemd/resolve/*",
	"/var/lib/docker/volumes/*/_data",
	"/var/lib/docker/volumes/*/_data/*",
	"/var/lib/containers/storage/volumes/*/_data",
	"/var/lib/containers/storage/volumes/*/_data/*",
	NULL,
};

/*
 * Where the runtimes listen, as /run paths.  A bind of the socket, or of
 * a directory on its way (/run, /var/run, /run/containerd), hands over
 * the runtime's API, read-only too: connecting to a socket writes nothing
 * to the file system.
 */
static const char *const runtime_sockets[] = {
	"/run/docker.sock",
	"/run/docker/containerd/containerd.sock", /* dockerd's own containerd */
	"/run/containerd/containerd.sock",
	"/run/crio/crio.sock",
	"/run/podman/podman.sock",
	"/run/cri-dockerd.sock",
	"/run/k3s/containerd/containerd.sock",
	NULL,
};

/* A runtime socket anywhere else (rootless ones under /run/user/UID, a
 * moved one) is known by its name. */
static const char *const runtime_socket_names[] = {
	"docker.sock", "containerd.sock", "crio.sock", "podman.sock", "cri-dockerd.sock", NULL,
};

/*
 * Lexical clean of an absolute path: "//" and "/./" collapse, ".." drops
 * the component before it, trailing slashes go ("/etc/" -> "/etc", "/"
 * stays).  Anything else (a volume's name) is copied as it is.
 */
static void path_clean(char *dst, size_t dstsz, const char *src)
{
	const char *p = src;
	size_t n = 1;

	if (src[0] != '/' || dstsz < 2) {
		snprintf(dst, dstsz, "%s", src);
		return;
	}
	dst[0] = '/';
	while (*p) {
		const char *s;
		size_t k;

		while (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		k = (size_t)(p - s);
		if (!k || (k == 1 && s[0] == '.'))
			continue;
		if (k == 2 && s[0] == '.' && s[1] == '.') {
			while (n > 1 && dst[n - 1] != '/')
				n--;
			if (n > 1)
				n--;
			continue;
		}
		if (n + (n > 1) + k >= dstsz)
			break;
		if (n > 1)
			dst[n++] = '/';
		memcpy(dst + n, s, k);
		n += k;
	}
	dst[n] = '\0';
}

/* A cleaned path with /var/run read as /run. */
static void path_run_form(char *dst, size_t dstsz, const char *path)
{
	if (!strncmp(path, "/var/run", 8) && (path[8] == '/' || !path[8]))
		snprintf(dst, dstsz, "/run%s", path + 8);
	else
		snprintf(dst, dstsz, "%s", path);
}

/* path is dir or below it (both cleaned) */
static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return path[0] == '/';
	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

/*
 * Under path prefix, then the component own (this pod's UID, this
 * container's id), then "/" and one of subs: a directory the runtime made
 * for this pod or container, not the runtime's own state nor another's.
 */
static bool own_dir_under(const char *path, const char *prefix, const char *own,
			  const char *const *subs)
{
	size_t n = strlen(prefix), o = strlen(own);
	const char *p = path + n + o;

	if (!o || strncmp(path, prefix, n) || strncmp(path + n, own, o) || *p != '/')
		return false;
	for (; *subs; subs++) {
		size_t k = strlen(*subs);

		if (!strncmp(p + 1, *subs, k) && (p[1 + k] == '/' || !p[1 + k]))
			return true;
	}
	return false;
}

/*
 * The container's own volume, below the runtime's state directory: what
 * Kubernetes mounts into every pod (the service-account token, config
 * maps, secrets, emptyDir; and, where the runtime binds them as the user's
 * mounts, as Docker does under cri-dockerd, the pod's /etc/hosts and its
 * containers' termination logs), under the pod's own UID, and the image's
 * VOLUMEs under CRI, under the container's own id; Podman's and CRI-O's
 * files for the container (its /run/secrets), under its own id too.  The
 * pod's UID is the runtime's word (under cri-dockerd, the labels' when the
 * cgroup names the same pod: vg_container_pod_from_labels), never a
 * cgroup path's alone: a container can be put below another pod's cgroup
 * (--cgroup-parent).  The state directories themselves, anything else
 * below them, and another pod's volumes (its secrets) stay sensitive.
 */
static bool path_own_volume(const struct vg_container *c, const char *path)
{
	static const char *const pod[] = {"volumes", "volume-subpaths", "etc-hosts", "containers",
					  NULL};
	static const char *const ctr[] = {"volumes", NULL};
	static const char *const userdata[] = {"userdata", NULL};

	return own_dir_under(path, "/var/lib/kubelet/pods/", c->pod_uid, pod) ||
	       own_dir_under(path, "/var/lib/containerd/io.containerd.grpc.v1.cri/containers/",
			     c->cg.id, ctr) ||
	       own_dir_under(path, "/run/containers/storage/overlay-containers/", c->cg.id,
			     userdata) ||
	       own_dir_under(path, "/var/lib/containers/storage/overlay-containers/", c->cg.id,
			     userdata);
}

static bool path_benign(const char *path)
{
	for (const char *const *b = benign_paths; *b; b++)
		if (!fnmatch(*b, path, 0))
			return true;
	return false;
}

/* path: cleaned, in /run form */
static bool path_sensitive(const struct vg_container *c, const char *path, bool rw)
{
	if (path_own_volume(c, path) || path_benign(path))
		return false;
	for (size_t i = 0; i < sizeof(sensitive_paths) / sizeof(sensitive_paths[0]); i++) {
		const struct sensitive_path *s = &sensitive_paths[i];

		/* the path itself, or a directory above it */
		if (path_under(s->path, path))
			return true;
		if (s->kind != SP_EXACT && path_under(path, s->path) && (rw || s->kind == SP_TREE))
			return true;
	}
	return false;
}

/*
 * The runtime socket that a bind of path (cleaned, in /run form) hands
 * over, in /run form, or NULL: the socket itself, one below a directory
 * bound (but "/": the whole host is a sensitive mount of its own), or one
 * known by its name; path itself when the bind is of the socket.  *more:
 * other sockets lie below the directory too.
 */
static const char *path_runtime_socket(const char *path, bool *more)
{
	const char *base = strrchr(path, '/'), *found = NULL;

	*more = false;
	for (const char *const *s = runtime_sockets; strcmp(path, "/") && *s; s++) {
		if (!path_under(*s, path))
			continue;
		if (found)
			*more = true;
		else
			found = *s;
	}
	if ((found && !strcmp(found, path)) ||
	    (!found && in_list(base ? base + 1 : path, runtime_socket_names))) {
		found = path;
		*more = false;
	}
	return found;
}

static bool mount_is_bind(const struct vg_mount_spec *m)
{
	return !strcmp(m->type, "bind") || (!m->type[0] && m->source[0] == '/');
}

/* Is word (n bytes) in list? */
static bool word_in(const char *word, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && !strncmp(word, *list, n))
			return true;
	return false;
}

/*
 * Name looks like it carries a secret.  *_FILE names point at a file
 * holding the secret (the recommended way) and are not reported.  Words
 * are the parts between underscores.
 */
static bool env_name_secret(const char *name)
{
	static const char *const anywhere[] = {"PASSWORD", "PASSWD",	  "PASSPHRASE", "SECRET",
					       "APIKEY",   "PRIVATE_KEY", "CREDENTIAL", NULL};
	/* these only as a whole word: DB_PASS, not DB_PASSAGE; API_KEY, not
	 * MY_KEYBOARD */
	static const char *const words[] = {"KEY", "PASS", "PWD", NULL};
	/* and these not as the first one: the shell's PWD, login.defs'
	 * PASS_MAX_DAYS */
	static const char *const after_words[] = {"PASS", "PWD", NULL};
	/* a key said to be public is none: the official python images set
	 * GPG_KEY, the fingerprint of the release signing key */
	static const char *const public_key[] = {"GPG", "PGP", "PUBLIC", "PUB", NULL};
	/* a token ends its word: GITHUB_TOKEN, AUTHTOKEN, API_TOKENS, not
	 * TOKENIZERS_PARALLELISM */
	static const char *const token_ends[] = {"TOKEN", "TOKENS", NULL};
	const char *prev = "";
	size_t n, i, prevn = 0;
	char up[64];

	for (i = 0; name[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)toupper((unsigned char)name[i]);
	up[i] = '\0';
	n = i;
	if (n >= 5 && !strcmp(up + n - 5, "_FILE"))
		return false;
	for (const char *const *w = anywhere; *w; w++)
		if (strstr(up, *w))
			return true;
	for (const char *w = up; *w;) {
		size_t wl = strcspn(w, "_");

		if (word_in(w, wl, words) &&
		    !(wl == 3 && !strncmp(w, "KEY", 3) && word_in(prev, prevn, public_key)) &&
		    !(w == up && word_in(w, wl, after_words)))
			return true;
		for (const char *const *t = token_ends; *t; t++) {
			size_t tl = strlen(*t);

			if (wl >= tl && !strncmp(w + wl - tl, *t, tl))
				return true;
		}
		prev = w;
		prevn = wl;
		w += wl;
		while (*w == '_')
			w++;
	}
	return false;
}

/* ---- evaluation ---- */

struct walk {
	const struct vg_posture_cfg *cfg;
	const struct vg_container *c;
	vg_finding_fn fn;
	void *ctx;
	int n;
	int stop;
};

static enum vg_out_sev sev_shift(enum vg_out_sev base, int delta)
{
	int s = (int)base + delta;

	if (s < VG_OUT_SEV_INFO)
		s = VG_OUT_SEV_INFO;
	if (s > VG_OUT_SEV_CRITICAL)
		s = VG_OUT_SEV_CRITICAL;
	return (enum vg_out_sev)s;
}

static bool want(struct walk *w, enum vg_pfind id)
{
	return !w->stop && w->cfg->enabled[id] && !allowed(w->cfg, w->c, id);
}

__attribute__((format(printf, 5, 6))) static void emit(struct walk *w, enum vg_pfind id, int delta,
						       const char *brief, const char *fmt, ...)
{
	struct vg_finding f;
	va_list ap;
	int rc;

	if (w->stop)
		return;
	memset(&f, 0, sizeof(f));
	f.id = id;
	f.name = catalogue[id].name;
	f.remedy = catalogue[id].remedy;
	f.sev = sev_shift(w->cfg->sev[id], delta);
	snprintf(f.brief, sizeof(f.brief), "%s", brief);
	va_start(ap, fmt);
	vsnprintf(f.summary, sizeof(f.summary), fmt, ap);
	va_end(ap);
	w->n++;
	rc = w->fn(w->ctx, &f);
	if (rc)
		w->stop = rc;
}

/* The runtime lists a binding on every address twice when it reports the
 * live state (0.0.0.0 and ::): one finding per port is enough. */
static bool port_seen(const struct vg_container *c, unsigned i)
{
	const struct vg_port_binding *p = &c->ports[i];

	for (unsigned j = 0; j < i; j++) {
		const struct vg_port_binding *q = &c->ports[j];

		if (addr_is_any(q->host_ip) && q->container_port == p->container_port &&
		    q->host_port == p->host_port && !strcmp(q->proto, p->proto))
			return true;
	}
	return false;
}

static void check_ports(struct walk *w)
{
	const struct vg_container *c = w->c;
	char brief[96];

	/* with the host network, Docker ignores port bindings: host_network
	 * reports the exposure instead */
	if (!want(w, VG_PF_PORT_ALL_ADDRS) || !strcmp(c->network_mode, "host"))
		return;
	for (unsigned i = 0; i < c->nports && i < VG_CTR_PORTS_MAX; i++) {
		const struct vg_port_binding *p = &c->ports[i];
		const char *ip = p->host_ip[0] ? p->host_ip : "0.0.0.0";
		bool hot = port_sensitive(w->cfg, p->container_port);
		char where[80];

		if (!addr_is_any(p->host_ip) || port_seen(c, i))
			continue;
		if (p->host_port && p->host_port != p->container_port)
			snprintf(where, sizeof(where), "%s:%u", ip, p->host_port);
		else
			snprintf(where, sizeof(where), "%s", ip);
		snprintf(brief, sizeof(brief), "%u published on %.64s", p->container_port, where);
		emit(w, VG_PF_PORT_ALL_ADDRS, hot ? 1 : 0, brief, "%u/%s published on %s (%s%s)",
		     p->container_port, p->proto[0] ? p->proto : "tcp", where,
		     c->image[0] ? c->image : "unknown image",
		     hot ? ", a datastore/admin port" : "");
	}
}

static void check_limits(struct walk *w)
{
	const struct vg_container *c = w->c;

	if (want(w, VG_PF_NO_MEMORY_LIMIT) && c->memory_limit <= 0)
		emit(w, VG_PF_NO_MEMORY_LIMIT, 0, "no memory limit", "no memory limit");
	if (want(w, VG_PF_NO_CPU_LIMIT) && c->nano_cpus <= 0 && c->cpu_quota <= 0)
		emit(w, VG_PF_NO_CPU_LIMIT, 0, "no CPU limit", "no CPU limit");
	/* a container in a pod is bounded by the pod's limit too, when it
	 * could be read */
	if (want(w, VG_PF_NO_PIDS_LIMIT) && c->pids_limit <= 0 && c->pod_pids_limit <= 0)
		emit(w, VG_PF_NO_PIDS_LIMIT, 0, "no PIDs limit", "no PIDs limit%s",
		     c->pod_pids_limit < 0 ? ", neither on the container nor on its pod" : "");
}

static void check_user(struct walk *w)
{
	const struct vg_container *c = w->c;

	if (!want(w, VG_PF_ROOT_USER) || !user_is_root(c->user))
		return;
	if (c->userns_remap)
		emit(w, VG_PF_ROOT_USER, -1, "root (userns remapped)",
		     "runs as root (user \"%s\"), user namespace remapped to an unprivileged "
		     "host uid",
		     c->user);
	else
		emit(w, VG_PF_ROOT_USER, 0, "root",
		     "runs as root (user \"%s\"), no user namespace remapping: root in the "
		     "container is root on the host",
		     c->user);
}

static void check_caps(struct walk *w)
{
	const struct vg_container *c = w->c;
	char norm[32], brief[96], list[160];
	unsigned kept = 0;
	size_t len = 0;

	if (want(w, VG_PF_PRIVILEGED) && c->privileged)
		emit(w, VG_PF_PRIVILEGED, 0, "privileged",
		     "privileged: every capability, every device, no seccomp or AppArmor");
	/* a privileged container holds every capability already: no per-cap
	 * findings, but no-new-privileges still applies */
	if (c->privileged)
		goto out;
	for (unsigned i = 0; i < c->ncap_add && i < VG_CTR_CAPS_MAX; i++) {
		int delta;

		if (!want(w, VG_PF_CAP_ADDED))
			break;
		cap_norm(norm, sizeof(norm), c->cap_add[i]);
		if (!strcmp(norm, "ALL"))
			delta = 1;
		else if (in_list(norm, caps_high))
			delta = 0;
		else
			delta = -1;
		snprintf(brief, sizeof(brief), "%s", norm);
		emit(w, VG_PF_CAP_ADDED, delta, brief, "capability %s added", norm);
	}
	/* containerd's and CRI-O's defaults are known only from the spec's
	 * bounding set (CRI-O's has no NET_RAW, MKNOD, AUDIT_WRITE, SYS_CHROOT) */
	if (!want(w, VG_PF_DEFAULT_CAPS) ||
	    ((c->cg.runtime == VG_RT_CONTAINERD || c->cg.runtime == VG_RT_CRIO) &&
	     !c->caps_from_spec))
		goto out;
	list[0] = '\0';
	brief[0] = '\0';
	for (const char *const *cap = caps_default_risky; *cap; cap++) {
		if (cap_listed(c->cap_drop, c->ncap_drop, *cap))
			continue;
		if (kept < 2)
			snprintf(brief + strlen(brief), sizeof(brief) - strlen(brief), "%s%s",
				 kept ? ", " : "", *cap);
		len += (size_t)snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0,
					"%s%s", kept ? ", " : "", *cap);
		if (len >= sizeof(list))
			len = sizeof(list) - 1;
		kept++;
	}
	if (!kept)
		goto out;
	if (kept > 2)
		snprintf(brief + strlen(brief), sizeof(brief) - strlen(brief), " +%u", kept - 2);
	emit(w, VG_PF_DEFAULT_CAPS, 0, brief, "default capabilities kept: %s", list);
out:
	if (want(w, VG_PF_NEW_PRIVILEGES) && !c->no_new_privileges)
		emit(w, VG_PF_NEW_PRIVILEGES, 0, "new privileges allowed",
		     "no no-new-privileges: setuid binaries can gain privileges");
}

/* One bind that hands over a runtime socket: src as the runtime gave it
 * (cleaned), path its /run form, sock the socket below or at it. */
static void emit_socket(struct walk *w, const struct vg_mount_spec *m, const char *src,
			const char *path, const char *sock, bool more)
{
	const char *mode = m->rw ? "read-write" : "read-only";
	char brief[96];

	snprintf(brief, sizeof(brief), "%.80s mounted", src);
	if (sock == path)
		emit(w, VG_PF_DOCKER_SOCKET, 0, brief,
		     "runtime socket %s mounted %s at %s: full control of the host", src, mode,
		     m->destination);
	else
		emit(w, VG_PF_DOCKER_SOCKET, 0, brief,
		     "host %s, which holds the runtime socket %s%s%s, mounted %s at %s: full "
		     "control of the host",
		     src, src, sock + strlen(path), more ? " and others" : "", mode,
		     m->destination);
}

static void check_fs(struct walk *w)
{
	const struct vg_container *c = w->c;
	char src[256], path[256], brief[96];

	if (want(w, VG_PF_WRITABLE_ROOTFS) && !c->readonly_rootfs)
		emit(w, VG_PF_WRITABLE_ROOTFS, 0, "writable root fs", "writable root filesystem");
	for (unsigned i = 0; i < c->nmounts && i < VG_CTR_MOUNTS_MAX; i++) {
		const struct vg_mount_spec *m = &c->mounts[i];
		const char *mode = m->rw ? "read-write" : "read-only", *sock;
		bool more;
		int delta;

		if (!mount_is_bind(m))
			continue;
		path_clean(src, sizeof(src), m->source);
		path_run_form(path, sizeof(path), src);
		sock = path_runtime_socket(path, &more);
		if (sock) {
			if (want(w, VG_PF_DOCKER_SOCKET))
				emit_socket(w, m, src, path, sock, more);
		} else if (path_sensitive(c, path, m->rw)) {
			if (!want(w, VG_PF_SENSITIVE_MOUNT))
				continue;
			snprintf(brief, sizeof(brief), "host %.72s mounted %s", src,
				 m->rw ? "rw" : "ro");
			/* "/" is the host itself, its runtime sockets with it, which
			 * a read-only bind does not close; elsewhere read-only is a
			 * step down */
			delta = !strcmp(src, "/") ? 1 : m->rw ? 0 : -1;
			emit(w, VG_PF_SENSITIVE_MOUNT, delta, brief, "host %s mounted %s at %s",
			     src, mode, m->destination);
		}
	}
}

static void check_namespaces(struct walk *w)
{
	const struct vg_container *c = w->c;

	if (want(w, VG_PF_HOST_PID) && !strcmp(c->pid_mode, "host"))
		emit(w, VG_PF_HOST_PID, 0, "host PID namespace",
		     "shares the host PID namespace: sees and signals every host process");
	if (want(w, VG_PF_HOST_NETWORK) && !strcmp(c->network_mode, "host"))
		emit(w, VG_PF_HOST_NETWORK, 0, "host network",
		     "shares the host network namespace: every listener faces the host's "
		     "addresses, host loopback services reachable");
	if (want(w, VG_PF_HOST_IPC) && !strcmp(c->ipc_mode, "host"))
		emit(w, VG_PF_HOST_IPC, 0, "host IPC namespace",
		     "shares the host IPC namespace (shared memory, semaphores)");
}

static void check_env(struct walk *w)
{
	const struct vg_container *c = w->c;
	char brief[96];

	for (unsigned i = 0; i < c->nenv && i < VG_CTR_ENV_MAX; i++) {
		if (!want(w, VG_PF_SECRET_ENV))
			return;
		if (!env_name_secret(c->env_names[i]))
			continue;
		snprintf(brief, sizeof(brief), "%.64s in env", c->env_names[i]);
		emit(w, VG_PF_SECRET_ENV, 0, brief,
		     "secret-looking variable %.64s passed in the environment (name only; the "
		     "value is never read)",
		     c->env_names[i]);
	}
}

static bool state_unusable(const struct vg_container *c)
{
	return c->enrich == VG_ENRICH_FAILED || c->parse_errors > 0;
}

int vg_posture_eval(const struct vg_posture_cfg *cfg, const struct vg_container *c,
		    vg_finding_fn fn, void *ctx)
{
	struct vg_posture_cfg def;
	struct walk w;

	if (!c || !fn)
		return -EINVAL;
	if (state_unusable(c))
		return -EBADMSG;
	if (!cfg) {
		vg_posture_cfg_default(&def);
		cfg = &def;
	}
	w = (struct walk){.cfg = cfg, .c = c, .fn = fn, .ctx = ctx};
	check_ports(&w);
	check_limits(&w);
	check_user(&w);
	check_caps(&w);
	check_fs(&w);
	check_namespaces(&w);
	check_env(&w);
	return w.stop ? w.stop : w.n;
}

/* ---- grade ---- */

static int score_cb(void *ctx, const struct vg_finding *f)
{
	static const unsigned points[VG_OUT_SEV__MAX] = {
		[VG_OUT_SEV_LOW] = 3,
		[VG_OUT_SEV_MEDIUM] = 8,
		[VG_OUT_SEV_HIGH] = 20,
		[VG_OUT_SEV_CRITICAL] = 40,
	};
	struct vg_posture_score *s = ctx;

	s->nfindings++;
	s->by_sev[f->sev]++;
	s->points += points[f->sev];
	if (f->sev > s->worst)
		s->worst = f->sev;
	return 0;
}

int vg_posture_grade(const struct vg_posture_cfg *cfg, const struct vg_container *c,
		     struct vg_posture_score *out)
{
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	rc = vg_posture_eval(cfg, c, score_cb, out);
	if (rc < 0) {
		out->grade = '?';
		return rc;
	}
	/* any critical fails outright; otherwise the points decide:
	 * one high alone is a C, a high with a few mediums a D or an E */
	if (out->by_sev[VG_OUT_SEV_CRITICAL] || out->points > 70)
		out->grade = 'F';
	else if (out->points > 45)
		out->grade = 'E';
	else if (out->points > 25)
		out->grade = 'D';
	else if (out->points > 10)
		out->grade = 'C';
	else if (out->points > 0)
		out->grade = 'B';
	else
		out->grade = 'A';
	return 0;
}

/* ---- context line ---- */

struct ctx_line {
	char *dst;
	size_t cap;
	size_t len;
	enum vg_out_sev pass;
	bool full;
	unsigned n;
};

static const char ctx_prefix[] = "possible because: ";
static const char ctx_more[] = ", ...";

static int ctx_cb(void *ctx, const struct vg_finding *f)
{
	struct ctx_line *l = ctx;
	size_t need, sep;

	if (f->sev != l->pass || l->full)
		return 0;
	sep = l->n ? 2 : strlen(ctx_prefix);
	need = sep + strlen(f->brief);
	/* keep room for ", ..." so a cut is always visible */
	if (l->len + need + sizeof(ctx_more) > l->cap) {
		if (l->n && l->len + sizeof(ctx_more) <= l->cap) {
			memcpy(l->dst + l->len, ctx_more, sizeof(ctx_more));
			l->len += sizeof(ctx_more) - 1;
		}
		l->full = true;
		return 0;
	}
	l->len += (size_t)snprintf(l->dst + l->len, l->cap - l->len, "%s%s",
				   l->n ? ", " : ctx_prefix, f->brief);
	l->n++;
	return 0;
}

size_t vg_posture_context(const struct vg_posture_cfg *cfg, const struct vg_container *c, char *dst,
			  size_t dstsz)
{
	struct ctx_line l = {.dst = dst, .cap = dstsz};

	if (!dst || !dstsz)
		return 0;
	dst[0] = '\0';
	if (!c)
		return 0;
	/* one walk per severity, worst first: no allocation, findings are cheap */
	for (int s = VG_OUT_SEV_CRITICAL; s >= VG_OUT_SEV_INFO && !l.full; s--) {
		l.pass = (enum vg_out_sev)s;
		if (vg_posture_eval(cfg, c, ctx_cb, &l) < 0)
			break;
	}
	return l.len;
}

void vg_posture_incident_ctx(struct vg_incident *inc, const struct vg_container *ctr, void *rules)
{
	const struct vg_config *config = rules ? vg_rules_config(rules) : NULL;

	if (!inc || !ctr)
		return;
	vg_posture_context(config ? &config->posture : NULL, ctr, inc->because,
			   sizeof(inc->because));
}

/* ---- JSON ---- */

struct names_walk {
	struct vg_buf *b;
	enum vg_out_sev pass;
};

static int names_cb(void *ctx, const struct vg_finding *f)
{
	struct names_walk *nw = ctx;

	if (f->sev == nw->pass)
		vg_json_cstr(nw->b, f->name);
	return 0;
}

void vg_posture_json_names(struct vg_buf *b, const char *key, const struct vg_posture_cfg *cfg,
			   const struct vg_container *c)
{
	struct names_walk nw = {.b = b};

	vg_json_key(b, key);
	vg_json_arr_open(b);
	for (int s = VG_OUT_SEV_CRITICAL; c && s >= VG_OUT_SEV_INFO; s--) {
		nw.pass = (enum vg_out_sev)s;
		if (vg_posture_eval(cfg, c, names_cb, &nw) < 0)
			break;
	}
	vg_json_arr_close(b);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Opens the record and writes what every posture record shares. */
static void json_head(struct vg_buf *b, uint64_t wall_ns)
{
	vg_json_obj_open(b);
	vg_json_key(b, "@timestamp");
	vg_json_time(b, wall_ns ? wall_ns : now_ns());
	vg_json_key(b, "event");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "kind", "state");
	vg_json_key(b, "category");
	vg_json_arr_open(b);
	vg_json_cstr(b, "configuration");
	vg_json_arr_close(b);
	vg_json_key(b, "type");
	vg_json_arr_open(b);
	vg_json_cstr(b, "info");
	vg_json_arr_close(b);
	vg_json_kv_cstr(b, "module", "vigil");
	vg_json_kv_cstr(b, "dataset", "vigil.posture");
}

static void json_container(struct vg_buf *b, const struct vg_container *c)
{
	vg_json_key(b, "container");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "id", c->cg.id);
	if (c->name[0])
		vg_json_kv_cstr(b, "name", c->name);
	vg_json_kv_cstr(b, "runtime", vg_runtime_name(c->cg.runtime));
	if (c->image[0]) {
		vg_json_key(b, "image");
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "name", c->image);
		vg_json_obj_close(b);
	}
	vg_json_obj_close(b);
}

void vg_posture_json(struct vg_buf *b, const struct vg_container *c, const struct vg_finding *f,
		     uint64_t wall_ns)
{
	json_head(b, wall_ns);
	vg_json_kv_u64(b, "severity", vg_posture_ecs_severity(f->sev));
	vg_json_obj_close(b); /* event */
	vg_json_key(b, "rule");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "name", f->name);
	vg_json_kv_cstr(b, "category", "posture");
	vg_json_obj_close(b);
	vg_json_kv_cstr(b, "message", f->summary);
	json_container(b, c);
	vg_json_key(b, "vigil");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "severity", vg_out_sev_name(f->sev));
	vg_json_key(b, "posture");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "remedy", f->remedy);
	vg_json_kv_cstr(b, "brief", f->brief);
	vg_json_obj_close(b);
	vg_json_obj_close(b); /* vigil */
	vg_json_obj_close(b);
}

void vg_posture_meta(const struct vg_container *c, const struct vg_finding *f, uint64_t wall_ns,
		     struct vg_out_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = VG_OUT_POSTURE;
	m->severity = f ? f->sev : VG_OUT_SEV_INFO;
	m->rule = f ? f->name : NULL;
	m->ctr_id = c->cg.id;
	m->ctr_name = c->name;
	m->wall_ns = wall_ns;
}

void vg_posture_json_error(struct vg_buf *b, const struct vg_container *c, int err,
			   uint64_t wall_ns)
{
	char msg[160];

	if (err)
		snprintf(msg, sizeof(msg), "container state could not be read (%s): no posture",
			 strerror(err < 0 ? -err : err));
	else
		snprintf(msg, sizeof(msg),
			 "container state malformed (%u field%s): no posture evaluated",
			 c->parse_errors, c->parse_errors == 1 ? "" : "s");
	json_head(b, wall_ns);
	vg_json_kv_cstr(b, "outcome", "failure");
	vg_json_obj_close(b); /* event */
	vg_json_kv_cstr(b, "message", msg);
	json_container(b, c);
	vg_json_key(b, "vigil");
	vg_json_obj_open(b);
	vg_json_key(b, "posture");
	vg_json_obj_open(b);
	vg_json_kv_u64(b, "parse_errors", c->parse_errors);
	if (err)
		vg_json_kv_i64(b, "error", err);
	vg_json_obj_close(b);
	vg_json_obj_close(b);
	vg_json_obj_close(b);
}

/* A record holds at most a few hundred bytes of our own text plus the
 * container's strings, each of which may grow six-fold when escaped. */
#define POSTURE_REC_MAX 16384

struct emit_walk {
	const struct vg_container *c;
	uint64_t wall_ns;
	vg_posture_line_fn fn;
	void *ctx;
	char *mem;
	int n;
};

static int emit_buf(struct emit_walk *ew, struct vg_buf *b, const struct vg_finding *f)
{
	struct vg_out_meta m;

	vg_buf_raw(b, "\n", 1); /* one line of the feed, like every record */
	if (b->overflow)
		return -EOVERFLOW;
	vg_posture_meta(ew->c, f, ew->wall_ns, &m);
	return ew->fn(ew->ctx, b->p, b->len, &m);
}

static int emit_cb(void *ctx, const struct vg_finding *f)
{
	struct emit_walk *ew = ctx;
	struct vg_buf b;
	int rc;

	vg_buf_init(&b, ew->mem, POSTURE_REC_MAX);
	vg_posture_json(&b, ew->c, f, ew->wall_ns);
	rc = emit_buf(ew, &b, f);
	if (!rc)
		ew->n++;
	return rc;
}

int vg_posture_emit(const struct vg_posture_cfg *cfg, const struct vg_container *c, int err,
		    uint64_t wall_ns, vg_posture_line_fn fn, void *ctx)
{
	struct emit_walk ew = {
		.c = c, .wall_ns = wall_ns ? wall_ns : now_ns(), .fn = fn, .ctx = ctx};
	struct vg_buf b;
	int rc;

	if (!c || !fn)
		return -EINVAL;
	ew.mem = malloc(POSTURE_REC_MAX);
	if (!ew.mem)
		return -ENOMEM;
	rc = err ? -EBADMSG : vg_posture_eval(cfg, c, emit_cb, &ew);
	if (rc == -EBADMSG) {
		vg_buf_init(&b, ew.mem, POSTURE_REC_MAX);
		vg_posture_json_error(&b, c, err, ew.wall_ns);
		rc = emit_buf(&ew, &b, NULL);
		if (!rc)
			ew.n = 1;
	}
	free(ew.mem);
	return rc < 0 ? rc : ew.n;
}

static int file_line(void *ctx, const char *line, size_t len, const struct vg_out_meta *m)
{
	FILE *out = ctx;

	if (fwrite(line, 1, len, out) != len)
		return -EIO;
	return 0;
}

int vg_posture_write_json(FILE *out, const struct vg_posture_cfg *cfg, const struct vg_container *c,
			  int err, uint64_t wall_ns)
{
	if (!out)
		return -EINVAL;
	return vg_posture_emit(cfg, c, err, wall_ns, file_line, out);
}

/* ---- table ---- */

struct row {
	const struct vg_container *c;
	struct vg_posture_score score;
	int err;
};

/* worse first: F, E, ..., A, then the unreadable ones; then by points, name */
static int grade_rank(char g)
{
	return g == '?' ? -1 : g - 'A';
}

static int row_cmp(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	int ra = grade_rank(a->score.grade), rb = grade_rank(b->score.grade);

	if (ra != rb)
		return rb - ra;
	if (a->score.points != b->score.points)
		return a->score.points < b->score.points ? 1 : -1;
	return strcmp(a->c->name, b->c->name);
}

/* Escape s for the terminal, then cut to width bytes on a character
 * boundary, marking a cut with '~'. */
static void cell(char *dst, size_t dstsz, const char *s, size_t width)
{
	size_t n;

	vg_term_escape(dst, dstsz, s, strlen(s));
	n = strlen(dst);
	if (n <= width)
		return;
	n = width - 1;
	while (n > 0 && ((unsigned char)dst[n] & 0xc0) == 0x80)
		n--;
	dst[n] = '~';
	dst[n + 1] = '\0';
}

static const char *grade_colour(char g)
{
	switch (g) {
	case 'A':
	case 'B':
		return "\033[32m";
	case 'C':
	case 'D':
		return "\033[33m";
	case 'E':
		return "\033[31m";
	case 'F':
		return "\033[1;31m";
	default:
		return "\033[35m";
	}
}

#define COL_NAME 28
#define COL_IMAGE 28

static void print_row(FILE *out, const struct vg_posture_cfg *cfg, const struct row *r, bool colour)
{
	char name[COL_NAME * 4 + 8], image[COL_IMAGE * 4 + 8], line[768], esc[768 * 4];
	const char *findings;
	size_t plen = strlen(ctx_prefix);

	cell(name, sizeof(name), r->c->name[0] ? r->c->name : r->c->cg.id, COL_NAME);
	cell(image, sizeof(image), r->c->image[0] ? r->c->image : "-", COL_IMAGE);
	if (r->score.grade == '?') {
		if (r->err)
			snprintf(line, sizeof(line), "state unreadable: %s", strerror(-r->err));
		else
			snprintf(line, sizeof(line), "state malformed: %u parse errors",
				 r->c->parse_errors);
		findings = line;
	} else {
		vg_posture_context(cfg, r->c, line, sizeof(line));
		findings = strlen(line) > plen ? line + plen : "-";
	}
	vg_term_escape(esc, sizeof(esc), findings, strlen(findings));
	fprintf(out, "%-*s %-*s %s%c%s     %s\n", COL_NAME, name, COL_IMAGE, image,
		colour ? grade_colour(r->score.grade) : "", r->score.grade, colour ? "\033[0m" : "",
		esc);
}

int vg_posture_print_table(FILE *out, const struct vg_posture_cfg *cfg,
			   const struct vg_container *cs, const int *errs, size_t n, bool colour)
{
	struct row *rows;
	int rc = 0;

	if (!out || (n && !cs))
		return -EINVAL;
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rows[i].c = &cs[i];
		rows[i].err = errs ? errs[i] : 0;
		if (rows[i].err)
			rows[i].score.grade = '?';
		else
			vg_posture_grade(cfg, &cs[i], &rows[i].score);
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	fprintf(out, "%s%-*s %-*s GRADE FINDINGS (worst first)%s\n", colour ? "\033[1m" : "",
		COL_NAME, "CONTAINER", COL_IMAGE, "IMAGE", colour ? "\033[0m" : "");
	for (size_t i = 0; i < n; i++)
		print_row(out, cfg, &rows[i], colour);
	if (fflush(out) == EOF || ferror(out))
		rc = -EIO;
	free(rows);
	return rc;
}

/* ---- `vigil posture` ---- */

#define POSTURE_CTR_MAX 4096

struct inventory {
	struct vg_container *cs;
	int *errs;
	size_t n, cap;
	const char *how; /* "docker-api" or "docker-state" */
};

static struct vg_container *inv_add(struct inventory *inv, const char *id)
{
	struct vg_container *c;

	if (inv->n == inv->cap) {
		size_t cap = inv->cap ? inv->cap * 2 : 16;
		void *cs = realloc(inv->cs, cap * sizeof(*inv->cs));

		if (!cs)
			return NULL;
		inv->cs = cs;
		cs = realloc(inv->errs, cap * sizeof(*inv->errs));
		if (!cs)
			return NULL;
		inv->errs = cs;
		inv->cap = cap;
	}
	c = &inv->cs[inv->n];
	memset(c, 0, sizeof(*c));
	c->cg.runtime = VG_RT_DOCKER;
	snprintf(c->cg.id, sizeof(c->cg.id), "%s", id);
	inv->errs[inv->n] = 0;
	return c;
}

static bool is_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return i == VG_CTR_ID_LEN;
}

/* Docker's own API first; its state files when the daemon does not answer
 * (or for stopped containers with --all: the API list is running only). */
static int inventory_api(struct inventory *inv, const char *sock)
{
	char(*ids)[VG_CTR_ID_LEN + 1];
	unsigned n = 0;
	int err;

	ids = calloc(POSTURE_CTR_MAX, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	err = vg_docker_list(sock, VG_DOCKER_TIMEOUT_MS, ids, POSTURE_CTR_MAX, &n);
	for (unsigned i = 0; !err && i < n; i++) {
		struct vg_container *c = inv_add(inv, ids[i]);

		if (!c) {
			err = -ENOMEM;
			break;
		}
		inv->errs[inv->n] = vg_docker_inspect(sock, ids[i], VG_DOCKER_TIMEOUT_MS, c);
		/* gone between list and inspect: not a finding, just skip it */
		if (inv->errs[inv->n] != -ENOENT)
			inv->n++;
	}
	free(ids);
	inv->how = "docker-api";
	return err;
}

static int inventory_state(struct inventory *inv, const char *root, bool all)
{
	char dir[512];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/containers", root);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && inv->n < POSTURE_CTR_MAX) {
		struct vg_container *c;
		int err;

		if (!is_id(de->d_name))
			continue;
		c = inv_add(inv, de->d_name);
		if (!c) {
			closedir(d);
			return -ENOMEM;
		}
		err = vg_docker_read_state(root, de->d_name, c);
		if (!err && !all && !c->running)
			continue;
		inv->errs[inv->n++] = err;
	}
	closedir(d);
	inv->how = "docker-state";
	return 0;
}

/* Kubernetes on Docker (cri-dockerd): the pod as the labels name it when
 * the container's cgroup names the same one (as the agent's table does),
 * and the pod's pids limit, on the pod's cgroup, read as the agent's
 * resolver does. */
static void inventory_pods(struct inventory *inv, const char *cgroup_root)
{
	struct vg_sampler *s = NULL;

	for (size_t i = 0; i < inv->n; i++) {
		struct vg_container *c = &inv->cs[i];
		char path[512];
		struct vg_cgroup_info ci;

		if (inv->errs[i] || !c->running || !vg_container_in_pod(c))
			continue;
		if (!s && vg_sampler_new(cgroup_root, &s) < 0)
			return;
		if (!c->pod_uid[0] && !vg_sampler_locate(s, c->cg.id, path, sizeof(path)) &&
		    !vg_cgroup_parse(path, &ci)) {
			vg_container_scopy(c->cg.pod_uid, sizeof(c->cg.pod_uid), ci.pod_uid);
			vg_container_pod_from_labels(c);
		}
		if (c->pids_limit <= 0)
			vg_sampler_pod_pids_max(s, c->cg.id, &c->pod_pids_limit);
	}
	vg_sampler_free(&s);
}

bool vg_posture_info_userns(const char *info, size_t len)
{
	struct vg_jdoc d;
	bool on = false;
	int opts;

	if (!info || vg_jsonp_parse_object(&d, info, len))
		return false;
	opts = vg_jsonp_get(&d, 0, "SecurityOptions");
	if (vg_jsonp_type(&d, opts) != VG_J_ARR)
		goto out;
	/* each option is "name=X", then ",key=value" pairs for some
	 * ("name=seccomp,profile=builtin") */
	for (int i = vg_jsonp_first(&d, opts); i >= 0 && !on; i = vg_jsonp_next(&d, i)) {
		char name[64];

		if (vg_jsonp_str(&d, i, name, sizeof(name), ',', NULL) >= 0)
			on = !strcmp(name, "name=userns");
	}
out:
	vg_jsonp_free(&d);
	return on;
}

/* The daemon runs every container in a remapped user namespace when
 * started with --userns-remap; `docker info` says so in SecurityOptions. */
static bool daemon_userns_remap(const char *sock)
{
	char *buf = malloc(VG_HTTP_RESP_MAX);
	size_t len = 0;
	int status = 0;
	bool on = false;

	if (!buf)
		return false;
	if (!vg_http_get_unix(sock, "/info", VG_DOCKER_TIMEOUT_MS, buf, VG_HTTP_RESP_MAX, &len,
			      &status) &&
	    status == 200)
		on = vg_posture_info_userns(buf, len);
	free(buf);
	return on;
}

static void posture_usage(FILE *f)
{
	fputs("usage: vigil posture [--json] [--all] [--color=auto|always|never]\n"
	      "                     [--socket PATH] [--docker-root DIR] [--cgroup-root DIR]\n"
	      "                     [--config FILE]\n"
	      "       vigil posture --list\n"
	      "Evaluates the configuration of this host's containers (no agent needed):\n"
	      "a table worst first with a grade per container, or with --json one ECS\n"
	      "posture record per finding.  --all includes stopped containers; --list\n"
	      "prints the findings vigil knows, their severity and remedy.  --config\n"
	      "reads the posture: section of a vigil YAML file.  --cgroup-root is where\n"
	      "the host's cgroup filesystem is (a Kubernetes pod's pids limit).\n",
	      f);
}

static int posture_list(FILE *out, const struct vg_posture_cfg *cfg)
{
	fprintf(out, "%-32s %-9s %s\n", "FINDING", "SEVERITY", "REMEDY");
	for (unsigned i = 0; i < VG_PF_COUNT; i++)
		fprintf(out, "%-32s %-9s %s\n", catalogue[i].name,
			cfg->enabled[i] ? vg_out_sev_name(cfg->sev[i]) : "disabled",
			catalogue[i].remedy);
	return fflush(out) == EOF ? 1 : 0;
}

int vg_posture_run(const struct vg_posture_cfg *cfg, int argc, char **argv)
{
	const char *sock = VG_DOCKER_SOCK, *root = VG_DOCKER_ROOT, *colour = "auto";
	const char *cgroup_root = "/sys/fs/cgroup";
	struct inventory inv = {0};
	bool json = false, all = false, remap = false, use_colour;
	struct vg_posture_cfg def;
	int err, rc = 0;

	if (!cfg) {
		vg_posture_cfg_default(&def);
		cfg = &def;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--all") || !strcmp(a, "-a")) {
			all = true;
		} else if (!strncmp(a, "--color=", 8) || !strncmp(a, "--colour=", 9)) {
			colour = strchr(a, '=') + 1;
		} else if (!strcmp(a, "--no-color")) {
			colour = "never";
		} else if (!strcmp(a, "--socket") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strcmp(a, "--docker-root") && i + 1 < argc) {
			root = argv[++i];
		} else if (!strcmp(a, "--cgroup-root") && i + 1 < argc) {
			cgroup_root = argv[++i];
		} else if (!strcmp(a, "--list")) {
			return posture_list(stdout, cfg);
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			posture_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "vigil posture: unknown argument '%s'\n", a);
			posture_usage(stderr);
			return 2;
		}
	}
	if (strcmp(colour, "auto") && strcmp(colour, "always") && strcmp(colour, "never")) {
		fprintf(stderr, "vigil posture: --color takes auto, always or never\n");
		return 2;
	}
	use_colour = !strcmp(colour, "always") ||
		     (!strcmp(colour, "auto") && isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));

	err = all ? -EAGAIN : inventory_api(&inv, sock);
	if (!err) {
		remap = daemon_userns_remap(sock);
	} else {
		inv.n = 0;
		err = inventory_state(&inv, root, all);
		if (err) {
			fprintf(stderr,
				"vigil posture: cannot reach Docker at %s nor read %s/containers "
				"(%s): run as root, or give --socket / --docker-root\n",
				sock, root, strerror(-err));
			rc = 1;
			goto out;
		}
	}
	for (size_t i = 0; i < inv.n; i++)
		if (remap && strcmp(inv.cs[i].userns_mode, "host"))
			inv.cs[i].userns_remap = true;
	inventory_pods(&inv, cgroup_root);
	if (json) {
		for (size_t i = 0; i < inv.n && !rc; i++)
			if (vg_posture_write_json(stdout, cfg, &inv.cs[i], inv.errs[i], 0) < 0)
				rc = 1;
		if (fflush(stdout) == EOF)
			rc = 1;
	} else {
		rc = vg_posture_print_table(stdout, cfg, inv.cs, inv.errs, inv.n, use_colour) ? 1
											      : 0;
		if (!rc && !inv.n)
			printf("(no %scontainers)\n", all ? "" : "running ");
	}
	if (rc)
		fprintf(stderr, "vigil posture: writing the output failed\n");
out:
	/* the structs hold no secret (names only), but are large: free them */
	free(inv.cs);
	free(inv.errs);
	return rc;
}

/* --config FILE (or --config=FILE) is taken out here: the rest is run's. */
int vg_posture_main(int argc, char **argv)
{
	struct vg_config *config = NULL;
	const char *path = NULL;
	char **rest, err[320];
	int n = 0, rc;

	rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest)
		return 1;
	for (int i = 0; i < argc; i++) {
		if (i && !strcmp(argv[i], "--config") && i + 1 < argc)
			path = argv[++i];
		else if (i && !strncmp(argv[i], "--config=", 9))
			path = argv[i] + 9;
		else
			rest[n++] = argv[i];
	}
	if (path && vg_config_load(path, &config, err, sizeof(err))) {
		fprintf(stderr, "vigil posture: %s\n", err);
		free(rest);
		return 2;
	}
	rc = vg_posture_run(config ? &config->posture : NULL, n, rest);
	vg_config_free(&config);
	free(rest);
	return rc;
}
