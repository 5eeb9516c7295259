/* Unit tests for record.c: short, unknown and lying records, exec argv. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/record.h"

/* lock the wire layout (the C form of an alignment checker) */
_Static_assert(sizeof(struct vg_hdr) == 88, "vg_hdr layout");
_Static_assert(offsetof(struct vg_hdr, comm) == 72, "vg_hdr.comm");
_Static_assert(offsetof(struct vg_exec, data) == 104, "vg_exec.data");
_Static_assert(sizeof(struct vg_exit) == 96, "vg_exit layout");
_Static_assert(sizeof(struct vg_connect) == 120, "vg_connect layout");
_Static_assert(sizeof(struct vg_oom) == 128, "vg_oom layout");
_Static_assert(sizeof(struct vg_mount) % 8 == 0, "vg_mount padding");

static union {
	struct vg_exec exec;
	struct vg_mount mount;
	struct vg_oom oom;
	struct vg_connect connect;
	struct vg_exit exit;
	uint64_t align;
	unsigned char raw[sizeof(struct vg_exec) + 64];
} u;

static void hdr(unsigned type, size_t size)
{
	memset(&u, 0, sizeof(u));
	u.exec.hdr.type = (uint16_t)type;
	u.exec.hdr.size = (uint16_t)size;
	u.exec.hdr.tgid = 42;
	memcpy(u.exec.hdr.comm, "sh", 3);
}

/* build an exec record from a filename and a NUL separated args blob */
static size_t mkexec(const char *file, const char *args, size_t alen, uint32_t kargc)
{
	size_t flen = file ? strlen(file) + 1 : 0, size;

	size = offsetof(struct vg_exec, data) + flen + alen;
	hdr(VG_EV_EXEC, size);
	u.exec.filename_len = (uint16_t)flen;
	u.exec.args_len = (uint16_t)alen;
	u.exec.argc = kargc;
	if (flen)
		memcpy(u.exec.data, file, flen);
	memcpy(u.exec.data + flen, args, alen);
	return size;
}

static void test_short_and_unknown(void **state)
{
	struct vg_rec r;

	assert_int_equal(vg_record_decode(NULL, 100, &r), -EINVAL);
	hdr(VG_EV_FORK, sizeof(struct vg_hdr));
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_hdr) - 1, &r), -EINVAL);
	assert_int_equal(vg_record_decode(&u, 0, &r), -EINVAL);
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_hdr), &r), 0);
	assert_int_equal(r.type, VG_EV_FORK);
	assert_ptr_equal(r.fork, &u);
	assert_int_equal(r.hdr->tgid, 42);

	/* unknown types, with a complete header */
	hdr(0, sizeof(struct vg_hdr));
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_hdr), &r), -EPROTO);
	hdr(VG_EV__MAX, sizeof(struct vg_hdr));
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_hdr), &r), -EPROTO);
	hdr(0xffff, sizeof(struct vg_hdr));
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_hdr), &r), -EPROTO);

	/* each type below its minimum size */
	hdr(VG_EV_EXIT, sizeof(struct vg_exit) - 1);
	assert_int_equal(vg_record_decode(&u, sizeof(u), &r), -EINVAL);
	hdr(VG_EV_CONNECT, sizeof(struct vg_connect) - 4);
	assert_int_equal(vg_record_decode(&u, sizeof(u), &r), -EINVAL);
	hdr(VG_EV_MOUNT, sizeof(struct vg_mount) - 8);
	assert_int_equal(vg_record_decode(&u, sizeof(u), &r), -EINVAL);
	hdr(VG_EV_OOM, sizeof(struct vg_oom) - 1);
	assert_int_equal(vg_record_decode(&u, sizeof(u), &r), -EINVAL);
	hdr(VG_EV_EXEC, offsetof(struct vg_exec, data) - 1);
	assert_int_equal(vg_record_decode(&u, sizeof(u), &r), -EINVAL);

	/* and at it */
	hdr(VG_EV_CONNECT, sizeof(struct vg_connect));
	u.connect.port = 80;
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_connect), &r), 0);
	assert_int_equal(r.connect->port, 80);
	hdr(VG_EV_EXIT, sizeof(struct vg_exit));
	u.exit.exit_code = 9;
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_exit), &r), 0);
	assert_int_equal(r.exit->exit_code, 9);
}

static void test_lying_lengths(void **state)
{
	struct vg_rec r;
	size_t size;

	/* hdr.size larger than what arrived */
	hdr(VG_EV_EXIT, sizeof(struct vg_exit));
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_exit) - 1, &r), -EINVAL);
	/* hdr.size smaller than a header */
	hdr(VG_EV_FORK, 10);
	assert_int_equal(vg_record_decode(&u, sizeof(u), &r), -EINVAL);
	/* more bytes than hdr.size is fine */
	hdr(VG_EV_EXIT, sizeof(struct vg_exit));
	assert_int_equal(vg_record_decode(&u, sizeof(u), &r), 0);

	/* exec: args_len past hdr.size */
	size = mkexec("/bin/ls", "ls\0", 3, 1);
	u.exec.args_len = 100;
	assert_int_equal(vg_record_decode(&u, size, &r), -EINVAL);
	/* filename_len past hdr.size */
	size = mkexec("/bin/ls", "ls\0", 3, 1);
	u.exec.filename_len = 400;
	assert_int_equal(vg_record_decode(&u, sizeof(u), &r), -EINVAL);
	/* within hdr.size but beyond the arrays */
	size = mkexec("/bin/ls", "", 0, 0);
	u.exec.hdr.size = sizeof(struct vg_exec);
	u.exec.args_len = VG_EXEC_ARGS_MAX + 1;
	assert_int_equal(vg_record_decode(&u, sizeof(u), &r), -EINVAL);
	/* filename without its NUL */
	size = mkexec("/bin/ls", "ls\0", 3, 1);
	u.exec.data[7] = 'x';
	assert_int_equal(vg_record_decode(&u, size, &r), -EINVAL);
	/* comm without a NUL */
	size = mkexec("/bin/ls", "ls\0", 3, 1);
	memset(u.exec.hdr.comm, 'A', sizeof(u.exec.hdr.comm));
	assert_int_equal(vg_record_decode(&u, size, &r), -EINVAL);
}

static void test_fixed_strings(void **state)
{
	struct vg_rec r;

	hdr(VG_EV_MOUNT, sizeof(struct vg_mount));
	strcpy(u.mount.source, "/dev/sda1");
	strcpy(u.mount.target, "/mnt");
	strcpy(u.mount.fstype, "ext4");
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_mount), &r), 0);
	assert_string_equal(r.mount->target, "/mnt");
	memset(u.mount.target, 'a', sizeof(u.mount.target));
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_mount), &r), -EINVAL);
	strcpy(u.mount.target, "/mnt");
	memset(u.mount.fstype, 'a', sizeof(u.mount.fstype));
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_mount), &r), -EINVAL);

	hdr(VG_EV_OOM, sizeof(struct vg_oom));
	strcpy(u.oom.trigger_comm, "stress");
	u.oom.rss_kb = 32768;
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_oom), &r), 0);
	assert_int_equal(r.oom->rss_kb, 32768);
	memset(u.oom.trigger_comm, 'x', sizeof(u.oom.trigger_comm));
	assert_int_equal(vg_record_decode(&u, sizeof(struct vg_oom), &r), -EINVAL);
}

/* the same with the resolved path between filename and argv (elen with its NUL) */
static size_t mkexec_exe(const char *file, const char *exe, size_t elen, const char *args,
			 size_t alen)
{
	size_t flen = strlen(file) + 1, size;

	size = offsetof(struct vg_exec, data) + flen + elen + alen;
	hdr(VG_EV_EXEC, size);
	u.exec.filename_len = (uint16_t)flen;
	u.exec.exe_len = (uint16_t)elen;
	u.exec.args_len = (uint16_t)alen;
	u.exec.argc = 1;
	memcpy(u.exec.data, file, flen);
	memcpy(u.exec.data + flen, exe, elen);
	memcpy(u.exec.data + flen + elen, args, alen);
	return size;
}

static void test_exec_resolved_path(void **state)
{
	struct vg_rec r;
	size_t size;

	size = mkexec_exe("./kworker", "/tmp/kworker", 13, "kworker", 8);
	assert_int_equal(vg_record_decode(&u, size, &r), 0);
	assert_string_equal(r.exec.filename, "./kworker");
	assert_non_null(r.exec.exe);
	assert_string_equal(r.exec.exe, "/tmp/kworker");
	/* argv starts after the path, not at it */
	assert_string_equal(r.exec.args, "kworker");
	assert_int_equal(r.exec.argc, 1);

	/* none sent: NULL, argv right after the filename */
	size = mkexec_exe("/bin/x", "", 0, "x", 2);
	assert_int_equal(vg_record_decode(&u, size, &r), 0);
	assert_null(r.exec.exe);
	assert_string_equal(r.exec.args, "x");

	/* a path that is relative, unterminated or cut by a NUL (a rename
	 * while the kernel side read it): left out, the exec kept whole */
	static const struct {
		const char *exe;
		size_t len;
	} bad[] = {{"tmp/x", 6}, {"/tmp/xy", 6}, {"/t\0mp/x", 8}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size = mkexec_exe("/bin/x", bad[i].exe, bad[i].len, "x\0-v", 5);
		assert_int_equal(vg_record_decode(&u, size, &r), 0);
		assert_null(r.exec.exe);
		assert_string_equal(r.exec.filename, "/bin/x");
		assert_int_equal(r.exec.argc, 2);
		assert_string_equal(r.exec.args, "x");
		assert_string_equal(r.exec.args + 2, "-v");
	}
	/* past the record: no record */
	size = mkexec_exe("/bin/x", "/tmp/x", 7, "x", 2);
	u.exec.exe_len = VG_PATH_MAX + 1;
	assert_int_equal(vg_record_decode(&u, size, &r), -EINVAL);
	size = mkexec_exe("/bin/x", "/tmp/x", 7, "x", 2);
	u.exec.exe_len = 10;
	assert_int_equal(vg_record_decode(&u, size, &r), -EINVAL);
}

static void test_exec_argv(void **state)
{
	static const char args[] = "curl\0-s\0http://169.254.169.254/\0";
	struct vg_rec r;
	size_t size;

	size = mkexec("/usr/bin/curl", args, sizeof(args) - 1, 3);
	assert_int_equal(vg_record_decode(&u, size, &r), 0);
	assert_int_equal(r.type, VG_EV_EXEC);
	assert_string_equal(r.exec.filename, "/usr/bin/curl");
	assert_int_equal(r.exec.argc, 3);
	assert_int_equal(r.exec.args_len, sizeof(args) - 1);
	assert_string_equal(r.exec.args, "curl");
	assert_string_equal(r.exec.args + 5, "-s");
	assert_false(r.exec.truncated);
	assert_ptr_equal(r.exec.raw, &u.exec);

	/* kernel says more args than were kept */
	size = mkexec("/usr/bin/curl", args, sizeof(args) - 1, 5);
	assert_int_equal(vg_record_decode(&u, size, &r), 0);
	assert_true(r.exec.truncated);

	/* unterminated last argument: dropped, truncated */
	size = mkexec("/bin/echo", "echo\0hel", 8, 2);
	assert_int_equal(vg_record_decode(&u, size, &r), 0);
	assert_int_equal(r.exec.argc, 1);
	assert_int_equal(r.exec.args_len, 5);
	assert_true(r.exec.truncated);

	/* empty argv and empty filename */
	size = mkexec(NULL, "", 0, 0);
	assert_int_equal(vg_record_decode(&u, size, &r), 0);
	assert_string_equal(r.exec.filename, "");
	assert_int_equal(r.exec.argc, 0);
	assert_int_equal(r.exec.args_len, 0);
	assert_false(r.exec.truncated);

	/* empty arguments count */
	size = mkexec("/bin/x", "\0\0\0", 3, 3);
	assert_int_equal(vg_record_decode(&u, size, &r), 0);
	assert_int_equal(r.exec.argc, 3);

	/* BPF truncation flag */
	size = mkexec("/bin/x", "x\0", 2, 1);
	u.exec.eflags = VG_EXEC_ARGS_TRUNC;
	assert_int_equal(vg_record_decode(&u, size, &r), 0);
	assert_true(r.exec.truncated);
}

static void test_exec_argc_max(void **state)
{
	char args[VG_EXEC_ARGS_MAX];
	struct vg_rec r;
	size_t size, i, n = 0;

	for (i = 0; i < VG_EXEC_ARGC_MAX + 10; i++) {
		args[n++] = 'a';
		args[n++] = '\0';
	}
	size = mkexec("/bin/x", args, n, VG_EXEC_ARGC_MAX + 10);
	assert_int_equal(vg_record_decode(&u, size, &r), 0);
	assert_int_equal(r.exec.argc, VG_EXEC_ARGC_MAX);
	assert_int_equal(r.exec.args_len, 2 * VG_EXEC_ARGC_MAX);
	assert_true(r.exec.truncated);

	/* a full-size record decodes */
	memset(args, 'b', sizeof(args));
	args[sizeof(args) - 1] = '\0';
	size = mkexec("/bin/x", args, sizeof(args), 1);
	assert_int_equal(vg_record_decode(&u, size, &r), 0);
	assert_int_equal(r.exec.argc, 1);
	assert_int_equal(r.exec.args_len, sizeof(args));
}

static void test_type_names(void **state)
{
	assert_string_equal(vg_event_type_name(VG_EV_EXEC), "exec");
	assert_string_equal(vg_event_type_name(VG_EV_FORK), "fork");
	assert_string_equal(vg_event_type_name(VG_EV_EXIT), "exit");
	assert_string_equal(vg_event_type_name(VG_EV_CONNECT), "connect");
	assert_string_equal(vg_event_type_name(VG_EV_MOUNT), "mount");
	assert_string_equal(vg_event_type_name(VG_EV_OOM), "oom");
	assert_string_equal(vg_event_type_name(0), "unknown");
	assert_string_equal(vg_event_type_name(VG_EV__MAX), "unknown");
	assert_string_equal(vg_event_type_name(99999), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_and_unknown), cmocka_unit_test(test_lying_lengths),
		cmocka_unit_test(test_fixed_strings),	  cmocka_unit_test(test_exec_argv),
		cmocka_unit_test(test_exec_argc_max),	  cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_exec_resolved_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
