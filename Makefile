# sockit - build, test, demo and install.
#
#   make                 build build/sockit and build/libsockit.a
#   make test            unit tests, then integration tests over real sockets
#   make test-asan       the same with AddressSanitizer + UBSan (build-asan/)
#   make demo            start servers on loopback and tour the clients
#   make install PREFIX=/usr/local
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
LDLIBS  += -lpthread

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

LIB_SRC  := $(filter-out src/lib/compat_win.c,$(wildcard src/lib/*.c))
CMD_SRC  := $(wildcard src/cmd/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

LIB   := $(BUILD)/libsockit.a
BIN   := $(BUILD)/sockit
UNIT  := $(BUILD)/unit-tests

.PHONY: all test unit integration test-asan demo install clean

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

integration: $(BIN)
	SOCKIT=$(abspath $(BIN)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration $(PYTEST_ARGS)

test: unit integration

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
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
