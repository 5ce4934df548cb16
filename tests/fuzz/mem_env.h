/*
 * mem_env.h -- a tiny in-memory wb_env for the fuzz targets (tests/fuzz/),
 * so that a reader that takes an env and a path can be fed the fuzzer's
 * bytes without touching the disk, thousands of times a second.
 *
 * Files are named byte buffers in one flat table (paths are compared as
 * whole strings; directories are not modelled: mkdir and sync_dir succeed,
 * list reports every file whose path starts with "dir/"). There is no map,
 * writeback or preallocate, so writers take their plain append path.
 * Nothing is ever synced or lost: a crash is simulated by editing a
 * file's bytes with mem_env_file().
 *
 * Single-threaded, like the fuzz targets. Every allocation failure is
 * WB_ENOMEM.
 */
#ifndef WB_FUZZ_MEM_ENV_H
#define WB_FUZZ_MEM_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "wombat.h"

typedef struct mem_env mem_env_t;

/* A new, empty env; NULL when memory runs out. */
mem_env_t *mem_env_new(void);

/* Frees me and every file in it. REQUIRES: no file handle is still open.
 * NULL is fine. */
void mem_env_free(mem_env_t *me);

/* The table to pass to a reader or writer. Valid until mem_env_free. */
const wb_env *mem_env_get(mem_env_t *me);

/* Creates or replaces path with a copy of len bytes at data.
 * WB_OK or WB_ENOMEM. */
int mem_env_put(mem_env_t *me, const char *path, const void *data, size_t len);

/* The bytes of path (NULL when it does not exist) and their count. The
 * pointer stays valid until the file is next written, truncated, replaced
 * or removed; the bytes may be changed in place. */
uint8_t *mem_env_file(mem_env_t *me, const char *path, size_t *len);

/* Sets path's length (zero-filling when it grows). WB_OK, WB_ENOTFOUND,
 * WB_ENOMEM. */
int mem_env_resize(mem_env_t *me, const char *path, size_t len);

#endif /* WB_FUZZ_MEM_ENV_H */
