/*
 * db_impl.h -- the database object shared by the db_*.c files.
 *
 * Files and what they do:
 *   db_open.c    open, recovery from MANIFEST + WAL, close, obsolete files
 *   db_write.c   the writer queue: group commit, memtable switch, sync thread
 *   db_read.c    point reads: get, get_range, stat_key
 *   db_iter.c    the public iterator over a snapshot
 *   db_flush.c   the flush thread: frozen memtables to L0 tables
 *   txn.c        transactions (wb_txn_*): write buffer, read set, commit
 *   oracle.c     registered readers and the commit log for conflict checks
 *   version_set.c  the current version, file numbers, MANIFEST and CURRENT
 *   stats.c      counters and their text/JSON reports
 *   infolog.c    the LOG file: what happened, for people
 *   vlog.c       the value log, a module of its own (vlog.h); vlog_gc.c its space reclaim
 *   writer.c     streaming writes of large values (wb_writer_*)
 *   bgerror.c    the error state: why writes are refused (bgerror.h)
 *   reserve.c    the disk reserve that lets a full disk open (reserve.h)
 *
 * Background threads (all started by wb_open, joined by wb_close):
 *   "wb-flush"   db_flush.c  waits for frozen memtables, writes them as L0 tables
 *   "wb-sync"    db_write.c  fsyncs the WAL every sync_interval_ms (sync=interval)
 *   "wb-compact-N" compaction.c  picks and runs compactions (compaction_threads of them)
 *   "wb-vlog-gc" vlog_gc.c  reclaims value-log segments that are mostly garbage
 *
 * Locking. `mu` protects the fields marked (mu). The write leader (the
 * writer at the head of the queue) owns the active memtable's insertion side
 * and the WAL appends, and releases mu while it does I/O. `wal_mu` guards
 * the WAL pointer against being closed while the sync thread syncs it.
 * The version set `vs` (version_set.h) keeps the current version, file
 * numbers, the log number and the compact pointers under mu, and
 * serializes edits and the MANIFEST under its own `vs.edit_mu`. `vlog.mu`
 * guards the set of value-log segments and their discard counts (vlog.h). Order: vs.edit_mu, then
 * mu, then wal_mu, then vlog.mu. The oracle (readers, commit log) is
 * under mu: the leader checks conflicts and logs commits while it stamps
 * a group, compaction reads the readers' timestamps when it picks,
 * transactions and iterators register and leave under it. `bg.mu`
 * (bgerror.h) is a leaf lock.
 *
 * Errors in the background (the policy; wombat.h says it per call). Every
 * failure that makes writes unsafe or unbounded is recorded in db->bg with
 * the failing thread's own message, and the info log says so:
 *   - sticky: a failed fsync of the WAL or the value log, or a logged
 *     write the memtable could not take. Every write, wb_sync, wb_flush
 *     and wb_compact_range fail with it until the database is reopened
 *     (recovery replays what the disk holds).
 *   - retried: a flush, compaction or value-log reclaim failed (WB_ENOSPC,
 *     WB_EIO, WB_ECORRUPT...). Its thread retries after 100 ms, doubling
 *     to 5 s; the first success ends it. Meanwhile every new write fails at
 *     once with the error (no write waits for room that cannot come: a
 *     leader that needs a flush or a compaction that is failing gives up),
 *     except a removal when the disk is full (batch_is_removal), which is
 *     how room is made. wb_sync still syncs; wb_flush, wb_compact_range and
 *     wb_vlog_gc run their work now and return its result (a success
 *     clears that source). Reads, iterators and read-only transactions are
 *     not affected, and nothing acknowledged is lost: it is in the WAL.
 *   - disk full: the disk reserve was given back (reserve.h) to an open, a
 *     delete or a reclaim pass that met WB_ENOSPC. Retried like the others
 *     (by the reclaim thread, which makes the reserve again when it fits):
 *     until then writes that store data get WB_ENOSPC, removals do not.
 */
#ifndef WB_DB_IMPL_H
#define WB_DB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "db/bgerror.h"
#include "table/cache.h"
#include "util/hlc.h"
#include "util/infolog.h"
#include "db/log.h"
#include "db/memtable.h"
#include "txn/oracle.h"
#include "util/ratelimit.h"
#include "db/reserve.h"
#include "db/stats.h"
#include "db/version.h"
#include "db/version_set.h"
#include "vlog/vlog.h"
#include "wombat.h"

#define MAX_IMMUTABLE 16
#define MAX_COMPACT_THREADS 8
#define MAX_BUSY 4096

struct writer;
struct db_snapshot;

/* A salvage in progress (wb_repair, repair.c): recovery drops what fails
 * its checks instead of refusing to open, and says so through report. */
typedef struct salvage {
	void (*report)(void *arg, int dropped, const char *what);
	void *arg;
	uint64_t dropped; /* things dropped and reported */
} salvage_t;

/* A WAL whose torn tail recovery dropped: cut back to valid_end before new
 * writes, so that a later WAL with records never follows a torn one (which
 * recovery would take for damage). */
typedef struct torn_wal {
	uint64_t number, valid_end;
} torn_wal_t;
#define MAX_TORN_WALS 8

struct wb_db {
	char *dir;
	wb_options opts;
	const wb_env *env;
	wb_env_file *lock_file;
	info_log_t *info;            /* the LOG file (infolog.h); NULL when read-only */

	pthread_mutex_t mu;
	pthread_cond_t work_cv; /* (mu) flush thread: frozen memtable or closing */
	pthread_cond_t room_cv; /* (mu) leader waiting for a flush to make room */
	pthread_cond_t flushed_cv; /* (mu) wb_flush waiting for the imm list to drain */

	memtable_t *mem;             /* (mu, swapped by the leader) active memtable */
	memtable_t *imm[MAX_IMMUTABLE]; /* (mu) frozen, oldest first */
	int nimm;                    /* (mu) */
	struct writer *wq_head, *wq_tail; /* (mu) writer queue */
	int flush_error;             /* (mu) result of the last flush attempt (for wb_flush) */
	uint64_t flush_attempts;     /* (mu) flushes finished, failed or not (for wb_flush) */
	uint64_t flush_begun;        /* (mu) flushes begun: one at a time, so attempt n ends as flush_attempts = n */
	bool flush_now;              /* (mu) wb_flush: retry a failing flush without waiting */
	bgerror_t bg;                /* why writes are refused now, if they are (bgerror.h) */
	reserve_t reserve;           /* room kept for a full disk (reserve.h) */
	bool closing;                /* (mu) */
	bool replay_cut;             /* (open only) replay stopped at a lost value */
	salvage_t *salvage;          /* (open only) NULL unless wb_repair opened it */
	torn_wal_t torn_wals[MAX_TORN_WALS]; /* (open only) */
	int ntorn;
	bool flushing;               /* (mu) a flush is in progress */

	pthread_mutex_t wal_mu;
	log_writer_t *wal;           /* (wal_mu to swap; leader appends) */
	uint64_t wal_number;         /* (mu) */
	/* Bytes of the current WAL: written (reset at a switch under wal_mu) and
	 * published by the leader after each append, read by sync_wal, which
	 * must not call log_writer_size while the leader appends. */
	_Atomic uint64_t wal_size;
	_Atomic uint64_t wal_synced_size; /* bytes of the current WAL known durable */

	/* The current version, file numbers, log number, compact pointers
	 * (mu) and the MANIFEST (vs.edit_mu): version_set.h. */
	version_set_t vs;

	hlc_t clock;
	/* Every commit <= this is fully in the memtable: the watermark reads
	 * take their timestamp from. Stored by the leader under mu. */
	_Atomic uint64_t visible_ts;
	/* (mu) The last commit timestamp the leader handed out; visible_ts
	 * catches up with it when the group is applied. Other users of the
	 * clock (hlc_next outside the leader) do not move it. */
	uint64_t stamped_ts;
	pthread_cond_t visible_cv;   /* (mu) visible_ts moved; see visible_waiters */
	int visible_waiters;         /* (mu) threads waiting on visible_cv */
	oracle_t oracle;             /* (mu) readers and the commit log (oracle.h) */

	pthread_t flush_thread, sync_thread;
	bool flush_started, sync_started;
	pthread_cond_t sync_cv;      /* (mu) wakes the sync thread early at close */

	/* Compaction (compaction.c). */
	block_cache_t *cache;        /* data blocks of every table */
	rate_limiter_t limiter;      /* paces compaction writes */
	pthread_cond_t compact_cv;   /* (mu) work for the compaction threads, or one finished */
	pthread_t compact_threads[MAX_COMPACT_THREADS];
	int ncompact_threads;
	int running_compactions;     /* (mu) */
	int manual_compactions;      /* (mu) wb_compact_range calls running: no automatic picks */
	uint64_t busy[MAX_BUSY];     /* (mu) numbers of tables that are compaction inputs */
	int nbusy;                   /* (mu) */
	file_meta_t **obsolete;      /* (mu) replaced tables waiting for their last reader */
	int nobsolete, obsolete_cap; /* (mu) */
	_Atomic int obsolete_pending; /* nobsolete, readable without mu (a hint) */

	/* Value log (vlog.c, vlog_gc.c). */
	vlog_t vlog;
	pthread_t gc_thread;
	bool gc_started;
	pthread_cond_t gc_cv;        /* (mu) wakes the reclaim thread */
	pthread_cond_t gc_done_cv;   /* (mu) a reclaim pass began: stalled writers go on */
	pthread_mutex_t gc_mu;       /* one reclaim pass at a time */
	rate_limiter_t gc_limiter;   /* paces reclaim rewrites */

	/* (mu) Every snapshot taken and not yet released, oldest first, each
	 * numbered from snap_seq: a dead value-log segment waits until every
	 * snapshot numbered before its death is gone. */
	struct db_snapshot *snap_head, *snap_tail;
	uint64_t snap_seq;

	stats_t stats;
};

/* db_open.c: wb_open, or with salvage != NULL a salvaging open (repair.c):
 * damage that wb_open refuses is dropped, and each drop reported through
 * db_salvage_note (to the caller and the info log, and counted). salvage is the
 * caller's and must outlive the handle's open. */
int db_open_with(const char *dir, const wb_options *opts, salvage_t *salvage, wb_db **out);
void db_salvage_note(wb_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As db_salvage_note, for what the salvage does that drops nothing. */
void db_salvage_tell(wb_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Database file names, in a caller buffer of at least PATH_MAX bytes. */
enum file_type { FILE_WAL, FILE_SST, FILE_MANIFEST, FILE_CURRENT, FILE_LOCK, FILE_TEMP, FILE_VLOG };
void db_filename(char *buf, size_t len, const char *dir, enum file_type type, uint64_t number);
/* Parses a directory entry name; false when it is not one of ours. */
bool db_parse_filename(const char *name, enum file_type *type, uint64_t *number);

/* The numbers of the WAL files in the directory, ascending, in a malloc'ed
 * array (caller frees; NULL when none); *max_number, if not NULL, gets the
 * largest number of any file of ours. Errors from the env, WB_ENOMEM. */
int db_list_wals(wb_db *db, uint64_t **wals, int *n, uint64_t *max_number);

/* db_write.c */
int db_write_batch(wb_db *db, wb_batch *b, bool sync);
/* A conditional write (value-log reclaim): entry i of b is applied only if
 * the newest version of its key holds exactly the pointer expect[i] when
 * the leader applies it, checked and applied as one step; the others are
 * left out (*skipped counts them). The batch is committed alone. */
int db_write_cond(wb_db *db, wb_batch *b, const vptr_t *expect, int *skipped);
/* As db_write_batch, for a transaction's commit: the leader checks check
 * against the commits after its read_ts and returns WB_ECONFLICT (nothing
 * written) when one conflicts; otherwise logs it and writes b. check->rec
 * belongs to the oracle afterwards when it was logged (check->rec is then
 * NULL), otherwise it stays the caller's. */
int db_write_txn(wb_db *db, wb_batch *b, txn_check_t *check);
int db_force_switch(wb_db *db); /* freezes the active memtable if not empty */
/* Returns once every write that was leading or queued when it was called
 * is applied and visible. Can't fail (WB_OK). */
int db_write_barrier(wb_db *db);
/* As db_write_barrier, and while it leads it seals the active value-log
 * segment if that is still `segment` (vlog_seal_active). */
int db_write_seal_vlog(wb_db *db, uint64_t segment);
void *db_sync_thread(void *arg);

/* db_flush.c */
void *db_flush_thread(void *arg);
/* Waits on cv (with mu) until it is signalled or `us` microseconds pass:
 * the background threads' timed sleeps. REQUIRES: mu. */
void db_timed_wait(wb_db *db, pthread_cond_t *cv, uint64_t us);
/* Writes mem as a new table of the given number; *out_meta gets its
 * metadata with an open reader (refs = 1), or NULL if mem was empty. */
int db_build_table(wb_db *db, memtable_t *mem, uint64_t number, file_meta_t **out_meta);

/* compaction.c: a table replaced by a compaction is deleted once no
 * version uses it. db_add_obsolete takes a reference (REQUIRES: mu);
 * db_delete_obsolete_tables removes those whose last reference is ours
 * (REQUIRES: mu not held). */
void db_add_obsolete(wb_db *db, file_meta_t *f);
void db_delete_obsolete_tables(wb_db *db);

/* Pins the current state for a read: memtables and version referenced;
 * *read_ts the newest fully applied commit. Release with db_snapshot_release. */
typedef struct db_snapshot {
	wb_db *db;
	memtable_t *mem;
	memtable_t *imm[MAX_IMMUTABLE];
	int nimm;
	version_t *version;
	uint64_t read_ts;
	uint64_t seq;                     /* (mu) see wb_db.snap_head */
	struct db_snapshot *prev, *next;  /* (mu) */
} db_snapshot_t;

void db_snapshot_take(wb_db *db, db_snapshot_t *s);
/* As db_snapshot_take, reading at read_ts instead (0: the visible one), and
 * when reader is not NULL, registering it with the oracle at that read_ts as
 * a read-only reader (undo with db_reader_remove). */
void db_snapshot_take_at(wb_db *db, db_snapshot_t *s, uint64_t read_ts, oracle_reader_t *reader);
void db_snapshot_release(db_snapshot_t *s);
/* db_iter.c: one merging iterator over everything s pins, newest source
 * first (own, when not NULL, before all: a transaction's writes), not yet
 * positioned. WB_OK or WB_ENOMEM (*out NULL). */
int db_snapshot_iter(db_snapshot_t *s, memtable_t *own, iter_t **out);
/* The number of the oldest snapshot still held, or of the next one when
 * none is. REQUIRES: mu. */
uint64_t db_oldest_snapshot(wb_db *db);

/* db_read.c: the newest version of tree_key in s at or below read_ts;
 * found() as in memtable_get. WB_ENOTFOUND when there is none. */
int db_snapshot_get(db_snapshot_t *s, slice_t tree_key, uint64_t read_ts, found_fn found, void *arg);
/* db_read.c: what a read sees -- a snapshot and, over it when own is not
 * NULL, a transaction's own writes (timestamps >= TXN_TS_BASE, read first).
 * Every read below resolves what it finds: a value-log pointer is read
 * through the value log, an object reference (obj/object.h) through the
 * object's header, base and chunks, all in the same view. WB_ENOTFOUND
 * when tree_key has no value (missing or deleted). */
typedef struct db_view {
	db_snapshot_t *snap;
	memtable_t *own;
	/* When not NULL, told each object header key an object read depends
	 * on (a serializable transaction records it as read). */
	int (*note)(void *arg, slice_t tree_key);
	void *note_arg;
} db_view_t;

/* The newest version of tree_key in v; found() as in memtable_get. */
int db_view_get(const db_view_t *v, slice_t tree_key, found_fn found, void *arg);
/* As wb_get: the whole value, with a NUL after it. */
int db_view_read_all(const db_view_t *v, slice_t tree_key, void **val, size_t *vlen);
/* As wb_get_range. */
int db_view_read_range(const db_view_t *v, slice_t tree_key, uint64_t off, void *buf, size_t len,
		       size_t *nread);
/* As wb_stat_key (info->ts is 0 for an own write). */
int db_view_stat(const db_view_t *v, slice_t tree_key, wb_key_info *info);
/* The stored entry, unresolved: its meta byte and a malloc'ed copy of its
 * payload (*raw, *raw_len; free it). */
int db_view_read_raw(const db_view_t *v, slice_t tree_key, uint8_t *meta, uint8_t **raw,
		     size_t *raw_len);

/* Takes mu and removes r from the oracle's readers. */
void db_reader_remove(wb_db *db, oracle_reader_t *r);

/* db_read.c: copies an inline value into a new buffer *val (wb_free) with
 * the NUL after its *vlen bytes that wb_get promises. WB_ENOMEM. */
int db_value_copy(slice_t value, void **val, size_t *vlen);
/* db_read.c: reads the value at p whole (vlog_read_value) into *val, with
 * the NUL after its p->value_len bytes that wb_get and wb_iter_value
 * promise. Errors as vlog_read_value. */
int db_value_read(wb_db *db, const vptr_t *p, void **val);

/* db_read.c: the value of tree key (ks, key) at read_ts, as wb_get_ks. */
int db_get_at(wb_db *db, uint8_t ks, const void *key, size_t klen, uint64_t read_ts, void **val,
	      size_t *vlen);

/* db_iter.c: an iterator at read_ts (0: the visible one) over the database,
 * and when own != NULL over the writes of a transaction too: own holds
 * versions with timestamps >= TXN_TS_BASE, which win over every stored
 * version (wb_iter_ts shows 0 for them). A registered iterator (own ==
 * NULL) is one the oracle knows. */
int db_iter_new(wb_db *db, const wb_iter_options *opts, uint64_t read_ts, memtable_t *own,
		wb_iter **out);

/* The tree-key bounds [lo, hi) of what it may show. Valid while it lives. */
void db_iter_bounds(const wb_iter *it, slice_t *lo, slice_t *hi);

/* Timestamps from here up mark a transaction's own uncommitted writes in
 * its write buffer (a memtable): far above any clock stamp. */
#define TXN_TS_BASE ((uint64_t)1 << 63)

#endif /* WB_DB_IMPL_H */
