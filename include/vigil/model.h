/*
 * model: one decoded record together with what the agent knows around it
 * (process, parent chain, container).  Built by the agent per record, on
 * the stack, and read by encoders, rules and sinks.  Pointers are valid
 * only for the duration of the record's processing.
 */
#ifndef VIGIL_MODEL_H
#define VIGIL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/container.h"
#include "vigil/proctab.h"
#include "vigil/record.h"

#define VG_LINEAGE_MAX 8

struct vg_ev {
	struct vg_rec rec;
	uint64_t wall_ns;		/* CLOCK_REALTIME of the record */
	const struct vg_proc *proc;	/* the process; may be NULL */
	const struct vg_container *ctr; /* NULL: a host process */
	/* parent chain, parent first, up to the container's init (inclusive)
	 * or VG_LINEAGE_MAX levels on the host */
	const struct vg_proc *ancestors[VG_LINEAGE_MAX];
	unsigned nancestors;
	const struct vg_proc *ctr_init; /* the container's PID 1, if known */
	bool exec_entry;		/* entered from outside (docker exec) */
};

#endif
