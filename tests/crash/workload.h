/*
 * workload.h -- the crash harness's writer: a fixed key space, values that
 * describe themselves, the journal of what was intended, acknowledged and
 * synced, and the loop that writes through the public API (tests/crash/,
 * used by kvcrash.c and faultcrash.c; checked by checker.h).
 *
 * Every operation gets a sequence number (seq), global across the cycles of
 * a run, and changes a known set of keys. Each value it writes names the key
 * it was written for, its seq and its length in a 32-byte header, and the
 * rest of its bytes follow from those three, so a value read back after a
 * crash is either exactly one version that some operation wrote, or damage
 * ("torn"). A batch or a transaction writes the same seq to all its keys, so
 * half of one is visible as keys disagreeing on it.
 *
 * The journal records, in order: the intent of each operation (before it
 * starts: the keys and what each will hold), its acknowledgement or its
 * error, and each completed wb_sync (which covers every acknowledged
 * operation before it). In kvcrash the writer is a child process and the
 * journal is also a file written with one write(2) per record: a SIGKILL
 * loses nothing the process wrote, so the file needs no fsync (the harness
 * never cuts the machine's power, only the process). In faultcrash the
 * journal stays in memory.
 *
 * Threads: a writer, its journal and its model belong to one thread.
 */
#ifndef WB_CRASH_WORKLOAD_H
#define WB_CRASH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wombat.h"

/* ---- the key space: kid 0 .. WL_KEYS-1 ---- */

#define WL_SINGLES 400 /* "s/NNNN": puts, deletes, moves */
#define WL_GROUPS 40   /* "g/NN/M" (M < WL_MEMBERS) plus "g/NN" in WB_KS_META */
#define WL_MEMBERS 4
#define WL_LARGE 12 /* "L/NNN": streamed values, plus "L/NNN" in WB_KS_META */

#define WL_GROUP0 WL_SINGLES
#define WL_GMETA0 (WL_GROUP0 + WL_GROUPS * WL_MEMBERS)
#define WL_LARGE0 (WL_GMETA0 + WL_GROUPS)
#define WL_LMETA0 (WL_LARGE0 + WL_LARGE)
#define WL_KEYS (WL_LMETA0 + WL_LARGE)

/* The name of key kid into buf (>= 16 bytes) and its keyspace; returns the
 * name's length. REQUIRES: kid < WL_KEYS. */
size_t wl_key(uint32_t kid, char *buf, unsigned *ks);

/* The kid of a key name in keyspace ks, or -1 when no kid has that name. */
long wl_kid(unsigned ks, const void *key, size_t klen);

/* ---- values ---- */

#define WL_HDR 32 /* header bytes; no value is shorter */

/* One version of a key: which key and operation wrote it, and its length
 * (present false: the key is absent). A value moved by wb_batch_move keeps
 * the okid of the key it was written for. */
struct wl_state {
	bool present;
	uint32_t okid;
	uint64_t vseq;
	uint64_t len;
};

bool wl_state_eq(const struct wl_state *a, const struct wl_state *b);

/* "absent" or "kid:seq:len" into buf (>= 48 bytes); returns buf. */
char *wl_state_str(const struct wl_state *s, char *buf);

/* Bytes [off, off + n) of the value v. REQUIRES: v->present, off + n <= v->len. */
void wl_value_fill(const struct wl_state *v, uint64_t off, void *buf, size_t n);

/* Reads the header of a value of len bytes (buf holds its first
 * min(len, WL_HDR) bytes). False, with *why set, when it is not a header
 * this harness wrote for a value of that length. */
bool wl_value_header(const void *buf, uint64_t len, struct wl_state *out, const char **why);

/* Compares n bytes at off of a read-back value with what v holds there.
 * Returns -1 when they agree, else the offset (within the value) of the
 * first byte that differs. */
int64_t wl_value_diff(const struct wl_state *v, uint64_t off, const void *buf, size_t n);

/* ---- the journal ---- */

#define WL_MAX_WRITES 12 /* keys one operation changes */

enum wl_op_type { WL_PUT, WL_DEL, WL_BATCH, WL_TXN, WL_STREAM, WL_MOVE, WL_OP_TYPES };

struct wl_write {
	uint32_t kid;
	struct wl_state after; /* what the key holds once the operation applied */
};

struct wl_op {
	uint64_t seq;
	int type;
	int n; /* writes */
	struct wl_write w[WL_MAX_WRITES];
	bool acked;  /* the call returned WB_OK */
	int error;   /* the call's error (0: none seen); the op may still be applied */
};

struct wl_journal {
	struct wl_op *ops; /* intents in seq order */
	size_t n, cap;
	size_t synced;  /* ops[0, synced) were acknowledged before a completed sync */
	int sync_mode;  /* of the database the ops were written to */
	bool opened;    /* the writer's wb_open returned WB_OK */
	bool closed;    /* its wb_close returned (after its last op) */
	int open_error; /* wb_open's error, 0 if none */
	char note[256]; /* the writer's last error message, if any */
	int fd;         /* the file each record also goes to, or -1 */
};

/* An empty journal writing through to fd (-1: memory only). Can't fail. */
void wl_journal_init(struct wl_journal *j, int fd);
void wl_journal_free(struct wl_journal *j); /* frees ops; leaves fd open */

/* Reads a journal file written by a writer with a journal fd. A record
 * torn by the kill (no final newline) is ignored. Returns 0, or -1 with
 * errno set when the file cannot be read or holds a malformed record. */
int wl_journal_load(struct wl_journal *j, const char *path);

/* How many ops from the first were acknowledged (the writer stops at its
 * first error, so acks are a prefix). */
size_t wl_journal_acked(const struct wl_journal *j);

/* The seq the next cycle's writer starts at: past every intent of j, or
 * prev when j has none. */
uint64_t wl_journal_next_seq(const struct wl_journal *j, uint64_t prev);

/* Name of an op type ("put", "batch", ...). */
const char *wl_op_name(int type);

/* ---- the writer ---- */

/* A read through the API that disagreed with the model: a bug, not an
 * I/O error. Outside both wombat's range and negated errno values. */
#define WL_EMISMATCH (-29000)

struct wl_writer {
	wb_db *db;
	struct wl_state *model; /* WL_KEYS entries: the state after every acknowledged op */
	struct wl_journal *j;
	uint64_t next_seq;
	uint64_t rng;
	int sync_mode; /* as opened: in WB_SYNC_ALWAYS every ack is a sync */
	bool maintenance; /* now and then wb_flush, wb_compact_range, wb_vlog_gc */
	uint64_t ops_done;
};

/* Runs operations until budget of them are acknowledged (0: until an error
 * or the process is killed). Stops at the first error: returns it (after
 * journaling it with wb_errmsg in j->note), WL_EMISMATCH when a read saw
 * something the model says cannot be there (j->note says what), or WB_OK.
 * The model follows every acknowledged op. */
int wl_run(struct wl_writer *w, uint64_t budget);

/* Journals that the writer's database opened (or failed to, rc != 0), and
 * that it closed. Kept in j and written to its fd. */
void wl_journal_opened(struct wl_journal *j, int sync_mode, int rc, const char *msg);
void wl_journal_closed(struct wl_journal *j);

/* xorshift64*; the same seed gives the same sequence. state != 0. */
uint64_t wl_rand(uint64_t *state);

#endif /* WB_CRASH_WORKLOAD_H */
