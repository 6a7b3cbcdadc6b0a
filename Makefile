# SPDX-License-Identifier: BSD-2-Clause
# sockit - build, test, demo and install.
#
#   make                 build build/sockit, build/libsockit.a and build/libsockit.so.*
#   make test            unit tests, then integration tests over real sockets
#   make test-asan       the same with AddressSanitizer + UBSan (build-asan/)
#   make soak            the abuse tests at full size (~15 min; SOCKIT_SOAK=1)
#   make test-tsan       the multi-threaded paths under ThreadSanitizer (build-tsan/)
#   make demo            start servers on loopback and tour the clients
#   make learn           rewrite docs/LEARN.md and docs/TRACE.md by running what they show
#   make install PREFIX=/usr/local   (make uninstall removes it again; DESTDIR too)
#   make test-api        build a C and a C++ program against the installed headers
#   make test-package    install, pkg-config, man pages, completion, the .debs (not in test)
#   make windows         build-win/sockit.exe with mingw-w64
#   make test-windows    the Windows build's tests under Wine
#   make peers           build the benchmark peers (bench/peers/) into build/peers/
#   make bench           sockit against the peers; writes BENCHMARKS.md (~25 min)
#   make fuzz            libFuzzer on every parser, FUZZ_SECONDS (60) each (build-fuzz/)
#
# SANITIZE=1 switches any target to the sanitizer build.

CC      ?= cc
PREFIX  ?= /usr/local
# Where install puts things; Debian's build sets LIBDIR to its multiarch
# directory (debian/rules).
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions

# The release, from the file VERSION (CMake reads it too); the shared
# library is libsockit.so.$(VERSION) with the soname libsockit.so.$(SOVERSION),
# which changes only when the ABI breaks.
VERSION   := $(shell cat VERSION)
SOVERSION := 0
# The first python3 that has pytest (Debian's python3-pytest).
PYTHON  ?= $(firstword $(foreach p,python3 /usr/bin/python3,$(shell $(p) -c 'import pytest' >/dev/null 2>&1 && echo $(p))) python3)

WARNINGS = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wno-format-nonliteral \
           -Wundef -Wvla
CFLAGS  ?= -O2 -g
# The sources, from src/sources.txt ("KIND PATH [ONLY]", see there):
# $(call sources,KIND,SKIP) names KIND's files but those marked SKIP (the
# other platform's) or msvc.  Every library folder is on the include path.
SOURCES_TXT := src/sources.txt
sources = $(shell awk '!/^\#/ && $$1 == "$(1)" && $$3 != "$(2)" && $$3 != "msvc" { print $$2 }' $(SOURCES_TXT))
LIB_DIRS := $(sort $(dir $(call sources,lib,none)))
INCLUDES := $(patsubst %/,-I%,$(LIB_DIRS))

CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARNINGS) -Iinclude $(INCLUDES) -MMD -MP
LDLIBS  += -lpthread -lm

# io_uring (the uring model) when Debian's liburing-dev is installed.
HAVE_URING ?= $(shell printf '\043include <liburing.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
ifeq ($(HAVE_URING),1)
CFLAGS  += -DSK_HAVE_URING=1
LDLIBS  += -luring
endif

# json-c: what the command writes and reads as JSON (src/cmd/cli_json.h;
# apt-get install libjson-c-dev pkg-config).  The Windows build uses
# cli_json_builtin.c instead.
JSONC_CFLAGS ?= $(shell pkg-config --cflags json-c 2>/dev/null || echo -I/usr/include/json-c)
JSONC_LIBS   ?= $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)

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

# The Windows halves (make windows) are never built here.
LIB_SRC  := $(call sources,lib,windows)
CMD_SRC  := $(call sources,cmd,windows)
UNIT_SRC := $(call sources,unit,windows)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

LIB   := $(BUILD)/libsockit.a
BIN   := $(BUILD)/sockit
UNIT  := $(BUILD)/unit-tests

# The shared library: the same sources compiled again with -fPIC into
# $(BUILD)/pic/ (the static library and the command keep their own
# objects, free of -fPIC's interposable calls), exporting only the public sk_ API
# (src/lib/libsockit.map), and linked against what it uses so that a
# program needs nothing but -lsockit.
SHLIB_REAL   := libsockit.so.$(VERSION)
SHLIB_SONAME := libsockit.so.$(SOVERSION)
SHLIB        := $(BUILD)/$(SHLIB_REAL)
SHLIB_MAP    := src/lib/libsockit.map
PIC_OBJ      := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)

.PHONY: all check-sources test unit integration test-api test-package test-asan test-tsan soak demo learn install uninstall clean

all: $(BIN) $(LIB) $(SHLIB)

# The build's configuration: the flags (HAVE_URING changes them once
# liburing-dev is installed) and the source list (a deleted file must
# leave the archive).  The stamp changes only when they do, and then
# everything is rebuilt.
BUILD_CONFIG := $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(LDLIBS) $(LIB_SRC) $(CMD_SRC)
$(BUILD)/config.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(BUILD_CONFIG)' | cmp -s - $@ || echo '$(BUILD_CONFIG)' > $@

.PHONY: FORCE
FORCE:

$(BUILD)/%.o: %.c $(BUILD)/config.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ) $(BUILD)/config.stamp
	rm -f $@
	$(AR) rcs $@ $(filter %.o,$^)

$(BUILD)/pic/%.o: %.c $(BUILD)/config.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c $< -o $@

# -z defs: a symbol the library uses but does not link is an error here,
# not a surprise in the program that loads it.
$(SHLIB): $(PIC_OBJ) $(SHLIB_MAP)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SHLIB_SONAME) -Wl,--version-script=$(SHLIB_MAP) \
	    -Wl,-z,defs -o $@ $(PIC_OBJ) $(LDLIBS)
	ln -sf $(SHLIB_REAL) $(BUILD)/$(SHLIB_SONAME)
	ln -sf $(SHLIB_SONAME) $(BUILD)/libsockit.so

# The version is printed by main.c and cli.c (--version, and the JSON's
# sockit_version) alone, so only they are rebuilt for a new one.
$(BUILD)/src/cmd/main.o $(BUILD)/src/cmd/cli.o: CFLAGS += -DSOCKIT_VERSION='"$(VERSION)"'
$(BUILD)/src/cmd/main.o $(BUILD)/src/cmd/cli.o: VERSION
$(CMD_OBJ): CFLAGS += $(JSONC_CFLAGS)

$(BIN): $(CMD_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJ) $(LIB) $(LDLIBS) $(JSONC_LIBS)

$(UNIT): $(UNIT_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(LIB) $(LDLIBS)

unit: $(UNIT)
	./$(UNIT)

# test_windows.py runs under `make test-windows` only.  SOCKIT_REQUIRE_URING=1
# (CI sets it) makes a uring model that did not build or cannot run fail
# its tests instead of skipping them; it is passed on only when given.
integration: $(BIN)
	$(if $(SOCKIT_REQUIRE_URING),SOCKIT_REQUIRE_URING=$(SOCKIT_REQUIRE_URING)) SOCKIT=$(abspath $(BIN)) $(PYTHON) -m pytest -q -rs -p no:cacheprovider tests/integration \
	    --ignore=tests/integration/test_windows.py $(PYTEST_ARGS)

# Every .c file in the tree must be named in src/sources.txt: one that is
# not would silently be built by neither the Makefile nor CMake.  Every C
# source and header (committed or not yet) must open with the licence
# line, /* SPDX-License-Identifier: BSD-2-Clause */ (see LICENSE).
SPDX_LINE := SPDX-License-Identifier: BSD-2-Clause
check-sources:
	@missing=$$(git ls-files 'src/*.c' 'tests/unit/*.c' 'tests/fuzz/*.c' 2>/dev/null | \
	    while read -r f; do awk -v f="$$f" '$$2 == f {found=1} END {exit !found}' $(SOURCES_TXT) \
	        || echo "$$f"; done); \
	if [ -n "$$missing" ]; then echo "check-sources: not in $(SOURCES_TXT): $$missing"; exit 1; fi
	@nospdx=$$(git ls-files --cached --others --exclude-standard '*.c' '*.h' '*.cpp' 2>/dev/null | \
	    while read -r f; do [ ! -e "$$f" ] || head -n 1 "$$f" | grep -qF '$(SPDX_LINE)' \
	        || echo "$$f"; done); \
	if [ -n "$$nospdx" ]; then \
	    echo "check-sources: no '$(SPDX_LINE)' on the first line of:" $$nospdx; exit 1; fi

# test and demo first make sure their Debian packages are there
# (scripts/need-packages: as root it installs them, otherwise it names the
# apt-get command), then run in a new make that sees them.
test:
	@sh scripts/need-packages test
	@$(MAKE) --no-print-directory check-sources unit test-api integration

# The abuse tests at RELIABILITY.md's sizes (30 s descriptor floods, 1,000
# idle clients, 10,000 resets and fork connections, 1 GiB across a 576-byte
# MTU) and the longer forms of the attack tests (UDP loops for 10 s, a
# 50 MB chat paste, 50,000 logged records a client): about 20 minutes, so
# not part of `make test`.
SOAK_TESTS = flood or idle_clients or resets or zombie or network_path or forged_datagram \
             or paste or log_keeps
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

demo:
	@sh scripts/need-packages demo
	@$(MAKE) --no-print-directory $(BIN)
	SOCKIT=$(abspath $(BIN)) sh scripts/demo.sh

# docs/LEARN.md is written by running what it shows (scripts/learn.py),
# docs/TRACE.md from real --trace runs (scripts/learn_trace.py); make test
# checks both (tests/integration/test_learn.py runs them with --check).
learn: $(BIN)
	SOCKIT=$(abspath $(BIN)) $(PYTHON) scripts/learn.py
	SOCKIT=$(abspath $(BIN)) $(PYTHON) scripts/learn_trace.py

# The public headers only: include/sockit/, reached as <sockit/sockit.h>.
# src/lib's headers are the library's own and are never installed.
PUBLIC_HEADERS := $(wildcard include/sockit/*.h)

# sockit.pc for pkg-config: a program links -lsockit alone against the
# shared library; -static (Libs.private) adds what libsockit.a needs.
PC_LIBS_PRIVATE := $(strip $(filter -l%,$(LDLIBS)))

install: $(BIN) $(LIB) $(SHLIB)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/sockit \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	    $(DESTDIR)$(BASHCOMPDIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/sockit
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libsockit.a
	install -m 644 $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SHLIB_REAL)
	ln -sf $(SHLIB_REAL) $(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME)
	ln -sf $(SHLIB_SONAME) $(DESTDIR)$(LIBDIR)/libsockit.so
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/sockit/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS_PRIVATE@|$(PC_LIBS_PRIVATE)|' \
	    sockit.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/sockit.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/sockit.pc
	install -m 644 man/sockit.1 $(DESTDIR)$(MANDIR)/man1/sockit.1
	install -m 644 man/libsockit.3 $(DESTDIR)$(MANDIR)/man3/libsockit.3
	install -m 644 completion/sockit.bash $(DESTDIR)$(BASHCOMPDIR)/sockit
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
	    echo ldconfig; ldconfig; fi

# Exactly what install put there; include/sockit goes too if that leaves
# it empty (bin, lib and the others are shared with everything else).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sockit $(DESTDIR)$(LIBDIR)/libsockit.a
	rm -f $(DESTDIR)$(LIBDIR)/$(SHLIB_REAL) $(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME) \
	    $(DESTDIR)$(LIBDIR)/libsockit.so
	rm -f $(PUBLIC_HEADERS:include/sockit/%=$(DESTDIR)$(INCLUDEDIR)/sockit/%)
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/sockit.pc
	rm -f $(DESTDIR)$(MANDIR)/man1/sockit.1 $(DESTDIR)$(MANDIR)/man3/libsockit.3
	rm -f $(DESTDIR)$(BASHCOMPDIR)/sockit
	-rmdir $(DESTDIR)$(INCLUDEDIR)/sockit 2>/dev/null

# The public API as a program outside the tree sees it: install into a
# scratch directory, check that only include/sockit's headers went there,
# build tests/api/api_c.c as strict C11 and api_cxx.cpp as C++11, both
# with -pedantic -Werror and no feature macros (no _GNU_SOURCE), against
# the installed headers and libsockit.a, run both (each serves echo on
# 127.0.0.1 port 0 and checks it), then uninstall and check that nothing
# is left.
CXX      ?= c++
API_DIR  := $(BUILD)/api-test
API_ROOT := $(abspath $(API_DIR))/root
API_WARN := -pedantic -Werror -Wall -Wextra
test-api: $(BIN) $(LIB)
	rm -rf $(API_DIR)
	$(MAKE) --no-print-directory install DESTDIR=$(API_ROOT) PREFIX=/usr
	cd $(API_ROOT)/usr/include/sockit && ls | sort > $(abspath $(API_DIR))/installed
	ls include/sockit | sort | cmp - $(API_DIR)/installed
	$(CC) -std=c11 $(API_WARN) -I$(API_ROOT)/usr/include -o $(API_DIR)/api_c \
	    tests/api/api_c.c $(LDFLAGS) $(API_ROOT)/usr/lib/libsockit.a $(LDLIBS)
	$(CXX) -std=c++11 $(API_WARN) -I$(API_ROOT)/usr/include -o $(API_DIR)/api_cxx \
	    tests/api/api_cxx.cpp $(LDFLAGS) $(API_ROOT)/usr/lib/libsockit.a $(LDLIBS)
	timeout 60 $(API_DIR)/api_c
	timeout 60 $(API_DIR)/api_cxx
	$(MAKE) --no-print-directory uninstall DESTDIR=$(API_ROOT) PREFIX=/usr
	@left=$$(find $(API_ROOT) ! -type d); if [ -n "$$left" ]; then \
	    echo "test-api: uninstall left $$left"; exit 1; fi
	@echo "test-api: public headers, C11 and C++11 programs, install and uninstall: ok"

# sockit as a user installs it (tests/package/run.sh says what it checks):
# make install into a scratch root, the man pages, pkg-config and programs
# built with its flags against the shared library, bash completion, make
# uninstall, and the Debian packages with lintian.  About a minute; not
# part of `make test`.  SOCKIT_SKIP_DEB=1 leaves out the .deb build.
test-package: all
	MAKE="$(MAKE)" BUILD="$(BUILD)" bash tests/package/run.sh

clean:
	rm -rf build build-asan build-tsan build-win build-fuzz build-cmake

# Windows: build-win/sockit.exe with mingw-w64 (apt-get install
# gcc-mingw-w64-x86-64), the same warnings as errors, and the test suite
# under Wine (apt-get install wine64).  The sources that only make sense
# on Linux (marked linux in src/sources.txt) are left out; the Windows
# halves (marked windows) take their place.
WIN_CC      ?= x86_64-w64-mingw32-gcc
WIN_AR      ?= x86_64-w64-mingw32-ar
WIN_BUILD   := build-win
WIN_CFLAGS  := -O2 -g -std=c11 $(WARNINGS) -Iinclude $(INCLUDES) -MMD -MP -D_WIN32_WINNT=0x0601 \
               -DFD_SETSIZE=1024 -D__USE_MINGW_ANSI_STDIO=1
WIN_LDLIBS  := -lws2_32 -lmswsock -liphlpapi
WIN_LIB_SRC := $(call sources,lib,linux)
WIN_CMD_SRC := $(call sources,cmd,linux)
WIN_LIB_OBJ := $(WIN_LIB_SRC:%.c=$(WIN_BUILD)/%.o)
WIN_CMD_OBJ := $(WIN_CMD_SRC:%.c=$(WIN_BUILD)/%.o)
WIN_UNIT_OBJ := $(UNIT_SRC:%.c=$(WIN_BUILD)/%.o)

.PHONY: windows test-windows

windows: $(WIN_BUILD)/sockit.exe $(WIN_BUILD)/libsockit.a

$(WIN_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CFLAGS) -c $< -o $@

$(WIN_BUILD)/src/cmd/main.o: WIN_CFLAGS += -DSOCKIT_VERSION='"$(VERSION)"'
$(WIN_BUILD)/src/cmd/main.o: VERSION

$(WIN_BUILD)/libsockit.a: $(WIN_LIB_OBJ)
	rm -f $@
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
GO            ?= go
HAVE_GO       ?= $(shell command -v $(GO) >/dev/null 2>&1 && echo 1)
PEERS         := $(PEER_DIR)/epoll_echo $(PEER_DIR)/udp_echo $(PEER_DIR)/node_echo.js
ifeq ($(HAVE_LIBUV),1)
PEERS         += $(PEER_DIR)/uv_echo
endif
ifeq ($(HAVE_LIBEVENT),1)
PEERS         += $(PEER_DIR)/event_echo
endif
ifeq ($(HAVE_GO),1)
PEERS         += $(PEER_DIR)/go_echo
endif

.PHONY: peers bench

peers: $(PEERS)
ifneq ($(HAVE_LIBUV),1)
	@echo "peers: skipping uv_echo: libuv headers not found (apt-get install libuv1-dev)"
endif
ifneq ($(HAVE_LIBEVENT),1)
	@echo "peers: skipping event_echo: libevent headers not found (apt-get install libevent-dev)"
endif
ifneq ($(HAVE_GO),1)
	@echo "peers: skipping go_echo: no Go compiler (apt-get install golang-go)"
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

# Go's build cache goes in the build directory: HOME may be unset or
# read-only where the benchmark runs.
$(PEER_DIR)/go_echo: bench/peers/go_echo.go
	@mkdir -p $(dir $@)
	GOCACHE=$(abspath $(PEER_DIR))/go-cache GO111MODULE=off $(GO) build -o $@ $<

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
                $(WARNINGS) -Iinclude $(INCLUDES) -Itests/unit -Isrc/cmd $(JSONC_CFLAGS) -MMD -MP
FUZZ_SRC     := $(call sources,fuzz,windows)
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
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/tests/unit/fake_session.o \
                      $(FUZZ_BUILD)/libsockit.a
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ -lpthread -lm

# The merge reader's harness reads through cli_json.h's json-c half.
$(FUZZ_BUILD)/fuzz_bench_merge: $(FUZZ_BUILD)/tests/fuzz/fuzz_bench_merge.o \
                                $(FUZZ_BUILD)/src/cmd/cli_json_jsonc.o \
                                $(FUZZ_BUILD)/tests/unit/fake_session.o $(FUZZ_BUILD)/libsockit.a
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ -lpthread -lm $(JSONC_LIBS)

.SECONDARY: $(FUZZ_OBJ)
-include $(FUZZ_OBJ:.o=.d)

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(PIC_OBJ:.o=.d)
-include $(WIN_LIB_OBJ:.o=.d) $(WIN_CMD_OBJ:.o=.d) $(WIN_UNIT_OBJ:.o=.d)
