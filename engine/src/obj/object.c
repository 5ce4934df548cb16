/*
 * object.c -- objects: the format of their parts, reading them through a
 * view, and the changes a transaction makes to them (object.h).
 *
 * Reads map a byte range onto chunks: each chunk the range touches is one
 * point read of its key (a range read of the chunk's value, inline or in
 * the value log); a chunk that does not exist falls back to the base, then
 * to zeros. Writes read only the chunks they change partly: a write that
 * covers a whole chunk just puts it.
 */
#include <stdlib.h>

#include "obj/object.h"
#include "util/error.h"
#include "util/grow.h"
#include "table/vptr.h"

#define DEFAULT_CHUNK_SHIFT 16

static slice_t part_key(uint8_t *buf, uint64_t id, uint8_t tag)
{
	buf[0] = KS_OBJ;
	put_be64(buf + 1, id);
	buf[9] = tag;
	return slice_make(buf, 10);
}

slice_t obj_header_key(uint8_t *buf, uint64_t id)
{
	return part_key(buf, id, OBJ_TAG_HEADER);
}

slice_t obj_base_key(uint8_t *buf, uint64_t id)
{
	return part_key(buf, id, OBJ_TAG_BASE);
}

slice_t obj_chunk_key(uint8_t *buf, uint64_t id, uint64_t index)
{
	part_key(buf, id, OBJ_TAG_CHUNK);
	put_be64(buf + 10, index);
	return slice_make(buf, OBJ_KEY_MAX);
}

slice_t obj_ref_encode(uint8_t *buf, uint64_t id)
{
	return slice_make(buf, put_varint64(buf, id));
}

bool obj_ref_decode(slice_t payload, uint64_t *id)
{
	const uint8_t *end = payload.data + payload.len;
	const uint8_t *q = get_varint64(payload.data, end, id);
	return q != NULL && q == end && *id != 0;
}

slice_t obj_header_encode(uint8_t *buf, const obj_header_t *h)
{
	size_t n = 0;
	buf[n++] = OBJ_HEADER_VERSION;
	n += put_varint64(buf + n, h->size);
	n += put_varint64(buf + n, h->base_len);
	n += put_varint64(buf + n, h->links);
	buf[n++] = h->chunk_shift;
	return slice_make(buf, n);
}

bool obj_header_decode(slice_t v, obj_header_t *h)
{
	const uint8_t *q = v.data, *end = v.data + v.len;
	if (v.len < 1 || *q++ != OBJ_HEADER_VERSION)
		return false;
	if ((q = get_varint64(q, end, &h->size)) == NULL ||
	    (q = get_varint64(q, end, &h->base_len)) == NULL ||
	    (q = get_varint64(q, end, &h->links)) == NULL || q + 1 != end)
		return false;
	h->chunk_shift = *q;
	return h->chunk_shift >= OBJ_CHUNK_SHIFT_MIN && h->chunk_shift <= OBJ_CHUNK_SHIFT_MAX &&
	       h->base_len <= h->size && h->links >= 1 && h->size <= WB_MAX_STREAM_LEN;
}

/* ---- Reading ---- */

typedef struct header_read {
	obj_header_t *h;
	uint64_t ts;
	bool present, bad;
} header_read_t;

static int on_header(void *arg, slice_t ikey, slice_t value)
{
	header_read_t *r = arg;
	if (value.len < 1 || (value.data[0] & ~META_TOMBSTONE) != 0) {
		r->bad = true;
		return WB_OK;
	}
	if (value.data[0] & META_TOMBSTONE)
		return WB_OK;
	r->present = true;
	r->bad = !obj_header_decode(slice_make(value.data + 1, value.len - 1), r->h);
	uint64_t ts = ikey_ts(ikey);
	r->ts = ts >= TXN_TS_BASE ? 0 : ts;
	return WB_OK;
}

int obj_header_read(const db_view_t *v, uint64_t id, obj_header_t *h, uint64_t *ts)
{
	uint8_t kb[OBJ_KEY_MAX];
	header_read_t r = { .h = h };
	slice_t key = obj_header_key(kb, id);
	int rc = v->note ? v->note(v->note_arg, key) : WB_OK;
	if (rc == WB_OK)
		rc = db_view_get(v, key, on_header, &r);
	if (rc != WB_OK && rc != WB_ENOTFOUND)
		return rc;
	if (!r.present || r.bad)
		return err_set(WB_ECORRUPT, "object %llu: header %s", (unsigned long long)id,
			       r.bad ? "malformed" : "missing");
	*ts = r.ts;
	return WB_OK;
}

int obj_read_range(const db_view_t *v, uint64_t id, const obj_header_t *h, uint64_t off,
		   void *buf, size_t len, size_t *nread)
{
	*nread = 0;
	if (off >= h->size)
		return WB_OK;
	uint64_t n = h->size - off < len ? h->size - off : len;
	uint8_t *out = buf, kb[OBJ_KEY_MAX];
	unsigned shift = h->chunk_shift;
	for (uint64_t pos = off, end = off + n; pos < end;) {
		uint64_t cstart = pos >> shift << shift;
		uint64_t cend = cstart + ((uint64_t)1 << shift) < end ? cstart + ((uint64_t)1 << shift) : end;
		size_t want = (size_t)(cend - pos), got = 0;
		int rc = db_view_read_range(v, obj_chunk_key(kb, id, pos >> shift), pos - cstart, out,
					    want, &got);
		if (rc == WB_ENOTFOUND && pos < h->base_len) {
			size_t from_base = h->base_len - pos < want ? (size_t)(h->base_len - pos) : want;
			rc = db_view_read_range(v, obj_base_key(kb, id), pos, out, from_base, &got);
			if (rc == WB_OK && got < from_base)
				rc = WB_ENOTFOUND;
			if (rc == WB_ENOTFOUND)
				return err_set(WB_ECORRUPT, "object %llu: base shorter than its %llu bytes",
					       (unsigned long long)id, (unsigned long long)h->base_len);
		} else if (rc == WB_ENOTFOUND) {
			rc = WB_OK; /* a hole */
		}
		if (rc != WB_OK)
			return rc;
		memset(out + got, 0, want - got);
		out += want;
		pos = cend;
	}
	*nread = (size_t)n;
	return WB_OK;
}

int obj_read_all(const db_view_t *v, uint64_t id, const obj_header_t *h, void **val, size_t *vlen)
{
	*val = NULL;
	*vlen = 0;
	if (h->size >= SIZE_MAX)
		return WB_ENOMEM;
	uint8_t *p = malloc((size_t)h->size + 1);
	if (p == NULL)
		return WB_ENOMEM;
	size_t got;
	int rc = obj_read_range(v, id, h, 0, p, (size_t)h->size, &got);
	if (rc != WB_OK) {
		free(p);
		return rc;
	}
	p[got] = '\0';
	*val = p;
	*vlen = got;
	return WB_OK;
}

/* ---- Writing ---- */

/* What a user key holds now, as the write side needs it. */
typedef struct current {
	bool exists;
	bool is_object;
	uint64_t id;      /* is_object */
	obj_header_t h;   /* is_object */
	uint8_t meta;     /* !is_object: the stored entry, to move as it is */
	uint8_t *raw;
	size_t raw_len;
	uint64_t len;     /* bytes of the value */
} current_t;

static void current_free(current_t *c)
{
	free(c->raw);
	c->raw = NULL;
}

static int current_read(const obj_sink_t *s, slice_t tk, current_t *c)
{
	memset(c, 0, sizeof(*c));
	int rc = db_view_read_raw(s->view, tk, &c->meta, &c->raw, &c->raw_len);
	if (rc == WB_ENOTFOUND)
		return WB_OK;
	if (rc != WB_OK)
		return rc;
	c->exists = true;
	if (c->meta & META_OBJECT) {
		uint64_t ts;
		c->is_object = true;
		if (!obj_ref_decode(slice_make(c->raw, c->raw_len), &c->id))
			rc = err_set(WB_ECORRUPT, "malformed object reference");
		else
			rc = obj_header_read(s->view, c->id, &c->h, &ts);
		c->len = c->h.size;
	} else if (c->meta & META_VALUE_PTR) {
		vptr_t p = { 0 };
		if (!vptr_decode(slice_make(c->raw, c->raw_len), &p))
			rc = err_set(WB_ECORRUPT, "malformed value pointer");
		c->len = p.value_len;
	} else {
		c->len = c->raw_len;
	}
	if (rc != WB_OK)
		current_free(c);
	return rc;
}

static unsigned chunk_shift(const wb_db *db)
{
	uint32_t size = db->opts.object_chunk_size;
	if (size == 0)
		return DEFAULT_CHUNK_SHIFT;
	unsigned shift = 0;
	while (((uint32_t)1 << shift) < size)
		shift++;
	return shift;
}

static int put_header(const obj_sink_t *s, uint64_t id, const obj_header_t *h)
{
	uint8_t kb[OBJ_KEY_MAX], vb[OBJ_HEADER_MAX];
	return s->put(s->arg, obj_header_key(kb, id), 0, obj_header_encode(vb, h));
}

static int put_ref(const obj_sink_t *s, slice_t tk, uint64_t id)
{
	uint8_t rb[OBJ_REF_MAX];
	return s->put(s->arg, tk, META_OBJECT, obj_ref_encode(rb, id));
}

static int put_tombstone(const obj_sink_t *s, slice_t tk)
{
	return s->put(s->arg, tk, META_TOMBSTONE, slice_make(NULL, 0));
}

/* Makes the plain value (or nothing) c holds under tk an object of one
 * link: the stored entry moves to the base as it is. */
static int convert(const obj_sink_t *s, slice_t tk, current_t *c)
{
	uint8_t kb[OBJ_KEY_MAX];
	/* The clock never hands out a stamp twice, also across a crash: a
	 * commit that made this id part of the database is stamped later, and
	 * an open resumes the clock past every commit it recovers. */
	c->id = hlc_next(&s->db->clock);
	c->h = (obj_header_t){ .size = c->len, .base_len = c->len, .links = 1,
			       .chunk_shift = (uint8_t)chunk_shift(s->db) };
	int rc = WB_OK;
	if (c->exists && c->len > 0)
		rc = s->put(s->arg, obj_base_key(kb, c->id), c->meta & META_VALUE_PTR,
			    slice_make(c->raw, c->raw_len));
	if (rc == WB_OK)
		rc = put_ref(s, tk, c->id);
	if (rc == WB_OK)
		rc = put_header(s, c->id, &c->h);
	c->is_object = rc == WB_OK;
	c->exists = true;
	return rc;
}

/* Rewrites the plain value of tk as its first `keep` bytes (of c->len),
 * zero-padded to size, with data at off (len bytes) over them. */
static int rewrite_plain(const obj_sink_t *s, slice_t tk, uint64_t keep,
			 uint64_t size, uint64_t off, const void *data, size_t len)
{
	uint8_t *buf = calloc(1, size ? (size_t)size : 1);
	if (buf == NULL)
		return WB_ENOMEM;
	size_t got = 0;
	int rc = WB_OK;
	if (keep > 0)
		rc = db_view_read_range(s->view, tk, 0, buf, (size_t)keep, &got);
	if (rc == WB_OK && len > 0)
		memcpy(buf + off, data, len);
	if (rc == WB_OK)
		rc = s->put(s->arg, tk, 0, slice_make(buf, (size_t)size));
	free(buf);
	return rc;
}

/* Puts chunk `index` of object id: its first clen bytes, with data over
 * [pos, pos + n) of the object. Reads the chunk's old bytes only when the
 * write does not cover all clen of them. */
static int put_chunk(const obj_sink_t *s, uint64_t id, const obj_header_t *old, uint64_t index,
		     size_t clen, uint64_t pos, const uint8_t *data, size_t n, uint8_t **scratch)
{
	uint8_t kb[OBJ_KEY_MAX];
	uint64_t cstart = index << old->chunk_shift;
	slice_t key = obj_chunk_key(kb, id, index);
	if (pos == cstart && n >= clen)
		return s->put(s->arg, key, 0, slice_make(data, clen));
	size_t csize = (size_t)1 << old->chunk_shift;
	if (*scratch == NULL && (*scratch = malloc(csize)) == NULL)
		return WB_ENOMEM;
	uint8_t *buf = *scratch;
	size_t got = 0;
	if (old->size > cstart) {
		int rc = obj_read_range(s->view, id, old, cstart, buf, clen, &got);
		if (rc != WB_OK)
			return rc;
	}
	memset(buf + got, 0, clen - got);
	memcpy(buf + (pos - cstart), data, n);
	return s->put(s->arg, key, 0, slice_make(buf, clen));
}

static int object_write(const obj_sink_t *s, uint64_t id, obj_header_t *h, uint64_t off,
			const uint8_t *data, size_t len)
{
	unsigned shift = h->chunk_shift;
	uint64_t csize = (uint64_t)1 << shift, end = off + len;
	uint64_t size = h->size > end ? h->size : end;
	uint8_t *scratch = NULL;
	int rc = WB_OK;
	for (uint64_t pos = off; rc == WB_OK && pos < end;) {
		uint64_t index = pos >> shift, cstart = index << shift;
		uint64_t cend = cstart + csize < end ? cstart + csize : end;
		size_t clen = (size_t)(size - cstart < csize ? size - cstart : csize);
		rc = put_chunk(s, id, h, index, clen, pos, data + (pos - off), (size_t)(cend - pos),
			       &scratch);
		pos = cend;
	}
	free(scratch);
	h->size = size;
	return rc == WB_OK ? put_header(s, id, h) : rc;
}

int obj_write_at(const obj_sink_t *s, slice_t tk, uint64_t off, const void *data, size_t len)
{
	if (off > WB_MAX_STREAM_LEN || len > WB_MAX_STREAM_LEN - off)
		return err_set(WB_EINVAL, "write past %llu bytes", (unsigned long long)WB_MAX_STREAM_LEN);
	if (len == 0)
		return WB_OK;
	current_t c;
	int rc = current_read(s, tk, &c);
	if (rc != WB_OK)
		return rc;
	uint64_t end = c.len > off + len ? c.len : off + len;
	if (!c.is_object && end <= ((uint64_t)1 << chunk_shift(s->db))) {
		rc = rewrite_plain(s, tk, c.len, end, off, data, len);
		current_free(&c);
		return rc;
	}
	if (!c.is_object)
		rc = convert(s, tk, &c);
	if (rc == WB_OK)
		rc = object_write(s, c.id, &c.h, off, data, len);
	current_free(&c);
	return rc;
}

/* Every chunk of object id from index `first` on that v shows, in order. */
static int list_chunks(const obj_sink_t *s, uint64_t id, uint64_t first, uint64_t **out,
		       size_t *n)
{
	*out = NULL;
	*n = 0;
	uint8_t lo[OBJ_KEY_MAX], pre[OBJ_KEY_MAX];
	obj_chunk_key(lo, id, first);
	part_key(pre, id, OBJ_TAG_CHUNK);
	wb_iter_options o = { .keyspace = KS_OBJ, .lower = lo + 1, .lower_len = OBJ_KEY_MAX - 1,
			      .prefix = pre + 1, .prefix_len = 9 };
	wb_iter *it;
	int rc = db_iter_new(s->db, &o, s->view->snap->read_ts, s->view->own, &it);
	if (rc != WB_OK)
		return rc;
	uint64_t *ids = NULL;
	size_t cap = 0, count = 0;
	for (wb_iter_seek_first(it); rc == WB_OK && wb_iter_valid(it); wb_iter_next(it)) {
		size_t klen;
		const uint8_t *k = wb_iter_key(it, &klen);
		if (klen != OBJ_KEY_MAX - 1) {
			rc = err_set(WB_ECORRUPT, "object %llu: malformed chunk key", (unsigned long long)id);
			break;
		}
		if (!GROW_ONE(ids, count, cap)) {
			rc = WB_ENOMEM;
			break;
		}
		ids[count++] = get_be64(k + 9);
	}
	if (rc == WB_OK)
		rc = wb_iter_status(it);
	wb_iter_free(it);
	if (rc != WB_OK) {
		free(ids);
		return rc;
	}
	*out = ids;
	*n = count;
	return WB_OK;
}

static int delete_chunks_from(const obj_sink_t *s, uint64_t id, uint64_t first)
{
	uint64_t *idx;
	size_t n;
	int rc = list_chunks(s, id, first, &idx, &n);
	uint8_t kb[OBJ_KEY_MAX];
	for (size_t i = 0; rc == WB_OK && i < n; i++)
		rc = put_tombstone(s, obj_chunk_key(kb, id, idx[i]));
	free(idx);
	return rc;
}

static int object_truncate(const obj_sink_t *s, uint64_t id, obj_header_t *h, uint64_t size)
{
	int rc = WB_OK;
	if (size < h->size) {
		unsigned shift = h->chunk_shift;
		uint64_t mask = ((uint64_t)1 << shift) - 1;
		rc = delete_chunks_from(s, id, (size + mask) >> shift);
		uint8_t kb[OBJ_KEY_MAX];
		slice_t last = obj_chunk_key(kb, id, size >> shift);
		wb_key_info ki;
		/* The chunk the new end falls in keeps only the bytes before it. */
		if (rc == WB_OK && (size & mask) != 0 &&
		    (rc = db_view_stat(s->view, last, &ki)) == WB_OK && ki.value_len > (size & mask)) {
			size_t keep = (size_t)(size & mask), got;
			uint8_t *buf = malloc(keep);
			rc = buf ? db_view_read_range(s->view, last, 0, buf, keep, &got) : WB_ENOMEM;
			if (rc == WB_OK)
				rc = s->put(s->arg, last, 0, slice_make(buf, got));
			free(buf);
		}
		if (rc == WB_ENOTFOUND)
			rc = WB_OK;
		if (h->base_len > size)
			h->base_len = size;
	}
	h->size = size;
	return rc == WB_OK ? put_header(s, id, h) : rc;
}

int obj_truncate(const obj_sink_t *s, slice_t tk, uint64_t size)
{
	if (size > WB_MAX_STREAM_LEN)
		return err_set(WB_EINVAL, "length %llu is over %llu", (unsigned long long)size,
			       (unsigned long long)WB_MAX_STREAM_LEN);
	current_t c;
	int rc = current_read(s, tk, &c);
	if (rc == WB_OK && !c.exists)
		rc = WB_ENOTFOUND;
	if (rc != WB_OK)
		return rc;
	if (!c.is_object && size <= ((uint64_t)1 << chunk_shift(s->db))) {
		rc = size == c.len ? WB_OK
				   : rewrite_plain(s, tk, c.len < size ? c.len : size, size, 0, NULL, 0);
		current_free(&c);
		return rc;
	}
	if (!c.is_object)
		rc = convert(s, tk, &c);
	if (rc == WB_OK)
		rc = object_truncate(s, c.id, &c.h, size);
	current_free(&c);
	return rc;
}

/* The object c refers to loses one link: the last one takes it away. */
static int release(const obj_sink_t *s, const current_t *c)
{
	if (!c->is_object)
		return WB_OK;
	obj_header_t h = c->h;
	if (h.links > 1) {
		h.links--;
		return put_header(s, c->id, &h);
	}
	uint8_t kb[OBJ_KEY_MAX];
	int rc = delete_chunks_from(s, c->id, 0);
	if (rc == WB_OK && h.base_len > 0)
		rc = put_tombstone(s, obj_base_key(kb, c->id));
	if (rc == WB_OK)
		rc = put_tombstone(s, obj_header_key(kb, c->id));
	return rc;
}

int obj_unlink(const obj_sink_t *s, slice_t tk)
{
	current_t c;
	int rc = current_read(s, tk, &c);
	if (rc == WB_OK && c.exists)
		rc = release(s, &c);
	if (rc == WB_OK) /* a missing key too, as a delete would */
		rc = put_tombstone(s, tk);
	current_free(&c);
	return rc;
}

int obj_link(const obj_sink_t *s, slice_t from, slice_t to)
{
	if (slice_compare(from, to) == 0)
		return err_set(WB_EINVAL, "a key cannot be linked to itself");
	current_t src, dst;
	int rc = current_read(s, from, &src);
	if (rc == WB_OK && !src.exists)
		rc = WB_ENOTFOUND;
	if (rc != WB_OK)
		return rc;
	if (!src.is_object)
		rc = convert(s, from, &src);
	if (rc == WB_OK)
		rc = current_read(s, to, &dst);
	if (rc != WB_OK) {
		current_free(&src);
		return rc;
	}
	if (!(dst.is_object && dst.id == src.id)) { /* already a link of it: nothing to do */
		rc = release(s, &dst);
		if (rc == WB_OK) {
			src.h.links++;
			rc = put_header(s, src.id, &src.h);
		}
		if (rc == WB_OK)
			rc = put_ref(s, to, src.id);
	}
	current_free(&src);
	current_free(&dst);
	return rc;
}

int obj_move(const obj_sink_t *s, slice_t from, slice_t to)
{
	current_t src, dst;
	int rc = current_read(s, from, &src);
	if (rc == WB_OK && !src.exists)
		rc = WB_ENOTFOUND;
	if (rc != WB_OK)
		return rc;
	if (slice_compare(from, to) == 0) {
		current_free(&src);
		return WB_OK;
	}
	rc = current_read(s, to, &dst);
	bool same = rc == WB_OK && src.is_object && dst.is_object && src.id == dst.id;
	if (rc == WB_OK && !same) {
		rc = release(s, &dst);
		if (rc == WB_OK)
			rc = s->put(s->arg, to, src.meta & (META_VALUE_PTR | META_OBJECT),
				    slice_make(src.raw, src.raw_len));
		if (rc == WB_OK)
			rc = put_tombstone(s, from);
	}
	current_free(&src);
	current_free(&dst);
	return rc;
}
