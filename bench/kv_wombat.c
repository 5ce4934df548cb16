/*
 * kv_wombat.c -- kvbench's adapter for Wombat, through the public API
 * (wombat.h) only. Options: wb_options_init() defaults, with the shared
 * fair settings written in explicitly (memtable, block cache, bloom bits,
 * all equal to the defaults today) and sync = WB_SYNC_NONE, or
 * WB_SYNC_ALWAYS for fillsync. Settling flushes the memtable, then waits
 * while wb_stats_text shows a level due for compaction. Every failure is reported as
 * "wb_<call>: <wb_strerror> (<wb_errmsg>)", captured on the failing thread
 * because wb_errmsg is per thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv_adapter.h"
#include "wombat.h"

/* How long settle waits at most for due compactions (as kv_rocksdb.c). */
#define SETTLE_MAX_MS  30000
#define SETTLE_POLL_MS 50

static int fail(const wb_db *db, const char *call, int rc)
{
	return kv_error("%s: %s (%s)", call, wb_strerror(rc), wb_errmsg(db));
}

static int w_open(const char *dir, const struct kv_config *cfg, void **out)
{
	wb_options o;
	wb_options_init(&o);
	o.create_if_missing = 1;
	o.sync = cfg->sync ? WB_SYNC_ALWAYS : WB_SYNC_NONE;
	o.memtable_size = cfg->write_buffer_bytes;
	o.block_cache_size = cfg->cache_bytes;
	o.bloom_bits_per_key = cfg->bloom_bits;
	wb_db *db;
	int rc = wb_open(dir, &o, &db);
	if (rc != WB_OK)
		return fail(NULL, "wb_open", rc);
	*out = db;
	return KV_OK;
}

static int w_close(void *db)
{
	int rc = wb_close(db);
	return rc == WB_OK ? KV_OK : fail(NULL, "wb_close", rc);
}

static int w_put(void *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	int rc = wb_put(db, key, klen, val, vlen);
	return rc == WB_OK ? KV_OK : fail(db, "wb_put", rc);
}

static int w_get(void *db, const void *key, size_t klen, size_t *vlen)
{
	void *v;
	int rc = wb_get(db, key, klen, &v, vlen);
	if (rc == WB_ENOTFOUND)
		return KV_NOTFOUND;
	if (rc != WB_OK)
		return fail(db, "wb_get", rc);
	wb_free(v);
	return KV_OK;
}

static int w_del(void *db, const void *key, size_t klen)
{
	int rc = wb_delete(db, key, klen);
	return rc == WB_OK ? KV_OK : fail(db, "wb_delete", rc);
}

static int w_batch_new(void *db, void **out)
{
	wb_batch *b;
	int rc = wb_batch_new(&b);
	if (rc != WB_OK)
		return fail(db, "wb_batch_new", rc);
	*out = b;
	return KV_OK;
}

static int w_batch_put(void *b, const void *key, size_t klen, const void *val, size_t vlen)
{
	int rc = wb_batch_put(b, key, klen, val, vlen);
	return rc == WB_OK ? KV_OK : fail(NULL, "wb_batch_put", rc);
}

static int w_batch_del(void *b, const void *key, size_t klen)
{
	int rc = wb_batch_delete(b, key, klen);
	return rc == WB_OK ? KV_OK : fail(NULL, "wb_batch_delete", rc);
}

static int w_batch_write(void *db, void *b)
{
	int rc = wb_write(db, b);
	wb_batch_clear(b);
	return rc == WB_OK ? KV_OK : fail(db, "wb_write", rc);
}

static void w_batch_free(void *b)
{
	wb_batch_free(b);
}

static int w_iter_new(void *db, void **out)
{
	wb_iter *it;
	int rc = wb_iter_new(db, NULL, &it);
	if (rc != WB_OK)
		return fail(db, "wb_iter_new", rc);
	*out = it;
	return KV_OK;
}

/* After a move: positioned, at an end, or stopped by an error. */
static int iter_state(wb_iter *it, const char *call)
{
	if (wb_iter_valid(it))
		return KV_OK;
	int rc = wb_iter_status(it);
	return rc == WB_OK ? KV_END : fail(NULL, call, rc);
}

static int w_iter_first(void *it)
{
	wb_iter_seek_first(it);
	return iter_state(it, "wb_iter_seek_first");
}

static int w_iter_last(void *it)
{
	wb_iter_seek_last(it);
	return iter_state(it, "wb_iter_seek_last");
}

static int w_iter_seek(void *it, const void *key, size_t klen)
{
	wb_iter_seek(it, key, klen);
	return iter_state(it, "wb_iter_seek");
}

static int w_iter_next(void *it)
{
	wb_iter_next(it);
	return iter_state(it, "wb_iter_next");
}

static int w_iter_prev(void *it)
{
	wb_iter_prev(it);
	return iter_state(it, "wb_iter_prev");
}

static void w_iter_entry(void *it, const void **key, size_t *klen, const void **val, size_t *vlen)
{
	*key = wb_iter_key(it, klen);
	*val = wb_iter_value(it, vlen);
}

static void w_iter_free(void *it)
{
	wb_iter_free(it);
}

static int w_sync(void *db)
{
	int rc = wb_sync(db);
	return rc == WB_OK ? KV_OK : fail(db, "wb_sync", rc);
}

/* The highest compaction score in wb_stats_json's "levels" (a level with
 * score >= 1 is due for compaction; the JSON keeps full precision, where
 * the text table rounds 0.996 up to "1.00"), or -1 when there is none. */
static double max_score(wb_db *db)
{
	char *json;
	if (wb_stats_json(db, &json) != WB_OK)
		return -1;
	double max = -1;
	for (const char *p = json; (p = strstr(p, "\"score\":")) != NULL; p++) {
		double score = strtod(p + 8, NULL);
		if (score > max)
			max = score;
	}
	wb_free(json);
	return max;
}

/* wb_flush writes the memtable out and waits for it. Nothing in the public
 * API waits for compactions, so, like the RocksDB adapter with its
 * "compaction-pending" property, poll the level scores until no level is
 * due (or SETTLE_MAX_MS passes). */
static int w_settle(void *db)
{
	int rc = wb_flush(db);
	if (rc != WB_OK)
		return fail(db, "wb_flush", rc);
	struct timespec nap = {0, SETTLE_POLL_MS * 1000000L};
	for (int waited = 0; waited < SETTLE_MAX_MS; waited += SETTLE_POLL_MS) {
		if (max_score(db) < 1.0)
			break;
		nanosleep(&nap, NULL);
	}
	return KV_OK;
}

const struct kv_engine kv_wombat = {
    .name = "wombat",
    .abbr = "wombat",
    .open = w_open,
    .close = w_close,
    .put = w_put,
    .get = w_get,
    .del = w_del,
    .batch_new = w_batch_new,
    .batch_put = w_batch_put,
    .batch_del = w_batch_del,
    .batch_write = w_batch_write,
    .batch_free = w_batch_free,
    .iter_new = w_iter_new,
    .iter_first = w_iter_first,
    .iter_last = w_iter_last,
    .iter_seek = w_iter_seek,
    .iter_next = w_iter_next,
    .iter_prev = w_iter_prev,
    .iter_entry = w_iter_entry,
    .iter_free = w_iter_free,
    .sync = w_sync,
    .settle = w_settle,
    .thread_end = NULL,
};
