/* sampler: cgroup v2, hybrid and v1 trees built in a temporary directory. */
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

#include "vigil/sampler.h"

#define CG "/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char root[256];

static void mkdirs(const char *path)
{
	char p[512];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

/* write root/rel/file with text */
static void put(const char *rel, const char *file, const char *text)
{
	char d[512], f[600];
	snprintf(d, sizeof(d), "%s%s", root, rel);
	mkdirs(d);
	snprintf(f, sizeof(f), "%s/%s", d, file);
	FILE *fp = fopen(f, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/vigil-sampler-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_v2(void **state)
{
	struct vg_sampler *s = NULL;
	struct vg_cg_sample o;

	put("", "cgroup.controllers", "cpu memory pids\n");
	put(CG, "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
	put(CG, "cpu.max", "150000 100000\n");
	put(CG, "memory.current", "268435456\n");
	put(CG, "memory.max", "314572800\n");
	put(CG, "memory.stat", "anon 200000000\nfile 68435456\ninactive_file 8435456\n");
	put(CG, "pids.current", "12\n");
	put(CG, "pids.max", "max\n");

	assert_int_equal(vg_sampler_new(root, &s), 0);
	assert_int_equal(vg_sampler_layout(s), VG_CG_V2);
	assert_int_equal(vg_sampler_read(s, CG, &o), 0);
	assert_int_equal(o.have, VG_SMP_CPU | VG_SMP_QUOTA | VG_SMP_MEM | VG_SMP_MEMMAX |
					 VG_SMP_PIDS | VG_SMP_PIDSMAX);
	assert_int_equal(o.cpu_usage_ns, 1500000000ull);
	assert_int_equal(o.cpu_quota_us, 150000);
	assert_int_equal(o.cpu_period_us, 100000);
	assert_int_equal(o.mem_current, 268435456ull);
	assert_int_equal(o.mem_working, 268435456ull - 8435456ull);
	assert_int_equal(o.mem_max, 314572800);
	assert_int_equal(o.pids_current, 12);
	assert_int_equal(o.pids_max, -1);

	/* no limits at all */
	put(CG, "cpu.max", "max 100000\n");
	put(CG, "memory.max", "max\n");
	assert_int_equal(vg_sampler_read(s, CG, &o), 0);
	assert_int_equal(o.cpu_quota_us, -1);
	assert_int_equal(o.mem_max, -1);

	/* gone, and hostile paths */
	assert_int_equal(vg_sampler_read(s, "/docker/gone", &o), -ENOENT);
	assert_int_equal(vg_sampler_read(s, "/docker/../../etc", &o), -EINVAL);
	assert_int_equal(vg_sampler_read(s, "relative", &o), -EINVAL);
	assert_int_equal(vg_sampler_errors(s), 0);

	/* a garbled file is counted, the rest still read */
	put(CG, "pids.current", "lots\n");
	assert_int_equal(vg_sampler_read(s, CG, &o), 0);
	assert_false(o.have & VG_SMP_PIDS);
	assert_true(o.have & VG_SMP_CPU);
	assert_int_equal(vg_sampler_errors(s), 1);
	vg_sampler_free(&s);
	assert_null(s);
}

/* Docker on a hybrid host (this VM): v1 controllers, cpu and cpuacct apart */
static void test_hybrid(void **state)
{
	struct vg_sampler *s = NULL;
	struct vg_cg_sample o;

	put("/unified", "cgroup.controllers", "");
	put("/unified" CG, "cpu.stat", "usage_usec 999\n");
	put("/cpu" CG, "cpu.cfs_quota_us", "50000\n");
	put("/cpu" CG, "cpu.cfs_period_us", "100000\n");
	put("/cpuacct" CG, "cpuacct.usage", "2500000000\n");
	put("/memory" CG, "memory.usage_in_bytes", "104857600\n");
	put("/memory" CG, "memory.limit_in_bytes", "9223372036854771712\n");
	put("/memory" CG, "memory.stat", "cache 0\ninactive_file 5\ntotal_inactive_file 4857600\n");
	put("/pids" CG, "pids.current", "7\n");
	put("/pids" CG, "pids.max", "100\n");

	assert_int_equal(vg_sampler_new(root, &s), 0);
	assert_int_equal(vg_sampler_layout(s), VG_CG_HYBRID);
	assert_int_equal(vg_sampler_read(s, CG, &o), 0);
	/* v1 cpuacct wins over the v2 cpu.stat of the unified tree */
	assert_int_equal(o.cpu_usage_ns, 2500000000ull);
	assert_int_equal(o.cpu_quota_us, 50000);
	assert_int_equal(o.mem_current, 104857600ull);
	assert_int_equal(o.mem_working, 100000000ull);
	assert_int_equal(o.mem_max, -1); /* the v1 "no limit" value */
	assert_int_equal(o.pids_current, 7);
	assert_int_equal(o.pids_max, 100);

	put("/memory" CG, "memory.limit_in_bytes", "268435456\n");
	put("/cpu" CG, "cpu.cfs_quota_us", "-1\n");
	assert_int_equal(vg_sampler_read(s, CG, &o), 0);
	assert_int_equal(o.mem_max, 268435456);
	assert_int_equal(o.cpu_quota_us, -1);
	vg_sampler_free(&s);
}

/* pure v1 with the combined cpu,cpuacct mount most distributions use */
static void test_v1_combined(void **state)
{
	struct vg_sampler *s = NULL;
	struct vg_cg_sample o;

	put("/cpu,cpuacct" CG, "cpuacct.usage", "42\n");
	put("/cpu,cpuacct" CG, "cpu.cfs_quota_us", "200000\n");
	put("/cpu,cpuacct" CG, "cpu.cfs_period_us", "100000\n");
	put("/memory" CG, "memory.usage_in_bytes", "1000\n");
	put("/memory" CG, "memory.limit_in_bytes", "2000\n");

	assert_int_equal(vg_sampler_new(root, &s), 0);
	assert_int_equal(vg_sampler_layout(s), VG_CG_V1);
	assert_int_equal(vg_sampler_read(s, CG, &o), 0);
	assert_int_equal(o.cpu_usage_ns, 42);
	assert_int_equal(o.cpu_quota_us, 200000);
	assert_int_equal(o.mem_max, 2000);
	assert_int_equal(o.mem_working, 1000); /* no memory.stat: all of it */
	assert_false(o.have & VG_SMP_PIDS);
	vg_sampler_free(&s);
}

static void test_locate(void **state)
{
	struct vg_sampler *s = NULL;
	struct vg_cg_sample o;
	char path[512];
	const char *id = CG + 8; /* the 64 hex digits */
	const char *k8s = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/"
			  "cri-containerd-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.scope";

	put("", "cgroup.controllers", "cpu memory pids\n");
	put("/system.slice/docker-ffff.scope", "memory.current", "1\n");
	put(CG, "memory.current", "4096\n");
	put(k8s, "memory.current", "8192\n");
	put(k8s, "memory.max", "max\n");
	assert_int_equal(vg_sampler_new(root, &s), 0);

	assert_int_equal(vg_sampler_locate(s, id, path, sizeof(path)), 0);
	assert_string_equal(path, CG);
	assert_int_equal(vg_sampler_locate(s, "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
					   path, sizeof(path)), 0);
	assert_string_equal(path, k8s);
	/* CRI-O and Podman: the monitor's cgroup beside the container's holds
	 * the id too, and is never taken for it (eight of each: a directory
	 * listing's order would pick the wrong one for some) */
	for (int i = 0; i < 8; i++) {
		char cid[65], ctr[160], mon[160], want[160];
		const char *rt = i % 2 ? "libpod" : "crio";

		snprintf(cid, sizeof(cid), "%064x", 0xc0de0 + i);
		snprintf(ctr, sizeof(ctr), "/machine.slice/%s-%s.scope", rt, cid);
		snprintf(mon, sizeof(mon), "/machine.slice/%s-conmon-%s.scope", rt, cid);
		put(mon, "memory.current", "1\n");
		put(ctr, "memory.current", "7777\n");
		assert_int_equal(vg_sampler_locate(s, cid, path, sizeof(path)), 0);
		snprintf(want, sizeof(want), "%s", ctr);
		assert_string_equal(path, want);
	}
	assert_int_equal(vg_sampler_locate(s, "0000000000000000", path, sizeof(path)), -ENOENT);
	assert_int_equal(vg_sampler_locate(s, "abc", path, sizeof(path)), -EINVAL);

	assert_int_equal(vg_sampler_read_id(s, id, &o), 0);
	assert_int_equal(o.mem_current, 4096);
	put(CG, "memory.current", "5000\n");
	assert_int_equal(vg_sampler_read_id(s, id, &o), 0);
	assert_int_equal(o.mem_current, 5000);

	/* its cgroup moved (another parent): found again at once */
	char cmd[1400];
	const char *moved = "/other.slice/docker-"
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope";
	put(moved, "memory.current", "7000\n");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s%s'", root, CG);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vg_sampler_read_id(s, id, &o), 0);
	assert_int_equal(o.mem_current, 7000);

	/* the container goes: not found, and not walked for again for the next
	 * 7 reads (the walk covers the whole hierarchy), then looked for anew */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/other.slice'", root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vg_sampler_read_id(s, id, &o), -ENOENT);
	put(CG, "memory.current", "6000\n");
	for (int i = 0; i < 7; i++)
		assert_int_equal(vg_sampler_read_id(s, id, &o), -ENOENT);
	assert_int_equal(vg_sampler_read_id(s, id, &o), 0);
	assert_int_equal(o.mem_current, 6000);

	/* a restart: one read falls between the old cgroup's removal and the
	 * new one's creation at the same path; the next read finds it there,
	 * with no walk and no seven blind reads */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s%s'", root, CG);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vg_sampler_read_id(s, id, &o), -ENOENT);
	put(CG, "memory.current", "6500\n");
	assert_int_equal(vg_sampler_read_id(s, id, &o), 0);
	assert_int_equal(o.mem_current, 6500);
	vg_sampler_free(&s);
}

/* A parent's limit binds its children: Kubernetes sets a pod's pids limit
 * on the pod's cgroup only, and a slice may carry a memory limit.  The
 * lowest one up the tree counts. */
static void test_ancestor_limits(void **state)
{
	(void)state;
	const char *pod = "/kubepods.slice/kubepods-burstable.slice/"
			  "kubepods-burstable-pod0f5c2a3e_1111_2222_3333_444455556666.slice";
	char ctr[400];
	struct vg_sampler *s = NULL;
	struct vg_cg_sample o;

	snprintf(ctr, sizeof(ctr), "%s/cri-containerd-"
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope", pod);
	put("", "cgroup.controllers", "cpu memory pids\n");
	put("/kubepods.slice", "memory.max", "8589934592\n");
	put("/kubepods.slice", "pids.max", "max\n");
	put(pod, "pids.max", "100\n");
	put(pod, "memory.max", "max\n");
	put(ctr, "cpu.stat", "usage_usec 1\n");
	put(ctr, "memory.current", "1000\n");
	put(ctr, "memory.max", "max\n");
	put(ctr, "pids.current", "95\n");
	put(ctr, "pids.max", "max\n");
	assert_int_equal(vg_sampler_new(root, &s), 0);
	assert_int_equal(vg_sampler_read(s, ctr, &o), 0);
	assert_int_equal(o.pids_max, 100);
	assert_int_equal(o.mem_max, 8589934592ll);
	/* the container's own limit when it is the lower */
	put(ctr, "pids.max", "50\n");
	assert_int_equal(vg_sampler_read(s, ctr, &o), 0);
	assert_int_equal(o.pids_max, 50);
	assert_int_equal(vg_sampler_errors(s), 0);
	vg_sampler_free(&s);
}

/* Kubernetes puts a pod's pids limit on the pod's cgroup: found from the
 * container's, under either cgroup driver, v2 or v1. */
static void test_pod_pids_max(void **state)
{
	(void)state;
	const char *pod = "/kubepods.slice/kubepods-burstable.slice/"
			  "kubepods-burstable-pod0f5c2a3e_1111_2222_3333_444455556666.slice";
	const char *id = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
	const char *v1pod = "/kubepods/besteffort/pod0f5c2a3e-1111-2222-3333-444455556666";
	struct vg_sampler *s = NULL;
	char ctr[400], cmd[700], mem[500], pids[500];
	int64_t v = 0;

	snprintf(ctr, sizeof(ctr), "%s/cri-containerd-%s.scope", pod, id);
	put("", "cgroup.controllers", "cpu memory pids\n");
	put("/kubepods.slice", "pids.max", "50000\n");
	put(pod, "pids.max", "1024\n");
	put(ctr, "pids.max", "max\n");
	put(CG, "pids.max", "max\n");
	assert_int_equal(vg_sampler_new(root, &s), 0);
	assert_int_equal(vg_sampler_pod_pids_max(s, id, &v), 0);
	assert_int_equal(v, 1024);
	put(pod, "pids.max", "max\n");
	assert_int_equal(vg_sampler_pod_pids_max(s, id, &v), 0);
	assert_int_equal(v, -1);
	/* a container in no pod, one that is nowhere, a garbled file */
	v = 7;
	assert_int_equal(vg_sampler_pod_pids_max(s, CG + 8, &v), -ENOENT);
	assert_int_equal(vg_sampler_pod_pids_max(s, "00000000000000000000", &v), -ENOENT);
	assert_int_equal(v, 7);
	put(pod, "pids.max", "lots\n");
	assert_int_equal(vg_sampler_pod_pids_max(s, id, &v), -EINVAL);
	assert_int_equal(vg_sampler_errors(s), 1);
	vg_sampler_free(&s);

	/* cgroupfs driver on v1: the pids hierarchy holds the limit, the
	 * memory one is walked */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", root);
	assert_int_equal(system(cmd), 0);
	snprintf(mem, sizeof(mem), "/memory%s/%s", v1pod, CG + 8);
	snprintf(pids, sizeof(pids), "/pids%s", v1pod);
	put("/memory", "memory.usage_in_bytes", "1\n");
	put(mem, "memory.usage_in_bytes", "1\n");
	put(pids, "pids.max", "300\n");
	assert_int_equal(vg_sampler_new(root, &s), 0);
	assert_int_equal(vg_sampler_layout(s), VG_CG_V1);
	assert_int_equal(vg_sampler_pod_pids_max(s, CG + 8, &v), 0);
	assert_int_equal(v, 300);
	vg_sampler_free(&s);
}

/* A cache way taken over by a container that cannot be found must not
 * keep the path of the container before it, which the next read would
 * take for the new one's. */
static void test_recycled_slot(void **state)
{
	(void)state;
	struct vg_sampler *s = NULL;
	struct vg_cg_sample o;
	const char *id = CG + 8;
	char other[72];

	put("", "cgroup.controllers", "cpu memory pids\n");
	put(CG, "memory.current", "4096\n");
	assert_int_equal(vg_sampler_new(root, &s), 0);
	assert_int_equal(vg_sampler_read_id(s, id, &o), 0);
	/* twice as many ids that are nowhere as the cache holds: one of them
	 * takes the way that held CG's path, and none reads it */
	for (unsigned i = 1; i <= 8192; i++) {
		snprintf(other, sizeof(other), "%064x", i);
		assert_int_equal(vg_sampler_read_id(s, other, &o), -ENOENT);
	}
	for (unsigned round = 0; round < 2; round++)
		for (unsigned i = 1; i <= 8192; i++) {
			snprintf(other, sizeof(other), "%064x", i);
			assert_int_equal(vg_sampler_read_id(s, other, &o), -ENOENT);
			assert_int_equal(o.mem_current, 0);
		}
	vg_sampler_free(&s);
}

/* FNV-1a, the cache's hash: ids that fall into one set */
static uint32_t fnv(const char *p)
{
	uint32_t h = 2166136261u;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

/* More containers in one set than it has ways (16): those that do not fit
 * are walked for at each read, and the others stay found, round after
 * round (least recently read first would take, every time, the way of the
 * one read next). */
static void test_full_set(void **state)
{
	(void)state;
	struct vg_sampler *s = NULL;
	struct vg_cg_sample o;
	char ids[20][72], dir[128];
	unsigned n = 0;

	put("", "cgroup.controllers", "cpu memory pids\n");
	for (unsigned i = 0; n < 20; i++) {
		snprintf(ids[n], sizeof(ids[n]), "%064x", 0x20000 + i);
		if (fnv(ids[n]) % 512 != 7)
			continue;
		snprintf(dir, sizeof(dir), "/docker/%s", ids[n]);
		put(dir, "memory.current", "4096\n");
		n++;
	}
	assert_int_equal(vg_sampler_new(root, &s), 0);
	for (unsigned round = 0; round < 3; round++)
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(vg_sampler_read_id(s, ids[i], &o), 0);
			assert_int_equal(o.mem_current, 4096);
		}
	/* 20 the first round, then the 4 past the 16 ways, twice */
	assert_int_equal(vg_sampler_walks(s), 28);
	vg_sampler_free(&s);
}

/* More containers than 512, read round after round in the same order (the
 * container table's): each is located once, not once a round. */
static void test_many_containers(void **state)
{
	(void)state;
	struct vg_sampler *s = NULL;
	struct vg_cg_sample o;
	char dir[128], id[72];

	put("", "cgroup.controllers", "cpu memory pids\n");
	for (unsigned i = 0; i < 1500; i++) {
		snprintf(id, sizeof(id), "%064x", 0x10000 + i);
		snprintf(dir, sizeof(dir), "/docker/%s", id);
		put(dir, "memory.current", "4096\n");
	}
	assert_int_equal(vg_sampler_new(root, &s), 0);
	for (unsigned round = 0; round < 3; round++)
		for (unsigned i = 0; i < 1500; i++) {
			snprintf(id, sizeof(id), "%064x", 0x10000 + i);
			assert_int_equal(vg_sampler_read_id(s, id, &o), 0);
			assert_int_equal(o.mem_current, 4096);
		}
	assert_int_equal(vg_sampler_walks(s), 1500);
	vg_sampler_free(&s);
}

static void test_no_cgroupfs(void **state)
{
	struct vg_sampler *s = NULL;
	assert_int_equal(vg_sampler_new(root, &s), -ENOENT);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hybrid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_combined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ancestor_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_pids_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recycled_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_containers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_cgroupfs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
