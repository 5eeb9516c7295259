/*
 * drain: how long the agent waits before its next ring-buffer drain.
 *
 * A drain has a fixed cost (a wakeup of the agent, 25-50 us of CPU on a
 * 2-core VM, more with a busy host's caches) and a cost per record.  A fixed
 * interval pays the fixed part a hundred times a second whatever the rate:
 * 0.3-0.5 us of every record at an exec storm's 10,000 a second, next to the
 * 0.5-1 us the record itself costs.  So the interval follows the record
 * rate: the time a drain takes to gather VG_DRAIN_BATCH records, bounded by
 * min_ms (a flood: its fixed cost is spread thin anyway, and a shorter wait
 * is a shorter latency) and max_ms (a moderate rate: the latency bound).
 *
 * The rate is smoothed over drains (half the last drain's, half the earlier
 * estimate), so one quiet or busy interval moves the next wait only halfway.
 * Pure arithmetic, no clock of its own: the caller passes what a drain
 * delivered and the time since the one before.
 *
 * A park (the agent asleep until the next record, agent.c) ends the
 * estimate: the records that woke it came after an idle spell of unknown
 * length, which says nothing of the rate that follows.  So the wait after
 * a park is min_ms, and the drain that ends it measures the rate afresh,
 * unsmoothed: a burst that starts on an idle host is drained after min_ms,
 * not after the max_ms an idle spell's rate would give.
 */
#ifndef VIGIL_DRAIN_H
#define VIGIL_DRAIN_H

#include <stdint.h>

#define VG_DRAIN_BATCH 1000 /* records a drain aims to gather */
#define VG_DRAIN_MIN_MS 5
#define VG_DRAIN_MAX_MS 15

struct vg_drain {
	unsigned min_ms, max_ms;
	uint64_t rate; /* records a second, smoothed */
	unsigned ms;   /* the next wait */
	int fresh;     /* after a park: the next drain's rate is taken as is */
};

/* Bounds in ms; max_ms below min_ms is raised to it, 0 to 1.  The first
 * wait is max_ms (no rate yet). */
void vg_drain_init(struct vg_drain *d, unsigned min_ms, unsigned max_ms);

/* A drain delivered records, elapsed_ns after the previous one: returns
 * (and keeps in d->ms) the wait before the next drain. */
unsigned vg_drain_next(struct vg_drain *d, uint64_t records, uint64_t elapsed_ns);

/* A drain ended a park with records: forgets the rate; returns (and keeps)
 * min_ms, after which vg_drain_next measures it anew. */
unsigned vg_drain_unpark(struct vg_drain *d);

#endif
