/*
 * filebuf.c -- memory or temporary-file buffer of a file's new contents
 * (filebuf.h).
 */
#include "filebuf.h"
#include "errmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void filebuf_init(filebuf *fb, const char *tmpdir, uint64_t spill_at)
{
	memset(fb, 0, sizeof(*fb));
	fb->fd = -1;
	fb->tmpdir = tmpdir;
	fb->spill_at = spill_at;
	fb->appends_only = true;
}

void filebuf_free(filebuf *fb)
{
	free(fb->mem);
	if (fb->fd >= 0)
		close(fb->fd);
	wb_writer_abort(fb->w);
	free(fb->wkey);
	fb->w = NULL;
	fb->wkey = NULL;
	fb->mem = NULL;
	fb->fd = -1;
	fb->size = fb->cap = 0;
}

/* errno for an engine error of the buffer's writer (errmap.h). */
static int writer_errno(const filebuf *fb, int rc)
{
	return errmap(rc, "stream", fb->wkey, fb->wklen);
}

bool filebuf_wants_stream(const filebuf *fb, uint64_t off, size_t len)
{
	return fb->w == NULL && fb->fd < 0 && fb->appends_only && off == fb->size &&
	       off + len > fb->spill_at;
}

int filebuf_stream(filebuf *fb, wb_writer *w, const uint8_t *key, size_t klen)
{
	fb->wkey = malloc(klen ? klen : 1);
	int rc = fb->wkey ? wb_writer_write(w, fb->mem ? fb->mem : (const uint8_t *)"",
					    (size_t)fb->size)
			  : WB_ENOMEM;
	if (rc != WB_OK) {
		wb_writer_abort(w);
		free(fb->wkey);
		fb->wkey = NULL;
		return errmap(rc, "stream", key, klen);
	}
	memcpy(fb->wkey, key, klen);
	fb->wklen = klen;
	fb->w = w;
	free(fb->mem);
	fb->mem = NULL;
	fb->cap = 0;
	return 0;
}

wb_writer *filebuf_take_writer(filebuf *fb)
{
	wb_writer *w = fb->w;
	fb->w = NULL;
	fb->size = 0;
	return w;
}

static int full_pwrite(int fd, const void *p, size_t n, uint64_t off)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

int filebuf_unstream(filebuf *fb)
{
	if (fb->w == NULL)
		return 0;
	int fd = open(fb->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	enum { CHUNK = 1 << 20 };
	uint8_t *chunk = malloc(CHUNK);
	int rc = chunk ? 0 : -ENOMEM;
	for (uint64_t off = 0; rc == 0 && off < fb->size;) {
		size_t got;
		int wrc = wb_writer_read(fb->w, off, chunk, CHUNK, &got);
		if (wrc != WB_OK || got == 0)
			rc = wrc != WB_OK ? writer_errno(fb, wrc) : -EIO;
		else
			rc = full_pwrite(fd, chunk, got, off);
		off += got;
	}
	free(chunk);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	wb_writer_abort(fb->w);
	free(fb->wkey);
	fb->w = NULL;
	fb->wkey = NULL;
	fb->fd = fd;
	fb->appends_only = false;
	return 0;
}

/* Moves the contents to a temporary file. */
static int spill(filebuf *fb)
{
	int fd = open(fb->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = full_pwrite(fd, fb->mem, (size_t)fb->size, 0);
	if (rc == 0 && ftruncate(fd, (off_t)fb->size) != 0)
		rc = -errno;
	if (rc != 0) {
		close(fd);
		return rc;
	}
	free(fb->mem);
	fb->mem = NULL;
	fb->cap = 0;
	fb->fd = fd;
	return 0;
}

/* Makes room in memory for end bytes, or spills when past the limit. */
static int reserve(filebuf *fb, uint64_t end)
{
	if (fb->fd >= 0 || end <= fb->cap)
		return 0;
	if (end > fb->spill_at)
		return spill(fb);
	size_t cap = fb->cap ? fb->cap : 4096;
	while (cap < end)
		cap *= 2;
	if (cap > fb->spill_at)
		cap = (size_t)fb->spill_at;
	uint8_t *m = realloc(fb->mem, cap);
	if (m == NULL)
		return -ENOMEM;
	memset(m + fb->cap, 0, cap - fb->cap); /* holes read as zeros */
	fb->mem = m;
	fb->cap = cap;
	return 0;
}

int filebuf_write(filebuf *fb, uint64_t off, const void *data, size_t len)
{
	uint64_t end = off + len;
	if (fb->w != NULL && off == fb->size) {
		int wrc = wb_writer_write(fb->w, data, len);
		if (wrc != WB_OK)
			return writer_errno(fb, wrc);
		fb->size = end;
		return 0;
	}
	int rc = filebuf_unstream(fb); /* anywhere but the end: into a file */
	if (rc != 0)
		return rc;
	if (off != fb->size)
		fb->appends_only = false;
	rc = reserve(fb, end);
	if (rc != 0)
		return rc;
	if (fb->fd >= 0)
		rc = full_pwrite(fb->fd, data, len, off);
	else
		memcpy(fb->mem + off, data, len);
	if (rc == 0 && end > fb->size)
		fb->size = end;
	return rc;
}

int filebuf_truncate(filebuf *fb, uint64_t size)
{
	if (fb->w != NULL && size == fb->size)
		return 0;
	int rc0 = filebuf_unstream(fb);
	if (rc0 != 0)
		return rc0;
	fb->appends_only = false;
	if (fb->fd >= 0) {
		if (ftruncate(fb->fd, (off_t)size) != 0)
			return -errno;
	} else if (size > fb->size) {
		int rc = reserve(fb, size);
		if (rc != 0)
			return rc;
		if (fb->fd >= 0 && ftruncate(fb->fd, (off_t)size) != 0)
			return -errno;
	} else if (size < fb->size) {
		memset(fb->mem + size, 0, (size_t)(fb->size - size)); /* regrowth reads zeros */
	}
	fb->size = size;
	return 0;
}

ssize_t filebuf_read(filebuf *fb, uint64_t off, void *buf, size_t len)
{
	if (off >= fb->size)
		return 0;
	if (len > fb->size - off)
		len = (size_t)(fb->size - off);
	if (fb->w != NULL) {
		size_t got;
		int wrc = wb_writer_read(fb->w, off, buf, len, &got);
		return wrc == WB_OK ? (ssize_t)got : writer_errno(fb, wrc);
	}
	if (fb->fd < 0) {
		memcpy(buf, fb->mem + off, len);
		return (ssize_t)len;
	}
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fb->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}
