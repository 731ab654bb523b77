#!/usr/bin/env bats
# core_session: the SMTP dialogue without a message, and the command line
# (-V, -T, -n, -o).

load lib/common

version() {
	proxy_env "$SMTPPROXY_BIN" -V | sed -n 's/^smtpproxy \([0-9][0-9.]*\)$/\1/p'
}

@test "greeting: default is '220 <hostname> ESMTP'" {
	start_sink
	start_proxy
	run smtp 'QUIT\r\n'
	assert_closed
	[[ ${lines[0]} == $'220 proxy.test ESMTP\r' ]] || fail "greeting: ${lines[0]}"
	assert_codes "220 221"
}

@test "greeting: hdr220 metatags %H %V %T %% are expanded" {
	local ver
	require_proxy
	ver=$(version)
	[[ -n $ver ]] || fail "no version from -V"
	start_sink
	start_proxy 'greeting %H says hi, version %V, at %T, 100%% sure'
	run smtp 'QUIT\r\n'
	assert_closed
	local g=${lines[0]%$'\r'}
	[[ $g =~ ^220\ proxy\.test\ says\ hi,\ version\ ${ver//./\\.},\ at\ (.*),\ 100%\ sure$ ]] ||
		fail "greeting: $g (version $ver)"
	local when=${BASH_REMATCH[1]}
	# %T is a date with the time of day and this year
	[[ $when =~ [0-9]{2}:[0-9]{2}(:[0-9]{2})? ]] || fail "no time in %T: $g"
	[[ $when == *"$(date -u +%Y)"* || $when == *"$(date +%Y)"* ]] ||
		fail "no year in %T: $g"
	[[ $g != *%* || $g == *"100% sure" ]] || fail "stray %: $g"
}

@test "EHLO: hostname, PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES and nothing else" {
	start_sink
	start_proxy 'backend_extensions none'
	run smtp 'EHLO client.test\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 221"
	local ehlo
	ehlo=$(plain | grep -E '^250[- ]' | sed -E 's/^250[- ]//' | paste -sd'|' -)
	[[ $ehlo == "proxy.test"* ]] || fail "EHLO first line: $ehlo"
	[[ "|$ehlo|" == *"|PIPELINING|"* ]] || fail "no PIPELINING: $ehlo"
	[[ "|$ehlo|" == *"|SIZE 10240000|"* ]] || fail "no SIZE 10240000 (default): $ehlo"
	[[ "|$ehlo|" == *"|8BITMIME|"* ]] || fail "no 8BITMIME: $ehlo"
	[[ "|$ehlo|" == *"|ENHANCEDSTATUSCODES|"* ]] || fail "no ENHANCEDSTATUSCODES: $ehlo"
	# what the backend (smtp-sink) offers must not leak through
	local kw
	for kw in DSN SMTPUTF8 XCLIENT XFORWARD CHUNKING BINARYMIME AUTH ETRN VRFY; do
		[[ "|$ehlo" != *"|$kw"* ]] || fail "EHLO advertises $kw: $ehlo"
	done
}

@test "EHLO: DSN and SMTPUTF8 only with backend_extensions; SIZE follows max_message_size" {
	start_sink
	start_proxy 'backend_extensions dsn,smtputf8' 'max_message_size 123456'
	run smtp 'EHLO client.test\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_reply '250[- ]DSN$'
	assert_reply '250[- ]SMTPUTF8$'
	assert_reply '250[- ]SIZE 123456$'
	refute_reply '250[- ]SIZE 10240000'
}

@test "EHLO: max_message_size 0 (unlimited) advertises SIZE or SIZE 0 (RFC 1870: no fixed maximum)" {
	start_sink
	start_proxy 'max_message_size 0'
	run smtp 'EHLO client.test\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_reply '250[- ]SIZE( 0)?$'
	assert_codes "220 250 221"
}

@test "HELO: one line, 250 with the hostname" {
	start_sink
	start_proxy
	run smtp 'HELO client.test\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 221"
	assert_reply_count 1 '250'
	assert_reply '250 proxy\.test'
	refute_reply '250[- ]PIPELINING'
}

@test "HELP: 214 reply made of the configured help lines" {
	start_sink
	start_proxy 'help See https://example.test/mail for help.' 'help Contact postmaster@example.test.'
	run smtp 'HELP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 214 221"
	assert_reply '214-(2\.0\.0 )?See https://example\.test/mail for help\.$'
	assert_reply '214 (2\.0\.0 )?Contact postmaster@example\.test\.$'
}

@test "VRFY and EXPN: 502 5.5.1 by default" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'VRFY root\r\n' =1 'EXPN staff\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 502 502 221"
	assert_reply_count 2 '502 5\.5\.1'
}

@test "VRFY and EXPN: 252 2.5.0 when enabled and the HELO style has no v/e flag" {
	start_sink
	start_proxy 'vrfy yes' 'expn yes' 'helo_default R'
	run smtp 'EHLO c\r\n' =1 'VRFY root\r\n' =1 'EXPN staff\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 252 252 221"
	assert_reply_count 2 '252 2\.5\.0'
}

@test "VRFY and EXPN: enabled, with the v/e flags of the default style: the backend answers" {
	start_sink
	start_proxy 'vrfy yes' 'expn yes'
	run smtp 'EHLO c\r\n' =1 'VRFY root\r\n' =1 'EXPN staff\r\n' =1 \
		'MAIL FROM:<s@test>\r\n' =1 'VRFY root\r\n' =1 'QUIT\r\n'
	assert_closed
	# smtp-sink answers VRFY with 250 and knows no EXPN (500); within a
	# transaction the proxy answers itself
	assert_codes "220 250 250 500 250 252 221"
	assert_reply '500 5\.5\.1 Error: unknown command'
	assert_reply '252 2\.5\.0'
}

@test "NOOP, RSET and QUIT: 250 2.0.0, 250 2.0.0, 221 2.0.0, then the summary line" {
	start_sink
	start_proxy
	run smtp 'EHLO client.test\r\n' =1 'NOOP\r\n' =1 'RSET\r\n' =1 'noop\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 250 221"
	assert_reply_count 3 '250 2\.0\.0'
	assert_reply '221 2\.0\.0'
	assert_log 'sid=[^ ]+ event=summary client=127\.0\.0\.1 helo=client\.test .*rcpts=0 '
	assert_log 'event=summary .*result=(ok|quit) .*duration=[0-9]'
}

@test "MAIL/RCPT/DATA out of order: 503 5.5.1" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 \
		'MAIL FROM:<s@test>\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'DATA\r\n' =1 'QUIT\r\n'
	assert_closed
	# DATA without any RCPT: 503 or 554 "no valid recipients" (RFC 5321 3.3)
	[[ $(reply_codes) =~ ^220\ 250\ 503\ 503\ 250\ 503\ (503|554)\ 221$ ]] ||
		fail "codes: $(reply_codes)" "$output"
	assert_reply_count 3 '503 5\.5\.1'
	assert_reply '(503|554) 5\.5\.1'

	assert_log 'event=reject .*reply="503 5\.5\.1'
}

@test "MAIL/RCPT syntax errors: 501 5.5.4; unknown parameter: 555 5.5.4" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test\r\n' =1 'MAIL TO:<s@test>\r\n' =1 \
		'MAIL FROM:<s@test> FOO=bar\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 \
		'RCPT TO:\r\n' =1 'RCPT TO:<r@test> NOTIFY-ME=1\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 501 501 555 250 501 555 221"
	# 5.5.4 (syntax), or the address-specific 5.1.7 / 5.1.3 of RFC 3463
	assert_reply_count 3 '501 5\.(5\.4|1\.7|1\.3) '
	assert_reply_count 2 '555 5\.5\.4'
}

@test "unknown command: 502 5.5.2 and a reject log line; the session goes on" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'FROB nicate\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 502 250 221"
	assert_reply '502 5\.5\.2'
	assert_log 'sid=[^ ]+ event=reject client=127\.0\.0\.1 .*reply="502 5\.5\.2'
}

@test "XCLIENT, XFORWARD, BDAT, ETRN, TURN from the client: 502 5.5.1" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'XCLIENT ADDR=10.9.8.7\r\n' =1 'XFORWARD ADDR=10.9.8.7\r\n' =1 \
		'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'BDAT 5 LAST\r\n' =1 \
		'ETRN example.test\r\n' =1 'TURN\r\n' =1 'RSET\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 502 502 250 250 502 502 502 250 221"
	assert_reply_count 5 '502 5\.5\.1'
	# the client could not pass itself off as 10.9.8.7
	assert_log 'event=summary client=127\.0\.0\.1 '
	refute_log '10\.9\.8\.7'
}

@test "-V prints 'smtpproxy X.Y.Z' and exits 0" {
	require_proxy
	run proxy_env "$SMTPPROXY_BIN" -V
	[[ $status == 0 ]] || fail "status $status" "$output"
	[[ $output =~ ^smtpproxy\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "output: $output"
}

@test "-T: SMTP on stdin/stdout as if from the given address" {
	start_sink
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" "hostname proxy.test"
	printf 'EHLO client.test\r\nMAIL FROM:<s@test>\r\nRCPT TO:<r@test>\r\nDATA\r\nSubject: t\r\n\r\ntest mode\r\n.\r\nQUIT\r\n' >"$TMP/in"
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -T '[192.0.2.7]' <"$TMP/in"
	[[ $status == 0 ]] || fail "status $status" "$output"
	assert_codes "220 250 250 250 354 250 221"
	wait_backend_idle
	[[ $(sink_count) == 1 ]] || fail "sink has $(sink_count) messages"
	grep -qx 'test mode' "$(sink_files)" || fail "message body not delivered"
	assert_log 'event=summary client=192\.0\.2\.7 helo=client\.test .*from=<s@test> rcpts=1 accepted=1 score=[-0-9.]+ result=(ok|quit)'
}

@test "-T: an IPv6 literal is the client address" {
	start_sink
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log"
	printf 'HELO v6.test\r\nQUIT\r\n' >"$TMP/in"
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -T '[2001:db8::7]' <"$TMP/in"
	[[ $status == 0 ]] || fail "status $status" "$output"
	assert_codes "220 250 221"
	assert_log 'event=summary client=2001:db8::7 helo=v6\.test '
}

@test "-T: refused (exit 100) when fd 0 is a socket" {
	start_sink
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log"
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -T '[192.0.2.7]' \
		0<>"/dev/tcp/127.0.0.1/$SINK_PORT"
	[[ $status == 100 ]] || fail "status $status, expected 100" "$output"
	[[ $output != *"220 proxy"* ]] || fail "it greeted: $output"
}

@test "-T: a malformed address is a usage error (exit 100)" {
	start_sink
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log"
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -T '192.0.2.300' </dev/null
	[[ $status == 100 ]] || fail "status $status, expected 100" "$output"
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -T '[not-an-address]' </dev/null
	[[ $status == 100 ]] || fail "status $status, expected 100" "$output"
}

@test "-o key=value overrides the file" {
	start_sink
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" "hostname file.test"
	printf 'QUIT\r\n' >"$TMP/in"
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -o hostname=other.test -T '[192.0.2.7]' <"$TMP/in"
	[[ $status == 0 ]] || fail "status $status" "$output"
	[[ ${lines[0]} == $'220 other.test ESMTP\r' ]] || fail "greeting: ${lines[0]}"
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -o no_such_key=1 -n
	[[ $status == 100 ]] || fail "unknown -o key: status $status" "$output"
}

@test "-n: good config and backend up: exit 0, backend greeting and EHLO shown" {
	start_sink
	write_conf "# a comment" "" "backend $BACKEND" "hostname proxy.test" "max_recipients 50"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 0 ]] || fail "status $status" "$output"
	[[ $output == *"backend: 220 smtp-sink ESMTP"* ]] || fail "no backend greeting: $output"
	[[ $output =~ backend:\ 250[-\ ]PIPELINING ]] || fail "no backend EHLO reply: $output"
}

@test "-n: backend unreachable: exit 111" {
	local port
	port=$(free_port)
	write_conf "backend 127.0.0.1:$port" "timeout_backend 5"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 111 ]] || fail "status $status, expected 111" "$output"
}

@test "-n: unknown key: exit 100 with file:line" {
	require_proxy
	write_conf "# comment" "hostname proxy.test" "no_such_key 1" "max_recipients 5"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 100 ]] || fail "status $status, expected 100" "$output"
	[[ $output == *"$TMP/smtpproxy.conf:3:"* ]] || fail "no file:line: $output"
}

@test "-n: bad values: exit 100 with file:line" {
	require_proxy
	local bad
	for bad in 'max_recipients abc' 'max_recipients -1' 'vrfy maybe' 'backend_protocol smtp2' \
		'backend_xclient sometimes' 'bare_newline fix' 'timeout_command 10x' \
		'backend' 'backend_extensions dsn,frob'; do
		write_conf "hostname proxy.test" "# two" "$bad"
		run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
		[[ $status == 100 ]] || fail "'$bad': status $status, expected 100" "$output"
		[[ $output == *"$TMP/smtpproxy.conf:3:"* ]] || fail "'$bad': no file:line: $output"
	done
}

@test "a config error under xinetd: no greeting, the client is not left hanging" {
	in_server_mode && skip "n/a: server mode has no per-connection exec; a config error stops the server at start (server_mode.bats)"
	start_sink
	start_proxy 'no_such_key 1'
	ALLOW_NONZERO_EXIT=1
	run smtp -t 5 'QUIT\r\n'
	[[ $status != 2 ]] || fail "client left hanging" "$output"
	refute_reply '2[0-9][0-9]'
	wait_sessions_done
	grep -q 'EXIT: .*status=100' "$TMP/xinetd.log" || fail "exit status not 100:" "$(cat "$TMP/xinetd.log")"
}

# ---------------------------------------------------------------------------
# backend_extensions auto (the default): DSN and SMTPUTF8 as the backend's
# last EHLO reply, kept in backend_ehlo_cache (issue 11, part 8)

CACHE_REL=state/backend-ehlo	# start_proxy's backend_ehlo_cache, under $TMP

# ehlo_keywords: the keywords of the EHLO reply in $output, "|KW|KW|"
ehlo_keywords() {
	printf '|%s|' "$(plain | sed -nE 's/^250[- ]([A-Z0-9-]+).*/\1/p' | paste -sd'|' -)"
}

# backend_conns PORT: the connections established to PORT, from the
# client's side
backend_conns() {
	ss -tnH state established "( dport = :$1 )" 2>/dev/null | wc -l
}

# mtime FILE: seconds since the epoch
mtime() {
	stat -c %Y "$1"
}

@test "auto, no backend_ehlo_cache yet: EHLO asks the backend first, offers its DSN (not SMTPUTF8) and writes the cache" {
	start_sink
	start_proxy
	local cache=$TMP/$CACHE_REL
	[[ ! -e $cache ]] || fail "cache there before any session"
	# only the backend's answer writes the cache: there before the client
	# hears the EHLO reply, the backend was asked at EHLO
	run smtp 'EHLO client.test\r\n' =1 "!cp $cache $TMP/at-ehlo 2>/dev/null" \
		'MAIL FROM:<s@test> RET=HDRS\r\n' =1 'RCPT TO:<r@test> NOTIFY=NEVER\r\n' =1 'DATA\r\n' =1 \
		'Subject: t\r\n\r\nlearnt\r\n.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 250 221"
	local kw
	kw=$(ehlo_keywords)
	[[ $kw == *"|DSN|"* ]] || fail "no DSN: $kw"
	[[ $kw != *"|SMTPUTF8|"* ]] || fail "SMTPUTF8 offered, smtp-sink has none: $kw"
	[[ -s $TMP/at-ehlo ]] || fail "no $cache when the client got the EHLO reply"
	[[ -f $cache ]] || fail "no $cache"
	grep -qx DSN "$cache" || fail "cache: $(cat "$cache")"
	grep -qx PIPELINING "$cache" || fail "cache: $(cat "$cache")"
	! grep -q SMTPUTF8 "$cache" || fail "cache: $(cat "$cache")"
	settle
	grep -q '^X-Rcpt-Args: <r@test> NOTIFY=NEVER$' "$(sink_files)" ||
		fail "DSN parameters did not reach the backend:" "$(grep '^X-' "$(sink_files)")"
}

@test "auto with a cache that lists SMTPUTF8: EHLO offers it without asking the backend (even one that is down)" {
	start_sink
	mkdir -m 1777 "$TMP/state"
	# what the cache says, not what smtp-sink offers (DSN, no SMTPUTF8)
	printf '%s\n' PIPELINING 'SIZE 10240000' SMTPUTF8 8BITMIME >"$TMP/$CACHE_REL"
	cp -p "$TMP/$CACHE_REL" "$TMP/cache.before"
	start_proxy
	run smtp 'EHLO client.test\r\n' =1 "!ss -tnH state established '( dport = :$SINK_PORT )' >$TMP/at-ehlo" 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 221"
	local kw
	kw=$(ehlo_keywords)
	[[ $kw == *"|SMTPUTF8|"* ]] || fail "no SMTPUTF8: $kw"
	[[ $kw != *"|DSN|"* ]] || fail "DSN offered, the cache has none: $kw"
	[[ ! -s $TMP/at-ehlo ]] || fail "the backend was contacted at EHLO:" "$(cat "$TMP/at-ehlo")"
	settle
	cmp "$TMP/cache.before" "$TMP/$CACHE_REL" || fail "cache rewritten: $(cat "$TMP/$CACHE_REL")"

	# the backend down: EHLO still answers, with SMTPUTF8; MAIL finds it down
	stop_pid "$SINK_PID"
	SINK_PID=
	run smtp 'EHLO client.test\r\n' =1 'MAIL FROM:<s@test> SMTPUTF8\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 451 221"
	assert_reply '250[- ]SMTPUTF8$'
	assert_reply '451 4\.4\.1 '
	wait_log_count 2 'event=summary'
	[[ $(grep -c 'event=backend-error' "$TMP/smtpproxy.log") == 1 ]] ||
		fail "backend tried other than at MAIL:" "$(grep event=backend-error "$TMP/smtpproxy.log")"
}

@test "auto: a stale or different cache is rewritten by the next session that talks to the backend, a fresh one is left" {
	start_sink
	start_proxy
	local cache=$TMP/$CACHE_REL tx=('MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 'Subject: t\r\n\r\nx\r\n.\r\n' =1)
	run smtp 'EHLO c\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 221"
	settle
	[[ -f $cache ]] || fail "no cache written"
	cp "$cache" "$TMP/learnt"

	# older than 300 s: rewritten
	touch -d '10 minutes ago' "$cache"
	local old
	old=$(mtime "$cache")
	run smtp 'EHLO c\r\n' =1 "${tx[@]}" 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	settle
	(($(mtime "$cache") > old + 300)) || fail "stale cache not rewritten: $(stat -c %y "$cache")"
	cmp "$TMP/learnt" "$cache" || fail "cache: $(cat "$cache")"

	# the same and recent: left as it is
	touch -d '2 minutes ago' "$cache"
	old=$(mtime "$cache")
	run smtp 'EHLO c\r\n' =1 "${tx[@]}" 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	settle
	[[ $(mtime "$cache") == "$old" ]] || fail "fresh cache rewritten: $(stat -c %y "$cache")"

	# recent but different from what the backend says: rewritten
	printf '%s\n' PIPELINING SMTPUTF8 >"$cache"
	run smtp 'EHLO c\r\n' =1 "${tx[@]}" 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	assert_reply '250[- ]SMTPUTF8$'
	settle
	cmp "$TMP/learnt" "$cache" || fail "cache not corrected: $(cat "$cache")"
	[[ $(sink_count) == 3 ]] || fail "sink holds $(sink_count) messages"
}

@test "auto: a backend_ehlo_cache that cannot be written does not break sessions" {
	start_sink
	start_proxy "backend_ehlo_cache $TMP/no-such-dir/backend-ehlo"
	local i
	for i in 1 2; do
		run smtp 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 'RCPT TO:<r@test>\r\n' =1 'DATA\r\n' =1 \
			"Subject: $i\\r\\n\\r\\nx\\r\\n.\\r\\n" =1 'QUIT\r\n'
		assert_closed
		assert_codes "220 250 250 250 354 250 221"
		# learnt from the backend at EHLO, each time
		assert_reply '250[- ]DSN$'
	done
	settle
	[[ $(sink_count) == 2 ]] || fail "sink holds $(sink_count) messages"
	[[ ! -e $TMP/no-such-dir ]] || fail "created $TMP/no-such-dir"
	refute_log 'event=(backend-error|error)'
}

@test "MAIL FROM:<whatever:a@a>: 501 5.1.7 bad source route" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<whatever:a@a>\r\n' =1 'MAIL FROM:<@relay.test:a@a.test>\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 501 250 221"
	assert_reply '501 5\.1\.7 Bad sender address syntax: bad source route$'
}
