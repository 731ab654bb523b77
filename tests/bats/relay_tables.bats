#!/usr/bin/env bats
# relay_tables: who may send where.  Tables are built by mkcdb and read by
# smtpproxy under xinetd; clients bind to 127.0.0.x to be different hosts.

load lib/common

MKCDB=${MKCDB:-$ROOT/build/asan/mkcdb}

setup() {
	common_setup
	NO_RELAYCLIENT=1
	start_sink
	printf 'local.test\n.sub.local.test\n' >"$TMP/domains.txt"
	mk -t domains "$TMP/domains.txt" "$TMP/domains.cdb"
	printf '# relay networks\n127.0.0.2 OK\n127.0.1.0/24\n127.0.2.\n127.0.0.9 REJECT Go away, spammer\n::1/128 OK\n' \
		>"$TMP/nets.txt"
	mk -t networks "$TMP/nets.txt" "$TMP/nets.cdb"
}

# mk ARGS...: mkcdb (ASan build; reports go to the test's san dir)
mk() {
	ASAN_OPTIONS="log_path=$TMP/san/asan" "$MKCDB" "$@"
}

proxy_with_tables() {
	start_proxy "local_domains cdb:$TMP/domains.cdb" \
		"relay_clients cdb:$TMP/nets.cdb" "$@"
}

# rcpt FROM-ADDR RCPT: one RCPT from a client bound to FROM-ADDR
rcpt() {
	run smtp -b "$1" 'EHLO client.test\r\n' =1 'MAIL FROM:<s@remote.test>\r\n' =1 \
		"RCPT TO:$2\\r\\n" =1 'QUIT\r\n'
}

@test "a stranger may send to a local domain and its subdomains, not elsewhere" {
	proxy_with_tables
	rcpt 127.0.0.3 '<user@local.test>'
	assert_codes "220 250 250 250 221"
	rcpt 127.0.0.3 '<user@mx.sub.local.test>'
	assert_codes "220 250 250 250 221"
	rcpt 127.0.0.3 '<user@other.test>'
	assert_codes "220 250 250 554 221"
	assert_reply '554 5\.7\.1 <user@other\.test>: Relay access denied'
	assert_log 'event=reject client=127\.0\.0\.3 cmd=RCPT reply="554 5\.7\.1 <user@other\.test>: Relay access denied"'
	rcpt 127.0.0.3 '<user@sub.local.test>'
	assert_codes "220 250 250 554 221"
}

@test "relay_clients: address, CIDR and qpsmtpd prefix may relay" {
	proxy_with_tables
	for ip in 127.0.0.2 127.0.1.77 127.0.2.200; do
		rcpt "$ip" '<user@other.test>'
		assert_codes "220 250 250 250 221"
	done
	rcpt 127.0.3.1 '<user@other.test>'
	assert_codes "220 250 250 554 221"
}

@test "relay_clients REJECT refuses the client with its text, even for local mail" {
	proxy_with_tables
	rcpt 127.0.0.9 '<user@local.test>'
	assert_codes "220 250 250 554 221"
	assert_reply '554 5\.7\.1 Go away, spammer'
}

@test "IPv6 client in an IPv6 network may relay" {
	PROXY_BIND=::1 proxy_with_tables
	rcpt ::1 '<user@other.test>'
	assert_codes "220 250 250 250 221"
	assert_log 'event=summary client=::1 '
}

@test "an address literal in local_domains is local; other literals are not" {
	printf 'local.test\n[127.0.0.77]\n[IPv6:2001:DB8::7]\n' >"$TMP/domains.txt"
	mk -t domains "$TMP/domains.txt" "$TMP/domains.cdb"
	proxy_with_tables
	rcpt 127.0.0.3 '<postmaster@[127.0.0.77]>'
	assert_codes "220 250 250 250 221"
	rcpt 127.0.0.3 '<postmaster@[IPv6:2001:db8::7]>'
	assert_codes "220 250 250 250 221"
	rcpt 127.0.0.3 '<postmaster@[127.0.0.78]>'
	assert_codes "220 250 250 554 221"
	assert_reply '554 5\.7\.1 <postmaster@\[127\.0\.0\.78\]>: Relay access denied'
}

@test "relay_clients: a CIDR block that does not end on a byte (/29)" {
	printf '127.0.0.8/29 OK\n' >"$TMP/nets.txt"
	mk -t networks "$TMP/nets.txt" "$TMP/nets.cdb"
	proxy_with_tables
	for ip in 127.0.0.8 127.0.0.15; do
		rcpt "$ip" '<user@other.test>'
		assert_codes "220 250 250 250 221"
	done
	for ip in 127.0.0.7 127.0.0.16; do
		rcpt "$ip" '<user@other.test>'
		assert_codes "220 250 250 554 221"
	done
}

@test "POP-before-SMTP: a fresh login relays, a stale one does not" {
	mk -t pop -a 127.0.0.4 "$TMP/pop.cdb"
	printf '127.0.0.5 %s\n' $(( $(date +%s) - 4000 )) >"$TMP/old.txt"
	mk -t pop "$TMP/old.txt" "$TMP/old.cdb"
	proxy_with_tables "pop_before_smtp cdb:$TMP/pop.cdb" "pop_window 600"
	rcpt 127.0.0.4 '<user@other.test>'
	assert_codes "220 250 250 250 221"
	rcpt 127.0.0.6 '<user@other.test>'
	assert_codes "220 250 250 554 221"
	# the same login, older than the window
	mk -t pop -a 127.0.0.5 "$TMP/pop.cdb"
	cp "$TMP/old.cdb" "$TMP/pop.cdb"
	rcpt 127.0.0.5 '<user@other.test>'
	assert_codes "220 250 250 554 221"
}

@test "RELAYCLIENT in the environment lets the client relay" {
	NO_RELAYCLIENT= proxy_with_tables
	rcpt 127.0.0.3 '<user@other.test>'
	assert_codes "220 250 250 250 221"
}

@test "a missing, corrupt or wrong table is a 451 4.3.0, never a relay" {
	head -c 4096 /dev/urandom >"$TMP/corrupt.cdb"
	start_proxy "local_domains cdb:$TMP/domains.cdb" \
		"relay_clients cdb:$TMP/missing.cdb"
	rcpt 127.0.0.2 '<user@other.test>'
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.3\.0 '
	assert_log "event=table-error table=cdb:$TMP/missing\\.cdb"
}

@test "a corrupt local_domains table is a 451 4.3.0 and the log names it" {
	head -c 4096 /dev/urandom >"$TMP/corrupt.cdb"
	start_proxy "local_domains cdb:$TMP/corrupt.cdb"
	rcpt 127.0.0.3 '<user@local.test>'
	assert_codes "220 250 250 451 221"
	assert_log "event=table-error table=cdb:$TMP/corrupt\\.cdb reason=\"(corrupt table|not a table made by mkcdb)\""
}

@test "a table of the wrong type is refused as an error" {
	start_proxy "local_domains cdb:$TMP/nets.cdb"
	rcpt 127.0.0.3 '<user@local.test>'
	assert_codes "220 250 250 451 221"
	assert_log 'reason="a networks table, not domains"'
}

@test "open-relay tricks are refused or judged by their real destination" {
	proxy_with_tables
	local trick
	for trick in '<user%other.test@local.test>' '<other.test!user@local.test>' \
	    '<@local.test:user@other.test>' '<"user@other.test"@local.test>' \
	    '<user@[192.0.2.1]>' '<user@OTHER.test>'; do
		rcpt 127.0.0.3 "$trick"
		assert_codes "220 250 250 554 221"
	done
	for trick in '<user@other.test@local.test>' '<user@local.test.>' \
	    'user@other.test' '<user@other.test>junk'; do
		rcpt 127.0.0.3 "$trick"
		assert_codes "220 250 250 501 221"
	done
	# smtp-sink offers DSN, so backend_extensions auto (the default)
	# lets the client use it: a parameter changes nothing of the decision
	rcpt 127.0.0.3 '<user@local.test> NOTIFY=NEVER'
	assert_codes "220 250 250 250 221"
	rcpt 127.0.0.3 '<User@LOCAL.Test>'
	assert_codes "220 250 250 250 221"
	rcpt 127.0.0.3 '<@other.test:user@local.test>'
	assert_codes "220 250 250 250 221"
	# a relay client may use them: it could relay anyway
	rcpt 127.0.0.2 '<user%other.test@local.test>'
	assert_codes "220 250 250 250 221"
}

@test "-T -d says which rule decided" {
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" \
		"local_domains cdb:$TMP/domains.cdb" "relay_clients cdb:$TMP/nets.cdb"
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -d \
		-T '[127.0.1.5]' < <(printf 'EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@local.test>\r\nRCPT TO:<u@far.test>\r\nQUIT\r\n')
	[[ $output == *"relay: client 127.0.1.5: relay_clients 127.0.1.0/24 OK"* ]] ||
		fail "no trace of the network rule" "$output"
	[[ $output == *"relay: rcpt u@local.test: local_domains local.test"* ]] ||
		fail "no trace of the local domain" "$output"
	[[ $output == *"relay: rcpt u@far.test: relay allowed"* ]] ||
		fail "no trace of the relay permission" "$output"
}

@test "-n reports each table, and a broken one fails the check" {
	write_conf "backend $BACKEND" "local_domains cdb:$TMP/domains.cdb" \
		"relay_clients cdb:$TMP/nope.cdb"
	check_conf 111 "local_domains: cdb:$TMP/domains.cdb: ok" \
		"relay_clients: cdb:$TMP/nope.cdb: No such file or directory"
}

@test "-n and sessions: an empty file or a CDB not made by mkcdb is a table error, never a lookup" {
	: >"$TMP/empty.cdb"
	# a CDB made by tinycdb's cdb(1): same format, no mkcdb type record
	printf '+10,2:local.test->OK\n\n' | cdb -c "$TMP/foreign.cdb"
	write_conf "backend $BACKEND" "local_domains cdb:$TMP/foreign.cdb" \
		"relay_clients cdb:$TMP/empty.cdb"
	check_conf 111 "local_domains: cdb:$TMP/foreign.cdb: not a table made by mkcdb" \
		"relay_clients: cdb:$TMP/empty.cdb: corrupt table"
	start_proxy "local_domains cdb:$TMP/foreign.cdb"
	rcpt 127.0.0.3 '<user@local.test>'
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.3\.0 '
	assert_log "event=table-error table=cdb:$TMP/foreign\\.cdb reason=\"not a table made by mkcdb\""
}

@test "mkcdb: a bad line names file:line and leaves the old table alone" {
	printf '127.0.0.7 OK\n' >"$TMP/new.txt"
	printf '10.0.0.1/8 OK\n' >>"$TMP/new.txt"
	run mk -t networks "$TMP/new.txt" "$TMP/nets.cdb"
	[[ $status == 100 ]] || fail "status $status" "$output"
	[[ $output == *"$TMP/new.txt:2: 10.0.0.1/8: host bits set in the network"* ]] || fail "$output"
	run mk -q 127.0.0.2 "$TMP/nets.cdb"
	[[ $status == 0 && $output == "127.0.0.2 OK" ]] || fail "old table changed: $output"
	run mk -q 127.0.0.7 "$TMP/nets.cdb"
	[[ $status == 1 ]] || fail "new entry leaked: $output"
	run mk -q 127.0.2.9 "$TMP/nets.cdb"
	[[ $output == "127.0.2. OK" ]] || fail "prefix walk: $output"
	printf 'a.test\na.test\n' >"$TMP/dup.txt"
	run mk -t domains "$TMP/dup.txt"
	[[ $status == 100 && $output == *"dup.txt:2: duplicate key 'a.test'"* ]] || fail "$output"
	[[ ! -e $TMP/dup.cdb ]] || fail "a table was written"
	ls "$TMP" | grep -q tmp && fail "temp file left behind: $(ls "$TMP")"
	true
}
