/*
 * fs_report.c -- fsbench's output: the settings it ran with, a progress line
 * per result, the table (rate per target, Wombat's ratio to native and to
 * bindfs, seconds, the targets met or not), the machine's facts (CPU,
 * memory, kernel, filesystem and disk of --dir, dd of its write and read
 * bandwidth, the wombatfs and bindfs versions), the JSON file with every
 * number and gnuplot's data file (fs_plot.gp). Called from fsbench.c's main.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench_json.h"
#include "fsbench.h"

double report_rate(int s, const struct result *r)
{
	if (r->status != ST_OK || r->secs <= 0)
		return 0;
	if (strcmp(fs_steps[s].unit, "MB/s") == 0)
		return (double)r->bytes / 1e6 / r->secs;
	return (double)r->ops / r->secs;
}

static void fmt_rate(char *b, size_t n, double v)
{
	if (v >= 1e6)
		fs_strfmt(b, n, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		fs_strfmt(b, n, "%.1fk", v / 1e3);
	else if (v >= 100)
		fs_strfmt(b, n, "%.0f", v);
	else
		fs_strfmt(b, n, "%.1f", v);
}

void report_progress(int s, int t, const struct result *r)
{
	printf("  %-8s %-15s ", fs_targets[t], fs_steps[s].name);
	if (r->status == ST_FAILED)
		printf("FAILED: %s\n", r->error);
	else if (r->status == ST_SKIPPED)
		printf("skipped: %s\n", r->error);
	else {
		char b[32];
		fmt_rate(b, sizeof(b), report_rate(s, r));
		printf("%9s %-9s %8.3f s", b, fs_steps[s].unit, r->secs);
		if (r->note[0])
			printf("  NOTE: %s", r->note);
		printf("\n");
	}
	fflush(stdout);
}

/* ---- Machine facts ---- */

static int read_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	char *ok = fgets(buf, (int)n, f);
	fclose(f);
	if (ok == NULL)
		return -1;
	fs_chomp(buf);
	return 0;
}

static void describe_disk(const char *device, char *out, size_t n)
{
	const char *base = strrchr(device, '/');
	base = base ? base + 1 : device;
	char sys[PATH_MAX], real[PATH_MAX], path[PATH_MAX + 32];
	fs_strfmt(sys, sizeof(sys), "/sys/class/block/%s", base);
	if (realpath(sys, real) == NULL) {
		fs_strfmt(out, n, "%s (no /sys/class/block entry)", device);
		return;
	}
	fs_strfmt(path, sizeof(path), "%s/partition", real);
	if (access(path, F_OK) == 0)
		*strrchr(real, '/') = 0;
	char model[128] = "", rot[8] = "?", size[32] = "0";
	fs_strfmt(path, sizeof(path), "%s/device/model", real);
	read_line(path, model, sizeof(model));
	fs_strfmt(path, sizeof(path), "%s/queue/rotational", real);
	read_line(path, rot, sizeof(rot));
	fs_strfmt(path, sizeof(path), "%s/size", real);
	read_line(path, size, sizeof(size));
	fs_strfmt(out, n, "%s: %s, %.0f GiB, rotational=%s", strrchr(real, '/') + 1,
	          model[0] ? model : "unknown model", strtod(size, NULL) * 512 / GiB, rot);
}

/* Runs dd, returns its rate in MB/s and its summary in out (0 on failure). */
static double dd_rate(const char *args, char *out, size_t n)
{
	char cmd[PATH_MAX * 2 + 64], line[256], last[256] = "";
	fs_strfmt(cmd, sizeof(cmd), "dd %s 2>&1", args);
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return 0;
	while (fgets(line, sizeof(line), p))
		fs_strfmt(last, sizeof(last), "%s", line);
	int st = pclose(p);
	fs_chomp(last);
	const char *r = strrchr(last, ',');
	if (st != 0 || r == NULL) {
		fs_strfmt(out, n, "dd failed: %s", last);
		return 0;
	}
	while (*++r == ' ') {
	}
	double v = strtod(r, NULL);
	v *= strstr(r, "GB/s") ? 1000 : strstr(r, "kB/s") ? 0.001 : 1;
	fs_strfmt(out, n, "%s", r);
	return v;
}

/* dd's sequential write then read of 1 MiB blocks on --dir's disk, direct
 * I/O (buffered + fdatasync / after drop_caches where O_DIRECT is refused). */
static void measure_dd(struct machine *m, const struct opts *o)
{
	int count = o->quick ? 256 : 1024;
	char file[PATH_MAX], args[PATH_MAX + 128], r[128];
	fs_strfmt(file, sizeof(file), "%s/ddtest", o->dir);
	fs_strfmt(args, sizeof(args), "if=/dev/zero of='%s' bs=1M count=%d oflag=direct", file,
	          count);
	const char *how = "oflag=direct";
	m->dd_write_mb = dd_rate(args, r, sizeof(r));
	if (m->dd_write_mb == 0) {
		fs_strfmt(args, sizeof(args), "if=/dev/zero of='%s' bs=1M count=%d conv=fdatasync",
		          file, count);
		how = "conv=fdatasync";
		m->dd_write_mb = dd_rate(args, r, sizeof(r));
	}
	fs_strfmt(m->dd_write, sizeof(m->dd_write), "%s (bs=1M count=%d %s)", r, count, how);
	fs_strfmt(args, sizeof(args), "if='%s' of=/dev/null bs=1M iflag=direct", file);
	how = "iflag=direct";
	m->dd_read_mb = dd_rate(args, r, sizeof(r));
	if (m->dd_read_mb == 0) {
		fs_drop_caches();
		fs_strfmt(args, sizeof(args), "if='%s' of=/dev/null bs=1M", file);
		how = "after drop_caches";
		m->dd_read_mb = dd_rate(args, r, sizeof(r));
	}
	fs_strfmt(m->dd_read, sizeof(m->dd_read), "%s (bs=1M count=%d %s)", r, count, how);
	unlink(file);
}

static void first_line_of(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");
	out[0] = 0;
	if (p == NULL)
		return;
	if (fgets(out, (int)n, p) == NULL)
		out[0] = 0;
	while (fgetc(p) != EOF) {
	}
	pclose(p);
	fs_chomp(out);
}

void report_gather_start(struct opts *o)
{
	first_line_of("echo $(git rev-parse --short HEAD 2>/dev/null)$(git status --porcelain "
	              "fusefs engine 2>/dev/null | grep -q . && echo ' + uncommitted changes in "
	              "fusefs/ or engine/')",
	              o->commit, sizeof(o->commit));
	read_line("/proc/loadavg", o->load_start, sizeof(o->load_start));
}

void report_gather_machine(struct machine *m, const struct opts *o)
{
	memset(m, 0, sizeof(*m));
	m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
	read_line("/proc/loadavg", m->load_end, sizeof(m->load_end));
	first_line_of("grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'", m->cpu,
	              sizeof(m->cpu));
	m->mem = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	struct utsname u;
	if (uname(&u) == 0)
		fs_strfmt(m->kernel, sizeof(m->kernel), "%s %s", u.sysname, u.release);
	char real[PATH_MAX], line[PATH_MAX + 512];
	if (realpath(o->dir, real) == NULL)
		fs_strfmt(real, sizeof(real), "%s", o->dir);
	FILE *f = fopen("/proc/self/mounts", "r");
	size_t best = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char dev[256], mnt[PATH_MAX], type[64], mopts[256];
		if (sscanf(line, "%255s %4095s %63s %255s", dev, mnt, type, mopts) != 4)
			continue;
		size_t l = strlen(mnt);
		if (strncmp(real, mnt, l) == 0 && (real[l] == '/' || real[l] == 0 || l == 1) &&
		    l >= best) {
			best = l;
			fs_strfmt(m->mount, sizeof(m->mount), "%s", mnt);
			fs_strfmt(m->fs, sizeof(m->fs), "%s", type);
			fs_strfmt(m->device, sizeof(m->device), "%s", dev);
			fs_strfmt(m->mount_opts, sizeof(m->mount_opts), "%s", mopts);
		}
	}
	if (f)
		fclose(f);
	if (m->device[0] == '/')
		describe_disk(m->device, m->disk, sizeof(m->disk));
	else
		fs_strfmt(m->disk, sizeof(m->disk), "%s (not a block device)", m->device);
	if (o->dd)
		measure_dd(m, o);
	else
		fs_strfmt(m->dd_write, sizeof(m->dd_write), "skipped (--no-dd)");
	char cmd[PATH_MAX + 32];
	fs_strfmt(cmd, sizeof(cmd), "'%s' --version 2>&1", o->wombatfs);
	first_line_of(cmd, m->wombatfs_v, sizeof(m->wombatfs_v));
	first_line_of("bindfs --version 2>&1", m->bindfs_v, sizeof(m->bindfs_v));
}

/* ---- Report ---- */

static int any_run(int s)
{
	for (int t = 0; t < NTARGETS; t++)
		if (fs_results[s][t].status != ST_NOTRUN)
			return 1;
	return 0;
}

static double ratio(int s, int peer)
{
	double w = report_rate(s, &fs_results[s][T_WOMBAT]),
	       p = report_rate(s, &fs_results[s][peer]);
	return w > 0 && p > 0 ? w / p : NAN;
}

/* The targets: step, peer, the ratio Wombat must reach. */
static const struct {
	const char *step;
	int peer;
	double want;
} GOALS[] = {
    {"create-1dir", T_BINDFS, 3.0},  {"create-100dirs", T_BINDFS, 3.0},
    {"seqwrite", T_BINDFS, 1.0},     {"append-log", T_NATIVE, 0.5},
    {"append-log", T_BINDFS, 3.0},   {"pwrite-fsync", T_NATIVE, 0.5},
    {"pwrite-fsync", T_BINDFS, 3.0}, {"sqlite-txn", T_NATIVE, 0.5},
    {"sqlite-txn", T_BINDFS, 3.0},   {"git-commit", T_NATIVE, 0.5},
    {"git-commit", T_BINDFS, 3.0},   {"rsync-a", T_NATIVE, 0.5},
    {"rsync-a", T_BINDFS, 3.0}};

static const char *goal_text(int s, char *b, size_t n)
{
	b[0] = 0;
	size_t used = 0;
	for (size_t g = 0; g < sizeof(GOALS) / sizeof(GOALS[0]) && used < n; g++)
		if (strcmp(GOALS[g].step, fs_steps[s].name) == 0) {
			double r = ratio(s, GOALS[g].peer);
			fs_strfmt(b + used, n - used, "%s>=%gx %s: %s", used ? "; " : "", GOALS[g].want,
			          fs_targets[GOALS[g].peer],
			          isnan(r)             ? "n/a"
			          : r >= GOALS[g].want ? "met"
			                               : "NOT MET");
			used += strlen(b + used);
		}
	return b;
}

void report_settings(const struct opts *o)
{
	printf("fsbench: the same file workloads on a wombatfs mount, a native directory and\n"
	       "bindfs over a native directory, all on the filesystem of %s\n",
	       o->dir);
	printf("  wombat   %s DB MNT -f -o create%s%s (default sync is interval)\n", o->wombatfs,
	       o->wombat_opts[0] ? "," : "", o->wombat_opts);
	printf("  native   a directory\n  bindfs   bindfs -f SRC MNT (its defaults)\n");
	printf("  every group starts fresh; cold = FUSE targets remounted, then sync and\n"
	       "  drop_caches for all%s; sync(2) before each timed step; no fsync in\n"
	       "  any step; writes are timed to close(2)\n",
	       o->can_drop_caches ? "" : " (NOT POSSIBLE here: not root, caches kept)");
	printf("  N = %" PRIu64 " small files of 4 KiB, large file %" PRIu64 " MiB, L = %" PRIu64
	       " entries, R = %" PRIu64 " files,\n  TREE = %s (%" PRIu64 " files, %.1f MB),\n"
	       "  B = %" PRIu64 " MiB, W = %" PRIu64 ", S = %" PRIu64
	       "; the real-work steps fsync where their programs do\n",
	       o->files, o->big_mib, o->ls_entries, o->rename_files, o->tree, o->tree_files,
	       (double)o->tree_bytes / 1e6, o->work_mib, o->work_ops, o->sqlite_txns);
	printf("steps:\n");
	for (int s = 0; s < FS_NSTEPS; s++)
		printf("  %-15s %s\n", fs_steps[s].name, fs_steps[s].what);
	printf("\n");
}

void report_table(const struct opts *o, const struct machine *m)
{
	printf("\n== fsbench%s: N = %" PRIu64 ", large file %" PRIu64 " MiB, ls %" PRIu64
	       ", rename %" PRIu64 ", tree %s ==\n",
	       o->quick ? " (QUICK)" : "", o->files, o->big_bytes / MiB, o->ls_entries,
	       o->rename_files, o->tree);
	printf("%-15s %-9s %9s %9s %9s | %7s %7s | %8s %8s %8s | %s\n", "step", "unit", "wombat",
	       "native", "bindfs", "w/nat", "w/bind", "s wombat", "s native", "s bindfs", "target");
	for (int s = 0; s < FS_NSTEPS; s++) {
		if (!any_run(s))
			continue;
		printf("%-15s %-9s", fs_steps[s].name, fs_steps[s].unit);
		for (int t = 0; t < NTARGETS; t++) {
			const struct result *r = &fs_results[s][t];
			char b[32] = "-";
			if (r->status == ST_OK)
				fmt_rate(b, sizeof(b), report_rate(s, r));
			else if (r->status == ST_FAILED)
				fs_strfmt(b, sizeof(b), "FAIL");
			printf(" %9s", b);
		}
		printf(" |");
		for (int peer = T_NATIVE; peer <= T_BINDFS; peer++) {
			double q = ratio(s, peer);
			char b[32] = "-";
			if (!isnan(q))
				fs_strfmt(b, sizeof(b), q >= 0.01 ? "%.2fx" : "%.4fx", q);
			printf(" %7s", b);
		}
		printf(" |");
		for (int t = 0; t < NTARGETS; t++) {
			const struct result *r = &fs_results[s][t];
			char b[32] = "-";
			if (r->status == ST_OK)
				fs_strfmt(b, sizeof(b), "%.3f", r->secs);
			printf(" %8s", b);
		}
		char g[128];
		printf(" | %s\n", goal_text(s, g, sizeof(g)));
	}
	for (int s = 0; s < FS_NSTEPS; s++)
		for (int t = 0; t < NTARGETS; t++) {
			const struct result *r = &fs_results[s][t];
			if (r->status == ST_FAILED)
				printf("FAILED %s %s: %s\n", fs_targets[t], fs_steps[s].name,
				       r->error);
			if (r->note[0])
				printf("NOTE   %s %s: %s\n", fs_targets[t], fs_steps[s].name,
				       r->note);
		}
	printf("\nmachine:\n");
	printf("  nproc        %ld\n  cpu          %s\n  memory       %.1f GiB\n", m->nproc, m->cpu,
	       (double)m->mem / GiB);
	printf("  kernel       %s\n", m->kernel);
	struct statvfs sv;
	double free_gib = statvfs(o->dir, &sv) == 0 ? (double)sv.f_bavail * sv.f_frsize / GiB : 0;
	printf("  --dir        %s: %s on %s (mounted at %s, %.0f GiB free)\n", o->dir, m->fs,
	       m->device, m->mount, free_gib);
	printf("  mount opts   %s\n", m->mount_opts);
	printf("  disk         %s\n", m->disk);
	printf("  loadavg      %s before the steps, %s after (other processes share the "
	       "machine when these are above 0)\n",
	       o->load_start, m->load_end);
	printf("  dd write     %s\n", m->dd_write);
	if (o->dd)
		printf("  dd read      %s\n", m->dd_read);
	printf("  wombatfs     %s, %s; tree at start: %s\n", m->wombatfs_v, o->wombatfs, o->commit);
	printf("  bindfs       %s\n", m->bindfs_v);
}

int report_json(const struct opts *o, const struct machine *m)
{
	FILE *f = fopen(o->json, "w");
	if (f == NULL) {
		fprintf(stderr, "fsbench: %s: %s\n", o->json, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n\"machine\": {\"nproc\": %ld, \"cpu\": ", m->nproc);
	json_str(f, m->cpu);
	fprintf(f, ", \"memory_bytes\": %" PRIu64 ", \"kernel\": ", m->mem);
	json_str(f, m->kernel);
	fprintf(f, ", \"dir\": ");
	json_str(f, o->dir);
	fprintf(f, ", \"filesystem\": ");
	json_str(f, m->fs);
	fprintf(f, ", \"device\": ");
	json_str(f, m->device);
	fprintf(f, ", \"mount_options\": ");
	json_str(f, m->mount_opts);
	fprintf(f, ", \"loadavg_before\": ");
	json_str(f, o->load_start);
	fprintf(f, ", \"loadavg_after\": ");
	json_str(f, m->load_end);
	fprintf(f, ", \"disk\": ");
	json_str(f, m->disk);
	fprintf(f, ", \"dd_write\": ");
	json_str(f, m->dd_write);
	fprintf(f, ", \"dd_write_mb_per_sec\": ");
	json_num(f, m->dd_write_mb);
	fprintf(f, ", \"dd_read\": ");
	json_str(f, m->dd_read);
	fprintf(f, ", \"dd_read_mb_per_sec\": ");
	json_num(f, m->dd_read_mb);
	fprintf(f, ", \"commit\": ");
	json_str(f, o->commit);
	fprintf(f, ", \"wombatfs\": ");
	json_str(f, m->wombatfs_v);
	fprintf(f, ", \"bindfs\": ");
	json_str(f, m->bindfs_v);
	fprintf(f,
	        "},\n\"settings\": {\"quick\": %s, \"small_files\": %" PRIu64
	        ", \"small_file_bytes\": %u, \"dirs\": %d, \"large_file_bytes_asked\": %" PRIu64
	        ", \"large_file_bytes\": %" PRIu64 ", \"block_bytes\": %u"
	        ", \"ls_entries\": %" PRIu64 ", \"rename_files\": %" PRIu64 ", \"tree\": ",
	        o->quick ? "true" : "false", o->files, SMALL_SIZE, NDIRS, o->big_mib * MiB,
	        o->big_bytes, BLOCK, o->ls_entries, o->rename_files);
	json_str(f, o->tree);
	fprintf(
	    f, ", \"tree_files\": %" PRIu64 ", \"tree_bytes\": %" PRIu64 ", \"wombatfs_options\": ",
	    o->tree_files, o->tree_bytes);
	char wo[600];
	fs_strfmt(wo, sizeof(wo), "create%s%s", o->wombat_opts[0] ? "," : "", o->wombat_opts);
	json_str(f, wo);
	fprintf(f, ", \"caches_dropped\": %s, \"fsync\": false},\n\"results\": [\n",
	        o->can_drop_caches ? "true" : "false");
	int first = 1;
	for (int s = 0; s < FS_NSTEPS; s++)
		for (int t = 0; t < NTARGETS; t++) {
			const struct result *r = &fs_results[s][t];
			if (r->status == ST_NOTRUN)
				continue;
			static const char *const sn[] = {"notrun", "ok", "failed", "skipped"};
			fprintf(f,
			        "%s{\"step\": \"%s\", \"target\": \"%s\", \"status\": \"%s\", "
			        "\"unit\": \"%s\", \"rate\": ",
			        first ? "" : ",\n", fs_steps[s].name, fs_targets[t], sn[r->status],
			        fs_steps[s].unit);
			first = 0;
			json_num(f, r->status == ST_OK ? report_rate(s, r) : NAN);
			fprintf(f, ", \"seconds\": ");
			json_num(f, r->status == ST_OK ? r->secs : NAN);
			fprintf(f, ", \"ops\": %" PRIu64 ", \"bytes\": %" PRIu64, r->ops, r->bytes);
			if (t == T_WOMBAT) {
				fprintf(f, ", \"ratio_native\": ");
				json_num(f, ratio(s, T_NATIVE));
				fprintf(f, ", \"ratio_bindfs\": ");
				json_num(f, ratio(s, T_BINDFS));
				char g[128];
				fprintf(f, ", \"target\": ");
				json_str(f, goal_text(s, g, sizeof(g)));
			}
			fprintf(f, ", \"note\": ");
			json_str(f, r->note);
			fprintf(f, ", \"error\": ");
			json_str(f, r->error);
			fprintf(f, "}");
		}
	fprintf(f, "\n]\n}\n");
	return fclose(f) == 0 ? 0 : -1;
}

/* Rates relative to native, one row per step (gnuplot's columnhead reads
 * the first data line). */
int report_plot_data(const struct opts *o)
{
	FILE *f = fopen(o->plot, "w");
	if (f == NULL) {
		fprintf(stderr, "fsbench: %s: %s\n", o->plot, strerror(errno));
		return -1;
	}
	fprintf(f, "# fsbench%s: rate relative to native (native = 1)\nstep",
	        o->quick ? " QUICK" : "");
	for (int t = 0; t < NTARGETS; t++)
		fprintf(f, " %s", fs_targets[t]);
	fprintf(f, "\n");
	for (int s = 0; s < FS_NSTEPS; s++) {
		if (!any_run(s))
			continue;
		fprintf(f, "%s", fs_steps[s].name);
		double base = report_rate(s, &fs_results[s][T_NATIVE]);
		for (int t = 0; t < NTARGETS; t++) {
			double v = report_rate(s, &fs_results[s][t]);
			if (v > 0 && base > 0)
				fprintf(f, " %.6g", v / base);
			else
				fprintf(f, " NaN");
		}
		fprintf(f, "\n");
	}
	return fclose(f) == 0 ? 0 : -1;
}
