/*
 * filebuf.h -- the contents of a file being written, until they are
 * committed to the store as one value.
 *
 * A file open for writing gets a buffer holding its whole new contents:
 * in memory while small, moved to an unnamed temporary file (O_TMPFILE in
 * the database directory, so nothing is left behind by a crash) past
 * `spill_at` bytes. Writes past the end leave a hole that reads as zeros.
 *
 * A file written front to back (cp, dd, tar, a shell redirect) need not be
 * kept at all: past spill_at the caller may hand the buffer an engine
 * streaming writer (filebuf_stream), and from then on the bytes go straight
 * into the value log, once. Reads are served back from the writer; a write
 * anywhere but the end, or a truncate, first copies what was streamed into
 * a temporary file (filebuf_unstream) and goes on from there.
 * The caller serializes access (the node's mutex).
 */
#ifndef WOMBATFS_FILEBUF_H
#define WOMBATFS_FILEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wombat.h"

typedef struct filebuf {
	uint8_t *mem;      /* contents while in memory */
	size_t cap;
	uint64_t size;     /* bytes of the file */
	int fd;            /* temporary file once spilled, else -1 */
	uint64_t spill_at; /* memory limit */
	const char *tmpdir;
	bool appends_only; /* every write so far ended at the end: it may stream */
	wb_writer *w;      /* streaming: every byte so far went to w */
	uint8_t *wkey;     /* the key w writes to */
	size_t wklen;
} filebuf;

void filebuf_init(filebuf *fb, const char *tmpdir, uint64_t spill_at);
void filebuf_free(filebuf *fb);

/* Whether a write of len bytes at off should start a stream: in memory,
 * written front to back so far, this one at the end and past spill_at. */
bool filebuf_wants_stream(const filebuf *fb, uint64_t off, size_t len);
/* Hands the buffer writer w for key (copied): what is in memory goes to it
 * now, and every later write at the end. On error w is aborted. */
int filebuf_stream(filebuf *fb, wb_writer *w, const uint8_t *key, size_t klen);
/* Ends a stream: what was streamed is copied into a temporary file and
 * the writer aborted. No-op unless streaming. */
int filebuf_unstream(filebuf *fb);
/* Takes the writer (the caller commits or aborts it); the buffer is empty
 * afterwards and must be freed. */
wb_writer *filebuf_take_writer(filebuf *fb);

/* Each returns 0 or a negative errno. */
int filebuf_write(filebuf *fb, uint64_t off, const void *data, size_t len);
int filebuf_truncate(filebuf *fb, uint64_t size);
/* Reads up to len bytes at off; returns the count (0 at or past the end)
 * or a negative errno. */
ssize_t filebuf_read(filebuf *fb, uint64_t off, void *buf, size_t len);

#endif /* WOMBATFS_FILEBUF_H */
