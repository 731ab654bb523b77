#!/bin/sh
# popbsmtp-post-login.sh: Dovecot post-login script for smtpproxy's
# POP-before-SMTP.  After every successful POP3 or IMAP login Dovecot runs it
# with the client address in $IP; it records that address in the pop table
# with "mkcdb -t pop -a", unless it is loopback, then hands the session back
# to Dovecot with exec "$@".  It never holds a login up: mkcdb gets at most
# five seconds, and a failure is only logged (syslog, facility mail).  It
# writes nothing on standard output (with Dovecot 1.x that is the client).
#
# The alternative, for Dovecot or any other server, is popwatch(8), which
# reads the logins from the mail log.  Use one or the other.
#
# Install (as root):
#   install -D -m 755 popbsmtp-post-login.sh \
#       /usr/local/libexec/smtpproxy/popbsmtp-post-login.sh
#
# Dovecot 2.x, in conf.d/10-master.conf:
#
#   service pop3 {
#     executable = pop3 popbsmtp
#   }
#   service imap {
#     executable = imap popbsmtp
#   }
#   service popbsmtp {
#     executable = script-login /usr/local/libexec/smtpproxy/popbsmtp-post-login.sh
#     # the account that writes the pop table (its folder, its lock file)
#     user = popwatch
#     unix_listener popbsmtp {
#     }
#   }
#
# Dovecot 1.x, in dovecot.conf (the script then runs as the mail user, which
# must be able to write the table's folder):
#
#   protocol pop3 {
#     mail_executable = /usr/local/libexec/smtpproxy/popbsmtp-post-login.sh /usr/lib/dovecot/pop3
#   }
#   protocol imap {
#     mail_executable = /usr/local/libexec/smtpproxy/popbsmtp-post-login.sh /usr/lib/dovecot/imap
#   }
#
# smtpproxy.conf:  pop_before_smtp cdb:/var/lib/smtpproxy/pop.cdb
#
# A fleet sharing Redis (smtpproxy.conf: redis_server ..., pop_before_smtp
# redis:): set POPBSMTP_CONF to that smtpproxy.conf; the login then goes to
# Redis with "popwatch -r $POPBSMTP_CONF -a $IP" (its TTL is pop_window),
# and no table is written.  The account that runs the script must be able
# to read the configuration and its redis_password_file.
# Old logins stay in the table until "mkcdb -t pop -x" drops them (run it
# from cron, as the same user); smtpproxy checks the age of each login
# against pop_window itself, so an old one never lets a client relay.
#
# Settings: POPBSMTP_TABLE, POPBSMTP_MKCDB, POPBSMTP_CONF and
# POPBSMTP_POPWATCH in the environment (Dovecot 2.x: import_environment)
# override the defaults below.

table=${POPBSMTP_TABLE:-/var/lib/smtpproxy/pop.cdb}
mkcdb=${POPBSMTP_MKCDB:-/usr/local/sbin/mkcdb}
conf=${POPBSMTP_CONF:-}
popwatch=${POPBSMTP_POPWATCH:-/usr/local/sbin/popwatch}
[ -z "$conf" ] || table="Redis ($conf)"

# write IP: the table with mkcdb, or Redis with popwatch -r
write() {
	if [ -n "$conf" ]; then
		$limit "$popwatch" -r "$conf" -a "$1"
	else
		$limit "$mkcdb" -t pop -a "$1" "$table"
	fi
}

record() {
	limit=
	! command -v timeout >/dev/null 2>&1 || limit="timeout 5"
	write "$1"
}

case ${IP:-} in
'' | 127.* | ::1 | ::ffff:127.* | 0:0:0:0:0:0:0:1) ;;
*)
	if ! out=$(record "$IP" 2>&1 </dev/null); then
		logger -p mail.warning -t popbsmtp -- \
		    "login ip=$IP not recorded in $table: ${out:-failed}" \
		    >/dev/null 2>&1 </dev/null || :
	fi
	;;
esac

exec "$@"
