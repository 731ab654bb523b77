/*
 * server: server mode, a resident process that accepts and forks.
 *
 * server_wanted(laddr) says whether to run as a server: -l was given, fd 0
 * is a listening socket (inetd/xinetd wait = yes), or systemd passed
 * sockets with LISTEN_FDS for this process.
 * server_describe(laddr) says which of the two modes that is, for -n.
 * server_listeners(laddr, fds, max, why, wlen) gathers those sockets: the
 * -l "address:port" ("[v6]:port") bound now, else fd 0, else fds 3.. of
 * LISTEN_FDS (the variables are then removed from the environment); the
 * count, or -1 with why.
 * server_run(fds, n, hooks) is the parent's loop and returns its exit
 * code: it accepts, applies max_sessions and the per-client limits
 * (refused: "421 4.7.0 Too many connections from ADDRESS", logged
 * event=limit), and gives each connection to a child that runs
 * hooks->session(fd) with fd as the client socket: a fresh fork per
 * connection with max_use 1, else a worker that serves up to max_use
 * connections one after another (handed over a socketpair) and leaves
 * after one that did not end cleanly.  hooks->child_init() runs in each
 * new child before its first session (the privilege drop).  SIGHUP calls
 * hooks->refresh() runs before each connection is handed over (1: tables
 * were opened again, idle workers leave); SIGHUP calls
 * hooks->reload() (0: the new configuration is in force, idle workers
 * leave; -1: the old one stays); SIGTERM and SIGINT stop accepting and
 * wait for the sessions to end.  The parent never reads a client byte.
 *
 * The per-client limits (server_limit.c), pure for the unit tests:
 * server_limit_key(ss, prefix_v6, key, size) is the client's key (IPv4
 * address, IPv6 network of prefix_v6 bits); server_limit_admit(c, key,
 * now) counts a connection or answers why not (NULL: admitted, else the
 * limit's name); server_limit_release(key) ends one; server_limit_reset()
 * forgets everything.
 */
#ifndef SMTPPROXY_SERVER_H
#define SMTPPROXY_SERVER_H

#include <sys/socket.h>

#include <stddef.h>
#include <time.h>

#include "conf/conf.h"

#define SERVER_LISTEN_MAX	16
#define SERVER_KEY_MAX		64

struct server_hooks {
	const struct conf	*(*conf)(void);
	int			 (*reload)(void);
	void			 (*child_init)(void);
	int			 (*session)(int fd);
	int			 (*refresh)(void);
};

int		 server_wanted(const char *laddr);
const char	*server_describe(const char *laddr);
int		 server_listeners(const char *laddr, int *fds, int max,
		    char *why, size_t wlen);
int		 server_run(const int *fds, int n,
		    const struct server_hooks *hooks);

int		 server_limit_key(const struct sockaddr_storage *ss,
		    int prefix_v6, char *key, size_t size);
const char	*server_limit_admit(const struct conf *c, const char *key,
		    time_t now);
void		 server_limit_release(const char *key);
void		 server_limit_reset(void);

#endif
