/*
 * fuzz_command: the client's MAIL and RCPT arguments (smtp/smtp_parse.c).
 *
 * README.  The input is split into lines (CR, LF or NUL end a line, as a
 * line never holds them once the session has read it).  A line that starts
 * with "MAIL FROM:" or "RCPT TO:" goes, after the keyword and its blanks,
 * the way smtp_session.c's smtp_envelope() sends it; any other line is
 * tried as a path as it is.  Each is parsed as sender and as recipient in
 * the four lax modes (none, SMTP_LAX_NODOMAIN, SMTP_LAX_SLOPPY, both), and
 * the parameters after an accepted path, and the whole line too, go
 * through smtp_parse_params() with every combination of CONF_EXT_DSN,
 * CONF_EXT_SMTPUTF8 and SMTP_EXT_AUTH.  Checked: rest points into the line
 * and past the path; the address fits its buffer, its domain is what
 * follows its last '@' and "<addr>" parses again to the same address; a
 * path the strict parser takes is taken the same by every lax mode; a
 * parameter string gives 0, 501 or 555 (with a reason), sets dsn and
 * smtputf8 only when those extensions are on, and what is accepted with
 * some extension bits is accepted with more of them.
 *
 *   make fuzz FUZZ_TARGETS=command
 *   build/fuzz/fuzz_command -dict=tests/fuzz/command.dict corpus-dir
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf.h"
#include "smtp/smtp.h"

static const int lax_modes[] = {
	0, SMTP_LAX_NODOMAIN, SMTP_LAX_SLOPPY,
	SMTP_LAX_NODOMAIN | SMTP_LAX_SLOPPY
};

static void
check_params(const char *s)
{
	struct smtp_params	 p;
	const char		*why;
	int			 codes[8];

	for (int is_mail = 0; is_mail < 2; is_mail++) {
		for (int e = 0; e < 8; e++) {
			int ext = (e & 1 ? CONF_EXT_DSN : 0) |
			    (e & 2 ? CONF_EXT_SMTPUTF8 : 0) |
			    (e & 4 ? SMTP_EXT_AUTH : 0);

			why = NULL;
			int code = smtp_parse_params(s, is_mail, ext, &p, &why);

			if (code != 0 && code != 501 && code != 555)
				abort();
			if (code != 0 && (why == NULL || *why == '\0'))
				abort();
			if (code == 0 && (p.size < -1 ||
			    (p.dsn && !(ext & CONF_EXT_DSN)) ||
			    (p.smtputf8 && !(ext & CONF_EXT_SMTPUTF8))))
				abort();
			codes[e] = code;
		}
		for (int e = 0; e < 8; e++)
			for (int f = 0; f < 8; f++)
				if ((e & f) == e && codes[e] == 0 &&
				    codes[f] != 0)
					abort();	/* more extensions refused it */
	}
}

static void
check_path(const char *line, const char *arg)
{
	struct smtp_path	 strict, p, again;
	const char		*rest, *srest = NULL, *why, *r2;
	char			 buf[SMTP_ADDR_MAX + 8];
	size_t			 len = strlen(arg);

	for (int is_mail = 0; is_mail < 2; is_mail++) {
		int strict_ok = 0;

		for (size_t m = 0; m < sizeof(lax_modes) / sizeof(lax_modes[0]);
		    m++) {
			int lax = lax_modes[m];

			rest = NULL;
			why = NULL;
			if (smtp_parse_path_lax(arg, is_mail, lax, &p, &rest,
			    &why) == -1) {
				if (why == NULL || strict_ok)
					abort();	/* lax refused what strict took */
				continue;
			}
			if (rest == NULL || rest <= arg || rest > arg + len)
				abort();
			if (strlen(p.addr) >= sizeof(p.addr) ||
			    strlen(p.domain) >= sizeof(p.domain))
				abort();
			if (p.null) {
				if (!is_mail || p.addr[0] != '\0')
					abort();
			} else {
				size_t al = strlen(p.addr), dl = strlen(p.domain);

				if (al == 0 || al > 256)
					abort();
				if (dl > 0 && (dl >= al || p.addr[al - dl - 1] != '@' ||
				    strcmp(p.addr + al - dl, p.domain) != 0))
					abort();
				/* the address alone, bracketed, parses to itself */
				memcpy(buf, "<", 1);
				memcpy(buf + 1, p.addr, al);
				memcpy(buf + 1 + al, ">", 2);
				if (smtp_parse_path_lax(buf, is_mail, lax, &again,
				    &r2, &why) == -1 || *r2 != '\0' ||
				    strcmp(again.addr, p.addr) != 0 ||
				    strcmp(again.domain, p.domain) != 0 ||
				    again.utf8 != p.utf8)
					abort();
			}
			if (lax == 0) {
				strict_ok = 1;
				strict = p;
				srest = rest;
			} else if (strict_ok && (rest != srest ||
			    strcmp(p.addr, strict.addr) != 0 ||
			    p.null != strict.null))
				abort();
			/* as smtp_envelope(): parameters after a blank */
			if (*rest == '\0' || *rest == ' ') {
				rest += strspn(rest, " ");
				check_params(rest);
			}
		}
	}
	(void)line;
}

static void
check_line(const char *line)
{
	if (strncasecmp(line, "MAIL FROM:", 10) == 0)
		check_path(line, line + 10 + strspn(line + 10, " "));
	else if (strncasecmp(line, "RCPT TO:", 8) == 0)
		check_path(line, line + 8 + strspn(line + 8, " "));
	else
		check_path(line, line);
	check_params(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0;

	while (i < size) {
		size_t n = 0;

		while (i + n < size && data[i + n] != '\r' &&
		    data[i + n] != '\n' && data[i + n] != '\0')
			n++;
		/* a line of its own, exactly as long, so ASan sees overreads */
		char *line = malloc(n + 1);

		if (line == NULL)
			abort();
		memcpy(line, data + i, n);
		line[n] = '\0';
		check_line(line);
		free(line);
		i += n + 1;
	}
	return 0;
}
