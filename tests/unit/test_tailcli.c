// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "vigil/tailcli.h"

static int parse(struct vg_tailcli_opts *o, char *err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = "tail";
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return vg_tailcli_parse(argc, argv, o, err, 256, stdout);
}

static void test_parse_args(void **state)
{
	struct vg_tailcli_opts o;
	char err[256];

	assert_int_equal(parse(&o, err, "--container", "web", "--rule", "oom_kill", "--severity",
			       "high", "--alerts", "--since", "5m", "--json", "--no-color",
			       "--socket", "/tmp/x.sock", NULL),
			 0);
	assert_string_equal(o.filter.container, "web");
	assert_string_equal(o.filter.rule, "oom_kill");
	assert_int_equal(o.filter.min_sev, VG_OUT_SEV_HIGH);
	assert_true(o.filter.alerts_only);
	assert_int_equal(o.filter.since_s, 300);
	assert_true(o.json);
	assert_false(o.filter.view);
	assert_int_equal(o.color, 0);
	assert_string_equal(o.socket, "/tmp/x.sock");

	assert_int_equal(parse(&o, err, NULL), 0);
	assert_string_equal(o.socket, VG_TAIL_SOCKET);
	assert_int_equal(o.color, -1);
	assert_true(o.filter.view);

	assert_int_equal(parse(&o, err, "--severity", "loud", NULL), -EINVAL);
	assert_non_null(strstr(err, "--severity"));
	assert_int_equal(parse(&o, err, "--since", "forever", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "--bogus", NULL), -EINVAL);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(parse(&o, err, "--container", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "extra", NULL), -EINVAL);
	/* a VIGIL_SOCKET too long is refused, not cut to another path */
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	setenv("VIGIL_SOCKET", longp, 1);
	assert_int_equal(parse(&o, err, NULL), -EINVAL);
	assert_non_null(strstr(err, "VIGIL_SOCKET"));
	assert_int_equal(parse(&o, err, "--socket", "/tmp/y.sock", NULL), 0);
	setenv("VIGIL_SOCKET", "/tmp/z.sock", 1);
	assert_int_equal(parse(&o, err, NULL), 0);
	assert_string_equal(o.socket, "/tmp/z.sock");
	unsetenv("VIGIL_SOCKET");
	FILE *devnull = fopen("/dev/null", "w");
	char *argv[] = { "tail", "--help", NULL };
	assert_int_equal(vg_tailcli_parse(2, argv, &o, err, sizeof(err), devnull), 1);
	fclose(devnull);
}

static void test_duration(void **state)
{
	unsigned s;

	assert_int_equal(vg_tailcli_duration("30", &s), 0);
	assert_int_equal(s, 30);
	assert_int_equal(vg_tailcli_duration("30s", &s), 0);
	assert_int_equal(s, 30);
	assert_int_equal(vg_tailcli_duration("2m", &s), 0);
	assert_int_equal(s, 120);
	assert_int_equal(vg_tailcli_duration("24h", &s), 0);
	assert_int_equal(s, 86400);
	assert_int_equal(vg_tailcli_duration("25h", &s), -EINVAL);
	assert_int_equal(vg_tailcli_duration("1d", &s), -EINVAL);
	assert_int_equal(vg_tailcli_duration("-1", &s), -EINVAL);
	assert_int_equal(vg_tailcli_duration("", &s), -EINVAL);
}

struct feeder {
	int fd;
	const char *data;
	size_t len;
	size_t step;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;

	for (size_t off = 0; off < f->len;) {
		size_t n = f->len - off < f->step ? f->len - off : f->step;
		ssize_t w = write(f->fd, f->data + off, n);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

/* Run the client on a stream holding data, written step bytes at a time. */
static int run(const char *data, size_t len, size_t step, bool json, bool color, unsigned width,
	       char *out, size_t cap, char *err)
{
	int sv[2];
	pthread_t th;
	struct feeder f;
	struct vg_tailcli_opts o = { .json = json };
	FILE *mem = fmemopen(out, cap, "w");
	int rc;

	assert_non_null(mem);
	memset(out, 0, cap);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f = (struct feeder){ .fd = sv[1], .data = data, .len = len, .step = step };
	pthread_create(&th, NULL, feed, &f);
	rc = vg_tailcli_stream(sv[0], mem, mem, &o, color, width, -1, err, 256);
	pthread_join(th, NULL);
	close(sv[0]);
	fclose(mem);
	return rc;
}

static void test_json_passthrough(void **state)
{
	static char out[4096];
	char err[256];
	const char *s = "VIGIL-TAIL 1 OK\n{\"a\":1}\n{\"b\":\"x y\"}\nVIGIL-TAIL 1 END\n";
	const char *lost = "VIGIL-TAIL 1 OK\nVIGIL-TAIL 1 LOST 9 since\n{\"a\":1}\n"
			   "VIGIL-TAIL 1 LOST 17\n{\"c\":3}\n"
			   "VIGIL-TAIL 1 LOST 5 intake\nVIGIL-TAIL 1 END\n";

	/* byte by byte: lines are reassembled across reads */
	assert_int_equal(run(s, strlen(s), 1, true, false, 0, out, sizeof(out), err), 0);
	assert_string_equal(out, "{\"a\":1}\n{\"b\":\"x y\"}\n");
	/* a loss notice is said (here into the same stream), never as data */
	assert_int_equal(run(lost, strlen(lost), 4096, true, false, 0, out, sizeof(out), err), 0);
	assert_string_equal(out, "vigil tail: 9 records lost: older than the --since replay could "
				 "hold\n"
				 "{\"a\":1}\nvigil tail: 17 records lost: this client fell behind\n"
				 "{\"c\":3}\nvigil tail: up to 5 records lost: the sensor's tail "
				 "server fell behind\n");
}

static void test_cut_off_and_refused(void **state)
{
	static char out[4096];
	char err[256];
	const char *cut = "VIGIL-TAIL 1 OK\n{\"a\":1}\n";
	const char *refused = "VIGIL-TAIL 1 ERR unknown severity '\x1b[31mloud'\n";

	assert_int_equal(run(cut, strlen(cut), 4096, true, false, 0, out, sizeof(out), err), 1);
	assert_non_null(strstr(err, "cut this client off"));
	assert_string_equal(out, "{\"a\":1}\n");

	assert_int_equal(run(refused, strlen(refused), 4096, true, false, 0, out, sizeof(out), err), 2);
	assert_non_null(strstr(err, "refused"));
	assert_null(strchr(err, '\x1b')); /* the server's words are escaped too */

	assert_int_equal(run("", 0, 1, true, false, 0, out, sizeof(out), err), 2);
	assert_int_equal(run("HTTP/1.1 400 Bad\r\n", 18, 64, true, false, 0, out, sizeof(out), err), 2);
}

static const char *hostile =
	"VIGIL-TAIL 1 OK\n"
	"{\"@timestamp\":\"2026-12-04T13:52:23.123456789Z\",\"event\":{\"kind\":\"alert\"},"
	"\"vigil\":{\"severity\":\"critical\"},\"rule\":{\"name\":\"shell_in_service_container\"},"
	"\"container\":{\"id\":\"3f2a\",\"name\":\"web\\u001b[2J\"},"
	"\"process\":{\"name\":\"sh\\u001b]0;pwned\\u0007\",\"pid\":4242},"
	"\"message\":\"shell \\u001b[31mred\\r\\n\\u009b6n from redis-server\"}\n"
	"VIGIL-TAIL 1 END\n";

static void test_view_escapes_hostile_text(void **state)
{
	static char out[8192];
	char err[256];

	assert_int_equal(run(hostile, strlen(hostile), 7, false, false, 0, out, sizeof(out), err), 0);
	/* no control character reaches the terminal: ESC, BEL, CR, CSI */
	for (const char *p = out; *p; p++) {
		unsigned char c = (unsigned char)*p;
		assert_true(c >= 0x20 || c == '\n');
		assert_true(c != 0x7f);
	}
	assert_non_null(strstr(out, "\\x1b"));
	assert_null(strstr(out, "\xc2\x9b")); /* C1 CSI, as UTF-8 */
	assert_non_null(strstr(out, "13:52:23.123"));
	assert_non_null(strstr(out, "critical"));
	assert_non_null(strstr(out, "sh\\x1b]0;pwned\\x07"));
	assert_non_null(strstr(out, "\\u009b6n"));
	/* exactly one line */
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));

	/* with colour: escapes only from the renderer, the text still escaped */
	assert_int_equal(run(hostile, strlen(hostile), 4096, false, true, 0, out, sizeof(out), err), 0);
	assert_memory_equal(out, "\x1b[", 2);
	assert_null(strstr(out, "\x1b[2J"));
	assert_null(strstr(out, "\x1b]0;"));
}

static void test_view_width_and_chain(void **state)
{
	static char wide[8192], narrow[8192];
	char err[256];
	const char *inc =
		"VIGIL-TAIL 1 OK\n"
		"{\"@timestamp\":\"2026-12-04T13:52:23.123456789Z\",\"event\":{\"kind\":\"incident\"},"
		"\"vigil\":{\"severity\":\"critical\",\"incident\":{\"chain\":"
		"\"shell from redis-server -> metadata access -> OOM kill\"}},"
		"\"container\":{\"name\":\"redis\"},\"process\":{\"name\":\"redis-server\",\"pid\":7},"
		"\"message\":\"incident grew\"}\n"
		"not json at all\n"
		"VIGIL-TAIL 1 END\n";

	assert_int_equal(run(inc, strlen(inc), 4096, false, false, 0, wide, sizeof(wide), err), 0);
	assert_non_null(strstr(wide, "shell from redis-server -> metadata access -> OOM kill"));
	assert_int_equal(strchr(wide, '\n') - wide + 1, (long)strlen(wide)); /* junk line skipped */
	assert_int_equal(run(inc, strlen(inc), 4096, false, false, 100, narrow, sizeof(narrow), err), 0);
	assert_true(strlen(narrow) < strlen(wide));
	/* the summary is cut, not dropped: its start is there, its end is not */
	assert_non_null(strstr(narrow, "shell from redis"));
	assert_null(strstr(narrow, "OOM kill"));
}

static void test_overlong_line_skipped(void **state)
{
	static char out[4096];
	char err[256];
	size_t big = 300 * 1024;
	char *s = malloc(big + 128);
	size_t n = 0;

	n += (size_t)sprintf(s, "VIGIL-TAIL 1 OK\n{\"x\":\"");
	memset(s + n, 'a', big);
	n += big;
	n += (size_t)sprintf(s + n, "\"}\n{\"ok\":1}\nVIGIL-TAIL 1 END\n");
	assert_int_equal(run(s, n, 65536, true, false, 0, out, sizeof(out), err), 0);
	assert_string_equal(out, "{\"ok\":1}\n");
	free(s);
}

struct blocked {
	int in, out;
	_Atomic pid_t tid;
	int rc;
};

static void *stream_to_pipe(void *arg)
{
	struct blocked *b = arg;
	struct vg_tailcli_opts o = { .json = true };
	FILE *out = fdopen(b->out, "w");
	char err[256];

	atomic_store(&b->tid, gettid());
	/* the pipe stands in for the terminal: width stays 0 (no ioctl) */
	b->rc = vg_tailcli_stream(b->in, out, NULL, &o, false, 0, b->out, err, sizeof(err));
	fclose(out);
	return NULL;
}

/* Whether thread tid sleeps in write(2), from /proc: 0 no, 1 yes, -1 unknown. */
static int in_write(pid_t tid)
{
	char path[64], buf[32] = "";
	FILE *f;
	long nr;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	if (sscanf(buf, "%ld ", &nr) != 1)
		return 0; /* "running" */
	return nr == SYS_write || nr == SYS_writev;
}

/* Whether SIGWINCH waits for thread tid, from /proc: 0 no, 1 yes, -1 gone. */
static int winch_pending(pid_t tid)
{
	char path[64], buf[256];
	int pending = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "SigPnd:", 7))
			pending = (strtoull(buf + 7, NULL, 16) >> (SIGWINCH - 1)) & 1;
	fclose(f);
	return pending;
}

static void on_signal(int sig)
{
	(void)sig;
}

/* A resize while the output is blocked (a full pipe, a paused terminal)
 * interrupts the write; the stream must carry on, not take the EINTR for
 * a reader that went away.  The caller's handler lacks SA_RESTART, as
 * vg_tailcli_main's did: the stream's own handling has to cover it. */
static void test_resize_while_blocked(void **state)
{
	const char *s = "VIGIL-TAIL 1 OK\n{\"a\":1}\n{\"b\":2}\nVIGIL-TAIL 1 END\n";
	struct sigaction plain = { .sa_handler = on_signal }, old;
	struct blocked b = { .rc = -1 };
	static char out[256 * 1024];
	size_t full = 0, got = 0;
	int p[2], sv[2], known = -1;
	pthread_t th;
	ssize_t r;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	while (write(p[1], "x", 1) == 1)
		full++;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fcntl(p[1], F_SETFL, 0), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], s, strlen(s)), (ssize_t)strlen(s));
	close(sv[1]);
	sigemptyset(&plain.sa_mask);
	assert_int_equal(sigaction(SIGWINCH, &plain, &old), 0);

	b.in = sv[0];
	b.out = p[1];
	assert_int_equal(pthread_create(&th, NULL, stream_to_pipe, &b), 0);
	for (int i = 0; i < 500 && known != 1; i++) {
		pid_t tid = atomic_load(&b.tid);

		known = tid ? in_write(tid) : 0;
		if (known < 0)
			break;
		usleep(10000);
	}
	/* the resize arrives while the first line's write sleeps; drain only
	 * once it was taken, or the write could finish before it is seen */
	if (known == 1) {
		pid_t tid = atomic_load(&b.tid);

		pthread_kill(th, SIGWINCH);
		for (int i = 0; i < 500 && winch_pending(tid) == 1; i++)
			usleep(10000);
	}
	while (got < sizeof(out) && (r = read(p[0], out + got, sizeof(out) - got)) > 0)
		got += (size_t)r;
	pthread_join(th, NULL);
	close(p[0]);
	close(sv[0]);
	sigaction(SIGWINCH, &old, NULL);
	if (known != 1)
		skip(); /* no /proc/PID/task/TID/syscall: cannot tell when it blocks */
	assert_true(got >= full);
	out[got] = '\0';
	assert_string_equal(out + full, "{\"a\":1}\n{\"b\":2}\n");
	assert_int_equal(b.rc, 0);
}

/*
 * A server that refuses before reading the filter (too many clients) and
 * closes: the send fails, and the client says why it was refused.  In a
 * child: a send that raised SIGPIPE would kill it.
 */
static int session_against(void *arg)
{
	const char *answer = arg;
	struct vg_tailcli_opts o = { .json = true };
	char err[256] = "";
	FILE *null = fopen("/dev/null", "w");
	int sv[2], rc;

	if (!null || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 10;
	if (write(sv[1], answer, strlen(answer)) != (ssize_t)strlen(answer))
		return 11;
	close(sv[1]);
	rc = vg_tailcli_session(sv[0], null, null, &o, false, 0, -1, err, sizeof(err));
	fclose(null);
	if (rc != 2)
		return 12;
	if (*answer)
		return strstr(err, "refused: VIGIL-TAIL 1 ERR too many tail clients") ? 0 : 13;
	return strstr(err, "could not send the filter to the sensor: Broken pipe") ? 0 : 14;
}

static void test_refused_before_the_filter(void **state)
{
	assert_int_equal(run_in_child(session_against, "VIGIL-TAIL 1 ERR too many tail clients\n"),
			 0);
	/* closed without a word: the send's failure is the reason */
	assert_int_equal(run_in_child(session_against, ""), 0);
}

/* Against the real server: lines out, END on shutdown, exit code 0. */
static void test_against_server(void **state)
{
	char dir[] = "/tmp/vg-tailcli-XXXXXX", path[64], line[VG_TAIL_FILTER_MAX + 1], err[256];
	static char out[4096];
	struct vg_tail_opts to = { .path = path };
	struct vg_tail *t = NULL;
	struct vg_tailcli_opts o = { .json = true };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct vg_out_meta m = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_HIGH, .ctr_id = "aaaa", .ctr_name = "web" };
	int fd, n;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	assert_int_equal(vg_tail_new(&to, NULL, &t), 0);
	snprintf(o.filter.container, sizeof(o.filter.container), "we*"); /* the wire encodes the star */
	n = vg_tail_filter_format(&o.filter, line, sizeof(line));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, line, (size_t)n), n);
	for (int i = 0; i < 500 && atomic_load(&vg_tail_counters(t)->clients) == 0; i++)
		usleep(10000);
	vg_tail_publish(t, "{\"web\":1}\n", 10, &m);
	m.ctr_name = "db";
	vg_tail_publish(t, "{\"db\":1}\n", 9, &m);
	m.ctr_name = "web";
	vg_tail_publish(t, "{\"web\":2}\n", 10, &m);
	for (int i = 0; i < 500 && atomic_load(&vg_tail_counters(t)->sent) < 2; i++)
		usleep(10000);
	vg_tail_free(&t);
	FILE *mem = fmemopen(out, sizeof(out), "w");
	assert_int_equal(vg_tailcli_stream(fd, mem, NULL, &o, false, 0, -1, err, sizeof(err)), 0);
	fclose(mem);
	close(fd);
	assert_string_equal(out, "{\"web\":1}\n{\"web\":2}\n");
	rmdir(dir);
}

/* A sensor that is stopped: its listen backlog full, the client says so at
 * once instead of waiting in connect for good; one that took the
 * connection but does not answer, after answer_ms. */
static void test_stopped_sensor(void **state)
{
	char dir[] = "/tmp/vg-tailcli-XXXXXX", path[64], err[256];
	int lfd, c[8], nc, sv[2];
	struct vg_tailcli_opts o = { .json = true, .answer_ms = 200 };
	FILE *null = fopen("/dev/null", "w");

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	lfd = fixture_full_listener(path, c, 8, &nc);
	assert_true(lfd >= 0);
	char *argv[] = { "tail", "--json", "--socket", path, NULL };
	alarm(5); /* a connect that waits would end the test here */
	assert_int_equal(vg_tailcli_main(4, argv), 2);
	alarm(0);
	for (int i = 0; i < nc; i++)
		close(c[i]);
	close(lfd);
	unlink(path);
	rmdir(dir);

	/* connected, no answer */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(vg_tailcli_stream(sv[0], null, null, &o, false, 0, -1, err, sizeof(err)), 2);
	assert_string_equal(err, "the sensor did not answer within 200 ms");
	close(sv[0]);
	close(sv[1]);
	fclose(null);
}

struct interrupted {
	int fd, rc;
	FILE *out;
	char err[256];
};

static void *stream_until_interrupted(void *arg)
{
	struct interrupted *x = arg;
	struct vg_tailcli_opts o = { 0 };

	x->rc = vg_tailcli_stream(x->fd, x->out, x->out, &o, true, 0, -1, x->err, sizeof(x->err));
	return NULL;
}

/* ^C while the stream waits for the sensor: exit code 0 and the colour
 * reset, not a process killed mid-line. */
static void test_interrupt(void **state)
{
	static char out[4096];
	struct interrupted x = { .rc = -1 };
	int sv[2];
	pthread_t th;

	/* an ignored SIGINT (a script's background job) stays ignored */
	struct sigaction now;
	signal(SIGINT, SIG_IGN);
	vg_tailcli_catch_interrupt();
	assert_int_equal(sigaction(SIGINT, NULL, &now), 0);
	assert_ptr_equal(now.sa_handler, SIG_IGN);
	assert_int_equal(sigaction(SIGTERM, NULL, &now), 0);
	assert_ptr_not_equal(now.sa_handler, SIG_DFL); /* caught */
	signal(SIGINT, SIG_DFL);
	vg_tailcli_catch_interrupt();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "VIGIL-TAIL 1 OK\n", 16), 16);
	x.fd = sv[0];
	x.out = fmemopen(out, sizeof(out), "w");
	assert_non_null(x.out);
	assert_int_equal(pthread_create(&th, NULL, stream_until_interrupted, &x), 0);
	usleep(200000); /* waiting in read by now */
	pthread_kill(th, SIGINT);
	pthread_join(th, NULL);
	fclose(x.out);
	close(sv[0]);
	close(sv[1]);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.err, "");
	assert_string_equal(out, "\x1b[0m");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_args),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_json_passthrough),
		cmocka_unit_test(test_cut_off_and_refused),
		cmocka_unit_test(test_view_escapes_hostile_text),
		cmocka_unit_test(test_view_width_and_chain),
		cmocka_unit_test(test_overlong_line_skipped),
		cmocka_unit_test(test_resize_while_blocked),
		cmocka_unit_test(test_refused_before_the_filter),
		cmocka_unit_test(test_against_server),
		cmocka_unit_test(test_stopped_sensor),
		cmocka_unit_test(test_interrupt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
