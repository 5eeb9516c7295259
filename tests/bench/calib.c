/*
 * calib: two costs of this machine that every sensor pays, measured with
 * no sensor involved, so that the agent's own numbers can be read against
 * them:
 *   - an idle wakeup: the CPU time of one epoll_wait() that sleeps out a
 *     10 ms timeout with nothing to do (what a drain timer costs before any
 *     record is handled);
 *   - a buffered write to a log file: the CPU time per 4 KiB page of
 *     appending new data (the kernel allocates a page-cache page, and on a
 *     virtual machine whose host takes freed memory back, the first touch
 *     of that page faults in the host), against rewriting pages the file
 *     already has in the page cache (a copy alone).
 *
 *   calib DIR [--wakeups N] [--mib M]
 * Writes DIR/calib.tmp (removed after), prints one JSON line.  Bounded: N
 * wakeups of 10 ms (default 200: 2 s), M MiB written twice (default 64).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU ns per 4 KiB page of writing mib MiB at offset 0 of fd in CHUNK writes */
static double write_pass(int fd, const char *buf, size_t mib)
{
	size_t total = mib << 20;
	int64_t t0 = thread_cpu_ns();

	for (size_t off = 0; off < total; off += CHUNK) {
		if (pwrite(fd, buf, CHUNK, (off_t)off) != CHUNK) {
			perror("calib: pwrite");
			exit(1);
		}
	}
	return (double)(thread_cpu_ns() - t0) / (double)(total / 4096);
}

int main(int argc, char **argv)
{
	long wakeups = 200, mib = 64;
	char path[4096];
	struct epoll_event ev;
	static char buf[CHUNK];

	if (argc < 2) {
		fprintf(stderr, "usage: calib DIR [--wakeups N] [--mib M]\n");
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--wakeups"))
			wakeups = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--mib"))
			mib = atol(argv[i + 1]);
	}
	if (wakeups < 1 || wakeups > 100000 || mib < 1 || mib > 4096) {
		fprintf(stderr, "calib: --wakeups 1..100000, --mib 1..4096\n");
		return 2;
	}

	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("calib: epoll_create1");
		return 1;
	}
	int64_t t0 = thread_cpu_ns();
	for (long i = 0; i < wakeups; i++)
		epoll_wait(ep, &ev, 1, 10);
	double wake_ns = (double)(thread_cpu_ns() - t0) / (double)wakeups;
	close(ep);

	/* JSON-like bytes, lines of 480 */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = i % 480 == 479 ? '\n' : 'x';
	snprintf(path, sizeof(path), "%s/calib.tmp", argv[1]);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror("calib: open");
		return 1;
	}
	double fresh = write_pass(fd, buf, (size_t)mib);
	double again = write_pass(fd, buf, (size_t)mib);
	close(fd);
	unlink(path);

	printf("{\"wakeup_cpu_ns\":%.0f,\"wakeups\":%ld,\"append_ns_per_page\":%.0f,"
	       "\"rewrite_ns_per_page\":%.0f,\"mib\":%ld}\n",
	       wake_ns, wakeups, fresh, again, mib);
	return 0;
}
