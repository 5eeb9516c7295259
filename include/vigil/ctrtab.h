/*
 * ctrtab: the container table.  Maps the cgroup ids carried by every record
 * (v2 id, and on hybrid hosts the v1 memory-controller id) to the container
 * they belong to, or to the host.  The ids are resolved by walking the
 * cgroup filesystem (the kernfs inode number of a cgroup directory is its
 * cgroup id), the path is parsed by vg_cgroup_parse, and the result is
 * cached.  A miss triggers a walk, at most one per 200 ms; ids still not
 * found are cached as "unresolved" host ids and retried with a backoff.
 *
 * Entries are struct vg_container with .cg filled from the path and enrich
 * VG_ENRICH_PENDING; the identity resolver fills the rest with
 * vg_ctrtab_update.  Not thread safe: owned by one thread (the reader), so
 * callbacks run there and other threads hand results back to it.  Pointers
 * returned are valid until the next call that may walk or forget (lookup,
 * resolve, scan, forget).
 */
#ifndef VIGIL_CTRTAB_H
#define VIGIL_CTRTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/container.h"

struct vg_ctrtab;

/*
 * cgroup_root is where cgroup filesystems are mounted ("/sys/fs/cgroup"):
 * pure v2 when it holds cgroup.controllers itself, hybrid when unified/
 * does (v1 memory hierarchy then at memory/), pure v1 with only memory/.
 * cap: containers kept (> 0); up to 4 * cap (at least 1024) cgroup ids are
 * cached.  Returns 0, -EINVAL, -ENOENT (no such directory) or -ENOMEM.
 */
int vg_ctrtab_new(const char *cgroup_root, size_t cap, struct vg_ctrtab **out);
void vg_ctrtab_free(struct vg_ctrtab **tab);

/* The mounts found ("" when absent), e.g. for vg_proctab_set_cgroup_roots. */
const char *vg_ctrtab_v2_root(const struct vg_ctrtab *tab);
const char *vg_ctrtab_v1_root(const struct vg_ctrtab *tab);

struct vg_ctr_lookup {
	const struct vg_container *ctr; /* NULL: the host */
	const char *unit;		/* host: systemd unit/slice of the cgroup, or "" */
	bool unresolved;		/* no id given could be found in the cgroup fs */
};

/*
 * Resolve the two ids of a record header (0 = not given).  The v2 id wins
 * when it names a container; else the v1 id.  Never fails: out always set.
 */
void vg_ctrtab_resolve(struct vg_ctrtab *tab, uint64_t v2id, uint64_t v1id,
		       struct vg_ctr_lookup *out);

/* vg_ctrtab_resolve's container, or NULL for the host. */
const struct vg_container *vg_ctrtab_lookup(struct vg_ctrtab *tab, uint64_t v2id, uint64_t v1id);

/* Container by its 64-hex id, or NULL. */
struct vg_container *vg_ctrtab_find_id(struct vg_ctrtab *tab, const char *ctr_id);

/*
 * Copy what the runtime knows (everything but .cg) from src into the entry
 * with id src->cg.id.  Returns 0 or -ENOENT.
 */
int vg_ctrtab_update(struct vg_ctrtab *tab, const struct vg_container *src);

/*
 * Called, on the owning thread, when a container is first seen or when its
 * last cgroup is forgotten.  The callbacks must not call into the table;
 * queue work instead.
 */
typedef void (*vg_ctrtab_cb)(void *arg, const struct vg_container *c);
void vg_ctrtab_set_on_new(struct vg_ctrtab *tab, vg_ctrtab_cb fn, void *arg);
void vg_ctrtab_set_on_gone(struct vg_ctrtab *tab, vg_ctrtab_cb fn, void *arg);
/*
 * Called when a container already looked up gets a cgroup it did not have:
 * the runtime made it again (a restart, which keeps the container's id and
 * changes its main pid), so what was looked up may be stale.  Same rules
 * as on_new.
 */
void vg_ctrtab_set_on_refresh(struct vg_ctrtab *tab, vg_ctrtab_cb fn, void *arg);
/*
 * Called when a cgroup v2 id becomes known as a container's (on) and when
 * it is forgotten (off; the container may have other ids).  Same rules as
 * on_new.
 */
typedef void (*vg_ctrtab_id_cb)(void *arg, uint64_t id, bool on);
void vg_ctrtab_set_on_ctr_id(struct vg_ctrtab *tab, vg_ctrtab_id_cb fn, void *arg);

/* Call fn for every container; stops early when fn returns non-zero. */
void vg_ctrtab_foreach(struct vg_ctrtab *tab, int (*fn)(void *arg, const struct vg_container *c),
		       void *arg);

/* Forget cgroup id (either hierarchy); a container with no ids left goes. */
void vg_ctrtab_forget(struct vg_ctrtab *tab, uint64_t cgroup_id);

/*
 * Full walk now, whatever the rate limit: registers every container cgroup
 * and forgets cached ids whose cgroup is gone.  Call it once at start and
 * then periodically (e.g. every 30 s) off the hot path.  Returns the number
 * of ids forgotten, or -errno when no hierarchy could be read.
 */
int vg_ctrtab_scan(struct vg_ctrtab *tab);

size_t vg_ctrtab_count(const struct vg_ctrtab *tab); /* containers */

struct vg_ctrtab_stats {
	uint64_t walks;		     /* walks of the cgroup fs done */
	uint64_t walks_limited;	     /* misses that found the rate limit */
	uint64_t unresolved;	     /* ids cached as unresolved */
	uint64_t id_evictions;	     /* cached ids dropped because the cache was full */
	uint64_t containers_dropped; /* new containers not kept: table full */
};
void vg_ctrtab_get_stats(const struct vg_ctrtab *tab, struct vg_ctrtab_stats *st);

/* For tests: the monotonic clock (ns) used for rate limits. */
void vg_ctrtab_set_clock(struct vg_ctrtab *tab, uint64_t (*now)(void *arg), void *arg);

#endif
