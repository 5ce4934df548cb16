/*
 * names.h -- how keys become path names and back (docs/fs.md, "Names").
 *
 * A key is split at '/' into components; each component becomes one name in
 * a directory. Most components are shown as they are. A component that is
 * not a valid file name -- empty, "." or "..", holding a NUL byte, longer
 * than NAME_MAX, starting with the escape "%%" -- or a file whose name is
 * also a directory (keys "a" and "a/b" both exist) is shown escaped:
 *
 *     "%%" followed by the component with '%' written as %25 and NUL as %00
 *     (and a '#' at its start as %23, so it never reads as a long name)
 *
 * Escaped names always start with "%%" and plain names never do, so every
 * key has exactly one path and every path at most one key. A component too
 * long even for that is shown as "%%#" + 16 hex digits of its hash + "#"
 * + the escaped start of the component; finding the key again needs a look
 * at the directory (names_long_match). Pure functions; thread-safe.
 */
#ifndef WOMBATFS_NAMES_H
#define WOMBATFS_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAME_MAX_LEN 255    /* bytes in one file name (ext4's limit) */
#define NAME_BUF (NAME_MAX_LEN + 1)

/* How a name decodes. */
enum name_kind {
	NAME_PLAIN,    /* the component itself */
	NAME_ESCAPED,  /* "%%..." : decoded into the component */
	NAME_LONG,     /* "%%#hash#start" : needs names_long_match() */
	NAME_INVALID,  /* not a name any key maps to: ENOENT on lookup, EINVAL on create */
};

/*
 * Writes the name of key component comp[0..len) into out (NAME_BUF bytes,
 * NUL-terminated) and returns its length. shadowed: the component is a file
 * whose plain name is taken by a directory of the same name.
 */
size_t names_encode(const uint8_t *comp, size_t len, bool shadowed, char *out);

/*
 * Decodes name (a C string from the kernel) into the component out (at
 * least NAME_MAX_LEN bytes) and *len. Returns its kind. NAME_ESCAPED names
 * are accepted only in their one canonical form (so no key gets two paths);
 * *shadowed tells whether the escaped form was needed only because of a
 * directory of the same name -- the caller must check that one exists.
 * For NAME_LONG, out holds the decoded start and *hash the hash.
 */
enum name_kind names_decode(const char *name, uint8_t *out, size_t *len, bool *shadowed,
			    uint64_t *hash);

/* True when comp (a full component, any length) is what a long name with
 * this hash stands for. */
bool names_long_match(const uint8_t *comp, size_t len, uint64_t hash);

/* True when a name the user creates (mkdir, create, rename target, ...)
 * maps to a key: plain names and canonical escapes. */
bool names_creatable(const char *name);

#endif /* WOMBATFS_NAMES_H */
