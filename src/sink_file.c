// SPDX-License-Identifier: GPL-2.0
/*
 * sink_file: rotation by renaming, newest first.
 *
 * Names: PATH is live; PATH.1[.gz] is the most recent rotated file, up to
 * PATH.<keep>[.gz].  A rotation removes PATH.<keep>, shifts PATH.i to
 * PATH.(i+1) for i = keep-1 .. 1 (both the .gz and the plain form, because
 * a compression that failed on a full disk leaves a plain file), renames
 * PATH to PATH.1, reopens PATH and then compresses PATH.1.  Compression
 * writes PATH.1.gz.tmp (with the live file's mode) and renames it, so a
 * reader never sees half a gzip file under the final name.  The new PATH
 * takes the old one's mode, and its owner and group where it may: whoever
 * read the live file before a rotation still reads it after.
 *
 * PATH is moved aside (PATH.rotating) before anything else is touched: a
 * live file that cannot be renamed (bind-mounted into a container: EBUSY)
 * leaves the rotated files as they were.  The next attempt then waits
 * until the file has grown by another max_bytes, instead of coming with
 * every write.  A PATH.rotating found there already is what a rotation
 * cut short left (the agent killed between the two renames): it becomes
 * PATH.1 before PATH is moved, so its lines are kept, one place older.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "vigil/sink_file.h"

struct vg_file_sink {
	char path[VG_FILE_PATH_MAX];
	uint64_t max_bytes;
	uint64_t rotate_at; /* size past which to rotate: max_bytes, more after a failure */
	unsigned keep;
	bool gzip;
	unsigned mode;
	int fd;
	dev_t dev;			 /* identity of the open file, to notice when */
	ino_t ino;			 /* someone else renamed or removed it */
	bool broken_line;		 /* the file ends inside a line */
	uint64_t follow_ns, next_follow; /* CLOCK_MONOTONIC ns */
	struct vg_file_sink_stats st;
	uint64_t untold; /* rotation and compression errors not taken yet */
};

/* Does the regular file sb (at path) end inside a line?  Read through a
 * descriptor of its own: the sink's only writes. */
static bool ends_mid_line(const char *path, const struct stat *sb)
{
	struct stat rs;
	char last = '\n';
	int rd;

	if (sb->st_size <= 0)
		return false;
	rd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (rd < 0)
		return false;
	if (fstat(rd, &rs) || rs.st_ino != sb->st_ino || rs.st_dev != sb->st_dev ||
	    pread(rd, &last, 1, sb->st_size - 1) != 1)
		last = '\n';
	close(rd);
	return last != '\n';
}

/*
 * Give fd the permissions of like and, as far as this process may, its
 * owner and group: a file that takes the place of the live one (after a
 * rotation, a removal) stays readable by whoever read the one before (an
 * admin's 0644, a log shipper's group), and so do its compressed copies.
 * Without CAP_CHOWN (the agent drops it after start) only a group this
 * process is in can be given; a setgid folder's group is kept.  The mode first: once given away,
 * the file is no longer ours to chmod.  Returns 0, or -errno when the mode failed.
 */
static int take_access(int fd, const struct stat *like)
{
	int saved = errno;
	struct stat now;
	gid_t gid = like->st_gid;

	if (fchmod(fd, like->st_mode & 0777) < 0)
		return -errno;
	/* a group other than this process's came from a setgid folder: the
	 * folder's choice (made for the file's readers) stands */
	if (fstat(fd, &now) == 0 && now.st_gid != getegid())
		gid = (gid_t)-1;
	if (fchown(fd, like->st_uid, gid) < 0 &&
	    (gid == (gid_t)-1 || fchown(fd, (uid_t)-1, gid) < 0))
		errno = saved; /* what cannot be given stays as created */
	return 0;
}

/* Open PATH, creating it when missing: as like (the file it replaces,
 * see take_access) when given, else with fs->mode. */
static int open_live(struct vg_file_sink *fs, const struct stat *like)
{
	/* O_NONBLOCK: a FIFO nobody reads fails at once (ENXIO) instead of
	 * waiting in open() for a reader; writes block as they always did */
	const int how = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat sb;

	fs->fd = open(fs->path, how);
	if (fs->fd < 0 && errno == ENOENT) {
		/* made here, not by someone else in between (logrotate's
		 * create): only then is it given like's access */
		fs->fd = open(fs->path, how | O_CREAT | O_EXCL, fs->mode);
		if (fs->fd >= 0 && like)
			take_access(fs->fd, like);
		else if (fs->fd < 0 && errno == EEXIST) /* theirs, or a dangling link */
			fs->fd = open(fs->path, how | O_CREAT, fs->mode);
	}
	if (fs->fd < 0)
		return -errno;
	int fl = fcntl(fs->fd, F_GETFL);
	if (fl < 0 || fcntl(fs->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int err = -errno;

		close(fs->fd);
		fs->fd = -1;
		return err;
	}
	if (fstat(fs->fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		fs->st.size = (uint64_t)sb.st_size;
		fs->dev = sb.st_dev;
		fs->ino = sb.st_ino;
		/* a write cut by a full disk before a reopen, an agent killed
		 * mid-write: the next line starts on a line of its own */
		fs->broken_line = ends_mid_line(fs->path, &sb);
	} else {
		/* a FIFO or device: never rotate it, never write it from the
		 * emitting thread (vg_file_sink_regular), and do not follow its
		 * name, also when it took the place of the regular file held
		 * before (a reopen must not keep that file's inode) */
		fs->dev = 0;
		fs->ino = 0;
		fs->broken_line = false;
		fs->st.size = 0;
		if (fstat(fs->fd, &sb) == 0 && !S_ISREG(sb.st_mode))
			fs->max_bytes = 0;
	}
	return 0;
}

int vg_file_sink_open(const struct vg_file_sink_opts *opts, struct vg_file_sink **out)
{
	struct vg_file_sink *fs;
	int err;

	if (!opts || !opts->path || !*opts->path || !out)
		return -EINVAL;
	/* room for ".NNNNN.gz.tmp", in the path and in its last name (a
	 * rename to a name past NAME_MAX fails on every rotation) */
	const char *base = strrchr(opts->path, '/');
	base = base ? base + 1 : opts->path;
	if (strlen(opts->path) + 16 >= VG_FILE_PATH_MAX ||
	    (opts->max_bytes && strlen(base) + 16 > NAME_MAX) || opts->keep > 9999)
		return -ENAMETOOLONG;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	snprintf(fs->path, sizeof(fs->path), "%s", opts->path);
	fs->max_bytes = opts->max_bytes;
	fs->rotate_at = opts->max_bytes;
	fs->keep = opts->keep;
	fs->gzip = opts->gzip;
	fs->mode = opts->mode ? opts->mode : 0640;
	fs->follow_ns = opts->follow_ns ? opts->follow_ns : VG_FILE_FOLLOW_NS;
	err = open_live(fs, NULL);
	if (err) {
		free(fs);
		return err;
	}
	*out = fs;
	return 0;
}

void vg_file_sink_close(struct vg_file_sink **fsp)
{
	if (!fsp || !*fsp)
		return;
	if ((*fsp)->fd >= 0)
		close((*fsp)->fd);
	free(*fsp);
	*fsp = NULL;
}

static void rotated_name(char *dst, size_t n, const char *path, unsigned i, bool gz)
{
	/* cannot truncate: open() checked the path leaves room */
	if (snprintf(dst, n, "%s.%u%s", path, i, gz ? ".gz" : "") >= (int)n)
		dst[0] = '\0';
}

int vg_file_gzip(const char *src, const char *dst)
{
	char tmp[VG_FILE_PATH_MAX + 8], buf[65536];
	gzFile gz = NULL;
	struct stat sb;
	ssize_t n;
	int in, out, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	/* the source's permissions, not gzopen's 0666 less the umask */
	if (fstat(in, &sb) < 0) {
		err = -errno;
		goto out;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, sb.st_mode & 0777);
	if (out < 0) {
		err = -errno;
		goto out;
	}
	/* O_TRUNC keeps the mode of a tmp file left by an earlier failure */
	if (take_access(out, &sb) < 0 || !(gz = gzdopen(out, "wb6"))) {
		err = errno ? -errno : -ENOMEM;
		close(out);
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (gzwrite(gz, buf, (unsigned)n) != (int)n) {
			int zerr;
			const char *msg = gzerror(gz, &zerr);

			(void)msg;
			err = zerr == Z_ERRNO && errno ? -errno : -EIO;
			goto out;
		}
	}
	if (n < 0) {
		err = -errno;
		goto out;
	}
	{
		int zrc = gzclose(gz);

		gz = NULL;
		if (zrc != Z_OK) {
			err = zrc == Z_ERRNO && errno ? -errno : -EIO;
			goto out;
		}
	}
	if (rename(tmp, dst) < 0) {
		err = -errno;
		goto out;
	}
	unlink(src);
out:
	if (gz)
		gzclose(gz);
	if (err)
		unlink(tmp);
	close(in);
	return err;
}

/* A rotation that failed: the live file goes on, the next try waits. */
static int rotate_failed(struct vg_file_sink *fs, int err)
{
	fs->st.rotate_errors++;
	fs->untold++;
	open_live(fs, NULL);
	fs->rotate_at = fs->st.size + fs->max_bytes;
	return err;
}

/* Make room at PATH.1: PATH.<keep> goes, PATH.i becomes PATH.(i+1). */
static void shift_rotated(struct vg_file_sink *fs)
{
	char from[VG_FILE_PATH_MAX], to[VG_FILE_PATH_MAX];

	for (int gz = 0; gz <= 1; gz++) {
		rotated_name(to, sizeof(to), fs->path, fs->keep, gz);
		unlink(to);
	}
	for (unsigned i = fs->keep - 1; i >= 1; i--) {
		for (int gz = 0; gz <= 1; gz++) {
			rotated_name(from, sizeof(from), fs->path, i, gz);
			rotated_name(to, sizeof(to), fs->path, i + 1, gz);
			rename(from, to); /* ENOENT: that slot was empty */
		}
	}
}

/* Compress PATH.i in place (PATH.i.gz); a failure leaves it plain. */
static void compress_rotated(struct vg_file_sink *fs, unsigned i)
{
	char from[VG_FILE_PATH_MAX], to[VG_FILE_PATH_MAX];

	rotated_name(from, sizeof(from), fs->path, i, false);
	rotated_name(to, sizeof(to), fs->path, i, true);
	if (vg_file_gzip(from, to) < 0) {
		fs->st.compress_errors++;
		fs->untold++;
	}
}

int vg_file_sink_rotate(struct vg_file_sink *fs)
{
	char to[VG_FILE_PATH_MAX], aside[VG_FILE_PATH_MAX];
	struct stat was; /* the live file, whose access the new one takes */
	bool known = false, moved, earlier = false;
	int err;

	if (fs->fd >= 0) {
		known = fstat(fs->fd, &was) == 0;
		close(fs->fd);
		fs->fd = -1;
	}
	if (fs->keep == 0) {
		if (unlink(fs->path) < 0 && errno != ENOENT)
			return rotate_failed(fs, -errno);
	} else {
		struct stat sb;

		/* cannot truncate: open() checked the path leaves room */
		if (snprintf(aside, sizeof(aside), "%s.rotating", fs->path) >= (int)sizeof(aside))
			return rotate_failed(fs, -ENAMETOOLONG);
		rotated_name(to, sizeof(to), fs->path, 1, false);
		/* the live file of a rotation cut short (the agent killed
		 * between its renames) is still aside: it joins the rotated
		 * files first, as the newest, instead of being replaced below */
		if (lstat(aside, &sb) == 0) {
			shift_rotated(fs);
			if (rename(aside, to) < 0)
				return rotate_failed(fs, -errno);
			earlier = true;
		}
		moved = rename(fs->path, aside) == 0;
		if (!moved && errno != ENOENT)
			return rotate_failed(fs, -errno);
		shift_rotated(fs);
		if (moved && rename(aside, to) < 0) {
			err = -errno;
			rename(aside, fs->path); /* back in place, lines and all */
			return rotate_failed(fs, err);
		}
	}
	fs->st.rotations++;
	fs->rotate_at = fs->max_bytes;
	err = open_live(fs, known ? &was : NULL);
	if (err)
		return err;
	if (fs->keep && fs->gzip) {
		compress_rotated(fs, 1);
		if (earlier && fs->keep > 1)
			compress_rotated(fs, 2);
	}
	return 0;
}

ssize_t vg_file_write_all(int fd, const char *buf, size_t len)
{
	size_t done = 0;
	int waited = 0;

	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* a descriptor handed over non-blocking (stdout on a
			 * shared pipe): wait for room, as a blocking one would,
			 * up to VG_FILE_WAIT_MS without any */
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && waited < VG_FILE_WAIT_MS) {
				struct pollfd p = {.fd = fd, .events = POLLOUT};
				int r = poll(&p, 1, 100);

				waited = r > 0 ? 0 : waited + 100;
				continue;
			}
			if (done)
				break;
			return -errno;
		}
		waited = 0;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t vg_file_write_lines(int fd, bool *broken, const char *buf, size_t len, size_t *ended)
{
	ssize_t n;

	if (ended)
		*ended = 0;
	if (*broken) {
		n = vg_file_write_all(fd, "\n", 1);
		if (n != 1)
			return n < 0 ? n : -ENOSPC;
		if (ended)
			*ended = 1;
		*broken = false;
	}
	n = vg_file_write_all(fd, buf, len);
	if (n > 0 && (size_t)n < len && buf[n - 1] != '\n')
		*broken = true;
	return n;
}

/*
 * An outside rotation (logrotate without copytruncate, or rm) leaves us
 * writing to a file nobody sees: when PATH is no longer the file we hold,
 * start a new one at PATH.  Checked at most once per follow_ns: a stat()
 * per write was 3% of the agent's CPU under an exec storm, and lines
 * written in between go on to the file held (the rotated one: kept).
 * now: look whatever the interval (a rotation is due).  The file is still
 * held while PATH is compared with it: a removed file's inode number can
 * go to a new file at PATH once it is closed.
 */
static void follow_path(struct vg_file_sink *fs, bool now)
{
	struct timespec ts;
	struct stat sb;
	uint64_t mono;

	if (fs->fd < 0 || !fs->ino)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	mono = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (!now && mono < fs->next_follow)
		return;
	fs->next_follow = mono + fs->follow_ns;
	if (stat(fs->path, &sb) == 0 && sb.st_dev == fs->dev && sb.st_ino == fs->ino) {
		/* the same file, cut short by someone else (logrotate's
		 * copytruncate): its size, not ours, is where the next
		 * rotation is counted from */
		if ((uint64_t)sb.st_size < fs->st.size) {
			fs->st.size = (uint64_t)sb.st_size;
			fs->rotate_at = fs->max_bytes;
			fs->broken_line = false;
		}
		return;
	}
	/* a file made anew at PATH takes the held one's access */
	bool known = fstat(fs->fd, &sb) == 0;

	close(fs->fd);
	fs->fd = -1;
	open_live(fs, known ? &sb : NULL);
	fs->rotate_at = fs->max_bytes; /* a new file */
	fs->st.reopens++;
}

static bool rotation_due(const struct vg_file_sink *fs, size_t len)
{
	return fs->max_bytes && fs->st.size && fs->st.size + len > fs->rotate_at;
}

ssize_t vg_file_sink_write(struct vg_file_sink *fs, const char *buf, size_t len)
{
	ssize_t n;

	if (!len)
		return 0;
	follow_path(fs, false);
	/*
	 * A rotation moves PATH: first make sure it is still ours.  Renamed
	 * or removed by someone else, there is nothing of ours to rotate, and
	 * the archives must not shift (nor someone else's new file at PATH
	 * become PATH.1, or be removed with keep 0).
	 */
	if (rotation_due(fs, len))
		follow_path(fs, true);
	if (rotation_due(fs, len)) {
		int err = vg_file_sink_rotate(fs);

		if (err && fs->fd < 0)
			return err;
	}
	if (fs->fd < 0) {
		int err = open_live(fs, NULL);

		if (err) {
			fs->st.write_errors++;
			return err;
		}
	}
	size_t ended;

	n = vg_file_write_lines(fs->fd, &fs->broken_line, buf, len, &ended);
	fs->st.size += ended;
	if (n < 0) {
		fs->st.write_errors++;
		return n;
	}
	fs->st.size += (uint64_t)n;
	if ((size_t)n < len)
		fs->st.write_errors++;
	return n;
}

bool vg_file_sink_regular(const struct vg_file_sink *fs)
{
	/* ino is only set for a regular file (a FIFO may block) */
	return fs && fs->fd >= 0 && fs->ino;
}

bool vg_file_sink_quick(struct vg_file_sink *fs, size_t len)
{
	if (!fs)
		return false;
	/* the path first: the regular file held may have been replaced by a
	 * FIFO, which the write would reopen and block on */
	follow_path(fs, false);
	if (!vg_file_sink_regular(fs))
		return false;
	return !rotation_due(fs, len);
}

uint64_t vg_file_sink_take_errors(struct vg_file_sink *fs)
{
	uint64_t n = fs->untold;

	fs->untold = 0;
	return n;
}

void vg_file_sink_stats(const struct vg_file_sink *fs, struct vg_file_sink_stats *out)
{
	*out = fs->st;
}
