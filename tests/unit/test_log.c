/*
 * test_log.c -- the record log (log.c), the framing of the WAL and the
 * MANIFEST: records of every awkward size read back byte for byte (empty,
 * one byte, filling a block exactly, leaving less than a header at a block's
 * end, spanning 1 MiB and 16 MiB), the file header (wrong kind, wrong
 * version, garbage, empty, torn right after creation), torn tails (the file
 * cut at every offset inside the last record, zeros after the end) which end
 * the log quietly, damage in the middle which is WB_ECORRUPT naming the file
 * and offset, and failed appends which leave no trace; a WAL written
 * through a map (the default env): the zeros past its data while open, and
 * a store interrupted at every fragment of a spanning record.
 *
 * Logs are written to a fresh mkdtemp directory under /tmp through the
 * default env, or through tests/support/fault_env to fail or tear appends;
 * damage is made from outside by rewriting the file.
 */
#include <ftw.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/crc32c.h"
#include "util/error.h"
#include "fault_env.h"
#include "db/log.h"

#define B LOG_BLOCK_SIZE
#define H LOG_HEADER_SIZE
#define FILE_HEADER_BYTES (H + 16) /* the header record as written */

static char dir[64];

static const char *path_of(const char *name)
{
	static char buf[2][256];
	static int turn;
	turn ^= 1;
	snprintf(buf[turn], sizeof(buf[turn]), "%s/%s", dir, name);
	return buf[turn];
}

/* ---- records: content is a function of (record number, byte index) ---- */

static uint8_t rec_byte(size_t n, size_t i)
{
	return (uint8_t)(n * 131 + i * 7 + (i >> 9));
}

static uint8_t *rec_make(size_t n, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = rec_byte(n, i);
	return p;
}

/* What was written: sizes, and where each record starts and ends (writer
 * size before and after its add; the start may be padding). */
struct written {
	size_t n;
	size_t len[4096];
	uint64_t start[4096], end[4096];
};

static void add_rec(log_writer_t *w, struct written *wr, size_t len)
{
	assert_true(wr->n < 4096);
	uint8_t *p = rec_make(wr->n, len);
	wr->start[wr->n] = log_writer_size(w);
	int rc = log_writer_add(w, slice_make(p, len));
	if (rc != WB_OK)
		fail_msg("add %zu bytes: %s: %s", len, wb_strerror(rc), err_message());
	wr->end[wr->n] = log_writer_size(w);
	wr->len[wr->n++] = len;
	free(p);
}

/* Creates a WAL at path; wr (if given) starts empty. */
static log_writer_t *create_ok(const wb_env *env, const char *path, struct written *wr)
{
	log_writer_t *w;
	if (wr != NULL)
		memset(wr, 0, sizeof(*wr));
	int rc = log_writer_create(env, path, LOG_KIND_WAL, &w);
	if (rc != WB_OK)
		fail_msg("create %s: %s: %s", path, wb_strerror(rc), err_message());
	assert_int_equal(log_writer_size(w), FILE_HEADER_BYTES);
	return w;
}

static uint64_t file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	uint64_t n = (uint64_t)ftell(f);
	fclose(f);
	return n;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	*len = file_size(path);
	uint8_t *p = malloc(*len ? *len : 1);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(p, 1, *len, f), *len);
	fclose(f);
	return p;
}

static void spit(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static bool rec_is(slice_t got, size_t n, size_t len)
{
	if (got.len != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (got.data[i] != rec_byte(n, i))
			return false;
	return true;
}

/* Reads path and expects records 0..upto-1 of wr, then the end: a clean end
 * when torn_at is UINT64_MAX, else a torn tail whose valid data ends there. */
static void expect_records(const char *path, const struct written *wr, size_t upto,
			   uint64_t torn_at)
{
	log_reader_t *r;
	int rc = log_reader_open(wb_env_default(), path, LOG_KIND_WAL, &r);
	if (rc != WB_OK)
		fail_msg("open %s: %s: %s", path, wb_strerror(rc), err_message());
	slice_t rec;
	for (size_t i = 0; i < upto; i++) {
		rc = log_reader_next(r, &rec);
		if (rc != WB_OK)
			fail_msg("record %zu of %zu: %s: %s", i, upto, wb_strerror(rc),
				 err_message());
		if (!rec_is(rec, i, wr->len[i]))
			fail_msg("record %zu: wrong bytes (len %zu, expected %zu)", i, rec.len,
				 wr->len[i]);
	}
	rc = log_reader_next(r, &rec);
	if (rc != WB_ENOTFOUND)
		fail_msg("after %zu records: %s (%s)", upto, wb_strerror(rc), err_message());
	assert_int_equal(log_reader_next(r, &rec), WB_ENOTFOUND); /* stays at the end */
	uint64_t off = 0;
	bool torn = log_reader_torn(r, &off);
	if (torn_at == UINT64_MAX) {
		assert_false(torn);
		assert_int_equal(off, upto ? wr->end[upto - 1] : FILE_HEADER_BYTES);
	} else {
		assert_true(torn);
		assert_int_equal(off, torn_at);
	}
	log_reader_close(r);
}

/* The length of a record that, added at offset `at`, leaves `tail` bytes in
 * its block. REQUIRES: room for it. */
static size_t len_leaving(uint64_t at, size_t tail)
{
	size_t room = B - at % B;
	assert_true(room >= H + tail);
	return room - H - tail;
}

/* ---- tests ---- */

static void test_round_trip_sizes(void **state)
{
	const char *path = path_of("sizes.wal");
	static struct written wr;
	log_writer_t *w = create_ok(wb_env_default(), path, &wr);

	add_rec(w, &wr, 0);
	assert_int_equal(wr.end[0], FILE_HEADER_BYTES + H);
	add_rec(w, &wr, 1);
	add_rec(w, &wr, len_leaving(log_writer_size(w), 0)); /* fills block 0 exactly */
	assert_int_equal(log_writer_size(w), B);
	add_rec(w, &wr, 0);
	assert_int_equal(log_writer_size(w), B + H);
	add_rec(w, &wr, len_leaving(log_writer_size(w), 3)); /* 3 bytes of padding */
	assert_int_equal(log_writer_size(w), 2 * B - 3);
	add_rec(w, &wr, 10);
	assert_int_equal(log_writer_size(w), 2 * B + H + 10);
	add_rec(w, &wr, len_leaving(log_writer_size(w), 7)); /* room for a bare header */
	assert_int_equal(log_writer_size(w), 3 * B - H);
	add_rec(w, &wr, 100); /* an empty FIRST, then LAST in the next block */
	assert_int_equal(log_writer_size(w), 3 * B + H + 100);
	add_rec(w, &wr, len_leaving(log_writer_size(w), 6));
	add_rec(w, &wr, 0);
	assert_int_equal(log_writer_size(w), 4 * B + H);
	add_rec(w, &wr, len_leaving(log_writer_size(w), 0));
	add_rec(w, &wr, B - H); /* one FULL fragment of a whole block */
	assert_int_equal(log_writer_size(w), 6 * B);
	add_rec(w, &wr, B - H + 1); /* FIRST of a whole block, LAST of 1 byte */
	assert_int_equal(log_writer_size(w), 7 * B + H + 1);
	add_rec(w, &wr, 1 << 20);
	add_rec(w, &wr, 16 << 20);
	add_rec(w, &wr, 5);
	assert_int_equal(log_writer_sync(w), WB_OK);
	uint64_t size = log_writer_size(w);
	assert_int_equal(log_writer_close(w), WB_OK);
	assert_int_equal(file_size(path), size);

	/* The padding is zeros and the bare header is an empty FIRST fragment. */
	size_t len;
	uint8_t *img = slurp(path, &len);
	assert_memory_equal(img + 2 * B - 3, "\0\0\0", 3);
	assert_int_equal(get_u16(img + 3 * B - H + 4), 0);
	assert_int_equal(img[3 * B - H + 6], 2 /* FIRST */);
	assert_int_equal(img[3 * B + 6], 4 /* LAST */);
	assert_int_equal(get_u16(img + 3 * B + 4), 100);
	free(img);

	expect_records(path, &wr, wr.n, UINT64_MAX);
}

static void test_many_records(void **state)
{
	const char *path = path_of("many.wal");
	static struct written wr;
	log_writer_t *w = create_ok(wb_env_default(), path, &wr);
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 4000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t len = i % 100 == 99 ? (size_t)(x % 200000) : (size_t)(x % 3000);
		add_rec(w, &wr, len);
	}
	assert_int_equal(log_writer_close(w), WB_OK);
	expect_records(path, &wr, wr.n, UINT64_MAX);
}

/* Writes the header record for (version, kind) by hand, plus one record. */
static void write_handmade(const char *path, uint64_t magic, uint32_t version, uint32_t kind,
			   size_t payload_len)
{
	uint8_t buf[64] = { 0 };
	uint8_t *p = buf + H;
	put_u64(p, magic);
	put_u32(p + 8, version);
	put_u32(p + 12, kind);
	uint8_t type = 1;
	put_u32(buf, crc32c_mask(crc32c_extend(crc32c(&type, 1), p, payload_len)));
	put_u16(buf + 4, (uint16_t)payload_len);
	buf[6] = type;
	spit(path, buf, H + payload_len);
}

static void expect_open_fails(const char *path, enum log_kind kind, int want)
{
	log_reader_t *r = (log_reader_t *)1;
	err_clear();
	int rc = log_reader_open(wb_env_default(), path, kind, &r);
	if (rc != want)
		fail_msg("open %s: %s, expected %s", path, wb_strerror(rc), wb_strerror(want));
	assert_null(r);
	if (want != WB_ENOTFOUND && strstr(err_message(), path) == NULL)
		fail_msg("message does not name the file: \"%s\"", err_message());
}

static void expect_empty_log(const char *path, bool torn)
{
	log_reader_t *r;
	int rc = log_reader_open(wb_env_default(), path, LOG_KIND_WAL, &r);
	if (rc != WB_OK)
		fail_msg("open %s: %s: %s", path, wb_strerror(rc), err_message());
	slice_t rec;
	assert_int_equal(log_reader_next(r, &rec), WB_ENOTFOUND);
	uint64_t off = 99;
	assert_int_equal(log_reader_torn(r, &off), torn);
	assert_int_equal(off, 0);
	log_reader_close(r);
}

static void test_file_header(void **state)
{
	const char *path = path_of("hdr.wal");
	log_writer_t *w = create_ok(wb_env_default(), path, NULL);
	assert_int_equal(log_writer_add(w, slice_make("abc", 3)), WB_OK);
	log_writer_close(w);
	expect_open_fails(path, LOG_KIND_MANIFEST, WB_EFORMAT);
	expect_open_fails(path_of("missing.wal"), LOG_KIND_WAL, WB_ENOTFOUND);

	write_handmade(path, LOG_MAGIC, LOG_FORMAT_VERSION + 1, LOG_KIND_WAL, 16);
	expect_open_fails(path, LOG_KIND_WAL, WB_EFORMAT);
	write_handmade(path, LOG_MAGIC, LOG_FORMAT_VERSION, 7, 16);
	expect_open_fails(path, LOG_KIND_WAL, WB_EFORMAT);
	write_handmade(path, LOG_MAGIC ^ 1, LOG_FORMAT_VERSION, LOG_KIND_WAL, 16);
	expect_open_fails(path, LOG_KIND_WAL, WB_EFORMAT);
	write_handmade(path, LOG_MAGIC, LOG_FORMAT_VERSION, LOG_KIND_WAL, 12); /* short header */
	expect_open_fails(path, LOG_KIND_WAL, WB_EFORMAT);
	write_handmade(path, LOG_MAGIC, LOG_FORMAT_VERSION, LOG_KIND_MANIFEST, 16);
	log_reader_t *r;
	assert_int_equal(log_reader_open(wb_env_default(), path, LOG_KIND_MANIFEST, &r), WB_OK);
	log_reader_close(r);

	/* A header record of zero bytes, the first fragment of the file: what
	 * fuzz_log found making the reader add 0 to a NULL record buffer
	 * (undefined behaviour; make asan's UBSan reports it). Not a log. */
	uint8_t empty_full[H];
	uint8_t full = 1;
	put_u32(empty_full, crc32c_mask(crc32c(&full, 1)));
	put_u16(empty_full + 4, 0);
	empty_full[6] = full;
	spit(path, empty_full, H);
	expect_open_fails(path, LOG_KIND_WAL, WB_EFORMAT);

	/* Garbage: text, and 100 KiB of noise. */
	const char *text = "this is not a log file at all, just some text\n";
	spit(path, (const uint8_t *)text, strlen(text));
	expect_open_fails(path, LOG_KIND_WAL, WB_EFORMAT);
	uint8_t *noise = rec_make(3, 100000);
	spit(path, noise, 100000);
	expect_open_fails(path, LOG_KIND_WAL, WB_EFORMAT);
	free(noise);

	/* Empty: a log with no records, not torn. */
	static const uint8_t zeros_for_empty[1];
	spit(path, zeros_for_empty, 0);
	expect_empty_log(path, false);

	/* Torn right after creation: any prefix of the header, or the header
	 * never reached the disk but the file was extended (zeros). A prefix
	 * with one wrong byte is garbage. */
	w = create_ok(wb_env_default(), path_of("good.wal"), NULL);
	log_writer_close(w);
	size_t len;
	uint8_t *img = slurp(path_of("good.wal"), &len);
	assert_int_equal(len, FILE_HEADER_BYTES);
	for (size_t cut = 1; cut < len; cut += 5) {
		uint8_t bad[FILE_HEADER_BYTES];
		memcpy(bad, img, cut);
		bad[cut - 1] ^= bad[cut - 1] == 0x5a ? 0x33 : 0x5a; /* never 0 */
		spit(path, bad, cut);
		expect_open_fails(path, LOG_KIND_WAL, WB_EFORMAT);
	}
	for (size_t cut = 1; cut < len; cut++) {
		spit(path, img, cut);
		expect_empty_log(path, true);
	}
	uint8_t zeros[4096] = { 0 };
	spit(path, zeros, sizeof(zeros));
	expect_empty_log(path, true);
	free(img);
}

/* Cuts the file at every offset inside the last record (or a sample for a
 * big one): every earlier record reads back, then a torn end exactly where
 * the last record began. */
static void torn_last_record(size_t last_len, size_t stride)
{
	const char *path = path_of("torn.wal");
	static struct written wr;
	log_writer_t *w = create_ok(wb_env_default(), path, &wr);
	for (int i = 0; i < 40; i++)
		add_rec(w, &wr, (size_t)(i * 397 % 1500));
	add_rec(w, &wr, last_len);
	log_writer_close(w);
	size_t len;
	uint8_t *img = slurp(path, &len);
	size_t last = wr.n - 1;
	assert_int_equal(len, wr.end[last]);

	const char *cut_path = path_of("cut.wal");
	for (uint64_t cut = wr.start[last] + 1; cut < wr.end[last]; cut++) {
		/* Sample big records, but always near block boundaries. */
		uint64_t in_block = cut % B;
		if (stride > 1 && cut % stride != 0 && in_block > 4 && in_block < B - 4 &&
		    cut > wr.start[last] + 9 && cut < wr.end[last] - 9)
			continue;
		spit(cut_path, img, (size_t)cut);
		expect_records(cut_path, &wr, last, wr.end[last - 1]);
	}
	/* Cut exactly at the record's start: a clean end. */
	spit(cut_path, img, (size_t)wr.start[last]);
	expect_records(cut_path, &wr, last, UINT64_MAX);
	free(img);
}

static void test_torn_tail_small(void **state)
{
	torn_last_record(300, 1);
}

static void test_torn_tail_spanning(void **state)
{
	torn_last_record(3 * B + 100, 31);
}

static void test_torn_tail_1mib(void **state)
{
	torn_last_record(1 << 20, 8209);
}

/* Zeros after the last record (preallocation, or a size that reached the
 * disk before the data did): a torn tail, however long. */
static void test_zero_filled_tail(void **state)
{
	const size_t zero_lens[] = { 1, 6, 7, 100, B, 3 * B + 5 };
	for (int end_on_block = 0; end_on_block < 2; end_on_block++) {
		for (size_t z = 0; z < sizeof(zero_lens) / sizeof(zero_lens[0]); z++) {
			const char *path = path_of("zeros.wal");
			static struct written wr;
			log_writer_t *w = create_ok(wb_env_default(), path, &wr);
			for (int i = 0; i < 30; i++)
				add_rec(w, &wr, 2000);
			if (end_on_block)
				add_rec(w, &wr, len_leaving(log_writer_size(w), 0));
			log_writer_close(w);
			size_t len;
			uint8_t *img = slurp(path, &len);
			img = realloc(img, len + zero_lens[z]);
			memset(img + len, 0, zero_lens[z]);
			spit(path, img, len + zero_lens[z]);
			free(img);
			expect_records(path, &wr, wr.n, wr.end[wr.n - 1]);
		}
	}
}

/* A log of many blocks: 300 records of 1000 bytes, then one spanning three
 * blocks, then more small ones. */
static const char *write_multi_block(struct written *wr)
{
	const char *path = path_of("multi.wal");
	log_writer_t *w = create_ok(wb_env_default(), path, wr);
	for (int i = 0; i < 300; i++)
		add_rec(w, wr, 1000);
	add_rec(w, wr, 3 * B); /* record 300 */
	for (int i = 0; i < 100; i++)
		add_rec(w, wr, 1000);
	log_writer_close(w);
	return path;
}

/* Where record n's first fragment starts (after any padding). */
static uint64_t frag_start(const struct written *wr, size_t n)
{
	uint64_t s = wr->start[n];
	return B - s % B < H ? s + (B - s % B) : s;
}

static void flip(const char *path, uint64_t off)
{
	size_t len;
	uint8_t *img = slurp(path, &len);
	assert_true(off < len);
	img[off] ^= 0x10;
	spit(path, img, len);
	free(img);
}

/* Flips one byte at off: records before `good` read back, then WB_ECORRUPT
 * with a message naming the file and the offset of the bad fragment, and
 * again on the next call. */
static void expect_corrupt(const char *path, const struct written *wr, size_t good,
			   uint64_t bad_frag)
{
	log_reader_t *r;
	assert_int_equal(log_reader_open(wb_env_default(), path, LOG_KIND_WAL, &r), WB_OK);
	slice_t rec;
	for (size_t i = 0; i < good; i++) {
		assert_int_equal(log_reader_next(r, &rec), WB_OK);
		assert_true(rec_is(rec, i, wr->len[i]));
	}
	err_clear();
	assert_int_equal(log_reader_next(r, &rec), WB_ECORRUPT);
	char want[64];
	snprintf(want, sizeof(want), "offset %llu:", (unsigned long long)bad_frag);
	const char *msg = err_message();
	if (strstr(msg, path) == NULL || strstr(msg, want) == NULL)
		fail_msg("message should name %s and \"%s\": \"%s\"", path, want, msg);
	assert_int_equal(log_reader_next(r, &rec), WB_ECORRUPT);
	log_reader_close(r);
}

/* The first record from n on that is one FULL fragment. */
static size_t pick_full(const struct written *wr, size_t n)
{
	while (frag_start(wr, n) / B != (wr->end[n] - 1) / B)
		n++;
	return n;
}

static void test_corruption_in_middle(void **state)
{
	static struct written wr;
	const char *path;

	/* A payload byte, the length and the type of a record in block 1. */
	const unsigned where[] = { H + 500, 4, 6, 0 };
	for (int i = 0; i < 4; i++) {
		path = write_multi_block(&wr);
		size_t n = pick_full(&wr, 50);
		flip(path, frag_start(&wr, n) + where[i]);
		expect_corrupt(path, &wr, n, frag_start(&wr, n));
	}

	/* The FIRST fragment of a record split by a block boundary. */
	path = write_multi_block(&wr);
	size_t split = pick_full(&wr, 100);
	while (frag_start(&wr, split) / B == (wr.end[split] - 1) / B)
		split++;
	flip(path, frag_start(&wr, split) + H);
	expect_corrupt(path, &wr, split, frag_start(&wr, split));

	/* The MIDDLE fragment of the spanning record 300, which starts a block:
	 * the damage is named at that fragment, not at the record's start. */
	path = write_multi_block(&wr);
	uint64_t middle = (frag_start(&wr, 300) / B + 1) * B;
	flip(path, middle + H + 7);
	expect_corrupt(path, &wr, 300, middle);

	/* The next block starts with a whole record: the reader must not resume
	 * there after reporting the damage. */
	path = path_of("resume.wal");
	log_writer_t *w = create_ok(wb_env_default(), path, &wr);
	for (int i = 0; i < 10; i++)
		add_rec(w, &wr, 1000);
	add_rec(w, &wr, len_leaving(log_writer_size(w), 0));
	for (int i = 0; i < 10; i++)
		add_rec(w, &wr, 1000);
	log_writer_close(w);
	assert_int_equal(wr.start[11], B);
	flip(path, frag_start(&wr, 5) + H + 1);
	expect_corrupt(path, &wr, 5, frag_start(&wr, 5));

	/* The LAST fragment of the final record replaced by a valid FULL one
	 * (and the file ends there): valid data after damage, not a tear. */
	path = path_of("sequence.wal");
	w = create_ok(wb_env_default(), path, &wr);
	for (int i = 0; i < 10; i++)
		add_rec(w, &wr, 1000);
	add_rec(w, &wr, len_leaving(log_writer_size(w), 0) + 100);
	log_writer_close(w);
	size_t len;
	uint8_t *img = slurp(path, &len);
	assert_int_equal(len, B + H + 100);
	uint8_t type = 1;
	put_u32(img + B, crc32c_mask(crc32c_extend(crc32c(&type, 1), "xyz", 3)));
	put_u16(img + B + 4, 3);
	img[B + 6] = type;
	memcpy(img + B + H, "xyz", 3);
	spit(path, img, B + H + 3);
	free(img);
	expect_corrupt(path, &wr, 10, B);

	/* A record whose fragments are zeroed: out of sequence afterwards. */
	path = write_multi_block(&wr);
	img = slurp(path, &len);
	size_t z = pick_full(&wr, 120);
	memset(img + frag_start(&wr, z), 0, 2 * (H + 1000));
	spit(path, img, len);
	free(img);
	expect_corrupt(path, &wr, z, frag_start(&wr, z));
}

/*
 * A flipped byte in the last record is corruption, not a torn tail, when the
 * whole record is on disk. A crash leaves a prefix of the last append (the
 * damaged fragment then runs past the end of the file) or never-written
 * zeros; a complete, non-zero fragment that fails its checksum was damaged
 * after it was written, and it may have been synced, so dropping it could
 * lose an acknowledged, synced write (docs/format.md, "Damage versus a torn
 * tail"). The same holds for the last fragment of a record that spans
 * blocks, and for a bad fragment followed by a valid one in a later block.
 */
static void test_flip_in_last_record_is_corrupt(void **state)
{
	const size_t last_lens[] = { 0, 1, 700, 2 * B };
	for (size_t t = 0; t < sizeof(last_lens) / sizeof(last_lens[0]); t++) {
		const char *path = path_of("flip-last.wal");
		static struct written wr;
		log_writer_t *w = create_ok(wb_env_default(), path, &wr);
		for (int i = 0; i < 80; i++)
			add_rec(w, &wr, 1000);
		add_rec(w, &wr, last_lens[t]);
		log_writer_close(w);
		size_t last = wr.n - 1;
		if (last_lens[t] < B)
			assert_int_equal(pick_full(&wr, last), last);
		/* In the last fragment of the last record: its crc (payload for
		 * the spanning one), then its last payload byte. */
		uint64_t at = last_lens[t] > B ? wr.end[last] - 10 : frag_start(&wr, last);
		uint64_t bad = last_lens[t] > B ? (wr.end[last] - 1) / B * B : frag_start(&wr, last);
		flip(path, at);
		expect_corrupt(path, &wr, last, bad);
		if (last_lens[t] > 0) {
			flip(path, at);
			flip(path, wr.end[last] - 1);
			expect_corrupt(path, &wr, last, bad);
		}
		if (last_lens[t] > B) {
			flip(path, wr.end[last] - 1);
			flip(path, frag_start(&wr, last) + H);
			expect_corrupt(path, &wr, last, frag_start(&wr, last));
		}
	}
}

/*
 * Damage to a fragment's header in the last block, with whole records after
 * it in the same block: what fuzz_log found. A header whose type or length
 * no writer or crash leaves was taken for a torn tail, because the only
 * evidence looked for was a valid fragment at a later block's start, and
 * a small log has no later block: every record after the damage was
 * dropped without a word. Each case here must be WB_ECORRUPT at the
 * damaged fragment.
 */
/* Ten records of 100 bytes: one block, the last. Returns its image. */
static uint8_t *write_one_block(const char *path, struct written *wr, size_t *len)
{
	log_writer_t *w = create_ok(wb_env_default(), path, wr);
	for (int i = 0; i < 10; i++)
		add_rec(w, wr, 100);
	log_writer_close(w);
	uint8_t *img = slurp(path, len);
	assert_true(*len < B);
	return img;
}

static void test_damaged_header_in_last_block(void **state)
{
	enum { TYPE_ZERO, TYPE_BAD, LEN_PAST_BLOCK, LEN_PAST_END, LEN_FLIP, TYPE_FLIP, CASES };
	const char *path = path_of("last-block.wal");
	static struct written wr;
	size_t len;
	for (int c = 0; c < CASES; c++) {
		uint8_t *img = write_one_block(path, &wr, &len);
		uint64_t f = frag_start(&wr, 5);
		switch (c) {
		case TYPE_ZERO: /* FULL (1) with its bit flipped */
			img[f + 6] = 0;
			break;
		case TYPE_BAD:
			img[f + 6] = 9;
			break;
		case LEN_PAST_BLOCK:
			put_u16(img + f + 4, 0xffff);
			break;
		case LEN_PAST_END: /* fits the block, not the file */
			put_u16(img + f + 4, (uint16_t)(len - f));
			break;
		case LEN_FLIP: /* one bit of the length: 100 becomes 2148 */
			img[f + 5] ^= 0x08;
			break;
		case TYPE_FLIP:
			img[f + 6] ^= 0x10;
			break;
		}
		spit(path, img, len);
		free(img);
		expect_corrupt(path, &wr, 5, f);
	}
	/* The same for an empty record whose type byte lost its bit (found by
	 * fuzz_log): its checksum shows it was whole. */
	log_writer_t *w = create_ok(wb_env_default(), path, &wr);
	for (int i = 0; i < 3; i++)
		add_rec(w, &wr, 0);
	log_writer_close(w);
	uint8_t *e = slurp(path, &len);
	e[frag_start(&wr, 0) + 6] ^= 1;
	spit(path, e, len);
	free(e);
	expect_corrupt(path, &wr, 0, frag_start(&wr, 0));

	/* A torn last record stays a quiet end: cut inside it, or its type
	 * byte still zero with zeros after it (a store through a map cut
	 * short). */
	uint8_t *img = write_one_block(path, &wr, &len);
	spit(path, img, len - 50);
	expect_records(path, &wr, 9, wr.end[8]);
	img = realloc(img, len + 100);
	memset(img + len, 0, 100);
	img[frag_start(&wr, 9) + 6] = 0;
	spit(path, img, len + 100);
	expect_records(path, &wr, 9, wr.end[8]);
	free(img);
}

/* A refused append leaves nothing behind: the records added afterwards
 * follow the earlier ones directly and everything reads back. */
static void test_failed_add_leaves_no_trace(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	const char *path = path_of("fail.wal");
	static struct written wr;
	log_writer_t *w = create_ok(env, path, &wr);
	for (int i = 0; i < 20; i++)
		add_rec(w, &wr, 3000);
	uint64_t before = log_writer_size(w);

	const size_t fail_lens[] = { 10, 2 * B };
	for (int i = 0; i < 2; i++) {
		fault_env_fail_nth(fe, FAULT_APPEND, 1, i ? WB_EIO : WB_ENOSPC, FAULT_ONCE);
		uint8_t *junk = rec_make(99, fail_lens[i]);
		err_clear();
		assert_int_equal(log_writer_add(w, slice_make(junk, fail_lens[i])),
				 i ? WB_EIO : WB_ENOSPC);
		free(junk);
		assert_non_null(strstr(err_message(), path));
		assert_int_equal(log_writer_size(w), before);
		assert_int_equal(file_size(path), before);
	}
	for (int i = 0; i < 20; i++)
		add_rec(w, &wr, 5000);

	/* A failed sync is reported. */
	fault_env_fail_nth(fe, FAULT_SYNC, 1, WB_EIO, FAULT_ONCE);
	assert_int_equal(log_writer_sync(w), WB_EIO);
	assert_int_equal(log_writer_sync(w), WB_OK);
	assert_int_equal(log_writer_close(w), WB_OK);
	expect_records(path, &wr, wr.n, UINT64_MAX);

	/* The header append fails: no writer and no file. */
	fault_env_fail_nth(fe, FAULT_APPEND, 1, WB_ENOSPC, FAULT_ONCE);
	log_writer_t *w2 = (log_writer_t *)1;
	assert_int_equal(log_writer_create(env, path_of("nohdr.wal"), LOG_KIND_WAL, &w2),
			 WB_ENOSPC);
	assert_null(w2);
	assert_int_equal(access(path_of("nohdr.wal"), F_OK), -1);
	fault_env_free(fe);
}

/* An append torn by a crash (part of it on disk, the process gone) is a
 * torn tail on the next open; one that fails partway and cannot be truncated
 * away breaks the writer, so no record can land after the partial one. */
static void test_torn_and_broken_appends(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	const char *path = path_of("tear.wal");
	static struct written wr;
	log_writer_t *w = create_ok(env, path, &wr);
	for (int i = 0; i < 20; i++)
		add_rec(w, &wr, 3000);
	uint64_t good = log_writer_size(w);
	fault_env_tear_next_append(fe, 2 * B + 5);
	uint8_t *big = rec_make(77, 3 * B);
	assert_int_equal(log_writer_add(w, slice_make(big, 3 * B)), WB_OK);
	log_writer_close(w);
	expect_records(path, &wr, wr.n, good);

	w = create_ok(env, path, &wr);
	for (int i = 0; i < 5; i++)
		add_rec(w, &wr, 3000);
	good = log_writer_size(w);
	fault_env_kill_after_bytes(fe, 1000);
	assert_int_equal(log_writer_add(w, slice_make(big, 3 * B)), WB_EIO);
	fault_env_clear_faults(fe); /* the truncate failed: still broken */
	assert_int_equal(log_writer_add(w, slice_make("x", 1)), WB_EIO);
	assert_int_equal(log_writer_size(w), good);
	log_writer_close(w);
	assert_int_equal(file_size(path), good + 1000);
	expect_records(path, &wr, wr.n, good);
	free(big);
	fault_env_free(fe);
}

static int rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(p);
}

/* ---- map mode (a WAL written through a map, mapped.h) ---- */

/* While a mapped WAL is open its file holds zeros past the data, which
 * read as the end (a torn tail: this is what a crash leaves); closing
 * trims them. */
static void test_mapped_zero_tail(void **state)
{
	const char *path = path_of("mapped.wal");
	static struct written wr;
	log_writer_t *w = create_ok(wb_env_default(), path, &wr);
	for (int i = 0; i < 50; i++)
		add_rec(w, &wr, 700);
	add_rec(w, &wr, 3 * B);
	add_rec(w, &wr, 10);
	assert_true(file_size(path) > log_writer_size(w)); /* stored, not appended */
	expect_records(path, &wr, wr.n, wr.end[wr.n - 1]);
	log_writer_close(w);
	assert_int_equal(file_size(path), wr.end[wr.n - 1]);
	expect_records(path, &wr, wr.n, UINT64_MAX);
}

/* A crash while the last record (three blocks: four fragments) was being
 * stored or written back. Left: whole fragments, then one cut short --
 * its header zero or only partly there (a kill: the type byte is stored
 * last), or whole with its payload missing or half there (a power loss:
 * the header's page reached the disk, the payload's not) -- then zeros.
 * Every such state reads as the records before it and a torn tail. */
static void test_mapped_interrupted_store(void **state)
{
	const char *path = path_of("killed.wal");
	static struct written wr;
	log_writer_t *w = create_ok(wb_env_default(), path, &wr);
	for (int i = 0; i < 20; i++)
		add_rec(w, &wr, 1000);
	add_rec(w, &wr, 3 * B);
	size_t len;
	uint8_t *live = slurp(path, &len); /* as a crash would leave it */
	log_writer_close(w);
	size_t last = wr.n - 1;
	uint64_t frags[8];
	int nfrags = 0;
	frags[nfrags++] = frag_start(&wr, last);
	for (uint64_t b = (frags[0] / B + 1) * B; b < wr.end[last]; b += B)
		frags[nfrags++] = b;
	assert_int_equal(nfrags, 4);
	uint8_t *img = malloc(len);
	/* What of the fragment's header is there: none, all but the type
	 * byte, all. What of its payload: all, the first half, none. */
	const size_t header_kept[] = { 0, H - 1, H };
	for (int k = 0; k < nfrags; k++) {
		uint64_t next = k + 1 < nfrags ? frags[k + 1] : wr.end[last];
		uint64_t payload = frags[k] + H;
		for (int h = 0; h < 3; h++) {
			for (int p = 0; p < 3; p++) {
				if (header_kept[h] == H && p == 0)
					continue; /* a whole fragment: the next one's case */
				memcpy(img, live, len);
				memset(img + frags[k] + header_kept[h], 0, H - header_kept[h]);
				uint64_t from = p == 0 ? next : p == 1 ? payload + (next - payload) / 2 : payload;
				memset(img + from, 0, len - from);
				spit(path, img, len);
				expect_records(path, &wr, last, wr.end[last - 1]);
			}
		}
	}
	free(img);
	free(live);
}

/* A WAL synced after every few records goes back to appending (syncs
 * after stores through a map cost twice as much): its zeros are trimmed
 * and every record, before and after the switch, reads back. */
static void test_mapped_synced_often_appends(void **state)
{
	const char *path = path_of("synced.wal");
	static struct written wr;
	log_writer_t *w = create_ok(wb_env_default(), path, &wr);
	add_rec(w, &wr, 100);
	assert_true(file_size(path) > log_writer_size(w)); /* mapped */
	for (int i = 0; i < 10; i++) {
		add_rec(w, &wr, 100);
		assert_int_equal(log_writer_sync(w), WB_OK);
	}
	add_rec(w, &wr, 3 * B);
	add_rec(w, &wr, 100);
	assert_int_equal(file_size(path), log_writer_size(w)); /* appended */
	expect_records(path, &wr, wr.n, UINT64_MAX);
	log_writer_close(w);
	expect_records(path, &wr, wr.n, UINT64_MAX);
}

static int setup(void **state)
{
	strcpy(dir, "/tmp/wb_test_log.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_sizes),
		cmocka_unit_test(test_many_records),
		cmocka_unit_test(test_file_header),
		cmocka_unit_test(test_torn_tail_small),
		cmocka_unit_test(test_torn_tail_spanning),
		cmocka_unit_test(test_torn_tail_1mib),
		cmocka_unit_test(test_zero_filled_tail),
		cmocka_unit_test(test_corruption_in_middle),
		cmocka_unit_test(test_flip_in_last_record_is_corrupt),
		cmocka_unit_test(test_damaged_header_in_last_block),
		cmocka_unit_test(test_failed_add_leaves_no_trace),
		cmocka_unit_test(test_torn_and_broken_appends),
		cmocka_unit_test(test_mapped_zero_tail),
		cmocka_unit_test(test_mapped_interrupted_store),
		cmocka_unit_test(test_mapped_synced_often_appends),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
