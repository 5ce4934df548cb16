# Wombat: build, test, bench, install, mount. See README.md.
#
#   make            library, CLI (build/lib, build/bin)
#   make test       install missing deps, build, run every test
#   make mount      mount ./wombat.db at ./wombat.mnt (make umount)
#   make bench      side-by-side benchmarks
#   make asan/tsan  sanitizer builds of the tests under build-asan/ build-tsan/
#                   run the whole suite (asan-build/tsan-build only build)
#   make stress     randomized and concurrent tests many times, valgrind, TSan
#                   (tests/stress.sh; RUNS=N churn runs, default 200)
#   make crashtest  the crash loops (tests/crash/); CRASH_SECONDS, CRASH_CYCLES, CRASH_SEED
#   make fuzz       libFuzzer targets of every decoder, SECONDS each (tests/fuzz/fuzz.mk)

BUILD    ?= build
PREFIX   ?= /usr/local
CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
# Include paths by what a part may see: programs on the public API see
# only engine/include; the engine sees its own folders (engine/src/<layer>/,
# whose order tests/code/layers.sh checks); the filesystem sees
# engine/src for util/error.h and util/grow.h; tests, benchmarks and
# fuzzers see all.
PUBLIC_CPPFLAGS := -Iengine/include -D_GNU_SOURCE
ENGINE_CPPFLAGS := -Iengine/include -Iengine/src -D_GNU_SOURCE
CPPFLAGS += -Iengine/include -Iengine/src -Itests/support -Ifusefs -D_GNU_SOURCE
ALLFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -pthread -fPIC -MMD -MP
LDLIBS   := -pthread -lz -lcrypto

ENGINE_SRC := $(wildcard engine/src/*/*.c)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
SUPPORT_SRC := $(wildcard tests/support/*.c)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard engine/tools/*.c)
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null || echo -I/usr/include/fuse3)
FUSE_LIBS   := $(shell pkg-config --libs fuse3 2>/dev/null || echo -lfuse3 -lpthread)
FS_SRC   := $(wildcard fusefs/*.c)
FS_OBJ   := $(FS_SRC:%.c=$(BUILD)/obj/%.o)
# The parts of wombatfs the unit tests link (no libfuse in them).
FS_PURE_OBJ := $(BUILD)/obj/fusefs/names.o $(BUILD)/obj/fusefs/attr.o $(BUILD)/obj/fusefs/filebuf.o $(BUILD)/obj/fusefs/filepatch.o \
	$(BUILD)/obj/fusefs/errmap.o

# The crash loops (tests/crash/): cmocka-free programs on the public API.
CRASH_COMMON := $(patsubst %.c,$(BUILD)/obj/%.o,tests/crash/workload.c tests/crash/checker.c tests/crash/harness.c)
CRASH_BIN := $(BUILD)/crash/kvcrash $(BUILD)/crash/faultcrash

LIB_A  := $(BUILD)/lib/libwombat.a
LIB_SO := $(BUILD)/lib/libwombat.so
CLI    := $(BUILD)/bin/wombat
FSD    := $(BUILD)/bin/wombatfs
MOUNT_HELPER := $(BUILD)/bin/mount.wombat
EXAMPLES := $(BUILD)/examples/hello

.PHONY: all lib cli fs tests test deps asan asan-build tsan tsan-build stress clean format mount \
	umount bench install crashtest
all: lib cli fs $(EXAMPLES)

lib: $(LIB_A) $(LIB_SO)
cli: $(CLI)
fs: $(FSD) $(MOUNT_HELPER)
tests: $(UNIT_BIN) $(CRASH_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLFLAGS) -c $< -o $@

$(BUILD)/obj/engine/src/%.o: engine/src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ENGINE_CPPFLAGS) $(ALLFLAGS) -c $< -o $@

$(BUILD)/obj/engine/tools/%.o: engine/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PUBLIC_CPPFLAGS) $(ALLFLAGS) -c $< -o $@

$(LIB_A): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(CLI): $(TOOL_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $(TOOL_OBJ) $(LIB_A) $(LDLIBS)

$(BUILD)/obj/fusefs/%.o: fusefs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ENGINE_CPPFLAGS) $(FUSE_CFLAGS) $(ALLFLAGS) -c $< -o $@

$(FSD): $(FS_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $(FS_OBJ) $(LIB_A) $(LDLIBS) $(FUSE_LIBS)

$(MOUNT_HELPER): mount-helper/mount_wombat.c
	@mkdir -p $(dir $@)
	$(CC) $(PUBLIC_CPPFLAGS) -std=gnu11 $(WARN) $(CFLAGS) -DWOMBATFS_PATH='"$(PREFIX)/bin/wombatfs"' -o $@ $<

$(BUILD)/examples/%: examples/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(PUBLIC_CPPFLAGS) $(ALLFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(SUPPORT_OBJ) $(FS_PURE_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $< $(SUPPORT_OBJ) $(FS_PURE_OBJ) $(LIB_A) $(LDLIBS) -lcmocka

$(BUILD)/crash/kvcrash: $(BUILD)/obj/tests/crash/kvcrash.o $(CRASH_COMMON) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/crash/faultcrash: $(BUILD)/obj/tests/crash/faultcrash.o $(CRASH_COMMON) \
		$(BUILD)/obj/tests/support/fault_env.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@sh tests/deps.sh

test: deps
	$(MAKE) all tests
	@BUILD=$(BUILD) sh tests/run.sh

# The long crash run: several hundred cycles in about ten minutes
# (tests/crash/lib/crashtest.sh; README "Other targets"). CRASH_ARGS=--strict
# also fails on the known bugs that skipped unit tests reproduce.
CRASH_SECONDS ?= 600
crashtest: deps
	$(MAKE) all tests
	@BUILD=$(BUILD) CRASH_SECONDS=$(CRASH_SECONDS) CRASH_CYCLES=$(CRASH_CYCLES) \
		CRASH_SEED=$(CRASH_SEED) CRASH_ARGS="$(CRASH_ARGS)" sh tests/crash/lib/crashtest.sh

# Sanitizer builds. A UBSan finding aborts (no recovery), so it fails its
# test rather than scrolling past in the log.
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
TSAN_FLAGS := -fsanitize=thread

asan-build:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer $(ASAN_FLAGS)" \
		LDLIBS="$(LDLIBS) $(ASAN_FLAGS)" all tests

asan: deps
	$(MAKE) asan-build
	BUILD=build-asan sh tests/run.sh

tsan-build:
	$(MAKE) BUILD=build-tsan CFLAGS="-O1 -g $(TSAN_FLAGS)" LDLIBS="$(LDLIBS) $(TSAN_FLAGS)" all tests

tsan: deps
	$(MAKE) tsan-build
	BUILD=build-tsan sh tests/run.sh

# Knobs for tests/stress.sh (see its header); empty ones take its defaults.
RUNS ?= 200
stress: deps
	@STRESS=1 sh tests/deps.sh
	$(MAKE) all tests
	BUILD=$(BUILD) RUNS=$(RUNS) SEED=$(SEED) PHASES="$(PHASES)" sh tests/stress.sh

format:
	clang-format -i engine/include/*.h engine/src/*/*.[ch] engine/tools/*.c tests/unit/*.c tests/support/*.[ch] \
		fusefs/*.[ch] mount-helper/*.c

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(ENGINE_OBJ:.o=.d) $(SUPPORT_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(FS_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/tests/unit/%.d) \
	$(CRASH_COMMON:.o=.d) $(CRASH_BIN:$(BUILD)/crash/%=$(BUILD)/obj/tests/crash/%.d)

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(LIB_A) $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 engine/include/wombat.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(CLI) $(FSD) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)/sbin
	install -m 755 $(MOUNT_HELPER) $(DESTDIR)/sbin/mount.wombat

# The README's first command: a database at ./wombat.db mounted at ./wombat.mnt.
MNT ?= wombat.mnt
DB  ?= wombat.db
mount: deps
	@$(MAKE) --no-print-directory all
	@sh fusefs/make_mount.sh "$(BUILD)" "$(DB)" "$(MNT)"

umount:
	@sh fusefs/make_umount.sh "$(DB)" "$(MNT)"

# The side-by-side benchmarks: the engine (bench-kv) against RocksDB,
# LevelDB and LMDB, then the mount (bench-fs) against a native directory
# and bindfs. QUICK=1 for a smoke run of both.
include bench/bench.mk
include tests/fuzz/fuzz.mk
bench: bench-kv
