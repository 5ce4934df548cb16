# bench.mk -- the side-by-side benchmarks. The engine half, bench/kvbench:
# Wombat, RocksDB, LevelDB and LMDB (bench/kvbench.c says what it measures
# and how). The filesystem half, bench/fsbench: wombatfs, a native directory
# and bindfs on one disk (bench/fsbench.c). Included by the top-level
# Makefile, whose BUILD, CC, CPPFLAGS, ALLFLAGS, LIB_A and LDLIBS it uses;
# its objects come from that Makefile's $(BUILD)/obj/%.o rule.
#
#   make bench                both halves, kv then fs, never at the same time
#   make bench QUICK=1        both smoke runs, under 2 minutes
#   make bench-kv             full run, about 10-15 minutes: 100 B, 4 KiB and
#                             64 KiB values, then Wombat's stream step (a
#                             2 GiB value through wb_writer against dd); table on stdout and in
#                             $(BUILD)/bench/kv.txt, numbers in kv.json, kv.png
#   make bench-kv QUICK=1     smoke run, under 2 minutes
#   make bench-kv KVBENCH_ARGS="--engines wombat,rocksdb --workloads fillrandom,readrandom"
#   make bench-fs             full run, about 5-8 minutes; table on stdout and
#                             in $(BUILD)/bench/fs.txt, numbers in fs.json, fs.png
#   make bench-fs QUICK=1     smoke run, about a minute
#   make bench-fs FSBENCH_ARGS="--targets wombat,bindfs --big-mib 512"
#
# bench-kv builds through bench/run_kv.sh, not through a prerequisite,
# because the peers' headers must be installed (tests/deps.sh) before the
# objects can compile; bench-fs likewise through bench/run_fs.sh, which
# installs bindfs and unmounts whatever a killed run leaves mounted.

KVBENCH      := $(BUILD)/bin/kvbench
KVBENCH_SRC  := bench/kvbench.c bench/kv_report.c bench/kv_wombat.c bench/kv_rocksdb.c \
		bench/kv_leveldb.c bench/kv_lmdb.c bench/kv_stream.c
KVBENCH_OBJ  := $(KVBENCH_SRC:%.c=$(BUILD)/obj/%.o)
KVBENCH_LIBS := -lrocksdb -lleveldb -llmdb -lm

.PHONY: bench-kv bench-fs

$(KVBENCH): $(KVBENCH_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $(KVBENCH_OBJ) $(LIB_A) $(KVBENCH_LIBS) $(LDLIBS)

bench-kv:
	@MAKE="$(MAKE)" BUILD="$(BUILD)" QUICK="$(QUICK)" sh bench/run_kv.sh $(KVBENCH_ARGS)

FSBENCH     := $(BUILD)/bin/fsbench
FSBENCH_SRC := bench/fsbench.c bench/fs_report.c bench/fs_work.c
FSBENCH_OBJ := $(FSBENCH_SRC:%.c=$(BUILD)/obj/%.o)

$(FSBENCH): $(FSBENCH_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $(FSBENCH_OBJ) -lm

bench-fs:
	@MAKE="$(MAKE)" BUILD="$(BUILD)" QUICK="$(QUICK)" sh bench/run_fs.sh $(FSBENCH_ARGS)

# The Makefile's `bench: bench-kv` runs the engine half first; this recipe
# then runs the filesystem half, after it even under -j (each would disturb
# the other's timings).
bench:
	@$(MAKE) --no-print-directory bench-fs

-include $(KVBENCH_OBJ:.o=.d) $(FSBENCH_OBJ:.o=.d)

# Transactions: commit throughput of 1-read-1-write transactions at 1, 2
# and 4 threads against blind puts, and the conflict-check cost per commit
# (bench/txnbench.c). Needs only the engine.
TXNBENCH := $(BUILD)/bin/txnbench

.PHONY: bench-txn

$(TXNBENCH): $(BUILD)/obj/bench/txnbench.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

bench-txn: $(TXNBENCH)
	$(TXNBENCH) --dir $(BUILD)/bench/txn

-include $(BUILD)/obj/bench/txnbench.d

# The value log's block size (engine/src/vlog/vblock.h): bench/vblock_bench.c
# against 4, 16 and 64 KiB blocks and against an unchecked older tree.
.PHONY: bench-vblock
bench-vblock:
	@MAKE="$(MAKE)" BUILD="$(BUILD)" sh bench/run_vblock.sh
