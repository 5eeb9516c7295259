// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"

#include "vigil/tail.h"

static char dir[32], sock[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/vg-tail-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/run/vigil.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	vg_tail_bind_hook = NULL; /* a failed test returns before it does */
	vg_tail_idle_hook = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_filter_roundtrip(void **state)
{
	struct vg_tail_filter f = { 0 }, g;
	char line[VG_TAIL_FILTER_MAX + 1], err[128];
	int n;

	snprintf(f.container, sizeof(f.container), "web app=%%\n");
	snprintf(f.rule, sizeof(f.rule), "shell_in_service_container");
	f.min_sev = VG_OUT_SEV_HIGH;
	f.alerts_only = true;
	f.since_s = 30;
	f.view = true;
	n = vg_tail_filter_format(&f, line, sizeof(line));
	assert_true(n > 0);
	assert_int_equal(line[n - 1], '\n');
	/* hostile bytes are encoded: the line stays one line of tokens */
	assert_null(memchr(line, '\n', (size_t)n - 1));
	assert_non_null(strstr(line, "container=web%20app%3D%25%0A "));
	line[n - 1] = '\0';
	assert_int_equal(vg_tail_filter_parse(line, &g, err, sizeof(err)), 0);
	assert_string_equal(g.container, f.container);
	assert_string_equal(g.rule, f.rule);
	assert_int_equal(g.min_sev, VG_OUT_SEV_HIGH);
	assert_true(g.alerts_only);
	assert_true(g.view);
	assert_false(g.stats);
	assert_int_equal(g.since_s, 30);
}

static void test_filter_parse_rejects(void **state)
{
	struct vg_tail_filter f;
	char err[128];

	assert_int_equal(vg_tail_filter_parse("GET / HTTP/1.0", &f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a vigil tail client"));
	assert_int_equal(vg_tail_filter_parse("VIGIL-TAIL 1 severity=loud", &f, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(vg_tail_filter_parse("VIGIL-TAIL 1 container=%4", &f, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(vg_tail_filter_parse("VIGIL-TAIL 1 container=%00", &f, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(vg_tail_filter_parse("VIGIL-TAIL 1 since=-1", &f, err, sizeof(err)), -EINVAL);
	assert_int_equal(vg_tail_filter_parse("VIGIL-TAIL 1 format=xml", &f, err, sizeof(err)), -EINVAL);
	assert_int_equal(vg_tail_filter_parse("VIGIL-TAIL 1 alerts", &f, err, sizeof(err)), -EINVAL);
	/* unknown keys from newer clients are ignored */
	assert_int_equal(vg_tail_filter_parse("VIGIL-TAIL 1 colour=red alerts=1", &f, err, sizeof(err)), 0);
	assert_true(f.alerts_only);
	assert_int_equal(vg_tail_filter_parse("VIGIL-TAIL 1", &f, err, sizeof(err)), 0);
}

static void test_filter_match(void **state)
{
	struct vg_tail_filter f = { 0 };
	struct vg_out_meta ev = { .kind = VG_OUT_EVENT, .ctr_id = "3f2a9c0d11", .ctr_name = "web" };
	struct vg_out_meta al = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_CRITICAL,
				  .rule = "metadata_service_access", .ctr_id = "77aa", .ctr_name = "redis" };
	struct vg_out_meta host = { .kind = VG_OUT_EVENT, .ctr_id = "" };
	struct vg_out_meta st = { .kind = VG_OUT_STATS };

	assert_true(vg_tail_filter_match(&f, &ev));
	assert_false(vg_tail_filter_match(&f, &st)); /* stats only on request */
	f.stats = true;
	assert_true(vg_tail_filter_match(&f, &st));

	snprintf(f.container, sizeof(f.container), "3f2a");
	assert_true(vg_tail_filter_match(&f, &ev));
	assert_false(vg_tail_filter_match(&f, &al));
	snprintf(f.container, sizeof(f.container), "3F2A9C"); /* either case */
	assert_true(vg_tail_filter_match(&f, &ev));
	snprintf(f.container, sizeof(f.container), "3f2"); /* too short for an id */
	assert_false(vg_tail_filter_match(&f, &ev));
	snprintf(f.container, sizeof(f.container), "3f2a9c0d11ff"); /* longer than the id */
	assert_false(vg_tail_filter_match(&f, &ev));
	snprintf(f.container, sizeof(f.container), "redis");
	assert_true(vg_tail_filter_match(&f, &al));
	assert_false(vg_tail_filter_match(&f, &host));
	/* a name is exact: "red" is not redis, "red*" is */
	snprintf(f.container, sizeof(f.container), "red");
	assert_false(vg_tail_filter_match(&f, &al));
	snprintf(f.container, sizeof(f.container), "red*");
	assert_true(vg_tail_filter_match(&f, &al));
	assert_false(vg_tail_filter_match(&f, &ev));
	/* "db": not db-backup, nor a container whose id starts db */
	struct vg_out_meta backup = { .kind = VG_OUT_EVENT, .ctr_id = "db5e", .ctr_name = "db-backup" };
	struct vg_out_meta db = { .kind = VG_OUT_EVENT, .ctr_id = "0a0a", .ctr_name = "db" };
	snprintf(f.container, sizeof(f.container), "db");
	assert_false(vg_tail_filter_match(&f, &backup));
	assert_true(vg_tail_filter_match(&f, &db));
	snprintf(f.container, sizeof(f.container), "host");
	assert_true(vg_tail_filter_match(&f, &host));
	assert_false(vg_tail_filter_match(&f, &ev));
	/* "host" is the host: not every container whose name starts with it */
	struct vg_out_meta hostile = { .kind = VG_OUT_EVENT, .ctr_id = "5e5e", .ctr_name = "hostile" };
	struct vg_out_meta named_host = { .kind = VG_OUT_EVENT, .ctr_id = "6f6f", .ctr_name = "host" };
	assert_false(vg_tail_filter_match(&f, &hostile));
	assert_true(vg_tail_filter_match(&f, &named_host));
	snprintf(f.container, sizeof(f.container), "hostil*");
	assert_true(vg_tail_filter_match(&f, &hostile));
	assert_false(vg_tail_filter_match(&f, &host));
	f.container[0] = '\0';

	f.alerts_only = true;
	assert_false(vg_tail_filter_match(&f, &ev));
	assert_true(vg_tail_filter_match(&f, &al));
	f.alerts_only = false;
	f.min_sev = VG_OUT_SEV_HIGH;
	assert_false(vg_tail_filter_match(&f, &ev));
	assert_true(vg_tail_filter_match(&f, &al));
	snprintf(f.rule, sizeof(f.rule), "oom_kill");
	assert_false(vg_tail_filter_match(&f, &al));
	snprintf(f.rule, sizeof(f.rule), "metadata_service_access");
	assert_true(vg_tail_filter_match(&f, &al));
}

/* ---- against a running server ---- */

static int dial(const char *filter)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (filter)
		assert_int_equal(write(fd, filter, strlen(filter)), (ssize_t)strlen(filter));
	return fd;
}

/* Read one line, waiting at most ms for each byte; its length or -1. */
static int read_line_ms(int fd, char *buf, size_t cap, int ms)
{
	size_t n = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (n + 1 < cap) {
		char c;

		if (poll(&p, 1, ms) != 1 || read(fd, &c, 1) != 1)
			return -1;
		buf[n++] = c;
		if (c == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

static int read_line(int fd, char *buf, size_t cap)
{
	return read_line_ms(fd, buf, cap, 5000);
}

static void publish(struct vg_tail *t, const char *line, enum vg_out_kind kind,
		    enum vg_out_sev sev, const char *id, const char *name)
{
	struct vg_out_meta m = { .kind = kind, .severity = sev, .ctr_id = id, .ctr_name = name };

	vg_tail_publish(t, line, strlen(line), &m);
}

static void wait_clients(struct vg_tail *t, uint64_t n)
{
	for (int i = 0; i < 500 && atomic_load(&vg_tail_counters(t)->clients) != n; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&vg_tail_counters(t)->clients), n);
}

static void test_two_clients_one_filtered(void **state)
{
	struct vg_tail_opts o = { .path = sock };
	struct vg_tail *t = NULL;
	struct stat sb;
	char buf[512];
	int a, b;

	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	assert_int_equal(stat(sock, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0660);

	a = dial("VIGIL-TAIL 1 format=json\n");
	b = dial("VIGIL-TAIL 1 container=web%2A\n");
	assert_true(read_line(a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 OK\n");
	assert_true(read_line(b, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 OK\n");
	wait_clients(t, 2);

	publish(t, "{\"n\":1}\n", VG_OUT_EVENT, VG_OUT_SEV_INFO, "aaaa", "db");
	publish(t, "{\"n\":2}\n", VG_OUT_ALERT, VG_OUT_SEV_HIGH, "bbbb", "web-1");
	assert_true(read_line(a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"n\":1}\n");
	assert_true(read_line(a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"n\":2}\n");
	assert_true(read_line(b, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"n\":2}\n"); /* n=1 was not for b */

	close(a);
	wait_clients(t, 1);
	close(b);
	wait_clients(t, 0);
	vg_tail_free(&t);
	assert_null(t);
	assert_int_equal(stat(sock, &sb), -1); /* socket removed */
}

/* Silent connections do not hold the server full: past max_clients the
 * oldest one still owing its filter line makes room; streaming clients
 * do not, and the newcomer is refused instead. */
static void test_silent_clients_make_room(void **state)
{
	struct vg_tail_opts o = { .path = sock, .max_clients = 2 };
	struct vg_tail *t = NULL;
	char buf[256];
	int a, b, c, d, e;

	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	a = dial(NULL);
	b = dial(NULL);
	c = dial("VIGIL-TAIL 1\n");
	assert_true(read_line(c, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 OK\n");
	assert_int_equal(read_line(a, buf, sizeof(buf)), -1); /* closed for c */
	d = dial("VIGIL-TAIL 1\n");
	assert_true(read_line(d, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 OK\n");
	assert_int_equal(read_line(b, buf, sizeof(buf)), -1);
	wait_clients(t, 2);
	/* two streaming: nothing to make room with.  The server refuses
	 * before reading and closes: the filter line may meet a closed socket
	 * (no SIGPIPE), and the refusal is read all the same */
	e = dial(NULL);
	(void)send(e, "VIGIL-TAIL 1\n", 13, MSG_NOSIGNAL);
	assert_true(read_line(e, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 ERR too many tail clients\n");
	assert_int_equal(atomic_load(&vg_tail_counters(t)->clients), 2);
	close(a);
	close(b);
	close(c);
	close(d);
	close(e);
	vg_tail_free(&t);
}

static void test_slow_client_cut_off(void **state)
{
	struct vg_tail_opts o = { .path = sock, .client_queue = 1, .stall_ms = 100 };
	struct vg_tail *t = NULL;
	char line[1024], buf[2048];
	int stalled, good, got_end = 0;

	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	stalled = dial("VIGIL-TAIL 1\n");
	good = dial("VIGIL-TAIL 1\n");
	assert_true(read_line(good, buf, sizeof(buf)) > 0);
	wait_clients(t, 2);

	memset(line, 'x', sizeof(line));
	line[0] = '{';
	line[sizeof(line) - 3] = '}';
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	/* the good client reads everything while the stalled one never reads:
	 * publish in rounds until the stalled one is cut off */
	for (int round = 0; round < 400 && atomic_load(&vg_tail_counters(t)->cut_off) == 0;
	     round++) {
		for (int i = 0; i < 64; i++)
			publish(t, line, VG_OUT_EVENT, VG_OUT_SEV_INFO, "", "");
		for (int i = 0; i < 64; i++)
			assert_true(read_line(good, buf, sizeof(buf)) > 0);
		usleep(5000);
	}
	assert_int_equal(atomic_load(&vg_tail_counters(t)->cut_off), 1);
	publish(t, "{\"end\":1}\n", VG_OUT_EVENT, VG_OUT_SEV_INFO, "", "");
	/* the good client still gets everything, up to the end marker */
	while (!got_end && read_line(good, buf, sizeof(buf)) > 0)
		got_end = !strcmp(buf, "{\"end\":1}\n");
	assert_true(got_end);
	wait_clients(t, 1);
	/* the stalled client finds its stream closed after what was buffered */
	int rc;
	while ((rc = read_line(stalled, buf, sizeof(buf))) > 0)
		;
	assert_int_equal(rc, -1);
	close(stalled);
	close(good);
	vg_tail_free(&t);
}

/* A client that still reads, only slower than a burst: it loses lines,
 * is told how many, and stays connected. */
static void test_slow_reader_told_of_loss(void **state)
{
	struct vg_tail_opts o = { .path = sock, .client_queue = 1, .stall_ms = 600000 };
	struct vg_tail *t = NULL;
	char line[1024], buf[2048];
	int c, lost_seen = 0, got_end = 0;

	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	c = dial("VIGIL-TAIL 1\n");
	assert_true(read_line(c, buf, sizeof(buf)) > 0);
	wait_clients(t, 1);
	memset(line, 'y', sizeof(line));
	line[0] = '{';
	line[sizeof(line) - 3] = '}';
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	/* a burst larger than the client's queue and socket buffer together */
	for (int round = 0; round < 400 && !atomic_load(&vg_tail_counters(t)->lost); round++) {
		for (int i = 0; i < 64; i++)
			publish(t, line, VG_OUT_EVENT, VG_OUT_SEV_INFO, "", "");
		usleep(2000);
	}
	assert_true(atomic_load(&vg_tail_counters(t)->lost) > 0);
	assert_int_equal(atomic_load(&vg_tail_counters(t)->dropped), 0); /* not the intake's */
	/* now it reads everything: it is told what it missed, and lines flow
	 * again (an end marker published while the queue is still full is
	 * itself lost, so publish them until one arrives) */
	for (int i = 0; i < 200 && !got_end; i++) {
		char mark[32];

		snprintf(mark, sizeof(mark), "{\"end\":%d}\n", i);
		publish(t, mark, VG_OUT_EVENT, VG_OUT_SEV_INFO, "", "");
		while (!got_end && read_line_ms(c, buf, sizeof(buf), 100) > 0) {
			lost_seen |= !strncmp(buf, "VIGIL-TAIL 1 LOST ", 18);
			got_end = !strncmp(buf, "{\"end\":", 7);
		}
	}
	assert_true(got_end);
	assert_true(lost_seen);
	assert_int_equal(atomic_load(&vg_tail_counters(t)->cut_off), 0);
	assert_int_equal(atomic_load(&vg_tail_counters(t)->clients), 1);
	close(c);
	vg_tail_free(&t);
}

/*
 * Lines the intake cannot take (the server thread is behind the agent)
 * are announced to the streaming client as "LOST n intake", before the
 * lines published after them: every line published is either received
 * or announced.  The intake holds one line of 200 KB, and the next is
 * published before the server thread, woken by the first, has usually
 * taken it: bursts of 100 until one was dropped (at most 50).
 */
struct tally {
	int fd;
	uint64_t lines, told_intake, told_own;
	bool end;
};

static void *tally_stream(void *arg)
{
	struct tally *ta = arg;
	int fd = ta->fd;
	static char chunk[65536];
	char head[64];
	size_t hl = 0;

	while (!ta->end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) != 1 || (n = read(fd, chunk, sizeof(chunk))) <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			unsigned long long v;
			char word[16] = "";

			if (chunk[i] != '\n') {
				if (hl + 1 < sizeof(head))
					head[hl++] = chunk[i];
				continue;
			}
			head[hl] = '\0';
			hl = 0;
			if (!strncmp(head, "{\"end\"", 6))
				ta->end = true;
			else if (!strncmp(head, "{\"n\"", 4))
				ta->lines++;
			else if (sscanf(head, "VIGIL-TAIL 1 LOST %llu %15s", &v, word) >= 1)
				*(strcmp(word, "intake") ? &ta->told_own : &ta->told_intake) += v;
		}
	}
	return NULL;
}

static void test_intake_loss_told(void **state)
{
	struct vg_tail_opts o = { .path = sock, .intake_bytes = 1, .client_queue = 64u << 20,
				  .stall_ms = 600000 };
	const struct vg_tail_counters *tc;
	struct vg_tail *t = NULL;
	struct tally ta = { 0 };
	uint64_t published = 0;
	pthread_t reader;
	size_t len = 200000;
	char *line = malloc(len + 1), buf[512];
	int c;

	assert_non_null(line);
	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	tc = vg_tail_counters(t);
	c = dial("VIGIL-TAIL 1\n");
	assert_true(read_line(c, buf, sizeof(buf)) > 0);
	wait_clients(t, 1);
	ta.fd = c;
	assert_int_equal(pthread_create(&reader, NULL, tally_stream, &ta), 0);
	memset(line, 'z', len);
	memcpy(line, "{\"n\":\"", 6);
	memcpy(line + len - 3, "\"}\n", 3);
	line[len] = '\0';
	for (int burst = 0; burst < 50 && !atomic_load(&tc->dropped); burst++) {
		for (int i = 0; i < 100; i++, published++)
			publish(t, line, VG_OUT_EVENT, VG_OUT_SEV_INFO, "", "");
	}
	assert_true(atomic_load(&tc->dropped) > 0);
	/* every line taken or dropped, the intake empty: the end marker comes
	 * after every drop, and their notice goes before it */
	for (int i = 0; i < 1000 && atomic_load(&tc->sent) + atomic_load(&tc->lost) +
						 atomic_load(&tc->dropped) < published;
	     i++)
		usleep(10000);
	publish(t, "{\"end\":1}\n", VG_OUT_EVENT, VG_OUT_SEV_INFO, "", "");
	pthread_join(reader, NULL);
	assert_true(ta.end);
	assert_true(ta.told_intake > 0);
	assert_int_equal(ta.told_intake, atomic_load(&tc->dropped));
	/* a reader that fell behind too is told of its own losses apart */
	assert_int_equal(ta.told_own, atomic_load(&tc->lost));
	assert_int_equal(ta.lines + ta.told_intake + ta.told_own, published);
	close(c);
	vg_tail_free(&t);
	free(line);
}

static void test_backlog_since(void **state)
{
	struct vg_tail_opts o = { .path = sock };
	struct vg_tail *t = NULL;
	struct vg_out_meta old = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_HIGH,
				   .wall_ns = vg_out_now_ns() - 3600ull * 1000000000ull };
	char buf[512];
	int a, b;

	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	/* b watches live from the start: once it has seen r=2, the server
	 * has put all three lines into its backlog */
	b = dial("VIGIL-TAIL 1\n");
	assert_true(read_line(b, buf, sizeof(buf)) > 0);
	wait_clients(t, 1);
	vg_tail_publish(t, "{\"old\":1}\n", 10, &old); /* an hour ago */
	publish(t, "{\"r\":1}\n", VG_OUT_EVENT, VG_OUT_SEV_INFO, "", "");
	publish(t, "{\"r\":2}\n", VG_OUT_ALERT, VG_OUT_SEV_CRITICAL, "", "");
	for (int i = 0; i < 3; i++)
		assert_true(read_line(b, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"r\":2}\n");
	/* a late client asking for the last minute of alerts gets r=2 only */
	a = dial("VIGIL-TAIL 1 since=60 alerts=1\n");
	assert_true(read_line(a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 OK\n");
	assert_true(read_line(a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"r\":2}\n");
	wait_clients(t, 2);
	publish(t, "{\"r\":3}\n", VG_OUT_ALERT, VG_OUT_SEV_LOW, "", "");
	assert_true(read_line(b, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"r\":3}\n");
	assert_true(read_line(a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"r\":3}\n");
	/* raw events went live to b but are not replayed: a late client
	 * asking for everything of the last minute starts at the alert */
	int c = dial("VIGIL-TAIL 1 since=60\n");
	assert_true(read_line(c, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 OK\n");
	assert_true(read_line(c, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"r\":2}\n");
	close(c);
	close(a);
	close(b);
	vg_tail_free(&t);
}

/*
 * A late client whose --since takes in more than its replay holds (half
 * its queue) gets the newest lines and is told how many older ones were
 * left out, before them: every matching line is replayed or told.
 */
static void test_since_replay_told_of_loss(void **state)
{
	struct vg_tail_opts o = { .path = sock, .client_queue = 1 };
	struct vg_tail *t = NULL;
	struct tally watch = { 0 }, late = { 0 };
	size_t len = 60000;
	char *line = malloc(len + 1), buf[256];
	unsigned long long told = 0;
	char word[16] = "";

	assert_non_null(line);
	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	memset(line, 'q', len);
	memcpy(line, "{\"n\":\"", 6);
	memcpy(line + len - 3, "\"}\n", 3);
	line[len] = '\0';
	/* a live client: once it has the end marker, the server has put
	 * every line into its backlog */
	watch.fd = dial("VIGIL-TAIL 1\n");
	assert_true(read_line(watch.fd, buf, sizeof(buf)) > 0);
	wait_clients(t, 1);
	for (int i = 0; i < 10; i++)
		publish(t, line, VG_OUT_ALERT, VG_OUT_SEV_HIGH, "", "");
	publish(t, "{\"end\":1}\n", VG_OUT_ALERT, VG_OUT_SEV_HIGH, "", "");
	tally_stream(&watch);
	assert_true(watch.end);
	assert_int_equal(watch.lines, 10);

	/* 600 KB of them match; its replay holds about 256 KB */
	late.fd = dial("VIGIL-TAIL 1 since=60 alerts=1\n");
	assert_true(read_line(late.fd, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 OK\n");
	assert_true(read_line(late.fd, buf, sizeof(buf)) > 0);
	assert_int_equal(sscanf(buf, "VIGIL-TAIL 1 LOST %llu %15s", &told, word), 2);
	assert_string_equal(word, "since");
	tally_stream(&late);
	assert_true(late.end);
	assert_true(told > 0);
	assert_true(late.lines > 0);
	assert_int_equal(late.told_own + late.told_intake, 0); /* told once */
	assert_int_equal(told + late.lines, 10);
	close(watch.fd);
	close(late.fd);
	vg_tail_free(&t);
	free(line);
}

static void test_bad_and_silent_clients(void **state)
{
	struct vg_tail_opts o = { .path = sock, .filter_timeout_ms = 50 };
	struct vg_tail *t = NULL;
	char buf[512];
	int a, b;

	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	a = dial("VIGIL-TAIL 1 severity=loud\n");
	assert_true(read_line(a, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "VIGIL-TAIL 1 ERR ", 17);
	assert_int_equal(read_line(a, buf, sizeof(buf)), -1); /* closed */
	b = dial(NULL); /* says nothing: closed after the timeout */
	assert_int_equal(read_line(b, buf, sizeof(buf)), -1);
	assert_true(atomic_load(&vg_tail_counters(t)->refused) >= 2);
	assert_int_equal(atomic_load(&vg_tail_counters(t)->clients), 0);
	close(a);
	close(b);
	vg_tail_free(&t);
}

/* A client that sends its filter line and shuts its writing side (a
 * script piping the line in) still gets the stream; a filter line with a
 * NUL in it is refused, not read up to the NUL. */
static void test_half_close_and_nul(void **state)
{
	struct vg_tail_opts o = {.path = sock};
	struct vg_tail *t = NULL;
	char buf[512];
	int a, b;

	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	a = dial("VIGIL-TAIL 1 format=json\n");
	assert_int_equal(shutdown(a, SHUT_WR), 0);
	assert_true(read_line(a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 OK\n");
	wait_clients(t, 1);
	usleep(100000); /* the server has seen the shutdown by now */
	publish(t, "{\"n\":1}\n", VG_OUT_ALERT, VG_OUT_SEV_HIGH, "aaaa", "db");
	assert_true(read_line(a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"n\":1}\n");
	assert_int_equal(atomic_load(&vg_tail_counters(t)->clients), 1);

	b = dial(NULL);
	assert_int_equal(write(b, "VIGIL-TAIL 1 alerts=1\0 container=x\n", 35), 35);
	assert_true(read_line(b, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "VIGIL-TAIL 1 ERR NUL", 20);
	close(a);
	close(b);
	wait_clients(t, 0);
	vg_tail_free(&t);
}

static void test_socket_in_use_and_stale(void **state)
{
	struct vg_tail_opts o = { .path = sock };
	struct vg_tail *t = NULL, *t2 = NULL;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	assert_int_equal(vg_tail_new(&o, NULL, &t2), -EADDRINUSE);
	vg_tail_free(&t);
	/* a stale socket file (its server died) is replaced */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	vg_tail_free(&t);
}

/* An agent whose socket was removed by hand, and whose path another agent
 * has bound since, leaves that agent's socket in place when it stops. */
static void test_free_leaves_successor_socket(void **state)
{
	struct vg_tail_opts o = { .path = sock };
	struct vg_tail *a = NULL, *b = NULL;
	char buf[256];
	int c;

	assert_int_equal(vg_tail_new(&o, NULL, &a), 0);
	assert_int_equal(unlink(sock), 0); /* rm -rf /run/vigil, or so */
	assert_int_equal(vg_tail_new(&o, NULL, &b), 0);
	vg_tail_free(&a);
	c = dial("VIGIL-TAIL 1\n"); /* asserts the connect */
	assert_true(read_line(c, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 OK\n");
	wait_clients(b, 1);
	close(c);
	vg_tail_free(&b);
	struct stat sb;
	assert_int_equal(lstat(sock, &sb), -1); /* its own, b removes */
}

static void test_group_file(void **state)
{
	char path[96];
	FILE *f;
	gid_t gid = 0;

	snprintf(path, sizeof(path), "%s/group", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("root:x:0:\nvigilant:x:7:\n", f);
	/* an overlong line is skipped whole: its tail, past the reader's
	 * 1023 bytes, would read as a line of its own naming vigil 666 */
	for (int i = 0; i < 1023; i++)
		fputc('z', f);
	fputs("vigil:x:666:\nbad:x:notanumber:\nvigil:x:1234:alice,bob\n", f);
	fclose(f);
	assert_int_equal(vg_tail_group_gid(path, "vigil", &gid), 0);
	assert_int_equal(gid, 1234);
	assert_int_equal(vg_tail_group_gid(path, "root", &gid), 0);
	assert_int_equal(gid, 0);
	assert_int_equal(vg_tail_group_gid(path, "vigi", &gid), -ENOENT);
	assert_int_equal(vg_tail_group_gid(path, "bad", &gid), -ENOENT);
	assert_int_equal(vg_tail_group_gid(path, "a:b", &gid), -EINVAL);
	assert_int_equal(vg_tail_group_gid("/nonexistent/group", "vigil", &gid), -ENOENT);

	/* the socket gets that group */
	struct vg_tail_opts o = { .path = sock, .group_file = path, .group = "vigil" };
	struct vg_tail *t = NULL;
	struct stat sb;
	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	assert_int_equal(stat(sock, &sb), 0);
	if (getuid() == 0)
		assert_int_equal(sb.st_gid, 1234);
	vg_tail_free(&t);
}

static char swap_target[96];

/* what someone who may write the socket's directory could do at once:
 * put a symlink at the socket's name once it is bound */
static void swap_in_link(int stage, const char *path, const char *priv)
{
	(void)priv;
	if (stage != 2)
		return;
	unlink(path);
	assert_int_equal(symlink(swap_target, path), 0);
}

/* ... or, the directory not sticky, move the private directory away and
 * put a stand-in under its name (at stage: 0, before it is held; 1, after),
 * where the bind lands and its socket is then swapped for a symlink */
static void stand_in(int when, int stage, const char *priv)
{
	char moved[128], s[128];

	snprintf(moved, sizeof(moved), "%s.moved", priv);
	snprintf(s, sizeof(s), "%s/s", priv);
	if (stage == when) {
		assert_int_equal(rename(priv, moved), 0);
		assert_int_equal(mkdir(priv, 0700), 0);
		if (when == 0) /* someone else's */
			assert_int_equal(chown(priv, 65534, 65534), 0);
	} else if (stage == 2) {
		assert_int_equal(unlink(s), 0);
		assert_int_equal(symlink(swap_target, s), 0);
	}
}

static void stand_in_before(int stage, const char *path, const char *priv)
{
	(void)path;
	stand_in(0, stage, priv);
}

static void stand_in_after(int stage, const char *path, const char *priv)
{
	(void)path;
	stand_in(1, stage, priv);
}

static int leftovers(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ls -a %s | grep -q '^\\.vigil-'", dir);
	return system(cmd) == 0;
}

/* a bind with hook swapping something in: it fails with want, and the
 * file the swapped-in symlink leads to keeps its 0600 and its group */
static void bind_swapped(void (*hook)(int, const char *, const char *), const char *link,
			 int want)
{
	gid_t gid = 1234;
	struct stat sb;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	vg_tail_bind_hook = hook;
	assert_int_equal(vg_tail_bind(fd, link, 0666, &gid, NULL), want);
	vg_tail_bind_hook = NULL;
	close(fd);
	assert_int_equal(stat(swap_target, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_gid, getegid());
}

/*
 * The socket's mode and group are set before it takes its name: a symlink
 * put at the name the moment the socket is bound is not followed (the
 * file it leads to keeps its mode and group) and makes the bind fail, and
 * nothing is left behind; nor is one put in a stand-in for the private
 * directory.  Then the same name, free, gets the socket.
 */
static void test_bind_not_through_link(void **state)
{
	char link[96], cmd[128];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat sb;
	gid_t gid = 1234;
	int fd, c;

	snprintf(swap_target, sizeof(swap_target), "%s/secret", dir);
	snprintf(link, sizeof(link), "%s/vigil.sock", dir);
	fd = open(swap_target, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(swap_target, 0600), 0);

	bind_swapped(swap_in_link, link, -EADDRINUSE);
	assert_false(leftovers());

	/* anything at the name is left alone */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(vg_tail_bind(fd, link, 0666, NULL, NULL), -EADDRINUSE);
	close(fd); /* bound, to a name gone: a socket binds once */
	assert_int_equal(unlink(link), 0);

	/* a stand-in for the private directory: the bind lands there, and its
	 * socket, swapped for a symlink, is not followed either */
	bind_swapped(stand_in_after, link, -ENOENT);
	assert_int_equal(lstat(link, &sb), -1);
	if (getuid() == 0) { /* a stand-in of another owner's is refused */
		bind_swapped(stand_in_before, link, -EPERM);
		assert_int_equal(lstat(link, &sb), -1);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s/.vigil-*", dir);
	assert_int_equal(system(cmd), 0);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(vg_tail_bind(fd, link, 0640, getuid() == 0 ? &gid : NULL, NULL), 0);
	assert_false(leftovers());
	assert_int_equal(lstat(link, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0640);
	if (getuid() == 0)
		assert_int_equal(sb.st_gid, 1234);
	/* and is the socket there */
	assert_int_equal(listen(fd, 1), 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", link);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(c);
	close(fd);
}

/* the socket's directory may be 91 bytes long, not 92 (README); a
 * setgid one (the private directory inherits the bit) is fine */
static void test_bind_dir_length(void **state)
{
	char d[128], path[128];
	int fd;

	for (int len = 91; len <= 92; len++) {
		snprintf(d, sizeof(d), "%s/%0*d", dir, len - (int)strlen(dir) - 1, 0);
		assert_int_equal((int)strlen(d), len);
		assert_int_equal(mkdir(d, 0700), 0);
		snprintf(path, sizeof(path), "%s/s", d);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		assert_int_equal(vg_tail_bind(fd, path, 0660, NULL, NULL), len == 91 ? 0 : -ENAMETOOLONG);
		close(fd);
	}
	snprintf(d, sizeof(d), "%s/g", dir);
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(chmod(d, 02755), 0);
	snprintf(path, sizeof(path), "%s/s", d);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(vg_tail_bind(fd, path, 0660, NULL, NULL), 0);
	close(fd);
}

/* With no client, the server's thread sleeps until a line, a connection
 * or stop: no timer (a 200 ms one would wake it about three times here),
 * and stop still ends it at once. */
static void test_idle_server_sleeps(void **state)
{
	struct vg_tail_opts o = {.path = sock};
	struct vg_tail *t = NULL;
	struct timespec ts = {.tv_nsec = 300 * 1000000L};

	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	nanosleep(&ts, NULL);
	long before = fixture_other_threads_switches();
	nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);
	long woke = fixture_other_threads_switches() - before;
	vg_tail_free(&t);
	assert_true(before >= 0);
	assert_true(woke <= 1);
}

static struct vg_tail *idle_tail;
static _Atomic int idle_step;
static _Atomic int idle_woken = -1;

/* on the server's thread: a line comes just as it goes idle; once it is
 * busy again with that line, does the next line write the eventfd? */
static void line_while_going_idle(int stage, int efd)
{
	uint64_t v;

	if (stage == 0 && atomic_load(&idle_step) == 0) {
		atomic_store(&idle_step, 1);
		publish(idle_tail, "{\"late\":1}\n", VG_OUT_ALERT, VG_OUT_SEV_HIGH, "", "");
	} else if (stage == 1 && atomic_load(&idle_step) == 1) {
		ssize_t r = read(efd, &v, sizeof(v)); /* what that line wrote */

		(void)r;
		publish(idle_tail, "{\"next\":1}\n", VG_OUT_ALERT, VG_OUT_SEV_HIGH, "", "");
		atomic_store(&idle_woken, read(efd, &v, sizeof(v)) == (ssize_t)sizeof(v));
		atomic_store(&idle_step, 2);
	}
}

/* A line that comes while the server goes idle makes it busy again, and
 * busy it is woken by the intake a quarter full, not once a line. */
static void test_busy_again_not_woken_per_line(void **state)
{
	struct vg_tail_opts o = {.path = sock};

	atomic_store(&idle_step, 0);
	atomic_store(&idle_woken, -1);
	vg_tail_idle_hook = line_while_going_idle;
	assert_int_equal(vg_tail_new(&o, NULL, &idle_tail), 0);
	publish(idle_tail, "{\"first\":1}\n", VG_OUT_ALERT, VG_OUT_SEV_HIGH, "", "");
	for (int i = 0; i < 500 && atomic_load(&idle_step) != 2; i++)
		usleep(10000);
	vg_tail_free(&idle_tail);
	vg_tail_idle_hook = NULL;
	assert_int_equal(atomic_load(&idle_step), 2);
	assert_int_equal(atomic_load(&idle_woken), 0);
}

/* A socket at the path whose agent is stopped (its backlog full, nothing
 * accepted) is a running agent's: a new one refuses at once, and does not
 * wait in connect for good. */
static void test_stopped_agent_in_use(void **state)
{
	struct vg_tail_opts o = {.path = sock};
	struct vg_tail *t = NULL;
	int lfd, c[8], nc;
	char run[128];

	snprintf(run, sizeof(run), "%s/run", dir);
	assert_int_equal(mkdir(run, 0755), 0);
	lfd = fixture_full_listener(sock, c, 8, &nc);
	assert_true(lfd >= 0);
	alarm(5); /* a connect that waits would end the test here */
	assert_int_equal(vg_tail_new(&o, NULL, &t), -EADDRINUSE);
	alarm(0);
	struct stat sb;
	assert_int_equal(stat(sock, &sb), 0); /* left in place */
	for (int i = 0; i < nc; i++)
		close(c[i]);
	close(lfd);
	unlink(sock);
}

/* Out of file descriptors, the server rests instead of spinning on a
 * connection it cannot accept, and takes it once descriptors are free. */
static void test_out_of_descriptors_rests(void **state)
{
	struct vg_tail_opts o = {.path = sock};
	struct vg_tail *t = NULL;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[256];
	double cpu;

	assert_true(fd >= 0);
	assert_int_equal(vg_tail_new(&o, NULL, &t), 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	cpu = fixture_starved_connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	printf("# 0.5 s out of descriptors: %.3f s of CPU\n", cpu);
	assert_true(cpu >= 0);
	assert_true(cpu < 0.1); /* a spinning server burns most of it */
	const char *filter = "VIGIL-TAIL 1 format=json\n";
	assert_int_equal(write(fd, filter, strlen(filter)), (ssize_t)strlen(filter));
	assert_true(read_line(fd, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "VIGIL-TAIL 1 OK\n");
	close(fd);
	vg_tail_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_roundtrip),
		cmocka_unit_test(test_filter_parse_rejects),
		cmocka_unit_test(test_filter_match),
		cmocka_unit_test_setup_teardown(test_two_clients_one_filtered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_clients_make_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_client_cut_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intake_loss_told, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_reader_told_of_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_since, setup, teardown),
		cmocka_unit_test_setup_teardown(test_since_replay_told_of_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_and_silent_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_close_and_nul, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_in_use_and_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_leaves_successor_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_not_through_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_dir_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_server_sleeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_again_not_woken_per_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_descriptors_rests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_agent_in_use, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
