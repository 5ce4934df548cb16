/*
 * test_vlog_recovery.c -- the value log across crashes, damage and repair
 * (recovery in engine/src/db/db_open.c and engine/src/vlog/vlog.c; the
 * rules in docs/format.md, "Recovery"):
 *
 *   - a lost value-log tail after a crash: replay stops at the first batch
 *     whose value is gone (a prefix), and the cut stays after new writes;
 *     the same loss (or a changed byte) after a clean close is damage: the
 *     open fails, and wb_repair drops that batch alone, keeping the rest;
 *     a damaged value only a table points at is deleted by wb_repair;
 *   - a power loss after a new segment was made but not synced, and after
 *     an open adopted a segment whose sync had failed in the last run;
 *   - kill points with sync=always: every acknowledged batch survives;
 *   - map mode (entries stored through a mapped window): a process killed
 *     without closing keeps every acknowledged value; the zeros it leaves
 *     after the last entry read as the end, a torn entry before them as a
 *     torn tail, a stray byte among them as damage.
 */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
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
#include "testutil.h"
#include "vlog_testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_mkdtemp(dir, "vlog-recovery");
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(dir);
	return 0;
}

/* wb_repair's report: lines appended to a 2048-byte buffer. */
static void note_line(void *arg, int dropped, const char *what)
{
	char *text = arg;
	size_t len = strlen(text);
	snprintf(text + len, 2048 - len, "%s\n", what);
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
	wb_options o = vt_options();
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
				vt_expect_big(db, i, 2000, 0);
				tu_expect(db, k, kl, "x", 1);
			} else {
				tu_expect_missing(db, k, kl);
				kl = tu_key(k, "k", i);
				tu_expect_missing(db, k, kl);
			}
		}
		if (round == 0) {
			vt_put_big(db, 500, 3000, 9);
			tu_put(db, "after", "cut");
		}
		vt_expect_big(db, 500, 3000, 9);
		tu_expect_str(db, "after", "cut");
		vt_verify_and_close(db, WB_OK);
	}
}

/* The same loss after a clean close is damage to synced data (the close
 * synced every value its log points at): the open fails naming the log
 * record and the value, and changes nothing; a repair drops that batch
 * alone and keeps every batch after it. A byte changed inside a value is
 * the same. */
static void test_lost_value_after_clean_close(void **state)
{
	wb_options o = vt_options();
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
				vt_expect_big(db, i, 2000, 0);
				tu_expect(db, k, kl, "x", 1);
			}
		}
		vt_verify_and_close(db, WB_OK);
		tu_rmtree(dir);
		assert_int_equal(mkdir(dir, 0755), 0);
	}
}

/* A damaged value that only a table points at (flushed): reads of it fail
 * until a repair deletes the key, which it reports. */
static void test_repair_deletes_damaged_value(void **state)
{
	wb_options o = vt_options();
	wb_db *db = tu_open(dir, &o);
	vt_put_big(db, 1, 8000, 1);
	vt_put_big(db, 2, 8000, 2);
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
	vt_expect_big(db, 2, 8000, 2);
	assert_int_equal(wb_close(db), WB_OK);
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
		wb_options o = vt_options();
		o.env = fault_env_get(fe);
		wb_db *db = tu_open(dir, &o);
		for (int i = 0; i < 50; i++)
			tu_put(db, "small", "value");
		assert_int_equal(wb_sync(db), WB_OK);
		tu_crash(db, fe); /* the WAL is replayed at the next open */
		db = tu_open(dir, &o);
		vt_put_big(db, 1, 9000, 1); /* a new segment, not synced (sync none) */
		for (int wait = 0; wait < 500 && tu_tables(db) == 0; wait++)
			usleep(10000);
		tu_crash(db, fe);
		int rc = wb_open(dir, &o, &db);
		if (rc != WB_OK)
			fail_msg("attempt %d: reopen after a power loss: %s: %s", attempt,
				 wb_strerror(rc), wb_errmsg(NULL));
		tu_expect_str(db, "small", "value");
		vt_verify_and_close(db, WB_OK);
		fault_env_free(fe);
	}
}

/* A segment whose sync failed in the last run, and which that run's WAL
 * points into, is only in the page cache when the next open adopts it. The
 * flush of the replayed memtable then names it in the MANIFEST, so the open
 * must make it durable first, or a power cut leaves the MANIFEST naming a
 * missing file. Found by faultcrash (seed 2070876838): "EIO on remove 1
 * (sticky), then power loss ... value-log segment 000019.vlog listed in the
 * MANIFEST is missing", after a cycle whose syncs all failed. */
static void test_power_loss_after_adopting_unsynced_segment(void **state)
{
	for (int failing = 0; failing <= 1; failing++) {
		tu_rmtree(dir);
		fault_env_t *fe = fault_env_new(NULL);
		wb_options o = vt_options();
		o.env = fault_env_get(fe);
		o.sync = WB_SYNC_NONE;
		wb_db *db = tu_open(dir, &o);
		tu_put(db, "small", "value");
		/* The value reaches the segment and the record the WAL, in the
		 * page cache only: nothing syncs them, or every sync fails. */
		if (failing)
			fault_env_fail_nth(fe, FAULT_SYNC, 1, WB_EIO, FAULT_STICKY);
		uint8_t big[9000];
		memset(big, 'v', sizeof(big));
		assert_int_equal(wb_put(db, "big", 3, big, sizeof(big)), WB_OK);
		tu_kill(db, fe); /* the page cache survives: the next open sees it all */

		db = tu_open(dir, &o);
		for (int wait = 0; wait < 500 && tu_tables(db) == 0; wait++)
			usleep(10000);
		assert_true(tu_tables(db) > 0);
		tu_crash(db, fe);
		int rc = wb_open(dir, &o, &db);
		if (rc != WB_OK)
			fail_msg("%s: reopen after a power loss: %s: %s",
				 failing ? "syncs failed" : "no sync", wb_strerror(rc), wb_errmsg(NULL));
		tu_expect_str(db, "small", "value");
		void *val;
		size_t len;
		assert_int_equal(wb_get(db, "big", 3, &val, &len), WB_OK);
		assert_int_equal(len, sizeof(big));
		assert_memory_equal(val, big, sizeof(big));
		wb_free(val);
		vt_verify_and_close(db, WB_OK);
		fault_env_free(fe);
	}
}

/* Kill points with sync=always over batches holding large values: every
 * acknowledged batch survives and every value reads back whole. */
static void test_kill_points_sync_always(void **state)
{
	wb_options o = vt_options();
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
				vt_expect_big(db, i, 3000 + i * 50, 0);
			} else {
				kl = tu_key(k, "k", i);
				tu_expect_missing(db, k, kl);
			}
		}
		assert_true(present >= acked);
		vt_verify_and_close(db, WB_OK);
		fault_env_free(fe);
	}
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
	*o = vt_options();
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
		vt_expect_big(db, i, mapped_len(i), 1);
}

static void test_map_mode_process_crash(void **state)
{
	wb_options o;
	char p[PATH_MAX];
	killed_writer(&o, p);
	uint64_t end = vt_last_nonzero_end(p);
	/* Zeros prepared ahead of the entries are still there: the child
	 * stored through the map and never sealed the segment. */
	assert_true((uint64_t)tu_file_size(p) > end + 1000);

	/* First as the child left it: everything acknowledged is there. */
	wb_db *db = tu_open(dir, &o);
	expect_mapped(db, MAPPED_N);
	vt_verify_and_close(db, WB_OK);

	/* A stray byte among the zeros is damage, not the end. */
	tu_flip_byte(p, (uint64_t)tu_file_size(p) - 10);
	db = tu_open(dir, &o);
	assert_int_equal(wb_verify(db, NULL, NULL), WB_ECORRUPT);
	assert_non_null(strstr(wb_errmsg(db), "empty key"));
	assert_int_equal(wb_close(db), WB_OK);
	tu_flip_byte(p, (uint64_t)tu_file_size(p) - 10);
	db = tu_open(dir, &o);
	vt_verify_and_close(db, WB_OK);
}

/* A kill during the store of the last entry: the entry cut short, zeros
 * after it. Its write was never synced, so replay drops it; verify takes
 * it for a crash's tail. */
static void test_map_mode_torn_entry(void **state)
{
	wb_options o;
	char p[PATH_MAX];
	killed_writer(&o, p);
	uint64_t end = vt_last_nonzero_end(p);
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
	vt_put_big(db, 1000, 7000, 2);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	vt_expect_big(db, 1000, 7000, 2);
	expect_mapped(db, MAPPED_N - 1);
	tu_expect_missing(db, k, kl);
	vt_verify_and_close(db, WB_OK);
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
	uint64_t end = vt_last_nonzero_end(p);
	assert_true((uint64_t)tu_file_size(p) > end + 8192);
	FILE *f = fopen(p, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)(end + 8), SEEK_SET), 0); /* vlen and ts, not klen */
	for (int i = 0; i < 16; i++)
		putc(0xa5, f);
	fclose(f);
	wb_db *db = tu_open(dir, &o);
	expect_mapped(db, MAPPED_N);
	vt_verify_and_close(db, WB_OK);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lost_tail_cuts_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_value_after_clean_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_deletes_damaged_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_points_sync_always, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_mode_process_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_mode_torn_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_mode_torn_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_loss_after_new_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_loss_after_adopting_unsynced_segment, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
