/*
 * kv_leveldb.c -- kvbench's adapter for LevelDB through its C API
 * (<leveldb/c.h>, Debian's libleveldb-dev). LevelDB's defaults except: no
 * compression, a 10 bits/key bloom filter, a 256 MiB LRU block cache, and
 * write_buffer_size 64 MiB (its default is 4 MiB; raised to match Wombat's
 * and RocksDB's memtables), WriteOptions.sync only for fillsync. LevelDB has
 * no call that waits for background compaction, so settle does nothing.
 */
#include <stdlib.h>

#include <leveldb/c.h>

#include "kv_adapter.h"

struct ldb {
	leveldb_t *db;
	leveldb_options_t *opts;
	leveldb_cache_t *cache;
	leveldb_filterpolicy_t *bloom;
	leveldb_writeoptions_t *wo;
	leveldb_writeoptions_t *wo_sync; /* for sync(): an empty synced write */
	leveldb_readoptions_t *ro;
};

struct liter {
	leveldb_iterator_t *it;
};

static int check(const char *call, char *err)
{
	if (err == NULL)
		return KV_OK;
	kv_error("%s: %s", call, err);
	leveldb_free(err);
	return KV_ERR;
}

/* The options do not own the cache and the filter: close the db first. */
static void release(struct ldb *l)
{
	if (l->db)
		leveldb_close(l->db);
	if (l->wo)
		leveldb_writeoptions_destroy(l->wo);
	if (l->wo_sync)
		leveldb_writeoptions_destroy(l->wo_sync);
	if (l->ro)
		leveldb_readoptions_destroy(l->ro);
	if (l->opts)
		leveldb_options_destroy(l->opts);
	if (l->cache)
		leveldb_cache_destroy(l->cache);
	if (l->bloom)
		leveldb_filterpolicy_destroy(l->bloom);
	free(l);
}

static int l_open(const char *dir, const struct kv_config *cfg, void **out)
{
	struct ldb *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return kv_error("leveldb open: out of memory");
	l->opts = leveldb_options_create();
	leveldb_options_set_create_if_missing(l->opts, 1);
	leveldb_options_set_compression(l->opts, leveldb_no_compression);
	leveldb_options_set_write_buffer_size(l->opts, cfg->write_buffer_bytes);
	l->cache = leveldb_cache_create_lru(cfg->cache_bytes);
	leveldb_options_set_cache(l->opts, l->cache);
	l->bloom = leveldb_filterpolicy_create_bloom(cfg->bloom_bits);
	leveldb_options_set_filter_policy(l->opts, l->bloom);
	l->wo = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(l->wo, (uint8_t)cfg->sync);
	l->wo_sync = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(l->wo_sync, 1);
	l->ro = leveldb_readoptions_create();

	char *err = NULL;
	l->db = leveldb_open(l->opts, dir, &err);
	if (check("leveldb_open", err) != KV_OK) {
		release(l);
		return KV_ERR;
	}
	*out = l;
	return KV_OK;
}

static int l_close(void *db)
{
	release(db);
	return KV_OK;
}

static int l_put(void *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct ldb *l = db;
	char *err = NULL;
	leveldb_put(l->db, l->wo, key, klen, val, vlen, &err);
	return check("leveldb_put", err);
}

static int l_get(void *db, const void *key, size_t klen, size_t *vlen)
{
	struct ldb *l = db;
	char *err = NULL;
	char *v = leveldb_get(l->db, l->ro, key, klen, vlen, &err);
	if (err != NULL)
		return check("leveldb_get", err);
	if (v == NULL)
		return KV_NOTFOUND;
	leveldb_free(v);
	return KV_OK;
}

static int l_del(void *db, const void *key, size_t klen)
{
	struct ldb *l = db;
	char *err = NULL;
	leveldb_delete(l->db, l->wo, key, klen, &err);
	return check("leveldb_delete", err);
}

static int l_batch_new(void *db, void **out)
{
	(void)db;
	*out = leveldb_writebatch_create();
	return KV_OK;
}

static int l_batch_put(void *b, const void *key, size_t klen, const void *val, size_t vlen)
{
	leveldb_writebatch_put(b, key, klen, val, vlen);
	return KV_OK;
}

static int l_batch_del(void *b, const void *key, size_t klen)
{
	leveldb_writebatch_delete(b, key, klen);
	return KV_OK;
}

static int l_batch_write(void *db, void *b)
{
	struct ldb *l = db;
	char *err = NULL;
	leveldb_write(l->db, l->wo, b, &err);
	leveldb_writebatch_clear(b);
	return check("leveldb_write", err);
}

static void l_batch_free(void *b)
{
	leveldb_writebatch_destroy(b);
}

static int l_iter_new(void *db, void **out)
{
	struct ldb *l = db;
	struct liter *i = malloc(sizeof(*i));
	if (i == NULL)
		return kv_error("leveldb iterator: out of memory");
	i->it = leveldb_create_iterator(l->db, l->ro);
	*out = i;
	return KV_OK;
}

static int iter_state(struct liter *i)
{
	if (leveldb_iter_valid(i->it))
		return KV_OK;
	char *err = NULL;
	leveldb_iter_get_error(i->it, &err);
	return err ? check("leveldb iterator", err) : KV_END;
}

static int l_iter_first(void *it)
{
	struct liter *i = it;
	leveldb_iter_seek_to_first(i->it);
	return iter_state(i);
}

static int l_iter_last(void *it)
{
	struct liter *i = it;
	leveldb_iter_seek_to_last(i->it);
	return iter_state(i);
}

static int l_iter_seek(void *it, const void *key, size_t klen)
{
	struct liter *i = it;
	leveldb_iter_seek(i->it, key, klen);
	return iter_state(i);
}

static int l_iter_next(void *it)
{
	struct liter *i = it;
	leveldb_iter_next(i->it);
	return iter_state(i);
}

static int l_iter_prev(void *it)
{
	struct liter *i = it;
	leveldb_iter_prev(i->it);
	return iter_state(i);
}

static void l_iter_entry(void *it, const void **key, size_t *klen, const void **val, size_t *vlen)
{
	struct liter *i = it;
	*key = leveldb_iter_key(i->it, klen);
	*val = leveldb_iter_value(i->it, vlen);
}

static void l_iter_free(void *it)
{
	struct liter *i = it;
	leveldb_iter_destroy(i->it);
	free(i);
}

/* LevelDB has no explicit sync: a synced write of an empty batch appends a
 * header-only log record and fsyncs the log, which covers every earlier
 * write. */
static int l_sync(void *db)
{
	struct ldb *l = db;
	leveldb_writebatch_t *b = leveldb_writebatch_create();
	char *err = NULL;
	leveldb_write(l->db, l->wo_sync, b, &err);
	leveldb_writebatch_destroy(b);
	return check("leveldb_write(sync)", err);
}

static int l_settle(void *db)
{
	(void)db;
	return KV_OK;
}

const struct kv_engine kv_leveldb = {
    .name = "leveldb",
    .abbr = "level",
    .open = l_open,
    .close = l_close,
    .put = l_put,
    .get = l_get,
    .del = l_del,
    .batch_new = l_batch_new,
    .batch_put = l_batch_put,
    .batch_del = l_batch_del,
    .batch_write = l_batch_write,
    .batch_free = l_batch_free,
    .iter_new = l_iter_new,
    .iter_first = l_iter_first,
    .iter_last = l_iter_last,
    .iter_seek = l_iter_seek,
    .iter_next = l_iter_next,
    .iter_prev = l_iter_prev,
    .iter_entry = l_iter_entry,
    .iter_free = l_iter_free,
    .sync = l_sync,
    .settle = l_settle,
    .thread_end = NULL,
};
