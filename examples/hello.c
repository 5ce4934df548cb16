/*
 * hello.c -- a small program using libwombat: open (creating) a database,
 * write a batch, read a key back, list a prefix, and close.
 *
 *   make && cc -Iengine/include examples/hello.c build/lib/libwombat.a \
 *        -lpthread -lz -lcrypto -o hello && ./hello /tmp/hello.db
 */
#include <stdio.h>
#include <string.h>

#include "wombat.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "hello: %s: %s (%s)\n", what, wb_strerror(rc), wb_errmsg(NULL));
	return 1;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "hello.db";
	wb_options opts;
	wb_options_init(&opts);
	opts.create_if_missing = 1;

	wb_db *db;
	int rc = wb_open(dir, &opts, &db);
	if (rc != WB_OK)
		return fail("open", rc);

	/* Three keys, written atomically. */
	wb_batch *b;
	if ((rc = wb_batch_new(&b)) != WB_OK)
		return fail("batch", rc);
	wb_batch_put(b, "fruit/apple", 11, "red", 3);
	wb_batch_put(b, "fruit/banana", 12, "yellow", 6);
	wb_batch_put(b, "veg/leek", 8, "green", 5);
	rc = wb_write(db, b);
	wb_batch_free(b);
	if (rc != WB_OK)
		return fail("write", rc);

	void *val;
	size_t vlen;
	if ((rc = wb_get(db, "fruit/apple", 11, &val, &vlen)) != WB_OK)
		return fail("get", rc);
	printf("fruit/apple = %.*s\n", (int)vlen, (char *)val);
	wb_free(val);

	/* Everything under "fruit/", in key order. */
	wb_iter_options io = { .prefix = "fruit/", .prefix_len = 6 };
	wb_iter *it;
	if ((rc = wb_iter_new(db, &io, &it)) != WB_OK)
		return fail("iterator", rc);
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it)) {
		size_t klen;
		const char *k = wb_iter_key(it, &klen);
		const char *v = wb_iter_value(it, &vlen);
		printf("%.*s\t%.*s\n", (int)klen, k, (int)vlen, v);
	}
	rc = wb_iter_status(it);
	wb_iter_free(it);
	if (rc != WB_OK)
		return fail("scan", rc);
	return wb_close(db) == WB_OK ? 0 : 1;
}
