/*
 * kv_stream.c -- kvbench's stream step, Wombat only (there is no streaming
 * writer in the adapter interface, so this file calls wombat.h directly):
 * one value of --stream-mib MiB written through wb_writer_begin / write /
 * commit from an in-memory buffer, in STREAM_CHUNK pieces, committed with
 * sync (WB_SYNC_ALWAYS), on a fresh database. The target (issue #4) is at
 * least 60% of the disk's sequential write bandwidth, which the parent
 * measures with dd in the same run, with the process's memory growing by
 * less than 64 MiB.
 *
 * Each of STREAM_RUNS runs forks a child of its own on a fresh directory,
 * so one run's memory peak does not hide the next one's. The child fills
 * its source buffer (random bytes, touched before anything is measured),
 * opens the database, reads its RSS, then times begin + writes ("write")
 * and commit ("commit": the trailer, the segment's fdatasync, the WAL
 * record and its sync) and sends one struct stream_result through a pipe.
 * RSS growth = ru_maxrss at the end minus VmRSS before begin. Runs in the
 * parent, single-threaded, between the value-size tables and the dd.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvbench.h"
#include "wombat.h"

#define STREAM_CHUNK (1u << 20)   /* bytes per wb_writer_write, as the CLI */
#define STREAM_SRC   (64u << 20)  /* source buffer: bigger than any CPU cache */

struct stream_result kv_stream[STREAM_RUNS];

static double secs_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* VmRSS of this process in KiB, 0 when /proc says nothing. */
static uint64_t rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	uint64_t v = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %" SCNu64, &v) == 1)
			break;
	fclose(f);
	return v;
}

static void child_fail(struct stream_result *r, const char *call, int rc, wb_db *db)
{
	r->status = ST_FAILED;
	snprintf(r->error, sizeof(r->error), "%s: %s (%s)", call, wb_strerror(rc),
	         wb_errmsg(db));
}

static void child_run(const char *dir, uint64_t bytes, struct stream_result *r)
{
	uint8_t *src = malloc(STREAM_SRC);
	if (src == NULL) {
		r->status = ST_FAILED;
		snprintf(r->error, sizeof(r->error), "malloc: out of memory");
		return;
	}
	uint64_t x = 0x57a3;
	for (size_t i = 0; i < STREAM_SRC; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(src + i, &x, 8);
	}
	wb_options o;
	wb_options_init(&o);
	o.create_if_missing = 1;
	o.sync = WB_SYNC_ALWAYS;
	wb_db *db;
	int rc = wb_open(dir, &o, &db);
	if (rc != WB_OK) {
		child_fail(r, "wb_open", rc, NULL);
		free(src);
		return;
	}
	r->rss_before_kb = rss_kb();
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wb_writer *w;
	rc = wb_writer_begin(db, "stream", 6, &w);
	if (rc != WB_OK)
		child_fail(r, "wb_writer_begin", rc, db);
	for (uint64_t done = 0; rc == WB_OK && done < bytes;) {
		size_t n = bytes - done < STREAM_CHUNK ? (size_t)(bytes - done) : STREAM_CHUNK;
		rc = wb_writer_write(w, src + done % STREAM_SRC, n);
		if (rc != WB_OK) {
			child_fail(r, "wb_writer_write", rc, db);
			wb_writer_abort(w);
		}
		done += n;
	}
	if (rc == WB_OK) {
		r->write_secs = secs_since(&t0);
		rc = wb_writer_commit(w, NULL);
		if (rc != WB_OK)
			child_fail(r, "wb_writer_commit", rc, db);
	}
	r->secs = secs_since(&t0);
	r->commit_secs = r->secs - r->write_secs;
	r->bytes = bytes;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	r->peak_rss_kb = (uint64_t)ru.ru_maxrss;
	if (rc == WB_OK)
		r->status = ST_OK;
	rc = wb_close(db);
	if (rc != WB_OK && r->status == ST_OK)
		child_fail(r, "wb_close", rc, NULL);
	free(src);
}

/* One run in a child; fills *r whatever happens to the child. */
static void run_child(const struct opts *o, int run, struct stream_result *r)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/stream", o->dir);
	kv_rm_rf(dir);
	memset(r, 0, sizeof(*r));
	int fds[2];
	if (pipe(fds) != 0) {
		r->status = ST_FAILED;
		snprintf(r->error, sizeof(r->error), "pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		r->status = ST_FAILED;
		snprintf(r->error, sizeof(r->error), "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		struct stream_result cr;
		memset(&cr, 0, sizeof(cr));
		child_run(dir, o->stream_mib * MiB, &cr);
		child_send(fds[1], &cr, sizeof(cr));
		_exit(0);
	}
	close(fds[1]);
	int timed_out = 0;
	size_t got = child_receive(fds[0], pid, r, sizeof(*r), o->timeout, &timed_out);
	close(fds[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	if (got < sizeof(*r)) {
		memset(r, 0, sizeof(*r));
		r->status = ST_FAILED;
		child_failure(r->error, sizeof(r->error), timed_out, st, o->timeout);
	}
	if (!o->keep)
		kv_rm_rf(dir);
	report_stream_progress(o, run, r);
}

void stream_measure(const struct opts *o)
{
	printf("---- stream: one %" PRIu64 " MiB value through wb_writer, %d runs ----\n",
	       o->stream_mib, STREAM_RUNS);
	for (int i = 0; i < STREAM_RUNS; i++)
		run_child(o, i, &kv_stream[i]);
}
