/*
 * names.c -- key components to file names and back (names.h).
 */
#include "names.h"

#include <stdio.h>
#include <string.h>

#define ESC "%%"
#define ESC_LEN 2
#define LONG_MARK '#'
#define LONG_HEAD (ESC_LEN + 1 + 16 + 1) /* "%%#" + hash + "#" */

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static bool plain_ok(const uint8_t *c, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN)
		return false;
	if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
		return false;
	if (len >= ESC_LEN && memcmp(c, ESC, ESC_LEN) == 0)
		return false;
	return memchr(c, '\0', len) == NULL;
}

/* Escapes c into out (room for cap bytes) without splitting a %XX; returns
 * the bytes written and sets *used to the component bytes consumed. lead:
 * the bytes start an escaped name's body, where a '#' would read as the
 * mark of a long name ("%%#..."), so it is written %23 there. */
static size_t escape_into(const uint8_t *c, size_t len, char *out, size_t cap, size_t *used,
			  bool lead)
{
	size_t o = 0, i = 0;
	for (; i < len; i++) {
		if (c[i] == '%' || c[i] == '\0' || (lead && i == 0 && c[i] == LONG_MARK)) {
			if (o + 3 > cap)
				break;
			o += (size_t)sprintf(out + o, "%%%02X", c[i]);
		} else {
			if (o + 1 > cap)
				break;
			out[o++] = (char)c[i];
		}
	}
	*used = i;
	return o;
}

size_t names_encode(const uint8_t *comp, size_t len, bool shadowed, char *out)
{
	if (!shadowed && plain_ok(comp, len)) {
		memcpy(out, comp, len);
		out[len] = '\0';
		return len;
	}
	size_t mark = shadowed ? 1 : 0, used, n;
	memcpy(out, ESC, ESC_LEN);
	n = ESC_LEN + escape_into(comp, len, out + ESC_LEN, NAME_MAX_LEN - ESC_LEN - mark, &used, true);
	if (used < len) {
		/* Too long even escaped: hash + the start. */
		/* ESC as an argument: in the format "%%" would print one '%'. */
		n = (size_t)snprintf(out, NAME_BUF, "%s%c%016llx%c", ESC, LONG_MARK,
				     (unsigned long long)fnv1a(comp, len), LONG_MARK);
		n += escape_into(comp, len, out + n, NAME_MAX_LEN - n - mark, &used, false);
	}
	if (shadowed)
		out[n++] = '%';
	out[n] = '\0';
	return n;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1; /* lower case is not canonical */
}

/* Decodes the escaped body s[0..n); false when malformed. */
static bool unescape(const char *s, size_t n, uint8_t *out, size_t *len)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = (uint8_t)s[i];
			continue;
		}
		if (i + 2 >= n)
			return false;
		int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
		if (hi < 0 || lo < 0)
			return false;
		uint8_t b = (uint8_t)(hi << 4 | lo);
		/* Only these are escaped ('#' only first: the canonical
		 * check in names_decode holds it there). */
		if (b != '%' && b != '\0' && b != LONG_MARK)
			return false;
		out[o++] = b;
		i += 2;
	}
	*len = o;
	return true;
}

enum name_kind names_decode(const char *name, uint8_t *out, size_t *len, bool *shadowed,
			    uint64_t *hash)
{
	size_t nlen = strlen(name);
	*shadowed = false;
	if (nlen < ESC_LEN || memcmp(name, ESC, ESC_LEN) != 0) {
		if (!plain_ok((const uint8_t *)name, nlen))
			return NAME_INVALID;
		memcpy(out, name, nlen);
		*len = nlen;
		return NAME_PLAIN;
	}
	size_t body = nlen;
	if (name[nlen - 1] == '%' && nlen > ESC_LEN) { /* the shadow mark */
		*shadowed = true;
		body--;
	}
	enum name_kind kind = NAME_ESCAPED;
	size_t start = ESC_LEN;
	if (body > ESC_LEN && name[ESC_LEN] == LONG_MARK) {
		unsigned long long h;
		int used = 0;
		/* The hash as names_encode writes it: 16 lower-case hex digits
		 * (sscanf alone would take spaces, signs, "0x", upper case). */
		if (body < LONG_HEAD || name[LONG_HEAD - 1] != LONG_MARK ||
		    strspn(name + ESC_LEN + 1, "0123456789abcdef") != 16 ||
		    sscanf(name + ESC_LEN + 1, "%16llx%n", &h, &used) != 1 || used != 16)
			return NAME_INVALID;
		*hash = h;
		kind = NAME_LONG;
		start = LONG_HEAD;
	}
	if (!unescape(name + start, body - start, out, len))
		return NAME_INVALID;
	if (kind == NAME_LONG)
		return kind;
	char canon[NAME_BUF];
	names_encode(out, *len, *shadowed, canon);
	return strcmp(canon, name) == 0 ? NAME_ESCAPED : NAME_INVALID;
}

bool names_long_match(const uint8_t *comp, size_t len, uint64_t hash)
{
	char canon[NAME_BUF];
	/* Shadowed: its name is one byte longer, so long for more components
	 * (a file whose plain escape just fits is long once shadowed). The
	 * caller compares the exact name (store_resolve). */
	names_encode(comp, len, true, canon);
	return canon[ESC_LEN] == LONG_MARK && fnv1a(comp, len) == hash;
}

bool names_creatable(const char *name)
{
	uint8_t comp[NAME_BUF];
	size_t len;
	bool shadowed;
	uint64_t hash;
	enum name_kind k = names_decode(name, comp, &len, &shadowed, &hash);
	return k == NAME_PLAIN || (k == NAME_ESCAPED && !shadowed);
}
