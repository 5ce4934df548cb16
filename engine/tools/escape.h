/*
 * escape.h -- the byte escaping of the wombat tool's text formats.
 *
 * Keys and values may hold any bytes, but `scan` prints one entry per line
 * with a tab between key and value, so those bytes must be spelled so that
 * a tab, a newline or a terminal control byte never appears raw. The same
 * spelling is read back by `load` and by KEY and PREFIX arguments, so every
 * key printed can be named again:
 *
 *     \\     a backslash
 *     \t     a tab (0x09)
 *     \n     a newline (0x0a)
 *     \xHH   any other byte outside 0x20..0x7e; printed with lowercase
 *            hex digits, read in either case
 *
 * Printable ASCII other than the backslash stands for itself. When reading,
 * any byte that is not part of an escape also stands for itself (so UTF-8
 * typed on a command line works), but a backslash must start one of the
 * four escapes above.
 *
 * Pure functions, safe from any thread.
 */
#ifndef WOMBAT_TOOLS_ESCAPE_H
#define WOMBAT_TOOLS_ESCAPE_H

#include <stddef.h>

/* Bytes escape() may write for n input bytes: at most 4 per byte. */
#define ESCAPE_BOUND(n) ((n) * 4)

/* Writes the escaped form of the n bytes at src to dst, which must hold
 * ESCAPE_BOUND(n) bytes, and returns how many it wrote (no terminating NUL).
 * This function can't fail. */
size_t escape(char *dst, const void *src, size_t n);

/* Decodes the n bytes at src into dst and sets *outlen. dst may be src: the
 * decoded form is never longer. Returns 0, or -1 when a backslash does not
 * start a valid escape; then *bad is the offset of that backslash in src
 * and dst holds garbage. */
int unescape(void *dst, const char *src, size_t n, size_t *outlen, size_t *bad);

#endif /* WOMBAT_TOOLS_ESCAPE_H */
