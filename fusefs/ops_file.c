/*
 * ops_file.c -- file contents and attributes: create, open, read, write,
 * flush, fsync, release, setattr (fs.h).
 *
 * Reads of a file nobody is writing go straight to the store and fetch
 * only the bytes asked for. The first write to a file gives its node a
 * buffer with the whole new contents (filebuf.h), shared by every handle
 * of the file, so reads through the mount see writes at once, as on a
 * local disk. The buffer is committed to the store as one put -- with the
 * attribute record when the file has one -- at flush (every close), fsync
 * and release: the store never holds half a file, and a process that
 * opens the file after the writer closed it sees all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

#define LOAD_CHUNK (1u << 20)

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

int file_load_locked(fs_t *fs, fs_node *n, const uint8_t *key, size_t klen)
{
	filebuf *fb = buf_new(fs);
	if (fb == NULL)
		return -ENOMEM;
	wb_key_info ki;
	int rc = wb_stat_key(fs->db, key, klen, &ki);
	if (rc == WB_ENOTFOUND)
		ki.value_len = 0, rc = WB_OK;
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
			break; /* changed meanwhile: we hold ns_mu, so it cannot */
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
	n->buf = fb;
	return 0;
}

/* Streams a spilled buffer into a value-log writer and commits it with
 * batch b (the attribute record), as one atomic write: memory stays at one
 * chunk whatever the file's size, and the bytes go to the disk once more. */
static int commit_streaming(fs_t *fs, fs_node *n, wb_batch *b)
{
	wb_writer *w;
	int rc = wb_writer_begin(fs->db, n->key, n->klen, &w);
	if (rc != WB_OK)
		return errmap(rc, "write", n->key, n->klen);
	uint8_t *chunk = malloc(LOAD_CHUNK);
	int err = chunk ? 0 : -ENOMEM;
	for (uint64_t off = 0; err == 0 && off < n->buf->size;) {
		ssize_t got = filebuf_read(n->buf, off, chunk, LOAD_CHUNK);
		if (got <= 0) {
			err = got < 0 ? (int)got : -EIO;
			break;
		}
		rc = wb_writer_write(w, chunk, (size_t)got);
		if (rc != WB_OK)
			err = errmap(rc, "write", n->key, n->klen);
		off += (uint64_t)got;
	}
	free(chunk);
	if (err != 0) {
		wb_writer_abort(w);
		return err;
	}
	return errmap(wb_writer_commit(w, b), "write", n->key, n->klen);
}

int file_commit_locked(fs_t *fs, fs_node *n, bool sync)
{
	int rc = 0;
	if (n->dirty && !n->unlinked && n->buf) {
		wb_batch *b;
		if (wb_batch_new(&b) != WB_OK)
			return -ENOMEM;
		fs_attr a;
		bool found = false;
		if (key_has_meta(n->key, n->klen, n->dir))
			rc = store_get_attr(fs, n->key, n->klen, &a, &found);
		if (rc == 0 && found) {
			a.mtime_ns = a.ctime_ns = attr_now_ns();
			rc = store_put_attr(fs, b, n->key, n->klen, &a, NULL, 0);
		}
		if (rc == 0 && n->buf->w != NULL && n->buf->wklen == n->klen &&
		    memcmp(n->buf->wkey, n->key, n->klen) == 0) {
			/* Streamed straight into the value log: commit that. The
			 * buffer is spent either way. */
			rc = errmap(wb_writer_commit(filebuf_take_writer(n->buf), b), "write", n->key,
				    n->klen);
			filebuf_free(n->buf);
			free(n->buf);
			n->buf = NULL;
			n->dirty = false;
		} else if (rc == 0 && (n->buf->w != NULL || n->buf->fd >= 0)) {
			/* (A stream whose file was renamed meanwhile is copied to
			 * the new key.) */
			rc = filebuf_unstream(n->buf);
			if (rc == 0)
				rc = commit_streaming(fs, n, b);
		} else if (rc == 0) {
			/* In memory: one put; the engine sends a large value to the
			 * value log itself. */
			const void *data = n->buf->mem ? n->buf->mem : (const void *)"";
			rc = errmap(wb_batch_put(b, n->key, n->klen, data, (size_t)n->buf->size),
				    "write", n->key, n->klen);
			if (rc == 0)
				rc = errmap(wb_write(fs->db, b), "write", n->key, n->klen);
		}
		wb_batch_free(b);
		if (rc == 0) {
			n->dirty = false;
			n->cache_ts = 0;
		}
	}
	if (rc == 0 && sync)
		rc = errmap(wb_sync(fs->db), "sync", n->key, n->klen);
	return rc;
}

/* Commits n's buffer: takes ns_mu (no rename moves the key meanwhile). */
static int commit_node(fs_t *fs, fs_node *n, bool sync)
{
	pthread_mutex_lock(&fs->ns_mu);
	pthread_mutex_lock(&n->mu);
	int rc = file_commit_locked(fs, n, sync);
	pthread_mutex_unlock(&n->mu);
	pthread_mutex_unlock(&fs->ns_mu);
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
	bool slow = n->dirty && fb != NULL && (fb->w != NULL || fb->fd >= 0 || fb->size > SLOW_COMMIT);
	pthread_mutex_unlock(&n->mu);
	return slow;
}

/* Sets up an open handle on n. Called with n->mu held. */
static int open_locked(fs_t *fs, fs_node *n, struct fuse_file_info *fi, bool created)
{
	bool w = writable(fi->flags);
	if (w && fs->ro)
		return -EROFS;
	if (w && (fi->flags & O_TRUNC) && !created) {
		if (n->buf == NULL && (n->buf = buf_new(fs)) == NULL)
			return -ENOMEM;
		int rc = filebuf_truncate(n->buf, 0);
		if (rc != 0)
			return rc;
		n->dirty = true;
	}
	n->handles++;
	if (w)
		n->writers++;
	fi->fh = w;
	fi->keep_cache = 0;
	if (!w && n->buf == NULL) {
		/* Keep the kernel's cached pages while the version is the same. */
		wb_key_info ki;
		if (wb_stat_key(fs->db, n->key, n->klen, &ki) == WB_OK) {
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
	/* The key must not move between here and the stat in open_locked. */
	pthread_mutex_lock(&fs->ns_mu);
	pthread_mutex_lock(&n->mu);
	int rc = open_locked(fs, n, fi, false);
	pthread_mutex_unlock(&n->mu);
	pthread_mutex_unlock(&fs->ns_mu);
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
		/* Default attributes need no record. */
		bool plain = (mode & 07777) == 0644 && ctx->uid == fs->uid && ctx->gid == fs->gid;
		if (rc == 0 && !plain) {
			e.has_record = true;
			rc = store_put_attr(fs, b, key, klen, &e.attr, NULL, 0);
		}
		if (rc == 0)
			rc = errmap(wb_write(fs->db, b), "create", key, klen);
		created = rc == 0;
	}
	fs_node *n = NULL;
	if (rc == 0 && (n = inode_ref(fs, key, klen, false)) == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		pthread_mutex_lock(&n->mu);
		if (created && n->buf == NULL && (n->buf = buf_new(fs)) == NULL)
			rc = -ENOMEM;
		if (rc == 0)
			rc = open_locked(fs, n, fi, created);
		pthread_mutex_unlock(&n->mu);
		if (rc != 0)
			inode_forget(fs, n->ino, 1);
	}
	pthread_mutex_unlock(&fs->ns_mu);
	if (rc == 0) {
		struct fuse_entry_param ep = { .ino = n->ino, .attr_timeout = fs->timeout,
					       .entry_timeout = fs->timeout };
		store_fill_stat(fs, &e, n->ino, &ep.attr);
		if (fuse_reply_create(req, &ep, fi) != 0)
			inode_forget(fs, n->ino, 1);
	} else {
		fuse_reply_err(req, -rc);
	}
	wb_batch_free(b);
	store_entry_free(&e);
	free(key);
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
	pthread_mutex_lock(&n->mu);
	if (n->buf) {
		ssize_t r = filebuf_read(n->buf, (uint64_t)off, buf, size);
		rc = r < 0 ? (int)r : 0;
		got = r < 0 ? 0 : (size_t)r;
		pthread_mutex_unlock(&n->mu);
	} else {
		pthread_mutex_unlock(&n->mu);
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
 * temporary file as usual. n->mu held. */
static void start_stream(fs_t *fs, fs_node *n)
{
	size_t klen;
	uint8_t *key = inode_key(fs, n, NULL, 0, &klen);
	wb_writer *w;
	if (key && wb_writer_begin(fs->db, key, klen, &w) == WB_OK)
		filebuf_stream(n->buf, w, key, klen); /* on failure: stays in memory */
	free(key);
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
	int rc = 0;
	pthread_mutex_lock(&n->mu);
	if (n->buf == NULL) {
		/* First write since open: start from the committed contents. */
		pthread_mutex_unlock(&n->mu);
		pthread_mutex_lock(&fs->ns_mu);
		pthread_mutex_lock(&n->mu);
		if (n->buf == NULL)
			rc = file_load_locked(fs, n, n->key, n->klen);
		pthread_mutex_unlock(&fs->ns_mu);
	}
	if (rc == 0 && fs->stream_ok && filebuf_wants_stream(n->buf, (uint64_t)off, size))
		start_stream(fs, n);
	if (rc == 0)
		rc = filebuf_write(n->buf, (uint64_t)off, data, size);
	if (rc == 0)
		n->dirty = true;
	pthread_mutex_unlock(&n->mu);
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

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, 0);
		return;
	}
	pthread_mutex_lock(&fs->ns_mu);
	pthread_mutex_lock(&n->mu);
	int rc = fi->fh ? file_commit_locked(fs, n, false) : 0;
	n->handles--;
	if (fi->fh)
		n->writers--;
	/* Drop the buffer once nobody writes -- unless the file was unlinked:
	 * then it is all that is left for the handles still reading. */
	if (n->buf && ((n->writers == 0 && !n->unlinked && !n->dirty) || n->handles == 0)) {
		filebuf_free(n->buf);
		free(n->buf);
		n->buf = NULL;
		n->dirty = false;
	}
	bool last = n->handles == 0;
	pthread_mutex_unlock(&n->mu);
	pthread_mutex_unlock(&fs->ns_mu);
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

/* Truncates (or extends) n to size: in its buffer when open for writing,
 * else committed at once. ns_mu held. */
static int truncate_node(fs_t *fs, fs_node *n, uint64_t size)
{
	pthread_mutex_lock(&n->mu);
	int rc = 0;
	bool had_buf = n->buf != NULL;
	if (!had_buf) {
		if (size == 0)
			rc = (n->buf = buf_new(fs)) ? 0 : -ENOMEM;
		else
			rc = file_load_locked(fs, n, n->key, n->klen);
	}
	if (rc == 0)
		rc = filebuf_truncate(n->buf, size);
	if (rc == 0) {
		n->dirty = true;
		if (n->writers == 0)
			rc = file_commit_locked(fs, n, false);
	}
	if (!had_buf && n->writers == 0 && n->buf) {
		filebuf_free(n->buf);
		free(n->buf);
		n->buf = NULL;
		n->dirty = false;
	}
	pthread_mutex_unlock(&n->mu);
	return rc;
}

/* setattr on a file unlinked while open: no name is left to store
 * attributes under, only the buffer its handles share, so a truncate
 * (ftruncate on a descriptor, which ext4 allows) changes the buffer, and
 * the other changes show in the reply only. n->mu not held. */
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
	int64_t t = attr_now_ns();
	fs_entry e = { .type = S_IFREG };
	e.attr = (fs_attr){ .mode = S_IFREG | 0644, .uid = fs->uid, .gid = fs->gid,
			    .atime_ns = t, .mtime_ns = t, .ctime_ns = t };
	apply_attr(&e.attr, st, to_set);
	store_fill_stat(fs, &e, ino, out);
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
	pthread_mutex_lock(&fs->ns_mu);
	if (n->unlinked) {
		struct stat out;
		int rc = setattr_unlinked(fs, n, ino, st, to_set, &out);
		pthread_mutex_unlock(&fs->ns_mu);
		if (rc == 0)
			fuse_reply_attr(req, &out, fs->timeout);
		else
			fuse_reply_err(req, -rc);
		return;
	}
	fs_entry e = { 0 };
	int rc = store_entry(fs, n->key, n->klen, n->dir, &e);
	if (rc == 0 && e.type == 0)
		rc = -ENOENT;
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		if (e.type == S_IFDIR)
			rc = -EISDIR;
		else if (e.type != S_IFREG)
			rc = -EINVAL;
		else
			rc = truncate_node(fs, n, (uint64_t)st->st_size);
		if (rc == 0) { /* the record's mtime may have moved */
			store_entry_free(&e);
			rc = store_entry(fs, n->key, n->klen, n->dir, &e);
		}
	}
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))) {
		/* futimens on a file open for writing (cp -p, tar): the writes
		 * so far come before the new mtime, so commit them now -- the
		 * commit at close would stamp its own time over it. */
		pthread_mutex_lock(&n->mu);
		bool was_dirty = n->dirty;
		rc = file_commit_locked(fs, n, false); /* nothing to do when clean */
		pthread_mutex_unlock(&n->mu);
		if (rc == 0 && was_dirty) {
			store_entry_free(&e);
			rc = store_entry(fs, n->key, n->klen, n->dir, &e);
		}
	}
	if (rc == 0 && (to_set & ATTR_BITS) && !key_has_meta(n->key, n->klen, n->dir))
		rc = -EPERM; /* the file with the empty name keeps default attributes */
	if (rc == 0 && (to_set & ATTR_BITS)) {
		apply_attr(&e.attr, st, to_set);
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
		store_fill_stat(fs, &e, ino, &out);
		pthread_mutex_lock(&n->mu);
		if (n->buf)
			out.st_size = (off_t)n->buf->size;
		pthread_mutex_unlock(&n->mu);
	}
	pthread_mutex_unlock(&fs->ns_mu);
	store_entry_free(&e);
	if (rc == 0)
		fuse_reply_attr(req, &out, fs->timeout);
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
