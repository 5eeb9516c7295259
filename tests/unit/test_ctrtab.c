/* Unit tests for ctrtab.c against fake cgroup trees made of plain
 * directories in a tmpfs (their inode numbers act as cgroup ids). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/ctrtab.h"

#define ID "3f9d1b7c8a2e4f60b5c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccd"
#define ID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID3 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static char root[256];
static uint64_t fake_now;
static int nnew, ngone;
static char last_new[80], last_gone[80];

static uint64_t clock_fn(void *arg)
{
	return fake_now;
}

static void on_new(void *arg, const struct vg_container *c)
{
	nnew++;
	snprintf(last_new, sizeof(last_new), "%s", c->cg.id);
	assert_int_equal(c->enrich, VG_ENRICH_PENDING);
}

static void on_gone(void *arg, const struct vg_container *c)
{
	ngone++;
	snprintf(last_gone, sizeof(last_gone), "%s", c->cg.id);
}

/* run "verb 'root/rel'" */
static void sh(const char *verb, const char *rel)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s '%s/%s'", verb, root, rel);
	assert_int_equal(system(cmd), 0);
}

static void mkd(const char *rel)
{
	sh("mkdir -p", rel);
}

static uint64_t ino(const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(stat(p, &st), 0);
	return st.st_ino;
}

static int setup(void **state)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(root, sizeof(root), "%s/vg-ctrtab-XXXXXX", base);
	if (!mkdtemp(root))
		return -1;
	nnew = ngone = 0;
	fake_now = 1000000000ull;
	return 0;
}

static int teardown(void **state)
{
	sh("rm -rf", "");
	return 0;
}

/* a hybrid host like this one: v2 at unified/, v1 memory at memory/ */
static struct vg_ctrtab *hybrid(size_t cap)
{
	struct vg_ctrtab *t = NULL;

	mkd("unified");
	sh("touch", "unified/cgroup.controllers");
	mkd("memory");
	mkd("unified/docker/" ID);
	mkd("memory/docker/" ID);
	mkd("unified/system.slice/ssh.service");
	mkd("memory/system.slice/ssh.service");
	assert_int_equal(vg_ctrtab_new(root, cap, &t), 0);
	vg_ctrtab_set_clock(t, clock_fn, NULL);
	vg_ctrtab_set_on_new(t, on_new, NULL);
	vg_ctrtab_set_on_gone(t, on_gone, NULL);
	return t;
}

static void test_roots(void **state)
{
	struct vg_ctrtab *t = NULL;
	char want[300];

	assert_int_equal(vg_ctrtab_new("/nonexistent-cgroup", 8, &t), -ENOENT);
	assert_null(t);
	assert_int_equal(vg_ctrtab_new(root, 0, &t), -EINVAL);

	t = hybrid(8);
	snprintf(want, sizeof(want), "%s/unified", root);
	assert_string_equal(vg_ctrtab_v2_root(t), want);
	snprintf(want, sizeof(want), "%s/memory", root);
	assert_string_equal(vg_ctrtab_v1_root(t), want);
	vg_ctrtab_free(&t);
	assert_null(t);

	/* pure v2 */
	sh("touch", "cgroup.controllers");
	assert_int_equal(vg_ctrtab_new(root, 8, &t), 0);
	assert_string_equal(vg_ctrtab_v2_root(t), root);
	assert_string_equal(vg_ctrtab_v1_root(t), "");
	vg_ctrtab_free(&t);
}

static void test_lookup_docker_and_host(void **state)
{
	struct vg_ctrtab *t = hybrid(8);
	const struct vg_container *c;
	struct vg_ctr_lookup r;
	struct vg_ctrtab_stats st;

	c = vg_ctrtab_lookup(t, ino("unified/docker/" ID), ino("memory/docker/" ID));
	assert_non_null(c);
	assert_string_equal(c->cg.id, ID);
	assert_int_equal(c->cg.runtime, VG_RT_DOCKER);
	assert_int_equal(c->enrich, VG_ENRICH_PENDING);
	assert_int_equal(nnew, 1);
	assert_string_equal(last_new, ID);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.walks, 1);

	/* cached: no second walk, same entry, v1 id alone finds it too */
	assert_ptr_equal(vg_ctrtab_lookup(t, ino("unified/docker/" ID), 0), c);
	assert_ptr_equal(vg_ctrtab_lookup(t, 0, ino("memory/docker/" ID)), c);
	assert_ptr_equal(vg_ctrtab_find_id(t, ID), c);
	assert_int_equal(vg_ctrtab_count(t), 1);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.walks, 1);
	assert_int_equal(nnew, 1);

	/* a host process: NULL, with its unit */
	fake_now += 1000000000ull;
	vg_ctrtab_resolve(t, ino("unified/system.slice/ssh.service"),
			  ino("memory/system.slice/ssh.service"), &r);
	assert_null(r.ctr);
	assert_false(r.unresolved);
	assert_string_equal(r.unit, "ssh.service");
	/* the root cgroup is host */
	vg_ctrtab_resolve(t, ino("unified"), 0, &r);
	assert_null(r.ctr);
	assert_false(r.unresolved);
	vg_ctrtab_free(&t);
}

static int nrefresh;

static void on_refresh(void *arg, const struct vg_container *c)
{
	nrefresh++;
	assert_int_not_equal(c->enrich, VG_ENRICH_PENDING);
}

/*
 * docker restart: the container keeps its id, the runtime makes its
 * cgroups again (new ids) and a new main process.  The entry found through
 * the new ids is the same one, kept as it is, and asked to be looked up
 * again; new ids met while the first lookup is pending ask for nothing.
 */
static void test_restart_refresh(void **state)
{
	struct vg_ctrtab *t = hybrid(8);
	struct vg_container *src = calloc(1, sizeof(*src));
	const struct vg_container *c;
	uint64_t v2 = ino("unified/docker/" ID), v1 = ino("memory/docker/" ID);

	nrefresh = 0;
	vg_ctrtab_set_on_refresh(t, on_refresh, NULL);
	c = vg_ctrtab_lookup(t, v2, v1);
	assert_non_null(c);
	assert_int_equal(nrefresh, 0);
	/* a child cgroup while pending */
	mkd("unified/docker/" ID "/init");
	fake_now += 1000000000ull;
	assert_ptr_equal(vg_ctrtab_lookup(t, ino("unified/docker/" ID "/init"), 0), c);
	assert_int_equal(nrefresh, 0);

	snprintf(src->cg.id, sizeof(src->cg.id), "%s", ID);
	src->enrich = VG_ENRICH_DONE;
	src->pid = 100;
	snprintf(src->name, sizeof(src->name), "web");
	assert_int_equal(vg_ctrtab_update(t, src), 0);

	/* a child cgroup made inside the container once it is named (its
	 * systemd, a nested runtime): no restart, nothing to look up again */
	mkd("unified/docker/" ID "/init/svc");
	fake_now += 1000000000ull;
	assert_ptr_equal(vg_ctrtab_lookup(t, ino("unified/docker/" ID "/init/svc"), 0), c);
	assert_int_equal(nrefresh, 0);
	sh("rmdir", "unified/docker/" ID "/init/svc");

	sh("rmdir", "unified/docker/" ID "/init");
	sh("rmdir", "unified/docker/" ID);
	sh("rmdir", "memory/docker/" ID);
	mkd("unified/docker/" ID);
	mkd("memory/docker/" ID);
	assert_int_not_equal(ino("unified/docker/" ID), v2);
	fake_now += 1000000000ull;
	assert_ptr_equal(vg_ctrtab_lookup(t, ino("unified/docker/" ID), ino("memory/docker/" ID)),
			 c);
	/* one for each new cgroup (v2 and v1): the resolver queues one lookup */
	assert_int_equal(nrefresh, 2);
	assert_int_equal(nnew, 1);
	assert_int_equal(ngone, 0);
	assert_int_equal(c->enrich, VG_ENRICH_DONE);
	assert_string_equal(c->name, "web");
	assert_int_equal(c->pid, 100);
	free(src);
	vg_ctrtab_free(&t);
}

static uint64_t ids_on[8];
static unsigned nids_on, nids_off;
static uint64_t last_off;

static void on_ctr_id(void *arg, uint64_t id, bool on)
{
	if (!on) {
		nids_off++;
		last_off = id;
		return;
	}
	if (nids_on < 8)
		ids_on[nids_on] = id;
	nids_on++;
}

/*
 * The in-kernel filter is told every cgroup v2 id of a container (a child
 * cgroup too), and when one is forgotten; v1 ids and host cgroups are not
 * its business.
 */
static void test_container_ids_told(void **state)
{
	struct vg_ctrtab *t;

	mkd("unified/docker/" ID "/init");
	t = hybrid(8);
	nids_on = nids_off = 0;
	vg_ctrtab_set_on_ctr_id(t, on_ctr_id, NULL);
	assert_non_null(vg_ctrtab_lookup(t, ino("unified/docker/" ID), ino("memory/docker/" ID)));
	assert_int_equal(nids_on, 2);
	assert_true((ids_on[0] == ino("unified/docker/" ID) &&
		     ids_on[1] == ino("unified/docker/" ID "/init")) ||
		    (ids_on[1] == ino("unified/docker/" ID) &&
		     ids_on[0] == ino("unified/docker/" ID "/init")));
	/* known already: not told again */
	fake_now += 1000000000ull;
	assert_true(vg_ctrtab_scan(t) >= 0);
	assert_int_equal(nids_on, 2);
	vg_ctrtab_forget(t, ino("memory/docker/" ID));
	assert_int_equal(nids_off, 0);
	vg_ctrtab_forget(t, ino("unified/docker/" ID "/init"));
	assert_int_equal(nids_off, 1);
	assert_int_equal(last_off, ino("unified/docker/" ID "/init"));
	vg_ctrtab_free(&t);
}

static void test_prefer_v2_else_v1(void **state)
{
	struct vg_ctrtab *t;

	mkd("memory/docker/" ID2);
	mkd("unified/docker/" ID2);
	t = hybrid(8);
	/* v2 says host, v1 says container: the container */
	assert_string_equal(
		vg_ctrtab_lookup(t, ino("unified/system.slice/ssh.service"), ino("memory/docker/" ID))
			->cg.id,
		ID);
	/* both containers: v2 wins */
	assert_string_equal(
		vg_ctrtab_lookup(t, ino("unified/docker/" ID2), ino("memory/docker/" ID))->cg.id,
		ID2);
	/* one walk found both containers */
	assert_int_equal(vg_ctrtab_count(t), 2);
	assert_int_equal(nnew, 2);
	vg_ctrtab_free(&t);
}

static void test_unresolved_and_rate_limit(void **state)
{
	struct vg_ctrtab *t = hybrid(8);
	struct vg_ctrtab_stats st;
	struct vg_ctr_lookup r;
	uint64_t i, id2;

	/* an id nobody has: host, unresolved */
	vg_ctrtab_resolve(t, 987654321, 0, &r);
	assert_null(r.ctr);
	assert_true(r.unresolved);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.walks, 1);
	assert_int_equal(st.unresolved, 1);

	/* a container started 50 ms after the last walk: the rate limit holds */
	mkd("unified/docker/" ID2);
	id2 = ino("unified/docker/" ID2);
	fake_now += 50000000ull;
	vg_ctrtab_resolve(t, id2, 0, &r);
	assert_null(r.ctr);
	assert_true(r.unresolved);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.walks, 1);
	assert_int_equal(st.walks_limited, 1);

	/* a flood of unknown ids in the same window walks no more */
	for (i = 0; i < 5000; i++)
		vg_ctrtab_lookup(t, 5000000000ull + i * 7919, 0);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.walks, 1);

	/* once the window and the id's backoff passed, it is found */
	fake_now += 250000000ull;
	vg_ctrtab_resolve(t, id2, 0, &r);
	assert_non_null(r.ctr);
	assert_false(r.unresolved);
	assert_string_equal(r.ctr->cg.id, ID2);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.walks, 2);
	/* the cache stayed bounded */
	assert_true(st.id_evictions > 0);

	/* an unresolved id backs off: repeated lookups do not walk each window */
	fake_now += 300000000ull;
	vg_ctrtab_lookup(t, 123456789, 0); /* walk 3, retry in 200 ms */
	fake_now += 250000000ull;
	vg_ctrtab_lookup(t, 123456789, 0); /* walk 4, retry in 400 ms */
	fake_now += 250000000ull;
	vg_ctrtab_lookup(t, 123456789, 0); /* window passed, backoff not */
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.walks, 4);
	vg_ctrtab_free(&t);
}

static void test_runtimes_and_children(void **state)
{
	struct vg_ctrtab *t;
	const struct vg_container *a, *b;
	struct vg_ctr_lookup r;

	mkd("unified/machine.slice/libpod-" ID3 ".scope/container");
	mkd("unified/machine.slice/libpod-conmon-" ID3 ".scope");
	mkd("unified/kubepods.slice/kubepods-burstable.slice/"
	    "kubepods-burstable-pod8a4b3c2d_1e0f_4a5b_9c8d_7e6f5a4b3c2d.slice/cri-containerd-" ID2
	    ".scope");
	t = hybrid(8);
	a = vg_ctrtab_lookup(t, ino("unified/machine.slice/libpod-" ID3 ".scope"), 0);
	b = vg_ctrtab_lookup(t, ino("unified/machine.slice/libpod-" ID3 ".scope/container"), 0);
	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_int_equal(a->cg.runtime, VG_RT_PODMAN);
	vg_ctrtab_resolve(t, ino("unified/machine.slice/libpod-conmon-" ID3 ".scope"), 0, &r);
	assert_null(r.ctr);
	assert_string_equal(r.unit, "libpod-conmon-" ID3 ".scope");

	a = vg_ctrtab_find_id(t, ID2);
	assert_non_null(a);
	assert_int_equal(a->cg.runtime, VG_RT_CONTAINERD);
	assert_int_equal(a->cg.qos, VG_QOS_BURSTABLE);
	assert_string_equal(a->cg.pod_uid, "8a4b3c2d-1e0f-4a5b-9c8d-7e6f5a4b3c2d");
	assert_int_equal(vg_ctrtab_count(t), 3);
	vg_ctrtab_free(&t);
}

static int count_fn(void *arg, const struct vg_container *c)
{
	(*(int *)arg)++;
	return 0;
}

static int stop_fn(void *arg, const struct vg_container *c)
{
	(*(int *)arg)++;
	return 1;
}

static void test_update_foreach(void **state)
{
	struct vg_ctrtab *t;
	struct vg_container *src = calloc(1, sizeof(*src));
	int n = 0;

	mkd("unified/docker/" ID2);
	t = hybrid(8);
	assert_int_equal(vg_ctrtab_scan(t), 0);
	assert_int_equal(vg_ctrtab_count(t), 2);

	snprintf(src->cg.id, sizeof(src->cg.id), "%s", ID);
	src->cg.runtime = VG_RT_PODMAN; /* ignored: .cg comes from the path */
	src->enrich = VG_ENRICH_DONE;
	snprintf(src->name, sizeof(src->name), "web");
	assert_int_equal(vg_ctrtab_update(t, src), 0);
	assert_string_equal(vg_ctrtab_find_id(t, ID)->name, "web");
	assert_int_equal(vg_ctrtab_find_id(t, ID)->enrich, VG_ENRICH_DONE);
	assert_int_equal(vg_ctrtab_find_id(t, ID)->cg.runtime, VG_RT_DOCKER);
	snprintf(src->cg.id, sizeof(src->cg.id), "%s", ID3);
	assert_int_equal(vg_ctrtab_update(t, src), -ENOENT);
	assert_null(vg_ctrtab_find_id(t, ID3));
	assert_null(vg_ctrtab_find_id(t, NULL));

	vg_ctrtab_foreach(t, count_fn, &n);
	assert_int_equal(n, 2);
	n = 0;
	vg_ctrtab_foreach(t, stop_fn, &n);
	assert_int_equal(n, 1);
	free(src);
	vg_ctrtab_free(&t);
}

static void test_forget_and_scan(void **state)
{
	struct vg_ctrtab *t;
	uint64_t v2 = 0, v1 = 0, id2;

	mkd("unified/docker/" ID2);
	t = hybrid(8);
	v2 = ino("unified/docker/" ID);
	v1 = ino("memory/docker/" ID);
	id2 = ino("unified/docker/" ID2);
	assert_non_null(vg_ctrtab_lookup(t, v2, v1));
	/* one of two ids forgotten: the container stays */
	vg_ctrtab_forget(t, v2);
	assert_non_null(vg_ctrtab_find_id(t, ID));
	assert_int_equal(ngone, 0);
	vg_ctrtab_forget(t, v1);
	assert_null(vg_ctrtab_find_id(t, ID));
	assert_int_equal(ngone, 1);
	assert_string_equal(last_gone, ID);

	/* the sweep forgets what is gone from the fs */
	assert_true(vg_ctrtab_scan(t) >= 0);
	assert_non_null(vg_ctrtab_find_id(t, ID));
	assert_non_null(vg_ctrtab_lookup(t, id2, 0));
	sh("rmdir", "unified/docker/" ID2);
	assert_int_equal(vg_ctrtab_scan(t), 1);
	assert_null(vg_ctrtab_find_id(t, ID2));
	assert_int_equal(ngone, 2);
	assert_string_equal(last_gone, ID2);
	assert_non_null(vg_ctrtab_find_id(t, ID));
	vg_ctrtab_free(&t);
}

static void test_table_full(void **state)
{
	struct vg_ctrtab *t;
	struct vg_ctrtab_stats st;
	struct vg_ctr_lookup r;

	mkd("unified/docker/" ID2);
	t = hybrid(1);
	vg_ctrtab_scan(t);
	assert_int_equal(vg_ctrtab_count(t), 1);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.containers_dropped, 1);
	/* the one not kept resolves as unresolved host, never crashes */
	vg_ctrtab_resolve(t, ino("unified/docker/" ID), 0, &r);
	if (!r.ctr)
		vg_ctrtab_resolve(t, ino("unified/docker/" ID2), 0, &r);
	assert_non_null(r.ctr);
	vg_ctrtab_free(&t);
}

/*
 * Every fill and change of an entry gets a version no entry of any table
 * had before; reading it changes nothing (the encoder keeps containers'
 * JSON by version).
 */
static void test_versions(void **state)
{
	struct vg_ctrtab *t, *t2;
	struct vg_container *src = calloc(1, sizeof(*src));
	const struct vg_container *a;
	uint64_t v[6];

	t = hybrid(8);
	a = vg_ctrtab_lookup(t, ino("unified/docker/" ID), 0);
	assert_non_null(a);
	v[0] = a->version;
	assert_true(v[0] != 0);
	assert_ptr_equal(vg_ctrtab_lookup(t, 0, ino("memory/docker/" ID)), a);
	assert_true(a->version == v[0]);

	snprintf(src->cg.id, sizeof(src->cg.id), "%s", ID);
	snprintf(src->name, sizeof(src->name), "web");
	src->version = v[0]; /* a copy's version is not taken */
	assert_int_equal(vg_ctrtab_update(t, src), 0);
	v[1] = a->version;
	assert_int_equal(vg_ctrtab_update(t, src), 0);
	v[2] = a->version;

	/* gone and seen again: most likely the same slot, a new version */
	vg_ctrtab_forget(t, ino("unified/docker/" ID));
	vg_ctrtab_forget(t, ino("memory/docker/" ID));
	assert_null(vg_ctrtab_find_id(t, ID));
	fake_now += 1000000000ull;
	a = vg_ctrtab_lookup(t, ino("unified/docker/" ID), 0);
	assert_non_null(a);
	assert_string_equal(a->name, "");
	v[3] = a->version;

	mkd("unified/docker/" ID2);
	t2 = hybrid(8);
	assert_true(vg_ctrtab_scan(t2) >= 0);
	v[4] = vg_ctrtab_find_id(t2, ID)->version;
	v[5] = vg_ctrtab_find_id(t2, ID2)->version;
	for (int i = 0; i < 6; i++)
		for (int j = 0; j < i; j++)
			assert_true(v[i] != v[j] && v[i] != 0);
	free(src);
	vg_ctrtab_free(&t2);
	vg_ctrtab_free(&t);
}

/*
 * A pure v2 tree whose id cache (1024 ids: cap 8 keeps the minimum) is
 * full of container ids, in a known order.  Slots are taken in the order
 * walks meet ids, and a full cache evicts the least recently used of the
 * 32 slots after a hand that starts at 0 and moves 32 per eviction, so:
 *   slot 0: an A cgroup (its first occupant, the root, was evicted);
 *   slots 1-31: the root, A (ID2) and its first 29 children;
 *   slot 32: B (ID), its only id, used at tick 0;
 *   slots 33-1023: more children of A, used at tick 1;
 * and the next eviction samples slots 32-63, where B is the oldest.
 */
static struct vg_ctrtab *full_cache(void)
{
	struct vg_ctrtab *t = NULL;
	struct vg_ctrtab_stats st;
	char p[512];
	uint64_t first;
	int i;

	sh("touch", "cgroup.controllers");
	for (i = 0; i < 1022; i++) {
		if (i == 0)
			mkd(ID2);
		snprintf(p, sizeof(p), "%s/%s/s%04d", root, ID2, i);
		assert_int_equal(mkdir(p, 0755), 0);
		if (i == 29) {
			/* root, A and 30 children: slots 0-31 */
			assert_int_equal(vg_ctrtab_new(root, 8, &t), 0);
			vg_ctrtab_set_clock(t, clock_fn, NULL);
			vg_ctrtab_set_on_new(t, on_new, NULL);
			vg_ctrtab_set_on_gone(t, on_gone, NULL);
			assert_int_equal(vg_ctrtab_scan(t), 0);
			mkd(ID);
			assert_int_equal(vg_ctrtab_scan(t), 0); /* B: slot 32 */
			/* tick 1: what comes next is newer than B */
			assert_non_null(vg_ctrtab_lookup(t, ino(ID2), 0));
		}
	}
	/* 1025 ids: the last one met evicts the root, the only host id */
	assert_int_equal(vg_ctrtab_scan(t), 0);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.id_evictions, 1);
	/* one child of A less: the root comes back into its slot, no eviction */
	first = ino(ID2 "/s0000");
	vg_ctrtab_forget(t, first);
	sh("rmdir", ID2 "/s0000");
	assert_int_equal(vg_ctrtab_scan(t), 0);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.id_evictions, 1);
	assert_int_equal(vg_ctrtab_count(t), 2);
	assert_int_equal(nnew, 2);
	assert_int_equal(ngone, 0);
	return t;
}

/*
 * A walk meets a second cgroup of B (its child) when the cache is full and
 * B's only cached id is the one to evict: B must stay, and the new id must
 * name B, not a freed entry that the next new container takes over.
 */
static void test_full_cache_new_id(void **state)
{
	struct vg_ctrtab *t = full_cache();
	const struct vg_container *b;

	mkd(ID "/sub");
	fake_now += 1000000000ull;
	b = vg_ctrtab_lookup(t, ino(ID "/sub"), 0);
	assert_non_null(b);
	assert_string_equal(b->cg.id, ID);
	assert_int_equal(ngone, 0);
	assert_ptr_equal(vg_ctrtab_find_id(t, ID), b);
	assert_int_equal(vg_ctrtab_count(t), 2);

	/* a new container takes a free slot, never B's */
	mkd(ID3);
	fake_now += 1000000000ull;
	assert_string_equal(vg_ctrtab_lookup(t, ino(ID3), 0)->cg.id, ID3);
	assert_string_equal(vg_ctrtab_lookup(t, ino(ID "/sub"), 0)->cg.id, ID);
	assert_int_equal(vg_ctrtab_count(t), 3);
	assert_int_equal(nnew, 3);
	assert_int_equal(ngone, 0);
	vg_ctrtab_free(&t);
}

/*
 * An eviction never drops a live container: with B's only id the oldest
 * in the sample, an unknown id evicts one of A's many ids instead, so B
 * keeps its entry (and what the resolver filled in) and is not announced
 * gone and new again on every walk.
 */
static void test_full_cache_keeps_last_id(void **state)
{
	struct vg_ctrtab *t = full_cache();
	struct vg_ctr_lookup r;
	struct vg_ctrtab_stats st;
	const struct vg_container *b = vg_ctrtab_find_id(t, ID);

	assert_non_null(b);
	/* within the walk rate limit: cached as unresolved, one eviction */
	fake_now += 1000000ull;
	vg_ctrtab_resolve(t, 987654321, 0, &r);
	assert_true(r.unresolved);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.walks_limited, 1);
	assert_int_equal(st.id_evictions, 2);
	assert_int_equal(ngone, 0);
	assert_ptr_equal(vg_ctrtab_find_id(t, ID), b);
	/* still cached: found without a walk, not new again */
	assert_ptr_equal(vg_ctrtab_lookup(t, ino(ID), 0), b);
	vg_ctrtab_get_stats(t, &st);
	assert_int_equal(st.walks_limited, 1);
	assert_int_equal(nnew, 2);
	vg_ctrtab_free(&t);
}

/* Kubernetes through Docker (cri-dockerd): the pod as the labels name it,
 * when the cgroup kubelet made names the same pod */
static void test_docker_pod_labels(void **state)
{
	struct vg_ctrtab *t;
	struct vg_container *src = calloc(1, sizeof(*src));
	const struct vg_container *c;
	const char *uid = "8a4b3c2d-1e0f-4a5b-9c8d-7e6f5a4b3c2d";

	mkd("unified/kubepods.slice/kubepods-burstable.slice/"
	    "kubepods-burstable-pod8a4b3c2d_1e0f_4a5b_9c8d_7e6f5a4b3c2d.slice/docker-" ID2 ".scope");
	t = hybrid(8);
	assert_int_equal(vg_ctrtab_scan(t), 0);
	snprintf(src->cg.id, sizeof(src->cg.id), "%s", ID2);
	vg_container_add_label(src, "io.kubernetes.pod.name", "web-0");
	vg_container_add_label(src, "io.kubernetes.pod.namespace", "shop");
	vg_container_add_label(src, "io.kubernetes.pod.uid", uid);
	assert_int_equal(vg_ctrtab_update(t, src), 0);
	c = vg_ctrtab_find_id(t, ID2);
	assert_int_equal(c->cg.runtime, VG_RT_DOCKER);
	assert_string_equal(c->pod_name, "web-0");
	assert_string_equal(c->pod_namespace, "shop");
	assert_string_equal(c->pod_uid, uid);

	/* labels naming another pod than the cgroup's: no pod */
	memset(src, 0, sizeof(*src));
	snprintf(src->cg.id, sizeof(src->cg.id), "%s", ID2);
	vg_container_add_label(src, "io.kubernetes.pod.name", "kube-apiserver");
	vg_container_add_label(src, "io.kubernetes.pod.uid", "11111111-1e0f-4a5b-9c8d-7e6f5a4b3c2d");
	assert_int_equal(vg_ctrtab_update(t, src), 0);
	assert_string_equal(c->pod_name, "");
	assert_string_equal(c->pod_uid, "");

	/* a plain Docker container (no pod in its cgroup) labelled as one: none */
	memset(src, 0, sizeof(*src));
	snprintf(src->cg.id, sizeof(src->cg.id), "%s", ID);
	vg_container_add_label(src, "io.kubernetes.pod.name", "web-0");
	vg_container_add_label(src, "io.kubernetes.pod.uid", uid);
	assert_int_equal(vg_ctrtab_update(t, src), 0);
	assert_string_equal(vg_ctrtab_find_id(t, ID)->pod_name, "");
	vg_ctrtab_free(&t);
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_docker_and_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_container_ids_told, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefer_v2_else_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unresolved_and_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtimes_and_children, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_pod_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_and_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_cache_new_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_cache_keeps_last_id, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
