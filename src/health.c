// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * health: a heartbeat file rewritten in place, and the probe that reads it.
 *
 * The record has a fixed width (numbers zero-padded), so every beat is one
 * pwrite at offset 0 of the same length and a reader never sees a shorter
 * or torn line on a local filesystem: the file never shrinks.  The beat is
 * written when the CLOCK_BOOTTIME second changes, so a loop that turns
 * every few milliseconds costs one write a second.  Boot time, not the
 * wall clock: it only moves forward and is the same for the agent and for
 * a `vigil health` started by `docker exec` or a kubelet exec probe.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vigil/health.h"

#define REC_MAGIC "vigil-heartbeat 1 "
/* magic + 20-digit seconds + space + 10-digit pid + newline (older agents) */
#define REC_LEN_PLAIN (sizeof(REC_MAGIC) - 1 + 20 + 1 + 10 + 1)
/* ... then, before the newline, a space and the hooks word padded to 16 */
#define HOOKS_W 16
#define REC_LEN (REC_LEN_PLAIN + 1 + HOOKS_W)

struct vg_health {
	int fd;
	uint64_t last;
	uint32_t pid;
	char hooks[HOOKS_W + 1];
	char path[256];
};

static uint64_t boottime_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts))
		return 0;
	return (uint64_t)ts.tv_sec;
}

static int write_beat(struct vg_health *h, uint64_t now)
{
	char rec[REC_LEN + 1];
	ssize_t w;

	snprintf(rec, sizeof(rec), REC_MAGIC "%020llu %010u %-16.16s\n", (unsigned long long)now,
		 (unsigned)h->pid, h->hooks[0] ? h->hooks : "-");
	w = pwrite(h->fd, rec, REC_LEN, 0);
	if (w < 0)
		return -errno;
	h->last = now;
	return w == (ssize_t)REC_LEN ? 0 : -EIO;
}

/* mkdir of the last path component's parent, one level */
static int make_parent(const char *path)
{
	char dir[256];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* does the path still name the file held open? */
static bool held_at_path(const struct vg_health *h)
{
	struct stat a, b;

	return fstat(h->fd, &a) == 0 && lstat(h->path, &b) == 0 && same_file(&a, &b);
}

/*
 * Take the file at h->path: 0 with h->fd open, locked and holding a
 * fresh record; -EBUSY while another running agent holds it; else -errno.
 * One agent per heartbeat: the file is held locked (flock) for the agent's
 * life, so a second agent (a `vigil run` in a terminal beside the sensor
 * container, both on /run/vigil) neither truncates it nor removes it when
 * it exits; it takes the file over once the holder is gone
 * (vg_health_beat).  On a file system without locks the file is written
 * unlocked, as it would be without this.
 */
static int take(struct vg_health *h, uint64_t now)
{
	struct stat a, b;
	int fd, err;

	fd = open(h->path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
	if (fd < 0 && errno == ENOENT && !make_parent(h->path)) /* its folder was removed */
		fd = open(h->path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &a) < 0 || !S_ISREG(a.st_mode)) {
		close(fd);
		return -EINVAL; /* a FIFO or a device put there: not written to */
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		close(fd);
		return -EBUSY;
	}
	/* the holder may have removed the path between our open and our
	 * lock: this file is then no one's heartbeat, the next try makes one */
	if (lstat(h->path, &b) < 0 || !same_file(&a, &b)) {
		close(fd);
		return -EBUSY;
	}
	/* the record first, then the length: a reader never finds it empty */
	h->fd = fd;
	err = write_beat(h, now);
	if (!err && ftruncate(fd, REC_LEN) < 0)
		err = -errno;
	if (err) {
		close(fd);
		h->fd = -1;
	}
	return err;
}

int vg_health_open(const char *path, struct vg_health **out)
{
	struct vg_health *h;
	int err;

	*out = NULL;
	if (!path)
		path = VG_HEALTH_PATH;
	if (strlen(path) >= sizeof(h->path))
		return -ENAMETOOLONG;
	err = make_parent(path);
	if (err)
		return err;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	snprintf(h->path, sizeof(h->path), "%s", path);
	h->pid = (uint32_t)getpid();
	h->fd = -1;
	err = take(h, boottime_s());
	if (err == -EBUSY) {
		h->last = boottime_s(); /* the first retry comes a second on */
		*out = h;
		return 1;
	}
	if (err)
		goto fail;
	*out = h;
	return 0;
fail:
	vg_health_free(&h);
	return err;
}

int vg_health_set_hooks(struct vg_health *h, const char *word)
{
	size_t i;

	if (!h || !word)
		return -EINVAL;
	for (i = 0; word[i] && i < HOOKS_W; i++) {
		/* one word the reader can scan: no blank, nothing unprintable */
		if (word[i] <= ' ' || word[i] > '~')
			return -EINVAL;
		h->hooks[i] = word[i];
	}
	h->hooks[i] = '\0';
	return h->fd >= 0 ? write_beat(h, boottime_s()) : 0;
}

void vg_health_beat(struct vg_health *h)
{
	uint64_t now;

	if (!h)
		return;
	now = boottime_s();
	if (now == h->last)
		return;
	if (h->fd >= 0) {
		/* still the file at the path?  Removed (rm -rf /run/vigil) or
		 * replaced, the beats would go where no reader looks */
		if (held_at_path(h)) {
			write_beat(h, now); /* a failed beat shows up as a stale heartbeat */
			return;
		}
		close(h->fd);
		h->fd = -1;
	}
	/* none, or another agent's: try once a second to take it (over) */
	h->last = now;
	take(h, now);
}

void vg_health_free(struct vg_health **hp)
{
	struct vg_health *h = hp ? *hp : NULL;

	if (!h)
		return;
	if (h->fd >= 0) {
		/* removed while still locked, and only when the path still
		 * names this file */
		if (held_at_path(h))
			unlink(h->path);
		close(h->fd);
	}
	free(h);
	*hp = NULL;
}

int vg_health_check(const char *path, unsigned max_age_s, uint64_t now, char *msg, size_t n)
{
	char rec[REC_LEN + 1], hooks[HOOKS_W + 1] = "", via[HOOKS_W + 16] = "";
	unsigned long long beat;
	unsigned pid;
	ssize_t r;
	bool sized;
	int fd;

	if (!path)
		path = VG_HEALTH_PATH;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int err = -errno;

		snprintf(msg, n, "unhealthy: no heartbeat at %s (%s): is the agent running?", path,
			 strerror(-err));
		return err == -ENOENT ? -ENOENT : err;
	}
	r = pread(fd, rec, REC_LEN, 0);
	close(fd);
	sized = r == (ssize_t)REC_LEN || r == (ssize_t)REC_LEN_PLAIN;
	/* before any sscanf: it reads up to a NUL, and a field that runs to
	 * the end of what was read (a blank pid) would be taken from the stack */
	rec[sized ? r : 0] = '\0';
	if (!sized || strncmp(rec, REC_MAGIC, sizeof(REC_MAGIC) - 1) != 0 ||
	    sscanf(rec + sizeof(REC_MAGIC) - 1, "%20llu %10u", &beat, &pid) != 2) {
		snprintf(msg, n, "unhealthy: %s is not a vigil heartbeat", path);
		return -EBADMSG;
	}
	if (r == (ssize_t)REC_LEN && sscanf(rec + REC_LEN_PLAIN, "%16s", hooks) == 1 &&
	    strcmp(hooks, "-") != 0)
		snprintf(via, sizeof(via), ", hooks %s", hooks);
	if (!now)
		now = boottime_s();
	if (pid && kill((pid_t)pid, 0) && errno == ESRCH) {
		snprintf(msg, n, "unhealthy: the agent (pid %u) that wrote %s has exited", pid,
			 path);
		return -ESRCH;
	}
	if (now > beat && now - beat > max_age_s) {
		snprintf(msg, n,
			 "unhealthy: ring-buffer loop stuck: last heartbeat %llus ago (limit %us)",
			 now - beat, max_age_s);
		return -ETIME;
	}
	snprintf(msg, n, "healthy: heartbeat %llus ago (pid %u%s)", now > beat ? now - beat : 0ULL,
		 pid, via);
	return 0;
}

int vg_health_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"max-age", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = VG_HEALTH_PATH;
	unsigned long age = VG_HEALTH_MAX_AGE;
	char msg[512], *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			path = optarg;
			break;
		case 'a':
			errno = 0;
			age = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || age == 0 || age > 86400) {
				fprintf(stderr, "vigil health: --max-age wants 1..86400 seconds\n");
				return 2;
			}
			break;
		case 'h':
			printf("usage: vigil health [--file PATH] [--max-age SECONDS]\n"
			       "  exit 0 when the agent's heartbeat (default %s) is younger than\n"
			       "  SECONDS (default %u), 1 otherwise\n",
			       VG_HEALTH_PATH, VG_HEALTH_MAX_AGE);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigil health: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	c = vg_health_check(path, (unsigned)age, 0, msg, sizeof(msg));
	fprintf(c ? stderr : stdout, "vigil: %s\n", msg);
	return c ? 1 : 0;
}
