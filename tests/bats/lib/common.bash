# common.bash: helpers loaded by every tests/bats/*.bats file.
#
# Each bats file runs alone: setup_file makes one temp dir for the file
# ($FILE_TMP), setup makes one sub dir per test ($TMP) and teardown stops
# every program the test started, then fails the test when a sanitizer wrote
# a report ($TMP/san), when an smtpproxy session was still running, or when
# one exited non-zero or on a signal (xinetd's EXIT lines).
#
# Programs (all real, all on loopback):
#   start_sink [smtp-sink options]   Postfix's smtp-sink as the backend;
#                                    sets SINK_PORT, SINK_PID and BACKEND;
#                                    each message lands in $TMP/sink/msg.*
#   start_sink_unix [options]        the same on unix:$TMP/sink.sock
#   start_postfix [main.cf lines]    a private Postfix instance as the backend
#                                    (lib/postfix.bash, loaded from here);
#                                    sets PF_DIR, PF_PORT and BACKEND; each
#                                    message lands in $PF_DIR/mail/QID.eml
#   start_proxy [config lines]       xinetd running $SMTPPROXY_BIN with
#                                    $TMP/smtpproxy.conf; sets PROXY_PORT
#                                    and PROXY_HOST (SMTPPROXY_MODE=server:
#                                    smtpproxy -l in server mode instead,
#                                    its pid in SERVER_PID)
#   stop_proxy                       stop what start_proxy started (and
#                                    check it, as teardown does)
#   smtp [-t s] [-b addr] ITEM...    lib/rawsmtp against the proxy
#   hold NAME [-b addr] [-G] ITEM... rawsmtp in the background, usually
#                                    held open by "$(go NAME)" until
#                                    release NAME; held NAME REGEX waits
#                                    for a line of its output
#   proxy_env CMD...                 run the binary directly (-V, -n, -T)
#
# Assertions on `run smtp ...`: assert_codes, assert_reply, refute_reply,
# assert_reply_count, assert_closed; on the log: assert_log, refute_log,
# wait_log_count; on `smtpproxy -n`: check_conf; on the backend: settle /
# settle_unix / pf_settle, then sink_count, sink_files, sink_body, pf_count,
# pf_mail_files, pf_body, queue_id.
#
# Knobs: PROXY_BIND (listening address, default 127.0.0.1), PROXY_ARGS
# (more smtpproxy options), NO_RELAYCLIENT (do not set RELAYCLIENT for the
# proxy), ALLOW_NONZERO_EXIT (a test expects smtpproxy to fail),
# WAIT_LIMIT (seconds, default 5), SMTPPROXY_KEEP_TMP (keep the temp dirs),
# SMTPPROXY_MODE (xinetd, the default: one exec per connection; server:
# start_proxy runs `smtpproxy -l PROXY_BIND:PORT` in server mode, and
# teardown stops it with SIGTERM, fails the test when it does not stop, exits
# non-zero, or logged a child that exited non-zero or on a signal
# (event=child-exit, event=child-crash) - what xinetd's EXIT lines say in the
# default mode). in_server_mode tells a test which mode it runs in.
#
# Waits are poll loops bounded by WAIT_LIMIT seconds that fail loudly; no
# test synchronises with a plain sleep.

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LIB_DIR/../../.." && pwd)
SMTPPROXY_BIN=${SMTPPROXY_BIN:-$ROOT/build/asan/smtpproxy}
RAWSMTP=$LIB_DIR/rawsmtp
WAIT_LIMIT=${WAIT_LIMIT:-5}
SMTPPROXY_MODE=${SMTPPROXY_MODE:-xinetd}
export SMTPPROXY_BIN RAWSMTP SMTPPROXY_MODE

# in_server_mode: the suite runs against smtpproxy's server mode
in_server_mode() {
	[[ $SMTPPROXY_MODE == server ]]
}

# start_postfix, stop_postfix, pf_*, queue_id
# shellcheck source-path=SCRIPTDIR source=postfix.bash
source "$LIB_DIR/postfix.bash"

# ---------------------------------------------------------------- set up

common_setup_file() {
	FILE_TMP=$(mktemp -d /tmp/smtpproxy-bats.XXXXXX)
	chmod 755 "$FILE_TMP"
	export FILE_TMP
}

common_teardown_file() {
	if [[ -n ${FILE_TMP:-} && -d $FILE_TMP ]]; then
		# a private Postfix left over by a test that died half-way
		local d
		for d in "$FILE_TMP"/*/pf; do
			[[ -f $d/queue/pid/master.pid ]] || continue
			PF_DIR=$d stop_postfix
		done
		if [[ -z ${SMTPPROXY_KEEP_TMP:-} ]]; then
			rm -rf "$FILE_TMP"
		else
			echo "# kept $FILE_TMP" >&3
		fi
	fi
}

common_setup() {
	[[ -n ${FILE_TMP:-} ]] || common_setup_file
	TMP=$FILE_TMP/t$BATS_TEST_NUMBER
	rm -rf "$TMP"
	mkdir -p "$TMP"
	chmod 755 "$TMP"
	mkdir -m 1777 "$TMP/san"
	chmod 1777 "$TMP/san"
	USED_PORTS=" "
	XINETD_PID= SERVER_PID= SINK_PID= PF_DIR= PROXY_PORT= SINK_PORT= PF_PORT=
	PROXY_HOST=127.0.0.1
	ALLOW_NONZERO_EXIT=
	BACKEND=
	export TMP
}

setup_file() { common_setup_file; }
teardown_file() { common_teardown_file; }
setup() { common_setup; }
teardown() { common_teardown; }

# The test fails with a message on stderr (bats prints it).
fail() {
	printf '%s\n' "$@" >&2
	return 1
}

require_proxy() {
	[[ -x $SMTPPROXY_BIN ]] ||
		fail "smtpproxy binary not found: $SMTPPROXY_BIN (run: make asan)"
}

# --------------------------------------------------------------- waiting

# wait_until CMD...: run CMD every 50 ms until it succeeds, at most
# WAIT_LIMIT seconds; fail loudly otherwise.
wait_until() {
	local i n=$((WAIT_LIMIT * 20))
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	fail "timed out after ${WAIT_LIMIT}s waiting for: $*"
}

port_listening() {
	[[ -n $(ss -ltnH "sport = :$2" 2>/dev/null) ]]
}

# wait_port HOST PORT: wait until something listens on PORT (any address);
# does not connect, so xinetd starts no session for it.
wait_port() {
	wait_until port_listening "$1" "$2"
}

own_port() {
	kill -0 "$1" 2>/dev/null || return 2
	ss -ltnpH "sport = :$2" 2>/dev/null | grep -q "pid=$1,"
}

# wait_own_port PID PORT: wait until process PID listens on PORT; fails at
# once if PID died (e.g. another program took the port first)
wait_own_port() {
	local i n=$((WAIT_LIMIT * 20)) rc
	for ((i = 0; i < n; i++)); do
		own_port "$1" "$2" && return 0
		rc=$?
		((rc == 2)) && return 1
		# the port is someone else's: give up on it
		if port_listening 127.0.0.1 "$2" && ((i > 10)); then
			return 1
		fi
		sleep 0.05
	done
	return 1
}

# free_port: print a TCP port nobody listens on and that this test has not
# handed out yet.
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		[[ $USED_PORTS == *" $p "* ]] && continue
		port_listening 127.0.0.1 "$p" && continue
		[[ -n $(ss -tanH "( sport = :$p or dport = :$p )" 2>/dev/null) ]] && continue
		USED_PORTS+="$p "
		echo "$p"
		return 0
	done
	fail "no free port found"
}

file_has() {
	[[ -f $1 ]] && grep -Eq -- "$2" "$1"
}

# wait_log REGEX: wait until the smtpproxy log has a line matching REGEX.
wait_log() {
	wait_until file_has "$TMP/smtpproxy.log" "$1" || {
		echo "--- smtpproxy.log:" >&2
		cat "$TMP/smtpproxy.log" >&2 2>/dev/null
		return 1
	}
}

# log_line REGEX: print the log lines matching REGEX (after wait_log).
log_line() {
	grep -E -- "$1" "$TMP/smtpproxy.log"
}

# server_busy_children: the children of the server in SERVER_PID that
# serve a client now (fd 0 is the client's socket; an idle reusable worker
# has /dev/null there)
server_busy_children() {
	local k
	for k in $(pgrep -P "$SERVER_PID"); do
		[[ $(readlink "/proc/$k/fd/0" 2>/dev/null) == socket:* ]] && echo "$k"
	done
	return 0
}

sessions_running() {
	if [[ -n $SERVER_PID ]]; then
		[[ -n $(server_busy_children) ]]
		return
	fi
	[[ -n $XINETD_PID ]] && [[ -n $(pgrep -P "$XINETD_PID") ]]
}

no_sessions_running() {
	! sessions_running
}

# wait_sessions_done: wait until every smtpproxy started by xinetd ended
# (server mode: until no child of the server serves a client).
wait_sessions_done() {
	wait_until no_sessions_running
}

# backend_idle [PORT]: no connection to the backend's port is open on the
# backend's side (close-wait counts as open: the backend may not have read
# the last bytes yet)
backend_idle() {
	local port=${1:-${SINK_PORT:-$PF_PORT}}
	[[ -z $(ss -tnH state syn-recv state established state close-wait \
		"( sport = :$port )" 2>/dev/null) ]]
}

# wait_backend_idle [PORT]: wait until the backend has no open connection,
# i.e. it has read everything up to the proxy's close.
wait_backend_idle() {
	wait_until backend_idle "$@"
}

# settle: the sessions ended and the backend has read all they sent; after
# this, what the backend has stored is final.
settle() {
	wait_sessions_done && wait_backend_idle
}

# ------------------------------------------------------------- smtp-sink

# start_sink [smtp-sink options...]: smtp-sink on 127.0.0.1:SINK_PORT; each
# complete message lands in its own file $TMP/sink/msg.*.
start_sink() {
	local try
	stop_pid "$SINK_PID"	# a second sink must not orphan the first
	SINK_PID=
	mkdir -m 1777 -p "$TMP/sink"
	for try in 1 2 3; do
		SINK_PORT=$(free_port) || return 1
		smtp-sink -u nobody -d "$TMP/sink/msg." "$@" "127.0.0.1:$SINK_PORT" 64 \
			>"$TMP/sink.out" 2>&1 &
		SINK_PID=$!
		BACKEND=127.0.0.1:$SINK_PORT
		wait_own_port "$SINK_PID" "$SINK_PORT" && return 0
		stop_pid "$SINK_PID"
	done
	cat "$TMP/sink.out" >&2
	fail "smtp-sink did not start"
}

# start_sink_unix [options...]: the same on a UNIX-domain socket
# $TMP/sink.sock; BACKEND=unix:$TMP/sink.sock.
start_sink_unix() {
	mkdir -m 1777 -p "$TMP/sink"
	smtp-sink -u nobody -d "$TMP/sink/msg." "$@" "unix:$TMP/sink.sock" 64 \
		>"$TMP/sink.out" 2>&1 &
	SINK_PID=$!
	BACKEND=unix:$TMP/sink.sock
	wait_until test -S "$TMP/sink.sock" || return 1
	chmod 666 "$TMP/sink.sock"
}

unix_backend_idle() {
	! ss -xH 2>/dev/null | grep -qF " $TMP/sink.sock "
}

# settle_unix: like settle, for the sink on $TMP/sink.sock
settle_unix() {
	wait_sessions_done && wait_until unix_backend_idle
}

sink_files() {
	find "$TMP/sink" -maxdepth 1 -type f -name 'msg.*' 2>/dev/null | sort
}

sink_count() {
	sink_files | wc -l
}

# sink_body FILE: the message as received, without smtp-sink's own header
# lines (X-* and the 3-line Received) and its closing empty line.
sink_body() {
	awk '
		hdr == 0 && /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): / { next }
		hdr == 0 && /^Received: / { hdr = 1; skip = 2; next }
		hdr == 0 { hdr = 2 }
		hdr == 1 && skip > 0 && /^\t/ { skip--; next }
		{ hdr = 2; lines[n++] = $0 }
		END { for (i = 0; i < n - 1; i++) print lines[i] }
	' "$1"
}

# sink_direct MSGFILE OUT: send MSGFILE (already CRLF, dot-stuffed, without
# the final dot) straight to the sink and store the dumped body in OUT: the
# reference a proxied copy must equal.
sink_direct() {
	local before after f
	before=$(sink_files)
	"$RAWSMTP" -t 30 127.0.0.1 "$SINK_PORT" 'EHLO direct\r\n' =1 \
		'MAIL FROM:<ref@test>\r\n' =1 'RCPT TO:<ref@test>\r\n' =1 \
		'DATA\r\n' =1 "<$1" '.\r\n' =1 'QUIT\r\n' >"$TMP/direct.out" ||
		{ cat "$TMP/direct.out" >&2; return 1; }
	wait_backend_idle "$SINK_PORT" || return 1
	after=$(sink_files)
	f=$(comm -13 <(echo "$before") <(echo "$after"))
	[[ -n $f && -f $f ]] || fail "sink_direct: no dump"
	sink_body "$f" >"$2"
	rm -f "$f"
}

# -------------------------------------------------------------- smtpproxy

# start_proxy [config lines...]: write $TMP/smtpproxy.conf (backend,
# log_file and hostname unless given), an xinetd config with one service
# running $SMTPPROXY_BIN, start xinetd in the foreground and wait for the
# port. PROXY_BIND (default 127.0.0.1) picks the listening address.
start_proxy() {
	require_proxy || return 1
	write_proxy_conf "$@" || return 1
	if in_server_mode; then
		start_server
		return
	fi
	local try
	for try in 1 2 3; do
		write_xinetd_conf || return 1
		xinetd -dontfork -f "$TMP/xinetd.conf" -filelog "$TMP/xinetd.log" \
			-pidfile "$TMP/xinetd.pid" >"$TMP/xinetd.out" 2>&1 &
		XINETD_PID=$!
		wait_own_port "$XINETD_PID" "$PROXY_PORT" && return 0
		stop_pid "$XINETD_PID"
		XINETD_PID=
	done
	cat "$TMP/xinetd.out" "$TMP/xinetd.log" >&2 2>/dev/null
	fail "xinetd did not start"
}

# write_proxy_conf [config lines...]: $TMP/smtpproxy.conf as start_proxy
# writes it
write_proxy_conf() {
	local conf=$TMP/smtpproxy.conf line keys=" "
	for line in "$@"; do
		keys+="${line%% *} "
	done
	{
		[[ $keys == *" backend "* ]] || echo "backend ${BACKEND:?no backend started}"
		[[ $keys == *" log_file "* ]] || echo "log_file $TMP/smtpproxy.log"
		[[ $keys == *" hostname "* ]] || echo "hostname proxy.test"
		# the learnt backend extensions stay in this test's own folder
		[[ $keys == *" backend_ehlo_cache "* ]] ||
			echo "backend_ehlo_cache $TMP/state/backend-ehlo"
		printf '%s\n' "$@"
	} >"$conf"
	mkdir -p -m 1777 "$TMP/state"
	chmod 644 "$conf"
	touch "$TMP/smtpproxy.log"
	chmod 666 "$TMP/smtpproxy.log"
}

# server_env: SERVER_ENV, the `env -i ...` words that give a command the
# environment xinetd gives its service: nothing but PATH, the sanitizer
# options and RELAYCLIENT (unless NO_RELAYCLIENT). Used as
# "${SERVER_ENV[@]}" CMD... & (not through a function, so that $! is CMD's
# own pid).
server_env() {
	SERVER_ENV=(env -i PATH="$PATH")
	[[ -n ${NO_RELAYCLIENT:-} ]] || SERVER_ENV+=(RELAYCLIENT=)
	SERVER_ENV+=(ASAN_OPTIONS="log_path=$TMP/san/asan:detect_leaks=1"
		UBSAN_OPTIONS="log_path=$TMP/san/ubsan:print_stacktrace=1:halt_on_error=1")
}

# start_server [smtpproxy options...]: smtpproxy in server mode (-l) on
# PROXY_BIND (default 127.0.0.1) and a free port, in the background with
# $TMP/smtpproxy.conf (write_proxy_conf), PROXY_ARGS and the given options;
# sets SERVER_PID, PROXY_PORT and PROXY_HOST and waits until it listens.
# Its stdout and stderr go to $TMP/server.out.
start_server() {
	local bind=${PROXY_BIND:-127.0.0.1} spec try
	PROXY_HOST=$bind
	server_env
	for try in 1 2 3; do
		PROXY_PORT=$(free_port) || return 1
		spec=$bind:$PROXY_PORT
		[[ $bind == *:* ]] && spec="[$bind]:$PROXY_PORT"
		# shellcheck disable=SC2086 # PROXY_ARGS are words
		"${SERVER_ENV[@]}" "$SMTPPROXY_BIN" -f "$TMP/smtpproxy.conf" \
			-l "$spec" ${PROXY_ARGS:-} "$@" >"$TMP/server.out" 2>&1 3>&- &
		SERVER_PID=$!
		wait_own_port "$SERVER_PID" "$PROXY_PORT" && return 0
		stop_pid "$SERVER_PID"
		SERVER_PID=
	done
	cat "$TMP/server.out" >&2 2>/dev/null
	tail -n 5 "$TMP/smtpproxy.log" >&2 2>/dev/null
	fail "smtpproxy -l $spec did not start"
}

write_xinetd_conf() {
	local bind=${PROXY_BIND:-127.0.0.1} flags= relay=
	# the core tests are not about the relay decision: clients may relay
	# (as with tcpserver's RELAYCLIENT) unless a test sets NO_RELAYCLIENT
	[[ -n ${NO_RELAYCLIENT:-} ]] || relay=RELAYCLIENT=
	PROXY_HOST=$bind
	[[ $bind == *:* ]] && flags="flags = IPv6"
	PROXY_PORT=$(free_port) || return 1
	cat >"$TMP/xinetd.conf" <<EOF
defaults
{
	log_type = FILE $TMP/xinetd.log
	log_on_success = PID EXIT DURATION
	log_on_failure = HOST
}

service smtpproxy-test
{
	type = UNLISTED
	port = $PROXY_PORT
	bind = $bind
	$flags
	socket_type = stream
	protocol = tcp
	wait = no
	user = root
	instances = 64
	per_source = UNLIMITED
	cps = 1000 1
	server = $SMTPPROXY_BIN
	server_args = -f $TMP/smtpproxy.conf ${PROXY_ARGS:-}
	env = ASAN_OPTIONS=log_path=$TMP/san/asan:detect_leaks=1 UBSAN_OPTIONS=log_path=$TMP/san/ubsan:print_stacktrace=1:halt_on_error=1 $relay
	log_type = FILE $TMP/xinetd.log
	log_on_success = PID EXIT DURATION
	log_on_failure = HOST
}
EOF
}

# proxy_env CMD...: run CMD (e.g. $SMTPPROXY_BIN -T ...) with the
# sanitizer options of the harness and RELAYCLIENT set (unless
# NO_RELAYCLIENT); use with bats' run.
proxy_env() {
	local relay=(RELAYCLIENT=)
	[[ -z ${NO_RELAYCLIENT:-} ]] || relay=(-u RELAYCLIENT)
	env "${relay[@]}" ASAN_OPTIONS="log_path=$TMP/san/asan:detect_leaks=1" \
		UBSAN_OPTIONS="log_path=$TMP/san/ubsan:print_stacktrace=1:halt_on_error=1" \
		"$@"
}

# write_conf [lines...]: only the config file, for -n / -T tests.
write_conf() {
	local conf=$TMP/smtpproxy.conf
	printf '%s\n' "$@" >"$conf"
	chmod 644 "$conf"
	touch "$TMP/smtpproxy.log"
	chmod 666 "$TMP/smtpproxy.log"
}

# check_conf STATUS [TEXT...]: smtpproxy -n on $TMP/smtpproxy.conf (run)
# exits STATUS and prints each TEXT
check_conf() {
	local want=$1 text
	shift
	run proxy_env "$SMTPPROXY_BIN" -n -f "$TMP/smtpproxy.conf"
	[[ $status == "$want" ]] || fail "smtpproxy -n: exit $status, expected $want" "--- output:" "$output"
	for text in "$@"; do
		[[ $output == *"$text"* ]] || fail "smtpproxy -n did not print: $text" "--- output:" "$output"
	done
}

# smtp [OPTIONS] ITEM...: rawsmtp against the proxy
# (rawsmtp options -t -b -G -E may come first)
smtp() {
	local opts=()
	while (($#)); do
		case $1 in
		-t | -b) opts+=("$1" "$2"); shift 2 ;;
		-G | -E) opts+=("$1"); shift ;;
		*) break ;;
		esac
	done
	"$RAWSMTP" "${opts[@]}" "$PROXY_HOST" "$PROXY_PORT" "$@"
}

# ------------------------------------------------------------- tear down

# pid_gone PID: no such process, or a zombie nobody reaped yet
pid_gone() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
	[[ $st == Z* ]]
}

# stop_pid PID: TERM, up to 5 s to go, then KILL; reaps our own children.
# Never fails (it runs in teardown, under errexit).
stop_pid() {
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	for ((i = 0; i < 100; i++)); do
		pid_gone "$pid" && break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 0
}

# stop_server: SIGTERM to the server in SERVER_PID, up to WAIT_LIMIT
# seconds for it to drain and exit; fails when it did not stop (then
# killed, with its children), exited non-zero, or logged a child that
# exited non-zero or on a signal (unless ALLOW_NONZERO_EXIT).
stop_server() {
	local rc=0 st kids bad
	[[ -n $SERVER_PID ]] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	if ! wait_until pid_gone "$SERVER_PID" 2>/dev/null; then
		kids=$(pgrep -P "$SERVER_PID" | tr '\n' ' ')
		echo "smtpproxy server $SERVER_PID did not stop after SIGTERM (children: $kids)" >&2
		# shellcheck disable=SC2086
		kill -9 "$SERVER_PID" $kids 2>/dev/null || true
		rc=1
	fi
	st=0
	wait "$SERVER_PID" 2>/dev/null || st=$?
	if ((st != 0 && st != 127)) && [[ -z $ALLOW_NONZERO_EXIT ]]; then
		echo "smtpproxy server exited with status $st" >&2
		cat "$TMP/server.out" >&2 2>/dev/null
		rc=1
	fi
	SERVER_PID=
	if [[ -z $ALLOW_NONZERO_EXIT && -f $TMP/smtpproxy.log ]]; then
		bad=$(grep -E 'event=child-(crash|exit)' "$TMP/smtpproxy.log" || true)
		if [[ -n $bad ]]; then
			echo "--- smtpproxy child exited badly (smtpproxy.log):" >&2
			echo "$bad" >&2
			rc=1
		fi
	fi
	return $rc
}

# stop_proxy: stop what start_proxy started, after its sessions ended; in
# server mode with stop_server's checks
stop_proxy() {
	wait_sessions_done || return 1
	if [[ -n $SERVER_PID ]]; then
		stop_server
		return
	fi
	stop_pid "$XINETD_PID"
	XINETD_PID=
}

common_teardown() {
	local rc=0 kids f bad
	if [[ -n $SERVER_PID ]]; then
		if ! wait_until no_sessions_running 2>/dev/null; then
			kids=$(server_busy_children | tr '\n' ' ')
			echo "smtpproxy session(s) still running after the test: $kids" >&2
			ps -o pid,etime,args -p "${kids// /,}" >&2 2>/dev/null || true
			# shellcheck disable=SC2086
			kill -9 $kids 2>/dev/null || true
			rc=1
		fi
		stop_server || rc=1
	fi
	if [[ -n $XINETD_PID ]]; then
		if ! wait_until no_sessions_running 2>/dev/null; then
			kids=$(pgrep -P "$XINETD_PID" | tr '\n' ' ')
			echo "smtpproxy session(s) still running after the test: $kids" >&2
			ps -o pid,etime,args -p "${kids// /,}" >&2 2>/dev/null || true
			# shellcheck disable=SC2086
			kill -9 $kids 2>/dev/null || true
			rc=1
		fi
		stop_pid "$XINETD_PID"
		XINETD_PID=
	fi
	stop_pid "$SINK_PID"
	SINK_PID=
	stop_postfix || true
	for f in "$TMP"/san/*; do
		[[ -e $f ]] || continue
		echo "--- sanitizer report $f:" >&2
		cat "$f" >&2
		rc=1
	done
	if [[ -f $TMP/xinetd.log && -z $ALLOW_NONZERO_EXIT ]]; then
		bad=$(grep -E 'EXIT: ' "$TMP/xinetd.log" | grep -Ev 'status=0( |$)' || true)
		if [[ -n $bad ]]; then
			echo "--- smtpproxy exited badly (xinetd.log):" >&2
			echo "$bad" >&2
			rc=1
		fi
	fi
	if ((rc)) && [[ -f $TMP/smtpproxy.log ]]; then
		echo "--- smtpproxy.log:" >&2
		tail -n 30 "$TMP/smtpproxy.log" >&2
	fi
	return $rc
}

# ---------------------------------------------------------------- replies
# After `run smtp ...` (or run rawsmtp), $output holds what the server sent.

# plain: $output without CR characters
plain() {
	printf '%s\n' "${output//$'\r'/}"
}

# reply_codes: the codes of the complete replies in $output, in order
reply_codes() {
	plain | grep -E '^[0-9]{3}( |$)' | cut -c1-3 | paste -sd' ' -
}

# assert_codes "220 250 ...": the complete replies carry exactly these codes
assert_codes() {
	local got
	got=$(reply_codes)
	[[ $got == "$1" ]] ||
		fail "reply codes: expected '$1'" "                got '$got'" "--- output:" "$output"
}

# assert_reply REGEX: some reply line matches ^REGEX
assert_reply() {
	plain | grep -Eq -- "^$1" ||
		fail "expected a reply line matching ^$1" "--- output:" "$output"
}

# refute_reply REGEX: no reply line matches ^REGEX
refute_reply() {
	if plain | grep -Eq -- "^$1"; then
		fail "unexpected reply line matching ^$1" "--- output:" "$output"
	fi
}

# assert_reply_count N REGEX: exactly N reply lines match ^REGEX
assert_reply_count() {
	local got
	got=$(plain | grep -Ec -- "^$2" || true)
	[[ $got == "$1" ]] ||
		fail "expected $1 reply lines matching ^$2, got $got" "--- output:" "$output"
}

# assert_closed: rawsmtp saw the server close the connection (status 0) or
# lost it while still sending or waiting (4), not a time-out (2).
assert_closed() {
	[[ $status == 0 || $status == 4 ]] ||
		fail "connection not closed by the server (rawsmtp status $status)" "--- output:" "$output"
}

# assert_log REGEX: the smtpproxy log gets a line matching REGEX
assert_log() {
	wait_log "$1"
}

# refute_log REGEX: no line of the smtpproxy log matches REGEX (call after
# settle or wait_log of the summary, so that the log is complete)
refute_log() {
	if file_has "$TMP/smtpproxy.log" "$1"; then
		fail "unexpected log line matching $1:" "$(grep -E -- "$1" "$TMP/smtpproxy.log")"
	fi
}

# now_ms: monotonic-enough wall clock in milliseconds
now_ms() {
	date +%s%3N
}

# timed CMD...: CMD... (say run smtp ...) with now_ms in T0 before, T1 after
timed() {
	T0=$(now_ms)
	"$@"
	T1=$(now_ms)
}

# assert_took_ms MIN MAX: the last timed run lasted between MIN and MAX ms
assert_took_ms() {
	local took=$((T1 - T0))
	((took >= $1 && took <= $2)) || fail "took ${took} ms, expected ${1}..${2} ms"
}

# --------------------------------------------------------------- messages

# gen_message FILE BYTES [SEED]: a message in wire form (CRLF lines, already
# dot-stuffed, without the final ".\r\n") of about BYTES bytes: headers, lines
# of every length up to 998, lines that start with dots, 8-bit bytes, tabs,
# empty lines, "From " lines.
gen_message() {
	"$LIB_DIR/gen_message" "$1" "$2" "${3:-1}"
}

# send_message MSGFILE [RCPT...]: one transaction through the proxy; the
# output of rawsmtp is in $output, its exit status in $status.
send_message() {
	local msg=$1 r items=()
	shift
	(($#)) || set -- rcpt@test
	items=('EHLO client.test\r\n' =1 'MAIL FROM:<sender@test>\r\n' =1)
	for r in "$@"; do
		items+=("RCPT TO:<$r>\\r\\n" =1)
	done
	items+=('DATA\r\n' =1 "<$msg" '.\r\n' =1 'QUIT\r\n')
	run "$RAWSMTP" -t 60 "$PROXY_HOST" "$PROXY_PORT" "${items[@]}"
}

# ------------------------------------------------------- held sessions

# go NAME: the rawsmtp item that waits until release NAME
go() {
	echo "!while [ ! -e '$TMP/$1.go' ]; do sleep 0.02; done"
}

# hold NAME [-b ADDR] [-G] ITEM...: rawsmtp in the background (output in
# $TMP/NAME.out); its items usually contain "$(go NAME)" to stay open
hold() {
	local name=$1 opts=()
	shift
	[[ $1 == -b ]] && { opts=(-b "$2"); shift 2; }
	[[ $1 == -G ]] && { opts+=(-G); shift; }
	"$RAWSMTP" -t 40 "${opts[@]}" "$PROXY_HOST" "$PROXY_PORT" "$@" \
		>"$TMP/$name.out" 2>&1 3>&- &
	printf -v "HOLD_$name" %s "$!"
}

# held NAME REGEX: wait until held session NAME received a line matching REGEX
held() {
	wait_until file_has "$TMP/$1.out" "$2" || { cat "$TMP/$1.out" >&2; return 1; }
}

# release NAME: let the held session go on; wait for its end; $output and
# $status are its output and exit status
release() {
	local pid=HOLD_$1
	touch "$TMP/$1.go"
	status=0
	wait "${!pid}" || status=$?
	output=$(cat "$TMP/$1.out")
}

log_count_at_least() {
	local n
	n=$(grep -Ec -- "$2" "$TMP/smtpproxy.log" 2>/dev/null) || n=0
	((n >= $1))
}

# wait_log_count N REGEX: wait until N lines of the log match REGEX
wait_log_count() {
	wait_until log_count_at_least "$1" "$2"
}
