/*
 * ikey.h -- internal keys, timestamps and meta bytes (docs/format.md,
 * "Internal keys").
 *
 * An internal key is  tree_key ‖ be64(~ts)  where tree_key is the keyspace
 * byte followed by the user key. For one tree key the newest version sorts
 * first. Internal keys compare by tree_key (memcmp, shorter prefix first),
 * then by the 8-byte suffix. A plain memcmp of whole internal keys would be
 * wrong when one tree key is a prefix of another, hence ikey_compare().
 *
 * The stored value of every entry starts with a meta byte. Pure functions;
 * thread-safe.
 */
#ifndef WB_IKEY_H
#define WB_IKEY_H

#include "util/coding.h"

#define IKEY_SUFFIX 8

/* Keyspaces: the first byte of every tree key. Never renumber: on-disk. */
enum keyspace {
	KS_USER = 0x00, /* keys of wb_put / wb_get and the files of the mount */
	KS_META = 0x01, /* the filesystem's attributes and markers (WB_KS_META) */
	KS_OBJ = 0x02,  /* objects: the chunks of values changed in place (obj/object.h) */
	KS_PUBLIC_LAST = KS_META, /* the last keyspace the API names */
	KS_LAST = KS_OBJ,
};

/* Meta byte flags. Never renumber: on-disk. */
#define META_TOMBSTONE 0x01 /* the key was deleted at this ts; no payload */
#define META_VALUE_PTR 0x02 /* payload is a pointer into the value log */
#define META_OBJECT 0x04    /* payload is a reference to an object (obj/object.h) */

/* The largest timestamp: seeking to (tree_key, TS_MAX) lands on its newest version. */
#define TS_MAX UINT64_MAX

static inline slice_t ikey_tree_key(slice_t ikey)
{
	return slice_make(ikey.data, ikey.len - IKEY_SUFFIX);
}

static inline uint64_t ikey_ts(slice_t ikey)
{
	return ~get_be64(ikey.data + ikey.len - IKEY_SUFFIX);
}

/* Writes tree_key ‖ be64(~ts) into buf (tk.len + 8 bytes); returns its length. */
static inline size_t ikey_encode(uint8_t *buf, slice_t tree_key, uint64_t ts)
{
	memcpy(buf, tree_key.data, tree_key.len);
	put_be64(buf + tree_key.len, ~ts);
	return tree_key.len + IKEY_SUFFIX;
}

static inline int ikey_compare(slice_t a, slice_t b)
{
	int c = slice_compare(ikey_tree_key(a), ikey_tree_key(b));
	if (c != 0)
		return c;
	return memcmp(a.data + a.len - IKEY_SUFFIX, b.data + b.len - IKEY_SUFFIX, IKEY_SUFFIX);
}

/* A well-formed internal key has a suffix and a non-empty tree key. */
static inline bool ikey_valid(slice_t ikey)
{
	return ikey.len > IKEY_SUFFIX;
}

#endif /* WB_IKEY_H */
