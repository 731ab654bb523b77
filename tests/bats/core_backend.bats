#!/usr/bin/env bats
# core_backend: the MTA side. Refusals of the backend reach the client as
# they are; a backend that is down, slow or dies never turns into a 250;
# unix: sockets and LMTP.

load lib/common

HELLO='Subject: backend\r\n\r\nhello backend\r\n.\r\n'

@test "backend down at MAIL: 451 4.4.1, the session goes on" {
	BACKEND=127.0.0.1:$(free_port)
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 451 250 221"
	assert_reply '451 4\.4\.1'
	assert_log 'event=reject client=127\.0\.0\.1 .*cmd=MAIL reply="451 4\.4\.1'
}

@test "backend greets with 554: MAIL is not accepted, nothing is delivered" {
	start_sink -f CONNECT -B '554 5.3.2 backend closed for business'
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'QUIT\r\n'
	assert_closed
	refute_reply '250 2\.1\.0'
	assert_reply '[45][0-9][0-9] [45]\.'
	settle
	[[ $(sink_count) == 0 ]] || fail "delivered"
}

@test "backend refuses MAIL: its 5xx reply reaches the client as is" {
	start_sink -f MAIL -B '550 5.7.1 backend says no to this sender'
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 550 221"
	assert_reply '550 5\.7\.1 backend says no to this sender$'
}

@test "backend defers RCPT: its 4xx reply reaches the client as is" {
	start_sink -r RCPT -b '450 4.2.1 mailbox busy, try later'
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'RSET\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 450 250 221"
	assert_reply '450 4\.2\.1 mailbox busy, try later$'
	assert_log 'event=summary .*rcpts=0 accepted=0 '
}

@test "backend refuses DATA: the client gets the refusal, not 354" {
	start_sink -f DATA -B '554 5.7.1 no data today'
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 'RSET\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 554 250 221"
	assert_reply '554 5\.7\.1 no data today$'
}

@test "backend refuses the message at end of data: its reply reaches the client" {
	start_sink -f . -B '554 5.7.1 content refused by backend'
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "$HELLO" =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 554 221"
	assert_reply '554 5\.7\.1 content refused by backend$'
}

@test "backend slower than timeout_backend at MAIL: 4xx in time" {
	start_sink -W MAIL:6
	start_proxy 'timeout_backend 1'
	timed run smtp -t 8 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 \
		'QUIT\r\n'
	assert_closed
	[[ $(reply_codes) == "220 250 4"* ]] || fail "codes: $(reply_codes)" "$output"
	refute_reply '250 2\.1\.0'
	assert_reply '4[0-9][0-9] 4\.4\.[0-9]'
	assert_took_ms 900 4000
}

@test "backend that never greets: 451 4.4.1 at MAIL within timeout_backend" {
	start_sink -W CONNECT:6
	start_proxy 'timeout_backend 1'
	timed run smtp -t 8 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 \
		'QUIT\r\n'
	assert_closed
	assert_codes "220 250 451 221"
	assert_reply '451 4\.4\.1'
	assert_took_ms 900 4000
}

@test "backend slower than timeout_backend at end of data: 451 4.4.1, never 250" {
	start_sink -W .:6
	start_proxy 'timeout_backend 1'
	timed run smtp -t 8 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "$HELLO" =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 451 221"
	assert_reply '451 4\.4\.1'
	assert_took_ms 900 4000
	assert_log 'event=reject client=127\.0\.0\.1 cmd=DATA reply="451 4\.4\.1'
	assert_log 'event=summary .*accepted=0 '
	refute_log 'event=accepted'
}

@test "backend dies mid-DATA: 451 4.4.1 after the client's end of data, never 250" {
	start_sink
	start_proxy
	gen_message "$TMP/rest" 400000 5
	run smtp -t 20 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: dying\r\n\r\nfirst part\r\n' "!kill -9 $SINK_PID" "<$TMP/rest" '.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 451 221"
	assert_reply '451 4\.4\.1'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=DATA reply="451 4\.4\.1'
	assert_log 'event=summary .*accepted=0 '
	refute_log 'event=accepted'
}

@test "backend closes the connection after end of data without a reply: 451 4.4.1" {
	start_sink -q .
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "$HELLO" =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 451 221"
	assert_reply '451 4\.4\.1'
}

@test "backend aborts DATA with 550 right after 354: never 250" {
	start_sink -A 0
	start_proxy
	gen_message "$TMP/msg" 200000 6
	run smtp -t 20 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 \
		"<$TMP/msg" '.\r\n' =1 'QUIT\r\n'
	assert_closed
	local codes
	codes=$(reply_codes)
	[[ $codes == "220 250 250 250 354 "[45]??" 221" ]] || fail "codes: $codes" "$output"
	settle
	[[ $(sink_count) == 0 ]] || fail "delivered"
}

@test "backend lost at RCPT (not in DATA): 421 4.4.1 and close" {
	start_sink -q RCPT
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 421"
	assert_reply '421 4\.4\.1'
}

@test "backend on a unix: socket" {
	start_sink_unix
	start_proxy
	grep -q "^backend unix:$TMP/sink.sock$" "$TMP/smtpproxy.conf"
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "$HELLO" =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	settle_unix
	[[ $(sink_count) == 1 ]] || fail "sink holds $(sink_count) messages"
	grep -qx 'hello backend' "$(sink_files)"
}

@test "LMTP backend: LHLO, one reply per recipient, one reply to the client" {
	start_sink_unix -L
	start_proxy 'backend_protocol lmtp'
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r1@test>\r\n' =1 'RCPT TO:<r2@test>\r\n' =1 \
		'DATA\r\n' =1 "$HELLO" =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	# one reply to the end of data: two LMTP replies must not leak through
	assert_codes "220 250 250 250 250 354 250 250 221"
	settle_unix
	local f
	[[ $(sink_count) == 1 ]] || fail "sink holds $(sink_count) messages"
	f=$(sink_files)
	grep -q '^X-Client-Proto: LMTP' "$f" || fail "not LMTP:" "$(head -3 "$f")"
	[[ $(grep -c '^X-Rcpt-Args' "$f") == 2 ]] || fail "recipients:" "$(grep X-Rcpt "$f")"
	assert_log 'event=summary .*rcpts=2 accepted=1 .*result=(ok|quit)'
}

@test "LMTP over TCP" {
	start_sink -L
	start_proxy 'backend_protocol lmtp'
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r1@test>\r\n' =1 \
		'DATA\r\n' =1 "$HELLO" =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	settle
	grep -q '^X-Client-Proto: LMTP' "$(sink_files)"
}

@test "a backend without ESMTP (EHLO refused): 451 4.4.1 at MAIL, the refusal logged, the session goes on" {
	start_sink -e
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 451 250 221"
	assert_reply '451 4\.4\.1 Mail server temporarily unavailable$'
	assert_log 'event=backend-error backend=127\.0\.0\.1:[0-9]+ reason="EHLO refused: 500 5\.5\.1 Error: unknown command"'
	settle
	[[ $(sink_count) == 0 ]] || fail "delivered"
}

@test "backend closes after EHLO or XCLIENT without a reply: 451 4.4.1, the session goes on" {
	local verb
	for verb in EHLO XCLIENT; do
		start_sink -q "$verb"
		: >"$TMP/smtpproxy.log"
		start_proxy
		run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
		assert_closed
		assert_codes "220 250 451 250 221"
		assert_reply '451 4\.4\.1 '
		assert_log 'event=backend-error backend=127\.0\.0\.1:[0-9]+ reason="eof"'
		wait_sessions_done
		stop_pid "$XINETD_PID"
		XINETD_PID=
	done
}

@test "backend refuses XCLIENT: 451 4.4.1, logged; nothing reaches the backend" {
	start_sink -f XCLIENT
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 451 221"
	assert_reply '451 4\.4\.1 Mail server temporarily unavailable$'
	assert_log 'event=backend-error backend=127\.0\.0\.1:[0-9]+ reason="XCLIENT refused: 500 5\.3\.0 Error: command failed"'
	settle
	[[ $(sink_count) == 0 ]] || fail "delivered"
}

@test "backend offers only XFORWARD and refuses it: 451 4.4.1 configuration error at MAIL" {
	start_sink -C -f XFORWARD
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 451 250 221"
	assert_reply '451 4\.4\.1 Mail server configuration error$'
	assert_log 'event=backend-error backend=127\.0\.0\.1:[0-9]+ reason="XFORWARD refused: 500 5\.3\.0 Error: command failed"'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=MAIL reply="451 4\.4\.1 Mail server configuration error"'
}

@test "backend closes at XFORWARD without a reply: 421 4.4.1 and the connection closes" {
	start_sink -C -q XFORWARD
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 421"
	assert_reply '421 4\.4\.1 Lost connection to the mail server$'
	assert_log 'event=summary .*result=closed'
}

@test "backend_xclient yes and a backend with neither XCLIENT nor XFORWARD: 451 4.4.1, never unidentified mail" {
	start_sink -C -F
	start_proxy 'backend_xclient yes'
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 451 221"
	assert_log 'reason="backend offers neither XCLIENT nor XFORWARD"'
	settle
	[[ $(sink_count) == 0 ]] || fail "delivered"
	# auto: the same backend gets the mail, without the client's identity
	stop_pid "$XINETD_PID"
	XINETD_PID=
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 \
		'DATA\r\n' =1 "$HELLO" =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	settle
	[[ $(sink_count) == 1 ]] || fail "sink holds $(sink_count) messages"
}

@test "a malformed backend reply: 421 4.4.1 and close, never relayed as a reply" {
	local bad
	# a bad line; a multi-line reply whose last line has another code
	for bad in '550_5.7.1 not a reply line' $'550-5.7.1 first\r\n551 5.7.1 last'; do
		start_sink -f MAIL -B "$bad"
		stop_pid "$XINETD_PID"
		XINETD_PID=
		: >"$TMP/smtpproxy.log"
		start_proxy
		run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
		assert_closed
		assert_codes "220 250 421"
		assert_reply '421 4\.4\.1 Lost connection to the mail server$'
		refute_reply '55[01]'
		assert_log 'event=backend-error backend=127\.0\.0\.1:[0-9]+ reason="malformed reply"'
		wait_sessions_done
	done
}

@test "control characters in a backend reply reach the client and the log as '?'" {
	start_sink -f MAIL -B $'550 5.7.1 tab\there bell\aend\x7fdel'
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 550 221"
	assert_reply '550 5\.7\.1 tab\?here bell\?end\?del$'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=MAIL reply="550 5\.7\.1 tab\?here bell\?end\?del"'
}

# stopped PID: the process is stopped (SIGSTOP)
stopped() {
	[[ $(ps -o stat= -p "$1") == T* ]]
}

# accept_queue_full PORT: the listener on PORT has more connections waiting
# than its backlog (ss: Recv-Q > Send-Q); the kernel drops further SYNs
accept_queue_full() {
	[[ $(ss -ltnH "sport = :$1" | awk '{ print ($2 > $3) }') == 1 ]]
}

@test "a backend that completes no TCP handshake (SYNs dropped): 451 4.4.1 within timeout_backend" {
	# smtp-sink with a listen backlog of 1, stopped, its accept queue full
	SINK_PORT=$(free_port)
	smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 1 >"$TMP/sink.out" 2>&1 &
	SINK_PID=$!
	wait_own_port "$SINK_PID" "$SINK_PORT" || fail "smtp-sink did not start"
	kill -STOP "$SINK_PID"
	wait_until stopped "$SINK_PID"
	local c1 c2
	exec {c1}<>"/dev/tcp/127.0.0.1/$SINK_PORT" {c2}<>"/dev/tcp/127.0.0.1/$SINK_PORT"
	wait_until accept_queue_full "$SINK_PORT"
	BACKEND=127.0.0.1:$SINK_PORT
	# extensions fixed: EHLO does not ask the backend, MAIL alone waits
	start_proxy 'timeout_backend 1' 'backend_extensions none'
	timed run smtp -t 8 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 \
		'QUIT\r\n'
	exec {c1}>&- {c2}>&-
	kill -CONT "$SINK_PID"
	assert_closed
	assert_codes "220 250 451 221"
	assert_reply '451 4\.4\.1'
	assert_took_ms 900 4000
	assert_log 'event=backend-error backend=127\.0\.0\.1:[0-9]+ reason=connect error="Connection timed out"'
}

@test "a VRFY argument too long for the backend: 451 4.4.1, the session and the backend go on" {
	start_sink
	start_proxy 'vrfy yes' 'max_line_length 4000'
	local long
	long=$(printf 'v%.0s' {1..2100})
	run smtp 'EHLO c\r\n' =1 "VRFY $long\\r\\n" =1 'VRFY root\r\n' =1 \
		'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "$HELLO" =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 451 250 250 250 354 250 221"
	assert_reply '451 4\.4\.1 Command too long for the mail server$'
	settle
	[[ $(sink_count) == 1 ]] || fail "sink holds $(sink_count) messages"
}

@test "backend gone during DATA, noticed only at the final dot: 451 4.4.1, never 250" {
	start_sink
	start_proxy
	# 20 kB: one full write buffer goes out during DATA (the dead backend
	# answers it with a reset), the rest and the dot fail at the end
	/usr/bin/python3 -c "
import sys
out = b'Subject: end of data\r\n\r\n'
while len(out) < 20000:
    out += b'y' * 70 + b'\r\n'
open(sys.argv[1], 'wb').write(out)" "$TMP/msg"
	local gone="timeout 5 sh -c 'while ss -tnH state established \"( sport = :$SINK_PORT )\" | grep -q .; do sleep 0.02; done'"
	run smtp -t 20 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 \
		"!kill -9 $SINK_PID; $gone" "<$TMP/msg" '.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 451 221"
	assert_reply '451 4\.4\.1 Lost connection to the mail server$'
	assert_log 'event=backend-error backend=127\.0\.0\.1:[0-9]+ reason="[^"]* at end of DATA"'
	assert_log 'event=summary .*accepted=0 '
	refute_log 'event=accepted'
}

@test "-n: a backend that refuses EHLO: exit 111, its greeting and refusal shown" {
	start_sink -e
	write_conf "backend $BACKEND" "hostname proxy.test" "log_file $TMP/smtpproxy.log"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 111 ]] || fail "status $status" "$output"
	[[ $output == *$'backend: 220 smtp-sink'* ]] || fail "no greeting: $output"
	[[ $output == *"backend: 500 5.5.1 Error: unknown command"* ]] || fail "no refusal: $output"
}

@test "-n: warnings for what the backend lacks (DSN, SMTPUTF8, XCLIENT and XFORWARD), exit 0" {
	start_sink -N -C -F
	write_conf "backend $BACKEND" "hostname proxy.test" "backend_extensions dsn smtputf8"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 0 ]] || fail "status $status" "$output"
	[[ $output == *"warning: backend_extensions lists dsn, the backend does not offer DSN"* ]] || fail "$output"
	[[ $output == *"warning: backend_extensions lists smtputf8, the backend does not offer SMTPUTF8"* ]] || fail "$output"
	[[ $output == *"warning: the backend offers neither XCLIENT nor XFORWARD: it will see the proxy's address"* ]] || fail "$output"
	# a backend that has what is listed: no warning about it; smtp-sink
	# offers neither SIZE nor SMTPUTF8, so those parameters stay here
	start_sink
	write_conf "backend $BACKEND" "hostname proxy.test" "backend_extensions dsn"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 0 ]] || fail "status $status" "$output"
	[[ $output != *"backend_extensions lists"* && $output != *"neither XCLIENT"* ]] || fail "$output"
	[[ $output == *"warning: the backend does not offer SIZE: SIZE= parameters are not forwarded"* ]] || fail "$output"
	[[ $output == *"warning: the backend does not offer SMTPUTF8: SMTPUTF8 parameters are not forwarded"* ]] || fail "$output"
	[[ $output != *"does not offer 8BITMIME"* && $output != *"does not offer DSN"* ]] || fail "$output"
}

@test "-n: the other way: the backend offers DSN that backend_extensions does not list" {
	start_sink
	write_conf "backend $BACKEND" "hostname proxy.test" "backend_extensions none"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 0 ]] || fail "status $status" "$output"
	[[ $output == *"warning: the backend offers DSN, backend_extensions does not list dsn"* ]] || fail "$output"
	[[ $output != *"offers SMTPUTF8"* ]] || fail "smtp-sink has no SMTPUTF8: $output"
}

@test "-n with backend_extensions auto (the default) writes backend_ehlo_cache" {
	start_sink
	mkdir -m 1777 "$TMP/state"
	write_conf "backend $BACKEND" "hostname proxy.test" "backend_ehlo_cache $TMP/state/ehlo"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 0 ]] || fail "status $status" "$output"
	[[ $output == *"backend_ehlo_cache: $TMP/state/ehlo written"* ]] || fail "$output"
	[[ $output != *"backend_extensions lists"* && $output != *"backend offers"* ]] || fail "$output"
	grep -qx DSN "$TMP/state/ehlo" || fail "cache: $(cat "$TMP/state/ehlo")"
	grep -qx PIPELINING "$TMP/state/ehlo" || fail "cache: $(cat "$TMP/state/ehlo")"
	! grep -q SMTPUTF8 "$TMP/state/ehlo" || fail "cache: $(cat "$TMP/state/ehlo")"
	# an unwritable place: said, still exit 0
	write_conf "backend $BACKEND" "hostname proxy.test" "backend_ehlo_cache $TMP/none/ehlo"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 0 ]] || fail "status $status" "$output"
	[[ $output == *"warning: backend_ehlo_cache: $TMP/none/ehlo: No such file or directory"* ]] || fail "$output"
}

@test "-n: a backend host name that does not resolve: exit 111, the resolver's reason logged" {
	require_proxy
	write_conf "backend no-such-host.invalid:25" "log_file $TMP/smtpproxy.log"
	run proxy_env RES_OPTIONS='timeout:1 attempts:1' "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 111 ]] || fail "status $status" "$output"
	[[ $output == *"backend: no-such-host.invalid:25: not reachable (451 4.4.1 Mail server temporarily unavailable)"* ]] ||
		fail "$output"
	assert_log 'event=backend-error backend=no-such-host\.invalid:25 reason="[^"]+"$'
	assert_log 'event=backend-error backend=no-such-host\.invalid:25 reason=connect '
}

# ---------------------------------------------------------------------------
# MAIL and RCPT parameters go to the backend only when its EHLO reply offers
# their extension (issue 11, part 2)

# sink_dump_args KIND: the X-KIND-Args line(s) of the one message the sink
# holds, without the header name
sink_dump_args() {
	sed -n "s/^X-$1-Args: //p" "$(sink_files)"
}

# trace_session: smtpproxy -T -d on $TMP/smtpproxy.conf with $TMP/in as the
# client's side; the replies in $output, the -d trace in $TMP/trace
trace_session() {
	proxy_env "$SMTPPROXY_BIN" -d -f "$TMP/smtpproxy.conf" -T '[192.0.2.7]' \
		<"$TMP/in" 2>"$TMP/trace"
}

@test "parameters: smtp-sink (no SIZE) gets BODY= and DSN's, never SIZE= nor AUTH=; max_message_size still refuses" {
	start_sink
	start_proxy 'backend_extensions dsn' 'sasl_mechanisms PLAIN' 'max_message_size 100000'
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test> SIZE=100001\r\n' =1 \
		'MAIL FROM:<s@test> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=e1 AUTH=<>\r\n' =1 \
		'RCPT TO:<r@test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;r@test\r\n' =1 \
		'DATA\r\n' =1 "$HELLO" =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 552 250 250 354 250 221"
	assert_reply '552 5\.3\.4 '
	settle
	[[ $(sink_count) == 1 ]] || fail "sink holds $(sink_count) messages"
	[[ $(sink_dump_args Mail) == '<s@test> BODY=8BITMIME RET=HDRS ENVID=e1' ]] ||
		fail "MAIL as the backend got it: $(sink_dump_args Mail)"
	[[ $(sink_dump_args Rcpt) == '<r@test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;r@test' ]] ||
		fail "RCPT as the backend got it: $(sink_dump_args Rcpt)"
}

@test "parameters: smtp-sink -8 -N (no 8BITMIME, no DSN) gets none of BODY=, RET=, ENVID=, NOTIFY=, ORCPT=; -d says so" {
	start_sink -8 -N
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" "hostname proxy.test" \
		'backend_extensions dsn' "backend_ehlo_cache $TMP/ehlo"
	printf '%s\r\n' 'EHLO c' 'MAIL FROM:<s@test> SIZE=100 BODY=8BITMIME RET=FULL ENVID=e2' \
		'RCPT TO:<r@test> NOTIFY=NEVER ORCPT=rfc822;r@test' 'DATA' 'Subject: t' '' 'no params' '.' \
		'QUIT' >"$TMP/in"
	run trace_session
	[[ $status == 0 ]] || fail "status $status" "$output" "$(cat "$TMP/trace")"
	assert_codes "220 250 250 250 354 250 221"
	# DSN is offered to the client as backend_extensions says
	assert_reply '250[- ]DSN$'
	wait_backend_idle
	[[ $(sink_count) == 1 ]] || fail "sink holds $(sink_count) messages"
	[[ $(sink_dump_args Mail) == '<s@test>' ]] || fail "MAIL as the backend got it: $(sink_dump_args Mail)"
	[[ $(sink_dump_args Rcpt) == '<r@test>' ]] || fail "RCPT as the backend got it: $(sink_dump_args Rcpt)"
	local p
	for p in SIZE=100 BODY=8BITMIME RET=FULL ENVID=e2 NOTIFY=NEVER 'ORCPT=rfc822;r@test'; do
		grep -qF "backend: not forwarding $p" "$TMP/trace" ||
			fail "no 'not forwarding $p' in the trace:" "$(cat "$TMP/trace")"
	done
}

@test "parameters: Postfix offers SIZE, so SIZE= reaches it (its message_size_limit answers at MAIL)" {
	start_postfix 'message_size_limit = 100000'
	start_proxy 'max_message_size 10000000'
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test> SIZE=200000\r\n' =1 \
		'MAIL FROM:<s@test> SIZE=20\r\n' =1 'RCPT TO:<r@test>\r\n' =1 \
		'DATA\r\n' =1 "$HELLO" =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 552 250 250 354 250 221"
	assert_reply '552 5\.3\.4 Message size exceeds fixed limit$'
	pf_settle
	pf_wait_count 1
}
