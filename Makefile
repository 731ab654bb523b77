# smtpproxy: one plain Makefile.
#   make            ./smtpproxy (release build, objects in build/rel)
#   make asan       build/asan/smtpproxy (AddressSanitizer + UBSan)
#   make test       install test dependencies, unit tests, end-to-end tests
#   make run        install what is missing, start a demo on 127.0.0.1
#   make install    PREFIX=/usr/local DESTDIR=
#   make lint       warnings as errors, mandoc -Tlint, cppcheck
#   make bench      the benchmark (bench/)

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR	?=
CC	?= cc

PKGS	 = openssl libsasl2 libcares libbsd
# OpenSSL is dlopen()ed at the first STARTTLS (auth/auth_tls.c): headers only
LINKPKGS = libsasl2 libcares libbsd
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wformat=2 -Wno-format-nonliteral
CFLAGS	?= -O2 -g
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(WARN) -D_FORTIFY_SOURCE=2 \
	   -fstack-protector-strong -I. $(CFLAGS) $(EXTRA_CFLAGS) \
	   $$(pkg-config --cflags $(PKGS))
LIBS	 = $$(pkg-config --libs $(LINKPKGS)) -lcdb -ldl
SAN	 = -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined

CDBSRCS	 = cdb/cdb_read.c cdb/cdb_write.c
SRCS	 = smtpproxy.c log.c iobuf.c conf/conf.c backend/backend.c \
	   smtp/smtp_session.c smtp/smtp_parse.c smtp/smtp_data.c \
	   smtp/smtp_helo.c \
	   relay/relay.c rbl/rbl.c rbl/rbl_names.c auth/auth_tls.c \
	   auth/auth_sasl.c auth/auth_policy.c $(CDBSRCS)
LIBSRCS	 = $(filter-out smtpproxy.c,$(SRCS))
HDRS	 = log.h iobuf.h version.h conf/conf.h backend/backend.h smtp/smtp.h \
	   relay/relay.h cdb/cdb.h rbl/rbl.h auth/auth.h
TOOLS	 = tools/mkcdb tools/popwatch
UNITS	 = test_parse test_data test_conf test_cdb test_popwatch test_rbl \
	   test_helo
POPWATCH = tools/popwatch.c tools/popwatch_match.c

REL	 = build/rel
ASAN	 = build/asan
UNIT	 = build/unit

.PHONY: all asan unit test run stop install lint bench clean deps deps-test

all: smtpproxy $(TOOLS)

smtpproxy: $(SRCS:%.c=$(REL)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

tools/mkcdb: $(REL)/tools/mkcdb.o $(REL)/conf/conf.o $(CDBSRCS:%.c=$(REL)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

tools/popwatch: $(POPWATCH:%.c=$(REL)/%.o) $(CDBSRCS:%.c=$(REL)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(POPWATCH:%.c=$(REL)/%.o) $(POPWATCH:%.c=$(ASAN)/%.o): tools/popwatch.h

$(REL)/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

asan: $(ASAN)/smtpproxy $(ASAN)/mkcdb $(ASAN)/popwatch

$(ASAN)/mkcdb: $(ASAN)/tools/mkcdb.o $(ASAN)/conf/conf.o $(CDBSRCS:%.c=$(ASAN)/%.o)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

$(ASAN)/popwatch: $(POPWATCH:%.c=$(ASAN)/%.o) $(CDBSRCS:%.c=$(ASAN)/%.o)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

$(ASAN)/smtpproxy: $(SRCS:%.c=$(ASAN)/%.o)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

$(ASAN)/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -O1 $(SAN) -c -o $@ $<

$(UNIT)/%: tests/unit/%.c tests/unit/unit.h $(LIBSRCS:%.c=$(ASAN)/%.o)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -O1 $(SAN) -o $@ $< $(LIBSRCS:%.c=$(ASAN)/%.o) $(LIBS)

$(UNIT)/test_popwatch: tests/unit/test_popwatch.c tests/unit/unit.h \
	    $(ASAN)/tools/popwatch_match.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -O1 $(SAN) -o $@ $< $(ASAN)/tools/popwatch_match.o \
	    $(LIBS)

unit: $(UNITS:%=$(UNIT)/%)

deps:
	sh tools/deps.sh build

deps-test:
	sh tools/deps.sh test

test: deps-test
	$(MAKE) asan unit
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
	test -e $(DESTDIR)$(SYSCONFDIR)/smtpproxy/smtpproxy.conf || \
	    install -m 644 etc/smtpproxy.conf $(DESTDIR)$(SYSCONFDIR)/smtpproxy/
	test -e $(DESTDIR)$(SYSCONFDIR)/xinetd.d/smtpproxy || \
	    install -m 644 xinetd.d/smtpproxy $(DESTDIR)$(SYSCONFDIR)/xinetd.d/

lint:
	for f in $(SRCS) tools/mkcdb.c $(POPWATCH); do \
	    $(CC) $(CFLAGS_ALL) -Werror -fsyntax-only $$f || exit 1; done
	mandoc -Tlint -Wwarning man/*.[0-9]
	if command -v cppcheck >/dev/null; then \
	    cppcheck --quiet --error-exitcode=1 --std=c11 -I. \
	    --suppress=missingIncludeSystem $(SRCS); fi

bench: deps
	$(MAKE) all
	sh bench/run

clean:
	rm -rf build smtpproxy $(TOOLS)
