/*
 * txn.c -- optimistic MVCC transactions (wb_txn_*; DESIGN.md 3.8).
 *
 * A transaction reads at its read timestamp and buffers its writes in a
 * private memtable (the write buffer), stamped TXN_TS_BASE + n so that a
 * later write of the same key sorts first and every own write wins over
 * the stored versions in a merged iterator (db_iter.c). A serializable
 * transaction remembers the fingerprint of every key it reads from the
 * database and the bounds of every iterator it opens. At commit the
 * buffer becomes one batch -- one WAL record, one commit timestamp -- and
 * goes through the writer queue, whose leader asks the oracle (oracle.h)
 * for conflicts with what committed after the read timestamp.
 *
 * A read-write transaction registers with the oracle at the last
 * timestamp handed out, then waits until the commit carrying it is
 * visible: every commit after its read timestamp is stamped after it
 * registered, so it is logged for its check (registering after the wait
 * would miss the commits stamped during it). A read-only transaction reads
 * at the visible timestamp and never waits, never conflicts.
 *
 * A wb_txn belongs to one thread at a time. Reads take a fresh snapshot of
 * the memtables and tables each time; the registration keeps compaction
 * from dropping the versions at the read timestamp.
 */
#include <stdlib.h>

#include "db/batch.h"
#include "db/db_impl.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/grow.h"
#include "table/ikey.h"
#include "obj/object.h"

#define TXN_RUN_ATTEMPTS 1000
#define WRITE_BUFFER_SIZE (64u << 10) /* sizes the buffer's arena blocks (4 KiB) */

struct wb_txn {
	wb_db *db;
	unsigned flags;
	oracle_reader_t reader; /* read_ts; its links belong to the oracle (mu) */
	bool registered;        /* reader is in the oracle's list */
	memtable_t *writes;     /* own writes; NULL until the first */
	uint64_t seq;           /* own writes so far: the next is TXN_TS_BASE + seq */
	uint64_t *reads;        /* fingerprints of keys read (serializable only) */
	size_t nreads, reads_cap;
	key_range_t *ranges; /* iterator bounds (serializable only) */
	size_t nranges, ranges_cap;
	int error; /* sticky: a read could not be recorded, so commit must fail */
};

static bool read_only(const wb_txn *t)
{
	return t->flags & WB_TXN_READONLY;
}

/* Whether reads must be remembered for the commit check. */
static bool tracks_reads(const wb_txn *t)
{
	return !(t->flags & (WB_TXN_READONLY | WB_TXN_SNAPSHOT));
}

static int txn_new(wb_db *db, unsigned flags, wb_txn **out)
{
	*out = NULL;
	wb_txn *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return WB_ENOMEM;
	t->db = db;
	t->flags = flags;
	*out = t;
	return WB_OK;
}

static void txn_free(wb_txn *t)
{
	if (t->registered)
		db_reader_remove(t->db, &t->reader);
	memtable_unref(t->writes);
	free(t->reads);
	for (size_t i = 0; i < t->nranges; i++) {
		free(t->ranges[i].lo);
		free(t->ranges[i].hi);
	}
	free(t->ranges);
	free(t);
}

int wb_txn_begin(wb_db *db, unsigned flags, wb_txn **out)
{
	err_clear();
	*out = NULL;
	if (flags & ~(WB_TXN_READONLY | WB_TXN_SNAPSHOT))
		return err_set(WB_EINVAL, "unknown transaction flags 0x%x", flags);
	bool rw = !(flags & WB_TXN_READONLY);
	if (rw && db->opts.read_only)
		return err_set(WB_EREADONLY, "read-write transaction on a read-only database");
	wb_txn *t;
	int rc = txn_new(db, flags, &t);
	if (rc != WB_OK)
		return rc;
	pthread_mutex_lock(&db->mu);
	t->reader.snap_seq = db->snap_seq++;
	if (!rw) {
		oracle_add_reader(&db->oracle, &t->reader, atomic_load(&db->visible_ts), false);
		t->registered = true;
	} else {
		/* Register first, then wait: a commit stamped while we wait must
		 * already count us among the transactions it is logged for. */
		uint64_t ts = db->stamped_ts;
		oracle_add_reader(&db->oracle, &t->reader, ts, true);
		t->registered = true;
		db->visible_waiters++;
		/* A sticky error may leave a stamped commit never applied. */
		while (atomic_load(&db->visible_ts) < ts && !db->closing &&
		       (rc = bgerror_sticky(&db->bg)) == WB_OK)
			pthread_cond_wait(&db->visible_cv, &db->mu);
		db->visible_waiters--;
		if (rc == WB_OK)
			rc = bgerror_sticky(&db->bg); /* a read-write one could never commit */
		if (db->closing)
			rc = err_set(WB_ECLOSED, "cannot begin a transaction: the database is closing");
	}
	pthread_mutex_unlock(&db->mu);
	if (rc != WB_OK) {
		txn_free(t);
		return rc;
	}
	STAT_ADD(db, txn_begins, 1);
	*out = t;
	return WB_OK;
}

int wb_txn_begin_at(wb_db *db, uint64_t read_ts, wb_txn **out)
{
	err_clear();
	*out = NULL;
	wb_txn *t;
	int rc = txn_new(db, WB_TXN_READONLY, &t);
	if (rc != WB_OK)
		return rc;
	pthread_mutex_lock(&db->mu);
	uint64_t visible = atomic_load(&db->visible_ts), discard = db->oracle.discard_ts;
	if (read_ts > visible)
		rc = err_set(WB_EINVAL, "read timestamp %llu is in the future (last commit %llu)",
			     (unsigned long long)read_ts, (unsigned long long)visible);
	else if (!oracle_retained(&db->oracle, read_ts))
		rc = err_set(WB_EINVAL,
			     "read timestamp %llu is no longer retained (oldest %llu; see "
			     "retain_versions_ms)",
			     (unsigned long long)read_ts, (unsigned long long)discard);
	else {
		t->reader.snap_seq = db->snap_seq++;
		oracle_add_reader(&db->oracle, &t->reader, read_ts, false);
	}
	t->registered = rc == WB_OK;
	pthread_mutex_unlock(&db->mu);
	if (rc != WB_OK) {
		txn_free(t);
		return rc;
	}
	STAT_ADD(db, txn_begins, 1);
	*out = t;
	return WB_OK;
}

uint64_t wb_txn_read_ts(const wb_txn *t)
{
	return t->reader.read_ts;
}

/* ks ‖ key into *out: stack when it fits in cap bytes, else malloc'ed
 * (the caller frees *out when it is not stack). */
static int make_tree_key(unsigned ks, const void *key, size_t klen, uint8_t *stack, size_t cap,
			 uint8_t **out)
{
	if (ks > KS_PUBLIC_LAST)
		return err_set(WB_EINVAL, "unknown keyspace %u", ks);
	if (batch_check_key(klen) != WB_OK)
		return err_set(WB_EINVAL, "key length %zu is outside 1..%u", klen, WB_MAX_KEY_LEN);
	uint8_t *p = stack;
	if (klen + 1 > cap && (p = malloc(klen + 1)) == NULL)
		return WB_ENOMEM;
	p[0] = (uint8_t)ks;
	memcpy(p + 1, key, klen);
	*out = p;
	return WB_OK;
}

static int note_read(wb_txn *t, slice_t tk)
{
	if (!grow_array((void **)&t->reads, &t->reads_cap, t->nreads + 1, sizeof(*t->reads)))
		return t->error = WB_ENOMEM;
	t->reads[t->nreads++] = oracle_fingerprint(tk);
	return WB_OK;
}

static int found_any(void *arg, slice_t ikey, slice_t value)
{
	return WB_OK;
}

/* Whether t's buffer holds a write of tk. */
static bool own_write(wb_txn *t, slice_t tk)
{
	return t->writes != NULL && memtable_get(t->writes, tk, TS_MAX, found_any, NULL) == WB_OK;
}

static int view_note(void *arg, slice_t tk)
{
	return note_read(arg, tk);
}

/* What t sees: its snapshot at the read timestamp, its own writes over it
 * (the buffer is made first when `writing`, so that what the call writes
 * is seen by its own later reads). Release with view_close. */
static int view_open(wb_txn *t, db_snapshot_t *s, db_view_t *v, bool writing)
{
	if (writing && t->writes == NULL && (t->writes = memtable_new(0, WRITE_BUFFER_SIZE)) == NULL)
		return WB_ENOMEM;
	db_snapshot_take_at(t->db, s, t->reader.read_ts, NULL);
	*v = (db_view_t){ .snap = s, .own = t->writes };
	if (tracks_reads(t)) {
		v->note = view_note;
		v->note_arg = t;
	}
	return WB_OK;
}

static void view_close(wb_txn *t, db_snapshot_t *s)
{
	db_snapshot_release(s);
	if (atomic_load_explicit(&t->db->obsolete_pending, memory_order_relaxed) > 0)
		db_delete_obsolete_tables(t->db);
}

enum txn_read { TXN_READ_ALL, TXN_READ_RANGE, TXN_READ_INFO };

typedef struct txn_read_args {
	enum txn_read mode;
	void **val;
	size_t *vlen;
	uint64_t off;
	void *buf;
	size_t len;
	size_t *nread;
	wb_key_info *info;
} txn_read_args_t;

static int txn_read(wb_txn *t, unsigned ks, const void *key, size_t klen, txn_read_args_t *a)
{
	uint8_t stack[256], *tk;
	int rc = make_tree_key(ks, key, klen, stack, sizeof(stack), &tk);
	if (rc != WB_OK)
		return rc;
	slice_t tree_key = slice_make(tk, klen + 1);
	/* A key this transaction wrote is no read of the database. */
	rc = tracks_reads(t) && !own_write(t, tree_key) ? note_read(t, tree_key) : WB_OK;
	db_snapshot_t s;
	db_view_t v;
	if (rc == WB_OK && (rc = view_open(t, &s, &v, false)) == WB_OK) {
		switch (a->mode) {
		case TXN_READ_ALL:
			rc = db_view_read_all(&v, tree_key, a->val, a->vlen);
			break;
		case TXN_READ_RANGE:
			rc = db_view_read_range(&v, tree_key, a->off, a->buf, a->len, a->nread);
			break;
		case TXN_READ_INFO:
			rc = db_view_stat(&v, tree_key, a->info);
			break;
		}
		view_close(t, &s);
	}
	if (tk != stack)
		free(tk);
	return rc;
}

int wb_txn_get_ks(wb_txn *t, unsigned ks, const void *key, size_t klen, void **val, size_t *vlen)
{
	err_clear();
	*val = NULL;
	*vlen = 0;
	txn_read_args_t a = { .mode = TXN_READ_ALL, .val = val, .vlen = vlen };
	int rc = txn_read(t, ks, key, klen, &a);
	STAT_ADD(t->db, gets, 1);
	if (rc == WB_OK) {
		STAT_ADD(t->db, get_hits, 1);
		STAT_ADD(t->db, bytes_read, *vlen);
	}
	return rc;
}

int wb_txn_get_range(wb_txn *t, const void *key, size_t klen, uint64_t offset, void *buf,
		     size_t len, size_t *nread)
{
	err_clear();
	*nread = 0;
	txn_read_args_t a = { .mode = TXN_READ_RANGE, .off = offset, .buf = buf, .len = len,
			      .nread = nread };
	int rc = txn_read(t, WB_KS_USER, key, klen, &a);
	STAT_ADD(t->db, range_reads, 1);
	if (rc == WB_OK)
		STAT_ADD(t->db, bytes_read, *nread);
	return rc;
}

int wb_txn_stat_key(wb_txn *t, const void *key, size_t klen, wb_key_info *info)
{
	return wb_txn_stat_key_ks(t, WB_KS_USER, key, klen, info);
}

int wb_txn_stat_key_ks(wb_txn *t, unsigned ks, const void *key, size_t klen, wb_key_info *info)
{
	err_clear();
	txn_read_args_t a = { .mode = TXN_READ_INFO, .info = info };
	STAT_ADD(t->db, stat_keys, 1);
	return txn_read(t, ks, key, klen, &a);
}

int wb_txn_get(wb_txn *t, const void *key, size_t klen, void **val, size_t *vlen)
{
	return wb_txn_get_ks(t, WB_KS_USER, key, klen, val, vlen);
}

/* Adds one entry under tree key tk to t's buffer. */
static int txn_put_tree(wb_txn *t, slice_t tk, uint8_t meta, slice_t value)
{
	if (t->writes == NULL && (t->writes = memtable_new(0, WRITE_BUFFER_SIZE)) == NULL)
		return WB_ENOMEM;
	int rc = memtable_add(t->writes, tk, TXN_TS_BASE + t->seq, meta, value);
	if (rc == WB_OK)
		t->seq++;
	return rc;
}

static int txn_write(wb_txn *t, unsigned ks, uint8_t meta, const void *key, size_t klen,
		     const void *val, size_t vlen)
{
	err_clear();
	if (read_only(t))
		return err_set(WB_EREADONLY, "write in a read-only transaction");
	if ((uint64_t)vlen > WB_MAX_VALUE_LEN)
		return err_set(WB_EINVAL, "value length %zu is over the limit", vlen);
	uint8_t stack[256], *tk;
	int rc = make_tree_key(ks, key, klen, stack, sizeof(stack), &tk);
	if (rc != WB_OK)
		return rc;
	rc = txn_put_tree(t, slice_make(tk, klen + 1), meta, slice_make(val, vlen));
	if (tk != stack)
		free(tk);
	return rc;
}

int wb_txn_put_ks(wb_txn *t, unsigned ks, const void *key, size_t klen, const void *val,
		  size_t vlen)
{
	return txn_write(t, ks, 0, key, klen, val, vlen);
}

int wb_txn_put(wb_txn *t, const void *key, size_t klen, const void *val, size_t vlen)
{
	return txn_write(t, WB_KS_USER, 0, key, klen, val, vlen);
}

int wb_txn_delete_ks(wb_txn *t, unsigned ks, const void *key, size_t klen)
{
	return txn_write(t, ks, META_TOMBSTONE, key, klen, NULL, 0);
}

int wb_txn_delete(wb_txn *t, const void *key, size_t klen)
{
	return txn_write(t, WB_KS_USER, META_TOMBSTONE, key, klen, NULL, 0);
}

/* ---- Values changed in place (obj/object.h) ---- */

/* The sink the object layer writes into: t's buffer. Under serializable
 * isolation every key it writes counts as read too, since it wrote what
 * it read there (a chunk patched, a header counted). */
static int sink_put(void *arg, slice_t tk, uint8_t meta, slice_t value)
{
	wb_txn *t = arg;
	int rc = tracks_reads(t) ? note_read(t, tk) : WB_OK;
	return rc == WB_OK ? txn_put_tree(t, tk, meta, value) : rc;
}

enum obj_op { OP_WRITE_AT, OP_TRUNCATE, OP_LINK, OP_UNLINK, OP_MOVE };

typedef struct obj_call {
	enum obj_op op;
	const void *key, *key2; /* key2: the second key of a link or move */
	size_t klen, klen2;
	uint64_t off; /* write_at: offset; truncate: size */
	const void *data;
	size_t len;
} obj_call_t;

static int txn_object_op(wb_txn *t, const obj_call_t *c)
{
	err_clear();
	if (read_only(t))
		return err_set(WB_EREADONLY, "write in a read-only transaction");
	uint8_t s1[256], s2[256], *tk = NULL, *tk2 = NULL;
	int rc = make_tree_key(WB_KS_USER, c->key, c->klen, s1, sizeof(s1), &tk);
	if (rc != WB_OK)
		return rc;
	if (c->key2 != NULL && (rc = make_tree_key(WB_KS_USER, c->key2, c->klen2, s2, sizeof(s2), &tk2)) != WB_OK) {
		if (tk != s1)
			free(tk);
		return rc;
	}
	slice_t k1 = slice_make(tk, c->klen + 1), k2 = slice_make(tk2, c->klen2 + 1);
	db_snapshot_t s;
	db_view_t v;
	rc = tracks_reads(t) ? note_read(t, k1) : WB_OK;
	if (rc == WB_OK && tk2 != NULL && tracks_reads(t))
		rc = note_read(t, k2);
	if (rc == WB_OK && (rc = view_open(t, &s, &v, true)) == WB_OK) {
		obj_sink_t sink = { .put = sink_put, .arg = t, .view = &v, .db = t->db };
		switch (c->op) {
		case OP_WRITE_AT:
			rc = obj_write_at(&sink, k1, c->off, c->data, c->len);
			break;
		case OP_TRUNCATE:
			rc = obj_truncate(&sink, k1, c->off);
			break;
		case OP_LINK:
			rc = obj_link(&sink, k1, k2);
			break;
		case OP_UNLINK:
			rc = obj_unlink(&sink, k1);
			break;
		case OP_MOVE:
			rc = obj_move(&sink, k1, k2);
			break;
		}
		view_close(t, &s);
	}
	/* Half an operation in the buffer must never commit. */
	if (rc != WB_OK && rc != WB_ENOTFOUND && rc != WB_EINVAL && t->error == WB_OK)
		t->error = rc;
	if (tk != s1)
		free(tk);
	if (tk2 != NULL && tk2 != s2)
		free(tk2);
	return rc;
}

int wb_txn_write_at(wb_txn *t, const void *key, size_t klen, uint64_t offset, const void *data,
		    size_t len)
{
	obj_call_t c = { .op = OP_WRITE_AT, .key = key, .klen = klen, .off = offset, .data = data,
			 .len = len };
	return txn_object_op(t, &c);
}

int wb_txn_truncate(wb_txn *t, const void *key, size_t klen, uint64_t size)
{
	obj_call_t c = { .op = OP_TRUNCATE, .key = key, .klen = klen, .off = size };
	return txn_object_op(t, &c);
}

int wb_txn_link(wb_txn *t, const void *from, size_t flen, const void *to, size_t tlen)
{
	obj_call_t c = { .op = OP_LINK, .key = from, .klen = flen, .key2 = to, .klen2 = tlen };
	return txn_object_op(t, &c);
}

int wb_txn_unlink(wb_txn *t, const void *key, size_t klen)
{
	obj_call_t c = { .op = OP_UNLINK, .key = key, .klen = klen };
	return txn_object_op(t, &c);
}

int wb_txn_move(wb_txn *t, const void *from, size_t flen, const void *to, size_t tlen)
{
	obj_call_t c = { .op = OP_MOVE, .key = from, .klen = flen, .key2 = to, .klen2 = tlen };
	return txn_object_op(t, &c);
}

typedef struct range_call {
	const void *key;
	size_t klen;
	uint64_t off;
	const void *data;
	size_t len;
	bool truncate;
} range_call_t;

static int run_range_call(wb_txn *t, void *arg)
{
	range_call_t *c = arg;
	return c->truncate ? wb_txn_truncate(t, c->key, c->klen, c->off)
			   : wb_txn_write_at(t, c->key, c->klen, c->off, c->data, c->len);
}

int wb_write_at(wb_db *db, const void *key, size_t klen, uint64_t offset, const void *data,
		size_t len)
{
	range_call_t c = { key, klen, offset, data, len, false };
	return wb_txn_run(db, WB_TXN_SNAPSHOT, run_range_call, &c);
}

int wb_truncate(wb_db *db, const void *key, size_t klen, uint64_t size)
{
	range_call_t c = { key, klen, size, NULL, 0, true };
	return wb_txn_run(db, WB_TXN_SNAPSHOT, run_range_call, &c);
}

static uint8_t *dup_bytes(slice_t s)
{
	uint8_t *p = malloc(s.len ? s.len : 1);
	if (p != NULL && s.len)
		memcpy(p, s.data, s.len);
	return p;
}

/* Remembers the bounds of it as a range read. */
static int note_range(wb_txn *t, const wb_iter *it)
{
	if (!grow_array((void **)&t->ranges, &t->ranges_cap, t->nranges + 1, sizeof(*t->ranges)))
		return t->error = WB_ENOMEM;
	slice_t lo, hi;
	db_iter_bounds(it, &lo, &hi);
	key_range_t *r = &t->ranges[t->nranges];
	r->lo = dup_bytes(lo);
	r->hi = dup_bytes(hi);
	r->lo_len = lo.len;
	r->hi_len = hi.len;
	if (r->lo == NULL || r->hi == NULL) {
		free(r->lo);
		free(r->hi);
		return t->error = WB_ENOMEM;
	}
	t->nranges++;
	return WB_OK;
}

int wb_txn_iter_new(wb_txn *t, const wb_iter_options *opts, wb_iter **out)
{
	err_clear();
	*out = NULL;
	if (opts && opts->keyspace > KS_PUBLIC_LAST)
		return err_set(WB_EINVAL, "unknown keyspace %u", opts->keyspace);
	/* A read-write transaction iterates over its buffer too, also over
	 * writes it makes while the iterator is open. */
	if (!read_only(t) && t->writes == NULL &&
	    (t->writes = memtable_new(0, WRITE_BUFFER_SIZE)) == NULL)
		return WB_ENOMEM;
	int rc = db_iter_new(t->db, opts, t->reader.read_ts, t->writes, out);
	if (rc == WB_OK && tracks_reads(t) && (rc = note_range(t, *out)) != WB_OK) {
		wb_iter_free(*out);
		*out = NULL;
	}
	return rc;
}

/* The buffer as one batch: the newest own write of each key, in key order. */
static int build_batch(wb_txn *t, wb_batch *b)
{
	iter_t *it = memtable_iter(t->writes);
	if (it == NULL)
		return WB_ENOMEM;
	int rc = WB_OK;
	slice_t prev = { 0 };
	for (iter_seek_first(it); rc == WB_OK && iter_valid(it); iter_next(it)) {
		slice_t tk = ikey_tree_key(iter_key(it)), v = iter_value(it);
		if (prev.data != NULL && slice_compare(prev, tk) == 0)
			continue; /* an older write of the same key */
		prev = tk; /* arena memory: stays while the buffer lives */
		rc = batch_add(b, v.data[0], tk.data[0], slice_make(tk.data + 1, tk.len - 1),
			       slice_make(v.data + 1, v.len - 1));
	}
	if (rc == WB_OK)
		rc = iter_status(it);
	iter_destroy(it);
	return rc;
}

static int commit_writes(wb_txn *t)
{
	wb_db *db = t->db;
	wb_batch *b;
	int rc = wb_batch_new(&b);
	if (rc != WB_OK)
		return rc;
	rc = build_batch(t, b);
	txn_check_t check = {
		.read_ts = t->reader.read_ts,
		.serializable = tracks_reads(t),
		.reads = t->reads,
		.nreads = t->nreads,
		.ranges = t->ranges,
		.nranges = t->nranges,
	};
	/* Built here, outside mu: the leader only links it into the log. */
	if (rc == WB_OK)
		rc = oracle_rec_build(slice_make(b->rep, b->len), &check.rec);
	if (rc == WB_OK)
		rc = db_write_txn(db, b, &check);
	oracle_rec_free(check.rec); /* NULL when the oracle took it */
	if (rc == WB_OK) {
		STAT_ADD(db, batches, 1);
		STAT_ADD(db, bytes_written, b->len - BATCH_HEADER_SIZE);
	}
	wb_batch_free(b);
	return rc;
}

int wb_txn_commit(wb_txn *t)
{
	err_clear();
	wb_db *db = t->db;
	int rc = t->error;
	if (rc != WB_OK)
		rc = err_set(rc, "the transaction lost track of its reads (%s)", wb_strerror(rc));
	else if (t->writes != NULL && memtable_count(t->writes) > 0)
		rc = commit_writes(t);
	if (rc == WB_OK)
		STAT_ADD(db, txn_commits, 1);
	else if (rc == WB_ECONFLICT)
		STAT_ADD(db, txn_conflicts, 1);
	txn_free(t);
	if (rc == WB_ECONFLICT)
		rc = err_set(rc, "a transaction committed since this one began changed what it read "
				 "or wrote; retry it");
	return rc;
}

void wb_txn_abort(wb_txn *t)
{
	if (t == NULL)
		return;
	STAT_ADD(t->db, txn_aborts, 1);
	txn_free(t);
}

/* A pause of a random length in [us/2, us] on db's clock. */
static void backoff(wb_db *db, unsigned us)
{
	static _Thread_local uint64_t state;
	if (state == 0)
		state = (uint64_t)(uintptr_t)&state ^ clock_wall_micros(db->env) ^ 0x9e3779b97f4a7c15ull;
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	unsigned d = us / 2 + (unsigned)(state % (us / 2 + 1));
	clock_sleep_micros(db->env, d);
}

int wb_txn_run(wb_db *db, unsigned flags, int (*fn)(wb_txn *t, void *arg), void *arg)
{
	unsigned delay = 20;
	for (int attempt = 1;; attempt++) {
		wb_txn *t;
		int rc = wb_txn_begin(db, flags, &t);
		if (rc != WB_OK)
			return rc;
		rc = fn(t, arg);
		if (rc == WB_OK) {
			rc = wb_txn_commit(t);
		} else {
			wb_txn_abort(t);
		}
		if (rc != WB_ECONFLICT || attempt == TXN_RUN_ATTEMPTS)
			return rc;
		STAT_ADD(db, txn_retries, 1);
		backoff(db, delay);
		if (delay < 10000)
			delay *= 2;
	}
}
