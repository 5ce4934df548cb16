/*
 * bench_json.h -- the two JSON writers kvbench and fsbench share: a string
 * with its quotes and escapes, and a number (null when not finite).
 */
#ifndef BENCH_JSON_H
#define BENCH_JSON_H

#include <math.h>
#include <stdio.h>

static inline void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static inline void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fprintf(f, "null");
}

#endif /* BENCH_JSON_H */
