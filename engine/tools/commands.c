/*
 * commands.c -- the commands of the wombat tool: put, get, del, scan, load,
 * flush, stats, verify, and the table wombat.c dispatches through (bank
 * lives in bank.c).
 *
 * Each command parses its arguments before it opens the database (a usage
 * error changes nothing), reports its own errors and returns an exit
 * status; main closes the database afterwards. Text formats (scan output,
 * load input) are one entry per line, key and value separated by a tab and
 * escaped as escape.h describes.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"

/* load commits a batch at whichever comes first: big enough batches make
 * the per-write cost (one WAL record, one group commit) vanish, and the
 * byte bound keeps a file of huge values from building one huge batch. */
#define LOAD_BATCH_KEYS 1000
#define LOAD_BATCH_BYTES (4u << 20)

/* stdin buffer for load: lines are read with getline from it. */
#define IN_BUFFER_SIZE (1 << 20)

static const struct flag no_flags[] = { { NULL, NULL, NULL } };

/* A growing byte buffer for building output lines. */
struct buf {
	char *p;
	size_t cap;
};

/* Makes b hold at least n bytes. Returns false when out of memory (b is
 * unchanged). */
static bool buf_reserve(struct buf *b, size_t n)
{
	if (n <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (p == NULL)
		return false;
	b->p = p;
	b->cap = cap;
	return true;
}

/* Reads all of stdin into a new buffer *out (free it) of *len bytes.
 * Returns EXIT_OK or EXIT_FAIL after saying why. */
#define STREAM_CHUNK (1u << 20)

/* Reads from stdin until buf (cap bytes) is full or the input ends;
 * *eof tells which. */
static int read_chunk(char *buf, size_t cap, size_t *len, bool *eof)
{
	size_t n = 0;
	*eof = false;
	while (n < cap) {
		ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cli_fail("reading stdin: %s", strerror(errno));
		if (r == 0) {
			*eof = true;
			break;
		}
		n += (size_t)r;
	}
	*len = n;
	return EXIT_OK;
}

/* A value from stdin: up to STREAM_CHUNK bytes are read before the
 * database is opened (so a slow producer of a small value does not keep it
 * locked) and stored with one put; a longer one is streamed through a
 * wb_writer, STREAM_CHUNK bytes at a time, whatever its size. */
static int put_stdin(struct cli *cli, const char *name, const char *key, size_t klen)
{
	char *buf = malloc(STREAM_CHUNK);
	if (buf == NULL)
		return cli_fail("reading stdin: out of memory");
	size_t n;
	bool eof;
	int st = read_chunk(buf, STREAM_CHUNK, &n, &eof);
	if (st == EXIT_OK)
		st = cli_open(cli, OPEN_CREATE);
	if (st == EXIT_OK && eof) {
		int rc = wb_put(cli->db, key, klen, buf, n);
		if (rc != WB_OK)
			st = cli_fail("put %s: %s", name, cli_reason(cli, rc));
	} else if (st == EXIT_OK) {
		wb_writer *w;
		int rc = wb_writer_begin(cli->db, key, klen, &w);
		while (rc == WB_OK) {
			rc = wb_writer_write(w, buf, n);
			if (rc != WB_OK || eof)
				break;
			st = read_chunk(buf, STREAM_CHUNK, &n, &eof);
			if (st != EXIT_OK)
				break;
		}
		if (rc == WB_OK && st == EXIT_OK) {
			rc = wb_writer_commit(w, NULL);
		} else if (rc == WB_OK) {
			wb_writer_abort(w); /* stdin failed: nothing stored */
		} else {
			wb_writer_abort(w);
		}
		if (rc != WB_OK)
			st = cli_fail("put %s: %s", name, cli_reason(cli, rc));
	}
	free(buf);
	return st;
}

static int cmd_put(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	char *pos[2], *key = NULL;
	size_t klen;
	int n, st = cli_args(cmd, argc, argv, no_flags, pos, 2, 2, &n);
	if (st == EXIT_OK)
		st = cli_key(cmd, "KEY", pos[0], false, &key, &klen);
	if (st != EXIT_OK)
		return st;
	if (strcmp(pos[1], "-") == 0) {
		st = put_stdin(cli, pos[0], key, klen);
	} else {
		st = cli_open(cli, OPEN_CREATE);
		if (st == EXIT_OK) {
			int rc = wb_put(cli->db, key, klen, pos[1], strlen(pos[1]));
			if (rc != WB_OK)
				st = cli_fail("put %s: %s", pos[0], cli_reason(cli, rc));
		}
	}
	free(key);
	return st;
}

/* The common start of the commands that take just KEY: parse it, open the
 * database. *name is the KEY argument as typed (for messages). */
static int key_command(struct cli *cli, const struct command *cmd, int argc, char **argv,
		       enum open_mode mode, char **name, char **key, size_t *klen)
{
	char *pos[1];
	int n, st = cli_args(cmd, argc, argv, no_flags, pos, 1, 1, &n);
	if (st == EXIT_OK) {
		*name = pos[0];
		st = cli_key(cmd, "KEY", pos[0], false, key, klen);
	}
	if (st == EXIT_OK)
		st = cli_open(cli, mode);
	return st;
}

static int cmd_get(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	char *name = NULL, *key = NULL;
	size_t klen;
	int st = key_command(cli, cmd, argc, argv, OPEN_READ, &name, &key, &klen);
	if (st == EXIT_OK) {
		/* In STREAM_CHUNK pieces: memory stays bounded whatever the size. */
		wb_key_info info;
		int rc = wb_stat_key(cli->db, key, klen, &info);
		char *buf = rc == WB_OK ? malloc(STREAM_CHUNK) : NULL;
		if (rc == WB_OK && buf == NULL)
			rc = WB_ENOMEM;
		for (uint64_t off = 0; rc == WB_OK && off < info.value_len;) {
			size_t got;
			rc = wb_get_range(cli->db, key, klen, off, buf, STREAM_CHUNK, &got);
			if (rc == WB_OK && got == 0)
				break; /* replaced by a shorter value meanwhile */
			if (rc == WB_OK && cli_write(cli, buf, got) != 0)
				break;
			off += got;
		}
		free(buf);
		if (rc == WB_ENOTFOUND)
			st = cli_fail("%s: not found", name);
		else if (rc != WB_OK)
			st = cli_fail("get %s: %s", name, cli_reason(cli, rc));
	}
	free(key);
	return st;
}

static int cmd_del(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	char *name = NULL, *key = NULL;
	size_t klen;
	int st = key_command(cli, cmd, argc, argv, OPEN_WRITE, &name, &key, &klen);
	if (st == EXIT_OK) {
		int rc = wb_delete(cli->db, key, klen);
		if (rc != WB_OK)
			st = cli_fail("del %s: %s", name, cli_reason(cli, rc));
	}
	free(key);
	return st;
}

/* Parses a decimal count (digits only). Returns false when s is not one. */
static bool parse_count(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || errno == ERANGE)
		return false;
	*out = v;
	return true;
}

static int cmd_scan(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	bool keys_only = false, reverse = false;
	const char *limit_arg = NULL;
	const struct flag flags[] = {
		{ "--keys-only", &keys_only, NULL },
		{ "--reverse", &reverse, NULL },
		{ "--limit", NULL, &limit_arg },
		{ NULL, NULL, NULL },
	};
	char *pos[1], *prefix = NULL;
	size_t plen = 0;
	uint64_t limit = UINT64_MAX;
	int n, st = cli_args(cmd, argc, argv, flags, pos, 0, 1, &n);
	if (st != EXIT_OK)
		return st;
	if (limit_arg != NULL && !parse_count(limit_arg, &limit))
		return cli_usage(cmd, "scan: --limit %s: not a count (0, 1, 2...)", limit_arg);
	if (n == 1 && (st = cli_key(cmd, "PREFIX", pos[0], true, &prefix, &plen)) != EXIT_OK)
		return st;
	if ((st = cli_open(cli, OPEN_READ)) != EXIT_OK) {
		free(prefix);
		return st;
	}

	wb_iter_options io = { 0 };
	if (plen > 0) {
		io.prefix = prefix;
		io.prefix_len = plen;
	}
	wb_iter *it;
	int rc = wb_iter_new(cli->db, &io, &it);
	if (rc != WB_OK) {
		free(prefix);
		return cli_fail("scan: %s", cli_reason(cli, rc));
	}
	if (reverse)
		wb_iter_seek_last(it);
	else
		wb_iter_seek_first(it);
	struct buf line = { 0 };
	for (uint64_t count = 0; count < limit && wb_iter_valid(it); count++) {
		size_t klen, vlen = 0;
		const void *k = wb_iter_key(it, &klen);
		const void *v = keys_only ? NULL : wb_iter_value(it, &vlen);
		if (!buf_reserve(&line, ESCAPE_BOUND(klen) + ESCAPE_BOUND(vlen) + 2)) {
			st = cli_fail("scan: out of memory for a %zu-byte value", vlen);
			break;
		}
		size_t len = escape(line.p, k, klen);
		if (!keys_only) {
			line.p[len++] = '\t';
			len += escape(line.p + len, v, vlen);
		}
		line.p[len++] = '\n';
		if (cli_write(cli, line.p, len) != 0)
			break;
		if (reverse)
			wb_iter_prev(it);
		else
			wb_iter_next(it);
	}
	rc = wb_iter_status(it);
	if (rc != WB_OK && st == EXIT_OK)
		st = cli_fail("scan: %s", cli_reason(cli, rc));
	wb_iter_free(it);
	free(line.p);
	free(prefix);
	return st;
}

/* Where load is: the batch being filled and how much is already stored. */
struct loader {
	struct cli *cli;
	wb_batch *batch;
	size_t batch_bytes;
	unsigned long long loaded; /* keys in batches already written */
};

/* "the N keys before WHAT were loaded", in good English for any N. */
static const char *keys_before(char *buf, size_t len, unsigned long long n, const char *what)
{
	if (n == 0)
		snprintf(buf, len, "no key before %s was loaded", what);
	else if (n == 1)
		snprintf(buf, len, "the 1 key before %s was loaded", what);
	else
		snprintf(buf, len, "the %llu keys before %s were loaded", n, what);
	return buf;
}

/* Writes the pending batch. Returns EXIT_OK or EXIT_FAIL after saying why. */
static int load_commit(struct loader *l)
{
	uint32_t count = wb_batch_count(l->batch);
	if (count == 0)
		return EXIT_OK;
	int rc = wb_write(l->cli->db, l->batch);
	if (rc != WB_OK) {
		char done[64];
		return cli_fail("load: %s; %s", cli_reason(l->cli, rc),
				keys_before(done, sizeof(done), l->loaded, "this batch"));
	}
	l->loaded += count;
	l->batch_bytes = 0;
	wb_batch_clear(l->batch);
	return EXIT_OK;
}

/* Decodes one input line (without its newline) into the pending batch.
 * Returns NULL, or what is wrong with the line (written to why). */
static const char *load_line(struct loader *l, char *line, size_t len, char *why, size_t whylen)
{
	char *tab = memchr(line, '\t', len);
	if (tab == NULL)
		return "no tab between key and value";
	size_t klen, vlen, bad;
	size_t kraw = (size_t)(tab - line);
	if (unescape(line, line, kraw, &klen, &bad) != 0) {
		snprintf(why, whylen, "bad escape at byte %zu (use \\\\, \\t, \\n or \\xHH)", bad + 1);
		return why;
	}
	char *value = tab + 1;
	if (unescape(value, value, len - kraw - 1, &vlen, &bad) != 0) {
		snprintf(why, whylen, "bad escape at byte %zu (use \\\\, \\t, \\n or \\xHH)",
			 kraw + 1 + bad + 1);
		return why;
	}
	if (klen == 0)
		return "empty key";
	if (klen > WB_MAX_KEY_LEN) {
		snprintf(why, whylen, "key is %zu bytes, over the limit of %u", klen, WB_MAX_KEY_LEN);
		return why;
	}
	int rc = wb_batch_put(l->batch, line, klen, value, vlen);
	if (rc != WB_OK) {
		snprintf(why, whylen, "%s", cli_reason(l->cli, rc));
		return why;
	}
	l->batch_bytes += klen + vlen;
	return NULL;
}

static int cmd_load(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	char *pos[1];
	int n, st = cli_args(cmd, argc, argv, no_flags, pos, 0, 0, &n);
	if (st == EXIT_OK)
		st = cli_open(cli, OPEN_CREATE);
	if (st != EXIT_OK)
		return st;
	struct loader l = { .cli = cli };
	if (wb_batch_new(&l.batch) != WB_OK)
		return cli_fail("load: out of memory");
	setvbuf(stdin, NULL, _IOFBF, IN_BUFFER_SIZE);

	char *line = NULL, why[160];
	size_t cap = 0;
	ssize_t got;
	unsigned long long lineno = 0;
	const char *problem = NULL;
	while (st == EXIT_OK && (got = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		size_t len = (size_t)got;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		problem = load_line(&l, line, len, why, sizeof(why));
		if (problem != NULL)
			break;
		if (wb_batch_count(l.batch) >= LOAD_BATCH_KEYS || l.batch_bytes >= LOAD_BATCH_BYTES)
			st = load_commit(&l);
	}
	int read_errno = ferror(stdin) ? errno : 0;
	free(line);
	/* Whatever stops the load, the lines before it are kept: a retry can
	 * start at the line named in the message. */
	if (st == EXIT_OK)
		st = load_commit(&l);
	wb_batch_free(l.batch);
	if (st != EXIT_OK)
		return st;
	char done[64];
	if (problem != NULL)
		return cli_fail("load: line %llu: %s; %s", lineno, problem,
				keys_before(done, sizeof(done), l.loaded, "it"));
	if (read_errno != 0)
		return cli_fail("load: reading stdin after line %llu: %s; %s", lineno,
				strerror(read_errno), keys_before(done, sizeof(done), l.loaded, "it"));
	/* Every later command would otherwise replay the whole load from the
	 * log when it opens the database (read-only opens cannot flush it). */
	if (l.loaded > 0) {
		int rc = wb_flush(cli->db);
		if (rc != WB_OK)
			return cli_fail("load: all %llu keys were loaded, but writing them to a table "
					"failed: %s", l.loaded, cli_reason(cli, rc));
	}
	char msg[64];
	int len = snprintf(msg, sizeof(msg), "loaded %llu keys\n", l.loaded);
	cli_write(cli, msg, (size_t)len);
	return EXIT_OK;
}

static int cmd_flush(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	char *pos[1];
	int n, st = cli_args(cmd, argc, argv, no_flags, pos, 0, 0, &n);
	if (st == EXIT_OK)
		st = cli_open(cli, OPEN_WRITE);
	if (st == EXIT_OK) {
		int rc = wb_flush(cli->db);
		if (rc != WB_OK)
			st = cli_fail("flush: %s", cli_reason(cli, rc));
	}
	return st;
}

/* wb_compact_range on its own thread, so the main one can show progress. */
struct compact_job {
	wb_db *db;
	char *begin, *end;
	size_t blen, elen;
	int rc;
	atomic_int done; /* set by the compacting thread when rc is final */
};

static void *compact_main(void *arg)
{
	struct compact_job *j = arg;
	j->rc = wb_compact_range(j->db, j->begin, j->blen, j->end, j->elen);
	atomic_store(&j->done, 1);
	return NULL;
}

/* A number out of the JSON statistics (0 when absent). */
static unsigned long long stat_number(wb_db *db, const char *name)
{
	char *json, key[64];
	if (wb_stats_json(db, &json) != WB_OK)
		return 0;
	snprintf(key, sizeof(key), "\"%s\":", name);
	const char *p = strstr(json, key);
	unsigned long long v = p ? strtoull(p + strlen(key), NULL, 10) : 0;
	wb_free(json);
	return v;
}

static int cmd_compact(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	char *pos[2];
	struct compact_job j = { 0 };
	int n, st = cli_args(cmd, argc, argv, no_flags, pos, 0, 2, &n);
	if (st == EXIT_OK && n >= 1)
		st = cli_key(cmd, "BEGIN", pos[0], false, &j.begin, &j.blen);
	if (st == EXIT_OK && n >= 2)
		st = cli_key(cmd, "END", pos[1], false, &j.end, &j.elen);
	if (st == EXIT_OK)
		st = cli_open(cli, OPEN_WRITE);
	if (st == EXIT_OK) {
		j.db = cli->db;
		pthread_t t;
		bool tty = isatty(STDERR_FILENO);
		if (pthread_create(&t, NULL, compact_main, &j) != 0) {
			compact_main(&j);
		} else {
			time_t start = time(NULL);
			while (!atomic_load(&j.done)) {
				struct timespec pause = { 0, 200 * 1000000 };
				nanosleep(&pause, NULL);
				if (tty)
					fprintf(stderr, "\rcompacting: %llu MiB read, %llu MiB written, %lds ",
						stat_number(cli->db, "compaction_bytes_read") >> 20,
						stat_number(cli->db, "compaction_bytes_written") >> 20,
						(long)(time(NULL) - start));
			}
			pthread_join(t, NULL);
			if (tty)
				fputc('\n', stderr);
		}
		if (j.rc != WB_OK)
			st = cli_fail("compact: %s", cli_reason(cli, j.rc));
		else
			printf("compacted: %llu bytes read, %llu bytes written\n",
			       stat_number(cli->db, "compaction_bytes_read"),
			       stat_number(cli->db, "compaction_bytes_written"));
	}
	free(j.begin);
	free(j.end);
	return st;
}

static int cmd_stats(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	bool json = false;
	const struct flag flags[] = { { "--json", &json, NULL }, { NULL, NULL, NULL } };
	char *pos[1];
	int n, st = cli_args(cmd, argc, argv, flags, pos, 0, 0, &n);
	if (st == EXIT_OK)
		st = cli_open(cli, OPEN_READ);
	if (st != EXIT_OK)
		return st;
	char *text;
	int rc = json ? wb_stats_json(cli->db, &text) : wb_stats_text(cli->db, &text);
	if (rc != WB_OK)
		return cli_fail("stats: %s", cli_reason(cli, rc));
	size_t len = strlen(text);
	if (cli_write(cli, text, len) == 0 && (len == 0 || text[len - 1] != '\n'))
		cli_write(cli, "\n", 1);
	wb_free(text);
	return EXIT_OK;
}

struct verify_progress {
	unsigned long files;
	bool show; /* stderr is a terminal */
};

static void verify_file(void *arg, const char *file)
{
	struct verify_progress *p = arg;
	p->files++;
	if (p->show)
		fprintf(stderr, "checking %s\n", file);
}

static int cmd_gc(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	char *pos[1];
	int n, st = cli_args(cmd, argc, argv, no_flags, pos, 0, 0, &n);
	if (st == EXIT_OK)
		st = cli_open(cli, OPEN_WRITE);
	if (st == EXIT_OK) {
		uint64_t reclaimed = 0;
		int rc = wb_vlog_gc(cli->db, &reclaimed);
		if (rc != WB_OK)
			return cli_fail("gc: %s", cli_reason(cli, rc));
		char msg[64];
		int len = snprintf(msg, sizeof(msg), "reclaimed %llu bytes\n", (unsigned long long)reclaimed);
		cli_write(cli, msg, (size_t)len);
	}
	return st;
}

static int cmd_verify(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	char *pos[1];
	int n, st = cli_args(cmd, argc, argv, no_flags, pos, 0, 0, &n);
	if (st == EXIT_OK)
		st = cli_open(cli, OPEN_READ);
	if (st != EXIT_OK)
		return st;
	struct verify_progress p = { .files = 0, .show = isatty(STDERR_FILENO) };
	int rc = wb_verify(cli->db, verify_file, &p);
	if (rc != WB_OK)
		return cli_fail("verify: %s", cli_reason(cli, rc));
	char msg[64];
	int len = snprintf(msg, sizeof(msg), "ok: %lu files checked\n", p.files);
	cli_write(cli, msg, (size_t)len);
	return EXIT_OK;
}

static void repair_line(void *arg, int dropped, const char *what)
{
	struct cli *cli = arg;
	char line[1024];
	int len = snprintf(line, sizeof(line), "%s: %s\n", dropped ? "dropped" : "note", what);
	if (len > (int)sizeof(line) - 1)
		len = (int)sizeof(line) - 1;
	cli_write(cli, line, (size_t)len);
}

static int cmd_repair(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	char *pos[1];
	int n, st = cli_args(cmd, argc, argv, no_flags, pos, 0, 0, &n);
	if (st != EXIT_OK)
		return st;
	uint64_t dropped = 0;
	int rc = wb_repair(cli->dir, &cli->opts, repair_line, cli, &dropped);
	if (rc != WB_OK)
		return cli_fail("repair: %s", cli_reason(cli, rc));
	char msg[96];
	int len = snprintf(msg, sizeof(msg), "repaired: %llu thing%s dropped\n", (unsigned long long)dropped,
			   dropped == 1 ? "" : "s");
	cli_write(cli, msg, (size_t)len);
	return EXIT_OK;
}

const struct command commands[] = {
	{ "put", cmd_put, "KEY VALUE", "store VALUE under KEY (VALUE -: read it from stdin)",
	  "Replaces any value KEY had. VALUE is stored byte for byte as given; VALUE\n"
	  "\"-\" reads the value from standard input instead (any bytes, NULs included,\n"
	  "any size: past 1 MiB it is streamed into the value log with bounded\n"
	  "memory). KEY is unescaped (see wombat --help). Creates the database when\n"
	  "it is missing.\n" },
	{ "get", cmd_get, "KEY", "write KEY's value to stdout",
	  "Writes the value of KEY to standard output exactly as stored (read in 1 MiB\n"
	  "pieces, so memory stays bounded whatever its size): no newline is\n"
	  "added and nothing is escaped. KEY is unescaped (see wombat --help). A missing\n"
	  "key prints \"wombat: KEY: not found\" on stderr and exits 1.\n" },
	{ "del", cmd_del, "KEY", "remove KEY",
	  "Removes KEY. Removing a key that does not exist is not an error. KEY is\n"
	  "unescaped (see wombat --help).\n" },
	{ "scan", cmd_scan, "[PREFIX] [--keys-only] [--limit N] [--reverse]",
	  "list entries in key order",
	  "Prints one line per entry, in byte order of the keys: KEY, a tab, VALUE\n"
	  "and a newline, both escaped (see wombat --help), so the output can be fed\n"
	  "back to load.\n"
	  "  PREFIX        only keys starting with PREFIX (unescaped like a key)\n"
	  "  --keys-only   print only the keys\n"
	  "  --limit N     stop after N entries\n"
	  "  --reverse     from the last key to the first\n"
	  "The entries come from one snapshot of the database.\n" },
	{ "load", cmd_load, "", "store KEY<TAB>VALUE lines read from stdin",
	  "Reads lines of the form KEY, a tab, VALUE, escaped as scan prints them (see\n"
	  "wombat --help), from standard input and stores them in atomic batches of\n"
	  "1000. A line is split at its first tab; a missing final newline is fine.\n"
	  "Later lines for the same key win. At the end the keys are flushed to a\n"
	  "table (so later commands need not replay them from the log) and \"loaded\n"
	  "N keys\" is printed.\n"
	  "A malformed line (no tab, bad escape, empty key) stops the load with an\n"
	  "error naming its line number and exit status 1; every line before it is\n"
	  "stored. Creates the database when it is missing.\n" },
	{ "flush", cmd_flush, "", "write the memtable to an SSTable now",
	  "Writes the keys held in memory to a new level-0 table and waits until it\n"
	  "is on disk.\n" },
	{ "compact", cmd_compact, "[BEGIN [END]]", "compact the tree now",
	  "Flushes the memtable, then merges every table holding keys from BEGIN to\n"
	  "END (both inclusive; all keys when omitted) down into one level, dropping\n"
	  "overwritten versions and deleted keys. Shows progress on a terminal and\n"
	  "prints the bytes read and written.\n" },
	{ "stats", cmd_stats, "[--json]", "print statistics",
	  "Prints the files and bytes per level, memtable usage and the engine's\n"
	  "counters (for this process) as text, or with --json as one JSON object.\n" },
	{ "gc", cmd_gc, "", "reclaim value-log space now",
	  "Runs one pass of value-log space reclaim: every sealed value-log segment\n"
	  "whose obsolete share is at least vlog_gc_ratio has its live values\n"
	  "rewritten and is deleted. Prints \"reclaimed N bytes\".\n" },
	{ "verify", cmd_verify, "", "check every checksum in the database",
	  "Reads every table and log file and checks every checksum. Prints \"ok: N\n"
	  "files checked\", or exits 1 with a message naming the first damaged file\n"
	  "and the offset in it. Lists each file on stderr when stderr is a terminal.\n" },
	{ "repair", cmd_repair, "", "salvage a database that open refuses as damaged",
	  "Run this only after a command failed with \"corruption detected\" and you\n"
	  "have read which file was damaged (copy DBDIR first if you can). Keeps every\n"
	  "write that checks out and drops the rest, printing one line \"dropped: ...\"\n"
	  "for each thing dropped: a damaged stretch of a log, a batch whose value is\n"
	  "damaged (all of it, as it was written), a key whose value is damaged (the\n"
	  "key is deleted), a missing table or value-log file; \"note: ...\" lines say\n"
	  "what else it did (a damaged value-log file emptied into new ones). Ends\n"
	  "with \"repaired: N things dropped\"; the database then opens normally.\n"
	  "Tables with a damaged block are reported and kept: reads of the keys in\n"
	  "that block still fail. A damaged MANIFEST or CURRENT is not rebuilt.\n"
	  "Nothing runs a repair on its own.\n" },
	{ "bank", cmd_bank, "[--accounts N] [--threads T] [--seconds S] [--isolation ssi|si]",
	  "transfer money in transactions and check the total never changes",
	  "Replaces the keys starting with bank/ by N accounts (default 100) holding\n"
	  "1000 each, then for S seconds (default 5) T threads (default 4) move random\n"
	  "amounts between random accounts, one transaction per transfer (retried on\n"
	  "conflict), while a checker thread sums every balance in read-only\n"
	  "transactions. --isolation picks serializable (ssi, the default) or snapshot\n"
	  "isolation (si). Prints the transfers, conflicts, retries and checks, then\n"
	  "\"invariant held\", or \"invariant VIOLATED\" with the first bad check and\n"
	  "exit status 1. Creates the database when it is missing.\n" },
	{ NULL, NULL, NULL, NULL, NULL },
};
