/*
 * vblock_bench.c -- what checking value-log reads block by block costs, for
 * choosing the block size (engine/src/vlog/vblock.h). Uses only the public API,
 * so the same program links against any build of the library: build the
 * engine with -DVBLOCK_SIZE=N to compare sizes, or an older tree to
 * compare with reads that checked nothing (`make bench-vblock` does all
 * of it and prints one table).
 *
 * In a fresh database under DIR: one 64 MiB value, 2 000 values of 64 KiB
 * and 20 000 of 4 KiB, all in the value log and in the page cache, then
 *   rand4k     4 KiB range reads at random 4 KiB-aligned offsets of the
 *              64 MiB value (a page fault through the mount)
 *   rand4k-u   the same at unaligned offsets (two blocks each when 4 KiB)
 *   seq128k    the whole 64 MiB value in 128 KiB range reads (readahead)
 *   get64k     wb_get of random 64 KiB values
 *   put4k      wb_put of 4 KiB values (the write path's checksums)
 * Each figure is the best of 3 rounds, in operations per second.
 *
 *   vblock_bench DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wombat.h"

#define BIG (64u << 20)

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "vblock_bench: %s: %s: %s\n", what, wb_strerror(rc), wb_errmsg(NULL));
	exit(1);
}

static void check(const char *what, int rc)
{
	if (rc != WB_OK)
		die(what, rc);
}

static double best(double a, double b)
{
	return a > b ? a : b;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: vblock_bench DIR\n");
		return 2;
	}
	wb_options o;
	wb_options_init(&o);
	o.create_if_missing = 1;
	o.sync = WB_SYNC_NONE;
	o.vlog_gc_interval_ms = 0;
	wb_db *db;
	check("open", wb_open(argv[1], &o, &db));
	uint8_t *big = malloc(BIG), *buf = malloc(1u << 20);
	for (size_t i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	check("put big", wb_put(db, "big", 3, big, BIG));
	char k[32];
	for (int i = 0; i < 2000; i++)
		check("put 64k", wb_put(db, k, (size_t)snprintf(k, sizeof(k), "m%06d", i), big + i, 65536));
	for (int i = 0; i < 20000; i++)
		check("put 4k", wb_put(db, k, (size_t)snprintf(k, sizeof(k), "s%06d", i), big + i, 4096));
	check("flush", wb_flush(db));

	double r4 = 0, r4u = 0, s128 = 0, g64 = 0, p4 = 0;
	for (int round = 0; round < 3; round++) {
		size_t got;
		int n = 200000;
		double t = now();
		for (int i = 0; i < n; i++) {
			uint64_t off = next_rand() % (BIG / 4096) * 4096;
			check("rand4k", wb_get_range(db, "big", 3, off, buf, 4096, &got));
		}
		r4 = best(r4, n / (now() - t));
		t = now();
		for (int i = 0; i < n; i++) {
			uint64_t off = next_rand() % (BIG - 8192) + 1;
			check("rand4k-u", wb_get_range(db, "big", 3, off, buf, 4096, &got));
		}
		r4u = best(r4u, n / (now() - t));
		t = now();
		int reads = 0;
		for (int pass = 0; pass < 4; pass++)
			for (uint64_t off = 0; off < BIG; off += 131072, reads++)
				check("seq128k", wb_get_range(db, "big", 3, off, buf, 131072, &got));
		s128 = best(s128, reads / (now() - t));
		n = 20000;
		t = now();
		for (int i = 0; i < n; i++) {
			void *v;
			size_t vl;
			check("get64k", wb_get(db, k, (size_t)snprintf(k, sizeof(k), "m%06d", (int)(next_rand() % 2000)), &v, &vl));
			wb_free(v);
		}
		g64 = best(g64, n / (now() - t));
		t = now();
		for (int i = 0; i < n; i++)
			check("put4k", wb_put(db, k, (size_t)snprintf(k, sizeof(k), "p%06d", i), big + i * 7, 4096));
		p4 = best(p4, n / (now() - t));
	}
	printf("%-10.0f %-10.0f %-10.0f %-10.0f %-10.0f\n", r4, r4u, s128, g64, p4);
	check("close", wb_close(db));
	free(big);
	free(buf);
	return 0;
}
