/* rules: every rule on synthetic events, with the negatives that must stay silent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/rules.h"

#define S 1000000000ull
#define MAXA 64

/* ---- what the rules wrote ---- */

struct got {
	unsigned n;
	struct vg_alert a[MAXA];
	unsigned incidents;
	struct vg_incident inc;
};

static void on_alert(const struct vg_alert *a, void *ctx)
{
	struct got *g = ctx;
	if (g->n < MAXA)
		g->a[g->n] = *a;
	g->n++;
}

static void on_incident(const struct vg_incident *inc, void *ctx)
{
	struct got *g = ctx;
	g->incidents++;
	g->inc = *inc;
}

/* ---- synthetic events ---- */

struct world {
	struct vg_rules *r;
	struct got got;
	struct vg_container ctr;
	struct vg_proc init, parent, proc, grand;
	struct vg_exec exec;
	struct vg_connect conn;
	struct vg_mount mnt;
	struct vg_oom oom;
	struct vg_ev ev;
	uint64_t now;
};

static void proc_set(struct vg_proc *p, uint32_t tgid, const char *comm, const char *exe,
		     const char *args)
{
	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	snprintf(p->exe, sizeof(p->exe), "%s", exe);
	snprintf(p->args, sizeof(p->args), "%s", args);
}

static struct world *world_new(struct vg_config *cfg)
{
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	assert_int_equal(vg_rules_new(cfg ? &cfg : NULL, 0, &w->r), 0);
	vg_incidents_set_output(vg_rules_incidents(w->r), on_incident, &w->got);
	snprintf(w->ctr.cg.id, sizeof(w->ctr.cg.id), "%s",
		 "aaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccdddd");
	w->ctr.cg.runtime = VG_RT_DOCKER;
	snprintf(w->ctr.name, sizeof(w->ctr.name), "redis");
	snprintf(w->ctr.image, sizeof(w->ctr.image), "redis:7");
	snprintf(w->ctr.cmd, sizeof(w->ctr.cmd), "redis-server --protected-mode no");
	proc_set(&w->init, 100, "redis-server", "/usr/bin/redis-server", "redis-server *:6379");
	w->parent = w->init;
	w->now = 1000 * S;
	return w;
}

static void world_free(struct world **w)
{
	vg_rules_free(&(*w)->r);
	free(*w);
	*w = NULL;
}

static void hdr_set(struct world *w, struct vg_hdr *h, uint16_t type, uint32_t tgid,
		    const char *comm)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->ts_ns = (w->now += S / 1000);
	h->tgid = h->tid = tgid;
	h->ptgid = w->parent.tgid;
	h->ns_pid = tgid - 99;
	snprintf(h->comm, sizeof(h->comm), "%s", comm);
}

/* The event's surroundings: container, init, parent chain. */
static void ev_frame(struct world *w, bool in_ctr)
{
	w->ev.wall_ns = 1700000000 * S + w->now;
	w->ev.ctr = in_ctr ? &w->ctr : NULL;
	w->ev.ctr_init = in_ctr ? &w->init : NULL;
	w->ev.proc = &w->proc;
	w->ev.ancestors[0] = &w->parent;
	w->ev.nancestors = 1;
	if (w->parent.tgid != w->init.tgid && in_ctr) {
		w->ev.ancestors[1] = &w->init;
		w->ev.nancestors = 2;
	}
	w->ev.exec_entry = false;
}

/* exec of file with a NULL-terminated argv, by tgid */
static const struct vg_ev *ev_exec(struct world *w, uint32_t tgid, const char *file,
				   const char *const *argv, bool in_ctr)
{
	struct vg_exec *e = &w->exec;
	const char *slash = strrchr(file, '/');
	char args[256] = "";
	size_t off, alen = 0;

	memset(e, 0, offsetof(struct vg_exec, data));
	hdr_set(w, &e->hdr, VG_EV_EXEC, tgid, slash ? slash + 1 : file);
	off = strlen(file) + 1;
	memcpy(e->data, file, off);
	e->filename_len = (uint16_t)off;
	for (unsigned i = 0; argv[i]; i++) {
		size_t n = strlen(argv[i]) + 1;
		memcpy(e->data + off + alen, argv[i], n);
		alen += n;
		e->argc++;
		snprintf(args + strlen(args), sizeof(args) - strlen(args), "%s%s", i ? " " : "",
			 argv[i]);
	}
	e->args_len = (uint16_t)alen;
	proc_set(&w->proc, tgid, e->hdr.comm, file, args);
	memset(&w->ev, 0, sizeof(w->ev));
	w->ev.rec.hdr = &e->hdr;
	w->ev.rec.type = VG_EV_EXEC;
	w->ev.rec.exec.raw = e;
	w->ev.rec.exec.filename = e->data;
	w->ev.rec.exec.args = e->data + off;
	w->ev.rec.exec.args_len = (uint32_t)alen;
	w->ev.rec.exec.argc = e->argc;
	ev_frame(w, in_ctr);
	return &w->ev;
}

/* the same, with the executable's resolved path as the kernel side sends it */
static const struct vg_ev *ev_exec_exe(struct world *w, uint32_t tgid, const char *file,
				       const char *exe, const char *const *argv, bool in_ctr)
{
	const struct vg_ev *ev = ev_exec(w, tgid, file, argv, in_ctr);

	w->ev.rec.exec.exe = exe;
	return ev;
}

static const struct vg_ev *ev_connect(struct world *w, int family, const char *addr, uint16_t port,
				      int result, bool in_ctr)
{
	struct vg_connect *c = &w->conn;
	memset(c, 0, sizeof(*c));
	hdr_set(w, &c->hdr, VG_EV_CONNECT, 150, "wget");
	c->family = (uint16_t)family;
	c->port = port;
	c->proto = 6;
	c->source = VG_CONN_SRC_SYSCALL;
	c->cflags = VG_CONN_RESULT_KNOWN;
	c->result = result;
	memcpy(c->addr, addr, family == 2 ? 4 : 16);
	proc_set(&w->proc, 150, "wget", "/bin/busybox", "wget -q -O- http://169.254.169.254/latest/");
	memset(&w->ev, 0, sizeof(w->ev));
	w->ev.rec.hdr = &c->hdr;
	w->ev.rec.type = VG_EV_CONNECT;
	w->ev.rec.connect = c;
	ev_frame(w, in_ctr);
	return &w->ev;
}

static const struct vg_ev *ev_mount(struct world *w, const char *comm, unsigned op,
				    const char *src, const char *tgt, const char *fstype,
				    uint64_t flags, int result)
{
	struct vg_mount *m = &w->mnt;
	memset(m, 0, sizeof(*m));
	hdr_set(w, &m->hdr, VG_EV_MOUNT, 160, comm);
	m->op = op;
	m->result = result;
	m->flags = flags;
	snprintf(m->source, sizeof(m->source), "%s", src);
	snprintf(m->target, sizeof(m->target), "%s", tgt);
	snprintf(m->fstype, sizeof(m->fstype), "%s", fstype);
	proc_set(&w->proc, 160, comm, "/bin/mount", "mount");
	memset(&w->ev, 0, sizeof(w->ev));
	w->ev.rec.hdr = &m->hdr;
	w->ev.rec.type = VG_EV_MOUNT;
	w->ev.rec.mount = m;
	ev_frame(w, true);
	return &w->ev;
}

static const struct vg_ev *ev_oom(struct world *w)
{
	struct vg_oom *o = &w->oom;
	memset(o, 0, sizeof(*o));
	hdr_set(w, &o->hdr, VG_EV_OOM, 100, "redis-server");
	o->rss_kb = 60 * 1024;
	memset(&w->ev, 0, sizeof(w->ev));
	w->ev.rec.hdr = &o->hdr;
	w->ev.rec.type = VG_EV_OOM;
	w->ev.rec.oom = o;
	proc_set(&w->proc, 100, "redis-server", "/usr/bin/redis-server", "redis-server");
	ev_frame(w, true);
	return &w->ev;
}

static void eval(struct world *w, const struct vg_ev *ev)
{
	vg_rules_eval(w->r, ev, on_alert, &w->got);
}

static const char *const SH_C[] = {"/bin/sh", "-c", "wget -q -O- http://169.254.169.254/", NULL};
static const uint8_t META4[4] = {169, 254, 169, 254};

/* ---- shells ---- */

static void test_shell_from_service(void **state)
{
	struct world *w = world_new(NULL);

	eval(w, ev_exec(w, 120, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 1);
	const struct vg_alert *a = &w->got.a[0];
	assert_string_equal(a->rule->name, "shell_in_service_container");
	assert_string_equal(a->rule->technique_id, "T1059.004");
	assert_int_equal(a->severity, VG_SEV_CRITICAL);
	assert_ptr_equal(a->ctr, &w->ctr);
	assert_string_equal(a->step, "shell from redis-server");
	assert_non_null(strstr(a->detail, "redis-server"));
	assert_int_not_equal(a->incident_id, 0);
	assert_int_equal(a->count, 1);
	assert_int_equal(w->got.incidents, 1);
	assert_int_equal(w->got.inc.change, VG_INC_OPENED);
	assert_string_equal(w->got.inc.chain, "shell from redis-server");

	/* a shell under that shell joins it: no second critical alert */
	proc_set(&w->parent, 120, "sh", "/bin/sh", "sh -c ...");
	const char *const bash[] = {"bash", "-i", NULL};
	eval(w, ev_exec(w, 130, "/bin/bash", bash, true));
	assert_int_equal(w->got.n, 1);
	const struct vg_rules_stats *st = vg_rules_stats(w->r);
	assert_int_equal(st->folded[VG_RULE_SHELL], 1);
	const struct vg_incident *inc = vg_incidents_find(vg_rules_incidents(w->r), w->ctr.cg.id, w->now);
	assert_non_null(inc);
	assert_int_equal(inc->steps[0].count, 2);

	/* and one more level down (sh -> bash -> sh) */
	proc_set(&w->grand, 120, "sh", "/bin/sh", "sh");
	proc_set(&w->parent, 130, "bash", "/bin/bash", "bash -i");
	const struct vg_ev *ev = ev_exec(w, 140, "/bin/sh", SH_C, true);
	w->ev.ancestors[1] = &w->grand;
	w->ev.ancestors[2] = &w->init;
	w->ev.nancestors = 3;
	eval(w, ev);
	assert_int_equal(w->got.n, 1);
	assert_int_equal(inc->steps[0].count, 3);
	world_free(&w);
}

static void test_shell_negatives(void **state)
{
	struct world *w = world_new(NULL);

	/* the container's own entry point (PID 1 in its namespace) */
	const struct vg_ev *ev = ev_exec(w, 100, "/bin/sh", SH_C, true);
	w->exec.hdr.ns_pid = 1;
	eval(w, ev);
	assert_int_equal(w->got.n, 0);

	/* a container whose main process is a shell */
	proc_set(&w->init, 100, "sh", "/bin/sh", "sh -c 'while true; do ...; done'");
	w->parent = w->init;
	eval(w, ev_exec(w, 121, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 0);

	/* main process known only from the container's command: a shell */
	proc_set(&w->init, 100, "runc:[2:INIT]", "", "");
	snprintf(w->ctr.cmd, sizeof(w->ctr.cmd), "/bin/bash /entry.sh");
	proc_set(&w->parent, 110, "python3", "/usr/bin/python3", "python3 app.py");
	eval(w, ev_exec(w, 122, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 0);

	/* the entry point of an init that is the container's PID 1 */
	proc_set(&w->init, 100, "tini", "/sbin/tini", "tini -- /entry.sh redis-server");
	snprintf(w->ctr.cmd, sizeof(w->ctr.cmd), "/sbin/tini -- /entry.sh redis-server");
	w->parent = w->init;
	eval(w, ev_exec(w, 124, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 0);

	/* a service container, but the parent is a shell (busybox's too) */
	proc_set(&w->init, 100, "redis-server", "/usr/bin/redis-server", "redis-server");
	snprintf(w->ctr.cmd, sizeof(w->ctr.cmd), "redis-server");
	proc_set(&w->parent, 110, "bash", "/bin/bash", "bash /start.sh");
	eval(w, ev_exec(w, 123, "/bin/sh", SH_C, true));
	proc_set(&w->parent, 111, "sh", "/bin/busybox", "sh /start.sh");
	eval(w, ev_exec(w, 123, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 0);

	/* not a shell at all, and busybox running another applet */
	w->parent = w->init;
	const char *const ls[] = {"ls", "-l", NULL};
	eval(w, ev_exec(w, 125, "/bin/ls", ls, true));
	const char *const bbw[] = {"wget", "-q", "http://x/", NULL};
	eval(w, ev_exec(w, 126, "/bin/busybox", bbw, true));
	assert_int_equal(w->got.n, 0);

	/* host shells: silent by default */
	eval(w, ev_exec(w, 127, "/bin/sh", SH_C, false));
	assert_int_equal(w->got.n, 0);
	world_free(&w);
}

/* Names a process inside the container can give itself are no reason to
 * stay silent: a runtime's (a symlink called tini, not the container's
 * init) or a shell's (prctl on a process whose executable is no shell). */
static void test_shell_parent_names(void **state)
{
	struct world *w = world_new(NULL);

	proc_set(&w->init, 100, "redis-server", "/usr/bin/redis-server", "redis-server");
	snprintf(w->ctr.cmd, sizeof(w->ctr.cmd), "redis-server");
	proc_set(&w->parent, 130, "tini", "/data/tini", "/data/tini 1d /bin/sh -c id");
	eval(w, ev_exec(w, 131, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].rule->name, "shell_in_service_container");
	assert_string_equal(w->got.a[0].step, "shell from tini");
	proc_set(&w->parent, 132, "sh", "/usr/bin/redis-server", "redis-server *:6379");
	eval(w, ev_exec(w, 133, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 2);
	assert_string_equal(w->got.a[1].step, "shell from sh");
	/* PID 1 of a pid namespace made inside the container (unshare -pf
	 * sh) is not the container's entry point */
	/* the container's main process, renamed to a shell or to an init:
	 * still a service container, its shells still reported */
	proc_set(&w->init, 100, "bash", "/usr/bin/redis-server", "redis-server *:6379");
	w->parent = w->init;
	eval(w, ev_exec(w, 140, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 3);
	assert_non_null(strstr(w->got.a[2].detail, "whose main process is redis-server"));
	proc_set(&w->init, 100, "dumb-init", "/usr/bin/redis-server", "redis-server *:6379");
	w->parent = w->init;
	eval(w, ev_exec(w, 141, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 4);
	assert_string_equal(w->got.a[3].step, "shell from dumb-init");
	proc_set(&w->init, 100, "redis-server", "/usr/bin/redis-server", "redis-server");
	proc_set(&w->parent, 134, "unshare", "/usr/bin/unshare", "unshare -Urpf sh");
	const struct vg_ev *ev = ev_exec(w, 135, "/bin/sh", SH_C, true);
	w->exec.hdr.ns_pid = 1;
	eval(w, ev);
	assert_int_equal(w->got.n, 5);
	assert_string_equal(w->got.a[4].step, "shell from unshare");
	world_free(&w);
}

/*
 * The container's main process that replaces itself with a shell after
 * running a while as a service (an exploit's execve in the process it took
 * over) is reported; the start-up chain of an entry point is not.
 */
static void test_service_replaced_by_shell(void **state)
{
	struct world *w = world_new(NULL);
	const struct vg_ev *ev;

	(void)state;
	/* redis-server, PID 1 for ten minutes, execs /bin/sh */
	ev = ev_exec(w, 100, "/bin/sh", SH_C, true);
	snprintf(w->proc.prev_name, sizeof(w->proc.prev_name), "redis-server");
	w->proc.prev_ns = w->now - 600 * S;
	eval(w, ev);
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].rule->name, "shell_in_service_container");
	assert_string_equal(w->got.a[0].step, "redis-server replaced by a shell");
	assert_non_null(strstr(w->got.a[0].detail, "running for 600 s"));
	/* that shell execs bash: still the replaced service's step */
	const char *const bash[] = {"bash", "-i", NULL};
	ev = ev_exec(w, 100, "/bin/bash", bash, true);
	w->ev.nancestors = 0; /* PID 1's parent is outside the container */
	snprintf(w->proc.prev_name, sizeof(w->proc.prev_name), "sh");
	w->proc.prev_ns = w->now - 1 * S;
	eval(w, ev);
	const struct vg_incident *inc = vg_incidents_find(vg_rules_incidents(w->r), w->ctr.cg.id, w->now);
	assert_non_null(inc);
	assert_int_equal(w->got.n, 1);
	assert_string_equal(inc->steps[0].text, "redis-server replaced by a shell");
	assert_int_equal(inc->steps[0].count, 2);
	world_free(&w);

	/* the start-up chain: runc's init, an init, a shell, an entry script,
	 * or a service only moments old */
	static const struct {
		const char *prev;
		bool sh; /* a script named *.sh */
		uint64_t age;
	} quiet[] = {
		{"runc:[2:INIT]", false, 1}, {"tini", false, 600},	   {"bash", false, 600},
		{"dash", false, 600},	     {"docker-entrypoint.sh", true, 600}, {"gosu", false, 1},
		{"redis-server", false, 5},  {"", false, 600},
	};
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
		w = world_new(NULL);
		ev = ev_exec(w, 100, "/bin/sh", SH_C, true);
		snprintf(w->proc.prev_name, sizeof(w->proc.prev_name), "%s", quiet[i].prev);
		w->proc.prev_sh = quiet[i].sh;
		w->proc.prev_ns = w->now - quiet[i].age * S;
		eval(w, ev);
		assert_int_equal(w->got.n, 0);
		world_free(&w);
	}

	/* an hour after the main process became a shell, that shell starts
	 * another: reported again (the first report's incident has closed)
	 * when redis-server had run 600 s first; quiet (a shell container's)
	 * when it was the start-up chain's, 5 s */
	static const struct {
		uint64_t ran;
		unsigned alerts;
	} later[] = {{600, 1}, {5, 0}};
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		w = world_new(NULL);
		proc_set(&w->init, 100, "sh", "/bin/sh", "sh -c ...");
		snprintf(w->init.prev_name, sizeof(w->init.prev_name), "redis-server");
		w->init.exec_ns = w->now - 3600 * S;
		w->init.prev_ns = w->init.exec_ns - later[i].ran * S;
		w->parent = w->init;
		eval(w, ev_exec(w, 150, "/bin/sh", SH_C, true));
		assert_int_equal(w->got.n, later[i].alerts);
		if (later[i].alerts) {
			assert_string_equal(w->got.a[0].step, "redis-server replaced by a shell");
			assert_non_null(strstr(w->got.a[0].detail, "replaced itself with a shell"));
		}
		world_free(&w);
	}
}

static void test_busybox_shells(void **state)
{
	struct world *w = world_new(NULL);
	/* /bin/busybox with argv[0] = "sh" (as a symlink or exec -a would) */
	const char *const a0[] = {"sh", "-c", "id", NULL};
	eval(w, ev_exec(w, 120, "/bin/busybox", a0, true));
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].rule->name, "shell_in_service_container");

	/* "busybox ash -c ..." from another parent */
	proc_set(&w->parent, 111, "node", "/usr/bin/node", "node server.js");
	const char *const a1[] = {"busybox", "ash", "-c", "id", NULL};
	eval(w, ev_exec(w, 121, "/bin/busybox", a1, true));
	assert_int_equal(w->got.n, 2);
	assert_string_equal(w->got.a[1].step, "shell from node");

	/* busybox re-executing itself (xargs, find -exec): /proc/self/exe, argv[0] "sh" */
	proc_set(&w->parent, 113, "busybox", "/bin/busybox", "busybox xargs -n1 sh -c :");
	const char *const a3[] = {"sh", "-c", ":", NULL};
	eval(w, ev_exec(w, 123, "/proc/self/exe", a3, true));
	assert_int_equal(w->got.n, 3);
	assert_string_equal(w->got.a[2].step, "shell from busybox");

	/* login shell spelling of argv[0] */
	proc_set(&w->parent, 112, "java", "/usr/bin/java", "java -jar app.jar");
	const char *const a2[] = {"-ash", NULL};
	eval(w, ev_exec(w, 122, "/bin/busybox", a2, true));
	assert_int_equal(w->got.n, 4);

	/* busybox-sh (a default shell) is a shell by its own name, run as itself */
	proc_set(&w->parent, 114, "python3", "/usr/bin/python3", "python3 app.py");
	const char *const a4[] = {"busybox-sh", "-c", "id", NULL};
	eval(w, ev_exec(w, 124, "/usr/bin/busybox-sh", a4, true));
	assert_int_equal(w->got.n, 5);
	assert_string_equal(w->got.a[4].step, "shell from python3");
	/* a build of busybox is still busybox: the applet decides */
	proc_set(&w->parent, 115, "ruby", "/usr/bin/ruby", "ruby app.rb");
	const char *const a5[] = {"busybox.static", "wget", "-q", NULL};
	eval(w, ev_exec(w, 125, "/bin/busybox.static", a5, true));
	assert_int_equal(w->got.n, 5);
	world_free(&w);

	/* busybox takes any argv[0] that starts "busybox" for itself and runs
	 * the next argument: /bin/sh (busybox) as "busyboxX sh", and nested
	 * (a new world: five alerts is the rate limit's burst) */
	w = world_new(NULL);
	proc_set(&w->parent, 116, "perl", "/usr/bin/perl", "perl app.pl");
	const char *const a6[] = {"busyboxX", "sh", "-c", "id", NULL};
	eval(w, ev_exec_exe(w, 126, "/bin/sh", "/bin/busybox", a6, true));
	assert_int_equal(w->got.n, 1);
	proc_set(&w->parent, 117, "php", "/usr/bin/php", "php app.php");
	const char *const a7[] = {"busybox", "/bin/busybox-x", "busybox", "ash", NULL};
	eval(w, ev_exec(w, 127, "/bin/busybox", a7, true));
	assert_int_equal(w->got.n, 2);
	/* argv cut before the applet (padding in argv[0]): it may be a
	 * shell, and counts as one; a whole argv naming none is not */
	proc_set(&w->parent, 118, "lua", "/usr/bin/lua", "lua app.lua");
	const char *const a8[] = {"busybox.padding", NULL};
	ev_exec(w, 128, "/bin/busybox", a8, true);
	eval(w, &w->ev);
	assert_int_equal(w->got.n, 2);
	ev_exec(w, 129, "/bin/busybox", a8, true);
	w->exec.eflags |= VG_EXEC_ARGS_TRUNC;
	w->ev.rec.exec.truncated = true;
	eval(w, &w->ev);
	assert_int_equal(w->got.n, 3);
	/* cut inside the applet's own argument ("////...sh" past the bytes
	 * read): the last argument of a cut argv may be cut too */
	proc_set(&w->parent, 119, "ruby", "/usr/bin/ruby", "ruby app.rb");
	const char *const a9[] = {"busybox", "////////", NULL};
	ev_exec(w, 130, "/bin/busybox", a9, true);
	w->ev.rec.exec.truncated = true;
	eval(w, &w->ev);
	assert_int_equal(w->got.n, 4);
	world_free(&w);

	/* a busybox downloaded as busybox-x86_64 is busybox too */
	w = world_new(NULL);
	proc_set(&w->parent, 140, "node", "/usr/bin/node", "node app.js");
	const char *const a10[] = {"busybox-x86_64", "sh", "-c", "id", NULL};
	eval(w, ev_exec(w, 141, "/opt/bin/busybox-x86_64", a10, true));
	assert_int_equal(w->got.n, 1);
	world_free(&w);
}

/*
 * What was asked for is not always what ran: a shell reached by execveat()
 * or fexecve() (an fd), by a symlink, or started by a script's #! line;
 * the resolved path (and comm) tell.
 */
static void test_shells_by_resolved_path(void **state)
{
	struct world *w = world_new(NULL);
	const char *const worker[] = {"worker", "-c", "id", NULL};

	/* execveat(dirfd, "sh"): the kernel reports /dev/fd/3/sh */
	eval(w, ev_exec(w, 120, "/dev/fd/3/sh", worker, true));
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].rule->name, "shell_in_service_container");

	/* fexecve(): /dev/fd/3 names nothing, argv[0] lies; the path resolves */
	proc_set(&w->parent, 111, "node", "/usr/bin/node", "node server.js");
	eval(w, ev_exec_exe(w, 121, "/dev/fd/3", "/usr/bin/dash", worker, true));
	assert_int_equal(w->got.n, 2);
	assert_string_equal(w->got.a[1].step, "shell from node");

	/* the same on a kernel that names comm after the file (6.14+), no path */
	proc_set(&w->parent, 112, "java", "/usr/bin/java", "java -jar app.jar");
	const struct vg_ev *ev = ev_exec(w, 122, "/dev/fd/3", worker, true);
	snprintf(w->exec.hdr.comm, sizeof(w->exec.hdr.comm), "dash");
	eval(w, ev);
	assert_int_equal(w->got.n, 3);

	/* a script: filename and comm are the script's, the process runs sh */
	proc_set(&w->parent, 113, "php-fpm", "/usr/sbin/php-fpm", "php-fpm: pool www");
	const char *const script[] = {"/bin/sh", "/data/x", NULL};
	eval(w, ev_exec_exe(w, 123, "/data/x", "/usr/bin/dash", script, true));
	assert_int_equal(w->got.n, 4);
	assert_string_equal(w->got.a[3].step, "shell from php-fpm");

	/* a symlink with another name to a shell */
	proc_set(&w->parent, 114, "ruby", "/usr/bin/ruby", "ruby app.rb");
	const char *const up[] = {"/usr/local/bin/updater", NULL};
	eval(w, ev_exec_exe(w, 124, "/usr/local/bin/updater", "/usr/bin/bash", up, true));
	assert_int_equal(w->got.n, 5);

	/* busybox: the applet decides, not the binary's name */
	proc_set(&w->parent, 115, "perl", "/usr/bin/perl", "perl app.pl");
	const char *const ls[] = {"ls", "-l", NULL};
	eval(w, ev_exec_exe(w, 125, "/bin/ls", "/bin/busybox", ls, true));
	assert_int_equal(w->got.n, 5);
	world_free(&w);
}

/* A flagged shell's pid reused by another process is not that shell. */
static void test_shell_pid_reuse(void **state)
{
	struct world *w = world_new(NULL);

	w->proc.start_ns = 0;
	const struct vg_ev *ev = ev_exec(w, 120, "/bin/sh", SH_C, true);
	w->proc.start_ns = 5 * S;
	eval(w, ev);
	assert_int_equal(w->got.n, 1);

	/* the shell's child shell: folded into its step */
	proc_set(&w->parent, 120, "sh", "/bin/sh", "sh -c ...");
	w->parent.start_ns = 5 * S;
	eval(w, ev_exec(w, 130, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 1);

	/* pid 120 again, a python3 started later: its shell is news */
	proc_set(&w->parent, 120, "python3", "/usr/bin/python3", "python3 job.py");
	w->parent.start_ns = 50 * S;
	eval(w, ev_exec(w, 300, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 2);
	assert_string_equal(w->got.a[1].step, "shell from python3");
	world_free(&w);
}

static void test_interactive_shell(void **state)
{
	struct world *w = world_new(NULL);
	proc_set(&w->parent, 90, "containerd-shim", "/usr/bin/containerd-shim-runc-v2", "");
	const char *const sh[] = {"sh", NULL};
	const struct vg_ev *ev = ev_exec(w, 200, "/bin/sh", sh, true);
	w->ev.exec_entry = true;
	w->exec.hdr.flags = VG_HF_TTY;
	eval(w, ev);
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].rule->name, "interactive_shell_in_container");
	assert_int_equal(w->got.a[0].severity, VG_SEV_WARNING);
	assert_string_equal(w->got.a[0].step, "interactive shell via exec");
	assert_non_null(strstr(w->got.a[0].detail, "with a terminal"));

	/* a shell inside the exec'd shell joins it */
	proc_set(&w->parent, 200, "sh", "/bin/sh", "sh");
	ev = ev_exec(w, 201, "/bin/sh", SH_C, true);
	w->ev.exec_entry = true;
	eval(w, ev);
	assert_int_equal(w->got.n, 1);

	/* without a terminal it says so */
	proc_set(&w->parent, 90, "containerd-shim", "/usr/bin/containerd-shim-runc-v2", "");
	ev = ev_exec(w, 202, "/bin/sh", SH_C, true);
	w->ev.exec_entry = true;
	eval(w, ev);
	assert_int_equal(w->got.n, 2);
	assert_non_null(strstr(w->got.a[1].detail, "no terminal"));
	world_free(&w);
}

/* 10,000 shells from redis-server: one alert, one incident with a count */
static void test_ten_thousand_shells(void **state)
{
	struct world *w = world_new(NULL);
	for (uint32_t i = 0; i < 10000; i++)
		eval(w, ev_exec(w, 1000 + i, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 1);
	assert_int_equal(w->got.incidents, 1);
	vg_rules_tick(w->r, w->now + 30 * S);
	assert_int_equal(w->got.incidents, 2); /* the count update */
	assert_int_equal(w->got.inc.nsteps, 1);
	assert_int_equal(w->got.inc.steps[0].count, 10000);
	assert_int_equal(w->got.inc.events, 10000);
	assert_string_equal(w->got.inc.chain, "shell from redis-server (×10000)");
	const struct vg_rules_stats *st = vg_rules_stats(w->r);
	assert_int_equal(st->matched[VG_RULE_SHELL], 10000);
	assert_int_equal(st->alerts[VG_RULE_SHELL], 1);
	assert_int_equal(st->folded[VG_RULE_SHELL], 9999);
	world_free(&w);
}

/* distinct alerts beyond the burst are counted and carried by the next one */
static void test_rate_limit(void **state)
{
	struct vg_config *cfg;
	assert_int_equal(vg_config_new_default(&cfg), 0);
	cfg->rate_burst = 2;
	cfg->rate_window_ns = 10 * S;
	struct world *w = world_new(cfg);
	char comm[16];
	for (int i = 0; i < 5; i++) {
		snprintf(comm, sizeof(comm), "svc%d", i);
		proc_set(&w->parent, 300 + i, comm, "/usr/bin/svc", comm);
		eval(w, ev_exec(w, 400 + i, "/bin/sh", SH_C, true));
	}
	assert_int_equal(w->got.n, 2);
	assert_int_equal(vg_rules_stats(w->r)->rate_limited[VG_RULE_SHELL], 3);
	assert_int_equal(vg_rules_rate_limited(w->r), 3);
	/* the incident still lists all five */
	const struct vg_incident *inc = vg_incidents_find(vg_rules_incidents(w->r), w->ctr.cg.id, w->now);
	assert_int_equal(inc->nsteps, 5);
	/* a record older than the window's first (another CPU's, drained
	 * after it) is inside the window, not the start of a new one */
	uint64_t later = w->now;
	w->now -= 10 * S / 1000;
	proc_set(&w->parent, 305, "svc5", "/usr/bin/svc", "svc5");
	eval(w, ev_exec(w, 405, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 2);
	assert_int_equal(vg_rules_stats(w->r)->rate_limited[VG_RULE_SHELL], 4);
	w->now = later + 11 * S;
	proc_set(&w->parent, 399, "svc9", "/usr/bin/svc", "svc9");
	eval(w, ev_exec(w, 499, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 3);
	assert_int_equal(w->got.a[2].count, 5); /* itself + the 4 held back */
	world_free(&w);
}

/* ---- metadata_service_access ---- */

static void test_metadata(void **state)
{
	struct world *w = world_new(NULL);
	uint8_t a[16] = {0};

	eval(w, ev_connect(w, 2, (const char *)META4, 80, 0, true));
	assert_int_equal(w->got.n, 1);
	const struct vg_alert *al = &w->got.a[0];
	assert_string_equal(al->rule->name, "metadata_service_access");
	assert_string_equal(al->rule->technique_id, "T1552.005");
	assert_int_equal(al->severity, VG_SEV_CRITICAL);
	assert_false(al->failed);
	assert_string_equal(al->step, "metadata access 169.254.169.254");
	/* command lines of the process and of its parent */
	assert_non_null(strstr(al->detail, "wget -q -O- http://169.254.169.254/latest/"));
	assert_non_null(strstr(al->detail, "redis-server *:6379"));

	/* IPv4-mapped IPv6 and failed: a new step, marked */
	memset(a, 0, sizeof(a));
	a[10] = a[11] = 0xff;
	memcpy(a + 12, META4, 4);
	eval(w, ev_connect(w, 10, (const char *)a, 80, -101 /* ENETUNREACH */, true));
	assert_int_equal(w->got.n, 2);
	assert_true(w->got.a[1].failed);
	assert_non_null(strstr(w->got.a[1].detail, "failed (ENETUNREACH)"));
	assert_string_equal(w->got.a[1].step, "metadata access 169.254.169.254 (failed)");

	/* other endpoints of the list: ECS, EKS, Alibaba, AWS IPv6 */
	const uint8_t ecs[4] = {169, 254, 170, 2}, ali[4] = {100, 100, 100, 200};
	eval(w, ev_connect(w, 2, (const char *)ecs, 80, 0, true));
	eval(w, ev_connect(w, 2, (const char *)ali, 80, 0, true));
	const uint8_t v6[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
	eval(w, ev_connect(w, 10, (const char *)v6, 80, 0, true));
	assert_int_equal(w->got.n, 5);
	assert_non_null(strstr(w->got.a[4].detail, "fd00:ec2::254"));

	/* ordinary destinations stay silent */
	const uint8_t other[4] = {10, 0, 0, 1}, near[4] = {169, 254, 169, 253};
	eval(w, ev_connect(w, 2, (const char *)other, 80, 0, true));
	eval(w, ev_connect(w, 2, (const char *)near, 80, 0, true));
	assert_int_equal(w->got.n, 5);
	world_free(&w);
}

/* The container's init itself connects: no parent inside the container,
 * the runtime is named by pid as being outside it. */
static void test_metadata_from_init(void **state)
{
	struct world *w = world_new(NULL);
	struct vg_ev *ev = (struct vg_ev *)ev_connect(w, 2, (const char *)META4, 80, 0, true);

	ev->nancestors = 0;
	eval(w, ev);
	assert_int_equal(w->got.n, 1);
	assert_non_null(strstr(w->got.a[0].detail, "\", parent ["));
	assert_non_null(strstr(w->got.a[0].detail, "] outside the container"));
	assert_null(strstr(w->got.a[0].detail, "parent ?"));
	world_free(&w);
}

static void test_metadata_host(void **state)
{
	/* a host process: not reported by default ... */
	struct world *w = world_new(NULL);
	eval(w, ev_connect(w, 2, (const char *)META4, 80, 0, false));
	assert_int_equal(w->got.n, 0);
	assert_int_equal(vg_rules_stats(w->r)->host_skipped[VG_RULE_METADATA], 1);
	world_free(&w);

	/* ... and reported as host when configured */
	struct vg_config *cfg;
	char err[128];
	const char *y = "rules:\n  metadata_service_access:\n    host: true\n";
	assert_int_equal(vg_config_parse("t", y, strlen(y), &cfg, err, sizeof(err)), 0);
	w = world_new(cfg);
	eval(w, ev_connect(w, 2, (const char *)META4, 80, 0, false));
	assert_int_equal(w->got.n, 1);
	assert_null(w->got.a[0].ctr);
	assert_string_equal(w->got.inc.ctr_name, "host");
	world_free(&w);
}

static void test_allowlists(void **state)
{
	struct vg_config *cfg;
	char err[256];
	const char *y = "allow:\n  images: [\"debug/*\"]\n"
			"rules:\n  metadata_service_access:\n    allow:\n"
			"      names: [cloud-agent]\n      labels: [\"vigil.allow=meta*\"]\n";
	assert_int_equal(vg_config_parse("t", y, strlen(y), &cfg, err, sizeof(err)), 0);
	struct world *w = world_new(cfg);

	snprintf(w->ctr.name, sizeof(w->ctr.name), "cloud-agent");
	eval(w, ev_connect(w, 2, (const char *)META4, 80, 0, true));
	assert_int_equal(w->got.n, 0);

	/* allowed for metadata only: a shell still fires */
	eval(w, ev_exec(w, 120, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 1);

	snprintf(w->ctr.name, sizeof(w->ctr.name), "other");
	snprintf(w->ctr.labels[0].key, sizeof(w->ctr.labels[0].key), "vigil.allow");
	snprintf(w->ctr.labels[0].value, sizeof(w->ctr.labels[0].value), "metadata");
	w->ctr.nlabels = 1;
	eval(w, ev_connect(w, 2, (const char *)META4, 80, 0, true));
	assert_int_equal(w->got.n, 1);

	/* the global allowlist covers every rule */
	w->ctr.nlabels = 0;
	snprintf(w->ctr.image, sizeof(w->ctr.image), "debug/toolbox:1");
	snprintf(w->ctr.cg.id, sizeof(w->ctr.cg.id), "other-container");
	proc_set(&w->parent, 111, "node", "/usr/bin/node", "node");
	eval(w, ev_exec(w, 121, "/bin/sh", SH_C, true));
	eval(w, ev_connect(w, 2, (const char *)META4, 80, 0, true));
	assert_int_equal(w->got.n, 1);
	assert_int_equal(vg_rules_stats(w->r)->allowlisted[VG_RULE_METADATA], 3);
	world_free(&w);
}

/* ---- miner_indicator ---- */

static void test_miner_indicators(void **state)
{
	struct world *w = world_new(NULL);
	const char *const xm[] = {"xmrig", "--threads", "2", NULL};
	eval(w, ev_exec(w, 500, "/opt/xmrig", xm, true));
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].rule->name, "miner_indicator");
	assert_int_equal(w->got.a[0].severity, VG_SEV_HIGH);
	assert_string_equal(w->got.a[0].step, "miner binary xmrig");

	const char *const url[] = {"kworker", "-o", "STRATUM+TCP://pool.example:80", NULL};
	eval(w, ev_exec(w, 501, "/usr/local/bin/kworker", url, true));
	assert_int_equal(w->got.n, 2);
	assert_non_null(strstr(w->got.a[1].step, "mining pool URL"));

	const char *const tmp[] = {"./x", NULL};
	eval(w, ev_exec(w, 502, "/tmp/x", tmp, true));
	assert_int_equal(w->got.n, 3);
	assert_string_equal(w->got.a[2].step, "exec from /tmp/ (x)");

	/* run from /tmp without naming it: the resolved path does */
	static const char *const asked[] = {"./kworker", "//tmp/kworker", "/./dev/shm/kworker",
					    "/dev/fd/3/kworker", "/app/bin/kworker"};
	static const char *const ran[] = {"/tmp/kworker", "/tmp/kworker", "/dev/shm/kworker",
					  "/var/tmp/kworker", "/tmp/kworker"};
	for (unsigned i = 0; i < 5; i++) {
		const char *const kw[] = {"kworker", NULL};
		struct world *w2 = world_new(NULL);

		eval(w2, ev_exec_exe(w2, 510 + i, asked[i], ran[i], kw, true));
		assert_int_equal(w2->got.n, 1);
		assert_non_null(strstr(w2->got.a[0].step, "exec from /"));
		assert_non_null(strstr(w2->got.a[0].detail, ran[i]));
		world_free(&w2);
	}

	const struct vg_ev *ev = ev_exec(w, 503, "/memfd:payload (deleted)", tmp, true);
	w->exec.eflags = VG_EXEC_EXE_MEMFD | VG_EXEC_EXE_DELETED;
	eval(w, ev);
	assert_int_equal(w->got.n, 4);
	assert_non_null(strstr(w->got.a[3].step, "memfd"));

	/* a stratum port, not on loopback */
	const uint8_t pool[4] = {203, 0, 113, 7}, lo[4] = {127, 0, 0, 1};
	eval(w, ev_connect(w, 2, (const char *)pool, 3333, 0, true));
	assert_int_equal(w->got.n, 5);
	assert_string_equal(w->got.a[4].step, "connect to mining port 3333");
	assert_non_null(strstr(w->got.a[4].detail, "203.0.113.7:3333/tcp"));
	eval(w, ev_connect(w, 2, (const char *)lo, 3333, 0, true));
	eval(w, ev_connect(w, 2, (const char *)pool, 443, 0, true));

	/* ordinary programs stay silent */
	const char *const ok[] = {"redis-cli", "ping", NULL};
	eval(w, ev_exec(w, 504, "/usr/bin/redis-cli", ok, true));
	assert_int_equal(w->got.n, 5);
	world_free(&w);
}

/* A connect's transport is named in the alert as in network.transport; an
 * ICMP ping socket's "port" is its echo id, so no mining port. */
static void test_connect_transports(void **state)
{
	struct world *w = world_new(NULL);
	const uint8_t pool[4] = {203, 0, 113, 7};

	const struct vg_ev *ev = ev_connect(w, 2, (const char *)META4, 0, 0, true);
	w->conn.proto = 1;
	eval(w, ev);
	assert_int_equal(w->got.n, 1);
	assert_non_null(strstr(w->got.a[0].detail, "169.254.169.254:0/icmp"));

	ev = ev_connect(w, 2, (const char *)pool, 3333, 0, true);
	w->conn.proto = 1;
	eval(w, ev);
	const uint8_t pool6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
	ev = ev_connect(w, 10, (const char *)pool6, 3333, 0, true);
	w->conn.proto = 58;
	eval(w, ev);
	assert_int_equal(w->got.n, 1);

	ev = ev_connect(w, 2, (const char *)pool, 3333, 0, true);
	w->conn.proto = 132;
	eval(w, ev);
	assert_int_equal(w->got.n, 2);
	assert_string_equal(w->got.a[1].step, "connect to mining port 3333");
	assert_non_null(strstr(w->got.a[1].detail, "203.0.113.7:3333/sctp"));
	world_free(&w);
}

/* Pool URLs anywhere in the arguments, case ignored, never across two. */
static void test_miner_argv_markers(void **state)
{
	struct world *w = world_new(NULL);

	/* "stratum+" ends one argument and "tcp://" starts the next */
	const char *const split[] = {"w1", "-o", "stratum+", "tcp://pool.example:80", NULL};
	eval(w, ev_exec(w, 510, "/usr/bin/w1", split, true));
	assert_int_equal(w->got.n, 0);

	/* the marker is the last bytes of the block; false starts before it */
	const char *const last[] = {"w2", "--secs", "sss", "x=Stratum+SSL://", NULL};
	eval(w, ev_exec(w, 511, "/usr/bin/w2", last, true));
	assert_int_equal(w->got.n, 1);
	assert_non_null(strstr(w->got.a[0].detail, "stratum+ssl://"));

	/* one byte short of the marker at the very end */
	const char *const short_[] = {"w3", "stratum+tcp:/", NULL};
	eval(w, ev_exec(w, 512, "/usr/bin/w3", short_, true));
	assert_int_equal(w->got.n, 1);

	/* a later marker of the list, in argv[0] */
	const char *const a0[] = {"stratum2+tcp://h", NULL};
	eval(w, ev_exec(w, 513, "/usr/bin/w4", a0, true));
	assert_int_equal(w->got.n, 2);
	assert_non_null(strstr(w->got.a[1].detail, "stratum2+tcp://"));
	world_free(&w);
}

/* ---- mount_in_container ---- */

static void test_mounts(void **state)
{
	struct world *w = world_new(NULL);

	/* denied mount of proc: critical, marked, counted */
	eval(w, ev_mount(w, "mount", VG_MNT_MOUNT, "proc", "/tmp/p", "proc", 0, -13));
	assert_int_equal(w->got.n, 1);
	const struct vg_alert *a = &w->got.a[0];
	assert_string_equal(a->rule->name, "mount_in_container");
	assert_string_equal(a->rule->technique_id, "T1611");
	assert_int_equal(a->severity, VG_SEV_CRITICAL);
	assert_true(a->failed);
	assert_non_null(strstr(a->detail, "denied (EACCES)"));
	assert_string_equal(a->step, "mount proc on /tmp/p (denied)");

	/* the same attempt again only counts */
	eval(w, ev_mount(w, "mount", VG_MNT_MOUNT, "proc", "/tmp/p", "proc", 0, -13));
	assert_int_equal(w->got.n, 1);

	/* tmpfs: high; a host block device and a bind of /sys: critical */
	eval(w, ev_mount(w, "mount", VG_MNT_MOUNT, "tmpfs", "/mnt", "tmpfs", 0, 0));
	assert_int_equal(w->got.a[1].severity, VG_SEV_HIGH);
	assert_false(w->got.a[1].failed);
	eval(w, ev_mount(w, "mount", VG_MNT_MOUNT, "/dev/sda1", "/mnt", "ext4", 0, 0));
	assert_int_equal(w->got.a[2].severity, VG_SEV_CRITICAL);
	eval(w, ev_mount(w, "mount", VG_MNT_MOUNT, "/sys/fs/cgroup", "/x", "", 4096, 0));
	assert_int_equal(w->got.a[3].severity, VG_SEV_CRITICAL);
	/* binds with util-linux's fstype "none": what they mount is their
	 * source, two sources two alerts */
	world_free(&w);
	w = world_new(NULL);
	eval(w, ev_mount(w, "mount", VG_MNT_MOUNT, "/proc/1/root", "/b1", "none", 4096, 0));
	eval(w, ev_mount(w, "mount", VG_MNT_MOUNT, "/run/docker.sock", "/b2", "none", 4096, 0));
	assert_int_equal(w->got.n, 2);
	assert_string_equal(w->got.a[1].step, "mount /run/docker.sock on /b2");
	/* the new mount API: fsopen("cgroup2") */
	eval(w, ev_mount(w, "escape", VG_MNT_FSOPEN, "", "", "cgroup2", 0, 3));
	assert_int_equal(w->got.n, 3);
	assert_int_equal(w->got.a[2].severity, VG_SEV_CRITICAL);
	assert_non_null(strstr(w->got.a[2].step, "fsopen cgroup2"));

	world_free(&w);

	/* the runtime setting the container up (no parent inside it), and
	 * host mounts: silent (a new world: five alerts is the burst) */
	w = world_new(NULL);
	const struct vg_ev *ev = ev_mount(w, "runc:[2:INIT]", VG_MNT_MOUNT, "proc", "/proc", "proc", 0, 0);
	w->ev.nancestors = 0;
	w->proc.exe[0] = '\0'; /* runc's init stages: no exec of their own */
	eval(w, ev);
	/* crun's init is crun, forked */
	ev = ev_mount(w, "crun", VG_MNT_MOUNT, "proc", "/proc", "proc", 0, 0);
	w->ev.nancestors = 0;
	snprintf(w->proc.exe, sizeof(w->proc.exe), "/usr/bin/crun");
	eval(w, ev);
	ev = ev_mount(w, "mount", VG_MNT_MOUNT, "proc", "/proc", "proc", 0, 0);
	w->ev.ctr = NULL;
	eval(w, ev);
	assert_int_equal(w->got.n, 0);
	/* a process of the container that calls itself so, or tini: not the
	 * runtime */
	eval(w, ev_mount(w, "runc:[2:INIT]", VG_MNT_MOUNT, "proc", "/mnt", "proc", 0, 0));
	assert_int_equal(w->got.n, 1);
	eval(w, ev_mount(w, "tini", VG_MNT_MOUNT, "tmpfs", "/mnt2", "tmpfs", 0, 0));
	assert_int_equal(w->got.n, 2);
	/* nor is the container's main process (no parent inside it either)
	 * that renamed itself: its executable is redis-server's */
	ev = ev_mount(w, "runc:[2:INIT]", VG_MNT_MOUNT, "cgroup", "/mnt3", "cgroup", 0, 0);
	w->ev.nancestors = 0;
	snprintf(w->proc.exe, sizeof(w->proc.exe), "/usr/bin/redis-server");
	eval(w, ev);
	assert_int_equal(w->got.n, 3);
	/* nor one that re-executed itself through /proc/self/exe first */
	ev = ev_mount(w, "runc:[2:INIT]", VG_MNT_MOUNT, "sysfs", "/mnt4", "sysfs", 0, 0);
	w->ev.nancestors = 0;
	snprintf(w->proc.exe, sizeof(w->proc.exe), "/proc/self/exe");
	eval(w, ev);
	assert_int_equal(w->got.n, 4);
	world_free(&w);

	/* strings the kernel side could not read: unknown, so critical */
	w = world_new(NULL);
	ev = ev_mount(w, "mover", VG_MNT_MOVE_MOUNT, "", "", "", 0, 0);
	w->mnt.mflags = VG_MNT_NO_RESULT | VG_MNT_STR_UNREAD;
	eval(w, ev);
	assert_int_equal(w->got.n, 1);
	assert_int_equal(w->got.a[0].severity, VG_SEV_CRITICAL);
	assert_non_null(strstr(w->got.a[0].detail, "(arguments unreadable)"));
	world_free(&w);
}

/* ---- resource spikes and oom_kill ---- */

static void sample(struct world *w, uint64_t cpu_ns, uint64_t mem, uint64_t pids)
{
	struct vg_cg_sample s = {
		.have = VG_SMP_CPU | VG_SMP_QUOTA | VG_SMP_MEM | VG_SMP_MEMMAX | VG_SMP_PIDS |
			VG_SMP_PIDSMAX,
		.cpu_usage_ns = cpu_ns,
		.cpu_quota_us = 100000,
		.cpu_period_us = 100000,
		.mem_current = mem,
		.mem_working = mem,
		.mem_max = 64 << 20,
		.pids_current = pids,
		.pids_max = 1000,
	};
	vg_rules_sample(w->r, &w->ctr, &s, w->now, 1700000000 * S + w->now, on_alert, &w->got);
}

static void test_cpu_spike(void **state)
{
	struct vg_config *cfg;
	assert_int_equal(vg_config_new_default(&cfg), 0);
	cfg->cpu_window_ns = 3 * S;
	struct world *w = world_new(cfg);
	uint64_t cpu = 0;

	/* 50% of the 1-core quota: nothing */
	for (int i = 0; i < 6; i++) {
		w->now += S;
		cpu += S / 2;
		sample(w, cpu, 1 << 20, 5);
	}
	assert_int_equal(w->got.n, 0);
	/* 98% for 2 s: not yet; for 3 s: one alert; longer: the step's text follows */
	for (int i = 0; i < 3; i++) {
		w->now += S;
		cpu += S * 98 / 100;
		sample(w, cpu, 1 << 20, 5);
		assert_int_equal(w->got.n, i < 2 ? 0 : 1);
	}
	const struct vg_alert *a = &w->got.a[0];
	assert_string_equal(a->rule->name, "miner_resource_spike");
	assert_int_equal(a->severity, VG_SEV_HIGH);
	assert_null(a->ev);
	assert_ptr_equal(a->ctr, &w->ctr);
	assert_non_null(a->sample);
	assert_string_equal(a->step, "CPU 98% of quota for 3 s");
	for (int i = 0; i < 3; i++) {
		w->now += S;
		cpu += S;
		sample(w, cpu, 1 << 20, 5);
	}
	assert_int_equal(w->got.n, 1);
	const struct vg_incident *inc = vg_incidents_find(vg_rules_incidents(w->r), w->ctr.cg.id, w->now);
	assert_string_equal(inc->chain, "CPU 100% of quota for 6 s");
	assert_int_equal(inc->steps[0].count, 1);
	world_free(&w);
}

/* A miner that rests 5 s in every 30 (83% of its quota on average, with
 * the default 90% threshold lowered to 80%) keeps its run above the
 * threshold: one alert after the window.  A real rest (the average falls)
 * ends the run. */
static void test_cpu_duty_cycle(void **state)
{
	struct vg_config *cfg;
	assert_int_equal(vg_config_new_default(&cfg), 0);
	cfg->cpu_percent = 80;
	struct world *w = world_new(cfg); /* window: the default 30 s */
	uint64_t cpu = 0;

	sample(w, cpu, 1 << 20, 5);
	for (int i = 0; i < 24; i++) { /* two minutes, a sample every 5 s */
		w->now += 5 * S;
		cpu += i % 6 == 5 ? 0 : 5 * S;
		sample(w, cpu, 1 << 20, 5);
	}
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].rule->name, "miner_resource_spike");
	/* a minute at rest: the run's average falls below, the run ends, and
	 * the next one alerts again */
	for (int i = 0; i < 12; i++) {
		w->now += 5 * S;
		sample(w, cpu, 1 << 20, 5);
	}
	w->now += 11 * 60 * S; /* past the incident's window too */
	sample(w, cpu, 1 << 20, 5);
	for (int i = 0; i < 8; i++) {
		w->now += 5 * S;
		cpu += 5 * S;
		sample(w, cpu, 1 << 20, 5);
	}
	assert_int_equal(w->got.n, 2);
	world_free(&w);

	/* a burst on four cores for 5 s, then a third of one: over the 1-core
	 * quota's 30 s that averages 92%, but no interval counts more than
	 * the quota, and two below in a row end the run: no alert */
	assert_int_equal(vg_config_new_default(&cfg), 0);
	w = world_new(cfg);
	cpu = 0;
	sample(w, cpu, 1 << 20, 5);
	w->now += 5 * S;
	cpu += 20 * S;
	sample(w, cpu, 1 << 20, 5);
	for (int i = 0; i < 12; i++) {
		w->now += 5 * S;
		cpu += 5 * S * 3 / 10;
		sample(w, cpu, 1 << 20, 5);
	}
	assert_int_equal(w->got.n, 0);
	world_free(&w);
}

/* A late sample (the agent stalled for 40 s) is no evidence of a spike:
 * 36 core-seconds in 40 s may be a 9 s burst on four cores.  It neither
 * starts a run nor reads as explosive pid growth; the samples after it do. */
static void test_late_sample(void **state)
{
	(void)state;
	struct world *w = world_new(NULL); /* 5 s samples, 90% for 30 s, +200 pids */
	uint64_t cpu = 0;

	sample(w, cpu, 1 << 20, 5);
	w->now += 40 * S;
	cpu += 36 * S;
	sample(w, cpu, 1 << 20, 5);
	assert_int_equal(w->got.n, 0);
	/* a steady full core from here: the run starts at the late sample */
	for (int i = 0; i < 5; i++) {
		w->now += 5 * S;
		cpu += 5 * S;
		sample(w, cpu, 1 << 20, 5);
	}
	assert_int_equal(w->got.n, 0);
	w->now += 5 * S;
	cpu += 5 * S;
	sample(w, cpu, 1 << 20, 5);
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].step, "CPU 100% of quota for 30 s");
	world_free(&w);

	/* a sample is taken at the first wakeup after it is due: exactly
	 * +200 a millisecond late is still +200 in one interval */
	w = world_new(NULL);
	sample(w, 0, 1 << 20, 5);
	w->now += 5 * S + S / 1000;
	sample(w, 0, 1 << 20, 205);
	assert_int_equal(w->got.n, 1);
	world_free(&w);

	/* pids: 205 more in a minute is 17 per interval; 210 in 5 s is not */
	w = world_new(NULL);
	sample(w, 0, 1 << 20, 5);
	w->now += 60 * S;
	sample(w, 0, 1 << 20, 210);
	assert_int_equal(w->got.n, 0);
	w->now += 5 * S;
	sample(w, 0, 1 << 20, 420);
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].step, "pids +210 in 5 s");
	world_free(&w);
}

static void test_spike_critical_with_indicator(void **state)
{
	struct vg_config *cfg;
	assert_int_equal(vg_config_new_default(&cfg), 0);
	cfg->cpu_window_ns = S;
	struct world *w = world_new(cfg);
	const char *const xm[] = {"xmrig", NULL};
	eval(w, ev_exec(w, 500, "/tmp/xmrig", xm, true));
	assert_int_equal(w->got.n, 1);
	sample(w, 0, 1 << 20, 5);
	w->now += 2 * S;
	sample(w, 2 * S, 1 << 20, 5);
	assert_int_equal(w->got.n, 2);
	assert_string_equal(w->got.a[1].rule->name, "miner_resource_spike");
	assert_int_equal(w->got.a[1].severity, VG_SEV_CRITICAL);
	assert_int_equal(w->got.a[1].incident_id, w->got.a[0].incident_id);
	world_free(&w);
}

/*
 * A sample missing a figure (its file not read once: the container being
 * torn down, a read that failed) is no baseline for the next one.
 */
static void test_sample_missing_figure(void **state)
{
	struct vg_config *cfg;
	assert_int_equal(vg_config_new_default(&cfg), 0);
	cfg->cpu_window_ns = 5 * S;
	struct world *w = world_new(cfg);
	struct vg_cg_sample gap = {.have = VG_SMP_MEM | VG_SMP_MEMMAX,
				   .mem_current = 1 << 20,
				   .mem_working = 1 << 20,
				   .mem_max = 64 << 20};

	/* 300 processes, 40% of a core for an hour so far */
	sample(w, 3600 * S * 4 / 10, 1 << 20, 300);
	w->now += 5 * S;
	vg_rules_sample(w->r, &w->ctr, &gap, w->now, 1700000000 * S + w->now, on_alert, &w->got);
	w->now += 5 * S;
	sample(w, 3600 * S * 4 / 10 + 4 * S, 1 << 20, 300);
	assert_int_equal(w->got.n, 0);
	/* the baseline is the last sample that had the figure: 10 s at 40% */
	w->now += 5 * S;
	sample(w, 3600 * S * 4 / 10 + 6 * S, 1 << 20, 520);
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].step, "pids +220 in 5 s");
	world_free(&w);
}

/* a low threshold re-arms too, once the figure is clearly below it */
static void test_low_threshold_rearms(void **state)
{
	struct vg_config *cfg;
	assert_int_equal(vg_config_new_default(&cfg), 0);
	cfg->mem_percent = 4;
	struct world *w = world_new(cfg);

	sample(w, 0, 3 << 20, 5); /* 4.7% of 64 MiB */
	assert_int_equal(w->got.n, 1);
	w->now += 5 * S;
	sample(w, 0, 1 << 20, 5); /* 1.6%: re-armed */
	w->now += 5 * S;
	sample(w, 0, 3 << 20, 5);
	/* the same step of the open incident: counted, not alerted again */
	const struct vg_incident *inc = vg_incidents_find(vg_rules_incidents(w->r), w->ctr.cg.id, w->now);
	assert_int_equal(w->got.n, 1);
	assert_int_equal(inc->steps[0].count, 2);
	world_free(&w);
}

static void test_memory_pids_and_oom(void **state)
{
	struct world *w = world_new(NULL);

	/* an OOM kill with no spike before it: warning */
	eval(w, ev_oom(w));
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].rule->name, "oom_kill");
	assert_int_equal(w->got.a[0].severity, VG_SEV_WARNING);
	world_free(&w);

	w = world_new(NULL);
	sample(w, 0, 10 << 20, 5);
	w->now += 5 * S;
	sample(w, 0, 62 << 20, 5); /* 96% of 64 MiB */
	assert_int_equal(w->got.n, 1);
	assert_string_equal(w->got.a[0].step, "memory 96% of limit");
	w->now += 5 * S;
	sample(w, 0, 63 << 20, 5); /* still high: no repeat */
	assert_int_equal(w->got.n, 1);

	/* explosive pid growth, then near the limit */
	w->now += 5 * S;
	sample(w, 0, 63 << 20, 400);
	assert_int_equal(w->got.n, 2);
	assert_string_equal(w->got.a[1].step, "pids +395 in 5 s");
	w->now += 5 * S;
	sample(w, 0, 63 << 20, 950); /* grows again (folds) and is near the limit */
	assert_int_equal(w->got.n, 3);
	assert_string_equal(w->got.a[2].step, "pids 95% of limit");

	/* OOM kill after the spike: high, with the figures of the last sample */
	eval(w, ev_oom(w));
	assert_int_equal(w->got.n, 4);
	const struct vg_alert *a = &w->got.a[3];
	assert_int_equal(a->severity, VG_SEV_HIGH);
	assert_string_equal(a->step, "OOM kill of redis-server");
	assert_non_null(strstr(a->detail, "(rss 60.0 MiB) at the container's memory limit of 64.0 MiB"));
	assert_non_null(strstr(a->detail, "63.0 MiB in use at the last sample, 0 s before"));
	assert_string_equal(w->got.inc.chain, "memory 96% of limit → pids +395 in 5 s (×2) → "
					      "pids 95% of limit → OOM kill of redis-server");
	world_free(&w);
}

/* with the spike rule off, samples still give oom_kill its figures */
static void test_oom_figures_without_spike_rule(void **state)
{
	struct vg_config *cfg;
	assert_int_equal(vg_config_new_default(&cfg), 0);
	cfg->rule[VG_RULE_SPIKE].enabled = false;
	struct world *w = world_new(cfg);

	sample(w, 0, 63 << 20, 5);
	w->now += 2 * S;
	eval(w, ev_oom(w));
	assert_int_equal(w->got.n, 1);
	assert_non_null(strstr(w->got.a[0].detail, "at the container's memory limit of 64.0 MiB"));
	assert_non_null(strstr(w->got.a[0].detail, "63.0 MiB in use at the last sample, 2 s before"));
	assert_non_null(w->got.a[0].sample);
	world_free(&w);
}

static void posture_ctx(struct vg_incident *inc, const struct vg_container *c, void *ctx)
{
	snprintf(inc->because, sizeof(inc->because), "possible because: %s has no memory limit",
		 c->name);
}

/* the whole chain of the original incident, in order, in one incident */
static void test_attack_chain(void **state)
{
	struct vg_config *cfg;
	assert_int_equal(vg_config_new_default(&cfg), 0);
	cfg->cpu_window_ns = 2 * S;
	struct world *w = world_new(cfg);
	vg_incidents_set_context(vg_rules_incidents(w->r), posture_ctx, NULL);

	sample(w, 0, 1 << 20, 2);
	eval(w, ev_exec(w, 120, "/bin/sh", SH_C, true));
	proc_set(&w->parent, 120, "sh", "/bin/sh", "sh -c ...");
	eval(w, ev_connect(w, 2, (const char *)META4, 80, -101, true));
	uint64_t cpu = 0;
	for (int i = 0; i < 3; i++) {
		w->now += S;
		cpu += S;
		sample(w, cpu, 1 << 20, 3);
	}
	eval(w, ev_oom(w));
	assert_int_equal(w->got.n, 4);
	for (unsigned i = 1; i < 4; i++)
		assert_int_equal(w->got.a[i].incident_id, w->got.a[0].incident_id);
	assert_string_equal(w->got.inc.chain,
			    "shell from redis-server → metadata access 169.254.169.254 (failed) → "
			    "CPU 100% of quota for 3 s → OOM kill of redis-server");
	assert_int_equal(w->got.inc.severity, VG_SEV_CRITICAL);
	assert_int_equal(w->got.a[3].severity, VG_SEV_HIGH);
	assert_string_equal(w->got.inc.ctr_name, "redis");
	assert_string_equal(w->got.inc.because, "possible because: redis has no memory limit");
	world_free(&w);
}

/* ---- configuration ---- */

static void test_config_switches(void **state)
{
	struct vg_config *cfg;
	char err[128];
	const char *y = "rules:\n  shell_in_service_container:\n    severity: warning\n"
			"  metadata_service_access:\n    enabled: false\n";
	assert_int_equal(vg_config_parse("t", y, strlen(y), &cfg, err, sizeof(err)), 0);
	struct world *w = world_new(NULL);
	vg_rules_set_config(w->r, &cfg);
	assert_null(cfg);
	eval(w, ev_connect(w, 2, (const char *)META4, 80, 0, true));
	assert_int_equal(w->got.n, 0);
	eval(w, ev_exec(w, 120, "/bin/sh", SH_C, true));
	assert_int_equal(w->got.n, 1);
	assert_int_equal(w->got.a[0].severity, VG_SEV_WARNING);
	assert_false(vg_rules_config(w->r)->rule[VG_RULE_METADATA].enabled);

	/* a reload that fails keeps the running configuration */
	char e2[256];
	assert_int_equal(vg_rules_reload(w->r, "tests/unit/fixtures/config/bad-number.yaml", e2,
					 sizeof(e2)), -EINVAL);
	assert_non_null(strstr(e2, "bad-number.yaml:4:"));
	assert_false(vg_rules_config(w->r)->rule[VG_RULE_METADATA].enabled);
	/* one that works replaces it whole */
	assert_int_equal(vg_rules_reload(w->r, "tests/unit/fixtures/config/good.yaml", e2, sizeof(e2)), 0);
	assert_true(vg_rules_config(w->r)->rule[VG_RULE_METADATA].enabled);
	assert_int_equal(vg_rules_config(w->r)->rate_burst, 3);
	for (int i = 0; i < VG_RULE__MAX; i++) {
		const struct vg_rule_def *d = vg_rule_def(i);
		assert_string_equal(d->name, vg_rule_name(i));
		assert_non_null(d->description);
		assert_true(d->technique_id[0] == 'T');
	}
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shell_from_service),
		cmocka_unit_test(test_shell_negatives),
		cmocka_unit_test(test_shell_parent_names),
		cmocka_unit_test(test_service_replaced_by_shell),
		cmocka_unit_test(test_busybox_shells),
		cmocka_unit_test(test_shells_by_resolved_path),
		cmocka_unit_test(test_shell_pid_reuse),
		cmocka_unit_test(test_interactive_shell),
		cmocka_unit_test(test_ten_thousand_shells),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_metadata_from_init),
		cmocka_unit_test(test_metadata_host),
		cmocka_unit_test(test_allowlists),
		cmocka_unit_test(test_miner_indicators),
		cmocka_unit_test(test_miner_argv_markers),
		cmocka_unit_test(test_connect_transports),
		cmocka_unit_test(test_mounts),
		cmocka_unit_test(test_cpu_spike),
		cmocka_unit_test(test_cpu_duty_cycle),
		cmocka_unit_test(test_late_sample),
		cmocka_unit_test(test_spike_critical_with_indicator),
		cmocka_unit_test(test_sample_missing_figure),
		cmocka_unit_test(test_low_threshold_rearms),
		cmocka_unit_test(test_memory_pids_and_oom),
		cmocka_unit_test(test_oom_figures_without_spike_rule),
		cmocka_unit_test(test_attack_chain),
		cmocka_unit_test(test_config_switches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
