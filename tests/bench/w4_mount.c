/*
 * W4 mount loop: each worker enters a private mount namespace of its own
 * (unshare(CLONE_NEWNS), then / made recursively private so nothing
 * propagates to the host), and mounts and unmounts a small tmpfs on
 * /tmp/vgb-<token>-w<i> in a loop.  One op = mount(2) + umount2(2), both
 * successful: two mount records.  The source is "vgb-<token>" and the
 * target carries the token, so the harness counts exactly this run.
 */
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "bench.h"

static char g_dirs[BENCH_MAX_WORKERS][256];

static void worker(const struct bench_opts *o, unsigned idx, struct bench_slot *s,
		   int64_t deadline, uint64_t cap)
{
	char src[128];
	uint64_t n = 0, other = 0;

	snprintf(src, sizeof(src), "vgb-%s", o->token);
	if (unshare(CLONE_NEWNS)) {
		perror("w4_mount: unshare(CLONE_NEWNS)");
		_exit(1);
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		perror("w4_mount: make / private");
		_exit(1);
	}
	s->t0 = bench_now();
	while (n + other < cap && bench_now() < deadline) {
		if (mount(src, g_dirs[idx], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k")) {
			other++;
			continue;
		}
		if (umount2(g_dirs[idx], 0)) {
			perror("w4_mount: umount");
			_exit(1);
		}
		n++;
	}
	s->t1 = bench_now();
	s->ops = n;
	s->other = other;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.workers = 2, .secs = 5, .token = "vgbench"};

	bench_parse(argc, argv, &o);
	for (unsigned i = 0; i < o.workers; i++) {
		snprintf(g_dirs[i], sizeof(g_dirs[i]), "/tmp/vgb-%s-w%u", o.token, i);
		if (mkdir(g_dirs[i], 0700) && errno != EEXIST) {
			perror(g_dirs[i]);
			return 1;
		}
	}
	struct bench_slot *slots = bench_slots(o.workers);
	int bad = bench_run_workers(&o, slots, worker);
	for (unsigned i = 0; i < o.workers; i++)
		rmdir(g_dirs[i]);
	bench_print_head("w4", &o, slots);
	printf(",\"failed_workers\":%d}\n", bad);
	return bad ? 1 : 0;
}
