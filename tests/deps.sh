#!/bin/sh
# deps.sh -- installs the Debian packages Wombat needs when any is missing.
# Called by `make deps`, `make test` and `make mount`. BENCH=1 adds the peers,
# STRESS=1 valgrind (for `make stress`). python3 runs several tests/fs scripts (its sqlite3 module drives
# tests/fs/sqlite.sh); sqlite3 is the CLI that test cross-checks with; rsync -H
# is one of the ways tests/fs/links.sh makes hard links.
set -e
pkgs="libfuse3-dev fuse3 zlib1g-dev libssl-dev libcmocka-dev pkg-config attr python3 sqlite3 rsync"
[ "${BENCH:-0}" = 1 ] && pkgs="$pkgs librocksdb-dev libleveldb-dev liblmdb-dev bindfs git"
[ "${STRESS:-0}" = 1 ] && pkgs="$pkgs valgrind"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
