#!/usr/bin/env bats
# core_limits: every wait and every list is bounded, and the reply at each
# bound is the one the interface fixes.

load lib/common

@test "timeout_command: an idle client gets 421 4.4.2 and is closed" {
	start_sink
	start_proxy 'timeout_command 1'
	timed run smtp -t 8 'EHLO c\r\n' =1
	assert_closed
	assert_codes "220 250 421"
	assert_reply '421 4\.4\.2'
	assert_took_ms 900 4000
	assert_log 'event=summary client=127\.0\.0\.1 .*result=[a-z-]*timeout '
	refute_log 'event=summary .*result=(ok|quit)'
}

@test "timeout_command: a half-sent command line also times out" {
	start_sink
	start_proxy 'timeout_command 1'
	timed run smtp -t 8 'NOOP'
	assert_closed
	assert_codes "220 421"
	assert_reply '421 4\.4\.2'
	assert_took_ms 900 4000
}

@test "timeout_data: a client stalling in DATA gets 421 4.4.2; nothing is delivered" {
	start_sink
	start_proxy 'timeout_data 1' 'timeout_command 30'
	timed run smtp -t 8 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: stall\r\n\r\nhalf a messa'
	assert_closed
	assert_codes "220 250 250 250 354 421"
	assert_reply '421 4\.4\.2'
	assert_took_ms 900 4000
	settle
	[[ $(sink_count) == 0 ]] || fail "a partial message was delivered"
}

@test "timeout_session: a client busy with NOOPs is closed with 421 4.4.2 at the session bound" {
	start_sink
	start_proxy 'timeout_session 2' 'timeout_command 30'
	local items=('EHLO c\r\n' =1) i
	for ((i = 0; i < 40; i++)); do
		items+=(+150 'NOOP\r\n' =1)
	done
	timed run smtp -t 10 "${items[@]}"
	assert_closed
	assert_reply '421 4\.4\.2'
	[[ $(reply_codes) == "220 250 "*" 421" ]] || fail "codes: $(reply_codes)"
	assert_took_ms 1900 5000
	assert_log 'event=summary .*duration=[0-9]'
}

@test "max_line_length: a command line too long gets 500 5.5.6; the session goes on" {
	start_sink
	start_proxy 'max_line_length 512'
	local long fits
	long=$(printf 'x%.0s' {1..600})
	fits=$(printf 'y%.0s' {1..400})
	run smtp 'EHLO c\r\n' =1 "MAIL FROM:<$long@test>\\r\\n" =1 "NOOP $fits\\r\\n" =1 \
		"RCPT TO:<$long@test>\\r\\n" =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 500 250 500 221"
	assert_reply_count 2 '500 5\.5\.6'
	assert_log 'event=reject client=127\.0\.0\.1 .*reply="500 5\.5\.6'
}

@test "max_line_length: default 2048; a 20 MB line without CRLF gets 500 5.5.6, memory stays bounded" {
	start_sink
	start_proxy
	local ok base rss
	ok=$(printf 'y%.0s' {1..1900})
	run smtp 'EHLO c\r\n' =1 "NOOP $ok\\r\\n" =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 221"
	assert_log 'event=summary .*maxrss=[0-9]+'
	base=$(log_line 'event=summary' | sed -E 's/.*maxrss=([0-9]+).*/\1/' | tail -n 1)

	head -c 20000000 /dev/zero | tr '\0' 'z' >"$TMP/huge"
	printf '\r\n' >>"$TMP/huge"
	run smtp -t 30 'EHLO c\r\n' =1 "<$TMP/huge" =1 'QUIT\r\n'
	assert_closed
	local codes
	codes=$(reply_codes)
	[[ $codes == "220 250 500"*" 221" ]] || fail "codes: $codes"
	assert_reply '500 5\.5\.6'
	wait_log_count 2 event=summary
	rss=$(log_line 'event=summary' | sed -E 's/.*maxrss=([0-9]+).*/\1/' | tail -n 1)
	# buffering the line would add 20000 KB
	((rss < base + 8000)) || fail "maxrss grew from $base KB to $rss KB"
}

@test "max_unknown_commands 3: three 502 5.5.2, then 421 4.7.0 and close" {
	start_sink
	start_proxy 'max_unknown_commands 3'
	run smtp 'EHLO c\r\n' =1 'FOO\r\n' =1 'BAR\r\n' =1 'BAZ\r\n' =1 'QUX\r\n' 'NOOP\r\n'
	assert_closed
	assert_reply_count 3 '502 5\.5\.2'
	assert_codes "220 250 502 502 502 421"
	assert_reply '421 4\.7\.0'
	refute_reply '250 2\.0\.0'
	assert_log 'event=reject client=127\.0\.0\.1 .*reply="421 4\.7\.0'
}

@test "max_errors 3: syntax and sequence errors count; then 421 4.7.0 and close" {
	start_sink
	start_proxy 'max_errors 3'
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<broken\r\n' =1 'RCPT TO:<r@test>\r\n' =1 \
		'MAIL FROM:<broken\r\n' =1 'MAIL FROM:<broken\r\n' 'NOOP\r\n'
	assert_closed
	assert_codes "220 250 501 503 501 421"
	assert_reply '421 4\.7\.0'
	refute_reply '250 2\.0\.0'
	assert_log 'event=reject .*reply="421 4\.7\.0'
}

@test "max_errors: good commands between errors do not reset the count" {
	start_sink
	start_proxy 'max_errors 2'
	run smtp 'EHLO c\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'NOOP\r\n' =1 'DATA\r\n' =1 \
		'RCPT TO:<r@test>\r\n' 'NOOP\r\n'
	assert_closed
	assert_codes "220 250 503 250 503 421"
	assert_reply_count 1 '250 2\.0\.0' 
}

@test "many sessions at once stay independent" {
	start_sink
	start_proxy
	local i pids=()
	for ((i = 0; i < 8; i++)); do
		"$RAWSMTP" -t 20 127.0.0.1 "$PROXY_PORT" 'EHLO c\r\n' =1 "MAIL FROM:<s$i@test>\\r\\n" =1 \
			"RCPT TO:<r$i@test>\\r\\n" =1 'DATA\r\n' =1 "Subject: $i\\r\\n\\r\\nbody $i\\r\\n.\\r\\n" =1 \
			'QUIT\r\n' >"$TMP/c$i.out" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || fail "client $i failed" "$(cat "$TMP/c$i.out")"
	done
	settle
	[[ $(sink_count) == 8 ]] || fail "sink holds $(sink_count) messages"
	for ((i = 0; i < 8; i++)); do
		f=$(grep -l "^X-Mail-Args: <s$i@test>" $(sink_files)) || fail "no message $i"
		grep -qx "body $i" "$f" || fail "message $i has another body"
		grep -q "^X-Rcpt-Args: <r$i@test>" "$f" || fail "message $i has another recipient"
	done
}

@test "timeout_command bounds a whole command line: a line trickled in byte by byte gets 421 4.4.2" {
	start_sink
	start_proxy 'timeout_command 2'
	# each byte comes well within the timeout, the line as a whole does not
	run smtp -t 15 'E' +700 'H' +700 'L' +700 'O' +700 ' ' +700 'x' +700 '\r\n' 'QUIT\r\n'
	assert_closed
	assert_codes "220 421"
	assert_reply '421 4\.4\.2 '
	assert_log 'event=summary .*result=timeout'
}

@test "timeout_data bounds each line of the message: a line trickled in byte by byte gets 421 4.4.2, nothing delivered" {
	start_sink
	start_proxy 'timeout_data 2'
	run smtp -t 15 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: slow\r\n\r\n' 'a' +700 'b' +700 'c' +700 'd' +700 \
		'e' +700 'f' +700 '\r\n.\r\n' 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 421"
	assert_reply '421 4\.4\.2 '
	settle
	[[ $(sink_count) == 0 ]] || fail "a message was delivered"
}

@test "timeout_data: a slow but steady message, each line in time, is delivered" {
	start_sink
	start_proxy 'timeout_data 2'
	run smtp -t 15 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: steady\r\n\r\n' 'one\r\n' +700 'two\r\n' +700 \
		'three\r\n' +700 'four\r\n' +700 '.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
}

# ---------------------------------------------------------------------------
# junk commands (max_junk_commands) and one backend connection per session
# (issue 11, part 5)

HELLO='Subject: limits\r\n\r\nhello\r\n.\r\n'

# repeat N ITEM...: the items N times over (for rawsmtp)
repeat() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		printf '%s\n' "$@"
	done
}

@test "max_junk_commands: 100 NOOPs by default, the 101st gets 421 4.7.0 and the session ends" {
	start_sink
	start_proxy
	local items
	mapfile -t items < <(repeat 101 'NOOP\r\n' =1)
	run smtp -t 20 "${items[@]}" 'NOOP\r\n'
	assert_closed
	assert_codes "220$(printf ' 250%.0s' {1..100}) 421"
	assert_reply '421 4\.7\.0 proxy\.test Error: too many junk commands$'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=NOOP reply="421 4\.7\.0 proxy\.test Error: too many junk commands"'
	assert_log 'event=summary client=127\.0\.0\.1 .*result=too-many-junk '
}

@test "max_junk_commands: EHLO, HELO, RSET, HELP, VRFY and EXPN count too" {
	start_sink
	start_proxy 'max_junk_commands 6'
	run smtp 'EHLO c\r\n' =1 'HELO c\r\n' =1 'RSET\r\n' =1 'HELP\r\n' =1 'VRFY root\r\n' =1 \
		'EXPN staff\r\n' =1 'EHLO c\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 214 502 502 421"
	assert_reply '421 4\.7\.0 proxy\.test Error: too many junk commands$'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=EHLO reply="421 4\.7\.0 '
	assert_log 'event=summary .*result=too-many-junk '
}

@test "max_junk_commands: the count starts again after an accepted message" {
	start_sink
	start_proxy 'max_junk_commands 3'
	run smtp 'EHLO c\r\n' =1 'NOOP\r\n' =1 'NOOP\r\n' =1 \
		'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "$HELLO" =1 \
		'NOOP\r\n' =1 'RSET\r\n' =1 'NOOP\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 250 250 354 250 250 250 250 421"
	assert_reply '421 4\.7\.0 proxy\.test Error: too many junk commands$'
	assert_log 'event=summary .*accepted=1 .*result=too-many-junk '
}

@test "max_junk_commands 0: no limit" {
	start_sink
	start_proxy 'max_junk_commands 0'
	local items
	mapfile -t items < <(repeat 150 'NOOP\r\n' =1)
	run smtp -t 20 'EHLO c\r\n' =1 "${items[@]}" 'RSET\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250$(printf ' 250%.0s' {1..151}) 221"
	assert_log 'event=summary .*result=quit '
}

# pf_sessions: how many backend connections carried the client's session
# (told 127.0.0.2 with XCLIENT); not counted: the short one that may ask
# the backend's extensions at the first EHLO (backend_extensions auto)
pf_sessions() {
	grep -Ec 'postfix/smtpd\[[0-9]+\]: disconnect from [^ ]*\[127\.0\.0\.2\]' "$TMP/postfix.log"
}

# pf_wait_quit: Postfix logged the end of the connection that got QUIT
# (its log goes through postlogd: wait for it)
pf_wait_quit() {
	wait_until file_has "$TMP/postfix.log" \
		'postfix/smtpd\[[0-9]+\]: disconnect from [^ ]*\[127\.0\.0\.2\] .*quit=1'
}

# received_helo QID: the HELO name and protocol in the Received header that
# Postfix gave message QID, as "name PROTO"
received_helo() {
	sed -n '1,3p' "$PF_DIR/mail/$1.eml" | tr -d '\n' |
		sed -nE 's/^Received: from ([^ ]+) .*by backend\.test \(Postfix\) with ([A-Z]+) id.*/\1 \2/p'
}

@test "one backend connection per session: transactions, EHLO and HELO between them reuse it; the backend hears each new HELO" {
	start_postfix
	start_proxy
	local tx=('MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "$HELLO" =1)
	run smtp -b 127.0.0.2 -t 20 'EHLO first.example\r\n' =1 "${tx[@]}" \
		'EHLO second.example\r\n' =1 "${tx[@]}" \
		'HELO third.example\r\n' =1 "${tx[@]}" \
		'MAIL FROM:<s@test>\r\n' =1 'RSET\r\n' =1 "${tx[@]}" \
		'EHLO a.example\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 \
		'EHLO b.example\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 \
		'EHLO c.example\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_reply_count 4 '250 2\.0\.0 Ok: queued as'
	refute_reply '[45][0-9][0-9] '
	local qids=()
	mapfile -t qids < <(plain | sed -n 's/.*250 2\.0\.0 Ok: queued as \([0-9A-F]*\).*/\1/p')
	pf_settle
	pf_wait_count 4
	# all 8 MAIL commands on the connection that got QUIT, and no other
	wait_until file_has "$TMP/postfix.log" \
		'postfix/smtpd\[[0-9]+\]: disconnect from [^ ]*\[127\.0\.0\.2\] .* mail=8 .*quit=1' ||
		fail "Postfix log:" "$(grep -E 'disconnect from' "$TMP/postfix.log")"
	[[ $(pf_sessions) == 1 ]] ||
		fail "Postfix got $(pf_sessions) connections, expected 1:" "$(grep -E 'connect from' "$TMP/postfix.log")"
	[[ $(received_helo "${qids[0]}") == 'first.example ESMTP' ]] || fail "1st: $(received_helo "${qids[0]}")"
	[[ $(received_helo "${qids[1]}") == 'second.example ESMTP' ]] || fail "2nd: $(received_helo "${qids[1]}")"
	[[ $(received_helo "${qids[2]}") == 'third.example SMTP' ]] || fail "3rd: $(received_helo "${qids[2]}")"
	[[ $(received_helo "${qids[3]}") == 'third.example SMTP' ]] || fail "4th: $(received_helo "${qids[3]}")"
}

@test "one backend connection per session: one the backend closed while idle is replaced, the next transaction gets through" {
	start_postfix 'smtpd_timeout = 2s'
	start_proxy
	local tx=('MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "$HELLO" =1)
	# between the two transactions Postfix times the idle connection out
	local gone="timeout 10 sh -c 'while ss -tnH state established \"( sport = :$PF_PORT )\" | grep -q .; do sleep 0.05; done'"
	run smtp -b 127.0.0.2 -t 30 'EHLO client.example\r\n' =1 "${tx[@]}" "!$gone" "${tx[@]}" 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 250 250 354 250 221"
	assert_reply_count 2 '250 2\.0\.0 Ok: queued as'
	grep -Eq 'postfix/smtpd\[[0-9]+\]: timeout after END-OF-MESSAGE from ' "$TMP/postfix.log" ||
		fail "Postfix did not time the connection out:" "$(cat "$TMP/postfix.log")"
	pf_settle
	pf_wait_count 2
	pf_wait_quit
	[[ $(pf_sessions) == 2 ]] ||
		fail "Postfix got $(pf_sessions) connections, expected 2:" "$(grep -E 'connect from' "$TMP/postfix.log")"
	assert_log 'event=summary client=127\.0\.0\.2 .*accepted=2 '
}

@test "one backend connection per session: a backend gone while idle makes the next MAIL 451 4.4.1, not 421; the session goes on" {
	start_sink
	start_proxy
	local tx=('MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "$HELLO" =1)
	# smtp-sink killed: its side of the connection is closed
	local gone="timeout 5 sh -c 'while ss -tnH state established \"( sport = :$SINK_PORT )\" | grep -q .; do sleep 0.05; done'"
	run smtp -t 20 'EHLO c\r\n' =1 "${tx[@]}" "!kill -9 $SINK_PID; $gone" \
		'MAIL FROM:<s@test>\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 451 250 221"
	assert_reply '451 4\.4\.1 Mail server temporarily unavailable$'
	assert_log 'event=summary .*accepted=1 .*result=quit '
}
