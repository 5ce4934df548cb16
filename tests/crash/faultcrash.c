/*
 * faultcrash.c -- the engine's crash loop through the fault env
 * (tests/support/fault_env.h), in one process: the workload of kvcrash
 * (workload.c) runs on a database whose every file call goes through the
 * fault env, and each cycle ends in one of:
 *
 *   power loss  the process "dies" after a random number of appended bytes
 *               (fault_env_kill_after_bytes: every later write fails), then
 *               the power goes (fault_env_power_loss: every byte not synced
 *               is dropped, every file never synced is gone). The reopened
 *               database must hold a prefix of the ops that includes every
 *               one acknowledged before the last completed sync (every
 *               acknowledged one with sync=always);
 *   an error    the n-th call of one kind (append, sync, open, read, rename,
 *               remove, truncate, sync of a directory...) fails with EIO or
 *               ENOSPC, once or for good (a dead or full disk). The writer
 *               must see an error or go on correctly -- a sticky append
 *               failure must reach it -- and never hang; then the fault is
 *               cleared, and the reopened database must hold every op
 *               acknowledged before (or, one time in three, a power loss
 *               follows and every synced one).
 * The kill point or the failing call is drawn from what the previous cycle
 * did (its bytes, its calls of each kind), and is armed before the open one
 * time in four, so recovery meets it too. Every cycle ends with wb_verify;
 * every tenth with `wombat DBDIR verify` as well. A hang anywhere fails the
 * run (watchdog, harness.h).
 *
 * Replay: `faultcrash --seed S` draws the same faults at the same points;
 * only the background threads' timing differs between runs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checker.h"
#include "fault_env.h"
#include "harness.h"
#include "workload.h"

static const char *const op_kind[FAULT_OP_COUNT] = {
	[FAULT_OPEN_READ] = "open for reading", [FAULT_OPEN_WRITE] = "open for writing",
	[FAULT_READ] = "read",                  [FAULT_APPEND] = "append",
	[FAULT_SYNC] = "sync",                  [FAULT_TRUNCATE] = "truncate",
	[FAULT_RENAME] = "rename",              [FAULT_REMOVE] = "remove",
	[FAULT_SYNC_DIR] = "directory sync",    [FAULT_WRITEBACK] = "writeback",
};

struct run {
	struct hx_args a;
	char dir[256], db[300], verify_out[300];
	fault_env_t *fe;
	struct wl_state base[WL_KEYS];
	uint64_t next_seq;
	struct fault_env_counts prev; /* what the last full workload did */
	struct hx_tally t;
};

static void counts_diff(const struct fault_env_counts *a, const struct fault_env_counts *b,
			struct fault_env_counts *d)
{
	for (int k = 0; k < FAULT_OP_COUNT; k++)
		d->calls[k] = b->calls[k] - a->calls[k];
	d->bytes_appended = b->bytes_appended - a->bytes_appended;
}

enum variant { PLAIN, POWER, FAULT };

struct plan {
	enum variant v;
	bool before_open;
	uint64_t point; /* POWER: bytes */
	int kind, nth, rc, mode; /* FAULT */
	char what[128];
};

static void draw(struct run *r, uint64_t c, uint64_t *rng, struct plan *p)
{
	memset(p, 0, sizeof(*p));
	p->v = c == 0 ? PLAIN : wl_rand(rng) % 2 ? POWER : FAULT;
	p->before_open = wl_rand(rng) % 4 == 0;
	if (p->v == POWER) {
		uint64_t span = r->prev.bytes_appended + r->prev.bytes_appended / 4 + 1;
		p->point = 1 + wl_rand(rng) % span;
		snprintf(p->what, sizeof(p->what), "power loss after %" PRIu64 " bytes%s", p->point,
			 p->before_open ? " (armed before the open)" : "");
		return;
	}
	if (p->v == PLAIN) {
		snprintf(p->what, sizeof(p->what), "no fault");
		return;
	}
	int kinds[FAULT_OP_COUNT], nk = 0;
	for (int k = 0; k < FAULT_OP_COUNT; k++)
		if (r->prev.calls[k] > 0)
			kinds[nk++] = k;
	if (nk == 0) { /* no full workload yet to draw from */
		p->v = PLAIN;
		snprintf(p->what, sizeof(p->what), "no fault");
		return;
	}
	p->kind = kinds[wl_rand(rng) % (uint64_t)nk];
	p->nth = 1 + (int)(wl_rand(rng) % r->prev.calls[p->kind]);
	p->rc = wl_rand(rng) % 2 ? WB_EIO : WB_ENOSPC;
	p->mode = wl_rand(rng) % 2 ? FAULT_ONCE : FAULT_STICKY;
	snprintf(p->what, sizeof(p->what), "%s on %s %d (%s)%s",
		 p->rc == WB_EIO ? "EIO" : "ENOSPC", op_kind[p->kind], p->nth,
		 p->mode == FAULT_ONCE ? "once" : "sticky",
		 p->before_open ? ", armed before the open" : "");
}

static void arm(struct run *r, const struct plan *p)
{
	if (p->v == POWER)
		fault_env_kill_after_bytes(r->fe, p->point);
	else if (p->v == FAULT)
		fault_env_fail_nth(r->fe, (enum fault_op)p->kind, p->nth, p->rc,
				   (enum fault_mode)p->mode);
}

/* After a known bug made the database unusable: a new database, a new
 * fault env (the old one's durability state names the removed files). */
static void start_over(struct run *r)
{
	char cmd[400];
	fault_env_free(r->fe);
	r->fe = fault_env_new(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->db);
	if (r->fe == NULL || system(cmd) != 0) {
		fprintf(stderr, "%s: cannot start over in %s\n", r->a.prog, r->db);
		exit(1);
	}
	memset(r->base, 0, sizeof(r->base));
}

static bool cycle(void *ctx, uint64_t c)
{
	struct run *r = ctx;
	uint64_t rng = hx_rng(r->a.seed, c, 0);
	wb_options o = hx_options(&rng);
	o.env = fault_env_get(r->fe);
	struct plan p;
	draw(r, c, &rng, &p);
	uint64_t budget = 100 + wl_rand(&rng) % 400;
	bool power = p.v == POWER || (p.v == FAULT && wl_rand(&rng) % 3 == 0);
	struct hx_tally before = r->t;
	char tag[64];
	snprintf(tag, sizeof(tag), "%s: cycle %" PRIu64, r->a.prog, c);

	struct fault_env_counts c0, c1, armed;
	fault_env_counts(r->fe, &c0);
	if (p.before_open)
		arm(r, &p);
	struct wl_journal j;
	wl_journal_init(&j, -1);
	wb_db *db;
	hx_watch(120, "the writer's open", c, r->a.seed, 0);
	int rc = wb_open(r->db, &o, &db);
	wl_journal_opened(&j, o.sync, rc, wb_errmsg(NULL));
	int wrc = rc;
	if (rc == WB_OK) {
		fault_env_counts(r->fe, &armed);
		if (!p.before_open)
			arm(r, &p);
		else
			armed = c0;
		/* The writer's model moves on with every ack; the check starts
		 * from the state before the cycle. */
		static struct wl_state model[WL_KEYS];
		memcpy(model, r->base, sizeof(model));
		struct wl_writer w = { .db = db, .model = model, .j = &j, .next_seq = r->next_seq,
				       .rng = hx_rng(r->a.seed, c, 1), .sync_mode = o.sync,
				       .maintenance = true };
		hx_watch(120, "the writer's workload", c, r->a.seed, 0);
		wrc = wl_run(&w, budget);
		hx_watch(120, "the writer's close", c, r->a.seed, 0);
		wb_close(db); /* fails when the disk "died"; must not hang */
	} else {
		armed = c0;
		if (p.v == PLAIN) {
			fprintf(stderr, "%s: open without a fault refused: %s: %s\n", tag,
				wb_strerror(rc), wb_errmsg(NULL));
			r->t.refused++;
		}
	}
	hx_unwatch();
	if (wrc == WL_EMISMATCH) {
		fprintf(stderr, "%s: %s: the writer read wrong data: %s\n", tag, p.what, j.note);
		r->t.writer++;
	}
	fault_env_counts(r->fe, &c1);
	if (p.v == FAULT && p.mode == FAULT_STICKY && p.kind == FAULT_APPEND &&
	    c1.calls[FAULT_APPEND] - armed.calls[FAULT_APPEND] >= (uint64_t)p.nth && wrc == WB_OK) {
		fprintf(stderr, "%s: %s: every append failed, yet every write succeeded\n", tag,
			p.what);
		r->t.silent++;
	}
	if (wrc == WB_OK && p.v == PLAIN)
		counts_diff(&c0, &c1, &r->prev);
	else if (wrc == WB_OK) /* keep drawing from a full workload's counts */
		for (int k = 0; k < FAULT_OP_COUNT; k++)
			if (c1.calls[k] - c0.calls[k] > r->prev.calls[k])
				r->prev.calls[k] = c1.calls[k] - c0.calls[k];

	if (power)
		rc = fault_env_power_loss(r->fe);
	else
		fault_env_clear_faults(r->fe), rc = WB_OK;
	if (rc != WB_OK) {
		fprintf(stderr, "%s: the power loss itself failed: %s\n", tag, wb_strerror(rc));
		exit(1);
	}

	wb_options o2 = hx_options(&rng);
	o2.env = fault_env_get(r->fe);
	hx_watch(120, "reopening after the fault", c, r->a.seed, 0);
	rc = wb_open(r->db, &o2, &db);
	if (rc != WB_OK) {
		fprintf(stderr, "%s: %s%s, sync=%s, writer: %s: reopen refused: %s: %s\n", tag, p.what,
			power && p.v == FAULT ? ", then power loss" : "", hx_sync_name(o.sync),
			wrc == WB_OK ? "no error" : wb_strerror(wrc), wb_strerror(rc), wb_errmsg(NULL));
		const char *repro = hx_known(wb_errmsg(NULL), power);
		hx_unwatch();
		wl_journal_free(&j);
		if (repro == NULL || r->a.strict) {
			r->t.refused++;
			return false;
		}
		fprintf(stderr, "%s: a known bug, reproduced by %s: going on with a new database\n",
			tag, repro);
		r->t.known++;
		start_over(r);
		r->t.cycles++;
		return true;
	}
	struct wl_check chk = { .j = &j, .need_acked = !power, .rng = hx_rng(r->a.seed, c, 2) };
	hx_watch(120, "checking the reopened database", c, r->a.seed, 0);
	if (wl_check(db, r->base, &chk, r->a.keep_going, stderr, tag) != 0)
		fprintf(stderr, "%s: (the cycle: %s, sync=%s, writer: %s)\n", tag, p.what,
			hx_sync_name(o.sync), wrc == WB_OK ? "no error" : wb_strerror(wrc));
	r->t.lost += chk.lost;
	r->t.torn += chk.torn;
	r->t.inconsistent += chk.inconsistent;
	hx_watch(300, "wb_verify", c, r->a.seed, 0);
	if ((rc = wb_verify(db, NULL, NULL)) != WB_OK) {
		fprintf(stderr, "%s: %s: wb_verify: %s: %s\n", tag, p.what, wb_strerror(rc),
			wb_errmsg(db));
		if (hx_known(wb_errmsg(db), power) != NULL && !r->a.strict)
			r->t.known++;
		else
			r->t.verify++;
	}
	hx_watch(120, "closing the reopened database", c, r->a.seed, 0);
	if ((rc = wb_close(db)) != WB_OK) {
		fprintf(stderr, "%s: close after the check: %s\n", tag, wb_strerror(rc));
		r->t.writer++;
	}
	hx_unwatch();
	const char *msg;
	if (c % 10 == 9 && !hx_verify_cli(&r->a, r->db, r->verify_out, &msg)) {
		if (hx_known(msg, power) != NULL && !r->a.strict)
			r->t.known++;
		else
			r->t.verify++;
	}

	r->t.ops += j.n;
	r->next_seq = wl_journal_next_seq(&j, r->next_seq);
	if (r->a.verbose)
		printf("cycle %" PRIu64 ": sync=%s, %s%s: writer %s, %zu ops (%zu acked, %zu synced), "
		       "%zu recovered\n",
		       c, hx_sync_name(o.sync), p.what, power && p.v == FAULT ? ", then power loss" : "",
		       wrc == WB_OK ? "saw no error" : wb_strerror(wrc), j.n, wl_journal_acked(&j), j.synced,
		       chk.applied);
	wl_journal_free(&j);
	r->t.cycles++;
	return !hx_new_failures(&r->a, &before, &r->t);
}

int main(int argc, char **argv)
{
	static struct run r;
	hx_parse(argc, argv, &r.a);
	hx_scratch(&r.a, "faultcrash", r.dir, sizeof(r.dir));
	snprintf(r.db, sizeof(r.db), "%s/db", r.dir);
	snprintf(r.verify_out, sizeof(r.verify_out), "%s/verify.out", r.dir);
	r.next_seq = 1;
	r.fe = fault_env_new(NULL);
	if (r.fe == NULL)
		return 1;
	int status = hx_loop(&r.a, cycle, &r, &r.t, r.dir,
			       "power loss and injected EIO/ENOSPC through the fault env");
	fault_env_free(r.fe);
	return status;
}
