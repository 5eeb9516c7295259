// SPDX-License-Identifier: GPL-2.0
/*
 * stats: one registry, two renderings.  The stats JSON record and the
 * Prometheus page are written from the same reads of the same atomics, so
 * a scrape and the feed agree.  Prometheus names follow its conventions:
 * vigil_ prefix, _total on counters, one HELP and TYPE line per family.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "vigil/record.h"
#include "vigil/stats.h"

struct rule_slot {
	char name[VG_STATS_NAME_MAX];
	_Atomic uint64_t hits;
};

struct sink_ref {
	char name[256];
	const struct vg_sink_counters *c;
};

struct value_ref {
	char name[VG_STATS_NAME_MAX];
	char help[128];
	uint64_t (*fn)(void *ctx);
	void *ctx;
	bool counter; /* only grows: vigil_<name>_total, a counter */
};

struct vg_stats {
	pthread_mutex_t lock; /* registration only */
	uint64_t start_mono_ns;
	_Atomic uint64_t events[VG_EV__MAX];
	_Atomic uint64_t rb_drops[VG_EV__MAX];
	_Atomic uint64_t filtered[VG_EV__MAX];
	_Atomic uint64_t decode_errors;
	_Atomic uint64_t records[VG_OUT_KIND__MAX];
	_Atomic unsigned nrules;
	struct rule_slot rules[VG_STATS_RULES_MAX];
	unsigned nsinks;
	struct sink_ref sinks[VG_STATS_SINKS_MAX];
	const struct vg_tail_counters *tail;
	unsigned nvalues;
	struct value_ref values[VG_STATS_VALUES_MAX];
};

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define BUMP(x) atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)

int vg_stats_new(struct vg_stats **out)
{
	struct vg_stats *st;

	if (!out)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	st->start_mono_ns = vg_out_mono_ns();
	*out = st;
	return 0;
}

void vg_stats_free(struct vg_stats **stp)
{
	if (!stp || !*stp)
		return;
	pthread_mutex_destroy(&(*stp)->lock);
	free(*stp);
	*stp = NULL;
}

void vg_stats_event(struct vg_stats *st, unsigned type)
{
	BUMP(st->events[type < VG_EV__MAX ? type : 0]);
}

void vg_stats_decode_error(struct vg_stats *st)
{
	BUMP(st->decode_errors);
}

void vg_stats_record(struct vg_stats *st, enum vg_out_kind kind)
{
	if ((unsigned)kind < VG_OUT_KIND__MAX)
		BUMP(st->records[kind]);
}

void vg_stats_set_rb_drops(struct vg_stats *st, unsigned type, uint64_t total)
{
	if (type < VG_EV__MAX)
		atomic_store_explicit(&st->rb_drops[type], total, memory_order_relaxed);
}

void vg_stats_set_filtered(struct vg_stats *st, unsigned type, uint64_t total)
{
	if (type < VG_EV__MAX)
		atomic_store_explicit(&st->filtered[type], total, memory_order_relaxed);
}

int vg_stats_rule(struct vg_stats *st, const char *name)
{
	unsigned n;
	int id = -ENOSPC;

	if (!name || !*name)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	n = LOAD(st->nrules);
	for (unsigned i = 0; i < n; i++) {
		if (!strcmp(st->rules[i].name, name)) {
			id = (int)i;
			goto out;
		}
	}
	if (n < VG_STATS_RULES_MAX) {
		snprintf(st->rules[n].name, sizeof(st->rules[n].name), "%s", name);
		atomic_store_explicit(&st->nrules, n + 1, memory_order_release);
		id = (int)n;
	}
out:
	pthread_mutex_unlock(&st->lock);
	return id;
}

void vg_stats_rule_hit(struct vg_stats *st, int id)
{
	if (id >= 0 && (unsigned)id < LOAD(st->nrules))
		BUMP(st->rules[id].hits);
}

void vg_stats_rule_hit_name(struct vg_stats *st, const char *name)
{
	vg_stats_rule_hit(st, vg_stats_rule(st, name));
}

int vg_stats_add_sink(struct vg_stats *st, const char *name, const struct vg_sink_counters *c)
{
	int err = 0;

	if (!name || !c)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	if (st->nsinks >= VG_STATS_SINKS_MAX) {
		err = -ENOSPC;
	} else {
		/* two outputs to one place (other options after the comma)
		 * must not share a label set: the second is NAME#2 */
		char *dst = st->sinks[st->nsinks].name;
		size_t n = sizeof(st->sinks[0].name);
		for (unsigned nth = 1;; nth++) {
			bool taken = false;
			if (nth == 1)
				snprintf(dst, n, "%s", name);
			else
				snprintf(dst, n, "%.240s#%u", name, nth);
			for (unsigned i = 0; i < st->nsinks && !taken; i++)
				taken = !strcmp(st->sinks[i].name, dst);
			if (!taken)
				break;
		}
		st->sinks[st->nsinks].c = c;
		st->nsinks++;
	}
	pthread_mutex_unlock(&st->lock);
	return err;
}

void vg_stats_remove_sink(struct vg_stats *st, const struct vg_sink_counters *c)
{
	pthread_mutex_lock(&st->lock);
	for (unsigned i = 0; i < st->nsinks; i++) {
		if (st->sinks[i].c == c) {
			memmove(&st->sinks[i], &st->sinks[i + 1],
				(st->nsinks - i - 1) * sizeof(st->sinks[0]));
			st->nsinks--;
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
}

uint64_t vg_stats_sinks_dropped(struct vg_stats *st)
{
	uint64_t n = 0;

	pthread_mutex_lock(&st->lock);
	for (unsigned i = 0; i < st->nsinks; i++)
		n += LOAD(st->sinks[i].c->dropped);
	pthread_mutex_unlock(&st->lock);
	return n;
}

void vg_stats_set_tail(struct vg_stats *st, const struct vg_tail_counters *c)
{
	pthread_mutex_lock(&st->lock);
	st->tail = c;
	pthread_mutex_unlock(&st->lock);
}

static int valid_metric_name(const char *s)
{
	if (!s || !*s || strlen(s) >= VG_STATS_NAME_MAX)
		return 0;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	}
	return 1;
}

static int add_value(struct vg_stats *st, const char *name, const char *help,
		     uint64_t (*fn)(void *ctx), void *ctx, bool counter)
{
	int err = 0;

	if (!valid_metric_name(name) || !fn)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	if (st->nvalues >= VG_STATS_VALUES_MAX) {
		err = -ENOSPC;
	} else {
		struct value_ref *v = &st->values[st->nvalues++];

		snprintf(v->name, sizeof(v->name), "%s", name);
		snprintf(v->help, sizeof(v->help), "%s", help ? help : name);
		v->fn = fn;
		v->ctx = ctx;
		v->counter = counter;
	}
	pthread_mutex_unlock(&st->lock);
	return err;
}

int vg_stats_add_value(struct vg_stats *st, const char *name, const char *help,
		       uint64_t (*fn)(void *ctx), void *ctx)
{
	return add_value(st, name, help, fn, ctx, false);
}

int vg_stats_add_counter(struct vg_stats *st, const char *name, const char *help,
			 uint64_t (*fn)(void *ctx), void *ctx)
{
	return add_value(st, name, help, fn, ctx, true);
}

void vg_stats_usage(struct vg_stats_usage *u)
{
	struct rusage ru;
	FILE *f;
	unsigned long size = 0, resident = 0;

	memset(u, 0, sizeof(*u));
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		u->cpu_user_us =
			(uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec;
		u->cpu_sys_us =
			(uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
	}
	f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) == 2)
			u->rss_bytes = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
}

static uint64_t sum(const _Atomic uint64_t *a, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += atomic_load_explicit(&a[i], memory_order_relaxed);
	return t;
}

/* {"exec":N,...} over event types 1.. */
static void json_by_type(struct vg_buf *b, const char *key, const _Atomic uint64_t *a)
{
	vg_json_key(b, key);
	vg_json_obj_open(b);
	for (unsigned t = 1; t < VG_EV__MAX; t++)
		vg_json_kv_u64(b, vg_event_type_name(t), LOAD(a[t]));
	vg_json_obj_close(b);
}

int vg_stats_encode(struct vg_stats *st, struct vg_buf *b, uint64_t wall_ns, unsigned interval_s)
{
	struct vg_stats_usage u;
	unsigned n;

	vg_stats_usage(&u);
	if (!wall_ns)
		wall_ns = vg_out_now_ns();
	vg_json_obj_open(b);
	vg_json_key(b, "@timestamp");
	vg_json_time(b, wall_ns);
	vg_json_key(b, "event");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "kind", "metric");
	vg_json_kv_cstr(b, "module", "vigil");
	vg_json_kv_cstr(b, "dataset", "vigil.stats");
	vg_json_obj_close(b);
	vg_json_kv_cstr(b, "message", "vigil statistics");

	vg_json_key(b, "vigil");
	vg_json_obj_open(b);
	vg_json_key(b, "stats");
	vg_json_obj_open(b);
	vg_json_kv_u64(b, "interval_s", interval_s);
	vg_json_kv_u64(b, "uptime_s", (vg_out_mono_ns() - st->start_mono_ns) / 1000000000ull);
	json_by_type(b, "events", st->events);
	vg_json_kv_u64(b, "events_total", sum(st->events, VG_EV__MAX));
	json_by_type(b, "ringbuf_drops", st->rb_drops);
	vg_json_kv_u64(b, "ringbuf_drops_total", sum(st->rb_drops, VG_EV__MAX));
	json_by_type(b, "kernel_filtered", st->filtered);
	vg_json_kv_u64(b, "decode_errors", LOAD(st->decode_errors));

	vg_json_key(b, "records");
	vg_json_obj_open(b);
	for (unsigned k = 0; k < VG_OUT_KIND__MAX; k++)
		vg_json_kv_u64(b, vg_out_kind_name((enum vg_out_kind)k), LOAD(st->records[k]));
	vg_json_obj_close(b);

	vg_json_key(b, "rules");
	vg_json_arr_open(b);
	n = atomic_load_explicit(&st->nrules, memory_order_acquire);
	for (unsigned i = 0; i < n; i++) {
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "name", st->rules[i].name);
		vg_json_kv_u64(b, "hits", LOAD(st->rules[i].hits));
		vg_json_obj_close(b);
	}
	vg_json_arr_close(b);

	pthread_mutex_lock(&st->lock);
	vg_json_key(b, "sinks");
	vg_json_arr_open(b);
	for (unsigned i = 0; i < st->nsinks; i++) {
		const struct vg_sink_counters *c = st->sinks[i].c;

		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "name", st->sinks[i].name);
		vg_json_kv_u64(b, "queued", LOAD(c->queued));
		vg_json_kv_u64(b, "written", LOAD(c->written));
		vg_json_kv_u64(b, "dropped", LOAD(c->dropped));
		vg_json_kv_u64(b, "errors", LOAD(c->errors));
		vg_json_kv_u64(b, "reconnects", LOAD(c->reconnects));
		vg_json_kv_bool(b, "up", LOAD(c->up) != 0);
		vg_json_obj_close(b);
	}
	vg_json_arr_close(b);
	if (st->tail) {
		const struct vg_tail_counters *t = st->tail;

		vg_json_key(b, "tail");
		vg_json_obj_open(b);
		vg_json_kv_u64(b, "clients", LOAD(t->clients));
		vg_json_kv_u64(b, "accepted", LOAD(t->accepted));
		vg_json_kv_u64(b, "cut_off", LOAD(t->cut_off));
		vg_json_kv_u64(b, "refused", LOAD(t->refused));
		vg_json_kv_u64(b, "sent", LOAD(t->sent));
		vg_json_kv_u64(b, "lost", LOAD(t->lost));
		vg_json_kv_u64(b, "dropped", LOAD(t->dropped));
		vg_json_obj_close(b);
	}
	if (st->nvalues) {
		vg_json_key(b, "extra");
		vg_json_obj_open(b);
		for (unsigned i = 0; i < st->nvalues; i++)
			vg_json_kv_u64(b, st->values[i].name, st->values[i].fn(st->values[i].ctx));
		vg_json_obj_close(b);
	}
	pthread_mutex_unlock(&st->lock);

	vg_json_key(b, "agent");
	vg_json_obj_open(b);
	vg_json_kv_u64(b, "cpu_user_us", u.cpu_user_us);
	vg_json_kv_u64(b, "cpu_system_us", u.cpu_sys_us);
	vg_json_kv_u64(b, "rss_bytes", u.rss_bytes);
	vg_json_kv_u64(b, "pid", (uint64_t)getpid());
	vg_json_obj_close(b);

	vg_json_obj_close(b); /* stats */
	vg_json_obj_close(b); /* vigil */
	vg_json_obj_close(b);
	vg_buf_raw(b, "\n", 1);
	return b->overflow ? -ENOSPC : 0;
}

/* ---- Prometheus text exposition ---- */

static void prom_raw(struct vg_buf *b, const char *s)
{
	vg_buf_raw(b, s, strlen(s));
}

static void prom_family(struct vg_buf *b, const char *name, const char *type, const char *help)
{
	char line[320];
	int n = snprintf(line, sizeof(line), "# HELP vigil_%s %s\n# TYPE vigil_%s %s\n", name, help,
			 name, type);

	if (n > 0)
		vg_buf_raw(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* A label value: backslash, double quote and newline escaped, others as is
 * (control bytes dropped: a metrics page is no place for them). */
static void prom_label_value(struct vg_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\')
			prom_raw(b, "\\\\");
		else if (c == '"')
			prom_raw(b, "\\\"");
		else if (c == '\n')
			prom_raw(b, "\\n");
		else if (c >= 0x20 && c != 0x7f)
			vg_buf_raw(b, (const char *)&c, 1);
	}
}

static void prom_sample(struct vg_buf *b, const char *name, const char *lkey, const char *lval,
			uint64_t v)
{
	char num[32];

	prom_raw(b, "vigil_");
	prom_raw(b, name);
	if (lkey) {
		prom_raw(b, "{");
		prom_raw(b, lkey);
		prom_raw(b, "=\"");
		prom_label_value(b, lval);
		prom_raw(b, "\"}");
	}
	snprintf(num, sizeof(num), " %" PRIu64 "\n", v);
	prom_raw(b, num);
}

static void prom_by_type(struct vg_buf *b, const char *name, const char *help,
			 const _Atomic uint64_t *a)
{
	prom_family(b, name, "counter", help);
	for (unsigned t = 1; t < VG_EV__MAX; t++)
		prom_sample(b, name, "type", vg_event_type_name(t), LOAD(a[t]));
}

static void prom_us_seconds(struct vg_buf *b, const char *mode, uint64_t us)
{
	char line[96];
	int n = snprintf(line, sizeof(line),
			 "vigil_cpu_seconds_total{mode=\"%s\"} %" PRIu64 ".%06" PRIu64 "\n", mode,
			 us / 1000000u, us % 1000000u);

	if (n > 0)
		vg_buf_raw(b, line, (size_t)n);
}

int vg_stats_prometheus(struct vg_stats *st, struct vg_buf *b)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} sinkf[] = {
		{"sink_queued_total", "Lines accepted into a sink's queue.",
		 offsetof(struct vg_sink_counters, queued)},
		{"sink_written_total", "Lines a sink delivered.",
		 offsetof(struct vg_sink_counters, written)},
		{"sink_dropped_total", "Lines a sink lost (queue full, write failed).",
		 offsetof(struct vg_sink_counters, dropped)},
		{"sink_errors_total", "Failed writes, connects and rotations of a sink.",
		 offsetof(struct vg_sink_counters, errors)},
		{"sink_reconnects_total", "Times a sink reopened its destination.",
		 offsetof(struct vg_sink_counters, reconnects)},
	};
	struct vg_stats_usage u;
	unsigned n;

	vg_stats_usage(&u);
	prom_by_type(b, "events_total", "Events decoded, by type.", st->events);
	prom_by_type(b, "ringbuf_drops_total", "Events lost in the kernel: ring buffer full.",
		     st->rb_drops);
	prom_by_type(b, "kernel_filtered_total",
		     "Host processes' events dropped by the filters (the kernel's; the agent's "
		     "for one in a mount namespace of its own).",
		     st->filtered);
	prom_family(b, "decode_errors_total", "counter",
		    "Ring-buffer records that failed to decode.");
	prom_sample(b, "decode_errors_total", NULL, NULL, LOAD(st->decode_errors));
	prom_family(b, "records_total", "counter", "Records emitted, by kind.");
	for (unsigned k = 0; k < VG_OUT_KIND__MAX; k++)
		prom_sample(b, "records_total", "kind", vg_out_kind_name((enum vg_out_kind)k),
			    LOAD(st->records[k]));
	n = atomic_load_explicit(&st->nrules, memory_order_acquire);
	prom_family(b, "rule_hits_total", "counter", "Times a rule fired.");
	for (unsigned i = 0; i < n; i++)
		prom_sample(b, "rule_hits_total", "rule", st->rules[i].name,
			    LOAD(st->rules[i].hits));

	pthread_mutex_lock(&st->lock);
	for (size_t f = 0; f < sizeof(sinkf) / sizeof(sinkf[0]); f++) {
		prom_family(b, sinkf[f].name, "counter", sinkf[f].help);
		for (unsigned i = 0; i < st->nsinks; i++) {
			const _Atomic uint64_t *v =
				(const _Atomic uint64_t *)(const void *)((const char *)st->sinks[i]
										 .c +
									 sinkf[f].off);
			prom_sample(b, sinkf[f].name, "sink", st->sinks[i].name,
				    atomic_load_explicit(v, memory_order_relaxed));
		}
	}
	prom_family(b, "sink_up", "gauge", "1 while a sink's destination is open.");
	for (unsigned i = 0; i < st->nsinks; i++)
		prom_sample(b, "sink_up", "sink", st->sinks[i].name, LOAD(st->sinks[i].c->up));
	if (st->tail) {
		const struct vg_tail_counters *t = st->tail;

		prom_family(b, "tail_clients", "gauge", "Live tail clients connected now.");
		prom_sample(b, "tail_clients", NULL, NULL, LOAD(t->clients));
		prom_family(b, "tail_accepted_total", "counter", "Live tail clients accepted.");
		prom_sample(b, "tail_accepted_total", NULL, NULL, LOAD(t->accepted));
		prom_family(b, "tail_cut_off_total", "counter",
			    "Live tail clients cut off for falling behind.");
		prom_sample(b, "tail_cut_off_total", NULL, NULL, LOAD(t->cut_off));
		prom_family(b, "tail_refused_total", "counter", "Live tail clients refused.");
		prom_sample(b, "tail_refused_total", NULL, NULL, LOAD(t->refused));
		prom_family(b, "tail_sent_total", "counter", "Lines queued to live tail clients.");
		prom_sample(b, "tail_sent_total", NULL, NULL, LOAD(t->sent));
		prom_family(b, "tail_lost_total", "counter",
			    "Lines live tail clients missed because they fell behind.");
		prom_sample(b, "tail_lost_total", NULL, NULL, LOAD(t->lost));
		prom_family(b, "tail_dropped_total", "counter",
			    "Lines the tail intake could not take (streaming clients are told).");
		prom_sample(b, "tail_dropped_total", NULL, NULL, LOAD(t->dropped));
	}
	for (unsigned i = 0; i < st->nvalues; i++) {
		const struct value_ref *v = &st->values[i];
		char name[VG_STATS_NAME_MAX + sizeof("_total")];

		snprintf(name, sizeof(name), "%s%s", v->name, v->counter ? "_total" : "");
		prom_family(b, name, v->counter ? "counter" : "gauge", v->help);
		prom_sample(b, name, NULL, NULL, v->fn(v->ctx));
	}
	pthread_mutex_unlock(&st->lock);

	prom_family(b, "cpu_seconds_total", "counter", "CPU time the agent used.");
	prom_us_seconds(b, "user", u.cpu_user_us);
	prom_us_seconds(b, "system", u.cpu_sys_us);
	prom_family(b, "resident_memory_bytes", "gauge", "Resident set size of the agent.");
	prom_sample(b, "resident_memory_bytes", NULL, NULL, u.rss_bytes);
	prom_family(b, "uptime_seconds", "gauge", "Seconds since the agent started.");
	prom_sample(b, "uptime_seconds", NULL, NULL,
		    (vg_out_mono_ns() - st->start_mono_ns) / 1000000000ull);
	return b->overflow ? -ENOSPC : 0;
}
