/*
 * lineage: walk ptgid links in the process table.
 *
 * "Inside the container" is decided per link, child to parent: the parent
 * is outside when it is a runtime helper (runc, containerd-shim, conmon) in
 * another mount namespace, lives in another pid namespace or (for a known
 * container) another cgroup that is not one of the container's,
 * or when the kernel said so (ns_ppid == 0 for a child that is not the
 * namespace's init: its parent is not visible in its namespace).  A process
 * is in a non-host pid namespace exactly when its pid there differs from
 * its host pid.
 */
#include <string.h>

#include "vigil/lineage.h"

bool vg_lineage_runtime_comm(const char *comm)
{
#define P(s)                                                                                       \
	{                                                                                          \
		s, sizeof(s) - 1                                                                   \
	}
	static const struct {
		const char *s;
		size_t n;
	} prefixes[] = {
		P("runc"),  P("crun"), P("conmon"), P("containerd-shim"), P("docker-containe"),
		P("youki"),
	};
#undef P

	if (!comm)
		return false;
	/* asked for every link of every lineage: the first byte settles most */
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (comm[0] == prefixes[i].s[0] && !strncmp(comm, prefixes[i].s, prefixes[i].n))
			return true;
	return false;
}

static bool in_own_pidns(const struct vg_proc *p)
{
	return p->ns_pid != 0 && p->ns_pid != p->tgid;
}

/* The kernel saw no parent in cur's namespace. */
static bool parent_hidden(const struct vg_proc *cur)
{
	return in_own_pidns(cur) && cur->ns_pid > 1 && cur->ns_ppid == 0;
}

/* Both in the known container's cgroup: a pid namespace between them was
 * made inside the container (unshare -p), not the container's edge.  The
 * v1 memory cgroup too when either has one: on a cgroup v1 host every
 * process reads as the v2 root. */
static bool same_cgroup(const struct vg_proc *cur, const struct vg_proc *par, bool known_ctr)
{
	if (!known_ctr || !cur->cgroup_id || cur->cgroup_id != par->cgroup_id)
		return false;
	return cur->cgroup_v1_id == par->cgroup_v1_id;
}

struct walk {
	const struct vg_container *ctr; /* NULL: not known */
	vg_lineage_in_fn in_ctr;
	void *arg;
};

static bool outside(const struct vg_proc *cur, const struct vg_proc *par, const struct walk *w)
{
	bool known_ctr = w->ctr != NULL;
	bool same_cg = same_cgroup(cur, par, known_ctr);

	/* a runtime's name counts only on a parent in another mount or pid
	 * namespace: inside the container, a process can be called runc
	 * (crun's exec helper joins the mounts and cgroup, not the pids) */
	if (vg_lineage_runtime_comm(par->comm) &&
	    !(cur->mntns && cur->mntns == par->mntns && cur->pidns && cur->pidns == par->pidns))
		return true;
	if (!same_cg && cur->pidns && par->pidns && cur->pidns != par->pidns)
		return true;
	if (!same_cg && parent_hidden(cur))
		return true;
	/* another cgroup of the same container (systemd's units in it) is
	 * no edge */
	if (known_ctr && cur->cgroup_id && par->cgroup_id && cur->cgroup_id != par->cgroup_id)
		return !w->in_ctr || !w->in_ctr(w->arg, par, w->ctr);
	return false;
}

/*
 * cur's parent in the table, or NULL.  An entry's ptgid is what its last
 * record said: a process whose parent exited was reparented since, and the
 * dead parent's pid, once reaped, may be another process's.  One that
 * started after cur is not its parent (start times known from fork records;
 * 0, unknown, passes).
 */
static const struct vg_proc *parent_of(const struct vg_proctab *pt, const struct vg_proc *cur)
{
	const struct vg_proc *par = vg_proctab_get(pt, cur->ptgid);

	if (par && par->start_ns && cur->start_ns && par->start_ns > cur->start_ns)
		return NULL;
	return par;
}

/*
 * The container's PID 1, or its main process as the runtime reported it
 * (which is how an init looks in a container sharing the host pid ns).
 * Not the PID 1 of a namespace made inside the container (unshare -pf sh):
 * its parent is in the container's cgroup.
 */
static bool is_init(const struct vg_proctab *pt, const struct vg_ev *ev, const struct vg_proc *p)
{
	if (ev->ctr && ev->ctr->pid > 0 && (uint32_t)ev->ctr->pid == p->tgid)
		return true;
	if (p->ns_pid != 1 || !in_own_pidns(p))
		return false;
	const struct vg_proc *par = p->ptgid ? parent_of(pt, p) : NULL;

	return !par || !same_cgroup(p, par, ev->ctr != NULL);
}

void vg_lineage_fill(const struct vg_proctab *pt, struct vg_ev *ev)
{
	vg_lineage_fill_upto(pt, ev, VG_LINEAGE_MAX, NULL, NULL);
}

void vg_lineage_fill_upto(const struct vg_proctab *pt, struct vg_ev *ev, unsigned host_levels,
			  vg_lineage_in_fn in_ctr, void *arg)
{
	const struct vg_proc *cur, *top = NULL;
	const struct walk w = {.ctr = ev->ctr, .in_ctr = in_ctr, .arg = arg};
	bool ctr;

	ev->nancestors = 0;
	ev->ctr_init = NULL;
	ev->exec_entry = false;
	cur = ev->proc;
	if (!cur || !pt)
		return;
	ctr = ev->ctr != NULL || in_own_pidns(cur);

	if (ctr && is_init(pt, ev, cur)) {
		ev->ctr_init = cur; /* the init itself: no chain inside */
		return;
	}
	for (unsigned step = 0; step < VG_LINEAGE_WALK; step++) {
		const struct vg_proc *par;

		if (cur->ptgid == 0 || cur->ptgid == cur->tgid)
			break;
		par = parent_of(pt, cur);
		if (!ctr) {
			if (!par || ev->nancestors >= VG_LINEAGE_MAX ||
			    ev->nancestors >= host_levels)
				break;
			ev->ancestors[ev->nancestors++] = par;
			cur = par;
			continue;
		}
		if (!par) {
			if (parent_hidden(cur))
				top = cur;
			break;
		}
		if (outside(cur, par, &w)) {
			top = cur;
			break;
		}
		if (ev->nancestors < VG_LINEAGE_MAX)
			ev->ancestors[ev->nancestors++] = par;
		if (is_init(pt, ev, par)) {
			ev->ctr_init = par;
			top = par;
			break;
		}
		cur = par;
	}
	if (!ctr)
		return;
	if (top && !is_init(pt, ev, top))
		ev->exec_entry = true;
	if (!ev->ctr_init && ev->ctr && ev->ctr->pid > 0) {
		const struct vg_proc *init = vg_proctab_get(pt, (uint32_t)ev->ctr->pid);

		/* the pid may have been reused since the runtime reported it */
		if (init && !init->exited &&
		    (!init->pidns || !ev->proc->pidns || init->pidns == ev->proc->pidns))
			ev->ctr_init = init;
	}
}
