/*
 * kv_lmdb.c -- kvbench's adapter for LMDB (<lmdb.h>, Debian's liblmdb-dev).
 * LMDB is a copy-on-write B+tree in one memory map, so the LSM settings do
 * not apply: it has no block cache of its own (the OS page cache is its
 * cache), no bloom filter and no memtable. The map is cfg->lmdb_map_bytes
 * (64 GiB of address space; the file grows only as data is written),
 * MDB_WRITEMAP is off, and for the no-sync runs the environment is opened
 * with MDB_NOSYNC | MDB_NOMETASYNC; fillsync opens it without them, so each
 * commit is fsynced. Each put or delete is its own write transaction, as
 * each put is one write in the other engines.
 *
 * Reads: a get runs in a read transaction that each thread keeps and
 * reuses (mdb_txn_renew / mdb_txn_reset), so it sees the latest commit;
 * mdb_get returns a pointer into the map (LMDB's zero-copy read), and the
 * adapter touches the value's first and last byte. MDB_NOTLS ties read
 * transactions to their handle, not the thread, so an iterator's own
 * transaction and the cached one can coexist on one thread.
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "kv_adapter.h"

struct lmdb {
	MDB_env *env;
	MDB_dbi dbi;
};

/* The calling thread's reusable read transaction (reset between gets) and
 * the environment it belongs to. */
static __thread MDB_txn *read_txn;
static __thread struct lmdb *read_txn_env;

/* Where touched value bytes go so the compiler cannot drop the loads. */
static volatile unsigned char sink;

struct liter {
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
};

/* A batch is a byte string of records: op (1 byte), klen, vlen (size_t),
 * key, value; applied in one write transaction. */
struct lbatch {
	unsigned char *buf;
	size_t len, cap;
};

enum { OP_PUT = 1, OP_DEL = 2 };

static int fail(const char *call, int rc)
{
	return kv_error("%s: %s", call, mdb_strerror(rc));
}

static int m_open(const char *dir, const struct kv_config *cfg, void **out)
{
	struct lmdb *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return kv_error("lmdb open: out of memory");
	int rc = mdb_env_create(&l->env);
	if (rc != 0) {
		free(l);
		return fail("mdb_env_create", rc);
	}
	unsigned flags = MDB_NOTLS;
	if (!cfg->sync)
		flags |= MDB_NOSYNC | MDB_NOMETASYNC;
	const char *call = "mdb_env_set_mapsize";
	rc = mdb_env_set_mapsize(l->env, cfg->lmdb_map_bytes);
	if (rc == 0) {
		call = "mdb_env_open";
		rc = mdb_env_open(l->env, dir, flags, 0644);
	}
	MDB_txn *txn = NULL;
	if (rc == 0) {
		call = "mdb_txn_begin";
		rc = mdb_txn_begin(l->env, NULL, 0, &txn);
	}
	if (rc == 0) {
		call = "mdb_dbi_open";
		rc = mdb_dbi_open(txn, NULL, 0, &l->dbi);
		if (rc == 0) {
			call = "mdb_txn_commit";
			rc = mdb_txn_commit(txn);
		} else {
			mdb_txn_abort(txn);
		}
	}
	if (rc != 0) {
		mdb_env_close(l->env);
		free(l);
		return fail(call, rc);
	}
	*out = l;
	return KV_OK;
}

static void drop_read_txn(struct lmdb *l)
{
	if (read_txn != NULL && read_txn_env == l) {
		mdb_txn_abort(read_txn);
		read_txn = NULL;
		read_txn_env = NULL;
	}
}

static int m_close(void *db)
{
	struct lmdb *l = db;
	drop_read_txn(l);
	mdb_env_close(l->env);
	free(l);
	return KV_OK;
}

static int write_one(struct lmdb *l, int op, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(l->env, NULL, 0, &txn);
	if (rc != 0)
		return fail("mdb_txn_begin", rc);
	MDB_val k = {klen, (void *)key};
	if (op == OP_PUT) {
		MDB_val v = {vlen, (void *)val};
		rc = mdb_put(txn, l->dbi, &k, &v, 0);
	} else {
		rc = mdb_del(txn, l->dbi, &k, NULL);
		if (rc == MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return KV_OK;
		}
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return fail(op == OP_PUT ? "mdb_put" : "mdb_del", rc);
	}
	rc = mdb_txn_commit(txn);
	return rc == 0 ? KV_OK : fail("mdb_txn_commit", rc);
}

static int m_put(void *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	return write_one(db, OP_PUT, key, klen, val, vlen);
}

static int m_del(void *db, const void *key, size_t klen)
{
	return write_one(db, OP_DEL, key, klen, NULL, 0);
}

static int m_get(void *db, const void *key, size_t klen, size_t *vlen)
{
	struct lmdb *l = db;
	int rc;
	if (read_txn != NULL && read_txn_env == l) {
		rc = mdb_txn_renew(read_txn);
		if (rc != 0)
			return fail("mdb_txn_renew", rc);
	} else {
		rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &read_txn);
		if (rc != 0) {
			read_txn = NULL;
			return fail("mdb_txn_begin(rdonly)", rc);
		}
		read_txn_env = l;
	}
	MDB_val k = {klen, (void *)key}, v;
	rc = mdb_get(read_txn, l->dbi, &k, &v);
	if (rc == 0 && v.mv_size > 0) {
		const unsigned char *p = v.mv_data;
		sink = p[0] ^ p[v.mv_size - 1];
	}
	*vlen = rc == 0 ? v.mv_size : 0;
	mdb_txn_reset(read_txn);
	if (rc == MDB_NOTFOUND)
		return KV_NOTFOUND;
	return rc == 0 ? KV_OK : fail("mdb_get", rc);
}

static int m_batch_new(void *db, void **out)
{
	(void)db;
	struct lbatch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return kv_error("lmdb batch: out of memory");
	*out = b;
	return KV_OK;
}

static int batch_add(struct lbatch *b, int op, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
	size_t need = 1 + 2 * sizeof(size_t) + klen + vlen;
	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + need)
			cap *= 2;
		unsigned char *p = realloc(b->buf, cap);
		if (p == NULL)
			return kv_error("lmdb batch: out of memory");
		b->buf = p;
		b->cap = cap;
	}
	unsigned char *p = b->buf + b->len;
	*p++ = (unsigned char)op;
	memcpy(p, &klen, sizeof(klen));
	p += sizeof(klen);
	memcpy(p, &vlen, sizeof(vlen));
	p += sizeof(vlen);
	memcpy(p, key, klen);
	if (vlen)
		memcpy(p + klen, val, vlen);
	b->len += need;
	return KV_OK;
}

static int m_batch_put(void *b, const void *key, size_t klen, const void *val, size_t vlen)
{
	return batch_add(b, OP_PUT, key, klen, val, vlen);
}

static int m_batch_del(void *b, const void *key, size_t klen)
{
	return batch_add(b, OP_DEL, key, klen, NULL, 0);
}

static int m_batch_write(void *db, void *batch)
{
	struct lmdb *l = db;
	struct lbatch *b = batch;
	MDB_txn *txn;
	int rc = mdb_txn_begin(l->env, NULL, 0, &txn);
	if (rc != 0)
		return fail("mdb_txn_begin", rc);
	const char *call = "mdb_put";
	for (size_t off = 0; off < b->len && rc == 0;) {
		unsigned char *p = b->buf + off;
		int op = *p++;
		MDB_val k, v;
		memcpy(&k.mv_size, p, sizeof(size_t));
		p += sizeof(size_t);
		memcpy(&v.mv_size, p, sizeof(size_t));
		p += sizeof(size_t);
		k.mv_data = p;
		v.mv_data = p + k.mv_size;
		off += 1 + 2 * sizeof(size_t) + k.mv_size + v.mv_size;
		if (op == OP_PUT) {
			rc = mdb_put(txn, l->dbi, &k, &v, 0);
		} else {
			call = "mdb_del";
			rc = mdb_del(txn, l->dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		}
	}
	b->len = 0;
	if (rc != 0) {
		mdb_txn_abort(txn);
		return fail(call, rc);
	}
	rc = mdb_txn_commit(txn);
	return rc == 0 ? KV_OK : fail("mdb_txn_commit", rc);
}

static void m_batch_free(void *batch)
{
	struct lbatch *b = batch;
	if (b) {
		free(b->buf);
		free(b);
	}
}

static int m_iter_new(void *db, void **out)
{
	struct lmdb *l = db;
	struct liter *i = calloc(1, sizeof(*i));
	if (i == NULL)
		return kv_error("lmdb iterator: out of memory");
	int rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &i->txn);
	if (rc != 0) {
		free(i);
		return fail("mdb_txn_begin(rdonly)", rc);
	}
	rc = mdb_cursor_open(i->txn, l->dbi, &i->cur);
	if (rc != 0) {
		mdb_txn_abort(i->txn);
		free(i);
		return fail("mdb_cursor_open", rc);
	}
	*out = i;
	return KV_OK;
}

static int move(struct liter *i, MDB_cursor_op op)
{
	int rc = mdb_cursor_get(i->cur, &i->k, &i->v, op);
	if (rc == MDB_NOTFOUND)
		return KV_END;
	return rc == 0 ? KV_OK : fail("mdb_cursor_get", rc);
}

static int m_iter_first(void *it)
{
	return move(it, MDB_FIRST);
}

static int m_iter_last(void *it)
{
	return move(it, MDB_LAST);
}

static int m_iter_seek(void *it, const void *key, size_t klen)
{
	struct liter *i = it;
	i->k.mv_size = klen;
	i->k.mv_data = (void *)key;
	return move(i, MDB_SET_RANGE);
}

static int m_iter_next(void *it)
{
	return move(it, MDB_NEXT);
}

static int m_iter_prev(void *it)
{
	return move(it, MDB_PREV);
}

static void m_iter_entry(void *it, const void **key, size_t *klen, const void **val, size_t *vlen)
{
	struct liter *i = it;
	*key = i->k.mv_data;
	*klen = i->k.mv_size;
	*val = i->v.mv_data;
	*vlen = i->v.mv_size;
}

static void m_iter_free(void *it)
{
	struct liter *i = it;
	mdb_cursor_close(i->cur);
	mdb_txn_abort(i->txn);
	free(i);
}

static int m_sync(void *db)
{
	struct lmdb *l = db;
	int rc = mdb_env_sync(l->env, 1);
	return rc == 0 ? KV_OK : fail("mdb_env_sync", rc);
}

static int m_settle(void *db)
{
	(void)db;
	return KV_OK;
}

static void m_thread_end(void *db)
{
	drop_read_txn(db);
}

const struct kv_engine kv_lmdb = {
    .name = "lmdb",
    .abbr = "lmdb",
    .open = m_open,
    .close = m_close,
    .put = m_put,
    .get = m_get,
    .del = m_del,
    .batch_new = m_batch_new,
    .batch_put = m_batch_put,
    .batch_del = m_batch_del,
    .batch_write = m_batch_write,
    .batch_free = m_batch_free,
    .iter_new = m_iter_new,
    .iter_first = m_iter_first,
    .iter_last = m_iter_last,
    .iter_seek = m_iter_seek,
    .iter_next = m_iter_next,
    .iter_prev = m_iter_prev,
    .iter_entry = m_iter_entry,
    .iter_free = m_iter_free,
    .sync = m_sync,
    .settle = m_settle,
    .thread_end = m_thread_end,
};
