/* Helpers for tests that read files from tests/unit/fixtures/, and for
 * tests that watch the threads a module starts. */
#ifndef VIGIL_TEST_FIXTURES_H
#define VIGIL_TEST_FIXTURES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Folder of this header, from __FILE__ ("tests/unit/fixtures.h"). */
static inline const char *fixture_dir(void)
{
	static char dir[512];

	if (!dir[0]) {
		const char *slash = strrchr(__FILE__, '/');
		size_t n = slash ? (size_t)(slash - __FILE__) : 0;

		snprintf(dir, sizeof(dir), "%.*s%sfixtures", (int)n, __FILE__, n ? "/" : "");
	}
	return dir;
}

/* Whole fixture file into a malloc'd NUL-terminated buffer, or NULL. */
static inline char *fixture_load(const char *name, size_t *len)
{
	char path[768];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

/* Write fixture name to root/rel, creating rel's folders.  0 or -1. */
static inline int fixture_copy(const char *root, const char *name, const char *rel)
{
	char path[1024];
	size_t len = 0, n = strlen(root) + 1;
	char *buf = fixture_load(name, &len);
	FILE *f;
	int rc = -1;

	if (!buf)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + n; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	f = fopen(path, "w");
	if (f) {
		rc = fwrite(buf, 1, len, f) == len ? 0 : -1;
		fclose(f);
	}
	free(buf);
	return rc;
}

/* A listening unix stream socket at path (replaced if present), or -1. */
static inline int fixture_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* rm -rf of a folder the test made under /tmp. */
static inline int fixture_rmtree(const char *dir)
{
	char cmd[600];

	if (strncmp(dir, "/tmp/", 5) || strchr(dir, '\''))
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* Whole file at path into out (NUL-terminated, at most cap - 1 bytes);
 * its length, or (size_t)-1 when it cannot be opened. */
static inline size_t file_slurp(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return (size_t)-1;
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
	return n;
}

/* Voluntary context switches (wakeups, for a thread that sleeps) of every
 * thread of this process but the calling one: the threads a module under
 * test started. */
static inline long fixture_other_threads_switches(void)
{
	char path[300], line[128];
	long total = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || atol(e->d_name) == (long)gettid())
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "voluntary_ctxt_switches:", 24))
				total += atol(line + 24);
		fclose(f);
	}
	closedir(d);
	return total;
}

/*
 * fn(arg) in a child process, for a test that unshares a namespace or
 * mounts: the child's exit status (its return value), or -1 when it did
 * not exit.  By convention 77 means "not possible here" (skip).
 */
static inline int run_in_child(int (*fn)(void *), void *arg)
{
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * A server starved of descriptors: with RLIMIT_NOFILE lowered to 256 and
 * every descriptor left taken (dups of fd), connect fd to sa (the server
 * cannot accept it) and sleep half a second.  Then give everything back.
 * Returns the process's CPU seconds over that half second (a server that
 * spins burns most of it), or -1 when the process could still open a
 * descriptor or the connect failed.
 */
static inline double fixture_starved_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct timespec half = {.tv_nsec = 500 * 1000000L}, t0, t1;
	struct rlimit old, low;
	int held[256], nheld = 0, dup_err = 0, conn_rc;

	if (getrlimit(RLIMIT_NOFILE, &old))
		return -1;
	low = old;
	low.rlim_cur = 256;
	if (setrlimit(RLIMIT_NOFILE, &low))
		return -1;
	while (nheld < 256) {
		int d = dup(fd);

		if (d < 0) {
			dup_err = errno;
			break;
		}
		held[nheld++] = d;
	}
	conn_rc = connect(fd, sa, len);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	nanosleep(&half, NULL);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	while (nheld)
		close(held[--nheld]);
	if (setrlimit(RLIMIT_NOFILE, &old) || dup_err != EMFILE || conn_rc)
		return -1;
	return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/*
 * A listener at path that never accepts, its backlog full (listen(fd, 0)
 * and the connections it still queued): what a stopped server looks like
 * to a client.  The queued connections go to c[] (up to max), their count
 * to *nc; returns the listener, or -1.
 */
static inline int fixture_full_listener(const char *path, int *c, int max, int *nc)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);

	*nc = 0;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) || listen(lfd, 0))
		return -1;
	while (*nc < max) {
		c[*nc] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(c[*nc], (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			close(c[*nc]);
			break;
		}
		(*nc)++;
	}
	return *nc >= 1 && *nc < max ? lfd : -1;
}

#endif
