/*
 * stats.h -- the engine's counters.
 *
 * Plain relaxed atomics bumped on the paths they count, so any thread may
 * update or read them without a lock; a report is therefore a near-instant
 * view, not a transaction. The text and JSON reports also show per-level
 * sizes taken from the current version (stats.c).
 */
#ifndef WB_STATS_H
#define WB_STATS_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct stats {
	_Atomic uint64_t puts, deletes, batches, writes_grouped;
	_Atomic uint64_t gets, get_hits, range_reads, stat_keys;
	_Atomic uint64_t bytes_written; /* user keys + values accepted */
	_Atomic uint64_t bytes_read;    /* user values returned */
	_Atomic uint64_t wal_bytes, wal_records, wal_syncs;
	_Atomic uint64_t flushes, flush_bytes, flush_micros;
	_Atomic uint64_t memtable_switches;
	_Atomic uint64_t stall_micros, stalls;
	_Atomic uint64_t iterators;
	_Atomic uint64_t bg_errors;
	_Atomic uint64_t compactions, trivial_moves, compaction_bytes_read, compaction_bytes_written;
	_Atomic uint64_t compaction_micros;
	_Atomic uint64_t txn_begins, txn_commits, txn_conflicts, txn_aborts, txn_retries;
	_Atomic uint64_t txn_check_nanos; /* the leader's time in conflict checks */
} stats_t;

#define STAT_ADD(db, field, n) atomic_fetch_add_explicit(&(db)->stats.field, (n), memory_order_relaxed)
#define STAT_GET(db, field) atomic_load_explicit(&(db)->stats.field, memory_order_relaxed)

#endif /* WB_STATS_H */
