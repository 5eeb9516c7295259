// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/jsonp.h"
#include "vigil/stats.h"

static uint64_t forty_two(void *ctx)
{
	return *(uint64_t *)ctx;
}

static int64_t num_at(struct vg_jdoc *d, const char *path)
{
	int64_t v = -1;
	int i = vg_jsonp_path(d, 0, path);

	assert_true(i >= 0);
	assert_int_equal(vg_jsonp_i64(d, i, &v), 0);
	return v;
}

static void test_record_is_json_with_counts(void **state)
{
	struct vg_stats *st = NULL;
	struct vg_sink_counters sc = { 0 };
	struct vg_tail_counters tc = { 0 };
	static char mem[16384];
	struct vg_buf b;
	struct vg_jdoc d;
	struct vg_jtok toks[512];
	uint64_t extra = 42;

	assert_int_equal(vg_stats_new(&st), 0);
	vg_stats_event(st, VG_EV_EXEC);
	vg_stats_event(st, VG_EV_EXEC);
	vg_stats_event(st, VG_EV_CONNECT);
	vg_stats_event(st, 999); /* out of range: counted as invalid, not a crash */
	vg_stats_set_rb_drops(st, VG_EV_EXEC, 7);
	vg_stats_set_rb_drops(st, VG_EV_OOM, 1);
	vg_stats_decode_error(st);
	vg_stats_record(st, VG_OUT_ALERT);
	int id = vg_stats_rule(st, "shell_in_service_container");
	assert_true(id >= 0);
	assert_int_equal(vg_stats_rule(st, "shell_in_service_container"), id);
	vg_stats_rule_hit(st, id);
	vg_stats_rule_hit_name(st, "shell_in_service_container");
	vg_stats_rule_hit(st, 63); /* not registered: ignored */
	atomic_store(&sc.queued, 10);
	atomic_store(&sc.written, 8);
	atomic_store(&sc.dropped, 2);
	atomic_store(&sc.up, 1);
	assert_int_equal(vg_stats_add_sink(st, "file:/var/log/\"odd\".json", &sc), 0);
	atomic_store(&tc.clients, 2);
	atomic_store(&tc.cut_off, 1);
	atomic_store(&tc.lost, 5);
	atomic_store(&tc.dropped, 6);
	vg_stats_set_tail(st, &tc);
	assert_int_equal(vg_stats_add_counter(st, "proc_evictions", "Evicted.", forty_two, &extra), 0);
	assert_int_equal(vg_stats_add_value(st, "cache_entries", "Entries.", forty_two, &extra), 0);
	assert_int_equal(vg_stats_add_value(st, "Bad Name", NULL, forty_two, &extra), -EINVAL);

	vg_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(vg_stats_encode(st, &b, 1796392343123456789ull, 30), 0);
	assert_int_equal(mem[b.len - 1], '\n');
	assert_int_equal(vg_jsonp_parse(&d, mem, b.len - 1, toks, 512), 0);
	assert_true(vg_jsonp_eq(&d, vg_jsonp_path(&d, 0, "event.kind"), "metric"));
	assert_true(vg_jsonp_eq(&d, vg_jsonp_path(&d, 0, "@timestamp"),
				"2026-12-04T13:52:23.123456789Z"));
	assert_int_equal(num_at(&d, "vigil.stats.interval_s"), 30);
	assert_int_equal(num_at(&d, "vigil.stats.events.exec"), 2);
	assert_int_equal(num_at(&d, "vigil.stats.events.connect"), 1);
	assert_int_equal(num_at(&d, "vigil.stats.events_total"), 4);
	assert_int_equal(num_at(&d, "vigil.stats.ringbuf_drops.exec"), 7);
	assert_int_equal(num_at(&d, "vigil.stats.ringbuf_drops_total"), 8);
	assert_int_equal(num_at(&d, "vigil.stats.decode_errors"), 1);
	assert_int_equal(num_at(&d, "vigil.stats.records.alert"), 1);
	assert_int_equal(num_at(&d, "vigil.stats.tail.clients"), 2);
	assert_int_equal(num_at(&d, "vigil.stats.tail.cut_off"), 1);
	assert_int_equal(num_at(&d, "vigil.stats.tail.lost"), 5);
	assert_int_equal(num_at(&d, "vigil.stats.tail.dropped"), 6);
	assert_int_equal(num_at(&d, "vigil.stats.extra.proc_evictions"), 42);
	assert_int_equal(num_at(&d, "vigil.stats.extra.cache_entries"), 42);
	assert_true(num_at(&d, "vigil.stats.agent.rss_bytes") > 0);
	int sinks = vg_jsonp_path(&d, 0, "vigil.stats.sinks");
	assert_int_equal(vg_jsonp_count(&d, sinks), 1);
	int s0 = vg_jsonp_first(&d, sinks);
	assert_true(vg_jsonp_eq(&d, vg_jsonp_get(&d, s0, "name"), "file:/var/log/\"odd\".json"));
	int rules = vg_jsonp_path(&d, 0, "vigil.stats.rules");
	int r0 = vg_jsonp_first(&d, rules);
	int64_t hits = 0;
	assert_int_equal(vg_jsonp_i64(&d, vg_jsonp_get(&d, r0, "hits"), &hits), 0);
	assert_int_equal(hits, 2);

	/* the same numbers on the Prometheus page */
	vg_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(vg_stats_prometheus(st, &b), 0);
	assert_non_null(strstr(mem, "# TYPE vigil_events_total counter\n"));
	assert_non_null(strstr(mem, "\nvigil_events_total{type=\"exec\"} 2\n"));
	assert_non_null(strstr(mem, "\nvigil_ringbuf_drops_total{type=\"exec\"} 7\n"));
	assert_non_null(strstr(mem, "\nvigil_rule_hits_total{rule=\"shell_in_service_container\"} 2\n"));
	assert_non_null(strstr(mem, "\nvigil_sink_dropped_total{sink=\"file:/var/log/\\\"odd\\\".json\"} 2\n"));
	assert_non_null(strstr(mem, "\nvigil_tail_cut_off_total 1\n"));
	assert_non_null(strstr(mem, "\nvigil_tail_lost_total 5\n"));
	assert_non_null(strstr(mem, "\nvigil_tail_dropped_total 6\n"));
	/* a count that only grows is a counter named _total; a value a gauge */
	assert_non_null(strstr(mem, "# TYPE vigil_proc_evictions_total counter\n"));
	assert_non_null(strstr(mem, "\nvigil_proc_evictions_total 42\n"));
	assert_non_null(strstr(mem, "# TYPE vigil_cache_entries gauge\n"));
	assert_non_null(strstr(mem, "\nvigil_cache_entries 42\n"));
	assert_non_null(strstr(mem, "\nvigil_cpu_seconds_total{mode=\"user\"} "));
	/*
	 * every non-comment line is "name[{labels}] value" of the family
	 * typed last; a family is a counter exactly when its name ends in
	 * _total (a gauge otherwise)
	 */
	char family[128] = "";
	unsigned counters = 0, gauges = 0;
	for (char *line = mem; *line;) {
		char *nl = strchr(line, '\n');
		char type[16];
		assert_non_null(nl);
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(sscanf(line, "# TYPE %127s %15s", family, type), 2);
			size_t fl = strlen(family);
			bool total = fl > 6 && !strcmp(family + fl - 6, "_total");
			if (!strcmp(type, "counter")) {
				assert_true(total);
				counters++;
			} else {
				assert_string_equal(type, "gauge");
				assert_false(total);
				gauges++;
			}
		} else if (*line != '#') {
			char *sp = memchr(line, ' ', (size_t)(nl - line));
			size_t fl = strlen(family);
			assert_non_null(sp);
			assert_memory_equal(line, "vigil_", 6);
			assert_true(fl > 0 && !strncmp(line, family, fl) &&
				    (line[fl] == ' ' || line[fl] == '{'));
		}
		line = nl + 1;
	}
	assert_true(counters > 0);
	assert_true(gauges > 0);
	vg_stats_free(&st);
	assert_null(st);
}

static void test_overflow_reported(void **state)
{
	struct vg_stats *st = NULL;
	char mem[64];
	struct vg_buf b;

	assert_int_equal(vg_stats_new(&st), 0);
	vg_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(vg_stats_encode(st, &b, 0, 10), -ENOSPC);
	vg_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(vg_stats_prometheus(st, &b), -ENOSPC);
	vg_stats_free(&st);
}

static void test_rule_table_bounded(void **state)
{
	struct vg_stats *st = NULL;
	char name[32];

	assert_int_equal(vg_stats_new(&st), 0);
	for (int i = 0; i < VG_STATS_RULES_MAX; i++) {
		snprintf(name, sizeof(name), "rule_%d", i);
		assert_int_equal(vg_stats_rule(st, name), i);
	}
	assert_int_equal(vg_stats_rule(st, "one_too_many"), -ENOSPC);
	vg_stats_rule_hit_name(st, "one_too_many"); /* harmless */
	assert_int_equal(vg_stats_rule(st, ""), -EINVAL);
	vg_stats_free(&st);
}

/* two outputs to one place (other options after the comma) get label sets
 * of their own: Prometheus would keep one of two equal series */
static void test_sink_names_unique(void **state)
{
	(void)state;
	struct vg_sink_counters a = { 0 }, c = { 0 };
	struct vg_stats *st = NULL;
	static char mem[65536];
	struct vg_buf b;

	assert_int_equal(vg_stats_new(&st), 0);
	atomic_store(&a.written, 3);
	atomic_store(&c.written, 4);
	assert_int_equal(vg_stats_add_sink(st, "syslog:udp://10.0.0.5", &a), 0);
	assert_int_equal(vg_stats_add_sink(st, "syslog:udp://10.0.0.5", &c), 0);
	vg_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(vg_stats_prometheus(st, &b), 0);
	assert_non_null(strstr(mem, "\nvigil_sink_written_total{sink=\"syslog:udp://10.0.0.5\"} 3\n"));
	assert_non_null(strstr(mem, "\nvigil_sink_written_total{sink=\"syslog:udp://10.0.0.5#2\"} 4\n"));
	vg_stats_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_is_json_with_counts),
		cmocka_unit_test(test_overflow_reported),
		cmocka_unit_test(test_rule_table_bounded),
		cmocka_unit_test(test_sink_names_unique),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
