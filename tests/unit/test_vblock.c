/*
 * test_vblock.c -- one value-log entry on its own (engine/src/vlog/vblock.h,
 * vlog_entry.c), without a database: the block arithmetic; entries
 * written by vlog_entry_emit and by the streaming encoder are the same
 * bytes; whole reads, range reads and checks of entries of many sizes
 * around the block size; and a byte changed anywhere in an entry: a range
 * read that touches the damaged block says WB_ECORRUPT naming the block's
 * file offset, one that does not touch it reads the right bytes, and a
 * whole read or check always fails.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/error.h"
#include "testutil.h"
#include "vlog/vlog_entry.h"
#include "wombat.h"

static char dir[96];

static int setup(void **state)
{
	tu_mkdtemp(dir, "vblock");
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(dir);
	return 0;
}

static void test_block_math(void **state)
{
	for (uint64_t v = 0; v < 5 * VBLOCK_STRIDE; v++) {
		uint64_t back = UINT64_MAX;
		assert_true(vblock_value_len(vblock_stored(v), &back));
		assert_int_equal(back, v);
		assert_int_equal(vblock_pos(v), v + VBLOCK_CRC * (v / VBLOCK_SIZE));
	}
	/* Stored lengths that end inside a checksum fit no value: of those
	 * below 3 strides, 0 and then 4096 per block fit (the last stride
	 * stops one short of its end). */
	int fits = 0;
	for (uint64_t s = 0; s < 3 * VBLOCK_STRIDE; s++) {
		uint64_t v;
		fits += vblock_value_len(s, &v);
	}
	assert_int_equal(fits, 3 * VBLOCK_SIZE);
	uint64_t big = (1ull << 40) + 12345, back;
	assert_true(vblock_value_len(vblock_stored(big), &back));
	assert_int_equal(back, big);
}

/* A growing buffer: the sink of vlog_entry_emit. */
typedef struct out {
	uint8_t *p;
	size_t len, cap;
} out_t;

static int put_out(void *arg, const void *p, size_t n)
{
	out_t *o = arg;
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2;
		o->p = realloc(o->p, o->cap);
		assert_non_null(o->p);
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
	return WB_OK;
}

static void fill(uint8_t *v, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) & 0xff);
}

/* An entry of a value of vlen bytes under a key of klen bytes, written at
 * offset 16 of a file (after 16 zero bytes, where a segment header would
 * be); *src reads it. The caller closes src->file and frees *value. */
static vptr_t make_entry(const char *path, size_t klen, size_t vlen, uint8_t **value, uint8_t **key,
			 vlog_source_t *src)
{
	*value = malloc(vlen + 1);
	*key = malloc(klen);
	fill(*value, vlen, vlen);
	fill(*key, klen, 99);
	out_t o = { calloc(1, VLOG_HEADER_SIZE), VLOG_HEADER_SIZE, VLOG_HEADER_SIZE };
	assert_int_equal(vlog_entry_emit(slice_make(*key, klen), slice_make(*value, vlen), 4242, put_out, &o),
			 WB_OK);
	assert_int_equal(o.len, VLOG_HEADER_SIZE + vlog_entry_len(klen, vlen));
	tu_write_file(path, o.p, o.len);
	free(o.p);
	const wb_env *env = wb_env_default();
	*src = (vlog_source_t){ env, NULL, 7, VLOG_HEADER_SIZE + vlog_entry_len(klen, vlen) };
	assert_int_equal(env->open(env->ctx, path, WB_ENV_READ, &src->file), WB_OK);
	return (vptr_t){ 7, VLOG_HEADER_SIZE, vlog_entry_len(klen, vlen), vlen };
}

/* Range reads at offsets and lengths around block boundaries. */
static void check_ranges(const vlog_source_t *src, const vptr_t *p, const uint8_t *value)
{
	uint64_t vlen = p->value_len;
	uint64_t offs[] = { 0, 1, VBLOCK_SIZE - 1, VBLOCK_SIZE, VBLOCK_SIZE + 1, vlen / 2, vlen - 1, vlen };
	size_t lens[] = { 1, 7, VBLOCK_SIZE - 1, VBLOCK_SIZE, VBLOCK_SIZE + 1, 3 * VBLOCK_SIZE + 5, 200000 };
	uint8_t *buf = malloc(200000 + 1);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			uint64_t off = offs[i];
			if (off > vlen)
				continue;
			size_t want = off >= vlen ? 0 : (vlen - off < lens[j] ? (size_t)(vlen - off) : lens[j]);
			size_t got = 12345;
			memset(buf, 0xEE, lens[j] + 1);
			assert_int_equal(vlog_entry_read_range(src, p, off, buf, lens[j], &got), WB_OK);
			assert_int_equal(got, want);
			if (want > 0)
				assert_memory_equal(buf, value + off, want);
			assert_int_equal(buf[got], 0xEE);
		}
	}
	free(buf);
}

static void test_round_trips(void **state)
{
	size_t vlens[] = { 1, 100, VBLOCK_SIZE - 1, VBLOCK_SIZE, VBLOCK_SIZE + 1, 2 * VBLOCK_SIZE,
			   3 * VBLOCK_SIZE + 17, 100000, 1u << 20 };
	size_t klens[] = { 2, 17, WB_MAX_KEY_LEN + 1 };
	char path[PATH_MAX];
	tu_path(path, dir, "000007.vlog");
	for (size_t i = 0; i < sizeof(vlens) / sizeof(vlens[0]); i++) {
		for (size_t j = 0; j < sizeof(klens) / sizeof(klens[0]); j++) {
			uint8_t *value, *key;
			vlog_source_t src;
			vptr_t p = make_entry(path, klens[j], vlens[i], &value, &key, &src);
			void *got;
			uint8_t *gkey;
			size_t gklen;
			uint64_t ts;
			assert_int_equal(vlog_entry_read(&src, &p, &got, &gkey, &gklen, &ts), WB_OK);
			assert_memory_equal(got, value, vlens[i]);
			assert_int_equal(((uint8_t *)got)[vlens[i]], 0); /* NUL after the value */
			assert_int_equal(gklen, klens[j]);
			assert_memory_equal(gkey, key, klens[j]);
			assert_int_equal(ts, 4242);
			free(got);
			free(gkey);
			uint64_t bad = 1;
			assert_int_equal(vlog_entry_check(&src, &p, &bad), WB_OK);
			check_ranges(&src, &p, value);
			src.env->close(src.file);
			free(value);
			free(key);
		}
	}
}

/* The streaming encoder, fed in pieces of awkward sizes, writes exactly the
 * block section vlog_entry_emit writes. */
static void test_encoder_matches_emit(void **state)
{
	size_t vlen = 5 * VBLOCK_SIZE + 999;
	uint8_t *value = malloc(vlen), key[5] = "\0key";
	fill(value, vlen, 3);
	out_t o = { NULL, 0, 0 };
	assert_int_equal(vlog_entry_emit(slice_make(key, 5), slice_make(value, vlen), 1, put_out, &o), WB_OK);
	uint8_t h[VLOG_ENTRY_HEADER];
	vlog_encode_header(h, 5, vlen, 1);
	vblock_enc_t e;
	vblock_enc_init(&e, crc32c(h, sizeof(h)));
	size_t cap = 3 * VBLOCK_STRIDE, blen = 0, fed = 0, stored = (size_t)vblock_stored(vlen);
	uint8_t *buf = malloc(stored + cap), *dst = malloc(cap);
	size_t piece = 1;
	while (fed < vlen) {
		size_t n = vlen - fed < piece ? vlen - fed : piece, out;
		size_t taken = vblock_enc_add(&e, value + fed, n, dst, cap, &out);
		memcpy(buf + blen, dst, out);
		blen += out;
		fed += taken;
		piece = piece * 3 + 1;
		if (piece > 3 * VBLOCK_SIZE)
			piece = 5;
	}
	blen += vblock_enc_finish(&e, buf + blen);
	assert_int_equal(blen, stored);
	assert_memory_equal(buf, o.p + VLOG_ENTRY_HEADER, stored);
	/* ...and its running sum gives the same trailer. */
	uint8_t t[VLOG_ENTRY_TRAILER];
	vlog_encode_trailer(t, vlen, crc32c_extend(e.sum, key, 5));
	assert_memory_equal(t, o.p + o.len - VLOG_ENTRY_TRAILER, VLOG_ENTRY_TRAILER);
	free(buf);
	free(dst);
	free(o.p);
	free(value);
}

/* Inverts the byte at file offset off of the file behind src. */
static void flip(const char *path, uint64_t off)
{
	tu_flip_byte(path, off);
}

static void test_damage_anywhere(void **state)
{
	size_t klen = 10, vlen = 4 * VBLOCK_SIZE + 100;
	char path[PATH_MAX];
	tu_path(path, dir, "000007.vlog");
	uint64_t entry = vlog_entry_len(klen, vlen);
	/* Every byte of the entry, in steps that hit each region. */
	for (uint64_t at = 0; at < entry; at += (at < 64 || at > entry - 64) ? 1 : 97) {
		uint8_t *value, *key;
		vlog_source_t src;
		vptr_t p = make_entry(path, klen, vlen, &value, &key, &src);
		uint64_t off = VLOG_HEADER_SIZE + at;
		flip(path, off);
		void *got = NULL;
		assert_int_equal(vlog_entry_read(&src, &p, &got, NULL, NULL, NULL), WB_ECORRUPT);
		assert_null(got);
		assert_non_null(strstr(err_message(), "000007.vlog offset "));
		uint64_t bad = 0;
		assert_int_equal(vlog_entry_check(&src, &p, &bad), WB_ECORRUPT);
		uint64_t blocks = VLOG_HEADER_SIZE + VLOG_ENTRY_HEADER;
		bool in_blocks = off >= blocks && off < blocks + vblock_stored(vlen);
		uint64_t block = in_blocks ? (off - blocks) / VBLOCK_STRIDE : UINT64_MAX;
		if (in_blocks)
			assert_int_equal(bad, blocks + block * VBLOCK_STRIDE);
		/* Each block read alone: only the damaged one fails. */
		uint8_t buf[VBLOCK_SIZE];
		for (uint64_t b = 0; b < vblock_count(vlen); b++) {
			size_t n;
			int rc = vlog_entry_read_range(&src, &p, b * VBLOCK_SIZE, buf, VBLOCK_SIZE, &n);
			if (b == block) {
				assert_int_equal(rc, WB_ECORRUPT);
				char want[64];
				snprintf(want, sizeof(want), "offset %llu:", (unsigned long long)(blocks + b * VBLOCK_STRIDE));
				assert_non_null(strstr(err_message(), want));
			} else {
				assert_int_equal(rc, WB_OK);
				assert_memory_equal(buf, value + b * VBLOCK_SIZE, n);
			}
		}
		src.env->close(src.file);
		free(value);
		free(key);
	}
}

/* Pointers that fit no entry, or run past the file, are refused before
 * anything is read. */
static void test_bad_pointers(void **state)
{
	char path[PATH_MAX];
	tu_path(path, dir, "000007.vlog");
	uint8_t *value, *key;
	vlog_source_t src;
	vptr_t p = make_entry(path, 10, 5000, &value, &key, &src);
	vptr_t bad[] = {
		{ 7, p.offset, p.length + 1, p.value_len },  /* runs past the end */
		{ 7, p.offset, p.length, p.value_len + 1 },  /* key of 6 bytes: framing */
		{ 7, p.offset, 40, 5000 },                   /* shorter than the blocks */
		{ 7, 0, p.length, p.value_len },             /* over the segment header */
		{ 7, UINT64_MAX - 10, p.length, p.value_len }, /* wraps */
		{ 7, p.offset, p.length, (1ull << 41) },     /* longer than any value */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *got;
		uint8_t buf[16];
		size_t n;
		assert_int_equal(vlog_entry_read(&src, &bad[i], &got, NULL, NULL, NULL), WB_ECORRUPT);
		assert_int_equal(vlog_entry_check(&src, &bad[i], NULL), WB_ECORRUPT);
		if (i != 1)
			assert_int_equal(vlog_entry_read_range(&src, &bad[i], 0, buf, sizeof(buf), &n), WB_ECORRUPT);
	}
	src.env->close(src.file);
	free(value);
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_math),
		cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
		cmocka_unit_test(test_encoder_matches_emit),
		cmocka_unit_test_setup_teardown(test_damage_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_pointers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
