/*
 * W3 connect storm on 127.0.0.1 only.
 *   --mode accept:  a listener bound to 127.0.0.1:0 with acceptor threads
 *                   that accept and close; each worker op is connect(),
 *                   then close() with SO_LINGER 0 (a reset, so no
 *                   TIME_WAIT piles up and ephemeral ports never run out).
 *   --mode refused: a TCP socket bound to 127.0.0.1:0 that never listens;
 *                   each op is a connect() that fails with ECONNREFUSED.
 * "port" in the result line is the destination every attempt used; "ops" +
 * "other" is the exact number of connect() calls made.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "bench.h"

static struct sockaddr_in g_dst;
static int g_refused;

static void worker(const struct bench_opts *o, unsigned idx, struct bench_slot *s,
		   int64_t deadline, uint64_t cap)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	uint64_t n = 0, other = 0;

	s->t0 = bench_now();
	while (n + other < cap && bench_now() < deadline) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			perror("socket");
			_exit(1);
		}
		int r = connect(fd, (struct sockaddr *)&g_dst, sizeof(g_dst));
		int e = errno;
		if (g_refused ? (r < 0 && e == ECONNREFUSED) : r == 0)
			n++;
		else
			other++;
		if (!g_refused)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	s->t1 = bench_now();
	s->ops = n;
	s->other = other;
}

static volatile int g_stop_accept;

static void *acceptor(void *arg)
{
	int lfd = *(int *)arg;

	while (!g_stop_accept) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.workers = 2, .secs = 5, .mode = "accept"};
	pthread_t th[2];
	int nth = 0;

	bench_parse(argc, argv, &o);
	g_refused = !strcmp(o.mode, "refused");
	if (!g_refused && strcmp(o.mode, "accept")) {
		fprintf(stderr, "w3_connect: --mode accept|refused\n");
		return 2;
	}
	int lfd = bench_bind_loopback(SOCK_STREAM, &g_dst);
	if (!g_refused) {
		/* a timeout lets the acceptors notice the end of the run */
		struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
		setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (listen(lfd, 4096)) {
			perror("listen");
			return 1;
		}
		for (nth = 0; nth < 2; nth++)
			if (pthread_create(&th[nth], NULL, acceptor, &lfd))
				break;
	}
	struct bench_slot *slots = bench_slots(o.workers);
	int bad = bench_run_workers(&o, slots, worker);
	g_stop_accept = 1;
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	close(lfd);
	bench_print_head(g_refused ? "w3_refused" : "w3_accept", &o, slots);
	printf(",\"port\":%u,\"failed_workers\":%d}\n", ntohs(g_dst.sin_port), bad);
	return bad ? 1 : 0;
}
