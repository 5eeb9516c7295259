/*
 * The agent's event loop.
 *
 * One thread reads: an epoll set over the ring buffer's fd (woken only when
 * the kernel side forces a wakeup past its fill threshold) with a timeout
 * of drain_ms, after which the ring buffer is drained whatever epoll said.
 * BPF programs submit with BPF_RB_NO_WAKEUP, so a busy host costs one
 * wakeup per drain interval instead of one per event.
 *
 * Per record: decode (record.c) -> process table (proctab.c) -> container
 * (ctrtab.c) -> lineage -> JSON line -> outputs.  Nothing on that path
 * reads /proc or allocates; tables are caches filled at start and by
 * fork/exec/exit records.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "vigil/agent.h"
#include "vigil/ctrtab.h"
#include "vigil/encode.h"
#include "vigil/lineage.h"
#include "vigil/loader.h"
#include "vigil/log.h"
#include "vigil/model.h"
#include "vigil/proctab.h"
#include "vigil/record.h"
#include "vigil/view.h"

/* how often exited processes and removed cgroups are forgotten, and how
 * long an exited process stays nameable for late records */
#define SWEEP_NS (30 * 1000000000ll)

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

void vg_agent_opts_default(struct vg_agent_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ringbuf_bytes = 8u << 20;
	o->drain_ms = 5;
	o->stats_s = 0;
	o->proc_root = "/proc";
	o->cgroup_root = "/sys/fs/cgroup";
}

struct agent {
	const struct vg_agent_opts *o;
	struct vg_loader *ld;
	struct vg_proctab *pt;
	struct vg_ctrtab *ct;
	int64_t mono_to_wall;  /* add to a monotonic ns timestamp */
	uint64_t seen[VG_EV__MAX];
	uint64_t decode_errors;
	uint64_t out_errors;
	struct vg_view_opts view; /* pretty format */
	char line[16384];
	char pretty[4096];
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void update_width(struct agent *a)
{
	struct winsize ws;
	a->view.width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

/* One JSON line to the terminal (live view) or the feed. */
static void emit_line(struct agent *a, const char *line, size_t len)
{
	if (a->o->format == VG_FORMAT_PRETTY) {
		struct vg_view v;
		if (vg_view_from_json(line, len, &v) != 0) {
			a->out_errors++;
			return;
		}
		len = vg_view_render(a->pretty, sizeof(a->pretty), &v, &a->view);
		line = a->pretty;
	}
	if (fwrite(line, 1, len, stdout) != len)
		a->out_errors++;
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
		return 0;
	}
	const struct vg_hdr *h = ev.rec.hdr;
	a->seen[ev.rec.type]++;

	if (ev.rec.type == VG_EV_EXEC)
		vg_proctab_apply(a->pt, h, ev.rec.exec.filename, ev.rec.exec.args,
				 ev.rec.exec.args_len);
	else
		vg_proctab_apply(a->pt, h, NULL, NULL, 0);

	ev.wall_ns = (uint64_t)((int64_t)h->ts_ns + a->mono_to_wall);
	ev.proc = vg_proctab_get(a->pt, h->tgid);
	ev.ctr = vg_ctrtab_lookup(a->ct, h->cgroup_id, h->cgroup_v1_id);
	if (!ev.ctr && ev.proc && (h->flags & VG_HF_NO_TASK))
		ev.ctr = vg_ctrtab_lookup(a->ct, ev.proc->cgroup_id, ev.proc->cgroup_v1_id);
	vg_lineage_fill(a->pt, &ev);

	if (a->o->events) {
		struct vg_buf b;
		vg_buf_init(&b, a->line, sizeof(a->line));
		if (vg_encode_event(&b, &ev) == 0)
			emit_line(a, b.p, b.len);
		else
			a->out_errors++;
	}
	return 0;
}

static void print_summary(struct agent *a)
{
	uint64_t st[VG_STAT__MAX] = {0};
	uint64_t drops = 0, total = 0;
	char buf[512];
	size_t o = 0;

	if (a->ld)
		vg_loader_stats(a->ld, st);
	for (unsigned t = 1; t < VG_EV__MAX; t++) {
		drops += st[VG_STAT_DROPPED + t];
		total += a->seen[t];
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s %llu", t > 1 ? ", " : "",
				      vg_event_type_name(t), (unsigned long long)a->seen[t]);
	}
	fprintf(stderr, "vigil: stopped: %llu events (%s), %llu dropped, %llu decode errors\n",
		(unsigned long long)total, buf, (unsigned long long)drops,
		(unsigned long long)a->decode_errors);
}

static int install_signals(void)
{
	struct sigaction sa;
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
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		return -errno;
	return 0;
}

int vg_agent_run(const struct vg_agent_opts *o)
{
	struct agent *a = calloc(1, sizeof(*a));
	int err, rc = 2, ep = -1;

	if (!a) {
		vg_log_err("out of memory");
		return 2;
	}
	a->o = o;
	if ((err = install_signals()) < 0) {
		vg_log_err("cannot install signal handlers: %s", strerror(-err));
		goto out;
	}

	struct vg_loader_opts lo = {
		.ringbuf_bytes = o->ringbuf_bytes,
		.emit_host = o->host,
		.agent_tgid = (uint32_t)getpid(),
		.verbose = o->verbose,
	};
	if ((err = vg_loader_open(&lo, &a->ld)) < 0) {
		char why[256];
		fprintf(stderr, "vigil: %s\n", vg_loader_strerror(err, why, sizeof(why)));
		goto out;
	}
	if ((err = vg_proctab_new(32768, &a->pt)) < 0 ||
	    (err = vg_ctrtab_new(o->cgroup_root, 4096, &a->ct)) < 0) {
		vg_log_err("cannot set up the process and container tables: %s", strerror(-err));
		goto out;
	}
	vg_proctab_set_cgroup_roots(a->pt, vg_ctrtab_v2_root(a->ct), vg_ctrtab_v1_root(a->ct));
	if ((err = vg_ctrtab_scan(a->ct)) < 0)
		vg_log_warn("cannot read the cgroup filesystem under %s: %s", o->cgroup_root,
			    strerror(-err));
	err = vg_proctab_seed(a->pt, o->proc_root);
	if (err < 0)
		vg_log_warn("cannot read %s: %s (processes older than the sensor stay unnamed)",
			    o->proc_root, strerror(-err));

	struct vg_encode_host eh = {{0}};
	gethostname(eh.hostname, sizeof(eh.hostname) - 1);
	vg_encode_set_host(&eh);
	a->mono_to_wall = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);

	a->view.color = o->format == VG_FORMAT_PRETTY && !o->no_color && isatty(STDOUT_FILENO);
	update_width(a);
	static char outbuf[1 << 20];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		vg_log_err("epoll: %s", strerror(errno));
		goto out;
	}
	struct epoll_event ee = {.events = EPOLLIN, .data.u32 = 0};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, vg_loader_ringbuf_fd(a->ld), &ee) < 0) {
		vg_log_err("epoll: %s", strerror(errno));
		goto out;
	}

	fprintf(stderr, "vigil: ready: %s\n", vg_loader_describe(a->ld));
	rc = 0;
	int64_t next_sweep = clock_ns(CLOCK_MONOTONIC) + SWEEP_NS;
	while (!g_stop) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, (int)o->drain_ms);
		if (n < 0 && errno != EINTR) {
			vg_log_err("epoll_wait: %s", strerror(errno));
			rc = 1;
			break;
		}
		/* drain whether or not the kernel side woke us */
		if ((err = vg_loader_poll(a->ld, 0, on_record, a)) < 0 && err != -EINTR) {
			vg_log_err("ring buffer: %s", strerror(-err));
			rc = 1;
			break;
		}
		fflush(stdout);
		if (g_reload)
			g_reload = 0;
		if (g_winch) {
			g_winch = 0;
			update_width(a);
		}
		int64_t now = clock_ns(CLOCK_MONOTONIC);
		if (now >= next_sweep) {
			/* forget exited processes and removed cgroups, off the
			 * per-record path */
			vg_proctab_reap(a->pt, (uint64_t)now, SWEEP_NS);
			vg_ctrtab_scan(a->ct);
			next_sweep = now + SWEEP_NS;
		}
	}
	vg_loader_poll(a->ld, 0, on_record, a);
	fflush(stdout);
	print_summary(a);
out:
	if (ep >= 0)
		close(ep);
	vg_ctrtab_free(&a->ct);
	vg_proctab_free(&a->pt);
	vg_loader_free(&a->ld);
	free(a);
	return rc;
}
