/*
 * Unit tests for privs: the one-line verdicts of vg_privs_check, the
 * cgroup-root test over fixture trees, and a real drop in a forked child
 * (with whatever capabilities the test runs with).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/privs.h"

#define ADMIN VG_CAP(VG_CAP_SYS_ADMIN)
#define PTRACE VG_CAP(VG_CAP_SYS_PTRACE)
#define NEWCAPS (VG_CAP(VG_CAP_BPF) | VG_CAP(VG_CAP_PERFMON) | VG_CAP(VG_CAP_NET_ADMIN))

static struct vg_privs_facts good(uint64_t eff)
{
	struct vg_privs_facts f = {
		.eff = eff,
		.last_cap = 40,
		.host_pid = true,
		.btf = true,
		.btf_dir = true,
		.host_cgroup = true,
		.in_container = true,
		.root = true,
	};
	return f;
}

static void check_ok_sets(void **state)
{
	struct vg_privs_facts f = good(ADMIN | PTRACE);
	char msg[512];

	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	f = good(NEWCAPS | PTRACE);
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), 0);
	f = good(0x1ffffffffffULL);
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), 0);
}

static void check_names_each_missing_cap(void **state)
{
	static const struct {
		uint64_t eff;
		const char *start, *flag;
	} cases[] = {
		{VG_CAP(VG_CAP_PERFMON) | VG_CAP(VG_CAP_NET_ADMIN) | PTRACE,
		 "missing CAP_BPF:", "`--cap-add BPF`"},
		{VG_CAP(VG_CAP_BPF) | VG_CAP(VG_CAP_NET_ADMIN) | PTRACE,
		 "missing CAP_PERFMON:", "`cap_add: [PERFMON]`"},
		{VG_CAP(VG_CAP_BPF) | VG_CAP(VG_CAP_PERFMON) | PTRACE,
		 "missing CAP_NET_ADMIN:", "`capabilities: {add: [NET_ADMIN]}`"},
		{NEWCAPS, "missing CAP_SYS_PTRACE:", "`--cap-add SYS_PTRACE`"},
		{ADMIN, "missing CAP_SYS_PTRACE:", "`cap_add: [SYS_PTRACE]`"},
	};
	char msg[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vg_privs_facts f = good(cases[i].eff);

		assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), -EPERM);
		assert_memory_equal(msg, cases[i].start, strlen(cases[i].start));
		assert_non_null(strstr(msg, cases[i].flag));
		assert_null(strchr(msg, '\n'));
	}
	/* NET_ADMIN is an old name: no Docker 20.10 advice for it */
	{
		struct vg_privs_facts f =
			good(VG_CAP(VG_CAP_BPF) | VG_CAP(VG_CAP_PERFMON) | PTRACE);

		vg_privs_check(&f, msg, sizeof(msg));
		assert_null(strstr(msg, "20.10"));
	}
	/* the new names come with the Docker 20.10 form */
	{
		struct vg_privs_facts f = good(VG_CAP(VG_CAP_PERFMON) | PTRACE);

		vg_privs_check(&f, msg, sizeof(msg));
		assert_non_null(strstr(msg, "`--cap-add SYS_ADMIN`"));
	}
}

/* the host views judged on their own, whatever capability is missing
 * (vigil check's row; vigil run stops at the first) */
static void check_views_alone(void **state)
{
	struct vg_privs_facts f = good(NEWCAPS); /* no SYS_PTRACE */
	char msg[512];

	(void)state;
	f.host_pid = false;
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), -EPERM);
	assert_memory_equal(msg, "missing CAP_SYS_PTRACE", 22);
	assert_int_equal(vg_privs_check_views(&f, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "`--pid host`"));
	f.host_pid = true;
	f.btf = false;
	assert_int_equal(vg_privs_check_views(&f, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "CONFIG_DEBUG_INFO_BTF"));
	f.btf = true;
	assert_int_equal(vg_privs_check_views(&f, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
}

static void check_old_kernel_wants_sys_admin(void **state)
{
	struct vg_privs_facts f = good(NEWCAPS | PTRACE);
	char msg[512];

	f.last_cap = 37;
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), -EPERM);
	assert_memory_equal(msg, "missing CAP_SYS_ADMIN", 21);
	f.eff |= ADMIN;
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), 0);
}

static void check_host_form_says_root(void **state)
{
	struct vg_privs_facts f = good(PTRACE);
	char msg[512];

	f.in_container = false;
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), -EPERM);
	assert_string_equal(msg, "missing CAP_BPF: run as root (or grant CAP_BPF to vigil)");
}

static void check_non_root_container_says_uid_0(void **state)
{
	struct vg_privs_facts f = good(0);
	char msg[512];

	f.root = false;
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), -EPERM);
	assert_memory_equal(msg, "missing CAP_BPF: run the sensor as root", 39);
	assert_non_null(strstr(msg, "`runAsUser: 0`"));
}

static void check_names_each_missing_view(void **state)
{
	struct vg_privs_facts f = good(ADMIN | PTRACE);
	char msg[512];

	f.host_pid = false;
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "`pid: host`"));
	assert_non_null(strstr(msg, "`hostPID: true`"));

	f = good(ADMIN | PTRACE);
	f.btf = false;
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "CONFIG_DEBUG_INFO_BTF"));
	f.btf_dir = false;
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "`-v /sys/kernel/btf:/sys/kernel/btf:ro`"));

	f = good(ADMIN | PTRACE);
	f.host_cgroup = false;
	assert_int_equal(vg_privs_check(&f, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "`-v /sys/fs/cgroup:/sys/fs/cgroup:ro`"));
}

static void caps_str_and_names(void **state)
{
	char buf[128];

	assert_string_equal(vg_privs_caps_str(PTRACE | ADMIN, buf, sizeof(buf)),
			    "CAP_SYS_PTRACE,CAP_SYS_ADMIN");
	assert_string_equal(vg_privs_caps_str(0, buf, sizeof(buf)), "none");
	assert_string_equal(vg_privs_caps_str(VG_CAP(50), buf, sizeof(buf)), "CAP_50");
	assert_string_equal(vg_privs_cap_name(VG_CAP_BPF), "CAP_BPF");
	assert_string_equal(vg_privs_cap_name(0), "CAP_CHOWN");
	assert_string_equal(vg_privs_cap_name(40), "CAP_CHECKPOINT_RESTORE");
	assert_null(vg_privs_cap_name(41));
	assert_null(vg_privs_cap_name(-1));
}

/* ---- cgroup root over a fixture tree ---- */

static void touch(const char *root, const char *rel)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
}

static void mkdirs(const char *root, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
}

static void rmtree(const char *root)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static bool host_cgroup(const char *root, const char *mountinfo)
{
	FILE *f = fmemopen((void *)mountinfo, strlen(mountinfo), "r");
	bool r;

	assert_non_null(f);
	r = vg_privs_host_cgroup(f, root);
	fclose(f);
	return r;
}

#define MI_V2 "35 24 0:30 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n"
#define MI_V1 "36 24 0:31 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n"
#define MI_OTHER "22 1 8:1 / / rw - ext4 /dev/vda rw\n"

static void cgroup_root_v2(void **state)
{
	char root[] = "/tmp/vigil-privs.XXXXXX";

	assert_non_null(mkdtemp(root));
	mkdirs(root, "sys/fs/cgroup/unified");
	touch(root, "sys/fs/cgroup/unified/cgroup.procs");
	/* a real root: procs, no events */
	assert_true(host_cgroup(root, MI_OTHER MI_V2));
	/* a container's own cgroup (private namespace or a subtree bind) */
	touch(root, "sys/fs/cgroup/unified/cgroup.events");
	assert_false(host_cgroup(root, MI_OTHER MI_V2));
	assert_false(host_cgroup(root, MI_OTHER));
	rmtree(root);
}

static void cgroup_root_v1(void **state)
{
	char root[] = "/tmp/vigil-privs.XXXXXX";

	assert_non_null(mkdtemp(root));
	mkdirs(root, "sys/fs/cgroup/memory");
	touch(root, "sys/fs/cgroup/memory/cgroup.procs");
	assert_false(host_cgroup(root, MI_V1));
	touch(root, "sys/fs/cgroup/memory/release_agent");
	assert_true(host_cgroup(root, MI_V1));
	/* lines without the separator are skipped, not misread */
	assert_false(host_cgroup(root, "garbage line\n\n"));
	rmtree(root);
}

/* ---- a real drop, in a child so the test process keeps its own ---- */

static int status_caps(const char *field, uint64_t *v)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int r = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, strlen(field)) == 0) {
			*v = strtoull(line + strlen(field), NULL, 16);
			r = 0;
		}
	}
	fclose(f);
	return r;
}

static void drop_in_child(void **state)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t before = 0, eff = 1, prm = 1, amb = 1, inh = 1;
		char desc[512];

		if (status_caps("CapPrm:", &before))
			_exit(10);
		if (vg_privs_drop(PTRACE, desc, sizeof(desc)))
			_exit(11);
		if (status_caps("CapEff:", &eff) || status_caps("CapPrm:", &prm) ||
		    status_caps("CapAmb:", &amb) || status_caps("CapInh:", &inh))
			_exit(12);
		if (eff != (before & PTRACE) || prm != eff || amb != 0 || inh != 0)
			_exit(13);
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(14);
		if (strncmp(desc, "capabilities ", 13) || !strstr(desc, "no_new_privs"))
			_exit(15);
		if ((before & PTRACE) && !strstr(desc, "capabilities CAP_SYS_PTRACE "))
			_exit(16);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void *idle(void *arg)
{
	pause();
	return arg;
}

static void drop_refuses_with_threads(void **state)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t t;
		char desc[256];

		if (pthread_create(&t, NULL, idle, NULL))
			_exit(10);
		if (vg_privs_drop(0, desc, sizeof(desc)) != -EBUSY)
			_exit(11);
		if (!strstr(desc, "2 threads"))
			_exit(12);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void keep_default_without_fd(void **state)
{
	assert_int_equal(vg_privs_keep_default(-1), VG_PRIVS_KEEP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_ok_sets),
		cmocka_unit_test(check_names_each_missing_cap),
		cmocka_unit_test(check_views_alone),
		cmocka_unit_test(check_old_kernel_wants_sys_admin),
		cmocka_unit_test(check_host_form_says_root),
		cmocka_unit_test(check_non_root_container_says_uid_0),
		cmocka_unit_test(check_names_each_missing_view),
		cmocka_unit_test(caps_str_and_names),
		cmocka_unit_test(cgroup_root_v2),
		cmocka_unit_test(cgroup_root_v1),
		cmocka_unit_test(drop_in_child),
		cmocka_unit_test(drop_refuses_with_threads),
		cmocka_unit_test(keep_default_without_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
