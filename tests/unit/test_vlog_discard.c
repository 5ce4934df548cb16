/*
 * test_vlog_discard.c -- the value log's discard map (vlog_discard.h): adds
 * accumulate per segment, entries stay sorted and unique whatever order
 * segments arrive in, removal forgets one segment only, and the total is
 * the sum of what is left. No database, no disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vlog/vlog_discard.h"
#include "wombat.h"

static void test_empty(void **state)
{
	discard_map_t m;
	discard_map_init(&m);
	assert_int_equal(discard_map_size(&m), 0);
	assert_int_equal(discard_map_get(&m, 7), 0);
	assert_int_equal(discard_map_total(&m), 0);
	discard_map_remove(&m, 7); /* absent is fine */
	discard_map_destroy(&m);
}

static void test_add_accumulates(void **state)
{
	discard_map_t m;
	discard_map_init(&m);
	assert_int_equal(discard_map_add(&m, 5, 100), WB_OK);
	assert_int_equal(discard_map_add(&m, 5, 23), WB_OK);
	assert_int_equal(discard_map_add(&m, 9, 1), WB_OK);
	assert_int_equal(discard_map_size(&m), 2);
	assert_int_equal(discard_map_get(&m, 5), 123);
	assert_int_equal(discard_map_get(&m, 9), 1);
	assert_int_equal(discard_map_get(&m, 6), 0);
	assert_int_equal(discard_map_total(&m), 124);
	discard_map_destroy(&m);
}

/* Segments in a scrambled order, more than the first allocation holds:
 * iteration is ascending with one entry per segment. */
static void test_sorted_iteration(void **state)
{
	discard_map_t m;
	discard_map_init(&m);
	uint64_t total = 0;
	for (uint64_t i = 0; i < 200; i++) {
		uint64_t seg = (i * 37) % 101 + 1; /* 1..101, each about twice */
		assert_int_equal(discard_map_add(&m, seg, i), WB_OK);
		total += i;
	}
	assert_int_equal(discard_map_size(&m), 101);
	assert_int_equal(discard_map_total(&m), total);
	for (int i = 0; i < discard_map_size(&m); i++)
		assert_int_equal(discard_map_at(&m, i).segment, (uint64_t)i + 1);
	discard_map_destroy(&m);
}

static void test_remove(void **state)
{
	discard_map_t m;
	discard_map_init(&m);
	for (uint64_t seg = 1; seg <= 5; seg++)
		assert_int_equal(discard_map_add(&m, seg, seg * 10), WB_OK);
	discard_map_remove(&m, 3);
	discard_map_remove(&m, 1);
	discard_map_remove(&m, 5);
	assert_int_equal(discard_map_size(&m), 2);
	assert_int_equal(discard_map_at(&m, 0).segment, 2);
	assert_int_equal(discard_map_at(&m, 1).segment, 4);
	assert_int_equal(discard_map_get(&m, 3), 0);
	assert_int_equal(discard_map_total(&m), 60);
	/* A removed segment counted again starts from zero. */
	assert_int_equal(discard_map_add(&m, 3, 7), WB_OK);
	assert_int_equal(discard_map_get(&m, 3), 7);
	assert_int_equal(discard_map_at(&m, 1).segment, 3);
	discard_map_destroy(&m);
	assert_int_equal(discard_map_size(&m), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_add_accumulates),
	    cmocka_unit_test(test_sorted_iteration),
	    cmocka_unit_test(test_remove),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
