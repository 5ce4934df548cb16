/*
 * fuzz_vlog.c -- fuzzes the value-log segment reader (engine/src/
 * vlog_entry.c, docs/format.md "Value log"): the segment header check, the
 * walk over a segment's entries that `wombat verify` and repair use, and
 * the three ways a value is read (whole, checked only, by range).
 *
 * The first input byte picks one of three modes (bits 0-1):
 *
 *   raw        the rest is the segment file. Every error is one the
 *              contract names (WB_ECORRUPT, WB_EFORMAT) with a message
 *              naming the segment; for every entry the walk finds, a check
 *              and a whole read agree, a whole read gives the value's bytes
 *              as laid out in its blocks and the entry's key, and a range
 *              read gives exactly those bytes of the value or fails.
 *   fixed      the same, after every block checksum and entry checksum the
 *              walk reaches has been recomputed, so the fuzzer gets past
 *              the CRCs to the framing logic.
 *   scripted   the rest is a script: entries to write with the real
 *              encoder (keys and values of any size, several blocks, or one
 *              streamed entry), then one thing a crash or the disk might do
 *              (cut the file, cut it and add zeros as a mapped segment has,
 *              add zeros, flip one byte). Then: after a crash the walk finds
 *              nothing wrong and every entry still whole reads back its own
 *              bytes; after a flip every read gives the bytes written or
 *              WB_ECORRUPT, never other bytes; the flipped entry cannot be
 *              read whole, and the walk reports the damage unless the flip
 *              hit an entry's length fields (then the entry looks like one
 *              a crash cut short: the reads still catch it).
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include "util/crc32c.h"
#include "util/error.h"
#include "mem_env.h"
#include "vlog/vlog_entry.h"

#define NAME        "000007.vlog"
#define PATH        "db/" NAME
#define MAX_ENTRIES 8

enum mode { MODE_RAW, MODE_FIXED, MODE_SCRIPT, MODE_SCRIPT2 };

enum op { OP_NONE, OP_CUT, OP_CUT_ZEROS, OP_ZEROS, OP_FLIP, OP_COUNT };

/* An entry as written, for the scripted mode. */
typedef struct entry {
	uint64_t off, len, vlen;
	uint8_t *key, *val;
	size_t klen;
} entry_t;

static void check_error(int rc, const char *what)
{
	FUZZ_CHECK(rc == WB_ECORRUPT || rc == WB_EFORMAT, "%s: %s", what, wb_strerror(rc));
	FUZZ_CHECK(strstr(err_message(), NAME) != NULL, "%s: %s without the file's name: \"%s\"",
	           what, wb_strerror(rc), err_message());
}

/* The value bytes of the entry at p as its blocks lay them out. */
static uint8_t *gather(const uint8_t *file, const vptr_t *p)
{
	uint8_t *v = malloc(p->value_len + 1);
	FUZZ_CHECK(v != NULL, "out of memory");
	const uint8_t *b = file + p->offset + VLOG_ENTRY_HEADER;
	for (uint64_t i = 0; i < p->value_len; i++)
		v[i] = b[vblock_pos(i)];
	return v;
}

/* Range reads of the value at p at places the fuzzer picks: each gives
 * the bytes of `want` (when not NULL) it asked for, or fails. */
static void read_ranges(const vlog_source_t *src, const vptr_t *p, const uint8_t *want,
                        fuzz_in_t *in)
{
	for (int r = 0; r < 3; r++) {
		uint64_t off = p->value_len ? fuzz_u32(in) % (p->value_len + 1) : 0;
		size_t len = fuzz_u32(in) % (3 * VBLOCK_SIZE) + 1;
		uint8_t *buf = malloc(len);
		size_t n = 99;
		int rc = vlog_entry_read_range(src, p, off, buf, len, &n);
		if (rc == WB_OK) {
			size_t expect = off >= p->value_len ? 0
			                : (len < p->value_len - off ? len : (size_t)(p->value_len - off));
			FUZZ_CHECK(n == expect, "range read of %zu at %llu gave %zu, not %zu", len,
			           (unsigned long long)off, n, expect);
			if (want != NULL)
				FUZZ_CHECK(memcmp(buf, want + off, n) == 0,
				           "range read at %llu gave other bytes", (unsigned long long)off);
		} else {
			check_error(rc, "range read");
			FUZZ_CHECK(n == 0, "a failed range read reports %zu bytes", n);
		}
		free(buf);
	}
}

/* Checks and reads the entry at p of file[0, size): a check and a whole
 * read agree; what a whole read gives is what the blocks hold. Returns the
 * whole read's result; *out (may be NULL) gets the value on WB_OK. */
static int read_entry(const vlog_source_t *src, const uint8_t *file, const vptr_t *p,
                      fuzz_in_t *in, uint8_t **out)
{
	uint64_t bad = UINT64_MAX;
	err_clear();
	int checked = vlog_entry_check(src, p, &bad);
	if (checked != WB_OK) {
		check_error(checked, "check");
		FUZZ_CHECK(bad == UINT64_MAX || (bad >= p->offset && bad < p->offset + p->length),
		           "damage reported at %llu, outside the entry at %llu", (unsigned long long)bad,
		           (unsigned long long)p->offset);
	}
	void *val = NULL;
	uint8_t *key = NULL;
	size_t klen = 0;
	uint64_t ts;
	err_clear();
	int rc = vlog_entry_read(src, p, &val, &key, &klen, &ts);
	FUZZ_CHECK((rc == WB_OK) == (checked == WB_OK), "check says %s, read says %s",
	           wb_strerror(checked), wb_strerror(rc));
	if (rc != WB_OK) {
		check_error(rc, "read");
		FUZZ_CHECK(val == NULL, "a failed read handed out a value");
		read_ranges(src, p, NULL, in);
		return rc;
	}
	uint8_t *v = gather(file, p);
	FUZZ_CHECK(memcmp(val, v, p->value_len) == 0 && ((uint8_t *)val)[p->value_len] == 0,
	           "the value read is not the one in the blocks (or not NUL-terminated)");
	FUZZ_CHECK(p->length == VLOG_ENTRY_OVERHEAD + klen + vblock_stored(p->value_len),
	           "key of %zu bytes in an entry of %llu", klen, (unsigned long long)p->length);
	FUZZ_CHECK(memcmp(key, file + p->offset + VLOG_ENTRY_HEADER + vblock_stored(p->value_len),
	                  klen) == 0,
	           "the key read is not the one in the entry");
	read_ranges(src, p, v, in);
	free(key);
	free(val);
	if (out != NULL)
		*out = v;
	else
		free(v);
	return rc;
}

/* Recomputes the checksums of the entry at p in file (MODE_FIXED). */
static void reseal(uint8_t *file, const vptr_t *p, uint64_t klen)
{
	uint8_t *e = file + p->offset;
	uint32_t sum = crc32c(e, VLOG_ENTRY_HEADER);
	uint8_t *b = e + VLOG_ENTRY_HEADER;
	for (uint64_t left = p->value_len; left > 0;) {
		size_t n = left < VBLOCK_SIZE ? (size_t)left : VBLOCK_SIZE;
		put_u32(b + n, crc32c_mask(crc32c(b, n)));
		sum = crc32c_extend(sum, b + n, VBLOCK_CRC);
		b += n + VBLOCK_CRC;
		left -= n;
	}
	sum = crc32c_extend(sum, b, (size_t)klen);
	put_u32(b + klen + 8, crc32c_mask(crc32c_extend(sum, b + klen, 8)));
}

/* Walks the entries of file[0, size) the way the format lays them out and
 * reads each one found. */
static void walk(const vlog_source_t *src, uint8_t *file, size_t size, bool fix, fuzz_in_t *in)
{
	uint64_t off = VLOG_HEADER_SIZE;
	for (int n = 0; n < 64 && off < size && size - off >= VLOG_ENTRY_OVERHEAD; n++) {
		uint64_t klen = get_u32(file + off + 4), vlen = get_u64(file + off + 8);
		if (klen == 0)
			return;
		if (vlen == VLOG_STREAMED &&
		    (size - off < VLOG_ENTRY_OVERHEAD + klen ||
		     !vblock_value_len(size - off - VLOG_ENTRY_OVERHEAD - klen, &vlen)))
			return;
		if (vlen > WB_MAX_STREAM_LEN || vlog_entry_len(klen, vlen) > size - off)
			return;
		vptr_t p = {7, off, vlog_entry_len(klen, vlen), vlen};
		if (fix)
			reseal(file, &p, klen);
		uint64_t k;
		if (vlog_entry_key_len(&p, &k))
			read_entry(src, file, &p, in, NULL);
		off += p.length;
	}
}

/* The segment as a whole: its header, then the walk. Returns the walk's
 * result (the header's when that fails). */
static int check_segment(const vlog_source_t *src)
{
	err_clear();
	int rc = vlog_segment_check_header(src);
	if (rc != WB_OK) {
		check_error(rc, "header");
		return rc;
	}
	err_clear();
	rc = vlog_segment_check(src);
	if (rc != WB_OK) {
		FUZZ_CHECK(rc == WB_ECORRUPT, "segment check: %s", wb_strerror(rc));
		check_error(rc, "segment check");
	}
	return rc;
}

static vlog_source_t open_source(mem_env_t *me, wb_env_file **f)
{
	const wb_env *env = mem_env_get(me);
	FUZZ_CHECK(env->open(env->ctx, PATH, WB_ENV_READ, f) == WB_OK, "open");
	uint64_t size;
	FUZZ_CHECK(env->size(*f, &size) == WB_OK, "size");
	return (vlog_source_t){env, *f, 7, size};
}

static void run_raw(mem_env_t *me, const uint8_t *data, size_t size, bool fix, fuzz_in_t *in)
{
	FUZZ_CHECK(mem_env_put(me, PATH, data, size) == WB_OK, "put");
	uint8_t *file = mem_env_file(me, PATH, &size);
	wb_env_file *f;
	vlog_source_t src = open_source(me, &f);
	if (check_segment(&src) != WB_EFORMAT && size >= VLOG_HEADER_SIZE)
		walk(&src, file, size, fix, in);
	mem_env_get(me)->close(f);
}

/* ---- scripted ---- */

typedef struct buf {
	uint8_t *p;
	size_t len, cap;
} buf_t;

static int put(void *arg, const void *p, size_t n)
{
	buf_t *b = arg;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		FUZZ_CHECK(b->p != NULL, "out of memory");
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return WB_OK;
}

/* Value lengths: mostly under a block, sometimes several blocks, sometimes
 * exactly on a block boundary. */
static size_t script_vlen(fuzz_in_t *in)
{
	uint8_t c = fuzz_u8(in);
	if (c < 128)
		return c;
	if (c < 160)
		return (size_t)(c - 127) * VBLOCK_SIZE;
	if (c < 200)
		return (size_t)(c - 159) * 131;
	return (size_t)(c - 200) * 1031 + fuzz_u8(in);
}

static void run_script(mem_env_t *me, fuzz_in_t *in)
{
	size_t n = fuzz_u8(in) % MAX_ENTRIES + 1;
	bool streamed = n == 1 && fuzz_u8(in) % 4 == 0;
	entry_t e[MAX_ENTRIES];
	buf_t b = {NULL, 0, 0};
	uint8_t h[VLOG_HEADER_SIZE];
	put_u64(h, VLOG_MAGIC);
	put_u32(h + 8, VLOG_FORMAT_VERSION);
	put_u32(h + 12, crc32c_mask(crc32c(h, 12)));
	put(&b, h, sizeof(h));
	for (size_t i = 0; i < n; i++) {
		uint8_t seed = fuzz_u8(in);
		e[i].klen = fuzz_u8(in) % 64 + 2;
		e[i].vlen = script_vlen(in);
		e[i].key = malloc(e[i].klen);
		e[i].val = malloc(e[i].vlen + 1);
		for (size_t j = 0; j < e[i].klen; j++)
			e[i].key[j] = (uint8_t)('a' + (seed + j) % 26);
		for (size_t j = 0; j < e[i].vlen; j++)
			e[i].val[j] = (uint8_t)(seed + j * 7 + (j >> 9));
		e[i].off = b.len;
		FUZZ_CHECK(vlog_entry_emit(slice_make(e[i].key, e[i].klen),
		                           slice_make(e[i].val, e[i].vlen), 1000 + i, put, &b) == WB_OK,
		           "emit");
		e[i].len = b.len - e[i].off;
		FUZZ_CHECK(e[i].len == vlog_entry_len(e[i].klen, e[i].vlen), "entry of %llu bytes",
		           (unsigned long long)e[i].len);
	}
	if (streamed) {
		/* What wb_writer_* writes: the length unknown in the header. */
		put_u64(b.p + e[0].off + 8, VLOG_STREAMED);
		vptr_t p = {7, e[0].off, e[0].len, e[0].vlen};
		reseal(b.p, &p, e[0].klen);
	}
	FUZZ_CHECK(mem_env_put(me, PATH, b.p, b.len) == WB_OK, "put");
	size_t size = b.len;

	enum op op = (enum op)(fuzz_u8(in) % OP_COUNT);
	if (streamed && op != OP_FLIP)
		op = OP_NONE; /* a stream cut short is never committed: its segment is dropped */
	size_t at = fuzz_u32(in) % size;
	size_t zeros = (size_t)fuzz_u8(in) * 97 + 1;
	uint8_t mask = fuzz_u8(in) | 1;
	switch (op) {
	case OP_NONE:
	case OP_COUNT:
		at = size;
		break;
	case OP_CUT:
		mem_env_resize(me, PATH, at);
		break;
	case OP_CUT_ZEROS:
		/* A mapped segment keeps at least one zero byte past every
		 * entry it stores: the zeros reach past the cut entry's end. */
		for (size_t i = 0; i < n; i++)
			if (at >= e[i].off && at < e[i].off + e[i].len)
				zeros += e[i].off + e[i].len - at;
		mem_env_resize(me, PATH, at);
		mem_env_resize(me, PATH, at + zeros);
		break;
	case OP_ZEROS: /* a mapped segment's prepared zeros after a crash */
		mem_env_resize(me, PATH, size + zeros);
		at = size;
		break;
	case OP_FLIP:
		mem_env_file(me, PATH, &size)[at] ^= mask;
		break;
	}
	size_t now_len;
	const uint8_t *now = mem_env_file(me, PATH, &now_len);

	wb_env_file *f;
	vlog_source_t src = open_source(me, &f);
	int rc = check_segment(&src);
	if (op != OP_FLIP) {
		FUZZ_CHECK(rc == WB_OK || at < VLOG_HEADER_SIZE,
		           "after a crash (op %d at %zu) the segment check says %s: %s", op, at,
		           wb_strerror(rc), err_message());
	} else if (at < VLOG_HEADER_SIZE) {
		FUZZ_CHECK(rc != WB_OK, "a flipped segment header went unnoticed");
	} else if (rc == WB_OK) {
		bool in_lengths = false;
		for (size_t i = 0; i < n; i++)
			in_lengths |= at >= e[i].off + 4 && at < e[i].off + 16;
		FUZZ_CHECK(in_lengths, "the segment check missed a flip at %zu", at);
	}
	for (size_t i = 0; i < n; i++) {
		vptr_t p = {7, e[i].off, e[i].len, e[i].vlen};
		uint8_t *v = NULL;
		int r = read_entry(&src, now, &p, in, &v);
		bool whole = e[i].off + e[i].len <= at;
		bool hit = op == OP_FLIP && at >= e[i].off && at < e[i].off + e[i].len;
		if (r == WB_OK)
			FUZZ_CHECK(memcmp(v, e[i].val, e[i].vlen) == 0, "entry %zu read other bytes", i);
		if (hit)
			FUZZ_CHECK(r != WB_OK, "entry %zu read whole with a flipped byte at %zu", i, at);
		else if (whole || op == OP_FLIP)
			FUZZ_CHECK(r == WB_OK, "intact entry %zu: %s", i, err_message());
		else if (op == OP_CUT)
			FUZZ_CHECK(r != WB_OK, "entry %zu cut short read whole", i);
		free(v);
		/* Range reads must hand out only what was written. */
		for (int k = 0; k < 2; k++) {
			uint64_t off = e[i].vlen ? fuzz_u32(in) % e[i].vlen : 0;
			size_t len = fuzz_u8(in) * 64u + 1, got = 0;
			uint8_t *tmp = malloc(len);
			if (vlog_entry_read_range(&src, &p, off, tmp, len, &got) == WB_OK)
				FUZZ_CHECK(memcmp(tmp, e[i].val + off, got) == 0,
				           "a range read of entry %zu gave other bytes", i);
			free(tmp);
		}
	}
	mem_env_get(me)->close(f);
	for (size_t i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].val);
	}
	free(b.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	mem_env_t *me = mem_env_new();
	FUZZ_CHECK(me != NULL, "out of memory");
	enum mode mode = (enum mode)(data[0] & 3);
	fuzz_in_t in = fuzz_in(data + 1, size - 1);
	if (mode == MODE_RAW || mode == MODE_FIXED) {
		/* Range places come from the file's own bytes, backwards. */
		fuzz_in_t places = fuzz_in(data + 1, size - 1 < 64 ? size - 1 : 64);
		run_raw(me, data + 1, size - 1, mode == MODE_FIXED, &places);
	} else {
		run_script(me, &in);
	}
	mem_env_free(me);
	return 0;
}
