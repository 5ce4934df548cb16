/*
 * fs.h -- the state of a mounted wombatfs and what its modules share.
 *
 * Modules:
 *   main.c      command line, options, start-up checks, daemon, session loop
 *   names.c     key components <-> file names (the escape for odd keys)
 *   attr.c      metadata records and keys in WB_KS_META
 *   inode.c     inode numbers <-> node keys, kernel lookup counts
 *   store.c     questions about the tree asked of the engine: does this
 *               entry or directory exist, what are its attributes
 *   dirlist.c   the children of a directory in order, streamed
 *   filebuf.c   new contents of a file open for writing
 *   ops_*.c     the FUSE low-level operations
 *   errmap.c    engine errors -> errno, in one place
 *
 * Locking (docs/fs.md, "Locks"): `ns_mu` serializes every change to the
 * namespace and the final step of every commit of file contents, so a
 * check ("does the target exist? is this still the node's key?") and the
 * write that depends on it are one step; reads take no lock. It is held
 * only across one engine write of bounded size (a namespace change, an
 * attribute record, a file's contents when they are in memory, or the
 * pointer to a value already streamed), never across a stream of a file's
 * bytes, the loading of a file, or a sync: those run first, unlocked, and
 * the step under ns_mu checks that nothing moved meanwhile. A node's
 * `commit_mu` serializes the changes to its buffer and its commits, and is
 * the one lock held across such long disk I/O, so it is taken before any
 * other and never by a thread holding one. `tab_mu` guards the inode
 * table; a node's `mu` guards its open-file state, briefly.
 * Order: commit_mu, then ns_mu, then tab_mu, then a node's mu (a forget
 * looks at the node's handles under tab_mu): a thread holding a node's
 * mu takes no other lock, so it copies the node's key before.
 */
#ifndef WOMBATFS_FS_H
#define WOMBATFS_FS_H

#define FUSE_USE_VERSION 34

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "attr.h"
#include "errmap.h"
#include "filebuf.h"
#include "filepatch.h"
#include "names.h"
#include "wombat.h"

typedef struct fs_node {
	uint64_t ino;
	/* The node key (attr.h): "a/b" file, "a/b/" directory, "" root. Only
	 * a rename changes it, holding both ns_mu and tab_mu: read it under
	 * either, or take a copy with inode_key(). */
	uint8_t *key;
	size_t klen;
	bool dir;     /* a directory; a file's key ends in '/' only when its
		       * name is empty ("t/" is the file %% in t) */
	uint64_t nlookup; /* (tab_mu) kernel references */
	bool unlinked;    /* (tab_mu) removed from the table by unlink/rmdir */
	struct fs_node *ino_next, *key_next; /* (tab_mu) hash chains */

	pthread_mutex_t commit_mu; /* changes of buf and commits; see Locking */
	pthread_mutex_t mu;
	bool busy;        /* (mu) commit_mu is held across long disk I/O: requests
			   * that would wait for it go to the workers */
	int writers;      /* (mu) open handles that may write */
	int handles;      /* (mu) open handles */
	filebuf *buf;     /* (mu) whole new contents (a file created or opened
			   * with O_TRUNC), or NULL */
	filepatch *patch; /* (mu) else the changes over the committed contents
			   * (an existing file written), or NULL */
	bool fresh;       /* (mu) buf is of a file this mount created: its key
			   * holds no object to release at the commit */
	bool dirty;       /* (mu) buf or patch differs from the store */
	uint64_t read_gen; /* (mu) bumped whenever a store read done before
			    * may no longer be laid under the patch */
	uint64_t cache_ts; /* (mu) version the kernel's page cache holds */
	int64_t write_ns;  /* (mu) when buf or patch last changed (0: clean); a
			    * commit stamps it as mtime and ctime */
	uint64_t st_ino;   /* (atomic) the inode number last reported for it,
			    * shown while it is open after an unlink */
} fs_node;

typedef struct fs {
	wb_db *db;
	struct fuse_session *se; /* for telling the kernel what changed */
	char *dbdir;
	bool ro;
	uid_t uid;
	gid_t gid;
	int64_t mount_ns;
	double timeout;    /* seconds the kernel may cache entries and attributes */
	uint64_t spill_at; /* bytes of a write buffer kept in memory */
	bool stream_ok;    /* large files may stream into the value log */
	bool sync_always;  /* -o sync=always: every commit waits for the disk */

	pthread_mutex_t ns_mu;
	pthread_mutex_t tab_mu;
	fs_node **by_ino, **by_key; /* (tab_mu) hash tables of nbuckets */
	size_t nbuckets, nnodes;
	uint64_t next_ino;
	fs_node *root;
	/* Inode numbers for new entries (attr.h, 'N'): [ino_next, ino_limit)
	 * is reserved in the store. */
	uint64_t ino_next, ino_limit; /* (ns_mu) */
} fs_t;

/* An entry as the store describes it. */
typedef struct fs_entry {
	mode_t type;         /* S_IFREG, S_IFDIR, ...; 0: no such entry */
	bool has_record;     /* attributes come from an 'A' record */
	bool has_value;      /* a user key holds the contents */
	fs_attr attr;
	uint64_t size;
	uint32_t nlink;      /* names of a file; 2 + subdirectories of a directory
			      * (1 when not counted) */
	uint8_t *target;     /* symlink target (malloc), NULL otherwise */
	size_t target_len;
} fs_entry;

/* ---- inode.c ---- */
int inode_init(fs_t *fs);
void inode_destroy(fs_t *fs);
fs_node *inode_get(fs_t *fs, fuse_ino_t ino);
/* A copy of n's key (set *klen), safe against a concurrent rename: into
 * buf when it fits in cap bytes, else into a new buffer (malloc). NULL
 * when out of memory. The caller frees the result unless it is buf. Takes
 * tab_mu. */
uint8_t *inode_key(fs_t *fs, fs_node *n, uint8_t *buf, size_t cap, size_t *klen);
/* Whether n was unlinked (or removed by rmdir, or replaced by a rename):
 * once true, it stays so. Takes tab_mu. */
bool inode_unlinked(fs_t *fs, fs_node *n);
/* Finds or makes the node of key (a directory or not) and adds one
 * kernel reference. */
fs_node *inode_ref(fs_t *fs, const uint8_t *key, size_t klen, bool dir);
/* The node of key if the kernel holds one, else NULL (no reference). */
fs_node *inode_find(fs_t *fs, const uint8_t *key, size_t klen, bool dir);
void inode_forget(fs_t *fs, fuse_ino_t ino, uint64_t n);
/* The key was removed: a later entry of that name gets a new node. */
void inode_unlink(fs_t *fs, const uint8_t *key, size_t klen, bool dir);
/* Renames the node of from (and, for a directory, every node below it) so
 * that its key starts with to instead. */
int inode_rename(fs_t *fs, const uint8_t *from, size_t flen, bool dir, const uint8_t *to,
		 size_t tlen);
/* Both at once (RENAME_EXCHANGE): a's nodes move to a_to, b's to b_to. */
int inode_exchange(fs_t *fs, const uint8_t *a, size_t alen, bool adir, const uint8_t *a_to,
		   size_t a_tolen, const uint8_t *b, size_t blen, bool bdir, const uint8_t *b_to,
		   size_t b_tolen);
/* Calls fn for every node with open-file state (shutdown). */
void inode_each(fs_t *fs, void (*fn)(fs_t *fs, fs_node *n));

/* ---- store.c ---- */
/* Fills e for the directory or the non-directory with node key. Returns 0
 * (e->type 0 when missing) or a negative errno. */
int store_entry(fs_t *fs, const uint8_t *key, size_t klen, bool dir, fs_entry *e);
void store_entry_free(fs_entry *e);
/* 1 when anything lies below dirkey (ends with '/'), 0 when not, or -errno. */
int store_dir_nonempty(fs_t *fs, const uint8_t *dirkey, size_t dlen);
/* Resolves name in directory parent to the child's node key (malloc) and
 * its entry. 0, -ENOENT, or another -errno. */
int store_resolve(fs_t *fs, fs_node *parent, const char *name, uint8_t **key, size_t *klen,
		  fs_entry *e);
/* The child key for a name being created in parent (decoded, no lookup).
 * -EINVAL for names that map to no key. is_dir appends '/'. */
int store_child_key(fs_node *parent, const char *name, bool is_dir, uint8_t **key, size_t *klen);
/* The attributes of an entry with no record: a regular file 0644 or
 * (type S_IFDIR) a directory 0755, owned by the user who mounted, every
 * time t (a file's version, the mount's start for a directory). Can't
 * fail. */
fs_attr store_default_attr(const fs_t *fs, mode_t type, int64_t t);
/* Completes e's inode number (derived from key when it keeps none) and
 * link count from what the store said. */
void store_entry_ids(const uint8_t *key, size_t klen, fs_entry *e);
/* How long the kernel may keep an entry's attributes: not at all for a
 * hard-linked file, whose other names' nodes change them too. */
static inline double store_attr_timeout(const fs_t *fs, const fs_entry *e)
{
	return e->nlink > 1 && e->type != S_IFDIR ? 0.0 : fs->timeout;
}
/* struct stat of an entry. */
void store_fill_stat(fs_t *fs, const fs_entry *e, struct stat *st);
/* Reads the inode number counter (at mount). */
int store_ino_init(fs_t *fs);
/* A new inode number for an entry created by batch b, which also gets a
 * new reservation when the last one is used up (REQUIRES: ns_mu). */
int store_new_ino(fs_t *fs, wb_batch *b, uint64_t *ino);
/* Adds to b the directory dkey's record with mtime and ctime now and its
 * subdirectory count changed by dsub, for an entry added, removed or
 * renamed in it; a directory without a record (or without a count) gets
 * one, counted once from the store as it is before b. */
int store_touch_dir(fs_t *fs, wb_batch *b, const uint8_t *dkey, size_t dlen, int dsub);
/* Adds the entry's attribute record (or its removal) to batch b. */
int store_put_attr(fs_t *fs, wb_batch *b, const uint8_t *key, size_t klen, const fs_attr *a,
		   const void *target, size_t tlen);
/* The same in a transaction. */
int store_put_attr_txn(fs_t *fs, wb_txn *t, const uint8_t *key, size_t klen, const fs_attr *a,
		       const void *target, size_t tlen);
/* The attributes of key (a link record followed: a->shared), *found
 * false when it has no record. */
int store_get_attr(fs_t *fs, const uint8_t *key, size_t klen, fs_attr *a, bool *found);
/* The inode record of hard-linked file ino (wb_free it). */
int store_inode_record(fs_t *fs, uint64_t ino, void **rec, size_t *rlen);

/* ---- ops_*.c ---- */
void ops_dir_init(struct fuse_lowlevel_ops *ops);
void ops_file_init(struct fuse_lowlevel_ops *ops);
void ops_xattr_init(struct fuse_lowlevel_ops *ops);
/* Commits n's buffered contents, when they differ from the store, to the
 * key n has when the commit lands (a rename meanwhile is followed; an
 * unlink meanwhile leaves nothing to commit). Not durable until a
 * wb_sync, which the caller makes after unlocking. REQUIRES: n->commit_mu
 * held, and no other lock. Returns 0 or a negative errno; on error the
 * buffer stays dirty. */
int file_commit(fs_t *fs, fs_node *n);
/* Whether committing ino's buffer at flush or release may take long: a
 * big or spilled buffer, a stream, sync=always, or another request busy
 * with the node (n->busy). */
bool file_commit_is_slow(fs_t *fs, fuse_ino_t ino);
/* Whether a request that takes ino's commit_mu may wait for the disk: the
 * node is busy or, with first_write, has neither buffer nor patch yet (a
 * write asks the store for the file's size first). */
bool file_is_busy(fs_t *fs, fuse_ino_t ino, bool first_write);
/* Gives n a buffer holding the committed contents of key with its patch
 * applied (REQUIRES: ns_mu and n->mu held, so the key cannot change;
 * copies the whole file under them: only for an unlink of an open file,
 * see ops_dir.c). */
int file_load_locked(fs_t *fs, fs_node *n, const uint8_t *key, size_t klen);
/* Replies to a lookup-like request with the entry of key. */
void reply_entry(fuse_req_t req, fs_t *fs, const uint8_t *key, size_t klen, const fs_entry *e);

static inline fs_t *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline bool key_is_dir(const uint8_t *key, size_t klen)
{
	return klen == 0 || key[klen - 1] == '/';
}

/* Whether an entry can have metadata records: all but the file with the
 * empty name, whose 'A' key would be its directory's marker. */
static inline bool key_has_meta(const uint8_t *key, size_t klen, bool dir)
{
	return dir || !key_is_dir(key, klen);
}

#endif /* WOMBATFS_FS_H */
