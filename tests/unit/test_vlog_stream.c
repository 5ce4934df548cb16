/*
 * test_vlog_stream.c -- the streaming writer (engine/src/vlog/writer.c,
 * wb_writer_* in wombat.h) through the database:
 *
 *   - 100 MiB with bounded memory, read back whole and by ranges across a
 *     reopen; commit with a batch (one atomic write), an empty stream,
 *     abort (no key, no file left);
 *   - a crash before commit: no key, no file left; a committed but
 *     unsynced stream is there whole or not at all;
 *   - a failed writeback fails the stream, sticky, and leaves nothing;
 *   - a streamed value is checked block by block, and a writer reads back
 *     exactly what it wrote before commit.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_env.h"
#include "testutil.h"
#include "vlog_testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_mkdtemp(dir, "vlog-stream");
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(dir);
	return 0;
}

/* Fills buf with the bytes of a streamed value at offset off. */
static void stream_bytes(uint8_t *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (off + i) / 8 * 0x9E3779B97F4A7C15ull;
		buf[i] = (uint8_t)(x >> (8 * ((off + i) % 8)));
	}
}

static void test_stream_100m(void **state)
{
	wb_options o = vt_options();
	o.vlog_segment_size = 1u << 20;
	wb_db *db = tu_open(dir, &o);
	const uint64_t total = 100ull << 20;
	const size_t chunk = (1u << 20) + 17; /* not aligned with anything */
	uint8_t *buf = malloc(chunk);
	wb_writer *w;
	assert_int_equal(wb_writer_begin(db, "big", 3, &w), WB_OK);
	for (uint64_t off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? (size_t)(total - off) : chunk;
		stream_bytes(buf, n, off);
		assert_int_equal(wb_writer_write(w, buf, n), WB_OK);
	}
	/* Not visible before commit. */
	tu_expect_missing(db, "big", 3);
	assert_int_equal(wb_writer_commit(w, NULL), WB_OK);

	for (int round = 0; round < 2; round++) {
		wb_key_info info;
		assert_int_equal(wb_stat_key(db, "big", 3, &info), WB_OK);
		assert_int_equal(info.value_len, total);
		uint64_t offs[] = { 0, 1, total / 2 - 3, total - 100, total - 1, total, total + 5 };
		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			size_t got;
			uint8_t want[4096];
			assert_int_equal(wb_get_range(db, "big", 3, offs[i], buf, 4096, &got), WB_OK);
			size_t exp = offs[i] >= total ? 0 : (total - offs[i] < 4096 ? (size_t)(total - offs[i]) : 4096);
			assert_int_equal(got, exp);
			stream_bytes(want, got, offs[i]);
			assert_memory_equal(buf, want, got);
		}
		void *v;
		size_t vl;
		assert_int_equal(wb_get(db, "big", 3, &v, &vl), WB_OK);
		assert_int_equal(vl, total);
		for (uint64_t off = 0; off < total; off += chunk) {
			size_t n = total - off < chunk ? (size_t)(total - off) : chunk;
			stream_bytes(buf, n, off);
			assert_memory_equal((uint8_t *)v + off, buf, n);
		}
		wb_free(v);
		assert_int_equal(wb_close(db), WB_OK);
		db = tu_open(dir, &o);
	}
	free(buf);

	/* Committed with a batch: one atomic write. */
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_put_ks(b, WB_KS_META, "attr", 4, "size=5", 6), WB_OK);
	assert_int_equal(wb_batch_delete(b, "big", 3), WB_OK);
	assert_int_equal(wb_writer_begin(db, "small", 5, &w), WB_OK);
	assert_int_equal(wb_writer_write(w, "hello", 5), WB_OK);
	assert_int_equal(wb_writer_commit(w, b), WB_OK);
	wb_batch_free(b);
	tu_expect_str(db, "small", "hello");
	tu_expect_missing(db, "big", 3);
	void *v;
	size_t vl;
	assert_int_equal(wb_get_ks(db, WB_KS_META, "attr", 4, &v, &vl), WB_OK);
	assert_int_equal(vl, 6);
	wb_free(v);
	wb_key_info info;
	assert_int_equal(wb_stat_key(db, "small", 5, &info), WB_OK);
	assert_int_equal(info.value_len, 5);

	/* An empty streamed value. */
	assert_int_equal(wb_writer_begin(db, "empty", 5, &w), WB_OK);
	assert_int_equal(wb_writer_commit(w, NULL), WB_OK);
	assert_int_equal(wb_get(db, "empty", 5, &v, &vl), WB_OK);
	assert_int_equal(vl, 0);
	wb_free(v);

	/* Abort leaves nothing: no key, no file. */
	int files = tu_count_suffix(dir, ".vlog");
	assert_int_equal(wb_writer_begin(db, "gone", 4, &w), WB_OK);
	assert_int_equal(wb_writer_write(w, "xyz", 3), WB_OK);
	assert_int_equal(tu_count_suffix(dir, ".vlog"), files + 1);
	wb_writer_abort(w);
	wb_writer_abort(NULL);
	assert_int_equal(tu_count_suffix(dir, ".vlog"), files);
	tu_expect_missing(db, "gone", 4);
	assert_int_equal(wb_writer_begin(db, "", 0, &w), WB_EINVAL);
	assert_null(w);
	vt_verify_and_close(db, WB_OK);
}

static void test_stream_crash_before_commit(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = vt_options();
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	vt_put_big(db, 1, 5000, 1);
	assert_int_equal(wb_sync(db), WB_OK);
	int before = tu_count_suffix(dir, ".vlog");
	wb_writer *w;
	assert_int_equal(wb_writer_begin(db, "half", 4, &w), WB_OK);
	uint8_t buf[65536];
	stream_bytes(buf, sizeof(buf), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(wb_writer_write(w, buf, sizeof(buf)), WB_OK);
	/* A committed stream whose WAL record was never synced: with sync
	 * none it may be gone after the crash, but never half there. */
	wb_writer *w2;
	assert_int_equal(wb_writer_begin(db, "unsynced", 8, &w2), WB_OK);
	assert_int_equal(wb_writer_write(w2, buf, sizeof(buf)), WB_OK);
	assert_int_equal(wb_writer_commit(w2, NULL), WB_OK);
	assert_int_equal(tu_count_suffix(dir, ".vlog"), before + 2);
	/* The process dies: nothing more reaches the disk (the abort's
	 * remove fails), it only frees the writer's memory. */
	fault_env_kill_after_bytes(fe, 0);
	wb_writer_abort(w);
	tu_crash(db, fe);
	fault_env_clear_faults(fe);
	db = tu_open(dir, &o);
	tu_expect_missing(db, "half", 4);
	void *v;
	size_t vl;
	int rc = wb_get(db, "unsynced", 8, &v, &vl);
	assert_true(rc == WB_OK || rc == WB_ENOTFOUND);
	if (rc == WB_OK) {
		assert_int_equal(vl, sizeof(buf));
		assert_memory_equal(v, buf, vl);
		wb_free(v);
	}
	vt_expect_big(db, 1, 5000, 1);
	/* The uncommitted stream's segment is gone. */
	assert_int_equal(tu_count_suffix(dir, ".vlog"), before + (rc == WB_OK));
	vt_verify_and_close(db, WB_OK);
	fault_env_free(fe);
}

/* A failed writeback may have lost bytes that commit's sync would then not
 * report (Linux hands a writeback error out once): the stream must fail and
 * leave nothing, and the next one must work. */
static void test_stream_writeback_error(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = vt_options();
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	int before = tu_count_suffix(dir, ".vlog");
	const size_t chunk = 1u << 20;
	uint8_t *buf = malloc(chunk);
	stream_bytes(buf, chunk, 0);
	fault_env_fail_nth(fe, FAULT_WRITEBACK, 1, WB_EIO, FAULT_ONCE);
	wb_writer *w;
	assert_int_equal(wb_writer_begin(db, "wb", 2, &w), WB_OK);
	int rc = WB_OK, failed_at = -1;
	for (int i = 0; i < 64 && rc == WB_OK; i++) {
		rc = wb_writer_write(w, buf, chunk);
		if (rc != WB_OK)
			failed_at = i;
	}
	assert_int_equal(rc, WB_EIO);
	assert_true(failed_at > 0); /* not before a whole write-behind window */
	assert_int_equal(wb_writer_write(w, buf, chunk), WB_EIO); /* sticky */
	assert_int_equal(wb_writer_commit(w, NULL), WB_EIO);
	tu_expect_missing(db, "wb", 2);
	assert_int_equal(tu_count_suffix(dir, ".vlog"), before);

	assert_int_equal(wb_writer_begin(db, "wb", 2, &w), WB_OK);
	for (int i = 0; i < 64; i++)
		assert_int_equal(wb_writer_write(w, buf, chunk), WB_OK);
	assert_int_equal(wb_writer_commit(w, NULL), WB_OK);
	struct fault_env_counts c;
	fault_env_counts(fe, &c);
	assert_true(c.calls[FAULT_WRITEBACK] > 1);
	wb_key_info info;
	assert_int_equal(wb_stat_key(db, "wb", 2, &info), WB_OK);
	assert_int_equal(info.value_len, 64 * chunk);
	assert_int_equal(wb_close(db), WB_OK);
	fault_env_free(fe);
	free(buf);
}

/* A streamed value is checked block by block too, and what a writer
 * reads back before commit is exactly what it wrote, wherever the block
 * boundaries and its buffer's end fall. */
static void test_stream_blocks(void **state)
{
	wb_options o = vt_options();
	wb_db *db = tu_open(dir, &o);
	const size_t total = 3u << 20 | 12345;
	uint8_t *all = malloc(total), *back = malloc(total);
	for (size_t i = 0; i < total; i++)
		all[i] = (uint8_t)(i * 7 + i / 4096);
	wb_writer *w;
	assert_int_equal(wb_writer_begin(db, "s", 1, &w), WB_OK);
	size_t done = 0, piece = 1;
	while (done < total) {
		size_t n = total - done < piece ? total - done : piece;
		assert_int_equal(wb_writer_write(w, all + done, n), WB_OK);
		done += n;
		piece = piece * 5 + 3;
		if (piece > (3u << 20))
			piece = 4095;
		/* Read back a few ranges: near the start, across the end. */
		size_t got, from = done > 10000 ? done - 10000 : 0;
		assert_int_equal(wb_writer_read(w, from, back, done - from + 100, &got), WB_OK);
		assert_int_equal(got, done - from);
		assert_memory_equal(back, all + from, got);
		assert_int_equal(wb_writer_read(w, 4090, back, 20, &got), WB_OK);
		assert_memory_equal(back, all + 4090, got);
	}
	assert_int_equal(wb_writer_commit(w, NULL), WB_OK);
	tu_expect(db, "s", 1, all, total);
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	/* The stream's segment is the only one over 3 MiB; its entry starts at 16. */
	int n;
	char **names = tu_list(dir, &n), p[PATH_MAX];
	bool found = false;
	for (int i = 0; i < n && !found; i++)
		found = strstr(names[i], ".vlog") != NULL && tu_file_size(tu_path(p, dir, names[i])) > (3 << 20);
	assert_true(found);
	tu_flip_byte(p, 16 + 24 + 500 * 4100 + 7); /* block 500: value bytes from 2048000 */
	tu_free_names(names, n);
	db = tu_open(dir, &o);
	size_t got;
	assert_int_equal(wb_get_range(db, "s", 1, 2048000 - 4096, back, 4096, &got), WB_OK);
	assert_memory_equal(back, all + 2048000 - 4096, 4096);
	assert_int_equal(wb_get_range(db, "s", 1, 2048000 + 4095, back, 1, &got), WB_ECORRUPT);
	assert_non_null(strstr(wb_errmsg(db), "offset 2050040: value block checksum mismatch"));
	void *v;
	size_t vl;
	assert_int_equal(wb_get(db, "s", 1, &v, &vl), WB_ECORRUPT);
	assert_int_equal(wb_verify(db, NULL, NULL), WB_ECORRUPT);
	assert_int_equal(wb_close(db), WB_OK);
	free(all);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stream_100m, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_crash_before_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_writeback_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_blocks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
