/*
 * incident: groups the alerts of one container into incidents.  Alerts
 * closer than the window (default 10 min) to the container's previous one
 * join its open incident; each distinct thing that happened is one step of
 * the incident's chain ("shell from redis-server → metadata access 169.254.
 * 169.254 → CPU 185% of quota for 45 s → OOM kill of redis-server"), repeats
 * of a step only raise its count.  The table owns the incidents and writes
 * them out through one callback: when an incident opens, each time it grows
 * (a new step or a higher severity), on a tick after counts changed, and
 * once when it closes.  Not thread safe; pure code, time is a parameter.
 */
#ifndef VIGIL_INCIDENT_H
#define VIGIL_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/container.h"

#define VG_INC_STEPS_MAX 16
/* the last distinct steps past VG_INC_STEPS_MAX told apart (by a hash of
 * their key) so that their repeats fold */
#define VG_INC_DROPPED_KEYS 48
#define VG_INC_CHAIN_MAX 1024
#define VG_INC_BECAUSE_MAX 512

struct vg_incident_step {
	int rule;	   /* enum vg_rule_id */
	int severity;	   /* enum vg_severity, highest seen */
	unsigned count;	   /* occurrences folded into this step */
	uint64_t first_ns; /* monotonic */
	uint64_t last_ns;
	char key[64];	/* what makes two alerts the same step */
	char text[128]; /* human text of the step */
};

enum vg_incident_change {
	VG_INC_NONE = 0,
	VG_INC_OPENED = 1,  /* first alert of the incident */
	VG_INC_GREW = 2,    /* a new step, a step's severity rose, or a step back after
			     * a window's silence */
	VG_INC_COUNTED = 3, /* only counts or texts changed */
	VG_INC_CLOSED = 4,  /* window passed without a new alert */
};

struct vg_incident {
	uint64_t id;
	char ctr_key[72]; /* container id, "" for host processes */
	char ctr_name[VG_CTR_NAME_MAX];
	char image[256];
	uint64_t opened_ns, updated_ns;		  /* monotonic */
	uint64_t opened_wall_ns, updated_wall_ns; /* CLOCK_REALTIME */
	unsigned nsteps;
	unsigned steps_dropped; /* steps beyond VG_INC_STEPS_MAX (one older than
				 * the last VG_INC_DROPPED_KEYS counts again) */
	/* in the order they happened (first_ns), the earliest first */
	struct vg_incident_step steps[VG_INC_STEPS_MAX];
	uint64_t events; /* everything folded in, suppressed included */
	unsigned alerts; /* alerts that were written out */
	int severity;	 /* highest of its steps, those past the chain too */
	unsigned score;	 /* 0..100 */
	char chain[VG_INC_CHAIN_MAX];
	/* why the chain was possible (posture findings), filled through the
	 * context callback when the incident is written; "" when none */
	char because[VG_INC_BECAUSE_MAX];
	enum vg_incident_change change; /* why it is being written out now */
	bool closed;
	bool dirty;	       /* changed since it was last written */
	uint64_t published_ns; /* when it was last written (monotonic) */
	bool in_use;
	/* hashes of the keys of the last steps dropped, a ring */
	uint32_t dropped_keys[VG_INC_DROPPED_KEYS];
	uint64_t dropped_last[VG_INC_DROPPED_KEYS]; /* each one's last occurrence */
	uint32_t rules_seen;			    /* 1u << rule of every step, dropped ones too */
	int severity_dropped;			    /* highest of the steps past the chain */
};

struct vg_incidents;

typedef void (*vg_incident_fn)(const struct vg_incident *inc, void *ctx);
/* Called before an incident is written when it opened or grew, with its
 * container (NULL for the host): may fill inc->because, e.g. with
 * vg_posture_context().  Later writes keep what it wrote. */
typedef void (*vg_incident_ctx_fn)(struct vg_incident *inc, const struct vg_container *ctr,
				   void *ctx);

/* capacity: open incidents kept (oldest closed first when full);
 * id_base: ids are id_base + 1, + 2, ... (vg_incidents_id_base()). */
int vg_incidents_new(size_t capacity, uint64_t id_base, struct vg_incidents **out);

/*
 * An id base for an agent started at wall_ns (CLOCK_REALTIME): its
 * microsecond, 256 ids to each, so that runs do not share ids, also when
 * a crash loop restarts the agent within one second (a run would need 256
 * incidents for every microsecond until the next start to reach its ids).
 */
uint64_t vg_incidents_id_base(uint64_t wall_ns);
void vg_incidents_free(struct vg_incidents **t);

void vg_incidents_set_window(struct vg_incidents *t, uint64_t window_ns);
/* Count-only changes are written by vg_incidents_tick at most this often
 * (default 30 s); openings, growth and closing are written at once. */
void vg_incidents_set_update_interval(struct vg_incidents *t, uint64_t interval_ns);
void vg_incidents_set_output(struct vg_incidents *t, vg_incident_fn fn, void *ctx);
void vg_incidents_set_context(struct vg_incidents *t, vg_incident_ctx_fn fn, void *ctx);

struct vg_incident_add {
	const char *ctr_key;  /* container id, "" for the host */
	const char *ctr_name; /* may be NULL */
	const char *image;    /* may be NULL */
	int rule;
	int severity;
	const char *key;   /* step identity, e.g. "shell:redis-server" */
	const char *text;  /* step text */
	bool replace_text; /* an existing step takes the new text */
	bool touch;	   /* refresh an existing step's text and time only,
			    * without counting (a state that lasts) */
	unsigned count;	   /* occurrences (0 counts as 1) */
	uint64_t now_ns;   /* monotonic */
	uint64_t wall_ns;
};

/*
 * Fold one occurrence into the container's open incident, opening one when
 * there is none within the window.  Returns the incident (never NULL for
 * valid input) and sets *change; *new_step tells whether the key was new to
 * the incident.  Nothing is written out: call vg_incidents_publish after
 * writing the alert, so the alert precedes its incident in the feed.
 */
struct vg_incident *vg_incidents_add(struct vg_incidents *t, const struct vg_incident_add *a,
				     enum vg_incident_change *change, bool *new_step);

/* Write inc through the output callback now (change says why); ctr is
 * handed to the context callback (NULL: the context is left as it is). */
void vg_incidents_publish(struct vg_incidents *t, struct vg_incident *inc,
			  enum vg_incident_change change, const struct vg_container *ctr);

/* The container's open incident, or NULL. */
struct vg_incident *vg_incidents_find(struct vg_incidents *t, const char *ctr_key, uint64_t now_ns);

/* Step of inc with this key, or NULL; whether a rule has added a step to
 * inc (in the chain or past it). */
const struct vg_incident_step *vg_incident_step(const struct vg_incident *inc, const char *key);
bool vg_incident_has_rule(const struct vg_incident *inc, int rule);

/* Write incidents whose counts changed (at most once per update interval),
 * close (and write) the expired. */
void vg_incidents_tick(struct vg_incidents *t, uint64_t now_ns);

/* Close and write every open incident (at shutdown). */
void vg_incidents_flush(struct vg_incidents *t);

size_t vg_incidents_open(const struct vg_incidents *t);

#endif
