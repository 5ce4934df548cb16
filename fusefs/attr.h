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
 * mount. The attribute record (little-endian, version 2):
 *
 *   u8 version | u32 mode | u32 uid | u32 gid | u64 rdev
 *   | i64 atime_ns | i64 mtime_ns | i64 ctime_ns
 *   | u64 ino | u32 subdirs | u32 links | symlink target bytes...
 *
 * Version 1 records (written before inode numbers were kept) end after
 * ctime_ns; they read as ino 0 and subdirs unknown.
 *
 *   'N'                    the next inode number the mount may hand out
 *                          (u64; numbers below it may be in use)
 *   'I' be64(ino)          the attribute record of a hard-linked file,
 *                          shared by its names, whose 'A' records are then
 *                          link records: u8 3 | u64 ino. `links` counts
 *                          the names of a symlink, fifo or device; a regular
 *                          file's are counted by the engine (its object)
 *
 * An entry's inode number is its record's `ino`, or, for an entry that has
 * no record (or a version 1 one), one derived from its node key
 * (attr_derived_ino). The mount gives every entry it creates a number of
 * its own from the 'N' counter; derived numbers have bit 62 set, counted
 * ones never do, so the two cannot meet.
 */
#ifndef WOMBATFS_ATTR_H
#define WOMBATFS_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ATTR_VERSION 2    /* never renumber: on-disk */
#define ATTR_FIXED 61     /* bytes before the symlink target */
#define ATTR_V1_FIXED 45  /* the same in a version 1 record */

#define META_ATTR 'A'     /* never renumber: on-disk */
#define META_XATTR 'X'    /* never renumber: on-disk */
#define META_NEXT_INO 'N' /* never renumber: on-disk */
#define META_INODE 'I'    /* never renumber: on-disk */

#define ATTR_LINK_VERSION 3 /* never renumber: on-disk */
#define ATTR_LINK_LEN 9
#define ATTR_INODE_KEY_LEN 9

#define ATTR_SUBDIRS_UNKNOWN UINT32_MAX
#define ATTR_DERIVED_INO (1ull << 62)

typedef struct fs_attr {
	uint32_t mode; /* type and permission bits (S_IFREG | 0644, ...) */
	uint32_t uid, gid;
	uint64_t rdev;
	int64_t atime_ns, mtime_ns, ctime_ns;
	uint64_t ino;     /* 0: none kept (derive it from the key) */
	uint32_t subdirs; /* a directory's subdirectories, or ATTR_SUBDIRS_UNKNOWN */
	uint32_t links;   /* names of a hard-linked symlink, fifo or device (else 0) */
	bool shared;      /* (not stored) the inode record of a hard-linked file:
			   * read from and written to 'I' ino, not the name's */
} fs_attr;

/* Encodes a into buf (ATTR_FIXED + target_len bytes); returns the length. */
size_t attr_encode(const fs_attr *a, const void *target, size_t target_len, uint8_t *buf);

/* Decodes rec; target/target_len point into rec (symlinks). false when the
 * record is malformed (too short, a mode of no file type, bytes past the
 * fixed part of anything but a symlink) or of an unknown version. */
bool attr_decode(const uint8_t *rec, size_t len, fs_attr *a, const uint8_t **target,
		 size_t *target_len);

/* The link record of a name of hard-linked file ino (ATTR_LINK_LEN
 * bytes), and its decoding (false: not a link record). */
size_t attr_encode_link(uint64_t ino, uint8_t *buf);
bool attr_decode_link(const uint8_t *rec, size_t len, uint64_t *ino);
/* 'I' be64(ino) into out (ATTR_INODE_KEY_LEN bytes). */
void attr_inode_key(uint64_t ino, uint8_t *out);

/* Bytes of symlink target in a record of len bytes (either version). */
size_t attr_target_len(const uint8_t *rec, size_t len);

/* The inode number of an entry with node key `key` that keeps none: a
 * hash of the key with bit 62 set (the root, key "", is 1). */
uint64_t attr_derived_ino(const uint8_t *key, size_t klen);

/* Nanoseconds since the epoch of an engine version timestamp. */
int64_t attr_ts_ns(uint64_t ts);
int64_t attr_now_ns(void);

/* Builds the metadata key  tag ‖ nodekey [‖ 0x00 ‖ name]  into a new
 * buffer (malloc; NULL when out of memory). name may be NULL. */
uint8_t *attr_key(char tag, const uint8_t *key, size_t klen, const char *name, size_t *outlen);

#endif /* WOMBATFS_ATTR_H */
