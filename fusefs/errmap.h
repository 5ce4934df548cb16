/*
 * errmap.h -- engine results to errno, in one place for the whole
 * filesystem (fs.h, filebuf.h). Needs no mount: the unit tests link it.
 */
#ifndef WOMBATFS_ERRMAP_H
#define WOMBATFS_ERRMAP_H

#include <stddef.h>
#include <stdint.h>

/* 0 for WB_OK, else the negative errno for an engine result. Results that
 * mean the data or the disk is in trouble become -EIO and are logged
 * (stderr and syslog) with what was being done (`what`) to which key (key
 * may be NULL), since the caller only sees EIO. Can't fail. */
int errmap(int wb_rc, const char *what, const uint8_t *key, size_t klen);

#endif /* WOMBATFS_ERRMAP_H */
