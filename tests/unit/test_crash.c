/*
 * test_crash.c -- the crash contract of DESIGN.md 3.3, through the fault
 * env (tests/support/fault_env.h): after a crash the database holds the
 * state after some prefix of the acknowledged writes, and that prefix
 * includes every write acknowledged before the last successful sync.
 *
 *   - power loss: batches with sync=none and a wb_sync every few batches,
 *     then the process dies and the power goes;
 *   - kill points: the process dies after N bytes reached the disk, for
 *     about 30 random N over the bytes a whole run writes, with sync=none
 *     and sync=always (where every acknowledged batch must survive), then
 *     the power goes (or, one time in three, not: the torn tail stays);
 *   - ENOSPC on a WAL append: the write fails whole, later ones work; a
 *     full disk while memtables switch and flush loses nothing acknowledged;
 *   - a failing flush (table write, table sync, MANIFEST sync) is retried
 *     and loses nothing, even across a crash; while it fails, writes are
 *     refused with its error, and they work again once a retry does;
 *   - kill -9 of a real process (default env: WAL and value log written
 *     through maps) at random moments while it writes: every put it saw
 *     acknowledged is there, and the database holds a prefix of its puts.
 *
 * The workload: batch i puts "batch/<i>" and rewrites a few of 40 shared
 * keys (deleting one now and then), so the state after any prefix is
 * known and the prefix is found from the batch keys. Every check compares
 * the whole database with the model of that prefix.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_env.h"
#include "testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_mkdtemp(dir, "crash");
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(dir);
	return 0;
}

#define SHARED 40

/* Calls fn for every operation of batch i: del is 1 for a delete. */
static void batch_ops(uint64_t i, void (*fn)(void *arg, bool del, const char *k, size_t kl,
					     const char *v, size_t vl),
		      void *arg)
{
	char k[32], v[96];
	size_t kl = tu_key(k, "batch/", i);
	fn(arg, false, k, kl, v, tu_value(v, 20 + i % 60, i, 0));
	for (uint64_t j = 0; j < 3; j++) {
		kl = tu_key(k, "shared/", (i * 7 + j * 13) % SHARED);
		fn(arg, false, k, kl, v, tu_value(v, 30 + j * 10, i, j + 1));
	}
	if (i % 5 == 4) {
		kl = tu_key(k, "shared/", (i * 3) % SHARED);
		fn(arg, true, k, kl, NULL, 0);
	}
}

static void to_batch(void *arg, bool del, const char *k, size_t kl, const char *v, size_t vl)
{
	if (del)
		assert_int_equal(wb_batch_delete(arg, k, kl), WB_OK);
	else
		assert_int_equal(wb_batch_put(arg, k, kl, v, vl), WB_OK);
}

static void to_model(void *arg, bool del, const char *k, size_t kl, const char *v, size_t vl)
{
	if (del)
		tu_model_del(arg, k, kl);
	else
		tu_model_put(arg, k, kl, v, vl);
}

static int write_batch(wb_db *db, wb_batch *b, uint64_t i)
{
	wb_batch_clear(b);
	batch_ops(i, to_batch, b);
	return wb_write(db, b);
}

/* Checks that db holds exactly the state after batches [0, p) for some p
 * with lo <= p <= hi, and returns p. */
static uint64_t expect_prefix(wb_db *db, uint64_t lo, uint64_t hi, uint64_t total)
{
	char k[32];
	uint64_t p = 0;
	void *v;
	size_t vl;
	for (uint64_t i = 0; i < total; i++) {
		size_t kl = tu_key(k, "batch/", i);
		int rc = wb_get(db, k, kl, &v, &vl);
		if (rc == WB_OK) {
			wb_free(v);
			if (p != i)
				fail_msg("batch %llu is there but batch %llu is not",
					 (unsigned long long)i, (unsigned long long)p);
			p = i + 1;
		} else if (rc != WB_ENOTFOUND) {
			fail_msg("wb_get(%s): %s: %s", k, wb_strerror(rc), wb_errmsg(db));
		}
	}
	if (p < lo || p > hi)
		fail_msg("recovered %llu batches, expected %llu..%llu", (unsigned long long)p,
			 (unsigned long long)lo, (unsigned long long)hi);
	tu_model_t m = { 0 };
	for (uint64_t i = 0; i < p; i++)
		batch_ops(i, to_model, &m);
	tu_expect_db_equals(db, &m);
	tu_model_free(&m);
	return p;
}

static void test_power_loss(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(16 << 10); /* flushes every ~80 batches */
	o.env = fault_env_get(fe);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	uint64_t done = 0;
	static const int every[] = { 37, 101, 7, 0 }; /* 0: never syncs */
	for (int round = 0; round < 4; round++) {
		wb_db *db = tu_open(dir, &o);
		uint64_t start = done, synced = done, end = done + 600 + (uint64_t)round * 97;
		for (uint64_t i = start; i < end; i++) {
			assert_int_equal(write_batch(db, b, i), WB_OK);
			if (every[round] && (i - start) % (uint64_t)every[round] == 0) {
				assert_int_equal(wb_sync(db), WB_OK);
				synced = i + 1;
			}
		}
		tu_crash(db, fe);
		/* reopen with the plain env every other time */
		wb_options o2 = o;
		o2.compaction_threads = 0; /* for tu_expect_clean_dir */
		if (round % 2)
			o2.env = NULL;
		db = tu_open(dir, &o2);
		done = expect_prefix(db, synced, end, end + 10);
		assert_int_equal(wb_flush(db), WB_OK);
		tu_expect_clean_dir(db, dir);
		assert_int_equal(wb_close(db), WB_OK);
	}
	wb_batch_free(b);
	fault_env_free(fe);
}

/* One run of the kill-point workload: n batches, a wb_sync every 25 with
 * sync=none. Stops at the first failure. */
struct run {
	uint64_t acked;  /* batches whose wb_write returned WB_OK */
	uint64_t synced; /* batches covered by a successful wb_sync (or sync=always) */
	bool opened;
};

static struct run run_workload(fault_env_t *fe, int sync, uint64_t n)
{
	struct run r = { 0 };
	wb_options o = tu_options(8 << 10);
	o.sync = sync;
	o.env = fault_env_get(fe);
	wb_db *db;
	if (wb_open(dir, &o, &db) != WB_OK)
		return r;
	r.opened = true;
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	for (uint64_t i = 0; i < n; i++) {
		if (write_batch(db, b, i) != WB_OK)
			break;
		r.acked = i + 1;
		if (sync == WB_SYNC_ALWAYS) {
			r.synced = r.acked;
		} else if (i % 25 == 24) {
			if (wb_sync(db) != WB_OK)
				break;
			r.synced = r.acked;
		}
	}
	wb_batch_free(b);
	wb_close(db); /* may fail: the process is "dead" */
	return r;
}

static void test_kill_points(void **state)
{
	const uint64_t n = 300;
	uint64_t rs = tu_seed(0x5eed);
	for (int mode = 0; mode < 2; mode++) {
		int sync = mode ? WB_SYNC_ALWAYS : WB_SYNC_NONE;
		/* how many bytes a whole run appends */
		fault_env_t *fe = fault_env_new(NULL);
		struct run r = run_workload(fe, sync, n);
		assert_int_equal(r.acked, n);
		struct fault_env_counts c;
		fault_env_counts(fe, &c);
		fault_env_free(fe);
		tu_rmtree(dir);
		assert_true(c.bytes_appended > 10000);

		for (int k = 0; k < 15; k++) {
			assert_int_equal(mkdir(dir, 0700), 0);
			fe = fault_env_new(NULL);
			uint64_t point = 1 + tu_rand(&rs) % c.bytes_appended;
			fault_env_kill_after_bytes(fe, point);
			r = run_workload(fe, sync, n);
			/* Every third time only the process dies: what it appended
			 * stays, torn tail included, and the batch in flight (appended
			 * whole, but its sync or ack never came) may be there too. */
			bool power_lost = k % 3 != 2;
			if (power_lost)
				assert_int_equal(fault_env_power_loss(fe), WB_OK);
			else
				fault_env_clear_faults(fe);

			wb_options o = tu_options(8 << 10);
			o.env = k % 2 ? NULL : fault_env_get(fe);
			o.compaction_threads = 0; /* for tu_expect_clean_dir */
			wb_db *db;
			int rc = wb_open(dir, &o, &db);
			if (rc != WB_OK)
				fail_msg("kill at byte %llu of %llu (sync %d): reopen: %s: %s",
					 (unsigned long long)point,
					 (unsigned long long)c.bytes_appended, sync,
					 wb_strerror(rc), wb_errmsg(NULL));
			expect_prefix(db, r.synced, r.acked + !power_lost, n);
			assert_int_equal(wb_flush(db), WB_OK); /* then nothing stray is left */
			tu_expect_clean_dir(db, dir);
			/* it takes writes again, and keeps them */
			tu_put(db, "after", "kill");
			assert_int_equal(wb_close(db), WB_OK);
			db = tu_open(dir, &o);
			tu_expect_str(db, "after", "kill");
			assert_int_equal(wb_close(db), WB_OK);
			fault_env_free(fe);
			tu_rmtree(dir);
		}
	}
	assert_int_equal(mkdir(dir, 0700), 0); /* for the teardown */
}

static void test_enospc_on_wal(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(4 << 20); /* no flush: only the WAL appends */
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	tu_model_t m = { 0 };
	for (uint64_t i = 0; i < 50; i++) {
		assert_int_equal(write_batch(db, b, i), WB_OK);
		batch_ops(i, to_model, &m);
	}
	/* one failing append: the batch fails whole */
	fault_env_fail_nth(fe, FAULT_APPEND, 1, WB_ENOSPC, FAULT_ONCE);
	wb_batch_clear(b);
	batch_ops(50, to_batch, b);
	assert_int_equal(wb_write(db, b), WB_ENOSPC);
	tu_expect_missing(db, "batch/00000050", 14);
	tu_expect_db_equals(db, &m);
	fault_env_fail_nth(fe, FAULT_APPEND, 1, WB_ENOSPC, FAULT_ONCE);
	assert_int_equal(wb_put(db, "single", 6, "x", 1), WB_ENOSPC);
	tu_expect_missing(db, "single", 6);

	/* a full disk: everything fails until space comes back */
	fault_env_fail_nth(fe, FAULT_APPEND, 1, WB_ENOSPC, FAULT_STICKY);
	for (uint64_t i = 50; i < 55; i++)
		assert_int_equal(write_batch(db, b, i), WB_ENOSPC);
	assert_int_equal(wb_delete(db, "batch/00000001", 14), WB_ENOSPC);
	tu_expect_db_equals(db, &m);
	fault_env_clear_faults(fe);
	for (uint64_t i = 50; i < 100; i++) {
		assert_int_equal(write_batch(db, b, i), WB_OK);
		batch_ops(i, to_model, &m);
	}
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_sync(db), WB_OK);
	tu_crash(db, fe);
	db = tu_open(dir, &o);
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
	wb_batch_free(b);
	fault_env_free(fe);
}

/* A full disk while memtables switch and flush: every write fails whole
 * (WAL append, or creating the next WAL), background flushes fail and are
 * retried, and once space is back everything acknowledged is kept. */
static void test_full_disk(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(16 << 10);
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	tu_model_t m = { 0 };
	uint64_t i = 0, failed = 0;
	for (int phase = 0; phase < 3; phase++) {
		fault_env_fail_nth(fe, FAULT_APPEND, 1 + phase * 7, WB_ENOSPC, FAULT_STICKY);
		for (int j = 0; j < 150; j++, i++) {
			int rc = write_batch(db, b, i);
			if (rc == WB_OK) {
				batch_ops(i, to_model, &m);
			} else {
				assert_int_equal(rc, WB_ENOSPC);
				failed++;
			}
		}
		tu_expect_db_equals(db, &m);
		fault_env_clear_faults(fe);
		/* A flush that failed meanwhile keeps writes refused until its
		 * retry works: wb_flush retries at once. */
		assert_int_equal(wb_flush(db), WB_OK);
		for (int j = 0; j < 150; j++, i++) {
			assert_int_equal(write_batch(db, b, i), WB_OK);
			batch_ops(i, to_model, &m);
		}
	}
	assert_true(failed > 300);
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_sync(db), WB_OK);
	tu_crash(db, fe);
	o.compaction_threads = 0; /* for tu_expect_clean_dir */
	db = tu_open(dir, &o);
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_flush(db), WB_OK);
	tu_expect_clean_dir(db, dir);
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
	wb_batch_free(b);
	fault_env_free(fe);
}

/* Flushes fail for good (the new table cannot be opened for reading):
 * once the first one has failed, writes fail with its error and a message
 * naming the table, without waiting for the memtables to fill; once the
 * cause is gone, wb_flush retries at once and writes go on. */
static void test_flush_stall(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(8 << 10);
	o.max_immutable = 1;
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	tu_model_t m = { 0 };
	fault_env_fail_nth(fe, FAULT_OPEN_READ, 1, WB_EIO, FAULT_STICKY);
	uint64_t i = 0;
	int rc;
	while ((rc = write_batch(db, b, i)) == WB_OK) {
		batch_ops(i++, to_model, &m);
		assert_true(i < 1000);
	}
	assert_int_equal(rc, WB_EIO);
	assert_non_null(strstr(wb_errmsg(db), "flush of"));
	assert_non_null(strstr(wb_errmsg(db), ".sst"));
	/* Refused from the first failure on: one memtable's worth (about 20
	 * batches of 8 KiB) got in, not the two that a stall would take. */
	assert_true(i < 30);
	tu_expect_db_equals(db, &m);
	fault_env_clear_faults(fe);
	assert_int_equal(wb_flush(db), WB_OK); /* the retry, now */
	for (uint64_t end = i + 200; i < end; i++) {
		assert_int_equal(write_batch(db, b, i), WB_OK);
		batch_ops(i, to_model, &m);
	}
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_sync(db), WB_OK);
	tu_crash(db, fe);
	o.compaction_threads = 0; /* for tu_expect_clean_dir */
	db = tu_open(dir, &o);
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_flush(db), WB_OK);
	tu_expect_clean_dir(db, dir);
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
	wb_batch_free(b);
	fault_env_free(fe);
}

/* wb_flush with the n-th call of kind op failing. Counted from the flush
 * call, with nothing else running: the memtable switch makes one WAL
 * (OPEN_WRITE 1, APPEND 1, SYNC_DIR 1) and syncs the old one (SYNC 1);
 * then the flush makes the table (OPEN_WRITE 2, then its appends), syncs
 * it (SYNC 2) and the directory (SYNC_DIR 2), and appends and syncs the
 * MANIFEST edit (SYNC 3). */
static void failing_flush(enum fault_op op, int nth, bool then_crash)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(4 << 20);
	o.env = fault_env_get(fe);
	o.compaction_threads = 0; /* the calls are counted, the tables too */
	wb_db *db = tu_open(dir, &o);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	tu_model_t m = { 0 };
	for (uint64_t i = 0; i < 200; i++) {
		assert_int_equal(write_batch(db, b, i), WB_OK);
		batch_ops(i, to_model, &m);
	}
	fault_env_fail_nth(fe, op, nth, WB_EIO, FAULT_ONCE);
	assert_int_equal(wb_flush(db), WB_EIO);
	assert_non_null(strstr(wb_errmsg(db), "flush of"));
	assert_int_equal(tu_tables(db), 0);
	tu_expect_db_equals(db, &m); /* still served from the frozen memtable */
	/* Refused until a retry works (unless the retry came first). */
	int rc = write_batch(db, b, 200);
	if (rc == WB_OK)
		batch_ops(200, to_model, &m);
	else
		assert_int_equal(rc, WB_EIO);
	int tables = rc == WB_OK ? 3 : 2; /* batch 200 made a memtable of its own */
	if (then_crash) {
		assert_int_equal(wb_sync(db), WB_OK); /* still syncs what was acknowledged */
		tu_crash(db, fe);
	} else {
		assert_int_equal(wb_flush(db), WB_OK); /* the retry works */
		for (uint64_t i = 201; i < 300; i++) { /* and writes go on */
			assert_int_equal(write_batch(db, b, i), WB_OK);
			batch_ops(i, to_model, &m);
		}
		assert_int_equal(wb_flush(db), WB_OK);
		assert_int_equal(tu_tables(db), tables);
		tu_expect_db_equals(db, &m);
		assert_int_equal(wb_close(db), WB_OK);
	}
	db = tu_open(dir, &o);
	tu_expect_db_equals(db, &m);
	assert_int_equal(wb_flush(db), WB_OK);
	if (!then_crash) /* the failed attempt left nothing in the tree */
		assert_int_equal(tu_tables(db), tables);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o);
	tu_expect_db_equals(db, &m);
	/* no table left over from the failed attempt */
	assert_int_equal(tu_count_suffix(dir, ".sst"), tu_tables(db));
	assert_int_equal(wb_close(db), WB_OK);
	tu_model_free(&m);
	wb_batch_free(b);
	fault_env_free(fe);
	tu_rmtree(dir);
	assert_int_equal(mkdir(dir, 0700), 0);
}

static void test_failing_flush(void **state)
{
	failing_flush(FAULT_OPEN_WRITE, 2, false); /* creating the table */
	failing_flush(FAULT_APPEND, 2, false);     /* writing the table */
	failing_flush(FAULT_SYNC, 2, false);       /* syncing the table */
	failing_flush(FAULT_SYNC_DIR, 2, false);   /* syncing its name */
	failing_flush(FAULT_SYNC, 3, false);       /* syncing the MANIFEST edit */
	failing_flush(FAULT_SYNC, 3, true);
	failing_flush(FAULT_SYNC, 2, true);
}

/* Value of key i written in round r: 5000 B for every third key (the
 * value log), else 100 B (inline in the WAL record). */
static size_t kill_value(char *v, uint64_t i, uint64_t r)
{
	return tu_value(v, i % 3 == 0 ? 5000 : 100, i, r);
}

/* Child: puts key i = 0, 1, ... with round r's values and counts each
 * acknowledged put in *acked, until killed. */
static void put_until_killed(const wb_options *o, uint64_t r, _Atomic uint64_t *acked)
{
	wb_db *db;
	if (wb_open(dir, o, &db) != WB_OK)
		_exit(2);
	char v[5000];
	for (uint64_t i = 0;; i++) {
		char k[32];
		size_t kl = tu_key(k, "k", i);
		if (wb_put(db, k, kl, v, kill_value(v, i, r)) != WB_OK)
			_exit(3);
		atomic_store(acked, i + 1);
	}
}

/* Does key i hold its value of round r? */
static bool has_round(wb_db *db, uint64_t i, uint64_t r)
{
	char k[32], v[5000];
	size_t kl = tu_key(k, "k", i), vl = kill_value(v, i, r);
	void *got;
	size_t gl;
	int rc = wb_get(db, k, kl, &got, &gl);
	if (rc != WB_OK && rc != WB_ENOTFOUND)
		fail_msg("k%llu: %s: %s", (unsigned long long)i, wb_strerror(rc), wb_errmsg(db));
	bool same = rc == WB_OK && gl == vl && memcmp(got, v, vl) == 0;
	if (rc == WB_OK)
		wb_free(got);
	return same;
}

static void test_kill9_while_writing(void **state)
{
	_Atomic uint64_t *acked = mmap(NULL, sizeof(*acked), PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(acked != MAP_FAILED);
	wb_options o = tu_options(1u << 20);
	o.value_threshold = 1024;
	o.vlog_segment_size = 8u << 20;
	o.sync = WB_SYNC_NONE;
	o.create_if_missing = 1;
	for (uint64_t round = 1; round <= 8; round++) {
		atomic_store(acked, 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			put_until_killed(&o, round, acked);
		usleep(20000 + (useconds_t)round * 37000);
		/* On a slow machine (or under valgrind) the child may not have
		 * opened the database yet: kill only after its first put. */
		for (int w = 0; w < 30000 && atomic_load(acked) == 0; w++)
			usleep(1000);
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		uint64_t saw = atomic_load(acked);
		assert_true(saw > 0);

		wb_db *db = tu_open(dir, &o);
		uint64_t n = 0;
		while (has_round(db, n, round))
			n++;
		/* Every acknowledged put, and at most the one in flight. */
		if (n < saw || n > saw + 1)
			fail_msg("round %llu: %llu puts acknowledged, the first %llu there",
				 (unsigned long long)round, (unsigned long long)saw, (unsigned long long)n);
		/* A prefix: nothing of this round after the first gap. */
		for (uint64_t i = n + 1; i < n + 200; i++)
			assert_false(has_round(db, i, round));
		assert_int_equal(wb_verify(db, NULL, NULL), WB_OK);
		assert_int_equal(wb_close(db), WB_OK);
	}
	munmap((void *)acked, sizeof(*acked));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_power_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_on_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_stall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_while_writing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
