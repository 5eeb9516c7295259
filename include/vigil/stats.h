/*
 * stats: the counter registry behind the periodic `stats` record and the
 * Prometheus endpoint, so both always show the same numbers.  It owns the
 * agent-wide counters (events by type, ring-buffer drops, decode errors,
 * records out by kind, rule hits) and reads, without owning them, the
 * counters of sinks and the tail server and any extra value a module
 * registers.  Counters are atomics: any thread may bump them; registration
 * happens at start-up, before other threads read.
 */
#ifndef VIGIL_STATS_H
#define VIGIL_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/event.h"
#include "vigil/json.h"
#include "vigil/out.h"

#define VG_STATS_RULES_MAX 64
#define VG_STATS_SINKS_MAX 16
#define VG_STATS_VALUES_MAX 32
#define VG_STATS_NAME_MAX 64

/* One sink's counters, owned by the sink (sinks.c), read here. */
struct vg_sink_counters {
	_Atomic uint64_t queued;     /* lines accepted into the sink's queue */
	_Atomic uint64_t written;    /* lines the sink delivered */
	_Atomic uint64_t dropped;    /* lines lost: queue full, write failed */
	_Atomic uint64_t errors;     /* failed writes / connects / rotations */
	_Atomic uint64_t reconnects; /* successful (re)opens after the first */
	_Atomic uint64_t up;	     /* 1 while connected / open */
};

/* The tail server's counters, owned by tail.c. */
struct vg_tail_counters {
	_Atomic uint64_t clients;  /* connected now */
	_Atomic uint64_t accepted; /* clients ever accepted */
	_Atomic uint64_t cut_off;  /* clients closed because they fell behind */
	_Atomic uint64_t refused;  /* bad filter line, too many clients */
	_Atomic uint64_t sent;	   /* lines queued to clients */
	_Atomic uint64_t lost;	   /* lines a client missed: its queue was full */
	_Atomic uint64_t dropped;  /* lines the tail intake could not take */
};

struct vg_stats;

int vg_stats_new(struct vg_stats **out);
void vg_stats_free(struct vg_stats **st);

/* Agent counters.  type is an enum vg_event_type (others count as 0). */
void vg_stats_event(struct vg_stats *st, unsigned type);
void vg_stats_decode_error(struct vg_stats *st);
void vg_stats_record(struct vg_stats *st, enum vg_out_kind kind);
/* Totals read from the BPF per-CPU stats map (summed): set, not added. */
void vg_stats_set_rb_drops(struct vg_stats *st, unsigned type, uint64_t total);
void vg_stats_set_filtered(struct vg_stats *st, unsigned type, uint64_t total);

/*
 * Rule hits.  vg_stats_rule() returns a stable id for name (registering it
 * on first use) or -ENOSPC; vg_stats_rule_hit() bumps it.
 */
int vg_stats_rule(struct vg_stats *st, const char *name);
void vg_stats_rule_hit(struct vg_stats *st, int id);
void vg_stats_rule_hit_name(struct vg_stats *st, const char *name);

/* Readers registered by other modules; c must outlive st. */
int vg_stats_add_sink(struct vg_stats *st, const char *name, const struct vg_sink_counters *c);
/* Forget a sink's counters (its owner is going away). */
void vg_stats_remove_sink(struct vg_stats *st, const struct vg_sink_counters *c);
/* Lines the sinks could not take or deliver, summed over every sink. */
uint64_t vg_stats_sinks_dropped(struct vg_stats *st);

/* The tail server's counters; NULL forgets them. */
void vg_stats_set_tail(struct vg_stats *st, const struct vg_tail_counters *c);
/*
 * An extra value: name is [a-z0-9_] (shown as vigil_<name>, a gauge, and
 * vigil.stats.extra.<name>), fn returns the current value.
 */
int vg_stats_add_value(struct vg_stats *st, const char *name, const char *help,
		       uint64_t (*fn)(void *ctx), void *ctx);
/* The same for a count that only grows: vigil_<name>_total, a counter, on
 * the Prometheus page (vigil.stats.extra.<name> in the record). */
int vg_stats_add_counter(struct vg_stats *st, const char *name, const char *help,
			 uint64_t (*fn)(void *ctx), void *ctx);

/* Agent process usage: getrusage(RUSAGE_SELF) and /proc/self/statm. */
struct vg_stats_usage {
	uint64_t cpu_user_us;
	uint64_t cpu_sys_us;
	uint64_t rss_bytes;
};
void vg_stats_usage(struct vg_stats_usage *u);

/*
 * The stats record as one JSON line (with '\n'): @timestamp, event.kind
 * "metric", event.dataset "vigil.stats", vigil.stats.* (see
 * schema/vigil.schema.json).  interval_s is the reporting period.
 * Returns 0 or -ENOSPC.
 */
int vg_stats_encode(struct vg_stats *st, struct vg_buf *b, uint64_t wall_ns, unsigned interval_s);

/* The same counters in the Prometheus text format (0.0.4).  Returns 0 or
 * -ENOSPC when b overflowed. */
int vg_stats_prometheus(struct vg_stats *st, struct vg_buf *b);

#endif
