/*
 * outputs: everything a record meets on its way out, behind one call.
 * Owns the sink set (sinks.h), the live-tail server (tail.h), the metrics
 * endpoint (metrics.h) and the clock of the periodic stats record; reads
 * and updates the counter registry it is given (stats.h).  The agent's
 * loop calls vg_outputs_emit() per JSON line and vg_outputs_tick() on
 * each wakeup; neither blocks (sinks and tail run on their own threads).
 */
#ifndef VIGIL_OUTPUTS_H
#define VIGIL_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/out.h"
#include "vigil/stats.h"
#include "vigil/tail.h"

struct vg_outputs_opts {
	const char *const *specs; /* --output specs (see sinks.h); none: no sinks */
	unsigned nspecs;
	const char *tail_socket; /* NULL: VG_TAIL_SOCKET, "": no tail server */
	const char *metrics;	 /* --metrics ADDR, NULL: no endpoint */
	unsigned stats_s;	 /* stats record period in s, 0: never */
	/* set by vg_outputs_listen: the listening sockets, taken over by
	 * vg_outputs_new (closed, the tail path unlinked, when it fails) */
	bool prebound;
	int tail_fd, metrics_fd;       /* -1: none */
	struct vg_tail_file tail_file; /* the file tail_fd took at its path */
};

struct vg_outputs;

/*
 * Make the tail server's and the metrics endpoint's listening sockets now,
 * before the agent drops the capabilities a socket's group (CAP_CHOWN) or
 * a port below 1024 (CAP_NET_BIND_SERVICE) needs; vg_outputs_new starts
 * the threads that serve them after the drop.  Returns 0, or -errno and
 * the reason in err as vg_outputs_new words it (nothing is left open).
 */
int vg_outputs_listen(struct vg_outputs_opts *o, char *err, size_t errsz);
/* Close what vg_outputs_listen made when vg_outputs_new is not reached. */
void vg_outputs_unlisten(struct vg_outputs_opts *o);

/*
 * Start every output.  On failure returns -errno and a one-line reason in
 * err naming the option to fix ("--output file:/x: No such file or
 * directory", "--metrics 127.0.0.1:9464: Address already in use", "tail
 * socket /run/vigil/vigil.sock: another agent is running").  stats must
 * outlive the outputs.
 */
int vg_outputs_new(const struct vg_outputs_opts *o, struct vg_stats *stats, struct vg_outputs **out,
		   char *err, size_t errsz);

/* One JSON line (with '\n') to the sinks and the tail server; counted in
 * stats by kind. */
void vg_outputs_emit(struct vg_outputs *o, const char *line, size_t len,
		     const struct vg_out_meta *meta);

/*
 * Hand the lines emitted since the last call to the sink threads (one
 * wakeup per call), then emit the stats record when it is due at
 * now_mono_ns (CLOCK_MONOTONIC).
 * Returns the ms until the next one is due (INT32_MAX when never), for
 * the caller's poll timeout.
 */
int vg_outputs_tick(struct vg_outputs *o, uint64_t now_mono_ns);

/* Emit a stats record now (e.g. the last one at shutdown). */
void vg_outputs_stats_now(struct vg_outputs *o);

struct vg_sinks *vg_outputs_sinks(struct vg_outputs *o);
struct vg_tail *vg_outputs_tail(struct vg_outputs *o);
/* Port of the metrics endpoint, 0 when off. */
int vg_outputs_metrics_port(const struct vg_outputs *o);

/* Stop metrics and the tail server, drain and stop the sinks. */
void vg_outputs_free(struct vg_outputs **o);

#endif
