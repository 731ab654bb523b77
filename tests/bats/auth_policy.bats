#!/usr/bin/env bats
# auth_policy: what a login allows (kolab_smtpdpolicy's rules): MSA mode,
# sender_logins (who may use which sender address), restricted_recipients
# (lists only logged-in users, or some of them, may write to), and the
# login handed to a real Postfix backend with XCLIENT LOGIN=.

load lib/common
load lib/auth

setup() {
	common_setup
	make_cert
	make_sasldb
	printf '%s\n' '# address or @domain -> logins' \
		'alice@example.test alice' 'bob@example.test bob' \
		'@shared.test alice,bob' >"$TMP/senders.txt"
	mk -t senders "$TMP/senders.txt" "$TMP/senders.cdb"
	printf '%s\n' 'staff@local.test authenticated' 'board@local.test alice,carol' \
		>"$TMP/rcpts.txt"
	mk -t recipients "$TMP/rcpts.txt" "$TMP/rcpts.cdb"
	printf 'local.test\n' >"$TMP/domains.txt"
	mk -t domains "$TMP/domains.txt" "$TMP/domains.cdb"
	printf '127.0.0.2 OK\n' >"$TMP/nets.txt"
	mk -t networks "$TMP/nets.txt" "$TMP/nets.cdb"
}

# mail_as LOGIN PASSWORD ADDRESS...: in TLS, log in (unless LOGIN is -),
# then one MAIL per ADDRESS (each followed by RSET)
mail_as() {
	local login=$1 pw=$2 a items=()
	shift 2
	[[ $login == - ]] || items+=("$(auth_plain "$login" "$pw")" =1)
	for a in "$@"; do
		items+=("MAIL FROM:<$a>\\r\\n" =1 'RSET\r\n' =1)
	done
	run in_tls "${items[@]}" 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
}

# rcpt_as LOGIN PASSWORD RCPT...: in TLS, log in (unless -), MAIL, RCPTs
rcpt_as() {
	local login=$1 pw=$2 r items=()
	shift 2
	[[ $login == - ]] || items+=("$(auth_plain "$login" "$pw")" =1)
	items+=('MAIL FROM:<>\r\n' =1)
	for r in "$@"; do
		items+=("RCPT TO:<$r>\\r\\n" =1)
	done
	run in_tls "${items[@]}" 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
}

# ------------------------------------------------------------------ MSA

@test "msa yes: MAIL without AUTH is 530 5.7.0, after AUTH it goes through" {
	NO_RELAYCLIENT=1 start_sink
	NO_RELAYCLIENT=1 start_auth_proxy 'msa yes' "relay_clients cdb:$TMP/nets.cdb"
	run in_tls -b 127.0.0.3 'MAIL FROM:<s@remote.test>\r\n' =1 \
		"$(auth_plain alice "$ALICE_PW")" =1 'MAIL FROM:<s@remote.test>\r\n' =1 \
		'RCPT TO:<r@remote.test>\r\n' =1 'QUIT\r\n' =1
	[[ $status == 0 ]] || fail "tlssmtp status $status" "$output"
	assert_codes "220 250 220 250 530 235 250 250 221"
	assert_reply '530 5\.7\.0 Authentication required$'
	assert_log 'event=reject client=127\.0\.0\.3 cmd=MAIL reply="530 5\.7\.0 Authentication required"'
	# CRAM-MD5 before TLS is a login too
	run tlssmtp -b 127.0.0.3 'EHLO client.test\r\n' =1 'MAIL FROM:<s@remote.test>\r\n' =1 \
		'AUTH CRAM-MD5\r\n' =1 "@CRAM:bob:$BOB_PW" =1 'MAIL FROM:<s@remote.test>\r\n' =1 \
		'QUIT\r\n' =1
	assert_codes "220 250 530 334 235 250 221"
}

@test "msa yes: a relay_clients client is exempt; -o msa=yes turns a port into an MSA" {
	NO_RELAYCLIENT=1 start_sink
	NO_RELAYCLIENT=1 PROXY_ARGS='-o msa=yes' start_auth_proxy "relay_clients cdb:$TMP/nets.cdb"
	run smtp -b 127.0.0.2 'EHLO client.test\r\n' =1 'MAIL FROM:<s@remote.test>\r\n' =1 \
		'RCPT TO:<r@remote.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 250 250 221"
	run smtp -b 127.0.0.3 'EHLO client.test\r\n' =1 'MAIL FROM:<s@remote.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 530 221"
	assert_reply '530 5\.7\.0 Authentication required$'
}

# ------------------------------------------------------- sender_logins

@test "sender_logins: a user may use own addresses (exact, @domain, any case), not others' (553 5.7.1)" {
	start_sink
	start_auth_proxy "sender_logins cdb:$TMP/senders.cdb"
	mail_as alice "$ALICE_PW" alice@example.test Alice@Example.TEST anyone@shared.test \
		bob@example.test stranger@other.test ''
	assert_codes "220 250 220 250 235 250 250 250 250 250 250 553 250 553 250 250 250 221"
	assert_reply '553 5\.7\.1 <bob@example\.test>: Sender address not owned by user alice$'
	assert_reply '553 5\.7\.1 <stranger@other\.test>: Sender address not owned by user alice$'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=MAIL reply="553 5\.7\.1 <bob@example\.test>: Sender address not owned by user alice"'
	mail_as bob "$BOB_PW" bob@example.test anyone@shared.test alice@example.test
	assert_codes "220 250 220 250 235 250 250 250 250 553 250 221"
	# carol owns nothing
	mail_as carol "$CAROL_PW" carol@example.test
	assert_codes "220 250 220 250 235 553 250 221"
}

@test "sender_logins strict: a stranger may not use an owned address (553 5.7.1), an unowned one is fine" {
	start_sink
	start_auth_proxy "sender_logins cdb:$TMP/senders.cdb"
	mail_as - - alice@example.test ALICE@EXAMPLE.TEST x@shared.test stranger@other.test ''
	assert_codes "220 250 220 250 553 250 553 250 553 250 250 250 250 250 221"
	assert_reply '553 5\.7\.1 <alice@example\.test>: Sender address belongs to a user: authenticate first$'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=MAIL reply="553 5\.7\.1 <x@shared\.test>: '
	# the same in plaintext, as port 25 sees it
	run smtp 'EHLO client.test\r\n' =1 'MAIL FROM:<bob@example.test>\r\n' =1 'QUIT\r\n'
	assert_codes "220 250 553 221"
}

@test "sender_login_match authenticated: strangers may use owned addresses, users still only theirs" {
	start_sink
	start_auth_proxy "sender_logins cdb:$TMP/senders.cdb" 'sender_login_match authenticated'
	mail_as - - alice@example.test x@shared.test stranger@other.test
	assert_codes "220 250 220 250 250 250 250 250 250 250 221"
	mail_as alice "$ALICE_PW" bob@example.test alice@example.test
	assert_codes "220 250 220 250 235 553 250 250 250 221"
}

@test "sender_logins: a missing table is 451 4.3.0, never an accept" {
	start_sink
	start_auth_proxy "sender_logins cdb:$TMP/missing.cdb"
	mail_as alice "$ALICE_PW" alice@example.test
	assert_codes "220 250 220 250 235 451 250 221"
	assert_reply '451 4\.3\.0 '
	mail_as - - stranger@other.test
	assert_codes "220 250 220 250 451 250 221"
	assert_log "event=table-error table=cdb:$TMP/missing\\.cdb"
}

# ----------------------------------------------- restricted_recipients

@test "restricted_recipients authenticated: strangers get 550 5.7.1, logged-in users pass" {
	NO_RELAYCLIENT=1 start_sink
	NO_RELAYCLIENT=1 start_auth_proxy "restricted_recipients cdb:$TMP/rcpts.cdb" \
		"local_domains cdb:$TMP/domains.cdb"
	rcpt_as - - staff@local.test STAFF@local.test user@local.test
	assert_codes "220 250 220 250 250 550 550 250 221"
	assert_reply '550 5\.7\.1 <staff@local\.test>: Recipient restricted to authenticated users$'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=RCPT reply="550 5\.7\.1 <staff@local\.test>: Recipient restricted to authenticated users"'
	rcpt_as bob "$BOB_PW" staff@local.test user@local.test
	assert_codes "220 250 220 250 235 250 250 250 221"
}

@test "restricted_recipients: a missing table is 451 4.3.0 for everyone, never an accept" {
	NO_RELAYCLIENT=1 start_sink
	NO_RELAYCLIENT=1 start_auth_proxy "restricted_recipients cdb:$TMP/missing.cdb" \
		"local_domains cdb:$TMP/domains.cdb"
	rcpt_as - - staff@local.test
	assert_codes "220 250 220 250 250 451 221"
	assert_reply '451 4\.3\.0 Temporary lookup failure$'
	rcpt_as alice "$ALICE_PW" board@local.test
	assert_codes "220 250 220 250 235 250 451 221"
	assert_log "event=table-error table=cdb:$TMP/missing\\.cdb reason=\"No such file or directory\""
	assert_log 'event=reject client=127\.0\.0\.1 cmd=RCPT reply="451 4\.3\.0 Temporary lookup failure"'
	settle
	[[ $(sink_count) == 0 ]] || fail "delivered"
}

@test "restricted_recipients with logins: only those logins may write" {
	NO_RELAYCLIENT=1 start_sink
	NO_RELAYCLIENT=1 start_auth_proxy "restricted_recipients cdb:$TMP/rcpts.cdb" \
		"local_domains cdb:$TMP/domains.cdb" "relay_clients cdb:$TMP/nets.cdb"
	rcpt_as alice "$ALICE_PW" board@local.test
	assert_codes "220 250 220 250 235 250 250 221"
	rcpt_as carol "$CAROL_PW" board@local.test
	assert_codes "220 250 220 250 235 250 250 221"
	rcpt_as bob "$BOB_PW" board@local.test staff@local.test
	assert_codes "220 250 220 250 235 250 550 250 221"
	assert_reply '550 5\.7\.1 <board@local\.test>: Recipient restricted to some users$'
	rcpt_as - - board@local.test
	assert_codes "220 250 220 250 250 550 221"
	# a client that may relay (relay_clients) is no login either
	run in_tls -b 127.0.0.2 'MAIL FROM:<>\r\n' =1 'RCPT TO:<board@local.test>\r\n' =1 \
		'RCPT TO:<staff@local.test>\r\n' =1 'RCPT TO:<r@remote.test>\r\n' =1 'QUIT\r\n' =1
	assert_codes "220 250 220 250 250 550 550 250 221"
}

# --------------------------------------------------------------- Postfix

@test "the login reaches a real Postfix through XCLIENT LOGIN= (sasl_username, ESMTPA)" {
	start_postfix
	start_auth_proxy
	swaks_proxy --local-interface 127.0.0.2 --tls --auth PLAIN --auth-user alice \
		--auth-password "$ALICE_PW" --body 'authenticated body'
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	local qid
	qid=$(queue_id)
	[[ -n $qid ]] || fail "no queue id:" "$output"
	pf_settle
	pf_wait_count 1
	grep -Eq "postfix/smtpd\[[0-9]+\]: $qid: client=[^ ]*\[127\.0\.0\.2\], sasl_method=XCLIENT, sasl_username=alice$" \
		"$TMP/postfix.log" || fail "Postfix log:" "$(grep "$qid" "$TMP/postfix.log")"
	grep -Eq "^	by backend\.test \(Postfix\) with ESMTPA id $qid" "$PF_DIR/mail/$qid.eml" ||
		fail "Received header:" "$(head -3 "$PF_DIR/mail/$qid.eml")"
	grep -qx 'authenticated body' "$PF_DIR/mail/$qid.eml"
	assert_log 'event=summary client=127\.0\.0\.2 .*login=alice .*accepted=1 '

	# an unauthenticated session: no login at Postfix
	swaks_proxy --local-interface 127.0.0.3 --tls --body 'anonymous body'
	[[ $status == 0 ]] || fail "swaks status $status" "$output"
	qid=$(queue_id)
	pf_settle
	pf_wait_count 2
	grep -Eq "$qid: client=[^ ]*\[127\.0\.0\.3\]$" "$TMP/postfix.log" ||
		fail "Postfix log:" "$(grep "$qid" "$TMP/postfix.log")"
	grep -Eq "with ESMTP id $qid" "$PF_DIR/mail/$qid.eml" ||
		fail "Received header:" "$(head -3 "$PF_DIR/mail/$qid.eml")"
}

# --------------------------- addresses as the MTA delivers to (issue 11)

# policy_tables: staff@example.test restricted to logged-in users (beside
# the setup's tables), example.test local
policy_tables() {
	printf '%s\n' 'staff@example.test authenticated' >"$TMP/rcpts2.txt"
	mk -t recipients "$TMP/rcpts2.txt" "$TMP/rcpts2.cdb"
	printf 'example.test\n' >"$TMP/domains2.txt"
	mk -t domains "$TMP/domains2.txt" "$TMP/domains2.cdb"
}

@test "restricted_recipients: quoted, escaped, folded and extended forms of a restricted user are refused 550 5.7.1 unauthenticated" {
	policy_tables
	NO_RELAYCLIENT=1 start_sink
	NO_RELAYCLIENT=1 start_auth_proxy "restricted_recipients cdb:$TMP/rcpts2.cdb" \
		"local_domains cdb:$TMP/domains2.cdb"
	# Postfix delivers each of these to staff@example.test
	rcpt_as - - '"staff"@example.test' '"st\aff"@example.test' 'staff+x@example.test' \
		'"st aff"@example.test' 'STAFF+x@Example.Test' \
		'"other user"@example.test' 'staffer@example.test' 'x+staff@example.test'
	assert_codes "220 250 220 250 250 550 550 550 550 550 250 250 250 221"
	assert_reply '550 5\.7\.1 <"staff"@example\.test>: Recipient restricted to authenticated users$'
	assert_reply '550 5\.7\.1 <"st\\aff"@example\.test>: Recipient restricted to authenticated users$'
	assert_reply '550 5\.7\.1 <staff\+x@example\.test>: Recipient restricted to authenticated users$'
	assert_reply '550 5\.7\.1 <"st aff"@example\.test>: Recipient restricted to authenticated users$'
	assert_log 'event=reject client=127\.0\.0\.1 cmd=RCPT reply="550 5\.7\.1 <STAFF\+x@Example\.Test>: Recipient restricted'
	# logged in, every form passes
	# (MAIL FROM:<> takes few recipients: two sessions)
	rcpt_as bob "$BOB_PW" '"staff"@example.test' '"st\aff"@example.test' 'staff+x@example.test'
	assert_codes "220 250 220 250 235 250 250 250 250 221"
	rcpt_as bob "$BOB_PW" '"st aff"@example.test' 'STAFF+x@Example.Test'
	assert_codes "220 250 220 250 235 250 250 250 221"
}

@test "restricted_recipients: recipient_delimiter empty means no extensions, '-+' makes both delimiters" {
	policy_tables
	NO_RELAYCLIENT=1 start_sink
	NO_RELAYCLIENT=1 start_auth_proxy "restricted_recipients cdb:$TMP/rcpts2.cdb" \
		"local_domains cdb:$TMP/domains2.cdb" 'recipient_delimiter'
	rcpt_as - - 'staff+x@example.test' 'staff-x@example.test' '"staff"@example.test'
	assert_codes "220 250 220 250 250 250 250 550 221"
	wait_sessions_done
	stop_pid "$XINETD_PID"
	XINETD_PID=
	NO_RELAYCLIENT=1 start_auth_proxy "restricted_recipients cdb:$TMP/rcpts2.cdb" \
		"local_domains cdb:$TMP/domains2.cdb" 'recipient_delimiter -+'
	rcpt_as - - 'staff-x@example.test' 'staff+x@example.test' 'staffx@example.test'
	assert_codes "220 250 220 250 250 550 550 250 221"
	assert_reply '550 5\.7\.1 <staff-x@example\.test>: Recipient restricted to authenticated users$'
}

@test "sender_logins strict: quoted and extended forms of an owned address need its owner (553 5.7.1)" {
	start_sink
	start_auth_proxy "sender_logins cdb:$TMP/senders.cdb"
	mail_as - - '"alice"@example.test' 'alice+x@example.test' '"al\ice"@example.test' \
		'"al ice"@example.test' '"someone else"@other.test'
	assert_codes "220 250 220 250 553 250 553 250 553 250 553 250 250 250 221"
	assert_reply '553 5\.7\.1 <"alice"@example\.test>: Sender address belongs to a user: authenticate first$'
	assert_reply '553 5\.7\.1 <alice\+x@example\.test>: Sender address belongs to a user: authenticate first$'
	mail_as alice "$ALICE_PW" '"alice"@example.test' 'alice+x@example.test' '"al ice"@example.test'
	assert_codes "220 250 220 250 235 250 250 250 250 250 250 221"
	mail_as bob "$BOB_PW" '"alice"@example.test' 'alice+x@example.test'
	assert_codes "220 250 220 250 235 553 250 553 250 221"
	assert_reply '553 5\.7\.1 <"alice"@example\.test>: Sender address not owned by user bob$'
	assert_reply '553 5\.7\.1 <alice\+x@example\.test>: Sender address not owned by user bob$'
}
