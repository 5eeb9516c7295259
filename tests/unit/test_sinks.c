// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"

#include "vigil/sinks.h"
#include "vigil/stats.h"

static void test_spec_errors(void **state)
{
	struct vg_sinks *set = NULL;

	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, "kafka:x"), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "unknown output"));
	assert_int_equal(vg_sinks_add(set, "file:"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "file:/tmp/x,size=lots"), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "size=lots"));
	assert_int_equal(vg_sinks_add(set, "file:/tmp/x,colour=red"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "stdout,min=urgent"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "syslog:tcp://127.0.0.1:1,framing=zmodem"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "syslog:ftp://h"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "stdout,queue=12"), -EINVAL);
	/* a file in a missing folder is refused up front */
	assert_int_equal(vg_sinks_add(set, "file:/nonexistent-dir/v.json"), -ENOENT);
	assert_non_null(strstr(vg_sinks_error(set), "/nonexistent-dir/v.json"));
	assert_int_equal(vg_sinks_count(set), 0);
	vg_sinks_free(&set);
	assert_null(set);
}

static void test_file_sink_with_filters(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", spec[256], all[128], alerts[128], buf[1024];
	struct vg_sinks *set = NULL;
	struct vg_stats *st = NULL;
	struct vg_out_meta ev = { .kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO };
	struct vg_out_meta al = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_HIGH };
	struct vg_out_meta lo = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_LOW };
	FILE *f;
	size_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(all, sizeof(all), "%s/all.json", dir);
	snprintf(alerts, sizeof(alerts), "%s/alerts.json", dir);
	assert_int_equal(vg_stats_new(&st), 0);
	assert_int_equal(vg_sinks_new(st, &set), 0);
	snprintf(spec, sizeof(spec), "file:%s", all);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	snprintf(spec, sizeof(spec), "file:%s,alerts,min=medium,size=1M,keep=2", alerts);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	assert_int_equal(vg_sinks_count(set), 2);
	snprintf(spec, sizeof(spec), "file:%s", alerts);
	assert_string_equal(vg_sinks_name(set, 1), spec); /* options are not in the name */

	vg_sinks_emit(set, "{\"e\":1}\n", 8, &ev);
	vg_sinks_emit(set, "{\"a\":2}\n", 8, &al);
	vg_sinks_emit(set, "{\"l\":3}\n", 8, &lo);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);

	f = fopen(all, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, "{\"e\":1}\n{\"a\":2}\n{\"l\":3}\n");
	f = fopen(alerts, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, "{\"a\":2}\n");
	assert_int_equal(atomic_load(&vg_sinks_counters(set, 0)->written), 3);
	assert_int_equal(atomic_load(&vg_sinks_counters(set, 1)->written), 1);

	/* the counters reach the stats record */
	char mem[8192];
	struct vg_buf b;
	vg_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(vg_stats_encode(st, &b, 1, 10), 0);
	assert_non_null(strstr(mem, "\"written\":3"));
	vg_sinks_free(&set);
	vg_stats_free(&st);
	snprintf(buf, sizeof(buf), "rm -rf %s", dir);
	assert_int_equal(system(buf), 0);
}

/* A sink whose destination is down keeps lines queued until its queue is
 * full, then drops (counted) without ever blocking emit. */
static void test_down_sink_drops_when_full(void **state)
{
	struct vg_sinks *set = NULL;
	struct vg_out_meta al = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_HIGH };
	char line[100];
	int dropped = 0;

	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, "syslog:unix:/nonexistent-dir/log,queue=4K"), 0);
	for (int i = 0; i < 100; i++)
		dropped += vg_sinks_emit(set, line, sizeof(line), &al);
	const struct vg_sink_counters *c = vg_sinks_counters(set, 0);
	assert_true(dropped > 0);
	assert_int_equal(atomic_load(&c->queued) + atomic_load(&c->dropped), 100);
	assert_int_equal(atomic_load(&c->written), 0);
	assert_int_equal(atomic_load(&c->up), 0);
	vg_sinks_free(&set);
}

static size_t slurp(const char *file, char *out, size_t cap)
{
	size_t n = file_slurp(file, out, cap);

	assert_true(n != (size_t)-1);
	return n;
}

/*
 * A round of emits to an idle file sink goes straight into its batch: 10 KB
 * through a 4 KB queue, nothing dropped (through the queue, two thirds of
 * it would be).
 */
static void test_round_skips_the_queue(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[128], spec[160], line[100];
	static char buf[16384];
	struct vg_sinks *set = NULL;
	struct vg_out_meta ev = { .kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO };

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.json", dir);
	snprintf(spec, sizeof(spec), "file:%s,queue=4K", path);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	for (int i = 0; i < 100; i++)
		assert_int_equal(vg_sinks_emit(set, line, sizeof(line), &ev), 0);
	vg_sinks_kick(set);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	const struct vg_sink_counters *c = vg_sinks_counters(set, 0);
	assert_int_equal(atomic_load(&c->written), 100);
	assert_int_equal(atomic_load(&c->dropped), 0);
	assert_int_equal(slurp(path, buf, sizeof(buf)), 100 * sizeof(line));
	vg_sinks_free(&set);
	unlink(path);
	rmdir(dir);
}

/*
 * A round too big to write in the emitting thread (200 KB) goes on through
 * the queue part way: every line arrives once, in order.
 */
static void test_big_round_keeps_order(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[128], spec[160], line[80];
	static char buf[512 * 1024];
	struct vg_sinks *set = NULL;
	struct vg_out_meta ev = { .kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO };
	const int n = 3000;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.json", dir);
	snprintf(spec, sizeof(spec), "file:%s", path);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < n; i++) {
			int len = snprintf(line, sizeof(line), "{\"n\":%06d,\"pad\":\"%040d\"}\n",
					   round * n + i, 0);
			assert_int_equal(vg_sinks_emit(set, line, (size_t)len, &ev), 0);
		}
		vg_sinks_kick(set);
	}
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	assert_int_equal(atomic_load(&vg_sinks_counters(set, 0)->written), 2 * n);
	slurp(path, buf, sizeof(buf));
	const char *p = buf;
	for (int i = 0; i < 2 * n; i++) {
		int got = -1;
		assert_int_equal(sscanf(p, "{\"n\":%d,", &got), 1);
		assert_int_equal(got, i);
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	assert_int_equal(*p, '\0');
	vg_sinks_free(&set);
	unlink(path);
	rmdir(dir);
}

/*
 * A round far larger than a file sink's queue (2000 lines of 100 bytes
 * through 4 KiB, no kick until the end): the emitting thread waits for
 * room instead of dropping, and every line is written, in order.
 */
static void test_file_sink_holds_a_burst(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[128], spec[160], line[128];
	static char buf[256 * 1024];
	struct vg_sinks *set = NULL;
	struct vg_out_meta ev = {.kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO};
	const int n = 2000;
	int dropped = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.json", dir);
	snprintf(spec, sizeof(spec), "file:%s,queue=4K", path);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	for (int i = 0; i < n; i++) {
		int len = snprintf(line, sizeof(line), "{\"n\":%06d,\"pad\":\"%078d\"}\n", i, 0);
		dropped += vg_sinks_emit(set, line, (size_t)len, &ev);
	}
	vg_sinks_kick(set);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	const struct vg_sink_counters *c = vg_sinks_counters(set, 0);
	assert_int_equal(dropped, 0);
	assert_int_equal(atomic_load(&c->dropped), 0);
	assert_int_equal(atomic_load(&c->written), n);
	assert_int_equal(slurp(path, buf, sizeof(buf)), (size_t)n * 100);
	for (int i = 0; i < n; i++) {
		int got = -1;
		assert_int_equal(sscanf(buf + (size_t)i * 100, "{\"n\":%d,", &got), 1);
		assert_int_equal(got, i);
	}
	vg_sinks_free(&set);
	unlink(path);
	rmdir(dir);
}

/* An idle sink's thread sleeps until there is something to do, and a sink
 * that is down sleeps out its backoff: no timer wakes them (a 50 ms tick
 * would show as about six wakeups a thread here). */
static void test_idle_sink_sleeps(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[128], spec[160];
	struct vg_sinks *set = NULL;
	struct timespec ts = {.tv_nsec = 300 * 1000000L};

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.json", dir);
	snprintf(spec, sizeof(spec), "file:%s", path);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, "syslog:unix:/nonexistent-dir/log"), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	nanosleep(&ts, NULL); /* the threads reach their wait */
	long before = fixture_other_threads_switches();
	nanosleep(&ts, NULL);
	long woke = fixture_other_threads_switches() - before;
	vg_sinks_free(&set);
	unlink(path);
	rmdir(dir);
	/* the syslog sink that is down retries on its backoff alone (100,
	 * 200, 400 ms: one retry in this window), not every 50 ms */
	assert_true(woke <= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_file_sink_with_filters),
		cmocka_unit_test(test_down_sink_drops_when_full),
		cmocka_unit_test(test_round_skips_the_queue),
		cmocka_unit_test(test_big_round_keeps_order),
		cmocka_unit_test(test_file_sink_holds_a_burst),
		cmocka_unit_test(test_idle_sink_sleeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
