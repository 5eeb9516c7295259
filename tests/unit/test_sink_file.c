// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "fixtures.h"

#include "vigil/sink_file.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/vg-sinkfile-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/vigil.json", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static bool exists(const char *fmt, ...)
{
	char p[256];
	va_list ap;
	struct stat sb;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	return stat(p, &sb) == 0;
}

/* whole content of a gzip file, through zlib's own reader */
static size_t gz_slurp(const char *p, char *out, size_t cap)
{
	gzFile gz = gzopen(p, "rb");
	int n;

	assert_non_null(gz);
	n = gzread(gz, out, (unsigned)cap - 1);
	assert_true(n >= 0);
	out[n] = '\0';
	assert_int_equal(gzclose(gz), Z_OK);
	return (size_t)n;
}

static size_t slurp(const char *file, char *out, size_t cap)
{
	size_t n = file_slurp(file, out, cap);

	assert_true(n != (size_t)-1);
	return n;
}

static void write_line(struct vg_file_sink *fs, int i)
{
	char line[64];
	/* 20 bytes per line */
	int n = snprintf(line, sizeof(line), "{\"n\":%02d,\"pad\":\"xx\"}\n", i);

	assert_int_equal(n, 20);
	assert_int_equal(vg_file_sink_write(fs, line, (size_t)n), n);
}

static void test_rotation_naming_and_retention(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = path, .max_bytes = 50, .keep = 3, .gzip = true };
	char buf[512];

	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	/* two 20-byte lines fit in 50 bytes, a third rotates */
	for (int i = 0; i < 12; i++)
		write_line(fs, i);
	/* files: live holds 10,11; .1 = 8,9; .2 = 6,7; .3 = 4,5; older gone */
	assert_true(exists("%s", path));
	assert_true(exists("%s.1.gz", path));
	assert_true(exists("%s.2.gz", path));
	assert_true(exists("%s.3.gz", path));
	assert_false(exists("%s.4.gz", path));
	assert_false(exists("%s.1", path));
	assert_false(exists("%s.1.gz.tmp", path));
	/* rotated files keep the live file's mode (0640), not 0666 less the umask */
	struct stat sb;
	snprintf(buf, sizeof(buf), "%s.1.gz", path);
	assert_int_equal(stat(buf, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);

	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "{\"n\":10,\"pad\":\"xx\"}\n{\"n\":11,\"pad\":\"xx\"}\n");
	gz_slurp(strcat(strcpy(buf, path), ".1.gz"), buf, sizeof(buf));
	assert_string_equal(buf, "{\"n\":08,\"pad\":\"xx\"}\n{\"n\":09,\"pad\":\"xx\"}\n");
	char p3[160];
	snprintf(p3, sizeof(p3), "%s.3.gz", path);
	gz_slurp(p3, buf, sizeof(buf));
	assert_string_equal(buf, "{\"n\":04,\"pad\":\"xx\"}\n{\"n\":05,\"pad\":\"xx\"}\n");

	struct vg_file_sink_stats st;
	vg_file_sink_stats(fs, &st);
	assert_int_equal(st.rotations, 5);
	assert_int_equal(st.compress_errors, 0);
	assert_int_equal(st.size, 40);
	vg_file_sink_close(&fs);
	assert_null(fs);
}

static void test_plain_rotation_and_reopen_appends(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = path, .max_bytes = 50, .keep = 2, .gzip = false };
	char buf[512], p1[160];

	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	for (int i = 0; i < 3; i++)
		write_line(fs, i);
	vg_file_sink_close(&fs);
	/* reopening continues the live file and its size */
	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	write_line(fs, 3); /* live had 1 line: 40 bytes, fits */
	write_line(fs, 4); /* rotates */
	vg_file_sink_close(&fs);
	snprintf(p1, sizeof(p1), "%s.1", path);
	slurp(p1, buf, sizeof(buf));
	assert_string_equal(buf, "{\"n\":02,\"pad\":\"xx\"}\n{\"n\":03,\"pad\":\"xx\"}\n");
	snprintf(p1, sizeof(p1), "%s.2", path);
	slurp(p1, buf, sizeof(buf));
	assert_string_equal(buf, "{\"n\":00,\"pad\":\"xx\"}\n{\"n\":01,\"pad\":\"xx\"}\n");
	assert_false(exists("%s.1.gz", path));
}

static void test_keep_zero_restarts_file(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = path, .max_bytes = 30, .keep = 0, .gzip = true };
	char buf[256];

	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	write_line(fs, 1);
	write_line(fs, 2);
	vg_file_sink_close(&fs);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "{\"n\":02,\"pad\":\"xx\"}\n");
	assert_false(exists("%s.1", path));
	assert_false(exists("%s.1.gz", path));
}

static void test_gzip_roundtrip_large(void **state)
{
	char src[160], dst[160];
	static char data[300000], back[300001];
	FILE *f;

	snprintf(src, sizeof(src), "%s/big", dir);
	snprintf(dst, sizeof(dst), "%s/big.gz", dir);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + (i * 7919) % 26);
	f = fopen(src, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, sizeof(data), f), sizeof(data));
	fclose(f);
	assert_int_equal(chmod(src, 0600), 0);
	assert_int_equal(vg_file_gzip(src, dst), 0);
	assert_false(exists("%s", src));
	struct stat sb;
	assert_int_equal(stat(dst, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(gz_slurp(dst, back, sizeof(back)), sizeof(data));
	assert_memory_equal(back, data, sizeof(data));
	/* a missing source is an error and creates nothing */
	assert_int_equal(vg_file_gzip(src, dst), -ENOENT);
}

/*
 * The live file bind-mounted over itself, as when it is mounted into a
 * container: it cannot be renamed or removed (EBUSY).  A rotation then
 * fails without touching the rotated files, and the next try waits for
 * another max_bytes.  Needs root for the mount, in a mount namespace of a
 * child's own; the child's exit code is the number of the failed check.
 */
static int blocked_rotation(void *arg)
{
	unsigned keep = *(const unsigned *)arg;
	struct vg_file_sink_opts o = { .path = path, .max_bytes = 50, .keep = keep, .gzip = true };
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_stats st;
	char p[256];
	int fd;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return 77;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (fd < 0)
		return 2;
	close(fd);
	if (mount(path, path, NULL, MS_BIND, NULL))
		return 77;
	for (unsigned i = 1; i <= keep; i++) {
		snprintf(p, sizeof(p), "%s.%u.gz", path, i);
		if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0640)) < 0)
			return 3;
		close(fd);
	}
	if (vg_file_sink_open(&o, &fs))
		return 4;
	/* 20-byte lines: the 3rd finds 60 > 50 and fails to rotate (next
	 * try past 40 + 50), the 4th (80) writes, the 5th (100) tries again */
	for (int i = 0; i < 6; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "{\"n\":%02d,\"pad\":\"xx\"}\n", i);

		if (vg_file_sink_write(fs, line, (size_t)n) != n)
			return 5;
	}
	vg_file_sink_stats(fs, &st);
	vg_file_sink_close(&fs);
	if (st.rotations != 0 || st.rotate_errors != 2 || st.write_errors != 0 || st.size != 120)
		return 6;
	for (unsigned i = 1; i <= keep; i++)
		if (!exists("%s.%u.gz", path, i))
			return 7;
	if (exists("%s.rotating", path) || exists("%s.%u.gz", path, keep + 1))
		return 8;
	return 0;
}

static void test_rotation_blocked_keeps_history(void **state)
{
	for (unsigned keep = 0; keep <= 3; keep += 3) {
		int rc;

		if (geteuid() != 0)
			skip();
		rc = run_in_child(blocked_rotation, &keep);
		if (rc == 77)
			skip();
		assert_int_equal(rc, 0);
	}
}

/*
 * PATH made 0644 by an admin (or 0640 with a log shipper's group): the file
 * a rotation starts at PATH, and one made anew after a removal, keep that
 * mode, and the group too where this process may give it (root here).
 */
static void test_new_file_keeps_access(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = path, .max_bytes = 50, .keep = 2, .gzip = true,
				       .follow_ns = 1 };
	gid_t gid = geteuid() == 0 ? 4242 : getegid();
	struct stat sb;
	char gz[160];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	assert_int_equal(fchown(fd, (uid_t)-1, gid), 0);
	close(fd);
	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	for (int i = 0; i < 3; i++) /* the third rotates */
		write_line(fs, i);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(sb.st_gid, gid);
	snprintf(gz, sizeof(gz), "%s.1.gz", path);
	assert_int_equal(stat(gz, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(sb.st_gid, gid);

	/* removed under the sink: the next write makes it anew, alike */
	assert_int_equal(unlink(path), 0);
	write_line(fs, 3);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(sb.st_gid, gid);
	vg_file_sink_close(&fs);
}

/* A setgid folder gives new files its group (the README's advice for a
 * log shipper's group): a rotation keeps it, not the old file's. */
static void test_setgid_folder_group_kept(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = {.path = path, .max_bytes = 50, .keep = 2, .gzip = true};
	char gz[160];
	struct stat sb;
	int fd;

	if (geteuid() != 0) {
		skip();
		return;
	}
	assert_int_equal(chown(dir, (uid_t)-1, 4343), 0);
	assert_int_equal(chmod(dir, 02775), 0);
	/* the live file made before the folder was changed: root's group */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
	assert_true(fd >= 0);
	assert_int_equal(fchown(fd, (uid_t)-1, 0), 0);
	close(fd);
	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	for (int i = 0; i < 3; i++) /* the third rotates */
		write_line(fs, i);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_gid, 4343);
	assert_int_equal(sb.st_mode & 0777, 0640);
	snprintf(gz, sizeof(gz), "%s.1.gz", path);
	assert_int_equal(stat(gz, &sb), 0);
	assert_int_equal(sb.st_gid, 4343);
	vg_file_sink_close(&fs);
}

/* An agent killed between a rotation's two renames left PATH.rotating:
 * the next rotation keeps its lines, one place older than PATH's. */
static void test_rotation_cut_short_kept(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = path, .max_bytes = 50, .keep = 3, .gzip = true };
	char aside[160], p2[160], buf[256];
	int fd;

	snprintf(aside, sizeof(aside), "%s.rotating", path);
	fd = open(aside, O_WRONLY | O_CREAT | O_EXCL, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old\n", 4), 4);
	close(fd);
	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	for (int i = 0; i < 3; i++) /* the third rotates */
		write_line(fs, i);
	vg_file_sink_close(&fs);
	assert_false(exists("%s", aside));
	gz_slurp(strcat(strcpy(buf, path), ".1.gz"), buf, sizeof(buf));
	assert_string_equal(buf, "{\"n\":00,\"pad\":\"xx\"}\n{\"n\":01,\"pad\":\"xx\"}\n");
	snprintf(p2, sizeof(p2), "%s.2.gz", path);
	gz_slurp(p2, buf, sizeof(buf));
	assert_string_equal(buf, "old\n");
	assert_false(exists("%s.2", path));
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "{\"n\":02,\"pad\":\"xx\"}\n");
}

/* /dev/full answers every write with ENOSPC: the sink reports it each time
 * and keeps going */
static void test_full_disk_keeps_going(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = "/dev/full", .max_bytes = 10, .keep = 2 };
	struct vg_file_sink_stats st;

	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vg_file_sink_write(fs, "{}\n", 3), -ENOSPC);
	vg_file_sink_stats(fs, &st);
	assert_int_equal(st.write_errors, 3);
	assert_int_equal(st.rotations, 0); /* a device is never rotated */
	vg_file_sink_close(&fs);
}

/* A write cut short inside a line: the next write ends that line first. */
static void test_partial_write_repaired(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = path };
	struct rlimit old, lim;
	char buf[256];
	ssize_t n;

	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 10;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	n = vg_file_sink_write(fs, "{\"a\":1}\n{\"b\":2}\n", 16);
	assert_int_equal(n, 10); /* first line and 2 bytes of the second */
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(vg_file_sink_write(fs, "{\"c\":3}\n", 8), 8);
	vg_file_sink_close(&fs);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "{\"a\":1}\n{\"\n{\"c\":3}\n");
}

/* logrotate moved the file away: the sink starts a new one at PATH */
static void test_external_rotation_followed(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = path, .follow_ns = 1 };
	struct vg_file_sink_stats st;
	char moved[160], buf[256];

	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	assert_int_equal(vg_file_sink_write(fs, "{\"a\":1}\n", 8), 8);
	snprintf(moved, sizeof(moved), "%s.old", path);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(vg_file_sink_write(fs, "{\"b\":2}\n", 8), 8);
	unlink(path);
	assert_int_equal(vg_file_sink_write(fs, "{\"c\":3}\n", 8), 8);
	vg_file_sink_stats(fs, &st);
	assert_int_equal(st.reopens, 2);
	vg_file_sink_close(&fs);
	slurp(moved, buf, sizeof(buf));
	assert_string_equal(buf, "{\"a\":1}\n");
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "{\"c\":3}\n");
}

/* a file that ends inside a line: the sink's first line starts a new one */
static void test_open_mid_line(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = {.path = path};
	char buf[256];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"cut", 5), 5);
	close(fd);
	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	assert_int_equal(vg_file_sink_write(fs, "{}\n", 3), 3);
	vg_file_sink_close(&fs);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "{\"cut\n{}\n");
}

/* logrotate's copytruncate: the same file, emptied; rotation counts from there */
static void test_truncated_under_the_sink(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = {.path = path, .max_bytes = 100, .keep = 2, .follow_ns = 1};
	struct vg_file_sink_stats st;
	char line[48], buf[256];

	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	assert_int_equal(vg_file_sink_write(fs, line, sizeof(line)), (ssize_t)sizeof(line));
	assert_int_equal(vg_file_sink_write(fs, line, sizeof(line)), (ssize_t)sizeof(line));
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(vg_file_sink_write(fs, line, sizeof(line)), (ssize_t)sizeof(line));
	vg_file_sink_stats(fs, &st);
	assert_int_equal(st.rotations, 0);
	assert_int_equal(st.size, sizeof(line));
	vg_file_sink_close(&fs);
	assert_int_equal(slurp(path, buf, sizeof(buf)), sizeof(line));
}

/* within the check interval, lines go on to the file held (the rotated one) */
static void test_external_rotation_checked_per_interval(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = path, .follow_ns = 3600ull * 1000000000 };
	struct vg_file_sink_stats st;
	char moved[160], buf[256];

	(void)state;
	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	assert_int_equal(vg_file_sink_write(fs, "{\"a\":1}\n", 8), 8);
	snprintf(moved, sizeof(moved), "%s.old", path);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(vg_file_sink_write(fs, "{\"b\":2}\n", 8), 8);
	vg_file_sink_stats(fs, &st);
	assert_int_equal(st.reopens, 0);
	vg_file_sink_close(&fs);
	slurp(moved, buf, sizeof(buf));
	assert_string_equal(buf, "{\"a\":1}\n{\"b\":2}\n");
	assert_int_equal(access(path, F_OK), -1);
	unlink(moved);
}

/*
 * A rotation due after someone else moved the live file away (between two
 * of the sink's checks for that) rotates nothing: the archives stay where
 * they are, and the lines go on in a new file at PATH.
 */
static void test_rotation_after_outside_move(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = path, .max_bytes = 100, .keep = 2,
				       .follow_ns = 3600ull * 1000000000 };
	struct vg_file_sink_stats st;
	char p1[160], moved[160], buf[256];
	FILE *f;

	(void)state;
	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(moved, sizeof(moved), "%s.moved", path);
	f = fopen(p1, "w");
	assert_non_null(f);
	fputs("{\"old\":1}\n", f);
	fclose(f);
	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	for (int i = 0; i < 4; i++)
		write_line(fs, i);
	assert_int_equal(rename(path, moved), 0);
	write_line(fs, 4);
	write_line(fs, 5); /* past max_bytes: a rotation is due */
	vg_file_sink_stats(fs, &st);
	assert_int_equal(st.rotations, 0);
	assert_int_equal(st.reopens, 1);
	vg_file_sink_close(&fs);
	slurp(p1, buf, sizeof(buf));
	assert_string_equal(buf, "{\"old\":1}\n");
	assert_false(exists("%s.2", path));
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "{\"n\":05,\"pad\":\"xx\"}\n");
	slurp(moved, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 5 * 20);
}

/* a plain append is quick; one that would rotate, or a FIFO, is not */
static void test_quick_only_for_plain_appends(void **state)
{
	struct vg_file_sink_opts o = {.path = path, .max_bytes = 100, .keep = 1};
	struct vg_file_sink *fs = NULL;
	char fifo[160];

	(void)state;
	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	assert_true(vg_file_sink_quick(fs, 1000)); /* an empty file never rotates */
	assert_int_equal(vg_file_sink_write(fs, "0123456789\n", 11), 11);
	assert_true(vg_file_sink_quick(fs, 89));
	assert_false(vg_file_sink_quick(fs, 90)); /* 101 bytes: rotation due */
	vg_file_sink_close(&fs);
	assert_false(vg_file_sink_quick(NULL, 1));

	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	int rd = open(fifo, O_RDONLY | O_NONBLOCK); /* so the open for writing does not wait */
	assert_true(rd >= 0);
	struct vg_file_sink_opts of = {.path = fifo};
	assert_int_equal(vg_file_sink_open(&of, &fs), 0);
	assert_false(vg_file_sink_quick(fs, 1));
	vg_file_sink_close(&fs);
	close(rd);
}

/*
 * A FIFO put in the place of the file (a log shipper reading it): the sink
 * follows the name onto it once, and from then on treats it as a FIFO, as
 * if it had been opened on one: not quick (a write may block), and not
 * reopened at every look (which would close the reader's only writer).
 */
static void test_fifo_in_place_of_file(void **state)
{
	struct vg_file_sink_opts o = {.path = path, .follow_ns = 1};
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_stats st;
	char buf[64];
	int rd;

	(void)state;
	assert_int_equal(vg_file_sink_open(&o, &fs), 0);
	assert_int_equal(vg_file_sink_write(fs, "{\"a\":1}\n", 8), 8);
	assert_true(vg_file_sink_quick(fs, 1));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	rd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	assert_int_equal(vg_file_sink_write(fs, "{\"b\":2}\n", 8), 8);
	assert_int_equal(vg_file_sink_write(fs, "{\"c\":3}\n", 8), 8);
	vg_file_sink_stats(fs, &st);
	assert_int_equal(st.reopens, 1);
	assert_false(vg_file_sink_regular(fs));
	assert_false(vg_file_sink_quick(fs, 1));
	assert_int_equal(read(rd, buf, sizeof(buf)), 16);
	assert_memory_equal(buf, "{\"b\":2}\n{\"c\":3}\n", 16);
	vg_file_sink_close(&fs);
	close(rd);
}

static void test_bad_args(void **state)
{
	struct vg_file_sink *fs = NULL;
	struct vg_file_sink_opts o = { .path = "" };
	char longp[5000];

	assert_int_equal(vg_file_sink_open(&o, &fs), -EINVAL);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	o.path = longp;
	assert_int_equal(vg_file_sink_open(&o, &fs), -ENAMETOOLONG);
	o.path = "/nonexistent-dir/x/vigil.json";
	assert_int_equal(vg_file_sink_open(&o, &fs), -ENOENT);
	assert_null(fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rotation_naming_and_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_rotation_and_reopen_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_zero_restarts_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_file_keeps_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_cut_short_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setgid_folder_group_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_roundtrip_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_keeps_going, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_blocked_keeps_history, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_partial_write_repaired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_rotation_checked_per_interval, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_external_rotation_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_in_place_of_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_after_outside_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_mid_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_under_the_sink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quick_only_for_plain_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
