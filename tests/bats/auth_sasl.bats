#!/usr/bin/env bats
# auth_sasl: SMTP AUTH (RFC 4954) with Cyrus libsasl2 against a real sasldb
# made by saslpasswd2: mechanisms offered before and after TLS, PLAIN,
# LOGIN and CRAM-MD5, failures, the failure limit, the log (and what it
# must never hold), relaying after AUTH, the fail2ban filter.

load lib/common
load lib/auth

# a certificate, a sasldb and a sink per test: lib/auth.bash
auth_fixture

@test "before TLS only CRAM-MD5 is offered; PLAIN and LOGIN are 538 5.7.11" {
	start_auth_proxy
	run smtp 'EHLO client.test\r\n' =1 "$(auth_plain alice "$ALICE_PW")" =1 \
		'AUTH LOGIN\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 538 538 221"
	assert_reply '250-AUTH CRAM-MD5$'
	assert_reply_count 2 '538 5\.7\.11 Encryption required for requested authentication mechanism$'
	assert_log 'event=summary .* tls=no login=- '
	refute_log 'event=auth '
}

@test "auth_requires_tls no: PLAIN and LOGIN are offered and work before TLS" {
	start_auth_proxy 'auth_requires_tls no'
	run smtp 'EHLO client.test\r\n' =1 "$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n'
	assert_codes "220 250 235 221"
	assert_reply '250-AUTH PLAIN LOGIN CRAM-MD5$'
	assert_reply '235 2\.7\.0 Authentication successful$'
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=PLAIN login=alice$'
	assert_log 'event=summary .* tls=no login=alice '
}

@test "AUTH PLAIN, LOGIN (after STARTTLS) and CRAM-MD5 (before) succeed: 235 2.7.0 and event=auth" {
	start_auth_proxy
	swaks_proxy --tls --auth PLAIN --auth-user alice --auth-password "$ALICE_PW"
	[[ $status == 0 ]] || fail "swaks PLAIN status $status" "$output"
	assert_swaks_codes "220 250 220 250 235 250 250 354 250 221"
	assert_swaks_reply '235 2\.7\.0 Authentication successful'
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=PLAIN login=alice$'

	swaks_proxy --tls --auth LOGIN --auth-user bob --auth-password "$BOB_PW"
	[[ $status == 0 ]] || fail "swaks LOGIN status $status" "$output"
	assert_swaks_codes "220 250 220 250 334 334 235 250 250 354 250 221"
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=LOGIN login=bob$'

	swaks_proxy --auth CRAM-MD5 --auth-user carol --auth-password "$CAROL_PW"
	[[ $status == 0 ]] || fail "swaks CRAM-MD5 status $status" "$output"
	assert_swaks_codes "220 250 334 235 250 250 354 250 221"
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=CRAM-MD5 login=carol$'

	settle
	[[ $(sink_count) == 3 ]] || fail "sink has $(sink_count) messages"
	assert_log 'event=summary .* tls=TLSv1\.3:.* login=alice .*accepted=1 score=[-0-9.]+ result=quit'
	assert_log 'event=summary .* tls=no login=carol .*accepted=1 score=[-0-9.]+ result=quit'
	no_secret_in_log
}

@test "AUTH PLAIN without an initial response: empty 334, then the credentials" {
	start_auth_proxy
	run in_tls 'AUTH PLAIN\r\n' =1 "$(plain_resp alice "$ALICE_PW")\\r\\n" =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 334 235 221"
	assert_reply '334 ?$'
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=PLAIN login=alice$'
}

@test "wrong password and unknown user: the same 535 5.7.8, a failure line without the user" {
	start_auth_proxy 'max_auth_failures 10'
	run in_tls "$(auth_plain alice wrong-Pa55word)" =1 \
		"$(auth_plain nobody-here wrong-Pa55word)" =1 \
		'AUTH LOGIN\r\n' =1 "$(b64 alice)\\r\\n" =1 "$(b64 wrong-Pa55word)\\r\\n" =1 \
		'AUTH LOGIN\r\n' =1 "$(b64 nobody-here)\\r\\n" =1 "$(b64 wrong-Pa55word)\\r\\n" =1 \
		'AUTH CRAM-MD5\r\n' =1 '@CRAM:alice:wrong-Pa55word' =1 \
		'AUTH CRAM-MD5\r\n' =1 '@CRAM:nobody-here:wrong-Pa55word' =1 \
		'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 535 535 334 334 535 334 334 535 334 535 334 535 221"
	# one text for every failure, whatever the user or the mechanism
	[[ $(plain | grep '^535' | sort -u) == "535 5.7.8 Authentication credentials invalid" ]] ||
		fail "different failure replies:" "$(plain | grep '^535')"
	# the LOGIN prompts do not depend on the user either
	[[ $(plain | grep '^334 ' | grep -v '^334 PD' | sort | uniq -c | wc -l) == 2 ]] ||
		fail "LOGIN prompts differ:" "$output"
	settle
	assert_auth_failures 2 PLAIN
	assert_auth_failures 2 LOGIN
	assert_auth_failures 2 CRAM-MD5
	refute_log 'event=auth-failed.*(alice|nobody-here)'
	refute_log 'event=auth '
	assert_log 'event=summary .* login=- .*result=quit'
	no_secret_in_log
}

@test "no password or AUTH payload reaches the log or the -d trace" {
	start_auth_proxy 'auth_requires_tls no' 'max_auth_failures 10'
	run smtp 'EHLO client.test\r\n' =1 "$(auth_plain alice wrong-Pa55word)" =1 \
		'AUTH LOGIN\r\n' =1 "$(b64 bob)\\r\\n" =1 "$(b64 "$BOB_PW")\\r\\n" =1 'QUIT\r\n'
	assert_codes "220 250 535 334 334 235 221"
	# and the same dialogue in test mode with the trace on
	run proxy_env "$SMTPPROXY_BIN" -d -f "$TMP/smtpproxy.conf" -o auth_requires_tls=no \
		-T '[192.0.2.7]' < <(printf '%s\r\n' 'EHLO client.test' \
		"AUTH PLAIN $(plain_resp carol "$CAROL_PW")" 'RSET' 'QUIT')
	[[ $status == 0 ]] || fail "exit $status" "$output"
	printf '%s\n' "$output" >"$TMP/trace"
	grep -q '^235 2\.7\.0 ' "$TMP/trace" || fail "no 235 in test mode:" "$output"
	grep -q 'debug: client -> RSET' "$TMP/trace" || fail "no trace:" "$output"
	settle
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=LOGIN login=bob$'
	assert_log 'event=auth client=192\.0\.2\.7 mechanism=PLAIN login=carol$'
	no_secret_in_log "$TMP/trace"
}

@test "'*' cancels the exchange: 501 5.7.0, and AUTH may be tried again" {
	start_auth_proxy
	run in_tls 'AUTH LOGIN\r\n' =1 '*\r\n' =1 'AUTH PLAIN\r\n' =1 '*\r\n' =1 \
		"$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 334 501 334 501 235 221"
	assert_reply_count 2 '501 5\.7\.0 Authentication aborted$'
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=PLAIN login=alice$'
}

@test "bad base64, in the initial response or a later one: 501 5.5.2" {
	start_auth_proxy
	run in_tls 'AUTH PLAIN !!not-base64!!\r\n' =1 'AUTH LOGIN\r\n' =1 '%%%%\r\n' =1 \
		"$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 501 334 501 235 221"
	assert_reply_count 2 '501 5\.5\.2 Cannot decode response$'
	refute_log 'not-base64'
}

@test "max_auth_failures 2: the second failure is 421 4.7.0 and the connection closes" {
	start_auth_proxy 'max_auth_failures 2'
	run in_tls "$(auth_plain alice wrong-Pa55word)" =1 \
		"$(auth_plain alice wrong-Pa55word)" =1 "$(auth_plain alice "$ALICE_PW")" 'QUIT\r\n'
	# closed: seen at the end (0), or already while the last lines were
	# written after the 421 (4: the write failed); never a timeout (2)
	[[ $status == 0 || $status == 4 ]] ||
		fail "connection not closed by the server (status $status)" "$output"
	assert_codes "220 250 220 250 535 421"
	assert_reply '421 4\.7\.0 proxy\.test Error: too many authentication failures$'
	assert_log 'event=summary .* login=- .*result=too-many-auth-failures'
	assert_auth_failures 2 PLAIN
	refute_log 'event=auth '
}

@test "AUTH when authenticated is 503 5.5.1; EHLO then offers no AUTH" {
	start_auth_proxy
	run in_tls "$(auth_plain alice "$ALICE_PW")" =1 "$(auth_plain bob "$BOB_PW")" =1 \
		'EHLO client.test\r\n' =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 235 503 250 221"
	assert_reply '503 5\.5\.1 Error: already authenticated$'
	[[ $(plain | grep -c '^250-AUTH ') == 2 ]] || fail "AUTH offered after the login" "$output"
	assert_log 'event=summary .* login=alice '
	refute_log 'login=bob'
}

@test "AUTH before EHLO, and during a transaction, is 503 5.5.1" {
	start_auth_proxy 'auth_requires_tls no'
	run smtp "$(auth_plain alice "$ALICE_PW")" =1 'EHLO client.test\r\n' =1 \
		'MAIL FROM:<s@remote.test>\r\n' =1 "$(auth_plain alice "$ALICE_PW")" =1 \
		'RSET\r\n' =1 "$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n'
	assert_codes "220 503 250 250 503 250 235 221"
	assert_reply_count 2 '503 5\.5\.1 '
}

@test "unknown mechanism, or one libsasl2 does not provide: 504 5.5.4" {
	# SCRAM-SHA-1 is listed by smtpproxy but left out of libsasl2's mech_list
	start_auth_proxy 'sasl_mechanisms PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1'
	run in_tls 'AUTH FOO\r\n' =1 'AUTH DIGEST-MD5\r\n' =1 'AUTH SCRAM-SHA-1\r\n' =1 \
		"$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 504 504 504 235 221"
	assert_reply_count 3 '504 5\.5\.4 Mechanism not available$'
	assert_reply '250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1$'
	refute_log 'event=auth-failed'
}

@test "empty sasl_mechanisms: no AUTH offered, AUTH is 502" {
	start_auth_proxy 'sasl_mechanisms'
	run in_tls "$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 502 221"
	plain | grep -q '^250-AUTH' && fail "AUTH offered" "$output"
	true
}

@test "MAIL ... AUTH=<> is accepted and not passed to the backend" {
	start_auth_proxy
	run in_tls "$(auth_plain alice "$ALICE_PW")" =1 \
		'MAIL FROM:<s@remote.test> AUTH=<> BODY=8BITMIME\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: x\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 235 250 250 354 250 221"
	settle
	[[ $(sink_count) == 1 ]] || fail "sink has $(sink_count) messages"
	local f
	f=$(sink_files)
	grep -q '^X-Mail-Args: .*BODY=8BITMIME' "$f" || fail "MAIL args at the backend:" "$(head -5 "$f")"
	grep -q 'AUTH=' "$f" && fail "AUTH= reached the backend:" "$(head -5 "$f")"
	true
}

@test "an authenticated client may relay, an unauthenticated one may not (554 5.7.1)" {
	NO_RELAYCLIENT=1 start_auth_proxy
	run in_tls 'MAIL FROM:<s@remote.test>\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 \
		"RSET\\r\\n" =1 "$(auth_plain alice "$ALICE_PW")" =1 \
		'MAIL FROM:<s@remote.test>\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: x\r\n\r\nrelayed\r\n.\r\n' =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 250 554 250 235 250 250 354 250 221"
	assert_reply '554 5\.7\.1 <r@remote\.test>: Relay access denied$'
	settle
	[[ $(sink_count) == 1 ]] || fail "sink has $(sink_count) messages"
	assert_log 'event=accepted client=127\.0\.0\.1 from=<s@remote\.test> rcpts=1'
	assert_log 'event=summary .* login=alice .*accepted=1 '
	# swaks does the same end to end
	swaks_proxy --tls --auth LOGIN --auth-user bob --auth-password "$BOB_PW"
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	swaks_proxy --tls
	assert_swaks_reply '554 5\.7\.1 <rcpt@remote\.test>: Relay access denied'
}

@test "fail2ban: the project's filter finds exactly the failing client, not forged addresses" {
	NO_RELAYCLIENT=1 start_auth_proxy 'max_auth_failures 10' 'auth_requires_tls no'
	run smtp -b 127.0.0.3 'EHLO client.test\r\n' =1 "$(auth_plain alice wrong-Pa55word)" =1 \
		'AUTH LOGIN\r\n' =1 "$(b64 nobody-here)\\r\\n" =1 "$(b64 wrong-Pa55word)\\r\\n" =1 \
		'MAIL FROM:<"y event=auth-failed client=192.0.2.98 mechanism=PLAIN"@remote.test>\r\n' =1 \
		'RCPT TO:<"x event=auth-failed client=192.0.2.99 mechanism=PLAIN"@remote.test>\r\n' =1 \
		'QUIT\r\n'
	assert_codes "220 250 535 334 334 535 250 554 221"
	# a success and a cancel from another client are no failures
	run smtp -b 127.0.0.4 'EHLO client.test\r\n' =1 "$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n'
	assert_codes "220 250 235 221"
	run smtp -b 127.0.0.5 'EHLO client.test\r\n' =1 'AUTH LOGIN\r\n' =1 '*\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 334 501 221"
	settle
	run fail2ban_ips "$TMP/smtpproxy.log"
	[[ $status == 0 ]] || fail "fail2ban-regex status $status" "$output"
	[[ $output == $'127.0.0.3\n127.0.0.3' ]] ||
		fail "fail2ban found:" "$output" "--- log:" "$(cat "$TMP/smtpproxy.log")"
}
