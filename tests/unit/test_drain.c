/*
 * Unit tests for drain: the wait between ring-buffer drains follows the
 * record rate, within its bounds, smoothed over drains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vigil/drain.h"

#define MS 1000000ull

/* n drains of records each, ms_apart apart; returns the last wait */
static unsigned steady(struct vg_drain *d, int n, uint64_t records, uint64_t ms_apart)
{
	unsigned w = 0;

	for (int i = 0; i < n; i++)
		w = vg_drain_next(d, records, ms_apart * MS);
	return w;
}

static void test_first_wait_is_the_longest(void **state)
{
	struct vg_drain d;

	(void)state;
	vg_drain_init(&d, 5, 15);
	assert_int_equal(d.ms, 15);
}

/* an exec storm's 10,000 records a second: a batch takes 100 ms to
 * gather, so the wait is the longest allowed, not 10 ms */
static void test_moderate_rate_waits_longest(void **state)
{
	struct vg_drain d;

	(void)state;
	vg_drain_init(&d, VG_DRAIN_MIN_MS, VG_DRAIN_MAX_MS);
	assert_int_equal(steady(&d, 10, 100, 10), VG_DRAIN_MAX_MS);
	assert_int_equal(steady(&d, 10, 150, 15), VG_DRAIN_MAX_MS);
	/* a trickle, and drains that found nothing */
	assert_int_equal(steady(&d, 3, 1, 15), VG_DRAIN_MAX_MS);
	assert_int_equal(steady(&d, 3, 0, 15), VG_DRAIN_MAX_MS);
}

/* 100,000 a second: a batch in 10 ms; 300,000: 3.3 ms, held at the
 * shortest wait; rates in between, their own wait */
static void test_fast_rate_shortens_the_wait(void **state)
{
	struct vg_drain d;

	(void)state;
	vg_drain_init(&d, VG_DRAIN_MIN_MS, VG_DRAIN_MAX_MS);
	assert_int_equal(steady(&d, 20, 1000, 10), 10);
	assert_int_equal(steady(&d, 20, 1500, 5), VG_DRAIN_MIN_MS);
	/* 125,000 a second: 8 ms */
	assert_int_equal(steady(&d, 20, 1000, 8), 8);
	/* 80,000 a second: 12.5 ms, to the nearest */
	assert_int_equal(steady(&d, 40, 800, 10), 13);
}

/* one interval does not swing the wait: a flood then one empty drain
 * moves the estimate halfway (300k -> 150k a second: 7 ms), the next
 * halfway again (75k: 13 ms) */
static void test_rate_is_smoothed(void **state)
{
	struct vg_drain d;

	(void)state;
	vg_drain_init(&d, VG_DRAIN_MIN_MS, VG_DRAIN_MAX_MS);
	steady(&d, 40, 1500, 5);
	assert_in_range(d.rate, 299990, 300000);
	assert_int_equal(d.ms, VG_DRAIN_MIN_MS);
	assert_int_equal(vg_drain_next(&d, 0, 5 * MS), 7);
	assert_int_equal(vg_drain_next(&d, 0, 5 * MS), 13);
	assert_int_equal(vg_drain_next(&d, 0, 15 * MS), VG_DRAIN_MAX_MS);
	/* and back: one busy drain after a quiet spell moves it halfway */
	assert_int_equal(vg_drain_next(&d, 6000, 15 * MS), 5);
}

/* a forced wakeup right after a drain (elapsed 0), and absurd counts:
 * no division by zero, no overflow, the shortest wait */
static void test_edges(void **state)
{
	struct vg_drain d;

	(void)state;
	vg_drain_init(&d, VG_DRAIN_MIN_MS, VG_DRAIN_MAX_MS);
	assert_int_equal(vg_drain_next(&d, 20000, 0), VG_DRAIN_MIN_MS);
	assert_int_equal(vg_drain_next(&d, UINT64_MAX, 1), VG_DRAIN_MIN_MS);
	assert_int_equal(vg_drain_next(&d, UINT64_MAX, UINT64_MAX), VG_DRAIN_MIN_MS);
	/* a park of an hour that ends with one record */
	for (int i = 0; i < 64; i++)
		vg_drain_next(&d, 1, 3600000 * MS);
	assert_int_equal(d.ms, VG_DRAIN_MAX_MS);
}

/* a burst that wakes a parked agent: the first wait is the shortest, and
 * the drain after it sets the rate unsmoothed (100,000 a second: 10 ms, not
 * the 15 that half of it would give); a flood, the shortest wait at once */
static void test_unpark_measures_afresh(void **state)
{
	struct vg_drain d;

	(void)state;
	vg_drain_init(&d, VG_DRAIN_MIN_MS, VG_DRAIN_MAX_MS);
	steady(&d, 10, 100, 10);
	assert_int_equal(d.ms, VG_DRAIN_MAX_MS);
	assert_int_equal(vg_drain_unpark(&d), VG_DRAIN_MIN_MS);
	assert_int_equal(d.ms, VG_DRAIN_MIN_MS);
	assert_int_equal(vg_drain_next(&d, 500, 5 * MS), 10);
	assert_int_equal(d.rate, 100000);
	/* then smoothed again: an empty drain moves it halfway (20 ms: 15) */
	assert_int_equal(vg_drain_next(&d, 0, 10 * MS), VG_DRAIN_MAX_MS);
	vg_drain_unpark(&d);
	assert_int_equal(vg_drain_next(&d, 4800, 5 * MS), VG_DRAIN_MIN_MS);
	assert_int_equal(d.rate, 960000);
}

/* bounds as given, a reversed pair held to its minimum, 0 as 1 ms */
static void test_bounds(void **state)
{
	struct vg_drain d;

	(void)state;
	vg_drain_init(&d, 10, 10);
	assert_int_equal(steady(&d, 5, 100000, 1), 10);
	assert_int_equal(steady(&d, 5, 0, 10), 10);
	vg_drain_init(&d, 8, 3);
	assert_int_equal(d.max_ms, 8);
	assert_int_equal(steady(&d, 5, 0, 10), 8);
	vg_drain_init(&d, 0, 0);
	assert_int_equal(d.ms, 1);
	assert_int_equal(steady(&d, 5, 100000, 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_wait_is_the_longest),
		cmocka_unit_test(test_moderate_rate_waits_longest),
		cmocka_unit_test(test_fast_rate_shortens_the_wait),
		cmocka_unit_test(test_rate_is_smoothed),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_unpark_measures_afresh),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
