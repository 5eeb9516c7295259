// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"

#include "vigil/metrics.h"

static int classify(const char *req, size_t cap)
{
	int head;

	return vg_metrics_classify(req, strlen(req), cap, &head);
}

static void test_classify(void **state)
{
	int head = 0;
	const char *get = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9464\r\nAccept: */*\r\n\r\n";

	assert_int_equal(vg_metrics_classify(get, strlen(get), 8192, &head), 200);
	assert_int_equal(head, 0);
	assert_int_equal(vg_metrics_classify("HEAD /metrics HTTP/1.0\r\n\r\n", 26, 8192, &head), 200);
	assert_int_equal(head, 1);
	assert_int_equal(classify("GET /metrics?name[]=x HTTP/1.1\r\n\r\n", 8192), 200);
	assert_int_equal(classify("GET / HTTP/1.1\r\n\r\n", 8192), 404);
	assert_int_equal(classify("GET /metricsX HTTP/1.1\r\n\r\n", 8192), 404);
	assert_int_equal(classify("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n", 8192), 405);
	assert_int_equal(classify("DELETE /metrics HTTP/1.1\r\n\r\n", 8192), 405);
	/* incomplete: wait for more */
	assert_int_equal(classify("GET /metrics HTTP/1.1\r\n", 8192), 0);
	assert_int_equal(classify("GE", 8192), 0);
	/* no CRLF: bare LF line ends are malformed */
	assert_int_equal(classify("GET /metrics HTTP/1.1\n\n", 8192), 400);
	assert_int_equal(classify("GET /metrics HTTP/1.1\r\nHost: x\n", 8192), 400);
	assert_int_equal(classify("GET /metrics HTTP/1.1\rX", 8192), 400);
	/* malformed request lines */
	assert_int_equal(classify("GET  /metrics HTTP/1.1\r\n\r\n", 8192), 400);
	assert_int_equal(classify("GET /metrics\r\n\r\n", 8192), 400);
	assert_int_equal(classify("GET /metrics HTTP/2.0\r\n\r\n", 8192), 400);
	assert_int_equal(classify("GET /metrics HTTP/1.1 extra\r\n\r\n", 8192), 400);
	assert_int_equal(classify("G(T /metrics HTTP/1.1\r\n\r\n", 8192), 400);
	assert_int_equal(classify("\r\n\r\n", 8192), 400);
	/* malformed headers */
	assert_int_equal(classify("GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n", 8192), 400);
	assert_int_equal(classify("GET /metrics HTTP/1.1\r\n: empty-name\r\n\r\n", 8192), 400);
	assert_int_equal(classify("GET /metrics HTTP/1.1\r\nX: a\x1b[2Jb\r\n\r\n", 8192), 400);
	char nul[] = "GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n";
	assert_int_equal(vg_metrics_classify(nul, sizeof(nul) - 1, 8192, &head), 400);
	/* what follows the blank line (a body, a pipelined request) is not
	 * the head's: bare LFs, lone CRs and NULs there are no error */
	char body[] = "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\na\nb\0\r";
	assert_int_equal(vg_metrics_classify(body, sizeof(body) - 1, 8192, &head), 200);
	char post[] = "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n\0\n\x01";
	assert_int_equal(vg_metrics_classify(post, sizeof(post) - 1, 8192, &head), 405);
	/* huge: no end of headers within the cap */
	static char big[9000];
	memcpy(big, "GET /metrics HTTP/1.1\r\nX-Pad: ", 30);
	memset(big + 30, 'a', sizeof(big) - 31);
	assert_int_equal(vg_metrics_classify(big, 8192, 8192, &head), 431);
}

static void test_parse_addr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char s[64];
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

	assert_int_equal(vg_metrics_parse_addr("9464", &ss, &sl), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	inet_ntop(AF_INET, &s4->sin_addr, s, sizeof(s));
	assert_string_equal(s, "127.0.0.1"); /* a bare port is loopback only */
	assert_int_equal(ntohs(s4->sin_port), 9464);
	assert_int_equal(vg_metrics_parse_addr(":9100", &ss, &sl), 0);
	inet_ntop(AF_INET, &s4->sin_addr, s, sizeof(s));
	assert_string_equal(s, "127.0.0.1");
	assert_int_equal(vg_metrics_parse_addr("0.0.0.0:9100", &ss, &sl), 0);
	inet_ntop(AF_INET, &s4->sin_addr, s, sizeof(s));
	assert_string_equal(s, "0.0.0.0");
	assert_int_equal(vg_metrics_parse_addr("[::1]:9100", &ss, &sl), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(vg_metrics_parse_addr("localhost:1", &ss, &sl), 0);
	assert_int_equal(vg_metrics_parse_addr("", &ss, &sl), -EINVAL);
	assert_int_equal(vg_metrics_parse_addr("99999", &ss, &sl), -EINVAL);
	assert_int_equal(vg_metrics_parse_addr("example.com:80", &ss, &sl), -EINVAL);
	assert_int_equal(vg_metrics_parse_addr("::1:80", &ss, &sl), -EINVAL);
	assert_int_equal(vg_metrics_parse_addr("1.2.3.4:", &ss, &sl), -EINVAL);
}

static struct vg_stats *st;
static struct vg_metrics *srv;

static int start(void **state)
{
	struct vg_metrics_opts o = { .addr = "127.0.0.1:0", .read_timeout_ms = 100,
				     .max_request = 1024, .max_conns = 4 };

	if (vg_stats_new(&st))
		return -1;
	vg_stats_event(st, 1);
	return vg_metrics_new(&o, st, &srv);
}

/* Idle clients keep their slots far longer than any test runs. */
static int start_patient(void **state)
{
	struct vg_metrics_opts o = { .addr = "127.0.0.1:0", .read_timeout_ms = 60000 };

	if (vg_stats_new(&st))
		return -1;
	vg_stats_event(st, 1);
	return vg_metrics_new(&o, st, &srv); /* max_conns 0: the default, 16 */
}

/* Four slots, idle clients keep theirs far longer than any test runs. */
static int start_small_patient(void **state)
{
	struct vg_metrics_opts o = { .addr = "127.0.0.1:0", .read_timeout_ms = 60000,
				     .max_conns = 4 };

	if (vg_stats_new(&st))
		return -1;
	vg_stats_event(st, 1);
	return vg_metrics_new(&o, st, &srv);
}

static int stop(void **state)
{
	vg_metrics_free(&srv);
	vg_stats_free(&st);
	return 0;
}

static int dial_port(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int dial(void)
{
	return dial_port(vg_metrics_port(srv));
}

/* Everything the server sends until it closes (bounded wait). */
static size_t slurp(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (n + 1 < cap && poll(&p, 1, 5000) == 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

static void exchange(const char *req, size_t len, char *resp, size_t cap)
{
	int fd = dial();

	if (len)
		assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	slurp(fd, resp, cap);
	close(fd);
}

static void test_scrape(void **state)
{
	static char resp[65536];
	const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

	exchange(req, strlen(req), resp, sizeof(resp));
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
	assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(resp, "\nvigil_events_total{type=\"exec\"} 1\n"));
	/* Content-Length matches the body */
	char *body = strstr(resp, "\r\n\r\n");
	size_t clen = strtoul(strstr(resp, "Content-Length: ") + 16, NULL, 10);
	assert_non_null(body);
	assert_int_equal(strlen(body + 4), clen);
}

static void test_errors_over_the_wire(void **state)
{
	static char resp[8192];
	static char huge[4096];

	exchange("GET /admin HTTP/1.1\r\n\r\n", 23, resp, sizeof(resp));
	assert_memory_equal(resp, "HTTP/1.1 404 ", 13);
	exchange("PUT /metrics HTTP/1.1\r\n\r\n", 25, resp, sizeof(resp));
	assert_memory_equal(resp, "HTTP/1.1 405 ", 13);
	assert_non_null(strstr(resp, "Allow: GET, HEAD\r\n"));
	exchange("GET /metrics HTTP/1.1\n\n", 23, resp, sizeof(resp));
	assert_memory_equal(resp, "HTTP/1.1 400 ", 13);
	/* huge request: answered 431 once the cap is reached, never read on */
	memset(huge, 'A', sizeof(huge));
	memcpy(huge, "GET /metrics HTTP/1.1\r\nX: ", 26);
	int fd = dial();
	send(fd, huge, sizeof(huge), MSG_NOSIGNAL);
	slurp(fd, resp, sizeof(resp));
	close(fd);
	assert_memory_equal(resp, "HTTP/1.1 431 ", 13);
}

/* A client that sends half a request and waits: timed out with 408. */
static void test_slowloris(void **state)
{
	static char resp[4096];

	exchange("GET /metr", 9, resp, sizeof(resp));
	assert_memory_equal(resp, "HTTP/1.1 408 ", 13);
	/* one that sends nothing at all, too */
	exchange(NULL, 0, resp, sizeof(resp));
	assert_memory_equal(resp, "HTTP/1.1 408 ", 13);
	/* and the server still answers the next scrape */
	const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
	exchange(req, strlen(req), resp, sizeof(resp));
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
}

/* More idle connections than max_conns, then gone: the server keeps
 * serving throughout. */
static void test_connection_cap(void **state)
{
	static char resp[65536];
	int idle[6];

	for (int i = 0; i < 6; i++)
		idle[i] = dial();
	const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
	exchange(req, strlen(req), resp, sizeof(resp));
	/* served: an idle one makes room (at once, or after a poll round) */
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
	for (int i = 0; i < 6; i++)
		close(idle[i]);
	for (int i = 0; i < 100; i++) {
		exchange(req, strlen(req), resp, sizeof(resp));
		if (resp[0])
			break;
		usleep(20000);
	}
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
}

/* A full table of idle connections (each keeps its slot until its
 * deadline) does not refuse the scraper: the oldest idle one makes room and
 * sees its connection closed; the others keep theirs. */
static void test_idle_connections_make_room(void **state)
{
	static char resp[65536];
	const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
	struct pollfd p[16];
	int closed = 0;

	for (int i = 0; i < 16; i++)
		p[i] = (struct pollfd){ .fd = dial(), .events = POLLIN };
	exchange(req, strlen(req), resp, sizeof(resp));
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
	/* the room was made before the answer: the close is already on its way */
	assert_true(poll(p, 16, 5000) >= 1);
	for (int i = 0; i < 16; i++) {
		char b;

		if (p[i].revents) {
			assert_true(recv(p[i].fd, &b, 1, MSG_DONTWAIT) <= 0); /* EOF or reset */
			closed++;
		}
		close(p[i].fd);
	}
	assert_int_equal(closed, 1);
}

/* Everything until the server's close; *last gets the last read's result
 * (0: a FIN, -1: errno, e.g. ECONNRESET). */
static size_t slurp_end(int fd, char *buf, size_t cap, ssize_t *last, int *err)
{
	size_t n = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	*last = -2;
	*err = 0;
	while (n + 1 < cap && poll(&p, 1, 5000) == 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);

		*last = r;
		if (r <= 0) {
			*err = r < 0 ? errno : 0;
			break;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

/* A request followed by more than the server reads (a body; the rest of
 * an oversized head): the answer comes whole and the close is a FIN, not
 * the reset that unread input would make. */
static void test_answer_then_fin(void **state)
{
	static char req[8192], resp[4096];
	const char *put = "PUT /metrics HTTP/1.1\r\nContent-Length: 6000\r\n\r\n";
	ssize_t last;
	int err;

	for (int i = 0; i < 2; i++) {
		int fd = dial();

		memset(req, 'A', sizeof(req));
		if (i == 0)
			memcpy(req, put, strlen(put));
		else
			memcpy(req, "GET /metrics HTTP/1.1\r\nX: ", 26);
		assert_int_equal(send(fd, req, sizeof(req), MSG_NOSIGNAL), (ssize_t)sizeof(req));
		shutdown(fd, SHUT_WR);
		slurp_end(fd, resp, sizeof(resp), &last, &err);
		close(fd);
		assert_memory_equal(resp, i == 0 ? "HTTP/1.1 405 " : "HTTP/1.1 431 ", 13);
		assert_int_equal(err, 0);
		assert_int_equal(last, 0);
	}
}

/* A burst of connections bigger than the table, all accepted in one batch
 * behind a scraper's whose request came with it: the scraper is answered
 * (read at its accept), not closed unread to make room. */
static void test_burst_keeps_scraper(void **state)
{
	static char resp[65536];
	const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
	int pipefd[2], port = 0, idle[9];
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* stopped or not, gone with the test */
		struct vg_metrics_opts o = { .addr = "127.0.0.1:0", .read_timeout_ms = 60000,
					     .max_conns = 4 };
		struct vg_stats *cst;
		struct vg_metrics *csrv;

		if (vg_stats_new(&cst) || vg_metrics_new(&o, cst, &csrv))
			_exit(1);
		port = vg_metrics_port(csrv);
		if (write(pipefd[1], &port, sizeof(port)) != sizeof(port))
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &port, sizeof(port)), (ssize_t)sizeof(port));
	close(pipefd[0]);
	/* a full table of idle connections, each taken in */
	for (int i = 0; i < 4; i++)
		idle[i] = dial_port(port);
	usleep(200000);
	/* with the server stopped, the scraper and five more queue up */
	kill(pid, SIGSTOP);
	int fd = dial_port(port);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	for (int i = 4; i < 9; i++)
		idle[i] = dial_port(port);
	kill(pid, SIGCONT);
	slurp(fd, resp, sizeof(resp));
	close(fd);
	for (int i = 0; i < 9; i++)
		close(idle[i]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
}

/* A full table: a connection whose answer is out (its client keeps it
 * open) makes room before the idle ones, which keep theirs. */
static void test_answered_makes_room_first(void **state)
{
	static char resp[65536];
	const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
	struct pollfd p[3];
	int done = dial();

	assert_int_equal(send(done, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	slurp(done, resp, sizeof(resp)); /* to the server's FIN; ours is not sent */
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
	for (int i = 0; i < 3; i++)
		p[i] = (struct pollfd){ .fd = dial(), .events = POLLIN };
	usleep(100000); /* taken in: a full table of 4 */
	exchange(req, strlen(req), resp, sizeof(resp));
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
	assert_int_equal(poll(p, 3, 200), 0); /* no idle one was closed */
	for (int i = 0; i < 3; i++)
		close(p[i].fd);
	close(done);
}

/* Out of file descriptors, the listener rests instead of spinning on a
 * connection it cannot accept, and takes it once descriptors are free. */
static void test_out_of_descriptors_rests(void **state)
{
	static char resp[65536];
	const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)vg_metrics_port(srv)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	double cpu;

	assert_true(fd >= 0);
	cpu = fixture_starved_connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	printf("# 0.5 s out of descriptors: %.3f s of CPU\n", cpu);
	assert_true(cpu >= 0);
	/* a spinning listener burns most of the half second */
	assert_true(cpu < 0.1);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	slurp(fd, resp, sizeof(resp));
	close(fd);
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
}

/* With no connection, the server's thread sleeps until one comes or stop:
 * no timer (a 100 ms one would wake it about six times here). */
static void test_idle_server_sleeps(void **state)
{
	struct timespec ts = {.tv_nsec = 300 * 1000000L};

	nanosleep(&ts, NULL);
	long before = fixture_other_threads_switches();
	nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);
	long woke = fixture_other_threads_switches() - before;
	assert_true(before >= 0);
	assert_true(woke <= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test_setup_teardown(test_scrape, start, stop),
		cmocka_unit_test_setup_teardown(test_errors_over_the_wire, start, stop),
		cmocka_unit_test_setup_teardown(test_slowloris, start, stop),
		cmocka_unit_test_setup_teardown(test_connection_cap, start, stop),
		cmocka_unit_test_setup_teardown(test_idle_connections_make_room, start_patient,
						stop),
		cmocka_unit_test_setup_teardown(test_idle_server_sleeps, start, stop),
		cmocka_unit_test_setup_teardown(test_answer_then_fin, start, stop),
		cmocka_unit_test(test_burst_keeps_scraper),
		cmocka_unit_test_setup_teardown(test_answered_makes_room_first, start_small_patient,
						stop),
		cmocka_unit_test_setup_teardown(test_out_of_descriptors_rests, start, stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
