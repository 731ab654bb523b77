# fault.bash: a scripted SMTP backend and message bookkeeping for the
# fault, privilege and audit tests (issue 7). Load it after lib/common.
#
# pysink (lib/pysink, /usr/bin/python3): one thread per connection, a plain
# SMTP server (EHLO: PIPELINING 8BITMIME ENHANCEDSTATUSCODES) that can be
# told to fail.
#
#   start_pysink [-f FAULT]... [-u]    on 127.0.0.1:SINK_PORT (or with -u on
#                                      unix:$TMP/pysink.sock); sets SINK_PID,
#                                      SINK_PORT (TCP), BACKEND, PYSINK_LOG
#
# It stores a message only at the end of data (".\r\n"), and only when it is
# about to answer 250: the exact bytes it received between the 354 and the
# final dot (wire form, still dot-stuffed) go to $TMP/sink/msg.NNNN (written
# to a temp file, then renamed), then the 250 goes out. So a file in
# $TMP/sink is a message the backend acknowledged, and sink_count/settle of
# lib/common work on it unchanged.
#
# Its log ($TMP/pysink.log, one line per event, C = connection number):
#   C connect [peer pid=P uid=U gid=G]      (unix socket: SO_PEERCRED)
#   C status Uid: ... / Gid: / Groups: / CapEff: / CapPrm:  (the peer's
#                                      /proc/P/status at connect, unix only)
#   C cmd VERB ARGS                    each command line received
#   C data-abort bytes=N               connection lost in DATA (no dot)
#   C stored msg.NNNN bytes=N from=<..> rcpts=<..>,<..>
#   C refused-dot REPLY                end of data answered with REPLY
#   C silent VERB                      a fault that never answers
#   C eof / C closed-by-fault VERB
#
# Faults (-f, repeatable): VERB[#N]=ACTION, VERB one of CONNECT EHLO HELO
# MAIL RCPT DATA DOT RSET QUIT; #N = only the N-th time this VERB arrives
# (counted over all connections of the process), without it every time.
# ACTION:
#   "NNN text"   answer this instead; a 421 then closes the connection
#   close        close the connection without answering
#   silent       never answer; keep the connection until the peer closes
#   delay:S      wait S seconds (decimal), then the normal answer
#
# Messages:
#   fault_message FILE ID [BYTES]  a message in wire form (CRLF, dot-stuffed,
#                                  without the final dot) of about BYTES
#                                  bytes (default 2000) whose first header is
#                                  "Message-ID: <ID@fault.test>" and whose
#                                  last line is "end of ID"
#   dump_complete ID               number of dump files holding the whole
#                                  message ID (its header and its last line)
#   dump_partial ID                number holding its header, not its end
#   assert_dumped ID N             dump_complete ID is N, and no partial one
#                                  (with -p: partial copies allowed, e.g. a
#                                  killed smtp-sink's half-written file)
#   assert_dump_exact ID FILE      the one stored copy of ID equals FILE,
#                                  byte for byte (pysink only)
#   data_reply                     the reply code after the end of data in
#                                  $output (the reply after the 354), or "-"
#   pysink_has REGEX / wait_pysink REGEX / refute_pysink REGEX
#   assert_no_session_left         no smtpproxy process of this test is
#                                  running (xinetd's children, and any
#                                  process reading $TMP/smtpproxy.conf)

# shellcheck disable=SC2034 # the Python of fault_client.bats' clients
FAULT_PY=/usr/bin/python3

# ------------------------------------------------------------- the backend

# start_pysink [-u] [-f FAULT]...: see the top of this file
start_pysink() {
	local unix='' faults=() try
	while (($#)); do
		case $1 in
		-u) unix=1; shift ;;
		-f) faults+=(-f "$2"); shift 2 ;;
		*) fail "start_pysink: unknown option $1"; return 1 ;;
		esac
	done
	mkdir -p "$TMP/sink"
	chmod 1777 "$TMP/sink"
	# what pysink's EHLO offers, as a session would have kept it: the
	# proxy's EHLO then asks no extra connection of pysink (its log
	# numbers the sessions' own connections)
	mkdir -p -m 1777 "$TMP/state"
	printf 'PIPELINING\n8BITMIME\nENHANCEDSTATUSCODES\n' >"$TMP/state/backend-ehlo"
	PYSINK_LOG=$TMP/pysink.log
	: >"$PYSINK_LOG"
	if [[ -n $unix ]]; then
		rm -f "$TMP/pysink.sock"
		"$LIB_DIR/pysink" --unix "$TMP/pysink.sock" --dump "$TMP/sink" \
			--log "$PYSINK_LOG" "${faults[@]}" >"$TMP/pysink.out" 2>&1 3>&- &
		SINK_PID=$!
		BACKEND=unix:$TMP/pysink.sock
		wait_until test -S "$TMP/pysink.sock" || { cat "$TMP/pysink.out" >&2; return 1; }
		return 0
	fi
	# shellcheck disable=SC2034 # try counts; BACKEND is for start_proxy
	for try in 1 2 3; do
		SINK_PORT=$(free_port) || return 1
		"$LIB_DIR/pysink" --tcp "127.0.0.1:$SINK_PORT" --dump "$TMP/sink" \
			--log "$PYSINK_LOG" "${faults[@]}" >"$TMP/pysink.out" 2>&1 3>&- &
		SINK_PID=$!
		BACKEND=127.0.0.1:$SINK_PORT
		wait_own_port "$SINK_PID" "$SINK_PORT" && return 0
		stop_pid "$SINK_PID"
	done
	cat "$TMP/pysink.out" >&2
	fail "pysink did not start"
}

pysink_has() {
	file_has "$PYSINK_LOG" "$1"
}

# wait_pysink REGEX: wait until the backend's log has a line matching REGEX
wait_pysink() {
	wait_until pysink_has "$1" || {
		echo "--- pysink.log:" >&2
		cat "$PYSINK_LOG" >&2
		return 1
	}
}

refute_pysink() {
	if pysink_has "$1"; then
		fail "unexpected backend log line matching $1:" "$(grep -E -- "$1" "$PYSINK_LOG")"
	fi
}

# ---------------------------------------------------------------- messages

# fault_message FILE ID [BYTES]
fault_message() {
	local file=$1 id=$2 bytes=${3:-2000}
	gen_message "$file.gen" "$bytes" "$(cksum <<<"$id" | cut -d' ' -f1)" || return 1
	{
		printf 'Message-ID: <%s@fault.test>\r\n' "$id"
		cat "$file.gen"
		printf 'end of %s\r\n' "$id"
	} >"$file"
	rm -f "$file.gen"
}

# dump_complete ID / dump_partial ID: see the top of this file
dump_complete() {
	sink_files | xargs -r grep -laF -- "Message-ID: <$1@fault.test>" |
		xargs -r grep -laE -- "^end of $1"$'\r?$' | wc -l
}

dump_partial() {
	sink_files | xargs -r grep -laF -- "Message-ID: <$1@fault.test>" |
		xargs -r grep -LaE -- "^end of $1"$'\r?$' | wc -l
}

# assert_dumped [-p] ID N
assert_dumped() {
	local partial_ok='' got part
	if [[ $1 == -p ]]; then
		partial_ok=1
		shift
	fi
	got=$(dump_complete "$1")
	[[ $got == "$2" ]] ||
		fail "message $1: $got complete copies at the backend, expected $2" \
			"--- dump files:" "$(sink_files)"
	[[ -n $partial_ok ]] && return 0
	part=$(dump_partial "$1")
	[[ $part == 0 ]] || fail "message $1: $part partial copies at the backend"
}

# assert_dump_exact ID FILE: the stored copy equals FILE (wire form)
assert_dump_exact() {
	local f
	f=$(sink_files | xargs -r grep -laF -- "Message-ID: <$1@fault.test>" | head -n1)
	[[ -n $f ]] || fail "message $1 not at the backend"
	cmp -s "$f" "$2" || fail "message $1 at the backend differs from what was sent:" \
		"$(cmp "$f" "$2" 2>&1)"
}

# data_reply: the code of the reply that follows the 354 in $output ("-"
# when there is none: the client never heard about its message)
data_reply() {
	plain | grep -E '^[0-9]{3}( |$)' | cut -c1-3 |
		awk 'seen { print; found = 1; exit } $0 == "354" { seen = 1 }
		     END { if (!found) print "-" }'
}

# no process of this test's smtpproxy is running
no_proxy_process() {
	no_sessions_running && [[ -z $(pgrep -f -- "-f $TMP/smtpproxy\.conf") ]]
}

assert_no_session_left() {
	wait_until no_proxy_process || {
		ps -o pid,etime,args -p "$(pgrep -d, -f -- "-f $TMP/smtpproxy\.conf")" >&2
		return 1
	}
}
