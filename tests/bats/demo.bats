#!/usr/bin/env bats
# demo: `make run`'s script (tools/demo.sh) works as the README says.

load lib/common

@test "make run's demo: one message through, the hint for a refused relay, stopped cleanly" {
	local port sinkport
	port=$(free_port)
	sinkport=$(free_port)
	export DEMO_DIR=$TMP/demo DEMO_PORT=$port DEMO_BACKEND_PORT=$sinkport
	export DEMO_SMTPPROXY=$SMTPPROXY_BIN DEMO_MKCDB=$ROOT/build/asan/mkcdb
	export ASAN_OPTIONS="log_path=$TMP/san/asan"
	run bash "$ROOT/tools/demo.sh"
	bash "$ROOT/tools/demo.sh" stop >/dev/null
	[[ $status == 0 ]] || fail "demo exit $status" "$output"
	[[ $output == *"<-  250 2.0.0 Ok"* ]] || fail "no message through" "$output"
	[[ $output == *"Try:   swaks --server 127.0.0.1:$port"* ]] || fail "no swaks line" "$output"
	[[ $output == *"user@example.com shows the relay refusal"* ]] || fail "no relay hint" "$output"
	find "$DEMO_DIR/mail" -type f | grep -q . || fail "smtp-sink stored nothing"
	grep -q 'event=summary .*accepted=1 ' "$DEMO_DIR/smtpproxy.log" || fail "no summary"
	! port_listening 127.0.0.1 "$port" || fail "xinetd still listens after stop"
}
