/*
 * fsbench.c -- the filesystem half of `make bench`: the same file workloads
 * on a wombatfs mount, on a native directory and on bindfs over a native
 * directory, all three on one filesystem (the one holding --dir), side by
 * side. Prints a progress line per result, then one table (rate per target,
 * Wombat's ratio to native and to bindfs, seconds, the targets met
 * or not) and the machine it ran on; writes every number to a JSON file and
 * the rates relative to native to a data file for gnuplot (fs_plot.gp).
 * This file holds the mounts, the steps and the options; fs_work.c the
 * real-work steps (a log, a database, git, rsync); fs_report.c the output. bench/run_fs.sh builds and runs it; bench/bench.mk says how.
 *
 * Targets, each under DIR/<target>/:
 *   wombat  `wombatfs DIR/wombat/db DIR/wombat/mnt -f -o create[,OPTS]`
 *   native  DIR/native/root, a plain directory
 *   bindfs  `bindfs -f DIR/bindfs/src DIR/bindfs/mnt`, bindfs's defaults
 * Both daemons run in the foreground as our children so that we know their
 * pids: a mount is ready when the mountpoint's st_dev changes; an unmount is
 * `fusermount3 -u` followed by waiting for the daemon to exit (wombatfs
 * commits open files and closes the database then).
 *
 * Fairness:
 *   - every workload group starts on a fresh, empty directory or mount;
 *   - every timed step starts after an untimed sync(2), so that the
 *     writeback of earlier steps and targets is not charged to it;
 *   - steps marked cold start with the FUSE targets unmounted and mounted
 *     again (empties the kernel's FUSE caches and wombatfs's block cache),
 *     then, for every target alike, sync and `echo 3 > drop_caches`;
 *   - nothing is fsync'd (except in the real-work steps of fs_work.c,
 *     where their programs do it); a write's time includes its close(2),
 *     where wombatfs commits the file to the store;
 *   - file contents are incompressible bytes; reads check sizes and a
 *     header in each file or block;
 *   - cp -r and tar x read a source that is in the page cache for every
 *     target (read once, untimed, just before each timed run).
 *
 * Failures: a step that fails marks its cell FAILED with the reason; the
 * steps after it in its group are skipped; the run goes on. A step that
 * takes longer than --timeout has the FUSE daemon killed (which fails every
 * request still waiting) and is marked failed. When wombatfs cannot write
 * the large file at the asked size, half of it is tried, down to 64 MiB;
 * all targets then use the size that worked and the table says so. Mounts
 * are undone on every exit path: normal return, the atexit hook,
 * SIGINT/SIGTERM/SIGHUP (run_fs.sh unmounts what a SIGKILL leaves).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsbench.h"

#define MOUNT_WAIT_S 20 /* seconds a daemon may take to mount */

const char *const fs_targets[NTARGETS] = {"wombat", "native", "bindfs"};

/* ---- Global state: the live mount, for every cleanup path ---- */

struct target_state {
	int t;
	char base[PATH_MAX];    /* DIR/<target> */
	char backing[PATH_MAX]; /* wombat: the db; bindfs: the source; native: root */
	char mnt[PATH_MAX];     /* where workloads run */
	pid_t daemon;           /* FUSE daemon, 0 when none */
	char log[PATH_MAX];
};

static struct target_state *live; /* a target that may be mounted */
static volatile sig_atomic_t timed_out;
static struct opts o;

void fs_strfmt(char *b, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, n, fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* fork + exec of fusermount3 -u[z]: async-signal-safe, for the handlers too. */
static int fusermount_u(const char *mnt, int lazy)
{
	pid_t p = fork();
	if (p == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("fusermount3", "fusermount3", lazy ? "-uz" : "-u", mnt, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	if (p < 0 || waitpid(p, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void emergency_unmount(void)
{
	if (live && live->daemon > 0) {
		fusermount_u(live->mnt, 1);
		kill(live->daemon, SIGTERM);
		live->daemon = 0;
	}
}

static void on_signal(int sig)
{
	emergency_unmount();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A step ran past --timeout: killing the daemon fails its waiting requests. */
static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (live && live->daemon > 0)
		kill(live->daemon, SIGKILL);
}

/* ---- Small helpers ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 64, FTW_DEPTH | FTW_PHYS);
}

static int mkdir_p(const char *dir)
{
	char p[PATH_MAX];
	fs_strfmt(p, sizeof(p), "%s", dir);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

void fs_chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
}

/* The last non-empty line of a file, for error messages. */
void fs_last_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	char line[512];
	out[0] = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		fs_chomp(line);
		if (line[0])
			fs_strfmt(out, n, "%s", line);
	}
	fclose(f);
}

int fs_run(char *const argv[], const char *dir, const char *in, int out_fd, const char *errfile)
{
	fflush(NULL);
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		int dn = open("/dev/null", O_RDWR);
		dup2(out_fd >= 0 ? out_fd : dn, 1);
		int ef = errfile ? open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
		dup2(ef >= 0 ? ef : dn, 2);
		int inf = in ? open(in, O_RDONLY) : -1;
		dup2(inf >= 0 ? inf : dn, 0);
		if (dir && chdir(dir) != 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- Mounts ---- */

static int is_mounted(const char *mnt)
{
	struct stat a, b;
	char parent[PATH_MAX + 4];
	fs_strfmt(parent, sizeof(parent), "%s/..", mnt);
	return stat(mnt, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

/* Starts the target's daemon and waits until the mount answers. Returns 0,
 * or -1 with why in err. Native: nothing to do. */
static int target_mount(struct target_state *ts, char *err, size_t errn)
{
	if (ts->t == T_NATIVE)
		return 0;
	char opt[512];
	char *argv[12];
	int a = 0;
	if (ts->t == T_WOMBAT) {
		fs_strfmt(opt, sizeof(opt), "create%s%s", o.wombat_opts[0] ? "," : "",
		          o.wombat_opts);
		argv[a++] = (char *)o.wombatfs;
		argv[a++] = ts->backing;
		argv[a++] = ts->mnt;
		argv[a++] = "-f";
		argv[a++] = "-o";
		argv[a++] = opt;
	} else {
		argv[a++] = "bindfs";
		argv[a++] = "-f";
		argv[a++] = ts->backing;
		argv[a++] = ts->mnt;
	}
	argv[a] = NULL;
	fflush(NULL);
	pid_t p = fork();
	if (p < 0) {
		fs_strfmt(err, errn, "fork: %s", strerror(errno));
		return -1;
	}
	if (p == 0) {
		int lf = open(ts->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int dn = open("/dev/null", O_RDONLY);
		dup2(dn, 0);
		if (lf >= 0) {
			dup2(lf, 1);
			dup2(lf, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	ts->daemon = p;
	live = ts;
	for (int i = 0; i < MOUNT_WAIT_S * 100; i++) {
		if (is_mounted(ts->mnt))
			return 0;
		int st;
		if (waitpid(p, &st, WNOHANG) == p) {
			ts->daemon = 0;
			char why[300];
			fs_last_line(ts->log, why, sizeof(why));
			fs_strfmt(err, errn, "%s exited with %d at mount: %s", argv[0],
			          WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), why);
			return -1;
		}
		usleep(10000);
	}
	fs_strfmt(err, errn, "%s did not mount within %d s", argv[0], MOUNT_WAIT_S);
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	ts->daemon = 0;
	return -1;
}

/* Unmounts and waits for the daemon to finish. Returns 0, or -1 with why
 * in err (the daemon died, or exited with a failure). */
static int target_unmount(struct target_state *ts, char *err, size_t errn)
{
	if (ts->daemon <= 0)
		return 0;
	int tries = 0;
	while (is_mounted(ts->mnt) && fusermount_u(ts->mnt, 0) != 0 && ++tries < 50)
		usleep(100000); /* EBUSY: a child of ours may still hold it */
	if (is_mounted(ts->mnt))
		fusermount_u(ts->mnt, 1);
	int st = 0, rc = 0;
	for (int i = 0; i < 1200; i++) { /* wombatfs may flush at close */
		if (waitpid(ts->daemon, &st, WNOHANG) == ts->daemon)
			goto done;
		usleep(50000);
	}
	kill(ts->daemon, SIGKILL);
	waitpid(ts->daemon, &st, 0);
	fs_strfmt(err, errn, "daemon did not exit within 60 s of unmount");
	rc = -1;
done:
	if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		char why[300];
		fs_last_line(ts->log, why, sizeof(why));
		if (WIFSIGNALED(st))
			fs_strfmt(err, errn, "daemon died: %s", strsignal(WTERMSIG(st)));
		else
			fs_strfmt(err, errn, "daemon exited with %d: %s", WEXITSTATUS(st), why);
		rc = -1;
	}
	ts->daemon = 0;
	return rc;
}

/* A fresh, empty, mounted target. */
static int target_fresh(struct target_state *ts, char *err, size_t errn)
{
	rm_rf(ts->base);
	if (mkdir_p(ts->backing) != 0 || mkdir_p(ts->mnt) != 0) {
		fs_strfmt(err, errn, "mkdir under %s: %s", ts->base, strerror(errno));
		return -1;
	}
	if (ts->t == T_WOMBAT)
		rmdir(ts->backing); /* wombatfs -o create makes it */
	return target_mount(ts, err, errn);
}

int fs_drop_caches(void)
{
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		return -1;
	int ok = write(fd, "3\n", 2) == 2;
	close(fd);
	return ok ? 0 : -1;
}

/* Empties every cache between the workload and the disk. */
static int target_cold(struct target_state *ts, char *err, size_t errn)
{
	if (target_unmount(ts, err, errn) != 0)
		return -1;
	fs_drop_caches();
	return target_mount(ts, err, errn);
}

/* ---- Workloads ---- */

int fs_fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->r->error, sizeof(c->r->error), fmt, ap);
	va_end(ap);
	c->r->status = ST_FAILED;
	return -1;
}

void fs_path(char *p, size_t n, struct ctx *c, const char *rel)
{
	fs_strfmt(p, n, "%s/%s", c->ts->mnt, rel);
}

static void small_name(char *p, size_t n, struct ctx *c, const char *dir, uint64_t i)
{
	fs_strfmt(p, n, "%s/%s/f%06" PRIu64, c->ts->mnt, dir, i);
}

/* File i's 4 KiB: a window into the random data, its index in front. */
static const unsigned char *small_contents(struct ctx *c, uint64_t i, unsigned char *buf)
{
	memcpy(buf, c->data + (i * 4099u) % BLOCK, SMALL_SIZE);
	memcpy(buf, &i, sizeof(i));
	return buf;
}

static int write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ssize_t w = n ? write(fd, p, n) : 0;
	int e = errno;
	if (close(fd) != 0)
		return -1;
	if (w < 0 || (size_t)w != n) {
		errno = w < 0 ? e : EIO;
		return -1;
	}
	return 0;
}

static int make_dir(struct ctx *c, const char *rel)
{
	char p[PATH_MAX];
	fs_path(p, sizeof(p), c, rel);
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		return fs_fail(c, "mkdir %s: %s", rel, strerror(errno));
	return 0;
}

static int create_files(struct ctx *c, const char *dir, uint64_t n, size_t size, int spread)
{
	unsigned char buf[SMALL_SIZE];
	char p[PATH_MAX], sub[32];
	for (uint64_t i = 0; i < n; i++) {
		const char *d = dir;
		if (spread) {
			fs_strfmt(sub, sizeof(sub), "d%02u", (unsigned)(i % NDIRS));
			d = sub;
		}
		small_name(p, sizeof(p), c, d, i);
		if (write_file(p, size ? small_contents(c, i, buf) : buf, size) != 0)
			return fs_fail(c, "create file #%" PRIu64 ": %s", i, strerror(errno));
	}
	c->r->ops = n;
	c->r->bytes = n * size;
	return 0;
}

static int prep_one_dir(struct ctx *c)
{
	return make_dir(c, "small");
}

static int w_create(struct ctx *c)
{
	return create_files(c, "small", c->o->files, SMALL_SIZE, 0);
}

static int prep_spread(struct ctx *c)
{
	for (unsigned d = 0; d < NDIRS; d++) {
		char rel[32];
		fs_strfmt(rel, sizeof(rel), "d%02u", d);
		if (make_dir(c, rel) != 0)
			return -1;
	}
	return 0;
}

static int w_create_spread(struct ctx *c)
{
	return create_files(c, NULL, c->o->files, SMALL_SIZE, 1);
}

static int w_stat(struct ctx *c)
{
	char p[PATH_MAX];
	struct stat st;
	for (uint64_t i = 0; i < c->o->files; i++) {
		small_name(p, sizeof(p), c, "small", i);
		if (stat(p, &st) != 0)
			return fs_fail(c, "stat file #%" PRIu64 ": %s", i, strerror(errno));
		if (st.st_size != SMALL_SIZE)
			return fs_fail(c, "file #%" PRIu64 " has %lld bytes", i,
			            (long long)st.st_size);
	}
	c->r->ops = c->o->files;
	return 0;
}

static int w_read(struct ctx *c)
{
	char p[PATH_MAX];
	unsigned char buf[SMALL_SIZE + 1];
	for (uint64_t i = 0; i < c->o->files; i++) {
		small_name(p, sizeof(p), c, "small", i);
		int fd = open(p, O_RDONLY);
		if (fd < 0)
			return fs_fail(c, "open file #%" PRIu64 ": %s", i, strerror(errno));
		ssize_t got = read(fd, buf, sizeof(buf));
		int e = errno;
		close(fd);
		uint64_t head;
		memcpy(&head, buf, sizeof(head));
		if (got != SMALL_SIZE || head != i)
			return fs_fail(c, "read file #%" PRIu64 ": %s", i,
			            got < 0 ? strerror(e) : "wrong size or contents");
	}
	c->r->ops = c->o->files;
	c->r->bytes = c->o->files * SMALL_SIZE;
	return 0;
}

static int w_delete(struct ctx *c)
{
	char p[PATH_MAX];
	for (uint64_t i = 0; i < c->o->files; i++) {
		small_name(p, sizeof(p), c, "small", i);
		if (unlink(p) != 0)
			return fs_fail(c, "unlink file #%" PRIu64 ": %s", i, strerror(errno));
	}
	c->r->ops = c->o->files;
	return 0;
}

/* Writes size bytes to "big" in BLOCK writes, close included. On failure
 * leaves a message in c->r->error and returns -1. */
static int big_io_failed; /* write_big failed in a write or at close */

static int write_big(struct ctx *c, uint64_t size)
{
	char p[PATH_MAX];
	fs_path(p, sizeof(p), c, "big");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fs_fail(c, "open: %s", strerror(errno));
	uint64_t blocks = size / BLOCK;
	for (uint64_t b = 0; b < blocks; b++) {
		unsigned char *blk = c->data + (b * 4099u) % SMALL_SIZE;
		memcpy(blk, &b, sizeof(b)); /* data has SMALL_SIZE spare bytes */
		ssize_t w = write(fd, blk, BLOCK);
		if (w != (ssize_t)BLOCK) {
			int e = errno;
			close(fd);
			big_io_failed = 1;
			return fs_fail(c, "write at %" PRIu64 " MiB: %s", b,
			            w < 0 ? strerror(e) : "short write");
		}
	}
	if (close(fd) != 0) {
		big_io_failed = 1;
		return fs_fail(c, "close (commit) of %" PRIu64 " MiB: %s", size / MiB,
		            strerror(errno));
	}
	c->r->ops = blocks;
	c->r->bytes = size;
	return 0;
}

/* The large-file size is settled on the first target (wombat): when the
 * asked size fails there, half of it is tried on a fresh mount, down to
 * 64 MiB; the other targets then write the size that worked. */
static int w_seqwrite(struct ctx *c)
{
	return write_big(c, c->big_bytes);
}

static int w_seqread(struct ctx *c)
{
	char p[PATH_MAX];
	fs_path(p, sizeof(p), c, "big");
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return fs_fail(c, "open: %s", strerror(errno));
	unsigned char *buf = malloc(BLOCK);
	uint64_t total = 0;
	for (;;) {
		ssize_t got = read(fd, buf, BLOCK);
		if (got < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return fs_fail(c, "read at %" PRIu64 " bytes: %s", total, strerror(e));
		}
		if (got == 0)
			break;
		if (total % BLOCK == 0 && got >= 8) { /* a read may return less than asked */
			uint64_t head, b = total / BLOCK;
			memcpy(&head, buf, sizeof(head));
			if (head != b)
				fs_strfmt(c->r->note, sizeof(c->r->note),
				          "block %" PRIu64 " has the wrong contents", b);
		}
		total += (uint64_t)got;
	}
	free(buf);
	close(fd);
	if (total != c->big_bytes)
		return fs_fail(c, "read %" PRIu64 " bytes of %" PRIu64, total, c->big_bytes);
	c->r->ops = total / BLOCK;
	c->r->bytes = total;
	return 0;
}

static int prep_ls(struct ctx *c)
{
	if (make_dir(c, "many") != 0)
		return -1;
	return create_files(c, "many", c->o->ls_entries, 0, 0);
}

/* `ls -l` of the directory, its output counted, not kept. */
static int w_ls(struct ctx *c)
{
	char p[PATH_MAX];
	fs_path(p, sizeof(p), c, "many");
	int fds[2];
	if (pipe(fds) != 0)
		return fs_fail(c, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 1);
		int ef = open(c->errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (ef >= 0)
			dup2(ef, 2);
		execlp("ls", "ls", "-l", p, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char buf[65536];
	uint64_t lines = 0;
	ssize_t k;
	while ((k = read(fds[0], buf, sizeof(buf))) > 0 || (k < 0 && errno == EINTR))
		for (ssize_t i = 0; i < k; i++)
			lines += buf[i] == '\n';
	close(fds[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char why[300];
		fs_last_line(c->errfile, why, sizeof(why));
		return fs_fail(c, "ls -l: status %d: %s", st, why);
	}
	if (lines != c->o->ls_entries + 1) /* and the "total" line */
		return fs_fail(c, "ls -l listed %" PRIu64 " entries of %" PRIu64,
		            lines ? lines - 1 : 0, c->o->ls_entries);
	c->r->ops = c->o->ls_entries;
	return 0;
}

static char tarball[PATH_MAX];

static int count_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path;
	(void)f;
	if (flag == FTW_F) {
		o.tree_files++;
		if (S_ISREG(st->st_mode))
			o.tree_bytes += (uint64_t)st->st_size;
	}
	return 0;
}

static int warm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	if (flag == FTW_F && S_ISREG(st->st_mode)) {
		int fd = open(path, O_RDONLY);
		char buf[65536];
		if (fd >= 0) {
			while (read(fd, buf, sizeof(buf)) > 0) {
			}
			close(fd);
		}
	}
	return 0;
}

/* Reads the source of cp and tar into the page cache (untimed). */
int prep_tree(struct ctx *c)
{
	nftw(c->o->tree, warm_one, 64, FTW_PHYS);
	struct stat st;
	if (stat(tarball, &st) == 0)
		warm_one(tarball, &st, FTW_F, NULL);
	return 0;
}

static int tree_cmd(struct ctx *c, char *const argv[], const char *what)
{
	int rc = fs_run(argv, NULL, NULL, -1, c->errfile);
	if (rc != 0) {
		char why[300];
		fs_last_line(c->errfile, why, sizeof(why));
		return fs_fail(c, "%s: status %d: %s", what, rc, why);
	}
	c->r->ops = c->o->tree_files;
	c->r->bytes = c->o->tree_bytes;
	return 0;
}

static int w_cp(struct ctx *c)
{
	char dst[PATH_MAX];
	fs_path(dst, sizeof(dst), c, "tree");
	char *argv[] = {"cp", "-r", (char *)c->o->tree, dst, NULL};
	return tree_cmd(c, argv, "cp -r");
}

static int w_tar(struct ctx *c)
{
	char *argv[] = {"tar", "-xf", tarball, "-C", c->ts->mnt, NULL};
	return tree_cmd(c, argv, "tar -x");
}

static int prep_rename(struct ctx *c)
{
	if (make_dir(c, "before") != 0)
		return -1;
	return create_files(c, "before", c->o->rename_files, SMALL_SIZE, 0);
}

static int w_rename(struct ctx *c)
{
	char from[PATH_MAX], to[PATH_MAX];
	fs_path(from, sizeof(from), c, "before");
	fs_path(to, sizeof(to), c, "after");
	if (rename(from, to) != 0)
		return fs_fail(c, "rename: %s", strerror(errno));
	c->r->ops = c->o->rename_files;
	return 0;
}

/* Untimed check that the rename moved everything. */
static int check_rename(struct ctx *c)
{
	char p[PATH_MAX];
	struct stat st;
	uint64_t last = c->o->rename_files - 1;
	small_name(p, sizeof(p), c, "after", last);
	if (stat(p, &st) != 0 || st.st_size != SMALL_SIZE)
		return fs_fail(c, "after the rename, after/f%06" PRIu64 " is missing or wrong", last);
	fs_path(p, sizeof(p), c, "before");
	if (lstat(p, &st) == 0)
		return fs_fail(c, "after the rename, before/ still exists");
	return 0;
}

const struct step fs_steps[FS_NSTEPS] = {
    {"create-1dir", "files/s", 1, 0, prep_one_dir, w_create, NULL,
     "N files of 4 KiB in one directory (open, write, close; no fsync)"},
    {"stat", "files/s", 0, 1, NULL, w_stat, NULL, "stat(2) of each of those N files, cold"},
    {"read", "files/s", 0, 1, NULL, w_read, NULL, "open, read 4 KiB, close each file, cold"},
    {"delete", "files/s", 0, 0, NULL, w_delete, NULL, "unlink(2) each file"},
    {"create-100dirs", "files/s", 1, 0, prep_spread, w_create_spread, NULL,
     "N files of 4 KiB spread over 100 directories (made untimed)"},
    {"seqwrite", "MB/s", 1, 0, NULL, w_seqwrite, NULL,
     "one large file in 1 MiB writes, close included, no fsync"},
    {"seqread", "MB/s", 0, 1, NULL, w_seqread, NULL, "that file in 1 MiB reads, cold"},
    {"ls-l", "entries/s", 1, 1, prep_ls, w_ls, NULL,
     "`ls -l` of one directory of L empty files (made untimed), cold"},
    {"cp-r", "MB/s", 1, 0, prep_tree, w_cp, NULL, "`cp -r TREE` into the target (source cached)"},
    {"tar-x", "MB/s", 1, 0, prep_tree, w_tar, NULL,
     "`tar -xf` of TREE's tarball into the target (tarball cached)"},
    {"rename-dir", "files/s", 1, 0, prep_rename, w_rename, check_rename,
     "rename(2) of a directory of R files of 4 KiB (made untimed)"},
    {"append-log", "ops/s", 1, 0, fs_work_prep_big, fs_work_append, fs_work_check_append,
     "W times: open(O_APPEND), write one line, close, on a file of B MiB (made untimed)"},
    {"pwrite-fsync", "ops/s", 0, 0, NULL, fs_work_pwrite_fsync, fs_work_check_pwrite,
     "W times: a 4 KiB pwrite at a random page of that file, then fsync"},
    {"sqlite-txn", "txns/s", 1, 0, fs_work_prep_sqlite, fs_work_sqlite, fs_work_check_sqlite,
     "sqlite3: S one-row transactions on a 50 MB database (made untimed), rollback journal"},
    {"git-commit", "MB/s", 1, 0, fs_work_prep_git, fs_work_git, NULL,
     "`git init; git add -A; git commit` of a copy of TREE (copied untimed)"},
    {"rsync-a", "MB/s", 1, 0, prep_tree, fs_work_rsync, NULL,
     "`rsync -a TREE/` into the target (source cached)"},
};

struct result fs_results[FS_NSTEPS][NTARGETS];

/* Runs one step on the target: its prep, a cold start when asked, a sync,
 * the timed run, the checks. The result is in c->r. */
static void run_step(struct ctx *c, int s)
{
	const struct step *st = &fs_steps[s];
	struct result *r = c->r;
	char err[300];
	if (st->prep && st->prep(c) != 0)
		return;
	if (st->cold && target_cold(c->ts, err, sizeof(err)) != 0) {
		fs_fail(c, "remount: %s", err);
		return;
	}
	/* Untimed: the previous target's writeback and the freeing of its
	 * blocks (discards on some mounts) must not land in this step. */
	sync();
	r->ops = r->bytes = 0;
	timed_out = 0;
	alarm((unsigned)c->o->timeout);
	uint64_t t0 = now_ns();
	int rc = st->run(c);
	r->secs = (double)(now_ns() - t0) / 1e9;
	alarm(0);
	if (timed_out) {
		fs_fail(c, "no result within %d s: the daemon was killed", c->o->timeout);
		return;
	}
	if (rc == 0 && st->check)
		rc = st->check(c);
	if (rc == 0)
		r->status = ST_OK;
}

/* One group of steps (a fresh start and the steps that share it) on one
 * target. */
static void run_group(struct ctx *c, int g0, int g1)
{
	struct target_state *ts = c->ts;
	char err[300] = "";
	int broken = 0;
	if (target_fresh(ts, err, sizeof(err)) != 0)
		broken = 1;
	for (int s = g0; s < g1; s++) {
		c->r = &fs_results[s][ts->t];
		memset(c->r, 0, sizeof(*c->r));
		if (broken) {
			c->r->status = s == g0 ? ST_FAILED : ST_SKIPPED;
			fs_strfmt(c->r->error, sizeof(c->r->error), "%s",
			          s == g0 ? err : "an earlier step of its group failed");
		} else {
			run_step(c, s);
			broken = c->r->status != ST_OK;
		}
		report_progress(s, ts->t, c->r);
	}
	char uerr[300] = "";
	if (target_unmount(ts, uerr, sizeof(uerr)) != 0) {
		/* The last step that ran gets the daemon's end. */
		for (int s = g1 - 1; s >= g0; s--)
			if (fs_results[s][ts->t].status == ST_OK) {
				fs_strfmt(fs_results[s][ts->t].note,
				          sizeof(fs_results[s][ts->t].note), "at unmount: %s",
				          uerr);
				printf("  %-8s %-15s NOTE at unmount: %s\n", fs_targets[ts->t],
				       fs_steps[s].name, uerr);
				break;
			}
	}
	live = NULL;
	if (!c->o->keep)
		rm_rf(ts->base);
}

/* ---- Options and main ---- */

/* --steps: a group runs whole when any of its steps was asked for (the
 * steps before it in the group make what it works on). */
static int group_chosen(int g0, int g1)
{
	if (o.steps == NULL)
		return 1;
	for (int s = g0; s < g1; s++) {
		const char *p = o.steps, *name = fs_steps[s].name;
		size_t n = strlen(name);
		while ((p = strstr(p, name)) != NULL) {
			if ((p == o.steps || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
				return 1;
			p += n;
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fsbench [options]\n"
	           "  --quick            smoke sizes: N 2000, 256 MiB, ls 10000, rename 2000,\n"
	           "                     tree /usr/include/linux, B 128, S 200\n"
	           "  --targets LIST     wombat,native,bindfs (default: all)\n"
	           "  --steps LIST       only the groups holding these steps (default: all)\n"
	           "  --files N          small files (default 20000)\n"
	           "  --big-mib M        large file MiB (default 2048)\n"
	           "  --ls-entries L     entries for ls -l (default 100000)\n"
	           "  --rename-files R   files in the renamed directory (default 10000)\n"
	           "  --tree DIR         source of cp -r, tar -x, git and rsync (default /usr/include)\n"
	           "  --work-mib B       the appended and pwritten file (default 512)\n"
	           "  --work-ops W       appends, and pwrite + fsync pairs (default 100)\n"
	           "  --sqlite-txns S    sqlite3 transactions (default 1000)\n"
	           "  --dir DIR          work directory (default build/bench/fs)\n"
	           "  --json FILE        every number (default build/bench/fs.json)\n"
	           "  --plot-data FILE   rates relative to native (default build/bench/fs.dat)\n"
	           "  --wombatfs PATH    the daemon (default build/bin/wombatfs)\n"
	           "  --wombat-opts OPTS more -o options for wombatfs, e.g. sync=none\n"
	           "  --timeout S        a step running longer fails (default 900)\n"
	           "  --no-dd            skip the dd measurement of the disk\n"
	           "  --keep             keep the last directories and databases\n");
}

static int parse_args(int argc, char **argv)
{
	uint64_t files = 0, big = 0, ls = 0, ren = 0, wmib = 0, wops = 0, txns = 0;
	o.dir = "build/bench/fs";
	o.json = "build/bench/fs.json";
	o.plot = "build/bench/fs.dat";
	o.wombatfs = "build/bin/wombatfs";
	o.wombat_opts = "";
	o.tree = NULL;
	o.timeout = 900;
	o.dd = 1;
	const char *targets = "wombat,native,bindfs";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int used = 1;
		if (strcmp(a, "--quick") == 0)
			o.quick = 1, used = 0;
		else if (strcmp(a, "--no-dd") == 0)
			o.dd = 0, used = 0;
		else if (strcmp(a, "--keep") == 0)
			o.keep = 1, used = 0;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (v == NULL)
			goto bad;
		else if (strcmp(a, "--targets") == 0)
			targets = v;
		else if (strcmp(a, "--steps") == 0)
			o.steps = v;
		else if (strcmp(a, "--files") == 0)
			files = strtoull(v, NULL, 10);
		else if (strcmp(a, "--big-mib") == 0)
			big = strtoull(v, NULL, 10);
		else if (strcmp(a, "--ls-entries") == 0)
			ls = strtoull(v, NULL, 10);
		else if (strcmp(a, "--rename-files") == 0)
			ren = strtoull(v, NULL, 10);
		else if (strcmp(a, "--work-mib") == 0)
			wmib = strtoull(v, NULL, 10);
		else if (strcmp(a, "--work-ops") == 0)
			wops = strtoull(v, NULL, 10);
		else if (strcmp(a, "--sqlite-txns") == 0)
			txns = strtoull(v, NULL, 10);
		else if (strcmp(a, "--tree") == 0)
			o.tree = v;
		else if (strcmp(a, "--dir") == 0)
			o.dir = v;
		else if (strcmp(a, "--json") == 0)
			o.json = v;
		else if (strcmp(a, "--plot-data") == 0)
			o.plot = v;
		else if (strcmp(a, "--wombatfs") == 0)
			o.wombatfs = v;
		else if (strcmp(a, "--wombat-opts") == 0)
			o.wombat_opts = v;
		else if (strcmp(a, "--timeout") == 0 && atoi(v) > 0)
			o.timeout = atoi(v);
		else
			goto bad;
		i += used;
		continue;
	bad:
		fprintf(stderr, "fsbench: bad option or value: %s%s%s\n", a, v ? " " : "",
		        v ? v : "");
		usage(stderr);
		return -1;
	}
	o.files = files ? files : o.quick ? 2000 : 20000;
	o.big_mib = big ? big : o.quick ? 256 : 2048;
	o.ls_entries = ls ? ls : o.quick ? 10000 : 100000;
	o.rename_files = ren ? ren : o.quick ? 2000 : 10000;
	o.work_mib = wmib ? wmib : o.quick ? 128 : 512;
	o.work_ops = wops ? wops : 100;
	o.sqlite_txns = txns ? txns : o.quick ? 200 : 1000;
	if (o.tree == NULL)
		o.tree = o.quick ? "/usr/include/linux" : "/usr/include";
	for (int t = 0; t < NTARGETS; t++)
		o.on[t] = strstr(targets, fs_targets[t]) != NULL;
	return 0;
}

int main(int argc, char **argv)
{
	if (parse_args(argc, argv) != 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	char absdir[PATH_MAX];
	if (mkdir_p(o.dir) != 0 || realpath(o.dir, absdir) == NULL) {
		fprintf(stderr, "fsbench: %s: %s\n", o.dir, strerror(errno));
		return 1;
	}
	o.dir = absdir;
	char absfs[PATH_MAX];
	if (realpath(o.wombatfs, absfs) == NULL) {
		fprintf(stderr, "fsbench: %s: %s\n", o.wombatfs, strerror(errno));
		return 1;
	}
	o.wombatfs = absfs;
	o.can_drop_caches = access("/proc/sys/vm/drop_caches", W_OK) == 0;
	atexit(emergency_unmount);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);

	static char abstree[PATH_MAX];
	if (realpath(o.tree, abstree) == NULL) {
		fprintf(stderr, "fsbench: tree %s: %s\n", o.tree, strerror(errno));
		return 1;
	}
	o.tree = abstree;
	nftw(o.tree, count_one, 64, FTW_PHYS);
	fs_strfmt(tarball, sizeof(tarball), "%s/tree.tar", o.dir);
	{
		char parent[PATH_MAX], *base;
		fs_strfmt(parent, sizeof(parent), "%s", o.tree);
		base = strrchr(parent, '/');
		char *argv_tar[] = {"tar",
		                    "-cf",
		                    tarball,
		                    "-C",
		                    base && base != parent ? parent : "/",
		                    base ? base + 1 : parent,
		                    NULL};
		if (base && base != parent)
			*base = 0;
		if (fs_run(argv_tar, NULL, NULL, -1, NULL) != 0)
			fprintf(stderr, "fsbench: could not make %s from %s\n", tarball, o.tree);
	}
	report_settings(&o);

	struct target_state ts[NTARGETS];
	for (int t = 0; t < NTARGETS; t++) {
		memset(&ts[t], 0, sizeof(ts[t]));
		ts[t].t = t;
		fs_strfmt(ts[t].base, sizeof(ts[t].base), "%s/%s", o.dir, fs_targets[t]);
		fs_strfmt(ts[t].backing, sizeof(ts[t].backing), "%s/%s", ts[t].base,
		          t == T_WOMBAT   ? "db"
		          : t == T_BINDFS ? "src"
		                          : "root");
		fs_strfmt(ts[t].mnt, sizeof(ts[t].mnt), "%s/%s", ts[t].base,
		          t == T_NATIVE ? "root" : "mnt");
		fs_strfmt(ts[t].log, sizeof(ts[t].log), "%s/%s.log", o.dir, fs_targets[t]);
		unlink(ts[t].log);
	}
	struct ctx c = {.o = &o};
	c.data = malloc(BLOCK + SMALL_SIZE);
	if (c.data == NULL)
		return 1;
	uint64_t x = 0x5eed;
	for (size_t i = 0; i < BLOCK + SMALL_SIZE; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		c.data[i] = (unsigned char)(x >> 56);
	}
	fs_strfmt(c.errfile, sizeof(c.errfile), "%s/cmd.err", o.dir);
	c.big_bytes = o.big_mib * MiB;
	report_gather_start(&o);
	uint64_t t0 = now_ns();

	for (int g0 = 0; g0 < FS_NSTEPS;) {
		int g1 = g0 + 1;
		while (g1 < FS_NSTEPS && !fs_steps[g1].first)
			g1++;
		if (!group_chosen(g0, g1)) {
			g0 = g1;
			continue;
		}
		for (int t = 0; t < NTARGETS; t++) {
			if (!o.on[t])
				continue;
			c.ts = &ts[t];
			run_group(&c, g0, g1);
			/* The large file: halve the size until wombat manages it. */
			while (fs_steps[g0].run == w_seqwrite && t == T_WOMBAT && big_io_failed &&
			       fs_results[g0][t].status == ST_FAILED && c.big_bytes > 64 * MiB) {
				big_io_failed = 0;
				char was[300];
				fs_strfmt(was, sizeof(was), "%" PRIu64 " MiB failed (%s)",
				          c.big_bytes / MiB, fs_results[g0][t].error);
				c.big_bytes /= 2;
				printf("  %-8s %-15s retrying with %" PRIu64 " MiB\n",
				       fs_targets[t], fs_steps[g0].name, c.big_bytes / MiB);
				run_group(&c, g0, g1);
				fs_strfmt(fs_results[g0][t].note, sizeof(fs_results[g0][t].note),
				          "%s; measured at %" PRIu64 " MiB for all targets", was,
				          c.big_bytes / MiB);
			}
		}
		g0 = g1;
	}
	double total = (double)(now_ns() - t0) / 1e9;
	unlink(c.errfile);
	unlink(tarball);

	struct machine m;
	o.big_bytes = c.big_bytes;
	report_gather_machine(&m, &o);
	report_table(&o, &m);
	printf("  total time   %.0f s (steps; machine facts after)\n", total);
	int rc = report_json(&o, &m) | report_plot_data(&o);
	if (rc == 0)
		printf("\nwrote %s and %s\n", o.json, o.plot);
	free(c.data);
	return rc == 0 ? 0 : 1;
}
