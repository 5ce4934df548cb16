/*
 * reserve.h -- the disk reserve: a file RESERVE in the database directory
 * holding opts.disk_reserve bytes of zeros (docs/format.md, "Disk
 * reserve"), kept so that a database whose disk is full can still be
 * opened read-write and take the deletes that make room again.
 *
 * It is given back (removed) when the disk turns out to be full: by
 * wb_open when starting the new WAL or writing the MANIFEST fails with
 * WB_ENOSPC, by a removal (bgerror.h) that fails with WB_ENOSPC, and by a
 * value-log reclaim pass that does (reclaim is what turns deletes into
 * room); each then tries once more. Its room is meant for those, so giving
 * it back puts the database in the error state BG_DISK_FULL (WB_ENOSPC):
 * writes that store data are refused, removals are not. The reserve is
 * made again, whole, on the error state's retry schedule by the reclaim
 * thread (and by wb_vlog_gc, and at the next open): the first time it
 * fits, the state ends. A reserve that cannot be made whole is removed at
 * once: on a nearly full disk the last bytes are the user's. The info log
 * says each of these, the statistics show it.
 *
 * Threads: any function from any thread; `mu` serializes filling and
 * releasing (a fill writes the file while holding it; nothing else waits
 * on it but a release).
 */
#ifndef WB_RESERVE_H
#define WB_RESERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wombat.h"

#define RESERVE_NAME "RESERVE"

typedef struct reserve {
	pthread_mutex_t mu;
	_Atomic uint64_t bytes; /* held in RESERVE now */
	bool released;          /* (mu) given back since the last fill */
} reserve_t;

struct wb_db;

void reserve_init(reserve_t *r);
void reserve_destroy(reserve_t *r);

/* Makes RESERVE hold exactly db->opts.disk_reserve bytes (removes it when
 * that is 0), growing or cutting the file. WB_OK; WB_ENOSPC (or another
 * env error) when it could not be made whole, and then there is no file:
 * the database goes on without a reserve. */
int reserve_fill(struct wb_db *db);

/* Gives the reserve's room back to the database (removes RESERVE) and
 * enters BG_DISK_FULL, whose message is "the disk is full: ... <why>:
 * <the calling thread's error>". True when there is room to try again
 * for: the reserve was removed now, or by another thread since it was
 * last filled. False when there was none to give. The calling thread's
 * message is kept. */
bool reserve_release(struct wb_db *db, const char *why);

/* Makes a given-back reserve again when BG_DISK_FULL's retry is due (or
 * at once with `now`), ending that state when it fits. Does nothing when
 * the reserve was not given back. */
void reserve_retry(struct wb_db *db, bool now);

/* Its line of the statistics, through the caller's printf-like sink: a
 * text line, or a JSON field ("disk_reserve":...). */
typedef void (*reserve_sink_fn)(void *arg, const char *fmt, ...);
void reserve_report(struct wb_db *db, bool json, reserve_sink_fn sink, void *arg);

#endif /* WB_RESERVE_H */
