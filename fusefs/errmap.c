/*
 * errmap.c -- engine results to errno, in one place (errmap.h). Errors that
 * mean the data or the disk is in trouble are logged with what was being
 * done and to which key, since the caller only sees EIO.
 */
#include <errno.h>
#include <stdio.h>
#include <syslog.h>

#include "errmap.h"
#include "util/error.h"
#include "wombat.h"

int errmap(int rc, const char *what, const uint8_t *key, size_t klen)
{
	switch (rc) {
	case WB_OK:
		return 0;
	case WB_ENOTFOUND:
		return -ENOENT;
	case WB_EINVAL:
		return -EINVAL;
	case WB_ENOSPC:
		return -ENOSPC;
	case WB_ENOMEM:
		return -ENOMEM;
	case WB_EREADONLY:
		return -EROFS;
	case WB_EBUSY:
		return -EBUSY;
	case WB_ECONFLICT:
		return -EAGAIN;
	case WB_ENOTSUP:
		return -EOPNOTSUPP;
	default:
		break;
	}
	char shown[256];
	err_quote(key != NULL ? key : (const uint8_t *)"", key != NULL ? klen : 0, shown, sizeof(shown));
	fprintf(stderr, "wombatfs: %s of \"%s\": %s: %s\n", what, shown, wb_strerror(rc), wb_errmsg(NULL));
	syslog(LOG_ERR, "wombatfs: %s of \"%s\": %s: %s", what, shown, wb_strerror(rc), wb_errmsg(NULL));
	return -EIO;
}
