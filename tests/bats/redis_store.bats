#!/usr/bin/env bats
# redis_store: Redis as the shared store of two smtpproxy "hosts" (two
# instances on their own loopback ports: two xinetd, or two servers with
# -m server), with a real redis-server (Debian's, private, password from a
# file) and, in front, a real HAProxy: POP-before-SMTP logins written by
# popwatch -r, the per-client limits counted fleet-wide, failed AUTHs per
# client, and what happens when Redis is killed, stalled or refuses the
# password.
#
# Addresses: 127.0.0.1 is the balancer (the only proxy_clients entry) and
# the proxy's own; clients bind to 127.0.0.2 (in relay_clients for the
# HAProxy test), 127.0.0.3 and 127.0.0.4.  POP users are 192.0.2.7 (and
# 192.0.2.8 is not one): popwatch ignores loopback logins, so these come
# as a balancer's PROXY v1 header from 127.0.0.1.

load lib/common
load lib/auth
load lib/redis
load lib/haproxy

POPWATCH=${POPWATCH_BIN:-$ROOT/build/asan/popwatch}
PW_PID=

setup() {
	common_setup
	NO_RELAYCLIENT=1
	start_sink
	start_redis
}

teardown() {
	local rc=0
	[[ -z $PW_PID ]] || { kill -TERM "$PW_PID" 2>/dev/null; wait "$PW_PID" || rc=1; }
	PW_PID=
	stop_pid "$HA_PID"
	HA_PID=
	stop_host_b || rc=1
	common_teardown || rc=1
	stop_redis
	return $rc
}

# pw ARGS...: popwatch (ASan build; reports go to the test's san dir);
# exec, so that "pw ... &" leaves popwatch's own pid in $!
pw() {
	ASAN_OPTIONS="log_path=$TMP/san/asan:detect_leaks=1" \
		UBSAN_OPTIONS="log_path=$TMP/san/ubsan:print_stacktrace=1:halt_on_error=1" \
		exec "$POPWATCH" "$@"
}

# pop_hosts [lines]: host A and host B, pop_before_smtp redis:, behind
# the balancer 127.0.0.1 (PROXY v1)
pop_hosts() {
	local lines=()
	mapfile -t lines < <(redis_conf; balancer_conf)
	lines+=('pop_before_smtp redis:')
	start_proxy "${lines[@]}" "$@" && start_host_b "${lines[@]}" "$@"
}

# balancer_conf: the lines that take PROXY v1 headers from 127.0.0.1
balancer_conf() {
	printf '127.0.0.1 OK\n' >"$TMP/balancers.txt"
	mk -t networks "$TMP/balancers.txt" "$TMP/balancers.cdb" >/dev/null
	printf '%s\n' 'proxy_protocol v1' "proxy_clients cdb:$TMP/balancers.cdb"
}

# as ADDR: the PROXY v1 header of a client ADDR (a rawsmtp item)
as() {
	printf 'PROXY TCP4 %s 127.0.0.1 40000 25\\r\\n' "$1"
}

# relay_from ADDR: a relayed RCPT from ADDR (through PROXY_PORT); run
relay_from() {
	run smtp -G "$(as "$1")" =1 'EHLO c.test\r\n' =1 \
		'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 \
		'QUIT\r\n'
}

# login ADDR [popwatch options]: one POP login of ADDR in Redis, as
# Dovecot's script writes it
login() {
	local a=$1
	shift
	run env ASAN_OPTIONS="log_path=$TMP/san/asan:detect_leaks=1" "$POPWATCH" \
		-r "$TMP/smtpproxy.conf" "$@" -a "$a"
	[[ $status == 0 ]] || fail "popwatch -a: status $status" "$output"
}

key_gone() {
	[[ $(rcli EXISTS "$1") == 0 ]]
}

dovecot_login() {
	printf 'Jan  7 10:00:00 mx dovecot: pop3-login: Login: user=<%s>, method=PLAIN, rip=%s, lip=192.0.2.1, mpid=42, TLS, session=<x>\n' \
		alice "$1" >>"$TMP/mail.log"
}

# --------------------------------------------------------- POP-before-SMTP

@test "a login popwatch -r saw on host A lets the client relay through host B, until the TTL" {
	pop_hosts 'pop_window 60'
	: >"$TMP/mail.log"
	pw -f "$TMP/mail.log" -r "$TMP/smtpproxy.conf" 2>"$TMP/popwatch.err" 3>&- &
	PW_PID=$!
	wait_until grep -q '^popwatch: following .* redis=yes window=60 ' "$TMP/popwatch.err"
	relay_from 192.0.2.7
	assert_codes "220 250 250 554 221"
	dovecot_login 192.0.2.7
	wait_until grep -q '^popwatch: login ip=192.0.2.7 daemon=dovecot redis=ok ttl=60$' "$TMP/popwatch.err"
	local ttl
	ttl=$(rcli TTL smtpproxy:pop:192.0.2.7)
	((ttl > 0 && ttl <= 60)) || fail "TTL: $ttl"
	on_b relay_from 192.0.2.7
	assert_codes "220 250 250 250 221"
	relay_from 192.0.2.7
	assert_codes "220 250 250 250 221"
	# another address does not relay
	on_b relay_from 192.0.2.8
	assert_codes "220 250 250 554 221"
	# the login again with a window of 2 s (popwatch -w wins over
	# pop_window): Redis forgets it after its TTL, and it relays no more
	login 192.0.2.7 -w 2
	[[ $(rcli TTL smtpproxy:pop:192.0.2.7) -le 2 ]] || fail "TTL: $(rcli TTL smtpproxy:pop:192.0.2.7)"
	wait_until key_gone smtpproxy:pop:192.0.2.7
	on_b relay_from 192.0.2.7
	assert_codes "220 250 250 554 221"
	refute_log 'event=redis-error'
}

@test "popwatch -r: a connection Redis closed while idle is made again, and the login is not lost" {
	pop_hosts
	: >"$TMP/mail.log"
	pw -f "$TMP/mail.log" -r "$TMP/smtpproxy.conf" 2>"$TMP/popwatch.err" 3>&- &
	PW_PID=$!
	wait_until grep -q '^popwatch: following ' "$TMP/popwatch.err"
	dovecot_login 192.0.2.7
	wait_until grep -q '^popwatch: login ip=192.0.2.7 daemon=dovecot redis=ok ' "$TMP/popwatch.err"
	# Redis drops every other client (its timeout, a restart, a firewall)
	[[ $(rcli CLIENT KILL TYPE normal) -ge 1 ]] || fail "popwatch had no open connection"
	dovecot_login 192.0.2.9
	wait_until grep -q '^popwatch: login ip=192.0.2.9 daemon=dovecot redis=ok ' "$TMP/popwatch.err"
	[[ -n $(rcli GET smtpproxy:pop:192.0.2.9) ]] || fail "not in Redis"
	! grep -q 'not recorded' "$TMP/popwatch.err" || fail "$(cat "$TMP/popwatch.err")"
}

@test "UNIX socket: popwatch -a and the relay check over unix:/path" {
	stop_redis
	start_redis unix
	pop_hosts
	login 192.0.2.7
	[[ -n $(rcli GET smtpproxy:pop:192.0.2.7) ]] || fail "no key"
	on_b relay_from 192.0.2.7
	assert_codes "220 250 250 250 221"
	check_conf 0 "redis_server: $REDIS_SERVER: ok (PONG)"
	refute_log 'event=redis-error'
}

@test "-n reports Redis up, then down (connect refused), and a wrong password" {
	write_proxy_conf "$(redis_conf | head -1)" \
		"redis_password_file $TMP/redis/password" 'pop_before_smtp redis:'
	check_conf 0 "redis_server: 127.0.0.1:$REDIS_PORT: ok (PONG)"
	echo wrong-password >"$TMP/redis/wrong"
	write_proxy_conf "$(redis_conf | head -1)" \
		"redis_password_file $TMP/redis/wrong"
	check_conf 111 "redis_server: 127.0.0.1:$REDIS_PORT: auth: "
	stop_redis
	write_proxy_conf "$(redis_conf | head -1)" \
		"redis_password_file $TMP/redis/password"
	check_conf 111 "redis_server: 127.0.0.1:$REDIS_PORT: connect: Connection refused"
}

# conf_refused LINE TEXT: with LINE, smtpproxy -n exits 100 and prints TEXT
conf_refused() {
	write_conf 'backend 127.0.0.1:25' "$1"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 100 && $output == *"$2"* ]] || fail "status $status" "$output"
}

@test "-n: pop_before_smtp redis: needs redis_server; bad redis_server is file:line" {
	conf_refused 'pop_before_smtp redis:' "pop_before_smtp: redis: needs redis_server"
	conf_refused 'redis_server localhost' \
		"smtpproxy.conf:2: redis_server: 'localhost' is not host:port"
	# a name: every session would resolve it, unbounded by timeout_redis
	conf_refused 'redis_server localhost:6379' \
		"smtpproxy.conf:2: redis_server: 'localhost:6379': give an IP address (or unix:/path), not a name"
	write_conf 'backend 127.0.0.1:25' 'redis_server [::1]:6379'
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $output != *"redis_server: '"* ]] || fail "[::1]:6379 refused" "$output"
}

@test "wrong password: event=redis-error, the POP relay is 451 4.3.0" {
	local lines=()
	echo wrong-password >"$TMP/redis/wrong"
	mapfile -t lines < <(balancer_conf)
	start_proxy "redis_server $REDIS_SERVER" "redis_password_file $TMP/redis/wrong" \
		'timeout_redis 1000' 'pop_before_smtp redis:' "${lines[@]}"
	rcli SET smtpproxy:pop:192.0.2.7 "$(date +%s)" EX 60
	relay_from 192.0.2.7
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.3\.0 '
	assert_log 'event=redis-error server=127\.0\.0\.1:[0-9]+ what=auth reason=".*(WRONGPASS|invalid).*"'
}

@test "Redis down: local mail and authenticated relay go on; only a relay a login might allow is 451; MSA MAIL is 451, not 530" {
	local cf=()
	make_sasldb
	printf 'local.test\n' >"$TMP/local.txt"
	mk -t domains "$TMP/local.txt" "$TMP/local.cdb" >/dev/null
	mapfile -t cf < <(redis_conf; sasl_conf)
	cf+=('pop_before_smtp redis:' "local_domains cdb:$TMP/local.cdb"
		'auth_requires_tls no')
	start_proxy "${cf[@]}"
	stop_redis KILL
	run smtp -b 127.0.0.3 'EHLO c.test\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 451 221"
	assert_reply '451 4\.3\.0 Temporary lookup failure$'
	run smtp -b 127.0.0.3 'EHLO c.test\r\n' =1 "$(auth_plain alice "$ALICE_PW")" =1 \
		'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 235 250 250 221"
	# the same as an MSA
	stop_proxy
	start_proxy "${cf[@]}" 'msa yes'
	run smtp -b 127.0.0.3 'EHLO c.test\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 451 221"
	assert_reply '451 4\.3\.0 Temporary lookup failure$'
	run smtp -b 127.0.0.3 'EHLO c.test\r\n' =1 "$(auth_plain alice "$ALICE_PW")" =1 \
		'MAIL FROM:<s@test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 235 250 221"
	assert_log 'event=redis-error server=127\.0\.0\.1:[0-9]+ what=connect'
}

@test "a failed AUTH gives a count that has no lifetime one (INCR and EXPIRE in one step)" {
	local lines=() ttl
	make_sasldb
	mapfile -t lines < <(redis_conf; sasl_conf)
	start_proxy "${lines[@]}" 'auth_requires_tls no' 'client_auth_failure_limit 5' \
		'client_auth_failure_window 60'
	# as a crash between an INCR and its EXPIRE would leave it
	rcli SET smtpproxy:authfail:127.0.0.2 1 >/dev/null
	[[ $(rcli TTL smtpproxy:authfail:127.0.0.2) == -1 ]] || fail "set-up"
	run smtp -b 127.0.0.2 'EHLO c.test\r\n' =1 "$(auth_plain alice wrong)" =1 'QUIT\r\n'
	assert_codes "220 250 535 221"
	[[ $(rcli GET smtpproxy:authfail:127.0.0.2) == 2 ]] || fail "count: $(rcli GET smtpproxy:authfail:127.0.0.2)"
	ttl=$(rcli TTL smtpproxy:authfail:127.0.0.2)
	((ttl > 0 && ttl <= 60)) || fail "TTL $ttl"
}

# ------------------------------------------------------------- failures

@test "Redis killed mid-session: 451 4.3.0 (never 250, never 5xx), counters open; restarted: works again" {
	pop_hosts 'client_connection_count_limit 1'
	login 192.0.2.7
	hold a -G "$(as 192.0.2.7)" =1 'EHLO c.test\r\n' =1 "$(go a)" 'MAIL FROM:<s@test>\r\n' =1 \
		'RCPT TO:<r@remote.test>\r\n' =1 'QUIT\r\n'
	held a '^250 '
	stop_redis KILL
	release a
	assert_codes "220 250 250 451 221"
	assert_log 'event=redis-error server=127\.0\.0\.1:[0-9]+ what=GET reason='
	# no Redis: the limit cannot be counted, the client gets in (logged)
	relay_from 192.0.2.7
	assert_codes "220 250 250 451 221"
	on_b relay_from 192.0.2.7
	assert_codes "220 250 250 451 221"
	assert_log 'event=limit-skipped client=192\.0\.2\.7 '
	assert_log 'event=redis-error server=127\.0\.0\.1:[0-9]+ what=connect reason="Connection refused"'
	refute_log 'reply="5[0-9][0-9] '
	# back, empty (no persistence): the login is written again
	restart_redis
	login 192.0.2.7
	on_b relay_from 192.0.2.7
	assert_codes "220 250 250 250 221"
}

@test "Redis stalled (SIGSTOP): the session answers 451 within the bound, not hangs" {
	REDIS_TIMEOUT=200 pop_hosts 'client_connection_count_limit 5'
	login 192.0.2.7
	kill -STOP "$REDIS_PID"
	timed run timeout 10 swaks --server "127.0.0.1:$PROXY_PORT" \
		--local-interface 127.0.0.1 --from s@test --to r@remote.test \
		--timeout 8 --proxy-version 1 --proxy-family TCP4 --proxy-source 192.0.2.7 \
		--proxy-source-port 40000 --proxy-dest 127.0.0.1 \
		--proxy-dest-port 25
	[[ $status != 124 ]] || fail "swaks hung (timeout 10)" "$output"
	[[ $output == *"<** 451 4.3.0 "* ]] || fail "no 451 4.3.0" "$output"
	# the admission waited timeout_redis once (AUTH, its first command);
	# the relay check not again (the bound is wide: swaks itself is slow
	# to start on a busy machine)
	assert_took_ms 150 8000
	assert_log 'event=redis-error server=127\.0\.0\.1:[0-9]+ what=auth reason="timed out"'
	refute_log 'what=GET'
	kill -CONT "$REDIS_PID"
	on_b relay_from 192.0.2.7
	assert_codes "220 250 250 250 221"
}

# ------------------------------------------------------- fleet-wide limits

@test "a crashed session (kill -9) leaves no stuck count; an ended one frees its place at once" {
	ALLOW_NONZERO_EXIT=1
	pop_hosts 'client_connection_count_limit 1' 'timeout_session 10'
	run smtp -b 127.0.0.2 'QUIT\r\n'
	assert_codes "220 221"
	wait_sessions_done
	[[ $(rcli ZCARD smtpproxy:conn:127.0.0.2) == 0 ]] || fail "not released"
	hold a -b 127.0.0.2 'EHLO c.test\r\n' =1 "$(go a)" 'QUIT\r\n'
	held a '^250 '
	[[ $(rcli ZCARD smtpproxy:conn:127.0.0.2) == 1 ]] || fail "not counted"
	on_b run smtp -b 127.0.0.2 'QUIT\r\n'
	assert_codes "421"
	local kid now score
	if in_server_mode; then kid=$(server_busy_children); else kid=$(pgrep -P "$XINETD_PID"); fi
	[[ -n $kid ]] || fail "no session process"
	kill -9 $kid
	release a
	# the crashed session did not remove itself: counted until its score,
	# its start plus timeout_session, then pruned by the next admission
	now=$(date +%s)
	[[ $(rcli ZCARD smtpproxy:conn:127.0.0.2) == 1 ]] || fail "gone at once?"
	score=$(rcli ZRANGE smtpproxy:conn:127.0.0.2 0 -1 WITHSCORES | tail -n 1)
	((score > now && score <= now + 10)) || fail "score $score, now $now"
	WAIT_LIMIT=15 wait_until score_past smtpproxy:conn:127.0.0.2
	on_b run smtp -b 127.0.0.2 'QUIT\r\n'
	assert_codes "220 221"
	wait_sessions_done
	[[ $(rcli ZCARD smtpproxy:conn:127.0.0.2) == 0 ]] || fail "stuck: $(rcli ZRANGE smtpproxy:conn:127.0.0.2 0 -1 WITHSCORES)"
}

@test "a session that found Redis down after it was counted frees its place at its end" {
	REDIS_TIMEOUT=500 pop_hosts 'client_connection_count_limit 3'
	hold a -b 127.0.0.2 'EHLO c.test\r\n' =1 "$(go a)" 'MAIL FROM:<s@test>\r\n' =1 \
		'RCPT TO:<r@remote.test>\r\n' =1 "$(go b)" 'QUIT\r\n'
	held a '^250 '
	[[ $(rcli ZCARD smtpproxy:conn:127.0.0.2) == 1 ]] || fail "not counted"
	kill -STOP "$REDIS_PID"
	touch "$TMP/a.go"
	# the POP lookup waits timeout_redis: 451, and Redis is down for the
	# rest of the session
	held a '^451 4\.3\.0 '
	kill -CONT "$REDIS_PID"
	touch "$TMP/b.go"
	release a
	assert_codes "220 250 250 451 221"
	wait_sessions_done
	[[ $(rcli ZCARD smtpproxy:conn:127.0.0.2) == 0 ]] ||
		fail "its place is still taken: $(rcli ZRANGE smtpproxy:conn:127.0.0.2 0 -1 WITHSCORES)"
	assert_log 'event=redis-error server=127\.0\.0\.1:[0-9]+ what=GET reason='
}

# score_past KEY: no member of the sorted set KEY counts any more
score_past() {
	[[ $(rcli ZCOUNT "$1" "($(date +%s)" +inf) == 0 ]]
}

# before_second S: the clock is before second S of its minute
before_second() {
	(($(date +%-S) < $1))
}

@test "client_connection_rate_limit 3 holds across both hosts" {
	pop_hosts 'client_connection_rate_limit 3'
	# one calendar minute: do not start in its last 15 seconds
	WAIT_LIMIT=16 wait_until before_second 45
	run smtp -b 127.0.0.3 'QUIT\r\n'
	assert_codes "220 221"
	on_b run smtp -b 127.0.0.3 'QUIT\r\n'
	assert_codes "220 221"
	run smtp -b 127.0.0.3 'QUIT\r\n'
	assert_codes "220 221"
	on_b run smtp -b 127.0.0.3 'QUIT\r\n'
	assert_codes "421"
	assert_reply '421 4\.7\.0 Too many connections from 127\.0\.0\.3$'
	assert_log 'event=limit client=127\.0\.0\.3 key=127\.0\.0\.3 limit=client_connection_rate_limit$'
	run smtp -b 127.0.0.4 'QUIT\r\n'
	assert_codes "220 221"
}

# start_haproxy: HAProxy on 127.0.0.1, frontend HA_A -> host A with
# send-proxy, frontend HA_B -> host B with send-proxy-v2
start_haproxy() {
	haproxy_run -2 haproxy_cfg || return 1
	HA_A=$HA_PORT HA_B=$HA_PORT2
}

haproxy_cfg() {
	haproxy_defaults
	cat <<HACFG
frontend fa
	bind 127.0.0.1:$HA_PORT
	default_backend a
frontend fb
	bind 127.0.0.1:$HA_PORT2
	default_backend b
backend a
	server mxa 127.0.0.1:$PROXY_PORT send-proxy
backend b
	server mxb 127.0.0.1:$B_PORT send-proxy-v2
HACFG
}

@test "behind HAProxy (send-proxy, send-proxy-v2): XCLIENT, relay_clients and the count limit on the original client, across both hosts" {
	local lines=()
	printf '127.0.0.1 OK\n' >"$TMP/balancers.txt"
	mk -t networks "$TMP/balancers.txt" "$TMP/balancers.cdb"
	printf '127.0.0.2 OK\n' >"$TMP/nets.txt"
	mk -t networks "$TMP/nets.txt" "$TMP/nets.cdb"
	start_postfix
	mapfile -t lines < <(redis_conf)
	lines+=('proxy_protocol any' "proxy_clients cdb:$TMP/balancers.cdb"
		"relay_clients cdb:$TMP/nets.cdb" 'client_connection_count_limit 2')
	start_proxy "${lines[@]}"
	start_host_b "${lines[@]}"
	start_haproxy
	# Postfix sees the original client of each host
	run swaks --server "127.0.0.1:$HA_B" --local-interface 127.0.0.2 \
		--helo client.example --from sender@test --to rcpt@remote.test \
		--body 'through the balancer' --timeout 15
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	QID=$(queue_id)
	pf_settle
	grep -Eq "postfix/smtpd\[[0-9]+\]: $QID: client=[^ ]*\[127\.0\.0\.2\]$" "$TMP/postfix.log" ||
		fail "Postfix did not see 127.0.0.2" "$(grep "$QID" "$TMP/postfix.log")"
	# relay_clients: 127.0.0.2 relays, 127.0.0.4 does not
	run "$RAWSMTP" -b 127.0.0.4 127.0.0.1 "$HA_A" 'EHLO c\r\n' =1 \
		'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 554 221"
	# two sessions of 127.0.0.2 at once, one per host: the third is refused
	PROXY_PORT=$HA_A hold a -b 127.0.0.2 'EHLO a.test\r\n' =1 "$(go a)" 'QUIT\r\n'
	PROXY_PORT=$HA_B hold b -b 127.0.0.2 'EHLO b.test\r\n' =1 "$(go b)" 'QUIT\r\n'
	held a '^250 ' && held b '^250 '
	run "$RAWSMTP" -b 127.0.0.2 127.0.0.1 "$HA_A" 'QUIT\r\n'
	assert_codes "421"
	assert_reply '421 4\.7\.0 Too many connections from 127\.0\.0\.2$'
	run "$RAWSMTP" -b 127.0.0.2 127.0.0.1 "$HA_B" 'QUIT\r\n'
	assert_codes "421"
	assert_log 'event=limit client=127\.0\.0\.2 key=127\.0\.0\.2 limit=client_connection_count_limit$'
	# another client, and the balancer itself, are not counted with it
	run "$RAWSMTP" -b 127.0.0.4 127.0.0.1 "$HA_B" 'QUIT\r\n'
	assert_codes "220 221"
	release a
	assert_codes "220 250 221"
	wait_until admitted_ha 127.0.0.2
	release b
	assert_codes "220 250 221"
	refute_log 'event=redis-error'
}

admitted_ha() {
	run "$RAWSMTP" -b "$1" 127.0.0.1 "$HA_B" 'QUIT\r\n'
	[[ $(reply_codes) == "220 221" ]]
}

@test "client_auth_failure_limit 2: failed AUTHs on A and B; the next AUTH is 421 before the password is checked" {
	local lines=()
	make_sasldb
	mapfile -t lines < <(redis_conf; sasl_conf)
	lines+=('auth_requires_tls no' 'max_auth_failures 10'
		'client_auth_failure_limit 2' 'client_auth_failure_window 60')
	start_proxy "${lines[@]}"
	start_host_b "${lines[@]}"
	run smtp -b 127.0.0.2 'EHLO c.test\r\n' =1 "$(auth_plain alice wrong)" =1 'QUIT\r\n'
	assert_codes "220 250 535 221"
	on_b run smtp -b 127.0.0.2 'EHLO c.test\r\n' =1 "$(auth_plain alice wrong)" =1 'QUIT\r\n'
	assert_codes "220 250 535 221"
	[[ $(rcli GET smtpproxy:authfail:127.0.0.2) == 2 ]] || fail "count: $(rcli GET smtpproxy:authfail:127.0.0.2)"
	ttl=$(rcli TTL smtpproxy:authfail:127.0.0.2)
	((ttl > 0 && ttl <= 60)) || fail "TTL $ttl"
	run smtp -b 127.0.0.2 'EHLO c.test\r\n' =1 "$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n'
	assert_codes "220 250 421"
	assert_reply '421 4\.7\.0 proxy\.test Error: too many authentication failures$'
	assert_closed
	assert_log 'event=limit client=127\.0\.0\.2 key=127\.0\.0\.2 limit=client_auth_failure_limit$'
	# the password was not even tried: no auth event for that session
	refute_log 'event=auth client=127\.0\.0\.2 '
	on_b run smtp -b 127.0.0.3 'EHLO c.test\r\n' =1 "$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n'
	assert_codes "220 250 235 221"
}

@test "-T -d says what Redis lookups a session makes" {
	write_conf "backend $BACKEND" "redis_server $REDIS_SERVER" \
		"redis_password_file $TMP/redis/password" 'pop_before_smtp redis:' \
		'client_auth_failure_limit 3'
	run bash -c "printf 'QUIT\n' | RELAYCLIENT= \"$SMTPPROXY_BIN\" -d -T '[192.0.2.1]' -f '$TMP/smtpproxy.conf' 2>&1"
	[[ $output == *"redis: at connect: EVAL on smtpproxy:conn:<client>"* ]] || fail "$output"
	[[ $output == *"redis: at the first RCPT: GET smtpproxy:pop:<client>"* ]] || fail "$output"
	[[ $output == *"redis: at AUTH: GET smtpproxy:authfail:<client> (limit 3"* ]] || fail "$output"
}

# ------------------------------------------------------------ greylisting

# grey_hosts [lines]: host A and host B greylisting in Redis (delay 2 s,
# window 60 s), local.test local; clients connect directly (no balancer)
grey_hosts() {
	local lines=()
	printf 'local.test\n' >"$TMP/local.txt"
	mk -t domains "$TMP/local.txt" "$TMP/local.cdb" >/dev/null
	mapfile -t lines < <(redis_conf)
	lines+=("local_domains cdb:$TMP/local.cdb" 'greylist yes'
		'greylist_db redis:' 'greylist_delay 2' 'greylist_retry_window 60')
	start_proxy "${lines[@]}" "$@" && start_host_b "${lines[@]}" "$@"
}

# grey_try ADDR FROM [DATA]: one session from ADDR to user@local.test
# (with DATA: and a message); run
grey_try() {
	local items=('EHLO c.test\r\n' =1 "MAIL FROM:<$2>\\r\\n" =1
		'RCPT TO:<user@local.test>\r\n' =1)
	[[ -z ${3:-} ]] || items+=('DATA\r\n' =1 'Subject: g\r\n\r\nbody\r\n.\r\n' =1)
	run smtp -t 30 -b "$1" "${items[@]}" 'QUIT\r\n'
}

# grey_key NAME: the value of smtpproxy:grey:NAME
grey_key() {
	rcli GET "smtpproxy:grey:$1"
}

wait_clock() {
	while (($(date +%s) < $1)); do
		sleep 0.1
	done
}

@test "greylist_db redis: a first try on host A, the retry through host B passes after the delay; keys expire" {
	grey_hosts
	check_conf 0 "greylist_db: redis: ok (Redis, keys smtpproxy:grey:*)"
	grey_try 127.0.7.1 s@mail.test
	assert_codes "220 250 250 451 221"
	assert_reply '451 4\.7\.1 Greylisted, please try again in 2 seconds$'
	local rec first ttl
	rec=$(grey_key 't 127.0.7.0/24 s@mail.test user@local.test')
	[[ $rec =~ ^1\ ([0-9]+)\ [0-9]+\ 0\ 0$ ]] || fail "triplet record: '$rec'"
	first=${BASH_REMATCH[1]}
	ttl=$(rcli TTL 'smtpproxy:grey:t 127.0.7.0/24 s@mail.test user@local.test')
	((ttl > 0 && ttl <= 61)) || fail "a first try lives the retry window: TTL $ttl"
	# too early through B (another address of the same /24): 451 waiting
	on_b grey_try 127.0.7.2 s@mail.test
	assert_codes "220 250 250 451 221"
	assert_log 'event=greylist client=127\.0\.7\.2 triplet="127\.0\.7\.0/24 s@mail\.test user@local\.test" state=waiting wait=[12]$'
	wait_clock $((first + 2))
	on_b grey_try 127.0.7.2 s@mail.test data
	assert_codes "220 250 250 250 354 250 221"
	settle
	[[ $(sink_count) == 1 ]] || fail "the sink got $(sink_count) messages"
	assert_log 'state=passed-now$'
	rec=$(grey_key 't 127.0.7.0/24 s@mail.test user@local.test')
	[[ $rec =~ ^1\ $first\ [0-9]+\ [1-9][0-9]*\ 0$ ]] || fail "passed record: '$rec'"
	[[ $(grey_key 'c 127.0.7.0/24') =~ ^1\ [0-9]+\ [0-9]+\ 0\ 1$ ]] ||
		fail "client record: '$(grey_key 'c 127.0.7.0/24')'"
	# a passed triplet lives greylist_expire (35 days)
	ttl=$(rcli TTL 'smtpproxy:grey:t 127.0.7.0/24 s@mail.test user@local.test')
	((ttl > 34 * 86400 && ttl <= 35 * 86400 + 1)) || fail "passed TTL $ttl"
	# and A knows it at once
	grey_try 127.0.7.1 s@mail.test
	assert_codes "220 250 250 250 221"
	assert_log 'event=greylist client=127\.0\.7\.1 triplet="[^"]*" state=passed$'
	refute_log 'event=(redis|greylist)-error'
}

# redis_waiting N: N sessions have sent Redis a command it has not read
# (the server is stopped)
redis_waiting() {
	(($(ss -Htn state established "( sport = :$REDIS_PORT )" |
		awk '$1 > 0' | wc -l) >= $1))
}

@test "greylist_db redis: 30 retries at once over both hosts: each passes once, the client's count is exact" {
	# Redis is stopped while the 30 sessions connect, so that they all
	# read and write the client's record at the same moments
	REDIS_TIMEOUT=20000 grey_hosts 'greylist_auto_whitelist 0' \
		'client_connection_count_limit 0'
	local i p pids=()
	for ((i = 0; i < 30; i++)); do
		grey_try 127.0.8.1 "s$i@mail.test"
		[[ $output == *"451 4.7.1"* ]] || fail "first try $i: $output"
	done
	wait_clock $(($(date +%s) + 2))
	kill -STOP "$REDIS_PID"
	for ((i = 0; i < 30; i++)); do
		if ((i % 2)); then p=$B_PORT; else p=$PROXY_PORT; fi
		PROXY_PORT=$p smtp -t 30 -b 127.0.8.2 'EHLO c.test\r\n' =1 \
			"MAIL FROM:<s$i@mail.test>\\r\\n" =1 'RCPT TO:<user@local.test>\r\n' =1 \
			'QUIT\r\n' >"$TMP/retry.$i" &
		pids+=($!)
	done
	wait_until redis_waiting 30 || { kill -CONT "$REDIS_PID"; fail "not 30 sessions at Redis"; }
	kill -CONT "$REDIS_PID"
	for i in "${pids[@]}"; do wait "$i"; done
	[[ $(grep -l '^250 ' "$TMP"/retry.* | xargs grep -l '^221 ' | wc -l) == 30 ]] ||
		fail "not 30 retries passed" "$(cat "$TMP"/retry.*)"
	[[ $(grep -c 'state=passed-now$' "$TMP/smtpproxy.log") == 30 ]] ||
		fail "not 30 passed-now" "$(grep 'event=greylist' "$TMP/smtpproxy.log")"
	# every pass counted for the client, none lost between the hosts
	[[ $(grey_key 'c 127.0.8.0/24') =~ ^1\ [0-9]+\ [0-9]+\ 0\ 30$ ]] ||
		fail "client record: '$(grey_key 'c 127.0.8.0/24')'"
	refute_log 'event=(redis|greylist)-error'
}

@test "greylist_db redis: Redis down, or a bad record: greylisting fails open, logged; back: greylists again" {
	grey_hosts
	stop_redis KILL
	grey_try 127.0.9.1 s@mail.test data
	assert_codes "220 250 250 250 354 250 221"
	settle
	[[ $(sink_count) == 1 ]] || fail "the sink got $(sink_count) messages"
	assert_log 'event=redis-error server=127\.0\.0\.1:[0-9]+ what=connect'
	assert_log 'event=greylist-error store=redis op=get reason="[^"]+" key="c 127\.0\.9\.0/24"'
	assert_log 'event=greylist client=127\.0\.9\.1 triplet="[^"]*" state=error$'
	restart_redis
	on_b grey_try 127.0.9.1 s@mail.test
	assert_codes "220 250 250 451 221"
	# a record that is not one: logged, written anew, greylisted
	rcli SET 'smtpproxy:grey:t 127.0.9.0/24 t@mail.test user@local.test' garbage >/dev/null
	grey_try 127.0.9.1 t@mail.test
	assert_codes "220 250 250 451 221"
	assert_log 'event=greylist-error store=redis op=get reason="bad record, written anew" key="t 127\.0\.9\.0/24 t@mail\.test user@local\.test"'
	[[ $(grey_key 't 127.0.9.0/24 t@mail.test user@local.test') =~ ^1\ [0-9]+\ [0-9]+\ 0\ 0$ ]] ||
		fail "not rewritten: '$(grey_key 't 127.0.9.0/24 t@mail.test user@local.test')'"
}

@test "greylist_db redis: the longest prefix and a triplet of 456 bytes still fit a key" {
	local prefix long_dom from rcpt
	prefix=$(printf 'p%.0s' {1..63}):
	long_dom=$(printf 'd%.0s' {1..60})
	long_dom=$long_dom.$long_dom.$long_dom.test
	from=s@$(printf 'e%.0s' {1..60}).$(printf 'e%.0s' {1..60}).$(printf 'e%.0s' {1..60}).$(printf 'e%.0s' {1..60}).test
	rcpt=u@$long_dom
	printf '%s\n' "$long_dom" >"$TMP/local.txt"
	mk -t domains "$TMP/local.txt" "$TMP/local.cdb" >/dev/null
	local lines=()
	mapfile -t lines < <(redis_conf)
	start_proxy "${lines[@]}" "local_domains cdb:$TMP/local.cdb" 'greylist yes' \
		'greylist_db redis:' "redis_prefix $prefix"
	run smtp -b 127.0.10.1 'EHLO c.test\r\n' =1 "MAIL FROM:<$from>\\r\\n" =1 \
		"RCPT TO:<$rcpt>\\r\\n" =1 'QUIT\r\n'
	assert_codes "220 250 250 451 221"
	[[ $(rcli EXISTS "${prefix}grey:t 127.0.10.0/24 $from $rcpt") == 1 ]] ||
		fail "no key" "$(rcli --scan)"
	refute_log 'event=(redis|greylist)-error'
}

@test "greylist_db redis: needs redis_server (file:line); -T -d names the Redis keys" {
	write_conf "backend $BACKEND" 'greylist yes' 'greylist_db redis:'
	check_conf 100 "greylist_db: redis: needs redis_server"
	write_conf "backend $BACKEND" 'greylist yes' 'greylist_db relative.lmdb'
	check_conf 100 "$TMP/smtpproxy.conf:3: greylist_db: 'relative.lmdb' is neither redis: nor an absolute path"
	write_conf "backend $BACKEND" "redis_server $REDIS_SERVER" \
		"redis_password_file $TMP/redis/password" 'greylist yes' 'greylist_db redis:'
	run bash -c "printf 'QUIT\n' | RELAYCLIENT= \"$SMTPPROXY_BIN\" -d -T '[192.0.2.1]' -f '$TMP/smtpproxy.conf' 2>&1"
	[[ $output == *"redis: at RCPT (greylisting): GET smtpproxy:grey:c <network> and smtpproxy:grey:t <network> <from> <rcpt>"* ]] ||
		fail "$output"
}
