/*
 * store.c -- what the store says about an entry: does it exist, is it a
 * file or a directory, its attributes (fs.h, attr.h).
 *
 * A directory exists when mkdir left its marker ('A' dirkey) or when any
 * key, user or metadata, lies below it. A non-directory exists when its
 * user key does (a regular file) or its 'A' record does (any type; a
 * symlink or fifo has no user key). A plain name that is both a directory
 * and a file shows the directory; the file is reached by its shadow name
 * (names.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirlist.h"
#include "fs.h"

void store_entry_free(fs_entry *e)
{
	free(e->target);
	e->target = NULL;
}

int store_inode_record(fs_t *fs, uint64_t ino, void **rec, size_t *rlen)
{
	uint8_t ik[ATTR_INODE_KEY_LEN];
	attr_inode_key(ino, ik);
	int rc = wb_get_ks(fs->db, WB_KS_META, ik, sizeof(ik), rec, rlen);
	if (rc == WB_ENOTFOUND)
		rc = WB_ECORRUPT; /* a link record with no inode record */
	return rc == WB_OK ? 0 : errmap(rc, "inode record", ik, sizeof(ik));
}

/* The attribute record of node key `key` (wb_free it), or *rec NULL when
 * it has none. A link record is followed to the inode record its names
 * share (*shared). */
static int get_record(fs_t *fs, const uint8_t *key, size_t klen, void **rec, size_t *rlen,
		      bool *shared)
{
	*rec = NULL;
	*shared = false;
	size_t mlen;
	uint8_t *mk = attr_key(META_ATTR, key, klen, NULL, &mlen);
	if (mk == NULL)
		return -ENOMEM;
	int rc = wb_get_ks(fs->db, WB_KS_META, mk, mlen, rec, rlen);
	free(mk);
	if (rc != WB_OK) {
		*rec = NULL;
		return rc == WB_ENOTFOUND ? 0 : errmap(rc, "read attributes", key, klen);
	}
	uint64_t ino;
	if (!attr_decode_link(*rec, *rlen, &ino))
		return 0;
	wb_free(*rec);
	*rec = NULL;
	*shared = true;
	return store_inode_record(fs, ino, rec, rlen);
}

int store_get_attr(fs_t *fs, const uint8_t *key, size_t klen, fs_attr *a, bool *found)
{
	void *rec;
	size_t rlen;
	bool shared;
	*found = false;
	int rc = get_record(fs, key, klen, &rec, &rlen, &shared);
	if (rc == 0 && rec != NULL) {
		*found = attr_decode(rec, rlen, a, NULL, NULL);
		a->shared = shared;
		rc = *found ? 0 : errmap(WB_ECORRUPT, "attribute record", key, klen);
	}
	wb_free(rec);
	return rc;
}

/* 1 when some key of keyspace ks starts with prefix, 0 when none. */
static int prefix_exists(fs_t *fs, unsigned ks, const uint8_t *prefix, size_t plen)
{
	wb_iter_options io = { .keyspace = ks, .prefix = prefix, .prefix_len = plen };
	wb_iter *it;
	int rc = wb_iter_new(fs->db, &io, &it);
	if (rc != WB_OK)
		return errmap(rc, "iterate", prefix, plen);
	wb_iter_seek_first(it);
	rc = wb_iter_valid(it) ? 1 : wb_iter_status(it);
	wb_iter_free(it);
	return rc >= 0 ? rc : errmap(rc, "iterate", prefix, plen);
}

int store_dir_nonempty(fs_t *fs, const uint8_t *dirkey, size_t dlen)
{
	int rc = prefix_exists(fs, WB_KS_USER, dirkey, dlen); /* root: dlen 0, any key */
	if (rc != 0)
		return rc;
	/* Metadata below it, but not the directory's own marker. */
	size_t mlen;
	uint8_t *mk = attr_key(META_ATTR, dirkey, dlen, NULL, &mlen);
	if (mk == NULL)
		return -ENOMEM;
	wb_iter_options io = { .keyspace = WB_KS_META, .prefix = mk, .prefix_len = mlen };
	wb_iter *it;
	rc = wb_iter_new(fs->db, &io, &it);
	if (rc == WB_OK) {
		wb_iter_seek_first(it);
		size_t kl = 0;
		if (wb_iter_valid(it))
			wb_iter_key(it, &kl);
		if (kl == mlen) /* the marker itself: look past it */
			wb_iter_next(it);
		rc = wb_iter_valid(it) ? 1 : wb_iter_status(it);
		wb_iter_free(it);
	}
	free(mk);
	return rc >= 0 ? rc : errmap(rc, "iterate", dirkey, dlen);
}

static int dir_entry(fs_t *fs, const uint8_t *key, size_t klen, fs_entry *e)
{
	bool found;
	int rc = store_get_attr(fs, key, klen, &e->attr, &found);
	if (rc == -EIO && klen == 0)
		rc = 0; /* (logged) the root stays reachable, with default attributes */
	if (rc != 0)
		return rc;
	if (!found) {
		rc = klen == 0 ? 1 : store_dir_nonempty(fs, key, klen);
		if (rc <= 0)
			return rc;
		e->attr = store_default_attr(fs, S_IFDIR, fs->mount_ns);
	}
	e->has_record = found;
	e->type = S_IFDIR;
	e->attr.mode = (e->attr.mode & 07777) | S_IFDIR;
	e->size = 4096;
	store_entry_ids(key, klen, e);
	return 0;
}

int store_entry(fs_t *fs, const uint8_t *key, size_t klen, bool dir, fs_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (dir)
		return dir_entry(fs, key, klen, e);
	if (klen == 0)
		return 0; /* no key is empty */
	int rc = 0;
	void *rec = NULL;
	size_t rlen;
	bool shared = false;
	if (key_has_meta(key, klen, false) &&
	    (rc = get_record(fs, key, klen, &rec, &rlen, &shared)) != 0)
		return rc;
	if (rec != NULL) {
		const uint8_t *t;
		size_t tlen;
		if (!attr_decode(rec, rlen, &e->attr, &t, &tlen)) {
			wb_free(rec);
			return errmap(WB_ECORRUPT, "attribute record", key, klen);
		}
		e->attr.shared = shared;
		e->has_record = true;
		if (shared && e->attr.links)
			e->nlink = e->attr.links; /* a symlink's, fifo's or device's names */
		e->type = e->attr.mode & S_IFMT;
		if (e->type == S_IFLNK) {
			e->target = malloc(tlen + 1);
			if (e->target == NULL) {
				wb_free(rec);
				return -ENOMEM;
			}
			memcpy(e->target, t, tlen);
			e->target[tlen] = '\0';
			e->target_len = tlen;
			e->size = tlen;
		}
		wb_free(rec);
		if (e->type != S_IFREG) {
			store_entry_ids(key, klen, e);
			return 0;
		}
	}
	wb_key_info ki;
	rc = wb_stat_key(fs->db, key, klen, &ki);
	if (rc == WB_ENOTFOUND) {
		if (e->has_record) /* a record whose file is gone: nothing there */
			e->type = 0;
		return 0;
	}
	if (rc != WB_OK)
		return errmap(rc, "stat", key, klen);
	e->has_value = true;
	e->size = ki.value_len;
	e->nlink = ki.links;
	if (!e->has_record) {
		e->type = S_IFREG;
		e->attr = store_default_attr(fs, S_IFREG, attr_ts_ns(ki.ts));
	}
	store_entry_ids(key, klen, e);
	return 0;
}

int store_child_key(fs_node *parent, const char *name, bool is_dir, uint8_t **key, size_t *klen)
{
	uint8_t comp[NAME_BUF];
	size_t clen;
	bool shadowed;
	uint64_t hash;
	if (strlen(name) > NAME_MAX_LEN)
		return -ENAMETOOLONG; /* what every other filesystem says */
	enum name_kind k = names_decode(name, comp, &clen, &shadowed, &hash);
	if (k == NAME_INVALID || k == NAME_LONG || shadowed)
		return -EINVAL;
	if (clen == 0 && !is_dir)
		return -EINVAL; /* its key would be the parent's node key */
	uint8_t *out = malloc(parent->klen + clen + 2);
	if (out == NULL)
		return -ENOMEM;
	memcpy(out, parent->key, parent->klen);
	memcpy(out + parent->klen, comp, clen);
	*klen = parent->klen + clen;
	if (is_dir)
		out[(*klen)++] = '/';
	*key = out;
	return 0;
}

/* Finds the component a long name stands for among parent's children:
 * they all start with the decoded start. */
static int resolve_long(fs_t *fs, fs_node *parent, const uint8_t *start, size_t slen,
			uint64_t hash, uint8_t **key, size_t *klen)
{
	size_t plen = parent->klen + slen;
	uint8_t *prefix = malloc(plen);
	if (prefix == NULL)
		return -ENOMEM;
	memcpy(prefix, parent->key, parent->klen);
	memcpy(prefix + parent->klen, start, slen);
	int rc = -ENOENT;
	for (unsigned ks = WB_KS_USER; ks <= WB_KS_META && rc == -ENOENT; ks++) {
		uint8_t *p = prefix;
		size_t pl = plen;
		if (ks == WB_KS_META && (p = attr_key(META_ATTR, prefix, plen, NULL, &pl)) == NULL)
			break;
		size_t skip = ks == WB_KS_META ? 1 : 0; /* the tag */
		wb_iter_options io = { .keyspace = ks, .prefix = p, .prefix_len = pl };
		wb_iter *it;
		if (wb_iter_new(fs->db, &io, &it) == WB_OK) {
			for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
				size_t kl;
				const uint8_t *k = wb_iter_key(it, &kl);
				const uint8_t *c = k + skip + parent->klen;
				size_t cl = kl - skip - parent->klen;
				const uint8_t *slash = memchr(c, '/', cl);
				if (slash)
					cl = (size_t)(slash - c);
				if (names_long_match(c, cl, hash)) {
					*klen = parent->klen + cl + (slash ? 1 : 0);
					if ((*key = malloc(*klen)) != NULL) {
						memcpy(*key, k + skip, *klen);
						rc = 0;
					} else {
						rc = -ENOMEM;
					}
					break;
				}
			}
			wb_iter_free(it);
		}
		if (p != prefix)
			free(p);
	}
	free(prefix);
	return rc;
}

int store_resolve(fs_t *fs, fs_node *parent, const char *name, uint8_t **key, size_t *klen,
		  fs_entry *e)
{
	uint8_t comp[NAME_BUF];
	size_t clen;
	bool shadowed;
	uint64_t hash;
	memset(e, 0, sizeof(*e));
	*key = NULL;
	if (strlen(name) > NAME_MAX_LEN)
		return -ENAMETOOLONG; /* no key has such a name (names.h) */
	enum name_kind k = names_decode(name, comp, &clen, &shadowed, &hash);
	if (k == NAME_INVALID)
		return -ENOENT;
	int rc = 0;
	const uint8_t *c = comp;
	uint8_t *found = NULL;
	if (k == NAME_LONG) {
		/* The hash finds the component; then, as for any name, only its
		 * canonical spelling counts, and the shadow mark picks the file
		 * when a directory has the same component. */
		size_t flen = 0;
		rc = resolve_long(fs, parent, comp, clen, hash, &found, &flen);
		if (rc == 0) {
			c = found + parent->klen;
			clen = flen - parent->klen - (found[flen - 1] == '/' ? 1 : 0);
			char canon[NAME_BUF];
			names_encode(c, clen, shadowed, canon);
			if (strcmp(canon, name) != 0)
				rc = -ENOENT;
		}
	}
	uint8_t *dk = rc == 0 ? malloc(parent->klen + clen + 1) : NULL;
	if (rc == 0 && dk == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		memcpy(dk, parent->key, parent->klen);
		memcpy(dk + parent->klen, c, clen);
		dk[parent->klen + clen] = '/';
		*key = dk;
		*klen = parent->klen + clen + 1;
		rc = store_entry(fs, dk, *klen, true, e); /* the directory of that name wins */
		bool is_dir = rc == 0 && e->type != 0;
		if (rc == 0 && (!is_dir || shadowed)) {
			/* The file of that name; with the empty name its key is the
			 * directory's ("t/" is the file %% in t). */
			(*klen)--;
			rc = store_entry(fs, dk, *klen, false, e);
			if (rc == 0 && shadowed && !is_dir)
				e->type = 0; /* a shadow name without its directory */
		}
	}
	free(found);
	if (rc == 0 && e->type == 0)
		rc = -ENOENT;
	if (rc != 0) {
		store_entry_free(e);
		free(*key);
		*key = NULL;
	}
	return rc;
}

fs_attr store_default_attr(const fs_t *fs, mode_t type, int64_t t)
{
	return (fs_attr){ .mode = type | (type == S_IFDIR ? 0755 : 0644), .uid = fs->uid,
			  .gid = fs->gid, .atime_ns = t, .mtime_ns = t, .ctime_ns = t,
			  .subdirs = ATTR_SUBDIRS_UNKNOWN };
}

void store_entry_ids(const uint8_t *key, size_t klen, fs_entry *e)
{
	if (e->attr.ino == 0)
		e->attr.ino = attr_derived_ino(key, klen);
	if (e->type == S_IFDIR)
		e->nlink = e->attr.subdirs == ATTR_SUBDIRS_UNKNOWN ? 1 : 2 + e->attr.subdirs;
	else if (e->nlink == 0)
		e->nlink = 1;
}

void store_fill_stat(fs_t *fs, const fs_entry *e, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = e->attr.ino;
	st->st_mode = e->attr.mode;
	st->st_nlink = e->nlink ? e->nlink : 1;
	st->st_uid = e->attr.uid;
	st->st_gid = e->attr.gid;
	st->st_rdev = (dev_t)e->attr.rdev;
	st->st_size = (off_t)e->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((e->size + 511) / 512);
	st->st_atim.tv_sec = e->attr.atime_ns / 1000000000;
	st->st_atim.tv_nsec = e->attr.atime_ns % 1000000000;
	st->st_mtim.tv_sec = e->attr.mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = e->attr.mtime_ns % 1000000000;
	st->st_ctim.tv_sec = e->attr.ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = e->attr.ctime_ns % 1000000000;
}

/* The attribute record of key into a batch (t NULL) or a transaction. */
static int put_attr(fs_t *fs, wb_batch *b, wb_txn *t, const uint8_t *key, size_t klen,
		    const fs_attr *a, const void *target, size_t tlen)
{
	size_t mlen;
	uint8_t *mk = a->shared ? malloc(ATTR_INODE_KEY_LEN) : attr_key(META_ATTR, key, klen, NULL, &mlen);
	uint8_t *rec = malloc(ATTR_FIXED + tlen);
	int rc = -ENOMEM;
	if (mk && a->shared) {
		attr_inode_key(a->ino, mk);
		mlen = ATTR_INODE_KEY_LEN;
	}
	if (mk && rec) {
		/* The first record of an entry keeps the number it showed. */
		fs_attr full = *a;
		if (full.ino == 0)
			full.ino = attr_derived_ino(key, klen);
		if ((full.mode & S_IFMT) != S_IFDIR)
			full.subdirs = 0;
		size_t rlen = attr_encode(&full, target, tlen, rec);
		rc = t ? wb_txn_put_ks(t, WB_KS_META, mk, mlen, rec, rlen)
		       : wb_batch_put_ks(b, WB_KS_META, mk, mlen, rec, rlen);
		rc = rc == WB_OK ? 0 : errmap(rc, "batch", key, klen);
	}
	free(mk);
	free(rec);
	return rc;
}

int store_put_attr(fs_t *fs, wb_batch *b, const uint8_t *key, size_t klen, const fs_attr *a,
		   const void *target, size_t tlen)
{
	return put_attr(fs, b, NULL, key, klen, a, target, tlen);
}

int store_put_attr_txn(fs_t *fs, wb_txn *t, const uint8_t *key, size_t klen, const fs_attr *a,
		       const void *target, size_t tlen)
{
	return put_attr(fs, NULL, t, key, klen, a, target, tlen);
}

/* ---- inode numbers and directory records ---- */

#define INO_RESERVE 4096 /* numbers reserved by one write of 'N' */

int store_ino_init(fs_t *fs)
{
	const uint8_t k = META_NEXT_INO;
	void *v;
	size_t vl;
	int rc = wb_get_ks(fs->db, WB_KS_META, &k, 1, &v, &vl);
	uint64_t next = FUSE_ROOT_ID + 1;
	if (rc == WB_OK) {
		if (vl != 8) {
			wb_free(v);
			return errmap(WB_ECORRUPT, "inode number counter", &k, 1);
		}
		next = 0;
		for (int i = 7; i >= 0; i--)
			next = next << 8 | ((const uint8_t *)v)[i];
		wb_free(v);
	} else if (rc != WB_ENOTFOUND) {
		return errmap(rc, "read the inode number counter", &k, 1);
	}
	fs->ino_next = fs->ino_limit = next;
	return 0;
}

int store_new_ino(fs_t *fs, wb_batch *b, uint64_t *ino)
{
	if (fs->ino_next == fs->ino_limit) {
		if (fs->ino_limit + INO_RESERVE >= ATTR_DERIVED_INO)
			return -ENOSPC; /* 2^62 numbers handed out */
		/* Reserved in the batch that uses the first of them: whatever
		 * survives a crash with a number also kept its reservation. */
		uint8_t k = META_NEXT_INO, v[8];
		uint64_t limit = fs->ino_limit + INO_RESERVE;
		for (int i = 0; i < 8; i++)
			v[i] = (uint8_t)(limit >> (8 * i));
		int rc = wb_batch_put_ks(b, WB_KS_META, &k, 1, v, sizeof(v));
		if (rc != WB_OK)
			return errmap(rc, "batch", &k, 1);
		fs->ino_limit = limit;
	}
	*ino = fs->ino_next++;
	return 0;
}

/* Subdirectories of dkey, counted from a listing. */
static int count_subdirs(fs_t *fs, const uint8_t *dkey, size_t dlen, uint32_t *out)
{
	dirlist *d;
	int rc = dirlist_open(fs, dkey, dlen, &d);
	if (rc != 0)
		return rc;
	dirlist_entry de;
	uint32_t n = 0;
	while ((rc = dirlist_next(d, &de)) > 0)
		n += de.e.type == S_IFDIR;
	dirlist_close(d);
	*out = n;
	return rc;
}

int store_touch_dir(fs_t *fs, wb_batch *b, const uint8_t *dkey, size_t dlen, int dsub)
{
	fs_attr a;
	bool found;
	int rc = store_get_attr(fs, dkey, dlen, &a, &found);
	if (rc != 0)
		return rc;
	if (!found)
		a = store_default_attr(fs, S_IFDIR, fs->mount_ns);
	if (a.subdirs == ATTR_SUBDIRS_UNKNOWN) {
		if ((rc = count_subdirs(fs, dkey, dlen, &a.subdirs)) != 0)
			return rc;
	}
	if (dsub < 0 && a.subdirs < (uint32_t)-dsub)
		a.subdirs = 0; /* counted before keys were added below it by the API */
	else if (a.subdirs + (int64_t)dsub < ATTR_SUBDIRS_UNKNOWN)
		a.subdirs = (uint32_t)((int64_t)a.subdirs + dsub);
	a.mode = (a.mode & 07777) | S_IFDIR;
	a.mtime_ns = a.ctime_ns = attr_now_ns();
	return store_put_attr(fs, b, dkey, dlen, &a, NULL, 0);
}
