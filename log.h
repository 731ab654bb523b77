/*
 * log: the one place smtpproxy writes diagnostics.
 *
 * log_open(file) chooses the sink: syslog(3) as "smtpproxy", facility mail
 * (file NULL or ""), or lines appended to file in syslog's format (for
 * hosts without a syslog daemon); 0, or -1 when file cannot be opened.
 * It may be called again: the earlier file is closed.  log_set_sid(sid)
 * sets the session id every later line carries as "sid=<id>"; callers
 * write the rest as key=value pairs.  log_set_trace(on) turns the -d
 * trace on; log_debug() prints only then, to stderr; log_trace_on() says
 * whether it is on (to skip building what only the trace shows).
 * log_warn() appends strerror(errno), log_warnx() does not.
 * fatal()/fatalx() log and exit 111; they are for system errors only.
 * Never pass a password or an AUTH payload to any of these.
 */
#ifndef SMTPPROXY_LOG_H
#define SMTPPROXY_LOG_H

#include <stdarg.h>

#define LOG_FMT(a, b) __attribute__((format(printf, a, b)))

int	log_open(const char *file);
void	log_set_trace(int on);
int	log_trace_on(void);
void	log_set_sid(const char *sid);
void	log_info(const char *fmt, ...) LOG_FMT(1, 2);
void	log_warn(const char *fmt, ...) LOG_FMT(1, 2);	/* appends errno */
void	log_warnx(const char *fmt, ...) LOG_FMT(1, 2);
void	log_debug(const char *fmt, ...) LOG_FMT(1, 2);
_Noreturn void	fatal(const char *fmt, ...) LOG_FMT(1, 2);
_Noreturn void	fatalx(const char *fmt, ...) LOG_FMT(1, 2);

#endif
