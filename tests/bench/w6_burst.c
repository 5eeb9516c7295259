/*
 * W6 burst: --bursts times, about --max-ops events (default 100,000) as
 * fast as the workers can make them, then --idle seconds of nothing.  An
 * event is one connect() of a UDP socket to 127.0.0.1:PORT (a port the
 * driver holds bound): it sends no packet, costs a route lookup, and
 * produces exactly one sensor record, which makes it the cheapest way to
 * raise the event rate.  With --mode paced the events of a burst are spread
 * over one second (the "100,000 events within about a second");
 * --mode flat (the default) makes them as fast as the workers can.
 * Each burst is also bounded by --secs.  "ops" + "other" is the exact
 * number of connect() calls over all bursts.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bench.h"

static struct sockaddr_in g_dst;
static int64_t g_pace_ns; /* 0: as fast as possible */

static void worker(const struct bench_opts *o, unsigned idx, struct bench_slot *s,
		   int64_t deadline, uint64_t cap)
{
	uint64_t n = 0, other = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		perror("socket");
		_exit(1);
	}
	s->t0 = bench_now();
	while (n + other < cap && bench_now() < deadline) {
		/* a UDP socket may be connected again and again */
		if (connect(fd, (struct sockaddr *)&g_dst, sizeof(g_dst)) == 0)
			n++;
		else
			other++;
		/* paced: keep to an even schedule over the burst */
		if (g_pace_ns && (n + other) % 1000 == 0) {
			int64_t due = s->t0 + (int64_t)((double)(n + other) / (double)cap * g_pace_ns);
			int64_t now = bench_now();
			if (due > now) {
				struct timespec ts = {.tv_sec = (due - now) / 1000000000,
						      .tv_nsec = (due - now) % 1000000000};
				nanosleep(&ts, NULL);
			}
		}
	}
	s->t1 = bench_now();
	s->ops = n;
	s->other = other;
	close(fd);
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
		.workers = 2, .secs = 5, .max_ops = 100000, .bursts = 3, .idle = 2};

	bench_parse(argc, argv, &o);
	if (o.bursts < 1 || o.bursts > 100)
		o.bursts = 3;
	if (o.idle < 0 || o.idle > 60)
		o.idle = 2;
	if (o.mode && !strcmp(o.mode, "paced"))
		g_pace_ns = 1000000000;
	/* hold the port, so every datagram (none is sent) would be ours */
	int lfd = bench_bind_loopback(SOCK_DGRAM, &g_dst);

	uint64_t ops = 0, other = 0;
	double busy = 0, worst = 0;
	int bad = 0;
	printf("{\"workload\":\"w6\",\"bursts\":[");
	for (unsigned b = 0; b < o.bursts; b++) {
		struct bench_slot *slots = bench_slots(o.workers);
		uint64_t bo = 0, bx = 0;
		int64_t t0 = INT64_MAX, t1 = 0;

		bad += bench_run_workers(&o, slots, worker);
		for (unsigned i = 0; i < o.workers; i++) {
			bo += slots[i].ops;
			bx += slots[i].other;
			if (slots[i].t0 < t0)
				t0 = slots[i].t0;
			if (slots[i].t1 > t1)
				t1 = slots[i].t1;
		}
		munmap(slots, o.workers * sizeof(*slots));
		double secs = (double)(t1 - t0) / 1e9;
		printf("%s{\"ops\":%llu,\"other\":%llu,\"secs\":%.6f,\"t0\":%lld,\"t1\":%lld}",
		       b ? "," : "", (unsigned long long)bo, (unsigned long long)bx, secs,
		       (long long)t0, (long long)t1);
		ops += bo;
		other += bx;
		busy += secs;
		if (secs > worst)
			worst = secs;
		if (b + 1 < o.bursts) {
			struct timespec ts = {.tv_sec = (time_t)o.idle,
					      .tv_nsec = (long)((o.idle - (time_t)o.idle) * 1e9)};
			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
		}
	}
	printf("],\"ops\":%llu,\"other\":%llu,\"secs\":%.6f,\"ops_per_s\":%.1f,"
	       "\"cpu_s\":%.6f,\"worst_burst_s\":%.6f,\"workers\":%u,\"pid\":%d,\"port\":%u,"
	       "\"failed_workers\":%d}\n",
	       (unsigned long long)ops, (unsigned long long)other, busy,
	       busy > 0 ? (double)ops / busy : 0.0, bench_cpu_s(), worst, o.workers, (int)getpid(),
	       ntohs(g_dst.sin_port), bad);
	close(lfd);
	return bad ? 1 : 0;
}
