/*
 * oracle.c -- the registry of readers and the commit log (oracle.h).
 *
 * A commit record is one allocation: the header, an open-addressing hash
 * set of the fingerprints of the keys (0 marks an empty slot, so a
 * fingerprint is never 0), and the tree keys themselves, each as a varint
 * length and the bytes, for range checks. The set is at most half full.
 * Everything but the pure helpers runs under db->mu.
 */
#include "txn/oracle.h"

#include <stdlib.h>

#include "db/batch.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/grow.h"

struct commit_rec {
	uint64_t ts;
	uint32_t nkeys;
	uint32_t mask; /* slots - 1 */
	uint64_t *set;
	uint8_t *keys;
	size_t keys_len;
	size_t bytes; /* of the whole allocation */
};

uint64_t oracle_fingerprint(slice_t tk)
{
	/* FNV-1a, then a 64-bit finalizer so that nearby keys spread over the
	 * low bits the hash set uses. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < tk.len; i++) {
		h ^= tk.data[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h ? h : 1;
}

static bool set_has(const commit_rec_t *r, uint64_t fp)
{
	for (uint32_t i = (uint32_t)fp & r->mask;; i = (i + 1) & r->mask) {
		if (r->set[i] == fp)
			return true;
		if (r->set[i] == 0)
			return false;
	}
}

static void set_add(commit_rec_t *r, uint64_t fp)
{
	uint32_t i = (uint32_t)fp & r->mask;
	while (r->set[i] != 0 && r->set[i] != fp)
		i = (i + 1) & r->mask;
	r->set[i] = fp;
}

static int count_key_bytes(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	*(size_t *)arg += varint_len(tree_key.len) + tree_key.len;
	return WB_OK;
}

static int add_key(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	commit_rec_t *r = arg;
	set_add(r, oracle_fingerprint(tree_key));
	r->keys_len += put_varint64(r->keys + r->keys_len, tree_key.len);
	memcpy(r->keys + r->keys_len, tree_key.data, tree_key.len);
	r->keys_len += tree_key.len;
	r->nkeys++;
	return WB_OK;
}

int oracle_rec_build(slice_t rep, commit_rec_t **out)
{
	*out = NULL;
	if (rep.len < BATCH_HEADER_SIZE)
		return WB_ECORRUPT;
	uint64_t count = batch_count_rep(rep);
	uint64_t slots = 8;
	while (slots < 2 * count)
		slots *= 2;
	if (slots > ((uint64_t)1 << 31))
		return err_set(WB_ENOMEM, "a transaction of %llu keys is too large to check",
			       (unsigned long long)count);
	size_t key_bytes = 0; /* the keys only: values can be large */
	int rc = batch_iterate(rep, count_key_bytes, &key_bytes);
	if (rc != WB_OK)
		return rc;
	size_t bytes = sizeof(commit_rec_t) + slots * sizeof(uint64_t) + key_bytes;
	commit_rec_t *r = malloc(bytes);
	if (r == NULL)
		return WB_ENOMEM;
	memset(r, 0, sizeof(*r));
	r->set = (uint64_t *)(r + 1);
	memset(r->set, 0, slots * sizeof(uint64_t));
	r->mask = (uint32_t)(slots - 1);
	r->keys = (uint8_t *)(r->set + slots);
	r->bytes = bytes;
	rc = batch_iterate(rep, add_key, r);
	if (rc != WB_OK) {
		free(r);
		return rc;
	}
	*out = r;
	return WB_OK;
}

void oracle_rec_free(commit_rec_t *rec)
{
	free(rec);
}

void oracle_init(oracle_t *o, const wb_env *env, uint64_t retain_ms, uint64_t discard_ts)
{
	memset(o, 0, sizeof(*o));
	o->readers.next = o->readers.prev = &o->readers;
	o->retain_ms = retain_ms;
	o->env = env;
	o->discard_ts = discard_ts;
}

void oracle_destroy(oracle_t *o)
{
	for (size_t i = 0; i < o->nrecs; i++)
		free(o->log[o->first + i]);
	free(o->log);
	o->log = NULL;
	o->first = o->nrecs = o->cap = 0;
	o->rec_bytes = 0;
}

void oracle_add_reader(oracle_t *o, oracle_reader_t *r, uint64_t read_ts, bool rw)
{
	r->read_ts = read_ts;
	r->rw = rw;
	r->next = &o->readers;
	r->prev = o->readers.prev;
	r->prev->next = r;
	o->readers.prev = r;
	o->nreaders++;
	if (rw)
		o->nrw++;
}

void oracle_remove_reader(oracle_t *o, oracle_reader_t *r)
{
	r->prev->next = r->next;
	r->next->prev = r->prev;
	r->next = r->prev = NULL;
	o->nreaders--;
	if (r->rw)
		o->nrw--;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int oracle_horizon(oracle_t *o, uint64_t visible, uint64_t **snaps, int *n)
{
	uint64_t h = visible;
	if (o->retain_ms > 0) {
		uint64_t ms = clock_wall_micros(o->env) / 1000;
		uint64_t cutoff = ms > o->retain_ms ? (ms - o->retain_ms) << 16 : 0;
		if (cutoff < h)
			h = cutoff;
	}
	uint64_t *s = malloc(((size_t)o->nreaders + 1) * sizeof(*s));
	if (s == NULL)
		return WB_ENOMEM;
	int k = 0;
	for (oracle_reader_t *r = o->readers.next; r != &o->readers; r = r->next)
		if (r->read_ts < h)
			s[k++] = r->read_ts;
	qsort(s, (size_t)k, sizeof(*s), cmp_u64);
	int u = 0;
	for (int i = 0; i < k; i++)
		if (u == 0 || s[u - 1] != s[i])
			s[u++] = s[i];
	s[u++] = h;
	if (h > o->discard_ts)
		o->discard_ts = h;
	*snaps = s;
	*n = u;
	return WB_OK;
}

bool oracle_retained(const oracle_t *o, uint64_t ts)
{
	if (ts >= o->discard_ts)
		return true;
	for (const oracle_reader_t *r = o->readers.next; r != &o->readers; r = r->next)
		if (r->read_ts == ts)
			return true;
	return false;
}

static bool in_range(slice_t k, const key_range_t *r)
{
	return slice_compare(k, slice_make(r->lo, r->lo_len)) >= 0 &&
	       slice_compare(k, slice_make(r->hi, r->hi_len)) < 0;
}

static bool rec_conflicts(const commit_rec_t *r, const txn_check_t *c)
{
	if (!c->serializable) {
		/* Write-write: walk the smaller set, probe the larger. */
		const commit_rec_t *small = r, *big = c->rec;
		if (big == NULL)
			return false;
		if (small->mask > big->mask) {
			small = c->rec;
			big = r;
		}
		for (uint32_t i = 0; i <= small->mask; i++)
			if (small->set[i] != 0 && set_has(big, small->set[i]))
				return true;
		return false;
	}
	for (size_t i = 0; i < c->nreads; i++)
		if (set_has(r, c->reads[i]))
			return true;
	if (c->nranges == 0)
		return false;
	const uint8_t *p = r->keys, *end = r->keys + r->keys_len;
	while (p < end) {
		slice_t k;
		p = get_length_prefixed(p, end, &k);
		if (p == NULL)
			return true; /* cannot happen: we encoded it */
		for (size_t j = 0; j < c->nranges; j++)
			if (in_range(k, &c->ranges[j]))
				return true;
	}
	return false;
}

bool oracle_conflicts(oracle_t *o, const txn_check_t *c)
{
	o->checks++;
	if (c->read_ts < o->floor_ts) {
		/* Commits it could conflict with were dropped to bound memory:
		 * it cannot be checked, so it must run again. */
		o->conflicts++;
		o->too_old++;
		return true;
	}
	commit_rec_t **log = o->log + o->first;
	size_t lo = 0, hi = o->nrecs; /* the first commit after read_ts */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (log[mid]->ts <= c->read_ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < o->nrecs; i++) {
		if (rec_conflicts(log[i], c)) {
			o->conflicts++;
			return true;
		}
	}
	return false;
}

int oracle_log(oracle_t *o, commit_rec_t *rec, uint64_t ts)
{
	if (o->first + o->nrecs == o->cap) {
		if (o->first > 0) {
			memmove(o->log, o->log + o->first, o->nrecs * sizeof(*o->log));
			o->first = 0;
		}
		if (!grow_array((void **)&o->log, &o->cap, o->nrecs + 1, sizeof(*o->log)))
			return WB_ENOMEM;
	}
	rec->ts = ts;
	o->log[o->first + o->nrecs++] = rec;
	o->rec_bytes += rec->bytes;
	return WB_OK;
}

void oracle_prune(oracle_t *o)
{
	if (o->nrecs == 0)
		return;
	uint64_t low = UINT64_MAX;
	for (oracle_reader_t *r = o->readers.next; r != &o->readers; r = r->next)
		if (r->rw && r->read_ts < low)
			low = r->read_ts;
	while (o->nrecs > 0 && o->log[o->first]->ts <= low) {
		commit_rec_t *r = o->log[o->first++];
		o->nrecs--;
		o->rec_bytes -= r->bytes;
		free(r);
	}
	/* A transaction left open for long must not hold the whole write
	 * history in memory: past the limit the oldest half goes, and the
	 * transactions that needed it will fail their check. */
	bool trim = o->rec_bytes > ORACLE_LOG_MAX_BYTES;
	while (trim && o->nrecs > 1 && o->rec_bytes > ORACLE_LOG_MAX_BYTES / 2) {
		commit_rec_t *r = o->log[o->first++];
		o->nrecs--;
		o->rec_bytes -= r->bytes;
		o->floor_ts = r->ts;
		free(r);
	}
	if (o->nrecs == 0)
		o->first = 0;
}
