/*
 * log.c: syslog or a log file, one line per call, "sid=" first.
 * The file sink writes each line with a single write(2) on an O_APPEND
 * descriptor, so concurrent sessions never interleave within a line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static int	log_fd = -1;		/* -1: syslog */
static int	log_trace;
static char	log_sid[32];
static char	log_host[256];
static long	log_pid;

/*
 * syslog's socket is connected at the first message (no LOG_NDELAY): a
 * log_file configuration never opens it.  /dev/log stays reachable after
 * privileges drop.
 */
int
log_open(const char *file)
{
	/* without TZ, glibc stats /etc/localtime at every localtime() */
	if (getenv("TZ") == NULL)
		setenv("TZ", ":/etc/localtime", 0);
	if (file == NULL || *file == '\0') {
		if (log_fd != -1)
			close(log_fd);
		log_fd = -1;
		openlog("smtpproxy", LOG_PID, LOG_MAIL);
		return 0;
	}
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	if (gethostname(log_host, sizeof(log_host)) == -1)
		strlcpy(log_host, "localhost", sizeof(log_host));
	log_host[sizeof(log_host) - 1] = '\0';
	return 0;
}

void
log_set_trace(int on)
{
	log_trace = on;
}

int
log_trace_on(void)
{
	return log_trace;
}

void
log_set_sid(const char *sid)
{
	snprintf(log_sid, sizeof(log_sid), "%s", sid);
	log_pid = 0;	/* a new session may be a new child (server mode) */
}

/* Replace control characters so one call is one line, whatever it quotes. */
static void
log_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void
log_emit(int prio, const char *msg)
{
	char	 line[LOG_LINE_MAX + 128], stamp[32];
	time_t	 now;
	int	 n;

	if (log_trace)
		fprintf(stderr, "smtpproxy: %s\n", msg);
	if (log_fd == -1) {
		syslog(prio, "%s", msg);
		return;
	}
	if (log_pid == 0)
		log_pid = (long)getpid();
	now = time(NULL);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", localtime(&now));
	n = snprintf(line, sizeof(line), "%s %s smtpproxy[%ld]: %s\n",
	    stamp, log_host, log_pid, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)!write(log_fd, line, (size_t)n);
}

static void
log_vmsg(int prio, const char *errstr, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];
	size_t	 off = 0;

	if (log_sid[0] != '\0')
		off = (size_t)snprintf(msg, sizeof(msg), "sid=%s ", log_sid);
	vsnprintf(msg + off, sizeof(msg) - off, fmt, ap);
	if (errstr != NULL) {
		off = strlen(msg);
		snprintf(msg + off, sizeof(msg) - off, " error=\"%s\"", errstr);
	}
	log_clean(msg);
	log_emit(prio, msg);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[LOG_LINE_MAX];

	if (!log_trace)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_clean(msg);
	fprintf(stderr, "smtpproxy: debug: %s\n", msg);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, strerror(errno), fmt, ap);
	va_end(ap);
	exit(111);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(111);
}
