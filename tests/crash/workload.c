/*
 * workload.c -- keys, self-describing values, the journal and the writer of
 * the crash harness (workload.h).
 *
 * The operation mix, each one journaled as an intent before it starts:
 *   put     one single key, a small value (in the tree) or a large one
 *           (>= the value threshold the harness sets: the value log);
 *   delete  one single key;
 *   batch   all members of a group and its metadata key with one seq, or
 *           all of them deleted, plus up to three single keys;
 *   txn     a transaction (serializable or snapshot) that first reads the
 *           group back -- point reads and an iterator -- and compares it
 *           with the model, then rewrites the whole group;
 *   stream  a large value through wb_writer_*, committed together with its
 *           metadata key (wb_writer_commit with a batch);
 *   move    wb_batch_move of a single key onto another (a value-log value
 *           moves as its pointer).
 * Between operations: wb_sync now and then (journaled as covering every
 * acknowledged op so far), a read of a random key compared with the model,
 * and, when asked, a flush, a compaction or a value-log reclaim pass.
 */
#include "workload.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- keys ---- */

size_t wl_key(uint32_t kid, char *buf, unsigned *ks)
{
	int n;
	*ks = WB_KS_USER;
	if (kid < WL_GROUP0) {
		n = sprintf(buf, "s/%04u", kid);
	} else if (kid < WL_GMETA0) {
		n = sprintf(buf, "g/%02u/%u", (kid - WL_GROUP0) / WL_MEMBERS,
			    (kid - WL_GROUP0) % WL_MEMBERS);
	} else if (kid < WL_LARGE0) {
		*ks = WB_KS_META;
		n = sprintf(buf, "g/%02u", kid - WL_GMETA0);
	} else if (kid < WL_LMETA0) {
		n = sprintf(buf, "L/%03u", kid - WL_LARGE0);
	} else {
		*ks = WB_KS_META;
		n = sprintf(buf, "L/%03u", kid - WL_LMETA0);
	}
	return (size_t)n;
}

long wl_kid(unsigned ks, const void *key, size_t klen)
{
	char k[16];
	unsigned a = 0, b = 0;
	long kid = -1;
	if (klen < 3 || klen >= sizeof(k))
		return -1;
	memcpy(k, key, klen);
	k[klen] = '\0';
	if (ks == WB_KS_USER && sscanf(k, "s/%u", &a) == 1 && a < WL_SINGLES)
		kid = a;
	else if (ks == WB_KS_USER && sscanf(k, "g/%u/%u", &a, &b) == 2 && a < WL_GROUPS &&
		 b < WL_MEMBERS)
		kid = WL_GROUP0 + a * WL_MEMBERS + b;
	else if (ks == WB_KS_META && sscanf(k, "g/%u", &a) == 1 && a < WL_GROUPS)
		kid = WL_GMETA0 + a;
	else if (sscanf(k, "L/%u", &a) == 1 && a < WL_LARGE)
		kid = (ks == WB_KS_USER ? WL_LARGE0 : WL_LMETA0) + a;
	if (kid < 0)
		return -1;
	/* only the canonical spelling ("s/7" is no key of ours) */
	char again[16];
	unsigned ks2;
	size_t n = wl_key((uint32_t)kid, again, &ks2);
	return ks2 == ks && n == klen && memcmp(again, k, n) == 0 ? kid : -1;
}

/* ---- values ---- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t word(uint32_t okid, uint64_t vseq, uint64_t i)
{
	return mix(mix(vseq * 0x9e3779b97f4a7c15ull + okid) ^ i);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void header(const struct wl_state *v, uint8_t h[WL_HDR])
{
	memcpy(h, "WBCV", 4);
	put_le(h + 4, v->okid, 4);
	put_le(h + 8, v->vseq, 8);
	put_le(h + 16, v->len, 8);
	put_le(h + 24, mix(v->okid ^ mix(v->vseq ^ mix(v->len))), 8);
}

bool wl_state_eq(const struct wl_state *a, const struct wl_state *b)
{
	if (a->present != b->present)
		return false;
	return !a->present || (a->okid == b->okid && a->vseq == b->vseq && a->len == b->len);
}

char *wl_state_str(const struct wl_state *s, char *buf)
{
	if (!s->present)
		strcpy(buf, "absent");
	else
		sprintf(buf, "kid %u seq %" PRIu64 " len %" PRIu64, s->okid, s->vseq, s->len);
	return buf;
}

void wl_value_fill(const struct wl_state *v, uint64_t off, void *buf, size_t n)
{
	uint8_t *p = buf;
	if (off < WL_HDR) {
		uint8_t h[WL_HDR];
		header(v, h);
		size_t k = WL_HDR - off < n ? WL_HDR - (size_t)off : n;
		memcpy(p, h + off, k);
		p += k;
		off += k;
		n -= k;
	}
	uint64_t boff = off - WL_HDR;
	while (n > 0) {
		uint8_t w[8];
		put_le(w, word(v->okid, v->vseq, boff / 8), 8);
		size_t sh = boff % 8, k = 8 - sh < n ? 8 - sh : n;
		memcpy(p, w + sh, k);
		p += k;
		boff += k;
		n -= k;
	}
}

bool wl_value_header(const void *buf, uint64_t len, struct wl_state *out, const char **why)
{
	const uint8_t *h = buf;
	if (len < WL_HDR) {
		*why = "shorter than a header";
		return false;
	}
	if (memcmp(h, "WBCV", 4) != 0) {
		*why = "no header magic";
		return false;
	}
	out->present = true;
	out->okid = (uint32_t)get_le(h + 4, 4);
	out->vseq = get_le(h + 8, 8);
	out->len = get_le(h + 16, 8);
	uint8_t want[WL_HDR];
	header(out, want);
	if (memcmp(want, h, WL_HDR) != 0) {
		*why = "header check word wrong";
		return false;
	}
	if (out->len != len) {
		*why = "length differs from the header's";
		return false;
	}
	if (out->okid >= WL_KEYS) {
		*why = "header names no key";
		return false;
	}
	return true;
}

int64_t wl_value_diff(const struct wl_state *v, uint64_t off, const void *buf, size_t n)
{
	uint8_t want[4096];
	const uint8_t *got = buf;
	for (size_t done = 0; done < n;) {
		size_t k = n - done < sizeof(want) ? n - done : sizeof(want);
		wl_value_fill(v, off + done, want, k);
		if (memcmp(want, got + done, k) != 0) {
			for (size_t i = 0; i < k; i++)
				if (want[i] != got[done + i])
					return (int64_t)(off + done + i);
		}
		done += k;
	}
	return -1;
}

/* ---- the journal ---- */

size_t wl_journal_acked(const struct wl_journal *j)
{
	size_t n = 0;
	while (n < j->n && j->ops[n].acked)
		n++;
	return n;
}

uint64_t wl_journal_next_seq(const struct wl_journal *j, uint64_t prev)
{
	return j->n > 0 ? j->ops[j->n - 1].seq + 1 : prev;
}

static const char *const op_names[WL_OP_TYPES] = { "put", "delete", "batch",
						    "txn", "stream", "move" };

const char *wl_op_name(int type)
{
	return type >= 0 && type < WL_OP_TYPES ? op_names[type] : "?";
}

void wl_journal_init(struct wl_journal *j, int fd)
{
	memset(j, 0, sizeof(*j));
	j->fd = fd;
}

void wl_journal_free(struct wl_journal *j)
{
	free(j->ops);
	j->ops = NULL;
	j->n = j->cap = 0;
}

/* One record, one write(2): it is in the file or not, whatever kills us. */
static void emit(struct wl_journal *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct wl_journal *j, const char *fmt, ...)
{
	if (j->fd < 0)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		abort(); /* a record never gets this long */
	if (write(j->fd, line, (size_t)n) != n)
		abort(); /* a lost record would make the check wrong */
}

static struct wl_op *push_op(struct wl_journal *j)
{
	if (j->n == j->cap) {
		j->cap = j->cap ? 2 * j->cap : 256;
		j->ops = realloc(j->ops, j->cap * sizeof(*j->ops));
		if (j->ops == NULL)
			abort();
	}
	struct wl_op *op = &j->ops[j->n++];
	memset(op, 0, sizeof(*op));
	return op;
}

static void journal_intent(struct wl_journal *j, const struct wl_op *op)
{
	struct wl_op *o = push_op(j);
	*o = *op;
	if (j->fd < 0)
		return;
	char line[1024];
	int n = sprintf(line, "I %" PRIu64 " %d %d", op->seq, op->type, op->n);
	for (int i = 0; i < op->n; i++) {
		const struct wl_state *a = &op->w[i].after;
		n += sprintf(line + n, " %u:%d:%u:%" PRIu64 ":%" PRIu64, op->w[i].kid, a->present,
			     a->okid, a->vseq, a->len);
	}
	emit(j, "%s\n", line);
}

static void journal_ack(struct wl_journal *j, int sync_mode)
{
	j->ops[j->n - 1].acked = true;
	if (sync_mode == WB_SYNC_ALWAYS)
		j->synced = j->n;
	emit(j, "A %" PRIu64 "\n", j->ops[j->n - 1].seq);
}

/* An error of the op in flight (seq != 0) or of something between ops. */
static void journal_error(struct wl_journal *j, uint64_t seq, int rc, const char *msg)
{
	if (seq != 0)
		j->ops[j->n - 1].error = rc;
	snprintf(j->note, sizeof(j->note), "%s", msg);
	emit(j, "E %" PRIu64 " %d\n# %s\n", seq, rc, j->note);
}

static void journal_synced(struct wl_journal *j, size_t acked)
{
	j->synced = acked;
	emit(j, "S %zu\n", acked);
}

void wl_journal_opened(struct wl_journal *j, int sync_mode, int rc, const char *msg)
{
	j->sync_mode = sync_mode;
	j->opened = rc == WB_OK;
	j->open_error = rc;
	if (rc != WB_OK)
		snprintf(j->note, sizeof(j->note), "%s", msg);
	emit(j, "O %d %d\n", sync_mode, rc);
	if (rc != WB_OK)
		emit(j, "# %s\n", j->note);
}

void wl_journal_closed(struct wl_journal *j)
{
	j->closed = true;
	emit(j, "C\n");
}

static int parse_record(struct wl_journal *j, char *line)
{
	char *p = line + 2;
	uint64_t seq;
	int a, b, n;
	switch (line[0]) {
	case 'O':
		if (sscanf(p, "%d %d", &a, &b) != 2)
			return -1;
		j->sync_mode = a;
		j->opened = b == 0;
		j->open_error = b;
		return 0;
	case 'I': {
		struct wl_op *op = push_op(j);
		if (sscanf(p, "%" SCNu64 " %d %d%n", &op->seq, &op->type, &op->n, &n) != 3 ||
		    op->n < 0 || op->n > WL_MAX_WRITES)
			return -1;
		p += n;
		for (int i = 0; i < op->n; i++) {
			struct wl_state *s = &op->w[i].after;
			int present;
			if (sscanf(p, " %u:%d:%u:%" SCNu64 ":%" SCNu64 "%n", &op->w[i].kid, &present,
				   &s->okid, &s->vseq, &s->len, &n) != 5 ||
			    op->w[i].kid >= WL_KEYS)
				return -1;
			s->present = present != 0;
			p += n;
		}
		return 0;
	}
	case 'A':
	case 'E':
		if (sscanf(p, "%" SCNu64 " %d", &seq, &a) < 1)
			return -1;
		if (seq == 0)
			return line[0] == 'E' ? 0 : -1;
		if (j->n == 0 || j->ops[j->n - 1].seq != seq)
			return -1; /* acks and errors are for the op in flight */
		if (line[0] == 'A') {
			j->ops[j->n - 1].acked = true;
			if (j->sync_mode == WB_SYNC_ALWAYS)
				j->synced = j->n;
		} else {
			j->ops[j->n - 1].error = a;
		}
		return 0;
	case 'S':
		if (sscanf(p, "%zu", &j->synced) != 1 || j->synced > j->n)
			return -1;
		return 0;
	case 'C':
		j->closed = true;
		return 0;
	case '#':
		snprintf(j->note, sizeof(j->note), "%.*s", (int)sizeof(j->note) - 1, p);
		return 0;
	}
	return -1;
}

int wl_journal_load(struct wl_journal *j, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	char line[2048];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);
		if (n == 0 || line[n - 1] != '\n')
			break; /* the kill tore the last record */
		line[n - 1] = '\0';
		if (parse_record(j, line) != 0) {
			errno = EINVAL;
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

/* ---- the writer ---- */

uint64_t wl_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t below(struct wl_writer *w, uint64_t n)
{
	return wl_rand(&w->rng) % n;
}

/* A value length: mostly small (in the tree), often large (value log). */
static uint64_t pick_len(struct wl_writer *w)
{
	if (below(w, 10) < 6)
		return WL_HDR + below(w, 400);
	return 1024 + below(w, 64 << 10);
}

static void add_write(struct wl_op *op, uint32_t kid, bool present, uint64_t len)
{
	struct wl_write *wr = &op->w[op->n++];
	wr->kid = kid;
	wr->after.present = present;
	wr->after.okid = present ? kid : 0;
	wr->after.vseq = present ? op->seq : 0;
	wr->after.len = present ? len : 0;
}

static bool touches(const struct wl_op *op, uint32_t kid)
{
	for (int i = 0; i < op->n; i++)
		if (op->w[i].kid == kid)
			return true;
	return false;
}

/* The bytes of a write's value, in a buffer of the writer's (valid until
 * the next call). */
static const void *value_of(const struct wl_write *wr)
{
	static __thread uint8_t *buf;
	static __thread size_t cap;
	if (wr->after.len > cap) {
		free(buf);
		cap = wr->after.len;
		buf = malloc(cap);
		if (buf == NULL)
			abort();
	}
	wl_value_fill(&wr->after, 0, buf, wr->after.len);
	return buf;
}

static int fill_batch(wb_batch *b, const struct wl_op *op)
{
	int rc = WB_OK;
	for (int i = 0; rc == WB_OK && i < op->n; i++) {
		const struct wl_write *wr = &op->w[i];
		char k[16];
		unsigned ks;
		size_t kl = wl_key(wr->kid, k, &ks);
		if (wr->after.present)
			rc = wb_batch_put_ks(b, ks, k, kl, value_of(wr), wr->after.len);
		else
			rc = wb_batch_delete_ks(b, ks, k, kl);
	}
	return rc;
}

static int mismatch(struct wl_writer *w, const char *what, uint32_t kid, const struct wl_state *want,
		    const char *got)
{
	char k[16], ws[48];
	unsigned ks;
	wl_key(kid, k, &ks);
	snprintf(w->j->note, sizeof(w->j->note), "%s of %s%s: want %s, got %s", what,
		 ks ? "meta:" : "", k, wl_state_str(want, ws), got);
	return WL_EMISMATCH;
}

/* Compares a value read back (rc from the read) with the model's state. */
static int compare(struct wl_writer *w, const char *what, uint32_t kid, int rc, const void *v,
		   size_t vl)
{
	const struct wl_state *want = &w->model[kid];
	char got[96];
	if (rc == WB_ENOTFOUND)
		return want->present ? mismatch(w, what, kid, want, "absent") : WB_OK;
	if (rc != WB_OK)
		return rc;
	struct wl_state s;
	const char *why;
	if (!wl_value_header(v, vl, &s, &why)) {
		snprintf(got, sizeof(got), "%zu bytes, %s", vl, why);
		return mismatch(w, what, kid, want, got);
	}
	if (!wl_state_eq(&s, want))
		return mismatch(w, what, kid, want, wl_state_str(&s, got));
	int64_t bad = wl_value_diff(want, 0, v, vl);
	if (bad >= 0) {
		snprintf(got, sizeof(got), "wrong byte at %" PRId64, bad);
		return mismatch(w, what, kid, want, got);
	}
	return WB_OK;
}

struct txn_arg {
	struct wl_writer *w;
	const struct wl_op *op;
	unsigned group;
};

/* Reads the group back inside the transaction, then rewrites it. */
static int txn_body(wb_txn *t, void *argp)
{
	struct txn_arg *a = argp;
	struct wl_writer *w = a->w;
	unsigned present = 0;
	for (uint32_t m = 0; m <= WL_MEMBERS; m++) {
		uint32_t kid = m < WL_MEMBERS ? WL_GROUP0 + a->group * WL_MEMBERS + m
					      : WL_GMETA0 + a->group;
		char k[16];
		unsigned ks;
		size_t kl = wl_key(kid, k, &ks);
		void *v = NULL;
		size_t vl = 0;
		int rc = wb_txn_get_ks(t, ks, k, kl, &v, &vl);
		if (rc == WB_ECONFLICT)
			return rc;
		rc = compare(w, "txn read", kid, rc, v, vl);
		wb_free(v);
		if (rc != WB_OK)
			return rc;
		present += m < WL_MEMBERS && w->model[kid].present;
	}
	char prefix[16];
	int pl = sprintf(prefix, "g/%02u/", a->group);
	wb_iter *it;
	int rc = wb_txn_iter_new(t, &(wb_iter_options){ .prefix = prefix, .prefix_len = (size_t)pl },
				 &it);
	if (rc != WB_OK)
		return rc;
	unsigned seen = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it))
		seen++;
	rc = wb_iter_status(it);
	wb_iter_free(it);
	if (rc != WB_OK)
		return rc;
	if (seen != present) {
		snprintf(w->j->note, sizeof(w->j->note),
			 "txn iterator over %s saw %u keys, the model has %u", prefix, seen, present);
		return WL_EMISMATCH;
	}
	for (int i = 0; rc == WB_OK && i < a->op->n; i++) {
		const struct wl_write *wr = &a->op->w[i];
		char k[16];
		unsigned ks;
		size_t kl = wl_key(wr->kid, k, &ks);
		rc = wr->after.present ? wb_txn_put_ks(t, ks, k, kl, value_of(wr), wr->after.len)
				       : wb_txn_delete_ks(t, ks, k, kl);
	}
	return rc;
}

static int do_stream(struct wl_writer *w, const struct wl_op *op, bool abort_it)
{
	const struct wl_write *big = &op->w[0];
	char k[16];
	unsigned ks;
	size_t kl = wl_key(big->kid, k, &ks);
	wb_writer *sw;
	int rc = wb_writer_begin(w->db, k, kl, &sw);
	if (rc != WB_OK)
		return rc;
	static __thread uint8_t chunk[256 << 10];
	uint64_t len = big->after.len, stop = abort_it ? len / 2 : len;
	for (uint64_t off = 0; rc == WB_OK && off < stop;) {
		size_t n = (size_t)(4096 + below(w, sizeof(chunk) - 4096));
		if (n > stop - off)
			n = (size_t)(stop - off);
		wl_value_fill(&big->after, off, chunk, n);
		rc = wb_writer_write(sw, chunk, n);
		off += n;
	}
	if (rc != WB_OK || abort_it) {
		wb_writer_abort(sw);
		return rc;
	}
	wb_batch *b;
	rc = wb_batch_new(&b);
	if (rc != WB_OK) {
		wb_writer_abort(sw);
		return rc;
	}
	struct wl_op rest = *op;
	memmove(rest.w, rest.w + 1, (size_t)(--rest.n) * sizeof(rest.w[0]));
	rc = fill_batch(b, &rest);
	if (rc == WB_OK)
		rc = wb_writer_commit(sw, b);
	else
		wb_writer_abort(sw);
	wb_batch_free(b);
	return rc;
}

static int do_move(struct wl_writer *w, const struct wl_op *op)
{
	/* w[0]: the destination, w[1]: the source */
	char from[16], to[16];
	unsigned ks;
	size_t fl = wl_key(op->w[1].kid, from, &ks), tl = wl_key(op->w[0].kid, to, &ks);
	for (int attempt = 0;; attempt++) {
		wb_batch *b;
		int rc = wb_batch_new(&b);
		if (rc != WB_OK)
			return rc;
		rc = wb_batch_move(w->db, b, from, fl, to, tl);
		if (rc == WB_ENOTFOUND) {
			wb_batch_free(b);
			return mismatch(w, "move source", op->w[1].kid, &w->model[op->w[1].kid],
					"absent");
		}
		if (rc == WB_OK)
			rc = wb_write(w->db, b);
		wb_batch_free(b);
		/* reclaim moved the value meanwhile: the API says redo the move */
		if (rc != WB_ECONFLICT || attempt == 100)
			return rc;
	}
}

static uint32_t random_single(struct wl_writer *w)
{
	return (uint32_t)below(w, WL_SINGLES);
}

/* Fills op (seq already set) with the next operation's writes. */
static void plan(struct wl_writer *w, struct wl_op *op)
{
	static const int weights[WL_OP_TYPES] = { 35, 10, 20, 15, 6, 10 };
	int r = (int)below(w, 96);
	int type = 0;
	while (r >= weights[type])
		r -= weights[type++];
	op->n = 0;
	unsigned g = (unsigned)below(w, WL_GROUPS);
	switch (type) {
	case WL_PUT:
		add_write(op, random_single(w), true, pick_len(w));
		break;
	case WL_DEL:
		add_write(op, random_single(w), false, 0);
		break;
	case WL_BATCH:
	case WL_TXN: {
		bool del = below(w, 8) == 0;
		for (uint32_t m = 0; m < WL_MEMBERS; m++)
			add_write(op, WL_GROUP0 + g * WL_MEMBERS + m, !del, pick_len(w));
		add_write(op, WL_GMETA0 + g, !del, WL_HDR + below(w, 100));
		for (uint64_t extra = type == WL_BATCH ? below(w, 4) : 0; extra > 0; extra--) {
			uint32_t kid = random_single(w);
			if (!touches(op, kid))
				add_write(op, kid, below(w, 4) != 0, pick_len(w));
		}
		break;
	}
	case WL_STREAM: {
		uint32_t l = (uint32_t)below(w, WL_LARGE);
		add_write(op, WL_LARGE0 + l, true, (64 << 10) + below(w, 2 << 20));
		add_write(op, WL_LMETA0 + l, true, WL_HDR + below(w, 100));
		break;
	}
	case WL_MOVE: {
		uint32_t from = random_single(w), to = random_single(w);
		for (int tries = 0; tries < 20 && !w->model[from].present; tries++)
			from = random_single(w);
		if (!w->model[from].present || from == to) {
			type = WL_PUT; /* nothing to move: a put instead */
			add_write(op, to, true, pick_len(w));
			break;
		}
		op->n = 2;
		op->w[0].kid = to;
		op->w[0].after = w->model[from];
		op->w[1].kid = from;
		op->w[1].after = (struct wl_state){ 0 };
		break;
	}
	}
	op->type = type;
}

static int execute(struct wl_writer *w, const struct wl_op *op)
{
	if (op->type == WL_PUT || op->type == WL_DEL) {
		char k[16];
		unsigned ks;
		size_t kl = wl_key(op->w[0].kid, k, &ks);
		return op->type == WL_PUT ? wb_put(w->db, k, kl, value_of(&op->w[0]), op->w[0].after.len)
					  : wb_delete(w->db, k, kl);
	}
	if (op->type == WL_BATCH) {
		wb_batch *b;
		int rc = wb_batch_new(&b);
		if (rc != WB_OK)
			return rc;
		rc = fill_batch(b, op);
		if (rc == WB_OK)
			rc = wb_write(w->db, b);
		wb_batch_free(b);
		return rc;
	}
	if (op->type == WL_TXN) {
		struct txn_arg a = { w, op, (op->w[0].kid - WL_GROUP0) / WL_MEMBERS };
		return wb_txn_run(w->db, below(w, 2) ? WB_TXN_SNAPSHOT : 0, txn_body, &a);
	}
	if (op->type == WL_STREAM)
		return do_stream(w, op, false);
	return do_move(w, op);
}

/* A random key read back and compared with the model; a large value partly
 * (wb_get_range), as the filesystem reads it. */
static int read_check(struct wl_writer *w)
{
	uint32_t kid = (uint32_t)below(w, WL_KEYS);
	char k[16];
	unsigned ks;
	size_t kl = wl_key(kid, k, &ks);
	const struct wl_state *want = &w->model[kid];
	if (ks == WB_KS_USER && want->present && want->len > 8192 && below(w, 2)) {
		uint8_t buf[4096];
		uint64_t off = below(w, want->len);
		size_t nread;
		int rc = wb_get_range(w->db, k, kl, off, buf, sizeof(buf), &nread);
		if (rc == WB_ENOTFOUND)
			return mismatch(w, "range read", kid, want, "absent");
		if (rc != WB_OK)
			return rc;
		size_t expect = want->len - off < sizeof(buf) ? (size_t)(want->len - off) : sizeof(buf);
		char got[64];
		if (nread != expect) {
			snprintf(got, sizeof(got), "%zu bytes at %" PRIu64, nread, off);
			return mismatch(w, "range read", kid, want, got);
		}
		int64_t bad = wl_value_diff(want, off, buf, nread);
		if (bad >= 0) {
			snprintf(got, sizeof(got), "wrong byte at %" PRId64, bad);
			return mismatch(w, "range read", kid, want, got);
		}
		return WB_OK;
	}
	void *v = NULL;
	size_t vl = 0;
	int rc = wb_get_ks(w->db, ks, k, kl, &v, &vl);
	rc = compare(w, "read", kid, rc, v, vl);
	wb_free(v);
	return rc;
}

static int maintain(struct wl_writer *w)
{
	uint64_t r = below(w, 1000);
	if (r < 3)
		return wb_flush(w->db);
	if (r < 4)
		return wb_compact_range(w->db, NULL, 0, NULL, 0);
	if (r < 7)
		return wb_vlog_gc(w->db, NULL);
	return WB_OK;
}

static int stop(struct wl_writer *w, uint64_t seq, int rc, const char *what)
{
	char msg[256];
	if (rc == WL_EMISMATCH)
		snprintf(msg, sizeof(msg), "%s", w->j->note);
	else
		snprintf(msg, sizeof(msg), "%s: %s: %s", what, wb_strerror(rc), wb_errmsg(w->db));
	journal_error(w->j, seq, rc, msg);
	return rc;
}

int wl_run(struct wl_writer *w, uint64_t budget)
{
	for (uint64_t done = 0; budget == 0 || done < budget; done++) {
		struct wl_op op = { .seq = w->next_seq };
		plan(w, &op);
		if (op.type == WL_STREAM && below(w, 8) == 0) {
			/* an abandoned stream changes nothing: no intent */
			int rc = do_stream(w, &op, true);
			if (rc != WB_OK)
				return stop(w, 0, rc, "aborted stream");
			continue;
		}
		w->next_seq++;
		journal_intent(w->j, &op);
		int rc = execute(w, &op);
		if (rc != WB_OK)
			return stop(w, op.seq, rc, wl_op_name(op.type));
		for (int i = 0; i < op.n; i++)
			w->model[op.w[i].kid] = op.w[i].after;
		journal_ack(w->j, w->sync_mode);
		w->ops_done++;
		if (w->sync_mode != WB_SYNC_ALWAYS && below(w, 25) == 0) {
			size_t acked = w->j->n;
			if ((rc = wb_sync(w->db)) != WB_OK)
				return stop(w, 0, rc, "wb_sync");
			journal_synced(w->j, acked);
		}
		if (below(w, 8) == 0 && (rc = read_check(w)) != WB_OK)
			return stop(w, 0, rc, "read");
		if (w->maintenance && (rc = maintain(w)) != WB_OK)
			return stop(w, 0, rc, "maintenance");
	}
	return WB_OK;
}
