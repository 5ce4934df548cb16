/*
 * vlog.c -- value-log segments: creating, appending, the leader's move of
 * large values out of a WAL record, syncing before the WAL, recovery and
 * verify (vlog.h; docs/format.md "Value log"). Everything here works on a
 * vlog_t alone: file numbers and reclaim wake-ups come through the
 * callbacks of its vlog_config_t.
 *
 * Segment = header (16 bytes) then entries back to back:
 *   header  u64 magic | u32 version (2) | u32 masked crc32c of the 12 bytes before
 *   entry   header (24) | value in checksummed blocks | tree_key | trailer (12)
 * The layout of one entry, and reading and checking it, are vlog_entry.c's.
 * A streamed entry writes vlen = VLOG_STREAMED in its header (its length
 * is not known yet) and is then the only entry of its segment; its trailer
 * has the length. The active segment may end in zeros written ahead of
 * its entries (see "storing through a map").
 */
#include "vlog/vlog.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "db/batch.h"
#include "util/crc32c.h"
#include "util/error.h"
#include "table/ikey.h"
#include "util/mapped.h"
#include "util/grow.h"

#define CHUNK (1u << 20)
#define PREALLOC (1u << 20)
#define MAP_MAX (16u << 10)   /* larger entries are appended, not stored */

void vlog_init(vlog_t *v, const vlog_config_t *cfg)
{
	memset(v, 0, sizeof(*v));
	pthread_mutex_init(&v->mu, NULL);
	v->cfg = *cfg;
}

void vlog_segment_path(char *buf, size_t len, const char *dir, uint64_t number)
{
	snprintf(buf, len, "%s/%06llu.vlog", dir, (unsigned long long)number);
}

void vlog_seg_unref(vlog_seg_t *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	if (s->file != NULL)
		s->env->close(s->file);
	free(s);
}

static void finish_map(vlog_seg_t *a);

void vlog_destroy(vlog_t *v)
{
	if (v->active != NULL)
		finish_map(v->active);
	vlog_seg_unref(v->active); /* the leader's reference */
	for (int i = 0; i < v->nsegs; i++)
		vlog_seg_unref(v->segs[i]);
	for (int i = 0; i < v->nretired; i++)
		vlog_seg_unref(v->retired[i].seg);
	free(v->segs);
	free(v->dead);
	free(v->retired);
	free(v->leader_buf);
	discard_map_destroy(&v->discards);
	pthread_mutex_destroy(&v->mu);
}

/* ---- the set of segments ---- */

static vlog_seg_t *seg_new(vlog_t *v, uint64_t number, wb_env_file *f)
{
	vlog_seg_t *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->env = v->cfg.env;
	s->number = number;
	s->file = f;
	s->live = UINT64_MAX;
	atomic_init(&s->refs, 1);
	return s;
}

/* Index of the first segment >= number. REQUIRES: vmu. */
static int find(const vlog_t *v, uint64_t number)
{
	int lo = 0, hi = v->nsegs;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (v->segs[mid]->number < number)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds s (taking over the caller's reference). REQUIRES: vmu. */
static int insert(vlog_t *v, vlog_seg_t *s)
{
	if (!GROW_ONE(v->segs, v->nsegs, v->cap))
		return WB_ENOMEM;
	int i = find(v, s->number);
	memmove(v->segs + i + 1, v->segs + i, (size_t)(v->nsegs - i) * sizeof(*v->segs));
	v->segs[i] = s;
	v->nsegs++;
	return WB_OK;
}

vlog_seg_t *vlog_get(vlog_t *v, uint64_t number)
{
	pthread_mutex_lock(&v->mu);
	int i = find(v, number);
	vlog_seg_t *s = NULL;
	if (i < v->nsegs && v->segs[i]->number == number) {
		s = v->segs[i];
		atomic_fetch_add(&s->refs, 1);
	} else {
		/* A retired segment stays readable until its readers are gone. */
		for (int j = 0; j < v->nretired; j++)
			if (v->retired[j].seg->number == number) {
				s = v->retired[j].seg;
				atomic_fetch_add(&s->refs, 1);
				break;
			}
	}
	pthread_mutex_unlock(&v->mu);
	return s;
}

bool vlog_is_live(vlog_t *v, uint64_t number)
{
	vlog_seg_t *s = vlog_get(v, number);
	vlog_seg_unref(s);
	return s != NULL;
}

/* Was `number` removed by reclaim? REQUIRES: vmu. */
static bool is_dead(const vlog_t *v, uint64_t number)
{
	for (int i = 0; i < v->ndead; i++)
		if (v->dead[i].segment == number)
			return true;
	return false;
}

bool vlog_is_dead(vlog_t *v, uint64_t number)
{
	pthread_mutex_lock(&v->mu);
	bool dead = is_dead(v, number);
	pthread_mutex_unlock(&v->mu);
	return dead;
}

static void seg_path(const vlog_t *v, uint64_t number, char *path)
{
	vlog_segment_path(path, PATH_MAX, v->cfg.dir, number);
}

int vlog_create(vlog_t *v, bool streaming, vlog_seg_t **out)
{
	*out = NULL;
	uint64_t number = v->cfg.new_file_number(v->cfg.arg);
	char path[PATH_MAX];
	seg_path(v, number, path);
	wb_env_file *f;
	int rc = v->cfg.env->open(v->cfg.env->ctx, path,
				  WB_ENV_READ | WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_TRUNCATE, &f);
	if (rc != WB_OK)
		return err_set(rc, "%s: cannot create: %s", path, wb_strerror(rc));
	uint8_t h[VLOG_HEADER_SIZE];
	put_u64(h, VLOG_MAGIC);
	put_u32(h + 8, VLOG_FORMAT_VERSION);
	put_u32(h + 12, crc32c_mask(crc32c(h, 12)));
	rc = v->cfg.env->append(f, h, sizeof(h));
	/* The name must be durable before any WAL sync can promise a pointer
	 * into the file. */
	if (rc == WB_OK)
		rc = v->cfg.env->sync_dir(v->cfg.env->ctx, v->cfg.dir);
	vlog_seg_t *s = rc == WB_OK ? seg_new(v, number, f) : NULL;
	if (rc == WB_OK && s == NULL)
		rc = WB_ENOMEM;
	if (rc != WB_OK) {
		v->cfg.env->close(f);
		v->cfg.env->remove(v->cfg.env->ctx, path);
		return err_set(rc, "%s: cannot create: %s", path, wb_strerror(rc));
	}
	atomic_store(&s->size, VLOG_HEADER_SIZE);
	s->writable = true;
	s->streaming = streaming;
	pthread_mutex_lock(&v->mu);
	rc = insert(v, s);
	if (rc == WB_OK)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&v->mu);
	if (rc != WB_OK) {
		vlog_seg_unref(s);
		v->cfg.env->remove(v->cfg.env->ctx, path);
		return rc;
	}
	*out = s;
	return WB_OK;
}

int vlog_append(vlog_t *v, vlog_seg_t *s, const void *buf, size_t len)
{
	int rc = v->cfg.env->append(s->file, buf, len);
	if (rc != WB_OK) {
		s->broken = true;
		return err_set(rc, "%06llu.vlog offset %llu: append failed: %s",
			       (unsigned long long)s->number, (unsigned long long)atomic_load(&s->size),
			       wb_strerror(rc));
	}
	atomic_fetch_add(&s->size, len);
	return WB_OK;
}

/* ---- the leader's conversion of a record ---- */

typedef struct conv {
	vlog_t *v;
	uint8_t *out; /* next byte of the new record */
	uint8_t *wbuf; /* pending appends to the active segment */
	size_t wlen;
	uint64_t threshold;
	int rc;
} conv_t;

/* Allocates the active segment's blocks ahead of its appends, PREALLOC
 * bytes at a time, never past vlog_segment_size. On ext4 an append into
 * allocated blocks skips the delayed-allocation bookkeeping, a good part
 * of the kernel's cost of a 4 KiB append. The size and the bytes of the
 * file stay as they are, so the format does too; a sealed segment ends
 * past vlog_segment_size and so has nothing allocated beyond its end, the
 * one active at close at most PREALLOC. A hint: failures are ignored. */
static void preallocate(vlog_t *v, vlog_seg_t *a, uint64_t end)
{
	uint64_t limit = v->cfg.segment_size;
	if (end <= a->preallocated || end > limit || v->cfg.env->preallocate == NULL)
		return;
	uint64_t want = end + PREALLOC < limit ? end + PREALLOC : limit;
	if (v->cfg.env->preallocate(a->file, a->preallocated, want - a->preallocated) == WB_OK) {
		a->preallocated = want;
	} else {
		a->preallocated = UINT64_MAX; /* not supported here: stop asking */
		err_clear();
	}
}

/* ---- storing through a map (mapped.h) ----
 *
 * When the env can map files, the active segment is written through a map:
 * entries under MAP_MAX bytes are copied into it (about 1.2 us per 4 KiB
 * entry in all against about 3 us for its write(2) on ext4, Linux 6.18),
 * larger ones fill what is prepared and append the rest. The zeros
 * prepared past the last entry are trimmed when the segment is sealed;
 * after a crash they stay, and readers take the first header with klen 0
 * for the end (docs/format.md). An entry cut short by a crash needs no
 * care: nothing points at it until its WAL record is written. */

/* Puts a fresh active segment in map mode when the env can map files. */
static void start_map(vlog_t *v, vlog_seg_t *a)
{
	snprintf(a->name, sizeof(a->name), "%06llu.vlog", (unsigned long long)a->number);
	mapped_start(&a->m, v->cfg.env, a->file, a->name, atomic_load(&a->size), v->cfg.segment_size);
}

/* Ends map mode; the zeros stay if the trim fails (readers allow them). */
static void finish_map(vlog_seg_t *a)
{
	if (mapped_finish(&a->m, atomic_load(&a->size)) != WB_OK)
		err_clear();
}

/* Makes the entries gathered by the leader part of the active segment:
 * appended from wbuf, or, in map mode, already stored and now counted. */
static int flush_wbuf(conv_t *c)
{
	if (c->wlen == 0)
		return WB_OK;
	vlog_seg_t *a = c->v->active;
	int rc = WB_OK;
	if (a->m.on) {
		atomic_fetch_add(&a->size, c->wlen);
	} else {
		preallocate(c->v, a, atomic_load(&a->size) + c->wlen);
		rc = vlog_append(c->v, a, c->wbuf, c->wlen);
	}
	c->wlen = 0;
	return rc;
}

/* Where the leader's pieces of one entry go (vlog_entry_emit's sinks). */
typedef struct entry_sink {
	conv_t *c;
	vlog_seg_t *a;
	uint64_t off;  /* map mode: file offset of the next byte */
	size_t staged; /* put_mapped: bytes gathered in wbuf, not yet appended */
	bool header_done; /* put_mapped: the header went on its own */
} entry_sink_t;

/* Map mode, an entry under MAP_MAX bytes: each piece into the map. */
static int put_stored(void *arg, const void *p, size_t n)
{
	entry_sink_t *s = arg;
	int rc = mapped_store(&s->a->m, s->off, p, n);
	s->off += n;
	return rc;
}

/* Map mode, a larger entry: gathered in wbuf (room for CHUNK bytes and a
 * key), written a CHUNK at a time into what is prepared and past it. */
static int put_mapped(void *arg, const void *p, size_t n)
{
	entry_sink_t *s = arg;
	if (!s->header_done) {
		/* On its own: one memcpy may land in any order, and a kill in a
		 * store holding header and value could leave value bytes behind
		 * a header whose klen is still zero, which reads as damage.
		 * Stored alone, a torn header has nothing after it. */
		s->header_done = true;
		int rc = mapped_append(&s->a->m, s->off, p, n);
		s->off += n;
		return rc;
	}
	if (s->staged > 0 && s->staged + n > CHUNK) {
		int rc = mapped_append(&s->a->m, s->off, s->c->wbuf, s->staged);
		if (rc != WB_OK)
			return rc;
		s->off += s->staged;
		s->staged = 0;
	}
	memcpy(s->c->wbuf + s->staged, p, n);
	s->staged += n;
	return WB_OK;
}

/* Appending: gathered in wbuf behind the group's earlier entries, appended
 * whenever it fills. */
static int put_appended(void *arg, const void *p, size_t n)
{
	entry_sink_t *s = arg;
	conv_t *c = s->c;
	if (c->wlen > 0 && c->wlen + n > CHUNK) {
		int rc = flush_wbuf(c);
		if (rc != WB_OK)
			return rc;
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
	return WB_OK;
}

/* Writes the entry of one value at ptr->offset of the active segment a. */
static int write_entry(conv_t *c, vlog_seg_t *a, const vptr_t *ptr, slice_t tree_key, slice_t value,
		       uint64_t ts)
{
	entry_sink_t s = { c, a, ptr->offset, 0, false };
	int rc;
	if (!a->m.on)
		return vlog_entry_emit(tree_key, value, ts, put_appended, &s);
	if (ptr->length < MAP_MAX) {
		rc = mapped_prepare(&a->m, ptr->offset + ptr->length);
		if (rc == WB_OK)
			rc = vlog_entry_emit(tree_key, value, ts, put_stored, &s);
	} else {
		rc = vlog_entry_emit(tree_key, value, ts, put_mapped, &s);
		if (rc == WB_OK)
			rc = mapped_append(&a->m, s.off, c->wbuf, s.staged);
	}
	if (rc != WB_OK)
		a->broken = true;
	else
		c->wlen += ptr->length; /* stored: counted at flush_wbuf */
	return rc;
}

/* Ends a's time as the active segment (vlog.active is left to the
 * caller). The set keeps its own reference. */
static void seal(vlog_t *v, vlog_seg_t *a)
{
	finish_map(a);
	pthread_mutex_lock(&v->mu);
	a->writable = false;
	pthread_mutex_unlock(&v->mu);
	vlog_seg_unref(a); /* the leader's */
}

void vlog_seal_active(vlog_t *v, uint64_t number)
{
	vlog_seg_t *a = v->active;
	if (a == NULL || a->number != number)
		return;
	pthread_mutex_lock(&v->mu);
	v->active = NULL;
	pthread_mutex_unlock(&v->mu);
	seal(v, a);
}

/* The active segment with room, rotated when full or broken. */
static int active_segment(conv_t *c)
{
	vlog_t *v = c->v;
	vlog_seg_t *a = v->active;
	if (a != NULL && !a->broken && atomic_load(&a->size) < v->cfg.segment_size)
		return WB_OK;
	int rc = flush_wbuf(c);
	if (rc != WB_OK)
		return rc;
	vlog_seg_t *n;
	rc = vlog_create(v, false, &n);
	if (rc != WB_OK)
		return rc;
	start_map(v, n);
	if (a != NULL)
		seal(v, a);
	pthread_mutex_lock(&v->mu);
	v->active = n;
	pthread_mutex_unlock(&v->mu);
	atomic_fetch_add(&v->sealed_since_gc, 1);
	if (a != NULL && v->cfg.wake_reclaim != NULL)
		v->cfg.wake_reclaim(v->cfg.arg); /* a sealed segment to look at */
	return WB_OK;
}

static int convert_entry(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	conv_t *c = arg;
	if (meta != 0 || value.len < c->threshold) {
		c->out = batch_encode_entry(c->out, meta, tree_key, value);
		return WB_OK;
	}
	int rc = active_segment(c);
	if (rc != WB_OK)
		return rc;
	vlog_seg_t *a = c->v->active;
	if (a->m.on && mapped_synced_often(&a->m)) {
		/* Synced often: append from here on (mapped.h). */
		rc = flush_wbuf(c);
		if (rc == WB_OK && mapped_finish(&a->m, atomic_load(&a->size)) != WB_OK) {
			a->broken = true; /* zeros past its entries: use a new one */
			err_clear();
			rc = active_segment(c);
			a = c->v->active;
		}
		if (rc != WB_OK)
			return rc;
	}
	vptr_t ptr = { a->number, atomic_load(&a->size) + c->wlen,
		       vlog_entry_len(tree_key.len, value.len), value.len };
	rc = write_entry(c, a, &ptr, tree_key, value, ts);
	if (rc != WB_OK)
		return rc;
	atomic_fetch_add(&c->v->appended, ptr.length);
	uint8_t enc[VPTR_MAX_LEN];
	size_t n = vptr_encode(enc, &ptr);
	c->out = batch_encode_entry(c->out, META_VALUE_PTR, tree_key, slice_make(enc, n));
	return WB_OK;
}

/* Does any put in the record reach the threshold? */
static int find_big(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	conv_t *c = arg;
	return meta == 0 && value.len >= c->threshold ? WB_EEXIST : WB_OK;
}

int vlog_convert_record(vlog_t *v, slice_t rec, uint8_t **out, slice_t *out_rec)
{
	*out = NULL;
	*out_rec = rec;
	conv_t c = { .v = v, .threshold = v->cfg.value_threshold };
	if (c.threshold == 0)
		return WB_OK;
	slice_t rest = rec, one;
	bool big = false;
	while (!big && rest.len > 0) {
		if (batch_split(&rest, &one) != WB_OK)
			return WB_ECORRUPT;
		big = batch_iterate(one, find_big, &c) == WB_EEXIST;
	}
	if (!big)
		return WB_OK;
	/* A pointer entry is never longer than the value it replaces (the
	 * threshold is at least 64 bytes). */
	uint8_t *buf = malloc(rec.len);
	if (v->leader_buf == NULL)
		v->leader_buf = malloc(CHUNK + WB_MAX_KEY_LEN + 64);
	c.wbuf = v->leader_buf;
	if (buf == NULL || c.wbuf == NULL) {
		free(buf);
		return WB_ENOMEM;
	}
	c.out = buf;
	int rc = WB_OK;
	rest = rec;
	while (rc == WB_OK && rest.len > 0) {
		rc = batch_split(&rest, &one);
		if (rc != WB_OK)
			break;
		uint8_t *start = c.out;
		memcpy(start, one.data, BATCH_HEADER_SIZE);
		c.out += BATCH_HEADER_SIZE;
		rc = batch_iterate(one, convert_entry, &c);
	}
	if (rc == WB_OK)
		rc = flush_wbuf(&c);
	if (rc != WB_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_rec = slice_make(buf, (size_t)(c.out - buf));
	return WB_OK;
}

int vlog_sync(vlog_t *v)
{
	int rc = WB_OK;
	for (;;) {
		vlog_seg_t *s = NULL;
		uint64_t size = 0;
		pthread_mutex_lock(&v->mu);
		for (int i = 0; i < v->nsegs; i++) {
			vlog_seg_t *x = v->segs[i];
			size = atomic_load(&x->size);
			if (!x->streaming && size > atomic_load(&x->synced)) {
				s = x;
				atomic_fetch_add(&s->refs, 1);
				break;
			}
		}
		pthread_mutex_unlock(&v->mu);
		if (s == NULL)
			return WB_OK;
		rc = v->cfg.env->sync(s->file);
		if (rc == WB_OK)
			mapped_note_sync(&s->m, size);
		if (rc == WB_OK) {
			/* Only grow: another sync may have covered more meanwhile. */
			uint64_t old = atomic_load(&s->synced);
			while (old < size && !atomic_compare_exchange_weak(&s->synced, &old, size))
				;
		}
		vlog_seg_unref(s);
		if (rc != WB_OK)
			return err_set(rc, "%06llu.vlog: sync failed: %s", (unsigned long long)s->number,
				       wb_strerror(rc));
	}
}

/* ---- reading ---- */

static vlog_source_t source(const vlog_seg_t *s)
{
	return (vlog_source_t){ s->env, s->file, s->number, atomic_load(&s->size) };
}

int vlog_read_at(vlog_t *v, vlog_seg_t *s, uint64_t off, void *buf, size_t len)
{
	vlog_source_t src = source(s);
	return vlog_entry_read_at(&src, off, buf, len);
}

static int get_seg(vlog_t *v, const vptr_t *p, vlog_seg_t **out)
{
	vlog_seg_t *s = *out = vlog_get(v, p->segment);
	if (s == NULL)
		return err_set(WB_ECORRUPT, "value pointer into %06llu.vlog, which does not exist",
			       (unsigned long long)p->segment);
	return WB_OK;
}

int vlog_read_range(vlog_t *v, const vptr_t *p, uint64_t off, void *buf, size_t len, size_t *nread)
{
	*nread = 0;
	vlog_seg_t *s;
	int rc = get_seg(v, p, &s);
	if (rc != WB_OK)
		return rc;
	vlog_source_t src = source(s);
	rc = vlog_entry_read_range(&src, p, off, buf, len, nread);
	vlog_seg_unref(s);
	return rc;
}

int vlog_read_value(vlog_t *v, const vptr_t *p, void **val, uint8_t **key, size_t *klen,
		    uint64_t *ts)
{
	*val = NULL;
	vlog_seg_t *s;
	int rc = get_seg(v, p, &s);
	if (rc != WB_OK)
		return rc;
	vlog_source_t src = source(s);
	rc = vlog_entry_read(&src, p, val, key, klen, ts);
	vlog_seg_unref(s);
	return rc;
}

int vlog_check_entry(vlog_t *v, vlog_seg_t *s, const vptr_t *p)
{
	vlog_source_t src = source(s);
	return vlog_entry_check(&src, p, NULL);
}

/* ---- discard accounting ---- */

int vlog_discard_add(vlog_t *v, uint64_t segment, uint64_t bytes)
{
	pthread_mutex_lock(&v->mu);
	int rc = discard_map_add(&v->discards, segment, bytes);
	pthread_mutex_unlock(&v->mu);
	return rc;
}

uint64_t vlog_discard_total(vlog_t *v)
{
	pthread_mutex_lock(&v->mu);
	uint64_t t = discard_map_total(&v->discards);
	pthread_mutex_unlock(&v->mu);
	return t;
}

void vlog_discard_each(vlog_t *v, void (*fn)(void *arg, int i, uint64_t segment, uint64_t bytes),
		       void *arg)
{
	pthread_mutex_lock(&v->mu);
	for (int i = 0; i < discard_map_size(&v->discards); i++) {
		discard_entry_t d = discard_map_at(&v->discards, i);
		fn(arg, i, d.segment, d.bytes);
	}
	pthread_mutex_unlock(&v->mu);
}

int vlog_discard_snapshot(vlog_t *v, version_edit_t *e)
{
	int rc = WB_OK;
	pthread_mutex_lock(&v->mu);
	for (int i = 0; i < discard_map_size(&v->discards) && rc == WB_OK; i++) {
		discard_entry_t d = discard_map_at(&v->discards, i);
		if (!is_dead(v, d.segment))
			rc = edit_add_discard(e, d.segment, d.bytes);
	}
	pthread_mutex_unlock(&v->mu);
	return rc;
}

/* ---- open ---- */

/* Opens segment `number` for reading and checks its header. */
static int open_segment(vlog_t *v, uint64_t number, vlog_seg_t **out)
{
	char path[PATH_MAX];
	seg_path(v, number, path);
	wb_env_file *f;
	int rc = v->cfg.env->open(v->cfg.env->ctx, path, WB_ENV_READ, &f);
	if (rc != WB_OK)
		return rc;
	uint64_t size = 0;
	rc = v->cfg.env->size(f, &size);
	if (rc == WB_OK) {
		vlog_source_t src = { v->cfg.env, f, number, size };
		rc = vlog_segment_check_header(&src);
	}
	vlog_seg_t *s = rc == WB_OK ? seg_new(v, number, f) : NULL;
	if (rc == WB_OK && s == NULL)
		rc = WB_ENOMEM;
	if (rc != WB_OK) {
		v->cfg.env->close(f);
		return rc;
	}
	atomic_store(&s->size, size);
	atomic_store(&s->synced, size);
	*out = s;
	return WB_OK;
}

int vlog_recover(vlog_t *v, const version_edit_t *state, vlog_salvage_fn salvage, void *arg)
{
	for (int i = 0; i < state->nsegments; i++) {
		vlog_seg_t *s;
		int rc = open_segment(v, state->segments[i], &s);
		if (rc == WB_ENOTFOUND)
			rc = err_set(WB_ECORRUPT, "value-log segment %06llu.vlog listed in the MANIFEST is missing",
				     (unsigned long long)state->segments[i]);
		if ((rc == WB_ECORRUPT || rc == WB_EFORMAT) && salvage != NULL) {
			/* Its values fail their reads: wb_repair deletes their keys. */
			salvage(arg, err_message());
			continue;
		}
		if (rc != WB_OK)
			return rc;
		s->recorded = true;
		pthread_mutex_lock(&v->mu);
		rc = insert(v, s);
		pthread_mutex_unlock(&v->mu);
		if (rc != WB_OK) {
			vlog_seg_unref(s);
			return rc;
		}
	}
	for (int i = 0; i < state->ndead_segments; i++) {
		if (!GROW_ONE(v->dead, v->ndead, v->dead_cap))
			return WB_ENOMEM;
		v->dead[v->ndead++] = state->dead_segments[i];
	}
	return WB_OK;
}

int vlog_check_ptr(vlog_t *v, const vptr_t *p)
{
	if (vlog_is_dead(v, p->segment))
		return WB_OK;
	vlog_seg_t *s = vlog_get(v, p->segment);
	if (s == NULL) {
		/* A segment no edit named yet (a streamed value, or the active
		 * segment of the last run): live if the WAL points into it. */
		int rc = open_segment(v, p->segment, &s);
		if (rc == WB_ENOTFOUND)
			return err_set(WB_ENOTFOUND, "%06llu.vlog, which the log points into, does not exist",
				       (unsigned long long)p->segment);
		if (rc == WB_EFORMAT || rc == WB_ECORRUPT)
			return WB_ENOTFOUND; /* created, never made durable */
		if (rc != WB_OK)
			return rc;
		/* The last run may have died before syncing it (or its sync
		 * failed): what is read here may still be only in the page
		 * cache. Once a flush names the segment in the MANIFEST a power
		 * cut must not take it, so make it durable before adopting it. */
		rc = v->cfg.env->sync(s->file);
		if (rc != WB_OK) {
			rc = err_set(rc, "%06llu.vlog, which the log points into, cannot be synced: %s",
				     (unsigned long long)p->segment, wb_strerror(rc));
			vlog_seg_unref(s);
			return rc;
		}
		pthread_mutex_lock(&v->mu);
		rc = insert(v, s);
		if (rc == WB_OK)
			atomic_fetch_add(&s->refs, 1);
		pthread_mutex_unlock(&v->mu);
		if (rc != WB_OK) {
			vlog_seg_unref(s);
			return rc;
		}
	}
	/* Past the end of the file, or bytes that fail their checks: the
	 * message says which, for a caller that cannot accept a lost value. */
	int rc = vlog_check_entry(v, s, p);
	vlog_seg_unref(s);
	return rc == WB_ECORRUPT ? WB_ENOTFOUND : rc;
}

/* ---- MANIFEST ---- */

int vlog_manifest_add(vlog_t *v, version_edit_t *e, bool snapshot, uint64_t log_number,
		      uint64_t **marked, int *nmarked)
{
	*marked = NULL;
	*nmarked = 0;
	int rc = WB_OK;
	pthread_mutex_lock(&v->mu);
	uint64_t *m = malloc((size_t)(v->nsegs + 1) * sizeof(*m));
	if (m == NULL)
		rc = WB_ENOMEM;
	for (int i = 0; rc == WB_OK && i < v->nsegs; i++) {
		vlog_seg_t *s = v->segs[i];
		/* A segment not yet synced holds nothing an edit can need (a WAL
		 * that points into it was not synced either, and every flush
		 * syncs first), and a power cut may take it: naming it would
		 * make the next open refuse the database. */
		if (s->streaming || (!snapshot && s->recorded) || atomic_load(&s->synced) == 0)
			continue;
		rc = edit_add_segment(e, s->number);
		m[(*nmarked)++] = s->number;
	}
	if (snapshot) {
		/* Retired segments are still files: keep naming them until gone. */
		for (int i = 0; rc == WB_OK && i < v->nretired; i++)
			rc = edit_add_segment(e, v->retired[i].seg->number);
		int keep = 0;
		for (int i = 0; i < v->ndead; i++)
			if (v->dead[i].wal >= log_number)
				v->dead[keep++] = v->dead[i];
		v->ndead = keep;
		for (int i = 0; rc == WB_OK && i < v->ndead; i++)
			rc = edit_delete_segment(e, v->dead[i].segment, v->dead[i].wal);
	}
	pthread_mutex_unlock(&v->mu);
	if (rc != WB_OK) {
		free(m);
		*nmarked = 0;
		return rc;
	}
	*marked = m;
	return WB_OK;
}

void vlog_mark_recorded(vlog_t *v, const uint64_t *numbers, int n)
{
	pthread_mutex_lock(&v->mu);
	for (int i = 0; i < n; i++) {
		int j = find(v, numbers[i]);
		if (j < v->nsegs && v->segs[j]->number == numbers[i])
			v->segs[j]->recorded = true;
	}
	pthread_mutex_unlock(&v->mu);
}

void vlog_drop(vlog_t *v, vlog_seg_t *s)
{
	pthread_mutex_lock(&v->mu);
	int i = find(v, s->number);
	bool found = i < v->nsegs && v->segs[i] == s;
	if (found) {
		memmove(v->segs + i, v->segs + i + 1, (size_t)(v->nsegs - i - 1) * sizeof(*v->segs));
		v->nsegs--;
	}
	pthread_mutex_unlock(&v->mu);
	char path[PATH_MAX];
	seg_path(v, s->number, path);
	v->cfg.env->remove(v->cfg.env->ctx, path);
	if (found)
		vlog_seg_unref(s);
}

/* ---- verify and statistics ---- */

int vlog_check_segment(vlog_t *v, vlog_seg_t *s)
{
	vlog_source_t src = source(s);
	return vlog_segment_check(&src);
}

int vlog_verify(vlog_t *v, void (*progress)(void *arg, const char *file), void *arg)
{
	int rc = WB_OK;
	for (int i = 0; rc == WB_OK; i++) {
		pthread_mutex_lock(&v->mu);
		vlog_seg_t *s = NULL;
		/* Segments still being written are checked up to what they hold
		 * once sealed; a streaming one has an unfinished entry. */
		for (; i < v->nsegs && s == NULL; i++)
			if (!v->segs[i]->writable)
				s = v->segs[i];
		i--;
		if (s != NULL)
			atomic_fetch_add(&s->refs, 1);
		pthread_mutex_unlock(&v->mu);
		if (s == NULL)
			break;
		char path[PATH_MAX];
		seg_path(v, s->number, path);
		if (progress)
			progress(arg, path);
		rc = vlog_check_segment(v, s);
		vlog_seg_unref(s);
	}
	return rc;
}

void vlog_stats(vlog_t *v, bool json, vlog_sink_fn sink, void *arg)
{
	pthread_mutex_lock(&v->mu);
	uint64_t total = 0;
	for (int i = 0; i < v->nsegs; i++)
		total += atomic_load(&v->segs[i]->size);
	if (json)
		sink(arg, "\"vlog\":{\"segments\":%d,\"bytes\":%llu,\"appended\":%llu,\"reclaimed\":%llu,"
			  "\"gc_runs\":%llu,\"gc_rewritten\":%llu,\"gc_skipped\":%llu,\"retired\":%d,\"list\":[",
		     v->nsegs, (unsigned long long)total, (unsigned long long)atomic_load(&v->appended),
		     (unsigned long long)atomic_load(&v->reclaimed),
		     (unsigned long long)atomic_load(&v->gc_runs),
		     (unsigned long long)atomic_load(&v->gc_rewritten),
		     (unsigned long long)atomic_load(&v->gc_skipped), v->nretired);
	else
		sink(arg,
		     "value log: %d segments, %llu bytes; %llu bytes appended, %llu reclaimed; "
		     "reclaim passes %llu, values moved %llu, skipped %llu\n",
		     v->nsegs, (unsigned long long)total, (unsigned long long)atomic_load(&v->appended),
		     (unsigned long long)atomic_load(&v->reclaimed),
		     (unsigned long long)atomic_load(&v->gc_runs),
		     (unsigned long long)atomic_load(&v->gc_rewritten),
		     (unsigned long long)atomic_load(&v->gc_skipped));
	for (int i = 0; i < v->nsegs; i++) {
		vlog_seg_t *s = v->segs[i];
		uint64_t discard = discard_map_get(&v->discards, s->number);
		uint64_t size = atomic_load(&s->size);
		const char *state = s == v->active ? "active" : s->streaming ? "streaming"
							 : s->condemned ? "reclaiming" : "sealed";
		if (json) {
			sink(arg, "%s{\"segment\":%llu,\"bytes\":%llu,\"state\":\"%s\",\"discarded\":%llu", i ? "," : "",
			     (unsigned long long)s->number, (unsigned long long)size, state,
			     (unsigned long long)discard);
			if (s->live != UINT64_MAX)
				sink(arg, ",\"live\":%llu,\"obsolete\":%llu", (unsigned long long)s->live,
				     (unsigned long long)(size > s->live + VLOG_HEADER_SIZE ? size - s->live - VLOG_HEADER_SIZE : 0));
			sink(arg, "}");
		} else {
			sink(arg, "  %06llu.vlog %12llu bytes  %-10s discarded %llu", (unsigned long long)s->number,
			     (unsigned long long)size, state, (unsigned long long)discard);
			if (s->live != UINT64_MAX)
				sink(arg, "  live %llu  obsolete %llu", (unsigned long long)s->live,
				     (unsigned long long)(size > s->live + VLOG_HEADER_SIZE ? size - s->live - VLOG_HEADER_SIZE : 0));
			sink(arg, "\n");
		}
	}
	if (json)
		sink(arg, "]}");
	pthread_mutex_unlock(&v->mu);
}
