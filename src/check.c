// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * check: the host report behind `vigil check`.
 *
 * Every line is a real probe where one is possible: program types are
 * checked by loading (and attaching) a two-instruction program, the ring
 * buffer by creating one.  tracefs is mounted for the classic tracepoint
 * probe when missing and unmounted again, so the host is left as found.
 *
 * Verdict: the sensor runs when BTF is present, the capabilities and the
 * lockdown mode allow BPF tracing, a ring buffer can be created and the
 * exec hook loads (tp_btf, or a classic tracepoint).  A missing tracefs or
 * cgroup v2 only switches some events off, as the sensor's ready line says.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "vigil/check.h"
#include "vigil/loader.h"
#include "vigil/privs.h"

enum vg_cgroup_mode {
	VG_CG_NONE = 0,
	VG_CG_V1 = 1,	  /* v1 hierarchies only */
	VG_CG_V2 = 2,	  /* unified hierarchy only */
	VG_CG_HYBRID = 3, /* v1 controllers plus a v2 hierarchy */
};

/* Classify the cgroup mounts listed in a mountinfo stream. */
static enum vg_cgroup_mode cgroup_mode(FILE *mi)
{
	char line[1024];
	bool v1 = false, v2 = false;

	while (fgets(line, sizeof(line), mi)) {
		/* "... - fstype source superopts": the type follows the separator */
		char *dash = strstr(line, " - ");

		if (!dash)
			continue;
		if (strncmp(dash + 3, "cgroup2 ", 8) == 0)
			v2 = true;
		else if (strncmp(dash + 3, "cgroup ", 7) == 0)
			v1 = true;
	}
	if (v1 && v2)
		return VG_CG_HYBRID;
	return v2 ? VG_CG_V2 : v1 ? VG_CG_V1 : VG_CG_NONE;
}

static const char *cgroup_mode_name(enum vg_cgroup_mode m)
{
	switch (m) {
	case VG_CG_V1:
		return "v1";
	case VG_CG_V2:
		return "v2";
	case VG_CG_HYBRID:
		return "hybrid";
	case VG_CG_NONE:
		break;
	}
	return "none";
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static void row(FILE *out, const char *what, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void row(FILE *out, const char *what, bool ok, const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "  %-20s %-4s ", what, ok ? "ok" : "no");
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

static const char *probe_detail(int err, char *buf, size_t n)
{
	if (!err)
		return "loads";
	snprintf(buf, n, "does not load (%s)", strerror(-err));
	return buf;
}

static const struct {
	int cap;
	const char *name;
} caps[] = {
	{39, "CAP_BPF"},       {38, "CAP_PERFMON"},    {12, "CAP_NET_ADMIN"},
	{21, "CAP_SYS_ADMIN"}, {19, "CAP_SYS_PTRACE"}, {2, "CAP_DAC_READ_SEARCH"},
};

int vg_check_run(FILE *out)
{
	const char *reason = NULL, *tfs;
	char buf[256], lk[32] = "", cg[512] = "", det[128];
	enum vg_cgroup_mode mode = VG_CG_NONE;
	bool btf, caps_ok, mounted = false, exec_hook = false;
	int tp_btf = -ENOENT, raw, classic, sock, rb, capmnt, ut;
	uint64_t cap = 0;
	char pmsg[512], rmsg[512], kept[128];
	int perr, rerr;
	struct utsname u;
	size_t i, len = 0;
	FILE *mi;

	libbpf_set_print(quiet);
	if (uname(&u) == 0)
		fprintf(out, "  %-20s      %s %s\n", "kernel", u.release, u.machine);

	btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	row(out, "BTF", btf, "%s",
	    btf ? "/sys/kernel/btf/vmlinux"
		: "missing: kernel built without CONFIG_DEBUG_INFO_BTF");

	caps_ok = vg_loader_cap_eff(&cap) == 0 && vg_loader_caps_enough(cap);
	buf[0] = '\0';
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		int n = snprintf(buf + len, sizeof(buf) - len, "%s%c%s", len ? " " : "",
				 cap & (1ULL << caps[i].cap) ? '+' : '-', caps[i].name + 4);

		if (n > 0 && (size_t)n < sizeof(buf) - len)
			len += n;
	}

	rerr = vg_privs_required(rmsg, sizeof(rmsg)); /* the verdict: vigil run's */
	row(out, "capabilities", caps_ok && rerr != -EPERM, "%s", buf);
	/* the host views, judged whatever the capabilities (vigil run stops
	 * at the first thing missing), and what is kept once attached */
	perr = vg_privs_views(pmsg, sizeof(pmsg));

	row(out, "host views", perr == 0, "%s",
	    perr ? pmsg : "host PID namespace, host cgroup hierarchy, BTF");
	vg_privs_caps_str(VG_PRIVS_KEEP & cap, kept, sizeof(kept));
	row(out, "after attach", true,
	    "keeps %s (and CAP_BPF on kernels before 6.5 that gate map reads on it), drops the "
	    "rest, sets no_new_privs",
	    kept);

	if (vg_loader_lockdown(lk, sizeof(lk)))
		row(out, "lockdown", strcmp(lk, "confidentiality") != 0, "%s", lk);
	else
		row(out, "lockdown", true, "not reported (no securityfs): assumed none");

	tfs = vg_loader_tracefs(false, NULL);
	if (tfs) {
		row(out, "tracefs", true, "mounted at %s", tfs);
	} else {
		tfs = vg_loader_tracefs(true, &mounted);
		row(out, "tracefs", tfs != NULL, "%s",
		    tfs ? "not mounted; mountable at /sys/kernel/tracing (the sensor mounts it)"
			: "not mounted (or not readable) and not mountable: mount events and "
			  "connect results off");
	}

	if (btf) {
		tp_btf = vg_loader_probe(VG_PROBE_TP_BTF);
		row(out, "tp_btf", !tp_btf, "%s", probe_detail(tp_btf, det, sizeof(det)));
	} else {
		row(out, "tp_btf", false, "needs BTF");
	}
	ut = btf ? vg_loader_probe(VG_PROBE_UNTRUSTED) : -ENOENT;
	row(out, "untrusted task loads", !ut, "%s",
	    !ut ? "bpf_rdonly_cast: task fields by direct loads, quick to verify, in the "
		  "connect hooks too"
		: "no bpf_rdonly_cast: direct loads through trusted pointers (slower to verify: "
		  "start-up), probe reads in the connect hooks");
	raw = vg_loader_probe(VG_PROBE_RAW_TP);
	row(out, "raw tracepoint", !raw, "%s", probe_detail(raw, det, sizeof(det)));
	classic = vg_loader_probe(VG_PROBE_TRACEPOINT);
	row(out, "classic tracepoint", !classic, "%s",
	    classic == -ENOENT && !tfs ? "needs tracefs" : probe_detail(classic, det, sizeof(det)));
	capmnt = vg_loader_probe(VG_PROBE_CAPABILITY);
	row(out, "mount hook", !capmnt, "%s",
	    !capmnt ? "capability:cap_capable: mount seen with no syscall tracepoint (default)"
		    : "no capability:cap_capable tracepoint: the default mode watches mount "
		      "through syscall tracepoints (every syscall on the host slower)");
	row(out, "--syscall-results", tfs != NULL, "%s",
	    tfs ? "available: syscall tracepoints add connect/mount results and "
		  "seccomp-refused mounts, at a cost on every syscall"
		: "needs tracefs");
	if (mounted)
		umount2("/sys/kernel/tracing", MNT_DETACH);
	sock = vg_loader_probe(VG_PROBE_CGROUP_SOCK);
	row(out, "cgroup sock_addr", !sock, "%s", probe_detail(sock, det, sizeof(det)));
	rb = vg_loader_probe(VG_PROBE_RINGBUF);
	row(out, "ring buffer", !rb, "%s",
	    rb ? (snprintf(det, sizeof(det), "cannot create one (%s)", strerror(-rb)), det)
	       : "creatable (BPF_MAP_TYPE_RINGBUF)");

	mi = fopen("/proc/self/mountinfo", "re");
	if (mi) {
		mode = cgroup_mode(mi);
		fclose(mi);
	}
	vg_loader_cgroup2_root(cg, sizeof(cg));
	if (cg[0])
		row(out, "cgroups", true, "%s, v2 root %s", cgroup_mode_name(mode), cg);
	else
		row(out, "cgroups", mode != VG_CG_NONE, "%s, no v2 hierarchy: connect events off",
		    cgroup_mode_name(mode));

	exec_hook = !tp_btf || !classic;
	if (!btf)
		reason = "no BTF at /sys/kernel/btf/vmlinux: kernel built without "
			 "CONFIG_DEBUG_INFO_BTF";
	else if (!caps_ok)
		reason = "needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run as root or add the "
			 "capabilities";
	else if (rerr)
		reason = rmsg; /* `vigil run` refuses with this line */
	else if (strcmp(lk, "confidentiality") == 0)
		reason = "kernel lockdown (confidentiality) forbids BPF tracing";
	else if (rb)
		reason = "ring buffer maps are not available (kernel older than 5.8?)";
	else if (!exec_hook)
		reason = "neither tp_btf nor classic tracepoint programs load";

	if (reason) {
		fprintf(out, "cannot run: %s\n", reason);
		return 2;
	}
	fprintf(out, "can run: exec, fork, exit and oom on %s%s%s; default hooks: %s\n",
		!tp_btf ? "tp_btf" : "classic tracepoints",
		sock || !cg[0] ? "; connect events off (no cgroup sock_addr hook)" : "",
		!tfs && capmnt ? "; mount events and connect results off (no tracefs)" : "",
		!capmnt ? "no syscall tracepoint (mount at the capability check, connect at "
			  "the cgroup hooks, outcome unknown)"
		: tfs	? "mount on syscall tracepoints (fallback: every syscall pays)"
			: "none for mount");
	return 0;
}
