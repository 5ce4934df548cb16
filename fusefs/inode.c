/*
 * inode.c -- the inode table: inode numbers handed to the kernel, the node
 * keys they stand for, and the kernel's lookup counts (fs.h).
 *
 * Inode numbers are given out on first lookup and live until the kernel
 * forgets them; a key looked up again later may get a new number (nothing
 * in the store records them). Two hash tables, by number and by key, grow
 * as the kernel holds more nodes. Root is inode 1 and is never forgotten.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "util/grow.h"

static uint64_t hash_key(const uint8_t *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= k[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static size_t ino_slot(const fs_t *fs, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20) & (fs->nbuckets - 1);
}

static size_t key_slot(const fs_t *fs, const uint8_t *k, size_t n)
{
	return (size_t)hash_key(k, n) & (fs->nbuckets - 1);
}

static bool same(const fs_node *n, const uint8_t *key, size_t klen, bool dir)
{
	return n->dir == dir && n->klen == klen && memcmp(n->key, key, klen) == 0;
}

static void link_node(fs_t *fs, fs_node *n)
{
	size_t i = ino_slot(fs, n->ino);
	n->ino_next = fs->by_ino[i];
	fs->by_ino[i] = n;
	i = key_slot(fs, n->key, n->klen);
	n->key_next = fs->by_key[i];
	fs->by_key[i] = n;
}

static void unlink_key(fs_t *fs, fs_node *n)
{
	for (fs_node **p = &fs->by_key[key_slot(fs, n->key, n->klen)]; *p; p = &(*p)->key_next)
		if (*p == n) {
			*p = n->key_next;
			n->key_next = NULL;
			return;
		}
}

static void unlink_ino(fs_t *fs, fs_node *n)
{
	for (fs_node **p = &fs->by_ino[ino_slot(fs, n->ino)]; *p; p = &(*p)->ino_next)
		if (*p == n) {
			*p = n->ino_next;
			return;
		}
}

static int grow(fs_t *fs)
{
	size_t old = fs->nbuckets;
	fs_node **oi = fs->by_ino, **ok = fs->by_key;
	fs->nbuckets = old ? old * 2 : 1024;
	fs->by_ino = calloc(fs->nbuckets, sizeof(*fs->by_ino));
	fs->by_key = calloc(fs->nbuckets, sizeof(*fs->by_key));
	if (fs->by_ino == NULL || fs->by_key == NULL) {
		free(fs->by_ino);
		free(fs->by_key);
		fs->by_ino = oi;
		fs->by_key = ok;
		fs->nbuckets = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old; i++) {
		for (fs_node *n = oi[i], *next; n; n = next) {
			next = n->ino_next;
			size_t s = ino_slot(fs, n->ino);
			n->ino_next = fs->by_ino[s];
			fs->by_ino[s] = n;
		}
		for (fs_node *n = ok[i], *next; n; n = next) {
			next = n->key_next;
			size_t s = key_slot(fs, n->key, n->klen);
			n->key_next = fs->by_key[s];
			fs->by_key[s] = n;
		}
	}
	free(oi);
	free(ok);
	return 0;
}

static fs_node *node_new(fs_t *fs, const uint8_t *key, size_t klen, bool dir)
{
	fs_node *n = calloc(1, sizeof(*n));
	if (n == NULL || (n->key = malloc(klen ? klen : 1)) == NULL) {
		free(n);
		return NULL;
	}
	memcpy(n->key, key, klen);
	n->klen = klen;
	n->dir = dir;
	n->ino = fs->next_ino++;
	pthread_mutex_init(&n->commit_mu, NULL);
	pthread_mutex_init(&n->mu, NULL);
	return n;
}

static void node_free(fs_node *n)
{
	if (n->buf) {
		filebuf_free(n->buf);
		free(n->buf);
	}
	if (n->patch) {
		filepatch_free(n->patch);
		free(n->patch);
	}
	pthread_mutex_destroy(&n->mu);
	pthread_mutex_destroy(&n->commit_mu);
	free(n->key);
	free(n);
}

int inode_init(fs_t *fs)
{
	pthread_mutex_init(&fs->tab_mu, NULL);
	fs->next_ino = FUSE_ROOT_ID;
	if (grow(fs) != 0)
		return -ENOMEM;
	fs->root = node_new(fs, (const uint8_t *)"", 0, true);
	if (fs->root == NULL)
		return -ENOMEM;
	fs->root->nlookup = 1;
	link_node(fs, fs->root);
	fs->nnodes = 1;
	return 0;
}

void inode_destroy(fs_t *fs)
{
	for (size_t i = 0; i < fs->nbuckets; i++)
		for (fs_node *n = fs->by_ino[i], *next; n; n = next) {
			next = n->ino_next;
			node_free(n);
		}
	free(fs->by_ino);
	free(fs->by_key);
	fs->by_ino = fs->by_key = NULL;
	pthread_mutex_destroy(&fs->tab_mu);
}

fs_node *inode_get(fs_t *fs, fuse_ino_t ino)
{
	pthread_mutex_lock(&fs->tab_mu);
	fs_node *n = fs->by_ino[ino_slot(fs, ino)];
	while (n && n->ino != ino)
		n = n->ino_next;
	pthread_mutex_unlock(&fs->tab_mu);
	return n;
}

uint8_t *inode_key(fs_t *fs, fs_node *n, uint8_t *buf, size_t cap, size_t *klen)
{
	pthread_mutex_lock(&fs->tab_mu);
	size_t len = n->klen;
	uint8_t *k = buf != NULL && len <= cap ? buf : malloc(len ? len : 1);
	if (k != NULL) {
		memcpy(k, n->key, len);
		*klen = len;
	}
	pthread_mutex_unlock(&fs->tab_mu);
	return k;
}

bool inode_unlinked(fs_t *fs, fs_node *n)
{
	pthread_mutex_lock(&fs->tab_mu);
	bool gone = n->unlinked;
	pthread_mutex_unlock(&fs->tab_mu);
	return gone;
}

static fs_node *find_locked(fs_t *fs, const uint8_t *key, size_t klen, bool dir)
{
	fs_node *n = fs->by_key[key_slot(fs, key, klen)];
	while (n && !same(n, key, klen, dir))
		n = n->key_next;
	return n;
}

fs_node *inode_find(fs_t *fs, const uint8_t *key, size_t klen, bool dir)
{
	pthread_mutex_lock(&fs->tab_mu);
	fs_node *n = find_locked(fs, key, klen, dir);
	pthread_mutex_unlock(&fs->tab_mu);
	return n;
}

fs_node *inode_ref(fs_t *fs, const uint8_t *key, size_t klen, bool dir)
{
	pthread_mutex_lock(&fs->tab_mu);
	fs_node *n = find_locked(fs, key, klen, dir);
	if (n == NULL) {
		if (fs->nnodes >= fs->nbuckets)
			grow(fs); /* a full table still works, only slower */
		n = node_new(fs, key, klen, dir);
		if (n != NULL) {
			link_node(fs, n);
			fs->nnodes++;
		}
	}
	if (n != NULL)
		n->nlookup++;
	pthread_mutex_unlock(&fs->tab_mu);
	return n;
}

void inode_forget(fs_t *fs, fuse_ino_t ino, uint64_t count)
{
	pthread_mutex_lock(&fs->tab_mu);
	fs_node *n = fs->by_ino[ino_slot(fs, ino)];
	while (n && n->ino != ino)
		n = n->ino_next;
	if (n == NULL || n == fs->root) {
		pthread_mutex_unlock(&fs->tab_mu);
		return;
	}
	n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
	bool drop = false;
	if (n->nlookup == 0) {
		/* The kernel releases every handle before it forgets a node. */
		pthread_mutex_lock(&n->mu);
		drop = n->handles == 0;
		pthread_mutex_unlock(&n->mu);
	}
	if (drop) {
		unlink_ino(fs, n);
		if (!n->unlinked)
			unlink_key(fs, n);
		fs->nnodes--;
	}
	pthread_mutex_unlock(&fs->tab_mu);
	if (drop)
		node_free(n);
}

void inode_unlink(fs_t *fs, const uint8_t *key, size_t klen, bool dir)
{
	pthread_mutex_lock(&fs->tab_mu);
	fs_node *n = find_locked(fs, key, klen, dir);
	if (n != NULL && n != fs->root) {
		unlink_key(fs, n);
		n->unlinked = true;
	}
	pthread_mutex_unlock(&fs->tab_mu);
}

/* Appends to *list the node of `from` and, for a directory, every node
 * whose key starts with it. */
static int collect(fs_t *fs, const uint8_t *from, size_t flen, bool dir, fs_node ***list,
		   size_t *count, size_t *cap)
{
	for (size_t i = 0; i < fs->nbuckets; i++)
		for (fs_node *n = fs->by_ino[i]; n; n = n->ino_next) {
			if (n->unlinked || n->klen < flen || memcmp(n->key, from, flen) != 0)
				continue;
			if (!dir && !same(n, from, flen, false))
				continue;
			if (!GROW_ONE(*list, *count, *cap))
				return -ENOMEM;
			(*list)[(*count)++] = n;
		}
	return 0;
}

/* Gives node n the key  to ‖ (its key after the first flen bytes). */
static int rekey(fs_t *fs, fs_node *n, size_t flen, const uint8_t *to, size_t tlen)
{
	size_t rest = n->klen - flen, nlen = tlen + rest;
	uint8_t *k = malloc(nlen ? nlen : 1);
	if (k == NULL)
		return -ENOMEM; /* the node keeps its old key: stale, not wrong data */
	memcpy(k, to, tlen);
	memcpy(k + tlen, n->key + flen, rest);
	unlink_key(fs, n);
	free(n->key);
	n->key = k;
	n->klen = nlen;
	size_t s = key_slot(fs, k, nlen);
	n->key_next = fs->by_key[s];
	fs->by_key[s] = n;
	return 0;
}

int inode_exchange(fs_t *fs, const uint8_t *a, size_t alen, bool adir, const uint8_t *a_to,
		   size_t a_tolen, const uint8_t *b, size_t blen, bool bdir, const uint8_t *b_to,
		   size_t b_tolen)
{
	pthread_mutex_lock(&fs->tab_mu);
	/* Collect both sides first: re-keying while walking would revisit. */
	fs_node **list = NULL;
	size_t na = 0, cap = 0, n = 0;
	int rc = collect(fs, a, alen, adir, &list, &na, &cap);
	n = na;
	if (rc == 0 && b != NULL)
		rc = collect(fs, b, blen, bdir, &list, &n, &cap);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int r = i < na ? rekey(fs, list[i], alen, a_to, a_tolen)
			       : rekey(fs, list[i], blen, b_to, b_tolen);
		if (r != 0)
			rc = r;
	}
	free(list);
	pthread_mutex_unlock(&fs->tab_mu);
	return rc;
}

int inode_rename(fs_t *fs, const uint8_t *from, size_t flen, bool dir, const uint8_t *to,
		 size_t tlen)
{
	return inode_exchange(fs, from, flen, dir, to, tlen, NULL, 0, false, NULL, 0);
}

void inode_each(fs_t *fs, void (*fn)(fs_t *fs, fs_node *n))
{
	pthread_mutex_lock(&fs->tab_mu);
	size_t cap = fs->nnodes, count = 0;
	fs_node **all = malloc((cap ? cap : 1) * sizeof(*all));
	for (size_t i = 0; all && i < fs->nbuckets; i++)
		for (fs_node *n = fs->by_ino[i]; n && count < cap; n = n->ino_next)
			all[count++] = n;
	pthread_mutex_unlock(&fs->tab_mu);
	for (size_t i = 0; i < count; i++)
		fn(fs, all[i]);
	free(all);
}
