#!/usr/bin/env bats
# auth_saslauthd: SMTP AUTH whose passwords libsasl2 checks through a real
# saslauthd (pwcheck_method: saslauthd, as the man page says works), one
# private saslauthd per test: "saslauthd -d -n 0 -a sasldb -m
# $TMP/saslauthd/run", in the foreground, its sasldb bind-mounted over
# /etc/sasldb2 in a mount namespace of its own (lib/auth.bash says why).
# PLAIN and LOGIN succeed and the login reaches a real Postfix through
# XCLIENT; a wrong password and an unknown user get the same 535; saslauthd
# down is a temporary failure, 454, never 235 nor 535; a session without
# AUTH never talks to saslauthd.

load lib/common
load lib/auth

setup() {
	common_setup
	make_cert
	make_saslauthd
	start_saslauthd
}

teardown() {
	stop_saslauthd
	common_teardown
}

# start_sa_proxy [config lines]: the proxy with STARTTLS, offering the two
# mechanisms saslauthd can check (it needs the password itself)
start_sa_proxy() {
	start_auth_proxy 'sasl_mechanisms PLAIN LOGIN' "$@"
}

sa_count_at_least() {
	local n
	n=$(grep -Ec -- "$2" "$TMP/saslauthd.log" 2>/dev/null) || n=0
	((n >= $1))
}

# sa_wait_count N REGEX: wait until N lines of saslauthd's log match REGEX
# (it logs a verdict before it answers, "response: ..." just after)
sa_wait_count() {
	wait_until sa_count_at_least "$1" "$2" || {
		echo "--- saslauthd.log:" >&2
		cat "$TMP/saslauthd.log" >&2
		return 1
	}
}

# sa_count REGEX: lines of saslauthd's log that match REGEX
sa_count() {
	grep -Ec -- "$1" "$TMP/saslauthd.log" || true
}

# session_maps NAME: a "!" item for tlssmtp that stores what the running
# session has mapped in $TMP/maps.NAME
session_maps() {
	echo "!cat /proc/\$(pgrep -n -P $XINETD_PID)/maps > $TMP/maps.$1"
}

@test "AUTH PLAIN and LOGIN checked by saslauthd: 235 2.7.0, and the login reaches Postfix through XCLIENT" {
	start_postfix
	start_sa_proxy
	local q1 q2
	swaks_proxy --tls --auth PLAIN --auth-user alice --auth-password "$ALICE_PW" \
		--body 'plain body'
	[[ $status == 0 ]] || fail "swaks PLAIN status $status" "$output"
	assert_swaks_codes "220 250 220 250 235 250 250 354 250 221"
	assert_swaks_reply '250-AUTH PLAIN LOGIN$'
	assert_swaks_reply '235 2\.7\.0 Authentication successful'
	q1=$(queue_id)
	swaks_proxy --tls --auth LOGIN --auth-user bob --auth-password "$BOB_PW" \
		--body 'login body'
	[[ $status == 0 ]] || fail "swaks LOGIN status $status" "$output"
	assert_swaks_codes "220 250 220 250 334 334 235 250 250 354 250 221"
	q2=$(queue_id)
	[[ -n $q1 && -n $q2 ]] || fail "no queue ids: '$q1' '$q2'"

	# saslauthd gave both verdicts (libsasl2 has no password of its own)
	sa_wait_count 1 'auth success: \[user=alice\] \[service=smtp\] '
	sa_wait_count 1 'auth success: \[user=bob\] \[service=smtp\] '
	sa_wait_count 2 'response: OK$'
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=PLAIN login=alice$'
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=LOGIN login=bob$'

	# and the backend learnt each login through XCLIENT LOGIN=
	pf_settle
	pf_wait_count 2
	grep -Eq "postfix/smtpd\[[0-9]+\]: $q1: client=[^ ]*\[127\.0\.0\.1\], sasl_method=XCLIENT, sasl_username=alice$" \
		"$TMP/postfix.log" || fail "Postfix log for $q1:" "$(grep "$q1" "$TMP/postfix.log")"
	grep -Eq "postfix/smtpd\[[0-9]+\]: $q2: client=[^ ]*\[127\.0\.0\.1\], sasl_method=XCLIENT, sasl_username=bob$" \
		"$TMP/postfix.log" || fail "Postfix log for $q2:" "$(grep "$q2" "$TMP/postfix.log")"
	grep -Eq "with ESMTPA id $q1" "$PF_DIR/mail/$q1.eml" ||
		fail "Received header:" "$(head -3 "$PF_DIR/mail/$q1.eml")"
	grep -qx 'plain body' "$PF_DIR/mail/$q1.eml"
	grep -qx 'login body' "$PF_DIR/mail/$q2.eml"
	assert_log 'event=summary .* tls=TLSv1\.3:.* login=alice .*accepted=1 '
	assert_log 'event=summary .* tls=TLSv1\.3:.* login=bob .*accepted=1 '
	no_secret_in_log "$TMP/saslauthd.log"
}

@test "wrong password and unknown user: saslauthd says NO, the same 535 5.7.8, event=auth-failed without the user" {
	start_sink
	start_sa_proxy 'max_auth_failures 10'
	run in_tls "$(auth_plain alice wrong-Pa55word)" =1 \
		"$(auth_plain nobody-here wrong-Pa55word)" =1 \
		'AUTH LOGIN\r\n' =1 "$(b64 bob)\\r\\n" =1 "$(b64 wrong-Pa55word)\\r\\n" =1 \
		'AUTH LOGIN\r\n' =1 "$(b64 nobody-here)\\r\\n" =1 "$(b64 wrong-Pa55word)\\r\\n" =1 \
		"$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 535 535 334 334 535 334 334 535 235 221"
	# one text for every failure, whoever the user
	[[ $(plain | grep '^535' | sort -u) == "535 5.7.8 Authentication credentials invalid" ]] ||
		fail "different failure replies:" "$(plain | grep '^535')"
	settle
	assert_auth_failures 2 PLAIN
	assert_auth_failures 2 LOGIN
	refute_log 'event=auth-failed.*(alice|bob|nobody-here)'
	[[ $(grep -c 'event=auth ' "$TMP/smtpproxy.log") == 1 ]] ||
		fail "success lines:" "$(grep 'event=auth ' "$TMP/smtpproxy.log")"
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=PLAIN login=alice$'
	assert_log 'event=summary .* login=alice .*result=quit'

	# four verdicts of saslauthd's own, then the good one
	sa_wait_count 5 'response: (OK|NO)'
	[[ $(sa_count 'auth failure: \[user=alice\] ') == 1 &&
		$(sa_count 'auth failure: \[user=bob\] ') == 1 &&
		$(sa_count 'auth failure: \[user=nobody-here\] ') == 2 &&
		$(sa_count 'response: NO') == 4 &&
		$(sa_count 'auth success: \[user=alice\] ') == 1 &&
		$(sa_count 'response: OK') == 1 ]] ||
		fail "saslauthd's log:" "$(cat "$TMP/saslauthd.log")"
	no_secret_in_log "$TMP/saslauthd.log"
}

@test "saslauthd stopped or killed: 454 4.7.0 Temporary authentication failure, never 235 nor 535" {
	start_sink
	start_sa_proxy 'max_auth_failures 2'

	# stopped (SIGTERM): saslauthd removed its socket
	stop_saslauthd
	[[ ! -e $TMP/saslauthd/run/mux ]] || fail "saslauthd left its socket behind"
	run in_tls "$(auth_plain alice "$ALICE_PW")" =1 \
		'AUTH LOGIN\r\n' =1 "$(b64 alice)\\r\\n" =1 "$(b64 "$ALICE_PW")\\r\\n" =1 \
		'MAIL FROM:<s@remote.test>\r\n' =1 'QUIT\r\n' =1
	refute_reply '(235|535)'
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 454 334 334 454 250 221"
	assert_reply_count 2 '454 4\.7\.0 Temporary authentication failure$'
	assert_log 'cannot connect to saslauthd server: No such file or directory'

	# killed (SIGKILL): the socket file is left, connect(2) is refused
	start_saslauthd
	stop_saslauthd KILL
	[[ -S $TMP/saslauthd/run/mux ]] || fail "no socket file left by SIGKILL"
	run in_tls "$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n' =1
	refute_reply '(235|535)'
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 454 221"
	assert_log 'cannot connect to saslauthd server: Connection refused'

	# back again: the same password is good
	start_saslauthd
	run in_tls "$(auth_plain alice "$ALICE_PW")" =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 235 221"
	settle
	refute_log 'event=auth-failed'
	refute_log 'result=too-many-auth-failures'
	[[ $(grep -c 'event=auth ' "$TMP/smtpproxy.log") == 1 ]] ||
		fail "success lines:" "$(grep 'event=auth ' "$TMP/smtpproxy.log")"
	# the first saslauthd heard nothing, the second was killed unasked
	sa_wait_count 1 'auth success: \[user=alice\] '
	[[ $(sa_count 'response: ') == 1 ]] || fail "saslauthd's log:" "$(cat "$TMP/saslauthd.log")"
}

@test "a session without AUTH never contacts saslauthd nor loads libsasl2; one AUTH is one request" {
	start_sink
	start_sa_proxy
	local before
	before=$(wc -l <"$TMP/saslauthd.log")
	run in_tls 'MAIL FROM:<s@remote.test>\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: no auth\r\n\r\nbody\r\n.\r\n' =1 \
		"$(session_maps plain)" 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 250 250 354 250 221"
	assert_reply '250-AUTH PLAIN LOGIN$'
	settle
	[[ $(sink_count) == 1 ]] || fail "sink has $(sink_count) messages"
	# the session is over: whatever it asked saslauthd is logged by now
	[[ $(wc -l <"$TMP/saslauthd.log") == "$before" ]] ||
		fail "saslauthd was asked something:" "$(tail -n +$((before + 1)) "$TMP/saslauthd.log")"
	grep -q 'smtpproxy' "$TMP/maps.plain" || fail "no maps of the session:" "$(head "$TMP/maps.plain")"
	grep -q 'libsasl2\.so' "$TMP/maps.plain" && fail "libsasl2 mapped in a session without AUTH"
	refute_log 'event=sasl'
	assert_log 'event=summary .* login=- .*accepted=1 '

	# the control: one AUTH, one request, one verdict
	run in_tls "$(auth_plain alice "$ALICE_PW")" =1 "$(session_maps auth)" 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 235 221"
	settle
	grep -q 'libsasl2\.so' "$TMP/maps.auth" || fail "libsasl2 not mapped after AUTH"
	sa_wait_count 1 'response: OK$'
	[[ $(sa_count 'auth (success|failure)') == 1 ]] ||
		fail "saslauthd's log:" "$(cat "$TMP/saslauthd.log")"
}
