/*
 * fs_work.c -- fsbench's real-work steps: what logs, embedded databases,
 * version control and backups do to a filesystem, rather than one system
 * call in a loop. Each runs on the three targets like the other steps
 * (fsbench.c has the mounts, the timing and the table):
 *
 *   append-log    W times open(O_APPEND), write one line, close, on a file
 *                 of B MiB (a log that has grown large)
 *   pwrite-fsync  W times a 4 KiB pwrite at a page of that file, then fsync
 *                 (a database updating pages in place, durably)
 *   sqlite-txn    the sqlite3 CLI runs S one-row transactions on a 50 MB
 *                 database, rollback journal, synchronous=FULL (its defaults)
 *   git-commit    git init, add -A and commit of a copy of TREE
 *   rsync-a       rsync -a of TREE (temporary names, renames, times, modes)
 *
 * Each has an untimed check that the work landed: the file's size and last
 * line, every page written, the database's integrity_check and row count.
 * Unlike the rest of fsbench these steps fsync where their programs do:
 * that is the cost being measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsbench.h"

#define PAGE        4096u
#define LINE_LEN    64u     /* one appended log line, newline included */
#define PAGE_STRIDE 104729u /* a prime: i * stride mod pages visits distinct pages */
#define SQLITE_ROWS 12000u  /* rows of 4000 random bytes: about 50 MB */

static int missing_tool(struct ctx *c, int rc, const char *tool, const char *pkg)
{
	if (rc == 127)
		return fs_fail(c, "%s is not installed (apt-get install %s)", tool, pkg);
	char why[300];
	fs_last_line(c->errfile, why, sizeof(why));
	return fs_fail(c, "%s: status %d: %s", tool, rc, why);
}

/* ---- append-log and pwrite-fsync, on one large file ---- */

static uint64_t work_bytes(const struct ctx *c)
{
	return c->o->work_mib * MiB;
}

int fs_work_prep_big(struct ctx *c)
{
	char p[PATH_MAX];
	fs_path(p, sizeof(p), c, "work.dat");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fs_fail(c, "create work.dat: %s", strerror(errno));
	for (uint64_t off = 0; off < work_bytes(c); off += BLOCK)
		if (write(fd, c->data + (off / BLOCK * 4099u) % SMALL_SIZE, BLOCK) != (ssize_t)BLOCK) {
			int e = errno;
			close(fd);
			return fs_fail(c, "write work.dat at %" PRIu64 " MiB: %s", off / MiB,
			               strerror(e));
		}
	if (close(fd) != 0)
		return fs_fail(c, "close work.dat: %s", strerror(errno));
	return 0;
}

static void log_line(char line[LINE_LEN], uint64_t i)
{
	memset(line, '.', LINE_LEN);
	int n = snprintf(line, LINE_LEN, "fsbench append-log line %06" PRIu64 " ", i);
	line[n] = '.';
	line[LINE_LEN - 1] = '\n';
}

int fs_work_append(struct ctx *c)
{
	char p[PATH_MAX], line[LINE_LEN];
	fs_path(p, sizeof(p), c, "work.dat");
	for (uint64_t i = 0; i < c->o->work_ops; i++) {
		int fd = open(p, O_WRONLY | O_APPEND);
		if (fd < 0)
			return fs_fail(c, "open #%" PRIu64 " (O_APPEND): %s", i, strerror(errno));
		log_line(line, i);
		ssize_t w = write(fd, line, LINE_LEN);
		int e = errno;
		if (close(fd) != 0 || w != (ssize_t)LINE_LEN)
			return fs_fail(c, "append #%" PRIu64 ": %s", i,
			               w < 0 ? strerror(e) : "short write or failed close");
	}
	c->r->ops = c->o->work_ops;
	c->r->bytes = c->o->work_ops * LINE_LEN;
	return 0;
}

int fs_work_check_append(struct ctx *c)
{
	char p[PATH_MAX], want[LINE_LEN], got[LINE_LEN];
	fs_path(p, sizeof(p), c, "work.dat");
	uint64_t size = work_bytes(c) + c->o->work_ops * LINE_LEN;
	struct stat st;
	if (stat(p, &st) != 0 || (uint64_t)st.st_size != size)
		return fs_fail(c, "after the appends work.dat has %lld bytes, not %" PRIu64,
		               (long long)st.st_size, size);
	int fd = open(p, O_RDONLY);
	for (uint64_t i = 0; fd >= 0 && i < c->o->work_ops; i++) {
		log_line(want, i);
		if (pread(fd, got, LINE_LEN, (off_t)(work_bytes(c) + i * LINE_LEN)) != LINE_LEN ||
		    memcmp(got, want, LINE_LEN) != 0) {
			close(fd);
			return fs_fail(c, "appended line %" PRIu64 " reads back wrong", i);
		}
	}
	if (fd < 0)
		return fs_fail(c, "open work.dat: %s", strerror(errno));
	close(fd);
	return 0;
}

/* Page i of the W the step writes, and what it writes there. */
static uint64_t written_page(const struct ctx *c, uint64_t i)
{
	return (i * PAGE_STRIDE) % (work_bytes(c) / PAGE);
}

static const unsigned char *page_bytes(struct ctx *c, uint64_t i, unsigned char *buf)
{
	memcpy(buf, c->data + (i * 7919u) % BLOCK, PAGE);
	memcpy(buf, &i, sizeof(i));
	return buf;
}

int fs_work_pwrite_fsync(struct ctx *c)
{
	char p[PATH_MAX];
	unsigned char buf[PAGE];
	fs_path(p, sizeof(p), c, "work.dat");
	int fd = open(p, O_RDWR);
	if (fd < 0)
		return fs_fail(c, "open work.dat: %s", strerror(errno));
	for (uint64_t i = 0; i < c->o->work_ops; i++) {
		off_t off = (off_t)(written_page(c, i) * PAGE);
		if (pwrite(fd, page_bytes(c, i, buf), PAGE, off) != (ssize_t)PAGE ||
		    fsync(fd) != 0) {
			int e = errno;
			close(fd);
			return fs_fail(c, "pwrite + fsync #%" PRIu64 ": %s", i, strerror(e));
		}
	}
	if (close(fd) != 0)
		return fs_fail(c, "close work.dat: %s", strerror(errno));
	c->r->ops = c->o->work_ops;
	c->r->bytes = c->o->work_ops * PAGE;
	return 0;
}

int fs_work_check_pwrite(struct ctx *c)
{
	char p[PATH_MAX];
	unsigned char want[PAGE], got[PAGE];
	fs_path(p, sizeof(p), c, "work.dat");
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return fs_fail(c, "open work.dat: %s", strerror(errno));
	for (uint64_t i = 0; i < c->o->work_ops; i++) {
		off_t off = (off_t)(written_page(c, i) * PAGE);
		if (pread(fd, got, PAGE, off) != (ssize_t)PAGE ||
		    memcmp(got, page_bytes(c, i, want), PAGE) != 0) {
			close(fd);
			return fs_fail(c, "page written by pwrite #%" PRIu64 " reads back wrong", i);
		}
	}
	close(fd);
	return 0;
}

/* ---- sqlite-txn ---- */

/* A SQL script for the sqlite3 CLI's stdin, in fsbench's own directory. */
static int write_script(struct ctx *c, const char *name, char *path, size_t n, uint64_t txns)
{
	fs_strfmt(path, n, "%s/%s", c->o->dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return fs_fail(c, "%s: %s", path, strerror(errno));
	if (txns == 0)
		fprintf(f,
		        "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);\n"
		        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < %u)\n"
		        "INSERT INTO t(v) SELECT randomblob(4000) FROM n;\n",
		        SQLITE_ROWS);
	for (uint64_t i = 0; i < txns; i++)
		fprintf(f, "BEGIN;\nINSERT INTO t(v) VALUES (randomblob(100));\nCOMMIT;\n");
	if (fclose(f) != 0)
		return fs_fail(c, "%s: %s", path, strerror(errno));
	return 0;
}

static int sqlite_run(struct ctx *c, const char *script)
{
	char db[PATH_MAX];
	fs_path(db, sizeof(db), c, "work.sqlite");
	char *argv[] = {"sqlite3", "-bail", db, NULL};
	int rc = fs_run(argv, NULL, script, -1, c->errfile);
	return rc == 0 ? 0 : missing_tool(c, rc, "sqlite3", "sqlite3");
}

int fs_work_prep_sqlite(struct ctx *c)
{
	char script[PATH_MAX];
	if (write_script(c, "sqlite-make.sql", script, sizeof(script), 0) != 0)
		return -1;
	return sqlite_run(c, script);
}

int fs_work_sqlite(struct ctx *c)
{
	char script[PATH_MAX];
	/* Written each time (into fsbench's directory, a few tens of KB):
	 * part of the timed run, the same for every target. */
	if (write_script(c, "sqlite-txns.sql", script, sizeof(script), c->o->sqlite_txns) != 0 ||
	    sqlite_run(c, script) != 0)
		return -1;
	c->r->ops = c->o->sqlite_txns;
	return 0;
}

int fs_work_check_sqlite(struct ctx *c)
{
	char db[PATH_MAX], out[PATH_MAX], got[256] = "", want[64];
	fs_path(db, sizeof(db), c, "work.sqlite");
	fs_strfmt(out, sizeof(out), "%s/sqlite-check.out", c->o->dir);
	int fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fs_fail(c, "%s: %s", out, strerror(errno));
	char *argv[] = {"sqlite3", db, "PRAGMA integrity_check; SELECT count(*) FROM t;", NULL};
	int rc = fs_run(argv, NULL, NULL, fd, c->errfile);
	ssize_t k = pread(fd, got, sizeof(got) - 1, 0);
	close(fd);
	if (rc != 0)
		return missing_tool(c, rc, "sqlite3", "sqlite3");
	got[k > 0 ? k : 0] = 0;
	fs_strfmt(want, sizeof(want), "ok\n%" PRIu64 "\n", SQLITE_ROWS + c->o->sqlite_txns);
	if (strcmp(got, want) != 0) {
		fs_chomp(got);
		return fs_fail(c, "after the transactions the database says: %s", got);
	}
	return 0;
}

/* ---- git-commit and rsync-a ---- */

int fs_work_prep_git(struct ctx *c)
{
	prep_tree(c);
	char dst[PATH_MAX];
	fs_path(dst, sizeof(dst), c, "src");
	char *argv[] = {"cp", "-r", (char *)c->o->tree, dst, NULL};
	int rc = fs_run(argv, NULL, NULL, -1, c->errfile);
	return rc == 0 ? 0 : missing_tool(c, rc, "cp -r", "coreutils");
}

int fs_work_git(struct ctx *c)
{
	char dir[PATH_MAX];
	fs_path(dir, sizeof(dir), c, "src");
	char *init[] = {"git", "init", "-q", NULL};
	char *add[] = {"git", "add", "-A", NULL};
	char *commit[] = {"git", "-c", "user.name=fsbench", "-c", "user.email=fsbench@localhost",
	                  "commit", "-q", "-m", "fsbench", NULL};
	char *const *steps[] = {init, add, commit};
	const char *names[] = {"git init", "git add", "git commit"};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int rc = fs_run(steps[i], dir, NULL, -1, c->errfile);
		if (rc != 0)
			return missing_tool(c, rc, names[i], "git");
	}
	c->r->ops = c->o->tree_files;
	c->r->bytes = c->o->tree_bytes;
	return 0;
}

int fs_work_rsync(struct ctx *c)
{
	char src[PATH_MAX], dst[PATH_MAX];
	fs_strfmt(src, sizeof(src), "%s/", c->o->tree);
	fs_path(dst, sizeof(dst), c, "rsync");
	char *argv[] = {"rsync", "-a", src, dst, NULL};
	int rc = fs_run(argv, NULL, NULL, -1, c->errfile);
	if (rc != 0)
		return missing_tool(c, rc, "rsync", "rsync");
	c->r->ops = c->o->tree_files;
	c->r->bytes = c->o->tree_bytes;
	return 0;
}
