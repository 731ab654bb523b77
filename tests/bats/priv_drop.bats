#!/usr/bin/env bats
# priv_drop: xinetd starts smtpproxy as root (the harness's "user = root");
# the session drops to the config's user and group (setgroups, setresgid,
# setresuid) after opening its tables and the TLS key and before the
# greeting. Seen from inside: /proc/PID/status of a session that waits
# after its greeting, and the peer credentials (SO_PEERCRED) a backend on a
# UNIX socket sees (pysink, lib/fault.bash, logs them with the peer's
# /proc status). A session never runs as root: "user root" and unknown
# accounts end the process before the greeting, with a log line.

load lib/common
load lib/fault
load lib/auth

setup() {
	common_setup
	[[ $EUID == 0 ]] || skip "needs root (xinetd starts smtpproxy as root)"
}

# session_status FILE [rawsmtp items...]: a session that, right after the
# greeting and before sending a byte, copies its server's /proc status to
# FILE, then runs the items
session_status() {
	local file=$1
	shift
	run smtp -t 20 "!cat /proc/\$(pgrep -P $XINETD_PID | head -n1)/status >'$file'" "$@"
}

# assert_ids FILE UID GID: Uid/Gid lines (real, effective, saved, fs) are
# all UID/GID, the only group is GID, no capabilities
assert_ids() {
	local f=$1 u=$2 g=$3
	grep -Eq "^Uid:[[:space:]]+$u[[:space:]]+$u[[:space:]]+$u[[:space:]]+$u\$" "$f" ||
		fail "Uid line is not all $u:" "$(grep -E '^(Uid|Gid|Groups)' "$f")"
	grep -Eq "^Gid:[[:space:]]+$g[[:space:]]+$g[[:space:]]+$g[[:space:]]+$g\$" "$f" ||
		fail "Gid line is not all $g:" "$(grep -E '^(Uid|Gid|Groups)' "$f")"
	grep -Eq "^Groups:[[:space:]]*$g[[:space:]]*\$" "$f" ||
		fail "supplementary groups other than $g:" "$(grep -E '^Groups' "$f")"
	grep -Eq '^CapEff:[[:space:]]+0+$' "$f" || fail "capabilities left:" "$(grep ^Cap "$f")"
	grep -Eq '^CapPrm:[[:space:]]+0+$' "$f" || fail "capabilities left:" "$(grep ^Cap "$f")"
}

@test "the session runs as nobody/nogroup, no other group, no capability: from /proc before the first client byte" {
	start_pysink -u
	start_proxy
	local u g
	u=$(id -u nobody) g=$(getent group nogroup | cut -d: -f3)
	fault_message "$TMP/m" priv1
	session_status "$TMP/status" 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 \
		'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 "<$TMP/m" '.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	grep -q '^Name:' "$TMP/status" || fail "no /proc status read"
	assert_ids "$TMP/status" "$u" "$g"
	settle_unix
	assert_dumped priv1 1
}

@test "the backend's peer credentials (SO_PEERCRED on a unix socket) are nobody/nogroup" {
	start_pysink -u
	start_proxy
	local u g
	u=$(id -u nobody) g=$(getent group nogroup | cut -d: -f3)
	run smtp 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 221"
	wait_pysink "^1 connect peer pid=[0-9]+ uid=$u gid=$g\$"
	# the same process, as the backend sees it in /proc
	grep '^1 status ' "$PYSINK_LOG" | sed 's/^1 status //' >"$TMP/peer"
	grep -q '^Name: smtpproxy' "$TMP/peer" || fail "the peer is not smtpproxy:" "$(cat "$TMP/peer")"
	assert_ids "$TMP/peer" "$u" "$g"
}

@test "user and group come from the config: daemon/mail" {
	start_pysink -u
	start_proxy 'user daemon' 'group mail'
	local u g
	u=$(id -u daemon) g=$(getent group mail | cut -d: -f3)
	session_status "$TMP/status" 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 221"
	assert_ids "$TMP/status" "$u" "$g"
	wait_pysink "^1 connect peer pid=[0-9]+ uid=$u gid=$g\$"
}

@test "root-only (0600, in a 0700 folder) tables and TLS key were opened before the drop: they work" {
	make_cert
	mkdir -m 700 "$TMP/private"
	printf 'local.test\n' >"$TMP/private/domains.txt"
	printf '127.0.0.2 OK\n' >"$TMP/private/nets.txt"
	mk -t domains "$TMP/private/domains.txt" "$TMP/private/domains.cdb" >/dev/null
	mk -t networks "$TMP/private/nets.txt" "$TMP/private/nets.cdb" >/dev/null
	mv "$TMP/tls/key.pem" "$TMP/private/key.pem"
	chmod 600 "$TMP/private/"*
	# the session's user could not open them itself
	run setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$TMP/private/domains.cdb"
	[[ $status != 0 ]] || fail "nobody can read the table: the test proves nothing"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$TMP/private/key.pem"
	[[ $status != 0 ]] || fail "nobody can read the key: the test proves nothing"
	start_sink
	NO_RELAYCLIENT=1 start_proxy "local_domains cdb:$TMP/private/domains.cdb" \
		"relay_clients cdb:$TMP/private/nets.cdb" \
		"tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/private/key.pem"
	# a stranger: local mail yes, relaying no (a 554 decided by the tables,
	# not a 451 table error)
	run smtp -b 127.0.0.3 'EHLO client.test\r\n' =1 'MAIL FROM:<s@sender.test>\r\n' =1 \
		'RCPT TO:<u@local.test>\r\n' =1 'RCPT TO:<u@far.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 554 221"
	assert_reply '554 5\.7\.1 <u@far\.test>: Relay access denied'
	# the relay client, over STARTTLS with the root-only key
	run in_tls -b 127.0.0.2 'MAIL FROM:<s@sender.test>\r\n' =1 'RCPT TO:<u@far.test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: tls\r\n\r\nroot-only key\r\n.\r\n' =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 250 250 354 250 221"
	[[ $output == *"# tls TLSv1."* ]] || fail "no TLS handshake" "$output"
	settle
	[[ $(sink_count) == 1 ]] || fail "the backend has $(sink_count) messages"
	refute_log 'table-error'
	assert_log 'event=summary client=127\.0\.0\.2 .*tls=TLSv1\.[23]'
}

@test "user root: the session refuses to run (exit 111, fatal log line), no greeting, no backend" {
	start_pysink
	ALLOW_NONZERO_EXIT=1
	start_proxy 'user root'
	run smtp -G -t 5
	[[ $status == 0 || $status == 4 ]] || fail "rawsmtp status $status (left hanging?)" "$output"
	[[ -z $output ]] || fail "the client got something:" "$output"
	# and a client that talks first gets nothing either
	run smtp -G -t 5 'EHLO client.test\r\n' 'MAIL FROM:<s@sender.test>\r\n'
	refute_reply '[0-9]{3}'
	wait_sessions_done
	assert_log 'event=fatal reason="still privileged as root"'
	[[ $(grep -c 'EXIT: .*status=111' "$TMP/xinetd.log") == 2 ]] ||
		fail "expected two exits with status 111:" "$(grep EXIT "$TMP/xinetd.log")"
	refute_log 'event=connect'
	[[ ! -s $PYSINK_LOG ]] || fail "the backend was contacted:" "$(cat "$PYSINK_LOG")"
}

@test "user root with group root: refused the same way" {
	start_pysink
	ALLOW_NONZERO_EXIT=1
	start_proxy 'user root' 'group root'
	run smtp -G -t 5
	[[ -z $output ]] || fail "the client got something:" "$output"
	wait_sessions_done
	assert_log 'event=fatal reason="still privileged as root"'
	grep -q 'EXIT: .*status=111' "$TMP/xinetd.log" || fail "exit:" "$(grep EXIT "$TMP/xinetd.log")"
}

@test "unknown user or group: a clear error (log line, exit 111), no service; -n names them (exit 100)" {
	start_pysink
	ALLOW_NONZERO_EXIT=1
	start_proxy 'user no-such-user-7'
	run smtp -G -t 5
	[[ -z $output ]] || fail "the client got something:" "$output"
	wait_sessions_done
	assert_log 'event=fatal reason="unknown user no-such-user-7"'
	grep -q 'EXIT: .*status=111' "$TMP/xinetd.log" || fail "exit:" "$(grep EXIT "$TMP/xinetd.log")"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 100 ]] || fail "-n status $status" "$output"
	[[ $output == *"user no-such-user-7 or group nogroup does not exist"* ]] || fail "$output"

	stop_pid "$XINETD_PID"
	XINETD_PID=
	start_proxy 'group no-such-group-7'
	run smtp -G -t 5
	[[ -z $output ]] || fail "the client got something:" "$output"
	wait_sessions_done
	assert_log 'event=fatal reason="unknown group no-such-group-7"'
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == 100 ]] || fail "-n status $status" "$output"
	[[ -s $PYSINK_LOG ]] && fail "the backend was contacted:" "$(cat "$PYSINK_LOG")"
	true
}

@test "-n refuses a configuration whose sessions would run as root" {
	start_pysink
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" 'user root'
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status != 0 ]] || fail "-n says the configuration is fine (status 0):" "$output"
}
