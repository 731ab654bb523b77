#!/usr/bin/env bats
# policy_dryrun: test mode (issue 16's dry-run): policy_mode, dns_policy_mode
# and helo_policy_mode. Each rule that refuses runs twice with the same
# session: in enforce mode (its refusal is the reference), then in test mode,
# where the message reaches smtp-sink and the log holds
# event=would-reject with exactly the reply enforce mode sent. Relay
# refusals stay refused; a family's key wins over policy_mode both ways; a
# refusal not sent is neither tarpitted nor counted toward max_errors; -T -d
# traces what test mode did not send.
#
# The DNS is lib/dns.bash's (rbldnsd behind dnsmasq): 127.0.0.2 is listed by
# dnsbl.test, nomx.test has neither MX nor A, dead.test never answers.

load lib/common
load lib/dns

# one DNS for the whole file, a sink per test: lib/dns.bash
dns_file_fixture

LISTED=("dnsbl dnsbl.test 5 0")

# items_to_rcpt HELO FROM RCPT: the rawsmtp items EHLO, MAIL, RCPT
items_to_rcpt() {
	ITEMS=("EHLO $1\\r\\n" =1 "MAIL FROM:<$2>\\r\\n" =1 "RCPT TO:<$3>\\r\\n" =1)
}

# refusal_of_enforce ADDR HELO FROM RCPT: run EHLO/MAIL/RCPT from ADDR in
# enforce mode; REFUSAL gets its first 4xx/5xx reply (the commands after
# a refused one may hear 503 for their order)
refusal_of_enforce() {
	items_to_rcpt "$2" "$3" "$4"
	run smtp -b "$1" "${ITEMS[@]}" 'QUIT\r\n'
	REFUSAL=$(plain | grep -E -m1 '^[45][0-9]{2} ')
	[[ -n $REFUSAL && $REFUSAL != 503* ]] ||
		fail "enforce mode: no policy refusal" "--- output:" "$output"
}

# deliver ADDR HELO FROM RCPT: the same session, then DATA and a message;
# every reply is positive and the message reaches the sink
deliver() {
	local before
	before=$(sink_count)
	items_to_rcpt "$2" "$3" "$4"
	run smtp -b "$1" "${ITEMS[@]}" 'DATA\r\n' =1 \
		'Subject: dry run\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	settle
	[[ $(sink_count) == $((before + 1)) ]] ||
		fail "the message did not reach the sink" "--- output:" "$output"
}

# assert_would_reject ADDR CMD: the log has the would-reject line of ADDR
# and CMD with REFUSAL as its reply, byte for byte, and no reject line
assert_would_reject() {
	local want="event=would-reject client=$1 cmd=$2 reply=\"$REFUSAL\""
	wait_log "event=summary client=$(re_escape "$1") "
	grep -qF -- "$want" "$TMP/smtpproxy.log" ||
		fail "no log line: $want" "--- log:" "$(cat "$TMP/smtpproxy.log")"
	refute_log "event=reject client=$(re_escape "$1") "
}

# dry_run_case PROXY ADDR HELO FROM RCPT CMD LINE...: enforce mode refuses
# (PROXY start_proxy or start_dns_proxy, with the LINEs), then the same
# lines with policy_mode test deliver and log the same reply
dry_run_case() {
	local proxy=$1 addr=$2 helo=$3 from=$4 rcpt=$5 cmd=$6
	shift 6
	$proxy "$@"
	refusal_of_enforce "$addr" "$helo" "$from" "$rcpt"
	settle
	stop_proxy
	: >"$TMP/smtpproxy.log"
	$proxy "$@" 'policy_mode test'
	deliver "$addr" "$helo" "$from" "$rcpt"
	assert_would_reject "$addr" "$cmd"
}

# ----------------------------------------------------------- DNS policy

@test "DNS policy 550 5.7.1 (reject_score): test mode delivers and logs the exact reply" {
	dry_run_case start_dns_proxy 127.0.0.2 good.test a@mail.test user@local.test RCPT \
		"${LISTED[@]}" "$(dns_heuristics_off)"
	[[ $REFUSAL == "550 5.7.1 Client [127.0.0.2] refused (score "*"): listed by dnsbl.test: "* ]] ||
		fail "not the DNS refusal: $REFUSAL"
	assert_score 127.0.0.2 reject 5
}

@test "DNS policy 450 4.7.1 (defer_score): test mode delivers and logs the exact reply" {
	dry_run_case start_dns_proxy 127.0.0.2 good.test a@mail.test user@local.test RCPT \
		"${LISTED[@]}" 'reject_score 10' 'defer_score 1' "$(dns_heuristics_off)"
	[[ $REFUSAL == "450 4.7.1 Client [127.0.0.2] deferred (score "* ]] ||
		fail "not the DNS deferral: $REFUSAL"
}

@test "DNS policy 451 4.4.3 (dns_error_action defer): test mode delivers and logs the exact reply" {
	dry_run_case start_dns_proxy 127.0.0.1 good.test a@mail.test user@local.test RCPT \
		'dnsbl x.dead.test 5 0' 'dns_error_action defer' 'timeout_dns 1' \
		"$(dns_heuristics_off)"
	[[ $REFUSAL == "451 4.4.3 Temporary DNS failure, try again later" ]] ||
		fail "not the DNS failure: $REFUSAL"
}

# ---------------------------------------------------------- HELO checks

@test "HELO !text (550 5.7.1 at EHLO): test mode delivers and logs the exact reply" {
	dry_run_case start_proxy 127.0.0.1 bad.test a@mail.test r@b.test EHLO \
		'helo bad.test !No mail from your machine'
	[[ $REFUSAL == "550 5.7.1 No mail from your machine" ]] ||
		fail "not the HELO refusal: $REFUSAL"
}

@test "HELO !text with delay_reject (550 5.7.1 at RCPT): test mode delivers and logs the exact reply" {
	dry_run_case start_proxy 127.0.0.1 bad.test a@mail.test r@b.test RCPT \
		'delay_reject yes' 'helo bad.test !No mail from your machine'
	[[ $REFUSAL == "550 5.7.1 No mail from your machine" ]] ||
		fail "not the HELO refusal: $REFUSAL"
}

@test "f flag (550 5.1.8 at MAIL): test mode delivers and logs the exact reply" {
	dry_run_case start_dns_proxy 127.0.0.1 check.test a@nomx.test user@local.test MAIL \
		'helo check.test f' "$(dns_heuristics_off)"
	[[ $REFUSAL == "550 5.1.8 <a@nomx.test>: Sender address domain not found" ]] ||
		fail "not the f refusal: $REFUSAL"
}

@test "f flag lookup failure (451 4.1.8): test mode delivers and logs the exact reply" {
	dry_run_case start_dns_proxy 127.0.0.1 check.test a@dead.test user@local.test MAIL \
		'helo check.test f' 'timeout_dns 1' "$(dns_heuristics_off)"
	[[ $REFUSAL == "451 4.1.8 <a@dead.test>: Sender address domain lookup failed" ]] ||
		fail "not the f failure: $REFUSAL"
}

@test "t flag (550 5.1.2 at RCPT): test mode delivers and logs the exact reply" {
	NO_RELAYCLIENT='' dry_run_case start_dns_proxy 127.0.0.1 check.test a@mail.test \
		u@nomx.test RCPT 'helo check.test t' "$(dns_heuristics_off)"
	[[ $REFUSAL == "550 5.1.2 <u@nomx.test>: Recipient address domain not found" ]] ||
		fail "not the t refusal: $REFUSAL"
}

@test "helo_syntax strict (501 5.5.2 at EHLO): test mode delivers and logs the exact reply" {
	dry_run_case start_proxy 127.0.0.1 'bad_name!' a@mail.test r@b.test EHLO \
		'helo_syntax strict'
	[[ $REFUSAL == "501 5.5.2 <bad_name!>: Invalid HELO name" ]] ||
		fail "not the syntax refusal: $REFUSAL"
}

# ------------------------------------------------------ never dry-run

@test "test mode: a relay refusal is still sent; the DNS verdict of a local recipient is only logged" {
	start_dns_proxy "${LISTED[@]}" "$(dns_heuristics_off)" 'policy_mode test'
	dns_session 127.0.0.2 good.test a@mail.test user@far.test user@local.test
	assert_codes "220 250 250 554 250 221"
	assert_reply '554 5\.7\.1 <user@far\.test>: Relay access denied'
	assert_log 'event=reject client=127\.0\.0\.2 cmd=RCPT reply="554 5\.7\.1 <user@far\.test>: Relay access denied"'
	assert_log 'event=would-reject client=127\.0\.0\.2 cmd=RCPT reply="550 5\.7\.1 Client \[127\.0\.0\.2\] refused '
}

@test "test mode: syntax errors, limits and TLS requirements are still sent" {
	start_proxy 'policy_mode test' 'helo_syntax strict' 'max_recipients 1' \
		'helo tls.test T'
	run smtp 'EHLO two words\r\n' =1 'EHLO ok.test\r\n' =1 'MAIL FROM:<a@b.test>\r\n' =1 \
		'RCPT TO:<r@b.test>\r\n' =1 'RCPT TO:<s@b.test>\r\n' =1 'RSET\r\n' =1 \
		'EHLO tls.test\r\n' =1 'MAIL FROM:<a@b.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 501 250 250 250 452 250 250 530 221"
	wait_log 'event=summary '
	refute_log 'event=would-reject'
}

# --------------------------------------------------- family keys win

@test "a family key wins over policy_mode, both ways" {
	local helo='helo bad.test !No mail from your machine'
	# policy_mode test, dns_policy_mode enforce: HELO logged, DNS refused
	start_dns_proxy "${LISTED[@]}" "$(dns_heuristics_off)" "$helo" \
		'policy_mode test' 'dns_policy_mode enforce'
	dns_session 127.0.0.2 bad.test a@mail.test
	assert_codes "220 250 250 550 221"
	assert_log 'event=would-reject client=127\.0\.0\.2 cmd=EHLO reply="550 5\.7\.1 No mail from your machine"'
	assert_log 'event=reject client=127\.0\.0\.2 cmd=RCPT reply="550 5\.7\.1 Client \[127\.0\.0\.2\] refused '
	stop_proxy
	: >"$TMP/smtpproxy.log"
	# policy_mode enforce, dns_policy_mode test: HELO refused, DNS logged
	start_dns_proxy "${LISTED[@]}" "$(dns_heuristics_off)" "$helo" \
		'policy_mode enforce' 'dns_policy_mode test'
	run smtp -b 127.0.0.2 'EHLO bad.test\r\n' =1 'EHLO good.test\r\n' =1 \
		'MAIL FROM:<a@mail.test>\r\n' =1 'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 550 250 250 250 221"
	assert_log 'event=reject client=127\.0\.0\.2 cmd=EHLO reply="550 5\.7\.1 No mail from your machine"'
	assert_log 'event=would-reject client=127\.0\.0\.2 cmd=RCPT reply="550 5\.7\.1 Client \[127\.0\.0\.2\] refused '
	stop_proxy
	: >"$TMP/smtpproxy.log"
	# policy_mode test, helo_policy_mode enforce: HELO refused
	start_dns_proxy "${LISTED[@]}" "$(dns_heuristics_off)" "$helo" \
		'policy_mode test' 'helo_policy_mode enforce'
	run smtp -b 127.0.0.2 'EHLO bad.test\r\n' =1 'EHLO good.test\r\n' =1 \
		'MAIL FROM:<a@mail.test>\r\n' =1 'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 550 250 250 250 221"
	assert_log 'event=would-reject client=127\.0\.0\.2 cmd=RCPT reply="550 5\.7\.1 Client \[127\.0\.0\.2\] refused '
	stop_proxy
	: >"$TMP/smtpproxy.log"
	# policy_mode enforce, helo_policy_mode test: HELO logged, DNS refused
	start_dns_proxy "${LISTED[@]}" "$(dns_heuristics_off)" "$helo" \
		'policy_mode enforce' 'helo_policy_mode test'
	dns_session 127.0.0.2 bad.test a@mail.test
	assert_codes "220 250 250 550 221"
	assert_log 'event=would-reject client=127\.0\.0\.2 cmd=EHLO reply="550 5\.7\.1 No mail from your machine"'
}

# ------------------------------------- not sent: not tarpitted, not counted

@test "test mode: a refusal not sent is neither tarpitted nor counted toward max_errors" {
	start_proxy 'policy_mode test' 'delay_reject yes' \
		'helo bad.test !No mail from your machine' 'max_errors 1' 'tarpit 3 0 0'
	timed run smtp 'EHLO bad.test\r\n' =1 'MAIL FROM:<a@b.test>\r\n' =1 \
		'RCPT TO:<r1@b.test>\r\n' =1 'RCPT TO:<r2@b.test>\r\n' =1 \
		'RCPT TO:<r3@b.test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: dry run\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 250 250 354 250 221"
	assert_took_ms 0 2500
	wait_log_count 3 'event=would-reject client=127\.0\.0\.1 cmd=RCPT reply="550 5\.7\.1 No mail from your machine"'
	settle
	[[ $(sink_count) == 1 ]] || fail "the message did not reach the sink"
}

# ------------------------------------------------------------------ -T -d

@test "-T -d: the trace says what test mode did not send, and which key decided" {
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" \
		"hostname proxy.test" 'helo bad.test !Go away'
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -d \
		-o policy_mode=test -T '[127.0.0.1]' < <(printf 'EHLO bad.test\r\nQUIT\r\n')
	[[ $status == 0 ]] || fail "exit $status" "$output"
	assert_codes "220 250 221"
	[[ $output == *'test mode (helo_policy_mode): would reply "550 5.7.1 Go away"; going on as if it passed'* ]] ||
		fail "no test mode trace" "--- output:" "$output"
	assert_log 'event=would-reject client=127\.0\.0\.1 cmd=EHLO reply="550 5\.7\.1 Go away"'
}
