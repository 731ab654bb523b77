#!/bin/bash
# make run: smtpproxy in front of a local backend, on 127.0.0.1.
# Starts Postfix's smtp-sink (the backend; it writes each message to a
# file) and a private xinetd running ./smtpproxy for each connection,
# sends one message through it with swaks, and leaves both running.
# Stop them with `make stop` (this script with "stop").
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${DEMO_DIR:-/tmp/smtpproxy-demo}
port=${DEMO_PORT:-2525}
sinkport=${DEMO_BACKEND_PORT:-10025}
proxy=${DEMO_SMTPPROXY:-$top/smtpproxy}
mkcdb=${DEMO_MKCDB:-$top/tools/mkcdb}

stop() {
	for p in "$dir/xinetd.pid" "$dir/sink.pid"; do
		[ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
		rm -f "$p"
	done
}

wait_port() {
	i=0
	until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "demo: port $1 did not open" >&2; exit 111; }
		sleep 0.05
	done
}

if [ "${1:-}" = stop ]; then
	stop
	echo "demo stopped"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "demo: run as root (xinetd, smtp-sink)" >&2; exit 100; }
stop
mkdir -p "$dir/mail"
chmod 1777 "$dir/mail"

# the domains this demo receives mail for; anything else needs relay
# permission (none is given here: try a recipient at example.com)
printf 'example.net\n.example.net\n' >"$dir/local_domains.txt"
"$mkcdb" -t domains "$dir/local_domains.txt" "$dir/local_domains.cdb"

cat >"$dir/smtpproxy.conf" <<CONF
# the demo's configuration; see etc/smtpproxy.conf for every key
hostname demo.localhost
backend 127.0.0.1:$sinkport
log_file $dir/smtpproxy.log
local_domains cdb:$dir/local_domains.cdb
CONF

cat >"$dir/xinetd.conf" <<CONF
defaults
{
	instances = 50
}
service smtpproxy-demo
{
	type = UNLISTED
	port = $port
	bind = 127.0.0.1
	socket_type = stream
	protocol = tcp
	wait = no
	user = root
	server = $proxy
	server_args = -f $dir/smtpproxy.conf
	log_on_success = PID EXIT DURATION
	log_on_failure = HOST
}
CONF

smtp-sink -u nobody -d "$dir/mail/%Y%m%d%H/%M." "127.0.0.1:$sinkport" 50 \
    >"$dir/sink.log" 2>&1 &
echo $! >"$dir/sink.pid"
xinetd -dontfork -f "$dir/xinetd.conf" -filelog "$dir/xinetd.log" \
    -pidfile "$dir/xinetd.pid.tmp" >/dev/null 2>&1 &
echo $! >"$dir/xinetd.pid"
wait_port "$sinkport"
wait_port "$port"
"$proxy" -f "$dir/smtpproxy.conf" -n

echo
echo "== one message through smtpproxy:"
swaks --server "127.0.0.1:$port" --from you@example.org \
    --to someone@example.net --h-Subject "smtpproxy demo" || true
cat <<EOF2

smtpproxy listens on 127.0.0.1:$port (xinetd), backend smtp-sink on $sinkport.
Try:   swaks --server 127.0.0.1:$port --to user@example.net
       (example.net is local; --to user@example.com shows the relay refusal)
Log:   $dir/smtpproxy.log      Messages: $dir/mail/
Stop:  make stop
EOF2
