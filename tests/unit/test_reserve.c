/*
 * test_reserve.c -- a full disk, and the disk reserve that keeps it usable
 * (engine/src/db/reserve.h), on a small disk simulated by the fault env
 * (fault_env_set_capacity):
 *
 *   - a database fills its disk (writes fail with WB_ENOSPC, none hangs),
 *     is closed, the disk is made completely full, and it still opens
 *     read-write by giving back its reserve; writes that store data are
 *     refused (that room is for deletes), deletes go in, reclaim turns
 *     them into room and makes the reserve again, writes work again, and
 *     everything acknowledged is there, also after a reopen;
 *   - a delete that finds the disk full while the database is open gives
 *     back the reserve and goes in, without a reopen; more deletes follow,
 *     writes are refused;
 *   - a reserve that does not fit is not made (the last bytes are the
 *     user's), and the statistics say so.
 *
 * Each test runs under a watchdog (alarm) instead of timing assertions.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_env.h"
#include "testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_watchdog_start("test_reserve", 120);
	tu_mkdtemp(dir, "reserve");
	return 0;
}

static int teardown(void **state)
{
	tu_watchdog_stop();
	tu_rmtree(dir);
	return 0;
}

static long long reserve_size(void)
{
	char path[PATH_MAX];
	return tu_file_size(tu_path(path, dir, "RESERVE"));
}

static void stats_have(wb_db *db, const char *needle)
{
	char *text;
	assert_int_equal(wb_stats_text(db, &text), WB_OK);
	tu_expect_has("the stats", text, needle);
	wb_free(text);
}

static int put_one(wb_db *db, tu_model_t *m, const char *p, uint64_t i, size_t vlen)
{
	return tu_try_put(db, m, p, i, vlen, 0);
}

/* Fills the disk with puts of prefix p until one fails, which must be
 * with WB_ENOSPC. Returns how many went in. */
static uint64_t fill(wb_db *db, tu_model_t *m, const char *p, size_t vlen)
{
	uint64_t n = 0;
	int rc;
	while ((rc = put_one(db, m, p, n, vlen)) == WB_OK)
		if (++n == 1000000)
			fail_msg("a million writes fit a small disk");
	if (rc != WB_ENOSPC)
		fail_msg("a full disk gave %s: %s", wb_strerror(rc), wb_errmsg(db));
	return n;
}

static void test_open_full_disk(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(1 << 20);
	o.env = fault_env_get(fe);
	o.disk_reserve = 1 << 20;
	o.value_threshold = 1024;
	o.vlog_segment_size = 256 << 10;
	o.vlog_gc_interval_ms = 0; /* reclaim when the test asks */
	wb_db *db = tu_open(dir, &o);
	assert_int_equal(reserve_size(), 1 << 20);
	stats_have(db, "disk reserve: 1048576 bytes in RESERVE");

	/* A disk with 3 MiB of room, filled with 4 KiB values. */
	fault_env_set_capacity(fe, dir, fault_env_dir_bytes(dir) + (3u << 20));
	tu_model_t m = { 0 };
	uint64_t n = fill(db, &m, "f/", 4000);
	assert_true(n > 300);
	assert_int_equal(put_one(db, &m, "more/", 0, 4000), WB_ENOSPC);
	assert_int_equal(put_one(db, &m, "more/", 1, 4000), WB_ENOSPC);
	assert_int_equal(wb_close(db), WB_OK);

	/* Not a byte left (closing gave back what the logs had prepared). */
	fault_env_set_capacity(fe, dir, fault_env_dir_bytes(dir));
	db = tu_open(dir, &o); /* read-write, on the reserve's room */
	assert_int_equal(reserve_size(), -1);
	stats_have(db, "disk reserve: none (given back");
	stats_have(db, "  disk reserve: ");
	tu_expect_db_equals(db, &m);
	/* That room is for deletes: writes that store data are refused. */
	assert_int_equal(put_one(db, &m, "more/", 2, 4000), WB_ENOSPC);
	tu_expect_has("the message", wb_errmsg(db), "gave back RESERVE");
	assert_int_equal(put_one(db, &m, "more/", 3, 10), WB_ENOSPC);

	/* Deletes go in, and reclaim turns them into room. */
	char k[32];
	for (uint64_t i = 0; i < n; i++) {
		if (i % 10 == 0)
			continue;
		size_t kl = tu_key(k, "f/", i);
		int rc = wb_delete(db, k, kl);
		if (rc != WB_OK)
			fail_msg("delete %s on a full disk: %s: %s", k, wb_strerror(rc), wb_errmsg(db));
		tu_model_del(&m, k, kl);
	}
	uint64_t reclaimed = 0;
	assert_int_equal(wb_vlog_gc(db, &reclaimed), WB_OK);
	assert_true(reclaimed > (1u << 20));
	/* That made room for the reserve again, and writes work again (a
	 * flush that failed for room is retried now). */
	assert_int_equal(reserve_size(), 1 << 20);
	assert_int_equal(wb_flush(db), WB_OK);
	stats_have(db, "background error: none");
	for (uint64_t i = 0; i < 100; i++)
		assert_int_equal(put_one(db, &m, "again/", i, 4000), WB_OK);
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_close(db), WB_OK);

	/* With room again, the next open makes the reserve again. */
	db = tu_open(dir, &o);
	assert_int_equal(reserve_size(), 1 << 20);
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
	fault_env_free(fe);
}

static void test_delete_on_full_disk(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(4 << 20);
	o.env = fault_env_get(fe);
	o.disk_reserve = 256 << 10;
	o.value_threshold = 0; /* everything in the WAL: it is what fills up */
	wb_db *db = tu_open(dir, &o);
	assert_int_equal(reserve_size(), 256 << 10);
	fault_env_set_capacity(fe, dir, fault_env_dir_bytes(dir) + (512u << 10));
	tu_model_t m = { 0 };
	uint64_t n = fill(db, &m, "f/", 100);
	assert_true(n > 1000);
	char k[32];
	size_t kl = tu_key(k, "f/", 7);
	assert_int_equal(wb_delete(db, k, kl), WB_OK); /* on the reserve's room */
	tu_model_del(&m, k, kl);
	assert_int_equal(reserve_size(), -1);
	/* Which is kept for deletes. */
	for (uint64_t i = 0; i < 100; i++) {
		kl = tu_key(k, "f/", i);
		if (i != 7)
			assert_int_equal(wb_delete(db, k, kl), WB_OK);
		tu_model_del(&m, k, kl);
	}
	assert_int_equal(put_one(db, &m, "g/", 0, 100), WB_ENOSPC);
	tu_expect_has("the message", wb_errmsg(db), "to a delete");
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_sync(db), WB_OK);
	tu_crash(db, fe); /* clears the capacity too */
	db = tu_open(dir, &o);
	tu_expect_db_equals(db, &m);
	assert_int_equal(reserve_size(), 256 << 10);
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
	fault_env_free(fe);
}

static void test_no_room_for_reserve(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(1 << 20);
	o.env = fault_env_get(fe);
	o.disk_reserve = 4 << 20;
	wb_db *db = tu_open(dir, &o);
	assert_int_equal(wb_close(db), WB_OK);
	assert_int_equal(reserve_size(), 4 << 20);
	/* The reserve gone (removed by hand) and room for only half of it. */
	char path[PATH_MAX];
	assert_int_equal(unlink(tu_path(path, dir, "RESERVE")), 0);
	fault_env_set_capacity(fe, dir, fault_env_dir_bytes(dir) + (2u << 20));
	db = tu_open(dir, &o);
	assert_int_equal(reserve_size(), -1); /* not half made */
	stats_have(db, "disk reserve: none");
	tu_put(db, "k", "v"); /* the room is there for writes */
	assert_int_equal(wb_close(db), WB_OK);
	fault_env_free(fe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_full_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_on_full_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_room_for_reserve, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
