/*
 * sampler: cgroup v1/v2 resource reader (see sampler.h).
 *
 * Where each value lives:
 *   value      cgroup v2 (<v2><path>/)        cgroup v1 (<root>/<ctrl><path>/)
 *   CPU time   cpu.stat: usage_usec           cpuacct/cpuacct.usage (ns)
 *   quota      cpu.max: "max|QUOTA PERIOD"    cpu/cpu.cfs_quota_us (-1) + cfs_period_us
 *   memory     memory.current, memory.max     memory/memory.usage_in_bytes, limit_in_bytes
 *   cache      memory.stat: inactive_file     memory.stat: total_inactive_file
 *   pids       pids.current, pids.max         pids/pids.current, pids.max ("max")
 * On a hybrid host a controller bound to v1 is absent from v2, so each value
 * is read from its v1 controller when that is mounted, else from v2.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/cgroup.h"
#include "vigil/sampler.h"

#define DIR_MAX 256
/*
 * The path cache: 16-way sets, room for twice as many containers as the
 * container table holds (4096).  A round reads every container in the
 * table's order, so a set that holds more of them than it has ways would
 * evict, least recently read first, the very one read next, every round:
 * a way read within the last CACHE_SETS * CACHE_WAYS reads is never taken
 * over, and what does not fit is walked for at each read instead.  A set
 * is two pages, touched as containers come.
 */
#define CACHE_WAYS 16
#define CACHE_SETS 512
#define CG_PATH_MAX 400

/* a container not found is walked for again only every NEG_SKIP reads:
 * the walk covers the whole hierarchy, on the drain thread, and a stopped
 * container stays in the table until the next sweep (30 s) */
#define NEG_SKIP 8

struct path_ent {
	char id[72];
	char path[CG_PATH_MAX + 1]; /* where it was last found; "": never */
	bool neg;		    /* not found at path any more (negative entry) */
	unsigned skip;		    /* negative: reads left before the next walk */
	uint64_t read;		    /* the sampler's read count when last read */
};

struct vg_sampler {
	enum vg_cg_layout layout;
	char v2[DIR_MAX];      /* unified hierarchy, "" if none */
	char cpuacct[DIR_MAX]; /* v1 controller directories, "" if not mounted */
	char cpu[DIR_MAX];
	char memory[DIR_MAX];
	char pids[DIR_MAX];
	uint64_t errors;
	uint64_t reads, walks;
	struct path_ent cache[CACHE_SETS][CACHE_WAYS];
};

/* v1 memory limits above this mean "no limit" (the kernel reports
 * PAGE_COUNTER_MAX rounded to pages, just under 2^63) */
#define V1_NO_LIMIT (1ull << 62)

static bool exists(const char *dir, const char *name)
{
	char p[DIR_MAX + 64];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

static void find_v1(char *dst, const char *root, const char *const *names)
{
	struct stat st;
	for (; *names; names++) {
		snprintf(dst, DIR_MAX, "%s/%s", root, *names);
		if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode))
			return;
	}
	dst[0] = 0;
}

int vg_sampler_new(const char *root, struct vg_sampler **out)
{
	static const char *const acct[] = {"cpuacct", "cpu,cpuacct", "cpuacct,cpu", NULL};
	static const char *const cpu[] = {"cpu", "cpu,cpuacct", "cpuacct,cpu", NULL};
	static const char *const mem[] = {"memory", NULL};
	static const char *const pids[] = {"pids", NULL};
	struct vg_sampler *s;

	if (!root || strlen(root) >= DIR_MAX - 16)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (exists(root, "cgroup.controllers")) {
		s->layout = VG_CG_V2;
		snprintf(s->v2, sizeof(s->v2), "%s", root);
		*out = s;
		return 0; /* pure v2: no v1 controller can be mounted under it */
	}
	char uni[DIR_MAX];
	snprintf(uni, sizeof(uni), "%s/unified", root);
	if (exists(uni, "cgroup.controllers")) {
		s->layout = VG_CG_HYBRID;
		snprintf(s->v2, sizeof(s->v2), "%s", uni);
	} else {
		s->layout = VG_CG_V1;
	}
	find_v1(s->cpuacct, root, acct);
	find_v1(s->cpu, root, cpu);
	find_v1(s->memory, root, mem);
	find_v1(s->pids, root, pids);
	if (s->layout == VG_CG_V1 && !s->cpuacct[0] && !s->memory[0] && !s->pids[0]) {
		free(s);
		return -ENOENT;
	}
	*out = s;
	return 0;
}

void vg_sampler_free(struct vg_sampler **s)
{
	if (!s || !*s)
		return;
	free(*s);
	*s = NULL;
}

enum vg_cg_layout vg_sampler_layout(const struct vg_sampler *s)
{
	return s->layout;
}

uint64_t vg_sampler_errors(const struct vg_sampler *s)
{
	/* read by the metrics thread too */
	return __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
}

/*
 * Read <dir><path>/<file> into buf (NUL terminated).  Returns bytes read,
 * -ENOENT when it does not exist (cgroup gone or controller absent).
 */
static ssize_t slurp(const char *dir, const char *path, const char *file, char *buf, size_t n)
{
	char p[DIR_MAX + 512];
	int len = snprintf(p, sizeof(p), "%s%s/%s", dir, path, file);
	if (len < 0 || (size_t)len >= sizeof(p))
		return -ENAMETOOLONG;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t got = read(fd, buf, n - 1);
	int e = errno;
	close(fd);
	if (got < 0)
		return -e;
	buf[got] = 0;
	return got;
}

/* A number, or "max" (= -1) when allow_max.  0 or -EINVAL. */
static int parse_num(const char *s, bool allow_max, int64_t *out)
{
	char *end;
	while (*s == ' ')
		s++;
	if (allow_max && !strncmp(s, "max", 3) && (s[3] == 0 || s[3] == '\n' || s[3] == ' ')) {
		*out = -1;
		return 0;
	}
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || (*end && *end != '\n' && *end != ' '))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Value of "key N" in a flat-keyed stats file. */
static int stat_key(const char *buf, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);
	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (!strncmp(l, key, kl) && l[kl] == ' ') {
			int64_t v;
			if (parse_num(l + kl + 1, false, &v) || v < 0)
				return -EINVAL;
			*out = (uint64_t)v;
			return 0;
		}
	}
	return -ENOENT;
}

struct rd {
	struct vg_sampler *s;
	const char *path;
	unsigned found; /* files that existed */
};

/* A single-number file; 1 when read, 0 when absent, -EINVAL when garbled. */
static int read_num(struct rd *r, const char *dir, const char *file, bool allow_max, int64_t *v)
{
	char buf[64];
	if (!dir[0])
		return 0;
	ssize_t n = slurp(dir, r->path, file, buf, sizeof(buf));
	if (n == -ENOENT)
		return 0;
	r->found++;
	if (n < 0 || parse_num(buf, allow_max, v)) {
		__atomic_fetch_add(&r->s->errors, 1, __ATOMIC_RELAXED);
		return -EINVAL;
	}
	return 1;
}

static void read_cpu(struct rd *r, struct vg_cg_sample *o)
{
	const struct vg_sampler *s = r->s;
	char buf[1024];
	int64_t v, q;

	if (s->cpuacct[0]) {
		if (read_num(r, s->cpuacct, "cpuacct.usage", false, &v) > 0 && v >= 0) {
			o->cpu_usage_ns = (uint64_t)v;
			o->have |= VG_SMP_CPU;
		}
	} else if (s->v2[0]) {
		ssize_t n = slurp(s->v2, r->path, "cpu.stat", buf, sizeof(buf));
		uint64_t us;
		if (n >= 0) {
			r->found++;
			if (!stat_key(buf, "usage_usec", &us)) {
				o->cpu_usage_ns = us * 1000;
				o->have |= VG_SMP_CPU;
			} else {
				__atomic_fetch_add(&r->s->errors, 1, __ATOMIC_RELAXED);
			}
		}
	}

	if (s->cpu[0]) {
		if (read_num(r, s->cpu, "cpu.cfs_quota_us", false, &q) > 0 &&
		    read_num(r, s->cpu, "cpu.cfs_period_us", false, &v) > 0 && v > 0) {
			o->cpu_quota_us = q > 0 ? q : -1;
			o->cpu_period_us = (uint64_t)v;
			o->have |= VG_SMP_QUOTA;
		}
	} else if (s->v2[0]) {
		ssize_t n = slurp(s->v2, r->path, "cpu.max", buf, sizeof(buf));
		if (n >= 0) {
			char *sp = strchr(buf, ' ');
			r->found++;
			if (sp && !parse_num(buf, true, &q) && !parse_num(sp + 1, false, &v) &&
			    v > 0) {
				o->cpu_quota_us = q > 0 ? q : -1;
				o->cpu_period_us = (uint64_t)v;
				o->have |= VG_SMP_QUOTA;
			} else {
				__atomic_fetch_add(&r->s->errors, 1, __ATOMIC_RELAXED);
			}
		}
	}
}

/*
 * The lowest limit in file over the cgroup's ancestors (the hierarchy's
 * root has none): a parent's limit binds its children too.  Kubernetes
 * sets a pod's pids limit on the pod's cgroup only (the CRI has no
 * per-container one), and docker run --cgroup-parent may put a memory
 * limit on the slice.  -1 when none has one.
 */
static int64_t ancestors_limit(const struct rd *r, const char *dir, const char *file)
{
	char up[512], buf[64];
	int64_t best = -1, v;
	char *slash;

	if (snprintf(up, sizeof(up), "%s", r->path) >= (int)sizeof(up))
		return -1;
	while ((slash = strrchr(up, '/')) != NULL && slash != up) {
		*slash = '\0';
		if (slurp(dir, up, file, buf, sizeof(buf)) < 0 || parse_num(buf, true, &v) ||
		    v < 0 || (uint64_t)v >= V1_NO_LIMIT)
			continue;
		if (best < 0 || v < best)
			best = v;
	}
	return best;
}

/* the lower of a cgroup's own limit (-1: none) and its ancestors' */
static int64_t limit_min(int64_t own, int64_t up)
{
	if (own < 0)
		return up;
	return up >= 0 && up < own ? up : own;
}

static void read_mem(struct rd *r, struct vg_cg_sample *o)
{
	const struct vg_sampler *s = r->s;
	bool v1 = s->memory[0] != 0;
	const char *dir = v1 ? s->memory : s->v2;
	char buf[8192];
	int64_t v;

	if (!dir[0])
		return;
	if (read_num(r, dir, v1 ? "memory.usage_in_bytes" : "memory.current", false, &v) > 0 &&
	    v >= 0) {
		o->mem_current = o->mem_working = (uint64_t)v;
		o->have |= VG_SMP_MEM;
		uint64_t inactive;
		if (slurp(dir, r->path, "memory.stat", buf, sizeof(buf)) >= 0 &&
		    !stat_key(buf, v1 ? "total_inactive_file" : "inactive_file", &inactive))
			o->mem_working = inactive < o->mem_current ? o->mem_current - inactive : 0;
	}
	const char *max = v1 ? "memory.limit_in_bytes" : "memory.max";
	if (read_num(r, dir, max, !v1, &v) > 0) {
		o->mem_max = (v < 0 || (uint64_t)v >= V1_NO_LIMIT) ? -1 : v;
		o->mem_max = limit_min(o->mem_max, ancestors_limit(r, dir, max));
		o->have |= VG_SMP_MEMMAX;
	}
}

static void read_pids(struct rd *r, struct vg_cg_sample *o)
{
	const char *dir = r->s->pids[0] ? r->s->pids : r->s->v2;
	int64_t v;

	if (read_num(r, dir, "pids.current", false, &v) > 0 && v >= 0) {
		o->pids_current = (uint64_t)v;
		o->have |= VG_SMP_PIDS;
	}
	if (read_num(r, dir, "pids.max", true, &v) > 0) {
		o->pids_max = limit_min(v, ancestors_limit(r, dir, "pids.max"));
		o->have |= VG_SMP_PIDSMAX;
	}
}

int vg_sampler_read(struct vg_sampler *s, const char *path, struct vg_cg_sample *out)
{
	struct rd r = {.s = s, .path = path};

	memset(out, 0, sizeof(*out));
	out->cpu_quota_us = -1;
	out->mem_max = -1;
	out->pids_max = -1;
	if (!path || path[0] != '/' || strstr(path, "/..") || strlen(path) > 400)
		return -EINVAL;
	if (!strcmp(path, "/"))
		path = ""; /* the root cgroup: no double slash */
	r.path = path;
	read_cpu(&r, out);
	read_mem(&r, out);
	read_pids(&r, out);
	if (!r.found)
		return -ENOENT;
	return out->have ? 0 : -EINVAL;
}

/* ---- finding a container's cgroup ---- */

/* Is the cgroup directory name the container id's own?  Not a sibling that
 * holds the id too: CRI-O's and Podman's monitors (crio-conmon-<id>.scope,
 * libpod-conmon-<id>.scope) sit beside crio-<id>.scope, and which of the
 * two a directory listing gives first is the hash order's business. */
static bool names_ctr(const char *name, const char *id)
{
	char path[CG_PATH_MAX + 2];
	struct vg_cgroup_info ci;

	if (!strstr(name, id) || (size_t)snprintf(path, sizeof(path), "/%s", name) >= sizeof(path))
		return false;
	return vg_cgroup_parse(path, &ci) == 0 && ci.runtime != VG_RT_HOST && !strcmp(ci.id, id);
}

static int walk(const char *dir, size_t rootlen, const char *id, int depth, char *out, size_t n)
{
	DIR *d;
	struct dirent *e;
	int rc = -ENOENT;

	if (depth > 8 || !(d = opendir(dir)))
		return -ENOENT;
	/* first the children of this level, then deeper */
	for (int pass = 0; pass < 2 && rc; pass++) {
		rewinddir(d);
		while (rc && (e = readdir(d))) {
			char sub[DIR_MAX + CG_PATH_MAX + 2];
			if (e->d_type != DT_DIR || e->d_name[0] == '.')
				continue;
			int len = snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
			if (len < 0 || (size_t)len >= sizeof(sub) ||
			    (size_t)len - rootlen > CG_PATH_MAX)
				continue;
			if (pass == 0 && names_ctr(e->d_name, id)) {
				snprintf(out, n, "%s", sub + rootlen);
				rc = 0;
			} else if (pass == 1) {
				rc = walk(sub, rootlen, id, depth + 1, out, n);
			}
		}
	}
	closedir(d);
	return rc;
}

int vg_sampler_locate(struct vg_sampler *s, const char *ctr_id, char *path, size_t n)
{
	/* the memory hierarchy holds every container that has a limit; on pure
	 * v2 the unified one is all there is */
	const char *base = s->memory[0]	   ? s->memory
			   : s->v2[0]	   ? s->v2
			   : s->cpuacct[0] ? s->cpuacct
					   : s->pids;

	if (!ctr_id || strlen(ctr_id) < 12 || strchr(ctr_id, '/'))
		return -EINVAL;
	if (!base[0])
		return -ENOENT;
	__atomic_fetch_add(&s->walks, 1, __ATOMIC_RELAXED);
	return walk(base, strlen(base), ctr_id, 0, path, n);
}

uint64_t vg_sampler_walks(const struct vg_sampler *s)
{
	return __atomic_load_n(&s->walks, __ATOMIC_RELAXED);
}

/* ctr_id's entry, or NULL with *victim the way it would take (NULL: every
 * way is in use, read within the last round) */
static struct path_ent *cache_find(struct vg_sampler *s, const char *ctr_id,
				   struct path_ent **victim)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	struct path_ent *set;

	for (const char *c = ctr_id; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	set = s->cache[h % CACHE_SETS];
	*victim = &set[0];
	for (unsigned w = 0; w < CACHE_WAYS; w++) {
		if (set[w].id[0] && !strcmp(set[w].id, ctr_id))
			return &set[w];
		if (!set[w].id[0] ? (*victim)->id[0] != 0 : set[w].read < (*victim)->read)
			*victim = &set[w];
	}
	if ((*victim)->id[0] && s->reads - (*victim)->read < CACHE_SETS * CACHE_WAYS)
		*victim = NULL;
	return NULL;
}

/* Length of the leading part of path that is the pod's own cgroup: the
 * first one that names pod uid.  0 when none does above the container. */
static size_t pod_dir_len(const char *path, const char *uid)
{
	char pre[CG_PATH_MAX + 1];
	struct vg_cgroup_info ci;

	for (size_t i = 1; i < sizeof(pre); i++) {
		if (path[i] && path[i] != '/')
			continue;
		memcpy(pre, path, i);
		pre[i] = '\0';
		if (vg_cgroup_parse(pre, &ci) || ci.runtime != VG_RT_HOST)
			return 0;
		if (!strcmp(ci.pod_uid, uid))
			return i;
		if (!path[i])
			return 0;
	}
	return 0;
}

int vg_sampler_pod_pids_max(struct vg_sampler *s, const char *ctr_id, int64_t *out)
{
	const char *dir = s->pids[0] ? s->pids : s->v2;
	char path[CG_PATH_MAX + 1], buf[64];
	struct vg_cgroup_info ci;
	ssize_t got;
	int64_t v;
	size_t n;
	int rc;

	if (!dir[0])
		return -ENOENT;
	rc = vg_sampler_locate(s, ctr_id, path, sizeof(path));
	if (rc)
		return rc;
	if (vg_cgroup_parse(path, &ci) || !ci.pod_uid[0] || !(n = pod_dir_len(path, ci.pod_uid)))
		return -ENOENT;
	path[n] = '\0';
	got = slurp(dir, path, "pids.max", buf, sizeof(buf));
	if (got == -ENOENT)
		return -ENOENT;
	if (got < 0 || parse_num(buf, true, &v) || v < -1) {
		__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int vg_sampler_read_id(struct vg_sampler *s, const char *ctr_id, struct vg_cg_sample *out)
{
	struct path_ent *pe, *victim;
	int rc;

	pe = cache_find(s, ctr_id, &victim);
	s->reads++;
	if (pe)
		pe->read = s->reads;
	if (!pe && !victim) {
		/* no room this round: located at each read */
		char path[CG_PATH_MAX + 1];

		if ((rc = vg_sampler_locate(s, ctr_id, path, sizeof(path)))) {
			memset(out, 0, sizeof(*out));
			return rc;
		}
		return vg_sampler_read(s, path, out);
	}
	if (pe && pe->neg && pe->skip) {
		/*
		 * No walk yet, but the last place it was is one read: a
		 * restarted container makes its cgroup again at the same
		 * path, and a sample taken in between must not blind the
		 * rules for the next NEG_SKIP ones
		 */
		pe->skip--;
		if (pe->path[0] && vg_sampler_read(s, pe->path, out) == 0) {
			pe->neg = false;
			return 0;
		}
		memset(out, 0, sizeof(*out));
		return -ENOENT;
	}
	if (!pe || pe->neg) { /* not negative: found at path */
		char path[CG_PATH_MAX + 1];
		rc = vg_sampler_locate(s, ctr_id, path, sizeof(path));
		if (!pe) {
			/* a recycled way keeps nothing of the id before it:
			 * its path would be read as this one's */
			pe = victim;
			memset(pe, 0, sizeof(*pe));
			snprintf(pe->id, sizeof(pe->id), "%s", ctr_id);
			pe->read = s->reads;
		}
		if (rc) {
			pe->neg = true;
			pe->skip = NEG_SKIP - 1;
			memset(out, 0, sizeof(*out));
			return rc;
		}
		snprintf(pe->path, sizeof(pe->path), "%s", path);
		pe->neg = false;
	}
	rc = vg_sampler_read(s, pe->path, out);
	if (rc == -ENOENT) {
		/* gone: one more walk now (a moved cgroup, or one made anew
		 * at the same path since), then negative */
		char path[CG_PATH_MAX + 1];

		if (vg_sampler_locate(s, ctr_id, path, sizeof(path)) == 0) {
			snprintf(pe->path, sizeof(pe->path), "%s", path);
			if ((rc = vg_sampler_read(s, pe->path, out)) != -ENOENT)
				return rc;
		}
		pe->neg = true;
		pe->skip = NEG_SKIP - 1;
	}
	return rc;
}
