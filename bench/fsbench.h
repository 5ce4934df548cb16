/*
 * fsbench.h -- what fsbench.c (mounts, steps, options) and fs_report.c
 * (progress lines, the table, machine facts, JSON, plot data) share: sizes,
 * the targets, the step table, one step's result and the run's options.
 * Single-threaded; everything lives in the one fsbench process.
 */
#ifndef FSBENCH_H
#define FSBENCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define MiB        ((uint64_t)1 << 20)
#define GiB        ((uint64_t)1 << 30)
#define SMALL_SIZE 4096u
#define BLOCK      (1u << 20) /* large-file I/O size */
#define NDIRS      100        /* create-100dirs */
#define FS_NSTEPS  16

enum target { T_WOMBAT, T_NATIVE, T_BINDFS, NTARGETS };
extern const char *const fs_targets[NTARGETS]; /* "wombat", "native", "bindfs" */

enum status { ST_NOTRUN = 0, ST_OK, ST_FAILED, ST_SKIPPED };

struct opts {
	int quick;
	const char *dir, *json, *plot, *wombatfs, *wombat_opts, *tree;
	const char *steps; /* --steps, NULL for all */
	uint64_t files, big_mib, ls_entries, rename_files;
	uint64_t work_mib, work_ops, sqlite_txns; /* the real-work steps: B, W, S */
	int timeout;
	int dd;
	int keep;
	int on[NTARGETS];
	/* Facts of the run, set in main. */
	uint64_t tree_files, tree_bytes; /* TREE: files (any type), bytes of regular files */
	uint64_t big_bytes;              /* the large file as written (after any fallback) */
	int can_drop_caches;
	char load_start[64]; /* /proc/loadavg before the first step */
	char commit[128];    /* the source tree's HEAD then (not necessarily the daemon's) */
};

/* One step's figures on one target. */
struct result {
	int status;     /* enum status */
	uint64_t ops;   /* files, entries or blocks handled */
	uint64_t bytes; /* file bytes moved */
	double secs;
	char note[200];
	char error[300];
};

struct target_state; /* a target's mount, private to fsbench.c */

/* A step's state. */
struct ctx {
	const struct opts *o;
	struct target_state *ts;
	struct result *r;
	uint64_t big_bytes;  /* the large file's size this run */
	unsigned char *data; /* BLOCK + SMALL_SIZE incompressible bytes */
	char errfile[PATH_MAX];
};

struct step {
	const char *name;
	const char *unit;           /* what report_rate counts per second */
	int first;                  /* starts a group: fresh directory or mount */
	int cold;                   /* after prep: remount FUSE targets, drop caches */
	int (*prep)(struct ctx *c); /* untimed, NULL when none */
	int (*run)(struct ctx *c);  /* timed; 0, or -1 with the result marked failed */
	int (*check)(struct ctx *c); /* untimed, after run; NULL when none */
	const char *what;           /* one line for the report */
};

/* In run order. */
extern const struct step fs_steps[FS_NSTEPS];
/* fs_results[step][target]; ST_NOTRUN where not run. */
extern struct result fs_results[FS_NSTEPS][NTARGETS];

/* ---- fsbench.c ---- */
/* snprintf for messages and paths, which may be cut short on purpose. */
__attribute__((format(printf, 3, 4))) void fs_strfmt(char *b, size_t n, const char *fmt, ...);
void fs_chomp(char *s);
/* sync, then echo 3 > /proc/sys/vm/drop_caches. 0, or -1 when not allowed. */
int fs_drop_caches(void);
/* Marks the step failed with the message; returns -1. */
__attribute__((format(printf, 2, 3))) int fs_fail(struct ctx *c, const char *fmt, ...);
/* rel under the target's mount (or native directory). */
void fs_path(char *p, size_t n, struct ctx *c, const char *rel);
/* The last non-empty line of a file, for error messages. */
void fs_last_line(const char *path, char *out, size_t n);
/* Runs argv in dir (NULL: here) with stdin from in (NULL: /dev/null),
 * stdout to out_fd (-1: /dev/null) and stderr to errfile (NULL: /dev/null).
 * Returns the exit status, 128+signal, or -1 when it could not start. */
int fs_run(char *const argv[], const char *dir, const char *in, int out_fd, const char *errfile);
/* Reads TREE (and its tarball) into the page cache, untimed. */
int prep_tree(struct ctx *c);

/* ---- fs_work.c: the real-work steps ---- */
int fs_work_prep_big(struct ctx *c);
int fs_work_append(struct ctx *c);
int fs_work_check_append(struct ctx *c);
int fs_work_pwrite_fsync(struct ctx *c);
int fs_work_check_pwrite(struct ctx *c);
int fs_work_prep_sqlite(struct ctx *c);
int fs_work_sqlite(struct ctx *c);
int fs_work_check_sqlite(struct ctx *c);
int fs_work_prep_git(struct ctx *c);
int fs_work_git(struct ctx *c);
int fs_work_rsync(struct ctx *c);

/* ---- fs_report.c ---- */
struct machine {
	long nproc;
	char cpu[128], kernel[128];
	uint64_t mem;
	char fs[64], device[256], mount[4096], mount_opts[256], disk[256];
	char load_end[64]; /* /proc/loadavg after the last step */
	char dd_write[160], dd_read[160];
	double dd_write_mb, dd_read_mb;
	char wombatfs_v[128], bindfs_v[128];
};

/* ops/s, or MB/s for steps whose unit is MB/s; 0 unless the result is OK. */
double report_rate(int step, const struct result *r);
void report_progress(int step, int target, const struct result *r);
void report_settings(const struct opts *o);
/* What can change while the steps run: the tree's HEAD, the load average. */
void report_gather_start(struct opts *o);
/* Runs dd on o->dir's disk (unless o->dd is 0) and reads the rest. */
void report_gather_machine(struct machine *m, const struct opts *o);
void report_table(const struct opts *o, const struct machine *m);
/* 0, or -1 (said on stderr) when the file cannot be written. */
int report_json(const struct opts *o, const struct machine *m);
int report_plot_data(const struct opts *o);

#endif /* FSBENCH_H */
