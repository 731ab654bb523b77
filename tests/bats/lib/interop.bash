# interop.bash: helpers of the interop_*.bats files, which send through
# smtpproxy with real senders (Python's smtplib, curl, swaks) to real
# backends (Dovecot LMTP, Postfix, smtp-sink). Load after lib/common.
#
#   make_msg FILE BYTES SEED  a message as an application hands it to its
#                             SMTP library: FILE (CRLF, not dot-stuffed),
#                             FILE.wire (dot-stuffed, for rawsmtp) and
#                             FILE.lf (LF line ends: what a Maildir or
#                             smtp-sink stores)
#   smtplib_send [opts] MSG   lib/smtplib_send against the proxy (run)
#   sender_codes              the reply codes smtplib_send or curl -v
#                             printed ("< 250 ..."), in order
#   assert_sender_codes "..." they are exactly these
#   curl_smtp [opts] MSG      curl -v smtp:// against the proxy (run),
#                             EHLO client.test, from sender@remote.test;
#                             opts are curl's (--mail-rcpt, --ssl-reqd...);
#                             CURL_URL (default smtp://PROXY_HOST:PROXY_PORT)
#                             and CURL_FROM change the server and sender

SMTPLIB_SEND=$LIB_DIR/smtplib_send

make_msg() {
	gen_message "$1.wire" "$2" "$3"
	LC_ALL=C sed 's/^\.//' "$1.wire" >"$1"
	LC_ALL=C sed 's/\r$//' "$1" >"$1.lf"
}

smtplib_send() {
	run /usr/bin/python3 "$SMTPLIB_SEND" "${@:1:$#-1}" "$PROXY_HOST" "$PROXY_PORT" "${@: -1}"
}

sender_codes() {
	plain | sed -nE 's/^< ([0-9]{3})( .*)?$/\1/p' | paste -sd' ' -
}

assert_sender_codes() {
	local got
	got=$(sender_codes)
	[[ $got == "$1" ]] ||
		fail "reply codes: expected '$1'" "                got '$got'" "--- output:" "$output"
}

# curl_smtp [curl options] MSG: curl prints each reply as "< 250 ..." and
# each command as "> MAIL FROM:..." (-v); curl's QUIT may or may not come
# (it closes the connection itself at the end)
curl_smtp() {
	local msg=${*: -1}
	run curl -sS -v --max-time 20 "${CURL_URL:-smtp://$PROXY_HOST:$PROXY_PORT}/client.test" \
		--mail-from "${CURL_FROM:-sender@remote.test}" "${@:1:$#-1}" --upload-file "$msg"
}
