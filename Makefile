# plumbd - node network daemon. See README.md.
#   make                build ./plumbd
#   make deps           install build/test/demo packages (Debian bookworm, apt-get)
#   make test           unit tests (cmocka) + end-to-end tests in network namespaces
#   make unit | e2e     one half of make test
#   make demo           the seed scenario in throwaway namespaces, ending with a ping
#   make check-asan     unit tests built with ASan+UBSan into build-asan/
#   make check-valgrind unit tests under valgrind
# tests/run.sh takes filters: make test T='ipam seed' runs matching tests only.

CC      ?= cc
PKGS    := libnl-3.0 libnl-route-3.0 yaml-0.1 sqlite3 jansson libnftables
BUILD   ?= build
BIN     ?= plumbd
OPT     ?= -O2
SAN     ?=
CFLAGS  ?= $(OPT) -g
CFLAGS  += $(SAN) -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Ireconciler -I$(BUILD)
LDFLAGS += $(SAN)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libnftables is opened on first use (nft.c), not linked: its headers only
PKG_LIBS   = $(shell pkg-config --libs $(filter-out libnftables,$(PKGS)) 2>/dev/null) -ldl

LIB_SRCS := $(filter-out reconciler/main.c,$(wildcard reconciler/*.c))
LIB_OBJS := $(LIB_SRCS:reconciler/%.c=$(BUILD)/%.o) $(BUILD)/embedded.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# Debian packages needed to build, test and demo. containernetworking-plugins
# is the reference peer for make bench; valgrind for check-valgrind.
DEPS := build-essential pkg-config libyaml-dev libnl-3-dev libnl-route-3-dev \
        libsqlite3-dev libjansson-dev libnftables-dev libcmocka-dev iproute2 \
        iputils-ping nftables sqlite3 dnsmasq-base containernetworking-plugins \
        valgrind procps systemd groff-base python3 \
        clang libclang-rt-14-dev

VALGRIND ?= valgrind --leak-check=full --error-exitcode=1 --errors-for-leak-kinds=definite,indirect -q
# Unit tests left out of check-valgrind (space-separated names, e.g. a slow
# root-only netlink test); empty = run them all.
VALGRIND_SKIP ?=
T ?=

.PHONY: all deps test unit unit-bins e2e demo check-asan check-valgrind clean

all: $(BIN)

# Quick no-op when every package is installed: one dpkg-query, no network.
# apt-get update runs only when something is missing.
deps:
	@missing=$$(for p in $(DEPS); do \
	    dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null | grep -qx installed || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing" $$missing; \
	  [ "$$(id -u)" = 0 ] || { echo "make deps: must run as root" >&2; exit 1; }; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

# test and demo re-enter make after deps, so pkg-config is asked only once
# the -dev packages are there (a fresh machine works with a single command).
test: deps
	@$(MAKE) --no-print-directory all unit-bins
	BUILD=$(BUILD) PLUMBD=$(abspath $(BIN)) tests/run.sh $(T)

unit: unit-bins
	BUILD=$(BUILD) tests/run.sh unit $(T)

unit-bins: $(UNIT_BINS)

e2e: all
	PLUMBD=$(abspath $(BIN)) tests/run.sh e2e $(T)

demo: deps
	@$(MAKE) --no-print-directory all
	PLUMBD=$(abspath $(BIN)) tools/demo.sh

# make bench [BENCH_N="100 1000"]: plumbd vs the CNI reference plugins and the
# ip -batch floor in throwaway namespaces; JSON in bench/results/ (tools/bench.sh).
BENCH_N ?= 100 1000
.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory all
	PLUMBD=$(abspath $(BIN)) tools/bench.sh $(BENCH_N)

check-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/plumbd OPT=-O1 \
	  SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined' \
	  build-asan/plumbd unit-bins
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  BUILD=build-asan tests/run.sh unit $(T)

# make fuzz [FUZZ_SECONDS=60]: libFuzzer on the DHCP client's packet parsing
# and state machine (tests/fuzz/fuzz_dhcp.c, seeds in tests/fuzz/corpus/),
# built with clang -fsanitize=fuzzer,address,undefined; new inputs go to
# $(BUILD)/fuzz-corpus/. The deterministic 100k-packet mutation loop of
# tests/unit/test_dhcp.c runs in every `make unit` (and under ASan in
# check-asan) without clang.
FUZZ_SECONDS ?= 20
FUZZ_CC ?= clang
.PHONY: fuzz
fuzz: | $(BUILD)
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz: needs clang and libclang-rt-14-dev (make deps)" >&2; exit 1; }
	$(FUZZ_CC) -g -O1 -std=gnu11 -D_GNU_SOURCE -Ireconciler -fsanitize=fuzzer,address,undefined \
	  -o $(BUILD)/fuzz_dhcp tests/fuzz/fuzz_dhcp.c reconciler/dhcp.c
	mkdir -p $(BUILD)/fuzz-corpus
	$(BUILD)/fuzz_dhcp -max_total_time=$(FUZZ_SECONDS) -max_len=1600 \
	  $(BUILD)/fuzz-corpus tests/fuzz/corpus

check-valgrind: unit-bins
	BUILD=$(BUILD) TEST_WRAPPER='$(VALGRIND)' TEST_SKIP='$(VALGRIND_SKIP)' tests/run.sh unit $(T)

$(BIN): $(BUILD)/main.o $(BUILD)/libplumbd.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(LDFLAGS)

$(BUILD)/%.o: reconciler/%.c reconciler/*.h | $(BUILD)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# state/*.sql (migrations) and schema/*.yaml are compiled into the binary.
$(BUILD)/embedded.c: $(wildcard state/*.sql) $(wildcard schema/*.yaml) tools/embed.sh | $(BUILD)
	sh tools/embed.sh $@ $(sort $(wildcard state/*.sql)) -- $(sort $(wildcard schema/*.yaml))

$(BUILD)/embedded.o: $(BUILD)/embedded.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libplumbd.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD):
	mkdir -p $(BUILD) $(BUILD)/tests

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libplumbd.a | $(BUILD)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libplumbd.a $(PKG_LIBS) -lcmocka $(LDFLAGS)

clean:
	rm -rf build build-asan plumbd

# ---- install and Debian package (dist/, examples/) ---------------------------
# make install [PREFIX=/usr/local] [DESTDIR=/scratch]: binary, plumbd(8), the
# systemd unit (ExecStart rewritten to $(SBINDIR)), bash completion, the seed
# examples and the Kubernetes manifests under $(DOCDIR).
# make deb: build/plumbd_<version>_<arch>.deb with dpkg-deb (PREFIX=/usr).
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/plumbd
UNITDIR     ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR  ?= /etc
VERSION     := $(shell sed -n 's/^\#define VERSION "\(.*\)"/\1/p' reconciler/main.c)
DEB_ARCH    := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_ROOT    := $(BUILD)/deb-root
DEB         := $(BUILD)/plumbd_$(VERSION)_$(DEB_ARCH).deb

.PHONY: install deb deploy-configmap

install: $(BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)/deploy \
	  $(DESTDIR)$(SYSCONFDIR)/plumbd/desired.d
	install -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/plumbd
	install -m 0644 dist/plumbd.8 $(DESTDIR)$(MANDIR)/man8/plumbd.8
	sed 's|/usr/sbin/plumbd|$(SBINDIR)/plumbd|g' dist/plumbd.service \
	  >$(DESTDIR)$(UNITDIR)/plumbd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/plumbd.service
	install -m 0644 dist/plumbd.bash-completion $(DESTDIR)$(BASHCOMPDIR)/plumbd
	install -m 0644 examples/*.yml $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 examples/deploy/*.yaml examples/deploy/README.md $(DESTDIR)$(DOCDIR)/deploy/

deb: $(BIN)
	rm -rf $(DEB_ROOT) $(DEB)
	$(MAKE) --no-print-directory -o $(BIN) install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr \
	  UNITDIR=/lib/systemd/system
	gzip -9n $(DEB_ROOT)/usr/share/man/man8/plumbd.8
	install -d $(DEB_ROOT)/DEBIAN
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' \
	  -e "s/@SIZE@/$$(du -sk $(DEB_ROOT) | cut -f1)/" dist/deb/control >$(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB)

# examples/deploy/configmap.yaml is generated from the seed files (checked in
# too; tests/e2e/package_deploy.sh fails when the two differ).
deploy-configmap:
	sh examples/deploy/gen-configmap.sh examples/*.yml >examples/deploy/configmap.yaml
