#!/usr/bin/env bats
# auth_lazy: TLS and SASL cost nothing until a client asks for them.
# A plain session with STARTTLS and AUTH configured and offered never
# initialises OpenSSL or libsasl2: no "tls: initialised" / "sasl:
# initialised" in the -d trace, and neither libssl nor a SASL plugin is
# mapped into a live session process (/proc/PID/maps); STARTTLS and AUTH
# bring them in.

load lib/common
load lib/auth

# a certificate, a sasldb and a sink per test: lib/auth.bash
auth_fixture

t_conf() {
	local lines=()
	mapfile -t lines < <(tls_conf; sasl_conf)
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" \
		"hostname proxy.test" "${lines[@]}" "$@"
}

@test "-T -d: a plain session with STARTTLS and AUTH offered initialises neither TLS nor SASL" {
	t_conf
	run proxy_env "$SMTPPROXY_BIN" -d -f "$TMP/smtpproxy.conf" -T '[127.0.0.1]' \
		< <(printf '%s\n' 'EHLO client.test' 'MAIL FROM:<s@remote.test>' \
		'RCPT TO:<r@remote.test>' 'DATA' 'Subject: plain' '' 'body' '.' 'QUIT')
	[[ $status == 0 ]] || fail "exit $status" "$output"
	assert_codes "220 250 250 250 354 250 221"
	assert_reply '250-STARTTLS'
	assert_reply '250-AUTH CRAM-MD5'
	[[ $output == *"debug: client -> EHLO client.test"* ]] || fail "no trace:" "$output"
	[[ $output == *"tls: initialised"* ]] && fail "TLS initialised:" "$output"
	[[ $output == *"sasl: initialised"* ]] && fail "SASL initialised:" "$output"
	settle
	[[ $(sink_count) == 1 ]] || fail "sink has $(sink_count) messages"
}

@test "-T -d: AUTH CRAM-MD5 (no TLS needed) initialises SASL, still not TLS" {
	t_conf
	local line chal dig r w pid out=$TMP/t.out
	coproc PX { proxy_env "$SMTPPROXY_BIN" -d -f "$TMP/smtpproxy.conf" -T '[127.0.0.1]' \
		2>"$TMP/trace"; }
	# bash forgets PX_PID once it reaps the coproc: keep it at once
	r=${PX[0]} w=${PX[1]} pid=$PX_PID
	: >"$out"
	# reply: copy one complete reply to $out; its last line in $line
	reply() {
		while IFS= read -r -t 5 line <&"$r"; do
			line=${line%$'\r'}
			echo "$line" >>"$out"
			[[ $line =~ ^[0-9]{3}(\ |$) ]] && return 0
		done
		return 1
	}
	reply && printf 'EHLO client.test\r\n' >&"$w" &&
		reply && printf 'AUTH CRAM-MD5\r\n' >&"$w" &&
		reply || fail "dialogue:" "$(cat "$out")"
	chal=$(printf '%s' "${line#334 }" | base64 -d)
	dig=$(printf '%s' "$chal" | openssl dgst -md5 -hmac "$CAROL_PW" -r | cut -d' ' -f1)
	printf '%s\r\n' "$(b64 "carol $dig")" >&"$w"
	reply && printf 'QUIT\r\n' >&"$w" && reply || fail "dialogue:" "$(cat "$out")"
	wait "$pid" || fail "exit $?"
	output=$(cat "$out")
	assert_codes "220 250 334 235 221"
	grep -q 'sasl: initialised' "$TMP/trace" || fail "no 'sasl: initialised':" "$(cat "$TMP/trace")"
	grep -q 'tls: initialised' "$TMP/trace" && fail "TLS initialised:" "$(cat "$TMP/trace")"
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=CRAM-MD5 login=carol$'
	no_secret_in_log "$TMP/trace"
}

# maps_cmd NAME: a shell command for rawsmtp's / tlssmtp's "!" item that
# stores the libraries the running session has mapped in $TMP/maps.NAME
maps_cmd() {
	echo "cat /proc/\$(pgrep -n -P $XINETD_PID)/maps > $TMP/maps.$1"
}

@test "a live plain session has neither libssl nor libsasl2 mapped; STARTTLS and AUTH map them" {
	start_auth_proxy
	run smtp 'EHLO client.test\r\n' =1 'MAIL FROM:<s@remote.test>\r\n' =1 \
		"!$(maps_cmd plain)" 'QUIT\r\n'
	assert_codes "220 250 250 221"
	wait_sessions_done
	run in_tls "!$(maps_cmd tls)" "$(auth_plain alice "$ALICE_PW")" =1 \
		"!$(maps_cmd auth)" 'QUIT\r\n' =1
	assert_codes "220 250 220 250 235 221"
	local f
	for f in plain tls auth; do
		grep -q 'smtpproxy' "$TMP/maps.$f" || fail "no maps of a session for $f:" "$(head "$TMP/maps.$f")"
	done
	grep -q 'libssl\.so' "$TMP/maps.plain" && fail "libssl mapped in a plain session"
	grep -q '/sasl2/' "$TMP/maps.plain" && fail "SASL plugins mapped in a plain session"
	grep -q 'libsasl2\.so' "$TMP/maps.plain" && fail "libsasl2 mapped in a plain session"
	grep -q 'libsasl2\.so' "$TMP/maps.tls" && fail "libsasl2 mapped before AUTH"
	grep -q 'libsasl2\.so' "$TMP/maps.auth" || fail "libsasl2 not mapped after AUTH"
	grep -q 'libssl\.so' "$TMP/maps.tls" || fail "libssl not mapped after STARTTLS"
	grep -q '/sasl2/' "$TMP/maps.tls" && fail "SASL plugins mapped before AUTH"
	grep -q '/sasl2/' "$TMP/maps.auth" || fail "SASL plugins not mapped after AUTH"
	true
}

@test "under xinetd with -d: the trace says tls: initialised only for a STARTTLS session" {
	# under xinetd stderr is the socket: a wrapper sends the trace to a file
	cat >"$TMP/wrap" <<EOF
#!/bin/sh
exec $SMTPPROXY_BIN -d "\$@" 2>>$TMP/trace.\$\$
EOF
	chmod 755 "$TMP/wrap"
	SMTPPROXY_BIN=$TMP/wrap start_auth_proxy
	run smtp 'EHLO plain.test\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 221"
	settle
	local t
	t=$(grep -l 'client -> EHLO plain.test' "$TMP"/trace.*) || fail "no trace file"
	grep -q 'initialised' "$t" && fail "plain session:" "$(cat "$t")"
	swaks_proxy --tls --helo tls.test --quit-after EHLO
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	settle
	t=$(grep -l 'client -> EHLO tls.test' "$TMP"/trace.*) || fail "no trace file"
	grep -q 'tls: initialised' "$t" || fail "STARTTLS session:" "$(cat "$t")"
	grep -q 'sasl: initialised' "$t" && fail "STARTTLS session:" "$(cat "$t")"
	true
}

# nolib_session LIB LINES...: a -T session whose dlopen(LIB) fails (an empty
# file of that name comes first in LD_LIBRARY_PATH: "file too short"); the
# client sends LINES, then one message, then QUIT
nolib_session() {
	local lib=$1
	shift
	mkdir -p "$TMP/nolib"
	: >"$TMP/nolib/$lib"
	run proxy_env LD_LIBRARY_PATH="$TMP/nolib" "$SMTPPROXY_BIN" \
		-f "$TMP/smtpproxy.conf" -T '[127.0.0.1]' \
		< <(printf '%s\n' "$@" 'MAIL FROM:<s@remote.test>' 'RCPT TO:<r@remote.test>' \
		'DATA' 'Subject: t' '' 'body' '.' 'QUIT')
	[[ $status == 0 ]] || fail "exit $status" "$output"
	settle
	[[ $(sink_count) == 1 ]] || fail "sink has $(sink_count) messages"
}

@test "-T: libsasl2 that cannot be loaded: AUTH answers 454 4.7.0, logs sasl-error, and the session goes on" {
	t_conf
	nolib_session libsasl2.so.2 'EHLO client.test' 'AUTH CRAM-MD5' 'AUTH CRAM-MD5'
	assert_codes "220 250 454 454 250 250 354 250 221"
	assert_reply '454 4.7.0 Temporary authentication failure'
	assert_log 'event=sasl-error reason=".*libsasl2\.so\.2'
}

@test "-T: libssl that cannot be loaded: STARTTLS answers 454 4.7.0 before any 220, and the session goes on" {
	t_conf
	nolib_session libssl.so.3 'EHLO client.test' 'STARTTLS'
	assert_codes "220 250 454 250 250 354 250 221"
	assert_reply '454 4.7.0 TLS not available due to local problem'
	assert_log 'event=tls-error reason=".*libssl\.so\.3'
}

@test "-T: a key OpenSSL refuses: STARTTLS answers 454 4.7.0, not 220 and a dead session" {
	t_conf
	# a certificate with the key of another certificate
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other.test -batch \
		-keyout "$TMP/other.key" -out "$TMP/other.crt" >/dev/null 2>&1 || fail "openssl req"
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" "hostname proxy.test" \
		"tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/other.key"
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -T '[127.0.0.1]' \
		< <(printf '%s\n' 'EHLO client.test' 'STARTTLS' 'NOOP' 'QUIT')
	[[ $status == 0 ]] || fail "exit $status" "$output"
	assert_codes "220 250 454 250 221"
	assert_log 'event=tls-error step=context'
}
