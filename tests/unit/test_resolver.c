/* Unit tests for the resolver's queues, retries, fallbacks and listing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "vigil/cgroup.h"
#include "vigil/ctrtab.h"
#include "vigil/resolver.h"

#define WEB_ID "e6253c8a2fb01982c8e29d2efb2749760524ebc63786fd74a66fe1c4e796be1f"
#define HARD_ID "72b8636776868522759c7ee6d1f722879c637a0eeb885485cb597f288a77fc44"
#define GONE_ID "0000000000000000000000000000000000000000000000000000000000000000"
#define CRI_ID "4f1c7d2e9a8b3c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"

static char tmp[64], droot[128], croot[128], sroot[128], sock[128], proot[128], cgroot[128];

static void put(const char *fixture, const char *rel)
{
	assert_int_equal(fixture_copy(tmp, fixture, rel), 0);
}

static int setup(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/vigil-res-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(droot, sizeof(droot), "%s/docker", tmp);
	snprintf(croot, sizeof(croot), "%s/containerd", tmp);
	snprintf(sroot, sizeof(sroot), "%s/storage", tmp);
	snprintf(sock, sizeof(sock), "%s/docker.sock", tmp);
	snprintf(proot, sizeof(proot), "%s/proc", tmp); /* empty unless a test fills it */
	snprintf(cgroot, sizeof(cgroot), "%s/no-cgroup", tmp);
	put("docker_web_app.config.v2.json", "docker/containers/" WEB_ID "/config.v2.json");
	put("docker_web_app.hostconfig.json", "docker/containers/" WEB_ID "/hostconfig.json");
	put("docker_hardened.config.v2.json", "docker/containers/" HARD_ID "/config.v2.json");
	put("oci_containerd_cri.config.json",
	    "containerd/io.containerd.runtime.v2.task/k8s.io/" CRI_ID "/config.json");
	return 0;
}

static int teardown(void **state)
{
	return fixture_rmtree(tmp);
}

static struct vg_resolver_cfg cfg(void)
{
	struct vg_resolver_cfg c = {
		.docker_sock = sock, /* absent unless a test serves it */
		.docker_root = droot,
		.containerd_root = croot,
		.storage_root = sroot,
		.storage_runroot = sroot,
		.proc_root = proot,
		.cgroup_root = cgroot, /* absent unless a test makes it */
		.timeout_ms = 100,
		.retry_ms = 5,
	};
	return c;
}

struct got {
	struct vg_container c[8];
	unsigned n;
};

static void collect(void *ctx, const struct vg_container *c)
{
	struct got *g = ctx;

	if (g->n < 8)
		g->c[g->n] = *c;
	g->n++;
}

/* Poll until n results arrived; bounded (10 s), no timing assertion. */
static void wait_for(struct vg_resolver *r, struct got *g, unsigned n)
{
	time_t end = time(NULL) + 10;

	while (g->n < n && time(NULL) < end) {
		struct pollfd p = {.fd = vg_resolver_fd(r), .events = POLLIN};

		poll(&p, 1, 10);
		vg_resolver_poll(r, collect, g, 0);
	}
	assert_int_equal(g->n, n);
}

static const struct vg_container *find(const struct got *g, const char *id)
{
	for (unsigned i = 0; i < g->n && i < 8; i++)
		if (!strcmp(g->c[i].cg.id, id))
			return &g->c[i];
	return NULL;
}

static void test_queue_rules(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_resolver_stats st;
	struct vg_resolver *r;
	struct got g = {0};

	c.queue_cap = 2;
	assert_int_equal(vg_resolver_new(&c, &r), 0);
	/* not started: requests wait in the queue */
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, WEB_ID), 0);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, WEB_ID), -EALREADY);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, HARD_ID), 0);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, GONE_ID), -EAGAIN);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, "../etc"), -EINVAL);
	assert_int_equal(vg_resolver_submit(r, VG_RT_HOST, GONE_ID), -EINVAL);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, WEB_ID "00"), -EINVAL);
	vg_resolver_cancel(r, HARD_ID);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, GONE_ID), 0);
	/* nothing was resolved yet and poll does not wait for it */
	assert_int_equal(vg_resolver_poll(r, collect, &g, 0), 0);
	vg_resolver_get_stats(r, &st);
	assert_int_equal(st.submitted, 3);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.full, 1);
	assert_true(vg_resolver_runtimes(r) & (1u << VG_RT_DOCKER));
	assert_true(vg_resolver_runtimes(r) & (1u << VG_RT_CONTAINERD));
	assert_false(vg_resolver_runtimes(r) & (1u << VG_RT_CRIO));
	/* freeing with queued work and no worker is clean */
	vg_resolver_free(&r);
	assert_null(r);
	vg_resolver_free(&r);
}

static void test_resolve_and_fail(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_resolver_stats st;
	struct vg_resolver *r;
	struct got g = {0};
	const struct vg_container *w, *x, *k;

	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, WEB_ID), 0);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, GONE_ID), 0);
	assert_int_equal(vg_resolver_submit(r, VG_RT_UNKNOWN, CRI_ID), 0);
	assert_int_equal(vg_resolver_start(r), 0);
	wait_for(r, &g, 3);

	w = find(&g, WEB_ID);
	assert_non_null(w);
	assert_int_equal(w->enrich, VG_ENRICH_DONE);
	assert_string_equal(w->name, "web_app");
	assert_string_equal(w->source, "docker-state"); /* no socket here */
	assert_int_equal(w->cg.runtime, VG_RT_DOCKER);

	x = find(&g, GONE_ID);
	assert_non_null(x);
	assert_int_equal(x->enrich, VG_ENRICH_FAILED);
	assert_string_equal(x->name, "");

	k = find(&g, CRI_ID);
	assert_non_null(k);
	assert_int_equal(k->enrich, VG_ENRICH_DONE);
	assert_int_equal(k->cg.runtime, VG_RT_CONTAINERD);
	assert_string_equal(k->pod_name, "cache-0");

	vg_resolver_get_stats(r, &st);
	assert_int_equal(st.resolved, 2);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.retries, 2); /* the default bound */
	vg_resolver_free(&r);
}

/* The results queue is bounded too: the worker waits for room, the
 * reader takes what it wants per loop. */
static void test_result_backpressure(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_resolver *r;
	struct got g = {0};

	c.queue_cap = 1;
	c.result_cap = 1;
	c.retries = -1u;
	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_resolver_start(r), 0);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, WEB_ID), 0);
	/* the second may find the first still queued: retry until taken */
	int rc = -EAGAIN;
	for (int i = 0; i < 1000 && rc == -EAGAIN; i++) {
		rc = vg_resolver_submit(r, VG_RT_DOCKER, HARD_ID);
		if (rc == -EAGAIN)
			usleep(1000);
	}
	assert_int_equal(rc, 0);
	/* one at a time */
	for (int i = 0; i < 1000 && g.n < 1; i++) {
		usleep(1000);
		vg_resolver_poll(r, collect, &g, 1);
	}
	assert_int_equal(g.n, 1);
	wait_for(r, &g, 2);
	assert_non_null(find(&g, WEB_ID));
	assert_non_null(find(&g, HARD_ID));
	vg_resolver_free(&r);
}

/* ---- a daemon that accepts and never answers ---- */

struct hang {
	int lfd, stop[2];
	pthread_t th;
};

static void *hang_main(void *arg)
{
	struct hang *h = arg;
	struct pollfd p[2] = {{.fd = h->lfd, .events = POLLIN},
			      {.fd = h->stop[0], .events = POLLIN}};
	int fds[16], n = 0;

	for (;;) {
		if (poll(p, 2, -1) <= 0 || p[1].revents)
			break;
		int fd = accept(h->lfd, NULL, NULL);
		if (fd >= 0 && n < 16)
			fds[n++] = fd;
		else if (fd >= 0)
			close(fd);
	}
	while (n)
		close(fds[--n]);
	return NULL;
}

static void hang_start(struct hang *h)
{
	h->lfd = fixture_listen(sock);
	assert_true(h->lfd >= 0);
	assert_int_equal(pipe(h->stop), 0);
	assert_int_equal(pthread_create(&h->th, NULL, hang_main, h), 0);
}

static void hang_stop(struct hang *h)
{
	assert_int_equal(write(h->stop[1], "x", 1), 1);
	pthread_join(h->th, NULL);
	close(h->lfd);
	close(h->stop[0]);
	close(h->stop[1]);
	unlink(sock);
}

static void test_hanging_api_falls_back(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_resolver_stats st;
	struct vg_resolver *r;
	struct got g = {0};
	struct hang h;

	hang_start(&h);
	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_resolver_start(r), 0);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, WEB_ID), 0);
	wait_for(r, &g, 1);
	assert_int_equal(g.c[0].enrich, VG_ENRICH_DONE);
	assert_string_equal(g.c[0].name, "web_app");
	assert_string_equal(g.c[0].source, "docker-state");
	vg_resolver_get_stats(r, &st);
	assert_int_equal(st.api_errors, 1);

	/* synchronous lookup gives the same */
	struct vg_container one;
	assert_int_equal(vg_resolver_lookup(r, VG_RT_DOCKER, WEB_ID, &one), 0);
	assert_string_equal(one.name, "web_app");
	/* the API timed out and the files have nothing: the timeout is the news */
	assert_int_equal(vg_resolver_lookup(r, VG_RT_DOCKER, GONE_ID, &one), -ETIMEDOUT);
	assert_int_equal(one.enrich, VG_ENRICH_FAILED);
	vg_resolver_free(&r);
	hang_stop(&h);
}

/* Start-up listing: every running container of every runtime present. */
static void test_submit_running(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_resolver *r;
	struct got g = {0};
	char path[512];
	FILE *f;

	/* a stopped container's folder is not resolved */
	snprintf(path, sizeof(path), "%s/containers/" GONE_ID, droot);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/containers/" GONE_ID "/config.v2.json", droot);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"Name\":\"/stopped\",\"State\":{\"Running\":false}}", f);
	fclose(f);

	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_resolver_submit_running(r), 0);
	assert_int_equal(vg_resolver_submit_running(r), -EALREADY);
	assert_int_equal(vg_resolver_start(r), 0);
	wait_for(r, &g, 3);
	assert_non_null(find(&g, WEB_ID));
	assert_non_null(find(&g, HARD_ID));
	assert_non_null(find(&g, CRI_ID));
	assert_null(find(&g, GONE_ID));
	/* nothing more comes */
	usleep(50000);
	vg_resolver_poll(r, collect, &g, 0);
	assert_int_equal(g.n, 3);
	vg_resolver_free(&r);
	snprintf(path, sizeof(path), "rm -rf %s/containers/" GONE_ID, droot);
	assert_int_equal(system(path), 0);
}

/* GONE_ID's state file (path) as dockerd writes it while it starts the
 * container (no pid yet), then once it runs */
/* Docker's state file of the container "starting": running with pid, or
 * not yet (pid 0) */
static void write_starting(const char *path, int pid)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "{\"Name\":\"/starting\",\"State\":{\"Running\":%s,\"Pid\":%d}}",
		pid ? "true" : "false", pid);
	fclose(f);
}

/* GONE_ID's state file, made with write_starting(pid); its path into path */
static void gone_state(char *path, size_t n, int pid)
{
	snprintf(path, n, "%s/containers/" GONE_ID, droot);
	mkdir(path, 0700);
	snprintf(path, n, "%s/containers/" GONE_ID "/config.v2.json", droot);
	write_starting(path, pid);
}

/* A cgroup v2 root, tmp/NAME into cg, with docker/ID for each of the ids
 * (NULL-terminated). */
static void cgroup_root(char *cg, size_t n, const char *name, const char *const *ids)
{
	char path[512];

	snprintf(cg, n, "%s/%s", tmp, name);
	mkdir(cg, 0700);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", cg);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/docker", cg);
	mkdir(path, 0700);
	for (; *ids; ids++) {
		snprintf(path, sizeof(path), "%s/docker/%s", cg, *ids);
		mkdir(path, 0700);
	}
}

/* PROC/pid/status with the given NoNewPrivs line, PROC/pid/cgroup in
 * the cgroup of container id */
static void proc_status(int pid, int nnp, const char *id)
{
	char path[512];
	FILE *f;

	mkdir(proot, 0700);
	snprintf(path, sizeof(path), "%s/%d", proot, pid);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%d/status", proot, pid);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "Name:\tsleep\nUid:\t0\t0\t0\t0\nNoNewPrivs:\t%d\nSeccomp:\t2\n", nnp);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%d/cgroup", proot, pid);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "0::/system.slice/docker-%s.scope\n", id);
	fclose(f);
}

/*
 * no-new-privileges set for the whole daemon is in no container's
 * configuration, but the kernel has it on the main process: the
 * container counts as having it.  A pid /proc does not have leaves the
 * configuration's answer.
 */
static void test_no_new_privileges_from_the_kernel(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_resolver *r;
	struct vg_container one;
	char path[512], cmd[600];

	gone_state(path, sizeof(path), 4242); /* running, no security options */
	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_resolver_lookup(r, VG_RT_DOCKER, GONE_ID, &one), 0);
	assert_int_equal(one.pid, 4242);
	assert_false(one.no_new_privileges);
	proc_status(4242, 0, GONE_ID);
	assert_int_equal(vg_resolver_lookup(r, VG_RT_DOCKER, GONE_ID, &one), 0);
	assert_false(one.no_new_privileges);
	/* the pid now another container's process (stale state files) */
	proc_status(4242, 1, WEB_ID);
	assert_int_equal(vg_resolver_lookup(r, VG_RT_DOCKER, GONE_ID, &one), 0);
	assert_false(one.no_new_privileges);
	proc_status(4242, 1, GONE_ID);
	assert_int_equal(vg_resolver_lookup(r, VG_RT_DOCKER, GONE_ID, &one), 0);
	assert_true(one.no_new_privileges);
	/* not running: its pid is not looked at */
	write_starting(path, 0);
	assert_int_equal(vg_resolver_lookup(r, VG_RT_DOCKER, GONE_ID, &one), 0);
	assert_false(one.no_new_privileges);
	vg_resolver_free(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/containers/" GONE_ID " %s", droot, proot);
	assert_int_equal(system(cmd), 0);
}

/* A container read from its files while dockerd still starts it (not
 * running yet, no pid) is looked at once more, later. */
static void test_refresh_after_start(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_resolver *r;
	struct got g = {0};
	char path[512];

	gone_state(path, sizeof(path), 0);

	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_resolver_start(r), 0);
	assert_int_equal(vg_resolver_submit(r, VG_RT_DOCKER, GONE_ID), 0);
	wait_for(r, &g, 1);
	assert_string_equal(g.c[0].name, "starting");
	assert_false(g.c[0].running);
	/* the start finishes: Docker rewrites the file with the pid */
	write_starting(path, 4242);
	wait_for(r, &g, 2);
	assert_true(g.c[1].running);
	assert_int_equal(g.c[1].pid, 4242);
	vg_resolver_free(&r);
	snprintf(path, sizeof(path), "%s/containers/" GONE_ID, droot);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", path);
	assert_int_equal(system(cmd), 0);
}

static void count_then(void *ctx, const struct vg_container *c)
{
	/* the table's entry: the cgroup half is there too */
	assert_int_equal(c->cg.runtime, VG_RT_DOCKER);
	(*(int *)ctx)++;
}

/* Wired to the container table: scan finds the container, the resolver
 * names it, drain puts the name into the table. */
static void test_ctrtab_glue(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_ctrtab *tab = NULL;
	struct vg_resolver *r;
	char cg[256];
	const struct vg_container *e;
	int updated = 0, thens = 0;

	cgroup_root(cg, sizeof(cg), "cgroup", (const char *const[]){WEB_ID, GONE_ID, NULL});

	c.queue_cap = 1; /* the second container finds the queue full */
	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_ctrtab_new(cg, 16, &tab), 0);
	vg_ctrtab_set_on_new(tab, vg_resolver_ctrtab_new, r);
	vg_ctrtab_set_on_gone(tab, vg_resolver_ctrtab_gone, r);
	assert_true(vg_ctrtab_scan(tab) >= 0);
	assert_int_equal(vg_ctrtab_count(tab), 2);
	e = vg_ctrtab_find_id(tab, WEB_ID);
	assert_non_null(e);
	assert_int_equal(e->enrich, VG_ENRICH_PENDING);

	assert_int_equal(vg_resolver_start(r), 0);
	time_t end = time(NULL) + 10;
	while (time(NULL) < end) {
		updated += vg_resolver_drain(r, tab, 0, count_then, &thens);
		vg_resolver_resubmit(r, tab, false);
		if (vg_ctrtab_find_id(tab, WEB_ID)->enrich != VG_ENRICH_PENDING &&
		    vg_ctrtab_find_id(tab, GONE_ID)->enrich != VG_ENRICH_PENDING)
			break;
		usleep(5000);
	}
	assert_int_equal(updated, 2);
	assert_int_equal(thens, 2);
	e = vg_ctrtab_find_id(tab, WEB_ID);
	assert_int_equal(e->enrich, VG_ENRICH_DONE);
	assert_string_equal(e->name, "web_app");
	assert_string_equal(vg_container_label(e, "app"), "api");
	assert_int_equal(e->cg.runtime, VG_RT_DOCKER);
	/* no state anywhere for the other one: failed, with its id kept */
	e = vg_ctrtab_find_id(tab, GONE_ID);
	assert_int_equal(e->enrich, VG_ENRICH_FAILED);
	assert_string_equal(e->cg.id, GONE_ID);
	vg_ctrtab_free(&tab);
	vg_resolver_free(&r);
}

/* Through the table: a container caught while starting becomes known once
 * (one then: one set of posture records), and its second look updates the
 * entry without another. */
static void test_ctrtab_refresh_known_once(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_ctrtab *tab = NULL;
	struct vg_resolver *r;
	char cg[256], path[512], cmd[600];
	const struct vg_container *e;
	int updated = 0, thens = 0;

	(void)state;
	cgroup_root(cg, sizeof(cg), "cgroup-once", (const char *const[]){GONE_ID, NULL});
	gone_state(path, sizeof(path), 0);

	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_ctrtab_new(cg, 16, &tab), 0);
	vg_ctrtab_set_on_new(tab, vg_resolver_ctrtab_new, r);
	assert_true(vg_ctrtab_scan(tab) >= 0);
	assert_int_equal(vg_ctrtab_count(tab), 1);
	assert_int_equal(vg_resolver_start(r), 0);
	time_t end = time(NULL) + 10;
	while (time(NULL) < end && updated < 1) {
		updated += vg_resolver_drain(r, tab, 0, count_then, &thens);
		usleep(5000);
	}
	assert_int_equal(updated, 1);
	assert_int_equal(thens, 1);
	assert_false(vg_ctrtab_find_id(tab, GONE_ID)->running);
	/* the start finishes; the second look comes about a second later */
	write_starting(path, 4242);
	while (time(NULL) < end && updated < 2) {
		updated += vg_resolver_drain(r, tab, 0, count_then, &thens);
		usleep(5000);
	}
	assert_int_equal(updated, 2);
	e = vg_ctrtab_find_id(tab, GONE_ID);
	assert_true(e->running);
	assert_int_equal(e->pid, 4242);
	assert_int_equal(thens, 1);
	vg_ctrtab_free(&tab);
	vg_resolver_free(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/containers/" GONE_ID " %s", droot, cg);
	assert_int_equal(system(cmd), 0);
}

/* The cgroup directory dir made again: the old one moved to tmp/old-n. */
static void remake(const char *dir, int n)
{
	char old[512];

	snprintf(old, sizeof(old), "%s/old-%d", tmp, n);
	assert_int_equal(rename(dir, old), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
}

/* Drain into tab until done(tab) holds; bounded (10 s). */
static void drain_until(struct vg_resolver *r, struct vg_ctrtab *tab, int *thens,
			bool (*done)(struct vg_ctrtab *))
{
	time_t end = time(NULL) + 10;

	while (time(NULL) < end && !done(tab)) {
		vg_resolver_drain(r, tab, 0, count_then, thens);
		usleep(5000);
	}
	assert_true(done(tab));
}

static bool pid_4242(struct vg_ctrtab *tab)
{
	return vg_ctrtab_find_id(tab, GONE_ID)->pid == 4242;
}

static bool pid_5151(struct vg_ctrtab *tab)
{
	return vg_ctrtab_find_id(tab, GONE_ID)->pid == 5151;
}

/*
 * docker restart: the container's cgroup is made again (a new id) and its
 * main process is new.  The table asks for a second look, which updates
 * the entry (no then: it was known); a second look that fails keeps what
 * the first one found.
 */
static void test_ctrtab_restart(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_resolver_stats st;
	struct vg_ctrtab *tab = NULL;
	struct vg_resolver *r;
	char cg[256], path[512], dir[512], cmd[600];
	int thens = 0;

	(void)state;
	cgroup_root(cg, sizeof(cg), "cgroup-restart", (const char *const[]){GONE_ID, NULL});
	snprintf(dir, sizeof(dir), "%s/docker/" GONE_ID, cg);
	gone_state(path, sizeof(path), 4242);

	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_ctrtab_new(cg, 16, &tab), 0);
	vg_ctrtab_set_on_new(tab, vg_resolver_ctrtab_new, r);
	vg_ctrtab_set_on_refresh(tab, vg_resolver_ctrtab_new, r);
	assert_true(vg_ctrtab_scan(tab) >= 0);
	assert_int_equal(vg_resolver_start(r), 0);
	drain_until(r, tab, &thens, pid_4242);
	assert_int_equal(thens, 1);

	/* restarted: a new cgroup, a new main pid (the old directory is
	 * moved out of the tree, not removed: a file system here may give a
	 * new directory the inode just freed, where cgroup ids are never
	 * reused) */
	write_starting(path, 5151);
	remake(dir, 1);
	assert_true(vg_ctrtab_scan(tab) >= 0);
	drain_until(r, tab, &thens, pid_5151);
	assert_int_equal(thens, 1);
	assert_int_equal(vg_ctrtab_count(tab), 1);

	/* again, with nothing to read this time: the lookup fails */
	assert_int_equal(unlink(path), 0);
	remake(dir, 2);
	assert_true(vg_ctrtab_scan(tab) >= 0);
	time_t end = time(NULL) + 10;
	do {
		usleep(5000);
		vg_resolver_get_stats(r, &st);
	} while (st.failed < 1 && time(NULL) < end);
	assert_int_equal(st.failed, 1);
	for (int i = 0; i < 20; i++) {
		vg_resolver_drain(r, tab, 0, count_then, &thens);
		usleep(5000);
	}
	assert_int_equal(vg_ctrtab_find_id(tab, GONE_ID)->enrich, VG_ENRICH_DONE);
	assert_int_equal(vg_ctrtab_find_id(tab, GONE_ID)->pid, 5151);
	assert_string_equal(vg_ctrtab_find_id(tab, GONE_ID)->name, "starting");
	vg_ctrtab_free(&tab);
	vg_resolver_free(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/containers/" GONE_ID " %s %s/old-*", droot, cg, tmp);
	assert_int_equal(system(cmd), 0);
}

/* A resolver on a container table over the cgroup root cg, wired as the
 * agent wires them (on_new), the table scanned and the resolver started. */
static void wired(struct vg_resolver_cfg *c, const char *cg, size_t cap, struct vg_resolver **r,
		  struct vg_ctrtab **tab)
{
	assert_int_equal(vg_resolver_new(c, r), 0);
	assert_int_equal(vg_ctrtab_new(cg, cap, tab), 0);
	vg_ctrtab_set_on_new(*tab, vg_resolver_ctrtab_new, *r);
	assert_true(vg_ctrtab_scan(*tab) >= 0);
	assert_int_equal(vg_resolver_start(*r), 0);
}

static bool gone_failed(struct vg_ctrtab *tab)
{
	return vg_ctrtab_find_id(tab, GONE_ID)->enrich == VG_ENRICH_FAILED;
}

static bool gone_done(struct vg_ctrtab *tab)
{
	return vg_ctrtab_find_id(tab, GONE_ID)->enrich == VG_ENRICH_DONE;
}

/* The resolver's failed results so far reach n, results drained into tab
 * meanwhile (the result queue is bounded); bounded (10 s). */
static void wait_failed(struct vg_resolver *r, struct vg_ctrtab *tab, int *thens, uint64_t n)
{
	struct vg_resolver_stats st;
	time_t end = time(NULL) + 10;

	do {
		usleep(5000);
		vg_resolver_drain(r, tab, 0, count_then, thens);
		vg_resolver_get_stats(r, &st);
	} while (st.failed < n && time(NULL) < end);
	assert_int_equal(st.failed, n);
}

/*
 * A container whose lookup failed (the runtime down, its state not yet
 * written) is looked up again when the minute's resubmit asks for failed
 * ones too: a look that fails again changes nothing (no second then), one
 * that finds it names it and counts as it becoming known (a then: its
 * posture).  The pending-only resubmit leaves it alone.
 */
static void test_ctrtab_failed_retried(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_ctrtab *tab = NULL;
	struct vg_resolver *r;
	char cg[256], path[512], cmd[600];
	int thens = 0;

	(void)state;
	cgroup_root(cg, sizeof(cg), "cgroup-retry", (const char *const[]){GONE_ID, NULL});
	wired(&c, cg, 16, &r, &tab);
	drain_until(r, tab, &thens, gone_failed);
	assert_int_equal(thens, 1);

	/* failed again: still failed, no second then */
	assert_int_equal(vg_resolver_resubmit(r, tab, true), 1);
	wait_failed(r, tab, &thens, 2);
	vg_resolver_drain(r, tab, 0, count_then, &thens);
	assert_true(gone_failed(tab));
	assert_int_equal(thens, 1);

	/* the state is there now; only a resubmit with failed ones finds it */
	gone_state(path, sizeof(path), 4242);
	assert_int_equal(vg_resolver_resubmit(r, tab, false), 0);
	assert_int_equal(vg_resolver_resubmit(r, tab, true), 1);
	drain_until(r, tab, &thens, gone_done);
	assert_int_equal(thens, 2);
	assert_string_equal(vg_ctrtab_find_id(tab, GONE_ID)->name, "starting");
	assert_int_equal(vg_ctrtab_find_id(tab, GONE_ID)->pid, 4242);
	/* known now: neither resubmit asks again */
	assert_int_equal(vg_resolver_resubmit(r, tab, true), 0);
	vg_ctrtab_free(&tab);
	vg_resolver_free(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/containers/" GONE_ID " %s", droot, cg);
	assert_int_equal(system(cmd), 0);
}

/* the i-th of the many containers' ids */
static void many_id(char id[VG_CTR_ID_LEN + 1], int i)
{
	snprintf(id, VG_CTR_ID_LEN + 1, "ab%060x%02x", 0, i + 1);
}

static bool all_failed(struct vg_ctrtab *tab)
{
	char id[VG_CTR_ID_LEN + 1];

	for (int i = 0; i < 20; i++) {
		many_id(id, i);
		if (vg_ctrtab_find_id(tab, id)->enrich != VG_ENRICH_FAILED)
			return false;
	}
	return true;
}

/*
 * Many failed containers: a pass asks again for at most
 * VG_RESOLVER_AGAIN_MAX of them, the next pass for the rest, then the
 * first ones again; each such look is one attempt (no retries of its own).
 */
static void test_failed_retried_in_turn(void **state)
{
	struct vg_resolver_cfg c = cfg();
	struct vg_resolver_stats before, after;
	struct vg_ctrtab *tab = NULL;
	struct vg_resolver *r;
	static char ids[20][VG_CTR_ID_LEN + 1];
	const char *list[21];
	char cg[256], cmd[600];
	int thens = 0;

	(void)state;
	for (int i = 0; i < 20; i++) {
		many_id(ids[i], i);
		list[i] = ids[i];
	}
	list[20] = NULL;
	cgroup_root(cg, sizeof(cg), "cgroup-many", list);
	wired(&c, cg, 64, &r, &tab);
	drain_until(r, tab, &thens, all_failed);
	vg_resolver_get_stats(r, &before);
	assert_int_equal(before.failed, 20);

	assert_int_equal(vg_resolver_resubmit(r, tab, true), VG_RESOLVER_AGAIN_MAX);
	wait_failed(r, tab, &thens, 20 + VG_RESOLVER_AGAIN_MAX);
	assert_int_equal(vg_resolver_resubmit(r, tab, true), 20 - VG_RESOLVER_AGAIN_MAX);
	wait_failed(r, tab, &thens, 20 + 20);
	assert_int_equal(vg_resolver_resubmit(r, tab, true), VG_RESOLVER_AGAIN_MAX);
	wait_failed(r, tab, &thens, 20 + 20 + VG_RESOLVER_AGAIN_MAX);
	vg_resolver_get_stats(r, &after);
	assert_int_equal(after.retries, before.retries); /* one attempt each */
	assert_int_equal(thens, 20);			 /* the first failures only */
	vg_resolver_drain(r, tab, 0, count_then, &thens);
	assert_int_equal(thens, 20);
	vg_ctrtab_free(&tab);
	vg_resolver_free(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", cg);
	assert_int_equal(system(cmd), 0);
}

/* A bare id under kubepods is parsed as containerd's; cri-dockerd's
 * cgroupfs layout (and a docker run --cgroup-parent=/kubepods/x) has the
 * same shape, so the other runtimes are asked after containerd. */
static void test_kube_bare_id_any_runtime(void **state)
{
	(void)state;
	struct vg_resolver_cfg c = cfg();
	struct vg_cgroup_info cg;
	struct vg_container one;
	struct vg_resolver *r;

	assert_int_equal(vg_cgroup_parse("/kubepods/burstable/pod0f5c2a3e-1111-2222-3333-"
					 "444455556666/" WEB_ID,
					 &cg),
			 0);
	assert_int_equal(cg.runtime, VG_RT_CONTAINERD);
	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_resolver_lookup(r, cg.runtime, WEB_ID, &one), 0);
	assert_string_equal(one.name, "web_app");
	assert_int_equal(one.cg.runtime, VG_RT_DOCKER);
	/* Docker CE runs its containers on the system containerd, in its moby
	 * namespace: containerd knows the id there but names nothing, and
	 * Docker is asked */
	char dir[512], cmd[1200];
	snprintf(dir, sizeof(dir), "%s/io.containerd.runtime.v2.task/moby/%s", croot, WEB_ID);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp tests/unit/fixtures/oci_moby_web_app.config.json '%s/config.json'", dir, dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vg_resolver_lookup(r, cg.runtime, WEB_ID, &one), 0);
	assert_string_equal(one.name, "web_app");
	assert_int_equal(one.cg.runtime, VG_RT_DOCKER);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	/* and containerd's own is still found as containerd's */
	assert_int_equal(vg_resolver_lookup(r, VG_RT_CONTAINERD, CRI_ID, &one), 0);
	assert_int_equal(one.cg.runtime, VG_RT_CONTAINERD);
	assert_string_equal(one.pod_name, "cache-0");
	vg_resolver_free(&r);
}

/* A container in a pod with no pids limit in its CRI spec: the pod's,
 * which kubelet put on the pod's cgroup, is read with it. */
static void test_pod_pids_limit(void **state)
{
	(void)state;
	const char *rel = "containerd/io.containerd.runtime.v2.task/k8s.io/" CRI_ID "/config.json";
	struct vg_resolver_cfg c = cfg();
	char cg[128], pod[512], path[700];
	struct vg_container one;
	struct vg_resolver *r;
	size_t len = 0;
	char *spec, *lim;
	FILE *f;

	/* the spec as kubelet has it made: no pids limit */
	spec = fixture_load("oci_containerd_cri.config.json", &len);
	assert_non_null(spec);
	lim = strstr(spec, "\"pids\": {\"limit\": 1024}");
	assert_non_null(lim);
	memset(lim + strlen("\"pids\": {"), ' ', strlen("\"limit\": 1024"));
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(spec, 1, len, f), len);
	fclose(f);
	free(spec);
	/* the pod's cgroup (systemd driver) with its limit, the container's
	 * below it without one */
	cgroup_root(cg, sizeof(cg), "cgroup-pod", (const char *const[]){NULL});
	snprintf(pod, sizeof(pod),
		 "%s/kubepods.slice/kubepods-burstable.slice/"
		 "kubepods-burstable-pod2f4e8a1c_7d3b_4c1e_9f2a_5b6c7d8e9f01.slice",
		 cg);
	snprintf(path, sizeof(path), "mkdir -p '%s/cri-containerd-" CRI_ID ".scope'", pod);
	assert_int_equal(system(path), 0);
	snprintf(path, sizeof(path), "%s/pids.max", pod);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("512\n", f);
	fclose(f);

	c.cgroup_root = cg;
	assert_int_equal(vg_resolver_new(&c, &r), 0);
	assert_int_equal(vg_resolver_lookup(r, VG_RT_CONTAINERD, CRI_ID, &one), 0);
	assert_string_equal(one.pod_uid, "2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01");
	assert_int_equal(one.pids_limit, 0);
	assert_int_equal(one.pod_pids_limit, 512);
	/* none on the pod either: read as none */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("max\n", f);
	fclose(f);
	assert_int_equal(vg_resolver_lookup(r, VG_RT_CONTAINERD, CRI_ID, &one), 0);
	assert_int_equal(one.pod_pids_limit, -1);
	vg_resolver_free(&r);
	put("oci_containerd_cri.config.json", rel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_rules),
		cmocka_unit_test(test_resolve_and_fail),
		cmocka_unit_test(test_no_new_privileges_from_the_kernel),
		cmocka_unit_test(test_result_backpressure),
		cmocka_unit_test(test_hanging_api_falls_back),
		cmocka_unit_test(test_submit_running),
		cmocka_unit_test(test_ctrtab_glue),
		cmocka_unit_test(test_refresh_after_start),
		cmocka_unit_test(test_ctrtab_refresh_known_once),
		cmocka_unit_test(test_ctrtab_restart),
		cmocka_unit_test(test_ctrtab_failed_retried),
		cmocka_unit_test(test_failed_retried_in_turn),
		cmocka_unit_test(test_kube_bare_id_any_runtime),
		cmocka_unit_test(test_pod_pids_limit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
