// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/queue.h"

struct cat {
	char buf[64];
	size_t len, limit;
};

static int cat_line(const void *line, size_t len, void *ctx)
{
	struct cat *c = ctx;

	if (c->len + len > c->limit)
		return 1;
	memcpy(c->buf + c->len, line, len);
	c->len += len;
	return 0;
}

/* drain: lines in order, one lock, stops (keeping the line) when told */
static void test_drain_batches(void **state)
{
	struct vg_queue *q = NULL;
	struct cat c = {.limit = 3};
	struct vg_queue_stats st;
	char buf[64];

	(void)state;
	/* a small ring so the third round wraps */
	assert_int_equal(vg_queue_new(64, 16, 0, &q), 0);
	for (int round = 0; round < 3; round++) {
		c.len = 0;
		c.limit = 3;
		assert_int_equal(vg_queue_push(q, "a", 1), 0);
		assert_int_equal(vg_queue_push(q, "bb", 2), 0);
		assert_int_equal(vg_queue_push(q, "ccc", 3), 0);
		assert_int_equal(vg_queue_drain(q, cat_line, &c), 2);
		assert_memory_equal(c.buf, "abb", 3);
		c.limit = 64;
		assert_int_equal(vg_queue_drain(q, cat_line, &c), 1);
		assert_memory_equal(c.buf, "abbccc", 6);
		assert_int_equal(vg_queue_drain(q, cat_line, &c), 0);
	}
	assert_int_equal(vg_queue_pop(q, buf, sizeof(buf)), 0);
	vg_queue_stats(q, &st);
	assert_int_equal(st.popped, 9);
	assert_int_equal(st.lines, 0);
	assert_int_equal(st.used, 0);
	vg_queue_free(&q);
}

/* a kick ends a wait that asked for more than is queued (no timeout here:
 * without the kick the wait would never return) */
static void test_kick_ends_wait(void **state)
{
	struct vg_queue *q = NULL;

	(void)state;
	assert_int_equal(vg_queue_new(4096, 0, 0, &q), 0);
	vg_queue_kick(q); /* empty: nothing to say, no effect */
	assert_int_equal(vg_queue_wait_for(q, 2048, 0), 0);
	assert_int_equal(vg_queue_push(q, "x", 1), 0);
	vg_queue_kick(q);
	assert_int_equal(vg_queue_wait_for(q, 2048, -1), 1);
	vg_queue_free(&q);
}

static void test_fifo_order(void **state)
{
	struct vg_queue *q = NULL;
	char buf[64];

	assert_int_equal(vg_queue_new(1024, 0, 0, &q), 0);
	assert_int_equal(vg_queue_push(q, "one", 3), 0);
	assert_int_equal(vg_queue_push(q, "two!", 4), 0);
	assert_int_equal(vg_queue_push(q, "", 0), 0);
	assert_int_equal(vg_queue_pop(q, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(vg_queue_pop(q, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "two!", 4);
	assert_int_equal(vg_queue_pop(q, buf, sizeof(buf)), 0); /* the empty line */
	assert_int_equal(vg_queue_pop(q, buf, sizeof(buf)), 0);
	struct vg_queue_stats st;
	vg_queue_stats(q, &st);
	assert_int_equal(st.pushed, 3);
	assert_int_equal(st.popped, 3);
	assert_int_equal(st.lines, 0);
	vg_queue_free(&q);
	assert_null(q);
}

static void test_full_drops_newest(void **state)
{
	struct vg_queue *q = NULL;
	char line[48], buf[64];
	int accepted = 0, refused = 0;

	/* 256 bytes: each 40-byte line takes 48 bytes -> 5 fit */
	assert_int_equal(vg_queue_new(256, 64, 0, &q), 0);
	for (int i = 0; i < 10; i++) {
		memset(line, 'a' + i, 40);
		int rc = vg_queue_push(q, line, 40);
		if (rc == 0)
			accepted++;
		else {
			assert_int_equal(rc, -ENOBUFS);
			refused++;
		}
	}
	assert_int_equal(accepted, 5);
	assert_int_equal(refused, 5);
	struct vg_queue_stats st;
	vg_queue_stats(q, &st);
	assert_int_equal(st.dropped, 5);
	/* the oldest survive, in order */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(vg_queue_pop(q, buf, sizeof(buf)), 40);
		assert_int_equal(buf[0], 'a' + i);
	}
	vg_queue_free(&q);
}

static void test_too_long_and_small_buffer(void **state)
{
	struct vg_queue *q = NULL;
	char big[200] = { 0 }, small[8];

	assert_int_equal(vg_queue_new(512, 100, 0, &q), 0);
	assert_int_equal(vg_queue_push(q, big, 101), -EMSGSIZE);
	assert_int_equal(vg_queue_push(q, big, 100), 0);
	assert_int_equal(vg_queue_pop(q, small, sizeof(small)), -EMSGSIZE);
	assert_int_equal(vg_queue_pop(q, big, sizeof(big)), 100);
	struct vg_queue_stats st;
	vg_queue_stats(q, &st);
	assert_int_equal(st.dropped, 1);
	vg_queue_free(&q);
	/* max_line larger than the ring is refused */
	assert_int_equal(vg_queue_new(64, 100, 0, &q), -EINVAL);
}

/* Many rounds of odd sizes through a small ring, checked against a model. */
static void test_wraparound_model(void **state)
{
	struct vg_queue *q = NULL;
	char line[120], buf[128];
	unsigned next_push = 0, next_pop = 0, seed = 1;
	uint64_t refused = 0;

	assert_int_equal(vg_queue_new(1000, 120, 0, &q), 0);
	for (int round = 0; round < 20000; round++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) % 3) {
			size_t len = 4 + (seed >> 8) % 100;
			memset(line, 0, sizeof(line));
			memcpy(line, &next_push, sizeof(next_push));
			memset(line + 4, (char)next_push, len - 4);
			int rc = vg_queue_push(q, line, len);
			if (rc == 0)
				next_push++;
			else
				refused++;
		} else {
			ssize_t n = vg_queue_pop(q, buf, sizeof(buf));
			if (n == 0) {
				assert_int_equal(next_pop, next_push);
				continue;
			}
			unsigned id;
			memcpy(&id, buf, sizeof(id));
			assert_int_equal(id, next_pop);
			for (ssize_t i = 4; i < n; i++)
				assert_int_equal((unsigned char)buf[i], (unsigned char)next_pop);
			next_pop++;
		}
	}
	struct vg_queue_stats st;
	vg_queue_stats(q, &st);
	assert_int_equal(st.dropped, refused);
	assert_int_equal(st.pushed, next_push);
	assert_true(refused > 0);
	assert_true(st.high <= st.cap);
	vg_queue_free(&q);
}

static int collect(const void *line, size_t len, void *ctx)
{
	char *acc = ctx;

	strncat(acc, line, len);
	strcat(acc, ",");
	return 0;
}

static void test_evict_keeps_newest(void **state)
{
	struct vg_queue *q = NULL;
	char line[40], acc[256] = "";

	assert_int_equal(vg_queue_new(128, 32, VG_QUEUE_EVICT, &q), 0);
	for (int i = 0; i < 20; i++) {
		int n = snprintf(line, sizeof(line), "line-%02d-xxxxxxxxx", i); /* 17 bytes: 32 per entry */
		assert_int_equal(vg_queue_push(q, line, (size_t)n), 0);
	}
	vg_queue_foreach(q, collect, acc);
	assert_string_equal(acc, "line-16-xxxxxxxxx,line-17-xxxxxxxxx,line-18-xxxxxxxxx,"
				 "line-19-xxxxxxxxx,");
	struct vg_queue_stats st;
	vg_queue_stats(q, &st);
	assert_int_equal(st.evicted, 16);
	assert_int_equal(st.dropped, 0);
	vg_queue_clear(q);
	vg_queue_stats(q, &st);
	assert_int_equal(st.lines, 0);
	vg_queue_free(&q);
}

struct producer {
	struct vg_queue *q;
	int id;
	int n;
	int ok;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	char line[32];

	for (int i = 0; i < p->n; i++) {
		int len = snprintf(line, sizeof(line), "%d:%d", p->id, i);
		if (vg_queue_push(p->q, line, (size_t)len) == 0)
			p->ok++;
	}
	return NULL;
}

static void test_many_producers(void **state)
{
	struct vg_queue *q = NULL;
	struct producer prod[4];
	pthread_t th[4];
	int last[4] = { -1, -1, -1, -1 }, got = 0;
	char buf[64];

	assert_int_equal(vg_queue_new(1 << 20, 0, 0, &q), 0);
	for (int i = 0; i < 4; i++) {
		prod[i] = (struct producer){ .q = q, .id = i, .n = 5000 };
		pthread_create(&th[i], NULL, produce, &prod[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ssize_t n;
	while ((n = vg_queue_pop(q, buf, sizeof(buf) - 1)) > 0) {
		int id, seq;
		buf[n] = '\0';
		assert_int_equal(sscanf(buf, "%d:%d", &id, &seq), 2);
		assert_true(seq > last[id]); /* per-producer order kept */
		last[id] = seq;
		got++;
	}
	assert_int_equal(got, prod[0].ok + prod[1].ok + prod[2].ok + prod[3].ok);
	assert_int_equal(got, 20000);
	vg_queue_free(&q);
}

static void *push_later(void *arg)
{
	struct vg_queue *q = arg;

	vg_queue_push(q, "late", 4);
	return NULL;
}

static void test_wait_and_close(void **state)
{
	struct vg_queue *q = NULL;
	pthread_t th;
	char buf[8];

	assert_int_equal(vg_queue_new(256, 0, 0, &q), 0);
	assert_int_equal(vg_queue_wait(q, 0), 0);
	pthread_create(&th, NULL, push_later, q);
	assert_int_equal(vg_queue_wait(q, -1), 1);
	pthread_join(th, NULL);
	assert_int_equal(vg_queue_pop(q, buf, sizeof(buf)), 4);
	vg_queue_close(q);
	assert_int_equal(vg_queue_wait(q, -1), -EPIPE);
	assert_int_equal(vg_queue_push(q, "x", 1), -EPIPE);
	vg_queue_free(&q);
}

static void test_notify_on_first_line(void **state)
{
	struct vg_queue *q = NULL;
	uint64_t v = 0;
	int efd = eventfd(0, EFD_NONBLOCK);

	assert_true(efd >= 0);
	assert_int_equal(vg_queue_new(256, 0, 0, &q), 0);
	vg_queue_set_notify(q, efd, 0);
	vg_queue_push(q, "a", 1);
	vg_queue_push(q, "b", 1); /* not empty: no second signal */
	assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 1);
	assert_int_equal(read(efd, &v, sizeof(v)), -1);
	vg_queue_free(&q);
	close(efd);
}

/* A consumer that asked for a batch is not woken by one line. */
static void test_wait_for_batch(void **state)
{
	struct vg_queue *q = NULL;
	char line[56] = { 0 };

	assert_int_equal(vg_queue_new(1024, 0, 0, &q), 0);
	vg_queue_push(q, line, sizeof(line)); /* 64 bytes of ring */
	/* one line queued, 256 asked for: times out, reports the line */
	assert_int_equal(vg_queue_wait_for(q, 256, 0), 1);
	for (int i = 0; i < 3; i++)
		vg_queue_push(q, line, sizeof(line));
	assert_int_equal(vg_queue_wait_for(q, 256, -1), 1); /* 256 reached: no wait */
	vg_queue_clear(q);
	assert_int_equal(vg_queue_wait_for(q, 256, 0), 0);
	vg_queue_close(q);
	assert_int_equal(vg_queue_wait_for(q, 256, -1), -EPIPE);
	vg_queue_free(&q);
}

/* With a threshold, the eventfd fires once when use crosses it. */
static void test_notify_threshold(void **state)
{
	struct vg_queue *q = NULL;
	uint64_t v = 0;
	char line[56] = { 0 };
	int efd = eventfd(0, EFD_NONBLOCK);

	assert_int_equal(vg_queue_new(1024, 0, 0, &q), 0);
	vg_queue_set_notify(q, efd, 200);
	for (int i = 0; i < 3; i++)
		vg_queue_push(q, line, sizeof(line)); /* 192 bytes: below */
	assert_int_equal(read(efd, &v, sizeof(v)), -1);
	vg_queue_push(q, line, sizeof(line)); /* 256: crosses */
	vg_queue_push(q, line, sizeof(line)); /* 320: already past */
	assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 1);
	vg_queue_free(&q);
	close(efd);
}

/* a push that wraps: the end of the ring it wastes is part of its crossing */
static void test_notify_threshold_on_wrap(void **state)
{
	struct vg_queue *q = NULL;
	uint64_t v = 0;
	char line[296] = {0}, buf[512];
	int efd = eventfd(0, EFD_NONBLOCK);

	(void)state;
	assert_int_equal(vg_queue_new(1024, 0, 0, &q), 0);
	vg_queue_set_notify(q, efd, 512);
	for (int i = 0; i < 4; i++)
		assert_int_equal(vg_queue_push(q, line, 192), 0); /* 200 bytes each */
	assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v)); /* crossed at 600 */
	assert_int_equal(vg_queue_pop(q, buf, sizeof(buf)), 192);
	assert_int_equal(vg_queue_pop(q, buf, sizeof(buf)), 192); /* 400 used, from 400 to 800 */
	/* 304 bytes do not fit after 800: the 224 left are wasted (624),
	 * and the line goes in at 0 (928): from 400, a crossing */
	assert_int_equal(vg_queue_push(q, line, sizeof(line)), 0);
	assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 1);
	vg_queue_free(&q);
	close(efd);
}

/* the consumer of the room tests: waits for more than the ring can ever
 * hold (only a kick or a waiting producer ends that), takes what is there
 * one line at a time, until the queue is closed */
struct taker {
	struct vg_queue *q;
	int taken;
};

static void *take_all(void *arg)
{
	struct taker *t = arg;
	char buf[64];

	while (vg_queue_wait_for(t->q, 1 << 20, -1) == 1) {
		while (vg_queue_pop(t->q, buf, sizeof(buf)) > 0)
			t->taken++;
	}
	return NULL;
}

/*
 * A push that may wait gets every line in through a queue far smaller than
 * what goes through it (a plain push drops the rest); the consumer is
 * woken by the waiting producer alone.
 */
static void test_push_waits_for_room(void **state)
{
	struct vg_queue *q = NULL;
	struct taker t = {0};
	struct vg_queue_stats st;
	struct iovec iov = {.iov_base = "0123456789abcdef", .iov_len = 16};
	pthread_t th;

	(void)state;
	assert_int_equal(vg_queue_new(128, 16, 0, &q), 0);
	t.q = q;
	/* a plain push into a full queue refuses at once */
	for (int i = 0; i < 5; i++)
		assert_int_equal(vg_queue_pushv(q, &iov, 1), 0);
	assert_int_equal(vg_queue_pushv(q, &iov, 1), -ENOBUFS);
	pthread_create(&th, NULL, take_all, &t);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(vg_queue_pushv_wait(q, &iov, 1, 60000), 0);
	vg_queue_close(q);
	pthread_join(th, NULL);
	assert_int_equal(t.taken, 2005);
	vg_queue_stats(q, &st);
	assert_int_equal(st.pushed, 2005);
	assert_int_equal(st.dropped, 1);
	vg_queue_free(&q);
}

/* nobody takes: the wait ends, the line is dropped and counted */
static void test_push_wait_gives_up(void **state)
{
	struct vg_queue *q = NULL;
	struct vg_queue_stats st;
	struct iovec iov = {.iov_base = "0123456789abcdef", .iov_len = 16};

	(void)state;
	assert_int_equal(vg_queue_new(128, 16, 0, &q), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(vg_queue_pushv_wait(q, &iov, 1, 10), 0);
	assert_int_equal(vg_queue_pushv_wait(q, &iov, 1, 10), -ENOBUFS);
	vg_queue_stats(q, &st);
	assert_int_equal(st.pushed, 5);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.lines, 5);
	vg_queue_free(&q);
}

static void *close_later(void *arg)
{
	struct timespec ts = {.tv_nsec = 20 * 1000000L};

	nanosleep(&ts, NULL);
	vg_queue_close(arg);
	return NULL;
}

/* a producer waiting for room is let go by close (no timeout here) */
static void test_push_wait_ends_on_close(void **state)
{
	struct vg_queue *q = NULL;
	struct iovec iov = {.iov_base = "0123456789abcdef", .iov_len = 16};
	pthread_t th;

	(void)state;
	assert_int_equal(vg_queue_new(128, 16, 0, &q), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(vg_queue_pushv(q, &iov, 1), 0);
	pthread_create(&th, NULL, close_later, q);
	assert_int_equal(vg_queue_pushv_wait(q, &iov, 1, 3600 * 1000), -EPIPE);
	pthread_join(th, NULL);
	vg_queue_free(&q);
}

/* sleep: pushes and kicks do not end it, close does (no timeout here) */
static void test_sleep_ends_on_close(void **state)
{
	struct vg_queue *q = NULL;
	pthread_t th;

	(void)state;
	assert_int_equal(vg_queue_new(128, 16, 0, &q), 0);
	assert_int_equal(vg_queue_push(q, "x", 1), 0);
	vg_queue_kick(q);
	assert_int_equal(vg_queue_sleep(q, 10), 0);
	pthread_create(&th, NULL, close_later, q);
	assert_int_equal(vg_queue_sleep(q, 3600 * 1000), -EPIPE);
	pthread_join(th, NULL);
	assert_int_equal(vg_queue_sleep(q, 3600 * 1000), -EPIPE);
	vg_queue_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_order),
		cmocka_unit_test(test_drain_batches),
		cmocka_unit_test(test_kick_ends_wait),
		cmocka_unit_test(test_full_drops_newest),
		cmocka_unit_test(test_too_long_and_small_buffer),
		cmocka_unit_test(test_wraparound_model),
		cmocka_unit_test(test_evict_keeps_newest),
		cmocka_unit_test(test_many_producers),
		cmocka_unit_test(test_wait_and_close),
		cmocka_unit_test(test_notify_on_first_line),
		cmocka_unit_test(test_wait_for_batch),
		cmocka_unit_test(test_notify_threshold),
		cmocka_unit_test(test_notify_threshold_on_wrap),
		cmocka_unit_test(test_push_waits_for_room),
		cmocka_unit_test(test_push_wait_gives_up),
		cmocka_unit_test(test_push_wait_ends_on_close),
		cmocka_unit_test(test_sleep_ends_on_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
