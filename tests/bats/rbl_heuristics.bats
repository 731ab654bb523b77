#!/usr/bin/env bats
# rbl_heuristics: policyd-weight's HELO, rDNS and sender checks, with their
# default weights (rbl-spec.md), "weight NAME HIT MISS" and "weight NAME
# off". Each test keeps only the checks it is about (dns_heuristics_off);
# a "weight" line alone turns the DNS policy on. Host data: lib/dns.bash.

load lib/common
load lib/dns

# one DNS for the whole file, a sink per test: lib/dns.bash
dns_file_fixture

# assert_refused ADDR SCORE CHECK: the 550 names ADDR, SCORE and CHECK
assert_refused() {
	assert_reply "550 5\\.7\\.1 Client \\[$(re_escape "$1")\\] refused \\(score $(num_re "$2")\\): .*($3|${3,,})"
}

@test "helo_numeric: an address literal or a dotted number as HELO (2.5)" {
	start_dns_proxy "$(dns_heuristics_off helo_numeric)"
	dns_scored 127.0.0.2 '[127.0.0.2]' a@mail.test reject 2.5 \
		HELO_NUMERIC=2.5
	assert_refused 127.0.0.2 2.5 HELO_NUMERIC
	dns_scored 127.0.0.3 127.0.0.3 a@mail.test reject 2.5 HELO_NUMERIC=2.5
	dns_scored 127.0.0.1 good.test a@mail.test accept 0 HELO_NUMERIC=0
}

@test "helo_no_resolve: a HELO name without A/AAAA/MX (1.5; resolving: -2)" {
	start_dns_proxy "$(dns_heuristics_off helo_no_resolve)"
	dns_scored 127.0.0.1 nonexistent.invalid a@mail.test reject 1.5 \
		HELO_NO_RESOLVE=1.5
	assert_refused 127.0.0.1 1.5 HELO_NO_RESOLVE
	dns_scored 127.0.0.2 other.test a@mail.test accept -2 HELO_NO_RESOLVE=-2
}

@test "client_ip_ne_helo: the HELO name's addresses are not the client's (1.5; same: -1.25)" {
	start_dns_proxy "$(dns_heuristics_off client_ip_ne_helo)"
	dns_scored 127.0.0.2 other.test a@mail.test reject 1.5 \
		CLIENT_IP_NE_HELO=1.5
	assert_refused 127.0.0.2 1.5 CLIENT_IP_NE_HELO
	dns_scored 127.0.0.3 good.test a@mail.test reject 1.5 \
		CLIENT_IP_NE_HELO=1.5
	dns_scored 127.0.0.2 good.test a@mail.test accept -1.25 \
		CLIENT_IP_NE_HELO=-1.25
}

@test "client_no_rdns: no PTR, or a PTR that does not resolve back to the client (2.0)" {
	start_dns_proxy "$(dns_heuristics_off client_no_rdns)"
	dns_scored 127.0.0.7 good.test a@mail.test reject 2 CLIENT_NO_RDNS=2
	assert_refused 127.0.0.7 2 CLIENT_NO_RDNS
	# PTR mismatch.test, whose A is 192.0.2.8
	dns_scored 127.0.0.8 good.test a@mail.test reject 2 CLIENT_NO_RDNS=2
	# good.test <-> 127.0.0.2
	dns_scored 127.0.0.2 good.test a@mail.test accept 0 CLIENT_NO_RDNS=0
}

@test "client_seems_dialup: a PTR name that looks dynamic (3.75)" {
	start_dns_proxy "$(dns_heuristics_off client_seems_dialup)"
	# 127.0.0.6 <-> dyn-127-0-0-6.pool.test
	dns_scored 127.0.0.6 good.test a@mail.test reject 3.75 \
		CLIENT_SEEMS_DIALUP=3.75
	assert_refused 127.0.0.6 3.75 CLIENT_SEEMS_DIALUP
	dns_scored 127.0.0.2 good.test a@mail.test accept 0 \
		CLIENT_SEEMS_DIALUP=0
}

@test "IPv6 client: rDNS confirmed by AAAA, HELO matched by AAAA" {
	PROXY_BIND=::1 start_dns_proxy \
		"$(dns_heuristics_off client_no_rdns client_ip_ne_helo helo_no_resolve client_seems_dialup)"
	# ::1 <-> good6.test (PTR and AAAA)
	dns_scored ::1 good6.test a@mail.test accept -3.25 CLIENT_NO_RDNS=0 \
		CLIENT_IP_NE_HELO=-1.25 HELO_NO_RESOLVE=-2 CLIENT_SEEMS_DIALUP=0
	# good.test has only an A record (127.0.0.2): not the client (1.5 - 2)
	dns_scored ::1 good.test a@mail.test accept -0.5 CLIENT_NO_RDNS=0 \
		CLIENT_IP_NE_HELO=1.5 HELO_NO_RESOLVE=-2
}

@test "bogus_mx: a sender domain with neither MX nor A (2.1); <> is not checked" {
	start_dns_proxy "$(dns_heuristics_off bogus_mx)"
	dns_scored 127.0.0.1 good.test a@nomx.test reject 2.1 BOGUS_MX=2.1
	assert_refused 127.0.0.1 2.1 BOGUS_MX
	dns_scored 127.0.0.2 good.test a@mail.test accept 0 BOGUS_MX=0
	# an A record and no MX is a working mail domain (RFC 5321 5.1)
	dns_scored 127.0.0.3 good.test a@aonly.test accept 0 BOGUS_MX=0
	dns_scored 127.0.0.4 good.test '' accept 0
	refute_check 127.0.0.4 BOGUS_MX
}

@test "random_sender: a random-looking local part (0.25 by default)" {
	start_dns_proxy "$(dns_heuristics_off random_sender)"
	dns_scored 127.0.0.1 good.test xkqzvbtw7r3m@mail.test accept 0.25 \
		RANDOM_SENDER=0.25
	dns_scored 127.0.0.2 good.test john.smith@mail.test accept 0 \
		RANDOM_SENDER=0
}

@test "weight NAME HIT MISS overrides the default weights" {
	start_dns_proxy "$(dns_heuristics_off random_sender helo_no_resolve)" \
		"weight random_sender 2 0" "weight helo_no_resolve 0.5 -0.75"
	# 2 - 0.75
	dns_scored 127.0.0.1 good.test xkqzvbtw7r3m@mail.test reject 1.25 \
		RANDOM_SENDER=2 HELO_NO_RESOLVE=-0.75
	assert_refused 127.0.0.1 1.25 RANDOM_SENDER
	dns_scored 127.0.0.2 nonexistent.invalid john.smith@mail.test accept \
		0.5 \
		RANDOM_SENDER=0 HELO_NO_RESOLVE=0.5
}

@test "weight NAME off skips the check" {
	start_dns_proxy "weight helo_numeric off" "$(dns_heuristics_off helo_numeric client_no_rdns)"
	dns_scored 127.0.0.2 '[127.0.0.2]' a@mail.test accept 0 CLIENT_NO_RDNS=0
	refute_check 127.0.0.2 HELO_NUMERIC
	# the check that stays on still works
	dns_scored 127.0.0.7 '[127.0.0.7]' a@mail.test reject 2 CLIENT_NO_RDNS=2
	refute_check 127.0.0.7 HELO_NUMERIC
}

@test "the default weights add up: a dynamic client saying HELO with its address" {
	# every heuristic on with policyd-weight's weights; one list that does
	# not list 127.0.0.6 (a list or weight line turns the policy on)
	start_dns_proxy "dnsbl dnsbl.test 5 0"
	dns_scored 127.0.0.6 '[127.0.0.6]' a@nomx.test reject '*' \
		HELO_NUMERIC=2.5 \
		CLIENT_SEEMS_DIALUP=3.75 BOGUS_MX=2.1 'DNSBL(dnsbl.test)=0' \
		CLIENT_NO_RDNS=0 RANDOM_SENDER=0
}

@test "XCLIENT passes the client's forward-confirmed name to a real Postfix" {
	start_postfix
	start_dns_proxy "dnsbl dnsbl.test 0 0" "$(dns_heuristics_off)"
	run smtp -b 127.0.0.2 'EHLO good.test\r\n' =1 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: name\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	pf_wait_count 1
	wait_until file_has "$TMP/postfix.log" 'client=good\.test\[127\.0\.0\.2\]' ||
		fail "Postfix did not get the name" "$(grep client= "$TMP/postfix.log")"
	# 127.0.0.8's PTR does not point back: the name stays unknown
	run smtp -b 127.0.0.8 'EHLO x.test\r\n' =1 'MAIL FROM:<a@mail.test>\r\n' =1 \
		'RCPT TO:<user@local.test>\r\n' =1 'DATA\r\n' =1 \
		'Subject: noname\r\n\r\nbody\r\n.\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 354 250 221"
	pf_wait_count 2
	wait_until file_has "$TMP/postfix.log" 'client=unknown\[127\.0\.0\.8\]' ||
		fail "a name that is not confirmed went to Postfix" "$(grep client= "$TMP/postfix.log")"
}
