/*
 * out: what every output (sinks, tail server, metrics) needs to know about a
 * record without reparsing its JSON line: its kind, severity, rule and
 * container, and when it happened.  The agent fills one struct vg_out_meta
 * per line it emits; outputs copy what they keep, never the pointers.
 */
#ifndef VIGIL_OUT_H
#define VIGIL_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum vg_out_kind {
	VG_OUT_EVENT = 0,    /* a raw event (event.kind "event") */
	VG_OUT_ALERT = 1,    /* a rule fired (event.kind "alert") */
	VG_OUT_INCIDENT = 2, /* an incident opened or grew */
	VG_OUT_STATS = 3,    /* periodic counters (event.kind "metric") */
	VG_OUT_POSTURE = 4,  /* container posture report (event.kind "state") */
	VG_OUT_KIND__MAX = 5,
};

/*
 * Output severity, ordered: a filter "at least X" compares the numbers.
 * Its own names (vg_out_sev_*) so it can sit next to the rule engine's
 * enum vg_severity; vg_severity_out maps rule severities onto it (info ->
 * LOW, warning -> MEDIUM, high -> HIGH, critical -> CRITICAL: the bands of
 * their ECS numbers); raw events are INFO.
 */
enum vg_out_sev {
	VG_OUT_SEV_INFO = 0,
	VG_OUT_SEV_LOW = 1,
	VG_OUT_SEV_MEDIUM = 2, /* also spelled "warning", a rule's word */
	VG_OUT_SEV_HIGH = 3,
	VG_OUT_SEV_CRITICAL = 4,
	VG_OUT_SEV__MAX = 5,
};

struct vg_out_meta {
	enum vg_out_kind kind;
	enum vg_out_sev severity;
	const char *rule;     /* rule.name, NULL or "" when none */
	const char *ctr_id;   /* full container id, NULL or "" for the host */
	const char *ctr_name; /* container name, NULL or "" when unknown */
	uint64_t wall_ns;     /* CLOCK_REALTIME of the record, 0 = now */
};

/* "event", "alert", "incident", "stats", "posture"; "unknown" else. */
const char *vg_out_kind_name(enum vg_out_kind kind);

/* "info", "low", "medium", "high", "critical"; "unknown" else. */
const char *vg_out_sev_name(enum vg_out_sev sev);

/*
 * Parse a severity name (case-insensitive; "warning"/"warn" = medium,
 * "crit" = critical) or a digit 0..4.  Returns 0 or -EINVAL.
 */
int vg_out_sev_parse(const char *s, enum vg_out_sev *out);

/* CLOCK_REALTIME now, in ns. */
uint64_t vg_out_now_ns(void);
/* CLOCK_MONOTONIC now, in ns (deadlines and uptime). */
uint64_t vg_out_mono_ns(void);

/*
 * accept(2) failed with err: whether to call it again at once (a signal,
 * or an error of that one connection, which accept(2) says to treat like
 * EAGAIN).  Anything else but EAGAIN is the process's own shortage
 * (EMFILE, ENFILE, ENOMEM): a listener that stays readable is to rest.
 */
bool vg_out_accept_retry(int err);

/*
 * host (a numeric IPv4 or IPv6 address, or "localhost" = 127.0.0.1) and
 * port into ss.  No name resolution: the sensor runs as a static binary
 * without a resolver, so outputs name their peers by address.  Returns 0
 * or -EINVAL.
 */
int vg_out_sockaddr(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len);

#endif
