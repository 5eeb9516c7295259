/*
 * W1 syscall tax: getppid(2) in a tight loop on every worker (one per core
 * by default).  Nothing here matches the sensor's filters; what it measures
 * is the cost the sensor adds to unrelated syscalls (syscall tracepoints
 * enabled, cgroup hooks present).
 */
#include <sys/syscall.h>

#include "bench.h"

static void worker(const struct bench_opts *o, unsigned idx, struct bench_slot *s,
		   int64_t deadline, uint64_t cap)
{
	uint64_t n = 0;

	s->t0 = bench_now();
	while (n < cap) {
		/* the raw syscall: glibc does not cache getppid, but be explicit */
		for (unsigned i = 0; i < 1024; i++)
			syscall(SYS_getppid);
		n += 1024;
		if (bench_now() >= deadline)
			break;
	}
	s->t1 = bench_now();
	s->ops = n;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.workers = 2, .secs = 5};

	bench_parse(argc, argv, &o);
	struct bench_slot *slots = bench_slots(o.workers);
	int bad = bench_run_workers(&o, slots, worker);
	bench_print_head("w1", &o, slots);
	printf(",\"failed_workers\":%d}\n", bad);
	return bad ? 1 : 0;
}
