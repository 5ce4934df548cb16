/*
 * main.c -- wombatfs: mounts a Wombat database as a directory.
 *
 *   wombatfs DBDIR MOUNTPOINT [-f] [-d] [-s] [-o opt[,opt...]]
 *
 * Everything that can fail is checked before the command returns: the
 * options, the mountpoint (an empty directory), the database (exists, not
 * in use by another process). Without -f the work happens in a child that
 * opens the database (its threads must live in the process that serves the
 * mount) and mounts; the parent waits on a pipe and exits 0 only once the
 * mount is usable, or 1 with the child's message. SIGTERM, SIGINT and
 * unmount end the loop; open files are committed and the database is
 * closed cleanly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "fs.h"

/* Threads that serve slow requests (fsync, rename, big reads, writes and
 * commits); the rest are answered by the receiving thread. */
#define WORKERS 4
#define SPIN_US 50

struct cli {
	char *dbdir;
	char *mountpoint;
	char *sync;
	char *cache_size;
	char *value_threshold;
	char *chunk_size;
	/* The sizes above, parsed by run(); 0 where not given. */
	uint64_t cache_bytes, threshold_bytes, chunk_bytes;
	int ro;
	int create;
	int help;
	int version;
	int nonopts;
};

#define OPT(t, p) { t, offsetof(struct cli, p), 1 }
static const struct fuse_opt cli_opts[] = {
	OPT("sync=%s", sync),
	OPT("cache_size=%s", cache_size),
	OPT("value_threshold=%s", value_threshold),
	OPT("chunk_size=%s", chunk_size),
	OPT("create", create),
	OPT("-h", help),
	OPT("--help", help),
	OPT("-V", version),
	OPT("--version", version),
	FUSE_OPT_END,
};

enum { KEY_RO };

static int cli_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct cli *c = data;
	if (key == FUSE_OPT_KEY_NONOPT) {
		c->nonopts++;
		if (c->nonopts == 1) {
			c->dbdir = strdup(arg);
			return 0; /* ours, not libfuse's */
		}
		if (c->nonopts == 2) {
			c->mountpoint = strdup(arg);
			return 1; /* fuse_parse_cmdline wants it too */
		}
		fprintf(stderr, "wombatfs: unexpected argument '%s'\n", arg);
		return -1;
	}
	if (key == FUSE_OPT_KEY_OPT && strcmp(arg, "ro") == 0)
		c->ro = 1; /* and libfuse mounts read-only */
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wombatfs DBDIR MOUNTPOINT [-f] [-d] [-s] [-o opt[,opt...]]\n"
		"\n"
		"Mounts the Wombat database in DBDIR at MOUNTPOINT (an empty directory):\n"
		"keys are files, key prefixes are directories. Unmount with\n"
		"`fusermount3 -u MOUNTPOINT` or `umount MOUNTPOINT`.\n"
		"\n"
		"options:\n"
		"  -f                     stay in the foreground\n"
		"  -d                     debug output (implies -f)\n"
		"  -s                     one thread for every request: fsync, rename and\n"
		"                         big reads and writes then hold up the rest\n"
		"                         (by default they run on worker threads)\n"
		"  -o ro                  read-only\n"
		"  -o create              create DBDIR when it does not exist\n"
		"  -o sync=MODE           always | interval (default) | none: when writes\n"
		"                         reach the disk; fsync(2) always does\n"
		"  -o cache_size=BYTES    block cache (K, M, G suffixes; default 256M)\n"
		"  -o value_threshold=BYTES  files of at least this size go to the value\n"
		"                         log (written once, moved without copying;\n"
		"                         default 4K; 0: every file in the tree)\n"
		"  -o chunk_size=BYTES    a file written in place is stored in chunks of\n"
		"                         this size, a power of two from 4K to 1M\n"
		"                         (default 64K); files keep the size they got\n"
		"  -o allow_other         let other users use the mount\n"
		"  -o default_permissions the kernel checks permissions (always on)\n"
		"  -o fsname=, subtype=   as mount(8) shows it (default DBDIR, wombat)\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* The mountpoint must be an empty directory. */
static int check_mountpoint(const char *mp)
{
	struct stat st;
	if (stat(mp, &st) != 0) {
		fprintf(stderr, "wombatfs: mountpoint %s: %s\n", mp, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "wombatfs: mountpoint %s is not a directory\n", mp);
		return -1;
	}
	DIR *d = opendir(mp);
	if (d == NULL) {
		fprintf(stderr, "wombatfs: mountpoint %s: %s\n", mp, strerror(errno));
		return -1;
	}
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	if (n > 0) {
		fprintf(stderr, "wombatfs: mountpoint %s is not empty\n", mp);
		return -1;
	}
	return 0;
}

static void commit_open(fs_t *fs, fs_node *n)
{
	pthread_mutex_lock(&n->commit_mu);
	if (file_commit(fs, n) != 0)
		fprintf(stderr, "wombatfs: could not save an open file at unmount\n");
	pthread_mutex_unlock(&n->commit_mu);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC; /* O_TRUNC in open, not a setattr first */
	/* No writeback cache: measured alternately (5 000 creates, 512 MiB
	 * written) it changed nothing beyond the noise, and with it the kernel
	 * would own file sizes and times. */
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
}

static void op_destroy(void *userdata)
{
	fs_t *fs = userdata;
	inode_each(fs, commit_open);
	wb_sync(fs->db);
}

/* Opens the database; prints why not. */
static int open_db(fs_t *fs, const struct cli *c)
{
	wb_options o;
	wb_options_init(&o);
	if (c->value_threshold)
		o.value_threshold = (size_t)c->threshold_bytes;
	if (c->chunk_size)
		o.object_chunk_size = (uint32_t)c->chunk_bytes;
	fs->stream_ok = o.value_threshold != 0 && !c->ro;
	o.create_if_missing = c->create;
	o.read_only = c->ro;
	if (c->cache_bytes)
		o.block_cache_size = c->cache_bytes;
	if (c->sync) {
		if (strcmp(c->sync, "always") == 0)
			o.sync = WB_SYNC_ALWAYS, fs->sync_always = true;
		else if (strcmp(c->sync, "interval") == 0)
			o.sync = WB_SYNC_INTERVAL;
		else if (strcmp(c->sync, "none") == 0)
			o.sync = WB_SYNC_NONE;
	}
	int rc = wb_open(fs->dbdir, &o, &fs->db);
	if (rc != WB_OK) {
		const char *why = wb_errmsg(NULL);
		fprintf(stderr, "wombatfs: cannot open database %s: %s%s%s\n", fs->dbdir,
			wb_strerror(rc), why && *why ? ": " : "", why ? why : "");
		if (rc == WB_ENOTFOUND && !c->create)
			fprintf(stderr, "wombatfs: (use -o create to make a new one)\n");
		if (rc == WB_ENOSPC && !c->ro)
			fprintf(stderr, "wombatfs: (the disk is full and the database's reserve is used up: "
					"free space on the disk that holds it, or mount it with -o ro to "
					"read and copy out its files)\n");
		return -1;
	}
	if (store_ino_init(fs) != 0) {
		fprintf(stderr, "wombatfs: cannot open database %s: %s\n", fs->dbdir,
			wb_errmsg(fs->db));
		wb_close(fs->db);
		fs->db = NULL;
		return -1;
	}
	return 0;
}

/* Tells the waiting parent how the start went. */
static void notify(int fd, char status)
{
	if (fd >= 0) {
		ssize_t w = write(fd, &status, 1);
		(void)w;
		close(fd);
	}
}

static int serve(fs_t *fs, const struct cli *c, struct fuse_session *se,
		 const struct fuse_cmdline_opts *fo, int notify_fd)
{
	if (open_db(fs, c) != 0) {
		notify(notify_fd, 1);
		return 1;
	}
	int ret = 1;
	if (fuse_set_signal_handlers(se) != 0) {
		fprintf(stderr, "wombatfs: cannot set signal handlers\n");
	} else if (fuse_session_mount(se, fo->mountpoint) != 0) {
		fprintf(stderr, "wombatfs: cannot mount at %s\n", fo->mountpoint);
		fuse_remove_signal_handlers(se);
	} else {
		if (notify_fd >= 0) {
			/* A daemon from here on: no terminal, no cwd. */
			int fd = open("/dev/null", O_RDWR);
			if (fd >= 0) {
				dup2(fd, 0);
				dup2(fd, 1);
				dup2(fd, 2);
				if (fd > 2)
					close(fd);
			}
			if (chdir("/") != 0) { /* cannot fail on a sane system */
			}
		}
		notify(notify_fd, 0);
		notify_fd = -1;
		/* One receiving thread, workers for slow requests (dispatch.h);
		 * -s: no workers. */
		ret = dispatch_loop(fs, se, fo->singlethread ? 0 : WORKERS, SPIN_US);
		if (ret != 0)
			syslog(LOG_ERR, "wombatfs: serving %s: %s", fo->mountpoint, strerror(ret));
		ret = ret == 0 ? 0 : 1;
		op_destroy(fs);
		fuse_session_unmount(se);
		fuse_remove_signal_handlers(se);
	}
	notify(notify_fd, 1);
	int rc = wb_close(fs->db);
	if (rc != WB_OK) {
		syslog(LOG_ERR, "wombatfs: closing %s: %s", fs->dbdir, wb_strerror(rc));
		ret = 1;
	}
	return ret;
}

/* Mounts and serves, in a child unless -f; frees what it set up. */
static int start(struct fuse_args *args, struct cli *c, char *dbdir,
		 struct fuse_cmdline_opts *fo)
{
	if (check_mountpoint(fo->mountpoint) != 0)
		return 1;
	fs_t fs = { .dbdir = dbdir, .ro = c->ro, .uid = getuid(), .gid = getgid(),
		    .mount_ns = attr_now_ns(), .timeout = 300.0, .spill_at = 16u << 20 };
	pthread_mutex_init(&fs.ns_mu, NULL);
	if (inode_init(&fs) != 0) {
		inode_destroy(&fs);
		return 1;
	}
	struct fuse_lowlevel_ops ops = { .init = op_init };
	ops_dir_init(&ops);
	ops_file_init(&ops);
	ops_xattr_init(&ops);
	int ret = 1;
	struct fuse_session *se = fuse_session_new(args, &ops, sizeof(ops), &fs);
	fs.se = se;
	if (se == NULL) {
		ret = 2; /* libfuse said which option it did not know */
	} else if (fo->foreground) {
		ret = serve(&fs, c, se, fo, -1);
	} else {
		int pfd[2];
		pid_t pid = -1;
		if (pipe(pfd) != 0)
			perror("wombatfs: pipe");
		else if ((pid = fork()) < 0)
			perror("wombatfs: fork");
		if (pid > 0) {
			/* The parent: returns once the mount works, or with the failure. */
			close(pfd[1]);
			char status = 1;
			if (read(pfd[0], &status, 1) != 1)
				status = 1;
			if (status != 0)
				waitpid(pid, NULL, 0);
			close(pfd[0]);
			ret = status;
		} else if (pid == 0) {
			close(pfd[0]);
			setsid();
			ret = serve(&fs, c, se, fo, pfd[1]);
		}
	}
	if (se != NULL)
		fuse_session_destroy(se);
	inode_destroy(&fs);
	pthread_mutex_destroy(&fs.ns_mu);
	return ret;
}

/* Checks the options and the database directory, then start()s. */
static int run(struct fuse_args *args, struct cli *c)
{
	if (c->help) {
		usage(stdout);
		return 0;
	}
	if (c->version) {
		printf("wombatfs %d.%d (libfuse %s)\n", WB_VERSION_MAJOR, WB_VERSION_MINOR,
		       fuse_pkgversion());
		return 0;
	}
	if (c->dbdir == NULL || c->mountpoint == NULL) {
		usage(stderr);
		return 2;
	}
	if (c->cache_size && parse_size(c->cache_size, &c->cache_bytes) != 0) {
		fprintf(stderr, "wombatfs: bad cache_size '%s'\n", c->cache_size);
		return 2;
	}
	if (c->value_threshold && parse_size(c->value_threshold, &c->threshold_bytes) != 0) {
		fprintf(stderr, "wombatfs: bad value_threshold '%s'\n", c->value_threshold);
		return 2;
	}
	uint64_t ck = 0;
	if (c->chunk_size && (parse_size(c->chunk_size, &ck) != 0 || ck < 4096 ||
			      ck > (1u << 20) || (ck & (ck - 1)) != 0)) {
		fprintf(stderr, "wombatfs: bad chunk_size '%s' (a power of two from 4K to 1M)\n",
			c->chunk_size);
		return 2;
	}
	c->chunk_bytes = ck;
	if (c->sync && strcmp(c->sync, "always") && strcmp(c->sync, "interval") &&
	    strcmp(c->sync, "none")) {
		fprintf(stderr, "wombatfs: bad sync mode '%s' (always, interval or none)\n", c->sync);
		return 2;
	}
	if (c->create && !c->ro)
		mkdir(c->dbdir, 0755); /* wb_open reports what is wrong with it */
	char dbdir[PATH_MAX];
	if (realpath(c->dbdir, dbdir) == NULL) {
		fprintf(stderr, "wombatfs: database %s: %s%s\n", c->dbdir, strerror(errno),
			errno == ENOENT ? " (use -o create to make a new one)" : "");
		return 1;
	}
	char opts[PATH_MAX + 64];
	snprintf(opts, sizeof(opts), "-odefault_permissions,subtype=wombat,fsname=%s", dbdir);
	/* fuse_opt_insert_arg keeps later -o fsname= from the user winning. */
	if (fuse_opt_insert_arg(args, 1, opts) != 0)
		return 1;
	struct fuse_cmdline_opts fo;
	if (fuse_parse_cmdline(args, &fo) != 0)
		return 2;
	int ret = start(args, c, dbdir, &fo);
	free(fo.mountpoint);
	return ret;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct cli c = { 0 };
	int ret = fuse_opt_parse(&args, &c, cli_opts, cli_proc) != 0 ? 2 : run(&args, &c);
	fuse_opt_free_args(&args);
	free(c.dbdir);
	free(c.mountpoint);
	free(c.sync);
	free(c.cache_size);
	free(c.value_threshold);
	free(c.chunk_size);
	return ret;
}
