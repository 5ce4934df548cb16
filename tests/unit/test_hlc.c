/*
 * test_hlc.c -- the hybrid logical clock of commit timestamps (util/hlc.c)
 * on a test wall clock (tests/support/test_clock.h): stamps follow the
 * wall clock's milliseconds, count up within one, and stay strictly
 * increasing when the wall clock steps back -- as hlc.h documents, a new
 * stamp is max(last + 1, now << 16) -- both alone and through a database,
 * where the newer of two writes must stay the newer one across a step
 * back and a reopen.
 *
 * The database test gets a fresh directory under /tmp, removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_clock.h"
#include "testutil.h"
#include "util/hlc.h"
#include "wombat.h"

#define HOUR_US (3600ull * 1000000)

static uint64_t wall_ms(test_clock_t *tc)
{
	return test_clock_wall(tc) / 1000;
}

/* Each stamp is the wall clock's millisecond << 16 when that is above the
 * last one, else the last one + 1. */
static void test_follows_wall_clock(void **state)
{
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	hlc_t c;
	hlc_init(&c, &env);

	uint64_t a = hlc_next(&c);
	assert_int_equal(a, wall_ms(tc) << 16);
	assert_int_equal(hlc_ms(a), wall_ms(tc));
	/* The same millisecond: the counter. */
	assert_int_equal(hlc_next(&c), a + 1);
	assert_int_equal(hlc_next(&c), a + 2);
	assert_int_equal(hlc_last(&c), a + 2);
	/* A later millisecond starts again at counter 0. */
	test_clock_advance(tc, 1000);
	uint64_t b = hlc_next(&c);
	assert_int_equal(b, wall_ms(tc) << 16);
	assert_int_equal(hlc_ms(b), hlc_ms(a) + 1);
	/* Observing a later stamp (recovery, a stamp from disk) lifts the clock
	 * above it, whatever the wall clock says. */
	uint64_t ahead = (wall_ms(tc) + 5000) << 16;
	hlc_observe(&c, ahead);
	assert_int_equal(hlc_next(&c), ahead + 1);
	hlc_observe(&c, b); /* an older one changes nothing */
	assert_int_equal(hlc_next(&c), ahead + 2);
	test_clock_free(tc);
}

/* The wall clock steps back an hour: stamps go on from the last one, one
 * by one, still strictly increasing, and meet the wall clock again only
 * once it has passed the last stamp's millisecond. */
static void test_wall_clock_steps_back(void **state)
{
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	hlc_t c;
	hlc_init(&c, &env);

	uint64_t before = hlc_next(&c);
	uint64_t high_ms = hlc_ms(before);
	test_clock_set_wall(tc, test_clock_wall(tc) - HOUR_US);
	uint64_t prev = before;
	for (int i = 0; i < 1000; i++) {
		uint64_t ts = hlc_next(&c);
		assert_true(ts > prev);
		assert_int_equal(ts, prev + 1);
		assert_int_equal(hlc_ms(ts), high_ms); /* never the stepped-back time */
		prev = ts;
		if (i % 100 == 0)
			test_clock_advance(tc, 1000); /* time goes on, still behind */
	}
	/* Back to just below the last stamp's millisecond: still counting. */
	test_clock_set_wall(tc, (high_ms - 1) * 1000);
	uint64_t ts = hlc_next(&c);
	assert_int_equal(ts, prev + 1);
	/* Past it: the wall clock leads again. */
	test_clock_set_wall(tc, (high_ms + 1) * 1000);
	ts = hlc_next(&c);
	assert_int_equal(ts, (high_ms + 1) << 16);
	assert_true(ts > prev);
	test_clock_free(tc);
}

static uint64_t stamp_of(wb_db *db, const char *key)
{
	wb_key_info info;
	assert_int_equal(wb_stat_key(db, key, strlen(key), &info), WB_OK);
	return info.ts;
}

/* Through a database: a write after the wall clock stepped back is still
 * newer than the writes before it -- it wins, in the memtable, in a table
 * and after a reopen that recovers the largest stamp. */
static void test_database_across_step_back(void **state)
{
	char dir[96];
	tu_mkdtemp(dir, "hlc");
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	wb_options o = tu_options(1 << 20);
	o.env = &env;
	wb_db *db = tu_open(dir, &o);

	/* A day ahead of the real clock: the stamps must come from this one. */
	test_clock_set_wall(tc, test_clock_wall(tc) + 24 * HOUR_US);
	tu_put(db, "k", "before");
	uint64_t t1 = stamp_of(db, "k");
	assert_int_equal(hlc_ms(t1), wall_ms(tc));
	test_clock_set_wall(tc, test_clock_wall(tc) - HOUR_US);
	tu_put(db, "k", "after");
	uint64_t t2 = stamp_of(db, "k");
	assert_true(t2 > t1);
	assert_int_equal(hlc_ms(t2), hlc_ms(t1));
	tu_expect_str(db, "k", "after");
	assert_int_equal(wb_flush(db), WB_OK);
	tu_expect_str(db, "k", "after");
	assert_int_equal(wb_close(db), WB_OK);

	/* Reopened while the wall clock is still an hour behind. */
	db = tu_open(dir, &o);
	tu_expect_str(db, "k", "after");
	tu_put(db, "k", "reopened");
	uint64_t t3 = stamp_of(db, "k");
	assert_true(t3 > t2);
	tu_expect_str(db, "k", "reopened");
	/* A transaction's snapshot reads at or above every earlier commit. */
	wb_txn *t;
	assert_int_equal(wb_txn_begin(db, 0, &t), WB_OK);
	assert_true(wb_txn_read_ts(t) >= t3);
	wb_txn_abort(t);
	assert_int_equal(wb_close(db), WB_OK);
	tu_rmtree(dir);
	test_clock_free(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follows_wall_clock),
		cmocka_unit_test(test_wall_clock_steps_back),
		cmocka_unit_test(test_database_across_step_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
