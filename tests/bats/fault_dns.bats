#!/usr/bin/env bats
# fault_dns: the resolver (dnsmasq, the one server smtpproxy asks; see
# lib/dns.bash) is killed in the middle of a session, after the greeting,
# when the client's DNSBL answer is in and before the sender's RHSBL
# lookup is made. The RCPT is still decided within timeout_dns: fail-open
# (the default) scores the lost list 0 and accepts, dns_error_action defer
# answers 451 4.4.3. The message that got its 250 is at the backend once,
# the others are not. 127.0.0.2 is listed in dnsbl.test; the sender
# domain "test" is listed in rhsbl.test.

load lib/common
load lib/dns
load lib/fault

setup() {
	common_setup
	start_dns
	start_sink
}

teardown() {
	dns_teardown
}

# the policy of every test: the client's listing alone (0.5) is under
# reject_score 1; with the sender's (5) the RCPT is refused
dns_fault_proxy() {
	start_dns_proxy "timeout_dns 2" "dnsbl dnsbl.test 0.5 0" "rhsbl rhsbl.test 5 0" \
		"$(dns_heuristics_off)" "$@"
}

# the rawsmtp item that waits until dnsmasq has relayed the client's
# dnsbl.test answer, then kills dnsmasq
kill_dns_item() {
	printf '!%s' "i=0; while [ \$i -lt 100 ] && ! grep -q 'reply 2\\.0\\.0\\.127\\.dnsbl\\.test is 127\\.0\\.0\\.2' '$DNS_DIR/dnsmasq.log'; do sleep 0.05; i=\$((i+1)); done; kill -9 $DNSMASQ_PID"
}

dns_dead() {
	! dnsq -p "$DNS_PORT" -t 0.3 good.test A >/dev/null 2>&1
}

@test "control: with the resolver alive the sender's RHSBL listing refuses the RCPT" {
	dns_fault_proxy
	run smtp -b 127.0.0.2 'EHLO good.test\r\n' =1 'MAIL FROM:<a@test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'DATA\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 550 554 221"
	assert_reply '550 5\.7\.1 '
	assert_score 127.0.0.2 reject 5.5 'DNSBL(dnsbl.test)=0.5' 'RHSBL(rhsbl.test)=5'
	settle
	[[ $(sink_count) == 0 ]] || fail "delivered"
}

@test "resolver killed after the greeting: the RCPT is decided within timeout_dns, fail-open accepts, the message is delivered once" {
	dns_fault_proxy
	fault_message "$TMP/m" dnskill
	local t
	timed run smtp -t 20 -b 127.0.0.2 'EHLO good.test\r\n' =1 \
		"$(kill_dns_item)" 'MAIL FROM:<a@test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 \
		'DATA\r\n' =1 "<$TMP/m" '.\r\n' =1 'QUIT\r\n'
	t=$((T1 - T0))
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	((t < 4500)) || fail "the session took $t ms with timeout_dns 2"
	dns_dead || fail "dnsmasq still answers"
	# the lookup lost with the resolver counts 0; the dnsbl answer counts
	# if its datagram left dnsmasq before the kill -9 (it logs, then sends)
	assert_log 'event=score client=127\.0\.0\.2 score=0\.(50|00) result=accept checks="(IN_DNSBL|DNSERR)\(dnsbl\.test\)=0\.(50|00) DNSERR\(rhsbl\.test\)=0\.00'
	refute_check 127.0.0.2 'RHSBL(rhsbl.test)'
	settle
	assert_dumped dnskill 1
	assert_log 'event=summary client=127\.0\.0\.2 .*accepted=1 '
	assert_no_session_left
}

@test "resolver killed after the greeting, dns_error_action defer: 451 4.4.3 within timeout_dns, nothing delivered" {
	dns_fault_proxy "dns_error_action defer"
	fault_message "$TMP/m" dnsdefer
	local t
	timed run smtp -t 20 -b 127.0.0.2 'EHLO good.test\r\n' =1 \
		"$(kill_dns_item)" 'MAIL FROM:<a@test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 \
		'DATA\r\n' =1 'QUIT\r\n'
	t=$((T1 - T0))
	assert_closed
	assert_codes "220 250 250 451 554 221"
	assert_reply '451 4\.4\.3 Temporary DNS failure, try again later'
	((t < 4500)) || fail "the session took $t ms with timeout_dns 2"
	assert_score 127.0.0.2 tempfail '*' 'DNSERR(rhsbl.test)=0'
	settle
	[[ $(sink_count) == 0 ]] || fail "delivered"
	assert_no_session_left
}

@test "resolver killed while several sessions are open: each RCPT is decided within timeout_dns, fail-open, each message delivered once" {
	dns_fault_proxy
	local i pids=() t0 t
	# four clients stop after EHLO until the resolver is gone
	for i in 1 2 3 4; do
		fault_message "$TMP/m$i" dnspar$i
		smtp -t 20 -b 127.0.0.2 'EHLO good.test\r\n' =1 \
			"!while [ ! -e '$TMP/go' ]; do sleep 0.02; done" \
			'MAIL FROM:<a@test>\r\n' =1 'RCPT TO:<user@local.test>\r\n' =1 \
			'DATA\r\n' =1 "<$TMP/m$i" '.\r\n' =1 'QUIT\r\n' >"$TMP/out$i" 2>&1 &
		pids+=($!)
	done
	for i in 1 2 3 4; do
		wait_until file_has "$TMP/out$i" '^250 ' || fail "session $i got no EHLO reply"
	done
	kill -9 "$DNSMASQ_PID"
	t0=$(now_ms)
	touch "$TMP/go"
	for i in 1 2 3 4; do
		wait "${pids[i - 1]}" || fail "session $i: rawsmtp status $?" "$(cat "$TMP/out$i")"
	done
	t=$(($(now_ms) - t0))
	((t < 4500)) || fail "the sessions took $t ms after the kill with timeout_dns 2"
	dns_dead || fail "dnsmasq still answers"
	settle
	for i in 1 2 3 4; do
		output=$(cat "$TMP/out$i")
		assert_codes "220 250 250 250 354 250 221"
		assert_dumped dnspar$i 1
	done
	[[ $(sink_count) == 4 ]] || fail "the backend has $(sink_count) messages"
	[[ $(grep -c 'event=score client=127\.0\.0\.2 .*result=accept .*DNSERR(rhsbl\.test)=0' "$TMP/smtpproxy.log") == 4 ]] ||
		fail "expected four fail-open score lines:" "$(grep event=score "$TMP/smtpproxy.log")"
	assert_no_session_left
}
