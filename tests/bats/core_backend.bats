#!/usr/bin/env bats
# core_backend: the MTA side. Refusals of the backend reach the client as
# they are; a backend that is down, slow or dies never turns into a 250;
# unix: sockets and LMTP.

load lib/common

HELLO='Subject: backend\r\n\r\nhello backend\r\n.\r\n'

assert_took_ms() {
	local took=$((T1 - T0))
	((took >= $1 && took <= $2)) || fail "took ${took} ms, expected ${1}..${2} ms"
}

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
	T0=$(now_ms)
	run smtp -t 8 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'QUIT\r\n'
	T1=$(now_ms)
	assert_closed
	[[ $(reply_codes) == "220 250 4"* ]] || fail "codes: $(reply_codes)" "$output"
	refute_reply '250 2\.1\.0'
	assert_reply '4[0-9][0-9] 4\.4\.[0-9]'
	assert_took_ms 900 4000
}

@test "backend that never greets: 451 4.4.1 at MAIL within timeout_backend" {
	start_sink -W CONNECT:6
	start_proxy 'timeout_backend 1'
	T0=$(now_ms)
	run smtp -t 8 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'QUIT\r\n'
	T1=$(now_ms)
	assert_closed
	assert_codes "220 250 451 221"
	assert_reply '451 4\.4\.1'
	assert_took_ms 900 4000
}

@test "backend slower than timeout_backend at end of data: 451 4.4.1, never 250" {
	start_sink -W .:6
	start_proxy 'timeout_backend 1'
	T0=$(now_ms)
	run smtp -t 8 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "$HELLO" =1 'QUIT\r\n'
	T1=$(now_ms)
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
