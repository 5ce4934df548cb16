/*
 * kv_rocksdb.c -- kvbench's adapter for RocksDB through its C API
 * (<rocksdb/c.h>, Debian's librocksdb-dev). RocksDB's defaults except:
 * no compression, a 10 bits/key bloom filter and a 256 MiB LRU block cache
 * in the block-based table options, write_buffer_size 64 MiB (Wombat's
 * memtable size), max_background_jobs 2 (the machine has 2 cores), and
 * WriteOptions.sync only for fillsync. Reads use rocksdb_get, which like
 * wb_get and leveldb_get returns a malloc'd copy of the value.
 */
#include <stdlib.h>
#include <time.h>

#include <rocksdb/c.h>

#include "kv_adapter.h"

/* How long settle waits at most for running compactions to drain. */
#define SETTLE_MAX_MS  30000
#define SETTLE_POLL_MS 50

struct rdb {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_block_based_table_options_t *topts;
	rocksdb_cache_t *cache;
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
};

struct riter {
	rocksdb_iterator_t *it;
};

/* Turns an errptr result into KV_ERR (freeing RocksDB's message). */
static int check(const char *call, char *err)
{
	if (err == NULL)
		return KV_OK;
	kv_error("%s: %s", call, err);
	rocksdb_free(err);
	return KV_ERR;
}

static void release(struct rdb *r)
{
	if (r->db)
		rocksdb_close(r->db);
	if (r->wo)
		rocksdb_writeoptions_destroy(r->wo);
	if (r->ro)
		rocksdb_readoptions_destroy(r->ro);
	if (r->opts)
		rocksdb_options_destroy(r->opts);
	if (r->topts)
		rocksdb_block_based_options_destroy(r->topts);
	if (r->cache)
		rocksdb_cache_destroy(r->cache);
	free(r);
}

static int r_open(const char *dir, const struct kv_config *cfg, void **out)
{
	struct rdb *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return kv_error("rocksdb open: out of memory");
	r->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(r->opts, 1);
	rocksdb_options_set_compression(r->opts, rocksdb_no_compression);
	rocksdb_options_set_write_buffer_size(r->opts, cfg->write_buffer_bytes);
	rocksdb_options_set_max_background_jobs(r->opts, 2);
	r->topts = rocksdb_block_based_options_create();
	r->cache = rocksdb_cache_create_lru(cfg->cache_bytes);
	rocksdb_block_based_options_set_block_cache(r->topts, r->cache);
	/* The table options take ownership of the policy. */
	rocksdb_block_based_options_set_filter_policy(
	    r->topts, rocksdb_filterpolicy_create_bloom(cfg->bloom_bits));
	rocksdb_options_set_block_based_table_factory(r->opts, r->topts);
	r->wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(r->wo, (unsigned char)cfg->sync);
	r->ro = rocksdb_readoptions_create();

	char *err = NULL;
	r->db = rocksdb_open(r->opts, dir, &err);
	if (check("rocksdb_open", err) != KV_OK) {
		release(r);
		return KV_ERR;
	}
	*out = r;
	return KV_OK;
}

static int r_close(void *db)
{
	release(db);
	return KV_OK;
}

static int r_put(void *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct rdb *r = db;
	char *err = NULL;
	rocksdb_put(r->db, r->wo, key, klen, val, vlen, &err);
	return check("rocksdb_put", err);
}

static int r_get(void *db, const void *key, size_t klen, size_t *vlen)
{
	struct rdb *r = db;
	char *err = NULL;
	char *v = rocksdb_get(r->db, r->ro, key, klen, vlen, &err);
	if (err != NULL)
		return check("rocksdb_get", err);
	if (v == NULL)
		return KV_NOTFOUND;
	rocksdb_free(v);
	return KV_OK;
}

static int r_del(void *db, const void *key, size_t klen)
{
	struct rdb *r = db;
	char *err = NULL;
	rocksdb_delete(r->db, r->wo, key, klen, &err);
	return check("rocksdb_delete", err);
}

static int r_batch_new(void *db, void **out)
{
	(void)db;
	*out = rocksdb_writebatch_create();
	return KV_OK;
}

static int r_batch_put(void *b, const void *key, size_t klen, const void *val, size_t vlen)
{
	rocksdb_writebatch_put(b, key, klen, val, vlen);
	return KV_OK;
}

static int r_batch_del(void *b, const void *key, size_t klen)
{
	rocksdb_writebatch_delete(b, key, klen);
	return KV_OK;
}

static int r_batch_write(void *db, void *b)
{
	struct rdb *r = db;
	char *err = NULL;
	rocksdb_write(r->db, r->wo, b, &err);
	rocksdb_writebatch_clear(b);
	return check("rocksdb_write", err);
}

static void r_batch_free(void *b)
{
	rocksdb_writebatch_destroy(b);
}

static int r_iter_new(void *db, void **out)
{
	struct rdb *r = db;
	struct riter *i = malloc(sizeof(*i));
	if (i == NULL)
		return kv_error("rocksdb iterator: out of memory");
	i->it = rocksdb_create_iterator(r->db, r->ro);
	*out = i;
	return KV_OK;
}

static int iter_state(struct riter *i)
{
	if (rocksdb_iter_valid(i->it))
		return KV_OK;
	char *err = NULL;
	rocksdb_iter_get_error(i->it, &err);
	return err ? check("rocksdb iterator", err) : KV_END;
}

static int r_iter_first(void *it)
{
	struct riter *i = it;
	rocksdb_iter_seek_to_first(i->it);
	return iter_state(i);
}

static int r_iter_last(void *it)
{
	struct riter *i = it;
	rocksdb_iter_seek_to_last(i->it);
	return iter_state(i);
}

static int r_iter_seek(void *it, const void *key, size_t klen)
{
	struct riter *i = it;
	rocksdb_iter_seek(i->it, key, klen);
	return iter_state(i);
}

static int r_iter_next(void *it)
{
	struct riter *i = it;
	rocksdb_iter_next(i->it);
	return iter_state(i);
}

static int r_iter_prev(void *it)
{
	struct riter *i = it;
	rocksdb_iter_prev(i->it);
	return iter_state(i);
}

static void r_iter_entry(void *it, const void **key, size_t *klen, const void **val, size_t *vlen)
{
	struct riter *i = it;
	*key = rocksdb_iter_key(i->it, klen);
	*val = rocksdb_iter_value(i->it, vlen);
}

static void r_iter_free(void *it)
{
	struct riter *i = it;
	rocksdb_iter_destroy(i->it);
	free(i);
}

static int r_sync(void *db)
{
	struct rdb *r = db;
	char *err = NULL;
	rocksdb_flush_wal(r->db, 1, &err);
	return check("rocksdb_flush_wal", err);
}

static uint64_t prop(struct rdb *r, const char *name)
{
	uint64_t v = 0;
	if (rocksdb_property_int(r->db, name, &v) != 0)
		return 0;
	return v;
}

/* Flush the memtable (waiting for it), then give running and pending
 * compactions up to SETTLE_MAX_MS to finish. */
static int r_settle(void *db)
{
	struct rdb *r = db;
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	rocksdb_flushoptions_set_wait(fo, 1);
	char *err = NULL;
	rocksdb_flush(r->db, fo, &err);
	rocksdb_flushoptions_destroy(fo);
	if (check("rocksdb_flush", err) != KV_OK)
		return KV_ERR;
	struct timespec nap = {0, SETTLE_POLL_MS * 1000000L};
	for (int waited = 0; waited < SETTLE_MAX_MS; waited += SETTLE_POLL_MS) {
		if (prop(r, "rocksdb.num-running-compactions") == 0 &&
		    prop(r, "rocksdb.compaction-pending") == 0)
			break;
		nanosleep(&nap, NULL);
	}
	return KV_OK;
}

const struct kv_engine kv_rocksdb = {
    .name = "rocksdb",
    .abbr = "rocks",
    .open = r_open,
    .close = r_close,
    .put = r_put,
    .get = r_get,
    .del = r_del,
    .batch_new = r_batch_new,
    .batch_put = r_batch_put,
    .batch_del = r_batch_del,
    .batch_write = r_batch_write,
    .batch_free = r_batch_free,
    .iter_new = r_iter_new,
    .iter_first = r_iter_first,
    .iter_last = r_iter_last,
    .iter_seek = r_iter_seek,
    .iter_next = r_iter_next,
    .iter_prev = r_iter_prev,
    .iter_entry = r_iter_entry,
    .iter_free = r_iter_free,
    .sync = r_sync,
    .settle = r_settle,
    .thread_end = NULL,
};
