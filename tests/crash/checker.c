/*
 * checker.c -- the crash harness's judge (checker.h).
 *
 * Finding the prefix: for each key, the positions P (0 .. n ops applied)
 * at which the model's state of the key equals what was read form a set;
 * the prefixes that fit are the positions in every key's set. A bitmap of
 * n + 1 positions per pass keeps that at keys x ops steps, a few hundred
 * thousand per cycle.
 */
#include "checker.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 20

struct ctx {
	wb_db *db;
	struct wl_check *c;
	FILE *log;
	const char *tag;
	int lines;
	struct wl_state *got; /* WL_KEYS: what the point reads found */
	bool *bad;            /* WL_KEYS: torn or unreadable */
};

static void say(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct ctx *x, const char *fmt, ...)
{
	if (x->lines++ >= MAX_LINES) {
		if (x->lines == MAX_LINES + 1)
			fprintf(x->log, "%s: (more problems not shown)\n", x->tag);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	fprintf(x->log, "%s: ", x->tag);
	vfprintf(x->log, fmt, ap);
	fputc('\n', x->log);
	va_end(ap);
}

static const char *name(uint32_t kid, char *buf)
{
	char k[16];
	unsigned ks;
	size_t n = wl_key(kid, k, &ks);
	sprintf(buf, "%s%.*s", ks == WB_KS_META ? "meta:" : "", (int)n, k);
	return buf;
}

/* Judges one value read back for kid into *out; false (and reported) when
 * it is not a complete version written for that key. */
static bool judge_value(struct ctx *x, uint32_t kid, const void *v, size_t vl, const char *how,
			struct wl_state *out)
{
	char kn[32], vs[48];
	const char *why;
	if (!wl_value_header(v, vl, out, &why)) {
		say(x, "torn: %s (%s): %zu bytes, %s", name(kid, kn), how, vl, why);
		return false;
	}
	/* A value is written for its own key; a moved one is a single's. */
	if (out->okid != kid && !(kid < WL_SINGLES && out->okid < WL_SINGLES)) {
		say(x, "torn: %s (%s) holds a value written for %s", name(kid, kn), how,
		    name(out->okid, vs));
		return false;
	}
	int64_t off = wl_value_diff(out, 0, v, vl);
	if (off >= 0) {
		say(x, "torn: %s (%s): %s, byte %" PRId64 " wrong", name(kid, kn), how,
		    wl_state_str(out, vs), off);
		return false;
	}
	return true;
}

static void point_reads(struct ctx *x)
{
	for (uint32_t kid = 0; kid < WL_KEYS; kid++) {
		char k[16], kn[32];
		unsigned ks;
		size_t kl = wl_key(kid, k, &ks);
		void *v = NULL;
		size_t vl = 0;
		int rc = wb_get_ks(x->db, ks, k, kl, &v, &vl);
		x->got[kid] = (struct wl_state){ 0 };
		if (rc == WB_OK)
			x->bad[kid] = !judge_value(x, kid, v, vl, "get", &x->got[kid]);
		else if (rc != WB_ENOTFOUND) {
			say(x, "torn: %s: get: %s: %s", name(kid, kn), wb_strerror(rc),
			    wb_errmsg(x->db));
			x->bad[kid] = true;
		}
		wb_free(v);
		if (rc == WB_OK && !x->bad[kid] && ks == WB_KS_USER && vl > 8192) {
			uint8_t buf[4096];
			uint64_t off = wl_rand(&x->c->rng) % vl;
			size_t nread = 0;
			rc = wb_get_range(x->db, k, kl, off, buf, sizeof(buf), &nread);
			size_t want = vl - off < sizeof(buf) ? (size_t)(vl - off) : sizeof(buf);
			int64_t bad = rc == WB_OK && nread == want ? wl_value_diff(&x->got[kid], off, buf, nread)
								   : 0;
			if (bad >= 0) {
				say(x, "torn: %s: range read at %" PRIu64 ": %s, %zu bytes, first wrong %" PRId64,
				    name(kid, kn), off, wb_strerror(rc), nread, bad);
				x->bad[kid] = true;
			}
		}
	}
}

/* Scans keyspace ks: every key must be ours and agree with its point read. */
static uint64_t scan(struct ctx *x, unsigned ks)
{
	wb_iter *it;
	uint64_t problems = 0;
	int rc = wb_iter_new(x->db, &(wb_iter_options){ .keyspace = ks }, &it);
	if (rc != WB_OK) {
		say(x, "torn: cannot scan keyspace %u: %s", ks, wb_strerror(rc));
		return 1;
	}
	bool seen[WL_KEYS] = { false };
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
		size_t kl, vl;
		const void *k = wb_iter_key(it, &kl);
		long kid = wl_kid(ks, k, kl);
		char kn[32], a[48], b[48];
		if (kid < 0) {
			say(x, "inconsistent: the scan of keyspace %u shows a key no op wrote: '%.*s'",
			    ks, (int)(kl < 40 ? kl : 40), (const char *)k);
			problems++;
			continue;
		}
		seen[kid] = true;
		const void *v = wb_iter_value(it, &vl);
		struct wl_state s;
		if (v == NULL) {
			say(x, "torn: %s: scan cannot read the value: %s", name((uint32_t)kid, kn),
			    wb_strerror(wb_iter_status(it)));
			problems++;
			break;
		}
		if (!judge_value(x, (uint32_t)kid, v, vl, "scan", &s)) {
			problems++;
		} else if (!x->bad[kid] && !wl_state_eq(&s, &x->got[kid])) {
			say(x, "inconsistent: %s: the scan shows %s, a get %s", name((uint32_t)kid, kn),
			    wl_state_str(&s, a), wl_state_str(&x->got[kid], b));
			problems++;
		}
	}
	if ((rc = wb_iter_status(it)) != WB_OK) {
		say(x, "torn: the scan of keyspace %u stopped: %s: %s", ks, wb_strerror(rc),
		    wb_errmsg(x->db));
		problems++;
	}
	wb_iter_free(it);
	for (uint32_t kid = 0; kid < WL_KEYS; kid++) {
		char k[16], kn[32];
		unsigned kks;
		wl_key(kid, k, &kks);
		if (kks == ks && x->got[kid].present && !seen[kid] && !x->bad[kid]) {
			say(x, "inconsistent: %s: a get finds it, the scan does not", name(kid, kn));
			problems++;
		}
	}
	return problems;
}

/* Marks in fit[] the positions P at which kid's model state equals what
 * was read; returns how many. */
static size_t fits(const struct ctx *x, const struct wl_state *base, uint32_t kid, bool *fit)
{
	const struct wl_journal *j = x->c->j;
	struct wl_state st = base[kid];
	size_t count = 0;
	for (size_t p = 0;; p++) {
		fit[p] = wl_state_eq(&st, &x->got[kid]);
		count += fit[p];
		if (p == j->n)
			return count;
		for (int i = 0; i < j->ops[p].n; i++)
			if (j->ops[p].w[i].kid == kid)
				st = j->ops[p].w[i].after;
	}
}

/* The state of kid after the first p ops. */
static struct wl_state state_at(const struct ctx *x, const struct wl_state *base, uint32_t kid,
				size_t p)
{
	struct wl_state st = base[kid];
	for (size_t q = 0; q < p; q++)
		for (int i = 0; i < x->c->j->ops[q].n; i++)
			if (x->c->j->ops[q].w[i].kid == kid)
				st = x->c->j->ops[q].w[i].after;
	return st;
}

/* No prefix in range: says which keys disagree with the prefix most keys
 * fit, and what they hold instead. */
static void explain(struct ctx *x, const struct wl_state *base, const size_t *votes)
{
	const struct wl_journal *j = x->c->j;
	size_t best = 0;
	for (size_t p = 0; p <= j->n; p++)
		if (votes[p] > votes[best] || (votes[p] == votes[best] && p > best))
			best = p;
	say(x, "inconsistent: no prefix of the %zu ops fits every key; the closest is %zu ops "
	       "(%zu of %d keys fit it)",
	    j->n, best, votes[best], WL_KEYS);
	for (uint32_t kid = 0; kid < WL_KEYS; kid++) {
		if (x->bad[kid])
			continue;
		struct wl_state want = state_at(x, base, kid, best);
		if (wl_state_eq(&want, &x->got[kid]))
			continue;
		char kn[32], a[48], b[48];
		const char *from = "a version no op of this cycle wrote";
		for (size_t q = 0; q < j->n; q++)
			for (int i = 0; i < j->ops[q].n; i++)
				if (j->ops[q].w[i].kid == kid &&
				    wl_state_eq(&j->ops[q].w[i].after, &x->got[kid]))
					from = q < best ? "an older version" : "a later op's version";
		if (wl_state_eq(&base[kid], &x->got[kid]))
			from = "the version from before the cycle";
		say(x, "inconsistent: %s: want %s, holds %s (%s)", name(kid, kn), wl_state_str(&want, a),
		    wl_state_str(&x->got[kid], b), from);
	}
}

uint64_t wl_check(wb_db *db, struct wl_state *base, struct wl_check *c, bool repair, FILE *log,
		  const char *tag)
{
	const struct wl_journal *j = c->j;
	struct ctx x = { db, c, log, tag, 0, calloc(WL_KEYS, sizeof(struct wl_state)),
			 calloc(WL_KEYS, sizeof(bool)) };
	bool *fit = malloc(j->n + 1), *all = malloc(j->n + 1);
	size_t *votes = calloc(j->n + 1, sizeof(size_t));
	if (x.got == NULL || x.bad == NULL || fit == NULL || all == NULL || votes == NULL)
		abort();
	c->lost = c->torn = c->inconsistent = 0;
	c->applied = 0;

	point_reads(&x);
	for (uint32_t kid = 0; kid < WL_KEYS; kid++)
		c->torn += x.bad[kid];
	/* (what only the scan sees wrong counts as inconsistent) */
	c->inconsistent += scan(&x, WB_KS_USER) + scan(&x, WB_KS_META);

	memset(all, 1, j->n + 1);
	for (uint32_t kid = 0; kid < WL_KEYS; kid++) {
		if (x.bad[kid])
			continue; /* a torn key says nothing about the prefix */
		fits(&x, base, kid, fit);
		for (size_t p = 0; p <= j->n; p++) {
			all[p] &= fit[p];
			votes[p] += fit[p];
		}
	}
	size_t lo = c->need_acked ? wl_journal_acked(j) : j->synced;
	if (lo > j->n)
		lo = j->n;
	long found = -1, below_lo = -1;
	for (size_t p = 0; p <= j->n; p++)
		if (all[p]) {
			if (p >= lo)
				found = (long)p;
			else
				below_lo = (long)p;
		}
	if (found >= 0) {
		c->applied = (size_t)found;
	} else if (below_lo >= 0) {
		c->applied = (size_t)below_lo;
		c->lost = lo - (size_t)below_lo;
		const struct wl_op *first = &j->ops[below_lo];
		say(&x, "lost: the database holds the first %ld of the cycle's %zu ops, but %zu were "
			"%s: %" PRIu64 " ops gone, the first seq %" PRIu64 " (%s)",
		    below_lo, j->n, lo, c->need_acked ? "acknowledged" : "synced", c->lost, first->seq,
		    wl_op_name(first->type));
		if (c->need_acked && j->synced > (size_t)below_lo)
			say(&x, "lost: %zu of them synced", j->synced - (size_t)below_lo);
	} else {
		explain(&x, base, votes);
		c->inconsistent++;
	}

	uint64_t problems = c->lost + c->torn + c->inconsistent;
	if (problems == 0 || repair) {
		for (uint32_t kid = 0; kid < WL_KEYS; kid++) {
			if (x.bad[kid]) {
				char k[16];
				unsigned ks;
				size_t kl = wl_key(kid, k, &ks);
				wb_batch *b;
				if (wb_batch_new(&b) == WB_OK) {
					wb_batch_delete_ks(b, ks, k, kl);
					wb_write(db, b);
					wb_batch_free(b);
				}
				x.got[kid] = (struct wl_state){ 0 };
			}
			base[kid] = x.got[kid];
		}
	}
	free(x.got);
	free(x.bad);
	free(fit);
	free(all);
	free(votes);
	return problems;
}
