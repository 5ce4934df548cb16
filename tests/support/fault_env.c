/*
 * fault_env.c -- the fault-injecting env for crash and error tests. See
 * fault_env.h for the durability model and the API.
 *
 * State: one record per path opened for writing (struct fstate), kept in a
 * list while the path names it ("live"). A record leaves the list when its
 * file is removed, renamed over or lost in a power cut, but stays allocated
 * while a handle still points at it, so a sync on an open handle never
 * touches freed memory. All of it, the armed faults and the counters are
 * protected by fe->mu, which is held across every wrapped call that changes
 * the disk.
 */
#include "fault_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

struct fstate {
	struct fstate *next; /* in fe->files while live */
	char *path;          /* the name it has now */
	uint64_t durable;    /* bytes that survive a power cut */
	bool never_synced;   /* created here and not synced since: a power cut removes it */
	bool live;           /* still in fe->files */
	int refs;            /* open handles pointing here */
};

/* What a wb_env_file from this env really is. */
struct fault_file {
	fault_env_t *fe;
	wb_env_file *base;
	struct fstate *st; /* NULL for read-only opens and locks */
};

struct fault {
	int remaining; /* calls until the failure; 0 when not armed */
	int rc;
	bool sticky;
	bool tripped; /* a sticky failure has happened: every call fails */
};

struct fault_env {
	wb_env env; /* handed out by fault_env_get; env.ctx == this */
	const wb_env *base;
	pthread_mutex_t mu;
	/* Everything below is protected by mu. */
	struct fstate *files;
	struct fault faults[FAULT_OP_COUNT];
	bool tear_armed;
	size_t tear_keep;
	bool kill_armed;
	uint64_t kill_budget; /* bytes still allowed while kill_armed */
	bool killed;
	char cap_dir[PATH_MAX]; /* fault_env_set_capacity: the full disk's directory */
	uint64_t capacity;      /* its size in bytes; 0: no limit */
	struct fault_env_counts counts;
};

static const char *const op_names[FAULT_OP_COUNT] = {
	[FAULT_OPEN_READ] = "open",   [FAULT_OPEN_WRITE] = "open", [FAULT_READ] = "read",
	[FAULT_APPEND] = "append",    [FAULT_SYNC] = "sync",       [FAULT_TRUNCATE] = "truncate",
	[FAULT_RENAME] = "rename",    [FAULT_REMOVE] = "remove",   [FAULT_SYNC_DIR] = "sync_dir",
	[FAULT_WRITEBACK] = "writeback",
};

static inline struct fault_file *ff_of(wb_env_file *f)
{
	return (struct fault_file *)f;
}

/* Counts a call of kind op and decides whether it fails: WB_OK to go ahead.
 * changes_disk says whether a killed process could not make it.
 * REQUIRES: fe->mu held. */
static int inject(fault_env_t *fe, enum fault_op op, bool changes_disk, const char *path)
{
	struct fault *f = &fe->faults[op];

	fe->counts.calls[op]++;
	if (changes_disk && fe->killed)
		return err_set(WB_EIO, "%s %s: process killed (fault env)", op_names[op], path);
	if (!f->tripped) {
		if (f->remaining == 0 || --f->remaining > 0)
			return WB_OK;
		if (f->sticky)
			f->tripped = true;
	}
	return err_set(f->rc, "%s %s: injected failure (fault env)", op_names[op], path);
}

/* REQUIRES: fe->mu held. */
static struct fstate *find(fault_env_t *fe, const char *path)
{
	for (struct fstate *st = fe->files; st != NULL; st = st->next)
		if (strcmp(st->path, path) == 0)
			return st;
	return NULL;
}

static void free_state(struct fstate *st)
{
	free(st->path);
	free(st);
}

/* Takes st out of the list; frees it unless a handle still uses it.
 * REQUIRES: fe->mu held, st live. */
static void detach(fault_env_t *fe, struct fstate *st)
{
	struct fstate **pp = &fe->files;

	while (*pp != st)
		pp = &(*pp)->next;
	*pp = st->next;
	st->live = false;
	if (st->refs == 0)
		free_state(st);
}

/* REQUIRES: fe->mu held. */
static void clear_faults_locked(fault_env_t *fe)
{
	memset(fe->faults, 0, sizeof(fe->faults));
	fe->tear_armed = false;
	fe->kill_armed = false;
	fe->killed = false;
	fe->capacity = 0;
}

uint64_t fault_env_dir_bytes(const char *dir)
{
	uint64_t total = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	struct dirent *e;
	struct stat st;
	while ((e = readdir(d)) != NULL)
		if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	closedir(d);
	return total;
}

/* An append of n bytes on a disk with a capacity: WB_ENOSPC when it would
 * not fit. REQUIRES: fe->mu held. */
static int check_room(fault_env_t *fe, size_t n, const char *path)
{
	if (fe->capacity == 0 || fault_env_dir_bytes(fe->cap_dir) + n <= fe->capacity)
		return WB_OK;
	return err_set(WB_ENOSPC, "append %s: no space left on device (fault env: a disk of %llu bytes)",
		       path, (unsigned long long)fe->capacity);
}

/* Opens through the base env, learning whether the file was created by this
 * call: for a path with no state yet, CREATE is first tried as CREATE|EXCL.
 * REQUIRES: fe->mu held. */
static int open_base(fault_env_t *fe, const char *path, int flags, bool probe, wb_env_file **bf,
		     bool *created)
{
	const wb_env *b = fe->base;
	int rc;

	*created = false;
	if (!(flags & WB_ENV_CREATE) || !probe)
		return b->open(b->ctx, path, flags, bf);
	rc = b->open(b->ctx, path, flags | WB_ENV_EXCL, bf);
	if (rc == WB_OK) {
		*created = true;
		return WB_OK;
	}
	if (rc != WB_EEXIST || (flags & WB_ENV_EXCL))
		return rc;
	return b->open(b->ctx, path, flags, bf);
}

static int fe_open(void *ctx, const char *path, int flags, wb_env_file **out)
{
	fault_env_t *fe = ctx;
	const wb_env *b = fe->base;
	bool writes = (flags & (WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_TRUNCATE)) != 0;
	struct fault_file *ff = calloc(1, sizeof(*ff));
	struct fstate *st = NULL;
	wb_env_file *bf = NULL;
	bool created;
	int rc;

	*out = NULL;
	if (ff == NULL)
		return err_set(WB_ENOMEM, "open %s: out of memory", path);
	pthread_mutex_lock(&fe->mu);
	rc = inject(fe, writes ? FAULT_OPEN_WRITE : FAULT_OPEN_READ, writes, path);
	if (rc != WB_OK)
		goto fail;
	/* A sync through a read-only handle flushes the file too. */
	st = find(fe, path);
	rc = open_base(fe, path, flags, writes && st == NULL, &bf, &created);
	if (rc != WB_OK)
		goto fail;

	if (writes && st == NULL) {
		st = calloc(1, sizeof(*st));
		if (st == NULL || (st->path = strdup(path)) == NULL) {
			free(st);
			rc = err_set(WB_ENOMEM, "open %s: out of memory", path);
			goto fail_close;
		}
		/* A file that was there before we watched it is as durable as
		 * it will ever be made by us: it counts at its current length. */
		if (created) {
			st->never_synced = true;
		} else if (!(flags & WB_ENV_TRUNCATE)) {
			rc = b->size(bf, &st->durable);
			if (rc != WB_OK) {
				free_state(st);
				goto fail_close;
			}
		}
		st->live = true;
		st->next = fe->files;
		fe->files = st;
	} else if (st != NULL && (flags & WB_ENV_TRUNCATE)) {
		st->durable = 0; /* truncation counts as durable at once */
	}
	if (st != NULL)
		st->refs++;
	pthread_mutex_unlock(&fe->mu);

	ff->fe = fe;
	ff->base = bf;
	ff->st = st;
	*out = (wb_env_file *)ff;
	return WB_OK;

fail_close:
	b->close(bf);
fail:
	pthread_mutex_unlock(&fe->mu);
	free(ff);
	return rc;
}

static int fe_read_at(wb_env_file *f, uint64_t off, void *buf, size_t len, size_t *nread)
{
	struct fault_file *ff = ff_of(f);
	fault_env_t *fe = ff->fe;
	int rc;

	pthread_mutex_lock(&fe->mu);
	rc = inject(fe, FAULT_READ, false, ff->st != NULL ? ff->st->path : "file");
	pthread_mutex_unlock(&fe->mu);
	if (rc != WB_OK) {
		*nread = 0;
		return rc;
	}
	/* Outside the lock: reads may run concurrently with each other. */
	return fe->base->read_at(ff->base, off, buf, len, nread);
}

static int fe_append(wb_env_file *f, const void *buf, size_t len)
{
	struct fault_file *ff = ff_of(f);
	fault_env_t *fe = ff->fe;
	const char *path;
	bool dies = false;
	size_t n = len;
	int rc;

	pthread_mutex_lock(&fe->mu);
	path = ff->st != NULL ? ff->st->path : "file"; /* a rename replaces it, under mu */
	rc = inject(fe, FAULT_APPEND, true, path);
	if (rc == WB_OK)
		rc = check_room(fe, n, path);
	if (rc != WB_OK)
		goto out;
	if (fe->tear_armed) {
		fe->tear_armed = false;
		if (fe->tear_keep < n)
			n = fe->tear_keep;
	}
	if (fe->kill_armed && n > fe->kill_budget) {
		n = (size_t)fe->kill_budget;
		dies = true;
	}
	if (n > 0)
		rc = fe->base->append(ff->base, buf, n);
	if (rc == WB_OK) {
		fe->counts.bytes_appended += n;
		if (fe->kill_armed) {
			fe->kill_budget -= n;
			if (fe->kill_budget == 0) {
				fe->kill_armed = false;
				fe->killed = true;
			}
		}
		if (dies)
			rc = err_set(WB_EIO, "append %s: process killed (fault env)", path);
	}
out:
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fe_sync(wb_env_file *f)
{
	struct fault_file *ff = ff_of(f);
	fault_env_t *fe = ff->fe;
	uint64_t size;
	int rc;

	pthread_mutex_lock(&fe->mu);
	rc = inject(fe, FAULT_SYNC, true, ff->st != NULL ? ff->st->path : "file");
	if (rc == WB_OK)
		rc = fe->base->sync(ff->base);
	if (rc == WB_OK && ff->st != NULL) {
		/* If size fails, the durable length stays where it was (an
		 * underestimate only makes a power cut harsher) and the caller
		 * sees the error. */
		rc = fe->base->size(ff->base, &size);
		if (rc == WB_OK) {
			ff->st->durable = size;
			ff->st->never_synced = false;
		}
	}
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

/* Offered only over an env that has writeback (see fault_env_new). The
 * durable length stays where it is: writeback promises no durability. */
static int fe_writeback(wb_env_file *f, uint64_t off, uint64_t len, int wait)
{
	struct fault_file *ff = ff_of(f);
	fault_env_t *fe = ff->fe;
	int rc;

	pthread_mutex_lock(&fe->mu);
	rc = inject(fe, FAULT_WRITEBACK, true, ff->st != NULL ? ff->st->path : "file");
	if (rc == WB_OK)
		rc = fe->base->writeback(ff->base, off, len, wait);
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fe_size(wb_env_file *f, uint64_t *out)
{
	struct fault_file *ff = ff_of(f);
	return ff->fe->base->size(ff->base, out);
}

static int fe_truncate(wb_env_file *f, uint64_t size)
{
	struct fault_file *ff = ff_of(f);
	fault_env_t *fe = ff->fe;
	int rc;

	pthread_mutex_lock(&fe->mu);
	rc = inject(fe, FAULT_TRUNCATE, true, ff->st != NULL ? ff->st->path : "file");
	if (rc == WB_OK)
		rc = fe->base->truncate(ff->base, size);
	/* Shrinking is durable at once; growing adds zeros that are not
	 * durable until a sync, like appended bytes. */
	if (rc == WB_OK && ff->st != NULL && size < ff->st->durable)
		ff->st->durable = size;
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

/* Passed through: it changes neither the size nor the bytes a power cut
 * could lose. */
static int fe_preallocate(wb_env_file *f, uint64_t off, uint64_t len)
{
	struct fault_file *ff = ff_of(f);
	return ff->fe->base->preallocate != NULL ? ff->fe->base->preallocate(ff->base, off, len)
						 : WB_OK;
}

static int fe_close(wb_env_file *f)
{
	struct fault_file *ff = ff_of(f);
	fault_env_t *fe;
	int rc;

	if (ff == NULL)
		return WB_OK;
	fe = ff->fe;
	rc = fe->base->close(ff->base);
	if (ff->st != NULL) {
		pthread_mutex_lock(&fe->mu);
		if (--ff->st->refs == 0 && !ff->st->live)
			free_state(ff->st);
		pthread_mutex_unlock(&fe->mu);
	}
	free(ff);
	return rc;
}

static int fe_rename(void *ctx, const char *from, const char *to)
{
	fault_env_t *fe = ctx;
	struct fstate *st;
	char *copy = strdup(to); /* before the rename, so nothing can fail after it */
	int rc;

	if (copy == NULL)
		return err_set(WB_ENOMEM, "rename %s: out of memory", from);
	pthread_mutex_lock(&fe->mu);
	rc = inject(fe, FAULT_RENAME, true, from);
	if (rc == WB_OK)
		rc = fe->base->rename(fe->base->ctx, from, to);
	if (rc == WB_OK && strcmp(from, to) != 0) {
		if ((st = find(fe, to)) != NULL)
			detach(fe, st);
		if ((st = find(fe, from)) != NULL) {
			free(st->path);
			st->path = copy;
			copy = NULL;
		}
	}
	pthread_mutex_unlock(&fe->mu);
	free(copy);
	return rc;
}

static int fe_remove(void *ctx, const char *path)
{
	fault_env_t *fe = ctx;
	struct fstate *st;
	int rc;

	pthread_mutex_lock(&fe->mu);
	rc = inject(fe, FAULT_REMOVE, true, path);
	if (rc == WB_OK)
		rc = fe->base->remove(fe->base->ctx, path);
	if (rc == WB_OK && (st = find(fe, path)) != NULL)
		detach(fe, st);
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fe_mkdir(void *ctx, const char *path)
{
	fault_env_t *fe = ctx;
	int rc;

	pthread_mutex_lock(&fe->mu);
	if (fe->killed)
		rc = err_set(WB_EIO, "mkdir %s: process killed (fault env)", path);
	else
		rc = fe->base->mkdir(fe->base->ctx, path);
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fe_sync_dir(void *ctx, const char *path)
{
	fault_env_t *fe = ctx;
	int rc;

	pthread_mutex_lock(&fe->mu);
	rc = inject(fe, FAULT_SYNC_DIR, true, path);
	if (rc == WB_OK)
		rc = fe->base->sync_dir(fe->base->ctx, path);
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fe_list(void *ctx, const char *dir, int (*fn)(void *arg, const char *name), void *arg)
{
	fault_env_t *fe = ctx;
	return fe->base->list(fe->base->ctx, dir, fn, arg);
}

static int fe_lock(void *ctx, const char *path, wb_env_file **out, long *holder_pid)
{
	fault_env_t *fe = ctx;
	struct fault_file *ff = calloc(1, sizeof(*ff));
	int rc;

	*out = NULL;
	if (ff == NULL)
		return err_set(WB_ENOMEM, "lock %s: out of memory", path);
	rc = fe->base->lock(fe->base->ctx, path, &ff->base, holder_pid);
	if (rc != WB_OK) {
		free(ff);
		return rc;
	}
	ff->fe = fe;
	*out = (wb_env_file *)ff;
	return WB_OK;
}

static int fe_unlock(void *ctx, wb_env_file *lock)
{
	fault_env_t *fe = ctx;
	struct fault_file *ff = ff_of(lock);
	int rc;

	if (ff == NULL)
		return WB_OK;
	rc = fe->base->unlock(fe->base->ctx, ff->base);
	free(ff);
	return rc;
}

fault_env_t *fault_env_new(const wb_env *base)
{
	fault_env_t *fe = calloc(1, sizeof(*fe));

	if (fe == NULL)
		return NULL;
	fe->base = base != NULL ? base : wb_env_default();
	pthread_mutex_init(&fe->mu, NULL);
	fe->env = (wb_env){
		.ctx = fe,
		.open = fe_open,
		.read_at = fe_read_at,
		.append = fe_append,
		.sync = fe_sync,
		.size = fe_size,
		.truncate = fe_truncate,
		.close = fe_close,
		.rename = fe_rename,
		.remove = fe_remove,
		.mkdir = fe_mkdir,
		.sync_dir = fe_sync_dir,
		.list = fe_list,
		.lock = fe_lock,
		.unlock = fe_unlock,
		.writeback = fe->base->writeback != NULL ? fe_writeback : NULL,
		.preallocate = fe_preallocate,
		/* The base's clock (a test clock put under it drives time). */
		.clock_ctx = fe->base->clock_ctx,
		.now_nanos = fe->base->now_nanos,
		.wall_nanos = fe->base->wall_nanos,
		.sleep_nanos = fe->base->sleep_nanos,
		.cond_wait_until = fe->base->cond_wait_until,
	};
	return fe;
}

void fault_env_free(fault_env_t *fe)
{
	struct fstate *st, *next;

	if (fe == NULL)
		return;
	for (st = fe->files; st != NULL; st = next) {
		next = st->next;
		free_state(st);
	}
	pthread_mutex_destroy(&fe->mu);
	free(fe);
}

const wb_env *fault_env_get(fault_env_t *fe)
{
	return &fe->env;
}

/* Cuts one file back to its durable length. REQUIRES: fe->mu held. */
static int cut_back(fault_env_t *fe, struct fstate *st)
{
	const wb_env *b = fe->base;
	wb_env_file *bf;
	uint64_t size;
	int rc, crc;

	rc = b->open(b->ctx, st->path, WB_ENV_WRITE, &bf);
	if (rc != WB_OK)
		return rc;
	rc = b->size(bf, &size);
	if (rc == WB_OK && size > st->durable)
		rc = b->truncate(bf, st->durable);
	crc = b->close(bf);
	return rc != WB_OK ? rc : crc;
}

int fault_env_power_loss(fault_env_t *fe)
{
	const wb_env *b = fe->base;
	struct fstate *st, *next;
	int first = WB_OK;

	pthread_mutex_lock(&fe->mu);
	for (st = fe->files; st != NULL; st = next) {
		int rc;

		next = st->next; /* detach may free st */
		if (st->never_synced)
			rc = b->remove(b->ctx, st->path);
		else
			rc = cut_back(fe, st);
		/* A file that is gone has nothing left to lose. */
		if (st->never_synced || rc == WB_ENOTFOUND)
			detach(fe, st);
		if (rc != WB_OK && rc != WB_ENOTFOUND && first == WB_OK)
			first = rc;
	}
	clear_faults_locked(fe);
	pthread_mutex_unlock(&fe->mu);
	return first;
}

void fault_env_fail_nth(fault_env_t *fe, enum fault_op op, int n, int rc, enum fault_mode mode)
{
	pthread_mutex_lock(&fe->mu);
	fe->faults[op] = (struct fault){
		.remaining = n,
		.rc = rc,
		.sticky = mode == FAULT_STICKY,
	};
	pthread_mutex_unlock(&fe->mu);
}

void fault_env_set_capacity(fault_env_t *fe, const char *dir, uint64_t bytes)
{
	pthread_mutex_lock(&fe->mu);
	snprintf(fe->cap_dir, sizeof(fe->cap_dir), "%s", dir);
	fe->capacity = bytes;
	pthread_mutex_unlock(&fe->mu);
}

void fault_env_tear_next_append(fault_env_t *fe, size_t keep)
{
	pthread_mutex_lock(&fe->mu);
	fe->tear_armed = true;
	fe->tear_keep = keep;
	pthread_mutex_unlock(&fe->mu);
}

void fault_env_kill_after_bytes(fault_env_t *fe, uint64_t n)
{
	pthread_mutex_lock(&fe->mu);
	fe->kill_armed = n > 0;
	fe->kill_budget = n;
	fe->killed = n == 0;
	pthread_mutex_unlock(&fe->mu);
}

bool fault_env_killed(fault_env_t *fe)
{
	bool killed;

	pthread_mutex_lock(&fe->mu);
	killed = fe->killed;
	pthread_mutex_unlock(&fe->mu);
	return killed;
}

void fault_env_clear_faults(fault_env_t *fe)
{
	pthread_mutex_lock(&fe->mu);
	clear_faults_locked(fe);
	pthread_mutex_unlock(&fe->mu);
}

void fault_env_counts(fault_env_t *fe, struct fault_env_counts *out)
{
	pthread_mutex_lock(&fe->mu);
	*out = fe->counts;
	pthread_mutex_unlock(&fe->mu);
}
