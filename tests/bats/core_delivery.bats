#!/usr/bin/env bats
# core_delivery: messages reach the backend intact; pipelining; several
# transactions per session; recipient and size limits.
#
# smtp-sink stores a message with LF line ends and the dots unstuffed, so a
# proxied copy is compared with the copy of the same bytes sent straight to
# the sink (sink_direct): any byte the proxy adds, drops or changes shows.

load lib/common

# only_dump: the one message the sink holds (fails unless exactly one)
only_dump() {
	local n
	n=$(sink_count)
	[[ $n == 1 ]] || fail "sink holds $n messages, expected 1"
	sink_files
}

# assert_intact MSG: MSG went through the proxy to the sink unchanged
assert_intact() {
	local msg=$1 dump
	sink_direct "$msg" "$TMP/ref.body"
	send_message "$msg"
	[[ $status == 0 ]] || fail "rawsmtp status $status" "$output"
	assert_codes "220 250 250 250 354 250 221"
	settle
	dump=$(only_dump)
	sink_body "$dump" >"$TMP/got.body"
	cmp "$TMP/ref.body" "$TMP/got.body" ||
		fail "message changed on the way:" "$(diff <(od -c "$TMP/ref.body") <(od -c "$TMP/got.body") | head -20)"
	grep -q '^X-Mail-Args: <sender@test>' "$dump" || fail "MAIL args:" "$(grep X-Mail "$dump")"
	grep -q '^X-Rcpt-Args: <rcpt@test>' "$dump" || fail "RCPT args:" "$(grep X-Rcpt "$dump")"
}

@test "a small message arrives intact; the backend's 250 goes to the client" {
	start_sink
	start_proxy
	printf 'From: sender@test\r\nTo: rcpt@test\r\nSubject: small\r\n\r\nHello.\r\n\r\n\ttabbed\r\ntrailing space \r\n\xe9t\xe9 8bit\r\nlast line\r\n' >"$TMP/msg"
	assert_intact "$TMP/msg"
	assert_reply '250 2\.0\.0 Ok$'
	assert_log 'event=summary client=127\.0\.0\.1 helo=client\.test .*from=<sender@test> rcpts=1 accepted=1 .*result=(ok|quit)'
}

@test "a 3 MB message arrives intact" {
	start_sink
	start_proxy
	gen_message "$TMP/msg" 3000000 7
	assert_intact "$TMP/msg"
	assert_log 'event=summary .*result=(ok|quit)'
}

@test "dot-stuffed lines arrive unstuffed exactly once" {
	start_sink
	start_proxy
	# wire form: every line that starts with a dot carries one more
	printf 'Subject: dots\r\n\r\n..\r\n...\r\n....\r\n.. leading\r\n..x\r\nmid.dle\r\n\r\n..\r\n' >"$TMP/msg"
	assert_intact "$TMP/msg"
	# and what the sink stored is the unstuffed text
	sink_body "$(sink_files)" | tail -n +3 >"$TMP/body"
	printf '.\n..\n...\n. leading\n.x\nmid.dle\n\n.\n' | cmp - "$TMP/body" ||
		fail "unexpected body:" "$(od -c "$TMP/body")"
}

@test "an empty message, and a first line that is a stuffed dot" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 \
		'MAIL FROM:<empty@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 '.\r\n' =1 \
		'MAIL FROM:<dot@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 '..\r\nafter\r\n.\r\n' =1 \
		'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 250 250 354 250 221"
	settle
	[[ $(sink_count) == 2 ]] || fail "sink holds $(sink_count) messages"
	local f
	f=$(grep -l '^X-Mail-Args: <empty@test>' $(sink_files))
	[[ -z $(sink_body "$f") ]] || fail "empty message got a body:" "$(sink_body "$f" | od -c)"
	f=$(grep -l '^X-Mail-Args: <dot@test>' $(sink_files))
	[[ $(sink_body "$f") == $'.\nafter' ]] || fail "first line:" "$(sink_body "$f" | od -c)"
}

@test "MAIL parameters SIZE= and BODY=8BITMIME are accepted" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<sender@test> SIZE=1000 BODY=8BITMIME\r\n' =1 \
		'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 'Subject: p\r\n\r\n\xe9\r\n.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	settle
	only_dump >/dev/null
}

@test "swaks --pipeline: one message to two recipients" {
	start_sink
	start_proxy
	run swaks --server "127.0.0.1:$PROXY_PORT" --pipeline --helo client.test \
		--from sender@test --to r1@test,r2@test --body 'pipelined body' --timeout 10
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	[[ $output == *"250 2.0.0 Ok"* ]] || fail "no 250 after DATA:" "$output"
	settle
	local dump
	dump=$(only_dump)
	[[ $(grep -c '^X-Rcpt-Args: ' "$dump") == 2 ]] || fail "rcpts:" "$(grep X-Rcpt "$dump")"
	grep -q '^pipelined body$' "$dump" || fail "body missing" "$(cat "$dump")"
	assert_log 'event=summary .*rcpts=2 accepted=1 .*result=(ok|quit)'
}

@test "pipelining: byte by byte and all at once give the same replies and message" {
	start_sink
	start_proxy
	printf 'Subject: pipe\r\n\r\nline one\r\n..dot\r\nline three\r\n.\r\nQUIT\r\n' >"$TMP/tail"
	local g2='MAIL FROM:<sender@test>\r\nRCPT TO:<a@test>\r\nRCPT TO:<b@test>\r\nDATA\r\n'

	run smtp 'EHLO client.test\r\n' =1 "$g2" =4 "<$TMP/tail"
	assert_closed
	assert_codes "220 250 250 250 250 354 250 221"
	local bulk=$output
	settle
	sink_body "$(only_dump)" >"$TMP/bulk.body"
	rm -f "$TMP"/sink/msg.*

	run smtp '~EHLO client.test\r\n' =1 "~$g2" =4 "~<$TMP/tail"
	assert_closed
	[[ $output == "$bulk" ]] || fail "replies differ:" "--- all at once:" "$bulk" "--- byte by byte:" "$output"
	settle
	sink_body "$(only_dump)" >"$TMP/bytes.body"
	cmp "$TMP/bulk.body" "$TMP/bytes.body" || fail "messages differ"
	grep -qx '.dot' "$TMP/bytes.body" || fail "dot line lost"
}

@test "pipelining: a whole group of commands in one packet, replies in order" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 \
		'MAIL FROM:<sender@test>\r\nRCPT TO:<a@test>\r\nRCPT TO:<b@test>\r\nRCPT TO:<c@test>\r\nRSET\r\nMAIL FROM:<x@test>\r\nRCPT TO:<d@test>\r\nNOOP\r\n' =8 \
		'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 250 250 250 250 250 250 221"
	local want got
	want=$'250 2.1.0\n250 2.1.5\n250 2.1.5\n250 2.1.5\n250 2.0.0\n250 2.1.0\n250 2.1.5\n250 2.0.0'
	got=$(plain | sed -n '/^250 [0-9]/p' | cut -c1-9 | tail -n 8)
	[[ $got == "$want" ]] || fail "replies out of order:" "$got"
}

@test "three transactions in one session, with an aborted one between" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 \
		'MAIL FROM:<one@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 'Subject: one\r\n\r\nbody one\r\n.\r\n' =1 \
		'MAIL FROM:<aborted@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'RSET\r\n' =1 \
		'MAIL FROM:<two@test>\r\n' =1 'RCPT TO:<r2@test>\r\n' =1 'DATA\r\n' =1 'Subject: two\r\n\r\nbody two\r\n.\r\n' =1 \
		'MAIL FROM:<three@test>\r\n' =1 'RCPT TO:<r3@test>\r\n' =1 'DATA\r\n' =1 'Subject: three\r\n\r\nbody three\r\n.\r\n' =1 \
		'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 250 250 250 250 250 354 250 250 250 354 250 221"
	settle
	[[ $(sink_count) == 3 ]] || fail "sink holds $(sink_count) messages"
	local who f
	for who in one two three; do
		f=$(grep -l "^X-Mail-Args: <$who@test>" $(sink_files)) || fail "no message from $who"
		grep -qx "body $who" "$f" || fail "message from $who has the wrong body:" "$(cat "$f")"
		[[ $(grep -c '^X-Rcpt-Args' "$f") == 1 ]] || fail "recipients leaked between transactions:" "$(cat "$f")"
	done
	grep -l 'aborted@test' $(sink_files) && fail "the aborted transaction was delivered"
	assert_log 'event=summary .*rcpts=4 accepted=3 .*result=(ok|quit)'
}

@test "max_recipients 3: the 4th RCPT gets 452 4.5.3; the message goes to 3" {
	start_sink
	start_proxy 'max_recipients 3'
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<sender@test>\r\n' =1 \
		'RCPT TO:<r1@test>\r\n' =1 'RCPT TO:<r2@test>\r\n' =1 'RCPT TO:<r3@test>\r\n' =1 \
		'RCPT TO:<r4@test>\r\n' =1 'RCPT TO:<r5@test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: many\r\n\r\nx\r\n.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 250 250 452 452 354 250 221"
	assert_reply_count 2 '452 4\.5\.3'
	settle
	local dump
	dump=$(only_dump)
	[[ $(grep -c '^X-Rcpt-Args' "$dump") == 3 ]] || fail "recipients:" "$(grep X-Rcpt "$dump")"
	grep -q 'r4@test' "$dump" && fail "r4 reached the backend"
	assert_log 'event=reject client=127\.0\.0\.1 .*cmd=RCPT reply="452 4\.5\.3'
}

@test "max_message_size: SIZE= over the limit gets 552 5.3.4 at MAIL" {
	start_sink
	start_proxy 'max_message_size 10000'
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<sender@test> SIZE=10001\r\n' =1 \
		'MAIL FROM:<sender@test> SIZE=9000\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 552 250 221"
	assert_reply '552 5\.3\.4'
	assert_log 'event=reject client=127\.0\.0\.1 .*cmd=MAIL reply="552 5\.3\.4'
}

@test "max_message_size: a message over the limit gets 552 5.3.4 and is not delivered; the next one is" {
	start_sink
	start_proxy 'max_message_size 10000'
	gen_message "$TMP/big" 30000 3
	gen_message "$TMP/small" 5000 4
	run smtp -t 20 'EHLO c\r\n' =1 \
		'MAIL FROM:<big@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "<$TMP/big" '.\r\n' =1 \
		'MAIL FROM:<small@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 "<$TMP/small" '.\r\n' =1 \
		'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 552 250 250 354 250 221"
	assert_reply '552 5\.3\.4'
	settle
	local dump
	dump=$(only_dump)
	grep -q '^X-Mail-Args: <small@test>' "$dump" || fail "wrong message delivered:" "$(head -5 "$dump")"
	assert_log 'event=reject client=127\.0\.0\.1 .*reply="552 5\.3\.4'
}
