/*
 * The BPF <-> agent ABI (include/vigil/event.h) locked down: every struct's
 * size and every field's offset.  A change here is a wire format change:
 * both sides are rebuilt together, but recorded files and replay tools are
 * not, so a failing assert means "bump the format", not "fix the test".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vigil/event.h"

#define OFF(t, f, v) _Static_assert(offsetof(struct t, f) == (v), #t "." #f)
#define SIZE(t, v) _Static_assert(sizeof(struct t) == (v), "sizeof " #t)

OFF(vg_hdr, type, 0);
OFF(vg_hdr, size, 2);
OFF(vg_hdr, flags, 4);
OFF(vg_hdr, ts_ns, 8);
OFF(vg_hdr, cgroup_id, 16);
OFF(vg_hdr, cgroup_v1_id, 24);
OFF(vg_hdr, tgid, 32);
OFF(vg_hdr, tid, 36);
OFF(vg_hdr, ptgid, 40);
OFF(vg_hdr, ns_pid, 44);
OFF(vg_hdr, ns_ppid, 48);
OFF(vg_hdr, uid, 52);
OFF(vg_hdr, gid, 56);
OFF(vg_hdr, mntns, 60);
OFF(vg_hdr, pidns, 64);
OFF(vg_hdr, pad, 68);
OFF(vg_hdr, comm, 72);
SIZE(vg_hdr, 88);

OFF(vg_exec, argc, 88);
OFF(vg_exec, eflags, 92);
OFF(vg_exec, filename_len, 96);
OFF(vg_exec, args_len, 98);
OFF(vg_exec, exe_len, 100);
OFF(vg_exec, pad, 102);
OFF(vg_exec, data, 104);
SIZE(vg_exec, 104 + 2 * VG_PATH_MAX + VG_EXEC_ARGS_MAX);

SIZE(vg_fork, 88);

OFF(vg_exit, exit_code, 88);
OFF(vg_exit, pad, 92);
SIZE(vg_exit, 96);

OFF(vg_connect, family, 88);
OFF(vg_connect, port, 90);
OFF(vg_connect, proto, 92);
OFF(vg_connect, source, 93);
OFF(vg_connect, pad, 94);
OFF(vg_connect, cflags, 96);
OFF(vg_connect, result, 100);
OFF(vg_connect, addr, 104);
SIZE(vg_connect, 120);

OFF(vg_mount, op, 88);
OFF(vg_mount, mflags, 90);
OFF(vg_mount, result, 92);
OFF(vg_mount, flags, 96);
OFF(vg_mount, source, 104);
OFF(vg_mount, target, 104 + VG_PATH_MAX);
OFF(vg_mount, fstype, 104 + 2 * VG_PATH_MAX);
SIZE(vg_mount, 104 + 2 * VG_PATH_MAX + VG_FSTYPE_MAX);

OFF(vg_oom, trigger_tgid, 88);
OFF(vg_oom, pad, 92);
OFF(vg_oom, total_vm_kb, 96);
OFF(vg_oom, rss_kb, 104);
OFF(vg_oom, trigger_comm, 112);
SIZE(vg_oom, 128);

OFF(vg_filter, agent_tgid, 0);
OFF(vg_filter, emit_host, 4);
OFF(vg_filter, host_mntns, 8);
OFF(vg_filter, host_pidns, 12);
OFF(vg_filter, wakeup_bytes, 16);
SIZE(vg_filter, 24);

/* hdr.size is a __u16: the largest record must fit in it */
_Static_assert(sizeof(struct vg_exec) <= UINT16_MAX, "exec record fits hdr.size");

/* Every record is a multiple of 8 bytes, so the ring buffer keeps the next
 * record's 8-byte fields aligned; the exec record's variable tail is what
 * breaks this, and the ring buffer pads it itself. */
static void test_fixed_records_are_8_aligned(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct vg_hdr) % 8, 0);
	assert_int_equal(sizeof(struct vg_exit) % 8, 0);
	assert_int_equal(sizeof(struct vg_connect) % 8, 0);
	assert_int_equal(sizeof(struct vg_mount) % 8, 0);
	assert_int_equal(sizeof(struct vg_oom) % 8, 0);
}

/* The stats array layout the agent indexes: emitted, dropped, filtered. */
static void test_stat_indexes(void **state)
{
	(void)state;
	assert_int_equal(VG_STAT_EMITTED + VG_EV_EXEC, 1);
	assert_int_equal(VG_STAT_DROPPED + VG_EV_EXEC, VG_EV__MAX + 1);
	assert_int_equal(VG_STAT_FILTERED + VG_EV_OOM, 2 * VG_EV__MAX + VG_EV_OOM);
	assert_int_equal(VG_STAT__MAX, 3 * VG_EV__MAX);
	/* exec record: the header's size field can name the largest one */
	assert_true(offsetof(struct vg_exec, data) + 2 * VG_PATH_MAX + VG_EXEC_ARGS_MAX <=
		    UINT16_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_records_are_8_aligned),
		cmocka_unit_test(test_stat_indexes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
