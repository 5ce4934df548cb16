/*
 * testutil.c -- helpers for the database-level tests (testutil.h).
 *
 * File surgery goes straight through POSIX calls, never through the engine's
 * env, so a test judges the engine by what is really on disk. The model
 * checks compare whole scans, seeks and random walks with a sorted array.
 */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

void tu_mkdtemp(char *buf, const char *tag)
{
	snprintf(buf, 96, "/tmp/wombat-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(buf));
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(path);
}

void tu_rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_path(char *buf, const char *dir, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", dir, name);
	return buf;
}

long long tu_file_size(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	return (long long)st.st_size;
}

void tu_flip_byte(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0xff;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

void tu_truncate(const char *path, uint64_t len)
{
	assert_int_equal(truncate(path, (off_t)len), 0);
}

void *tu_read_file(const char *path, size_t *len)
{
	long long size = tu_file_size(path);
	assert_true(size >= 0);
	uint8_t *buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, (size_t)size, 0), (ssize_t)size);
	close(fd);
	*len = (size_t)size;
	return buf;
}

void tu_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **tu_list(const char *dir, int *n)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	char **names = NULL;
	int cap = 0;
	*n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			names = realloc(names, (size_t)cap * sizeof(*names));
			assert_non_null(names);
		}
		names[(*n)++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, (size_t)*n, sizeof(*names), cmp_names);
	return names;
}

void tu_free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int tu_count_suffix(const char *dir, const char *suffix)
{
	int n, count = 0;
	char **names = tu_list(dir, &n);
	for (int i = 0; i < n; i++)
		count += ends_with(names[i], suffix);
	tu_free_names(names, n);
	return count;
}

bool tu_find_suffix(const char *dir, const char *suffix, char *buf)
{
	int n;
	bool found = false;
	char **names = tu_list(dir, &n);
	for (int i = 0; i < n && !found; i++) {
		if (ends_with(names[i], suffix)) {
			snprintf(buf, 256, "%s", names[i]);
			found = true;
		}
	}
	tu_free_names(names, n);
	return found;
}

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t tu_dir_digest(const char *dir)
{
	int n;
	char **names = tu_list(dir, &n);
	uint64_t h = 0xcbf29ce484222325ull;
	char path[PATH_MAX];
	static uint8_t buf[65536];
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i], "LOG") == 0 || strcmp(names[i], "LOG.old") == 0)
			continue; /* the info log records every open, failed or not */
		h = fnv(h, names[i], strlen(names[i]) + 1);
		int fd = open(tu_path(path, dir, names[i]), O_RDONLY);
		assert_true(fd >= 0);
		ssize_t r;
		uint64_t total = 0;
		while ((r = read(fd, buf, sizeof(buf))) > 0) {
			h = fnv(h, buf, (size_t)r);
			total += (uint64_t)r;
		}
		close(fd);
		h = fnv(h, &total, sizeof(total));
	}
	tu_free_names(names, n);
	return h;
}

/* ---- database shortcuts ---- */

wb_options tu_options(size_t memtable_size)
{
	wb_options o;
	wb_options_init(&o);
	o.create_if_missing = 1;
	o.sync = WB_SYNC_NONE;
	o.memtable_size = memtable_size;
	/* No background compaction: these tests count the files of the tree,
	 * which a compaction running meanwhile would change under them.
	 * test_compaction.c turns it back on. */
	o.compaction_threads = 0;
	/* No disk reserve: writing it would dwarf what most tests write, and
	 * the crash tests count bytes. test_reserve.c turns it on. */
	o.disk_reserve = 0;
	return o;
}

wb_db *tu_open(const char *dir, const wb_options *opts)
{
	wb_db *db = NULL;
	int rc = wb_open(dir, opts, &db);
	if (rc != WB_OK)
		fail_msg("wb_open(%s): %s: %s", dir, wb_strerror(rc), wb_errmsg(NULL));
	assert_non_null(db);
	return db;
}

void tu_putn(wb_db *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	int rc = wb_put(db, key, klen, val, vlen);
	if (rc != WB_OK)
		fail_msg("wb_put: %s: %s", wb_strerror(rc), wb_errmsg(db));
}

void tu_put(wb_db *db, const char *key, const char *val)
{
	tu_putn(db, key, strlen(key), val, strlen(val));
}

void tu_expect(wb_db *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	void *got = NULL;
	size_t glen = 0;
	int rc = wb_get(db, key, klen, &got, &glen);
	if (rc != WB_OK)
		fail_msg("wb_get(%.*s): %s: %s", (int)klen, (const char *)key, wb_strerror(rc),
			 wb_errmsg(db));
	assert_non_null(got);
	if (glen != vlen || memcmp(got, val, vlen) != 0)
		fail_msg("wb_get(%.*s): %zu bytes \"%.*s\", expected %zu \"%.*s\"", (int)klen,
			 (const char *)key, glen, (int)(glen < 40 ? glen : 40), (char *)got, vlen,
			 (int)(vlen < 40 ? vlen : 40), (const char *)val);
	wb_free(got);
}

void tu_expect_str(wb_db *db, const char *key, const char *val)
{
	tu_expect(db, key, strlen(key), val, strlen(val));
}

void tu_expect_missing(wb_db *db, const void *key, size_t klen)
{
	void *got = NULL;
	size_t glen = 0;
	int rc = wb_get(db, key, klen, &got, &glen);
	if (rc != WB_ENOTFOUND)
		fail_msg("wb_get(%.*s): %s (%zu bytes), expected not found", (int)klen,
			 (const char *)key, wb_strerror(rc), glen);
	assert_null(got);
}

void tu_crash(wb_db *db, fault_env_t *fe)
{
	fault_env_kill_after_bytes(fe, 0);
	wb_close(db);
	assert_int_equal(fault_env_power_loss(fe), WB_OK);
}

void tu_kill(wb_db *db, fault_env_t *fe)
{
	fault_env_kill_after_bytes(fe, 0);
	wb_close(db);
	fault_env_clear_faults(fe);
}

int tu_tables(wb_db *db)
{
	char *json;
	assert_int_equal(wb_stats_json(db, &json), WB_OK);
	int total = 0;
	for (const char *p = json; (p = strstr(p, "\"files\":")) != NULL; p++)
		total += atoi(p + 8);
	wb_free(json);
	return total;
}

void tu_expect_clean_dir(wb_db *db, const char *dir)
{
	int n, manifests = 0, wals = 0, ssts = 0;
	char **names = tu_list(dir, &n), current[300] = "", path[PATH_MAX];
	FILE *f = fopen(tu_path(path, dir, "CURRENT"), "r");
	assert_non_null(f);
	assert_non_null(fgets(current, sizeof(current), f));
	fclose(f);
	for (int i = 0; i < n; i++) {
		const char *s = names[i];
		size_t len = strlen(s);
		if (strcmp(s, "LOCK") == 0 || strcmp(s, "CURRENT") == 0 || strcmp(s, "LOG") == 0 ||
		    strcmp(s, "LOG.old") == 0)
			continue;
		if (strncmp(s, "MANIFEST-", 9) == 0) {
			manifests++;
			assert_true(strncmp(current, s, len) == 0 && current[len] == '\n');
		} else if (ends_with(s, ".wal")) {
			wals++;
		} else if (ends_with(s, ".sst")) {
			ssts++;
		} else {
			fail_msg("unexpected file %s", s);
		}
	}
	tu_free_names(names, n);
	assert_int_equal(manifests, 1);
	if (wals != 1)
		fail_msg("%d WAL files, expected only the live one", wals);
	assert_int_equal(ssts, tu_tables(db));
}

size_t tu_key(char *buf, const char *prefix, uint64_t n)
{
	return (size_t)sprintf(buf, "%s%08llu", prefix, (unsigned long long)n);
}

int tu_try_put(wb_db *db, tu_model_t *m, const char *prefix, uint64_t n, size_t vlen,
	       uint64_t round)
{
	char k[64];
	char *v = malloc(vlen ? vlen : 1);
	assert_non_null(v);
	size_t kl = tu_key(k, prefix, n);
	tu_value(v, vlen, n, round);
	int rc = wb_put(db, k, kl, v, vlen);
	if (rc == WB_OK && m != NULL)
		tu_model_put(m, k, kl, v, vlen);
	free(v);
	return rc;
}

void tu_expect_has(const char *what, const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL)
		fail_msg("%s has no \"%s\": %s", what, needle, text);
}

static char watchdog_msg[160];

static void watchdog_fired(int sig)
{
	ssize_t n = write(2, watchdog_msg, strlen(watchdog_msg));
	(void)n;
	_exit(3);
}

void tu_watchdog_start(const char *name, unsigned seconds)
{
	snprintf(watchdog_msg, sizeof(watchdog_msg), "watchdog: a call of %s hung (no answer in %u s)\n",
		 name, seconds);
	struct sigaction sa = { .sa_handler = watchdog_fired };
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
}

void tu_watchdog_stop(void)
{
	alarm(0);
}

size_t tu_value(char *buf, size_t len, uint64_t n, uint64_t round)
{
	uint64_t s = (n + 1) * 0x9e3779b97f4a7c15ull ^ (round + 1) * 0xc2b2ae3d27d4eb4full;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (tu_rand(&s) % 26));
	/* The number and round spelled out, so a mix-up is readable. */
	int k = snprintf(NULL, 0, "%llu.%llu.", (unsigned long long)n, (unsigned long long)round);
	if ((size_t)k < len) {
		char tmp[48];
		snprintf(tmp, sizeof(tmp), "%llu.%llu.", (unsigned long long)n,
			 (unsigned long long)round);
		memcpy(buf, tmp, (size_t)k);
	}
	return len;
}

uint64_t tu_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x2545f4914f6cdd1dull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* splitmix64's finalizer: nearby inputs give unrelated outputs. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t tu_seed(uint64_t fixed)
{
	const char *env = getenv("WB_TEST_SEED");
	if (env == NULL || *env == '\0')
		return fixed;
	unsigned long long n = strtoull(env, NULL, 0);
	print_message("seed %llu with WB_TEST_SEED=%llu\n", (unsigned long long)fixed, n);
	return mix64(fixed ^ mix64(n));
}

/* Before main, so no test's main has to know (see the file's comment). */
__attribute__((constructor)) static void apply_test_filters(void)
{
	const char *f = getenv("WB_TEST_FILTER");
	if (f != NULL && *f != '\0')
		cmocka_set_test_filter(f);
	const char *skip = getenv("WB_TEST_SKIP");
	if (skip != NULL && *skip != '\0')
		cmocka_set_skip_filter(skip);
}

/* ---- the model ---- */

int tu_keycmp(const void *a, size_t al, const void *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

size_t tu_model_lower_bound(const tu_model_t *m, const void *k, size_t kl)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tu_keycmp(m->e[mid].k, m->e[mid].kl, k, kl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint8_t *dup_bytes(const void *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);
	assert_non_null(d);
	if (len)
		memcpy(d, p, len);
	return d;
}

void tu_model_put(tu_model_t *m, const void *k, size_t kl, const void *v, size_t vl)
{
	size_t i = tu_model_lower_bound(m, k, kl);
	if (i < m->n && tu_keycmp(m->e[i].k, m->e[i].kl, k, kl) == 0) {
		free(m->e[i].v);
		m->e[i].v = dup_bytes(v, vl);
		m->e[i].vl = vl;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		assert_non_null(m->e);
	}
	memmove(m->e + i + 1, m->e + i, (m->n - i) * sizeof(*m->e));
	m->e[i] = (tu_kv_t){ dup_bytes(k, kl), dup_bytes(v, vl), kl, vl };
	m->n++;
}

void tu_model_del(tu_model_t *m, const void *k, size_t kl)
{
	size_t i = tu_model_lower_bound(m, k, kl);
	if (i == m->n || tu_keycmp(m->e[i].k, m->e[i].kl, k, kl) != 0)
		return;
	free(m->e[i].k);
	free(m->e[i].v);
	memmove(m->e + i, m->e + i + 1, (m->n - i - 1) * sizeof(*m->e));
	m->n--;
}

const tu_kv_t *tu_model_get(const tu_model_t *m, const void *k, size_t kl)
{
	size_t i = tu_model_lower_bound(m, k, kl);
	if (i < m->n && tu_keycmp(m->e[i].k, m->e[i].kl, k, kl) == 0)
		return &m->e[i];
	return NULL;
}

void tu_model_copy(tu_model_t *dst, const tu_model_t *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++)
		tu_model_put(dst, src->e[i].k, src->e[i].kl, src->e[i].v, src->e[i].vl);
}

void tu_model_free(tu_model_t *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].k);
		free(m->e[i].v);
	}
	free(m->e);
	memset(m, 0, sizeof(*m));
}

static void expect_entry(wb_iter *it, const tu_kv_t *e)
{
	size_t kl, vl;
	assert_true(wb_iter_valid(it));
	const void *k = wb_iter_key(it, &kl);
	const void *v = wb_iter_value(it, &vl);
	if (tu_keycmp(k, kl, e->k, e->kl) != 0)
		fail_msg("iterator at \"%.*s\", expected \"%.*s\"", (int)kl, (const char *)k,
			 (int)e->kl, (const char *)e->k);
	assert_int_equal(vl, e->vl);
	assert_memory_equal(v, e->v, vl);
}

void tu_expect_db_equals(wb_db *db, const tu_model_t *m)
{
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, NULL, &it), WB_OK);
	tu_expect_iter_equals(it, m);
	wb_iter_free(it);
}

void tu_expect_iter_equals(wb_iter *it, const tu_model_t *m)
{
	size_t i = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
		if (i >= m->n) {
			size_t kl;
			const void *k = wb_iter_key(it, &kl);
			fail_msg("extra key \"%.*s\" after the model's %zu", (int)kl,
				 (const char *)k, m->n);
		}
		expect_entry(it, &m->e[i++]);
	}
	assert_int_equal(wb_iter_status(it), WB_OK);
	assert_int_equal(i, m->n);
	for (wb_iter_seek_last(it); wb_iter_valid(it); wb_iter_prev(it)) {
		assert_true(i > 0);
		expect_entry(it, &m->e[--i]);
	}
	assert_int_equal(wb_iter_status(it), WB_OK);
	assert_int_equal(i, 0);
}

/* ---- iterators against the model ---- */

static const char alphabet[] = { 'a', 'b', 'c', (char)0xff };

size_t tu_random_key(uint64_t *rs, char *k)
{
	size_t len = 1 + tu_rand(rs) % 4;
	for (size_t i = 0; i < len; i++)
		k[i] = alphabet[tu_rand(rs) % sizeof(alphabet)];
	return len;
}

/* Whether the model entry e is inside the iterator bounds b. */
static bool in_bounds(const wb_iter_options *b, const tu_kv_t *e)
{
	if (b->prefix && (e->kl < b->prefix_len || memcmp(e->k, b->prefix, b->prefix_len) != 0))
		return false;
	if (b->lower && tu_keycmp(e->k, e->kl, b->lower, b->lower_len) < 0)
		return false;
	if (b->upper && tu_keycmp(e->k, e->kl, b->upper, b->upper_len) >= 0)
		return false;
	return true;
}

/* Asserts the iterator sits on view[i], or is invalid when i is out of range. */
static void expect_at(wb_iter *it, tu_kv_t **view, long n, long i)
{
	if (i < 0 || i >= n) {
		if (wb_iter_valid(it)) {
			size_t kl;
			const char *k = wb_iter_key(it, &kl);
			fail_msg("iterator at \"%.*s\", expected the end", (int)kl, k);
		}
		assert_int_equal(wb_iter_status(it), WB_OK);
		return;
	}
	if (!wb_iter_valid(it))
		fail_msg("iterator at the end (status %d), expected \"%.*s\"", wb_iter_status(it),
			 (int)view[i]->kl, (char *)view[i]->k);
	size_t kl, vl;
	const void *k = wb_iter_key(it, &kl), *v = wb_iter_value(it, &vl);
	if (tu_keycmp(k, kl, view[i]->k, view[i]->kl) != 0)
		fail_msg("iterator at \"%.*s\", expected \"%.*s\"", (int)kl, (const char *)k,
			 (int)view[i]->kl, (char *)view[i]->k);
	assert_int_equal(vl, view[i]->vl);
	assert_memory_equal(v, view[i]->v, vl);
	assert_true(wb_iter_ts(it) != 0);
}

void tu_check_iter(wb_db *db, const tu_model_t *m, const wb_iter_options *io, uint64_t *rs)
{
	tu_kv_t **view = malloc((m->n + 1) * sizeof(*view));
	long n = 0;
	for (size_t i = 0; i < m->n; i++)
		if (in_bounds(io, &m->e[i]))
			view[n++] = &m->e[i];
	wb_iter *it;
	assert_int_equal(wb_iter_new(db, io, &it), WB_OK);
	assert_false(wb_iter_valid(it)); /* not positioned yet */

	long i = 0;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it))
		expect_at(it, view, n, i++);
	assert_int_equal(i, n);
	expect_at(it, view, n, n);
	i = n - 1;
	for (wb_iter_seek_last(it); wb_iter_valid(it); wb_iter_prev(it))
		expect_at(it, view, n, i--);
	assert_int_equal(i, -1);

	for (int s = 0; s < 60; s++) {
		char k[8];
		size_t kl = tu_random_key(rs, k);
		/* expected: first visible key >= k, or last <= k */
		long ge = 0, le;
		while (ge < n && tu_keycmp(view[ge]->k, view[ge]->kl, k, kl) < 0)
			ge++;
		le = ge < n && tu_keycmp(view[ge]->k, view[ge]->kl, k, kl) == 0 ? ge : ge - 1;
		long pos;
		if (s % 2 == 0) {
			wb_iter_seek(it, k, kl);
			pos = ge;
		} else {
			wb_iter_seek_for_prev(it, k, kl);
			pos = le;
		}
		expect_at(it, view, n, pos);
		/* a random walk with direction changes */
		for (int step = 0; step < 12 && pos >= 0 && pos < n; step++) {
			if (tu_rand(rs) % 2) {
				wb_iter_next(it);
				pos++;
			} else {
				wb_iter_prev(it);
				pos--;
			}
			expect_at(it, view, n, pos);
		}
	}
	wb_iter_free(it);
	free(view);
}
