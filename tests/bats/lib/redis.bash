# redis.bash: a private Redis for a test, and a second smtpproxy "host".
# Load after lib/common.
#
#   start_redis [unix]     redis-server (Debian's) in the foreground on a
#                          free 127.0.0.1 port (or, with unix, only on the
#                          socket $TMP/redis/redis.sock), no persistence
#                          (--save '' --appendonly no), its password from
#                          $TMP/redis/redis.conf, the same in
#                          $TMP/redis/password (smtpproxy's
#                          redis_password_file); waits for PING.  Sets
#                          REDIS_PID, REDIS_PORT, REDIS_SERVER (the value
#                          of redis_server)
#   stop_redis [KILL]      TERM (or KILL) it and wait; CONT first, in case
#                          a test stopped it
#   rcli ARGS...           redis-cli against it, authenticated
#   redis_conf             the smtpproxy.conf lines that use it
#                          (timeout_redis REDIS_TIMEOUT, default 1000: the
#                          machine may be busy)
#   start_host_b [lines]   a second smtpproxy instance ("host B": its own
#                          xinetd, or its own server) with the same
#                          configuration as start_proxy's; sets B_PORT
#   stop_host_b            stop it (teardown does)
#   on_b CMD...            CMD with PROXY_PORT=B_PORT (smtp, hold)

REDIS_PID= REDIS_PORT= REDIS_SERVER= B_PORT= B_XINETD= B_SERVER=
REDIS_PASSWORD='r3dis-pw-Tk8'

redis_up() {
	rcli PING 2>/dev/null | grep -q PONG
}

start_redis() {
	local d=$TMP/redis try listen
	mkdir -p "$d"
	chmod 755 "$d"
	printf '%s\n' "$REDIS_PASSWORD" >"$d/password"
	chmod 600 "$d/password"	# read by smtpproxy before the privilege drop
	for try in 1 2 3; do
		if [[ ${1:-} == unix ]]; then
			REDIS_PORT=0
			REDIS_SERVER=unix:$d/redis.sock
			listen="unixsocket $d/redis.sock
unixsocketperm 777"
		else
			REDIS_PORT=$(free_port) || return 1
			REDIS_SERVER=127.0.0.1:$REDIS_PORT
			listen=
		fi
		cat >"$d/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
requirepass $REDIS_PASSWORD
save ""
appendonly no
daemonize no
dir $d
$listen
EOF
		redis-server "$d/redis.conf" --save '' --appendonly no \
			>"$d/redis.out" 2>&1 3>&- &
		REDIS_PID=$!
		wait_until redis_up 2>/dev/null && return 0
		stop_pid "$REDIS_PID"
		REDIS_PID=
	done
	cat "$d/redis.out" >&2
	fail "redis-server did not start"
}

stop_redis() {
	[[ -n $REDIS_PID ]] || return 0
	kill -CONT "$REDIS_PID" 2>/dev/null || true
	[[ ${1:-} != KILL ]] || kill -9 "$REDIS_PID" 2>/dev/null || true
	stop_pid "$REDIS_PID"
	REDIS_PID=
}

# restart_redis: the same server again, on the same port or socket
restart_redis() {
	local d=$TMP/redis
	redis-server "$d/redis.conf" >>"$d/redis.out" 2>&1 3>&- &
	REDIS_PID=$!
	wait_until redis_up
}

rcli() {
	if [[ $REDIS_SERVER == unix:* ]]; then
		redis-cli -s "${REDIS_SERVER#unix:}" --no-auth-warning \
			-a "$REDIS_PASSWORD" "$@"
	else
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning \
			-a "$REDIS_PASSWORD" "$@"
	fi
}

redis_conf() {
	printf '%s\n' "redis_server $REDIS_SERVER" \
		"redis_password_file $TMP/redis/password" \
		"timeout_redis ${REDIS_TIMEOUT:-1000}"
}

start_host_b() {
	local ax=$XINETD_PID as=$SERVER_PID ap=$PROXY_PORT
	XINETD_PID= SERVER_PID=
	start_proxy "$@" || return 1
	B_PORT=$PROXY_PORT B_XINETD=$XINETD_PID B_SERVER=$SERVER_PID
	XINETD_PID=$ax SERVER_PID=$as PROXY_PORT=$ap
}

stop_host_b() {
	local x=$XINETD_PID s=$SERVER_PID rc=0
	[[ -n $B_XINETD$B_SERVER ]] || return 0
	XINETD_PID=$B_XINETD SERVER_PID=$B_SERVER
	stop_proxy || rc=1
	B_XINETD= B_SERVER=
	XINETD_PID=$x SERVER_PID=$s
	return $rc
}

on_b() {
	PROXY_PORT=$B_PORT "$@"
}
