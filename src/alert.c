/*
 * alert: alert and incident lines (see alert.h).
 *
 * An alert line is the triggering event's own line with the alert's fields
 * merged in.  The event encoder writes whole "event", "vigil" and "message"
 * members; writing them a second time would give duplicate keys, which
 * Elasticsearch and many JSON readers refuse.  So after the event's fields
 * are written, the alert's members are spliced into those objects: a small
 * scanner walks the (valid, self-written) JSON of the open object, finds
 * the value of a top-level key, and the bytes are moved in place.  A key
 * the event encoder did not write is simply added.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vigil/alert.h"
#include "vigil/encode.h"

/* ---- splicing into the object being written ---- */

/* Index just past the JSON string starting at p[i] == '"'. */
static size_t skip_str(const char *p, size_t i, size_t end)
{
	for (i++; i < end; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '"')
			return i + 1;
	}
	return end;
}

/* Index just past the value starting at p[i]. */
static size_t skip_value(const char *p, size_t i, size_t end)
{
	int depth = 0;
	if (i < end && p[i] == '"')
		return skip_str(p, i, end);
	for (; i < end; i++) {
		char c = p[i];
		if (c == '"') {
			i = skip_str(p, i, end) - 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
		} else if (c == ',' && depth == 0) {
			return i;
		}
	}
	return end;
}

/*
 * In the object whose '{' is at p[obj], the value of top-level key: its
 * span [*vs, *ve).  The object may still be open (no closing brace yet).
 */
static bool find_member(const char *p, size_t obj, size_t end, const char *key, size_t *vs,
			size_t *ve)
{
	size_t kl = strlen(key), i = obj + 1;
	while (i < end && p[i] == '"') {
		size_t ks = i + 1, ke = skip_str(p, i, end) - 1; /* key text [ks, ke) */
		i = ke + 2;					 /* past '"' and ':' */
		size_t v = i;
		i = skip_value(p, i, end);
		if (ke - ks == kl && !memcmp(p + ks, key, kl)) {
			*vs = v;
			*ve = i;
			return true;
		}
		if (i < end && p[i] == ',')
			i++;
	}
	return false;
}

/* Replace b->p[at, at + del) by s[0, n), keeping the NUL. */
static void splice(struct vg_buf *b, size_t at, size_t del, const char *s, size_t n)
{
	if (b->overflow)
		return;
	if (b->len - del + n + 1 > b->cap) {
		b->overflow = true;
		return;
	}
	memmove(b->p + at + n, b->p + at + del, b->len - at - del + 1);
	memcpy(b->p + at, s, n);
	b->len = b->len - del + n;
}

/* Put the members in m (written "k":v,"k":v without braces) first into the
 * object value of key, or add them as a new object member "key":{m}. */
static void merge_obj(struct vg_buf *b, size_t obj, const char *key, const struct vg_buf *m)
{
	size_t vs, ve;
	if (b->overflow || m->overflow) {
		b->overflow = true;
		return;
	}
	if (find_member(b->p, obj, b->len, key, &vs, &ve) && b->p[vs] == '{') {
		bool empty = b->p[vs + 1] == '}';
		splice(b, vs + 1, 0, m->p, m->len);
		if (!empty)
			splice(b, vs + 1 + m->len, 0, ",", 1);
		return;
	}
	vg_json_key(b, key);
	vg_json_obj_open(b);
	vg_buf_raw(b, m->p, m->len);
	vg_json_obj_close(b);
}

/*
 * Set top-level key to the string s, at most VG_ALERT_DETAIL_MAX - 1 bytes
 * (replacing what is there).  Room for the worst escaping: every byte a
 * control character the process chose (\u0001, six bytes); a string that
 * did not fit would be spliced in without its closing quote.
 */
static void set_str(struct vg_buf *b, size_t obj, const char *key, const char *s)
{
	char mem[6 * VG_ALERT_DETAIL_MAX + 8];
	struct vg_buf v;
	size_t vs, ve;

	vg_buf_init(&v, mem, sizeof(mem));
	vg_json_str(&v, s, strnlen(s, VG_ALERT_DETAIL_MAX - 1));
	if (v.overflow) {
		b->overflow = true;
		return;
	}
	if (find_member(b->p, obj, b->len, key, &vs, &ve)) {
		splice(b, vs, ve - vs, v.p, v.len);
		return;
	}
	vg_json_key(b, key);
	vg_buf_raw(b, v.p, v.len);
}

/* ---- shared pieces ---- */

static void put_rule_threat(struct vg_buf *b, const struct vg_rule_def *d)
{
	char ref[96];
	vg_json_key(b, "rule");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "id", d->name);
	vg_json_kv_cstr(b, "name", d->name);
	vg_json_kv_cstr(b, "description", d->description);
	vg_json_kv_cstr(b, "category", d->tactic_name);
	vg_json_kv_cstr(b, "ruleset", "vigil");
	vg_json_obj_close(b);

	vg_json_key(b, "threat");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "framework", "MITRE ATT&CK");
	vg_json_key(b, "tactic");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "id", d->tactic_id);
	vg_json_kv_cstr(b, "name", d->tactic_name);
	vg_json_obj_close(b);
	vg_json_key(b, "technique");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "id", d->technique_id);
	vg_json_kv_cstr(b, "name", d->technique_name);
	/* https://attack.mitre.org/techniques/T1552/005/ for T1552.005 */
	const char *dot = strchr(d->technique_id, '.');
	if (dot)
		snprintf(ref, sizeof(ref), "https://attack.mitre.org/techniques/%.*s/%s/",
			 (int)(dot - d->technique_id), d->technique_id, dot + 1);
	else
		snprintf(ref, sizeof(ref), "https://attack.mitre.org/techniques/%s/",
			 d->technique_id);
	vg_json_kv_cstr(b, "reference", ref);
	if (dot) {
		vg_json_key(b, "subtechnique");
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "id", d->technique_id);
		vg_json_obj_close(b);
	}
	vg_json_obj_close(b);
	vg_json_obj_close(b);
}

static void put_container_brief(struct vg_buf *b, const char *id, const char *name,
				const char *image, const char *runtime)
{
	vg_json_key(b, "container");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "id", id);
	if (runtime)
		vg_json_kv_cstr(b, "runtime", runtime);
	if (name && name[0])
		vg_json_kv_cstr(b, "name", name);
	if (image && image[0]) {
		vg_json_key(b, "image");
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "name", image);
		vg_json_obj_close(b);
	}
	vg_json_obj_close(b);
}

static void put_incident_id(struct vg_buf *b, uint64_t id)
{
	char s[24];
	snprintf(s, sizeof(s), "%llu", (unsigned long long)id);
	vg_json_kv_cstr(b, "id", s);
}

static void put_sample(struct vg_buf *b, const struct vg_cg_sample *s)
{
	vg_json_key(b, "sample");
	vg_json_obj_open(b);
	if (s->have & VG_SMP_CPU)
		vg_json_kv_u64(b, "cpu_usage_ns", s->cpu_usage_ns);
	if (s->have & VG_SMP_QUOTA) {
		vg_json_kv_i64(b, "cpu_quota_us", s->cpu_quota_us);
		vg_json_kv_u64(b, "cpu_period_us", s->cpu_period_us);
	}
	if (s->have & VG_SMP_MEM) {
		vg_json_kv_u64(b, "memory_bytes", s->mem_current);
		vg_json_kv_u64(b, "memory_working_bytes", s->mem_working);
	}
	if (s->have & VG_SMP_MEMMAX)
		vg_json_kv_i64(b, "memory_limit_bytes", s->mem_max);
	if (s->have & VG_SMP_PIDS)
		vg_json_kv_u64(b, "pids", s->pids_current);
	if (s->have & VG_SMP_PIDSMAX)
		vg_json_kv_i64(b, "pids_limit", s->pids_max);
	vg_json_obj_close(b);
}

/* "event":{ kind, category, type, action ... (left open for more members) */
static void open_event(struct vg_buf *b, const char *category, const char *type, const char *action)
{
	vg_json_key(b, "event");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "kind", "alert");
	vg_json_key(b, "category");
	vg_json_arr_open(b);
	vg_json_cstr(b, category);
	vg_json_arr_close(b);
	vg_json_key(b, "type");
	vg_json_arr_open(b);
	vg_json_cstr(b, type);
	vg_json_arr_close(b);
	vg_json_kv_cstr(b, "action", action);
}

/* the members the alert adds inside "vigil" */
static void vigil_members(struct vg_buf *m, const struct vg_alert *a)
{
	vg_json_kv_cstr(m, "severity", vg_severity_name(a->severity));
	vg_json_key(m, "incident");
	vg_json_obj_open(m);
	put_incident_id(m, a->incident_id);
	vg_json_obj_close(m);
	vg_json_key(m, "alert");
	vg_json_obj_open(m);
	vg_json_kv_cstr(m, "step", a->step);
	vg_json_kv_u64(m, "count", a->count);
	vg_json_kv_bool(m, "failed", a->failed);
	vg_json_obj_close(m);
	if (a->sample)
		put_sample(m, a->sample);
}

/* ---- alerts ---- */

/* full: with the event's own fields (a->ev), else the brief form */
static int encode_alert(struct vg_buf *b, const struct vg_alert *a, bool full)
{
	char mem[4096];
	struct vg_buf m;
	size_t obj = b->len;

	vg_json_obj_open(b);
	if (a->ev && full) {
		obj = b->len - 1; /* the '{' just written */
		vg_encode_event_fields(b, a->ev, "alert");

		vg_buf_init(&m, mem, sizeof(mem));
		vg_json_kv_u64(&m, "severity", vg_severity_ecs(a->severity));
		vg_json_kv_cstr(&m, "reason", a->detail);
		vg_json_kv_cstr(&m, "code", a->rule->name);
		merge_obj(b, obj, "event", &m);

		vg_buf_init(&m, mem, sizeof(mem));
		vigil_members(&m, a);
		merge_obj(b, obj, "vigil", &m);
		set_str(b, obj, "message", a->detail);
	} else {
		/* a sampler alert: the container is the subject; or the brief
		 * form of an event's alert: its process by pid and name */
		const struct vg_container *c = a->ctr;
		const struct vg_hdr *h = a->ev ? a->ev->rec.hdr : NULL;
		vg_json_key(b, "@timestamp");
		vg_json_time(b, a->wall_ns);
		open_event(b, "host", "info", a->rule->name);
		vg_json_kv_cstr(b, "code", a->rule->name);
		vg_json_kv_u64(b, "severity", vg_severity_ecs(a->severity));
		vg_json_kv_cstr(b, "reason", a->detail);
		vg_json_kv_cstr(b, "module", "vigil");
		vg_json_kv_cstr(b, "dataset", h ? vg_event_type_name(a->ev->rec.type) : "sample");
		vg_json_obj_close(b);
		vg_json_kv_cstr(b, "message", a->detail);
		if (h) {
			vg_json_key(b, "process");
			vg_json_obj_open(b);
			vg_json_kv_u64(b, "pid", h->tgid);
			vg_json_kv_str(b, "name", h->comm, strnlen(h->comm, sizeof(h->comm)));
			vg_json_obj_close(b);
		}
		if (c)
			put_container_brief(b, c->cg.id, c->name, c->image,
					    vg_runtime_name(c->cg.runtime));
		vg_json_key(b, "vigil");
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "scope", c ? "container" : "host");
		vg_json_kv_u64(b, "ts_mono", a->ts_ns);
		vigil_members(b, a);
		vg_json_obj_close(b);
	}
	put_rule_threat(b, a->rule);
	vg_json_obj_close(b);
	vg_buf_raw(b, "\n", 1);
	return b->overflow ? -ENOSPC : 0;
}

int vg_alert_encode(struct vg_buf *b, const struct vg_alert *a)
{
	size_t len = b->len;
	bool comma = b->need_comma;
	int err = encode_alert(b, a, true);

	if (err && a->ev) {
		/* the event's fields did not fit (a command line of control
		 * bytes is six times its size escaped): the alert goes out
		 * all the same, in the brief form */
		b->len = len;
		b->need_comma = comma;
		b->overflow = false;
		err = encode_alert(b, a, false);
	}
	return err;
}

/* ---- incidents ---- */

const char *vg_incident_state_name(enum vg_incident_change change)
{
	switch (change) {
	case VG_INC_OPENED:
		return "open";
	case VG_INC_GREW:
		return "grew";
	case VG_INC_CLOSED:
		return "closed";
	default:
		return "updated";
	}
}

int vg_incident_encode(struct vg_buf *b, const struct vg_incident *inc,
		       const struct vg_container *ctr)
{
	char msg[VG_INC_CHAIN_MAX + 64];

	vg_json_obj_open(b);
	vg_json_key(b, "@timestamp");
	vg_json_time(b, inc->updated_wall_ns);
	open_event(b, "intrusion_detection", "info", "incident");
	vg_json_kv_u64(b, "severity", vg_severity_ecs(inc->severity));
	vg_json_kv_u64(b, "risk_score", inc->score);
	vg_json_key(b, "start");
	vg_json_time(b, inc->opened_wall_ns);
	if (inc->closed) {
		vg_json_key(b, "end");
		vg_json_time(b, inc->updated_wall_ns);
	}
	vg_json_kv_cstr(b, "module", "vigil");
	vg_json_kv_cstr(b, "dataset", "incident");
	vg_json_obj_close(b);

	snprintf(msg, sizeof(msg), "incident %llu: %s", (unsigned long long)inc->id, inc->chain);
	vg_json_kv_cstr(b, "message", msg);
	if (inc->ctr_key[0])
		put_container_brief(b, inc->ctr_key, ctr ? ctr->name : inc->ctr_name,
				    ctr ? ctr->image : inc->image,
				    ctr ? vg_runtime_name(ctr->cg.runtime) : NULL);

	vg_json_key(b, "vigil");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "scope", inc->ctr_key[0] ? "container" : "host");
	vg_json_kv_cstr(b, "severity", vg_severity_name(inc->severity));
	vg_json_key(b, "incident");
	vg_json_obj_open(b);
	put_incident_id(b, inc->id);
	vg_json_kv_cstr(b, "state", vg_incident_state_name(inc->change));
	vg_json_kv_cstr(b, "chain", inc->chain);
	vg_json_kv_u64(b, "score", inc->score);
	vg_json_kv_u64(b, "events", inc->events);
	vg_json_kv_u64(b, "alerts", inc->alerts);
	if (inc->because[0])
		vg_json_kv_cstr(b, "because", inc->because);
	vg_json_key(b, "steps");
	vg_json_arr_open(b);
	for (unsigned i = 0; i < inc->nsteps && i < VG_INC_STEPS_MAX; i++) {
		const struct vg_incident_step *s = &inc->steps[i];
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "rule", vg_rule_name(s->rule));
		vg_json_kv_cstr(b, "severity", vg_severity_name(s->severity));
		vg_json_kv_cstr(b, "text", s->text);
		vg_json_kv_u64(b, "count", s->count);
		vg_json_kv_u64(b, "offset_ms",
			       s->first_ns > inc->opened_ns
				       ? (s->first_ns - inc->opened_ns) / 1000000
				       : 0);
		vg_json_obj_close(b);
	}
	vg_json_arr_close(b);
	if (inc->steps_dropped)
		vg_json_kv_u64(b, "steps_dropped", inc->steps_dropped);
	vg_json_obj_close(b);
	vg_json_obj_close(b);
	vg_json_obj_close(b);
	vg_buf_raw(b, "\n", 1);
	return b->overflow ? -ENOSPC : 0;
}
