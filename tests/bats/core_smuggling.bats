#!/usr/bin/env bats
# core_smuggling: only CR LF . CR LF ends DATA; bare CR, bare LF and NUL
# never let a client end a message early and slip a second one past the
# proxy (SMTP smuggling), neither in commands nor in DATA.
#
# Each DATA test sends: hello CRLF, then one of the nine fake ends, then
#   MAIL FROM:<evil@x> CRLF RCPT TO:<v@y> CRLF DATA CRLF smuggled CRLF . CRLF
# whose last CRLF . CRLF is the one real end of data, then QUIT.
# bare_newline reject: 550 5.5.2 (NUL: 550 5.6.0), the backend stores nothing.
# bare_newline normalize: one message, from the real sender, holding the
# smuggled text as content; never a message from evil@x.

load lib/common

SMUGGLED='MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nsmuggled\r\n.\r\n'

# smuggle VARIANT: the session described above; rawsmtp's result in $output.
# BYTEWISE=1 sends the message one byte per write (PREFIX replaces the text
# before the fake end).
smuggle() {
	local how=${BYTEWISE:+~}
	run smtp 'EHLO client.test\r\n' =1 'MAIL FROM:<sender@test>\r\n' =1 \
		'RCPT TO:<rcpt@test>\r\n' =1 'DATA\r\n' =1 \
		"$how${PREFIX-Subject: smuggling\\r\\n\\r\\nhello\\r\\n}$1$SMUGGLED" =1 'QUIT\r\n'
	assert_closed
}

# sink_reject VARIANT CODE: reject mode against smtp-sink
sink_reject() {
	start_sink
	start_proxy 'bare_newline reject'
	smuggle "$1"
	assert_codes "220 250 250 250 354 550 221"
	assert_reply "550 ${2//./\\.}"
	settle
	[[ $(sink_count) == 0 ]] || fail "the backend stored $(sink_count) message(s):" "$(cat $(sink_files))"
	assert_log "event=reject client=127\\.0\\.0\\.1 .*reply=\"550 ${2//./\\.}"
}

# sink_normalize VARIANT: normalize mode against smtp-sink
sink_normalize() {
	start_sink
	start_proxy 'bare_newline normalize'
	smuggle "$1"
	assert_codes "220 250 250 250 354 250 221"
	settle
	local n f
	n=$(sink_count)
	[[ $n == 1 ]] || fail "the backend stored $n messages, expected 1:" "$(cat $(sink_files))"
	f=$(sink_files)
	grep -q '^X-Mail-Args: <sender@test>' "$f" || fail "wrong sender:" "$(cat "$f")"
	grep -q '^X-Rcpt-Args: <rcpt@test>$' "$f" || fail "wrong recipients:" "$(cat "$f")"
	[[ $(grep -c '^X-Rcpt-Args' "$f") == 1 ]] || fail "extra recipients:" "$(cat "$f")"
	grep -q '^hello$' "$f" || fail "first line lost:" "$(cat "$f")"
	grep -q 'MAIL FROM:<evil@x>' "$f" || fail "smuggled command is not content:" "$(cat "$f")"
	grep -q '^smuggled$' "$f" || fail "smuggled line lost:" "$(cat "$f")"
	assert_log 'event=summary .*rcpts=1 accepted=1 .*result=(ok|quit)'
}

# ------------------------------------------------------------- commands

@test "command: bare LF inside a command line: 500 5.5.2, nothing accepted" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<sender@test>\nRCPT TO:<rcpt@test>\r\n' 'QUIT\r\n'
	assert_closed
	local codes
	codes=$(reply_codes)
	[[ $codes == "220 250 500 "* && $codes == *" 221" ]] || fail "codes: $codes" "$output"
	assert_reply '500 5\.5\.2'
	refute_reply '250 2\.1\.[05]'
	assert_log 'event=reject client=127\.0\.0\.1 .*reply="500 5\.5\.2'
}

@test "command: bare CR inside a command line: 500 5.5.2, the rest of the line is not a command" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'NOOP\rQUIT\r\n' =1 'NOOP\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 500 250 221"
	assert_reply '500 5\.5\.2'
	assert_log 'event=reject .*reply="500 5\.5\.2'
}

@test "command: NUL inside a command line: 500 5.5.2" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'NO\0OP\r\n' =1 'MAIL FROM:<a@test>\0\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 500 500 221"
	assert_reply_count 2 '500 5\.5\.2'
}

# ------------------------------------------- DATA, reject, smtp-sink backend

@test 'reject: \n.\n' { sink_reject '\n.\n' 5.5.2; }
@test 'reject: \r.\r' { sink_reject '\r.\r' 5.5.2; }
@test 'reject: \r.\n' { sink_reject '\r.\n' 5.5.2; }
@test 'reject: \r\n.\n' { sink_reject '\r\n.\n' 5.5.2; }
@test 'reject: \n.\r\n' { sink_reject '\n.\r\n' 5.5.2; }
@test 'reject: \r.\r\n' { sink_reject '\r.\r\n' 5.5.2; }
@test 'reject: \r\n.\r' { sink_reject '\r\n.\r' 5.5.2; }
@test 'reject: \r\n\0.\r\n (NUL: 550 5.6.0)' { sink_reject '\r\n\0.\r\n' 5.6.0; }
@test 'reject: \n.\r' { sink_reject '\n.\r' 5.5.2; }

@test 'reject, one byte per write: \n.\r\n' { BYTEWISE=1 sink_reject '\n.\r\n' 5.5.2; }
@test 'reject, one byte per write: \r.\r\n' { BYTEWISE=1 sink_reject '\r.\r\n' 5.5.2; }
@test 'reject, one byte per write: \r\n.\n' { BYTEWISE=1 sink_reject '\r\n.\n' 5.5.2; }
@test 'reject: .\n as the very first bytes of DATA' { PREFIX= sink_reject '.\n' 5.5.2; }
@test 'reject: .\r as the very first bytes of DATA' { PREFIX= sink_reject '.\r' 5.5.2; }

@test "reject: a bare LF in the middle of a line: 550 5.5.2" {
	start_sink
	start_proxy
	run smtp 'EHLO c\r\n' =1 'MAIL FROM:<sender@test>\r\n' =1 'RCPT TO:<rcpt@test>\r\n' =1 \
		'DATA\r\n' =1 'Subject: lf\r\n\r\none\ntwo\r\n.\r\n' =1 'QUIT\r\n'
	assert_closed
	assert_codes "220 250 250 250 354 550 221"
	assert_reply '550 5\.5\.2'
	settle
	[[ $(sink_count) == 0 ]] || fail "the backend stored a message"
}

# ----------------------------------------- DATA, normalize, smtp-sink backend

@test 'normalize: \n.\n' { sink_normalize '\n.\n'; }
@test 'normalize: \r.\r' { sink_normalize '\r.\r'; }
@test 'normalize: \r.\n' { sink_normalize '\r.\n'; }
@test 'normalize: \r\n.\n' { sink_normalize '\r\n.\n'; }
@test 'normalize: \n.\r\n' { sink_normalize '\n.\r\n'; }
@test 'normalize: \r.\r\n' { sink_normalize '\r.\r\n'; }
@test 'normalize: \r\n.\r' { sink_normalize '\r\n.\r'; }
@test 'normalize: \n.\r' { sink_normalize '\n.\r'; }

@test 'normalize, one byte per write: \n.\r\n' { BYTEWISE=1 sink_normalize '\n.\r\n'; }
@test 'normalize, one byte per write: \r\n.\n' { BYTEWISE=1 sink_normalize '\r\n.\n'; }

@test 'normalize: \r\n\0.\r\n is still refused: NUL gives 550 5.6.0' {
	start_sink
	start_proxy 'bare_newline normalize'
	smuggle '\r\n\0.\r\n'
	assert_codes "220 250 250 250 354 550 221"
	assert_reply '550 5\.6\.0'
	settle
	[[ $(sink_count) == 0 ]] || fail "the backend stored $(sink_count) message(s)"
}

# ------------------------------------------- DATA, real Postfix backend
# Postfix runs with smtpd_forbid_bare_newline = reject: in normalize mode the
# proxy must hand it clean CRLF lines, else Postfix refuses the message.

pf_reject() {
	start_postfix
	start_proxy 'bare_newline reject'
	smuggle "$1"
	assert_codes "220 250 250 250 354 550 221"
	assert_reply '550 5\.5\.2'
	pf_settle
	[[ $(pf_count) == 0 ]] || fail "Postfix delivered $(pf_count) message(s)"
	! grep -q 'from=<evil@x>' "$TMP/postfix.log" || fail "Postfix saw evil@x:" "$(cat "$TMP/postfix.log")"
	! grep -q 'queue active' "$TMP/postfix.log" || fail "Postfix queued a message:" "$(cat "$TMP/postfix.log")"
}

pf_normalize() {
	start_postfix
	start_proxy 'bare_newline normalize'
	smuggle "$1"
	assert_codes "220 250 250 250 354 250 221"
	assert_reply '250 2\.0\.0 Ok: queued as [0-9A-F]+'
	pf_settle
	[[ $(pf_count) == 1 ]] || fail "Postfix delivered $(pf_count) messages, expected 1"
	local f
	f=$(pf_mail_files)
	grep -q 'MAIL FROM:<evil@x>' "$f" || fail "smuggled command is not content:" "$(cat "$f")"
	grep -qx 'smuggled' "$f" || fail "smuggled line lost:" "$(cat "$f")"
	! grep -q 'bare <LF> received' "$TMP/postfix.log" || fail "proxy passed a bare LF on:" "$(cat "$TMP/postfix.log")"
	! grep -q 'from=<evil@x>' "$TMP/postfix.log" || fail "Postfix saw evil@x"
	grep -q 'from=<sender@test>' "$TMP/postfix.log" || fail "no delivery from sender@test"
}

@test 'postfix, reject: \n.\n' { pf_reject '\n.\n'; }
@test 'postfix, reject: \r\n.\n' { pf_reject '\r\n.\n'; }
@test 'postfix, reject: \n.\r\n' { pf_reject '\n.\r\n'; }
@test 'postfix, normalize: \n.\n' { pf_normalize '\n.\n'; }
@test 'postfix, normalize: \r\n.\n' { pf_normalize '\r\n.\n'; }
@test 'postfix, normalize: \n.\r\n' { pf_normalize '\n.\r\n'; }
@test 'postfix, normalize: \r.\r\n' { pf_normalize '\r.\r\n'; }
