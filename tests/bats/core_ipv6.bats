#!/usr/bin/env bats
# core_ipv6: IPv6 clients and backends. The client connects over ::1; a
# v4-mapped address is reported as plain IPv4; the real Postfix learns the
# IPv6 client through XCLIENT.

load lib/common

setup() {
	common_setup
	require_ipv6_lo
}

# require_ipv6_lo: ::1 must be up on lo (enable IPv6 on lo if it is off)
require_ipv6_lo() {
	if ! ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
		sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 2>/dev/null || true
		ip -6 addr add ::1/128 dev lo 2>/dev/null || true
	fi
	ip -6 addr show dev lo | grep -q 'inet6 ::1/128' || fail "no ::1 on lo"
}

TRANSACTION=('EHLO v6.client.test\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1
	'DATA\r\n' =1 'Subject: v6\r\n\r\nover IPv6\r\n.\r\n' =1 'QUIT\r\n')

@test "IPv6 client on [::1]: the proxy sees and logs ::1" {
	start_sink
	PROXY_BIND=::1 start_proxy
	run "$RAWSMTP" ::1 "$PROXY_PORT" "${TRANSACTION[@]}"
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	settle
	[[ $(sink_count) == 1 ]] || fail "sink holds $(sink_count) messages"
	assert_log 'event=summary client=::1 helo=v6\.client\.test .*rcpts=1 accepted=1 .*result=(ok|quit)'
	grep -q 'START: smtpproxy-test' "$TMP/xinetd.log"
}

@test "IPv6 refusal lines carry the IPv6 address" {
	start_sink
	PROXY_BIND=::1 start_proxy
	run "$RAWSMTP" ::1 "$PROXY_PORT" 'EHLO c\r\n' =1 'FROB\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 502 221"
	assert_log 'event=reject client=::1 .*reply="502 5\.5\.2'
}

@test "dual-stack listener: an IPv4 client is logged as IPv4, not v4-mapped" {
	start_sink
	PROXY_BIND=:: start_proxy
	run "$RAWSMTP" 127.0.0.1 "$PROXY_PORT" "${TRANSACTION[@]}"
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	assert_log 'event=summary client=127\.0\.0\.1 '
	refute_log 'ffff'
	run "$RAWSMTP" ::1 "$PROXY_PORT" 'QUIT\r\n'
	assert_closed
	assert_log 'event=summary client=::1 '
}

@test "backend at [::1]:port" {
	local port
	port=$(free_port)
	mkdir -m 1777 -p "$TMP/sink"
	smtp-sink -u nobody -d "$TMP/sink/msg." "[::1]:$port" 64 >"$TMP/sink.out" 2>&1 &
	SINK_PID=$!
	SINK_PORT=$port
	wait_port ::1 "$port"
	BACKEND="[::1]:$port"
	start_proxy
	run smtp "${TRANSACTION[@]}"
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	settle
	[[ $(sink_count) == 1 ]] || fail "sink holds $(sink_count) messages"
	grep -q '^X-Client-Addr: ipv6:::1' "$(sink_files)" || fail "not over IPv6:" "$(head -2 "$(sink_files)")"
}

@test "IPv6 client, real Postfix: XCLIENT passes IPV6:::1" {
	start_postfix
	PROXY_BIND=::1 start_proxy
	run "$RAWSMTP" ::1 "$PROXY_PORT" "${TRANSACTION[@]}"
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	local qid
	qid=$(queue_id)
	[[ -n $qid ]] || fail "no queue id" "$output"
	pf_settle
	pf_wait_count 1
	grep -Eq "$qid: client=[^ ]*\[::1\]$" "$TMP/postfix.log" ||
		fail "Postfix log:" "$(grep "$qid" "$TMP/postfix.log")"
	grep -q '^Received: from v6\.client\.test ([^)]*\[IPv6:::1\])' "$PF_DIR/mail/$qid.eml" ||
		fail "Received:" "$(head -2 "$PF_DIR/mail/$qid.eml")"
	assert_log 'event=summary client=::1 '
}
