/*
 * mapped.h -- appending to a file through a shared memory map: the file is
 * extended with zeros ahead of its data, and data is copied into a mapped
 * window of it. The value log's active segment and the WAL are written
 * this way when the env can map files (wb_env.map).
 *
 * Why: a small append costs the kernel about 1-3 us per write(2) on ext4
 * (page-cache lookup, buffer heads, block reservation, dirtying), most of
 * a small put's time. Zeros appended MAPPED_PREPARE bytes at a time (one
 * big write, cheap per byte, and a full disk is reported before any byte
 * is stored in the range) and a memcpy into the map cost a fraction of
 * that. Stored bytes are in the page cache at once, so like appended ones
 * they survive a crash of the process; the file's fdatasync makes them
 * durable. Finishing trims the zeros; after a crash they stay past the
 * data, and each format says how its reader takes them for the end
 * (docs/format.md).
 *
 * What a crash of the process leaves of a store in progress is any subset
 * of its bytes (memcpy picks its own order); a store that has returned is
 * whole, and stores land in the order they were made. Writers that need a
 * record to appear whole or not at all store its commit field last.
 *
 * The price of a map: a fault the kernel cannot serve (a page it must read
 * back from a failing disk) is SIGBUS, not an error code. Only pages
 * written moments ago are touched, which are in memory unless evicted
 * since, so it takes a disk error and memory pressure at once; LMDB's and
 * LevelDB's early mapped writers accepted the same. On copy-on-write file
 * systems (btrfs, ZFS, bcachefs) writing a page through a map allocates
 * new space, and a full disk there would be SIGBUS too: the posix env
 * does not map files on them.
 *
 * A mapped_t belongs to one thread at a time (its file's appender).
 */
#ifndef WB_MAPPED_H
#define WB_MAPPED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wombat.h"

#define MAPPED_WINDOW (4u << 20) /* bytes mapped at a time */
#define MAPPED_PREPARE (1u << 20) /* zeros appended ahead at a time */

typedef struct mapped {
	const wb_env *env;
	wb_env_file *file;
	const char *name;   /* for messages; the caller's, outlives this */
	uint64_t limit;     /* zeros are not prepared past it (unless needed) */
	uint8_t *map;       /* the window, or NULL */
	uint64_t map_off;   /* file offset of map[0] */
	uint64_t prepared;  /* the file's size: zeros past the data up to here */
	uint64_t allocated; /* blocks allocated ahead of big appends up to here */
	bool on;            /* in use (else the caller appends) */
	/* Any thread (mapped_note_sync): */
	_Atomic uint64_t synced_at; /* data bytes at the last sync */
	atomic_int quick_syncs;     /* syncs less than MAPPED_SYNC_BYTES apart */
} mapped_t;

/* An fdatasync after stores through a map costs about twice one after a
 * write(2) (ext4, Linux 6.18: 3 900 against 8 400 synced 60-byte records
 * a second), so a file synced often is better appended: after
 * MAPPED_QUICK_SYNCS syncs less than MAPPED_SYNC_BYTES apart,
 * mapped_synced_often says so and the writer finishes map mode. */
#define MAPPED_SYNC_BYTES (64u << 10)
#define MAPPED_QUICK_SYNCS 4

/* Starts mapped writing of f, opened for appending, whose data ends at
 * `end` (its size). m must have been zeroed once (calloc) before any
 * mapped_note_sync. Leaves m off -- the caller appends as before -- when
 * the env has no map or it fails here; never an error. */
void mapped_start(mapped_t *m, const wb_env *env, wb_env_file *f, const char *name, uint64_t end,
		  uint64_t limit);

/* Makes the file hold more than `end` bytes (at least one zero past it),
 * and MAPPED_PREPARE more when the disk and the limit allow. Errors from
 * the env (a full disk), with a message naming m->name. */
int mapped_prepare(mapped_t *m, uint64_t end);

/* Copies len bytes to [off, off + len), which must be prepared. */
int mapped_store(mapped_t *m, uint64_t off, const void *buf, size_t len);

/* Writes len bytes at off, the end of the data so far, the big way: what
 * is prepared is filled and the rest appended into blocks allocated ahead
 * (a big write(2) is cheap per byte; zeros to overwrite are not). */
int mapped_append(mapped_t *m, uint64_t off, const void *buf, size_t len);

/* Records a sync of the file after its first `size` bytes of data were
 * written. Thread-safe. */
void mapped_note_sync(mapped_t *m, uint64_t size);

/* Is the file synced so often that appending would serve it better? */
bool mapped_synced_often(const mapped_t *m);

/* Ends mapped writing: the window unmapped, the file cut back to `end`
 * (zeros, or bytes stored past end that must go). m is off after. Returns
 * the truncate's result: a caller that goes on appending must not when it
 * failed (its appends would land past the zeros); one that only trims
 * zeros may ignore it, every reader allows them. */
int mapped_finish(mapped_t *m, uint64_t end);

#endif
