/*
 * unit.h: a few lines of TAP for the C unit tests.
 * Each check prints "ok N - name" or "not ok N - name"; unit_done() prints
 * the plan and returns the exit code (1 if any check failed).
 */
#ifndef SMTPPROXY_UNIT_H
#define SMTPPROXY_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_n, unit_failed;

static void __attribute__((unused))
unit_ok(int cond, const char *name)
{
	unit_n++;
	if (!cond)
		unit_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", unit_n, name);
}

static void __attribute__((unused))
unit_str(const char *got, const char *want, const char *name)
{
	int same = got != NULL && strcmp(got, want) == 0;

	unit_ok(same, name);
	if (!same)
		printf("#   got '%s', want '%s'\n", got ? got : "(null)", want);
}

static int __attribute__((unused))
unit_done(void)
{
	printf("1..%d\n", unit_n);
	return unit_failed != 0;
}

#endif
