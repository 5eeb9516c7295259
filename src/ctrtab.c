/*
 * ctrtab: cgroup id -> container (see ctrtab.h).
 *
 * Two preallocated tables, both chained hashes over index arrays:
 *   - ids: (hierarchy, cgroup id) -> state: a container, the host (with the
 *     systemd unit from its path) or unresolved (not found by the last walk
 *     that looked; retried after a backoff of 200 ms doubling to 10 s);
 *   - containers: 64-hex id -> struct vg_container, with the number of ids
 *     that point at it (v1 and v2 ids, Podman's libpod-<id>.scope and its
 *     container/ child, ...).
 * Slots are taken from a high-water mark before the free list, so pages of
 * the (large) container array are only touched when used.
 *
 * v1 and v2 hierarchies are separate kernfs instances whose inode numbers
 * may collide, so the hierarchy is part of the key.
 *
 * A miss is first resolved directly: a cgroup id is also the kernfs file
 * handle of its directory, so open_by_handle_at(2) on the hierarchy's root
 * opens it and /proc/self/fd names its path — one syscall pair instead of
 * a walk, and no rate limit, so a container's first records (runc's setup
 * inside the new cgroup) are named.  It needs CAP_DAC_READ_SEARCH; without
 * it (EPERM) the table falls back to walks for good.
 *
 * A walk on a miss only adds: container cgroups it meets (so one walk finds
 * every new container), and host cgroups while the id cache is under 3/4
 * full (then only the ids wanted or unresolved).  Forgetting is left to vg_ctrtab_scan and
 * vg_ctrtab_forget, so a container whose cgroup was just removed is still
 * named for records that arrive late.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vigil/cgroup.h"
#include "vigil/ctrtab.h"

#define NIL UINT32_MAX
#define WALK_INTERVAL_NS 200000000ull
#define BACKOFF_MIN_MS 200u
#define BACKOFF_MAX_MS 10000u
#define WALK_DEPTH_MAX 32

enum hier { H_V2 = 0, H_V1 = 1, H__N = 2 };
enum ist { I_FREE = 0, I_CTR, I_HOST, I_UNRESOLVED };

struct ident {
	uint64_t id;
	uint64_t used;	   /* tick of the last lookup */
	uint64_t retry_at; /* unresolved: ns after which a walk may retry */
	uint32_t hnext;
	uint32_t ctr; /* I_CTR: index into ctrs */
	uint32_t backoff_ms;
	uint32_t seen_gen;
	uint8_t hier, state;
	char unit[sizeof(((struct vg_cgroup_info *)0)->unit)];
};

struct centry {
	struct vg_container c;
	uint32_t hnext;
	uint32_t nrefs;
	bool used;
};

struct slots {
	uint32_t cap, hiwat, free, count;
	uint32_t nbucket;
	uint32_t *bucket;
};

struct vg_ctrtab {
	struct ident *ids;
	struct centry *ctrs;
	struct slots is, cs;
	char root[H__N][PATH_MAX];
	uint64_t last_walk;
	bool walked;
	uint64_t tick;
	uint32_t gen, hand;
	vg_ctrtab_cb on_new, on_gone, on_refresh;
	void *on_new_arg, *on_gone_arg, *on_refresh_arg;
	vg_ctrtab_id_cb on_ctr_id;
	void *on_ctr_id_arg;
	uint64_t (*now)(void *);
	void *now_arg;
	struct vg_ctrtab_stats st;
	/* the ids the current walk looks for */
	uint64_t want[H__N];
	int rootfd[H__N]; /* hierarchy roots, for open_by_handle_at; -1 */
	bool no_handles;  /* open_by_handle_at refused: walk only */
};

/* ---- slots ----------------------------------------------------------- */

static int slots_init(struct slots *s, uint32_t cap)
{
	uint32_t i;

	s->cap = cap;
	s->hiwat = s->count = 0;
	s->free = NIL;
	s->nbucket = 1;
	while (s->nbucket < 2 * cap)
		s->nbucket <<= 1;
	s->bucket = malloc(s->nbucket * sizeof(*s->bucket));
	if (!s->bucket)
		return -ENOMEM;
	for (i = 0; i < s->nbucket; i++)
		s->bucket[i] = NIL;
	return 0;
}

static inline uint32_t hash_id(const struct slots *s, uint8_t hier, uint64_t id)
{
	uint64_t h = (id ^ ((uint64_t)hier << 61)) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32) & (s->nbucket - 1);
}

static uint32_t hash_str(const struct slots *s, const char *str)
{
	uint32_t h = 2166136261u;

	while (*str)
		h = (h ^ (unsigned char)*str++) * 16777619u;
	return h & (s->nbucket - 1);
}

/* ---- ids ------------------------------------------------------------- */

static uint32_t id_find(const struct vg_ctrtab *t, uint8_t hier, uint64_t id)
{
	uint32_t i = t->is.bucket[hash_id(&t->is, hier, id)];

	while (i != NIL && (t->ids[i].id != id || t->ids[i].hier != hier))
		i = t->ids[i].hnext;
	return i;
}

static void ctr_unref(struct vg_ctrtab *t, uint32_t ci);

static void id_remove(struct vg_ctrtab *t, uint32_t i)
{
	struct ident *x = &t->ids[i];
	uint32_t *pp = &t->is.bucket[hash_id(&t->is, x->hier, x->id)];

	while (*pp != i)
		pp = &t->ids[*pp].hnext;
	*pp = x->hnext;
	if (x->state == I_CTR && x->hier == H_V2 && t->on_ctr_id)
		t->on_ctr_id(t->on_ctr_id_arg, x->id, false);
	if (x->state == I_CTR)
		ctr_unref(t, x->ctr);
	x->state = I_FREE;
	x->hnext = t->is.free;
	t->is.free = i;
	t->is.count--;
}

/*
 * An id to evict when the cache is full: the least recently used of the
 * next VICTIM_SAMPLE slots after a rotating hand, host and unresolved ids
 * before container ids.  Approximate LRU in O(1), so a flood of new ids
 * costs the same per id however large the cache.
 *
 * Never a container's last id: evicting it would drop a live container
 * (on_gone, then on_new and a new lookup by the resolver at the next walk).
 * The search ends: it runs with every slot taken, and at most cs.cap <=
 * is.cap / 4 of them are last ids.
 */
#define VICTIM_SAMPLE 32

static uint32_t id_victim(struct vg_ctrtab *t)
{
	uint32_t n, best = NIL, best_ctr = NIL;

	for (n = 0; n < VICTIM_SAMPLE || (best == NIL && best_ctr == NIL); n++) {
		uint32_t i = t->hand++ % t->is.hiwat;
		const struct ident *x = &t->ids[i];

		if (x->state == I_FREE)
			continue;
		if (x->state == I_CTR && t->ctrs[x->ctr].nrefs == 1)
			continue;
		if (x->state == I_CTR) {
			if (best_ctr == NIL || x->used < t->ids[best_ctr].used)
				best_ctr = i;
		} else if (best == NIL || x->used < t->ids[best].used) {
			best = i;
		}
	}
	return best != NIL ? best : best_ctr;
}

static uint32_t id_insert(struct vg_ctrtab *t, uint8_t hier, uint64_t id)
{
	uint32_t i, h;

	if (t->is.free == NIL && t->is.hiwat == t->is.cap) {
		id_remove(t, id_victim(t));
		t->st.id_evictions++;
	}
	if (t->is.free != NIL) {
		i = t->is.free;
		t->is.free = t->ids[i].hnext;
	} else {
		i = t->is.hiwat++;
	}
	memset(&t->ids[i], 0, sizeof(t->ids[i]));
	t->ids[i].id = id;
	t->ids[i].hier = hier;
	t->ids[i].used = t->tick;
	t->ids[i].seen_gen = t->gen;
	h = hash_id(&t->is, hier, id);
	t->ids[i].hnext = t->is.bucket[h];
	t->is.bucket[h] = i;
	t->is.count++;
	return i;
}

/* ---- containers ------------------------------------------------------ */

static uint32_t ctr_find(const struct vg_ctrtab *t, const char *cid)
{
	uint32_t i = t->cs.bucket[hash_str(&t->cs, cid)];

	while (i != NIL && strcmp(t->ctrs[i].c.cg.id, cid))
		i = t->ctrs[i].hnext;
	return i;
}

static void ctr_unref(struct vg_ctrtab *t, uint32_t ci)
{
	struct centry *e = &t->ctrs[ci];
	uint32_t *pp;

	if (--e->nrefs)
		return;
	if (t->on_gone)
		t->on_gone(t->on_gone_arg, &e->c);
	pp = &t->cs.bucket[hash_str(&t->cs, e->c.cg.id)];
	while (*pp != ci)
		pp = &t->ctrs[*pp].hnext;
	*pp = e->hnext;
	e->used = false;
	e->hnext = t->cs.free;
	t->cs.free = ci;
	t->cs.count--;
}

/*
 * The next vg_container.version.  One counter for every table in the
 * process, so that a version names one state of one entry even across
 * tables: the encoder keeps containers' JSON by version alone.
 */
static _Atomic uint64_t versions;

static uint64_t version_next(void)
{
	return atomic_fetch_add_explicit(&versions, 1, memory_order_relaxed) + 1;
}

/* the container for a parsed path, created on first sight (*made); NIL
 * when full */
static uint32_t ctr_get(struct vg_ctrtab *t, const struct vg_cgroup_info *cg, bool *made)
{
	uint32_t i = ctr_find(t, cg->id), h;

	*made = i == NIL;
	if (i != NIL)
		return i;
	if (t->cs.free != NIL) {
		i = t->cs.free;
		t->cs.free = t->ctrs[i].hnext;
	} else if (t->cs.hiwat < t->cs.cap) {
		i = t->cs.hiwat++;
	} else {
		t->st.containers_dropped++;
		return NIL;
	}
	memset(&t->ctrs[i], 0, sizeof(t->ctrs[i]));
	t->ctrs[i].c.cg = *cg;
	t->ctrs[i].c.enrich = VG_ENRICH_PENDING;
	t->ctrs[i].c.version = version_next();
	t->ctrs[i].used = true;
	h = hash_str(&t->cs, cg->id);
	t->ctrs[i].hnext = t->cs.bucket[h];
	t->cs.bucket[h] = i;
	t->cs.count++;
	if (t->on_new)
		t->on_new(t->on_new_arg, &t->ctrs[i].c);
	return i;
}

/* ---- walking the cgroup fs ------------------------------------------- */

static void set_host(struct ident *x, const struct vg_cgroup_info *cg)
{
	x->state = I_HOST;
	memcpy(x->unit, cg->unit, sizeof(x->unit));
}

/* Is path's parent a cgroup of the same container as cg? */
static bool below_same(const char *path, const struct vg_cgroup_info *cg)
{
	const char *slash = strrchr(path, '/');
	char parent[PATH_MAX];
	struct vg_cgroup_info pc;

	if (!slash || slash == path || (size_t)(slash - path) >= sizeof(parent))
		return false;
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	return vg_cgroup_parse(parent, &pc) == 0 && pc.runtime == cg->runtime &&
	       !strcmp(pc.id, cg->id);
}

/*
 * One cgroup directory: its id and its path below the hierarchy root.  A
 * host cgroup is cached when wanted, unresolved, or keep (the roots).
 */
static void visit(struct vg_ctrtab *t, uint8_t hier, uint64_t id, const char *path, bool keep)
{
	struct vg_cgroup_info cg;
	uint32_t i = id_find(t, hier, id), ci;

	if (i != NIL)
		t->ids[i].seen_gen = t->gen;
	if (i != NIL && (t->ids[i].state == I_CTR || t->ids[i].state == I_HOST))
		return;
	if (vg_cgroup_parse(path, &cg) < 0)
		return;
	if (cg.runtime != VG_RT_HOST) {
		bool made;

		ci = ctr_get(t, &cg, &made);
		if (ci == NIL)
			return; /* table full: stays unresolved if it was */
		/* the reference first: id_insert may evict another id of ci */
		t->ctrs[ci].nrefs++;
		if (i == NIL)
			i = id_insert(t, hier, id);
		t->ids[i].state = I_CTR;
		t->ids[i].ctr = ci;
		if (hier == H_V2 && t->on_ctr_id)
			t->on_ctr_id(t->on_ctr_id_arg, id, true);
		/* a new cgroup of a container looked up already: made again by
		 * a restart (one met while the first lookup is pending asks for
		 * nothing; the resolver takes one lookup of an id at a time).
		 * One below another of the same container is the container's
		 * own doing (systemd or a nested runtime inside it) */
		if (!made && t->ctrs[ci].c.enrich != VG_ENRICH_PENDING && t->on_refresh &&
		    !below_same(path, &cg))
			t->on_refresh(t->on_refresh_arg, &t->ctrs[ci].c);
		return;
	}
	/* every host cgroup met is cached while the cache is under 3/4 full,
	 * then only those asked for */
	if (i == NIL && (keep || t->want[hier] == id || t->is.count < t->is.cap / 4 * 3))
		i = id_insert(t, hier, id);
	if (i != NIL)
		set_host(&t->ids[i], &cg);
}

static void walk_dir(struct vg_ctrtab *t, uint8_t hier, int dfd, char *path, size_t plen, int depth)
{
	struct dirent *de;
	DIR *d = fdopendir(dfd);

	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		size_t nl;
		int cfd;

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		nl = strlen(de->d_name);
		if (plen + 1 + nl >= PATH_MAX)
			continue;
		/* kernfs (like tmpfs) reports the inode in d_ino: one stat saved
		 * per cgroup */
		if (de->d_type == DT_DIR) {
			st.st_ino = de->d_ino;
		} else if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			   !S_ISDIR(st.st_mode)) {
			continue;
		}
		path[plen] = '/';
		memcpy(path + plen + 1, de->d_name, nl + 1);
		visit(t, hier, (uint64_t)st.st_ino, path, false);
		if (depth < WALK_DEPTH_MAX) {
			cfd = openat(dirfd(d), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (cfd >= 0)
				walk_dir(t, hier, cfd, path, plen + 1 + nl, depth + 1);
		}
		path[plen] = '\0';
	}
	closedir(d);
}

/* walk every hierarchy; returns how many could be opened */
static int walk(struct vg_ctrtab *t)
{
	char path[PATH_MAX];
	int h, opened = 0;

	t->st.walks++;
	t->last_walk = t->now(t->now_arg);
	t->walked = true;
	for (h = 0; h < H__N; h++) {
		struct stat st;
		int fd;

		if (!t->root[h][0])
			continue;
		fd = open(t->root[h], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0)
			visit(t, (uint8_t)h, (uint64_t)st.st_ino, "/", true);
		opened++;
		path[0] = '\0';
		walk_dir(t, (uint8_t)h, fd, path, 0, 1);
	}
	return opened;
}

/* ---- direct resolution by file handle --------------------------------- */

#define FILEID_KERNFS 0xfe /* kernfs handle type: the 64-bit node id */

/*
 * Resolve one id without a walk.  Returns true when the id is now cached
 * (container or host), false when the kernel would not open it (gone, or
 * handles unavailable: then no_handles is set when the cause is lasting).
 */
static bool by_handle(struct vg_ctrtab *t, uint8_t hier, uint64_t id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	char link[64], path[PATH_MAX];
	size_t rl = strlen(t->root[hier]);
	ssize_t n;
	int fd;

	if (t->no_handles || t->rootfd[hier] < 0)
		return false;
	h.fh.handle_bytes = sizeof(h.id);
	h.fh.handle_type = FILEID_KERNFS;
	h.id = id;
	fd = open_by_handle_at(t->rootfd[hier], &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)
			t->no_handles = true;
		return false;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n <= 0 || (size_t)n < rl || memcmp(path, t->root[hier], rl) != 0)
		return false;
	path[n] = '\0';
	/* the hierarchy root itself is "/" */
	/* kept in the cache however full: it was asked for */
	visit(t, hier, id, path[rl] ? path + rl : "/", true);
	uint32_t i = id_find(t, hier, id);
	return i != NIL && (t->ids[i].state == I_CTR || t->ids[i].state == I_HOST);
}

/* ---- lookups --------------------------------------------------------- */

/* may a lookup for this id walk now? */
static bool id_due(const struct vg_ctrtab *t, uint32_t i, uint64_t now)
{
	return i == NIL || (t->ids[i].state == I_UNRESOLVED && now >= t->ids[i].retry_at);
}

static uint32_t mark_unresolved(struct vg_ctrtab *t, uint8_t hier, uint64_t id, uint64_t now)
{
	uint32_t i = id_find(t, hier, id);
	struct ident *x;

	if (i == NIL) {
		i = id_insert(t, hier, id);
		t->ids[i].state = I_UNRESOLVED;
		t->st.unresolved++;
	}
	x = &t->ids[i];
	if (x->state == I_UNRESOLVED && now >= x->retry_at) {
		x->backoff_ms = x->backoff_ms ? x->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (x->backoff_ms > BACKOFF_MAX_MS)
			x->backoff_ms = BACKOFF_MAX_MS;
		x->retry_at = now + (uint64_t)x->backoff_ms * 1000000ull;
	}
	return i;
}

void vg_ctrtab_resolve(struct vg_ctrtab *t, uint64_t v2id, uint64_t v1id, struct vg_ctr_lookup *out)
{
	uint64_t ids[H__N] = {v2id, t->root[H_V1][0] ? v1id : 0};
	uint32_t idx[H__N] = {NIL, NIL};
	bool due = false;
	uint64_t now = 0;
	int h;

	out->ctr = NULL;
	out->unit = "";
	out->unresolved = true;
	t->tick++;
	for (h = 0; h < H__N; h++) {
		if (!ids[h])
			continue;
		idx[h] = id_find(t, (uint8_t)h, ids[h]);
		if (idx[h] != NIL)
			t->ids[idx[h]].used = t->tick; /* not the next victim */
		if (idx[h] != NIL && t->ids[idx[h]].state == I_CTR)
			break; /* the earlier hierarchy wins anyway */
		if (idx[h] == NIL || t->ids[idx[h]].state == I_UNRESOLVED)
			due = true;
	}
	if (h == H__N && due) {
		now = t->now(t->now_arg);
		due = false;
		for (h = 0; h < H__N; h++)
			if (ids[h] && id_due(t, idx[h], now) && !by_handle(t, (uint8_t)h, ids[h]))
				due = true;
		if (due && t->walked && now - t->last_walk < WALK_INTERVAL_NS) {
			t->st.walks_limited++;
			due = false;
		}
		if (due) {
			t->want[H_V2] = ids[H_V2];
			t->want[H_V1] = ids[H_V1];
			walk(t);
			t->want[H_V2] = t->want[H_V1] = 0;
		}
		for (h = 0; h < H__N; h++) {
			if (!ids[h])
				continue;
			idx[h] = id_find(t, (uint8_t)h, ids[h]);
			if (idx[h] == NIL || t->ids[idx[h]].state == I_UNRESOLVED)
				idx[h] = mark_unresolved(t, (uint8_t)h, ids[h], now);
			t->ids[idx[h]].used = t->tick;
		}
	}
	for (h = 0; h < H__N; h++) {
		struct ident *x;

		if (idx[h] == NIL)
			continue;
		x = &t->ids[idx[h]];
		x->used = t->tick;
		if (x->state == I_CTR) {
			out->ctr = &t->ctrs[x->ctr].c;
			out->unit = "";
			out->unresolved = false;
			return;
		}
		if (x->state == I_HOST && out->unresolved) {
			out->unit = x->unit;
			out->unresolved = false;
		}
	}
}

const struct vg_container *vg_ctrtab_lookup(struct vg_ctrtab *t, uint64_t v2id, uint64_t v1id)
{
	struct vg_ctr_lookup r;

	vg_ctrtab_resolve(t, v2id, v1id, &r);
	return r.ctr;
}

struct vg_container *vg_ctrtab_find_id(struct vg_ctrtab *t, const char *cid)
{
	uint32_t i = cid ? ctr_find(t, cid) : NIL;

	return i == NIL ? NULL : &t->ctrs[i].c;
}

int vg_ctrtab_update(struct vg_ctrtab *t, const struct vg_container *src)
{
	struct vg_container *c = vg_ctrtab_find_id(t, src->cg.id);
	struct vg_cgroup_info cg;

	if (!c)
		return -ENOENT;
	cg = c->cg;
	*c = *src;
	c->cg = cg;
	vg_container_pod_from_labels(c);
	c->version = version_next();
	return 0;
}

void vg_ctrtab_set_on_new(struct vg_ctrtab *t, vg_ctrtab_cb fn, void *arg)
{
	t->on_new = fn;
	t->on_new_arg = arg;
}

void vg_ctrtab_set_on_gone(struct vg_ctrtab *t, vg_ctrtab_cb fn, void *arg)
{
	t->on_gone = fn;
	t->on_gone_arg = arg;
}

void vg_ctrtab_set_on_refresh(struct vg_ctrtab *t, vg_ctrtab_cb fn, void *arg)
{
	t->on_refresh = fn;
	t->on_refresh_arg = arg;
}

void vg_ctrtab_set_on_ctr_id(struct vg_ctrtab *t, vg_ctrtab_id_cb fn, void *arg)
{
	t->on_ctr_id = fn;
	t->on_ctr_id_arg = arg;
}

void vg_ctrtab_foreach(struct vg_ctrtab *t, int (*fn)(void *arg, const struct vg_container *c),
		       void *arg)
{
	uint32_t i;

	for (i = 0; i < t->cs.hiwat; i++)
		if (t->ctrs[i].used && fn(arg, &t->ctrs[i].c))
			return;
}

void vg_ctrtab_forget(struct vg_ctrtab *t, uint64_t cgroup_id)
{
	uint8_t h;

	for (h = 0; h < H__N; h++) {
		uint32_t i = id_find(t, h, cgroup_id);

		if (i != NIL)
			id_remove(t, i);
	}
}

int vg_ctrtab_scan(struct vg_ctrtab *t)
{
	uint32_t i;
	int gone = 0;

	t->gen++;
	if (!walk(t))
		return -ENOENT;
	for (i = 0; i < t->is.hiwat; i++) {
		if (t->ids[i].state != I_FREE && t->ids[i].seen_gen != t->gen) {
			id_remove(t, i);
			gone++;
		}
	}
	return gone;
}

size_t vg_ctrtab_count(const struct vg_ctrtab *t)
{
	return t->cs.count;
}

void vg_ctrtab_get_stats(const struct vg_ctrtab *t, struct vg_ctrtab_stats *st)
{
	*st = t->st;
}

static uint64_t mono_now(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vg_ctrtab_set_clock(struct vg_ctrtab *t, uint64_t (*now)(void *arg), void *arg)
{
	t->now = now ? now : mono_now;
	t->now_arg = arg;
}

/* ---- setup ----------------------------------------------------------- */

static bool path_exists(const char *dir, const char *name, bool want_dir)
{
	char p[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) >= sizeof(p))
		return false;
	if (stat(p, &st) < 0)
		return false;
	return want_dir ? S_ISDIR(st.st_mode) : true;
}

static void join(char *dst, const char *dir, const char *name)
{
	size_t n = strlen(dir);

	memcpy(dst, dir, n);
	dst[n] = '/';
	strcpy(dst + n + 1, name);
}

int vg_ctrtab_new(const char *cgroup_root, size_t cap, struct vg_ctrtab **out)
{
	struct vg_ctrtab *t;
	struct stat st;
	size_t idcap = cap * 4 < 1024 ? 1024 : cap * 4;
	int err = -ENOMEM;

	if (!out || !cgroup_root || !cap || cap > (1u << 20) || strlen(cgroup_root) > PATH_MAX - 16)
		return -EINVAL;
	if (stat(cgroup_root, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ids = calloc(idcap, sizeof(*t->ids));
	t->ctrs = calloc(cap, sizeof(*t->ctrs));
	if (!t->ids || !t->ctrs || slots_init(&t->is, (uint32_t)idcap) < 0 ||
	    slots_init(&t->cs, (uint32_t)cap) < 0)
		goto fail;
	vg_ctrtab_set_clock(t, NULL, NULL);
	t->rootfd[H_V2] = t->rootfd[H_V1] = -1;

	if (path_exists(cgroup_root, "cgroup.controllers", false)) {
		strcpy(t->root[H_V2], cgroup_root); /* pure v2 */
	} else {
		if (path_exists(cgroup_root, "unified/cgroup.controllers", false))
			join(t->root[H_V2], cgroup_root, "unified"); /* hybrid */
		if (path_exists(cgroup_root, "memory", true))
			join(t->root[H_V1], cgroup_root, "memory");
	}
	for (int h = 0; h < H__N; h++)
		if (t->root[h][0])
			t->rootfd[h] = open(t->root[h], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*out = t;
	return 0;
fail:
	vg_ctrtab_free(&t);
	return err;
}

void vg_ctrtab_free(struct vg_ctrtab **tp)
{
	struct vg_ctrtab *t = tp ? *tp : NULL;

	if (!t)
		return;
	for (int h = 0; h < H__N; h++)
		if (t->rootfd[h] > 0)
			close(t->rootfd[h]);
	free(t->is.bucket);
	free(t->cs.bucket);
	free(t->ids);
	free(t->ctrs);
	free(t);
	*tp = NULL;
}

const char *vg_ctrtab_v2_root(const struct vg_ctrtab *t)
{
	return t->root[H_V2];
}

const char *vg_ctrtab_v1_root(const struct vg_ctrtab *t)
{
	return t->root[H_V1];
}
