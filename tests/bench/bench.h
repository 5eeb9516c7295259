/*
 * Shared helpers of the benchmark workload drivers (tests/bench/w*.c).
 *
 * Every driver is bounded twice, by time (--secs) and by count (--max-ops),
 * runs its loop in --workers forked processes, and prints exactly one JSON
 * line on stdout when it is done:
 *   {"workload":"w2","ops":N,"secs":S,"ops_per_s":R,"workers":W,...}
 * ops is the exact number of completed operations; the harness compares it
 * with the records the sensor wrote.  cpu_s is the CPU time (user + system)
 * of the driver and every process it waited for: the in-kernel cost of a
 * sensor lands there, while other load on the machine mostly does not.  Workers report their counts through a
 * shared anonymous mapping, so nothing is lost when one of them dies.
 */
#ifndef VIGIL_BENCH_H
#define VIGIL_BENCH_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_WORKERS 64

struct bench_opts {
	double secs;       /* time bound of the measured loop */
	uint64_t max_ops;  /* count bound, over all workers */
	unsigned workers;
	const char *token; /* unique marker the harness matches records on */
	const char *exe;   /* w2: the binary to execute */
	const char *mode;  /* w3: accept | refused; w5: v1 | v2 | auto */
	unsigned bursts;   /* w6 */
	double idle;       /* w6: seconds between bursts */
};

/* per-worker results, in a MAP_SHARED page the workers write into */
struct bench_slot {
	uint64_t ops;
	uint64_t other; /* attempts that ended otherwise (unexpected errno, ...) */
	int64_t t0, t1; /* CLOCK_MONOTONIC ns of the worker's first and last op */
};

static inline int64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void bench_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--secs S] [--max-ops N] [--workers W] [--token T] [--exe PATH]\n"
		"          [--mode M] [--bursts N] [--idle S]\n",
		prog);
	exit(2);
}

static inline void bench_parse(int argc, char **argv, struct bench_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			bench_usage(argv[0]);
		if (!strcmp(k, "--secs"))
			o->secs = strtod(v, NULL);
		else if (!strcmp(k, "--max-ops"))
			o->max_ops = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--workers"))
			o->workers = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--token"))
			o->token = v;
		else if (!strcmp(k, "--exe"))
			o->exe = v;
		else if (!strcmp(k, "--mode"))
			o->mode = v;
		else if (!strcmp(k, "--bursts"))
			o->bursts = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--idle"))
			o->idle = strtod(v, NULL);
		else
			bench_usage(argv[0]);
		i++;
	}
	if (o->workers < 1)
		o->workers = 1;
	if (o->workers > BENCH_MAX_WORKERS)
		o->workers = BENCH_MAX_WORKERS;
	if (o->secs <= 0 || o->secs > 3600)
		o->secs = 5;
	if (!o->max_ops)
		o->max_ops = 100000000;
}

static inline struct bench_slot *bench_slots(unsigned n)
{
	void *p = mmap(NULL, n * sizeof(struct bench_slot), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(p, 0, n * sizeof(struct bench_slot));
	return p;
}

/*
 * Fork o->workers processes running fn(o, index, slot, deadline, ops_cap)
 * and wait for all of them.  ops_cap is each worker's share of max_ops.
 * Returns the number of workers that did not exit 0.
 */
typedef void (*bench_worker_fn)(const struct bench_opts *o, unsigned idx, struct bench_slot *s,
				int64_t deadline, uint64_t cap);

static inline int bench_run_workers(const struct bench_opts *o, struct bench_slot *slots,
				    bench_worker_fn fn)
{
	pid_t pids[BENCH_MAX_WORKERS];
	int64_t deadline = bench_now() + (int64_t)(o->secs * 1e9);
	uint64_t cap = o->max_ops / o->workers;
	int bad = 0;

	if (!cap)
		cap = 1;
	for (unsigned i = 0; i < o->workers; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			exit(1);
		}
		if (pids[i] == 0) {
			fn(o, i, &slots[i], deadline, cap);
			_exit(0);
		}
	}
	for (unsigned i = 0; i < o->workers; i++) {
		int st;

		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	}
	return bad;
}

/* CPU seconds of this process and of all its waited-for descendants */
static inline double bench_cpu_s(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
			kids.ru_stime.tv_sec) +
	       (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
			kids.ru_stime.tv_usec) /
		       1e6;
}

/* The common fields of the result line; the caller adds its own and "}\n". */
static inline void bench_print_head(const char *workload, const struct bench_opts *o,
				    const struct bench_slot *slots)
{
	uint64_t ops = 0, other = 0;
	int64_t t0 = INT64_MAX, t1 = 0;

	for (unsigned i = 0; i < o->workers; i++) {
		ops += slots[i].ops;
		other += slots[i].other;
		if (slots[i].ops && slots[i].t0 < t0)
			t0 = slots[i].t0;
		if (slots[i].t1 > t1)
			t1 = slots[i].t1;
	}
	double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	printf("{\"workload\":\"%s\",\"ops\":%llu,\"other\":%llu,\"secs\":%.6f,"
	       "\"ops_per_s\":%.1f,\"cpu_s\":%.6f,\"workers\":%u,\"pid\":%d,\"t0\":%lld,"
	       "\"t1\":%lld",
	       workload, (unsigned long long)ops, (unsigned long long)other, secs,
	       secs > 0 ? (double)ops / secs : 0.0, bench_cpu_s(), o->workers, (int)getpid(),
	       (long long)(t0 == INT64_MAX ? 0 : t0), (long long)t1);
}

/*
 * A socket of the given type bound to 127.0.0.1 on a port the kernel picks;
 * *addr is where it is bound.  Returns the fd, or exits.
 */
static inline int bench_bind_loopback(int type, struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	socklen_t alen = sizeof(*addr);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) ||
	    getsockname(fd, (struct sockaddr *)addr, &alen)) {
		perror("bind 127.0.0.1");
		exit(1);
	}
	return fd;
}

#endif
