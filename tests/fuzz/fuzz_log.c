/*
 * fuzz_log.c -- fuzzes the record log reader (engine/src/db/log.c), the
 * framing of both the WAL and the MANIFEST, including its rule for telling
 * a torn tail (a crash: quietly the end of the log) from damage
 * (WB_ECORRUPT). docs/format.md, "Record log".
 *
 * The first input byte picks the kind of log (bit 0: WAL or MANIFEST) and
 * one of three modes (bits 1-2):
 *
 *   raw        the rest is the file. The reader must give WB_OK, WB_ENOTFOUND
 *              at the end, or WB_ECORRUPT / WB_EFORMAT with a message naming
 *              the file, stay failed once failed, and never loop.
 *   fixed      the same, after every fragment the reader would walk to has
 *              had its checksum recomputed, so the fuzzer gets past the CRCs
 *              to the sequence and header logic.
 *   scripted   the rest is a script: records to write with the real writer,
 *              then one thing a crash or the disk might do to the file (cut
 *              it, cut it and add zeros, zero its tail, flip one byte). The
 *              reader is then held to the crash model: after a crash it
 *              returns exactly the records that were whole on disk and no
 *              error; after damage it returns only records that were
 *              written, in order, and may end quietly early only when the
 *              damage is in the very last record (a crash could have left
 *              the same bytes); anything else is WB_ECORRUPT.
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include "util/crc32c.h"
#include "util/error.h"
#include "db/log.h"
#include "mem_env.h"

#define PATH     "db/000007.wal"
#define MAX_RECS 12

enum mode { MODE_RAW, MODE_FIXED, MODE_SCRIPT, MODE_SCRIPT2 };

enum op { OP_NONE, OP_CUT, OP_CUT_ZEROS, OP_ZERO_TAIL, OP_FLIP, OP_COUNT };

static void check_error_message(int rc)
{
	const char *msg = err_message();
	FUZZ_CHECK(strstr(msg, PATH) != NULL, "%s without the file's name: \"%s\"", wb_strerror(rc),
	           msg);
}

/* An open that failed: for a reason the contract names, said with the file. */
static void check_open_error(int rc)
{
	FUZZ_CHECK(rc == WB_ECORRUPT || rc == WB_EFORMAT, "open: %s", wb_strerror(rc));
	check_error_message(rc);
}

/* Recomputes the checksum of every fragment the reader would reach. */
static void fix_checksums(uint8_t *p, size_t len)
{
	size_t pos = 0;
	while (pos + LOG_HEADER_SIZE <= len) {
		size_t room = LOG_BLOCK_SIZE - pos % LOG_BLOCK_SIZE;
		if (room < LOG_HEADER_SIZE) {
			pos += room;
			continue;
		}
		size_t n = get_u16(p + pos + 4);
		if (LOG_HEADER_SIZE + n > room || pos + LOG_HEADER_SIZE + n > len)
			break;
		uint32_t crc = crc32c_extend(crc32c(p + pos + 6, 1), p + pos + LOG_HEADER_SIZE, n);
		put_u32(p + pos, crc32c_mask(crc));
		pos += LOG_HEADER_SIZE + n;
	}
}

/* Does a fragment of the log p[0, len) as the writer laid it end at off? */
static bool fragment_ends_at(const uint8_t *p, size_t len, size_t off)
{
	size_t pos = 0;
	while (pos + LOG_HEADER_SIZE <= len && pos < off) {
		size_t room = LOG_BLOCK_SIZE - pos % LOG_BLOCK_SIZE;
		if (room < LOG_HEADER_SIZE) {
			pos += room;
			continue;
		}
		pos += LOG_HEADER_SIZE + get_u16(p + pos + 4);
	}
	return pos == off;
}

/* Reads every record of a file nobody vouches for: only the contract. */
static void read_untrusted(const wb_env *env, enum log_kind kind, size_t size)
{
	err_clear();
	log_reader_t *r;
	int rc = log_reader_open(env, PATH, kind, &r);
	if (rc != WB_OK) {
		check_open_error(rc);
		return;
	}
	slice_t rec;
	size_t n = 0;
	while ((rc = log_reader_next(r, &rec)) == WB_OK) {
		FUZZ_CHECK(rec.len <= size, "a record of %zu bytes from a file of %zu", rec.len,
		           size);
		FUZZ_CHECK(++n <= size / LOG_HEADER_SIZE + 1, "more records than fragments fit");
	}
	if (rc == WB_ECORRUPT) {
		check_error_message(rc);
		FUZZ_CHECK(log_reader_next(r, &rec) == WB_ECORRUPT, "corruption not sticky");
	} else {
		FUZZ_CHECK(rc == WB_ENOTFOUND, "next: %s", wb_strerror(rc));
		FUZZ_CHECK(log_reader_next(r, &rec) == WB_ENOTFOUND,
		           "the end did not stay the end");
		uint64_t end;
		log_reader_torn(r, &end);
		FUZZ_CHECK(end <= size, "valid data ends at %llu in a file of %zu",
		           (unsigned long long)end, size);
	}
	log_reader_close(r);
}

static uint8_t rec_byte(uint8_t seed, size_t i)
{
	return (uint8_t)(seed + i * 13 + (i >> 8));
}

/* Record lengths: mostly small, so several share a block, sometimes long
 * enough to span blocks. */
static size_t script_len(fuzz_in_t *in)
{
	uint8_t c = fuzz_u8(in);
	if (c < 200)
		return c;
	return (size_t)(c - 200) * 1500 + fuzz_u8(in) * 7u;
}

static void run_script(mem_env_t *me, enum log_kind kind, fuzz_in_t *in)
{
	const wb_env *env = mem_env_get(me);
	size_t nrec = fuzz_u8(in) % MAX_RECS + 1;
	size_t len[MAX_RECS];
	uint8_t seed[MAX_RECS];
	uint64_t start[MAX_RECS], end[MAX_RECS], header_end;

	log_writer_t *w;
	FUZZ_CHECK(log_writer_create(env, PATH, kind, &w) == WB_OK, "create");
	header_end = log_writer_size(w);
	for (size_t i = 0; i < nrec; i++) {
		len[i] = script_len(in);
		seed[i] = fuzz_u8(in);
		uint8_t *p = malloc(len[i] + 1);
		for (size_t j = 0; j < len[i]; j++)
			p[j] = rec_byte(seed[i], j);
		start[i] = log_writer_size(w);
		FUZZ_CHECK(log_writer_add(w, slice_make(p, len[i])) == WB_OK, "add");
		end[i] = log_writer_size(w);
		free(p);
	}
	log_writer_close(w);

	size_t size;
	uint8_t *orig = mem_env_file(me, PATH, &size);
	orig = size ? memcpy(malloc(size), orig, size) : NULL;
	enum op op = (enum op)(fuzz_u8(in) % OP_COUNT);
	size_t at = size ? fuzz_u32(in) % size : 0;
	size_t zeros = (size_t)fuzz_u8(in) * 300;
	uint8_t mask = fuzz_u8(in) | 1;
	switch (op) {
	case OP_NONE:
		at = size;
		break;
	case OP_CUT:
		mem_env_resize(me, PATH, at);
		break;
	case OP_CUT_ZEROS:
		mem_env_resize(me, PATH, at);
		mem_env_resize(me, PATH, at + zeros);
		break;
	case OP_ZERO_TAIL:
		/* A WAL written through a map: zeros prepared past the data,
		 * always at least one byte of them (log.c store_fragments). */
		mem_env_resize(me, PATH, at);
		mem_env_resize(me, PATH, size + 1 + zeros);
		break;
	case OP_FLIP:
		mem_env_file(me, PATH, &size)[at] ^= mask;
		break;
	case OP_COUNT:
		break;
	}
	bool crash = op != OP_FLIP;
	/* After a crash, the records that are whole on disk: every byte up to
	 * their end as written (zeros put over zero bytes change nothing). */
	size_t now_len;
	const uint8_t *now = mem_env_file(me, PATH, &now_len);
	size_t whole = 0;
	while (whole < nrec && end[whole] <= now_len && memcmp(orig, now, end[whole]) == 0)
		whole++;
	/* A file cut and refilled with zeros that ends exactly where a
	 * fragment ends holds a whole fragment failing its checksum with
	 * nothing after it: the format calls that damage, as a cleanly closed
	 * log ends at its last record (docs/format.md, "Damage versus a torn
	 * tail"), so WB_ECORRUPT is allowed there. */
	bool strict = crash && !(op == OP_CUT_ZEROS && now_len <= size && whole < nrec &&
	                         fragment_ends_at(orig, size, now_len));
	free(orig);

	err_clear();
	log_reader_t *r;
	int rc = log_reader_open(env, PATH, kind, &r);
	if (rc != WB_OK) {
		FUZZ_CHECK(!strict, "open after a crash at %zu: %s: %s", at, wb_strerror(rc),
		           err_message());
		FUZZ_CHECK(at < header_end, "open fails (%s) for a flip at %zu, past the header",
		           wb_strerror(rc), at);
		check_open_error(rc);
		return;
	}
	slice_t rec;
	size_t got = 0;
	while ((rc = log_reader_next(r, &rec)) == WB_OK) {
		FUZZ_CHECK(got < nrec, "more records than were written");
		bool same = rec.len == len[got];
		for (size_t j = 0; same && j < rec.len; j++)
			same = rec.data[j] == rec_byte(seed[got], j);
		FUZZ_CHECK(same, "record %zu differs from what was written (op %d at %zu)", got, op,
		           at);
		got++;
	}
	if (crash && !strict && rc == WB_ECORRUPT) {
		check_error_message(rc);
	} else if (crash) {
		FUZZ_CHECK(rc == WB_ENOTFOUND, "after a crash (op %d at %zu): %s: %s", op, at,
		           wb_strerror(rc), err_message());
		FUZZ_CHECK(got == whole, "%zu records after a crash at %zu, %zu were whole", got,
		           at, whole);
		uint64_t valid;
		bool torn = log_reader_torn(r, &valid);
		/* With no record whole, the header may still be (zeros written
		 * over its zero bytes change nothing). */
		FUZZ_CHECK(!torn || valid == (whole ? end[whole - 1] : header_end) ||
		               (whole == 0 && valid == 0),
		           "torn, valid data said to end at %llu", (unsigned long long)valid);
	} else if (rc == WB_ECORRUPT) {
		check_error_message(rc);
	} else {
		FUZZ_CHECK(rc == WB_ENOTFOUND, "next: %s", wb_strerror(rc));
		/* Quietly short only when the flip is in the last record, where
		 * the same bytes could be a torn append. */
		FUZZ_CHECK(got == nrec || (got == nrec - 1 && at >= start[nrec - 1]),
		           "a flip at %zu (record %zu of %zu starts at %llu) silently dropped %zu "
		           "records",
		           at, got, nrec, (unsigned long long)(got < nrec ? start[got] : 0),
		           nrec - got);
	}
	log_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in_t in = fuzz_in(data, size);
	uint8_t mode_byte = fuzz_u8(&in);
	enum log_kind kind = mode_byte & 1 ? LOG_KIND_MANIFEST : LOG_KIND_WAL;
	enum mode mode = (enum mode)((mode_byte >> 1) & 3);
	mem_env_t *me = mem_env_new();
	if (me == NULL)
		return 0;
	if (mode == MODE_RAW || mode == MODE_FIXED) {
		if (mem_env_put(me, PATH, in.p, in.left) == WB_OK) {
			size_t len;
			uint8_t *p = mem_env_file(me, PATH, &len);
			if (mode == MODE_FIXED)
				fix_checksums(p, len);
			read_untrusted(mem_env_get(me), kind, len);
		}
	} else {
		run_script(me, kind, &in);
	}
	mem_env_free(me);
	return 0;
}
