/*
 * oracle.h -- the transaction oracle: who reads at which timestamp, and
 * which keys recent commits wrote (DESIGN.md 3.8).
 *
 * It keeps two things:
 *
 *   The registry of active readers. Every transaction and every iterator
 *   registers its read timestamp for as long as it lives. Compaction asks
 *   for the set (oracle_horizon) and keeps, for every key, the newest
 *   version each reader can see, every version newer than the horizon,
 *   and nothing else.
 *
 *   The commit log. For every commit since the oldest active read-write
 *   transaction began: its commit timestamp and the tree keys it wrote (a
 *   hash set of 64-bit fingerprints for point checks, the keys themselves
 *   for range checks). A transaction conflicts when a commit after its
 *   read_ts wrote a key it read or a key inside a range it iterated
 *   (serializable), or a key it writes too (snapshot isolation). Records
 *   older than the oldest read-write reader are pruned at each group
 *   commit, so the log stays as long as the longest running transaction
 *   and no longer -- and never past ORACLE_LOG_MAX_BYTES: a transaction
 *   left open that long conflicts at commit instead. While no read-write
 *   transaction is active nothing is logged at all, so blind writes pay
 *   one comparison.
 *
 * The watermark that keeps a reader from seeing half a commit is the
 * database's visible_ts (db_write.c): the write leader assigns timestamps
 * and applies whole groups one at a time, in timestamp order, and only then
 * publishes the group's last timestamp. A read-write transaction registers
 * at the last timestamp handed out, then waits until that is visible: every
 * commit after its read_ts is stamped after it registered, so it is logged
 * for it (txn.c).
 *
 * Locking: every function taking an oracle_t REQUIRES db->mu. The write
 * leader checks and logs while it assigns timestamps under mu, which is what
 * orders conflict checks and commits. oracle_fingerprint and the record
 * builder are pure and need no lock.
 */
#ifndef WB_ORACLE_H
#define WB_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/coding.h"
#include "wombat.h"

/* One registered reader; embedded in the transaction or iterator. */
typedef struct oracle_reader {
	uint64_t read_ts;
	uint64_t snap_seq; /* db snapshot sequence when it registered: value-log
			    * reclaim keeps every segment retired after it */
	bool rw; /* a read-write transaction: commits after read_ts are logged for it */
	struct oracle_reader *prev, *next;
} oracle_reader_t;

/* The keys one commit wrote (opaque; oracle.c). */
typedef struct commit_rec commit_rec_t;

/* A tree-key range [lo, hi) an iterator of a transaction covered. */
typedef struct key_range {
	uint8_t *lo, *hi;
	size_t lo_len, hi_len;
} key_range_t;

/* What a committing transaction asks the oracle to check. */
typedef struct txn_check {
	uint64_t read_ts;
	bool serializable;         /* check reads; otherwise check writes */
	const uint64_t *reads;     /* fingerprints of the keys it read */
	size_t nreads;
	const key_range_t *ranges; /* ranges it iterated */
	size_t nranges;
	commit_rec_t *rec;         /* its writes; the oracle takes it when logged */
} txn_check_t;

typedef struct oracle {
	oracle_reader_t readers; /* sentinel of a circular list */
	int nreaders, nrw;
	/* The commit log, oldest first: log[first .. first + nrecs). An array,
	 * so a check finds the commits after its read_ts by binary search
	 * however far back the oldest open transaction keeps the log. */
	commit_rec_t **log;
	size_t first, nrecs, cap;
	uint64_t rec_bytes;
	uint64_t retain_ms;  /* wb_options.retain_versions_ms */
	const wb_env *env;   /* whose wall clock measures retain_ms */
	/* Versions below this may have been dropped: the largest horizon ever
	 * handed to a compaction (or, at open, the last timestamp recovered). */
	uint64_t discard_ts;
	uint64_t checks, conflicts; /* commits checked, and found in conflict */
	/* Records up to here were dropped to keep the log under
	 * ORACLE_LOG_MAX_BYTES: a transaction reading below it conflicts. */
	uint64_t floor_ts;
	uint64_t too_old; /* conflicts for that reason */
} oracle_t;

/* The most memory the commit log may hold. Reached only while a read-write
 * transaction stays open across that much writing; the oldest half of the
 * log is then dropped and such transactions fail with WB_ECONFLICT. */
#define ORACLE_LOG_MAX_BYTES ((uint64_t)64 << 20)

/* An empty oracle; env's wall clock (NULL: the system's) places the
 * retention window. This function can't fail. */
void oracle_init(oracle_t *o, const wb_env *env, uint64_t retain_ms, uint64_t discard_ts);
/* Frees the commit log. REQUIRES: no reader registered. */
void oracle_destroy(oracle_t *o);

void oracle_add_reader(oracle_t *o, oracle_reader_t *r, uint64_t read_ts, bool rw);
void oracle_remove_reader(oracle_t *o, oracle_reader_t *r);

/* For a compaction starting now, with visible the database's visible_ts:
 * the horizon H = min(visible, now - retain_ms), above which every version
 * stays, and below it the sorted distinct read timestamps of the readers,
 * with H appended last (a version is kept when it is the newest of its key
 * at or below one of them). *snaps is malloc'ed (caller frees); *n >= 1.
 * Raises discard_ts to H. WB_OK or WB_ENOMEM. */
int oracle_horizon(oracle_t *o, uint64_t visible, uint64_t **snaps, int *n);

/* Whether every version a reader at ts needs is still there: ts is at or
 * above discard_ts, or an active reader has read at exactly ts all along
 * (compaction kept its versions). */
bool oracle_retained(const oracle_t *o, uint64_t ts);

/* True when a commit must be logged: some read-write transaction other
 * than the committer itself (self_rw) is active. */
static inline bool oracle_logging(const oracle_t *o, bool self_rw)
{
	return o->nrw > (self_rw ? 1 : 0);
}

/* True when a commit logged after c->read_ts conflicts with c. */
bool oracle_conflicts(oracle_t *o, const txn_check_t *c);

/* Appends rec (taken over, freed when pruned) as the commit at ts.
 * REQUIRES: ts greater than every logged one. WB_OK, or WB_ENOMEM (rec is
 * then still the caller's). */
int oracle_log(oracle_t *o, commit_rec_t *rec, uint64_t ts);

/* Drops the records no active read-write transaction can conflict with. */
void oracle_prune(oracle_t *o);

/* The record of the tree keys in the encoded batch rep (batch.h), in a new
 * allocation (*out, freed by oracle_rec_free unless logged). WB_OK,
 * WB_ENOMEM, WB_ECORRUPT. Pure: any thread, no lock. */
int oracle_rec_build(slice_t rep, commit_rec_t **out);
void oracle_rec_free(commit_rec_t *rec); /* NULL is fine */

/* The 64-bit fingerprint of a tree key (never 0). Pure. */
uint64_t oracle_fingerprint(slice_t tree_key);

#endif /* WB_ORACLE_H */
