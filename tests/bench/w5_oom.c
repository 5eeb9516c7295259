/*
 * W5 OOM loop: a memory cgroup with a small limit (8 MiB) and, per op, a
 * child that joins it and touches memory until the kernel's OOM killer
 * kills it.  One op = one child killed by SIGKILL.  The result line lists
 * the victims' pids and when the driver reaped each (CLOCK_MONOTONIC), so
 * the harness can find each victim's oom record and its latency.
 *
 *   --mode v1:   /sys/fs/cgroup/memory/<name> (memory.limit_in_bytes)
 *   --mode v2:   <cgroup2 root>/<name> (memory.max, memory.swap.max = 0)
 *   --mode auto: v2 when the memory controller is enabled there, else v1
 * The child gives up after 1 GiB (it exits 3: not an op), so a cgroup that
 * does not limit cannot exhaust the host.  Runs in one process: --workers
 * is ignored.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "bench.h"

#define LIMIT (8u << 20)
#define MAX_VICTIMS 4096

static int write_file(const char *dir, const char *name, const char *val)
{
	char p[512];
	int fd, r = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int has_word(const char *path, const char *word)
{
	char buf[512] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
		if (!strcmp(t, word))
			return 1;
	return 0;
}

static void child(const char *dir)
{
	char *chunks[1024];

	if (write_file(dir, "cgroup.procs", "0"))
		_exit(4);
	for (unsigned i = 0; i < 1024; i++) {
		chunks[i] = malloc(1 << 20);
		if (!chunks[i])
			_exit(5);
		/* touch every page: only resident memory is charged */
		for (unsigned off = 0; off < (1u << 20); off += 4096)
			chunks[i][off] = (char)off;
	}
	_exit(3);
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.workers = 1, .secs = 30, .max_ops = 10, .mode = "auto"};
	static pid_t victims[MAX_VICTIMS];
	static int64_t reaped[MAX_VICTIMS];
	char dir[256], val[64];
	const char *v2root = NULL, *ver;
	int n = 0, other = 0;

	bench_parse(argc, argv, &o);
	if (o.max_ops > MAX_VICTIMS)
		o.max_ops = MAX_VICTIMS;
	if (has_word("/sys/fs/cgroup/cgroup.controllers", "memory"))
		v2root = "/sys/fs/cgroup";
	else if (has_word("/sys/fs/cgroup/unified/cgroup.controllers", "memory"))
		v2root = "/sys/fs/cgroup/unified";
	if (!strcmp(o.mode, "v2") || (!strcmp(o.mode, "auto") && v2root)) {
		if (!v2root) {
			fprintf(stderr, "w5_oom: no cgroup v2 memory controller\n");
			return 2;
		}
		ver = "v2";
		snprintf(dir, sizeof(dir), "%s/vgb-oom-%s", v2root, o.token ? o.token : "x");
	} else {
		ver = "v1";
		snprintf(dir, sizeof(dir), "/sys/fs/cgroup/memory/vgb-oom-%s",
			 o.token ? o.token : "x");
	}
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "w5_oom: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(val, sizeof(val), "%u", LIMIT);
	int r = !strcmp(ver, "v2") ? write_file(dir, "memory.max", val)
				   : write_file(dir, "memory.limit_in_bytes", val);
	if (r) {
		fprintf(stderr, "w5_oom: set limit in %s: %s\n", dir, strerror(-r));
		rmdir(dir);
		return 1;
	}
	if (!strcmp(ver, "v2"))
		write_file(dir, "memory.swap.max", "0");
	else
		write_file(dir, "memory.swappiness", "0");

	int64_t t0 = bench_now(), deadline = t0 + (int64_t)(o.secs * 1e9);
	while ((uint64_t)n < o.max_ops && bench_now() < deadline) {
		pid_t p = fork();
		int st;

		if (p < 0) {
			perror("fork");
			break;
		}
		if (p == 0)
			child(dir);
		while (waitpid(p, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
			victims[n] = p;
			reaped[n] = bench_now();
			n++;
		} else {
			other++;
		}
	}
	int64_t t1 = bench_now();
	/* the cgroup is empty once every child is reaped */
	for (int i = 0; i < 50 && rmdir(dir) && errno == EBUSY; i++)
		usleep(20000);

	double secs = (double)(t1 - t0) / 1e9;
	printf("{\"workload\":\"w5\",\"ops\":%d,\"other\":%d,\"secs\":%.6f,\"ops_per_s\":%.2f,"
	       "\"cpu_s\":%.6f,\"workers\":1,\"pid\":%d,\"cgroup\":\"%s\",\"limit\":%u,"
	       "\"victims\":[",
	       n, other, secs, secs > 0 ? n / secs : 0.0, bench_cpu_s(), (int)getpid(), ver, LIMIT);
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", (int)victims[i]);
	printf("],\"reaped\":[");
	for (int i = 0; i < n; i++)
		printf("%s%lld", i ? "," : "", (long long)reaped[i]);
	printf("]}\n");
	return 0;
}
