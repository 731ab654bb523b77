#!/usr/bin/env bats
# fault_tables: mkcdb rebuilds relay_clients and local_domains while
# sessions run. A session opens its tables when it starts (before the
# greeting) and keeps them: a rebuild (temp file, rename) never shows it a
# half-written table, and its decisions follow the tables it opened, not
# the ones on disk at RCPT time. Two versions of the tables:
#
#   A: local_domains a.test   relay_clients 127.0.0.2 OK
#   B: local_domains b.test   relay_clients 127.0.0.3 OK
#
# (each padded with 5000 other entries, so that a rebuild takes a while).
# Every session sends RCPT u@a.test, u@b.test, u@far.test, then a message;
# the backend (pysink) stores exactly the recipients that got 250.

load lib/common
load lib/fault

MKCDB=${MKCDB:-$ROOT/build/asan/mkcdb}

mk() {
	ASAN_OPTIONS="log_path=$TMP/san/asan" "$MKCDB" "$@"
}

setup() {
	common_setup
	NO_RELAYCLIENT=1
	start_pysink
	local v
	for v in A B; do
		{
			[[ $v == A ]] && echo a.test || echo b.test
			seq 0 4999 | sed 's/.*/d&.pad.test/'
		} >"$TMP/domains.$v.txt"
		{
			[[ $v == A ]] && echo '127.0.0.2 OK' || echo '127.0.0.3 OK'
			seq 0 4999 | awk '{ printf "10.%d.%d.1 OK\n", $1 / 250, $1 % 250 }'
		} >"$TMP/nets.$v.txt"
	done
	use_tables A
	start_proxy "local_domains cdb:$TMP/domains.cdb" "relay_clients cdb:$TMP/nets.cdb"
}

# use_tables A|B: rebuild both tables from version A or B
use_tables() {
	mk -t domains "$TMP/domains.$1.txt" "$TMP/domains.cdb" >/dev/null &&
		mk -t networks "$TMP/nets.$1.txt" "$TMP/nets.cdb" >/dev/null
}

# start_session N ADDR [GATE]: one session in the background, from ADDR;
# with GATE it waits after the greeting until the file GATE exists.
# Output in $TMP/out.N, rawsmtp's status in $TMP/rc.N.
start_session() {
	local n=$1 addr=$2 gate=${3:-} items=()
	[[ -n $gate ]] && items=("!while [ ! -e '$gate' ]; do sleep 0.02; done")
	fault_message "$TMP/m.$n" "tbl$n" 3000
	(
		smtp -t 30 -b "$addr" "${items[@]}" 'EHLO client.test\r\n' =1 \
			'MAIL FROM:<s@sender.test>\r\n' =1 'RCPT TO:<u@a.test>\r\n' =1 \
			'RCPT TO:<u@b.test>\r\n' =1 'RCPT TO:<u@far.test>\r\n' =1 \
			'DATA\r\n' =1 "<$TMP/m.$n" '.\r\n' =1 'QUIT\r\n' >"$TMP/out.$n" 2>&1
		echo $? >"$TMP/rc.$n"
	) &
}

greeted() {
	file_has "$TMP/out.$1" '^220 '
}

finished() {
	[[ -f $TMP/rc.$1 ]]
}

# rcpt_codes N: the three RCPT codes of session N
rcpt_codes() {
	output=$(cat "$TMP/out.$1")
	reply_codes | cut -d' ' -f4-6
}

# check_session N EXPECTED-RCPT-CODES: codes, rawsmtp status, and the
# backend has the message once with exactly the accepted recipients
check_session() {
	local n=$1 want=$2 got rcpts= i=0 r
	[[ $(cat "$TMP/rc.$n") == 0 ]] || fail "session $n: rawsmtp status $(cat "$TMP/rc.$n")" "$(cat "$TMP/out.$n")"
	output=$(cat "$TMP/out.$n")
	got=$(reply_codes | cut -d' ' -f4-6)
	[[ $got == "$want" ]] || fail "session $n: RCPT codes '$got', expected '$want'" "$(cat "$TMP/out.$n")"
	assert_codes "220 250 250 $want 354 250 221"
	assert_dumped "tbl$n" 1
	for r in a.test b.test far.test; do
		i=$((i + 1))
		[[ $(cut -d' ' -f$i <<<"$want") == 250 ]] && rcpts+="${rcpts:+,}<u@$r>"
	done
	local f
	f=$(grep -laF "Message-ID: <tbl$n@fault.test>" $(sink_files))
	grep -qE "stored ${f##*/} bytes=[0-9]+ from=<s@sender\\.test> rcpts=$rcpts\$" "$PYSINK_LOG" ||
		fail "session $n: the backend did not get exactly $rcpts:" "$(grep "${f##*/}" "$PYSINK_LOG")"
}

@test "sessions keep the tables they opened: a rebuild between them changes only later sessions" {
	local n
	# sessions 1-4 open version A and wait after the greeting
	start_session 1 127.0.0.2 "$TMP/go"
	start_session 2 127.0.0.2 "$TMP/go"
	start_session 3 127.0.0.3 "$TMP/go"
	start_session 4 127.0.0.3 "$TMP/go"
	for n in 1 2 3 4; do wait_until greeted $n; done
	use_tables B
	[[ $("$MKCDB" -q a.test "$TMP/domains.cdb" 2>&1) != a.test* ]] ||
		fail "the table was not rebuilt"
	# sessions 5-8 open version B
	start_session 5 127.0.0.2 "$TMP/go"
	start_session 6 127.0.0.2 "$TMP/go"
	start_session 7 127.0.0.3 "$TMP/go"
	start_session 8 127.0.0.3 "$TMP/go"
	for n in 5 6 7 8; do wait_until greeted $n; done
	# all eight decide now, with B on disk
	touch "$TMP/go"
	for n in 1 2 3 4 5 6 7 8; do wait_until finished $n; done
	settle
	# A: 127.0.0.2 may relay; 127.0.0.3 may send to a.test only
	check_session 1 "250 250 250"
	check_session 2 "250 250 250"
	check_session 3 "250 554 554"
	check_session 4 "250 554 554"
	# B: 127.0.0.2 may send to b.test only; 127.0.0.3 may relay
	check_session 5 "554 250 554"
	check_session 6 "554 250 554"
	check_session 7 "250 250 250"
	check_session 8 "250 250 250"
	[[ $(sink_count) == 8 ]] || fail "the backend has $(sink_count) messages"
	refute_log 'table-error'
	refute_log ' 451 '
	assert_no_session_left
}

@test "rebuilt 40 times while 24 sessions run: each session sees whole tables, never a table error" {
	local n i
	(
		for ((i = 0; i < 40; i++)); do
			((i % 2)) && use_tables A || use_tables B
		done
		echo done >"$TMP/rebuilds"
	) &
	for ((n = 1; n <= 24; n++)); do
		((n % 2)) && start_session $n 127.0.0.2 || start_session $n 127.0.0.3
		sleep 0.0$((RANDOM % 10))
	done
	for ((n = 1; n <= 24; n++)); do WAIT_LIMIT=30 wait_until finished $n; done
	WAIT_LIMIT=60 wait_until test -f "$TMP/rebuilds"
	settle
	# local_domains and relay_clients are two tables: a session may open
	# one before and one after a rebuild, but each is a whole version
	local got ok
	for ((n = 1; n <= 24; n++)); do
		got=$(rcpt_codes $n)
		if ((n % 2)); then
			# 127.0.0.2: A/A, A/B or B/A (relays) | B/B
			ok="250 250 250|250 554 554|554 250 554"
		else
			# 127.0.0.3: A/A | B/B, A/B (relays) | B/A
			ok="250 554 554|250 250 250|554 250 554"
		fi
		[[ "|$ok|" == *"|$got|"* ]] ||
			fail "session $n: RCPT codes '$got' match no version of the tables" "$(cat "$TMP/out.$n")"
		check_session $n "$got"
	done
	[[ $(sink_count) == 24 ]] || fail "the backend has $(sink_count) messages"
	refute_log 'table-error'
	assert_no_session_left
}
