# Wombat: build, test, bench, install, mount. See README.md.
#
#   make            library, CLI (build/lib, build/bin)
#   make test       install missing deps, build, run every test
#   make mount      mount ./wombat.db at ./wombat.mnt (make umount)
#   make bench      side-by-side benchmarks
#   make asan/tsan  sanitizer builds of the tests under build-asan/ build-tsan/

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CPPFLAGS += -Iengine/include -Iengine/src -Itests/support -D_GNU_SOURCE
ALLFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -pthread -fPIC -MMD -MP
LDLIBS   := -pthread -lz -lcrypto

ENGINE_SRC := $(wildcard engine/src/*.c)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
SUPPORT_SRC := $(wildcard tests/support/*.c)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard engine/tools/*.c)
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)

LIB_A  := $(BUILD)/lib/libwombat.a
LIB_SO := $(BUILD)/lib/libwombat.so
CLI    := $(BUILD)/bin/wombat
EXAMPLES := $(BUILD)/examples/hello

.PHONY: all lib cli tests test deps asan tsan clean format mount umount bench install
all: lib cli $(EXAMPLES)

lib: $(LIB_A) $(LIB_SO)
cli: $(CLI)
tests: $(UNIT_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLFLAGS) -c $< -o $@

$(LIB_A): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(CLI): $(TOOL_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $(TOOL_OBJ) $(LIB_A) $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(SUPPORT_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $< $(SUPPORT_OBJ) $(LIB_A) $(LDLIBS) -lcmocka

deps:
	@sh tests/deps.sh

test: deps
	$(MAKE) all tests
	@BUILD=$(BUILD) sh tests/run.sh

asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDLIBS="-pthread -lz -lcrypto -fsanitize=address,undefined" all tests
	BUILD=build-asan sh tests/run.sh

tsan:
	$(MAKE) BUILD=build-tsan CFLAGS="-O1 -g -fsanitize=thread" \
		LDLIBS="-pthread -lz -lcrypto -fsanitize=thread" all tests
	BUILD=build-tsan sh tests/run.sh

format:
	clang-format -i engine/include/*.h engine/src/*.[ch] engine/tools/*.c tests/unit/*.c tests/support/*.[ch]

clean:
	rm -rf build build-asan build-tsan

-include $(ENGINE_OBJ:.o=.d) $(SUPPORT_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/tests/unit/%.d)

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(LIB_A) $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 engine/include/wombat.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/

# The filesystem (wombatfs) is not written yet: say so rather than pretend.
mount umount:
	@echo "make $@: not yet -- the wombatfs filesystem has not landed (issue: wombatfs and mount.wombat)."
	@echo "Until then use the CLI: build/bin/wombat DBDIR put|get|scan|load ..."
	@exit 1

# The engine half of the side-by-side benchmark; the filesystem half comes
# with wombatfs. QUICK=1 for a smoke run.
include bench/bench.mk
bench: bench-kv
