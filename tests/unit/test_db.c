/*
 * test_db.c -- the database through its public API (wombat.h): put, get,
 * delete and overwrite; atomic batches where the later of two writes to a
 * key wins; wb_stat_key timestamps against the wall clock; wb_get_range at
 * every edge; iterators (both directions, seek, seek_for_prev, prefixes,
 * bounds, direction changes, deletions hidden) checked against an in-memory
 * sorted model after thousands of random operations spread over the
 * memtable and several flushed tables; snapshot isolation of an iterator;
 * writers and readers on several threads; bad input and limits; the ways
 * wb_open can refuse (busy, missing, existing, read-only); statistics;
 * the metadata keyspace kept apart from user keys; the NUL after every key
 * and value handed out, from each place a value can come from.
 *
 * Every test gets a fresh directory under /tmp from its setup, removed by
 * the teardown. The databases use sync=none and small memtables so that
 * flushes happen within the test's few thousand writes.
 */
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_clock.h"
#include "testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_mkdtemp(dir, "db");
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(dir);
	return 0;
}

static void test_put_get_delete(void **state)
{
	wb_options o = tu_options(1 << 20);
	wb_db *db = tu_open(dir, &o);
	tu_expect_missing(db, "a", 1);
	tu_put(db, "a", "1");
	tu_put(db, "b", "2");
	tu_expect_str(db, "a", "1");
	tu_put(db, "a", "one");
	tu_expect_str(db, "a", "one");
	assert_int_equal(wb_delete(db, "a", 1), WB_OK);
	tu_expect_missing(db, "a", 1);
	assert_int_equal(wb_delete(db, "never", 5), WB_OK); /* deleting nothing is fine */
	tu_putn(db, "empty", 5, "", 0);                      /* a 0-byte value */
	void *v = NULL;
	size_t vl = 99;
	assert_int_equal(wb_get(db, "empty", 5, &v, &vl), WB_OK);
	assert_non_null(v);
	assert_int_equal(vl, 0);
	wb_free(v);

	/* The same answers from a table, and after a reopen (from the WAL). */
	assert_int_equal(wb_flush(db), WB_OK);
	tu_expect_missing(db, "a", 1);
	tu_expect_str(db, "b", "2");
	tu_put(db, "a", "again");
	tu_put(db, "c", "3");
	assert_int_equal(wb_delete(db, "b", 1), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	tu_expect_str(db, "a", "again");
	tu_expect_missing(db, "b", 1);
	tu_expect_str(db, "c", "3");
	tu_expect(db, "empty", 5, "", 0);
	assert_int_equal(wb_close(db), WB_OK);
}

static void test_batch(void **state)
{
	wb_options o = tu_options(1 << 20);
	wb_db *db = tu_open(dir, &o);
	tu_put(db, "gone", "x");
	tu_put(db, "back", "x");
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_count(b), 0);
	assert_int_equal(wb_write(db, b), WB_OK); /* an empty batch is fine */
	assert_int_equal(wb_batch_put(b, "k", 1, "first", 5), WB_OK);
	assert_int_equal(wb_batch_put(b, "other", 5, "o", 1), WB_OK);
	assert_int_equal(wb_batch_put(b, "k", 1, "second", 6), WB_OK);
	assert_int_equal(wb_batch_put(b, "tmp", 3, "t", 1), WB_OK);
	assert_int_equal(wb_batch_delete(b, "tmp", 3), WB_OK);
	assert_int_equal(wb_batch_delete(b, "gone", 4), WB_OK);
	assert_int_equal(wb_batch_delete(b, "back", 4), WB_OK);
	assert_int_equal(wb_batch_put(b, "back", 4, "returned", 8), WB_OK);
	assert_int_equal(wb_batch_count(b), 8);
	/* Nothing is visible before the write. */
	tu_expect_missing(db, "k", 1);
	assert_int_equal(wb_write(db, b), WB_OK);
	for (int round = 0; round < 3; round++) {
		tu_expect_str(db, "k", "second");
		tu_expect_str(db, "other", "o");
		tu_expect_missing(db, "tmp", 3);
		tu_expect_missing(db, "gone", 4);
		tu_expect_str(db, "back", "returned");
		wb_key_info a, c;
		assert_int_equal(wb_stat_key(db, "k", 1, &a), WB_OK);
		assert_int_equal(wb_stat_key(db, "other", 5, &c), WB_OK);
		assert_true(a.ts == c.ts); /* one commit timestamp per batch */
		assert_int_equal(a.value_len, 6);
		if (round == 0)
			assert_int_equal(wb_flush(db), WB_OK);
		if (round == 1) {
			assert_int_equal(wb_close(db), WB_OK);
			db = tu_open(dir, &o);
		}
	}
	/* The batch is unchanged and can be applied again, or cleared. */
	assert_int_equal(wb_batch_count(b), 8);
	wb_batch_clear(b);
	assert_int_equal(wb_batch_count(b), 0);
	assert_int_equal(wb_batch_put(b, "k", 1, "third", 5), WB_OK);
	assert_int_equal(wb_write(db, b), WB_OK);
	tu_expect_str(db, "k", "third");
	wb_batch_free(b);
	wb_batch_free(NULL);
	assert_int_equal(wb_close(db), WB_OK);
}

static void test_stat_key(void **state)
{
	/* On a test clock, so the stamp's wall clock is known exactly. */
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	wb_options o = tu_options(1 << 20);
	o.env = &env;
	wb_db *db = tu_open(dir, &o);
	wb_key_info info = { 0 };
	assert_int_equal(wb_stat_key(db, "s", 1, &info), WB_ENOTFOUND);
	uint64_t prev = 0;
	char val[3000];
	for (int i = 0; i < 200; i++) {
		size_t len = (size_t)(i * 13) % sizeof(val);
		memset(val, 'v', len);
		test_clock_advance(tc, 1000 + (uint64_t)i * 7000);
		tu_putn(db, "s", 1, val, len);
		assert_int_equal(wb_stat_key(db, "s", 1, &info), WB_OK);
		assert_int_equal(info.value_len, len);
		assert_true(info.ts > prev);
		prev = info.ts;
		/* the high bits are the wall clock in ms when it was written */
		assert_int_equal(info.ts >> 16, test_clock_wall(tc) / 1000);
		if (i == 100)
			assert_int_equal(wb_flush(db), WB_OK);
	}
	assert_int_equal(wb_flush(db), WB_OK);
	wb_key_info again;
	assert_int_equal(wb_stat_key(db, "s", 1, &again), WB_OK); /* from a table */
	assert_int_equal(again.ts, info.ts);
	assert_int_equal(again.value_len, info.value_len);
	assert_int_equal(wb_delete(db, "s", 1), WB_OK);
	assert_int_equal(wb_stat_key(db, "s", 1, &info), WB_ENOTFOUND);
	assert_int_equal(wb_close(db), WB_OK);
	test_clock_free(tc);
}

static void expect_range(wb_db *db, const char *key, uint64_t off, size_t len, const char *want,
			 size_t want_len)
{
	char buf[64];
	memset(buf, '#', sizeof(buf));
	size_t n = 12345;
	assert_int_equal(wb_get_range(db, key, strlen(key), off, buf, len, &n), WB_OK);
	assert_int_equal(n, want_len);
	assert_memory_equal(buf, want, want_len);
	assert_true(want_len == sizeof(buf) || buf[want_len] == '#'); /* nothing written past */
}

static void test_get_range(void **state)
{
	wb_options o = tu_options(1 << 20);
	wb_db *db = tu_open(dir, &o);
	const char *v = "0123456789abcdefghij"; /* 20 bytes */
	tu_put(db, "r", v);
	for (int round = 0; round < 2; round++) {
		expect_range(db, "r", 0, 5, "01234", 5);
		expect_range(db, "r", 0, 20, v, 20);
		expect_range(db, "r", 7, 3, "789", 3);
		expect_range(db, "r", 15, 5, "fghij", 5);
		expect_range(db, "r", 15, 40, "fghij", 5); /* longer than the rest */
		expect_range(db, "r", 19, 1, "j", 1);
		expect_range(db, "r", 20, 4, "", 0); /* at the end */
		expect_range(db, "r", 21, 4, "", 0); /* past it */
		expect_range(db, "r", UINT64_MAX, 4, "", 0);
		expect_range(db, "r", 3, 0, "", 0);
		char buf[8];
		size_t n = 7;
		assert_int_equal(wb_get_range(db, "nope", 4, 0, buf, 8, &n), WB_ENOTFOUND);
		assert_int_equal(n, 0);
		assert_int_equal(wb_flush(db), WB_OK); /* again, from a table */
	}
	tu_putn(db, "z", 1, "", 0);
	expect_range(db, "z", 0, 10, "", 0);
	assert_int_equal(wb_close(db), WB_OK);
}

/* ---- iterators against the model ---- */

static void check_all(wb_db *db, const tu_model_t *m, uint64_t *rs)
{
	static const wb_iter_options cases[] = {
		{ 0 },
		{ .prefix = "a", .prefix_len = 1 },
		{ .prefix = "b\xff", .prefix_len = 2 },
		{ .prefix = "\xff\xff", .prefix_len = 2 },
		{ .prefix = "cab", .prefix_len = 3 },
		{ .lower = "ab", .lower_len = 2 },
		{ .upper = "bc", .upper_len = 2 },
		{ .lower = "b", .lower_len = 1, .upper = "c\xff", .upper_len = 2 },
		{ .lower = "c", .lower_len = 1, .upper = "b", .upper_len = 1 }, /* empty range */
		{ .prefix = "b", .prefix_len = 1, .lower = "bb", .lower_len = 2,
		  .upper = "bc", .upper_len = 2 },
		{ .prefix = "a", .prefix_len = 1, .upper = "aa", .upper_len = 2 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		tu_check_iter(db, m, &cases[c], rs);
	/* and every point read */
	for (int i = 0; i < 400; i++) {
		char k[8];
		size_t kl = tu_random_key(rs, k);
		const tu_kv_t *e = tu_model_get(m, k, kl);
		if (e)
			tu_expect(db, k, kl, e->v, e->vl);
		else
			tu_expect_missing(db, k, kl);
	}
}

static void random_ops(wb_db *db, tu_model_t *m, uint64_t *rs, int nops, int op0)
{
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	for (int op = op0; op < op0 + nops; op++) {
		char k[8], v[64];
		size_t kl = tu_random_key(rs, k);
		size_t vl = tu_value(v, 8 + tu_rand(rs) % 50, (uint64_t)op, 0);
		unsigned r = (unsigned)(tu_rand(rs) % 20);
		if (r < 11) {
			tu_putn(db, k, kl, v, vl);
			tu_model_put(m, k, kl, v, vl);
		} else if (r < 17) {
			assert_int_equal(wb_delete(db, k, kl), WB_OK);
			tu_model_del(m, k, kl);
		} else {
			wb_batch_clear(b);
			int nb = 1 + (int)(tu_rand(rs) % 6);
			for (int j = 0; j < nb; j++) {
				kl = tu_random_key(rs, k);
				if (tu_rand(rs) % 3 == 0) {
					assert_int_equal(wb_batch_delete(b, k, kl), WB_OK);
					tu_model_del(m, k, kl);
				} else {
					vl = tu_value(v, 8 + tu_rand(rs) % 50, (uint64_t)op,
						      (uint64_t)j);
					assert_int_equal(wb_batch_put(b, k, kl, v, vl), WB_OK);
					tu_model_put(m, k, kl, v, vl);
				}
			}
			assert_int_equal(wb_write(db, b), WB_OK);
		}
	}
	wb_batch_free(b);
}

static void test_iter_model(void **state)
{
	wb_options o = tu_options(8192); /* freezes every hundred writes or so */
	o.block_size = 256;
	wb_db *db = tu_open(dir, &o);
	tu_model_t m = { 0 };
	uint64_t rs = tu_seed(42);

	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	wb_iter_seek_first(it);
	assert_false(wb_iter_valid(it));
	assert_int_equal(wb_iter_status(it), WB_OK);
	wb_iter_free(it);

	int op = 0;
	for (int phase = 0; phase < 5; phase++) {
		random_ops(db, &m, &rs, 700, op);
		op += 700;
		check_all(db, &m, &rs);
		if (phase % 2 == 0) {
			assert_int_equal(wb_flush(db), WB_OK);
			check_all(db, &m, &rs);
		}
	}
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	check_all(db, &m, &rs);
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
}

static void test_iter_snapshot(void **state)
{
	wb_options o = tu_options(64 << 10);
	wb_db *db = tu_open(dir, &o);
	tu_model_t m = { 0 };
	char k[32], v[64];
	for (uint64_t i = 0; i < 3000; i++) {
		size_t kl = tu_key(k, "snap/", i * 7 % 3000);
		size_t vl = tu_value(v, 20 + i % 30, i, 0);
		tu_putn(db, k, kl, v, vl);
		tu_model_put(&m, k, kl, v, vl);
		if (i == 1500)
			assert_int_equal(wb_flush(db), WB_OK);
	}
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);

	uint64_t rs = tu_seed(7);
	for (uint64_t i = 0; i < 10000; i++) {
		size_t kl = tu_key(k, "snap/", tu_rand(&rs) % 4000);
		if (i % 3 == 0) {
			assert_int_equal(wb_delete(db, k, kl), WB_OK);
		} else {
			size_t vl = tu_value(v, 25, i, 1);
			tu_putn(db, k, kl, v, vl);
		}
	}
	tu_put(db, "a-before-everything", "new");
	tu_put(db, "zzz-after-everything", "new");
	assert_int_equal(wb_flush(db), WB_OK);

	/* the old state, exactly, in both directions */
	size_t i = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
		size_t kl, vl;
		const void *key = wb_iter_key(it, &kl), *val = wb_iter_value(it, &vl);
		assert_true(i < m.n);
		assert_int_equal(tu_keycmp(key, kl, m.e[i].k, m.e[i].kl), 0);
		assert_int_equal(vl, m.e[i].vl);
		assert_memory_equal(val, m.e[i].v, vl);
		i++;
	}
	assert_int_equal(wb_iter_status(it), WB_OK);
	assert_int_equal(i, m.n);
	for (wb_iter_seek_last(it); wb_iter_valid(it); wb_iter_prev(it)) {
		size_t kl;
		const void *key = wb_iter_key(it, &kl);
		assert_true(i > 0);
		i--;
		assert_int_equal(tu_keycmp(key, kl, m.e[i].k, m.e[i].kl), 0);
	}
	assert_int_equal(i, 0);
	wb_iter_seek(it, "snap/00003500", 13);
	assert_false(wb_iter_valid(it)); /* written afterwards: not seen */
	wb_iter_free(it);
	tu_expect_str(db, "zzz-after-everything", "new");
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
}

/* ---- threads ---- */

#define WRITERS 4
#define KEYS_PER_WRITER 300

struct shared {
	wb_db *db;
	_Atomic int stop;
	_Atomic int errors;
	_Atomic uint64_t done[WRITERS + 2]; /* each thread's rounds (writers) or scans (readers) */
	uint64_t last[WRITERS][KEYS_PER_WRITER]; /* round last written, +1; 0 = deleted/none */
};

struct targ {
	struct shared *s;
	int id;
};

static void *writer(void *arg)
{
	struct targ *t = arg;
	struct shared *s = t->s;
	uint64_t rs = tu_seed((uint64_t)t->id + 100);
	char k[32], v[128];
	wb_batch *b;
	if (wb_batch_new(&b) != WB_OK)
		return NULL;
	for (uint64_t round = 1; !s->stop; round++) {
		atomic_store(&s->done[t->id], round - 1);
		char prefix[16];
		snprintf(prefix, sizeof(prefix), "w%d/", t->id);
		uint64_t n = tu_rand(&rs) % KEYS_PER_WRITER;
		size_t kl = tu_key(k, prefix, n);
		int r = (int)(round % 10);
		int rc;
		if (r == 0) {
			rc = wb_delete(s->db, k, kl);
			if (rc == WB_OK)
				s->last[t->id][n] = 0;
		} else if (r < 7) {
			size_t vl = tu_value(v, 16 + n % 100, n, round);
			rc = wb_put(s->db, k, kl, v, vl);
			if (rc == WB_OK)
				s->last[t->id][n] = round;
		} else {
			/* a batch of two keys of the same writer */
			uint64_t n2 = (n + 1) % KEYS_PER_WRITER;
			char k2[32];
			size_t k2l = tu_key(k2, prefix, n2);
			wb_batch_clear(b);
			size_t vl = tu_value(v, 16 + n % 100, n, round);
			wb_batch_put(b, k, kl, v, vl);
			vl = tu_value(v, 16 + n2 % 100, n2, round);
			wb_batch_put(b, k2, k2l, v, vl);
			rc = wb_write(s->db, b);
			if (rc == WB_OK)
				s->last[t->id][n] = s->last[t->id][n2] = round;
		}
		if (rc != WB_OK)
			s->errors++;
		if (t->id == 0 && round % 500 == 0 && wb_sync(s->db) != WB_OK)
			s->errors++;
	}
	wb_batch_free(b);
	return NULL;
}

/* A value must be the one tu_value makes for its key number (some round). */
static bool plausible(const char *key, size_t kl, const void *val, size_t vl)
{
	unsigned long long n, round;
	char v2[128];
	if (kl != 11 || sscanf(key + 3, "%8llu", &n) != 1)
		return false;
	if (vl != 16 + n % 100 || sscanf(val, "%llu.%llu.", &n, &round) != 2)
		return false;
	tu_value(v2, vl, n, round);
	return memcmp(v2, val, vl) == 0;
}

static void *reader(void *arg)
{
	struct targ *t = arg;
	struct shared *s = t->s;
	uint64_t rs = tu_seed((uint64_t)t->id + 900);
	char k[32];
	while (!s->stop) {
		char prefix[16];
		snprintf(prefix, sizeof(prefix), "w%d/", (int)(tu_rand(&rs) % WRITERS));
		size_t kl = tu_key(k, prefix, tu_rand(&rs) % KEYS_PER_WRITER);
		void *v;
		size_t vl;
		int rc = wb_get(s->db, k, kl, &v, &vl);
		if (rc == WB_OK) {
			if (!plausible(k, kl, v, vl))
				s->errors++;
			wb_free(v);
		} else if (rc != WB_ENOTFOUND) {
			s->errors++;
		}
		/* a short scan of one writer's keys, in order */
		wb_iter_options io = { .prefix = prefix, .prefix_len = 3 };
		wb_iter *it;
		if (wb_iter_new(s->db, &io, &it) != WB_OK) {
			s->errors++;
			continue;
		}
		char prev[32] = "";
		int steps = 0;
		for (wb_iter_seek(it, k, kl); wb_iter_valid(it) && steps < 50; wb_iter_next(it)) {
			size_t ikl, ivl;
			const char *ik = wb_iter_key(it, &ikl);
			const void *iv = wb_iter_value(it, &ivl);
			if (ikl >= sizeof(prev) || strncmp(ik, prefix, 3) != 0 ||
			    strncmp(prev, ik, ikl) >= 0 || !plausible(ik, ikl, iv, ivl))
				s->errors++;
			memcpy(prev, ik, ikl);
			prev[ikl] = '\0';
			steps++;
		}
		if (wb_iter_status(it) != WB_OK)
			s->errors++;
		wb_iter_free(it);
		atomic_fetch_add(&s->done[WRITERS + t->id], 1);
	}
	return NULL;
}

/* The JSON statistic after `name` (e.g. "\"wal_syncs\":"). */
static uint64_t stat_of(wb_db *db, const char *name)
{
	char *json;
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	const char *p = strstr(json, name);
	assert_non_null(p);
	uint64_t v = strtoull(p + strlen(name), NULL, 10);
	wb_free(json);
	return v;
}

/* Every thread did its share, and the log was synced a few times
 * meanwhile (by the sync thread every 5 ms, and by writer 0). */
static bool threads_done(struct shared *s)
{
	for (int i = 0; i < WRITERS + 2; i++)
		if (atomic_load(&s->done[i]) < (i < WRITERS ? 4000u : 200u))
			return false;
	return stat_of(s->db, "\"wal_syncs\":") >= 10;
}

static void test_threads(void **state)
{
	wb_options o = tu_options(64 << 10);
	o.sync = WB_SYNC_INTERVAL; /* the sync thread runs alongside the writers */
	o.sync_interval_ms = 5;
	struct shared *s = calloc(1, sizeof(*s));
	s->db = tu_open(dir, &o);
	pthread_t th[WRITERS + 2];
	struct targ args[WRITERS + 2];
	for (int i = 0; i < WRITERS + 2; i++) {
		args[i] = (struct targ){ s, i < WRITERS ? i : i - WRITERS };
		void *(*fn)(void *) = i < WRITERS ? writer : reader;
		assert_int_equal(pthread_create(&th[i], NULL, fn, &args[i]), 0);
	}
	/* Until the work is done, not for a time; a minute bounds it. */
	bool done = false;
	for (int ms = 0; ms < 60000 && !(done = threads_done(s)); ms += 10)
		usleep(10 * 1000);
	s->stop = 1;
	for (int i = 0; i < WRITERS + 2; i++)
		pthread_join(th[i], NULL);
	print_message("rounds %llu %llu %llu %llu, scans %llu %llu, log syncs %llu\n",
		      (unsigned long long)s->done[0], (unsigned long long)s->done[1],
		      (unsigned long long)s->done[2], (unsigned long long)s->done[3],
		      (unsigned long long)s->done[4], (unsigned long long)s->done[5],
		      (unsigned long long)stat_of(s->db, "\"wal_syncs\":"));
	assert_true(done);
	assert_int_equal(s->errors, 0);

	for (int pass = 0; pass < 2; pass++) {
		char k[32], v[128];
		for (int w = 0; w < WRITERS; w++) {
			char prefix[16];
			snprintf(prefix, sizeof(prefix), "w%d/", w);
			for (uint64_t n = 0; n < KEYS_PER_WRITER; n++) {
				size_t kl = tu_key(k, prefix, n);
				if (s->last[w][n] == 0) {
					tu_expect_missing(s->db, k, kl);
				} else {
					size_t vl = tu_value(v, 16 + n % 100, n, s->last[w][n]);
					tu_expect(s->db, k, kl, v, vl);
				}
			}
		}
		assert_int_equal(wb_close(s->db), WB_OK);
		s->db = tu_open(dir, &o);
	}
	assert_int_equal(wb_close(s->db), WB_OK);
	free(s);
}

/* ---- input checks and limits ---- */

static void test_bad_input(void **state)
{
	wb_options o = tu_options(1 << 20);
	wb_db *db = tu_open(dir, &o);
	void *v = NULL;
	size_t vl;
	wb_key_info info;
	char buf[4];
	assert_int_equal(wb_put(db, "", 0, "x", 1), WB_EINVAL);
	assert_int_equal(wb_delete(db, "", 0), WB_EINVAL);
	assert_int_equal(wb_get(db, "", 0, &v, &vl), WB_EINVAL);
	assert_null(v);
	assert_int_equal(wb_stat_key(db, "", 0, &info), WB_EINVAL);
	assert_int_equal(wb_get_range(db, "", 0, 0, buf, 4, &vl), WB_EINVAL);
	assert_true(strlen(wb_errmsg(db)) > 0);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_put(b, "", 0, "x", 1), WB_EINVAL);
	assert_int_equal(wb_batch_delete(b, "", 0), WB_EINVAL);
	assert_int_equal(wb_batch_count(b), 0);

	/* keys of exactly the limit work, one byte more does not */
	size_t max = WB_MAX_KEY_LEN;
	char *big = malloc(max + 1);
	for (size_t i = 0; i <= max; i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(wb_put(db, big, max + 1, "x", 1), WB_EINVAL);
	assert_int_equal(wb_get(db, big, max + 1, &v, &vl), WB_EINVAL);
	assert_int_equal(wb_delete(db, big, max + 1), WB_EINVAL);
	assert_int_equal(wb_batch_put(b, big, max + 1, "x", 1), WB_EINVAL);
	tu_putn(db, big, max, "max", 3);
	assert_int_equal(wb_batch_put(b, big, max - 1, "max-1", 5), WB_OK);
	assert_int_equal(wb_write(db, b), WB_OK);
	tu_expect(db, big, max, "max", 3);
	tu_expect(db, big, max - 1, "max-1", 5);
	assert_int_equal(wb_flush(db), WB_OK);
	tu_expect(db, big, max, "max", 3);
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	wb_iter_seek(it, big, max);
	assert_true(wb_iter_valid(it));
	size_t kl;
	const void *k = wb_iter_key(it, &kl);
	assert_int_equal(kl, max);
	assert_memory_equal(k, big, max);
	wb_iter_free(it);

	/* binary keys: NUL bytes anywhere, and keys that are prefixes of others */
	const char bin[][4] = { { 0, 0, 0, 0 }, { 'a', 0, 'b', 0 }, { 0, 'x', 0, 'y' } };
	for (int i = 0; i < 3; i++)
		for (size_t len = 1; len <= 4; len++)
			tu_putn(db, bin[i], len, &len, sizeof(len));
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 3; i++)
			for (size_t len = 1; len <= 4; len++)
				tu_expect(db, bin[i], len, &len, sizeof(len));
		tu_expect_missing(db, "a\0c", 3);
		tu_expect_missing(db, "a\0b\0\0", 5);
		assert_int_equal(wb_flush(db), WB_OK);
	}
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	wb_iter_seek_first(it);
	for (size_t len = 1; len <= 4; len++, wb_iter_next(it)) {
		k = wb_iter_key(it, &kl);
		assert_int_equal(kl, len);
		assert_memory_equal(k, "\0\0\0\0", len);
	}
	wb_iter_free(it);

	/* a 16 MiB value */
	size_t n = 16u << 20;
	uint8_t *huge = malloc(n), *got;
	for (size_t i = 0; i < n; i++)
		huge[i] = (uint8_t)(i * 2654435761u >> 13);
	tu_putn(db, "huge", 4, huge, n);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(wb_get(db, "huge", 4, (void **)&got, &vl), WB_OK);
		assert_int_equal(vl, n);
		assert_memory_equal(got, huge, n);
		wb_free(got);
		uint8_t part[100];
		size_t nr;
		assert_int_equal(wb_get_range(db, "huge", 4, n - 50, part, 100, &nr), WB_OK);
		assert_int_equal(nr, 50);
		assert_memory_equal(part, huge + n - 50, 50);
		if (round == 0)
			assert_int_equal(wb_flush(db), WB_OK);
		if (round == 1) {
			assert_int_equal(wb_close(db), WB_OK);
			db = tu_open(dir, &o);
		}
	}
	free(huge);
	free(big);
	wb_batch_free(b);
	assert_int_equal(wb_close(db), WB_OK);
	assert_int_equal(wb_close(NULL), WB_OK);
}

/* ---- opening ---- */

static void test_open_modes(void **state)
{
	wb_options o = tu_options(1 << 20);
	char path[PATH_MAX], pid[32];
	wb_db *db = tu_open(dir, &o), *db2 = (wb_db *)1;
	tu_put(db, "k", "v");

	/* a second open while the first holds it */
	assert_int_equal(wb_open(dir, &o, &db2), WB_EBUSY);
	assert_null(db2);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	assert_non_null(strstr(wb_errmsg(NULL), "in use by process"));
	assert_non_null(strstr(wb_errmsg(NULL), pid));
	wb_options ro = o;
	ro.read_only = 1;
	assert_int_equal(wb_open(dir, &ro, &db2), WB_EBUSY);
	assert_int_equal(wb_close(db), WB_OK);

	/* missing database or directory without create_if_missing */
	wb_options plain;
	wb_options_init(&plain);
	tu_path(path, dir, "missing");
	assert_int_equal(wb_open(path, &plain, &db2), WB_ENOTFOUND);
	assert_null(db2);
	assert_true(tu_file_size(path) < 0); /* and nothing created */
	tu_path(path, dir, "empty");
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(wb_open(path, &plain, &db2), WB_ENOTFOUND);
	assert_int_equal(wb_open(path, &ro, &db2), WB_ENOTFOUND);

	/* error_if_exists */
	wb_options ex = o;
	ex.error_if_exists = 1;
	assert_int_equal(wb_open(dir, &ex, &db2), WB_EEXIST);
	assert_null(db2);
	tu_path(path, dir, "fresh");
	db2 = tu_open(path, &ex);
	assert_int_equal(wb_close(db2), WB_OK);

	/* plain reopen of an existing database */
	db = tu_open(dir, &plain);
	tu_expect_str(db, "k", "v");
	tu_put(db, "k2", "v2");
	assert_int_equal(wb_flush(db), WB_OK);
	tu_put(db, "k3", "in the WAL");
	assert_int_equal(wb_close(db), WB_OK);

	/* read-only: sees everything, writes nothing */
	uint64_t before = tu_dir_digest(dir);
	db = tu_open(dir, &ro);
	tu_expect_str(db, "k", "v");
	tu_expect_str(db, "k2", "v2");
	tu_expect_str(db, "k3", "in the WAL");
	assert_int_equal(wb_put(db, "x", 1, "y", 1), WB_EREADONLY);
	assert_int_equal(wb_delete(db, "k", 1), WB_EREADONLY);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_put(b, "x", 1, "y", 1), WB_OK);
	assert_int_equal(wb_write(db, b), WB_EREADONLY);
	wb_batch_free(b);
	assert_int_equal(wb_flush(db), WB_EREADONLY);
	assert_int_equal(wb_sync(db), WB_OK);
	tu_expect_missing(db, "x", 1);
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	int count = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it))
		count++;
	assert_int_equal(count, 3);
	wb_iter_free(it);
	assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	assert_true(tu_dir_digest(dir) == before);

	/* bad options */
	wb_options bad = o;
	bad.memtable_size = 10;
	assert_int_equal(wb_open(dir, &bad, &db2), WB_EINVAL);
	bad = o;
	bad.sync = 7;
	assert_int_equal(wb_open(dir, &bad, &db2), WB_EINVAL);
	assert_null(db2);
	db = tu_open(dir, &o); /* the failed opens released the lock */
	assert_int_equal(wb_close(db), WB_OK);
}

static void test_stats(void **state)
{
	wb_options o = tu_options(1 << 20);
	wb_db *db = tu_open(dir, &o);
	for (int i = 0; i < 10; i++)
		tu_put(db, "s", "v");
	assert_int_equal(wb_delete(db, "s", 1), WB_OK);
	tu_expect_missing(db, "s", 1);
	assert_int_equal(wb_flush(db), WB_OK);
	char *text, *json;
	assert_int_equal(wb_stats_text(db, &text), WB_OK);
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	assert_non_null(strstr(text, "puts                 10\n"));
	assert_non_null(strstr(text, "deletes              1\n"));
	assert_non_null(strstr(text, "flushes              1\n"));
	assert_non_null(strstr(text, "L0         1"));
	assert_non_null(strstr(json, "\"puts\":10,"));
	assert_non_null(strstr(json, "\"deletes\":1,"));
	assert_non_null(strstr(json, "\"gets\":1,"));
	assert_non_null(strstr(json, "\"flushes\":1,"));
	assert_non_null(strstr(json, "{\"level\":0,\"files\":1,"));
	assert_true(json[0] == '{' && json[strlen(json) - 1] == '}');
	wb_free(text);
	wb_free(json);
	assert_int_equal(wb_close(db), WB_OK);
}

/* Collects the keys an iterator over keyspace ks shows, joined by ','. */
static void ks_listing(wb_db *db, unsigned ks, char *out, size_t cap)
{
	wb_iter_options io = { .keyspace = ks };
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, &io, &it), WB_OK);
	out[0] = '\0';
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
		size_t kl;
		const char *k = wb_iter_key(it, &kl);
		snprintf(out + strlen(out), cap - strlen(out), "%s%.*s", out[0] ? "," : "", (int)kl, k);
	}
	assert_int_equal(wb_iter_status(it), WB_OK);
	wb_iter_free(it);
}

/* The metadata keyspace is a separate set of keys: same names do not
 * collide, user reads and iterators never see it, one batch spans both,
 * and it survives flush, compaction and reopen. */
static void test_keyspaces(void **state)
{
	wb_options o = tu_options(1 << 20);
	wb_db *db = tu_open(dir, &o);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_put(b, "a", 1, "user-a", 6), WB_OK);
	assert_int_equal(wb_batch_put_ks(b, WB_KS_META, "a", 1, "meta-a", 6), WB_OK);
	assert_int_equal(wb_batch_put_ks(b, WB_KS_META, "m", 1, "meta-m", 6), WB_OK);
	assert_int_equal(wb_batch_put_ks(b, 7, "x", 1, "", 0), WB_EINVAL);
	assert_int_equal(wb_write(db, b), WB_OK);
	char list[256];
	for (int round = 0; round < 3; round++) {
		tu_expect_str(db, "a", "user-a");
		tu_expect_missing(db, "m", 1);
		void *v;
		size_t vl;
		assert_int_equal(wb_get_ks(db, WB_KS_META, "a", 1, &v, &vl), WB_OK);
		assert_memory_equal(v, "meta-a", 6);
		wb_free(v);
		wb_key_info ki;
		assert_int_equal(wb_stat_key_ks(db, WB_KS_META, "m", 1, &ki), WB_OK);
		assert_int_equal(ki.value_len, 6);
		assert_int_equal(wb_get_ks(db, 2, "a", 1, &v, &vl), WB_EINVAL);
		ks_listing(db, WB_KS_USER, list, sizeof(list));
		assert_string_equal(list, "a");
		ks_listing(db, WB_KS_META, list, sizeof(list));
		assert_string_equal(list, "a,m");
		if (round == 0) {
			assert_int_equal(wb_flush(db), WB_OK);
		} else if (round == 1) {
			assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
			assert_int_equal(wb_close(db), WB_OK);
			db = tu_open(dir, &o);
		}
	}
	wb_batch_clear(b);
	assert_int_equal(wb_batch_delete_ks(b, WB_KS_META, "a", 1), WB_OK);
	assert_int_equal(wb_write(db, b), WB_OK);
	tu_expect_str(db, "a", "user-a");
	ks_listing(db, WB_KS_META, list, sizeof(list));
	assert_string_equal(list, "m");
	wb_iter_options bad = { .keyspace = 9 };
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, &bad, &it), WB_EINVAL);
	wb_batch_free(b);
	assert_int_equal(wb_close(db), WB_OK);
}

/* ---- the NUL after every key and value handed out ---- */

#define NUL_KEYS 40

static void expect_nul_after(const void *p, size_t len)
{
	assert_non_null(p);
	if (((const char *)p)[len] != '\0')
		fail_msg("byte %zu after %.*s is 0x%02x, not NUL", len, (int)(len < 40 ? len : 40),
			 (const char *)p, ((const unsigned char *)p)[len]);
}

/* Key i of the NUL test: "t" then i letters, so each is longer than the
 * one before; its value (i * 7 bytes, 0 for i == 0; key 39's goes to the
 * value log), the same. */
static size_t nul_key(char *k, int i)
{
	k[0] = 't';
	memset(k + 1, 'a' + i % 26, (size_t)i);
	return (size_t)i + 1;
}

static size_t nul_value(char *v, int i)
{
	size_t len = i == NUL_KEYS - 1 ? 4000 : (size_t)i * 7;
	memset(v, 'A' + i % 26, len);
	return len;
}

static void expect_entry_terminated(wb_iter *it)
{
	size_t kl, vl;
	const void *k = wb_iter_key(it, &kl);
	const void *v = wb_iter_value(it, &vl);
	expect_nul_after(k, kl);
	expect_nul_after(v, vl);
}

/* Walks it over every key both ways, checking each key and value. */
static void expect_iter_terminated(wb_iter *it, int want)
{
	int n = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it), n++)
		expect_entry_terminated(it);
	assert_int_equal(wb_iter_status(it), WB_OK);
	for (wb_iter_seek_last(it); wb_iter_valid(it); wb_iter_prev(it), n--)
		expect_entry_terminated(it);
	assert_int_equal(wb_iter_status(it), WB_OK);
	assert_int_equal(n, 0);
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it))
		n++;
	assert_int_equal(n, want);
}

static void expect_all_terminated(wb_db *db)
{
	char k[NUL_KEYS + 1];
	void *v;
	size_t vl;
	for (int i = 0; i < NUL_KEYS; i++) {
		size_t kl = nul_key(k, i);
		assert_int_equal(wb_get(db, k, kl, &v, &vl), WB_OK);
		expect_nul_after(v, vl);
		wb_free(v);
	}
	assert_int_equal(wb_get_ks(db, WB_KS_META, "meta", 4, &v, &vl), WB_OK);
	expect_nul_after(v, vl);
	wb_free(v);
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	expect_iter_terminated(it, NUL_KEYS);
	wb_iter_free(it);

	/* A transaction: its own writes, the database's values through it,
	 * and its iterator over both. */
	wb_txn *t;
	assert_int_equal(wb_txn_begin(db, 0, &t), WB_OK);
	assert_int_equal(wb_txn_put(t, "t-own", 5, "own value", 9), WB_OK);
	assert_int_equal(wb_txn_put(t, "t-own-empty", 11, "", 0), WB_OK);
	assert_int_equal(wb_txn_get(t, "t-own", 5, &v, &vl), WB_OK);
	expect_nul_after(v, vl);
	wb_free(v);
	assert_int_equal(wb_txn_get(t, "t-own-empty", 11, &v, &vl), WB_OK);
	expect_nul_after(v, vl);
	wb_free(v);
	for (int i = 0; i < NUL_KEYS; i += 13) {
		size_t kl = nul_key(k, i);
		assert_int_equal(wb_txn_get(t, k, kl, &v, &vl), WB_OK);
		expect_nul_after(v, vl);
		wb_free(v);
	}
	assert_int_equal(wb_txn_iter_new(t, NULL, &it), WB_OK);
	expect_iter_terminated(it, NUL_KEYS + 2);
	wb_iter_free(it);
	wb_txn_abort(t);
}

/* Fresh heap memory is filled with a non-zero byte here (M_PERTURB, what
 * MALLOC_PERTURB_ does; ASan's allocator, which ignores mallopt, fills
 * with 0xbe by itself), so a missing terminator shows what the heap held
 * rather than a lucky zero. Values from the memtable, then from tables,
 * then after a reopen; one from the value log. */
static void test_handed_out_terminated(void **state)
{
	mallopt(M_PERTURB, 202);
	wb_options o = tu_options(1 << 20);
	o.value_threshold = 1024;
	wb_db *db = tu_open(dir, &o);
	char k[NUL_KEYS + 1], v[4000];
	for (int i = 0; i < NUL_KEYS; i++) {
		size_t kl = nul_key(k, i);
		tu_putn(db, k, kl, v, nul_value(v, i));
	}
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_put_ks(b, WB_KS_META, "meta", 4, "meta value", 10), WB_OK);
	assert_int_equal(wb_write(db, b), WB_OK);
	wb_batch_free(b);
	expect_all_terminated(db);
	assert_int_equal(wb_flush(db), WB_OK);
	expect_all_terminated(db);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	expect_all_terminated(db);
	assert_int_equal(wb_close(db), WB_OK);
	mallopt(M_PERTURB, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stat_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iter_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iter_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyspaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handed_out_terminated, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
