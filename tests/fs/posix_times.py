# posix_times.py MOUNT -- the times and counts ext4 keeps, checked on a
# wombatfs mount (tests/fs/inodes.sh runs it):
#   - a directory's mtime and ctime move when an entry is added, removed or
#     renamed in it (create, mkdir, mknod, mkfifo, symlink, link, unlink,
#     rmdir, rename -- both directories), and not when a file in it is
#     written;
#   - a file's ctime moves on chmod, chown, link, unlink of another name,
#     rename, truncate and write, and its mtime on truncate and write, also
#     seen before the file is closed;
#   - a directory's st_nlink is 2 plus its subdirectories, through mkdir,
#     rmdir and renames between directories;
#   - a new file at the name of one renamed away gets a new inode number
#     (what `tail -F` and log rotation rely on);
#   - mknod keeps a device's major and minor.
# Prints one line per failed check and exits 1 if any failed.
import os
import stat
import sys
import time

root = sys.argv[1]
failures = []


def check(what, ok):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def p(*names):
    return os.path.join(root, *names)


def times(path):
    st = os.lstat(path)
    return st.st_mtime_ns, st.st_ctime_ns


def moves(what, dirs, action, mtime=True):
    """Runs action; checks each path in dirs got a later ctime (and mtime)."""
    before = {d: times(d) for d in dirs}
    time.sleep(0.02)
    action()
    for d in dirs:
        m, c = times(d)
        check("%s: ctime of %s moves" % (what, d), c > before[d][1])
        if mtime:
            check("%s: mtime of %s moves" % (what, d), m > before[d][0])


def stays(what, path, action):
    before = times(path)
    time.sleep(0.02)
    action()
    check("%s: times of %s stay" % (what, path), times(path) == before)


os.mkdir(p("d"))
os.mkdir(p("e"))
D, E = p("d"), p("e")


def create():
    with open(p("d", "f"), "w") as f:
        f.write("x")


moves("create", [D], create)
moves("mkdir", [D], lambda: os.mkdir(p("d", "sub")))
moves("mkfifo", [D], lambda: os.mkfifo(p("d", "fifo")))
moves("mknod", [D], lambda: os.mknod(p("d", "node"), stat.S_IFREG | 0o644))
moves("symlink", [D], lambda: os.symlink("f", p("d", "sym")))
moves("link", [D], lambda: os.link(p("d", "f"), p("d", "f2")))
moves("unlink", [D], lambda: os.unlink(p("d", "f2")))
moves("rename within", [D], lambda: os.rename(p("d", "fifo"), p("d", "fifo2")))
moves("rename across", [D, E], lambda: os.rename(p("d", "fifo2"), p("e", "fifo")))
moves("rmdir", [D], lambda: os.rmdir(p("d", "sub")))


def write_in_place():
    with open(p("d", "f"), "r+") as f:
        f.write("y")


stays("write to a file in it", D, write_in_place)

# A file's own times.
F = p("d", "f")
moves("chmod", [F], lambda: os.chmod(F, 0o600), mtime=False)
moves("chown", [F], lambda: os.chown(F, os.getuid(), os.getgid()), mtime=False)
moves("link", [F], lambda: os.link(F, p("d", "f3")), mtime=False)
moves("unlink of another name", [F], lambda: os.unlink(p("d", "f3")), mtime=False)
before = times(F)
time.sleep(0.02)
os.rename(F, p("d", "g"))
F = p("d", "g")
check("rename: ctime of the file moves", times(F)[1] > before[1])
check("rename: mtime of the file stays", times(F)[0] == before[0])
moves("truncate", [F], lambda: os.truncate(F, 100))

fd = os.open(F, os.O_RDWR)
before = os.fstat(fd)
time.sleep(0.02)
os.pwrite(fd, b"z", 10)
during = os.fstat(fd)  # before any close: the write's time already shows
check("write: mtime moves before close", during.st_mtime_ns > before.st_mtime_ns)
check("write: ctime moves before close", during.st_ctime_ns > before.st_ctime_ns)
time.sleep(0.02)
os.ftruncate(fd, 50)
after = os.fstat(fd)
check("ftruncate: mtime moves", after.st_mtime_ns > during.st_mtime_ns)
os.close(fd)
closed = os.stat(F)
check("close keeps the last change's mtime (%d, %d)" % (closed.st_mtime_ns, after.st_mtime_ns),
      closed.st_mtime_ns == after.st_mtime_ns)

# Directory link counts.
X = p("x")
os.mkdir(X)
check("new directory: nlink 2", os.stat(X).st_nlink == 2)
for s in ("a", "b", "c"):
    os.mkdir(p("x", s))
with open(p("x", "file"), "w"):
    pass
check("three subdirectories: nlink 5", os.stat(X).st_nlink == 5)
os.rmdir(p("x", "c"))
check("after rmdir: nlink 4", os.stat(X).st_nlink == 4)
os.rename(p("x", "b"), p("e", "b"))
check("subdirectory moved out: nlink 3", os.stat(X).st_nlink == 3)
check("the other directory counts it: nlink 3", os.stat(E).st_nlink == 3)
os.rename(p("e", "b"), p("x", "a2"))
check("moved back: nlink 4", os.stat(X).st_nlink == 4)
os.mkdir(p("e", "empty"))
os.rename(p("x", "a2"), p("e", "empty"))  # onto an empty directory
check("replacing a directory: nlink of x 3", os.stat(X).st_nlink == 3)
check("replacing a directory: nlink of e 3", os.stat(E).st_nlink == 3)

# Log rotation: a new file at an old name is a new inode.
L = p("app.log")
with open(L, "w") as f:
    f.write("old\n")
old_ino = os.stat(L).st_ino
os.rename(L, p("app.log.1"))
check("renamed file keeps its number", os.stat(p("app.log.1")).st_ino == old_ino)
with open(L, "w") as f:
    f.write("new\n")
check("new file at the old name: a new number", os.stat(L).st_ino != old_ino)

# Devices keep major and minor.
os.mknod(p("blk"), stat.S_IFBLK | 0o600, os.makedev(8, 3))
os.mknod(p("chr"), stat.S_IFCHR | 0o600, os.makedev(4, 5))
for name, kind, maj, mnr in (("blk", stat.S_ISBLK, 8, 3), ("chr", stat.S_ISCHR, 4, 5)):
    st = os.lstat(p(name))
    check("%s: type" % name, kind(st.st_mode))
    check("%s: %d,%d" % (name, maj, mnr), (os.major(st.st_rdev), os.minor(st.st_rdev)) == (maj, mnr))

sys.exit(1 if failures else 0)
