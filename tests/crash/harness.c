/*
 * harness.c -- command line, options, verify, watchdog and tally of the
 * engine crash loops (harness.h).
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--cycles N] [--seconds S] [--seed S] [--dir DIR] [--wombat PATH]\n"
		"       [--keep-going] [--strict] [-v]\n"
		"  --cycles N    stop after N cycles (default: only the time limit)\n"
		"  --seconds S   start no cycle after S seconds (default 60 when no --cycles)\n"
		"  --seed S      replay: the same seed makes the same choices in every cycle\n"
		"  --dir DIR     scratch directory, kept (default: a new one in /tmp, removed\n"
		"                unless a cycle fails)\n"
		"  --wombat PATH the CLI for `verify` (default: ../bin/wombat next to this)\n"
		"  --keep-going  go on after a failed cycle (the model takes what was recovered)\n"
		"  --strict      known bugs (reproduced by a skipped unit test) fail the run too\n",
		prog);
	exit(2);
}

void hx_parse(int argc, char **argv, struct hx_args *a)
{
	memset(a, 0, sizeof(*a));
	a->prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	bool seeded = false;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "-v") == 0) {
			a->verbose = true;
			continue;
		}
		if (strcmp(o, "--keep-going") == 0) {
			a->keep_going = true;
			continue;
		}
		if (strcmp(o, "--strict") == 0) {
			a->strict = true;
			continue;
		}
		if (v == NULL)
			usage(a->prog);
		i++;
		char *end;
		if (strcmp(o, "--cycles") == 0)
			a->cycles = strtoull(v, &end, 10);
		else if (strcmp(o, "--seconds") == 0)
			a->seconds = strtod(v, &end);
		else if (strcmp(o, "--seed") == 0)
			a->seed = strtoull(v, &end, 0), seeded = true;
		else if (strcmp(o, "--dir") == 0)
			a->dir = v, end = "";
		else if (strcmp(o, "--wombat") == 0)
			a->wombat = v, end = "";
		else
			usage(a->prog);
		if (*end != '\0')
			usage(a->prog);
	}
	if (!seeded) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		a->seed = ((uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid()) %
			  1000000000u;
	}
	if (a->cycles == 0 && a->seconds == 0)
		a->seconds = 60;
	if (a->wombat == NULL) {
		static char path[PATH_MAX];
		const char *slash = strrchr(argv[0], '/');
		int n = slash ? (int)(slash - argv[0]) : 1;
		snprintf(path, sizeof(path), "%.*s/../bin/wombat", n, slash ? argv[0] : ".");
		a->wombat = path;
	}
}

uint64_t hx_rng(uint64_t seed, uint64_t cycle, uint64_t stream)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + cycle * 0xbf58476d1ce4e5b9ull + stream + 1;
	for (int i = 0; i < 4; i++)
		wl_rand(&s);
	return s ? s : 1;
}

wb_options hx_options(uint64_t *rng)
{
	wb_options o;
	wb_options_init(&o);
	o.create_if_missing = 1;
	uint64_t r = wl_rand(rng);
	o.sync = r % 20 < 8 ? WB_SYNC_ALWAYS : r % 20 < 17 ? WB_SYNC_INTERVAL : WB_SYNC_NONE;
	o.sync_interval_ms = 1 + (unsigned)(wl_rand(rng) % 50);
	o.memtable_size = (size_t)64 << 10 << (wl_rand(rng) % 5);
	o.value_threshold = wl_rand(rng) % 2 ? 1024 : 4096;
	o.vlog_segment_size = (uint64_t)1 << 20 << (wl_rand(rng) % 3);
	o.vlog_gc_interval_ms = 20 + (unsigned)(wl_rand(rng) % 500);
	o.compaction_threads = 1 + (int)(wl_rand(rng) % 2);
	o.l0_compaction_trigger = 2 + (int)(wl_rand(rng) % 3);
	o.sst_target_size = (size_t)256 << 10;
	o.level1_size = (uint64_t)1 << 20;
	o.block_cache_size = (uint64_t)8 << 20;
	return o;
}

const char *hx_sync_name(int mode)
{
	return mode == WB_SYNC_ALWAYS ? "always" : mode == WB_SYNC_INTERVAL ? "interval" : "none";
}

bool hx_verify_cli(const struct hx_args *a, const char *db, const char *out_path, const char **msg)
{
	static char last[512];
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(a->wombat, a->wombat, db, "verify", (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", a->wombat, strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	last[0] = '\0';
	if (msg != NULL)
		*msg = last;
	if (!ok) {
		fprintf(stderr, "%s: `%s %s verify` failed (status %d):\n", a->prog, a->wombat, db,
			status);
		FILE *f = fopen(out_path, "r");
		char line[512];
		for (int n = 0; f != NULL && n < 20 && fgets(line, sizeof(line), f); n++) {
			fprintf(stderr, "  %s", line);
			snprintf(last, sizeof(last), "%s", line);
		}
		if (f)
			fclose(f);
	}
	return ok;
}

const char *hx_known(const char *msg, bool power_lost)
{
	static const struct {
		const char *match;
		bool power_lost; /* only after a power loss */
		const char *repro;
	} known[] = {
		/* none open: add { "message", power_lost, "test_x test_y" } */
		{ NULL, false, NULL },
	};
	for (size_t i = 0; msg != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].match != NULL && strstr(msg, known[i].match) != NULL && (power_lost || !known[i].power_lost))
			return known[i].repro;
	return NULL;
}

static const char *watch_what;
static uint64_t watch_cycle, watch_seed;
static pid_t watch_victim;

static void on_alarm(int sig)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg),
			 "hang: %s did not finish (cycle %" PRIu64 ", seed %" PRIu64 ")\n",
			 watch_what ? watch_what : "?", watch_cycle, watch_seed);
	if (n > 0)
		(void)!write(2, msg, (size_t)n);
	if (watch_victim > 0)
		kill(watch_victim, SIGKILL);
	_exit(3);
}

void hx_watch(unsigned seconds, const char *what, uint64_t cycle, uint64_t seed, pid_t victim)
{
	watch_what = what;
	watch_cycle = cycle;
	watch_seed = seed;
	watch_victim = victim;
	signal(SIGALRM, on_alarm);
	alarm(seconds);
}

void hx_unwatch(void)
{
	alarm(0);
}

double hx_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t failures(const struct hx_tally *t)
{
	return t->lost + t->torn + t->inconsistent + t->verify + t->writer + t->refused + t->silent;
}

bool hx_new_failures(const struct hx_args *a, const struct hx_tally *before,
		     const struct hx_tally *now)
{
	return failures(now) != failures(before) || (a->strict && now->known != before->known);
}

void hx_scratch(const struct hx_args *a, const char *tag, char *dir, size_t len)
{
	if (a->dir != NULL) {
		snprintf(dir, len, "%s", a->dir);
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			perror(dir);
			exit(1);
		}
	} else {
		snprintf(dir, len, "/tmp/wombat-%s-XXXXXX", tag);
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			exit(1);
		}
	}
}

static int report(const struct hx_args *a, const struct hx_tally *t, double elapsed,
		  const char *what)
{
	printf("%s: %" PRIu64 " cycles (%s) in %.0f s, %.1f per minute, %" PRIu64
	       " ops, seed %" PRIu64 "\n",
	       a->prog, t->cycles, what, elapsed, elapsed > 0 ? 60.0 * (double)t->cycles / elapsed : 0.0,
	       t->ops, a->seed);
	printf("%s: %" PRIu64 " lost, %" PRIu64 " torn", a->prog, t->lost, t->torn);
	if (t->inconsistent)
		printf(", %" PRIu64 " inconsistent (no prefix fits)", t->inconsistent);
	if (t->verify)
		printf(", %" PRIu64 " verify failures", t->verify);
	if (t->writer)
		printf(", %" PRIu64 " writer failures", t->writer);
	if (t->refused)
		printf(", %" PRIu64 " refused opens", t->refused);
	if (t->silent)
		printf(", %" PRIu64 " errors not reported to the writer", t->silent);
	printf("\n");
	if (t->known)
		printf("%s: and %" PRIu64 " failures of known bugs (reproduced by skipped unit tests; "
		       "--strict counts them)\n",
		       a->prog, t->known);
	fflush(stdout);
	return failures(t) != 0 || (a->strict && t->known) ? 1 : 0;
}

int hx_loop(const struct hx_args *a, bool (*cycle)(void *ctx, uint64_t c), void *ctx,
	    const struct hx_tally *t, const char *dir, const char *what)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("%s: seed %" PRIu64 ", in %s\n", a->prog, a->seed, dir);
	double start = hx_now();
	bool ok = true;
	for (uint64_t c = 0; a->cycles == 0 || c < a->cycles; c++) {
		if (a->seconds > 0 && hx_now() - start >= a->seconds)
			break;
		if (!cycle(ctx, c)) {
			ok = false;
			fprintf(stderr,
				"%s: cycle %" PRIu64 " FAILED; replay: %s --seed %" PRIu64
				" --cycles %" PRIu64 "; its files are kept in %s\n",
				a->prog, c, a->prog, a->seed, c + 1, dir);
			if (!a->keep_going)
				break;
		}
	}
	int status = report(a, t, hx_now() - start, what);
	if (ok && a->dir == NULL) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "%s: could not remove %s\n", a->prog, dir);
	}
	return status;
}
