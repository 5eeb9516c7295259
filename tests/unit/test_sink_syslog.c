// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"

#include "vigil/sink_syslog.h"
#include "vigil/sinks.h"

/* 2026-12-04T13:52:23.123456789Z */
#define T0 1796392343123456789ull

static void test_format_rfc5424(void **state)
{
	char out[512];
	const char *json = "{\"event\":{\"kind\":\"alert\"}}\n";
	struct vg_syslog_msg m = {
		.pri = vg_syslog_pri(3, VG_OUT_SEV_CRITICAL),
		.wall_ns = T0,
		.hostname = "node 1\x1b",
		.app = "vigil",
		.procid = 42,
		.msgid = "alert",
		.msg = json,
		.msg_len = strlen(json),
	};
	ssize_t n = vg_syslog_format(out, sizeof(out), &m, -1);

	assert_true(n > 0);
	out[n] = '\0';
	/* daemon.crit = 3*8+2; no trailing newline; spaces and ESC in the
	 * hostname cannot break the header */
	assert_string_equal(out, "<26>1 2026-12-04T13:52:23.123456Z node_1_ vigil 42 alert - "
				 "{\"event\":{\"kind\":\"alert\"}}");

	n = vg_syslog_format(out, sizeof(out), &m, VG_SYSLOG_LF);
	assert_int_equal(out[n - 1], '\n');
	m.hostname = "";
	m.procid = 0;
	m.msgid = NULL;
	n = vg_syslog_format(out, sizeof(out), &m, -1);
	out[n] = '\0';
	assert_non_null(strstr(out, "Z - vigil - - - {"));
}

/* Local time as UTC for a test; returns the TZ to give tz_restore. */
static char *tz_utc(void)
{
	char *tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	setenv("TZ", "UTC0", 1);
	tzset();
	return tz;
}

static void tz_restore(char *tz)
{
	if (tz)
		setenv("TZ", tz, 1);
	else
		unsetenv("TZ");
	free(tz);
	tzset();
}

/* RFC 3164's TAG is at most 32 characters and holds nothing that ends it
 * (':', '['); its HOSTNAME has no domain */
static void test_format_3164_tag_host(void **state)
{
	char out[512], *tz = tz_utc();
	struct vg_syslog_msg m = {.pri = 14, .wall_ns = T0, .hostname = "node1.example.com",
				  .app = "a:b[c]0123456789012345678901234567890", .procid = 7,
				  .msg = "{}", .msg_len = 2, .format = VG_SYSLOG_FMT_3164};
	ssize_t n;

	n = vg_syslog_format(out, sizeof(out), &m, -1);
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "<14>Dec  4 13:52:23 node1 a_b_c_01234567890123456789012345[7]: {}");
	/* the local form has no HOSTNAME, the same TAG */
	m.format = VG_SYSLOG_FMT_LOCAL;
	n = vg_syslog_format(out, sizeof(out), &m, -1);
	out[n] = '\0';
	assert_string_equal(out, "<14>Dec  4 13:52:23 a_b_c_01234567890123456789012345[7]: {}");
	tz_restore(tz);
}

static void test_octet_counting_prefix(void **state)
{
	char out[256];
	struct vg_syslog_msg m = { .pri = 14, .wall_ns = T0, .hostname = "h", .app = "a",
				   .msgid = "event", .msg = "{}", .msg_len = 2 };
	ssize_t n = vg_syslog_format(out, sizeof(out), &m, VG_SYSLOG_OCTET);
	unsigned len;
	int used;

	assert_true(n > 0);
	out[n] = '\0';
	assert_int_equal(sscanf(out, "%u %n", &len, &used), 1);
	assert_int_equal((size_t)used + len, (size_t)n);
	assert_memory_equal(out + used, "<14>1 ", 6);
	/* too small a buffer is an error, not a cut message */
	assert_int_equal(vg_syslog_format(out, 20, &m, VG_SYSLOG_OCTET), -ENOSPC);
}

static void test_pri_and_facility(void **state)
{
	assert_int_equal(vg_syslog_facility("local0"), 16);
	assert_int_equal(vg_syslog_facility("AUTH"), 4);
	assert_int_equal(vg_syslog_facility("7"), 7);
	assert_int_equal(vg_syslog_facility("24"), -1);
	assert_int_equal(vg_syslog_facility("nope"), -1);
	assert_int_equal(vg_syslog_pri(16, VG_OUT_SEV_INFO), 134);
	assert_int_equal(vg_syslog_pri(16, VG_OUT_SEV_HIGH), 131);
	assert_int_equal(vg_syslog_pri(0, VG_OUT_SEV_LOW), 29); /* default daemon */
}

static void test_parse_target(void **state)
{
	struct vg_syslog_opts o;

	memset(&o, 0, sizeof(o));
	assert_int_equal(vg_syslog_parse_target("tcp://127.0.0.1:6514", &o), 0);
	assert_int_equal(o.transport, VG_SYSLOG_TCP);
	assert_string_equal(o.host, "127.0.0.1");
	assert_string_equal(o.port, "6514");
	assert_int_equal(vg_syslog_parse_target("udp://[::1]", &o), 0);
	assert_int_equal(o.transport, VG_SYSLOG_UDP);
	assert_string_equal(o.host, "::1");
	assert_string_equal(o.port, "514");
	assert_int_equal(vg_syslog_parse_target("unix:/dev/log", &o), 0);
	assert_int_equal(o.transport, VG_SYSLOG_UNIX);
	assert_string_equal(o.path, "/dev/log");
	assert_int_equal(vg_syslog_parse_target("tcp://::1:514", &o), -EINVAL);
	assert_int_equal(vg_syslog_parse_target("tcp://10.0.0.1:0", &o), -EINVAL);
	assert_int_equal(vg_syslog_parse_target("tcp://10.0.0.1:99999", &o), -EINVAL);
	assert_int_equal(vg_syslog_parse_target("tcp://:514", &o), -EINVAL);
	assert_int_equal(vg_syslog_parse_target("unix:relative", &o), -EINVAL);
	assert_int_equal(vg_syslog_parse_target("http://h", &o), -EINVAL);
	/* addresses only: the static sensor has no resolver */
	assert_int_equal(vg_syslog_parse_target("tcp://logs.example.com:514", &o), -EINVAL);
	assert_int_equal(vg_syslog_parse_target("udp://localhost:514", &o), 0);
}

static int listen_tcp(unsigned short *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Read exactly one octet-counted frame; returns the MSG part in out. */
static int read_frame(int fd, char *out, size_t cap)
{
	char digits[16];
	size_t nd = 0, len, got = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		char c;

		if (poll(&p, 1, 5000) != 1 || read(fd, &c, 1) != 1)
			return -1;
		if (c == ' ')
			break;
		if (c < '0' || c > '9' || nd + 1 >= sizeof(digits))
			return -2;
		digits[nd++] = c;
	}
	digits[nd] = '\0';
	len = strtoul(digits, NULL, 10);
	if (len >= cap)
		return -3;
	while (got < len) {
		if (poll(&p, 1, 5000) != 1)
			return -1;
		ssize_t n = read(fd, out + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	out[len] = '\0';
	return (int)len;
}

static const char *msg_of(const char *frame)
{
	/* MSG follows the 7th space-separated header field ("-" SD) */
	const char *p = frame;

	for (int i = 0; i < 7 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p;
}

static void test_tcp_octet_counting_real_socket(void **state)
{
	unsigned short port;
	int lfd = listen_tcp(&port), cfd;
	struct vg_syslog_opts o = { .facility = 16 };
	struct vg_syslog *s = NULL;
	char target[64], frame[1024];
	/* a message holding a space, digits and an escaped newline: octet
	 * counting must not care */
	const char *a = "{\"message\":\"12 34\\n<13>1 fake\"}\n";
	const char *b = "{\"n\":2}";

	snprintf(target, sizeof(target), "tcp://127.0.0.1:%u", port);
	assert_int_equal(vg_syslog_parse_target(target, &o), 0);
	assert_int_equal(vg_syslog_open(&o, &s), 0);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_int_equal(vg_syslog_send(s, a, strlen(a), VG_OUT_SEV_CRITICAL, VG_OUT_ALERT, T0), 0);
	assert_int_equal(vg_syslog_send(s, b, strlen(b), VG_OUT_SEV_INFO, VG_OUT_EVENT, T0), 0);

	assert_true(read_frame(cfd, frame, sizeof(frame)) > 0);
	assert_memory_equal(frame, "<130>1 2026-12-04T13:52:23.123456Z ", 35);
	assert_non_null(strstr(frame, " vigil "));
	assert_non_null(strstr(frame, " alert - "));
	assert_string_equal(msg_of(frame), "{\"message\":\"12 34\\n<13>1 fake\"}");
	assert_true(read_frame(cfd, frame, sizeof(frame)) > 0);
	assert_memory_equal(frame, "<134>1 ", 7);
	assert_string_equal(msg_of(frame), "{\"n\":2}");

	/* the collector goes away: the next sends report a lost connection */
	close(cfd);
	close(lfd);
	int rc = 0;
	for (int i = 0; i < 50 && rc == 0; i++)
		rc = vg_syslog_send(s, b, strlen(b), VG_OUT_SEV_INFO, VG_OUT_EVENT, T0);
	assert_true(rc < 0);
	assert_true(rc != -EMSGSIZE && rc != -ENOBUFS);
	vg_syslog_close(&s);
	assert_null(s);
}

static void test_connect_refused(void **state)
{
	unsigned short port;
	int lfd = listen_tcp(&port);
	struct vg_syslog_opts o = { 0 };
	struct vg_syslog *s = NULL;
	char target[64];

	close(lfd); /* nothing listens there now */
	snprintf(target, sizeof(target), "tcp://127.0.0.1:%u", port);
	assert_int_equal(vg_syslog_parse_target(target, &o), 0);
	assert_int_equal(vg_syslog_open(&o, &s), -ECONNREFUSED);
	assert_null(s);
}

/* A unix datagram bound at path, for a sink to send to. */
static int dgram_at(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void test_unix_datagram(void **state)
{
	char path[] = "/tmp/vg-syslog-XXXXXX", sock[64], dgram[1024];
	struct vg_syslog_opts o = { 0 };
	struct vg_syslog *s = NULL;
	int fd;
	ssize_t n;

	assert_non_null(mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/log", path);
	fd = dgram_at(sock);
	snprintf(o.path, sizeof(o.path), "%s", sock);
	o.transport = VG_SYSLOG_UNIX;
	assert_int_equal(vg_syslog_open(&o, &s), 0);
	assert_int_equal(vg_syslog_send(s, "{\"x\":1}\n", 8, VG_OUT_SEV_HIGH, VG_OUT_ALERT, T0), 0);
	n = recv(fd, dgram, sizeof(dgram) - 1, 0);
	assert_true(n > 0);
	dgram[n] = '\0';
	/* one bare message per datagram, in the local syslog(3) form that
	 * /dev/log readers parse: "<PRI>Mmm dd hh:mm:ss vigil[PID]: MSG" */
	char want[64];
	snprintf(want, sizeof(want), " vigil[%d]: {\"x\":1}", (int)getpid());
	assert_memory_equal(dgram, "<27>", 4);
	assert_int_equal(dgram[7], ' ');
	assert_int_equal(dgram[13], ':');
	assert_string_equal(dgram + 19, want);
	vg_syslog_close(&s);

	/* format=rfc5424 on a unix socket: the RFC 5424 header */
	o.format = VG_SYSLOG_FMT_5424;
	assert_int_equal(vg_syslog_open(&o, &s), 0);
	assert_int_equal(vg_syslog_send(s, "{\"x\":2}", 7, VG_OUT_SEV_HIGH, VG_OUT_ALERT, T0), 0);
	n = recv(fd, dgram, sizeof(dgram) - 1, 0);
	assert_true(n > 0);
	dgram[n] = '\0';
	assert_memory_equal(dgram, "<27>1 2026-12-04T13:52:23.123456Z ", 34);
	assert_string_equal(msg_of(dgram), "{\"x\":2}");
	vg_syslog_close(&s);
	close(fd);
	unlink(sock);
	rmdir(path);
}

/*
 * /dev/log as a stream socket (syslog-ng's unix-stream()): connected to as
 * one, each message in the local form ended by a NUL byte, as syslog(3)
 * sends them; the reader's close is seen.
 */
static void test_unix_stream(void **state)
{
	char dir[] = "/tmp/vg-syslog-XXXXXX", sock[64], got[512], want[128];
	struct vg_syslog_opts o = { .transport = VG_SYSLOG_UNIX };
	struct vg_syslog *s = NULL;
	struct pollfd p = { .events = POLLIN };
	size_t n = 0;
	int lfd, cfd;

	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/log", dir);
	lfd = fixture_listen(sock);
	assert_true(lfd >= 0);
	snprintf(o.path, sizeof(o.path), "%s", sock);
	assert_int_equal(vg_syslog_open(&o, &s), 0);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_true(vg_syslog_alive(s));
	assert_int_equal(vg_syslog_send(s, "{\"x\":1}\n", 8, VG_OUT_SEV_HIGH, VG_OUT_ALERT, T0), 0);
	assert_int_equal(vg_syslog_send(s, "{\"y\":2}", 7, VG_OUT_SEV_INFO, VG_OUT_EVENT, T0), 0);
	p.fd = cfd;
	for (int ends = 0; ends < 2;) {
		ssize_t r;

		assert_int_equal(poll(&p, 1, 2000), 1);
		r = read(cfd, got + n, sizeof(got) - n);
		assert_true(r > 0);
		for (ssize_t i = 0; i < r; i++)
			ends += got[n + (size_t)i] == '\0';
		n += (size_t)r;
	}
	/* "<27>Dec  4 13:52:23 vigil[PID]: {"x":1}\0<30>...: {"y":2}\0" */
	snprintf(want, sizeof(want), " vigil[%d]: {\"x\":1}", (int)getpid());
	assert_memory_equal(got, "<27>", 4);
	assert_string_equal(got + 19, want);
	snprintf(want, sizeof(want), " vigil[%d]: {\"y\":2}", (int)getpid());
	assert_memory_equal(got + strlen(got) + 1, "<30>", 4);
	assert_string_equal(got + strlen(got) + 1 + 19, want);
	assert_int_equal(n, 2 * (19 + strlen(want) + 1));
	close(cfd);
	assert_false(vg_syslog_alive(s));
	vg_syslog_close(&s);
	close(lfd);
	unlink(sock);
	rmdir(dir);
}

/*
 * format=rfc3164: the BSD form, "<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG"
 * in the host's local time (UTC here), for collectors that take nothing
 * newer; unlike the local form, it names the sending host.
 */
static int udp_at(unsigned short *port);

/* RFC 3164 goes to a network collector; a unix socket's reader (journald,
 * rsyslog's imuxsock) parses the local form, so it is refused there */
static void test_rfc3164(void **state)
{
	struct vg_out_meta meta = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_HIGH, .wall_ns = T0 };
	char dir[] = "/tmp/vg-syslog-XXXXXX", sock[64], spec[128], got[1024], want[512];
	char host[256] = "", *tz = tz_utc();
	struct pollfd p = { .events = POLLIN };
	struct vg_sinks *set = NULL;
	ssize_t n;

	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	for (char *c = host; *c; c++) /* as the header has it: no spaces */
		*c = *c > 32 && *c < 127 ? *c : '_';
	if (host[0] != '.') /* nor a domain */
		host[strcspn(host, ".")] = '\0';
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/log", dir);
	int ufd = dgram_at(sock);
	snprintf(spec, sizeof(spec), "syslog:unix:%s,format=rfc3164,facility=local0,app=vg", sock);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "format=local"));
	close(ufd);
	unsigned short port = 0;
	p.fd = udp_at(&port);
	snprintf(spec, sizeof(spec), "syslog:udp://127.0.0.1:%u,format=rfc3164,facility=local0,app=vg",
		 port);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	vg_sinks_emit(set, "{\"a\":1}\n", 8, &meta);
	vg_sinks_kick(set);
	assert_int_equal(poll(&p, 1, 2000), 1);
	n = recv(p.fd, got, sizeof(got) - 1, 0);
	assert_true(n > 0);
	got[n] = '\0';
	snprintf(want, sizeof(want), "<131>Dec  4 13:52:23 %s vg[%d]: {\"a\":1}", host,
		 (int)getpid());
	assert_string_equal(got, want);
	assert_int_equal(vg_sinks_add(set, "syslog:udp://127.0.0.1:1,format=rfc3339"), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "rfc5424, rfc3164 or local"));
	vg_sinks_free(&set);
	close(p.fd);
	unlink(sock);
	rmdir(dir);
	tz_restore(tz);
}

/* A syslog sink on the collector listening on lfd: connected (*cfd), and
 * its first line {"a":1} received there. */
static struct vg_sinks *sink_first_line(int lfd, const char *spec, int *cfd)
{
	struct vg_out_meta meta = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_CRITICAL };
	struct vg_sinks *set = NULL;
	char frame[1024];

	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	*cfd = accept(lfd, NULL, NULL);
	assert_true(*cfd >= 0);
	vg_sinks_emit(set, "{\"a\":1}\n", 8, &meta);
	vg_sinks_kick(set);
	assert_true(read_frame(*cfd, frame, sizeof(frame)) > 0);
	assert_string_equal(msg_of(frame), "{\"a\":1}");
	return set;
}

/* The whole sink: thread, queue, reconnect after the collector restarts.
 * Each emit is a round of its own, ended by a kick, as the agent does. */
static void test_sink_reconnects(void **state)
{
	unsigned short port;
	int lfd = listen_tcp(&port), cfd;
	struct vg_sinks *set;
	char spec[96], frame[1024];
	struct vg_out_meta meta = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_CRITICAL };
	const struct vg_sink_counters *c;

	snprintf(spec, sizeof(spec), "syslog:tcp://127.0.0.1:%u,facility=local0", port);
	set = sink_first_line(lfd, spec, &cfd);
	c = vg_sinks_counters(set, 0);

	/* collector restarts: the connection breaks, lines are lost (counted)
	 * until the sink reconnects, then flow again */
	close(cfd);
	int got = 0;
	for (int i = 0; i < 400 && !got; i++) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		vg_sinks_emit(set, "{\"b\":2}\n", 8, &meta);
		vg_sinks_kick(set);
		if (poll(&p, 1, 25) == 1) {
			cfd = accept(lfd, NULL, NULL);
			got = cfd >= 0;
		}
	}
	assert_true(got);
	vg_sinks_emit(set, "{\"c\":3}\n", 8, &meta);
	vg_sinks_kick(set);
	/* lines emitted after the reconnect arrive; "c" is among them */
	int seen_c = 0;
	for (int i = 0; i < 500 && !seen_c; i++) {
		if (read_frame(cfd, frame, sizeof(frame)) <= 0)
			break;
		seen_c = !strcmp(msg_of(frame), "{\"c\":3}");
	}
	assert_true(seen_c);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	assert_true(atomic_load(&c->reconnects) >= 1);
	assert_true(atomic_load(&c->errors) >= 1);
	assert_int_equal(atomic_load(&c->queued), atomic_load(&c->written) + atomic_load(&c->dropped));
	vg_sinks_free(&set);
	close(cfd);
	close(lfd);
}

/*
 * The collector closes its end of cfd, as one does with an idle
 * connection, and this returns once the other side's kernel has the FIN
 * (it acknowledged it: FIN_WAIT2), so what the sink does next is not a race.
 */
static void peer_closes(int cfd)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	struct timespec ts = { .tv_nsec = 1000000L };
	int i;

	assert_int_equal(shutdown(cfd, SHUT_WR), 0);
	for (i = 0; i < 2000; i++) {
		assert_int_equal(getsockopt(cfd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
		if (ti.tcpi_state == TCP_FIN_WAIT2)
			break;
		nanosleep(&ts, NULL);
	}
	assert_true(i < 2000);
	close(cfd);
}

/*
 * A collector that closes in the middle of a batch: this binary links with
 * --wrap=send (Makefile), and the send of a message holding close_after
 * closes the collector's end close_cfd (what it received read first, so
 * the close is a clean FIN) and returns once the sink's kernel has it.
 * The sink's next line is then the first one a check before each line can
 * save.
 */
static const char *close_after;
static atomic_int close_cfd = -1;

ssize_t __real_send(int fd, const void *buf, size_t n, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags);

/*
 * Before the send of a message holding break_at, break_fn(fd) runs on the
 * sink's socket (once): the connection is lost after the sink's check
 * before the line, before the line goes out.
 */
static const char *break_at;
static void (*break_fn)(int fd);

ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags)
{
	void (*fn)(int) = break_fn;

	if (fn && memmem(buf, n, break_at, strlen(break_at))) {
		break_fn = NULL;
		fn(fd);
	}
	ssize_t r = __real_send(fd, buf, n, flags);
	int cfd = atomic_load(&close_cfd);
	char sink[4096];
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	struct timespec ts = {.tv_nsec = 1000000L};

	if (r <= 0 || cfd < 0 || !memmem(buf, n, close_after, strlen(close_after)))
		return r;
	atomic_store(&close_cfd, -1);
	while (recv(cfd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	shutdown(cfd, SHUT_WR);
	for (int i = 0; i < 2000; i++) {
		if (getsockopt(cfd, IPPROTO_TCP, TCP_INFO, &ti, &tl) || ti.tcpi_state == TCP_FIN_WAIT2)
			break;
		nanosleep(&ts, NULL);
	}
	close(cfd);
	return r;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The check before a batch: open, closed by the peer, refused (UDP). */
static void test_alive(void **state)
{
	unsigned short port;
	int lfd = listen_tcp(&port), cfd, ufd;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct vg_syslog_opts o = { 0 };
	struct vg_syslog *s = NULL;
	char target[64];

	snprintf(target, sizeof(target), "tcp://127.0.0.1:%u", port);
	assert_int_equal(vg_syslog_parse_target(target, &o), 0);
	assert_int_equal(vg_syslog_open(&o, &s), 0);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_true(vg_syslog_alive(s));
	assert_int_equal(write(cfd, "x", 1), 1); /* data waiting: still open */
	assert_true(vg_syslog_alive(s));
	vg_syslog_close(&s);
	close(cfd);
	assert_int_equal(vg_syslog_open(&o, &s), 0);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	peer_closes(cfd);
	assert_false(vg_syslog_alive(s));
	vg_syslog_close(&s);
	close(lfd);

	/* UDP to a port nobody listens on: the first datagram goes, the
	 * ICMP reply that comes back marks the socket */
	ufd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(ufd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(ufd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(target, sizeof(target), "udp://127.0.0.1:%u", ntohs(sa.sin_port));
	assert_int_equal(vg_syslog_parse_target(target, &o), 0);
	assert_int_equal(vg_syslog_open(&o, &s), 0);
	assert_true(vg_syslog_alive(s)); /* a receiver is there */
	vg_syslog_close(&s);
	close(ufd);
	assert_int_equal(vg_syslog_open(&o, &s), 0);
	assert_int_equal(vg_syslog_send(s, "{}", 2, VG_OUT_SEV_INFO, VG_OUT_EVENT, T0), 0);
	bool alive = true;
	for (int i = 0; i < 200 && alive; i++) {
		struct timespec ts = { .tv_nsec = 5000000L };

		alive = vg_syslog_alive(s);
		if (alive)
			nanosleep(&ts, NULL);
	}
	assert_false(alive);
	vg_syslog_close(&s);
}

/*
 * A collector that accepts and closes at once (a TLS-only port, a load
 * balancer without backends, a session limit): a line every 5 ms for a
 * second.  The sink backs off on every broken connection (100, 200,
 * 400 ms fit in that second) instead of reconnecting for every other
 * line (about 100 connections here); a slower machine makes fewer, never
 * more.  Every line is counted once.
 */
static void test_sink_backs_off_when_collector_closes(void **state)
{
	unsigned short port;
	int lfd = listen_tcp(&port), accepts = 0;
	struct vg_sinks *set = NULL;
	char spec[96];
	struct vg_out_meta meta = { .kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO };
	const struct vg_sink_counters *c;
	double t0 = mono_s();

	snprintf(spec, sizeof(spec), "syslog:tcp://127.0.0.1:%u", port);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	c = vg_sinks_counters(set, 0);
	for (int i = 0; i < 400 && mono_s() - t0 < 1.0; i++) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		vg_sinks_emit(set, "{\"n\":1}\n", 8, &meta);
		vg_sinks_kick(set);
		if (poll(&p, 1, 5) == 1) {
			int cfd = accept(lfd, NULL, NULL);

			assert_true(cfd >= 0);
			accepts++;
			close(cfd);
		}
	}
	assert_true(accepts >= 1);
	assert_true(accepts <= 8);
	/* the last connection stays in the backlog: what waited goes there */
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	assert_true(atomic_load(&c->errors) >= 1);
	assert_int_equal(atomic_load(&c->queued), atomic_load(&c->written) + atomic_load(&c->dropped));
	vg_sinks_free(&set);
	close(lfd);
}

/* The same over UDP to a closed port: each refusal is noticed before the
 * next batch, and backed off from. */
static void test_sink_backs_off_when_udp_refused(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int ufd = socket(AF_INET, SOCK_DGRAM, 0);
	struct vg_sinks *set = NULL;
	char spec[96];
	struct vg_out_meta meta = { .kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO };
	struct timespec ts = { .tv_nsec = 5000000L };
	double t0 = mono_s();

	assert_int_equal(bind(ufd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(ufd, (struct sockaddr *)&sa, &sl), 0);
	close(ufd); /* nothing listens there now */
	snprintf(spec, sizeof(spec), "syslog:udp://127.0.0.1:%u", ntohs(sa.sin_port));
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	for (int i = 0; i < 400 && mono_s() - t0 < 1.0; i++) {
		vg_sinks_emit(set, "{\"n\":1}\n", 8, &meta);
		vg_sinks_kick(set);
		nanosleep(&ts, NULL);
	}
	const struct vg_sink_counters *c = vg_sinks_counters(set, 0);
	assert_true(atomic_load(&c->errors) >= 1);
	assert_true(atomic_load(&c->reconnects) <= 8);
	vg_sinks_free(&set);
}

/*
 * Breakers for break_fn.  They run on the sink's thread, where an assertion
 * cannot stop the test: what they fail to do, the test finds missing.
 */

/* Wait up to 2 s for the socket fd to hold an error or a hangup. */
static void wait_error(int fd)
{
	struct pollfd p = { .fd = fd };

	poll(&p, 1, 2000);
}

static int reset_cfd = -1;

/* The collector resets the connection (closed with SO_LINGER 0). */
static void collector_resets(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(reset_cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(reset_cfd);
	wait_error(fd);
}

/* The collector sends said (n bytes, none when 0), then closes the
 * connection the sink holds, or with reset resets it as the sink sends
 * its next line; that line must reach a new one. */
static void close_then_next(const char *said, size_t n, bool reset)
{
	unsigned short port;
	int lfd = listen_tcp(&port), cfd;
	struct vg_sinks *set;
	char spec[96], frame[1024];
	struct vg_out_meta meta = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_CRITICAL };
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	const struct vg_sink_counters *c;

	snprintf(spec, sizeof(spec), "syslog:tcp://127.0.0.1:%u", port);
	set = sink_first_line(lfd, spec, &cfd);
	c = vg_sinks_counters(set, 0);
	if (n)
		assert_int_equal(write(cfd, said, n), (ssize_t)n);
	if (reset) {
		reset_cfd = cfd;
		break_at = "{\"b\":2}";
		break_fn = collector_resets;
	} else {
		peer_closes(cfd);
	}
	vg_sinks_emit(set, "{\"b\":2}\n", 8, &meta);
	vg_sinks_kick(set);
	assert_int_equal(poll(&p, 1, 3000), 1);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_true(read_frame(cfd, frame, sizeof(frame)) > 0);
	assert_string_equal(msg_of(frame), "{\"b\":2}");
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	assert_int_equal(atomic_load(&c->written), 2);
	assert_int_equal(atomic_load(&c->dropped), 0);
	assert_int_equal(atomic_load(&c->reconnects), 1);
	vg_sinks_free(&set);
	close(cfd);
	close(lfd);
}

/*
 * A collector that closed an idle connection: the sink notices before it
 * takes the next line, which arrives on a new connection instead of being
 * sent into the old one, counted written and lost.
 */
static void test_sink_notices_idle_close(void **state)
{
	(void)state;
	close_then_next(NULL, 0, false);
}

/*
 * A collector that said something before it closed (a TLS-only port's
 * alert, an HTTP port's 400): the close behind those bytes is seen, and
 * the next line goes out on a new connection instead of into the dead one.
 */
static void test_sink_notices_close_after_bytes(void **state)
{
	(void)state;
	close_then_next("\x15\x03\x01\x00\x02\x02\x46", 7, false);
}

/*
 * The collector closes after the 4th line of a round of 10: the sink sees
 * the close before it sends the 5th, and that line and the rest go out on
 * a new connection.  Checked once a round, the 5th would go into the dead
 * connection (counted as written, lost) and the 6th be dropped.
 */
static void test_sink_notices_close_mid_round(void **state)
{
	unsigned short port;
	int lfd = listen_tcp(&port), cfd;
	struct vg_sinks *set;
	char spec[96], line[32], frame[1024];
	struct vg_out_meta meta = {.kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_CRITICAL};
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	const struct vg_sink_counters *c;
	int next = 5;

	snprintf(spec, sizeof(spec), "syslog:tcp://127.0.0.1:%u", port);
	set = sink_first_line(lfd, spec, &cfd);
	c = vg_sinks_counters(set, 0);
	close_after = "{\"n\":4}";
	atomic_store(&close_cfd, cfd);
	for (int i = 1; i <= 10; i++)
		vg_sinks_emit(set, line, (size_t)snprintf(line, sizeof(line), "{\"n\":%d}\n", i),
			      &meta);
	vg_sinks_kick(set);
	assert_int_equal(poll(&p, 1, 5000), 1);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	/* 5 to 10, in order, on the new connection */
	while (next <= 10) {
		char want[32];

		assert_true(read_frame(cfd, frame, sizeof(frame)) > 0);
		snprintf(want, sizeof(want), "{\"n\":%d}", next++);
		assert_string_equal(msg_of(frame), want);
	}
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	assert_int_equal(atomic_load(&c->written), 11);
	assert_int_equal(atomic_load(&c->dropped), 0);
	assert_int_equal(atomic_load(&c->reconnects), 1);
	vg_sinks_free(&set);
	close(cfd);
	close(lfd);
}

/* The datagram's message (local form or RFC 5424), waiting up to 2 s; ""
 * if none came. */
static void dgram_msg(int fd, char *dst, size_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char d[1024];
	const char *m;
	ssize_t got;

	dst[0] = '\0';
	if (poll(&p, 1, 2000) != 1 || (got = recv(fd, d, sizeof(d) - 1, 0)) <= 0)
		return;
	d[got] = '\0';
	m = strstr(d, "]: ") ? strstr(d, "]: ") + 3 : msg_of(d);
	snprintf(dst, n, "%.*s", (int)n - 1, m ? m : d);
}

/*
 * The collector restarts and binds /dev/log anew: the sink's socket is
 * still connected to the old one, and its next send is refused before
 * anything went out.  That line is sent again on a new connection, not
 * counted lost.
 */
static void test_unix_collector_restarts(void **state)
{
	struct vg_out_meta meta = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_CRITICAL };
	char dir[] = "/tmp/vg-syslog-XXXXXX", sock[64], spec[96], msg[256];
	struct vg_sinks *set = NULL;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/log", dir);
	snprintf(spec, sizeof(spec), "syslog:unix:%s", sock);
	fd = dgram_at(sock);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	vg_sinks_emit(set, "{\"a\":1}\n", 8, &meta);
	vg_sinks_kick(set);
	dgram_msg(fd, msg, sizeof(msg));
	assert_string_equal(msg, "{\"a\":1}");

	close(fd);
	unlink(sock);
	fd = dgram_at(sock);
	vg_sinks_emit(set, "{\"b\":2}\n", 8, &meta);
	vg_sinks_kick(set);
	dgram_msg(fd, msg, sizeof(msg));
	assert_string_equal(msg, "{\"b\":2}");
	const struct vg_sink_counters *c = vg_sinks_counters(set, 0);
	struct timespec ts = { .tv_nsec = 5000000L };
	/* counted just after the send: the datagram may come first */
	for (int i = 0; i < 200 && atomic_load(&c->written) < 2; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&c->dropped), 0);
	assert_int_equal(atomic_load(&c->written), 2);
	assert_int_equal(atomic_load(&c->reconnects), 1);
	vg_sinks_free(&set);
	close(fd);
	unlink(sock);
	rmdir(dir);
}

/* A UDP receiver on 127.0.0.1:port (0: any free port, set in *port), or
 * -1. */
static int udp_at(unsigned short *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons(*port) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int udp_fd = -1;
static unsigned short udp_port;

/* The collector was down a moment: a datagram sent then is refused (ICMP),
 * and the refusal waits on the sink's socket when the collector is back. */
static void udp_refusal_waits(int fd)
{
	close(udp_fd);
	__real_send(fd, "x", 1, 0);
	wait_error(fd);
	udp_fd = udp_at(&udp_port);
}

/*
 * UDP: a refusal an earlier datagram brought back comes out of the send
 * of the next line, which did not go out: it is sent again on a new
 * socket, not counted lost.
 */
static void test_sink_resends_refused_datagram(void **state)
{
	struct vg_out_meta meta = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_CRITICAL };
	struct vg_sinks *set = NULL;
	const struct vg_sink_counters *c;
	char spec[96], msg[256];

	udp_port = 0;
	udp_fd = udp_at(&udp_port);
	assert_true(udp_fd >= 0);
	snprintf(spec, sizeof(spec), "syslog:udp://127.0.0.1:%u", udp_port);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	c = vg_sinks_counters(set, 0);
	vg_sinks_emit(set, "{\"a\":1}\n", 8, &meta);
	vg_sinks_kick(set);
	dgram_msg(udp_fd, msg, sizeof(msg));
	assert_string_equal(msg, "{\"a\":1}");

	break_at = "{\"b\":2}";
	break_fn = udp_refusal_waits;
	vg_sinks_emit(set, "{\"b\":2}\n", 8, &meta);
	vg_sinks_kick(set);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	dgram_msg(udp_fd, msg, sizeof(msg));
	assert_string_equal(msg, "{\"b\":2}");
	assert_int_equal(atomic_load(&c->written), 2);
	assert_int_equal(atomic_load(&c->dropped), 0);
	assert_int_equal(atomic_load(&c->reconnects), 1);
	vg_sinks_free(&set);
	close(udp_fd);
}

/*
 * TCP: a reset that comes between the sink's check and its send of the
 * next line refuses the line before any of it went out: it is sent again
 * on a new connection, not counted lost.
 */
static void test_sink_resends_after_reset(void **state)
{
	(void)state;
	close_then_next(NULL, 0, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_rfc5424),
		cmocka_unit_test(test_octet_counting_prefix),
		cmocka_unit_test(test_pri_and_facility),
		cmocka_unit_test(test_parse_target),
		cmocka_unit_test(test_tcp_octet_counting_real_socket),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_unix_datagram),
		cmocka_unit_test(test_unix_stream),
		cmocka_unit_test(test_rfc3164),
		cmocka_unit_test(test_format_3164_tag_host),
		cmocka_unit_test(test_unix_collector_restarts),
		cmocka_unit_test(test_sink_reconnects),
		cmocka_unit_test(test_alive),
		cmocka_unit_test(test_sink_backs_off_when_collector_closes),
		cmocka_unit_test(test_sink_backs_off_when_udp_refused),
		cmocka_unit_test(test_sink_notices_idle_close),
		cmocka_unit_test(test_sink_notices_close_after_bytes),
		cmocka_unit_test(test_sink_notices_close_mid_round),
		cmocka_unit_test(test_sink_resends_refused_datagram),
		cmocka_unit_test(test_sink_resends_after_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
