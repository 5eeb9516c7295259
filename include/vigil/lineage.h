/*
 * lineage: the parent chain of a record's process, read from the process
 * table.  In a container the chain stops at the container's init (its
 * PID 1, included) or at the first parent outside the container; on the
 * host after VG_LINEAGE_MAX levels.  It also tells how the process entered
 * the container: from the container's own init, or from outside (docker /
 * kubectl exec: the topmost process of its chain has a parent outside the
 * container that is not the init).  Pure code over the table: no I/O.
 */
#ifndef VIGIL_LINEAGE_H
#define VIGIL_LINEAGE_H

#include <stdbool.h>

#include "vigil/model.h"
#include "vigil/proctab.h"

/* How far the walk goes at most (past VG_LINEAGE_MAX it still looks for the
 * init and the entry point without recording). */
#define VG_LINEAGE_WALK 64

/*
 * Fill ev->ancestors, nancestors, ctr_init and exec_entry for ev->proc
 * (nothing when it is NULL).  ev->ctr (may be NULL) says the process is in
 * a container even when it shares the host's pid namespace; its pid (the
 * runtime's main process) names the init when the chain does not reach it.
 */
void vg_lineage_fill(const struct vg_proctab *pt, struct vg_ev *ev);

/*
 * Whether p lives in container ctr: its cgroup is the container's or one
 * made inside it (systemd's units in a container, a nested runtime's).
 */
typedef bool (*vg_lineage_in_fn)(void *arg, const struct vg_proc *p,
				 const struct vg_container *ctr);

/*
 * The same with the host chain cut at host_levels (1: the parent alone,
 * all a compact fork or exit record shows; container chains are walked
 * whole, they decide vigil.entry).  in_ctr (may be NULL: any other cgroup
 * is outside) tells whether a parent in another cgroup than its child's
 * is still in ev->ctr.
 */
void vg_lineage_fill_upto(const struct vg_proctab *pt, struct vg_ev *ev, unsigned host_levels,
			  vg_lineage_in_fn in_ctr, void *arg);

/* comm of a runtime helper that starts container processes: runc, crun,
 * containerd-shim*, conmon, ... */
bool vg_lineage_runtime_comm(const char *comm);

#endif
