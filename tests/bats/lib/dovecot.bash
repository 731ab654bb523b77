# dovecot.bash: a private Dovecot (dovecot-lmtpd) as the LMTP backend of
# tests/bats/interop_lmtp.bats. Load after lib/common.
#
#   dovecot_file_fixture   in a test file: one Dovecot for the whole file
#                          (started by setup_file, stopped by
#                          teardown_file), its mailboxes emptied and its log
#                          marked before each test; BACKEND is its TCP
#                          listener in every test
#   start_dovecot [dovecot.conf lines]
#           `dovecot -F -c $DV_DIR/dovecot.conf` in the foreground, with
#           its own base_dir and state_dir in DV_DIR (default
#           $TMP/dovecot), protocols lmtp, ssl no; LMTP on
#           127.0.0.1:DV_PORT and on the UNIX socket DV_SOCK;
#           login_trusted_networks 127.0.0.0/8, so that Dovecot accepts
#           XCLIENT from the proxy over TCP. Sets DV_PID, DV_PORT, DV_SOCK,
#           BACKEND (TCP). Its log is DV_LOG ($DV_DIR/dovecot.log); every
#           mail line carries rip=ADDR, the client address Dovecot believes
#           in (XCLIENT's ADDR).
#   stop_dovecot
#
# The users (a passwd-file userdb; mail as nobody:nogroup, Maildir in
# $DV_DIR/mail/USER):
#   alice@example.test, bob@example.test   deliver normally
#   carol@example.test   1 KiB quota, quota_full_tempfail no: a bigger
#                        message gets "552 5.2.2 ... Quota exceeded" at the
#                        end of data (RCPT is accepted)
#   dave@example.test    mailbox under a regular file: "451 4.2.0 ...
#                        Internal error occurred" at the end of data
#   anyone else          "550 5.1.1 <...> User doesn't exist" at RCPT
#
#   dv_files USER            the messages USER received, one path a line
#   dv_count USER            how many
#   dv_wait_count USER N     wait until USER has N messages
#   dv_message FILE          the stored message without the three header
#                            fields Dovecot put on top (Return-Path,
#                            Delivered-To, Received): what the client sent,
#                            with LF line ends and the dots unstuffed
#   dv_received FILE         that Received field, unfolded on one line
#   dv_log                   Dovecot's log since this test began
#   dv_log_has REGEX         it has a line matching REGEX
#   dv_log_count REGEX       how many lines match

# (a test file is read again for each test: keep what setup_file exported)
DV_PID=${DV_PID:-}
DV_LOG_MARK=0

dv_conf() {
	cat <<EOF
# private instance for the tests (lib/dovecot.bash)
base_dir = $DV_DIR/run
state_dir = $DV_DIR/state
instance_name = smtpproxy-test-${DV_DIR//\//-}
protocols = lmtp
listen = 127.0.0.1
ssl = no
log_path = $DV_LOG
default_internal_user = dovecot
default_login_user = dovenull
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:$DV_DIR/mail/%u
mail_plugins = quota
mail_log_prefix = "%s(%u)<%{pid}><%{session}> rip=%r: "
plugin {
  quota = count:User quota
  quota_vsizes = yes
  quota_full_tempfail = no
}
passdb {
  driver = passwd-file
  args = $DV_DIR/users
}
userdb {
  driver = passwd-file
  args = $DV_DIR/users
  default_fields = uid=nobody gid=nogroup home=$DV_DIR/mail/%u
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $DV_PORT
  }
  unix_listener $DV_SOCK {
    mode = 0666
  }
}
EOF
}

start_dovecot() {
	local _ line
	DV_DIR=${DV_DIR:-$TMP/dovecot}
	DV_LOG=$DV_DIR/dovecot.log
	DV_SOCK=$DV_DIR/lmtp.sock
	mkdir -p "$DV_DIR/run" "$DV_DIR/state"
	chmod 755 "$DV_DIR"
	mkdir -p "$DV_DIR/mail"
	chmod 1777 "$DV_DIR/mail"
	: >"$DV_DIR/notadir"
	cat >"$DV_DIR/users" <<EOF
alice@example.test:{PLAIN}unused::::::
bob@example.test:{PLAIN}unused::::::
carol@example.test:{PLAIN}unused::::::userdb_quota_rule=*:storage=1K
dave@example.test:{PLAIN}unused::::::userdb_mail=maildir:$DV_DIR/notadir/dave
EOF
	for _ in 1 2 3; do
		DV_PORT=$(free_port) || return 1
		{
			dv_conf
			for line in "$@"; do
				printf '%s\n' "$line"
			done
		} >"$DV_DIR/dovecot.conf"
		rm -f "$DV_SOCK"
		dovecot -F -c "$DV_DIR/dovecot.conf" >"$DV_DIR/dovecot.out" 2>&1 3>&- &
		DV_PID=$!
		if wait_own_port "$DV_PID" "$DV_PORT" && wait_until test -S "$DV_SOCK"; then
			BACKEND=127.0.0.1:$DV_PORT
			DV_LOG_MARK=0
			return 0
		fi
		stop_dovecot
	done
	cat "$DV_DIR/dovecot.out" "$DV_LOG" >&2 2>/dev/null
	fail "dovecot did not start"
}

# stop_dovecot: KILL the master and the children it started (lmtp, auth,
# log, config, anvil...), by pid, and wait until they are gone. Dovecot's
# own SIGTERM shutdown takes one to six seconds (it waits for processes
# still starting), and nothing is left to flush once the tests have looked
# at the mailboxes. Never fails (it runs in teardown).
stop_dovecot() {
	[[ -n $DV_PID ]] || return 0
	local kids p
	kids=$(pgrep -P "$DV_PID" | tr '\n' ' ')
	# shellcheck disable=SC2086
	kill -KILL "$DV_PID" $kids 2>/dev/null || true
	wait "$DV_PID" 2>/dev/null || true
	for p in $DV_PID $kids; do
		wait_until pid_gone "$p" 2>/dev/null || true
	done
	DV_PID=
}

# dv_idle: no LMTP connection open on Dovecot's side (TCP or UNIX socket)
dv_idle() {
	backend_idle "$DV_PORT" && ! ss -xH 2>/dev/null | grep -qF " $DV_SOCK "
}

# dv_reset: before a test, with Dovecot idle: no mailbox, and a new
# starting point for dv_log
dv_reset() {
	wait_until dv_idle || return 1
	rm -rf "${DV_DIR:?}/mail/"*
	DV_LOG_MARK=$(stat -c %s "$DV_LOG" 2>/dev/null || echo 0)
}

dovecot_file_fixture() {
	setup_file() {
		common_setup_file
		DV_DIR=$FILE_TMP/dovecot
		start_dovecot || return 1
		export DV_DIR DV_LOG DV_PID DV_PORT DV_SOCK
	}
	teardown_file() {
		stop_dovecot
		common_teardown_file
	}
	setup() {
		common_setup
		BACKEND=127.0.0.1:$DV_PORT
		kill -0 "$DV_PID" 2>/dev/null || fail "Dovecot (pid $DV_PID) is gone"
		dv_reset
	}
	teardown() {
		common_teardown
	}
}

dv_files() {
	find "$DV_DIR/mail/$1/new" "$DV_DIR/mail/$1/cur" -maxdepth 1 -type f 2>/dev/null | sort
}

dv_count() {
	dv_files "$1" | wc -l
}

dv_has_count() {
	(($(dv_count "$1") >= $2))
}

dv_wait_count() {
	wait_until dv_has_count "$1" "$2"
}

# dv_message FILE: drop Dovecot's Return-Path, Delivered-To and the first
# Received field (with its continuation lines); the rest as stored
dv_message() {
	LC_ALL=C awk '
		top == 0 && /^Return-Path: / { next }
		top == 0 && /^Delivered-To: / { next }
		top == 0 && /^Received: / { top = 1; next }
		top == 1 && /^[ \t]/ { next }
		{ top = 2; print }
	' "$1"
}

dv_received() {
	LC_ALL=C awk '
		/^Received: / { r = $0; on = 1; next }
		on && /^[ \t]/ { sub(/^[ \t]+/, " "); r = r $0; next }
		on { print r; exit }
	' "$1"
}

dv_log() {
	tail -c +$((DV_LOG_MARK + 1)) "$DV_LOG" 2>/dev/null
}

dv_log_has() {
	dv_log | grep -Eq -- "$1"
}

dv_log_count() {
	dv_log | grep -Ec -- "$1" || true
}
