#!/bin/sh
# run_vblock.sh -- `make bench-vblock`: bench/vblock_bench.c against builds
# of the engine whose value-log blocks are 4, 16 and 64 KiB, and against the
# tree at BASE (default 1a5abfe, the last one whose range reads checked
# nothing), one after another on this machine; prints one table. Builds go
# to $BUILD/vblock/; the BASE tree is checked out under it and removed.
set -e
BUILD=${BUILD:-build}
BASE=${BASE:-1a5abfe}
MAKE=${MAKE:-make}
out=$BUILD/vblock
mkdir -p "$out"
tmp=$(mktemp -d /tmp/wombat-vblock.XXXXXX)
trap 'rm -rf "$tmp"; git worktree remove --force "$out/base" 2>/dev/null || true' EXIT
build() { # NAME MAKE-ARGS...: the library, then the bench linked to it
	name=$1
	shift
	"$@" >"$out/$name.build.log" 2>&1 || { cat "$out/$name.build.log"; exit 1; }
}
for n in 4096 16384 65536; do
	build $n $MAKE -s BUILD="$out/$n" CFLAGS="-O2 -g -DVBLOCK_SIZE=${n}u" lib
done
rm -rf "$out/base"
git worktree add --force --detach "$out/base" "$BASE" >/dev/null 2>&1
build base $MAKE -s -C "$out/base" BUILD=build lib
printf '%-22s %-10s %-10s %-10s %-10s %-10s  (ops/s, best of 3)\n' build rand4k rand4k-u seq128k get64k put4k
for n in base 4096 16384 65536; do
	lib=$out/$n/lib/libwombat.a
	[ $n = base ] && lib=$out/base/build/lib/libwombat.a
	cc -O2 -Iengine/include -o "$out/bench-$n" bench/vblock_bench.c "$lib" -lpthread -lz -lcrypto
	label="blocks of $n"
	[ $n = base ] && label="$BASE (no checks)"
	printf '%-22s ' "$label"
	rm -rf "$tmp/db"
	"$out/bench-$n" "$tmp/db"
done
