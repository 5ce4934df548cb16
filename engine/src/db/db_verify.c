/*
 * db_verify.c -- wb_verify: read every live file and check every checksum.
 *
 * Tables: every block (sst_reader_verify). Value-log segments: every
 * entry, walked from the header (vlog_verify). Logs: every record of the
 * MANIFEST and of each WAL still needed. A torn tail is not damage (it is
 * what a crash leaves, and the active WAL may be mid-append while we read);
 * damage in the middle of a log is. Runs alongside normal use: the version
 * is pinned, so no table goes away under it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "db/db_impl.h"
#include "util/error.h"

static int verify_log(wb_db *db, const char *path, enum log_kind kind)
{
	log_reader_t *r;
	int rc = log_reader_open(db->env, path, kind, &r);
	if (rc == WB_ENOTFOUND)
		return WB_OK; /* removed by a flush meanwhile */
	if (rc != WB_OK)
		return rc;
	slice_t rec;
	while ((rc = log_reader_next(r, &rec)) == WB_OK)
		;
	log_reader_close(r);
	return rc == WB_ENOTFOUND ? WB_OK : rc;
}

int wb_verify(wb_db *db, void (*progress)(void *arg, const char *file), void *arg)
{
	err_clear();
	char path[PATH_MAX];
	db_snapshot_t s;
	db_snapshot_take(db, &s);
	int rc = WB_OK;
	for (int l = 0; rc == WB_OK && l < NUM_LEVELS; l++) {
		for (int i = 0; rc == WB_OK && i < s.version->nfiles[l]; i++) {
			file_meta_t *f = s.version->files[l][i];
			db_filename(path, sizeof(path), db->dir, FILE_SST, f->number);
			if (progress)
				progress(arg, path);
			rc = sst_reader_verify(f->reader);
		}
	}
	db_snapshot_release(&s);
	if (rc != WB_OK)
		return rc;

	vset_lock(&db->vs);
	db_filename(path, sizeof(path), db->dir, FILE_MANIFEST, db->vs.manifest_number);
	if (progress)
		progress(arg, path);
	rc = verify_log(db, path, LOG_KIND_MANIFEST);
	vset_unlock(&db->vs);
	if (rc != WB_OK)
		return rc;

	uint64_t *wals = NULL;
	int n = 0;
	rc = db_list_wals(db, &wals, &n, NULL);
	pthread_mutex_lock(&db->mu);
	uint64_t log_number = db->vs.log_number;
	pthread_mutex_unlock(&db->mu);
	for (int i = 0; rc == WB_OK && i < n; i++) {
		if (wals[i] < log_number)
			continue;
		db_filename(path, sizeof(path), db->dir, FILE_WAL, wals[i]);
		if (progress)
			progress(arg, path);
		rc = verify_log(db, path, LOG_KIND_WAL);
	}
	free(wals);
	if (rc == WB_OK)
		rc = vlog_verify(&db->vlog, progress, arg);
	return rc;
}
