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
	/* reading a key that is missing is a read too: inserting it conflicts */
	t1 = begin(db, 0);
	expect_tget(t1, "absent", NULL);
	t2 = begin(db, 0);
	tput(t2, "absent", "now");
	assert_int_equal(wb_txn_commit(t2), WB_OK);
	tput(t1, "elsewhere", "x");
	assert_int_equal(wb_txn_commit(t1), WB_ECONFLICT);
	/* ...and a key the transaction wrote itself is no read of the database */
	t1 = begin(db, 0);
	tput(t1, "own", "1");
	expect_tget(t1, "own", "1");
	tu_put(db, "own", "blind");
	assert_int_equal(wb_txn_commit(t1), WB_OK);
	tu_expect_str(db, "own", "1");
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
			char k[32];
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

/* ---- the bank ---- */

#define ACCOUNTS 64
#define START_BALANCE 1000

struct bank {
	wb_db *db;
	atomic_bool stop;
	atomic_int violations;
	atomic_ullong transfers, checks;
	atomic_int thread_error[4]; /* first error other than a conflict, per thread */
	unsigned flags;
};

struct transfer {
	int from, to;
	long amount;
};

static size_t account_key(char *k, int i)
{
	return (size_t)snprintf(k, 32, "acct/%04d", i);
}

static int read_balance(wb_txn *t, int i, long *bal)
{
	char k[32], buf[32];
	void *v;
	size_t vl;
	int rc = wb_txn_get(t, k, account_key(k, i), &v, &vl);
	if (rc != WB_OK)
		return rc;
	if (vl >= sizeof(buf)) {
		wb_free(v);
		return WB_ECORRUPT;
	}
	memcpy(buf, v, vl);
	buf[vl] = 0;
	wb_free(v);
	*bal = atol(buf);
	return WB_OK;
}

static int write_balance(wb_txn *t, int i, long bal)
{
	char k[32], v[32];
	size_t kl = account_key(k, i);
	int vl = snprintf(v, sizeof(v), "%ld", bal);
	return wb_txn_put(t, k, kl, v, (size_t)vl);
}

static int do_transfer(wb_txn *t, void *arg)
{
	struct transfer *x = arg;
	long a, b;
	int rc = read_balance(t, x->from, &a);
	if (rc == WB_OK)
		rc = read_balance(t, x->to, &b);
	if (rc != WB_OK || a < x->amount)
		return rc;
	rc = write_balance(t, x->from, a - x->amount);
	return rc == WB_OK ? write_balance(t, x->to, b + x->amount) : rc;
}

struct worker {
	struct bank *bank;
	int id;
};

static void *transfer_thread(void *arg)
{
	struct worker *w = arg;
	struct bank *b = w->bank;
	uint64_t rs = tu_seed(0x1234567ull * (uint64_t)(w->id + 1));
	while (!atomic_load(&b->stop)) {
		struct transfer x = { (int)(tu_rand(&rs) % ACCOUNTS), 0, 1 + (long)(tu_rand(&rs) % 50) };
		x.to = (x.from + 1 + (int)(tu_rand(&rs) % (ACCOUNTS - 1))) % ACCOUNTS;
		int rc = wb_txn_run(b->db, b->flags, do_transfer, &x);
		if (rc == WB_OK) {
			atomic_fetch_add(&b->transfers, 1);
		} else if (rc != WB_ECONFLICT) {
			b->thread_error[w->id] = rc;
			break;
		}
	}
	return NULL;
}

/* The total of every balance in one read-only transaction (-1 on error). */
static long bank_total(wb_db *db, int *accounts)
{
	wb_txn *t;
	if (wb_txn_begin(db, WB_TXN_READONLY, &t) != WB_OK)
		return -1;
	wb_iter_options io = { .prefix = "acct/", .prefix_len = 5 };
	wb_iter *it;
	long total = 0;
	*accounts = 0;
	if (wb_txn_iter_new(t, &io, &it) != WB_OK) {
		wb_txn_abort(t);
		return -1;
	}
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
		size_t vl;
		const char *v = wb_iter_value(it, &vl);
		char buf[32];
		memcpy(buf, v, vl < 31 ? vl : 31);
		buf[vl < 31 ? vl : 31] = 0;
		total += atol(buf);
		(*accounts)++;
	}
	if (wb_iter_status(it) != WB_OK)
		total = -1;
	wb_iter_free(it);
	wb_txn_abort(t);
	return total;
}

static void *checker_thread(void *arg)
{
	struct bank *b = arg;
	while (!atomic_load(&b->stop)) {
		int n;
		long total = bank_total(b->db, &n);
		if (total != (long)ACCOUNTS * START_BALANCE || n != ACCOUNTS) {
			if (atomic_fetch_add(&b->violations, 1) == 0)
				print_message("violation: %d accounts, total %ld\n", n, total);
		}
		atomic_fetch_add(&b->checks, 1);
	}
	return NULL;
}

/* Waits until done(b, arg), polling; a minute of real time bounds it. */
static bool bank_wait(struct bank *b, bool (*done)(struct bank *b, unsigned long long *arg),
		      unsigned long long *arg)
{
	for (int ms = 0; ms < 60000; ms += 5) {
		if (done(b, arg))
			return true;
		usleep(5000);
	}
	return done(b, arg);
}

/* arg: the transfers and checks to reach. */
static bool reached(struct bank *b, unsigned long long *arg)
{
	return atomic_load(&b->transfers) >= arg[0] && atomic_load(&b->checks) >= arg[1];
}

/* Every transfer thread met its error; arg: the checks to reach. */
static bool all_failed(struct bank *b, unsigned long long *arg)
{
	for (int i = 0; i < 4; i++)
		if (atomic_load(&b->thread_error[i]) == WB_OK)
			return false;
	return atomic_load(&b->checks) >= arg[0];
}

/* Runs 4 transfer threads and a checker until `transfers` more transfers
 * committed and the checker looked 5 more times (by work, not time, so a
 * slow machine does as much). When fe is not NULL the process then "dies"
 * (every write fails) and the threads run on until each transfer thread
 * met its error and the checker looked 5 more times. */
static void bank_round(struct bank *b, unsigned long long transfers, fault_env_t *fe)
{
	pthread_t th[5];
	struct worker w[4];
	atomic_store(&b->stop, false);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ b, i };
		b->thread_error[i] = 0;
		assert_int_equal(pthread_create(&th[i], NULL, transfer_thread, &w[i]), 0);
	}
	assert_int_equal(pthread_create(&th[4], NULL, checker_thread, b), 0);
	unsigned long long want[2] = { atomic_load(&b->transfers) + transfers,
				       atomic_load(&b->checks) + 5 };
	bool done = bank_wait(b, reached, want);
	if (done && fe != NULL) {
		fault_env_kill_after_bytes(fe, 0);
		unsigned long long checks = atomic_load(&b->checks) + 5;
		done = bank_wait(b, all_failed, &checks);
	}
	atomic_store(&b->stop, true);
	for (int i = 0; i < 5; i++)
		pthread_join(th[i], NULL);
	assert_true(done);
	for (int i = 0; i < 4 && fe == NULL; i++)
		assert_int_equal(b->thread_error[i], WB_OK);
	assert_int_equal(atomic_load(&b->violations), 0);
	int n;
	assert_int_equal(bank_total(b->db, &n), (long)ACCOUNTS * START_BALANCE);
	assert_int_equal(n, ACCOUNTS);
}

static void bank_test(unsigned flags)
{
	fault_env_t *fe = fault_env_new(NULL);
	wb_options o = tu_options(64 << 10);
	o.env = fault_env_get(fe);
	o.sync = WB_SYNC_INTERVAL;
	o.sync_interval_ms = 20;
	o.compaction_threads = 1;
	wb_db *db = tu_open(dir, &o);
	wb_batch *batch;
	assert_int_equal(wb_batch_new(&batch), WB_OK);
	for (int i = 0; i < ACCOUNTS; i++) {
		char k[32], v[32];
		size_t kl = account_key(k, i);
		int vl = snprintf(v, sizeof(v), "%d", START_BALANCE);
		assert_int_equal(wb_batch_put(batch, k, kl, v, (size_t)vl), WB_OK);
	}
	assert_int_equal(wb_write(db, batch), WB_OK);
	assert_int_equal(wb_sync(db), WB_OK);
	wb_batch_free(batch);

	struct bank b = { .db = db, .flags = flags };
	bank_round(&b, 2000, NULL);
	unsigned long long before = atomic_load(&b.transfers);
	assert_true(before > 100);
	bank_round(&b, 2000, fe); /* then the process dies */
	wb_close(db);
	assert_int_equal(fault_env_power_loss(fe), WB_OK);

	db = tu_open(dir, &o);
	b.db = db;
	int n;
	assert_int_equal(bank_total(db, &n), (long)ACCOUNTS * START_BALANCE);
	assert_int_equal(n, ACCOUNTS);
	unsigned long long at_crash = atomic_load(&b.transfers);
	bank_round(&b, 1000, NULL);
	assert_true(atomic_load(&b.transfers) > at_crash);
	assert_true(atomic_load(&b.checks) > 10);
	assert_int_equal(wb_close(db), WB_OK);
	fault_env_free(fe);
}

static void test_bank_serializable(void **state)
{
	bank_test(0);
}

static void test_bank_snapshot(void **state)
{
	bank_test(WB_TXN_SNAPSHOT);
}

/* ---- versions kept and reclaimed ---- */

static uint64_t table_bytes(wb_db *db)
{
	char *json;
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	uint64_t total = 0;
	for (const char *p = json; (p = strstr(p, "\"bytes\":")) != NULL; p++)
		total += strtoull(p + 8, NULL, 10);
	wb_free(json);
	return total;
}

#define LONG_KEYS 1000
#define LONG_ROUNDS 1000 /* LONG_KEYS * LONG_ROUNDS = 1 000 000 writes */

static void expect_round(wb_txn *t, uint64_t round)
{
	char k[32], v[128];
	for (uint64_t i = 0; i < LONG_KEYS; i++) {
		size_t kl = tu_key(k, "long/", i), vl = tu_value(v, 100, i, round);
		void *got;
		size_t gl;
		assert_int_equal(wb_txn_get(t, k, kl, &got, &gl), WB_OK);
		assert_int_equal(gl, vl);
		assert_memory_equal(got, v, vl);
		wb_free(got);
	}
	wb_iter *it;
	assert_int_equal(wb_txn_iter_new(t, NULL, &it), WB_OK);
	uint64_t i = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it), i++) {
		size_t kl, gl, vl = tu_value(v, 100, i, round);
		const void *key = wb_iter_key(it, &kl), *got = wb_iter_value(it, &gl);
		tu_key(k, "long/", i);
		assert_int_equal(kl, strlen(k));
		assert_memory_equal(key, k, kl);
		assert_int_equal(gl, vl);
		assert_memory_equal(got, v, vl);
	}
	assert_int_equal(i, LONG_KEYS);
	wb_iter_free(it);
}

static void test_long_txn(void **state)
{
	wb_options o = tu_options(256 << 10);
	o.compaction_threads = 2;
	o.level1_size = 1 << 20;
	o.sst_target_size = 256 << 10;
	wb_db *db = tu_open(dir, &o);
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	char k[32], v[128];
	for (uint64_t i = 0; i < LONG_KEYS; i++)
		assert_int_equal(wb_batch_put(b, k, tu_key(k, "long/", i), v, tu_value(v, 100, i, 0)),
				 WB_OK);
	assert_int_equal(wb_write(db, b), WB_OK);
	wb_txn *ro = begin(db, WB_TXN_READONLY);
	wb_iter *plain; /* a plain iterator from the same moment */
	assert_int_equal(wb_iter_new(db, NULL, &plain), WB_OK);
	for (uint64_t r = 1; r <= LONG_ROUNDS; r++) {
		wb_batch_clear(b);
		for (uint64_t i = 0; i < LONG_KEYS; i++)
			assert_int_equal(wb_batch_put(b, k, tu_key(k, "long/", i), v,
						      tu_value(v, 100, i, r)),
					 WB_OK);
		assert_int_equal(wb_write(db, b), WB_OK);
	}
	wb_batch_free(b);
	expect_round(ro, 0);
	assert_true(json_field(db, "compactions") > 0);
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	expect_round(ro, 0);
	wb_iter_seek_first(plain);
	assert_true(wb_iter_valid(plain));
	assert_memory_equal(wb_iter_value(plain, &(size_t){ 0 }), v, 0);
	size_t vl, pl;
	tu_value(v, 100, 0, 0);
	const void *pv = wb_iter_value(plain, &pl);
	assert_int_equal(pl, 100);
	assert_memory_equal(pv, v, 100);
	uint64_t held = table_bytes(db);
	/* Both readers at one timestamp: one old version per key, not 1000. */
	assert_int_equal(wb_txn_commit(ro), WB_OK);
	wb_iter_free(plain);
	/* The next compaction over the keys drops the old versions. (A manual
	 * compaction leaves a bottom level alone, hence one more round.) */
	assert_int_equal(wb_batch_new(&b), WB_OK);
	for (uint64_t i = 0; i < LONG_KEYS; i++)
		assert_int_equal(wb_batch_put(b, k, tu_key(k, "long/", i), v,
					      tu_value(v, 100, i, LONG_ROUNDS + 1)),
				 WB_OK);
	assert_int_equal(wb_write(db, b), WB_OK);
	wb_batch_free(b);
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	uint64_t after = table_bytes(db);
	print_message("tables: %llu bytes while the snapshot was held, %llu after\n",
		      (unsigned long long)held, (unsigned long long)after);
	assert_true(after * 3 < held * 2); /* the old versions are gone */
	assert_true(held < after * 3);     /* and only one per key was kept */
	wb_txn *now = begin(db, WB_TXN_READONLY);
	expect_round(now, LONG_ROUNDS + 1);
	wb_txn_abort(now);
	(void)vl;
	assert_int_equal(wb_close(db), WB_OK);
}

/* Reads as of an older timestamp while retain_versions_ms keeps it, and a
 * clear refusal when nothing keeps it. */
static void test_time_travel(void **state)
{
	wb_options o = tu_options(64 << 10);
	o.retain_versions_ms = 60000;
	wb_db *db = tu_open(dir, &o);
	wb_key_info i1, i2;
	tu_put(db, "gone", "here");
	tu_put(db, "k", "v1");
	assert_int_equal(wb_stat_key(db, "k", 1, &i1), WB_OK);
	assert_int_equal(wb_delete(db, "gone", 4), WB_OK);
	tu_put(db, "k", "v2");
	assert_int_equal(wb_stat_key(db, "k", 1, &i2), WB_OK);
	tu_put(db, "k", "v3");
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	wb_txn *t;
	assert_int_equal(wb_txn_begin_at(db, i1.ts, &t), WB_OK);
	assert_int_equal(wb_txn_read_ts(t), i1.ts);
	expect_tget(t, "k", "v1");
	expect_tget(t, "gone", "here");
	char buf[256];
	wb_iter *it;
	assert_int_equal(wb_txn_iter_new(t, NULL, &it), WB_OK);
	assert_string_equal(scan(it, buf, sizeof(buf)), "gone=here k=v1");
	wb_iter_free(it);
	assert_int_equal(wb_txn_put(t, "k", 1, "x", 1), WB_EREADONLY);
	wb_txn_abort(t);
	assert_int_equal(wb_txn_begin_at(db, i2.ts, &t), WB_OK);
	expect_tget(t, "k", "v2");
	expect_tget(t, "gone", NULL);
	wb_txn_abort(t);
	assert_int_equal(wb_txn_begin_at(db, i2.ts + ((uint64_t)1 << 40), &t), WB_EINVAL);
	assert_null(t);
	assert_int_equal(wb_close(db), WB_OK);

	/* Without retention: an old timestamp is refused once a compaction may
	 * have dropped its versions, but one opened before stays intact. */
	o.retain_versions_ms = 0;
	db = tu_open(dir, &o);
	assert_int_equal(wb_txn_begin_at(db, i1.ts, &t), WB_EINVAL); /* before this open */
	wb_key_info i3;
	tu_put(db, "k", "v4");
	assert_int_equal(wb_stat_key(db, "k", 1, &i3), WB_OK);
	wb_txn *held;
	assert_int_equal(wb_txn_begin_at(db, i3.ts, &held), WB_OK);
	tu_put(db, "k", "v5");
	tu_put(db, "k", "v6");
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	expect_tget(held, "k", "v4");
	assert_int_equal(wb_txn_begin_at(db, i3.ts, &t), WB_OK); /* still held */
	wb_txn_abort(t);
	wb_txn_abort(held);
	assert_int_equal(wb_compact_range(db, NULL, 0, NULL, 0), WB_OK);
	assert_int_equal(wb_txn_begin_at(db, i3.ts, &t), WB_EINVAL);
	assert_int_equal(wb_close(db), WB_OK);
}

/* Value-log values and readers: a transaction that began before a reclaim
 * pass keeps reading the old value from the segment the pass emptied (the
 * segment waits for it), and time travel into the retention window reads
 * an overwritten value whose segment would otherwise be reclaimed. */
static void fill(char *buf, size_t n, char c)
{
	memset(buf, c, n);
}

static void expect_tbig(wb_txn *t, const char *key, size_t n, char c)
{
	void *v;
	size_t vl;
	assert_int_equal(wb_txn_get(t, key, strlen(key), &v, &vl), WB_OK);
	assert_int_equal(vl, n);
	for (size_t i = 0; i < n; i++)
		if (((char *)v)[i] != c)
			fail_msg("%s byte %zu is %c, want %c", key, i, ((char *)v)[i], c);
	wb_free(v);
}

static void test_vlog_readers(void **state)
{
	enum { N = 8192 };
	static char val[N];
	for (int retain = 0; retain < 2; retain++) {
		wb_options o = tu_options(1 << 20);
		o.value_threshold = 1024;
		o.vlog_segment_size = 64 << 10;
		o.vlog_gc_interval_ms = 0; /* reclaim only when asked */
		o.retain_versions_ms = retain ? 60000 : 0;
		wb_db *db = tu_open(dir, &o);
		fill(val, N, 'a');
		assert_int_equal(wb_put(db, "k", 1, val, N), WB_OK);
		wb_key_info first;
		assert_int_equal(wb_stat_key(db, "k", 1, &first), WB_OK);
		wb_txn *held = NULL;
		if (!retain)
			assert_int_equal(wb_txn_begin(db, WB_TXN_READONLY, &held), WB_OK);
		/* Overwrites fill several segments with garbage. */
		for (int i = 0; i < 40; i++) {
			fill(val, N, (char)('b' + i % 20));
			assert_int_equal(wb_put(db, "k", 1, val, N), WB_OK);
		}
		assert_int_equal(wb_flush(db), WB_OK);
		uint64_t reclaimed = 0;
		assert_int_equal(wb_vlog_gc(db, &reclaimed), WB_OK);
		wb_txn *t;
		if (retain) {
			/* Every overwritten version is inside the window: kept. */
			assert_int_equal(wb_txn_begin_at(db, first.ts, &t), WB_OK);
			expect_tbig(t, "k", N, 'a');
			wb_txn_abort(t);
		} else {
			expect_tbig(held, "k", N, 'a');
			wb_txn_abort(held);
			assert_int_equal(wb_vlog_gc(db, &reclaimed), WB_OK);
		}
		assert_int_equal(wb_txn_begin(db, WB_TXN_READONLY, &t), WB_OK);
		expect_tbig(t, "k", N, (char)('b' + 39 % 20));
		wb_txn_abort(t);
		assert_int_equal(wb_close(db), WB_OK);
		tu_rmtree(dir);
		tu_mkdtemp(dir, "txn");
	}
}

/* ---- size and atomicity ---- */

#define BIG 100000

static void expect_big(wb_db *db)
{
	wb_iter *it;
	wb_iter_options io = { .prefix = "big/", .prefix_len = 4 };
	assert_int_equal(wb_iter_new(db, &io, &it), WB_OK);
	uint64_t n = 0, ts = 0;
	char k[32];
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it), n++) {
		size_t kl;
		const void *key = wb_iter_key(it, &kl);
		assert_int_equal(kl, tu_key(k, "big/", n));
		assert_memory_equal(key, k, kl);
		if (n == 0)
			ts = wb_iter_ts(it);
		assert_int_equal(wb_iter_ts(it), ts); /* one commit timestamp */
	}
	assert_int_equal(wb_iter_status(it), WB_OK);
	assert_int_equal(n, BIG);
	wb_iter_free(it);
	void *v;
	size_t vl;
	assert_int_equal(wb_get_ks(db, WB_KS_META, "big-meta", 8, &v, &vl), WB_OK);
	wb_free(v);
}

static void test_big_txn(void **state)
{
	wb_options o = tu_options(1 << 20);
	wb_db *db = tu_open(dir, &o);
	wb_txn *t = begin(db, 0);
	char k[32], v[64];
	for (uint64_t i = 0; i < BIG; i++) {
		size_t kl = tu_key(k, "big/", (i * 7919) % BIG); /* out of order */
		assert_int_equal(wb_txn_put(t, k, kl, v, tu_value(v, 40, i, 0)), WB_OK);
	}
	assert_int_equal(wb_txn_put_ks(t, WB_KS_META, "big-meta", 8, "m", 1), WB_OK);
	wb_iter *it;
	assert_int_equal(wb_txn_iter_new(t, NULL, &it), WB_OK);
	uint64_t n = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it))
		n++;
	assert_int_equal(n, BIG);
	wb_iter_free(it);
	assert_int_equal(wb_txn_commit(t), WB_OK);
	expect_big(db);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o); /* from the log */
	expect_big(db);
	assert_int_equal(wb_flush(db), WB_OK);
	assert_int_equal(wb_close(db), WB_OK);
	db = tu_open(dir, &o); /* from a table */
	expect_big(db);
	assert_int_equal(wb_close(db), WB_OK);
}

#define ATOMIC_KEYS 2000

static wb_db *open_with_base(fault_env_t *fe)
{
	wb_options o = tu_options(1 << 20);
	o.env = fault_env_get(fe);
	wb_db *db = tu_open(dir, &o);
	tu_put(db, "base", "1");
	assert_int_equal(wb_sync(db), WB_OK);
	return db;
}

static int commit_many(wb_db *db)
{
	wb_txn *t = begin(db, 0);
	char k[32], v[64];
	for (uint64_t i = 0; i < ATOMIC_KEYS; i++)
		assert_int_equal(wb_txn_put(t, k, tu_key(k, "atom/", i), v, tu_value(v, 50, i, 1)),
				 WB_OK);
	return wb_txn_commit(t);
}

/* How many of the transaction's keys the database holds. */
static uint64_t count_atoms(wb_db *db)
{
	wb_iter *it;
	wb_iter_options io = { .prefix = "atom/", .prefix_len = 5 };
	assert_int_equal(wb_iter_new(db, &io, &it), WB_OK);
	uint64_t n = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it))
		n++;
	wb_iter_free(it);
	return n;
}

static void test_commit_atomic_crash(void **state)
{
	/* How many bytes the commit puts in the log. */
	fault_env_t *fe = fault_env_new(NULL);
	wb_db *db = open_with_base(fe);
	struct fault_env_counts c0, c1;
	fault_env_counts(fe, &c0);
	assert_int_equal(commit_many(db), WB_OK);
	fault_env_counts(fe, &c1);
	assert_int_equal(wb_close(db), WB_OK);
	fault_env_free(fe);
	uint64_t bytes = c1.bytes_appended - c0.bytes_appended;
	assert_true(bytes > ATOMIC_KEYS * 50);

	uint64_t points[] = { 0, 1, 100, bytes / 3, bytes / 2, bytes - 1, bytes };
	for (size_t p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
		for (int power = 0; power < 2; power++) {
			tu_rmtree(dir);
			fe = fault_env_new(NULL);
			db = open_with_base(fe);
			fault_env_kill_after_bytes(fe, points[p]);
			int rc = commit_many(db);
			assert_int_equal(rc == WB_OK, points[p] >= bytes);
			wb_close(db);
			if (power)
				assert_int_equal(fault_env_power_loss(fe), WB_OK);
			else
				fault_env_clear_faults(fe);
			wb_options o = tu_options(1 << 20);
			o.env = fault_env_get(fe);
			db = tu_open(dir, &o);
			tu_expect_str(db, "base", "1");
			uint64_t n = count_atoms(db);
			if (n != 0 && n != ATOMIC_KEYS)
				fail_msg("crash after %llu of %llu bytes: %llu of %d keys",
					 (unsigned long long)points[p], (unsigned long long)bytes,
					 (unsigned long long)n, ATOMIC_KEYS);
			/* a complete record survives the process dying (the page
			 * cache keeps it); a torn one never shows */
			if (!power)
				assert_int_equal(n, points[p] >= bytes ? ATOMIC_KEYS : 0);
			assert_int_equal(wb_close(db), WB_OK);
			fault_env_free(fe);
		}
	}
}

/* A read-write transaction left open while millions of keys are written
 * cannot make the commit log grow without bound: past the limit the log
 * drops its oldest half and that transaction conflicts at commit, while
 * transactions begun since are checked as usual. */
static void test_commit_log_bounded(void **state)
{
	wb_options o = tu_options(4 << 20);
	o.compaction_threads = 1;
	wb_db *db = tu_open(dir, &o);
	tu_put(db, "held", "0");
	wb_txn *old = begin(db, 0);
	expect_tget(old, "held", "0");
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	char k[32];
	uint64_t most = 0, n = 0;
	/* about 40 bytes of log per key: 2.5 million keys pass the limit */
	for (uint64_t r = 0; r < 250; r++) {
		wb_batch_clear(b);
		for (uint64_t i = 0; i < 10000; i++, n++)
			assert_int_equal(wb_batch_put(b, k, tu_key(k, "fill/", n), "v", 1), WB_OK);
		assert_int_equal(wb_write(db, b), WB_OK);
		uint64_t bytes = json_field(db, "txn_log_bytes");
		if (bytes > most)
			most = bytes;
	}
	wb_batch_free(b);
	print_message("commit log peaked at %llu bytes\n", (unsigned long long)most);
	assert_true(most <= ((uint64_t)64 << 20) + (1u << 20));
	assert_true(json_field(db, "txn_log_bytes") <= ((uint64_t)64 << 20));
	wb_txn *young = begin(db, 0);
	expect_tget(young, "held", "0");
	tput(old, "x", "1");
	tput(young, "y", "1");
	assert_int_equal(wb_txn_commit(old), WB_ECONFLICT); /* too old to check */
	assert_true(json_field(db, "txn_too_old") >= 1);
	assert_int_equal(wb_txn_commit(young), WB_OK);
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
		cmocka_unit_test_setup_teardown(test_commit_log_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bank_serializable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bank_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_txn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_travel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vlog_readers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_txn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_atomic_crash, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
