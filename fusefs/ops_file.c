/*
 * ops_file.c -- file contents and attributes: create, open, read, write,
 * flush, fsync, release, setattr (fs.h).
 *
 * Reads of a file nobody is writing go straight to the store and fetch
 * only the bytes asked for. A file created, or opened with O_TRUNC, gets a
 * buffer with its whole new contents (filebuf.h); an existing file written
 * gets a patch (filepatch.h): only the ranges written, laid over the
 * committed contents when read. Either is shared by every handle of the
 * file, so reads through the mount see writes at once, as on a local disk.
 * It is committed at flush (every close), fsync and release, and when a
 * patch holds PATCH_CAP bytes: a buffer as one put, a patch as one
 * transaction of range writes (wb_txn_write_at: the store rewrites only
 * the chunks the changes touch), each with the attribute record when the
 * file has one. A commit is atomic: after a crash the file is as one
 * commit left it, never part of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

#define LOAD_CHUNK (1u << 20)
/* Dirty bytes a patch holds before a write commits it. */
#define PATCH_CAP (32u << 20)
/* Commits of a patch that meet a conflict (value-log reclaim rewrote a
 * chunk meanwhile) before giving up. */
#define PATCH_TRIES 8

/* n's buffer or patch changed now (n->mu held): ext4 moves mtime and
 * ctime at the write, so a stat before the commit shows the time too. */
static void mark_dirty(fs_node *n)
{
	n->dirty = true;
	n->write_ns = attr_now_ns();
}

/* The time a commit stamps on n's record: its last write's (n->mu held). */
static int64_t commit_time(const fs_node *n)
{
	return n->write_ns ? n->write_ns : attr_now_ns();
}

static bool writable(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY;
}

static filebuf *buf_new(fs_t *fs)
{
	filebuf *fb = malloc(sizeof(*fb));
	if (fb)
		filebuf_init(fb, fs->dbdir, fs->spill_at);
	return fb;
}

/* Reads the committed contents of key into a new buffer (*out) and tells
 * which version it read (*ts, 0: none). Takes no lock: a version that
 * changes meanwhile is the caller's to notice. */
static int load_buf(fs_t *fs, const uint8_t *key, size_t klen, filebuf **out, uint64_t *ts)
{
	filebuf *fb = buf_new(fs);
	if (fb == NULL)
		return -ENOMEM;
	wb_key_info ki = { 0 };
	int rc = wb_stat_key(fs->db, key, klen, &ki);
	if (rc == WB_ENOTFOUND)
		rc = WB_OK;
	*ts = ki.ts;
	uint8_t *chunk = ki.value_len ? malloc(LOAD_CHUNK) : NULL;
	if (rc == WB_OK && ki.value_len && chunk == NULL)
		rc = WB_ENOMEM;
	int err = rc == WB_OK ? 0 : errmap(rc, "read", key, klen);
	for (uint64_t off = 0; err == 0 && off < ki.value_len;) {
		size_t got;
		rc = wb_get_range(fs->db, key, klen, off, chunk, LOAD_CHUNK, &got);
		if (rc != WB_OK)
			err = errmap(rc, "read", key, klen);
		else if (got == 0)
			break; /* changed meanwhile: the version tells */
		else
			err = filebuf_write(fb, off, chunk, got);
		off += got;
	}
	free(chunk);
	if (err != 0) {
		filebuf_free(fb);
		free(fb);
		return err;
	}
	*out = fb;
	return 0;
}

int file_load_locked(fs_t *fs, fs_node *n, const uint8_t *key, size_t klen)
{
	uint64_t ts;
	int rc = load_buf(fs, key, klen, &n->buf, &ts);
	filepatch *p = n->patch;
	if (rc != 0 || p == NULL)
		return rc;
	/* The patch's changes go into the buffer, which replaces it. */
	rc = filebuf_truncate(n->buf, p->keep);
	for (size_t i = 0; rc == 0 && i < p->n; i++)
		rc = filebuf_write(n->buf, p->ext[i].off, p->ext[i].data, p->ext[i].len);
	if (rc == 0)
		rc = filebuf_truncate(n->buf, p->size);
	if (rc != 0) {
		filebuf_free(n->buf);
		free(n->buf);
		n->buf = NULL;
		return rc;
	}
	filepatch_free(p);
	free(p);
	n->patch = NULL;
	n->read_gen++;
	return 0;
}

/* Whether n's key is key (ns_mu or tab_mu held). */
static bool has_key(const fs_node *n, const uint8_t *key, size_t klen)
{
	return n->klen == klen && memcmp(n->key, key, klen) == 0;
}

/* How often a load or a commit runs unlocked and finds its key renamed or
 * rewritten meanwhile before its last try holds ns_mu throughout, so that
 * a stream of renames cannot starve it. */
#define UNLOCKED_TRIES 3

/* Whether committing fb to key means copying its bytes into a new
 * value-log stream: it is in a temporary file, or streams to another key
 * (the file was renamed while open). */
static bool needs_copy(const filebuf *fb, const uint8_t *key, size_t klen)
{
	return fb->fd >= 0 ||
	       (fb->w != NULL && (fb->wklen != klen || memcmp(fb->wkey, key, klen) != 0));
}

/* Copies fb into a new value-log writer for key (*out), a chunk at a
 * time, so memory stays at one chunk whatever the file's size. Runs
 * without ns_mu: the caller's commit_mu keeps fb from changing, and reads
 * that share it only read. */
static int copy_to_writer(fs_t *fs, filebuf *fb, const uint8_t *key, size_t klen, wb_writer **out)
{
	wb_writer *w;
	int rc = wb_writer_begin(fs->db, key, klen, &w);
	if (rc != WB_OK)
		return errmap(rc, "write", key, klen);
	uint8_t *chunk = malloc(LOAD_CHUNK);
	int err = chunk ? 0 : -ENOMEM;
	for (uint64_t off = 0; err == 0 && off < fb->size;) {
		ssize_t got = filebuf_read(fb, off, chunk, LOAD_CHUNK);
		if (got <= 0) {
			err = got < 0 ? (int)got : -EIO;
			break;
		}
		rc = wb_writer_write(w, chunk, (size_t)got);
		if (rc != WB_OK)
			err = errmap(rc, "write", key, klen);
		off += (uint64_t)got;
	}
	free(chunk);
	if (err != 0) {
		wb_writer_abort(w);
		return err;
	}
	*out = w;
	return 0;
}

/* The step of a commit under ns_mu and n->mu, at n->key: one atomic write
 * of the contents with the attribute record (when the file has one) and
 * its new times. The contents are *w when the caller copied them (taken
 * whatever the result), else the buffer's own stream to this key (the
 * buffer is spent either way), else the buffer in memory (at most
 * spill_at bytes; the engine sends a large value to the value log). */
static int commit_locked(fs_t *fs, fs_node *n, wb_writer **w)
{
	wb_batch *b;
	if (wb_batch_new(&b) != WB_OK)
		return -ENOMEM;
	int rc = 0;
	fs_attr a;
	bool found = false;
	if (key_has_meta(n->key, n->klen, n->dir))
		rc = store_get_attr(fs, n->key, n->klen, &a, &found);
	if (rc == 0 && found) {
		a.mtime_ns = a.ctime_ns = commit_time(n);
		rc = store_put_attr(fs, b, n->key, n->klen, &a, NULL, 0);
	}
	/* Whole new contents replace what the key held: an object (a file
	 * once written in place) gives its chunks back. */
	if (rc == 0 && !n->fresh)
		rc = errmap(wb_batch_unlink(fs->db, b, n->key, n->klen), "write", n->key, n->klen);
	filebuf *fb = n->buf;
	if (rc == 0 && *w != NULL) {
		rc = errmap(wb_writer_commit(*w, b), "write", n->key, n->klen);
		*w = NULL;
	} else if (rc == 0 && fb->w != NULL) {
		rc = errmap(wb_writer_commit(filebuf_take_writer(fb), b), "write", n->key, n->klen);
		filebuf_free(fb);
		free(fb);
		n->buf = NULL;
		n->dirty = false;
	} else if (rc == 0) {
		const void *data = fb->mem ? fb->mem : (const void *)"";
		rc = errmap(wb_batch_put(b, n->key, n->klen, data, (size_t)fb->size), "write",
			    n->key, n->klen);
		if (rc == 0)
			rc = errmap(wb_write(fs->db, b), "write", n->key, n->klen);
	}
	wb_batch_free(b);
	if (rc == 0) {
		n->dirty = false;
		n->write_ns = 0;
		n->cache_ts = 0;
		/* The store has it all now: later writes go into a patch, so a
		 * file kept open (a database) is not rewritten whole at each
		 * fsync. */
		if (n->buf != NULL) {
			filebuf_free(n->buf);
			free(n->buf);
			n->buf = NULL;
			n->read_gen++;
		}
	}
	return rc;
}

/* The patch's changes to key in transaction t: the cut, the ranges, then
 * the length when the file was extended without writing. */
static int apply_patch(fs_t *fs, wb_txn *t, const filepatch *p, const uint8_t *key, size_t klen,
		       int64_t mtime_ns)
{
	int rc = WB_OK;
	uint64_t end = p->keep;
	if (p->keep < p->base)
		rc = wb_txn_truncate(t, key, klen, p->keep);
	for (size_t i = 0; rc == WB_OK && i < p->n; i++) {
		rc = wb_txn_write_at(t, key, klen, p->ext[i].off, p->ext[i].data, p->ext[i].len);
		if (p->ext[i].off + p->ext[i].len > end)
			end = p->ext[i].off + p->ext[i].len;
	}
	if (rc == WB_OK && p->size > end) {
		rc = wb_txn_truncate(t, key, klen, p->size);
		if (rc == WB_ENOTFOUND) /* no value yet: make one of that length */
			rc = wb_txn_write_at(t, key, klen, p->size - 1, "", 1);
	}
	int err = rc == WB_OK ? 0 : errmap(rc, "write", key, klen);
	fs_attr a;
	bool found = false;
	if (err == 0 && key_has_meta(key, klen, false))
		err = store_get_attr(fs, key, klen, &a, &found);
	if (err == 0 && found) {
		a.mtime_ns = a.ctime_ns = mtime_ns;
		err = store_put_attr_txn(fs, t, key, klen, &a, NULL, 0);
	}
	return err;
}

/* file_commit for a node with a patch: the changes are written into a
 * transaction unlocked (reading the chunks they touch), then committed
 * under ns_mu if the node still has the key they were made for. */
static int commit_patch(fs_t *fs, fs_node *n)
{
	for (int attempt = 0;; attempt++) {
		size_t klen;
		uint8_t *key = inode_key(fs, n, NULL, 0, &klen);
		if (key == NULL)
			return -ENOMEM;
		if (inode_unlinked(fs, n)) { /* its contents went to a buffer */
			free(key);
			return 0;
		}
		/* Only commit_mu holders change the patch: it holds still. */
		filepatch *p = n->patch;
		wb_txn *t = NULL;
		int rc = errmap(wb_txn_begin(fs->db, WB_TXN_SNAPSHOT, &t), "write", key, klen);
		pthread_mutex_lock(&n->mu);
		int64_t mtime = commit_time(n);
		pthread_mutex_unlock(&n->mu);
		if (rc == 0)
			rc = apply_patch(fs, t, p, key, klen, mtime);
		pthread_mutex_lock(&fs->ns_mu);
		pthread_mutex_lock(&n->mu);
		bool moved = !has_key(n, key, klen);
		bool conflict = false;
		if (rc == 0 && !moved && !n->unlinked) {
			int erc = wb_txn_commit(t);
			t = NULL;
			conflict = erc == WB_ECONFLICT && attempt + 1 < PATCH_TRIES;
			if (!conflict)
				rc = errmap(erc, "write", key, klen);
			if (erc == WB_OK) {
				filepatch_committed(p);
				n->dirty = false;
				n->write_ns = 0;
				n->cache_ts = 0;
				n->read_gen++;
			}
		}
		pthread_mutex_unlock(&n->mu);
		pthread_mutex_unlock(&fs->ns_mu);
		wb_txn_abort(t);
		free(key);
		if (rc != 0 || (!moved && !conflict))
			return rc;
	}
}

int file_commit(fs_t *fs, fs_node *n)
{
	pthread_mutex_lock(&n->mu);
	bool patch = n->patch != NULL && n->buf == NULL && n->dirty;
	pthread_mutex_unlock(&n->mu);
	if (patch)
		return commit_patch(fs, n);
	for (int attempt = 0;; attempt++) {
		bool last = attempt + 1 == UNLOCKED_TRIES;
		if (last)
			pthread_mutex_lock(&fs->ns_mu);
		size_t klen;
		uint8_t *key = inode_key(fs, n, NULL, 0, &klen);
		if (key == NULL) {
			if (last)
				pthread_mutex_unlock(&fs->ns_mu);
			return -ENOMEM;
		}
		/* Only commit_mu holders change the buffer or dirty: what is
		 * read here holds until the commit lands. */
		/* (Unlinked already: nothing will be committed, copy nothing.) */
		bool gone = inode_unlinked(fs, n);
		pthread_mutex_lock(&n->mu);
		filebuf *fb = n->dirty && !gone ? n->buf : NULL;
		bool copy = fb != NULL && needs_copy(fb, key, klen);
		n->busy = copy;
		pthread_mutex_unlock(&n->mu);
		wb_writer *w = NULL;
		int rc = copy ? copy_to_writer(fs, fb, key, klen, &w) : 0;
		if (!last)
			pthread_mutex_lock(&fs->ns_mu);
		pthread_mutex_lock(&n->mu);
		/* A rename meanwhile: copy again, to the new key. An unlink: the
		 * buffer is all that is left, for the handles still open. */
		bool moved = !has_key(n, key, klen);
		if (rc == 0 && fb != NULL && !n->unlinked && !moved)
			rc = commit_locked(fs, n, &w);
		n->busy = false;
		pthread_mutex_unlock(&n->mu);
		pthread_mutex_unlock(&fs->ns_mu);
		wb_writer_abort(w);
		free(key);
		if (rc != 0 || fb == NULL || !moved || last)
			return rc;
	}
}

/* Commits n's buffer; with sync also makes it durable (fsync). */
static int commit_node(fs_t *fs, fs_node *n, bool sync)
{
	pthread_mutex_lock(&n->commit_mu);
	int rc = file_commit(fs, n);
	pthread_mutex_unlock(&n->commit_mu);
	/* Makes every write acknowledged so far durable, this file's commit
	 * (or an earlier one) among them: no lock needed, and none held. */
	if (rc == 0 && sync) {
		uint8_t stack[256];
		size_t klen = 0;
		uint8_t *key = inode_key(fs, n, stack, sizeof(stack), &klen);
		rc = errmap(wb_sync(fs->db), "sync", key, key ? klen : 0);
		if (key != stack)
			free(key);
	}
	return rc;
}

/* A commit of more than this from memory is worth a worker thread. */
#define SLOW_COMMIT (1u << 20)

bool file_commit_is_slow(fs_t *fs, fuse_ino_t ino)
{
	if (fs->sync_always)
		return true;
	fs_node *n = inode_get(fs, ino);
	if (n == NULL)
		return false;
	pthread_mutex_lock(&n->mu);
	const filebuf *fb = n->buf;
	bool slow = n->busy ||
		    (n->dirty && fb != NULL && (fb->w != NULL || fb->fd >= 0 || fb->size > SLOW_COMMIT)) ||
		    (n->dirty && n->patch != NULL && n->patch->bytes > SLOW_COMMIT);
	pthread_mutex_unlock(&n->mu);
	return slow;
}

bool file_is_busy(fs_t *fs, fuse_ino_t ino, bool first_write)
{
	fs_node *n = inode_get(fs, ino);
	if (n == NULL)
		return false;
	pthread_mutex_lock(&n->mu);
	bool busy = n->busy || (first_write && n->buf == NULL && n->patch == NULL);
	pthread_mutex_unlock(&n->mu);
	return busy;
}

/* Sets up an open handle on n, whose key (a copy) is key. Called with
 * n->mu held, and with n->commit_mu too when it may truncate (writable,
 * O_TRUNC, !created). */
static int open_locked(fs_t *fs, fs_node *n, struct fuse_file_info *fi, bool created,
		       const uint8_t *key, size_t klen)
{
	bool w = writable(fi->flags);
	if (w && fs->ro)
		return -EROFS;
	wb_key_info lk;
	if (w && (fi->flags & O_TRUNC) && !created && n->buf == NULL &&
	    wb_stat_key(fs->db, key, klen, &lk) == WB_OK && lk.links > 1) {
		/* A hard-linked file is cut in place, in the object its names
		 * share: new contents in a buffer would replace only this name's. */
		if (n->patch == NULL) {
			if ((n->patch = malloc(sizeof(*n->patch))) == NULL)
				return -ENOMEM;
			filepatch_init(n->patch, lk.value_len);
		}
		int rc = filepatch_truncate(n->patch, 0);
		if (rc != 0)
			return rc;
		n->read_gen++;
		mark_dirty(n);
	} else if (w && (fi->flags & O_TRUNC) && !created) {
		if (n->patch != NULL) { /* its changes are cut away with the rest */
			filepatch_free(n->patch);
			free(n->patch);
			n->patch = NULL;
			n->read_gen++;
		}
		if (n->buf == NULL) {
			if ((n->buf = buf_new(fs)) == NULL)
				return -ENOMEM;
			n->fresh = false;
		}
		int rc = filebuf_truncate(n->buf, 0);
		if (rc != 0)
			return rc;
		mark_dirty(n);
	}
	n->handles++;
	if (w)
		n->writers++;
	fi->fh = w;
	fi->keep_cache = 0;
	if (!w && n->buf == NULL) {
		/* Keep the kernel's cached pages while the version is the same. */
		wb_key_info ki;
		if (wb_stat_key(fs->db, key, klen, &ki) == WB_OK) {
			fi->keep_cache = n->cache_ts == ki.ts;
			n->cache_ts = ki.ts;
		}
	} else {
		n->cache_ts = 0;
	}
	return 0;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	uint8_t stack[256];
	size_t klen;
	uint8_t *key = inode_key(fs, n, stack, sizeof(stack), &klen);
	if (key == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	bool trunc = writable(fi->flags) && (fi->flags & O_TRUNC);
	if (trunc)
		pthread_mutex_lock(&n->commit_mu);
	pthread_mutex_lock(&n->mu);
	int rc = open_locked(fs, n, fi, false, key, klen);
	pthread_mutex_unlock(&n->mu);
	if (trunc)
		pthread_mutex_unlock(&n->commit_mu);
	if (key != stack)
		free(key);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_open(req, fi) != 0)
		fuse_reply_none(req); /* interrupted: release will not come */
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *p = inode_get(fs, parent);
	if (fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (p == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	pthread_mutex_lock(&fs->ns_mu);
	uint8_t *key = NULL;
	size_t klen;
	fs_entry e;
	wb_batch *b = NULL;
	int rc = store_resolve(fs, p, name, &key, &klen, &e);
	bool created = false;
	if (rc == 0) {
		if (fi->flags & O_EXCL)
			rc = -EEXIST;
		else if (e.type == S_IFDIR)
			rc = -EISDIR;
	} else if (rc == -ENOENT) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		int64_t now = attr_now_ns();
		e = (fs_entry){ .type = S_IFREG, .has_value = true };
		e.attr = (fs_attr){ .mode = S_IFREG | (mode & 07777), .uid = ctx->uid,
				    .gid = ctx->gid, .atime_ns = now, .mtime_ns = now,
				    .ctime_ns = now };
		rc = store_child_key(p, name, false, &key, &klen);
		/* The daemon is the only writer: a directory gone by rmdir or
		 * rename is marked in its node, no need to ask the store. */
		if (rc == 0 && p->unlinked)
			rc = -ENOENT;
		if (rc == 0 && wb_batch_new(&b) != WB_OK)
			rc = -ENOMEM;
		if (rc == 0)
			rc = errmap(wb_batch_put(b, key, klen, "", 0), "create", key, klen);
		/* A record of its own for its inode number, and the directory's
		 * new times, in the same batch. */
		if (rc == 0)
			rc = store_new_ino(fs, b, &e.attr.ino);
		if (rc == 0) {
			e.has_record = true;
			e.nlink = 1;
			rc = store_put_attr(fs, b, key, klen, &e.attr, NULL, 0);
		}
		if (rc == 0)
			rc = store_touch_dir(fs, b, p->key, p->klen, 0);
		if (rc == 0)
			rc = errmap(wb_write(fs->db, b), "create", key, klen);
		created = rc == 0;
	}
	fs_node *n = NULL;
	if (rc == 0 && (n = inode_ref(fs, key, klen, false)) == NULL)
		rc = -ENOMEM;
	/* The entry is made (or was there): opening it needs no ns_mu, and
	 * truncating an existing one takes its commit_mu, which comes first. */
	pthread_mutex_unlock(&fs->ns_mu);
	if (rc == 0) {
		bool trunc = !created && writable(fi->flags) && (fi->flags & O_TRUNC);
		if (trunc)
			pthread_mutex_lock(&n->commit_mu);
		pthread_mutex_lock(&n->mu);
		if (created && n->buf == NULL && n->patch == NULL) {
			if ((n->buf = buf_new(fs)) == NULL)
				rc = -ENOMEM;
			n->fresh = true;
		}
		if (rc == 0)
			rc = open_locked(fs, n, fi, created, key, klen);
		pthread_mutex_unlock(&n->mu);
		if (trunc)
			pthread_mutex_unlock(&n->commit_mu);
		if (rc != 0)
			inode_forget(fs, n->ino, 1);
	}
	if (rc == 0) {
		struct fuse_entry_param ep = { .ino = n->ino, .attr_timeout = fs->timeout,
					       .entry_timeout = fs->timeout };
		store_fill_stat(fs, &e, &ep.attr);
		__atomic_store_n(&n->st_ino, e.attr.ino, __ATOMIC_RELAXED);
		if (fuse_reply_create(req, &ep, fi) != 0)
			inode_forget(fs, n->ino, 1);
	} else {
		fuse_reply_err(req, -rc);
	}
	wb_batch_free(b);
	store_entry_free(&e);
	free(key);
}

/* Reads [off, off + size) of a file with a patch: the committed bytes
 * below keep from the store, unlocked, then the patch over them -- again
 * when a commit or a cut came in between (read_gen). */
static int read_patched(fs_t *fs, fs_node *n, uint64_t off, char *buf, size_t size, size_t *got,
			bool *no_patch)
{
	for (;;) {
		pthread_mutex_lock(&n->mu);
		filepatch *p = n->patch;
		if (p == NULL || n->buf != NULL) {
			pthread_mutex_unlock(&n->mu);
			*no_patch = true;
			return 0;
		}
		uint64_t gen = n->read_gen, fsize = p->size, keep = p->keep;
		pthread_mutex_unlock(&n->mu);
		size_t want = off >= fsize ? 0 : fsize - off < size ? (size_t)(fsize - off) : size;
		size_t from_store = off >= keep ? 0 : keep - off < want ? (size_t)(keep - off) : want;
		size_t have = 0;
		int rc = 0;
		if (from_store > 0) {
			uint8_t stack[512];
			size_t klen;
			uint8_t *key = inode_key(fs, n, stack, sizeof(stack), &klen);
			rc = key ? errmap(wb_get_range(fs->db, key, klen, off, buf, from_store, &have),
					  "read", key, klen)
				 : -ENOMEM;
			if (rc == -ENOENT)
				rc = 0, have = 0;
			if (key != stack)
				free(key);
		}
		if (rc != 0)
			return rc;
		memset(buf + have, 0, want - have);
		pthread_mutex_lock(&n->mu);
		bool same = n->read_gen == gen && n->patch == p;
		if (same)
			filepatch_overlay(p, off, (uint8_t *)buf, want);
		pthread_mutex_unlock(&n->mu);
		if (same) {
			*got = want;
			return 0;
		}
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	char *buf = n ? malloc(size ? size : 1) : NULL;
	if (buf == NULL) {
		fuse_reply_err(req, n ? ENOMEM : ESTALE);
		return;
	}
	int rc = 0;
	size_t got = 0;
	bool plain = false;
	pthread_mutex_lock(&n->mu);
	if (n->buf) {
		ssize_t r = filebuf_read(n->buf, (uint64_t)off, buf, size);
		rc = r < 0 ? (int)r : 0;
		got = r < 0 ? 0 : (size_t)r;
		pthread_mutex_unlock(&n->mu);
	} else if (n->patch) {
		pthread_mutex_unlock(&n->mu);
		rc = read_patched(fs, n, (uint64_t)off, buf, size, &got, &plain);
	} else {
		pthread_mutex_unlock(&n->mu);
		plain = true;
	}
	if (plain) {
		uint8_t stack[512];
		size_t klen;
		uint8_t *key = inode_key(fs, n, stack, sizeof(stack), &klen);
		if (key == NULL)
			rc = -ENOMEM;
		else
			rc = errmap(wb_get_range(fs->db, key, klen, (uint64_t)off, buf, size, &got),
				    "read", key, klen);
		if (rc == -ENOENT)
			rc = 0, got = 0; /* removed meanwhile: end of file */
		if (key != stack)
			free(key);
	}
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, got);
	free(buf);
}

/* A file written front to back goes on straight into the value log
 * (filebuf.h). If the writer cannot start, the buffer spills to a
 * temporary file as usual. n->commit_mu held (the buffer stays as it is),
 * n->mu not: the key's copy takes tab_mu, which comes after it. */
static void start_stream(fs_t *fs, fs_node *n)
{
	size_t klen;
	uint8_t *key = inode_key(fs, n, NULL, 0, &klen);
	wb_writer *w;
	if (key && wb_writer_begin(fs->db, key, klen, &w) == WB_OK) {
		pthread_mutex_lock(&n->mu);
		filebuf_stream(n->buf, w, key, klen); /* on failure: stays in memory */
		pthread_mutex_unlock(&n->mu);
	}
	free(key);
}

/* Gives n a patch over its committed contents unless it has a buffer
 * or a patch. REQUIRES: n->commit_mu held (nothing commits meanwhile),
 * no other lock. */
static int patch_ensure(fs_t *fs, fs_node *n)
{
	pthread_mutex_lock(&n->mu);
	bool have = n->buf != NULL || n->patch != NULL;
	pthread_mutex_unlock(&n->mu);
	if (have)
		return 0;
	size_t klen;
	uint8_t *key = inode_key(fs, n, NULL, 0, &klen);
	if (key == NULL)
		return -ENOMEM;
	wb_key_info ki = { 0 };
	int rc = wb_stat_key(fs->db, key, klen, &ki);
	int err = rc == WB_OK || rc == WB_ENOTFOUND ? 0 : errmap(rc, "stat", key, klen);
	free(key);
	filepatch *p = err == 0 ? malloc(sizeof(*p)) : NULL;
	if (err == 0 && p == NULL)
		err = -ENOMEM;
	if (err != 0)
		return err;
	filepatch_init(p, rc == WB_OK ? ki.value_len : 0);
	pthread_mutex_lock(&n->mu);
	n->patch = p;
	n->read_gen++;
	pthread_mutex_unlock(&n->mu);
	return 0;
}

/* A write into n's patch; at PATCH_CAP dirty bytes it is committed. */
static int write_patch(fs_t *fs, fs_node *n, const char *data, size_t size, uint64_t off)
{
	int rc = patch_ensure(fs, n);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&n->mu);
	bool whole = n->buf != NULL;
	if (!whole) {
		rc = filepatch_write(n->patch, off, data, size);
		if (rc == 0)
			mark_dirty(n);
	}
	bool full = !whole && n->patch->bytes >= PATCH_CAP;
	pthread_mutex_unlock(&n->mu);
	if (whole)
		return 1; /* the caller writes the buffer */
	return rc == 0 && full ? file_commit(fs, n) : rc;
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	pthread_mutex_lock(&n->commit_mu);
	/* A file with no buffer keeps what it changes in a patch. */
	int rc = write_patch(fs, n, data, size, (uint64_t)off);
	if (rc != 1) {
		pthread_mutex_unlock(&n->commit_mu);
		if (rc != 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_write(req, size);
		return;
	}
	rc = 0;
	pthread_mutex_lock(&n->mu);
	bool stream = rc == 0 && fs->stream_ok && filebuf_wants_stream(n->buf, (uint64_t)off, size);
	pthread_mutex_unlock(&n->mu);
	if (stream)
		start_stream(fs, n);
	pthread_mutex_lock(&n->mu);
	if (rc == 0)
		rc = filebuf_write(n->buf, (uint64_t)off, data, size);
	if (rc == 0)
		mark_dirty(n);
	pthread_mutex_unlock(&n->mu);
	pthread_mutex_unlock(&n->commit_mu);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	int rc = n == NULL ? -ESTALE : fi->fh ? commit_node(fs, n, false) : 0;
	fuse_reply_err(req, -rc);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	int rc = n == NULL ? -ESTALE : commit_node(fs, n, true);
	fuse_reply_err(req, -rc);
}

/* Drops n's patch once nobody writes and nothing is left to commit.
 * REQUIRES: n->mu. */
static void patch_drop_if_clean(fs_node *n)
{
	if (n->patch && n->writers == 0 && !n->dirty) {
		filepatch_free(n->patch);
		free(n->patch);
		n->patch = NULL;
		n->read_gen++;
	}
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, 0);
		return;
	}
	pthread_mutex_lock(&n->commit_mu);
	int rc = fi->fh ? file_commit(fs, n) : 0;
	/* ns_mu: an unlink cannot come between the look at n->unlinked and
	 * the buffer's going. */
	pthread_mutex_lock(&fs->ns_mu);
	pthread_mutex_lock(&n->mu);
	if (fi->fh)
		n->writers--;
	/* Drop the buffer once nobody writes -- unless the file was unlinked:
	 * then it is all that is left for the handles still reading. */
	if (n->buf && ((n->writers == 0 && !n->unlinked && !n->dirty) || n->handles == 1)) {
		filebuf_free(n->buf);
		free(n->buf);
		n->buf = NULL;
		n->dirty = false;
	}
	patch_drop_if_clean(n);
	pthread_mutex_unlock(&n->mu);
	pthread_mutex_unlock(&fs->ns_mu);
	pthread_mutex_unlock(&n->commit_mu);
	/* The handle goes last: once it is gone a forget may free the node. */
	pthread_mutex_lock(&n->mu);
	bool last = --n->handles == 0;
	pthread_mutex_unlock(&n->mu);
	if (last)
		inode_forget(fs, ino, 0); /* frees it if the kernel forgot it already */
	fuse_reply_err(req, -rc);
}

/* Applies the attribute changes of setattr to a. */
static void apply_attr(fs_attr *a, const struct stat *st, int to_set)
{
	int64_t now = attr_now_ns();
	if (to_set & FUSE_SET_ATTR_MODE)
		a->mode = (a->mode & S_IFMT) | (st->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_UID)
		a->uid = st->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		a->gid = st->st_gid;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		a->atime_ns = now;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		a->atime_ns = (int64_t)st->st_atim.tv_sec * 1000000000 + st->st_atim.tv_nsec;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		a->mtime_ns = now;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		a->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	a->ctime_ns = now;
}

#define ATTR_BITS                                                                     \
	(FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID | FUSE_SET_ATTR_ATIME | \
	 FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)

/* Truncates (or extends) n to size: in its buffer or patch when open for
 * writing, else committed at once (a patch made for it and dropped).
 * REQUIRES: n->commit_mu held, and no other lock. */
static int truncate_node(fs_t *fs, fs_node *n, uint64_t size)
{
	int rc = patch_ensure(fs, n);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&n->mu);
	if (n->buf)
		rc = filebuf_truncate(n->buf, size);
	else
		rc = filepatch_truncate(n->patch, size);
	n->read_gen++;
	if (rc == 0)
		mark_dirty(n);
	bool commit = rc == 0 && n->writers == 0;
	pthread_mutex_unlock(&n->mu);
	if (commit)
		rc = file_commit(fs, n);
	pthread_mutex_lock(&n->mu);
	patch_drop_if_clean(n);
	pthread_mutex_unlock(&n->mu);
	return rc;
}

/* setattr on a file unlinked while open: no name is left to store
 * attributes under, only the buffer its handles share, so a truncate
 * (ftruncate on a descriptor, which ext4 allows) changes the buffer, and
 * the other changes show in the reply only. n->commit_mu held, n->mu not. */
static int setattr_unlinked(fs_t *fs, fs_node *n, fuse_ino_t ino, const struct stat *st, int to_set,
			    struct stat *out)
{
	pthread_mutex_lock(&n->mu);
	int rc = n->buf != NULL ? 0 : -ENOENT;
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		rc = filebuf_truncate(n->buf, (uint64_t)st->st_size);
	uint64_t size = n->buf != NULL ? n->buf->size : 0;
	pthread_mutex_unlock(&n->mu);
	if (rc != 0)
		return rc;
	fs_entry e = { .type = S_IFREG, .attr = store_default_attr(fs, S_IFREG, attr_now_ns()) };
	e.attr.ino = __atomic_load_n(&n->st_ino, __ATOMIC_RELAXED);
	apply_attr(&e.attr, st, to_set);
	store_fill_stat(fs, &e, out);
	out->st_nlink = 0;
	out->st_size = (off_t)size;
	out->st_blocks = (blkcnt_t)((size + 511) / 512);
	return 0;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, int to_set,
		       struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* commit_mu first: the contents change (a truncate) or are committed
	 * (futimens) unlocked, then the record under ns_mu. */
	pthread_mutex_lock(&n->commit_mu);
	if (inode_unlinked(fs, n)) {
		struct stat out;
		int rc = setattr_unlinked(fs, n, ino, st, to_set, &out);
		pthread_mutex_unlock(&n->commit_mu);
		if (rc == 0)
			fuse_reply_attr(req, &out, fs->timeout);
		else
			fuse_reply_err(req, -rc);
		return;
	}
	fs_entry e = { 0 };
	int rc = 0;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		size_t klen;
		uint8_t *key = inode_key(fs, n, NULL, 0, &klen);
		rc = key ? store_entry(fs, key, klen, n->dir, &e) : -ENOMEM;
		free(key);
		if (rc == 0 && e.type == 0)
			rc = -ENOENT;
		else if (rc == 0 && e.type == S_IFDIR)
			rc = -EISDIR;
		else if (rc == 0 && e.type != S_IFREG)
			rc = -EINVAL;
		store_entry_free(&e);
		if (rc == 0)
			rc = truncate_node(fs, n, (uint64_t)st->st_size);
	}
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))) {
		/* futimens on a file open for writing (cp -p, tar): the writes
		 * so far come before the new mtime, so commit them now -- the
		 * commit at close would stamp its own time over it. */
		rc = file_commit(fs, n); /* nothing to do when clean */
	}
	pthread_mutex_lock(&fs->ns_mu);
	if (rc == 0) /* after the commit: the record's mtime may have moved */
		rc = store_entry(fs, n->key, n->klen, n->dir, &e);
	if (rc == 0 && e.type == 0)
		rc = -ENOENT;
	if (rc == 0 && (to_set & ATTR_BITS) && !key_has_meta(n->key, n->klen, n->dir))
		rc = -EPERM; /* the file with the empty name keeps default attributes */
	/* A truncate moves mtime and ctime now, as a write does. */
	int changes = to_set & ATTR_BITS;
	if ((to_set & FUSE_SET_ATTR_SIZE) && !(to_set & FUSE_SET_ATTR_MTIME))
		changes |= FUSE_SET_ATTR_MTIME_NOW;
	if (!key_has_meta(n->key, n->klen, n->dir))
		changes = 0;
	if (rc == 0 && changes) {
		apply_attr(&e.attr, st, changes);
		wb_batch *b;
		rc = wb_batch_new(&b) == WB_OK ? 0 : -ENOMEM;
		if (rc == 0)
			rc = store_put_attr(fs, b, n->key, n->klen, &e.attr, e.target,
					    e.target_len);
		if (rc == 0)
			rc = errmap(wb_write(fs->db, b), "setattr", n->key, n->klen);
		wb_batch_free(b);
	}
	struct stat out;
	if (rc == 0) {
		store_fill_stat(fs, &e, &out);
		pthread_mutex_lock(&n->mu);
		if (n->buf)
			out.st_size = (off_t)n->buf->size;
		else if (n->patch)
			out.st_size = (off_t)n->patch->size;
		pthread_mutex_unlock(&n->mu);
	}
	pthread_mutex_unlock(&fs->ns_mu);
	pthread_mutex_unlock(&n->commit_mu);
	double timeout = rc == 0 ? store_attr_timeout(fs, &e) : 0;
	store_entry_free(&e);
	if (rc == 0)
		fuse_reply_attr(req, &out, timeout);
	else
		fuse_reply_err(req, -rc);
}

void ops_file_init(struct fuse_lowlevel_ops *ops)
{
	ops->create = op_create;
	ops->open = op_open;
	ops->read = op_read;
	ops->write = op_write;
	ops->flush = op_flush;
	ops->fsync = op_fsync;
	ops->release = op_release;
	ops->setattr = op_setattr;
}
