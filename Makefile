# sockit - build, test, demo and install.
#
#   make                 build build/sockit and build/libsockit.a
#   make test            unit tests, then integration tests over real sockets
#   make test-asan       the same with AddressSanitizer + UBSan (build-asan/)
#   make soak            the abuse tests at full size (~15 min; SOCKIT_SOAK=1)
#   make test-tsan       the multi-threaded paths under ThreadSanitizer (build-tsan/)
#   make demo            start servers on loopback and tour the clients
#   make install PREFIX=/usr/local
#   make windows         build-win/sockit.exe with mingw-w64
#   make test-windows    the Windows build's tests under Wine
#   make peers           build the benchmark peers (bench/peers/) into build/peers/
#   make bench           sockit against the peers; writes BENCHMARKS.md (~25 min)
#   make fuzz            libFuzzer on every parser, FUZZ_SECONDS (60) each (build-fuzz/)
#
# SANITIZE=1 switches any target to the sanitizer build.

CC      ?= cc
PREFIX  ?= /usr/local
# The first python3 that has pytest (Debian's python3-pytest).
PYTHON  ?= $(firstword $(foreach p,python3 /usr/bin/python3,$(shell $(p) -c 'import pytest' >/dev/null 2>&1 && echo $(p))) python3)

WARNINGS = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wno-format-nonliteral \
           -Wundef -Wvla
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARNINGS) -Isrc/lib -MMD -MP
LDLIBS  += -lpthread -lm

# io_uring (the uring model) when Debian's liburing-dev is installed.
HAVE_URING ?= $(shell printf '\043include <liburing.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
ifeq ($(HAVE_URING),1)
CFLAGS  += -DSK_HAVE_URING=1
LDLIBS  += -luring
endif

ifeq ($(SANITIZE),1)
BUILD   ?= build-asan
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
BUILD   ?= build-tsan
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
else
BUILD   ?= build
endif

# *_win.c files are the Windows halves (make windows); never built here.
LIB_SRC  := $(filter-out src/lib/%_win.c,$(wildcard src/lib/*.c))
CMD_SRC  := $(filter-out src/cmd/%_win.c,$(wildcard src/cmd/*.c))
UNIT_SRC := $(wildcard tests/unit/*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

LIB   := $(BUILD)/libsockit.a
BIN   := $(BUILD)/sockit
UNIT  := $(BUILD)/unit-tests

.PHONY: all test unit integration test-asan test-tsan soak demo install clean

all: $(BIN) $(LIB)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BIN): $(CMD_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJ) $(LIB) $(LDLIBS)

$(UNIT): $(UNIT_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(LIB) $(LDLIBS)

unit: $(UNIT)
	./$(UNIT)

# test_windows.py runs under `make test-windows` only.
integration: $(BIN)
	SOCKIT=$(abspath $(BIN)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration \
	    --ignore=tests/integration/test_windows.py $(PYTEST_ARGS)

test: unit integration

# The abuse tests at RELIABILITY.md's sizes (30 s descriptor floods, 1,000
# idle clients, 10,000 resets and fork connections, 1 GiB across a 576-byte
# MTU): about 15 minutes, so not part of `make test`.
SOAK_TESTS = flood or idle_clients or resets or zombie or network_path
soak: $(BIN)
	SOCKIT=$(abspath $(BIN)) SOCKIT_SOAK=1 $(PYTHON) -m pytest -q -p no:cacheprovider \
	    tests/integration -k "$(SOAK_TESTS)" --ignore=tests/integration/test_windows.py $(PYTEST_ARGS)

test-asan:
	$(MAKE) SANITIZE=1 test

# ThreadSanitizer over what runs on several threads: the thread and pool
# models, chat's shared state, event loops on --workers, the iocp-free
# completion paths, and the load generator's threads.  A race report
# fails the run (TSAN_OPTIONS halt_on_error).
TSAN_TESTS = thread or pool or workers or chat or bench or uring
test-tsan:
	$(MAKE) SANITIZE=thread all
	SOCKIT=$(abspath build-tsan/sockit) TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
	    $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration -k "$(TSAN_TESTS)" \
	    --ignore=tests/integration/test_windows.py $(PYTEST_ARGS)

demo: $(BIN)
	SOCKIT=$(abspath $(BIN)) sh scripts/demo.sh

install: $(BIN) $(LIB)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/sockit
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/sockit
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libsockit.a
	install -m 644 src/lib/sk_*.h $(DESTDIR)$(PREFIX)/include/sockit/

clean:
	rm -rf build build-asan build-tsan build-win build-fuzz

# Windows: build-win/sockit.exe with mingw-w64 (apt-get install
# gcc-mingw-w64-x86-64), the same warnings as errors, and the test suite
# under Wine (apt-get install wine64).  The sources that only make sense
# on Linux are left out; *_win.c files take their place.
WIN_CC      ?= x86_64-w64-mingw32-gcc
WIN_AR      ?= x86_64-w64-mingw32-ar
WIN_BUILD   := build-win
WIN_CFLAGS  := -O2 -g -std=c11 $(WARNINGS) -Isrc/lib -MMD -MP -D_WIN32_WINNT=0x0601 \
               -DFD_SETSIZE=1024 -D__USE_MINGW_ANSI_STDIO=1
WIN_LDLIBS  := -lws2_32 -lmswsock -liphlpapi
WIN_LINUX_ONLY := src/lib/compat_posix.c src/lib/poll_select.c src/lib/model_fork.c src/lib/model_uring.c \
               src/lib/poll_epoll.c src/lib/poll_sigio.c src/lib/sk_msglog.c \
               src/cmd/cmd_compare.c
WIN_LIB_SRC := $(filter-out $(WIN_LINUX_ONLY),$(wildcard src/lib/*.c))
WIN_CMD_SRC := $(filter-out $(WIN_LINUX_ONLY),$(wildcard src/cmd/*.c))
WIN_LIB_OBJ := $(WIN_LIB_SRC:%.c=$(WIN_BUILD)/%.o)
WIN_CMD_OBJ := $(WIN_CMD_SRC:%.c=$(WIN_BUILD)/%.o)
WIN_UNIT_OBJ := $(UNIT_SRC:%.c=$(WIN_BUILD)/%.o)

.PHONY: windows test-windows

windows: $(WIN_BUILD)/sockit.exe $(WIN_BUILD)/libsockit.a

$(WIN_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CFLAGS) -c $< -o $@

$(WIN_BUILD)/libsockit.a: $(WIN_LIB_OBJ)
	$(WIN_AR) rcs $@ $^

$(WIN_BUILD)/sockit.exe: $(WIN_CMD_OBJ) $(WIN_BUILD)/libsockit.a
	$(WIN_CC) -static -o $@ $(WIN_CMD_OBJ) $(WIN_BUILD)/libsockit.a $(WIN_LDLIBS)

$(WIN_BUILD)/unit-tests.exe: $(WIN_UNIT_OBJ) $(WIN_BUILD)/libsockit.a
	$(WIN_CC) -static -o $@ $(WIN_UNIT_OBJ) $(WIN_BUILD)/libsockit.a $(WIN_LDLIBS)

# The Windows build, then the unit tests under Wine, then the Windows
# integration tests (servers and clients on both sides of 127.0.0.1,
# Linux's build/sockit among them).  The Wine prefix is the one
# test_windows.py uses, made on first use; no display, no debug chatter.
# SOCKIT_REQUIRE_WINE=1: a missing Wine or sockit.exe fails the run
# instead of skipping it.
WIN_WINE    ?= wine
WIN_PREFIX  := /tmp/sockit-wine-$(shell id -u)
WIN_RUN     := env -u DISPLAY WINEDEBUG=-all WINEPREFIX=$(WIN_PREFIX) $(WIN_WINE)

test-windows: $(BIN) windows $(WIN_BUILD)/unit-tests.exe
	$(WIN_RUN) $(WIN_BUILD)/unit-tests.exe
	SOCKIT_REQUIRE_WINE=1 SOCKIT=$(abspath $(BIN)) SOCKIT_WIN=$(abspath $(WIN_BUILD)/sockit.exe) \
	    $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration/test_windows.py $(PYTEST_ARGS)


# Benchmark peers: small echo servers on other libraries, compiled with the
# same warnings.  A peer whose library is missing is skipped with a note.
PEER_DIR      := $(BUILD)/peers
PEER_CFLAGS   := -O2 -g -std=c11 -D_GNU_SOURCE $(WARNINGS)
HAVE_LIBUV    ?= $(shell printf '\043include <uv.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
HAVE_LIBEVENT ?= $(shell printf '\043include <event2/listener.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
PEERS         := $(PEER_DIR)/epoll_echo $(PEER_DIR)/udp_echo $(PEER_DIR)/node_echo.js
ifeq ($(HAVE_LIBUV),1)
PEERS         += $(PEER_DIR)/uv_echo
endif
ifeq ($(HAVE_LIBEVENT),1)
PEERS         += $(PEER_DIR)/event_echo
endif

.PHONY: peers bench

peers: $(PEERS)
ifneq ($(HAVE_LIBUV),1)
	@echo "peers: skipping uv_echo: libuv headers not found (apt-get install libuv1-dev)"
endif
ifneq ($(HAVE_LIBEVENT),1)
	@echo "peers: skipping event_echo: libevent headers not found (apt-get install libevent-dev)"
endif

$(PEER_DIR)/epoll_echo $(PEER_DIR)/udp_echo: $(PEER_DIR)/%: bench/peers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PEER_CFLAGS) -o $@ $<

$(PEER_DIR)/uv_echo: bench/peers/uv_echo.c
	@mkdir -p $(dir $@)
	$(CC) $(PEER_CFLAGS) -o $@ $< -luv

$(PEER_DIR)/event_echo: bench/peers/event_echo.c
	@mkdir -p $(dir $@)
	$(CC) $(PEER_CFLAGS) -o $@ $< -levent

$(PEER_DIR)/node_echo.js: bench/peers/node_echo.js
	@mkdir -p $(dir $@)
	cp $< $@

# Installs the packages it needs when run as root, builds, runs the
# comparison and rewrites BENCHMARKS.md and bench/results/.
bench:
	MAKE="$(MAKE)" BUILD="$(BUILD)" sh scripts/bench.sh

# Fuzzing: one libFuzzer harness per parser (tests/fuzz/fuzz_*.c, each
# saying what it feeds and asserts), built with clang, ASan and UBSan into
# build-fuzz/ and run for FUZZ_SECONDS each, starting from the seeds in
# tests/fuzz/corpus/<harness>/.  What a run adds to the corpus stays in
# build-fuzz/corpus/, logs in build-fuzz/logs/, and an input that fails a
# harness is saved in build-fuzz/crashes/<harness>/.  Not part of `make
# test`.  FUZZ_TARGETS picks harnesses; FUZZ_ARGS adds libFuzzer options.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 16384
FUZZ_BUILD   := build-fuzz
FUZZ_SAN     := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -g -O1 $(FUZZ_SAN) -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE \
                $(WARNINGS) -Isrc/lib -Itests/unit -MMD -MP
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS ?= $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_OBJ     := $(FUZZ_LIB_OBJ) $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/%.o) \
                $(FUZZ_BUILD)/tests/unit/fake_session.o

.PHONY: fuzz fuzz-check

fuzz: fuzz-check $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
	@failed=; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crashes/$$t $(FUZZ_BUILD)/logs; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s (log: $(FUZZ_BUILD)/logs/$$t.log)"; \
	    if $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
	        -timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t/ \
	        $(FUZZ_ARGS) $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t \
	        >$(FUZZ_BUILD)/logs/$$t.log 2>&1; then \
	        grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_BUILD)/logs/$$t.log | tail -n 1; \
	    else \
	        tail -n 30 $(FUZZ_BUILD)/logs/$$t.log; failed="$$failed $$t"; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then \
	    echo "fuzz: FAILED:$$failed (inputs in $(FUZZ_BUILD)/crashes/)"; exit 1; fi

# clang with its libFuzzer runtime, or a message saying what to install.
fuzz-check:
	@mkdir -p $(FUZZ_BUILD)
	@echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return !d && n; }' | \
	    $(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c - -o $(FUZZ_BUILD)/.fuzz-check \
	    >/dev/null 2>&1 || { \
	    echo "make fuzz needs clang and libFuzzer ('$(FUZZ_CC) -fsanitize=fuzzer' failed):"; \
	    echo "    apt-get install clang libclang-rt-14-dev"; exit 1; }

$(FUZZ_BUILD)/%.o: %.c | fuzz-check
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libsockit.a: $(FUZZ_LIB_OBJ)
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/tests/unit/fake_session.o \
                      $(FUZZ_BUILD)/libsockit.a
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ -lpthread -lm

.SECONDARY: $(FUZZ_OBJ)
-include $(FUZZ_OBJ:.o=.d)

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
-include $(WIN_LIB_OBJ:.o=.d) $(WIN_CMD_OBJ:.o=.d) $(WIN_UNIT_OBJ:.o=.d)
