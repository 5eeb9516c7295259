/*
 * posture: judges one container's configuration (struct vg_container, as
 * the runtime reported it) against hardening practice and names what is
 * wrong: published ports on all addresses, missing limits, root, privileged,
 * capabilities, writable root, sensitive mounts, host namespaces, secrets in
 * the environment (by variable NAME: values never reach vigil).  Owns the
 * finding catalogue (stable names posture_*), the grade, the one-line
 * "possible because: ..." context for incidents, the ECS posture record
 * encoder, the table printer and the `vigil posture` subcommand.
 * No state of its own (the config is the caller's); I/O only in the
 * FILE writers and in vg_posture_main / vg_posture_run (Docker, and
 * cgroupfs for a pod's pids limit).
 */
#ifndef VIGIL_POSTURE_H
#define VIGIL_POSTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/container.h"
#include "vigil/json.h"
#include "vigil/out.h"

/* The catalogue.  Values are array indexes, never reordered in output. */
enum vg_pfind {
	VG_PF_PORT_ALL_ADDRS = 0, /* posture_port_all_addresses */
	VG_PF_NO_MEMORY_LIMIT,	  /* posture_no_memory_limit */
	VG_PF_NO_CPU_LIMIT,	  /* posture_no_cpu_limit */
	VG_PF_NO_PIDS_LIMIT,	  /* posture_no_pids_limit */
	VG_PF_ROOT_USER,	  /* posture_root_user */
	VG_PF_PRIVILEGED,	  /* posture_privileged */
	VG_PF_CAP_ADDED,	  /* posture_cap_added: one per cap_add */
	VG_PF_DEFAULT_CAPS,	  /* posture_default_caps: risky defaults kept */
	VG_PF_NEW_PRIVILEGES,	  /* posture_new_privileges_allowed */
	VG_PF_WRITABLE_ROOTFS,	  /* posture_writable_rootfs */
	VG_PF_DOCKER_SOCKET,	  /* posture_docker_socket */
	VG_PF_SENSITIVE_MOUNT,	  /* posture_sensitive_mount: one per mount */
	VG_PF_HOST_PID,		  /* posture_host_pid */
	VG_PF_HOST_NETWORK,	  /* posture_host_network */
	VG_PF_HOST_IPC,		  /* posture_host_ipc */
	VG_PF_SECRET_ENV,	  /* posture_secret_env: one per variable name */
	VG_PF_COUNT,
};

struct vg_finding {
	enum vg_pfind id;
	const char *name;    /* "posture_..." (static) */
	enum vg_out_sev sev; /* after configuration */
	const char *remedy;  /* one line: compose key / docker run flag (static) */
	/* Built from container fields: may hold any bytes the runtime stored,
	 * escape on output (vg_json_str / vg_term_escape). */
	char summary[192]; /* "6379/tcp published on 0.0.0.0 (redis:7.2)" */
	char brief[96];	   /* short form for context lines: "root", "NET_RAW" */
};

#define VG_POSTURE_ALLOW_MAX 64
#define VG_POSTURE_PATTERN_MAX 128
#define VG_POSTURE_EXTRA_PORTS_MAX 32

enum vg_pmatch {
	VG_PM_NAME = 1,	 /* container name, fnmatch(3) glob */
	VG_PM_IMAGE = 2, /* image name, glob */
	VG_PM_LABEL = 3, /* "key" (present) or "key=glob" */
};

struct vg_posture_allow {
	int finding; /* enum vg_pfind, or -1 for every finding */
	enum vg_pmatch kind;
	char pattern[VG_POSTURE_PATTERN_MAX];
};

struct vg_posture_cfg {
	bool enabled[VG_PF_COUNT];
	enum vg_out_sev sev[VG_PF_COUNT];
	/* extra datastore/admin ports for posture_port_all_addresses (high) */
	uint16_t extra_ports[VG_POSTURE_EXTRA_PORTS_MAX];
	unsigned nextra_ports;
	struct vg_posture_allow allow[VG_POSTURE_ALLOW_MAX];
	unsigned nallow;
};

/* Every finding enabled at its default severity, no allowlist. */
void vg_posture_cfg_default(struct vg_posture_cfg *cfg);

/* Finding by name ("posture_root_user"; the "posture_" prefix may be
 * omitted): its enum value, or -ENOENT. */
int vg_posture_find(const char *name);

/* Setters by finding name: 0, -ENOENT (unknown finding), -EINVAL. */
int vg_posture_cfg_enable(struct vg_posture_cfg *cfg, const char *finding, bool on);
int vg_posture_cfg_severity(struct vg_posture_cfg *cfg, const char *finding, enum vg_out_sev sev);
/* finding NULL or "*" = every finding.  -ENOSPC when the list is full. */
int vg_posture_cfg_allow(struct vg_posture_cfg *cfg, const char *finding, enum vg_pmatch kind,
			 const char *pattern);
/* Treat another port as a datastore/admin port.  -ENOSPC when full. */
int vg_posture_cfg_add_port(struct vg_posture_cfg *cfg, uint16_t port);

/* Severities are the outputs' scale (out.h: info, low, medium, high,
 * critical; vg_out_sev_name / vg_out_sev_parse).  ECS event.severity of a
 * level: 0, 21, 47, 73, 99. */
unsigned vg_posture_ecs_severity(enum vg_out_sev sev);

/* Finding catalogue, for listings and docs. */
const char *vg_posture_name(enum vg_pfind id);
const char *vg_posture_remedy(enum vg_pfind id);

typedef int (*vg_finding_fn)(void *ctx, const struct vg_finding *f);

/*
 * Evaluate c, calling fn once per finding (catalogue order; per-item
 * findings in the container's order).  A non-zero return from fn stops
 * the walk and is returned.  Returns the number of findings, -EINVAL for
 * NULL arguments, or -EBADMSG (no finding reported) when the container's
 * state is unusable: enrich failed or parse_errors > 0.  cfg NULL means
 * the defaults.
 */
int vg_posture_eval(const struct vg_posture_cfg *cfg, const struct vg_container *c,
		    vg_finding_fn fn, void *ctx);

/* Findings summarised: grade 'A' (nothing above info) .. 'F' (any
 * critical or many highs); '?' when the state is unusable (-EBADMSG). */
struct vg_posture_score {
	char grade;
	unsigned points; /* sum over findings: low 3, medium 8,
			    high 20, critical 40 */
	unsigned nfindings;
	unsigned by_sev[VG_OUT_SEV__MAX];
	enum vg_out_sev worst;
};
int vg_posture_grade(const struct vg_posture_cfg *cfg, const struct vg_container *c,
		     struct vg_posture_score *out);

/*
 * One line for incidents: "possible because: 6379 published on 0.0.0.0,
 * no memory limit, root, ..., NET_RAW, MKNOD +7" (worst first; cut at
 * a finding boundary with ", ..." when dst is too small).  Writes "" when
 * there are no findings.  Raw container bytes may be included: escape the
 * line on output.  Returns strlen(dst).
 */
size_t vg_posture_context(const struct vg_posture_cfg *cfg, const struct vg_container *c, char *dst,
			  size_t dstsz);

/*
 * The incidents' context callback (vg_incident_ctx_fn): fills inc->because
 * with the line above.  ctx is the struct vg_rules whose configuration
 * holds the posture: section (read at each call, so reloads apply):
 *   vg_incidents_set_context(vg_rules_incidents(r), vg_posture_incident_ctx, r);
 */
struct vg_incident;
void vg_posture_incident_ctx(struct vg_incident *inc, const struct vg_container *ctr, void *rules);

/* Writes "key": ["posture_...", ...] (the names, worst first) into an open
 * JSON object, for incident records. */
void vg_posture_json_names(struct vg_buf *b, const char *key, const struct vg_posture_cfg *cfg,
			   const struct vg_container *c);

/*
 * One ECS posture record (a complete JSON object, no newline) for finding f
 * of container c: event.kind "state", event.category ["configuration"],
 * rule.name, event.severity, vigil.severity, message, vigil.posture.remedy,
 * container.id / name / image.name.  wall_ns 0 = now.
 */
void vg_posture_json(struct vg_buf *b, const struct vg_container *c, const struct vg_finding *f,
		     uint64_t wall_ns);

/* What the outputs need to route a posture record (kind VG_OUT_POSTURE,
 * severity, rule, container); pointers into c and f. */
void vg_posture_meta(const struct vg_container *c, const struct vg_finding *f, uint64_t wall_ns,
		     struct vg_out_meta *m);

/* The finding-less record for a container whose state could not be used:
 * err is the negative errno of the read (0 if only fields were malformed);
 * vigil.posture.parse_errors carries the count. */
void vg_posture_json_error(struct vg_buf *b, const struct vg_container *c, int err,
			   uint64_t wall_ns);

/*
 * Every record of c (one per finding, or the error record when err != 0 or
 * the state is unusable) handed to fn as one JSON line ending in '\n',
 * with its routing meta: the agent passes a wrapper of vg_sinks_emit.
 * Returns records handed over, or fn's first non-zero return / -errno.
 */
typedef int (*vg_posture_line_fn)(void *ctx, const char *line, size_t len,
				  const struct vg_out_meta *m);
int vg_posture_emit(const struct vg_posture_cfg *cfg, const struct vg_container *c, int err,
		    uint64_t wall_ns, vg_posture_line_fn fn, void *ctx);

/* Encode every record of c (findings, or the error record), one JSON
 * object per line, to out.  Returns records written or -errno. */
int vg_posture_write_json(FILE *out, const struct vg_posture_cfg *cfg, const struct vg_container *c,
			  int err, uint64_t wall_ns);

/*
 * The table: one row per container, worst grade first (then points,
 * name; unreadable state last): CONTAINER IMAGE GRADE FINDINGS.  Strings
 * pass vg_term_escape; the grade in colour when colour is true.  errs[i] (may be
 * NULL) is the read error of cs[i].  Returns 0 or -errno (write error,
 * -ENOMEM).
 */
int vg_posture_print_table(FILE *out, const struct vg_posture_cfg *cfg,
			   const struct vg_container *cs, const int *errs, size_t n, bool colour);

/* Docker's /info body (len bytes) says the daemon runs its containers in
 * a remapped user namespace (--userns-remap): "name=userns" is one of its
 * SecurityOptions.  Labels or names that read so elsewhere do not count. */
bool vg_posture_info_userns(const char *info, size_t len);

/* `vigil posture [--json] [--color=auto|always|never] [--all]
 * [--socket PATH] [--docker-root DIR] [--cgroup-root DIR] [--config FILE]
 * | --list`: lists the host's Docker containers (Engine API, else the
 * state files), evaluates, prints.  argv[0] is the subcommand name.
 * Returns the exit status (0, 1 failure, 2 usage or configuration error). */
int vg_posture_main(int argc, char **argv);
/* The same with a configuration the caller loaded (NULL = defaults). */
int vg_posture_run(const struct vg_posture_cfg *cfg, int argc, char **argv);

#endif
