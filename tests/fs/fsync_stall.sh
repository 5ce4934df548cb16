#!/bin/sh
# fsync_stall.sh -- the commit of a big file holds up no one else: while
# one client writes a 1 GiB file and fsyncs or closes it, another creates
# files in a different directory, and some of those creates must both
# start and finish inside the fsync (or close), however slow the disk.
# The file is written front to back and then rewritten at its start, so
# it is spilled to a temporary file and its commit copies 1 GiB into the
# value log (the fsync then syncs it too). No time limits: only that the
# creates went on while the big commit was in flight. (A file only ever
# written front to back is streamed as it is written, and its fsync is
# too quick here to tell a lock held across the sync from none.)
. "$(dirname "$0")/lib/common.sh"

NEED=5 # creates that must fit inside the big commit

cat >"$T/stall.py" <<'PY'
import os, sys, threading, time
mnt, mode, need = sys.argv[1], sys.argv[2], int(sys.argv[3])
big = os.path.join(mnt, "big", mode)
other = os.path.join(mnt, "other", mode)
os.mkdir(other)
chunk = bytes(range(256)) * 4096  # 1 MiB
window = {}

def writer():
    try:
        fd = os.open(big, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        for _ in range(1024):
            os.write(fd, chunk)
        os.pwrite(fd, b"x", 0)  # not front to back any more: spilled
        window["start"] = time.monotonic()
        if mode == "fsync":
            os.fsync(fd)
            window["end"] = time.monotonic()
            os.close(fd)
        else:
            os.close(fd)  # the commit happens here
            window["end"] = time.monotonic()
    except OSError as e:
        window["error"] = e

t = threading.Thread(target=writer)
t.start()
done = []  # (began, finished) of every create
i = 0
while t.is_alive():
    began = time.monotonic()
    fd = os.open(os.path.join(other, "f%d" % i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.close(fd)
    done.append((began, time.monotonic()))
    i += 1
    if "start" not in window:
        time.sleep(0.002)  # no need to hurry before the commit starts
t.join()
if "error" in window:
    sys.exit("the big file's %s failed: %s" % (mode, window["error"]))
s, e = window["start"], window["end"]
inside = sum(1 for b, f in done if b >= s and f <= e)
print("%s of 1 GiB took %.2fs; %d of %d creates started and ended inside it"
      % (mode, e - s, inside, len(done)))
if inside < need:
    sys.exit("only %d creates (want at least %d) ran while the %s of the big file was in flight"
             % (inside, need, mode))
if len(os.listdir(other)) != len(done):
    sys.exit("%d files in %s, %d created" % (len(os.listdir(other)), other, len(done)))
PY

fs_mount -o create
mkdir "$MNT/big" "$MNT/other" || fail "mkdir"
for mode in fsync close; do
	expect 0 python3 "$T/stall.py" "$MNT" $mode $NEED
	cat "$T/out"
	eq "size of big/$mode" 1073741824 "$(stat -c %s "$MNT/big/$mode")"
	eq "first byte of big/$mode" x "$(head -c 1 "$MNT/big/$mode")"
done
fs_umount
fs_mount
for mode in fsync close; do
	eq "size of big/$mode after a remount" 1073741824 "$(stat -c %s "$MNT/big/$mode")"
	eq "first byte of big/$mode after a remount" x "$(head -c 1 "$MNT/big/$mode")"
done
fs_umount
