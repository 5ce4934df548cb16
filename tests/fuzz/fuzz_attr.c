/*
 * fuzz_attr.c -- fuzzes the filesystem's attribute record (fusefs/attr.c,
 * docs/fs.md "What is stored where"), read for every file and directory
 * that has metadata.
 *
 * Input: the record. Promises checked: a record that decodes re-encodes to
 * exactly its bytes; its mode names a real file type; only a symlink
 * carries bytes past the fixed part (its target), so nothing is silently
 * ignored or taken for a type the mount would not show.
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include <sys/stat.h>

#include "attr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *rec = malloc(size ? size : 1); /* exactly its size, for ASan */
	if (size)
		memcpy(rec, data, size);
	fs_attr a;
	const uint8_t *target;
	size_t tlen;
	if (attr_decode(rec, size, &a, &target, &tlen)) {
		mode_t t = a.mode & S_IFMT;
		FUZZ_CHECK(t == S_IFREG || t == S_IFDIR || t == S_IFLNK || t == S_IFIFO ||
		               t == S_IFCHR || t == S_IFBLK || t == S_IFSOCK,
		           "mode 0%o is no file type", (unsigned)a.mode);
		FUZZ_CHECK(t == S_IFLNK || tlen == 0, "a non-symlink record with %zu more bytes",
		           tlen);
		uint8_t *again = malloc(ATTR_FIXED + tlen);
		size_t n = attr_encode(&a, target, tlen, again);
		FUZZ_CHECK(n == size && memcmp(again, rec, n) == 0,
		           "record re-encodes differently");
		free(again);
		/* Without a target pointer it must decode the same way. */
		fs_attr b;
		FUZZ_CHECK(attr_decode(rec, size, &b, NULL, NULL) && a.mode == b.mode &&
		               a.uid == b.uid && a.gid == b.gid && a.rdev == b.rdev &&
		               a.atime_ns == b.atime_ns && a.mtime_ns == b.mtime_ns &&
		               a.ctime_ns == b.ctime_ns,
		           "decodes differently without the target");
	}
	free(rec);
	return 0;
}
