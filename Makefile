# linli: build, deps, test, demo, bench.
#   make            build build/linli
#   make test       unit + property + hostile tests, normal and ASan/UBSan builds
#   make demo       walk-through of a hub and committees
#   make bench      benchmarks (N=1000000 by default; make bench N=100000)
#   make bench-curve  the cost curve at N = 10k, 100k, 1M (CURVE_N=...)
# Every entry point first runs scripts/deps.sh, which installs missing
# Debian packages (and says which).

B ?= build
SAN ?=
CC ?= cc
PKGS = libzmq sqlite3 libsodium libprotobuf-c inih libutf8proc libmicrohttpd
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
              -Wno-unused-parameter -Wformat=2 -Wno-format-truncation -Wvla -g -I$(B)/gen -Icommon -Inode -Iproto
ifeq ($(SAN),1)
OPT = -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
OPT = -O2
endif
CFLAGS ?=
CFLAGS += $(CFLAGS_BASE) $(OPT) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
SANFLAGS = -fsanitize=address,undefined
LDFLAGS = $(if $(filter 1,$(SAN)),$(SANFLAGS))

PROTO = proto/linli.proto proto/sync.proto
GEN_C = $(B)/gen/linli.pb-c.c $(B)/gen/sync.pb-c.c
GEN_H = $(B)/gen/linli.pb-c.h $(B)/gen/sync.pb-c.h
LIB_SRC = $(wildcard common/*.c) $(filter-out node/main.c,$(wildcard node/*.c))
LIB_OBJ = $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRC)) $(B)/obj/gen/linli.pb-c.o $(B)/obj/gen/sync.pb-c.o $(B)/obj/gen/street_sql.o
TEST_SRC = $(wildcard tests/test_*.c)
TEST_BIN = $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))
SIM_SRC = $(wildcard simulations/*.c)
SIMX_SRC = $(wildcard simulations/sim/*.c)
SIM_BIN = $(patsubst simulations/%.c,$(B)/sim/%,$(SIM_SRC))

.PHONY: all deps test test-normal test-asan demo demo-web demo-offline bench bench-curve clean check-build sim
all: deps
	@$(MAKE) --no-print-directory $(B)/linli

deps:
	@sh scripts/deps.sh

# protoc-c writes every output in one run: a grouped target (&:, GNU make
# 4.3) runs it once, however many of its outputs make -j2 asks for at the
# same time; a plain rule with several targets ran once per target,
# concurrently, each run overwriting the others' files.
$(GEN_C) $(GEN_H) &: $(PROTO)
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen $(PROTO)

$(B)/obj/gen/%.pb-c.o: $(B)/gen/%.pb-c.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-shadow -c $< -o $@

$(B)/obj/%.o: %.c $(GEN_H) $(wildcard common/*.h node/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(B)/liblinli.a: $(LIB_OBJ)
	@ar rcs $@ $^

$(B)/linli: $(B)/obj/node/main.o $(B)/liblinli.a
	@echo "  LD  $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/%.c tests/testutil.h tests/testnode.h $(B)/liblinli.a
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) -Itests -o $@ $< $(B)/liblinli.a $(LDFLAGS) $(LDLIBS) -lcmocka

# The protocol test vectors of docs/protocol.md (tests/protocol_doc.t.sh compares its output).
$(B)/tests/gen_vectors: tests/vectors/gen_vectors.c $(B)/liblinli.a
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) -o $@ $< $(B)/liblinli.a $(LDFLAGS) $(LDLIBS)

$(B)/sim/%: simulations/%.c $(B)/liblinli.a
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) -Isimulations -o $@ $< $(B)/liblinli.a $(LDFLAGS) $(LDLIBS)

check-build: $(B)/linli $(TEST_BIN) $(SIM_BIN) $(B)/tests/gen_vectors $(B)/linli-sim $(if $(filter 1,$(SAN)),,$(B)/linli-sim-bug-lww $(B)/linli-sim-bug-cl)

# The deterministic simulator (issue: simulation harness).
$(B)/linli-sim: $(SIMX_SRC) simulations/sim/sim.h $(B)/liblinli.a
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) -Isimulations/sim -o $@ $(SIMX_SRC) $(B)/liblinli.a $(LDFLAGS) $(LDLIBS)

# Deliberate-bug builds: the simulator must catch each (tests/sim_bugs.t.sh).
BUGDEF_lww = LI_BUG_LWW_TIEBREAK
BUGDEF_cl = LI_BUG_CAUSAL_LENGTH
BUG_SRC = $(LIB_SRC) $(GEN_C) $(B)/gen/street_sql.c $(SIMX_SRC)
$(B)/linli-sim-bug-%: $(LIB_SRC) $(SIMX_SRC) $(GEN_H) $(B)/gen/street_sql.c simulations/sim/sim.h $(wildcard common/*.h node/*.h)
	@echo "  LD  $@ (deliberate bug $(BUGDEF_$*))"
	@$(CC) $(CFLAGS) -Wno-shadow -D$(BUGDEF_$*) -Isimulations/sim -o $@ $(BUG_SRC) $(LDFLAGS) $(LDLIBS)

# ---- installing (issue: run a street for real) ----
#   make install [PREFIX=/usr/local] [DESTDIR=...]   the binary, the man page (scdoc), example
#                                                    configs and the systemd unit linli-serve@
#   make deb                                         a .deb (debhelper) in build/deb/
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man/man1
DOCDIR = $(PREFIX)/share/doc/linli
STATEDIR ?= /var/lib/linli
# /usr's units live in /lib/systemd/system (Debian 12); any other prefix's in PREFIX/lib/systemd/system
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
.PHONY: install install-files deb deps-packaging

deps-packaging:
	@LINLI_NEED_PACKAGING=1 sh scripts/deps.sh

$(B)/linli.1: docs/linli.1.scd
	@mkdir -p $(B)
	scdoc < $< > $@

$(B)/linli-%@.service: config/linli-%@.service.in
	@mkdir -p $(B)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@STATEDIR@|$(STATEDIR)|g' $< > $@

install: deps deps-packaging
	@$(MAKE) --no-print-directory install-files

install-files: $(B)/linli $(B)/linli.1 $(B)/linli-serve@.service $(B)/linli-web@.service
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(UNITDIR)
	install -m 0755 $(B)/linli $(DESTDIR)$(BINDIR)/linli
	gzip -9n < $(B)/linli.1 > $(DESTDIR)$(MANDIR)/linli.1.gz
	chmod 0644 $(DESTDIR)$(MANDIR)/linli.1.gz
	install -m 0644 config/hub.conf.example config/committee.conf.example $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 $(B)/linli-serve@.service $(B)/linli-web@.service $(DESTDIR)$(UNITDIR)/

# The package is built from a copy of the tracked files (their working-tree
# content) in build/deb/src, so debian/'s build leaves the tree alone; the
# .deb lands in build/deb/.
deb: deps deps-packaging
	@rm -rf build/deb && mkdir -p build/deb/src
	@git ls-files -z | tar --null -T - -cf - | tar -xf - -C build/deb/src
	cd build/deb/src && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b
	@ls -l build/deb/*.deb

# make sim SEEDS=N: the simulator over seeds 1..N (the long run: SEEDS=10000)
SEEDS ?= 300
sim: deps
	@$(MAKE) --no-print-directory $(B)/linli-sim
	@$(B)/linli-sim --seeds 1..$(SEEDS) --jobs 2

# The test command of the README: normal build, then the same tests under
# ASan/UBSan. Both passes run whatever fails in the first (a build that
# fails counts as a failure of its pass); tests/summary.sh prints the
# closing "N passed, N failed, N skipped" line and fails when anything did.
# make test TESTS='test_merge schema_*' runs only the tests named (tests/run.sh).
export LINLI_TESTS = $(TESTS)
test: deps-test
	@rm -f build/test-normal.log build/asan/test-asan.log
	-@$(MAKE) --no-print-directory test-normal
	-@$(MAKE) --no-print-directory test-asan
	@sh tests/summary.sh build/test-normal.log build/asan/test-asan.log

test-normal:
	@rc=0; $(MAKE) --no-print-directory B=build check-build || rc=$$?; \
	  LINLI_BUILD_RC=$$rc sh tests/run.sh build build/test-normal.log

test-asan:
	@rc=0; $(MAKE) --no-print-directory B=build/asan SAN=1 check-build || rc=$$?; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LINLI_BUILD_RC=$$rc sh tests/run.sh build/asan build/asan/test-asan.log

demo: deps
	@$(MAKE) --no-print-directory $(B)/linli $(B)/sim/proxy
	@sh scripts/demo.sh $(B)/linli $(B)/sim/proxy

demo-web: deps
	@$(MAKE) --no-print-directory $(B)/linli $(B)/sim/proxy
	@DEMO_WEB_KEEP=1 sh scripts/demo.sh $(B)/linli $(B)/sim/proxy

demo-offline: deps
	@$(MAKE) --no-print-directory $(B)/linli
	@sh scripts/demo-bundle.sh $(B)/linli

# make bench: bench, bench_sync (end to end, fan-in 50 x N/50, convergence
# 50 x 1,000 after a cut) and bench_lock, then issue 14's table of figures
# (scripts/bench.sh). make bench-curve: the cost curve, one row per N of
# CURVE_N (scripts/bench_curve.sh; the 1M row alone takes minutes).
N ?= 1000000
CURVE_N ?= 10000 100000 1000000
bench: deps
	@$(MAKE) --no-print-directory $(B)/linli $(B)/sim/bench $(B)/sim/bench_sync $(B)/sim/bench_lock
	@sh scripts/bench.sh $(B) $(N)

bench-curve: deps
	@$(MAKE) --no-print-directory $(B)/sim/bench $(B)/sim/bench_sync
	@sh scripts/bench_curve.sh $(B) "$(CURVE_N)"

clean:
	rm -rf build

# The default schema, embedded in the binary so `linli init` needs no files.
$(B)/gen/street_sql.c: config/schema/street.sql
	@mkdir -p $(B)/gen
	{ echo 'const char li_street_sql[] ='; sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; echo ';'; } > $@

$(B)/obj/gen/street_sql.o: $(B)/gen/street_sql.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# ---- fuzzing (issue: hardening): libFuzzer harnesses of tests/fuzz/ ----
#   make fuzz [FUZZ_SECONDS=60]   each harness for FUZZ_SECONDS on a copy of its corpus
#   make fuzz-build               the library and harnesses, clang + ASan/UBSan, in build/fuzz
#   make fuzz-corpus              regenerates the seed corpora (tests/fuzz/gen_corpus.c)
# The library objects get -fsanitize=fuzzer-no-link (coverage, no main);
# the harnesses are linked with -fsanitize=fuzzer. docs/fuzzing.md says more.
FUZZ_B = build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_NAMES = $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out tests/fuzz/fuzz_util.c,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OPT = -O1 -fno-omit-frame-pointer -Wno-unknown-warning-option -fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_BIN = $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_NAMES))

.PHONY: deps-clang deps-test fuzz fuzz-build fuzz-bins fuzz-corpus

# deps with clang and the libFuzzer runtime (make test needs them for tests/fuzz_smoke.t.sh)
deps-clang:
	@LINLI_NEED_CLANG=1 sh scripts/deps.sh

# make test's deps: the above, and the packaging tools tests/readme_street.t.sh builds the .deb with
deps-test:
	@LINLI_NEED_CLANG=1 LINLI_NEED_PACKAGING=1 sh scripts/deps.sh

fuzz: deps-clang
	@$(MAKE) --no-print-directory fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-build:
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang OPT='$(FUZZ_OPT)' fuzz-bins

fuzz-bins: $(FUZZ_BIN)

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h $(B)/liblinli.a
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) -Itests/fuzz -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< tests/fuzz/fuzz_util.c $(B)/liblinli.a $(LDLIBS)

$(B)/tests/fuzz_gen_corpus: tests/fuzz/gen_corpus.c tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h $(B)/liblinli.a
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) -Itests/fuzz -o $@ $< tests/fuzz/fuzz_util.c $(B)/liblinli.a $(LDFLAGS) $(LDLIBS)

fuzz-corpus: deps
	@$(MAKE) --no-print-directory $(B)/tests/fuzz_gen_corpus
	@$(B)/tests/fuzz_gen_corpus tests/fuzz/corpus
