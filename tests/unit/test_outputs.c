// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/outputs.h"
#include "vigil/sinks.h"
#include "vigil/tail.h"

static char dir[32], sock[64], file[64], spec[80];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/vg-outs-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/t.sock", dir);
	snprintf(file, sizeof(file), "%s/feed.json", dir);
	snprintf(spec, sizeof(spec), "file:%s", file);
	return 0;
}

static int teardown(void **state)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t slurp(const char *p, char *buf, size_t cap)
{
	FILE *f = fopen(p, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

static void test_errors_name_the_option(void **state)
{
	struct vg_stats *st = NULL;
	struct vg_outputs *o = NULL, *o2 = NULL;
	const char *bad[] = { "file:/nonexistent-dir/x.json" };
	struct vg_outputs_opts oo = { .specs = bad, .nspecs = 1, .tail_socket = "" };
	char err[256];

	assert_int_equal(vg_stats_new(&st), 0);
	assert_int_equal(vg_outputs_new(&oo, st, &o, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "--output file:/nonexistent-dir/x.json"));
	assert_null(o);

	oo = (struct vg_outputs_opts){ .tail_socket = "", .metrics = "nonsense" };
	assert_int_equal(vg_outputs_new(&oo, st, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--metrics nonsense"));

	oo = (struct vg_outputs_opts){ .tail_socket = sock };
	assert_int_equal(vg_outputs_new(&oo, st, &o, err, sizeof(err)), 0);
	assert_int_equal(vg_outputs_new(&oo, st, &o2, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "another agent is running"));
	vg_outputs_free(&o);
	assert_null(o);
	vg_stats_free(&st);
}

/* fds open in this process, to see that none is left behind */
static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/*
 * Sockets made before the capability drop: served once handed over, and
 * closed (the tail path unlinked) when the outputs fail to start or are
 * never started.
 */
static void test_listen_before_start(void **state)
{
	struct vg_stats *st = NULL;
	struct vg_outputs *o = NULL;
	const char *bad[] = {"file:/nonexistent-dir/x.json"};
	struct vg_outputs_opts oo = {.tail_socket = sock, .metrics = "127.0.0.1:0"};
	char err[256];
	int fds = open_fds();

	(void)state;
	assert_int_equal(vg_stats_new(&st), 0);
	assert_int_equal(vg_outputs_listen(&oo, err, sizeof(err)), 0);
	assert_int_equal(access(sock, F_OK), 0);
	assert_int_equal(open_fds(), fds + 2);
	assert_int_equal(vg_outputs_new(&oo, st, &o, err, sizeof(err)), 0);
	assert_int_not_equal(vg_outputs_metrics_port(o), 0);
	vg_outputs_free(&o);
	assert_int_equal(access(sock, F_OK), -1);

	/* a sink that cannot start: the sockets go with it */
	oo = (struct vg_outputs_opts){.specs = bad, .nspecs = 1, .tail_socket = sock,
				      .metrics = "127.0.0.1:0"};
	assert_int_equal(vg_outputs_listen(&oo, err, sizeof(err)), 0);
	assert_int_equal(vg_outputs_new(&oo, st, &o, err, sizeof(err)), -ENOENT);
	assert_int_equal(access(sock, F_OK), -1);

	/* never started */
	oo = (struct vg_outputs_opts){.tail_socket = sock, .metrics = "127.0.0.1:0"};
	assert_int_equal(vg_outputs_listen(&oo, err, sizeof(err)), 0);
	vg_outputs_unlisten(&oo);
	assert_int_equal(access(sock, F_OK), -1);

	/* a bad metrics address: the tail socket made first goes too */
	oo = (struct vg_outputs_opts){.tail_socket = sock, .metrics = "nonsense"};
	assert_int_equal(vg_outputs_listen(&oo, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--metrics nonsense"));
	assert_int_equal(access(sock, F_OK), -1);
	assert_int_equal(open_fds(), fds);
	vg_stats_free(&st);
}

static void test_lines_reach_every_output(void **state)
{
	struct vg_stats *st = NULL;
	struct vg_outputs *o = NULL;
	const char *specs[] = { spec };
	struct vg_outputs_opts oo = { .specs = specs, .nspecs = 1, .tail_socket = sock,
				      .metrics = "127.0.0.1:0", .stats_s = 10 };
	struct vg_out_meta m = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_CRITICAL,
				 .rule = "oom_kill", .ctr_id = "abcd", .ctr_name = "web" };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static char buf[65536];
	char line[256] = "";
	int fd;

	assert_int_equal(vg_stats_new(&st), 0);
	assert_int_equal(vg_outputs_new(&oo, st, &o, buf, sizeof(buf)), 0);
	assert_true(vg_outputs_metrics_port(o) > 0);

	/* a tail client asking for alerts of container "web" */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	const char *hello = "VIGIL-TAIL 1 container=web alerts=1\n";
	assert_int_equal(write(fd, hello, strlen(hello)), (ssize_t)strlen(hello));
	for (int i = 0; i < 500 && !atomic_load(&vg_tail_counters(vg_outputs_tail(o))->clients); i++)
		usleep(10000);

	vg_outputs_emit(o, "{\"n\":1}\n", 8, &m);
	/* the stats clock: not due yet, then due */
	uint64_t now = vg_out_mono_ns();
	int ms = vg_outputs_tick(o, now);
	assert_true(ms > 0 && ms <= 10000);
	assert_true(vg_outputs_tick(o, now + 11 * 1000000000ull) > 9000);
	assert_int_equal(vg_sinks_flush(vg_outputs_sinks(o), 5000), 0);

	slurp(file, buf, sizeof(buf));
	assert_memory_equal(buf, "{\"n\":1}\n", 8);
	assert_non_null(strstr(buf, "\"kind\":\"metric\""));
	assert_non_null(strstr(buf, "\"alert\":1")); /* vigil.stats.records.alert */

	/* the tail client: handshake, the alert, and not the stats record */
	size_t got = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (got < sizeof(line) - 1 && !strstr(line, "{\"n\":1}\n") && poll(&p, 1, 5000) == 1) {
		ssize_t n = read(fd, line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		line[got] = '\0';
	}
	assert_string_equal(line, "VIGIL-TAIL 1 OK\n{\"n\":1}\n");
	close(fd);
	vg_outputs_free(&o);
	/* the registry outlives the outputs and no longer reads them */
	struct vg_buf b;
	vg_buf_init(&b, buf, sizeof(buf));
	assert_int_equal(vg_stats_encode(st, &b, 0, 10), 0);
	assert_non_null(strstr(buf, "\"sinks\":[]"));
	assert_null(strstr(buf, "\"tail\":"));
	vg_stats_free(&st);
}

/* The stats record is in the file when its tick returns: it does not wait
 * for the next round's kick, which an idle agent makes a second later. */
static void test_stats_record_out_at_once(void **state)
{
	struct vg_stats *st = NULL;
	struct vg_outputs *o = NULL;
	const char *specs[] = { spec };
	struct vg_outputs_opts oo = { .specs = specs, .nspecs = 1, .tail_socket = "", .stats_s = 10 };
	static char buf[65536];
	char err[128];
	bool seen = false;

	assert_int_equal(vg_stats_new(&st), 0);
	assert_int_equal(vg_outputs_new(&oo, st, &o, err, sizeof(err)), 0);
	vg_outputs_tick(o, vg_out_mono_ns() + 11 * 1000000000ull);
	/* no other tick, no flush: bounded wait for the sink's own thread */
	for (int i = 0; i < 200 && !seen; i++) {
		slurp(file, buf, sizeof(buf));
		seen = strstr(buf, "\"dataset\":\"vigil.stats\"") != NULL;
		if (!seen)
			usleep(10000);
	}
	assert_true(seen);
	vg_outputs_free(&o);
	vg_stats_free(&st);
}

static void test_no_stats_clock(void **state)
{
	struct vg_stats *st = NULL;
	struct vg_outputs *o = NULL;
	struct vg_outputs_opts oo = { .tail_socket = "" };
	char err[128];

	assert_int_equal(vg_stats_new(&st), 0);
	assert_int_equal(vg_outputs_new(&oo, st, &o, err, sizeof(err)), 0);
	assert_int_equal(vg_outputs_tick(o, vg_out_mono_ns()), INT32_MAX);
	assert_int_equal(vg_outputs_metrics_port(o), 0);
	assert_null(vg_outputs_tail(o));
	vg_outputs_emit(o, "{}\n", 3, NULL); /* no sinks: fine */
	vg_outputs_free(&o);
	vg_stats_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errors_name_the_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_before_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_reach_every_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_record_out_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_stats_clock, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
