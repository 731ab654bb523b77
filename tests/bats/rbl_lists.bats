#!/usr/bin/env bats
# rbl_lists: the DNS lists (dnsbl, dnswl, rhsbl), their weights and filters,
# the decision at RCPT, the score log line, the score header and -T -d.
# The DNS is lib/dns.bash's (rbldnsd behind dnsmasq, RFC 5782 test data);
# clients bind to 127.0.0.x to be the listed addresses. The heuristics are
# switched off here (dns_heuristics_off) so that only the lists score;
# rbl_heuristics.bats tests them.

load lib/common
load lib/dns

# one DNS for the whole file, a sink per test: lib/dns.bash
dns_file_fixture

@test "the test DNS serves the documented RFC 5782 data" {
	run dnsq 2.0.0.127.dnsbl.test A
	[[ $output == *"A 127.0.0.2"* ]] || fail "$output"
	run dnsq 2.0.0.127.dnsbl.test TXT
	[[ $output == *'"Listed by dnsbl.test: see http://dnsbl.test/lookup?ip=127.0.0.2"'* ]] || fail "$output"
	run dnsq 1.0.0.127.dnsbl.test A
	[[ $output == "status NXDOMAIN" ]] || fail "$output"
	run dnsq 3.0.0.127.dnsbl.test A
	[[ $output == *"A 127.0.0.4"* ]] || fail "$output"
	run dnsq 5.0.0.127.dnsbl.test TXT
	[[ $output == *'"Spam\x1b[31mred'*'" "BBBB'* ]] || fail "$output"
	run dnsq 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.dnsbl.test A
	[[ $output == *"A 127.0.0.2"* ]] || fail "$output"
	run dnsq test.rhsbl.test A
	[[ $output == *"A 127.0.0.2"* ]] || fail "$output"
	run dnsq invalid.rhsbl.test A
	[[ $output == "status NXDOMAIN" ]] || fail "$output"
	run dnsq 1.0.0.127.refused.test A
	[[ $output == *"A 127.255.255.254"* ]] || fail "$output"
	run dnsq 6.0.0.127.in-addr.arpa PTR
	[[ $output == *"PTR dyn-127-0-0-6.pool.test"* ]] || fail "$output"
	run dnsq 7.0.0.127.in-addr.arpa PTR
	[[ $output == "status NXDOMAIN" ]] || fail "$output"
	run dnsq mail.test MX
	[[ $output == *"MX 10 mx.mail.test"* ]] || fail "$output"
	run dnsq nomx.test MX
	[[ $output == "status NXDOMAIN" ]] || fail "$output"
	run dnsq -t 0.5 x.dead.test A
	[[ $status == 2 ]] || fail "dead.test answered: $output"
	wait_until grep -q '^query x\.dead\.test from' "$DNS_DIR/dead.log"
}

@test "a listed client is refused with 550 5.7.1 naming the list and its TXT reason" {
	start_dns_proxy "dnsbl dnsbl.test 5 0" "$(dns_heuristics_off)"
	dns_scored 127.0.0.2 good.test a@mail.test reject 5 \
		'DNSBL(dnsbl.test)=5'
	assert_reply "550 5\\.7\\.1 Client \\[127\\.0\\.0\\.2\\] refused \\(score $(num_re 5)\\): listed by dnsbl\\.test: Listed by dnsbl\\.test: see http://dnsbl\\.test/lookup\\?ip=127\\.0\\.0\\.2\$"
	assert_log 'event=summary client=127\.0\.0\.2 .* score=5\.00 result='
}

@test "a list without a TXT record: the reply names the list and no empty reason" {
	start_dns_proxy "dnsbl dnsbl2.test 5 0" "$(dns_heuristics_off)"
	# 127.0.0.4 is on dnsbl2.test with no TXT record
	dns_scored 127.0.0.4 four.test a@mail.test reject 5 \
		'DNSBL(dnsbl2.test)=5'
	assert_reply '550 5\.7\.1 Client \[127\.0\.0\.4\] refused \(score 5(\.0+)?\): listed by dnsbl2\.test'
	refute_reply '550 .*(: *$|\(null\))'
}

@test "the relay decision comes before the score" {
	start_dns_proxy "dnsbl dnsbl.test 5 0" "$(dns_heuristics_off)"
	dns_session 127.0.0.2 good.test a@mail.test user@far.test user@local.test
	assert_codes "220 250 250 554 550 221"
	assert_reply '554 5\.7\.1 <user@far\.test>: Relay access denied'
	assert_reply '550 5\.7\.1 Client \[127\.0\.0\.2\] refused '
	assert_score 127.0.0.2 reject 5
}

@test "a client that is not listed passes, and the miss weight counts" {
	start_dns_proxy "dnsbl dnsbl.test 1.5 0" "dnsbl dnsbl2.test 3 -1" \
		"$(dns_heuristics_off)"
	dns_scored 127.0.0.1 good.test a@mail.test accept -1 \
		'DNSBL(dnsbl.test)=0' 'DNSBL(dnsbl2.test)=-1'
	# 127.0.0.3: listed by dnsbl.test (1.5), not by dnsbl2.test (-1): 0.5
	dns_scored 127.0.0.3 good.test a@mail.test accept 0.5 \
		'DNSBL(dnsbl.test)=1.5' 'DNSBL(dnsbl2.test)=-1'
	# 127.0.0.2: listed by both: 4.5
	dns_scored 127.0.0.2 good.test a@mail.test reject 4.5 \
		'DNSBL(dnsbl.test)=1.5' 'DNSBL(dnsbl2.test)=3'
}

@test "weights sum to reject (>= reject_score), defer (>= defer_score) or accept" {
	start_dns_proxy "reject_score 5" "defer_score 3" "max_dnsbl_hits 10" \
		"dnsbl dnsbl.test 3 0" "dnsbl dnsbl2.test 1 0" "dnsbl dnsbl3.test 1 0" \
		"$(dns_heuristics_off)"
	# 127.0.0.2 is on all three lists: 3 + 1 + 1 = 5
	dns_scored 127.0.0.2 good.test a@mail.test reject 5 \
		'DNSBL(dnsbl.test)=3' 'DNSBL(dnsbl2.test)=1' \
		'DNSBL(dnsbl3.test)=1'
	assert_reply "550 5\\.7\\.1 Client \\[127\\.0\\.0\\.2\\] refused \\(score $(num_re 5)\\): "
	# 127.0.0.3 is on dnsbl.test only: 3
	dns_scored 127.0.0.3 good.test a@mail.test defer 3 \
		'DNSBL(dnsbl.test)=3' 'DNSBL(dnsbl2.test)=0'
	assert_reply "450 4\\.7\\.1 Client \\[127\\.0\\.0\\.3\\] deferred \\(score $(num_re 3)\\): "
	# 127.0.0.1 is on none
	dns_scored 127.0.0.1 good.test a@mail.test accept 0
	refute_log 'event=score client=127\.0\.0\.1 .*result=(reject|defer)'
}

@test "listed by more than max_dnsbl_hits lists (dnsbl and rhsbl) is refused whatever the score" {
	start_dns_proxy "reject_score 10" "max_dnsbl_hits 2" \
		"dnsbl dnsbl.test 0.1 0" "dnsbl dnsbl2.test 0.1 0" "rhsbl rhsbl.test 0.1 0" \
		"$(dns_heuristics_off)"
	# three hits: 127.0.0.2 on both dnsbls, sender domain "test" on rhsbl.test
	dns_scored 127.0.0.2 good.test a@test reject 0.3 \
		'DNSBL(dnsbl.test)=0.1' 'RHSBL(rhsbl.test)=0.1'
	assert_reply '550 5\.7\.1 Client \[127\.0\.0\.2\] refused: listed by 3 DNS lists: dnsbl\.test, dnsbl2\.test, rhsbl\.test'
	# two hits are not more than two
	dns_scored 127.0.0.2 good.test a@mail.test accept 0.2
}

@test "a dnswl listing is not a hit for max_dnsbl_hits" {
	start_dns_proxy "max_dnsbl_hits 1" "dnsbl dnsbl.test 0.1 0" "dnswl dnswl.test -0.1 0" \
		"$(dns_heuristics_off)"
	dns_scored 127.0.0.2 good.test a@mail.test accept 0 \
		'DNSBL(dnsbl.test)=0.1' 'DNSWL(dnswl.test)=-0.1'
}

@test "filter =127.0.0.4 counts only that answer" {
	start_dns_proxy "dnsbl dnsbl.test 5 0 =127.0.0.4" "$(dns_heuristics_off)"
	# 127.0.0.3 is listed with answer 127.0.0.4
	dns_scored 127.0.0.3 good.test a@mail.test reject 5 \
		'DNSBL(dnsbl.test)=5'
	assert_reply '550 5\.7\.1 Client \[127\.0\.0\.3\] refused \(score 5(\.0+)?\): listed by dnsbl\.test: Listed with code 4: 127\.0\.0\.3$'
	# 127.0.0.2 is listed with answer 127.0.0.2: filtered out
	dns_scored 127.0.0.2 good.test a@mail.test accept 0 \
		'DNSBL(dnsbl.test)=0'
}

@test "filter =127.0.0.[2..3] does not match the answer 127.0.0.4" {
	start_dns_proxy "dnsbl dnsbl.test 5 0 =127.0.0.[2..3]" "$(dns_heuristics_off)"
	dns_scored 127.0.0.3 good.test a@mail.test accept 0 \
		'DNSBL(dnsbl.test)=0'
	dns_scored 127.0.0.2 good.test a@mail.test reject 5 \
		'DNSBL(dnsbl.test)=5'
}

@test "filter lists and wildcards: =127.0.0.[1;4..5] and =127.0.*.2" {
	start_dns_proxy "dnsbl dnsbl.test 5 0 =127.0.0.[1;4..5]" \
		"dnsbl dnsbl2.test 7 0 =127.0.*.2" "$(dns_heuristics_off)"
	# 127.0.0.3: dnsbl.test answers 127.0.0.4 (in the list); not on dnsbl2
	dns_scored 127.0.0.3 good.test a@mail.test reject 5 \
		'DNSBL(dnsbl.test)=5' 'DNSBL(dnsbl2.test)=0'
	# 127.0.0.2: dnsbl.test answers 127.0.0.2 (not in the list); dnsbl2 does
	dns_scored 127.0.0.2 good.test a@mail.test reject 7 \
		'DNSBL(dnsbl.test)=0' 'DNSBL(dnsbl2.test)=7'
}

@test "dnswl rescues a client listed by a dnsbl" {
	start_dns_proxy "dnsbl dnsbl.test 3 0" "dnswl dnswl.test -5 0" \
		"$(dns_heuristics_off)"
	# 127.0.0.2: dnsbl.test 3, dnswl.test -5
	dns_scored 127.0.0.2 good.test a@mail.test accept -2 \
		'DNSBL(dnsbl.test)=3' 'DNSWL(dnswl.test)=-5'
	# 127.0.0.3 is on the dnsbl but not on the dnswl
	dns_scored 127.0.0.3 good.test a@mail.test reject 3 \
		'DNSBL(dnsbl.test)=3' 'DNSWL(dnswl.test)=0'
}

@test "rhsbl: the sender domain test is listed, invalid is not, <> is not looked up" {
	start_dns_proxy "rhsbl rhsbl.test 5 0" "$(dns_heuristics_off)"
	dns_scored 127.0.0.2 good.test a@test reject 5 'RHSBL(rhsbl.test)=5'
	assert_reply "550 5\\.7\\.1 Client \\[127\\.0\\.0\\.2\\] refused \\(score $(num_re 5)\\): listed by rhsbl\\.test: Domain test listed by rhsbl\\.test\$"
	dns_scored 127.0.0.3 good.test a@invalid accept 0
	dns_scored 127.0.0.4 good.test a@x.spam.test reject 5 \
		'RHSBL(rhsbl.test)=5'
	assert_reply '550 5\.7\.1 Client \[127\.0\.0\.4\] refused .*listed by rhsbl\.test: Domain spam\.test listed by rhsbl\.test$'
	dns_scored 127.0.0.5 good.test '' accept 0
	refute_check 127.0.0.5 'RHSBL(rhsbl.test)'
}

@test "each transaction is scored with its own sender" {
	start_dns_proxy "rhsbl rhsbl.test 5 0" "$(dns_heuristics_off)"
	run smtp -b 127.0.0.2 'EHLO good.test\r\n' =1 'MAIL FROM:<a@invalid>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'RSET\r\n' =1 'MAIL FROM:<a@test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 250 250 550 221"
	assert_score 127.0.0.2 reject 5 'RHSBL(rhsbl.test)=5'
}

@test "a multi-recipient transaction is scored once: every RCPT gets the same answer" {
	start_dns_proxy "dnsbl dnsbl.test 5 0" "$(dns_heuristics_off)"
	dns_session 127.0.0.2 good.test a@mail.test user@local.test other@local.test
	assert_codes "220 250 250 550 550 221"
	assert_score 127.0.0.2 reject 5
	dns_session 127.0.0.1 good.test a@mail.test user@local.test other@local.test
	assert_codes "220 250 250 250 250 221"
	assert_score 127.0.0.1 accept 0
	settle
	local n
	n=$(grep -c 'event=score client=127\.0\.0\.2 ' "$TMP/smtpproxy.log")
	[[ $n == 1 ]] || fail "expected one score line for 127.0.0.2, got $n" "$(cat "$TMP/smtpproxy.log")"
}

@test "relay clients (RELAYCLIENT, relay_clients) and fresh POP-before-SMTP clients skip the score" {
	printf '127.0.0.2 OK\n' >"$TMP/nets.txt"
	dns_mkcdb -t networks "$TMP/nets.txt" "$TMP/nets.cdb"
	dns_mkcdb -t pop -a 127.0.0.3 "$TMP/pop.cdb"
	start_dns_proxy "dnsbl dnsbl.test 5 0" "relay_clients cdb:$TMP/nets.cdb" \
		"pop_before_smtp cdb:$TMP/pop.cdb" "pop_window 600" "$(dns_heuristics_off)"
	# relay_clients: 127.0.0.2 is listed by dnsbl.test, yet may send
	dns_session 127.0.0.2 good.test a@mail.test user@local.test user@far.test
	assert_codes "220 250 250 250 250 221"
	# POP-before-SMTP: 127.0.0.3 is listed (answer 127.0.0.4)
	dns_session 127.0.0.3 good.test a@mail.test user@local.test
	assert_codes "220 250 250 250 221"
	# a stranger on the same list is refused: the list works
	dns_session 127.0.0.5 good.test a@mail.test user@local.test
	assert_codes "220 250 250 550 221"
	assert_score 127.0.0.5 reject 5
	settle
	refute_log 'event=score client=127\.0\.0\.[23] '
	assert_log 'event=summary client=127\.0\.0\.2 '
	assert_log 'event=summary client=127\.0\.0\.3 '
}

@test "RELAYCLIENT in the environment skips the score" {
	NO_RELAYCLIENT='' start_dns_proxy "dnsbl dnsbl.test 5 0" "$(dns_heuristics_off)"
	dns_session 127.0.0.2 good.test a@mail.test user@local.test
	assert_codes "220 250 250 250 221"
	settle
	assert_log 'event=summary client=127\.0\.0\.2 '
	refute_log 'event=score'
}

@test "IPv6 client: ::1 is looked up by its 32 nibbles and refused" {
	PROXY_BIND=::1 start_dns_proxy "dnsbl dnsbl.test 5 0" "dnswl dnswl.test -1 0" \
		"$(dns_heuristics_off)"
	dns_log_mark
	dns_scored ::1 good6.test a@mail.test reject 5 'DNSBL(dnsbl.test)=5' \
		'DNSWL(dnswl.test)=0'
	assert_reply '550 5\.7\.1 Client \[::1\] refused \(score 5(\.0+)?\): listed by dnsbl\.test: IPv6 ::1 listed by dnsbl\.test$'
	dns_log_since 'query\[A\] 1(\.0){31}\.dnsbl\.test from' ||
		fail "no IPv6 nibble query in the dnsmasq log" "$(cat "$DNS_DIR/dnsmasq.log")"
}

@test "dual-stack listener: an IPv4 client (v4-mapped on the socket) is looked up as IPv4" {
	PROXY_BIND=:: start_dns_proxy "dnsbl dnsbl.test 5 0" "$(dns_heuristics_off)"
	dns_log_mark
	run "$RAWSMTP" -b 127.0.0.2 127.0.0.1 "$PROXY_PORT" 'EHLO good.test\r\n' =1 \
		'MAIL FROM:<a@mail.test>\r\n' =1 'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 550 221"
	assert_reply '550 5\.7\.1 Client \[127\.0\.0\.2\] refused \(score 5(\.0+)?\): listed by dnsbl\.test: Listed by dnsbl\.test'
	assert_score 127.0.0.2 reject 5 'DNSBL(dnsbl.test)=5'
	dns_log_since 'query\[A\] 2\.0\.0\.127\.dnsbl\.test from' ||
		fail "no IPv4 query in the dnsmasq log" "$(cat "$DNS_DIR/dnsmasq.log")"
}

@test "the TXT reason is sanitised: printable ASCII only, at most 200 bytes" {
	local LC_ALL=C line reason
	start_dns_proxy "dnsbl dnsbl.test 5 0" "$(dns_heuristics_off)"
	dns_session 127.0.0.5 five.test a@mail.test
	# the CR LF inside the TXT must not make a reply of its own
	assert_codes "220 250 250 550 221"
	line=$(plain | grep -a '^550 ')
	[[ -n $line ]] || fail "no 550 line" "$output"
	if grep -aq '[^ -~]' <<<"$line"; then
		fail "the reply holds bytes that are not printable ASCII:" "$(od -c <<<"$line")"
	fi
	[[ $line == "550 5.7.1 Client [127.0.0.5] refused ("*"): listed by dnsbl.test: "* ]] ||
		fail "unexpected reply: $line"
	reason=${line#*): listed by dnsbl.test: }
	((${#reason} <= 200)) || fail "reason of ${#reason} bytes: $reason"
	((${#reason} >= 100)) || fail "reason cut short (${#reason} bytes): $reason"
	[[ $reason == 'Spam?[31mred?[0m?tab??250 2.0.0 injected?del??8bit AAAA'* ]] ||
		fail "not sanitised as '?' per byte: $reason"
	assert_score 127.0.0.5 reject 5 'DNSBL(dnsbl.test)=5'
	settle
	if grep -an '[^ -~]' "$TMP/smtpproxy.log" >&2; then
		fail "the log holds bytes that are not printable ASCII (above)"
	fi
}

@test "the score line lists every check with its weight" {
	start_dns_proxy "dnsbl dnsbl.test 2 0" "dnswl dnswl.test -1 0" \
		"rhsbl rhsbl.test 1 0.25"
	# 127.0.0.2 = good.test (forward-confirmed), HELO good.test resolves to
	# the client, mail.test has an MX, "a" is not random: every heuristic
	# misses with policyd-weight's miss weight
	dns_scored 127.0.0.2 good.test a@mail.test accept -2 \
		'DNSBL(dnsbl.test)=2' 'DNSWL(dnswl.test)=-1' \
		'RHSBL(rhsbl.test)=0.25' HELO_NUMERIC=0 HELO_NO_RESOLVE=-2 \
		CLIENT_IP_NE_HELO=-1.25 CLIENT_NO_RDNS=0 CLIENT_SEEMS_DIALUP=0 \
		BOGUS_MX=0 RANDOM_SENDER=0
}

@test "add_score_header puts X-Smtpproxy-Score first in the message the backend gets" {
	printf '127.0.0.3 OK\n' >"$TMP/nets.txt"
	dns_mkcdb -t networks "$TMP/nets.txt" "$TMP/nets.cdb"
	start_dns_proxy "dnsbl dnsbl.test 0.5 0" "add_score_header yes" \
		"relay_clients cdb:$TMP/nets.cdb" "$(dns_heuristics_off)"
	run smtp -b 127.0.0.2 'EHLO good.test\r\n' =1 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'DATA\r\n' =1 \
		'From: a@mail.test\r\nSubject: scored\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	assert_score 127.0.0.2 accept 0.5 'DNSBL(dnsbl.test)=0.5'
	settle
	[[ $(sink_count) == 1 ]] || fail "expected 1 message at the backend, got $(sink_count)"
	local f first
	f=$(sink_files)
	first=$(sink_body "$f" | head -n 1 | tr -d '\r')
	[[ $first =~ ^X-Smtpproxy-Score:\ 0\.50*\ \(.*DNSBL\(dnsbl\.test\)=0\.50*.*\)$ ]] ||
		fail "first line: $first" "--- message:" "$(sink_body "$f")"
	[[ $(sink_body "$f" | sed -n 2p | tr -d '\r') == "From: a@mail.test" ]] ||
		fail "the message does not follow the header" "$(sink_body "$f")"
	[[ $(grep -c '^X-Smtpproxy-Score:' "$f") == 1 ]] || fail "header not exactly once" "$(cat "$f")"
	# a relay client is not scored: no header
	rm -f "$f"
	run smtp -b 127.0.0.3 'EHLO good.test\r\n' =1 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'DATA\r\n' =1 \
		'From: a@mail.test\r\nSubject: not scored\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	settle
	[[ $(sink_count) == 1 ]] || fail "expected 1 message at the backend, got $(sink_count)"
	! grep -q 'X-Smtpproxy-Score' "$(sink_files)" || fail "score header on an unscored session" "$(cat "$(sink_files)")"
	refute_log 'event=score client=127\.0\.0\.3 '
}

@test "without add_score_header the message is passed as is" {
	start_dns_proxy "dnsbl dnsbl.test 0.5 0" "$(dns_heuristics_off)"
	run smtp -b 127.0.0.2 'EHLO good.test\r\n' =1 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'DATA\r\n' =1 \
		'From: a@mail.test\r\nSubject: scored\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	assert_score 127.0.0.2 accept 0.5
	settle
	[[ $(sink_count) == 1 ]] || fail "expected 1 message at the backend"
	! grep -q 'X-Smtpproxy-Score' "$(sink_files)" || fail "unexpected score header" "$(cat "$(sink_files)")"
}

@test "-T '[127.0.0.2]' -d prints the whole breakdown" {
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" \
		"local_domains cdb:$TMP/local.cdb" "$(dns_conf_lines)" \
		"dnsbl dnsbl.test 8 0" "dnswl dnswl.test -1 0"
	printf 'local.test\n' >"$TMP/local.txt"
	dns_mkcdb -t domains "$TMP/local.txt" "$TMP/local.cdb"
	NO_RELAYCLIENT=1
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -d -T '[127.0.0.2]' \
		< <(printf 'EHLO good.test\r\nMAIL FROM:<a@mail.test>\r\nRCPT TO:<user@local.test>\r\nQUIT\r\n')
	[[ $output == *"550 5.7.1 Client [127.0.0.2] refused"* ]] || fail "no 550" "$output"
	local want
	for want in 2.0.0.127.dnsbl.test 2.0.0.127.dnswl.test 'DNSBL(dnsbl.test)=8' \
	    'DNSWL(dnswl.test)=-1' HELO_NUMERIC HELO_NO_RESOLVE CLIENT_IP_NE_HELO \
	    CLIENT_NO_RDNS CLIENT_SEEMS_DIALUP BOGUS_MX RANDOM_SENDER; do
		[[ $output == *"$want"* ]] || fail "-d output lacks $want" "--- output:" "$output"
	done
	# 8 - 1 - 2 (HELO resolves) - 1.25 (HELO is the client) = 3.75
	assert_score 127.0.0.2 reject 3.75 'DNSBL(dnsbl.test)=8' 'DNSWL(dnswl.test)=-1' \
		HELO_NO_RESOLVE=-2 CLIENT_IP_NE_HELO=-1.25
}

@test "-T -d shows each query and its answer, also an answer the filter drops" {
	printf 'local.test\n' >"$TMP/local.txt"
	dns_mkcdb -t domains "$TMP/local.txt" "$TMP/local.cdb"
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" \
		"local_domains cdb:$TMP/local.cdb" "$(dns_conf_lines)" \
		"dnsbl dnsbl.test 5 0 =127.0.0.2" "$(dns_heuristics_off)"
	NO_RELAYCLIENT=1
	# 127.0.0.3 is listed with 127.0.0.4, which the filter does not count
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -d -T '[127.0.0.3]' \
		< <(printf 'EHLO good.test\r\nMAIL FROM:<a@mail.test>\r\nRCPT TO:<user@local.test>\r\nQUIT\r\n')
	[[ $output == *$'\n250 2.1.5 '* ]] || fail "RCPT not accepted" "$output"
	[[ $output == *"3.0.0.127.dnsbl.test"* ]] || fail "-d output lacks the query" "$output"
	[[ $output == *"127.0.0.4"* ]] ||
		fail "-d output does not show the answer 127.0.0.4 of 3.0.0.127.dnsbl.test" "--- output:" "$output"
	assert_score 127.0.0.3 accept 0 'DNSBL(dnsbl.test)=0'
}
