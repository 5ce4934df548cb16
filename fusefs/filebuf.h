/*
 * filebuf.h -- the contents of a file being written, until they are
 * committed to the store as one value.
 *
 * A file open for writing gets a buffer holding its whole new contents:
 * in memory while small, moved to an unnamed temporary file (O_TMPFILE in
 * the database directory, so nothing is left behind by a crash) past
 * `spill_at` bytes. Writes past the end leave a hole that reads as zeros.
 * The caller serializes access (the node's mutex).
 */
#ifndef WOMBATFS_FILEBUF_H
#define WOMBATFS_FILEBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct filebuf {
	uint8_t *mem;      /* contents while in memory */
	size_t cap;
	uint64_t size;     /* bytes of the file */
	int fd;            /* temporary file once spilled, else -1 */
	uint64_t spill_at; /* memory limit */
	const char *tmpdir;
} filebuf;

void filebuf_init(filebuf *fb, const char *tmpdir, uint64_t spill_at);
void filebuf_free(filebuf *fb);

/* Each returns 0 or a negative errno. */
int filebuf_write(filebuf *fb, uint64_t off, const void *data, size_t len);
int filebuf_truncate(filebuf *fb, uint64_t size);
/* Reads up to len bytes at off; returns the count (0 at or past the end)
 * or a negative errno. */
ssize_t filebuf_read(filebuf *fb, uint64_t off, void *buf, size_t len);

#endif /* WOMBATFS_FILEBUF_H */
