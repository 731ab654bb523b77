#!/usr/bin/env bats
# server_mode: smtpproxy resident (DESIGN.md "Modes of launch"): started
# with -l, under xinetd wait = yes (fd 0 a listening socket) and by
# systemd-socket-activate (LISTEN_FDS); the limits (max_sessions,
# client_connection_count_limit, client_connection_rate_limit,
# client_prefix_v6), SIGHUP, SIGTERM, a child killed mid-DATA, reused
# workers (max_use) starting every session clean, privileges, and 50
# concurrent senders. Loopback only; every wait is on a reply, a port, a
# process or a log line.

load lib/common
load lib/auth
load lib/dns

setup() {
	common_setup
	start_sink
}

teardown() {
	local rc=0
	common_teardown || rc=1
	v6_cleanup
	[[ ${DNS_SCOPE:-} != test ]] || dns_stop
	return $rc
}

# serve [config lines...]: smtpproxy -l in server mode, whatever
# SMTPPROXY_MODE says
serve() {
	write_proxy_conf "$@" && start_server
}

# deliver [-b ADDR]: one message through the proxy (run); 250 expected
deliver() {
	local opts=()
	[[ ${1:-} == -b ]] && opts=(-b "$2")
	run smtp "${opts[@]}" 'EHLO client.test\r\n' =1 'MAIL FROM:<a@test>\r\n' =1 \
		'RCPT TO:<b@test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: server mode\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
}

# pid_of REGEX: the pids (smtpproxy[PID]) of the log lines matching REGEX
pid_of() {
	sed -n -E "s/.*smtpproxy\\[([0-9]+)\\]: .*$1.*/\\1/p" "$TMP/smtpproxy.log"
}

n_children() {
	(($(pgrep -P "$SERVER_PID" | wc -l) == $1))
}

# worker_idle PID: a reusable worker waits for its next connection (fd 0
# back on /dev/null, asleep in poll on its channel: its 'D' is sent)
worker_idle() {
	[[ $(readlink "/proc/$1/fd/0" 2>/dev/null) == /dev/null ]] &&
		grep -q poll "/proc/$1/wchan" 2>/dev/null
}

# refused ADDR: a connection from ADDR got the limit's 421 and was closed
assert_refused() {
	assert_closed
	assert_codes "421"
	assert_reply "421 4\\.7\\.0 Too many connections from $1\$"
}

V6_ADDED=()
v6_cleanup() {
	local a
	for a in "${V6_ADDED[@]}"; do
		ip -6 addr del "$a/128" dev lo 2>/dev/null || true
	done
	V6_ADDED=()
}

# ------------------------------------------------------------ launches

@test "-l: messages go through children of the resident parent" {
	serve
	deliver
	deliver -b 127.0.0.2
	settle
	[[ $(sink_count) == 2 ]] || fail "sink has $(sink_count) messages"
	assert_log "smtpproxy\\[$SERVER_PID\\]: .*event=server listeners=1 max_use=1$"
	local kids
	kids=$(pid_of 'event=summary' | sort -u)
	[[ $(wc -l <<<"$kids") == 2 ]] || fail "expected two children (max_use 1): $kids"
	[[ " $kids " != *" $SERVER_PID "* ]] || fail "a session ran in the parent"
}

@test "a configuration error: the server does not start, exit 100 with file:line" {
	write_proxy_conf 'no_such_key 1'
	server_env
	run "${SERVER_ENV[@]}" "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -l "127.0.0.1:$(free_port)"
	[[ $status == 100 ]] || fail "status $status, expected 100" "$output"
	[[ $output == *"$TMP/smtpproxy.conf:5:"* ]] || fail "no file:line: $output"
}

@test "xinetd wait = yes: smtpproxy gets the listening socket on fd 0 and serves every connection" {
	write_proxy_conf
	write_xinetd_conf
	sed -i 's/wait = no/wait = yes/' "$TMP/xinetd.conf"
	xinetd -dontfork -f "$TMP/xinetd.conf" -filelog "$TMP/xinetd.log" \
		-pidfile "$TMP/xinetd.pid" >"$TMP/xinetd.out" 2>&1 3>&- &
	XINETD_PID=$!
	wait_own_port "$XINETD_PID" "$PROXY_PORT" || fail "xinetd did not start"
	deliver
	local srv
	srv=$(pgrep -P "$XINETD_PID")
	[[ -n $srv && $srv != *$'\n'* ]] || fail "expected one server under xinetd: $srv"
	# teardown stops it with SIGTERM and checks its exit (xinetd's EXIT line)
	SERVER_PID=$srv
	assert_log "smtpproxy\\[$srv\\]: .*event=server listeners=1 "
	deliver -b 127.0.0.2
	settle
	[[ $(sink_count) == 2 ]] || fail "sink has $(sink_count) messages"
	# one server for both: xinetd started one process only
	[[ $(grep -c 'START: smtpproxy-test' "$TMP/xinetd.log") == 1 ]] ||
		fail "xinetd started more than one process:" "$(cat "$TMP/xinetd.log")"
	[[ $(log_line 'event=server ' | wc -l) == 1 ]] || fail "more than one server"
	stop_server
	wait_until file_has "$TMP/xinetd.log" "EXIT: smtpproxy-test status=0 pid=$srv"
	assert_log "smtpproxy\\[$srv\\]: .*event=stopped$"
}

@test "systemd-socket-activate (LISTEN_FDS, fd 3): server mode delivers" {
	command -v systemd-socket-activate >/dev/null ||
		fail "systemd-socket-activate missing (Debian package systemd)"
	write_proxy_conf
	PROXY_PORT=$(free_port)
	server_env
	# systemd-socket-activate passes only -E variables on
	"${SERVER_ENV[@]}" systemd-socket-activate -l "127.0.0.1:$PROXY_PORT" \
		--fdname=smtp -E RELAYCLIENT= -E ASAN_OPTIONS -E UBSAN_OPTIONS \
		"$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" \
		>"$TMP/server.out" 2>&1 3>&- &
	SERVER_PID=$!
	wait_own_port "$SERVER_PID" "$PROXY_PORT" || fail "systemd-socket-activate did not listen"
	deliver
	deliver
	settle
	[[ $(sink_count) == 2 ]] || fail "sink has $(sink_count) messages"
	# the activator exec'd smtpproxy in its own pid, as systemd does
	assert_log "smtpproxy\\[$SERVER_PID\\]: .*event=server listeners=1 "
	grep -q 'Execing' "$TMP/server.out" || fail "$(cat "$TMP/server.out")"
}

# ------------------------------------------------------------- limits

@test "client_connection_count_limit 2: the third from 127.0.0.1 is 421, 127.0.0.2 gets in, a freed slot is reused" {
	serve 'client_connection_count_limit 2'
	hold a 'EHLO a.test\r\n' =1 "$(go a)" 'QUIT\r\n'
	hold b 'EHLO b.test\r\n' =1 "$(go b)" 'QUIT\r\n'
	held a '^250 ' && held b '^250 '
	run smtp 'QUIT\r\n'
	assert_refused 127.0.0.1
	assert_log 'event=limit client=127\.0\.0\.1 key=127\.0\.0\.1 limit=client_connection_count_limit$'
	run smtp -b 127.0.0.2 'QUIT\r\n'
	assert_codes "220 221"
	release a
	assert_codes "220 250 221"
	# the parent reaped a's child: its slot is free
	wait_until n_children 1
	run smtp 'QUIT\r\n'
	assert_codes "220 221"
	release b
	assert_codes "220 250 221"
	[[ $(log_line 'event=limit ' | wc -l) == 1 ]] || fail "$(log_line 'event=limit ')"
}

@test "client_prefix_v6: one count per /64 by default, per address with 128" {
	local a=2001:db8:5e7:1::a b=2001:db8:5e7:1::b
	ip -6 addr add "$a/128" dev lo nodad 2>/dev/null &&
		V6_ADDED+=("$a") &&
		ip -6 addr add "$b/128" dev lo nodad 2>/dev/null &&
		V6_ADDED+=("$b") ||
		skip "cannot add IPv6 test addresses to lo (no CAP_NET_ADMIN or IPv6 off)"
	PROXY_BIND=::1
	for prefix in 64 128; do
		serve 'client_connection_count_limit 1' "client_prefix_v6 $prefix"
		hold h$prefix -b "$a" 'EHLO a.test\r\n' =1 "$(go h$prefix)" 'QUIT\r\n'
		held h$prefix '^250 '
		run smtp -b "$b" 'QUIT\r\n'
		if ((prefix == 64)); then
			assert_refused "$b"
			assert_log "event=limit client=$b key=2001:db8:5e7:1::/64 limit=client_connection_count_limit\$"
		else
			assert_codes "220 221"
		fi
		release h$prefix
		assert_codes "220 250 221"
		stop_proxy
	done
	[[ $(log_line 'event=limit ' | wc -l) == 1 ]] || fail "$(log_line 'event=limit ')"
	assert_log "event=connect client=$b\$"
}

@test "client_connection_rate_limit 3: the 4th connection in the minute is 421; another address is not" {
	serve 'client_connection_rate_limit 3'
	local i
	for i in 1 2 3; do
		run smtp 'QUIT\r\n'
		assert_codes "220 221"
	done
	run smtp 'QUIT\r\n'
	assert_refused 127.0.0.1
	assert_log 'event=limit client=127\.0\.0\.1 key=127\.0\.0\.1 limit=client_connection_rate_limit$'
	run smtp -b 127.0.0.2 'QUIT\r\n'
	assert_codes "220 221"
}

@test "max_sessions 2: the third concurrent connection is 421 whatever its address" {
	serve 'max_sessions 2'
	hold a 'EHLO a.test\r\n' =1 "$(go a)" 'QUIT\r\n'
	hold b -b 127.0.0.2 'EHLO b.test\r\n' =1 "$(go b)" 'QUIT\r\n'
	held a '^250 ' && held b '^250 '
	run smtp -b 127.0.0.3 'QUIT\r\n'
	assert_refused 127.0.0.3
	assert_log 'event=limit client=127\.0\.0\.3 key=127\.0\.0\.3 limit=max_sessions$'
	release a
	release b
	assert_codes "220 250 221"
	wait_until n_children 0
	run smtp -b 127.0.0.3 'QUIT\r\n'
	assert_codes "220 221"
}

# ------------------------------------------------------------- signals

@test "SIGHUP: new sessions see the new greeting, an open one finishes; a broken config keeps the old" {
	serve 'greeting %H first'
	hold a 'EHLO a.test\r\n' =1 "$(go a)" 'MAIL FROM:<a@test>\r\n' =1 \
		'RCPT TO:<b@test>\r\n' =1 'DATA\r\n' =1 'Subject: across\r\n\r\nx\r\n.\r\n' =1 'QUIT\r\n'
	held a '^250 '
	write_proxy_conf 'greeting %H second'
	kill -HUP "$SERVER_PID"
	assert_log 'event=reload result=ok$'
	run smtp 'QUIT\r\n'
	assert_reply '220 proxy\.test second'
	release a
	assert_codes "220 250 250 250 354 250 221"
	assert_reply '220 proxy\.test first'
	write_proxy_conf 'greeting %H third' 'no_such_key 1'
	kill -HUP "$SERVER_PID"
	assert_log 'event=reload result=failed '
	run smtp 'QUIT\r\n'
	assert_reply '220 proxy\.test second'
	settle
	[[ $(sink_count) == 1 ]] || fail "sink has $(sink_count) messages"
}

@test "SIGTERM: the port closes, an open session still delivers, then the server exits (event=stopped)" {
	serve
	hold a 'EHLO a.test\r\n' =1 "$(go a)" 'MAIL FROM:<a@test>\r\n' =1 \
		'RCPT TO:<b@test>\r\n' =1 'DATA\r\n' =1 'Subject: drain\r\n\r\nx\r\n.\r\n' =1 'QUIT\r\n'
	held a '^250 '
	kill -TERM "$SERVER_PID"
	assert_log 'event=stop sessions=1$'
	wait_until eval '! port_listening 127.0.0.1 "$PROXY_PORT"'
	run smtp 'QUIT\r\n'
	[[ $status == 3 ]] || fail "a new connection after SIGTERM was not refused (status $status)" "$output"
	kill -0 "$SERVER_PID" || fail "the server left before its session ended"
	release a
	assert_codes "220 250 250 250 354 250 221"
	assert_log 'event=stopped$'
	wait_until pid_gone "$SERVER_PID"
	local st=0
	wait "$SERVER_PID" || st=$?
	SERVER_PID=
	[[ $st == 0 ]] || fail "server exit status $st"
	refute_log 'event=child-'
	wait_backend_idle
	[[ $(sink_count) == 1 ]] || fail "sink has $(sink_count) messages"
}

@test "a child killed with SIGKILL mid-DATA: no 250, event=child-crash, the other session delivers" {
	serve
	hold a 'EHLO a.test\r\n' =1 'MAIL FROM:<a@test>\r\n' =1 'RCPT TO:<b@test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: killed\r\n\r\nhalf a message\r\n' "$(go a)" '.\r\n' =1 'QUIT\r\n'
	held a '^354 '
	local kid
	kid=$(pgrep -P "$SERVER_PID")
	[[ -n $kid && $kid != *$'\n'* ]] || fail "expected one child: $kid"
	hold b -b 127.0.0.2 'EHLO b.test\r\n' =1 "$(go b)" 'MAIL FROM:<a@test>\r\n' =1 \
		'RCPT TO:<b@test>\r\n' =1 'DATA\r\n' =1 'Subject: alive\r\n\r\nx\r\n.\r\n' =1 'QUIT\r\n'
	held b '^250 '
	kill -KILL "$kid"
	assert_log "event=child-crash pid=$kid signal=9\$"
	release a
	assert_closed
	assert_codes "220 250 250 250 354"
	release b
	assert_codes "220 250 250 250 354 250 221"
	deliver
	settle
	[[ $(sink_count) == 2 ]] || fail "sink has $(sink_count) messages, expected 2"
	# the expected crash only: stop the server here, not in teardown
	kill -TERM "$SERVER_PID"
	wait_until pid_gone "$SERVER_PID"
	local st=0
	wait "$SERVER_PID" || st=$?
	SERVER_PID=
	[[ $st == 0 ]] || fail "server exit status $st"
	[[ $(grep -Ec 'event=child-(crash|exit)' "$TMP/smtpproxy.log") == 1 ]] ||
		fail "$(grep -E 'event=child-' "$TMP/smtpproxy.log")"
}

# --------------------------------------------------------------- reuse

@test "max_use 5: five sessions on one child, each clean (AUTH, HELO, refused recipient not carried over)" {
	make_cert
	make_sasldb
	NO_RELAYCLIENT=1
	local lines=()
	mapfile -t lines < <(tls_conf; sasl_conf)
	serve "${lines[@]}" 'auth_requires_tls no' 'max_use 5'
	local worker
	# 1: a HELO, a login, a relayed recipient (allowed: logged in)
	run smtp 'EHLO one.test\r\n' =1 "$(auth_plain alice "$ALICE_PW")" =1 \
		'MAIL FROM:<a@test>\r\n' =1 'RCPT TO:<user@far.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 235 250 250 221"
	# closed after QUIT: no copy of the connection stays in the worker
	[[ $status == 0 ]] || fail "session 1 not closed after QUIT (status $status)"
	assert_log 'event=summary .*helo=one\.test tls=no login=alice '
	worker=$(pid_of 'event=summary')
	[[ -n $worker && $worker != "$SERVER_PID" ]] || fail "worker pid '$worker'"
	wait_until worker_idle "$worker"
	# 2: no login: AUTH offered again, relaying denied, no HELO of 1
	run smtp 'MAIL FROM:<a@test>\r\n' =1 'RCPT TO:<user@far.test>\r\n' =1 \
		'EHLO two.test\r\n' =1 'QUIT\r\n'
	assert_codes "220 503 503 250 221"
	assert_reply '250-AUTH PLAIN LOGIN CRAM-MD5$'
	assert_reply '250-STARTTLS$'
	wait_until worker_idle "$worker"
	# 3: a refused recipient, then 4: nothing of it
	run smtp 'HELO three.test\r\n' =1 'MAIL FROM:<a@test>\r\n' =1 \
		'RCPT TO:<user@far.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 554 221"
	assert_reply '554 5\.7\.1 <user@far\.test>: Relay access denied'
	wait_until worker_idle "$worker"
	run smtp 'QUIT\r\n'
	assert_codes "220 221"
	wait_until worker_idle "$worker"
	# 5: still no login: relaying denied again
	run smtp 'EHLO five.test\r\n' =1 'MAIL FROM:<a@test>\r\n' =1 \
		'RCPT TO:<user@far.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 554 221"
	wait_log_count 5 'event=summary '
	local sums
	sums=$(log_line 'event=summary ' | sed -E 's/.* (helo=[^ ]+ tls=[^ ]+ login=[^ ]+ from=[^ ]+ rcpts=[0-9]+ accepted=[0-9]+).*/\1/')
	[[ $sums == "helo=one.test tls=no login=alice from=<a@test> rcpts=1 accepted=0
helo=two.test tls=no login=- from=- rcpts=0 accepted=0
helo=three.test tls=no login=- from=<a@test> rcpts=0 accepted=0
helo=- tls=no login=- from=- rcpts=0 accepted=0
helo=five.test tls=no login=- from=<a@test> rcpts=0 accepted=0" ]] || fail "summaries:" "$sums"
	local pids
	pids=$(pid_of 'event=summary' | sort -u)
	[[ $pids == "$worker" ]] || fail "five sessions, more than one child: $pids" "$(cat "$TMP/smtpproxy.log")"
	# the fifth was its last: it leaves, and a new one serves the sixth
	wait_until pid_gone "$worker"
	run smtp 'QUIT\r\n'
	assert_codes "220 221"
	wait_log_count 6 'event=summary '
	[[ $(pid_of 'event=summary' | tail -n 1) != "$worker" ]] || fail "a sixth session on the worker"
}

@test "max_use 5: after a STARTTLS session the next is offered STARTTLS again and logs tls=no" {
	make_cert
	serve "$(tls_conf)" 'max_use 5'
	run in_tls 'QUIT\r\n' =1
	assert_reply '221 '
	assert_log 'event=summary .*tls=TLSv1\.[23]:'
	run smtp 'EHLO two.test\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 221"
	assert_reply '250-STARTTLS$'
	wait_log_count 2 'event=summary '
	[[ $(log_line 'event=summary ' | tail -n 1) == *" helo=two.test tls=no "* ]] ||
		fail "$(log_line 'event=summary ' | tail -n 1)"
	# (a worker that ran TLS leaves after it for now: auth_tls.c keeps the
	# session's SSL in a static; smtpproxy.c main_server_session)
}

@test "max_use 5: a DNS score of one session is recomputed in the next" {
	start_dns
	NO_RELAYCLIENT=1
	printf 'local.test\n' >"$TMP/local.txt"
	dns_mkcdb -t domains "$TMP/local.txt" "$TMP/local.cdb" >/dev/null
	serve "local_domains cdb:$TMP/local.cdb" "$(dns_conf_lines)" \
		"dnsbl dnsbl.test 5 0" "$(dns_heuristics_off)" 'max_use 5'
	dns_scored 127.0.0.2 good.test a@mail.test reject 5 'DNSBL(dnsbl.test)=5'
	local worker
	worker=$(pid_of 'event=summary')
	wait_until worker_idle "$worker"
	dns_scored 127.0.0.1 client1.test a@mail.test accept 0
	wait_until worker_idle "$worker"
	dns_scored 127.0.0.2 good.test a@mail.test reject 5 'DNSBL(dnsbl.test)=5'
	[[ $(pid_of 'event=summary' | sort -u) == "$worker" ]] ||
		fail "not one worker: $(pid_of 'event=summary' | sort -u | paste -sd' ')"
}

@test "max_use 5: a session that ends by timeout makes its child leave" {
	serve 'max_use 5' 'timeout_command 1'
	run smtp 'QUIT\r\n'
	assert_codes "220 221"
	local worker
	worker=$(pid_of 'event=summary')
	wait_until worker_idle "$worker"
	run smtp 'EHLO slow.test\r\n' =1
	assert_closed
	assert_reply '421 4\.4\.2 '
	wait_log_count 2 'event=summary '
	[[ $(pid_of 'event=summary' | sort -u) == "$worker" ]] || fail "the timed-out session was not on the worker"
	wait_until pid_gone "$worker"
	run smtp 'QUIT\r\n'
	assert_codes "220 221"
	wait_log_count 3 'event=summary '
	[[ $(pid_of 'event=summary' | tail -n 1) != "$worker" ]] || fail "a session after the timeout on the same child"
}

# ---------------------------------------------------------- privileges

@test "privileges: the parent runs as root, its children as the configured user" {
	serve 'user nobody' 'max_use 3'
	hold a 'EHLO a.test\r\n' =1 "$(go a)" 'QUIT\r\n'
	held a '^250 '
	local kid
	kid=$(pgrep -P "$SERVER_PID")
	[[ $(ps -o user= -p "$SERVER_PID") == root ]] || fail "parent runs as $(ps -o user= -p "$SERVER_PID")"
	[[ $(ps -o user= -p "$kid") == nobody ]] || fail "child runs as $(ps -o user= -p "$kid")"
	[[ $(ps -o group= -p "$kid") == nogroup ]] || fail "child group $(ps -o group= -p "$kid")"
	release a
	assert_codes "220 250 221"
	[[ $status == 0 ]] || fail "not closed after QUIT (status $status)"
	# an idle reusable worker stays unprivileged
	wait_until worker_idle "$kid"
	[[ $(ps -o user= -p "$kid") == nobody ]] || fail "idle worker runs as $(ps -o user= -p "$kid")"
}

# ---------------------------------------------------------------- load

@test "50 concurrent senders: every message arrives exactly once" {
	serve 'max_sessions 100' 'client_connection_count_limit 100' 'client_connection_rate_limit 0'
	local i pids=()
	for ((i = 1; i <= 50; i++)); do
		"$RAWSMTP" -t 60 "$PROXY_HOST" "$PROXY_PORT" 'EHLO load.test\r\n' =1 \
			'MAIL FROM:<load@test>\r\n' =1 'RCPT TO:<sink@test>\r\n' =1 'DATA\r\n' =1 \
			"Subject: load $i\\r\\nX-Load-Id: id-$i-end\\r\\n\\r\\nmessage $i\\r\\n.\\r\\n" =1 \
			'QUIT\r\n' >"$TMP/load.$i" 2>&1 3>&- &
		pids+=($!)
	done
	local bad=0
	for ((i = 1; i <= 50; i++)); do
		wait "${pids[i - 1]}" || bad=$((bad + 1))
		grep -q '^250 2\.0\.0 ' "$TMP/load.$i" || { bad=$((bad + 1)); cat "$TMP/load.$i" >&2; }
	done
	((bad == 0)) || fail "$bad senders failed"
	settle
	[[ $(sink_count) == 50 ]] || fail "sink has $(sink_count) messages, expected 50"
	local dup missing
	dup=$(grep -ho 'X-Load-Id: id-[0-9]*-end' "$TMP"/sink/msg.* | sort | uniq -d)
	[[ -z $dup ]] || fail "delivered twice: $dup"
	for ((i = 1; i <= 50; i++)); do
		grep -lq "X-Load-Id: id-$i-end" "$TMP"/sink/msg.* || missing+=" $i"
	done
	[[ -z ${missing:-} ]] || fail "missing:$missing"
}

@test "-n says which launch mode these settings start" {
	start_sink
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" "hostname proxy.test" \
		"backend_ehlo_cache $TMP/ehlo"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf" </dev/null
	[[ $output == *"launch: per-connection: one session on fd 0, then exit"* ]] || fail "$output"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf" -l 127.0.0.1:9 </dev/null
	[[ $output == *"launch: server mode on -l's socket"* ]] || fail "$output"
}
