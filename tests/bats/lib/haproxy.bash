# haproxy.bash: HAProxy (Debian's) in the foreground for a test.  Load
# after lib/common.
#
#   haproxy_run [-2] WRITER [ARG...]   HAProxy on a free 127.0.0.1 port
#       HA_PORT (with -2, a second one, HA_PORT2), with the configuration
#       that WRITER ARG... prints (it reads HA_PORT and HA_PORT2); waits
#       until HAProxy itself listens on them; three ports are tried.  Sets
#       HA_PID; its output goes to $TMP/haproxy.out.
#   haproxy_defaults                   the global and defaults sections of
#       a plain TCP configuration

HA_PID= HA_PORT= HA_PORT2=

haproxy_run() {
	local try two=
	[[ $1 == -2 ]] && { two=1; shift; }
	for try in 1 2 3; do
		HA_PORT=$(free_port) || return 1
		HA_PORT2=
		[[ -z $two ]] || HA_PORT2=$(free_port) || return 1
		"$@" >"$TMP/haproxy.cfg"
		haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.out" 2>&1 &
		HA_PID=$!
		wait_own_port "$HA_PID" "$HA_PORT" &&
			{ [[ -z $two ]] || wait_own_port "$HA_PID" "$HA_PORT2"; } &&
			return 0
		stop_pid "$HA_PID"
		HA_PID=
	done
	cat "$TMP/haproxy.out" >&2
	fail "haproxy did not start"
}

haproxy_defaults() {
	cat <<HACFG
global
	maxconn 100
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
HACFG
}
