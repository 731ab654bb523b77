/*
 * smtpproxy: one SMTP session per process, in front of an existing MTA.
 *
 * main() reads the options and the configuration, identifies the client
 * (getpeername on fd 0, TCPREMOTEIP, or -T), opens what needs privileges,
 * drops them, reads a balancer's PROXY header when the peer is one of
 * proxy_clients (its source address then is the client), and hands fd 0/1
 * to smtp_session().
 * Exit codes: 0 done, 100 usage or configuration, 111 system failure.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "auth/auth.h"
#include "backend/backend.h"
#include "cdb/cdb.h"
#include "conf/conf.h"
#include "greylist/greylist.h"
#include "log.h"
#include "proxy/proxy.h"
#include "rbl/rbl.h"
#include "redis/redis.h"
#include "relay/relay.h"
#include "server/server.h"
#include "smtp/smtp.h"
#include "tls/tls.h"
#include "version.h"

#define DEFAULT_CONF	"/etc/smtpproxy/smtpproxy.conf"
#define EX_DONE		0
#define EX_PERM		100
#define EX_TEMP		111
#define MAX_OVERRIDES	64

static int	main_on_socket;		/* started by xinetd & co. */
static int	main_serving;		/* server mode */
static char	main_sid[32];		/* this session's id */

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: smtpproxy [-dnV] [-f file] [-o key=value ...] "
	    "[-T '[address]'] [-l address:port]\n");
	exit(EX_PERM);
}

/* Configuration errors: on the terminal, or in the log under xinetd. */
static void
main_conf_error(const char *msg)
{
	if (main_on_socket)
		log_warnx("event=config-error reason=\"%s\"", msg);
	else
		fprintf(stderr, "smtpproxy: %s\n", msg);
}

static int
main_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int
main_overrides(struct conf *c, char **ov, int n)
{
	int rc = 0;

	for (int i = 0; i < n; i++) {
		char *eq = strchr(ov[i], '=');

		if (eq == NULL) {
			main_conf_error("-o: expected key=value");
			rc = -1;
			continue;
		}
		*eq = '\0';
		if (conf_set(c, ov[i], eq + 1, "-o", main_conf_error) == -1)
			rc = -1;
		*eq = '=';
	}
	return rc;
}

/* Printable address of sa; v4-mapped IPv6 becomes plain IPv4. */
static int
main_sockaddr(const struct sockaddr_storage *ss, struct smtp_client *cl)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, cl->addr, sizeof(cl->addr));
		snprintf(cl->port, sizeof(cl->port), "%u", ntohs(sin->sin_port));
		cl->family = AF_INET;
		return 0;
	}
	if (ss->ss_family != AF_INET6)
		return -1;
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	snprintf(cl->port, sizeof(cl->port), "%u", ntohs(sin6->sin6_port));
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], cl->addr,
		    sizeof(cl->addr));
		cl->family = AF_INET;
	} else {
		inet_ntop(AF_INET6, &sin6->sin6_addr, cl->addr,
		    sizeof(cl->addr));
		cl->family = AF_INET6;
	}
	return 0;
}

/* "1.2.3.4" or "2001:db8::1" (brackets already gone), normalised. */
static int
main_literal(const char *s, struct smtp_client *cl)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		inet_ntop(AF_INET, &a4, cl->addr, sizeof(cl->addr));
		cl->family = AF_INET;
		return 0;
	}
	if (strncasecmp(s, "IPv6:", 5) == 0)
		s += 5;
	if (inet_pton(AF_INET6, s, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		inet_ntop(AF_INET, &a6.s6_addr[12], cl->addr, sizeof(cl->addr));
		cl->family = AF_INET;
	} else {
		inet_ntop(AF_INET6, &a6, cl->addr, sizeof(cl->addr));
		cl->family = AF_INET6;
	}
	return 0;
}

static int
main_test_client(const char *arg, struct smtp_client *cl)
{
	char	 buf[80];
	size_t	 len = strlen(arg);

	if (len < 3 || arg[0] != '[' || arg[len - 1] != ']' ||
	    len - 2 >= sizeof(buf))
		return -1;
	memcpy(buf, arg + 1, len - 2);
	buf[len - 2] = '\0';
	cl->test_mode = 1;
	return main_literal(buf, cl);
}

static int
main_client(struct smtp_client *cl)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	const char		*ip, *port;

	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0 &&
	    main_sockaddr(&ss, cl) == 0)
		return 0;
	if (errno == ENOTCONN || errno == ECONNRESET)
		return 1;	/* gone before we looked: a scanner */
	/* not a socket, or a UNIX one: the UCSPI variables may say more */
	/* tcpserver and other UCSPI servers pass the client this way */
	if ((ip = getenv("TCPREMOTEIP")) == NULL || main_literal(ip, cl) == -1)
		return -1;
	port = getenv("TCPREMOTEPORT");
	if (port != NULL && strlen(port) < sizeof(cl->port) &&
	    strspn(port, "0123456789") == strlen(port))
		strlcpy(cl->port, port, sizeof(cl->port));
	return 0;
}

static void
main_drop_privileges(const struct conf *c)
{
	struct passwd	*pw;
	struct group	*gr;

	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(c->user)) == NULL)
		fatalx("event=fatal reason=\"unknown user %s\"", c->user);
	if ((gr = getgrnam(c->group)) == NULL)
		fatalx("event=fatal reason=\"unknown group %s\"", c->group);
	if (setgroups(1, &gr->gr_gid) == -1 ||
	    setresgid(gr->gr_gid, gr->gr_gid, gr->gr_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("event=fatal reason=\"cannot drop privileges\"");
	if (pw->pw_uid == 0 || setuid(0) != -1)
		fatalx("event=fatal reason=\"still privileged as %s\"", c->user);
}

/*
 * The client's socket becomes non-blocking: replies are written at once and
 * polled for only when the socket is full (a blocking descriptor must be
 * polled before every write, so that the timeout bounds it).  Only a
 * socket: under -T, standard input may be the admin's terminal.
 */
static void
main_nonblock(void)
{
	int fl;

	for (int fd = 0; fd <= 1; fd++)
		if ((fd == 0 || main_is_socket(fd)) &&
		    (fl = fcntl(fd, F_GETFL)) != -1 && !(fl & O_NONBLOCK))
			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* After a session in a reusable child: fd 0 and 1 no longer the client. */
static void
main_devnull(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd == -1)
		fatal("event=fatal reason=\"/dev/null\"");
	if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1)
		fatal("event=fatal reason=\"dup2\"");
	if (fd > 1)
		close(fd);
}

/* A session id that is unique enough across hosts and restarts. */
static void
main_session_id(void)
{
	struct timeval	 tv;

	gettimeofday(&tv, NULL);
	snprintf(main_sid, sizeof(main_sid), "%lX%05lX%lX",
	    (unsigned long)tv.tv_sec, (unsigned long)tv.tv_usec,
	    (unsigned long)getpid());
	log_set_sid(main_sid);
}

static int
main_check(const struct conf *c, const char *laddr)
{
	int rc = EX_DONE;

	struct passwd *pw = NULL;

	if (geteuid() == 0 && ((pw = getpwnam(c->user)) == NULL ||
	    getgrnam(c->group) == NULL)) {
		fprintf(stderr, "smtpproxy: user %s or group %s does not exist\n",
		    c->user, c->group);
		return EX_PERM;
	}
	if (pw != NULL && pw->pw_uid == 0) {
		fprintf(stderr, "smtpproxy: user %s is root: sessions refuse to "
		    "run as root\n", c->user);
		return EX_PERM;
	}
	printf("configuration: ok\n");
	printf("launch: %s\n", server_describe(laddr));
	if (log_trace_on())
		conf_dump(c, stdout);
	if (relay_report(stdout) == -1 || proxy_report(stdout) == -1 ||
	    redis_report(stdout) == -1)
		rc = EX_TEMP;
	if (rbl_report(stdout) == -1)
		rc = EX_PERM;
	if (tls_check(stdout) == -1 || tls_ticket_check(c, stdout) == -1)
		rc = EX_PERM;
	if (backend_probe(c, stdout) == -1)
		rc = EX_TEMP;
	/* the store is created now and given to the sessions' account */
	if (greylist_report(c, pw ? pw->pw_uid : (uid_t)-1,
	    pw ? pw->pw_gid : (gid_t)-1, stdout) == -1)
		rc = EX_TEMP;
	/* the sessions, running as user, must be able to replace it */
	if (pw != NULL && (c->backend_extensions & CONF_EXT_AUTO) &&
	    c->backend_ehlo_cache[0] != '\0')
		(void)!chown(c->backend_ehlo_cache, pw->pw_uid, pw->pw_gid);
	return rc;
}

struct main_opts {
	const char	*file;
	const char	*test;
	const char	*listen;	/* -l: server mode on this socket */
	char		*ov[MAX_OVERRIDES];
	int		 nov;
	int		 check;
	int		 trace;
};

static void
main_options(int argc, char *argv[], struct main_opts *o)
{
	int ch;

	while ((ch = getopt(argc, argv, "df:l:no:T:V")) != -1) {
		switch (ch) {
		case 'd':
			o->trace = 1;
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'n':
			o->check = 1;
			break;
		case 'o':
			if (o->nov == MAX_OVERRIDES)
				usage();
			o->ov[o->nov++] = optarg;
			break;
		case 'T':
			o->test = optarg;
			break;
		case 'V':
			printf("smtpproxy %s\n", SMTPPROXY_VERSION);
			exit(EX_DONE);
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
}

/* The file, then -o, then the checks; 0 or an exit code. */
static int
main_config(struct conf *c, struct main_opts *o)
{
	static const char msg[] = "421 4.3.0 Service unavailable: "
	    "configuration error\r\n";
	int bad;

	conf_init(c);
	bad = conf_load(c, o->file, main_conf_error) == -1;
	bad |= main_overrides(c, o->ov, o->nov) == -1;
	if (bad || conf_check(c, main_conf_error) == -1) {
		if (main_on_socket && !o->check && !main_serving)
			(void)!write(1, msg, sizeof(msg) - 1);
		return EX_PERM;
	}
	if (log_open(c->log_file) == -1) {
		main_conf_error(c->log_file);
		return EX_TEMP;
	}
	return 0;
}

/* The modules take the configuration: tables opened (again), TLS files
 * read, before any privilege is dropped; 0 or an exit code. */
static int
main_modules(const struct conf *c, int check)
{
	cdbt_set_delimiters(c->recipient_delimiter);
	relay_init(c);
	greylist_init(c);
	proxy_init(c);
	redis_init(c);
	rbl_init(c);
	auth_init(c);
	if (tls_init(c) == -1 && check) {
		fprintf(stderr, "smtpproxy: cannot read tls_cert_file or "
		    "tls_key_file\n");
		return EX_TEMP;
	}
	return 0;
}

/* Who is the client?  0 known, else an exit code (told and logged). */
static int
main_who(const struct main_opts *o, struct smtp_client *client)
{
	static const char msg[] = "421 4.3.0 Service unavailable\r\n";
	int rc;

	if (o->test != NULL) {
		if (main_on_socket) {
			log_warnx("event=usage-error reason=\"-T refused on a "
			    "socket\"");
			return EX_PERM;
		}
		if (main_test_client(o->test, client) == 0)
			return 0;
		fprintf(stderr, "smtpproxy: -T: bad address %s\n", o->test);
		return EX_PERM;
	}
	if ((rc = main_client(client)) == 0)
		return 0;
	if (rc == 1) {
		log_info("event=lost reason=\"client gone before the greeting\"");
		return -1;
	}
	log_warn("event=fatal reason=\"cannot identify the client\"");
	(void)!write(1, msg, sizeof(msg) - 1);
	return EX_TEMP;
}

/*
 * main_proxy - behind a balancer (the peer is in proxy_clients), the
 * PROXY header on fd says who the client is; nothing is sent before it.
 * 0: go on with cl (the header's source, or the peer itself for a direct
 * client, v1 UNKNOWN and v2 LOCAL); -1: close, logged with the peer.
 */
static int
main_proxy(const struct conf *c, int fd, struct smtp_client *cl)
{
	static const char	 msg[] = "421 4.3.0 Service unavailable\r\n";
	struct proxy_header	 h;
	char			 peer[sizeof(cl->addr)];
	const char		*why = NULL;
	int			 rc;

	if (c->proxy_protocol == CONF_PROXY_NO || cl->test_mode ||
	    (rc = proxy_listed(cl->addr, &why)) == 0)
		return 0;
	if (rc == -1) {
		log_warnx("event=table-error table=%s client=%s reason=\"%s\"",
		    c->proxy_clients, cl->addr, why ? why : "lookup failed");
		(void)!write(fd, msg, sizeof(msg) - 1);
		return -1;
	}
	if (proxy_read(fd, (int)c->proxy_protocol, c->timeout_proxy, &h) == -1) {
		log_warnx("event=proxy-error client=%s reason=\"%s\"", cl->addr,
		    h.why);
		return -1;
	}
	strlcpy(peer, cl->addr, sizeof(peer));
	if (h.family == AF_UNSPEC || main_sockaddr(&h.src, cl) == -1) {
		log_info("event=proxy client=%s balancer=%s version=v%d "
		    "command=%s addresses=real", cl->addr, peer, h.version,
		    h.command == PROXY_CMD_LOCAL ? "LOCAL" : "UNKNOWN");
		return 0;
	}
	log_info("event=proxy client=%s port=%s balancer=%s version=v%d%s",
	    cl->addr, cl->port, peer, h.version, h.crc ? " crc32c=ok" : "");
	return 0;
}

/* main_limit_key - the client's key for the per-client limits, as server
 * mode's parent makes it (an IPv4 address, an IPv6 network) */
static void
main_limit_key(const struct conf *c, struct smtp_client *cl)
{
	struct sockaddr_storage	 ss = { 0 };
	struct sockaddr_in	*sin = (void *)&ss;
	struct sockaddr_in6	*sin6 = (void *)&ss;

	if (inet_pton(AF_INET, cl->addr, &sin->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, cl->addr, &sin6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	if (server_limit_key(&ss, c->client_prefix_v6, cl->key,
	    sizeof(cl->key)) == -1)
		strlcpy(cl->key, cl->addr, sizeof(cl->key));
}

/*
 * main_fleet_admit - with redis_server, the per-client limits hold for
 * the whole fleet: counted in Redis by the session, on the real client
 * (after the PROXY header).  1 counted (or Redis failed: open), 0 not
 * counted (no Redis, no limit, test mode), -1 over a limit (told,
 * logged).
 */
static int
main_fleet_admit(const struct conf *c, int fd, struct smtp_client *cl)
{
	char		 msg[160];
	const char	*why;
	int		 n;

	main_limit_key(c, cl);
	if (log_trace_on())
		redis_explain();
	if (!redis_enabled() || (c->client_connection_count_limit == 0 &&
	    c->client_connection_rate_limit == 0))
		return 0;
	if (cl->test_mode) {
		log_debug("redis: test mode: the limits are not counted");
		return 0;
	}
	if ((why = redis_limit_admit(cl->key, main_sid, time(NULL))) == NULL)
		return 1;
	log_info("event=limit client=%s key=%s limit=%s", cl->addr, cl->key,
	    why);
	n = snprintf(msg, sizeof(msg), "421 4.7.0 Too many connections from "
	    "%s\r\n", cl->addr);
	(void)!write(fd, msg, (size_t)n);
	return -1;
}

/* main_run_session - a session on fd 0/1, counted in the fleet's limits
 * while it runs; smtp_session's answer, or 0 when refused */
static int
main_run_session(const struct conf *c, struct smtp_client *cl)
{
	int counted, rc = 0;

	if ((counted = main_fleet_admit(c, 1, cl)) != -1)
		rc = smtp_session(c, cl, 0, 1);
	if (counted == 1)
		redis_limit_release(cl->key, main_sid);
	redis_session_end();
	return rc;
}

/* --- server mode: the hooks server_run calls --- */

static struct conf		*main_conf;	/* the one in force */
static struct conf		*main_conf_first;	/* main()'s, not malloc'd */
static struct main_opts		*main_server_opts;

static const struct conf *
main_server_conf(void)
{
	return main_conf;
}

/* What every child would load again, loaded once here: libssl and the
 * TLS context when STARTTLS is offered. */
static void
main_server_preload(const struct conf *c)
{
	(void)c;
	tls_set_shared(1);
	(void)tls_preload();
}

/* Before a connection is handed over: tables replaced on disk (mkcdb,
 * popwatch) are opened again, so the children made from now on see them;
 * 1 when they were. */
static int
main_server_refresh(void)
{
	if (!relay_changed() && !auth_changed() && !proxy_changed() &&
	    !greylist_changed())
		return 0;
	log_info("event=tables-reopened");
	(void)main_modules(main_conf, 0);
	return 1;
}

/* SIGHUP: configuration, tables and certificates read anew; a bad new
 * configuration is logged and the old one stays. */
static int
main_server_reload(void)
{
	struct conf *c = calloc(1, sizeof(*c)), *old;

	if (c == NULL || main_config(c, main_server_opts) != 0 ||
	    tls_ticket_check(c, NULL) == -1) {
		if (c != NULL) {
			conf_free(c);
			free(c);
		}
		(void)log_open(main_conf->log_file);
		return -1;
	}
	(void)main_modules(c, 0);	/* the modules now point into c */
	main_server_preload(c);
	old = main_conf;
	main_conf = c;
	conf_free(old);		/* children copied what they need */
	if (old != main_conf_first)
		free(old);
	return 0;
}

static void
main_server_child(void)
{
	main_drop_privileges(main_conf);
}

/* One session on fd, in a child; its fd 0 and 1 are the client's until
 * the session ends.  1 when it did not end cleanly (the child leaves). */
static int
main_server_session(int fd)
{
	struct smtp_client	 client = { 0 };
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 rc;

	main_session_id();
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    main_sockaddr(&ss, &client) == -1) {
		log_info("event=lost reason=\"client gone before the greeting\"");
		close(fd);
		return 0;
	}
	if (main_proxy(main_conf, fd, &client) == -1) {
		close(fd);
		return 1;
	}
	if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1)
		fatal("event=fatal reason=\"dup2\"");
	close(fd);
	main_nonblock();
	rc = main_run_session(main_conf, &client);
	main_devnull();
	return rc;
}

static int
main_server(struct conf *c, struct main_opts *o)
{
	static const struct server_hooks hooks = {
		main_server_conf, main_server_reload, main_server_child,
		main_server_session, main_server_refresh
	};
	static int	 fds[SERVER_LISTEN_MAX];
	char		 why[256];
	int		 n;

	if (tls_ticket_check(c, stderr) == -1) {
		log_warnx("event=fatal reason=\"tls_ticket_key_file: %s\"",
		    c->tls_ticket_key_file);
		return EX_PERM;
	}
	main_on_socket = main_serving = 1;	/* errors go to the log now */
	if ((n = server_listeners(o->listen, fds, SERVER_LISTEN_MAX, why,
	    sizeof(why))) == -1) {
		log_warnx("event=fatal reason=\"%s\"", why);
		fprintf(stderr, "smtpproxy: %s\n", why);
		return EX_TEMP;
	}
	main_conf = main_conf_first = c;
	main_server_opts = o;
	main_server_preload(c);
	return server_run(fds, n, &hooks);
}

int
main(int argc, char *argv[])
{
	static struct conf	 conf;	/* lives as long as the process */
	struct smtp_client	 client = { 0 };
	struct main_opts	 o = { .file = DEFAULT_CONF };
	int			 rc;

	signal(SIGPIPE, SIG_IGN);	/* a client gone is a write error */
	main_on_socket = main_is_socket(0);
	log_open(NULL);		/* syslog mail until the config names a file */
	main_session_id();
	main_options(argc, argv, &o);
	/* under xinetd stderr is the client: no trace there */
	log_set_trace(o.trace && !main_is_socket(2));
	if ((rc = main_config(&conf, &o)) != 0 ||
	    (rc = main_modules(&conf, o.check)) != 0)
		return rc;
	if (o.check)
		return main_check(&conf, o.listen);
	if (o.test == NULL && server_wanted(o.listen))
		return main_server(&conf, &o);
	if ((rc = main_who(&o, &client)) != 0)
		return rc == -1 ? EX_DONE : rc;
	main_drop_privileges(&conf);
	if (main_proxy(&conf, 0, &client) == -1)
		return EX_DONE;
	if (main_on_socket)
		main_nonblock();
	return main_run_session(&conf, &client) == 111 ? EX_TEMP : EX_DONE;
}
