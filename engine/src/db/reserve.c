/*
 * reserve.c -- the disk reserve (reserve.h): the RESERVE file filled with
 * zeros through the env, removed when the disk is full, made again when
 * there is room.
 */
#include "db/reserve.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "util/error.h"

#define FILL_CHUNK (1u << 20)

void reserve_init(reserve_t *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
}

void reserve_destroy(reserve_t *r)
{
	pthread_mutex_destroy(&r->mu);
}

static void reserve_path(const wb_db *db, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", db->dir, RESERVE_NAME);
}

/* Appends zeros to f from size up to want. */
static int append_zeros(wb_db *db, wb_env_file *f, uint64_t size, uint64_t want)
{
	uint8_t *zeros = calloc(1, FILL_CHUNK);
	int rc = zeros ? WB_OK : WB_ENOMEM;
	while (rc == WB_OK && size < want) {
		size_t n = want - size < FILL_CHUNK ? (size_t)(want - size) : FILL_CHUNK;
		rc = db->env->append(f, zeros, n);
		size += n;
	}
	free(zeros);
	return rc;
}

/* REQUIRES: r->mu. Not synced: a reserve a crash cut short is made whole
 * again at the next open, and the blocks are the file system's as soon as
 * the bytes are written. */
static int fill_locked(wb_db *db)
{
	reserve_t *r = &db->reserve;
	const wb_env *env = db->env;
	uint64_t want = db->opts.disk_reserve;
	char path[PATH_MAX];
	reserve_path(db, path, sizeof(path));
	if (want == 0) { /* turned off: an old reserve goes */
		int rc = env->remove(env->ctx, path);
		atomic_store(&r->bytes, 0);
		return rc == WB_ENOTFOUND ? WB_OK : rc;
	}
	wb_env_file *f = NULL;
	uint64_t size = 0;
	int rc = env->open(env->ctx, path, WB_ENV_READ | WB_ENV_WRITE | WB_ENV_CREATE, &f);
	if (rc == WB_OK)
		rc = env->size(f, &size);
	bool grew = rc == WB_OK && size < want;
	if (rc == WB_OK && size > want)
		rc = env->truncate(f, want);
	else if (grew)
		rc = append_zeros(db, f, size, want);
	if (f != NULL && env->close(f) != WB_OK && rc == WB_OK)
		rc = WB_EIO;
	if (rc != WB_OK) {
		char why[300];
		snprintf(why, sizeof(why), "%s", err_message());
		env->remove(env->ctx, path); /* the last bytes of a nearly full disk are the user's */
		atomic_store(&r->bytes, 0);
		return err_set(rc, "no room to make %s of %llu bytes again: %s", RESERVE_NAME,
			       (unsigned long long)want, *why ? why : wb_strerror(rc));
	}
	atomic_store(&r->bytes, want);
	r->released = false;
	if (grew)
		info_log(db->info, "disk reserve: %s holds %llu bytes, given back when the disk is full",
			 RESERVE_NAME, (unsigned long long)want);
	return WB_OK;
}

int reserve_fill(wb_db *db)
{
	pthread_mutex_lock(&db->reserve.mu);
	int rc = fill_locked(db);
	pthread_mutex_unlock(&db->reserve.mu);
	if (rc != WB_OK)
		info_log(db->info, "disk reserve: %s; going on without one", err_message());
	return rc;
}

bool reserve_release(wb_db *db, const char *why)
{
	reserve_t *r = &db->reserve;
	if (db->opts.disk_reserve == 0)
		return false;
	char path[PATH_MAX];
	reserve_path(db, path, sizeof(path));
	char saved[512]; /* the caller's error stays the one to report */
	snprintf(saved, sizeof(saved), "%s", err_message());
	pthread_mutex_lock(&r->mu);
	bool now = db->env->remove(db->env->ctx, path) == WB_OK, again = now || r->released;
	if (now) {
		atomic_store(&r->bytes, 0);
		r->released = true;
	}
	pthread_mutex_unlock(&r->mu);
	if (now)
		bgerror_fail(&db->bg, BG_DISK_FULL, WB_ENOSPC,
			     "the disk is full: gave back %s (%llu bytes) %s", RESERVE_NAME, (unsigned long long)db->opts.disk_reserve, why);
	err_set(WB_OK, "%s", saved);
	return again;
}

void reserve_retry(wb_db *db, bool now)
{
	reserve_t *r = &db->reserve;
	if (!bgerror_failing(&db->bg, BG_DISK_FULL) ||
	    (!now && bgerror_retry_wait(&db->bg, BG_DISK_FULL) > 0))
		return;
	pthread_mutex_lock(&r->mu);
	int rc = r->released ? fill_locked(db) : WB_OK;
	pthread_mutex_unlock(&r->mu);
	if (rc == WB_OK)
		bgerror_ok(&db->bg, BG_DISK_FULL);
	else
		bgerror_fail(&db->bg, BG_DISK_FULL, WB_ENOSPC, "the disk is still full");
}

/* The size of RESERVE on disk (0 when missing), for a read-only database,
 * which neither makes nor gives back the reserve. */
static uint64_t size_on_disk(wb_db *db)
{
	char path[PATH_MAX];
	reserve_path(db, path, sizeof(path));
	char saved[512];
	snprintf(saved, sizeof(saved), "%s", err_message());
	wb_env_file *f;
	uint64_t size = 0;
	if (db->env->open(db->env->ctx, path, WB_ENV_READ, &f) == WB_OK) {
		if (db->env->size(f, &size) != WB_OK)
			size = 0;
		db->env->close(f);
	}
	err_set(WB_OK, "%s", saved);
	return size;
}

void reserve_report(wb_db *db, bool json, reserve_sink_fn sink, void *arg)
{
	reserve_t *r = &db->reserve;
	uint64_t want = db->opts.disk_reserve, have = atomic_load(&r->bytes);
	if (db->opts.read_only) {
		have = size_on_disk(db);
		if (json)
			sink(arg, "\"disk_reserve\":{\"file\":\"%s\",\"bytes\":%llu,\"wanted\":null}",
			     RESERVE_NAME, (unsigned long long)have);
		else
			sink(arg, "disk reserve: %llu bytes in %s (this read-only open leaves it alone)\n",
			     (unsigned long long)have, RESERVE_NAME);
		return;
	}
	if (json)
		sink(arg, "\"disk_reserve\":{\"file\":\"%s\",\"bytes\":%llu,\"wanted\":%llu}", RESERVE_NAME,
		     (unsigned long long)have, (unsigned long long)want);
	else if (want == 0)
		sink(arg, "disk reserve: off\n");
	else if (have == want)
		sink(arg, "disk reserve: %llu bytes in %s, given back when the disk is full\n",
		     (unsigned long long)have, RESERVE_NAME);
	else
		sink(arg,
		     "disk reserve: none (given back, or no room for its %llu bytes); made again at an open "
		     "with room, or once reclaim gives back twice that\n",
		     (unsigned long long)want);
}
