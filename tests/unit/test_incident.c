/* incident: grouping, chain text, score, windows and what is written out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/incident.h"

#define S 1000000000ull

struct seen {
	unsigned n;
	struct vg_incident last;
	enum vg_incident_change changes[64];
};

static void out(const struct vg_incident *inc, void *ctx)
{
	struct seen *s = ctx;
	if (s->n < 64)
		s->changes[s->n] = inc->change;
	s->n++;
	s->last = *inc;
}

static struct vg_incident *add(struct vg_incidents *t, const char *ctr, int rule, int sev,
			       const char *key, const char *text, uint64_t now,
			       enum vg_incident_change *ch)
{
	struct vg_incident_add a = {.ctr_key = ctr, .ctr_name = "redis", .image = "redis:7",
				    .rule = rule, .severity = sev, .key = key, .text = text,
				    .now_ns = now, .wall_ns = 1700000000 * S + now};
	bool fresh;
	return vg_incidents_add(t, &a, ch, &fresh);
}

static void test_chain(void **state)
{
	struct vg_incidents *t = NULL;
	struct seen seen = {0};
	enum vg_incident_change ch;

	assert_int_equal(vg_incidents_new(8, 1000, &t), 0);
	vg_incidents_set_output(t, out, &seen);

	struct vg_incident *i1 = add(t, "abc", VG_RULE_SHELL, VG_SEV_CRITICAL, "shell:redis-server",
				     "shell from redis-server", 10 * S, &ch);
	assert_int_equal(ch, VG_INC_OPENED);
	assert_int_equal(i1->id, 1001);
	assert_int_equal(seen.n, 0); /* nothing written until published */
	vg_incidents_publish(t, i1, ch, NULL);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.last.change, VG_INC_OPENED);
	unsigned score1 = i1->score;

	struct vg_incident *i2 = add(t, "abc", VG_RULE_METADATA, VG_SEV_CRITICAL, "metadata",
				     "metadata access 169.254.169.254", 20 * S, &ch);
	assert_ptr_equal(i1, i2);
	assert_int_equal(ch, VG_INC_GREW);
	add(t, "abc", VG_RULE_METADATA, VG_SEV_CRITICAL, "metadata", "metadata access", 21 * S, &ch);
	assert_int_equal(ch, VG_INC_COUNTED);
	add(t, "abc", VG_RULE_SPIKE, VG_SEV_HIGH, "spike:cpu", "CPU 95% of quota for 30 s", 60 * S,
	    &ch);
	add(t, "abc", VG_RULE_OOM, VG_SEV_HIGH, "oom", "OOM kill of redis-server", 90 * S, &ch);
	assert_int_equal(ch, VG_INC_GREW);
	assert_string_equal(i1->chain, "shell from redis-server → metadata access 169.254.169.254 "
				       "(×2) → CPU 95% of quota for 30 s → OOM kill of redis-server");
	assert_int_equal(i1->nsteps, 4);
	assert_int_equal(i1->events, 5);
	assert_int_equal(i1->severity, VG_SEV_CRITICAL);
	assert_true(i1->score > score1);
	assert_true(i1->score <= 100);
	assert_string_equal(i1->ctr_name, "redis");
	assert_true(vg_incident_has_rule(i1, VG_RULE_SPIKE));
	assert_false(vg_incident_has_rule(i1, VG_RULE_MOUNT));
	assert_non_null(vg_incident_step(i1, "metadata"));
	assert_null(vg_incident_step(i1, "nope"));

	/* another container: its own incident */
	struct vg_incident *o = add(t, "def", VG_RULE_MOUNT, VG_SEV_HIGH, "m", "mount proc", 95 * S, &ch);
	assert_ptr_not_equal(o, i1);
	assert_int_equal(o->id, 1002);
	assert_int_equal(vg_incidents_open(t), 2);
	vg_incidents_free(&t);
	assert_null(t);
}

/*
 * A sample's alert is stamped when the agent read the cgroup; the events
 * of the moments before it are drained after.  One of those opens nothing
 * new: the incident starts at it, and the chain is in the order things
 * happened.
 */
static void test_earlier_step(void **state)
{
	struct vg_incidents *t = NULL;
	enum vg_incident_change ch;

	assert_int_equal(vg_incidents_new(4, 0, &t), 0);
	struct vg_incident *a = add(t, "c1", VG_RULE_SPIKE, VG_SEV_HIGH, "spike:memory",
				    "memory 95% of limit", 10 * S, &ch);
	assert_int_equal(ch, VG_INC_OPENED);
	add(t, "c1", VG_RULE_SHELL, VG_SEV_CRITICAL, "shell:redis-server", "shell from redis-server",
	    10 * S - 3000000, &ch);
	assert_int_equal(ch, VG_INC_GREW);
	assert_int_equal(a->opened_ns, 10 * S - 3000000);
	assert_int_equal(a->opened_wall_ns, 1700000000 * S + 10 * S - 3000000);
	assert_int_equal(a->steps[0].first_ns, 10 * S - 3000000);
	assert_int_equal(a->steps[1].first_ns, 10 * S);
	add(t, "c1", VG_RULE_OOM, VG_SEV_HIGH, "oom", "OOM kill of redis-server", 10 * S - 1000000,
	    &ch);
	assert_string_equal(a->chain, "shell from redis-server → OOM kill of redis-server → "
				      "memory 95% of limit");
	/* a repeat keeps its place */
	add(t, "c1", VG_RULE_SHELL, VG_SEV_CRITICAL, "shell:redis-server", "shell from redis-server",
	    11 * S, &ch);
	assert_int_equal(a->steps[0].count, 2);
	assert_int_equal(a->steps[0].first_ns, 10 * S - 3000000);
	vg_incidents_free(&t);
}

static void test_window_and_tick(void **state)
{
	struct vg_incidents *t = NULL;
	struct seen seen = {0};
	enum vg_incident_change ch;

	assert_int_equal(vg_incidents_new(4, 0, &t), 0);
	vg_incidents_set_output(t, out, &seen);
	vg_incidents_set_window(t, 60 * S);

	struct vg_incident *a = add(t, "c1", VG_RULE_SHELL, VG_SEV_CRITICAL, "k", "shell", 100 * S, &ch);
	vg_incidents_publish(t, a, ch, NULL);
	uint64_t id = a->id;
	/* 50 s later: same incident (the window slides with each alert) */
	add(t, "c1", VG_RULE_SHELL, VG_SEV_CRITICAL, "k", "shell", 150 * S, &ch);
	assert_int_equal(ch, VG_INC_COUNTED);
	/* count changes wait for the update interval, then a tick writes them once */
	vg_incidents_tick(t, 120 * S);
	assert_int_equal(seen.n, 1);
	vg_incidents_tick(t, 155 * S);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.last.change, VG_INC_COUNTED);
	assert_int_equal(seen.last.steps[0].count, 2);
	vg_incidents_tick(t, 156 * S);
	assert_int_equal(seen.n, 2);

	/* 61 s of silence: closed, written once, and the next alert opens a new one */
	vg_incidents_tick(t, 211 * S + 1);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.last.change, VG_INC_CLOSED);
	assert_true(seen.last.closed);
	assert_null(vg_incidents_find(t, "c1", 212 * S));
	struct vg_incident *b = add(t, "c1", VG_RULE_SHELL, VG_SEV_CRITICAL, "k", "shell", 212 * S, &ch);
	assert_int_equal(ch, VG_INC_OPENED);
	assert_int_not_equal(b->id, id);
	assert_int_equal(b->events, 1);
	vg_incidents_free(&t);
}

static void because(struct vg_incident *inc, const struct vg_container *c, void *ctx)
{
	assert_string_equal(c->name, "redis");
	snprintf(inc->because, sizeof(inc->because), "possible because: %s", (const char *)ctx);
}

static void test_context_and_limits(void **state)
{
	struct vg_incidents *t = NULL;
	struct seen seen = {0};
	enum vg_incident_change ch;
	char key[16];

	assert_int_equal(vg_incidents_new(2, 0, &t), 0);
	vg_incidents_set_output(t, out, &seen);
	vg_incidents_set_context(t, because, "port 6379 published on 0.0.0.0");
	struct vg_container ctr = {.name = "redis"};
	struct vg_incident *a = add(t, "c1", VG_RULE_SHELL, VG_SEV_CRITICAL, "k", "shell", S, &ch);
	vg_incidents_publish(t, a, ch, &ctr);
	assert_string_equal(seen.last.because, "possible because: port 6379 published on 0.0.0.0");

	/* more distinct steps than fit: counted, and said in the chain */
	for (int i = 0; i < VG_INC_STEPS_MAX + 3; i++) {
		snprintf(key, sizeof(key), "s%d", i);
		add(t, "c1", VG_RULE_MOUNT, VG_SEV_HIGH, key, "mount", 2 * S, &ch);
	}
	assert_int_equal(a->nsteps, VG_INC_STEPS_MAX);
	assert_int_equal(a->steps_dropped, 4);
	assert_non_null(strstr(a->chain, "(+4 more)"));
	assert_int_equal(a->score, 100);
	/* a repeat of one that did not fit folds: no growth, no new count */
	uint64_t events = a->events;
	add(t, "c1", VG_RULE_MOUNT, VG_SEV_HIGH, "s18", "mount", 2 * S, &ch);
	assert_int_equal(ch, VG_INC_COUNTED);
	assert_int_equal(a->steps_dropped, 4);
	assert_int_equal(a->events, events + 1);
	/* a new one grows it, however many came before: detections past the
	 * memory are never folded away */
	add(t, "c1", VG_RULE_MOUNT, VG_SEV_HIGH, "s19", "mount", 2 * S, &ch);
	assert_int_equal(ch, VG_INC_GREW);
	assert_int_equal(a->steps_dropped, 5);
	for (int i = 20; i < VG_INC_STEPS_MAX + VG_INC_DROPPED_KEYS + 10; i++) {
		snprintf(key, sizeof(key), "s%d", i);
		add(t, "c1", VG_RULE_MOUNT, VG_SEV_HIGH, key, "mount", 2 * S, &ch);
		assert_int_equal(ch, VG_INC_GREW);
	}
	/* the recent ones still fold */
	add(t, "c1", VG_RULE_MOUNT, VG_SEV_HIGH, key, "mount", 2 * S, &ch);
	assert_int_equal(ch, VG_INC_COUNTED);

	/* a full table closes the least recently updated incident */
	add(t, "c2", VG_RULE_OOM, VG_SEV_WARNING, "o", "oom", 3 * S, &ch);
	unsigned before = seen.n;
	add(t, "c3", VG_RULE_OOM, VG_SEV_WARNING, "o", "oom", 4 * S, &ch);
	assert_int_equal(seen.n, before + 1);
	assert_string_equal(seen.last.ctr_key, "c1");
	assert_true(seen.last.closed);
	assert_int_equal(vg_incidents_open(t), 2);

	vg_incidents_flush(t);
	assert_int_equal(vg_incidents_open(t), 0);
	assert_int_equal(seen.n, before + 3);
	vg_incidents_free(&t);
}

/* A step back after a window's silence, in an incident that a lasting
 * state kept open (touches), grows it again: an alert, not a fold. */
static void test_step_back_after_silence(void **state)
{
	struct vg_incidents *t = NULL;
	enum vg_incident_change ch;

	assert_int_equal(vg_incidents_new(4, 0, &t), 0);
	vg_incidents_set_window(t, 60 * S);
	add(t, "c1", VG_RULE_METADATA, VG_SEV_CRITICAL, "meta", "metadata", 100 * S, &ch);
	assert_int_equal(ch, VG_INC_OPENED);
	add(t, "c1", VG_RULE_SPIKE, VG_SEV_HIGH, "cpu", "CPU 100%", 110 * S, &ch);
	assert_int_equal(ch, VG_INC_GREW);
	/* within the window a repeat folds */
	add(t, "c1", VG_RULE_METADATA, VG_SEV_CRITICAL, "meta", "metadata", 150 * S, &ch);
	assert_int_equal(ch, VG_INC_COUNTED);
	/* the spike lasts: touched every 5 s for ten minutes */
	for (uint64_t s = 155; s < 700; s += 5) {
		struct vg_incident_add a = {.ctr_key = "c1", .rule = VG_RULE_SPIKE,
					    .severity = VG_SEV_HIGH, .key = "cpu", .text = "CPU 100%",
					    .touch = true, .now_ns = s * S};
		bool fresh;
		vg_incidents_add(t, &a, &ch, &fresh);
	}
	/* the same step after its own silence: it grows the incident */
	struct vg_incident *b = add(t, "c1", VG_RULE_METADATA, VG_SEV_CRITICAL, "meta",
				    "metadata", 700 * S, &ch);
	assert_int_equal(ch, VG_INC_GREW);
	assert_int_equal(vg_incident_step(b, "meta")->count, 3);
	vg_incidents_free(&t);
}

/* A chain filled with junk steps (a mount per made-up fstype) hides no
 * rule: a rule's first step past the chain always grows the incident, even
 * when a junk step's key matches its hash, and the rule counts as seen. */
static void test_full_chain_hides_no_rule(void **state)
{
	struct vg_incidents *t = NULL;
	enum vg_incident_change ch;
	char key[32];

	assert_int_equal(vg_incidents_new(4, 0, &t), 0);
	for (int i = 0; i < VG_INC_STEPS_MAX; i++) {
		snprintf(key, sizeof(key), "mount:junk%d", i);
		add(t, "c1", VG_RULE_MOUNT, VG_SEV_HIGH, key, "mount", (100 + (uint64_t)i) * S, &ch);
	}
	/* past the chain, a junk step whose key the metadata step will have */
	struct vg_incident *inc = add(t, "c1", VG_RULE_MOUNT, VG_SEV_HIGH, "metadata:x", "mount",
				      200 * S, &ch);
	assert_int_equal(ch, VG_INC_GREW);
	assert_false(vg_incident_has_rule(inc, VG_RULE_MINER));
	add(t, "c1", VG_RULE_MINER, VG_SEV_HIGH, "metadata:x", "miner", 201 * S, &ch);
	assert_int_equal(ch, VG_INC_GREW);
	assert_null(vg_incident_step(inc, "metadata:x"));
	assert_true(vg_incident_has_rule(inc, VG_RULE_MINER));
	/* the same again: a repeat now, folded */
	add(t, "c1", VG_RULE_MINER, VG_SEV_HIGH, "metadata:x", "miner", 202 * S, &ch);
	assert_int_equal(ch, VG_INC_COUNTED);
	/* past the chain as in it: back after a window's silence (other
	 * steps kept the incident open), it grows the incident again */
	vg_incidents_set_window(t, 60 * S);
	for (uint64_t s = 230; s <= 290; s += 30)
		add(t, "c1", VG_RULE_MOUNT, VG_SEV_HIGH, "mount:junk0", "mount", s * S, &ch);
	add(t, "c1", VG_RULE_MINER, VG_SEV_HIGH, "metadata:x", "miner", 300 * S, &ch);
	assert_int_equal(ch, VG_INC_GREW);
	/* nor how grave it is: a critical step past the chain makes the
	 * incident critical (what routes it to a min=critical output) */
	assert_int_equal(inc->severity, VG_SEV_HIGH);
	add(t, "c1", VG_RULE_METADATA, VG_SEV_CRITICAL, "metadata:169.254.169.254:sent",
	    "metadata access", 301 * S, &ch);
	assert_int_equal(ch, VG_INC_GREW);
	assert_int_equal(inc->severity, VG_SEV_CRITICAL);
	vg_incidents_publish(t, inc, ch, NULL);
	assert_int_equal(inc->severity, VG_SEV_CRITICAL);
	vg_incidents_free(&t);
}

static void test_severity_rise_grows(void **state)
{
	struct vg_incidents *t = NULL;
	enum vg_incident_change ch;
	assert_int_equal(vg_incidents_new(2, 0, &t), 0);
	add(t, "c", VG_RULE_SPIKE, VG_SEV_HIGH, "cpu", "CPU", S, &ch);
	struct vg_incident *i = add(t, "c", VG_RULE_SPIKE, VG_SEV_CRITICAL, "cpu", "CPU", 2 * S, &ch);
	assert_int_equal(ch, VG_INC_GREW);
	assert_int_equal(i->severity, VG_SEV_CRITICAL);
	assert_int_equal(i->nsteps, 1);
	vg_incidents_free(&t);
}

/* Two runs a millisecond apart (a crash loop) share no incident id; ids
 * stay below 2^63 this century. */
static void test_id_base(void **state)
{
	const uint64_t t0 = 1796515200ull * S + 123456789; /* 2026-12-06 */
	uint64_t a = vg_incidents_id_base(t0), b = vg_incidents_id_base(t0 + 1000000);

	(void)state;
	assert_true(b > a + 100000);
	assert_true(vg_incidents_id_base(4102444800ull * S) < (1ull << 63)); /* 2100 */

	struct vg_incidents *t1 = NULL, *t2 = NULL;
	enum vg_incident_change ch;
	assert_int_equal(vg_incidents_new(4, a, &t1), 0);
	assert_int_equal(vg_incidents_new(4, b, &t2), 0);
	uint64_t last = add(t1, "c1", VG_RULE_OOM, VG_SEV_WARNING, "o", "oom", S, &ch)->id;
	for (int i = 0; i < 1000; i++) {
		vg_incidents_flush(t1);
		last = add(t1, "c1", VG_RULE_OOM, VG_SEV_WARNING, "o", "oom", S, &ch)->id;
	}
	assert_true(last < add(t2, "c1", VG_RULE_OOM, VG_SEV_WARNING, "o", "oom", S, &ch)->id);
	vg_incidents_free(&t1);
	vg_incidents_free(&t2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_earlier_step),
		cmocka_unit_test(test_window_and_tick),
		cmocka_unit_test(test_step_back_after_silence),
		cmocka_unit_test(test_full_chain_hides_no_rule),
		cmocka_unit_test(test_context_and_limits),
		cmocka_unit_test(test_severity_rise_grows),
		cmocka_unit_test(test_id_base),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
