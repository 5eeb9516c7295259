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
#include <unistd.h>

#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_file_sink_with_filters),
		cmocka_unit_test(test_down_sink_drops_when_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
