/*
 * drain: the wait between ring-buffer drains follows the record rate
 * (include/vigil/drain.h).
 */
#include "vigil/drain.h"

void vg_drain_init(struct vg_drain *d, unsigned min_ms, unsigned max_ms)
{
	d->min_ms = min_ms ? min_ms : 1;
	d->max_ms = max_ms < d->min_ms ? d->min_ms : max_ms;
	d->rate = 0;
	d->ms = d->max_ms;
	d->fresh = 0;
}

unsigned vg_drain_next(struct vg_drain *d, uint64_t records, uint64_t elapsed_ns)
{
	uint64_t now, ms;

	/* records a second over this interval; a drain right after the last
	 * (a forced wakeup) counts as one of a microsecond */
	if (elapsed_ns < 1000)
		elapsed_ns = 1000;
	if (records > UINT64_MAX / 1000000000u)
		records = UINT64_MAX / 1000000000u;
	now = records * 1000000000u / elapsed_ns;
	d->rate = d->fresh ? now : d->rate / 2 + now / 2;
	d->fresh = 0;

	/* ms to gather a batch at that rate, to the nearest */
	ms = d->rate ? ((uint64_t)VG_DRAIN_BATCH * 1000u + d->rate / 2) / d->rate : d->max_ms;
	d->ms = ms < d->min_ms ? d->min_ms : ms > d->max_ms ? d->max_ms : (unsigned)ms;
	return d->ms;
}

unsigned vg_drain_unpark(struct vg_drain *d)
{
	d->rate = 0;
	d->fresh = 1;
	d->ms = d->min_ms;
	return d->ms;
}
