/*
 * env_posix.c -- the default wb_env: files and directories through POSIX
 * calls, and the system's clock (clock.c). See the wb_env contract in
 * wombat.h.
 *
 * Any thread may call any function. A wb_env_file is used by one thread at a
 * time, except read_at (pread has no shared file offset, so concurrent reads
 * are safe). There is no user-space buffering anywhere: when append returns,
 * the bytes are in the kernel and survive a crash of this process; sync makes
 * them survive a power cut.
 *
 * This file is the one place where errno becomes a WB code (through
 * err_from_errno), and every failure records a message naming the path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/error.h"

struct wb_env_file {
	int fd;
	char *path; /* for error messages */
};

/* Translates errno and records "<op> <path>: <strerror>". Reads errno first,
 * before anything else can change it. */
static int fail(const char *op, const char *path)
{
	int e = errno;
	return err_set(err_from_errno(e), "%s %s: %s", op, path, strerror(e));
}

static int new_file(int fd, const char *path, wb_env_file **out)
{
	wb_env_file *f = malloc(sizeof(*f));
	char *copy = strdup(path);
	if (f == NULL || copy == NULL) {
		free(f);
		free(copy);
		close(fd);
		return err_set(WB_ENOMEM, "open %s: out of memory", path);
	}
	f->fd = fd;
	f->path = copy;
	*out = f;
	return WB_OK;
}

static int posix_open(void *ctx, const char *path, int flags, wb_env_file **out)
{
	int oflags = O_CLOEXEC;
	int fd;

	*out = NULL;
	if ((flags & (WB_ENV_READ | WB_ENV_WRITE)) == 0 ||
	    ((flags & WB_ENV_TRUNCATE) && !(flags & WB_ENV_WRITE)))
		return err_set(WB_EINVAL, "open %s: bad flags 0x%x", path, (unsigned)flags);

	/* O_APPEND makes every write land at the end whatever other handles do;
	 * pread and ftruncate still work on such a descriptor. */
	if ((flags & WB_ENV_READ) && (flags & WB_ENV_WRITE))
		oflags |= O_RDWR | O_APPEND;
	else if (flags & WB_ENV_WRITE)
		oflags |= O_WRONLY | O_APPEND;
	else
		oflags |= O_RDONLY;
	if (flags & WB_ENV_CREATE)
		oflags |= O_CREAT;
	if (flags & WB_ENV_TRUNCATE)
		oflags |= O_TRUNC;
	if (flags & WB_ENV_EXCL)
		oflags |= O_EXCL;

	do
		fd = open(path, oflags, 0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return fail("open", path);
	return new_file(fd, path, out);
}

static int posix_read_at(wb_env_file *f, uint64_t off, void *buf, size_t len, size_t *nread)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			*nread = done;
			return err_set(err_from_errno(e), "read %s offset %llu: %s", f->path,
				       (unsigned long long)(off + done), strerror(e));
		}
		if (n == 0)
			break; /* end of file */
		done += (size_t)n;
	}
	*nread = done;
	return WB_OK;
}

/* On error a prefix of buf may already be in the file; the caller treats the
 * file's tail as unknown (the record checksums catch it on recovery). */
static int posix_append(wb_env_file *f, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(f->fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail("write", f->path);
		}
		if (n == 0) /* never for a regular file; do not spin on it */
			return err_set(WB_EIO, "write %s: no progress", f->path);
		done += (size_t)n;
	}
	return WB_OK;
}

/* Not retried on failure: after a failed fdatasync Linux may have dropped the
 * dirty pages, so a second call that succeeds would prove nothing. */
static int posix_sync(wb_env_file *f)
{
	if (fdatasync(f->fd) != 0)
		return fail("fdatasync", f->path);
	return WB_OK;
}

/* sync_file_range(2): the page cache's writeback of a range, without the
 * fdatasync's metadata and cache flush. Waiting is WAIT_BEFORE alone: with
 * the WRITE and WAIT_AFTER flags too the kernel makes a WB_SYNC_ALL pass
 * over the range, which made a streamed 2 GiB value about 30% slower on
 * ext4 (measured) for pages already on their way. The wait also collects
 * the file's writeback error (advancing its errseq), hence the contract's
 * warning that a later fdatasync may not see it. */
static int posix_writeback(wb_env_file *f, uint64_t off, uint64_t len, int wait)
{
	unsigned flags = wait ? SYNC_FILE_RANGE_WAIT_BEFORE : SYNC_FILE_RANGE_WRITE;
	int r;

	do
		r = sync_file_range(f->fd, (off64_t)off, (off64_t)len, flags);
	while (r != 0 && errno == EINTR);
	if (r != 0) {
		int e = errno;
		return err_set(err_from_errno(e), "sync_file_range %s offset %llu: %s", f->path,
			       (unsigned long long)off, strerror(e));
	}
	return WB_OK;
}

static int posix_size(wb_env_file *f, uint64_t *out)
{
	struct stat st;

	if (fstat(f->fd, &st) != 0)
		return fail("fstat", f->path);
	*out = (uint64_t)st.st_size;
	return WB_OK;
}

/* FALLOC_FL_KEEP_SIZE: the blocks are allocated (as unwritten extents,
 * read back as zeros) but the size, which readers take as the valid end,
 * stays where it is. */
static int posix_preallocate(wb_env_file *f, uint64_t off, uint64_t len)
{
	int r;

	do
		r = fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
	while (r != 0 && errno == EINTR);
	if (r != 0)
		return fail("fallocate", f->path);
	return WB_OK;
}

/* Copy-on-write file systems allocate space when a mapped page is
 * written, so a full disk there is SIGBUS instead of an error: no maps. */
static bool copy_on_write(int fd)
{
	struct statfs st;
	if (fstatfs(fd, &st) != 0)
		return true; /* unknown: play safe */
	switch ((unsigned long)st.f_type) {
	case 0x9123683eUL: /* btrfs */
	case 0x2fc12fc1UL: /* zfs */
	case 0xca451a4eUL: /* bcachefs */
		return true;
	default:
		return false;
	}
}

static int posix_map(wb_env_file *f, uint64_t off, size_t len, void **addr)
{
	if (copy_on_write(f->fd))
		return err_set(WB_ENOTSUP, "mmap %s: not on a copy-on-write file system", f->path);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, (off_t)off);
	if (p == MAP_FAILED)
		return fail("mmap", f->path);
	*addr = p;
	return WB_OK;
}

static int posix_unmap(void *addr, size_t len)
{
	if (munmap(addr, len) != 0)
		return fail("munmap", "file window");
	return WB_OK;
}

static int posix_truncate(wb_env_file *f, uint64_t size)
{
	int r;

	do
		r = ftruncate(f->fd, (off_t)size);
	while (r != 0 && errno == EINTR);
	if (r != 0)
		return fail("ftruncate", f->path);
	return WB_OK;
}

/* close(2) is not retried on EINTR: on Linux the descriptor is gone either
 * way, and a retry could close a descriptor another thread just opened. */
static int posix_close(wb_env_file *f)
{
	int rc = WB_OK;

	if (f == NULL)
		return WB_OK;
	if (close(f->fd) != 0 && errno != EINTR)
		rc = fail("close", f->path);
	free(f->path);
	free(f);
	return rc;
}

static int posix_rename(void *ctx, const char *from, const char *to)
{
	if (rename(from, to) != 0) {
		int e = errno;
		return err_set(err_from_errno(e), "rename %s to %s: %s", from, to, strerror(e));
	}
	return WB_OK;
}

static int posix_remove(void *ctx, const char *path)
{
	if (unlink(path) == 0)
		return WB_OK;
	/* Linux refuses to unlink a directory with EISDIR; then the rmdir error
	 * (ENOTEMPTY, say) is the one worth reporting. */
	if (errno == EISDIR && rmdir(path) == 0)
		return WB_OK;
	return fail("remove", path);
}

static int posix_mkdir(void *ctx, const char *path)
{
	if (mkdir(path, 0755) != 0)
		return fail("mkdir", path);
	return WB_OK;
}

/* Makes the directory's entries (creates, renames, removes) durable. */
static int posix_sync_dir(void *ctx, const char *path)
{
	int fd, rc = WB_OK;

	do
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return fail("open directory", path);
	if (fsync(fd) != 0)
		rc = fail("fsync directory", path);
	close(fd);
	return rc;
}

static int posix_list(void *ctx, const char *dir, int (*fn)(void *arg, const char *name), void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = WB_OK;

	if (d == NULL)
		return fail("opendir", dir);
	for (;;) {
		errno = 0; /* readdir returns NULL both at the end and on error */
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				rc = fail("readdir", dir);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = fn(arg, de->d_name);
		if (rc != WB_OK)
			break;
	}
	closedir(d);
	return rc;
}

/* The pid the holder wrote, or 0 when the file does not hold one yet (the
 * holder may be between its truncate and its write). */
static long read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;
	char *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || pid < 0)
		return 0;
	return pid;
}

/* flock locks belong to the open file description, so a second lock() on the
 * same path conflicts even inside one process, and the lock disappears with
 * the process however it dies. */
static int posix_lock(void *ctx, const char *path, wb_env_file **out, long *holder_pid)
{
	char pid[32];
	int fd, r, len;
	size_t done = 0;

	*out = NULL;
	if (holder_pid != NULL)
		*holder_pid = 0;
	do
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return fail("open lock", path);

	do
		r = flock(fd, LOCK_EX | LOCK_NB);
	while (r != 0 && errno == EINTR);
	if (r != 0) {
		int e = errno;
		if (e == EWOULDBLOCK) {
			long holder = read_pid(fd);
			close(fd);
			if (holder_pid != NULL)
				*holder_pid = holder;
			return err_set(WB_EBUSY, "lock %s: held by process %ld", path, holder);
		}
		close(fd);
		return err_set(err_from_errno(e), "flock %s: %s", path, strerror(e));
	}

	/* The pid is only informative (for the WB_EBUSY message), so it is not
	 * synced. The descriptor is not O_APPEND: write at offset 0. */
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0) {
		r = fail("ftruncate lock", path);
		close(fd);
		return r;
	}
	while (done < (size_t)len) {
		ssize_t n = pwrite(fd, pid + done, (size_t)len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? fail("write lock", path) : err_set(WB_EIO, "write lock %s", path);
			close(fd);
			return r;
		}
		done += (size_t)n;
	}
	return new_file(fd, path, out);
}

static int posix_unlock(void *ctx, wb_env_file *lock)
{
	int rc = WB_OK;

	if (lock == NULL)
		return WB_OK;
	if (flock(lock->fd, LOCK_UN) != 0)
		rc = fail("unlock", lock->path);
	/* Closing releases the lock anyway; report the first error. */
	int crc = posix_close(lock);
	return rc != WB_OK ? rc : crc;
}

static const wb_env posix_env = {
	.ctx = NULL,
	.open = posix_open,
	.read_at = posix_read_at,
	.append = posix_append,
	.sync = posix_sync,
	.size = posix_size,
	.truncate = posix_truncate,
	.close = posix_close,
	.rename = posix_rename,
	.remove = posix_remove,
	.mkdir = posix_mkdir,
	.sync_dir = posix_sync_dir,
	.list = posix_list,
	.lock = posix_lock,
	.unlock = posix_unlock,
	.writeback = posix_writeback,
	.preallocate = posix_preallocate,
	.map = posix_map,
	.unmap = posix_unmap,
	.now_nanos = clock_system_now_nanos,
	.wall_nanos = clock_system_wall_nanos,
	.sleep_nanos = clock_system_sleep_nanos,
	.cond_wait_until = clock_system_cond_wait_until,
};

const wb_env *wb_env_default(void)
{
	return &posix_env;
}
