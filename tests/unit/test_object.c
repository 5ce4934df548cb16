/*
 * test_object.c -- values changed in place (wb_txn_write_at and the rest;
 * obj/object.c, docs/format.md "Objects").
 *
 *   - a small value written at offsets stays one plain value; a value past
 *     one chunk becomes an object, and every read path (wb_get,
 *     wb_get_range, wb_stat_key, iterators, transactions) gives its bytes;
 *   - a large value already in the value log becomes an object without
 *     its bytes being copied, and reads back unchanged around the write;
 *   - random writes and truncates against an in-memory model, with
 *     flushes, compactions and reopens in between, several chunk sizes;
 *   - a snapshot and a time-travel read taken before a write still read
 *     the old bytes;
 *   - links share the contents and count; unlinking the last link gives
 *     the space back (the value log reclaims it), moves copy nothing and a
 *     move between two links of one value changes nothing;
 *   - two transactions writing one object conflict;
 *   - a crash keeps each committed write whole or not at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_env.h"
#include "testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_mkdtemp(dir, "object");
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(dir);
	return 0;
}

static wb_options options(uint32_t chunk)
{
	wb_options o = tu_options(1u << 20);
	o.object_chunk_size = chunk;
	return o;
}

static void write_at(wb_db *db, const char *key, uint64_t off, const void *data, size_t len)
{
	int rc = wb_write_at(db, key, strlen(key), off, data, len);
	if (rc != WB_OK)
		fail_msg("wb_write_at %s @%llu+%zu: %s: %s", key, (unsigned long long)off, len,
			 wb_strerror(rc), wb_errmsg(db));
}

static void truncate_to(wb_db *db, const char *key, uint64_t size)
{
	int rc = wb_truncate(db, key, strlen(key), size);
	if (rc != WB_OK)
		fail_msg("wb_truncate %s %llu: %s: %s", key, (unsigned long long)size, wb_strerror(rc),
			 wb_errmsg(db));
}

static uint64_t size_of(wb_db *db, const char *key)
{
	wb_key_info ki;
	assert_int_equal(wb_stat_key(db, key, strlen(key), &ki), WB_OK);
	return ki.value_len;
}

/* key holds exactly want (len bytes), by wb_get, wb_stat_key and range reads. */
static void expect_bytes(wb_db *db, const char *key, const uint8_t *want, size_t len)
{
	tu_expect(db, key, strlen(key), want, len);
	assert_int_equal(size_of(db, key), len);
	uint8_t buf[10000];
	uint64_t st = 0x9e37 + len;
	for (int i = 0; i < 8; i++) {
		uint64_t off = len ? tu_rand(&st) % (len + 100) : 0;
		size_t n = (size_t)(tu_rand(&st) % sizeof(buf)), got = 0;
		assert_int_equal(wb_get_range(db, key, strlen(key), off, buf, n, &got), WB_OK);
		size_t exp = off >= len ? 0 : len - off < n ? (size_t)(len - off) : n;
		assert_int_equal(got, exp);
		if (exp)
			assert_memory_equal(buf, want + off, exp);
	}
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (uint8_t)(seed >> 56);
	}
}

static void test_small_stays_small(void **state)
{
	wb_options o = options(0);
	wb_db *db = tu_open(dir, &o);
	write_at(db, "f", 0, "hello", 5);
	write_at(db, "f", 10, "world", 5);
	expect_bytes(db, "f", (const uint8_t *)"hello\0\0\0\0\0world", 15);
	truncate_to(db, "f", 3);
	expect_bytes(db, "f", (const uint8_t *)"hel", 3);
	truncate_to(db, "f", 6);
	expect_bytes(db, "f", (const uint8_t *)"hel\0\0\0", 6);
	assert_int_equal(wb_truncate(db, "missing", 7, 10), WB_ENOTFOUND);
	/* wb_put still replaces it whole. */
	tu_put(db, "f", "new");
	expect_bytes(db, "f", (const uint8_t *)"new", 3);
	wb_key_info ki;
	assert_int_equal(wb_stat_key(db, "f", 1, &ki), WB_OK);
	assert_int_equal(ki.links, 1);
	assert_int_equal(wb_close(db), WB_OK);
}

/* Appends of 4 KiB to 3 MiB: an object of many chunks, read every way. */
static void test_appends(void **state)
{
	wb_options o = options(0);
	wb_db *db = tu_open(dir, &o);
	size_t total = 3u << 20, piece = 4096 + 17;
	uint8_t *want = malloc(total);
	fill(want, total, 1);
	for (size_t off = 0; off < total; off += piece)
		write_at(db, "log", off, want + off, off + piece > total ? total - off : piece);
	expect_bytes(db, "log", want, total);
	assert_int_equal(wb_flush(db), WB_OK);
	expect_bytes(db, "log", want, total);
	/* An iterator shows the key once, with the object's bytes. */
	tu_put(db, "a", "1");
	tu_put(db, "z", "2");
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	int n = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it), n++) {
		size_t kl, vl;
		const char *k = wb_iter_key(it, &kl);
		if (kl == 3 && memcmp(k, "log", 3) == 0) {
			assert_int_equal(wb_iter_value_size(it), total);
			const void *v = wb_iter_value(it, &vl);
			assert_non_null(v);
			assert_int_equal(vl, total);
			assert_memory_equal(v, want, total);
		}
	}
	assert_int_equal(wb_iter_status(it), WB_OK);
	assert_int_equal(n, 3);
	wb_iter_free(it);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	expect_bytes(db, "log", want, total);
	assert_int_equal(wb_close(db), WB_OK);
	free(want);
}

/* A value in the value log becomes an object in place: the bytes around
 * a write come from the old value (its entry moved, not copied). */
static void test_convert_large_value(void **state)
{
	wb_options o = options(0);
	wb_db *db = tu_open(dir, &o);
	size_t len = 1u << 20;
	uint8_t *want = malloc(len + 100);
	fill(want, len, 2);
	tu_putn(db, "big", 3, want, len);
	write_at(db, "big", 100000, "XYZ", 3);
	memcpy(want + 100000, "XYZ", 3);
	expect_bytes(db, "big", want, len);
	write_at(db, "big", len, "tail", 4);
	memcpy(want + len, "tail", 4);
	expect_bytes(db, "big", want, len + 4);
	truncate_to(db, "big", 5000);
	expect_bytes(db, "big", want, 5000);
	/* Cut bytes do not come back when the value grows again. */
	truncate_to(db, "big", 300000);
	memset(want + 5000, 0, 300000 - 5000);
	expect_bytes(db, "big", want, 300000);
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	expect_bytes(db, "big", want, 300000);
	assert_int_equal(wb_close(db), WB_OK);
	free(want);
}

typedef struct model {
	uint8_t *p;
	size_t len, cap;
} model_t;

static void model_write(model_t *m, uint64_t off, const uint8_t *d, size_t n)
{
	if (n == 0)
		return; /* memcpy from or to NULL is undefined even for 0 bytes */
	if (off + n > m->cap) {
		m->cap = (size_t)(off + n) * 2;
		m->p = realloc(m->p, m->cap);
	}
	if (off > m->len)
		memset(m->p + m->len, 0, (size_t)off - m->len);
	memcpy(m->p + off, d, n);
	if (off + n > m->len)
		m->len = (size_t)(off + n);
}

static void model_truncate(model_t *m, size_t size)
{
	if (size > m->cap) {
		m->cap = size * 2;
		m->p = realloc(m->p, m->cap);
	}
	if (size > m->len)
		memset(m->p + m->len, 0, size - m->len);
	m->len = size;
}

static void random_run(uint32_t chunk, uint64_t seed0, int ops)
{
	wb_options o = options(chunk);
	wb_db *db = tu_open(dir, &o);
	enum { FILES = 3 };
	model_t m[FILES] = { { 0 } };
	const char *names[FILES] = { "r/0", "r/1", "r/2" };
	uint64_t st = tu_seed(seed0);
	uint8_t *data = malloc(200000);
	/* Each starts as a plain value (one in the value log, one inline past
	 * a 4 KiB chunk, one empty), to be made an object in place. */
	size_t first[FILES] = { 150000, 3000 + chunk, 0 };
	for (int f = 0; f < FILES; f++) {
		fill(data, first[f], tu_rand(&st));
		tu_putn(db, names[f], strlen(names[f]), data, first[f]);
		model_write(&m[f], 0, data, first[f]);
	}
	for (int i = 0; i < ops; i++) {
		int f = (int)(tu_rand(&st) % FILES);
		uint64_t r = tu_rand(&st) % 100;
		size_t maxsz = 1u << 20;
		if (r < 70 || m[f].len == 0) {
			uint64_t off = tu_rand(&st) % (m[f].len + chunk * 2 + 1);
			size_t n = (size_t)(tu_rand(&st) % (tu_rand(&st) % 4 == 0 ? 200000 : 3 * chunk)) + 1;
			if (off + n > maxsz)
				off = maxsz - n;
			fill(data, n, tu_rand(&st));
			write_at(db, names[f], off, data, n);
			model_write(&m[f], off, data, n);
		} else if (r < 90) {
			size_t size = (size_t)(tu_rand(&st) % (m[f].len + chunk + 1));
			truncate_to(db, names[f], size);
			model_truncate(&m[f], size);
		} else if (r < 94) {
			assert_int_equal(wb_flush(db), WB_OK);
		} else if (r < 96) {
			assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
		} else if (r < 98) {
			assert_int_equal(wb_close(db), WB_OK);
			db = tu_open(dir, &o);
		} else {
			uint64_t reclaimed;
			assert_int_equal(wb_vlog_gc(db, &reclaimed), WB_OK);
		}
		if (i % 16 == 15 || i == ops - 1)
			for (int g = 0; g < FILES; g++)
				if (m[g].len || m[g].cap)
					expect_bytes(db, names[g], m[g].p, m[g].len);
	}
	assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	for (int g = 0; g < FILES; g++)
		free(m[g].p);
	free(data);
}

static void test_random_4k(void **state)
{
	random_run(4096, 11, 400);
}

static void test_random_64k(void **state)
{
	random_run(65536, 12, 300);
}

/* A snapshot taken before a write reads the old bytes; so does a time-
 * travel read at the old timestamp. */
static void test_old_versions(void **state)
{
	wb_options o = options(4096);
	o.retain_versions_ms = 3600 * 1000;
	wb_db *db = tu_open(dir, &o);
	size_t len = 100000;
	uint8_t *v1 = malloc(len), *v2 = malloc(len);
	fill(v1, len, 3);
	write_at(db, "f", 0, v1, len);
	wb_key_info k1;
	assert_int_equal(wb_stat_key(db, "f", 1, &k1), WB_OK);
	wb_txn *old;
	assert_int_equal(wb_txn_begin(db, WB_TXN_READONLY, &old), WB_OK);
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	memcpy(v2, v1, len);
	fill(v2 + 5000, 20000, 4);
	write_at(db, "f", 5000, v2 + 5000, 20000);
	truncate_to(db, "f", 60000);
	assert_int_equal(wb_flush(db), WB_OK);
	expect_bytes(db, "f", v2, 60000);
	void *v;
	size_t vl;
	assert_int_equal(wb_txn_get(old, "f", 1, &v, &vl), WB_OK);
	assert_int_equal(vl, len);
	assert_memory_equal(v, v1, len);
	wb_free(v);
	uint8_t buf[3000];
	size_t got;
	assert_int_equal(wb_txn_get_range(old, "f", 1, 4000, buf, sizeof(buf), &got), WB_OK);
	assert_int_equal(got, sizeof(buf));
	assert_memory_equal(buf, v1 + 4000, sizeof(buf));
	wb_txn_commit(old);
	wb_iter_seek_first(it);
	assert_true(wb_iter_valid(it));
	assert_int_equal(wb_iter_value_size(it), len);
	const void *iv = wb_iter_value(it, &vl);
	assert_int_equal(vl, len);
	assert_memory_equal(iv, v1, len);
	wb_iter_free(it);
	wb_txn *tt;
	assert_int_equal(wb_txn_begin_at(db, k1.ts, &tt), WB_OK);
	assert_int_equal(wb_txn_get(tt, "f", 1, &v, &vl), WB_OK);
	assert_int_equal(vl, len);
	assert_memory_equal(v, v1, len);
	wb_free(v);
	wb_txn_abort(tt);
	assert_int_equal(wb_close(db), WB_OK);
	free(v1);
	free(v2);
}

static wb_txn *begin(wb_db *db)
{
	wb_txn *t;
	assert_int_equal(wb_txn_begin(db, 0, &t), WB_OK);
	return t;
}

static void test_links(void **state)
{
	wb_options o = options(4096);
	wb_db *db = tu_open(dir, &o);
	tu_put(db, "a", "contents");
	wb_txn *t = begin(db);
	assert_int_equal(wb_txn_link(t, "a", 1, "b", 1), WB_OK);
	assert_int_equal(wb_txn_link(t, "a", 1, "a", 1), WB_EINVAL);
	assert_int_equal(wb_txn_link(t, "nope", 4, "c", 1), WB_ENOTFOUND);
	assert_int_equal(wb_txn_commit(t), WB_OK);
	wb_key_info ki;
	assert_int_equal(wb_stat_key(db, "b", 1, &ki), WB_OK);
	assert_int_equal(ki.links, 2);
	tu_expect_str(db, "b", "contents");
	write_at(db, "b", 0, "CON", 3);
	tu_expect_str(db, "a", "CONtents");
	/* A move between two links of one value changes nothing. */
	t = begin(db);
	assert_int_equal(wb_txn_move(t, "a", 1, "b", 1), WB_OK);
	assert_int_equal(wb_txn_commit(t), WB_OK);
	tu_expect_str(db, "a", "CONtents");
	tu_expect_str(db, "b", "CONtents");
	/* Unlinking one keeps the other. */
	t = begin(db);
	assert_int_equal(wb_txn_unlink(t, "a", 1), WB_OK);
	assert_int_equal(wb_txn_commit(t), WB_OK);
	tu_expect_missing(db, "a", 1);
	tu_expect_str(db, "b", "CONtents");
	assert_int_equal(wb_stat_key(db, "b", 1, &ki), WB_OK);
	assert_int_equal(ki.links, 1);
	/* A move onto a key releases what it held. */
	tu_put(db, "c", "other");
	t = begin(db);
	assert_int_equal(wb_txn_link(t, "b", 1, "d", 1), WB_OK);
	assert_int_equal(wb_txn_move(t, "c", 1, "b", 1), WB_OK);
	assert_int_equal(wb_txn_commit(t), WB_OK);
	tu_expect_str(db, "b", "other");
	tu_expect_missing(db, "c", 1);
	tu_expect_str(db, "d", "CONtents");
	assert_int_equal(wb_stat_key(db, "d", 1, &ki), WB_OK);
	assert_int_equal(ki.links, 1);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	tu_expect_str(db, "d", "CONtents");
	assert_int_equal(wb_close(db), WB_OK);
}

/* Unlinking the last link of a large object gives its value-log space
 * back; a rename of it copies nothing. */
static void test_unlink_reclaims(void **state)
{
	wb_options o = options(65536);
	o.vlog_segment_size = 1u << 20;
	wb_db *db = tu_open(dir, &o);
	size_t len = 8u << 20;
	uint8_t *data = malloc(len);
	fill(data, len, 5);
	for (size_t off = 0; off < len; off += 1u << 20)
		write_at(db, "huge", off, data + off, 1u << 20);
	uint64_t before = 0;
	char **names;
	int n;
	names = tu_list(dir, &n);
	char path[512];
	for (int i = 0; i < n; i++)
		if (strstr(names[i], ".vlog"))
			before += (uint64_t)tu_file_size(tu_path(path, dir, names[i]));
	tu_free_names(names, n);
	assert_true(before >= len);
	wb_txn *t = begin(db);
	assert_int_equal(wb_txn_move(t, "huge", 4, "moved", 5), WB_OK);
	assert_int_equal(wb_txn_commit(t), WB_OK);
	expect_bytes(db, "moved", data, len);
	t = begin(db);
	assert_int_equal(wb_txn_unlink(t, "moved", 5), WB_OK);
	assert_int_equal(wb_txn_commit(t), WB_OK);
	tu_expect_missing(db, "moved", 5);
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	uint64_t reclaimed = 0, more = 0;
	assert_int_equal(wb_vlog_gc(db, &reclaimed), WB_OK);
	assert_int_equal(wb_vlog_gc(db, &more), WB_OK);
	reclaimed += more;
	assert_true(reclaimed >= len / 2);
	assert_int_equal(wb_close(db), WB_OK);
	free(data);
}

/* wb_batch_unlink: the batch form the mount's namespace changes use. */
static void test_batch_unlink(void **state)
{
	wb_options o = options(4096);
	wb_db *db = tu_open(dir, &o);
	uint8_t data[50000];
	fill(data, sizeof(data), 7);
	write_at(db, "x", 0, data, sizeof(data));
	wb_txn *t = begin(db);
	assert_int_equal(wb_txn_link(t, "x", 1, "y", 1), WB_OK);
	assert_int_equal(wb_txn_commit(t), WB_OK);
	tu_put(db, "plain", "p");
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_unlink(db, b, "x", 1), WB_OK);
	assert_int_equal(wb_batch_unlink(db, b, "plain", 5), WB_OK);
	assert_int_equal(wb_batch_unlink(db, b, "none", 4), WB_OK);
	assert_int_equal(wb_write(db, b), WB_OK);
	tu_expect_missing(db, "x", 1);
	tu_expect_missing(db, "plain", 5);
	expect_bytes(db, "y", data, sizeof(data));
	wb_key_info ki;
	assert_int_equal(wb_stat_key(db, "y", 1, &ki), WB_OK);
	assert_int_equal(ki.links, 1);
	wb_batch_clear(b);
	assert_int_equal(wb_batch_unlink(db, b, "y", 1), WB_OK);
	assert_int_equal(wb_write(db, b), WB_OK);
	tu_expect_missing(db, "y", 1);
	wb_batch_free(b);
	assert_int_equal(wb_close(db), WB_OK);
}

/* wb_batch_link: a plain value (inline, then one in the value log) gets a
 * second key in a batch, with other entries beside it; writes through one
 * key read through the other; the value goes with its last key. */
static void test_batch_link(void **state)
{
	wb_options o = options(4096);
	wb_db *db = tu_open(dir, &o);
	uint8_t data[300000];
	fill(data, sizeof(data), 9);
	for (int big = 0; big < 2; big++) {
		size_t len = big ? sizeof(data) : 100;
		tu_putn(db, "src", 3, data, len);
		wb_batch *b;
		assert_int_equal(wb_batch_new(&b), WB_OK);
		assert_int_equal(wb_batch_link(db, b, "src", 3, "dst", 3), WB_OK);
		assert_int_equal(wb_batch_put(b, "beside", 6, "v", 1), WB_OK);
		assert_int_equal(wb_write(db, b), WB_OK);
		expect_bytes(db, "dst", data, len);
		wb_key_info ki;
		assert_int_equal(wb_stat_key(db, "src", 3, &ki), WB_OK);
		assert_int_equal(ki.links, 2);
		write_at(db, "dst", 10, "LINK", 4);
		uint8_t *want = malloc(len);
		memcpy(want, data, len);
		memcpy(want + 10, "LINK", 4);
		expect_bytes(db, "src", want, len);
		free(want);
		/* Errors: no such key, a key onto itself. */
		wb_batch_clear(b);
		assert_int_equal(wb_batch_link(db, b, "none", 4, "x", 1), WB_ENOTFOUND);
		assert_int_equal(wb_batch_link(db, b, "src", 3, "src", 3), WB_EINVAL);
		assert_int_equal(wb_batch_unlink(db, b, "src", 3), WB_OK);
		assert_int_equal(wb_write(db, b), WB_OK);
		assert_int_equal(wb_stat_key(db, "dst", 3, &ki), WB_OK);
		assert_int_equal(ki.links, 1);
		wb_batch_clear(b);
		assert_int_equal(wb_batch_unlink(db, b, "dst", 3), WB_OK);
		assert_int_equal(wb_write(db, b), WB_OK);
		wb_batch_free(b);
		tu_expect_missing(db, "src", 3);
		tu_expect_missing(db, "dst", 3);
	}
	assert_int_equal(wb_close(db), WB_OK);
}

static void test_conflict(void **state)
{
	wb_options o = options(4096);
	wb_db *db = tu_open(dir, &o);
	uint8_t buf[20000];
	fill(buf, sizeof(buf), 6);
	write_at(db, "f", 0, buf, sizeof(buf));
	for (unsigned flags = 0; flags <= WB_TXN_SNAPSHOT; flags += WB_TXN_SNAPSHOT) {
		wb_txn *a, *b;
		assert_int_equal(wb_txn_begin(db, flags, &a), WB_OK);
		assert_int_equal(wb_txn_begin(db, flags, &b), WB_OK);
		assert_int_equal(wb_txn_write_at(a, "f", 1, 100, "aa", 2), WB_OK);
		assert_int_equal(wb_txn_write_at(b, "f", 1, 15000, "bb", 2), WB_OK);
		/* Own writes are seen at once. */
		uint8_t got[2];
		size_t nr;
		assert_int_equal(wb_txn_get_range(a, "f", 1, 100, got, 2, &nr), WB_OK);
		assert_memory_equal(got, "aa", 2);
		assert_int_equal(wb_txn_commit(a), WB_OK);
		assert_int_equal(wb_txn_commit(b), WB_ECONFLICT);
	}
	memcpy(buf + 100, "aa", 2);
	expect_bytes(db, "f", buf, sizeof(buf));
	assert_int_equal(wb_close(db), WB_OK);
}

/* A crash after each committed write: the value is that of a whole
 * commit, never part of one. */
static void test_crash_whole_commits(void **state)
{
	fault_env_t *fe = fault_env_new(wb_env_default());
	wb_options o = options(4096);
	o.env = fault_env_get(fe);
	o.sync = WB_SYNC_ALWAYS;
	model_t m = { 0 };
	uint64_t st = tu_seed(21);
	uint8_t data[30000];
	for (int round = 0; round < 12; round++) {
		wb_db *db = tu_open(dir, &o);
		if (m.len)
			expect_bytes(db, "f", m.p, m.len);
		uint64_t off = tu_rand(&st) % (m.len + 10000);
		size_t n = (size_t)(tu_rand(&st) % sizeof(data)) + 1;
		fill(data, n, tu_rand(&st));
		wb_txn *t = begin(db);
		assert_int_equal(wb_txn_write_at(t, "f", 1, off, data, n), WB_OK);
		assert_int_equal(wb_txn_write_at(t, "f", 1, 0, "HEAD", 4), WB_OK);
		assert_int_equal(wb_txn_commit(t), WB_OK);
		model_write(&m, off, data, n);
		model_write(&m, 0, (const uint8_t *)"HEAD", 4);
		tu_crash(db, fe);
	}
	wb_db *db = tu_open(dir, &o);
	expect_bytes(db, "f", m.p, m.len);
	assert_int_equal(wb_close(db), WB_OK);
	free(m.p);
	fault_env_free(fe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_small_stays_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_convert_large_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_4k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_64k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlink_reclaims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_unlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_whole_commits, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
