#!/usr/bin/env python3
"""sqlite_txn.py -- the SQLite workload of tests/fs/sqlite.sh (Python's
sqlite3 module; synchronous=FULL, so a commit returns only after SQLite's
fsyncs, which is what makes it durable on wombatfs too).

  sqlite_txn.py write DB MODE FIRST LAST LOG
      transactions FIRST..LAST, one each: insert row i, update the totals
      row, and every tenth one also rewrite an older row (i // 2), so that
      pages in the middle of the file change as well. MODE is the journal
      mode (delete or wal; wal with a small autocheckpoint, so that the
      database file itself is written often). After each commit returns,
      "i" is appended to LOG (on a native disk), flushed: the list of what
      the client saw committed. Stops at the first error (after a kill of
      the daemon: an I/O error) with status 3.
  sqlite_txn.py check DB MIN MAX
      opens DB (in WAL mode that replays the WAL), runs PRAGMA
      integrity_check (must be "ok"), and checks that the rows are exactly
      those of transactions 1..k for one k with MIN <= k <= MAX, each with
      its bytes, and the totals row agrees. Prints k.
"""
import hashlib, os, sqlite3, sys


def payload(i):
    h = hashlib.sha256(b"row %d" % i).digest()
    return (h * 40)[: 50 + (i * 37) % 1200]


def connect(db, mode=None):
    c = sqlite3.connect(db, timeout=30, isolation_level=None)
    c.execute("PRAGMA synchronous=FULL")
    if mode:
        got = c.execute("PRAGMA journal_mode=%s" % mode).fetchone()[0]
        if got.lower() != mode:
            sys.exit("journal_mode=%s gave %s" % (mode, got))
        if mode == "wal":
            c.execute("PRAGMA wal_autocheckpoint=50")
    return c


def write(db, mode, first, last, log):
    c = connect(db, mode)
    c.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, h TEXT NOT NULL, v BLOB NOT NULL, upd INTEGER)")
    c.execute("CREATE INDEX IF NOT EXISTS t_h ON t(h)")
    c.execute("CREATE TABLE IF NOT EXISTS totals (k INTEGER PRIMARY KEY, n INTEGER, s INTEGER)")
    c.execute("INSERT OR IGNORE INTO totals VALUES (0, 0, 0)")
    out = open(log, "a")
    i = first
    try:
        for i in range(first, last + 1):
            c.execute("BEGIN IMMEDIATE")
            v = payload(i)
            c.execute("INSERT INTO t (id, h, v) VALUES (?, ?, ?)", (i, hashlib.sha256(v).hexdigest(), v))
            c.execute("UPDATE totals SET n = n + 1, s = s + ? WHERE k = 0", (i,))
            if i % 10 == 0:
                c.execute("UPDATE t SET upd = ? WHERE id = ?", (i, i // 2))
            c.execute("COMMIT")
            out.write("%d\n" % i)
            out.flush()
        c.close()
    except (sqlite3.Error, OSError) as e:
        print("transaction %d: %s" % (i, e))
        sys.exit(3)


def check(db, lo, hi):
    c = connect(db)
    res = [r[0] for r in c.execute("PRAGMA integrity_check").fetchall()]
    if res != ["ok"]:
        sys.exit("integrity_check: %s" % res[:10])
    n, s = c.execute("SELECT n, s FROM totals WHERE k = 0").fetchone()
    rows = c.execute("SELECT id, h, v, upd FROM t ORDER BY id").fetchall()
    k = len(rows)
    if not lo <= k <= hi:
        sys.exit("%d rows, want between %d and %d" % (k, lo, hi))
    if n != k or s != k * (k + 1) // 2:
        sys.exit("totals row says n=%d s=%d; %d rows want n=%d s=%d" % (n, s, k, k, k * (k + 1) // 2))
    for j, (i, h, v, upd) in enumerate(rows, 1):
        if i != j:
            sys.exit("row %d missing (found id %d in its place)" % (j, i))
        if v != payload(i) or h != hashlib.sha256(v).hexdigest():
            sys.exit("row %d has the wrong bytes" % i)
        want = 2 * i if i % 5 == 0 and 2 * i <= k else None
        if upd != want:
            sys.exit("row %d: upd %r, want %r (%d transactions)" % (i, upd, want, k))
    # The index agrees with the table.
    m = c.execute("SELECT count(*) FROM t INDEXED BY t_h WHERE h > ''").fetchone()[0]
    if m != k:
        sys.exit("index t_h has %d entries, table %d rows" % (m, k))
    c.close()
    print(k)


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "write":
        write(a[2], a[3], int(a[4]), int(a[5]), a[6])
    elif a[1] == "check":
        check(a[2], int(a[3]), int(a[4]))
    else:
        sys.exit("usage: see the top of this file")
