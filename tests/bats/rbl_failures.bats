#!/usr/bin/env bats
# rbl_failures: DNS failures never turn into a listing, an accept of a
# whitelisted client or an unbounded wait. refused.test answers
# 127.255.255.254 (resolver refused / over quota), notloop.test answers
# 192.0.2.99 (not 127/8), and every name under dead.test is swallowed by a
# server that never answers (lib/dns.bash). dns_error_action accept
# (fail-open, the default) scores the failed list 0; defer answers
# 451 4.4.3.

load lib/common
load lib/dns

# one DNS for the whole file, a sink per test: lib/dns.bash
dns_file_fixture

# dead_queried NAME: the dead server got a query for NAME
dead_queried() {
	grep -q "^query $(re_escape "$1") from " "$DNS_DIR/dead.log"
}

@test "an answer in 127.255.255.0/24 or outside 127/8 is an error, not a listing: fail-open accepts" {
	start_dns_proxy "dnsbl refused.test 5 0" "dnsbl notloop.test 5 0" \
		"$(dns_heuristics_off)"
	dns_scored 127.0.0.2 good.test a@mail.test accept 0 \
		'DNSERR(refused.test)=0' 'DNSERR(notloop.test)=0'
	refute_check 127.0.0.2 'DNSBL(refused.test)'
	refute_check 127.0.0.2 'DNSBL(notloop.test)'
}

@test "127.255.255.254 with dns_error_action defer: 451 4.4.3" {
	start_dns_proxy "dnsbl refused.test 5 0" "dns_error_action defer" \
		"$(dns_heuristics_off)"
	dns_session 127.0.0.2 good.test a@mail.test
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.4\.3 Temporary DNS failure, try again later'
	assert_score 127.0.0.2 tempfail 0 'DNSERR(refused.test)=0'
}

@test "a non-127 answer with dns_error_action defer: 451 4.4.3" {
	start_dns_proxy "dnsbl notloop.test 5 0" "dns_error_action defer" \
		"$(dns_heuristics_off)"
	dns_session 127.0.0.1 good.test a@mail.test
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.4\.3 Temporary DNS failure, try again later'
	assert_score 127.0.0.1 tempfail 0 'DNSERR(notloop.test)=0'
}

@test "an rhsbl answering 127.255.255.254 is an error too" {
	start_dns_proxy "rhsbl refused.test 5 0" "dns_error_action defer" \
		"$(dns_heuristics_off)"
	dns_session 127.0.0.1 good.test a@x.test
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.4\.3 '
	assert_score 127.0.0.1 tempfail 0 'DNSERR(refused.test)=0'
}

@test "a failed dnswl lookup never whitelists: the dnsbl hit still refuses" {
	start_dns_proxy "dnsbl dnsbl.test 3 0" "dnswl refused.test -5 0" \
		"$(dns_heuristics_off)"
	dns_scored 127.0.0.2 good.test a@mail.test reject 3 \
		'DNSBL(dnsbl.test)=3' 'DNSERR(refused.test)=0'
	assert_reply "550 5\\.7\\.1 Client \\[127\\.0\\.0\\.2\\] refused \\(score $(num_re 3)\\): listed by dnsbl\\.test: "
}

@test "dead lists: the wait is bounded by timeout_dns for all of them together; fail-open accepts" {
	start_dns_proxy "timeout_dns 2" "dnsbl a.dead.test 5 0" "dnsbl b.dead.test 5 0" \
		"dnswl c.dead.test -5 0" "rhsbl d.dead.test 5 0" "dnsbl dnsbl.test 0.5 0" \
		"$(dns_heuristics_off)"
	local t
	# -E: stop at the RCPT reply (the proxy sees EOF)
	timed run smtp -t 20 -E -b 127.0.0.2 'EHLO good.test\r\n' =1 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1
	t=$((T1 - T0))
	assert_codes "220 250 250 250"
	((t >= 1500)) || fail "the RCPT reply came after $t ms: the dead lists were not waited for"
	((t < 5000)) || fail "the RCPT reply took $t ms with timeout_dns 2"
	# the rest of the session works as usual
	run smtp -b 127.0.0.1 'EHLO good.test\r\n' =1 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'DATA\r\n' =1 'Subject: x\r\n\r\nhi\r\n.\r\n' =1 \
		'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	assert_score 127.0.0.2 accept 0.5 'DNSBL(dnsbl.test)=0.5' 'DNSERR(a.dead.test)=0' \
		'DNSERR(b.dead.test)=0' 'DNSERR(c.dead.test)=0' 'DNSERR(d.dead.test)=0'
	assert_score 127.0.0.1 accept 0 'DNSERR(a.dead.test)=0'
	dead_queried 2.0.0.127.a.dead.test || fail "a.dead.test not asked" "$(cat "$DNS_DIR/dead.log")"
	dead_queried 2.0.0.127.b.dead.test || fail "b.dead.test not asked" "$(cat "$DNS_DIR/dead.log")"
	dead_queried 2.0.0.127.c.dead.test || fail "c.dead.test not asked" "$(cat "$DNS_DIR/dead.log")"
	dead_queried mail.test.d.dead.test || fail "d.dead.test not asked" "$(cat "$DNS_DIR/dead.log")"
	settle
	[[ $(sink_count) == 1 ]] || fail "expected the message at the backend"
}

@test "dead list with dns_error_action defer: 451 4.4.3 within timeout_dns" {
	start_dns_proxy "timeout_dns 2" "dns_error_action defer" "dnsbl dead.test 5 0" \
		"$(dns_heuristics_off)"
	local t
	timed run smtp -t 20 -b 127.0.0.2 'EHLO good.test\r\n' =1 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	t=$((T1 - T0))
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.4\.3 Temporary DNS failure, try again later'
	((t >= 1500 && t < 5000)) || fail "the session took $t ms with timeout_dns 2"
	assert_score 127.0.0.2 tempfail 0 'DNSERR(dead.test)=0'
	dead_queried 2.0.0.127.dead.test || fail "dead.test not asked" "$(cat "$DNS_DIR/dead.log")"
}

@test "each batch has its own deadline: the sender checks get timeout_dns from MAIL" {
	start_dns_proxy "timeout_dns 2" "dns_error_action defer" "rhsbl dead.test 5 0" \
		"$(dns_heuristics_off)"
	local t
	# MAIL comes 1.5 s after the connection: its lookups still get 2 s
	timed run smtp -t 20 -b 127.0.0.2 'EHLO good.test\r\n' =1 +1500 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	t=$((T1 - T0))
	assert_codes "220 250 250 451 221"
	((t >= 3300)) || fail "the RCPT reply came $t ms after connecting: the sender lookups did not get 2 s from MAIL"
	((t < 6500)) || fail "the session took $t ms"
	assert_score 127.0.0.2 tempfail 0 'DNSERR(dead.test)=0'
	dead_queried mail.test.dead.test || fail "dead.test not asked" "$(cat "$DNS_DIR/dead.log")"
}

@test "heuristic lookups that time out are not hits" {
	# HELO x.dead.test and sender domain y.dead.test never resolve, nor does
	# the PTR of 127.0.0.9: a time-out is not "does not resolve"
	start_dns_proxy "timeout_dns 2" "weight helo_no_resolve 5 0" "weight bogus_mx 5 0" \
		"weight client_no_rdns 5 0" "$(dns_heuristics_off helo_no_resolve bogus_mx client_no_rdns)"
	local t
	timed run smtp -t 20 -b 127.0.0.9 'EHLO x.dead.test\r\n' =1 'MAIL FROM:<a@y.dead.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	t=$((T1 - T0))
	assert_codes "220 250 250 250 221"
	((t < 5000)) || fail "the session took $t ms with timeout_dns 2"
	assert_score 127.0.0.9 accept '*'
	local line
	line=$(score_line 127.0.0.9)
	if grep -Eq '(HELO_NO_RESOLVE|BOGUS_MX|CLIENT_NO_RDNS)=5' <<<"$line"; then
		fail "a time-out counted as a hit:" "$line"
	fi
	dead_queried 9.0.0.127.in-addr.arpa || fail "the PTR was not asked" "$(cat "$DNS_DIR/dead.log")"
	dead_queried x.dead.test || fail "the HELO name was not asked" "$(cat "$DNS_DIR/dead.log")"
	dead_queried y.dead.test || fail "the sender domain was not asked" "$(cat "$DNS_DIR/dead.log")"
}

@test "sessions that need no score do not wait for a dead list" {
	start_dns_proxy "timeout_dns 3" "dns_error_action defer" "dnsbl dead.test 5 0" \
		"rhsbl dead.test 5 0" "$(dns_heuristics_off)"
	local t
	# a client that says QUIT before any RCPT
	timed run smtp -b 127.0.0.2 'EHLO good.test\r\n' =1 'MAIL FROM:<a@mail.test>\r\n' =1 'QUIT\r\n'
	t=$((T1 - T0))
	assert_codes "220 250 250 221"
	((t < 1500)) || fail "a session without RCPT took $t ms"
	# a relay client (RELAYCLIENT)
	wait_sessions_done
	stop_pid "$XINETD_PID" || true
	XINETD_PID=
	NO_RELAYCLIENT='' start_dns_proxy "timeout_dns 3" "dns_error_action defer" \
		"dnsbl dead.test 5 0" "rhsbl dead.test 5 0" "$(dns_heuristics_off)"
	timed run smtp -b 127.0.0.3 'EHLO good.test\r\n' =1 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@far.test>\r\n' =1 'QUIT\r\n'
	t=$((T1 - T0))
	assert_codes "220 250 250 250 221"
	((t < 1500)) || fail "a relay client's session took $t ms"
	settle
	assert_log 'event=summary client=127\.0\.0\.3 '
	refute_log 'event=score'
}

# ehlo_flood N NAME: one rawsmtp item holding N "EHLO NAME" lines (sent in
# one write)
ehlo_flood() {
	local i s=
	for ((i = 0; i < $1; i++)); do
		s+="EHLO $2\\r\\n"
	done
	printf '%s' "$s"
}

@test "80 EHLOs pipelined in one write do not use up the query slots: the sender's listing still counts (550, not 250)" {
	# each EHLO starts A and AAAA lookups of its name, here one the dead
	# server never answers: the lookups of the earlier EHLOs are stale but
	# still waiting, and must not keep the MAIL's lookups from being sent
	# (fail-open would then let a listed sender through)
	start_dns_proxy "timeout_dns 2" "dnsbl dnsbl.test 2.5 0" "rhsbl rhsbl.test 2.5 0" \
		"reject_score 5" "defer_score 5" "dns_error_action accept" \
		"max_junk_commands 0" "$(dns_heuristics_off)"
	run smtp -t 20 -b 127.0.0.2 "$(ehlo_flood 80 x.dead.test)" =80 \
		'MAIL FROM:<a@test>\r\n' =1 'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	[[ $status == 0 ]] || fail "rawsmtp status $status" "$output"
	assert_reply_count 80 '250 8BITMIME$'
	assert_codes "220 $(printf '250 %.0s' {1..80})250 550 221"
	assert_reply "550 5\\.7\\.1 Client \\[127\\.0\\.0\\.2\\] refused \\(score $(num_re 5)\\): "
	assert_score 127.0.0.2 reject 5 'DNSBL(dnsbl.test)=2.5' 'RHSBL(rhsbl.test)=2.5'
	refute_check 127.0.0.2 'DNSERR(rhsbl.test)'
	refute_check 127.0.0.2 'NOTASKED(rhsbl.test)'
	refute_log 'no free query slot'
	# the EHLOs' lookups were sent: it was the dead server that held them
	dead_queried x.dead.test || fail "the HELO name was not asked" "$(cat "$DNS_DIR/dead.log")"
}

@test "a check that could not be asked (dns_servers c-ares refuses) defers 451 4.4.3 even with dns_error_action accept" {
	# "resolver.example" is no address: c-ares cannot use it, so no query
	# is ever sent; a check never asked must not count as passed
	printf 'local.test\n' >"$TMP/local.txt"
	dns_mkcdb -t domains "$TMP/local.txt" "$TMP/local.cdb" >/dev/null
	NO_RELAYCLIENT=1 start_proxy "local_domains cdb:$TMP/local.cdb" \
		"dns_servers resolver.example" "dnsbl dnsbl.test 5 0" "rhsbl rhsbl.test 5 0" \
		"dns_error_action accept" "$(dns_heuristics_off)"
	dns_session 127.0.0.2 good.test a@test
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.4\.3 Temporary DNS failure, try again later$'
	assert_score 127.0.0.2 tempfail 0 'NOTASKED(dnsbl.test)=0' 'NOTASKED(rhsbl.test)=0'
	assert_log 'event=dns-error reason="c-ares: '
	assert_log 'event=dns-error query=2\.0\.0\.127\.dnsbl\.test reason="no resolver"'
	assert_log 'event=dns-error query=test\.rhsbl\.test reason="no resolver"'
}
