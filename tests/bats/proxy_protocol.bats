#!/usr/bin/env bats
# proxy_protocol: smtpproxy behind a real HAProxy (Debian's haproxy, started
# here on loopback in the foreground) with send-proxy and send-proxy-v2,
# in front of a real Postfix: the backend and every check see the original
# client; and PROXY header abuse from a raw socket, each closed (nothing
# sent, event=proxy-error with the balancer's address) or treated as the
# specification says.
#
# Addresses: the balancer (HAProxy, and rawsmtp playing one) is 127.0.0.1,
# the only entry of proxy_clients; clients bind to 127.0.0.2 (in
# relay_clients) or 127.0.0.4 (not); 127.0.0.3 is a direct client.

load lib/common
load lib/haproxy

MKCDB=${MKCDB:-$ROOT/build/asan/mkcdb}

setup() {
	common_setup
	NO_RELAYCLIENT=1
	printf '127.0.0.1 OK\n' >"$TMP/balancers.txt"
	mk -t networks "$TMP/balancers.txt" "$TMP/balancers.cdb"
	printf '127.0.0.2 OK\n' >"$TMP/nets.txt"
	mk -t networks "$TMP/nets.txt" "$TMP/nets.cdb"
}

teardown() {
	stop_pid "$HA_PID"
	HA_PID=
	common_teardown
}

# mk ARGS...: mkcdb (ASan build; reports go to the test's san dir)
mk() {
	ASAN_OPTIONS="log_path=$TMP/san/asan" "$MKCDB" "$@"
}

# proxy_behind VERSION [config lines...]: smtpproxy that wants headers of
# VERSION (v1, v2, any) from 127.0.0.1
proxy_behind() {
	local v=$1
	shift
	start_proxy "proxy_protocol $v" "proxy_clients cdb:$TMP/balancers.cdb" \
		"relay_clients cdb:$TMP/nets.cdb" "$@"
}

# start_haproxy send-proxy|send-proxy-v2: HAProxy on 127.0.0.1:HA_PORT in
# the foreground, forwarding to the proxy with that option
start_haproxy() {
	haproxy_run haproxy_cfg "$1"
}

haproxy_cfg() {
	haproxy_defaults
	cat <<HACFG
frontend smtp
	bind 127.0.0.1:$HA_PORT
	default_backend mx
backend mx
	server mx1 $PROXY_HOST:$PROXY_PORT $1
HACFG
}

# via_haproxy CLIENT ITEM...: rawsmtp from CLIENT through HAProxy
via_haproxy() {
	local from=$1
	shift
	run "$RAWSMTP" -b "$from" 127.0.0.1 "$HA_PORT" "$@"
}

# swaks_haproxy CLIENT: one message from CLIENT through HAProxy, delivered
# by Postfix; QID is its queue id
swaks_haproxy() {
	run swaks --server "127.0.0.1:$HA_PORT" --local-interface "$1" \
		--helo client.example --from sender@test --to rcpt@remote.test \
		--body 'through the balancer' --timeout 15
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	QID=$(queue_id)
	[[ -n $QID ]] || fail "no 'queued as' reply passed through:" "$output"
	pf_settle
	pf_wait_count 1
}

# postfix_saw CLIENT: Postfix logged the message QID from CLIENT
postfix_saw() {
	grep -Eq "postfix/smtpd\[[0-9]+\]: $QID: client=[^ ]*\[${1//./\\.}\]$" \
		"$TMP/postfix.log" ||
		fail "Postfix did not see $1:" "$(grep "$QID" "$TMP/postfix.log")"
}

# header NAME: write $TMP/NAME, a v2 header built by python (see below)
header() {
	/usr/bin/python3 - "$TMP/$1" "$1" <<'PY'
import struct, sys
def crc32c(b):
    crc = 0xFFFFFFFF
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
def v2(vc, fam, payload):
    return SIG + bytes([vc, fam]) + struct.pack(">H", len(payload)) + payload
def with_crc(h, good):
    h = h + b"\x03\x00\x04\x00\x00\x00\x00"
    h = h[:14] + struct.pack(">H", len(h) - 16) + h[16:]
    return h[:-4] + struct.pack(">I", crc32c(h) ^ (0 if good else 1))
a4 = bytes([192, 0, 2, 7, 127, 0, 0, 1]) + struct.pack(">HH", 40001, 25)
a6 = bytes.fromhex("20010db8" + "00" * 11 + "07" + "00" * 15 + "01") + \
    struct.pack(">HH", 40002, 25)
out = {
    "tcp4": v2(0x21, 0x11, a4),
    "tcp6-crc": with_crc(v2(0x21, 0x21, a6 + b"\x04\x00\x02ab"), True),
    "crc-bad": with_crc(v2(0x21, 0x11, a4), False),
    "local": v2(0x20, 0x00, b""),
    "oversized": v2(0x21, 0x11, a4 + b"\x04" + struct.pack(">H", 600) +
                    b"x" * 600),
    "bad-length": v2(0x21, 0x11, a4[:4]),
    "bad-family": v2(0x21, 0x31, b"\x00" * 216),
    "bad-version": b"\r\n\r\n\x00\r\nQUIT\n\x11\x11\x00\x0c" + a4,
    "wrong-signature": b"\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + a4,
}[sys.argv[2]]
open(sys.argv[1], "wb").write(out)
PY
}

# refused REASON: rawsmtp's connection got nothing and was closed; the log
# names the balancer and REASON
refused() {
	assert_closed
	[[ -z $output ]] || fail "something was sent before a valid header:" "$output"
	assert_log "event=proxy-error client=127\\.0\\.0\\.1 reason=\"$1\""
}

# ------------------------------------------------- a real HAProxy in front

@test "send-proxy (v1): Postfix sees the original client through XCLIENT" {
	start_postfix
	proxy_behind v1
	start_haproxy send-proxy
	swaks_haproxy 127.0.0.2
	postfix_saw 127.0.0.2
	assert_log 'event=proxy client=127\.0\.0\.2 port=[0-9]+ balancer=127\.0\.0\.1 version=v1$'
	assert_log 'event=summary client=127\.0\.0\.2 helo=client\.example .*accepted=1'
	refute_log 'event=summary client=127\.0\.0\.1 '
}

@test "send-proxy-v2: Postfix sees the original client through XCLIENT" {
	start_postfix
	proxy_behind v2
	start_haproxy send-proxy-v2
	swaks_haproxy 127.0.0.2
	postfix_saw 127.0.0.2
	assert_log 'event=proxy client=127\.0\.0\.2 port=[0-9]+ balancer=127\.0\.0\.1 version=v2$'
	assert_log 'event=summary client=127\.0\.0\.2 helo=client\.example .*accepted=1'
}

@test "send-proxy-v2 in server mode: the child reads the header" {
	SMTPPROXY_MODE=server
	start_postfix
	proxy_behind any
	start_haproxy send-proxy-v2
	swaks_haproxy 127.0.0.2
	postfix_saw 127.0.0.2
	assert_log 'event=proxy client=127\.0\.0\.2 port=[0-9]+ balancer=127\.0\.0\.1 version=v2$'
	# the parent's limits see the balancer (documented)
	refute_log 'event=limit'
}

@test "relay_clients acts on the original address, not the balancer's" {
	start_postfix
	proxy_behind any
	start_haproxy send-proxy
	via_haproxy 127.0.0.2 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 \
		'RCPT TO:<r@remote.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 221"
	via_haproxy 127.0.0.4 'EHLO c\r\n' =1 'MAIL FROM:<s@test>\r\n' =1 \
		'RCPT TO:<r@remote.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 554 221"
	assert_log 'event=reject client=127\.0\.0\.4 cmd=RCPT reply="554 5\.7\.1 <r@remote\.test>: Relay access denied"'
}

@test "HAProxy's v1 header is refused where v2 is wanted" {
	start_postfix
	proxy_behind v2
	start_haproxy send-proxy
	via_haproxy 127.0.0.2 -G 'QUIT\r\n'
	[[ $output != *220* ]] || fail "greeted:" "$output"
	assert_log 'event=proxy-error client=127\.0\.0\.1 reason="v1 header, proxy_protocol v2"'
}

# health_haproxy: HAProxy with the README's "Scaling out" backend (tcp-check:
# the 220, QUIT, the 221; send-proxy-v2, check check-send-proxy), ports
# changed, checks every 200 ms (inter, rise, fall: the only addition, to be
# quick), and its stats socket at $TMP/haproxy.sock
health_haproxy() {
	haproxy_run health_cfg
}

health_cfg() {
	cat <<HACFG
global
	maxconn 100
	stats socket $TMP/haproxy.sock mode 600 level admin
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	timeout check 5s
frontend smtp
	mode tcp
	bind 127.0.0.1:$HA_PORT
	default_backend mx
backend mx
	mode tcp
	option tcp-check
	tcp-check expect rstring ^220
	tcp-check send QUIT\r\n
	tcp-check expect rstring ^221
	server mx1 $PROXY_HOST:$PROXY_PORT send-proxy-v2 check check-send-proxy inter 200 rise 2 fall 2
HACFG
}

# ha_state: "STATUS CHECK_STATUS" of server mx/mx1, from `show stat` on
# HAProxy's stats socket (CSV; UP/DOWN, L7OK/L4CON...)
ha_state() {
	/usr/bin/python3 - "$TMP/haproxy.sock" <<'PY'
import csv, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
rows = list(csv.reader(data.decode().lstrip("# ").splitlines()))
head = rows[0]
for r in rows[1:]:
    if len(r) == len(head) and r[0] == "mx" and r[1] == "mx1":
        d = dict(zip(head, r))
        print(d["status"], d["check_status"])
PY
}

# ha_is STATUS CHECK_STATUS: HAProxy says so now
ha_is() {
	[[ $(ha_state) == "$1 $2" ]]
}

@test "HAProxy's health check (the README's): UP through the PROXY header, DOWN when smtpproxy stops" {
	start_sink
	proxy_behind v2
	health_haproxy
	# rise 2: two checks passed, each a PROXY header (LOCAL), 220, QUIT, 221
	WAIT_LIMIT=10 wait_until ha_is UP L7OK
	wait_log_count 2 'event=summary client=127\.0\.0\.1 helo=- .* result=quit'
	# HAProxy's checks send a v2 LOCAL header: the real endpoints are used
	assert_log 'event=proxy client=127\.0\.0\.1 balancer=127\.0\.0\.1 version=v2 command=LOCAL addresses=real$'
	refute_log 'event=proxy-error'
	# smtpproxy stopped: the checks cannot connect, fall 2: DOWN
	stop_proxy
	WAIT_LIMIT=10 wait_until ha_is DOWN L4CON
	refute_log 'event=proxy-error'
}

@test "HAProxy's health check in server mode: UP, no proxy-error, DOWN after SIGTERM" {
	SMTPPROXY_MODE=server
	start_sink
	proxy_behind v2
	health_haproxy
	WAIT_LIMIT=10 wait_until ha_is UP L7OK
	wait_log_count 2 'event=summary client=127\.0\.0\.1 helo=- .* result=quit'
	assert_log 'event=proxy client=127\.0\.0\.1 balancer=127\.0\.0\.1 version=v2 command=LOCAL addresses=real$'
	refute_log 'event=proxy-error'
	refute_log 'event=limit'
	stop_proxy
	WAIT_LIMIT=10 wait_until ha_is DOWN L4CON
}

# ----------------------------------------------- valid headers, raw socket

@test "a header and the first command in one packet: not a byte lost" {
	start_sink
	proxy_behind any
	run smtp -G 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\nQUIT\r\n'
	assert_codes "220 221"
	assert_log 'event=proxy client=192\.0\.2\.7 port=40000 balancer=127\.0\.0\.1 version=v1$'
	header tcp4
	run smtp -G "<$TMP/tcp4" 'QUIT\r\n'
	assert_codes "220 221"
	assert_log 'event=proxy client=192\.0\.2\.7 port=40001 balancer=127\.0\.0\.1 version=v2$'
}

@test "v2 over IPv6 with TLVs and a good CRC32C" {
	start_sink
	proxy_behind v2
	header tcp6-crc
	run smtp -G "<$TMP/tcp6-crc" =1 'QUIT\r\n'
	assert_codes "220 221"
	assert_log 'event=proxy client=2001:db8::7 port=40002 balancer=127\.0\.0\.1 version=v2 crc32c=ok$'
}

@test "v2 LOCAL and v1 UNKNOWN: the balancer's own address" {
	start_sink
	proxy_behind any
	header local
	run smtp -G "<$TMP/local" =1 'QUIT\r\n'
	assert_codes "220 221"
	assert_log 'event=proxy client=127\.0\.0\.1 balancer=127\.0\.0\.1 version=v2 command=LOCAL addresses=real'
	run smtp -G 'PROXY UNKNOWN\r\n' =1 'QUIT\r\n'
	assert_codes "220 221"
	assert_log 'event=proxy client=127\.0\.0\.1 balancer=127\.0\.0\.1 version=v1 command=UNKNOWN addresses=real'
}

@test "a header split over many packets, one byte each, is read whole" {
	start_sink
	proxy_behind v1
	run smtp -G '~PROXY TCP4 192.0.2.9 127.0.0.1 40009 25\r\n' =1 'QUIT\r\n'
	assert_codes "220 221"
	assert_log 'event=proxy client=192\.0\.2\.9 port=40009 balancer=127\.0\.0\.1 version=v1$'
}

@test "garbage after a valid header is the SMTP dialogue's" {
	start_sink
	proxy_behind v1
	run smtp -G 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\nGARBAGE \x01\x02\r\nQUIT\r\n'
	assert_codes "220 502 221"
	assert_log 'event=proxy client=192\.0\.2\.7 '
}

@test "an unlisted address is a direct client: PROXY is an unknown command" {
	start_sink
	proxy_behind any
	run smtp -b 127.0.0.3 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\n' =1 'QUIT\r\n'
	assert_codes "220 502 221"
	refute_log 'event=proxy'
	assert_log 'event=summary client=127\.0\.0\.3 '
}

# ----------------------------------------------------- abuse, raw socket

@test "truncated: closed at EOF, nothing sent" {
	start_sink
	proxy_behind any
	run smtp -G 'PROXY TCP4 192.0.2.7 127.0' .
	refused "closed before a complete header"
}

@test "truncated and silent: closed at timeout_proxy, nothing sent" {
	start_sink
	proxy_behind any "timeout_proxy 1"
	timed run smtp -G -t 10 'PROXY TCP4 192.0.2.7 127.0'
	refused "no complete header in timeout_proxy"
	assert_took_ms 800 4000
}

@test "trickled slowly, a valid prefix: closed at timeout_proxy" {
	start_sink
	proxy_behind v1 "timeout_proxy 2"
	local items=() c
	for c in P R O X Y ' ' T C P 4 ' ' 1 9 2 . 0 . 2 . 7 ' ' 1 2 7 . 0 . 0 . 1; do
		items+=("$c" +200)
	done
	timed run smtp -G -t 15 "${items[@]}"
	refused "no complete header in timeout_proxy"
	assert_took_ms 1800 4500
}

@test "oversized: a v1 line without CRLF in 107 bytes, a v2 header over 536" {
	start_sink
	proxy_behind any
	run smtp -G "PROXY UNKNOWN $(printf 'x%.0s' $(seq 1 120))"
	refused "v1: no CRLF within 107 bytes"
	header oversized
	run smtp -G "<$TMP/oversized"
	refused "v2: header longer than 536 bytes"
}

@test "wrong signature, bad version, bad CRC32C" {
	start_sink
	proxy_behind v2
	header wrong-signature
	run smtp -G "<$TMP/wrong-signature"
	refused "v2: wrong signature"
	header bad-version
	run smtp -G "<$TMP/bad-version"
	refused "v2: version not 2"
	header crc-bad
	run smtp -G "<$TMP/crc-bad"
	refused "v2: CRC32C mismatch"
}

@test "v2 with a bad length or family" {
	start_sink
	proxy_behind v2
	header bad-length
	run smtp -G "<$TMP/bad-length"
	refused "v2: address block longer than the header"
	header bad-family
	run smtp -G "<$TMP/bad-family"
	refused "v2: family or protocol not TCP over IPv4 or IPv6"
}

@test "v1 strictness: leading zeros, bare LF, an SMTP command from a balancer" {
	start_sink
	proxy_behind v1
	run smtp -G 'PROXY TCP4 192.0.2.07 127.0.0.1 40000 25\r\n'
	refused "v1: bad address"
	run smtp -G 'PROXY UNKNOWN\n'
	refused "v1: bare LF"
	run smtp -G 'EHLO client.test\r\n'
	refused "not a PROXY header"
	header tcp4
	run smtp -G "<$TMP/tcp4"
	refused "v2 header, proxy_protocol v1"
}

@test "-n: proxy_protocol needs proxy_clients; the table is checked" {
	start_sink
	write_conf "backend $BACKEND" "hostname proxy.test" "proxy_protocol v2"
	check_conf 100 "proxy_protocol: needs proxy_clients"
	write_conf "backend $BACKEND" "hostname proxy.test" "proxy_protocol v2" \
		"proxy_clients cdb:$TMP/missing.cdb"
	check_conf 111 "proxy_clients: cdb:$TMP/missing.cdb: No such file or directory"
	write_conf "backend $BACKEND" "hostname proxy.test" "proxy_protocol any" \
		"proxy_clients cdb:$TMP/balancers.cdb"
	check_conf 0 "proxy_clients: cdb:$TMP/balancers.cdb: ok"
}

@test "a broken proxy_clients table: 421, never a guess" {
	start_sink
	: >"$TMP/balancers.cdb"
	proxy_behind any
	run smtp -G 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\n'
	assert_codes "421"
	assert_log "event=table-error table=cdb:$TMP/balancers\\.cdb client=127\\.0\\.0\\.1"
}
