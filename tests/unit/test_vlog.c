/*
 * test_vlog.c -- the value log (engine/src/vlog/vlog.c, vlog_gc.c, writer.c):
 *
 *   - round trips around value_threshold, 0-byte values, reopen, verify;
 *     a large value is written once (the WAL holds only a pointer);
 *   - wb_get_range at every edge; wb_stat_key's 64-bit length;
 *   - the streaming writer: 100 MiB with bounded memory, commit with a
 *     batch, abort, a crash before commit (no key, no file left);
 *   - a damaged entry: wb_get, wb_verify, an iterator and every range read
 *     touching the damaged block say WB_ECORRUPT; a streamed value too,
 *     and a writer reads back what it wrote before commit;
 *   - a lost value-log tail after a crash: replay stops at the first batch
 *     whose value is gone (a prefix), and the cut stays after new writes;
 *     the same loss (or a changed byte) after a clean close is damage: the
 *     open fails, and wb_repair drops that batch alone, keeping the rest;
 *     a damaged value only a table points at is deleted by wb_repair;
 *   - wb_batch_move, then reclaim of the source segment, then the read;
 *   - puts, deletes and moves racing reclaim passes: the result is exactly
 *     the writer's model (nothing resurrected, nothing lost);
 *   - readers, a writer, compaction, reclaim and an old open iterator all
 *     at once (seeded by tu_seed, for tests/stress.sh);
 *   - the sustained overwrite workload with the reclaim thread: disk usage
 *     bounded during and after, newest values, deletions stay deleted;
 *   - after many killed runs, each too short to start reclaim, the thread
 *     catches up on its own after the next open;
 *   - a crash at many points during a reclaim pass: nothing lost, nothing
 *     resurrected, no orphan segment;
 *   - an open iterator keeps a reclaimed segment readable until freed;
 *   - deletes of values in the active segment, nothing else happening:
 *     the thread seals it and reclaims the space;
 *   - map mode (entries stored through a mapped window): a process killed
 *     without closing keeps every acknowledged value; the zeros it leaves
 *     after the last entry read as the end, a torn entry before them as a
 *     torn tail, a stray byte among them as damage; sealing trims them.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_env.h"
#include "test_clock.h"
#include "testutil.h"
#include "wombat.h"

#define THRESHOLD 1024

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

static wb_options vopts(void)
{
	wb_options o = tu_options(1u << 20);
	o.value_threshold = THRESHOLD;
	o.vlog_segment_size = 256u << 10;
	return o;
}

static uint64_t file_bytes(const char *path)
{
	long long s = tu_file_size(path);
	return s > 0 ? (uint64_t)s : 0;
}

/* Offset just past the last non-zero byte of path: its data, when it is a
 * log written through a map (zeros past the data while it is open). */
static uint64_t last_nonzero_end(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint64_t end = 0, off = 0;
	int c;
	while ((c = getc(f)) != EOF) {
		off++;
		if (c != 0)
			end = off;
	}
	fclose(f);
	return end;
}

/* measure(path) summed over the files in dir whose name ends in suffix
 * (all when NULL). */
static uint64_t dir_sum(const char *d, const char *suffix, uint64_t (*measure)(const char *path))
{
	int n;
	char **names = tu_list(d, &n);
	uint64_t total = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]);
		if (suffix != NULL && (l < strlen(suffix) || strcmp(names[i] + l - strlen(suffix), suffix) != 0))
			continue;
		char p[PATH_MAX];
		total += measure(tu_path(p, d, names[i]));
	}
	tu_free_names(names, n);
	return total;
}

static uint64_t dir_bytes(const char *d, const char *suffix)
{
	return dir_sum(d, suffix, file_bytes);
}

/* For test_clock_step_until: the value log of dir holds at most limit bytes. */
struct vlog_limit {
	const char *dir;
	uint64_t limit;
};

static bool vlog_within(void *arg)
{
	const struct vlog_limit *l = arg;
	return dir_bytes(l->dir, ".vlog") <= l->limit;
}

/* wb_verify says want; then the database closes cleanly. */
static void verify_and_close(wb_db *db, int want)
{
	assert_int_equal(wb_verify(db, NULL, NULL), want);
	assert_int_equal(wb_close(db), WB_OK);
}

/* wb_repair's report: lines appended to a 2048-byte buffer. */
static void note_line(void *arg, int dropped, const char *what)
{
	char *text = arg;
	size_t len = strlen(text);
	snprintf(text + len, 2048 - len, "%s\n", what);
}

/* db holds exactly m and verifies, then holds m again after a reopen;
 * closes it. */
static void expect_model_kept(wb_db *db, const wb_options *o, const tu_model_t *m)
{
	tu_expect_db_equals(db, m);
	verify_and_close(db, WB_OK);
	db = tu_open(dir, o);
	tu_expect_db_equals(db, m);
	assert_int_equal(wb_close(db), WB_OK);
}

static void put_big(wb_db *db, uint64_t n, size_t len, uint64_t round)
{
	char k[32];
	char *v = malloc(len + 1);
	size_t kl = tu_key(k, "k", n);
	tu_value(v, len, n, round);
	assert_int_equal(wb_put(db, k, kl, v, len), WB_OK);
	free(v);
}

/* Keys 0 .. n-1 with a value of len bytes, rounds 0 .. rounds-1 in turn. */
static void put_rounds(wb_db *db, int rounds, uint64_t n, size_t len)
{
	for (int round = 0; round < rounds; round++)
		for (uint64_t i = 0; i < n; i++)
			put_big(db, i, len, (uint64_t)round);
}

static void expect_big(wb_db *db, uint64_t n, size_t len, uint64_t round)
{
	char k[32];
	char *v = malloc(len + 1);
	size_t kl = tu_key(k, "k", n);
	tu_value(v, len, n, round);
	tu_expect(db, k, kl, v, len);
	free(v);
}

static void test_round_trips(void **state)
{
	wb_options o = vopts();
	wb_db *db = tu_open(dir, &o);
	size_t sizes[] = { 0, 1, 63, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1, 5000, 300000 };
	int ns = (int)(sizeof(sizes) / sizeof(sizes[0]));
	uint64_t big = 0;
	for (int i = 0; i < ns; i++) {
		put_big(db, (uint64_t)i, sizes[i], 1);
		if (sizes[i] >= THRESHOLD)
			big += sizes[i];
	}
	assert_true(tu_count_suffix(dir, ".vlog") >= 1);
	/* Written once: the log holds pointers, not the large values. */
	assert_true(dir_sum(dir, ".wal", last_nonzero_end) < 64 * 1024);
	assert_true(dir_bytes(dir, ".vlog") >= big);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < ns; i++) {
			expect_big(db, (uint64_t)i, sizes[i], 1);
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
	wb_options o = vopts();
	wb_db *db = tu_open(dir, &o);
	const size_t lens[] = { 10000, 500 }; /* value log, inline */
	for (int which = 0; which < 2; which++) {
		size_t len = lens[which];
		put_big(db, 100 + (uint64_t)which, len, 3);
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
	wb_options o = vopts();
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
	verify_and_close(db, WB_OK);
}

static void test_stream_crash_before_commit(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = vopts();
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	put_big(db, 1, 5000, 1);
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
	expect_big(db, 1, 5000, 1);
	/* The uncommitted stream's segment is gone. */
	assert_int_equal(tu_count_suffix(dir, ".vlog"), before + (rc == WB_OK));
	verify_and_close(db, WB_OK);
	fault_env_free(fe);
}

/* A failed writeback may have lost bytes that commit's sync would then not
 * report (Linux hands a writeback error out once): the stream must fail and
 * leave nothing, and the next one must work. */
static void test_stream_writeback_error(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = vopts();
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

/* A flipped bit in an entry's length fields makes the entry look like one
 * a crash cut short, which would hide every entry after it from the walk;
 * far from the end of the segment, the walk tells them apart. */
static void test_damaged_length_detected(void **state)
{
	wb_options o = vopts();
	o.vlog_segment_size = 64 << 20;
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 1200; i++)
		put_big(db, i, 8000, 1);
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
	wb_options o = vopts();
	wb_db *db = tu_open(dir, &o);
	put_big(db, 1, 8000, 1);
	/* In a table: replay would treat a bad entry named by the WAL as a
	 * write that never became durable (test_lost_tail_cuts_replay). */
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

/* A streamed value is checked block by block too, and what a writer
 * reads back before commit is exactly what it wrote, wherever the block
 * boundaries and its buffer's end fall. */
static void test_stream_blocks(void **state)
{
	wb_options o = vopts();
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

/* Writes 100 batches, each a 2000-byte value (in the value log) and a
 * small one, then ends the process: cleanly, or killed. */
static void write_pairs(const wb_options *o, bool clean)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options fo = *o;
	fo.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &fo);
	for (uint64_t i = 0; i < 100; i++) {
		wb_batch *b;
		char k[32], v[4000];
		assert_int_equal(wb_batch_new(&b), WB_OK);
		size_t kl = tu_key(k, "k", i);
		assert_int_equal(wb_batch_put(b, k, kl, v, tu_value(v, 2000, i, 0)), WB_OK);
		kl = tu_key(k, "s", i);
		assert_int_equal(wb_batch_put(b, k, kl, "x", 1), WB_OK);
		assert_int_equal(wb_write(db, b), WB_OK);
		wb_batch_free(b);
	}
	if (clean)
		assert_int_equal(wb_close(db), WB_OK);
	else
		tu_kill(db, fe);
	fault_env_free(fe);
}

/* Entries of write_pairs: 36 + 10 + 2000 bytes and a checksum per block. */
#define PAIR_ENTRY (36 + 10 + 2000 + 4)

/* The value log lost its tail but the WAL did not (the WAL page reached
 * the disk, the value-log page did not), after a crash: replay keeps the
 * batches before the first lost value and drops everything after it, and
 * keeps doing so after new writes and another reopen. */
static void test_lost_tail_cuts_replay(void **state)
{
	wb_options o = vopts();
	o.vlog_segment_size = 64u << 20;
	write_pairs(&o, false);
	char name[256], p[PATH_MAX];
	assert_true(tu_find_suffix(dir, ".vlog", name));
	tu_path(p, dir, name);
	tu_truncate(p, 16 + 50 * PAIR_ENTRY + 1000); /* inside entry 50 */
	wb_db *db;
	for (int round = 0; round < 2; round++) {
		db = tu_open(dir, &o);
		for (uint64_t i = 0; i < 100; i++) {
			char k[32];
			size_t kl = tu_key(k, "s", i);
			if (i < 50) {
				expect_big(db, i, 2000, 0);
				tu_expect(db, k, kl, "x", 1);
			} else {
				tu_expect_missing(db, k, kl);
				kl = tu_key(k, "k", i);
				tu_expect_missing(db, k, kl);
			}
		}
		if (round == 0) {
			put_big(db, 500, 3000, 9);
			tu_put(db, "after", "cut");
		}
		expect_big(db, 500, 3000, 9);
		tu_expect_str(db, "after", "cut");
		verify_and_close(db, WB_OK);
	}
}

/* The same loss after a clean close is damage to synced data (the close
 * synced every value its log points at): the open fails naming the log
 * record and the value, and changes nothing; a repair drops that batch
 * alone and keeps every batch after it. A byte changed inside a value is
 * the same. */
static void test_lost_value_after_clean_close(void **state)
{
	wb_options o = vopts();
	o.vlog_segment_size = 64u << 20;
	for (int how = 0; how < 2; how++) {
		write_pairs(&o, true);
		char name[256], p[PATH_MAX];
		assert_true(tu_find_suffix(dir, ".vlog", name));
		tu_path(p, dir, name);
		if (how == 0)
			tu_flip_byte(p, 16 + 50 * PAIR_ENTRY + 24 + 1000); /* a byte of value 50 */
		else
			tu_truncate(p, 16 + 99 * PAIR_ENTRY + 1000); /* inside the last entry */
		uint64_t before = tu_dir_digest(dir);
		wb_db *db = (wb_db *)1;
		assert_int_equal(wb_open(dir, &o, &db), WB_ECORRUPT);
		assert_null(db);
		assert_non_null(strstr(wb_errmsg(NULL), name));
		assert_non_null(strstr(wb_errmsg(NULL), ".wal record "));
		assert_non_null(strstr(wb_errmsg(NULL), "closed cleanly"));
		assert_true(tu_dir_digest(dir) == before);
		uint64_t dropped = 0;
		assert_int_equal(wb_repair(dir, &o, NULL, NULL, &dropped), WB_OK);
		assert_int_equal(dropped, 1);
		uint64_t lost = how == 0 ? 50 : 99;
		db = tu_open(dir, &o);
		for (uint64_t i = 0; i < 100; i++) {
			char k[32];
			size_t kl = tu_key(k, "s", i);
			if (i == lost) {
				tu_expect_missing(db, k, kl);
				kl = tu_key(k, "k", i);
				tu_expect_missing(db, k, kl);
			} else {
				expect_big(db, i, 2000, 0);
				tu_expect(db, k, kl, "x", 1);
			}
		}
		verify_and_close(db, WB_OK);
		tu_rmtree(dir);
		assert_int_equal(mkdir(dir, 0755), 0);
	}
}

/* A damaged value that only a table points at (flushed): reads of it fail
 * until a repair deletes the key, which it reports. */
static void test_repair_deletes_damaged_value(void **state)
{
	wb_options o = vopts();
	wb_db *db = tu_open(dir, &o);
	put_big(db, 1, 8000, 1);
	put_big(db, 2, 8000, 2);
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	char name[256], p[PATH_MAX];
	assert_true(tu_find_suffix(dir, ".vlog", name));
	tu_path(p, dir, name);
	tu_flip_byte(p, 16 + 24 + 100); /* the first value's first block */
	db = tu_open(dir, &o); /* the tree is sound: it opens */
	char k[32];
	size_t kl = tu_key(k, "k", 1);
	void *v;
	size_t vl;
	assert_int_equal(wb_get(db, k, kl, &v, &vl), WB_ECORRUPT);
	assert_int_equal(wb_close(db), WB_OK);
	char text[2048] = "";
	uint64_t dropped = 0;
	assert_int_equal(wb_repair(dir, &o, note_line, text, &dropped), WB_OK);
	assert_int_equal(dropped, 1);
	assert_non_null(strstr(text, "key \"k00000001\""));
	assert_non_null(strstr(text, "value block checksum mismatch"));
	db = tu_open(dir, &o);
	tu_expect_missing(db, k, kl);
	expect_big(db, 2, 8000, 2);
	assert_int_equal(wb_close(db), WB_OK);
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
	wb_options o = vopts();
	o.vlog_segment_size = 64u << 10;
	wb_db *db = tu_open(dir, &o);
	put_big(db, 1, 20000, 1); /* the value to move */
	for (uint64_t i = 2; i < 10; i++)
		put_big(db, i, 20000, 1);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_move(db, b, "k00000001", 9, "moved", 5), WB_OK);
	assert_int_equal(wb_batch_move(db, b, "nope", 4, "x", 1), WB_ENOTFOUND);
	assert_int_equal(wb_write(db, b), WB_OK);
	wb_batch_free(b);
	/* No bytes were copied by the move. */
	uint64_t vbytes = dir_bytes(dir, ".vlog");
	tu_expect_missing(db, "k00000001", 9);
	/* Everything else in the first segments becomes garbage. */
	for (int round = 2; round < 5; round++)
		for (uint64_t i = 2; i < 10; i++)
			put_big(db, i, 20000, (uint64_t)round);
	assert_true(dir_bytes(dir, ".vlog") > vbytes);
	uint64_t reclaimed = gc_all(db);
	assert_true(reclaimed > 0);
	char want[20000];
	tu_value(want, sizeof(want), 1, 1);
	for (int round = 0; round < 2; round++) {
		tu_expect(db, "moved", 5, want, sizeof(want));
		tu_expect_missing(db, "k00000001", 9);
		for (uint64_t i = 2; i < 10; i++)
			expect_big(db, i, 20000, 4);
		verify_and_close(db, WB_OK);
		db = tu_open(dir, &o);
		gc_all(db);
	}

	/* A move read before a pass reclaimed its segment, written after: it
	 * either lands with the right bytes or asks to be redone. */
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_move(db, b, "moved", 5, "moved2", 6), WB_OK);
	for (int round = 5; round < 8; round++)
		for (uint64_t i = 2; i < 10; i++)
			put_big(db, i, 20000, (uint64_t)round);
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
	wb_options o = vopts();
	o.vlog_segment_size = 64u << 10;
	o.vlog_gc_interval_ms = 0; /* only the passes the test runs */
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 10; i++)
		put_big(db, i, 20000, 1);
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	for (uint64_t i = 0; i < 10; i++)
		put_big(db, i, 20000, 2);
	for (uint64_t i = 0; i < 10; i += 2) {
		char k[32];
		assert_int_equal(wb_delete(db, k, tu_key(k, "k", i)), WB_OK);
	}
	uint64_t before = dir_bytes(dir, ".vlog");
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
	assert_true(dir_bytes(dir, ".vlog") < before);
	for (i = 0; i < 10; i++) {
		if (i % 2 == 0) {
			char k[32];
			tu_expect_missing(db, k, tu_key(k, "k", i));
		} else {
			expect_big(db, i, 20000, 2);
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
				uint64_t used = dir_bytes(dir, NULL);
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
	uint64_t end = dir_bytes(dir, NULL);
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
	uint64_t before = dir_bytes(dir, ".vlog");
	assert_true(before > 3 * live); /* the garbage of every run is there */
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	o.env = &env;
	wb_db *db = tu_open(dir, &o);
	/* Only the reclaim thread waits on the clock (sync none, no compaction). */
	struct vlog_limit l = { dir, live * 3 / 2 - 1 };
	test_clock_step_until(tc, o.vlog_gc_interval_ms * 1000, 1, vlog_within, &l,
			      60 * 1000 / (int)o.vlog_gc_interval_ms);
	uint64_t now = dir_bytes(dir, ".vlog");
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
	verify_and_close(db, WB_OK);
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
	wb_options o = vopts();
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
					expect_big(db, i, 9000, 2);
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
	wb_options o = vopts();
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
		expect_big(db, i, 9000, 1);
	gc_all(db); /* and the space comes back now */
	assert_true(tu_count_suffix(dir, ".vlog") < segments);
	verify_and_close(db, WB_OK);
	fault_env_free(fe);
}

/* A segment made after the last sync holds nothing synced; a power cut
 * may take its header, or the whole file (its name is synced, its bytes
 * are not). A MANIFEST edit that names it meanwhile (here: the flush of
 * the memtable replayed at open) must not make the next open refuse the
 * database. Found by faultcrash (tests/crash/): "value-log segment ...
 * listed in the MANIFEST is missing" after a power loss. Edits name only
 * synced segments now. */
static void test_power_loss_after_new_segment(void **state)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		tu_rmtree(dir);
		fault_env_t *fe = fault_env_new(NULL);
		wb_options o = vopts();
		o.env = fault_env_get(fe);
		wb_db *db = tu_open(dir, &o);
		for (int i = 0; i < 50; i++)
			tu_put(db, "small", "value");
		assert_int_equal(wb_sync(db), WB_OK);
		tu_crash(db, fe); /* the WAL is replayed at the next open */
		db = tu_open(dir, &o);
		put_big(db, 1, 9000, 1); /* a new segment, not synced (sync none) */
		for (int wait = 0; wait < 500 && tu_tables(db) == 0; wait++)
			usleep(10000);
		tu_crash(db, fe);
		int rc = wb_open(dir, &o, &db);
		if (rc != WB_OK)
			fail_msg("attempt %d: reopen after a power loss: %s: %s", attempt,
				 wb_strerror(rc), wb_errmsg(NULL));
		tu_expect_str(db, "small", "value");
		verify_and_close(db, WB_OK);
		fault_env_free(fe);
	}
}

/* Kill points with sync=always over batches holding large values: every
 * acknowledged batch survives and every value reads back whole. */
static void test_kill_points_sync_always(void **state)
{
	wb_options o = vopts();
	o.sync = WB_SYNC_ALWAYS;
	o.vlog_segment_size = 64u << 10;
	uint64_t total = 0;
	for (int attempt = 0; attempt < 10; attempt++) {
		tu_rmtree(dir);
		fault_env_t *fe = fault_env_new(NULL);
		o.env = fault_env_get(fe);
		if (attempt > 0)
			fault_env_kill_after_bytes(fe, total * (uint64_t)attempt / 10);
		wb_db *db = NULL;
		int rc = wb_open(dir, &o, &db);
		uint64_t acked = 0;
		for (uint64_t i = 0; rc == WB_OK && i < 40; i++) {
			wb_batch *b;
			char k[32], v[6000];
			assert_int_equal(wb_batch_new(&b), WB_OK);
			size_t kl = tu_key(k, "k", i);
			assert_int_equal(wb_batch_put(b, k, kl, v, tu_value(v, 3000 + i * 50, i, 0)), WB_OK);
			kl = tu_key(k, "s", i);
			assert_int_equal(wb_batch_put(b, k, kl, "x", 1), WB_OK);
			rc = wb_write(db, b);
			wb_batch_free(b);
			if (rc == WB_OK)
				acked = i + 1;
		}
		if (attempt == 0) {
			struct fault_env_counts c;
			assert_int_equal(wb_close(db), WB_OK);
			fault_env_counts(fe, &c);
			total = c.bytes_appended;
		} else {
			if (db != NULL)
				tu_crash(db, fe);
			else
				assert_int_equal(fault_env_power_loss(fe), WB_OK);
		}
		fault_env_clear_faults(fe);
		if (tu_count_suffix(dir, "CURRENT") == 0) { /* died inside the first open */
			fault_env_free(fe);
			continue;
		}
		db = tu_open(dir, &o);
		uint64_t present = 0;
		for (uint64_t i = 0; i < 40; i++) {
			char k[32];
			size_t kl = tu_key(k, "s", i);
			void *v;
			size_t vl;
			rc = wb_get(db, k, kl, &v, &vl);
			assert_true(rc == WB_OK || rc == WB_ENOTFOUND);
			if (rc == WB_OK) {
				wb_free(v);
				assert_int_equal(present, i); /* a prefix */
				present++;
				expect_big(db, i, 3000 + i * 50, 0);
			} else {
				kl = tu_key(k, "k", i);
				tu_expect_missing(db, k, kl);
			}
		}
		assert_true(present >= acked);
		verify_and_close(db, WB_OK);
		fault_env_free(fe);
	}
}

/* Deletes alone append nothing: the reclaim thread must also notice the
 * garbage compaction counts. */
static void test_background_reclaims_deletes(void **state)
{
	wb_options o = vopts();
	o.vlog_segment_size = 64u << 10;
	o.vlog_gc_interval_ms = 20;
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	o.env = &env;
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 60; i++)
		put_big(db, i, 10000, 1);
	put_big(db, 1000, 10000, 1); /* seals the last segment of the others */
	assert_int_equal(wb_flush(db), WB_OK);
	/* The thread sees the appends first: its pass after the first interval
	 * (only it waits on the clock: sync none, no compaction). */
	assert_true(test_clock_wait_idle(tc, 1, 30000));
	test_clock_advance(tc, 20 * 1000);
	assert_true(test_clock_wait_idle(tc, 1, 30000));
	uint64_t before = dir_bytes(dir, ".vlog");
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
	expect_big(db, 1000, 10000, 1);
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
	wb_options o = vopts();
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
	wb_options o = vopts();
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

/* Entries stored through the map straddle its 4 MiB windows: 1000 of
 * 5000 bytes, with one of 9 MiB (appended, wider than a window) among
 * them. */
#define MAPPED_N 1000
#define MAPPED_BIG 500
#define MAPPED_BIG_LEN (9u << 20)

static size_t mapped_len(uint64_t i)
{
	return i == MAPPED_BIG ? MAPPED_BIG_LEN : 5000;
}

/* The child: writes, then dies without closing (as kill -9 would). */
static void put_mapped_and_die(const wb_options *o)
{
	wb_db *db;
	if (wb_open(dir, o, &db) != WB_OK)
		_exit(2);
	char *v = malloc(MAPPED_BIG_LEN);
	for (uint64_t i = 0; i < MAPPED_N; i++) {
		char k[32];
		size_t kl = tu_key(k, "k", i);
		tu_value(v, mapped_len(i), i, 1);
		if (wb_put(db, k, kl, v, mapped_len(i)) != WB_OK)
			_exit(3);
	}
	kill(getpid(), SIGKILL);
	_exit(4);
}

/* Runs put_mapped_and_die in a child, with one 64 MiB segment and nothing
 * synced (the page cache alone keeps what it stored); *o gets the options,
 * path the segment's file. */
static void killed_writer(wb_options *o, char *path)
{
	*o = vopts();
	o->vlog_segment_size = 64u << 20;
	o->sync = WB_SYNC_NONE;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		put_mapped_and_die(o);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	char name[256];
	assert_true(tu_find_suffix(dir, ".vlog", name));
	tu_path(path, dir, name);
}

static void expect_mapped(wb_db *db, uint64_t upto)
{
	for (uint64_t i = 0; i < upto; i++)
		expect_big(db, i, mapped_len(i), 1);
}

static void test_map_mode_process_crash(void **state)
{
	wb_options o;
	char p[PATH_MAX];
	killed_writer(&o, p);
	uint64_t end = last_nonzero_end(p);
	/* Zeros prepared ahead of the entries are still there: the child
	 * stored through the map and never sealed the segment. */
	assert_true((uint64_t)tu_file_size(p) > end + 1000);

	/* First as the child left it: everything acknowledged is there. */
	wb_db *db = tu_open(dir, &o);
	expect_mapped(db, MAPPED_N);
	verify_and_close(db, WB_OK);

	/* A stray byte among the zeros is damage, not the end. */
	tu_flip_byte(p, (uint64_t)tu_file_size(p) - 10);
	db = tu_open(dir, &o);
	assert_int_equal(wb_verify(db, NULL, NULL), WB_ECORRUPT);
	assert_non_null(strstr(wb_errmsg(db), "empty key"));
	assert_int_equal(wb_close(db), WB_OK);
	tu_flip_byte(p, (uint64_t)tu_file_size(p) - 10);
	db = tu_open(dir, &o);
	verify_and_close(db, WB_OK);
}

/* A kill during the store of the last entry: the entry cut short, zeros
 * after it. Its write was never synced, so replay drops it; verify takes
 * it for a crash's tail. */
static void test_map_mode_torn_entry(void **state)
{
	wb_options o;
	char p[PATH_MAX];
	killed_writer(&o, p);
	uint64_t end = last_nonzero_end(p);
	FILE *f = fopen(p, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)(end - 5000), SEEK_SET), 0);
	for (int i = 0; i < 5000; i++)
		putc(0, f);
	fclose(f);

	wb_db *db = tu_open(dir, &o);
	assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
	expect_mapped(db, MAPPED_N - 1);
	char k[32];
	size_t kl = tu_key(k, "k", MAPPED_N - 1);
	tu_expect_missing(db, k, kl);
	/* New writes go to a new segment and survive a clean close. */
	put_big(db, 1000, 7000, 2);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	expect_big(db, 1000, 7000, 2);
	expect_mapped(db, MAPPED_N - 1);
	tu_expect_missing(db, k, kl);
	verify_and_close(db, WB_OK);
}

/* A crash in the middle of a store through the map leaves any subset of
 * its bytes (mapped.h). An entry's header is stored on its own, so a kill
 * in it leaves some of its 24 bytes with klen still zero, and nothing
 * after: the end of the entries, not damage. Found by kvcrash
 * (tests/crash/): `wombat verify` after a kill -9 said "entry with an
 * empty key". Bytes past such a header are still damage. */
static void test_map_mode_torn_header(void **state)
{
	wb_options o;
	char p[PATH_MAX];
	killed_writer(&o, p);
	uint64_t end = last_nonzero_end(p);
	assert_true((uint64_t)tu_file_size(p) > end + 8192);
	FILE *f = fopen(p, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)(end + 8), SEEK_SET), 0); /* vlen and ts, not klen */
	for (int i = 0; i < 16; i++)
		putc(0xa5, f);
	fclose(f);
	wb_db *db = tu_open(dir, &o);
	expect_mapped(db, MAPPED_N);
	verify_and_close(db, WB_OK);
	f = fopen(p, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)(end + 64), SEEK_SET), 0);
	putc(0xa5, f);
	fclose(f);
	db = tu_open(dir, &o);
	assert_int_equal(wb_verify(db, NULL, NULL), WB_ECORRUPT);
	assert_non_null(strstr(wb_errmsg(db), "empty key"));
	assert_int_equal(wb_close(db), WB_OK);
}

/* Sealed segments (rotated, or active at close) end at their last entry:
 * every file's last 12 bytes are an entry trailer naming the value length. */
static void test_map_mode_seal_trims(void **state)
{
	wb_options o = vopts();
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 300; i++)
		put_big(db, i, 5000, 3);
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
		expect_big(db, i, 5000, 3);
	verify_and_close(db, WB_OK);
}

/* Deletes whose values sit in the active segment, with no compaction and
 * no other write to set reclaim going: once they settle, the thread seals
 * the segment (mostly garbage) and reclaims it. */
static void test_deletes_in_active_segment_reclaimed(void **state)
{
	wb_options o = vopts();
	o.vlog_segment_size = 16u << 20; /* everything stays in the active segment */
	o.vlog_gc_interval_ms = 20;
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	o.env = &env;
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 40; i++)
		put_big(db, i, 100000, 1);
	put_big(db, 1000, 10000, 1);
	uint64_t before = dir_bytes(dir, ".vlog");
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
	expect_big(db, 1000, 10000, 1);
	put_big(db, 1001, 20000, 1); /* a new active segment takes writes */
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 40; i++) {
		char k[32];
		tu_expect_missing(db, k, tu_key(k, "k", i));
	}
	expect_big(db, 1000, 10000, 1);
	expect_big(db, 1001, 20000, 1);
	verify_and_close(db, WB_OK);
	test_clock_free(tc);
}

/* With every commit synced, the active segment goes back to appending
 * after a few (mapped.h): no zeros prepared past its entries while open,
 * and every value reads back, also after a reopen. */
static void test_synced_often_appends(void **state)
{
	wb_options o = vopts();
	o.vlog_segment_size = 64u << 20;
	o.sync = WB_SYNC_ALWAYS;
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 20; i++)
		put_big(db, i, 5000, 4);
	assert_true(dir_bytes(dir, ".vlog") < (512u << 10)); /* 100 KB of values */
	for (uint64_t i = 0; i < 20; i++)
		expect_big(db, i, 5000, 4);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 20; i++)
		expect_big(db, i, 5000, 4);
	verify_and_close(db, WB_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_100m, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_crash_before_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_writeback_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corruption_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_length_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_tail_cuts_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_value_after_clean_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_deletes_damaged_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_then_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iterator_pins_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_races_writes_and_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_under_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_background_reclaims_deletes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deletes_in_active_segment_reclaimed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_points_sync_always, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overwrite_workload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_catches_up_after_crashes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_mode_process_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_mode_torn_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_mode_torn_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_mode_seal_trims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_synced_often_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_retire_keeps_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_loss_after_new_segment, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
