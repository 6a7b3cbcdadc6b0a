# sockit - build, test, demo and install.
#
#   make                 build build/sockit and build/libsockit.a
#   make test            unit tests, then integration tests over real sockets
#   make test-asan       the same with AddressSanitizer + UBSan (build-asan/)
#   make soak            the abuse tests at full size (~15 min; SOCKIT_SOAK=1)
#   make demo            start servers on loopback and tour the clients
#   make install PREFIX=/usr/local
#   make windows         build-win/sockit.exe with mingw-w64
#   make test-windows    the Windows build's tests under Wine
#   make peers           build the benchmark peers (bench/peers/) into build/peers/
#   make bench           sockit against the peers; writes BENCHMARKS.md (~25 min)
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

.PHONY: all test unit integration test-asan soak demo install clean

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

demo: $(BIN)
	SOCKIT=$(abspath $(BIN)) sh scripts/demo.sh

install: $(BIN) $(LIB)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/sockit
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/sockit
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libsockit.a
	install -m 644 src/lib/sk_*.h $(DESTDIR)$(PREFIX)/include/sockit/

clean:
	rm -rf build build-asan build-win

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

# The Windows build, then the Windows tests under Wine (servers and clients
# on both sides of 127.0.0.1, Linux's build/sockit among them).
test-windows: $(BIN) windows
	SOCKIT=$(abspath $(BIN)) SOCKIT_WIN=$(abspath $(WIN_BUILD)/sockit.exe) \
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

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
-include $(WIN_LIB_OBJ:.o=.d) $(WIN_CMD_OBJ:.o=.d) $(WIN_UNIT_OBJ:.o=.d)
