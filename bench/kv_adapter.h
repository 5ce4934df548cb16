/*
 * kv_adapter.h -- the small interface kvbench drives every engine through:
 * one table of functions per engine (kv_wombat.c, kv_rocksdb.c,
 * kv_leveldb.c, kv_lmdb.c), so each workload is written once and runs the
 * same keys and values on all of them.
 *
 * Handles are opaque pointers owned by the adapter. A database handle may be
 * used from two threads at once (readwhilewriting: one writer, one reader);
 * iterators and batches belong to one thread. Every call returns KV_OK, a
 * positive "soft" outcome (KV_NOTFOUND, KV_END) or KV_ERR, in which case the
 * adapter has written a sentence about the failure with kv_error() on the
 * calling thread; kv_last_error() reads it back.
 */
#ifndef KV_ADAPTER_H
#define KV_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#define KV_OK       0
#define KV_NOTFOUND 1    /* get: no such key */
#define KV_END      1    /* iterator moves: ran off either end */
#define KV_ERR      (-1) /* failure; kv_last_error() says what */

/* The settings every engine is opened with (kvbench.c fills them from the
 * "fair settings" at its top; adapters map each one to their own option). */
struct kv_config {
	uint64_t cache_bytes;        /* block cache of the LSMs */
	uint64_t write_buffer_bytes; /* memtable size of the LSMs */
	int bloom_bits;              /* bloom filter bits per key of the LSMs */
	int sync;                    /* 1: every write is durable when it returns */
	uint64_t lmdb_map_bytes;     /* LMDB map size (address space, not disk) */
};

struct kv_engine {
	const char *name; /* "wombat", "rocksdb", ... as in --engines */
	const char *abbr; /* short name for ratio columns: "rocks" */

	/* Opens (creating it) the database in the existing, empty directory dir. */
	int (*open)(const char *dir, const struct kv_config *cfg, void **db);
	/* Releases everything; the handle is gone whatever it returns. */
	int (*close)(void *db);

	int (*put)(void *db, const void *key, size_t klen, const void *val, size_t vlen);
	/* Reads key's value through the engine's usual read call and reports its
	 * length; the value itself is touched and dropped. KV_NOTFOUND. */
	int (*get)(void *db, const void *key, size_t klen, size_t *vlen);
	/* Removing a missing key is KV_OK. */
	int (*del)(void *db, const void *key, size_t klen);

	/* A batch collects puts and deletes; batch_write applies them in one
	 * atomic write and leaves the batch empty for reuse. */
	int (*batch_new)(void *db, void **batch);
	int (*batch_put)(void *batch, const void *key, size_t klen, const void *val, size_t vlen);
	int (*batch_del)(void *batch, const void *key, size_t klen);
	int (*batch_write)(void *db, void *batch);
	void (*batch_free)(void *batch);

	/* An iterator sees a snapshot taken when it is made. Moves return KV_OK
	 * when positioned on an entry, KV_END off either end, KV_ERR.
	 * iter_entry's pointers stay valid until the next move or iter_free.
	 * REQUIRES for next, prev and entry: the last move returned KV_OK. */
	int (*iter_new)(void *db, void **it);
	int (*iter_first)(void *it);
	int (*iter_last)(void *it);
	int (*iter_seek)(void *it, const void *key, size_t klen); /* first key >= key */
	int (*iter_next)(void *it);
	int (*iter_prev)(void *it);
	void (*iter_entry)(void *it, const void **key, size_t *klen, const void **val,
	                   size_t *vlen);
	void (*iter_free)(void *it);

	/* Makes every acknowledged write durable. */
	int (*sync)(void *db);
	/* Waits for background work the engine lets one wait for (memtable flush,
	 * running compactions) so the next phase does not pay for the previous
	 * one. May do nothing. */
	int (*settle)(void *db);
	/* Called by a thread other than the opener before it exits, so an
	 * adapter can drop per-thread state (LMDB's cached read transaction).
	 * May be NULL. */
	void (*thread_end)(void *db);
};

extern const struct kv_engine kv_wombat;
extern const struct kv_engine kv_rocksdb;
extern const struct kv_engine kv_leveldb;
extern const struct kv_engine kv_lmdb;

/* Records a printf-style message about the failure on the calling thread
 * and returns KV_ERR, so adapters can write `return kv_error(...)`. */
int kv_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The calling thread's last kv_error() message ("" if none). */
const char *kv_last_error(void);

#endif /* KV_ADAPTER_H */
