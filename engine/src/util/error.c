/*
 * error.c -- error names, errno translation and the per-thread error message
 * behind wb_errmsg(). See error.h.
 */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[512];

int err_set(int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	return rc;
}

void err_clear(void)
{
	last_message[0] = '\0';
}

const char *err_message(void)
{
	return last_message;
}

const char *err_quote(const void *p, size_t n, char *buf, size_t cap)
{
	const unsigned char *s = p;
	size_t o = 0;
	size_t i = 0;
	for (; i < n && o + 8 < cap; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			buf[o++] = (char)s[i];
		else
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", s[i]);
	}
	if (i < n && o + 4 <= cap)
		o += (size_t)snprintf(buf + o, cap - o, "...");
	if (cap > 0)
		buf[o < cap ? o : cap - 1] = '\0';
	return buf;
}

int err_from_errno(int e)
{
	switch (e) {
	case EIO:
		return WB_EIO;
	case ENOSPC:
	case EDQUOT:
		return WB_ENOSPC;
	case ENOENT:
		return WB_ENOTFOUND;
	case ENOMEM:
		return WB_ENOMEM;
	case EEXIST:
		return WB_EEXIST;
	default:
		return e > 0 ? -e : WB_EIO;
	}
}

const char *wb_strerror(int rc)
{
	switch (rc) {
	case WB_OK:
		return "success";
	case WB_ENOTFOUND:
		return "not found";
	case WB_EINVAL:
		return "invalid argument";
	case WB_ECORRUPT:
		return "corruption detected";
	case WB_EIO:
		return "input/output error";
	case WB_ENOSPC:
		return "no space left on device";
	case WB_EBUSY:
		return "database in use by another process";
	case WB_ENOMEM:
		return "out of memory";
	case WB_ECONFLICT:
		return "transaction conflict";
	case WB_EREADONLY:
		return "database or transaction is read-only";
	case WB_EEXIST:
		return "database already exists";
	case WB_EFORMAT:
		return "unknown file format or version";
	case WB_ECLOSED:
		return "database is closing";
	case WB_ENOTSUP:
		return "operation not supported";
	}
	if (rc < 0 && rc > -4096)
		return strerror(-rc);
	return "unknown error";
}

const char *wb_errmsg(const wb_db *db)
{
	(void)db; /* the message is per thread, whichever database set it */
	return last_message;
}
