/*
 * sink_file: a JSON-lines file with size-based rotation.  When the next
 * write would take the file past max_bytes, it is renamed PATH.1 (older
 * ones shift to PATH.2 ... PATH.keep, the oldest is removed) and, with
 * gzip on, compressed with zlib to PATH.1.gz.  Synchronous and single
 * threaded: sinks.c runs it on its own thread.  A full disk is an error
 * for the write at hand only; the next write tries again.  When someone
 * else renames or removes PATH (logrotate), the next write starts a new
 * file at PATH.
 */
#ifndef VIGIL_SINK_FILE_H
#define VIGIL_SINK_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vg_file_sink_opts {
	const char *path;
	uint64_t max_bytes; /* rotate past this size; 0 = never */
	unsigned keep;	    /* rotated files kept (0: none, the file restarts) */
	bool gzip;	    /* compress rotated files */
	/* creation mode of a new PATH, 0 = 0640; a PATH made anew after a
	 * rotation or a removal takes the access of the one before */
	unsigned mode;
	/* how often a write checks that PATH is still the file held (an
	 * outside rotation or rm); 0 = VG_FILE_FOLLOW_NS */
	uint64_t follow_ns;
};

#define VG_FILE_FOLLOW_NS (250ull * 1000 * 1000)

struct vg_file_sink_stats {
	uint64_t size; /* bytes in the current file */
	uint64_t rotations;
	uint64_t compress_errors; /* rotated file left uncompressed */
	uint64_t rotate_errors;	  /* due, and the live file could not be moved */
	uint64_t write_errors;
	uint64_t reopens; /* PATH was renamed or removed by someone else */
};

#define VG_FILE_PATH_MAX 4000

struct vg_file_sink;

/* Open (create, append) opts->path.  Returns 0 or -errno. */
int vg_file_sink_open(const struct vg_file_sink_opts *opts, struct vg_file_sink **out);
void vg_file_sink_close(struct vg_file_sink **fs);

/*
 * Append len bytes (whole lines), rotating first when needed.  Returns the
 * bytes written (== len on success; less when the disk filled: a partial
 * last line is ended with '\n' by the next successful write so the file
 * stays line-parseable) or -errno when nothing was written.
 */
ssize_t vg_file_sink_write(struct vg_file_sink *fs, const char *buf, size_t len);

/*
 * Would a write of up to len bytes be a plain append to a regular file
 * (no rotation or compression due, not a FIFO or device that may block)?
 * Then a caller that must not wait long may do it itself.
 */
bool vg_file_sink_quick(struct vg_file_sink *fs, size_t len);

/* Is the file open a regular file (not a FIFO or device)? */
bool vg_file_sink_regular(const struct vg_file_sink *fs);

/* Rotate now (also done by write).  Returns 0 or -errno. */
int vg_file_sink_rotate(struct vg_file_sink *fs);

void vg_file_sink_stats(const struct vg_file_sink *fs, struct vg_file_sink_stats *out);
/* Rotations and compressions that failed since the last call: errors a
 * write's return does not show (its lines were written). */
uint64_t vg_file_sink_take_errors(struct vg_file_sink *fs);

/* Compress src into dst (gzip, via a temporary) and remove src.
 * Returns 0 or -errno; on error src is left as it was. */
int vg_file_gzip(const char *src, const char *dst);

/* write(2) until len bytes are out or an error stops it (EINTR retried;
 * EAGAIN, from a non-blocking descriptor, waits for room, up to
 * VG_FILE_WAIT_MS without progress).  Returns the bytes written, or -errno
 * when none were. */
#define VG_FILE_WAIT_MS 5000

/*
 * vg_file_write_all() of a batch of whole lines to a destination whose last
 * write may have been cut inside a line (*broken): that line is ended first
 * (*ended = 1, ended may be NULL), so the batch starts on a line of its own; a write cut now
 * inside a line sets *broken.  Returns the bytes of buf written, or -errno
 * (-ENOSPC when not even the newline went out).
 */
ssize_t vg_file_write_lines(int fd, bool *broken, const char *buf, size_t len, size_t *ended);
ssize_t vg_file_write_all(int fd, const char *buf, size_t len);

#endif
