/* Unit tests for proctab.c: eviction, fork/exec/exit, reaping, seeding from
 * a fixture proc tree (tests/unit/fixtures/proc) with a hostile comm. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/proctab.h"

#define FIXTURE "tests/unit/fixtures/proc"
#define ID "3f9d1b7c8a2e4f60b5c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccd"

static struct vg_hdr mkhdr(unsigned type, uint32_t tgid, uint32_t ptgid, const char *comm,
			   uint64_t ts)
{
	struct vg_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = (uint16_t)type;
	h.tgid = h.tid = tgid;
	h.ptgid = ptgid;
	h.ts_ns = ts;
	h.uid = 1000;
	h.cgroup_id = 77;
	h.cgroup_v1_id = 88;
	h.mntns = 4026532601u;
	snprintf(h.comm, sizeof(h.comm), "%s", comm);
	return h;
}

/* every apply returns the entry it touched, the one a lookup finds */
static void apply(struct vg_proctab *pt, unsigned type, uint32_t tgid, uint32_t ptgid,
		  const char *comm, uint64_t ts)
{
	struct vg_hdr h = mkhdr(type, tgid, ptgid, comm, ts);
	const struct vg_proc *p = vg_proctab_apply(pt, &h, NULL, NULL, 0);

	assert_non_null(p);
	assert_ptr_equal(p, vg_proctab_get(pt, tgid));
	assert_int_equal(p->tgid, tgid);
}

static void test_new_invalid(void **state)
{
	struct vg_proctab *pt = NULL;

	assert_int_equal(vg_proctab_new(0, &pt), -EINVAL);
	assert_null(pt);
	assert_int_equal(vg_proctab_new(4, &pt), 0);
	assert_non_null(pt);
	assert_null(vg_proctab_get(pt, 1));
	vg_proctab_free(&pt);
	assert_null(pt);
	vg_proctab_free(&pt);
}

static void test_fork_exec_inherit(void **state)
{
	static const char args[] = "curl\0-s\0http://169.254.169.254/latest/\0";
	struct vg_proctab *pt;
	const struct vg_proc *p;
	struct vg_hdr h;

	assert_int_equal(vg_proctab_new(16, &pt), 0);
	h = mkhdr(VG_EV_EXEC, 100, 1, "bash", 10);
	vg_proctab_apply(pt, &h, "/bin/bash", "bash\0-l\0", 8);
	p = vg_proctab_get(pt, 100);
	assert_non_null(p);
	assert_string_equal(p->exe, "/bin/bash");
	assert_string_equal(p->args, "bash -l");
	assert_int_equal(p->exec_ns, 10);
	assert_int_equal(p->cgroup_id, 77);
	assert_int_equal(p->cgroup_v1_id, 88);

	/* the child inherits exe and args, takes its header */
	apply(pt, VG_EV_FORK, 101, 100, "bash", 20);
	p = vg_proctab_get(pt, 101);
	assert_non_null(p);
	assert_int_equal(p->ptgid, 100);
	assert_string_equal(p->exe, "/bin/bash");
	assert_string_equal(p->args, "bash -l");
	assert_int_equal(p->start_ns, 20);
	assert_int_equal(p->exec_ns, 0);
	assert_false(p->exited);

	/* exec replaces comm, exe, args */
	h = mkhdr(VG_EV_EXEC, 101, 100, "curl", 30);
	p = vg_proctab_apply(pt, &h, "/usr/bin/curl", args, sizeof(args) - 1);
	assert_ptr_equal(p, vg_proctab_get(pt, 101));
	assert_string_equal(p->comm, "curl");
	assert_string_equal(p->exe, "/usr/bin/curl");
	assert_string_equal(p->args, "curl -s http://169.254.169.254/latest/");
	assert_int_equal(p->exec_ns, 30);
	/* the parent is untouched */
	assert_string_equal(vg_proctab_get(pt, 100)->exe, "/bin/bash");

	/* fork from an unknown parent: an entry with empty exe */
	apply(pt, VG_EV_FORK, 300, 299, "x", 40);
	assert_string_equal(vg_proctab_get(pt, 300)->exe, "");

	/* other records create or refresh from the header */
	h = mkhdr(VG_EV_CONNECT, 500, 1, "nc", 50);
	h.uid = 0;
	vg_proctab_apply(pt, &h, NULL, NULL, 0);
	assert_int_equal(vg_proctab_get(pt, 500)->uid, 0);
	h.uid = 33;
	h.flags = VG_HF_TTY;
	vg_proctab_apply(pt, &h, NULL, NULL, 0);
	assert_int_equal(vg_proctab_get(pt, 500)->uid, 33);
	assert_int_equal(vg_proctab_get(pt, 500)->flags, VG_HF_TTY);
	/* a NO_TASK header only gives comm */
	h = mkhdr(VG_EV_OOM, 500, 0, "stress", 60);
	h.flags = VG_HF_NO_TASK;
	h.uid = 7;
	vg_proctab_apply(pt, &h, NULL, NULL, 0);
	assert_int_equal(vg_proctab_get(pt, 500)->uid, 33);
	assert_string_equal(vg_proctab_get(pt, 500)->comm, "stress");
	assert_int_equal(vg_proctab_count(pt), 4);
	vg_proctab_free(&pt);
}

/* the process keeps its main thread's name: other threads' records do not rename it */
/* an exec keeps what it replaced: the name and start of the image before */
static void test_exec_keeps_previous_image(void **state)
{
	struct vg_proctab *pt = NULL;
	struct vg_hdr h;
	const struct vg_proc *p;
	static const char args[] = "redis-server\0*:6379";

	(void)state;
	assert_int_equal(vg_proctab_new(8, &pt), 0);
	apply(pt, VG_EV_FORK, 500, 1, "runc:[2:INIT]", 1000);
	h = mkhdr(VG_EV_EXEC, 500, 1, "redis-server", 2000);
	p = vg_proctab_apply(pt, &h, "/usr/bin/redis-server", args, sizeof(args));
	assert_string_equal(p->prev_name, "runc:[2:INIT]"); /* no executable yet: its name */
	assert_int_equal(p->prev_ns, 1000);		     /* from its fork */
	h = mkhdr(VG_EV_EXEC, 500, 1, "sh", 9000);
	p = vg_proctab_apply(pt, &h, "/bin/sh", NULL, 0);
	assert_string_equal(p->prev_name, "redis-server");
	assert_int_equal(p->prev_ns, 2000); /* from its exec */
	assert_string_equal(p->exe, "/bin/sh");
	/* a script: its image is the interpreter the kernel resolved; one
	 * whose interpreter is not known is marked by its name */
	h = mkhdr(VG_EV_EXEC, 500, 1, "entrypoint", 9100);
	p = vg_proctab_apply_exec(pt, &h, "/entrypoint", "/usr/bin/dash", NULL, 0);
	assert_string_equal(p->img, "dash");
	h = mkhdr(VG_EV_EXEC, 500, 1, "sh", 9200);
	p = vg_proctab_apply_exec(pt, &h, "/bin/sh", "/bin/busybox", NULL, 0);
	assert_string_equal(p->prev_name, "dash");
	assert_false(p->prev_sh);
	h = mkhdr(VG_EV_EXEC, 500, 1, "docker-entrypoi", 9300);
	p = vg_proctab_apply_exec(pt, &h, "/usr/local/bin/docker-entrypoint-wait-for-db.sh", NULL, NULL,
				  0);
	h = mkhdr(VG_EV_EXEC, 500, 1, "sh", 9400);
	p = vg_proctab_apply(pt, &h, "/bin/sh", NULL, 0);
	assert_true(p->prev_sh); /* the whole name, not 31 bytes of it */
	assert_string_equal(p->prev_name, "docker-entrypoint-wait-for-db.s");
	/* a known interpreter decides, whatever the name */
	h = mkhdr(VG_EV_EXEC, 500, 1, "run.sh", 9500);
	vg_proctab_apply_exec(pt, &h, "/app/run.sh", "/usr/bin/node", NULL, 0);
	h = mkhdr(VG_EV_EXEC, 500, 1, "sh", 9600);
	p = vg_proctab_apply_exec(pt, &h, "/bin/sh", "/bin/busybox", NULL, 0);
	assert_false(p->prev_sh);
	assert_string_equal(p->prev_name, "node");
	/* a child runs its parent's binary */
	apply(pt, VG_EV_FORK, 502, 500, "sh", 9700);
	assert_string_equal(vg_proctab_get(pt, 502)->img, "busybox");
	/* a new process starts with nothing replaced, in a reused slot too */
	apply(pt, VG_EV_FORK, 501, 500, "sh", 9800);
	assert_string_equal(vg_proctab_get(pt, 501)->prev_name, "");
	assert_int_equal(vg_proctab_get(pt, 501)->prev_ns, 0);
	apply(pt, VG_EV_EXIT, 500, 1, "sh", 9900);
	vg_proctab_reap(pt, 20000, 1);
	assert_null(vg_proctab_get(pt, 500));
	apply(pt, VG_EV_MOUNT, 503, 1, "x", 20000); /* no parent: nothing inherited */
	p = vg_proctab_get(pt, 503);
	assert_string_equal(p->prev_name, "");
	assert_string_equal(p->img, "");
	assert_false(p->prev_sh);
	vg_proctab_free(&pt);
}

static void test_thread_names(void **state)
{
	struct vg_proctab *pt;
	struct vg_hdr h;

	assert_int_equal(vg_proctab_new(8, &pt), 0);
	h = mkhdr(VG_EV_EXEC, 200, 1, "nginx", 10);
	vg_proctab_apply(pt, &h, "/usr/sbin/nginx", "nginx\0", 6);
	/* a worker thread connects, and is the last thread to leave */
	h = mkhdr(VG_EV_CONNECT, 200, 1, "worker-3", 20);
	h.tid = 203;
	vg_proctab_apply(pt, &h, NULL, NULL, 0);
	assert_string_equal(vg_proctab_get(pt, 200)->comm, "nginx");
	/* the rest of the header is the process's, from any thread */
	assert_int_equal(vg_proctab_get(pt, 200)->uid, 1000);
	/* the main thread renaming itself does */
	h = mkhdr(VG_EV_CONNECT, 200, 1, "nginx-master", 30);
	vg_proctab_apply(pt, &h, NULL, NULL, 0);
	assert_string_equal(vg_proctab_get(pt, 200)->comm, "nginx-master");
	h = mkhdr(VG_EV_EXIT, 200, 1, "worker-3", 40);
	h.tid = 203;
	vg_proctab_apply(pt, &h, NULL, NULL, 0);
	assert_true(vg_proctab_get(pt, 200)->exited);
	assert_string_equal(vg_proctab_get(pt, 200)->comm, "nginx-master");
	/* a process first seen through a thread takes that name until its own */
	h = mkhdr(VG_EV_CONNECT, 300, 1, "java-gc", 50);
	h.tid = 301;
	vg_proctab_apply(pt, &h, NULL, NULL, 0);
	assert_string_equal(vg_proctab_get(pt, 300)->comm, "java-gc");
	h = mkhdr(VG_EV_CONNECT, 300, 1, "java", 60);
	vg_proctab_apply(pt, &h, NULL, NULL, 0);
	assert_string_equal(vg_proctab_get(pt, 300)->comm, "java");
	vg_proctab_free(&pt);
}

static void test_args_bounded(void **state)
{
	char args[1000];
	struct vg_proctab *pt;
	struct vg_hdr h = mkhdr(VG_EV_EXEC, 5, 1, "x", 1);
	const struct vg_proc *p;

	memset(args, 'a', sizeof(args));
	args[10] = '\0';
	assert_int_equal(vg_proctab_new(2, &pt), 0);
	vg_proctab_apply(pt, &h, "/x", args, sizeof(args));
	p = vg_proctab_get(pt, 5);
	assert_int_equal(strlen(p->args), VG_PROC_ARGS_MAX - 1);
	assert_int_equal(p->args[10], ' ');
	vg_proctab_free(&pt);
}

/*
 * Every NUL between arguments becomes a space and no other byte changes,
 * wherever it falls in a word and whatever bytes are around it (the
 * separators are found a word at a time); NULs at the end are dropped.
 */
static void test_args_separators(void **state)
{
	static const unsigned char alphabet[] = {0, 0, 0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, ' ', 'a'};
	char args[VG_PROC_ARGS_MAX + 40], want[VG_PROC_ARGS_MAX];
	struct vg_proctab *pt;
	struct vg_hdr h = mkhdr(VG_EV_EXEC, 5, 1, "x", 1);
	const struct vg_proc *p;
	unsigned seed = 12345;

	assert_int_equal(vg_proctab_new(2, &pt), 0);
	for (int round = 0; round < 3000; round++) {
		size_t n = 1 + round % (sizeof(args) - 1), k;

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			args[i] = (char)alphabet[(seed >> 16) % sizeof(alphabet)];
		}
		for (k = n; k && !args[k - 1]; k--)
			;
		if (k > sizeof(want) - 1)
			k = sizeof(want) - 1;
		for (size_t i = 0; i < k; i++)
			want[i] = args[i] ? args[i] : ' ';
		want[k] = '\0';
		vg_proctab_apply(pt, &h, "/x", args, n);
		p = vg_proctab_get(pt, 5);
		assert_memory_equal(p->args, want, k + 1);
	}
	vg_proctab_free(&pt);
}

static void test_exit_then_reap(void **state)
{
	struct vg_proctab *pt;
	const struct vg_proc *p;

	assert_int_equal(vg_proctab_new(8, &pt), 0);
	apply(pt, VG_EV_FORK, 10, 1, "a", 100);
	apply(pt, VG_EV_FORK, 11, 1, "b", 100);
	apply(pt, VG_EV_EXIT, 10, 1, "a", 1000);
	p = vg_proctab_get(pt, 10);
	assert_non_null(p);
	assert_true(p->exited);
	/* a late record still names it, and does not revive it */
	apply(pt, VG_EV_CONNECT, 10, 1, "a", 1100);
	assert_true(vg_proctab_get(pt, 10)->exited);

	apply(pt, VG_EV_EXIT, 11, 1, "b", 5000);
	vg_proctab_reap(pt, 100, 1000); /* now < keep: nothing */
	assert_int_equal(vg_proctab_count(pt), 2);
	vg_proctab_reap(pt, 1500, 1000); /* 10 exited at 1000 > 500: kept */
	assert_int_equal(vg_proctab_count(pt), 2);
	vg_proctab_reap(pt, 2001, 1000);
	assert_null(vg_proctab_get(pt, 10));
	assert_non_null(vg_proctab_get(pt, 11));
	vg_proctab_reap(pt, 100000, 1000);
	assert_null(vg_proctab_get(pt, 11));
	assert_int_equal(vg_proctab_count(pt), 0);
	assert_int_equal(vg_proctab_evictions(pt), 0);

	/* exit for an unknown tgid creates an exited entry */
	apply(pt, VG_EV_EXIT, 12, 1, "c", 10);
	assert_true(vg_proctab_get(pt, 12)->exited);
	/* a fork reusing the tgid starts a live entry */
	apply(pt, VG_EV_FORK, 12, 1, "d", 20);
	assert_false(vg_proctab_get(pt, 12)->exited);
	assert_string_equal(vg_proctab_get(pt, 12)->comm, "d");
	assert_int_equal(vg_proctab_count(pt), 1);
	vg_proctab_free(&pt);
}

static void test_eviction(void **state)
{
	struct vg_proctab *pt;
	uint32_t i;

	assert_int_equal(vg_proctab_new(4, &pt), 0);
	for (i = 1; i <= 4; i++)
		apply(pt, VG_EV_FORK, i, 0, "p", i);
	assert_int_equal(vg_proctab_count(pt), 4);
	/* touch 1: 2 becomes the least recently touched */
	apply(pt, VG_EV_CONNECT, 1, 0, "p", 10);
	apply(pt, VG_EV_FORK, 5, 0, "p", 11);
	assert_int_equal(vg_proctab_evictions(pt), 1);
	assert_null(vg_proctab_get(pt, 2));
	assert_non_null(vg_proctab_get(pt, 1));
	/* an exited entry goes first, even if touched recently */
	apply(pt, VG_EV_EXIT, 5, 0, "p", 12);
	apply(pt, VG_EV_FORK, 6, 0, "p", 13);
	assert_int_equal(vg_proctab_evictions(pt), 2);
	assert_null(vg_proctab_get(pt, 5));
	assert_non_null(vg_proctab_get(pt, 3));
	assert_int_equal(vg_proctab_count(pt), 4);

	/* a full table under a long storm stays consistent */
	for (i = 100; i < 10100; i++) {
		apply(pt, VG_EV_FORK, i, i - 1, "s", i);
		if (i % 3 == 0)
			apply(pt, VG_EV_EXIT, i - 1, 0, "s", i);
		assert_non_null(vg_proctab_get(pt, i));
	}
	assert_int_equal(vg_proctab_count(pt), 4);
	assert_true(vg_proctab_evictions(pt) >= 10000 - 4);
	vg_proctab_free(&pt);
}

/* A pid reused while its fork record was lost: the exec of the new
 * process does not inherit the old one's exited mark or start. */
static void test_exec_after_exit_is_a_new_process(void **state)
{
	struct vg_proctab *pt;
	const struct vg_proc *p;

	assert_int_equal(vg_proctab_new(16, &pt), 0);
	apply(pt, VG_EV_FORK, 50, 1, "old", 100);
	apply(pt, VG_EV_EXIT, 50, 1, "old", 200);
	assert_true(vg_proctab_get(pt, 50)->exited);
	apply(pt, VG_EV_EXEC, 50, 7, "new", 300);
	p = vg_proctab_get(pt, 50);
	assert_false(p->exited);
	assert_int_equal(p->start_ns, 0); /* unknown, not the old 100 */
	assert_int_equal(p->exec_ns, 300);
	assert_int_equal(p->ptgid, 7);
	/* live: the exited entries' reap leaves it */
	vg_proctab_reap(pt, 1000000, 10);
	assert_non_null(vg_proctab_get(pt, 50));
	/* a repeated exit record of an exited process changes nothing */
	apply(pt, VG_EV_EXIT, 50, 7, "new", 400);
	apply(pt, VG_EV_EXIT, 50, 7, "new", 500);
	assert_true(vg_proctab_get(pt, 50)->exited);
	vg_proctab_free(&pt);
}

/* a bound on exited entries: the oldest goes at the next exit, not at reap */
static void test_exited_bounded(void **state)
{
	struct vg_proctab *pt;
	uint32_t i;

	assert_int_equal(vg_proctab_new(16, &pt), 0);
	vg_proctab_set_exited_max(pt, 2);
	for (i = 1; i <= 4; i++)
		apply(pt, VG_EV_FORK, i, 0, "p", i);
	apply(pt, VG_EV_EXIT, 1, 0, "p", 10);
	apply(pt, VG_EV_EXIT, 2, 0, "p", 11);
	assert_int_equal(vg_proctab_count(pt), 4);
	apply(pt, VG_EV_EXIT, 3, 0, "p", 12);
	assert_null(vg_proctab_get(pt, 1));
	assert_true(vg_proctab_get(pt, 2)->exited);
	assert_true(vg_proctab_get(pt, 3)->exited);
	assert_false(vg_proctab_get(pt, 4)->exited);
	assert_int_equal(vg_proctab_count(pt), 3);
	assert_int_equal(vg_proctab_evictions(pt), 0);
	/* the freed slot is the next one used: the count stays bounded */
	for (i = 100; i < 200; i++) {
		apply(pt, VG_EV_FORK, i, 4, "s", i);
		apply(pt, VG_EV_EXIT, i, 4, "s", i);
	}
	assert_int_equal(vg_proctab_count(pt), 3);
	assert_true(vg_proctab_get(pt, 199)->exited);
	assert_true(vg_proctab_get(pt, 198)->exited);
	assert_null(vg_proctab_get(pt, 197));
	/* lowering the bound drops the oldest at once; reap still works */
	vg_proctab_set_exited_max(pt, 1);
	assert_null(vg_proctab_get(pt, 198));
	vg_proctab_reap(pt, 100000, 10);
	assert_null(vg_proctab_get(pt, 199));
	assert_int_equal(vg_proctab_count(pt), 1);
	assert_int_equal(vg_proctab_evictions(pt), 0);
	vg_proctab_free(&pt);
}

/*
 * pids that differ by a multiple of the bucket count (32 for 16 entries)
 * share one chain: removing its head, middle or tail, and reinserting,
 * leaves every other pid found
 */
static void test_shared_chain(void **state)
{
	static const uint32_t same[] = {5, 37, 69, 101, 133};
	struct vg_proctab *pt;
	uint32_t i;

	assert_int_equal(vg_proctab_new(16, &pt), 0);
	vg_proctab_set_exited_max(pt, 1);
	for (i = 0; i < 5; i++)
		apply(pt, VG_EV_FORK, same[i], 1, "c", i + 1);
	apply(pt, VG_EV_FORK, 6, 1, "n", 9);
	/* the chain, newest first: 133 101 69 37 5.  69 exits, then 5
	 * (pushes 69 out: the middle), then 133 (pushes 5 out: the tail) */
	apply(pt, VG_EV_EXIT, 69, 1, "c", 10);
	apply(pt, VG_EV_EXIT, 5, 1, "c", 11);
	assert_null(vg_proctab_get(pt, 69));
	apply(pt, VG_EV_EXIT, 133, 1, "c", 12);
	assert_null(vg_proctab_get(pt, 5));
	assert_true(vg_proctab_get(pt, 133)->exited);
	assert_false(vg_proctab_get(pt, 37)->exited);
	assert_false(vg_proctab_get(pt, 101)->exited);
	assert_int_equal(vg_proctab_get(pt, 6)->tgid, 6);
	/* a fork that reuses the exited 133 (the head: removed, inserted
	 * again), and 69 again */
	apply(pt, VG_EV_FORK, 133, 37, "e", 13);
	apply(pt, VG_EV_FORK, 69, 37, "d", 14);
	assert_false(vg_proctab_get(pt, 133)->exited);
	assert_string_equal(vg_proctab_get(pt, 133)->comm, "e");
	assert_string_equal(vg_proctab_get(pt, 69)->comm, "d");
	assert_int_equal(vg_proctab_get(pt, 69)->ptgid, 37);
	assert_int_equal(vg_proctab_count(pt), 5);
	vg_proctab_free(&pt);
}

static void test_fork_parent_survives_full_table(void **state)
{
	struct vg_proctab *pt;
	struct vg_hdr h = mkhdr(VG_EV_EXEC, 1, 0, "init", 1);

	assert_int_equal(vg_proctab_new(1, &pt), 0);
	vg_proctab_apply(pt, &h, "/sbin/init", "init\0", 5);
	/* the only slot is the parent: the child still inherits its exe */
	apply(pt, VG_EV_FORK, 2, 1, "init", 2);
	assert_string_equal(vg_proctab_get(pt, 2)->exe, "/sbin/init");
	assert_null(vg_proctab_get(pt, 1));
	vg_proctab_free(&pt);
}

static char tmpdir[] = "/tmp/vg-proctab-XXXXXX";

static void mkdir_p(const char *rel)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", tmpdir, rel);
	assert_int_equal(system(cmd), 0);
}

static uint64_t ino_of(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* An executable's base name; its length without readlink's deleted mark. */
static void test_exe_base(void **state)
{
	size_t n = 99;

	(void)state;
	assert_string_equal(vg_exe_base("/usr/bin/bash (deleted)", &n), "bash (deleted)");
	assert_int_equal(n, 4);
	assert_string_equal(vg_exe_base("redis-server", &n), "redis-server");
	assert_int_equal(n, 12);
	assert_string_equal(vg_exe_base("/tmp/ (deleted)", &n), " (deleted)");
	assert_int_equal(n, 0);
	assert_string_equal(vg_exe_base("/usr/bin/", &n), "");
	assert_int_equal(n, 0);
	/* only a trailing mark is one */
	vg_exe_base("/x/a (deleted)b", &n);
	assert_int_equal(n, 12);
	assert_string_equal(vg_exe_base("/a/b", NULL), "b");
}

static void test_seed_fixture(void **state)
{
	char v2[300], v1[300], cmd[400];
	struct vg_proctab *pt;
	const struct vg_proc *p;

	assert_non_null(mkdtemp(tmpdir));
	mkdir_p("unified/docker/" ID);
	mkdir_p("unified/init.scope");
	mkdir_p("memory/docker/" ID);
	snprintf(v2, sizeof(v2), "%s/unified", tmpdir);
	snprintf(v1, sizeof(v1), "%s/memory", tmpdir);

	assert_int_equal(vg_proctab_new(16, &pt), 0);
	assert_int_equal(vg_proctab_seed(pt, "/nonexistent-proc"), -ENOENT);
	vg_proctab_set_cgroup_roots(pt, v2, v1);
	/* 1, 4242, 4243; not 99 (no stat), self, sys, version */
	assert_int_equal(vg_proctab_seed(pt, FIXTURE), 3);
	assert_int_equal(vg_proctab_count(pt), 3);

	p = vg_proctab_get(pt, 4242);
	assert_non_null(p);
	assert_string_equal(p->comm, ") (a b) R 9");
	assert_int_equal(p->ptgid, 1);
	assert_int_equal(p->uid, 1000);
	assert_int_equal(p->ns_pid, 1);
	assert_int_equal(p->ns_ppid, 0); /* parent in another pid namespace */
	assert_string_equal(p->exe, "/tmp/.x/evil (deleted)");
	assert_string_equal(p->args, "sh -c \033]0;pwned\007 x");
	assert_int_equal(p->mntns, 4026532601u);
	assert_int_equal(p->pidns, 4026532604u);
	assert_int_equal(p->cgroup_id, ino_of("unified/docker/" ID));
	assert_int_equal(p->cgroup_v1_id, ino_of("memory/docker/" ID));
	assert_int_equal(p->start_ns, 0);
	assert_int_equal(p->flags, VG_HF_TTY); /* tty_nr 34816: pts/0 */
	assert_false(p->exited);

	p = vg_proctab_get(pt, 4243);
	assert_non_null(p);
	assert_string_equal(p->comm, "sh");
	assert_int_equal(p->flags, 0);
	assert_int_equal(p->ptgid, 4242);
	assert_int_equal(p->ns_pid, 7);
	assert_int_equal(p->ns_ppid, 1); /* same pid namespace as its parent */
	assert_int_equal(p->cgroup_id, ino_of("unified/docker/" ID));
	assert_int_equal(p->cgroup_v1_id, 0); /* no memory line */

	p = vg_proctab_get(pt, 1);
	assert_non_null(p);
	assert_string_equal(p->comm, "systemd");
	assert_int_equal(p->ptgid, 0);
	assert_string_equal(p->args, "/sbin/init splash");
	assert_string_equal(p->exe, "/usr/lib/systemd/systemd");
	assert_int_equal(p->mntns, 4026531840u);
	assert_int_equal(p->cgroup_id, ino_of("unified/init.scope"));
	assert_int_equal(p->cgroup_v1_id, 0); /* memory/init.scope does not exist */

	/* one process, into a table that did not know where it lived (the
	 * classic OOM hook's victim); one that is gone is not made up */
	struct vg_proctab *one;
	assert_int_equal(vg_proctab_new(16, &one), 0);
	vg_proctab_set_cgroup_roots(one, v2, v1);
	assert_int_equal(vg_proctab_seed_pid(one, FIXTURE, 4242), 0);
	assert_int_equal(vg_proctab_count(one), 1);
	assert_int_equal(vg_proctab_get(one, 4242)->cgroup_id, ino_of("unified/docker/" ID));
	assert_int_equal(vg_proctab_get(one, 4242)->ptgid, 1);
	assert_int_equal(vg_proctab_seed_pid(one, FIXTURE, 77), -ENOENT);
	assert_null(vg_proctab_get(one, 77));
	vg_proctab_free(&one);

	/* without roots the ids stay 0 */
	vg_proctab_set_cgroup_roots(pt, NULL, NULL);
	assert_int_equal(vg_proctab_seed(pt, FIXTURE), 3);
	assert_int_equal(vg_proctab_get(pt, 4242)->cgroup_id, 0);
	assert_int_equal(vg_proctab_count(pt), 3);
	vg_proctab_free(&pt);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
}

static void test_seed_real_proc(void **state)
{
	struct vg_proctab *pt;
	const struct vg_proc *p;
	int n;

	assert_int_equal(vg_proctab_new(65536, &pt), 0);
	n = vg_proctab_seed(pt, "/proc");
	assert_true(n > 0);
	p = vg_proctab_get(pt, (uint32_t)getpid());
	assert_non_null(p);
	assert_string_equal(p->comm, "test_proctab");
	assert_int_equal(p->ptgid, (uint32_t)getppid());
	assert_int_equal(p->uid, getuid());
	/* its image started when the process did (on the records' monotonic
	 * clock), and then an exec that replaces it is measured from there */
	struct timespec m;
	clock_gettime(CLOCK_MONOTONIC, &m);
	uint64_t now = (uint64_t)m.tv_sec * 1000000000ull + (uint64_t)m.tv_nsec;
	assert_int_equal(p->start_ns, 0);
	assert_true(p->exec_ns > 0 && p->exec_ns <= now && now - p->exec_ns < 600000000000ull);
	struct vg_hdr h = mkhdr(VG_EV_EXEC, (uint32_t)getpid(), 1, "sh", now);
	uint64_t was = p->exec_ns;
	p = vg_proctab_apply(pt, &h, "/bin/sh", NULL, 0);
	assert_int_equal(p->prev_ns, was);
	assert_string_equal(p->prev_name, "test_proctab");
	vg_proctab_free(&pt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_invalid),
		cmocka_unit_test(test_fork_exec_inherit),
		cmocka_unit_test(test_exec_keeps_previous_image),
		cmocka_unit_test(test_thread_names),
		cmocka_unit_test(test_args_bounded),
		cmocka_unit_test(test_args_separators),
		cmocka_unit_test(test_exit_then_reap),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_exec_after_exit_is_a_new_process),
		cmocka_unit_test(test_exited_bounded),
		cmocka_unit_test(test_shared_chain),
		cmocka_unit_test(test_fork_parent_survives_full_table),
		cmocka_unit_test(test_exe_base),
		cmocka_unit_test(test_seed_fixture),
		cmocka_unit_test(test_seed_real_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
