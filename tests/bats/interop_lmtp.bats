#!/usr/bin/env bats
# interop_lmtp: smtpproxy in front of a real Dovecot LMTP server (a private
# dovecot-lmtpd instance, lib/dovecot.bash), fed by real senders:
# Python's smtplib and curl (which add SIZE= to MAIL by themselves), swaks,
# and rawsmtp where the exact replies matter.
#
# What Dovecot does, which the tests rely on: its LHLO reply offers
# 8BITMIME, CHUNKING, ENHANCEDSTATUSCODES, PIPELINING, XCLIENT (only to
# login_trusted_networks) and XRCPTFORWARD, but no SIZE, DSN or SMTPUTF8,
# and it refuses a MAIL parameter it did not offer with "555 5.5.4
# Unsupported parameters". It refuses an unknown user at RCPT (550 5.1.1)
# and a failed delivery after the end of data, one reply per recipient.
# It prefixes each stored message with Return-Path, Delivered-To and a
# Received field that names the client XCLIENT gave it.

load lib/common
load lib/dovecot
load lib/interop

# one Dovecot for the file, emptied before each test: lib/dovecot.bash
dovecot_file_fixture

# lmtp_proxy [config lines]: smtpproxy in front of this test's Dovecot
lmtp_proxy() {
	start_proxy 'backend_protocol lmtp' "$@"
}

# assert_maildir USER EXPECTED_LF: USER holds exactly one message and it is
# EXPECTED_LF byte for byte below Dovecot's own fields
assert_maildir() {
	local f n
	dv_wait_count "$1" 1
	n=$(dv_count "$1")
	[[ $n == 1 ]] || fail "$1 holds $n messages, expected 1"
	f=$(dv_files "$1")
	dv_message "$f" >"$TMP/got.lf"
	cmp "$2" "$TMP/got.lf" ||
		fail "message for $1 changed on the way:" \
			"$(diff <(od -c "$2") <(od -c "$TMP/got.lf") | head -20)"
}

# two_rcpts R1 R2: the rawsmtp items of one transaction of $TMP/msg.wire to
# R1 and R2, one per line
two_rcpts() {
	printf '%s\n' "MAIL FROM:<sender@remote.test>\\r\\n" =1 "RCPT TO:<$1>\\r\\n" =1 \
		"RCPT TO:<$2>\\r\\n" =1 'DATA\r\n' =1 "<$TMP/msg.wire" '.\r\n' =1
}

@test "smtplib (MAIL ... size=N) through smtpproxy to Dovecot LMTP over TCP: the message arrives byte for byte" {
	lmtp_proxy
	make_msg "$TMP/msg" 40000 11
	smtplib_send --to alice@example.test "$TMP/msg"
	# without the fix: "555 5.5.4 Unsupported parameters" from Dovecot
	[[ $status == 0 ]] || fail "smtplib_send status $status" "$output"
	assert_sender_codes "220 250 250 250 354 250 221"
	[[ $output == *"< 250 2.0.0 <alice@example.test> "*" Saved"* ]] ||
		fail "not Dovecot's own 250 after DATA:" "$output"
	assert_maildir alice@example.test "$TMP/msg.lf"
	wait_until dv_log_has 'lmtp\(alice@example\.test\).*: Info: .*saved mail to INBOX'
	! dv_log_has 'Unsupported parameters' || fail "Dovecot saw a parameter it refuses"
	assert_log 'event=summary client=127\.0\.0\.1 helo=client\.test .*rcpts=1 accepted=1 '
}

@test "curl (MAIL ... SIZE=N) through smtpproxy to Dovecot's LMTP UNIX socket" {
	lmtp_proxy "backend unix:$DV_SOCK"
	make_msg "$TMP/msg" 20000 12
	curl_smtp --mail-rcpt bob@example.test "$TMP/msg"
	[[ $status == 0 ]] || fail "curl status $status" "$output"
	[[ $output == *"> MAIL FROM:<sender@remote.test> SIZE="* ]] ||
		fail "curl sent no SIZE= (the point of this test):" "$output"
	[[ $(sender_codes) == "220 250 250 250 354 250"* ]] ||
		fail "curl reply codes: $(sender_codes)" "$output"
	assert_maildir bob@example.test "$TMP/msg.lf"
	assert_log 'event=summary client=127\.0\.0\.1 .*rcpts=1 accepted=1 '
}

@test "rawsmtp: SIZE= and BODY=8BITMIME with an 8-bit body: 250 at MAIL and after DATA" {
	lmtp_proxy
	printf 'From: sender@remote.test\r\nTo: alice@example.test\r\nSubject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9t\xc3\xa9 \xe2\x82\xac\r\n..leading dot\r\n\r\n\xff\xfe raw bytes\r\n' >"$TMP/msg"
	run smtp 'EHLO client.test\r\n' =1 \
		"MAIL FROM:<sender@remote.test> SIZE=$(stat -c %s "$TMP/msg") BODY=8BITMIME\\r\\n" =1 \
		'RCPT TO:<alice@example.test>\r\n' =1 'DATA\r\n' =1 "<$TMP/msg" '.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	assert_reply '250 2\.1\.0 '
	# the wire form, unstuffed, is what Dovecot stores
	LC_ALL=C sed -e 's/\r$//' -e 's/^\.//' "$TMP/msg" >"$TMP/msg.lf"
	assert_maildir alice@example.test "$TMP/msg.lf"
}

@test "SMTPUTF8 from the client (backend_extensions smtputf8) is not passed to Dovecot, which does not offer it" {
	lmtp_proxy 'backend_extensions smtputf8'
	printf 'From: sender@remote.test\r\nTo: alice@example.test\r\nSubject: =?utf-8?q?=C3=A9t=C3=A9?=\r\n\r\n\xc3\xa9t\xc3\xa9\r\n' >"$TMP/msg"
	run smtp 'EHLO client.test\r\n' =1 \
		'MAIL FROM:<sender@remote.test> SMTPUTF8 BODY=8BITMIME\r\n' =1 \
		'RCPT TO:<alice@example.test>\r\n' =1 'DATA\r\n' =1 "<$TMP/msg" '.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_reply '250-SMTPUTF8$'
	# without the fix: "555 5.5.4 Unsupported parameters" from Dovecot
	assert_codes "220 250 250 250 354 250 221"
	LC_ALL=C sed 's/\r$//' "$TMP/msg" >"$TMP/msg.lf"
	assert_maildir alice@example.test "$TMP/msg.lf"
}

@test "EHLO in front of Dovecot offers neither SMTPUTF8 nor DSN (Dovecot's LHLO has neither)" {
	lmtp_proxy
	# twice: the first session may learn the LHLO reply, the second uses it
	run smtp 'EHLO client.test\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 221"
	run smtp 'EHLO client.test\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 221"
	refute_reply '250[- ](SMTPUTF8|DSN)$'
	assert_reply '250[- ]8BITMIME$'
	assert_reply '250[- ]SIZE [0-9]+$'
	# what was learnt: Dovecot's LHLO keywords
	grep -qx 8BITMIME "$TMP/state/backend-ehlo" ||
		fail "backend_ehlo_cache:" "$(cat "$TMP/state/backend-ehlo" 2>&1)"
	! grep -Eq '^(SIZE|DSN|SMTPUTF8)' "$TMP/state/backend-ehlo" ||
		fail "backend_ehlo_cache:" "$(cat "$TMP/state/backend-ehlo")"
}

@test "smtpproxy -n against Dovecot: what would not be forwarded" {
	mkdir -m 1777 "$TMP/state"
	write_conf "backend $BACKEND" 'backend_protocol lmtp' "log_file $TMP/smtpproxy.log" \
		'hostname proxy.test' "backend_ehlo_cache $TMP/state/backend-ehlo"
	check_conf 0 "backend: 250-XCLIENT ADDR PORT PROTO HELO LOGIN SESSION TTL TIMEOUT" \
		"warning: the backend does not offer SIZE: SIZE= parameters are not forwarded" \
		"warning: the backend does not offer SMTPUTF8" \
		"warning: the backend does not offer DSN"
	[[ $output != *"does not offer 8BITMIME"* ]] || fail "Dovecot offers 8BITMIME:" "$output"
}

@test "several recipients: an unknown user gets Dovecot's 550 5.1.1 at RCPT, the others get the message" {
	lmtp_proxy
	run smtp 'EHLO client.test\r\n' =1 'MAIL FROM:<sender@remote.test>\r\n' =1 \
		'RCPT TO:<alice@example.test>\r\n' =1 'RCPT TO:<nosuch@example.test>\r\n' =1 \
		'RCPT TO:<bob@example.test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: three\r\n\r\nto alice and bob\r\n.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 550 250 354 250 221"
	assert_reply "550 5\\.1\\.1 <nosuch@example\\.test> User doesn't exist"
	dv_wait_count alice@example.test 1
	dv_wait_count bob@example.test 1
	[[ -z $(dv_files nosuch@example.test) ]] || fail "mail for an unknown user"
	assert_log 'event=summary .*rcpts=2 accepted=1 '
}

@test "folded replies: one recipient over quota (552 at the end of data): the client hears 552 although two got it" {
	lmtp_proxy
	make_msg "$TMP/msg" 4000 13
	run smtp 'EHLO client.test\r\n' =1 'MAIL FROM:<sender@remote.test>\r\n' =1 \
		'RCPT TO:<alice@example.test>\r\n' =1 'RCPT TO:<carol@example.test>\r\n' =1 \
		'RCPT TO:<bob@example.test>\r\n' =1 'DATA\r\n' =1 "<$TMP/msg.wire" '.\r\n' =1 'QUIT\r\n'
	assert_closed
	# README: every recipient accepted -> the first reply; any 4xx -> the
	# first 4xx; else the first 5xx
	assert_codes "220 250 250 250 250 250 354 552 221"
	assert_reply '552 5\.2\.2 <carol@example\.test> Quota exceeded'
	assert_maildir alice@example.test "$TMP/msg.lf"
	assert_maildir bob@example.test "$TMP/msg.lf"
	[[ $(dv_count carol@example.test) == 0 ]] || fail "carol got it over quota"
	wait_until dv_log_has 'lmtp\(carol@example\.test\).*Quota exceeded'
}

@test "folded replies: a 4xx wins over a 5xx, so the client retries (and alice may get it twice)" {
	lmtp_proxy
	make_msg "$TMP/msg" 4000 14
	run smtp 'EHLO client.test\r\n' =1 'MAIL FROM:<sender@remote.test>\r\n' =1 \
		'RCPT TO:<alice@example.test>\r\n' =1 'RCPT TO:<carol@example.test>\r\n' =1 \
		'RCPT TO:<dave@example.test>\r\n' =1 'DATA\r\n' =1 "<$TMP/msg.wire" '.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 250 250 354 451 221"
	assert_reply '451 4\.2\.0 <dave@example\.test> Internal error occurred'
	assert_maildir alice@example.test "$TMP/msg.lf"
	wait_until dv_log_has 'lmtp\(dave@example\.test\).*Not a directory'
}

@test "max_recipients 1 (recommended for LMTP): each recipient gets its own reply, in its own transaction" {
	lmtp_proxy 'max_recipients 1'
	make_msg "$TMP/msg" 4000 15
	local items=()
	mapfile -t items < <(two_rcpts alice@example.test carol@example.test
		two_rcpts carol@example.test bob@example.test
		two_rcpts bob@example.test dave@example.test)
	run smtp -t 20 'EHLO client.test\r\n' =1 "${items[@]}" 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 452 354 250 250 250 452 354 552 250 250 452 354 250 221"
	assert_reply_count 3 '452 4\.5\.3 '
	assert_reply '250 2\.0\.0 <alice@example\.test> [^ ]+ Saved$'
	assert_reply '552 5\.2\.2 <carol@example\.test> Quota exceeded'
	assert_reply '250 2\.0\.0 <bob@example\.test> [^ ]+ Saved$'
	assert_maildir alice@example.test "$TMP/msg.lf"
	assert_maildir bob@example.test "$TMP/msg.lf"
	[[ $(dv_count carol@example.test) == 0 ]] || fail "carol got it over quota"
	assert_log 'event=summary .*accepted=2 '
}

@test "XCLIENT to Dovecot over TCP: its log and Received field name the real client 127.0.0.2" {
	lmtp_proxy
	run swaks --server "$PROXY_HOST:$PROXY_PORT" --local-interface 127.0.0.2 \
		--helo client.test --from sender@remote.test --to alice@example.test \
		--body 'through XCLIENT' --timeout 15
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	[[ $output == *"<-  250 2.0.0 <alice@example.test> "*" Saved"* ]] ||
		fail "no 250 Saved:" "$output"
	dv_wait_count alice@example.test 1
	local rcvd
	rcvd=$(dv_received "$(dv_files alice@example.test)")
	[[ $rcvd == *"[127.0.0.2]"* ]] || fail "Received names the proxy:" "$rcvd"
	[[ $rcvd == "Received: from client.test "* ]] || fail "Received:" "$rcvd"
	wait_until dv_log_has 'lmtp\(alice@example\.test\).* rip=127\.0\.0\.2: Info: .*saved mail to INBOX'
	wait_until dv_log_has 'Disconnect from 127\.0\.0\.2'
	! dv_log_has 'rip=127\.0\.0\.1: ' || fail "Dovecot saw the proxy's address:" "$(dv_log)"
	assert_log 'event=summary client=127\.0\.0\.2 .*accepted=1 '
}

@test "backend_xclient no: Dovecot sees the proxy (127.0.0.1), not the client (the check above can fail)" {
	lmtp_proxy 'backend_xclient no'
	run swaks --server "$PROXY_HOST:$PROXY_PORT" --local-interface 127.0.0.2 \
		--helo client.test --from sender@remote.test --to alice@example.test \
		--body 'no XCLIENT' --timeout 15
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	dv_wait_count alice@example.test 1
	local rcvd
	rcvd=$(dv_received "$(dv_files alice@example.test)")
	[[ $rcvd == *"[127.0.0.1]"* ]] || fail "Received:" "$rcvd"
	wait_until dv_log_has 'lmtp\(alice@example\.test\).* rip=127\.0\.0\.1: Info: .*saved mail to INBOX'
}

@test "two messages in one session to Dovecot, the second after a RSET" {
	lmtp_proxy
	run smtp 'EHLO client.test\r\n' =1 \
		'MAIL FROM:<one@remote.test> SIZE=40\r\n' =1 'RCPT TO:<alice@example.test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: one\r\n\r\nfirst\r\n.\r\n' =1 \
		'MAIL FROM:<aborted@remote.test>\r\n' =1 'RCPT TO:<alice@example.test>\r\n' =1 'RSET\r\n' =1 \
		'MAIL FROM:<two@remote.test> SIZE=40\r\n' =1 'RCPT TO:<alice@example.test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: two\r\n\r\nsecond\r\n.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 250 250 250 250 250 354 250 221"
	dv_wait_count alice@example.test 2
	[[ $(dv_count alice@example.test) == 2 ]] || fail "alice holds $(dv_count alice@example.test)"
	local files=()
	mapfile -t files < <(dv_files alice@example.test)
	grep -q '^Return-Path: <one@remote\.test>' "${files[@]}" || fail "first message missing"
	grep -q '^Return-Path: <two@remote\.test>' "${files[@]}" || fail "second message missing"
	! grep -q 'aborted@' "${files[@]}" || fail "the aborted one was delivered"
	# one backend connection for both transactions: RSET between them,
	# not a new connection (LHLO, XCLIENT, LHLO) for each.  This first
	# session finds no backend_ehlo_cache, so before it answers EHLO it
	# asks Dovecot's extensions on a short connection of its own (LHLO,
	# QUIT): two connections in all, never three
	wait_until dv_log_has 'Disconnect from 127\.0\.0\.1: '
	[[ $(dv_log_count 'Info: Connect from ') == 2 ]] ||
		fail "Dovecot saw other than two connections for one session:" "$(dv_log)"
	[[ -s $TMP/state/backend-ehlo ]] || fail "no backend_ehlo_cache written"
}
