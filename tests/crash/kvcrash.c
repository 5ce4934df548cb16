/*
 * kvcrash.c -- the engine's kill -9 loop (`make crashtest`, tests/crash/):
 * a writer process works on one database through the public API until it
 * is killed with SIGKILL at a random moment; the database is reopened and
 * checked; the next cycle's writer goes on from what was recovered.
 *
 * Each cycle draws its engine options (sync always / interval / none,
 * memtable and value-log segment sizes, value threshold, reclaim interval;
 * harness.c) and a kill delay after the fork: one in four within 50 ms,
 * to land in the open (recovery), the rest up to 1.5 s, in the workload: puts,
 * deletes, batches, transactions, streamed values, moves, with flushes,
 * compactions and reclaim passes in between (workload.c). One cycle in ten
 * the writer instead does 300 ops and closes the database cleanly; a writer
 * that hangs there fails the run.
 *
 * The writer journals each op's intent before it starts and its ack after,
 * and each completed wb_sync, to a file outside the database (workload.h).
 * After the kill the harness reopens the database and checks (checker.h)
 * that it holds exactly the state after a prefix of the journaled ops that
 * includes every acknowledged one: the process died but the kernel did not,
 * so everything the engine wrote before acknowledging is still there (the
 * sync modes decide only what a power cut would take; faultcrash.c plays
 * that). Then `wombat DBDIR verify` must pass.
 *
 * Replay: `kvcrash --seed S` makes the same choices (options, op mix, kill
 * delays) in every cycle; where a kill lands within the workload depends on
 * timing, so a failure may need a few runs of its seed, or --keep-going and
 * more cycles, to come back. A failed cycle keeps the directory (database
 * and journal) and prints it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checker.h"
#include "harness.h"
#include "workload.h"

struct run {
	struct hx_args a;
	char dir[256], db[300], journal[300], verify_out[300];
	struct wl_state base[WL_KEYS]; /* what the database holds between cycles */
	uint64_t next_seq;
	struct hx_tally t;
	char known_msg[512]; /* the last known bug's message, counted once */
};

/* The writer process: never returns. Exit 0 after a clean close, 3 when an
 * op failed, 4 when the open failed, 5 when the close failed. */
static void child(struct run *r, const wb_options *o, uint64_t rng, uint64_t budget)
{
	int fd = open(r->journal, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (fd < 0)
		_exit(6);
	struct wl_journal j;
	wl_journal_init(&j, fd);
	wb_db *db;
	int rc = wb_open(r->db, o, &db);
	wl_journal_opened(&j, o->sync, rc, wb_errmsg(NULL));
	if (rc != WB_OK)
		_exit(4);
	struct wl_writer w = { .db = db, .model = r->base, .j = &j, .next_seq = r->next_seq,
			       .rng = rng, .sync_mode = o->sync, .maintenance = true };
	if (wl_run(&w, budget) != WB_OK)
		_exit(3);
	if (wb_close(db) != WB_OK)
		_exit(5);
	wl_journal_closed(&j);
	_exit(0);
}

static void sleep_ms(double ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)((ms - 1000 * (long)(ms / 1000)) * 1e6) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One cycle. Returns false when it found something. */
static bool cycle(void *ctx, uint64_t c)
{
	struct run *r = ctx;
	uint64_t rng = hx_rng(r->a.seed, c, 0);
	wb_options o = hx_options(&rng);
	bool clean = wl_rand(&rng) % 10 == 0;
	/* One kill in four within the first 50 ms (log-uniform: the open and
	 * its recovery), the rest anywhere in the next 1.5 s. */
	double delay_ms = 1.0;
	if (wl_rand(&rng) % 4 == 0)
		for (uint64_t steps = wl_rand(&rng) % 40; steps > 0; steps--)
			delay_ms *= 1.1029;
	else
		delay_ms = 50 + (double)(wl_rand(&rng) % 1450);
	struct hx_tally before = r->t;

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0)
		child(r, &o, hx_rng(r->a.seed, c, 1), clean ? 300 : 0);
	int status;
	if (clean) {
		hx_watch(120, "a writer doing 300 ops and a clean close", c, r->a.seed, pid);
	} else {
		sleep_ms(delay_ms);
		kill(pid, SIGKILL);
		hx_watch(60, "the killed writer's exit", c, r->a.seed, pid);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	hx_unwatch();

	struct wl_journal j;
	wl_journal_init(&j, -1);
	if (wl_journal_load(&j, r->journal) != 0) {
		fprintf(stderr, "%s: cycle %" PRIu64 ": bad journal %s: %s\n", r->a.prog, c,
			r->journal, strerror(errno));
		exit(1);
	}
	bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	if (!(killed && !clean) && !(clean && WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		fprintf(stderr, "%s: cycle %" PRIu64 ": the writer %s (status %d): %s\n", r->a.prog,
			c, j.opened ? "failed" : "could not open the database", status, j.note);
		if (j.opened)
			r->t.writer++;
		else
			r->t.refused++;
	}

	/* Reopen with other options: recovery must not depend on them. */
	wb_options o2 = hx_options(&rng);
	wb_db *db;
	hx_watch(120, "reopening the database", c, r->a.seed, 0);
	int rc = wb_open(r->db, &o2, &db);
	if (rc != WB_OK) {
		fprintf(stderr, "%s: cycle %" PRIu64 ": reopen refused: %s: %s\n", r->a.prog, c,
			wb_strerror(rc), wb_errmsg(NULL));
		r->t.refused++;
		wl_journal_free(&j);
		return false;
	}
	char tag[64];
	snprintf(tag, sizeof(tag), "%s: cycle %" PRIu64, r->a.prog, c);
	struct wl_check chk = { .j = &j, .need_acked = true, .rng = hx_rng(r->a.seed, c, 2) };
	hx_watch(120, "checking the reopened database", c, r->a.seed, 0);
	wl_check(db, r->base, &chk, r->a.keep_going, stderr, tag);
	r->t.lost += chk.lost;
	r->t.torn += chk.torn;
	r->t.inconsistent += chk.inconsistent;
	hx_watch(120, "closing the reopened database", c, r->a.seed, 0);
	rc = wb_close(db);
	hx_unwatch();
	if (rc != WB_OK) {
		fprintf(stderr, "%s: cycle %" PRIu64 ": close after the check: %s\n", r->a.prog, c,
			wb_strerror(rc));
		r->t.writer++;
	}
	hx_watch(300, "wombat verify", c, r->a.seed, 0);
	const char *msg;
	if (!hx_verify_cli(&r->a, r->db, r->verify_out, &msg)) {
		const char *repro = hx_known(msg, false);
		if (repro == NULL) {
			r->t.verify++;
		} else if (strcmp(msg, r->known_msg) != 0) {
			/* (the same damage is met again by every later verify) */
			fprintf(stderr, "%s: cycle %" PRIu64 ": a known bug, reproduced by %s\n",
				r->a.prog, c, repro);
			snprintf(r->known_msg, sizeof(r->known_msg), "%s", msg);
			r->t.known++;
		}
	}
	hx_unwatch();

	r->t.ops += j.n;
	r->next_seq = wl_journal_next_seq(&j, r->next_seq);
	if (r->a.verbose)
		printf("cycle %" PRIu64 ": sync=%s, %s: %zu ops (%zu acked, %zu synced), %zu "
		       "recovered\n",
		       c, hx_sync_name(o.sync), clean ? "clean close" : "killed", j.n,
		       wl_journal_acked(&j), j.synced, chk.applied);
	wl_journal_free(&j);
	r->t.cycles++;
	return !hx_new_failures(&r->a, &before, &r->t);
}

int main(int argc, char **argv)
{
	static struct run r;
	hx_parse(argc, argv, &r.a);
	hx_scratch(&r.a, "kvcrash", r.dir, sizeof(r.dir));
	snprintf(r.db, sizeof(r.db), "%s/db", r.dir);
	snprintf(r.journal, sizeof(r.journal), "%s/journal", r.dir);
	snprintf(r.verify_out, sizeof(r.verify_out), "%s/verify.out", r.dir);
	r.next_seq = 1;
	return hx_loop(&r.a, cycle, &r, &r.t, r.dir, "kill -9 of a writer process");
}
