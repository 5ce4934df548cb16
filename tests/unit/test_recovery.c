/*
 * test_recovery.c -- what a reopened database holds: half a million keys
 * spread over many flushed tables and the WAL, checked with wb_get and a
 * full scan; everything synced survives a simulated crash (fault env:
 * process killed, then power lost); timestamps continue above the old ones;
 * a WAL replayed into several memtables is kept until all of them are
 * flushed. And what it refuses: a damaged table gives WB_ECORRUPT (never
 * wrong data) and wb_verify names it; a damaged WAL middle, CURRENT or
 * MANIFEST makes wb_open fail with a message naming the file and leaves
 * every byte of the directory as it was, as does a lost CURRENT beside a
 * log holding records; a torn WAL tail after a crash is
 * dropped (and logged), but the same cut after a clean close, or in a log
 * that a later log with records follows, is damage, and wb_repair then
 * keeps what checks out; no stray files remain after recovery.
 *
 * Each test gets a fresh directory under /tmp, removed by its teardown.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_env.h"
#include "test_clock.h"
#include "testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_mkdtemp(dir, "recovery");
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(dir);
	return 0;
}

/* Round of key n in test_many_keys: every 10th key is rewritten, every 97th
 * deleted afterwards (-1). */
static int many_round(uint64_t n)
{
	if (n % 97 == 0)
		return -1;
	return n % 10 == 0 ? 1 : 0;
}

#define MANY 500000

static void test_many_keys(void **state)
{
	wb_options o = tu_options(256 << 10);
	wb_db *db = tu_open(dir, &o);
	char k[32], v[64];
	for (uint64_t n = 0; n < MANY; n++) {
		size_t kl = tu_key(k, "key/", n);
		tu_putn(db, k, kl, v, tu_value(v, 16 + n % 32, n, 0));
	}
	for (uint64_t n = 0; n < MANY; n += 10) {
		size_t kl = tu_key(k, "key/", n);
		tu_putn(db, k, kl, v, tu_value(v, 16 + n % 32, n, 1));
	}
	for (uint64_t n = 0; n < MANY; n += 97) {
		size_t kl = tu_key(k, "key/", n);
		assert_int_equal(wb_delete(db, k, kl), WB_OK);
	}
	assert_int_equal(wb_close(db), WB_OK);
	assert_true(tu_count_suffix(dir, ".sst") > 20); /* many flushes happened */

	db = tu_open(dir, &o);
	for (uint64_t n = 0; n < MANY; n++) {
		size_t kl = tu_key(k, "key/", n);
		int r = many_round(n);
		if (r < 0)
			tu_expect_missing(db, k, kl);
		else
			tu_expect(db, k, kl, v, tu_value(v, 16 + n % 32, n, (uint64_t)r));
	}
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	uint64_t n = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it), n++) {
		while (many_round(n) < 0)
			n++;
		size_t kl, vl, want = tu_key(k, "key/", n);
		const void *key = wb_iter_key(it, &kl), *val = wb_iter_value(it, &vl);
		assert_int_equal(kl, want);
		assert_memory_equal(key, k, kl);
		size_t wl = tu_value(v, 16 + n % 32, n, (uint64_t)many_round(n));
		assert_int_equal(vl, wl);
		assert_memory_equal(val, v, vl);
	}
	assert_int_equal(wb_iter_status(it), WB_OK);
	assert_int_equal(n, MANY);
	wb_iter_free(it);
	assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
}

static void test_synced_survives_power_loss(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(64 << 10);
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	char k[32], v[64];
	for (uint64_t n = 0; n < 20000; n++) {
		size_t kl = tu_key(k, "a/", n);
		tu_putn(db, k, kl, v, tu_value(v, 40, n, 0));
		if (n % 5000 == 4999)
			assert_int_equal(wb_sync(db), WB_OK);
	}
	for (uint64_t n = 0; n < 3000; n++) {
		size_t kl = tu_key(k, "b/", n);
		tu_putn(db, k, kl, v, tu_value(v, 40, n, 1));
	}
	tu_crash(db, fe);

	db = tu_open(dir, &o);
	for (uint64_t n = 0; n < 20000; n++) {
		size_t kl = tu_key(k, "a/", n);
		tu_expect(db, k, kl, v, tu_value(v, 40, n, 0));
	}
	/* of the unsynced writes, some prefix may have survived */
	uint64_t kept = 0;
	void *got;
	size_t gl;
	while (kept < 3000) {
		size_t kl = tu_key(k, "b/", kept);
		if (wb_get(db, k, kl, &got, &gl) != WB_OK)
			break;
		assert_int_equal(gl, tu_value(v, 40, kept, 1));
		assert_memory_equal(got, v, gl);
		wb_free(got);
		kept++;
	}
	for (uint64_t n = kept; n < 3000; n++) {
		size_t kl = tu_key(k, "b/", n);
		tu_expect_missing(db, k, kl);
	}
	/* and the database works on: write, crash again, all synced kept */
	tu_put(db, "after", "crash");
	assert_int_equal(wb_sync(db), WB_OK);
	tu_crash(db, fe);
	db = tu_open(dir, &o);
	tu_expect_str(db, "after", "crash");
	tu_expect(db, "a/00019999", 10, v, tu_value(v, 40, 19999, 0));
	assert_int_equal(wb_close(db), WB_OK);
	fault_env_free(fe);
}

static void test_ts_continue(void **state)
{
	wb_options o = tu_options(64 << 10);
	wb_db *db = tu_open(dir, &o);
	wb_key_info info;
	uint64_t last = 0;
	char k[32];
	for (int round = 0; round < 3; round++) {
		for (uint64_t n = 0; n < 2000; n++) {
			size_t kl = tu_key(k, "ts/", n);
			tu_putn(db, k, kl, k, kl);
			assert_int_equal(wb_stat_key(db, k, kl, &info), WB_OK);
			assert_true(info.ts > last);
			last = info.ts;
		}
		if (round == 1) /* the WAL goes: the MANIFEST must carry the clock */
			assert_int_equal(wb_flush(db), WB_OK);
		assert_int_equal(wb_close(db), WB_OK);
		db = tu_open(dir, &o);
		assert_int_equal(wb_stat_key(db, "ts/00001999", 11, &info), WB_OK);
		assert_true(info.ts == last); /* the stored version keeps its stamp */
		tu_put(db, "new", "x");
		assert_int_equal(wb_stat_key(db, "new", 3, &info), WB_OK);
		assert_true(info.ts > last);
		last = info.ts;
	}
	assert_int_equal(wb_close(db), WB_OK);
}

/* Writes n keys "c/<i>" with 60-byte values into one table (flushed). */
static void one_table(uint64_t n, size_t block_size)
{
	wb_options o = tu_options(16 << 20);
	o.block_size = block_size;
	wb_db *db = tu_open(dir, &o);
	char k[32], v[64];
	for (uint64_t i = 0; i < n; i++)
		tu_putn(db, k, tu_key(k, "c/", i), v, tu_value(v, 60, i, 0));
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	assert_int_equal(tu_count_suffix(dir, ".sst"), 1);
}

/* A damaged table holding tombstones must not let the keys it deletes
 * show through from an older table. */
static void test_damaged_tombstones(void **state)
{
	wb_options o = tu_options(16 << 20);
	wb_db *db = tu_open(dir, &o);
	char k[32], name[256], path[PATH_MAX];
	for (uint64_t i = 0; i < 100; i++)
		tu_putn(db, k, tu_key(k, "t/", i), "old", 3);
	assert_int_equal(wb_flush(db), WB_OK);
	assert_true(tu_find_suffix(dir, ".sst", name));
	for (uint64_t i = 0; i < 100; i++)
		assert_int_equal(wb_delete(db, k, tu_key(k, "t/", i)), WB_OK);
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	int n;
	char **names = tu_list(dir, &n);
	for (int i = 0; i < n; i++) /* the newer table: the tombstones */
		if (strstr(names[i], ".sst") && strcmp(names[i], name) > 0)
			snprintf(name, sizeof(name), "%s", names[i]);
	tu_free_names(names, n);
	tu_flip_byte(tu_path(path, dir, name), 20);

	db = tu_open(dir, &o);
	void *got = NULL;
	size_t gl;
	assert_int_equal(wb_get(db, "t/00000000", 10, &got, &gl), WB_ECORRUPT);
	assert_null(got);
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	wb_iter_seek_first(it);
	assert_false(wb_iter_valid(it));
	assert_int_equal(wb_iter_status(it), WB_ECORRUPT);
	wb_iter_seek_last(it);
	assert_false(wb_iter_valid(it));
	assert_int_equal(wb_iter_status(it), WB_ECORRUPT);
	wb_iter_free(it);
	assert_int_equal(wb_close(db), WB_OK);
}

static void test_damaged_table(void **state)
{
	one_table(20000, 4096);
	char name[256], path[PATH_MAX], v[64];
	assert_true(tu_find_suffix(dir, ".sst", name));
	tu_flip_byte(tu_path(path, dir, name), 100); /* inside the first data block */

	wb_options o = tu_options(16 << 20);
	wb_db *db = tu_open(dir, &o); /* data blocks are not read at open */
	void *got = NULL;
	size_t gl;
	assert_int_equal(wb_get(db, "c/00000000", 10, &got, &gl), WB_ECORRUPT);
	assert_null(got);
	assert_non_null(strstr(wb_errmsg(db), name));
	wb_key_info info;
	assert_int_equal(wb_stat_key(db, "c/00000001", 10, &info), WB_ECORRUPT);
	char buf[8];
	assert_int_equal(wb_get_range(db, "c/00000002", 10, 0, buf, 8, &gl), WB_ECORRUPT);
	/* other blocks still read fine */
	tu_expect(db, "c/00019999", 10, v, tu_value(v, 60, 19999, 0));
	tu_expect(db, "c/00010000", 10, v, tu_value(v, 60, 10000, 0));

	/* a scan over the region stops with the error and shows no entry of it */
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	wb_iter_seek_first(it);
	assert_false(wb_iter_valid(it));
	assert_int_equal(wb_iter_status(it), WB_ECORRUPT);
	wb_iter_seek(it, "c/00010000", 10); /* the error sticks */
	assert_false(wb_iter_valid(it));
	assert_int_equal(wb_iter_status(it), WB_ECORRUPT);
	wb_iter_free(it);
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	wb_iter_seek(it, "c/00010000", 10);
	assert_true(wb_iter_valid(it));
	assert_int_equal(wb_iter_status(it), WB_OK);
	size_t kl;
	assert_memory_equal(wb_iter_key(it, &kl), "c/00010000", 10);
	/* backwards into the damage */
	uint64_t i = 10000;
	while (wb_iter_valid(it)) {
		size_t vl;
		const void *val = wb_iter_value(it, &vl);
		assert_int_equal(vl, 60);
		assert_memory_equal(val, v, tu_value(v, 60, i, 0));
		wb_iter_prev(it);
		i--;
	}
	assert_int_equal(wb_iter_status(it), WB_ECORRUPT);
	assert_true(i > 0);
	wb_iter_free(it);

	assert_int_equal(wb_verify(db, NULL, NULL), WB_ECORRUPT);
	assert_non_null(strstr(wb_errmsg(db), name));
	assert_int_equal(wb_close(db), WB_OK);
}

/* Writes n keys "w/<i>" with 100-byte values, all left in the WAL. */
/* n keys in the only WAL; closed cleanly, or the process killed (the
 * bytes stay, but nothing says where the log ended). */
static void fill_wal_ended(uint64_t n, bool clean)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(16 << 20);
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	char k[32], v[128];
	for (uint64_t i = 0; i < n; i++)
		tu_putn(db, k, tu_key(k, "w/", i), v, tu_value(v, 100, i, 0));
	if (clean)
		assert_int_equal(wb_close(db), WB_OK);
	else
		tu_kill(db, fe);
	fault_env_free(fe);
	assert_int_equal(tu_count_suffix(dir, ".sst"), 0);
	assert_int_equal(tu_count_suffix(dir, ".wal"), 1);
}

static void fill_wal(uint64_t n)
{
	fill_wal_ended(n, true);
}

/* Lines wb_repair reported, joined. */
typedef struct report {
	char text[8192];
	int lines;
} report_t;

static void note_report(void *arg, int dropped, const char *what)
{
	report_t *r = arg;
	size_t len = strlen(r->text);
	snprintf(r->text + len, sizeof(r->text) - len, "%s\n", what);
	r->lines++;
}

static void test_damaged_wal(void **state)
{
	fill_wal(2000); /* about 250 KB: 8 blocks of the log */
	char name[256], path[PATH_MAX];
	assert_true(tu_find_suffix(dir, ".wal", name));
	tu_path(path, dir, name);
	assert_true(tu_file_size(path) > 4 * 32768);
	tu_flip_byte(path, 1000);
	uint64_t before = tu_dir_digest(dir);

	wb_options o = tu_options(16 << 20);
	wb_db *db = (wb_db *)1;
	assert_int_equal(wb_open(dir, &o, &db), WB_ECORRUPT);
	assert_null(db);
	assert_non_null(strstr(wb_errmsg(NULL), name));
	assert_true(tu_dir_digest(dir) == before);
	o.read_only = 1;
	assert_int_equal(wb_open(dir, &o, &db), WB_ECORRUPT);
	assert_true(tu_dir_digest(dir) == before);
	/* again: it is not repaired behind our back either */
	o.read_only = 0;
	assert_int_equal(wb_open(dir, &o, &db), WB_ECORRUPT);
	assert_true(tu_dir_digest(dir) == before);
}

/* A crash: nothing says where the log ended, so a cut-off last record is
 * a torn tail, dropped without an error (the info log says so). */
static void test_torn_wal_tail(void **state)
{
	fill_wal_ended(500, false);
	char name[256], path[PATH_MAX], k[32], v[128];
	assert_true(tu_find_suffix(dir, ".wal", name));
	tu_path(path, dir, name);
	tu_truncate(path, (uint64_t)tu_file_size(path) - 3);

	wb_options o = tu_options(16 << 20);
	for (int round = 0; round < 2; round++) {
		wb_db *db = tu_open(dir, &o);
		for (uint64_t i = 0; i < 499; i++)
			tu_expect(db, k, tu_key(k, "w/", i), v, tu_value(v, 100, i, 0));
		if (round == 0) {
			size_t len;
			char *log = tu_read_file(tu_path(path, dir, "LOG"), &len);
			log = realloc(log, len + 1);
			log[len] = '\0';
			assert_non_null(strstr(log, "torn tail after a crash"));
			free(log);
			tu_expect_missing(db, "w/00000499", 10);
			tu_put(db, "w/00000499", "rewritten");
			assert_int_equal(wb_flush(db), WB_OK);
		} else {
			tu_expect_str(db, "w/00000499", "rewritten");
		}
		assert_int_equal(wb_close(db), WB_OK);
	}
}

static void open_fails(int want, const char *mention)
{
	uint64_t before = tu_dir_digest(dir);
	wb_options o = tu_options(1 << 20);
	wb_db *db = (wb_db *)1;
	int rc = wb_open(dir, &o, &db);
	if (rc != want)
		fail_msg("wb_open: %s (%s), expected %s", wb_strerror(rc), wb_errmsg(NULL),
			 wb_strerror(want));
	assert_null(db);
	if (strstr(wb_errmsg(NULL), mention) == NULL)
		fail_msg("message \"%s\" does not mention %s", wb_errmsg(NULL), mention);
	assert_true(tu_dir_digest(dir) == before);
}

/* The same cut after a clean close is damage: the close recorded where the
 * log ended. Nothing is changed until a repair, which keeps the prefix. */
static void test_truncated_wal_after_clean_close(void **state)
{
	fill_wal(500);
	char name[256], path[PATH_MAX], k[32], v[128];
	assert_true(tu_find_suffix(dir, ".wal", name));
	tu_path(path, dir, name);
	tu_truncate(path, (uint64_t)tu_file_size(path) - 3);
	open_fails(WB_ECORRUPT, "closed cleanly");
	open_fails(WB_ECORRUPT, name);
	report_t r = { "", 0 };
	uint64_t dropped = 0;
	wb_options o = tu_options(16 << 20);
	assert_int_equal(wb_repair(dir, &o, note_report, &r, &dropped), WB_OK);
	assert_int_equal(dropped, 1);
	assert_non_null(strstr(r.text, name));
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 499; i++)
		tu_expect(db, k, tu_key(k, "w/", i), v, tu_value(v, 100, i, 0));
	tu_expect_missing(db, "w/00000499", 10);
	assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	/* And a second repair finds nothing to drop. */
	assert_int_equal(wb_repair(dir, &o, NULL, NULL, &dropped), WB_OK);
	assert_int_equal(dropped, 0);
}

/* After a crash a torn tail is fine only in the newest log: a log that
 * another log with records follows was synced whole before that one took
 * writes. */
static void test_torn_wal_before_later_wal(void **state)
{
	fill_wal_ended(500, false);
	char name[256], path[PATH_MAX], later[PATH_MAX];
	assert_true(tu_find_suffix(dir, ".wal", name));
	tu_path(path, dir, name);
	size_t len;
	void *bytes = tu_read_file(path, &len);
	tu_write_file(tu_path(later, dir, "000900.wal"), bytes, len); /* the same records again */
	free(bytes);
	tu_truncate(path, (uint64_t)tu_file_size(path) - 3);
	open_fails(WB_ECORRUPT, "later logs hold writes");
	/* A later log whose first record is damaged took writes too. */
	tu_flip_byte(later, 23 + 7 + 5); /* after the header record, in the first record */
	open_fails(WB_ECORRUPT, "later logs hold writes");
}

/* Without CURRENT, a log holding a record means a database that lost its
 * CURRENT, not a new one; a log whose first record is damaged is refused
 * with that damage; logs with no record (what a crash during the very
 * first open leaves) start afresh. */
static void test_missing_current_with_wal(void **state)
{
	fill_wal_ended(50, false);
	char name[256], path[PATH_MAX], cur[PATH_MAX];
	assert_true(tu_find_suffix(dir, ".wal", name));
	tu_path(path, dir, name);
	assert_int_equal(unlink(tu_path(cur, dir, "CURRENT")), 0);
	open_fails(WB_ECORRUPT, "holds data: not starting afresh");
	tu_flip_byte(path, 23 + 7 + 5); /* the first record */
	open_fails(WB_ECORRUPT, "offset 23: record checksum mismatch");
	tu_truncate(path, 23); /* the header record alone */
	wb_options o = tu_options(1 << 20);
	wb_db *db = tu_open(dir, &o);
	tu_expect_missing(db, "w/00000000", 10);
	assert_int_equal(wb_close(db), WB_OK);
}

static void test_damaged_current_manifest(void **state)
{
	wb_options o = tu_options(64 << 10);
	wb_db *db = tu_open(dir, &o);
	char k[32], v[64], cur[PATH_MAX], man[256] = "", manpath[PATH_MAX];
	for (uint64_t i = 0; i < 3000; i++)
		tu_putn(db, k, tu_key(k, "m/", i), v, tu_value(v, 50, i, 0));
	assert_int_equal(wb_flush(db), WB_OK);
	tu_put(db, "in-wal", "yes");
	assert_int_equal(wb_close(db), WB_OK);

	tu_path(cur, dir, "CURRENT");
	int n;
	char **names = tu_list(dir, &n);
	for (int i = 0; i < n; i++)
		if (strncmp(names[i], "MANIFEST-", 9) == 0)
			snprintf(man, sizeof(man), "%s", names[i]);
	tu_free_names(names, n);
	tu_path(manpath, dir, man);
	char good_current[300];
	snprintf(good_current, sizeof(good_current), "%s\n", man);
	size_t msize;
	void *saved_manifest = tu_read_file(manpath, &msize);
	assert_true(msize > 30);

	tu_write_file(cur, "garbage", 7);
	open_fails(WB_ECORRUPT, "CURRENT");
	tu_write_file(cur, "", 0);
	open_fails(WB_ECORRUPT, "CURRENT");
	tu_write_file(cur, "MANIFEST-999999\n", 16);
	open_fails(WB_ECORRUPT, "MANIFEST-999999");
	unlink(cur);
	open_fails(WB_ECORRUPT, "CURRENT"); /* not taken for a new database */
	tu_write_file(cur, good_current, strlen(good_current));

	/* In the magic of the file header: the header record's checksum
	 * catches it (WB_EFORMAT is for a sound header of another format). */
	tu_flip_byte(manpath, 7 + 2);
	open_fails(WB_ECORRUPT, man);
	tu_flip_byte(manpath, 7 + 2);
	/* the snapshot edit: after the 23-byte header record and its own
	 * 7-byte fragment header */
	tu_flip_byte(manpath, 23 + 7 + 5);
	open_fails(WB_ECORRUPT, man);
	tu_flip_byte(manpath, 23 + 7 + 5);
	tu_truncate(manpath, 0);
	open_fails(WB_ECORRUPT, man);
	tu_write_file(manpath, saved_manifest, msize);
	free(saved_manifest);

	/* a table the MANIFEST lists is gone */
	char sst[256], sstpath[PATH_MAX], saved[PATH_MAX];
	assert_true(tu_find_suffix(dir, ".sst", sst));
	tu_path(sstpath, dir, sst);
	snprintf(saved, sizeof(saved), "%s.saved", dir);
	assert_int_equal(rename(sstpath, saved), 0);
	open_fails(WB_ECORRUPT, sst);
	assert_int_equal(rename(saved, sstpath), 0);

	/* repaired by hand: everything is back */
	db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 3000; i++)
		tu_expect(db, k, tu_key(k, "m/", i), v, tu_value(v, 50, i, 0));
	tu_expect_str(db, "in-wal", "yes");
	assert_int_equal(wb_close(db), WB_OK);
}

/* A flipped byte in the MANIFEST's last edit (the one recording the last
 * flush, whose WAL is gone) must be an error, not a "torn tail" dropped
 * silently: that would lose the table's data, and the open would delete
 * the table as unreferenced. */
static void test_damaged_manifest_last_edit(void **state)
{
	wb_options o = tu_options(64 << 10);
	o.compaction_threads = 0; /* so the last edit is the last flush's */
	wb_db *db = tu_open(dir, &o);
	char k[32], v[64], man[256] = "", manpath[PATH_MAX];
	for (uint64_t i = 0; i < 3000; i++)
		tu_putn(db, k, tu_key(k, "m/", i), v, tu_value(v, 50, i, 0));
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	int n;
	char **names = tu_list(dir, &n);
	for (int i = 0; i < n; i++)
		if (strncmp(names[i], "MANIFEST-", 9) == 0)
			snprintf(man, sizeof(man), "%s", names[i]);
	tu_free_names(names, n);
	tu_path(manpath, dir, man);
	/* Inside the last edit's payload (the clean close's): a whole record
	 * that fails its checksum. */
	tu_flip_byte(manpath, (uint64_t)tu_file_size(manpath) - 2);
	open_fails(WB_ECORRUPT, man);
}

/* A MANIFEST cut inside a flush's edit would lose the table it added (the
 * log it replaced is gone): the open must say so rather than start from
 * the edit before, which would delete the table as an orphan. */
static void test_manifest_cut_in_flush_edit(void **state)
{
	wb_options o = tu_options(16 << 20);
	o.compaction_threads = 0;
	wb_db *db = tu_open(dir, &o);
	char k[32], v[64], man[256] = "", manpath[PATH_MAX];
	for (uint64_t i = 0; i < 2000; i++)
		tu_putn(db, k, tu_key(k, "f/", i), v, tu_value(v, 50, i, 0));
	int n;
	char **names = tu_list(dir, &n);
	for (int i = 0; i < n; i++)
		if (strncmp(names[i], "MANIFEST-", 9) == 0)
			snprintf(man, sizeof(man), "%s", names[i]);
	tu_free_names(names, n);
	tu_path(manpath, dir, man);
	long long before_flush = tu_file_size(manpath);
	assert_int_equal(wb_flush(db), WB_OK);
	tu_putn(db, k, tu_key(k, "g/", 1), v, tu_value(v, 50, 1, 0));
	assert_int_equal(wb_close(db), WB_OK);
	assert_true(tu_file_size(manpath) > before_flush + 10);
	tu_truncate(manpath, (uint64_t)before_flush + 9); /* a fragment of the flush's edit */
	open_fails(WB_ECORRUPT, "the MANIFEST lost edits");
}

/* Twenty logs left unflushed by runs killed in a row (here: one log copied
 * under twenty later numbers, so replay applies the same records twenty
 * times, which is harmless). Each open replays them all; they share
 * memtables, so the database keeps opening (one memtable per log ran out
 * at 16: "too many memtables to replay"). */
static void test_many_unflushed_runs(void **state)
{
	fill_wal_ended(200, false);
	char name[256], path[PATH_MAX], k[32], v[128];
	assert_true(tu_find_suffix(dir, ".wal", name));
	size_t len;
	void *bytes = tu_read_file(tu_path(path, dir, name), &len);
	for (int i = 0; i < 20; i++) {
		char copy[32];
		snprintf(copy, sizeof(copy), "%06d.wal", 900 + i);
		tu_write_file(tu_path(path, dir, copy), bytes, len);
	}
	free(bytes);
	wb_options o = tu_options(16 << 20);
	wb_db *db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 200; i++)
		tu_expect(db, k, tu_key(k, "w/", i), v, tu_value(v, 100, i, 0));
	assert_int_equal(wb_close(db), WB_OK);
}

static void test_no_orphans(void **state)
{
	wb_options o = tu_options(64 << 10);
	wb_db *db = tu_open(dir, &o);
	char k[32], v[64], path[PATH_MAX];
	for (uint64_t i = 0; i < 20000; i++)
		tu_putn(db, k, tu_key(k, "o/", i), v, tu_value(v, 40, i, 0));
	assert_int_equal(wb_flush(db), WB_OK);
	for (uint64_t i = 0; i < 500; i++)
		tu_putn(db, k, tu_key(k, "o/", i), v, tu_value(v, 40, i, 1));
	assert_int_equal(wb_close(db), WB_OK);

	/* leftovers of crashes: a temp file, an unlisted table, an old log and
	 * an old MANIFEST */
	tu_write_file(tu_path(path, dir, "000900.tmp"), "x", 1);
	tu_write_file(tu_path(path, dir, "000901.sst"), "not a table", 11);
	tu_write_file(tu_path(path, dir, "000001.wal"), "not a log", 9);
	tu_write_file(tu_path(path, dir, "MANIFEST-000000"), "old", 3);

	/* checked without compactions, whose outputs and inputs come and go */
	o.compaction_threads = 0;
	db = tu_open(dir, &o);
	assert_int_equal(wb_flush(db), WB_OK); /* the replayed memtable */
	tu_expect_clean_dir(db, dir);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 20000; i++)
		tu_expect(db, k, tu_key(k, "o/", i), v, tu_value(v, 40, i, i < 500));
	assert_int_equal(wb_flush(db), WB_OK);
	tu_expect_clean_dir(db, dir);
	assert_int_equal(wb_close(db), WB_OK);
}

/* A WAL larger than the memtable is replayed into several memtables; it
 * must stay until the last of them is in a table. Here the second flush
 * after the reopen fails for good, then the machine crashes. */
static void test_replay_into_several_memtables(void **state)
{
	wb_options o = tu_options(4 << 20);
	wb_db *db = tu_open(dir, &o);
	char k[32], v[128];
	for (uint64_t i = 0; i < 6000; i++)
		tu_putn(db, k, tu_key(k, "r/", i), v, tu_value(v, 100, i, 0));
	assert_int_equal(wb_close(db), WB_OK);
	char wal[256], path[PATH_MAX];
	assert_true(tu_find_suffix(dir, ".wal", wal));

	/* On a test clock: the failed flush is not retried until it moves. */
	test_clock_t *tc = test_clock_new();
	wb_env base = test_clock_env(tc, NULL);
	fault_env_t *fe = fault_env_new(&base);
	o = tu_options(256 << 10); /* about 4 memtables for the log */
	o.env = fault_env_get(fe);
	o.compaction_threads = 0; /* the calls are counted */
	/* Creations at open: LOG, WAL, MANIFEST, CURRENT's temp file; then
	 * one table per flush. The 6th is the second flush's table. */
	fault_env_fail_nth(fe, FAULT_OPEN_WRITE, 6, WB_EIO, FAULT_STICKY);
	db = tu_open(dir, &o);
	char *json = NULL;
	bool failed = false;
	/* Until the second flush has failed; a minute bounds it. */
	for (int i = 0; i < 6000 && !failed; i++) {
		assert_int_equal(wb_stats_json(db, &json), WB_OK);
		failed = strstr(json, "\"bg_errors\":0,") == NULL;
		wb_free(json);
		if (!failed)
			usleep(10 * 1000);
	}
	assert_true(failed);
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	assert_non_null(strstr(json, "\"flushes\":1,"));
	assert_non_null(strstr(json, "\"bg_errors\":1,")); /* and was not retried */
	wb_free(json);
	assert_true(tu_file_size(tu_path(path, dir, wal)) > 0);
	tu_crash(db, fe);

	db = tu_open(dir, &o);
	for (uint64_t i = 0; i < 6000; i++)
		tu_expect(db, k, tu_key(k, "r/", i), v, tu_value(v, 100, i, 0));
	assert_int_equal(wb_close(db), WB_OK);
	fault_env_free(fe);
	test_clock_free(tc);
}

/* Lines of the info log handed to a callback. */
typedef struct lines {
	pthread_mutex_t mu;
	char text[1 << 16];
	size_t len;
} lines_t;

static void collect(void *arg, const char *line)
{
	lines_t *l = arg;
	pthread_mutex_lock(&l->mu);
	int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", line);
	if (n > 0 && l->len + (size_t)n < sizeof(l->text))
		l->len += (size_t)n;
	pthread_mutex_unlock(&l->mu);
}

/* wb_options.info_log gets every line, about every kind of background work,
 * and no LOG file is written. */
static void test_info_log_callback(void **state)
{
	static lines_t l = { PTHREAD_MUTEX_INITIALIZER, "", 0 };
	wb_options o = tu_options(1 << 20);
	o.info_log = collect;
	o.info_log_arg = &l;
	o.value_threshold = 1024;
	o.vlog_segment_size = 256 << 10;
	o.vlog_gc_interval_ms = 0; /* the reclaim below is this test's own */
	wb_db *db = tu_open(dir, &o);
	char k[32], v[4096];
	for (int round = 0; round < 2; round++) {
		for (uint64_t i = 0; i < 300; i++)
			tu_putn(db, k, tu_key(k, "i/", i), v, tu_value(v, 3000, i, round));
		assert_int_equal(wb_flush(db), WB_OK);
	}
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	uint64_t r, total = 0;
	do {
		assert_int_equal(wb_vlog_gc(db, &r), WB_OK);
		total += r;
	} while (r > 0);
	assert_true(total > 0);
	assert_int_equal(wb_close(db), WB_OK);
	char path[PATH_MAX];
	assert_true(tu_file_size(tu_path(path, dir, "LOG")) < 0);
	const char *want[] = { "opening ", "open: new database", "flushed ", ".sst (",
			       "compacted ", "value-log reclaim: ", "closed" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(l.text, want[i]) == NULL)
			fail_msg("no \"%s\" in the info log:\n%s", want[i], l.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_synced_survives_power_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ts_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_tombstones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_wal_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_wal_after_clean_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_wal_before_later_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_current_with_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_current_manifest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_manifest_last_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_cut_in_flush_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_unflushed_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_log_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_into_several_memtables, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
