/*
 * ops_dir.c -- the namespace operations: lookup, forget, getattr, readdir,
 * mkdir, rmdir, unlink, rename, symlink, readlink, mknod, link, statfs,
 * access (fs.h).
 *
 * Every change is one engine batch, so it is all there or not there after
 * a crash; a directory rename moves every key below it in that one batch.
 * Changes hold ns_mu from the existence checks to the write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* RENAME_NOREPLACE, RENAME_EXCHANGE */
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "dirlist.h"
#include "fs.h"

/* Size of a file some handle is writing: its buffer's; and the time of
 * its last write, not yet committed. */
static void apply_buffer(fs_node *n, struct stat *st)
{
	if (n == NULL)
		return;
	pthread_mutex_lock(&n->mu);
	if (n->buf || n->patch) {
		uint64_t size = n->buf ? n->buf->size : n->patch->size;
		st->st_size = (off_t)size;
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
	}
	if (n->dirty && n->write_ns) {
		st->st_mtim.tv_sec = st->st_ctim.tv_sec = n->write_ns / 1000000000;
		st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = n->write_ns % 1000000000;
	}
	pthread_mutex_unlock(&n->mu);
}

void reply_entry(fuse_req_t req, fs_t *fs, const uint8_t *key, size_t klen, const fs_entry *e)
{
	fs_node *n = inode_ref(fs, key, klen, e->type == S_IFDIR);
	if (n == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct fuse_entry_param ep = { .ino = n->ino, .attr_timeout = store_attr_timeout(fs, e),
				       .entry_timeout = fs->timeout };
	store_fill_stat(fs, e, &ep.attr);
	__atomic_store_n(&n->st_ino, e->attr.ino, __ATOMIC_RELAXED);
	apply_buffer(n, &ep.attr);
	if (fuse_reply_entry(req, &ep) != 0)
		inode_forget(fs, n->ino, 1); /* the kernel did not take it */
}

static fs_node *parent_node(fuse_req_t req, fuse_ino_t ino)
{
	fs_node *n = inode_get(req_fs(req), ino);
	if (n == NULL)
		fuse_reply_err(req, ESTALE);
	return n;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_t *fs = req_fs(req);
	fs_node *p = parent_node(req, parent);
	if (p == NULL)
		return;
	size_t plen;
	uint8_t *pkey = inode_key(fs, p, NULL, 0, &plen);
	if (pkey == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_node tmp = { .key = pkey, .klen = plen };
	uint8_t *key;
	size_t klen;
	fs_entry e;
	int rc = store_resolve(fs, &tmp, name, &key, &klen, &e);
	free(pkey);
	if (rc == -ENOENT) {
		/* Not there: let the kernel remember that for a while too. */
		struct fuse_entry_param ep = { .ino = 0, .entry_timeout = fs->timeout };
		fuse_reply_entry(req, &ep);
		return;
	}
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	reply_entry(req, fs, key, klen, &e);
	store_entry_free(&e);
	free(key);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(req_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		inode_forget(req_fs(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* The entry of an open node; an unlinked file still open shows its buffer. */
static int node_entry(fs_t *fs, fs_node *n, fs_entry *e)
{
	size_t klen;
	uint8_t *key = inode_key(fs, n, NULL, 0, &klen);
	if (key == NULL)
		return -ENOMEM;
	int rc = n->unlinked ? 0 : store_entry(fs, key, klen, n->dir, e);
	if (n->unlinked)
		memset(e, 0, sizeof(*e));
	free(key);
	if (rc == 0 && e->type == 0) {
		pthread_mutex_lock(&n->mu);
		bool open = n->buf != NULL;
		pthread_mutex_unlock(&n->mu);
		if (!open)
			return -ENOENT;
		e->type = S_IFREG;
		e->attr = store_default_attr(fs, S_IFREG, attr_now_ns());
		e->attr.ino = __atomic_load_n(&n->st_ino, __ATOMIC_RELAXED);
		e->nlink = 1;
	}
	return rc;
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	fs_entry e;
	int rc = node_entry(fs, n, &e);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct stat st;
	store_fill_stat(fs, &e, &st);
	if (n->unlinked)
		st.st_nlink = 0;
	apply_buffer(n, &st);
	fuse_reply_attr(req, &st, store_attr_timeout(fs, &e));
	store_entry_free(&e);
}

/* ---- directories: listing ---- */

/* An open directory: one listing over one snapshot, positioned at `pos`. */
typedef struct dir_handle {
	pthread_mutex_t mu;
	dirlist *list;
	off_t pos;            /* entries handed out (".", ".." count) */
	bool have_pending;    /* an entry that did not fit the last reply */
	dirlist_entry pending;
	uint8_t *pkey;        /* the pending entry's key (the list's buffer moves on) */
	fs_node *node;        /* the directory (held by the kernel while open) */
	uint8_t *key;         /* its key when the listing began */
	size_t klen;
} dir_handle;

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	dir_handle *h = calloc(1, sizeof(*h));
	if (h == NULL || (h->key = inode_key(fs, n, NULL, 0, &h->klen)) == NULL) {
		free(h);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&h->mu, NULL);
	h->node = n;
	fi->fh = (uintptr_t)h;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) != 0) {
		free(h->key);
		free(h);
	}
}

static void dir_reset(dir_handle *h)
{
	dirlist_close(h->list);
	h->list = NULL;
	h->pos = 0;
	h->have_pending = false;
}

/* The next entry of the listing: the pending one or a new one. */
static int dir_next(fs_t *fs, dir_handle *h, dirlist_entry *out)
{
	if (h->have_pending) {
		*out = h->pending;
		out->key = h->pkey;
		return 1;
	}
	if (h->list == NULL) {
		/* From the start: where the directory is now (it may have moved). */
		size_t klen;
		uint8_t *key = inode_key(fs, h->node, NULL, 0, &klen);
		if (key == NULL)
			return -ENOMEM;
		free(h->key);
		h->key = key;
		h->klen = klen;
		int rc = dirlist_open(fs, h->key, h->klen, &h->list);
		if (rc != 0)
			return rc;
	}
	return dirlist_next(h->list, out);
}

static void dir_keep_pending(dir_handle *h, const dirlist_entry *e)
{
	if (!h->have_pending) {
		free(h->pkey);
		h->pkey = malloc(e->klen ? e->klen : 1);
		if (h->pkey == NULL)
			return; /* dropped; the next call re-lists from the start */
		memcpy(h->pkey, e->key, e->klen);
		h->pending = *e;
		h->pending.key = h->pkey;
		h->have_pending = true;
	}
}

/* The inode number of "." (the listed directory) or ".." (its parent). */
static uint64_t dot_ino(fs_t *fs, dir_handle *h, bool parent)
{
	size_t klen = h->klen;
	if (parent && klen > 0) {
		klen--; /* the directory's '/' */
		while (klen > 0 && h->key[klen - 1] != '/')
			klen--;
	}
	fs_entry e;
	uint64_t ino = attr_derived_ino(h->key, klen);
	if (store_entry(fs, h->key, klen, true, &e) == 0 && e.type == S_IFDIR)
		ino = e.attr.ino;
	store_entry_free(&e);
	return ino;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	fs_t *fs = req_fs(req);
	dir_handle *h = (dir_handle *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&h->mu);
	if (off != h->pos) {
		/* rewinddir or seekdir: list again from the start and skip. */
		dir_reset(h);
	}
	size_t used = 0;
	int rc = 0;
	dirlist_entry de;
	while (used < size) {
		struct stat st = { 0 };
		const char *name;
		bool real = false;
		if (h->pos < 2) {
			name = h->pos == 0 ? "." : "..";
			st.st_ino = dot_ino(fs, h, h->pos == 1);
			st.st_mode = S_IFDIR;
		} else {
			rc = dir_next(fs, h, &de);
			if (rc <= 0)
				break;
			real = true;
			name = de.name;
			st.st_mode = de.e.attr.mode;
		}
		if (h->pos < off) { /* skipping to a seekdir offset */
			h->have_pending = false;
			h->pos++;
			continue;
		}
		size_t need;
		if (plus && real) {
			fs_node *n = inode_ref(fs, de.key, de.klen, de.e.type == S_IFDIR);
			if (n == NULL) {
				rc = -ENOMEM;
				break;
			}
			struct fuse_entry_param ep = { .ino = n->ino,
						       .attr_timeout = store_attr_timeout(fs, &de.e),
						       .entry_timeout = fs->timeout };
			store_fill_stat(fs, &de.e, &ep.attr);
			__atomic_store_n(&n->st_ino, de.e.attr.ino, __ATOMIC_RELAXED);
			apply_buffer(n, &ep.attr);
			need = fuse_add_direntry_plus(req, buf + used, size - used, name, &ep,
						      h->pos + 1);
			if (need > size - used)
				inode_forget(fs, n->ino, 1); /* not sent */
		} else if (plus) {
			struct fuse_entry_param ep = { .attr = st };
			need = fuse_add_direntry_plus(req, buf + used, size - used, name, &ep,
						      h->pos + 1);
		} else {
			if (real)
				st.st_ino = de.e.attr.ino;
			need = fuse_add_direntry(req, buf + used, size - used, name, &st, h->pos + 1);
		}
		if (need > size - used) {
			if (real)
				dir_keep_pending(h, &de);
			break;
		}
		used += need;
		h->have_pending = false;
		h->pos++;
	}
	pthread_mutex_unlock(&h->mu);
	if (rc < 0 && used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	dir_handle *h = (dir_handle *)(uintptr_t)fi->fh;
	dir_reset(h);
	pthread_mutex_destroy(&h->mu);
	free(h->pkey);
	free(h->key);
	free(h);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int rc = wb_sync(req_fs(req)->db);
	fuse_reply_err(req, -errmap(rc, "sync", NULL, 0));
}

/* ---- namespace changes ---- */

/* Adds to b the deletion of every key of keyspace ks starting with prefix. */
static int delete_prefix(fs_t *fs, wb_batch *b, unsigned ks, const uint8_t *prefix, size_t plen)
{
	wb_iter_options io = { .keyspace = ks, .prefix = prefix, .prefix_len = plen };
	wb_iter *it;
	int rc = wb_iter_new(fs->db, &io, &it);
	if (rc != WB_OK)
		return errmap(rc, "iterate", prefix, plen);
	for (wb_iter_seek_first(it); rc == WB_OK && wb_iter_valid(it); wb_iter_next(it)) {
		size_t kl;
		const void *k = wb_iter_key(it, &kl);
		rc = wb_batch_delete_ks(b, ks, k, kl);
	}
	if (rc == WB_OK)
		rc = wb_iter_status(it);
	wb_iter_free(it);
	return rc == WB_OK ? 0 : errmap(rc, "delete", prefix, plen);
}

/* The record a hard-linked file's names share, for one name (entry e, as
 * the caller read it) going: its ctime moves, and it goes with the last
 * name. */
static int unlink_shared(fs_t *fs, wb_batch *b, const uint8_t *key, size_t klen,
			 const fs_entry *e)
{
	if (!e->attr.shared)
		return 0;
	if (e->nlink > 1) {
		fs_attr a = e->attr;
		a.ctime_ns = attr_now_ns();
		if (e->type != S_IFREG) /* (a regular file's object counts its own) */
			a.links = e->nlink - 1;
		return store_put_attr(fs, b, key, klen, &a, e->target, e->target_len);
	}
	uint8_t ik[ATTR_INODE_KEY_LEN];
	attr_inode_key(e->attr.ino, ik);
	return errmap(wb_batch_delete_ks(b, WB_KS_META, ik, sizeof(ik)), "delete", key, klen);
}

/* Adds to b the removal of entry e (an empty directory's marker): value,
 * record, xattrs. */
static int delete_entry(fs_t *fs, wb_batch *b, const uint8_t *key, size_t klen,
			const fs_entry *e)
{
	bool dir = e->type == S_IFDIR;
	int rc = dir || !key_has_meta(key, klen, dir) ? 0 : unlink_shared(fs, b, key, klen, e);
	if (rc != 0)
		return rc;
	/* A file's value may be an object shared by links: unlink releases it. */
	rc = dir ? WB_OK : wb_batch_unlink(fs->db, b, key, klen);
	if (!key_has_meta(key, klen, dir))
		return rc == WB_OK ? 0 : errmap(rc, "delete", key, klen);
	size_t mlen;
	uint8_t *mk = attr_key(META_ATTR, key, klen, NULL, &mlen);
	if (mk == NULL)
		return -ENOMEM;
	if (rc == WB_OK)
		rc = wb_batch_delete_ks(b, WB_KS_META, mk, mlen);
	rc = rc == WB_OK ? 0 : errmap(rc, "delete", key, klen);
	mk[0] = META_XATTR;
	mk = realloc(mk, mlen + 1);
	if (mk == NULL)
		return -ENOMEM;
	mk[mlen] = '\0';
	if (rc == 0)
		rc = delete_prefix(fs, b, WB_KS_META, mk, mlen + 1);
	free(mk);
	return rc;
}

/* Writes batch b; 0 or -errno. */
static int commit(fs_t *fs, wb_batch *b, const uint8_t *key, size_t klen)
{
	int rc = wb_write(fs->db, b);
	return rc == WB_OK ? 0 : errmap(rc, "write", key, klen);
}

/* Common start of a change in parent: the parent's key and a batch. */
typedef struct change {
	fs_t *fs;
	fs_node *parent;
	wb_batch *b;
	uint8_t *key; /* the child's node key */
	size_t klen;
	fs_entry e;   /* what is there now (type 0: nothing) */
	bool locked;
} change;

static int change_begin(fuse_req_t req, change *c, fuse_ino_t parent, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->fs = req_fs(req);
	if (c->fs->ro)
		return -EROFS;
	c->parent = inode_get(c->fs, parent);
	if (c->parent == NULL)
		return -ESTALE;
	pthread_mutex_lock(&c->fs->ns_mu);
	c->locked = true;
	if (c->parent->unlinked)
		return -ENOENT;
	if (wb_batch_new(&c->b) != WB_OK)
		return -ENOMEM;
	int rc = store_resolve(c->fs, c->parent, name, &c->key, &c->klen, &c->e);
	return rc == -ENOENT ? 0 : rc;
}

static void change_end(change *c)
{
	if (c->locked)
		pthread_mutex_unlock(&c->fs->ns_mu);
	wb_batch_free(c->b);
	store_entry_free(&c->e);
	free(c->key);
}

/* For a new entry: its key, checking the name can be created. (The
 * parent exists: change_begin refused a removed one, and the daemon is the
 * only writer, so its node says so.) */
static int change_new_key(change *c, const char *name, bool is_dir)
{
	if (c->e.type != 0)
		return -EEXIST;
	free(c->key);
	c->key = NULL;
	int rc = store_child_key(c->parent, name, is_dir, &c->key, &c->klen);
	if (rc == 0)
		rc = store_touch_dir(c->fs, c->b, c->parent->key, c->parent->klen, is_dir);
	return rc;
}

/* Ends a change that made a new entry (c->e): writes the batch and
 * replies with the entry, or with the error. */
static void change_finish_new(fuse_req_t req, change *c, int rc)
{
	if (rc == 0)
		rc = commit(c->fs, c->b, c->key, c->klen);
	if (rc == 0)
		reply_entry(req, c->fs, c->key, c->klen, &c->e);
	else
		fuse_reply_err(req, -rc);
	change_end(c);
}

/* The attributes of an entry change c makes, with a new inode number. */
static int new_attr(fuse_req_t req, change *c, mode_t mode, fs_entry *e)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int64_t now = attr_now_ns();
	e->attr = (fs_attr){ .mode = mode, .uid = ctx->uid, .gid = ctx->gid, .atime_ns = now,
			     .mtime_ns = now, .ctime_ns = now };
	e->type = mode & S_IFMT;
	e->has_record = true;
	e->nlink = S_ISDIR(mode) ? 2 : 1;
	return store_new_ino(c->fs, c->b, &e->attr.ino);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	change c;
	int rc = change_begin(req, &c, parent, name);
	if (rc == 0)
		rc = change_new_key(&c, name, true);
	if (rc == 0) {
		c.e = (fs_entry){ .size = 4096 };
		rc = new_attr(req, &c, S_IFDIR | (mode & 07777), &c.e);
	}
	if (rc == 0)
		rc = store_put_attr(c.fs, c.b, c.key, c.klen, &c.e.attr, NULL, 0);
	change_finish_new(req, &c, rc);
}

/* A file being unlinked while open keeps its contents for its readers. */
static int keep_open_contents(fs_t *fs, const uint8_t *key, size_t klen)
{
	fs_node *n = inode_find(fs, key, klen, false);
	if (n == NULL)
		return 0;
	pthread_mutex_lock(&n->mu);
	int rc = 0;
	if (n->handles > 0 && n->buf == NULL)
		rc = file_load_locked(fs, n, key, klen);
	pthread_mutex_unlock(&n->mu);
	return rc;
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	change c;
	int rc = change_begin(req, &c, parent, name);
	if (rc == 0 && c.e.type == 0)
		rc = -ENOENT;
	if (rc == 0 && c.e.type == S_IFDIR)
		rc = -EISDIR;
	if (rc == 0)
		rc = delete_entry(c.fs, c.b, c.key, c.klen, &c.e);
	/* The directory's times change, and one that existed only because
	 * keys lay below it gets a marker, so it stays when its last entry
	 * goes. */
	if (rc == 0)
		rc = store_touch_dir(c.fs, c.b, c.parent->key, c.parent->klen, 0);
	if (rc == 0)
		rc = keep_open_contents(c.fs, c.key, c.klen);
	if (rc == 0)
		rc = commit(c.fs, c.b, c.key, c.klen);
	if (rc == 0)
		inode_unlink(c.fs, c.key, c.klen, false);
	fuse_reply_err(req, -rc);
	change_end(&c);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	change c;
	int rc = change_begin(req, &c, parent, name);
	if (rc == 0 && c.e.type == 0)
		rc = -ENOENT;
	if (rc == 0 && c.e.type != S_IFDIR)
		rc = -ENOTDIR;
	if (rc == 0) {
		int ne = store_dir_nonempty(c.fs, c.key, c.klen);
		rc = ne < 0 ? ne : ne > 0 ? -ENOTEMPTY : 0;
	}
	if (rc == 0)
		rc = delete_entry(c.fs, c.b, c.key, c.klen, &c.e);
	if (rc == 0)
		rc = store_touch_dir(c.fs, c.b, c.parent->key, c.parent->klen, -1);
	if (rc == 0)
		rc = commit(c.fs, c.b, c.key, c.klen);
	if (rc == 0)
		inode_unlink(c.fs, c.key, c.klen, true);
	fuse_reply_err(req, -rc);
	change_end(&c);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	change c;
	int rc = change_begin(req, &c, parent, name);
	if (rc == 0)
		rc = change_new_key(&c, name, false);
	size_t tlen = strlen(link);
	if (rc == 0 && tlen >= 4096)
		rc = -ENAMETOOLONG;
	if (rc == 0) {
		c.e = (fs_entry){ .size = tlen };
		rc = new_attr(req, &c, S_IFLNK | 0777, &c.e);
	}
	if (rc == 0)
		rc = store_put_attr(c.fs, c.b, c.key, c.klen, &c.e.attr, link, tlen);
	change_finish_new(req, &c, rc);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	fs_entry e;
	int rc = n ? node_entry(fs, n, &e) : -ESTALE;
	if (rc == 0 && e.type != S_IFLNK)
		rc = -EINVAL;
	if (rc == 0)
		fuse_reply_readlink(req, (const char *)e.target);
	else
		fuse_reply_err(req, -rc);
	if (rc == 0 || rc == -EINVAL)
		store_entry_free(&e);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	change c;
	int rc = change_begin(req, &c, parent, name);
	if (rc == 0)
		rc = change_new_key(&c, name, false);
	if (rc == 0) {
		c.e = (fs_entry){ 0 };
		rc = new_attr(req, &c, mode, &c.e);
		c.e.attr.rdev = rdev;
	}
	if (rc == 0) {
		if (S_ISREG(mode)) {
			c.e.has_value = true;
			rc = wb_batch_put(c.b, c.key, c.klen, "", 0) == WB_OK ? 0 : -ENOMEM;
		}
	}
	if (rc == 0)
		rc = store_put_attr(c.fs, c.b, c.key, c.klen, &c.e.attr, NULL, 0);
	change_finish_new(req, &c, rc);
}

/* Adds to b what makes the file at skey (entry se) a hard link's name:
 * its attributes move to the inode record its names share, and its own
 * record, and the new name's at nkey, point there. */
static int share_attr(fs_t *fs, wb_batch *b, fs_entry *se, const uint8_t *skey, size_t sklen,
		      const uint8_t *nkey, size_t nklen)
{
	uint8_t link[ATTR_LINK_LEN];
	size_t llen = attr_encode_link(se->attr.ino, link);
	se->attr.shared = true;
	se->attr.ctime_ns = attr_now_ns();
	se->nlink++;
	if (se->type != S_IFREG) /* no object to count its names */
		se->attr.links = se->nlink;
	int rc = store_put_attr(fs, b, skey, sklen, &se->attr, se->target, se->target_len);
	for (int i = 0; rc == 0 && i < 2; i++) {
		const uint8_t *k = i == 0 ? skey : nkey;
		size_t kl = i == 0 ? sklen : nklen, ml;
		uint8_t *mk = attr_key(META_ATTR, k, kl, NULL, &ml);
		rc = mk ? errmap(wb_batch_put_ks(b, WB_KS_META, mk, ml, link, llen), "link", k, kl)
			: -ENOMEM;
		free(mk);
	}
	return rc;
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL || n->dir) {
		fuse_reply_err(req, n ? EPERM : ESTALE);
		return;
	}
	/* What was written to it goes to the store first: the new name links
	 * the stored contents, and later writes, through either name, change
	 * them in place (a patch), so both read them. */
	pthread_mutex_lock(&n->commit_mu);
	int crc = fs->ro ? 0 : file_commit(fs, n);
	change c;
	fs_entry se = { 0 };
	int rc = change_begin(req, &c, newparent, newname);
	if (rc == 0)
		rc = crc;
	if (rc == 0 && c.e.type != 0)
		rc = -EEXIST;
	if (rc == 0 && n->unlinked)
		rc = -ENOENT;
	if (rc == 0) /* under ns_mu: n's key holds still */
		rc = store_entry(fs, n->key, n->klen, false, &se);
	if (rc == 0 && se.type == 0)
		rc = -ENOENT;
	/* The file with the empty name has no record to point with. */
	if (rc == 0 && !key_has_meta(n->key, n->klen, false))
		rc = -EPERM;
	if (rc == 0 && se.nlink >= UINT32_MAX - 1)
		rc = -EMLINK;
	if (rc == 0)
		rc = change_new_key(&c, newname, false);
	/* A regular file's contents are shared by the engine; a symlink,
	 * fifo or device is all in the record the names share. */
	if (rc == 0 && se.type == S_IFREG)
		rc = errmap(wb_batch_link(fs->db, c.b, n->key, n->klen, c.key, c.klen), "link",
			    c.key, c.klen);
	if (rc == 0)
		rc = share_attr(fs, c.b, &se, n->key, n->klen, c.key, c.klen);
	if (rc == 0)
		rc = commit(fs, c.b, c.key, c.klen);
	if (rc == 0) {
		/* The kernel keeps the old name's attributes (nlink 1) for
		 * their timeout: they changed. Attributes only, no page lock
		 * taken, so it may be told before the reply. */
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
		store_entry_free(&c.e);
		c.e = se;
		se = (fs_entry){ 0 };
	}
	store_entry_free(&se);
	if (rc == 0)
		reply_entry(req, fs, c.key, c.klen, &c.e);
	else
		fuse_reply_err(req, -rc);
	change_end(&c);
	pthread_mutex_unlock(&n->commit_mu);
}

/* ---- rename ---- */

/* How a move treats each key: delete it, put a copy of its value under
 * the new key, or both at once by pointer (wb_batch_move: a value-log value
 * is not copied, whatever its size). */
enum move_op { MOVE_DELETE, MOVE_PUT, MOVE_POINTER };

/* Adds to b the move (one op of it) of every key of keyspace ks that is
 * `from` or, when prefix, starts with it, to start with `to` instead. Every
 * op reads the store as it is before the batch, so an exchange can put both
 * sides' deletions first and both sides' puts after them. */
static int move_keys(fs_t *fs, wb_batch *b, unsigned ks, const uint8_t *from, size_t flen,
		     const uint8_t *to, size_t tlen, bool prefix, enum move_op op)
{
	wb_iter_options io = { .keyspace = ks, .prefix = from, .prefix_len = flen };
	wb_iter *it;
	int rc = wb_iter_new(fs->db, &io, &it);
	if (rc != WB_OK)
		return errmap(rc, "iterate", from, flen);
	uint8_t *nk = NULL;
	size_t ncap = 0;
	for (wb_iter_seek_first(it); rc == WB_OK && wb_iter_valid(it); wb_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = wb_iter_key(it, &kl);
		if (!prefix && kl != flen)
			break; /* only the exact key, which sorts first */
		if (op == MOVE_DELETE) {
			rc = wb_batch_delete_ks(b, ks, k, kl);
			continue;
		}
		size_t nl = tlen + kl - flen;
		if (nl > ncap) {
			uint8_t *p = realloc(nk, nl);
			if (p == NULL) {
				rc = WB_ENOMEM;
				break;
			}
			nk = p;
			ncap = nl;
		}
		memcpy(nk, to, tlen);
		memcpy(nk + tlen, k + flen, kl - flen);
		if (op == MOVE_POINTER) {
			rc = wb_batch_move_ks(fs->db, b, ks, k, kl, nk, nl);
		} else {
			const void *v = wb_iter_value(it, &vl);
			rc = v ? wb_batch_put_ks(b, ks, nk, nl, v, vl) : wb_iter_status(it);
		}
	}
	if (rc == WB_OK)
		rc = wb_iter_status(it);
	wb_iter_free(it);
	free(nk);
	return rc == WB_OK ? 0 : errmap(rc, "move", from, flen);
}

/* Adds to b one op of moving the entry at node key `from` to `to`: its
 * value, record and xattrs, and for a directory everything below it. */
static int move_entry(fs_t *fs, wb_batch *b, const uint8_t *from, size_t flen, bool dir,
		      const uint8_t *to, size_t tlen, enum move_op op)
{
	int rc = move_keys(fs, b, WB_KS_USER, from, flen, to, tlen, dir, op);
	for (int i = 0; rc == 0 && key_has_meta(from, flen, dir) && i < 2; i++) {
		char tag = i == 0 ? META_ATTR : META_XATTR;
		/* A file's xattrs are 'X' key 0x00 name: end the prefix at the NUL. */
		const char *nul = !dir && tag == META_XATTR ? "" : NULL;
		size_t fl, tl;
		uint8_t *fk = attr_key(tag, from, flen, nul, &fl);
		uint8_t *tk = attr_key(tag, to, tlen, nul, &tl);
		rc = fk && tk ? move_keys(fs, b, WB_KS_META, fk, fl, tk, tl, dir || nul, op) : -ENOMEM;
		free(fk);
		free(tk);
	}
	return rc;
}

/* Adds to b the swap of two entries (RENAME_EXCHANGE). a_to/b_to are the
 * keys each takes at the other's name (a file and a directory swap key
 * forms). */
static int exchange(fs_t *fs, wb_batch *b, const uint8_t *a, size_t alen, bool adir,
		    const uint8_t *a_to, size_t a_tolen, const uint8_t *bk, size_t blen, bool bdir,
		    const uint8_t *b_to, size_t b_tolen)
{
	int rc = move_entry(fs, b, a, alen, adir, a_to, a_tolen, MOVE_DELETE);
	if (rc == 0)
		rc = move_entry(fs, b, bk, blen, bdir, b_to, b_tolen, MOVE_DELETE);
	if (rc == 0)
		rc = move_entry(fs, b, a, alen, adir, a_to, a_tolen, MOVE_PUT);
	if (rc == 0)
		rc = move_entry(fs, b, bk, blen, bdir, b_to, b_tolen, MOVE_PUT);
	return rc;
}

static bool has_prefix(const uint8_t *k, size_t klen, const uint8_t *p, size_t plen)
{
	return klen > plen && memcmp(k, p, plen) == 0;
}

/* Checks a rename of the entry c (at c->key) onto target te at tkey. */
static int rename_check(change *c, const fs_entry *te, const uint8_t *tkey, size_t tklen,
			unsigned flags)
{
	bool is_dir = c->e.type == S_IFDIR;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (te->type == 0)
		return flags & RENAME_EXCHANGE ? -ENOENT : 0;
	if (flags & RENAME_NOREPLACE)
		return -EEXIST;
	if (flags & RENAME_EXCHANGE)
		return 0;
	if (is_dir && te->type != S_IFDIR)
		return -ENOTDIR;
	if (!is_dir && te->type == S_IFDIR)
		return -EISDIR;
	if (te->type == S_IFDIR) {
		int ne = store_dir_nonempty(c->fs, tkey, tklen);
		return ne < 0 ? ne : ne > 0 ? -ENOTEMPTY : 0;
	}
	return 0;
}

/* Adds to b the record of entry e at the key `to` it is renamed to: its
 * inode number and the rest kept, ctime now. (One that had no record gets
 * one, keeping the number derived from its old key.) After the move. */
static int renamed_attr(fs_t *fs, wb_batch *b, const fs_entry *e, const uint8_t *to, size_t tlen)
{
	if (!key_has_meta(to, tlen, e->type == S_IFDIR))
		return 0;
	fs_attr a = e->attr;
	a.ctime_ns = attr_now_ns();
	return store_put_attr(fs, b, to, tlen, &a, e->target, e->target_len);
}

/* The times and subdirectory counts of both directories of a rename. */
static int rename_touch(change *c, fs_node *np, const fs_entry *te, unsigned flags)
{
	int sdir = c->e.type == S_IFDIR, tdir = te->type == S_IFDIR;
	int d_old = -sdir + ((flags & RENAME_EXCHANGE) ? tdir : 0);
	int d_new = sdir - tdir; /* a directory replaced or swapped out leaves it */
	if (np == c->parent)
		return store_touch_dir(c->fs, c->b, np->key, np->klen, d_old + d_new);
	int rc = store_touch_dir(c->fs, c->b, c->parent->key, c->parent->klen, d_old);
	return rc ? rc : store_touch_dir(c->fs, c->b, np->key, np->klen, d_new);
}

/* Fills c->b with the rename of c's entry onto te at tkey (checked). */
static int rename_batch(change *c, fs_node *np, const char *name, const char *newname,
			const fs_entry *te, const uint8_t *tkey, size_t tklen, unsigned flags)
{
	bool sdir = c->e.type == S_IFDIR, tdir = te->type == S_IFDIR;
	int rc = rename_touch(c, np, te, flags);
	if (rc == 0 && (flags & RENAME_EXCHANGE)) {
		uint8_t *a_to = NULL, *b_to = NULL;
		size_t a_tolen, b_tolen;
		rc = store_child_key(np, newname, sdir, &a_to, &a_tolen);
		if (rc == 0)
			rc = store_child_key(c->parent, name, tdir, &b_to, &b_tolen);
		if (rc == 0)
			rc = exchange(c->fs, c->b, c->key, c->klen, sdir, a_to, a_tolen, tkey, tklen,
				      tdir, b_to, b_tolen);
		if (rc == 0)
			rc = renamed_attr(c->fs, c->b, &c->e, a_to, a_tolen);
		if (rc == 0)
			rc = renamed_attr(c->fs, c->b, te, b_to, b_tolen);
		free(a_to);
		free(b_to);
	} else if (rc == 0) {
		if (te->type != 0)
			rc = delete_entry(c->fs, c->b, tkey, tklen, te);
		if (rc == 0)
			rc = move_entry(c->fs, c->b, c->key, c->klen, sdir, tkey, tklen, MOVE_POINTER);
		if (rc == 0)
			rc = renamed_attr(c->fs, c->b, &c->e, tkey, tklen);
	}
	return rc;
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	change c;
	int rc = change_begin(req, &c, parent, name);
	fs_node *np = rc == 0 ? inode_get(c.fs, newparent) : NULL;
	fs_entry te = { 0 };
	uint8_t *tkey = NULL, *a_to = NULL, *b_to = NULL;
	size_t tklen = 0, a_tolen = 0, b_tolen = 0;
	if (rc == 0 && c.e.type == 0)
		rc = -ENOENT;
	if (rc == 0 && (np == NULL || np->unlinked))
		rc = np ? -ENOENT : -ESTALE;
	if (rc == 0) {
		rc = store_resolve(c.fs, np, newname, &tkey, &tklen, &te);
		if (rc == -ENOENT)
			rc = store_child_key(np, newname, c.e.type == S_IFDIR, &tkey, &tklen);
	}
	bool sdir = c.e.type == S_IFDIR, tdir = te.type == S_IFDIR;
	if (rc == 0)
		rc = rename_check(&c, &te, tkey, tklen, flags);
	/* Onto the file with the empty name (it can have no records): only
	 * what can be created there may go there. */
	if (rc == 0 && !key_has_meta(tkey, tklen, tdir || (te.type == 0 && sdir)))
		rc = -EINVAL;
	/* A directory cannot move below itself (nor swap with its own child). */
	if (rc == 0 && ((sdir && has_prefix(tkey, tklen, c.key, c.klen)) ||
			((flags & RENAME_EXCHANGE) && tdir && has_prefix(c.key, c.klen, tkey, tklen))))
		rc = -EINVAL;
	if (rc == 0 && tklen == c.klen && memcmp(tkey, c.key, c.klen) == 0 &&
	    (te.type == 0 || tdir == sdir)) {
		fuse_reply_err(req, 0); /* the same entry: nothing to do */
		goto out;
	}
	if (rc == 0 && !(flags & RENAME_EXCHANGE) && c.e.attr.shared && te.attr.shared &&
	    c.e.attr.ino == te.attr.ino) {
		fuse_reply_err(req, 0); /* two names of one file: POSIX leaves both */
		goto out;
	}
	/* A value-log reclaim that moved a value between reading its pointer
	 * and the write makes the write fail with EAGAIN: build it again. */
	for (int attempt = 0; rc == 0; attempt++) {
		wb_batch_clear(c.b);
		rc = rename_batch(&c, np, name, newname, &te, tkey, tklen, flags);
		if (rc == 0)
			rc = commit(c.fs, c.b, c.key, c.klen);
		if (rc != -EAGAIN || attempt == 8)
			break;
		rc = 0;
	}
	if (rc == 0 && (flags & RENAME_EXCHANGE)) {
		rc = store_child_key(np, newname, sdir, &a_to, &a_tolen);
		if (rc == 0)
			rc = store_child_key(c.parent, name, tdir, &b_to, &b_tolen);
	}
	if (rc == 0 && (flags & RENAME_EXCHANGE)) {
		rc = inode_exchange(c.fs, c.key, c.klen, sdir, a_to, a_tolen, tkey, tklen, tdir, b_to,
				    b_tolen);
	} else if (rc == 0) {
		if (te.type != 0)
			inode_unlink(c.fs, tkey, tklen, tdir);
		rc = inode_rename(c.fs, c.key, c.klen, sdir, tkey, tklen);
	}
	fuse_reply_err(req, -rc);
out:
	store_entry_free(&te);
	free(tkey);
	free(a_to);
	free(b_to);
	change_end(&c);
}

/* ---- the rest ---- */

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	if (statvfs(req_fs(req)->dbdir, &sv) != 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = NAME_MAX_LEN;
	sv.f_fsid = 0;
	fuse_reply_statfs(req, &sv);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	/* default_permissions: the kernel checks the mode bits itself. */
	fs_t *fs = req_fs(req);
	if ((mask & W_OK) && fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fuse_reply_err(req, inode_get(fs, ino) ? 0 : ESTALE);
}

void ops_dir_init(struct fuse_lowlevel_ops *ops)
{
	ops->lookup = op_lookup;
	ops->forget = op_forget;
	ops->forget_multi = op_forget_multi;
	ops->getattr = op_getattr;
	ops->opendir = op_opendir;
	ops->readdir = op_readdir;
	ops->readdirplus = op_readdirplus;
	ops->releasedir = op_releasedir;
	ops->fsyncdir = op_fsyncdir;
	ops->mkdir = op_mkdir;
	ops->rmdir = op_rmdir;
	ops->unlink = op_unlink;
	ops->rename = op_rename;
	ops->symlink = op_symlink;
	ops->readlink = op_readlink;
	ops->mknod = op_mknod;
	ops->link = op_link;
	ops->statfs = op_statfs;
	ops->access = op_access;
}
