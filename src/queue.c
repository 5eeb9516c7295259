// SPDX-License-Identifier: GPL-2.0
/*
 * queue: a byte ring of variable-length entries.
 *
 * Layout: every entry is an 8-byte header (length, kind) followed by the
 * line, padded to 8 bytes, so headers are always aligned and an entry never
 * straddles the end of the ring.  When the free space at the end of the
 * ring is too short for the next entry, a WRAP header marks the rest of the
 * ring as unused and the entry goes to offset 0.  `used` counts every byte
 * between tail and head, wasted tail space included, which makes "full" and
 * "empty" unambiguous even when head == tail.
 *
 * Locking: one mutex guards head/tail/used.  The producer copies the line
 * while holding it (lines are short, a copy of a few hundred bytes); the
 * consumer copies out under it too.  Two condition variables: `cond` wakes
 * a consumer waiting for lines (vg_queue_wait_for), `room` a producer
 * waiting for space (vg_queue_pushv_wait); each side signals the other only
 * when it is known to wait, and the consumer once per pop or drain, not
 * once per line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/queue.h"

#define HDR_SIZE 8u
#define KIND_LINE 0x4c494e45u /* "LINE" */
#define KIND_WRAP 0x57524150u /* "WRAP" */

struct entry_hdr {
	uint32_t len;
	uint32_t kind;
};

struct vg_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* lines for a waiting consumer */
	pthread_cond_t room; /* space for a waiting producer */
	unsigned char *ring;
	size_t cap;
	size_t max_line;
	size_t head; /* next write offset */
	size_t tail; /* oldest entry */
	size_t used;
	size_t pad; /* the end of the ring the last reserve() wasted, in used */
	size_t lines;
	size_t high;
	unsigned flags;
	bool closed;
	bool waiting;
	unsigned pwaiting; /* producers waiting for room */
	bool kicked;	   /* vg_queue_kick: end the consumer's wait now */
	size_t wait_bytes; /* the waiting consumer wants this much */
	int notify_fd;
	size_t notify_bytes; /* eventfd when used crosses this (0: first line) */
	uint64_t pushed, popped, dropped, evicted;
};

static size_t round8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

int vg_queue_new(size_t bytes, size_t max_line, unsigned flags, struct vg_queue **out)
{
	struct vg_queue *q;
	pthread_condattr_t ca;
	int err = 0;

	if (!out || bytes > (size_t)1 << 31)
		return -EINVAL;
	bytes = round8(bytes < 64 ? 64 : bytes);
	if (max_line == 0)
		max_line = bytes / 2;
	if (HDR_SIZE + round8(max_line) > bytes)
		return -EINVAL;

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->ring = malloc(bytes);
	if (!q->ring) {
		err = -ENOMEM;
		goto fail;
	}
	q->cap = bytes;
	q->max_line = max_line;
	q->flags = flags;
	q->notify_fd = -1;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_cond_init(&q->room, &ca);
	pthread_condattr_destroy(&ca);
	*out = q;
	return 0;
fail:
	free(q->ring);
	free(q);
	return err;
}

void vg_queue_free(struct vg_queue **qp)
{
	struct vg_queue *q;

	if (!qp || !*qp)
		return;
	q = *qp;
	pthread_cond_destroy(&q->cond);
	pthread_cond_destroy(&q->room);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
	*qp = NULL;
}

static struct entry_hdr *hdr_at(struct vg_queue *q, size_t off)
{
	return (struct entry_hdr *)(void *)(q->ring + off);
}

/* Skip a WRAP marker at the tail, if any.  Caller holds the lock. */
static void skip_wrap(struct vg_queue *q)
{
	if (q->used && hdr_at(q, q->tail)->kind == KIND_WRAP) {
		q->used -= q->cap - q->tail;
		q->tail = 0;
	}
}

/* Remove the oldest entry.  Caller holds the lock; queue not empty. */
static void drop_oldest(struct vg_queue *q)
{
	size_t need;

	skip_wrap(q);
	need = HDR_SIZE + round8(hdr_at(q, q->tail)->len);
	q->tail += need;
	q->used -= need;
	if (q->tail == q->cap)
		q->tail = 0;
	q->lines--;
	if (!q->used)
		q->head = q->tail = 0;
	skip_wrap(q);
}

/*
 * Find room for an entry of `need` bytes; returns its offset or -1 when the
 * ring cannot take it now.  Caller holds the lock.
 */
static ssize_t reserve(struct vg_queue *q, size_t need)
{
	q->pad = 0;
	if (!q->used) {
		q->head = q->tail = 0;
		return need <= q->cap ? 0 : -1;
	}
	if (q->head > q->tail) {
		if (need <= q->cap - q->head)
			return (ssize_t)q->head;
		if (need > q->tail)
			return -1;
		/* waste the end of the ring and start over at 0 */
		hdr_at(q, q->head)->kind = KIND_WRAP;
		hdr_at(q, q->head)->len = 0;
		q->pad = q->cap - q->head;
		q->used += q->pad;
		q->head = 0;
		return 0;
	}
	/* head <= tail with data: the free space is [head, tail) */
	if (q->head == q->tail || need > q->tail - q->head)
		return -1;
	return (ssize_t)q->head;
}

/* CLOCK_MONOTONIC now + ms (the clock both condition variables use) */
static struct timespec deadline(int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Lines were taken: a producer waiting for room may go on.  Caller holds
 * the lock. */
static void made_room(struct vg_queue *q)
{
	if (q->pwaiting)
		pthread_cond_broadcast(&q->room);
}

/*
 * Room for `need` bytes, waiting up to wait_ms (0: not at all) for the
 * consumer to make it; the consumer is woken first, whatever it waits for,
 * since a full queue is all the work it will get.  Returns the offset or
 * -1.  Caller holds the lock.
 */
static ssize_t reserve_wait(struct vg_queue *q, size_t need, int wait_ms)
{
	ssize_t off = reserve(q, need);
	struct timespec until;

	while (off < 0 && (q->flags & VG_QUEUE_EVICT) && q->lines) {
		drop_oldest(q);
		q->evicted++;
		off = reserve(q, need);
	}
	if (off >= 0 || wait_ms <= 0)
		return off;
	until = deadline(wait_ms);
	while (off < 0 && !q->closed) {
		q->kicked = true;
		if (q->waiting)
			pthread_cond_signal(&q->cond);
		q->pwaiting++;
		int rc = pthread_cond_timedwait(&q->room, &q->lock, &until);
		q->pwaiting--;
		if (!q->closed)
			off = reserve(q, need);
		if (rc == ETIMEDOUT)
			break;
	}
	return off;
}

int vg_queue_pushv(struct vg_queue *q, const struct iovec *iov, int iovcnt)
{
	return vg_queue_pushv_wait(q, iov, iovcnt, 0);
}

int vg_queue_pushv_wait(struct vg_queue *q, const struct iovec *iov, int iovcnt, int wait_ms)
{
	size_t len = 0, need, at, used_before;
	ssize_t off;
	bool was_empty;
	int efd = -1;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;

	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return -EPIPE;
	}
	if (len > q->max_line) {
		q->dropped++;
		pthread_mutex_unlock(&q->lock);
		return -EMSGSIZE;
	}
	need = HDR_SIZE + round8(len);
	off = reserve_wait(q, need, wait_ms);
	if (off < 0) {
		int err = q->closed ? -EPIPE : -ENOBUFS;

		q->dropped++;
		pthread_mutex_unlock(&q->lock);
		return err;
	}
	was_empty = q->lines == 0;
	/* the wasted end counts as this push's: a crossing it makes is one */
	used_before = q->used - q->pad;
	hdr_at(q, (size_t)off)->len = (uint32_t)len;
	hdr_at(q, (size_t)off)->kind = KIND_LINE;
	at = (size_t)off + HDR_SIZE;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len)
			memcpy(q->ring + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	q->head = (size_t)off + need;
	if (q->head == q->cap)
		q->head = 0;
	q->used += need;
	q->lines++;
	q->pushed++;
	if (q->used > q->high)
		q->high = q->used;
	/* wake the consumer only when it asked for this much: a busy queue
	 * then costs one wakeup per batch, not one per line */
	if (q->waiting && q->used >= q->wait_bytes)
		pthread_cond_signal(&q->cond);
	if (q->notify_bytes ? used_before < q->notify_bytes && q->used >= q->notify_bytes
			    : was_empty)
		efd = q->notify_fd;
	pthread_mutex_unlock(&q->lock);

	if (efd >= 0) {
		uint64_t one = 1;
		/* an eventfd write only fails when the counter would overflow,
		 * and then the consumer is already due to wake */
		if (write(efd, &one, sizeof(one)) < 0)
			return 0;
	}
	return 0;
}

int vg_queue_push(struct vg_queue *q, const void *line, size_t len)
{
	struct iovec iov = {.iov_base = (void *)line, .iov_len = len};

	return vg_queue_pushv(q, &iov, 1);
}

ssize_t vg_queue_pop(struct vg_queue *q, void *buf, size_t cap)
{
	struct entry_hdr *h;
	size_t len;

	pthread_mutex_lock(&q->lock);
	if (!q->lines) {
		pthread_mutex_unlock(&q->lock);
		return 0;
	}
	skip_wrap(q);
	h = hdr_at(q, q->tail);
	len = h->len;
	if (len > cap) {
		pthread_mutex_unlock(&q->lock);
		return -EMSGSIZE;
	}
	memcpy(buf, q->ring + q->tail + HDR_SIZE, len);
	drop_oldest(q);
	q->popped++;
	made_room(q);
	pthread_mutex_unlock(&q->lock);
	return (ssize_t)len;
}

int vg_queue_drain(struct vg_queue *q, int (*fn)(const void *line, size_t len, void *ctx),
		   void *ctx)
{
	int n = 0;

	pthread_mutex_lock(&q->lock);
	while (q->lines) {
		struct entry_hdr *h;

		skip_wrap(q);
		h = hdr_at(q, q->tail);
		if (fn(q->ring + q->tail + HDR_SIZE, h->len, ctx))
			break;
		drop_oldest(q);
		q->popped++;
		n++;
	}
	if (n)
		made_room(q);
	pthread_mutex_unlock(&q->lock);
	return n;
}

int vg_queue_wait(struct vg_queue *q, int timeout_ms)
{
	return vg_queue_wait_for(q, 1, timeout_ms);
}

int vg_queue_wait_for(struct vg_queue *q, size_t min_bytes, int timeout_ms)
{
	struct timespec until = {0};
	int ret;

	if (timeout_ms >= 0)
		until = deadline(timeout_ms);
	if (min_bytes == 0)
		min_bytes = 1;
	pthread_mutex_lock(&q->lock);
	if (!q->lines)
		q->kicked = false; /* what it was about is taken already */
	while (q->used < min_bytes && !q->closed && !q->kicked) {
		q->waiting = true;
		q->wait_bytes = min_bytes;
		if (timeout_ms < 0) {
			pthread_cond_wait(&q->cond, &q->lock);
		} else if (pthread_cond_timedwait(&q->cond, &q->lock, &until) == ETIMEDOUT) {
			break;
		}
	}
	q->waiting = false;
	q->kicked = false;
	if (q->lines)
		ret = 1;
	else
		ret = q->closed ? -EPIPE : 0;
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int vg_queue_sleep(struct vg_queue *q, int ms)
{
	struct timespec until = deadline(ms);
	int ret;

	pthread_mutex_lock(&q->lock);
	while (!q->closed && pthread_cond_timedwait(&q->cond, &q->lock, &until) != ETIMEDOUT)
		;
	ret = q->closed ? -EPIPE : 0;
	pthread_mutex_unlock(&q->lock);
	return ret;
}

void vg_queue_kick(struct vg_queue *q)
{
	pthread_mutex_lock(&q->lock);
	if (q->lines) {
		q->kicked = true;
		if (q->waiting)
			pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
}

void vg_queue_close(struct vg_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->cond);
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->lock);
}

void vg_queue_set_notify(struct vg_queue *q, int efd, size_t bytes)
{
	pthread_mutex_lock(&q->lock);
	q->notify_fd = efd;
	q->notify_bytes = bytes;
	pthread_mutex_unlock(&q->lock);
}

int vg_queue_foreach(struct vg_queue *q, int (*fn)(const void *line, size_t len, void *ctx),
		     void *ctx)
{
	size_t off, left;
	int ret = 0;

	pthread_mutex_lock(&q->lock);
	off = q->tail;
	left = q->lines;
	while (left && !ret) {
		struct entry_hdr *h = hdr_at(q, off);

		if (h->kind == KIND_WRAP) {
			off = 0;
			continue;
		}
		ret = fn(q->ring + off + HDR_SIZE, h->len, ctx);
		off += HDR_SIZE + round8(h->len);
		if (off == q->cap)
			off = 0;
		left--;
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

void vg_queue_clear(struct vg_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->head = q->tail = q->used = q->lines = 0;
	made_room(q);
	pthread_mutex_unlock(&q->lock);
}

void vg_queue_stats(struct vg_queue *q, struct vg_queue_stats *out)
{
	pthread_mutex_lock(&q->lock);
	out->pushed = q->pushed;
	out->popped = q->popped;
	out->dropped = q->dropped;
	out->evicted = q->evicted;
	out->lines = q->lines;
	out->used = q->used;
	out->cap = q->cap;
	out->high = q->high;
	pthread_mutex_unlock(&q->lock);
}

size_t vg_queue_max_line(const struct vg_queue *q)
{
	return q->max_line;
}
