/*
 * The agent's event loop.
 *
 * One thread reads: an epoll set over the ring buffer's fd (woken only when
 * the kernel side forces a wakeup past its fill threshold, or for the first
 * record after the agent parked) and the resolver's eventfd, with a timeout
 * of the drain interval (5-15 ms as the record rate goes, drain.h), after
 * which the ring buffer is drained whatever epoll said.  BPF programs submit
 * with BPF_RB_NO_WAKEUP, so a busy host costs one wakeup per drain interval
 * instead of one per event, and a quiet one about one a second (loop()).
 *
 * Per record: decode (record.c) -> process table (proctab.c) -> container
 * (ctrtab.c) -> lineage -> rules -> JSON lines -> outputs.  Nothing on that
 * path reads /proc or allocates; tables are caches filled at start and by
 * fork/exec/exit records, container metadata arrives from the resolver's
 * thread and is copied in between drains.
 *
 * Start-up order matters: the programs are attached and capabilities
 * dropped while the process still has one thread (capabilities belong to
 * threads), then the resolver, sinks and tail server start their threads.
 */
#include <errno.h>
#include <sys/stat.h>
#include <sched.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "vigil/agent.h"
#include "vigil/alert.h"
#include "vigil/config.h"
#include "vigil/ctrtab.h"
#include "vigil/drain.h"
#include "vigil/encode.h"
#include "vigil/health.h"
#include "vigil/incident.h"
#include "vigil/lineage.h"
#include "vigil/loader.h"
#include "vigil/log.h"
#include "vigil/model.h"
#include "vigil/outputs.h"
#include "vigil/sinks.h"
#include "vigil/posture.h"
#include "vigil/privs.h"
#include "vigil/proctab.h"
#include "vigil/record.h"
#include "vigil/resolver.h"
#include "vigil/rules.h"
#include "vigil/sampler.h"
#include "vigil/stats.h"
#include "vigil/view.h"

/* how often removed cgroups are forgotten */
#define SWEEP_NS (30 * 1000000000ll)
/* how often exited processes are forgotten, and how long an exited process
 * stays nameable for records that arrive after its exit (the ring buffer is
 * drained every few ms: seconds are plenty) */
#define REAP_NS (5 * 1000000000ll)
/* how often incidents are aged and rate limits rolled (their windows are
 * seconds to minutes: no need to scan them every drain) */
#define TICK_NS (100 * 1000000ll)
/* how often the kernel's counters (drops, filtered) are read for /metrics,
 * and always just before a stats record: one batch lookup, ~30 us here,
 * which ten times a second was 1-3% of a busy agent's CPU */
#define COUNTERS_NS (1000 * 1000000ll)
/* processes tracked at most (the least recently touched go first) */
#define PROCS_MAX 16384
/* exited processes kept nameable at most (REAP_NS bounds them in time): an
 * idle host keeps them the whole window, a process storm for a few hundred
 * ms, in a working set that stays in cache */
#define EXITED_MAX 1024
/* how often containers still pending are submitted to the resolver again,
 * and those whose lookup failed (the runtime was down, its state not yet
 * written) */
#define RESUBMIT_NS (5 * 1000000000ll)
#define RETRY_FAILED_NS (60 * 1000000000ll)
/* the longest sleep with nothing to drain (see loop()): the heartbeat and
 * incident ageing want a turn about once a second; VIGIL_PARK_MS
 * overrides it, 0 turns parking off */
#define PARK_MAX_MS 1000

/* records one drain takes at most (~10 ms of the agent's time): producers
 * that outrun it keep the ring buffer from ever reading empty, and the
 * loop's timers, heartbeat and signals need their turn between drains.
 * The next drain then follows at once. */
#define DRAIN_MAX (16 * VG_DRAIN_BATCH)
/* how long the last drain at a stop may follow producers still running */
#define STOP_DRAIN_NS (5 * 1000000000ll)

/* epoll tags */
enum { EP_RINGBUF = 1, EP_RESOLVER = 2 };

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_reload;
static volatile sig_atomic_t g_winch;

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	g_reload = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	g_winch = 1;
}

/* the signals the agent handles, blocked but in epoll_pwait() */
static void agent_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGWINCH);
}

/*
 * The signals epoll_pwait() let through only if it slept: one that finds a
 * descriptor ready puts the blocking mask back before the signal is
 * delivered, so under a flood of forced wakeups SIGTERM could wait for a
 * quiet moment.  Taken here after such a return, without a handler run.
 */
static void take_pending(void)
{
	static const struct timespec zero;
	sigset_t set;
	int sig;

	agent_signals(&set);
	while ((sig = sigtimedwait(&set, NULL, &zero)) > 0) {
		if (sig == SIGHUP)
			on_hup(sig);
		else if (sig == SIGWINCH)
			on_winch(sig);
		else
			on_stop(sig);
	}
}

void vg_agent_opts_default(struct vg_agent_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ringbuf_bytes = 8u << 20;
	/* the wait between drains follows the record rate (drain.h): 15 ms
	 * at an exec storm's rate, where a drain's wakeup weighs on each
	 * record, down to 5 ms under a flood; a burst forces an earlier
	 * wakeup (past a quarter of the ring) */
	o->drain_min_ms = VG_DRAIN_MIN_MS;
	o->drain_max_ms = VG_DRAIN_MAX_MS;
	o->stats_s = 60;
	o->proc_root = "/proc";
	o->cgroup_root = "/sys/fs/cgroup";
}

struct agent {
	const struct vg_agent_opts *o;
	struct vg_loader *ld;
	struct vg_proctab *pt;
	struct vg_ctrtab *ct;
	struct vg_resolver *res;
	struct vg_rules *rules;
	struct vg_sampler *sampler;
	struct vg_stats *stats;
	struct vg_outputs *out;
	/* what the outputs are made of; their listening sockets are made
	 * before the capability drop (listening: not handed over yet) */
	struct vg_outputs_opts oo;
	const char *specs[VG_AGENT_MAX_OUTPUTS + 1];
	bool listening;
	/* the live view's writer: a stdout sink (its own thread, a bounded
	 * queue), so a terminal that stops reading (Ctrl-S, a stalled ssh)
	 * drops view lines instead of stopping the drain */
	struct vg_sinks *view_out;
	struct vg_health *health;
	int64_t mono_to_wall; /* add to a monotonic ns timestamp */
	uint64_t seen[VG_EV__MAX];
	/* host processes' records the kernel let through, dropped here */
	uint64_t host_dropped[VG_EV__MAX];
	uint64_t decode_errors;
	uint64_t out_errors; /* records that could not be encoded or rendered */
	uint64_t alerts;
	bool ctr_cgroups_full;	  /* said once: see on_ctr_cgroup */
	struct vg_view_opts view; /* pretty format */
	/* a record's line, up to what a sink takes (a full-detail exec of
	 * 64 arguments of control bytes is about 45 KB escaped) */
	char line[VG_SINK_LINE_MAX];
	char pretty[4096];
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The wall clock less the monotonic one, which record times are in: read
 * again before every drain, since the wall clock can step (NTP's first sync
 * after boot, a resume from suspend, a restored VM) and the records'
 * @timestamp is to follow it as stats and posture records do.  Taken
 * between two monotonic reads; a change under 1 ms is read jitter and
 * kept out, so times within one tick do not go back and forth.
 */
static void sync_wall_offset(struct agent *a)
{
	int64_t m0 = clock_ns(CLOCK_MONOTONIC), w = clock_ns(CLOCK_REALTIME);
	int64_t off = w - (m0 + (clock_ns(CLOCK_MONOTONIC) - m0) / 2);
	int64_t d = off - a->mono_to_wall;

	if (d > 1000000 || d < -1000000 || !a->mono_to_wall)
		a->mono_to_wall = off;
}

static void update_width(struct agent *a)
{
	struct winsize ws;
	a->view.width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

/*
 * One JSON line out: to the outputs (sinks, tail clients), and on a
 * terminal as a live-view line.  The live view shows alerts, incidents and
 * posture findings; raw events only when the feed carries them (--events).
 */
static void emit(struct agent *a, const char *line, size_t len, const struct vg_out_meta *m)
{
	if (a->out)
		vg_outputs_emit(a->out, line, len, m);
	if (a->o->format != VG_FORMAT_PRETTY || m->kind == VG_OUT_STATS)
		return;
	struct vg_view v;
	if (vg_view_from_json(line, len, &v) != 0) {
		a->out_errors++;
		return;
	}
	size_t n = vg_view_render(a->pretty, sizeof(a->pretty), &v, &a->view);
	if (n)
		vg_sinks_emit(a->view_out, a->pretty, n, m);
}

static void meta_for(struct vg_out_meta *m, enum vg_out_kind kind, enum vg_out_sev sev,
		     const char *rule, const struct vg_container *c, uint64_t wall_ns)
{
	m->kind = kind;
	m->severity = sev;
	m->rule = rule;
	m->ctr_id = c ? c->cg.id : NULL;
	m->ctr_name = c ? c->name : NULL;
	m->wall_ns = wall_ns;
}

static void on_alert(const struct vg_alert *al, void *ctx)
{
	struct agent *a = ctx;
	struct vg_buf b;
	struct vg_out_meta m;

	vg_buf_init(&b, a->line, sizeof(a->line));
	if (vg_alert_encode(&b, al) != 0) {
		a->out_errors++;
		return;
	}
	a->alerts++;
	vg_stats_rule_hit_name(a->stats, al->rule->name);
	meta_for(&m, VG_OUT_ALERT, vg_severity_out(al->severity), al->rule->name, al->ctr,
		 al->wall_ns);
	emit(a, b.p, b.len, &m);
}

static void on_incident(const struct vg_incident *inc, void *ctx)
{
	struct agent *a = ctx;
	struct vg_buf b;
	struct vg_out_meta m;
	const struct vg_container *c =
		inc->ctr_key[0] ? vg_ctrtab_find_id(a->ct, inc->ctr_key) : NULL;

	vg_buf_init(&b, a->line, sizeof(a->line));
	if (vg_incident_encode(&b, inc, c) != 0) {
		a->out_errors++;
		return;
	}
	meta_for(&m, VG_OUT_INCIDENT, vg_severity_out(inc->severity), NULL, c,
		 inc->updated_wall_ns);
	m.ctr_id = inc->ctr_key;
	m.ctr_name = inc->ctr_name;
	emit(a, b.p, b.len, &m);
}

static int on_posture_line(void *ctx, const char *line, size_t len, const struct vg_out_meta *m)
{
	emit(ctx, line, len, m);
	return 0;
}

/* A container became known (or its lookup failed): its posture records. */
static void on_container_known(void *ctx, const struct vg_container *c)
{
	struct agent *a = ctx;
	const struct vg_config *cfg = vg_rules_config(a->rules);
	int err = c->enrich == VG_ENRICH_FAILED ? -ENOENT : 0;

	vg_posture_emit(&cfg->posture, c, err, (uint64_t)clock_ns(CLOCK_REALTIME), on_posture_line,
			a);
}

/* h (VG_HF_NO_TASK: pid and comm only) completed from the process's entry */
static void known_header(struct vg_hdr *out, const struct vg_hdr *h, const struct vg_proc *p)
{
	*out = *h;
	out->flags = (h->flags & ~VG_HF_NO_TASK) | (p->flags & VG_HF_TTY);
	out->ptgid = p->ptgid;
	out->ns_pid = p->ns_pid;
	out->ns_ppid = p->ns_ppid;
	out->uid = p->uid;
	out->gid = p->uid; /* not kept: not written apart from uid */
	out->pidns = p->pidns;
	out->mntns = p->mntns;
	out->cgroup_id = p->cgroup_id;
	out->cgroup_v1_id = p->cgroup_v1_id;
}

/* lineage: p's cgroup is ctr's or one made inside it */
static bool in_ctr(void *arg, const struct vg_proc *p, const struct vg_container *ctr)
{
	struct agent *a = arg;

	return vg_ctrtab_lookup(a->ct, p->cgroup_id, p->cgroup_v1_id) == ctr;
}

/*
 * A host process that the kernel's filter let through: in the host's pid
 * namespace with a mount namespace of its own (systemd's sandboxed
 * services, PrivateTmp=; unshare -m on the host), in a cgroup that is
 * the host's.  Dropped here when host processes are not wanted (the
 * kernel cannot tell its mount namespace from a new container's before
 * the agent has seen that container's cgroup).
 */
static bool host_drop(const struct agent *a, const struct vg_hdr *h)
{
	struct vg_filter f;

	vg_loader_get_filter(a->ld, &f);
	return !f.emit_host && h->pidns == f.host_pidns;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct agent *a = ctx;
	struct vg_ev ev;

	if (a->o->discard) {
		const struct vg_hdr *h = data;
		if (size >= sizeof(*h) && h->type < VG_EV__MAX)
			a->seen[h->type]++;
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	if (vg_record_decode(data, size, &ev.rec) != 0) {
		a->decode_errors++;
		vg_stats_decode_error(a->stats);
		return 0;
	}
	const struct vg_hdr *h = ev.rec.hdr;
	struct vg_hdr known;

	if (ev.rec.type == VG_EV_EXEC)
		ev.proc = vg_proctab_apply_exec(a->pt, h, ev.rec.exec.filename, ev.rec.exec.exe,
						ev.rec.exec.args, ev.rec.exec.args_len);
	else
		ev.proc = vg_proctab_apply(a->pt, h, NULL, NULL, 0);
	/* a victim the table does not place (the classic OOM hook names it
	 * by pid only): read where it lives from /proc while it is there */
	if ((h->flags & VG_HF_NO_TASK) && (!ev.proc || !ev.proc->cgroup_id) &&
	    vg_proctab_seed_pid(a->pt, a->o->proc_root, h->tgid) == 0)
		ev.proc = vg_proctab_get(a->pt, h->tgid);
	if ((h->flags & VG_HF_NO_TASK) && ev.proc && ev.proc->cgroup_id) {
		/* a record with the process's pid and name only (the classic
		 * OOM hook): the rest as its entry in the table has it */
		known_header(&known, h, ev.proc);
		ev.rec.hdr = h = &known;
	}

	ev.wall_ns = (uint64_t)((int64_t)h->ts_ns + a->mono_to_wall);
	struct vg_ctr_lookup cl;
	vg_ctrtab_resolve(a->ct, h->cgroup_id, h->cgroup_v1_id, &cl);
	ev.ctr = cl.ctr;
	if (!ev.ctr && !cl.unresolved && host_drop(a, h)) {
		a->host_dropped[ev.rec.type]++; /* counted as filtered, not as an event */
		return 0;
	}
	a->seen[ev.rec.type]++;
	vg_stats_event(a->stats, ev.rec.type);
	bool full = a->o->detail ? a->o->detail == 2 : vg_rules_config(a->rules)->events_full;
	/* no rule looks at fork or exit: their compact lines show the parent */
	vg_lineage_fill_upto(a->pt, &ev,
			     !full && (ev.rec.type == VG_EV_FORK || ev.rec.type == VG_EV_EXIT)
				     ? 1
				     : VG_LINEAGE_MAX,
			     in_ctr, a);

	if (a->o->events) {
		struct vg_buf b;
		struct vg_out_meta m;
		vg_buf_init(&b, a->line, sizeof(a->line));
		if (vg_encode_event(&b, &ev, full ? VG_DETAIL_FULL : VG_DETAIL_COMPACT) == 0) {
			meta_for(&m, VG_OUT_EVENT, VG_OUT_SEV_INFO, NULL, ev.ctr, ev.wall_ns);
			emit(a, b.p, b.len, &m);
		} else {
			a->out_errors++;
		}
	}
	vg_rules_eval(a->rules, &ev, on_alert, a);
	return 0;
}

struct sample_ctx {
	struct agent *a;
	uint64_t now, wall;
};

static int sample_one(void *arg, const struct vg_container *c)
{
	struct sample_ctx *s = arg;
	struct vg_cg_sample smp;

	if (vg_sampler_read_id(s->a->sampler, c->cg.id, &smp) == 0)
		vg_rules_sample(s->a->rules, c, &smp, s->now, s->wall, on_alert, s->a);
	return 0;
}

static void sync_bpf_counters(struct agent *a, uint64_t *drops)
{
	uint64_t st[VG_STAT__MAX] = {0};

	*drops = 0;
	if (!a->ld || vg_loader_stats(a->ld, st) < 0)
		return;
	for (unsigned t = 1; t < VG_EV__MAX; t++) {
		vg_stats_set_rb_drops(a->stats, t, st[VG_STAT_DROPPED + t]);
		vg_stats_set_filtered(a->stats, t, st[VG_STAT_FILTERED + t] + a->host_dropped[t]);
		*drops += st[VG_STAT_DROPPED + t];
	}
}

static void print_summary(struct agent *a)
{
	uint64_t drops, total = 0;
	char buf[512];
	size_t o = 0;

	sync_bpf_counters(a, &drops);
	for (unsigned t = 1; t < VG_EV__MAX; t++) {
		total += a->seen[t];
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s %llu", t > 1 ? ", " : "",
				      vg_event_type_name(t), (unsigned long long)a->seen[t]);
	}
	uint64_t view = a->view_out ? atomic_load(&vg_sinks_counters(a->view_out, 0)->dropped) : 0;
	char shown[80] = "";
	if (view)
		snprintf(shown, sizeof(shown),
			 ", %llu lines not shown (the terminal was not reading)",
			 (unsigned long long)view);
	fprintf(stderr,
		"vigil: stopped: %llu events (%s), %llu dropped in the kernel, %llu lines dropped "
		"by outputs, %llu decode errors, %llu records not encoded, %llu alerts%s\n",
		(unsigned long long)total, buf, (unsigned long long)drops,
		(unsigned long long)vg_stats_sinks_dropped(a->stats),
		(unsigned long long)a->decode_errors, (unsigned long long)a->out_errors,
		(unsigned long long)a->alerts, shown);
}

/*
 * The stop, reload and resize signals are blocked in every thread (the
 * others start later and inherit the mask) and let in only while the loop
 * waits, by epoll_pwait: a signal that comes while the loop is busy is
 * taken at its next wait, never lost in the moment before a long sleep
 * (a parked agent sleeps up to a second).  *wait gets the mask for the
 * wait, *old the one to restore.
 */
static int install_signals(sigset_t *wait, sigset_t *old)
{
	struct sigaction sa;
	sigset_t mine;

	agent_signals(&mine);
	if ((errno = pthread_sigmask(SIG_BLOCK, &mine, old)) != 0)
		return -errno;
	*wait = *old;
	sigdelset(wait, SIGINT);
	sigdelset(wait, SIGTERM);
	sigdelset(wait, SIGHUP);
	sigdelset(wait, SIGWINCH);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -errno;
	sa.sa_handler = on_hup;
	if (sigaction(SIGHUP, &sa, NULL))
		return -errno;
	sa.sa_handler = on_winch;
	if (sigaction(SIGWINCH, &sa, NULL))
		return -errno;
	/* a write past a file-size limit (systemd LimitFSIZE=) fails with
	 * EFBIG, dropped and counted by its sink, instead of killing us */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) || sigaction(SIGXFSZ, &sa, NULL))
		return -errno;
	return 0;
}

/* the in-kernel filter keeps what runs in a container's cgroup (ctrtab) */
static void on_ctr_cgroup(void *arg, uint64_t id, bool on)
{
	struct agent *a = arg;
	int err = vg_loader_container_cgroup(a->ld, id, on);

	if (err && !a->ctr_cgroups_full) {
		a->ctr_cgroups_full = true;
		vg_log_warn("container cgroups past the in-kernel filter's room (%s): a process "
			    "that joins the host's namespaces from them reads as the host's",
			    strerror(-err));
	}
}

/*
 * /proc/PID/cgroup shows paths relative to the reader's cgroup namespace:
 * in a sensor container's own (Docker's default on cgroup v2, and
 * containerd's), a host or container process reads as
 * "0::/../system.slice/...", a path under no root, and the process table
 * seeded at start places no process older than the agent in its cgroup.
 * With the host's pids and CAP_SYS_ADMIN, the agent joins the initial
 * cgroup namespace first: kthreadd's (PID 2 lives there whatever PID 1 is,
 * and a sandbox's init may refuse even CAP_SYS_PTRACE), else PID 1's.
 * Without CAP_SYS_ADMIN it says what that costs; without the host's pids
 * there is no host namespace to join.
 */
static void join_host_cgroupns(const char *proc_root)
{
	struct stat self, host;
	char path[PATH_MAX];
	int fd = -1;

	/* only with the host's pids: elsewhere PID 2 is no kthreadd, and
	 * another container's namespace is no better than this one */
	if (!vg_privs_host_pid(proc_root) || stat("/proc/self/ns/cgroup", &self) < 0)
		return;
	for (int pid = 2; pid >= 1 && fd < 0; pid--) {
		snprintf(path, sizeof(path), "%s/%d/ns/cgroup", proc_root, pid);
		if (stat(path, &host) < 0)
			continue;
		if (self.st_ino == host.st_ino && self.st_dev == host.st_dev)
			return;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0 || setns(fd, CLONE_NEWCGROUP) < 0)
		vg_log_warn("cannot join the host's cgroup namespace (%s): processes older than "
			    "the agent are placed in their cgroup only once they act",
			    fd < 0 ? "no readable namespace of PID 2 or 1" : strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Tables and caches: process table seeded from /proc, containers from
 * cgroupfs (each new one queued to the resolver). */
static int setup_tables(struct agent *a)
{
	const struct vg_agent_opts *o = a->o;
	struct vg_resolver_cfg rc = {.cgroup_root = o->cgroup_root};
	int err;

	if ((err = vg_proctab_new(PROCS_MAX, &a->pt)) < 0 ||
	    (err = vg_ctrtab_new(o->cgroup_root, 4096, &a->ct)) < 0 ||
	    (err = vg_resolver_new(&rc, &a->res)) < 0) {
		vg_log_err("cannot set up the process and container tables: %s", strerror(-err));
		return err;
	}
	vg_proctab_set_exited_max(a->pt, EXITED_MAX);
	vg_ctrtab_set_on_new(a->ct, vg_resolver_ctrtab_new, a->res);
	vg_ctrtab_set_on_refresh(a->ct, vg_resolver_ctrtab_new, a->res);
	vg_ctrtab_set_on_gone(a->ct, vg_resolver_ctrtab_gone, a->res);
	vg_ctrtab_set_on_ctr_id(a->ct, on_ctr_cgroup, a);
	vg_proctab_set_cgroup_roots(a->pt, vg_ctrtab_v2_root(a->ct), vg_ctrtab_v1_root(a->ct));
	if ((err = vg_ctrtab_scan(a->ct)) < 0)
		vg_log_warn("cannot read the cgroup filesystem under %s: %s", o->cgroup_root,
			    strerror(-err));
	if ((err = vg_proctab_seed(a->pt, o->proc_root)) < 0)
		vg_log_warn("cannot read %s: %s (processes older than the sensor stay unnamed)",
			    o->proc_root, strerror(-err));
	if (vg_sampler_new(o->cgroup_root, &a->sampler) < 0)
		vg_log_warn("no cgroup filesystem at %s: resource rules are off", o->cgroup_root);
	return 0;
}

static int setup_rules(struct agent *a)
{
	struct vg_config *cfg = NULL;
	char err[512];
	int rc;

	if (a->o->config) {
		rc = vg_config_load(a->o->config, &cfg, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "vigil: %s\n", err);
			return rc;
		}
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	rc = vg_rules_new(
		&cfg,
		vg_incidents_id_base((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec),
		&a->rules);
	vg_config_free(&cfg);
	if (rc < 0) {
		vg_log_err("cannot set up the rules: %s", strerror(-rc));
		return rc;
	}
	struct vg_incidents *inc = vg_rules_incidents(a->rules);
	vg_incidents_set_output(inc, on_incident, a);
	vg_incidents_set_context(inc, vg_posture_incident_ctx, a->rules);
	return 0;
}

static uint64_t sampler_errors(void *ctx)
{
	return vg_sampler_errors(ctx);
}

static uint64_t proctab_evictions(void *ctx)
{
	return vg_proctab_evictions(ctx);
}

static uint64_t rate_limited(void *ctx)
{
	return vg_rules_rate_limited(ctx);
}

/* Counters of the tables that matter to what the rules can see: a cgroup
 * file that cannot be read or parsed (resource rules blind for it), and
 * processes evicted from a full table (lineage lost). */
static void add_values(struct agent *a)
{
	if (a->sampler)
		vg_stats_add_counter(a->stats, "sampler_errors",
				     "cgroup files that could not be read or parsed",
				     sampler_errors, a->sampler);
	vg_stats_add_counter(a->stats, "proctab_evictions",
			     "processes evicted from the full process table", proctab_evictions,
			     a->pt);
	vg_stats_add_counter(a->stats, "alerts_rate_limited",
			     "alerts held back by the per-rule, per-container rate limit",
			     rate_limited, a->rules);
}

/*
 * The tail server's and the metrics endpoint's sockets, while the agent
 * still holds what their group (CAP_CHOWN: root is no member of "vigil")
 * and a port below 1024 (CAP_NET_BIND_SERVICE) need: the capability drop
 * comes next, and the threads that serve them after it.
 */
static int listen_outputs(struct agent *a)
{
	const struct vg_agent_opts *o = a->o;
	unsigned n = 0;
	char err[512];
	int rc;

	for (unsigned i = 0; i < o->noutputs && i < VG_AGENT_MAX_OUTPUTS; i++)
		a->specs[n++] = o->outputs[i];
	/* the JSON feed goes to stdout unless outputs were named; the live
	 * view owns stdout on a terminal */
	if (!n && o->format == VG_FORMAT_JSON)
		a->specs[n++] = "stdout";
	a->oo = (struct vg_outputs_opts){
		.specs = a->specs,
		.nspecs = n,
		.tail_socket = o->tail_socket,
		.metrics = o->metrics,
		.stats_s = o->stats_s,
	};
	if ((rc = vg_outputs_listen(&a->oo, err, sizeof(err))) < 0) {
		fprintf(stderr, "vigil: %s\n", err);
		return rc;
	}
	a->listening = true;
	return 0;
}

static int setup_outputs(struct agent *a)
{
	char err[512];
	int rc;

	if ((rc = vg_stats_new(&a->stats)) < 0)
		return rc;
	a->listening = false; /* vg_outputs_new takes the sockets, failing or not */
	rc = vg_outputs_new(&a->oo, a->stats, &a->out, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "vigil: %s\n", err);
	return rc;
}

/* a configured address's socket family, as the kernel's map keys it */
static int meta_af(const struct vg_ipaddr *m)
{
	return m->family == 6 ? AF_INET6 : AF_INET;
}

static bool meta_addr_kept(void *ctx, int family, const uint8_t addr[16])
{
	const struct vg_config *cfg = ctx;

	for (unsigned i = 0; i < cfg->nmeta_addrs; i++) {
		const struct vg_ipaddr *m = &cfg->meta_addrs[i];

		if (meta_af(m) == family && !memcmp(m->a, addr, m->family == 6 ? 16 : 4))
			return true;
	}
	return false;
}

/* The metadata addresses, also watched in the kernel for unconnected UDP
 * sendmsg: at start, and after each reload (the list may have changed). */
static void watch_meta_addrs(struct agent *a)
{
	const struct vg_config *cfg = vg_rules_config(a->rules);
	int err = 0;

	for (unsigned i = 0; !err && i < cfg->nmeta_addrs; i++)
		err = vg_loader_watch_addr(a->ld, meta_af(&cfg->meta_addrs[i]),
					   cfg->meta_addrs[i].a);
	if (!err)
		err = vg_loader_watch_prune(a->ld, meta_addr_kept, (void *)cfg);
	if (err)
		vg_log_warn("metadata addresses for UDP sendmsg: %s", strerror(-err));
}

/*
 * Host processes' records leave the kernel when --host asks for them, and
 * when the configuration has a rule watch host processes: without them the
 * kernel's filter drops every record such a rule would look at.
 */
static bool host_wanted(const struct agent *a)
{
	const struct vg_config *cfg = vg_rules_config(a->rules);

	if (a->o->host || cfg->host_processes)
		return true;
	/* the resource rule samples containers only */
	for (int r = 0; r < VG_RULE__MAX; r++)
		if (cfg->rule[r].enabled && cfg->rule[r].host && r != VG_RULE_SPIKE)
			return true;
	return false;
}

/* after a reload: the kernel's filter follows the configuration */
static void host_filter_sync(struct agent *a)
{
	struct vg_filter f;
	bool want = host_wanted(a);

	vg_loader_get_filter(a->ld, &f);
	if (!!f.emit_host == want)
		return;
	f.emit_host = want;
	vg_loader_set_filter(a->ld, &f);
	vg_log_info("host processes: %s", want ? "traced" : "dropped in the kernel");
}

static void reload(struct agent *a)
{
	char err[512];

	if (!a->o->config) {
		vg_log_info("SIGHUP: no configuration file to reload");
		return;
	}
	if (vg_rules_reload(a->rules, a->o->config, err, sizeof(err)) < 0) {
		vg_log_err("reload refused, the running configuration stays: %s", err);
		return;
	}
	watch_meta_addrs(a);
	host_filter_sync(a);
	vg_log_info("reloaded %s", a->o->config);
}

static int park_max_ms(void)
{
	const char *v = getenv("VIGIL_PARK_MS");
	char *end;
	long ms;

	if (!v || !*v)
		return PARK_MAX_MS;
	ms = strtol(v, &end, 10);
	return *end || ms < 0 || ms > 3600000 ? PARK_MAX_MS : (int)ms;
}

/* milliseconds from now to due, at least 0 */
static int ms_until(int64_t due, int64_t now)
{
	int64_t ms = (due - now + 999999) / 1000000;

	return ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/*
 * The drain loop.  While records come, the ring buffer is drained every
 * few ms, the wait set by the record rate (drain.h; programs submit without
 * a wakeup, past a quarter full they force one).  A drain that found
 * nothing parks the agent: the ring buffer is told that the next record
 * must wake it (vg_loader_park) and the wait lasts until then, or until
 * the next timer that must run on time (the resource sampler, the stats
 * record), at most park_max_ms: an idle host costs about one wakeup a
 * second instead of one per drain, and the first record after a quiet
 * spell is not held for a drain period.  Nor are the ones behind it: the
 * drain that ends a park waits the shortest interval before the next, and
 * that one measures the rate (vg_drain_unpark).
 */
/* 0 when stopped by a signal, 1 when the loop itself failed (epoll, the
 * ring buffer): the exit status says which, after the same orderly end */
static int loop(struct agent *a, int ep, const sigset_t *waitmask)
{
	const struct vg_config *cfg = vg_rules_config(a->rules);
	int64_t now = clock_ns(CLOCK_MONOTONIC);
	int64_t next_sweep = now + SWEEP_NS, next_resubmit = now + RESUBMIT_NS;
	int64_t next_retry_failed = now + RETRY_FAILED_NS;
	int64_t next_reap = now + REAP_NS, next_tick = now, next_counters = now;
	int64_t next_sample = now + (int64_t)cfg->sample_interval_ns;
	const int park_max = park_max_ms();
	int stats_ms = INT32_MAX, got = 1, failed = 0;
	int64_t last_drain = now;
	struct vg_drain pace;
	uint64_t drops;

	vg_drain_init(&pace, a->o->drain_min_ms, a->o->drain_max_ms);
	while (!g_stop) {
		struct epoll_event evs[8];
		int timeout = got == DRAIN_MAX ? 0 : (int)pace.ms; /* cut short: on at once */
		bool parked = false;

		if (got == 0 && park_max > timeout) {
			int ms = stats_ms < park_max ? stats_ms : park_max;

			if (a->sampler && ms_until(next_sample, now) < ms)
				ms = ms_until(next_sample, now);
			if (ms > timeout && vg_loader_park(a->ld)) {
				parked = true;
				timeout = ms;
			}
		}
		int n = epoll_pwait(ep, evs, 8, timeout, waitmask);
		if (parked)
			vg_loader_unpark(a->ld);
		if (n > 0)
			take_pending();
		if (n < 0 && errno != EINTR) {
			vg_log_err("epoll_pwait: %s", strerror(errno));
			failed = 1;
			break;
		}
		/* the records about to be stamped take the wall clock as it is
		 * now: the first drain after a park, a resume or NTP's first
		 * step included (three clock reads a drain) */
		sync_wall_offset(a);
		/* drain whether or not the kernel side woke us */
		if ((got = vg_loader_poll(a->ld, 0, DRAIN_MAX, on_record, a)) < 0 &&
		    got != -EINTR) {
			vg_log_err("ring buffer: %s", strerror(-got));
			failed = 1;
			break;
		}
		/* the resolver's eventfd is level-triggered: results waiting
		 * keep it readable, so it is only read when epoll says so (no
		 * syscall per drain for an idle resolver) */
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == EP_RESOLVER) {
				vg_resolver_drain(a->res, a->ct, 0, on_container_known, a);
				break;
			}
		}
		if (a->health)
			vg_health_beat(a->health);

		now = clock_ns(CLOCK_MONOTONIC);
		if (parked && got > 0)
			vg_drain_unpark(&pace);
		else
			vg_drain_next(&pace, got > 0 ? (uint64_t)got : 0,
				      (uint64_t)(now - last_drain));
		last_drain = now;
		if (now >= next_tick) {
			vg_rules_tick(a->rules, (uint64_t)now);
			next_tick = now + TICK_NS;
		}
		if (now >= next_counters) {
			sync_bpf_counters(a, &drops); /* for the stats record and metrics */
			next_counters = now + COUNTERS_NS;
		}
		if (a->sampler && now >= next_sample) {
			struct sample_ctx s = {a, (uint64_t)now, (uint64_t)(now + a->mono_to_wall)};
			vg_ctrtab_foreach(a->ct, sample_one, &s);
			cfg = vg_rules_config(a->rules);
			next_sample = now + (int64_t)cfg->sample_interval_ns;
		}
		if (now >= next_resubmit) {
			bool failed_too = now >= next_retry_failed;

			vg_resolver_resubmit(a->res, a->ct, failed_too);
			next_resubmit = now + RESUBMIT_NS;
			if (failed_too)
				next_retry_failed = now + RETRY_FAILED_NS;
		}
		/* forget exited processes and removed cgroups, off the
		 * per-record path */
		if (now >= next_reap) {
			vg_proctab_reap(a->pt, (uint64_t)now, REAP_NS);
			next_reap = now + REAP_NS;
		}
		if (now >= next_sweep) {
			vg_ctrtab_scan(a->ct);
			next_sweep = now + SWEEP_NS;
		}
		stats_ms = vg_outputs_tick(a->out, (uint64_t)now);
		/* the next stats record finds the counters read in its loop
		 * (stats_ms is rounded up: one less is before it is due) */
		if (stats_ms > 0 && now + (stats_ms - 1) * 1000000ll < next_counters)
			next_counters = now + (stats_ms - 1) * 1000000ll;
		if (a->view_out)
			vg_sinks_kick(a->view_out);
		if (g_reload) {
			g_reload = 0;
			reload(a);
			/* a shorter sample_interval counts from now, not after
			 * the old one's next sample (up to a week away) */
			cfg = vg_rules_config(a->rules);
			if (next_sample - now > (int64_t)cfg->sample_interval_ns)
				next_sample = now + (int64_t)cfg->sample_interval_ns;
		}
		if (g_winch) {
			g_winch = 0;
			update_width(a);
		}
	}
	/* what is in the ring buffer now; producers still running are
	 * followed for a while, not for ever */
	const int64_t stop_by = clock_ns(CLOCK_MONOTONIC) + STOP_DRAIN_NS;
	while (vg_loader_poll(a->ld, 0, DRAIN_MAX, on_record, a) == DRAIN_MAX &&
	       clock_ns(CLOCK_MONOTONIC) < stop_by)
		;
	vg_incidents_flush(vg_rules_incidents(a->rules));
	sync_bpf_counters(a, &drops);
	vg_outputs_stats_now(a->out);
	if (a->view_out) {
		vg_sinks_kick(a->view_out);
		vg_sinks_flush(a->view_out, 1000);
	}
	fflush(stdout);
	return failed;
}

/*
 * Run at nice -boost, as auditd's priority_boost does: still one thread, so
 * every thread started later inherits it (a nice value is per thread).  The
 * agent's CPU per event is the same either way; what it changes is that a
 * burst which saturates the host's cores is drained as it comes instead of
 * queueing behind the workload (the unpaced burst, one run each on the
 * 2-core VM: p99 39 -> 19 ms).  Needs CAP_SYS_NICE, which is kept only until the capability
 * drop; without it the agent stays at nice 0 and says so.
 */
static void raise_priority(unsigned boost, char *desc, size_t n)
{
	if (!boost)
		snprintf(desc, n, "priority not raised (priority_boost: 0)");
	else if (setpriority(PRIO_PROCESS, 0, -(int)boost) == 0)
		snprintf(desc, n, "nice -%u", boost);
	else
		snprintf(desc, n, "priority not raised: %s", strerror(errno));
}

int vg_agent_run(const struct vg_agent_opts *o)
{
	struct agent *a = calloc(1, sizeof(*a));
	int err, rc = 2, ep = -1;
	sigset_t waitmask, oldmask;
	char msg[256];

	if (!a) {
		vg_log_err("out of memory");
		return 2;
	}
	a->o = o;
	sigemptyset(&oldmask);
	if ((err = install_signals(&waitmask, &oldmask)) < 0) {
		vg_log_err("cannot install signal handlers: %s", strerror(-err));
		goto out;
	}
	if (!o->discard && vg_privs_required(msg, sizeof(msg)) < 0) {
		fprintf(stderr, "vigil: %s\n", msg);
		goto out;
	}
	/* while CAP_SYS_ADMIN is still held (dropped after attach) */
	join_host_cgroupns(o->proc_root);

	/* the configuration first: it chooses hooks (syscall_results) */
	if (setup_rules(a) < 0)
		goto out;
	char prio[96];
	raise_priority(vg_rules_config(a->rules)->priority_boost, prio, sizeof(prio));
	struct vg_loader_opts lo = {
		.ringbuf_bytes = o->ringbuf_bytes,
		.emit_host = host_wanted(a),
		.agent_tgid = (uint32_t)getpid(),
		.verbose = o->verbose,
		.syscall_results = o->syscall_results || vg_rules_config(a->rules)->syscall_results,
	};
	if ((err = vg_loader_open(&lo, &a->ld)) < 0) {
		fprintf(stderr, "vigil: %s\n", vg_loader_strerror(err, msg, sizeof(msg)));
		goto out;
	}
	if (listen_outputs(a) < 0)
		goto out;
	/* still one thread: drop what the attached sensor no longer needs */
	char privs[256] = "capabilities kept";
	uint64_t keep = vg_privs_keep_default(vg_loader_ringbuf_fd(a->ld));
	if ((err = vg_privs_drop(keep, privs, sizeof(privs))) < 0)
		snprintf(privs, sizeof(privs), "capabilities not dropped: %s", strerror(-err));

	if (setup_tables(a) < 0 || setup_outputs(a) < 0)
		goto out;
	add_values(a);
	const char *hb = o->heartbeat ? o->heartbeat : VG_HEALTH_PATH;
	int herr = *hb ? vg_health_open(hb, &a->health) : 0; /* "": none */

	if (herr == 1)
		vg_log_warn("%s is another running agent's heartbeat: this one takes it over "
			    "when that one stops (--heartbeat none: leave it alone)",
			    hb);
	else if (herr < 0) /* `vigil health` then reports the agent as down */
		vg_log_warn("no heartbeat at %s: %s", hb, strerror(-herr));
	struct vg_loader_info li;
	vg_loader_info(a->ld, &li);
	vg_health_set_hooks(a->health, vg_loader_mode_word(&li));

	struct vg_encode_host eh = {{0}};
	gethostname(eh.hostname, sizeof(eh.hostname) - 1);
	vg_encode_set_host(&eh);
	sync_wall_offset(a);
	/* NO_COLOR set, as for vigil tail and posture */
	a->view.color = o->format == VG_FORMAT_PRETTY && !o->no_color && !getenv("NO_COLOR") &&
			isatty(STDOUT_FILENO);
	update_width(a);
	if (o->format == VG_FORMAT_PRETTY &&
	    ((err = vg_sinks_new(NULL, &a->view_out)) < 0 ||
	     (err = vg_sinks_add(a->view_out, "stdout,queue=256K")) < 0)) {
		vg_log_err("live view: %s", strerror(-err));
		goto out;
	}

	watch_meta_addrs(a);

	ep = epoll_create1(EPOLL_CLOEXEC);
	/*
	 * Edge-triggered: the ring buffer polls readable whenever it holds a
	 * record, so level-triggered, a wakeup once taken would keep every
	 * later wait from sleeping while records keep coming (a drain per few
	 * records instead of per drain interval).  The wakeups the programs
	 * force (a park, a quarter full) are the edges that must cut a wait
	 * short; the drain interval does the rest.
	 */
	struct epoll_event ee = {.events = EPOLLIN | EPOLLET, .data.u32 = EP_RINGBUF};
	struct epoll_event er = {.events = EPOLLIN, .data.u32 = EP_RESOLVER};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, vg_loader_ringbuf_fd(a->ld), &ee) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, vg_resolver_fd(a->res), &er) < 0) {
		vg_log_err("epoll: %s", strerror(errno));
		goto out;
	}
	if ((err = vg_resolver_start(a->res)) < 0) {
		vg_log_err("cannot start the container resolver: %s", strerror(-err));
		goto out;
	}

	fprintf(stderr, "vigil: ready: %s; %s; %s; feed: %s\n", vg_loader_describe(a->ld), privs,
		prio, o->events ? "alerts, incidents and events" : "alerts and incidents");
	rc = loop(a, ep, &waitmask);
	/* the outputs write what they can first: what they cannot is in the
	 * summary's drops (the last stats record was written before) */
	vg_sinks_stop(a->view_out);
	vg_sinks_stop(vg_outputs_sinks(a->out));
	print_summary(a);
out:
	if (a->listening)
		vg_outputs_unlisten(&a->oo);
	if (ep >= 0)
		close(ep);
	vg_sinks_free(&a->view_out);
	vg_outputs_free(&a->out);
	vg_resolver_free(&a->res);
	vg_health_free(&a->health);
	vg_rules_free(&a->rules);
	vg_sampler_free(&a->sampler);
	vg_ctrtab_free(&a->ct);
	vg_proctab_free(&a->pt);
	vg_loader_free(&a->ld);
	vg_stats_free(&a->stats);
	free(a);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	return rc;
}
