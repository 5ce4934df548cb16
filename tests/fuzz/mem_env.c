/*
 * mem_env.c -- the fuzz targets' in-memory env (mem_env.h).
 *
 * A file is a node in a singly linked list owned by the env. An open handle
 * points at its node and keeps it alive: a removed or replaced file leaves
 * the list at once but is freed only when its last handle closes, as with
 * an unlinked POSIX file.
 */
#include "mem_env.h"

#include <stdlib.h>
#include <string.h>

struct mem_file {
	struct mem_file *next;
	char *path;
	uint8_t *data;
	size_t len, cap;
	int opens;
	int linked; /* still reachable by name */
};

struct mem_env {
	wb_env env;
	struct mem_file *files;
};

struct wb_env_file {
	struct mem_file *f;
};

static struct mem_file *find(mem_env_t *me, const char *path)
{
	for (struct mem_file *f = me->files; f != NULL; f = f->next)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

static void drop(struct mem_file *f)
{
	if (f->opens == 0 && !f->linked) {
		free(f->path);
		free(f->data);
		free(f);
	}
}

static void unlink_file(mem_env_t *me, struct mem_file *f)
{
	for (struct mem_file **pp = &me->files; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	f->linked = 0;
	drop(f);
}

static struct mem_file *create(mem_env_t *me, const char *path)
{
	struct mem_file *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->path = strdup(path)) == NULL) {
		free(f);
		return NULL;
	}
	f->linked = 1;
	f->next = me->files;
	me->files = f;
	return f;
}

static int reserve(struct mem_file *f, size_t len)
{
	if (len <= f->cap)
		return WB_OK;
	size_t cap = f->cap ? f->cap : 4096;
	while (cap < len)
		cap *= 2;
	uint8_t *d = realloc(f->data, cap);
	if (d == NULL)
		return WB_ENOMEM;
	f->data = d;
	f->cap = cap;
	return WB_OK;
}

static int m_open(void *ctx, const char *path, int flags, wb_env_file **out)
{
	mem_env_t *me = ctx;
	*out = NULL;
	struct mem_file *f = find(me, path);
	if (f != NULL && (flags & WB_ENV_EXCL))
		return WB_EEXIST;
	if (f == NULL) {
		if (!(flags & WB_ENV_CREATE))
			return WB_ENOTFOUND;
		if ((f = create(me, path)) == NULL)
			return WB_ENOMEM;
	}
	wb_env_file *h = malloc(sizeof(*h));
	if (h == NULL)
		return WB_ENOMEM;
	if (flags & WB_ENV_TRUNCATE)
		f->len = 0;
	h->f = f;
	f->opens++;
	*out = h;
	return WB_OK;
}

static int m_read_at(wb_env_file *h, uint64_t off, void *buf, size_t len, size_t *nread)
{
	struct mem_file *f = h->f;
	size_t n = 0;
	if (off < f->len) {
		n = f->len - (size_t)off;
		if (n > len)
			n = len;
		memcpy(buf, f->data + off, n);
	}
	*nread = n;
	return WB_OK;
}

static int m_append(wb_env_file *h, const void *buf, size_t len)
{
	struct mem_file *f = h->f;
	if (reserve(f, f->len + len) != WB_OK)
		return WB_ENOMEM;
	if (len)
		memcpy(f->data + f->len, buf, len);
	f->len += len;
	return WB_OK;
}

static int m_sync(wb_env_file *h)
{
	return WB_OK;
}

static int m_size(wb_env_file *h, uint64_t *out)
{
	*out = h->f->len;
	return WB_OK;
}

static int set_len(struct mem_file *f, size_t len)
{
	if (len > f->len) {
		if (reserve(f, len) != WB_OK)
			return WB_ENOMEM;
		memset(f->data + f->len, 0, len - f->len);
	}
	f->len = len;
	return WB_OK;
}

static int m_truncate(wb_env_file *h, uint64_t size)
{
	return set_len(h->f, (size_t)size);
}

static int m_close(wb_env_file *h)
{
	struct mem_file *f = h->f;
	f->opens--;
	drop(f);
	free(h);
	return WB_OK;
}

static int m_rename(void *ctx, const char *from, const char *to)
{
	mem_env_t *me = ctx;
	struct mem_file *f = find(me, from), *old = find(me, to);
	if (f == NULL)
		return WB_ENOTFOUND;
	char *name = strdup(to);
	if (name == NULL)
		return WB_ENOMEM;
	if (old != NULL && old != f)
		unlink_file(me, old);
	free(f->path);
	f->path = name;
	return WB_OK;
}

static int m_remove(void *ctx, const char *path)
{
	mem_env_t *me = ctx;
	struct mem_file *f = find(me, path);
	if (f == NULL)
		return WB_ENOTFOUND;
	unlink_file(me, f);
	return WB_OK;
}

static int m_mkdir(void *ctx, const char *path)
{
	return WB_OK;
}

static int m_sync_dir(void *ctx, const char *path)
{
	return WB_OK;
}

static int m_list(void *ctx, const char *dir, int (*fn)(void *arg, const char *name), void *arg)
{
	mem_env_t *me = ctx;
	size_t dl = strlen(dir);
	for (struct mem_file *f = me->files; f != NULL; f = f->next) {
		if (strncmp(f->path, dir, dl) != 0 || f->path[dl] != '/' ||
		    strchr(f->path + dl + 1, '/') != NULL)
			continue;
		int rc = fn(arg, f->path + dl + 1);
		if (rc != WB_OK)
			return rc;
	}
	return WB_OK;
}

static int m_lock(void *ctx, const char *path, wb_env_file **out, long *holder_pid)
{
	return m_open(ctx, path, WB_ENV_READ | WB_ENV_WRITE | WB_ENV_CREATE, out);
}

static int m_unlock(void *ctx, wb_env_file *lock)
{
	return m_close(lock);
}

mem_env_t *mem_env_new(void)
{
	mem_env_t *me = calloc(1, sizeof(*me));
	if (me == NULL)
		return NULL;
	me->env = (wb_env){
	    .ctx = me,
	    .open = m_open,
	    .read_at = m_read_at,
	    .append = m_append,
	    .sync = m_sync,
	    .size = m_size,
	    .truncate = m_truncate,
	    .close = m_close,
	    .rename = m_rename,
	    .remove = m_remove,
	    .mkdir = m_mkdir,
	    .sync_dir = m_sync_dir,
	    .list = m_list,
	    .lock = m_lock,
	    .unlock = m_unlock,
	};
	return me;
}

void mem_env_free(mem_env_t *me)
{
	if (me == NULL)
		return;
	while (me->files != NULL)
		unlink_file(me, me->files);
	free(me);
}

const wb_env *mem_env_get(mem_env_t *me)
{
	return &me->env;
}

int mem_env_put(mem_env_t *me, const char *path, const void *data, size_t len)
{
	struct mem_file *f = find(me, path);
	if (f == NULL && (f = create(me, path)) == NULL)
		return WB_ENOMEM;
	f->len = 0;
	if (reserve(f, len) != WB_OK)
		return WB_ENOMEM;
	if (len)
		memcpy(f->data, data, len);
	f->len = len;
	return WB_OK;
}

uint8_t *mem_env_file(mem_env_t *me, const char *path, size_t *len)
{
	struct mem_file *f = find(me, path);
	if (f == NULL)
		return NULL;
	*len = f->len;
	return f->data;
}

int mem_env_resize(mem_env_t *me, const char *path, size_t len)
{
	struct mem_file *f = find(me, path);
	return f == NULL ? WB_ENOTFOUND : set_len(f, len);
}
