/*
 * version_set.c -- the version set (version_set.h): the current version,
 * file numbers, the log number, and the MANIFEST (log of version edits)
 * and CURRENT (the name of the live MANIFEST). Format: docs/format.md,
 * "MANIFEST" and "CURRENT".
 *
 * Every open writes a fresh MANIFEST holding one snapshot edit of the whole
 * tree, points CURRENT at it (temp file + fsync + rename + directory fsync,
 * so CURRENT is always whole), then removes the previous MANIFEST. Later
 * edits are appended and fsynced before the change they describe is used
 * (vset_log_and_apply, the only writer). An edit whose append or sync
 * failed may or may not be in the file, so the next edit first starts a new
 * MANIFEST holding the installed version: the unknown edit never stays in
 * front of later ones.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "db/version_set.h"
#include "util/error.h"
#include "util/grow.h"

void vset_init(version_set_t *vs, const wb_env *env, const char *dir, pthread_mutex_t *mu,
	       const vset_hooks_t *hooks)
{
	memset(vs, 0, sizeof(*vs));
	vs->env = env;
	vs->dir = dir;
	vs->mu = mu;
	if (hooks != NULL)
		vs->hooks = *hooks;
	pthread_mutex_init(&vs->edit_mu, NULL);
}

void vset_destroy(version_set_t *vs)
{
	log_writer_close(vs->manifest);
	vs->manifest = NULL;
	version_unref(vs->current);
	vs->current = NULL;
	for (int l = 0; l < NUM_LEVELS; l++) {
		free(vs->compact_pointer[l]);
		vs->compact_pointer[l] = NULL;
		vs->compact_pointer_cap[l] = 0;
	}
	pthread_mutex_destroy(&vs->edit_mu);
}

void vset_set_compact_pointer(version_set_t *vs, int level, slice_t key)
{
	if (!grow_array((void **)&vs->compact_pointer[level], &vs->compact_pointer_cap[level], key.len, 1))
		return;
	memcpy(vs->compact_pointer[level], key.data, key.len);
	vs->compact_pointer_len[level] = key.len;
}

void vset_lock(version_set_t *vs)
{
	pthread_mutex_lock(&vs->edit_mu);
}

void vset_unlock(version_set_t *vs)
{
	pthread_mutex_unlock(&vs->edit_mu);
}

int vset_create(version_set_t *vs)
{
	version_t *v = version_new_empty();
	if (v == NULL)
		return WB_ENOMEM;
	version_unref(vs->current);
	vs->current = v;
	vs->next_file = 1;
	vs->log_number = 0;
	return WB_OK;
}

int vset_apply_unlogged(version_set_t *vs, const version_edit_t *e)
{
	version_t *nv;
	int rc = version_apply(vs->current, e, &nv);
	if (rc != WB_OK)
		return rc;
	version_unref(vs->current);
	vs->current = nv;
	return WB_OK;
}

/* *renamed tells whether CURRENT was replaced (it then names the new
 * MANIFEST even if a later step failed). */
static int write_current(version_set_t *vs, uint64_t manifest_number, bool *renamed)
{
	char tmp[PATH_MAX], cur[PATH_MAX], body[64];
	const wb_env *env = vs->env;
	db_filename(tmp, sizeof(tmp), vs->dir, FILE_TEMP, manifest_number);
	db_filename(cur, sizeof(cur), vs->dir, FILE_CURRENT, 0);
	int n = snprintf(body, sizeof(body), "MANIFEST-%06llu\n", (unsigned long long)manifest_number);
	wb_env_file *f;
	int rc = env->open(env->ctx, tmp, WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_TRUNCATE, &f);
	if (rc != WB_OK)
		return err_set(rc, "%s: create failed: %s", tmp, wb_strerror(rc));
	rc = env->append(f, body, (size_t)n);
	if (rc == WB_OK)
		rc = env->sync(f);
	int crc = env->close(f);
	if (rc == WB_OK)
		rc = crc;
	*renamed = false;
	if (rc == WB_OK) {
		rc = env->rename(env->ctx, tmp, cur);
		*renamed = rc == WB_OK;
	}
	if (rc == WB_OK)
		rc = env->sync_dir(env->ctx, vs->dir);
	if (rc != WB_OK) {
		if (!*renamed)
			env->remove(env->ctx, tmp);
		return err_set(rc, "%s: cannot update: %s", cur, wb_strerror(rc));
	}
	return WB_OK;
}

int vset_write_snapshot(version_set_t *vs, uint64_t number)
{
	char path[PATH_MAX];
	db_filename(path, sizeof(path), vs->dir, FILE_MANIFEST, number);
	version_edit_t e;
	edit_init(&e);
	e.has_log_number = e.has_next_file = true;
	pthread_mutex_lock(vs->mu); /* writers move next_file */
	e.log_number = vs->log_number;
	e.next_file = vs->next_file;
	int rc = vs->hooks.snapshot != NULL ? vs->hooks.snapshot(vs->hooks.arg, &e) : WB_OK;
	uint64_t log_number = vs->log_number;
	pthread_mutex_unlock(vs->mu);
	/* current is replaced only under edit_mu, which the caller holds. */
	version_t *v = vs->current;
	uint64_t *segs = NULL;
	int nsegs = 0;
	if (rc == WB_OK && vs->hooks.segments != NULL)
		rc = vs->hooks.segments(vs->hooks.arg, &e, true, log_number, &segs, &nsegs);
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
	rc = log_writer_create(vs->env, path, LOG_KIND_MANIFEST, &w);
	if (rc == WB_OK)
		rc = log_writer_add(w, slice_make(buf, len));
	if (rc == WB_OK)
		rc = log_writer_sync(w);
	free(buf);
	bool renamed = false;
	if (rc == WB_OK)
		rc = write_current(vs, number, &renamed);
	if (rc != WB_OK && !renamed) {
		log_writer_close(w);
		vs->env->remove(vs->env->ctx, path);
		free(segs);
		return rc;
	}
	if (rc == WB_OK && vs->hooks.recorded != NULL)
		vs->hooks.recorded(vs->hooks.arg, segs, nsegs);
	free(segs);
	/* Once CURRENT was renamed it may name the new file: edits go there. */
	uint64_t old = vs->manifest_number;
	log_writer_close(vs->manifest);
	vs->manifest = w;
	vs->manifest_number = number;
	if (rc != WB_OK) {
		/* The directory sync failed, so after a crash CURRENT may still
		 * name the old file: keep it, and start over at the next edit. */
		vs->manifest_broken = true;
		return rc;
	}
	if (old != 0) {
		db_filename(path, sizeof(path), vs->dir, FILE_MANIFEST, old);
		vs->env->remove(vs->env->ctx, path);
	}
	return WB_OK;
}

/* Appends e and syncs it. After a failure the MANIFEST is marked broken and
 * the next call replaces it with a snapshot of current first. *appended
 * tells whether the whole edit reached the file: only then can a crash
 * before that replacement leave it in effect (a failed append leaves at
 * most a torn tail, which recovery drops). Records next_file in e.
 * REQUIRES: edit_mu. */
static int log_edit(version_set_t *vs, version_edit_t *e, bool *appended)
{
	int rc;
	*appended = false;
	if (vs->manifest_broken || vs->manifest == NULL) {
		pthread_mutex_lock(vs->mu);
		uint64_t number = vset_new_file_number(vs);
		pthread_mutex_unlock(vs->mu);
		rc = vset_write_snapshot(vs, number);
		if (rc != WB_OK)
			return rc;
		vs->manifest_broken = false;
	}
	/* After the snapshot: its number must not look free to a recovery
	 * that ends with this edit. */
	pthread_mutex_lock(vs->mu);
	e->has_next_file = true;
	e->next_file = vs->next_file;
	pthread_mutex_unlock(vs->mu);
	/* Value-log segments made since the last edit ride along: every edit
	 * that lets a WAL go (a flush) thus names the segments it points into. */
	uint64_t *segs = NULL;
	int nsegs = 0;
	if (vs->hooks.segments != NULL) {
		rc = vs->hooks.segments(vs->hooks.arg, e, false, 0, &segs, &nsegs);
		if (rc != WB_OK)
			return rc;
	}
	uint8_t *buf;
	size_t len;
	rc = edit_encode(e, &buf, &len);
	if (rc != WB_OK) {
		free(segs);
		return rc;
	}
	rc = log_writer_add(vs->manifest, slice_make(buf, len));
	if (rc == WB_OK)
		*appended = true;
	if (rc == WB_OK)
		rc = log_writer_sync(vs->manifest);
	free(buf);
	if (rc != WB_OK)
		vs->manifest_broken = true;
	else if (vs->hooks.recorded != NULL)
		vs->hooks.recorded(vs->hooks.arg, segs, nsegs);
	free(segs);
	return rc;
}

static bool edit_is_empty(const version_edit_t *e)
{
	return !e->has_log_number && !e->has_next_file && !e->has_last_ts && !e->has_clean_close &&
	       e->nadded == 0 && e->ndeleted == 0 && e->ndiscards == 0 && e->nsegments == 0 &&
	       e->ndead_segments == 0;
}

int vset_log_and_apply(version_set_t *vs, version_edit_t *e, const vset_apply_t *how, bool *logged)
{
	bool appended = false;
	pthread_mutex_lock(&vs->edit_mu);
	int rc = how != NULL && how->prepare != NULL ? how->prepare(how->arg, e) : WB_OK;
	if (rc == WB_OK && edit_is_empty(e)) {
		pthread_mutex_unlock(&vs->edit_mu);
		if (logged != NULL)
			*logged = false;
		return WB_OK;
	}
	if (rc == WB_OK)
		rc = log_edit(vs, e, &appended);
	/* An edit of counters alone (a flush of an empty memtable, a removed
	 * segment, the clean-close mark) keeps the version as it is. */
	version_t *nv = NULL;
	if (rc == WB_OK && (e->nadded > 0 || e->ndeleted > 0)) {
		rc = version_apply(vs->current, e, &nv);
		if (rc != WB_OK) {
			vs->manifest_broken = true; /* the file has an edit memory lacks */
			rc = err_set(rc, "MANIFEST-%06llu: edit logged but not applied: %s",
				     (unsigned long long)vs->manifest_number,
				     *err_message() ? err_message() : wb_strerror(rc));
		}
	}
	if (rc == WB_OK) {
		pthread_mutex_lock(vs->mu);
		version_t *old = NULL;
		if (nv != NULL) {
			old = vs->current;
			vs->current = nv;
		}
		if (e->has_log_number)
			vs->log_number = e->log_number;
		if (how != NULL && how->installed != NULL)
			how->installed(how->arg, e);
		pthread_mutex_unlock(vs->mu);
		version_unref(old);
	}
	pthread_mutex_unlock(&vs->edit_mu);
	if (logged != NULL)
		*logged = appended;
	return rc;
}

/* Reads CURRENT into name (without the newline). */
static int read_current(version_set_t *vs, char *name, size_t len)
{
	char path[PATH_MAX];
	db_filename(path, sizeof(path), vs->dir, FILE_CURRENT, 0);
	wb_env_file *f;
	int rc = vs->env->open(vs->env->ctx, path, WB_ENV_READ, &f);
	if (rc != WB_OK)
		return rc;
	size_t n = 0;
	rc = vs->env->read_at(f, 0, name, len - 1, &n);
	vs->env->close(f);
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

/* Replays the MANIFEST at path into *state and *out (the tree). */
static int replay_manifest(version_set_t *vs, const char *path, version_edit_t *state, version_t **out)
{
	log_reader_t *r;
	int rc = log_reader_open(vs->env, path, LOG_KIND_MANIFEST, &r);
	if (rc == WB_ENOTFOUND)
		return err_set(WB_ECORRUPT, "CURRENT names %s, which does not exist", strrchr(path, '/') + 1);
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
		if (rc == WB_OK)
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
	if (rc != WB_OK) {
		version_unref(v);
		edit_destroy(state);
		return rc;
	}
	*out = v;
	return WB_OK;
}

int vset_recover(version_set_t *vs, version_edit_t *state)
{
	char name[128], path[PATH_MAX];
	int rc = read_current(vs, name, sizeof(name));
	if (rc != WB_OK)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", vs->dir, name);
	enum file_type type;
	uint64_t number = 0;
	db_parse_filename(name, &type, &number);
	version_t *v = NULL;
	rc = replay_manifest(vs, path, state, &v);
	if (rc != WB_OK)
		return rc;
	version_unref(vs->current);
	vs->current = v;
	vs->manifest_number = number;
	vs->log_number = state->log_number;
	vs->next_file = state->next_file;
	return WB_OK;
}
