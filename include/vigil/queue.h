/*
 * queue: a bounded queue of byte strings (JSON lines) in one ring allocated
 * up front.  Any number of producers, one consumer.  A push never
 * allocates, and waits for room only when asked to (vg_queue_pushv_wait):
 * when the line does not fit, it is dropped (the newest loses, what is
 * queued stays in order) and counted.  A queue made
 * with VG_QUEUE_EVICT drops the oldest lines instead (a backlog).
 * The consumer may sleep in vg_queue_wait() or be told through an eventfd.
 */
#ifndef VIGIL_QUEUE_H
#define VIGIL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct vg_queue;

enum vg_queue_flags {
	VG_QUEUE_EVICT = 1u << 0, /* full: evict oldest instead of dropping new */
};

struct vg_queue_stats {
	uint64_t pushed;  /* lines accepted */
	uint64_t popped;  /* lines taken by the consumer */
	uint64_t dropped; /* lines refused (full or too long) */
	uint64_t evicted; /* lines evicted (VG_QUEUE_EVICT) */
	size_t lines;	  /* lines queued now */
	size_t used;	  /* bytes of ring in use now */
	size_t cap;	  /* ring size in bytes */
	size_t high;	  /* most bytes ever in use */
};

/*
 * A ring of `bytes` (rounded up to 8, at least 64).  Each line costs its
 * length plus up to 15 bytes; lines longer than max_line (0: bytes / 2)
 * are refused.  Returns 0 or -errno.
 */
int vg_queue_new(size_t bytes, size_t max_line, unsigned flags, struct vg_queue **out);
void vg_queue_free(struct vg_queue **q);

/*
 * Append one line made of the iovecs (concatenated).  Returns 0, -ENOBUFS
 * when full, -EMSGSIZE when longer than max_line, -EPIPE after close.
 * Refused lines are counted in dropped.
 */
int vg_queue_pushv(struct vg_queue *q, const struct iovec *iov, int iovcnt);
int vg_queue_push(struct vg_queue *q, const void *line, size_t len);

/*
 * The same, but a full queue makes the caller wait up to wait_ms for the
 * consumer to take lines (the consumer is woken at once).  -ENOBUFS only
 * once the wait is over; -EPIPE when the queue is closed meanwhile.
 */
int vg_queue_pushv_wait(struct vg_queue *q, const struct iovec *iov, int iovcnt, int wait_ms);

/*
 * Take the oldest line into buf.  Returns its length, 0 when the queue is
 * empty, -EMSGSIZE when cap is too small (the line stays queued).
 */
ssize_t vg_queue_pop(struct vg_queue *q, void *buf, size_t cap);

/*
 * Consumer: take lines oldest first in one lock, calling fn on each (under
 * the queue's lock: fn must be short and must not touch the queue); a line
 * is removed once fn returns 0, and the drain stops, leaving that line
 * queued, when fn returns non-zero.  Returns the number of lines taken.
 */
int vg_queue_drain(struct vg_queue *q, int (*fn)(const void *line, size_t len, void *ctx),
		   void *ctx);

/*
 * Consumer: wait up to timeout_ms (-1: forever) for a line.  Returns 1 when
 * a line is queued, 0 on timeout, -EPIPE when closed and empty.
 */
int vg_queue_wait(struct vg_queue *q, int timeout_ms);

/*
 * The same, but sleep until at least min_bytes of ring are in use (or the
 * timeout, or close): producers only wake a consumer that has that much to
 * do.  Returns 1 when any line is queued at return, else 0 or -EPIPE.
 */
int vg_queue_wait_for(struct vg_queue *q, size_t min_bytes, int timeout_ms);

/*
 * Consumer: sleep ms, whatever is pushed meanwhile; returns -EPIPE at once
 * when the queue is closed (or as soon as it is), else 0.
 */
int vg_queue_sleep(struct vg_queue *q, int ms);

/*
 * Producer: lines are queued, end the consumer's wait now (whatever
 * min_bytes it asked for).  A producer that pushes in rounds (the agent
 * drains the ring buffer every few ms) kicks once per round: one wakeup per
 * round, not per line.  No effect on an empty queue.
 */
void vg_queue_kick(struct vg_queue *q);

/* Refuse further pushes and wake the consumer. */
void vg_queue_close(struct vg_queue *q);

/*
 * Write 1 to eventfd efd (-1: none) when a push makes the queue non-empty
 * (bytes 0) or takes its use across bytes.  A consumer told this way
 * drains until pop returns 0, and with bytes > 0 also drains on a timer.
 */
void vg_queue_set_notify(struct vg_queue *q, int efd, size_t bytes);

/*
 * Call fn on every queued line, oldest first, without removing them
 * (under the queue's lock: fn must not touch the queue).  Stops early
 * when fn returns non-zero and returns that value.
 */
int vg_queue_foreach(struct vg_queue *q, int (*fn)(const void *line, size_t len, void *ctx),
		     void *ctx);

/* Drop every queued line (not counted as dropped). */
void vg_queue_clear(struct vg_queue *q);

void vg_queue_stats(struct vg_queue *q, struct vg_queue_stats *out);
size_t vg_queue_max_line(const struct vg_queue *q);

#endif
