/*
 * mapped.c -- appending through a shared memory map (mapped.h).
 */
#include "util/mapped.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static uint8_t *zeros; /* MAPPED_PREPARE zero bytes, shared, never freed */
static pthread_once_t zeros_once = PTHREAD_ONCE_INIT;

static void zeros_init(void)
{
	zeros = calloc(1, MAPPED_PREPARE);
}

/* Appends len bytes; the file ends at m->prepared. On failure the file's
 * size says how far it got. */
static int append(mapped_t *m, const void *buf, size_t len)
{
	int rc = m->env->append(m->file, buf, len);
	if (rc == WB_OK) {
		m->prepared += len;
		return WB_OK;
	}
	uint64_t size;
	/* Unknown: UINT64_MAX makes mapped_finish cut back whatever is there. */
	m->prepared = m->env->size(m->file, &size) == WB_OK ? size : UINT64_MAX;
	return err_set(rc, "%s offset %llu: append failed: %s", m->name, (unsigned long long)m->prepared,
		       wb_strerror(rc));
}

static int append_zeros(mapped_t *m, uint64_t upto)
{
	int rc = WB_OK;
	while (rc == WB_OK && m->prepared < upto) {
		size_t n = upto - m->prepared < MAPPED_PREPARE ? (size_t)(upto - m->prepared) : MAPPED_PREPARE;
		rc = append(m, zeros, n);
	}
	return rc;
}

int mapped_prepare(mapped_t *m, uint64_t end)
{
	/* At least one zero byte past every write: whatever a crash cuts
	 * short is then followed by zeros, which readers take for the end
	 * (docs/format.md), even for the write that reaches the limit. */
	uint64_t need = end + 1;
	if (need <= m->prepared)
		return WB_OK;
	uint64_t want = m->prepared + MAPPED_PREPARE;
	if (want > m->limit)
		want = m->limit;
	if (want < need)
		want = need;
	int rc = append_zeros(m, want);
	if (rc != WB_OK && m->prepared < need && want > need) {
		err_clear(); /* a nearly full disk may still hold this write */
		rc = append_zeros(m, need);
	}
	if (rc != WB_OK && m->prepared >= need) { /* enough for this write */
		err_clear();
		rc = WB_OK;
	}
	return rc;
}

static int map_window(mapped_t *m, uint64_t off)
{
	if (m->map != NULL)
		m->env->unmap(m->map, MAPPED_WINDOW);
	m->map = NULL;
	void *p;
	int rc = m->env->map(m->file, off, MAPPED_WINDOW, &p);
	if (rc != WB_OK)
		return err_set(rc, "%s offset %llu: cannot map: %s", m->name, (unsigned long long)off,
			       wb_strerror(rc));
	m->map = p;
	m->map_off = off;
	return WB_OK;
}

int mapped_store(mapped_t *m, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *src = buf;
	while (len > 0) {
		if (m->map == NULL || off < m->map_off || off >= m->map_off + MAPPED_WINDOW) {
			int rc = map_window(m, off - off % MAPPED_WINDOW);
			if (rc != WB_OK)
				return rc;
		}
		size_t n = (size_t)(m->map_off + MAPPED_WINDOW - off);
		if (n > len)
			n = len;
		memcpy(m->map + (off - m->map_off), src, n);
		off += n;
		src += n;
		len -= n;
	}
	/* Later stores must not become visible before this one (mapped.h). */
	atomic_signal_fence(memory_order_seq_cst);
	return WB_OK;
}

/* Allocates blocks ahead of a big append, MAPPED_PREPARE at a time and not
 * past the limit: on ext4 an append into allocated blocks skips the
 * delayed-allocation bookkeeping. (Prepared zeros are not allocated so:
 * converting the blocks when they are written back cost more than it
 * saved.) A hint: failures stop the asking. */
static void allocate(mapped_t *m, uint64_t end)
{
	if (end <= m->allocated || end > m->limit || m->env->preallocate == NULL)
		return;
	if (m->allocated < m->prepared)
		m->allocated = m->prepared;
	uint64_t want = end + MAPPED_PREPARE < m->limit ? end + MAPPED_PREPARE : m->limit;
	if (m->env->preallocate(m->file, m->allocated, want - m->allocated) == WB_OK) {
		m->allocated = want;
	} else {
		m->allocated = UINT64_MAX;
		err_clear();
	}
}

void mapped_start(mapped_t *m, const wb_env *env, wb_env_file *f, const char *name, uint64_t end,
		  uint64_t limit)
{
	/* Not memset: a sync thread may already note syncs (the atomics,
	 * zero from the caller's calloc). */
	m->on = false;
	m->map = NULL;
	m->allocated = 0;
	if (env->map == NULL || env->unmap == NULL)
		return;
	pthread_once(&zeros_once, zeros_init);
	if (zeros == NULL)
		return;
	m->env = env;
	m->file = f;
	m->name = name;
	m->limit = limit;
	m->prepared = end;
	if (map_window(m, end - end % MAPPED_WINDOW) != WB_OK) {
		err_clear(); /* this file system cannot: the caller appends */
		return;
	}
	m->on = true;
}

int mapped_append(mapped_t *m, uint64_t off, const void *buf, size_t len)
{
	size_t head = off >= m->prepared ? 0 : m->prepared - off < len ? (size_t)(m->prepared - off) : len;
	int rc = head > 0 ? mapped_store(m, off, buf, head) : WB_OK;
	if (rc == WB_OK && head < len) {
		allocate(m, m->prepared + len - head);
		rc = append(m, (const uint8_t *)buf + head, len - head);
	}
	return rc;
}

void mapped_note_sync(mapped_t *m, uint64_t size)
{
	uint64_t last = atomic_exchange(&m->synced_at, size);
	if (size >= last && size - last < MAPPED_SYNC_BYTES)
		atomic_fetch_add(&m->quick_syncs, 1);
}

bool mapped_synced_often(const mapped_t *m)
{
	return atomic_load(&m->quick_syncs) >= MAPPED_QUICK_SYNCS;
}

int mapped_finish(mapped_t *m, uint64_t end)
{
	if (!m->on)
		return WB_OK;
	if (m->map != NULL)
		m->env->unmap(m->map, MAPPED_WINDOW);
	m->map = NULL;
	m->on = false;
	if (m->prepared <= end)
		return WB_OK;
	int rc = m->env->truncate(m->file, end);
	if (rc == WB_OK)
		m->prepared = end;
	else
		rc = err_set(rc, "%s: cannot trim to %llu: %s", m->name, (unsigned long long)end, wb_strerror(rc));
	return rc;
}
