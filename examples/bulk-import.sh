#!/bin/sh
# bulk-import.sh -- imports a directory tree into the store with cp -r and
# checks the copy with diff -r: every file becomes a key named by its path.
#
#   examples/bulk-import.sh SRC_DIR MOUNTPOINT/prefix
set -eu
[ $# -eq 2 ] || { echo "usage: $0 SRC_DIR MOUNTPOINT/PREFIX" >&2; exit 2; }
src=$1 dst=$2
mkdir -p "$dst"
start=$(date +%s)
cp -r "$src/." "$dst/"
files=$(find "$dst" -type f | wc -l)
diff -r "$src" "$dst" && echo "imported $files files in $(( $(date +%s) - start )) s; diff -r clean"
