/*
 * metrics: the Prometheus endpoint.  Off unless `--metrics ADDR` is given;
 * ADDR is PORT or :PORT (bound to 127.0.0.1), HOST:PORT or [ADDR6]:PORT
 * with a numeric host ("localhost" = 127.0.0.1).  One thread, one poll
 * loop, at most max_conns connections: when full, a new one replaces the
 * oldest whose answer is out, else the oldest that has not sent a whole
 * request yet and has had a turn to be read (and is read once more before
 * it is closed; an answer that comes of that can leave the table one
 * over); with none, it waits in the listen backlog (16 deep).
 * HTTP is read minimally and within bounds: GET (or
 * HEAD) /metrics answers 200 with vg_stats_prometheus();
 * another path 404, another method 405, a request line or header that is
 * not "...\r\n" shaped 400, more than max_request bytes without the end of
 * the headers 431, a request not complete within read_timeout_ms 408.
 * Every connection is closed after one answer, once the client's own EOF
 * has come, so the close is a FIN and not a reset; a client still sending
 * after read_timeout_ms or 1 MiB, or one closed to make room, may get a
 * reset.  Out of descriptors, the listener rests 100 ms rather than spin.
 */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "vigil/stats.h"

struct vg_metrics_opts {
	const char *addr;    /* see above; required */
	int read_timeout_ms; /* 0: 5000 */
	size_t max_request;  /* 0: 8192 bytes */
	unsigned max_conns;  /* 0: 16; at most 1024 */
	/* a socket vg_metrics_listen made: taken over (closed with the
	 * endpoint, or by vg_metrics_new when it fails) */
	bool prebound;
	int listen_fd;
};

/* Parse ADDR into ss.  Returns 0 or -EINVAL. */
int vg_metrics_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len);

/*
 * Classify what a client sent so far (len bytes, cap the most it may
 * send): 0 when the headers are not complete yet, else the HTTP status to
 * answer (200, 400, 404, 405, 431).  *head is set for HEAD requests.
 */
int vg_metrics_classify(const char *buf, size_t len, size_t cap, int *head);

struct vg_metrics;

/*
 * The listening socket alone, bound at addr: made while the agent still
 * holds CAP_NET_BIND_SERVICE (a port below 1024), before the capability
 * drop.  Returns 0 and *fd, or -errno (-EINVAL for a bad addr).
 */
int vg_metrics_listen(const char *addr, int *fd);

/* Bind (unless prebound) and start serving st.  Returns 0 or -errno
 * (-EADDRINUSE, ...). */
int vg_metrics_new(const struct vg_metrics_opts *o, struct vg_stats *st, struct vg_metrics **out);
void vg_metrics_free(struct vg_metrics **m);

/* The bound port (useful with port 0). */
int vg_metrics_port(const struct vg_metrics *m);

#endif
