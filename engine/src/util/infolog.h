/*
 * infolog.h -- the info log: a text file LOG in the database directory that
 * says what the engine did and what went wrong (opens and recoveries, what
 * recovery dropped, flushes, compactions, value-log reclaim, stalls,
 * background errors), one line each:
 *
 *   2026-12-01 22:31:42.123456 wb-flush   flushed 000012.wal to 000014.sst (3.1 MiB)
 *
 * Each open renames the previous LOG to LOG.old, so two runs are kept, and
 * so does a LOG that grows past INFO_LOG_MAX. Or the lines go to a
 * callback instead (wb_options.info_log). The log is for people: nothing reads it back, and failing to write it never
 * fails an operation (the line is lost; the next one is tried again).
 * Read-only opens write no log.
 *
 * Thread-safe: any thread may call info_log at any time between open and
 * close; one mutex orders whole lines, and one append writes each.
 */
#ifndef WB_INFOLOG_H
#define WB_INFOLOG_H

#include "wombat.h"

typedef struct info_log info_log_t;

#define INFO_LOG_MAX (16u << 20) /* bytes of LOG before it starts over */

typedef void (*info_log_fn)(void *arg, const char *line);

/* Rotates dir/LOG to dir/LOG.old and starts a new dir/LOG through env; or,
 * when fn is not NULL, sends every line to fn(arg, line) and touches no
 * file. Errors from the env, WB_ENOMEM; on error *out is NULL (the caller
 * goes on without a log: info_log(NULL, ...) does nothing). */
int info_log_open(const wb_env *env, const char *dir, info_log_fn fn, void *arg,
		  info_log_t **out);

/* Closes the log. NULL is fine. */
void info_log_close(info_log_t *log);

/* Appends one line (a newline is added) prefixed with the local time and the
 * calling thread's name. log may be NULL. This function can't fail. */
void info_log(info_log_t *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* WB_INFOLOG_H */
