/*
 * log.h -- the record log: the file format of the write-ahead log and of the
 * MANIFEST (docs/format.md, "Record log").
 *
 * A log is a sequence of 32 KiB blocks. A record is split into fragments
 * that never cross a block boundary; each fragment has a 7-byte header:
 * masked CRC32C (u32) of type byte + payload, payload length (u16), type
 * (u8: FULL, FIRST, MIDDLE, LAST). A block tail too short for a header is
 * zero padding. The first record of every log is its file header: magic,
 * format version and the kind of log.
 *
 * Why blocks: after a bad fragment the reader can look at the start of every
 * later block. If one of them holds a valid fragment, the damage is in the
 * middle of the file (corruption: an error); if none does, it is a torn
 * tail left by a crash during the last write, which is dropped, because
 * nothing after it was ever acknowledged as synced.
 *
 * A WAL writer stores its records through a map when the env can (mapped.h,
 * log.c store_fragments): the file then holds zeros past its data until
 * it is closed, which read as a torn tail.
 *
 * A writer belongs to one thread at a time (the write leader); log_writer_sync
 * may run concurrently with log_writer_add from another thread. A reader
 * belongs to one thread.
 */
#ifndef WB_LOG_H
#define WB_LOG_H

#include "util/coding.h"
#include "wombat.h"

#define LOG_BLOCK_SIZE 32768
#define LOG_HEADER_SIZE 7
#define LOG_MAGIC 0x474f4c54424d5700ull /* never change: on-disk */
#define LOG_FORMAT_VERSION 1            /* never renumber: on-disk */

/* Kinds of log, stored in the file header. Never renumber: on-disk. */
enum log_kind {
	LOG_KIND_WAL = 1,
	LOG_KIND_MANIFEST = 2,
};

typedef struct log_writer log_writer_t;

/* Creates path (truncating) and writes the file header (not synced).
 * Errors from the env. */
int log_writer_create(const wb_env *env, const char *path, enum log_kind kind,
		      log_writer_t **out);

/* Appends one record with a single env append. On failure the file is
 * truncated back to where it was, so a failed record leaves no trace; if
 * even that fails the writer is broken and every later call fails.
 * Errors: WB_EIO, WB_ENOSPC, WB_ENOMEM. */
int log_writer_add(log_writer_t *w, slice_t record);

/* Makes everything added so far durable. Thread-safe against add. */
int log_writer_sync(log_writer_t *w);

/* Bytes of records in the file (zeros written ahead not counted). */
uint64_t log_writer_size(const log_writer_t *w);

/* Closes the file (without syncing) and frees w. NULL is fine. */
int log_writer_close(log_writer_t *w);

typedef struct log_reader log_reader_t;

/* Opens path and checks the file header (WB_EFORMAT when it is not a log of
 * this kind or version; WB_ENOTFOUND when missing). An empty file, or one
 * whose first block holds only a prefix of the header and zeros (torn right
 * after creation), opens as a log with no records. WB_ECORRUPT when the
 * header is damaged and valid fragments follow. */
int log_reader_open(const wb_env *env, const char *path, enum log_kind kind,
		    log_reader_t **out);

/* Reads the next record. *rec is valid until the next call.
 * Returns WB_OK, WB_ENOTFOUND at the end (including a dropped torn tail:
 * see log_reader_torn), WB_ECORRUPT for damage in the middle of the file
 * (wb_errmsg names the file and the offset of the damaged fragment; every
 * later call returns WB_ECORRUPT again), WB_EIO, WB_ENOMEM. */
int log_reader_next(log_reader_t *r, slice_t *rec);

/* After the end: true when a torn tail was dropped; *offset is where the
 * valid data ends. */
bool log_reader_torn(const log_reader_t *r, uint64_t *offset);

/* After WB_ECORRUPT, for a salvage: skips to the next block that starts a
 * record, so the records after the damage can be read; *from and *to say
 * what was skipped (to the end of the file when nothing follows: then
 * WB_ENOTFOUND). Errors: WB_EIO. */
int log_reader_resync(log_reader_t *r, uint64_t *from, uint64_t *to);

/* After the end: true when nothing but zeros follows the last good record
 * (or nothing at all): space a writer prepared and never used (mapped.h),
 * which a clean end and a crash both leave. A torn tail that is not zero
 * holds a partial or damaged fragment. Reads the tail; false on a read
 * error. */
bool log_reader_zero_tail(log_reader_t *r);

/* The file's size when it was opened. */
uint64_t log_reader_file_size(const log_reader_t *r);

void log_reader_close(log_reader_t *r); /* NULL is fine */

#endif /* WB_LOG_H */
