/*
 * dirlist.h -- the children of one directory, in order, streamed from two
 * iterators (user keys below the directory and its 'A' records) over one
 * snapshot each, so a listing of a million entries holds one entry at a
 * time and a rename that commits mid-listing is seen entirely or not at all.
 *
 * Order: by the child's key below the directory, where a directory's key
 * ends with '/' -- the order the keys themselves have, so skipping a whole
 * subdirectory is one seek. The attributes come from the iterators (the
 * value's length and version, the record), so readdirplus needs no more
 * lookups.
 */
#ifndef WOMBATFS_DIRLIST_H
#define WOMBATFS_DIRLIST_H

#include "fs.h"

typedef struct dirlist dirlist;

typedef struct dirlist_entry {
	char name[NAME_BUF]; /* as shown (names.h) */
	uint8_t *key;        /* the child's node key (owned by the list; valid until the
			      * next call); e.type tells a directory's from a file's */
	size_t klen;
	fs_entry e;          /* type and attributes (no symlink target) */
} dirlist_entry;

int dirlist_open(fs_t *fs, const uint8_t *dirkey, size_t dlen, dirlist **out);
/* 1 and the next entry in *out, 0 at the end, or a negative errno. */
int dirlist_next(dirlist *d, dirlist_entry *out);
void dirlist_close(dirlist *d);

#endif /* WOMBATFS_DIRLIST_H */
