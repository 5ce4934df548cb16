#!/bin/sh
# quick.sh -- the short crash run of `make test`: each crash loop of
# `make crashtest` (tests/crash/lib/crashtest.sh) for a few cycles, about a
# minute in all. It fails on anything they find, with the seed to replay.
KV_CYCLES=${KV_CYCLES:-20} FAULT_CYCLES=${FAULT_CYCLES:-30} FS_CYCLES=${FS_CYCLES:-15} \
	exec sh "$(dirname "$0")/lib/crashtest.sh"
