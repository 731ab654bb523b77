#!/usr/bin/env bats
# auth_tls: STARTTLS and implicit TLS with OpenSSL, against real clients
# (swaks, openssl s_client, a Python ssl client) and certificates made by
# openssl req in the test's directory.

load lib/common
load lib/auth

# a certificate, a sasldb and a sink per test: lib/auth.bash
auth_fixture

# after_tls: what the server sent after the handshake (tlssmtp output)
after_tls() {
	plain | sed -n '/^# tls /,$p'
}

before_tls() {
	plain | sed '/^# tls /,$d'
}

# t_conf [lines]: config for -T runs (backend, log file, TLS, SASL)
t_conf() {
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" \
		"hostname proxy.test" "$@"
}

# t_session COMMAND...: smtpproxy -T for client 192.0.2.7 with t_conf's config
# (run), the COMMANDs its input as CRLF lines; it must exit 0
t_session() {
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -T '[192.0.2.7]' \
		< <(printf '%s\r\n' "$@")
	[[ $status == 0 ]] ||
		fail "smtpproxy -T: exit $status with:" "$(cat "$TMP/smtpproxy.conf")" "--- output:" "$output"
}

@test "STARTTLS is offered only when both tls_cert_file and tls_key_file are set" {
	local c=$TMP/tls/cert.pem k=$TMP/tls/key.pem
	for conf in "" "tls_cert_file $c" "tls_key_file $k"; do
		t_conf ${conf:+"$conf"}
		t_session 'EHLO client.test' STARTTLS QUIT
		assert_codes "220 250 502 221"
		refute_reply '250-STARTTLS'
		assert_reply '502 5\.5\.1 '
	done
	t_conf "tls_cert_file $c" "tls_key_file $k"
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -T '[192.0.2.7]' \
		< <(printf 'EHLO client.test\r\nQUIT\r\n')
	assert_codes "220 250 221"
	assert_reply '250-STARTTLS$'
}

@test "STARTTLS: 220 2.0.0, TLS, then EHLO shows AUTH and no STARTTLS; summary names the cipher" {
	start_auth_proxy
	run tlssmtp 'EHLO before.tls\r\n' =1 'STARTTLS\r\n' =1 @TLS \
		'EHLO after.tls\r\n' =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 221"
	assert_reply '220 2\.0\.0 Ready to start TLS$'
	before_tls | grep -qx '250-STARTTLS' || fail "STARTTLS not offered" "$output"
	before_tls | grep -qx '250-AUTH CRAM-MD5' || fail "before TLS: only CRAM-MD5" "$output"
	after_tls | grep -q STARTTLS && fail "STARTTLS offered again inside TLS" "$output"
	after_tls | grep -qx '250-AUTH PLAIN LOGIN CRAM-MD5' || fail "after TLS: all mechanisms" "$output"
	assert_log 'event=tls protocol=TLSv1\.3 cipher=TLS_'
	assert_log 'event=summary client=127\.0\.0\.1 helo=after\.tls tls=TLSv1\.3:TLS_[A-Z0-9_]+ login=- .*result=quit'
}

@test "STARTTLS with an argument is 501, inside TLS 503, during a transaction 503" {
	start_auth_proxy
	run tlssmtp 'EHLO client.test\r\n' =1 'STARTTLS now\r\n' =1 \
		'MAIL FROM:<s@remote.test>\r\n' =1 'STARTTLS\r\n' =1 'RSET\r\n' =1 \
		'STARTTLS\r\n' =1 @TLS 'EHLO client.test\r\n' =1 'STARTTLS\r\n' =1 \
		'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 501 250 503 250 220 250 503 221"
	assert_reply '501 5\.5\.4 '
	after_tls | grep -Eq '^503 5\.5\.1 .*TLS already active' || fail "inside TLS" "$output"
}

@test "after TLS the earlier EHLO is forgotten (RFC 3207 4.2); MAIL then is as on a fresh connection" {
	# the session starts over as after the greeting: with helo_required
	# no (as Postfix's default) MAIL is taken without a new EHLO, but the
	# name given before TLS is gone
	start_auth_proxy 'helo_required no'
	run tlssmtp 'EHLO before.tls\r\n' =1 'STARTTLS\r\n' =1 @TLS \
		'MAIL FROM:<s@remote.test>\r\n' =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 221"
	assert_log 'event=summary client=127\.0\.0\.1 helo=- tls=TLSv1\.3:.* from=<s@remote\.test> '
	refute_log 'helo=before\.tls'
}

@test "after TLS with helo_required yes: MAIL before a new EHLO is 503 5.5.1" {
	start_auth_proxy 'helo_required yes'
	run tlssmtp 'EHLO before.tls\r\n' =1 'STARTTLS\r\n' =1 @TLS \
		'MAIL FROM:<s@remote.test>\r\n' =1 'EHLO after.tls\r\n' =1 \
		'MAIL FROM:<s@remote.test>\r\n' =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 503 250 250 221"
	after_tls | grep -q '^503 5\.5\.1 ' || fail "503 inside TLS" "$output"
	assert_log 'event=reject client=127\.0\.0\.1 cmd=MAIL reply="503 5\.5\.1 '
	assert_log 'event=summary client=127\.0\.0\.1 helo=after\.tls tls=TLSv1\.3:'
	refute_log 'helo=before\.tls'
	# a HELO after TLS does as well
	run tlssmtp 'EHLO before.tls\r\n' =1 'STARTTLS\r\n' =1 @TLS \
		'HELO after.tls\r\n' =1 'MAIL FROM:<s@remote.test>\r\n' =1 'QUIT\r\n' =1
	assert_codes "220 250 220 250 250 221"
}

@test "after TLS a login obtained before TLS is forgotten (RFC 3207 4.2)" {
	# CRAM-MD5 is allowed before TLS; STARTTLS afterwards must either be
	# refused or start an unauthenticated session
	NO_RELAYCLIENT=1 start_auth_proxy
	run tlssmtp 'EHLO client.test\r\n' =1 'AUTH CRAM-MD5\r\n' =1 "@CRAM:alice:$ALICE_PW" =1 \
		'STARTTLS\r\n' =1 @TLS 'EHLO client.test\r\n' =1 \
		'MAIL FROM:<s@remote.test>\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 \
		'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 334 235 220 250 250 554 221"
	after_tls | grep -q '^250-AUTH ' || fail "AUTH not offered again after TLS" "$output"
	assert_log 'event=summary .* tls=TLSv1\.3:.* login=- '
}

@test "CVE-2011-0411: plaintext pipelined after STARTTLS is never answered (rawsmtp)" {
	start_auth_proxy
	# the RSET rides in the same segment as STARTTLS; after the 220 the
	# server must drop it and wait for a ClientHello; we then close our
	# side: the server may answer with a TLS alert, never with SMTP
	smtp -t 5 'EHLO client.test\r\n' =1 'STARTTLS\r\nRSET\r\n' =1 +300 . >"$TMP/raw.out"
	run /usr/bin/python3 - "$TMP/raw.out" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
mark = b"220 2.0.0 Ready to start TLS\r\n"
if mark not in d:
    sys.exit("no 220 for STARTTLS: %r" % d)
pre, rest = d.split(mark, 1)
print("plaintext replies before TLS:", pre.count(b"\r\n"))
if rest and rest[0] != 0x15:    # only a TLS alert record may follow
    sys.exit("after the 220: %r" % rest)
PY
	[[ $status == 0 ]] || fail "$output"
	output=$(cat "$TMP/raw.out" | tr -d '\000')
	assert_codes "220 250 220"
	# the server waited for TLS until our EOF: the RSET never reached the
	# TLS layer either (that would be "wrong version number")
	assert_log 'event=tls-error step=handshake reason=".*unexpected eof'
	assert_log 'event=summary .* result=tls-failed'
	refute_log 'wrong version number'
}

@test "CVE-2011-0411: a MAIL pipelined after STARTTLS is discarded, not run inside TLS" {
	start_auth_proxy
	run tlssmtp 'EHLO client.test\r\n' =1 'STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n' =1 \
		@TLS 'EHLO client.test\r\n' =1 'RCPT TO:<rcpt@remote.test>\r\n' =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 503 221"
	plain | grep -q '^# plaintext after' && fail "plaintext reply after the 220" "$output"
	after_tls | grep -q '^503 5\.5\.1 ' || fail "RCPT without MAIL" "$output"
	assert_log 'event=summary .* from=- rcpts=0 '
	refute_log 'evil@remote\.test'
}

@test "tls_required: MAIL before STARTTLS is 530 5.7.0, after it the mail goes through" {
	start_auth_proxy 'tls_required yes'
	run tlssmtp 'EHLO client.test\r\n' =1 'MAIL FROM:<s@remote.test>\r\n' =1 \
		'STARTTLS\r\n' =1 @TLS 'EHLO client.test\r\n' =1 \
		'MAIL FROM:<s@remote.test>\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 \
		'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 530 220 250 250 250 221"
	assert_reply '530 5\.7\.0 Must issue a STARTTLS command first$'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=MAIL reply="530 5\.7\.0 Must issue a STARTTLS command first"'
	# and a real client delivers a message over STARTTLS
	swaks_proxy --tls
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	settle
	[[ $(sink_count) == 1 ]] || fail "sink has $(sink_count) messages"
	assert_log 'event=accepted client=127\.0\.0\.1 from=<sender@remote\.test> rcpts=1'
}

@test "tls_wrapper yes: TLS from the first byte (swaks --tlsc), no STARTTLS offered" {
	PROXY_ARGS='-o tls_wrapper=yes' start_auth_proxy
	swaks_proxy --tlsc --auth PLAIN --auth-user alice --auth-password "$ALICE_PW"
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	assert_swaks_codes "220 250 235 250 250 354 250 221"
	plain | grep -q 'STARTTLS' && fail "STARTTLS offered on an implicit TLS port" "$output"
	plain | grep -q '^<~  250-AUTH PLAIN LOGIN CRAM-MD5$' || fail "mechanisms" "$output"
	settle
	[[ $(sink_count) == 1 ]] || fail "sink has $(sink_count) messages"
	assert_log 'event=summary client=127\.0\.0\.1 helo=client\.test tls=TLSv1\.3:TLS_[A-Z0-9_]+ login=alice .*accepted=1 score=[-0-9.]+ result=quit'
	# a plaintext client gets no greeting at all, and is closed
	run smtp -G -t 5 'EHLO client.test\r\n'
	assert_closed
	# nothing in plaintext (at most a TLS alert)
	plain | grep -aqE '^[0-9]{3}' && fail "plaintext answer on the TLS port:" "$output"
	assert_log 'event=summary .* result=tls-failed'
}

@test "the whole certificate chain is served (s_client -showcerts: leaf and CA) and verifies" {
	make_chain
	start_proxy "tls_cert_file $TMP/tls/chain.pem" "tls_key_file $TMP/tls/leaf.key"
	run s_client_raw -showcerts -CAfile "$TMP/tls/ca.pem" -verify_return_error \
		<<<$'EHLO client.test\r\nQUIT\r'
	[[ $(plain | grep -c -- '-----BEGIN CERTIFICATE-----') == 2 ]] ||
		fail "expected 2 certificates" "$output"
	plain | grep -Eq '^ *0 s: ?CN ?= ?proxy\.test' || fail "leaf first" "$output"
	plain | grep -Eq '^ *1 s: ?CN ?= ?Test CA' || fail "CA second" "$output"
	plain | grep -q 'Verify return code: 0 (ok)' || fail "chain does not verify" "$output"
	plain | grep -q '^221 2\.0\.0 ' || fail "no session" "$output"
	assert_log 'event=summary .* tls=TLSv1\.3:.*result=quit'
}

@test "TLS 1.2 and TLS 1.3 clients both get through" {
	start_auth_proxy
	run tlssmtp 'EHLO client.test\r\n' =1 'STARTTLS\r\n' =1 @TLS1.2 \
		'EHLO client.test\r\n' =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_reply '# tls TLSv1\.2 ECDHE-'
	assert_codes "220 250 220 250 221"
	assert_log 'event=tls protocol=TLSv1\.2 cipher=ECDHE-'
	run s_client -tls1_3 <<<$'EHLO client.test\r\nQUIT\r'
	plain | grep -q '^221 2\.0\.0 ' || fail "s_client -tls1_3" "$output"
	assert_log 'event=tls protocol=TLSv1\.3 cipher=TLS_'
	run s_client -tls1_2 <<<$'EHLO client.test\r\nQUIT\r'
	plain | grep -q '^221 2\.0\.0 ' || fail "s_client -tls1_2" "$output"
	wait_log_count 2 'event=tls protocol=TLSv1\.2 '
}

@test "tls_protocols TLSv1.3 refuses a TLS 1.2-only client, accepts TLS 1.3" {
	start_auth_proxy 'tls_protocols TLSv1.3'
	run s_client -tls1_2 <<<$'EHLO client.test\r\nQUIT\r'
	plain | grep -q '^221 ' && fail "TLS 1.2 session went through" "$output"
	assert_log 'event=tls-error step=handshake'
	assert_log 'event=summary .* tls=no .*result=tls-failed'
	run s_client -tls1_3 <<<$'EHLO client.test\r\nQUIT\r'
	plain | grep -q '^221 2\.0\.0 ' || fail "s_client -tls1_3" "$output"
	assert_log 'event=summary .* tls=TLSv1\.3:.*result=quit'
}

@test "tls_ciphers picks the TLS 1.2 cipher" {
	start_auth_proxy 'tls_ciphers ECDHE-RSA-AES128-GCM-SHA256'
	run tlssmtp 'EHLO client.test\r\n' =1 'STARTTLS\r\n' =1 @TLS1.2 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_reply '# tls TLSv1\.2 ECDHE-RSA-AES128-GCM-SHA256$'
	assert_log 'event=summary .* tls=TLSv1\.2:ECDHE-RSA-AES128-GCM-SHA256 '
}

@test "QUIT inside TLS ends with a TLS close_notify, not a bare TCP close" {
	start_auth_proxy
	run tlssmtp 'EHLO client.test\r\n' =1 'STARTTLS\r\n' =1 @TLS 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 221"
	plain | grep -q '^# closed ' && fail "no close_notify (RFC 8446 6.1):" "$output"
	true
}

@test "a TLS session's message starts with a Received line naming the cipher; a plain one's does not" {
	start_auth_proxy
	run tlssmtp 'EHLO tls.client\r\n' =1 'STARTTLS\r\n' =1 @TLS \
		'EHLO tls.client\r\n' =1 'MAIL FROM:<a@x.test>\r\n' =1 \
		'RCPT TO:<r@x.test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: tls\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n' =1
	assert_codes "220 250 220 250 250 250 354 250 221"
	run smtp 'EHLO plain.client\r\n' =1 'MAIL FROM:<b@x.test>\r\n' =1 \
		'RCPT TO:<r@x.test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: plain\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	settle
	local tls plain
	tls=$(grep -l '^Subject: tls' $(sink_files)) || fail "no TLS message"
	plain=$(grep -l '^Subject: plain' $(sink_files)) || fail "no plain message"
	grep -Eq '^Received: from tls\.client \(\[127\.0\.0\.1\]\)$' "$tls" ||
		fail "no Received line:" "$(cat "$tls")"
	grep -Eq $'^\tby proxy\\.test \\(smtpproxy\\) with ESMTPS \\(TLSv1\\.3:TLS_[A-Z0-9_]+\\);$' "$tls" ||
		fail "no cipher in the Received line:" "$(cat "$tls")"
	grep -q '(smtpproxy)' "$plain" && fail "a plain session got the TLS line" "$(cat "$plain")"
	true
}

@test "backend_tls encrypt: STARTTLS towards a real Postfix before anything about the client" {
	make_cert
	chmod 644 "$TMP/tls/key.pem"
	start_postfix "smtpd_tls_cert_file = $TMP/tls/cert.pem" \
		"smtpd_tls_key_file = $TMP/tls/key.pem" \
		"smtpd_tls_security_level = may" "smtpd_tls_loglevel = 1"
	start_proxy 'backend_tls encrypt'
	run smtp -b 127.0.0.2 'EHLO plain.client\r\n' =1 'MAIL FROM:<a@x.test>\r\n' =1 \
		'RCPT TO:<r@x.test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: over tls\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	pf_wait_count 1
	assert_log 'event=backend-tls backend=127\.0\.0\.1:[0-9]+ tls=TLSv1\.[23]:'
	wait_until file_has "$TMP/postfix.log" 'TLS connection established from .*\[127\.0\.0\.1\]' ||
		fail "Postfix saw no TLS" "$(tail -20 "$TMP/postfix.log")"
	# XCLIENT went inside TLS: Postfix still learned the real client
	grep -q 'client=.*\[127\.0\.0\.2\]' "$TMP/postfix.log" ||
		fail "no XCLIENT client in Postfix's log" "$(tail -20 "$TMP/postfix.log")"
}

@test "backend_tls encrypt refuses a backend without STARTTLS" {
	start_proxy 'backend_tls encrypt'
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<a@x.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 451 221"
	assert_log 'reason="no STARTTLS, backend_tls encrypt"'
}

@test "backend_tls may goes on in the clear with a backend without STARTTLS" {
	start_proxy 'backend_tls may'
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<a@x.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 221"
	refute_log 'event=backend-tls'
}

@test "-n: a usable certificate and key say 'ok' (exit 0); a key of another certificate is 'not usable' (exit 100)" {
	t_conf "tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/tls/key.pem"
	check_conf 0 "tls: $TMP/tls/cert.pem: ok"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other.test -batch \
		-keyout "$TMP/other.key" -out "$TMP/other.crt" >/dev/null 2>&1 || fail "openssl req"
	t_conf "tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/other.key"
	check_conf 100 "tls: $TMP/tls/cert.pem / $TMP/other.key: not usable (see the log)"
	assert_log 'event=tls-error step=context reason="[^"]+"'
}

@test "a certificate file that is not PEM: -n says not usable (exit 100), STARTTLS answers 454 4.7.0" {
	printf 'this is not a certificate\n' >"$TMP/tls/garbage.pem"
	t_conf "tls_cert_file $TMP/tls/garbage.pem" "tls_key_file $TMP/tls/key.pem"
	check_conf 100 "tls: $TMP/tls/garbage.pem / $TMP/tls/key.pem: not usable (see the log)"
	t_session 'EHLO client.test' STARTTLS NOOP QUIT
	assert_codes "220 250 454 250 221"
	assert_reply '454 4\.7\.0 TLS not available due to local problem$'
}

@test "a key file that cannot be read: -n exits 111; a session logs it and offers no STARTTLS" {
	t_conf "tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/tls/missing.pem"
	check_conf 111 "smtpproxy: cannot read tls_cert_file or tls_key_file"
	assert_log "event=tls-error file=$TMP/tls/missing\\.pem reason=\"cannot read\" error=\"No such file or directory\""
	: >"$TMP/smtpproxy.log"
	t_session 'EHLO client.test' STARTTLS QUIT
	assert_codes "220 250 502 221"
	refute_reply '250-STARTTLS'
	assert_log "event=tls-error file=$TMP/tls/missing\\.pem reason=\"cannot read\""
}

@test "tls_wrapper yes with an unusable key or no libssl: the connection closes without a byte, logged" {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other.test -batch \
		-keyout "$TMP/other.key" -out "$TMP/other.crt" >/dev/null 2>&1 || fail "openssl req"
	PROXY_ARGS='-o tls_wrapper=yes' start_proxy "tls_cert_file $TMP/tls/cert.pem" \
		"tls_key_file $TMP/other.key"
	run tlssmtp -G -t 5 @TLS 'EHLO client.test\r\n'
	[[ $status == 3 ]] || fail "tlssmtp status $status (want 3, handshake failure)" "$output"
	plain | grep -aqE '^[0-9]{3}' && fail "an SMTP reply on the TLS port:" "$output"
	assert_log 'event=tls-error step=context '
	assert_log 'event=summary .* result=tls-failed'
	# the same without libssl (-T): not a byte either, the reason logged
	mkdir -p "$TMP/nolib"
	: >"$TMP/nolib/libssl.so.3"
	t_conf "tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/tls/key.pem" 'tls_wrapper yes'
	run proxy_env LD_LIBRARY_PATH="$TMP/nolib" "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" \
		-T '[127.0.0.1]' < <(printf 'EHLO client.test\r\nQUIT\r\n')
	[[ $status == 0 && -z $output ]] || fail "exit $status" "$output"
	assert_log 'event=tls-error reason=".*libssl\.so\.3'
	assert_log 'event=summary client=127\.0\.0\.1 .* result=tls-failed'
}

@test "a client that ends TLS with close_notify and no QUIT: the session ends cleanly" {
	start_auth_proxy
	run tlssmtp 'EHLO client.test\r\n' =1 'STARTTLS\r\n' =1 @TLS 'EHLO again.test\r\n' =1 .
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250"
	assert_log 'event=summary client=127\.0\.0\.1 helo=again\.test tls=TLSv1\.3:TLS_[A-Z0-9_]+ .*result=disconnect'
	refute_log 'event=tls-error'
}

@test "STARTTLS, then no handshake: the wait is bounded by timeout_command" {
	start_auth_proxy 'timeout_command 1'
	timed run smtp -t 8 'EHLO client.test\r\n' =1 'STARTTLS\r\n' =1
	assert_closed
	assert_codes "220 250 220"
	assert_took_ms 900 4000
	assert_log 'event=tls-error step=handshake reason="timeout"'
	assert_log 'event=summary .* result=tls-failed'
}

@test "a libssl.so.3 without the functions smtpproxy calls: STARTTLS answers 454 4.7.0, the log names what is missing" {
	t_conf "tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/tls/key.pem"
	local crypto
	crypto=$(ldconfig -p | sed -n 's/^\tlibcrypto\.so\.3 (.*) => //p' | head -n 1)
	[[ -f $crypto ]] || fail "libcrypto.so.3 not found"
	# another library (libcrypto) under libssl's name comes first
	mkdir -p "$TMP/badlib"
	cp "$crypto" "$TMP/badlib/libssl.so.3"
	run proxy_env LD_LIBRARY_PATH="$TMP/badlib" "$SMTPPROXY_BIN" \
		-f "$TMP/smtpproxy.conf" -T '[127.0.0.1]' \
		< <(printf 'EHLO client.test\r\nSTARTTLS\r\nNOOP\r\nQUIT\r\n')
	[[ $status == 0 ]] || fail "exit $status" "$output"
	assert_codes "220 250 454 250 221"
	assert_log 'event=tls-error reason="libssl\.so\.3: no SSL_CTX_new"'
}

@test "backend_tls encrypt never falls back to plaintext: a failed handshake or no libssl is 451 4.4.1" {
	make_cert
	chmod 644 "$TMP/tls/key.pem"
	# Postfix offers STARTTLS but speaks nothing newer than TLS 1.1; the
	# proxy's backend side wants TLS 1.2 at least
	start_postfix "smtpd_tls_cert_file = $TMP/tls/cert.pem" \
		"smtpd_tls_key_file = $TMP/tls/key.pem" \
		"smtpd_tls_security_level = may" "smtpd_tls_protocols = <=TLSv1.1"
	start_proxy 'backend_tls encrypt'
	run smtp 'EHLO plain.client\r\n' =1 'MAIL FROM:<a@x.test>\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 451 250 221"
	assert_reply '451 4\.4\.1 Mail server temporarily unavailable$'
	assert_log 'event=tls-error step=handshake reason="[^"]+"'
	assert_log 'event=backend-error backend=127\.0\.0\.1:[0-9]+ reason="STARTTLS failed"'
	# libssl cannot be loaded: the same refusal, the reason logged
	mkdir -p "$TMP/nolib"
	: >"$TMP/nolib/libssl.so.3"
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" "hostname proxy.test" \
		'backend_tls encrypt'
	: >"$TMP/smtpproxy.log"
	run proxy_env LD_LIBRARY_PATH="$TMP/nolib" "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" \
		-T '[127.0.0.1]' < <(printf 'EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nQUIT\r\n')
	[[ $status == 0 ]] || fail "exit $status" "$output"
	assert_codes "220 250 451 221"
	assert_log 'event=tls-error reason=".*libssl\.so\.3'
	assert_log 'reason="STARTTLS failed"'
	pf_settle
	[[ $(pf_count) == 0 ]] || fail "delivered"
	# Postfix logs "QUEUEID: client=..." for each MAIL it accepts
	grep -Eq 'postfix/smtpd\[[0-9]+\]: [0-9A-F]+: client=' "$TMP/postfix.log" &&
		fail "a MAIL reached Postfix:" "$(cat "$TMP/postfix.log")"
	true
}

# trickle_hello: rawsmtp items sending the start of a TLS ClientHello one
# byte every 500 ms: 43 bytes, about 21 s, never a whole record (the
# record header announces 512 bytes)
trickle_hello() {
	local hex b
	hex='16 03 01 02 00 01 00 01 fc 03 03'
	for b in $hex $(printf '41 %.0s' {1..32}); do
		printf '%s\n' "\\x$b" +500
	done
}

@test "STARTTLS, then a ClientHello trickled a byte every 0.5 s: cut off after timeout_tls, not timeout_command or timeout_session" {
	start_auth_proxy 'timeout_tls 2' 'timeout_command 60' 'timeout_session 120'
	local items=()
	mapfile -t items < <(trickle_hello)
	# rawsmtp gives up after 15 s (status 2): the proxy must close first
	timed run smtp -t 15 'EHLO client.test\r\n' =1 'STARTTLS\r\n' =1 "${items[@]}"
	assert_closed
	assert_codes "220 250 220"
	# not before the handshake had its 2 s
	((T1 - T0 >= 1500)) || fail "closed after $((T1 - T0)) ms, before timeout_tls"
	assert_log 'event=tls-error step=handshake reason="[^"]*timeout'
	assert_log 'event=summary client=127\.0\.0\.1 .*result=tls-failed'
}

@test "tls_wrapper yes: a ClientHello trickled from the first byte is cut off after timeout_tls" {
	PROXY_ARGS='-o tls_wrapper=yes' start_auth_proxy 'timeout_tls 2' 'timeout_command 60' \
		'timeout_session 120'
	local items=()
	mapfile -t items < <(trickle_hello)
	timed run smtp -G -t 15 "${items[@]}"
	assert_closed
	[[ -z $output ]] || fail "the proxy sent something on the TLS port:" "$output"
	((T1 - T0 >= 1500)) || fail "closed after $((T1 - T0)) ms, before timeout_tls"
	assert_log 'event=tls-error step=handshake reason="[^"]*timeout'
	assert_log 'event=summary client=127\.0\.0\.1 .*result=tls-failed'
}
