#!/usr/bin/env bats
# fault_client: the client goes away at each phase of a session: it closes
# its side (FIN), is killed (the kernel closes its socket), or resets the
# connection (SO_LINGER 0: RST). The backend (pysink, lib/fault.bash) never
# gets an end of data the client did not send, so it never stores such a
# message; a message whose final dot the client sent is stored exactly once,
# even when the client is gone before the reply. No smtpproxy process is
# left and each exits 0 (the harness's teardown).

load lib/common
load lib/fault

setup() {
	common_setup
	start_pysink -f 'DOT=delay:0.5'
	start_proxy
}

ENVELOPE=('EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1
	'RCPT TO:<rcpt@test>\r\n' =1)

# gone_check RESULT: the session ended with that result, nothing was
# stored, no session is left
gone_check() {
	settle
	assert_log "event=summary client=127\\.0\\.0\\.1 .*accepted=0 .*result=$1 "
	[[ $(sink_count) == 0 ]] || fail "the backend stored $(sink_count) messages"
	refute_pysink 'stored'
	refute_log 'event=accepted'
	assert_no_session_left
}

# rst_client ITEMS...: like rawsmtp (plain strings, "<FILE", "=N"), then an
# abortive close (RST) instead of waiting for the server
rst_client() {
	"$FAULT_PY" - "$PROXY_HOST" "$PROXY_PORT" "$@" <<'PY'
import re, socket, struct, sys, time
host, port, items = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
s = socket.create_connection((host, port), timeout=10)
buf = b""
def replies():
    return len(re.findall(rb"^\d{3}(?: [^\n]*)?\n", buf, re.M))
def wait(n):
    global buf
    while replies() < n:
        d = s.recv(65536)
        if not d:
            sys.exit(4)
        buf += d
want = 1
wait(want)
for it in items:
    if it.startswith("="):
        want += int(it[1:]); wait(want)
    elif it.startswith("<"):
        s.sendall(open(it[1:], "rb").read())
    else:
        s.sendall(it.encode().decode("unicode_escape").encode("latin1"))
time.sleep(0.2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
sys.stdout.write(buf.decode("latin1"))
PY
}

@test "client gone after the greeting (FIN): the backend is never contacted" {
	run smtp .
	assert_closed
	assert_codes "220"
	gone_check disconnect
	[[ ! -s $PYSINK_LOG ]] || fail "the backend was contacted:" "$(cat "$PYSINK_LOG")"
}

@test "client reset after the greeting (RST): the backend is never contacted" {
	run rst_client
	[[ $status == 0 ]] || fail "rst_client status $status" "$output"
	settle
	assert_log 'event=summary client=127\.0\.0\.1 .*accepted=0 .*result=(disconnect|client-error) '
	[[ ! -s $PYSINK_LOG ]] || fail "the backend was contacted:" "$(cat "$PYSINK_LOG")"
	assert_no_session_left
}

@test "client gone after EHLO" {
	run smtp 'EHLO client.test\r\n' =1 .
	assert_closed
	assert_codes "220 250"
	gone_check disconnect
	[[ ! -s $PYSINK_LOG ]] || fail "the backend was contacted:" "$(cat "$PYSINK_LOG")"
}

@test "client gone after MAIL: the backend got MAIL, then the proxy left it" {
	run smtp 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 .
	assert_closed
	assert_codes "220 250 250"
	gone_check disconnect
	pysink_has '^1 cmd MAIL FROM:<s@sender\.test>' || fail "no MAIL at the backend"
	wait_pysink '^1 (quit|eof)$'
	refute_pysink 'cmd DATA'
}

@test "client killed after RCPT" {
	run smtp "${ENVELOPE[@]}" '!kill -9 $PPID'
	[[ $status == 137 ]] || fail "rawsmtp status $status" "$output"
	assert_codes "220 250 250 250"
	gone_check disconnect
	refute_pysink 'cmd DATA'
}

@test "client gone right after the 354, before any data" {
	run smtp "${ENVELOPE[@]}" 'DATA\r\n' =1 .
	assert_closed
	assert_codes "220 250 250 250 354"
	gone_check lost-in-data
	wait_pysink '^1 data-abort bytes=0$'
}

@test "client gone mid-DATA (FIN after 200 kB of 1 MB): no end of data reaches the backend" {
	fault_message "$TMP/m" middata 1000000
	head -c 200000 "$TMP/m" >"$TMP/m.head"
	run smtp -t 30 "${ENVELOPE[@]}" 'DATA\r\n' =1 "<$TMP/m.head" .
	assert_closed
	assert_codes "220 250 250 250 354"
	gone_check lost-in-data
	wait_pysink '^1 data-abort bytes=[0-9]+$'
	local n
	n=$(sed -n 's/^1 data-abort bytes=//p' "$PYSINK_LOG")
	((n <= 200000)) || fail "the backend got $n bytes, more than the client sent"
	assert_dumped middata 0
}

@test "client killed mid-DATA: nothing stored" {
	fault_message "$TMP/m" killdata 500000
	head -c 100000 "$TMP/m" >"$TMP/m.head"
	run smtp -t 30 "${ENVELOPE[@]}" 'DATA\r\n' =1 "<$TMP/m.head" '!kill -9 $PPID'
	[[ $status == 137 ]] || fail "rawsmtp status $status" "$output"
	gone_check '(lost-in-data|client-error)'
	wait_pysink '^1 data-abort bytes=[0-9]+$'
	assert_dumped killdata 0
}

@test "client resets the connection mid-DATA (RST): nothing stored" {
	fault_message "$TMP/m" rstdata 300000
	head -c 150000 "$TMP/m" >"$TMP/m.head"
	run rst_client 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 \
		'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 "<$TMP/m.head"
	[[ $status == 0 ]] || fail "rst_client status $status" "$output"
	gone_check '(lost-in-data|client-error)'
	wait_pysink '^1 data-abort bytes=[0-9]+$'
	assert_dumped rstdata 0
}

@test "client gone after a partial end of data (CRLF '.' and CRLF '.' CR): not delivered" {
	fault_message "$TMP/m" partial1
	run smtp "${ENVELOPE[@]}" 'DATA\r\n' =1 "<$TMP/m" '\x2e' .  # '.' alone means shut down
	assert_closed
	assert_codes "220 250 250 250 354"
	fault_message "$TMP/m2" partial2
	run smtp "${ENVELOPE[@]}" 'DATA\r\n' =1 "<$TMP/m2" '.\r' .
	assert_closed
	assert_codes "220 250 250 250 354"
	settle
	[[ $(grep -c 'result=lost-in-data' "$TMP/smtpproxy.log") == 2 ]] ||
		fail "expected two lost-in-data sessions:" "$(cat "$TMP/smtpproxy.log")"
	[[ $(grep -c 'data-abort' "$PYSINK_LOG") == 2 ]] ||
		fail "expected two aborted transactions at the backend:" "$(cat "$PYSINK_LOG")"
	[[ $(sink_count) == 0 ]] || fail "the backend stored $(sink_count) messages"
	assert_dumped partial1 0
	assert_dumped partial2 0
	assert_no_session_left
}

@test "client gone after its final dot, before the reply (FIN): delivered exactly once" {
	fault_message "$TMP/m" afterdot 200000
	run smtp -t 20 "${ENVELOPE[@]}" 'DATA\r\n' =1 "<$TMP/m" '.\r\n' .
	assert_closed
	settle
	assert_dumped afterdot 1
	assert_dump_exact afterdot "$TMP/m"
	[[ $(sink_count) == 1 ]] || fail "the backend has $(sink_count) messages"
	assert_log 'event=accepted client=127\.0\.0\.1 .*rcpts=1 '
	assert_log 'event=summary .*accepted=1 .*result=disconnect '
	assert_no_session_left
}

@test "client killed after its final dot, before the reply: delivered exactly once" {
	fault_message "$TMP/m" killdot 200000
	run smtp -t 20 "${ENVELOPE[@]}" 'DATA\r\n' =1 "<$TMP/m" '.\r\n' '!kill -9 $PPID'
	[[ $status == 137 ]] || fail "rawsmtp status $status" "$output"
	refute_reply '250 2\.0\.0'
	settle
	assert_dumped killdot 1
	assert_dump_exact killdot "$TMP/m"
	[[ $(sink_count) == 1 ]] || fail "the backend has $(sink_count) messages"
	assert_log 'event=summary .*accepted=1 '
	assert_no_session_left
}

@test "client resets the connection after its final dot (RST): delivered exactly once" {
	fault_message "$TMP/m" rstdot 100000
	run rst_client 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 \
		'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 "<$TMP/m" '.\r\n'
	[[ $status == 0 ]] || fail "rst_client status $status" "$output"
	settle
	assert_dumped rstdot 1
	assert_dump_exact rstdot "$TMP/m"
	assert_log 'event=summary .*accepted=1 '
	assert_no_session_left
}

@test "pipelining client: two messages and QUIT in one write, then gone: both delivered once" {
	fault_message "$TMP/m1" pipe1
	fault_message "$TMP/m2" pipe2
	{
		printf 'MAIL FROM:<s@sender.test>\r\nRCPT TO:<rcpt@test>\r\nDATA\r\n'
		cat "$TMP/m1"
		printf '.\r\nMAIL FROM:<s@sender.test>\r\nRCPT TO:<rcpt@test>\r\nDATA\r\n'
		cat "$TMP/m2"
		printf '.\r\nQUIT\r\n'
	} >"$TMP/pipe"
	run smtp -t 20 'EHLO client.test\r\n' =1 "<$TMP/pipe" .
	assert_closed
	settle
	assert_dumped pipe1 1
	assert_dumped pipe2 1
	assert_dump_exact pipe1 "$TMP/m1"
	assert_dump_exact pipe2 "$TMP/m2"
	[[ $(sink_count) == 2 ]] || fail "the backend has $(sink_count) messages"
	assert_log 'event=summary .*accepted=2 '
	assert_no_session_left
}
