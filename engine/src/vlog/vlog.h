/*
 * vlog.h -- the value log: append-only NNNNNN.vlog segments holding the
 * values of at least value_threshold bytes (docs/format.md, "Value log").
 *
 * The LSM tree keeps a pointer (vptr.h) where such a value would be. The
 * write leader moves the large values of a commit group into the active
 * segment before it writes the group's WAL record, whose entries then carry
 * pointers: a value reaches the disk once. When the env can map files, it
 * stores small entries through a mapped window instead of appending them
 * (vlog.c, "storing through a map"). A streaming writer (writer.c)
 * fills a segment of its own. Every WAL sync first syncs the segments
 * written since their last sync (vlog_sync), so a synced WAL record never
 * points at bytes that could still be lost; replay checks each pointer
 * anyway (vlog_check_ptr) and stops at the first batch whose value did not
 * survive (db_open.c).
 *
 * The value log is a module with its own state and lock: vlog_init gives
 * it an env, a directory, its thresholds and two callbacks into its owner
 * (a new file number; wake space reclaim), and every call below up to
 * "vlog_gc.c" takes only the vlog_t, so it runs without a database
 * (tests/unit/test_vlog_module.c). Segments, with their open files, live
 * in vlog_t.segs, each reference counted, and the discard counts in
 * vlog_t.discards (vlog_discard.h). `vlog.mu` protects both and the
 * fields marked (vmu); it is taken after db->mu when both are held, never
 * held across I/O except where a function says so, and never held while
 * a callback runs. The leader alone appends to the active segment (like
 * the WAL); a streaming writer alone to its own.
 *
 * Space reclaim (vlog_gc.c) decides which segments are dead; a dead segment
 * is deleted once every snapshot taken before its live values were moved
 * has been released (db_snapshot_take numbers snapshots for this).
 */
#ifndef WB_VLOG_H
#define WB_VLOG_H

#include <pthread.h>
#include <stdatomic.h>

#include "util/coding.h"
#include "util/mapped.h"
#include "db/version.h"
#include "vlog/vlog_discard.h"
#include "vlog/vlog_entry.h"
#include "table/vptr.h"
#include "wombat.h"

typedef struct vlog_seg {
	uint64_t number;
	const wb_env *env;
	wb_env_file *file;         /* read (and append while writable) */
	_Atomic uint64_t size;     /* bytes appended: the valid end */
	_Atomic uint64_t synced;   /* bytes known durable */
	atomic_int refs;
	bool writable;             /* (vmu) may still grow: never reclaimed */
	bool streaming;            /* (vmu) owned by an uncommitted wb_writer */
	bool recorded;             /* (vmu) named in the MANIFEST */
	bool condemned;            /* (vmu) space reclaim is emptying it */
	bool busy;                 /* (vmu) a writer is committing into it: reclaim keeps off */
	bool damaged;              /* (vmu) wb_repair found damage: reclaim takes it, live or not */
	bool broken;               /* (leader) an append failed: use a new segment */
	uint64_t preallocated;     /* (leader) file blocks allocated up to here */
	mapped_t m;                /* (leader) written through a map when m.on (vlog.c) */
	char name[24];             /* "NNNNNN.vlog", for m's messages */
	uint64_t live;             /* (vmu) live bytes at the last reclaim scan; UINT64_MAX: unknown */
} vlog_seg_t;

/* A dead segment waiting for the snapshots that may still read it. */
typedef struct vlog_retired {
	vlog_seg_t *seg;
	uint64_t snap_seq; /* snapshots numbered <= this may hold pointers into it */
} vlog_retired_t;

/* What the value log is given at vlog_init: where its files are, its
 * thresholds, and the two things it asks of its owner. */
typedef struct vlog_config {
	const wb_env *env;         /* every file operation goes through it */
	const char *dir;           /* segments are dir/NNNNNN.vlog; must outlive the vlog */
	uint64_t value_threshold;  /* values of at least this many bytes move here; 0: none */
	uint64_t segment_size;     /* the active segment is sealed past this */
	/* A file number for a new segment, unique among the owner's files.
	 * Called without vmu, from the leader or a streaming writer. */
	uint64_t (*new_file_number)(void *arg);
	/* A segment was sealed: space reclaim may look (may be NULL). Called
	 * by the leader without vmu. */
	void (*wake_reclaim)(void *arg);
	void *arg;
} vlog_config_t;

typedef struct vlog {
	vlog_config_t cfg;         /* set at vlog_init, then read-only */
	pthread_mutex_t mu;
	vlog_seg_t **segs;         /* (vmu) live segments, ascending numbers */
	int nsegs, cap;
	vlog_seg_t *active;        /* (vmu to swap; leader appends) */
	uint8_t *leader_buf;       /* (leader) values on their way to the active segment */
	vlog_deleted_t *dead;      /* (vmu) removed segments WAL replay may still meet */
	int ndead, dead_cap;
	vlog_retired_t *retired;   /* (vmu) dead, waiting for readers */
	int nretired, retired_cap;
	int ncondemned;            /* (vmu) */
	uint64_t races;            /* (vmu) commits that added pointers into condemned segments */
	_Atomic uint64_t appended; /* bytes appended by the leader since open */
	_Atomic uint64_t reclaimed; /* bytes of segments deleted by reclaim since open */
	_Atomic uint64_t gc_runs, gc_rewritten, gc_skipped;
	/* Segments sealed since the last reclaim pass began: writers wait when
	 * reclaim falls this far behind (VLOG_GC_STALL), so disk use stays
	 * bounded under a sustained overwrite load. */
	_Atomic uint64_t sealed_since_gc;
	_Atomic uint64_t stall_micros;
	/* Tombstones committed since open: deletes make garbage without
	 * appending anything, so reclaim looks after them settle. */
	_Atomic uint64_t tombstones;
	/* (vmu) Value-log bytes compaction found unreferenced, per live
	 * segment; kept in the MANIFEST (vlog_discard_add). */
	discard_map_t discards;
} vlog_t;

#define VLOG_GC_STALL 4

struct wb_db;

/* An empty value log over cfg (copied; cfg->dir must outlive v): no
 * segment is opened until vlog_recover or vlog_create. Can't fail. */
void vlog_init(vlog_t *v, const vlog_config_t *cfg);
/* Closes every segment (nothing is deleted). */
void vlog_destroy(vlog_t *v);

/* "dir/NNNNNN.vlog" into buf: the one spelling of a segment's name. */
void vlog_segment_path(char *buf, size_t len, const char *dir, uint64_t number);

/* Takes a reference on segment `number`; NULL when it is not live. */
vlog_seg_t *vlog_get(vlog_t *v, uint64_t number);
void vlog_seg_unref(vlog_seg_t *s); /* closes the file at zero */

/* Creates a new segment file (header written, directory synced) and adds it
 * to the set, unrecorded. *out holds a reference. Errors from the env. */
int vlog_create(vlog_t *v, bool streaming, vlog_seg_t **out);

/* Appends to s (REQUIRES: the caller is its only appender). On failure s
 * is marked broken. */
int vlog_append(vlog_t *v, vlog_seg_t *s, const void *buf, size_t len);

/* Seals the active segment if it is segment `number`: no more appends go
 * to it (the next write starts a new one), so reclaim may take it.
 * REQUIRES: the caller leads the write queue (db_write_seal_vlog). */
void vlog_seal_active(vlog_t *v, uint64_t number);

/* The write leader's step: a copy of the WAL record rec in which every put
 * whose value has at least value_threshold bytes is replaced by a pointer
 * to that value, appended to the active segment (rotated at
 * vlog_segment_size). *out is malloc'ed (caller frees); NULL with *out_rec
 * = rec when nothing was moved. REQUIRES: the caller is the leader, mu not
 * held. Errors from the env, WB_ENOMEM; nothing referenced on error. */
int vlog_convert_record(vlog_t *v, slice_t rec, uint8_t **out, slice_t *out_rec);

/* Syncs every segment with bytes not yet durable (called before a WAL
 * sync). Errors from the env. */
int vlog_sync(vlog_t *v);

/* Reads len bytes at off of segment s; WB_ECORRUPT when it ends first. */
int vlog_read_at(vlog_t *v, vlog_seg_t *s, uint64_t off, void *buf, size_t len);
/* Reads up to len bytes of the value at p from offset off (no checksum
 * check: only the bytes asked for are read). *nread < len at the end. */
int vlog_read_range(vlog_t *v, const vptr_t *p, uint64_t off, void *buf, size_t len,
		    size_t *nread);

/* Reads the whole value at p into a malloc'ed buffer after checking the
 * entry's checksum and framing. *key (may be NULL) gets a malloc'ed copy
 * of the entry's tree key, *ts its timestamp. WB_ECORRUPT naming the
 * segment and offset; WB_ENOMEM; env errors. */
int vlog_read_value(vlog_t *v, const vptr_t *p, void **val, uint8_t **key, size_t *klen,
		    uint64_t *ts);

/* Checks the entry at p (framing and checksum) reading it in chunks, in
 * segment s. WB_OK or WB_ECORRUPT. */
int vlog_check_entry(vlog_t *v, vlog_seg_t *s, const vptr_t *p);

/* ---- discard accounting (vlog_discard.h), each call under vmu ---- */

/* Adds bytes to segment's discard count: a compaction's discards as its
 * edit is installed, or the MANIFEST's at open. WB_OK or WB_ENOMEM (the
 * count unchanged). */
int vlog_discard_add(vlog_t *v, uint64_t segment, uint64_t bytes);
/* The sum of every segment's discard count (the reclaim thread's hint). */
uint64_t vlog_discard_total(vlog_t *v);
/* Calls fn for each segment with a count, ascending, under vmu: fn must
 * not call back into the value log. */
void vlog_discard_each(vlog_t *v, void (*fn)(void *arg, int i, uint64_t segment, uint64_t bytes),
		       void *arg);
/* Adds to e (a MANIFEST snapshot) the count of every segment reclaim has
 * not removed. WB_OK or WB_ENOMEM. */
int vlog_discard_snapshot(vlog_t *v, version_edit_t *e);

/* ---- open, MANIFEST, verify ---- */

/* Opens the segments the MANIFEST names and remembers the dead ones.
 * WB_ECORRUPT when a named segment is missing or its header is bad; with
 * salvage != NULL (wb_repair) such a segment is left out instead and
 * salvage(arg, why) told. */
typedef void (*vlog_salvage_fn)(void *arg, const char *why);
int vlog_recover(vlog_t *v, const version_edit_t *state, vlog_salvage_fn salvage, void *arg);

/* During WAL replay: may the pointer p be installed? WB_OK when it points
 * at a complete entry whose checksum holds (opening an unrecorded segment
 * found on disk, e.g. a streamed value's) or into a segment reclaim removed
 * (such a version is already hidden by a newer one); WB_ENOTFOUND when its
 * bytes did not survive; other errors from the env. */
int vlog_check_ptr(vlog_t *v, const vptr_t *p);

/* Adds to e the segments not yet recorded (all live ones when snapshot)
 * and, for a snapshot, the dead ones WALs at or above log_number may still
 * name. *marked gets the numbers added (malloc'ed; caller passes them to
 * vlog_mark_recorded after the edit is durable, then frees). */
int vlog_manifest_add(vlog_t *v, version_edit_t *e, bool snapshot, uint64_t log_number,
		      uint64_t **marked, int *nmarked);
void vlog_mark_recorded(vlog_t *v, const uint64_t *numbers, int n);

/* Is `number` a live segment? (for the open-time sweep of orphan files) */
bool vlog_is_live(vlog_t *v, uint64_t number);
/* Was it removed by reclaim? (compaction discards are then dropped) */
bool vlog_is_dead(vlog_t *v, uint64_t number);

/* Removes an uncommitted stream's segment: out of the set, file deleted. */
void vlog_drop(vlog_t *v, vlog_seg_t *s);

/* Walks the entries of sealed segment s and checks each (what
 * vlog_verify does for every one). WB_OK or WB_ECORRUPT and env errors. */
int vlog_check_segment(vlog_t *v, vlog_seg_t *s);

/* Reads every entry of every live segment and checks it. */
int vlog_verify(vlog_t *v, void (*progress)(void *arg, const char *file), void *arg);

/* Text and JSON lines for the statistics (appended with the callers'
 * printf-like sink). */
typedef void (*vlog_sink_fn)(void *arg, const char *fmt, ...);
void vlog_stats(vlog_t *v, bool json, vlog_sink_fn sink, void *arg);

/* ---- vlog_gc.c ---- */

/* One reclaim pass (see vlog_gc.c). *reclaimed gets the bytes of the
 * segments deleted. REQUIRES: no lock held. */
int vlog_gc_run(struct wb_db *db, bool force, uint64_t *reclaimed);
/* Deletes the retired segments no snapshot can read any more. */
uint64_t vlog_delete_retired(struct wb_db *db);
/* The body of the "wb-vlog-gc" thread. */
void *vlog_gc_thread(void *arg);

#endif /* WB_VLOG_H */
