/*
 * wombat.h -- the public interface of libwombat, an LSM-tree key-value engine.
 *
 * This is the only header a program using the engine includes. It is also
 * the manual: every function says what it does, which errors it returns and
 * how long anything it hands back stays valid.
 *
 * Conventions
 *   - Every call returns an int: WB_OK (0) or a negative WB_E* code. Results
 *     come back through out-parameters. wb_strerror() names any code (it also
 *     names negated errno values), and wb_errmsg() gives the context of the
 *     last error on the calling thread ("000123.sst offset 4096: checksum
 *     mismatch").
 *   - Keys and values are pointer + length and may hold any bytes, NUL
 *     included. Keys are 1..WB_MAX_KEY_LEN bytes; the empty key is WB_EINVAL.
 *     Every key and value the library hands out (wb_get, wb_txn_get,
 *     wb_iter_key, wb_iter_value) is followed by one NUL byte that its
 *     length does not count, so text can be used as a C string as it is.
 *   - Buffers the library allocates for the caller are released with
 *     wb_free(). Pointers into library memory (iterator keys and values) say
 *     in their comment when they stop being valid.
 *   - A wb_db handle may be used from any number of threads at once. Iterators
 *     and batches belong to one thread at a time.
 *
 * This header is the API's manual. How the engine is built (threads,
 * locks, the write and read paths, recovery) is in docs/design.md; every
 * byte on disk in docs/format.md.
 */
#ifndef WOMBAT_H
#define WOMBAT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WB_VERSION_MAJOR 0
#define WB_VERSION_MINOR 1

/* ---- Error codes. A reserved negative range, so they never collide with
 * negated errno values (which wb_strerror also understands). ---- */
#define WB_OK 0
#define WB_ENOTFOUND (-30001) /* key (or database, or file) does not exist */
#define WB_EINVAL (-30002)    /* bad argument: empty or oversized key, bad option */
#define WB_ECORRUPT (-30003)  /* a checksum failed or a structure is malformed */
#define WB_EIO (-30004)       /* the operating system reported an I/O error */
#define WB_ENOSPC (-30005)    /* the disk is full */
#define WB_EBUSY (-30006)     /* the database is open in another process */
#define WB_ENOMEM (-30007)    /* out of memory */
#define WB_ECONFLICT (-30008) /* transaction conflict: retry it */
#define WB_EREADONLY (-30009) /* write to a read-only database or transaction */
#define WB_EEXIST (-30010)    /* database exists and error_if_exists was set */
#define WB_EFORMAT (-30011)   /* unknown format version or not a wombat file */
#define WB_ECLOSED (-30012)   /* handle used after the database began closing */
#define WB_ENOTSUP (-30013)   /* operation not supported (yet) */

/* Limits. */
#define WB_MAX_KEY_LEN 65536u                 /* bytes in a key */
/* Bytes in a value given whole to wb_put / wb_batch_put (meta byte + value
 * fit 32 bits). */
#define WB_MAX_VALUE_LEN (((uint64_t)1 << 32) - 2)
/* Bytes in a value written through a streaming writer (wb_writer_*): it
 * always goes to the value log, whose entries have 64-bit lengths. */
#define WB_MAX_STREAM_LEN ((uint64_t)1 << 40)

typedef struct wb_db wb_db;
typedef struct wb_iter wb_iter;
typedef struct wb_batch wb_batch;
typedef struct wb_writer wb_writer;
typedef struct wb_txn wb_txn;

/* ------------------------------------------------------------------ */
/* The environment: every file and directory operation the engine makes goes
 * through one of these tables, and so does every reading of the clock, so
 * tests can wrap it to simulate power loss and I/O errors, or drive time.
 * wb_env_default() is the POSIX one. The file and directory functions return
 * WB_OK or a negative WB_E* code (EIO -> WB_EIO, ENOSPC -> WB_ENOSPC, ENOENT
 * -> WB_ENOTFOUND, other errno -> -errno). They may be called from any
 * thread; a single wb_env_file is used by one thread at a time, except that
 * read_at may run concurrently with itself. */

typedef struct wb_env_file wb_env_file; /* opaque to the engine */

#define WB_ENV_READ 0x1     /* open for reading (read_at, size) */
#define WB_ENV_WRITE 0x2    /* open for appending (append, sync, truncate) */
#define WB_ENV_CREATE 0x4   /* create when missing */
#define WB_ENV_TRUNCATE 0x8 /* start empty */
#define WB_ENV_EXCL 0x10    /* fail with WB_EEXIST when it exists */

typedef struct wb_env {
	void *ctx; /* passed back as the first argument of the directory calls */
	int (*open)(void *ctx, const char *path, int flags, wb_env_file **out);
	/* Reads up to len bytes at off; *nread < len only at end of file. */
	int (*read_at)(wb_env_file *f, uint64_t off, void *buf, size_t len, size_t *nread);
	/* Appends all len bytes at the end of the file (no user-space buffer:
	 * after it returns, the bytes survive a crash of this process). */
	int (*append)(wb_env_file *f, const void *buf, size_t len);
	/* Makes everything appended so far durable (fdatasync). */
	int (*sync)(wb_env_file *f);
	int (*size)(wb_env_file *f, uint64_t *out);
	int (*truncate)(wb_env_file *f, uint64_t size);
	int (*close)(wb_env_file *f); /* always releases f, even on error */
	int (*rename)(void *ctx, const char *from, const char *to);
	int (*remove)(void *ctx, const char *path);
	int (*mkdir)(void *ctx, const char *path); /* WB_EEXIST when it exists */
	int (*sync_dir)(void *ctx, const char *path);
	/* Calls fn for each name in dir (not "." or ".."); stops and returns
	 * fn's value if it is not WB_OK. */
	int (*list)(void *ctx, const char *dir, int (*fn)(void *arg, const char *name), void *arg);
	/* Takes an exclusive advisory lock on path (creating it) and writes the
	 * caller's pid into it. When another process holds it: WB_EBUSY and
	 * *holder_pid set to its pid (0 if unknown). */
	int (*lock)(void *ctx, const char *path, wb_env_file **out, long *holder_pid);
	int (*unlock)(void *ctx, wb_env_file *lock);
	/* Optional: NULL when the env has none (the engine then skips it).
	 * With wait 0, starts writing the appended bytes [off, off + len) to
	 * the disk and returns; otherwise waits until the writing of that
	 * range started by earlier calls is done (and starts none). It bounds
	 * how much of a long stream of appends sits dirty in memory, and lets
	 * the disk work while more is appended; it promises no durability (no metadata,
	 * no disk cache flush: that is sync). An error means bytes of the range
	 * may be lost and a later sync may not report it again (Linux consumes
	 * the error), so the caller must not trust a sync of this file after
	 * one. */
	int (*writeback)(wb_env_file *f, uint64_t off, uint64_t len, int wait);
	/* Optional (NULL: the engine does without). Allocates the file's
	 * blocks for [off, off + len) without changing its size or contents,
	 * so that later appends into the range cost the file system less. A
	 * hint: the engine ignores its failure. */
	int (*preallocate)(wb_env_file *f, uint64_t off, uint64_t len);
	/* Optional (NULL: the engine only appends). Maps len bytes of a file
	 * opened for writing, from off (a multiple of 1 MiB), shared and
	 * writable at *addr: a byte stored there is part of the file at once,
	 * as if written at its offset (a crash of this process does not lose
	 * it; sync makes it durable). The map may reach past the end of the
	 * file, but only bytes inside it may be touched. unmap(addr, len)
	 * undoes it. */
	int (*map)(wb_env_file *f, uint64_t off, size_t len, void **addr);
	int (*unmap)(void *addr, size_t len);
	/* The clock. Every timed thing the engine does goes through these: the
	 * sync thread's interval, value-log reclaim's interval, background
	 * retry pauses, write stalls, rate limits, transaction retry pauses,
	 * the durations in the statistics, the wall clock of commit
	 * timestamps and of the LOG's lines. So a test can drive time by hand
	 * instead of sleeping. clock_ctx is their first argument (not ctx, so
	 * a clock can be put into a copy of any env). Each one is optional:
	 * NULL means the system's (CLOCK_MONOTONIC, CLOCK_REALTIME,
	 * nanosleep), but an env that replaces now_nanos must replace
	 * sleep_nanos and cond_wait_until too, whose deadlines are in its
	 * time. Any thread may call them; none can fail. */
	void *clock_ctx;
	/* Nanoseconds since an arbitrary start; never goes back. */
	uint64_t (*now_nanos)(void *clock_ctx);
	/* Nanoseconds since the Unix epoch; may step back or forward. Commit
	 * timestamps ((unix_ms << 16) | counter) stay increasing anyway: after
	 * a step back they count up from the last one until the wall clock
	 * passes it again. */
	uint64_t (*wall_nanos)(void *clock_ctx);
	/* Returns after at least ns nanoseconds of now_nanos have passed. */
	void (*sleep_nanos)(void *clock_ctx, uint64_t ns);
	/* As pthread_cond_timedwait with mu locked by the caller: unlocks mu,
	 * waits until cv is signalled or now_nanos reaches deadline, locks mu
	 * again. It may also return early for no reason, so the caller
	 * checks its condition again. */
	void (*cond_wait_until)(void *clock_ctx, pthread_cond_t *cv, pthread_mutex_t *mu,
				uint64_t deadline);
} wb_env;

/* The POSIX environment. Static storage; never free it. */
const wb_env *wb_env_default(void);

/* ------------------------------------------------------------------ */
/* Options. Always start from wb_options_init(), then change fields. */

enum wb_sync_mode {
	WB_SYNC_INTERVAL = 0, /* a background thread fsyncs the WAL every sync_interval_ms (default) */
	WB_SYNC_ALWAYS = 1,   /* every write is fsynced before it returns */
	WB_SYNC_NONE = 2,     /* only wb_sync() and memtable switches fsync */
};

typedef struct wb_options {
	int create_if_missing;   /* create the directory and database (default 0) */
	int error_if_exists;     /* WB_EEXIST if it already holds a database (default 0) */
	int read_only;           /* open without writing anything (default 0) */
	int sync;                /* enum wb_sync_mode (default WB_SYNC_INTERVAL) */
	unsigned sync_interval_ms; /* for WB_SYNC_INTERVAL (default 100) */
	size_t memtable_size;    /* bytes before a memtable is frozen (default 64 MiB) */
	int max_immutable;       /* frozen memtables waiting for flush before writers wait (default 2) */
	size_t block_size;       /* SSTable data block size (default 4096) */
	int bloom_bits_per_key;  /* 0 disables the filter (default 10) */
	size_t sst_target_size;  /* output table size (default 64 MiB) */
	uint64_t block_cache_size; /* bytes of data blocks kept in memory (default 256 MiB) */
	int compaction_threads;  /* background compaction workers (default 2) */
	uint64_t level1_size;    /* target bytes of L1; each deeper level 10x (default 64 MiB) */
	int l0_compaction_trigger; /* L0 tables that start a compaction (default 4) */
	int l0_slowdown_trigger; /* L0 tables at which each write is delayed 1 ms (default 20) */
	int l0_stop_trigger;     /* L0 tables at which writes wait for compaction (default 36) */
	uint64_t compaction_rate_limit; /* bytes/s written by compaction; 0 = unlimited (default 0) */
	uint64_t pending_slowdown_bytes; /* compaction debt at which writes are delayed (default 64 GiB) */
	uint64_t pending_stop_bytes;     /* compaction debt at which writes wait (default 256 GiB) */
	/* Value log (DESIGN.md 3.7). Values of at least value_threshold bytes
	 * are stored in NNNNNN.vlog segments and the tree keeps a pointer; a
	 * value reaches the disk once. 0 keeps every value in the tree. */
	size_t value_threshold;      /* bytes; 0 or >= 64 (default 4096) */
	uint64_t vlog_segment_size;  /* a segment is sealed past this (default 256 MiB) */
	double vlog_gc_ratio;        /* reclaim a sealed segment whose obsolete share is at least this (default 0.5) */
	uint64_t vlog_gc_rate_limit; /* bytes/s the reclaim thread rewrites; 0 = unlimited (default 0) */
	/* The reclaim thread looks this often, and whenever a segment is sealed
	 * (default 1000); it always makes one pass one interval after open (a
	 * crashed run's garbage is counted nowhere else) and, while passes
	 * reclaim space, one every interval. 0: no reclaim thread, only
	 * wb_vlog_gc (and writers never wait for reclaim). */
	unsigned vlog_gc_interval_ms;
	/* Bytes per chunk of a value changed in place (wb_txn_write_at and the
	 * rest of "Values changed in place"): a power of two from 4 KiB to
	 * 1 MiB (0 or default: 64 KiB). A write costs the chunks it touches; values
	 * made earlier keep the chunk size they were made with. */
	uint32_t object_chunk_size;
	/* Milliseconds of history compaction keeps, so that wb_txn_begin_at can
	 * read as of any moment in that window; 0 keeps only what open
	 * transactions and iterators need (default 0). */
	uint64_t retain_versions_ms;
	/* Bytes kept on the disk in a file RESERVE of the database directory
	 * and given back when the disk is full, so that the database still
	 * opens read-write and takes the deletes that make room (docs/format.md,
	 * "Disk reserve"); made again once there is room. 0: none (default
	 * 8 MiB). */
	uint64_t disk_reserve;
	const wb_env *env;       /* NULL means wb_env_default() */
	/* The info log: what the engine did and what went wrong (opens and
	 * recoveries, flushes, compactions, value-log reclaim, write stalls,
	 * background errors), one line per event. By default a text file LOG
	 * in the database directory (the previous one kept as LOG.old; a LOG
	 * past 16 MiB starts over the same way). When info_log is set, each
	 * line goes to it instead (no file is written), without its newline,
	 * from whichever thread did the work: it must be quick, thread-safe,
	 * and must not call into the database. */
	void (*info_log)(void *arg, const char *line);
	void *info_log_arg;
} wb_options;

/* Fills *opts with the defaults. This function can't fail. */
void wb_options_init(wb_options *opts);

/* ------------------------------------------------------------------ */
/* Errors */

/* A static string naming rc ("not found", "corruption", or strerror(-rc)
 * for negated errno values). Never NULL. */
const char *wb_strerror(int rc);

/* The context of the last error returned on this thread by any call on db
 * (or by wb_open, with db == NULL): a sentence naming the file, offset or key.
 * Valid until the next call on this thread. Never NULL (empty when there is
 * none). */
const char *wb_errmsg(const wb_db *db);

/* Frees a buffer the library returned (wb_get, wb_stats_text...). NULL is fine. */
void wb_free(void *p);

/* Errors in the background. When work the engine does on its own threads
 * fails, the database enters an error state that wb_stats_text / _json
 * ("background error") and the info log (DBDIR/LOG) show, and in which a
 * write gets that error at once, never a wait for room that cannot come;
 * wb_errmsg then gives the failing thread's own message ("writes refused:
 * flush of 000012.wal to 000014.sst: .../000014.sst offset 65536: write
 * failed: no space left on device (...)"). Two kinds:
 *
 *   Retried: a flush, a compaction or a value-log reclaim pass failed
 *     (WB_ENOSPC, WB_EIO, WB_ECORRUPT, ...). Its thread tries again 100 ms
 *     later, doubling the pause after each failure up to 5 s, and the
 *     first success ends the state: a full disk clears by itself once
 *     there is room. Meanwhile wb_put, wb_write, wb_txn_commit,
 *     wb_writer_begin and wb_writer_commit fail with the error -- except,
 *     when every failure is WB_ENOSPC, a removal (wb_delete, or a batch or
 *     transaction that deletes keys and stores no value outside
 *     WB_KS_META), since deleting is how room is made. wb_sync works.
 *     wb_flush, wb_compact_range and wb_vlog_gc do their work now (a
 *     failing flush is retried at once) and return its result; a success
 *     ends that part of the state.
 *   Disk full: the disk reserve (wb_options.disk_reserve) was given back
 *     because an open, a delete or a reclaim pass found the disk full. Its
 *     room is for deletes and reclaim: writes that store data fail with
 *     WB_ENOSPC, removals go in, until the reserve can be made again
 *     (the reclaim thread tries on the same schedule; wb_vlog_gc and a
 *     reopen try too), which ends the state.
 *   Sticky: a sync of the log failed (the kernel may have dropped data
 *     that a later sync would not write) or a logged write could not be
 *     applied. Every write, wb_sync, wb_flush, wb_compact_range, wb_vlog_gc
 *     and read-write wb_txn_begin fail with it until the database is
 *     reopened, which recovers from what the disk holds.
 *
 * In both, reads, iterators and read-only transactions work, and nothing
 * acknowledged is lost: it is in the log. Closing and reopening once the
 * cause is gone gives a database out of the error state with every
 * acknowledged write (every synced one after a crash). */

/* ------------------------------------------------------------------ */
/* Opening and closing */

/* Opens the database in directory dir. opts may be NULL for defaults.
 * Recovers from the write-ahead log after a crash. A read-write open on a
 * full disk gives back the disk reserve (wb_options.disk_reserve) to make
 * its new log and MANIFEST, so it fails with WB_ENOSPC only when there was
 * no reserve left either.
 * Errors: WB_ENOTFOUND (no database and !create_if_missing), WB_EEXIST,
 * WB_EBUSY (open in another process: wb_errmsg names its pid), WB_ECORRUPT
 * or WB_EFORMAT (nothing is modified; wb_errmsg names the file and offset),
 * WB_EIO, WB_ENOSPC, WB_ENOMEM, WB_EINVAL (bad option). On error *out is NULL. */
int wb_open(const char *dir, const wb_options *opts, wb_db **out);

/* Waits for background work to stop, syncs the log and releases everything.
 * Iterators must be closed first. NULL is fine. Returns the first error met
 * while shutting down (the handle is freed whatever it returns). */
int wb_close(wb_db *db);

/* ------------------------------------------------------------------ */
/* Reading and writing single keys */

/* Stores value under key. Errors: WB_EINVAL (empty key, key over
 * WB_MAX_KEY_LEN, value over WB_MAX_VALUE_LEN), WB_EREADONLY, WB_EIO,
 * WB_ENOSPC (the write is not applied), and in the error state its error
 * (see "Errors in the background"). */
int wb_put(wb_db *db, const void *key, size_t klen, const void *val, size_t vlen);

/* Removes key (not an error when it is missing). Errors as wb_put, but a
 * full disk does not refuse it (see "Errors in the background"). */
int wb_delete(wb_db *db, const void *key, size_t klen);

/* Reads the newest value of key into a new buffer *val of *vlen bytes (freed
 * with wb_free; a 0-byte value still gets a non-NULL buffer). The buffer
 * has one NUL byte after the value, not counted in *vlen, so a text value
 * can be used as a C string (the value itself may hold NULs too). A value
 * in the value log is read whole and its entry's checksum checked.
 * Errors: WB_ENOTFOUND, WB_EINVAL, WB_ECORRUPT, WB_EIO, WB_ENOMEM. */
int wb_get(wb_db *db, const void *key, size_t klen, void **val, size_t *vlen);

/* Reads up to len bytes of key's value starting at offset into buf;
 * *nread is less than len when the value ends first (0 at or past the end).
 * For a value in the value log only the 4 KiB blocks the range touches
 * are read, and each block's checksum is checked: a damaged block is
 * WB_ECORRUPT (wb_errmsg names the segment and the block's offset) and
 * nothing of the range is returned as data. Errors as wb_get. */
int wb_get_range(wb_db *db, const void *key, size_t klen, uint64_t offset, void *buf,
		 size_t len, size_t *nread);

typedef struct wb_key_info {
	uint64_t value_len; /* bytes in the value */
	uint64_t ts;        /* commit timestamp of this version: (unix_ms << 16) | counter */
	uint32_t links;     /* keys sharing this value (wb_txn_link): 1 unless linked */
} wb_key_info;

/* Tells whether key exists, its value length (64 bits: value-log values may
 * exceed 4 GiB) and version timestamp, without reading the value.
 * Errors: WB_ENOTFOUND, WB_EINVAL, WB_ECORRUPT, WB_EIO. */
int wb_stat_key(wb_db *db, const void *key, size_t klen, wb_key_info *info);

/* Makes every write acknowledged so far durable (fsync of the log), whatever
 * the sync mode, also while background work is being retried. Errors:
 * WB_EIO. A failed fsync is sticky: the kernel may have dropped the data,
 * so from then on every write and wb_sync returns that error until the
 * database is reopened (and recovers from the log). */
int wb_sync(wb_db *db);

/* ------------------------------------------------------------------ */
/* Write batches: several puts and deletes applied atomically (after a crash
 * either all of them are present or none). Later operations on the same key
 * win over earlier ones in the batch. */

int wb_batch_new(wb_batch **out); /* WB_ENOMEM */
void wb_batch_free(wb_batch *b);   /* NULL is fine */
void wb_batch_clear(wb_batch *b);  /* empties it for reuse; can't fail */
int wb_batch_put(wb_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
int wb_batch_delete(wb_batch *b, const void *key, size_t klen);
uint32_t wb_batch_count(const wb_batch *b);
/* Applies b as one atomic write. b is unchanged and may be reused.
 * Errors as wb_put. */
int wb_write(wb_db *db, wb_batch *b);

/* ------------------------------------------------------------------ */
/* Keyspaces: WB_KS_META is a second, separate set of keys in the same
 * database (same log, same clock, so one batch or transaction spans both).
 * Its keys never appear in wb_get, user iterators or `wombat scan`; the
 * filesystem keeps attributes, directory markers and symlinks there. Every
 * call above works on WB_KS_USER; these variants take the keyspace. */
#define WB_KS_USER 0u
#define WB_KS_META 1u

/* Errors as the calls without _ks, and WB_EINVAL for an unknown keyspace. */
int wb_batch_put_ks(wb_batch *b, unsigned ks, const void *key, size_t klen, const void *val,
		    size_t vlen);
int wb_batch_delete_ks(wb_batch *b, unsigned ks, const void *key, size_t klen);
int wb_get_ks(wb_db *db, unsigned ks, const void *key, size_t klen, void **val, size_t *vlen);
int wb_stat_key_ks(wb_db *db, unsigned ks, const void *key, size_t klen, wb_key_info *info);

/* Adds to b: put `to` with the current value of `from` (a value-log value
 * moves as its pointer; no bytes are copied) and delete `from`. Reads `from`
 * now (WB_ENOTFOUND when missing); the batch applies what was read then,
 * even if `from` changes before wb_write. Moving a key onto itself adds
 * nothing. wb_write of the batch fails with WB_ECONFLICT (and applies
 * nothing) when value-log reclaim removed the moved value's segment in
 * between: redo the move. Errors: WB_ENOTFOUND, WB_EINVAL,
 * WB_ENOMEM, WB_ECORRUPT, WB_EIO. */
int wb_batch_move(wb_db *db, wb_batch *b, const void *from, size_t flen, const void *to,
		  size_t tlen);
/* The same within keyspace ks (WB_EINVAL for an unknown one). */
int wb_batch_move_ks(wb_db *db, wb_batch *b, unsigned ks, const void *from, size_t flen,
		     const void *to, size_t tlen);

/* Adds to b the removal of key as wb_txn_unlink makes it: when key's
 * value is an object (see "Values changed in place"), the object loses a
 * link and with its last one its chunks are deleted too. Reads key now,
 * as wb_batch_move does: the batch applies what was read then, so the
 * caller must keep other writers of key and its links away until
 * wb_write (the filesystem does, under its namespace lock), and two
 * unlinks of links of one value in one batch count once. Errors:
 * WB_EINVAL, WB_ENOMEM, WB_ECORRUPT, WB_EIO. */
int wb_batch_unlink(wb_db *db, wb_batch *b, const void *key, size_t klen);
/* Adds to b the making of `to` a second key for the value of `from`, as
 * wb_txn_link does (a plain value becomes an object; whatever `to` held is
 * released). Reads now, as wb_batch_unlink, with the same duty on the
 * caller. Errors: WB_ENOTFOUND (from has no value), WB_EINVAL (a bad
 * length, or from == to), WB_ENOMEM, WB_ECORRUPT, WB_EIO. */
int wb_batch_link(wb_db *db, wb_batch *b, const void *from, size_t flen, const void *to,
		  size_t tlen);

/* ------------------------------------------------------------------ */
/* Streaming writer: a value of any size (up to WB_MAX_STREAM_LEN) written
 * in pieces with bounded memory, straight into a value-log segment of its
 * own. Nothing is visible until commit. A crash before commit leaves no
 * key; the segment is removed at the next open. A writer belongs to one
 * thread. Writes follow the sync option like every write. */

/* Starts a value for key (user keyspace). Errors: WB_EINVAL (key),
 * WB_EREADONLY, WB_ENOMEM, WB_EIO, WB_ENOSPC, the error state's error. On
 * error *out is NULL. */
int wb_writer_begin(wb_db *db, const void *key, size_t klen, wb_writer **out);
/* Appends len bytes to the value. Errors: WB_EIO, WB_ENOSPC, WB_EINVAL (over
 * WB_MAX_STREAM_LEN); after an error only wb_writer_abort is useful. */
int wb_writer_write(wb_writer *w, const void *buf, size_t len);
/* Bytes written so far. */
uint64_t wb_writer_size(const wb_writer *w);
/* Reads back up to len bytes of what was written, from offset off (*nread
 * is less at the end; 0 past it). Errors: WB_EIO, WB_ECORRUPT. */
int wb_writer_read(wb_writer *w, uint64_t off, void *buf, size_t len, size_t *nread);
/* Makes the value visible under its key. When `with` is not NULL, the
 * value's pointer is added to that batch and everything commits as ONE
 * atomic write (the filesystem commits a file's bytes together with its
 * metadata); `with` is left as it was. Frees w whatever the result.
 * Errors as wb_write, and any error of an earlier wb_writer_write. */
int wb_writer_commit(wb_writer *w, wb_batch *with);
/* Drops the value and frees w. NULL is fine. */
void wb_writer_abort(wb_writer *w);

/* ------------------------------------------------------------------ */
/* Iterators: a consistent snapshot of the database taken when the iterator
 * is created; writes made afterwards are not seen. */

typedef struct wb_iter_options {
	unsigned keyspace;  /* WB_KS_USER (0, the default) or WB_KS_META */
	const void *prefix; /* only keys starting with prefix (NULL: all) */
	size_t prefix_len;
	const void *lower; /* first key >= lower (inclusive; NULL: none) */
	size_t lower_len;
	const void *upper; /* keys < upper (exclusive; NULL: none) */
	size_t upper_len;
} wb_iter_options;

/* Creates an iterator, not yet positioned (call a seek first). opts may be
 * NULL. Errors: WB_ENOMEM, WB_ECLOSED. */
int wb_iter_new(wb_db *db, const wb_iter_options *opts, wb_iter **out);
void wb_iter_free(wb_iter *it); /* NULL is fine */

void wb_iter_seek_first(wb_iter *it);
void wb_iter_seek_last(wb_iter *it);
/* Positions at the first key >= key. */
void wb_iter_seek(wb_iter *it, const void *key, size_t klen);
/* Positions at the last key <= key. */
void wb_iter_seek_for_prev(wb_iter *it, const void *key, size_t klen);
/* REQUIRES: wb_iter_valid(it) */
void wb_iter_next(wb_iter *it);
/* REQUIRES: wb_iter_valid(it) */
void wb_iter_prev(wb_iter *it);
/* 1 when positioned on an entry; 0 at either end or after an error. */
int wb_iter_valid(const wb_iter *it);
/* REQUIRES: wb_iter_valid(it). The returned memory stays valid until the
 * iterator moves or is freed, and is followed by a NUL byte not counted in
 * *klen or *vlen (as wb_get's buffer). A value-log value is read (and its
 * checksum checked) on the first wb_iter_value at each position; if that
 * read fails it returns NULL with *vlen = 0 and wb_iter_status tells why. */
const void *wb_iter_key(const wb_iter *it, size_t *klen);
const void *wb_iter_value(const wb_iter *it, size_t *vlen);
/* Length of the current value, without reading it (a value-log value's
 * comes from its pointer; 0 when the pointer is malformed, which
 * wb_iter_value reports). REQUIRES: wb_iter_valid(it) */
uint64_t wb_iter_value_size(const wb_iter *it);
/* Version timestamp of the current entry. REQUIRES: wb_iter_valid(it) */
uint64_t wb_iter_ts(const wb_iter *it);
/* WB_OK, or the error that made the iterator stop (WB_ECORRUPT, WB_EIO).
 * An error sticks: the iterator stays invalid, and later seeks do not
 * clear it (a damaged table could otherwise hide a deletion). */
int wb_iter_status(const wb_iter *it);

/* ------------------------------------------------------------------ */
/* Transactions: optimistic MVCC (DESIGN.md 3.8). A transaction reads a
 * consistent snapshot -- every commit up to its read timestamp and none
 * after -- plus its own writes, which it buffers in memory until commit.
 * Commit writes them all with one commit timestamp as one atomic log
 * record (after a crash, all of them or none), unless a transaction that
 * committed after this one's read timestamp conflicts with it:
 *
 *   serializable (the default): a key this one read, or a key inside the
 *     bounds of an iterator this one opened, was written since (read-write
 *     conflicts; write skew and phantoms are prevented). Plain wb_put and
 *     wb_write count as commits too.
 *   WB_TXN_SNAPSHOT, snapshot isolation: a key this one writes was written
 *     since (write-write conflicts only; write skew is allowed).
 *
 * Then commit returns WB_ECONFLICT and writes nothing: run the transaction
 * again (wb_txn_run does that). A read-only transaction never conflicts.
 * An open transaction keeps compaction from dropping the versions it can
 * see, so do not leave one open for long. A wb_txn belongs to one thread at
 * a time; end it (commit or abort) before wb_close. */

#define WB_TXN_READONLY 0x1u /* reads only; never waits, never conflicts */
#define WB_TXN_SNAPSHOT 0x2u /* snapshot isolation instead of serializable */

/* Starts a transaction (flags: 0 or any of WB_TXN_*). A read-write one
 * reads at the newest commit timestamp handed out, waiting (briefly) for
 * that commit to be applied; a read-only one reads at the newest applied.
 * Errors: WB_EINVAL (unknown flag), WB_EREADONLY (read-write on a read-only
 * database), WB_ENOMEM, WB_ECLOSED, or the error that stopped all writes
 * (after a failed log sync). On error *out is NULL. */
int wb_txn_begin(wb_db *db, unsigned flags, wb_txn **out);

/* Starts a read-only transaction reading as of read_ts (a commit or
 * version timestamp, e.g. from wb_txn_read_ts, wb_iter_ts or wb_stat_key):
 * time travel. Versions are retained for open readers and for
 * wb_options.retain_versions_ms; history from before the database was
 * opened is not. Errors: WB_EINVAL (read_ts is newer than the last commit,
 * or older than the versions still retained), WB_ENOMEM. */
int wb_txn_begin_at(wb_db *db, uint64_t read_ts, wb_txn **out);

/* The timestamp t reads at. This function can't fail. */
uint64_t wb_txn_read_ts(const wb_txn *t);

/* As wb_get (the buffer NUL-terminated after *vlen bytes too), at t's read
 * timestamp, seeing t's own writes (a key t deleted is WB_ENOTFOUND).
 * Errors: WB_ENOTFOUND, WB_EINVAL (key, or keyspace for _ks), WB_ECORRUPT,
 * WB_EIO, WB_ENOMEM. */
int wb_txn_get(wb_txn *t, const void *key, size_t klen, void **val, size_t *vlen);
int wb_txn_get_ks(wb_txn *t, unsigned ks, const void *key, size_t klen, void **val,
		  size_t *vlen);

/* Buffer a put or a delete in t; nothing reaches the database before
 * commit. Errors: WB_EREADONLY (read-only transaction), WB_EINVAL (key,
 * value, keyspace), WB_ENOMEM. A failed call leaves t as it was. */
int wb_txn_put(wb_txn *t, const void *key, size_t klen, const void *val, size_t vlen);
int wb_txn_put_ks(wb_txn *t, unsigned ks, const void *key, size_t klen, const void *val,
		  size_t vlen);
int wb_txn_delete(wb_txn *t, const void *key, size_t klen);
int wb_txn_delete_ks(wb_txn *t, unsigned ks, const void *key, size_t klen);

/* An iterator over t's snapshot merged with t's own writes (also those
 * made while it is open, from its next seek or move), honouring every
 * wb_iter_options field including keyspace. Under serializable isolation
 * the whole range the options allow counts as read, walked or not (a key
 * inserted into it by a later commit is a conflict). Own uncommitted
 * writes show wb_iter_ts == 0. Free it with wb_iter_free before ending t.
 * Errors: WB_EINVAL (keyspace), WB_ENOMEM. */
int wb_txn_iter_new(wb_txn *t, const wb_iter_options *opts, wb_iter **out);

/* Commits t and frees it, whatever the result. Errors: WB_ECONFLICT
 * (nothing written: retry; also when t stayed open across so much writing
 * -- about 64 MiB of other commits' keys -- that the record needed to
 * check it was dropped), WB_ENOMEM, and the errors of wb_write (WB_EIO,
 * WB_ENOSPC, the error state's...: nothing written). A transaction without
 * writes commits without a check. */
int wb_txn_commit(wb_txn *t);

/* Discards t's writes and frees it. NULL is fine. */
void wb_txn_abort(wb_txn *t);

/* As wb_get_range and wb_stat_key, at t's read timestamp, seeing t's own
 * writes (info->ts is 0 for a key t wrote). */
int wb_txn_get_range(wb_txn *t, const void *key, size_t klen, uint64_t offset, void *buf,
		     size_t len, size_t *nread);
int wb_txn_stat_key(wb_txn *t, const void *key, size_t klen, wb_key_info *info);
int wb_txn_stat_key_ks(wb_txn *t, unsigned ks, const void *key, size_t klen, wb_key_info *info);

/* ---- Values changed in place (files). A value can be written at an
 * offset, cut or extended, given a second key that shares it, and moved
 * to another key, each at the cost of what changes rather than of the
 * value's size: a value that outgrows one chunk (wb_options.
 * object_chunk_size) becomes an object whose bytes live in chunks
 * (docs/format.md, "Objects"). Every read (wb_get, wb_get_range,
 * wb_stat_key, iterators, transactions, time travel) gives the value's
 * bytes whatever its layout. These calls work on user keys in a
 * read-write transaction, so that several of them (a file's dirty ranges,
 * its attributes) commit as one atomic write; wb_write_at and wb_truncate
 * are single calls that retry on conflicts. A plain wb_put or wb_delete of
 * a key replaces or removes its value; when that value was an object,
 * use wb_txn_unlink (or wb_txn_move onto it) instead, which also gives
 * the object's chunks back once no key refers to it -- wb_put and
 * wb_delete leave them behind (a known gap, see docs/design.md).
 * Errors of each: WB_EREADONLY (read-only transaction), WB_EINVAL (key,
 * or a length past WB_MAX_STREAM_LEN), WB_ECORRUPT, WB_EIO, WB_ENOMEM;
 * any error but WB_ENOTFOUND and WB_EINVAL makes the commit fail. */

/* Writes len bytes of data at offset into key's value, creating the key
 * when missing; bytes between the old end and offset read as zeros. */
int wb_txn_write_at(wb_txn *t, const void *key, size_t klen, uint64_t offset, const void *data,
		    size_t len);
/* Sets the length of key's value: cuts it or extends it with zeros.
 * WB_ENOTFOUND when key has no value. */
int wb_txn_truncate(wb_txn *t, const void *key, size_t klen, uint64_t size);
/* Makes `to` a second key for the value of `from` (hard link): a write
 * through either is read through both, wb_key_info.links counts them.
 * Whatever `to` held is removed. WB_ENOTFOUND when from has no value,
 * WB_EINVAL when from == to. */
int wb_txn_link(wb_txn *t, const void *from, size_t flen, const void *to, size_t tlen);
/* Deletes key; its value's space is given back once no other key links
 * to it (and no snapshot reads it). Not an error when key is missing. */
int wb_txn_unlink(wb_txn *t, const void *key, size_t klen);
/* Renames from to to without copying the value (whatever to held is
 * removed as by wb_txn_unlink); nothing changes when both are links of
 * one value. WB_ENOTFOUND when from has no value. */
int wb_txn_move(wb_txn *t, const void *from, size_t flen, const void *to, size_t tlen);

/* One wb_txn_write_at / wb_txn_truncate committed on its own (snapshot
 * isolation, retried on WB_ECONFLICT as wb_txn_run does). Errors as those
 * and wb_txn_commit. */
int wb_write_at(wb_db *db, const void *key, size_t klen, uint64_t offset, const void *data,
		size_t len);
int wb_truncate(wb_db *db, const void *key, size_t klen, uint64_t size);

/* Runs fn in a new transaction (flags as wb_txn_begin) and commits it;
 * on WB_ECONFLICT (from the commit, or returned by fn) starts over after
 * a random pause that doubles each time (20 us up to 10 ms), up to 1000
 * attempts. When fn returns another error the transaction is aborted and
 * that error returned. fn must not commit or abort t itself, and must
 * expect to run several times. Returns WB_OK, WB_ECONFLICT (attempts used
 * up), fn's error, or an error of wb_txn_begin / wb_txn_commit. */
int wb_txn_run(wb_db *db, unsigned flags, int (*fn)(wb_txn *t, void *arg), void *arg);

/* ------------------------------------------------------------------ */
/* Maintenance */

/* Writes the active memtable to an SSTable now and waits for it (and any
 * older frozen memtable) to be on disk. A flush that was failing is
 * retried at once, without its pause, and when it works the error state's
 * flush part ends. Errors: WB_EIO, WB_ENOSPC (the flush failed; the data
 * stays in the log, the database is in the error state and the flush is
 * retried), WB_EREADONLY, a sticky error. */
int wb_flush(wb_db *db);

/* Compacts every table holding user keys in [begin, end] (NULL: unbounded
 * on that side) down into one level, dropping overwritten versions and
 * deleted keys no reader can see any more. Flushes the memtable first and
 * waits for the work to finish. Success ends a compaction error state; a
 * failure is only returned (nothing retries this call). Errors: WB_EIO,
 * WB_ENOSPC, WB_EREADONLY, the errors of wb_flush. */
int wb_compact_range(wb_db *db, const void *begin, size_t blen, const void *end, size_t elen);

/* Runs one pass of value-log space reclaim now: every sealed segment whose
 * obsolete share is at least vlog_gc_ratio has its live values rewritten
 * and is deleted once no snapshot or iterator can still read it (one that
 * is still held is deleted by the background thread later).
 * *reclaimed_bytes (may be NULL) gets the bytes of the segments deleted by
 * this call. Runs in the error state too (it is how a full disk gets
 * room); success ends a reclaim error state, a failure is only returned.
 * Errors: WB_EIO, WB_ENOSPC, WB_ECORRUPT, WB_EREADONLY. */
int wb_vlog_gc(wb_db *db, uint64_t *reclaimed_bytes);

/* Reads every table, log file and value-log entry and checks every checksum. On the first bad
 * block, returns WB_ECORRUPT and wb_errmsg names the file and offset.
 * progress may be NULL; it is called with each file name checked. */
int wb_verify(wb_db *db, void (*progress)(void *arg, const char *file), void *arg);

/* Salvages the database in dir after wb_open refused it as damaged
 * (WB_ECORRUPT): keeps every write that checks out and drops the rest,
 * calling report (may be NULL) with one line for each thing dropped
 * (dropped = 1; lines about what it does besides have dropped = 0) --
 * a stretch of a damaged log, a batch whose value failed its checks (the
 * whole batch, as it was written), a key whose value is damaged (deleted),
 * a missing table or value-log segment -- and writing the same lines to
 * the info log. Afterwards wb_open opens it. Never called by the library
 * itself: a damaged database stays untouched until someone decides to
 * repair it. Tables that open but hold a damaged block are reported and
 * kept (reads of those keys still fail). *dropped (may be NULL) gets the
 * number of lines reported. opts as for wb_open (NULL: defaults;
 * read_only is WB_EINVAL). Errors: those of wb_open other than
 * WB_ECORRUPT for the damage it drops (a damaged MANIFEST or CURRENT is
 * still WB_ECORRUPT: they are not rebuilt), and of writing. */
int wb_repair(const char *dir, const wb_options *opts,
	      void (*report)(void *arg, int dropped, const char *what), void *arg, uint64_t *dropped);

/* Statistics as human-readable text (*out freed with wb_free), including a
 * "background error:" line ("none", or what writes get and, per failing
 * source, the message, the failures and the next retry). WB_ENOMEM. */
int wb_stats_text(wb_db *db, char **out);

/* Statistics as one JSON object (*out freed with wb_free); the error state
 * is "background_error": null, or {"code", "error", "sticky",
 * "recoveries", "sources": [{"source", "code", "error", "failures",
 * "seconds", "retry_in_ms", "message"}]}. WB_ENOMEM. */
int wb_stats_json(wb_db *db, char **out);

#ifdef __cplusplus
}
#endif

#endif /* WOMBAT_H */
