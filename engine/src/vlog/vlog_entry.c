/*
 * vlog_entry.c -- writing one value-log entry in order and reading or
 * checking all or part of it (vlog_entry.h; docs/format.md "Value log").
 *
 * Reads never hand out a byte whose block they did not check: a range read
 * reads whole blocks into a bounce buffer (RANGE_BLOCKS at a time), checks
 * each, and copies out the part asked for. A whole read checks every block
 * and the trailer, then closes up the checksums in place.
 */
#include "vlog/vlog_entry.h"

#include <stdlib.h>

#include "util/crc32c.h"
#include "util/error.h"

#define RANGE_BLOCKS 16u   /* blocks read at a time by a range read (~64 KiB) */
#define CHECK_BLOCKS 256u  /* ... by a whole-entry check (~1 MiB) */

void vlog_encode_header(uint8_t *p, uint32_t klen, uint64_t vlen, uint64_t ts)
{
	memset(p, 0, 4);
	put_u32(p + 4, klen);
	put_u64(p + 8, vlen);
	put_u64(p + 16, ts);
}

void vlog_encode_trailer(uint8_t *p, uint64_t vlen, uint32_t sum)
{
	put_u64(p, vlen);
	put_u32(p + 8, crc32c_mask(crc32c_extend(sum, p, 8)));
}

bool vlog_entry_key_len(const vptr_t *p, uint64_t *klen)
{
	if (p->value_len > WB_MAX_STREAM_LEN)
		return false;
	uint64_t fixed = VLOG_ENTRY_OVERHEAD + vblock_stored(p->value_len);
	if (p->length < fixed + 2 || p->length - fixed > (uint64_t)WB_MAX_KEY_LEN + 1)
		return false;
	*klen = p->length - fixed;
	return true;
}

int vlog_entry_emit(slice_t tree_key, slice_t value, uint64_t ts, vlog_put_fn put, void *arg)
{
	uint8_t h[VLOG_ENTRY_HEADER], t[VLOG_ENTRY_TRAILER], c[VBLOCK_CRC];
	vlog_encode_header(h, (uint32_t)tree_key.len, value.len, ts);
	uint32_t sum = crc32c(h, sizeof(h));
	int rc = put(arg, h, sizeof(h));
	for (size_t off = 0; rc == WB_OK && off < value.len; off += VBLOCK_SIZE) {
		size_t n = value.len - off < VBLOCK_SIZE ? value.len - off : VBLOCK_SIZE;
		put_u32(c, crc32c_mask(crc32c(value.data + off, n)));
		sum = crc32c_extend(sum, c, sizeof(c));
		rc = put(arg, value.data + off, n);
		if (rc == WB_OK)
			rc = put(arg, c, sizeof(c));
	}
	if (rc == WB_OK)
		rc = put(arg, tree_key.data, tree_key.len);
	vlog_encode_trailer(t, value.len, crc32c_extend(sum, tree_key.data, tree_key.len));
	if (rc == WB_OK)
		rc = put(arg, t, sizeof(t));
	return rc;
}

int vlog_entry_read_at(const vlog_source_t *src, uint64_t off, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		size_t n;
		int rc = src->env->read_at(src->file, off + got, (uint8_t *)buf + got, len - got, &n);
		if (rc != WB_OK)
			return err_set(rc, "%06llu.vlog offset %llu: read failed: %s",
				       (unsigned long long)src->number, (unsigned long long)(off + got),
				       wb_strerror(rc));
		if (n == 0)
			return err_set(WB_ECORRUPT, "%06llu.vlog offset %llu: entry runs past the end",
				       (unsigned long long)src->number, (unsigned long long)(off + got));
		got += n;
	}
	return WB_OK;
}

int vlog_entry_check_ptr(const vlog_source_t *src, const vptr_t *p)
{
	uint64_t klen;
	if (!vlog_entry_key_len(p, &klen))
		return err_set(WB_ECORRUPT, "%06llu.vlog offset %llu: pointer of %llu bytes to a value of %llu fits no entry",
			       (unsigned long long)src->number, (unsigned long long)p->offset,
			       (unsigned long long)p->length, (unsigned long long)p->value_len);
	if (p->offset < VLOG_HEADER_SIZE || p->offset + p->length < p->offset ||
	    p->offset + p->length > src->size)
		return err_set(WB_ECORRUPT, "%06llu.vlog offset %llu: pointer of %llu bytes runs past the end",
			       (unsigned long long)src->number, (unsigned long long)p->offset,
			       (unsigned long long)p->length);
	return WB_OK;
}

static int bad_block(const vlog_source_t *src, uint64_t off)
{
	return err_set(WB_ECORRUPT, "%06llu.vlog offset %llu: value block checksum mismatch",
		       (unsigned long long)src->number, (unsigned long long)off);
}

/* Bytes of value block i of a value of vlen bytes. */
static size_t block_len(uint64_t vlen, uint64_t i)
{
	uint64_t left = vlen - i * VBLOCK_SIZE;
	return left < VBLOCK_SIZE ? (size_t)left : VBLOCK_SIZE;
}

/* Reads blocks [first, first + n) of the value at p into buf (room for n
 * strides) and checks each; *sum, when not NULL, is extended over their
 * checksums. A bad block is WB_ECORRUPT with *bad (may be NULL) its file
 * offset. */
static int read_blocks(const vlog_source_t *src, const vptr_t *p, uint64_t first, uint64_t n,
		       uint8_t *buf, uint32_t *sum, uint64_t *bad)
{
	uint64_t base = p->offset + VLOG_ENTRY_HEADER;
	uint64_t from = first * VBLOCK_STRIDE, to = (first + n) * VBLOCK_STRIDE;
	uint64_t stored = vblock_stored(p->value_len);
	if (to > stored)
		to = stored;
	int rc = vlog_entry_read_at(src, base + from, buf, (size_t)(to - from));
	for (uint64_t i = 0; rc == WB_OK && i < n; i++) {
		uint8_t *b = buf + i * VBLOCK_STRIDE;
		size_t len = block_len(p->value_len, first + i);
		if (!vblock_ok(b, len)) {
			if (bad != NULL)
				*bad = base + (first + i) * VBLOCK_STRIDE;
			return bad_block(src, base + (first + i) * VBLOCK_STRIDE);
		}
		if (sum != NULL)
			*sum = crc32c_extend(*sum, b + len, VBLOCK_CRC);
	}
	return rc;
}

int vlog_entry_read_range(const vlog_source_t *src, const vptr_t *p, uint64_t off, void *buf,
			  size_t len, size_t *nread)
{
	*nread = 0;
	int rc = vlog_entry_check_ptr(src, p);
	if (rc != WB_OK || off >= p->value_len || len == 0)
		return rc;
	if (len > p->value_len - off)
		len = (size_t)(p->value_len - off);
	uint64_t first = off / VBLOCK_SIZE, last = (off + len - 1) / VBLOCK_SIZE;
	uint64_t span = last - first + 1 < RANGE_BLOCKS ? last - first + 1 : RANGE_BLOCKS;
	uint8_t *tmp = malloc((size_t)span * VBLOCK_STRIDE);
	if (tmp == NULL)
		return WB_ENOMEM;
	uint8_t *out = buf;
	for (uint64_t b = first; rc == WB_OK && b <= last; b += span) {
		uint64_t n = last - b + 1 < span ? last - b + 1 : span;
		rc = read_blocks(src, p, b, n, tmp, NULL, NULL);
		for (uint64_t i = 0; rc == WB_OK && i < n; i++) {
			uint64_t start = (b + i) * VBLOCK_SIZE, end = start + block_len(p->value_len, b + i);
			uint64_t lo = start > off ? start : off, hi = end < off + len ? end : off + len;
			memcpy(out + (lo - off), tmp + i * VBLOCK_STRIDE + (lo - start), (size_t)(hi - lo));
		}
	}
	free(tmp);
	if (rc == WB_OK)
		*nread = len;
	return rc;
}

/* Checks header h and trailer t of the entry at p against p. */
static int check_frame(const vlog_source_t *src, const vptr_t *p, uint64_t klen, const uint8_t *h,
		       const uint8_t *t)
{
	uint64_t hv = get_u64(h + 8);
	if (get_u32(h) != 0 || get_u32(h + 4) != klen || (hv != p->value_len && hv != VLOG_STREAMED) ||
	    get_u64(t) != p->value_len)
		return err_set(WB_ECORRUPT, "%06llu.vlog offset %llu: entry framing does not match its pointer",
			       (unsigned long long)src->number, (unsigned long long)p->offset);
	return WB_OK;
}

/* The trailer's checksum, given the running sum over header and blocks. */
static int check_trailer(const vlog_source_t *src, const vptr_t *p, uint32_t sum, const uint8_t *key,
			 uint64_t klen, const uint8_t *t)
{
	sum = crc32c_extend(sum, key, (size_t)klen);
	if (crc32c_mask(crc32c_extend(sum, t, 8)) != get_u32(t + 8))
		return err_set(WB_ECORRUPT, "%06llu.vlog offset %llu: entry checksum mismatch",
			       (unsigned long long)src->number, (unsigned long long)p->offset);
	return WB_OK;
}

int vlog_entry_read(const vlog_source_t *src, const vptr_t *p, void **val, uint8_t **key,
		    size_t *klen, uint64_t *ts)
{
	*val = NULL;
	int rc = vlog_entry_check_ptr(src, p);
	if (rc != WB_OK)
		return rc;
	uint64_t kl;
	vlog_entry_key_len(p, &kl);
	if (p->length >= SIZE_MAX)
		return WB_ENOMEM;
	uint8_t *e = malloc((size_t)p->length + 1);
	if (e == NULL)
		return WB_ENOMEM;
	rc = vlog_entry_read_at(src, p->offset, e, (size_t)p->length);
	const uint8_t *blocks = e + VLOG_ENTRY_HEADER;
	const uint8_t *k = blocks + vblock_stored(p->value_len), *t = k + kl;
	if (rc == WB_OK)
		rc = check_frame(src, p, kl, e, t);
	uint32_t sum = crc32c(e, VLOG_ENTRY_HEADER);
	uint64_t nblocks = vblock_count(p->value_len);
	for (uint64_t i = 0; rc == WB_OK && i < nblocks; i++) {
		const uint8_t *b = blocks + i * VBLOCK_STRIDE;
		size_t n = block_len(p->value_len, i);
		if (!vblock_ok(b, n))
			rc = bad_block(src, p->offset + VLOG_ENTRY_HEADER + i * VBLOCK_STRIDE);
		sum = crc32c_extend(sum, b + n, VBLOCK_CRC);
	}
	if (rc == WB_OK)
		rc = check_trailer(src, p, sum, k, kl, t);
	if (rc == WB_OK && key != NULL) {
		*key = malloc((size_t)kl);
		if (*key == NULL)
			rc = WB_ENOMEM;
		else
			memcpy(*key, k, (size_t)kl);
		*klen = (size_t)kl;
	}
	if (rc == WB_OK && ts != NULL)
		*ts = get_u64(e + 16);
	if (rc != WB_OK) {
		free(e);
		return rc;
	}
	/* Close up the checksums: every block moves left, never over bytes
	 * not yet moved. */
	uint8_t *dst = e;
	for (uint64_t i = 0; i < nblocks; i++) {
		size_t n = block_len(p->value_len, i);
		memmove(dst, blocks + i * VBLOCK_STRIDE, n);
		dst += n;
	}
	*dst = '\0';
	*val = e;
	return WB_OK;
}

int vlog_entry_check(const vlog_source_t *src, const vptr_t *p, uint64_t *bad)
{
	if (bad != NULL)
		*bad = p->offset;
	int rc = vlog_entry_check_ptr(src, p);
	if (rc != WB_OK)
		return rc;
	uint64_t kl;
	vlog_entry_key_len(p, &kl);
	size_t cap = CHECK_BLOCKS * VBLOCK_STRIDE;
	uint8_t *buf = malloc(cap);
	if (buf == NULL)
		return WB_ENOMEM;
	uint8_t h[VLOG_ENTRY_HEADER], t[VLOG_ENTRY_TRAILER];
	rc = vlog_entry_read_at(src, p->offset, h, sizeof(h));
	if (rc == WB_OK)
		rc = vlog_entry_read_at(src, p->offset + p->length - sizeof(t), t, sizeof(t));
	if (rc == WB_OK)
		rc = check_frame(src, p, kl, h, t);
	uint32_t sum = crc32c(h, sizeof(h));
	uint64_t nblocks = vblock_count(p->value_len);
	for (uint64_t b = 0; rc == WB_OK && b < nblocks; b += CHECK_BLOCKS) {
		uint64_t n = nblocks - b < CHECK_BLOCKS ? nblocks - b : CHECK_BLOCKS;
		rc = read_blocks(src, p, b, n, buf, &sum, bad);
	}
	uint64_t koff = p->offset + VLOG_ENTRY_HEADER + vblock_stored(p->value_len);
	if (rc == WB_OK)
		rc = vlog_entry_read_at(src, koff, buf, (size_t)kl); /* kl <= 65537 < cap */
	if (rc == WB_OK) {
		rc = check_trailer(src, p, sum, buf, kl, t);
		if (rc != WB_OK && bad != NULL)
			*bad = koff;
	}
	free(buf);
	return rc;
}

int vlog_segment_check_header(const vlog_source_t *src)
{
	uint8_t h[VLOG_HEADER_SIZE];
	size_t n = 0;
	int rc = src->env->read_at(src->file, 0, h, sizeof(h), &n);
	if (rc != WB_OK)
		return err_set(rc, "%06llu.vlog offset 0: read failed: %s", (unsigned long long)src->number,
			       wb_strerror(rc));
	if (n < sizeof(h) || get_u64(h) != VLOG_MAGIC)
		return err_set(WB_EFORMAT, "%06llu.vlog: not a value-log segment", (unsigned long long)src->number);
	if (crc32c_mask(crc32c(h, 12)) != get_u32(h + 12))
		return err_set(WB_ECORRUPT, "%06llu.vlog offset 0: header checksum mismatch",
			       (unsigned long long)src->number);
	if (get_u32(h + 8) != VLOG_FORMAT_VERSION)
		return err_set(WB_EFORMAT, "%06llu.vlog: unknown value-log format version %u%s",
			       (unsigned long long)src->number, get_u32(h + 8),
			       get_u32(h + 8) == 1 ? " (written before value blocks had checksums; not read any more)" : "");
	return WB_OK;
}

/* Are bytes [off, end) of the segment all zero? */
static int all_zero(const vlog_source_t *src, uint64_t off, uint64_t end, bool *zero)
{
	size_t cap = CHECK_BLOCKS * VBLOCK_STRIDE;
	uint8_t *buf = malloc(cap);
	if (buf == NULL)
		return WB_ENOMEM;
	int rc = WB_OK;
	*zero = true;
	while (rc == WB_OK && *zero && off < end) {
		size_t n = end - off < cap ? (size_t)(end - off) : cap;
		rc = vlog_entry_read_at(src, off, buf, n);
		for (size_t i = 0; rc == WB_OK && i < n && *zero; i++)
			*zero = buf[i] == 0;
		off += n;
	}
	free(buf);
	return rc;
}

/* The entry at off claims klen and vlen and runs past the end of the
 * file: a crash cut it short, or its length fields are damaged. A cut can
 * only have torn what lies within VLOG_TORN_TAIL of the end; before that,
 * the key length must be possible and every block of the value whole. */
static int check_cut_entry(const vlog_source_t *src, uint64_t off, uint64_t klen, uint64_t vlen)
{
	uint64_t sure = src->size > VLOG_TORN_TAIL ? src->size - VLOG_TORN_TAIL : 0;
	if (off + VLOG_ENTRY_HEADER > sure)
		return WB_OK;
	if (klen < 2 || klen > (uint64_t)WB_MAX_KEY_LEN + 1)
		return err_set(WB_ECORRUPT, "%06llu.vlog offset %llu: entry with a key of %llu bytes",
			       (unsigned long long)src->number, (unsigned long long)off,
			       (unsigned long long)klen);
	uint8_t *b = malloc(VBLOCK_STRIDE);
	if (b == NULL)
		return WB_ENOMEM;
	int rc = WB_OK;
	uint64_t at = off + VLOG_ENTRY_HEADER;
	for (uint64_t i = 0; rc == WB_OK && i < vblock_count(vlen); i++, at += VBLOCK_STRIDE) {
		size_t n = block_len(vlen, i);
		if (at + n + VBLOCK_CRC > sure)
			break;
		rc = vlog_entry_read_at(src, at, b, n + VBLOCK_CRC);
		if (rc == WB_OK && !vblock_ok(b, n))
			rc = err_set(WB_ECORRUPT, "%06llu.vlog offset %llu: entry claims a value of %llu bytes, past the end of the file, and its block at %llu fails its checksum: its length is damaged",
				     (unsigned long long)src->number, (unsigned long long)off,
				     (unsigned long long)vlen, (unsigned long long)at);
	}
	free(b);
	return rc;
}

int vlog_segment_check(const vlog_source_t *src)
{
	uint64_t size = src->size, off = VLOG_HEADER_SIZE;
	int rc = WB_OK;
	while (rc == WB_OK && off < size) {
		uint8_t h[VLOG_ENTRY_HEADER];
		bool zero;
		if (size - off < VLOG_ENTRY_OVERHEAD)
			return WB_OK;
		rc = vlog_entry_read_at(src, off, h, sizeof(h));
		if (rc != WB_OK)
			break;
		uint64_t klen = get_u32(h + 4), vlen = get_u64(h + 8);
		if (klen == 0) {
			/* The end of the entries. A header store that a kill cut
			 * short (memcpy picks its own order: mapped.h) may leave
			 * bytes of it with klen still zero; nothing else may
			 * follow. */
			rc = all_zero(src, off + VLOG_ENTRY_HEADER < size ? off + VLOG_ENTRY_HEADER : size, size,
				      &zero);
			if (rc == WB_OK && !zero)
				rc = err_set(WB_ECORRUPT, "%06llu.vlog offset %llu: entry with an empty key",
					     (unsigned long long)src->number, (unsigned long long)off);
			return rc;
		}
		uint64_t len;
		if (vlen == VLOG_STREAMED) {
			/* The only entry: its blocks fill the file up to key and trailer. */
			if (size - off < VLOG_ENTRY_OVERHEAD + klen ||
			    !vblock_value_len(size - off - VLOG_ENTRY_OVERHEAD - klen, &vlen))
				return WB_OK;
		}
		if (vlen > WB_MAX_STREAM_LEN || (len = vlog_entry_len(klen, vlen)) > size - off)
			return check_cut_entry(src, off, klen, vlen > WB_MAX_STREAM_LEN ? UINT64_MAX : vlen);
		vptr_t p = { src->number, off, len, vlen };
		rc = vlog_entry_check(src, &p, NULL);
		off += p.length;
		if (rc == WB_ECORRUPT && off < size && all_zero(src, off, size, &zero) == WB_OK && zero) {
			err_clear();
			return WB_OK;
		}
	}
	return rc;
}
