# fault.bash: a scripted SMTP backend and message bookkeeping for the
# fault, privilege and audit tests (issue 7). Load it after lib/common.
#
# pysink: /usr/bin/python3, one thread per connection, a plain SMTP server
# (EHLO: PIPELINING 8BITMIME ENHANCEDSTATUSCODES) that can be told to fail.
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

FAULT_PY=/usr/bin/python3

# ------------------------------------------------------------- the backend

read -r -d '' PYSINK_PY <<'PY' || true
import os, socket, struct, sys, threading, time

args = sys.argv[1:]
listen, dump, logpath, faults = None, None, None, []
while args:
    o = args.pop(0)
    if o == "--tcp":
        h, p = args.pop(0).rsplit(":", 1); listen = ("tcp", (h, int(p)))
    elif o == "--unix":
        listen = ("unix", args.pop(0))
    elif o == "--dump":
        dump = args.pop(0)
    elif o == "--log":
        logpath = args.pop(0)
    elif o == "-f":
        spec = args.pop(0)
        verb, act = spec.split("=", 1)
        n = None
        if "#" in verb:
            verb, n = verb.split("#", 1); n = int(n)
        faults.append((verb.upper(), n, act))
    else:
        sys.exit("pysink: unknown option " + o)

lock = threading.Lock()
counts, stored = {}, [0]
logf = open(logpath, "a")

def log(cid, msg):
    with lock:
        logf.write("%d %s\n" % (cid, msg)); logf.flush()

def fault_for(verb):
    with lock:
        counts[verb] = counts.get(verb, 0) + 1
        n = counts[verb]
    for v, k, act in faults:
        if v == verb and (k is None or k == n):
            return act
    return None

class Stop(Exception):
    pass

def handle(conn, cid):
    f = conn.makefile("rb")
    def send(text):
        conn.sendall(text.encode("latin1") + b"\r\n")
    def answer(verb, normal):
        """normal answer unless a fault says otherwise; True = normal"""
        act = fault_for(verb)
        if act is None:
            send(normal); return True
        if act.startswith("delay:"):
            time.sleep(float(act[6:])); send(normal); return True
        if act == "close":
            log(cid, "closed-by-fault " + verb); raise Stop()
        if act == "silent":
            log(cid, "silent " + verb)
            while f.read(65536):
                pass
            log(cid, "peer closed while silent"); raise Stop()
        send(act)
        if act.startswith("421"):
            log(cid, "closed-by-fault %s %s" % (verb, act)); raise Stop()
        return False
    mail, rcpts = None, []
    try:
        answer("CONNECT", "220 pysink.test ESMTP pysink")
        while True:
            line = f.readline(8192)
            if not line:
                log(cid, "eof"); return
            cmd = line.rstrip(b"\r\n").decode("latin1")
            log(cid, "cmd " + cmd)
            up = cmd.upper()
            verb = up.split(" ", 1)[0]
            if up.startswith("MAIL FROM:"):
                if answer("MAIL", "250 2.1.0 Ok"):
                    mail, rcpts = cmd[10:].strip(), []
            elif up.startswith("RCPT TO:"):
                if answer("RCPT", "250 2.1.5 Ok"):
                    rcpts.append(cmd[8:].strip())
            elif verb in ("EHLO", "LHLO"):
                answer("EHLO", "250-pysink.test\r\n250-PIPELINING\r\n"
                       "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES")
            elif verb == "HELO":
                answer("HELO", "250 pysink.test")
            elif verb == "DATA":
                if mail is None or not rcpts:
                    send("503 5.5.1 Error: need MAIL and RCPT"); continue
                if not answer("DATA", "354 End data with <CR><LF>.<CR><LF>"):
                    continue
                data = bytearray()
                while True:
                    l = f.readline(65536)
                    if not l:
                        log(cid, "data-abort bytes=%d" % len(data)); return
                    if l == b".\r\n":
                        break
                    data += l
                act = fault_for("DOT")
                if act is not None and act.startswith("delay:"):
                    time.sleep(float(act[6:])); act = None
                if act is None:
                    with lock:
                        stored[0] += 1; n = stored[0]
                    name = "msg.%04d" % n
                    tmp = os.path.join(dump, ".tmp.%04d" % n)
                    with open(tmp, "wb") as out:
                        out.write(data); out.flush(); os.fsync(out.fileno())
                    os.chmod(tmp, 0o644)
                    os.rename(tmp, os.path.join(dump, name))
                    log(cid, "stored %s bytes=%d from=%s rcpts=%s" %
                        (name, len(data), mail, ",".join(rcpts)))
                    send("250 2.0.0 Ok: queued as %s" % name)
                elif act == "close":
                    log(cid, "closed-by-fault DOT"); return
                elif act == "silent":
                    log(cid, "silent DOT")
                    while f.read(65536):
                        pass
                    log(cid, "peer closed while silent"); return
                else:
                    log(cid, "refused-dot " + act)
                    send(act)
                    if act.startswith("421"):
                        return
                mail, rcpts = None, []
            elif verb == "RSET":
                if answer("RSET", "250 2.0.0 Ok"):
                    mail, rcpts = None, []
            elif verb == "NOOP":
                send("250 2.0.0 Ok")
            elif verb == "QUIT":
                answer("QUIT", "221 2.0.0 Bye"); log(cid, "quit"); return
            else:
                send("502 5.5.2 Error: command not recognized")
    except Stop:
        return
    except OSError as e:
        log(cid, "error %s" % e)
    finally:
        try:
            conn.close()
        except OSError:
            pass

def peer(conn, cid):
    try:
        pid, uid, gid = struct.unpack("3i", conn.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    except OSError:
        log(cid, "connect"); return
    log(cid, "connect peer pid=%d uid=%d gid=%d" % (pid, uid, gid))
    try:
        for l in open("/proc/%d/status" % pid):
            if l.split(":")[0] in ("Name", "Uid", "Gid", "Groups", "CapEff",
                                   "CapPrm", "NoNewPrivs"):
                log(cid, "status " + " ".join(l.split()))
    except OSError as e:
        log(cid, "status unreadable: %s" % e)

if listen[0] == "tcp":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(listen[1])
else:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(listen[1])
    os.chmod(listen[1], 0o666)
s.listen(128)
cid = 0
while True:
    conn, _ = s.accept()
    cid += 1
    if listen[0] == "unix":
        peer(conn, cid)
    else:
        log(cid, "connect")
    threading.Thread(target=handle, args=(conn, cid), daemon=True).start()
PY

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
	PYSINK_LOG=$TMP/pysink.log
	: >"$PYSINK_LOG"
	if [[ -n $unix ]]; then
		rm -f "$TMP/pysink.sock"
		"$FAULT_PY" -c "$PYSINK_PY" --unix "$TMP/pysink.sock" --dump "$TMP/sink" \
			--log "$PYSINK_LOG" "${faults[@]}" >"$TMP/pysink.out" 2>&1 3>&- &
		SINK_PID=$!
		BACKEND=unix:$TMP/pysink.sock
		wait_until test -S "$TMP/pysink.sock" || { cat "$TMP/pysink.out" >&2; return 1; }
		return 0
	fi
	# shellcheck disable=SC2034 # try counts; BACKEND is for start_proxy
	for try in 1 2 3; do
		SINK_PORT=$(free_port) || return 1
		"$FAULT_PY" -c "$PYSINK_PY" --tcp "127.0.0.1:$SINK_PORT" --dump "$TMP/sink" \
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
