/*
 * test_vlog.c -- the value log through the database (engine/src/vlog/vlog.c):
 * its reads and writes and the damage they find. Streaming, crashes and
 * recovery, and reclaim have files of their own (test_vlog_stream.c,
 * test_vlog_recovery.c, test_vlog_gc.c); the value log without a database
 * is test_vlog_module.c.
 *
 *   - round trips around value_threshold, 0-byte values, reopen, verify;
 *     a large value is written once (the WAL holds only a pointer);
 *   - wb_get_range at every edge; wb_stat_key's 64-bit length;
 *   - a damaged entry: wb_get, wb_verify, an iterator and every range read
 *     touching the damaged block say WB_ECORRUPT; a damaged length field
 *     is told from a crash's cut;
 *   - how segments are written: sealing trims the zeros a mapped segment
 *     prepared ahead; with every commit synced, the active segment goes
 *     back to appending.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "vlog_testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_mkdtemp(dir, "vlog");
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(dir);
	return 0;
}

static void test_round_trips(void **state)
{
	wb_options o = vt_options();
	wb_db *db = tu_open(dir, &o);
	size_t sizes[] = { 0, 1, 63, VT_THRESHOLD - 1, VT_THRESHOLD, VT_THRESHOLD + 1,
			   5000, 300000 };
	int ns = (int)(sizeof(sizes) / sizeof(sizes[0]));
	uint64_t big = 0;
	for (int i = 0; i < ns; i++) {
		vt_put_big(db, (uint64_t)i, sizes[i], 1);
		if (sizes[i] >= VT_THRESHOLD)
			big += sizes[i];
	}
	assert_true(tu_count_suffix(dir, ".vlog") >= 1);
	/* Written once: the log holds pointers, not the large values. */
	assert_true(vt_dir_sum(dir, ".wal", vt_last_nonzero_end) < 64 * 1024);
	assert_true(vt_dir_bytes(dir, ".vlog") >= big);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < ns; i++) {
			vt_expect_big(db, (uint64_t)i, sizes[i], 1);
			char k[32];
			size_t kl = tu_key(k, "k", (uint64_t)i);
			wb_key_info info;
			assert_int_equal(wb_stat_key(db, k, kl, &info), WB_OK);
			assert_int_equal(info.value_len, sizes[i]);
		}
		/* The iterator shows the values too. */
		wb_iter *it;
		assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
		int i = 0;
		for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it), i++) {
			size_t vl;
			const char *v = wb_iter_value(it, &vl);
			assert_non_null(v);
			assert_int_equal(vl, sizes[i]);
			char *want = malloc(vl + 1);
			tu_value(want, vl, (uint64_t)i, 1);
			assert_memory_equal(v, want, vl);
			free(want);
		}
		assert_int_equal(i, ns);
		assert_int_equal(wb_iter_status(it), WB_OK);
		wb_iter_free(it);
		assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
		/* Round 0 -> 1 replays the WAL, 1 -> 2 reads tables. */
		if (round == 1)
			assert_int_equal(wb_flush(db), WB_OK);
		assert_int_equal(wb_close(db), WB_OK);
		db = tu_open(dir, &o);
	}
	/* Deleting and overwriting work across the two forms. */
	char k[32];
	size_t kl = tu_key(k, "k", 6);
	assert_int_equal(wb_delete(db, k, kl), WB_OK);
	tu_expect_missing(db, k, kl);
	kl = tu_key(k, "k", 7);
	tu_put(db, "k00000007", "small now");
	tu_expect_str(db, "k00000007", "small now");
	assert_int_equal(wb_close(db), WB_OK);
}

static void test_range_edges(void **state)
{
	wb_options o = vt_options();
	wb_db *db = tu_open(dir, &o);
	const size_t lens[] = { 10000, 500 }; /* value log, inline */
	for (int which = 0; which < 2; which++) {
		size_t len = lens[which];
		vt_put_big(db, 100 + (uint64_t)which, len, 3);
		char *want = malloc(len);
		tu_value(want, len, 100 + (uint64_t)which, 3);
		char k[32];
		size_t kl = tu_key(k, "k", 100 + (uint64_t)which);
		struct {
			uint64_t off;
			size_t len, expect;
		} cases[] = {
			{ 0, 100, 100 },           { 0, len, len },         { 0, len + 50, len },
			{ len - 10, 100, 10 },     { len - 1, 1, 1 },       { len, 10, 0 },
			{ len + 1, 10, 0 },        { UINT64_MAX, 10, 0 },   { 1000 % len, 0, 0 },
			{ len / 2 - 7, 200, 200 }, { 4095 % len, 4097, len - 4095 % len < 4097 ? len - 4095 % len : 4097 },
		};
		char *buf = malloc(len + 100);
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			size_t got = 12345;
			memset(buf, 0xAB, len + 100);
			assert_int_equal(wb_get_range(db, k, kl, cases[c].off, buf, cases[c].len, &got), WB_OK);
			assert_int_equal(got, cases[c].expect);
			if (got > 0)
				assert_memory_equal(buf, want + cases[c].off, got);
			assert_int_equal((unsigned char)buf[got], 0xAB); /* nothing past what was read */
		}
		size_t got;
		assert_int_equal(wb_get_range(db, "nokey", 5, 0, buf, 10, &got), WB_ENOTFOUND);
		free(buf);
		free(want);
	}
	assert_int_equal(wb_close(db), WB_OK);
}

/* A flipped bit in an entry's length fields makes the entry look like one
 * a crash cut short, which would hide every entry after it from the walk;
 * far from the end of the segment, the walk tells them apart. */
static void test_damaged_length_detected(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 64 << 20;
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 1200; i++)
		vt_put_big(db, i, 8000, 1);
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	char name[256], p[PATH_MAX];
	assert_true(tu_find_suffix(dir, ".vlog", name));
	tu_path(p, dir, name);
	assert_true(tu_file_size(p) > 9 << 20);
	db = tu_open(dir, &o);
	assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	for (int field = 0; field < 2; field++) {
		/* The first entry's vlen (bit 40: 1 TiB more), then its klen. */
		uint64_t at = field == 0 ? 16 + 8 + 5 : 16 + 4 + 2;
		tu_flip_byte(p, at);
		db = tu_open(dir, &o);
		assert_int_equal(wb_verify(db, NULL, NULL), WB_ECORRUPT);
		tu_expect_has("verify", wb_errmsg(db), field == 0 ? "its length is damaged" : "entry with a key of");
		char k[32];
		size_t kl = tu_key(k, "k", 0);
		void *v;
		size_t vl;
		assert_int_equal(wb_get(db, k, kl, &v, &vl), WB_ECORRUPT);
		assert_int_equal(wb_close(db), WB_OK);
		tu_flip_byte(p, at);
	}
}

static void test_corruption_detected(void **state)
{
	wb_options o = vt_options();
	wb_db *db = tu_open(dir, &o);
	vt_put_big(db, 1, 8000, 1);
	/* In a table: replay would treat a bad entry named by the WAL as a
	 * write that never became durable (test_vlog_recovery.c). */
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	char name[256], p[PATH_MAX];
	assert_true(tu_find_suffix(dir, ".vlog", name));
	tu_path(p, dir, name);
	tu_flip_byte(p, 16 + 24 + 7000); /* inside the value */
	db = tu_open(dir, &o);
	char k[32];
	size_t kl = tu_key(k, "k", 1);
	void *v;
	size_t vl;
	assert_int_equal(wb_get(db, k, kl, &v, &vl), WB_ECORRUPT);
	assert_non_null(strstr(wb_errmsg(db), ".vlog offset"));
	assert_int_equal(wb_verify(db, NULL, NULL), WB_ECORRUPT);
	/* A range read checks the blocks it touches (4 KiB each): the first
	 * block reads as it was, any range into the second names it. */
	char buf[300], want[8000];
	size_t got;
	tu_value(want, 8000, 1, 1);
	assert_int_equal(wb_get_range(db, k, kl, 0, buf, 100, &got), WB_OK);
	assert_int_equal(got, 100);
	assert_memory_equal(buf, want, 100);
	assert_int_equal(wb_get_range(db, k, kl, 3900, buf, 196, &got), WB_OK);
	assert_memory_equal(buf, want + 3900, 196);
	assert_int_equal(wb_get_range(db, k, kl, 4000, buf, 200, &got), WB_ECORRUPT);
	assert_non_null(strstr(wb_errmsg(db), ".vlog offset 4140: value block checksum mismatch"));
	assert_int_equal(wb_get_range(db, k, kl, 7990, buf, 10, &got), WB_ECORRUPT);
	/* An iterator reports it too, and stops. */
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	wb_iter_seek_first(it);
	assert_true(wb_iter_valid(it));
	assert_null(wb_iter_value(it, &vl));
	assert_int_equal(wb_iter_status(it), WB_ECORRUPT);
	wb_iter_free(it);
	assert_int_equal(wb_close(db), WB_OK);
}

/* Sealed segments (rotated, or active at close) end at their last entry:
 * every file's last 12 bytes are an entry trailer naming the value length. */
static void test_map_mode_seal_trims(void **state)
{
	wb_options o = vt_options();
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 300; i++)
		vt_put_big(db, i, 5000, 3);
	assert_int_equal(wb_close(db), WB_OK);
	int n;
	char **names = tu_list(dir, &n);
	int segments = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]);
		if (l < 5 || strcmp(names[i] + l - 5, ".vlog") != 0)
			continue;
		char p[PATH_MAX];
		tu_path(p, dir, names[i]);
		long long size = tu_file_size(p);
		assert_true(size > 16 + 12);
		FILE *f = fopen(p, "rb");
		assert_non_null(f);
		uint8_t t[12];
		assert_int_equal(fseek(f, (long)(size - 12), SEEK_SET), 0);
		assert_int_equal(fread(t, 1, 12, f), 12);
		fclose(f);
		uint64_t vlen = 0;
		for (int b = 7; b >= 0; b--)
			vlen = vlen << 8 | t[b];
		assert_int_equal(vlen, 5000);
		segments++;
	}
	tu_free_names(names, n);
	assert_true(segments >= 5); /* 1.5 MB in 256 KiB segments */
	db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 300; i++)
		vt_expect_big(db, i, 5000, 3);
	vt_verify_and_close(db, WB_OK);
}

/* With every commit synced, the active segment goes back to appending
 * after a few (mapped.h): no zeros prepared past its entries while open,
 * and every value reads back, also after a reopen. */
static void test_synced_often_appends(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 64u << 20;
	o.sync = WB_SYNC_ALWAYS;
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 20; i++)
		vt_put_big(db, i, 5000, 4);
	assert_true(vt_dir_bytes(dir, ".vlog") < (512u << 10)); /* 100 KB of values */
	for (uint64_t i = 0; i < 20; i++)
		vt_expect_big(db, i, 5000, 4);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 20; i++)
		vt_expect_big(db, i, 5000, 4);
	vt_verify_and_close(db, WB_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corruption_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_length_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_mode_seal_trims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_synced_often_appends, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
