#!/bin/sh
# damage.sh -- a short run of damage_sweep.py: one byte flipped or one file
# cut in a copy of an unmounted database, 20 times; each copy must refuse
# to mount with a clear message, or show every file with its exact bytes or
# EIO. (make stress runs many more rounds with other seeds.)
BUILD=${BUILD:-build}
exec python3 "$(dirname "$0")/damage_sweep.py" "$BUILD" "${DAMAGE_ROUNDS:-20}" "${DAMAGE_SEED:-7}"
