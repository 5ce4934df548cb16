/*
 * mount_wombat.c -- mount.wombat, so that `mount -t wombat DBDIR DIR` and an
 * /etc/fstab line work.
 *
 *   mount.wombat DBDIR MOUNTPOINT [-sfnv] [-o opt[,opt...]]
 *
 * mount(8) calls it with those arguments. It drops the options that only
 * mean something to mount(8) and fstab (defaults, auto, noauto, nofail,
 * _netdev, user, users, nouser, owner, group, comment=, x-*), then runs
 * wombatfs, which returns once the mount is usable or fails with its
 * message -- so this returns the same way.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef WOMBATFS_PATH
#define WOMBATFS_PATH "/usr/local/bin/wombatfs"
#endif

static int fstab_only(const char *o)
{
	static const char *const drop[] = { "defaults", "auto", "noauto", "nofail", "_netdev",
					    "user",     "users", "nouser", "owner",  "group",
					    "rw",       NULL };
	for (int i = 0; drop[i]; i++)
		if (strcmp(o, drop[i]) == 0)
			return 1;
	return strncmp(o, "x-", 2) == 0 || strncmp(o, "comment=", 8) == 0;
}

/* Appends the options of list that wombatfs should see to out. */
static void filter(const char *list, char *out, size_t cap)
{
	char *copy = strdup(list), *save = NULL;
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (fstab_only(o))
			continue;
		size_t len = strlen(out);
		snprintf(out + len, cap - len, "%s%s", len ? "," : "", o);
	}
	free(copy);
}

/* wombatfs beside this program (a build tree), else the installed one. */
static void find_daemon(char *path, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(path, cap, "%s/wombatfs", dirname(self));
		if (access(path, X_OK) == 0)
			return;
	}
	snprintf(path, cap, "%s", WOMBATFS_PATH);
}

int main(int argc, char **argv)
{
	char opts[4096] = "";
	const char *pos[2] = { NULL, NULL };
	int npos = 0, fake = 0, verbose = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-o") == 0 && i + 1 < argc) {
			filter(argv[++i], opts, sizeof(opts));
		} else if (strncmp(a, "-o", 2) == 0 && a[2]) {
			filter(a + 2, opts, sizeof(opts));
		} else if (a[0] == '-' && a[1]) {
			for (const char *f = a + 1; *f; f++) {
				if (*f == 'f')
					fake = 1; /* mount -f: pretend */
				else if (*f == 'v')
					verbose = 1;
				else if (*f != 's' && *f != 'n') {
					fprintf(stderr, "mount.wombat: unknown flag -%c\n", *f);
					return 1;
				}
			}
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			fprintf(stderr, "mount.wombat: unexpected argument '%s'\n", a);
			return 1;
		}
	}
	if (npos != 2) {
		fprintf(stderr, "usage: mount.wombat DBDIR MOUNTPOINT [-sfnv] [-o opt[,opt...]]\n");
		return 1;
	}
	char daemon[PATH_MAX];
	find_daemon(daemon, sizeof(daemon));
	char *av[6];
	int ac = 0;
	av[ac++] = daemon;
	av[ac++] = (char *)pos[0];
	av[ac++] = (char *)pos[1];
	if (opts[0]) {
		av[ac++] = "-o";
		av[ac++] = opts;
	}
	av[ac] = NULL;
	if (verbose || fake) {
		fprintf(stderr, "mount.wombat:");
		for (int i = 0; i < ac; i++)
			fprintf(stderr, " %s", av[i]);
		fprintf(stderr, "\n");
	}
	if (fake)
		return 0;
	execv(daemon, av);
	fprintf(stderr, "mount.wombat: cannot run %s: %s\n", daemon, strerror(errno));
	return 1;
}
