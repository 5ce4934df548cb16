/*
 * writer.c -- the streaming writer (wb_writer_*): a value of any size
 * written in pieces, with bounded memory, into a value-log segment of its
 * own (docs/format.md, "Value log": a streamed entry).
 *
 * begin creates the segment and writes the entry header with the length
 * "streamed" (not known yet); write frames the value into checksummed
 * blocks (vblock.h) in a buffer of WRITE_BUF_BLOCKS whole blocks, appended
 * when full, so the file always holds whole blocks and at most one
 * buffer's worth is held; commit appends the last partial block's
 * checksum, the key and the trailer (the real length and the entry's
 * checksum), then commits
 * a batch holding the pointer (plus the caller's batch) through the normal
 * write path, where the sync policy applies: the segment is synced before
 * the WAL that points into it. Until commit the segment is "streaming":
 * no sync, no reclaim, and a crash leaves it unnamed by any MANIFEST edit
 * or WAL record, so the next open deletes it. A writer belongs to one
 * thread.
 *
 * Write-behind: the bytes go through the page cache and are synced only at
 * commit. With memory to spare the kernel would keep all of a multi-GiB
 * value dirty and write it out during commit's sync, after the copying is
 * over: the two would add up, and the dirty pages would count against the
 * whole machine's dirty limit, where other writers' pages get us throttled.
 * So every WRITE_BEHIND bytes the writer asks the env to start writing back
 * what it appended since the last time, and it waits for the bytes more
 * than WRITE_BEHIND_LAG behind the end: the disk works while the caller
 * produces, at most about WRITE_BEHIND_LAG + WRITE_BEHIND bytes of the
 * stream are waiting for the disk, and commit's sync has little left to do.
 * Waiting closer behind starves the disk of requests (measured: a virtio
 * disk wants many in flight). Durability is unchanged: only commit's sync
 * promises it.
 */
#include <stdlib.h>

#include "db/batch.h"
#include "util/crc32c.h"
#include "db/db_impl.h"
#include "util/error.h"
#include "table/ikey.h"
#include "vlog/vblock.h"
#include "vlog/vlog.h"

#define WRITE_BUF_BLOCKS 256u /* ~1 MiB */
#define WRITE_BUF (WRITE_BUF_BLOCKS * VBLOCK_STRIDE)
#define WRITE_BEHIND (16u << 20)
#define WRITE_BEHIND_LAG (128u << 20)

struct wb_writer {
	wb_db *db;
	vlog_seg_t *seg;
	uint8_t *tree_key;
	size_t tk_len;
	uint64_t vlen;
	vblock_enc_t enc; /* the value's blocks; enc.sum runs from the header */
	uint8_t *buf; /* framed blocks not yet appended; starts at a block boundary */
	size_t blen;
	uint64_t wb_started; /* segment offset up to which writeback was started */
	uint64_t wb_waited;  /* ...and up to which it is known done */
	int error;    /* sticky */
};

static void writer_free(wb_writer *w, bool drop)
{
	if (w->seg != NULL) {
		if (drop)
			vlog_drop(&w->db->vlog, w->seg);
		vlog_seg_unref(w->seg);
	}
	free(w->tree_key);
	free(w->buf);
	free(w);
}

int wb_writer_begin(wb_db *db, const void *key, size_t klen, wb_writer **out)
{
	err_clear();
	*out = NULL;
	if (batch_check_key(klen) != WB_OK)
		return err_set(WB_EINVAL, "key length %zu is outside 1..%u", klen, WB_MAX_KEY_LEN);
	if (db->opts.read_only)
		return WB_EREADONLY;
	/* Its commit would be refused too (bgerror.h): fail before the bytes
	 * are written, not after. */
	int rc = bgerror_check(&db->bg, false);
	if (rc != WB_OK)
		return rc;
	wb_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return WB_ENOMEM;
	w->db = db;
	w->tk_len = klen + 1;
	w->tree_key = malloc(w->tk_len);
	w->buf = malloc(WRITE_BUF);
	if (w->tree_key == NULL || w->buf == NULL) {
		writer_free(w, false);
		return WB_ENOMEM;
	}
	w->tree_key[0] = KS_USER;
	memcpy(w->tree_key + 1, key, klen);
	rc = vlog_create(&db->vlog, true, &w->seg);
	if (rc != WB_OK) {
		writer_free(w, false);
		return rc;
	}
	pthread_mutex_lock(&db->vlog.mu);
	w->seg->busy = true;
	pthread_mutex_unlock(&db->vlog.mu);
	uint8_t h[VLOG_ENTRY_HEADER];
	vlog_encode_header(h, (uint32_t)w->tk_len, VLOG_STREAMED, hlc_next(&db->clock));
	vblock_enc_init(&w->enc, crc32c(h, sizeof(h)));
	rc = vlog_append(&db->vlog, w->seg, h, sizeof(h));
	if (rc != WB_OK) {
		writer_free(w, true);
		return rc;
	}
	*out = w;
	return WB_OK;
}

/* Called after each append (see the top of the file). An error means some
 * appended bytes may be lost without commit's sync noticing: the writer
 * must fail. */
static int write_behind(wb_writer *w)
{
	const wb_env *env = w->db->env;
	uint64_t end = atomic_load(&w->seg->size);
	if (env->writeback == NULL || end - w->wb_started < WRITE_BEHIND)
		return WB_OK;
	uint64_t from = w->wb_started;
	int rc = env->writeback(w->seg->file, from, end - from, 0);
	w->wb_started = end;
	if (rc == WB_OK && end - w->wb_waited > WRITE_BEHIND_LAG + WRITE_BEHIND) {
		from = w->wb_waited;
		w->wb_waited = end - WRITE_BEHIND_LAG;
		rc = env->writeback(w->seg->file, from, w->wb_waited - from, 1);
	}
	if (rc != WB_OK)
		return err_set(rc, "%06llu.vlog offset %llu: writeback failed: %s",
			       (unsigned long long)w->seg->number, (unsigned long long)from,
			       wb_strerror(rc));
	return WB_OK;
}

static int flush_buf(wb_writer *w)
{
	if (w->blen == 0)
		return WB_OK;
	int rc = vlog_append(&w->db->vlog, w->seg, w->buf, w->blen);
	w->blen = 0;
	return rc == WB_OK ? write_behind(w) : rc;
}

int wb_writer_write(wb_writer *w, const void *buf, size_t len)
{
	err_clear();
	if (w->error != WB_OK)
		return w->error;
	if (len > WB_MAX_STREAM_LEN - w->vlen)
		return w->error = err_set(WB_EINVAL, "streamed value over %llu bytes",
					  (unsigned long long)WB_MAX_STREAM_LEN);
	const uint8_t *p = buf;
	int rc = WB_OK;
	while (rc == WB_OK && len > 0) {
		size_t out;
		size_t n = vblock_enc_add(&w->enc, p, len, w->buf + w->blen, WRITE_BUF - w->blen, &out);
		w->blen += out;
		w->vlen += n;
		p += n;
		len -= n;
		/* The buffer holds whole strides from a block boundary, so it
		 * fills exactly at a block's end. */
		if (w->blen == WRITE_BUF)
			rc = flush_buf(w);
	}
	if (rc != WB_OK)
		w->error = rc;
	return rc;
}

uint64_t wb_writer_size(const wb_writer *w)
{
	return w->vlen;
}

int wb_writer_read(wb_writer *w, uint64_t off, void *buf, size_t len, size_t *nread)
{
	err_clear();
	*nread = 0;
	if (off >= w->vlen)
		return WB_OK;
	if (len > w->vlen - off)
		len = (size_t)(w->vlen - off);
	/* The file holds whole blocks of the first on_disk bytes (checked as
	 * any value's are); the rest is in buf, framed the same way. */
	uint64_t stored_disk = atomic_load(&w->seg->size) - VLOG_HEADER_SIZE - VLOG_ENTRY_HEADER;
	uint64_t on_disk = stored_disk / VBLOCK_STRIDE * VBLOCK_SIZE;
	size_t done = 0;
	if (off < on_disk) {
		/* A pointer to the blocks on disk as if they were a whole value;
		 * the key part of its length is never read. */
		vptr_t p = { w->seg->number, VLOG_HEADER_SIZE, vlog_entry_len(2, on_disk), on_disk };
		vlog_source_t src = { w->db->env, w->seg->file, w->seg->number, UINT64_MAX };
		size_t n = off + len <= on_disk ? len : (size_t)(on_disk - off);
		int rc = vlog_entry_read_range(&src, &p, off, buf, n, &done);
		if (rc != WB_OK)
			return rc;
	}
	for (uint64_t i = off + done; i < off + len;) {
		uint64_t in_block = i % VBLOCK_SIZE;
		size_t n = VBLOCK_SIZE - in_block < off + len - i ? (size_t)(VBLOCK_SIZE - in_block)
								   : (size_t)(off + len - i);
		memcpy((uint8_t *)buf + (i - off), w->buf + (vblock_pos(i) - stored_disk), n);
		i += n;
	}
	*nread = len;
	return WB_OK;
}

int wb_writer_commit(wb_writer *w, wb_batch *with)
{
	err_clear();
	wb_db *db = w->db;
	int rc = w->error;
	if (rc == WB_OK && with != NULL && with->error != WB_OK)
		rc = with->error;
	if (rc == WB_OK) {
		w->blen += vblock_enc_finish(&w->enc, w->buf + w->blen); /* buf has room: never full here */
		rc = flush_buf(w);
	}
	uint8_t t[VLOG_ENTRY_TRAILER];
	vlog_encode_trailer(t, w->vlen, crc32c_extend(w->enc.sum, w->tree_key, w->tk_len));
	if (rc == WB_OK)
		rc = vlog_append(&db->vlog, w->seg, w->tree_key, w->tk_len);
	if (rc == WB_OK)
		rc = vlog_append(&db->vlog, w->seg, t, sizeof(t));
	if (rc != WB_OK) {
		writer_free(w, true);
		return rc;
	}
	vptr_t p = { w->seg->number, VLOG_HEADER_SIZE, vlog_entry_len(w->tk_len, w->vlen), w->vlen };
	uint8_t enc[VPTR_MAX_LEN];
	size_t n = vptr_encode(enc, &p);

	/* One batch: the caller's entries, then the pointer. */
	wb_batch b = { 0 };
	size_t need = (with ? with->len : BATCH_HEADER_SIZE) + 1 + 2 * VARINT64_MAX + w->tk_len + n;
	b.rep = malloc(need);
	if (b.rep == NULL) {
		writer_free(w, true);
		return WB_ENOMEM;
	}
	b.cap = need;
	if (with != NULL) {
		memcpy(b.rep, with->rep, with->len);
		b.len = with->len;
	} else {
		memset(b.rep, 0, BATCH_HEADER_SIZE);
		b.len = BATCH_HEADER_SIZE;
	}
	rc = batch_add(&b, META_VALUE_PTR, KS_USER, slice_make(w->tree_key + 1, w->tk_len - 1),
		       slice_make(enc, n));
	/* No longer streaming: the next WAL sync covers it. Still busy, so
	 * reclaim does not take it for garbage before the pointer is in. */
	pthread_mutex_lock(&db->vlog.mu);
	w->seg->streaming = false;
	w->seg->writable = false;
	pthread_mutex_unlock(&db->vlog.mu);
	if (rc == WB_OK)
		rc = db_write_batch(db, &b, false);
	free(b.rep);
	pthread_mutex_lock(&db->vlog.mu);
	w->seg->busy = false;
	pthread_mutex_unlock(&db->vlog.mu);
	if (rc == WB_OK) {
		STAT_ADD(db, puts, 1);
		STAT_ADD(db, bytes_written, w->tk_len - 1 + w->vlen);
		atomic_fetch_add(&db->vlog.appended, p.length);
	}
	/* On failure the segment may or may not be named by the WAL: it stays,
	 * and reclaim (or the next open) removes it if nothing points at it. */
	writer_free(w, false);
	return rc;
}

void wb_writer_abort(wb_writer *w)
{
	if (w != NULL)
		writer_free(w, true);
}
