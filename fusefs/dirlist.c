/*
 * dirlist.c -- streaming the children of a directory (dirlist.h).
 */
#include "dirlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"

/* One keyspace's side of the listing. */
typedef struct side {
	wb_iter *it;
	size_t skip; /* bytes before the child's part of a key: tag + dirkey */
	uint8_t *prefix; /* tag + dirkey */
	size_t plen;
} side;

struct dirlist {
	fs_t *fs;
	side user, meta;
	uint8_t *dirkey;
	size_t dlen;
	uint8_t *scratch; /* keys handed out and seek targets */
	size_t scap;
};

static int side_open(fs_t *fs, side *s, unsigned ks, uint8_t *prefix, size_t plen)
{
	s->prefix = prefix;
	s->plen = plen;
	s->skip = plen;
	wb_iter_options io = { .keyspace = ks, .prefix = prefix, .prefix_len = plen };
	int rc = wb_iter_new(fs->db, &io, &s->it);
	if (rc != WB_OK)
		return errmap(rc, "list", prefix, plen);
	wb_iter_seek_first(s->it);
	return 0;
}

int dirlist_open(fs_t *fs, const uint8_t *dirkey, size_t dlen, dirlist **out)
{
	dirlist *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->fs = fs;
	d->dlen = dlen;
	d->dirkey = malloc(dlen + 1);
	size_t mlen;
	uint8_t *mprefix = attr_key(META_ATTR, dirkey, dlen, NULL, &mlen);
	if (d->dirkey == NULL || mprefix == NULL) {
		free(mprefix);
		dirlist_close(d);
		return -ENOMEM;
	}
	memcpy(d->dirkey, dirkey, dlen);
	int rc = side_open(fs, &d->user, WB_KS_USER, d->dirkey, dlen);
	d->meta.prefix = mprefix; /* owned even if the open fails */
	if (rc == 0)
		rc = side_open(fs, &d->meta, WB_KS_META, mprefix, mlen);
	if (rc == 0 && wb_iter_valid(d->meta.it)) {
		size_t kl;
		wb_iter_key(d->meta.it, &kl);
		if (kl == mlen) /* the directory's own marker */
			wb_iter_next(d->meta.it);
	}
	if (rc != 0) {
		dirlist_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

void dirlist_close(dirlist *d)
{
	if (d == NULL)
		return;
	wb_iter_free(d->user.it);
	wb_iter_free(d->meta.it);
	free(d->meta.prefix);
	free(d->dirkey);
	free(d->scratch);
	free(d);
}

/* The child part of the side's current key: component + '/' for a
 * directory (*len covers it), or the whole rest for a file. */
static bool side_child(side *s, const uint8_t **child, size_t *len, bool *is_dir)
{
	if (s->it == NULL || !wb_iter_valid(s->it))
		return false;
	size_t kl;
	const uint8_t *k = wb_iter_key(s->it, &kl);
	*child = k + s->skip;
	size_t rest = kl - s->skip;
	const uint8_t *slash = memchr(*child, '/', rest);
	*is_dir = slash != NULL;
	*len = slash ? (size_t)(slash - *child) + 1 : rest;
	return true;
}

static int cmp_child(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

static int reserve(dirlist *d, size_t n)
{
	return grow_array((void **)&d->scratch, &d->scap, n, 1) ? 0 : -ENOMEM;
}

/* Seeks the side to the first key after the subtree child (ends with '/'). */
static int side_skip_subtree(side *s, const uint8_t *child, size_t clen)
{
	size_t n = s->plen + clen;
	uint8_t *t = malloc(n);
	if (t == NULL)
		return -ENOMEM;
	memcpy(t, s->prefix, s->plen);
	memcpy(t + s->plen, child, clen);
	t[n - 1] = '/' + 1; /* just past every key with child as its prefix */
	wb_iter_seek(s->it, t, n);
	free(t);
	return 0;
}

/* Is there a directory child "c/" on this side, whose position is now
 * just past the file c? -1 unknown (needs a probe), 0 no, 1 yes. */
static int side_has_dir(side *s, const uint8_t *c, size_t clen)
{
	if (s->it == NULL || !wb_iter_valid(s->it))
		return 0;
	size_t kl;
	const uint8_t *k = wb_iter_key(s->it, &kl);
	const uint8_t *child = k + s->skip;
	size_t rest = kl - s->skip;
	if (rest <= clen || memcmp(child, c, clen) != 0)
		return 0; /* nothing between c and c/ here, so no c/ */
	return child[clen] == '/' ? 1 : -1;
}

int dirlist_next(dirlist *d, dirlist_entry *out)
{
	for (;;) {
		const uint8_t *uc = NULL, *mc = NULL;
		size_t ul = 0, ml = 0;
		bool ud = false, md = false;
		bool hu = side_child(&d->user, &uc, &ul, &ud);
		bool hm = side_child(&d->meta, &mc, &ml, &md);
		int rc = wb_iter_status(d->user.it);
		if (rc == WB_OK)
			rc = wb_iter_status(d->meta.it);
		if (rc != WB_OK)
			return errmap(rc, "list", d->dirkey, d->dlen);
		if (!hu && !hm)
			return 0;
		int c = !hu ? 1 : !hm ? -1 : cmp_child(uc, ul, mc, ml);
		bool from_user = c <= 0, from_meta = c >= 0;
		const uint8_t *child = from_user ? uc : mc;
		size_t clen = from_user ? ul : ml;
		bool is_dir = from_user ? ud : md;

		if (reserve(d, d->dlen + clen + 1) != 0)
			return -ENOMEM;
		memcpy(d->scratch, d->dirkey, d->dlen);
		memcpy(d->scratch + d->dlen, child, clen);
		child = d->scratch + d->dlen; /* the iterators' keys change as they move */
		memset(out, 0, sizeof(*out));
		out->key = d->scratch;
		out->klen = d->dlen + clen;
		fs_entry *e = &out->e;

		if (is_dir) {
			/* Its marker, if any, is exactly the meta side's current key. */
			size_t kl = 0;
			const void *rec = NULL;
			size_t rlen = 0;
			if (from_meta) {
				wb_iter_key(d->meta.it, &kl);
				if (kl == d->meta.skip + ml)
					rec = wb_iter_value(d->meta.it, &rlen);
			}
			e->type = S_IFDIR;
			if (rec && attr_decode(rec, rlen, &e->attr, NULL, NULL)) {
				e->has_record = true;
			} else {
				e->attr = store_default_attr(d->fs, S_IFDIR, d->fs->mount_ns);
			}
			e->attr.mode = (e->attr.mode & 07777) | S_IFDIR;
			e->size = 4096;
			names_encode(child, clen - 1, false, out->name);
			store_entry_ids(out->key, out->klen, e);
			if (from_user && (rc = side_skip_subtree(&d->user, child, clen)) != 0)
				return rc;
			if (from_meta && (rc = side_skip_subtree(&d->meta, child, clen)) != 0)
				return rc;
			return 1;
		}

		/* A file (or symlink, fifo, ...): the record and the value. */
		if (from_meta) {
			size_t rlen;
			const void *rec = wb_iter_value(d->meta.it, &rlen);
			void *shared = NULL; /* a hard link's: the inode record */
			uint64_t ino;
			if (attr_decode_link(rec, rlen, &ino)) {
				if ((rc = store_inode_record(d->fs, ino, &shared, &rlen)) != 0)
					return rc;
				rec = shared;
			}
			e->has_record = attr_decode(rec, rlen, &e->attr, NULL, NULL);
			e->attr.shared = shared != NULL;
			if (e->attr.shared && e->attr.links)
				e->nlink = e->attr.links;
			if (e->has_record && (e->attr.mode & S_IFMT) == S_IFLNK)
				e->size = attr_target_len(rec, rlen);
			wb_free(shared);
			wb_iter_next(d->meta.it);
		}
		if (from_user) {
			e->has_value = true;
			e->size = wb_iter_value_size(d->user.it); /* not the bytes */
			if (!e->has_record)
				e->attr = store_default_attr(d->fs, S_IFREG,
							     attr_ts_ns(wb_iter_ts(d->user.it)));
			wb_iter_next(d->user.it);
		}
		wb_key_info ki;
		if (e->attr.shared && e->has_value &&
		    wb_stat_key(d->fs->db, out->key, out->klen, &ki) == WB_OK)
			e->nlink = ki.links; /* the names a hard-linked file has */
		e->type = e->attr.mode & S_IFMT;
		if (e->type == S_IFREG && !e->has_value)
			continue; /* a record whose file was deleted through the API */
		if (e->type == S_IFDIR)
			continue; /* malformed: a directory record without its '/' */
		/* Shadowed by a directory of the same name? */
		int du = side_has_dir(&d->user, child, clen);
		int dm = side_has_dir(&d->meta, child, clen);
		bool shadowed = du == 1 || dm == 1;
		if (!shadowed && (du < 0 || dm < 0)) {
			d->scratch[out->klen] = '/';
			int ne = store_dir_nonempty(d->fs, d->scratch, out->klen + 1);
			if (ne < 0)
				return ne;
			bool found = false;
			fs_attr a;
			if (ne == 0 && (rc = store_get_attr(d->fs, d->scratch, out->klen + 1, &a,
							    &found)) != 0)
				return rc;
			shadowed = ne > 0 || found;
		}
		names_encode(child, clen, shadowed, out->name);
		store_entry_ids(out->key, out->klen, e);
		return 1;
	}
}
