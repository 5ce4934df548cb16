#!/usr/bin/env python3
"""randio.py -- random file I/O on a real mount against an in-memory model,
checked byte for byte. tests/fs/randio.sh runs it in phases with an
unmount and a remount between them; it is not meant to be run by hand
except to reproduce a failure (the failure message prints the command).

  randio.py MNT STATE SEED PHASE OPS [WANT]

Works in MNT/s<SEED>. STATE holds the model between phases (a pickle of
name -> bytes). Phase 0 starts from nothing; a later phase first checks
that every file the model knows is on the mount with exactly its bytes,
that nothing else is, and reads each through several descriptors at once
(the mount was remounted in between). Then OPS random operations, each
checked against the model as it goes:

  open (O_RDWR | O_CREAT, sometimes O_TRUNC or O_APPEND, several per file),
  close, reopen (every descriptor of a file closed, a new one opened, the
  whole file read back), pwrite at any offset (inside, at the end, or past
  it: the gap is a hole that must read as zeros), write through O_APPEND,
  pread (inside, across and past the end), truncate(2) and ftruncate(2)
  (shrink and grow), fsync, fstat/stat sizes, rename (to a free name or
  over a file nobody holds open; the old name must then be ENOENT), unlink
  of an open file (its descriptors still read and write it), mmap reads,
  and MAP_SHARED writes followed by msync, then read back through another
  descriptor.

At the end of the phase every descriptor is closed, every file is read
back whole, and STATE is written; with WANT, the model's files are also
written under WANT/<name> so that the caller can compare them with
`wombat DBDIR get` after unmounting.

The files named big* ("big", "bigger") may grow to RANDIO_MAX_MB (default
64) MiB, the others to a sixteenth of that (at least 1 MiB); a big file's
first write is a single byte in the top half, so it is mostly a hole. Today every fsync and
close of a written file rewrites the whole file, so the sizes and the op
counts are what bound the runtime.

RANDIO_STRICT=1 also renames over files that have open descriptors (the
descriptors must go on reading the replaced file, as after unlink); the
default run avoids that case because the current wombatfs fails it (the
descriptor reads the new file, fstat is ENOENT): see randio.sh.
"""
import collections, errno, mmap, os, pickle, random, stat, sys, time

PAGE = mmap.ALLOCATIONGRANULARITY
MB = 1 << 20


class Fail(Exception):
    pass


class File:
    """One file's contents in the model; descriptors point at it, names too."""
    n = 0

    def __init__(self, data=b""):
        self.data = bytearray(data)
        File.n += 1
        self.id = File.n


def main():
    mnt, state = sys.argv[1], sys.argv[2]
    seed, phase, nops = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    want_dir = sys.argv[6] if len(sys.argv) > 6 else None
    max_mb = int(os.environ.get("RANDIO_MAX_MB", "64"))
    strict = os.environ.get("RANDIO_STRICT", "0") == "1"
    r = Run(mnt, state, seed, phase, nops, max_mb, strict)
    try:
        r.run()
        if want_dir:
            r.write_want(want_dir)
    except Fail as e:
        print("FAIL seed %d phase %d op %d: %s" % (seed, phase, r.opno, e))
        print("last operations (newest last):")
        for line in r.trace:
            print("   ", line)
        print("reproduce: RANDIO_MAX_MB=%d RANDIO_STRICT=%d python3 %s %s %s %d %d %d"
              " (on a mount in the state the earlier phases left)"
              % (max_mb, strict, sys.argv[0], mnt, state, seed, phase, nops))
        sys.exit(1)
    print("randio seed %d phase %d: %d ops in %.1fs, %.1f MB written, largest file %.1f MiB, %s"
          % (seed, phase, nops, time.monotonic() - r.t0, r.written / 1e6, r.largest / MB,
             " ".join("%s=%d" % kv for kv in sorted(r.counts.items()))))


class Run:
    def __init__(self, mnt, state, seed, phase, nops, max_mb, strict):
        self.root = os.path.join(mnt, "s%d" % seed)
        self.state, self.seed, self.phase, self.nops = state, seed, phase, nops
        self.strict = strict
        self.rng = random.Random(seed * 1000 + phase)
        self.big_max = max_mb * MB
        self.small_max = max(MB, self.big_max // 16)
        self.names = {}  # name -> File
        self.fds = {}  # fd -> [File, flags, name it was opened by]
        self.trace = collections.deque(maxlen=60)
        self.counts = collections.Counter()
        self.opno = -1
        self.written = 0
        self.largest = 0
        self.t0 = time.monotonic()
        self.pool = ["big", "bigger", "f0", "f1", "f2", "f3", "sub/g0", "sub/g1", "sub/deeper/h0"]

    # ---- helpers ----
    def path(self, name):
        return os.path.join(self.root, name)

    def log(self, s):
        self.trace.append("#%d %s" % (self.opno, s))

    def cap(self, name):
        return self.big_max if name.startswith("big") else self.small_max

    def compare(self, what, got, want, base=0):
        if got == want:
            return
        n = min(len(got), len(want))
        i = next((k for k in range(n) if got[k] != want[k]), n)
        raise Fail("%s: got %d bytes, want %d; first difference at offset %d (got %r, want %r)"
                   % (what, len(got), len(want), base + i, bytes(got[i:i + 8]), bytes(want[i:i + 8])))

    def check_size(self, fd, f, what):
        st = os.fstat(fd)
        if st.st_size != len(f.data):
            raise Fail("%s: fstat size %d, want %d" % (what, st.st_size, len(f.data)))

    def check_name_size(self, name):
        try:
            st = os.stat(self.path(name))
        except OSError as e:
            raise Fail("stat %s: %s" % (name, e))
        if st.st_size != len(self.names[name].data):
            raise Fail("stat %s: size %d, want %d" % (name, st.st_size, len(self.names[name].data)))

    def read_whole(self, fd):
        out = bytearray()
        off = 0
        while True:
            b = os.pread(fd, 4 * MB, off)
            if not b:
                return out
            out += b
            off += len(b)

    def check_whole(self, name, what):
        f = self.names[name]
        fd = os.open(self.path(name), os.O_RDONLY)
        try:
            self.check_size(fd, f, what + " " + name)
            self.compare("%s: read of %s" % (what, name), self.read_whole(fd), f.data)
        finally:
            os.close(fd)

    def check_many_fds(self, name, k=3):
        """k descriptors on one file, each reading its own part, interleaved."""
        f = self.names[name]
        size = len(f.data)
        fds = [os.open(self.path(name), os.O_RDONLY) for _ in range(k)]
        try:
            part = -(-size // k) if size else 0
            chunk = max(4096, min(MB, part // 4 + 1))
            pos = [i * part for i in range(k)]
            ends = [min(size, (i + 1) * part) for i in range(k)]
            busy = True
            while busy:
                busy = False
                for i, fd in enumerate(fds):
                    if pos[i] >= ends[i]:
                        continue
                    busy = True
                    n = min(chunk, ends[i] - pos[i])
                    got = os.pread(fd, n, pos[i])
                    self.compare("%d descriptors at once on %s, descriptor %d" % (k, name, i),
                                 got, f.data[pos[i]:pos[i] + n], pos[i])
                    pos[i] += n
            for fd in fds:  # and past the end: nothing
                if os.pread(fd, 10, size) != b"":
                    raise Fail("read at the end of %s gave bytes" % name)
        finally:
            for fd in fds:
                os.close(fd)

    def listing(self):
        found = set()
        for dirpath, dirs, files in os.walk(self.root):
            for fn in files:
                found.add(os.path.relpath(os.path.join(dirpath, fn), self.root))
        return found

    def check_all(self, what):
        found = self.listing()
        if found != set(self.names):
            raise Fail("%s: files on the mount %s, want %s" % (what, sorted(found), sorted(self.names)))
        for name in sorted(self.names):
            self.check_name_size(name)
            self.check_many_fds(name)

    def data(self, n):
        self.written += n
        return self.rng.randbytes(n)

    def length(self, limit):
        """A write or read length: mostly small, sometimes big."""
        x = self.rng.random()
        if x < 0.5:
            n = self.rng.randint(1, 200)
        elif x < 0.85:
            n = self.rng.randint(1, 16384)
        else:
            n = self.rng.randint(1, MB)
        return max(0, min(n, limit))

    def offset(self, f, cap):
        """Inside, at the end, or past the end (a hole)."""
        size = len(f.data)
        x = self.rng.random()
        if x < 0.55 and size:
            off = self.rng.randrange(size)
        elif x < 0.8:
            off = size
        elif x < 0.9:
            off = size + self.rng.randint(1, 70000)
        else:
            off = self.rng.randrange(cap)
        if self.rng.random() < 0.3:
            off -= off % 4096  # page aligned now and then
        return min(off, cap - 1)

    def open_fd(self, name, flags, why):
        fd = os.open(self.path(name), flags, 0o644)
        if name not in self.names:
            self.names[name] = File()
        f = self.names[name]
        if flags & os.O_TRUNC:
            del f.data[:]
        self.fds[fd] = [f, flags, name]
        self.log("%s %s flags=%#o -> fd %d (file #%d)" % (why, name, flags, fd, f.id))
        self.check_size(fd, f, "%s %s" % (why, name))
        return fd

    def close_fd(self, fd):
        f, flags, name = self.fds.pop(fd)
        self.log("close fd %d (%s)" % (fd, name))
        os.close(fd)

    def writable(self):
        return [fd for fd, (f, fl, n) in self.fds.items() if fl & os.O_ACCMODE == os.O_RDWR]

    def grew(self, f):
        self.largest = max(self.largest, len(f.data))

    def note_name_cap(self, fd):
        # The cap is the one of the name the descriptor was opened by.
        return self.cap(self.fds[fd][2])

    # ---- operations ----
    def op_open(self):
        if len(self.fds) >= 10:
            return self.op_close()
        name = self.rng.choice(self.pool)
        flags = os.O_RDWR | os.O_CREAT
        x = self.rng.random()
        if x < 0.08:
            flags |= os.O_TRUNC
        elif x < 0.2:
            flags |= os.O_APPEND
        elif x < 0.3 and name in self.names:
            flags = os.O_RDONLY
        os.makedirs(os.path.dirname(self.path(name)), exist_ok=True)
        fd = self.open_fd(name, flags, "open")
        if name.startswith("big") and len(self.names[name].data) == 0 and flags & os.O_ACCMODE == os.O_RDWR \
                and not flags & os.O_APPEND:
            # Mostly a hole: one byte near the top.
            f = self.names[name]
            off = self.rng.randrange(self.big_max // 2, self.big_max)
            os.pwrite(fd, b"\xa5", off)
            f.data.extend(bytes(off))
            f.data.append(0xa5)
            self.grew(f)
            self.log("pwrite fd %d off %d len 1 (big's hole)" % (fd, off))

    def op_close(self):
        if not self.fds:
            return self.op_open()
        self.close_fd(self.rng.choice(list(self.fds)))

    def op_reopen(self):
        if not self.names:
            return self.op_open()
        name = self.rng.choice(sorted(self.names))
        f = self.names[name]
        for fd in [fd for fd, v in self.fds.items() if v[0] is f]:
            self.close_fd(fd)
        fd = self.open_fd(name, os.O_RDWR, "reopen")
        self.compare("reopen %s: whole file" % name, self.read_whole(fd), f.data)

    def op_pwrite(self):
        fds = [fd for fd in self.writable() if not self.fds[fd][1] & os.O_APPEND]
        if not fds:
            return self.op_open()
        fd = self.rng.choice(fds)
        f = self.fds[fd][0]
        cap = self.note_name_cap(fd)
        off = self.offset(f, cap)
        n = self.length(cap - off)
        if n == 0:
            return
        buf = self.data(n)
        self.log("pwrite fd %d off %d len %d (size %d)" % (fd, off, n, len(f.data)))
        w = os.pwrite(fd, buf, off)
        if w != n:
            raise Fail("pwrite of %d bytes at %d wrote %d" % (n, off, w))
        if off > len(f.data):
            f.data.extend(bytes(off - len(f.data)))
        f.data[off:off + n] = buf
        self.grew(f)
        if self.rng.random() < 0.3:
            self.check_size(fd, f, "after pwrite")

    def op_append(self):
        fds = [fd for fd in self.writable() if self.fds[fd][1] & os.O_APPEND]
        if not fds:
            return self.op_open()
        fd = self.rng.choice(fds)
        f = self.fds[fd][0]
        n = self.length(self.note_name_cap(fd) - len(f.data))
        if n == 0:
            return
        buf = self.data(n)
        self.log("append fd %d len %d (size %d)" % (fd, n, len(f.data)))
        w = os.write(fd, buf)
        if w != n:
            raise Fail("append of %d bytes wrote %d" % (n, w))
        f.data += buf
        self.grew(f)
        self.check_size(fd, f, "after append")

    def op_pread(self):
        if not self.fds:
            return self.op_open()
        fd = self.rng.choice(list(self.fds))
        f = self.fds[fd][0]
        size = len(f.data)
        x = self.rng.random()
        if x < 0.8 and size:
            off = self.rng.randrange(size)
        elif x < 0.9:
            off = max(0, size - self.rng.randint(0, 300))  # across the end
        else:
            off = size + self.rng.randint(0, 5000)  # past it
        n = self.length(8 * MB) or 1
        self.log("pread fd %d off %d len %d (size %d)" % (fd, off, n, size))
        got = os.pread(fd, n, off)
        self.compare("pread fd %d off %d len %d" % (fd, off, n), got, f.data[off:off + n], off)

    def new_size(self, f, cap):
        size = len(f.data)
        x = self.rng.random()
        if x < 0.4:
            return self.rng.randint(0, size)  # shrink
        if x < 0.5:
            return 0
        if x < 0.8:
            return min(cap, size + self.rng.randint(1, 100000))  # grow a little
        return self.rng.randint(0, cap)

    def set_size(self, f, n):
        if n < len(f.data):
            del f.data[n:]
        else:
            f.data.extend(bytes(n - len(f.data)))
        self.grew(f)

    def op_ftruncate(self):
        fds = self.writable()
        if not fds:
            return self.op_open()
        fd = self.rng.choice(fds)
        f = self.fds[fd][0]
        n = self.new_size(f, self.note_name_cap(fd))
        self.log("ftruncate fd %d to %d (size %d)" % (fd, n, len(f.data)))
        os.ftruncate(fd, n)
        self.set_size(f, n)
        self.check_size(fd, f, "after ftruncate")

    def op_truncate(self):
        if not self.names:
            return self.op_open()
        name = self.rng.choice(sorted(self.names))
        f = self.names[name]
        n = self.new_size(f, self.cap(name))
        self.log("truncate %s to %d (size %d)" % (name, n, len(f.data)))
        os.truncate(self.path(name), n)
        self.set_size(f, n)
        self.check_name_size(name)

    def op_fsync(self):
        fds = self.writable()
        if not fds:
            return self.op_open()
        fd = self.rng.choice(fds)
        self.log("fsync fd %d (%s)" % (fd, self.fds[fd][2]))
        os.fsync(fd)
        if self.rng.random() < 0.3:
            os.fdatasync(fd)

    def open_count(self, f):
        return sum(1 for v in self.fds.values() if v[0] is f)

    def op_rename(self):
        if not self.names:
            return self.op_open()
        src = self.rng.choice(sorted(self.names))
        choices = [n for n in self.pool if n != src and
                   (n not in self.names or self.strict or self.open_count(self.names[n]) == 0)]
        # The caps follow the names: a big file moves between big names.
        choices = [n for n in choices if n.startswith("big") == src.startswith("big")]
        if not choices:
            return
        dst = self.rng.choice(choices)
        self.log("rename %s -> %s (%s)" % (src, dst, "replaces file #%d, %d descriptors open" % (
            self.names[dst].id, self.open_count(self.names[dst])) if dst in self.names else "new name"))
        os.makedirs(os.path.dirname(self.path(dst)), exist_ok=True)
        os.rename(self.path(src), self.path(dst))
        self.names[dst] = self.names.pop(src)
        try:
            os.stat(self.path(src))
            raise Fail("rename %s -> %s: %s still exists" % (src, dst, src))
        except FileNotFoundError:
            pass
        self.check_name_size(dst)
        for fd, v in self.fds.items():
            if v[2] == src:
                v[2] = dst

    def op_unlink(self):
        """Unlink a file, open or not; its descriptors keep it."""
        if not self.names:
            return self.op_open()
        name = self.rng.choice(sorted(self.names))
        self.log("unlink %s (%d descriptors open)" % (name, self.open_count(self.names[name])))
        os.unlink(self.path(name))
        del self.names[name]
        try:
            os.stat(self.path(name))
            raise Fail("unlink %s: still there" % name)
        except FileNotFoundError:
            pass

    def mappable(self, need_write):
        out = []
        for fd, (f, fl, n) in self.fds.items():
            if len(f.data) == 0:
                continue
            if need_write and (fl & os.O_ACCMODE != os.O_RDWR or fl & os.O_APPEND):
                continue
            out.append(fd)
        return out

    def window(self, f):
        size = len(f.data)
        start = self.rng.randrange(size) if self.rng.random() < 0.7 else 0
        start -= start % PAGE
        n = min(size - start, self.rng.choice([PAGE, 3 * PAGE + 100, 300000, 2 * MB]))
        return start, n

    def op_mmap_read(self):
        fds = self.mappable(False)
        if not fds:
            return self.op_pwrite()
        fd = self.rng.choice(fds)
        f = self.fds[fd][0]
        start, n = self.window(f)
        self.log("mmap read fd %d off %d len %d (size %d)" % (fd, start, n, len(f.data)))
        m = mmap.mmap(fd, n, mmap.MAP_SHARED, mmap.PROT_READ, offset=start)
        try:
            self.compare("mmap read fd %d off %d len %d" % (fd, start, n), m[:], f.data[start:start + n], start)
        finally:
            m.close()

    def op_mmap_write(self):
        fds = self.mappable(True)
        if not fds:
            return self.op_pwrite()
        fd = self.rng.choice(fds)
        f = self.fds[fd][0]
        start, n = self.window(f)
        self.log("mmap write fd %d off %d len %d (size %d)" % (fd, start, n, len(f.data)))
        m = mmap.mmap(fd, n, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=start)
        try:
            for _ in range(self.rng.randint(1, 4)):
                a = self.rng.randrange(n)
                k = min(n - a, self.rng.randint(1, 6000))
                buf = self.data(k)
                m[a:a + k] = buf
                f.data[start + a:start + a + k] = buf
            m.flush()  # msync(MS_SYNC)
        finally:
            m.close()
        # Another descriptor sees it.
        name = self.fds[fd][2]
        if self.names.get(name) is f:
            fd2 = os.open(self.path(name), os.O_RDONLY)
            try:
                got = os.pread(fd2, n, start)
            finally:
                os.close(fd2)
            self.compare("after mmap write + msync, read through another descriptor", got,
                         f.data[start:start + n], start)

    def op_check(self):
        if not self.names:
            return self.op_open()
        name = self.rng.choice(sorted(self.names))
        if self.rng.random() < 0.5:
            self.check_whole(name, "check")
        else:
            self.check_many_fds(name)

    OPS = [("pwrite", 26), ("pread", 20), ("open", 8), ("close", 7), ("reopen", 4), ("append", 5),
           ("ftruncate", 4), ("truncate", 3), ("fsync", 6), ("rename", 4), ("unlink", 1),
           ("mmap_read", 4), ("mmap_write", 4), ("check", 4)]

    def run(self):
        if self.phase == 0:
            os.makedirs(self.root)
        else:
            with open(self.state, "rb") as fh:
                saved = pickle.load(fh)
            self.names = {n: File(d) for n, d in saved.items()}
            self.largest = max([len(d) for d in saved.values()] + [0])
            self.check_all("after remount")
        names = [n for n, w in self.OPS]
        weights = [w for n, w in self.OPS]
        for self.opno in range(self.nops):
            op = self.rng.choices(names, weights)[0]
            self.counts[op] += 1
            try:
                getattr(self, "op_" + op)()
            except OSError as e:
                raise Fail("%s failed: %s" % (op, e))
        self.opno = self.nops
        for fd in list(self.fds):
            try:
                self.close_fd(fd)
            except OSError as e:
                raise Fail("close failed: %s" % e)
        try:
            self.check_all("end of phase")
        except OSError as e:
            raise Fail("end of phase: %s" % e)
        with open(self.state, "wb") as fh:
            pickle.dump({n: bytes(f.data) for n, f in self.names.items()}, fh)

    def write_want(self, d):
        for name, f in self.names.items():
            p = os.path.join(d, "s%d" % self.seed, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as fh:
                fh.write(f.data)


if __name__ == "__main__":
    main()
