/*
 * attr.c -- encoding of the attribute record and metadata keys (attr.h).
 */
#include "attr.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

size_t attr_encode(const fs_attr *a, const void *target, size_t target_len, uint8_t *buf)
{
	buf[0] = ATTR_VERSION;
	put32(buf + 1, a->mode);
	put32(buf + 5, a->uid);
	put32(buf + 9, a->gid);
	put64(buf + 13, a->rdev);
	put64(buf + 21, (uint64_t)a->atime_ns);
	put64(buf + 29, (uint64_t)a->mtime_ns);
	put64(buf + 37, (uint64_t)a->ctime_ns);
	put64(buf + 45, a->ino);
	put32(buf + 53, a->subdirs);
	put32(buf + 57, a->links);
	if (target_len)
		memcpy(buf + ATTR_FIXED, target, target_len);
	return ATTR_FIXED + target_len;
}

/* The file types the mount makes; a record naming another would show a
 * file as nothing at all (store.c treats an unknown type as absent). */
static bool known_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

bool attr_decode(const uint8_t *rec, size_t len, fs_attr *a, const uint8_t **target,
		 size_t *target_len)
{
	size_t fixed = len > 0 && rec[0] == 1 ? ATTR_V1_FIXED : ATTR_FIXED;
	if (len < fixed || (rec[0] != 1 && rec[0] != ATTR_VERSION))
		return false;
	uint32_t mode = get32(rec + 1);
	/* Only a symlink's record goes on past the fixed part. */
	if (!known_type(mode) || ((mode & S_IFMT) != S_IFLNK && len != fixed))
		return false;
	a->mode = mode;
	a->uid = get32(rec + 5);
	a->gid = get32(rec + 9);
	a->rdev = get64(rec + 13);
	a->atime_ns = (int64_t)get64(rec + 21);
	a->mtime_ns = (int64_t)get64(rec + 29);
	a->ctime_ns = (int64_t)get64(rec + 37);
	a->ino = fixed == ATTR_FIXED ? get64(rec + 45) : 0;
	a->subdirs = fixed == ATTR_FIXED ? get32(rec + 53) : ATTR_SUBDIRS_UNKNOWN;
	a->links = fixed == ATTR_FIXED ? get32(rec + 57) : 0;
	if (target) {
		*target = rec + fixed;
		*target_len = len - fixed;
	}
	return true;
}

size_t attr_target_len(const uint8_t *rec, size_t len)
{
	size_t fixed = len > 0 && rec[0] == 1 ? ATTR_V1_FIXED : ATTR_FIXED;
	return len > fixed ? len - fixed : 0;
}

uint64_t attr_derived_ino(const uint8_t *key, size_t klen)
{
	if (klen == 0)
		return 1; /* the root (FUSE_ROOT_ID) */
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < klen; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	return (h & (ATTR_DERIVED_INO - 1)) | ATTR_DERIVED_INO;
}

int64_t attr_ts_ns(uint64_t ts)
{
	/* ts = (unix_ms << 16) | counter; the counter orders writes within a
	 * millisecond, so it becomes the sub-millisecond part. */
	return (int64_t)(ts >> 16) * 1000000 + (int64_t)(ts & 0xffff) * 15;
}

int64_t attr_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

uint8_t *attr_key(char tag, const uint8_t *key, size_t klen, const char *name, size_t *outlen)
{
	size_t nlen = name ? strlen(name) + 1 : 0;
	uint8_t *k = malloc(1 + klen + nlen);
	if (k == NULL)
		return NULL;
	k[0] = (uint8_t)tag;
	memcpy(k + 1, key, klen);
	if (name) {
		k[1 + klen] = '\0';
		memcpy(k + 2 + klen, name, nlen - 1);
	}
	*outlen = 1 + klen + nlen;
	return k;
}

size_t attr_encode_link(uint64_t ino, uint8_t *buf)
{
	buf[0] = ATTR_LINK_VERSION;
	put64(buf + 1, ino);
	return ATTR_LINK_LEN;
}

bool attr_decode_link(const uint8_t *rec, size_t len, uint64_t *ino)
{
	if (len != ATTR_LINK_LEN || rec[0] != ATTR_LINK_VERSION)
		return false;
	*ino = get64(rec + 1);
	return *ino != 0;
}

void attr_inode_key(uint64_t ino, uint8_t *out)
{
	out[0] = META_INODE;
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)(ino >> (56 - 8 * i)); /* big-endian: sorts by number */
}
