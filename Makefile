# evshare - batch event-file redistributor.  See README.md.
#
#   make            build ./evshare (development flags: warnings are errors)
#   make demo       install missing Debian packages, build, run the bundled example
#   make check      install missing packages, build with ASan+UBSan, run every test
#   make unit       build and run the Check unit suites only (no sanitizers)
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS (clang)
#   make bench      scripts/bench (see PERFORMANCE.md), the filters' cost last
#   make bench-filter   only the filters' cost per event (tests/bench_filter.c)
#   make install    PREFIX=/usr/local DESTDIR= : binary, man pages, examples
#   make uninstall / clean / lint-man

VERSION    = 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/evshare
DESTDIR   ?=

CC        ?= cc
PKG_CONFIG ?= pkg-config
PKGS       = libcurl openssl zlib expat
BUILD     ?= build
OPT       ?= -O2 -g
WERROR    ?= -Werror
SANITIZE  ?=

WARN = -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wvla -Wwrite-strings \
       -Wmissing-prototypes -Wformat=2 $(WERROR)
# Faster codecs when present (scripts/install-deps installs them); zlib
# remains the portable path.  CODECS=zlib forces it.
CODECS    ?= auto
ifeq ($(CODECS),auto)
ifeq ($(shell $(PKG_CONFIG) --exists libdeflate 2>/dev/null && echo y),y)
PKGS      += libdeflate
CODEC_DEFS += -DHAVE_LIBDEFLATE
endif
ifeq ($(shell $(PKG_CONFIG) --exists libisal 2>/dev/null && echo y),y)
PKGS      += libisal
CODEC_DEFS += -DHAVE_ISAL
endif
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

ALL_CFLAGS  = $(WARN) $(OPT) $(SANITIZE) -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) $(CODEC_DEFS) \
              -DEVSHARE_VERSION='"$(VERSION)"' -MMD -MP $(CFLAGS)
ALL_LDFLAGS = $(SANITIZE) $(LDFLAGS)
LIBS_ALL    = $(PKG_LIBS) -lpthread -lm

# src/: the pipeline; src/cmd/: a file per command; src/store/: the
# object-store interface, the file store and the HTTP layer, with a folder
# per protocol (s3/ also serves gs://, az/)
SRC_DIRS  = src src/cmd src/store src/store/s3 src/store/az
LIB_SRCS  = $(filter-out src/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJS  = $(LIB_SRCS:src/%.c=$(BUILD)/src/%.o)
TEST_SRCS = $(wildcard tests/check_*.c)
TEST_OBJS = $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%.o)

.PHONY: all demo check check-build unit fuzz install uninstall \
        clean lint-man deps bench bench-filter FORCE
all: evshare

# a new file renamed into place: a running ./evshare keeps its own
evshare: $(BUILD)/evshare
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/evshare: $(BUILD)/src/main.o $(BUILD)/libevshare.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_ALL)

$(BUILD)/libevshare.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# Every tests/check_MODULE.c defines MODULE_suite(); collect the names.
# (regenerated every time, replaced only when it changes, so that removing
# a suite file is noticed too)
$(BUILD)/tests/suites.h: FORCE
	@mkdir -p $(dir $@)
	@sed -n 's/^Suite \*\([a-z0-9_]*\)_suite(void)$$/SUITE(\1)/p' $(TEST_SRCS) > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

FORCE:

$(BUILD)/tests/unit_main.o: tests/unit_main.c $(BUILD)/tests/suites.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -I$(BUILD)/tests -c -o $@ $<

$(BUILD)/check_unit: $(BUILD)/tests/unit_main.o $(TEST_OBJS) $(BUILD)/libevshare.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LIBS_ALL)

deps:
	@scripts/install-deps

unit: $(BUILD)/check_unit
	$(BUILD)/check_unit

demo:
	@scripts/install-deps --build
	@$(MAKE) --no-print-directory evshare
	@scripts/demo

# The test command of the README: every test, under ASan and UBSan.
ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g" \
	    SANITIZE="$(ASAN_FLAGS)" check-build
	@$(MAKE) --no-print-directory evshare   # a plain build too, for valgrind
	@$(MAKE) --no-print-directory lint-man
	@scripts/run-tests build/asan

check-build: $(BUILD)/evshare $(BUILD)/check_unit $(BUILD)/crashpoint.so

# test-only LD_PRELOAD shim that kills a run at a chosen file operation
$(BUILD)/crashpoint.so: tests/tools/crashpoint.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O1 -o $@ $< -ldl

lint-man:
	@scripts/lint-man man/evshare.1 man/evshare.json.5

bench: evshare $(BUILD)/bench_filter
	scripts/bench --bench-filter $(BUILD)/bench_filter

# what matching a filter costs per event, against parsing it (a program,
# not a test: it prints nanoseconds per event)
bench-filter: $(BUILD)/bench_filter
	$(BUILD)/bench_filter

$(BUILD)/bench/bench_filter.o: tests/bench_filter.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/bench_filter: $(BUILD)/bench/bench_filter.o $(BUILD)/libevshare.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_ALL)

install: evshare
	install -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(MANDIR)/man5' \
	    '$(DESTDIR)$(DOCDIR)/examples'
	install -m 0755 evshare '$(DESTDIR)$(BINDIR)/evshare'
	install -m 0644 man/evshare.1 '$(DESTDIR)$(MANDIR)/man1/evshare.1'
	install -m 0644 man/evshare.json.5 '$(DESTDIR)$(MANDIR)/man5/evshare.json.5'
	install -m 0644 README.md LICENSE '$(DESTDIR)$(DOCDIR)/'
	@set -e; dest='$(DESTDIR)$(DOCDIR)/examples'; \
	case "$$dest" in /*) ;; *) dest="$$PWD/$$dest" ;; esac; cd examples; \
	for d in $$(find . -name '.?*' -prune -o -type d -print | sort); do install -d "$$dest/$$d"; done; \
	for f in $$(find . -name '.?*' -prune -o -type f ! -name '*~' -print | sort); do \
	    f=$${f#./}; if [ -x "$$f" ]; then m=0755; else m=0644; fi; \
	    echo "install -m $$m examples/$$f $$dest/$$f"; install -m $$m "$$f" "$$dest/$$f"; \
	done

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/evshare' '$(DESTDIR)$(MANDIR)/man1/evshare.1' \
	    '$(DESTDIR)$(MANDIR)/man5/evshare.json.5' \
	    '$(DESTDIR)$(DOCDIR)/README.md' '$(DESTDIR)$(DOCDIR)/LICENSE'
	@set -e; dest='$(DESTDIR)$(DOCDIR)/examples'; \
	case "$$dest" in /*) ;; *) dest="$$PWD/$$dest" ;; esac; cd examples; \
	for f in $$(find . -name '.?*' -prune -o -type f -print); do rm -f "$$dest/$$f"; done; \
	for d in $$(find . -name '.?*' -prune -o -type d -print | sort -r); do \
	    rmdir "$$dest/$${d#.}" 2>/dev/null || true; done
	@rmdir '$(DESTDIR)$(DOCDIR)' 2>/dev/null || true

clean:
	rm -rf build evshare

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BUILD)/src/main.d $(BUILD)/bench/bench_filter.d

# libFuzzer targets (clang): tests/fuzz/run-fuzz builds the library with the
# rules above into build/fuzz/, links every tests/fuzz/fuzz_*.c against it,
# replays tests/fuzz/regressions/ and the corpora, then fuzzes each target.
FUZZ_SECONDS ?= 60
.PHONY: fuzz fuzz-brief
fuzz:
	tests/fuzz/run-fuzz $(FUZZ_SECONDS)

fuzz-brief:
	tests/fuzz/run-fuzz 5
