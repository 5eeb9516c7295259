/*
 * encode: turns one enriched event (struct vg_ev) into the JSON feed's
 * schema: ECS field names where ECS has them, everything else under
 * "vigil.".  Also writes the one-line human summary that both the JSON
 * ("message") and the live view show.  Pure code: no I/O, no allocation.
 */
#ifndef VIGIL_ENCODE_H
#define VIGIL_ENCODE_H

#include <stddef.h>

#include "vigil/json.h"
#include "vigil/model.h"

/* Host facts written into every record (set once at start). */
struct vg_encode_host {
	char hostname[64];
};
void vg_encode_set_host(const struct vg_encode_host *h);

/*
 * The fields of ev into an already opened object: @timestamp, event.*
 * (kind "event"), message, process.*, container.*, orchestrator.*,
 * destination/network for connects, vigil.*.  Alert and incident encoders
 * call it and then add their own fields.  kind is the event.kind value,
 * a string constant: its address is part of the key the "event" object is
 * kept under, per thread, for the lines that follow.
 */
void vg_encode_event_fields(struct vg_buf *b, const struct vg_ev *ev, const char *kind);

/*
 * How much a raw event carries.  Compact (the default): what a pipeline
 * filters and joins on: @timestamp, event.{kind,category,type,action,
 * outcome}, process.{pid,name,executable,args,user,parent.{pid,name}},
 * container (id, runtime, name, image.name), orchestrator, destination,
 * network, vigil.{cgroup_id,ts_mono}, vigil.ns_pid where it differs from
 * the pid, vigil.enrichment while not done, vigil.entry "exec", and the
 * per-type vigil.* object (exec flags only when set).  Full: everything
 * an alert carries (message, command lines, lineage, labels, namespaces).
 */
enum vg_encode_detail {
	VG_DETAIL_COMPACT = 0,
	VG_DETAIL_FULL = 1,
};

/* One complete JSON line (with '\n') for a raw event.  Returns 0 or
 * -ENOSPC when the buffer was too small (the line is then unusable). */
int vg_encode_event(struct vg_buf *b, const struct vg_ev *ev, enum vg_encode_detail detail);

/* The one-line summary ("exec /bin/sh -c id", "connect 169.254.169.254:80
 * failed: ECONNREFUSED", ...).  Untrusted bytes are copied as they are:
 * escape for the destination.  Returns the length written. */
size_t vg_encode_summary(char *dst, size_t n, const struct vg_ev *ev);

/* Textual destination address of a connect ("169.254.169.254", "::1");
 * IPv4-mapped IPv6 addresses are written in their IPv4 form. */
void vg_encode_addr(char *dst, size_t n, const struct vg_connect *c);

/* network.transport of a connect, ECS's keyword (IANA's name): "tcp",
 * "udp", "icmp", "ipv6-icmp", "sctp" (ICMP ping sockets and SCTP reach the
 * connect hooks too), "unknown" otherwise. */
const char *vg_encode_transport(const struct vg_connect *c);

/* Name of a mount operation ("mount", "fsmount", ...). */
const char *vg_mount_op_name(unsigned op);

#endif
