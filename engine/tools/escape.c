/*
 * escape.c -- escaping and unescaping of keys and values for the wombat
 * tool's text formats (escape.h has the rules). On the path of every line
 * `scan` prints and `load` reads, so both loops stay simple byte loops.
 */
#include "escape.h"

static const char hex_digits[] = "0123456789abcdef";

size_t escape(char *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	char *d = dst;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			*d++ = (char)c;
			continue;
		}
		*d++ = '\\';
		switch (c) {
		case '\\':
			*d++ = '\\';
			break;
		case '\t':
			*d++ = 't';
			break;
		case '\n':
			*d++ = 'n';
			break;
		default:
			*d++ = 'x';
			*d++ = hex_digits[c >> 4];
			*d++ = hex_digits[c & 0xf];
			break;
		}
	}
	return (size_t)(d - dst);
}

/* The value of hex digit c, or -1. */
static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int unescape(void *dst, const char *src, size_t n, size_t *outlen, size_t *bad)
{
	unsigned char *d = dst;
	size_t i = 0;
	while (i < n) {
		if (src[i] != '\\') {
			*d++ = (unsigned char)src[i++];
			continue;
		}
		if (i + 1 >= n)
			goto invalid;
		switch (src[i + 1]) {
		case '\\':
			*d++ = '\\';
			i += 2;
			break;
		case 't':
			*d++ = '\t';
			i += 2;
			break;
		case 'n':
			*d++ = '\n';
			i += 2;
			break;
		case 'x': {
			int hi = i + 2 < n ? hex_value(src[i + 2]) : -1;
			int lo = i + 3 < n ? hex_value(src[i + 3]) : -1;
			if (hi < 0 || lo < 0)
				goto invalid;
			*d++ = (unsigned char)(hi << 4 | lo);
			i += 4;
			break;
		}
		default:
			goto invalid;
		}
	}
	*outlen = (size_t)(d - (unsigned char *)dst);
	return 0;
invalid:
	*bad = i;
	return -1;
}
