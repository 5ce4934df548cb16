/*
 * kvbench.h -- what kvbench.c (workloads, child processes, options) and
 * kv_report.c (tables, machine facts, JSON, plot data) share: the fair
 * settings, the workload table, the per-workload result a child sends its
 * parent, the run's options and the results collected so far. Everything
 * here lives in the parent, single-threaded, except struct result, which
 * children fill and send whole through a pipe.
 */
#ifndef KVBENCH_H
#define KVBENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kv_adapter.h"

#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)

/* The fair settings (kvbench.c's header comment says why each). */
#define FAIR_CACHE        (256 * MiB)
#define FAIR_WRITE_BUFFER (64 * MiB)
#define FAIR_BLOOM_BITS   10
#define FAIR_LMDB_MAP     (64 * GiB)

#define KEY_LEN       16
#define BATCH_OPS     1000 /* fillbatch: puts per write batch */
#define MAX_ENGINES   4
#define MAX_SIZES     8
#define KV_NWORKLOADS 12

enum status { ST_NOTRUN = 0, ST_OK, ST_FAILED };

/* One workload's figures: what a child sends the parent. Plain data. */
struct result {
	int pos;    /* index in the run's workload list */
	int status; /* enum status */
	uint64_t ops, found;
	uint64_t user_bytes;   /* key + value bytes moved by the measured ops */
	uint64_t user_written; /* key + value bytes written (incl. the writer thread) */
	double secs, settle_secs;
	double p50_us, p99_us, p999_us, max_us;
	uint64_t disk_bytes;   /* du of the database directory afterwards */
	uint64_t io_written;   /* /proc/self/io write_bytes, incl. settle */
	uint64_t io_cancelled; /* cancelled_write_bytes over the same span */
	int wamp_valid;
	uint64_t peak_rss_kb; /* ru_maxrss of the child so far */
	uint64_t writer_ops;  /* readwhilewriting: the writer thread */
	double writer_secs;
	char note[160];
	char error[384];
};

struct ctx; /* a child's state, private to kvbench.c */

struct workload {
	const char *name;
	int fresh;  /* starts from an empty database */
	int writes; /* settles afterwards; write amplification measured */
	int (*run)(struct ctx *c);
	const char *what; /* one line for the report */
};

/* In run order. */
extern const struct workload kv_workloads[KV_NWORKLOADS];

struct opts {
	uint64_t num; /* 0: per value size default */
	int quick;
	size_t sizes[MAX_SIZES];
	int nsizes;
	const struct kv_engine *engines[MAX_ENGINES];
	int nengines;
	int wl[KV_NWORKLOADS]; /* indexes into kv_workloads */
	int nwl;
	const char *dir;
	const char *json;
	const char *plot;
	int timeout;
	int dd;
	int keep;
	uint64_t sync_ops;
	uint64_t stream_mib; /* the stream step's value; 0: no stream step */
};

/* kv_results[size][engine][position in the workload list]; ST_NOTRUN
 * until a child reports. kv_nums[size] is N for that value size. */
extern struct result kv_results[MAX_SIZES][MAX_ENGINES][KV_NWORKLOADS];
extern uint64_t kv_nums[MAX_SIZES];

/* One run of the stream step (kv_stream.c): what its child sends. */
#define STREAM_RUNS 3

struct stream_result {
	int status; /* enum status */
	uint64_t bytes;
	double secs;        /* begin to commit returned */
	double write_secs;  /* begin and every write */
	double commit_secs; /* commit, synced */
	uint64_t rss_before_kb, peak_rss_kb;
	char error[384];
};

extern struct stream_result kv_stream[STREAM_RUNS];

/* Runs the stream step (o->stream_mib MiB, STREAM_RUNS children) into
 * kv_stream, printing a progress line per run. */
void stream_measure(const struct opts *o);

/* Children send one fixed-size result struct at a time through a pipe
 * (kvbench.c). child_send writes all of it or _exits 3. child_receive
 * reads one into buf, waiting at most timeout_s for each piece and
 * killing pid if it stays silent (*timed_out set); it returns the bytes
 * read, len when the result is whole. child_failure says why a child
 * sent nothing whole, from its waitpid status. */
void child_send(int fd, const void *p, size_t n);
size_t child_receive(int fd, pid_t pid, void *buf, size_t len, int timeout_s, int *timed_out);
void child_failure(char *msg, size_t n, int timed_out, int status, int timeout_s);

/* Removes dir and everything below it (kvbench.c). */
void kv_rm_rf(const char *dir);

/* The facts about the machine that the report ends with. */
struct machine {
	long nproc;
	char cpu[128];
	uint64_t mem_bytes;
	char fs[64];
	char mount[4096];
	char device[256];
	char disk[384];
	char dd[384];
	double dd_mb_s;
};

/* kv_report.c: everything goes to stdout except the two files. */
double report_ops_per_sec(const struct result *r);
void report_settings(const struct opts *o);
void report_progress(const struct opts *o, int si, int ei, const struct result *r);
void report_table(const struct opts *o, int si);
/* Fills *m; runs dd on o->dir unless o->dd is 0. */
void report_gather_machine(struct machine *m, const struct opts *o);
void report_machine(const struct machine *m, const struct opts *o);
void report_stream_progress(const struct opts *o, int run, const struct stream_result *r);
/* The stream step's table, against m's dd; nothing when it did not run. */
void report_stream(const struct opts *o, const struct machine *m);
/* Each returns 0, or -1 after saying on stderr what failed. */
int report_json(const struct opts *o, const struct machine *m);
int report_plot_data(const struct opts *o);

#endif /* KVBENCH_H */
