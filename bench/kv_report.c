/*
 * kv_report.c -- kvbench's output: the settings it ran with, a progress
 * line per workload as results arrive, a table per value size (ops/s per
 * engine, Wombat's ratio to each peer, p99 latency; then disk use, write
 * amplification, peak RSS and every failure), the machine's facts (CPU,
 * memory, filesystem and disk of --dir, a dd of its write bandwidth), the
 * stream step's table (kv_stream.c) against that dd, the
 * JSON file with every number and gnuplot's data file. Parent process only.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bench_json.h"
#include "kvbench.h"

double report_ops_per_sec(const struct result *r)
{
	return r->secs > 0 ? (double)r->ops / r->secs : 0;
}

static void fmt_rate(char *b, size_t n, double v)
{
	if (v >= 1e6)
		snprintf(b, n, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(b, n, "%.1fk", v / 1e3);
	else
		snprintf(b, n, "%.0f", v);
}

static void fmt_us(char *b, size_t n, double us)
{
	if (us >= 10000)
		snprintf(b, n, "%.0fms", us / 1000);
	else if (us >= 100)
		snprintf(b, n, "%.0f", us);
	else
		snprintf(b, n, "%.1f", us);
}

void report_progress(const struct opts *o, int si, int ei, const struct result *r)
{
	const char *wname = kv_workloads[o->wl[r->pos]].name;
	printf("  %6zu B %-8s %-17s ", o->sizes[si], o->engines[ei]->name, wname);
	if (r->status != ST_OK) {
		printf("FAILED: %s\n", r->error);
	} else {
		char rate[32];
		fmt_rate(rate, sizeof(rate), report_ops_per_sec(r));
		double mb = r->secs > 0 ? (double)r->user_bytes / 1e6 / r->secs : 0;
		printf("%9s ops/s %7.1f MB/s  p99 %8.1f us  %6.1f s", rate, mb, r->p99_us, r->secs);
		if (r->writer_secs > 0) {
			fmt_rate(rate, sizeof(rate), (double)r->writer_ops / r->writer_secs);
			printf("  writer %s ops/s", rate);
		}
		if (r->settle_secs >= 0.05)
			printf(" (+%.1f s settle)", r->settle_secs);
		if (r->note[0])
			printf("  NOTE: %s", r->note);
		printf("\n");
	}
	fflush(stdout);
}

static double stream_mb_s(const struct stream_result *r)
{
	return r->secs > 0 ? (double)r->bytes / 1e6 / r->secs : 0;
}

/* RSS growth in KiB: the peak over the RSS before begin. */
static uint64_t stream_growth_kb(const struct stream_result *r)
{
	return r->peak_rss_kb > r->rss_before_kb ? r->peak_rss_kb - r->rss_before_kb : 0;
}

void report_stream_progress(const struct opts *o, int run, const struct stream_result *r)
{
	printf("  stream run %d %6" PRIu64 " MiB ", run + 1, o->stream_mib);
	if (r->status != ST_OK)
		printf("FAILED: %s\n", r->error);
	else
		printf("%7.1f MB/s  %6.2f s (write %.2f s, commit %.2f s)  RSS +%.1f MiB\n",
		       stream_mb_s(r), r->secs, r->write_secs, r->commit_secs,
		       (double)stream_growth_kb(r) / 1024);
	fflush(stdout);
}

/* The run with the median MB/s among the successful ones; NULL if none. */
static const struct stream_result *stream_median(void)
{
	const struct stream_result *ok[STREAM_RUNS];
	int n = 0;
	for (int i = 0; i < STREAM_RUNS; i++)
		if (kv_stream[i].status == ST_OK)
			ok[n++] = &kv_stream[i];
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && stream_mb_s(ok[j]) < stream_mb_s(ok[j - 1]); j--) {
			const struct stream_result *t = ok[j];
			ok[j] = ok[j - 1];
			ok[j - 1] = t;
		}
	return n ? ok[(n - 1) / 2] : NULL;
}

static void fmt_pct(char *b, size_t n, double mb_s, double dd)
{
	if (dd > 0)
		snprintf(b, n, "%.0f%%", 100 * mb_s / dd);
	else
		snprintf(b, n, "-");
}

void report_stream(const struct opts *o, const struct machine *m)
{
	if (o->stream_mib == 0)
		return;
	printf("\n== stream: one %" PRIu64 " MiB value through wb_writer, commit synced; "
	       "%% of the dd above ==\n",
	       o->stream_mib);
	printf("%-8s %9s %8s %8s %9s %12s\n", "run", "MB/s", "% of dd", "write s", "commit s",
	       "RSS +MiB");
	uint64_t growth = 0;
	for (int i = 0; i < STREAM_RUNS; i++) {
		const struct stream_result *r = &kv_stream[i];
		if (r->status != ST_OK) {
			printf("%-8d FAILED: %s\n", i + 1, r->error);
			continue;
		}
		char pct[16];
		fmt_pct(pct, sizeof(pct), stream_mb_s(r), m->dd_mb_s);
		printf("%-8d %9.1f %8s %8.2f %9.2f %12.1f\n", i + 1, stream_mb_s(r), pct,
		       r->write_secs, r->commit_secs, (double)stream_growth_kb(r) / 1024);
		if (stream_growth_kb(r) > growth)
			growth = stream_growth_kb(r);
	}
	const struct stream_result *med = stream_median();
	if (med != NULL) {
		char pct[16];
		fmt_pct(pct, sizeof(pct), stream_mb_s(med), m->dd_mb_s);
		printf("%-8s %9.1f %8s %8s %9s %12.1f (largest)\n", "median", stream_mb_s(med),
		       pct, "", "", (double)growth / 1024);
		printf("target (issue #4): >= 60%% of dd, RSS growth < 64 MiB\n");
	}
	fflush(stdout);
}

static void json_stream(FILE *f, const struct opts *o, const struct machine *m)
{
	fprintf(f, "\"stream\": {\"value_bytes\": %" PRIu64 ", \"runs\": [",
	        (uint64_t)(o->stream_mib * MiB));
	for (int i = 0; i < STREAM_RUNS; i++) {
		const struct stream_result *r = &kv_stream[i];
		fprintf(f, "%s{\"ok\": %s, \"seconds\": ", i ? ", " : "",
		        r->status == ST_OK ? "true" : "false");
		json_num(f, r->secs);
		fprintf(f, ", \"write_seconds\": ");
		json_num(f, r->write_secs);
		fprintf(f, ", \"commit_seconds\": ");
		json_num(f, r->commit_secs);
		fprintf(f, ", \"mb_per_sec\": ");
		json_num(f, stream_mb_s(r));
		fprintf(f, ", \"pct_of_dd\": ");
		if (m->dd_mb_s > 0 && r->status == ST_OK)
			json_num(f, 100 * stream_mb_s(r) / m->dd_mb_s);
		else
			fprintf(f, "null");
		fprintf(f,
		        ", \"rss_before_kb\": %" PRIu64 ", \"peak_rss_kb\": %" PRIu64
		        ", \"rss_growth_kb\": %" PRIu64 ", \"error\": ",
		        r->rss_before_kb, r->peak_rss_kb, stream_growth_kb(r));
		json_str(f, r->error);
		fprintf(f, "}");
	}
	const struct stream_result *med = stream_median();
	fprintf(f, "], \"median_mb_per_sec\": ");
	json_num(f, med ? stream_mb_s(med) : NAN);
	fprintf(f, ", \"median_pct_of_dd\": ");
	json_num(f, med && m->dd_mb_s > 0 ? 100 * stream_mb_s(med) / m->dd_mb_s : NAN);
	fprintf(f, "},\n");
}

void report_settings(const struct opts *o)
{
	printf("kvbench: same keys and values on every engine, one child process per "
	       "(engine, value size)\n");
	printf(
	    "fair settings:\n"
	    "  all      no compression; no write synced except in fillsync (every write synced)\n"
	    "  LSMs     bloom 10 bits/key, block cache 256 MiB, memtable/write buffer 64 MiB\n"
	    "  wombat   wb_options_init defaults (= the above), sync WB_SYNC_NONE\n"
	    "  rocksdb  defaults otherwise, max_background_jobs 2\n"
	    "  leveldb  defaults otherwise, write_buffer_size raised 4 -> 64 MiB\n"
	    "  lmdb     OS page cache, map 64 GiB, MDB_NOSYNC|MDB_NOMETASYNC, no WRITEMAP\n"
	    "  settle   after each writing workload, untimed: wombat wb_flush + wait while a\n"
	    "           level is due for compaction; rocksdb flush + wait for running/pending\n"
	    "           compactions (each <= 30 s); leveldb, lmdb nothing\n"
	    "  reads    wombat/rocksdb/leveldb get a malloc'd copy; lmdb a pointer into its map\n"
	    "measures: ops/s and MB/s (key+value bytes) of the timed ops; p99 of per-op latency\n"
	    "  (fillbatch: per batch); disk = du of the db after the workload (and settle);\n"
	    "  write-amp = /proc/self/io write_bytes (pages dirtied, incl. settle) / user bytes\n"
	    "  written; peak RSS = ru_maxrss, which counts mapped file pages: LMDB's map and\n"
	    "  LevelDB's mmap'd tables show up there, page cache the others use does not\n"
	    "keys 16 B (decimal of 2i; readmissing uses 2i+1), values random bytes\n");
	printf("workloads:\n");
	for (int i = 0; i < o->nwl; i++)
		printf("  %-17s %s\n", kv_workloads[o->wl[i]].name, kv_workloads[o->wl[i]].what);
	if (o->stream_mib)
		printf("stream step (wombat only): one %" PRIu64 " MiB value through "
		       "wb_writer_begin/write/commit\n"
		       "  from memory in 1 MiB writes, commit synced (WB_SYNC_ALWAYS); %d runs, each "
		       "in a fresh\n"
		       "  child and database; MB/s, %% of the dd bandwidth, RSS growth over begin\n",
		       o->stream_mib, STREAM_RUNS);
	printf("\n");
}

static int wombat_index(const struct opts *o)
{
	for (int e = 0; e < o->nengines; e++)
		if (o->engines[e] == &kv_wombat)
			return e;
	return -1;
}

void report_table(const struct opts *o, int si)
{
	int we = wombat_index(o);
	printf("\n== value %zu B, N = %" PRIu64 " (fillsync %" PRIu64 "), key 16 B ==\n",
	       o->sizes[si], kv_nums[si], o->sync_ops);
	printf("%-17s", "ops/s");
	for (int e = 0; e < o->nengines; e++)
		printf(" %9s", o->engines[e]->name);
	printf(" |");
	if (we >= 0)
		for (int e = 0; e < o->nengines; e++)
			if (e != we) {
				char h[16];
				snprintf(h, sizeof(h), "w/%s", o->engines[e]->abbr);
				printf(" %8s", h);
			}
	printf(" | p99 us:");
	for (int e = 0; e < o->nengines; e++)
		printf(" %7.7s", o->engines[e]->name);
	printf("\n");
	for (int w = 0; w < o->nwl; w++) {
		printf("%-17s", kv_workloads[o->wl[w]].name);
		for (int e = 0; e < o->nengines; e++) {
			const struct result *r = &kv_results[si][e][w];
			char b[32] = "FAIL";
			if (r->status == ST_OK)
				fmt_rate(b, sizeof(b), report_ops_per_sec(r));
			else if (r->status == ST_NOTRUN)
				snprintf(b, sizeof(b), "-");
			printf(" %9s", b);
		}
		printf(" |");
		if (we >= 0) {
			const struct result *rw = &kv_results[si][we][w];
			for (int e = 0; e < o->nengines; e++) {
				if (e == we)
					continue;
				const struct result *r = &kv_results[si][e][w];
				char b[32] = "-";
				if (rw->status == ST_OK && r->status == ST_OK &&
				    report_ops_per_sec(r) > 0)
					snprintf(b, sizeof(b), "%.2fx",
					         report_ops_per_sec(rw) / report_ops_per_sec(r));
				printf(" %8s", b);
			}
		}
		printf(" |        ");
		for (int e = 0; e < o->nengines; e++) {
			const struct result *r = &kv_results[si][e][w];
			char b[32] = "-";
			if (r->status == ST_OK)
				fmt_us(b, sizeof(b), r->p99_us);
			printf(" %7s", b);
		}
		printf("\n");
	}

	/* Space and memory, then every failure in full. */
	printf("%-17s", "disk MiB after");
	for (int e = 0; e < o->nengines; e++)
		printf(" %9s", o->engines[e]->name);
	printf(" | write-amp:");
	for (int e = 0; e < o->nengines; e++)
		printf(" %7.7s", o->engines[e]->name);
	printf("\n");
	for (int w = 0; w < o->nwl; w++) {
		if (!kv_workloads[o->wl[w]].writes)
			continue;
		printf("%-17s", kv_workloads[o->wl[w]].name);
		for (int e = 0; e < o->nengines; e++) {
			const struct result *r = &kv_results[si][e][w];
			char b[32] = "-";
			if (r->status != ST_NOTRUN && r->disk_bytes)
				snprintf(b, sizeof(b), "%.1f", (double)r->disk_bytes / MiB);
			printf(" %9s", b);
		}
		printf(" |           ");
		for (int e = 0; e < o->nengines; e++) {
			const struct result *r = &kv_results[si][e][w];
			char b[32] = "-";
			if (r->status == ST_OK && r->wamp_valid)
				snprintf(b, sizeof(b), "%.2f",
				         (double)r->io_written / (double)r->user_written);
			printf(" %7s", b);
		}
		printf("\n");
	}
	printf("%-17s", "peak RSS MiB");
	for (int e = 0; e < o->nengines; e++) {
		uint64_t peak = 0;
		for (int w = 0; w < o->nwl; w++)
			if (kv_results[si][e][w].peak_rss_kb > peak)
				peak = kv_results[si][e][w].peak_rss_kb;
		printf(" %9.0f", (double)peak / 1024);
	}
	printf("\n");
	for (int e = 0; e < o->nengines; e++)
		for (int w = 0; w < o->nwl; w++) {
			const struct result *r = &kv_results[si][e][w];
			if (r->status == ST_FAILED)
				printf("FAILED %s %s: %s\n", o->engines[e]->name,
				       kv_workloads[o->wl[w]].name, r->error);
			else if (r->note[0])
				printf("NOTE   %s %s: %s\n", o->engines[e]->name,
				       kv_workloads[o->wl[w]].name, r->note);
		}
	fflush(stdout);
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
}

static int read_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	char *ok = fgets(buf, (int)n, f);
	fclose(f);
	if (ok == NULL)
		return -1;
	chomp(buf);
	return 0;
}

/* The disk under a device node: name, driver, size, rotational flag. */
static void describe_disk(const char *device, char *out, size_t n)
{
	const char *base = strrchr(device, '/');
	base = base ? base + 1 : device;
	char sys[PATH_MAX], real[PATH_MAX], path[PATH_MAX + 32], v[128];
	snprintf(sys, sizeof(sys), "/sys/class/block/%s", base);
	if (realpath(sys, real) == NULL) {
		snprintf(out, n, "%s (no /sys/class/block entry)", device);
		return;
	}
	snprintf(path, sizeof(path), "%s/partition", real);
	if (access(path, F_OK) == 0)
		*strrchr(real, '/') = 0; /* a partition: describe its disk */
	const char *disk = strrchr(real, '/') + 1;
	char model[128] = "", driver[PATH_MAX] = "", rot[8] = "?", size[32] = "0";
	snprintf(path, sizeof(path), "%s/device/model", real);
	read_line(path, model, sizeof(model));
	snprintf(path, sizeof(path), "%s/device/driver", real);
	ssize_t k = readlink(path, driver, sizeof(driver) - 1);
	driver[k > 0 ? k : 0] = 0;
	snprintf(path, sizeof(path), "%s/queue/rotational", real);
	read_line(path, rot, sizeof(rot));
	snprintf(path, sizeof(path), "%s/size", real);
	read_line(path, size, sizeof(size));
	const char *drv = strrchr(driver, '/');
	snprintf(v, sizeof(v), "%s", model[0] ? model : (drv ? drv + 1 : "unknown model"));
	snprintf(out, n, "%s: %s, %.0f GiB, rotational=%s", disk, v, strtod(size, NULL) * 512 / GiB,
	         rot);
}

/* dd's sequential write bandwidth on dir's disk, both ways: O_DIRECT (one
 * write in flight) and buffered with a final fdatasync (the kernel keeps
 * many in flight, as it does for the value log). The better of the two is
 * the bandwidth the stream step is measured against; tmpfs refuses
 * O_DIRECT, leaving the buffered figure. */
static void measure_dd(struct machine *m, const char *dir, int quick)
{
	static const char *const modes[] = {"oflag=direct", "conv=fdatasync"};
	int count = quick ? 256 : 1024;
	size_t used = 0;
	m->dd[0] = '\0';
	for (int i = 0; i < 2; i++) {
		char cmd[PATH_MAX + 128], line[256], last[256] = "";
		snprintf(cmd, sizeof(cmd), "dd if=/dev/zero of='%s/ddtest' bs=1M count=%d %s 2>&1",
		         dir, count, modes[i]);
		FILE *p = popen(cmd, "r");
		if (p == NULL)
			break;
		while (fgets(line, sizeof(line), p))
			snprintf(last, sizeof(last), "%s", line);
		int st = pclose(p);
		char file[PATH_MAX + 16];
		snprintf(file, sizeof(file), "%s/ddtest", dir);
		unlink(file);
		chomp(last);
		const char *rate = strrchr(last, ',');
		if (st != 0 || rate == NULL)
			continue;
		rate++;
		while (*rate == ' ')
			rate++;
		double v = strtod(rate, NULL);
		if (strstr(rate, "GB/s"))
			v *= 1000;
		else if (strstr(rate, "kB/s"))
			v /= 1000;
		if (v > m->dd_mb_s)
			m->dd_mb_s = v;
		if (used < sizeof(m->dd)) {
			int w = snprintf(m->dd + used, sizeof(m->dd) - used, "%s%s (bs=1M count=%d %s)",
			                 used ? "; " : "", rate, count, modes[i]);
			used += w > 0 ? (size_t)w : 0;
		}
	}
	if (used == 0)
		snprintf(m->dd, sizeof(m->dd), "dd failed");
}

void report_gather_machine(struct machine *m, const struct opts *o)
{
	memset(m, 0, sizeof(*m));
	m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "model name", 10) == 0) {
				char *v = strchr(line, ':');
				snprintf(m->cpu, sizeof(m->cpu), "%s", v ? v + 2 : "?");
				chomp(m->cpu);
				break;
			}
		fclose(f);
	}
	m->mem_bytes = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);

	char real[PATH_MAX];
	if (realpath(o->dir, real) == NULL)
		snprintf(real, sizeof(real), "%s", o->dir);
	f = fopen("/proc/self/mounts", "r");
	size_t best = 0;
	if (f) {
		char dev[256], mnt[PATH_MAX], type[64];
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%255s %4095s %63s", dev, mnt, type) != 3)
				continue;
			size_t l = strlen(mnt);
			int under = strncmp(real, mnt, l) == 0 &&
			            (real[l] == '/' || real[l] == 0 || l == 1);
			if (under && l >= best) {
				best = l;
				snprintf(m->mount, sizeof(m->mount), "%s", mnt);
				snprintf(m->fs, sizeof(m->fs), "%s", type);
				snprintf(m->device, sizeof(m->device), "%s", dev);
			}
		}
		fclose(f);
	}
	if (m->device[0] == '/')
		describe_disk(m->device, m->disk, sizeof(m->disk));
	else
		snprintf(m->disk, sizeof(m->disk), "%s (not a block device)", m->device);
	if (o->dd)
		measure_dd(m, o->dir, o->quick);
	else
		snprintf(m->dd, sizeof(m->dd), "skipped (--no-dd)");
}

void report_machine(const struct machine *m, const struct opts *o)
{
	struct statvfs sv;
	double free_gib = statvfs(o->dir, &sv) == 0 ? (double)sv.f_bavail * sv.f_frsize / GiB : 0;
	printf("\nmachine:\n");
	printf("  nproc        %ld\n", m->nproc);
	printf("  cpu          %s\n", m->cpu);
	printf("  memory       %.1f GiB\n", (double)m->mem_bytes / GiB);
	printf("  --dir        %s: %s on %s (mounted at %s, %.0f GiB free)\n", o->dir, m->fs,
	       m->device, m->mount, free_gib);
	printf("  disk         %s\n", m->disk);
	printf("  dd write     %s\n", m->dd);
}

int report_json(const struct opts *o, const struct machine *m)
{
	FILE *f = fopen(o->json, "w");
	if (f == NULL) {
		fprintf(stderr, "kvbench: %s: %s\n", o->json, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n\"machine\": {\"nproc\": %ld, \"cpu\": ", m->nproc);
	json_str(f, m->cpu);
	fprintf(f, ", \"memory_bytes\": %" PRIu64 ", \"dir\": ", m->mem_bytes);
	json_str(f, o->dir);
	fprintf(f, ", \"filesystem\": ");
	json_str(f, m->fs);
	fprintf(f, ", \"device\": ");
	json_str(f, m->device);
	fprintf(f, ", \"disk\": ");
	json_str(f, m->disk);
	fprintf(f, ", \"dd_write\": ");
	json_str(f, m->dd);
	fprintf(f, ", \"dd_write_mb_per_sec\": ");
	json_num(f, m->dd_mb_s);
	fprintf(f,
	        "},\n\"settings\": {\"compression\": \"none\", \"bloom_bits_per_key\": %d, "
	        "\"block_cache_bytes\": %llu, \"write_buffer_bytes\": %llu, "
	        "\"lmdb_map_bytes\": %llu, \"rocksdb_max_background_jobs\": 2, "
	        "\"sync\": \"none except fillsync\", \"key_bytes\": %d, \"fillsync_ops\": %" PRIu64
	        ", \"batch_ops\": %d, \"quick\": %s},\n",
	        FAIR_BLOOM_BITS, FAIR_CACHE, FAIR_WRITE_BUFFER, FAIR_LMDB_MAP, KEY_LEN, o->sync_ops,
	        BATCH_OPS, o->quick ? "true" : "false");
	if (o->stream_mib)
		json_stream(f, o, m);
	fprintf(f, "\"results\": [\n");
	int first = 1;
	for (int s = 0; s < o->nsizes; s++)
		for (int e = 0; e < o->nengines; e++)
			for (int w = 0; w < o->nwl; w++) {
				const struct result *r = &kv_results[s][e][w];
				if (r->status == ST_NOTRUN)
					continue;
				fprintf(f,
				        "%s{\"engine\": \"%s\", \"value_size\": %zu, "
				        "\"num\": %" PRIu64 ", \"workload\": \"%s\", \"ok\": %s",
				        first ? "" : ",\n", o->engines[e]->name, o->sizes[s],
				        kv_nums[s], kv_workloads[o->wl[w]].name,
				        r->status == ST_OK ? "true" : "false");
				first = 0;
				fprintf(f,
				        ", \"ops\": %" PRIu64 ", \"found\": %" PRIu64
				        ", \"seconds\": ",
				        r->ops, r->found);
				json_num(f, r->secs);
				fprintf(f, ", \"ops_per_sec\": ");
				json_num(f, report_ops_per_sec(r));
				fprintf(f, ", \"mb_per_sec\": ");
				json_num(f,
				         r->secs > 0 ? (double)r->user_bytes / 1e6 / r->secs : 0);
				fprintf(f, ", \"p50_us\": ");
				json_num(f, r->p50_us);
				fprintf(f, ", \"p99_us\": ");
				json_num(f, r->p99_us);
				fprintf(f, ", \"p999_us\": ");
				json_num(f, r->p999_us);
				fprintf(f, ", \"max_us\": ");
				json_num(f, r->max_us);
				fprintf(f, ", \"settle_seconds\": ");
				json_num(f, r->settle_secs);
				fprintf(f,
				        ", \"disk_bytes\": %" PRIu64 ", \"user_bytes\": %" PRIu64
				        ", \"user_bytes_written\": %" PRIu64
				        ", \"io_write_bytes\": %" PRIu64
				        ", \"io_cancelled_write_bytes\": %" PRIu64
				        ", \"write_amp\": ",
				        r->disk_bytes, r->user_bytes, r->user_written,
				        r->io_written, r->io_cancelled);
				if (r->wamp_valid && r->user_written)
					json_num(f,
					         (double)r->io_written / (double)r->user_written);
				else
					fprintf(f, "null");
				fprintf(f, ", \"peak_rss_kb\": %" PRIu64, r->peak_rss_kb);
				if (r->writer_secs > 0) {
					fprintf(f,
					        ", \"writer_ops\": %" PRIu64
					        ", \"writer_ops_per_sec\": ",
					        r->writer_ops);
					json_num(f, (double)r->writer_ops / r->writer_secs);
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

/* ops/s of the smallest value size run, one row per workload, one column
 * per engine (gnuplot's "columnhead" reads the first line). */
int report_plot_data(const struct opts *o)
{
	int s = 0;
	for (int i = 1; i < o->nsizes; i++)
		if (o->sizes[i] < o->sizes[s])
			s = i;
	FILE *f = fopen(o->plot, "w");
	if (f == NULL) {
		fprintf(stderr, "kvbench: %s: %s\n", o->plot, strerror(errno));
		return -1;
	}
	fprintf(f, "# ops/s at value size %zu B, N = %" PRIu64 "\nworkload", o->sizes[s],
	        kv_nums[s]);
	for (int e = 0; e < o->nengines; e++)
		fprintf(f, " %s", o->engines[e]->name);
	fprintf(f, "\n");
	for (int w = 0; w < o->nwl; w++) {
		fprintf(f, "%s", kv_workloads[o->wl[w]].name);
		for (int e = 0; e < o->nengines; e++) {
			const struct result *r = &kv_results[s][e][w];
			if (r->status == ST_OK)
				fprintf(f, " %.0f", report_ops_per_sec(r));
			else
				fprintf(f, " NaN");
		}
		fprintf(f, "\n");
	}
	return fclose(f) == 0 ? 0 : -1;
}
