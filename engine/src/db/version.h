/*
 * version.h -- which tables make up the tree, and the edits that change it.
 *
 * A version is an immutable snapshot of the files in each level L0..L6. L0
 * files may overlap and are kept newest first (by file number); L1..L6 files
 * are sorted by key and do not overlap, and the versions of one tree key
 * never straddle two files of a level (compaction cuts tables only between
 * keys), so a point read looks at every L0 file but at most one file per
 * deeper level. Versions and the file metadata they share are reference
 * counted: a reader or iterator pins the version it started with, so no
 * table it may read is closed or deleted under it.
 *
 * A version edit is a change (files added and removed, counters advanced);
 * the MANIFEST is the log of edits (version_set.c, docs/format.md "MANIFEST").
 * Functions here are pure or act on one object; locking is the caller's.
 */
#ifndef WB_VERSION_H
#define WB_VERSION_H

#include <stdatomic.h>

#include "table/iter.h"
#include "table/sst.h"

#define NUM_LEVELS 7

typedef struct file_meta {
	uint64_t number;
	uint64_t size;
	uint8_t *smallest, *largest; /* internal keys (owned) */
	size_t smallest_len, largest_len;
	uint64_t min_ts, max_ts;
	uint64_t entries;
	sst_reader_t *reader; /* open table; NULL until opened */
	atomic_int refs;
} file_meta_t;

/* A new file_meta with refs = 1 and copies of the keys. NULL on out of memory. */
file_meta_t *file_meta_new(uint64_t number, uint64_t size, slice_t smallest, slice_t largest);
void file_meta_ref(file_meta_t *f);
void file_meta_unref(file_meta_t *f); /* closes the reader at zero */

static inline slice_t file_smallest(const file_meta_t *f)
{
	return slice_make(f->smallest, f->smallest_len);
}

static inline slice_t file_largest(const file_meta_t *f)
{
	return slice_make(f->largest, f->largest_len);
}

typedef struct version {
	file_meta_t **files[NUM_LEVELS];
	int nfiles[NUM_LEVELS];
	uint64_t bytes[NUM_LEVELS]; /* sum of the file sizes per level (set by version_apply) */
	atomic_int refs;
} version_t;

version_t *version_new_empty(void);
void version_ref(version_t *v);
void version_unref(version_t *v); /* NULL is fine */

uint64_t version_level_bytes(const version_t *v, int level);

/* Newest version of tree_key with ts <= read_ts across the tables:
 * WB_ENOTFOUND or found()'s result, or an error reading a table.
 * REQUIRES: every file of v has its reader open. */
int version_get(version_t *v, slice_t tree_key, uint64_t read_ts, found_fn found, void *arg);

/* Appends to iters[*n] one iterator per L0 table and one per non-empty
 * deeper level (a level iterator holds a reference on v). REQUIRES: room
 * for NUM_LEVELS + v->nfiles[0] more; every file's reader open. WB_OK or
 * WB_ENOMEM (iterators already added stay for the caller to destroy). */
int version_add_iters(version_t *v, iter_t **iters, int *n);

/* ---- edits ---- */

typedef struct new_file {
	int level;
	file_meta_t *meta; /* one reference owned by the edit */
} new_file_t;

typedef struct deleted_file {
	int level;
	uint64_t number;
} deleted_file_t;

/* Bytes of a value-log segment that compaction found no longer referenced. */
typedef struct vlog_discard {
	uint64_t segment;
	uint64_t bytes;
} vlog_discard_t;

/* A value-log segment removed by its space reclaim, and the WAL that was
 * current then: replay of older WALs may meet pointers into it (versions
 * the reclaim had already replaced), so the MANIFEST remembers the segment
 * until every WAL at or below that number is gone. */
typedef struct vlog_deleted {
	uint64_t segment;
	uint64_t wal;
} vlog_deleted_t;

typedef struct version_edit {
	bool has_log_number, has_next_file, has_last_ts;
	uint64_t log_number; /* WALs older than this are flushed */
	uint64_t next_file;
	uint64_t last_ts;
	/* Written by wb_close as the MANIFEST's last edit: WAL clean_wal ends
	 * at clean_wal_size, and it, every older WAL and every value-log byte
	 * they point at were synced. Only in effect as the last edit. */
	bool has_clean_close;
	uint64_t clean_wal, clean_wal_size;
	new_file_t *added;
	int nadded, added_cap;
	deleted_file_t *deleted;
	int ndeleted, deleted_cap;
	vlog_discard_t *discards; /* one entry per segment, bytes to add */
	int ndiscards, discards_cap;
	uint64_t *segments; /* value-log segments that became live */
	int nsegments, segments_cap;
	vlog_deleted_t *dead_segments; /* value-log segments removed */
	int ndead_segments, dead_segments_cap;
} version_edit_t;

void edit_init(version_edit_t *e);
void edit_destroy(version_edit_t *e);
/* Takes a new reference on f. WB_OK or WB_ENOMEM. */
int edit_add_file(version_edit_t *e, int level, file_meta_t *f);
int edit_delete_file(version_edit_t *e, int level, uint64_t number);
/* Adds bytes to the segment's discard count in e. WB_OK or WB_ENOMEM. */
int edit_add_discard(version_edit_t *e, uint64_t segment, uint64_t bytes);

/* Records a live value-log segment / a removed one. WB_OK or WB_ENOMEM. */
int edit_add_segment(version_edit_t *e, uint64_t segment);
int edit_delete_segment(version_edit_t *e, uint64_t segment, uint64_t wal);

/* Encodes e into a malloc'ed buffer (*out, caller frees). WB_OK or WB_ENOMEM. */
int edit_encode(const version_edit_t *e, uint8_t **out, size_t *len);
/* Decodes rec into e (initialized by the call). WB_ECORRUPT on malformed input. */
int edit_decode(slice_t rec, version_edit_t *e);

/* A new version: base with e's deletions and additions. The file metas are
 * shared (referenced). WB_OK, WB_ENOMEM, WB_ECORRUPT (deleting a file that
 * is not there). */
int version_apply(const version_t *base, const version_edit_t *e, version_t **out);

#endif /* WB_VERSION_H */
