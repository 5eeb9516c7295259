/*
 * The harness's tail reader: follows a file that another process appends
 * JSON lines to and writes, for every complete line, the CLOCK_MONOTONIC
 * time at which it was read (one decimal number per line, in order).  The
 * harness pairs line i of the file with line i of this output and
 * subtracts the record's vigil.ts_mono: event-to-output latency.
 *
 *   tailts FILE OUT [MAX_SECS]
 * Waits for FILE to appear, reads with inotify, stops on SIGINT/SIGTERM
 * (after one last read) or after MAX_SECS (default 900).
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>

#include "bench.h"

static volatile sig_atomic_t g_stop;

static void on_sig(int s)
{
	(void)s;
	g_stop = 1;
}

static void drain(int fd, FILE *out)
{
	static char buf[1 << 16];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		long long now = (long long)bench_now();
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n')
				fprintf(out, "%lld\n", now);
	}
	fflush(out);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_sig};
	int fd = -1, in;

	if (argc < 3) {
		fprintf(stderr, "usage: tailts FILE OUT [MAX_SECS]\n");
		return 2;
	}
	double max = argc > 3 ? strtod(argv[3], NULL) : 900;
	int64_t end = bench_now() + (int64_t)(max * 1e9);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	FILE *out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	while (fd < 0 && !g_stop && bench_now() < end) {
		fd = open(argv[1], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			usleep(1000);
	}
	if (fd < 0)
		return 1;
	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in < 0 || inotify_add_watch(in, argv[1], IN_MODIFY) < 0) {
		perror("inotify");
		return 1;
	}
	drain(fd, out);
	while (!g_stop && bench_now() < end) {
		struct pollfd p = {.fd = in, .events = POLLIN};
		char ev[4096];

		if (poll(&p, 1, 100) > 0)
			while (read(in, ev, sizeof(ev)) > 0)
				;
		drain(fd, out);
	}
	drain(fd, out);
	fclose(out);
	return 0;
}
