#!/usr/bin/env bats
# spf: SPF (issue 16): libspf2 over the DNS policy's c-ares channel, against
# lib/dns.bash's dnsmasq with the TXT records below. Each result (pass,
# fail, softfail, neutral, none, temperror, permerror) is logged
# (event=spf), weighted on the score (SPF_<RESULT>=w on the score line and in
# X-Smtpproxy-Score) and written to the backend as Received-SPF; spf_reject
# fail refuses 550 5.7.23, spf_mode test only logs it; a record whose
# lookups hang keeps RCPT within timeout_dns.
#
# Clients are 127.0.0.x (smtp -b): no free pass for loopback here.

load lib/common
load lib/dns

SPF_RECORDS=(
	'--txt-record=pass.test,v=spf1 ip4:127.0.0.2 -all'
	'--txt-record=soft.test,v=spf1 ip4:127.0.0.2 ~all'
	'--txt-record=neutral.test,v=spf1 ?all'
	'--txt-record=inc.test,v=spf1 include:pass.test -all'
	'--txt-record=void.test,v=spf1 a:v1.nx.test a:v2.nx.test a:v3.nx.test ip4:127.0.0.2 -all'
	'--txt-record=big.test,v=spf1 a:four.test a:four.test a:four.test a:four.test a:four.test a:four.test a:four.test a:four.test a:four.test a:four.test a:four.test ip4:127.0.0.2 -all'
	'--txt-record=exp.test,v=spf1 ip4:127.0.0.2 -all exp=why.exp.test'
	'--txt-record=why.exp.test,%{i} is not one of %{d}s mail servers'
	'--txt-record=helo.test,v=spf1 ip4:127.0.0.3 -all'
	'--txt-record=hang.test,v=spf1 include:y.dead.test -all'
	'--txt-record=expdead.test,v=spf1 -all exp=x.dead.test'
)

setup_file() {
	common_setup_file
	start_dns "${SPF_RECORDS[@]}"
}
teardown_file() { dns_teardown_file; }
setup() {
	common_setup
	start_sink
}
teardown() { dns_teardown; }

# the thresholds out of the way: the SPF weight alone is the score
QUIET=('spf yes' 'reject_score 100' 'defer_score 100')

# spf_deliver ADDR HELO FROM: one message from ADDR; it reaches the sink;
# MSG is its file there
spf_deliver() {
	local before
	before=$(sink_files)
	run smtp -b "$1" "EHLO $2\\r\\n" =1 "MAIL FROM:<$3>\\r\\n" =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: spf\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	settle
	MSG=$(comm -13 <(echo "$before") <(sink_files))
	[[ -n $MSG && -f $MSG ]] || fail "no message at the sink" "--- output:" "$output"
}

# received_spf: the message's Received-SPF header, unfolded
received_spf() {
	awk '/^Received-SPF: /{h=$0; on=1; next} on && /^\t/{h=h " " substr($0,2); next} {on=0} END{print h}' "$MSG" | tr -d '\r'
}

# assert_spf ADDR RESULT IDENTITY DOMAIN: the event=spf line
assert_spf() {
	wait_log "event=spf client=$(re_escape "$1") identity=$3 domain=$(re_escape "$4") result=$2 "
}

# spf_case ADDR HELO FROM RESULT WEIGHT: delivered, logged, weighted,
# Received-SPF says RESULT
spf_case() {
	start_dns_proxy "${QUIET[@]}"
	spf_deliver "$1" "$2" "$3"
	assert_spf "$1" "$4" mailfrom "${3#*@}"
	assert_score "$1" accept "$5" "SPF_${4^^}=$5"
	[[ $(received_spf) == "Received-SPF: $4 ("*") client-ip=$1; envelope-from=$3; helo=$2; receiver="*"; identity=mailfrom" ]] ||
		fail "Received-SPF: $(received_spf)"
	assert_log "event=summary client=$(re_escape "$1") .* spf=$4\$"
}

@test "pass: ip4 matches" {
	spf_case 127.0.0.2 good.test a@pass.test pass -0.5
	[[ $(received_spf) == *"(proxy.test: domain of pass.test designates 127.0.0.2 as permitted sender)"* ]] ||
		fail "comment: $(received_spf)"
}

@test "fail: -all, weight 3.5 by default" {
	spf_case 127.0.0.3 three.test a@pass.test fail 3.5
}

@test "softfail: ~all" {
	spf_case 127.0.0.3 three.test a@soft.test softfail 1.5
}

@test "neutral: ?all" {
	spf_case 127.0.0.3 three.test a@neutral.test neutral 0
}

@test "none: no record" {
	spf_case 127.0.0.2 good.test a@mail.test none 0
}

@test "pass via include" {
	spf_case 127.0.0.2 good.test a@inc.test pass -0.5
}

@test "permerror: more than 2 void lookups (RFC 7208 4.6.4)" {
	spf_case 127.0.0.2 good.test a@void.test permerror 0.5
	assert_log 'event=spf .*reason=".*too many void DNS lookups"'
}

@test "permerror: more than 10 DNS lookups" {
	spf_case 127.0.0.2 good.test a@big.test permerror 0.5
}

@test "temperror: the record's lookup times out, within timeout_dns" {
	start_dns_proxy "${QUIET[@]}" 'timeout_dns 1'
	spf_deliver 127.0.0.2 good.test a@x.dead.test
	assert_spf 127.0.0.2 temperror mailfrom x.dead.test
	[[ $(received_spf) == "Received-SPF: temperror ("* ]] || fail "$(received_spf)"
}

@test "bounded: a record whose include hangs keeps RCPT within timeout_dns" {
	# the SPF lookups and the lists' share one deadline: 3 s, not 6 s
	start_dns_proxy "${QUIET[@]}" 'timeout_dns 3' 'rhsbl y.dead.test 1 0'
	T0=$(now_ms)
	run smtp -b 127.0.0.2 'EHLO good.test\r\n' =1 'MAIL FROM:<a@hang.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	T1=$(now_ms)
	assert_codes "220 250 250 250 221"
	assert_took_ms 2500 5500
	assert_spf 127.0.0.2 temperror mailfrom hang.test
	assert_score 127.0.0.2 accept "*" "DNSERR(y.dead.test)=0" SPF_TEMPERROR=0
	grep -q 'query y.dead.test' "$DNS_DIR/dead.log" || fail "the include was not asked"
}

@test "Received-SPF: what the client wrote is cleaned (no quote, semicolon or parenthesis gets in)" {
	start_dns_proxy "${QUIET[@]}"
	spf_deliver 127.0.0.2 'we;ird"(x)' 'a+b@pass.test'
	[[ $(received_spf) == "Received-SPF: pass ("*") client-ip=127.0.0.2; envelope-from=a+b@pass.test; helo=we?ird??x?; receiver=proxy.test; identity=mailfrom" ]] ||
		fail "$(received_spf)"
	# three lines: the header and its two folded continuations
	[[ $(awk '/^Received-SPF: /{on=1; n=1; next} on && /^\t/{n++; next} {on=0} END{print n}' "$MSG") == 3 ]] ||
		fail "$(grep -A3 '^Received-SPF' "$MSG")"
}

@test "HELO identity when MAIL FROM is null" {
	start_dns_proxy "${QUIET[@]}"
	spf_deliver 127.0.0.2 helo.test ''
	assert_spf 127.0.0.2 fail helo helo.test
	[[ $(received_spf) == "Received-SPF: fail ("*") client-ip=127.0.0.2; helo=helo.test; receiver="*"; identity=helo" ]] ||
		fail "$(received_spf)"
	: >"$TMP/smtpproxy.log"
	spf_deliver 127.0.0.3 helo.test ''
	assert_spf 127.0.0.3 pass helo helo.test
}

@test "weights add to the DNS score and X-Smtpproxy-Score; spf_weights overrides" {
	start_dns_proxy 'spf yes' 'reject_score 100' 'defer_score 100' \
		'dnsbl dnsbl.test 5 0' "$(dns_heuristics_off)" 'add_score_header yes' \
		'spf_weights fail=2.25'
	spf_deliver 127.0.0.2 good.test a@soft.test
	assert_score 127.0.0.2 accept 4.5 "DNSBL(dnsbl.test)=5" SPF_PASS=-0.5
	grep -q '^X-Smtpproxy-Score: 4.50 (.*SPF_PASS=-0.50' "$MSG" ||
		fail "$(grep X-Smtpproxy "$MSG")"
	: >"$TMP/smtpproxy.log"
	spf_deliver 127.0.0.4 four.test a@pass.test
	assert_score 127.0.0.4 accept 2.25 "NOT_IN_DNSBL(dnsbl.test)=0" SPF_FAIL=2.25
	assert_log "event=summary client=127\\.0\\.0\\.4 .* score=2\\.25 .* spf=fail\$"
}

@test "spf weight reaches reject_score: the DNS policy's 550 5.7.1" {
	start_dns_proxy 'spf yes'
	run smtp -b 127.0.0.3 'EHLO three.test\r\n' =1 'MAIL FROM:<a@soft.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	assert_reply '550 5\.7\.1 Client \[127\.0\.0\.3\] refused \(score 1\.50\): score$'
}

@test "spf_reject fail: 550 5.7.23 with the domain's explanation" {
	start_dns_proxy 'spf yes' 'spf_reject fail' 'reject_score 100' 'defer_score 100' \
		'timeout_dns 2'
	run smtp -b 127.0.0.3 'EHLO three.test\r\n' =1 'MAIL FROM:<a@exp.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	assert_reply '550 5.7.23 Message rejected due to: SPF fail - not authorized. 127.0.0.3 is not one of exp.tests mail servers'
	run smtp -b 127.0.0.3 'EHLO three.test\r\n' =1 'MAIL FROM:<a@pass.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	assert_reply '550 5.7.23 Message rejected due to: SPF fail - not authorized. pass.test does not designate 127.0.0.3 as a permitted sender'
	assert_log 'event=reject client=127\.0\.0\.3 cmd=RCPT reply="550 5\.7\.23 '
	# an explanation that never comes leaves the fail a fail
	run smtp -b 127.0.0.3 'EHLO three.test\r\n' =1 'MAIL FROM:<a@expdead.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	assert_reply '550 5.7.23 Message rejected due to: SPF fail - not authorized. expdead.test does not designate 127.0.0.3 as a permitted sender'
	# a softfail is not refused
	spf_deliver 127.0.0.3 three.test a@soft.test
}

@test "spf_reject fail: relay clients are not checked" {
	NO_RELAYCLIENT='' start_dns_proxy 'spf yes' 'spf_reject fail'
	spf_deliver 127.0.0.3 three.test a@pass.test
	refute_log 'event=spf '
	! grep -q '^Received-SPF' "$MSG" || fail "a Received-SPF for a relay client"
}

@test "spf_mode test: the 550 5.7.23 is logged as would-reject and the message delivered" {
	start_dns_proxy 'spf yes' 'spf_reject fail' 'reject_score 100' 'defer_score 100' \
		'spf_mode test'
	spf_deliver 127.0.0.3 three.test a@pass.test
	assert_log 'event=would-reject client=127\.0\.0\.3 cmd=RCPT reply="550 5\.7\.23 Message rejected due to: SPF fail - not authorized\. pass\.test does not designate 127\.0\.0\.3 as a permitted sender"'
	refute_log 'event=reject '
	[[ $(received_spf) == "Received-SPF: fail "* ]] || fail "$(received_spf)"
}

@test "policy_mode test with spf_mode enforce: still refused" {
	start_dns_proxy 'spf yes' 'spf_reject fail' 'reject_score 100' 'defer_score 100' \
		'policy_mode test' 'spf_mode enforce'
	run smtp -b 127.0.0.3 'EHLO three.test\r\n' =1 'MAIL FROM:<a@pass.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'QUIT\r\n'
	assert_reply '550 5.7.23 '
}

@test "-T -d explains the result, the record and test mode; -n reports SPF" {
	printf 'local.test\n' >"$TMP/local.txt"
	dns_mkcdb -t domains "$TMP/local.txt" "$TMP/local.cdb" >/dev/null
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" \
		"hostname proxy.test" "$(dns_conf_lines)" "local_domains cdb:$TMP/local.cdb" \
		'spf yes' 'spf_reject fail' \
		'spf_mode test' 'reject_score 100' 'defer_score 100'
	NO_RELAYCLIENT=1 run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -d -T '[127.0.0.3]' \
		< <(printf 'EHLO three.test\r\nMAIL FROM:<a@pass.test>\r\nRCPT TO:<user@local.test>\r\nQUIT\r\n')
	[[ $status == 0 ]] || fail "exit $status" "$output"
	[[ $output == *'spf: pass.test: record "v=spf1 ip4:127.0.0.2 -all"'* ]] || fail "$output"
	[[ $output == *'event=spf client=127.0.0.3 identity=mailfrom domain=pass.test result=fail'* ]] || fail "$output"
	[[ $output == *'test mode (spf_mode): would reply "550 5.7.23 '* ]] || fail "$output"
	check_conf 0 'spf: on (libspf2 over c-ares, bounded by timeout_dns' \
		'spf_reject fail (spf_mode test: only logged)'
}

@test "spf_weights: a bad value is an error with file:line" {
	write_conf "backend $BACKEND" 'spf_weights fail=lots'
	check_conf 100 "smtpproxy.conf:2: spf_weights: expected result=weight"
}
