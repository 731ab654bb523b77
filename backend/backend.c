/*
 * backend.c: one SMTP or LMTP client connection to the MTA.
 * Every wait is bounded by timeout_backend; every reply line by
 * BACKEND_LINE_MAX and every reply by BACKEND_LINES_MAX lines.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/string.h>

#include "backend.h"
#include "iobuf.h"
#include "log.h"
#include "tls/tls.h"

#define BACKEND_LINE_MAX	2048
#define BACKEND_LINES_MAX	200

struct backend {
	const struct conf	*conf;
	struct iobuf		 io;
	int			 fd;
	int			 xforward;	/* send XFORWARD per transaction */
	int			 xclient;	/* the client passed with XCLIENT */
	int			 ext;		/* CONF_EXT_* of the first EHLO */
	char			 xclient_attrs[256];	/* " NAME ADDR ..." */
	char			 told_helo[256];	/* what XCLIENT said */
	int			 told_esmtp;
	char			 told_login[256];
	char			 ehlo[BACKEND_EHLO_MAX];	/* "\nKEYWORD params" */
};

static void
backend_fail(struct backend_reply *r, int code, const char *text)
{
	r->code = code;
	snprintf(r->text, sizeof(r->text), "%d.4.1 %s", code / 100, text);
}

/* -1 with the reply a client hears when its backend connection failed. */
static int
backend_lost(struct backend_reply *r)
{
	backend_fail(r, 451, "Mail server temporarily unavailable");
	return -1;
}

static int
backend_wait_connect(int fd, int timeout)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLOUT };
	int		 err = 0, n;
	socklen_t	 len = sizeof(err);

	do
		n = poll(&pfd, 1, timeout * 1000);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	if (n <= 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* Non-blocking connect bounded by the timeout; the socket stays O_NONBLOCK. */
static int
backend_connect_one(const struct sockaddr *sa, socklen_t salen, int timeout)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	if (connect(fd, sa, salen) == 0 ||
	    (errno == EINPROGRESS && backend_wait_connect(fd, timeout) == 0))
		return fd;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
backend_connect(const struct conf *c)
{
	const struct conf_addr	*a = &c->backend_addr;
	struct addrinfo		 hints = { 0 }, *res, *ai;
	int			 fd = -1, rc;

	if (a->kind == CONF_ADDR_UNIX) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		strlcpy(sun.sun_path, a->path, sizeof(sun.sun_path));
		return backend_connect_one((struct sockaddr *)&sun,
		    sizeof(sun), c->timeout_backend);
	}
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(a->host, a->port, &hints, &res)) != 0) {
		log_warnx("event=backend-error backend=%s reason=\"%s\"",
		    c->backend, gai_strerror(rc));
		errno = EHOSTUNREACH;
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = backend_connect_one(ai->ai_addr, ai->ai_addrlen,
		    c->timeout_backend);
	freeaddrinfo(res);
	return fd;
}

/* Append one reply line's text; control characters become '?'. */
static void
backend_reply_add(struct backend_reply *r, const char *text, int first)
{
	size_t	 len = strlen(r->text);
	char	*p;

	if (!first && len + 2 < sizeof(r->text))
		r->text[len++] = '\n';
	r->text[len] = '\0';
	strlcat(r->text, text, sizeof(r->text));
	for (p = r->text + len; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static int
backend_parse_line(const char *line, size_t len, int *code, int *last)
{
	if (len < 3 || !isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	*last = len == 3 || line[3] == ' ';
	return 0;
}

/* Read one whole reply; -1 when the connection failed or spoke nonsense. */
static int
backend_read_reply(struct backend *b, struct backend_reply *r)
{
	char	 line[BACKEND_LINE_MAX];
	size_t	 len;
	int	 code, last = 0, whole = 0, n;

	r->code = 0;
	r->text[0] = '\0';
	/* whole only once the last line passed every check: a final line
	 * with another code ("550-a", "551 b") is nonsense, not a reply */
	for (n = 0; !whole; n++) {
		enum iobuf_line kind = iobuf_getline(&b->io, line, sizeof(line),
		    &len);

		if (kind == IOL_FAIL) {
			log_warnx("event=backend-error backend=%s reason=\"%s\"",
			    b->conf->backend, iobuf_strerror(&b->io));
			break;
		}
		if (kind != IOL_OK || n == BACKEND_LINES_MAX ||
		    backend_parse_line(line, len, &code, &last) == -1 ||
		    (n > 0 && code != r->code)) {
			log_warnx("event=backend-error backend=%s "
			    "reason=\"malformed reply\"", b->conf->backend);
			break;
		}
		r->code = code;
		backend_reply_add(r, len > 4 ? line + 4 : "", n == 0);
		whole = last;
	}
	if (whole)
		return 0;
	backend_fail(r, 421, "Lost connection to the mail server");
	return -1;
}

int
backend_command(struct backend *b, struct backend_reply *r,
    const char *fmt, ...)
{
	char	 cmd[BACKEND_LINE_MAX];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) - 2) {
		backend_fail(r, 451, "Command too long for the mail server");
		return 0;
	}
	log_debug("backend <- %s", cmd);
	memcpy(cmd + n, "\r\n", 2);
	if (iobuf_write(&b->io, cmd, (size_t)n + 2) == -1 ||
	    iobuf_flush(&b->io) == -1) {
		log_warnx("event=backend-error backend=%s reason=\"%s\"",
		    b->conf->backend, iobuf_strerror(&b->io));
		backend_fail(r, 421, "Lost connection to the mail server");
		return -1;
	}
	int rc = backend_read_reply(b, r);
	log_debug("backend -> %d %s", r->code, r->text);
	return rc;
}

/* Remember the EHLO keywords, upper case, one per "\n"-separated line. */
static void
backend_keep_ehlo(struct backend *b, const struct backend_reply *r)
{
	const char *nl = strchr(r->text, '\n');

	strlcpy(b->ehlo, nl != NULL ? nl : "", sizeof(b->ehlo));
	for (char *p = b->ehlo; *p != '\0'; p++) {
		char *end = p + strcspn(p, " \n");

		for (; p < end; p++)
			*p = (char)toupper((unsigned char)*p);
		p += strcspn(p, "\n");
		if (*p == '\0')
			break;
	}
}

static int
backend_has(const struct backend *b, const char *keyword)
{
	return backend_ehlo_has(b->ehlo, keyword);
}

/* What to offer the client of the backend's DSN and SMTPUTF8: the
 * configured list, or with auto what the backend said (this connection's
 * first EHLO reply, else the cache file); -1 when that is not known yet. */
int
backend_extensions(const struct conf *c, const struct backend *b)
{
	if (!(c->backend_extensions & CONF_EXT_AUTO))
		return c->backend_extensions;
	if (b != NULL)
		return b->ext;
	return backend_ext_cached(c->backend_ehlo_cache);
}

/* The EHLO keyword a MAIL or RCPT parameter needs; NULL: never passed on
 * (AUTH= is the proxy's own, RFC 4954 5). */
static const char *
backend_param_keyword(const char *param, size_t len)
{
	static const struct {
		const char	*param;
		const char	*keyword;
	} need[] = {
		{ "SIZE", "SIZE" }, { "BODY", "8BITMIME" },
		{ "SMTPUTF8", "SMTPUTF8" }, { "RET", "DSN" }, { "ENVID", "DSN" },
		{ "NOTIFY", "DSN" }, { "ORCPT", "DSN" }
	};
	size_t klen = strcspn(param, "=");

	if (klen > len)
		klen = len;
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (strlen(need[i].param) == klen &&
		    strncasecmp(param, need[i].param, klen) == 0)
			return need[i].keyword;
	return NULL;
}

void
backend_params(const struct backend *b, const char *in, char *out,
    size_t size)
{
	size_t n = 0;

	for (const char *p = in; *p != '\0';) {
		size_t		 len = strcspn(p, " ");
		const char	*kw = backend_param_keyword(p, len);

		if (kw != NULL && backend_has(b, kw) && n + len + 2 < size) {
			if (n > 0)
				out[n++] = ' ';
			memcpy(out + n, p, len);
			n += len;
		} else if (len > 0)
			log_debug("backend: not forwarding %.*s (%s)", (int)len,
			    p, kw ? "not offered" : "ours");
		p += len;
		p += strspn(p, " ");
	}
	out[n] = '\0';
}

/* Does "KEYWORD a b c" list attribute attr? */
static int
backend_has_attr(const struct backend *b, const char *keyword,
    const char *attr)
{
	size_t		 klen = strlen(keyword), alen = strlen(attr);
	const char	*p = b->ehlo;

	if (strcmp(keyword, "XCLIENT") == 0)	/* as first offered */
		p = b->xclient_attrs;
	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (strncmp(p, keyword, klen) != 0 || p[klen] != ' ')
			continue;
		const char *end = p + strcspn(p, "\n");
		for (const char *q = p + klen; q < end; q++)
			if (q[-1] == ' ' && (size_t)(end - q) >= alen &&
			    strncasecmp(q, attr, alen) == 0 &&
			    (q[alen] == ' ' || q + alen == end))
				return 1;
	}
	return 0;
}

/* EHLO (LHLO for LMTP) as name, or HELO when helo is set: the backend
 * then offers no extension, and none is passed on. */
static int
backend_greet(struct backend *b, const char *name, int helo,
    struct backend_reply *r)
{
	const char *verb = b->conf->backend_protocol == CONF_PROTO_LMTP ?
	    "LHLO" : helo ? "HELO" : "EHLO";

	if (backend_command(b, r, "%s %s", verb, name) == -1)
		return -1;
	if (r->code != 250) {
		log_warnx("event=backend-error backend=%s reason=\"%s refused: "
		    "%d %s\"", b->conf->backend, verb, r->code, r->text);
		return -1;
	}
	backend_keep_ehlo(b, r);
	return 0;
}

/* EHLO with our own name, before anything about the client is said. */
static int
backend_ehlo(struct backend *b, const char *name, struct backend_reply *r)
{
	return backend_greet(b, name, 0, r);
}

/* RFC 3461 xtext, as XCLIENT and XFORWARD want their values. */
static void
backend_xtext(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; *src != '\0' && n + 4 < size; src++) {
		unsigned char c = (unsigned char)*src;

		if (c < 33 || c > 126 || c == '+' || c == '=')
			n += (size_t)snprintf(dst + n, size - n, "+%02X", c);
		else
			dst[n++] = (char)c;
	}
	dst[n] = '\0';
}

/* " ATTR=value" for each attribute the backend advertised under verb.
 * A client without HELO is said to have none, so that the backend never
 * takes the proxy's own EHLO name for the client's. */
static void
backend_attrs(const struct backend *b, const char *verb,
    const struct backend_client *cl, char *out, size_t size)
{
	char	 helo[600], login[600], name[600];
	int	 v6 = strchr(cl->addr, ':') != NULL;

	backend_xtext(helo, sizeof(helo), cl->helo);
	backend_xtext(login, sizeof(login), cl->login);
	backend_xtext(name, sizeof(name), cl->name ? cl->name : "");
	out[0] = '\0';
#define ATTR(name, ...) do {						\
	if (backend_has_attr(b, verb, name)) {				\
		size_t l = strlen(out);					\
		snprintf(out + l, size - l, " " name "=" __VA_ARGS__);	\
	}								\
} while (0)
	ATTR("ADDR", "%s%s", v6 ? "IPV6:" : "", cl->addr);
	ATTR("NAME", "%s", name[0] ? name : "[UNAVAILABLE]");
	if (cl->port[0] != '\0')
		ATTR("PORT", "%s", cl->port);
	ATTR("HELO", "%s", helo[0] ? helo : "[UNAVAILABLE]");
	ATTR("PROTO", "%s", cl->esmtp ? "ESMTP" : "SMTP");
	if (cl->login[0] != '\0' || b->told_login[0] != '\0')
		ATTR("LOGIN", "%s", login[0] ? login : "[UNAVAILABLE]");
	if (strcmp(verb, "XFORWARD") == 0)
		ATTR("SOURCE", "%s", "REMOTE");
#undef ATTR
}

/*
 * XCLIENT makes the backend start over with the client's identity; then
 * the client's own greeting: EHLO or HELO as the client said it (so the
 * backend logs the same protocol), none when the client said none.  LMTP
 * always needs LHLO: the client's name, or ours.
 */
static int
backend_xclient(struct backend *b, const struct backend_client *cl,
    struct backend_reply *r)
{
	char attrs[1600];

	backend_attrs(b, "XCLIENT", cl, attrs, sizeof(attrs));
	if (backend_command(b, r, "XCLIENT%s", attrs) == -1)
		return -1;
	if (r->code / 100 != 2) {	/* Postfix says 220, others 250 */
		log_warnx("event=backend-error backend=%s reason=\"XCLIENT "
		    "refused: %d %s\"", b->conf->backend, r->code, r->text);
		return -1;
	}
	b->xclient = 1;
	strlcpy(b->told_helo, cl->helo, sizeof(b->told_helo));
	strlcpy(b->told_login, cl->login, sizeof(b->told_login));
	b->told_esmtp = cl->esmtp;
	if (b->conf->backend_protocol == CONF_PROTO_LMTP)
		return backend_ehlo(b, cl->helo[0] ? cl->helo :
		    b->conf->hostname, r);
	if (cl->helo[0] == '\0') {
		b->ehlo[0] = '\0';	/* no EHLO: no extension either */
		return 0;
	}
	return backend_greet(b, cl->helo, !cl->esmtp, r);
}

/* A connection kept between transactions: the backend may have closed it
 * (idle timeout, 421) without our asking; it is then readable. */
static int
backend_alive(const struct backend *b)
{
	struct pollfd pfd = { .fd = b->fd, .events = POLLIN };

	return b->io.err == IOBUF_OK && poll(&pfd, 1, 0) == 0;
}

/* Before each transaction: XCLIENT again when the client said another
 * HELO or logged in since, or XFORWARD (its attributes end with each
 * transaction).  -1: the connection cannot serve it (r holds a 4xx). */
int
backend_update(struct backend *b, const struct backend_client *cl,
    struct backend_reply *r)
{
	char attrs[1600];

	if (!backend_alive(b))
		return backend_lost(r);
	if (b->xclient && (strcmp(b->told_helo, cl->helo) != 0 ||
	    b->told_esmtp != cl->esmtp ||
	    strcmp(b->told_login, cl->login) != 0))
		return backend_xclient(b, cl, r) == -1 ? backend_lost(r) : 0;
	if (!b->xforward)
		return 0;
	backend_attrs(b, "XFORWARD", cl, attrs, sizeof(attrs));
	if (backend_command(b, r, "XFORWARD%s", attrs) == -1)
		return -1;
	if (r->code != 250) {
		log_warnx("event=backend-error backend=%s reason=\"XFORWARD "
		    "refused: %d %s\"", b->conf->backend, r->code, r->text);
		backend_fail(r, 451, "Mail server configuration error");
		return -1;
	}
	return 0;
}

/* backend_tls: STARTTLS before anything about the client is said. */
static int
backend_starttls(struct backend *b, struct backend_reply *r)
{
	char tls[128];

	if (b->conf->backend_tls == CONF_BETLS_NO)
		return 0;
	if (!backend_has(b, "STARTTLS")) {
		if (b->conf->backend_tls == CONF_BETLS_MAY)
			return 0;
		log_warnx("event=backend-error backend=%s reason=\"no STARTTLS, "
		    "backend_tls encrypt\"", b->conf->backend);
		return -1;
	}
	if (backend_command(b, r, "STARTTLS") == -1 || r->code != 220)
		return -1;
	iobuf_discard(&b->io);	/* nothing of the plaintext may remain */
	if (tls_connect(&b->io, tls, sizeof(tls)) == -1) {
		log_warnx("event=backend-error backend=%s reason=\"STARTTLS "
		    "failed\"", b->conf->backend);
		return -1;
	}
	log_info("event=backend-tls backend=%s tls=%s", b->conf->backend, tls);
	return backend_ehlo(b, b->conf->hostname, r);
}

/* The XCLIENT line of the first EHLO reply, "\nXCLIENT ATTR ...": the
 * later replies (to the client's HELO, or none) need not repeat it. */
static void
backend_keep_xclient(struct backend *b)
{
	const char *p = strstr(b->ehlo, "\nXCLIENT ");

	if (p != NULL)
		snprintf(b->xclient_attrs, sizeof(b->xclient_attrs), "%.*s",
		    (int)strcspn(p + 1, "\n") + 1, p);
}

/* Pass the client on as backend_xclient says; -1 = do not go on. */
static int
backend_identify(struct backend *b, const struct backend_client *cl,
    struct backend_reply *r)
{
	int mode = b->conf->backend_xclient;

	if (mode == CONF_XCLIENT_NO)
		return 0;
	if (backend_has(b, "XCLIENT")) {
		backend_keep_xclient(b);
		return backend_xclient(b, cl, r);
	}
	if (backend_has(b, "XFORWARD")) {
		b->xforward = 1;
		return 0;
	}
	if (mode == CONF_XCLIENT_AUTO)
		return 0;
	log_warnx("event=backend-error backend=%s reason=\"backend offers "
	    "neither XCLIENT nor XFORWARD\"", b->conf->backend);
	return -1;
}

static struct backend *
backend_start(const struct conf *c, struct backend_reply *r)
{
	struct backend	*b;
	int		 fd;

	if ((fd = backend_connect(c)) == -1) {
		log_warn("event=backend-error backend=%s reason=connect",
		    c->backend);
		backend_fail(r, 451, "Mail server temporarily unavailable");
		return NULL;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		close(fd);
		backend_fail(r, 451, "Out of memory");
		return NULL;
	}
	b->conf = c;
	b->fd = fd;
	iobuf_init(&b->io, fd, fd, c->timeout_backend);
	if (backend_read_reply(b, r) == -1 || r->code != 220) {
		if (r->code != 0)
			log_warnx("event=backend-error backend=%s "
			    "reason=\"greeting: %d %s\"", c->backend, r->code,
			    r->text);
		backend_close(b, 0);
		backend_fail(r, 451, "Mail server temporarily unavailable");
		return NULL;
	}
	return b;
}

/* The extensions of our own EHLO's reply, kept for the sessions to come
 * with backend_extensions auto; as backend_ext_save (-2: never). */
static int
backend_learn(struct backend *b, int force)
{
	b->ext = backend_ext_bits(b->ehlo);
	if (!(b->conf->backend_extensions & CONF_EXT_AUTO))
		return 0;
	return backend_ext_save(b->conf->backend_ehlo_cache, b->ehlo, force);
}

/* backend_ask_extensions - with backend_extensions auto and nothing kept
 * yet: a short connection (greeting, EHLO, QUIT), nothing said of the
 * client, so that no DNS answer is waited for; the bits, or -1 */
int
backend_ask_extensions(const struct conf *c, double deadline)
{
	struct backend_reply	 r;
	struct backend		*b;
	int			 ext = -1;

	if ((b = backend_start(c, &r)) == NULL)
		return -1;
	iobuf_set_deadline(&b->io, deadline);
	if (backend_ehlo(b, c->hostname, &r) == 0 &&
	    backend_starttls(b, &r) == 0) {
		(void)backend_learn(b, 0);
		ext = b->ext;
	}
	backend_close(b, 1);
	return ext;
}

struct backend *
backend_open(const struct conf *c, const struct backend_client *cl,
    struct backend_reply *r)
{
	struct backend	*b;
	int		 ok;

	if ((b = backend_start(c, r)) == NULL)
		return NULL;
	iobuf_set_deadline(&b->io, cl->deadline);
	ok = backend_ehlo(b, c->hostname, r) == 0 &&
	    backend_starttls(b, r) == 0;
	if (ok) {
		(void)backend_learn(b, 0);	/* before XCLIENT's own EHLO */
		ok = backend_identify(b, cl, r) == 0;
	}
	if (!ok) {
		backend_close(b, 0);
		backend_fail(r, 451, "Mail server temporarily unavailable");
		return NULL;
	}
	return b;
}

int
backend_data_write(void *arg, const char *p, size_t n)
{
	struct backend *b = arg;

	if (iobuf_write(&b->io, p, n) == -1) {
		log_warnx("event=backend-error backend=%s reason=\"%s in DATA\"",
		    b->conf->backend, iobuf_strerror(&b->io));
		return -1;
	}
	return 0;
}

/* Rank of an LMTP reply: a 4xx makes the client retry, so it wins. */
static int
backend_rank(int code)
{
	return code / 100 == 4 ? 3 : code / 100 == 5 ? 2 : 1;
}

/* LMTP: one reply per recipient, folded into the first of the worst rank. */
static void
backend_fold(struct backend_reply *acc, const struct backend_reply *r,
    int first)
{
	if (first || backend_rank(r->code) > backend_rank(acc->code))
		*acc = *r;
}

int
backend_data_end(struct backend *b, int nreplies, struct backend_reply *r)
{
	struct backend_reply one;

	if (b->conf->backend_protocol != CONF_PROTO_LMTP)
		nreplies = 1;
	if (iobuf_write(&b->io, ".\r\n", 3) == -1 || iobuf_flush(&b->io) == -1) {
		log_warnx("event=backend-error backend=%s reason=\"%s at "
		    "end of DATA\"", b->conf->backend, iobuf_strerror(&b->io));
		backend_fail(r, 451, "Lost connection to the mail server");
		return -1;
	}
	for (int i = 0; i < nreplies; i++) {
		if (backend_read_reply(b, &one) == -1) {
			backend_fail(r, 451, "Lost connection to the mail "
			    "server; message not accepted");
			return -1;
		}
		backend_fold(r, &one, i == 0);
	}
	return 0;
}

void
backend_close(struct backend *b, int quit)
{
	struct backend_reply r;

	if (b == NULL)
		return;
	if (quit && b->io.err == IOBUF_OK)
		(void)backend_command(b, &r, "QUIT");
	tls_close(&b->io);
	close(b->fd);
	free(b);
}

static void
backend_print(FILE *out, const struct backend_reply *r)
{
	const char *p = r->text;

	for (;;) {
		size_t	len = strcspn(p, "\n");
		int	last = p[len] == '\0';

		fprintf(out, "backend: %d%c%.*s\n", r->code, last ? ' ' : '-',
		    (int)len, p);
		if (last)
			break;
		p += len + 1;
	}
}

/* -n: what the client will be offered against what the backend offers,
 * both ways, and which parameters will not be passed on. */
static void
backend_probe_exts(struct backend *b, FILE *out)
{
	static const struct {
		int		 bit;
		const char	*key, *kw;
	} ext[] = {
		{ CONF_EXT_DSN, "dsn", "DSN" },
		{ CONF_EXT_SMTPUTF8, "smtputf8", "SMTPUTF8" }
	};
	static const char *const params[][2] = {
		{ "SIZE", "SIZE=" }, { "8BITMIME", "BODY=" },
		{ "DSN", "RET=, ENVID=, NOTIFY=, ORCPT=" },
		{ "SMTPUTF8", "SMTPUTF8" }
	};
	const struct conf	*c = b->conf;
	int			 want = c->backend_extensions;

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if (!backend_has(b, params[i][0]))
			fprintf(out, "warning: the backend does not offer %s: %s "
			    "parameters are not forwarded\n", params[i][0],
			    params[i][1]);
	if (want & CONF_EXT_AUTO) {
		if (backend_learn(b, 1) == -1)
			fprintf(out, "warning: backend_ehlo_cache: %s: %s\n",
			    c->backend_ehlo_cache, strerror(errno));
		else if (c->backend_ehlo_cache[0] != '\0')
			fprintf(out, "backend_ehlo_cache: %s written\n",
			    c->backend_ehlo_cache);
		return;
	}
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		int has = backend_has(b, ext[i].kw);

		if ((want & ext[i].bit) && !has)
			fprintf(out, "warning: backend_extensions lists %s, the "
			    "backend does not offer %s\n", ext[i].key, ext[i].kw);
		else if (!(want & ext[i].bit) && has)
			fprintf(out, "warning: the backend offers %s, "
			    "backend_extensions does not list %s: %s\n",
			    ext[i].kw, ext[i].key, ext[i].bit == CONF_EXT_DSN ?
			    "DSN requests are refused" :
			    "senders of RFC 6531 mail will bounce");
	}
}

int
backend_probe(const struct conf *c, FILE *out)
{
	struct backend		*b;
	struct backend_reply	 r;

	if ((b = backend_start(c, &r)) == NULL) {
		fprintf(out, "backend: %s: not reachable (%d %s)\n",
		    c->backend, r.code, r.text);
		return -1;
	}
	backend_print(out, &r);
	if (backend_ehlo(b, c->hostname, &r) == -1) {
		backend_print(out, &r);
		backend_close(b, 1);
		return -1;
	}
	backend_print(out, &r);
	backend_probe_exts(b, out);
	if (c->backend_xclient != CONF_XCLIENT_NO &&
	    !backend_has(b, "XCLIENT") && !backend_has(b, "XFORWARD"))
		fprintf(out, "warning: the backend offers neither XCLIENT "
		    "nor XFORWARD: it will see the proxy's address\n");
	backend_close(b, 1);
	return 0;
}
