/*
 * server.c: the resident parent of server mode and its children.
 *
 * The parent only accepts, counts and hands over: a connection admitted by
 * the limits goes to a fresh fork (max_use 1) or to an idle worker over
 * its socketpair (SCM_RIGHTS); a worker says 'D' when a session is done.
 * Signals reach the loop through a pipe, so every wait is one poll(2).
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "log.h"
#include "server.h"

#define SERVER_ACCEPT_BATCH	64	/* accepts per wake-up */
#define SERVER_TICK_MS		1000	/* idle workers are looked at */

struct server_child {
	pid_t		 pid;
	int		 chan;		/* socketpair to a worker; -1: one-shot */
	int		 busy;		/* serving key */
	int		 used;		/* sessions served */
	unsigned	 gen;		/* configuration it was made under */
	time_t		 idle_since;
	char		 key[SERVER_KEY_MAX];
};

static const struct server_hooks *server_hooks;
static struct server_child	*server_kids;
static int			 server_nkids, server_capkids;
static int			 server_sig[2] = { -1, -1 };
static const int		*server_fds;
static int			 server_nfds;
static unsigned			 server_gen;
static int			 server_stopping;

/* --- listening sockets --- */

static int
server_is_listening(int fd)
{
	int		 on = 0;
	socklen_t	 len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* LISTEN_FDS for this process (systemd's sd_listen_fds()): the count. */
static int
server_systemd_fds(void)
{
	const char	*pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
	char		*end;
	long		 v;

	if (pid == NULL || n == NULL || strtol(pid, &end, 10) != getpid() ||
	    *end != '\0')
		return 0;
	v = strtol(n, &end, 10);
	return *end == '\0' && v > 0 && v <= SERVER_LISTEN_MAX ? (int)v : 0;
}

/* server_wanted - run as a server rather than serve fd 0 and exit? */
int
server_wanted(const char *laddr)
{
	return laddr != NULL || server_is_listening(0) ||
	    server_systemd_fds() > 0;
}

/* server_describe - for -n: the launch mode these settings start */
const char *
server_describe(const char *laddr)
{
	if (laddr != NULL)
		return "server mode on -l's socket";
	if (server_is_listening(0))
		return "server mode: fd 0 is a listening socket (inetd/xinetd "
		    "wait = yes)";
	if (server_systemd_fds() > 0)
		return "server mode: sockets from systemd (LISTEN_FDS)";
	return "per-connection: one session on fd 0, then exit (xinetd "
	    "wait = no, tcpserver, systemd Accept=yes)";
}

/* "host:port", "[v6]:port", "*:port" or ":port" into host and port. */
static int
server_split(const char *spec, char *host, size_t hsize, char *port,
    size_t psize)
{
	const char *colon = strrchr(spec, ':');
	size_t hlen;

	if (colon == NULL || colon[1] == '\0' ||
	    strlcpy(port, colon + 1, psize) >= psize)
		return -1;
	hlen = (size_t)(colon - spec);
	if (hlen >= 2 && spec[0] == '[' && colon[-1] == ']') {
		spec++;
		hlen -= 2;
	}
	if (hlen >= hsize)
		return -1;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0)
		host[0] = '\0';
	return 0;
}

/* -l: a socket bound and listening now. */
static int
server_bind(const char *spec, char *why, size_t wlen)
{
	struct addrinfo	 hints = { .ai_socktype = SOCK_STREAM,
			    .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo	*res;
	char		 host[256], port[16];
	int		 fd, on = 1, rc;

	if (server_split(spec, host, sizeof(host), port, sizeof(port)) == -1) {
		snprintf(why, wlen, "-l %s: expected address:port", spec);
		return -1;
	}
	if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0) {
		snprintf(why, wlen, "-l %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1 || bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		snprintf(why, wlen, "-l %s: %s", spec, strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* stdio of the parent and its children: /dev/null, not a listener */
static void
server_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd == -1)
		return;
	for (int i = 0; i <= 2; i++)
		if (fd != i)
			(void)dup2(fd, i);
	if (fd > 2)
		close(fd);
}

/* server_listeners - the listening sockets, as server_wanted found them */
int
server_listeners(const char *laddr, int *fds, int max, char *why,
    size_t wlen)
{
	int n = 0;

	if (laddr != NULL) {
		if ((fds[0] = server_bind(laddr, why, wlen)) == -1)
			return -1;
		n = 1;
	} else if (server_is_listening(0)) {
		if ((fds[0] = fcntl(0, F_DUPFD_CLOEXEC, 3)) == -1) {
			snprintf(why, wlen, "fd 0: %s", strerror(errno));
			return -1;
		}
		n = 1;
	} else {
		n = server_systemd_fds();
		for (int i = 0; i < n && i < max; i++) {
			fds[i] = 3 + i;
			(void)fcntl(fds[i], F_SETFD, FD_CLOEXEC);
		}
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
	}
	if (n == 0) {
		snprintf(why, wlen, "no listening socket");
		return -1;
	}
	for (int i = 0; i < n; i++)
		(void)fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	server_stdio();
	return n;
}

/* --- children --- */

static void
server_on_signal(int sig)
{
	unsigned char	 c = (unsigned char)sig;
	int		 saved = errno;

	(void)!write(server_sig[1], &c, 1);
	errno = saved;
}

static void
server_signals(void (*handler)(int))
{
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
	struct sigaction sa = { .sa_handler = handler };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
}

/* In a new child: nothing of the parent's but the client stays open. */
static void
server_child_start(void)
{
	server_signals(SIG_DFL);
	for (int i = 0; i < server_nfds; i++)
		close(server_fds[i]);
	close(server_sig[0]);
	close(server_sig[1]);
	for (int i = 0; i < server_nkids; i++)
		if (server_kids[i].chan != -1)
			close(server_kids[i].chan);
	server_hooks->child_init();
}

static struct server_child *
server_kid_add(pid_t pid, int chan)
{
	struct server_child *k;

	if (server_nkids == server_capkids) {
		int cap = server_capkids ? server_capkids * 2 : 64;

		if ((k = reallocarray(server_kids, (size_t)cap, sizeof(*k))) ==
		    NULL)
			return NULL;
		server_kids = k;
		server_capkids = cap;
	}
	k = &server_kids[server_nkids++];
	memset(k, 0, sizeof(*k));
	k->pid = pid;
	k->chan = chan;
	k->gen = server_gen;
	return k;
}

/* A message of one byte that may carry one descriptor (SCM_RIGHTS). */
struct server_fdmsg {
	char		 byte;
	struct iovec	 iov;
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr	 msg;
};

static void
server_fdmsg_init(struct server_fdmsg *m)
{
	memset(m, 0, sizeof(*m));
	m->byte = 'C';
	m->iov = (struct iovec){ &m->byte, 1 };
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->u.buf;
	m->msg.msg_controllen = sizeof(m->u.buf);
}

/* One fd over the channel; 0 or -1. */
static int
server_send_fd(int chan, int fd)
{
	struct server_fdmsg	 m;
	struct cmsghdr		*cm;

	server_fdmsg_init(&m);
	cm = CMSG_FIRSTHDR(&m.msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(chan, &m.msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* The next connection from the parent, -1 when told to leave. */
static int
server_recv_fd(int chan, int idle)
{
	struct server_fdmsg	 m;
	struct pollfd		 pfd = { .fd = chan, .events = POLLIN };
	struct cmsghdr		*cm;
	int			 fd;

	server_fdmsg_init(&m);
	if (poll(&pfd, 1, idle * 1000) != 1 ||
	    recvmsg(chan, &m.msg, MSG_CMSG_CLOEXEC) != 1 ||
	    (cm = CMSG_FIRSTHDR(&m.msg)) == NULL ||
	    cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* A worker: up to max_use sessions, each handed over by the parent; it
 * leaves after one that did not end cleanly, or idle for max_idle. */
static _Noreturn void
server_worker(int chan)
{
	const struct conf	*c = server_hooks->conf();
	int			 fd;

	for (int used = 0; used < c->max_use; used++) {
		/* the parent retires an idle worker (it closes the channel
		 * after max_idle): a worker that left on its own clock could
		 * drop a connection already on its way */
		if ((fd = server_recv_fd(chan, c->max_idle + 60)) == -1)
			_exit(0);
		int rc = server_hooks->session(fd);
		/* no 'D' from a worker that leaves: the parent would take it
		 * for idle and hand it a connection it never reads */
		if (rc != 0)
			_exit(rc == 1 ? 0 : rc);
		if (write(chan, "D", 1) != 1)
			_exit(0);
	}
	_exit(0);
}

/* A new child: a one-shot for fd, or a worker on a socketpair. */
static struct server_child *
server_spawn(int fd, int worker)
{
	struct server_child	*k;
	int			 sp[2] = { -1, -1 };
	pid_t			 pid;

	if (worker && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) ==
	    -1)
		return NULL;
	if ((pid = fork()) == -1) {
		log_warn("event=fork-error");
		if (worker) {
			close(sp[0]);
			close(sp[1]);
		}
		return NULL;
	}
	if (pid == 0) {
		if (worker) {
			/* the connection comes over the channel; the copy
			 * fork gave would hold it open after the session */
			close(fd);
			close(sp[0]);
		}
		server_child_start();
		if (worker)
			server_worker(sp[1]);
		_exit(server_hooks->session(fd) == 111 ? 111 : 0);
	}
	if (worker)
		close(sp[1]);
	if ((k = server_kid_add(pid, worker ? sp[0] : -1)) == NULL && worker)
		close(sp[0]);
	return k;
}

static struct server_child *
server_idle_worker(void)
{
	for (int i = 0; i < server_nkids; i++) {
		struct server_child *k = &server_kids[i];

		if (k->chan != -1 && !k->busy && k->gen == server_gen &&
		    k->used < server_hooks->conf()->max_use)
			return k;
	}
	return NULL;
}

/* Give an admitted connection to a child; -1 when none could take it. */
static int
server_hand_over(int fd, const char *key)
{
	const struct conf	*c = server_hooks->conf();
	struct server_child	*k = NULL;

	if (c->max_use > 1 && (k = server_idle_worker()) != NULL &&
	    server_send_fd(k->chan, fd) == -1) {
		close(k->chan);		/* it is leaving: a new one */
		k->chan = -1;
		k = NULL;
	}
	if (k == NULL) {
		if ((k = server_spawn(fd, c->max_use > 1)) == NULL)
			return -1;
		if (k->chan != -1 && server_send_fd(k->chan, fd) == -1)
			return -1;
	}
	k->busy = 1;
	strlcpy(k->key, key, sizeof(k->key));
	return 0;
}

/* --- the parent's loop --- */

static void
server_refuse(int fd, const struct sockaddr_storage *ss, const char *key,
    const char *why)
{
	char	 addr[INET6_ADDRSTRLEN], msg[160];
	int	 n;

	if (server_limit_key(ss, 128, addr, sizeof(addr)) == -1)
		strlcpy(addr, "unknown", sizeof(addr));
	addr[strcspn(addr, "/")] = '\0';
	log_info("event=limit client=%s key=%s limit=%s", addr, key, why);
	n = snprintf(msg, sizeof(msg), "421 4.7.0 Too many connections from "
	    "%s\r\n", addr);
	(void)!write(fd, msg, (size_t)n);	/* once, never waited for */
}

/* One connection from lfd; -1 when none is waiting. */
static int
server_accept_one(int lfd)
{
	const struct conf	*c = server_hooks->conf();
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 key[SERVER_KEY_MAX];
	const char		*why;
	int			 fd;

	if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return -1;
	if (server_limit_key(&ss, c->client_prefix_v6, key, sizeof(key)) ==
	    -1)
		strlcpy(key, "local", sizeof(key));
	if ((why = server_limit_admit(c, key, time(NULL))) != NULL) {
		server_refuse(fd, &ss, key, why);
		close(fd);
		return 0;
	}
	if (server_hooks->refresh() == 1)
		server_gen++;	/* tables opened again: workers made anew */
	if (server_hand_over(fd, key) == -1) {
		server_limit_release(key);
		(void)!write(fd, "421 4.3.0 Service unavailable\r\n", 31);
	}
	close(fd);
	return 0;
}

static void
server_kid_remove(int i)
{
	struct server_child *k = &server_kids[i];

	if (k->busy)
		server_limit_release(k->key);
	if (k->chan != -1)
		close(k->chan);
	server_kids[i] = server_kids[--server_nkids];
}

static void
server_reap(void)
{
	pid_t	 pid;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < server_nkids; i++) {
			if (server_kids[i].pid != pid)
				continue;
			if (WIFSIGNALED(status))
				log_warnx("event=child-crash pid=%ld signal=%d",
				    (long)pid, WTERMSIG(status));
			else if (WEXITSTATUS(status) != 0)
				log_warnx("event=child-exit pid=%ld status=%d",
				    (long)pid, WEXITSTATUS(status));
			server_kid_remove(i);
			break;
		}
	}
}

/* Idle workers of an older configuration, or idle too long, leave. */
static void
server_retire(int all)
{
	const struct conf	*c = server_hooks->conf();
	time_t			 now = time(NULL);

	for (int i = 0; i < server_nkids; i++) {
		struct server_child *k = &server_kids[i];

		if (k->chan == -1 || k->busy)
			continue;
		if (all || k->gen != server_gen || k->used >= c->max_use ||
		    now - k->idle_since >= c->max_idle) {
			close(k->chan);
			k->chan = -1;
		}
	}
}

/* A worker's word: 'D' a session done; end of file: it is leaving. */
static void
server_from_worker(struct server_child *k)
{
	char c;

	if (read(k->chan, &c, 1) == 1 && c == 'D') {
		server_limit_release(k->key);
		k->busy = 0;
		k->key[0] = '\0';
		k->used++;
		k->idle_since = time(NULL);
		return;
	}
	close(k->chan);
	k->chan = -1;		/* reaped with SIGCHLD; still busy if it was */
}

static void
server_on_signals(void)
{
	unsigned char	 sig;

	while (read(server_sig[0], &sig, 1) == 1) {
		if (sig == SIGCHLD)
			server_reap();
		else if (sig == SIGHUP) {
			if (server_hooks->reload() == 0) {
				server_gen++;
				log_info("event=reload result=ok");
			} else
				log_warnx("event=reload result=failed "
				    "reason=\"the configuration in force "
				    "stays\"");
		} else if (!server_stopping) {
			server_stopping = 1;
			for (int i = 0; i < server_nfds; i++)
				close(server_fds[i]);
			log_info("event=stop sessions=%d", server_nkids);
		}
	}
	server_retire(server_stopping);
}

/* pollfds: the signal pipe, the listeners, every worker's channel; idx
 * says which (-1 - i: listener i, i >= 0: child i). */
struct server_poll {
	struct pollfd	*pfd;
	int		*idx;
	int		 cap;
};

static nfds_t
server_poll_build(struct server_poll *p)
{
	int	need = 1 + server_nfds + server_nkids;
	nfds_t	n = 0;

	if (need > p->cap) {
		struct pollfd	*a = reallocarray(p->pfd, (size_t)need,
		    sizeof(*a));
		int		*b;

		if (a != NULL)
			p->pfd = a;
		if (a == NULL || (b = reallocarray(p->idx, (size_t)need,
		    sizeof(*b))) == NULL)
			fatalx("event=fatal reason=\"out of memory\"");
		p->idx = b;
		p->cap = need;
	}
	p->idx[n] = 0;
	p->pfd[n++] = (struct pollfd){ .fd = server_sig[0], .events = POLLIN };
	for (int i = 0; i < server_nfds && !server_stopping; i++) {
		p->idx[n] = -1 - i;
		p->pfd[n++] = (struct pollfd){ .fd = server_fds[i],
		    .events = POLLIN };
	}
	for (int i = 0; i < server_nkids; i++)
		if (server_kids[i].chan != -1) {
			p->idx[n] = i;
			p->pfd[n++] = (struct pollfd){ .fd = server_kids[i].chan,
			    .events = POLLIN };
		}
	return n;
}

static void
server_poll_once(struct server_poll *p)
{
	nfds_t n = server_poll_build(p);

	if (poll(p->pfd, n, SERVER_TICK_MS) == -1 && errno != EINTR)
		fatal("event=fatal reason=\"poll\"");
	/* workers' news first: one that said 'D' is idle again before the
	 * connections that arrived with it are handed over */
	for (nfds_t i = 1; i < n; i++) {
		int who = p->idx[i];

		if (who >= 0 && (p->pfd[i].revents & (POLLIN | POLLHUP |
		    POLLERR)) && who < server_nkids &&
		    server_kids[who].chan == p->pfd[i].fd)
			server_from_worker(&server_kids[who]);
	}
	for (nfds_t i = 1; i < n; i++) {
		if (p->idx[i] >= 0 ||
		    !(p->pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		for (int j = 0; j < SERVER_ACCEPT_BATCH && !server_stopping; j++)
			if (server_accept_one(p->pfd[i].fd) == -1)
				break;
	}
	server_on_signals();
}

/* server_run - the parent's loop, until stopped and every child gone */
int
server_run(const int *fds, int nfds, const struct server_hooks *hooks)
{
	struct server_poll p = { NULL, NULL, 0 };

	server_hooks = hooks;
	server_fds = fds;
	server_nfds = nfds;
	if (pipe2(server_sig, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("event=fatal reason=\"pipe\"");
	server_signals(server_on_signal);
	log_info("event=server listeners=%d max_use=%d", nfds,
	    hooks->conf()->max_use);
	while (!server_stopping || server_nkids > 0)
		server_poll_once(&p);
	free(p.pfd);
	free(p.idx);
	log_info("event=stopped");
	return 0;
}
