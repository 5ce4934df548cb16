/*
 * test_compaction.c -- leveled compaction through the public API: a churn
 * of puts, overwrites and deletes with concurrent readers and an open
 * iterator checked against a model; space after overwriting and a full
 * compaction; deleted keys never coming back; a crash in the middle of a
 * compaction (fault env) losing nothing and leaving no orphan files.
 *
 * Values name their key and the write that made them ("<n>:<round>:" then
 * filler), so a reader racing the writer can still check what it reads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/batch.h"
#include "fault_env.h"
#include "table/ikey.h"
#include "test_clock.h"
#include "testutil.h"
#include "table/vptr.h"
#include "wombat.h"

#define NKEYS 200000

static wb_options churn_options(void)
{
	wb_options o = tu_options(1u << 20);
	o.level1_size = 4u << 20;
	o.sst_target_size = 1u << 20;
	o.block_cache_size = 8u << 20;
	o.compaction_threads = 2;
	return o;
}

static size_t make_value(char *buf, uint32_t n, uint32_t round)
{
	int len = snprintf(buf, 128, "%u:%u:", n, round);
	size_t want = 40 + (n * 7 + round) % 60;
	memset(buf + len, 'a' + (char)(round % 26), want - (size_t)len);
	return want;
}

/* Checks that v is a value make_value wrote for key n; returns its round. */
static uint32_t check_value(const void *v, size_t vlen, uint32_t n)
{
	char buf[128];
	assert_true(vlen < sizeof(buf));
	memcpy(buf, v, vlen);
	buf[vlen] = '\0';
	unsigned kn = 0, round = 0;
	assert_int_equal(sscanf(buf, "%u:%u:", &kn, &round), 2);
	assert_int_equal(kn, n);
	char want[128];
	size_t wl = make_value(want, n, round);
	assert_int_equal(wl, vlen);
	assert_memory_equal(want, buf, vlen);
	return round;
}

static uint64_t json_number(const char *json, const char *key)
{
	const char *p = strstr(json, key);
	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 10);
}

/* Files in levels 1..6, from the JSON stats. */
static int deep_files(wb_db *db)
{
	char *json;
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	int n = 0;
	for (int l = 1; l < 7; l++) {
		char key[64];
		snprintf(key, sizeof(key), "{\"level\":%d,\"files\":", l);
		n += (int)json_number(json, key);
	}
	wb_free(json);
	return n;
}

typedef struct reader_arg {
	wb_db *db;
	int id;
	atomic_int stop;
	uint64_t reads;
} reader_arg_t;

static void *reader_main(void *p)
{
	reader_arg_t *a = p;
	uint64_t seed = tu_seed(1000 + (uint64_t)a->id);
	while (!atomic_load(&a->stop)) {
		uint32_t n = (uint32_t)(tu_rand(&seed) % NKEYS);
		char key[32];
		size_t kl = tu_key(key, "k", n);
		void *v;
		size_t vl;
		int rc = wb_get(a->db, key, kl, &v, &vl);
		if (rc == WB_OK) {
			check_value(v, vl, n);
			wb_free(v);
		} else {
			assert_int_equal(rc, WB_ENOTFOUND);
		}
		a->reads++;
	}
	return NULL;
}

/* The n of an iterator's key "k<8 digits>". The key is copied and
 * terminated first: strtoul on the iterator's memory would read on past
 * the key's 9 bytes, and a digit there makes it another number. */
static uint32_t key_number(const void *k, size_t kl)
{
	char buf[16];
	assert_true(kl == 9 && ((const char *)k)[0] == 'k');
	memcpy(buf, k, kl);
	buf[kl] = '\0';
	return (uint32_t)strtoul(buf + 1, NULL, 10);
}

/* Scans it from the start and asserts it shows exactly rounds[] (0 = absent). */
static void expect_scan(wb_iter *it, const uint32_t *rounds, const char *when)
{
	uint32_t expect = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
		size_t kl, vl;
		const void *k = wb_iter_key(it, &kl);
		const void *v = wb_iter_value(it, &vl);
		uint32_t n = key_number(k, kl);
		for (; expect < n; expect++) /* keys the scan skipped must be absent */
			if (rounds[expect] != 0)
				fail_msg("%s: the scan skipped k%u, written at op %u", when, expect, rounds[expect]);
		assert_int_equal(check_value(v, vl, n), rounds[n]);
		expect = n + 1;
	}
	assert_int_equal(wb_iter_status(it), WB_OK);
	for (; expect < NKEYS; expect++)
		if (rounds[expect] != 0)
			fail_msg("%s: the scan ended before k%u, written at op %u", when, expect, rounds[expect]);
}

static void test_churn(void **state)
{
	(void)state;
	char dir[96];
	tu_mkdtemp(dir, "churn");
	wb_options o = churn_options();
	wb_db *db = tu_open(dir, &o);
	uint32_t *rounds = calloc(NKEYS, sizeof(uint32_t));
	uint32_t *snap = calloc(NKEYS, sizeof(uint32_t));
	assert_non_null(rounds);
	assert_non_null(snap);

	reader_arg_t ra[2] = { { .db = db, .id = 0 }, { .db = db, .id = 1 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &ra[i]), 0);

	const uint32_t ops = 2000000;
	uint64_t seed = tu_seed(42);
	wb_iter *it = NULL;
	char key[32], val[128];
	for (uint32_t op = 1; op <= ops; op++) {
		if (op == ops / 4) {
			/* An iterator opened here must keep showing this moment. */
			assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
			memcpy(snap, rounds, NKEYS * sizeof(uint32_t));
		}
		uint32_t n = (uint32_t)(tu_rand(&seed) % NKEYS);
		size_t kl = tu_key(key, "k", n);
		if (tu_rand(&seed) % 5 == 0) {
			assert_int_equal(wb_delete(db, key, kl), WB_OK);
			rounds[n] = 0;
		} else {
			size_t vl = make_value(val, n, op);
			assert_int_equal(wb_put(db, key, kl, val, vl), WB_OK);
			rounds[n] = op;
		}
	}
	for (int i = 0; i < 2; i++) {
		atomic_store(&ra[i].stop, 1);
		pthread_join(th[i], NULL);
	}
	assert_true(ra[0].reads > 0 && ra[1].reads > 0);
	assert_true(deep_files(db) > 0); /* compaction did run */

	expect_scan(it, snap, "iterator opened at op 500000");
	wb_iter_free(it);
	for (uint32_t n = 0; n < NKEYS; n++) {
		size_t kl = tu_key(key, "k", n);
		void *v;
		size_t vl;
		int rc = wb_get(db, key, kl, &v, &vl);
		if (rounds[n] == 0) {
			assert_int_equal(rc, WB_ENOTFOUND);
			continue;
		}
		assert_int_equal(rc, WB_OK);
		assert_int_equal(check_value(v, vl, n), rounds[n]);
		wb_free(v);
	}
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	expect_scan(it, rounds, "after the churn");
	wb_iter_free(it);
	assert_int_equal(wb_close(db), WB_OK);

	/* And the same after a reopen. */
	db = tu_open(dir, &o);
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	expect_scan(it, rounds, "after a reopen");
	wb_iter_free(it);
	assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	free(rounds);
	free(snap);
	tu_rmtree(dir);
}

static uint64_t sst_bytes(const char *dir)
{
	int n;
	char **names = tu_list(dir, &n);
	uint64_t sum = 0;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		if (len > 4 && strcmp(names[i] + len - 4, ".sst") == 0) {
			char path[4096];
			sum += (uint64_t)tu_file_size(tu_path(path, dir, names[i]));
		}
	}
	tu_free_names(names, n);
	return sum;
}

static void test_space_after_overwrites(void **state)
{
	(void)state;
	char dir[96];
	tu_mkdtemp(dir, "space");
	wb_options o = churn_options();
	wb_db *db = tu_open(dir, &o);
	char key[32], val[128];
	uint64_t live = 0;
	for (uint32_t round = 1; round <= 10; round++) {
		for (uint32_t n = 0; n < NKEYS; n++) {
			size_t kl = tu_key(key, "k", n);
			size_t vl = make_value(val, n, round);
			assert_int_equal(wb_put(db, key, kl, val, vl), WB_OK);
			if (round == 10)
				live += kl + vl;
		}
	}
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	uint64_t disk = sst_bytes(dir);
	print_message("live %llu bytes, tables %llu bytes (%.2fx)\n", (unsigned long long)live,
		      (unsigned long long)disk, (double)disk / (double)live);
	assert_true(disk <= live * 13 / 10);
	for (uint32_t n = 0; n < NKEYS; n += 997) {
		size_t kl = tu_key(key, "k", n);
		size_t vl = make_value(val, n, 10);
		tu_expect(db, key, kl, val, vl);
	}
	assert_int_equal(wb_close(db), WB_OK);
	tu_rmtree(dir);
}

static void test_deleted_keys_stay_deleted(void **state)
{
	(void)state;
	char dir[96];
	tu_mkdtemp(dir, "deleted");
	wb_options o = churn_options();
	wb_db *db = tu_open(dir, &o);
	char key[32], val[128];
	const uint32_t n_keys = 50000;
	for (uint32_t n = 0; n < n_keys; n++)
		tu_putn(db, key, tu_key(key, "k", n), val, make_value(val, n, 1));
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK); /* old versions deep down */
	for (uint32_t n = 0; n < n_keys; n += 2)
		assert_int_equal(wb_delete(db, key, tu_key(key, "k", n)), WB_OK);
	assert_int_equal(wb_flush(db), WB_OK);
	/* Other writes push the tombstones through L0 -> L1 on their own. */
	for (uint32_t n = n_keys; n < 3 * n_keys; n++)
		tu_putn(db, key, tu_key(key, "k", n), val, make_value(val, n, 2));
	assert_int_equal(wb_flush(db), WB_OK);
	for (uint32_t n = 0; n < n_keys; n++) {
		size_t kl = tu_key(key, "k", n);
		if (n % 2 == 0)
			tu_expect_missing(db, key, kl);
		else
			tu_expect(db, key, kl, val, make_value(val, n, 1));
	}
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, &(wb_iter_options){ .upper = "k00050000", .upper_len = 9 },
				     &it), WB_OK);
	uint32_t seen = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
		size_t kl;
		const void *k = wb_iter_key(it, &kl);
		assert_int_equal(key_number(k, kl) % 2, 1);
		seen++;
	}
	assert_int_equal(seen, n_keys / 2);
	wb_iter_free(it);
	for (uint32_t n = 0; n < n_keys; n += 2)
		tu_expect_missing(db, key, tu_key(key, "k", n));
	assert_int_equal(wb_close(db), WB_OK);
	tu_rmtree(dir);
}

static void test_crash_during_compaction(void **state)
{
	(void)state;
	char key[32], val[128];
	const uint32_t n_keys = 60000;
	int kills = 0;
	for (int trial = 0; trial < 6; trial++) {
		char dir[96];
		tu_mkdtemp(dir, "compcrash");
		fault_env_t *fe = fault_env_new(NULL);
		wb_options o = churn_options();
		o.env = fault_env_get(fe);
		o.l0_compaction_trigger = o.l0_slowdown_trigger = o.l0_stop_trigger = 1000; /* only when asked */
		wb_db *db = tu_open(dir, &o);
		for (uint32_t round = 1; round <= 3; round++) {
			for (uint32_t n = 0; n < n_keys; n++)
				tu_putn(db, key, tu_key(key, "k", n), val, make_value(val, n, round));
			assert_int_equal(wb_flush(db), WB_OK); /* durable in tables */
		}
		struct fault_env_counts c;
		fault_env_counts(fe, &c);
		/* Kill somewhere inside the compaction's writes. */
		fault_env_kill_after_bytes(fe, (uint64_t)(trial + 1) * (800u << 10));
		int rc = wb_compact_range(db, NULL, 0, NULL, 0);
		bool killed = fault_env_killed(fe);
		assert_true(rc == WB_OK || killed);
		kills += killed;
		wb_close(db);
		fault_env_power_loss(fe);
		o.env = NULL;
		db = tu_open(dir, &o);
		for (uint32_t n = 0; n < n_keys; n += 7)
			tu_expect(db, key, tu_key(key, "k", n), val, make_value(val, n, 3));
		assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
		tu_expect_clean_dir(db, dir);
		assert_int_equal(wb_close(db), WB_OK);
		fault_env_free(fe);
		tu_rmtree(dir);
	}
	assert_true(kills >= 4); /* the kill points did land inside compactions */
}

/* Writers outrunning compaction are slowed, then held, never failed. */
static void test_write_stalls(void **state)
{
	(void)state;
	char dir[96];
	tu_mkdtemp(dir, "stalls");
	wb_options o = churn_options();
	o.memtable_size = 256u << 10;
	o.l0_compaction_trigger = 2;
	o.l0_slowdown_trigger = 3;
	o.l0_stop_trigger = 4;
	o.compaction_rate_limit = 4u << 20; /* keep compaction behind the writers */
	wb_db *db = tu_open(dir, &o);
	char key[32], val[128];
	/* In a scattered order, so every table overlaps the others and L0 can
	 * only be emptied by merging (sequential tables would just move). */
	for (uint32_t i = 0; i < 60000; i++) {
		uint32_t n = (uint32_t)((i * 7919ull) % 60000);
		assert_int_equal(wb_put(db, key, tu_key(key, "k", n), val, make_value(val, n, 1)),
				 WB_OK);
	}
	char *json;
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	uint64_t stalls = json_number(json, "\"stalls\":");
	wb_free(json);
	assert_true(stalls > 0);
	for (uint32_t n = 0; n < 60000; n += 101)
		tu_expect(db, key, tu_key(key, "k", n), val, make_value(val, n, 1));
	assert_int_equal(wb_close(db), WB_OK);
	tu_rmtree(dir);
}

/* wb_compact_range on a thread of its own, so the test can move the clock
 * its rate limit sleeps on. */
struct range_compaction {
	wb_db *db;
	int rc;
	atomic_bool done;
};

static void *compact_range_main(void *arg)
{
	struct range_compaction *c = arg;
	c->rc = wb_compact_range(c->db, NULL, 0, NULL, 0);
	atomic_store(&c->done, true);
	return NULL;
}

/* The rate limit paces compaction: writing B bytes at R bytes/s takes
 * B/R of the env's clock, less the one second of burst the bucket starts
 * with (and at most the last MiB, which a compaction writes unpaced), and
 * no more. On a test clock, which only the compaction's sleeps wait on (no
 * background compaction, no reclaim thread, sync none): the test moves it
 * 10 ms whenever the compaction sleeps, so the time it took is the pacing
 * alone, to a few steps, whatever the machine's speed. */
static void test_rate_limit(void **state)
{
	(void)state;
	char dir[96];
	tu_mkdtemp(dir, "ratelimit");
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	wb_options o = churn_options();
	o.env = &env;
	o.compaction_threads = 0;
	o.vlog_gc_interval_ms = 0;
	o.compaction_rate_limit = 8u << 20;
	o.l0_compaction_trigger = o.l0_slowdown_trigger = o.l0_stop_trigger = 1000;
	wb_db *db = tu_open(dir, &o);
	char key[32], val[128];
	for (uint32_t round = 1; round <= 2; round++) {
		for (uint32_t n = 0; n < 150000; n++)
			tu_putn(db, key, tu_key(key, "k", n), val, make_value(val, n, round));
		assert_int_equal(wb_flush(db), WB_OK);
	}
	uint64_t t0 = test_clock_now(tc);
	struct range_compaction c = { .db = db };
	atomic_init(&c.done, false);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, compact_range_main, &c), 0);
	while (!atomic_load(&c.done))
		if (test_clock_wait_idle(tc, 1, 20))
			test_clock_advance(tc, 10 * 1000);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(c.rc, WB_OK);
	double secs = (double)(test_clock_now(tc) - t0) / 1e6;
	char *json;
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	uint64_t written = json_number(json, "\"compaction_bytes_written\":");
	wb_free(json);
	double paced = (double)written / (double)o.compaction_rate_limit;
	double floor = paced - 1.0 - (double)(1u << 20) / (double)o.compaction_rate_limit;
	double ceiling = paced - 1.0 + 0.05; /* five steps of the clock */
	print_message("compaction wrote %llu bytes in %.2fs of its clock (floor %.2fs, ceiling %.2fs)\n",
		      (unsigned long long)written, secs, floor, ceiling);
	assert_true(written > (8u << 20));
	assert_true(secs >= floor);
	assert_true(secs <= ceiling);
	assert_int_equal(wb_close(db), WB_OK);
	test_clock_free(tc);
	tu_rmtree(dir);
}

/* Versions that point into the value log and that compaction drops are
 * counted per segment, in the statistics and across a reopen. (Pointers
 * are written through the internal batch API: the value log that makes
 * them is a later module.) */
static void test_vlog_discard_counts(void **state)
{
	(void)state;
	char dir[96];
	tu_mkdtemp(dir, "discard");
	wb_options o = churn_options();
	wb_db *db = tu_open(dir, &o);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	char key[32];
	uint64_t expect = 0;
	for (uint32_t n = 0; n < 1000; n++) {
		uint8_t ptr[VPTR_MAX_LEN];
		vptr_t p = { .segment = 77, .offset = n * 5000ull, .length = 4000 + n };
		size_t len = vptr_encode(ptr, &p);
		assert_int_equal(batch_add(b, META_VALUE_PTR, KS_USER, slice_make(key, tu_key(key, "p", n)),
					   slice_make(ptr, len)),
				 WB_OK);
		if (n % 2 == 0)
			expect += p.length; /* these get overwritten below */
	}
	assert_int_equal(wb_write(db, b), WB_OK);
	wb_batch_free(b);
	assert_int_equal(wb_flush(db), WB_OK);
	for (uint32_t n = 0; n < 1000; n += 2)
		tu_put(db, (tu_key(key, "p", n), key), "small");
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);

	char want[96];
	snprintf(want, sizeof(want), "\"vlog_discards\":[{\"segment\":77,\"bytes\":%llu}]",
		 (unsigned long long)expect);
	for (int round = 0; round < 2; round++) {
		char *json;
		assert_int_equal(wb_stats_json(db, &json), WB_OK);
		if (strstr(json, want) == NULL)
			fail_msg("expected %s in %s", want, json);
		wb_free(json);
		assert_int_equal(wb_close(db), WB_OK);
		db = tu_open(dir, &o); /* kept in the MANIFEST */
	}
	tu_expect_str(db, "p00000000", "small");
	assert_int_equal(wb_close(db), WB_OK);
	tu_rmtree(dir);
}

/* Compacting a narrow range must not move a newer L0 table below an older
 * one that overlaps it (L0 tables overlap each other), and deletions must
 * survive it. */
static void test_range_compaction_keeps_newest(void **state)
{
	(void)state;
	char dir[96];
	tu_mkdtemp(dir, "range");
	wb_options o = tu_options(1u << 20);
	wb_db *db = tu_open(dir, &o);
	tu_put(db, "p", "old");
	tu_put(db, "q", "old");
	assert_int_equal(wb_flush(db), WB_OK); /* older table: [p, q] */
	tu_put(db, "a", "1");
	tu_put(db, "p", "new");
	assert_int_equal(wb_delete(db, "q", 1), WB_OK);
	tu_put(db, "z", "1");
	assert_int_equal(wb_flush(db), WB_OK); /* newer table: [a, z] */
	assert_int_equal(wb_compact_range(db, "m", 1, "n", 1), WB_OK);
	for (int round = 0; round < 2; round++) {
		tu_expect_str(db, "p", "new");
		tu_expect_missing(db, "q", 1);
		assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
		tu_expect_str(db, "p", "new");
		tu_expect_missing(db, "q", 1);
		assert_int_equal(wb_close(db), WB_OK);
		db = tu_open(dir, &o);
	}
	assert_int_equal(wb_close(db), WB_OK);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_space_after_overwrites),
		cmocka_unit_test(test_deleted_keys_stay_deleted),
		cmocka_unit_test(test_crash_during_compaction),
		cmocka_unit_test(test_write_stalls),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_vlog_discard_counts),
		cmocka_unit_test(test_range_compaction_keeps_newest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
