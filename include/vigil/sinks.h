/*
 * sinks: the set of JSON-feed destinations.  Each sink has its own thread
 * behind its own bounded queue (queue.h), so vg_sinks_emit() costs the
 * caller one short copy per sink and never waits for a network or a pipe:
 * what a full queue cannot take is dropped and counted.  A full queue of a
 * sink writing to a regular file holds the caller instead, up to 250 ms
 * (the agent then leaves the backlog in the ring buffer, see sinks.c).  A sink whose
 * destination fails (collector down, file removed) closes it and reopens
 * with exponential backoff (100 ms doubling to 30 s; back to 100 ms only
 * when the connection that broke had stayed up 10 s); lines wait in its
 * queue meanwhile.  A syslog sink notices a collector's close before it
 * sends the next batch.  Counters per sink: queued, written, dropped,
 * errors, reconnects, up (struct vg_sink_counters in stats.h).
 *
 * Spec syntax (vigil run --output SPEC, repeatable), KIND[:TARGET][,OPT...]:
 *   stdout
 *   file:PATH[,size=SIZE][,keep=N][,gzip=1|0]
 *       rotate past SIZE (default 100M; 0 = never), keep N rotated files
 *       (default 5): PATH.1.gz is the newest, PATH.N.gz the oldest;
 *       keep=0 starts PATH over (gzip=1 with it is refused)
 *   syslog:udp://HOST[:PORT]     RFC 5424, one datagram per record
 *   syslog:tcp://HOST[:PORT]     RFC 5424, octet counting (framing=lf too)
 *   syslog:unix:PATH             to a unix socket (/dev/log), in the
 *                                local syslog(3) form by default; on a
 *                                stream socket each message ends in NUL
 *       [,facility=NAME|N] (default daemon) [,app=NAME]
 *       [,framing=octet|lf]      (tcp:// only)
 *       [,format=rfc5424|rfc3164|local]  (local: what /dev/log readers
 *                                parse; rfc3164: local with HOSTNAME)
 *       HOST is an IP address ([ADDR] for IPv6) or localhost, not a name
 *       (the static sensor has no resolver); PORT defaults to 514
 * Options for every kind:
 *   queue=SIZE     bytes of queue (default 4M)
 *   min=SEVERITY   skip records below info|low|medium|high|critical
 *   alerts         only alert and incident records (also alerts=1|0)
 * SIZE is a number with an optional K, M or G suffix (powers of 1024).
 * PATH may not contain ','.
 */
#ifndef VIGIL_SINKS_H
#define VIGIL_SINKS_H

#include <stddef.h>

#include "vigil/out.h"
#include "vigil/stats.h"

#define VG_SINKS_MAX 8
#define VG_SINK_LINE_MAX 65536 /* longer records are dropped (counted) */

struct vg_sinks;

/* stats may be NULL; when given, every sink registers its counters there. */
int vg_sinks_new(struct vg_stats *stats, struct vg_sinks **out);

/*
 * Parse spec, open the sink and start its thread.  A destination that
 * cannot be reached yet (collector down) is not an error: the sink starts
 * down and keeps retrying.  Returns 0, -EINVAL for a bad spec (see
 * vg_sinks_error()), -ENOSPC past VG_SINKS_MAX, or -errno.
 */
int vg_sinks_add(struct vg_sinks *s, const char *spec);

/* Why the last vg_sinks_add() failed, one line ("" if it did not). */
const char *vg_sinks_error(const struct vg_sinks *s);

/*
 * Queue one record (a JSON line ending in '\n') on every sink whose
 * filters take it.  Waits only for a full regular-file sink, as above.
 * Returns how many sinks dropped it.
 */
int vg_sinks_emit(struct vg_sinks *s, const char *line, size_t len, const struct vg_out_meta *meta);

/* Wake every sink that has lines queued (the caller's round of emits is
 * over): one wakeup per round instead of one per line or per tick.  An
 * idle file or stdout sink takes a round straight into its write batch
 * and writes it here, so emit and kick are called from one thread. */
void vg_sinks_kick(struct vg_sinks *s);

/*
 * Wait up to timeout_ms for every sink to have handled (written or
 * dropped) what was queued.  Returns 0 or -ETIMEDOUT.
 */
int vg_sinks_flush(struct vg_sinks *s, int timeout_ms);

unsigned vg_sinks_count(const struct vg_sinks *s);
/* Counters of sink i (0-based, in order of adding) and its name. */
const struct vg_sink_counters *vg_sinks_counters(const struct vg_sinks *s, unsigned i);
const char *vg_sinks_name(const struct vg_sinks *s, unsigned i);

/*
 * Drain (up to ~2 s) and stop the threads: every line queued is then
 * written or counted as dropped, so the counters are final.  Nothing may
 * be emitted after.  Once only; vg_sinks_free stops a set not stopped.
 */
void vg_sinks_stop(struct vg_sinks *s);

/* Stop (vg_sinks_stop) and close everything. */
void vg_sinks_free(struct vg_sinks **s);

#endif
