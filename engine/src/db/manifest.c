/*
 * manifest.c -- the MANIFEST (log of version edits) and CURRENT (the name of
 * the live MANIFEST). Format: docs/format.md, "MANIFEST" and "CURRENT".
 *
 * Every open writes a fresh MANIFEST holding one snapshot edit of the whole
 * tree, points CURRENT at it (temp file + fsync + rename + directory fsync,
 * so CURRENT is always whole), then removes the previous MANIFEST. Later
 * edits are appended and fsynced before the change they describe is used.
 * An edit whose append or sync failed may or may not be in the file, so the
 * next edit first starts a new MANIFEST holding the installed version: the
 * unknown edit never stays in front of later ones.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "db/db_impl.h"
#include "util/error.h"

/* *renamed tells whether CURRENT was replaced (it then names the new
 * MANIFEST even if a later step failed). */
static int write_current(wb_db *db, uint64_t manifest_number, bool *renamed)
{
	char tmp[PATH_MAX], cur[PATH_MAX], body[64];
	db_filename(tmp, sizeof(tmp), db->dir, FILE_TEMP, manifest_number);
	db_filename(cur, sizeof(cur), db->dir, FILE_CURRENT, 0);
	int n = snprintf(body, sizeof(body), "MANIFEST-%06llu\n", (unsigned long long)manifest_number);
	wb_env_file *f;
	int rc = db->env->open(db->env->ctx, tmp, WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_TRUNCATE, &f);
	if (rc != WB_OK)
		return err_set(rc, "%s: create failed: %s", tmp, wb_strerror(rc));
	rc = db->env->append(f, body, (size_t)n);
	if (rc == WB_OK)
		rc = db->env->sync(f);
	int crc = db->env->close(f);
	if (rc == WB_OK)
		rc = crc;
	*renamed = false;
	if (rc == WB_OK) {
		rc = db->env->rename(db->env->ctx, tmp, cur);
		*renamed = rc == WB_OK;
	}
	if (rc == WB_OK)
		rc = db->env->sync_dir(db->env->ctx, db->dir);
	if (rc != WB_OK) {
		if (!*renamed)
			db->env->remove(db->env->ctx, tmp);
		return err_set(rc, "%s: cannot update: %s", cur, wb_strerror(rc));
	}
	return WB_OK;
}

int manifest_write_snapshot(wb_db *db, version_t *v, uint64_t number)
{
	char path[PATH_MAX];
	db_filename(path, sizeof(path), db->dir, FILE_MANIFEST, number);
	version_edit_t e;
	edit_init(&e);
	e.has_log_number = e.has_next_file = e.has_last_ts = true;
	pthread_mutex_lock(&db->mu); /* writers move next_file */
	e.log_number = db->log_number;
	e.next_file = db->next_file;
	e.last_ts = hlc_last(&db->clock);
	int rc = WB_OK;
	for (int i = 0; i < db->discard_totals.ndiscards && rc == WB_OK; i++)
		if (!vlog_is_dead(db, db->discard_totals.discards[i].segment))
			rc = edit_add_discard(&e, db->discard_totals.discards[i].segment,
					      db->discard_totals.discards[i].bytes);
	uint64_t log_number = db->log_number;
	pthread_mutex_unlock(&db->mu);
	uint64_t *segs = NULL;
	int nsegs = 0;
	if (rc == WB_OK)
		rc = vlog_manifest_add(db, &e, true, log_number, &segs, &nsegs);
	for (int l = 0; l < NUM_LEVELS && rc == WB_OK; l++)
		for (int i = 0; i < v->nfiles[l] && rc == WB_OK; i++)
			rc = edit_add_file(&e, l, v->files[l][i]);
	uint8_t *buf = NULL;
	size_t len = 0;
	if (rc == WB_OK)
		rc = edit_encode(&e, &buf, &len);
	edit_destroy(&e);
	if (rc != WB_OK) {
		free(segs);
		return rc;
	}

	log_writer_t *w = NULL;
	rc = log_writer_create(db->env, path, LOG_KIND_MANIFEST, &w);
	if (rc == WB_OK)
		rc = log_writer_add(w, slice_make(buf, len));
	if (rc == WB_OK)
		rc = log_writer_sync(w);
	free(buf);
	bool renamed = false;
	if (rc == WB_OK)
		rc = write_current(db, number, &renamed);
	if (rc != WB_OK && !renamed) {
		log_writer_close(w);
		db->env->remove(db->env->ctx, path);
		free(segs);
		return rc;
	}
	if (rc == WB_OK)
		vlog_mark_recorded(db, segs, nsegs);
	free(segs);
	/* Once CURRENT was renamed it may name the new file: edits go there. */
	uint64_t old = db->manifest_number;
	log_writer_close(db->manifest);
	db->manifest = w;
	db->manifest_number = number;
	if (rc != WB_OK) {
		/* The directory sync failed, so after a crash CURRENT may still
		 * name the old file: keep it, and start over at the next edit. */
		db->manifest_broken = true;
		return rc;
	}
	if (old != 0) {
		db_filename(path, sizeof(path), db->dir, FILE_MANIFEST, old);
		db->env->remove(db->env->ctx, path);
	}
	return WB_OK;
}

int manifest_log_edit(wb_db *db, version_edit_t *e, bool *appended)
{
	int rc;
	if (appended != NULL)
		*appended = false;
	if (db->manifest_broken) {
		/* db->current is only replaced under manifest_mu, which we hold. */
		pthread_mutex_lock(&db->mu);
		uint64_t number = db->next_file++;
		pthread_mutex_unlock(&db->mu);
		rc = manifest_write_snapshot(db, db->current, number);
		if (rc != WB_OK)
			return rc;
		db->manifest_broken = false;
	}
	/* Value-log segments made since the last edit ride along: every edit
	 * that lets a WAL go (a flush) thus names the segments it points into. */
	uint64_t *segs;
	int nsegs;
	rc = vlog_manifest_add(db, e, false, 0, &segs, &nsegs);
	if (rc != WB_OK)
		return rc;
	uint8_t *buf;
	size_t len;
	rc = edit_encode(e, &buf, &len);
	if (rc != WB_OK) {
		free(segs);
		return rc;
	}
	rc = log_writer_add(db->manifest, slice_make(buf, len));
	if (rc == WB_OK && appended != NULL)
		*appended = true;
	if (rc == WB_OK)
		rc = log_writer_sync(db->manifest);
	free(buf);
	if (rc != WB_OK)
		db->manifest_broken = true;
	else
		vlog_mark_recorded(db, segs, nsegs);
	free(segs);
	return rc;
}

/* Reads CURRENT into name (without the newline). */
static int read_current(wb_db *db, char *name, size_t len)
{
	char path[PATH_MAX];
	db_filename(path, sizeof(path), db->dir, FILE_CURRENT, 0);
	wb_env_file *f;
	int rc = db->env->open(db->env->ctx, path, WB_ENV_READ, &f);
	if (rc != WB_OK)
		return rc;
	size_t n = 0;
	rc = db->env->read_at(f, 0, name, len - 1, &n);
	db->env->close(f);
	if (rc != WB_OK)
		return err_set(rc, "%s: read failed: %s", path, wb_strerror(rc));
	name[n] = '\0';
	char shown[160];
	if (n == 0 || name[n - 1] != '\n')
		return err_set(WB_ECORRUPT, "%s: not a MANIFEST name: \"%s\"", path,
			       err_quote(name, n, shown, sizeof(shown)));
	name[n - 1] = '\0';
	enum file_type type;
	uint64_t number;
	if (strlen(name) != n - 1 || !db_parse_filename(name, &type, &number) || type != FILE_MANIFEST)
		return err_set(WB_ECORRUPT, "%s: not a MANIFEST name: \"%s\"", path,
			       err_quote(name, n - 1, shown, sizeof(shown)));
	return WB_OK;
}

int manifest_recover(wb_db *db, version_edit_t *state)
{
	char name[128], path[PATH_MAX];
	int rc = read_current(db, name, sizeof(name));
	if (rc != WB_OK)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", db->dir, name);
	enum file_type type;
	db_parse_filename(name, &type, &db->manifest_number);

	log_reader_t *r;
	rc = log_reader_open(db->env, path, LOG_KIND_MANIFEST, &r);
	if (rc == WB_ENOTFOUND)
		return err_set(WB_ECORRUPT, "CURRENT names %s, which does not exist", name);
	if (rc != WB_OK)
		return rc;

	/* The state is accumulated as one edit: files added minus files deleted. */
	version_t *v = version_new_empty();
	edit_init(state);
	bool any = false;
	slice_t rec;
	while (rc == WB_OK && v != NULL) {
		rc = log_reader_next(r, &rec);
		if (rc != WB_OK)
			break;
		version_edit_t e;
		rc = edit_decode(rec, &e);
		if (rc == WB_ECORRUPT)
			rc = err_set(WB_ECORRUPT, "%s: malformed version edit", path);
		if (rc != WB_OK)
			break;
		any = true;
		if (e.has_log_number) {
			state->has_log_number = true;
			state->log_number = e.log_number;
		}
		if (e.has_next_file) {
			state->has_next_file = true;
			state->next_file = e.next_file;
		}
		if (e.has_last_ts) {
			state->has_last_ts = true;
			state->last_ts = e.last_ts;
		}
		/* Only the last edit's word counts: any later edit is a later run. */
		state->has_clean_close = e.has_clean_close;
		state->clean_wal = e.clean_wal;
		state->clean_wal_size = e.clean_wal_size;
		for (int i = 0; i < e.ndiscards && rc == WB_OK; i++)
			rc = edit_add_discard(state, e.discards[i].segment, e.discards[i].bytes);
		/* Live segments: named and not removed since. */
		for (int i = 0; i < e.nsegments && rc == WB_OK; i++) {
			bool dup = false;
			for (int j = 0; j < state->nsegments && !dup; j++)
				dup = state->segments[j] == e.segments[i];
			if (!dup)
				rc = edit_add_segment(state, e.segments[i]);
		}
		for (int i = 0; i < e.ndead_segments && rc == WB_OK; i++) {
			int k = 0;
			for (int j = 0; j < state->nsegments; j++)
				if (state->segments[j] != e.dead_segments[i].segment)
					state->segments[k++] = state->segments[j];
			state->nsegments = k;
			rc = edit_delete_segment(state, e.dead_segments[i].segment, e.dead_segments[i].wal);
		}
		version_t *nv;
		rc = version_apply(v, &e, &nv);
		edit_destroy(&e);
		if (rc != WB_OK)
			break;
		version_unref(v);
		v = nv;
	}
	log_reader_close(r);
	if (v == NULL)
		rc = WB_ENOMEM;
	if (rc == WB_ENOTFOUND)
		rc = any && state->has_next_file ? WB_OK
						 : err_set(WB_ECORRUPT, "%s: no complete snapshot", path);
	for (int l = 0; rc == WB_OK && l < NUM_LEVELS; l++)
		for (int i = 0; rc == WB_OK && i < v->nfiles[l]; i++)
			rc = edit_add_file(state, l, v->files[l][i]);
	version_unref(v);
	if (rc != WB_OK)
		edit_destroy(state);
	return rc;
}
