#!/usr/bin/env python3
"""fscrash.py -- the mount's kill -9 loop (`make crashtest`, tests/crash/).

Each cycle mounts the database with wombatfs (sync=always, interval or
none), checks what the mount shows against what the last writer journaled,
then starts a writer process that works on the mount: creates, overwrites
(O_TRUNC), appends (O_APPEND, as >> does), fsyncs, large files (some past
16 MiB, which the mount streams into the value log), renames of files (also
over an existing one) and of whole directories (nested ones too), unlinks,
mkdir and rmdir. After a random delay the wombatfs daemon is killed with
SIGKILL (then the writer), the dead mount is detached (fusermount3 -uz) and
`wombat DBDIR verify` must pass. One cycle in ten the writer finishes its
ops instead and the mount is unmounted cleanly.

Every file is a sequence of self-describing records, each a header line
("WBFS fid gen idx len crc32") and a body that follows from (fid, gen,
idx); an overwrite writes a new generation, an append adds a record. So a
file read back is either exactly one version some op wrote or it is torn.

The writer journals each op's intent before it starts and its ack after it
returned, to a file outside the mount, one os.write per record (a SIGKILL
of the daemon or the writer loses nothing written to it). The check: the
tree (every path, directory, and file's records) must equal the state after
a prefix of the ops that contains every acknowledged one -- the daemon died,
not the kernel, so everything it committed before replying is still in the
page cache (fsync matters only for a power cut). The op in flight may also
show its first step (the empty file of a create or an O_TRUNC). A directory
rename is one atomic batch: half of one shows as a tree no prefix matches.

Replay: --seed S makes the same choices in each cycle (the ops, the delays,
the sync modes); where a kill lands in the ops depends on timing. A failing
run keeps its directory (database, journal) and prints it.

Usage: fscrash.py [--cycles N] [--seconds S] [--seed S] [--dir DIR]
                  [--build BUILD] [-v]
(fscrash.py --writer ... is the writer process; the driver starts it.)
"""
import argparse
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib

HDR_LEN = 46  # b"WBFS %08x %08x %04x %08x %08x\n"
FILE_NAMES = 60
TOP_DIRS = 8
MAX_FILES = 60  # past this, creates give way to unlinks: the check reads every file


# ---- contents ----------------------------------------------------------

def body(fid, gen, idx, n):
    return random.Random("%d:%d:%d" % (fid, gen, idx)).randbytes(n)


def record(fid, gen, idx, n):
    b = body(fid, gen, idx, n)
    h = b"WBFS %08x %08x %04x %08x %08x\n" % (fid, gen, idx, n, zlib.crc32(b))
    return h + b


def parse(data):
    """The records of a file as a tuple of (fid, gen, idx, len), or a
    string saying why it is torn."""
    recs, off = [], 0
    while off < len(data):
        h = data[off:off + HDR_LEN]
        f = h.split()
        if len(h) < HDR_LEN or len(f) != 6 or f[0] != b"WBFS" or not h.endswith(b"\n"):
            return "no record header at byte %d of %d" % (off, len(data))
        fid, gen, idx, n, crc = (int(x, 16) for x in f[1:])
        b = data[off + HDR_LEN:off + HDR_LEN + n]
        if len(b) != n:
            return "record at byte %d cut short (%d of %d bytes)" % (off, len(b), n)
        if zlib.crc32(b) != crc or b != body(fid, gen, idx, n):
            return "record at byte %d: bytes differ from what it was written with" % off
        recs.append((fid, gen, idx, n))
        off += HDR_LEN + n
    return tuple(recs)


# ---- the model: files {path: records tuple}, dirs {path} ----------------

def apply(state, op, first_step=False):
    """The state after op (or after only its first step); a new state."""
    files, dirs = dict(state[0]), set(state[1])
    t = op["t"]
    if t in ("create", "overwrite"):
        files[op["p"]] = () if first_step else tuple(tuple(r) for r in op["c"])
    elif t == "append":
        if not first_step:
            files[op["p"]] = files[op["p"]] + (tuple(op["r"]),)
    elif t == "mv":
        files[op["b"]] = files.pop(op["a"])
    elif t == "mvdir":
        a, b = op["a"], op["b"]
        move = lambda p: b + p[len(a):] if p == a or p.startswith(a + "/") else p
        files = {move(p): c for p, c in files.items()}
        dirs = {move(d) for d in dirs}
    elif t == "rm":
        del files[op["p"]]
    elif t == "mkdir":
        dirs.add(op["p"])
    elif t == "rmdir":
        dirs.discard(op["p"])
    return (files, dirs)


def parent(p):
    return p.rsplit("/", 1)[0] if "/" in p else ""


# ---- the writer process --------------------------------------------------

class Writer:
    def __init__(self, mnt, journal, state, seed, gen):
        self.mnt, self.rng, self.gen = mnt, random.Random(seed), gen
        self.files = {p: tuple(tuple(r) for r in c) for p, c in state["files"].items()}
        self.dirs = set(state["dirs"])
        self.fid = state["next_fid"]
        self.seq = 0
        self.jfd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)

    def log(self, line):
        os.write(self.jfd, (line + "\n").encode())

    def path(self, p):
        return os.path.join(self.mnt, p)

    def new_gen(self):
        self.gen += 1
        return self.gen

    def size(self):
        r = self.rng.random()
        if r < 0.55:
            return self.rng.randrange(10, 3000)
        if r < 0.90:
            return self.rng.randrange(4096, 256 << 10)
        if r < 0.98:
            return self.rng.randrange(1 << 20, 4 << 20)
        return self.rng.randrange(17 << 20, 20 << 20)  # the mount streams these

    def write_all(self, fd, data):
        off = 0
        while off < len(data):
            n = self.rng.choice((4096, 65536, 1 << 20))
            off += os.write(fd, data[off:off + n])

    def free_name(self):
        """A path no file or directory has, in an existing directory."""
        for _ in range(50):
            d = self.rng.choice([""] + sorted(self.dirs))
            p = (d + "/" if d else "") + "f%d" % self.rng.randrange(FILE_NAMES)
            if p not in self.files and p not in self.dirs:
                return p
        return None

    def plan(self):
        r, files = self.rng.random(), sorted(self.files)
        if len(files) > MAX_FILES and r < 0.25:
            r += 0.5  # full: an unlink or a rename instead of a create
        if r < 0.25 or not files:
            p = self.free_name()
            if p is None:
                return None
            fid, self.fid = self.fid, self.fid + 1
            gen = self.new_gen()
            n = self.rng.choice((1, 1, 2, 3))
            return {"t": "create", "p": p, "sync": self.rng.random() < 0.3,
                    "c": [[fid, gen, i, self.size()] for i in range(n)]}
        p = self.rng.choice(files)
        if r < 0.40:
            fid = self.files[p][0][0] if self.files[p] else self.fid
            gen = self.new_gen()
            return {"t": "overwrite", "p": p, "sync": self.rng.random() < 0.3,
                    "c": [[fid, gen, i, self.size()] for i in range(self.rng.choice((1, 2)))]}
        if r < 0.55:
            fid = self.files[p][0][0] if self.files[p] else self.fid
            return {"t": "append", "p": p, "sync": self.rng.random() < 0.3,
                    "r": [fid, self.new_gen(), 0, self.rng.randrange(10, 40000)]}
        if r < 0.65:
            q = self.free_name() if self.rng.random() < 0.6 else self.rng.choice(files)
            if q is None or q == p:
                return None
            return {"t": "mv", "a": p, "b": q}
        if r < 0.75:
            return {"t": "rm", "p": p}
        if r < 0.85:
            return {"t": "fsync", "p": p}
        tops = sorted(d for d in self.dirs if "/" not in d)
        if r < 0.93 and tops:
            a = self.rng.choice(tops)
            b = "d%d" % self.rng.randrange(TOP_DIRS * 2)
            if b in self.dirs or b in self.files:
                return None
            return {"t": "mvdir", "a": a, "b": b}
        if r < 0.97:
            top = self.rng.random() < 0.6 or not tops
            p = "d%d" % self.rng.randrange(TOP_DIRS * 2) if top else \
                self.rng.choice(tops) + "/s%d" % self.rng.randrange(3)
            if p in self.dirs or p in self.files:
                return None
            return {"t": "mkdir", "p": p}
        empty = [d for d in self.dirs
                 if not any(x.startswith(d + "/") for x in list(self.files) + list(self.dirs))]
        if not empty:
            return None
        return {"t": "rmdir", "p": self.rng.choice(sorted(empty))}

    def do(self, op):
        t = op["t"]
        if t in ("create", "overwrite", "append"):
            flags = os.O_WRONLY | (os.O_APPEND if t == "append" else os.O_CREAT | os.O_TRUNC)
            fd = os.open(self.path(op["p"]), flags, 0o644)
            try:
                recs = [op["r"]] if t == "append" else op["c"]
                for r in recs:
                    self.write_all(fd, record(*r))
                if op.get("sync"):
                    os.fsync(fd)
            finally:
                os.close(fd)
        elif t == "fsync":
            fd = os.open(self.path(op["p"]), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        elif t in ("mv", "mvdir"):
            os.rename(self.path(op["a"]), self.path(op["b"]))
        elif t == "rm":
            os.unlink(self.path(op["p"]))
        elif t == "mkdir":
            os.mkdir(self.path(op["p"]))
        elif t == "rmdir":
            os.rmdir(self.path(op["p"]))

    def run(self, budget):
        done = 0
        while budget == 0 or done < budget:
            op = self.plan()
            if op is None:
                continue
            self.seq += 1
            self.log("I %d %s" % (self.seq, json.dumps(op, separators=(",", ":"))))
            try:
                self.do(op)
            except OSError as e:
                self.log("E %d %s" % (self.seq, errno.errorcode.get(e.errno, str(e.errno))))
                return 3
            self.files, self.dirs = apply((self.files, self.dirs), op)
            self.log("A %d" % self.seq)
            if op.get("sync") or op["t"] == "fsync":
                self.log("S %d" % self.seq)
            done += 1
        return 0


def writer_main(argv):
    mnt, journal, state_path, seed, budget = argv
    with open(state_path) as f:
        state = json.load(f)
    w = Writer(mnt, journal, state, int(seed), state["next_gen"])
    sys.exit(w.run(int(budget)))


# ---- the driver ------------------------------------------------------------

class Failure(Exception):
    pass


def load_journal(path):
    ops, acked, synced, error = [], 0, 0, None
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break  # torn by the kill
            kind, seq, rest = (line.decode().rstrip("\n").split(" ", 2) + [""])[:3]
            if kind == "I":
                ops.append(json.loads(rest))
            elif kind == "A":
                acked = int(seq)
            elif kind == "S":
                synced = int(seq)
            elif kind == "E":
                error = rest
    return ops, acked, synced, error


def read_tree(mnt):
    """(files, dirs, torn) as the mount shows them."""
    files, dirs, torn = {}, set(), []
    for root, ds, fs in os.walk(mnt):
        rel = os.path.relpath(root, mnt)
        rel = "" if rel == "." else rel
        for d in ds:
            dirs.add((rel + "/" if rel else "") + d)
        for name in fs:
            p = (rel + "/" if rel else "") + name
            with open(os.path.join(root, name), "rb") as f:
                c = parse(f.read())
            if isinstance(c, str):
                torn.append("%s: %s" % (p, c))
            else:
                files[p] = c
    return files, dirs, torn


def implicit_dirs(state):
    """Directories the mount shows: the made ones and every parent of a file."""
    files, dirs = state
    shown = set(dirs)
    for p in list(files) + list(dirs):
        while "/" in p:
            p = parent(p)
            shown.add(p)
    return shown


class Driver:
    def __init__(self, args):
        self.a = args
        self.fsd = os.path.join(args.build, "bin", "wombatfs")
        self.cli = os.path.join(args.build, "bin", "wombat")
        self.own_dir = args.dir is None
        self.dir = args.dir or tempfile.mkdtemp(prefix="wombat-fscrash-")
        self.db = os.path.join(self.dir, "db")
        self.mnt = os.path.join(self.dir, "mnt")
        self.journal = os.path.join(self.dir, "journal")
        self.state_file = os.path.join(self.dir, "state.json")
        os.makedirs(self.mnt, exist_ok=True)
        self.state = ({}, set())
        self.next_fid, self.next_gen = 1, 0
        self.writer = None
        self.tally = dict(cycles=0, ops=0, lost=0, torn=0, inconsistent=0, verify=0, writer=0,
                          refused=0)

    # -- mounting --
    def mounted(self):
        with open("/proc/mounts") as f:
            return any(l.split()[1] == self.mnt for l in f)

    def daemon_pid(self):
        try:
            with open(os.path.join(self.db, "LOCK")) as f:
                s = "".join(ch for ch in f.read() if ch.isdigit())
                return int(s) if s else None
        except OSError:
            return None

    def mount(self, sync):
        r = subprocess.run([self.fsd, self.db, self.mnt, "-o", "create,sync=" + sync],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or not self.mounted():
            self.tally["refused"] += 1
            raise Failure("wombatfs refused to mount: %s" % (r.stderr or r.stdout).strip())

    def wait_gone(self, pid, seconds):
        """Waits until pid has exited. A zombie counts as gone: the daemon
        is no child of ours, and whoever reaps it here may take a second."""
        end = time.time() + seconds
        while time.time() < end:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return True
            except (OSError, IndexError):
                return True
            time.sleep(0.01)
        return False

    def cleanup(self):
        if self.writer is not None and self.writer.poll() is None:
            self.writer.kill()
            self.writer.wait()
        if self.mounted():
            if subprocess.run(["fusermount3", "-u", self.mnt], stderr=subprocess.DEVNULL).returncode:
                subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL)
        pid = self.daemon_pid()
        if pid and not self.wait_gone(pid, 10):
            os.kill(pid, signal.SIGKILL)
            self.wait_gone(pid, 5)

    # -- one cycle --
    def check(self, cycle, ops, acked, error):
        got_files, got_dirs, torn = read_tree(self.mnt)
        for t in torn:
            print("fscrash: cycle %d: torn: %s" % (cycle, t), file=sys.stderr)
        self.tally["torn"] += len(torn)
        if torn:
            raise Failure("%d torn files" % len(torn))
        # the states the tree may show, newest first
        states, s = [self.state], self.state
        for op in ops:
            s = apply(s, op)
            states.append(s)
        cands = [(p, states[p]) for p in range(len(ops), acked - 1, -1)]
        if acked < len(ops):  # the op in flight may show its first step
            cands.insert(1, (len(ops), apply(states[len(ops) - 1], ops[-1], first_step=True)))
        for p, st in cands:
            if st[0] == got_files and implicit_dirs(st) == got_dirs:
                self.state = st
                return p
        # Nothing fits: say how the tree differs from the acknowledged state.
        for p in range(acked - 1, -1, -1):
            st = states[p]
            if st[0] == got_files and implicit_dirs(st) == got_dirs:
                self.tally["lost"] += acked - p
                raise Failure("lost: the tree is the state after %d ops, but %d were acknowledged "
                              "(first lost: %s)" % (p, acked, json.dumps(ops[p])))
        want = states[acked]
        msgs = []
        for k in sorted(set(want[0]) | set(got_files)):
            if want[0].get(k) != got_files.get(k):
                msgs.append("%s: want %s, got %s" % (k, want[0].get(k, "absent"),
                                                     got_files.get(k, "absent")))
        wd = implicit_dirs(want)
        for d in sorted(wd ^ got_dirs):
            msgs.append("directory %s: %s" % (d, "missing" if d in wd else "should not be there"))
        self.tally["inconsistent"] += 1
        for m in msgs[:20]:
            print("fscrash: cycle %d: inconsistent: %s" % (cycle, m), file=sys.stderr)
        raise Failure("inconsistent: no prefix of the %d ops (%d acknowledged) fits the tree"
                      % (len(ops), acked))

    def verify(self, cycle):
        r = subprocess.run([self.cli, self.db, "verify"], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            self.tally["verify"] += 1
            raise Failure("wombat verify failed: %s" % (r.stderr or r.stdout).strip()[-500:])

    def cycle(self, c):
        rng = random.Random(self.a.seed * 1000003 + c)
        sync = rng.choice(("always", "interval", "interval", "none"))
        clean = rng.random() < 0.1
        delay = 0.02 + rng.random() * 1.5
        self.mount(sync)
        if c > 0:
            ops, acked, synced, error = load_journal(self.journal)
            p = self.check(c - 1, ops, acked, error)
            self.tally["ops"] += len(ops)
            if self.a.verbose:
                print("cycle %d: %d ops (%d acked, up to %d fsynced), %s recovered"
                      % (c - 1, len(ops), acked, synced, p))
        with open(self.state_file, "w") as f:
            json.dump({"files": self.state[0], "dirs": sorted(self.state[1]),
                       "next_fid": self.next_fid, "next_gen": self.next_gen}, f)
        self.writer = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--writer",
                                        self.mnt, self.journal, self.state_file,
                                        str(rng.randrange(1 << 30)), "40" if clean else "0"])
        daemon = self.daemon_pid()
        if clean:
            try:
                rc = self.writer.wait(timeout=120)
            except subprocess.TimeoutExpired:
                raise Failure("hang: the writer did not finish 40 ops in 120 s")
            if subprocess.run(["fusermount3", "-u", self.mnt]).returncode != 0:
                raise Failure("fusermount3 -u failed after a clean run")
            if not self.wait_gone(daemon, 30):
                raise Failure("hang: wombatfs did not exit 30 s after the unmount")
        else:
            time.sleep(delay)
            rc = self.writer.poll()
            os.kill(daemon, signal.SIGKILL)
            if not self.wait_gone(daemon, 10):
                raise Failure("wombatfs survived kill -9")
            try:
                self.writer.wait(timeout=30)
            except subprocess.TimeoutExpired:  # stuck on the dead mount
                self.writer.kill()
                self.writer.wait()
            subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL)
        self.writer = None
        ops, acked, synced, error = load_journal(self.journal)
        if rc is not None and rc != 0:
            self.tally["writer"] += 1
            raise Failure("the writer stopped before the kill: %s in %s"
                          % (error, json.dumps(ops[-1]) if ops else "?"))
        for op in ops:  # the next writer goes on from the highest ids
            for r in op.get("c", []) + ([op["r"]] if "r" in op else []):
                self.next_fid = max(self.next_fid, r[0] + 1)
                self.next_gen = max(self.next_gen, r[1])
        self.verify(c)
        self.tally["cycles"] += 1

    def run(self):
        print("fscrash: seed %d, in %s" % (self.a.seed, self.dir), flush=True)
        start, ok, c = time.time(), True, 0
        try:
            while (not self.a.cycles or c < self.a.cycles) and \
                    (not self.a.seconds or time.time() - start < self.a.seconds):
                self.cycle(c)
                c += 1
            self.mount("interval")  # the last cycle's check
            ops, acked, _, error = load_journal(self.journal)
            self.check(c - 1, ops, acked, error)
            self.tally["ops"] += len(ops)
        except (Failure, subprocess.TimeoutExpired) as e:
            ok = False
            print("fscrash: cycle %d FAILED: %s\nfscrash: replay: fscrash.py --seed %d --cycles %d; "
                  "database and journal kept in %s" % (c, e, self.a.seed, c + 1, self.dir),
                  file=sys.stderr)
        finally:
            self.cleanup()
        t, el = self.tally, time.time() - start
        print("fscrash: %d cycles (kill -9 of wombatfs) in %.0f s, %.1f per minute, %d ops, seed %d"
              % (t["cycles"], el, 60 * t["cycles"] / el if el else 0, t["ops"], self.a.seed))
        extra = "".join(", %d %s" % (t[k], k) for k in ("inconsistent", "verify", "writer", "refused")
                        if t[k])
        print("fscrash: %d lost, %d torn%s" % (t["lost"], t["torn"], extra), flush=True)
        if ok and self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return 0 if ok else 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        writer_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description="kill -9 loop of the mounted filesystem")
    ap.add_argument("--cycles", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--dir", default=None, help="scratch directory (kept)")
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("-v", dest="verbose", action="store_true")
    a = ap.parse_args()
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(10 ** 9)
    if not a.cycles and not a.seconds:
        a.seconds = 60
    a.build = os.path.abspath(a.build)
    d = Driver(a)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda *_: sys.exit(1))  # runs the finally: unmounts
    sys.exit(d.run())


if __name__ == "__main__":
    main()
