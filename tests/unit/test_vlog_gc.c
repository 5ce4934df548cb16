/*
 * test_vlog_gc.c -- value-log space reclaim (engine/src/vlog/vlog_gc.c)
 * through the database, by wb_vlog_gc and by its thread:
 *
 *   - wb_batch_move, then reclaim of the source segment, then the read;
 *   - an open iterator keeps a reclaimed segment readable until freed;
 *   - puts, deletes and moves racing reclaim passes: the result is exactly
 *     the writer's model (nothing resurrected, nothing lost);
 *   - readers, a writer, compaction, reclaim and an old open iterator all
 *     at once (seeded by tu_seed, for tests/stress.sh);
 *   - the sustained overwrite workload with the reclaim thread: disk usage
 *     bounded during and after, newest values, deletions stay deleted;
 *   - after many killed runs, each too short to start reclaim, the thread
 *     catches up on its own after the next open;
 *   - a crash at many points during a reclaim pass: nothing lost, nothing
 *     resurrected, no orphan segment; a pass whose MANIFEST edit fails
 *     deletes no segment;
 *   - deletes alone, in sealed segments or in the active one, nothing else
 *     happening: the thread notices and reclaims the space.
 *
 * The reclaim thread's intervals run on a test clock
 * (tests/support/test_clock.h) where a test waits for them.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_env.h"
#include "test_clock.h"
#include "testutil.h"
#include "vlog_testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_mkdtemp(dir, "vlog-gc");
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(dir);
	return 0;
}

/* For test_clock_step_until: the value log of dir holds at most limit bytes. */
struct vlog_limit {
	const char *dir;
	uint64_t limit;
};

static bool vlog_within(void *arg)
{
	const struct vlog_limit *l = arg;
	return vt_dir_bytes(l->dir, ".vlog") <= l->limit;
}

/* db holds exactly m and verifies, then holds m again after a reopen;
 * closes it. */
static void expect_model_kept(wb_db *db, const wb_options *o, const tu_model_t *m)
{
	tu_expect_db_equals(db, m);
	vt_verify_and_close(db, WB_OK);
	db = tu_open(dir, o);
	tu_expect_db_equals(db, m);
	assert_int_equal(wb_close(db), WB_OK);
}

/* Keys 0 .. n-1 with a value of len bytes, rounds 0 .. rounds-1 in turn. */
static void put_rounds(wb_db *db, int rounds, uint64_t n, size_t len)
{
	for (int round = 0; round < rounds; round++)
		for (uint64_t i = 0; i < n; i++)
			vt_put_big(db, i, len, (uint64_t)round);
}

/* Bytes reclaimed by passes until one reclaims nothing. */
static uint64_t gc_all(wb_db *db)
{
	uint64_t total = 0, r;
	do {
		assert_int_equal(wb_vlog_gc(db, &r), WB_OK);
		total += r;
	} while (r > 0);
	return total;
}

static void test_move_then_gc(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 64u << 10;
	wb_db *db = tu_open(dir, &o);
	vt_put_big(db, 1, 20000, 1); /* the value to move */
	for (uint64_t i = 2; i < 10; i++)
		vt_put_big(db, i, 20000, 1);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_move(db, b, "k00000001", 9, "moved", 5), WB_OK);
	assert_int_equal(wb_batch_move(db, b, "nope", 4, "x", 1), WB_ENOTFOUND);
	assert_int_equal(wb_write(db, b), WB_OK);
	wb_batch_free(b);
	/* No bytes were copied by the move. */
	uint64_t vbytes = vt_dir_bytes(dir, ".vlog");
	tu_expect_missing(db, "k00000001", 9);
	/* Everything else in the first segments becomes garbage. */
	for (int round = 2; round < 5; round++)
		for (uint64_t i = 2; i < 10; i++)
			vt_put_big(db, i, 20000, (uint64_t)round);
	assert_true(vt_dir_bytes(dir, ".vlog") > vbytes);
	uint64_t reclaimed = gc_all(db);
	assert_true(reclaimed > 0);
	char want[20000];
	tu_value(want, sizeof(want), 1, 1);
	for (int round = 0; round < 2; round++) {
		tu_expect(db, "moved", 5, want, sizeof(want));
		tu_expect_missing(db, "k00000001", 9);
		for (uint64_t i = 2; i < 10; i++)
			vt_expect_big(db, i, 20000, 4);
		vt_verify_and_close(db, WB_OK);
		db = tu_open(dir, &o);
		gc_all(db);
	}

	/* A move read before a pass reclaimed its segment, written after: it
	 * either lands with the right bytes or asks to be redone. */
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_move(db, b, "moved", 5, "moved2", 6), WB_OK);
	for (int round = 5; round < 8; round++)
		for (uint64_t i = 2; i < 10; i++)
			vt_put_big(db, i, 20000, (uint64_t)round);
	gc_all(db);
	int rc = wb_write(db, b);
	assert_true(rc == WB_OK || rc == WB_ECONFLICT);
	if (rc == WB_ECONFLICT) {
		wb_batch_clear(b);
		assert_int_equal(wb_batch_move(db, b, "moved", 5, "moved2", 6), WB_OK);
		assert_int_equal(wb_write(db, b), WB_OK);
	}
	wb_batch_free(b);
	gc_all(db);
	tu_expect(db, "moved2", 6, want, sizeof(want));
	tu_expect_missing(db, "moved", 5);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	tu_expect(db, "moved2", 6, want, sizeof(want));
	/* Keyspace variant, inline value. */
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_put_ks(b, WB_KS_META, "m1", 2, "meta", 4), WB_OK);
	assert_int_equal(wb_write(db, b), WB_OK);
	wb_batch_clear(b);
	assert_int_equal(wb_batch_move_ks(db, b, WB_KS_META, "m1", 2, "m2", 2), WB_OK);
	assert_int_equal(wb_batch_move_ks(db, b, 9, "m1", 2, "m2", 2), WB_EINVAL);
	assert_int_equal(wb_write(db, b), WB_OK);
	wb_batch_free(b);
	void *v;
	size_t vl;
	assert_int_equal(wb_get_ks(db, WB_KS_META, "m2", 2, &v, &vl), WB_OK);
	assert_int_equal(vl, 4);
	assert_memory_equal(v, "meta", 4);
	wb_free(v);
	assert_int_equal(wb_get_ks(db, WB_KS_META, "m1", 2, &v, &vl), WB_ENOTFOUND);
	assert_int_equal(wb_close(db), WB_OK);
}

/* A reader that took its snapshot before a pass keeps reading the old
 * values from the reclaimed segment, which is deleted only after. */
static void test_iterator_pins_segment(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 64u << 10;
	o.vlog_gc_interval_ms = 0; /* only the passes the test runs */
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 10; i++)
		vt_put_big(db, i, 20000, 1);
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	for (uint64_t i = 0; i < 10; i++)
		vt_put_big(db, i, 20000, 2);
	for (uint64_t i = 0; i < 10; i += 2) {
		char k[32];
		assert_int_equal(wb_delete(db, k, tu_key(k, "k", i)), WB_OK);
	}
	uint64_t before = vt_dir_bytes(dir, ".vlog");
	uint64_t r;
	assert_int_equal(wb_vlog_gc(db, &r), WB_OK);
	assert_int_equal(r, 0); /* retired, but the iterator holds it */
	uint64_t i = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it), i++) {
		size_t vl;
		const void *v = wb_iter_value(it, &vl);
		char want[20000];
		tu_value(want, sizeof(want), i, 1);
		assert_non_null(v);
		assert_int_equal(vl, sizeof(want));
		assert_memory_equal(v, want, vl);
	}
	assert_int_equal(i, 10);
	assert_int_equal(wb_iter_status(it), WB_OK);
	wb_iter_free(it);
	assert_int_equal(wb_vlog_gc(db, &r), WB_OK);
	assert_true(r > 0);
	assert_true(vt_dir_bytes(dir, ".vlog") < before);
	for (i = 0; i < 10; i++) {
		if (i % 2 == 0) {
			char k[32];
			tu_expect_missing(db, k, tu_key(k, "k", i));
		} else {
			vt_expect_big(db, i, 20000, 2);
		}
	}
	char *text;
	assert_int_equal(wb_stats_text(db, &text), WB_OK);
	assert_non_null(strstr(text, "value log:"));
	wb_free(text);
	assert_int_equal(wb_close(db), WB_OK);
}

#define OW_KEYS 2000
#define OW_LEN (64u << 10)
#define OW_ROUNDS 30

/* The sustained overwrite workload: 2 000 keys x 64 KiB, overwritten 30
 * times, with the background reclaim thread. */
static void test_overwrite_workload(void **state)
{
	wb_options o = tu_options(4u << 20);
	o.compaction_threads = 1;
	o.value_threshold = 4096;
	o.vlog_segment_size = 8u << 20;
	o.vlog_gc_interval_ms = 20;
	wb_db *db = tu_open(dir, &o);
	const uint64_t live = (uint64_t)OW_KEYS * OW_LEN;
	uint64_t worst = 0;
	char *v = malloc(OW_LEN);
	for (uint64_t round = 0; round < OW_ROUNDS; round++) {
		for (uint64_t i = 0; i < OW_KEYS; i++) {
			char k[32];
			size_t kl = tu_key(k, "k", i);
			/* A cheap distinct value: the round and key stamped in. */
			memset(v, (int)(round * 31 + i), OW_LEN);
			memcpy(v, &round, sizeof(round));
			memcpy(v + 8, &i, sizeof(i));
			assert_int_equal(wb_put(db, k, kl, v, OW_LEN), WB_OK);
			if (i % 500 == 0) {
				uint64_t used = vt_dir_bytes(dir, NULL);
				if (used > worst)
					worst = used;
			}
		}
	}
	for (uint64_t i = 0; i < OW_KEYS; i += 10) {
		char k[32];
		assert_int_equal(wb_delete(db, k, tu_key(k, "k", i)), WB_OK);
	}
	gc_all(db);
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t i = 0; i < OW_KEYS; i++) {
			char k[32];
			size_t kl = tu_key(k, "k", i);
			if (i % 10 == 0) {
				tu_expect_missing(db, k, kl);
				continue;
			}
			uint64_t round = OW_ROUNDS - 1;
			memset(v, (int)(round * 31 + i), OW_LEN);
			memcpy(v, &round, sizeof(round));
			memcpy(v + 8, &i, sizeof(i));
			tu_expect(db, k, kl, v, OW_LEN);
		}
		assert_int_equal(wb_close(db), WB_OK);
		db = tu_open(dir, &o);
		gc_all(db);
	}
	uint64_t end = vt_dir_bytes(dir, NULL);
	print_message("overwrite: live %llu, worst %llu (%.2fx), end %llu (%.2fx)\n",
		      (unsigned long long)live, (unsigned long long)worst, (double)worst / (double)live,
		      (unsigned long long)end, (double)end / (double)live);
	assert_true(worst <= live * 5 / 2);
	assert_true(end <= live * 5 / 2);
	assert_int_equal(wb_close(db), WB_OK);
	free(v);
}

/* Many short runs, each killed after overwriting a slice of the keys --
 * never enough in one run to start a reclaim pass by its own counters.
 * After the last reopen, with nothing else happening, the reclaim thread
 * catches up by itself: the value log shrinks under 1.5x the live bytes
 * within a minute of its clock, and every key holds its newest value. */
static void test_reclaim_catches_up_after_crashes(void **state)
{
	enum { KEYS = 200, LEN = 64 << 10, CYCLES = 30, PER_CYCLE = 60 };
	wb_options o = tu_options(4u << 20);
	o.value_threshold = 4096;
	o.vlog_segment_size = 4u << 20;
	o.vlog_gc_interval_ms = 50;
	const uint64_t live = (uint64_t)KEYS * LEN;
	char *v = malloc(LEN);
	uint32_t *last = calloc(KEYS, sizeof(*last));
	uint64_t n = 0;
	for (int cycle = 0; cycle < CYCLES; cycle++) {
		fault_env_t *fe = fault_env_new(NULL);
		wb_options fo = o;
		fo.env = fault_env_get(fe);
		fo.vlog_gc_interval_ms = 0; /* the killed runs never reclaim */
		wb_db *db = tu_open(dir, &fo);
		int count = cycle == 0 ? KEYS : PER_CYCLE;
		for (int j = 0; j < count; j++, n++) {
			uint64_t i = cycle == 0 ? (uint64_t)j : (n * 7919) % KEYS;
			char k[32];
			size_t kl = tu_key(k, "k", i);
			memset(v, (int)(n & 0xff), LEN);
			memcpy(v, &n, sizeof(n));
			assert_int_equal(wb_put(db, k, kl, v, LEN), WB_OK);
			last[i] = (uint32_t)n;
		}
		tu_kill(db, fe);
		fault_env_free(fe);
	}
	uint64_t before = vt_dir_bytes(dir, ".vlog");
	assert_true(before > 3 * live); /* the garbage of every run is there */
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	o.env = &env;
	wb_db *db = tu_open(dir, &o);
	/* Only the reclaim thread waits on the clock (sync none, no compaction). */
	struct vlog_limit l = { dir, live * 3 / 2 - 1 };
	test_clock_step_until(tc, o.vlog_gc_interval_ms * 1000, 1, vlog_within, &l,
			      60 * 1000 / (int)o.vlog_gc_interval_ms);
	uint64_t now = vt_dir_bytes(dir, ".vlog");
	print_message("after %d crashes: value log %llu bytes before, %llu after (live %llu)\n", CYCLES,
		      (unsigned long long)before, (unsigned long long)now, (unsigned long long)live);
	assert_true(now < live * 3 / 2);
	for (uint64_t i = 0; i < KEYS; i++) {
		char k[32];
		size_t kl = tu_key(k, "k", i);
		uint64_t w = last[i];
		memset(v, (int)(w & 0xff), LEN);
		memcpy(v, &w, sizeof(w));
		tu_expect(db, k, kl, v, LEN);
	}
	vt_verify_and_close(db, WB_OK);
	test_clock_free(tc);
	free(v);
	free(last);
}

/* Crash at many points during a reclaim pass (after all writes were
 * synced): every key has its newest value, deleted keys stay deleted, and
 * after the next pass no segment file is left that the database does not
 * use. */
static void test_crash_during_gc(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 64u << 10;
	o.vlog_gc_interval_ms = 0; /* only the passes the test runs */
	uint64_t span = 0;
	for (int attempt = 0; attempt < 12; attempt++) {
		tu_rmtree(dir);
		fault_env_t *fe = fault_env_new(NULL);
		o.env = fault_env_get(fe);
		wb_db *db = tu_open(dir, &o);
		put_rounds(db, 3, 20, 9000);
		for (uint64_t i = 0; i < 20; i += 3) {
			char k[32];
			assert_int_equal(wb_delete(db, k, tu_key(k, "k", i)), WB_OK);
		}
		assert_int_equal(wb_sync(db), WB_OK);
		struct fault_env_counts c0, c1;
		fault_env_counts(fe, &c0);
		if (attempt == 0) {
			/* Measure how many bytes a pass writes. */
			assert_int_equal(wb_vlog_gc(db, NULL), WB_OK);
			fault_env_counts(fe, &c1);
			span = c1.bytes_appended - c0.bytes_appended;
			assert_true(span > 0);
		} else {
			fault_env_kill_after_bytes(fe, span * (uint64_t)attempt / 11);
			wb_vlog_gc(db, NULL);
		}
		tu_crash(db, fe);
		fault_env_clear_faults(fe);
		db = tu_open(dir, &o);
		for (int check = 0; check < 2; check++) {
			for (uint64_t i = 0; i < 20; i++) {
				char k[32];
				if (i % 3 == 0)
					tu_expect_missing(db, k, tu_key(k, "k", i));
				else
					vt_expect_big(db, i, 9000, 2);
			}
			gc_all(db);
		}
		assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
		/* Every segment file is one the database lists. */
		char *json;
		assert_int_equal(wb_stats_json(db, &json), WB_OK);
		int n;
		char **names = tu_list(dir, &n);
		for (int i = 0; i < n; i++) {
			size_t l = strlen(names[i]);
			if (l > 5 && strcmp(names[i] + l - 5, ".vlog") == 0) {
				char want[64];
				snprintf(want, sizeof(want), "{\"segment\":%llu,", strtoull(names[i], NULL, 10));
				if (strstr(json, want) == NULL)
					fail_msg("orphan %s after attempt %d: %s", names[i], attempt, json);
			}
		}
		tu_free_names(names, n);
		wb_free(json);
		assert_int_equal(wb_close(db), WB_OK);
		fault_env_free(fe);
	}
}

/* A reclaim pass whose MANIFEST edit (the retirement of its segments)
 * fails must not delete those segments: the MANIFEST on disk still lists
 * them, and an open refuses a database whose listed segment is missing.
 * Found by faultcrash (tests/crash/): a sticky EIO on appends, then a
 * crash. Round 0's two segments hold nothing live, so the pass rewrites
 * nothing and its first append is the MANIFEST edit. */
static void test_failed_retire_keeps_segments(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 64u << 10; /* 8 values of 9000 bytes each */
	o.vlog_gc_interval_ms = 0;       /* only the pass the test runs */
	fault_env_t *fe = fault_env_new(NULL);
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	put_rounds(db, 2, 16, 9000);
	assert_int_equal(wb_sync(db), WB_OK);
	int segments = tu_count_suffix(dir, ".vlog");
	fault_env_fail_nth(fe, FAULT_APPEND, 1, WB_EIO, FAULT_STICKY);
	assert_int_equal(wb_vlog_gc(db, NULL), WB_EIO);
	assert_int_equal(tu_count_suffix(dir, ".vlog"), segments);
	tu_crash(db, fe);
	fault_env_clear_faults(fe);
	int rc = wb_open(dir, &o, &db);
	if (rc != WB_OK)
		fail_msg("reopen after a failed retirement: %s: %s", wb_strerror(rc), wb_errmsg(NULL));
	for (uint64_t i = 0; i < 16; i++)
		vt_expect_big(db, i, 9000, 1);
	gc_all(db); /* and the space comes back now */
	assert_true(tu_count_suffix(dir, ".vlog") < segments);
	vt_verify_and_close(db, WB_OK);
	fault_env_free(fe);
}

/* Deletes alone append nothing: the reclaim thread must also notice the
 * garbage compaction counts. */
static void test_background_reclaims_deletes(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 64u << 10;
	o.vlog_gc_interval_ms = 20;
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	o.env = &env;
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 60; i++)
		vt_put_big(db, i, 10000, 1);
	vt_put_big(db, 1000, 10000, 1); /* seals the last segment of the others */
	assert_int_equal(wb_flush(db), WB_OK);
	/* The thread sees the appends first: its pass after the first interval
	 * (only it waits on the clock: sync none, no compaction). */
	assert_true(test_clock_wait_idle(tc, 1, 30000));
	test_clock_advance(tc, 20 * 1000);
	assert_true(test_clock_wait_idle(tc, 1, 30000));
	uint64_t before = vt_dir_bytes(dir, ".vlog");
	for (uint64_t i = 0; i < 60; i++) {
		char k[32];
		assert_int_equal(wb_delete(db, k, tu_key(k, "k", i)), WB_OK);
	}
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	struct vlog_limit l = { dir, before / 4 };
	assert_true(test_clock_step_until(tc, 20 * 1000, 1, vlog_within, &l, 500));
	for (uint64_t i = 0; i < 60; i++) {
		char k[32];
		tu_expect_missing(db, k, tu_key(k, "k", i));
	}
	vt_expect_big(db, 1000, 10000, 1);
	assert_int_equal(wb_close(db), WB_OK);
	test_clock_free(tc);
}

typedef struct gc_loop {
	wb_db *db;
	atomic_int stop;
	int passes;
} gc_loop_t;

static void *gc_main(void *arg)
{
	gc_loop_t *g = arg;
	while (!atomic_load(&g->stop)) {
		int rc = wb_vlog_gc(g->db, NULL);
		if (rc != WB_OK)
			fail_msg("wb_vlog_gc: %s", wb_strerror(rc));
		g->passes++;
	}
	return NULL;
}

/* One writer puts, deletes and moves (renames) keys while another thread
 * runs reclaim passes back to back: at the end, and after a reopen, the
 * database holds exactly what the writer's model says -- no deleted or
 * overwritten value came back, no moved value was lost. */
static void test_gc_races_writes_and_moves(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 64u << 10;
	o.compaction_threads = 1;
	o.memtable_size = 256u << 10;
	wb_db *db = tu_open(dir, &o);
	gc_loop_t g = { .db = db };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, gc_main, &g), 0);
	tu_model_t m = { 0 };
	uint64_t rs = tu_seed(7);
	char k[32], k2[32], v[3000];
	int conflicts = 0;
	for (uint64_t op = 0; op < 6000; op++) {
		uint64_t n = tu_rand(&rs) % 64, r = tu_rand(&rs) % 10;
		size_t kl = tu_key(k, "k", n);
		if (r < 6) {
			size_t vl = tu_value(v, 1500 + op % 1000, n, op);
			assert_int_equal(wb_put(db, k, kl, v, vl), WB_OK);
			tu_model_put(&m, k, kl, v, vl);
		} else if (r < 7) {
			assert_int_equal(wb_delete(db, k, kl), WB_OK);
			tu_model_del(&m, k, kl);
		} else {
			size_t kl2 = tu_key(k2, "k", tu_rand(&rs) % 64);
			const tu_kv_t *e = tu_model_get(&m, k, kl);
			wb_batch *b;
			assert_int_equal(wb_batch_new(&b), WB_OK);
			int rc;
			do {
				wb_batch_clear(b);
				rc = wb_batch_move(db, b, k, kl, k2, kl2);
				if (rc == WB_OK)
					rc = wb_write(db, b);
				conflicts += rc == WB_ECONFLICT;
			} while (rc == WB_ECONFLICT);
			wb_batch_free(b);
			if (e == NULL) {
				assert_int_equal(rc, WB_ENOTFOUND);
			} else {
				assert_int_equal(rc, WB_OK);
				if (kl2 != kl || memcmp(k, k2, kl) != 0) {
					uint8_t *val = malloc(e->vl + 1);
					memcpy(val, e->v, e->vl);
					size_t vl = e->vl;
					tu_model_del(&m, k, kl);
					tu_model_put(&m, k2, kl2, val, vl);
					free(val);
				}
			}
		}
	}
	atomic_store(&g.stop, 1);
	pthread_join(th, NULL);
	assert_true(g.passes > 0);
	char *json;
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	const char *vj = strstr(json, "\"vlog\":");
	print_message("reclaim passes %d, moves redone %d; %.160s\n", g.passes, conflicts, vj);
	/* Reclaim did move values and did skip some it found overwritten. */
	assert_non_null(strstr(vj, "\"gc_rewritten\":"));
	assert_true(strtoull(strstr(vj, "\"gc_rewritten\":") + 15, NULL, 10) > 0);
	assert_true(strtoull(strstr(vj, "\"reclaimed\":") + 12, NULL, 10) > 0);
	wb_free(json);
	tu_expect_db_equals(db, &m);
	gc_all(db);
	expect_model_kept(db, &o, &m);
	tu_model_free(&m);
}

/* ---- everything at once ---- */

#define LOAD_KEYS 400
#define LOAD_READERS 2

struct load {
	wb_db *db;
	atomic_int stop;
	atomic_int bad;       /* reads that showed what no write made */
	atomic_ullong reads;
	pthread_mutex_t mu;   /* guards first */
	char first[160];      /* what the first bad read showed */
};

/* Counts a bad read; the first one's description is kept for the report. */
static void load_bad(struct load *l, const char *fmt, ...)
{
	if (atomic_fetch_add(&l->bad, 1) != 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&l->mu);
	vsnprintf(l->first, sizeof(l->first), fmt, ap);
	pthread_mutex_unlock(&l->mu);
	va_end(ap);
}

struct load_reader {
	struct load *l;
	int id;
};

/* Whether v is a value tu_value made for key n (of some round): values
 * spell "<n>.<round>." first. Parsed from a terminated copy. */
static bool made_for(uint64_t n, const void *v, size_t vl)
{
	char head[48], *want;
	size_t hl = vl < sizeof(head) - 1 ? vl : sizeof(head) - 1;
	memcpy(head, v, hl);
	head[hl] = '\0';
	unsigned long long vn, round;
	if (sscanf(head, "%llu.%llu.", &vn, &round) != 2 || vn != n)
		return false;
	want = malloc(vl + 1);
	tu_value(want, vl, n, round);
	bool ok = memcmp(want, v, vl) == 0;
	free(want);
	return ok;
}

/* The number in a key "k<8 digits>", from a terminated copy. */
static uint64_t key_n(const void *k, size_t kl)
{
	char buf[16];
	if (kl != 9)
		return UINT64_MAX;
	memcpy(buf, k, kl);
	buf[kl] = '\0';
	return strtoull(buf + 1, NULL, 10);
}

/* Gets of random keys and short scans from random keys, both checked
 * against what a write could have made; a failure is counted (cmocka's
 * assertions belong to the main thread). */
static void *load_reader_main(void *arg)
{
	struct load_reader *r = arg;
	struct load *l = r->l;
	uint64_t rs = tu_seed(500 + (uint64_t)r->id);
	while (!atomic_load(&l->stop)) {
		char k[32];
		uint64_t n = tu_rand(&rs) % LOAD_KEYS;
		size_t kl = tu_key(k, "k", n);
		void *v;
		size_t vl;
		int rc = wb_get(l->db, k, kl, &v, &vl);
		if (rc == WB_OK) {
			if (!made_for(n, v, vl))
				load_bad(l, "wb_get %s: %zu bytes \"%.24s\"", k, vl, (char *)v);
			wb_free(v);
		} else if (rc != WB_ENOTFOUND) {
			load_bad(l, "wb_get %s: %s (%s)", k, wb_strerror(rc), wb_errmsg(l->db));
		}
		wb_iter *it;
		if ((rc = wb_iter_new(l->db, NULL, &it)) != WB_OK) {
			load_bad(l, "wb_iter_new: %s", wb_strerror(rc));
			continue;
		}
		uint64_t prev = 0;
		bool first = true, back = tu_rand(&rs) % 2;
		int steps = 0;
		if (back)
			wb_iter_seek_for_prev(it, k, kl);
		else
			wb_iter_seek(it, k, kl);
		for (; wb_iter_valid(it) && steps < 20; steps++) {
			size_t ikl, ivl;
			const void *ik = wb_iter_key(it, &ikl);
			uint64_t in = key_n(ik, ikl);
			const void *iv = wb_iter_value(it, &ivl);
			if (iv == NULL || !made_for(in, iv, ivl) ||
			    (!first && (back ? in >= prev : in <= prev)))
				load_bad(l, "iterator %s from k%08llu: key \"%.*s\" after k%08llu, %zu bytes "
					 "\"%.24s\" (%s)", back ? "back" : "forward",
					 (unsigned long long)n, (int)ikl, (const char *)ik,
					 (unsigned long long)prev, ivl, iv ? (const char *)iv : "",
					 wb_strerror(wb_iter_status(it)));
			prev = in;
			first = false;
			if (back)
				wb_iter_prev(it);
			else
				wb_iter_next(it);
		}
		if (wb_iter_status(it) != WB_OK)
			load_bad(l, "iterator from k%08llu: %s (%s)", (unsigned long long)n,
				 wb_strerror(wb_iter_status(it)), wb_errmsg(l->db));
		wb_iter_free(it);
		atomic_fetch_add(&l->reads, 1);
	}
	return NULL;
}

/* Readers, a writer (puts, overwrites, deletes, batches), flushes and
 * compaction (two threads), value-log reclaim passes back to back, and an
 * iterator opened a quarter of the way in, all at once, with values on
 * both sides of the threshold: no read shows what no write made, the old
 * iterator still shows its moment at the end, and the database is the
 * writer's model, also after a reopen. Seeded by tu_seed. */
static void test_reclaim_under_load(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 64u << 10;
	o.memtable_size = 128u << 10;
	o.compaction_threads = 2;
	o.level1_size = 1u << 20;
	o.sst_target_size = 256u << 10;
	wb_db *db = tu_open(dir, &o);
	struct load l = { .db = db, .mu = PTHREAD_MUTEX_INITIALIZER };
	struct load_reader rd[LOAD_READERS];
	pthread_t th[LOAD_READERS + 1];
	gc_loop_t g = { .db = db };
	assert_int_equal(pthread_create(&th[0], NULL, gc_main, &g), 0);
	for (int i = 0; i < LOAD_READERS; i++) {
		rd[i] = (struct load_reader){ &l, i };
		assert_int_equal(pthread_create(&th[i + 1], NULL, load_reader_main, &rd[i]), 0);
	}
	tu_model_t m = { 0 }, at_open = { 0 };
	wb_iter *held = NULL;
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	uint64_t rs = tu_seed(77);
	const uint64_t ops = 12000;
	char k[32], k2[32], v[3000], v2[3000];
	for (uint64_t op = 1; op <= ops; op++) {
		if (op == ops / 4) {
			assert_int_equal(wb_iter_new(db, NULL, &held), WB_OK);
			tu_model_copy(&at_open, &m);
		}
		uint64_t n = tu_rand(&rs) % LOAD_KEYS, r = tu_rand(&rs) % 20;
		size_t kl = tu_key(k, "k", n);
		size_t vl = tu_value(v, 200 + tu_rand(&rs) % 2800, n, op);
		if (r < 3) {
			assert_int_equal(wb_delete(db, k, kl), WB_OK);
			tu_model_del(&m, k, kl);
		} else if (r < 6) {
			uint64_t n2 = (n + 1 + tu_rand(&rs) % (LOAD_KEYS - 1)) % LOAD_KEYS;
			size_t kl2 = tu_key(k2, "k", n2);
			size_t vl2 = tu_value(v2, 200 + tu_rand(&rs) % 2800, n2, op);
			wb_batch_clear(b);
			assert_int_equal(wb_batch_put(b, k, kl, v, vl), WB_OK);
			assert_int_equal(wb_batch_put(b, k2, kl2, v2, vl2), WB_OK);
			assert_int_equal(wb_write(db, b), WB_OK);
			tu_model_put(&m, k, kl, v, vl);
			tu_model_put(&m, k2, kl2, v2, vl2);
		} else {
			assert_int_equal(wb_put(db, k, kl, v, vl), WB_OK);
			tu_model_put(&m, k, kl, v, vl);
		}
	}
	wb_batch_free(b);
	atomic_store(&g.stop, 1);
	atomic_store(&l.stop, 1);
	for (int i = 0; i < LOAD_READERS + 1; i++)
		pthread_join(th[i], NULL);
	print_message("reads %llu, reclaim passes %d\n", (unsigned long long)atomic_load(&l.reads),
		      g.passes);
	if (atomic_load(&l.bad) != 0)
		fail_msg("%d bad reads; the first: %s", atomic_load(&l.bad), l.first);
	assert_true(atomic_load(&l.reads) > 0 && g.passes > 0);
	tu_expect_iter_equals(held, &at_open);
	wb_iter_free(held);
	expect_model_kept(db, &o, &m);
	tu_model_free(&m);
	tu_model_free(&at_open);
}

/* Deletes whose values sit in the active segment, with no compaction and
 * no other write to set reclaim going: once they settle, the thread seals
 * the segment (mostly garbage) and reclaims it. */
static void test_deletes_in_active_segment_reclaimed(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 16u << 20; /* everything stays in the active segment */
	o.vlog_gc_interval_ms = 20;
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	o.env = &env;
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 40; i++)
		vt_put_big(db, i, 100000, 1);
	vt_put_big(db, 1000, 10000, 1);
	uint64_t before = vt_dir_bytes(dir, ".vlog");
	assert_true(before >= 4000000);
	for (uint64_t i = 0; i < 40; i++) {
		char k[32];
		assert_int_equal(wb_delete(db, k, tu_key(k, "k", i)), WB_OK);
	}
	/* Left: the keeper, rewritten into a new active segment, whose file
	 * holds up to 1 MiB of zeros prepared ahead (map mode). */
	uint64_t want = before / 8 + (1u << 20);
	struct vlog_limit l = { dir, want };
	assert_true(test_clock_step_until(tc, 20 * 1000, 1, vlog_within, &l, 500));
	for (uint64_t i = 0; i < 40; i++) {
		char k[32];
		tu_expect_missing(db, k, tu_key(k, "k", i));
	}
	vt_expect_big(db, 1000, 10000, 1);
	vt_put_big(db, 1001, 20000, 1); /* a new active segment takes writes */
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 40; i++) {
		char k[32];
		tu_expect_missing(db, k, tu_key(k, "k", i));
	}
	vt_expect_big(db, 1000, 10000, 1);
	vt_expect_big(db, 1001, 20000, 1);
	vt_verify_and_close(db, WB_OK);
	test_clock_free(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_move_then_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iterator_pins_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_races_writes_and_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_under_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_background_reclaims_deletes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deletes_in_active_segment_reclaimed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overwrite_workload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_catches_up_after_crashes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_retire_keeps_segments, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
