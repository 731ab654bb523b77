#!/usr/bin/env bats
# greylist: greylisting at RCPT (issue 16) with the local LMDB store.
# The triplet is (client network /24, sender, recipient): each test binds
# its clients to its own 127.x.y.0/24 so that no two share a network.
# greylist_delay is 2 s and greylist_retry_window 60 s (4 s where the
# window is tested): the waits below let the clock pass those marks
# (sleep_until polls the clock, nothing else).
# The DNS (DNSWL, greylist_min_score) is lib/dns.bash's; AUTH uses
# lib/auth.bash's sasldb; the store is checked with mdb_stat and mdb_dump.

load lib/common
load lib/dns
load lib/auth

# one DNS for the whole file, a sink per test: lib/dns.bash
dns_file_fixture

GREY_DB=
GREY_REPLY='451 4\.7\.1 Greylisted, please try again in [0-9]+ seconds'

# start_grey [config lines]: the proxy (lib/dns.bash's start_dns_proxy: not
# a relay client, local.test local) with greylisting on
start_grey() {
	GREY_DB=$TMP/state/greylist.lmdb
	start_dns_proxy 'greylist yes' "greylist_db $GREY_DB" \
		'greylist_delay 2' 'greylist_retry_window 60' "$@"
}

# try ADDR FROM RCPT...: one session from ADDR: MAIL FROM, then each RCPT
try() {
	local addr=$1 from=$2 r items=()
	shift 2
	items=('EHLO client.test\r\n' =1 "MAIL FROM:<$from>\\r\\n" =1)
	for r in "$@"; do
		items+=("RCPT TO:<$r>\\r\\n" =1)
	done
	run smtp -b "$addr" "${items[@]}" 'QUIT\r\n'
}

# deliver ADDR FROM RCPT: one message; every reply positive, and the
# message reaches the sink
deliver() {
	local before
	before=$(sink_count)
	run smtp -b "$1" 'EHLO client.test\r\n' =1 "MAIL FROM:<$2>\\r\\n" =1 \
		"RCPT TO:<$3>\\r\\n" =1 'DATA\r\n' =1 \
		'Subject: grey\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	settle
	[[ $(sink_count) == $((before + 1)) ]] ||
		fail "the message did not reach the sink" "--- output:" "$output"
}

# sleep_until EPOCH: let the clock reach EPOCH (a greylisting delay)
sleep_until() {
	while (($(date +%s) < $1)); do
		sleep 0.1
	done
}

# grey_log CLIENT STATE: the event=greylist line of CLIENT with STATE
grey_log() {
	assert_log "event=greylist client=$(re_escape "$1") triplet=\"[^\"]*\" state=$2( |\$)"
}

# db_dump: the store's key/value pairs, one "key|value" a line
db_dump() {
	mdb_dump -n -p "$GREY_DB" | awk '
		/^HEADER=END/ { body = 1; next }
		/^DATA=END/ { body = 0 }
		body && !k { k = substr($0, 2); next }
		body && k { print k "|" substr($0, 2); k = "" }'
}

@test "first try 451 4.7.1 with its text; an early retry 451 with the time left" {
	# a delay the early retry cannot outlast, however slow the machine
	start_grey 'greylist_delay 30'
	try 127.0.1.1 a@mail.test user@local.test
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.7\.1 Greylisted, please try again in 30 seconds$'
	grey_log 127.0.1.1 new
	assert_log 'event=greylist client=127\.0\.1\.1 triplet="127\.0\.1\.0/24 a@mail\.test user@local\.test" state=new wait=30$'
	try 127.0.1.1 a@mail.test user@local.test
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.7\.1 Greylisted, please try again in (2[0-9]|30) seconds$'
	grey_log 127.0.1.1 waiting
	assert_log 'event=summary client=127\.0\.1\.1 .* greylist=waiting$'
	settle
	[[ $(sink_count) == 0 ]] || fail "a greylisted message reached the sink"
}

@test "a retry after the delay, from another address of the network, passes and reaches the backend" {
	start_grey
	try 127.0.2.1 A@Mail.Test User@Local.Test
	assert_codes "220 250 250 451 221"
	sleep_until $(($(date +%s) + 2))
	deliver 127.0.2.9 a@mail.test user@local.test
	grey_log 127.0.2.9 passed-now
	# passed: the next message goes straight through
	deliver 127.0.2.1 a@mail.test user@local.test
	grey_log 127.0.2.1 passed
	assert_log 'event=summary client=127\.0\.2\.1 .* greylist=passed$'
	run db_dump
	[[ $output == *"t 127.0.2.0/24 a@mail.test user@local.test|1 "* ]] ||
		fail "triplet not in the store" "$output"
}

@test "a retry after greylist_retry_window is a new first try (451 again)" {
	start_grey 'greylist_retry_window 4'
	try 127.0.3.1 a@mail.test user@local.test
	assert_reply "$GREY_REPLY"
	sleep_until $(($(date +%s) + 5))
	try 127.0.3.1 a@mail.test user@local.test
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.7\.1 Greylisted, please try again in 2 seconds$'
	grey_log 127.0.3.1 new-after-window
}

@test "auto-whitelist: a network that passed greylist_auto_whitelist triplets is not greylisted" {
	start_grey 'greylist_auto_whitelist 2'
	try 127.0.4.1 a@mail.test one@local.test two@local.test
	assert_codes "220 250 250 451 451 221"
	sleep_until $(($(date +%s) + 2))
	try 127.0.4.1 a@mail.test one@local.test two@local.test
	assert_codes "220 250 250 250 250 221"
	# a new triplet of that network passes at once, another network's not
	try 127.0.4.7 b@other.test three@local.test
	assert_codes "220 250 250 250 221"
	grey_log 127.0.4.7 whitelisted-client
	try 127.0.5.1 b@other.test three@local.test
	assert_codes "220 250 250 451 221"
	run db_dump
	[[ $output == *"c 127.0.4.0/24|1 "*" 2"* ]] || fail "client count" "$output"
}

@test "exempt: relay clients, POP-before-SMTP and authenticated clients" {
	printf '127.0.6.0/24 OK\n' >"$TMP/nets.txt"
	dns_mkcdb -t networks "$TMP/nets.txt" "$TMP/nets.cdb"
	dns_mkcdb -t pop -a 127.0.7.1 "$TMP/pop.cdb"
	make_cert
	make_sasldb
	local lines=()
	mapfile -t lines < <(tls_conf; sasl_conf)
	start_grey "relay_clients cdb:$TMP/nets.cdb" \
		"pop_before_smtp cdb:$TMP/pop.cdb" 'pop_window 600' \
		'auth_requires_tls no' "${lines[@]}"
	try 127.0.6.1 a@mail.test user@local.test
	assert_codes "220 250 250 250 221"
	assert_log 'event=greylist client=127\.0\.6\.1 .* state=exempt reason="relay_clients 127\.0\.6\.0/24 OK"'
	try 127.0.7.1 a@mail.test user@local.test
	assert_codes "220 250 250 250 221"
	assert_log 'event=greylist client=127\.0\.7\.1 .* state=exempt reason="pop_before_smtp login'
	run smtp -b 127.0.8.1 'EHLO client.test\r\n' =1 \
		"$(auth_plain alice "$ALICE_PW")" =1 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 235 250 250 221"
	assert_log 'event=greylist client=127\.0\.8\.1 .* state=exempt reason="authenticated"'
	# and a stranger is greylisted
	try 127.0.9.1 a@mail.test user@local.test
	assert_reply "$GREY_REPLY"
}

@test "exempt: greylist_exempt networks, @domain, @.domain, <> and recipients" {
	printf '%s\n' '127.0.10.0/24' '@friend.test OK' '@.corp.test' '<>' \
		'postmaster@local.test' >"$TMP/exempt.txt"
	dns_mkcdb -t greylist "$TMP/exempt.txt" "$TMP/exempt.cdb"
	start_grey "greylist_exempt cdb:$TMP/exempt.cdb"
	try 127.0.10.5 a@mail.test user@local.test
	assert_codes "220 250 250 250 221"
	assert_log 'client=127\.0\.10\.5 .* state=exempt reason="greylist_exempt client 127\.0\.10\.0/24"'
	try 127.0.11.1 a@Friend.Test user@local.test
	assert_codes "220 250 250 250 221"
	assert_log 'client=127\.0\.11\.1 .* state=exempt reason="greylist_exempt sender @friend\.test"'
	try 127.0.12.1 a@mx.eu.corp.test user@local.test
	assert_codes "220 250 250 250 221"
	assert_log 'client=127\.0\.12\.1 .* state=exempt reason="greylist_exempt sender @\.corp\.test"'
	try 127.0.13.1 '' user@local.test
	assert_codes "220 250 250 250 221"
	assert_log 'client=127\.0\.13\.1 .* state=exempt reason="greylist_exempt sender <>"'
	try 127.0.14.1 a@mail.test postmaster@local.test
	assert_codes "220 250 250 250 221"
	assert_log 'client=127\.0\.14\.1 .* state=exempt reason="greylist_exempt recipient postmaster@local\.test"'
	# none of them: greylisted (corp.test itself is not a subdomain)
	try 127.0.15.1 a@corp.test user@local.test
	assert_codes "220 250 250 451 221"
	run dns_mkcdb -t greylist <(printf 'not-an-entry\n') "$TMP/bad.cdb"
	[[ $status != 0 && $output == *"not a network, @domain"* ]] || fail "$output"
}

@test "exempt: a DNSWL hit is not greylisted" {
	start_grey 'dnswl dnswl.test -5 0' "$(dns_heuristics_off)"
	try 127.0.0.2 a@mail.test user@local.test
	assert_codes "220 250 250 250 221"
	assert_log 'client=127\.0\.0\.2 .* state=exempt reason="dnswl"'
	try 127.0.0.1 a@mail.test user@local.test
	assert_codes "220 250 250 451 221"
}

@test "greylist_min_score: a clean client passes, a listed one is greylisted" {
	start_grey 'dnsbl dnsbl.test 1 0' 'reject_score 10' 'defer_score 5' \
		'greylist_min_score 0.5' "$(dns_heuristics_off)"
	try 127.0.0.1 a@mail.test user@local.test
	assert_codes "220 250 250 250 221"
	assert_log 'client=127\.0\.0\.1 .* state=exempt reason="score 0\.00 below greylist_min_score 0\.5"'
	try 127.0.0.2 a@mail.test user@local.test
	assert_codes "220 250 250 451 221"
	grey_log 127.0.0.2 new
}

@test "greylist_mode test: delivered, would-reject logged with the exact reply" {
	start_grey 'greylist_mode test'
	deliver 127.0.16.1 a@mail.test user@local.test
	assert_log 'event=would-reject client=127\.0\.16\.1 cmd=RCPT reply="451 4\.7\.1 Greylisted, please try again in 2 seconds"$'
	refute_log 'event=reject '
	grey_log 127.0.16.1 new
}

@test "store unavailable (no folder, a corrupt file): fail-open, logged" {
	start_grey "greylist_db $TMP/missing/greylist.lmdb"
	deliver 127.0.17.1 a@mail.test user@local.test
	assert_log 'event=greylist-error store=lmdb op=open reason=".*missing/greylist\.lmdb: No such file or directory"'
	grey_log 127.0.17.1 error
	stop_proxy
	head -c 16384 /dev/urandom >"$TMP/state/bad.lmdb"
	chmod 666 "$TMP/state/bad.lmdb"
	start_grey "greylist_db $TMP/state/bad.lmdb"
	deliver 127.0.17.2 a@mail.test user@local.test
	assert_log 'event=greylist-error store=lmdb op=open reason=".*bad\.lmdb: MDB_INVALID'
	grey_log 127.0.17.2 error
}

@test "50 concurrent sessions: every triplet recorded once, every retry passes, mdb_stat clean" {
	# server mode: 50 at once from one address (its per-client limit off)
	start_grey 'greylist_auto_whitelist 0' 'client_connection_count_limit 0'
	local i pids=()
	for ((i = 0; i < 50; i++)); do
		smtp -t 30 -b 127.0.18.1 'EHLO client.test\r\n' =1 \
			"MAIL FROM:<s$i@mail.test>\\r\\n" =1 'RCPT TO:<user@local.test>\r\n' =1 \
			'QUIT\r\n' >"$TMP/first.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	[[ $(grep -l '^451 4.7.1 Greylisted' "$TMP"/first.* | wc -l) == 50 ]] ||
		fail "not 50 first tries greylisted" "$(cat "$TMP"/first.*)"
	run mdb_stat -n "$GREY_DB"
	[[ $status == 0 ]] || fail "$output"
	[[ $(db_dump | grep -c '^t 127\.0\.18\.0/24 s[0-9]*@mail\.test user@local\.test|1 [0-9]* [0-9]* 0 0$') == 50 ]] ||
		fail "not 50 waiting triplets" "$(db_dump)"
	sleep_until $(($(date +%s) + 2))
	pids=()
	for ((i = 0; i < 50; i++)); do
		smtp -t 30 -b 127.0.18.2 'EHLO client.test\r\n' =1 \
			"MAIL FROM:<s$i@mail.test>\\r\\n" =1 'RCPT TO:<user@local.test>\r\n' =1 \
			'DATA\r\n' =1 'Subject: x\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n' >"$TMP/retry.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	settle
	[[ $(grep -l '^250 .*queued\|^250 2.0.0' "$TMP"/retry.* | wc -l) == 50 ]] ||
		fail "not 50 retries delivered" "$(cat "$TMP"/retry.*)"
	[[ $(sink_count) == 50 ]] || fail "the sink got $(sink_count) messages"
	run mdb_stat -n "$GREY_DB"
	[[ $status == 0 ]] || fail "$output"
	[[ $(db_dump | grep -c '^t 127\.0\.18\.0/24 s[0-9]*@mail\.test user@local\.test|1 [0-9]* [0-9]* [1-9][0-9]* 0$') == 50 ]] ||
		fail "not 50 passed triplets" "$(db_dump)"
	# every pass counted for the client: no lost update
	[[ $(db_dump | grep -c '^c 127\.0\.18\.0/24|1 [0-9]* [0-9]* 0 50$') == 1 ]] ||
		fail "the client's count is not 50" "$(db_dump)"
}

@test "-n creates the store for the sessions' user; redis: needs redis_server" {
	mkdir -p -m 1777 "$TMP/state"
	write_conf "backend 127.0.0.1:$SINK_PORT" "log_file $TMP/smtpproxy.log" \
		'greylist yes' "greylist_db $TMP/state/n.lmdb"
	check_conf 0 "greylist_db: $TMP/state/n.lmdb: ok (LMDB, 0 records"
	[[ $(stat -c '%U %a' "$TMP/state/n.lmdb") == "nobody 600" ]] ||
		fail "owner/mode: $(stat -c '%U %a' "$TMP/state/n.lmdb")"
	[[ $(stat -c '%U' "$TMP/state/n.lmdb-lock") == nobody ]] || fail "lock file owner"
	write_conf "backend 127.0.0.1:$SINK_PORT" 'greylist yes' 'greylist_db redis:'
	check_conf 100 "greylist_db: redis: needs redis_server"
	write_conf "backend 127.0.0.1:$SINK_PORT" 'greylist_delay 600' \
		'greylist_retry_window 10m'
	check_conf 100 "greylist_retry_window: must be longer than greylist_delay"
}

@test "-T -d explains the triplet, its state and what test mode would do, and changes nothing" {
	printf 'd.test\n' >"$TMP/local.txt"
	dns_mkcdb -t domains "$TMP/local.txt" "$TMP/local.cdb"
	mkdir -p -m 1777 "$TMP/state"
	write_conf "backend 127.0.0.1:$SINK_PORT" "log_file $TMP/smtpproxy.log" \
		'greylist yes' "greylist_db $TMP/state/t.lmdb" 'greylist_mode test' \
		"local_domains cdb:$TMP/local.cdb"
	NO_RELAYCLIENT=1
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -d -T '[192.0.2.7]' \
		< <(printf 'EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nQUIT\r\n')
	[[ $output == *"greylist: client 192.0.2.0/24: 0 triplets passed, not whitelisted"* ]] || fail "$output"
	[[ $output == *"greylist: 192.0.2.0/24 a@b.test c@d.test: first try (not recorded: -T)"* ]] || fail "$output"
	[[ $output == *'test mode (greylist_mode): would reply "451 4.7.1 Greylisted, please try again in 300 seconds"'* ]] || fail "$output"
	run mdb_stat -n "$TMP/state/t.lmdb"
	[[ $output == *"Entries: 0"* ]] || fail "-T wrote to the store: $output"
}
