#!/usr/bin/env bats
# fault_backend: the backend fails under a transaction. The invariant of
# every test: the client hears 250 after its end of data only when the
# backend acknowledged the message (it is in the backend's dump), and no
# message is in the dump twice. Backends: Postfix's smtp-sink, killed with
# SIGKILL, and pysink (lib/fault.bash), which stores a message only when it
# is about to answer 250 and can answer 421, close or stay silent at any
# command. After each test no smtpproxy process is left, and each exited 0
# (the harness's teardown).

load lib/common
load lib/fault

# session ID MSGFILE [rawsmtp items before the message...]: one transaction
# for rcpt@test, the message sent in one write after the 354
session() {
	local id=$1 msg=$2
	shift 2
	run smtp -t 20 'EHLO client.test\r\n' =1 "MAIL FROM:<$id@sender.test>\\r\\n" =1 \
		'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 "$@" "<$msg" '.\r\n' =1 'QUIT\r\n'
}

# invariant ID: 250 after DATA <=> exactly one copy at the backend
invariant() {
	local code
	code=$(data_reply)
	if [[ $code == 250 ]]; then
		assert_dumped "$1" 1
	else
		assert_dumped "$1" 0
	fi
}

accepted_lines() {
	grep -c 'event=accepted' "$TMP/smtpproxy.log" || true
}

@test "smtp-sink killed mid-DATA: 451 4.4.1 after the client's end of data, no whole copy; the retry is delivered once" {
	start_sink
	start_proxy 'timeout_backend 5'
	fault_message "$TMP/m1" kill1 600000
	head -c 20000 "$TMP/m1" >"$TMP/m1.head"
	tail -c +20001 "$TMP/m1" >"$TMP/m1.tail"
	local t
	timed run smtp -t 30 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 \
		'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 "<$TMP/m1.head" \
		"!kill -9 $SINK_PID" "<$TMP/m1.tail" '.\r\n' =1 'QUIT\r\n'
	t=$((T1 - T0))
	assert_closed
	assert_codes "220 250 250 250 354 451 221"
	# where the proxy notices depends on the kernel: a write of the rest
	# of the message fails ("; message not accepted"), or the socket
	# buffers take it all and only the final dot cannot be sent (no
	# suffix); both are the documented 451 4.4.1, never a 250
	assert_reply '451 4\.4\.1 Lost connection to the mail server(; message not accepted)?$'
	((t < 10000)) || fail "the 451 took $t ms"
	wait "$SINK_PID" 2>/dev/null || true
	settle
	# a killed smtp-sink may leave its half-written capture file: never
	# the whole message
	assert_dumped -p kill1 0
	assert_log 'event=backend-error backend=127\.0\.0\.1:[0-9]+ reason='
	assert_log 'event=reject client=127\.0\.0\.1 cmd=DATA reply="451 4\.4\.1 '
	assert_log 'event=summary .*rcpts=1 accepted=0 '
	[[ $(accepted_lines) == 0 ]] || fail "an accepted line was logged"

	# the backend is back on the same port: the client's retry goes through once
	smtp-sink -u nobody -d "$TMP/sink/msg." "127.0.0.1:$SINK_PORT" 64 >>"$TMP/sink.out" 2>&1 &
	SINK_PID=$!
	wait_own_port "$SINK_PID" "$SINK_PORT" || fail "smtp-sink did not restart"
	session kill1 "$TMP/m1"
	assert_codes "220 250 250 250 354 250 221"
	settle
	assert_dumped -p kill1 1
	[[ $(accepted_lines) == 1 ]] || fail "expected one accepted line"
	assert_no_session_left
}

@test "pysink killed mid-DATA: 451 4.4.1, nothing at all at the backend" {
	start_pysink
	start_proxy
	fault_message "$TMP/m" kill2 400000
	head -c 5000 "$TMP/m" >"$TMP/m.head"
	tail -c +5001 "$TMP/m" >"$TMP/m.tail"
	# before its end of data the client hears nothing: the 451 comes after
	# the dot ($TMP/early marks a reply that came before)
	local rc=0
	smtp -t 30 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 \
		'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 "<$TMP/m.head" \
		"!kill -9 $SINK_PID" "<$TMP/m.tail" +300 \
		"!grep -q '^[0-9][0-9][0-9] ' '$TMP/out' && tail -n1 '$TMP/out' | grep -qv '^354' && touch '$TMP/early'" \
		'.\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 'QUIT\r\n' >"$TMP/out" 2>&1 || rc=$?
	output=$(cat "$TMP/out") status=$rc
	assert_closed
	[[ ! -e $TMP/early ]] || fail "a reply came before the client's end of data" "$output"
	# the backend is gone: the next MAIL cannot open it either
	assert_codes "220 250 250 250 354 451 451 221"
	assert_reply '451 4\.4\.1 Lost connection to the mail server; message not accepted'
	wait_sessions_done
	[[ $(sink_count) == 0 ]] || fail "the backend stored $(sink_count) files"
	invariant kill2
	pysink_has '^1 cmd DATA$' || fail "the backend never got DATA"
	refute_pysink 'stored'
	assert_log 'event=summary .*accepted=0 '
	assert_no_session_left
}

@test "backend 421 at MAIL: the client gets the 421 and the connection closes" {
	start_pysink -f 'MAIL=421 4.3.2 backend shutting down'
	start_proxy
	fault_message "$TMP/m" m421mail
	session m421mail "$TMP/m"
	assert_closed
	assert_codes "220 250 421"
	assert_reply '421 4\.3\.2 backend shutting down'
	settle
	invariant m421mail
	[[ $(sink_count) == 0 ]] || fail "stored"
	assert_log 'event=summary .*accepted=0 .*result=closed'
	assert_no_session_left
}

@test "backend 421 at the second RCPT: 421 to the client, the transaction is gone, no DATA" {
	start_pysink -f 'RCPT#2=421 4.3.2 backend going down'
	start_proxy
	fault_message "$TMP/m" m421rcpt
	run smtp -t 20 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 \
		'RCPT TO:<r1@test>\r\n' =1 'RCPT TO:<r2@test>\r\n' =1 'DATA\r\n' =1 \
		"<$TMP/m" '.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 421"
	assert_reply '421 4\.3\.2 backend going down'
	refute_reply '354'
	settle
	invariant m421rcpt
	wait_pysink '^1 closed-by-fault RCPT 421'
	refute_pysink 'cmd DATA'
	assert_log 'event=summary .*accepted=0 '
	assert_no_session_left
}

@test "backend 421 at RCPT with the whole transaction pipelined: no 354, no 250 for the message" {
	start_pysink -f 'RCPT#2=421 4.3.2 backend going down'
	start_proxy
	fault_message "$TMP/m" m421pipe
	# MAIL, two RCPTs, DATA, the message and its dot in one write
	{
		printf 'MAIL FROM:<s@sender.test>\r\nRCPT TO:<r1@test>\r\nRCPT TO:<r2@test>\r\nDATA\r\n'
		cat "$TMP/m"
		printf '.\r\nQUIT\r\n'
	} >"$TMP/pipe"
	run smtp -t 20 'EHLO client.test\r\n' =1 "<$TMP/pipe"
	assert_closed
	assert_codes "220 250 250 250 421"
	refute_reply '354'
	settle
	invariant m421pipe
	[[ $(sink_count) == 0 ]] || fail "stored"
	assert_no_session_left
}

@test "smtp-sink -Q RCPT (421 and disconnect): 421 to the client, nothing stored" {
	start_sink -Q RCPT
	start_proxy
	fault_message "$TMP/m" m421sink
	session m421sink "$TMP/m"
	assert_closed
	assert_codes "220 250 250 421"
	assert_reply '421 4\.'
	settle
	assert_dumped m421sink 0
	assert_log 'event=summary .*accepted=0 '
}

@test "backend 421 at DATA: the 421 reaches the client, never a 354" {
	start_pysink -f 'DATA=421 4.3.2 no more today'
	start_proxy
	fault_message "$TMP/m" m421data
	session m421data "$TMP/m"
	assert_closed
	assert_codes "220 250 250 250 421"
	assert_reply '421 4\.3\.2 no more today'
	settle
	invariant m421data
	refute_pysink 'stored'
	assert_no_session_left
}

@test "backend 421 after the end of data: 421, never 250; the retry is delivered once, byte for byte" {
	start_pysink -f 'DOT#1=421 4.3.2 lost my queue'
	start_proxy
	fault_message "$TMP/m" m421dot 300000
	session m421dot "$TMP/m"
	assert_closed
	# (whether the connection closes after the 421 is the next test)
	[[ $(reply_codes) == "220 250 250 250 354 421"* ]] || fail "codes: $(reply_codes)" "$output"
	assert_reply '421 4\.3\.2 lost my queue'
	wait_sessions_done
	invariant m421dot
	wait_pysink '^1 refused-dot 421 '
	[[ $(accepted_lines) == 0 ]] || fail "an accepted line was logged"
	# the client retries
	session m421dot "$TMP/m"
	assert_codes "220 250 250 250 354 250 221"
	settle
	invariant m421dot
	assert_dump_exact m421dot "$TMP/m"
	[[ $(sink_count) == 1 ]] || fail "the backend has $(sink_count) messages"
	[[ $(accepted_lines) == 1 ]] || fail "expected one accepted line"
	assert_no_session_left
}

@test "backend 421 after the end of data: the proxy closes the connection after relaying the 421" {
	start_pysink -f 'DOT=421 4.3.2 lost my queue'
	start_proxy
	fault_message "$TMP/m" m421close
	# after a 421 the server closes (RFC 5321 3.8): NOOP and QUIT go unanswered
	session m421close "$TMP/m"
	assert_closed
	assert_codes "220 250 250 250 354 421"
	settle
	invariant m421close
	assert_log 'event=summary .*accepted=0 .*result=closed'
}

@test "backend closes without a word after the end of data: 451 4.4.1, never 250" {
	start_pysink -f 'DOT=close'
	start_proxy
	fault_message "$TMP/m" mclose
	session mclose "$TMP/m"
	assert_closed
	assert_codes "220 250 250 250 354 451 221"
	assert_reply '451 4\.4\.1 '
	settle
	invariant mclose
	assert_log 'event=summary .*accepted=0 '
	assert_no_session_left
}

@test "backend never answers (accepts, then silence): 451 4.4.1 at MAIL within timeout_backend, never 250" {
	start_pysink -f 'CONNECT=silent'
	start_proxy 'timeout_backend 1'
	fault_message "$TMP/m" msilent
	local t
	timed run smtp -t 20 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 \
		'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 'QUIT\r\n'
	t=$((T1 - T0))
	assert_closed
	assert_codes "220 250 451 503 503 221"
	assert_reply '451 4\.4\.1 '
	refute_reply '354'
	((t >= 900 && t < 4000)) || fail "the session took $t ms with timeout_backend 1"
	settle
	[[ $(sink_count) == 0 ]] || fail "stored"
	wait_pysink '^1 silent CONNECT'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=MAIL reply="451 4\.4\.1 '
	assert_no_session_left
}

@test "backend silent at MAIL after its greeting and EHLO: 421 4.4.1 within timeout_backend, never 250" {
	start_pysink -f 'MAIL=silent'
	start_proxy 'timeout_backend 1'
	local t
	timed run smtp -t 20 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 'QUIT\r\n'
	t=$((T1 - T0))
	assert_closed
	# the backend connection is unusable: 421 and the session ends
	assert_codes "220 250 421"
	assert_reply '421 4\.4\.1 Lost connection to the mail server'
	((t >= 900 && t < 4000)) || fail "the session took $t ms with timeout_backend 1"
	settle
	wait_pysink '^1 silent MAIL'
	assert_no_session_left
}

@test "backend silent after the end of data: 451 4.4.1 within timeout_backend, never 250, nothing stored" {
	start_pysink -f 'DOT=silent'
	start_proxy 'timeout_backend 1'
	fault_message "$TMP/m" mdotsilent 100000
	local t
	timed session mdotsilent "$TMP/m"
	t=$((T1 - T0))
	assert_closed
	assert_codes "220 250 250 250 354 451 221"
	assert_reply '451 4\.4\.1 '
	((t >= 900 && t < 5000)) || fail "the session took $t ms with timeout_backend 1"
	settle
	invariant mdotsilent
	wait_pysink '^1 peer closed while silent'
	assert_log 'event=summary .*accepted=0 '
	assert_no_session_left
}

@test "a slow but living backend: its late 250 (within timeout_backend) is the client's 250, once" {
	start_pysink -f 'DOT=delay:1.5'
	start_proxy 'timeout_backend 5'
	fault_message "$TMP/m" mslow 50000
	session mslow "$TMP/m"
	assert_codes "220 250 250 250 354 250 221"
	assert_reply '250 2\.0\.0 Ok: queued as msg\.0001'
	settle
	invariant mslow
	assert_dump_exact mslow "$TMP/m"
	assert_no_session_left
}
