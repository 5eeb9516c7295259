// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * privs: what the sensor needs before attach, and shedding it after.
 *
 * Before: loading tracing programs needs CAP_BPF + CAP_PERFMON, loading
 * the cgroup sock_addr (connect) programs also CAP_NET_ADMIN; CAP_SYS_ADMIN
 * covers all three (and is the only form on kernels before 5.8 and on
 * Docker engines that do not know the new names).  CAP_SYS_PTRACE is
 * needed to read the namespace links and exe of processes that hold more
 * capabilities than the sensor (every host daemon does).  The host views:
 * the host PID namespace (kthreadd is PID 2 only there), BTF in sysfs, and
 * the real root of a cgroup hierarchy rather than a container's own
 * subtree.
 *
 * After: the links, maps and the ring buffer are file descriptors and
 * mmaps; using them needs no capability on kernels since 6.5 (before
 * that, with unprivileged BPF disabled, every bpf() command wants
 * CAP_BPF, which a forked child probes).  Order of the drop: bounding set
 * (needs CAP_SETPCAP, so first), ambient, then capset of effective,
 * permitted and inheritable, then no_new_privs so that no execve can
 * raise anything again.
 */
#include <errno.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vigil/privs.h"

#define VG_CAP_MAX 64

static const char *const cap_names[] = {
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

const char *vg_privs_cap_name(int cap)
{
	if (cap < 0 || (size_t)cap >= sizeof(cap_names) / sizeof(cap_names[0]))
		return NULL;
	return cap_names[cap];
}

const char *vg_privs_caps_str(uint64_t mask, char *buf, size_t n)
{
	size_t len = 0;
	int cap;

	if (n == 0)
		return buf;
	buf[0] = '\0';
	for (cap = 0; cap < VG_CAP_MAX && len < n; cap++) {
		const char *name = vg_privs_cap_name(cap);
		char num[16];

		if (!(mask & VG_CAP(cap)))
			continue;
		if (!name) {
			snprintf(num, sizeof(num), "CAP_%d", cap);
			name = num;
		}
		len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "", name);
	}
	if (!buf[0])
		snprintf(buf, n, "none");
	return buf;
}

/* ---- the raw syscalls ---- */

struct caps3 {
	uint64_t eff, prm, inh;
};

static int caps_get(struct caps3 *c)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return -errno;
	c->eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	c->prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	c->inh = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
	return 0;
}

static int caps_set(const struct caps3 *c)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)c->eff, (uint32_t)c->prm, (uint32_t)c->inh},
		{(uint32_t)(c->eff >> 32), (uint32_t)(c->prm >> 32), (uint32_t)(c->inh >> 32)},
	};

	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

static int read_int_file(const char *path, int dflt)
{
	FILE *f = fopen(path, "re");
	int v = dflt;

	if (!f)
		return dflt;
	if (fscanf(f, "%d", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
}

static int last_cap(void)
{
	return read_int_file("/proc/sys/kernel/cap_last_cap", VG_CAP_BPF);
}

/* "Threads:" of /proc/self/status, 0 when it cannot be read */
static int thread_count(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* ---- before attach: what is missing ---- */

static bool file_exists(const char *sysroot, const char *dir, const char *name)
{
	char p[1536];
	int len = snprintf(p, sizeof(p), "%s%s/%s", sysroot, dir, name);

	return len > 0 && (size_t)len < sizeof(p) && access(p, F_OK) == 0;
}

/*
 * mountinfo: "id parent maj:min root mountpoint opts [optional...] - fstype
 * source superopts".  Only the mount point and fstype matter here; mount
 * points with escaped characters (\040) are not cgroup mounts we look for.
 */
bool vg_privs_host_cgroup(FILE *mountinfo, const char *sysroot)
{
	char line[2048], mnt[512];

	while (fgets(line, sizeof(line), mountinfo)) {
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1)
			continue;
		if (strncmp(dash + 3, "cgroup2 ", 8) == 0) {
			if (!file_exists(sysroot, mnt, "cgroup.events") &&
			    file_exists(sysroot, mnt, "cgroup.procs"))
				return true;
		} else if (strncmp(dash + 3, "cgroup ", 7) == 0) {
			if (file_exists(sysroot, mnt, "release_agent"))
				return true;
		}
	}
	return false;
}

bool vg_privs_host_pid(const char *proc_root)
{
	char comm[32] = "", path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/2/comm", proc_root);
	f = fopen(path, "re");

	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strcmp(comm, "kthreadd\n") == 0;
}

static bool same_ns(const char *a, const char *b, bool *known)
{
	struct stat sa, sb;

	*known = stat(a, &sa) == 0 && stat(b, &sb) == 0;
	return *known && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/*
 * Only a hint for the wording of the advice.  In a private PID namespace:
 * surely.  Else a mount namespace other than kthreadd's (the initial one)
 * says so; when that cannot be read (no CAP_SYS_PTRACE), the marker files
 * runtimes leave.
 */
static bool in_container(bool host_pid)
{
	bool known, same;

	if (!host_pid)
		return true;
	same = same_ns("/proc/self/ns/mnt", "/proc/2/ns/mnt", &known);
	if (known)
		return !same;
	return access("/.dockerenv", F_OK) == 0 || access("/run/.containerenv", F_OK) == 0 ||
	       getenv("KUBERNETES_SERVICE_HOST") != NULL;
}

int vg_privs_facts(struct vg_privs_facts *f)
{
	struct caps3 c;
	FILE *mi;
	int err;

	memset(f, 0, sizeof(*f));
	err = caps_get(&c);
	if (err)
		return err;
	f->eff = c.eff;
	f->last_cap = last_cap();
	f->host_pid = vg_privs_host_pid("/proc");
	f->btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	f->btf_dir = access("/sys/kernel/btf", F_OK) == 0;
	mi = fopen("/proc/self/mountinfo", "re");
	if (mi) {
		f->host_cgroup = vg_privs_host_cgroup(mi, "");
		fclose(mi);
	}
	f->in_container = in_container(f->host_pid);
	f->root = geteuid() == 0;
	return 0;
}

static bool has(const struct vg_privs_facts *f, int cap)
{
	return f->eff & VG_CAP(cap);
}

/* "missing CAP_X: add ..." in container or host form */
static int missing_cap(const struct vg_privs_facts *f, char *msg, size_t n, int cap,
		       const char *name)
{
	const char *full = vg_privs_cap_name(cap);

	if (!f->root && f->in_container)
		snprintf(msg, n,
			 "missing %s: run the sensor as root (compose `user: \"0:0\"`, Kubernetes "
			 "`runAsUser: 0`) with the capabilities of deploy/compose.yaml",
			 full);
	else if (!f->in_container)
		snprintf(msg, n, "missing %s: run as root (or grant %s to vigil)", full, full);
	else if (cap == VG_CAP_SYS_ADMIN)
		snprintf(
			msg, n,
			"missing CAP_SYS_ADMIN (kernel without CAP_BPF): add `--cap-add SYS_ADMIN` "
			"(compose `cap_add: [SYS_ADMIN]`, Kubernetes `capabilities: {add: "
			"[SYS_ADMIN]}`)");
	else if (cap == VG_CAP_SYS_PTRACE || cap == VG_CAP_NET_ADMIN)
		snprintf(msg, n,
			 "missing %s: add `--cap-add %s` (compose `cap_add: [%s]`, Kubernetes "
			 "`capabilities: {add: [%s]}`)",
			 full, name, name, name);
	else
		snprintf(msg, n,
			 "missing %s: add `--cap-add %s` (compose `cap_add: [%s]`, Kubernetes "
			 "`capabilities: {add: [%s]}`; Docker 20.10 does not know %s: "
			 "`--cap-add SYS_ADMIN`)",
			 full, name, name, name, name);
	return -EPERM;
}

int vg_privs_check(const struct vg_privs_facts *f, char *msg, size_t n)
{
	bool admin = has(f, VG_CAP_SYS_ADMIN);

	msg[0] = '\0';
	if (f->last_cap < VG_CAP_BPF) {
		if (!admin)
			return missing_cap(f, msg, n, VG_CAP_SYS_ADMIN, "SYS_ADMIN");
	} else if (!admin) {
		if (!has(f, VG_CAP_BPF))
			return missing_cap(f, msg, n, VG_CAP_BPF, "BPF");
		if (!has(f, VG_CAP_PERFMON))
			return missing_cap(f, msg, n, VG_CAP_PERFMON, "PERFMON");
		if (!has(f, VG_CAP_NET_ADMIN))
			return missing_cap(f, msg, n, VG_CAP_NET_ADMIN, "NET_ADMIN");
	}
	if (!has(f, VG_CAP_SYS_PTRACE))
		return missing_cap(f, msg, n, VG_CAP_SYS_PTRACE, "SYS_PTRACE");
	return vg_privs_check_views(f, msg, n);
}

int vg_privs_check_views(const struct vg_privs_facts *f, char *msg, size_t n)
{
	msg[0] = '\0';
	if (!f->host_pid) {
		snprintf(msg, n,
			 "not in the host PID namespace: add `--pid host` (compose `pid: host`, "
			 "Kubernetes `hostPID: true`)");
		return -ENOENT;
	}
	if (!f->btf) {
		if (f->btf_dir)
			snprintf(msg, n,
				 "no /sys/kernel/btf/vmlinux: the kernel is built without "
				 "CONFIG_DEBUG_INFO_BTF");
		else
			snprintf(msg, n,
				 "missing /sys/kernel/btf: add `-v "
				 "/sys/kernel/btf:/sys/kernel/btf:ro` "
				 "(compose volume `/sys/kernel/btf:/sys/kernel/btf:ro`, Kubernetes "
				 "hostPath volume `/sys/kernel/btf`)");
		return -ENOENT;
	}
	if (!f->host_cgroup) {
		snprintf(msg, n,
			 "missing the host's /sys/fs/cgroup (only the container's own cgroup is "
			 "mounted): add `-v /sys/fs/cgroup:/sys/fs/cgroup:ro` (compose volume "
			 "`/sys/fs/cgroup:/sys/fs/cgroup:ro`, Kubernetes hostPath volume "
			 "`/sys/fs/cgroup`)");
		return -ENOENT;
	}
	return 0;
}

static int required(char *msg, size_t n,
		    int (*check)(const struct vg_privs_facts *, char *, size_t))
{
	struct vg_privs_facts f;
	int err = vg_privs_facts(&f);

	if (err) {
		snprintf(msg, n, "cannot read this process's capabilities: %s", strerror(-err));
		return err;
	}
	return check(&f, msg, n);
}

int vg_privs_required(char *msg, size_t n)
{
	return required(msg, n, vg_privs_check);
}

int vg_privs_views(char *msg, size_t n)
{
	return required(msg, n, vg_privs_check_views);
}

/* ---- after attach: shed ---- */

/* the BPF capability this kernel knows, if held */
static uint64_t bpf_cap(const struct caps3 *c)
{
	if (last_cap() >= VG_CAP_BPF && (c->prm & VG_CAP(VG_CAP_BPF)))
		return VG_CAP(VG_CAP_BPF);
	return c->prm & VG_CAP(VG_CAP_SYS_ADMIN);
}

/* In a child: can bpf_fd still be queried with only `keep`? */
static bool fd_ops_work_with(int bpf_fd, uint64_t keep)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return false;
	if (pid == 0) {
		struct caps3 c = {keep, keep, 0};
		struct bpf_map_info info;
		union bpf_attr attr;

		memset(&info, 0, sizeof(info));
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = (uint32_t)bpf_fd;
		attr.info.info_len = sizeof(info);
		attr.info.info = (uint64_t)(uintptr_t)&info;
		if (caps_set(&c))
			_exit(2);
		_exit(syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

uint64_t vg_privs_keep_default(int bpf_fd)
{
	struct caps3 c;
	uint64_t keep = VG_PRIVS_KEEP;

	if (bpf_fd < 0 || caps_get(&c))
		return keep;
	if (!fd_ops_work_with(bpf_fd, keep & c.prm))
		keep |= bpf_cap(&c);
	return keep;
}

int vg_privs_drop(const uint64_t keep_mask, char *desc, size_t n)
{
	char kept[256], gone[128];
	struct caps3 before, after;
	uint64_t dropped;
	bool bounding = false;
	int threads = thread_count(), top = last_cap(), cap, err;

	desc[0] = '\0';
	if (threads > 1) {
		snprintf(desc, n, "capabilities not dropped: %d threads already running", threads);
		return -EBUSY;
	}
	err = caps_get(&before);
	if (err)
		goto fail;
	after.prm = before.prm & keep_mask;
	after.eff = after.prm;
	after.inh = 0; /* nothing is exec'd: nothing to pass on */

	if (before.eff & VG_CAP(VG_CAP_SETPCAP)) {
		for (cap = 0; cap <= top && cap < VG_CAP_MAX; cap++) {
			if ((keep_mask & VG_CAP(cap)) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
				continue;
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
				err = -errno;
				goto fail;
			}
		}
		bounding = true;
	}
	/* EINVAL: a kernel before 4.3 has no ambient set */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
		err = -errno;
		goto fail;
	}
	err = caps_set(&after);
	if (err)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		err = -errno;
		goto fail;
	}
	err = caps_get(&after);
	if (err)
		goto fail;
	if (after.eff & ~keep_mask) {
		err = -EPERM;
		goto fail;
	}
	vg_privs_caps_str(after.eff, kept, sizeof(kept));
	dropped = before.prm & ~after.prm;
	/* a root run drops dozens: name them only when few */
	if (__builtin_popcountll(dropped) <= 4)
		vg_privs_caps_str(dropped, gone, sizeof(gone));
	else
		snprintf(gone, sizeof(gone), "%d others", __builtin_popcountll(dropped));
	snprintf(desc, n, "capabilities %s (dropped %s), no_new_privs%s", kept, gone,
		 bounding ? ", bounding set reduced" : "");
	return 0;
fail:
	snprintf(desc, n, "capabilities not dropped: %s", strerror(-err));
	return err;
}
