/*
 * dispatch.h -- serves a FUSE session: one thread receives every request
 * and answers the quick ones itself; requests that may wait on the disk
 * go to a small pool of workers.
 *
 * Why not libfuse's multithreaded loop: with one client the kernel hands
 * consecutive requests to whichever worker has waited longest, so every
 * request pays a wake-up of a cold thread, often on the other CPU. Most of
 * our requests (lookup, getattr, create, write into a buffer, the commit
 * of a small file) take a few microseconds of our time, less than that
 * hand-off. One receiving thread answers them back to back; fsync,
 * rename, big reads and writes, and commits of big files run on workers,
 * so a slow request does not hold up the others.
 *
 * Between requests the receiving thread polls for a short while before it
 * sleeps: a client in a burst (cp -r, tar x) sends its next request a few
 * microseconds after our answer, and waking a thread whose CPU went idle
 * costs more than that, most of all in a virtual machine. It yields the
 * CPU between polls, so it only takes time nobody else wants.
 */
#ifndef WOMBATFS_DISPATCH_H
#define WOMBATFS_DISPATCH_H

#include "fs.h"

/* Serves se until it is unmounted or told to exit (a signal). workers 0:
 * every request on the receiving thread. spin_us: how long after a
 * request the receiving thread keeps polling for the next one before it
 * sleeps (0: sleeps at once). Returns 0 on a clean end, else an errno.
 * Requests handed to workers are answered before it returns. */
int dispatch_loop(fs_t *fs, struct fuse_session *se, unsigned workers, unsigned spin_us);

#endif /* WOMBATFS_DISPATCH_H */
