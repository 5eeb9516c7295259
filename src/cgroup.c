/*
 * cgroup: container runtime and id from a cgroup path (see cgroup.h).
 *
 * The path is read component by component.  Container components are
 *   docker-<id>[.scope]          Docker, systemd driver (also rootless)
 *   cri-containerd-<id>[.scope]  containerd CRI, systemd driver
 *   crio-<id>[.scope]            CRI-O (either driver)
 *   libpod-<id>[.scope]          Podman
 *   <id>                         bare id: Docker cgroupfs when the parent is
 *                                "docker", Kubernetes cgroupfs under a
 *                                kubepods tree (reported as containerd: the
 *                                path does not tell CRI runtimes apart),
 *                                else a container of unknown runtime
 * where <id> is exactly 64 lower-case hex digits; anything else is not a
 * container.  crio-conmon-<id> and libpod-conmon-<id> are the runtimes'
 * monitors, which run on the host side, and stay host.
 *
 * Kubernetes trees: "kubepods" (cgroupfs) with optional "besteffort" or
 * "burstable" and "pod<uid>", or systemd slices whose names contain
 * "kubepods" ("kubepods-burstable-pod<uid_with_underscores>.slice", also
 * under a prefix such as kubelet-kubepods-...).  A pod without a QoS level
 * is Guaranteed.
 *
 * Nesting (docker-in-docker: /docker/<id>/docker/<id2>): the innermost
 * container wins, because that is the one the process belongs to; the
 * outermost is kept in outer_id, because it is the one the host's runtime
 * knows.  A process that can write its cgroupfs (a privileged container)
 * can create nested cgroups with any name: consumers that need identity
 * the host can vouch for use outer_id when it is set.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "vigil/cgroup.h"

struct comp {
	const char *s;
	size_t n;
};

static bool comp_is(struct comp c, const char *lit)
{
	size_t n = strlen(lit);

	return c.n == n && !memcmp(c.s, lit, n);
}

static bool has_prefix(struct comp c, const char *lit)
{
	size_t n = strlen(lit);

	return c.n >= n && !memcmp(c.s, lit, n);
}

static bool has_suffix(struct comp c, const char *lit)
{
	size_t n = strlen(lit);

	return c.n >= n && !memcmp(c.s + c.n - n, lit, n);
}

static bool is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool is_ctr_id(const char *s, size_t n)
{
	return n == VG_CTR_ID_LEN && is_hex(s, n);
}

/*
 * A pod UID: 8-4-4-4-12 hex with '-' (cgroupfs) or '_' (systemd) between
 * the groups, or 32 hex (static pods use a hash).  Written with dashes.
 */
static bool parse_pod_uid(const char *s, size_t n, char out[VG_POD_UID_LEN + 1])
{
	char uid[VG_POD_UID_LEN + 1];
	size_t i;

	if (n == 32 && is_hex(s, n)) {
		memcpy(out, s, n);
		out[n] = '\0';
		return true;
	}
	if (n != VG_POD_UID_LEN)
		return false;
	/* built aside: a candidate rejected halfway leaves out as it was */
	for (i = 0; i < n; i++) {
		bool sep = i == 8 || i == 13 || i == 18 || i == 23;

		if (sep ? (s[i] != '-' && s[i] != '_') : !is_hex(s + i, 1))
			return false;
		uid[i] = sep ? '-' : s[i];
	}
	uid[n] = '\0';
	memcpy(out, uid, sizeof(uid));
	return true;
}

static struct comp strip_scope(struct comp c)
{
	if (has_suffix(c, ".scope"))
		c.n -= 6;
	return c;
}

/* a runtime's "<prefix><id>[.scope]" component: the id, or n == 0 */
static struct comp prefixed_id(struct comp c, const char *prefix)
{
	struct comp id = {NULL, 0};
	size_t pn = strlen(prefix);

	if (!has_prefix(c, prefix))
		return id;
	c = strip_scope(c);
	if (is_ctr_id(c.s + pn, c.n - pn)) {
		id.s = c.s + pn;
		id.n = c.n - pn;
	}
	return id;
}

static const struct {
	const char *prefix;
	enum vg_runtime rt;
} ctr_prefixes[] = {
	/* monitors first: "crio-conmon-<id>" also starts with "crio-" */
	{"crio-conmon-", VG_RT_HOST}, {"libpod-conmon-", VG_RT_HOST},
	{"docker-", VG_RT_DOCKER},    {"cri-containerd-", VG_RT_CONTAINERD},
	{"crio-", VG_RT_CRIO},	      {"libpod-", VG_RT_PODMAN},
};

/* Is c a container component?  Sets *rt and *id. */
static bool match_container(struct comp c, struct comp parent, bool in_kube, enum vg_runtime *rt,
			    struct comp *id)
{
	size_t i;

	for (i = 0; i < sizeof(ctr_prefixes) / sizeof(ctr_prefixes[0]); i++) {
		if (!has_prefix(c, ctr_prefixes[i].prefix))
			continue;
		*id = prefixed_id(c, ctr_prefixes[i].prefix);
		if (!id->n || ctr_prefixes[i].rt == VG_RT_HOST)
			return false;
		*rt = ctr_prefixes[i].rt;
		return true;
	}
	if (!is_ctr_id(c.s, c.n))
		return false;
	*id = c;
	if (comp_is(parent, "docker"))
		*rt = VG_RT_DOCKER;
	else if (in_kube)
		*rt = VG_RT_CONTAINERD;
	else
		*rt = VG_RT_UNKNOWN;
	return true;
}

/* systemd slice of a Kubernetes tree: "...kubepods[-qos][-pod<uid>].slice" */
static bool match_kube_slice(struct comp c, struct vg_cgroup_info *out)
{
	const char *k;
	struct comp rest;

	if (!has_suffix(c, ".slice"))
		return false;
	k = memmem(c.s, c.n, "kubepods", 8);
	if (!k)
		return false;
	rest.s = k + 8;
	rest.n = c.n - 6 - (size_t)(rest.s - c.s);
	if (has_prefix(rest, "-besteffort")) {
		out->qos = VG_QOS_BESTEFFORT;
		rest.s += 11;
		rest.n -= 11;
	} else if (has_prefix(rest, "-burstable")) {
		out->qos = VG_QOS_BURSTABLE;
		rest.s += 10;
		rest.n -= 10;
	}
	if (has_prefix(rest, "-pod"))
		parse_pod_uid(rest.s + 4, rest.n - 4, out->pod_uid);
	return true;
}

static bool is_unit(struct comp c)
{
	static const char *const sfx[] = {".service", ".scope", ".slice",
					  ".socket",  ".mount", ".swap"};
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if (has_suffix(c, sfx[i]) && c.n > strlen(sfx[i]))
			return true;
	return false;
}

static void copy_comp(char *dst, size_t dstsz, struct comp c)
{
	size_t n = c.n < dstsz - 1 ? c.n : dstsz - 1;

	memcpy(dst, c.s, n);
	dst[n] = '\0';
}

int vg_cgroup_parse(const char *path, struct vg_cgroup_info *out)
{
	struct comp c, parent = {"", 0}, unit = {"", 0}, inner = {NULL, 0}, outer = {NULL, 0};
	enum vg_runtime rt = VG_RT_HOST, inner_rt = VG_RT_HOST;
	bool in_kube = false;
	size_t len, pos = 0;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->runtime = VG_RT_HOST;
	if (!path || path[0] != '/')
		return -EINVAL;
	len = strlen(path);
	/* /proc/PID/cgroup marks a removed v2 cgroup */
	if (len >= 10 && !memcmp(path + len - 10, " (deleted)", 10))
		len -= 10;

	while (pos < len) {
		struct comp id;

		while (pos < len && path[pos] == '/')
			pos++;
		c.s = path + pos;
		while (pos < len && path[pos] != '/')
			pos++;
		c.n = (size_t)(path + pos - c.s);
		if (!c.n)
			break;

		if (comp_is(c, "kubepods")) {
			in_kube = true;
		} else if (in_kube && comp_is(c, "besteffort")) {
			out->qos = VG_QOS_BESTEFFORT;
		} else if (in_kube && comp_is(c, "burstable")) {
			out->qos = VG_QOS_BURSTABLE;
		} else if (in_kube && has_prefix(c, "pod") &&
			   parse_pod_uid(c.s + 3, c.n - 3, out->pod_uid)) {
			/* pod uid stored */
		} else if (match_kube_slice(c, out)) {
			in_kube = true;
		} else if (match_container(c, parent, in_kube, &rt, &id)) {
			if (!outer.s)
				outer = id;
			inner = id;
			inner_rt = rt;
		}
		if (is_unit(c))
			unit = c;
		parent = c;
	}

	if (in_kube && out->pod_uid[0] && out->qos == VG_QOS_NONE)
		out->qos = VG_QOS_GUARANTEED;
	if (!inner.s) {
		copy_comp(out->unit, sizeof(out->unit), unit);
		return 0;
	}
	out->runtime = inner_rt;
	copy_comp(out->id, sizeof(out->id), inner);
	if (outer.s != inner.s)
		copy_comp(out->outer_id, sizeof(out->outer_id), outer);
	return 0;
}

const char *vg_runtime_name(enum vg_runtime rt)
{
	switch (rt) {
	case VG_RT_HOST:
		return "host";
	case VG_RT_DOCKER:
		return "docker";
	case VG_RT_CONTAINERD:
		return "containerd";
	case VG_RT_CRIO:
		return "cri-o";
	case VG_RT_PODMAN:
		return "podman";
	case VG_RT_UNKNOWN:
		return "unknown";
	}
	return "unknown";
}

const char *vg_qos_name(enum vg_k8s_qos qos)
{
	switch (qos) {
	case VG_QOS_GUARANTEED:
		return "guaranteed";
	case VG_QOS_BURSTABLE:
		return "burstable";
	case VG_QOS_BESTEFFORT:
		return "besteffort";
	case VG_QOS_NONE:
		break;
	}
	return NULL;
}
