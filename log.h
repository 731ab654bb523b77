/*
 * log: the one place smtpproxy writes diagnostics.
 *
 * log_open(ident, file, to_stderr) chooses the sink: syslog(3) with
 * facility mail (file == NULL), or lines appended to file in syslog's
 * format (for hosts without a syslog daemon).  It may be called again once
 * the session id is known (log_set_sid).  Every line carries "sid=<id>" once
 * a session id is set; callers write the rest as key=value pairs.
 * log_debug() prints only when the trace (-d) is on, to stderr.
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
void	log_info(const char *, ...) LOG_FMT(1, 2);
void	log_warn(const char *, ...) LOG_FMT(1, 2);	/* appends errno */
void	log_warnx(const char *, ...) LOG_FMT(1, 2);
void	log_debug(const char *, ...) LOG_FMT(1, 2);
_Noreturn void	fatal(const char *, ...) LOG_FMT(1, 2);
_Noreturn void	fatalx(const char *, ...) LOG_FMT(1, 2);

#endif
