# dns.bash: a private DNS for the DNS policy tests (issue 4). Load it after
# lib/common; start the DNS for each test:
#
#	load lib/common
#	load lib/dns
#	setup()    { common_setup; start_dns; }
#	teardown() { dns_teardown; }
#
# or once for the whole file (the data never changes; saves ~0.5 s a test):
#
#	setup_file()    { common_setup_file; start_dns; }
#	teardown_file() { dns_teardown_file; }
#	setup()         { common_setup; }
#	teardown()      { dns_teardown; }
#
# start_dns starts three programs on loopback ports (UDP; dnsmasq also TCP)
# chosen with free_port, everything under $TMP/dns (or $FILE_TMP/dns):
#
#   rbldnsd   Debian's, in the foreground (-n), as nobody, on RBL_PORT: the
#             DNS lists, RFC 5782 test data (zone files $TMP/dns/*.zone)
#   dead      lib/deaddns, reading UDP on DEAD_PORT and never answering:
#             the zone dead.test (each query it swallows is one line
#             "query NAME from ADDR:PORT" of $TMP/dns/dead.log)
#   dnsmasq   on DNS_PORT: the ONE resolver smtpproxy talks to
#             (dns_conf_lines prints "dns_servers 127.0.0.1:DNS_PORT"). It
#             forwards the list zones to rbldnsd, dead.test to the dead
#             port, and answers the host data itself. No cache at all
#             (--cache-size=0 --no-negcache), so each query reaches the
#             server that owns the name. Log: $TMP/dns/dnsmasq.log.
#
# Lists (served by rbldnsd; an entry's TXT record is its reason):
#   dnsbl.test   127.0.0.2  A 127.0.0.2  TXT "Listed by dnsbl.test: see
#                           http://dnsbl.test/lookup?ip=127.0.0.2"
#                127.0.0.3  A 127.0.0.4  TXT "Listed with code 4: 127.0.0.3"
#                127.0.0.5  A 127.0.0.2  TXT: two strings of 250 bytes (500
#                           in all) holding ESC, TAB, CR LF, DEL and 8-bit
#                           bytes ($DNS_BAD_TXT1, $DNS_BAD_TXT2; dnsmasq serves
#                           it, rbldnsd clamps a TXT to one 255-byte string)
#                ::1        A 127.0.0.2  TXT "IPv6 ::1 listed by dnsbl.test"
#                127.0.0.1 and every other address: not listed (NXDOMAIN)
#   dnsbl2.test, dnsbl3.test
#                127.0.0.2  A 127.0.0.2  TXT "Listed by dnsbl2.test" (3.test)
#   dnsbl2.test  127.0.0.4  A 127.0.0.2, no TXT record
#   dnswl.test   127.0.0.2  A 127.0.0.2  TXT "Whitelisted by dnswl.test"
#   rhsbl.test   (names) "test" listed, as RFC 5782 says: the sender domain
#                test (a@test) hits; "spam.test" and its subdomains are
#                listed too (a@spam.test, a@x.spam.test); "invalid" is not,
#                nor is any other domain (a@invalid, a@mail.test miss).
#                A 127.0.0.2, TXT "Domain <name> listed by rhsbl.test"
#   refused.test every IPv4 and IPv6 address and every name under .test and
#                .invalid: A 127.255.255.254 (the answer of a list that
#                refuses the resolver: an error, never a listing)
#   notloop.test every IPv4 and IPv6 address: A 192.0.2.99 (a non-127
#                answer: an error too)
#   dead.test    never answers (queries time out)
#
# Hosts (served by dnsmasq; every other name under .test or .invalid and
# every other reverse name is NXDOMAIN, never forwarded anywhere):
#   client      PTR                          forward (A/AAAA)
#   127.0.0.1   client1.test                 client1.test   127.0.0.1
#   127.0.0.2   good.test                    good.test      127.0.0.2
#   127.0.0.3   three.test                   three.test     127.0.0.3
#   127.0.0.4   four.test                    four.test      127.0.0.4
#   127.0.0.5   five.test                    five.test      127.0.0.5
#   127.0.0.6   dyn-127-0-0-6.pool.test      (same)         127.0.0.6
#               (forward-confirmed, but looks dynamic)
#   127.0.0.7   none (NXDOMAIN)
#   127.0.0.8   mismatch.test                mismatch.test  192.0.2.8
#               (not forward-confirmed)
#   127.0.0.9   never answers (9.0.0.127.in-addr.arpa goes to the dead
#               server)
#   ::1         good6.test                   good6.test     ::1
#   HELO names: good.test (A 127.0.0.2), other.test (A 192.0.2.1: not the
#   address of any client), nonexistent.invalid (NXDOMAIN).
#   Sender domains: mail.test (MX 10 mx.mail.test, A 192.0.2.25),
#   aonly.test (A 192.0.2.26, no MX), test and spam.test (MX mx.mail.test),
#   nomx.test (NXDOMAIN: no MX, no A).
#
# Other helpers:
#   dnsq [-p PORT] [-t SECONDS] NAME [TYPE]   one UDP query with EDNS0
#       (default: dnsmasq, type A, 1 s); prints "status RCODE",
#       "truncated" if the TC bit is set, then one "TYPE DATA" line per
#       answer (TXT: each string in double quotes, bytes outside
#       0x20..0x7e as \xHH); exit 2 when no answer came in time
#   dns_conf_lines            the smtpproxy config lines that use this DNS
#   dns_heuristics_off [NAME...]  "weight NAME off" for every heuristic but
#                             the NAMEs given
#   start_dns_proxy [lines]   start_proxy for a client that is not a relay
#                             client (NO_RELAYCLIENT=1 unless the caller
#                             sets NO_RELAYCLIENT='') with local_domains
#                             local.test (cdb built by mkcdb) and
#                             dns_conf_lines, then the lines given (a line
#                             may hold several, newline-separated:
#                             "$(dns_heuristics_off)")
#   dns_teardown              common_teardown, then stop the DNS programs
#                             if this test started them
#   dns_teardown_file         stop a file-wide DNS, then common_teardown_file
#   dns_log_mark, dns_log_since REGEX   did dnsmasq log a line matching
#                             REGEX since the mark (which names were asked)
#   dns_mkcdb ARGS...         mkcdb with the harness's sanitizer options
#
# Sessions and assertions:
#   dns_session ADDR HELO FROM [RCPT...]   run one session from ADDR (EHLO
#       HELO, MAIL FROM:<FROM>, each RCPT (default user@local.test), QUIT)
#   assert_score ADDR RESULT SCORE|* [CHECK=WEIGHT...]   the log has an
#       event=score line for ADDR with that result and score whose checks=
#       list holds each CHECK=WEIGHT (numbers match 2.5, 2.50, 2.500...;
#       CHECK may carry an IN_/NOT_IN_/NOT_ prefix in the log)
#   refute_check ADDR CHECK   the (last) score line of ADDR lists no CHECK
#   num_re N                  an ERE for the number N printed with any
#                             number of decimals
#
# No step synchronises with a plain sleep: each start polls (bounded by
# WAIT_LIMIT) until the server answers a known query.

DNS_MKCDB=${MKCDB:-$ROOT/build/asan/mkcdb}

# every heuristic of the DNS policy (rbl-spec.md), in the spec's order
DNS_HEURISTICS=(helo_numeric helo_no_resolve client_ip_ne_helo client_no_rdns
	client_seems_dialup bogus_mx random_sender)

# The TXT record of 127.0.0.5 in dnsbl.test: 500 bytes in two strings, with
# control characters (ESC, TAB, CR, LF, DEL), 8-bit bytes and a CRLF
# followed by what would look like an SMTP reply. (dnsmasq splits its
# argument at commas and mangles bytes 0x01-0x06: none of those here.)
DNS_BAD_TXT1=$'Spam\033[31mred\033[0m\ttab\r\n250 2.0.0 injected\x7fdel\xe9\xff8bit '
DNS_BAD_TXT1+=$(printf 'A%.0s' $(seq $((250 - ${#DNS_BAD_TXT1}))))
DNS_BAD_TXT2=$(printf 'B%.0s' $(seq 250))

# dnsq [-p PORT] [-t SECONDS] NAME [TYPE]
dnsq() {
	local port=${DNS_PORT:-} t=1
	while (($#)); do
		case $1 in
		-p) port=$2; shift 2 ;;
		-t) t=$2; shift 2 ;;
		*) break ;;
		esac
	done
	"$LIB_DIR/dnsq" "$port" "$t" "$@"
}

# dns_answers PORT NAME TYPE REGEX: dnsq gets an answer matching REGEX
dns_answers() {
	local out
	out=$(dnsq -p "$1" -t 0.3 "$2" "$3" 2>/dev/null) || return 1
	grep -Eq -- "$4" <<<"$out"
}

udp_port_free() {
	[[ -z $(ss -uanH "( sport = :$1 )" 2>/dev/null) ]]
}

udp_port_bound() {
	! udp_port_free "$1"
}

# dns_free_port: a port free for TCP and UDP, not handed out before in
# this test
dns_free_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$(free_port) || return 1
		[[ $USED_PORTS == *" $p "* ]] && continue
		USED_PORTS+="$p "
		udp_port_free "$p" || continue
		echo "$p"
		return 0
	done
	fail "no free UDP port found"
}

# dns_write_zones: the rbldnsd data files (see the table above)
dns_write_zones() {
	local d=$DNS_DIR
	cat >"$d/dnsbl.zone" <<'EOF'
# dnsbl.test: RFC 5782 IPv4 test entries
:127.0.0.2:Listed by dnsbl.test: see http://dnsbl.test/lookup?ip=$
127.0.0.2
127.0.0.3 :127.0.0.4:Listed with code 4: $
# the TXT of 127.0.0.5 comes from dnsmasq (500 bytes, control characters)
127.0.0.5 :127.0.0.2:
EOF
	cat >"$d/dnsbl6.zone" <<'EOF'
# dnsbl.test: the IPv6 entry
:127.0.0.2:IPv6 $ listed by dnsbl.test
::1
EOF
	printf ':127.0.0.2:Listed by dnsbl2.test\n127.0.0.2\n127.0.0.4 :127.0.0.2:\n' \
		>"$d/dnsbl2.zone"
	printf ':127.0.0.2:Listed by dnsbl3.test\n127.0.0.2\n' >"$d/dnsbl3.zone"
	printf ':127.0.0.2:Whitelisted by dnswl.test\n127.0.0.2\n' >"$d/dnswl.zone"
	cat >"$d/rhsbl.zone" <<'EOF'
# rhsbl.test: RFC 5782: "test" is listed, "invalid" is not
:127.0.0.2:Domain $ listed by rhsbl.test
test
.spam.test
EOF
	printf ':127.255.255.254:Query refused\n0.0.0.0/0\n' >"$d/refused4.zone"
	printf ':127.255.255.254:Query refused\n::/0\n' >"$d/refused6.zone"
	printf ':127.255.255.254:Query refused\n.test\n.invalid\n' >"$d/refusedn.zone"
	printf ':192.0.2.99:Not a loopback answer\n0.0.0.0/0\n' >"$d/notloop4.zone"
	printf ':192.0.2.99:Not a loopback answer\n::/0\n' >"$d/notloop6.zone"
	chmod 644 "$d"/*.zone
}

# start_dns [extra dnsmasq options...]
start_dns() {
	# in setup_file (no $TMP yet) the DNS serves the whole file
	if [[ -n ${TMP:-} ]]; then
		DNS_DIR=$TMP/dns DNS_SCOPE=test
	else
		DNS_DIR=${FILE_TMP:?common_setup_file first}/dns DNS_SCOPE=file
	fi
	mkdir -p "$DNS_DIR"
	chmod 755 "$DNS_DIR"
	RBL_PORT=$(dns_free_port) && USED_PORTS+="$RBL_PORT " || return 1
	DEAD_PORT=$(dns_free_port) && USED_PORTS+="$DEAD_PORT " || return 1
	DNS_PORT=$(dns_free_port) && USED_PORTS+="$DNS_PORT " || return 1
	export DNS_DIR DNS_SCOPE RBL_PORT DEAD_PORT DNS_PORT
	dns_write_zones

	local user=() d=$DNS_DIR
	[[ $EUID != 0 ]] || user=(-u nobody)
	rbldnsd -n "${user[@]}" -c 0 -b "127.0.0.1/$RBL_PORT" \
		"dnsbl.test:ip4set:$d/dnsbl.zone" "dnsbl.test:ip6trie:$d/dnsbl6.zone" \
		"dnsbl2.test:ip4set:$d/dnsbl2.zone" "dnsbl3.test:ip4set:$d/dnsbl3.zone" \
		"dnswl.test:ip4set:$d/dnswl.zone" "rhsbl.test:dnset:$d/rhsbl.zone" \
		"refused.test:ip4trie:$d/refused4.zone" \
		"refused.test:ip6trie:$d/refused6.zone" \
		"refused.test:dnset:$d/refusedn.zone" \
		"notloop.test:ip4trie:$d/notloop4.zone" \
		"notloop.test:ip6trie:$d/notloop6.zone" \
		>"$d/rbldnsd.out" 2>&1 3>&- &
	RBLDNSD_PID=$!

	: >"$d/dead.log"
	chmod 666 "$d/dead.log"
	"$LIB_DIR/deaddns" "$DEAD_PORT" "$d/dead.log" >"$d/dead.out" 2>&1 3>&- &
	DEAD_PID=$!

	local mu=()
	[[ $EUID != 0 ]] || mu=(--user=nobody --group=nogroup)
	: >"$d/dnsmasq.log"
	chmod 666 "$d/dnsmasq.log"
	dnsmasq -k "${mu[@]}" -p "$DNS_PORT" --listen-address=127.0.0.1 \
		--bind-interfaces --conf-file=/dev/null --pid-file= \
		--no-resolv --no-hosts --no-poll --cache-size=0 --no-negcache \
		--log-queries --log-facility="$d/dnsmasq.log" \
		--server="/dnsbl.test/127.0.0.1#$RBL_PORT" \
		--server="/dnsbl2.test/127.0.0.1#$RBL_PORT" \
		--server="/dnsbl3.test/127.0.0.1#$RBL_PORT" \
		--server="/dnswl.test/127.0.0.1#$RBL_PORT" \
		--server="/rhsbl.test/127.0.0.1#$RBL_PORT" \
		--server="/refused.test/127.0.0.1#$RBL_PORT" \
		--server="/notloop.test/127.0.0.1#$RBL_PORT" \
		--server="/dead.test/127.0.0.1#$DEAD_PORT" \
		--server="/9.0.0.127.in-addr.arpa/127.0.0.1#$DEAD_PORT" \
		--local=/test/ --local=/invalid/ \
		--local=/in-addr.arpa/ --local=/ip6.arpa/ \
		--host-record=client1.test,127.0.0.1 \
		--host-record=good.test,127.0.0.2 \
		--host-record=three.test,127.0.0.3 \
		--host-record=four.test,127.0.0.4 \
		--host-record=five.test,127.0.0.5 \
		--host-record=dyn-127-0-0-6.pool.test,127.0.0.6 \
		--ptr-record=8.0.0.127.in-addr.arpa,mismatch.test \
		--host-record=mismatch.test,192.0.2.8 \
		--host-record=good6.test,::1 \
		--host-record=other.test,192.0.2.1 \
		--mx-host=mail.test,mx.mail.test,10 \
		--host-record=mail.test,192.0.2.25 \
		--host-record=mx.mail.test,192.0.2.25 \
		--host-record=aonly.test,192.0.2.26 \
		--mx-host=test,mx.mail.test,10 \
		--mx-host=spam.test,mx.mail.test,10 \
		--txt-record="5.0.0.127.dnsbl.test,$DNS_BAD_TXT1,$DNS_BAD_TXT2" \
		"$@" >"$d/dnsmasq.out" 2>&1 3>&- &
	DNSMASQ_PID=$!

	# bound first (cheap), then answering (each try may cost a time-out)
	wait_until udp_port_bound "$DEAD_PORT" &&
		wait_until udp_port_bound "$RBL_PORT" &&
		wait_until udp_port_bound "$DNS_PORT" &&
		wait_until dns_answers "$RBL_PORT" 2.0.0.127.dnsbl.test A '^A 127\.0\.0\.2$' &&
		wait_until dns_answers "$DNS_PORT" good.test A '^A 127\.0\.0\.2$' &&
		wait_until dns_answers "$DNS_PORT" 2.0.0.127.dnsbl.test A '^A 127\.0\.0\.2$' || {
		echo "--- DNS did not start:" >&2
		cat "$d/rbldnsd.out" "$d/dead.out" "$d/dnsmasq.out" >&2 2>/dev/null
		return 1
	}
}

dns_conf_lines() {
	echo "dns_servers 127.0.0.1:${DNS_PORT:?start_dns first}"
}

# dns_heuristics_off [NAME...]: "weight X off" for each heuristic not named
dns_heuristics_off() {
	local h keep=" $* "
	for h in "${DNS_HEURISTICS[@]}"; do
		[[ $keep == *" $h "* ]] || echo "weight $h off"
	done
}

# start_dns_proxy [config lines...]: the proxy for DNS tests: not a relay
# client, local.test is local, resolver = our dnsmasq
start_dns_proxy() {
	NO_RELAYCLIENT=${NO_RELAYCLIENT-1}
	printf 'local.test\n' >"$TMP/local.txt"
	dns_mkcdb -t domains "$TMP/local.txt" "$TMP/local.cdb" >/dev/null || return 1
	local lines=()
	mapfile -t lines < <(dns_conf_lines)
	start_proxy "local_domains cdb:$TMP/local.cdb" "${lines[@]}" "$@"
}

# dns_mkcdb ARGS...: mkcdb (ASan build; reports go to the test's san dir)
dns_mkcdb() {
	ASAN_OPTIONS="log_path=$TMP/san/asan" "$DNS_MKCDB" "$@"
}

dns_stop() {
	local p
	for p in ${DNSMASQ_PID:-} ${RBLDNSD_PID:-} ${DEAD_PID:-}; do
		kill "$p" 2>/dev/null || true
	done
	stop_pid "${DNSMASQ_PID:-}"
	stop_pid "${RBLDNSD_PID:-}"
	stop_pid "${DEAD_PID:-}"
	DNSMASQ_PID='' RBLDNSD_PID='' DEAD_PID=''
}

# dns_teardown: the common checks (sessions, sanitizers, exit codes) first,
# while the DNS still answers; then stop the DNS if this test started it.
dns_teardown() {
	local rc=0
	common_teardown || rc=$?
	[[ ${DNS_SCOPE:-} != test ]] || dns_stop
	return $rc
}

# dns_teardown_file: stop a DNS started by setup_file, then the common
# clean-up
dns_teardown_file() {
	dns_stop
	common_teardown_file
}

# dns_log_mark: remember how long the dnsmasq log is; dns_log_since REGEX:
# a line written after the mark matches REGEX
dns_log_mark() {
	DNS_LOG_MARK=$(wc -l <"$DNS_DIR/dnsmasq.log")
}

dns_log_since() {
	tail -n +$((${DNS_LOG_MARK:-0} + 1)) "$DNS_DIR/dnsmasq.log" | grep -Eq -- "$1"
}

# --------------------------------------------------------------- sessions

# dns_session ADDR HELO FROM [RCPT...]
dns_session() {
	local addr=$1 helo=$2 from=$3 r items=()
	shift 3
	(($#)) || set -- user@local.test
	items=("EHLO $helo\\r\\n" '=1' "MAIL FROM:<$from>\\r\\n" '=1')
	for r in "$@"; do
		items+=("RCPT TO:<$r>\\r\\n" '=1')
	done
	run smtp -b "$addr" "${items[@]}" 'QUIT\r\n'
}

# ------------------------------------------------------------- assertions

# re_escape STRING: STRING as an ERE matching itself
re_escape() {
	sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$1"
}

# num_re N: 2.5 -> 2\.50*   -1.25 -> -1\.250*   5 -> 5(\.0+)?   0 -> -?0(\.0+)?
num_re() {
	local n=$1 sign='' int frac=''
	[[ $n == -* ]] && { sign=-; n=${n#-}; }
	int=${n%%.*}
	[[ $n == *.* ]] && frac=${n#*.}
	while [[ $frac == *0 ]]; do frac=${frac%0}; done
	if [[ -n $frac ]]; then
		echo "$sign$int\\.${frac}0*"
	elif [[ $int == 0 ]]; then
		echo '-?0(\.0+)?'
	else
		echo "$sign$int(\\.0+)?"
	fi
}

# A check in the checks= list may carry policyd-weight's prefix telling a
# hit from a miss: IN_DNSBL(zone)=, NOT_IN_DNSBL(zone)=, NOT_HELO_NUMERIC=;
# the tests name the check without it (the weight tells hit from miss).
DNS_CHECK_PREFIX='(IN_|NOT_IN_|NOT_)?'

# score_line ADDR: the last event=score line of ADDR
score_line() {
	grep -E -- "event=score client=$(re_escape "$1") " "$TMP/smtpproxy.log" | tail -n 1
}

# assert_score ADDR RESULT SCORE [CHECK=WEIGHT...]  (SCORE * = any)
assert_score() {
	local addr=$1 result=$2 score=$3 line c name w
	shift 3
	[[ $score == '*' ]] && score='-?[0-9]+(\.[0-9]+)?' || score=$(num_re "$score")
	assert_log "event=score client=$(re_escape "$addr") score=$score result=$result checks=\"" ||
		return 1
	line=$(grep -E -- "event=score client=$(re_escape "$addr") score=$score result=$result " \
		"$TMP/smtpproxy.log" | tail -n 1)
	for c in "$@"; do
		name=${c%=*} w=${c##*=}
		grep -Eq -- "checks=\"([^\"]* )?$DNS_CHECK_PREFIX$(re_escape "$name")=$(num_re "$w")[ \"]" <<<"$line" ||
			fail "score line of $addr: expected $name=$w in checks" "--- line:" "$line"
	done
}

# dns_scored ADDR HELO FROM RESULT SCORE [CHECK=WEIGHT...]: dns_session
# with one RCPT, answered as RESULT (accept 250, defer 450, reject 550), and
# its score line as assert_score
dns_scored() {
	local addr=$1 helo=$2 from=$3 rcpt
	case $4 in
	accept) rcpt=250 ;;
	defer) rcpt=450 ;;
	reject) rcpt=550 ;;
	*) fail "dns_scored: unknown result '$4'" ;;
	esac
	dns_session "$addr" "$helo" "$from"
	assert_codes "220 250 250 $rcpt 221"
	assert_score "$addr" "${@:4}"
}

# refute_check ADDR CHECK: the last score line of ADDR does not list CHECK
refute_check() {
	local line
	line=$(score_line "$1")
	[[ -n $line ]] || fail "no score line for $1"
	if grep -Eq -- "checks=\"([^\"]* )?$DNS_CHECK_PREFIX$(re_escape "$2")=" <<<"$line"; then
		fail "score line of $1 lists $2" "--- line:" "$line"
	fi
}

# dns_file_fixture: in a test file, one DNS for the whole file (its data
# never changes) and a sink per test.
dns_file_fixture() {
	setup_file() {
		common_setup_file
		start_dns
	}
	teardown_file() {
		dns_teardown_file
	}
	setup() {
		common_setup
		start_sink
	}
	teardown() {
		dns_teardown
	}
}

