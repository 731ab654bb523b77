#!/usr/bin/env bats
# interop_senders: real senders through smtpproxy, as applications and
# scripts send mail: curl (smtp://, --ssl-reqd, --user) and Python's smtplib
# (ehlo, starttls, login, sendmail; it adds size=N to MAIL by itself),
# beside swaks, in front of smtp-sink or a private Postfix (SMTPUTF8). Each checks the
# reply codes the sender saw, that the message arrived byte for byte, and
# that the login went through (event=auth in smtpproxy's log).
#
# The certificate is lib/auth.bash's make_chain (a test CA and a leaf for
# proxy.test with subjectAltName): curl and smtplib verify it as a real
# sender configured with the CA does, reaching proxy.test on 127.0.0.1.

load lib/common
load lib/auth
load lib/interop

# one CA, leaf and sasldb for the whole file (the keys take a second to
# make), copied into each test's $TMP where lib/auth.bash looks for them
setup_file() {
	common_setup_file
	local TMP=$FILE_TMP/fixture
	mkdir -p "$TMP"
	chmod 755 "$TMP"
	make_chain
	make_sasldb
}

setup() {
	common_setup
	cp -a "$FILE_TMP/fixture/tls" "$FILE_TMP/fixture/sasl" "$TMP/"
}

# sender_proxy [config lines]: STARTTLS with the chain, AUTH with the sasldb
sender_proxy() {
	local lines=()
	mapfile -t lines < <(sasl_conf)
	start_proxy "tls_cert_file $TMP/tls/chain.pem" "tls_key_file $TMP/tls/leaf.key" \
		"${lines[@]}" "$@"
}

# curl_tls [curl options] MSG: curl_smtp to smtp://proxy.test:PORT (which
# curl resolves to the proxy), STARTTLS required, the test CA trusted
curl_tls() {
	CURL_URL=smtp://proxy.test:$PROXY_PORT curl_smtp \
		--resolve "proxy.test:$PROXY_PORT:$PROXY_HOST" --ssl-reqd \
		--cacert "$TMP/tls/ca.pem" "$@"
}

# the one message in the sink, as stored (fails unless exactly one)
only_sink() {
	local n
	n=$(sink_count)
	[[ $n == 1 ]] || fail "sink holds $n messages, expected 1"
	sink_files
}

# assert_same EXPECTED GOT WHAT: the two files are equal byte for byte
assert_same() {
	cmp "$1" "$2" ||
		fail "$3 changed on the way:" "$(diff <(od -c "$1") <(od -c "$2") | head -20)"
}

# drop_proxy_received: stdin without the Received field smtpproxy puts on
# top of a message that came over TLS ("by proxy.test (smtpproxy) with
# ESMTPSA (TLSv1.3:...)")
drop_proxy_received() {
	LC_ALL=C awk '
		NR == 1 && /^Received: / { r = 1; hold = $0; next }
		r == 1 && /^[ \t]/ { hold = hold "\n" $0; next }
		r == 1 { r = 2; if (hold !~ /by proxy\.test \(smtpproxy\)/) print hold }
		{ print }
	'
}

# body_lf MSG: the body of the message file MSG (after the first empty
# line) with LF line ends: what Postfix's pipe delivery stores
body_lf() {
	LC_ALL=C awk 'b { print; next } /^\r?$/ { b = 1 }' "$1.lf"
}

@test "curl: MAIL ... SIZE=N, the message byte for byte at smtp-sink, SIZE= not passed to a sink that does not offer SIZE" {
	start_sink
	start_proxy
	make_msg "$TMP/msg" 30000 21
	curl_smtp --mail-rcpt rcpt@remote.test "$TMP/msg"
	[[ $status == 0 ]] || fail "curl status $status" "$output"
	[[ $output == *"> MAIL FROM:<sender@remote.test> SIZE=$(stat -c %s "$TMP/msg")"* ]] ||
		fail "curl sent no SIZE=:" "$output"
	[[ $(sender_codes) == "220 250 250 250 354 250"* ]] ||
		fail "curl reply codes: $(sender_codes)" "$output"
	settle
	local f
	f=$(only_sink)
	sink_body "$f" >"$TMP/got.lf"
	assert_same "$TMP/msg.lf" "$TMP/got.lf" "curl's message"
	# smtp-sink's EHLO has no SIZE: the parameter stays with the proxy
	grep -qx 'X-Mail-Args: <sender@remote.test>' "$f" ||
		fail "MAIL at the backend:" "$(grep '^X-Mail-Args' "$f")"
}

@test "curl --ssl-reqd --user: STARTTLS (certificate verified), AUTH, relay; 235 and event=auth" {
	start_sink
	NO_RELAYCLIENT=1 sender_proxy
	make_msg "$TMP/msg" 20000 22
	curl_tls --user "alice:$ALICE_PW" --mail-rcpt rcpt@remote.test "$TMP/msg"
	[[ $status == 0 ]] || fail "curl status $status" "$output"
	[[ $output == *"SSL certificate verify ok"* ]] || fail "certificate not verified:" "$output"
	# 220 greeting, 250 EHLO, 220 STARTTLS, 250 EHLO, AUTH CRAM-MD5 (the
	# strongest mechanism offered, curl's choice): 334 challenge, 235;
	# MAIL, RCPT, DATA, dot (curl may close without QUIT)
	[[ $(sender_codes) == "220 250 220 250 334 235 250 250 354 250"* ]] ||
		fail "curl reply codes: $(sender_codes)" "$output"
	[[ $output == *"< 235 2.7.0 Authentication successful"* ]] || fail "no 235:" "$output"
	settle
	local f
	f=$(only_sink)
	grep -q '^	by proxy\.test (smtpproxy) with ESMTPSA (TLSv1\.[23]:' "$f" ||
		fail "no Received field of the proxy:" "$(head -12 "$f")"
	sink_body "$f" | drop_proxy_received >"$TMP/got.lf"
	assert_same "$TMP/msg.lf" "$TMP/got.lf" "curl's message"
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=CRAM-MD5 login=alice$'
	assert_log 'event=summary .* tls=TLSv1\.[23]:[^ ]+ login=alice .*accepted=1 '
	no_secret_in_log
}

@test "curl --user without STARTTLS: no relay for an unauthenticated client (control of the test above)" {
	start_sink
	NO_RELAYCLIENT=1 sender_proxy
	make_msg "$TMP/msg" 2000 23
	# PLAIN and LOGIN need TLS; curl finds only CRAM-MD5 and a wrong password
	curl_smtp --user "alice:wrong-Pa55word" --mail-rcpt rcpt@remote.test "$TMP/msg"
	[[ $status != 0 ]] || fail "curl succeeded:" "$output"
	[[ $output == *"< 535 5.7.8 "* ]] || fail "no 535:" "$output"
	curl_smtp --mail-rcpt rcpt@remote.test "$TMP/msg"
	[[ $status != 0 ]] || fail "curl succeeded:" "$output"
	[[ $output == *"< 554 5.7.1 <rcpt@remote.test>: Relay access denied"* ]] || fail "no 554:" "$output"
	settle
	[[ $(sink_count) == 0 ]] || fail "a message reached the sink"
	refute_log 'event=auth '
}

@test "smtplib: starttls (verified), login, sendmail (size=N); the message byte for byte" {
	start_sink
	NO_RELAYCLIENT=1 sender_proxy
	make_msg "$TMP/msg" 40000 24
	smtplib_send --starttls --cafile "$TMP/tls/ca.pem" --tls-name proxy.test \
		--user alice --password "$ALICE_PW" --to rcpt@remote.test "$TMP/msg"
	[[ $status == 0 ]] || fail "smtplib_send status $status" "$output"
	# login() picks CRAM-MD5 first: 334 challenge, 235
	assert_sender_codes "220 250 220 250 334 235 250 250 354 250 221"
	[[ $output == *"# tls TLSv1.3 "* ]] || fail "no TLS 1.3:" "$output"
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=CRAM-MD5 login=alice$'
	settle
	local f
	f=$(only_sink)
	grep -q '^	by proxy\.test (smtpproxy) with ESMTPSA (TLSv1\.3:' "$f" ||
		fail "no Received field of the proxy:" "$(head -12 "$f")"
	sink_body "$f" | drop_proxy_received >"$TMP/got.lf"
	assert_same "$TMP/msg.lf" "$TMP/got.lf" "smtplib's message"
	assert_log 'event=summary .* tls=TLSv1\.3:[^ ]+ login=alice .*accepted=1 '
	no_secret_in_log
}

@test "smtplib: a wrong CA fails the handshake; login with PLAIN, with LOGIN; a wrong password is 535" {
	start_sink
	NO_RELAYCLIENT=1 sender_proxy
	make_cert	# another self-signed certificate, not the proxy's
	make_msg "$TMP/msg" 3000 25
	smtplib_send --starttls --cafile "$TMP/tls/cert.pem" --tls-name proxy.test "$TMP/msg"
	[[ $status == 2 ]] || fail "wrong CA: status $status" "$output"
	[[ $output == *"CERTIFICATE_VERIFY_FAILED"* ]] || fail "$output"
	smtplib_send --starttls --cafile "$TMP/tls/ca.pem" --tls-name proxy.test \
		--user bob --password "$BOB_PW" --mech PLAIN "$TMP/msg"
	[[ $status == 0 ]] || fail "PLAIN: status $status" "$output"
	assert_sender_codes "220 250 220 250 235 250 250 354 250 221"
	smtplib_send --starttls --cafile "$TMP/tls/ca.pem" --tls-name proxy.test \
		--user carol --password "$CAROL_PW" --mech LOGIN "$TMP/msg"
	[[ $status == 0 ]] || fail "LOGIN: status $status" "$output"
	# smtplib sends the user name with AUTH LOGIN (an initial response):
	# one 334 for the password
	assert_sender_codes "220 250 220 250 334 235 250 250 354 250 221"
	smtplib_send --starttls --cafile "$TMP/tls/ca.pem" --tls-name proxy.test \
		--user alice --password wrong-Pa55word "$TMP/msg"
	[[ $status == 1 ]] || fail "wrong password: status $status" "$output"
	[[ $output == *"# error SMTPAuthenticationError"* ]] || fail "$output"
	assert_reply '< 535 5\.7\.8 '
	settle
	[[ $(sink_count) == 2 ]] || fail "sink holds $(sink_count) messages"
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=PLAIN login=bob$'
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=LOGIN login=carol$'
	refute_log 'login=alice'
	no_secret_in_log
}

@test "SMTPUTF8 (RFC 6531): smtplib and curl, after STARTTLS and AUTH, send UTF-8 addresses to a Postfix with smtputf8_enable" {
	start_postfix 'smtputf8_enable = yes'
	NO_RELAYCLIENT=1 sender_proxy
	local from to
	from=$(printf 'j\xc3\xbcrgen@exampl\xc3\xa9.test')
	to=$(printf '\xc3\xa9lise@remote.test')
	printf 'From: =?utf-8?q?J=C3=BCrgen?= <%s>\r\nTo: %s\r\nSubject: \xc3\xa9t\xc3\xa9 \xe2\x82\xac\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe \xe2\x80\x94 \xe4\xb8\xad\xe6\x96\x87\r\n.leading dot\r\n\r\nlast\r\n' \
		"$from" "$to" >"$TMP/msg"
	LC_ALL=C sed 's/\r$//' "$TMP/msg" >"$TMP/msg.lf"
	# the backend's extensions are learnt (backend_extensions auto): by the
	# first session (no cache yet), then from the cache by the next one
	smtplib_send --starttls --cafile "$TMP/tls/ca.pem" --tls-name proxy.test \
		--user alice --password "$ALICE_PW" --from "$from" --to "$to" \
		--mail-option SMTPUTF8 --mail-option BODY=8BITMIME "$TMP/msg"
	# without the fix: "# error SMTPNotSupportedError: SMTPUTF8 not
	# supported by server", smtplib's own check of the EHLO reply
	[[ $status == 0 ]] || fail "smtplib: status $status" "$output"
	plain | grep '^# ehlo ' | grep -qw SMTPUTF8 || fail "smtplib: no SMTPUTF8 offered" "$output"
	assert_sender_codes "220 250 220 250 334 235 250 250 354 250 221"
	grep -qx SMTPUTF8 "$TMP/state/backend-ehlo" ||
		fail "the cache did not learn SMTPUTF8:" "$(cat "$TMP/state/backend-ehlo" 2>&1)"
	# curl adds SMTPUTF8 by itself when an address is not ASCII and the
	# server offers it (and turns the domain into its A-label, IDNA)
	CURL_FROM=$from curl_tls --user "bob:$BOB_PW" --mail-rcpt "$to" "$TMP/msg"
	[[ $status == 0 ]] || fail "curl: status $status" "$output"
	[[ $output == *"> MAIL FROM:<${from%@*}@xn--exampl-gva.test> SIZE="*" SMTPUTF8"* ]] ||
		fail "curl: MAIL:" "$output"
	[[ $(sender_codes) == "220 250 220 250 334 235 250 250 354 250"* ]] ||
		fail "curl reply codes: $(sender_codes)" "$output"
	pf_settle
	pf_wait_count 2
	local f
	body_lf "$TMP/msg" >"$TMP/want.lf"
	for f in $(pf_mail_files); do
		pf_body "$f" >"$TMP/got.lf"
		assert_same "$TMP/want.lf" "$TMP/got.lf" "the UTF-8 message"
		# Postfix got SMTPUTF8 and the login (RFC 6531 "UTF8SMTPA"), and the
		# addresses
		grep -Eq '^	by backend\.test \(Postfix\) with UTF8SMTPA ' "$f" ||
			fail "not received as SMTPUTF8 with a login:" "$(head -5 "$f")"
		grep -q "^To: $to" "$f" || fail "To: changed"
	done
	grep -q "from=<$from>" "$TMP/postfix.log" ||
		fail "Postfix's log has no UTF-8 sender:" "$(grep 'from=' "$TMP/postfix.log")"
	[[ $(grep -c "to=<$to>.*status=sent" "$TMP/postfix.log") == 2 ]] ||
		fail "Postfix's log:" "$(grep 'to=' "$TMP/postfix.log")"
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=CRAM-MD5 login=alice$'
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=CRAM-MD5 login=bob$'
}

@test "SMTPUTF8 is not offered in front of smtp-sink, which does not offer it: smtplib refuses before MAIL" {
	start_sink
	start_proxy
	printf 'Subject: x\r\n\r\nbody\r\n' >"$TMP/msg"
	smtplib_send --to "$(printf '\xc3\xa9')lise@remote.test" --mail-option SMTPUTF8 "$TMP/msg"
	[[ $status == 1 ]] || fail "status $status" "$output"
	[[ $output == *"# error SMTPNotSupportedError"* ]] || fail "$output"
	! plain | grep '^# ehlo ' | grep -qw SMTPUTF8 || fail "SMTPUTF8 offered:" "$output"
	settle
	[[ $(sink_count) == 0 ]] || fail "a message reached the sink"
}

@test "curl, smtplib and swaks through one proxy: three times the same bytes" {
	start_sink
	NO_RELAYCLIENT=1 sender_proxy
	# nothing swaks would change: no %TOKEN%, no line starting with a dot
	printf 'From: sender@remote.test\r\nTo: rcpt@remote.test\r\nSubject: same bytes\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nline one\r\n\ttabbed\r\ntrailing spaces   \r\n\r\n\xc3\xa9t\xc3\xa9 \xe2\x82\xac 8-bit\r\n%s\r\nlast line\r\n' \
		"$(printf 'x%.0s' {1..990})" >"$TMP/msg"
	LC_ALL=C sed 's/\r$//' "$TMP/msg" >"$TMP/msg.lf"
	# three logins, three mechanisms: curl LOGIN, smtplib CRAM-MD5, swaks PLAIN
	curl_tls --user "alice:$ALICE_PW" --login-options AUTH=LOGIN \
		--mail-rcpt rcpt@remote.test "$TMP/msg"
	[[ $status == 0 ]] || fail "curl status $status" "$output"
	[[ $(sender_codes) == "220 250 220 250 334 334 235 250 250 354 250"* ]] ||
		fail "curl reply codes: $(sender_codes)" "$output"
	smtplib_send --starttls --cafile "$TMP/tls/ca.pem" --tls-name proxy.test \
		--user bob --password "$BOB_PW" --to rcpt@remote.test "$TMP/msg"
	[[ $status == 0 ]] || fail "smtplib status $status" "$output"
	assert_sender_codes "220 250 220 250 334 235 250 250 354 250 221"
	# swaks ends the data with CRLF . CRLF of its own: its copy has no
	# final CRLF, or the message would gain an empty line
	head -c -2 "$TMP/msg" >"$TMP/msg.swaks"
	swaks_proxy --tls --auth PLAIN --auth-user carol --auth-password "$CAROL_PW" \
		--data "@$TMP/msg.swaks"
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	assert_swaks_codes "220 250 220 250 235 250 250 354 250 221"
	settle
	[[ $(sink_count) == 3 ]] || fail "sink holds $(sink_count) messages"
	local f
	for f in $(sink_files); do
		sink_body "$f" | drop_proxy_received >"$TMP/got.lf"
		assert_same "$TMP/msg.lf" "$TMP/got.lf" "the message in $(basename "$f")"
	done
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=LOGIN login=alice$'
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=CRAM-MD5 login=bob$'
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=PLAIN login=carol$'
	no_secret_in_log
}
