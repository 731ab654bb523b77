#!/usr/bin/env bats
# audit_relay: the open-relay audit. The proxy listens on 127.0.0.3; it
# receives mail for local.test and for its own name proxy.test; only
# 127.0.0.2 is a relay client (no RELAYCLIENT). Every other address of
# 127/8 is a stranger on the Internet.
#
# 1. nmap's smtp-open-relay script (Debian's nmap; its 16 classic
#    attempts with the target domain relay-target.test, which is not
#    ours) from strangers: "Server doesn't seem to be an open relay",
#    and not one RCPT reaches the backend. From the relay client the
#    same scan finds the relaying it is allowed to do (the positive
#    control: the audit can see a relay).
# 2. The classic address tricks, one session each, with rawsmtp from a
#    stranger: all refused by the proxy (554 5.7.1 relay denied, or 501
#    for what is not an address), none reaches the backend; from the
#    relay client and after AUTH the relay refusals become 250.
#
# The backend is pysink (lib/fault.bash): its log lists every RCPT the
# proxy passed on.

load lib/common
load lib/fault
load lib/auth

setup() {
	common_setup
	NO_RELAYCLIENT=1
	PROXY_BIND=127.0.0.3
	printf 'local.test\nproxy.test\n' >"$TMP/domains.txt"
	mk -t domains "$TMP/domains.txt" "$TMP/domains.cdb" >/dev/null
	printf '127.0.0.2 OK\n' >"$TMP/nets.txt"
	mk -t networks "$TMP/nets.txt" "$TMP/nets.cdb" >/dev/null
	start_pysink
}

audit_proxy() {
	start_proxy "local_domains cdb:$TMP/domains.cdb" "relay_clients cdb:$TMP/nets.cdb" "$@"
}

# backend_rcpts: the RCPT commands the backend got, one a line
backend_rcpts() {
	sed -n 's/^[0-9]* cmd \(RCPT TO:.*\)$/\1/p' "$PYSINK_LOG"
}

# nmap_relay [nmap options]: the smtp-open-relay script against the proxy;
# the port is named smtp in a private nmap-services (the script only runs
# on ports known as SMTP), connect scan (no raw packets), no DNS
nmap_relay() {
	command -v nmap >/dev/null ||
		fail "nmap is not installed (Debian package nmap; tools/deps.sh test)"
	mkdir -p "$TMP/nmap"
	printf 'smtp\t%s/tcp\t0.5\n' "$PROXY_PORT" >"$TMP/nmap/nmap-services"
	run timeout 60 nmap -n -Pn -sT -p "$PROXY_PORT" --datadir "$TMP/nmap" "$@" \
		--script smtp-open-relay \
		--script-args "smtp-open-relay.domain=relay-target.test,smtp-open-relay.ip=$PROXY_HOST" \
		"$PROXY_HOST"
	[[ $status == 0 ]] || fail "nmap status $status" "$output"
	[[ $output == *"$PROXY_PORT/tcp open  smtp"* ]] || fail "nmap did not scan the proxy" "$output"
}

@test "nmap smtp-open-relay from a stranger (127.0.0.1): not an open relay, every attempt refused" {
	audit_proxy
	nmap_relay
	[[ $output == *"smtp-open-relay: Server doesn't seem to be an open relay, all tests failed"* ]] ||
		fail "nmap's verdict:" "$output"
	settle
	assert_log 'event=summary client=127\.0\.0\.1 helo=relay-target\.test .*rcpts=0 accepted=0 '
	# its 16 attempts, each refused at RCPT by the proxy itself
	local n
	n=$(grep -Ec 'event=reject client=127\.0\.0\.1 cmd=RCPT reply="(554 5\.7\.1 <[^>]*>: Relay access denied|501 5\.1\.3 [^"]*)"' "$TMP/smtpproxy.log")
	[[ $n == 16 ]] || fail "$n refused RCPTs, expected 16:" "$(cat "$TMP/smtpproxy.log")"
	[[ -z $(backend_rcpts) ]] || fail "RCPTs reached the backend:" "$(backend_rcpts)"
}

@test "nmap smtp-open-relay from another stranger (-S 127.0.0.4): not an open relay" {
	audit_proxy
	nmap_relay -S 127.0.0.4 -e lo
	[[ $output == *"Server doesn't seem to be an open relay, all tests failed"* ]] ||
		fail "nmap's verdict:" "$output"
	settle
	assert_log 'event=summary client=127\.0\.0\.4 .*rcpts=0 accepted=0 '
	[[ -z $(backend_rcpts) ]] || fail "RCPTs reached the backend:" "$(backend_rcpts)"
}

@test "nmap smtp-open-relay from the relay client (-S 127.0.0.2): it may relay, and nmap sees it" {
	audit_proxy
	nmap_relay -S 127.0.0.2 -e lo
	[[ $output =~ Server\ is\ an\ open\ relay\ \(([0-9]+)/16\ tests\) ]] ||
		fail "nmap did not see the relay client's permission:" "$output"
	local found=${BASH_REMATCH[1]}
	settle
	assert_log 'event=summary client=127\.0\.0\.2 '
	# what nmap counted is what the proxy passed on; the rest were not
	# addresses (501), never a relay refusal
	[[ $(backend_rcpts | wc -l) == "$found" ]] ||
		fail "nmap counted $found, the backend got:" "$(backend_rcpts)"
	refute_log 'Relay access denied'
	[[ $(grep -c 'event=reject client=127\.0\.0\.2 cmd=RCPT reply="501 5\.1\.3 ' "$TMP/smtpproxy.log") == $((16 - found)) ]] ||
		fail "the other attempts were not syntax errors:" "$(cat "$TMP/smtpproxy.log")"
}

# The tricks: "CODE|ADDRESS" with the RCPT reply a stranger gets. 554: the
# proxy's relay refusal (the address routes elsewhere); 501/500: not an
# address. Relay clients and logged-in users may relay: their 554s are 250.
TRICKS=(
	# percent hack
	'554|<user%far.test@local.test>'
	'554|<user%far.test@proxy.test>'
	'554|<"user%far.test"@local.test>'
	'554|<user%far.test@[127.0.0.3]>'
	'501|<user%far.test>'
	# bang path
	'554|<far.test!user@local.test>'
	'554|<far.test!user@proxy.test>'
	'501|<far.test!user>'
	# source routes: only the final address decides
	'554|<@local.test:user@far.test>'
	'554|<@local.test,@proxy.test:user@far.test>'
	# quoted local part holding an @
	'554|<"user@far.test"@local.test>'
	'501|<"user@far.test">'
	# double @
	'501|<user@far.test@local.test>'
	'501|<user@local.test@far.test>'
	# address literals: ours, someone else's, IPv6
	'554|<user@[127.0.0.3]>'
	'554|<user@[192.0.2.1]>'
	'554|<user@[IPv6:::1]>'
	'554|<user@[IPv6:2001:db8::1]>'
	'501|<user@[local.test]>'
	# trailing dot
	'501|<user@far.test.>'
	'501|<user@local.test.>'
	# upper case does not make a domain ours
	'554|<user@FAR.TEST>'
	'554|<USER@Far.Test>'
	# look-alike and suffix domains
	'554|<user@notlocal.test>'
	'554|<user@local.test.far.test>'
	'554|<user@sub.local.test>'
	# postmaster of someone else
	'554|<postmaster@far.test>'
	# not addresses at all
	'501|user@far.test'
	'501|<user@far.test'
	'501|<user@local.test:far.test>'
	'501|<user\\@far.test@local.test>'
	'500|<user@local.test\x00@far.test>'
	'500|<user@far.test\r@local.test>'
)

# trick_session ADDR FROM RCPT: one session with one RCPT from ADDR
trick_session() {
	run smtp -b "$1" 'EHLO client.test\r\n' =1 "MAIL FROM:$2\\r\\n" =1 \
		"RCPT TO:$3\\r\\n" =1 'QUIT\r\n'
}

@test "classic address tricks from a stranger: all refused, none reaches the backend" {
	audit_proxy
	local t code addr
	for t in "${TRICKS[@]}"; do
		code=${t%%|*} addr=${t#*|}
		trick_session 127.0.0.4 '<s@remote.test>' "$addr"
		assert_codes "220 250 250 $code 221" || fail "trick $addr"
		if [[ $code == 554 ]]; then
			assert_reply '554 5\.7\.1 <[^>]*>: Relay access denied$' || fail "trick $addr"
		fi
	done
	# MAIL FROM:<> (a bounce) and a forged local sender do not open the relay
	trick_session 127.0.0.4 '<>' '<user@far.test>'
	assert_codes "220 250 250 554 221"
	trick_session 127.0.0.4 '<postmaster@local.test>' '<user@far.test>'
	assert_codes "220 250 250 554 221"
	settle
	[[ -z $(backend_rcpts) ]] || fail "RCPTs reached the backend:" "$(backend_rcpts)"
	# (a line with NUL or a bare CR is refused before it has a verb: cmd=-)
	[[ $(grep -Ec 'event=reject client=127\.0\.0\.4 cmd=(RCPT|-) ' "$TMP/smtpproxy.log") == $((${#TRICKS[@]} + 2)) ]] ||
		fail "not every refusal was logged:" "$(grep event=reject "$TMP/smtpproxy.log")"
	[[ $(sink_count) == 0 ]] || fail "the backend stored mail"
}

@test "what is ours stays ours: <postmaster>, upper case and a source route to a local address" {
	audit_proxy
	local addr
	for addr in '<postmaster>' '<POSTMASTER>' '<user@LOCAL.TEST>' '<@far.test:user@local.test>' \
	    '<user@Proxy.Test>'; do
		trick_session 127.0.0.4 '<s@remote.test>' "$addr"
		assert_codes "220 250 250 250 221" || fail "local address $addr"
	done
	settle
	# each reached the backend as the local address it is (the route dropped)
	[[ $(backend_rcpts | paste -sd' ' -) == "RCPT TO:<postmaster> RCPT TO:<POSTMASTER> RCPT TO:<user@LOCAL.TEST> RCPT TO:<user@local.test> RCPT TO:<user@Proxy.Test>" ]] ||
		fail "the backend got:" "$(backend_rcpts)"
}

# trick_items: for each trick, MAIL, RCPT and RSET (one session for all);
# sets WANT to the reply codes expected when relaying is allowed, N to the
# number of RCPTs that pass
trick_items() {
	local t code addr
	ITEMS=() WANT= N=0
	for t in "${TRICKS[@]}"; do
		code=${t%%|*} addr=${t#*|}
		[[ $code == 554 ]] && code=250 N=$((N + 1))
		ITEMS+=('MAIL FROM:<s@remote.test>\r\n' =1 "RCPT TO:$addr\\r\\n" =1 'RSET\r\n' =1)
		WANT+=" 250 $code 250"
	done
}

@test "the same tricks from the relay client: relaying is allowed (250), bad syntax is still 501" {
	audit_proxy
	trick_items
	run smtp -t 30 -b 127.0.0.2 'EHLO client.test\r\n' =1 "${ITEMS[@]}" \
		'MAIL FROM:<>\r\n' =1 'RCPT TO:<user@far.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250$WANT 250 250 221"
	settle
	[[ $(backend_rcpts | wc -l) == $((N + 1)) ]] ||
		fail "expected $((N + 1)) RCPTs at the backend:" "$(backend_rcpts)"
	refute_log 'Relay access denied'
}

@test "the same tricks after AUTH (stranger, STARTTLS, AUTH PLAIN): relaying is allowed" {
	make_cert
	make_sasldb
	audit_proxy "tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/tls/key.pem" \
		"sasl_config_path $TMP/sasl" "sasl_mechanisms PLAIN LOGIN"
	trick_items
	run in_tls -b 127.0.0.4 "$(auth_plain alice "$ALICE_PW")" =1 "${ITEMS[@]}" 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 235$WANT 221"
	# without the login the same stranger is refused
	run in_tls -b 127.0.0.4 'MAIL FROM:<s@remote.test>\r\n' =1 'RCPT TO:<user@far.test>\r\n' =1 'QUIT\r\n' =1
	assert_codes "220 250 220 250 250 554 221"
	settle
	[[ $(backend_rcpts | wc -l) == "$N" ]] ||
		fail "expected $N RCPTs at the backend:" "$(backend_rcpts)"
	assert_log 'event=summary client=127\.0\.0\.4 .*login=alice '
	no_secret_in_log
}

@test "a HELO style without R (no domain required): a domainless bang path or percent hack is not a local address" {
	# the proxy qualifies nothing: an address without a domain is the
	# backend's to resolve, and an MTA with swap_bangpath/allow_percent_hack
	# (Postfix's defaults) turns far.test!user and user%far.test into
	# user@far.test. A real Postfix behind the proxy, which trusts the
	# proxy's address (XFORWARD only, as with a backend without XCLIENT).
	stop_pid "$SINK_PID"
	SINK_PID=
	start_postfix 'smtpd_authorized_xclient_hosts ='
	audit_proxy 'helo_default ve'
	local addr bad=()
	for addr in '<far.test!user>' '<user%far.test>' '<far.test!user%other.test>'; do
		run smtp -b 127.0.0.4 'EHLO client.test\r\n' =1 'MAIL FROM:<s@remote.test>\r\n' =1 \
			"RCPT TO:$addr\\r\\n" =1 'DATA\r\n' =1 'Subject: relay?\r\n\r\nrelayed\r\n.\r\n' =1 'QUIT\r\n'
		[[ $(reply_codes) == "220 250 250 554 "* ]] || bad+=("RCPT TO:$addr: $(reply_codes)")
	done
	# and <postmaster> without a domain is still ours
	run smtp -b 127.0.0.4 'EHLO client.test\r\n' =1 'MAIL FROM:<s@remote.test>\r\n' =1 \
		'RCPT TO:<postmaster>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 221"
	pf_settle
	((${#bad[@]} == 0)) || fail "a stranger's relay attempts were not refused:" "${bad[@]}" \
		"--- the backend:" "$(grep -E ' to=' "$TMP/postfix.log")"
	if grep -qE 'to=<[^>]*@(far|other)\.test>' "$TMP/postfix.log"; then
		fail "the backend relayed mail for a stranger:" "$(grep -E ' to=' "$TMP/postfix.log")"
	fi
}
