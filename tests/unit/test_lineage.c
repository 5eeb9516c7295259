/*
 * Unit tests for lineage.  The process table is the edge here: a small
 * fake vg_proctab_get() over an array stands in for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/lineage.h"

struct vg_proctab {
	struct vg_proc p[32];
	unsigned n;
};

const struct vg_proc *vg_proctab_get(const struct vg_proctab *pt, uint32_t tgid)
{
	for (unsigned i = 0; i < pt->n; i++)
		if (pt->p[i].tgid == tgid)
			return &pt->p[i];
	return NULL;
}

#define HOSTNS 4026531836u
#define CTRNS 4026532500u
#define CG_HOST 1
#define CG_CTR 7

static struct vg_proc *add(struct vg_proctab *pt, uint32_t tgid, uint32_t ptgid, uint32_t ns_pid,
			   uint32_t ns_ppid, uint32_t pidns, uint64_t cg, const char *comm)
{
	struct vg_proc *p = &pt->p[pt->n++];

	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	p->ptgid = ptgid;
	p->ns_pid = ns_pid;
	p->ns_ppid = ns_ppid;
	p->pidns = pidns;
	p->cgroup_id = cg;
	memcpy(p->comm, comm, strnlen(comm, sizeof(p->comm) - 1));
	return p;
}

/* host: systemd(1) - containerd(500) - shim(900) - [ctr] sh(1000, ns 1) -
 * redis(1001, ns 7) - sh(1002, ns 8) - curl(1003, ns 9); exec: runc(950)
 * - sh(1100, ns 20) - id(1101, ns 21) */
static void build(struct vg_proctab *pt)
{
	memset(pt, 0, sizeof(*pt));
	add(pt, 1, 0, 1, 0, HOSTNS, CG_HOST, "systemd");
	add(pt, 500, 1, 500, 1, HOSTNS, CG_HOST, "containerd");
	add(pt, 900, 1, 900, 1, HOSTNS, CG_HOST, "containerd-shim");
	add(pt, 1000, 900, 1, 0, CTRNS, CG_CTR, "sh");
	add(pt, 1001, 1000, 7, 1, CTRNS, CG_CTR, "redis-server");
	add(pt, 1002, 1001, 8, 7, CTRNS, CG_CTR, "sh");
	add(pt, 1003, 1002, 9, 8, CTRNS, CG_CTR, "curl");
	add(pt, 950, 900, 950, 900, HOSTNS, CG_HOST, "runc");
	add(pt, 1100, 950, 20, 0, CTRNS, CG_CTR, "sh");
	add(pt, 1101, 1100, 21, 20, CTRNS, CG_CTR, "id");
}

static void test_container_chain_to_init(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	build(&pt);
	ev.proc = vg_proctab_get(&pt, 1003);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 3);
	assert_int_equal(ev.ancestors[0]->tgid, 1002);
	assert_int_equal(ev.ancestors[1]->tgid, 1001);
	assert_int_equal(ev.ancestors[2]->tgid, 1000); /* init, inclusive */
	assert_non_null(ev.ctr_init);
	assert_int_equal(ev.ctr_init->tgid, 1000);
	assert_false(ev.exec_entry);
}

static void test_exec_entry(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	build(&pt);
	ctr.pid = 1000;
	ev.proc = vg_proctab_get(&pt, 1101);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 1);
	assert_int_equal(ev.ancestors[0]->tgid, 1100);
	assert_true(ev.exec_entry);
	/* init not on the chain: named from the runtime's main pid */
	assert_non_null(ev.ctr_init);
	assert_int_equal(ev.ctr_init->tgid, 1000);

	/* a runtime pid now used by a process of another pid namespace */
	ctr.pid = 950;
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 1101);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_null(ev.ctr_init);
	ctr.pid = 1000;

	/* the exec'd process itself */
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 1100);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 0);
	assert_true(ev.exec_entry);

	/* the init is not an exec entry */
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 1000);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 0);
	assert_false(ev.exec_entry);
	assert_int_equal(ev.ctr_init->tgid, 1000);
}

static void test_missing_parents(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	/* redis (1001) is gone from the table: the chain stops at sh(1002) */
	build(&pt);
	pt.p[4].tgid = 77777;
	ev.proc = vg_proctab_get(&pt, 1003);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 1);
	assert_int_equal(ev.ancestors[0]->tgid, 1002);
	assert_null(ev.ctr_init);
	assert_false(ev.exec_entry); /* unknown is not claimed as exec */

	/* runc already gone, the kernel said the parent is outside (ns_ppid 0) */
	build(&pt);
	pt.p[7].tgid = 77777;
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 1101);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 1);
	assert_true(ev.exec_entry);

	/* no process */
	memset(&ev, 0, sizeof(ev));
	ev.nancestors = 5;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 0);
}

static void test_host_chain_capped(void **state)
{
	static struct vg_proctab pt;
	struct vg_ev ev = {0};

	memset(&pt, 0, sizeof(pt));
	add(&pt, 1, 0, 1, 0, HOSTNS, CG_HOST, "systemd");
	for (uint32_t i = 0; i < 12; i++)
		add(&pt, 100 + i, i ? 100 + i - 1 : 1, 100 + i, i ? 100 + i - 1 : 1, HOSTNS,
		    CG_HOST, "bash");
	ev.proc = vg_proctab_get(&pt, 111);
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, VG_LINEAGE_MAX);
	assert_int_equal(ev.ancestors[0]->tgid, 110);
	assert_int_equal(ev.ancestors[VG_LINEAGE_MAX - 1]->tgid, 103);
	assert_null(ev.ctr_init);
	assert_false(ev.exec_entry);

	/* short chain ends at pid 1 */
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 101);
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 2);
	assert_int_equal(ev.ancestors[1]->tgid, 1);

	/* cut at one level: the parent alone */
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 111);
	vg_lineage_fill_upto(&pt, &ev, 1, NULL, NULL);
	assert_int_equal(ev.nancestors, 1);
	assert_int_equal(ev.ancestors[0]->tgid, 110);
}

/* The host cut does not shorten a container chain: it decides the entry. */
static void test_upto_keeps_container_chain(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	build(&pt);
	ctr.pid = 1000;
	ev.proc = vg_proctab_get(&pt, 1003);
	ev.ctr = &ctr;
	vg_lineage_fill_upto(&pt, &ev, 1, NULL, NULL);
	assert_int_equal(ev.nancestors, 3);
	assert_int_equal(ev.ancestors[2]->tgid, 1000);
	assert_non_null(ev.ctr_init);
	assert_int_equal(ev.ctr_init->tgid, 1000);
	assert_false(ev.exec_entry);
}

/* A parent loop in a corrupted table ends at the walk bound. */
static void test_cycle(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	memset(&pt, 0, sizeof(pt));
	add(&pt, 10, 11, 5, 6, CTRNS, CG_CTR, "a");
	add(&pt, 11, 10, 6, 5, CTRNS, CG_CTR, "b");
	ev.proc = vg_proctab_get(&pt, 10);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, VG_LINEAGE_MAX);
	assert_false(ev.exec_entry);
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 10);
	vg_lineage_fill(&pt, &ev); /* host mode too */
	assert_int_equal(ev.nancestors, VG_LINEAGE_MAX);
}

/*
 * A daemon whose parent exited still names that parent's pid (its own
 * record would say otherwise, and a forking daemon sends none); reaped, the
 * pid went to a host process started later.  That process is not in the
 * chain, and the walk does not read the daemon as entered from outside.
 */
static void test_parent_pid_reused(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	memset(&pt, 0, sizeof(pt));
	add(&pt, 1005, 1, 1005, 1, HOSTNS, CG_HOST, "bash")->start_ns = 500;
	add(&pt, 1010, 1005, 10, 5, CTRNS, CG_CTR, "nginx")->start_ns = 100;
	add(&pt, 1011, 1010, 11, 10, CTRNS, CG_CTR, "nginx")->start_ns = 200;
	add(&pt, 1012, 1011, 12, 11, CTRNS, CG_CTR, "sh")->start_ns = 300;
	ev.proc = vg_proctab_get(&pt, 1012);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 2);
	assert_int_equal(ev.ancestors[1]->tgid, 1010);
	assert_false(ev.exec_entry);
	/* on the host: the walk ends at the daemon */
	add(&pt, 2000, 1, 2000, 1, HOSTNS, CG_HOST, "bash")->start_ns = 500;
	add(&pt, 2010, 2000, 2010, 2000, HOSTNS, CG_HOST, "sshd")->start_ns = 100;
	add(&pt, 2011, 2010, 2011, 2010, HOSTNS, CG_HOST, "sshd")->start_ns = 200;
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 2011);
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 1);
	assert_int_equal(ev.ancestors[0]->tgid, 2010);
	/* a start time not known (seeded from /proc) is taken as it is */
	pt.p[5].start_ns = 0;
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 2011);
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 2);
	assert_int_equal(ev.ancestors[1]->tgid, 2000);
}

/* --pid=host container: no pid ns of its own, entry told by the runtime's
 * main pid and the runtime helper parent. */
static void test_host_pidns_container(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	memset(&pt, 0, sizeof(pt));
	add(&pt, 900, 1, 900, 1, HOSTNS, CG_HOST, "containerd-shim");
	add(&pt, 2000, 900, 2000, 900, HOSTNS, CG_CTR, "nginx");
	add(&pt, 2001, 2000, 2001, 2000, HOSTNS, CG_CTR, "sh");
	add(&pt, 2100, 900, 2100, 900, HOSTNS, CG_CTR, "bash");
	ctr.pid = 2000;
	ev.proc = vg_proctab_get(&pt, 2001);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 1);
	assert_int_equal(ev.ctr_init->tgid, 2000);
	assert_false(ev.exec_entry);
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 2100);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_int_equal(ev.nancestors, 0);
	assert_true(ev.exec_entry);
}

/* ev filled for process tgid of pt in container ctr */
static void fill(struct vg_proctab *pt, uint32_t tgid, struct vg_container *ctr, struct vg_ev *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->proc = vg_proctab_get(pt, tgid);
	ev->ctr = ctr;
	vg_lineage_fill(pt, ev);
}

/* A process inside the container (its mount namespace) that calls itself
 * runc is not the runtime: a shell under it is no exec entry.  The same
 * name in another mount namespace is. */
static void test_runtime_name_inside(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	memset(&pt, 0, sizeof(pt));
	add(&pt, 900, 1, 900, 1, HOSTNS, CG_HOST, "containerd-shim")->mntns = 11;
	add(&pt, 2000, 900, 2000, 900, HOSTNS, CG_CTR, "redis-server")->mntns = 22;
	add(&pt, 2001, 2000, 2001, 2000, HOSTNS, CG_CTR, "runc")->mntns = 22;
	add(&pt, 2002, 2001, 2002, 2001, HOSTNS, CG_CTR, "sh")->mntns = 22;
	ctr.pid = 2000;
	fill(&pt, 2002, &ctr, &ev);
	assert_false(ev.exec_entry);
	assert_int_equal(ev.nancestors, 2);
	assert_int_equal(ev.ctr_init->tgid, 2000);
	/* in the runtime's own mount namespace, the name holds */
	pt.p[2].mntns = 11;
	fill(&pt, 2002, &ctr, &ev);
	assert_true(ev.exec_entry);
	assert_int_equal(ev.nancestors, 0);
}

/* unshare -pf sh inside a container: the shell is PID 1 of a namespace of
 * its own, in the container's cgroup.  It is not the container's init, and
 * the chain goes on through the namespace's edge to the real one. */
static void test_nested_pidns(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0}; /* main pid not known yet */
	struct vg_ev ev = {0};

	memset(&pt, 0, sizeof(pt));
	add(&pt, 900, 1, 900, 1, HOSTNS, CG_HOST, "containerd-shim");
	add(&pt, 2000, 900, 1, 0, CTRNS, CG_CTR, "redis-server");
	add(&pt, 2001, 2000, 5, 1, CTRNS, CG_CTR, "unshare");
	add(&pt, 2002, 2001, 1, 0, CTRNS + 1, CG_CTR, "sh");
	add(&pt, 2003, 2002, 2, 1, CTRNS + 1, CG_CTR, "id");
	fill(&pt, 2002, &ctr, &ev);
	assert_non_null(ev.ctr_init);
	assert_int_equal(ev.ctr_init->tgid, 2000);
	assert_false(ev.exec_entry);
	assert_int_equal(ev.nancestors, 2);
	assert_int_equal(ev.ancestors[0]->tgid, 2001);
	fill(&pt, 2003, &ctr, &ev);
	assert_int_equal(ev.ctr_init->tgid, 2000);
	assert_int_equal(ev.nancestors, 3);
	assert_false(ev.exec_entry);
}

/* A cgroup v1 host: every process reads as the v2 root, the memory
 * cgroup tells them apart.  The container's PID 1, its main pid not known
 * yet, is its init, not a process of a namespace made inside it. */
static void test_cgroup_v1_init(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	memset(&pt, 0, sizeof(pt));
	add(&pt, 900, 1, 900, 1, HOSTNS, CG_HOST, "containerd-shim")->cgroup_v1_id = 40;
	add(&pt, 2000, 900, 1, 0, CTRNS, CG_HOST, "sh")->cgroup_v1_id = 41;
	add(&pt, 2001, 2000, 2, 1, CTRNS, CG_HOST, "redis-server")->cgroup_v1_id = 41;
	fill(&pt, 2000, &ctr, &ev);
	assert_non_null(ev.ctr_init);
	assert_int_equal(ev.ctr_init->tgid, 2000);
	assert_false(ev.exec_entry);
	fill(&pt, 2001, &ctr, &ev);
	assert_int_equal(ev.ctr_init->tgid, 2000);
	assert_false(ev.exec_entry);
}

/* podman exec: crun's helper joins the container's mounts and cgroup,
 * not its pid namespace.  A parent named so there is still the edge. */
static void test_crun_exec_helper(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	memset(&pt, 0, sizeof(pt));
	add(&pt, 2000, 900, 1, 0, CTRNS, CG_CTR, "nginx")->mntns = 22;
	add(&pt, 3000, 800, 3000, 800, HOSTNS, CG_CTR, "crun")->mntns = 22;
	add(&pt, 3001, 3000, 9, 0, CTRNS, CG_CTR, "sh")->mntns = 22;
	fill(&pt, 3001, &ctr, &ev);
	assert_true(ev.exec_entry);
	assert_int_equal(ev.nancestors, 0);
}

static void test_runtime_comm(void **state)
{
	assert_true(vg_lineage_runtime_comm("runc"));
	assert_true(vg_lineage_runtime_comm("runc:[2:INIT]"));
	assert_true(vg_lineage_runtime_comm("containerd-shim"));
	assert_true(vg_lineage_runtime_comm("conmon"));
	assert_false(vg_lineage_runtime_comm("containerd"));
	assert_false(vg_lineage_runtime_comm("sh"));
	assert_false(vg_lineage_runtime_comm(NULL));
}

/* systemd as a container's init: its units are cgroups inside the
 * container's, and a service's shell is no exec from outside */
static bool units_in(void *arg, const struct vg_proc *p, const struct vg_container *ctr)
{
	return ctr == arg && (p->cgroup_id == 70 || p->cgroup_id == 71);
}

static void test_units_inside(void **state)
{
	static struct vg_proctab pt;
	struct vg_container ctr = {0};
	struct vg_ev ev = {0};

	build(&pt);
	add(&pt, 2000, 900, 1, 0, CTRNS, 70, "systemd"); /* init.scope */
	add(&pt, 2001, 2000, 2, 1, CTRNS, 71, "redis-server"); /* redis.service */
	add(&pt, 2002, 2001, 3, 2, CTRNS, 71, "sh");
	add(&pt, 960, 900, 960, 900, HOSTNS, CG_HOST, "runc");
	add(&pt, 2100, 960, 30, 0, CTRNS, 71, "sh"); /* docker exec */
	ctr.pid = 2000;
	ev.proc = vg_proctab_get(&pt, 2002);
	ev.ctr = &ctr;
	vg_lineage_fill_upto(&pt, &ev, VG_LINEAGE_MAX, units_in, &ctr);
	assert_int_equal(ev.nancestors, 2);
	assert_int_equal(ev.ancestors[1]->tgid, 2000);
	assert_int_equal(ev.ctr_init->tgid, 2000);
	assert_false(ev.exec_entry);

	/* an exec from outside is still one */
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 2100);
	ev.ctr = &ctr;
	vg_lineage_fill_upto(&pt, &ev, VG_LINEAGE_MAX, units_in, &ctr);
	assert_int_equal(ev.nancestors, 0);
	assert_true(ev.exec_entry);

	/* without knowing the container's cgroups, another cgroup is its edge */
	memset(&ev, 0, sizeof(ev));
	ev.proc = vg_proctab_get(&pt, 2002);
	ev.ctr = &ctr;
	vg_lineage_fill(&pt, &ev);
	assert_true(ev.exec_entry);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container_chain_to_init),
		cmocka_unit_test(test_exec_entry),
		cmocka_unit_test(test_missing_parents),
		cmocka_unit_test(test_host_chain_capped),
		cmocka_unit_test(test_upto_keeps_container_chain),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_parent_pid_reused),
		cmocka_unit_test(test_host_pidns_container),
		cmocka_unit_test(test_runtime_comm),
		cmocka_unit_test(test_runtime_name_inside),
		cmocka_unit_test(test_nested_pidns),
		cmocka_unit_test(test_cgroup_v1_init),
		cmocka_unit_test(test_crun_exec_helper),
		cmocka_unit_test(test_units_inside),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
