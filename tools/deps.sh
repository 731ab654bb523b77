#!/bin/sh
# Install from Debian's packages what smtpproxy needs and the machine lacks.
#   tools/deps.sh build   compiler, pkg-config and the -dev libraries
#   tools/deps.sh run     build + xinetd, swaks, Postfix (smtp-sink) for the demo
#   tools/deps.sh test    run + bats, mandoc, sasl2-bin, rbldnsd, tinycdb, ...
#   tools/deps.sh test --list   print the list only (tests/deps-check reads it)
# Only these and what they Depend on are installed (no Recommends): a tool
# the tests use must be here or in their Depends; tests/deps-check checks.
set -eu

build="gcc make pkg-config libssl-dev libsasl2-dev libc-ares-dev libcdb-dev libbsd-dev
    libspf2-dev liblmdb-dev libhiredis-dev"
run="$build xinetd swaks postfix iproute2"
# libnet-ssleay-perl: swaks's --tls (only a Recommends of swaks);
# dovecot-lmtpd (and dovecot-core) and curl: the LMTP and sender interop tests;
# debhelper, dpkg-dev and lintian: the Debian package (package.bats);
# lmdb-utils: mdb_stat and mdb_dump on the greylisting store (greylist.bats)
# redis-server and redis-tools: the shared store (redis_store.bats)
test="$run bats mandoc openssl sasl2-bin libsasl2-modules rbldnsd dnsmasq-base
    tinycdb python3 perl libnet-ssleay-perl procps clang libclang-rt-14-dev
    nmap dovecot-lmtpd curl haproxy debhelper dpkg-dev lintian lmdb-utils
    redis-server redis-tools"

case "${1:-build}" in
build) want=$build ;;
run) want=$run ;;
test|bench) want=$test ;;
*) echo "usage: $0 build|run|test [--list]" >&2; exit 100 ;;
esac
if [ "${2:-}" = --list ]; then
	# shellcheck disable=SC2086
	echo $want
	exit 0
fi

missing=
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "tools/deps.sh: missing packages:$missing (run as root)" >&2
		exit 111
	fi
	echo "tools/deps.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Postfix's tools and private instances need a system main.cf to exist.
if [ "${1:-build}" != build ] && [ ! -e /etc/postfix/main.cf ] &&
    [ -e /usr/share/postfix/main.cf.debian ]; then
	cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
fi
exit 0
