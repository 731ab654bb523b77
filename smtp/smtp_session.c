/*
 * smtp_session.c: the SMTP server side, one command table and one state.
 *
 * Each verb has a row: the states it is allowed in, whether it takes an
 * argument, a check (syntax; replies and returns -1 on failure) and a
 * proceed part.  The generic loop enforces the row, counts errors and
 * unknown commands, and ends the session at their limits.  Every state
 * change goes through smtp_enter(), which traces "old -> new".
 * A refusal of a policy family (the DNS policy's verdict, the HELO style
 * checks) goes through smtp_policy_reply(), which in test mode only logs
 * it (event=would-reject) and lets the command go on; relay and AUTH
 * policy, syntax, limits, TLS and AUTH requirements always refuse.
 */
#include <sys/resource.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "auth/auth.h"
#include "backend/backend.h"
#include "greylist/greylist.h"
#include "iobuf.h"
#include "log.h"
#include "rbl/rbl.h"
#include "redis/redis.h"
#include "relay/relay.h"
#include "smtp.h"
#include "tls/tls.h"
#include "version.h"

enum smtp_state {
	S_CONNECTED,	/* greeting sent, no HELO yet */
	S_HELO,		/* ready for MAIL */
	S_MAIL,		/* MAIL accepted */
	S_RCPT,		/* at least one RCPT accepted */
	S_DATA,		/* message being copied */
	S_QUIT		/* session over */
};

static const char *const smtp_state_name[] = {
	"connected", "helo", "mail", "rcpt", "data", "quit"
};

#define ST(s)		(1u << (s))
#define ST_ANY		(ST(S_CONNECTED) | ST(S_HELO) | ST(S_MAIL) | ST(S_RCPT))
#define ST_IDLE		(ST(S_CONNECTED) | ST(S_HELO))

#define CMD_ARG		0x01	/* needs an argument */
#define CMD_NOARG	0x02	/* takes none */
#define CMD_JUNK	0x04	/* counts toward max_junk_commands */

/* Sizes that depend on each other, named once. */
#define SMTP_REFUSE_PREFIX	"550 5.7.1 "	/* a HELO style's !text */
#define SMTP_DELAYED_MAX	(sizeof(SMTP_REFUSE_PREFIX) + \
				 sizeof(((struct conf_style *)0)->text))
#define SMTP_RELAY_TEXT_MAX	1000	/* a backend reply line relayed */
#define SMTP_RELAY_LINE_MAX	(SMTP_RELAY_TEXT_MAX + sizeof("5.0.0 "))
#define SMTP_MECH_MAX		20	/* RFC 4422 3.1: a SASL name */

struct smtp_session {
	const struct conf		*conf;
	const struct smtp_client	*client;
	struct iobuf			*io;		/* malloc'd: not zeroed */
	enum smtp_state			 state;
	const char			*verb;
	char				*line;
	char				 helo[256];
	int				 esmtp;
	int				 ext;		/* CONF_EXT_* offered */
	int				 ext_asked;	/* the backend, at EHLO */
	struct smtp_path		 from;
	struct smtp_path		 to;		/* RCPT being checked */
	const char			*params;	/* its ESMTP part */
	int				 smtputf8;
	char				 from_log[SMTP_ADDR_MAX + 2];
	int				 rcpts;		/* this transaction */
	int				 rcpts_total;
	int				 accepted;	/* messages */
	int				 errors;
	int				 unknown;
	int				 junk;		/* since the last message */
	int				 tls;		/* STARTTLS done */
	int				 auth_failures;
	char				 login[256];	/* "" until AUTH */
	const char			*flags;		/* HELO style */
	char				 delayed[SMTP_DELAYED_MAX]; /* delay_reject */
	int				 tarpit;	/* next delay, s */
	struct backend			*be;
	struct rbl_session		*rbl;		/* the DNS policy's */
	struct relay_session		 relay;		/* the client's standing */
	struct auth_sasl		*sasl;		/* the AUTH exchange */
	struct greylist_session		 grey;
	double				 start;
	const char			*result;
};

struct smtp_cmd {
	const char	*verb;
	unsigned	 states;
	int		 flags;
	int		(*check)(struct smtp_session *, const char *);
	void		(*proceed)(struct smtp_session *, const char *);
};

static void
smtp_enter(struct smtp_session *s, enum smtp_state next)
{
	if (s->state != next)
		log_debug("state %s -> %s", smtp_state_name[s->state],
		    smtp_state_name[next]);
	s->state = next;
}

static void
smtp_end(struct smtp_session *s, const char *result)
{
	if (s->result == NULL)
		s->result = result;
	smtp_enter(s, S_QUIT);
}


/* ZMailer's tarpit: wait before each refusal, longer each time. */
static void
smtp_tarpit(struct smtp_session *s)
{
	const struct conf	*c = s->conf;
	struct timespec		 ts;
	double			 left = s->io->deadline - iobuf_now();

	if (c->tarpit_initial == 0)
		return;
	if (s->tarpit == 0)
		s->tarpit = c->tarpit_initial;
	ts.tv_sec = s->tarpit < left ? s->tarpit : (left > 0 ? (time_t)left : 0);
	ts.tv_nsec = 0;
	iobuf_flush(s->io);	/* earlier replies are not held back */
	log_debug("tarpit: %ld s", (long)ts.tv_sec);
	while (nanosleep(&ts, &ts) == -1)
		;
	s->tarpit += s->tarpit * c->tarpit_exponent;
	if (c->tarpit_top > 0 && s->tarpit > c->tarpit_top)
		s->tarpit = c->tarpit_top;
}

/* One-line reply "code x.y.z text"; refusals are logged and counted. */
static void __attribute__((format(printf, 2, 3)))
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((buf[0] == '4' || buf[0] == '5') && strncmp(buf, "421", 3) != 0)
		smtp_tarpit(s);
	log_debug("client <- %s", buf);
	iobuf_printf(s->io, "%s\r\n", buf);
	if (buf[0] != '4' && buf[0] != '5')
		return;
	log_info("event=reject client=%s cmd=%s reply=\"%s\"", s->client->addr,
	    s->verb, buf);
	if (strncmp(buf, "421", 3) == 0)
		smtp_end(s, "closed");
	else
		s->errors++;
}

static const char *const smtp_family_name[] = {
	[CONF_POLICY_DNS] = "dns_policy_mode",
	[CONF_POLICY_HELO] = "helo_policy_mode",
	[CONF_POLICY_SPF] = "spf_mode",
	[CONF_POLICY_GREYLIST] = "greylist_mode"
};

/* smtp_policy_reply - a policy family's refusal: sent and -1 in enforce
 * mode; in test mode logged as it would have been sent and 0, neither
 * tarpitted nor counted toward max_errors (the client never saw it). */
static int __attribute__((format(printf, 3, 4)))
smtp_policy_reply(struct smtp_session *s, enum conf_policy_family family,
    const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!conf_policy_test(s->conf, family)) {
		smtp_reply(s, "%s", buf);
		return -1;
	}
	log_debug("test mode (%s): would reply \"%s\"; going on as if it "
	    "passed", smtp_family_name[family], buf);
	log_info("event=would-reject client=%s cmd=%s reply=\"%s\"",
	    s->client->addr, s->verb, buf);
	return 0;
}

/* A backend reply, line by line, with an enhanced code on every line. */
static void
smtp_relay(struct smtp_session *s, const struct backend_reply *r)
{
	const char	*p = r->text;
	char		 line[SMTP_RELAY_LINE_MAX];
	int		 enh = isdigit((unsigned char)p[0]) && p[1] == '.';

	for (;;) {
		size_t	len = strcspn(p, "\n");
		int	last = p[len] == '\0';

		if (len > SMTP_RELAY_TEXT_MAX)
			len = SMTP_RELAY_TEXT_MAX;
		snprintf(line, sizeof(line), "%s%.*s",
		    enh ? "" : (r->code >= 500 ? "5.0.0 " :
		    r->code >= 400 ? "4.0.0 " : "2.0.0 "), (int)len, p);
		if (last) {
			smtp_reply(s, "%d %s", r->code, line);
			break;
		}
		iobuf_printf(s->io, "%d-%s\r\n", r->code, line);
		p += strcspn(p, "\n") + 1;
	}
}

static void
smtp_backend_close(struct smtp_session *s, int quit)
{
	backend_close(s->be, quit);
	s->be = NULL;
}

static void
smtp_backend_client(const struct smtp_session *s, struct backend_client *bc)
{
	bc->addr = s->client->addr;
	bc->family = s->client->family;
	bc->port = s->client->port;
	bc->helo = s->helo;
	bc->esmtp = s->esmtp;
	bc->login = s->login;
	bc->name = rbl_client_name(s->rbl);
	bc->deadline = s->io->deadline;
}

/*
 * The backend for this transaction: opened lazily, told who the client is.
 * One connection serves the whole session; it is replaced only when the
 * backend dropped it or would not take the client's new identity.  On
 * failure the client hears why.
 */
static int
smtp_backend_ready(struct smtp_session *s)
{
	struct backend_client	 bc;
	struct backend_reply	 r;

	smtp_backend_client(s, &bc);
	if (s->be != NULL && backend_update(s->be, &bc, &r) == 0)
		return 0;
	if (s->be != NULL)
		smtp_backend_close(s, 0);
	if ((s->be = backend_open(s->conf, &bc, &r)) == NULL ||
	    backend_update(s->be, &bc, &r) == -1) {
		if (s->be != NULL)
			smtp_backend_close(s, 0);
		smtp_relay(s, &r);
		return -1;
	}
	return 0;
}

/* Forget the transaction here and at the backend. */
static void
smtp_reset(struct smtp_session *s)
{
	struct backend_reply r;

	if (s->be != NULL && (s->state == S_MAIL || s->state == S_RCPT) &&
	    (backend_command(s->be, &r, "RSET") == -1 || r.code != 250))
		smtp_backend_close(s, 0);
	memset(&s->from, 0, sizeof(s->from));
	s->rcpts = 0;
	s->smtputf8 = 0;
	if (s->state != S_QUIT)	/* a 421 on the way ended the session */
		smtp_enter(s, s->helo[0] != '\0' ? S_HELO : S_CONNECTED);
}

static const char *
smtp_greeting(const struct conf *c, char *buf, size_t size)
{
	char		 date[64];
	size_t		 n = 0;
	time_t		 now = time(NULL);
	const char	*p;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z",
	    localtime(&now));
	for (p = c->greeting; *p != '\0' && n + 1 < size; p++) {
		const char *sub = NULL;

		if (*p == '%' && p[1] != '\0') {
			p++;
			sub = *p == 'H' ? c->hostname : *p == 'V' ?
			    SMTPPROXY_VERSION : *p == 'T' ? date : "%";
		}
		if (sub == NULL) {
			buf[n++] = *p;
			continue;
		}
		n += strlcpy(buf + n, sub, size - n);
		if (n >= size)
			n = size - 1;
	}
	buf[n] = '\0';
	return buf;
}

/* --- checks and proceeds, in the order of a session --- */

static int
smtp_flag(const struct smtp_session *s, char flag)
{
	return strchr(s->flags, flag) != NULL;
}

/* Seconds of load above which a session may not go on (0: no limit). */
static int
smtp_overloaded(double limit)
{
	double load;

	return limit > 0 && getloadavg(&load, 1) == 1 && load > limit;
}

/* ZMailer's HELO styles: the first matching pattern gives the flags, a
 * load limit, or a refusal (now, or at RCPT with delay_reject). */
static int
smtp_helo_style(struct smtp_session *s, const char *helo)
{
	const struct conf_style *st = smtp_style_find(s->conf, helo);

	s->delayed[0] = '\0';	/* the HELO name in force decides */
	if (st == NULL || !st->refuse || s->conf->delay_reject)
		s->flags = st != NULL && !st->refuse ? st->flags :
		    s->conf->helo_default;
	log_debug("helo: %s matches %s%s%s, flags %s", helo,
	    st ? "pattern " : "no pattern", st ? st->pattern : "",
	    st && st->refuse ? " (refused)" : "", s->flags);
	if (st != NULL && smtp_overloaded(st->maxload)) {
		smtp_reply(s, "421 4.3.2 %s System overloaded, try again later",
		    s->conf->hostname);
		return -1;
	}
	if (st == NULL || !st->refuse)
		return 0;
	/* kept: a client that goes on regardless hears it again at RCPT */
	snprintf(s->delayed, sizeof(s->delayed), SMTP_REFUSE_PREFIX "%s",
	    st->text);
	if (s->conf->delay_reject)
		return 0;
	if (smtp_policy_reply(s, CONF_POLICY_HELO, "%s", s->delayed) == -1)
		return -1;
	/* test mode: the name passed, with the flags of no pattern */
	s->delayed[0] = '\0';
	s->flags = s->conf->helo_default;
	return 0;
}

static int
smtp_check_helo(struct smtp_session *s, const char *arg)
{
	if (strlen(arg) >= sizeof(s->helo) || strchr(arg, ' ') != NULL) {
		smtp_reply(s, "501 5.5.4 Syntax: %s hostname", s->verb);
		return -1;
	}
	if (s->conf->helo_syntax == CONF_HELO_STRICT && !smtp_helo_valid(arg) &&
	    smtp_policy_reply(s, CONF_POLICY_HELO,
	    "501 5.5.2 <%s>: Invalid HELO name", arg) == -1)
		return -1;
	return smtp_helo_style(s, arg);
}

static void
smtp_take_helo(struct smtp_session *s, const char *arg, int esmtp)
{
	if (s->state == S_MAIL || s->state == S_RCPT)
		smtp_reset(s);
	strlcpy(s->helo, arg, sizeof(s->helo));
	s->esmtp = esmtp;
	rbl_start_helo(s->rbl, s->helo);
	smtp_enter(s, S_HELO);
}

/* What of DSN and SMTPUTF8 the client may use.  With backend_extensions
 * auto and nothing learnt yet, ask the backend now when learn is set (a
 * short connection of its own: the client's name is not waited for);
 * else offer neither. */
static int
smtp_backend_extensions(struct smtp_session *s, int learn)
{
	int ext = backend_extensions(s->conf, s->be);

	/* once a session: a backend that does not answer delays one EHLO */
	if (ext == -1 && learn && !s->ext_asked) {
		s->ext_asked = 1;
		ext = backend_ask_extensions(s->conf, s->io->deadline);
	}
	return ext == -1 ? 0 : ext;
}

static void
smtp_do_helo(struct smtp_session *s, const char *arg)
{
	smtp_take_helo(s, arg, 0);
	s->ext = smtp_backend_extensions(s, 0);
	smtp_reply(s, "250 %s", s->conf->hostname);
}

/* The mechanisms to offer now: none once authenticated; no plaintext
 * ones before TLS unless auth_requires_tls is off. */
static void
smtp_auth_offer(const struct smtp_session *s, char *out, size_t size)
{
	char	 list[512], *tok, *save = NULL;

	out[0] = '\0';
	if (s->login[0] != '\0')
		return;
	strlcpy(list, s->conf->sasl_mechanisms, sizeof(list));
	for (tok = strtok_r(list, " ,", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,", &save)) {
		if (!s->tls && s->conf->auth_requires_tls &&
		    auth_mech_plaintext(tok))
			continue;
		if (out[0] != '\0')
			strlcat(out, " ", size);
		strlcat(out, tok, size);
	}
	for (char *p = out; *p; p++)
		*p = (char)toupper((unsigned char)*p);
}

static void
smtp_do_ehlo(struct smtp_session *s, const char *arg)
{
	const struct conf	*c = s->conf;
	char			 mechs[512];

	smtp_take_helo(s, arg, 1);
	s->ext = smtp_backend_extensions(s, 1);
	iobuf_printf(s->io, "250-%s\r\n", c->hostname);
	iobuf_printf(s->io, "250-PIPELINING\r\n");
	iobuf_printf(s->io, "250-SIZE %lld\r\n", c->max_message_size);
	if (c->vrfy)
		iobuf_printf(s->io, "250-VRFY\r\n");
	if (s->ext & CONF_EXT_DSN)
		iobuf_printf(s->io, "250-DSN\r\n");
	if (s->ext & CONF_EXT_SMTPUTF8)
		iobuf_printf(s->io, "250-SMTPUTF8\r\n");
	if (!s->tls && tls_offered(s->io))
		iobuf_printf(s->io, "250-STARTTLS\r\n");
	smtp_auth_offer(s, mechs, sizeof(mechs));
	if (mechs[0] != '\0')
		iobuf_printf(s->io, "250-AUTH %s\r\n", mechs);
	iobuf_printf(s->io, "250-ENHANCEDSTATUSCODES\r\n");
	smtp_reply(s, "250 8BITMIME");
}

/* "FROM:" or "TO:", optional spaces, then the path; NULL if missing. */
static const char *
smtp_after_keyword(const char *arg, const char *kw)
{
	size_t len = strlen(kw);

	if (strncasecmp(arg, kw, len) != 0)
		return NULL;
	arg += len;
	while (*arg == ' ')
		arg++;
	return arg;
}

/* Path and parameters of MAIL or RCPT; replies itself on error. */
static int
smtp_envelope(struct smtp_session *s, const char *arg, int is_mail,
    struct smtp_path *path, struct smtp_params *params, const char **pstr)
{
	const char	*p, *rest, *why;
	int		 code;

	if ((p = smtp_after_keyword(arg, is_mail ? "FROM:" : "TO:")) == NULL) {
		smtp_reply(s, "501 5.5.4 Syntax: %s", is_mail ?
		    "MAIL FROM:<address>" : "RCPT TO:<address>");
		return -1;
	}
	if (smtp_parse_path_lax(p, is_mail, (smtp_flag(s, 'R') ? 0 :
	    SMTP_LAX_NODOMAIN) | (smtp_flag(s, 'S') ? SMTP_LAX_SLOPPY : 0),
	    path, &rest, &why) == -1)
		rest = NULL;
	else if (*rest != '\0' && *rest != ' ')
		why = "junk after the address";
	else
		why = NULL;
	if (why != NULL) {
		smtp_reply(s, "501 %s Bad %s address syntax: %s",
		    is_mail ? "5.1.7" : "5.1.3", is_mail ? "sender" : "recipient",
		    why);
		return -1;
	}
	while (*rest == ' ')
		rest++;
	*pstr = rest;
	code = smtp_parse_params(rest, is_mail, s->ext |
	    (s->conf->sasl_mechanisms[0] ? SMTP_EXT_AUTH : 0), params, &why);
	if (code != 0) {
		smtp_reply(s, "%d 5.5.4 Error: %s", code, why);
		return -1;
	}
	return 0;
}

/* The f and t style flags: the domain must have an MX or an A record. */
static int
smtp_domain_check(struct smtp_session *s, const char *domain,
    const char *addr, const char *who, const char *enh)
{
	int r;

	if (domain[0] == '\0')
		return 0;	/* no domain: the backend qualifies it */
	if ((r = rbl_domain_exists(s->rbl, domain)) == 1)
		return 0;
	if (r == 0)
		return smtp_policy_reply(s, CONF_POLICY_HELO,
		    "550 %s <%s>: %s address domain not found", enh, addr, who);
	return smtp_policy_reply(s, CONF_POLICY_HELO,
	    "451 4%s <%s>: %s address domain lookup failed", enh + 1, addr, who);
}

static int
smtp_check_mail(struct smtp_session *s, const char *arg)
{
	struct smtp_params	params;
	char			reply[512];
	int			trusted;

	if (s->conf->helo_required && s->helo[0] == '\0') {
		smtp_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return -1;
	}
	if ((s->conf->tls_required || smtp_flag(s, 'T')) && !s->tls) {
		smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return -1;
	}
	if ((s->conf->msa || smtp_flag(s, 'A')) && s->login[0] == '\0' &&
	    (trusted = relay_client_trusted(&s->relay, s->client->addr)) != 1) {
		smtp_reply(s, "%s", trusted == -1 ? "451 4.3.0 Temporary lookup "
		    "failure" : "530 5.7.0 Authentication required");
		return -1;
	}
	if (smtp_envelope(s, arg, 1, &s->from, &params, &s->params) == -1)
		return -1;
	if (s->conf->max_message_size > 0 &&
	    params.size > s->conf->max_message_size) {
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return -1;
	}
	if (s->from.utf8 && !params.smtputf8) {
		smtp_reply(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		return -1;
	}
	s->smtputf8 = params.smtputf8;
	if (smtp_flag(s, 'f') && !s->from.null &&
	    smtp_domain_check(s, s->from.domain, s->from.addr, "Sender",
	    "5.1.8") == -1)
		return -1;
	if (auth_check_sender(s->login, s->from.addr, reply, sizeof(reply)) ==
	    -1) {
		smtp_reply(s, "%s", reply);
		return -1;
	}
	return 0;
}

/* The sender's DNS checks start now, to be done by the first RCPT. */
static void
smtp_sender_checks(struct smtp_session *s, const struct smtp_path *from)
{
	char		 local[SMTP_ADDR_MAX];
	const char	*at = strrchr(from->addr, '@');

	if (from->null) {
		rbl_start_sender(s->rbl, NULL, NULL);
		return;
	}
	snprintf(local, sizeof(local), "%.*s", at ? (int)(at - from->addr) :
	    (int)strlen(from->addr), from->addr);
	rbl_start_sender(s->rbl, local, at ? at + 1 : "");
}

/* Send one envelope command with the parameters the backend takes; relay
 * the reply; 1 when the backend took it. */
static int
smtp_forward(struct smtp_session *s, const char *what, const char *addr)
{
	struct backend_reply	 r;
	char			 params[SMTP_PARAM_MAX];

	backend_params(s->be, s->params, params, sizeof(params));
	if (backend_command(s->be, &r, "%s<%s>%s%s", what, addr,
	    *params ? " " : "", params) == -1) {
		smtp_backend_close(s, 0);
		smtp_relay(s, &r);	/* 421: the session ends */
		return 0;
	}
	smtp_relay(s, &r);
	if (r.code == 421) {
		smtp_backend_close(s, 0);
		return 0;
	}
	return r.code / 100 == 2;
}

static void
smtp_do_mail(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_sender_checks(s, &s->from);
	if (smtp_backend_ready(s) == -1)
		return;
	if (smtp_forward(s, "MAIL FROM:", s->from.addr)) {
		snprintf(s->from_log, sizeof(s->from_log), "<%s>", s->from.addr);
		smtp_enter(s, S_MAIL);
	}
}

/* The DNS policy decides, the session tells (rblsmtpd): the reply for
 * its verdict, in reply; 0 = accept. */
static int
smtp_rbl_reply(struct smtp_session *s, char *reply, size_t size)
{
	const struct rbl_verdict	*v = rbl_decide(s->rbl);
	const char			*ip = s->client->addr;
	char				 detail[700];

	if (v->lists[0] != '\0')
		snprintf(detail, sizeof(detail), "listed by %.300s%s%s", v->lists,
		    v->txt[0] ? ": " : "", v->txt);
	else
		snprintf(detail, sizeof(detail), "%s", v->names[0] ? v->names :
		    "score");
	if (v->result == RBL_REJECT && v->too_many_lists)
		snprintf(reply, size, "550 5.7.1 Client [%s] refused: listed "
		    "by %d DNS lists: %.300s", ip, v->hits, v->lists);
	else if (v->result == RBL_REJECT)
		snprintf(reply, size, "550 5.7.1 Client [%s] refused (score "
		    "%.2f): %.300s", ip, v->score, detail);
	else if (v->result == RBL_TEMPFAIL)
		snprintf(reply, size, "451 4.4.3 Temporary DNS failure, try "
		    "again later");
	else if (v->result == RBL_DEFER)
		snprintf(reply, size, "450 4.7.1 Client [%s] deferred (score "
		    "%.2f): %.300s", ip, v->score, detail);
	else
		return 0;
	return -1;
}

/* spf_reject fail: an SPF fail refused (RFC 7372's 5.7.23, the words of
 * Postfix's policyd-spf), after rbl_decide; -1 when refused */
static int
smtp_spf_reply(struct smtp_session *s)
{
	char why[RBL_TXT_MAX + 1];

	if (!rbl_spf_failed(s->rbl, why, sizeof(why)))
		return 0;
	if (s->conf->spf_reject != CONF_SPF_REJECT_FAIL) {
		log_debug("spf: fail; spf_reject no: only its weight counts");
		return 0;
	}
	return smtp_policy_reply(s, CONF_POLICY_SPF, "550 5.7.23 Message "
	    "rejected due to: SPF fail - not authorized. %s", why);
}

/* The DNS policy's refusals: an SPF fail (spf_reject) first, then the
 * score; -1 when refused (test mode logs them and goes on) */
static int
smtp_dns_checks(struct smtp_session *s, char *reply, size_t size)
{
	if (smtp_rbl_reply(s, reply, size) == -1) {
		if (smtp_spf_reply(s) == -1)
			return -1;
		return smtp_policy_reply(s, CONF_POLICY_DNS, "%s", reply);
	}
	return smtp_spf_reply(s);
}

/* Greylisting, after the relay decision and the DNS policy: who the
 * session exempts (authenticated, relay and POP clients, DNSWL hits),
 * then greylist/ decides; 0 = go on. */
static int
smtp_greylist(struct smtp_session *s)
{
	struct greylist_query	 q = { .conf = s->conf, .client = s->client->addr,
	    .from = s->from.null ? "" : s->from.addr, .rcpt = s->to.addr,
	    .read_only = s->client->test_mode };
	char			 reply[128];

	if (s->login[0] != '\0')
		q.exempt = "authenticated";
	else if (relay_client_trusted(&s->relay, s->client->addr) == 1)
		q.exempt = s->relay.why[0] ? s->relay.why : "relay client";
	else if (conf_dns_policy(s->conf)) {
		const struct rbl_verdict *v = rbl_decide(s->rbl);

		q.score = v->score;
		if (v->wl_hits > 0)
			q.exempt = "dnswl";
	}
	if (greylist_rcpt(&s->grey, &q, reply, sizeof(reply)) == GREYLIST_PASS)
		return 0;
	return smtp_policy_reply(s, CONF_POLICY_GREYLIST, "%s", reply);
}

static int
smtp_check_rcpt(struct smtp_session *s, const char *arg)
{
	struct smtp_params	params;
	char			reply[512];

	if (smtp_envelope(s, arg, 0, &s->to, &params, &s->params) == -1)
		return -1;
	if (s->rcpts >= s->conf->max_recipients) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return -1;
	}
	if (s->from.null && s->rcpts >= s->conf->max_error_recipients) {
		smtp_reply(s, "550 5.5.3 Error: too many recipients for a "
		    "message from <>");
		return -1;
	}
	if (s->to.utf8 && !s->smtputf8) {
		smtp_reply(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		return -1;
	}
	if (s->delayed[0] != '\0' && s->login[0] == '\0' &&
	    smtp_policy_reply(s, CONF_POLICY_HELO, "%s", s->delayed) == -1)
		return -1;
	if (smtp_flag(s, 't') && relay_local_domain(s->to.addr) == 0 &&
	    smtp_domain_check(s, s->to.domain, s->to.addr, "Recipient",
	    "5.1.2") == -1)
		return -1;
	rbl_add_style_score(s->rbl, smtp_flag(s, 'X') ?
	    s->conf->helo_style_score : 0);
	/* relay and recipient policy: never dry-run */
	if (relay_check_rcpt(&s->relay, s->client->addr,
	    s->to.addr, s->login[0] != '\0',
	    reply, sizeof(reply)) == -1 ||
	    auth_check_recipient(s->login, s->to.addr, reply,
	    sizeof(reply)) == -1) {
		smtp_reply(s, "%s", reply);
		return -1;
	}
	if (s->login[0] == '\0' && !smtp_flag(s, 'N') &&
	    relay_client_trusted(&s->relay, s->client->addr) != 1 &&
	    smtp_dns_checks(s, reply, sizeof(reply)) == -1)
		return -1;
	return s->conf->greylist ? smtp_greylist(s) : 0;
}

static void
smtp_do_rcpt(struct smtp_session *s, const char *arg)
{
	(void)arg;
	if (smtp_forward(s, "RCPT TO:", s->to.addr)) {
		s->rcpts++;
		s->rcpts_total++;
		smtp_enter(s, S_RCPT);
	}
}

/* The client went away or went quiet: say so if it can still hear. */
static void
smtp_io_failed(struct smtp_session *s)
{
	enum iobuf_err err = s->io->err;

	switch (err) {
	case IOBUF_TIMEOUT:
	case IOBUF_DEADLINE:
		s->result = err == IOBUF_DEADLINE ? "session-timeout" : "timeout";
		iobuf_last_words(s->io, 10);	/* one last try to tell it */
		smtp_reply(s, "421 4.4.2 %s Error: %s exceeded", s->conf->hostname,
		    err == IOBUF_DEADLINE ? "session time limit" : "timeout");
		iobuf_flush(s->io);
		break;
	case IOBUF_EOF:
		s->result = s->state == S_DATA ? "lost-in-data" : "disconnect";
		break;
	default:
		log_warnx("event=client-error client=%s reason=\"%s\"",
		    s->client->addr, iobuf_strerror(s->io));
		s->result = "client-error";
		break;
	}
	smtp_end(s, s->result);
}

static int
smtp_check_data(struct smtp_session *s, const char *arg)
{
	(void)arg;
	if (s->rcpts == 0) {
		smtp_reply(s, "554 5.5.1 Error: no valid recipients");
		return -1;
	}
	return 0;
}

/* The client's reply when the message could not go through intact. */
static void
smtp_data_refuse(struct smtp_session *s, const struct smtp_data *d)
{
	if (d->flags & SMTP_DATA_NUL)
		smtp_reply(s, "550 5.6.0 Message contains NUL characters");
	else if (d->flags & SMTP_DATA_BARE)
		smtp_reply(s, "550 5.5.2 Message contains bare CR or LF "
		    "characters");
	else if (d->flags & SMTP_DATA_TOOBIG)
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed limit");
	else
		smtp_reply(s, "451 4.4.1 Lost connection to the mail server; "
		    "message not accepted");
}

/* Copy the message to the backend until the client's end of data. */
static int
smtp_data_copy(struct smtp_session *s, struct smtp_data *d)
{
	const char	*p;
	ssize_t		 n;
	size_t		 used;

	double		 line_start = iobuf_now();
	long long	 lines = 0;

	iobuf_set_timeout(s->io, s->conf->timeout_data);
	for (;;) {
		/* each line whole within timeout_data, as a command line */
		iobuf_set_line_deadline(s->io, line_start +
		    s->conf->timeout_data);
		if ((n = iobuf_peek(s->io, &p)) <= 0) {
			iobuf_set_line_deadline(s->io, 0);
			return -1;
		}
		enum smtp_data_status st = smtp_data_feed(d, p, (size_t)n, &used);
		iobuf_consume(s->io, used);
		if (st == SMTP_DATA_END)
			break;
		if (d->lines != lines) {
			lines = d->lines;
			line_start = iobuf_now();
		}
	}
	iobuf_set_line_deadline(s->io, 0);
	iobuf_set_timeout(s->io, s->conf->timeout_command);
	return 0;
}

static void
smtp_data_done(struct smtp_session *s, struct smtp_data *d)
{
	struct backend_reply r;

	if (d->flags != 0 || d->sink_failed) {
		smtp_backend_close(s, 0);	/* no "." : the backend drops it */
		smtp_data_refuse(s, d);
		return;
	}
	if (backend_data_end(s->be, s->rcpts, &r) == -1) {
		smtp_backend_close(s, 0);
		smtp_relay(s, &r);
		return;
	}
	if (r.code / 100 == 2) {
		s->accepted++;
		s->errors = 0;
		s->junk = 0;
		log_info("event=accepted client=%s from=%s rcpts=%d size=%lld "
		    "reply=\"%d %.200s\"", s->client->addr, s->from_log,
		    s->rcpts, d->bytes, r.code, r.text);
	}
	smtp_relay(s, &r);
	if (r.code == 421)
		smtp_backend_close(s, 0);
}

/*
 * Header lines of our own before the client's first byte: a Received line
 * naming the TLS protocol and cipher (XCLIENT cannot carry them), and the
 * score with add_score_header.  The client's bytes are not touched.
 */
static int
smtp_trace_headers(struct smtp_session *s)
{
	char		 buf[4096], date[64];
	const char	*tls = tls_summary(s->io), *hdr = rbl_header(s->rbl);
	const char	*spf = rbl_spf_header(s->rbl);
	time_t		 now = time(NULL);
	int		 n = 0;

	if (spf != NULL)	/* RFC 7208 9.1: above our Received line */
		n = snprintf(buf, sizeof(buf), "%.2000s\r\n", spf);
	if (tls != NULL && s->conf->tls_received_header) {
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z",
		    localtime(&now));
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "Received: from %.255s ([%s])\r\n"
		    "\tby %.255s (smtpproxy) with %s (%s);\r\n\t%s\r\n",
		    s->helo[0] ? s->helo : "unknown", s->client->addr,
		    s->conf->hostname, s->login[0] ? "ESMTPSA" : "ESMTPS", tls,
		    date);
	}
	if (hdr != NULL && n >= 0 && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%.1000s\r\n",
		    hdr);
	if (n <= 0)
		return 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	return backend_data_write(s->be, buf, (size_t)n);
}

static void
smtp_do_data(struct smtp_session *s, const char *arg)
{
	struct backend_reply	 r;
	struct smtp_data	 d;

	(void)arg;
	int rc = backend_command(s->be, &r, "DATA");
	if (rc == -1 || r.code != 354) {
		if (rc == -1 || r.code == 421)
			smtp_backend_close(s, 0);
		smtp_relay(s, &r);
		return;
	}
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	smtp_enter(s, S_DATA);
	smtp_data_init(&d, s->conf->bare_newline == CONF_BARE_NORMALIZE,
	    s->conf->max_message_size, backend_data_write, s->be);
	if (smtp_trace_headers(s) == -1)
		d.sink_failed = 1;
	if (smtp_data_copy(s, &d) == -1) {
		smtp_backend_close(s, 0);
		smtp_io_failed(s);
		return;
	}
	smtp_data_done(s, &d);
	smtp_reset(s);
}

static void
smtp_do_rset(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
smtp_do_noop(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
smtp_do_quit(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "221 2.0.0 Bye");
	smtp_end(s, "quit");
}

static void
smtp_do_help(struct smtp_session *s, const char *arg)
{
	const struct conf_list *h = &s->conf->help;

	(void)arg;
	if (h->n == 0) {
		smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET "
		    "NOOP QUIT HELP VRFY EXPN STARTTLS AUTH");
		return;
	}
	for (int i = 0; i < h->n - 1; i++)
		iobuf_printf(s->io, "214-2.0.0 %s\r\n", h->v[i]);
	smtp_reply(s, "214 2.0.0 %s", h->v[h->n - 1]);
}

/*
 * VRFY and EXPN: off unless the key allows them; then the HELO style's v
 * or e flag passes them to the backend, and without it the answer is the
 * RFC 5321 3.5.3 non-answer.
 */
static void
smtp_do_vrfy(struct smtp_session *s, const char *arg)
{
	int			 vrfy = strcasecmp(s->verb, "VRFY") == 0;
	struct backend_reply	 r;

	if (!(vrfy ? s->conf->vrfy : s->conf->expn)) {
		smtp_reply(s, "502 5.5.1 %s command is disabled", s->verb);
		return;
	}
	if (!smtp_flag(s, vrfy ? 'v' : 'e') || s->state == S_MAIL ||
	    s->state == S_RCPT) {
		smtp_reply(s, "252 2.5.0 Cannot verify the address, but will "
		    "accept mail for it");
		return;
	}
	if (smtp_backend_ready(s) == -1)
		return;
	if (backend_command(s->be, &r, "%s %s", s->verb, arg) == -1)
		smtp_backend_close(s, 0);
	smtp_relay(s, &r);
}

static int
smtp_check_starttls(struct smtp_session *s, const char *arg)
{
	(void)arg;
	if (s->tls) {
		smtp_reply(s, "503 5.5.1 Error: TLS already active");
		return -1;
	}
	if (!tls_offered(s->io)) {
		smtp_reply(s, "502 5.5.1 Error: command not implemented");
		return -1;
	}
	if (!tls_ready(s->io)) {	/* before "220 Ready": the session goes on */
		smtp_reply(s, "454 4.7.0 TLS not available due to local problem");
		return -1;
	}
	return 0;
}

/* The server handshake, whole within timeout_tls however slowly the
 * client's bytes come (as a command line within timeout_command). */
static int
smtp_tls_start(struct smtp_session *s)
{
	int rc;

	iobuf_set_line_deadline(s->io, iobuf_now() + s->conf->timeout_tls);
	rc = tls_accept(s->io);
	iobuf_set_line_deadline(s->io, 0);
	return rc;
}

/* After TLS the client starts over: no HELO, no AUTH, no transaction. */
static void
smtp_restart(struct smtp_session *s)
{
	if (s->be != NULL)
		smtp_backend_close(s, 1);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->login[0] = '\0';	/* RFC 3207 4.2: forget what came before */
	s->delayed[0] = '\0';
	s->flags = s->conf->helo_default;
	rbl_start_helo(s->rbl, "");
	auth_sasl_abort(s->sasl);
	smtp_enter(s, S_CONNECTED);
}

static void
smtp_do_starttls(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	if (iobuf_flush(s->io) == -1) {
		smtp_io_failed(s);
		return;
	}
	iobuf_discard(s->io);	/* pipelined plaintext: CVE-2011-0411 */
	if (smtp_tls_start(s) == -1) {
		smtp_end(s, "tls-failed");
		return;
	}
	s->tls = 1;
	smtp_restart(s);
}

/* Is word (any case) one of the space-separated words of list? */
static int
smtp_word_in(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, " ");

		if (n == len && strncasecmp(p, word, len) == 0)
			return 1;
		p += n;
		p += strspn(p, " ");
	}
	return 0;
}

/* client_auth_failure_limit: a client whose AUTHs failed too often
 * across the fleet is refused before any password is checked. */
static int
smtp_auth_limit(struct smtp_session *s)
{
	if (!redis_auth_blocked(s->client->key))
		return 0;
	log_info("event=limit client=%s key=%s limit=client_auth_failure_limit",
	    s->client->addr, s->client->key);
	s->result = "too-many-auth-failures";
	smtp_reply(s, "421 4.7.0 %s Error: too many authentication "
	    "failures", s->conf->hostname);
	return -1;
}

static int
smtp_check_auth(struct smtp_session *s, const char *arg)
{
	char	 mechs[512], mech[SMTP_MECH_MAX + 2];
	size_t	 len = strcspn(arg, " ");

	if (s->login[0] != '\0') {
		smtp_reply(s, "503 5.5.1 Error: already authenticated");
		return -1;
	}
	if (s->conf->sasl_mechanisms[0] == '\0') {
		smtp_reply(s, "502 5.5.1 Error: command not implemented");
		return -1;
	}
	/* one byte more than a name may have, so a longer one shows */
	snprintf(mech, sizeof(mech), "%.*s", (int)len, arg);
	strlcpy(mechs, s->conf->sasl_mechanisms, sizeof(mechs));
	for (char *p = mechs; *p; p++)
		*p = *p == ',' ? ' ' : *p;
	if (len == 0 || len > SMTP_MECH_MAX || !smtp_word_in(mechs, mech)) {
		smtp_reply(s, "504 5.5.4 Mechanism not available");
		return -1;
	}
	if (!s->tls && s->conf->auth_requires_tls && auth_mech_plaintext(mech)) {
		smtp_reply(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return -1;
	}
	return smtp_auth_limit(s);
}

/* One client response line of the AUTH dialogue, decoded. */
static int
smtp_auth_read(struct smtp_session *s, char *buf, size_t size, size_t *len)
{
	static char	 line[12289];	/* RFC 4954: at least 12288 bytes */
	size_t		 n;

	switch (iobuf_getline(s->io, line, sizeof(line), &n)) {
	case IOL_OK:
		break;
	case IOL_FAIL:
		smtp_io_failed(s);
		return -1;
	default:
		smtp_reply(s, "500 5.5.6 Error: bad AUTH response line");
		return -1;
	}
	if (strcmp(line, "*") == 0) {
		smtp_reply(s, "501 5.7.0 Authentication aborted");
		return -1;
	}
	if (auth_b64_decode(line, buf, size, len) == -1) {
		smtp_reply(s, "501 5.5.2 Cannot decode response");
		return -1;
	}
	return 0;
}

static void
smtp_auth_failed(struct smtp_session *s, const char *mech)
{
	log_info("event=auth-failed client=%s mechanism=%s", s->client->addr,
	    mech);
	redis_auth_failed(s->client->key);	/* client_auth_failure_limit */
	if (++s->auth_failures >= s->conf->max_auth_failures) {
		s->result = "too-many-auth-failures";
		smtp_reply(s, "421 4.7.0 %s Error: too many authentication "
		    "failures", s->conf->hostname);
		return;
	}
	smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
}

/* The exchange itself: challenges out, responses in, until a verdict. */
static int
smtp_auth_dialogue(struct smtp_session *s, const char *mech,
    const char *init, size_t initlen)
{
	static char	 b64[8192], in[8192];
	const char	*out;
	unsigned	 outlen;
	size_t		 inlen;
	int		 r = auth_sasl_start(s->sasl, s->io, mech, init, initlen,
	    &out, &outlen);

	while (r == AUTH_MORE) {
		if (auth_b64_encode(out ? out : "", outlen, b64,
		    sizeof(b64)) == -1)
			return AUTH_TEMP;
		iobuf_printf(s->io, "334 %s\r\n", b64);
		if (smtp_auth_read(s, in, sizeof(in), &inlen) == -1)
			return -1;
		r = auth_sasl_step(s->sasl, in, inlen, &out, &outlen);
	}
	return r;
}

static void
smtp_do_auth(struct smtp_session *s, const char *arg)
{
	static char	 in[8192];
	char		 mech[SMTP_MECH_MAX + 2];
	const char	*init = arg + strcspn(arg, " ");
	size_t		 inlen = 0;
	int		 r;

	snprintf(mech, sizeof(mech), "%.*s", (int)strcspn(arg, " "), arg);
	for (char *p = mech; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	init += strspn(init, " ");
	if (*init != '\0' && strcmp(init, "=") != 0 &&
	    auth_b64_decode(init, in, sizeof(in), &inlen) == -1) {
		smtp_reply(s, "501 5.5.2 Cannot decode response");
		return;
	}
	r = smtp_auth_dialogue(s, mech, *init ? in : NULL, inlen);
	if (r == AUTH_DONE) {
		strlcpy(s->login, auth_login(s->sasl), sizeof(s->login));
		log_info("event=auth client=%s mechanism=%s login=%s",
		    s->client->addr, mech, s->login);
		smtp_reply(s, "235 2.7.0 Authentication successful");
	} else if (r == AUTH_FAIL)
		smtp_auth_failed(s, mech);
	else if (r == AUTH_NOMECH)
		smtp_reply(s, "504 5.5.4 Mechanism not available");
	else if (r == AUTH_TEMP)
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
	if (r != AUTH_DONE)
		auth_sasl_abort(s->sasl);
}

/* Known verbs the proxy does not implement: refused, never passed on. */
static void
smtp_do_refuse(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "502 5.5.1 Error: command not implemented");
}

static const struct smtp_cmd smtp_cmds[] = {
	{ "HELO", ST_ANY, CMD_ARG | CMD_JUNK, smtp_check_helo, smtp_do_helo },
	{ "EHLO", ST_ANY, CMD_ARG | CMD_JUNK, smtp_check_helo, smtp_do_ehlo },
	{ "MAIL", ST_IDLE, CMD_ARG, smtp_check_mail, smtp_do_mail },
	{ "RCPT", ST(S_MAIL) | ST(S_RCPT), CMD_ARG, smtp_check_rcpt,
	    smtp_do_rcpt },
	{ "DATA", ST(S_MAIL) | ST(S_RCPT), CMD_NOARG, smtp_check_data,
	    smtp_do_data },
	{ "RSET", ST_ANY, CMD_NOARG | CMD_JUNK, NULL, smtp_do_rset },
	{ "NOOP", ST_ANY, CMD_JUNK, NULL, smtp_do_noop },
	{ "QUIT", ST_ANY, CMD_NOARG, NULL, smtp_do_quit },
	{ "HELP", ST_ANY, CMD_JUNK, NULL, smtp_do_help },
	{ "VRFY", ST_ANY, CMD_ARG | CMD_JUNK, NULL, smtp_do_vrfy },
	{ "EXPN", ST_ANY, CMD_ARG | CMD_JUNK, NULL, smtp_do_vrfy },
	{ "XCLIENT", ST_ANY, 0, NULL, smtp_do_refuse },
	{ "XFORWARD", ST_ANY, 0, NULL, smtp_do_refuse },
	{ "BDAT", ST_ANY, 0, NULL, smtp_do_refuse },
	{ "ETRN", ST_ANY, 0, NULL, smtp_do_refuse },
	{ "TURN", ST_ANY, 0, NULL, smtp_do_refuse },
	{ "ATRN", ST_ANY, 0, NULL, smtp_do_refuse },
	{ "AUTH", ST(S_HELO), CMD_ARG, smtp_check_auth, smtp_do_auth },
	{ "STARTTLS", ST_IDLE, CMD_NOARG, smtp_check_starttls,
	    smtp_do_starttls },
	{ "SEND", ST_ANY, 0, NULL, smtp_do_refuse },
	{ "SOML", ST_ANY, 0, NULL, smtp_do_refuse },
	{ "SAML", ST_ANY, 0, NULL, smtp_do_refuse },
};

static const struct smtp_cmd *
smtp_find(const char *verb)
{
	for (size_t i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++)
		if (strcasecmp(smtp_cmds[i].verb, verb) == 0)
			return &smtp_cmds[i];
	return NULL;
}

static void
smtp_unknown(struct smtp_session *s)
{
	if (++s->unknown > s->conf->max_unknown_commands) {
		s->result = "too-many-unknown";
		smtp_reply(s, "421 4.7.0 %s Error: too many unknown commands",
		    s->conf->hostname);
		return;
	}
	smtp_reply(s, "502 5.5.2 Error: command not recognized");
}

/* Run one command line through its table row. */
static void
smtp_command(struct smtp_session *s, char *line)
{
	const struct smtp_cmd	*cmd;
	char			*arg;

	arg = line + strcspn(line, " ");
	if (*arg != '\0')
		*arg++ = '\0';
	while (*arg == ' ')
		arg++;
	s->verb = line;
	if (s->errors >= s->conf->max_errors) {
		/* as Postfix: the command after the last error hears 421 */
		s->result = "too-many-errors";
		smtp_reply(s, "421 4.7.0 %s Error: too many errors",
		    s->conf->hostname);
		return;
	}
	if ((cmd = smtp_find(line)) == NULL) {
		s->verb = "unknown";
		smtp_unknown(s);
		return;
	}
	s->verb = cmd->verb;
	if ((cmd->flags & CMD_JUNK) && s->conf->max_junk_commands > 0 &&
	    ++s->junk > s->conf->max_junk_commands) {
		s->result = "too-many-junk";
		smtp_reply(s, "421 4.7.0 %s Error: too many junk commands",
		    s->conf->hostname);
		return;
	}
	if (!(cmd->states & ST(s->state))) {
		smtp_reply(s, "503 5.5.1 Error: bad sequence of commands");
		return;
	}
	if (((cmd->flags & CMD_ARG) && *arg == '\0') ||
	    ((cmd->flags & CMD_NOARG) && *arg != '\0')) {
		smtp_reply(s, "501 5.5.4 Syntax: %s%s", cmd->verb,
		    (cmd->flags & CMD_ARG) ? " needs an argument" :
		    " takes no argument");
		return;
	}
	if (cmd->check != NULL && cmd->check(s, arg) == -1)
		return;
	cmd->proceed(s, arg);
}

/* Read one line; malformed lines get their reply here. */
static int
smtp_read_command(struct smtp_session *s)
{
	size_t len;

	s->verb = "-";
	switch (iobuf_getline(s->io, s->line,
	    (size_t)s->conf->max_line_length + 1, &len)) {
	case IOL_OK:
		if (log_trace_on())
			log_debug("client -> %s", strncasecmp(s->line, "AUTH", 4) ||
			    isalnum((unsigned char)s->line[4]) ? s->line :
			    "AUTH ...");
		return 0;
	case IOL_TOOLONG:
		smtp_reply(s, "500 5.5.6 Error: line too long");
		return -1;
	case IOL_BARE:
		smtp_reply(s, "500 5.5.2 Error: bare CR or LF in command");
		return -1;
	case IOL_NUL:
		smtp_reply(s, "500 5.5.2 Error: NUL character in command");
		return -1;
	case IOL_FAIL:
		break;
	}
	smtp_io_failed(s);
	return -1;
}

static void
smtp_summary(const struct smtp_session *s)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	const char *tls = tls_summary(s->io);

	log_info("event=summary client=%s helo=%s tls=%s login=%s from=%s "
	    "rcpts=%d accepted=%d score=%s result=%s duration=%.3f maxrss=%ld "
	    "spf=%s%s%s",
	    s->client->addr, s->helo[0] ? s->helo : "-", tls ? tls : "no",
	    s->login[0] ? s->login : "-",
	    s->from_log[0] ? s->from_log : "-", s->rcpts_total, s->accepted,
	    rbl_score_text(s->rbl),
	    s->result ? s->result : "closed", iobuf_now() - s->start,
	    ru.ru_maxrss, rbl_spf_text(s->rbl), s->conf->greylist ?
	    " greylist=" : "", s->conf->greylist ?
	    greylist_summary(&s->grey) : "");
}

/* postscreen's pregreet test: a client that talks before the greeting is
 * a bot; -1 when it did (refused) or left. */
static int
smtp_pregreet(struct smtp_session *s)
{
	const char *p;

	if (!iobuf_input_within(s->io, s->conf->greet_pause))
		return 0;
	if (iobuf_peek(s->io, &p) <= 0) {
		s->result = "disconnect";
		return -1;
	}
	log_info("event=pregreet client=%s", s->client->addr);
	s->result = "pregreet";
	smtp_reply(s, "554 5.5.0 %s Error: SMTP protocol violation: talking "
	    "before the greeting", s->conf->hostname);
	return -1;
}

int
smtp_session(const struct conf *c, const struct smtp_client *client,
    int rfd, int wfd)
{
	struct smtp_session	 s = { .conf = c, .client = client };
	char			 greeting[512];

	s.start = iobuf_now();
	if ((s.line = malloc((size_t)c->max_line_length + 1)) == NULL ||
	    (s.io = malloc(sizeof(*s.io))) == NULL ||
	    (s.rbl = rbl_session_new(c)) == NULL ||
	    (s.sasl = auth_sasl_new()) == NULL) {
		(void)!write(wfd, "421 4.3.0 Out of memory\r\n", 25);
		fatal("malloc");
	}
	iobuf_init(s.io, rfd, wfd, c->timeout_command);
	s.io->lf_is_crlf = client->test_mode;	/* an admin typing */
	iobuf_set_deadline(s.io, s.start + c->timeout_session);
	log_info("event=connect client=%s", client->addr);
	s.flags = c->helo_default;
	s.verb = "-";
	if (smtp_overloaded(c->max_load)) {
		s.result = "overloaded";
		smtp_reply(&s, "421 4.3.2 %s System overloaded, try again later",
		    c->hostname);
	} else if (c->greet_pause > 0 && !c->tls_wrapper && !client->test_mode &&
	    smtp_pregreet(&s) == -1)
		smtp_end(&s, s.result ? s.result : "pregreet");
	if (s.state != S_QUIT)
		rbl_start_client(s.rbl, client->addr, client->family);
	if (c->tls_wrapper && s.state != S_QUIT) {
		if (smtp_tls_start(&s) == -1)
			smtp_end(&s, "tls-failed");
		s.tls = s.state != S_QUIT;
	}
	if (s.state != S_QUIT)
		iobuf_printf(s.io, "220 %s\r\n", smtp_greeting(c, greeting,
		    sizeof(greeting)));
	while (s.state != S_QUIT)
		if (smtp_read_command(&s) == 0) {
			rbl_poll();
			smtp_command(&s, s.line);
		}
	iobuf_flush(s.io);
	tls_shutdown(s.io);
	smtp_backend_close(&s, 1);
	smtp_summary(&s);
	greylist_end(&s.grey);
	rbl_session_free(s.rbl);
	tls_close(s.io);
	auth_sasl_free(s.sasl);	/* nothing of this login for a next session */
	free(s.line);
	free(s.io);
	/* a reusable child serves another client only after a clean end */
	return s.result == NULL || strcmp(s.result, "quit") == 0 ||
	    strcmp(s.result, "disconnect") == 0 ? 0 : 1;
}
