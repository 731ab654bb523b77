#!/usr/bin/env bats
# helo_styles: ZMailer's HELO style table (issue 6) and the session policy
# around it: "helo glob flags|!text" lines and the helo_styles file (first
# match wins, \[*\] quoting), each style flag on and off (f t v e R S of
# ZMailer, T A N X of ours), !text now or at RCPT (delay_reject), the
# maxload column and max_load, max_error_recipients, max_unknown_commands,
# tarpit, greet_pause, helo_required, helo_syntax, greeting and HELP, and
# the -T -d trace of the matching pattern.
#
# Everything runs through xinetd with rawsmtp (tlssmtp for STARTTLS), but
# the -n and -T checks. The f and t flags ask the private DNS of lib/dns
# (dnsmasq + rbldnsd on loopback): mail.test has MX and A, aonly.test only
# A, nomx.test nothing (NXDOMAIN), dead.test never answers.

load lib/common
load lib/dns
load lib/auth

setup() {
	common_setup
	start_sink
}

teardown() {
	dns_teardown
}

# session HELO ITEM...: EHLO HELO, then the items, then QUIT
session() {
	local helo=$1
	shift
	run smtp "EHLO $helo\\r\\n" =1 "$@" 'QUIT\r\n'
}

# mail_from HELO FROM: EHLO HELO, MAIL FROM:FROM (as given), QUIT
mail_from() {
	session "$1" "MAIL FROM:$2\\r\\n" =1
}

# the -T runs: config file only (backend, log file, hostname, then lines)
t_conf() {
	write_conf "backend $BACKEND" "log_file $TMP/smtpproxy.log" \
		"hostname proxy.test" "$@"
}

# t_run [-o k=v...] -- DIALOGUE: smtpproxy -d -T '[127.0.0.1]' with the
# typed dialogue (printf format) on stdin; output (stdout+stderr) in $output
t_run() {
	local opts=()
	while [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	shift
	run proxy_env "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" -d "${opts[@]}" \
		-T '[127.0.0.1]' < <(printf '%b' "$1")
}

# assert_trace TEXT: the -d output holds this exact text
assert_trace() {
	[[ $output == *"$1"* ]] || fail "no trace: $1" "--- output:" "$output"
}

# load_above ZERO: /proc/loadavg's 1-minute figure is above 0.00; if the
# machine is idle, make a little load (one busy CPU, at most ~15 s in all)
load_is_up() {
	awk '{ exit !($1 > 0.001) }' /proc/loadavg
}

make_some_load() {
	local i
	for ((i = 0; i < 30; i++)); do
		load_is_up && return 0
		timeout 0.5 sh -c 'while :; do :; done' || true
	done
	load_is_up
}

# times_ms FILE: the gaps in ms between consecutive stamps (date +%s%N)
gaps_ms() {
	awk 'NR > 1 { printf "%d\n", ($1 - prev) / 1000000 } { prev = $1 }' "$1"
}

stamp() {
	echo "!date +%s%N >>$TMP/times"
}

# ------------------------------------------------------------ the table

@test "-T -d: the trace names the matching pattern and the flags applied" {
	t_conf 'helo bad.test !Go away' 'helo \[*\] ve' 'helo *.example.test fT'
	t_run -- 'EHLO [127.0.0.1]\r\nHELO mx.EXAMPLE.test\r\nEHLO other.test\r\nEHLO bad.test\r\nQUIT\r\n'
	[[ $status == 0 ]] || fail "exit $status" "$output"
	assert_codes "220 250 250 250 550 221"
	assert_trace 'helo: [127.0.0.1] matches pattern \[*\], flags ve'
	assert_trace 'helo: mx.EXAMPLE.test matches pattern *.example.test, flags fT'
	assert_trace 'helo: other.test matches no pattern, flags veR'
	assert_trace 'helo: bad.test matches pattern bad.test (refused)'
	assert_reply '550 5\.7\.1 Go away'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=EHLO reply="550 5\.7\.1 Go away"'
}

@test "first matching line wins, in the order of the file; globs ignore case" {
	start_proxy 'helo special.example.test !Special host refused' \
		'helo *.example.test T' 'helo *.TEST S'
	session special.example.test
	assert_codes "220 550 221"
	assert_reply '550 5\.7\.1 Special host refused'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=EHLO reply="550 5\.7\.1 Special host refused"'
	# the second line: T, not the S of the third
	session mx.example.test 'MAIL FROM:<a@b.test>\r\n' =1
	assert_codes "220 250 530 221"
	assert_reply '530 5\.7\.0 Must issue a STARTTLS command first'
	assert_log 'cmd=MAIL reply="530 5\.7\.0 Must issue a STARTTLS command first"'
	# the third line (S), whatever the case of the name
	mail_from Other.Test 'a@b.test'
	assert_codes "220 250 250 221"
	# no line: helo_default veR
	mail_from other.org 'a@b.test'
	assert_codes "220 250 501 221"
	assert_reply '501 5\.1\.7 Bad sender address syntax: address must be in angle brackets'
	assert_log 'cmd=MAIL reply="501 5\.1\.7 Bad sender address syntax'
}

@test "a broad pattern first hides the lines after it" {
	start_proxy 'helo *.test S' 'helo special.example.test !Special host refused'
	session special.example.test 'MAIL FROM:a@b.test\r\n' =1
	assert_codes "220 250 250 221"
	refute_reply '550'
	wait_log 'event=summary .*helo=special\.example\.test .*from=<a@b\.test>'
	refute_log 'Special host refused'
}

@test "quoted brackets: \\[*\\] matches an address literal, [set] is a set" {
	start_proxy 'helo \[*\] S' 'helo host[0-9].test S' 'helo [*] S'
	mail_from '[127.0.0.1]' 'a@b.test'
	assert_codes "220 250 250 221"
	mail_from '[IPv6:::1]' 'a@b.test'
	assert_codes "220 250 250 221"
	mail_from host7.test 'a@b.test'
	assert_codes "220 250 250 221"
	# not matched: default veR refuses the sloppy address
	mail_from hostx.test 'a@b.test'
	assert_codes "220 250 501 221"
	mail_from '127.0.0.1' 'a@b.test'
	assert_codes "220 250 501 221"
	wait_log_count 2 'cmd=MAIL reply="501 5\.1\.7'
	# unquoted "[*]" is a set of one character: it matches the name "*"
	t_conf 'helo [*] S'
	t_run -- 'EHLO [127.0.0.1]\r\nEHLO *\r\nQUIT\r\n'
	assert_trace 'helo: [127.0.0.1] matches no pattern, flags veR'
	assert_trace 'helo: * matches pattern [*], flags S'
}

@test "helo_default: the flags when no line matches" {
	start_proxy 'helo_default S' 'helo strict.test R'
	mail_from any.test 'a@b.test'
	assert_codes "220 250 250 221"
	mail_from any.test '<user>'
	assert_codes "220 250 250 221"
	mail_from strict.test '<user>'
	assert_codes "220 250 501 221"
	assert_log 'cmd=MAIL reply="501 5\.1\.7 Bad sender address syntax: address needs a domain"'
}

@test "!text refuses at HELO with 550 5.7.1 text; another name then goes on" {
	start_proxy 'helo bad.test !No mail from your machine' 'helo worse.test !'
	run smtp 'EHLO bad.test\r\n' =1 'HELO bad.test\r\n' =1 'EHLO good.test\r\n' =1 \
		'MAIL FROM:<a@b.test>\r\n' =1 'RCPT TO:<r@b.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 550 550 250 250 250 221"
	assert_reply '550 5\.7\.1 No mail from your machine'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=EHLO reply="550 5\.7\.1 No mail from your machine"'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=HELO reply="550 5\.7\.1 No mail from your machine"'
	# "!" alone: a default text
	session worse.test
	assert_codes "220 550 221"
	assert_reply '550 5\.7\.1 Access denied'
}

@test "!text: a client that ignores the 550 and sends MAIL anyway gets no recipient through" {
	# as with delay_reject yes (below), the refusal must hold until the
	# client gives another name; bots often ignore the HELO reply
	start_proxy 'helo bad.test !No mail from your machine' 'helo_default ve'
	run smtp 'EHLO bad.test\r\n' =1 'MAIL FROM:<a@b.test>\r\n' =1 \
		'RCPT TO:<r@b.test>\r\n' =1 'QUIT\r\n'
	assert_reply '550 5\.7\.1 No mail from your machine'
	refute_reply '250 2\.1\.5'
	local codes
	codes=$(reply_codes)
	[[ $codes == "220 550 "[45]??" "[45]??" 221" || $codes == "220 550 250 "[45]??" 221" ]] ||
		fail "a refused client went on: $codes" "--- output:" "$output"
}

@test "!text with delay_reject yes: HELO 250, MAIL 250, each RCPT 550 5.7.1 text" {
	start_proxy 'delay_reject yes' 'helo bad.test !No mail from your machine'
	run smtp 'EHLO bad.test\r\n' =1 'MAIL FROM:<a@b.test>\r\n' =1 \
		'RCPT TO:<r@b.test>\r\n' =1 'RCPT TO:<postmaster>\r\n' =1 'DATA\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 550 550 554 221"
	assert_reply_count 2 '550 5\.7\.1 No mail from your machine'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=RCPT reply="550 5\.7\.1 No mail from your machine"'
	refute_log 'cmd=EHLO reply="550'
	# another name: nothing delayed
	session good.test 'MAIL FROM:<a@b.test>\r\n' =1 'RCPT TO:<r@b.test>\r\n' =1
	assert_codes "220 250 250 250 221"
}

@test "delay_reject: a client refused by its HELO can still authenticate and send" {
	make_sasldb
	start_proxy 'delay_reject yes' 'helo bad.test !No mail from your machine' \
		"sasl_config_path $TMP/sasl" 'auth_requires_tls no'
	session bad.test "AUTH PLAIN $(plain_resp alice "$ALICE_PW")\\r\\n" =1 \
		'MAIL FROM:<a@b.test>\r\n' =1 'RCPT TO:<r@b.test>\r\n' =1
	assert_codes "220 250 235 250 250 221"
	assert_log 'event=auth client=127\.0\.0\.1 mechanism=PLAIN login=alice'
	wait_log 'event=summary .*helo=bad\.test .*login=alice'
	refute_log 'No mail from your machine'
}

@test "delay_reject: the delayed refusal goes with the HELO name in force" {
	start_proxy 'delay_reject yes' 'helo bad.test !No mail from your machine'
	# a good name after a refused one: as without delay_reject, it goes on
	run smtp 'EHLO bad.test\r\n' =1 'EHLO good.test\r\n' =1 \
		'MAIL FROM:<a@b.test>\r\n' =1 'RCPT TO:<r@b.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 250 221"
	# a refused name after a good one is refused
	run smtp 'EHLO good.test\r\n' =1 'EHLO bad.test\r\n' =1 \
		'MAIL FROM:<a@b.test>\r\n' =1 'RCPT TO:<r@b.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 550 221"
	assert_log 'cmd=RCPT reply="550 5\.7\.1 No mail from your machine"'
}

# ------------------------------------------------------ helo_styles file

write_styles() {
	cat >"$TMP/styles" <<'EOF'
#
# HELO/EHLO-pattern     [max loadavg]   style-flags
#
localhost		999	ftveR
some.host.domain	999	!NO EMAIL ACCEPTED FROM YOUR MACHINE
  evil.test 999 !indented lines are comments in ZMailer
	tab.test 999 !and so are tab-indented ones
# If the host presents itself as: HELO [1.2.3.4] be lenient to it
\[*\]			999	ve
*			999	veR
EOF
	chmod 644 "$TMP/styles"
}

@test "helo_styles: ZMailer's lines, after the helo lines before it, before the ones after" {
	write_styles
	start_proxy 'helo early.test S' "helo_styles $TMP/styles" 'helo late.test S'
	session some.host.domain
	assert_codes "220 550 221"
	assert_reply '550 5\.7\.1 NO EMAIL ACCEPTED FROM YOUR MACHINE'
	assert_log 'cmd=EHLO reply="550 5\.7\.1 NO EMAIL ACCEPTED FROM YOUR MACHINE"'
	# \[*\] ve: no R, an address without domain is fine
	mail_from '[127.0.0.1]' '<user>'
	assert_codes "220 250 250 221"
	# *: veR
	mail_from x.test '<user>'
	assert_codes "220 250 501 221"
	# indented lines are ignored: evil.test and tab.test fall to *
	session evil.test
	assert_codes "220 250 221"
	session tab.test
	assert_codes "220 250 221"
	# a helo line before the file comes first; one after it comes after *
	mail_from early.test 'a@b.test'
	assert_codes "220 250 250 221"
	mail_from late.test 'a@b.test'
	assert_codes "220 250 501 221"
}

@test "helo_styles: smtpproxy -n -d lists the lines in order; a bad line is file:line" {
	write_styles
	t_conf 'helo first.test S' "helo_styles $TMP/styles"
	run proxy_env "$SMTPPROXY_BIN" -n -d -f "$TMP/smtpproxy.conf"
	[[ $status == 0 ]] || fail "status $status" "$output"
	local got
	got=$(plain | grep '^helo ' | paste -sd'|' -)
	[[ $got == 'helo first.test S|helo localhost 999 ftveR|helo some.host.domain 999 !NO EMAIL ACCEPTED FROM YOUR MACHINE|helo \[*\] 999 ve|helo * 999 veR' ]] ||
		fail "helo lines: $got" "--- output:" "$output"
	# an unknown flag on line 9 of the file (the \[*\] line)
	sed -i '9s/.*/\\[*\\] 999 vqe/' "$TMP/styles"
	grep -qx '\\\[\*\\\] 999 vqe' "$TMP/styles" || fail "sed did not change line 9: $(cat "$TMP/styles")"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status != 0 ]] || fail "a bad style line passed -n" "$output"
	[[ $output == *"$TMP/styles:9: unknown style flag 'q'"* ]] ||
		fail "no file:line for the bad line" "$output"
	[[ $output == *"smtpproxy.conf:5: helo_styles: "* ]] ||
		fail "no config file:line for helo_styles" "$output"
	# a missing file
	t_conf "helo_styles $TMP/nope"
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status != 0 && $output == *"$TMP/nope: No such file or directory"* ]] ||
		fail "status $status" "$output"
	# a helo line of the config with neither flags nor !text
	t_conf 'helo lonely.test'
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status != 0 && $output == *"smtpproxy.conf:4: "*"expected flags or !text"* ]] ||
		fail "status $status" "$output"
	t_conf 'helo x.test 999 Rz'
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status != 0 && $output == *"smtpproxy.conf:4: "*"unknown style flag 'z'"* ]] ||
		fail "status $status" "$output"
}

# ------------------------------------------------------------------ load

@test "max_load: above it, 421 4.3.2 before the greeting; 0 is off" {
	make_some_load || skip "the load average stays at 0.00"
	start_proxy 'max_load 0.0001'
	run smtp -G 'EHLO c.test\r\n' 'QUIT\r\n'
	assert_closed
	assert_codes "421"
	assert_reply '421 4\.3\.2 proxy\.test System overloaded, try again later'
	refute_reply '220'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=- reply="421 4\.3\.2 proxy\.test System overloaded'
	assert_log 'event=summary client=127\.0\.0\.1 .*result=overloaded'
}

@test "max_load: below it, or 0 (off), the session goes on" {
	make_some_load || skip "the load average stays at 0.00"
	for l in 1000 0; do
		start_proxy "max_load $l"
		session c.test
		assert_codes "220 250 221"
		stop_proxy
	done
	refute_log 'overloaded'
}

@test "maxload column: above the pattern's load, 421 4.3.2 at HELO" {
	make_some_load || skip "the load average stays at 0.00"
	start_proxy 'helo busy.test 0.0001 veR' 'helo *.busy.test 0.0001 !Refused anyway' \
		'helo calm.test 1000 S'
	session busy.test 'NOOP\r\n'
	assert_closed
	assert_codes "220 421"
	assert_reply '421 4\.3\.2 proxy\.test System overloaded, try again later'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=EHLO reply="421 4\.3\.2 proxy\.test System overloaded'
	# the load goes before the refusal text
	session mx.busy.test
	assert_codes "220 421"
	mail_from calm.test 'a@b.test'
	assert_codes "220 250 250 221"
	wait_log 'event=summary .*helo=calm\.test'
}

# ------------------------------------------------------------- the flags

@test "f: the sender domain needs an MX or an A record (550 5.1.8); off: not asked" {
	start_dns
	start_dns_proxy 'helo check.test f' 'helo nocheck.test ve'
	mail_from check.test '<a@nomx.test>'
	assert_codes "220 250 550 221"
	assert_reply '550 5\.1\.8 <a@nomx\.test>: Sender address domain not found'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=MAIL reply="550 5\.1\.8 <a@nomx\.test>: Sender address domain not found"'
	for from in '<a@mail.test>' '<a@aonly.test>' '<>' '<user>' '<a@[192.0.2.1]>'; do
		mail_from check.test "$from"
		assert_codes "220 250 250 221"
	done
	mail_from nocheck.test '<a@nomx.test>'
	assert_codes "220 250 250 221"
	wait_log 'event=summary .*helo=nocheck\.test .*from=<a@nomx\.test>'
	# the MX and A queries were asked for the f session only
	grep -q 'query\[MX\] mail\.test' "$DNS_DIR/dnsmasq.log" ||
		fail "no MX query for mail.test" "$(cat "$DNS_DIR/dnsmasq.log")"
}

@test "f: a DNS failure is 451 4.1.8, never an accept or a reject" {
	start_dns
	start_dns_proxy 'helo check.test f' 'timeout_dns 1'
	mail_from check.test '<a@dead.test>'
	assert_codes "220 250 451 221"
	assert_reply '451 4\.1\.8 <a@dead\.test>: Sender address domain lookup failed'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=MAIL reply="451 4\.1\.8 <a@dead\.test>: Sender address domain lookup failed"'
	grep -q 'query a\.dead\.test\|query dead\.test' "$DNS_DIR/dead.log" ||
		fail "the dead server heard nothing" "$(cat "$DNS_DIR/dead.log")"
}

@test "f: no DNS server listening is 451 4.1.8 too" {
	local port
	port=$(free_port)
	start_proxy 'helo check.test f' "dns_servers 127.0.0.1:$port" 'timeout_dns 2'
	mail_from check.test '<a@mail.test>'
	assert_codes "220 250 451 221"
	assert_reply '451 4\.1\.8 <a@mail\.test>: Sender address domain lookup failed'
	assert_log 'cmd=MAIL reply="451 4\.1\.8 <a@mail\.test>: Sender address domain lookup failed"'
}

@test "t: a relayed recipient's domain needs an MX or an A record (550 5.1.2); off: not asked" {
	start_dns
	NO_RELAYCLIENT='' start_dns_proxy 'helo check.test t' 'helo nocheck.test ve' \
		'timeout_dns 1'
	session check.test 'MAIL FROM:<a@mail.test>\r\n' =1 'RCPT TO:<u@nomx.test>\r\n' =1 \
		'RCPT TO:<u@mail.test>\r\n' =1 'RCPT TO:<u@aonly.test>\r\n' =1 \
		'RCPT TO:<u@local.test>\r\n' =1 'RCPT TO:<u@dead.test>\r\n' =1
	assert_codes "220 250 250 550 250 250 250 451 221"
	assert_reply '550 5\.1\.2 <u@nomx\.test>: Recipient address domain not found'
	assert_reply '451 4\.1\.2 <u@dead\.test>: Recipient address domain lookup failed'
	assert_log 'cmd=RCPT reply="550 5\.1\.2 <u@nomx\.test>: Recipient address domain not found"'
	assert_log 'cmd=RCPT reply="451 4\.1\.2 <u@dead\.test>: Recipient address domain lookup failed"'
	# local.test is ours: never looked up
	if grep -q 'local\.test' "$DNS_DIR/dnsmasq.log"; then
		fail "the local domain was looked up" "$(grep local.test "$DNS_DIR/dnsmasq.log")"
	fi
	session nocheck.test 'MAIL FROM:<a@mail.test>\r\n' =1 'RCPT TO:<u@nomx.test>\r\n' =1
	assert_codes "220 250 250 250 221"
}

@test "v: with vrfy yes, VRFY goes to the backend; without v 252; with vrfy no 502" {
	start_proxy 'vrfy yes' 'helo v.test v' 'helo plain.test R'
	session v.test 'VRFY bob\r\n' =1 'EXPN list\r\n' =1
	assert_codes "220 250 250 502 221"
	assert_reply '250-VRFY'
	# smtp-sink's own answer to VRFY
	assert_reply '250 2\.0\.0 Ok'
	# expn is off: v does not open EXPN
	assert_reply '502 5\.5\.1 EXPN command is disabled'
	session plain.test 'VRFY bob\r\n' =1
	assert_codes "220 250 252 221"
	assert_reply '252 2\.5\.0 Cannot verify the address, but will accept mail for it'
	# inside a transaction: the non-answer, even with v
	session v.test 'MAIL FROM:<a@b.test>\r\n' =1 'VRFY bob\r\n' =1
	assert_codes "220 250 250 252 221"
	stop_proxy
	start_proxy 'vrfy no' 'helo v.test v'
	session v.test 'VRFY bob\r\n' =1
	assert_codes "220 250 502 221"
	assert_reply '502 5\.5\.1 VRFY command is disabled'
	refute_reply '250-VRFY'
	assert_log 'cmd=VRFY reply="502 5\.5\.1 VRFY command is disabled"'
}

@test "e: with expn yes, EXPN goes to the backend; without e 252; with expn no 502" {
	start_proxy 'expn yes' 'helo e.test e' 'helo plain.test v'
	# smtp-sink does not know EXPN: its 500 comes back, as the backend's
	session e.test 'EXPN list\r\n' =1
	assert_codes "220 250 500 221"
	assert_reply '500 5\.5\.1 Error: unknown command'
	assert_log 'cmd=EXPN reply="500 5\.5\.1 Error: unknown command"'
	session plain.test 'EXPN list\r\n' =1
	assert_codes "220 250 252 221"
	assert_reply '252 2\.5\.0 Cannot verify the address, but will accept mail for it'
	stop_proxy
	start_proxy 'expn no' 'helo e.test e'
	session e.test 'EXPN list\r\n' =1
	assert_codes "220 250 502 221"
	assert_reply '502 5\.5\.1 EXPN command is disabled'
	assert_log 'cmd=EXPN reply="502 5\.5\.1 EXPN command is disabled"'
}

@test "R: strict <local@domain>; without R an address without domain goes on" {
	start_proxy 'helo strict.test R' 'helo lax.test v'
	mail_from strict.test '<user>'
	assert_codes "220 250 501 221"
	assert_reply '501 5\.1\.7 Bad sender address syntax: address needs a domain'
	assert_log 'cmd=MAIL reply="501 5\.1\.7 Bad sender address syntax: address needs a domain"'
	mail_from strict.test '<user@b.test>'
	assert_codes "220 250 250 221"
	mail_from lax.test '<user>'
	assert_codes "220 250 250 221"
	wait_log 'event=summary .*helo=lax\.test .*from=<user> '
}

@test "S: MAIL FROM:user@domain and stray spaces only with S" {
	start_proxy 'helo sloppy.test S' 'helo tidy.test ve'
	mail_from sloppy.test 'user@b.test'
	assert_codes "220 250 250 221"
	mail_from sloppy.test '< a@b.test >'
	assert_codes "220 250 250 221"
	wait_log 'event=summary .*helo=sloppy\.test .*from=<a@b\.test> '
	mail_from tidy.test 'user@b.test'
	assert_codes "220 250 501 221"
	assert_reply '501 5\.1\.7 Bad sender address syntax: address must be in angle brackets'
	mail_from tidy.test '< a@b.test >'
	assert_codes "220 250 501 221"
	assert_reply '501 5\.1\.7 Bad sender address syntax'
	wait_log_count 2 'helo=tidy\.test'
	assert_log 'cmd=MAIL reply="501 5\.1\.7 Bad sender address syntax: address must be in angle brackets"'
}

@test "T: MAIL before STARTTLS is 530 5.7.0; after it, or without T, it goes on" {
	make_cert
	local lines=()
	mapfile -t lines < <(tls_conf)
	start_proxy "${lines[@]}" 'helo tls.test T' 'helo plain.test ve'
	run tlssmtp 'EHLO tls.test\r\n' =1 'MAIL FROM:<a@b.test>\r\n' =1 'STARTTLS\r\n' =1 \
		@TLS 'EHLO tls.test\r\n' =1 'MAIL FROM:<a@b.test>\r\n' =1 'QUIT\r\n' =1
	assert_codes "220 250 530 220 250 250 221"
	assert_reply '530 5\.7\.0 Must issue a STARTTLS command first'
	assert_log 'cmd=MAIL reply="530 5\.7\.0 Must issue a STARTTLS command first"'
	assert_log 'event=summary .*helo=tls\.test tls=TLSv1\.[23]:'
	mail_from plain.test '<a@b.test>'
	assert_codes "220 250 250 221"
}

@test "A: MAIL before AUTH is 530 5.7.0 for a stranger; after AUTH, for a relay client, or without A it goes on" {
	make_sasldb
	NO_RELAYCLIENT=1
	start_proxy "sasl_config_path $TMP/sasl" 'auth_requires_tls no' \
		'helo auth.test A' 'helo plain.test ve'
	session auth.test 'MAIL FROM:<a@b.test>\r\n' =1 \
		"AUTH PLAIN $(plain_resp alice "$ALICE_PW")\\r\\n" =1 'MAIL FROM:<a@b.test>\r\n' =1
	assert_codes "220 250 530 235 250 221"
	assert_reply '530 5\.7\.0 Authentication required'
	assert_log 'cmd=MAIL reply="530 5\.7\.0 Authentication required"'
	mail_from plain.test '<a@b.test>'
	assert_codes "220 250 250 221"
	stop_proxy
	NO_RELAYCLIENT=
	start_proxy "sasl_config_path $TMP/sasl" 'helo auth.test A'
	mail_from auth.test '<a@b.test>'
	assert_codes "220 250 250 221"
}

@test "N: skips the DNS score; without N the same client is refused" {
	start_dns
	start_dns_proxy $'weight helo_numeric 50 0' "$(dns_heuristics_off helo_numeric)" \
		'helo \[1.2.3.4\] N' 'helo \[*\] ve'
	dns_scored 127.0.0.3 '[192.0.2.9]' a@mail.test reject 50 HELO_NUMERIC=50
	assert_reply '550 5\.7\.1 Client \[127\.0\.0\.3\] refused \(score 50\.00\): .*helo_numeric'
	dns_session 127.0.0.4 '[1.2.3.4]' a@mail.test
	assert_codes "220 250 250 250 221"
	wait_log 'event=summary client=127\.0\.0\.4 '
	refute_log 'event=score client=127\.0\.0\.4 '
}

@test "X: adds helo_style_score to the DNS score (HELO_STYLE in the score line)" {
	start_dns
	start_dns_proxy "$(dns_heuristics_off)" 'helo_style_score 0.5' \
		'helo x.test X' 'helo plain.test ve'
	dns_scored 127.0.0.3 x.test a@mail.test accept 0.5 HELO_STYLE=0.5
	dns_scored 127.0.0.4 plain.test a@mail.test accept 0
	refute_check 127.0.0.4 HELO_STYLE
	stop_proxy
	start_dns_proxy "$(dns_heuristics_off)" 'helo_style_score 3' 'helo x.test X'
	dns_scored 127.0.0.5 x.test a@mail.test reject 3 HELO_STYLE=3
	assert_reply '550 5\.7\.1 Client \[127\.0\.0\.5\] refused \(score 3\.00\)'
}

# ------------------------------------------------------------ the limits

@test "max_error_recipients: a message from <> gets 3 recipients, the 4th 550 5.5.3" {
	start_proxy
	session c.test 'MAIL FROM:<>\r\n' =1 'RCPT TO:<a@b.test>\r\n' =1 \
		'RCPT TO:<b@b.test>\r\n' =1 'RCPT TO:<c@b.test>\r\n' =1 'RCPT TO:<d@b.test>\r\n' =1
	assert_codes "220 250 250 250 250 250 550 221"
	assert_reply '550 5\.5\.3 Error: too many recipients for a message from <>'
	assert_log 'cmd=RCPT reply="550 5\.5\.3 Error: too many recipients for a message from <>"'
	# not for a real sender; and a new transaction counts again
	session c.test 'MAIL FROM:<s@b.test>\r\n' =1 'RCPT TO:<a@b.test>\r\n' =1 \
		'RCPT TO:<b@b.test>\r\n' =1 'RCPT TO:<c@b.test>\r\n' =1 'RCPT TO:<d@b.test>\r\n' =1 \
		'RSET\r\n' =1 'MAIL FROM:<>\r\n' =1 'RCPT TO:<a@b.test>\r\n' =1
	assert_codes "220 250 250 250 250 250 250 250 250 250 221"
}

@test "max_error_recipients 1: the 2nd recipient of a bounce is refused" {
	start_proxy 'max_error_recipients 1'
	session c.test 'MAIL FROM:<>\r\n' =1 'RCPT TO:<a@b.test>\r\n' =1 \
		'RCPT TO:<b@b.test>\r\n' =1
	assert_codes "220 250 250 250 550 221"
	assert_log 'cmd=RCPT reply="550 5\.5\.3 '
}

@test "max_unknown_commands: 421 4.7.0 after the limit, and the session ends" {
	start_proxy 'max_unknown_commands 2'
	run smtp 'EHLO c.test\r\n' =1 'FOO\r\n' =1 'BAR\r\n' =1 'BAZ\r\n' =1 'NOOP\r\n'
	assert_closed
	assert_codes "220 250 502 502 421"
	assert_reply '421 4\.7\.0 proxy\.test Error: too many unknown commands'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=unknown reply="421 4\.7\.0 proxy\.test Error: too many unknown commands"'
	assert_log 'event=summary .*result=too-many-unknown'
	stop_proxy
	start_proxy 'max_unknown_commands 0'
	run smtp 'FOO\r\n' =1 'NOOP\r\n'
	assert_closed
	assert_codes "220 421"
}

@test "tarpit 1 1 2: refusals wait 1, 2, 2, 2 s (capped); 421 does not wait" {
	start_proxy 'tarpit 1 1 2' 'max_unknown_commands 4'
	: >"$TMP/times"
	run smtp -t 40 'EHLO c.test\r\n' =1 "$(stamp)" \
		'FOO\r\n' =1 "$(stamp)" 'FOO\r\n' =1 "$(stamp)" 'FOO\r\n' =1 "$(stamp)" \
		'FOO\r\n' =1 "$(stamp)" 'FOO\r\n' =1 "$(stamp)"
	assert_codes "220 250 502 502 502 502 421"
	local g
	mapfile -t g < <(gaps_ms "$TMP/times")
	((${#g[@]} == 5)) || fail "stamps: $(cat "$TMP/times")"
	# generous bounds: present, growing, capped (uncapped: 4 s, then 8 s)
	((g[0] >= 800 && g[0] < 1900)) || fail "1st refusal after ${g[0]} ms, not ~1 s"
	((g[1] >= 1800 && g[1] < 3500)) || fail "2nd refusal after ${g[1]} ms, not ~2 s"
	((g[2] >= 1800 && g[2] < 3500)) || fail "3rd refusal after ${g[2]} ms, not ~2 s (cap)"
	((g[3] >= 1800 && g[3] < 3500)) || fail "4th refusal after ${g[3]} ms, not ~2 s (cap)"
	((g[4] < 800)) || fail "the 421 waited ${g[4]} ms"
	wait_log_count 4 'cmd=unknown reply="502 5\.5\.2'
	assert_log 'cmd=unknown reply="421 4\.7\.0'
}

@test "tarpit 0 0 0 (default): refusals come at once" {
	start_proxy
	: >"$TMP/times"
	run smtp 'EHLO c.test\r\n' =1 "$(stamp)" 'FOO\r\n' =1 "$(stamp)" \
		'MAIL FROM:<bad\r\n' =1 "$(stamp)" 'QUIT\r\n'
	assert_codes "220 250 502 501 221"
	local g
	mapfile -t g < <(gaps_ms "$TMP/times")
	((g[0] < 800 && g[1] < 800)) || fail "gaps ${g[*]} ms"
	wait_log_count 2 'event=reject'
}

@test "tarpit: a bad value is refused by -n" {
	for v in '1 2' '1 2 3 4' 'a b c' '-1 0 0'; do
		t_conf "tarpit $v"
		run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
		[[ $status != 0 && $output == *"smtpproxy.conf:4: tarpit: expected 'initial exponent toplimit'"* ]] ||
			fail "tarpit $v: status $status" "$output"
	done
}

@test "greet_pause: a client talking first gets 554 5.5.0 and is logged; a polite one waits and goes on" {
	start_proxy 'greet_pause 300'
	run smtp -G 'EHLO bot.test\r\n' =1 'MAIL FROM:<a@b.test>\r\n'
	assert_closed
	assert_codes "554"
	assert_reply '554 5\.5\.0 proxy\.test Error: SMTP protocol violation: talking before the greeting'
	refute_reply '220'
	assert_log 'event=pregreet client=127\.0\.0\.1'
	assert_log 'event=summary client=127\.0\.0\.1 .*result=pregreet'
	timed session polite.test 'MAIL FROM:<a@b.test>\r\n' =1
	assert_codes "220 250 250 221"
	(((T1 - T0) >= 250)) || fail "the greeting came after $((T1 - T0)) ms, before the pause"
	wait_log_count 2 'event=summary'
	wait_log 'event=summary .*helo=polite\.test .*result=quit'
	[[ $(grep -c 'event=pregreet' "$TMP/smtpproxy.log") == 1 ]] ||
		fail "pregreet logged for the polite client"
}

@test "greet_pause 0 (default): no pause, early talk is just pipelined" {
	start_proxy
	run smtp -G 'EHLO early.test\r\n' =2 'QUIT\r\n'
	assert_codes "220 250 221"
	wait_log 'event=summary .*result=quit'
	refute_log 'event=pregreet'
}

# ---------------------------------------------------------- HELO syntax

@test "helo_required: MAIL before HELO is 503 5.5.1; off, it goes on" {
	start_proxy 'helo_required yes' 'helo_default ve'
	run smtp 'MAIL FROM:<a@b.test>\r\n' =1 'HELO c.test\r\n' =1 \
		'MAIL FROM:<a@b.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 503 250 250 221"
	assert_reply '503 5\.5\.1 Error: send HELO/EHLO first'
	assert_log 'cmd=MAIL reply="503 5\.5\.1 Error: send HELO/EHLO first"'
	stop_proxy
	start_proxy 'helo_required no' 'helo_default ve'
	run smtp 'MAIL FROM:<a@b.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 221"
	# yes is the default (RFC 5321 4.1.4: a session starts with one)
	stop_proxy
	start_proxy 'helo_default ve'
	run smtp 'MAIL FROM:<a@b.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 503 221"
}

@test "helo_syntax strict: a domain or an address literal only; loose takes anything" {
	start_proxy 'helo_syntax strict'
	local h bad=()
	for h in 'bad_name!' '192.0.2.1' 'a..b.test' '-a.test' '[127.0.0.1' \
	    '[192.0.2.300]' '[1.2.3]' '[IPv6:zz]'; do
		session "$h"
		[[ $(reply_codes) == "220 501 221" ]] &&
			plain | grep -Eq "^501 5\\.5\\.2 <$(re_escape "$h")>: Invalid HELO name" ||
			bad+=("$h: $(plain | grep -E '^[0-9]{3} ' | sed -n 2p)")
	done
	assert_log 'cmd=EHLO reply="501 5\.5\.2 <bad_name!>: Invalid HELO name"'
	for h in '[192.0.2.1]' '[IPv6:2001:db8::1]' 'mx.example.test' 'localhost'; do
		session "$h"
		assert_codes "220 250 221"
	done
	# two words are a syntax error in either mode
	session 'two words'
	assert_codes "220 501 221"
	assert_reply '501 5\.5\.4 Syntax: EHLO hostname'
	stop_proxy
	start_proxy 'helo_syntax loose'
	for h in 'bad_name!' '192.0.2.1'; do
		session "$h"
		assert_codes "220 250 221"
	done
	# last, so that the checks above ran whatever this says
	((${#bad[@]} == 0)) || fail "helo_syntax strict let these through:" "${bad[@]}"
}

# ---------------------------------------------------- greeting and HELP

@test "greeting metatags %H %V %T %% and HELP lines" {
	start_proxy 'greeting %H ESMTP smtpproxy %V at %T, 100%% spam free' \
		'help This mail server is at Yoyodyne Propulsion Inc.' \
		'help Report abuse to <abuse@yoyodyne.test>'
	local version
	version=$("$SMTPPROXY_BIN" -V | awk '{ print $2 }')
	run smtp 'HELP\r\n' =1 'QUIT\r\n'
	assert_codes "220 214 221"
	assert_reply "220 proxy\\.test ESMTP smtpproxy $(re_escape "$version") at [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [-+][0-9]{4}, 100% spam free"
	assert_reply '214-2\.0\.0 This mail server is at Yoyodyne Propulsion Inc\.'
	assert_reply '214 2\.0\.0 Report abuse to <abuse@yoyodyne\.test>'
	wait_log 'event=summary .*result=quit'
	refute_log 'event=reject'
	t_conf 'greeting %H %X'
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status != 0 && $output == *"unknown metatag '%X'"* ]] || fail "status $status" "$output"
}
