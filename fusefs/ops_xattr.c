/*
 * ops_xattr.c -- extended attributes: set, get, list, remove (fs.h).
 *
 * Each one is a record  'X' nodekey 0x00 name  in the metadata keyspace
 * whose value is the attribute's value, so it moves and goes with its
 * entry (ops_dir.c) and listing them is one prefix scan.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs.h"
#include "util/grow.h"

#define XATTR_SIZE_MAX_ 65536 /* bytes in one value, as Linux allows */

/* The record key of xattr name on node n (malloc). NULL with *klen 0 for
 * the file with the empty name, which has no records. */
static uint8_t *xattr_key(fs_t *fs, fs_node *n, const char *name, size_t *klen)
{
	uint8_t stack[256];
	size_t nlen;
	uint8_t *nk = inode_key(fs, n, stack, sizeof(stack), &nlen);
	uint8_t *k = NULL;
	*klen = 1; /* out of memory, unless the key has no records */
	if (nk != NULL && !key_has_meta(nk, nlen, n->dir))
		*klen = 0;
	else if (nk != NULL)
		k = attr_key(META_XATTR, nk, nlen, name, klen);
	if (nk != stack)
		free(nk);
	return k;
}

/* errno when xattr_key gave nothing: out of memory, or no records here. */
static int no_key(size_t klen)
{
	return klen == 0 ? ENOTSUP : ENOMEM;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL || fs->ro) {
		fuse_reply_err(req, n ? EROFS : ESTALE);
		return;
	}
	if (size > XATTR_SIZE_MAX_) {
		fuse_reply_err(req, E2BIG);
		return;
	}
	if (strncmp(name, "system.posix_acl_", 17) == 0) {
		/* No POSIX ACLs: stored as a plain attribute, an ACL that cp -a
		 * or setfacl sets in place of chmod would leave the mode as it
		 * was. EOPNOTSUPP makes them fall back to chmod. */
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	pthread_mutex_lock(&fs->ns_mu);
	size_t klen;
	uint8_t *key = xattr_key(fs, n, name, &klen);
	int rc = key ? 0 : -no_key(klen);
	if (rc == 0 && (flags & (XATTR_CREATE | XATTR_REPLACE))) {
		wb_key_info ki;
		int found = wb_stat_key_ks(fs->db, WB_KS_META, key, klen, &ki);
		if (found != WB_OK && found != WB_ENOTFOUND)
			rc = errmap(found, "getxattr", n->key, n->klen);
		else if ((flags & XATTR_CREATE) && found == WB_OK)
			rc = -EEXIST;
		else if ((flags & XATTR_REPLACE) && found == WB_ENOTFOUND)
			rc = -ENODATA;
	}
	if (rc == 0) {
		wb_batch *b;
		rc = wb_batch_new(&b) == WB_OK ? 0 : -ENOMEM;
		if (rc == 0)
			rc = errmap(wb_batch_put_ks(b, WB_KS_META, key, klen, value, size),
				    "setxattr", n->key, n->klen);
		if (rc == 0)
			rc = errmap(wb_write(fs->db, b), "setxattr", n->key, n->klen);
		wb_batch_free(b);
	}
	pthread_mutex_unlock(&fs->ns_mu);
	free(key);
	fuse_reply_err(req, -rc);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	size_t klen, vlen;
	uint8_t *key = xattr_key(fs, n, name, &klen);
	void *val = NULL;
	int rc = key ? wb_get_ks(fs->db, WB_KS_META, key, klen, &val, &vlen)
		     : klen == 0 ? WB_ENOTFOUND : WB_ENOMEM;
	if (rc == WB_ENOTFOUND)
		fuse_reply_err(req, ENODATA);
	else if (rc != WB_OK)
		fuse_reply_err(req, -errmap(rc, "getxattr", key, klen));
	else if (size == 0)
		fuse_reply_xattr(req, vlen);
	else if (size < vlen)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, vlen);
	wb_free(val);
	free(key);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	size_t plen;
	uint8_t *prefix = xattr_key(fs, n, "", &plen); /* 'X' key 0x00 */
	wb_iter_options io = { .keyspace = WB_KS_META, .prefix = prefix, .prefix_len = plen };
	wb_iter *it = NULL;
	if (prefix == NULL && plen == 0) {
		fuse_reply_xattr(req, 0); /* the empty-named file: none */
		return;
	}
	int rc = prefix ? wb_iter_new(fs->db, &io, &it) : WB_ENOMEM;
	char *list = NULL;
	size_t used = 0, cap = 0;
	if (rc == WB_OK) {
		for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
			size_t kl;
			const uint8_t *k = wb_iter_key(it, &kl);
			size_t nl = kl - plen;
			if (!grow_array((void **)&list, &cap, used + nl + 1, 1)) {
				rc = WB_ENOMEM;
				break;
			}
			memcpy(list + used, k + plen, nl);
			used += nl;
			list[used++] = '\0';
		}
		if (rc == WB_OK)
			rc = wb_iter_status(it);
	}
	if (rc != WB_OK)
		fuse_reply_err(req, -errmap(rc, "listxattr", prefix, plen));
	else if (size == 0)
		fuse_reply_xattr(req, used);
	else if (size < used)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, list, used);
	wb_iter_free(it);
	free(list);
	free(prefix);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fs_t *fs = req_fs(req);
	fs_node *n = inode_get(fs, ino);
	if (n == NULL || fs->ro) {
		fuse_reply_err(req, n ? EROFS : ESTALE);
		return;
	}
	pthread_mutex_lock(&fs->ns_mu);
	size_t klen;
	uint8_t *key = xattr_key(fs, n, name, &klen);
	wb_key_info ki;
	int rc = key ? wb_stat_key_ks(fs->db, WB_KS_META, key, klen, &ki)
		     : klen == 0 ? WB_ENOTFOUND : WB_ENOMEM;
	int err = rc == WB_ENOTFOUND ? -ENODATA : errmap(rc, "removexattr", n->key, n->klen);
	if (err == 0) {
		wb_batch *b;
		err = wb_batch_new(&b) == WB_OK ? 0 : -ENOMEM;
		if (err == 0)
			err = errmap(wb_batch_delete_ks(b, WB_KS_META, key, klen), "removexattr",
				     n->key, n->klen);
		if (err == 0)
			err = errmap(wb_write(fs->db, b), "removexattr", n->key, n->klen);
		wb_batch_free(b);
	}
	pthread_mutex_unlock(&fs->ns_mu);
	free(key);
	fuse_reply_err(req, -err);
}

void ops_xattr_init(struct fuse_lowlevel_ops *ops)
{
	ops->setxattr = op_setxattr;
	ops->getxattr = op_getxattr;
	ops->listxattr = op_listxattr;
	ops->removexattr = op_removexattr;
}
