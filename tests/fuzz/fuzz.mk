# fuzz.mk -- `make fuzz [SECONDS=N] [FUZZ_TARGETS="log sst"]`: builds the
# libFuzzer targets tests/fuzz/fuzz_*.c with clang under build-fuzz/,
# writes their seed corpora (tests/fuzz/seeds.c, from a real database)
# when missing, and runs each target for SECONDS (default 60), one at a
# time, in one process. tests/fuzz/run.sh prints what each run did and
# fails when any target crashed; a crash is saved under
# build-fuzz/crashes/<target>/ and replays with `build-fuzz/bin/fuzz_<target> FILE`.

FUZZ_BUILD  := build-fuzz
FUZZ_CC     := clang
SECONDS     ?= 60
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 $(WARN) -O1 -g $(FUZZ_SAN) -pthread -MMD -MP
FUZZ_CPPFLAGS := $(CPPFLAGS) -Iengine/tools -Itests/fuzz

FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_ALL    := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_BIN    := $(FUZZ_ALL:%=$(FUZZ_BUILD)/bin/fuzz_%)
# Everything the targets decode with, instrumented for coverage.
FUZZ_LIB_SRC := $(ENGINE_SRC) fusefs/names.c fusefs/attr.c engine/tools/escape.c tests/fuzz/mem_env.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB     := $(FUZZ_BUILD)/lib/libfuzzwombat.a
FUZZ_SEEDS   := $(FUZZ_BUILD)/bin/fuzz_seeds

.PHONY: fuzz fuzz-build
# Keep the targets' objects: they are intermediate to make, but rebuilding
# them for every change to the library is slow.
.SECONDARY: $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/tests/fuzz/seeds.o
fuzz: fuzz-build
	@sh tests/fuzz/run.sh "$(FUZZ_BUILD)" "$(SECONDS)" $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BIN) $(FUZZ_SEEDS)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/bin/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(LDLIBS)

$(FUZZ_SEEDS): $(FUZZ_BUILD)/obj/tests/fuzz/seeds.o $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB) $(LDLIBS)

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/obj/%.d) $(FUZZ_BUILD)/obj/tests/fuzz/seeds.d
