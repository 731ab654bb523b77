# smtpproxy: one plain Makefile.
#   make            ./smtpproxy (release build, objects in build/rel)
#   make asan       build/asan/smtpproxy (AddressSanitizer + UBSan)
#   make test       install test dependencies, unit tests, end-to-end tests
#   make run        install what is missing, start a demo on 127.0.0.1
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        build/deb/smtpproxy_VERSION_ARCH.deb (tools/deb.sh)
#   make lint       warnings as errors, mandoc -Tlint, cppcheck
#   make bench      the benchmark (bench/); BENCH_SRVCOST=1: bench-server too
#   make bench-server  server mode's costs: fork, CPU, handshake, PROXY header
#   make fuzz       libFuzzer targets (tests/fuzz), FUZZ_TIME s each (60)
#   make fuzz-smoke the same, FUZZ_SMOKE_TIME s each (3); fails on a crash
#   make load       200 clients and a slow-loris run on loopback (tests/load),
#                   under xinetd and in server mode (LOAD_MODE)
#   make valgrind   build/vg/smtpproxy under memcheck over part of the bats suite
#   make coverage   build/cov (gcov): unit + bats, line coverage per module

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR	?=
CC	?= cc

PKGS	 = openssl libsasl2 libcares libbsd hiredis
# OpenSSL and libsasl2 are dlopen()ed at the first STARTTLS and the first
# AUTH (dl.c): headers only
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wformat=2 -Wno-format-nonliteral
CFLAGS	?= -O2 -g
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(WARN) -D_FORTIFY_SOURCE=2 \
	   -fstack-protector-strong -I. $(CFLAGS) $(EXTRA_CFLAGS) \
	   $$(pkg-config --cflags $(PKGS))
# c-ares, libbsd, tinycdb, hiredis, libspf2 (no .pc file) and LMDB are
# linked statically: every session is a fresh exec, and each shared library
# costs it loading and relocation; libspf2's own resolver, never called,
# needs libresolv
LIBS	 = -Wl,-Bstatic $$(pkg-config --libs --static libcares libbsd hiredis) \
	   -lcdb -lspf2 -llmdb -Wl,-Bdynamic -lresolv -ldl
SAN	 = -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined

CDBSRCS	 = cdb/cdb_read.c cdb/cdb_write.c
SRCS	 = smtpproxy.c log.c iobuf.c conf/conf.c backend/backend.c backend/backend_ext.c \
	   smtp/smtp_session.c smtp/smtp_parse.c smtp/smtp_data.c \
	   smtp/smtp_helo.c server/server.c server/server_limit.c \
	   relay/relay.c rbl/rbl_dns.c rbl/rbl_score.c rbl/rbl_names.c \
	   rbl/rbl_conf.c rbl/rbl_spf.c \
	   auth/auth_sasl.c auth/auth_policy.c auth/auth_b64.c \
	   tls/tls.c dl.c proxy/proxy_parse.c proxy/proxy_read.c \
	   greylist/greylist.c greylist/greylist_state.c \
	   greylist/greylist_lmdb.c greylist/greylist_redis.c redis/redis.c \
	   $(CDBSRCS)
LIBSRCS	 = $(filter-out smtpproxy.c,$(SRCS))
HDRS	 = log.h iobuf.h version.h conf/conf.h backend/backend.h smtp/smtp.h \
	   relay/relay.h cdb/cdb.h rbl/rbl.h tls/tls.h auth/auth.h dl.h \
	   server/server.h proxy/proxy.h greylist/greylist.h redis/redis.h
TOOLS	 = tools/mkcdb tools/popwatch
UNITS	 = test_parse test_data test_conf test_cdb test_popwatch test_rbl \
	   test_helo test_b64 test_server test_proxy test_greylist
POPWATCH = tools/popwatch.c tools/popwatch_match.c

REL	 = build/rel
ASAN	 = build/asan
UNIT	 = build/unit
VG	 = build/vg
COV	 = build/cov

.PHONY: all asan unit test run stop install lint bench bench-server clean deps deps-test
.PHONY: deb deb-lint
.PHONY: fuzz fuzz-smoke
.PHONY: load valgrind coverage

all: smtpproxy $(TOOLS)

asan: $(ASAN)/smtpproxy $(ASAN)/mkcdb $(ASAN)/popwatch

unit: $(UNITS:%=$(UNIT)/%)

# The four builds of the same sources, each with its objects in its own
# directory, written once by build_rules from these variables:
#   rel   ./smtpproxy, tools/mkcdb, tools/popwatch (make, make install)
#   asan  AddressSanitizer + UBSan, and the unit tests (make test)
#   vg    no sanitizer, -O0 -g, for memcheck (make valgrind)
#   cov   --coverage -O0, for gcov (make coverage)
# NAME_cflags: what the compiler gets besides CFLAGS_ALL; NAME_ldflags: what
# the linker gets; NAME_proxy, NAME_mkcdb, NAME_popwatch: the programs;
# NAME_unit: the directory of the unit tests (none when empty).
rel_cflags	=
rel_ldflags	= $(LDFLAGS)
rel_proxy	= smtpproxy
rel_mkcdb	= tools/mkcdb
rel_popwatch	= tools/popwatch
rel_unit	=
asan_cflags	= -O1 $(SAN)
asan_ldflags	= $(SAN)
asan_proxy	= $(ASAN)/smtpproxy
asan_mkcdb	= $(ASAN)/mkcdb
asan_popwatch	= $(ASAN)/popwatch
asan_unit	= $(UNIT)
vg_cflags	= $(NOOPT)
vg_ldflags	=
vg_proxy	= $(VG)/smtpproxy
vg_mkcdb	= $(VG)/mkcdb
vg_popwatch	= $(VG)/popwatch
vg_unit		=
cov_cflags	= $(NOOPT) $(COVFLAGS)
cov_ldflags	= $(COVFLAGS)
cov_proxy	= $(COV)/smtpproxy
cov_mkcdb	= $(COV)/mkcdb
cov_popwatch	= $(COV)/popwatch
cov_unit	= $(COV)/unit

# build_rules NAME DIR: the rules of build NAME, objects in DIR. Each
# compile writes DIR/x.d (-MMD -MP: the headers x.c includes), read back
# below, so touching a header rebuilds only what includes it; an object
# without its .d (an older build) is rebuilt. A unit test links the
# library objects (test_popwatch: popwatch_match.o only).
define build_rules
$(2)/%.o: %.c $(2)/%.d
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS_ALL) $$($(1)_cflags) -MMD -MP -c -o $$@ $$<

$($(1)_proxy): $(SRCS:%.c=$(2)/%.o)
	$$(CC) $$($(1)_ldflags) -o $$@ $$^ $$(LIBS)

$($(1)_mkcdb): $(2)/tools/mkcdb.o $(2)/conf/conf.o $(2)/rbl/rbl_conf.o $(2)/log.o \
	    $(CDBSRCS:%.c=$(2)/%.o)
	$$(CC) $$($(1)_ldflags) -o $$@ $$^ $$(LIBS)

$($(1)_popwatch): $(POPWATCH:%.c=$(2)/%.o) $(2)/log.o \
	    $(2)/conf/conf.o $(2)/rbl/rbl_conf.o $(2)/redis/redis.o \
	    $(CDBSRCS:%.c=$(2)/%.o)
	$$(CC) $$($(1)_ldflags) -o $$@ $$^ $$(LIBS)

$(1)_deps = $(patsubst %.c,$(2)/%.d,$(SRCS) tools/mkcdb.c $(POPWATCH))
ifneq ($($(1)_unit),)
$($(1)_unit)/%: tests/unit/%.c $(2)/tests/unit/%.d $(LIBSRCS:%.c=$(2)/%.o)
	$$(call unit_link,$(1),$(2))

$($(1)_unit)/test_popwatch: tests/unit/test_popwatch.c \
	    $(2)/tests/unit/test_popwatch.d $(2)/tools/popwatch_match.o
	$$(call unit_link,$(1),$(2))

$(1)_deps += $(UNITS:%=$(2)/tests/unit/%.d)
endif
$$($(1)_deps):
-include $$(wildcard $$($(1)_deps))
endef

# unit_link NAME DIR: the recipe of a unit test in build NAME (objects in
# DIR): compile tests/unit/TEST.c and link it with the objects among its
# prerequisites; its .d goes to DIR/tests/unit/TEST.d
define unit_link
@mkdir -p $(@D) $(2)/tests/unit
$(CC) $(CFLAGS_ALL) $($(1)_cflags) -MMD -MP -MF $(2)/tests/unit/$(@F).d \
    -MT $@ -o $@ $< $(filter %.o,$^) $(LIBS)
endef

$(eval $(call build_rules,rel,$(REL)))
$(eval $(call build_rules,asan,$(ASAN)))
$(eval $(call build_rules,vg,$(VG)))
$(eval $(call build_rules,cov,$(COV)))

deps:
	sh tools/deps.sh build

deps-test:
	sh tools/deps.sh test

test: deps-test
	$(MAKE) -j$$(nproc) asan unit
	$(MAKE) -j$$(nproc) fuzz-smoke
	tests/run

run:
	sh tools/deps.sh run
	$(MAKE) all
	bash tools/demo.sh

stop:
	bash tools/demo.sh stop

install: smtpproxy $(TOOLS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/smtpproxy \
	    $(DESTDIR)$(SYSCONFDIR)/xinetd.d
	install -m 755 smtpproxy $(DESTDIR)$(SBINDIR)/smtpproxy
	install -m 755 tools/mkcdb $(DESTDIR)$(SBINDIR)/mkcdb
	install -m 755 tools/popwatch $(DESTDIR)$(SBINDIR)/popwatch
	install -m 644 man/smtpproxy.8 man/mkcdb.8 man/popwatch.8 \
	    $(DESTDIR)$(MANDIR)/man8/
	install -m 644 man/smtpproxy.conf.5 $(DESTDIR)$(MANDIR)/man5/
	# backend_ehlo_cache: written by the sessions, as the default user
	install -d -m 755 $(DESTDIR)/var/lib/smtpproxy
	-chown nobody:nogroup $(DESTDIR)/var/lib/smtpproxy 2>/dev/null
	test -e $(DESTDIR)$(SYSCONFDIR)/smtpproxy/smtpproxy.conf || \
	    install -m 644 etc/smtpproxy.conf $(DESTDIR)$(SYSCONFDIR)/smtpproxy/
	test -e $(DESTDIR)$(SYSCONFDIR)/xinetd.d/smtpproxy || \
	    sed 's|/usr/local/sbin/|$(SBINDIR)/|' xinetd.d/smtpproxy \
	    > $(DESTDIR)$(SYSCONFDIR)/xinetd.d/smtpproxy
	test -e $(DESTDIR)$(SYSCONFDIR)/xinetd.d/smtpproxy-server || \
	    sed 's|/usr/local/sbin/|$(SBINDIR)/|' xinetd.d/smtpproxy-server \
	    > $(DESTDIR)$(SYSCONFDIR)/xinetd.d/smtpproxy-server
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	for f in smtpproxy.socket smtpproxy.service smtpproxy-exec.socket \
	    smtpproxy-exec@.service; do \
	    sed 's|/usr/local/sbin/|$(SBINDIR)/|' etc/systemd/$$f \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$f || exit 1; done

# The Debian package (debian/, dh): the .deb, its -dbgsym, the source
# package and the .changes land in build/deb/; `make deb-lint` runs lintian
# on them.  VERSION comes from version.h.
deb:
	sh tools/deb.sh

deb-lint:
	lintian --fail-on error,warning \
	    build/deb/smtpproxy_$$(sed -n 's/^#define SMTPPROXY_VERSION "\(.*\)"$$/\1/p' version.h)_$$(dpkg-architecture -qDEB_HOST_ARCH).changes

lint:
	for f in $(SRCS) tools/mkcdb.c $(POPWATCH); do \
	    $(CC) $(CFLAGS_ALL) -Werror -fsyntax-only $$f || exit 1; done
	mandoc -Tlint -Wwarning man/*.[0-9]
	tools/doccheck
	if command -v cppcheck >/dev/null; then \
	    cppcheck --quiet --error-exitcode=1 --std=c11 -I. \
	    --suppress=missingIncludeSystem $(SRCS); fi

bench: deps
	$(MAKE) all
	sh bench/run
	if [ -n "$$BENCH_SRVCOST" ]; then bench/srvcost; fi

# server mode's costs: fork, CPU per session, handshake, perf, the PROXY
# header, the parent's RSS (bench/srvcost; SRVCOST_* in its header)
bench-server: deps
	$(MAKE) all
	bench/srvcost

# libFuzzer targets, tests/fuzz/fuzz_*.c (each says what it checks), with
# clang and Debian's libclang-rt-14-dev; each links only the project files
# it needs.  tests/fuzz/run works on a copy of the seed corpus and keeps
# crashing inputs in build/fuzz/artifacts/<target>/.
FUZZ_CC	 ?= clang
FUZZ_TIME ?= 60
FUZZ_SMOKE_TIME ?= 3
FUZZ_TARGETS ?= command data conf mkcdb popwatch auth rbl proxy
FUZZ	 = build/fuzz
FUZZ_CFLAGS = -fsanitize=fuzzer,address,undefined \
	   -fno-sanitize-recover=undefined -g -O1 -std=c11 -D_GNU_SOURCE -I. \
	   $$(pkg-config --cflags $(PKGS))
FUZZ_command	= smtp/smtp_parse.c
FUZZ_data	= smtp/smtp_data.c
FUZZ_conf	= conf/conf.c rbl/rbl_conf.c
FUZZ_mkcdb	= $(CDBSRCS) conf/conf.c rbl/rbl_conf.c log.c
FUZZ_popwatch	= tools/popwatch_match.c
FUZZ_auth	= auth/auth_b64.c auth/auth_sasl.c tls/tls.c dl.c iobuf.c log.c \
		  smtp/smtp_helo.c smtp/smtp_parse.c conf/conf.c rbl/rbl_conf.c
FUZZ_rbl	= rbl/rbl_names.c conf/conf.c rbl/rbl_conf.c
FUZZ_proxy	= proxy/proxy_parse.c

$(FUZZ)/fuzz_%: tests/fuzz/fuzz_%.c $(LIBSRCS) $(POPWATCH) $(HDRS) \
	    tools/popwatch.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_$*) $(LIBS)

fuzz: $(FUZZ_TARGETS:%=$(FUZZ)/fuzz_%)
	sh tests/fuzz/run $(FUZZ_TIME) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_TARGETS:%=$(FUZZ)/fuzz_%)
	sh tests/fuzz/run $(FUZZ_SMOKE_TIME) $(FUZZ_TARGETS)

# make load: tests/load/run against ./smtpproxy (LOAD_* variables there).
# make valgrind: smtpproxy without sanitizers, -O0 -g, in build/vg, run by
# tests/valgrind/run under memcheck over VG_TESTS (bats files).
# make coverage: everything with --coverage -O0 in build/cov; tests/coverage/run
# runs the unit tests and every bats file against it, then reports gcov's
# line coverage per module.
NOOPT	 = -O0 -g -U_FORTIFY_SOURCE
COVFLAGS = --coverage
VG_TESTS ?= core_session core_delivery relay_tables auth_sasl

load: deps-test
	$(MAKE) all
	tests/load/run

valgrind: deps-test
	$(MAKE) $(VG)/smtpproxy asan
	tests/valgrind/run $(VG_TESTS)

coverage: deps-test
	$(MAKE) asan $(COV)/smtpproxy $(COV)/mkcdb $(COV)/popwatch \
	    $(UNITS:%=$(COV)/unit/%)
	tests/coverage/run

clean:
	rm -rf build smtpproxy $(TOOLS)
