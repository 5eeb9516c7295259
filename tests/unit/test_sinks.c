// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"

#include "vigil/sinks.h"
#include "vigil/stats.h"

/* the outputs' scale: a rule's "warning" is medium (ECS 47, syslog
 * warning), so min=medium keeps it and min=warning drops only low/info */
static void test_severity_words(void **state)
{
	enum vg_out_sev sev = VG_OUT_SEV_INFO;

	(void)state;
	assert_int_equal(vg_out_sev_parse("warning", &sev), 0);
	assert_int_equal(sev, VG_OUT_SEV_MEDIUM);
	assert_int_equal(vg_out_sev_parse("WARN", &sev), 0);
	assert_int_equal(sev, VG_OUT_SEV_MEDIUM);
	assert_int_equal(vg_out_sev_parse("low", &sev), 0);
	assert_int_equal(sev, VG_OUT_SEV_LOW);
	assert_int_equal(vg_out_sev_parse("3", &sev), 0);
	assert_int_equal(sev, VG_OUT_SEV_HIGH);
	assert_int_equal(vg_out_sev_parse("5", &sev), -EINVAL);
	assert_int_equal(vg_out_sev_parse("", &sev), -EINVAL);
}

static void test_spec_errors(void **state)
{
	struct vg_sinks *set = NULL;
	char spec_sock[96];

	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, "kafka:x"), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "unknown output"));
	assert_int_equal(vg_sinks_add(set, "file:"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "file:/tmp/x,size=lots"), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "size=lots"));
	assert_int_equal(vg_sinks_add(set, "file:/tmp/x,colour=red"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "stdout,min=urgent"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "syslog:tcp://127.0.0.1:1,framing=zmodem"), -EINVAL);
	/* alerts takes a yes or no too; a value that is neither says so */
	assert_int_equal(vg_sinks_add(set, "stdout,alerts=maybe"), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "alerts=maybe: 1 or 0"));
	/* framing is for TCP only: a datagram is one message, and a unix
	 * stream ends each with NUL */
	assert_int_equal(vg_sinks_add(set, "syslog:udp://127.0.0.1:1,framing=lf"), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "for syslog:tcp:// only"));
	assert_int_equal(vg_sinks_add(set, "syslog:unix:/nonexistent/log,framing=octet"), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "for syslog:tcp:// only"));
	/* gzip=1 asked of a sink that keeps no rotated file, in either order;
	 * keep=0 alone (gzip by default) or with gzip=0 gets as far as the
	 * open */
	assert_int_equal(vg_sinks_add(set, "file:/nonexistent-dir/v.json,gzip=1,keep=0"), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "keep=0"));
	assert_int_equal(vg_sinks_add(set, "file:/nonexistent-dir/v.json,keep=0,gzip=yes"), -EINVAL);
	assert_non_null(strstr(vg_sinks_error(set), "keep=0"));
	assert_int_equal(vg_sinks_add(set, "file:/nonexistent-dir/v.json,keep=0"), -ENOENT);
	assert_int_equal(vg_sinks_add(set, "file:/nonexistent-dir/v.json,gzip=0,keep=0"), -ENOENT);
	assert_int_equal(vg_sinks_add(set, "syslog:ftp://h"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "stdout,queue=12"), -EINVAL);
	/* sizes that would wrap to a small one are refused, not taken */
	assert_int_equal(vg_sinks_add(set, "stdout,queue=18014398509481988K"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "stdout,queue=99999999999999999999"), -EINVAL);
	assert_int_equal(vg_sinks_add(set, "file:/tmp/x,size=17179869184G"), -EINVAL);
	/* a file in a missing folder is refused up front */
	assert_int_equal(vg_sinks_add(set, "file:/nonexistent-dir/v.json"), -ENOENT);
	assert_non_null(strstr(vg_sinks_error(set), "/nonexistent-dir/v.json"));
	/* a socket is no file, and no FIFO waiting for its reader */
	char dir[] = "/tmp/vg-sinks-XXXXXX", sock[64];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/s", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	assert_int_equal(bind(sfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	snprintf(spec_sock, sizeof(spec_sock), "file:%s", sock);
	assert_int_equal(vg_sinks_add(set, spec_sock), -ENXIO);
	assert_non_null(strstr(vg_sinks_error(set), "a socket, not a file"));
	close(sfd);
	unlink(sock);
	rmdir(dir);
	/* a name rotation cannot rename (past NAME_MAX with ".rotating" or
	 * ".N.gz.tmp") is refused, not left to grow past size= */
	char spec[320], name[251];
	memset(name, 'a', 250);
	name[250] = '\0';
	snprintf(spec, sizeof(spec), "file:/tmp/%s", name);
	assert_int_equal(vg_sinks_add(set, spec), -ENAMETOOLONG);
	assert_non_null(strstr(vg_sinks_error(set), "too long"));
	assert_int_equal(vg_sinks_count(set), 0);
	vg_sinks_free(&set);
	assert_null(set);
}

static void test_file_sink_with_filters(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", spec[256], all[128], alerts[128], buf[1024];
	struct vg_sinks *set = NULL;
	struct vg_stats *st = NULL;
	struct vg_out_meta ev = { .kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO };
	struct vg_out_meta al = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_HIGH };
	struct vg_out_meta lo = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_LOW };
	FILE *f;
	size_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(all, sizeof(all), "%s/all.json", dir);
	snprintf(alerts, sizeof(alerts), "%s/alerts.json", dir);
	assert_int_equal(vg_stats_new(&st), 0);
	assert_int_equal(vg_sinks_new(st, &set), 0);
	snprintf(spec, sizeof(spec), "file:%s", all);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	snprintf(spec, sizeof(spec), "file:%s,alerts,min=medium,size=1M,keep=2", alerts);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	assert_int_equal(vg_sinks_count(set), 2);
	snprintf(spec, sizeof(spec), "file:%s", alerts);
	assert_string_equal(vg_sinks_name(set, 1), spec); /* options are not in the name */
	/* alerts=1 as the tail's filter line says it; alerts=0 takes all */
	snprintf(spec, sizeof(spec), "file:%s/alerts1.json,alerts=1", dir);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	snprintf(spec, sizeof(spec), "file:%s/all0.json,alerts=0", dir);
	assert_int_equal(vg_sinks_add(set, spec), 0);

	vg_sinks_emit(set, "{\"e\":1}\n", 8, &ev);
	vg_sinks_emit(set, "{\"a\":2}\n", 8, &al);
	vg_sinks_emit(set, "{\"l\":3}\n", 8, &lo);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);

	f = fopen(all, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, "{\"e\":1}\n{\"a\":2}\n{\"l\":3}\n");
	f = fopen(alerts, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, "{\"a\":2}\n");
	assert_int_equal(atomic_load(&vg_sinks_counters(set, 0)->written), 3);
	assert_int_equal(atomic_load(&vg_sinks_counters(set, 1)->written), 1);
	assert_int_equal(atomic_load(&vg_sinks_counters(set, 2)->written), 2);
	assert_int_equal(atomic_load(&vg_sinks_counters(set, 3)->written), 3);

	/* the counters reach the stats record */
	char mem[8192];
	struct vg_buf b;
	vg_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(vg_stats_encode(st, &b, 1, 10), 0);
	assert_non_null(strstr(mem, "\"written\":3"));
	vg_sinks_free(&set);
	vg_stats_free(&st);
	snprintf(buf, sizeof(buf), "rm -rf %s", dir);
	assert_int_equal(system(buf), 0);
}

/* A sink whose destination is down keeps lines queued until its queue is
 * full, then drops (counted) without ever blocking emit. */
static void test_down_sink_drops_when_full(void **state)
{
	struct vg_sinks *set = NULL;
	struct vg_out_meta al = { .kind = VG_OUT_ALERT, .severity = VG_OUT_SEV_HIGH };
	char line[100];
	int dropped = 0;

	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, "syslog:unix:/nonexistent-dir/log,queue=4K"), 0);
	for (int i = 0; i < 100; i++)
		dropped += vg_sinks_emit(set, line, sizeof(line), &al);
	const struct vg_sink_counters *c = vg_sinks_counters(set, 0);
	assert_true(dropped > 0);
	assert_int_equal(atomic_load(&c->queued) + atomic_load(&c->dropped), 100);
	assert_int_equal(atomic_load(&c->written), 0);
	assert_int_equal(atomic_load(&c->up), 0);
	/* stopped, what it still held is counted: every line is dropped */
	vg_sinks_stop(set);
	assert_int_equal(atomic_load(&c->dropped), 100);
	vg_sinks_stop(set); /* once only */
	assert_int_equal(atomic_load(&c->dropped), 100);
	vg_sinks_free(&set);
}

static size_t slurp(const char *file, char *out, size_t cap)
{
	size_t n = file_slurp(file, out, cap);

	assert_true(n != (size_t)-1);
	return n;
}

/* A set with one file sink, file:DIR/v.json[,OPTS], DIR made from dir's template. */
static struct vg_sinks *file_sink_set(char *dir, char *path, size_t pathlen, const char *opts)
{
	struct vg_sinks *set = NULL;
	char spec[192];

	assert_non_null(mkdtemp(dir));
	snprintf(path, pathlen, "%s/v.json", dir);
	snprintf(spec, sizeof(spec), "file:%s%s%s", path, opts ? "," : "", opts ? opts : "");
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	return set;
}

/* Line number i, 100 bytes with its newline. */
static size_t line100(char line[128], int i)
{
	return (size_t)snprintf(line, 128, "{\"n\":%06d,\"pad\":\"%078d\"}\n", i, 0);
}

/*
 * In a mount namespace of its own (exit 77: not possible here), the live
 * file bind-mounted on itself, as when it is shared into a container:
 * renaming it fails (EBUSY), so every rotation due fails.  The lines are
 * written all the same, and each failure is an error on the sink.
 */
static int blocked_rotation_counted(void *unused)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[64], spec[128], line[128];
	struct vg_sinks *set;
	const struct vg_sink_counters *c;
	struct vg_out_meta ev = {.kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO};
	int fd, rc = 0;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return 77;
	if (!mkdtemp(dir))
		return 2;
	snprintf(path, sizeof(path), "%s/v.json", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640)) < 0)
		return 2;
	close(fd);
	if (mount(path, path, NULL, MS_BIND, NULL))
		return 77;
	snprintf(spec, sizeof(spec), "file:%s,size=1k,keep=2", path);
	if (vg_sinks_new(NULL, &set) || vg_sinks_add(set, spec))
		return 3;
	c = vg_sinks_counters(set, 0);
	/* 100-byte lines, one round each: the 11th is past 1 KiB */
	for (int i = 0; i < 30; i++) {
		vg_sinks_emit(set, line, line100(line, i), &ev);
		vg_sinks_kick(set);
		if (vg_sinks_flush(set, 5000))
			rc = 4;
	}
	if (!rc && atomic_load(&c->written) != 30)
		rc = 5;
	if (!rc && atomic_load(&c->errors) == 0)
		rc = 6;
	vg_sinks_free(&set);
	umount(path);
	unlink(path);
	rmdir(dir);
	return rc;
}

/*
 * A FIFO that nobody reads yet: the sink starts down (opening it for
 * writing would wait for a reader, and hold the agent before it is
 * ready), and once a reader comes, the lines queued meanwhile reach it.
 */
static void test_fifo_without_reader(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[64], spec[96], line[128], got[512];
	struct vg_out_meta ev = {.kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO};
	struct vg_sinks *set = NULL;
	const struct vg_sink_counters *c;
	size_t have = 0;
	int rd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(spec, sizeof(spec), "file:%s", path);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	alarm(20); /* a sink that waits for a reader would hang here */
	assert_int_equal(vg_sinks_add(set, spec), 0);
	alarm(0);
	c = vg_sinks_counters(set, 0);
	assert_int_equal(atomic_load(&c->up), 0);
	assert_int_equal(vg_sinks_emit(set, line, line100(line, 1), &ev), 0);
	vg_sinks_kick(set);
	rd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	for (int i = 0; i < 500 && have < 100; i++) {
		ssize_t n = read(rd, got + have, sizeof(got) - have);

		if (n > 0)
			have += (size_t)n;
		else
			usleep(10000);
	}
	assert_int_equal(have, 100);
	assert_int_equal(strncmp(got, line, 100), 0);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	assert_int_equal(atomic_load(&c->written), 1);
	assert_int_equal(atomic_load(&c->dropped), 0);
	vg_sinks_free(&set);
	close(rd);
	unlink(path);
	rmdir(dir);
}

/*
 * The file is replaced by a FIFO whose reader does not read: the emitting
 * thread must not write the next round itself (it looked at the regular
 * file it held, then the write reopened the path and blocked on a full
 * pipe, and with it the whole agent).  The sink's own thread writes it.
 */
static void test_file_becomes_fifo(void **state)
{
	(void)state;
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[64], spec[96], line[1000], buf[65536];
	struct vg_out_meta ev = {.kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO};
	struct timespec ts = {.tv_nsec = 300 * 1000 * 1000L};
	struct vg_sinks *set = NULL;
	const struct vg_sink_counters *c;
	int rd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.json", dir);
	snprintf(spec, sizeof(spec), "file:%s", path);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	c = vg_sinks_counters(set, 0);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	vg_sinks_emit(set, line, sizeof(line), &ev);
	vg_sinks_kick(set);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	nanosleep(&ts, NULL); /* past the interval at which the path is looked at */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rd >= 0);
	/* 90 KB in one round: more than the pipe holds */
	alarm(10);
	for (int i = 0; i < 90; i++)
		vg_sinks_emit(set, line, sizeof(line), &ev);
	vg_sinks_kick(set);
	alarm(0);
	/* the sink's thread delivers it all once the reader reads */
	for (int i = 0; i < 500 && atomic_load(&c->written) < 91; i++) {
		while (read(rd, buf, sizeof(buf)) > 0)
			;
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000L}, NULL);
	}
	assert_int_equal(atomic_load(&c->written), 91);
	assert_int_equal(atomic_load(&c->dropped), 0);
	vg_sinks_free(&set);
	close(rd);
	unlink(path);
	rmdir(dir);
}

static void test_rotation_failure_is_an_error(void **state)
{
	int rc;

	if (geteuid() != 0)
		skip();
	rc = run_in_child(blocked_rotation_counted, NULL);
	if (rc == 77)
		skip();
	assert_int_equal(rc, 0);
}

/*
 * A round of emits to an idle file sink goes straight into its batch: 10 KB
 * through a 4 KB queue, nothing dropped (through the queue, two thirds of
 * it would be).
 */
static void test_round_skips_the_queue(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[128], line[100];
	static char buf[16384];
	struct vg_sinks *set = file_sink_set(dir, path, sizeof(path), "queue=4K");
	struct vg_out_meta ev = { .kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO };

	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	for (int i = 0; i < 100; i++)
		assert_int_equal(vg_sinks_emit(set, line, sizeof(line), &ev), 0);
	vg_sinks_kick(set);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	const struct vg_sink_counters *c = vg_sinks_counters(set, 0);
	assert_int_equal(atomic_load(&c->written), 100);
	assert_int_equal(atomic_load(&c->dropped), 0);
	assert_int_equal(slurp(path, buf, sizeof(buf)), 100 * sizeof(line));
	vg_sinks_free(&set);
	unlink(path);
	rmdir(dir);
}

/*
 * A round too big to write in the emitting thread (200 KB) goes on through
 * the queue part way: every line arrives once, in order.
 */
static void test_big_round_keeps_order(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[128], line[80];
	static char buf[512 * 1024];
	struct vg_sinks *set = file_sink_set(dir, path, sizeof(path), NULL);
	struct vg_out_meta ev = { .kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO };
	const int n = 3000;

	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < n; i++) {
			int len = snprintf(line, sizeof(line), "{\"n\":%06d,\"pad\":\"%040d\"}\n",
					   round * n + i, 0);
			assert_int_equal(vg_sinks_emit(set, line, (size_t)len, &ev), 0);
		}
		vg_sinks_kick(set);
	}
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	assert_int_equal(atomic_load(&vg_sinks_counters(set, 0)->written), 2 * n);
	slurp(path, buf, sizeof(buf));
	const char *p = buf;
	for (int i = 0; i < 2 * n; i++) {
		int got = -1;
		assert_int_equal(sscanf(p, "{\"n\":%d,", &got), 1);
		assert_int_equal(got, i);
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	assert_int_equal(*p, '\0');
	vg_sinks_free(&set);
	unlink(path);
	rmdir(dir);
}

/*
 * A round far larger than a file sink's queue (2000 lines of 100 bytes
 * through 4 KiB, no kick until the end): the emitting thread waits for
 * room instead of dropping, and every line is written, in order.
 */
static void test_file_sink_holds_a_burst(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[128], line[128];
	static char buf[256 * 1024];
	struct vg_sinks *set = file_sink_set(dir, path, sizeof(path), "queue=4K");
	struct vg_out_meta ev = {.kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO};
	const int n = 2000;
	int dropped = 0;

	for (int i = 0; i < n; i++)
		dropped += vg_sinks_emit(set, line, line100(line, i), &ev);
	vg_sinks_kick(set);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	const struct vg_sink_counters *c = vg_sinks_counters(set, 0);
	assert_int_equal(dropped, 0);
	assert_int_equal(atomic_load(&c->dropped), 0);
	assert_int_equal(atomic_load(&c->written), n);
	assert_int_equal(slurp(path, buf, sizeof(buf)), (size_t)n * 100);
	for (int i = 0; i < n; i++) {
		int got = -1;
		assert_int_equal(sscanf(buf + (size_t)i * 100, "{\"n\":%d,", &got), 1);
		assert_int_equal(got, i);
	}
	vg_sinks_free(&set);
	unlink(path);
	rmdir(dir);
}

/*
 * A file system that stops taking writes (frozen, a hung network mount):
 * this binary links with --wrap=write (Makefile), and while hang_ino is
 * set every write to that file waits until it is cleared.
 */
static atomic_ulong hang_ino;
static atomic_int hung_writers;
static atomic_int hang_nocancel; /* the wait is no cancellation point, as in
				  * a write the kernel does not interrupt */
static pthread_mutex_t hang_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hang_cv = PTHREAD_COND_INITIALIZER;

ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	struct stat sb;

	if (atomic_load(&hang_ino) && fstat(fd, &sb) == 0 && sb.st_ino == atomic_load(&hang_ino)) {
		int cs = PTHREAD_CANCEL_ENABLE;

		if (atomic_load(&hang_nocancel))
			pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
		pthread_mutex_lock(&hang_mu);
		atomic_fetch_add(&hung_writers, 1);
		while (atomic_load(&hang_ino))
			pthread_cond_wait(&hang_cv, &hang_mu);
		atomic_fetch_sub(&hung_writers, 1);
		pthread_mutex_unlock(&hang_mu);
		pthread_setcancelstate(cs, NULL);
	}
	return __real_write(fd, buf, n);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *free_set(void *arg)
{
	vg_sinks_free(arg);
	return NULL;
}

/*
 * The sink's thread stuck in a write that nothing interrupts (cancelling
 * it does not end it): stopping gives up on it after its waits and
 * returns, and the thread, once its write ends, finds the sink still
 * there.  Before, stop joined the cancelled thread without a bound.
 */
static void test_stop_leaves_a_stuck_writer(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[128], line[128];
	struct vg_sinks *set = file_sink_set(dir, path, sizeof(path), NULL);
	struct vg_out_meta ev = {.kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO};
	struct timespec until;
	struct stat sb;
	pthread_t th;
	int i, joined;

	(void)state;
	assert_int_equal(stat(path, &sb), 0);
	atomic_store(&hang_nocancel, 1);
	atomic_store(&hang_ino, (unsigned long)sb.st_ino);
	/* past what the emitting thread writes itself: the sink's thread */
	for (i = 0; i < 2000; i++)
		assert_int_equal(vg_sinks_emit(set, line, line100(line, i), &ev), 0);
	vg_sinks_kick(set);
	for (i = 0; i < 500 && atomic_load(&hung_writers) == 0; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&hung_writers), 1);

	assert_int_equal(pthread_create(&th, NULL, free_set, &set), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 15;
	joined = pthread_timedjoin_np(th, NULL, &until);
	/* let the write end either way, so nothing is left waiting */
	pthread_mutex_lock(&hang_mu);
	atomic_store(&hang_ino, 0);
	pthread_cond_broadcast(&hang_cv);
	pthread_mutex_unlock(&hang_mu);
	if (joined != 0)
		pthread_join(th, NULL);
	atomic_store(&hang_nocancel, 0);
	for (i = 0; i < 500 && atomic_load(&hung_writers) > 0; i++)
		usleep(10000);
	usleep(50000); /* the stuck thread sees stop and ends */
	assert_int_equal(joined, 0);
	assert_null(set);
	unlink(path);
	rmdir(dir);
}

/*
 * The sink's thread hangs in write() in the middle of a burst: the emitting
 * thread waits for room once (250 ms), then drops and counts instead of
 * waiting again for every line (2000 lines would take minutes); once the
 * file takes writes again the sink writes what it kept, in order, and the
 * next line without a restart.  Every line is either written or counted.
 */
static void test_hung_file_sink_drops_and_counts(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[128], line[128];
	static char buf[256 * 1024];
	struct vg_sinks *set = file_sink_set(dir, path, sizeof(path), "queue=4K");
	struct vg_out_meta ev = {.kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO};
	const int n = 2000;
	int dropped = 0;
	struct stat sb;

	/* the sink opened (and made) its file up front */
	assert_int_equal(stat(path, &sb), 0);
	atomic_store(&hang_ino, (unsigned long)sb.st_ino);

	/* a sink that held the emitter for every line would take minutes:
	 * give up after 5 s, and fail below */
	double t0 = mono_s();
	int sent = 0;
	for (; sent < n && mono_s() - t0 < 5.0; sent++)
		dropped += vg_sinks_emit(set, line, line100(line, sent), &ev);
	vg_sinks_kick(set);
	const struct vg_sink_counters *c = vg_sinks_counters(set, 0);
	int stuck = atomic_load(&hung_writers);
	unsigned long written_while_hung = atomic_load(&c->written);
	unsigned long counted = atomic_load(&c->dropped);

	pthread_mutex_lock(&hang_mu);
	atomic_store(&hang_ino, 0);
	pthread_cond_broadcast(&hang_cv);
	pthread_mutex_unlock(&hang_mu);
	/* the sink's own thread was the one stuck, not this one */
	assert_int_equal(stuck, 1);
	assert_int_equal(sent, n);
	assert_true(dropped > 0);
	assert_int_equal(counted, dropped);
	assert_int_equal(written_while_hung, 0);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	unsigned long written = atomic_load(&c->written);
	assert_int_equal(written + (unsigned long)dropped, n);

	/* what was kept is on disk whole and in order */
	size_t got = slurp(path, buf, sizeof(buf));
	assert_int_equal(got, written * 100);
	int prev = -1;
	for (unsigned long i = 0; i < written; i++) {
		int k = -1;
		assert_int_equal(sscanf(buf + i * 100, "{\"n\":%d,", &k), 1);
		assert_true(k > prev);
		prev = k;
	}

	/* recovered: the next line is written, not dropped */
	assert_int_equal(vg_sinks_emit(set, line, line100(line, n), &ev), 0);
	vg_sinks_kick(set);
	assert_int_equal(vg_sinks_flush(set, 5000), 0);
	assert_int_equal(atomic_load(&c->written), written + 1);
	assert_int_equal(slurp(path, buf, sizeof(buf)), (written + 1) * 100);
	vg_sinks_free(&set);
	unlink(path);
	rmdir(dir);
}

/* An idle sink's thread sleeps until there is something to do, and a sink
 * that is down sleeps out its backoff: no timer wakes them (a 50 ms tick
 * would show as about six wakeups a thread here). */
struct slow_reader {
	int fd;
	size_t got;
	char buf[256 * 1024];
};

/* reads a little at a time, as a slow pipeline stage does, until EOF */
static void *slow_read(void *arg)
{
	struct slow_reader *r = arg;
	ssize_t n;

	while ((n = read(r->fd, r->buf + r->got,
			 sizeof(r->buf) - r->got > 512 ? 512 : sizeof(r->buf) - r->got)) > 0) {
		r->got += (size_t)n;
		usleep(500);
	}
	return NULL;
}

/*
 * stdout handed over non-blocking (O_NONBLOCK on a pipe shared with the
 * parent) and a reader slower than the writer: the sink waits for room
 * instead of losing batches on EAGAIN, and every line arrives whole.
 */
static void test_nonblocking_stdout_waits(void **state)
{
	static struct slow_reader r;
	struct vg_out_meta ev = { .kind = VG_OUT_EVENT, .severity = VG_OUT_SEV_INFO };
	struct vg_sinks *set = NULL;
	const int n = 2000;
	char line[100];
	pthread_t th;
	int p[2], saved;

	assert_int_equal(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	assert_int_equal(fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK), 0);
	memset(&r, 0, sizeof(r));
	r.fd = p[0];
	assert_int_equal(pthread_create(&th, NULL, slow_read, &r), 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);

	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, "stdout"), 0);
	for (int i = 0; i < n; i++) {
		int len = snprintf(line, sizeof(line), "{\"n\":%06d,\"pad\":\"%060d\"}\n", i, 0);

		vg_sinks_emit(set, line, (size_t)len, &ev);
		if (i % 100 == 99)
			vg_sinks_kick(set);
	}
	vg_sinks_kick(set);
	int flushed = vg_sinks_flush(set, 30000);
	uint64_t written = atomic_load(&vg_sinks_counters(set, 0)->written);
	uint64_t dropped = atomic_load(&vg_sinks_counters(set, 0)->dropped);
	vg_sinks_free(&set);

	/* stdout back before any assertion prints */
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(p[1]);
	pthread_join(th, NULL);
	close(p[0]);
	assert_int_equal(flushed, 0);
	assert_int_equal(dropped, 0);
	assert_int_equal(written, n);
	assert_int_equal(r.got, (size_t)n * 82);
	for (int i = 0; i < n; i++) {
		int got = -1;
		assert_int_equal(sscanf(r.buf + (size_t)i * 82, "{\"n\":%d,", &got), 1);
		assert_int_equal(got, i);
		assert_int_equal(r.buf[(size_t)i * 82 + 81], '\n');
	}
}

static void test_idle_sink_sleeps(void **state)
{
	char dir[] = "/tmp/vg-sinks-XXXXXX", path[128], spec[160];
	struct vg_sinks *set = NULL;
	struct timespec ts = {.tv_nsec = 300 * 1000000L};

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.json", dir);
	snprintf(spec, sizeof(spec), "file:%s", path);
	assert_int_equal(vg_sinks_new(NULL, &set), 0);
	assert_int_equal(vg_sinks_add(set, "syslog:unix:/nonexistent-dir/log"), 0);
	assert_int_equal(vg_sinks_add(set, spec), 0);
	nanosleep(&ts, NULL); /* the threads reach their wait */
	long before = fixture_other_threads_switches();
	nanosleep(&ts, NULL);
	long woke = fixture_other_threads_switches() - before;
	vg_sinks_free(&set);
	unlink(path);
	rmdir(dir);
	/* the syslog sink that is down retries on its backoff alone (100,
	 * 200, 400 ms: one retry in this window), not every 50 ms */
	assert_true(woke <= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_severity_words),
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_file_sink_with_filters),
		cmocka_unit_test(test_down_sink_drops_when_full),
		cmocka_unit_test(test_round_skips_the_queue),
		cmocka_unit_test(test_big_round_keeps_order),
		cmocka_unit_test(test_file_sink_holds_a_burst),
		cmocka_unit_test(test_rotation_failure_is_an_error),
		cmocka_unit_test(test_fifo_without_reader),
		cmocka_unit_test(test_file_becomes_fifo),
		cmocka_unit_test(test_hung_file_sink_drops_and_counts),
		cmocka_unit_test(test_stop_leaves_a_stuck_writer),
		cmocka_unit_test(test_nonblocking_stdout_waits),
		cmocka_unit_test(test_idle_sink_sleeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
