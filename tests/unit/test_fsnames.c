/*
 * test_fsnames.c -- unit tests for wombatfs's pure parts: names.c (key
 * components <-> file names: plain, escaped, shadowed and long names, and
 * the one canonical spelling of each), attr.c (the attribute record and
 * metadata keys) and filebuf.c (a file's new contents in memory, then
 * spilled to a temporary file; holes and truncation read as zeros).
 *
 * Single-threaded. filebuf's temporary files go to /tmp (O_TMPFILE).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attr.h"
#include "filebuf.h"
#include "names.h"

/* FNV-1a 64, as names.h's long names use it. */
static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Encodes comp, checks the name is want (NULL: don't check), then decodes
 * it back: the kind, the same bytes, the same shadow flag. */
static void round_trip(const void *comp, size_t len, bool shadowed, const char *want,
		       enum name_kind kind)
{
	char name[NAME_BUF];
	size_t n = names_encode(comp, len, shadowed, name);
	assert_int_equal(n, strlen(name));
	assert_true(n <= NAME_MAX_LEN);
	if (want)
		assert_string_equal(name, want);
	uint8_t out[NAME_BUF];
	size_t olen = 0;
	bool sh = !shadowed;
	uint64_t hash = 0;
	assert_int_equal(names_decode(name, out, &olen, &sh, &hash), kind);
	assert_int_equal(sh, shadowed);
	if (kind != NAME_LONG) {
		assert_int_equal(olen, len);
		assert_memory_equal(out, comp, len);
	} else {
		assert_true(hash == fnv(comp, len));
		assert_true(names_long_match(comp, len, hash));
	}
}

static void test_plain_names(void **state)
{
	const char *plain[] = { "hello", "notes.txt", ".hidden", "...", "a b", "x%y", "%x",
				"100%", "%", "a%%b", "a%", "tab\there", "\xff\x80" };
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		round_trip(plain[i], strlen(plain[i]), false, plain[i], NAME_PLAIN);
		assert_true(names_creatable(plain[i]));
	}
	/* 255 bytes is still a plain name. */
	char max[NAME_MAX_LEN + 1];
	memset(max, 'p', NAME_MAX_LEN);
	max[NAME_MAX_LEN] = '\0';
	round_trip(max, NAME_MAX_LEN, false, max, NAME_PLAIN);
	/* Every byte but '/' and NUL, one name each. */
	for (int b = 1; b < 256; b++) {
		if (b == '/' || b == '.')
			continue;
		char c[2] = { (char)b, '\0' };
		round_trip(c, 1, false, c, NAME_PLAIN);
	}
}

static void test_escaped_names(void **state)
{
	round_trip("", 0, false, "%%", NAME_ESCAPED);
	round_trip(".", 1, false, "%%.", NAME_ESCAPED);
	round_trip("..", 2, false, "%%..", NAME_ESCAPED);
	round_trip("a\0b", 3, false, "%%a%00b", NAME_ESCAPED);
	round_trip("\0", 1, false, "%%%00", NAME_ESCAPED);
	round_trip("%%", 2, false, "%%%25%25", NAME_ESCAPED);
	round_trip("%%x", 3, false, "%%%25%25x", NAME_ESCAPED);
	round_trip("%%%", 3, false, "%%%25%25%25", NAME_ESCAPED);
	round_trip("n%\0", 3, false, "%%n%25%00", NAME_ESCAPED);
	const char *creatable[] = { "%%", "%%.", "%%..", "%%a%00b", "%%%25%25x" };
	for (size_t i = 0; i < sizeof(creatable) / sizeof(creatable[0]); i++)
		assert_true(names_creatable(creatable[i]));
	/* Escaped and plain names never meet: every escaped name starts with
	 * "%%", and no plain name does. */
	char name[NAME_BUF];
	names_encode((const uint8_t *)"%%", 2, false, name);
	assert_memory_equal(name, "%%", 2);
	assert_true(strlen(name) > 2);
}

static void test_shadowed_names(void **state)
{
	round_trip("f", 1, true, "%%f%", NAME_ESCAPED);
	round_trip("a%", 2, true, "%%a%25%", NAME_ESCAPED);
	round_trip("", 0, true, "%%%", NAME_ESCAPED);
	round_trip("..", 2, true, "%%..%", NAME_ESCAPED);
	round_trip("%%d", 3, true, "%%%25%25d%", NAME_ESCAPED);
	/* Shadow names are read, not created. */
	assert_false(names_creatable("%%f%"));
	assert_false(names_creatable("%%%"));
	/* The same component without the mark is another (non-canonical) name. */
	uint8_t out[NAME_BUF];
	size_t len;
	bool sh;
	uint64_t h;
	assert_int_equal(names_decode("%%f", out, &len, &sh, &h), NAME_INVALID);
}

/* A component starting with '#' that needs escaping must not read as a
 * long name ("%%#..."): fuzz_names found the file "#55" beside a
 * directory "#55" named "%%#55%", which decoded as a malformed long name,
 * so the file could not be reached. */
static void test_hash_first_escaped(void **state)
{
	round_trip("#55", 3, true, "%%%2355%", NAME_ESCAPED);
	round_trip("#a\0", 3, false, "%%%23a%00", NAME_ESCAPED);
	round_trip("#0123456789abcdef#x", 19, true, "%%%230123456789abcdef#x%", NAME_ESCAPED);
	round_trip("a#", 2, true, "%%a#%", NAME_ESCAPED); /* only at the start */
	round_trip("#plain", 6, false, "#plain", NAME_PLAIN);
	assert_true(names_creatable("%%%23a%00"));
	/* %23 anywhere else, or for a plain '#', is not the spelling. */
	uint8_t out[NAME_BUF];
	size_t len;
	bool sh;
	uint64_t h;
	assert_int_equal(names_decode("%%a%23%", out, &len, &sh, &h), NAME_INVALID);
	assert_int_equal(names_decode("%%%23plain", out, &len, &sh, &h), NAME_INVALID);
}

/* A component of n bytes of c. */
static uint8_t *filled(int c, size_t n)
{
	uint8_t *p = malloc(n);
	assert_non_null(p);
	memset(p, c, n);
	return p;
}

static void check_long(const uint8_t *comp, size_t len, bool shadowed)
{
	char name[NAME_BUF];
	size_t n = names_encode(comp, len, shadowed, name);
	assert_true(n <= NAME_MAX_LEN);
	assert_true(n >= NAME_MAX_LEN - 3); /* as much of the start as fits */
	char head[32];
	snprintf(head, sizeof(head), "%%%%#%016llx#", (unsigned long long)fnv(comp, len));
	assert_memory_equal(name, head, strlen(head));
	if (shadowed)
		assert_int_equal(name[n - 1], '%');
	uint8_t out[NAME_BUF];
	size_t olen;
	bool sh;
	uint64_t hash;
	assert_int_equal(names_decode(name, out, &olen, &sh, &hash), NAME_LONG);
	assert_int_equal(sh, shadowed);
	assert_true(hash == fnv(comp, len));
	/* out holds the start of the component. */
	assert_true(olen > 0 && olen < len);
	assert_memory_equal(out, comp, olen);
	assert_true(names_long_match(comp, len, hash));
	/* Long names are found, not created. */
	assert_false(names_creatable(name));
}

static void test_long_names(void **state)
{
	size_t sizes[] = { 256, 300, 1000, 4000 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *c = filled('L', sizes[i]);
		check_long(c, sizes[i], false);
		check_long(c, sizes[i], true);
		/* Neither one byte less nor a changed byte match the hash. */
		char name[NAME_BUF];
		names_encode(c, sizes[i], false, name);
		uint8_t out[NAME_BUF];
		size_t olen;
		bool sh;
		uint64_t hash;
		assert_int_equal(names_decode(name, out, &olen, &sh, &hash), NAME_LONG);
		assert_false(names_long_match(c, sizes[i] - 1, hash));
		c[sizes[i] / 2] = 'K';
		assert_false(names_long_match(c, sizes[i], hash));
		free(c);
	}
	/* Long because of its escapes: 200 '%' are 600 bytes escaped; the
	 * start is cut between escapes, never inside one. */
	uint8_t *pct = filled('%', 200);
	check_long(pct, 200, false);
	char name[NAME_BUF];
	size_t n = names_encode(pct, 200, false, name);
	assert_true((n - 20) % 3 == 0);
	free(pct);
	/* The edge: NUL + 250 bytes escape to exactly 255 bytes (escaped,
	 * not long); one more byte, or the shadow mark, makes it long. */
	uint8_t *edge = filled('e', 252);
	edge[0] = '\0';
	round_trip(edge, 251, false, NULL, NAME_ESCAPED);
	n = names_encode(edge, 251, false, name);
	assert_int_equal(n, NAME_MAX_LEN);
	check_long(edge, 252, false);
	check_long(edge, 251, true);
	/* A component whose plain escape fits is no long name's, unshadowed;
	 * shadowed it is (its shadow name is long). */
	uint64_t h = fnv(edge, 251);
	assert_true(names_long_match(edge, 251, h));
	assert_false(names_long_match((const uint8_t *)"short", 5, fnv((const uint8_t *)"short", 5)));
	free(edge);
}

static void test_noncanonical_rejected(void **state)
{
	const char *bad[] = {
		"%%%41",          /* 'A' needs no escape */
		"%%plain",        /* escaping a plain name */
		"%%x%25",         /* "x%" is plain */
		"%%%25",          /* "%" is plain */
		"%%a%2F",         /* '/' is no byte of a component */
		"%%a%2",          /* cut escape */
		"%%a%0",          /* cut escape */
		"%%a%GG",         /* not hex */
		"%%a%0g",         /* not hex */
		".",              /* the kernel never sends these, but they map to no key */
		"..",
		"",
		"%%#0123#LLL",    /* hash too short */
		"%%#0123456789abcdeg#L", /* not hex */
		"%%#0123456789ABCDEF#L", /* upper-case hash */
		"%%# 123456789abcdef#L", /* sscanf would skip the space */
		"%%#+123456789abcdef#L", /* or take a sign */
		"%%#0x23456789abcdef#L", /* or a 0x */
		"%%#0123456789abcdef",   /* no second mark */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t out[NAME_BUF];
		size_t len;
		bool sh;
		uint64_t h;
		enum name_kind k = names_decode(bad[i], out, &len, &sh, &h);
		if (k != NAME_INVALID)
			fail_msg("'%s' decoded as kind %d, want NAME_INVALID", bad[i], (int)k);
		assert_false(names_creatable(bad[i]));
	}
	/* Lower-case hex in an escape is not canonical either: %2a would be
	 * '*', which needs none, and the escapes that exist (%25, %00) have no
	 * letters -- so the only hex letters are the long name's, which are
	 * lower case. Over-long names are no names at all. */
	char too_long[NAME_MAX_LEN + 2];
	memset(too_long, 'x', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	uint8_t out[NAME_MAX_LEN + 2];
	size_t len;
	bool sh;
	uint64_t h;
	assert_int_equal(names_decode(too_long, out, &len, &sh, &h), NAME_INVALID);
	assert_false(names_creatable(too_long));
}

/* Field by field: fs_attr has padding after gid. */
static void assert_attr_equal(const fs_attr *a, const fs_attr *b)
{
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_true(a->rdev == b->rdev);
	assert_true(a->atime_ns == b->atime_ns);
	assert_true(a->mtime_ns == b->mtime_ns);
	assert_true(a->ctime_ns == b->ctime_ns);
}

static void test_attr_round_trip(void **state)
{
	fs_attr a = { .mode = 0100644, .uid = 1234, .gid = 4321, .rdev = 0x0102030405060708ull,
		      .atime_ns = 981173106000000001ll, .mtime_ns = -5, .ctime_ns = INT64_MAX };
	uint8_t buf[ATTR_FIXED + 64];
	size_t n = attr_encode(&a, NULL, 0, buf);
	assert_int_equal(n, ATTR_FIXED);
	assert_int_equal(buf[0], ATTR_VERSION);
	/* Little-endian mode right after the version. */
	assert_int_equal(buf[1], 0xa4);
	assert_int_equal(buf[2], 0x81);
	fs_attr b;
	const uint8_t *t = (const uint8_t *)"x";
	size_t tlen = 99;
	assert_true(attr_decode(buf, n, &b, &t, &tlen));
	assert_attr_equal(&a, &b);
	assert_int_equal(tlen, 0);

	/* A symlink: the target follows the fixed part. */
	fs_attr l = { .mode = 0120777, .uid = 1, .gid = 2, .mtime_ns = 42 };
	const char *target = "../some/where\0with a NUL";
	size_t target_len = 24;
	n = attr_encode(&l, target, target_len, buf);
	assert_int_equal(n, ATTR_FIXED + target_len);
	assert_true(attr_decode(buf, n, &b, &t, &tlen));
	assert_attr_equal(&l, &b);
	assert_int_equal(tlen, target_len);
	assert_memory_equal(t, target, target_len);
	/* Without target pointers the record still decodes. */
	assert_true(attr_decode(buf, n, &b, NULL, NULL));

	/* Malformed: too short, unknown version. */
	assert_false(attr_decode(buf, ATTR_FIXED - 1, &b, NULL, NULL));
	buf[0] = ATTR_VERSION + 1;
	assert_false(attr_decode(buf, n, &b, NULL, NULL));
}

/* What fuzz_attr found: a regular file's record with a byte more, which
 * decoded and ignored the byte; and modes of no file type, which the
 * mount would show as nothing. Both are damage, not a record. */
static void test_attr_malformed(void **state)
{
	uint8_t buf[ATTR_FIXED + 8];
	fs_attr a = { .mode = 0100644, .uid = 1, .gid = 2 }, b;
	size_t n = attr_encode(&a, NULL, 0, buf);
	buf[n] = 'x';
	assert_false(attr_decode(buf, n + 1, &b, NULL, NULL));
	a.mode = 040755;
	n = attr_encode(&a, "junk", 4, buf);
	assert_false(attr_decode(buf, n, &b, NULL, NULL));
	static const uint32_t no_type[] = { 0644, 0030644, 0110644, 0170644 };
	for (size_t i = 0; i < sizeof(no_type) / sizeof(no_type[0]); i++) {
		a.mode = no_type[i];
		n = attr_encode(&a, NULL, 0, buf);
		assert_false(attr_decode(buf, n, &b, NULL, NULL));
	}
	static const uint32_t types[] = { 0100644, 040755, 0120777, 010644, 020600, 060600, 0140755 };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		a.mode = types[i];
		n = attr_encode(&a, NULL, 0, buf);
		assert_true(attr_decode(buf, n, &b, NULL, NULL));
	}
}

static void test_attr_keys(void **state)
{
	size_t len;
	uint8_t *k = attr_key(META_ATTR, (const uint8_t *)"a/b/", 4, NULL, &len);
	assert_non_null(k);
	assert_int_equal(len, 5);
	assert_memory_equal(k, "Aa/b/", 5);
	free(k);
	k = attr_key(META_XATTR, (const uint8_t *)"f", 1, "user.color", &len);
	assert_non_null(k);
	assert_int_equal(len, 1 + 1 + 1 + 10);
	assert_memory_equal(k, "Xf\0user.color", len);
	free(k);
	/* The root's record is the lone tag. */
	k = attr_key(META_ATTR, (const uint8_t *)"", 0, NULL, &len);
	assert_non_null(k);
	assert_int_equal(len, 1);
	assert_int_equal(k[0], 'A');
	free(k);
	/* Engine timestamps: (ms << 16) | counter. */
	assert_true(attr_ts_ns((uint64_t)1000 << 16) == 1000000000ll);
	assert_true(attr_ts_ns(((uint64_t)1000 << 16) + 2) > attr_ts_ns((uint64_t)1000 << 16));
}

/* Reads the whole buffer and checks it is want[0..n). */
static void expect_contents(filebuf *fb, const uint8_t *want, size_t n)
{
	assert_int_equal(fb->size, n);
	uint8_t *got = malloc(n + 16);
	assert_non_null(got);
	assert_int_equal(filebuf_read(fb, 0, got, n + 16), (ssize_t)n);
	assert_memory_equal(got, want, n);
	free(got);
}

static void test_filebuf_spill(void **state)
{
	filebuf fb;
	filebuf_init(&fb, "/tmp", 1000);
	uint8_t model[5000] = { 0 };
	/* In memory: a write, then one past the end leaving a hole. */
	assert_int_equal(filebuf_write(&fb, 0, "hello", 5), 0);
	memcpy(model, "hello", 5);
	assert_int_equal(filebuf_write(&fb, 600, "world", 5), 0);
	memcpy(model + 600, "world", 5);
	assert_int_equal(fb.fd, -1);
	expect_contents(&fb, model, 605);
	/* Past spill_at: the contents move to a temporary file. */
	uint8_t big[1500];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(filebuf_write(&fb, 2000, big, sizeof(big)), 0);
	memcpy(model + 2000, big, sizeof(big));
	assert_true(fb.fd >= 0);
	assert_null(fb.mem);
	expect_contents(&fb, model, 3500);
	/* The hole between 605 and 2000 reads as zeros. */
	uint8_t z[1395];
	assert_int_equal(filebuf_read(&fb, 605, z, sizeof(z)), (ssize_t)sizeof(z));
	for (size_t i = 0; i < sizeof(z); i++)
		assert_int_equal(z[i], 0);
	/* Overwrite inside, reads at and past the end. */
	assert_int_equal(filebuf_write(&fb, 3, "LO", 2), 0);
	memcpy(model + 3, "LO", 2);
	expect_contents(&fb, model, 3500);
	uint8_t one;
	assert_int_equal(filebuf_read(&fb, 3500, &one, 1), 0);
	assert_int_equal(filebuf_read(&fb, 9999, &one, 1), 0);
	uint8_t tail[10];
	assert_int_equal(filebuf_read(&fb, 3495, tail, 10), 5);
	assert_memory_equal(tail, model + 3495, 5);
	/* Truncate (spilled): shrink, then grow -- the regrown bytes are zeros. */
	assert_int_equal(filebuf_truncate(&fb, 2100), 0);
	memset(model + 2100, 0, sizeof(model) - 2100);
	expect_contents(&fb, model, 2100);
	assert_int_equal(filebuf_truncate(&fb, 4000), 0);
	expect_contents(&fb, model, 4000);
	filebuf_free(&fb);
	assert_int_equal(fb.fd, -1);
	assert_int_equal(fb.size, 0);
}

static void test_filebuf_memory_truncate(void **state)
{
	filebuf fb;
	filebuf_init(&fb, "/tmp", 1u << 20);
	uint8_t model[8192] = { 0 };
	for (size_t i = 0; i < 3000; i++)
		model[i] = (uint8_t)(i % 251 + 1);
	assert_int_equal(filebuf_write(&fb, 0, model, 3000), 0);
	/* Shrink, then grow: the old bytes must not come back. */
	assert_int_equal(filebuf_truncate(&fb, 100), 0);
	memset(model + 100, 0, sizeof(model) - 100);
	expect_contents(&fb, model, 100);
	assert_int_equal(filebuf_truncate(&fb, 3000), 0);
	expect_contents(&fb, model, 3000);
	/* A write past the end after a shrink: the gap is zeros too. */
	assert_int_equal(filebuf_truncate(&fb, 50), 0);
	assert_int_equal(filebuf_write(&fb, 5000, "z", 1), 0);
	model[5000] = 'z';
	memset(model + 50, 0, 50);
	expect_contents(&fb, model, 5001);
	assert_int_equal(fb.fd, -1); /* never spilled */
	/* Growing by truncate past spill_at spills, and still reads zeros. */
	filebuf_free(&fb);
	filebuf_init(&fb, "/tmp", 4096);
	assert_int_equal(filebuf_write(&fb, 0, "abc", 3), 0);
	assert_int_equal(filebuf_truncate(&fb, 8000), 0);
	assert_true(fb.fd >= 0);
	memset(model, 0, sizeof(model));
	memcpy(model, "abc", 3);
	expect_contents(&fb, model, 8000);
	/* Truncate to zero and write again. */
	assert_int_equal(filebuf_truncate(&fb, 0), 0);
	assert_int_equal(fb.size, 0);
	assert_int_equal(filebuf_write(&fb, 2, "q", 1), 0);
	expect_contents(&fb, (const uint8_t *)"\0\0q", 3);
	filebuf_free(&fb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_names),
		cmocka_unit_test(test_escaped_names),
		cmocka_unit_test(test_shadowed_names),
		cmocka_unit_test(test_hash_first_escaped),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_noncanonical_rejected),
		cmocka_unit_test(test_attr_round_trip),
		cmocka_unit_test(test_attr_malformed),
		cmocka_unit_test(test_attr_keys),
		cmocka_unit_test(test_filebuf_spill),
		cmocka_unit_test(test_filebuf_memory_truncate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
