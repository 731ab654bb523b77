# postfix.bash: a private Postfix instance as the backend of a test, for
# the tests that need a real MTA behind the proxy (XCLIENT, delivery as
# Postfix writes it). lib/common loads it; the helpers use common's
# $TMP, $FILE_TMP, free_port, plain and its wait_* functions.
#
#   start_postfix [main.cf lines]  start it on 127.0.0.1:PF_PORT (sets
#                                  PF_DIR, PF_PORT and BACKEND); each
#                                  message lands in $PF_DIR/mail/QID.eml
#   stop_postfix                   kill it (common's teardown does)
#   pf_settle                      sessions done, queue empty
#   pf_count / pf_wait_count N     messages delivered
#   pf_mail_files / pf_body FILE   the delivered files, a file's body
#   queue_id                       the queue id in $output's 250 reply
#   pf_allow_config_dir DIR        let "postfix -c DIR" run (if ever needed)

# pf_allow_config_dir DIR: Postfix run as root accepts "postfix -c DIR" as
# it is (checked with 3.7.11); only if it ever answers "unauthorized
# configuration directory" is DIR added to alternate_config_directories of
# the system main.cf (created from Debian's template if missing), and taken
# out again by stop_postfix.
pf_allow_config_dir() {
	local dir=$1 cur
	if [[ ! -f /etc/postfix/main.cf ]]; then
		cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
	fi
	cur=$(postconf -h alternate_config_directories 2>/dev/null)
	PF_ADDED_DIR=$dir
	[[ " ${cur//,/ } " == *" $dir "* ]] && return 0
	postconf -e "alternate_config_directories = ${cur:+$cur, }$dir"
}

pf_forget_config_dir() {
	local dir=$1 cur new= d
	cur=$(postconf -h alternate_config_directories 2>/dev/null)
	for d in ${cur//,/ }; do
		[[ $d == "$dir" ]] && continue
		new+="${new:+, }$d"
	done
	postconf -e "alternate_config_directories = $new"
}

# start_postfix [main.cf lines...]: a private Postfix on 127.0.0.1:PF_PORT
# that accepts mail for anyone from 127.0.0.0/8 and ::1 and writes each
# message, as delivered, to $TMP/pf/mail/<queue id>.eml. Its log is
# $TMP/postfix.log.
start_postfix() {
	PF_DIR=$TMP/pf
	PF_PORT=$(free_port) || return 1
	local etc=$PF_DIR/etc
	mkdir -p "$etc" "$PF_DIR/queue" "$PF_DIR/data"
	mkdir -m 1777 -p "$PF_DIR/mail"
	chmod 755 "$PF_DIR" "$etc"
	chown postfix "$PF_DIR/data"
	cat >"$PF_DIR/deliver" <<EOF
#!/bin/sh
# pipe(8) delivery: store the message as Postfix hands it over
umask 022
cat >"$PF_DIR/mail/\$1.tmp" && mv "$PF_DIR/mail/\$1.tmp" "$PF_DIR/mail/\$1.eml"
EOF
	chmod 755 "$PF_DIR/deliver"
	touch "$TMP/postfix.log"
	cat >"$etc/main.cf" <<EOF
compatibility_level = 3.6
myhostname = backend.test
mydomain = test
myorigin = backend.test
mydestination =
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
meta_directory = /etc/postfix
maillog_file = $TMP/postfix.log
maillog_file_prefixes = /var, /dev/stdout, $FILE_TMP
inet_interfaces = 127.0.0.1
inet_protocols = all
mynetworks = 127.0.0.0/8 [::1]/128
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_authorized_xforward_hosts = 127.0.0.0/8
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions =
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
smtpd_client_restrictions =
smtpd_helo_required = no
default_transport = dump
local_transport = dump
relay_transport = dump
virtual_transport = dump
smtpd_banner = \$myhostname ESMTP backend
biff = no
alias_maps =
alias_database =
local_recipient_maps =
message_size_limit = 52428800
smtputf8_enable = no
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
disable_dns_lookups = yes
anvil_rate_time_unit = 60s
smtpd_client_connection_rate_limit = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
EOF
	# extra settings replace the defaults above (no "overriding" warnings)
	if (($#)); then
		postconf -c "$etc" -e "$@" || return 1
	fi
	cat >"$etc/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
dump      unix  -       n       n       -       -       pipe
  user=nobody argv=$PF_DIR/deliver \${queue_id}
EOF
	# Postfix waits until a config file is older than a second or two
	# before it trusts it: date them back
	touch -d '-1 minute' "$etc/main.cf" "$etc/master.cf"
	# shellcheck disable=SC2034 # BACKEND is for start_proxy
	BACKEND=127.0.0.1:$PF_PORT
	# "postfix start" spends seconds in its own checks: create the queue
	# with "postfix check" and start master(8) directly instead
	if ! pf_start "$etc"; then
		if grep -q 'unauthorized configuration directory' "$TMP/postfix.start"; then
			pf_allow_config_dir "$etc"
			pf_start "$etc"
		fi || {
			cat "$TMP/postfix.start" "$TMP/postfix.log" >&2
			return 1
		}
	fi
	wait_port 127.0.0.1 "$PF_PORT"
}

# pf_start ETC: the first instance of a bats file has "postfix check"
# create its queue (slow) and keeps a copy; later ones start from the copy
pf_start() {
	local skel=$FILE_TMP/pf-queue-skel
	if [[ -d $skel ]]; then
		rm -rf "$PF_DIR/queue"
		cp -a "$skel" "$PF_DIR/queue"
	else
		postfix -c "$1" check >"$TMP/postfix.start" 2>&1 || return 1
		cp -a "$PF_DIR/queue" "$skel"
	fi
	"$(postconf -h daemon_directory)/master" -c "$1" -w >>"$TMP/postfix.start" 2>&1
}

# stop_postfix: kill the whole instance at once (master and its children
# share one process group); an orderly "postfix stop" takes seconds.
stop_postfix() {
	[[ -n $PF_DIR ]] || return 0
	local master
	master=$(tr -dc 0-9 <"$PF_DIR/queue/pid/master.pid" 2>/dev/null || true)
	if [[ -n $master ]] && kill -0 "$master" 2>/dev/null; then
		kill -KILL -- "-$master" 2>/dev/null || kill -KILL "$master" 2>/dev/null || true
		wait_until pid_gone "$master" || true
	fi
	if [[ -n ${PF_ADDED_DIR:-} ]]; then
		pf_forget_config_dir "$PF_ADDED_DIR" || true
		PF_ADDED_DIR=
	fi
	PF_DIR=
}

pf_mail_files() {
	find "$PF_DIR/mail" -maxdepth 1 -type f -name '*.eml' 2>/dev/null | sort
}

pf_count() {
	pf_mail_files | wc -l
}

pf_queue_empty() {
	[[ -z $(find "$PF_DIR/queue/incoming" "$PF_DIR/queue/active" \
		"$PF_DIR/queue/maildrop" -type f 2>/dev/null) ]]
}

# pf_settle: the sessions ended, smtpd has read everything, and every
# queued message was delivered or bounced (no pending work).
pf_settle() {
	wait_sessions_done && wait_backend_idle "$PF_PORT" && wait_until pf_queue_empty
}

pf_has_count() {
	(($(pf_count) >= $1))
}

# pf_wait_count N: wait until N messages were delivered.
pf_wait_count() {
	wait_until pf_has_count "$1"
}

# queue_id: the Postfix queue id in the first "250 2.0.0 Ok: queued as"
# reply of $output (empty when there is none)
queue_id() {
	plain | sed -n 's/.*250 2\.0\.0 Ok: queued as \([0-9A-F]*\).*/\1/p' | head -n 1
}

# pf_body FILE: the message body (after the header block) as delivered.
pf_body() {
	awk 'b { print; next } /^$/ { b = 1 }' "$1"
}
