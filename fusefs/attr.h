/*
 * attr.h -- the filesystem's metadata records and where they live in the
 * metadata keyspace (docs/fs.md, "Metadata").
 *
 * Every entry has a node key: the user key of a file ("a/b"), the same path
 * for a symlink or special file, and the path with a '/' appended for a
 * directory ("a/"; the root's is empty). A directory's node key is the
 * prefix of every key below it. Records in WB_KS_META:
 *
 *   'A' nodekey            attributes (for a directory: its marker, which
 *                          mkdir writes; the root's is the lone "A")
 *   'X' nodekey 0x00 name  one extended attribute
 *
 * so every record of a directory's subtree starts with 'A' dirkey or
 * 'X' dirkey. A file with no record shows default attributes (0644,
 * the mounting user, mtime = the key's version timestamp): keys written
 * through the API need none, and neither do most files written through the
 * mount. The attribute record (little-endian, version 1):
 *
 *   u8 version | u32 mode | u32 uid | u32 gid | u64 rdev
 *   | i64 atime_ns | i64 mtime_ns | i64 ctime_ns | symlink target bytes...
 */
#ifndef WOMBATFS_ATTR_H
#define WOMBATFS_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ATTR_VERSION 1 /* never renumber: on-disk */
#define ATTR_FIXED 45  /* bytes before the symlink target */

#define META_ATTR 'A'  /* never renumber: on-disk */
#define META_XATTR 'X' /* never renumber: on-disk */

typedef struct fs_attr {
	uint32_t mode; /* type and permission bits (S_IFREG | 0644, ...) */
	uint32_t uid, gid;
	uint64_t rdev;
	int64_t atime_ns, mtime_ns, ctime_ns;
} fs_attr;

/* Encodes a into buf (ATTR_FIXED + target_len bytes); returns the length. */
size_t attr_encode(const fs_attr *a, const void *target, size_t target_len, uint8_t *buf);

/* Decodes rec; target/target_len point into rec (symlinks). false when the
 * record is malformed (too short, a mode of no file type, bytes past the
 * fixed part of anything but a symlink) or of an unknown version. */
bool attr_decode(const uint8_t *rec, size_t len, fs_attr *a, const uint8_t **target,
		 size_t *target_len);

/* Nanoseconds since the epoch of an engine version timestamp. */
int64_t attr_ts_ns(uint64_t ts);
int64_t attr_now_ns(void);

/* Builds the metadata key  tag ‖ nodekey [‖ 0x00 ‖ name]  into a new
 * buffer (malloc; NULL when out of memory). name may be NULL. */
uint8_t *attr_key(char tag, const uint8_t *key, size_t klen, const char *name, size_t *outlen);

#endif /* WOMBATFS_ATTR_H */
