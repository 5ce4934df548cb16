/*
 * compaction.h -- leveled compaction: choosing work, merging tables into
 * the next level, installing the result.
 *
 * L0 holds overlapping tables from flushes; L1..L6 are sorted and
 * non-overlapping, each level's target 10x the previous (L1: level1_size).
 * A level's score is its size over its target (for L0: its table count
 * over l0_compaction_trigger); the highest score >= 1 is compacted first.
 * Compactions run on the "wb-compact-N" threads, several at once when their
 * input tables do not overlap (each input is marked busy while in use).
 *
 * A merge keeps, for every key, every version newer than the horizon (the
 * visible timestamp, or the start of the retain_versions_ms window), and
 * below it only the newest version each active reader (transaction or
 * iterator, registered with the oracle) can see; the others are dropped,
 * and so is a tombstone every reader sees when no deeper level can hold
 * the key. A single input table
 * that overlaps nothing below moves down without being rewritten.
 */
#ifndef WB_COMPACTION_H
#define WB_COMPACTION_H

#include "util/coding.h"
#include "db/version.h"
#include "wombat.h"

typedef struct compaction compaction_t;

/* Target size of a level (L1..L6). */
uint64_t compaction_level_target(const wb_db *db, int level);

/* Score of a level in v (>= 1 means it needs compaction). */
double compaction_score(const wb_db *db, const version_t *v, int level);

/* Compaction debt of v: bytes above their level's target (L1..L5), plus
 * L0 when it is due. Writers slow down and stop on it. */
uint64_t compaction_pending_bytes(const wb_db *db, const version_t *v);

/* The most urgent compaction whose inputs are not busy, with its inputs
 * marked busy, or NULL. REQUIRES: mu held. */
compaction_t *compaction_pick(wb_db *db);

/* A compaction of every table of `level` whose keys overlap the tree-key
 * range [begin, end] (NULL: unbounded) into level + 1; NULL when none or
 * when an input is busy (*busy set). REQUIRES: mu held. */
compaction_t *compaction_pick_range(wb_db *db, int level, const slice_t *begin,
				    const slice_t *end, bool *busy);

/* Writes the output tables and installs the new version (MANIFEST first).
 * REQUIRES: mu not held. On error nothing is installed and the outputs
 * are removed. */
int compaction_run(wb_db *db, compaction_t *c);

/* Releases c and clears its inputs' busy marks. REQUIRES: mu held. */
void compaction_free(compaction_t *c);

/* The body of a "wb-compact-N" thread. */
void *db_compaction_thread(void *arg);

#endif /* WB_COMPACTION_H */
