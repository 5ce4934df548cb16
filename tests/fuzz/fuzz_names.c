/*
 * fuzz_names.c -- fuzzes the mapping between key components and file names
 * (fusefs/names.c, docs/fs.md "Names"): names come from anyone who types a
 * path under the mount, components from any key written through the API.
 *
 * The first input byte picks the direction (bit 0) and, for components,
 * whether a directory shadows the file (bit 1):
 *   name       the rest, cut at the first NUL and at 255 bytes and without
 *              '/' (as the kernel hands names over), is decoded: a plain
 *              name is itself, an escaped one is accepted only in the
 *              spelling the encoder gives, and nothing overflows the
 *              component buffer;
 *   component  the rest is a component (no '/'): its name is at most 255
 *              bytes, holds no NUL or '/', and decodes back to it (a long
 *              name: to its start, with a hash that matches it).
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include "names.h"

static void from_name(const uint8_t *p, size_t n)
{
	char name[NAME_BUF];
	size_t len = 0;
	while (len < n && len < NAME_MAX_LEN && p[len] != 0 && p[len] != '/') {
		name[len] = (char)p[len];
		len++;
	}
	name[len] = '\0';
	uint8_t comp[NAME_BUF];
	size_t clen = SIZE_MAX;
	bool shadowed;
	uint64_t hash;
	enum name_kind k = names_decode(name, comp, &clen, &shadowed, &hash);
	if (k == NAME_INVALID) {
		FUZZ_CHECK(!names_creatable(name), "an invalid name is creatable");
		return;
	}
	FUZZ_CHECK(clen <= NAME_MAX_LEN, "a component of %zu bytes from a name", clen);
	char canon[NAME_BUF];
	if (k == NAME_PLAIN) {
		FUZZ_CHECK(clen == len && memcmp(comp, name, len) == 0 && !shadowed,
		           "a plain name is not itself");
		names_encode(comp, clen, false, canon);
		FUZZ_CHECK(strcmp(canon, name) == 0, "a plain name encodes as \"%s\"", canon);
	} else if (k == NAME_ESCAPED) {
		names_encode(comp, clen, shadowed, canon);
		FUZZ_CHECK(strcmp(canon, name) == 0, "\"%s\" accepted, but the spelling is \"%s\"",
		           name, canon);
	}
	FUZZ_CHECK(names_creatable(name) == (k == NAME_PLAIN || (k == NAME_ESCAPED && !shadowed)),
	           "creatable disagrees with the kind");
}

static void from_component(const uint8_t *p, size_t n, bool shadowed)
{
	if (memchr(p, '/', n) != NULL)
		return; /* a component never holds '/': keys are split there */
	char name[NAME_BUF + 16];
	memset(name, 'Z', sizeof(name));
	size_t len = names_encode(p, n, shadowed, name);
	FUZZ_CHECK(len <= NAME_MAX_LEN && name[len] == '\0' && strlen(name) == len,
	           "name of %zu bytes", len);
	FUZZ_CHECK(strchr(name, '/') == NULL, "a name with '/'");
	uint8_t comp[NAME_BUF];
	size_t clen;
	bool sh;
	uint64_t hash;
	enum name_kind k = names_decode(name, comp, &clen, &sh, &hash);
	FUZZ_CHECK(k != NAME_INVALID, "the encoder's name \"%s\" does not decode", name);
	FUZZ_CHECK(sh == shadowed, "shadow mark lost");
	if (k == NAME_LONG) {
		FUZZ_CHECK(clen <= n && memcmp(comp, p, clen) == 0,
		           "a long name's start is not the start");
		FUZZ_CHECK(names_long_match(p, n, hash),
		           "a long name does not match its component");
	} else {
		FUZZ_CHECK(clen == n && (n == 0 || memcmp(comp, p, n) == 0),
		           "\"%s\" decodes to another component", name);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in_t in = fuzz_in(data, size);
	uint8_t mode = fuzz_u8(&in);
	if (mode & 1)
		from_component(in.p, in.left, mode & 2);
	else
		from_name(in.p, in.left);
	return 0;
}
