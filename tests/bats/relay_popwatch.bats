#!/usr/bin/env bats
# relay_popwatch: popwatch (the ASan build) follows a real log file and
# feeds POP/IMAP logins to a real pop table, checked with mkcdb -q.
# Each test has its own temp dir (BATS_TEST_TMPDIR) and its own popwatch;
# teardown stops it with SIGTERM and fails the test unless it exits 0 and
# left no sanitizer report.
#
# No test sleeps to synchronise.  Waits are bounded poll loops: for a table
# entry, for a log line of popwatch, or for popwatch to have polled the log
# again (its read(2) count in /proc/PID/io).  Lines that must NOT be
# recorded are followed by a good "barrier" line: popwatch handles lines in
# order, so once the barrier is in the table the lines before it are done.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
POPWATCH=${POPWATCH_BIN:-$ROOT/build/asan/popwatch}
MKCDB=${MKCDB_BIN:-$ROOT/build/asan/mkcdb}
WAIT_LIMIT=${WAIT_LIMIT:-5}
H='Jan  7 10:00:00 mx'	# syslog time stamp and host

setup() {
	[[ -x $POPWATCH && -x $MKCDB ]] ||
		fail "popwatch or mkcdb missing: run make asan"
	D=$BATS_TEST_TMPDIR
	LOG=$D/mail.log
	TABLE=$D/pop.cdb
	ERR=$D/popwatch.err
	PW_PID=
	mkdir -p "$D/san"
	: >"$LOG"
	export ASAN_OPTIONS="log_path=$D/san/asan:detect_leaks=1"
	export UBSAN_OPTIONS="log_path=$D/san/ubsan:print_stacktrace=1:halt_on_error=1"
}

teardown() {
	local f rc=0
	stop_popwatch || rc=1
	for f in "$D"/san/*; do
		[[ -e $f ]] || continue
		cat "$f" >&2
		echo "sanitizer report: $f" >&2
		rc=1
	done
	return $rc
}

fail() {
	printf '%s\n' "$@" >&2
	return 1
}

# wait_until CMD...: every 50 ms, at most WAIT_LIMIT seconds.
wait_until() {
	local i
	for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "timed out after ${WAIT_LIMIT}s waiting for: $*"
}

# start_popwatch [options]: popwatch on $LOG and $TABLE, ready when it
# says it follows the log (the log is open by then).
start_popwatch() {
	"$POPWATCH" -f "$LOG" "$@" "$TABLE" 2>"$ERR" 3>&- &
	PW_PID=$!
	wait_until grep -q '^popwatch: following ' "$ERR"
}

# stop_popwatch: SIGTERM; popwatch must exit 0.
stop_popwatch() {
	[[ -n $PW_PID ]] || return 0
	local rc=0
	kill -TERM "$PW_PID" 2>/dev/null || true
	wait "$PW_PID" || rc=$?
	PW_PID=
	((rc == 0)) || fail "popwatch exited $rc" "$(cat "$ERR")"
}

recorded() { "$MKCDB" -q "$1" "$TABLE" >/dev/null; }

# not_recorded IP: mkcdb answers "not found" (1), not an error.
not_recorded() {
	local rc=0
	"$MKCDB" -q "$1" "$TABLE" >/dev/null || rc=$?
	((rc == 1)) || fail "$1: mkcdb -q exit $rc (want 1, not found)"
}

dovecot_login() {
	printf '%s dovecot: imap-login: Login: user=<%s>, method=PLAIN, rip=%s, lip=192.0.2.1, mpid=42, TLS, session=<x>\n' \
		"$H" "${2:-alice}" "$1" >>"$LOG"
}

# barrier IP: a good login, waited for; every line before it was handled.
barrier() {
	dovecot_login "$1" barrier
	wait_until recorded "$1"
}

# polls_after: wait until popwatch has read the log twice more (each poll
# makes at least two read(2) calls: the tail check and the end of file).
syscr() { sed -n 's/^syscr: //p' "/proc/$PW_PID/io"; }
syscr_reached() { (($(syscr) >= $1)); }
polls_after() {
	local start
	start=$(syscr)
	[[ -n $start ]] || fail "cannot read /proc/$PW_PID/io"
	wait_until syscr_reached $((start + 8))
}

@test "a Dovecot login appended to the log is recorded with the time" {
	start_popwatch
	dovecot_login 192.0.2.7
	wait_until recorded 192.0.2.7
	run "$MKCDB" -q 192.0.2.7 "$TABLE"
	[[ $output =~ ^192\.0\.2\.7\ ([0-9]+)$ ]] || fail "got: $output"
	local age=$(($(date +%s) - BASH_REMATCH[1]))
	((age >= 0 && age < 60)) || fail "login time is $age s old"
	grep -q '^popwatch: login ip=192.0.2.7 daemon=dovecot ' "$ERR"
}

@test "logins already in the log when popwatch starts do not count" {
	dovecot_login 192.0.2.1
	printf '%s dovecot: imap-login: Login: user=<x>, method=PLAIN, rip=192.0.2.2' "$H" >>"$LOG"
	start_popwatch
	printf ', lip=192.0.2.1\n' >>"$LOG"	# the end of a line begun before
	barrier 192.0.2.3
	not_recorded 192.0.2.1
	not_recorded 192.0.2.2
}

@test "UW, vm-pop3d and IPv6 logins are recorded" {
	start_popwatch
	printf '%s ipop3d[201]: Login user=carol host=c.example.net [198.51.100.1] nmsgs=3/3\n' "$H" >>"$LOG"
	printf '%s imapd[202]: Authenticated user=dave host=[198.51.100.2]\n' "$H" >>"$LOG"
	printf "%s vm-pop3d[203]: User 'erin' of 'example.org' logged in from 198.51.100.3\n" "$H" >>"$LOG"
	dovecot_login 2001:DB8::7
	dovecot_login ::ffff:198.51.100.4
	wait_until recorded 198.51.100.1
	wait_until recorded 198.51.100.2
	wait_until recorded 198.51.100.3
	wait_until recorded 2001:db8::7
	wait_until recorded 198.51.100.4
}

@test "a partial line is not acted on until its newline arrives" {
	start_popwatch
	# vm-pop3d's address ends the line: acting on the partial line would
	# record 192.0.2.5 instead of 192.0.2.50
	printf "%s vm-pop3d[9]: User 'u' of 'example.org' logged in from 192.0.2.5" "$H" >>"$LOG"
	polls_after
	[[ ! -e $TABLE ]] || fail "the table was written for a partial line"
	printf '0\n' >>"$LOG"
	wait_until recorded 192.0.2.50
	not_recorded 192.0.2.5
}

@test "rotation: the new file is read from its start" {
	start_popwatch
	dovecot_login 192.0.2.11
	wait_until recorded 192.0.2.11
	mv "$LOG" "$LOG.1"
	# syslog still writes to the old file until it reopens the path
	LOG=$LOG.1 dovecot_login 192.0.2.12
	: >"$LOG"
	dovecot_login 192.0.2.13
	wait_until recorded 192.0.2.13
	wait_until recorded 192.0.2.12
	grep -q 'rotated, reading the new file from the start' "$ERR"
	# and it keeps following the new file
	dovecot_login 192.0.2.14
	wait_until recorded 192.0.2.14
}

@test "rotation with a pause: the path is missing for a while" {
	start_popwatch
	mv "$LOG" "$LOG.1"
	polls_after
	LOG=$LOG.1 dovecot_login 192.0.2.15	# the old file is still followed
	wait_until recorded 192.0.2.15
	dovecot_login 192.0.2.16	# creates the new file
	wait_until recorded 192.0.2.16
	grep -q 'rotated, reading the new file from the start' "$ERR"
}

@test "truncation: : > log, then new lines" {
	start_popwatch
	dovecot_login 192.0.2.21
	wait_until recorded 192.0.2.21
	: >"$LOG"
	dovecot_login 192.0.2.122	# longer than the line it replaces
	wait_until recorded 192.0.2.122
	grep -q 'truncated, reading from the start' "$ERR"
	: >"$LOG"
	polls_after
	dovecot_login 192.0.2.23
	wait_until recorded 192.0.2.23
}

@test "forged lines are not recorded" {
	start_popwatch
	{
		printf '%s dovecot: imap-login: Login: user=<x, rip=6.6.6.1, lip=1.1.1.1>, method=PLAIN, rip=192.0.2.31, lip=192.0.2.1, mpid=1\n' "$H"
		printf '%s dovecot: imap-login: Login: user=<x rip=6.6.6.2>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=1, secured\n' "$H"
		printf '%s imapd[1]: Login user=evil [6.6.6.3] host=UNKNOWN\n' "$H"
		printf '%s imapd[1]: Login user=evil host=x [6.6.6.4] host=UNKNOWN\n' "$H"
		printf '%s imapd[1]: Login failure user=x host=h [6.6.6.5]\n' "$H"
		printf '%s postfix/smtpd[5]: warning: dovecot: imap-login: Login: user=<x>, method=PLAIN, rip=6.6.6.6, lip=1.1.1.1\n' "$H"
		printf '%s dovecot: pop3-login: Aborted login (auth failed, 1 attempts): user=<x>, method=PLAIN, rip=6.6.6.7, lip=192.0.2.1\n' "$H"
		printf "%s vm-pop3d[1]: User 'x logged in from 6.6.6.8' failed\n" "$H"
	} >>"$LOG"
	barrier 192.0.2.39
	wait_until recorded 192.0.2.31	# the real address of the first line
	local i
	for i in 1 2 3 4 5 6 7 8; do
		not_recorded 6.6.6.$i
	done
}

@test "loopback logins are ignored" {
	start_popwatch
	dovecot_login 127.0.0.1 webmail
	dovecot_login ::1 webmail
	dovecot_login ::ffff:127.0.0.2 webmail
	printf '%s imapd[1]: Login user=x host=localhost [127.0.0.1]\n' "$H" >>"$LOG"
	barrier 192.0.2.40
	not_recorded 127.0.0.1
	not_recorded ::1
	not_recorded 127.0.0.2
	run grep -c '^popwatch: login ' "$ERR"
	[[ $output == 1 ]] || fail "logged logins: $output"
}

@test "an overlong line is dropped whole, the next one counts" {
	start_popwatch
	{
		printf '%s dovecot: imap-login: Login: user=<' "$H"
		head -c 9000 /dev/zero | tr '\0' x
		printf '>, method=PLAIN, rip=192.0.2.41, lip=192.0.2.1, mpid=1\n'
	} >>"$LOG"
	barrier 192.0.2.42
	not_recorded 192.0.2.41
	grep -q 'line longer than 8191 bytes dropped' "$ERR"
}

@test "a patterns file adds a daemon (Courier)" {
	cat >"$D/patterns" <<-'EOF'
		# Courier: "LOGIN, user=u, ip=[::ffff:192.0.2.7], port=[1], protocol=IMAP"
		imapd*  "LOGIN, user="  ", ip=["  ]
	EOF
	start_popwatch -p "$D/patterns"
	printf '%s imapd-ssl: LOGIN, user=u@example.org, ip=[::ffff:192.0.2.51], port=[40000], protocol=IMAP\n' "$H" >>"$LOG"
	wait_until recorded 192.0.2.51
	grep -q 'patterns=14$' "$ERR"
}

@test "a bad patterns file: file:line and exit 100" {
	printf 'imapd* "LOGIN, user= ", ip=[" ]\n' >"$D/patterns"
	run "$POPWATCH" -f "$LOG" -p "$D/patterns" "$TABLE"
	((status == 100)) || fail "exit $status: $output"
	[[ $output == "$D/patterns:1: "* ]] || fail "got: $output"
}

@test "usage errors exit 100" {
	run "$POPWATCH"
	((status == 100))
	run "$POPWATCH" -w 0 "$TABLE"
	((status == 100))
	run "$POPWATCH" -w 10x "$TABLE"
	((status == 100))
	run "$POPWATCH" "$TABLE" extra
	((status == 100))
}

@test "old logins are expired (-w) when popwatch starts" {
	local now
	now=$(date +%s)
	printf '192.0.2.61 %s\n192.0.2.62 %s\n' $((now - 4000)) $((now - 10)) >"$D/pop.txt"
	"$MKCDB" -t pop "$D/pop.txt" "$TABLE"
	recorded 192.0.2.61
	start_popwatch -w 3600
	not_recorded 192.0.2.61
	recorded 192.0.2.62
}

@test "a table popwatch cannot update: exit 111 at start" {
	printf 'example.org\n' >"$D/domains.txt"
	"$MKCDB" -t domains "$D/domains.txt" "$TABLE"
	run "$POPWATCH" -f "$LOG" "$TABLE"
	((status == 111)) || fail "exit $status: $output"
	[[ $output == *"not pop"* ]] || fail "got: $output"
}

@test "a log that appears later is read from its start" {
	rm -f "$LOG"
	start_popwatch
	grep -q "error: $LOG: No such file or directory" "$ERR"
	dovecot_login 192.0.2.71
	wait_until recorded 192.0.2.71
}

@test "-n lists the logins of the whole file and writes no table" {
	dovecot_login 192.0.2.81
	dovecot_login 127.0.0.1
	printf '%s postfix/smtpd[1]: connect from x[192.0.2.82]\n' "$H" >>"$LOG"
	run "$POPWATCH" -n -f "$LOG"
	((status == 0)) || fail "exit $status: $output"
	[[ ${lines[0]} == "$LOG:1: login ip=192.0.2.81 daemon=dovecot pattern=2" ]] ||
		fail "got: ${lines[0]}"
	[[ ${lines[1]} == "$LOG:2: ignored daemon=dovecot pattern=2" ]] ||
		fail "got: ${lines[1]}"
	((${#lines[@]} == 2)) || fail "got: $output"
	[[ ! -e $TABLE ]]
}

@test "SIGTERM: popwatch stops cleanly with exit 0" {
	start_popwatch
	stop_popwatch
	grep -q '^popwatch: stopped$' "$ERR"
}
