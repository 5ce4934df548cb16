/*
 * test_txn.c -- MVCC transactions (wb_txn_*, oracle.c, txn.c; DESIGN.md 3.8).
 *
 *   - a transaction sees its own writes (get and iteration, both keyspaces)
 *     and nobody else does before it commits;
 *   - conflicts: write skew is prevented under serializable isolation and
 *     allowed under snapshot isolation; write-write conflicts under both;
 *     a blind wb_put of a key a transaction read conflicts; a phantom
 *     insert into a range a transaction iterated conflicts; read-only
 *     transactions never conflict;
 *   - the commit log of the oracle empties once transactions end;
 *   - a bank: 4 threads move money between accounts while a checker reads
 *     every balance in read-only transactions; the process dies and the
 *     power goes in the middle; the total holds throughout and after;
 *   - a long transaction keeps its snapshot while 1 000 000 other writes
 *     flush and compact; afterwards compaction reclaims the old versions;
 *   - time travel with retain_versions_ms, and refused without it;
 *   - a 100 000-key transaction commits and survives a reopen;
 *   - a commit is one record: a crash at any byte of it keeps all or none.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_env.h"
#include "testutil.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_mkdtemp(dir, "txn");
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(dir);
	return 0;
}

static wb_txn *begin(wb_db *db, unsigned flags)
{
	wb_txn *t = NULL;
	int rc = wb_txn_begin(db, flags, &t);
	if (rc != WB_OK)
		fail_msg("wb_txn_begin: %s: %s", wb_strerror(rc), wb_errmsg(db));
	return t;
}

static void tput(wb_txn *t, const char *k, const char *v)
{
	assert_int_equal(wb_txn_put(t, k, strlen(k), v, strlen(v)), WB_OK);
}

/* The value of k in t as a string (static buffer), or NULL when missing. */
static const char *tget(wb_txn *t, const char *k)
{
	static char buf[256];
	void *v;
	size_t vl;
	int rc = wb_txn_get(t, k, strlen(k), &v, &vl);
	if (rc == WB_ENOTFOUND)
		return NULL;
	assert_int_equal(rc, WB_OK);
	assert_true(vl < sizeof(buf));
	memcpy(buf, v, vl);
	buf[vl] = 0;
	wb_free(v);
	return buf;
}

static void expect_tget(wb_txn *t, const char *k, const char *want)
{
	const char *got = tget(t, k);
	if (want == NULL && got != NULL)
		fail_msg("%s: expected missing, got \"%s\"", k, got);
	if (want != NULL && (got == NULL || strcmp(got, want) != 0))
		fail_msg("%s: expected \"%s\", got %s%s%s", k, want, got ? "\"" : "",
			 got ? got : "missing", got ? "\"" : "");
}

/* "k1=v1 k2=v2 ..." of everything an iterator shows, into buf. */
static const char *scan(wb_iter *it, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
		size_t kl, vl;
		const char *k = wb_iter_key(it, &kl), *v = wb_iter_value(it, &vl);
		n += (size_t)snprintf(buf + n, cap - n, "%s%.*s=%.*s", n ? " " : "", (int)kl, k,
				      (int)vl, v);
		assert_true(n < cap);
	}
	assert_int_equal(wb_iter_status(it), WB_OK);
	return buf;
}

/* The same, backward, so both directions of the merge are checked. */
static const char *scan_back(wb_iter *it, char *buf, size_t cap)
{
	char tmp[64][64];
	int n = 0;
	for (wb_iter_seek_last(it); wb_iter_valid(it); wb_iter_prev(it)) {
		size_t kl, vl;
		const char *k = wb_iter_key(it, &kl), *v = wb_iter_value(it, &vl);
		assert_true(n < 64);
		snprintf(tmp[n++], 64, "%.*s=%.*s", (int)kl, k, (int)vl, v);
	}
	size_t len = 0;
	buf[0] = 0;
	for (int i = n - 1; i >= 0; i--)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? " " : "", tmp[i]);
	return buf;
}

static void test_own_writes(void **state)
{
	wb_options o = tu_options(64 << 10);
	wb_db *db = tu_open(dir, &o);
	tu_put(db, "a", "1");
	tu_put(db, "b", "2");
	tu_put(db, "d", "4");
	assert_int_equal(wb_flush(db), WB_OK); /* some on disk, some in memory */
	tu_put(db, "e", "5");

	wb_txn *t = begin(db, 0);
	tput(t, "b", "20");
	tput(t, "c", "3");
	assert_int_equal(wb_txn_delete(t, "d", 1), WB_OK);
	tput(t, "c", "30"); /* the later write of a key wins */
	assert_int_equal(wb_txn_put_ks(t, WB_KS_META, "a", 1, "meta", 4), WB_OK);
	expect_tget(t, "a", "1");
	expect_tget(t, "b", "20");
	expect_tget(t, "c", "30");
	expect_tget(t, "d", NULL);
	void *v;
	size_t vl;
	assert_int_equal(wb_txn_get_ks(t, WB_KS_META, "a", 1, &v, &vl), WB_OK);
	assert_memory_equal(v, "meta", 4);
	wb_free(v);

	char buf[512];
	wb_iter *it;
	assert_int_equal(wb_txn_iter_new(t, NULL, &it), WB_OK);
	assert_string_equal(scan(it, buf, sizeof(buf)), "a=1 b=20 c=30 e=5");
	assert_string_equal(scan_back(it, buf, sizeof(buf)), "a=1 b=20 c=30 e=5");
	/* a write while the iterator is open shows from its next seek */
	tput(t, "bb", "x");
	assert_string_equal(scan(it, buf, sizeof(buf)), "a=1 b=20 bb=x c=30 e=5");
	wb_iter_seek(it, "b", 1);
	assert_true(wb_iter_valid(it));
	assert_int_equal(wb_iter_ts(it), 0); /* own, uncommitted */
	wb_iter_free(it);
	wb_iter_options io = { .keyspace = WB_KS_META };
	assert_int_equal(wb_txn_iter_new(t, &io, &it), WB_OK);
	assert_string_equal(scan(it, buf, sizeof(buf)), "a=meta");
	wb_iter_free(it);
	wb_iter_options pre = { .prefix = "b", .prefix_len = 1 };
	assert_int_equal(wb_txn_iter_new(t, &pre, &it), WB_OK);
	assert_string_equal(scan(it, buf, sizeof(buf)), "b=20 bb=x");
	wb_iter_free(it);

	/* nobody else sees any of it yet */
	tu_expect_str(db, "b", "2");
	tu_expect_missing(db, "c", 1);
	assert_int_equal(wb_get_ks(db, WB_KS_META, "a", 1, &v, &vl), WB_ENOTFOUND);
	assert_int_equal(wb_txn_commit(t), WB_OK);
	tu_expect_str(db, "b", "20");
	tu_expect_str(db, "c", "30");
	tu_expect_str(db, "bb", "x");
	tu_expect_missing(db, "d", 1);
	assert_int_equal(wb_get_ks(db, WB_KS_META, "a", 1, &v, &vl), WB_OK);
	wb_free(v);

	/* one commit timestamp for every write of a transaction */
	wb_key_info ib, ic, im;
	assert_int_equal(wb_stat_key(db, "b", 1, &ib), WB_OK);
	assert_int_equal(wb_stat_key(db, "c", 1, &ic), WB_OK);
	assert_int_equal(wb_stat_key_ks(db, WB_KS_META, "a", 1, &im), WB_OK);
	assert_int_equal(ib.ts, ic.ts);
	assert_int_equal(ib.ts, im.ts);

	/* abort discards; read-only refuses writes */
	t = begin(db, 0);
	tput(t, "z", "gone");
	wb_txn_abort(t);
	tu_expect_missing(db, "z", 1);
	t = begin(db, WB_TXN_READONLY);
	assert_int_equal(wb_txn_put(t, "z", 1, "x", 1), WB_EREADONLY);
	assert_int_equal(wb_txn_delete(t, "z", 1), WB_EREADONLY);
	assert_int_equal(wb_txn_put_ks(t, 7, "z", 1, "x", 1), WB_EREADONLY);
	expect_tget(t, "a", "1");
	assert_int_equal(wb_txn_commit(t), WB_OK);
	t = begin(db, 0);
	assert_int_equal(wb_txn_put_ks(t, 7, "z", 1, "x", 1), WB_EINVAL);
	assert_int_equal(wb_txn_put(t, "", 0, "x", 1), WB_EINVAL);
	assert_int_equal(wb_txn_get_ks(t, 9, "z", 1, &v, &vl), WB_EINVAL);
	wb_txn_abort(t);
	wb_txn_abort(NULL);
	assert_int_equal(wb_txn_begin(db, 0x80, &t), WB_EINVAL);
	assert_null(t);
	assert_int_equal(wb_close(db), WB_OK);
}

/* A snapshot does not move: writes committed after begin are not seen,
 * neither by get nor by iteration, whatever flushes in between. */
static void test_snapshot_reads(void **state)
{
	wb_options o = tu_options(64 << 10);
	wb_db *db = tu_open(dir, &o);
	tu_put(db, "k", "old");
	wb_txn *ro = begin(db, WB_TXN_READONLY), *rw = begin(db, WB_TXN_SNAPSHOT);
	tu_put(db, "k", "new");
	tu_put(db, "n", "new");
	assert_int_equal(wb_delete(db, "k", 1), WB_OK);
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	char buf[256];
	wb_txn *ts[2] = { ro, rw };
	for (int i = 0; i < 2; i++) {
		expect_tget(ts[i], "k", "old");
		expect_tget(ts[i], "n", NULL);
		wb_iter *it;
		assert_int_equal(wb_txn_iter_new(ts[i], NULL, &it), WB_OK);
		assert_string_equal(scan(it, buf, sizeof(buf)), "k=old");
		wb_iter_free(it);
	}
	assert_true(wb_txn_read_ts(ro) <= wb_txn_read_ts(rw));
	assert_int_equal(wb_txn_commit(ro), WB_OK);
	assert_int_equal(wb_txn_commit(rw), WB_OK); /* no writes: nothing to check */
	assert_int_equal(wb_close(db), WB_OK);
}

/* x + y >= 1 must hold; each transaction checks it and zeroes one of them.
 * Serially one of them would see the other's write and refuse. */
static int write_skew(wb_db *db, unsigned flags)
{
	tu_put(db, "x", "1");
	tu_put(db, "y", "1");
	wb_txn *t1 = begin(db, flags), *t2 = begin(db, flags);
	expect_tget(t1, "x", "1");
	expect_tget(t1, "y", "1");
	expect_tget(t2, "x", "1");
	expect_tget(t2, "y", "1");
	tput(t1, "x", "0");
	tput(t2, "y", "0");
	assert_int_equal(wb_txn_commit(t1), WB_OK);
	return wb_txn_commit(t2);
}

static void test_write_skew(void **state)
{
	wb_options o = tu_options(64 << 10);
	wb_db *db = tu_open(dir, &o);
	assert_int_equal(write_skew(db, 0), WB_ECONFLICT);
	tu_expect_str(db, "x", "0");
	tu_expect_str(db, "y", "1"); /* the constraint holds */
	assert_int_equal(write_skew(db, WB_TXN_SNAPSHOT), WB_OK);
	tu_expect_str(db, "x", "0");
	tu_expect_str(db, "y", "0"); /* snapshot isolation allows the skew */
	assert_int_equal(wb_close(db), WB_OK);
}

/* Two transactions writing one key: the second to commit loses under both
 * isolation levels (under serializable because it read the key first). */
static void test_write_write(void **state)
{
	wb_options o = tu_options(64 << 10);
	wb_db *db = tu_open(dir, &o);
	tu_put(db, "k", "0");
	unsigned modes[2] = { 0, WB_TXN_SNAPSHOT };
	for (int m = 0; m < 2; m++) {
		wb_txn *t1 = begin(db, modes[m]), *t2 = begin(db, modes[m]);
		expect_tget(t1, "k", "0");
		expect_tget(t2, "k", "0");
		tput(t1, "k", "1");
		tput(t2, "k", "2");
		assert_int_equal(wb_txn_commit(t1), WB_OK);
		assert_int_equal(wb_txn_commit(t2), WB_ECONFLICT);
		tu_expect_str(db, "k", "1");
		tu_put(db, "k", "0");
	}
	/* blind writes to one key in SI: still a write-write conflict */
	wb_txn *t1 = begin(db, WB_TXN_SNAPSHOT), *t2 = begin(db, WB_TXN_SNAPSHOT);
	assert_int_equal(wb_txn_put_ks(t1, WB_KS_META, "m", 1, "1", 1), WB_OK);
	assert_int_equal(wb_txn_put_ks(t2, WB_KS_META, "m", 1, "2", 1), WB_OK);
	tput(t2, "other", "x");
	assert_int_equal(wb_txn_commit(t1), WB_OK);
	assert_int_equal(wb_txn_commit(t2), WB_ECONFLICT);
	tu_expect_missing(db, "other", 5); /* nothing of the loser is written */
	/* the same key in different keyspaces is no conflict */
	t1 = begin(db, WB_TXN_SNAPSHOT);
	t2 = begin(db, WB_TXN_SNAPSHOT);
	assert_int_equal(wb_txn_put_ks(t1, WB_KS_META, "same", 4, "1", 1), WB_OK);
	tput(t2, "same", "2");
	assert_int_equal(wb_txn_commit(t1), WB_OK);
	assert_int_equal(wb_txn_commit(t2), WB_OK);
	/* serializable: a read of a key a plain wb_put wrote since conflicts */
	t1 = begin(db, 0);
	expect_tget(t1, "k", "0");
	tu_put(db, "k", "blind");
	tput(t1, "elsewhere", "x");
	assert_int_equal(wb_txn_commit(t1), WB_ECONFLICT);
	/* ...but a write after the commit does not */
	t1 = begin(db, 0);
	expect_tget(t1, "k", "blind");
	tput(t1, "elsewhere", "x");
	assert_int_equal(wb_txn_commit(t1), WB_OK);
	tu_put(db, "k", "later");
	assert_int_equal(wb_close(db), WB_OK);
}

static void test_readonly_never_conflicts(void **state)
{
	wb_options o = tu_options(64 << 10);
	wb_db *db = tu_open(dir, &o);
	tu_put(db, "k", "0");
	wb_txn *ro = begin(db, WB_TXN_READONLY);
	wb_txn *rw = begin(db, 0); /* reads but writes nothing */
	expect_tget(ro, "k", "0");
	expect_tget(rw, "k", "0");
	wb_iter *it;
	assert_int_equal(wb_txn_iter_new(ro, NULL, &it), WB_OK);
	wb_iter_free(it);
	wb_txn *w = begin(db, 0);
	tput(w, "k", "1");
	tput(w, "k2", "1");
	assert_int_equal(wb_txn_commit(w), WB_OK);
	tu_put(db, "k", "2");
	expect_tget(ro, "k", "0");
	assert_int_equal(wb_txn_commit(ro), WB_OK);
	assert_int_equal(wb_txn_commit(rw), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
}

/* Under serializable isolation the bounds of an iterator are a read: a key
 * inserted into them since is a phantom, and the commit conflicts. Keys
 * outside them do not matter, and under SI nothing of this matters. */
static void test_phantom(void **state)
{
	wb_options o = tu_options(64 << 10);
	wb_db *db = tu_open(dir, &o);
	tu_put(db, "p/1", "1");
	tu_put(db, "q/1", "1");
	char buf[256];
	unsigned modes[2] = { 0, WB_TXN_SNAPSHOT };
	for (int m = 0; m < 2; m++) {
		for (int inside = 0; inside < 2; inside++) {
			wb_txn *t = begin(db, modes[m]);
			wb_iter_options io = { .prefix = "p/", .prefix_len = 2 };
			wb_iter *it;
			assert_int_equal(wb_txn_iter_new(t, &io, &it), WB_OK);
			scan(it, buf, sizeof(buf));
			wb_iter_free(it);
			tput(t, "count", buf); /* derived from the range */
			char k[16];
			snprintf(k, sizeof(k), "%s/new%d", inside ? "p" : "q", m);
			tu_put(db, k, "x");
			int want = m == 0 && inside ? WB_ECONFLICT : WB_OK;
			assert_int_equal(wb_txn_commit(t), want);
		}
	}
	/* a phantom in the metadata keyspace, through a transaction */
	wb_txn *t = begin(db, 0);
	wb_iter_options io = { .keyspace = WB_KS_META, .lower = "d/", .lower_len = 2,
			       .upper = "d0", .upper_len = 2 };
	wb_iter *it;
	assert_int_equal(wb_txn_iter_new(t, &io, &it), WB_OK);
	wb_iter_seek_first(it);
	assert_false(wb_iter_valid(it));
	wb_iter_free(it);
	wb_txn *other = begin(db, 0);
	assert_int_equal(wb_txn_put_ks(other, WB_KS_META, "d/x", 3, "1", 1), WB_OK);
	assert_int_equal(wb_txn_commit(other), WB_OK);
	tput(t, "y", "1");
	assert_int_equal(wb_txn_commit(t), WB_ECONFLICT);
	assert_int_equal(wb_close(db), WB_OK);
}

/* The oracle's commit log holds records only while a read-write
 * transaction is open that could conflict with them. */
static uint64_t json_field(wb_db *db, const char *name)
{
	char *json, pat[64];
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	snprintf(pat, sizeof(pat), "\"%s\":", name);
	const char *p = strstr(json, pat);
	assert_non_null(p);
	uint64_t v = strtoull(p + strlen(pat), NULL, 10);
	wb_free(json);
	return v;
}

static void test_commit_log_pruned(void **state)
{
	wb_options o = tu_options(1 << 20);
	wb_db *db = tu_open(dir, &o);
	for (int i = 0; i < 100; i++)
		tu_put(db, "k", "v"); /* no transaction open: nothing logged */
	assert_int_equal(json_field(db, "txn_log_records"), 0);
	wb_txn *t = begin(db, 0);
	for (int i = 0; i < 100; i++)
		tu_put(db, "k", "v");
	assert_int_equal(json_field(db, "txn_log_records"), 100);
	assert_int_equal(json_field(db, "readers"), 1);
	wb_txn_abort(t);
	tu_put(db, "k", "v"); /* the next commit prunes */
	assert_int_equal(json_field(db, "txn_log_records"), 0);
	assert_int_equal(json_field(db, "readers"), 0);
	/* steady load of overlapping transactions: the log stays short */
	wb_txn *ts[4] = { 0 };
	uint64_t most = 0;
	for (int i = 0; i < 2000; i++) {
		int s = i % 4;
		if (ts[s] != NULL) {
			char k[16];
			snprintf(k, sizeof(k), "k%d", i % 50);
			tput(ts[s], k, "v");
			int rc = wb_txn_commit(ts[s]);
			assert_true(rc == WB_OK || rc == WB_ECONFLICT);
		}
		ts[s] = begin(db, i % 3 == 0 ? WB_TXN_SNAPSHOT : 0);
		uint64_t n = json_field(db, "txn_log_records");
		if (n > most)
			most = n;
	}
	assert_true(most <= 8);
	for (int s = 0; s < 4; s++)
		wb_txn_abort(ts[s]);
	tu_put(db, "k", "v");
	assert_int_equal(json_field(db, "txn_log_records"), 0);
	assert_int_equal(wb_close(db), WB_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_own_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_skew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_never_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phantom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_log_pruned, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
