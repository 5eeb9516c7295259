/* alert: alert and incident lines are valid JSON, without duplicate keys,
 * with the event's fields and the alert's merged into one schema. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/alert.h"
#include "vigil/jsonp.h"

#define S 1000000000ull

static struct vg_jtok toks[2048];

static void parse(struct vg_jdoc *d, const char *line, size_t len)
{
	assert_true(len > 0 && line[len - 1] == '\n');
	assert_int_equal(vg_jsonp_parse(d, line, len - 1, toks, 2048), 0);
	/* no object may hold a key twice */
	for (unsigned i = 0; i < d->ntok; i++) {
		if (!(toks[i].flags & VG_JF_KEY))
			continue;
		for (unsigned j = i + 1; j < d->ntok; j++)
			if ((toks[j].flags & VG_JF_KEY) && toks[j].parent == toks[i].parent &&
			    toks[j].len == toks[i].len &&
			    !memcmp(line + toks[j].start, line + toks[i].start, toks[i].len)) {
				print_error("duplicate key %.*s\n", (int)toks[i].len, line + toks[i].start);
				fail();
			}
	}
}

static void want_str(const struct vg_jdoc *d, const char *path, const char *want)
{
	char got[1024];
	int i = vg_jsonp_path(d, 0, path);
	if (i < 0) {
		print_error("missing %s\n", path);
		fail();
	}
	assert_true(vg_jsonp_str(d, i, got, sizeof(got), -1, NULL) >= 0);
	if (strcmp(got, want)) {
		print_error("%s: \"%s\" != \"%s\"\n", path, got, want);
		fail();
	}
}

static int64_t num(const struct vg_jdoc *d, const char *path)
{
	int64_t v = -1;
	int i = vg_jsonp_path(d, 0, path);
	assert_true(i >= 0);
	assert_int_equal(vg_jsonp_i64(d, i, &v), 0);
	return v;
}

struct cap {
	unsigned n;
	char line[4][16384];
	size_t len[4];
};

static void on_alert(const struct vg_alert *a, void *ctx)
{
	struct cap *c = ctx;
	struct vg_buf b;
	if (c->n >= 4)
		return;
	vg_buf_init(&b, c->line[c->n], sizeof(c->line[c->n]));
	assert_int_equal(vg_alert_encode(&b, a), 0);
	c->len[c->n++] = b.len;
}

static struct vg_container ctr = {
	.cg = {.runtime = VG_RT_DOCKER, .id = "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef"},
	.name = "redis \"prod\"",
	.image = "redis:7",
	.cmd = "redis-server",
};
static struct vg_proc parent = {.tgid = 100, .comm = "redis-server", .args = "redis-server *:6379"};
static struct vg_proc proc = {.tgid = 150, .comm = "wget", .args = "wget -q -O- http://169.254.169.254/"};

static void test_connect_alert(void **state)
{
	struct vg_rules *r = NULL;
	struct cap cap = {0};
	struct vg_connect c = {
		.hdr = {.type = VG_EV_CONNECT, .size = sizeof(c), .ts_ns = 5 * S, .tgid = 150,
			.ptgid = 100, .comm = "wget"},
		.family = 2, .port = 80, .proto = 6, .source = VG_CONN_SRC_SYSCALL,
		.cflags = VG_CONN_RESULT_KNOWN, .result = -101, .addr = {169, 254, 169, 254},
	};
	struct vg_ev ev = {.rec = {.hdr = &c.hdr, .type = VG_EV_CONNECT, .connect = &c},
			   .wall_ns = 1700000000 * S, .proc = &proc, .ctr = &ctr,
			   .ancestors = {&parent}, .nancestors = 1, .ctr_init = &parent};
	struct vg_jdoc d;

	assert_int_equal(vg_rules_new(NULL, 41, &r), 0);
	vg_rules_eval(r, &ev, on_alert, &cap);
	assert_int_equal(cap.n, 1);
	parse(&d, cap.line[0], cap.len[0]);
	want_str(&d, "event.kind", "alert");
	assert_int_equal(num(&d, "event.severity"), 99);
	want_str(&d, "vigil.severity", "critical");
	want_str(&d, "vigil.incident.id", "42");
	want_str(&d, "rule.name", "metadata_service_access");
	want_str(&d, "threat.framework", "MITRE ATT&CK");
	want_str(&d, "threat.technique.id", "T1552.005");
	want_str(&d, "threat.technique.reference", "https://attack.mitre.org/techniques/T1552/005/");
	want_str(&d, "threat.tactic.name", "Credential Access");
	want_str(&d, "vigil.alert.step", "metadata access 169.254.169.254 (failed)");
	assert_int_equal(vg_jsonp_type(&d, vg_jsonp_path(&d, 0, "vigil.alert.failed")), VG_J_TRUE);
	/* the event's own fields are all there */
	want_str(&d, "container.name", "redis \"prod\"");
	want_str(&d, "destination.ip", "169.254.169.254");
	assert_int_equal(num(&d, "destination.port"), 80);
	want_str(&d, "process.name", "wget");
	want_str(&d, "vigil.scope", "container");
	/* and the message is the alert's */
	int m = vg_jsonp_path(&d, 0, "message");
	char msg[1024];
	vg_jsonp_str(&d, m, msg, sizeof(msg), -1, NULL);
	assert_non_null(strstr(msg, "connect to metadata service 169.254.169.254:80/tcp failed"));
	vg_rules_free(&r);
}

/* command lines of nothing but control bytes (six bytes each, escaped):
 * the alert line is still one valid JSON document */
static void test_hostile_command_lines(void **state)
{
	struct vg_rules *r = NULL;
	struct cap cap = {0};
	struct vg_proc hp = parent, hc = proc;
	struct vg_connect c = {
		.hdr = {.type = VG_EV_CONNECT, .size = sizeof(c), .ts_ns = 5 * S, .tgid = 150,
			.ptgid = 100, .comm = "wget"},
		.family = 2, .port = 80, .proto = 6, .source = VG_CONN_SRC_CGROUP,
		.addr = {169, 254, 169, 254},
	};
	struct vg_ev ev = {.rec = {.hdr = &c.hdr, .type = VG_EV_CONNECT, .connect = &c},
			   .wall_ns = 1700000000 * S, .proc = &hc, .ctr = &ctr,
			   .ancestors = {&hp}, .nancestors = 1, .ctr_init = &hp};
	struct vg_jdoc d;
	char msg[4096];

	memset(hp.args, 1, 250);
	hp.args[250] = '\0';
	memset(hc.args, 1, 250);
	hc.args[250] = '\0';
	assert_int_equal(vg_rules_new(NULL, 41, &r), 0);
	vg_rules_eval(r, &ev, on_alert, &cap);
	assert_int_equal(cap.n, 1);
	parse(&d, cap.line[0], cap.len[0]);
	assert_true(vg_jsonp_str(&d, vg_jsonp_path(&d, 0, "message"), msg, sizeof(msg), -1, NULL) >
		    400);
	assert_non_null(strstr(msg, "connect to metadata service 169.254.169.254:80/tcp"));

	/* one byte short of the whole line: the alert in brief, never lost */
	static char small[16384];
	struct vg_alert a = {.rule = vg_rule_def(VG_RULE_METADATA), .severity = VG_SEV_CRITICAL,
			     .ev = &ev, .ctr = &ctr, .wall_ns = ev.wall_ns, .count = 1};
	struct vg_buf b;
	memset(a.detail, 1, 500);
	vg_buf_init(&b, small, sizeof(small));
	assert_int_equal(vg_alert_encode(&b, &a), 0);
	size_t whole = b.len;
	assert_non_null(memmem(small, whole, "\"command_line\"", 14));
	vg_buf_init(&b, small, whole - 1);
	assert_int_equal(vg_alert_encode(&b, &a), 0);
	parse(&d, small, b.len);
	assert_true(b.len < whole);
	assert_null(memmem(small, b.len, "\"command_line\"", 14));
	assert_int_equal(num(&d, "process.pid"), 150);
	want_str(&d, "process.name", "wget");
	want_str(&d, "event.dataset", "connect");
	want_str(&d, "rule.name", "metadata_service_access");
	want_str(&d, "container.name", "redis \"prod\"");
	assert_true(vg_jsonp_str(&d, vg_jsonp_path(&d, 0, "message"), msg, sizeof(msg), -1, NULL) ==
		    500);
	vg_rules_free(&r);
}

static void test_sample_alert_and_incident(void **state)
{
	struct vg_config *cfg;
	struct vg_rules *r = NULL;
	struct cap cap = {0};
	struct vg_jdoc d;
	assert_int_equal(vg_config_new_default(&cfg), 0);
	assert_int_equal(vg_rules_new(&cfg, 0, &r), 0);

	struct vg_cg_sample s = {.have = VG_SMP_MEM | VG_SMP_MEMMAX, .mem_current = 95,
				 .mem_working = 95, .mem_max = 100};
	vg_rules_sample(r, &ctr, &s, 10 * S, 1700000010 * S, on_alert, &cap);
	assert_int_equal(cap.n, 1);
	parse(&d, cap.line[0], cap.len[0]);
	want_str(&d, "event.kind", "alert");
	want_str(&d, "rule.name", "miner_resource_spike");
	want_str(&d, "threat.technique.id", "T1496");
	assert_int_equal(num(&d, "event.severity"), 73);
	want_str(&d, "container.id", ctr.cg.id);
	want_str(&d, "container.image.name", "redis:7");
	want_str(&d, "vigil.alert.step", "memory 95% of limit");
	assert_int_equal(num(&d, "vigil.sample.memory_limit_bytes"), 100);
	want_str(&d, "@timestamp", "2023-11-14T22:13:30.000000000Z");

	const struct vg_incident *inc = vg_incidents_find(vg_rules_incidents(r), ctr.cg.id, 10 * S);
	assert_non_null(inc);
	char line[16384];
	struct vg_buf b;
	vg_buf_init(&b, line, sizeof(line));
	assert_int_equal(vg_incident_encode(&b, inc, &ctr), 0);
	parse(&d, line, b.len);
	want_str(&d, "event.kind", "alert");
	want_str(&d, "event.action", "incident");
	want_str(&d, "vigil.incident.chain", "memory 95% of limit");
	want_str(&d, "vigil.incident.state", "open");
	want_str(&d, "vigil.incident.id", "1");
	want_str(&d, "vigil.severity", "high");
	want_str(&d, "container.name", "redis \"prod\"");
	want_str(&d, "message", "incident 1: memory 95% of limit");
	int steps = vg_jsonp_path(&d, 0, "vigil.incident.steps");
	assert_int_equal(vg_jsonp_count(&d, steps), 1);

	/* too small a buffer is said, not written half */
	char small[64];
	vg_buf_init(&b, small, sizeof(small));
	assert_int_equal(vg_incident_encode(&b, inc, NULL), -ENOSPC);
	vg_rules_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_alert),
		cmocka_unit_test(test_hostile_command_lines),
		cmocka_unit_test(test_sample_alert_and_incident),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
