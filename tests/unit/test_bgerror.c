/*
 * test_bgerror.c -- the error state (engine/src/db/bgerror.h): background
 * work that fails puts the database in a state where writes fail at once
 * with that error and the background thread's message (naming the file),
 * the statistics show it, reads go on, nothing acknowledged is lost, and
 * it ends when a retry works or at a reopen. Through the fault env:
 *
 *   - a flush that cannot create its table (a full disk): writes and
 *     commits are refused with WB_ENOSPC, deletes still go in, wb_sync
 *     works; the state ends by itself once there is room again, and a
 *     database closed in it reopens with everything;
 *   - a compaction whose output fails with EIO: writes (deletes too) are
 *     refused with WB_EIO; a wb_compact_range that works ends it;
 *   - a value-log reclaim pass that cannot read the values it moves:
 *     writes refused with WB_EIO naming the segment; wb_vlog_gc returns
 *     its own error; it ends after the cause is gone;
 *   - writers on several threads, some waiting for room behind a flush
 *     that fails, all get the error;
 *   - a failed fsync of the WAL is sticky: writes, deletes, syncs,
 *     flushes and read-write transactions fail until a reopen, which has
 *     every acknowledged write.
 *
 * No test measures time: each runs under a watchdog (alarm) that kills the
 * binary with a message if a call hangs, and waits for a retry by polling.
 * The flush and reclaim tests run on a test clock
 * (tests/support/test_clock.h): no retry happens until the test moves the
 * clock past the pause, and no reclaim pass until it moves it past an
 * interval.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db/bgerror.h"
#include "fault_env.h"
#include "test_clock.h"
#include "testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_watchdog_start("test_bgerror", 120);
	tu_mkdtemp(dir, "bgerror");
	return 0;
}

static int teardown(void **state)
{
	tu_watchdog_stop();
	tu_rmtree(dir);
	return 0;
}

/* Puts key i of prefix p with a 100-byte value, and into m when it works. */
static int put_one(wb_db *db, tu_model_t *m, const char *p, uint64_t i)
{
	return tu_try_put(db, m, p, i, 100, 0);
}

/* The statistics (text and JSON) show the error state, from source, with
 * needle in its message. */
static void expect_state(wb_db *db, const char *source, const char *needle)
{
	char *text, *json, want[64];
	assert_int_equal(wb_stats_text(db, &text), WB_OK);
	tu_expect_has("stats", text, "background error: writes ");
	snprintf(want, sizeof(want), "  %s: ", source);
	tu_expect_has("stats", text, want);
	tu_expect_has("stats", text, needle);
	wb_free(text);
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	tu_expect_has("JSON stats", json, "\"background_error\":{\"code\":");
	snprintf(want, sizeof(want), "\"source\":\"%s\"", source);
	tu_expect_has("JSON stats", json, want);
	tu_expect_has("JSON stats", json, needle);
	wb_free(json);
}

static void expect_no_state(wb_db *db)
{
	char *text, *json;
	assert_int_equal(wb_stats_text(db, &text), WB_OK);
	tu_expect_has("stats", text, "background error: none");
	wb_free(text);
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	tu_expect_has("JSON stats", json, "\"background_error\":null");
	wb_free(json);
}

/* Writes key i, i + 1, ... of prefix p until one fails; that one must fail
 * with want (and in far fewer than 100 000 writes). Returns the next i. */
static uint64_t put_until_refused(wb_db *db, tu_model_t *m, const char *p, uint64_t i, int want)
{
	int rc;
	uint64_t start = i;
	while ((rc = put_one(db, m, p, i)) == WB_OK) {
		i++;
		if (i - start == 100000)
			fail_msg("100 000 writes accepted after the background work failed");
		usleep(100);
	}
	if (rc != want)
		fail_msg("refused with %s, want %s: %s", wb_strerror(rc), wb_strerror(want),
			 wb_errmsg(db));
	return i;
}

/* Polls until writes are accepted again (the retry worked); the watchdog
 * bounds the wait. With a test clock tc, each poll first moves it past
 * the longest retry pause. */
static void wait_until_accepted(wb_db *db, tu_model_t *m, test_clock_t *tc)
{
	uint64_t i = 0;
	while (put_one(db, m, "probe/", i) != WB_OK) {
		i++;
		if (tc != NULL)
			test_clock_advance(tc, BG_RETRY_MAX_MS * 1000);
		usleep(10 * 1000);
	}
}

/* A flush that cannot create its table: the disk is full for new files,
 * while the current WAL still has room. */
static void test_flush_enospc(void **state)
{
	test_clock_t *tc = test_clock_new();
	wb_env base = test_clock_env(tc, NULL);
	fault_env_t *fe = fault_env_new(&base);
	wb_options o = tu_options(4 << 20);
	o.env = fault_env_get(fe);
	o.value_threshold = 1024;
	wb_db *db = tu_open(dir, &o);
	tu_model_t m = { 0 };
	for (uint64_t i = 0; i < 300; i++)
		assert_int_equal(put_one(db, &m, "k/", i), WB_OK);
	expect_no_state(db);

	/* Opens for writing from here: 1 the WAL of wb_flush's memtable
	 * switch, 2 the table its flush makes, and every later one. */
	fault_env_fail_nth(fe, FAULT_OPEN_WRITE, 2, WB_ENOSPC, FAULT_STICKY);
	assert_int_equal(wb_flush(db), WB_ENOSPC);
	tu_expect_has("wb_flush's message", wb_errmsg(db), ".sst");

	/* The active memtable has all the room these need, so without the
	 * error state they would be accepted. */
	for (uint64_t i = 0; i < 200; i++) {
		assert_int_equal(put_one(db, &m, "refused/", i), WB_ENOSPC);
		tu_expect_has("a refused write's message", wb_errmsg(db), "flush of");
		tu_expect_has("a refused write's message", wb_errmsg(db), ".sst");
	}
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_put(b, "bp", 2, "v", 1), WB_OK);
	assert_int_equal(wb_batch_delete(b, "k/00000001", 10), WB_OK);
	assert_int_equal(wb_write(db, b), WB_ENOSPC);
	wb_txn *t;
	assert_int_equal(wb_txn_begin(db, 0, &t), WB_OK);
	assert_int_equal(wb_txn_put(t, "tp", 2, "v", 1), WB_OK);
	assert_int_equal(wb_txn_commit(t), WB_ENOSPC);
	wb_writer *w = NULL;
	assert_int_equal(wb_writer_begin(db, "stream", 6, &w), WB_ENOSPC);
	assert_null(w);
	expect_state(db, "flush", ".sst");

	/* Reads go on: gets, iterators, read-only transactions. */
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_txn_begin(db, WB_TXN_READONLY, &t), WB_OK);
	void *v;
	size_t vl;
	assert_int_equal(wb_txn_get(t, "k/00000007", 10, &v, &vl), WB_OK);
	wb_free(v);
	wb_txn_abort(t);

	/* Removals make room, so a full disk takes them: a delete, a batch
	 * of deletes, a transaction that only deletes. */
	assert_int_equal(wb_delete(db, "k/00000000", 10), WB_OK);
	tu_model_del(&m, "k/00000000", 10);
	wb_batch_clear(b);
	assert_int_equal(wb_batch_delete(b, "k/00000001", 10), WB_OK);
	assert_int_equal(wb_batch_delete(b, "k/00000002", 10), WB_OK);
	assert_int_equal(wb_write(db, b), WB_OK);
	tu_model_del(&m, "k/00000001", 10);
	tu_model_del(&m, "k/00000002", 10);
	assert_int_equal(wb_txn_begin(db, 0, &t), WB_OK);
	assert_int_equal(wb_txn_delete(t, "k/00000003", 10), WB_OK);
	assert_int_equal(wb_txn_commit(t), WB_OK);
	tu_model_del(&m, "k/00000003", 10);
	/* What was acknowledged can still be made durable. */
	assert_int_equal(wb_sync(db), WB_OK);
	/* A retry asked for now fails the same way. */
	assert_int_equal(wb_flush(db), WB_ENOSPC);
	tu_expect_db_equals(db, &m);

	/* Room again: the background retry ends the state by itself, at its
	 * time and not before. */
	fault_env_clear_faults(fe);
	assert_int_equal(put_one(db, &m, "early/", 0), WB_ENOSPC);
	wait_until_accepted(db, &m, tc);
	expect_no_state(db);
	assert_int_equal(put_one(db, &m, "after/", 0), WB_OK);
	assert_int_equal(wb_flush(db), WB_OK);
	tu_expect_db_equals(db, &m);

	/* Into the state again, and closed in it: a reopen once the cause is
	 * gone has every acknowledged write. */
	for (uint64_t i = 1; i < 50; i++)
		assert_int_equal(put_one(db, &m, "after/", i), WB_OK);
	fault_env_fail_nth(fe, FAULT_OPEN_WRITE, 2, WB_ENOSPC, FAULT_STICKY);
	assert_int_equal(wb_flush(db), WB_ENOSPC);
	assert_int_equal(put_one(db, &m, "refused/", 0), WB_ENOSPC);
	assert_int_equal(wb_close(db), WB_OK);
	fault_env_clear_faults(fe);
	db = tu_open(dir, &o);
	expect_no_state(db);
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_close(db), WB_OK);
	wb_batch_free(b);
	tu_model_free(&m);
	fault_env_free(fe);
	test_clock_free(tc);
}

/* A compaction whose output table cannot be created (EIO). */
static void test_compaction_eio(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(4 << 20);
	o.env = fault_env_get(fe);
	o.compaction_threads = 1;
	o.l0_compaction_trigger = 2;
	wb_db *db = tu_open(dir, &o);
	tu_model_t m = { 0 };
	for (uint64_t i = 0; i < 200; i++)
		assert_int_equal(put_one(db, &m, "a/", i), WB_OK);
	assert_int_equal(wb_flush(db), WB_OK);
	for (uint64_t i = 0; i < 200; i++)
		assert_int_equal(put_one(db, &m, "a/", i * 2), WB_OK);
	/* Opens for writing from here: the flush's WAL and table, then the
	 * compaction's output, which fails, as does every later one. */
	fault_env_fail_nth(fe, FAULT_OPEN_WRITE, 3, WB_EIO, FAULT_STICKY);
	assert_int_equal(wb_flush(db), WB_OK); /* a second L0 table: compaction is due */

	/* Far from L0's stop trigger, so without the error state these
	 * writes would all be accepted. */
	put_until_refused(db, &m, "b/", 0, WB_EIO);
	tu_expect_has("a refused write's message", wb_errmsg(db), "compaction of");
	tu_expect_has("a refused write's message", wb_errmsg(db), ".sst");
	expect_state(db, "compaction", ".sst");
	/* An I/O error is not a full disk: deletes are refused too. */
	assert_int_equal(wb_delete(db, "a/00000000", 10), WB_EIO);
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_sync(db), WB_OK);
	/* A compaction asked for now runs and reports its own failure. */
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_EIO);

	/* The cause gone, a compaction that works ends the state at once. */
	fault_env_clear_faults(fe);
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	expect_no_state(db);
	assert_int_equal(put_one(db, &m, "c/", 0), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	tu_expect_db_equals(db, &m);
	expect_no_state(db);
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
	fault_env_free(fe);
}

/* A value-log reclaim pass that cannot read the live values it moves. On
 * a test clock, which only the reclaim thread waits on (sync none, no
 * compaction, no flush failing): each write is followed by one interval of
 * the thread's, and the test waits until the thread has looked. */
static void test_reclaim_eio(void **state)
{
	test_clock_t *tc = test_clock_new();
	wb_env base = test_clock_env(tc, NULL);
	fault_env_t *fe = fault_env_new(&base);
	wb_options o = tu_options(4 << 20); /* nothing is flushed: no table to read */
	o.env = fault_env_get(fe);
	o.value_threshold = 256;
	o.vlog_segment_size = 64 << 10;
	o.vlog_gc_interval_ms = 20;
	wb_db *db = tu_open(dir, &o);
	tu_model_t m = { 0 };
	for (uint64_t i = 0; i < 100; i++) /* about three segments */
		assert_int_equal(tu_try_put(db, &m, "v/", i, 2000, 0), WB_OK);
	for (uint64_t i = 0; i < 20; i++) /* inline values, read from the memtable */
		assert_int_equal(put_one(db, &m, "small/", i), WB_OK);

	/* Every read of a file fails from here; the overwrites leave the old
	 * segments with a third of their values live, which a pass must read
	 * to move them. */
	fault_env_fail_nth(fe, FAULT_READ, 1, WB_EIO, FAULT_STICKY);
	int rc = WB_OK;
	for (uint64_t j = 0; rc == WB_OK; j++) {
		if (j % 100 % 3 == 0)
			continue; /* every third key keeps its first value */
		if (j == 100000)
			fail_msg("100 000 writes accepted after reclaim failed");
		rc = tu_try_put(db, &m, "v/", j % 100, 2000, 1 + j / 100);
		test_clock_advance(tc, o.vlog_gc_interval_ms * 1000);
		assert_true(test_clock_wait_idle(tc, 1, 30000));
	}
	if (rc != WB_EIO)
		fail_msg("refused with %s: %s", wb_strerror(rc), wb_errmsg(db));
	tu_expect_has("a refused write's message", wb_errmsg(db), "value-log reclaim pass");
	tu_expect_has("a refused write's message", wb_errmsg(db), ".vlog");
	expect_state(db, "value-log reclaim", ".vlog");
	/* Reads that need no file go on meanwhile. */
	char k[32], v[128];
	for (uint64_t i = 0; i < 20; i++)
		tu_expect(db, k, tu_key(k, "small/", i), v, tu_value(v, 100, i, 0));
	uint64_t reclaimed = 1;
	assert_int_equal(wb_vlog_gc(db, &reclaimed), WB_EIO);
	tu_expect_has("wb_vlog_gc's message", wb_errmsg(db), ".vlog");
	assert_int_equal(reclaimed, 0);

	/* The cause gone, the retry ends the state at its time and not
	 * before. */
	fault_env_clear_faults(fe);
	tu_expect_db_equals(db, &m);
	assert_int_equal(put_one(db, &m, "early/", 0), WB_EIO);
	wait_until_accepted(db, &m, tc);
	expect_no_state(db);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
	fault_env_free(fe);
	test_clock_free(tc);
}

/* A failed fsync of the WAL: sticky, until a reopen. */
static void test_wal_sync_sticky(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(4 << 20);
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	tu_model_t m = { 0 };
	for (uint64_t i = 0; i < 100; i++)
		assert_int_equal(put_one(db, &m, "k/", i), WB_OK);
	fault_env_fail_nth(fe, FAULT_SYNC, 1, WB_EIO, FAULT_ONCE);
	assert_int_equal(wb_sync(db), WB_EIO);
	/* Only once, but the kernel may have dropped what it did not write:
	 * nothing is accepted any more, not even a sync or a delete. */
	assert_int_equal(put_one(db, &m, "after/", 0), WB_EIO);
	tu_expect_has("a refused write's message", wb_errmsg(db), "until the database is reopened");
	tu_expect_has("a refused write's message", wb_errmsg(db), ".wal");
	assert_int_equal(wb_delete(db, "k/00000001", 10), WB_EIO);
	assert_int_equal(wb_sync(db), WB_EIO);
	assert_int_equal(wb_flush(db), WB_EIO);
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_EIO);
	assert_int_equal(wb_vlog_gc(db, NULL), WB_EIO);
	wb_txn *t;
	assert_int_equal(wb_txn_begin(db, 0, &t), WB_EIO);
	assert_int_equal(wb_txn_begin(db, WB_TXN_READONLY, &t), WB_OK);
	wb_txn_abort(t);
	expect_state(db, "WAL", ".wal");
	char *json;
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	tu_expect_has("JSON stats", json, "\"sticky\":true");
	wb_free(json);
	tu_expect_db_equals(db, &m);
	wb_close(db); /* may fail: its last sync is of that log */
	db = tu_open(dir, &o);
	expect_no_state(db);
	tu_expect_db_equals(db, &m);
	assert_int_equal(put_one(db, &m, "after/", 1), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
	fault_env_free(fe);
}

typedef struct writer_arg {
	wb_db *db;
	int id;
	int rc;      /* what the first failed write returned */
	uint64_t ok; /* writes accepted before it */
} writer_arg_t;

/* Writes until a write fails: plain puts, or (id 0) transactions. */
static void *write_until_error(void *p)
{
	writer_arg_t *a = p;
	char k[32], v[128];
	for (uint64_t i = 0;; i++) {
		size_t kl = (size_t)snprintf(k, sizeof(k), "w%d/%08llu", a->id, (unsigned long long)i);
		size_t vl = tu_value(v, 100, i, (uint64_t)a->id);
		int rc;
		if (a->id == 0) {
			wb_txn *t;
			rc = wb_txn_begin(a->db, WB_TXN_SNAPSHOT, &t);
			if (rc == WB_OK && (rc = wb_txn_put(t, k, kl, v, vl)) == WB_OK)
				rc = wb_txn_commit(t);
			else if (rc == WB_OK)
				wb_txn_abort(t);
		} else {
			rc = wb_put(a->db, k, kl, v, vl);
		}
		if (rc != WB_OK) {
			a->rc = rc;
			a->ok = i;
			return NULL;
		}
	}
}

/* Writers on four threads fill the memtables while every flush fails:
 * the ones waiting for room behind the frozen memtable and the ones that
 * come later all get the flush's error, none hangs. */
static void test_writers_wake(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(32 << 10);
	o.max_immutable = 1;
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	/* The new table cannot be opened for reading: the flush fails after
	 * writing it, so writers have time to queue up behind it. */
	fault_env_fail_nth(fe, FAULT_OPEN_READ, 1, WB_EIO, FAULT_STICKY);
	writer_arg_t a[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (writer_arg_t){ .db = db, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, write_until_error, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (a[i].rc != WB_EIO)
			fail_msg("writer %d: %s, want the flush's EIO", i, wb_strerror(a[i].rc));
	}
	expect_state(db, "flush", ".sst");
	fault_env_clear_faults(fe);
	assert_int_equal(wb_flush(db), WB_OK);
	expect_no_state(db);
	/* Every write acknowledged is there. */
	char k[32];
	for (int i = 0; i < 4; i++)
		for (uint64_t j = 0; j < a[i].ok; j++) {
			void *v;
			size_t vl, kl = (size_t)snprintf(k, sizeof(k), "w%d/%08llu", i, (unsigned long long)j);
			assert_int_equal(wb_get(db, k, kl, &v, &vl), WB_OK);
			wb_free(v);
		}
	assert_int_equal(wb_close(db), WB_OK);
	fault_env_free(fe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flush_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writers_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_sync_sticky, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
