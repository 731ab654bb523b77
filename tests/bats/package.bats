#!/usr/bin/env bats
# package: the Debian package (debian/, `make deb`) as an admin meets it.
# It builds the .deb and an older version of it, runs lintian, installs the
# package on this machine with apt-get, runs smtpproxy -n and one swaks
# session through /usr/sbin/smtpproxy under the installed xinetd service
# file (enabled on a free loopback port in a private xinetd), purges it and
# checks that nothing is left, then upgrades from the older version over a
# changed conffile.  The tests depend on each other, in order.
#
# The machine is left as found: the package is purged and, when this file
# created the account smtpproxy (the package keeps it on purge, as Debian
# does), the account is deleted.  A package smtpproxy that this file did
# not install is never touched: the file then fails at once.

load lib/common

PKG_STATE=/var/tmp/smtpproxy-package-test.state
# where the package puts its programs (tests/deps-check: the package's own
# commands, installed by these tests, are no tool of the suite's)
SBIN=/usr/sbin

setup_file() {
	common_setup_file
	# one run at a time on a machine: the package and the account are
	# the machine's.  The lock is flock(2) on the package database's
	# folder (dpkg itself locks files inside it with fcntl, not this), so
	# that no lock file is left behind; it goes with this file's process.
	exec {PKG_LOCK_FD}</var/lib/dpkg
	flock -w 600 "$PKG_LOCK_FD" || return 1
	mkdir -p "$FILE_TMP/deb" "$FILE_TMP/old"
	chmod 755 "$FILE_TMP/deb" "$FILE_TMP/old"
	VERSION=$(sed -n 's/^#define SMTPPROXY_VERSION "\(.*\)"$/\1/p' "$ROOT/version.h")
	ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
	OLD_VERSION=$VERSION~pkgtest1
	export VERSION ARCH OLD_VERSION
	export DEB=$FILE_TMP/deb/smtpproxy_${VERSION}_$ARCH.deb
	export OLD_DEB=$FILE_TMP/old/smtpproxy_${OLD_VERSION}_$ARCH.deb
	# a run that died half-way left its state: clean up after it
	[[ -f $PKG_STATE ]] && pkg_cleanup
	if dpkg-query -W -f='${Status}' smtpproxy 2>/dev/null | grep -q installed; then
		echo "# a package smtpproxy this test did not install is on this machine" >&3
		return 1
	fi
	if getent passwd smtpproxy >/dev/null; then
		echo "user_existed=1" >"$PKG_STATE"
	else
		echo "user_existed=0" >"$PKG_STATE"
	fi
	# the older version builds while the first tests run (2 cores)
	(DEB_VERSION=$OLD_VERSION DEB_OUT=$FILE_TMP/old DEB_BINARY_ONLY=1 \
		sh "$ROOT/tools/deb.sh" \
		>"$FILE_TMP/old.log" 2>&1; echo $? >"$FILE_TMP/old.rc") 3>&- &
}

teardown_file() {
	pkg_cleanup
	common_teardown_file
}

# pkg_cleanup: purge the package and, when this file created it, the account
pkg_cleanup() {
	local user_existed=1
	[[ -f $PKG_STATE ]] || return 0
	# shellcheck disable=SC1090
	source "$PKG_STATE"
	if dpkg-query -W -f='${Status}' smtpproxy 2>/dev/null | grep -q 'ok \(installed\|config-files\|unpacked\|half\)'; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq smtpproxy >/dev/null 2>&1 ||
			dpkg --purge --force-all smtpproxy >/dev/null 2>&1 || true
	fi
	if [[ $user_existed == 0 ]] && getent passwd smtpproxy >/dev/null; then
		userdel smtpproxy 2>/dev/null || true
	fi
	if [[ $user_existed == 0 ]] && getent group smtpproxy >/dev/null; then
		groupdel smtpproxy 2>/dev/null || true
	fi
	rm -f "$PKG_STATE"
}

# apt_noninteractive ARGS...: apt-get as an admin's script runs it: no
# terminal, no answer to any question
apt_noninteractive() {
	DEBIAN_FRONTEND=noninteractive apt-get -y "$@" </dev/null 2>&1
}

# no_prompt: apt's and dpkg's output ($output) shows no conffile question
no_prompt() {
	[[ $output != *"(Y/I/N/O/D/Z)"* && $output != *"EOF on stdin"* ]] ||
		fail "a conffile question:" "$output"
}

# installed_running: some process runs /usr/sbin/smtpproxy
installed_running() {
	local p
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/exe" 2>/dev/null) == /usr/sbin/smtpproxy ]] && return 0
	done
	return 1
}

# files_left: what of the package is on the machine
files_left() {
	local f
	for f in /usr/sbin/smtpproxy /usr/sbin/mkcdb /usr/sbin/popwatch \
		/etc/smtpproxy /etc/xinetd.d/smtpproxy /etc/xinetd.d/smtpproxy-server \
		/etc/logrotate.d/smtpproxy /etc/fail2ban/filter.d/smtpproxy.conf \
		/lib/systemd/system/smtpproxy.socket /lib/systemd/system/smtpproxy.service \
		/lib/systemd/system/smtpproxy-exec.socket \
		/lib/systemd/system/smtpproxy-exec@.service \
		/lib/systemd/system/popwatch.service /var/lib/smtpproxy \
		/usr/share/doc/smtpproxy /usr/share/man/man8/smtpproxy.8.gz; do
		[[ -e $f ]] && echo "$f"
	done
	find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
		/var/lib/systemd/deb-systemd-helper-masked \
		\( -name 'smtpproxy*' -o -name 'popwatch*' \) 2>/dev/null
	return 0
}

@test "make deb: the .deb, its source package, version.h's version, Debian's hardening flags" {
	run make -C "$ROOT" --no-print-directory deb DEB_OUT="$FILE_TMP/deb"
	echo "$output" >"$FILE_TMP/build.log"
	[[ $status == 0 ]] || fail "make deb: exit $status" "$(tail -n 30 <<<"$output")"
	[[ -f $DEB ]] || fail "no $DEB" "$(ls "$FILE_TMP/deb")"
	[[ -f $FILE_TMP/deb/smtpproxy_$VERSION.dsc ]] || fail "no source package"
	[[ $(dpkg-deb -f "$DEB" Version) == "$VERSION" ]]
	# dpkg-buildflags (hardening=+all) on top of the project's own flags
	grep -E -- '-Wshadow .*-fstack-protector-strong .*-Werror=format-security .*-D_FORTIFY_SOURCE=2 .*-c -o build/rel/smtpproxy\.o' \
		"$FILE_TMP/build.log" >/dev/null || fail "compile line without the flags" "$(grep -m1 'smtpproxy\.o' "$FILE_TMP/build.log")"
	grep -E -- '-Wl,-z,relro -Wl,-z,now -o smtpproxy ' "$FILE_TMP/build.log" >/dev/null ||
		fail "link line without relro/now"
	dpkg-deb -x "$DEB" "$FILE_TMP/x"
	local b
	for b in smtpproxy mkcdb popwatch; do
		readelf -d "$FILE_TMP/x/usr/sbin/$b" | grep -q 'BIND_NOW' || fail "$b: no BIND_NOW"
		readelf -d "$FILE_TMP/x/usr/sbin/$b" | grep -q 'FLAGS_1.*PIE' || fail "$b: not PIE"
	done
}

@test "lintian on the .deb and the source: no error, no warning" {
	[[ -f $DEB ]] || skip "no package built"
	run lintian --fail-on error,warning "$FILE_TMP/deb/smtpproxy_${VERSION}_$ARCH.changes"
	# what lintian said (its complaint about running as root aside)
	grep -v 'root privileges' <<<"$output" | sed 's/^/# lintian: /' >&3 || true
	[[ $status == 0 ]] || fail "lintian: exit $status" "$output"
	! grep -Eq '^[EW]: ' <<<"$output" || fail "lintian:" "$output"
}

@test "apt-get install ./deb: the files, the account, nothing enabled, nothing on port 25" {
	[[ -f $DEB ]] || skip "no package built"
	local listen25
	listen25=$(ss -ltnH 'sport = :25' | wc -l)
	run apt_noninteractive install "$DEB"
	[[ $status == 0 ]] || fail "apt-get install: exit $status" "$output"
	[[ $(dpkg-query -W -f='${Status} ${Version}' smtpproxy) == "install ok installed $VERSION" ]]
	[[ -x /usr/sbin/smtpproxy && -x /usr/sbin/mkcdb && -x /usr/sbin/popwatch ]]
	"$SBIN/smtpproxy" -V | grep -qF "$VERSION" || fail "smtpproxy -V: $("$SBIN/smtpproxy" -V)"
	# the account: system, home /var/lib/smtpproxy, no shell
	local pw
	pw=$(getent passwd smtpproxy) || fail "no account smtpproxy"
	IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
	((uid < 1000)) || fail "not a system account: $pw"
	[[ $home == /var/lib/smtpproxy && $shell == /usr/sbin/nologin ]] || fail "account: $pw"
	[[ $(stat -c %U:%G /var/lib/smtpproxy) == smtpproxy:smtpproxy ]] ||
		fail "/var/lib/smtpproxy: $(stat -c %U:%G /var/lib/smtpproxy)"
	# the configuration, a conffile, runs sessions as the account
	grep -qx 'user smtpproxy' /etc/smtpproxy/smtpproxy.conf
	grep -qx 'group smtpproxy' /etc/smtpproxy/smtpproxy.conf
	local f
	for f in /etc/smtpproxy/smtpproxy.conf /etc/xinetd.d/smtpproxy \
		/etc/xinetd.d/smtpproxy-server /etc/logrotate.d/smtpproxy \
		/etc/fail2ban/filter.d/smtpproxy.conf; do
		dpkg-query -W -f='${Conffiles}\n' smtpproxy | grep -q " $f " || fail "not a conffile: $f"
	done
	# disabled: xinetd's services, every unit
	grep -Eq '^\s*disable\s*=\s*yes' /etc/xinetd.d/smtpproxy
	grep -Eq '^\s*disable\s*=\s*yes' /etc/xinetd.d/smtpproxy-server
	grep -q '^\s*server\s*= /usr/sbin/smtpproxy$' /etc/xinetd.d/smtpproxy
	for f in smtpproxy.socket smtpproxy.service smtpproxy-exec.socket smtpproxy-exec@.service popwatch.service; do
		[[ -f /lib/systemd/system/$f ]] || fail "no unit $f"
	done
	[[ -z $(find /etc/systemd/system \( -name 'smtpproxy*' -o -name 'popwatch*' \)) ]] ||
		fail "unit links:" "$(find /etc/systemd/system -name 'smtpproxy*' -o -name 'popwatch*')"
	grep -q '^ExecStart=/usr/sbin/smtpproxy ' /lib/systemd/system/smtpproxy.service
	grep -q '^ExecStart=/usr/sbin/popwatch ' /lib/systemd/system/popwatch.service
	[[ -f /usr/share/doc/smtpproxy/examples/popbsmtp-post-login.sh ]]
	grep -q 'POPBSMTP_MKCDB:-/usr/sbin/mkcdb' /usr/share/doc/smtpproxy/examples/popbsmtp-post-login.sh
	grep -q 'POPBSMTP_POPWATCH:-/usr/sbin/popwatch' /usr/share/doc/smtpproxy/examples/popbsmtp-post-login.sh
	grep -q '^/var/log/smtpproxy.log ' /etc/logrotate.d/smtpproxy
	for f in man8/smtpproxy.8 man8/mkcdb.8 man8/popwatch.8 man5/smtpproxy.conf.5; do
		[[ -f /usr/share/man/$f.gz ]] || fail "no man page $f"
	done
	[[ $(ss -ltnH 'sport = :25' | wc -l) == "$listen25" ]] || fail "something new listens on port 25"
	! installed_running || fail "/usr/sbin/smtpproxy runs"
}

@test "installed: smtpproxy -n and a swaks session under the installed xinetd service" {
	[[ -x /usr/sbin/smtpproxy ]] || skip "package not installed"
	start_sink
	# a table made by the installed mkcdb: local.test is ours
	printf 'local.test\n' >"$TMP/domains.txt"
	"$SBIN/mkcdb" -t domains "$TMP/domains.txt" "$TMP/domains.cdb"
	chmod 644 "$TMP/domains.cdb"
	# the shipped configuration (user smtpproxy, backend_ehlo_cache in
	# /var/lib/smtpproxy) with the test's backend and log
	{
		cat /etc/smtpproxy/smtpproxy.conf
		echo "backend $BACKEND"
		echo "hostname proxy.test"
		echo "log_file $TMP/smtpproxy.log"
		echo "local_domains cdb:$TMP/domains.cdb"
	} >"$TMP/smtpproxy.conf"
	chmod 644 "$TMP/smtpproxy.conf"
	touch "$TMP/smtpproxy.log"
	chmod 666 "$TMP/smtpproxy.log"
	run "$SBIN/smtpproxy" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 0 ]] || fail "smtpproxy -n: exit $status" "$output"
	# the installed service file, enabled on a loopback port: the same
	# user, group, server, limits; only the name, port, address, log and
	# configuration file change
	PROXY_PORT=$(free_port)
	sed -e 's/^service smtp$/service smtpproxy-pkgtest/' \
		-e 's/^\(\s*disable\s*=\s*\)yes$/\1no/' \
		-e "s/^\\(\\s*port\\s*=\\s*\\)25\$/\\1$PROXY_PORT\\n\\ttype\\t\\t= UNLISTED\\n\\tbind\\t\\t= 127.0.0.1/" \
		-e '/^\s*flags\s*=\s*IPv6$/d' \
		-e "s|^\\(\\s*server_args\\s*=\\s*\\).*|\\1-f $TMP/smtpproxy.conf|" \
		-e "s|^\\(\\s*log_type\\s*=\\s*\\)SYSLOG mail$|\\1FILE $TMP/xinetd.log|" \
		/etc/xinetd.d/smtpproxy >"$TMP/xinetd.conf"
	grep -q '^\s*user\s*= smtpproxy$' "$TMP/xinetd.conf"
	grep -q "^\\s*port\\s*= $PROXY_PORT\$" "$TMP/xinetd.conf" || fail "port not set" "$(cat "$TMP/xinetd.conf")"
	xinetd -dontfork -f "$TMP/xinetd.conf" -filelog "$TMP/xinetd.log" \
		-pidfile "$TMP/xinetd.pid" >"$TMP/xinetd.out" 2>&1 3>&- &
	XINETD_PID=$!
	wait_own_port "$XINETD_PID" "$PROXY_PORT" ||
		fail "xinetd did not start" "$(cat "$TMP/xinetd.out" "$TMP/xinetd.log" 2>/dev/null)"
	run swaks --server "127.0.0.1:$PROXY_PORT" --ehlo client.test \
		--from sender@remote.test --to user@local.test --timeout 20
	[[ $status == 0 ]] || fail "swaks: exit $status" "$output"
	[[ $output == *"<-  220 proxy.test"* ]] || fail "no greeting from the proxy" "$output"
	[[ $output == *"<-  250 2.0.0 Ok"* ]] || fail "message not accepted" "$output"
	settle
	[[ $(sink_count) == 1 ]] || fail "the backend got $(sink_count) messages"
	assert_log 'event=summary .*accepted=1 '
	# the session ran as smtpproxy and wrote its EHLO cache in its folder
	[[ $(stat -c %U /var/lib/smtpproxy/backend-ehlo) == smtpproxy ]] ||
		fail "backend-ehlo: $(ls -l /var/lib/smtpproxy)"
	stop_proxy
}

@test "apt remove keeps the configuration; apt purge leaves nothing but the account" {
	dpkg-query -W -f='${Status}' smtpproxy | grep -q 'ok installed' || skip "package not installed"
	echo '# an admin was here' >>/etc/smtpproxy/smtpproxy.conf
	run apt_noninteractive remove smtpproxy
	[[ $status == 0 ]] || fail "apt-get remove: exit $status" "$output"
	[[ ! -e /usr/sbin/smtpproxy ]]
	grep -qx '# an admin was here' /etc/smtpproxy/smtpproxy.conf || fail "remove lost the configuration"
	[[ -f /etc/xinetd.d/smtpproxy ]]
	run apt_noninteractive purge smtpproxy
	[[ $status == 0 ]] || fail "apt-get purge: exit $status" "$output"
	! dpkg-query -W -f='${Status}' smtpproxy 2>/dev/null | grep -q 'installed\|config-files' ||
		fail "dpkg still knows smtpproxy: $(dpkg-query -W -f='${Status}' smtpproxy)"
	run files_left
	[[ -z $output ]] || fail "left after purge:" "$output"
	# as documented (debian/postrm, README.Debian): the account stays
	getent passwd smtpproxy >/dev/null || fail "purge removed the account"
}

@test "upgrade from an older version keeps the admin's conffile and asks nothing" {
	[[ -f $DEB ]] || skip "no package built"
	local i
	for ((i = 0; i < 240; i++)); do
		[[ -f $FILE_TMP/old.rc ]] && break
		sleep 0.5
	done
	[[ $(cat "$FILE_TMP/old.rc" 2>/dev/null) == 0 ]] ||
		fail "the older package did not build" "$(tail -n 30 "$FILE_TMP/old.log")"
	[[ $(dpkg-deb -f "$OLD_DEB" Version) == "$OLD_VERSION" ]]
	dpkg --compare-versions "$OLD_VERSION" lt "$VERSION"
	# 1. the usual upgrade: the shipped file did not change, the admin's
	# did; apt with no option keeps it and asks nothing
	run apt_noninteractive install "$OLD_DEB"
	[[ $status == 0 ]] || fail "install $OLD_VERSION: exit $status" "$output"
	sed -i 's/^#backend 127.0.0.1:10025$/backend 127.0.0.1:10026/' /etc/smtpproxy/smtpproxy.conf
	grep -qx 'backend 127.0.0.1:10026' /etc/smtpproxy/smtpproxy.conf
	run apt_noninteractive install "$DEB"
	[[ $status == 0 ]] || fail "upgrade: exit $status" "$output"
	no_prompt
	[[ $(dpkg-query -W -f='${Version}' smtpproxy) == "$VERSION" ]]
	grep -qx 'backend 127.0.0.1:10026' /etc/smtpproxy/smtpproxy.conf || fail "the upgrade lost the admin's change"
	[[ $(stat -c %U /var/lib/smtpproxy) == smtpproxy ]]
	# 2. the shipped file changed too (an older package whose default
	# differs): with what admins' scripts pass, --force-confdef
	# --force-confold, the admin's file stays and nothing is asked
	run apt_noninteractive purge smtpproxy
	[[ $status == 0 ]] || fail "purge: exit $status" "$output"
	dpkg-deb -R "$OLD_DEB" "$FILE_TMP/old/tree"
	echo '# an older default' >>"$FILE_TMP/old/tree/etc/smtpproxy/smtpproxy.conf"
	# (md5sums is optional, and lists no conffile)
	dpkg-deb -b --root-owner-group "$FILE_TMP/old/tree" "$FILE_TMP/old/changed.deb" >/dev/null
	run apt_noninteractive install "$FILE_TMP/old/changed.deb"
	[[ $status == 0 ]] || fail "install changed $OLD_VERSION: exit $status" "$output"
	sed -i 's/^#backend 127.0.0.1:10025$/backend 127.0.0.1:10027/' /etc/smtpproxy/smtpproxy.conf
	run apt_noninteractive -o Dpkg::Options::=--force-confdef \
		-o Dpkg::Options::=--force-confold install "$DEB"
	[[ $status == 0 ]] || fail "upgrade: exit $status" "$output"
	no_prompt
	grep -qx 'backend 127.0.0.1:10027' /etc/smtpproxy/smtpproxy.conf || fail "the upgrade lost the admin's change"
	[[ -f /etc/smtpproxy/smtpproxy.conf.dpkg-dist ]] || fail "no .dpkg-dist beside the kept file"
	run apt_noninteractive purge smtpproxy
	[[ $status == 0 ]] || fail "purge: exit $status" "$output"
	run files_left
	[[ -z $output ]] || fail "left after purge:" "$output"
}
