#!/usr/bin/env bats
# core_xclient: against a real Postfix, the backend learns the real client
# (XCLIENT, or XFORWARD when XCLIENT is not offered), and Postfix's own
# verdicts reach the client as they are.
#
# The client connects from 127.0.0.2 so that its address differs from the
# proxy's own (127.0.0.1) on the backend connection.

load lib/common

CLIENT=127.0.0.2

# swaks_proxy [swaks options]: one message through the proxy from $CLIENT
swaks_proxy() {
	run swaks --server "127.0.0.1:$PROXY_PORT" --local-interface "$CLIENT" \
		--helo client.example --from sender@test --to rcpt@test \
		--body 'xclient body' --timeout 15 "$@"
}

# swaks_queued [swaks options]: swaks_proxy, which must succeed with
# Postfix's "queued as" reply passed through; sets QID to its queue id
swaks_queued() {
	swaks_proxy "$@"
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	QID=$(queue_id)
	[[ -n $QID ]] || fail "no 'queued as' reply passed through:" "$output"
}

# swaks_delivered [swaks options]: swaks_queued, then wait until Postfix
# has delivered that one message
swaks_delivered() {
	swaks_queued "$@"
	pf_settle
	pf_wait_count 1
}

@test "auto: Postfix sees the real client address and HELO through XCLIENT" {
	start_postfix
	start_proxy
	swaks_delivered
	grep -Eq "postfix/smtpd\[[0-9]+\]: $QID: client=[^ ]*\[127\.0\.0\.2\]$" "$TMP/postfix.log" ||
		fail "Postfix did not see 127.0.0.2:" "$(grep "$QID" "$TMP/postfix.log")"
	grep -Eq '^Received: from client\.example \([^)]*\[127\.0\.0\.2\]\)' "$PF_DIR/mail/$QID.eml" ||
		fail "Received header:" "$(head -3 "$PF_DIR/mail/$QID.eml")"
	grep -qx 'xclient body' "$PF_DIR/mail/$QID.eml"
	assert_log 'event=summary client=127\.0\.0\.2 helo=client\.example .*from=<sender@test> rcpts=1 accepted=1 .*result=(ok|quit)'
}

@test "auto: a HELO name with '+' and '=' reaches Postfix intact (XCLIENT xtext)" {
	start_postfix
	start_proxy
	swaks_delivered --helo 'client+tag=x.example'
	grep -Eq '^Received: from client\+tag=x\.example \([^)]*\[127\.0\.0\.2\]\)' "$PF_DIR/mail/$QID.eml" ||
		fail "Received header:" "$(head -3 "$PF_DIR/mail/$QID.eml")"
	assert_log 'event=summary client=127\.0\.0\.2 helo=client\+tag=x\.example '
}

@test "auto: Postfix's client restrictions apply to the real client" {
	start_postfix 'smtpd_client_restrictions = check_client_access inline:{ { 127.0.0.2 = REJECT blocked client } }'
	start_proxy
	swaks_proxy
	[[ $output == *"554 5.7.1 "*"Client host rejected: blocked client"* ]] ||
		fail "Postfix's refusal did not reach the client:" "$output"
	pf_settle
	[[ $(pf_count) == 0 ]] || fail "delivered"
	grep -q 'reject: RCPT from [^ ]*\[127\.0\.0\.2\]' "$TMP/postfix.log" ||
		fail "Postfix log:" "$(cat "$TMP/postfix.log")"

	# the same Postfix accepts another client address
	CLIENT=127.0.0.3
	swaks_proxy
	[[ $status == 0 ]] || fail "swaks from 127.0.0.3: status $status" "$output"
	pf_settle
	pf_wait_count 1
}

@test "auto without XCLIENT permission: XFORWARD tells Postfix the client" {
	start_postfix 'smtpd_authorized_xclient_hosts ='
	start_proxy
	swaks_queued
	pf_settle
	grep -Eq "$QID: client=[^ ]*\[127\.0\.0\.1\], orig_client=[^ ]*\[127\.0\.0\.2\]" "$TMP/postfix.log" ||
		fail "no XFORWARD in Postfix log:" "$(grep "$QID" "$TMP/postfix.log")"
}

@test "backend_xclient no: Postfix sees the proxy's own address" {
	start_postfix
	start_proxy 'backend_xclient no'
	swaks_queued
	pf_settle
	grep -Eq "$QID: client=[^ ]*\[127\.0\.0\.1\]$" "$TMP/postfix.log" ||
		fail "Postfix log:" "$(grep "$QID" "$TMP/postfix.log")"
	! grep -q '127\.0\.0\.2' "$TMP/postfix.log" || fail "Postfix learnt 127.0.0.2:" "$(grep 127.0.0.2 "$TMP/postfix.log")"
	! grep -q 'xclient=\|xforward=' "$TMP/postfix.log" || fail "XCLIENT/XFORWARD sent anyway"
	# the proxy still knows and logs the real client
	assert_log 'event=summary client=127\.0\.0\.2 '
}

@test "Postfix refuses one recipient: its reply reaches the client, the other gets the message" {
	start_postfix 'smtpd_recipient_restrictions = check_recipient_access inline:{ { bad@test = REJECT no such user here } }'
	start_proxy
	run smtp -b "$CLIENT" 'EHLO client.example\r\n' =1 'MAIL FROM:<sender@test>\r\n' =1 \
		'RCPT TO:<bad@test>\r\n' =1 'RCPT TO:<good@test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: two\r\n\r\nfor good only\r\n.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 554 250 354 250 221"
	assert_reply '554 5\.7\.1 <bad@test>: Recipient address rejected: no such user here$'
	pf_settle
	pf_wait_count 1
	grep -q 'to=<good@test>' "$TMP/postfix.log"
	! grep -q 'to=<bad@test>.*status=sent' "$TMP/postfix.log"
	assert_log 'event=summary .*rcpts=1 accepted=1 '
}

@test "Postfix in front of a real queue: a 1 MB message arrives with its body intact" {
	start_postfix
	start_proxy
	gen_message "$TMP/msg" 1000000 11
	run "$RAWSMTP" -t 30 -b "$CLIENT" 127.0.0.1 "$PROXY_PORT" 'EHLO client.example\r\n' =1 \
		'MAIL FROM:<sender@test>\r\n' =1 'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 \
		"<$TMP/msg" '.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	local qid
	qid=$(queue_id)
	pf_settle
	pf_wait_count 1
	# expected body: the wire form, dots unstuffed, LF line ends
	/usr/bin/python3 - "$TMP/msg" >"$TMP/want" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
body = data.split(b"\r\n\r\n", 1)[1]
out = []
for line in body.split(b"\r\n")[:-1]:
    out.append(line[1:] if line.startswith(b".") else line)
sys.stdout.buffer.write(b"\n".join(out) + b"\n")
PY
	pf_body "$PF_DIR/mail/$qid.eml" >"$TMP/got"
	cmp "$TMP/want" "$TMP/got" || fail "body changed:" "$(diff <(od -c "$TMP/want") <(od -c "$TMP/got") | head -20)"
}

# ---------------------------------------------------------------------------
# HELO (issue 11, part 6): required by default; without one the backend is
# never handed the proxy's own name; HELO and EHLO reach it as the client
# said them

# received_from QID: the first two lines of the Received header Postfix
# gave message QID, on one line
received_from() {
	sed -n '1,2p' "$PF_DIR/mail/$1.eml" | tr -d '\n'
}

@test "helo_required yes by default: MAIL before HELO/EHLO gets 503 5.5.1, Postfix hears no MAIL" {
	start_postfix
	start_proxy
	run smtp -b "$CLIENT" 'MAIL FROM:<sender@test>\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 503 250 221"
	assert_reply '503 5\.5\.1 Error: send HELO/EHLO first$'
	assert_log 'event=reject client=127\.0\.0\.2 cmd=MAIL reply="503 5\.5\.1 Error: send HELO/EHLO first"'
	pf_settle
	! grep -q 'postfix/smtpd.*connect from' "$TMP/postfix.log" ||
		fail "Postfix was contacted:" "$(cat "$TMP/postfix.log")"
	# the same client after EHLO gets through
	run smtp -b "$CLIENT" 'EHLO client.example\r\n' =1 'MAIL FROM:<sender@test>\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 221"
}

@test "helo_required no and no HELO: Postfix is not handed the proxy's name (Received: from unknown)" {
	start_postfix
	start_proxy 'helo_required no'
	run smtp -b "$CLIENT" 'MAIL FROM:<sender@test>\r\n' =1 'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: no helo\r\n\r\nno helo\r\n.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 354 250 221"
	QID=$(queue_id)
	[[ -n $QID ]] || fail "no 'queued as' reply:" "$output"
	pf_settle
	pf_wait_count 1
	local rcvd
	rcvd=$(received_from "$QID")
	[[ $rcvd =~ ^Received:\ from\ unknown\ \([^\)]*\[127\.0\.0\.2\]\) ]] || fail "Received header: $rcvd"
	[[ $rcvd != *proxy.test* ]] || fail "Postfix took the proxy's name for the client's: $rcvd"
	! grep -q 'proxy\.test' "$TMP/postfix.log" || fail "Postfix log:" "$(grep proxy.test "$TMP/postfix.log")"
	# (Postfix logs through postlogd: wait for the line)
	wait_until file_has "$TMP/postfix.log" 'postfix/smtpd\[[0-9]+\]: disconnect from .*\[127\.0\.0\.2\] .*mail=1 ' ||
		fail "Postfix log:" "$(cat "$TMP/postfix.log")"
	# Postfix counts the proxy's own EHLO before XCLIENT, and nothing after
	grep -Eq 'disconnect from .*\[127\.0\.0\.2\] ehlo=1 xclient=[0-9/]+ mail=1 ' "$TMP/postfix.log" ||
		fail "a HELO/EHLO reached Postfix after XCLIENT:" "$(grep 'disconnect from' "$TMP/postfix.log")"
	! grep -Eq 'disconnect from .* helo=' "$TMP/postfix.log" ||
		fail "a HELO reached Postfix after XCLIENT:" "$(grep 'disconnect from' "$TMP/postfix.log")"
}

@test "helo_required no, no HELO, Postfix's smtpd_helo_required yes: Postfix's own 503 reaches the client" {
	start_postfix 'smtpd_helo_required = yes'
	start_proxy 'helo_required no'
	run smtp -b "$CLIENT" 'MAIL FROM:<sender@test>\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 503 221"
	assert_reply '503 5\.5\.1 Error: send HELO/EHLO first$'
	pf_settle
	# Postfix refused the MAIL it was given (its counters: 0 of 1)
	wait_until file_has "$TMP/postfix.log" 'disconnect from [^ ]*\[127\.0\.0\.2\] .*mail=0/1 ' ||
		fail "Postfix did not refuse it:" "$(cat "$TMP/postfix.log")"
	assert_log 'event=reject client=127\.0\.0\.2 cmd=MAIL reply="503 5\.5\.1 Error: send HELO/EHLO first"'
}

@test "a client that said HELO reaches Postfix as SMTP, one that said EHLO as ESMTP (Received: with SMTP / ESMTP)" {
	start_postfix
	start_proxy
	local verb proto rcvd
	for verb in HELO EHLO; do
		run smtp -b "$CLIENT" "$verb client.example\\r\\n" =1 'MAIL FROM:<sender@test>\r\n' =1 \
			'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 "Subject: $verb\\r\\n\\r\\nsaid $verb\\r\\n.\\r\\n" =1 'QUIT\r\n'
		assert_closed
		QID=$(queue_id)
		[[ -n $QID ]] || fail "$verb: no 'queued as' reply:" "$output"
		pf_settle
		wait_until test -f "$PF_DIR/mail/$QID.eml"
		proto=ESMTP
		[[ $verb == HELO ]] && proto=SMTP
		rcvd=$(received_from "$QID")
		[[ $rcvd =~ ^Received:\ from\ client\.example\ \([^\)]*\[127\.0\.0\.2\]\)[[:space:]]+by\ backend\.test\ \(Postfix\)\ with\ $proto\ id\ $QID ]] ||
			fail "$verb: Received header: $rcvd"
	done
	wait_until file_has "$TMP/postfix.log" 'disconnect from .*\[127\.0\.0\.2\] helo=1 ' ||
		fail "Postfix log:" "$(grep 'disconnect from' "$TMP/postfix.log")"
}
