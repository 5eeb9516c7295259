/*
 * resolver: container metadata off the event path.  One worker thread
 * takes container ids from a bounded request queue, reads the runtime's
 * state (Docker Engine API, else Docker's state files; containerd's OCI
 * bundles; CRI-O / Podman storage) and hands filled struct vg_container
 * results back through a bounded result queue.
 *
 * The agent's reader thread calls vg_resolver_submit() when it first sees
 * a container and vg_resolver_poll() once per loop; neither ever waits on
 * a lookup (submit fails with -EAGAIN when the queue is full; the lock they
 * share with the worker is held only for a few copies, never across I/O).  A failed
 * lookup is retried a bounded number of times, then comes back with
 * enrich = VG_ENRICH_FAILED.  A runtime whose socket and state folders are
 * absent costs one stat at start (and one per 30 s when asked for it).
 */
#ifndef VIGIL_RESOLVER_H
#define VIGIL_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/container.h"

/*
 * The Engine API answers in about a millisecond, except for a container it
 * is starting: dockerd holds that container's lock until the start is done
 * (~300 ms measured here), which is exactly when vigil first sees it.  A
 * short API budget sends such a lookup to the state files, which already
 * hold the identity and configuration, so new containers are named in
 * their first events.
 */
#define VG_RESOLVER_API_MS 50

struct vg_resolver_cfg {
	const char *docker_sock;     /* NULL: VG_DOCKER_SOCK */
	const char *docker_root;     /* NULL: VG_DOCKER_ROOT */
	const char *containerd_root; /* NULL: VG_CONTAINERD_ROOT */
	const char *storage_root;    /* NULL: VG_STORAGE_ROOT */
	const char *storage_runroot; /* NULL: VG_STORAGE_RUNROOT */
	const char *proc_root;	     /* NULL: "/proc" (the main process's NoNewPrivs) */
	const char *cgroup_root;     /* NULL: "/sys/fs/cgroup" (a pod's pids limit) */
	int timeout_ms;		     /* per Engine API request; 0: VG_RESOLVER_API_MS */
	unsigned retries;	     /* attempts after the first; 0: 2 (use -1u for none) */
	unsigned retry_ms;	     /* first retry delay, doubling; 0: 250 */
	unsigned queue_cap;	     /* requests queued; 0: 256 */
	unsigned result_cap;	     /* results waiting for the reader (each a
					whole struct vg_container); 0: 16 */
};

struct vg_resolver;

struct vg_resolver_stats {
	uint64_t submitted;  /* requests accepted */
	uint64_t duplicates; /* submit of an id already queued (-EALREADY) */
	uint64_t full;	     /* submit refused, queue full (-EAGAIN) */
	uint64_t resolved;   /* results with VG_ENRICH_DONE */
	uint64_t failed;     /* results with VG_ENRICH_FAILED */
	uint64_t retries;    /* attempts after a failure */
	uint64_t api_errors; /* Engine API requests that failed (timeouts included) */
};

/* Create (cfg may be NULL for all defaults).  The worker starts with
 * vg_resolver_start(), so requests can be queued before it runs. */
int vg_resolver_new(const struct vg_resolver_cfg *cfg, struct vg_resolver **out);
int vg_resolver_start(struct vg_resolver *r);
/* Stop the worker (waits for its current lookup, at most one timeout) and free. */
void vg_resolver_free(struct vg_resolver **r);

/*
 * Queue container id (64 lower-case hex) of runtime rt (VG_RT_UNKNOWN: try
 * every runtime present).  0, -EALREADY when it is already queued or being
 * looked up, -EAGAIN when the queue is full (submit again later), -EINVAL
 * for a bad id or a host runtime.
 */
int vg_resolver_submit(struct vg_resolver *r, enum vg_runtime rt, const char *id);

/* Queue one job that lists the running containers of every runtime present
 * and resolves each (for start-up).  0 or -EAGAIN / -EALREADY. */
int vg_resolver_submit_running(struct vg_resolver *r);

/* Drop a queued request (container removed before it was looked up). */
void vg_resolver_cancel(struct vg_resolver *r, const char *id);

/*
 * Hand up to max waiting results (0: all) to fn, in the caller's thread.
 * The struct is valid during the call only; its cg holds runtime and id
 * (the caller keeps what the cgroup path told it).  Returns the number
 * handed over.  Never blocks.
 */
typedef void (*vg_resolver_fn)(void *ctx, const struct vg_container *c);
int vg_resolver_poll(struct vg_resolver *r, vg_resolver_fn fn, void *ctx, unsigned max);

/* An fd (eventfd) that is readable while results wait, for epoll. */
int vg_resolver_fd(const struct vg_resolver *r);

void vg_resolver_get_stats(struct vg_resolver *r, struct vg_resolver_stats *out);

/* Runtimes found at start: bit (1u << enum vg_runtime) per runtime. */
unsigned vg_resolver_runtimes(const struct vg_resolver *r);

/*
 * One synchronous lookup with the resolver's configuration, in the
 * caller's thread (for `vigil posture` without an agent, and tests).
 * 0 with c filled (enrich DONE), or -errno (for Docker the API's error when
 * the state files have nothing either).
 */
int vg_resolver_lookup(struct vg_resolver *r, enum vg_runtime rt, const char *id,
		       struct vg_container *c);

/*
 * Glue for the container table (ctrtab), all on the reader thread:
 *   vg_ctrtab_set_on_new(tab, vg_resolver_ctrtab_new, r);
 *   vg_ctrtab_set_on_gone(tab, vg_resolver_ctrtab_gone, r);
 *   each loop:          vg_resolver_drain(r, tab, 0, NULL, NULL);
 *   every few seconds:  vg_resolver_resubmit(r, tab, false);
 *   every minute:       vg_resolver_resubmit(r, tab, true);
 * on_new submits the container (a full queue leaves it pending, and
 * resubmit picks it up later), on_gone cancels a queued lookup, drain
 * copies results into the table (vg_ctrtab_update).
 */
struct vg_ctrtab;
void vg_resolver_ctrtab_new(void *r, const struct vg_container *c);
void vg_resolver_ctrtab_gone(void *r, const struct vg_container *c);
/* Results into tab; returns the number of entries updated.  then (may be
 * NULL) is called with the table entry (full .cg, valid during the call) of
 * each container that stops being pending, and of each failed one that a
 * later look finds: the place to evaluate posture when a container becomes
 * known.  Another later result for a known entry (the second look at a
 * container caught while starting) updates it, no call; a failed one never
 * replaces an earlier result. */
int vg_resolver_drain(struct vg_resolver *r, struct vg_ctrtab *tab, unsigned max,
		      vg_resolver_fn then, void *ctx);
/* Submit every container of tab still VG_ENRICH_PENDING; with failed_too,
 * then up to VG_RESOLVER_AGAIN_MAX VG_ENRICH_FAILED ones (the runtime may
 * have been down), once each with no retries, taking them in turn from one
 * call to the next.  Returns how many were queued. */
#define VG_RESOLVER_AGAIN_MAX 16
int vg_resolver_resubmit(struct vg_resolver *r, struct vg_ctrtab *tab, bool failed_too);

#endif
