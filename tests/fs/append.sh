#!/bin/sh
# append.sh -- O_APPEND from several processes into one file that already
# holds data (1 MiB, APPEND_PREFIX_MB to change it): four writers start
# together, each appends 2 000 lines of its own (each line one write(2),
# its content a function of writer and line number):
#   w0  one descriptor, small lines, no fsync
#   w1  one descriptor, small lines, fsync every 50 lines
#   w2  open(O_APPEND) + write + close for every line, like `echo >> log`
#   w3  one descriptor, one line in 100 of 130-200 KiB (more than one FUSE
#       write request), fdatasync every 100 lines
# while a reader reads the file over and over. Afterwards, and again after
# a remount and through `wombat get`: the prefix is intact, every line is
# exactly one writer's line (none torn, none interleaved with another),
# each writer's 2 000 lines are all there once and in the order it wrote
# them, and the size is the sum. The reader must never have seen a
# complete line that was not one of them.
. "$(dirname "$0")/lib/common.sh"

LINES=${APPEND_LINES:-2000}
PREFIX_MB=${APPEND_PREFIX_MB:-1}

cat >"$T/append.py" <<'PY'
import hashlib, os, sys, time
mode, path, lines, prefix_mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
NW = 4

def prefix():
    return b"".join(b"prefix %07d %s\n" % (i, hashlib.sha256(b"%d" % i).hexdigest().encode())
                    for i in range(prefix_mb * (1 << 20) // 80))

def line(w, i):
    h = hashlib.sha256(b"%d/%d" % (w, i)).hexdigest().encode()
    n = 20 + (i * 7919 + w * 104729) % 160
    if w == 3 and i % 100 == 7:
        n = 130 * 1024 + (i * 7919) % (70 * 1024)
    body = (h * (n // 64 + 1))[:n]
    return b"w%d %06d %s\n" % (w, i, body)

def writer(w):
    if w == 2:
        for i in range(lines):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            b = line(w, i)
            if os.write(fd, b) != len(b):
                sys.exit("w2: short write at line %d" % i)
            os.close(fd)
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    for i in range(lines):
        b = line(w, i)
        if os.write(fd, b) != len(b):
            sys.exit("w%d: short write at line %d" % (w, i))
        if w == 1 and i % 50 == 49:
            os.fsync(fd)
        if w == 3 and i % 100 == 99:
            os.fdatasync(fd)
    os.close(fd)

def check_lines(data, complete_only):
    """The lines after the prefix; returns how many of each writer's."""
    pre = prefix()
    if data[:len(pre)] != pre:
        return "the prefix changed"
    rest = data[len(pre):]
    parts = rest.split(b"\n")
    tail = parts.pop()  # after the last newline
    if tail and not complete_only:
        return "the file ends in a partial line: %r" % tail[:60]
    nxt = [0] * NW
    for k, p in enumerate(parts):
        p += b"\n"
        try:
            w, i = int(p[1:2]), int(p[3:9])
        except ValueError:
            return "line %d is no writer's: %r" % (k, p[:60])
        if not 0 <= w < NW or p != line(w, i):
            return "line %d is torn or interleaved: %r" % (k, p[:60])
        if i != nxt[w]:
            return "line %d: w%d line %d where its line %d was due" % (k, w, i, nxt[w])
        nxt[w] += 1
    return nxt

if mode == "prefix":
    with open(path, "wb") as f:
        f.write(prefix())
elif mode == "run":
    flag = sys.argv[5]
    go_r, go_w = os.pipe()
    kids = []
    for w in range(NW):
        pid = os.fork()
        if pid == 0:
            os.close(go_w)
            os.read(go_r, 1)  # all start together
            try:
                writer(w)
            except OSError as e:
                print("w%d: %s" % (w, e))
                os._exit(1)
            os._exit(0)
        kids.append(pid)
    rpid = os.fork()
    if rpid == 0:
        reads = 0
        while not os.path.exists(flag):
            with open(path, "rb") as f:
                data = f.read()
            r = check_lines(data, True)
            if isinstance(r, str):
                print("reader: after %d reads: %s" % (reads, r))
                os._exit(1)
            reads += 1
            time.sleep(0.05)
        print("reader: %d reads of the growing file, every complete line right" % reads)
        os._exit(0)
    os.close(go_r)
    t0 = time.monotonic()
    os.write(go_w, b"x" * NW)
    bad = 0
    for w, pid in enumerate(kids):
        _, st = os.waitpid(pid, 0)
        if st:
            print("writer w%d failed (status %d)" % (w, st))
            bad = 1
    took = time.monotonic() - t0
    open(flag, "w").close()
    _, st = os.waitpid(rpid, 0)
    if st:
        bad = 1
    print("4 writers x %d lines in %.1fs" % (lines, took))
    sys.exit(bad)
elif mode == "check":
    with open(path, "rb") as f:
        data = f.read()
    r = check_lines(data, False)
    if isinstance(r, str):
        sys.exit(r)
    if r != [lines] * NW:
        sys.exit("lines per writer %s, want %d each" % (r, lines))
    want = len(prefix()) + sum(len(line(w, i)) for w in range(NW) for i in range(lines))
    if len(data) != want or os.stat(path).st_size != want:
        sys.exit("size %d (stat %d), want %d" % (len(data), os.stat(path).st_size, want))
    print("%d bytes: the prefix and %d lines of each writer, in order, none torn" % (want, lines))
PY

fs_mount -o create
expect 0 python3 "$T/append.py" prefix "$MNT/log" "$LINES" "$PREFIX_MB"
python3 "$T/append.py" run "$MNT/log" "$LINES" "$PREFIX_MB" "$T/stop" >"$T/run.out" 2>&1 ||
	fail "appending failed: $(cat "$T/run.out")"
cat "$T/run.out"
expect 0 python3 "$T/append.py" check "$MNT/log" "$LINES" "$PREFIX_MB"
cat "$T/out"
cp "$MNT/log" "$T/log" || fail "cp of the log out of the mount failed"
fs_umount
fs_mount
expect 0 python3 "$T/append.py" check "$MNT/log" "$LINES" "$PREFIX_MB"
same_file "$T/log" "$MNT/log"
fs_umount
"$W" "$DB" get log >"$T/got" || fail "wombat get log failed"
same_file "$T/log" "$T/got"
exit 0
