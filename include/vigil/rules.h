/*
 * rules: the built-in detections.  Evaluated per enriched event
 * (vg_rules_eval) and per resource sample of a container
 * (vg_rules_sample); each match becomes an alert that joins the
 * container's incident (incident.h).  The rules own the configuration
 * (swapped whole on reload), the incident table and their per-container
 * state: rate limits, resource history, shells already flagged.
 *
 * Noise control, per rule and container:
 *   - a match whose step is already in the open incident (same rule and
 *     same what, e.g. "shell from redis-server") raises no new alert: it
 *     only counts in the incident ("folded");
 *   - shells started under a shell that was already flagged fold into
 *     that shell's step;
 *   - at most rate_limit.burst alerts per rate_limit.window (default 5 per
 *     60 s); the rest are counted ("rate_limited") and the next alert that
 *     is written carries them in its count.
 * Every outcome is counted in struct vg_rules_stats.
 */
#ifndef VIGIL_RULES_H
#define VIGIL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/config.h"
#include "vigil/incident.h"
#include "vigil/model.h"
#include "vigil/sampler.h"

struct vg_rule_def {
	enum vg_rule_id id;
	const char *name; /* stable, e.g. "metadata_service_access" */
	int severity;	  /* default, enum vg_severity */
	const char *description;
	const char *technique_id; /* MITRE ATT&CK, e.g. "T1552.005" */
	const char *technique_name;
	const char *tactic_id;	 /* e.g. "TA0006" */
	const char *tactic_name; /* e.g. "Credential Access" */
};

#define VG_ALERT_DETAIL_MAX 640
#define VG_ALERT_STEP_MAX 128

struct vg_alert {
	const struct vg_rule_def *rule;
	int severity;			   /* enum vg_severity, after upgrades */
	const struct vg_ev *ev;		   /* triggering event; NULL for samples */
	const struct vg_container *ctr;	   /* NULL: a host process */
	const struct vg_cg_sample *sample; /* resource alerts and oom_kill: the
					    * container's latest sample or NULL */
	uint64_t ts_ns;			   /* monotonic */
	uint64_t wall_ns;
	uint64_t incident_id;
	const struct vg_incident *incident;
	unsigned count;			  /* occurrences this alert stands for: 1 + those
					   * rate-limited since the previous alert */
	bool failed;			  /* the attempt failed (connect/mount result < 0) */
	char step[VG_ALERT_STEP_MAX];	  /* its step in the incident chain */
	char detail[VG_ALERT_DETAIL_MAX]; /* one line for people */
};

typedef void (*vg_alert_fn)(const struct vg_alert *a, void *ctx);

struct vg_rules_stats {
	uint64_t matched[VG_RULE__MAX];	     /* rule conditions met */
	uint64_t alerts[VG_RULE__MAX];	     /* alerts written */
	uint64_t folded[VG_RULE__MAX];	     /* joined an existing incident step */
	uint64_t rate_limited[VG_RULE__MAX]; /* over the per-container burst */
	uint64_t allowlisted[VG_RULE__MAX];
	uint64_t host_skipped[VG_RULE__MAX]; /* host processes, not configured */
};

struct vg_rules;

/* Definition of a built-in rule. */
const struct vg_rule_def *vg_rule_def(enum vg_rule_id id);

/* cfg: taken over (*cfg set to NULL); NULL or *cfg NULL = defaults.
 * id_base: first incident id - 1 (e.g. wall-clock seconds << 20). */
int vg_rules_new(struct vg_config **cfg, uint64_t id_base, struct vg_rules **out);
void vg_rules_free(struct vg_rules **r);

/* Replace the configuration (after a successful reload): takes *cfg over,
 * frees the previous one.  Incidents and per-container state survive. */
void vg_rules_set_config(struct vg_rules *r, struct vg_config **cfg);
const struct vg_config *vg_rules_config(const struct vg_rules *r);

/* SIGHUP: load path and swap it in whole.  On any error the running
 * configuration stays, err holds "file:line: reason" and -errno returns. */
int vg_rules_reload(struct vg_rules *r, const char *path, char *err, size_t errlen);

/* The incident table: set its output (and posture context) callbacks here. */
struct vg_incidents *vg_rules_incidents(struct vg_rules *r);

/* One enriched event: zero or more alerts through emit, then incident
 * records through the incident output when one opened or grew. */
void vg_rules_eval(struct vg_rules *r, const struct vg_ev *ev, vg_alert_fn emit, void *ctx);

/* One resource sample of ctr taken at now_ns (monotonic): CPU, memory and
 * pids rules, and the memory figures oom_kill reports later. */
void vg_rules_sample(struct vg_rules *r, const struct vg_container *ctr,
		     const struct vg_cg_sample *s, uint64_t now_ns, uint64_t wall_ns,
		     vg_alert_fn emit, void *ctx);

/* Periodic (e.g. each sampler tick): writes incidents whose counts changed
 * and closes the expired ones. */
void vg_rules_tick(struct vg_rules *r, uint64_t now_ns);

const struct vg_rules_stats *vg_rules_stats(const struct vg_rules *r);
/* Alerts held back by the rate limit, every rule: safe from another thread. */
uint64_t vg_rules_rate_limited(const struct vg_rules *r);

#endif
