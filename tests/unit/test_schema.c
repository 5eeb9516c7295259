// SPDX-License-Identifier: GPL-2.0
/*
 * The JSON Schema (schema/vigil.schema.json) against the real encoders:
 * one record of every kind and event type is written to a file and
 * checked with tools/check-schema (python3-jsonschema); then records the
 * schema must refuse are checked to be refused.  Skipped when python3 or
 * jsonschema is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/alert.h"
#include "vigil/config.h"
#include "vigil/encode.h"
#include "vigil/posture.h"
#include "vigil/rules.h"
#include "vigil/sampler.h"
#include "vigil/stats.h"

#define S 1000000000ull

static struct vg_container ctr = {
	.cg = {.runtime = VG_RT_DOCKER,
	       .id = "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef"},
	.name = "redis \"prod\"",
	.image = "redis:7",
	.cmd = "redis-server",
	.enrich = VG_ENRICH_DONE,
	.privileged = true,
	.nlabels = 1,
	.labels = {{"app\x1b", "x"}},
};
static struct vg_proc parent = {.tgid = 100,
				.comm = "redis-server",
				.args = "redis-server *:6379",
				.exe = "/usr/bin/redis-server"};
static struct vg_proc proc = {.tgid = 150, .comm = "sh", .args = "sh -c id"};
static FILE *out;
static unsigned nalerts;

static void on_alert(const struct vg_alert *a, void *ctx)
{
	static char line[65536];
	struct vg_buf b;

	vg_buf_init(&b, line, sizeof(line));
	assert_int_equal(vg_alert_encode(&b, a), 0);
	fwrite(line, 1, b.len, out);
	if (b.len && line[b.len - 1] != '\n')
		fputc('\n', out);
	nalerts++;
}
static void ev_line(struct vg_ev *ev, struct vg_rules *r)
{
	static char line[65536];
	struct vg_buf b;
	/* both details: compact (the default) and full */
	vg_buf_init(&b, line, sizeof(line));
	assert_int_equal(vg_encode_event(&b, ev, VG_DETAIL_COMPACT), 0);
	fwrite(line, 1, b.len, out);
	vg_buf_init(&b, line, sizeof(line));
	assert_int_equal(vg_encode_event(&b, ev, VG_DETAIL_FULL), 0);
	fwrite(line, 1, b.len, out);
	if (r)
		vg_rules_eval(r, ev, on_alert, NULL);
}
/* One record of every kind and event type, from the real encoders. */
static void write_samples(FILE *f)
{
	out = f;
	struct vg_encode_host h = {.hostname = "node1"};
	vg_encode_set_host(&h);
	struct vg_config *cfg;
	vg_config_new_default(&cfg);
	struct vg_rules *r = NULL;
	vg_rules_new(&cfg, 0, &r);
	struct {
		struct vg_exec e;
	} x = {0};
	const char fn[] = "/bin/sh", args[] = "sh\0-c\0id\0";
	x.e.hdr = (struct vg_hdr){
		.type = VG_EV_EXEC, .ts_ns = 1 * S, .tgid = 150, .ptgid = 100, .comm = "sh"};
	x.e.argc = 3;
	x.e.filename_len = sizeof(fn);
	x.e.args_len = sizeof(args) - 1;
	memcpy(x.e.data, fn, sizeof(fn));
	memcpy(x.e.data + sizeof(fn), args, sizeof(args) - 1);
	x.e.hdr.size = (uint16_t)(offsetof(struct vg_exec, data) + sizeof(fn) + sizeof(args) - 1);
	struct vg_ev ev = {.rec = {.hdr = &x.e.hdr,
				   .type = VG_EV_EXEC,
				   .exec = {.raw = &x.e,
					    .filename = x.e.data,
					    .args = x.e.data + sizeof(fn),
					    .args_len = sizeof(args) - 1,
					    .argc = 3}},
			   .wall_ns = 1700000000 * S,
			   .proc = &proc,
			   .ctr = &ctr,
			   .ancestors = {&parent},
			   .nancestors = 1,
			   .ctr_init = &parent};
	ev_line(&ev, r);
	struct vg_fork fk = {.hdr = {.type = VG_EV_FORK,
				     .size = sizeof(fk),
				     .tgid = 151,
				     .ptgid = 150,
				     .comm = "sh"}};
	ev.rec = (struct vg_rec){.hdr = &fk.hdr, .type = VG_EV_FORK, .fork = &fk};
	ev_line(&ev, NULL);
	struct vg_exit xt = {.hdr = {.type = VG_EV_EXIT,
				     .size = sizeof(xt),
				     .tgid = 151,
				     .ptgid = 150,
				     .comm = "sh"},
			     .exit_code = 256};
	ev.rec = (struct vg_rec){.hdr = &xt.hdr, .type = VG_EV_EXIT, .exit = &xt};
	ev_line(&ev, NULL);
	struct vg_connect c = {.hdr = {.type = VG_EV_CONNECT,
				       .size = sizeof(c),
				       .ts_ns = 5 * S,
				       .tgid = 150,
				       .ptgid = 100,
				       .comm = "wget"},
			       .family = 2,
			       .port = 80,
			       .proto = 6,
			       .source = VG_CONN_SRC_SYSCALL,
			       .cflags = VG_CONN_RESULT_KNOWN,
			       .result = -101,
			       .addr = {169, 254, 169, 254}};
	ev.rec = (struct vg_rec){.hdr = &c.hdr, .type = VG_EV_CONNECT, .connect = &c};
	ev_line(&ev, r);
	struct vg_connect c6 = c;
	c6.family = 10;
	c6.cflags = 0;
	c6.source = VG_CONN_SRC_CGROUP;
	memset(c6.addr, 0, 16);
	c6.addr[15] = 1;
	ev.rec = (struct vg_rec){.hdr = &c6.hdr, .type = VG_EV_CONNECT, .connect = &c6};
	ev_line(&ev, NULL);
	struct vg_mount m = {.hdr = {.type = VG_EV_MOUNT,
				     .size = sizeof(m),
				     .ts_ns = 6 * S,
				     .tgid = 150,
				     .ptgid = 100,
				     .comm = "mount"},
			     .op = VG_MNT_MOUNT,
			     .result = -13,
			     .source = "proc",
			     .target = "/mnt",
			     .fstype = "proc"};
	ev.rec = (struct vg_rec){.hdr = &m.hdr, .type = VG_EV_MOUNT, .mount = &m};
	ev_line(&ev, r);
	struct vg_oom o = {.hdr = {.type = VG_EV_OOM,
				   .size = sizeof(o),
				   .ts_ns = 7 * S,
				   .tgid = 150,
				   .comm = "stress",
				   .flags = VG_HF_NO_TASK},
			   .trigger_tgid = 99,
			   .rss_kb = 32000,
			   .trigger_comm = "stress"};
	ev.rec = (struct vg_rec){.hdr = &o.hdr, .type = VG_EV_OOM, .oom = &o};
	ev.nancestors = 0;
	ev_line(&ev, r);
	struct vg_cg_sample s = {.have = VG_SMP_MEM | VG_SMP_MEMMAX,
				 .mem_current = 95,
				 .mem_working = 95,
				 .mem_max = 100};
	vg_rules_sample(r, &ctr, &s, 10 * S, 1700000010 * S, on_alert, NULL);
	const struct vg_incident *inc = vg_incidents_find(vg_rules_incidents(r), ctr.cg.id, 10 * S);
	static char line[65536];
	struct vg_buf b;
	assert_non_null(inc);
	vg_buf_init(&b, line, sizeof(line));
	assert_int_equal(vg_incident_encode(&b, inc, &ctr), 0);
	fwrite(line, 1, b.len, out);
	if (line[b.len - 1] != '\n')
		fputc('\n', out);
	struct vg_posture_cfg pc;
	vg_posture_cfg_default(&pc);
	vg_posture_write_json(out, &pc, &ctr, 0, 1700000000 * S);
	vg_posture_write_json(out, &pc, &ctr, -2, 1700000000 * S);
	struct vg_stats *st;
	vg_stats_new(&st);
	vg_stats_event(st, 1);
	vg_stats_rule_hit_name(st, "oom_kill");
	struct vg_sink_counters sc = {0};
	vg_stats_add_sink(st, "stdout", &sc);
	struct vg_tail_counters tc = {0};
	vg_stats_set_tail(st, &tc);
	vg_buf_init(&b, line, sizeof(line));
	assert_int_equal(vg_stats_encode(st, &b, 1700000000 * S, 10), 0);
	fwrite(line, 1, b.len, out);
	vg_stats_free(&st);
	vg_rules_free(&r);
	assert_true(nalerts >= 4);
}

/* tools/check-schema next to this file's tests/unit folder */
static const char *checker(void)
{
	static char path[512];
	const char *slash = strrchr(__FILE__, '/');
	size_t n = slash ? (size_t)(slash - __FILE__) : 0;

	snprintf(path, sizeof(path), "%.*s%s../../tools/check-schema", (int)n, __FILE__,
		 n ? "/" : "");
	return path;
}

static int check(const char *file)
{
	char cmd[1200];
	int rc;

	snprintf(cmd, sizeof(cmd), "python3 %s %s >/dev/null 2>&1", checker(), file);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int have_jsonschema(void **state)
{
	if (system("python3 -c 'import jsonschema' >/dev/null 2>&1") != 0)
		skip();
	return 0;
}

static void test_every_record_kind_valid(void **state)
{
	char path[] = "/tmp/vg-schema-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	have_jsonschema(state);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	write_samples(f);
	fclose(f);
	assert_int_equal(check(path), 0);
	unlink(path);
}

static void test_bad_records_refused(void **state)
{
	static const char *const bad[] = {
		/* unknown event.kind */
		"{\"@timestamp\":\"2026-12-04T13:52:23.1Z\",\"event\":{\"kind\":\"gossip\","
		"\"module\":\"vigil\",\"dataset\":\"x\"},\"message\":\"m\"}",
		/* timestamp not RFC 3339 UTC */
		"{\"@timestamp\":\"yesterday\",\"event\":{\"kind\":\"metric\",\"module\":\"vigil\","
		"\"dataset\":\"vigil.stats\"},\"message\":\"m\",\"vigil\":{}}",
		/* an alert without its rule */
		"{\"@timestamp\":\"2026-12-04T13:52:23Z\",\"event\":{\"kind\":\"alert\",\"module\":"
		"\"vigil\",\"dataset\":\"exec\",\"action\":\"exec\",\"severity\":99,\"code\":\"x\"}"
		","
		"\"message\":\"m\",\"vigil\":{\"severity\":\"critical\",\"incident\":{\"id\":\"1\"}"
		","
		"\"alert\":{\"step\":\"s\",\"count\":1}}}",
		/* an unknown top-level field */
		"{\"@timestamp\":\"2026-12-04T13:52:23Z\",\"event\":{\"kind\":\"metric\","
		"\"module\":"
		"\"vigil\",\"dataset\":\"vigil.stats\"},\"message\":\"m\",\"secret\":1}",
		/* not JSON */
		"{\"@timestamp\":",
	};

	have_jsonschema(state);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[] = "/tmp/vg-schema-XXXXXX";
		int fd = mkstemp(path);
		FILE *f = fdopen(fd, "w");

		fprintf(f, "%s\n", bad[i]);
		fclose(f);
		assert_int_equal(check(path), 1);
		unlink(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_record_kind_valid),
		cmocka_unit_test(test_bad_records_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
