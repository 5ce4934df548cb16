/*
 * fuzz_escape.c -- fuzzes the wombat tool's escapes (engine/tools/escape.c):
 * KEY and PREFIX arguments and every line of `load` are unescaped, every
 * key and value `scan` prints is escaped.
 *
 * The first input byte picks the direction (bit 0):
 *   unescape  the rest is text a user typed: it decodes or names the
 *             offset of a backslash that starts no valid escape, and what
 *             it decodes to escapes and decodes back to the same bytes;
 *   escape    the rest is a key or value: its escaped form holds only
 *             printable ASCII (never a tab or a newline), fits the bound,
 *             and unescapes to exactly the bytes.
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include "escape.h"

static void check_unescape(const char *src, size_t n)
{
	uint8_t *out = malloc(n + 1);
	size_t olen = SIZE_MAX, bad = SIZE_MAX;
	if (unescape(out, src, n, &olen, &bad) != 0) {
		FUZZ_CHECK(bad < n && src[bad] == '\\', "bad escape at %zu of %zu", bad, n);
		free(out);
		return;
	}
	FUZZ_CHECK(olen <= n, "decoded %zu bytes from %zu", olen, n);
	char *esc = malloc(ESCAPE_BOUND(olen) + 1);
	size_t elen = escape(esc, out, olen);
	uint8_t *back = malloc(elen + 1);
	size_t blen;
	FUZZ_CHECK(unescape(back, esc, elen, &blen, &bad) == 0, "escape output does not unescape");
	FUZZ_CHECK(blen == olen && memcmp(back, out, olen) == 0, "round trip changes the bytes");
	free(back);
	free(esc);
	free(out);
}

static void check_escape(const uint8_t *src, size_t n)
{
	char *esc = malloc(ESCAPE_BOUND(n) + 1);
	size_t elen = escape(esc, src, n);
	FUZZ_CHECK(elen <= ESCAPE_BOUND(n), "escaped to %zu bytes, bound %zu", elen,
	           ESCAPE_BOUND(n));
	for (size_t i = 0; i < elen; i++)
		FUZZ_CHECK(esc[i] >= 0x20 && esc[i] < 0x7f, "byte 0x%02x in escaped text",
		           (unsigned char)esc[i]);
	/* In place, as `load` does it. */
	size_t olen, bad;
	FUZZ_CHECK(unescape(esc, esc, elen, &olen, &bad) == 0, "escape output does not unescape");
	FUZZ_CHECK(olen == n && memcmp(esc, src, n) == 0, "round trip changes the bytes");
	free(esc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in_t in = fuzz_in(data, size);
	/* A copy of exactly the input's size, so ASan sees any over-read. */
	size_t n = in.left;
	uint8_t *copy = malloc(n ? n : 1);
	if (n)
		memcpy(copy, in.p, n);
	if (size > 0 && (data[0] & 1))
		check_escape(copy, n);
	else
		check_unescape((const char *)copy, n);
	free(copy);
	return 0;
}
