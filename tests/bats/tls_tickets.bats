#!/usr/bin/env bats
# tls_tickets: TLS session resumption across processes with
# tls_ticket_key_file (nginx's 80-byte keys: the first encrypts, every one
# decrypts), no tickets at all without it in per-connection mode, and the
# key file checked by -n.  Each session is a fresh exec under xinetd, so a
# resumed session proves the ticket was read by another process.

load lib/common
load lib/auth

setup() {
	common_setup
	start_sink
	make_cert
}

# tickets N FILE: N random 80-byte keys
tickets() {
	head -c $((80 * $1)) /dev/urandom >"$2"
	chmod 600 "$2"
}

# session [s_client options]: one STARTTLS session, EHLO and QUIT
session() {
	run s_client_raw "$@" <<<$'EHLO client.test\r\nQUIT\r'
}

# resumed: the last session was a resumption (s_client says "Reused")
resumed() {
	[[ $output == *$'\nReused, TLSv1.3'* ]]
}

@test "tls_ticket_key_file: a ticket made by one session's process resumes in the next one's" {
	tickets 1 "$TMP/tickets"
	start_auth_proxy "tls_ticket_key_file $TMP/tickets"
	session -tls1_3 -sess_out "$TMP/sess"
	[[ -s $TMP/sess ]] || fail "no session saved" "$output"
	! resumed || fail "the first session cannot be a resumption" "$output"
	session -tls1_3 -sess_in "$TMP/sess"
	resumed || fail "not resumed" "$output"
	assert_log 'event=tls protocol=TLSv1\.3 cipher=[A-Z0-9_]+ resumed=yes'
}

@test "tls_ticket_key_file rotation: a new first key, the old ticket still resumes (and a new ticket is issued)" {
	tickets 1 "$TMP/old"
	start_auth_proxy "tls_ticket_key_file $TMP/tickets"
	cp "$TMP/old" "$TMP/tickets"
	session -tls1_3 -sess_out "$TMP/sess"
	# rotate: a new key first, the old one kept for decryption only
	tickets 1 "$TMP/new"
	cat "$TMP/new" "$TMP/old" >"$TMP/tickets"
	session -tls1_3 -sess_in "$TMP/sess" -sess_out "$TMP/sess2"
	resumed || fail "the old key no longer decrypts" "$output"
	# once the old key is dropped, only the ticket made with the new one
	# resumes
	cp "$TMP/new" "$TMP/tickets"
	session -tls1_3 -sess_in "$TMP/sess"
	! resumed || fail "a ticket of a dropped key resumed" "$output"
	session -tls1_3 -sess_in "$TMP/sess2"
	resumed || fail "the renewed ticket (new key) does not resume" "$output"
}

@test "without tls_ticket_key_file, per-connection exec issues no ticket (no other process could read it)" {
	start_auth_proxy
	session -tls1_3 -sess_out "$TMP/sess"
	session -tls1_3 -sess_in "$TMP/sess"
	! resumed || fail "resumed without a shared key" "$output"
	[[ $output != *"TLS session ticket:"* ]] || fail "a ticket was issued" "$output"
}

@test "a bad tls_ticket_key_file is an error at -n (not whole keys, empty, unreadable)" {
	head -c 79 /dev/urandom >"$TMP/short"
	: >"$TMP/empty"
	for f in short empty missing; do
		write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" \
			"tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/tls/key.pem" \
			"tls_ticket_key_file $TMP/$f"
		run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
		[[ $status == 100 || $status == 111 ]] || fail "$f: status $status" "$output"
		[[ $output == *"tls_ticket_key_file: $TMP/$f: "* ]] || fail "$f: not said" "$output"
	done
	tickets 3 "$TMP/good"
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" \
		"tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/tls/key.pem" \
		"tls_ticket_key_file $TMP/good"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $output == *"tls_ticket_key_file: $TMP/good: 3 keys"* ]] || fail "$output"
}

@test "an ECDSA certificate beside the RSA one: both served, the client's algorithms pick" {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days 2 -subj /CN=proxy.test -keyout "$TMP/tls/eckey.pem" \
		-out "$TMP/tls/eccert.pem" >/dev/null 2>&1
	chmod 600 "$TMP/tls/eckey.pem"
	start_auth_proxy "tls_eccert_file $TMP/tls/eccert.pem" \
		"tls_eckey_file $TMP/tls/eckey.pem"
	session -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
	[[ $output == *"Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"* ]] || fail "no ECDSA" "$output"
	[[ $output == *"Peer signature type: ECDSA"* ]] || fail "not the EC key" "$output"
	session -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
	[[ $output == *"Cipher is ECDHE-RSA-AES128-GCM-SHA256"* ]] || fail "no RSA" "$output"
	# one without the other is a configuration error
	write_conf "backend $BACKEND" "tls_eccert_file $TMP/tls/eccert.pem"
	check_conf 100 "tls_eccert_file and tls_eckey_file go together"
}
