# vigil — one entry point.  `make help` lists the targets.
#   make            build build/vigil (BPF skeleton embedded)
#   make run        install build deps, build, run the sensor (live tail)
#   make test       install test deps, unit + end-to-end suites (root)
#   make test-unit  cmocka suites only: seconds, no privileges
#   make bench      benchmarks -> BENCHMARKS.md (QUICK=1 for a short pass)
#   make image      FROM scratch sensor image (static binary)
# Options: BUILD=dir (out-of-tree, default build/), V=1, SAN=1 (ASan+UBSan),
#          STATIC=1 (fully static binary)

ARCH ?= $(shell uname -m | sed -e 's/aarch64/arm64/')
BPF_ARCH := $(subst x86_64,x86,$(ARCH))
BUILD ?= build
ifeq ($(SAN),1)
override BUILD := $(BUILD)-san
endif

CC ?= cc
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wno-unused-parameter -Wno-missing-field-initializers -fno-strict-aliasing \
	-D_GNU_SOURCE -Iinclude -I$(BUILD) -MMD -MP
LDLIBS := -lbpf -lelf -lz -lyaml -lpthread
ifeq ($(SAN),1)
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(STATIC),1)
override LDFLAGS += -static
# libelf.a needs libzstd.a only where elfutils was built with zstd (not Debian 12)
ZSTD_A := $(shell $(CC) -print-file-name=libzstd.a)
LDLIBS := -Wl,--start-group -lbpf -lelf -lz -lyaml $(if $(filter /%,$(ZSTD_A)),-lzstd) \
	-lpthread -Wl,--end-group
endif

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -D__VIGIL_BPF__ \
	-Ivmlinux/$(ARCH) -Iinclude -Wall -Werror -Wno-unused-function -MMD -MP

BPF_SRC := bpf/vigil.bpf.c
BPF_OBJ := $(BUILD)/vigil.bpf.o
SKEL := $(BUILD)/vigil.skel.h

SRCS := $(wildcard src/*.c)
OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
# objects that include the BPF skeleton; unit tests never link them
BPF_USERS := $(BUILD)/obj/loader.o $(BUILD)/obj/check.o
UNIT_LIB := $(BUILD)/libvigil-unit.a
UNIT_OBJS := $(filter-out $(BUILD)/obj/cli.o $(BUILD)/obj/agent.o $(BPF_USERS),$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS := $(wildcard tests/bin/*.c)
TOOL_BINS := $(patsubst tests/bin/%.c,$(BUILD)/bin/%,$(TOOL_SRCS))

.PHONY: all floor run test test-unit test-e2e bench image install deps deps-test clean help check-format

all: $(BUILD)/vigil $(TOOL_BINS)

$(BUILD)/obj $(BUILD)/tests $(BUILD)/bin:
	$(Q)mkdir -p $@

$(BPF_OBJ): $(BPF_SRC) | $(BUILD)/obj
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BPF_OBJ)
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name vigil_bpf > $@.tmp && mv $@.tmp $@

$(BPF_USERS): $(SKEL)

# the version in a header rewritten only when it changes: a commit without
# other changes to cli.c still gets its own version string
VERSION_H := $(BUILD)/vigil_version.h
$(VERSION_H): FORCE | $(BUILD)/obj
	$(Q)v='#define VIGIL_VERSION "$(VERSION)"'; \
	[ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" > $@
$(BUILD)/obj/cli.o: $(VERSION_H)
.PHONY: FORCE
FORCE:

$(BUILD)/obj/%.o: src/%.c | $(BUILD)/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/vigil: $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# unit tests link an archive: each pulls only the modules it uses
$(UNIT_LIB): $(UNIT_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# the sink suite stands in for a file system that stops taking writes
$(BUILD)/tests/test_sinks: LDFLAGS += -Wl,--wrap=write
# the syslog suite closes the collector's end between two sends
$(BUILD)/tests/test_sink_syslog: LDFLAGS += -Wl,--wrap=send

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_LIB) | $(BUILD)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(UNIT_LIB) $(LDLIBS) -lcmocka

# trigger and workload binaries for e2e tests and benchmarks: static, so they
# run in FROM-scratch style test images
$(BUILD)/bin/%: tests/bin/%.c | $(BUILD)/bin
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -static -o $@ $<

# LD_PRELOAD shims for e2e tests (the wall clock of one process, stepped)
TEST_LIB_SRCS := $(wildcard tests/lib/*.c)
TEST_LIBS := $(patsubst tests/lib/%.c,$(BUILD)/lib/%.so,$(TEST_LIB_SRCS))
$(BUILD)/lib:
	$(Q)mkdir -p $@

$(BUILD)/lib/%.so: tests/lib/%.c | $(BUILD)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -shared -fPIC -o $@ $< -ldl

# the bench's stats-floor probe (tools/bench/run builds it through here):
# empty BPF programs, with vigil's BPF flags, and their loader
FLOOR := $(BUILD)/bench/floor.bpf.o $(BUILD)/bench/floor
$(BUILD)/bench:
	$(Q)mkdir -p $@

$(BUILD)/bench/floor.bpf.o: tests/bench/floor.bpf.c | $(BUILD)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench/floor: tests/bench/floor.c | $(BUILD)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lbpf

floor: $(FLOOR)

deps:
	$(Q)tools/install-deps build

deps-test:
	$(Q)tools/install-deps test

run: deps all
	$(BUILD)/vigil run $(ARGS)

test-unit: $(UNIT_BINS)
	$(Q)tools/run-unit $(UNIT_BINS)

test-e2e: all $(TEST_LIBS)
	$(Q)BUILD=$(BUILD) tests/e2e/run $(E2E)

test: deps-test
	$(Q)$(MAKE) --no-print-directory test-unit
	$(Q)$(MAKE) --no-print-directory test-e2e

bench: deps-test all
	$(Q)BUILD=$(BUILD) QUICK=$(QUICK) tools/bench/run

image:
	$(Q)tools/build-image

install: all
	install -D -m 0755 $(BUILD)/vigil $(DESTDIR)/usr/local/sbin/vigil

check-format:
	$(Q)clang-format --dry-run --Werror src/*.c include/vigil/*.h bpf/*.c bpf/*.h

clean:
	rm -rf build build-*

help:
	@sed -n '2,11p' Makefile | sed 's/^# \{0,1\}//'

-include $(OBJS:.o=.d) $(BPF_OBJ:.o=.d)
