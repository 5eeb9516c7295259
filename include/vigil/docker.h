/*
 * docker: what Docker knows about a container, read the way Docker keeps
 * it.  Two routes, same result: the Engine API on its unix socket (plain
 * HTTP/1.1, bounded by a total timeout per request) or, when the daemon is
 * unreachable, the state files /var/lib/docker/containers/<id>/config.v2.json
 * and hostconfig.json (no symlinks followed, size capped).
 *
 * Parsers fill struct vg_container and leave fields that the input lacks
 * untouched.  Environment variables are reduced to their names while being
 * decoded; every buffer that held raw state is wiped before it is freed.
 */
#ifndef VIGIL_DOCKER_H
#define VIGIL_DOCKER_H

#include <stddef.h>

#include "vigil/container.h"

#define VG_DOCKER_SOCK "/var/run/docker.sock"
#define VG_DOCKER_ROOT "/var/lib/docker"
#define VG_DOCKER_TIMEOUT_MS 500
#define VG_HTTP_RESP_MAX (1024 * 1024)

/* Parsers: 0, or -EINVAL / -E2BIG when the document is not usable JSON (c
 * untouched then).  Fields of the wrong type count in c->parse_errors. */
int vg_docker_parse_config(const char *json, size_t len, struct vg_container *c);
int vg_docker_parse_hostconfig(const char *json, size_t len, struct vg_container *c);
int vg_docker_parse_inspect(const char *json, size_t len, struct vg_container *c);

/*
 * Fill c from root/containers/<id>/{config.v2.json,hostconfig.json}.  id must
 * be 64 lower-case hex digits (-EINVAL otherwise).  hostconfig.json is
 * optional.  Sets c->enrich = VG_ENRICH_DONE on success.
 */
int vg_docker_read_state(const char *root, const char *id, struct vg_container *c);

/* Fill c from GET /containers/<id>/json on the socket.  -ENOENT for 404. */
int vg_docker_inspect(const char *sock, const char *id, int timeout_ms, struct vg_container *c);

/* Ids of running containers (GET /containers/json): up to max into ids,
 * count in *n. */
int vg_docker_list(const char *sock, int timeout_ms, char (*ids)[VG_CTR_ID_LEN + 1], unsigned max,
		   unsigned *n);

/*
 * One HTTP/1.1 GET over a unix socket.  The whole exchange (connect, send,
 * receive) is bounded by timeout_ms: -ETIMEDOUT when it runs out.  The body
 * (Content-Length, chunked or until close) is decoded into buf (cap bytes,
 * NUL terminated: cap - 1 usable), its length in *len, the status in
 * *status.  -EFBIG when the response does not fit, -EPROTO when it is not
 * HTTP.
 */
int vg_http_get_unix(const char *sock, const char *path, int timeout_ms, char *buf, size_t cap,
		     size_t *len, int *status);

/* RFC 3339 time ("2026-12-04T14:02:04.545827697Z", offsets allowed) to ns
 * since the epoch; 0 for Docker's zero time or anything unparsable. */
int64_t vg_docker_time(const char *s);

#endif
