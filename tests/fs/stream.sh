#!/bin/sh
# stream.sh -- a file written front to back past the in-memory buffer goes
# straight into the value log; everything that breaks "front to back"
# must still give the right bytes: reading it back while it is being
# written, seeking back and overwriting, truncating, extending with a hole,
# renaming it while open, unlinking it while open, and several handles.
# Each case is compared with the same operations on a file in /tmp.
. "$(dirname "$0")/lib/common.sh"

fs_mount -o create
mkdir "$T/ref"
python3 - "$MNT" "$T/ref" <<'PY' || fail "stream cases failed"
import os, sys, hashlib
mnt, ref = sys.argv[1], sys.argv[2]
MB = 1 << 20
block = os.urandom(MB)

def run(name, steps, final_name=None):
    """Runs steps(fd, path) on both files; compares the results."""
    for root in (ref, mnt):
        p = os.path.join(root, name)
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        steps(fd, root)
        os.close(fd)
    fn = final_name or name
    a = open(os.path.join(ref, fn), 'rb').read()
    b = open(os.path.join(mnt, fn), 'rb').read()
    if a != b:
        print(f"{name}: mount has {len(b)} bytes differing from the reference ({len(a)})")
        sys.exit(1)

def seq(fd, n, start=0):
    for i in range(n):
        os.pwrite(fd, block, (start + i) * MB)

def read_back(fd, root):
    seq(fd, 24)
    got = os.pread(fd, 3 * MB, 20 * MB - 5)  # across the streamed part
    assert got == (block[-5:] + block * 3)[:3 * MB], "read back while streaming"
    seq(fd, 8, 24)
run("readback", read_back)

def overwrite(fd, root):
    seq(fd, 30)
    os.pwrite(fd, b"X" * 1000, 17 * MB + 3)  # back into the streamed part
    seq(fd, 2, 30)
run("overwrite", overwrite)

def truncate(fd, root):
    seq(fd, 25)
    os.ftruncate(fd, 21 * MB + 7)
    os.pwrite(fd, b"tail", 21 * MB + 7)
run("truncate", truncate)

def hole(fd, root):
    seq(fd, 20)
    os.pwrite(fd, b"after a hole", 40 * MB)
run("hole", hole)

def rename_open(fd, root):
    seq(fd, 20)
    os.rename(os.path.join(root, "ren"), os.path.join(root, "ren2"))
    seq(fd, 5, 20)
run("ren", rename_open, final_name="ren2")

def fsync_mid(fd, root):
    seq(fd, 20)
    os.fsync(fd)
    seq(fd, 3, 20)
run("fsync", fsync_mid)

# Unlinked while open and streaming: still readable through the handle.
p = os.path.join(mnt, "gone")
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
seq(fd, 20)
os.unlink(p)
assert os.pread(fd, 16, 19 * MB) == block[:16], "unlinked streaming file"
os.close(fd)
assert not os.path.exists(p)

# Two handles: one streams, the other reads.
p = os.path.join(mnt, "two")
w = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
r = os.open(p, os.O_RDONLY)
seq(w, 20)
assert os.pread(r, 10, 18 * MB) == block[:10], "second handle reading a stream"
os.close(w)
os.close(r)
assert hashlib.sha256(open(p, 'rb').read()).digest() == hashlib.sha256(block * 20).digest()
PY
fs_umount
fs_mount
for f in readback overwrite truncate hole ren2 fsync two; do
	cmp -s "$T/ref/$f" "$MNT/$f" 2>/dev/null || [ "$f" = two ] || fail "$f differs after remount"
done
absent "$MNT/gone"
absent "$MNT/ren"
exit 0
