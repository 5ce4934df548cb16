/*
 * log.c -- writer and reader of the record log (WAL and MANIFEST).
 * Format in docs/format.md, "Record log"; contracts in log.h.
 */
#include "db/log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"
#include "util/error.h"
#include "util/grow.h"
#include "util/mapped.h"

/* Fragment types. Never renumber: on-disk. */
enum {
	FRAG_ZERO = 0, /* padding left by preallocation: never written */
	FRAG_FULL = 1,
	FRAG_FIRST = 2,
	FRAG_MIDDLE = 3,
	FRAG_LAST = 4,
};

#define FILE_HEADER_LEN 16 /* magic u64, version u32, kind u32 */

static void make_file_header(uint8_t hdr[FILE_HEADER_LEN], enum log_kind kind)
{
	put_u64(hdr, LOG_MAGIC);
	put_u32(hdr + 8, LOG_FORMAT_VERSION);
	put_u32(hdr + 12, (uint32_t)kind);
}

struct log_writer {
	const wb_env *env;
	wb_env_file *file;
	char *path;
	uint64_t size;  /* bytes of records (a mapped file holds zeros past) */
	uint8_t *buf;   /* fragments of the record being added */
	size_t buf_cap;
	int broken;     /* a failed append could not be undone */
	mapped_t m;     /* a WAL is written through a map when m.on (mapped.h) */
	_Atomic uint64_t added; /* size, for log_writer_sync's thread */
};

static size_t fragmented_size(uint64_t start, size_t len)
{
	/* An upper bound: one header per block touched, plus padding. */
	return len + (len / (LOG_BLOCK_SIZE - LOG_HEADER_SIZE) + 2) * (LOG_HEADER_SIZE * 2) +
	       (LOG_BLOCK_SIZE - start % LOG_BLOCK_SIZE);
}

/* Lays out record as fragments starting at file offset `at`; returns bytes used. */
static size_t encode_fragments(uint8_t *out, uint64_t at, slice_t record)
{
	size_t n = 0;
	const uint8_t *p = record.data;
	size_t left = record.len;
	bool first = true;

	do {
		size_t room = LOG_BLOCK_SIZE - (at + n) % LOG_BLOCK_SIZE;
		if (room < LOG_HEADER_SIZE) {
			memset(out + n, 0, room);
			n += room;
			room = LOG_BLOCK_SIZE;
		}
		size_t frag = room - LOG_HEADER_SIZE;
		if (frag > left)
			frag = left;
		bool last = frag == left;
		uint8_t type = first && last ? FRAG_FULL : first ? FRAG_FIRST : last ? FRAG_LAST : FRAG_MIDDLE;
		uint32_t crc = crc32c_extend(crc32c(&type, 1), p, frag);
		put_u32(out + n, crc32c_mask(crc));
		put_u16(out + n + 4, (uint16_t)frag);
		out[n + 6] = type;
		memcpy(out + n + LOG_HEADER_SIZE, p, frag);
		n += LOG_HEADER_SIZE + frag;
		p += frag;
		left -= frag;
		first = false;
	} while (left > 0);
	return n;
}

int log_writer_create(const wb_env *env, const char *path, enum log_kind kind, log_writer_t **out)
{
	*out = NULL;
	log_writer_t *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->path = strdup(path)) == NULL) {
		free(w);
		return WB_ENOMEM;
	}
	w->env = env;
	int rc = env->open(env->ctx, path, WB_ENV_READ | WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_TRUNCATE,
			   &w->file);
	if (rc != WB_OK) {
		free(w->path);
		free(w);
		return rc;
	}
	if (kind == LOG_KIND_WAL)
		mapped_start(&w->m, env, w->file, w->path, 0, UINT64_MAX);
	uint8_t hdr[FILE_HEADER_LEN];
	make_file_header(hdr, kind);
	rc = log_writer_add(w, slice_make(hdr, sizeof(hdr)));
	if (rc != WB_OK) {
		log_writer_close(w);
		env->remove(env->ctx, path);
		return rc;
	}
	*out = w;
	return WB_OK;
}

/* Map mode: writes the n encoded bytes in w->buf by storing each
 * fragment's payload, then its checksum and length, then its type byte
 * (a zero type is never valid), so that whatever a kill interrupts reads
 * as whole fragments followed by zeros, which the reader takes for a torn
 * tail (with write(2) a crash leaves a prefix of the append instead).
 * Block padding is zeros already. */
static int store_fragments(log_writer_t *w, size_t n)
{
	int rc = mapped_prepare(&w->m, w->size + n);
	size_t i = 0;
	while (rc == WB_OK && i < n) {
		uint64_t at = w->size + i;
		size_t room = LOG_BLOCK_SIZE - at % LOG_BLOCK_SIZE;
		if (room < LOG_HEADER_SIZE) {
			i += room;
			continue;
		}
		size_t len = get_u16(w->buf + i + 4);
		rc = mapped_store(&w->m, at + LOG_HEADER_SIZE, w->buf + i + LOG_HEADER_SIZE, len);
		if (rc == WB_OK)
			rc = mapped_store(&w->m, at, w->buf + i, LOG_HEADER_SIZE - 1);
		if (rc == WB_OK)
			rc = mapped_store(&w->m, at + LOG_HEADER_SIZE - 1, w->buf + i + LOG_HEADER_SIZE - 1, 1);
		i += LOG_HEADER_SIZE + len;
	}
	return rc;
}

int log_writer_add(log_writer_t *w, slice_t record)
{
	if (w->broken)
		return err_set(WB_EIO, "%s: log is unusable after a failed write", w->path);
	if (w->m.on && mapped_synced_often(&w->m) && mapped_finish(&w->m, w->size) != WB_OK) {
		w->broken = 1; /* zeros past the records: appends would land after them */
		return WB_EIO;
	}
	size_t need = fragmented_size(w->size, record.len);
	if (!grow_array((void **)&w->buf, &w->buf_cap, need, 1))
		return WB_ENOMEM;
	size_t n = encode_fragments(w->buf, w->size, record);
	int rc = w->m.on ? store_fragments(w, n) : w->env->append(w->file, w->buf, n);
	if (rc != WB_OK) {
		/* A partial record followed by later ones would read as corruption
		 * in the middle of the log, so take it back out (leaving map mode
		 * for good: later records are appended). */
		int undo = w->m.on ? mapped_finish(&w->m, w->size) : w->env->truncate(w->file, w->size);
		if (undo != WB_OK)
			w->broken = 1;
		return err_set(rc, "%s offset %llu: write failed: %s", w->path,
			       (unsigned long long)w->size, wb_strerror(rc));
	}
	w->size += n;
	atomic_store_explicit(&w->added, w->size, memory_order_relaxed);
	/* A large record leaves a big buffer behind; do not keep it. */
	if (w->buf_cap > (4u << 20)) {
		free(w->buf);
		w->buf = NULL;
		w->buf_cap = 0;
	}
	return WB_OK;
}

int log_writer_sync(log_writer_t *w)
{
	uint64_t size = atomic_load_explicit(&w->added, memory_order_relaxed);
	int rc = w->env->sync(w->file);
	if (rc != WB_OK)
		return err_set(rc, "%s: sync failed: %s", w->path, wb_strerror(rc));
	mapped_note_sync(&w->m, size);
	return WB_OK;
}

uint64_t log_writer_size(const log_writer_t *w)
{
	return w->size;
}

int log_writer_close(log_writer_t *w)
{
	if (w == NULL)
		return WB_OK;
	if (mapped_finish(&w->m, w->size) != WB_OK)
		err_clear(); /* the zeros stay: readers take them for the end */
	int rc = w->env->close(w->file);
	free(w->buf);
	free(w->path);
	free(w);
	return rc;
}

/* ---- reader ---- */

struct log_reader {
	const wb_env *env;
	wb_env_file *file;
	char *path;
	uint64_t file_size;
	uint8_t block[LOG_BLOCK_SIZE];
	uint64_t block_off;  /* file offset of block[] */
	size_t block_len;    /* valid bytes in block[] */
	size_t pos;          /* next fragment within block[] */
	uint8_t *rec;        /* assembled record */
	size_t rec_len, rec_cap;
	bool eof;
	bool torn;
	int status;          /* sticky error once classify_damage moved block[] */
	uint64_t damage_at;  /* where the damage behind status is */
	uint64_t valid_end;  /* end of the last good record */
};

static int load_block(log_reader_t *r, uint64_t off)
{
	size_t n = 0;
	int rc = r->env->read_at(r->file, off, r->block, LOG_BLOCK_SIZE, &n);
	if (rc != WB_OK)
		return err_set(rc, "%s offset %llu: read failed: %s", r->path, (unsigned long long)off,
			       wb_strerror(rc));
	r->block_off = off;
	r->block_len = n;
	r->pos = 0;
	return WB_OK;
}

/* Checks the fragment at p (avail bytes): WB_OK and its parts, or WB_ECORRUPT. */
static int parse_fragment(const uint8_t *p, size_t avail, uint8_t *type, slice_t *payload)
{
	if (avail < LOG_HEADER_SIZE)
		return WB_ECORRUPT;
	uint16_t len = get_u16(p + 4);
	*type = p[6];
	if (*type < FRAG_FULL || *type > FRAG_LAST || (size_t)len + LOG_HEADER_SIZE > avail)
		return WB_ECORRUPT;
	uint32_t crc = crc32c_extend(crc32c(type, 1), p + LOG_HEADER_SIZE, len);
	if (crc32c_unmask(get_u32(p)) != crc)
		return WB_ECORRUPT;
	*payload = slice_make(p + LOG_HEADER_SIZE, len);
	return WB_OK;
}

/* A fragment whose header is plausible and whose whole length is on disk,
 * but whose checksum fails. A crash leaves only a prefix of an append (so
 * a torn fragment runs past the end of the file) or never-written zeros;
 * a complete, non-zero fragment that fails its checksum was damaged after
 * it was written, and may have been synced: that is corruption, not a torn
 * tail, even when nothing follows it. */
static bool whole_but_damaged(const uint8_t *p, size_t avail)
{
	if (avail < LOG_HEADER_SIZE)
		return false;
	size_t len = get_u16(p + 4);
	uint8_t type = p[6];
	/* A zero type with a length is a header whose type byte (stored last
	 * through a map) never came, or was damaged: whole all the same. With
	 * no length it is whole only if its checksum is that of an empty
	 * fragment: a store cut between checksum and length leaves the
	 * checksum of a payload. */
	if (type > FRAG_LAST || LOG_HEADER_SIZE + len > avail)
		return false;
	if (type == FRAG_ZERO && len == 0) {
		uint32_t crc = crc32c_unmask(get_u32(p));
		for (uint8_t t = FRAG_FULL; t <= FRAG_LAST; t++)
			if (crc == crc32c(&t, 1))
				return true;
		return false;
	}
	for (size_t i = 0; i < LOG_HEADER_SIZE + len; i++)
		if (p[i] != 0)
			return true;
	return false;
}

/* Does the checksum in the header at p (of a type 1..4, whose length runs
 * past the avail bytes on disk) fit a shorter fragment that is wholly
 * there? Then the fragment was written whole and its length field is what
 * is damaged; a torn append's checksum covers bytes that never came, and
 * fits a prefix only by a 2^-32 chance. */
static bool checksum_fits_shorter(const uint8_t *p, size_t avail)
{
	uint32_t want = crc32c_unmask(get_u32(p));
	uint32_t crc = crc32c(p + 6, 1);
	for (size_t n = 0;; n++) {
		if (crc == want)
			return true;
		if (LOG_HEADER_SIZE + n >= avail)
			return false;
		crc = crc32c_extend(crc, p + LOG_HEADER_SIZE + n, 1);
	}
}

/* A whole header (avail >= 7 bytes on disk, room left in its block) that
 * neither a writer nor a crash leaves: the reason, or NULL. A writer never
 * lays a fragment across a block's end, and the type byte is one it wrote
 * or, when a store through a map was cut short, still zero. */
static const char *impossible_header(const uint8_t *p, size_t avail, size_t room)
{
	if (avail < LOG_HEADER_SIZE)
		return NULL;
	size_t len = get_u16(p + 4);
	uint8_t type = p[6];
	if (type > FRAG_LAST)
		return "bad fragment type";
	if (LOG_HEADER_SIZE + len > room)
		return "fragment runs past the end of its block";
	if (type != FRAG_ZERO && LOG_HEADER_SIZE + len > avail && checksum_fits_shorter(p, avail))
		return "damaged fragment length";
	return NULL;
}

/* Is everything from `off` to the end of the file zero, and is there
 * something there? That is the zeros a writer through a map (mapped.h)
 * prepares past its data, and a fragment just before them may have been
 * cut short by a power loss (its header's page written, not its
 * payload's): a torn tail, not damage. A file closed cleanly ends at its
 * last record, so its damaged last fragment is still corruption. */
static bool before_zero_tail(log_reader_t *r, uint64_t off)
{
	if (off >= r->file_size)
		return false;
	uint8_t *buf = malloc(LOG_BLOCK_SIZE);
	bool zero = buf != NULL;
	while (zero && off < r->file_size) {
		size_t n = 0;
		if (r->env->read_at(r->file, off, buf, LOG_BLOCK_SIZE, &n) != WB_OK || n == 0) {
			zero = false;
			break;
		}
		for (size_t i = 0; i < n && zero; i++)
			zero = buf[i] == 0;
		off += n;
	}
	free(buf);
	err_clear();
	return zero;
}

/* Damage found at `bad`: a torn tail when no later block starts with a valid
 * fragment, corruption otherwise. bad must be where the damage is, not the
 * start of the record it breaks: the blocks between a spanning record's
 * start and its damaged fragment hold its own valid fragments, which say
 * nothing about data written after the damage. */
static int classify_damage(log_reader_t *r, uint64_t bad, const char *what)
{
	uint64_t next = (bad / LOG_BLOCK_SIZE + 1) * LOG_BLOCK_SIZE;
	for (; next < r->file_size; next += LOG_BLOCK_SIZE) {
		int rc = load_block(r, next);
		if (rc != WB_OK)
			return r->status = rc;
		uint8_t type;
		slice_t payload;
		if (parse_fragment(r->block, r->block_len, &type, &payload) == WB_OK) {
			r->damage_at = bad;
			r->status = err_set(WB_ECORRUPT,
					    "%s offset %llu: %s (valid records follow at %llu)", r->path,
					    (unsigned long long)bad, what, (unsigned long long)next);
			return r->status;
		}
	}
	r->eof = true;
	r->torn = true;
	return WB_ENOTFOUND;
}

/* The first record was not readable and nothing valid follows. That is a
 * header torn by a crash right after creation only if every byte of the
 * first block is what the writer put there or zero (never written);
 * anything else is some other file, which must not read as an empty log. */
static int check_torn_header(log_reader_t *r, enum log_kind kind)
{
	if (r->file_size == 0)
		return WB_OK;
	uint8_t payload[FILE_HEADER_LEN], want[LOG_HEADER_SIZE + FILE_HEADER_LEN];
	make_file_header(payload, kind);
	size_t n = encode_fragments(want, 0, slice_make(payload, sizeof(payload)));
	int rc = load_block(r, 0);
	if (rc != WB_OK)
		return rc;
	for (size_t i = 0; i < r->block_len; i++) {
		if (r->block[i] != 0 && (i >= n || r->block[i] != want[i]))
			return err_set(WB_EFORMAT, "%s offset %zu: not a wombat log", r->path, i);
	}
	return WB_OK;
}

int log_reader_open(const wb_env *env, const char *path, enum log_kind kind, log_reader_t **out)
{
	*out = NULL;
	log_reader_t *r = calloc(1, sizeof(*r));
	if (r == NULL || (r->path = strdup(path)) == NULL) {
		free(r);
		return WB_ENOMEM;
	}
	r->env = env;
	int rc = env->open(env->ctx, path, WB_ENV_READ, &r->file);
	if (rc != WB_OK) {
		free(r->path);
		free(r);
		return rc == WB_ENOTFOUND ? rc : err_set(rc, "%s: open failed: %s", path, wb_strerror(rc));
	}
	rc = env->size(r->file, &r->file_size);
	if (rc == WB_OK)
		rc = load_block(r, 0);
	slice_t hdr;
	if (rc == WB_OK) {
		rc = log_reader_next(r, &hdr);
		if (rc == WB_ENOTFOUND) {
			/* Empty, or the header itself was torn by a crash right after
			 * the file was created: a log with no records. */
			rc = check_torn_header(r, kind);
			if (rc == WB_OK) {
				*out = r;
				return WB_OK;
			}
		}
	}
	if (rc == WB_OK) {
		if (hdr.len != FILE_HEADER_LEN || get_u64(hdr.data) != LOG_MAGIC)
			rc = err_set(WB_EFORMAT, "%s offset 0: not a wombat log", path);
		else if (get_u32(hdr.data + 8) != LOG_FORMAT_VERSION)
			rc = err_set(WB_EFORMAT, "%s offset %d: unknown log format version %u", path,
				     LOG_HEADER_SIZE + 8, get_u32(hdr.data + 8));
		else if (get_u32(hdr.data + 12) != (uint32_t)kind)
			rc = err_set(WB_EFORMAT, "%s offset %d: log kind %u, expected %u", path,
				     LOG_HEADER_SIZE + 12, get_u32(hdr.data + 12), (unsigned)kind);
	}
	if (rc != WB_OK) {
		log_reader_close(r);
		return rc;
	}
	*out = r;
	return WB_OK;
}

static int append_rec(log_reader_t *r, slice_t part)
{
	if (part.len == 0)
		return WB_OK; /* r->rec may still be NULL: no arithmetic on it */
	if (!grow_array((void **)&r->rec, &r->rec_cap, r->rec_len + part.len, 1))
		return WB_ENOMEM;
	memcpy(r->rec + r->rec_len, part.data, part.len);
	r->rec_len += part.len;
	return WB_OK;
}

int log_reader_next(log_reader_t *r, slice_t *rec)
{
	bool in_record = false;

	r->rec_len = 0;
	if (r->status != WB_OK)
		return r->status; /* classify_damage moved block[]: never resume */
	for (;;) {
		if (r->eof)
			return WB_ENOTFOUND;
		size_t left = r->block_len - r->pos;
		if (left < LOG_HEADER_SIZE) {
			/* Padding at a block's end, or the end of the file. */
			uint64_t next = r->block_off + LOG_BLOCK_SIZE;
			if (r->block_len < LOG_BLOCK_SIZE || next >= r->file_size) {
				uint64_t here = r->block_off + r->pos;
				if (in_record)
					return classify_damage(r, here, "record cut short");
				if (left > 0 && here < r->file_size)
					return classify_damage(r, here, "partial fragment header");
				r->eof = true;
				return WB_ENOTFOUND;
			}
			int rc = load_block(r, next);
			if (rc != WB_OK)
				return rc;
			continue;
		}
		uint64_t here = r->block_off + r->pos;
		uint8_t type;
		slice_t payload;
		if (parse_fragment(r->block + r->pos, left, &type, &payload) != WB_OK) {
			/* Damage the same block may hide valid records behind, which
			 * classify_damage (looking at later blocks only) would drop.
			 * (At offset 0 it is the file header: log_reader_open tells
			 * some other file from a torn header there.) */
			const uint8_t *p = r->block + r->pos;
			const char *why = here == 0 ? NULL : impossible_header(p, left, LOG_BLOCK_SIZE - r->pos);
			if (why == NULL && whole_but_damaged(p, left) &&
			    !before_zero_tail(r, here + LOG_HEADER_SIZE + get_u16(p + 4)))
				why = "record checksum mismatch";
			if (why != NULL) {
				r->damage_at = here;
				r->status = err_set(WB_ECORRUPT, "%s offset %llu: %s", r->path,
						    (unsigned long long)here, why);
				return r->status;
			}
			return classify_damage(r, here, "bad record checksum or length");
		}
		bool starts = type == FRAG_FULL || type == FRAG_FIRST;
		if (starts == in_record) {
			/* A valid fragment that a torn append (a prefix of the
			 * fragments the writer laid out) cannot produce: the
			 * damage lies before valid data, so it is corruption. */
			r->damage_at = here;
			r->status = err_set(WB_ECORRUPT, "%s offset %llu: fragment out of sequence",
					    r->path, (unsigned long long)here);
			return r->status;
		}
		int rc = append_rec(r, payload);
		if (rc != WB_OK)
			return rc;
		r->pos += LOG_HEADER_SIZE + payload.len;
		if (type == FRAG_FULL || type == FRAG_LAST) {
			r->valid_end = r->block_off + r->pos;
			*rec = slice_make(r->rec, r->rec_len);
			return WB_OK;
		}
		in_record = true;
	}
}

bool log_reader_torn(const log_reader_t *r, uint64_t *offset)
{
	if (offset != NULL)
		*offset = r->valid_end;
	return r->torn;
}

int log_reader_resync(log_reader_t *r, uint64_t *from, uint64_t *to)
{
	*from = r->damage_at;
	*to = r->file_size;
	if (r->status != WB_ECORRUPT)
		return r->status == WB_OK ? WB_OK : r->status;
	for (uint64_t next = (r->damage_at / LOG_BLOCK_SIZE + 1) * LOG_BLOCK_SIZE; next < r->file_size;
	     next += LOG_BLOCK_SIZE) {
		int rc = load_block(r, next);
		if (rc != WB_OK)
			return rc;
		uint8_t type;
		slice_t payload;
		if (parse_fragment(r->block, r->block_len, &type, &payload) == WB_OK &&
		    (type == FRAG_FULL || type == FRAG_FIRST)) {
			r->status = WB_OK;
			r->valid_end = next;
			*to = next;
			err_clear();
			return WB_OK;
		}
	}
	r->status = WB_OK;
	r->eof = true;
	err_clear();
	return WB_ENOTFOUND;
}

bool log_reader_zero_tail(log_reader_t *r)
{
	return r->valid_end >= r->file_size || before_zero_tail(r, r->valid_end);
}

uint64_t log_reader_file_size(const log_reader_t *r)
{
	return r->file_size;
}

void log_reader_close(log_reader_t *r)
{
	if (r == NULL)
		return;
	if (r->file != NULL)
		r->env->close(r->file);
	free(r->rec);
	free(r->path);
	free(r);
}
