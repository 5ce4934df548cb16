/*
 * test_env.c -- the POSIX env (env_posix.c) and the fault-injecting test env
 * (tests/support/fault_env.c).
 *
 * Every test gets a fresh directory under /tmp (mkdtemp) from its setup and
 * the teardown removes it. Files are checked from outside the env under test
 * with stat(2) and the default env, so the fault env is judged by what is on
 * disk. Single-threaded except test_fault_threads.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/error.h"
#include "fault_env.h"
#include "wombat.h"

struct fixture {
	char dir[64];
};

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	strcpy(fx->dir, "/tmp/wombat-test-env-XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	int r = nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	free(fx);
	return r;
}

/* "<dir>/<name>" in a static buffer chosen by slot, so a test can hold a few. */
static const char *pathf(void **state, int slot, const char *name)
{
	static char bufs[4][256];
	struct fixture *fx = *state;

	snprintf(bufs[slot], sizeof(bufs[slot]), "%s/%s", fx->dir, name);
	return bufs[slot];
}

/* Size on disk, or -1 when the file does not exist. */
static long long disk_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return (long long)st.st_size;
}

/* Writes data to path through env (create, truncate), syncing when asked. */
static void put_file(const wb_env *env, const char *path, const char *data, bool sync)
{
	wb_env_file *f;

	assert_int_equal(env->open(env->ctx, path, WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_TRUNCATE, &f),
			 WB_OK);
	assert_int_equal(env->append(f, data, strlen(data)), WB_OK);
	if (sync)
		assert_int_equal(env->sync(f), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
}

/* Asserts that path holds exactly want (read through the default env). */
static void assert_content(const char *path, const char *want)
{
	const wb_env *env = wb_env_default();
	wb_env_file *f;
	char buf[256];
	size_t n;

	assert_int_equal(env->open(env->ctx, path, WB_ENV_READ, &f), WB_OK);
	assert_int_equal(env->read_at(f, 0, buf, sizeof(buf), &n), WB_OK);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
	env->close(f);
}

/* ---- POSIX env ---- */

static void test_posix_round_trip(void **state)
{
	const wb_env *env = wb_env_default();
	const char *p = pathf(state, 0, "000001.wal");
	wb_env_file *f;
	uint64_t size;
	char buf[64];
	size_t n;

	assert_int_equal(env->open(env->ctx, p, WB_ENV_READ | WB_ENV_WRITE | WB_ENV_CREATE, &f), WB_OK);
	assert_int_equal(env->append(f, "hello", 5), WB_OK);
	assert_int_equal(env->append(f, " world", 6), WB_OK);
	assert_int_equal(env->append(f, "", 0), WB_OK);
	assert_int_equal(env->size(f, &size), WB_OK);
	assert_int_equal(size, 11);

	/* read_at works on the same READ|WRITE (O_APPEND) handle. */
	assert_int_equal(env->read_at(f, 0, buf, 5, &n), WB_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(env->read_at(f, 6, buf, sizeof(buf), &n), WB_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(env->read_at(f, 11, buf, sizeof(buf), &n), WB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(env->read_at(f, 1000, buf, sizeof(buf), &n), WB_OK);
	assert_int_equal(n, 0);

	assert_int_equal(env->truncate(f, 5), WB_OK);
	assert_int_equal(env->size(f, &size), WB_OK);
	assert_int_equal(size, 5);
	/* Appends go to the new end, not to the old offset. */
	assert_int_equal(env->append(f, "!", 1), WB_OK);
	assert_int_equal(env->sync(f), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	assert_content(p, "hello!");
}

/* preallocate takes blocks past the end without moving it: the size, the
 * bytes and where appends land stay as they were. Through the fault env
 * too, where a power cut still keeps only the synced bytes. */
static void test_preallocate(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *envs[2] = { wb_env_default(), fault_env_get(fe) };
	const char *paths[2] = { pathf(state, 0, "000001.vlog"), pathf(state, 1, "000002.vlog") };

	for (int i = 0; i < 2; i++) {
		const wb_env *env = envs[i];
		wb_env_file *f;
		uint64_t size;
		struct stat st;

		assert_non_null(env->preallocate);
		assert_int_equal(env->open(env->ctx, paths[i], WB_ENV_READ | WB_ENV_WRITE | WB_ENV_CREATE, &f),
				 WB_OK);
		assert_int_equal(env->append(f, "hello", 5), WB_OK);
		assert_int_equal(env->sync(f), WB_OK);
		int rc = env->preallocate(f, 0, 1 << 20);
		if (rc == WB_OK) { /* the file system may not support it */
			assert_int_equal(stat(paths[i], &st), 0);
			assert_true((long long)st.st_blocks * 512 >= 1 << 20);
		}
		assert_int_equal(env->size(f, &size), WB_OK);
		assert_int_equal(size, 5);
		assert_int_equal(env->append(f, " world", 6), WB_OK);
		assert_int_equal(env->close(f), WB_OK);
		assert_content(paths[i], "hello world");
	}
	assert_int_equal(fault_env_power_loss(fe), WB_OK);
	assert_content(paths[1], "hello");
	fault_env_free(fe);
}

static void test_posix_open_flags(void **state)
{
	const wb_env *env = wb_env_default();
	const char *p = pathf(state, 0, "MANIFEST-000002");
	const char *missing = pathf(state, 1, "000012.wal");
	wb_env_file *f = (wb_env_file *)&f;

	assert_int_equal(env->open(env->ctx, missing, WB_ENV_READ, &f), WB_ENOTFOUND);
	assert_null(f);
	assert_non_null(strstr(err_message(), "000012.wal"));
	assert_int_equal(env->open(env->ctx, missing, WB_ENV_WRITE, &f), WB_ENOTFOUND);
	assert_int_equal(env->open(env->ctx, p, 0, &f), WB_EINVAL);
	assert_int_equal(env->open(env->ctx, p, WB_ENV_READ | WB_ENV_TRUNCATE, &f), WB_EINVAL);

	put_file(env, p, "abc", false);
	assert_int_equal(env->open(env->ctx, p, WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_EXCL, &f), WB_EEXIST);

	/* WRITE alone appends after what is there. */
	assert_int_equal(env->open(env->ctx, p, WB_ENV_WRITE, &f), WB_OK);
	assert_int_equal(env->append(f, "def", 3), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	assert_content(p, "abcdef");

	assert_int_equal(env->open(env->ctx, p, WB_ENV_WRITE | WB_ENV_TRUNCATE, &f), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	assert_int_equal(disk_size(p), 0);
}

/* Large enough that read and write loops would show a missed short count. */
static void test_posix_large(void **state)
{
	const wb_env *env = wb_env_default();
	const char *p = pathf(state, 0, "000003.sst");
	size_t len = 3u << 20, n;
	unsigned char *data = malloc(len), *back = malloc(len);
	wb_env_file *f;

	assert_non_null(data);
	assert_non_null(back);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 131 + (i >> 12));
	assert_int_equal(env->open(env->ctx, p, WB_ENV_WRITE | WB_ENV_CREATE, &f), WB_OK);
	assert_int_equal(env->append(f, data, len), WB_OK);
	/* Write-behind as the streaming writer uses it: start, then wait. */
	assert_non_null(env->writeback);
	assert_int_equal(env->writeback(f, 0, len / 2, 0), WB_OK);
	assert_int_equal(env->writeback(f, len / 2, len - len / 2, 0), WB_OK);
	assert_int_equal(env->writeback(f, 0, len, 1), WB_OK);
	assert_int_equal(env->close(f), WB_OK);

	assert_int_equal(env->open(env->ctx, p, WB_ENV_READ, &f), WB_OK);
	assert_int_equal(env->read_at(f, 0, back, len, &n), WB_OK);
	assert_int_equal(n, len);
	assert_memory_equal(back, data, len);
	assert_int_equal(env->read_at(f, 12345, back, len, &n), WB_OK);
	assert_int_equal(n, len - 12345);
	assert_memory_equal(back, data + 12345, n);
	env->close(f);
	free(data);
	free(back);
}

struct names {
	int count;
	bool seen_a, seen_b, seen_sub;
	int stop_after; /* return WB_ECORRUPT at this call (0: never) */
};

static int collect(void *arg, const char *name)
{
	struct names *nm = arg;

	nm->count++;
	assert_string_not_equal(name, ".");
	assert_string_not_equal(name, "..");
	nm->seen_a |= strcmp(name, "a") == 0;
	nm->seen_b |= strcmp(name, "b") == 0;
	nm->seen_sub |= strcmp(name, "sub") == 0;
	return nm->count == nm->stop_after ? WB_ECORRUPT : WB_OK;
}

static void test_posix_dirs(void **state)
{
	const wb_env *env = wb_env_default();
	struct fixture *fx = *state;
	const char *a = pathf(state, 0, "a");
	const char *b = pathf(state, 1, "b");
	const char *c = pathf(state, 2, "c");
	const char *sub = pathf(state, 3, "sub");
	struct names nm = { 0 };

	assert_int_equal(env->mkdir(env->ctx, sub), WB_OK);
	assert_int_equal(env->mkdir(env->ctx, sub), WB_EEXIST);
	put_file(env, a, "1", false);
	put_file(env, c, "3", false);
	assert_int_equal(env->rename(env->ctx, c, b), WB_OK);
	assert_int_equal(disk_size(c), -1);
	assert_content(b, "3");
	assert_int_equal(env->rename(env->ctx, c, b), WB_ENOTFOUND);
	assert_int_equal(env->sync_dir(env->ctx, fx->dir), WB_OK);
	assert_int_equal(env->sync_dir(env->ctx, c), WB_ENOTFOUND);

	assert_int_equal(env->list(env->ctx, fx->dir, collect, &nm), WB_OK);
	assert_int_equal(nm.count, 3);
	assert_true(nm.seen_a && nm.seen_b && nm.seen_sub);
	nm = (struct names){ .stop_after = 2 };
	assert_int_equal(env->list(env->ctx, fx->dir, collect, &nm), WB_ECORRUPT);
	assert_int_equal(nm.count, 2);
	assert_int_equal(env->list(env->ctx, c, collect, &nm), WB_ENOTFOUND);

	assert_int_equal(env->remove(env->ctx, a), WB_OK);
	assert_int_equal(env->remove(env->ctx, a), WB_ENOTFOUND);
	assert_int_equal(env->remove(env->ctx, sub), WB_OK); /* an empty directory */
	assert_int_equal(disk_size(sub), -1);
}

static void test_posix_lock(void **state)
{
	const wb_env *env = wb_env_default();
	const char *p = pathf(state, 0, "LOCK");
	wb_env_file *l1, *l2 = (wb_env_file *)&l2;
	long holder = -1;
	char want[32];

	assert_int_equal(env->lock(env->ctx, p, &l1, &holder), WB_OK);
	assert_int_equal(holder, 0);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	assert_content(p, want);

	/* flock locks the open file description, so a second open of the same
	 * path conflicts even inside this process. */
	assert_int_equal(env->lock(env->ctx, p, &l2, &holder), WB_EBUSY);
	assert_null(l2);
	assert_int_equal(holder, (long)getpid());
	assert_non_null(strstr(err_message(), "LOCK"));
	assert_int_equal(env->lock(env->ctx, p, &l2, NULL), WB_EBUSY);
	assert_content(p, want); /* the loser did not disturb the pid */

	assert_int_equal(env->unlock(env->ctx, l1), WB_OK);
	assert_int_equal(env->lock(env->ctx, p, &l2, &holder), WB_OK);
	assert_int_equal(env->unlock(env->ctx, l2), WB_OK);
}

/* ---- fault env ---- */

static void test_fault_power_loss(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	const wb_env *posix = wb_env_default();
	const char *synced = pathf(state, 0, "000001.wal");
	const char *fresh = pathf(state, 1, "000002.wal");
	const char *old = pathf(state, 2, "000003.sst");
	const char *old_trunc = pathf(state, 3, "000004.vlog");
	wb_env_file *f;

	assert_non_null(fe);
	/* Written before the fault env watched them: durable as they are. */
	put_file(posix, old, "xxxx", false);
	put_file(posix, old_trunc, "yyyy", false);

	assert_int_equal(env->open(env->ctx, synced, WB_ENV_WRITE | WB_ENV_CREATE, &f), WB_OK);
	assert_int_equal(env->append(f, "abc", 3), WB_OK);
	assert_int_equal(env->sync(f), WB_OK);
	assert_int_equal(env->append(f, "def", 3), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	put_file(env, fresh, "never synced", false);

	assert_int_equal(env->open(env->ctx, old, WB_ENV_WRITE, &f), WB_OK);
	assert_int_equal(env->append(f, "zz", 2), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	assert_int_equal(env->open(env->ctx, old_trunc, WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_TRUNCATE, &f),
			 WB_OK);
	assert_int_equal(env->append(f, "zz", 2), WB_OK);
	assert_int_equal(env->close(f), WB_OK);

	assert_int_equal(disk_size(synced), 6);
	assert_int_equal(disk_size(fresh), 12);
	assert_int_equal(fault_env_power_loss(fe), WB_OK);
	assert_content(synced, "abc");
	assert_int_equal(disk_size(fresh), -1);
	assert_content(old, "xxxx");
	assert_int_equal(disk_size(old_trunc), 0); /* the truncation was durable */

	/* The env keeps working, and a second power cut loses nothing more. */
	assert_int_equal(env->open(env->ctx, synced, WB_ENV_WRITE, &f), WB_OK);
	assert_int_equal(env->append(f, "ghi", 3), WB_OK);
	assert_int_equal(env->sync(f), WB_OK);
	assert_int_equal(env->append(f, "jkl", 3), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	assert_int_equal(fault_env_power_loss(fe), WB_OK);
	assert_content(synced, "abcghi");
	assert_content(old, "xxxx");
	fault_env_free(fe);
}

/* writeback passes through and can fail, but makes nothing durable. */
static void test_fault_writeback(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	const char *p = pathf(state, 0, "000005.vlog");
	wb_env_file *f;

	assert_non_null(env->writeback);
	assert_int_equal(env->open(env->ctx, p, WB_ENV_WRITE | WB_ENV_CREATE, &f), WB_OK);
	assert_int_equal(env->append(f, "abc", 3), WB_OK);
	assert_int_equal(env->sync(f), WB_OK);
	assert_int_equal(env->append(f, "def", 3), WB_OK);
	fault_env_fail_nth(fe, FAULT_WRITEBACK, 1, WB_EIO, FAULT_ONCE);
	assert_int_equal(env->writeback(f, 0, 6, 1), WB_EIO);
	assert_int_equal(env->writeback(f, 0, 6, 0), WB_OK);
	assert_int_equal(env->writeback(f, 0, 6, 1), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	assert_int_equal(fault_env_power_loss(fe), WB_OK);
	assert_content(p, "abc");
	fault_env_free(fe);

	/* Over an env without it, the fault env has none either. */
	wb_env bare = *wb_env_default();
	bare.writeback = NULL;
	fe = fault_env_new(&bare);
	assert_null(fault_env_get(fe)->writeback);
	fault_env_free(fe);
}

static void test_fault_rename_remove(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	const char *tmp = pathf(state, 0, "CURRENT.tmp");
	const char *cur = pathf(state, 1, "CURRENT");
	const char *other = pathf(state, 2, "other");
	const char *gone = pathf(state, 3, "gone");
	wb_env_file *f;

	/* The state follows the file to its new name. */
	put_file(env, tmp, "MANIFEST-1\n", true);
	assert_int_equal(env->rename(env->ctx, tmp, cur), WB_OK);
	assert_int_equal(env->open(env->ctx, cur, WB_ENV_WRITE, &f), WB_OK);
	assert_int_equal(env->append(f, "junk", 4), WB_OK);
	assert_int_equal(env->close(f), WB_OK);

	/* Renamed over a synced file, a never-synced file still disappears. */
	put_file(env, other, "synced", true);
	put_file(env, tmp, "not synced", false);
	assert_int_equal(env->rename(env->ctx, tmp, other), WB_OK);

	/* A remove is durable: nothing comes back. */
	put_file(env, gone, "synced", true);
	assert_int_equal(env->remove(env->ctx, gone), WB_OK);

	assert_int_equal(fault_env_power_loss(fe), WB_OK);
	assert_content(cur, "MANIFEST-1\n");
	assert_int_equal(disk_size(tmp), -1);
	assert_int_equal(disk_size(other), -1);
	assert_int_equal(disk_size(gone), -1);
	fault_env_free(fe);
}

static void test_fault_truncate(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	const char *p = pathf(state, 0, "000007.wal");
	wb_env_file *f;

	assert_int_equal(env->open(env->ctx, p, WB_ENV_READ | WB_ENV_WRITE | WB_ENV_CREATE, &f), WB_OK);
	assert_int_equal(env->append(f, "0123456789", 10), WB_OK);
	assert_int_equal(env->sync(f), WB_OK);
	assert_int_equal(env->truncate(f, 4), WB_OK);  /* shrinking: durable at once */
	assert_int_equal(env->truncate(f, 8), WB_OK);  /* growing: not until a sync */
	assert_int_equal(disk_size(p), 8);
	assert_int_equal(fault_env_power_loss(fe), WB_OK);
	assert_content(p, "0123");
	/* The handle opened before the power cut still works and is tracked. */
	assert_int_equal(env->append(f, "ab", 2), WB_OK);
	assert_int_equal(env->sync(f), WB_OK);
	assert_int_equal(env->append(f, "cd", 2), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	assert_int_equal(fault_env_power_loss(fe), WB_OK);
	assert_content(p, "0123ab");
	fault_env_free(fe);
}

static void test_fault_fail_once(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	const char *p = pathf(state, 0, "000008.vlog");
	struct fault_env_counts c;
	wb_env_file *f;

	assert_int_equal(env->open(env->ctx, p, WB_ENV_WRITE | WB_ENV_CREATE, &f), WB_OK);
	fault_env_fail_nth(fe, FAULT_APPEND, 3, WB_ENOSPC, FAULT_ONCE);
	assert_int_equal(env->append(f, "a", 1), WB_OK);
	assert_int_equal(env->append(f, "b", 1), WB_OK);
	assert_int_equal(env->append(f, "c", 1), WB_ENOSPC);
	assert_non_null(strstr(err_message(), "000008.vlog"));
	assert_int_equal(env->append(f, "d", 1), WB_OK);
	assert_int_equal(env->append(f, "e", 1), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	assert_content(p, "abde"); /* the failed append wrote nothing */

	fault_env_counts(fe, &c);
	assert_int_equal(c.calls[FAULT_APPEND], 5);
	assert_int_equal(c.bytes_appended, 4);
	fault_env_free(fe);
}

static void test_fault_fail_sticky(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	const char *p = pathf(state, 0, "000009.wal");
	wb_env_file *f;

	assert_int_equal(env->open(env->ctx, p, WB_ENV_WRITE | WB_ENV_CREATE, &f), WB_OK);
	fault_env_fail_nth(fe, FAULT_SYNC, 2, WB_EIO, FAULT_STICKY);
	assert_int_equal(env->append(f, "one", 3), WB_OK);
	assert_int_equal(env->sync(f), WB_OK);
	assert_int_equal(env->append(f, "two", 3), WB_OK);
	assert_int_equal(env->sync(f), WB_EIO);
	assert_int_equal(env->sync(f), WB_EIO);
	assert_int_equal(env->sync(f), WB_EIO);
	assert_int_equal(env->append(f, "three", 5), WB_OK); /* other kinds unaffected */

	fault_env_clear_faults(fe);
	assert_int_equal(env->append(f, "four", 4), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	/* The failed syncs made nothing durable. */
	assert_int_equal(fault_env_power_loss(fe), WB_OK);
	assert_content(p, "one");
	fault_env_free(fe);
}

static void test_fault_fail_other_ops(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	struct fixture *fx = *state;
	const char *a = pathf(state, 0, "a");
	const char *b = pathf(state, 1, "b");
	wb_env_file *f;
	char buf[8];
	size_t n;

	put_file(env, a, "aaa", true);
	fault_env_fail_nth(fe, FAULT_RENAME, 1, WB_EIO, FAULT_ONCE);
	assert_int_equal(env->rename(env->ctx, a, b), WB_EIO);
	assert_int_equal(disk_size(b), -1);
	assert_int_equal(env->rename(env->ctx, a, b), WB_OK);

	fault_env_fail_nth(fe, FAULT_OPEN_WRITE, 1, WB_ENOSPC, FAULT_ONCE);
	assert_int_equal(env->open(env->ctx, b, WB_ENV_READ, &f), WB_OK); /* a read open is another kind */
	fault_env_fail_nth(fe, FAULT_READ, 1, WB_EIO, FAULT_ONCE);
	assert_int_equal(env->read_at(f, 0, buf, sizeof(buf), &n), WB_EIO);
	assert_int_equal(env->read_at(f, 0, buf, sizeof(buf), &n), WB_OK);
	assert_int_equal(n, 3);
	assert_int_equal(env->close(f), WB_OK);
	assert_int_equal(env->open(env->ctx, a, WB_ENV_WRITE | WB_ENV_CREATE, &f), WB_ENOSPC);
	assert_null(f);
	assert_int_equal(disk_size(a), -1);

	fault_env_fail_nth(fe, FAULT_REMOVE, 1, WB_EIO, FAULT_ONCE);
	assert_int_equal(env->remove(env->ctx, b), WB_EIO);
	assert_int_equal(disk_size(b), 3);
	fault_env_fail_nth(fe, FAULT_SYNC_DIR, 1, WB_EIO, FAULT_ONCE);
	assert_int_equal(env->sync_dir(env->ctx, fx->dir), WB_EIO);
	assert_int_equal(env->sync_dir(env->ctx, fx->dir), WB_OK);
	fault_env_free(fe);
}

static void test_fault_tear(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	const char *p = pathf(state, 0, "000010.wal");
	struct fault_env_counts c;
	wb_env_file *f;

	assert_int_equal(env->open(env->ctx, p, WB_ENV_WRITE | WB_ENV_CREATE, &f), WB_OK);
	assert_int_equal(env->append(f, "head", 4), WB_OK);
	assert_int_equal(env->sync(f), WB_OK);
	fault_env_tear_next_append(fe, 3);
	assert_int_equal(env->append(f, "0123456789", 10), WB_OK);
	assert_int_equal(disk_size(p), 7);
	assert_int_equal(env->append(f, "xyz", 3), WB_OK); /* one-shot */
	assert_content(p, "head012xyz");
	fault_env_tear_next_append(fe, 100); /* longer than the append: all of it */
	assert_int_equal(env->append(f, "!", 1), WB_OK);
	assert_int_equal(env->sync(f), WB_OK);
	fault_env_tear_next_append(fe, 0);
	assert_int_equal(env->append(f, "lost", 4), WB_OK);
	assert_int_equal(env->close(f), WB_OK);
	assert_content(p, "head012xyz!");

	fault_env_counts(fe, &c);
	assert_int_equal(c.calls[FAULT_APPEND], 5);
	assert_int_equal(c.bytes_appended, 11);
	assert_int_equal(c.calls[FAULT_SYNC], 2);
	fault_env_free(fe);
}

static void test_fault_kill(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	struct fixture *fx = *state;
	const char *a = pathf(state, 0, "a");
	const char *b = pathf(state, 1, "b");
	const char *c = pathf(state, 2, "c");
	const char *d = pathf(state, 3, "d");
	wb_env_file *fa, *fb, *f;
	char buf[16];
	size_t n;

	assert_int_equal(env->open(env->ctx, a, WB_ENV_WRITE | WB_ENV_CREATE, &fa), WB_OK);
	assert_int_equal(env->open(env->ctx, b, WB_ENV_READ | WB_ENV_WRITE | WB_ENV_CREATE, &fb), WB_OK);
	fault_env_kill_after_bytes(fe, 10);
	assert_int_equal(env->append(fa, "aaaaaa", 6), WB_OK);
	assert_int_equal(env->sync(fa), WB_OK);
	assert_false(fault_env_killed(fe));
	assert_int_equal(env->append(fb, "bbbbbb", 6), WB_EIO); /* crosses the point */
	assert_true(fault_env_killed(fe));
	assert_int_equal(disk_size(a), 6);
	assert_int_equal(disk_size(b), 4);

	/* Dead: nothing reaches the disk any more. */
	assert_int_equal(env->append(fa, "a", 1), WB_EIO);
	assert_int_equal(env->sync(fb), WB_EIO);
	assert_int_equal(env->truncate(fb, 0), WB_EIO);
	assert_int_equal(env->rename(env->ctx, a, c), WB_EIO);
	assert_int_equal(env->remove(env->ctx, a), WB_EIO);
	assert_int_equal(env->mkdir(env->ctx, d), WB_EIO);
	assert_int_equal(env->sync_dir(env->ctx, fx->dir), WB_EIO);
	assert_int_equal(env->open(env->ctx, c, WB_ENV_WRITE | WB_ENV_CREATE, &f), WB_EIO);
	assert_int_equal(disk_size(a), 6);
	assert_int_equal(disk_size(c), -1);
	assert_int_equal(disk_size(d), -1);
	/* ...but reads and closes still work, so the database can shut down. */
	assert_int_equal(env->read_at(fb, 0, buf, sizeof(buf), &n), WB_OK);
	assert_int_equal(n, 4);
	assert_int_equal(env->open(env->ctx, a, WB_ENV_READ, &f), WB_OK);
	assert_int_equal(env->close(f), WB_OK);

	fault_env_clear_faults(fe);
	assert_false(fault_env_killed(fe));
	assert_int_equal(env->append(fa, "a", 1), WB_OK);
	assert_int_equal(disk_size(a), 7);

	/* An append that ends exactly on the point succeeds; the next fails. */
	fault_env_kill_after_bytes(fe, 3);
	assert_int_equal(env->append(fa, "xyz", 3), WB_OK);
	assert_true(fault_env_killed(fe));
	assert_int_equal(env->append(fa, "x", 1), WB_EIO);
	assert_int_equal(disk_size(a), 10);

	/* A kill point of 0 is immediate. */
	fault_env_clear_faults(fe);
	fault_env_kill_after_bytes(fe, 0);
	assert_true(fault_env_killed(fe));
	assert_int_equal(env->append(fa, "x", 1), WB_EIO);

	/* Kill plus power loss: only what was synced survives (a: 6 bytes);
	 * b was never synced and goes. The power cut also revives the env. */
	assert_int_equal(env->close(fa), WB_OK);
	assert_int_equal(env->close(fb), WB_OK);
	assert_int_equal(fault_env_power_loss(fe), WB_OK);
	assert_false(fault_env_killed(fe));
	assert_content(a, "aaaaaa");
	assert_int_equal(disk_size(b), -1);
	fault_env_free(fe);
}

static void test_fault_lock(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	const wb_env *env = fault_env_get(fe);
	const wb_env *posix = wb_env_default();
	const char *p = pathf(state, 0, "LOCK");
	wb_env_file *l, *l2;
	long holder = 0;

	assert_int_equal(env->lock(env->ctx, p, &l, &holder), WB_OK);
	assert_int_equal(posix->lock(posix->ctx, p, &l2, &holder), WB_EBUSY);
	assert_int_equal(holder, (long)getpid());
	assert_int_equal(env->lock(env->ctx, p, &l2, &holder), WB_EBUSY);
	assert_int_equal(env->unlock(env->ctx, l), WB_OK);
	assert_int_equal(posix->lock(posix->ctx, p, &l2, &holder), WB_OK);
	assert_int_equal(posix->unlock(posix->ctx, l2), WB_OK);
	fault_env_free(fe);
}

#define THREADS 4
#define APPENDS 205 /* a sync after every 10th: the last 5 stay unsynced */

struct worker {
	const wb_env *env;
	char path[256];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const wb_env *env = w->env;
	char rec[100];
	wb_env_file *f;

	memset(rec, 'r', sizeof(rec));
	if (env->open(env->ctx, w->path, WB_ENV_WRITE | WB_ENV_CREATE, &f) != WB_OK)
		return "open";
	for (int i = 1; i <= APPENDS; i++) {
		if (env->append(f, rec, sizeof(rec)) != WB_OK)
			return "append";
		if (i % 10 == 0 && env->sync(f) != WB_OK)
			return "sync";
	}
	return env->close(f) == WB_OK ? NULL : "close";
}

static void test_fault_threads(void **state)
{
	fault_env_t *fe = fault_env_new(NULL);
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	struct fault_env_counts c;

	for (int i = 0; i < THREADS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%06d.wal", i);
		w[i].env = fault_env_get(fe);
		snprintf(w[i].path, sizeof(w[i].path), "%s", pathf(state, 0, name));
		assert_int_equal(pthread_create(&tid[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *res;
		assert_int_equal(pthread_join(tid[i], &res), 0);
		assert_null(res);
	}
	fault_env_counts(fe, &c);
	assert_int_equal(c.calls[FAULT_APPEND], THREADS * APPENDS);
	assert_int_equal(c.calls[FAULT_SYNC], THREADS * (APPENDS / 10));
	assert_int_equal(c.bytes_appended, THREADS * APPENDS * 100);
	assert_int_equal(c.calls[FAULT_OPEN_WRITE], THREADS);

	assert_int_equal(fault_env_power_loss(fe), WB_OK);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(disk_size(w[i].path), (APPENDS / 10) * 10 * 100);
	fault_env_free(fe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_posix_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_posix_open_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preallocate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_posix_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_posix_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_posix_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_power_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_writeback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_rename_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_truncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_fail_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_fail_sticky, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_fail_other_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_tear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
