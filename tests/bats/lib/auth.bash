# auth.bash: helpers of the tests/bats/auth_*.bats files (STARTTLS, AUTH,
# sender and list policy). Load after lib/common.
#
#   make_cert                 self-signed key and certificate for proxy.test:
#                             $TMP/tls/key.pem, $TMP/tls/cert.pem
#   make_chain                a CA and a leaf signed by it: $TMP/tls/leaf.key,
#                             $TMP/tls/chain.pem (leaf first, then the CA)
#   make_sasldb               libsasl2's $TMP/sasl/smtpproxy.conf and a sasldb
#                             with alice, bob and carol (realm proxy.test)
#   tls_conf, sasl_conf       the smtpproxy.conf lines that use them
#   swaks_proxy [options]     swaks against the proxy (run); output in $output
#   swaks_codes               the codes of swaks's complete server replies
#   assert_swaks_codes "..."  ... are exactly these
#   s_client [options]        openssl s_client -starttls smtp -quiet against
#                             the proxy, stdin = the commands (CRLF)
#   tlssmtp [-t s] [-b a] ITEM...  rawsmtp-like client that can switch to
#                             TLS in the middle (@TLS, @TLS1.2, @TLS1.3) and
#                             answer CRAM-MD5 (@CRAM:user:password)
#   in_tls [-b a] ITEM...     tlssmtp after EHLO, STARTTLS, EHLO
#   auth_plain USER PW        the line "AUTH PLAIN <initial response>\r\n"
#   fail2ban_ips LOG          addresses etc/fail2ban's filter finds in LOG
#   b64 STRING                base64 of STRING (no newline)
#   plain_resp USER PW        base64 of "\0USER\0PW" (AUTH PLAIN)
#   no_secret_in_log          neither password nor its AUTH payloads in the log
#   assert_auth_failures N MECHANISM  exactly N auth-failed lines of
#                             127.0.0.1 for MECHANISM in the log
#   make_saslauthd            a sasldb for saslauthd with alice and bob, and
#                             libsasl2's $TMP/sasl/smtpproxy.conf that checks
#                             PLAIN and LOGIN passwords through saslauthd
#   start_saslauthd           a private saslauthd (-a sasldb) on
#                             $TMP/saslauthd/run/mux; sets SASLAUTHD_PID
#   stop_saslauthd [KILL]     stop it (KILL leaves the socket file behind)

MKCDB=${MKCDB:-$ROOT/build/asan/mkcdb}
REALM=proxy.test
# passwords that appear nowhere else, so that a grep of the log means it
ALICE_PW='Al1ce-pw-7Qz'
BOB_PW='B0b-pw-9Xw'
CAROL_PW='Car0l-pw-3Kv'

mk() {
	ASAN_OPTIONS="log_path=$TMP/san/asan" "$MKCDB" "$@"
}

make_cert() {
	mkdir -p "$TMP/tls"
	chmod 755 "$TMP/tls"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=proxy.test \
		-keyout "$TMP/tls/key.pem" -out "$TMP/tls/cert.pem" \
		>"$TMP/tls/req.out" 2>&1 || { cat "$TMP/tls/req.out" >&2; return 1; }
	# read before the privilege drop: root only is enough
	chmod 600 "$TMP/tls/key.pem"
}

make_chain() {
	local d=$TMP/tls
	mkdir -p "$d"
	chmod 755 "$d"
	{
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
			-subj '/CN=Test CA' -keyout "$d/ca.key" -out "$d/ca.pem" \
			-addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign &&
		openssl req -newkey rsa:2048 -nodes -subj /CN=proxy.test \
			-keyout "$d/leaf.key" -out "$d/leaf.csr" &&
		printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:proxy.test\n' >"$d/leaf.ext" &&
		openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -extfile "$d/leaf.ext" -out "$d/leaf.pem"
	} >"$d/chain.out" 2>&1 || { cat "$d/chain.out" >&2; return 1; }
	cat "$d/leaf.pem" "$d/ca.pem" >"$d/chain.pem"
	chmod 600 "$d/leaf.key"
}

make_sasldb() {
	local d=$TMP/sasl u pw
	mkdir -p "$d"
	chmod 755 "$d"
	for u in alice:$ALICE_PW bob:$BOB_PW carol:$CAROL_PW; do
		pw=${u#*:}
		printf '%s' "$pw" | saslpasswd2 -p -f "$d/sasldb2" -c -u "$REALM" "${u%%:*}" ||
			return 1
	done
	# sessions run as nobody
	chmod 644 "$d/sasldb2"
	cat >"$d/smtpproxy.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $d/sasldb2
mech_list: PLAIN LOGIN CRAM-MD5
EOF
	chmod 644 "$d/smtpproxy.conf"
}

# tls_conf: the config lines for STARTTLS with make_cert's files
tls_conf() {
	printf '%s\n' "tls_cert_file $TMP/tls/cert.pem" "tls_key_file $TMP/tls/key.pem"
}

sasl_conf() {
	printf '%s\n' "sasl_config_path $TMP/sasl" \
		"sasl_mechanisms PLAIN LOGIN CRAM-MD5"
}

# start_auth_proxy [config lines]: the proxy with TLS and SASL configured
start_auth_proxy() {
	local lines=()
	mapfile -t lines < <(tls_conf; sasl_conf)
	start_proxy "${lines[@]}" "$@"
}

b64() {
	printf '%s' "$1" | base64 -w0
}

# plain_resp USER PASSWORD: the AUTH PLAIN initial response
plain_resp() {
	printf '\0%s\0%s' "$1" "$2" | base64 -w0
}

# ------------------------------------------------------------------ swaks

# swaks_proxy [swaks options]: against the proxy, from client.test
swaks_proxy() {
	run swaks --server "$PROXY_HOST:$PROXY_PORT" --helo client.test \
		--timeout 15 --from sender@remote.test --to rcpt@remote.test "$@"
}

# swaks_codes: the codes of the complete server replies swaks printed
# ("<-  250 ..." in plain text, "<~  250 ..." in TLS, "<** 5xx" refused)
swaks_codes() {
	plain | sed -nE 's/^<[-~*]+ +([0-9]{3})( .*)?$/\1/p' | paste -sd' ' -
}

assert_swaks_codes() {
	local got
	got=$(swaks_codes)
	[[ $got == "$1" ]] ||
		fail "swaks reply codes: expected '$1'" "                     got '$got'" "--- output:" "$output"
}

# assert_swaks_reply REGEX: a reply line swaks received matches ^REGEX
assert_swaks_reply() {
	plain | sed -nE 's/^<[-~*]+ +//p' | grep -Eq -- "^$1" ||
		fail "expected a reply matching ^$1" "--- output:" "$output"
}

# ----------------------------------------------------------- s_client

# s_client [openssl options]: STARTTLS, then stdin as the session; prints
# what the server sent after the handshake (and s_client's own lines on
# stderr, merged by run)
s_client() {
	timeout 15 openssl s_client -starttls smtp -connect "$PROXY_HOST:$PROXY_PORT" \
		-servername proxy.test -quiet "$@"
}

# s_client_raw [openssl options]: the same, with certificate and session
# information (no -quiet) and without s_client's single-letter commands
s_client_raw() {
	timeout 15 openssl s_client -starttls smtp -connect "$PROXY_HOST:$PROXY_PORT" \
		-servername proxy.test -nocommands -ign_eof "$@"
}

# ------------------------------------------------------------- tlssmtp

# tlssmtp [-t seconds] [-b addr] [-G] ITEM...: like rawsmtp against the
# proxy (the same items and options), plus
#   @TLS @TLS1.2 @TLS1.3   client TLS handshake on the connection now (no
#                          certificate check); prints "# tls VERSION CIPHER"
#   @CRAM:USER:PASSWORD    answer the last 334 challenge with CRAM-MD5
# Exit: 0 the server closed, 2 timeout, 3 connection or handshake failure
# (prints "# tls-failed REASON"), 4 closed while replies were awaited.
tlssmtp() {
	"$LIB_DIR/tlssmtp" "$@" "$PROXY_HOST" "$PROXY_PORT"
}

# ------------------------------------------------------------------- log

# no_secret_in_log: the passwords, and the base64 of every AUTH payload a
# test may have sent, are absent from the smtpproxy log (and the trace
# files given as arguments)
no_secret_in_log() {
	local f pw u pat=()
	for pw in "$ALICE_PW" "$BOB_PW" "$CAROL_PW" wrong-Pa55word; do
		pat+=("$pw" "$(b64 "$pw")")
		for u in alice bob carol nobody-here; do
			pat+=("$(plain_resp "$u" "$pw")")
		done
	done
	for u in alice bob carol nobody-here; do
		pat+=("$(b64 "$u")")
	done
	for f in "$TMP/smtpproxy.log" "$@"; do
		[[ -f $f ]] || continue
		for p in "${pat[@]}"; do
			if grep -qF -- "$p" "$f"; then
				fail "secret '$p' found in $f:" "$(grep -F -- "$p" "$f")"
				return 1
			fi
		done
	done
}

# assert_auth_failures N MECHANISM: exactly N lines of the smtpproxy log
# are "event=auth-failed client=127.0.0.1 mechanism=MECHANISM" (call when
# the log is complete: after settle or its summary line)
assert_auth_failures() {
	[[ $(grep -c "event=auth-failed client=127\\.0\\.0\\.1 mechanism=$2\$" "$TMP/smtpproxy.log") == "$1" ]] ||
		fail "$2 failure lines:" "$(cat "$TMP/smtpproxy.log")"
}

# in_tls [-b addr] ITEM...: tlssmtp session that says EHLO, STARTTLS,
# EHLO again, then runs ITEMs (replies so far: "220 250 220 250")
in_tls() {
	local opts=()
	if [[ ${1:-} == -b ]]; then
		opts=(-b "$2")
		shift 2
	fi
	tlssmtp "${opts[@]}" 'EHLO client.test\r\n' =1 'STARTTLS\r\n' =1 @TLS \
		'EHLO client.test\r\n' =1 "$@"
}

# auth_plain USER PASSWORD: one AUTH PLAIN command with an initial
# response, as a rawsmtp/tlssmtp item
auth_plain() {
	printf 'AUTH PLAIN %s\\r\\n' "$(plain_resp "$1" "$2")"
}

# fail2ban_ips LOGFILE: the addresses the project's fail2ban filter finds
# in LOGFILE, one a line; fail2ban-regex when installed, else the same
# failregex as grep -E (prefix of a syslog or log_file line)
fail2ban_ips() {
	local filter=$ROOT/etc/fail2ban/filter.d/smtpproxy.conf re
	if command -v fail2ban-regex >/dev/null && [[ -f /etc/fail2ban/filter.d/common.conf ]]; then
		mkdir -p "$TMP/f2b/filter.d"
		cp /etc/fail2ban/filter.d/common.conf "$filter" "$TMP/f2b/filter.d/"
		fail2ban-regex -c "$TMP/f2b" -o ip "$1" smtpproxy
		return
	fi
	re=$(sed -n 's/^failregex *= *//p' "$filter")
	re=${re//'%(__prefix_line)s'/'[A-Z][a-z]{2} +[0-9]+ [0-9:]{8} [^ ]+ smtpproxy\[[0-9]+\]: '}
	re=${re//'<ADDR>'/'([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)'}
	grep -E -- "$re" "$1" | sed -E 's/.* client=([^ ]+) .*/\1/'
}

# auth_fixture: in a test file, each test gets a certificate, a sasldb and
# a sink before it starts.
auth_fixture() {
	setup() {
		common_setup
		make_cert
		make_sasldb
		start_sink
	}
}

# ------------------------------------------------------------- saslauthd
#
# saslauthd's sasldb mechanism reads /etc/sasldb2 and nothing else: unlike
# libsasl2's auxprop plugin it asks for no sasldb_path option, and -O means
# nothing to it. start_saslauthd therefore runs it in a private mount
# namespace (unshare) in which the test's sasldb is bind-mounted over
# /etc/sasldb2 (which sasl2-bin's postinst creates): neither the machine's
# file nor its mount table changes, and the real saslauthd reads a real
# sasldb made by saslpasswd2.
#
# libsasl2 hands saslauthd the connection's user realm, empty since
# smtpproxy sets none; saslauthd's sasldb then looks the user up in the
# realm gethostname(2) gives: make_saslauthd stores the users there.
#
# With -d, saslauthd's SIGTERM handler signals its whole process group
# (kill(-master_pid) with master_pid still 0): it gets a session of its own
# (setsid), or stopping it would kill bats too.

SASLAUTHD_PID=

make_saslauthd() {
	local d=$TMP/saslauthd u pw realm
	realm=$(hostname)
	mkdir -p "$d/run" "$d/db" "$TMP/sasl"
	# the sessions run as nobody: they may pass through to run/mux (which
	# saslauthd makes 0777), not list the directories
	chmod 711 "$d" "$d/run"
	chmod 700 "$d/db"
	chmod 755 "$TMP/sasl"
	for u in alice:$ALICE_PW bob:$BOB_PW; do
		pw=${u#*:}
		printf '%s' "$pw" | saslpasswd2 -p -f "$d/db/sasldb2" -c -u "$realm" "${u%%:*}" ||
			return 1
	done
	cat >"$TMP/sasl/smtpproxy.conf" <<EOF
pwcheck_method: saslauthd
saslauthd_path: $d/run/mux
mech_list: PLAIN LOGIN
EOF
	chmod 644 "$TMP/sasl/smtpproxy.conf"
}

# saslauthd_up N PID: saslauthd listens (the socket is there and the log
# has N "listening on socket" lines, each written after listen(2));
# status 2 when PID died
saslauthd_up() {
	local n
	[[ -n $2 ]] && ! kill -0 "$2" 2>/dev/null && return 2
	[[ -S $TMP/saslauthd/run/mux ]] || return 1
	n=$(grep -c 'listening on socket: ' "$TMP/saslauthd.log" 2>/dev/null) || n=0
	((n >= $1))
}

# start_saslauthd: saslauthd -d (foreground; its log is $TMP/saslauthd.log)
# -n 0 (no worker processes: one process answers every request in turn)
# -a sasldb -m $TMP/saslauthd/run; waits until it listens on run/mux.
start_saslauthd() {
	local d=$TMP/saslauthd log=$TMP/saslauthd.log n i pid='' rc
	[[ -f /etc/sasldb2 ]] ||
		fail "/etc/sasldb2 is missing (sasl2-bin's postinst makes it): nothing to bind-mount over"
	[[ -z $SASLAUTHD_PID ]] || stop_saslauthd
	n=$(grep -c 'listening on socket: ' "$log" 2>/dev/null) || n=0
	rm -f "$d/pid"
	# shellcheck disable=SC2016
	setsid unshare --mount --propagation private sh -c \
		'mount --bind "$1" /etc/sasldb2 && echo $$ >"$2" &&
		exec saslauthd -d -n 0 -a sasldb -m "$3"' \
		sh "$d/db/sasldb2" "$d/pid" "$d/run" >>"$log" 2>&1 3>&- &
	for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
		[[ -z $pid && -s $d/pid ]] && pid=$(<"$d/pid")
		rc=0
		saslauthd_up $((n + 1)) "$pid" || rc=$?
		((rc == 0 || rc == 2)) && break
		sleep 0.05
	done
	if ((rc != 0)) || [[ -z $pid ]]; then
		cat "$log" >&2
		[[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null || true
		fail "saslauthd did not start"
		return 1
	fi
	SASLAUTHD_PID=$pid
	# its own process group, or its SIGTERM handler would hit bats
	[[ $(ps -o pgid= -p "$pid" | tr -d ' ') == "$pid" ]] || {
		stop_saslauthd KILL
		fail "saslauthd is not the leader of its own process group"
	}
}

# stop_saslauthd [KILL]: SIGTERM (saslauthd removes run/mux) or SIGKILL
# (the socket file stays and connect(2) is refused); waits until it is
# gone. Never fails (it runs in teardown).
stop_saslauthd() {
	local pid=$SASLAUTHD_PID sig=${1:-TERM}
	[[ -n $pid ]] || return 0
	SASLAUTHD_PID=
	# SIGTERM only to the leader of its own group (see above)
	[[ $(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') == "$pid" ]] || sig=KILL
	kill -"$sig" "$pid" 2>/dev/null || true
	wait_until pid_gone "$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 0
}
