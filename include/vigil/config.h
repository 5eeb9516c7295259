/*
 * config: the detection configuration.  Built-in defaults work with no
 * file; a YAML file (read with libyaml, every key documented in
 * vigil.example.yaml) overrides thresholds, windows, name and port lists,
 * per-rule enable/severity/host and allowlists.  A struct vg_config is a
 * plain value: loading parses into a fresh one and hands it over only when
 * the whole file was valid, so a reload that fails leaves the running
 * configuration untouched.
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/posture.h"

/* Built-in rules, in a stable order (index into vg_config.rule[]). */
enum vg_rule_id {
	VG_RULE_METADATA = 0, /* metadata_service_access */
	VG_RULE_SHELL = 1,    /* shell_in_service_container */
	VG_RULE_ISHELL = 2,   /* interactive_shell_in_container */
	VG_RULE_SPIKE = 3,    /* miner_resource_spike */
	VG_RULE_MINER = 4,    /* miner_indicator */
	VG_RULE_MOUNT = 5,    /* mount_in_container */
	VG_RULE_OOM = 6,      /* oom_kill */
	VG_RULE__MAX = 7,
};

/* Severities, lowest first.  0 means "the rule's default" in a config. */
enum vg_severity {
	VG_SEV_DEFAULT = 0,
	VG_SEV_INFO = 1,
	VG_SEV_WARNING = 2,
	VG_SEV_HIGH = 3,
	VG_SEV_CRITICAL = 4,
};

#define VG_CFG_LIST_MAX 48 /* entries per list */
#define VG_CFG_STR_MAX 128 /* bytes per entry, NUL included */

/* A bounded list of strings (names, glob patterns, paths). */
struct vg_strlist {
	unsigned n;
	char v[VG_CFG_LIST_MAX][VG_CFG_STR_MAX];
};

/* Matches exempt a container from a rule (fnmatch(3) patterns). */
struct vg_allow {
	struct vg_strlist names;  /* container name */
	struct vg_strlist images; /* image as the user gave it */
	struct vg_strlist labels; /* "key" (any value) or "key=value-pattern" */
};

struct vg_rule_cfg {
	bool enabled;
	int severity; /* enum vg_severity; VG_SEV_DEFAULT = built in */
	bool host;    /* also alert on host (non-container) processes */
	struct vg_allow allow;
};

struct vg_ipaddr {
	uint8_t family; /* 4 or 6 */
	uint8_t a[16];	/* IPv4 in a[0..3] */
};

#define VG_CFG_ADDRS_MAX 32
#define VG_CFG_PORTS_MAX 64

struct vg_config {
	char path[256]; /* file it came from, "" for defaults */

	uint64_t incident_window_ns; /* alerts closer than this join one incident */
	unsigned rate_burst;	     /* alerts per rule+container per window */
	uint64_t rate_window_ns;
	uint64_t sample_interval_ns; /* resource sampler period */
	bool host_processes;	     /* every rule also watches host processes */
	bool syscall_results;	     /* syscall tracepoints for connect/mount
				      * results (read at start only) */
	bool events_full;	     /* events.detail: full (raw events with full context) */
	unsigned priority_boost;     /* the agent runs at nice -priority_boost
				      * (read at start only; 0: not raised) */
	struct vg_allow allow;	     /* exempts a container from every rule */

	struct vg_rule_cfg rule[VG_RULE__MAX];

	/* metadata_service_access */
	struct vg_ipaddr meta_addrs[VG_CFG_ADDRS_MAX];
	unsigned nmeta_addrs;

	/* shells */
	struct vg_strlist shells;   /* shell program names */
	struct vg_strlist runtimes; /* parents that count as the runtime */

	/* miner_resource_spike */
	unsigned cpu_percent;	/* of the quota (or of cpu_cores) */
	uint64_t cpu_window_ns; /* sustained for this long */
	double cpu_cores;	/* cores counted when there is no quota */
	unsigned mem_percent;	/* of the memory limit */
	unsigned pids_percent;	/* of pids.max */
	unsigned pids_growth;	/* new pids within one sample interval */

	/* miner_indicator */
	struct vg_strlist miner_names; /* patterns on comm / exe / argv[0] */
	uint16_t stratum_ports[VG_CFG_PORTS_MAX];
	unsigned nstratum_ports;
	struct vg_strlist exec_dirs;	/* path prefixes that are suspicious */
	struct vg_strlist argv_markers; /* substrings of argv, e.g. "stratum+tcp://" */

	/* mount_in_container */
	struct vg_strlist mount_critical_fstypes;
	struct vg_strlist mount_critical_sources; /* path prefixes */

	/* posture: findings' enable/severity/allowlists, extra sensitive ports */
	struct vg_posture_cfg posture;
};

/* Fill c with the built-in defaults. */
void vg_config_defaults(struct vg_config *c);

#define VG_CONFIG_FILE_MAX (1u << 20) /* bytes; a larger file is refused */

/*
 * Load path into a new configuration (defaults, then the file on top).
 * Returns 0 and *out (free with vg_config_free), or -errno with a one-line
 * reason in err ("file:line: reason"); *out is then untouched.
 */
int vg_config_load(const char *path, struct vg_config **out, char *err, size_t errlen);

/* Parse YAML text already in memory; name is used in error messages. */
int vg_config_parse(const char *name, const char *text, size_t len, struct vg_config **out,
		    char *err, size_t errlen);

/* A heap copy of the defaults (for running with no file). */
int vg_config_new_default(struct vg_config **out);

void vg_config_free(struct vg_config **c);

/* Stable names. */
const char *vg_rule_name(enum vg_rule_id id);
int vg_rule_lookup(const char *name);  /* -1 if unknown */
const char *vg_severity_name(int sev); /* "info", "warning", "high", "critical" */
int vg_severity_parse(const char *s);  /* enum vg_severity or -1 */
/* ECS event.severity number for a severity (21, 47, 73, 99). */
unsigned vg_severity_ecs(int sev);
/* The outputs' severity of a rule's, the same band as its ECS number:
 * info -> low, warning -> medium, high, critical (for min=, syslog PRI). */
enum vg_out_sev vg_severity_out(int sev);

/* true when the list holds a pattern matching s (fnmatch, no flags). */
bool vg_strlist_match(const struct vg_strlist *l, const char *s);
bool vg_strlist_match_case(const struct vg_strlist *l, const char *s); /* case ignored */
bool vg_strlist_has(const struct vg_strlist *l, const char *s);	       /* exact */

/*
 * The first two bytes a match of some pattern of a list can start with,
 * as one bit per pair (lower-cased for a list matched without case): a
 * name whose pair is not set matches none of the list, settled with one
 * load instead of a pass over every pattern.  Built from a list, valid
 * until the list changes.  8 KiB.
 */
struct vg_strlist_heads {
	bool any;      /* a pattern that starts with a wildcard: nothing ruled out */
	bool casefold; /* built for vg_strlist_match_case */
	uint64_t pair[(256 * 256) / 64];
};
void vg_strlist_heads_build(struct vg_strlist_heads *h, const struct vg_strlist *l, bool casefold);
/* vg_strlist_match (or _case, as h was built) of l, with h built from l */
bool vg_strlist_match_heads(const struct vg_strlist *l, const struct vg_strlist_heads *h,
			    const char *s);

#endif
