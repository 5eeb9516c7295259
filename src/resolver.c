/*
 * resolver: the worker thread between the reader and the runtimes.
 *
 * Two bounded queues under one mutex.  Requests are a small array kept in
 * submission order; a failed lookup goes back in with a not-before time
 * (doubling delay) until its retries are spent, and the worker sleeps on a
 * condition variable until the earliest request is due.  Results are a
 * ring of whole structs; the worker waits for room there (it is the only
 * side allowed to wait).  The reader's loop never stalls behind a lookup:
 * every critical section is a few copies, so taking the lock costs it
 * microseconds at most.  An eventfd mirrors "results waiting" for an epoll
 * loop.
 *
 * The lock is never held across I/O: the worker copies a request out,
 * unlocks, reads the runtime's state, then locks again to publish.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vigil/cri.h"
#include "vigil/ctrtab.h"
#include "vigil/docker.h"
#include "vigil/resolver.h"
#include "vigil/sampler.h"

#define LIST_MAX 1024	  /* containers one start-up listing resolves */
#define RESTAT_MS 30000	  /* an absent runtime is looked for again after this */
#define JOB_LIST "*list*" /* the id of the start-up listing job */
#define REFRESH_MS 1000	  /* second look at a container caught while starting */

struct job {
	enum vg_runtime rt;
	char id[VG_CTR_ID_LEN + 1];
	unsigned attempts;
	bool refresh;	    /* a second look at a container caught while starting */
	int64_t not_before; /* ms, CLOCK_MONOTONIC */
};

struct vg_resolver {
	struct vg_resolver_cfg cfg;
	pthread_mutex_t m;
	pthread_cond_t work;  /* jobs queued, or stop */
	pthread_cond_t space; /* result room, or stop */
	pthread_t th;
	bool started, stop;
	int efd;

	struct job *jobs;
	unsigned njobs;
	char busy[VG_CTR_ID_LEN + 1]; /* id being looked up now, "" if none */

	struct vg_container *res; /* ring */
	unsigned rhead, rcount;
	struct vg_container scratch; /* the reader's copy during fn() */

	struct vg_sampler *cg; /* cgroupfs, for pods' pids limits; NULL: none */
	unsigned present;      /* 1u << enum vg_runtime */
	int64_t checked_ms;
	struct vg_resolver_stats st;
	unsigned failed_from; /* reader: where the next pass over failed ones starts */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool exists(const char *base, const char *sub)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s%s", base, sub ? "/" : "", sub ? sub : "");
	return stat(path, &st) == 0;
}

/* One stat per route: what is there to ask. */
static void probe(struct vg_resolver *r)
{
	const struct vg_resolver_cfg *c = &r->cfg;
	unsigned p = 0;

	if (exists(c->docker_sock, NULL) || exists(c->docker_root, "containers"))
		p |= 1u << VG_RT_DOCKER;
	if (exists(c->containerd_root, "io.containerd.runtime.v2.task") ||
	    exists(c->containerd_root, "io.containerd.runtime.v1.linux"))
		p |= 1u << VG_RT_CONTAINERD;
	if (exists(c->storage_root, "overlay-containers") ||
	    exists(c->storage_runroot, "overlay-containers"))
		p |= 1u << VG_RT_CRIO | 1u << VG_RT_PODMAN;
	/* read by the reader thread (vg_resolver_runtimes) too */
	__atomic_store_n(&r->present, p, __ATOMIC_RELAXED);
	__atomic_store_n(&r->checked_ms, now_ms(), __ATOMIC_RELAXED);
}

int vg_resolver_new(const struct vg_resolver_cfg *cfg, struct vg_resolver **out)
{
	struct vg_resolver *r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (cfg)
		r->cfg = *cfg;
	struct vg_resolver_cfg *c = &r->cfg;

	c->docker_sock = c->docker_sock ? c->docker_sock : VG_DOCKER_SOCK;
	c->docker_root = c->docker_root ? c->docker_root : VG_DOCKER_ROOT;
	c->containerd_root = c->containerd_root ? c->containerd_root : VG_CONTAINERD_ROOT;
	c->storage_root = c->storage_root ? c->storage_root : VG_STORAGE_ROOT;
	c->storage_runroot = c->storage_runroot ? c->storage_runroot : VG_STORAGE_RUNROOT;
	c->proc_root = c->proc_root ? c->proc_root : "/proc";
	c->cgroup_root = c->cgroup_root ? c->cgroup_root : "/sys/fs/cgroup";
	c->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : VG_RESOLVER_API_MS;
	c->retries = c->retries == 0 ? 2 : c->retries == -1u ? 0 : c->retries;
	c->retry_ms = c->retry_ms ? c->retry_ms : 250;
	c->queue_cap = c->queue_cap ? c->queue_cap : 256;
	c->result_cap = c->result_cap ? c->result_cap : 16;

	r->efd = -1;
	r->jobs = calloc(c->queue_cap, sizeof(*r->jobs));
	r->res = calloc(c->result_cap, sizeof(*r->res));
	if (!r->jobs || !r->res)
		goto nomem;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0)
		goto nomem;
	pthread_mutex_init(&r->m, NULL);
	/* retries wait on the monotonic clock: a wall-clock step (NTP at
	 * boot) must not hold them back by its size */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&r->space, NULL);
	/* no cgroup filesystem there: pods' pids limits stay unread */
	if (vg_sampler_new(c->cgroup_root, &r->cg) < 0)
		r->cg = NULL;
	probe(r);
	*out = r;
	return 0;
nomem:
	free(r->jobs);
	free(r->res);
	free(r);
	return -ENOMEM;
}

void vg_resolver_free(struct vg_resolver **rp)
{
	struct vg_resolver *r;

	if (!rp || !*rp)
		return;
	r = *rp;
	pthread_mutex_lock(&r->m);
	__atomic_store_n(&r->stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&r->work);
	pthread_cond_broadcast(&r->space);
	pthread_mutex_unlock(&r->m);
	if (r->started)
		pthread_join(r->th, NULL);
	pthread_mutex_destroy(&r->m);
	pthread_cond_destroy(&r->work);
	pthread_cond_destroy(&r->space);
	if (r->efd >= 0)
		close(r->efd);
	vg_sampler_free(&r->cg);
	free(r->jobs);
	free(r->res);
	free(r);
	*rp = NULL;
}

static bool valid_id(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++)
		if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
			return false;
	return n == VG_CTR_ID_LEN;
}

/* Under the lock. */
static int enqueue(struct vg_resolver *r, enum vg_runtime rt, const char *id, unsigned attempts,
		   int64_t not_before)
{
	struct job *j;

	if (!strcmp(r->busy, id) && attempts == 0) {
		r->st.duplicates++;
		return -EALREADY;
	}
	for (unsigned i = 0; i < r->njobs; i++) {
		if (!strcmp(r->jobs[i].id, id)) {
			r->st.duplicates++;
			return -EALREADY;
		}
	}
	if (r->njobs >= r->cfg.queue_cap) {
		r->st.full++;
		return -EAGAIN;
	}
	j = &r->jobs[r->njobs++];
	j->rt = rt;
	vg_container_scopy(j->id, sizeof(j->id), id);
	j->attempts = attempts;
	j->refresh = false;
	j->not_before = not_before;
	pthread_cond_signal(&r->work);
	return 0;
}

/* attempts: 0 for a first look; cfg.retries for a failed container's look
 * once more, with none of the retries of a first look.  enqueue() turns
 * down a first look at the id being looked up now, and so is a look once
 * more. */
static int submit(struct vg_resolver *r, enum vg_runtime rt, const char *id, unsigned attempts)
{
	int err;

	if (!r || !id || rt == VG_RT_HOST || !valid_id(id))
		return -EINVAL;
	pthread_mutex_lock(&r->m);
	err = attempts && !strcmp(r->busy, id) ? -EALREADY : enqueue(r, rt, id, attempts, 0);
	if (!err)
		r->st.submitted++;
	pthread_mutex_unlock(&r->m);
	return err;
}

int vg_resolver_submit(struct vg_resolver *r, enum vg_runtime rt, const char *id)
{
	return submit(r, rt, id, 0);
}

int vg_resolver_submit_running(struct vg_resolver *r)
{
	int err;

	if (!r)
		return -EINVAL;
	pthread_mutex_lock(&r->m);
	err = enqueue(r, VG_RT_UNKNOWN, JOB_LIST, 0, 0);
	pthread_mutex_unlock(&r->m);
	return err;
}

void vg_resolver_cancel(struct vg_resolver *r, const char *id)
{
	if (!r || !id)
		return;
	pthread_mutex_lock(&r->m);
	for (unsigned i = 0; i < r->njobs; i++) {
		if (!strcmp(r->jobs[i].id, id)) {
			memmove(&r->jobs[i], &r->jobs[i + 1],
				(r->njobs - i - 1) * sizeof(*r->jobs));
			r->njobs--;
			break;
		}
	}
	pthread_mutex_unlock(&r->m);
}

int vg_resolver_poll(struct vg_resolver *r, vg_resolver_fn fn, void *ctx, unsigned max)
{
	unsigned handed = 0;
	uint64_t v;

	if (!r || !fn)
		return 0;
	/* reset the eventfd first: a result published after this re-arms it */
	if (read(r->efd, &v, sizeof(v)) < 0)
		v = 0;
	while (max == 0 || handed < max) {
		/* a short wait at most: no side holds the lock across I/O or a
		 * condition wait, only for O(1) queue updates */
		pthread_mutex_lock(&r->m);
		if (r->rcount == 0) {
			pthread_mutex_unlock(&r->m);
			return (int)handed;
		}
		r->scratch = r->res[r->rhead];
		explicit_bzero(&r->res[r->rhead], sizeof(r->res[0]));
		r->rhead = (r->rhead + 1) % r->cfg.result_cap;
		r->rcount--;
		pthread_cond_signal(&r->space);
		pthread_mutex_unlock(&r->m);
		fn(ctx, &r->scratch);
		handed++;
	}
	/* max reached with results left: keep the fd readable */
	v = 1;
	if (write(r->efd, &v, sizeof(v)) < 0)
		v = 0;
	return (int)handed;
}

int vg_resolver_fd(const struct vg_resolver *r)
{
	return r ? r->efd : -1;
}

void vg_resolver_get_stats(struct vg_resolver *r, struct vg_resolver_stats *out)
{
	if (!r || !out)
		return;
	pthread_mutex_lock(&r->m);
	*out = r->st;
	pthread_mutex_unlock(&r->m);
}

unsigned vg_resolver_runtimes(const struct vg_resolver *r)
{
	return r ? __atomic_load_n(&r->present, __ATOMIC_RELAXED) : 0;
}

/* ---- lookups (worker thread, or the caller of vg_resolver_lookup) ---- */

static bool has(struct vg_resolver *r, enum vg_runtime rt)
{
	/* a runtime absent at start may have appeared since: look again, rarely */
	unsigned p = __atomic_load_n(&r->present, __ATOMIC_RELAXED);

	if (!(p & (1u << rt)) &&
	    now_ms() - __atomic_load_n(&r->checked_ms, __ATOMIC_RELAXED) > RESTAT_MS) {
		probe(r);
		p = __atomic_load_n(&r->present, __ATOMIC_RELAXED);
	}
	return p & (1u << rt);
}

static int lookup_docker(struct vg_resolver *r, const char *id, struct vg_container *c)
{
	int err = -ENOENT;

	if (exists(r->cfg.docker_sock, NULL)) {
		err = vg_docker_inspect(r->cfg.docker_sock, id, r->cfg.timeout_ms, c);
		if (!err)
			return 0;
		__atomic_fetch_add(&r->st.api_errors, 1, __ATOMIC_RELAXED);
		memset(c, 0, sizeof(*c));
	}
	/* daemon unreachable or slow: Docker's own files say the same */
	int ferr = vg_docker_read_state(r->cfg.docker_root, id, c);

	return ferr == -ENOENT && err != -ENOENT ? err : ferr;
}

/* /proc/PID/name of the container's main process, or NULL */
static FILE *main_proc_file(const struct vg_resolver *r, const struct vg_container *c,
			    const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%d/%s", r->cfg.proc_root, (int)c->pid, name);
	return fopen(path, "re");
}

/* Is pid still in the container's cgroup (state files can be stale)? */
static bool pid_in_container(const struct vg_resolver *r, const struct vg_container *c)
{
	char line[512];
	bool in = false;
	FILE *f = main_proc_file(r, c, "cgroup");

	if (!f)
		return false;
	while (!in && fgets(line, sizeof(line), f))
		in = c->cg.id[0] && strstr(line, c->cg.id);
	fclose(f);
	return in;
}

/*
 * The kernel's word on no-new-privileges: the main process's NoNewPrivs
 * (/proc/PID/status).  A daemon-wide setting (dockerd --no-new-privileges,
 * or "no-new-privileges": true in daemon.json) is in no container's
 * configuration, nor in the Engine API's /info, yet every process of
 * every container has the flag.  It only adds: a pid that is gone, not
 * in our pid namespace, or no longer in the container's cgroup leaves the
 * configuration's answer.  A main process that set the flag on itself
 * counts as well, though a `docker exec` into it would not have it.
 */
static void kernel_nnp(const struct vg_resolver *r, struct vg_container *c)
{
	char line[128];
	FILE *f;

	if (c->no_new_privileges || !c->running || c->pid <= 0 || !pid_in_container(r, c))
		return;
	f = main_proc_file(r, c, "status");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "NoNewPrivs:", 11)) {
			c->no_new_privileges = strtol(line + 11, NULL, 10) == 1;
			break;
		}
	}
	fclose(f);
}

/*
 * A pod's pids limit: kubelet puts it on the pod's cgroup (podPidsLimit),
 * never in a container's CRI spec, so a container in a pod with no limit
 * of its own is bounded by its pod's.  Read only for containers the
 * runtime places in a pod: finding the cgroup takes a walk.
 */
static void pod_pids(const struct vg_resolver *r, const char *id, struct vg_container *c)
{
	if (r->cg && c->pids_limit <= 0 && vg_container_in_pod(c))
		vg_sampler_pod_pids_max(r->cg, id, &c->pod_pids_limit);
}

/*
 * containerd knows the id but names nothing: a spec without CRI's
 * annotations, such as its moby namespace, where Docker CE's containers
 * live (cri-dockerd's among them).  Docker, when it has the id, names it.
 */
static void docker_names(struct vg_resolver *r, const char *id, struct vg_container *c)
{
	struct vg_container *d;

	if (!has(r, VG_RT_DOCKER) || !(d = calloc(1, sizeof(*d))))
		return;
	if (lookup_docker(r, id, d) == 0) {
		d->cg.runtime = VG_RT_DOCKER;
		*c = *d;
	}
	free(d);
}

static int lookup_one(struct vg_resolver *r, enum vg_runtime rt, const char *id,
		      struct vg_container *c)
{
	/*
	 * Which runtimes are asked, in order.  A bare id under kubepods is
	 * labelled containerd, but cri-dockerd's cgroupfs layout has the same
	 * shape (and any `docker run --cgroup-parent=/kubepods/x`): containerd
	 * is asked first, then the others.  A prefix (docker-, crio-, libpod-)
	 * names its runtime.
	 */
	static const enum vg_runtime any[] = {VG_RT_DOCKER, VG_RT_CONTAINERD, VG_RT_CRIO},
				     kube[] = {VG_RT_CONTAINERD, VG_RT_DOCKER, VG_RT_CRIO};
	const enum vg_runtime *order = rt == VG_RT_CONTAINERD ? kube : any;
	int err = -ENOENT;

	for (size_t i = 0; i < 3; i++) {
		enum vg_runtime want = order[i];

		if (rt != VG_RT_UNKNOWN && rt != VG_RT_CONTAINERD &&
		    !(rt == want || (rt == VG_RT_PODMAN && want == VG_RT_CRIO)))
			continue;
		if (!has(r, want))
			continue;
		memset(c, 0, sizeof(*c));
		if (want == VG_RT_DOCKER)
			err = lookup_docker(r, id, c);
		else if (want == VG_RT_CONTAINERD)
			err = vg_cri_read_containerd(r->cfg.containerd_root, id, c);
		else
			err = vg_cri_read_storage(r->cfg.storage_root, r->cfg.storage_runroot, id,
						  rt == VG_RT_PODMAN ? VG_RT_PODMAN : VG_RT_CRIO,
						  c);
		if (!err) {
			c->cg.runtime = want;
			if (want == VG_RT_CRIO &&
			    (rt == VG_RT_PODMAN || !strcmp(c->source, "podman")))
				c->cg.runtime = VG_RT_PODMAN;
			if (rt == VG_RT_CONTAINERD && want == VG_RT_CONTAINERD && !c->name[0])
				docker_names(r, id, c);
			break;
		}
	}
	vg_container_scopy(c->cg.id, sizeof(c->cg.id), id);
	if (!err) {
		kernel_nnp(r, c);
		pod_pids(r, id, c);
	} else {
		/* nothing half-read goes out */
		memset(c, 0, sizeof(*c));
		c->cg.runtime = rt;
		vg_container_scopy(c->cg.id, sizeof(c->cg.id), id);
	}
	return err;
}

int vg_resolver_lookup(struct vg_resolver *r, enum vg_runtime rt, const char *id,
		       struct vg_container *c)
{
	int err;

	if (!r || !id || !c || !valid_id(id) || rt == VG_RT_HOST)
		return -EINVAL;
	err = lookup_one(r, rt, id, c);
	c->enrich = err ? VG_ENRICH_FAILED : VG_ENRICH_DONE;
	return err;
}

/* Publish one result; waits for room (worker only).  Under the lock. */
static void publish(struct vg_resolver *r, const struct vg_container *c)
{
	uint64_t one = 1;

	while (r->rcount >= r->cfg.result_cap && !r->stop)
		pthread_cond_wait(&r->space, &r->m);
	if (r->stop)
		return;
	r->res[(r->rhead + r->rcount) % r->cfg.result_cap] = *c;
	r->rcount++;
	if (c->enrich == VG_ENRICH_DONE)
		r->st.resolved++;
	else
		r->st.failed++;
	if (write(r->efd, &one, sizeof(one)) < 0)
		one = 0;
}

/* Ids from the folders of a runtime: entries that look like container ids. */
static unsigned list_dir(const char *path, char (*ids)[VG_CTR_ID_LEN + 1], unsigned n, unsigned max)
{
	struct dirent *de;
	DIR *d = opendir(path);

	if (!d)
		return n;
	while (n < max && (de = readdir(d)))
		if (valid_id(de->d_name))
			vg_container_scopy(ids[n++], VG_CTR_ID_LEN + 1, de->d_name);
	closedir(d);
	return n;
}

static void list_containerd(const char *root, char (*ids)[VG_CTR_ID_LEN + 1], unsigned *n,
			    unsigned max)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/io.containerd.runtime.v2.task", root);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char sub[768];

		if (de->d_name[0] == '.' || de->d_type == DT_LNK)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		*n = list_dir(sub, ids, *n, max);
	}
	closedir(d);
}

/* The start-up job: resolve every running container of every runtime. */
static void run_listing(struct vg_resolver *r)
{
	char(*ids)[VG_CTR_ID_LEN + 1] = calloc(LIST_MAX, sizeof(*ids));
	enum vg_runtime *rts = calloc(LIST_MAX, sizeof(*rts));
	struct vg_container *c = malloc(sizeof(*c));
	unsigned n = 0, k;
	char path[512];

	if (!ids || !rts || !c)
		goto out;
	if (has(r, VG_RT_DOCKER)) {
		k = n;
		if (!exists(r->cfg.docker_sock, NULL) ||
		    vg_docker_list(r->cfg.docker_sock, r->cfg.timeout_ms, ids, LIST_MAX, &n)) {
			/* no API: every container folder, running ones kept below */
			snprintf(path, sizeof(path), "%s/containers", r->cfg.docker_root);
			n = list_dir(path, ids, 0, LIST_MAX);
		}
		for (; k < n; k++)
			rts[k] = VG_RT_DOCKER;
	}
	if (has(r, VG_RT_CONTAINERD)) {
		k = n;
		list_containerd(r->cfg.containerd_root, ids, &n, LIST_MAX);
		for (; k < n; k++)
			rts[k] = VG_RT_CONTAINERD;
	}
	if (has(r, VG_RT_CRIO)) {
		k = n;
		/* the run root holds the containers that run now */
		snprintf(path, sizeof(path), "%s/overlay-containers", r->cfg.storage_runroot);
		n = list_dir(path, ids, n, LIST_MAX);
		for (; k < n; k++)
			rts[k] = VG_RT_CRIO;
	}
	for (unsigned i = 0; i < n; i++) {
		/* shutdown does not wait for the rest of a long listing */
		if (__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
			break;
		if (lookup_one(r, rts[i], ids[i], c))
			continue;
		if (rts[i] == VG_RT_DOCKER && !c->running)
			continue;
		c->enrich = VG_ENRICH_DONE;
		pthread_mutex_lock(&r->m);
		publish(r, c);
		bool stop = r->stop;
		pthread_mutex_unlock(&r->m);
		if (stop)
			break;
	}
out:
	free(ids);
	free(rts);
	free(c);
}

static void *worker(void *arg)
{
	struct vg_resolver *r = arg;
	struct vg_container *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_lock(&r->m);
	while (!r->stop) {
		int64_t now = now_ms(), next = INT64_MAX;
		struct job j;
		unsigned pick = r->njobs;
		int err;

		for (unsigned i = 0; i < r->njobs; i++) {
			if (r->jobs[i].not_before <= now) {
				pick = i;
				break;
			}
			if (r->jobs[i].not_before < next)
				next = r->jobs[i].not_before;
		}
		if (pick == r->njobs) {
			if (next == INT64_MAX) {
				pthread_cond_wait(&r->work, &r->m);
			} else {
				struct timespec ts;
				int64_t wait = next - now;

				clock_gettime(CLOCK_MONOTONIC, &ts);
				ts.tv_sec += wait / 1000;
				ts.tv_nsec += (wait % 1000) * 1000000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&r->work, &r->m, &ts);
			}
			continue;
		}
		j = r->jobs[pick];
		memmove(&r->jobs[pick], &r->jobs[pick + 1], (r->njobs - pick - 1) * sizeof(j));
		r->njobs--;
		vg_container_scopy(r->busy, sizeof(r->busy), j.id);
		pthread_mutex_unlock(&r->m);

		if (!strcmp(j.id, JOB_LIST)) {
			run_listing(r);
			pthread_mutex_lock(&r->m);
			r->busy[0] = '\0';
			continue;
		}
		err = lookup_one(r, j.rt, j.id, c);

		pthread_mutex_lock(&r->m);
		r->busy[0] = '\0';
		if (err && j.refresh)
			continue; /* keep the first answer */
		/* read from the files while dockerd was still starting it: the main
		 * pid is not there yet, ask once more when the start is over */
		if (!err && !j.refresh && c->cg.runtime == VG_RT_DOCKER && !c->running &&
		    !strcmp(c->source, "docker-state") &&
		    !enqueue(r, j.rt, j.id, j.attempts, now_ms() + REFRESH_MS))
			r->jobs[r->njobs - 1].refresh = true;
		if (err && j.attempts < r->cfg.retries) {
			int64_t delay = (int64_t)r->cfg.retry_ms << j.attempts;

			r->st.retries++;
			if (!enqueue(r, j.rt, j.id, j.attempts + 1, now_ms() + delay))
				continue;
		}
		c->enrich = err ? VG_ENRICH_FAILED : VG_ENRICH_DONE;
		publish(r, c);
	}
	pthread_mutex_unlock(&r->m);
	explicit_bzero(c, sizeof(*c));
	free(c);
	return NULL;
}

int vg_resolver_start(struct vg_resolver *r)
{
	int err;

	if (!r)
		return -EINVAL;
	if (r->started)
		return -EALREADY;
	err = pthread_create(&r->th, NULL, worker, r);
	if (err)
		return -err;
	r->started = true;
	return 0;
}

/* ---- container table glue (reader thread) ---- */

void vg_resolver_ctrtab_new(void *arg, const struct vg_container *c)
{
	if (c && c->cg.runtime != VG_RT_HOST)
		vg_resolver_submit(arg, c->cg.runtime, c->cg.id);
}

void vg_resolver_ctrtab_gone(void *arg, const struct vg_container *c)
{
	if (c)
		vg_resolver_cancel(arg, c->cg.id);
}

struct drain_ctx {
	struct vg_ctrtab *tab;
	int updated;
	vg_resolver_fn then;
	void *ctx;
};

static void drain_one(void *arg, const struct vg_container *c)
{
	struct drain_ctx *d = arg;

	const struct vg_container *e = vg_ctrtab_find_id(d->tab, c->cg.id);
	bool known;

	/* the container went away while it was looked up */
	if (!e)
		return;
	/* a second look (at a container caught while starting) updates an
	 * entry already known: then is for a container becoming known */
	known = e->enrich == VG_ENRICH_DONE;
	/* a second look that failed keeps the first answer, or failure */
	if (e->enrich != VG_ENRICH_PENDING && c->enrich == VG_ENRICH_FAILED)
		return;
	if (vg_ctrtab_update(d->tab, c))
		return;
	d->updated++;
	/* the update fills the same entry in place */
	if (!known && d->then)
		d->then(d->ctx, e);
}

int vg_resolver_drain(struct vg_resolver *r, struct vg_ctrtab *tab, unsigned max,
		      vg_resolver_fn then, void *ctx)
{
	struct drain_ctx d = {.tab = tab, .then = then, .ctx = ctx};

	if (!r || !tab)
		return 0;
	vg_resolver_poll(r, drain_one, &d, max);
	return d.updated;
}

struct resubmit_ctx {
	struct vg_resolver *r;
	bool failed;	  /* this pass: failed ones, else pending ones */
	unsigned seen;	  /* failed ones met so far */
	unsigned stop_at; /* where the next failed pass starts */
	bool stopped;
	int queued;
};

static int resubmit_one(void *arg, const struct vg_container *c)
{
	struct resubmit_ctx *x = arg;
	unsigned ord;
	int err;

	if (c->cg.runtime == VG_RT_HOST)
		return 0;
	if (!x->failed) {
		if (c->enrich != VG_ENRICH_PENDING)
			return 0;
		err = vg_resolver_submit(x->r, c->cg.runtime, c->cg.id);
		if (!err)
			x->queued++;
		return err == -EAGAIN; /* full: stop, the rest waits for the next round */
	}
	if (c->enrich != VG_ENRICH_FAILED)
		return 0;
	ord = x->seen++;
	if (ord < x->r->failed_from)
		return 0;
	err = submit(x->r, c->cg.runtime, c->cg.id, x->r->cfg.retries);
	if (err == -EAGAIN || (!err && ++x->queued >= VG_RESOLVER_AGAIN_MAX)) {
		x->stopped = true;
		x->stop_at = err ? ord : ord + 1;
		return 1;
	}
	return 0;
}

int vg_resolver_resubmit(struct vg_resolver *r, struct vg_ctrtab *tab, bool failed_too)
{
	struct resubmit_ctx x = {.r = r};
	int queued;

	if (!r || !tab)
		return 0;
	vg_ctrtab_foreach(tab, resubmit_one, &x);
	queued = x.queued;
	if (!failed_too)
		return queued;
	/* then failed ones, a bounded number a pass, in turn: those past the
	 * bound come first next time */
	x = (struct resubmit_ctx){.r = r, .failed = true};
	vg_ctrtab_foreach(tab, resubmit_one, &x);
	r->failed_from = x.stopped ? x.stop_at : 0;
	return queued + x.queued;
}
