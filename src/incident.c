/*
 * incident: per-container grouping of alerts (see incident.h).
 *
 * The table is a small array searched linearly: it is touched once per
 * alert (alerts are rare next to events) and once per sampler tick.
 * Score: each step adds a weight by its severity (info 2, warning 8,
 * high 20, critical 35) and every distinct rule after the first adds 5,
 * so a chain of different techniques outranks many repeats of one; the
 * score is capped at 100.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/incident.h"

struct vg_incidents {
	struct vg_incident *inc;
	size_t cap;
	uint64_t next_id;
	uint64_t window_ns;
	uint64_t update_ns;
	vg_incident_fn out;
	void *out_ctx;
	vg_incident_ctx_fn ctxfn;
	void *ctxfn_ctx;
};

uint64_t vg_incidents_id_base(uint64_t wall_ns)
{
	return wall_ns / 1000 << 8;
}

int vg_incidents_new(size_t capacity, uint64_t id_base, struct vg_incidents **out)
{
	struct vg_incidents *t;

	if (!capacity)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->inc = calloc(capacity, sizeof(*t->inc));
	if (!t->inc) {
		free(t);
		return -ENOMEM;
	}
	t->cap = capacity;
	t->next_id = id_base;
	t->window_ns = 600ull * 1000000000ull;
	t->update_ns = 30ull * 1000000000ull;
	*out = t;
	return 0;
}

void vg_incidents_free(struct vg_incidents **t)
{
	if (!t || !*t)
		return;
	free((*t)->inc);
	free(*t);
	*t = NULL;
}

void vg_incidents_set_window(struct vg_incidents *t, uint64_t window_ns)
{
	t->window_ns = window_ns;
}

void vg_incidents_set_update_interval(struct vg_incidents *t, uint64_t interval_ns)
{
	t->update_ns = interval_ns;
}

void vg_incidents_set_output(struct vg_incidents *t, vg_incident_fn fn, void *ctx)
{
	t->out = fn;
	t->out_ctx = ctx;
}

void vg_incidents_set_context(struct vg_incidents *t, vg_incident_ctx_fn fn, void *ctx)
{
	t->ctxfn = fn;
	t->ctxfn_ctx = ctx;
}

static bool expired(const struct vg_incidents *t, const struct vg_incident *inc, uint64_t now)
{
	return now > inc->updated_ns && now - inc->updated_ns > t->window_ns;
}

struct vg_incident *vg_incidents_find(struct vg_incidents *t, const char *ctr_key, uint64_t now_ns)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct vg_incident *inc = &t->inc[i];
		if (inc->in_use && !inc->closed && !strcmp(inc->ctr_key, ctr_key) &&
		    !expired(t, inc, now_ns))
			return inc;
	}
	return NULL;
}

const struct vg_incident_step *vg_incident_step(const struct vg_incident *inc, const char *key)
{
	for (unsigned i = 0; i < inc->nsteps; i++)
		if (!strcmp(inc->steps[i].key, key))
			return &inc->steps[i];
	return NULL;
}

/* Every rule that added a step, in the chain or past it: a chain that
 * junk steps filled (a mount per made-up fstype) cannot hide the miner
 * indicator that makes a spike critical. */
bool vg_incident_has_rule(const struct vg_incident *inc, int rule)
{
	return rule >= 0 && rule < 32 && (inc->rules_seen & (1u << rule));
}

static void rebuild(struct vg_incident *inc)
{
	static const unsigned weight[] = {2, 2, 8, 20, 35};
	unsigned score = 0, rules = 0;
	uint32_t seen = 0;
	size_t len = 0;

	inc->severity = VG_SEV_INFO;
	inc->chain[0] = 0;
	for (unsigned i = 0; i < inc->nsteps; i++) {
		const struct vg_incident_step *s = &inc->steps[i];
		int sev = s->severity >= VG_SEV_INFO && s->severity <= VG_SEV_CRITICAL
				  ? s->severity
				  : VG_SEV_INFO;
		score += weight[sev];
		if (sev > inc->severity)
			inc->severity = sev;
		if (s->rule >= 0 && s->rule < 32 && !(seen & (1u << s->rule))) {
			seen |= 1u << s->rule;
			rules++;
		}
		if (len < sizeof(inc->chain)) {
			int n = snprintf(inc->chain + len, sizeof(inc->chain) - len, "%s%s",
					 i ? " → " : "", s->text);
			len += n > 0 ? (size_t)n : 0;
		}
		if (s->count > 1 && len < sizeof(inc->chain)) {
			int n = snprintf(inc->chain + len, sizeof(inc->chain) - len, " (×%u)",
					 s->count);
			len += n > 0 ? (size_t)n : 0;
		}
	}
	if (inc->severity_dropped > inc->severity && inc->severity_dropped <= VG_SEV_CRITICAL)
		inc->severity = inc->severity_dropped;
	if (inc->steps_dropped && len < sizeof(inc->chain))
		snprintf(inc->chain + len, sizeof(inc->chain) - len, " → … (+%u more)",
			 inc->steps_dropped);
	if (rules > 1)
		score += 5 * (rules - 1);
	inc->score = score > 100 ? 100 : score;
}

void vg_incidents_publish(struct vg_incidents *t, struct vg_incident *inc,
			  enum vg_incident_change change, const struct vg_container *ctr)
{
	rebuild(inc);
	inc->change = change;
	if (t->ctxfn && ctr)
		t->ctxfn(inc, ctr, t->ctxfn_ctx);
	if (t->out)
		t->out(inc, t->out_ctx);
	inc->dirty = false;
	inc->published_ns = inc->updated_ns;
}

static void close_one(struct vg_incidents *t, struct vg_incident *inc)
{
	inc->closed = true;
	vg_incidents_publish(t, inc, VG_INC_CLOSED, NULL);
	inc->in_use = false;
}

/* A free slot, closing the least recently updated incident when full. */
static struct vg_incident *slot(struct vg_incidents *t, uint64_t now)
{
	struct vg_incident *oldest = NULL;
	for (size_t i = 0; i < t->cap; i++) {
		struct vg_incident *inc = &t->inc[i];
		if (!inc->in_use)
			return inc;
		if (expired(t, inc, now)) {
			close_one(t, inc);
			return inc;
		}
		if (!oldest || inc->updated_ns < oldest->updated_ns)
			oldest = inc;
	}
	close_one(t, oldest);
	return oldest;
}

/* A new step at time t, in time order (after those of the same time). */
static struct vg_incident_step *insert_step(struct vg_incident *inc, uint64_t t)
{
	unsigned i = inc->nsteps;

	while (i > 0 && inc->steps[i - 1].first_ns > t)
		i--;
	memmove(&inc->steps[i + 1], &inc->steps[i], (inc->nsteps - i) * sizeof(inc->steps[0]));
	inc->nsteps++;
	memset(&inc->steps[i], 0, sizeof(inc->steps[i]));
	inc->steps[i].first_ns = t;
	return &inc->steps[i];
}

/*
 * A step with no room in the chain: true (and counted in steps_dropped)
 * when its key is not among the last VG_INC_DROPPED_KEYS such keys, told
 * apart by a 32-bit FNV-1a hash, or when that key has been silent for
 * longer than the window (as a chain step is, see vg_incidents_add).  A
 * recent repeat folds; a new one always counts, so a container cannot use
 * up the memory and have its next detections folded (one older than the
 * last 48 counts again).
 */
static bool dropped_key_new(struct vg_incidents *t, struct vg_incident *inc, const char *key,
			    uint64_t now)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	for (unsigned i = 0; i < inc->steps_dropped && i < VG_INC_DROPPED_KEYS; i++) {
		if (inc->dropped_keys[i] != h)
			continue;
		bool back = now > inc->dropped_last[i] && now - inc->dropped_last[i] > t->window_ns;

		inc->dropped_last[i] = now;
		return back;
	}
	inc->dropped_last[inc->steps_dropped % VG_INC_DROPPED_KEYS] = now;
	inc->dropped_keys[inc->steps_dropped++ % VG_INC_DROPPED_KEYS] = h;
	return true;
}

struct vg_incident *vg_incidents_add(struct vg_incidents *t, const struct vg_incident_add *a,
				     enum vg_incident_change *change, bool *new_step)
{
	const char *ck = a->ctr_key ? a->ctr_key : "";
	unsigned count = a->count ? a->count : 1;
	bool touch = a->touch;
	enum vg_incident_change ch = VG_INC_COUNTED;
	struct vg_incident *inc = NULL;
	bool fresh = false;

	/* an expired incident of this container is closed before a new one opens */
	for (size_t i = 0; i < t->cap; i++) {
		struct vg_incident *x = &t->inc[i];
		if (x->in_use && !x->closed && !strcmp(x->ctr_key, ck)) {
			if (expired(t, x, a->now_ns))
				close_one(t, x);
			else
				inc = x;
		}
	}
	if (!inc) {
		inc = slot(t, a->now_ns);
		memset(inc, 0, sizeof(*inc));
		inc->in_use = true;
		inc->id = ++t->next_id;
		snprintf(inc->ctr_key, sizeof(inc->ctr_key), "%s", ck);
		snprintf(inc->ctr_name, sizeof(inc->ctr_name), "%s",
			 a->ctr_name ? a->ctr_name : "");
		snprintf(inc->image, sizeof(inc->image), "%s", a->image ? a->image : "");
		inc->opened_ns = a->now_ns;
		inc->opened_wall_ns = a->wall_ns;
		ch = VG_INC_OPENED;
	}
	/* a name learnt after the incident opened (enrichment was pending) */
	if (!inc->ctr_name[0] && a->ctr_name && a->ctr_name[0])
		snprintf(inc->ctr_name, sizeof(inc->ctr_name), "%s", a->ctr_name);
	if (!inc->image[0] && a->image && a->image[0])
		snprintf(inc->image, sizeof(inc->image), "%s", a->image);
	if (a->now_ns > inc->updated_ns)
		inc->updated_ns = a->now_ns;
	if (a->wall_ns > inc->updated_wall_ns)
		inc->updated_wall_ns = a->wall_ns;
	inc->dirty = true;

	/*
	 * A step earlier than the incident: an alert about a sample (stamped
	 * when the agent read it) opened it before the events of the same
	 * moments were drained.  The incident starts at its earliest step.
	 */
	if (a->now_ns < inc->opened_ns) {
		inc->opened_wall_ns -= inc->opened_ns - a->now_ns;
		inc->opened_ns = a->now_ns;
	}

	struct vg_incident_step *s = (struct vg_incident_step *)vg_incident_step(inc, a->key);
	if (!s)
		touch = false; /* nothing to refresh: a first occurrence */
	if (!touch)
		inc->events += count;
	if (!s && inc->nsteps < VG_INC_STEPS_MAX) {
		fresh = true;
		s = insert_step(inc, a->now_ns);
		s->rule = a->rule;
		s->severity = a->severity;
		snprintf(s->key, sizeof(s->key), "%s", a->key);
		snprintf(s->text, sizeof(s->text), "%s", a->text);
		if (ch != VG_INC_OPENED)
			ch = VG_INC_GREW;
	} else if (!s) {
		/* past the chain: a new one is counted, a repeat only folds;
		 * a rule's first step in the incident is always new (its key's
		 * hash may be one a junk step chose to match) */
		fresh = dropped_key_new(t, inc, a->key, a->now_ns);
		if (!fresh && !vg_incident_has_rule(inc, a->rule)) {
			fresh = true;
			inc->steps_dropped++; /* counted past the chain like any new one */
		}
		/* junk that filled the chain cannot hide how grave the
		 * incident has become */
		if (a->severity > inc->severity_dropped) {
			if (a->severity > inc->severity && ch != VG_INC_OPENED)
				ch = VG_INC_GREW;
			inc->severity_dropped = a->severity;
		}
		if (fresh && ch != VG_INC_OPENED)
			ch = VG_INC_GREW;
	} else {
		if (a->severity > s->severity) {
			s->severity = a->severity;
			if (ch != VG_INC_OPENED)
				ch = VG_INC_GREW;
		}
		/* back after a window's silence, in an incident that other
		 * steps (a spike that lasts) kept open: a new occurrence to
		 * alert on, not a repeat to fold (a second theft of
		 * credentials a day later is no "x2") */
		if (!touch && a->now_ns > s->last_ns && a->now_ns - s->last_ns > t->window_ns &&
		    ch != VG_INC_OPENED)
			ch = VG_INC_GREW;
		if (a->replace_text || touch)
			snprintf(s->text, sizeof(s->text), "%s", a->text);
	}
	if (s) {
		if (!touch)
			s->count += count;
		s->last_ns = a->now_ns;
	}
	if (a->rule >= 0 && a->rule < 32)
		inc->rules_seen |= 1u << a->rule;
	rebuild(inc);
	if (change)
		*change = ch;
	if (new_step)
		*new_step = fresh;
	return inc;
}

void vg_incidents_tick(struct vg_incidents *t, uint64_t now_ns)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct vg_incident *inc = &t->inc[i];
		if (!inc->in_use || inc->closed)
			continue;
		if (expired(t, inc, now_ns))
			close_one(t, inc);
		else if (inc->dirty && now_ns - inc->published_ns >= t->update_ns)
			vg_incidents_publish(t, inc, VG_INC_COUNTED, NULL);
	}
}

void vg_incidents_flush(struct vg_incidents *t)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->inc[i].in_use && !t->inc[i].closed)
			close_one(t, &t->inc[i]);
}

size_t vg_incidents_open(const struct vg_incidents *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->cap; i++)
		n += t->inc[i].in_use && !t->inc[i].closed;
	return n;
}
