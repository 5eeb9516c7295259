/* config: defaults, the YAML schema, and errors with file:line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/posture.h"
#include "vigil/rules.h"

#define FIX "tests/unit/fixtures/config/"

static void test_defaults(void **state)
{
	struct vg_config *c = NULL;
	assert_int_equal(vg_config_new_default(&c), 0);
	for (int i = 0; i < VG_RULE__MAX; i++) {
		assert_true(c->rule[i].enabled);
		assert_int_equal(c->rule[i].severity, VG_SEV_DEFAULT);
		assert_false(c->rule[i].host);
	}
	assert_false(c->host_processes);
	assert_false(c->syscall_results);
	assert_int_equal(c->priority_boost, 4);
	assert_int_equal(c->incident_window_ns, 600ull * 1000000000ull);
	assert_int_equal(c->cpu_percent, 90);
	assert_int_equal(c->cpu_window_ns, 30ull * 1000000000ull);
	assert_int_equal(c->mem_percent, 90);
	assert_int_equal(c->nmeta_addrs, 6);
	assert_true(vg_strlist_has(&c->shells, "bash"));
	assert_true(vg_strlist_match(&c->runtimes, "runc:[2:INIT]"));
	assert_true(vg_strlist_match(&c->miner_names, "xmrig-6.21"));
	int found = 0;
	for (unsigned i = 0; i < c->nstratum_ports; i++)
		found += c->stratum_ports[i] == 3333 || c->stratum_ports[i] == 45700;
	assert_int_equal(found, 2);
	vg_config_free(&c);
	assert_null(c);
}

static void test_good_file(void **state)
{
	struct vg_config *c = NULL;
	char err[256] = "";
	int rc = vg_config_load(FIX "good.yaml", &c, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
	assert_string_equal(c->path, FIX "good.yaml");
	assert_int_equal(c->incident_window_ns, 300ull * 1000000000ull);
	assert_int_equal(c->rate_burst, 3);
	assert_int_equal(c->rate_window_ns, 30ull * 1000000000ull);
	assert_int_equal(c->sample_interval_ns, 500ull * 1000000ull);
	assert_true(c->syscall_results);
	assert_int_equal(c->priority_boost, 0);
	assert_true(vg_strlist_match(&c->allow.names, "debug-shell"));
	assert_int_equal(c->shells.n, 3);

	const struct vg_rule_cfg *m = &c->rule[VG_RULE_METADATA];
	assert_int_equal(m->severity, VG_SEV_HIGH);
	assert_true(m->host);
	assert_string_equal(m->allow.names.v[0], "cloud-agent");
	assert_int_equal(m->allow.labels.n, 2);
	assert_int_equal(c->nmeta_addrs, 3);
	/* ::ffff:10.0.0.1 is kept as the IPv4 address it is */
	assert_int_equal(c->meta_addrs[1].family, 4);
	assert_memory_equal(c->meta_addrs[1].a, "\x0a\x00\x00\x01", 4);
	assert_int_equal(c->meta_addrs[2].family, 6);

	assert_false(c->rule[VG_RULE_ISHELL].enabled);
	assert_true(c->rule[VG_RULE_SHELL].enabled);
	assert_int_equal(c->cpu_percent, 80);
	assert_int_equal(c->cpu_window_ns, 2ull * 1000000000ull);
	assert_true(c->cpu_cores > 0.49 && c->cpu_cores < 0.51);
	assert_int_equal(c->mem_percent, 85);
	assert_int_equal(c->pids_percent, 75);
	assert_int_equal(c->pids_growth, 50);
	assert_int_equal(c->miner_names.n, 2);
	assert_int_equal(c->nstratum_ports, 2);
	assert_int_equal(c->stratum_ports[1], 14444);
	assert_int_equal(c->exec_dirs.n, 1);
	assert_int_equal(c->mount_critical_fstypes.n, 1);
	assert_int_equal(c->rule[VG_RULE_OOM].severity, VG_SEV_CRITICAL);
	vg_config_free(&c);
}

static void test_empty_file_is_defaults(void **state)
{
	struct vg_config *c = NULL;
	char err[256];
	assert_int_equal(vg_config_load(FIX "empty.yaml", &c, err, sizeof(err)), 0);
	assert_int_equal(c->cpu_percent, 90);
	assert_int_equal(c->nmeta_addrs, 6);
	vg_config_free(&c);
}

struct bad {
	const char *file;
	const char *want; /* expected message, after "path:" */
};

static void test_bad_files(void **state)
{
	static const struct bad cases[] = {
		{"bad-unknown-key.yaml", "5: unknown key \"severty\" in rule shell_in_service_container"},
		{"bad-unknown-rule.yaml", "3: unknown rule \"shell_everywhere\""},
		{"bad-syntax.yaml", "4: "},
		{"bad-number.yaml", "4: 150 is out of range (1..100)"},
		{"bad-address.yaml", "5: not an IPv4 or IPv6 address: \"metadata.google.internal\""},
		{"bad-duration.yaml", "1: unknown duration unit"},
		{"bad-severity.yaml", "3: unknown severity \"loud\""},
		{"bad-bool.yaml", "2: expected true or false"},
		{"bad-priority.yaml", "1: 20 is out of range (0..19)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[128], want[256], err[256] = "";
		struct vg_config *c = (struct vg_config *)0x1; /* must stay untouched */
		snprintf(path, sizeof(path), FIX "%s", cases[i].file);
		snprintf(want, sizeof(want), "%s:%s", path, cases[i].want);
		int rc = vg_config_load(path, &c, err, sizeof(err));
		assert_int_equal(rc, -EINVAL);
		assert_ptr_equal(c, (struct vg_config *)0x1);
		if (strncmp(err, want, strlen(want))) {
			print_error("%s: got \"%s\", want prefix \"%s\"\n", cases[i].file, err, want);
			fail();
		}
	}
}

static void test_missing_file(void **state)
{
	struct vg_config *c = NULL;
	char err[256];
	assert_int_equal(vg_config_load(FIX "does-not-exist.yaml", &c, err, sizeof(err)), -ENOENT);
	assert_null(c);
	assert_non_null(strstr(err, "does-not-exist.yaml:0: cannot open"));
}

static void test_parse_types(void **state)
{
	struct vg_config *c = NULL;
	char err[256];
	const char *y = "rules:\n  oom_kill:\n    enabled: maybe\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml:3: expected true or false");

	y = "shells: sh\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml:1: expected a list");

	y = "rules:\n  miner_indicator:\n    ports: [3333, 70000]\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml:3: 70000 is out of range (1..65535)");

	y = "- a\n- b\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml:1: the file must be a mapping of keys");

	/* an empty list empties the default */
	y = "rules:\n  miner_indicator:\n    ports: []\n    exec_dirs:\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), 0);
	assert_int_equal(c->nstratum_ports, 0);
	assert_int_equal(c->exec_dirs.n, 0);
	vg_config_free(&c);

	y = "incident_window: 90\nrate_limit: {burst: 1, window: 1.5s}\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), 0);
	assert_int_equal(c->incident_window_ns, 90ull * 1000000000ull);
	assert_int_equal(c->rate_window_ns, 1500ull * 1000000ull);
	vg_config_free(&c);

	/* strtod would read these (NaN compares false both ways): not numbers */
	static const char *const nans[] = {
		"sample_interval: nan\n", "incident_window: NaNms\n", "rate_limit: {window: inf}\n",
		"rules:\n  miner_resource_spike:\n    cpu_window: nan\n"};
	for (size_t i = 0; i < sizeof(nans) / sizeof(nans[0]); i++) {
		assert_int_equal(vg_config_parse("t.yaml", nans[i], strlen(nans[i]), &c, err,
						 sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "expected a duration"));
	}
}

/* the documented example holds exactly the built-in defaults */
static void test_example_is_defaults(void **state)
{
	struct vg_config *c = NULL, d;
	char err[256] = "";
	int rc = vg_config_load("vigil.example.yaml", &c, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	vg_config_defaults(&d);
	memcpy(d.path, c->path, sizeof(d.path));
	for (int i = 0; i < VG_RULE__MAX; i++) {
		/* spelt out in the file: the rule's built-in severity */
		assert_int_equal(c->rule[i].severity, vg_rule_def(i)->severity);
		c->rule[i].severity = VG_SEV_DEFAULT;
	}
	assert_memory_equal(c, &d, sizeof(d));
	vg_config_free(&c);

	/* and it names every rule and every posture finding */
	FILE *f = fopen("vigil.example.yaml", "r");
	static char text[65536];
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	for (int i = 0; i < VG_RULE__MAX; i++)
		assert_non_null(strstr(text, vg_rule_def(i)->name));
	for (int i = 0; i < VG_PF_COUNT; i++)
		assert_non_null(strstr(text, vg_posture_name((enum vg_pfind)i)));
}

/*
 * Every YAML block in README.md is a configuration a reader may copy into
 * --config: each one parses, and names only what the agent knows.
 */
static void test_readme_blocks_parse(void **state)
{
	FILE *f = fopen("README.md", "r");
	char line[1024], err[256] = "", *doc = NULL;
	size_t len = 0, cap = 0;
	int blocks = 0;
	bool in = false;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!in) {
			in = !strncmp(line, "```yaml", 7);
			len = 0;
			continue;
		}
		if (strncmp(line, "```", 3)) {
			size_t n = strlen(line);
			if (len + n + 1 > cap) {
				cap = (len + n + 1) * 2;
				doc = realloc(doc, cap);
				assert_non_null(doc);
			}
			memcpy(doc + len, line, n + 1);
			len += n;
			continue;
		}
		struct vg_config *c = NULL;
		int rc = vg_config_parse("README.md", doc ? doc : "", len, &c, err, sizeof(err));
		if (rc)
			print_error("README block %d: %s\n", blocks + 1, err);
		assert_int_equal(rc, 0);
		vg_config_free(&c);
		blocks++;
		in = false;
	}
	fclose(f);
	free(doc);
	assert_true(blocks >= 1);
}


/* a list of the patterns v, up to its NULL */
static void list_of(struct vg_strlist *l, const char *const *v)
{
	for (l->n = 0; v[l->n]; l->n++)
		snprintf(l->v[l->n], VG_CFG_STR_MAX, "%s", v[l->n]);
}

static void test_patterns(void **state)
{
	struct vg_strlist l, m;

	list_of(&l, (const char *const[]){"sh", "xmr*", "*miner*", "[bd]ash", NULL});
	assert_true(vg_strlist_match(&l, "sh"));
	assert_false(vg_strlist_match(&l, "shx"));
	assert_false(vg_strlist_match(&l, "s"));
	assert_true(vg_strlist_match(&l, "xmrig"));
	assert_true(vg_strlist_match(&l, "xmr"));
	assert_false(vg_strlist_match(&l, "XMRIG"));
	assert_true(vg_strlist_match_case(&l, "XMRig"));
	assert_true(vg_strlist_match(&l, "cpuminer-multi"));
	assert_true(vg_strlist_match(&l, "dash"));
	assert_false(vg_strlist_match(&l, "ash"));
	assert_false(vg_strlist_match(&l, ""));
	assert_true(vg_strlist_has(&l, "xmr*"));
	assert_false(vg_strlist_has(&l, "xmrig"));

	/* the first two bytes settle most names; a wildcard, an escape or the
	 * pattern's end in them leaves the match to the rest */
	list_of(&m, (const char *const[]){"nanominer*", "n", "k*si", "t?ex", "g[mn]iner", "q\\*",
					 "Zz", NULL});
	assert_false(vg_strlist_match_case(&m, "nop"));
	assert_true(vg_strlist_match_case(&m, "NAnominer-3.8"));
	assert_false(vg_strlist_match(&m, "NAnominer-3.8"));
	assert_true(vg_strlist_match(&m, "nanominer"));
	assert_true(vg_strlist_match(&m, "n"));
	assert_false(vg_strlist_match(&m, "na"));
	assert_true(vg_strlist_match(&m, "kdevtmpfsi"));
	assert_true(vg_strlist_match(&m, "trex"));
	assert_true(vg_strlist_match(&m, "gniner"));
	assert_false(vg_strlist_match(&m, "gainer"));
	assert_true(vg_strlist_match(&m, "q*"));
	assert_false(vg_strlist_match(&m, "qx"));
	assert_true(vg_strlist_match_case(&m, "zZ"));
	assert_false(vg_strlist_match(&m, "zZ"));
	assert_false(vg_strlist_match_case(&m, "z"));
}

/*
 * A list's heads answer as the list does, for every name, with and without
 * case; and they do rule names out (no pass over the list for those).
 */
static void test_pattern_heads(void **state)
{
	static const char *const pats[][8] = {
		{"sh", "xmr*", "[bd]ash", NULL},
		{"nanominer*", "n", "k*si", "t?ex", "g[mn]iner", "q\\*", "Zz", NULL},
		{"XMRIG*", "Bash", "\\x", "é*", NULL},
		{"ash", "*miner*", NULL},
		{"runc:*", "containerd-shim*", "tini", NULL},
		{NULL},
	};
	static const char *const names[] = {
		"",	 "s",	  "sh",	    "SH",    "shx",	  "xmr",   "XMRIG-6", "xmrig", "dash",
		"bash",	 "BASH",  "ash",    "n",     "N",	  "na",	   "no",      "nop",   "nanominer",
		"NANOminerX", "kdevtmpfsi", "ksi", "k", "trex", "tREX", "gminer", "gainer", "q*",
		"qx",	 "q",	  "zz",	    "ZZ",    "z",	  "\\x", "x",	      "é",     "éa",
		"runc",	 "runc:[2:INIT]", "containerd-shim-runc-v2", "tini", "tin", "cpuminer",
		"miner", "-sh",	  "\xff\xfe",
	};
	struct vg_strlist_heads *h = malloc(sizeof(*h));
	struct vg_strlist l;

	assert_non_null(h);
	for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
		list_of(&l, pats[p]);
		for (int fold = 0; fold < 2; fold++) {
			vg_strlist_heads_build(h, &l, fold);
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
				bool want = fold ? vg_strlist_match_case(&l, names[i])
						 : vg_strlist_match(&l, names[i]);
				if (vg_strlist_match_heads(&l, h, names[i]) != want)
					fail_msg("list %zu, %s, \"%s\": heads say %d", p,
						 fold ? "no case" : "case", names[i], !want);
			}
		}
	}

	/* the default-like miner list rules out "nop" and "sh" by the pair */
	list_of(&l, pats[1]);
	vg_strlist_heads_build(h, &l, true);
	assert_false(h->any);
	assert_false(h->pair[('n' << 8 | 'o') / 64] >> (('n' << 8 | 'o') % 64) & 1);
	assert_true(h->pair[('n' << 8 | 'a') / 64] >> (('n' << 8 | 'a') % 64) & 1);
	assert_true(h->pair[('z' << 8 | 'z') / 64] >> (('z' << 8 | 'z') % 64) & 1);
	/* a leading wildcard leaves every name to the list */
	list_of(&l, pats[3]);
	vg_strlist_heads_build(h, &l, false);
	assert_true(h->any);
	free(h);
}

static void test_names(void **state)
{
	for (int i = 0; i < VG_RULE__MAX; i++)
		assert_int_equal(vg_rule_lookup(vg_rule_name(i)), i);
	assert_int_equal(vg_rule_lookup("nope"), -1);
	assert_int_equal(vg_severity_parse("CRITICAL"), VG_SEV_CRITICAL);
	assert_int_equal(vg_severity_parse("medium"), VG_SEV_WARNING);
	assert_int_equal(vg_severity_parse("x"), -1);
	assert_string_equal(vg_severity_name(VG_SEV_HIGH), "high");
	assert_int_equal(vg_severity_ecs(VG_SEV_CRITICAL), 99);
	assert_int_equal(vg_severity_ecs(VG_SEV_WARNING), 47);
	/* the outputs' scale follows the ECS bands: info is low, warning medium */
	assert_int_equal(vg_severity_out(VG_SEV_INFO), VG_OUT_SEV_LOW);
	assert_int_equal(vg_severity_out(VG_SEV_WARNING), VG_OUT_SEV_MEDIUM);
	assert_int_equal(vg_severity_out(VG_SEV_HIGH), VG_OUT_SEV_HIGH);
	assert_int_equal(vg_severity_out(VG_SEV_CRITICAL), VG_OUT_SEV_CRITICAL);
}

static void test_events_detail(void **state)
{
	(void)state;
	struct vg_config *c = NULL;
	char err[256];
	const char *y = "events:\n  detail: full\n";

	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), 0);
	assert_true(c->events_full);
	vg_config_free(&c);
	y = "events:\n  detail: compact\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), 0);
	assert_false(c->events_full);
	vg_config_free(&c);
	y = "events:\n  detail: verbose\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "compact or full"));
	y = "events:\n  level: full\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
}

/* a section with nothing under it is empty, as rules: and posture: are */
static void test_empty_sections(void **state)
{
	(void)state;
	struct vg_config *c = NULL;
	char err[256] = "";
	const char *y = "events:\nposture:\n  findings:\nrules:\n";

	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), 0);
	assert_false(c->events_full);
	vg_config_free(&c);
	/* but no metadata address at all is refused: the rule would watch nothing */
	y = "rules:\n  metadata_service_access:\n    addresses: []\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:3: addresses: an empty list"));
	y = "rules:\n  metadata_service_access:\n    addresses:\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
}

/* a key said twice in one mapping is refused with both lines, at every level:
 * libyaml keeps both, and the last one would silently win (or, for a rule
 * named twice, the two would merge) */
/* y is refused, with a message that starts with want */
static void refused(size_t i, const char *y, const char *want)
{
	struct vg_config *c = NULL;
	char err[256] = "";

	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_null(c);
	if (strncmp(err, want, strlen(want))) {
		print_error("case %zu: got \"%s\", want prefix \"%s\"\n", i, err, want);
		fail();
	}
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	static const struct {
		const char *y, *want;
	} cases[] = {
		{"priority_boost: 4\npriority_boost: 0\n",
		 "t.yaml:2: \"priority_boost\" given twice (first on line 1)"},
		{"rules:\n  oom_kill:\n    enabled: true\n  shell_in_service_container: {}\n"
		 "  oom_kill:\n    enabled: false\n",
		 "t.yaml:5: \"oom_kill\" given twice in rules (first on line 2)"},
		{"rules:\n  metadata_service_access:\n    enabled: true\n    enabled: false\n",
		 "t.yaml:4: \"enabled\" given twice in metadata_service_access (first on line 3)"},
		{"allow:\n  names: [a]\n  names: [b]\n",
		 "t.yaml:3: \"names\" given twice in allow (first on line 2)"},
		{"rate_limit: {burst: 2, burst: 9}\n", "t.yaml:1: \"burst\" given twice in rate_limit"},
		{"posture:\n  allow: {names: [a]}\n  allow: {names: [b]}\n",
		 "t.yaml:3: \"allow\" given twice in posture (first on line 2)"},
		{"posture:\n  findings:\n    privileged: {enabled: false}\n    privileged: {}\n",
		 "t.yaml:4: \"privileged\" given twice in posture findings (first on line 3)"},
		{"events: {detail: full, detail: compact}\n", "t.yaml:1: \"detail\" given twice in events"},
		/* a finding by its full name and by its short one */
		{"posture:\n  findings:\n    posture_root_user: {enabled: false}\n"
		 "    root_user: {enabled: true}\n",
		 "t.yaml:4: \"root_user\" given twice in posture findings, as \"posture_root_user\" "
		 "on line 3"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(i, cases[i].y, cases[i].want);
}

/* a quoted "\0" would cut every comparison after it: "sh\0evil" read as
 * "sh", a name allowlisted as "prod\0-debug" as "prod" */
static void test_nul_in_scalar(void **state)
{
	(void)state;
	struct vg_config *c = NULL;
	char err[256] = "";
	const char *y = "allow:\n  names: [\"prod\\0-debug\"]\n";

	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_null(c);
	assert_non_null(strstr(err, "t.yaml:2:"));
	y = "\"host_processes\\0x\": true\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml:1: keys must be plain strings");
	y = "shells: [\"sh\\0evil\"]\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
}

/* Values that would be read as something else than written, or lists
 * that would silently turn rules off, are refused with their line. */
static void test_refused_values(void **state)
{
	(void)state;
	static const struct {
		const char *y, *want;
	} cases[] = {
		{"shells:\n", "t.yaml:1: shells: an empty list would match nothing"},
		{"priority_boost: 1\nshells: []\n", "t.yaml:2: shells: an empty list would match nothing"},
		{"rules:\n  miner_resource_spike: {host: true}\n",
		 "t.yaml:2: miner_resource_spike samples containers' cgroups only"},
		{"priority_boost: \" -1\"\n", "t.yaml:1: expected a whole number, not \" -1\""},
		{"priority_boost: \"+3\"\n", "t.yaml:1: expected a whole number, not \"+3\""},
		{"incident_window: 0x1e\n", "t.yaml:1: expected a duration"},
		{"incident_window: \" 30s\"\n", "t.yaml:1: expected a duration"},
		{"rules:\n  miner_resource_spike: {cpu_cores: 0x2}\n", "t.yaml:2: expected a number"},
		{"rules:\n  miner_resource_spike: {cpu_cores: inf}\n", "t.yaml:2: expected a number"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(i, cases[i].y, cases[i].want);
	/* what stays fine: host: false on it, an empty list of miner names */
	struct vg_config *c = NULL;
	char err[256] = "";
	const char *y = "rules:\n  miner_resource_spike: {host: false, cpu_cores: 1.5}\n"
			"  miner_indicator: {names: []}\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), 0);
	vg_config_free(&c);
}

/* what follows a "---" is a second document: refused, not left unread */
static void test_one_document(void **state)
{
	(void)state;
	struct vg_config *c = NULL;
	char err[256] = "";
	const char *y = "incident_window: 10m\n---\nincident_window: bogus\n";

	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_null(c);
	assert_string_equal(err, "t.yaml:3: a second YAML document: the file holds one");
	/* nor behind a bare marker or two */
	y = "incident_window: 10m\n---\n---\nrules: bogus\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml:4: a second YAML document: the file holds one");
	/* a bare marker at the end starts no document worth the name */
	y = "incident_window: 10m\n---\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), 0);
	vg_config_free(&c);
	/* a document marker before the only document is fine */
	y = "---\nincident_window: 10m\n...\n";
	assert_int_equal(vg_config_parse("t.yaml", y, strlen(y), &c, err, sizeof(err)), 0);
	assert_int_equal(c->incident_window_ns, 600ull * 1000000000ull);
	vg_config_free(&c);
}

/* the size limit is the file's: 1 MiB loads, one byte more does not */
static void test_size_limit(void **state)
{
	(void)state;
	char path[] = "/tmp/vigil-cfg-XXXXXX", err[256] = "";
	const char key[] = "priority_boost: 3\n";
	size_t pad = VG_CONFIG_FILE_MAX - (sizeof(key) - 1);
	char *buf = malloc(VG_CONFIG_FILE_MAX + 1);
	struct vg_config *c = NULL;
	int fd = mkstemp(path);

	assert_non_null(buf);
	assert_true(fd >= 0);
	/* a comment line of '#' up to the limit, then the key */
	memset(buf, '#', pad - 1);
	buf[pad - 1] = '\n';
	memcpy(buf + pad, key, sizeof(key) - 1);
	assert_int_equal(write(fd, buf, VG_CONFIG_FILE_MAX), (ssize_t)VG_CONFIG_FILE_MAX);
	assert_int_equal(vg_config_load(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c->priority_boost, 3);
	vg_config_free(&c);
	assert_int_equal(write(fd, "\n", 1), 1);
	assert_int_equal(vg_config_load(path, &c, err, sizeof(err)), -EFBIG);
	assert_null(c);
	assert_non_null(strstr(err, "larger than 1 MiB"));
	close(fd);
	unlink(path);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_empty_file_is_defaults),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_parse_types),
		cmocka_unit_test(test_example_is_defaults),
		cmocka_unit_test(test_readme_blocks_parse),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_pattern_heads),
		cmocka_unit_test(test_events_detail),
		cmocka_unit_test(test_empty_sections),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_nul_in_scalar),
		cmocka_unit_test(test_one_document),
		cmocka_unit_test(test_refused_values),
		cmocka_unit_test(test_size_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
