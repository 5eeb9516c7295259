/*
 * rules: the built-in detections (see rules.h).
 *
 * Every rule ends in report(): allowlists, incident step, fold, rate limit,
 * then the alert and the incident record, in that order.  The per-event
 * path does no allocation and no I/O; per-container state lives in a
 * fixed table reused least-recently-seen first.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/encode.h"
#include "vigil/rules.h"

static const struct vg_rule_def defs[VG_RULE__MAX] = {
	[VG_RULE_METADATA] = {VG_RULE_METADATA, "metadata_service_access", VG_SEV_CRITICAL,
			      "A container process connected to a cloud instance metadata "
			      "service, where instance credentials can be read",
			      "T1552.005", "Unsecured Credentials: Cloud Instance Metadata API",
			      "TA0006", "Credential Access"},
	[VG_RULE_SHELL] = {VG_RULE_SHELL, "shell_in_service_container", VG_SEV_CRITICAL,
			   "A shell started inside a container whose main process is not a shell, "
			   "from a parent that is neither a shell nor the container runtime",
			   "T1059.004", "Command and Scripting Interpreter: Unix Shell", "TA0002",
			   "Execution"},
	[VG_RULE_ISHELL] = {VG_RULE_ISHELL, "interactive_shell_in_container", VG_SEV_WARNING,
			    "A shell was entered into a running container from outside "
			    "(docker exec, kubectl exec)",
			    "T1059.004", "Command and Scripting Interpreter: Unix Shell", "TA0002",
			    "Execution"},
	[VG_RULE_SPIKE] = {VG_RULE_SPIKE, "miner_resource_spike", VG_SEV_HIGH,
			   "A container used CPU, memory or process slots near its limits for a "
			   "sustained period, as crypto-miners and fork bombs do",
			   "T1496", "Resource Hijacking", "TA0040", "Impact"},
	[VG_RULE_MINER] = {VG_RULE_MINER, "miner_indicator", VG_SEV_HIGH,
			   "A crypto-miner indicator: a known miner binary, a stratum pool URL or "
			   "port, or an executable run from a temporary or deleted file",
			   "T1496", "Resource Hijacking", "TA0040", "Impact"},
	[VG_RULE_MOUNT] = {VG_RULE_MOUNT, "mount_in_container", VG_SEV_HIGH,
			   "A process inside a container attempted a mount; mounts of proc, sysfs, "
			   "cgroup, devices or host paths are escape attempts",
			   "T1611", "Escape to Host", "TA0004", "Privilege Escalation"},
	[VG_RULE_OOM] = {VG_RULE_OOM, "oom_kill", VG_SEV_WARNING,
			 "The kernel killed a container process because its memory limit was "
			 "reached",
			 "T1499", "Endpoint Denial of Service", "TA0040", "Impact"},
};

const struct vg_rule_def *vg_rule_def(enum vg_rule_id id)
{
	return (unsigned)id < VG_RULE__MAX ? &defs[id] : NULL;
}

#define CTR_STATE_MAX 1024
#define FLAGGED_MAX 256

struct rate {
	uint64_t window_start;
	unsigned in_window;
	unsigned pending; /* rate-limited since the last written alert */
};

struct ctr_state {
	bool used;
	char key[VG_CTR_ID_LEN + 8];
	uint64_t last_seen;
	struct rate rate[VG_RULE__MAX];
	/* resource history: each figure from the last sample that had it (a
	 * file not read once leaves the figure before as the baseline) */
	bool have_prev_cpu, have_prev_pids;
	uint64_t prev_cpu_ns, prev_cpu_ts;
	uint64_t prev_pids, prev_pids_ts;
	uint64_t prev_ts; /* the last sample */
	uint64_t cpu_above_since;
	double cpu_run_busy;  /* CPU-ns of the run, each interval capped at the limit */
	double cpu_run_limit; /* the limit the run is measured against */
	bool cpu_run_dipped;  /* its last interval was below the threshold */
	unsigned cpu_peak;    /* % of one core */
	bool cpu_alerted, mem_alerted, pids_alerted, growth_alerted;
	bool have_sample;
	struct vg_cg_sample last;
};

struct flagged {
	uint32_t tgid;
	uint64_t start_ns; /* with tgid: the process (vg_proc.start_ns) */
	char key[64];	   /* the incident step the shell belongs to */
	char ctr[VG_CTR_ID_LEN + 8];
};

/* what argv_marker() needs of the markers, set with the configuration */
struct markers {
	size_t len[VG_CFG_LIST_MAX];
	bool first[256]; /* a byte (lower case) that starts some marker */
};

/* a name list matched on every exec, with what rules most names out */
struct names {
	const struct vg_strlist *l;
	struct vg_strlist_heads h;
};

struct vg_rules {
	struct vg_config *cfg;
	struct markers mk;
	struct names shells, runtimes, miners;
	struct vg_incidents *inc;
	struct ctr_state *ctrs;
	struct flagged flagged[FLAGGED_MAX];
	unsigned flagged_next;
	uint64_t clock; /* latest time seen, for LRU */
	struct vg_rules_stats stats;
};

static inline unsigned char lc(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static void names_set(struct names *n, const struct vg_strlist *l, bool casefold)
{
	n->l = l;
	vg_strlist_heads_build(&n->h, l, casefold);
}

static bool in_names(const struct names *n, const char *name)
{
	return *name && vg_strlist_match_heads(n->l, &n->h, name);
}

/* Take cfg over: it and what is derived from it. */
static void adopt_config(struct vg_rules *r, struct vg_config *cfg)
{
	r->cfg = cfg;
	memset(&r->mk, 0, sizeof(r->mk));
	for (unsigned m = 0; m < cfg->argv_markers.n; m++) {
		const char *v = cfg->argv_markers.v[m];
		r->mk.len[m] = strlen(v);
		r->mk.first[lc((unsigned char)v[0])] = true;
	}
	names_set(&r->shells, &cfg->shells, false);
	names_set(&r->runtimes, &cfg->runtimes, false);
	names_set(&r->miners, &cfg->miner_names, true);
	if (r->inc)
		vg_incidents_set_window(r->inc, cfg->incident_window_ns);
}

int vg_rules_new(struct vg_config **cfg, uint64_t id_base, struct vg_rules **out)
{
	struct vg_rules *r = calloc(1, sizeof(*r));
	struct vg_config *c = NULL;
	int rc = -ENOMEM;

	if (!r)
		return -ENOMEM;
	r->ctrs = calloc(CTR_STATE_MAX, sizeof(*r->ctrs));
	if (!r->ctrs)
		goto err;
	if (cfg && *cfg) {
		c = *cfg;
		*cfg = NULL;
	} else if ((rc = vg_config_new_default(&c))) {
		goto err;
	}
	rc = vg_incidents_new(256, id_base, &r->inc);
	adopt_config(r, c); /* before the check: vg_rules_free() then frees c too */
	if (rc)
		goto err;
	*out = r;
	return 0;
err:
	vg_rules_free(&r);
	return rc;
}

void vg_rules_free(struct vg_rules **pr)
{
	struct vg_rules *r = pr ? *pr : NULL;
	if (!r)
		return;
	vg_incidents_free(&r->inc);
	vg_config_free(&r->cfg);
	free(r->ctrs);
	free(r);
	*pr = NULL;
}

void vg_rules_set_config(struct vg_rules *r, struct vg_config **cfg)
{
	if (!cfg || !*cfg)
		return;
	vg_config_free(&r->cfg);
	adopt_config(r, *cfg);
	*cfg = NULL;
}

int vg_rules_reload(struct vg_rules *r, const char *path, char *err, size_t errlen)
{
	struct vg_config *c = NULL;
	int rc = vg_config_load(path, &c, err, errlen);
	if (rc)
		return rc;
	vg_rules_set_config(r, &c);
	return 0;
}

const struct vg_config *vg_rules_config(const struct vg_rules *r)
{
	return r->cfg;
}

struct vg_incidents *vg_rules_incidents(struct vg_rules *r)
{
	return r->inc;
}

uint64_t vg_rules_rate_limited(const struct vg_rules *r)
{
	uint64_t n = 0;

	for (int i = 0; i < VG_RULE__MAX; i++)
		n += __atomic_load_n(&r->stats.rate_limited[i], __ATOMIC_RELAXED);
	return n;
}

const struct vg_rules_stats *vg_rules_stats(const struct vg_rules *r)
{
	return &r->stats;
}

void vg_rules_tick(struct vg_rules *r, uint64_t now_ns)
{
	vg_incidents_tick(r->inc, now_ns);
}

/* ---- helpers ---- */

static const char *ctr_key(const struct vg_container *c)
{
	return c ? c->cg.id : "";
}

static struct ctr_state *state_of(struct vg_rules *r, const struct vg_container *c, uint64_t now)
{
	const char *key = ctr_key(c);
	struct ctr_state *victim = NULL;

	if (now > r->clock)
		r->clock = now;
	for (size_t i = 0; i < CTR_STATE_MAX; i++) {
		struct ctr_state *s = &r->ctrs[i];
		if (s->used && !strcmp(s->key, key)) {
			s->last_seen = r->clock;
			return s;
		}
		if (!victim || (!s->used && victim->used) ||
		    (s->used == victim->used && s->last_seen < victim->last_seen))
			victim = s;
	}
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->last_seen = r->clock;
	return victim;
}

/* argv[i] of an exec record, or NULL */
static const char *exec_arg(const struct vg_ev *ev, unsigned i)
{
	const char *a = ev->rec.exec.args, *end = a + ev->rec.exec.args_len;
	if (!a)
		return NULL;
	for (unsigned k = 0; a < end; k++) {
		size_t n = strnlen(a, (size_t)(end - a));
		if (k == i)
			return n < (size_t)(end - a) ? a : NULL;
		a += n + 1;
	}
	return NULL;
}

static bool label_match(const struct vg_container *c, const char *spec)
{
	const char *eq = strchr(spec, '=');
	size_t kl = eq ? (size_t)(eq - spec) : strlen(spec);
	for (unsigned i = 0; i < c->nlabels && i < VG_CTR_LABELS_MAX; i++) {
		const struct vg_label *l = &c->labels[i];
		if (strlen(l->key) == kl && !strncmp(l->key, spec, kl) &&
		    (!eq || !fnmatch(eq + 1, l->value, 0)))
			return true;
	}
	return false;
}

static bool allowed_by(const struct vg_allow *a, const struct vg_container *c)
{
	if (c->name[0] && vg_strlist_match(&a->names, c->name))
		return true;
	if (c->image[0] && vg_strlist_match(&a->images, c->image))
		return true;
	for (unsigned i = 0; i < a->labels.n; i++)
		if (label_match(c, a->labels.v[i]))
			return true;
	return false;
}

/* Does the rule watch this container / host process at all? */
static bool in_scope(struct vg_rules *r, int rule, const struct vg_container *c)
{
	const struct vg_config *cfg = r->cfg;
	if (!cfg->rule[rule].enabled)
		return false;
	if (!c && !cfg->host_processes && !cfg->rule[rule].host) {
		r->stats.host_skipped[rule]++;
		return false;
	}
	return true;
}

static int base_sev(const struct vg_rules *r, int rule)
{
	int s = r->cfg->rule[rule].severity;
	return s > VG_SEV_DEFAULT ? s : defs[rule].severity;
}

struct cand {
	int rule;
	int severity;
	bool failed;
	bool replace_text;
	bool touch; /* only refreshes the step (resource state that lasts) */
	const struct vg_ev *ev;
	const struct vg_container *ctr;
	const struct vg_cg_sample *sample;
	uint64_t ts, wall;
	char key[64];
	char step[VG_ALERT_STEP_MAX];
	char detail[VG_ALERT_DETAIL_MAX];
};

__attribute__((format(printf, 3, 4))) static void fmt(char *dst, size_t n, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	vsnprintf(dst, n, f, ap);
	va_end(ap);
}

/* Every field but the texts' tails: a candidate is set up per exec and
 * connect, and its texts are most of its 900 bytes. */
static void cand_init(struct cand *c, struct vg_rules *r, int rule, const struct vg_ev *ev)
{
	c->rule = rule;
	c->severity = base_sev(r, rule);
	c->failed = false;
	c->replace_text = false;
	c->touch = false;
	c->ev = ev;
	c->ctr = ev ? ev->ctr : NULL;
	c->sample = NULL;
	c->ts = ev ? ev->rec.hdr->ts_ns : 0;
	c->wall = ev ? ev->wall_ns : 0;
	c->key[0] = '\0';
	c->step[0] = '\0';
	c->detail[0] = '\0';
}

/* Allowlists, incident, fold, rate limit, alert, incident record. */
static const struct vg_incident *report(struct vg_rules *r, struct cand *c, vg_alert_fn emit,
					void *ctx)
{
	const struct vg_config *cfg = r->cfg;
	const struct vg_container *ctr = c->ctr;
	int rule = c->rule;

	r->stats.matched[rule]++;
	if (ctr && (allowed_by(&cfg->allow, ctr) || allowed_by(&cfg->rule[rule].allow, ctr))) {
		r->stats.allowlisted[rule]++;
		return NULL;
	}

	struct vg_incident_add add = {
		.ctr_key = ctr_key(ctr),
		.ctr_name = ctr ? ctr->name : "host",
		.image = ctr ? ctr->image : NULL,
		.rule = rule,
		.severity = c->severity,
		.key = c->key,
		.text = c->step,
		.replace_text = c->replace_text,
		.touch = c->touch,
		.now_ns = c->ts,
		.wall_ns = c->wall,
	};
	enum vg_incident_change change;
	bool new_step;
	struct vg_incident *inc = vg_incidents_add(r->inc, &add, &change, &new_step);
	struct ctr_state *st = state_of(r, ctr, c->ts);
	struct rate *rt = &st->rate[rule];

	if (change == VG_INC_COUNTED) {
		/* same step again: one more in the incident, no new alert */
		if (!c->touch)
			r->stats.folded[rule]++;
		return inc;
	}
	/* records reach here a little out of order (CPUs, samples stamped
	 * when read): one older than the window's start is inside it */
	if (c->ts >= rt->window_start && c->ts - rt->window_start >= cfg->rate_window_ns) {
		rt->window_start = c->ts;
		rt->in_window = 0;
	}
	if (rt->in_window >= cfg->rate_burst) {
		rt->pending++;
		/* read by the metrics thread too (vg_rules_rate_limited) */
		__atomic_fetch_add(&r->stats.rate_limited[rule], 1, __ATOMIC_RELAXED);
	} else {
		struct vg_alert a = {
			.rule = &defs[rule],
			.severity = c->severity,
			.ev = c->ev,
			.ctr = ctr,
			.sample = c->sample,
			.ts_ns = c->ts,
			.wall_ns = c->wall,
			.incident_id = inc->id,
			.incident = inc,
			.count = 1 + rt->pending,
			.failed = c->failed,
		};
		snprintf(a.step, sizeof(a.step), "%s", c->step);
		snprintf(a.detail, sizeof(a.detail), "%s", c->detail);
		rt->in_window++;
		rt->pending = 0;
		inc->alerts++;
		r->stats.alerts[rule]++;
		if (emit)
			emit(&a, ctx);
	}
	vg_incidents_publish(r->inc, inc, change, ctr);
	return inc;
}

/* ---- metadata_service_access, stratum ports ---- */

static bool is_v4_mapped(const uint8_t *a)
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return !memcmp(a, pfx, 12);
}

/* The destination as IPv4 (4 bytes in v4) when it is one in any encoding. */
static bool conn_v4(const struct vg_connect *c, uint8_t v4[4])
{
	if (c->family == 2) {
		memcpy(v4, c->addr, 4);
		return true;
	}
	if (c->family == 10 && is_v4_mapped(c->addr)) {
		memcpy(v4, c->addr + 12, 4);
		return true;
	}
	return false;
}

static bool is_metadata(const struct vg_config *cfg, const struct vg_connect *c)
{
	uint8_t v4[4];
	bool four = conn_v4(c, v4);
	if (!four && c->family != 10)
		return false;
	for (unsigned i = 0; i < cfg->nmeta_addrs; i++) {
		const struct vg_ipaddr *m = &cfg->meta_addrs[i];
		if (four ? (m->family == 4 && !memcmp(m->a, v4, 4))
			 : (m->family == 6 && !memcmp(m->a, c->addr, 16)))
			return true;
	}
	return false;
}

static const char *errname(int e)
{
	const char *s = e > 0 ? strerrorname_np(e) : NULL;
	return s ? s : "error";
}

/* " failed (ECONNREFUSED)", "" when it worked, " (result unknown)" */
static void conn_outcome(const struct vg_connect *c, char *dst, size_t n, bool *failed)
{
	*failed = false;
	if (!(c->cflags & VG_CONN_RESULT_KNOWN)) {
		snprintf(dst, n, " (result unknown)");
	} else if (c->result < 0 && c->result != -115 /* EINPROGRESS: non-blocking */) {
		*failed = true;
		snprintf(dst, n, " failed (%s)", errname(-c->result));
	} else {
		dst[0] = 0;
	}
}

static const char *proc_cmd(const struct vg_proc *p)
{
	if (!p)
		return "?";
	return p->args[0] ? p->args : p->exe[0] ? p->exe : p->comm;
}

static void rule_connect(struct vg_rules *r, const struct vg_ev *ev, vg_alert_fn emit, void *ctx)
{
	const struct vg_config *cfg = r->cfg;
	const struct vg_connect *c = ev->rec.connect;
	const struct vg_proc *parent = ev->nancestors ? ev->ancestors[0] : NULL;
	const char *proto = vg_encode_transport(c);
	char addr[64], outcome[48];
	struct cand k;
	bool failed;

	if (is_metadata(cfg, c) && in_scope(r, VG_RULE_METADATA, ev->ctr)) {
		vg_encode_addr(addr, sizeof(addr), c);
		conn_outcome(c, outcome, sizeof(outcome), &failed);
		cand_init(&k, r, VG_RULE_METADATA, ev);
		k.failed = failed;
		fmt(k.key, sizeof(k.key), "metadata:%s:%s", addr, failed ? "failed" : "sent");
		fmt(k.step, sizeof(k.step), "metadata access %s%s", addr,
		    failed ? " (failed)" : "");
		char par[256];
		if (parent)
			fmt(par, sizeof(par), "parent %.15s \"%.200s\"", parent->comm,
			    proc_cmd(parent));
		else /* the container's init: its parent is the runtime */
			fmt(par, sizeof(par), "parent [%u] outside the container",
			    ev->rec.hdr->ptgid);
		fmt(k.detail, sizeof(k.detail),
		    "connect to metadata service %s:%u/%s%s by %.15s [%u] \"%.200s\", %s", addr,
		    c->port, proto, outcome, ev->rec.hdr->comm, ev->rec.hdr->tgid,
		    proc_cmd(ev->proc), par);
		report(r, &k, emit, ctx);
	}

	bool loopback =
		(c->family == 2 && c->addr[0] == 127) ||
		(c->family == 10 && is_v4_mapped(c->addr) && c->addr[12] == 127) ||
		(c->family == 10 && !memcmp(c->addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16));
	/* an ICMP ping socket's "port" is its echo id, no service's */
	bool ports = c->proto != 1 && c->proto != 58;
	if (loopback || !ports || !in_scope(r, VG_RULE_MINER, ev->ctr))
		return;
	for (unsigned i = 0; i < cfg->nstratum_ports; i++) {
		if (cfg->stratum_ports[i] != c->port)
			continue;
		vg_encode_addr(addr, sizeof(addr), c);
		conn_outcome(c, outcome, sizeof(outcome), &failed);
		cand_init(&k, r, VG_RULE_MINER, ev);
		k.failed = failed;
		fmt(k.key, sizeof(k.key), "miner:port:%u", c->port);
		fmt(k.step, sizeof(k.step), "connect to mining port %u", c->port);
		fmt(k.detail, sizeof(k.detail),
		    "connect to %s:%u/%s (a mining-pool port)%s by %.15s [%u] \"%.200s\"", addr,
		    c->port, proto, outcome, ev->rec.hdr->comm, ev->rec.hdr->tgid,
		    proc_cmd(ev->proc));
		report(r, &k, emit, ctx);
		break;
	}
}

/* ---- shells ---- */

static bool shell_name(const struct vg_rules *r, const char *name)
{
	if (*name == '-') /* login shells: argv[0] = "-sh" */
		name++;
	return in_names(&r->shells, name);
}

/* busybox itself: any name that starts so ("busybox.static", a download
 * called "busybox-x86_64"), but for a configured shell of that name (the
 * default "busybox-sh"), which is a shell by its own name */
static bool is_busybox(const struct vg_rules *r, const char *name)
{
	return name[0] == 'b' && !strncmp(name, "busybox", 7) && !shell_name(r, name);
}

/*
 * The applet a busybox binary runs: argv[0]'s base name, unless that
 * starts with "busybox" (any ending: "busyboxX" too, as busybox itself
 * reads it), then the next argument's, and so on.  NULL when argv ends
 * before one; NULL with *unknown when argv was cut (in bytes or in count)
 * before one, or the one found is its last, which may be cut inside.
 */
static const char *busybox_applet(const struct vg_ev *ev, bool *unknown)
{
	const char *a = ev->rec.exec.args, *end = a ? a + ev->rec.exec.args_len : NULL;
	bool cut = ev->rec.exec.truncated;

	*unknown = false;
	while (a && a < end) {
		size_t n = strnlen(a, (size_t)(end - a));
		const char *b;

		if (n == (size_t)(end - a))
			break; /* no NUL: cut inside it */
		b = vg_exe_base(a, NULL);
		if (strncmp(b, "busybox", 7)) {
			if (cut && a + n + 1 == end)
				break;
			return b;
		}
		a += n + 1;
	}
	*unknown = cut;
	return NULL;
}

/* Exec of a file that names no program: /proc/self/exe (busybox and
 * others re-executing themselves), /proc/N/exe, /dev/fd/N (fexecve). */
static bool indirect_exec(const char *file)
{
	if (file[0] != '/' || (file[1] != 'p' && file[1] != 'd'))
		return false; /* every exec asks: most answers are here */
	size_t n = strlen(file);
	return (!strncmp(file, "/proc/", 6) && n > 10 && !strcmp(file + n - 4, "/exe")) ||
	       !strncmp(file, "/dev/fd/", 8) || !strncmp(file, "/proc/self/fd/", 14);
}

/*
 * Is this exec a shell?  By busybox's applet (argv), the resolved
 * executable (the kernel side's path: a shell reached through a symlink,
 * an fd, or a script's #! line, whose process runs the interpreter), the
 * file name asked for, or comm; an indirect exec (or a memfd) may also
 * say it with argv[0].
 */
static bool exec_is_shell(const struct vg_rules *r, const struct vg_ev *ev)
{
	const char *file = vg_exe_base(ev->rec.exec.filename, NULL);
	const char *exe = ev->rec.exec.exe ? vg_exe_base(ev->rec.exec.exe, NULL) : NULL;
	const char *comm = ev->rec.hdr->comm;
	uint32_t ef = ev->rec.exec.raw ? ev->rec.exec.raw->eflags : 0;
	bool busybox = is_busybox(r, file) || is_busybox(r, comm) || (exe && is_busybox(r, exe));

	if (busybox || indirect_exec(ev->rec.exec.filename) || (ef & VG_EXEC_EXE_MEMFD)) {
		bool unknown;
		const char *applet = busybox_applet(ev, &unknown);

		if (applet && shell_name(r, applet))
			return true;
		/* busybox: another applet, or none left in argv; one cut
		 * off with argv (padding pushed it past what is read) may be
		 * a shell, and counts as one */
		if (busybox)
			return unknown;
	}
	return (exe && shell_name(r, exe)) || shell_name(r, file) || shell_name(r, comm);
}

/*
 * A process that is a shell: by its executable when known, since comm is
 * the process's to set (a module in redis-server can name itself "sh");
 * a multi-call binary (busybox, toybox) is a shell when its applet (comm,
 * from the name it ran as) is.  An executable replaced since it started
 * reads "/bin/bash (deleted)".
 */
/* The executable's base name, without " (deleted)"; "" when unknown. */
static const char *exe_base(const struct vg_proc *p, char *dst, size_t n)
{
	size_t len;
	const char *b = vg_exe_base(p->exe, &len);

	snprintf(dst, n, "%.*s", (int)len, b);
	return dst;
}

static bool proc_is_shell(const struct vg_rules *r, const struct vg_proc *p)
{
	char exe[VG_PROC_EXE_MAX];

	if (!p->exe[0])
		return shell_name(r, p->comm);
	exe_base(p, exe, sizeof(exe));
	return shell_name(r, exe) ||
	       ((is_busybox(r, exe) || !strncmp(exe, "toybox", 6)) && shell_name(r, p->comm));
}

/*
 * A runtime or an init (the runtimes list): by its executable when known,
 * since a name is the process's own to set (redis-server can call itself
 * tini or runc:[2:INIT]), and a re-exec through /proc/self/exe is anyone's
 * to make.  By name only while the executable is unknown (runc's init
 * stages when the table has no host processes; with them, runc's own).
 */
static bool proc_is_runtime(const struct vg_rules *r, const struct vg_proc *p)
{
	char exe[VG_PROC_EXE_MAX];

	if (p->exe[0])
		return in_names(&r->runtimes, exe_base(p, exe, sizeof(exe)));
	return in_names(&r->runtimes, p->comm);
}

/* The container's main program name, "" when unknown: its executable's
 * when known (the name is its own to set) */
static void main_name(const struct vg_rules *r, const struct vg_ev *ev, char *dst, size_t n)
{
	char exe[VG_PROC_EXE_MAX];

	dst[0] = 0;
	if (ev->ctr_init && !proc_is_runtime(r, ev->ctr_init)) {
		fmt(dst, n, "%s",
		    ev->ctr_init->exe[0] ? exe_base(ev->ctr_init, exe, sizeof(exe))
					 : ev->ctr_init->comm);
		return;
	}
	if (ev->ctr && ev->ctr->cmd[0]) {
		size_t len = strcspn(ev->ctr->cmd, " ");
		char first[VG_CTR_CMD_MAX];
		snprintf(first, sizeof(first), "%.*s", (int)len, ev->ctr->cmd);
		fmt(dst, n, "%s", vg_exe_base(first, NULL));
	}
}

static const struct flagged *flagged_ancestor(const struct vg_rules *r, const struct vg_ev *ev)
{
	const char *ck = ctr_key(ev->ctr);
	for (unsigned i = 0; i < ev->nancestors && i < VG_LINEAGE_MAX; i++) {
		const struct vg_proc *p = ev->ancestors[i];
		/* the same process, not one that reused its pid */
		for (unsigned f = 0; p && f < FLAGGED_MAX; f++)
			if (r->flagged[f].tgid && r->flagged[f].tgid == p->tgid &&
			    r->flagged[f].start_ns == p->start_ns && !strcmp(r->flagged[f].ctr, ck))
				return &r->flagged[f];
	}
	return NULL;
}

static void flag_shell(struct vg_rules *r, const struct vg_ev *ev, const char *key)
{
	struct flagged *f = &r->flagged[r->flagged_next++ % FLAGGED_MAX];
	f->tgid = ev->rec.hdr->tgid;
	f->start_ns = ev->proc ? ev->proc->start_ns : UINT64_MAX; /* unknown: never matches */
	snprintf(f->key, sizeof(f->key), "%s", key);
	snprintf(f->ctr, sizeof(f->ctr), "%s", ctr_key(ev->ctr));
}

/* An entry point's start-up chain execs within moments (runc's init,
 * gosu), an entry script once its set-up is done (a wait for a database,
 * migrations): a main process that ran this long first was a service */
#define REPLACED_AFTER_NS (60 * 1000000000ull)

/*
 * The container's main process execs a shell after running a while as
 * something that is neither a shell nor a runtime or init: the service
 * replaced itself (an exploit's execve("/bin/sh") in the process it took
 * over), which would otherwise read as the entry point, and make every
 * later shell one of a shell container.
 */
static bool image_replaced(const struct vg_rules *r, const struct vg_proc *p, uint64_t exec_ts)
{
	/* a script's image is its interpreter (prev_name); an entry script
	 * whose interpreter is unknown is known by its name (prev_sh) */
	if (!p->prev_name[0] || p->prev_sh || !p->prev_ns || exec_ts < p->prev_ns ||
	    exec_ts - p->prev_ns < REPLACED_AFTER_NS)
		return false;
	return !shell_name(r, p->prev_name) && !is_busybox(r, p->prev_name) &&
	       !in_names(&r->runtimes, p->prev_name);
}

/* The container's main process that was replaced by a shell: by this exec,
 * or by an earlier one (a shell it starts later, when the first report's
 * incident has closed); NULL when not */
#define REPLACED_KEY "shell:replaced:"

/* The service a process replaced, as reported before (its flag): a shell
 * that execs another shell (sh -> bash) stays the replaced service's */
static const char *reported_replaced(const struct vg_rules *r, const struct vg_ev *ev,
				     const struct vg_proc *p)
{
	const char *ck = ctr_key(ev->ctr);

	for (unsigned f = 0; f < FLAGGED_MAX; f++)
		if (r->flagged[f].tgid == p->tgid && r->flagged[f].start_ns == p->start_ns &&
		    !strcmp(r->flagged[f].ctr, ck) &&
		    !strncmp(r->flagged[f].key, REPLACED_KEY, strlen(REPLACED_KEY)))
			return r->flagged[f].key + strlen(REPLACED_KEY);
	return NULL;
}

static const struct vg_proc *replaced_init(const struct vg_rules *r, const struct vg_ev *ev,
					   const char **name)
{
	const struct vg_proc *p = ev->proc, *init = ev->ctr_init;

	if (!p || !init)
		return NULL;
	if (init->tgid == p->tgid) {
		*name = image_replaced(r, p, ev->rec.hdr->ts_ns) ? p->prev_name
								 : reported_replaced(r, ev, p);
		return *name ? p : NULL;
	}
	if (!proc_is_shell(r, init))
		return NULL;
	*name = image_replaced(r, init, init->exec_ns) ? init->prev_name
						       : reported_replaced(r, ev, init);
	return *name ? init : NULL;
}

static void rule_shell(struct vg_rules *r, const struct vg_ev *ev, vg_alert_fn emit, void *ctx)
{
	const struct vg_config *cfg = r->cfg;
	const struct vg_hdr *h = ev->rec.hdr;
	const struct vg_proc *parent = ev->nancestors ? ev->ancestors[0] : NULL;
	int rule = ev->exec_entry ? VG_RULE_ISHELL : VG_RULE_SHELL;
	const struct flagged *fl;
	char mainp[64];
	struct cand k;

	if (!ev->ctr && !cfg->host_processes && !cfg->rule[rule].host)
		return; /* the host runs shells all day: only when asked */
	if (!exec_is_shell(r, ev) || !in_scope(r, rule, ev->ctr))
		return;

	/* a shell under a shell we already reported joins that report */
	if ((fl = flagged_ancestor(r, ev))) {
		struct vg_incident *inc = vg_incidents_find(r->inc, ctr_key(ev->ctr), h->ts_ns);
		const struct vg_incident_step *s = inc ? vg_incident_step(inc, fl->key) : NULL;
		if (s) {
			cand_init(&k, r, s->rule, ev);
			snprintf(k.key, sizeof(k.key), "%s", fl->key);
			snprintf(k.step, sizeof(k.step), "%s", s->text);
			report(r, &k, emit, ctx);
			flag_shell(r, ev, fl->key);
			return;
		}
	}

	const char *was = NULL;
	const struct vg_proc *ri = rule == VG_RULE_SHELL ? replaced_init(r, ev, &was) : NULL;

	if (ri) {
		cand_init(&k, r, rule, ev);
		fmt(k.key, sizeof(k.key), REPLACED_KEY "%.15s", was);
		fmt(k.step, sizeof(k.step), "%.15s replaced by a shell", was);
		if (ri == ev->proc && was == ri->prev_name)
			fmt(k.detail, sizeof(k.detail),
			    "the container's main process %.31s [%u], running for %llu s, replaced "
			    "itself with the shell %.200s \"%.200s\"",
			    was, h->tgid,
			    (unsigned long long)((h->ts_ns - ri->prev_ns) / 1000000000ull),
			    ev->rec.exec.filename, proc_cmd(ri));
		else
			fmt(k.detail, sizeof(k.detail),
			    "shell %.200s [%u] \"%.200s\" in a container whose main process %.31s "
			    "[%u] replaced itself with a shell",
			    ev->rec.exec.filename, h->tgid, proc_cmd(ev->proc), was, ri->tgid);
	} else if (rule == VG_RULE_SHELL) {
		/* the container's own entry point, as the lineage found it;
		 * PID 1 of its pid namespace only for a process not in the
		 * table (one made inside the container by unshare -p is
		 * PID 1 of its own, and not the entry point) */
		if (ev->proc ? ev->ctr_init && ev->ctr_init->tgid == ev->proc->tgid
			     : h->ns_pid == 1)
			return;
		main_name(r, ev, mainp, sizeof(mainp));
		if (ev->ctr_init && !proc_is_runtime(r, ev->ctr_init)
			    ? proc_is_shell(r, ev->ctr_init)
			    : shell_name(r, mainp))
			return; /* a shell container: shells are its job */
		/* a shell's child, or the entry point of an init (tini,
		 * dumb-init) that is the container's PID 1: a runtime's name
		 * on any other parent inside the container is its own doing
		 * (a symlink called tini), and no reason to stay silent */
		if (parent && (proc_is_shell(r, parent) ||
			       (ev->ctr_init && parent->tgid == ev->ctr_init->tgid &&
				proc_is_runtime(r, parent))))
			return;
		cand_init(&k, r, rule, ev);
		fmt(k.key, sizeof(k.key), "shell:%.15s", parent ? parent->comm : "?");
		fmt(k.step, sizeof(k.step), "shell from %.15s",
		    parent ? parent->comm : "unknown parent");
		fmt(k.detail, sizeof(k.detail),
		    "shell %.200s [%u] \"%.200s\" started by %.15s [%u] \"%.150s\" in a container "
		    "whose main process is %s",
		    ev->rec.exec.filename, h->tgid, proc_cmd(ev->proc), parent ? parent->comm : "?",
		    parent ? parent->tgid : h->ptgid, proc_cmd(parent),
		    mainp[0] ? mainp : "unknown");
	} else {
		bool tty = h->flags & VG_HF_TTY;
		cand_init(&k, r, rule, ev);
		fmt(k.key, sizeof(k.key), "exec-shell:%s", tty ? "tty" : "notty");
		fmt(k.step, sizeof(k.step), "%s shell via exec",
		    tty ? "interactive" : "non-interactive");
		fmt(k.detail, sizeof(k.detail),
		    "shell %.200s [%u] \"%.200s\" entered from outside the container (%s), uid %u",
		    ev->rec.exec.filename, h->tgid, proc_cmd(ev->proc),
		    tty ? "with a terminal" : "no terminal", h->uid);
	}
	if (report(r, &k, emit, ctx))
		flag_shell(r, ev, k.key);
}

/* ---- miner_indicator on exec ---- */

/*
 * Does any argument contain a marker, case ignored?  One pass over the
 * whole argument block: a position is tried only when its byte can start a
 * marker.  A marker has no NUL, so a match never spans two arguments.
 */
static bool argv_marker(const struct vg_rules *r, const struct vg_ev *ev, const char **which)
{
	const struct vg_strlist *l = &r->cfg->argv_markers;
	const size_t *len = r->mk.len;
	const unsigned char *a = (const unsigned char *)ev->rec.exec.args;
	size_t n = a ? ev->rec.exec.args_len : 0;

	for (size_t i = 0; i < n; i++) {
		if (!r->mk.first[lc(a[i])])
			continue;
		for (unsigned m = 0; m < l->n; m++)
			if (len[m] && len[m] <= n - i &&
			    !strncasecmp((const char *)a + i, l->v[m], len[m])) {
				*which = l->v[m];
				return true;
			}
	}
	return false;
}

static bool miner_name(const struct vg_rules *r, const char *name)
{
	return in_names(&r->miners, name);
}

static void rule_miner_exec(struct vg_rules *r, const struct vg_ev *ev, vg_alert_fn emit, void *ctx)
{
	const struct vg_config *cfg = r->cfg;
	const char *file = ev->rec.exec.filename, *exe = ev->rec.exec.exe;
	const char *a0 = exec_arg(ev, 0), *marker = NULL, *dir = NULL;
	uint32_t ef = ev->rec.exec.raw ? ev->rec.exec.raw->eflags : 0;
	const char *comm = ev->rec.hdr->comm;
	struct cand k;

	if (!in_scope(r, VG_RULE_MINER, ev->ctr))
		return;
	/* the path asked for, and the resolved one: "./x" in /tmp, "//tmp/x",
	 * an fd or a symlink name the directory only in the second */
	if (exe && !strcmp(exe, file))
		exe = NULL;
	for (unsigned i = 0; i < cfg->exec_dirs.n; i++) {
		size_t n = strlen(cfg->exec_dirs.v[i]);
		if (!strncmp(file, cfg->exec_dirs.v[i], n) ||
		    (exe && !strncmp(exe, cfg->exec_dirs.v[i], n)))
			dir = cfg->exec_dirs.v[i];
	}

	cand_init(&k, r, VG_RULE_MINER, ev);
	if (miner_name(r, vg_exe_base(file, NULL)) || miner_name(r, comm) ||
	    (exe && miner_name(r, vg_exe_base(exe, NULL))) ||
	    (a0 && miner_name(r, vg_exe_base(a0, NULL)))) {
		fmt(k.key, sizeof(k.key), "miner:name:%.15s", comm);
		fmt(k.step, sizeof(k.step), "miner binary %.15s", comm);
	} else if (argv_marker(r, ev, &marker)) {
		fmt(k.key, sizeof(k.key), "miner:url:%.15s", comm);
		fmt(k.step, sizeof(k.step), "mining pool URL in %.15s arguments", comm);
	} else if (ef & VG_EXEC_EXE_MEMFD) {
		fmt(k.key, sizeof(k.key), "miner:memfd:%.15s", comm);
		fmt(k.step, sizeof(k.step), "exec from memory (memfd) %.15s", comm);
	} else if (ef & VG_EXEC_EXE_DELETED) {
		fmt(k.key, sizeof(k.key), "miner:deleted:%.15s", comm);
		fmt(k.step, sizeof(k.step), "exec of deleted file %.15s", comm);
	} else if (dir) {
		fmt(k.key, sizeof(k.key), "miner:dir:%.40s", dir);
		fmt(k.step, sizeof(k.step), "exec from %.40s (%.15s)", dir, comm);
	} else {
		return;
	}
	fmt(k.detail, sizeof(k.detail), "%s: exec %.200s%s%.200s%s [%u] \"%.200s\"%s%s", k.step,
	    file, exe ? " (" : "", exe ? exe : "", exe ? ")" : "", ev->rec.hdr->tgid,
	    proc_cmd(ev->proc), marker ? " with " : "", marker ? marker : "");
	report(r, &k, emit, ctx);
}

/* ---- mount_in_container ---- */

static bool path_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (n > 1 && prefix[n - 1] == '/')
		n--;
	return !strncmp(path, prefix, n) && (path[n] == 0 || path[n] == '/');
}

static bool critical_source(const struct vg_config *cfg, const char *p)
{
	for (unsigned i = 0; p[0] == '/' && i < cfg->mount_critical_sources.n; i++)
		if (path_under(p, cfg->mount_critical_sources.v[i]))
			return true;
	return false;
}

static void rule_mount(struct vg_rules *r, const struct vg_ev *ev, vg_alert_fn emit, void *ctx)
{
	const struct vg_config *cfg = r->cfg;
	const struct vg_mount *m = ev->rec.mount;
	const char *op = vg_mount_op_name(m->op);
	bool unknown = m->mflags & VG_MNT_NO_RESULT;
	bool denied = !unknown && m->result < 0;
	bool crit = false;
	char res[40];
	struct cand k;

	if (!ev->ctr || !in_scope(r, VG_RULE_MOUNT, ev->ctr))
		return; /* the host mounts all the time; only containers are watched */
	/* the runtime sets up the container's mounts from inside it (runc's
	 * init stages "runc:[2:INIT]", crun, youki: the runtimes list), as a
	 * process with no parent in the container: one that descends from
	 * its processes, or whose executable is another program's, and calls
	 * itself so (prctl) is no runtime */
	if (ev->nancestors == 0 &&
	    (ev->proc ? proc_is_runtime(r, ev->proc) : in_names(&r->runtimes, ev->rec.hdr->comm)))
		return;

	if (m->fstype[0] && vg_strlist_has(&cfg->mount_critical_fstypes, m->fstype))
		crit = true;
	if (m->op == VG_MNT_UMOUNT || m->op == VG_MNT_SETATTR)
		crit |= critical_source(cfg, m->target); /* unmasking /proc, /sys paths */
	else
		crit |= critical_source(cfg, m->source);
	/* what could not be read could be the worst: a string kept out of
	 * memory until the kernel reads it must not lower the severity */
	crit |= (m->mflags & VG_MNT_STR_UNREAD) != 0;

	cand_init(&k, r, VG_RULE_MOUNT, ev);
	if (crit)
		k.severity = VG_SEV_CRITICAL;
	k.failed = denied;
	if (denied)
		fmt(res, sizeof(res), "denied (%s)", errname(-m->result));
	else if (unknown)
		fmt(res, sizeof(res), "attempted (result not known)");
	else
		fmt(res, sizeof(res), "succeeded");
	/* a bind or a move has no file system of its own (util-linux passes
	 * "none"): what it mounts is its source, so two binds are two steps */
	bool bind = (m->flags & (4096 | 8192)) || !strcmp(m->fstype, "none") ||
		    !strcmp(m->fstype, "bind"); /* MS_BIND | MS_MOVE */
	const char *what = m->fstype[0] && !(bind && m->source[0]) ? m->fstype
			   : m->source[0]			   ? m->source
								   : m->target;
	fmt(k.key, sizeof(k.key), "mount:%s:%.40s:%s", op, what, denied ? "denied" : "ok");
	fmt(k.step, sizeof(k.step), "%s %.40s%s%.40s%s", op, what, m->target[0] ? " on " : "",
	    m->target, denied ? " (denied)" : "");
	fmt(k.detail, sizeof(k.detail),
	    "%s source \"%.120s\" target \"%.120s\" fstype \"%.31s\"%s flags 0x%llx %s, by %.15s "
	    "[%u] \"%.150s\"",
	    op, m->source, m->target, m->fstype,
	    m->mflags & VG_MNT_STR_UNREAD ? " (arguments unreadable)" : "",
	    (unsigned long long)m->flags, res, ev->rec.hdr->comm, ev->rec.hdr->tgid,
	    proc_cmd(ev->proc));
	report(r, &k, emit, ctx);
}

/* ---- oom_kill ---- */

static void mib(char *dst, size_t n, uint64_t bytes)
{
	snprintf(dst, n, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
}

static void rule_oom(struct vg_rules *r, const struct vg_ev *ev, vg_alert_fn emit, void *ctx)
{
	const struct vg_oom *o = ev->rec.oom;
	const struct vg_hdr *h = ev->rec.hdr;
	char rss[32], lim[40] = "", use[96] = "";
	struct cand k;

	if (!in_scope(r, VG_RULE_OOM, ev->ctr))
		return;
	struct ctr_state *st = state_of(r, ev->ctr, h->ts_ns);
	struct vg_incident *inc = vg_incidents_find(r->inc, ctr_key(ev->ctr), h->ts_ns);

	cand_init(&k, r, VG_RULE_OOM, ev);
	if (inc && vg_incident_has_rule(inc, VG_RULE_SPIKE) && k.severity < VG_SEV_HIGH)
		k.severity = VG_SEV_HIGH;
	mib(rss, sizeof(rss), o->rss_kb * 1024);
	uint64_t limit = 0;
	if (st->have_sample && (st->last.have & VG_SMP_MEMMAX) && st->last.mem_max > 0)
		limit = (uint64_t)st->last.mem_max;
	else if (ev->ctr && ev->ctr->memory_limit > 0)
		limit = (uint64_t)ev->ctr->memory_limit;
	if (limit) {
		char m[32];
		mib(m, sizeof(m), limit);
		fmt(lim, sizeof(lim), " of %s", m);
	}
	if (st->have_sample && (st->last.have & VG_SMP_MEM) && h->ts_ns >= st->prev_ts) {
		char m[32];
		mib(m, sizeof(m), st->last.mem_current);
		fmt(use, sizeof(use), "; %s in use at the last sample, %llu s before", m,
		    (unsigned long long)((h->ts_ns - st->prev_ts) / 1000000000ull));
	}
	if (st->have_sample)
		k.sample = &st->last;
	fmt(k.key, sizeof(k.key), "oom:%.15s", h->comm);
	fmt(k.step, sizeof(k.step), "OOM kill of %.15s", h->comm);
	fmt(k.detail, sizeof(k.detail),
	    "OOM killer chose %.15s [%u] (rss %s) at the container's memory limit%s%s", h->comm,
	    h->tgid, rss, lim, use);
	report(r, &k, emit, ctx);
}

void vg_rules_eval(struct vg_rules *r, const struct vg_ev *ev, vg_alert_fn emit, void *ctx)
{
	if (!ev || !ev->rec.hdr)
		return;
	switch (ev->rec.type) {
	case VG_EV_EXEC:
		if (!ev->rec.exec.filename)
			return;
		rule_shell(r, ev, emit, ctx);
		rule_miner_exec(r, ev, emit, ctx);
		break;
	case VG_EV_CONNECT:
		rule_connect(r, ev, emit, ctx);
		break;
	case VG_EV_MOUNT:
		rule_mount(r, ev, emit, ctx);
		break;
	case VG_EV_OOM:
		rule_oom(r, ev, emit, ctx);
		break;
	default:
		break;
	}
}

/* ---- miner_resource_spike (samples) ---- */

static void spike(struct vg_rules *r, const struct vg_container *ctr, struct ctr_state *st,
		  struct cand *k, vg_alert_fn emit, void *ctx)
{
	struct vg_incident *inc = vg_incidents_find(r->inc, ctr_key(ctr), k->ts);
	if (inc && vg_incident_has_rule(inc, VG_RULE_MINER))
		k->severity = VG_SEV_CRITICAL;
	k->sample = &st->last;
	report(r, k, emit, ctx);
}

static void spike_init(struct cand *k, struct vg_rules *r, const struct vg_container *ctr,
		       uint64_t now_ns, uint64_t wall_ns)
{
	cand_init(k, r, VG_RULE_SPIKE, NULL);
	k->ctr = ctr;
	k->ts = now_ns;
	k->wall = wall_ns;
}

/*
 * A level alert (memory, pids near the limit) fires again only once the
 * figure has gone clearly below its threshold: 5 points, or half a
 * threshold under 10%.
 */
static bool rearmed(unsigned pct, unsigned threshold)
{
	unsigned margin = threshold >= 10 ? 5 : threshold / 2;

	return pct + margin < threshold;
}

/*
 * A sample is late (the agent stalled) past twice the interval, and at
 * least a second past it: samples are taken at the first wakeup after
 * they are due, which a very short interval would otherwise always miss.
 */
static uint64_t late_ns(const struct vg_config *cfg)
{
	uint64_t per = cfg->sample_interval_ns, second = 1000000000ull;

	return per > second ? 2 * per : per + second;
}

void vg_rules_sample(struct vg_rules *r, const struct vg_container *ctr,
		     const struct vg_cg_sample *s, uint64_t now_ns, uint64_t wall_ns,
		     vg_alert_fn emit, void *ctx)
{
	const struct vg_config *cfg = r->cfg;
	struct ctr_state *st;
	struct cand k;

	if (!ctr || !s)
		return;
	st = state_of(r, ctr, now_ns);
	st->last = *s;
	st->have_sample = true;
	/* the figures oom_kill reports are kept with the spike rule off too */
	if (!in_scope(r, VG_RULE_SPIKE, ctr)) {
		st->prev_ts = now_ns;
		return;
	}

	/* CPU: busy share of the quota (or of cpu_cores) over each interval */
	if ((s->have & VG_SMP_CPU) && st->have_prev_cpu &&
	    (s->cpu_usage_ns < st->prev_cpu_ns || now_ns - st->prev_cpu_ts > late_ns(cfg))) {
		/*
		 * The counter went back: another cgroup under the same id.  Or
		 * the sample is late (the agent stalled): over a long interval
		 * the difference cannot tell a burst on four cores from a
		 * steady load, so it neither starts nor extends a run
		 */
		st->cpu_above_since = 0;
		st->cpu_run_dipped = false;
		st->cpu_peak = 0;
		st->cpu_alerted = false;
	} else if ((s->have & VG_SMP_CPU) && st->have_prev_cpu && now_ns > st->prev_cpu_ts) {
		double cores = (double)(s->cpu_usage_ns - st->prev_cpu_ns) /
			       (double)(now_ns - st->prev_cpu_ts);
		bool quota = (s->have & VG_SMP_QUOTA) && s->cpu_quota_us > 0 && s->cpu_period_us;
		double limit =
			quota ? (double)s->cpu_quota_us / (double)s->cpu_period_us : cfg->cpu_cores;
		unsigned pct = (unsigned)(cores * 100.0 + 0.5);
		unsigned of_limit = (unsigned)(cores / limit * 100.0 + 0.5);
		/*
		 * A run above the threshold may have one interval below it (a
		 * miner that rests 5 s in 30) as long as the run's average
		 * holds; two in a row end it.  Each interval counts at most
		 * the limit (a burst on four cores is no 30 s spike), and a
		 * new limit starts a new run.
		 */
		double dt = (double)(now_ns - st->prev_cpu_ts);
		double busy = (double)(s->cpu_usage_ns - st->prev_cpu_ns);
		double capped = busy < limit * dt ? busy : limit * dt;
		bool above = of_limit >= cfg->cpu_percent, holds = false;

		if (st->cpu_above_since && st->cpu_run_limit != limit)
			st->cpu_above_since = 0; /* the quota changed */
		if (!above && st->cpu_above_since && !st->cpu_run_dipped &&
		    now_ns > st->cpu_above_since) {
			double avg = (st->cpu_run_busy + capped) /
				     (double)(now_ns - st->cpu_above_since) / limit;
			holds = (unsigned)(avg * 100.0 + 0.5) >= cfg->cpu_percent;
		}
		if (above || holds) {
			if (!st->cpu_above_since) {
				st->cpu_above_since = st->prev_cpu_ts ? st->prev_cpu_ts : 1;
				st->cpu_run_busy = 0;
				st->cpu_run_limit = limit;
			}
			st->cpu_run_busy += capped;
			st->cpu_run_dipped = !above;
			if (pct > st->cpu_peak)
				st->cpu_peak = pct;
			uint64_t dur = now_ns - st->cpu_above_since;
			if (dur >= cfg->cpu_window_ns) {
				spike_init(&k, r, ctr, now_ns, wall_ns);
				k.touch = st->cpu_alerted;
				fmt(k.key, sizeof(k.key), "spike:cpu");
				if (quota)
					fmt(k.step, sizeof(k.step), "CPU %u%% of quota for %llu s",
					    (unsigned)((double)st->cpu_peak / limit + 0.5),
					    (unsigned long long)(dur / 1000000000ull));
				else
					fmt(k.step, sizeof(k.step),
					    "CPU %u%% of %.1f cores for %llu s",
					    (unsigned)((double)st->cpu_peak / limit + 0.5), limit,
					    (unsigned long long)(dur / 1000000000ull));
				fmt(k.detail, sizeof(k.detail),
				    "CPU at %u%% of one core (peak %u%%), %u%% of its %s of %.2f "
				    "cores, for %llu s (threshold %u%% for %llu s)",
				    pct, st->cpu_peak, of_limit, quota ? "quota" : "budget", limit,
				    (unsigned long long)(dur / 1000000000ull), cfg->cpu_percent,
				    (unsigned long long)(cfg->cpu_window_ns / 1000000000ull));
				spike(r, ctr, st, &k, emit, ctx);
				st->cpu_alerted = true;
			}
		} else {
			st->cpu_above_since = 0;
			st->cpu_run_dipped = false;
			st->cpu_peak = 0;
			st->cpu_alerted = false;
		}
	}

	/* memory: working set (without inactive page cache) against the limit */
	if ((s->have & VG_SMP_MEM) && (s->have & VG_SMP_MEMMAX) && s->mem_max > 0) {
		unsigned pct = (unsigned)(s->mem_working * 100 / (uint64_t)s->mem_max);
		if (pct >= cfg->mem_percent && !st->mem_alerted) {
			char use[32], lim[32];
			mib(use, sizeof(use), s->mem_working);
			mib(lim, sizeof(lim), (uint64_t)s->mem_max);
			spike_init(&k, r, ctr, now_ns, wall_ns);
			fmt(k.key, sizeof(k.key), "spike:memory");
			fmt(k.step, sizeof(k.step), "memory %u%% of limit", pct);
			fmt(k.detail, sizeof(k.detail),
			    "memory %s of %s limit (%u%%, threshold %u%%)", use, lim, pct,
			    cfg->mem_percent);
			spike(r, ctr, st, &k, emit, ctx);
			st->mem_alerted = true;
		} else if (rearmed(pct, cfg->mem_percent)) {
			st->mem_alerted = false; /* re-armed once clearly below */
		}
	}

	/* pids: near pids.max, or many new processes within one interval */
	if (s->have & VG_SMP_PIDS) {
		if ((s->have & VG_SMP_PIDSMAX) && s->pids_max > 0) {
			unsigned pct = (unsigned)(s->pids_current * 100 / (uint64_t)s->pids_max);
			if (pct >= cfg->pids_percent && !st->pids_alerted) {
				spike_init(&k, r, ctr, now_ns, wall_ns);
				fmt(k.key, sizeof(k.key), "spike:pids");
				fmt(k.step, sizeof(k.step), "pids %u%% of limit", pct);
				fmt(k.detail, sizeof(k.detail),
				    "%llu processes of a %lld limit (%u%%)",
				    (unsigned long long)s->pids_current, (long long)s->pids_max,
				    pct);
				spike(r, ctr, st, &k, emit, ctx);
				st->pids_alerted = true;
			} else if (rearmed(pct, cfg->pids_percent)) {
				st->pids_alerted = false;
			}
		}
		/* pids_growth per sample interval: a late sample's baseline is
		 * older, and so is the growth it may show */
		uint64_t span = now_ns - st->prev_pids_ts, per = cfg->sample_interval_ns;
		if (st->have_prev_pids && s->pids_current > st->prev_pids &&
		    (double)(s->pids_current - st->prev_pids) * (double)per >=
			    (double)cfg->pids_growth * (double)(span > late_ns(cfg) ? span : per)) {
			spike_init(&k, r, ctr, now_ns, wall_ns);
			fmt(k.key, sizeof(k.key), "spike:pids-growth");
			fmt(k.step, sizeof(k.step), "pids +%llu in %llu s",
			    (unsigned long long)(s->pids_current - st->prev_pids),
			    (unsigned long long)((now_ns - st->prev_pids_ts) / 1000000000ull));
			fmt(k.detail, sizeof(k.detail),
			    "process count grew from %llu to %llu in %llu ms",
			    (unsigned long long)st->prev_pids, (unsigned long long)s->pids_current,
			    (unsigned long long)((now_ns - st->prev_pids_ts) / 1000000ull));
			spike(r, ctr, st, &k, emit, ctx);
		}
	}

	st->prev_ts = now_ns;
	if (s->have & VG_SMP_CPU) {
		st->have_prev_cpu = true;
		st->prev_cpu_ns = s->cpu_usage_ns;
		st->prev_cpu_ts = now_ns;
	}
	if (s->have & VG_SMP_PIDS) {
		st->have_prev_pids = true;
		st->prev_pids = s->pids_current;
		st->prev_pids_ts = now_ns;
	}
}
