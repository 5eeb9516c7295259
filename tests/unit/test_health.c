/*
 * Unit tests for health: the heartbeat record, its verdicts (fresh, stale,
 * missing, foreign, orphaned) and the `vigil health` exit statuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/health.h"

struct dir {
	char root[64];
	char path[128];
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	snprintf(d->root, sizeof(d->root), "/tmp/vigil-health.XXXXXX");
	if (!mkdtemp(d->root))
		return -1;
	/* a folder that does not exist yet: open creates it */
	snprintf(d->path, sizeof(d->path), "%s/run/heartbeat", d->root);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->root);
	if (system(cmd))
		return -1;
	free(d);
	return 0;
}

static uint64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void open_writes_a_fresh_record(void **state)
{
	struct dir *d = *state;
	struct vg_health *h = NULL;
	char msg[256], buf[128] = "";
	struct stat st;
	FILE *f;

	assert_int_equal(vg_health_open(d->path, &h), 0);
	assert_non_null(h);
	f = fopen(d->path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_memory_equal(buf, "vigil-heartbeat 1 ", 18);
	assert_int_equal(vg_health_check(d->path, 15, 0, msg, sizeof(msg)), 0);
	assert_memory_equal(msg, "healthy:", 8);

	/* beats rewrite in place: same size, never a second line */
	for (int i = 0; i < 1000; i++)
		vg_health_beat(h);
	assert_int_equal(stat(d->path, &st), 0);
	assert_int_equal(st.st_size, strlen(buf));

	vg_health_free(&h);
	assert_null(h);
	assert_int_equal(access(d->path, F_OK), -1);
	vg_health_free(&h);
	vg_health_beat(NULL);
}

/* a second agent on the same path (a `vigil run` beside the sensor
 * container, both on /run/vigil) neither truncates the first one's
 * heartbeat nor removes it when it stops */
static void a_second_agent_leaves_the_heartbeat_alone(void **state)
{
	struct dir *d = *state;
	struct vg_health *h = NULL, *h2 = NULL;
	char msg[256], before[128] = "", after[128] = "";
	FILE *f;

	assert_int_equal(vg_health_open(d->path, &h), 0);
	f = fopen(d->path, "r");
	assert_non_null(f);
	assert_non_null(fgets(before, sizeof(before), f));
	fclose(f);

	assert_int_equal(vg_health_open(d->path, &h2), 1);
	assert_non_null(h2);
	assert_int_equal(vg_health_set_hooks(h2, "other"), 0);
	vg_health_beat(h2);
	f = fopen(d->path, "r");
	assert_non_null(f);
	assert_non_null(fgets(after, sizeof(after), f));
	fclose(f);
	assert_string_equal(after, before);
	assert_int_equal(vg_health_check(d->path, 15, 0, msg, sizeof(msg)), 0);

	/* the first one's stop removes it, and the second takes it over at
	 * its next try (once a second) */
	vg_health_free(&h);
	assert_int_equal(access(d->path, F_OK), -1);
	for (int i = 0; i < 60 && access(d->path, F_OK); i++) {
		usleep(50 * 1000);
		vg_health_beat(h2);
	}
	assert_int_equal(vg_health_check(d->path, 15, 0, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "hooks other"));
	vg_health_free(&h2);
	assert_int_equal(access(d->path, F_OK), -1);
}

/* a heartbeat removed under the agent (rm -rf /run/vigil) is made anew,
 * folder and all, at a later beat */
static void a_removed_heartbeat_comes_back(void **state)
{
	struct dir *d = *state;
	struct vg_health *h = NULL;
	char msg[256], dir[160];

	assert_int_equal(vg_health_open(d->path, &h), 0);
	snprintf(dir, sizeof(dir), "%s/run", d->root);
	assert_int_equal(unlink(d->path), 0);
	assert_int_equal(rmdir(dir), 0);
	for (int i = 0; i < 60 && access(d->path, F_OK); i++) {
		usleep(50 * 1000);
		vg_health_beat(h);
	}
	assert_int_equal(vg_health_check(d->path, 15, 0, msg, sizeof(msg)), 0);
	vg_health_free(&h);
	assert_int_equal(access(d->path, F_OK), -1);
}

/* a file put in the heartbeat's place is not removed by the agent's stop */
static void stop_removes_only_its_own_file(void **state)
{
	struct dir *d = *state;
	struct vg_health *h = NULL;
	char aside[300];

	assert_int_equal(vg_health_open(d->path, &h), 0);
	snprintf(aside, sizeof(aside), "%s.aside", d->path);
	assert_int_equal(rename(d->path, aside), 0);
	write_file(d->path, "someone else's\n");
	vg_health_free(&h);
	assert_int_equal(access(d->path, F_OK), 0);
	assert_int_equal(unlink(d->path), 0);
	assert_int_equal(unlink(aside), 0);
}

/* the hooks word travels in the record and `vigil health` says it */
static void hooks_word_is_reported(void **state)
{
	struct dir *d = *state;
	struct vg_health *h = NULL;
	char msg[256];

	assert_int_equal(vg_health_open(d->path, &h), 0);
	assert_int_equal(vg_health_check(d->path, 15, 0, msg, sizeof(msg)), 0);
	assert_null(strstr(msg, "hooks"));
	assert_int_equal(vg_health_set_hooks(h, "cap"), 0);
	assert_int_equal(vg_health_check(d->path, 15, 0, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, ", hooks cap)"));
	assert_int_equal(vg_health_set_hooks(h, "syscall-results"), 0);
	assert_int_equal(vg_health_check(d->path, 15, 0, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, ", hooks syscall-results)"));
	assert_int_equal(vg_health_set_hooks(h, "two words"), -EINVAL);
	vg_health_free(&h);
}

/* a record written by an agent before the hooks word is still read */
static void plain_record_is_read(void **state)
{
	struct dir *d = *state;
	char rec[128], msg[256], path[160];

	snprintf(rec, sizeof(rec), "vigil-heartbeat 1 %020llu %010u\n", (unsigned long long)now_s(),
		 (unsigned)getpid());
	snprintf(path, sizeof(path), "%s/plain", d->root);
	write_file(path, rec);
	assert_int_equal(vg_health_check(path, 15, 0, msg, sizeof(msg)), 0);
	assert_memory_equal(msg, "healthy:", 8);
}

static void stale_heartbeat_is_stuck(void **state)
{
	struct dir *d = *state;
	struct vg_health *h = NULL;
	char msg[256];

	assert_int_equal(vg_health_open(d->path, &h), 0);
	assert_int_equal(vg_health_check(d->path, 15, now_s() + 100, msg, sizeof(msg)), -ETIME);
	assert_non_null(strstr(msg, "stuck"));
	assert_non_null(strstr(msg, "limit 15s"));
	assert_int_equal(vg_health_check(d->path, 200, now_s() + 100, msg, sizeof(msg)), 0);
	vg_health_free(&h);
}

static void missing_and_foreign_files(void **state)
{
	struct dir *d = *state;
	char msg[256], other[160];

	assert_int_equal(vg_health_check(d->path, 15, 0, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "no heartbeat"));
	snprintf(other, sizeof(other), "%s/junk", d->root);
	write_file(other, "hello\n");
	assert_int_equal(vg_health_check(other, 15, 0, msg, sizeof(msg)), -EBADMSG);
	write_file(other, "vigil-heartbeat 1 abc");
	assert_int_equal(vg_health_check(other, 15, 0, msg, sizeof(msg)), -EBADMSG);
}

/* Leave digits where the next call's locals will be: an unterminated
 * record would read them as its own. */
static __attribute__((noinline)) void dirty_stack(void)
{
	volatile char junk[4096];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = '0';
}

/* A record of the right size whose pid field is blank to its very end:
 * scanning past what was read would find the stack's "0000000000", an
 * agent-less pid 0, and call a fresh beat healthy. */
static void blank_pid_is_foreign(void **state)
{
	struct dir *d = *state;
	char rec[128], msg[256], path[160];
	uint64_t now = now_s();
	int rc;

	snprintf(rec, sizeof(rec), "vigil-heartbeat 1 %020llu%12s", (unsigned long long)now, "");
	assert_int_equal(strlen(rec), strlen("vigil-heartbeat 1 ") + 20 + 1 + 10 + 1);
	snprintf(path, sizeof(path), "%s/blank", d->root);
	write_file(path, rec);
	dirty_stack();
	rc = vg_health_check(path, 15, now, msg, sizeof(msg));
	assert_int_equal(rc, -EBADMSG);
	assert_non_null(strstr(msg, "not a vigil heartbeat"));
}

static void exited_agent_is_reported(void **state)
{
	struct dir *d = *state;
	char rec[128], msg[256], path[160];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	snprintf(rec, sizeof(rec), "vigil-heartbeat 1 %020llu %010u\n", (unsigned long long)now_s(),
		 (unsigned)pid);
	snprintf(path, sizeof(path), "%s/orphan", d->root);
	write_file(path, rec);
	assert_int_equal(vg_health_check(path, 15, 0, msg, sizeof(msg)), -ESRCH);
	assert_non_null(strstr(msg, "has exited"));
}

static void main_exit_statuses(void **state)
{
	struct dir *d = *state;
	struct vg_health *h = NULL;
	char a0[] = "health", a1[] = "--file", a3[] = "--max-age", bad[] = "0", ten[] = "10";
	char *argv[] = {a0, a1, d->path, a3, ten, NULL};
	char *argv_bad[] = {a0, a3, bad, NULL};

	assert_int_equal(vg_health_main(5, argv), 1); /* nothing there yet */
	assert_int_equal(vg_health_open(d->path, &h), 0);
	assert_int_equal(vg_health_main(5, argv), 0);
	assert_int_equal(vg_health_main(3, argv_bad), 2);
	vg_health_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(open_writes_a_fresh_record, setup, teardown),
		cmocka_unit_test_setup_teardown(a_second_agent_leaves_the_heartbeat_alone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(stop_removes_only_its_own_file, setup, teardown),
		cmocka_unit_test_setup_teardown(a_removed_heartbeat_comes_back, setup, teardown),
		cmocka_unit_test_setup_teardown(hooks_word_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(plain_record_is_read, setup, teardown),
		cmocka_unit_test_setup_teardown(stale_heartbeat_is_stuck, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_and_foreign_files, setup, teardown),
		cmocka_unit_test_setup_teardown(blank_pid_is_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(exited_agent_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(main_exit_statuses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
