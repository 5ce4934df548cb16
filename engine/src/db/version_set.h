/*
 * version_set.h -- the version set: the current version of the tree, the
 * file-number counter, the log number, the compact pointers and the
 * MANIFEST that makes them durable (format: docs/format.md, "MANIFEST" and
 * "CURRENT").
 *
 * Every change to the tree goes through vset_log_and_apply, the one place
 * an edit is logged and applied: the flush thread (a new L0 table and the
 * log number), the compaction threads (tables replaced) and the value-log
 * reclaim thread (segments removed) call it; the clean-close mark of
 * wb_close too. Edits are serialized by edit_mu; each is appended to the
 * MANIFEST and synced before the new version is made current, so a crash
 * never leaves in use a change the MANIFEST lacks.
 *
 * Invariants:
 *   - The MANIFEST on disk, replayed, gives `current` -- unless
 *     manifest_broken is set: then the last edit's fate is unknown (its
 *     append or sync failed, or it was logged but could not be applied),
 *     and the next edit first writes a new MANIFEST holding a snapshot of
 *     `current`, so the unknown edit never stays in front of later ones.
 *   - File numbers are handed out once: next_file only grows, and every
 *     edit records it.
 *
 * Locking. `mu` is the database's mutex (a test may give its own): it
 * guards current, next_file, log_number and the compact pointers.
 * `edit_mu` serializes edits and guards the MANIFEST writer; current is
 * replaced only under both, so an edit's holder may read it without mu.
 * Order: edit_mu, then mu. The set needs no wb_db: what else a snapshot
 * must hold (the clock, the value log) comes through its hooks.
 */
#ifndef WB_VERSION_SET_H
#define WB_VERSION_SET_H

#include <pthread.h>
#include <stdbool.h>

#include "db/log.h"
#include "db/version.h"
#include "wombat.h"

/* What lives outside the version set but goes into the MANIFEST. Any hook
 * may be NULL (a test's set has none). */
typedef struct vset_hooks {
	void *arg;
	/* With mu held, for a snapshot: adds the last timestamp and the
	 * value-log discard totals to e. WB_OK or WB_ENOMEM. */
	int (*snapshot)(void *arg, version_edit_t *e);
	/* With edit_mu held and mu not: adds the value-log segments to e (for
	 * a snapshot every live one and the removals WALs from log_number on
	 * may need; else the segments made since the last edit). *segs gets
	 * what to pass to recorded once e is durable (malloc'ed, the set
	 * frees it). WB_OK or WB_ENOMEM. */
	int (*segments)(void *arg, version_edit_t *e, bool snapshot, uint64_t log_number, uint64_t **segs,
			int *nsegs);
	/* The edit naming segs is durable. Can't fail. */
	void (*recorded)(void *arg, const uint64_t *segs, int nsegs);
} vset_hooks_t;

typedef struct version_set {
	const wb_env *env;
	const char *dir;             /* the caller's, outlives the set */
	pthread_mutex_t *mu;         /* the caller's, see "Locking" */
	vset_hooks_t hooks;

	version_t *current;          /* (mu; replaced under edit_mu too) never NULL after open */
	uint64_t next_file;          /* (mu) next file number to hand out */
	uint64_t log_number;         /* (mu) WALs below this are flushed */
	uint8_t *compact_pointer[NUM_LEVELS]; /* (mu) largest key last compacted per level */
	size_t compact_pointer_len[NUM_LEVELS]; /* (mu) */
	size_t compact_pointer_cap[NUM_LEVELS]; /* (mu) bytes allocated for each */

	pthread_mutex_t edit_mu;
	log_writer_t *manifest;      /* (edit_mu) NULL until the first snapshot */
	uint64_t manifest_number;    /* (edit_mu) 0 until recovered or written */
	bool manifest_broken;        /* (edit_mu) see the invariants */
} version_set_t;

/* Sets up an empty set (no version yet: vset_recover or vset_create makes
 * one) over dir through env; mu guards the fields marked (mu); hooks may
 * be NULL. This function can't fail. */
void vset_init(version_set_t *vs, const wb_env *env, const char *dir, pthread_mutex_t *mu,
	       const vset_hooks_t *hooks);
/* Closes the MANIFEST and drops the version and the pointers. Writes
 * nothing. REQUIRES: no other thread uses vs. */
void vset_destroy(version_set_t *vs);

/* The next file number (never handed out again). REQUIRES: mu. */
static inline uint64_t vset_new_file_number(version_set_t *vs)
{
	return vs->next_file++;
}

/* Makes a copy of key (an internal key) the compact pointer of level: the
 * largest key its last compaction took, after which the next pick there
 * starts. Out of memory keeps the old pointer, which only steers which
 * file goes next. This function can't fail. REQUIRES: mu. */
void vset_set_compact_pointer(version_set_t *vs, int level, slice_t key);

/* A fresh tree: the empty version, file numbers from 1. WB_OK or
 * WB_ENOMEM. REQUIRES: as vset_recover. */
int vset_create(version_set_t *vs);

/* Reads CURRENT and replays the MANIFEST it names: current, next_file and
 * log_number become what it holds, and *state gets all of it as one edit
 * (last ts, discards, segments, clean close and the live tables; caller
 * destroys it) for what lies outside the set. WB_ENOTFOUND (no message)
 * when there is no CURRENT; WB_ECORRUPT with the file named for a bad
 * CURRENT or MANIFEST; env errors. On error vs is unchanged. REQUIRES: no
 * other thread uses vs (open). */
int vset_recover(version_set_t *vs, version_edit_t *state);

/* Applies e to current without logging it: only while opening, before
 * vset_write_snapshot records the result (tables a salvage dropped, the
 * replayed memtables flushed). WB_OK, WB_ENOMEM, WB_ECORRUPT; on error
 * nothing changed. REQUIRES: as vset_recover. */
int vset_apply_unlogged(version_set_t *vs, const version_edit_t *e);

/* Writes a new MANIFEST `number` holding a snapshot of current, points
 * CURRENT at it and removes the old one. On error before CURRENT was
 * replaced the new file is removed and the old one stays in use; if only
 * the directory sync failed, the new one is used and marked broken.
 * REQUIRES: edit_mu held, or no other thread uses vs (open); mu not held. */
int vset_write_snapshot(version_set_t *vs, uint64_t number);

/* How a caller's own state changes in step with an edit. Either hook may
 * be NULL; so may the whole struct. */
typedef struct vset_apply {
	void *arg;
	/* With edit_mu held and mu not, before e is logged: fills in what must
	 * be decided in MANIFEST order (value-log reclaim moves its segments
	 * out of the live set here). An error is returned as is, nothing
	 * logged; undoing what it changed is the caller's. */
	int (*prepare)(void *arg, version_edit_t *e);
	/* With mu held, right after the new version became current: the
	 * in-memory changes that go with the edit. Can't fail. */
	void (*installed)(void *arg, const version_edit_t *e);
} vset_apply_t;

/* The one log-and-apply: takes edit_mu, runs how->prepare, records
 * next_file in e, appends e to the MANIFEST (first rewriting it if
 * broken) and syncs it, then makes current the version with e's files
 * added and removed, and log_number e's if it has one, and runs
 * how->installed, all under mu. e stays the caller's.
 *
 * *logged (may be NULL) tells whether the whole edit reached the file: a
 * crash may then leave it in effect, so the files it names must stay even
 * when this fails. An edit with nothing in it (after prepare) is not
 * logged: WB_OK, nothing changed. On error, with the message set
 * (err_message):
 *   - not logged (prepare, encoding, append or snapshot failed): nothing
 *     changed in memory, and a failed append marks the MANIFEST broken.
 *   - logged, but the sync or the apply failed: the MANIFEST is marked
 *     broken (the file may hold an edit memory lacks), current is not
 *     replaced. The caller records the background error.
 * REQUIRES: mu and edit_mu not held. */
int vset_log_and_apply(version_set_t *vs, version_edit_t *e, const vset_apply_t *how, bool *logged);

/* Holds the MANIFEST still (no edit, no new file) for a reader of it
 * (wb_verify). */
void vset_lock(version_set_t *vs);
void vset_unlock(version_set_t *vs);

#endif /* WB_VERSION_SET_H */
