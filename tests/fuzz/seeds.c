/*
 * seeds.c -- writes the seed corpora of the fuzz targets (tests/fuzz/):
 * `fuzz_seeds OUTDIR` fills OUTDIR/<target>/ with real bytes, so the
 * fuzzers start from what Wombat actually writes instead of from nothing.
 * `make fuzz` runs it when a corpus directory is missing; the corpora are
 * generated, never committed.
 *
 * It builds a small database through the public API (a temporary
 * directory, on /dev/shm when there is one): small values in the tree,
 * values past the threshold in the value log (so tables hold value
 * pointers; some of several blocks, one streamed), deletes, a batch in the metadata keyspace, two flushes (two
 * tables), and a large batch left in the WAL that spans log blocks. From
 * its files it takes: WALs and the MANIFEST (fuzz_log), tables
 * (fuzz_sst), their index, properties and data blocks (fuzz_block) and
 * filters (fuzz_bloom), each WAL record's batches (fuzz_batch), each
 * MANIFEST record (fuzz_edit), the value pointers in the tables
 * (fuzz_vptr), the value-log segments (fuzz_vlog). Attribute records, names and escapes are made with their
 * own encoders (fuzz_attr, fuzz_names, fuzz_escape).
 *
 * Each seed starts with the mode byte its target reads first (see the
 * target's file comment). Exits non-zero, saying why, on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/stat.h>

#include "attr.h"
#include "db/batch.h"
#include "escape.h"
#include "table/ikey.h"
#include "db/log.h"
#include "names.h"
#include "table/sst.h"
#include "wombat.h"

static const char *out_dir;
static int seq;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz_seeds: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void ok(int rc, const char *what)
{
	if (rc != WB_OK)
		die("%s: %s", what, wb_strerror(rc));
}

/* OUTDIR/target/seed-N: the mode byte (none when mode < 0), then the bytes. */
static void seed(const char *target, int mode, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s/seed-%04d", out_dir, target, seq++);
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	if (mode >= 0)
		fputc(mode, f);
	if (n > 0 && fwrite(p, 1, n, f) != n)
		die("write %s", path);
	if (fclose(f) != 0)
		die("close %s", path);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t)n + 1);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n)
		die("read %s", path);
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* ---- the database ---- */

static void put(wb_db *db, const char *k, size_t vlen, int round)
{
	char v[300];
	for (size_t i = 0; i < vlen; i++)
		v[i] = (char)('a' + (i + (size_t)round) % 26);
	ok(wb_put(db, k, strlen(k), v, vlen), "put");
}

static void make_db(const char *dir)
{
	wb_options o;
	wb_options_init(&o);
	o.create_if_missing = 1;
	o.value_threshold = 64;
	o.block_size = 512;
	o.compaction_threads = 0;
	o.vlog_gc_interval_ms = 0;
	o.sync = WB_SYNC_NONE;
	wb_db *db;
	ok(wb_open(dir, &o, &db), "open");
	char k[32];
	for (int i = 0; i < 120; i++) {
		snprintf(k, sizeof(k), "key%05d", i);
		put(db, k, i % 7 == 0 ? 100 + (size_t)i : 5 + (size_t)i % 30, 0);
	}
	for (int i = 0; i < 120; i += 9) {
		snprintf(k, sizeof(k), "key%05d", i);
		ok(wb_delete(db, k, strlen(k)), "delete");
	}
	wb_batch *b;
	ok(wb_batch_new(&b), "batch");
	ok(wb_batch_put_ks(b, WB_KS_META, "Adir/", 5, "attr-bytes", 10), "batch put");
	ok(wb_batch_put(b, "dir/file", 8, "contents", 8), "batch put");
	ok(wb_batch_delete(b, "key00001", 8), "batch delete");
	ok(wb_write(db, b), "write");
	ok(wb_flush(db), "flush");
	for (int i = 0; i < 120; i += 3) {
		snprintf(k, sizeof(k), "key%05d", i);
		put(db, k, i % 5 == 0 ? 200 : 12, 1);
	}
	/* Values of several value-log blocks, one of them streamed into a
	 * segment of its own. */
	static char big[3 * 4096 + 77];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 31 + (i >> 12));
	ok(wb_put(db, "big-blocks", 10, big, sizeof(big)), "put");
	wb_writer *w;
	ok(wb_writer_begin(db, "big-stream", 10, &w), "writer");
	ok(wb_writer_write(w, big, 5000), "writer write");
	ok(wb_writer_write(w, big + 5000, 4000), "writer write");
	ok(wb_writer_commit(w, NULL), "writer commit");
	ok(wb_flush(db), "flush");
	/* Left in the WAL: small writes and one batch spanning log blocks. */
	put(db, "tail-small", 3, 2);
	put(db, "tail-big", 150, 2);
	wb_batch_clear(b);
	for (int i = 0; i < 2500; i++) {
		snprintf(k, sizeof(k), "span%05d", i);
		ok(wb_batch_put(b, k, strlen(k), "0123456789", 10), "batch put");
	}
	ok(wb_write(db, b), "write");
	wb_batch_free(b);
	ok(wb_close(db), "close");
}

/* ---- taking its files apart ---- */

static void records(const char *path, enum log_kind kind)
{
	log_reader_t *r;
	ok(log_reader_open(wb_env_default(), path, kind, &r), path);
	slice_t rec;
	int rc, n = 0;
	while ((rc = log_reader_next(r, &rec)) == WB_OK) {
		if (kind == LOG_KIND_MANIFEST) {
			seed("edit", -1, rec.data, rec.len);
			continue;
		}
		/* A whole record (the batches of a commit group), and, when it
		 * is small, each of its batches alone. */
		if (rec.len < 4096 || n++ < 2)
			seed("batch", -1, rec.data, rec.len);
	}
	if (rc != WB_ENOTFOUND)
		die("%s: %s", path, wb_strerror(rc));
	log_reader_close(r);
}

/* Index entries in whatever order they are: the iterator checks keys
 * against its comparator, and only the handles matter here. */
static int any_order(slice_t a, slice_t b)
{
	return -1;
}

static void table(const char *path)
{
	size_t len;
	uint8_t *p = slurp(path, &len);
	seed("sst", 0, p, len);
	seed("sst", 1, p, len);
	if (len < SST_FOOTER_SIZE)
		die("%s: short table", path);
	const uint8_t *f = p + len - SST_FOOTER_SIZE;
	uint64_t ioff = get_u64(f), isize = get_u64(f + 8);
	uint64_t foff = get_u64(f + 16), fsize = get_u64(f + 24);
	uint64_t poff = get_u64(f + 32), psize = get_u64(f + 40);
	uint8_t hdr[2] = {0, 0};
	/* fuzz_block: order byte, no targets, the block. */
	uint8_t *buf = malloc(len + 2);
	memcpy(buf, hdr, 2);
	memcpy(buf + 2, p + poff, psize);
	seed("block", -1, buf, psize + 2);
	buf[0] = 1;
	memcpy(buf + 2, p + ioff, isize);
	seed("block", -1, buf, isize + 2);
	if (fsize > 0)
		seed("bloom", 0, p + foff, fsize);

	uint8_t *ib = malloc(isize);
	memcpy(ib, p + ioff, isize);
	block_t *index;
	ok(block_new(ib, isize, &index), "index block");
	iter_t *it = block_iter_new(index, any_order);
	int n = 0;
	for (iter_seek_first(it); iter_valid(it) && n < 6; iter_next(it), n++) {
		slice_t v = iter_value(it);
		uint64_t off, size;
		const uint8_t *q = get_varint64(v.data, v.data + v.len, &off);
		if (q == NULL || get_varint64(q, v.data + v.len, &size) == NULL)
			die("%s: bad index entry", path);
		memcpy(buf + 2, p + off, size);
		seed("block", -1, buf, size + 2);
	}
	iter_destroy(it);
	block_unref(index);
	free(buf);

	sst_reader_t *r;
	ok(sst_reader_open(wb_env_default(), path, &r), path);
	it = sst_reader_iter(r);
	for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
		slice_t v = iter_value(it);
		if (v.data[0] & META_VALUE_PTR)
			seed("vptr", -1, v.data + 1, v.len - 1);
	}
	iter_destroy(it);
	sst_reader_unref(r);
	free(p);
}

static void take_apart(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		die("%s: %s", dir, strerror(errno));
	struct dirent *de;
	char path[4096];
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		size_t nl = strlen(name);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		bool wal = nl > 4 && strcmp(name + nl - 4, ".wal") == 0;
		bool manifest = strncmp(name, "MANIFEST-", 9) == 0;
		if (wal || manifest) {
			size_t len;
			uint8_t *p = slurp(path, &len);
			int kind = manifest ? 1 : 0;
			seed("log", kind, p, len);     /* raw */
			seed("log", kind | 2, p, len); /* checksums fixed */
			free(p);
			records(path, manifest ? LOG_KIND_MANIFEST : LOG_KIND_WAL);
		} else if (nl > 4 && strcmp(name + nl - 4, ".sst") == 0) {
			table(path);
		} else if (nl > 5 && strcmp(name + nl - 5, ".vlog") == 0) {
			size_t len;
			uint8_t *p = slurp(path, &len);
			seed("vlog", 0, p, len); /* raw */
			seed("vlog", 1, p, len); /* checksums fixed */
			free(p);
		}
	}
	closedir(d);
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	char path[4096];
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* ---- made by the encoders ---- */

static void scripts(void)
{
	/* fuzz_log scripted mode: record count, lengths and seeds, op, where. */
	static const uint8_t s[][16] = {
	    {4, 3, 10, 1, 200, 2, 50, 3, 0, 0, 0, 0, 0, 0, 0, 0},        /* three records, intact */
	    {4, 2, 230, 9, 1, 20, 2, 1, 0x40, 0x80, 0, 0, 0},            /* spanning, cut */
	    {5, 5, 10, 1, 20, 2, 30, 3, 40, 4, 50, 5, 2, 0x30, 0, 9},    /* manifest, cut + zeros */
	    {4, 4, 100, 1, 100, 2, 100, 3, 100, 4, 4, 0x99, 0, 0, 0, 0}, /* flip */
	    {4, 3, 150, 1, 150, 2, 150, 3, 3, 0x60, 0, 0, 0, 0},         /* zero tail */
	};
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		seed("log", -1, s[i], sizeof(s[i]));
	/* fuzz_vlog scripted mode: entry count, [streamed,] per entry seed,
	 * key length and value length code; then op, where (u32), zeros, mask. */
	static const uint8_t v[][20] = {
	    {2, 2, 1, 5, 100, 2, 9, 140, 0, 0, 0, 0, 0, 0, 0},        /* two entries, intact */
	    {2, 1, 0, 3, 210, 7, 1, 0x80, 0x10, 0, 0, 0, 0},          /* one of blocks, cut */
	    {2, 2, 1, 5, 20, 2, 9, 130, 2, 0x50, 0, 0, 0, 3},         /* cut + zeros */
	    {2, 3, 1, 5, 150, 2, 9, 20, 3, 7, 7, 4, 4, 0x99, 0, 0, 0, 0, 0x20}, /* flip */
	    {2, 0, 0, 4, 9, 135, 4, 0x70, 0x20, 0, 0, 0, 0x40},       /* streamed, flip */
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		seed("vlog", -1, v[i], sizeof(v[i]));
}

static void attrs(void)
{
	uint8_t rec[ATTR_FIXED + 64];
	fs_attr a = {
	    S_IFREG | 0644,       1000, 1000, 0, 1700000000000000000ll, 1700000000123456789ll,
	    1700000000999999999ll};
	seed("attr", -1, rec, attr_encode(&a, NULL, 0, rec));
	a.mode = S_IFDIR | 0755;
	seed("attr", -1, rec, attr_encode(&a, NULL, 0, rec));
	a.mode = S_IFLNK | 0777;
	seed("attr", -1, rec, attr_encode(&a, "../some/target", 14, rec));
	a.mode = S_IFCHR | 0600;
	a.rdev = 0x0501;
	seed("attr", -1, rec, attr_encode(&a, NULL, 0, rec));
	a.mode = S_IFIFO | 0600;
	seed("attr", -1, rec, attr_encode(&a, NULL, 0, rec));
}

static void names(void)
{
	static const struct {
		const char *c;
		size_t n;
	} comps[] = {
	    {"a", 1},   {"file.txt", 8}, {".", 1},    {"..", 2},   {"", 0},
	    {"%%x", 3}, {"50%", 3},      {"a\0b", 3}, {"%%%%", 4},
	};
	char name[NAME_BUF];
	uint8_t longc[400];
	for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		for (int sh = 0; sh < 2; sh++) {
			seed("names", 1 | (sh << 1), comps[i].c, comps[i].n);
			size_t n = names_encode((const uint8_t *)comps[i].c, comps[i].n, sh, name);
			seed("names", 0, name, n);
		}
	}
	for (size_t len = 250; len <= 400; len += 50) {
		for (size_t i = 0; i < len; i++)
			longc[i] = i % 17 == 0 ? '%' : (uint8_t)('a' + i % 26);
		seed("names", 1, longc, len);
		size_t n = names_encode(longc, len, false, name);
		seed("names", 0, name, n);
	}
}

static void escapes(void)
{
	static const char *typed[] = {"plain",           "tab\\there", "nl\\n", "back\\\\slash",
	                              "\\x00\\xff\\xAb", "bad\\q",     "end\\"};
	for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++)
		seed("escape", 0, typed[i], strlen(typed[i]));
	static const uint8_t raw[] = {'k', '\t', 'v', '\n', '\\', 0, 0x7f, 0x80, 0xff, ' '};
	seed("escape", 1, raw, sizeof(raw));
	seed("escape", 1, "key00001", 8);
}

static void blooms(void)
{
	/* fuzz_bloom build mode: bits per key, then length-prefixed keys. */
	uint8_t b[64] = {10};
	size_t n = 1;
	for (int i = 0; i < 6; i++) {
		b[n++] = 8;
		memcpy(b + n, "key0000", 7);
		b[n + 7] = (uint8_t)('0' + i);
		n += 8;
	}
	seed("bloom", 1, b, n);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
		die("mkdir %s: %s", out_dir, strerror(errno));
	char dir[] = "/dev/shm/wombat-seeds-XXXXXX";
	char tmp_dir[] = "/tmp/wombat-seeds-XXXXXX";
	char *db_dir = mkdtemp(dir);
	if (db_dir == NULL && (db_dir = mkdtemp(tmp_dir)) == NULL)
		die("mkdtemp: %s", strerror(errno));
	make_db(db_dir);
	take_apart(db_dir);
	remove_tree(db_dir);
	scripts();
	attrs();
	names();
	escapes();
	blooms();
	return 0;
}
