// SPDX-License-Identifier: GPL-2.0
/*
 * outputs: start-up order and error wording for the output modules, the
 * per-line fan-out, and the stats clock.  Shutdown runs in the reverse
 * order of start-up: metrics (a reader of the sinks' counters) first, then
 * the tail server, then the sinks, which drain what they still hold.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/metrics.h"
#include "vigil/outputs.h"
#include "vigil/sinks.h"
#include "vigil/tail.h"

#define STATS_LINE_MAX 65536

struct vg_outputs {
	struct vg_stats *st;
	struct vg_sinks *sinks;
	struct vg_tail *tail;
	struct vg_metrics *metrics;
	unsigned stats_s;
	uint64_t next_stats_ns;
	char *line;
};

static void tail_err(char *err, size_t errsz, const char *path, int rc)
{
	snprintf(err, errsz, "tail socket %.200s: %s", path ? path : VG_TAIL_SOCKET,
		 rc == -EADDRINUSE ? "another agent is running"
		 : rc == -EEXIST   ? "a file that is not a socket is in the way"
				   : strerror(-rc));
}

static void metrics_err(char *err, size_t errsz, const char *addr, int rc)
{
	snprintf(err, errsz, "--metrics %.100s: %s", addr,
		 rc == -EINVAL ? "expected PORT, HOST:PORT or [ADDR6]:PORT" : strerror(-rc));
}

/* the sockets vg_outputs_listen made that nobody took over */
static void unlisten(const struct vg_outputs_opts *oo, bool tail, bool metrics)
{
	if (tail && oo->tail_fd >= 0) {
		vg_tail_unlink(oo->tail_socket ? oo->tail_socket : VG_TAIL_SOCKET, &oo->tail_file);
		close(oo->tail_fd);
	}
	if (metrics && oo->metrics_fd >= 0)
		close(oo->metrics_fd);
}

void vg_outputs_unlisten(struct vg_outputs_opts *oo)
{
	if (oo->prebound)
		unlisten(oo, true, true);
	oo->tail_fd = oo->metrics_fd = -1;
}

int vg_outputs_listen(struct vg_outputs_opts *oo, char *err, size_t errsz)
{
	int rc;

	err[0] = '\0';
	oo->prebound = true;
	oo->tail_fd = oo->metrics_fd = -1;
	if (!oo->tail_socket || oo->tail_socket[0]) {
		struct vg_tail_opts to = {.path = oo->tail_socket};

		if ((rc = vg_tail_listen(&to, &oo->tail_fd, &oo->tail_file)) < 0) {
			oo->tail_fd = -1;
			tail_err(err, errsz, oo->tail_socket, rc);
			return rc;
		}
	}
	if (oo->metrics && (rc = vg_metrics_listen(oo->metrics, &oo->metrics_fd)) < 0) {
		oo->metrics_fd = -1;
		metrics_err(err, errsz, oo->metrics, rc);
		unlisten(oo, true, false);
		oo->tail_fd = -1;
		return rc;
	}
	return 0;
}

int vg_outputs_new(const struct vg_outputs_opts *oo, struct vg_stats *stats,
		   struct vg_outputs **out, char *err, size_t errsz)
{
	bool tail_left, metrics_left; /* prebound sockets not handed over yet */
	struct vg_outputs *o;
	int rc;

	err[0] = '\0';
	if (!oo)
		return -EINVAL;
	tail_left = metrics_left = oo->prebound;
	o = stats && out ? calloc(1, sizeof(*o)) : NULL;
	if (!o) {
		unlisten(oo, tail_left, metrics_left);
		return stats && out ? -ENOMEM : -EINVAL;
	}
	o->st = stats;
	o->stats_s = oo->stats_s;
	o->line = malloc(STATS_LINE_MAX);
	if (!o->line) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = vg_sinks_new(stats, &o->sinks);
	if (rc)
		goto fail;
	for (unsigned i = 0; i < oo->nspecs; i++) {
		rc = vg_sinks_add(o->sinks, oo->specs[i]);
		if (rc) {
			snprintf(err, errsz, "--output %.200s: %s", oo->specs[i],
				 vg_sinks_error(o->sinks)[0] ? vg_sinks_error(o->sinks)
							     : strerror(-rc));
			goto fail;
		}
	}
	if ((!oo->tail_socket || oo->tail_socket[0]) && (!oo->prebound || oo->tail_fd >= 0)) {
		struct vg_tail_opts to = {.path = oo->tail_socket,
					  .prebound = oo->prebound,
					  .listen_fd = oo->tail_fd,
					  .listen_file = oo->tail_file};

		tail_left = false; /* vg_tail_new takes it, failing or not */
		rc = vg_tail_new(&to, stats, &o->tail);
		if (rc) {
			tail_err(err, errsz, oo->tail_socket, rc);
			goto fail;
		}
	}
	if (oo->metrics && (!oo->prebound || oo->metrics_fd >= 0)) {
		struct vg_metrics_opts mo = {
			.addr = oo->metrics, .prebound = oo->prebound, .listen_fd = oo->metrics_fd};

		metrics_left = false; /* vg_metrics_new takes it, failing or not */
		rc = vg_metrics_new(&mo, stats, &o->metrics);
		if (rc) {
			metrics_err(err, errsz, oo->metrics, rc);
			goto fail;
		}
	}
	o->next_stats_ns = o->stats_s ? vg_out_mono_ns() + (uint64_t)o->stats_s * 1000000000ull : 0;
	*out = o;
	return 0;
fail:
	unlisten(oo, tail_left, metrics_left);
	vg_outputs_free(&o);
	return rc;
}

void vg_outputs_emit(struct vg_outputs *o, const char *line, size_t len,
		     const struct vg_out_meta *meta)
{
	if (!o || !line)
		return;
	vg_stats_record(o->st, meta ? meta->kind : VG_OUT_EVENT);
	vg_sinks_emit(o->sinks, line, len, meta);
	if (o->tail)
		vg_tail_publish(o->tail, line, len, meta);
}

void vg_outputs_stats_now(struct vg_outputs *o)
{
	struct vg_buf b;
	struct vg_out_meta m = {.kind = VG_OUT_STATS, .severity = VG_OUT_SEV_INFO};

	m.wall_ns = vg_out_now_ns();
	vg_buf_init(&b, o->line, STATS_LINE_MAX);
	if (vg_stats_encode(o->st, &b, m.wall_ns, o->stats_s) == 0)
		vg_outputs_emit(o, b.p, b.len, &m);
}

int vg_outputs_tick(struct vg_outputs *o, uint64_t now_mono_ns)
{
	uint64_t left;

	if (!o)
		return INT32_MAX;
	vg_sinks_kick(o->sinks); /* the round of lines before this tick */
	if (!o->stats_s)
		return INT32_MAX;
	if (now_mono_ns >= o->next_stats_ns) {
		vg_outputs_stats_now(o);
		/* out now: the next round's kick can be a park (a second) away */
		vg_sinks_kick(o->sinks);
		o->next_stats_ns = now_mono_ns + (uint64_t)o->stats_s * 1000000000ull;
	}
	left = (o->next_stats_ns - now_mono_ns + 999999u) / 1000000u;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

struct vg_sinks *vg_outputs_sinks(struct vg_outputs *o)
{
	return o->sinks;
}

struct vg_tail *vg_outputs_tail(struct vg_outputs *o)
{
	return o->tail;
}

int vg_outputs_metrics_port(const struct vg_outputs *o)
{
	return o->metrics ? vg_metrics_port(o->metrics) : 0;
}

void vg_outputs_free(struct vg_outputs **op)
{
	struct vg_outputs *o;

	if (!op || !*op)
		return;
	o = *op;
	vg_metrics_free(&o->metrics);
	vg_tail_free(&o->tail);
	vg_sinks_free(&o->sinks);
	free(o->line);
	free(o);
	*op = NULL;
}
