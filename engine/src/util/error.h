/*
 * error.h -- how errors are made and given context.
 *
 * Every module returns WB_OK or a negative WB_E* code. When an error has
 * something to say (file, offset, key), it is created through err_set(),
 * which records a message in a thread-local buffer that wb_errmsg() returns.
 * That single function is the place to put a breakpoint on any error.
 */
#ifndef WB_ERROR_H
#define WB_ERROR_H

#include "wombat.h"

/* Records the message for the calling thread and returns rc, so call sites
 * read `return err_set(WB_ECORRUPT, "%s offset %llu: bad crc", ...)`. */
int err_set(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forgets the calling thread's message (at the start of each public call). */
void err_clear(void);

/* The calling thread's message ("" when none). */
const char *err_message(void);

/* Writes bytes p[0..n) into buf (cap bytes) for a message: printable
 * ASCII as it is, a backslash and every other byte as \xHH, cut with "..."
 * when it does not fit. Returns buf. Damaged files and user keys hold any
 * bytes; a message must stay one line of text. */
const char *err_quote(const void *p, size_t n, char *buf, size_t cap);

/* Maps an errno value to a WB code: EIO -> WB_EIO, ENOSPC/EDQUOT ->
 * WB_ENOSPC, ENOENT -> WB_ENOTFOUND, ENOMEM -> WB_ENOMEM, others -> -errno. */
int err_from_errno(int e);

#endif /* WB_ERROR_H */
